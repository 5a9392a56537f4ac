//! Any text into `parse` (bytes read as lossy UTF-8): it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clm_core::parse(&String::from_utf8_lossy(data));
});
