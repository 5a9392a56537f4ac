//! Any text into `parse` (bytes read as lossy UTF-8): it must never panic, and a pointer it
//! returns must survive parse -> canonical text -> parse unchanged, digest included, with the
//! canonical text a fixed point.
#![no_main]

use clm_core::parse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(pointer) = parse(&text) {
        let json = pointer.to_json();
        let again = parse(&json).unwrap_or_else(|e| panic!("{json} does not parse: {e}"));
        assert_eq!(again, pointer, "{json}");
        assert_eq!(again.digest(), pointer.digest());
        assert_eq!(again.to_json(), json);
    }
});
