#!/usr/bin/env python3
"""Prints the bridge's module dependency graph and its cycles (strongly connected sets).

A module is a top-level item under bridge/src (a file or a folder); `use crate::X` and
`crate::X::` paths in a module's files are its dependencies. Usage:
    scripts/module-deps.py [bridge/src]      exit 1 if there is a cycle
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bridge/src")
modules = {}
for path in sorted(root.rglob("*.rs")):
    rel = path.relative_to(root)
    if rel.name in ("lib.rs", "main.rs") and len(rel.parts) == 1:
        continue
    name = rel.parts[0].removesuffix(".rs")
    text = path.read_text()
    # Tests may reach anywhere: only what the module itself uses counts.
    text = re.split(r"#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))?\s+)?mod tests", text)[0]
    deps = set(re.findall(r"crate::(\w+)", text))
    for group in re.findall(r"crate::\{([^}]*)\}", text):
        deps |= set(re.findall(r"(?:^|,)\s*(\w+)", group))
    modules.setdefault(name, set()).update(d for d in deps if d != name)

known = set(modules)
graph = {m: sorted(d for d in deps if d in known) for m, deps in modules.items()}

# Tarjan's strongly connected components.
index, low, stack, on_stack, sccs, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on_stack.add(v)
    for w in graph[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        scc = []
        while True:
            w = stack.pop(); on_stack.discard(w); scc.append(w)
            if w == v: break
        sccs.append(sorted(scc))
sys.setrecursionlimit(10000)
for v in sorted(graph):
    if v not in index:
        visit(v)
for module in sorted(graph):
    print(f"{module:12} -> {', '.join(graph[module]) or '-'}")
cycles = [s for s in sccs if len(s) > 1]
for scc in cycles:
    print("cycle:", " <-> ".join(scc))
sys.exit(1 if cycles else 0)
