//! Any bytes into the detector: it must never panic, hang or exhaust memory.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = clm_core::detect(data);
});
