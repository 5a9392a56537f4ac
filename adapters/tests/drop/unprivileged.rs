//! Running a test where a file can be unreadable: as root (CI), that means as another user.

use std::fs;
use std::os::unix::fs::PermissionsExt;

/// Set for the copy of this test binary that runs as an unprivileged user.
const UNPRIVILEGED: &str = "CLM_DROP_TEST_UNPRIVILEGED";

/// Whether this process reads files whatever their mode says (root does; CI runs as root).
fn reads_anything() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    fs::write(&probe, b"x").unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o000)).unwrap();
    fs::read(&probe).is_ok()
}

/// Where a file can be unreadable, returns true and the test goes on. Elsewhere (as root),
/// runs the test `name` in a copy of this binary as the user `nobody` (`setpriv`), asserts it
/// passed there, and returns false. Never skips: without `setpriv` the test fails.
pub fn where_files_can_be_unreadable(name: &str) -> bool {
    if !reads_anything() {
        return true;
    }
    assert!(std::env::var_os(UNPRIVILEGED).is_none(), "the unprivileged copy reads a file of mode 000");
    // A folder `nobody` can reach and write to, holding a copy of this binary it can run.
    let scratch = tempfile::tempdir_in("/tmp").unwrap();
    fs::set_permissions(scratch.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let binary = scratch.path().join("drop-tests");
    fs::copy(std::env::current_exe().unwrap(), &binary).unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&binary)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(UNPRIVILEGED, "1")
        .env("TMPDIR", scratch.path())
        .current_dir(scratch.path())
        .output()
        .expect("setpriv (util-linux) runs the test as nobody: as root, only so can a file be unreadable");
    let report =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && report.contains("1 passed"), "as nobody:\n{report}");
    false
}
