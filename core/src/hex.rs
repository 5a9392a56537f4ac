//! Lowercase hex, as CLM writes it (`bytes.hex()`), and a strict decoder.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Nibble value of each byte, or `INVALID`.
const INVALID: u8 = 0xff;
const NIBBLES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Decodes hex (either case). `None` on an odd length or a non-hex character.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let mut invalid = 0u8;
    let out = text
        .chunks_exact(2)
        .map(|pair| {
            let (high, low) = (NIBBLES[pair[0] as usize], NIBBLES[pair[1] as usize]);
            // Both halves are < 16 unless invalid: OR-ing keeps the loop branch-free.
            invalid |= (high | low) & 0xf0;
            (high << 4) | (low & 0x0f)
        })
        .collect();
    (invalid == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_cases_and_refuses_the_rest() {
        assert_eq!(decode(b"00fFa9"), Some(vec![0x00, 0xff, 0xa9]));
        for bad in [&b"0"[..], b"0g", b"g0", b" 0", b"0\xff"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(encode(&all).as_bytes()), Some(all));
    }
}
