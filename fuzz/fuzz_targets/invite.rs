//! Any text into `Invite::parse` (bytes read as lossy UTF-8): it must never panic, and whatever
//! it accepts must write back to a link that reads as the same invite, in either case.
#![no_main]

use clm_core::Invite;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Half the inputs get the scheme, so the fuzzer spends its time past the first check.
    let text = String::from_utf8_lossy(data);
    let text: String = match data.first() {
        Some(b) if b & 1 == 1 => "clm:".chars().chain(text.chars().skip(1)).collect(),
        _ => text.into(),
    };
    if let Ok(invite) = Invite::parse(&text) {
        let link = invite.to_link();
        assert_eq!(Invite::parse(&link).as_ref(), Ok(&invite), "{}", link.as_str());
        assert_eq!(Invite::parse(&invite.to_qr_text()).as_ref(), Ok(&invite));
        // The canonical link is the input up to case and surrounding spaces.
        assert!(link.eq_ignore_ascii_case(text.trim_ascii()), "{} from {text:?}", link.as_str());
    }
});
