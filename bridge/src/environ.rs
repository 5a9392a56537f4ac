//! Taking a secret out of the process environment for good.
//!
//! An environment variable stays readable in `/proc/PID/environ` (to its user and root) for the
//! whole life of the process: that file shows the environment block the process started with,
//! and `std::env::remove_var` only drops the variable from the C library's list of pointers into
//! that block. [`scrub`] therefore overwrites the value's bytes in place first, then removes the
//! variable. The daemon does it with `$CLM_BRIDGE_PASSPHRASE` once the vault is open; a
//! passphrase file (`--passphrase-file`, e.g. a systemd credential) never enters the
//! environment at all and is the better way.
//!
//! Linux with glibc only (the `unsafe` here is audited like `memory.rs`'s); elsewhere the
//! variable is left as it is.

/// Overwrites the value of environment variable `name` with zero bytes where the process's
/// environment holds it, then removes the variable. Returns whether it was set.
///
/// Must be called before the process starts a second thread.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn scrub(name: &str) -> bool {
    use std::ffi::CStr;

    let key = name.as_bytes();
    let mut found = false;
    // SAFETY: the caller runs this before any other thread exists, so nothing reads or changes
    // the environment meanwhile (what makes getenv/setenv unsound in general). `environ` is the
    // C library's NULL-terminated array of pointers to NUL-terminated "NAME=value" strings,
    // which are writable (the initial block on the stack, or heap copies made by setenv). Each
    // entry is read up to its NUL, the borrow ends, and then only the value's bytes, inside that
    // same string, are overwritten with zeros (so it stays NUL-terminated). `remove_var` runs
    // single-threaded for the same reason.
    unsafe {
        let mut entry = libc::environ;
        while !entry.is_null() && !(*entry).is_null() {
            let string = *entry;
            let length = {
                let bytes = CStr::from_ptr(string).to_bytes();
                let matches = bytes.len() > key.len() && bytes.starts_with(key) && bytes[key.len()] == b'=';
                matches.then_some(bytes.len())
            };
            if let Some(length) = length {
                std::ptr::write_bytes(string.add(key.len() + 1), 0, length - key.len() - 1);
                found = true;
            }
            entry = entry.add(1);
        }
        std::env::remove_var(name);
    }
    found
}

/// Elsewhere the variable is left as it is.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn scrub(_name: &str) -> bool {
    false
}
