//! Keeping the daemon's memory down after bursts (a 100 000-file folder read and stored).
//!
//! glibc's malloc gives each thread that allocates an arena of its own (up to eight per core)
//! and keeps in each what a burst freed there. Measured on a 100 000-file drop folder: the idle
//! daemon held 44–46 MiB with the default arenas and 29–31 MiB with one. The daemon's hot paths
//! are a handful of threads handing batches to each other, so one arena costs no measurable
//! throughput. After a burst, [`release_free_memory`] returns free pages inside the heap too.
//!
//! Both are calls into the C library: the only `unsafe` in clm-bridge, each one line.

/// Makes every thread share one malloc arena. Call before the daemon starts its threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn use_one_malloc_arena() {
    // SAFETY: mallopt only sets a malloc parameter; M_ARENA_MAX with a positive value is valid
    // at any time (it bounds arenas created later). Its result (1 = done) needs no handling: on
    // failure the defaults stay, which is only more memory.
    let _ = unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

/// Returns free memory at the top of and inside the malloc heap to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() {
    // SAFETY: malloc_trim only releases memory malloc holds free; it is thread-safe (it takes
    // each arena's lock) and takes no pointer.
    let _ = unsafe { libc::malloc_trim(0) };
}

/// Elsewhere the system allocator manages on its own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn use_one_malloc_arena() {}

/// Elsewhere the system allocator manages on its own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
