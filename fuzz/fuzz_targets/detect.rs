//! Any bytes into the detector: it must never panic, hang or exhaust memory, and what it reports
//! must be well formed: spans inside the input that start at `{` and end at `}` (or, for mail
//! parts, non-empty), each pointer once, and each pointer's canonical text parsing back to it
//! with the same digest.
#![no_main]

use clm_core::{Origin, Pointer, detect, parse};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let detection = detect(data);
    let mut digests = Vec::new();
    for found in &detection.found {
        let span = &found.span;
        assert!(span.start < span.end, "empty span {span:?}");
        if found.origin == Origin::Input {
            assert!(span.end <= data.len(), "span {span:?} beyond {} bytes", data.len());
            assert_eq!((data[span.start], data[span.end - 1]), (b'{', b'}'), "span {span:?}");
        }
        canonical_round_trip(&found.pointer);
        digests.push(found.pointer.digest());
    }
    for rejected in &detection.rejected {
        let span = &rejected.span;
        assert!(span.start < span.end, "empty rejected span {span:?}");
        if rejected.origin == Origin::Input {
            assert!(span.end <= data.len(), "rejected span {span:?} beyond {} bytes", data.len());
        }
    }
    let count = digests.len();
    digests.sort_unstable();
    digests.dedup();
    assert_eq!(digests.len(), count, "a pointer reported twice");
});

/// Canonical text parses back to the same pointer, whose digest is the same.
fn canonical_round_trip(pointer: &Pointer) {
    let json = pointer.to_json();
    let again = parse(&json).unwrap_or_else(|e| panic!("{json} does not parse: {e}"));
    assert_eq!(&again, pointer, "{json}");
    assert_eq!(again.digest(), pointer.digest());
    assert_eq!(again.to_json(), json);
}
