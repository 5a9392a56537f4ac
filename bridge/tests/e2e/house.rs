//! The house stays as its map says: ARCHITECTURE.md names every source file of the three
//! crates, and the bridge's modules depend on each other one way only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_owned()
}

/// Every `.rs` file under `dir`, relative to it, leaving out test-only files.
fn sources(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("a source folder") {
            let path = entry.expect("an entry").path();
            let relative = path.strip_prefix(dir).expect("inside").to_string_lossy().into_owned();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if path.is_dir() {
                if name != "tests" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs")
                && !["lib.rs", "main.rs", "tests.rs"].contains(&name.as_str())
                && !name.starts_with("tests_")
                && !name.ends_with("_tests.rs")
            {
                found.push(relative);
            }
        }
    }
    found.sort();
    found
}

/// The file patterns the map's tables name for crate section `## {section}`: backticked
/// paths in the first cell of each row; a bare file name takes the folder of the cell's first
/// path; `*` stands for any file name.
fn mapped(map: &str, section: &str) -> Vec<String> {
    let start = map.find(&format!("\n## {section}")).unwrap_or_else(|| panic!("no section ## {section}"));
    let rest = &map[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    let mut patterns = Vec::new();
    for line in rest[..end].lines().filter(|line| line.starts_with("| `")) {
        let cell = line.split('|').nth(1).unwrap_or_default();
        let mut folder = String::new();
        for (index, path) in cell.split('`').skip(1).step_by(2).enumerate() {
            if index == 0 {
                folder = path.rsplit_once('/').map(|(dir, _)| format!("{dir}/")).unwrap_or_default();
                patterns.push(path.to_owned());
            } else if path.contains('/') {
                patterns.push(path.to_owned());
            } else {
                patterns.push(format!("{folder}{path}"));
            }
        }
    }
    patterns
}

fn matches(pattern: &str, file: &str) -> bool {
    match pattern.split_once('*') {
        Some((before, after)) => {
            file.starts_with(before)
                && file.ends_with(after)
                && !file[before.len()..file.len() - after.len()].contains('/')
        }
        None => pattern == file,
    }
}

#[test]
fn the_architecture_map_names_every_source_file() {
    let root = workspace();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut unnamed = Vec::new();
    for (section, dir) in [("core/", "core/src"), ("adapters/", "adapters/src"), ("bridge/", "bridge/src")] {
        let patterns = mapped(&map, section);
        assert!(!patterns.is_empty(), "no table in ## {section}");
        for file in sources(&root.join(dir)) {
            if !patterns.iter().any(|pattern| matches(pattern, &file)) {
                unnamed.push(format!("{dir}/{file}"));
            }
        }
    }
    assert!(unnamed.is_empty(), "ARCHITECTURE.md does not name: {unnamed:#?}");
}

/// The bridge's top-level modules (a file or a folder under bridge/src) and the ones each uses
/// (`crate::X`), outside its tests.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = workspace().join("bridge/src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&src) {
        let module = file.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_owned();
        let text = std::fs::read_to_string(src.join(&file)).expect("a source file");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let uses = graph.entry(module.clone()).or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inside = &group[..group.find('}').unwrap_or(group.len())];
                uses.extend(
                    inside.split(',').map(|item| item.trim().split("::").next().unwrap_or("").to_owned()),
                );
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                uses.insert(name);
            }
        }
        uses.remove(&module);
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|used| modules.contains(used));
    }
    graph
}

#[test]
fn the_bridge_modules_depend_on_each_other_one_way_only() {
    let graph = module_graph();
    // Depth-first search for a path back to where it started.
    fn reaches(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        graph[from]
            .iter()
            .any(|next| next == to || (seen.insert(next.clone()) && reaches(graph, next, to, seen)))
    }
    let cycles: Vec<&String> =
        graph.keys().filter(|module| reaches(&graph, module, module, &mut BTreeSet::new())).collect();
    assert!(cycles.is_empty(), "modules in a cycle: {cycles:?} (scripts/module-deps.py shows the graph)");
    assert!(graph["cli"].is_empty(), "cli.rs is a leaf: {:?}", graph["cli"]);
    for lower in
        ["store", "vault", "paths", "pipeline", "secret", "input", "display", "transports", "delivery"]
    {
        for upper in ["error", "app", "cli", "commands", "daemon"] {
            assert!(
                !graph[lower].contains(upper),
                "{lower} uses {upper}: lower modules return their own errors"
            );
        }
    }
}
