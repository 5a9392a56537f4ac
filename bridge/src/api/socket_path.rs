//! Reaching a Unix socket whatever the length of its path.
//!
//! A socket address holds at most 107 bytes of path (`sun_path`), so a data directory deep in
//! the file system (the demo's, under a long temporary directory) could not be served or
//! reached. Such a socket is named through `/proc/self/fd/N/NAME` instead, N a descriptor of
//! its directory held open meanwhile: the kernel resolves that like the directory itself.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

/// Longest path used as it is (`sun_path` is 108 bytes with its terminating NUL).
const MAX_DIRECT: usize = 100;

/// Runs `use_path` with `path`, or with a short name for it when `path` is too long for a
/// socket address.
pub fn with_short_path<T>(path: &Path, use_path: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    let (Some(directory), Some(name)) = (path.parent(), path.file_name()) else { return use_path(path) };
    if path.as_os_str().len() <= MAX_DIRECT {
        return use_path(path);
    }
    let directory = File::open(directory)?;
    let short = PathBuf::from(format!("/proc/self/fd/{}", directory.as_raw_fd())).join(name);
    let result = use_path(&short);
    drop(directory);
    result
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::{UnixListener, UnixStream};

    use super::*;

    #[test]
    fn a_socket_deeper_than_a_socket_address_holds_is_served_and_reached() {
        let temp = tempfile::tempdir().unwrap();
        let deep = temp.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let socket = deep.join("api.sock");
        assert!(UnixListener::bind(&socket).is_err(), "too long for sun_path as it is");
        let listener = with_short_path(&socket, |path| UnixListener::bind(path)).expect("bound");
        assert!(socket.exists(), "the socket is where it was asked for");
        with_short_path(&socket, |path| UnixStream::connect(path)).expect("reached");
        listener.accept().expect("the connection arrived");
    }
}
