//! Crockford's base32 in lower case (`0-9a-z` without `i l o u`): what generated secrets and
//! invite links are written in. No letters people confuse, no padding, and upper case reads the
//! same, so a link drawn upper case fits a QR code's alphanumeric mode.

use zeroize::Zeroizing;

/// The 32 symbols, in value order.
pub(crate) const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Value of each byte as a symbol (either case), or `INVALID`.
const INVALID: u8 = 0xff;
const VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 32 {
        table[ALPHABET[i] as usize] = i as u8;
        table[ALPHABET[i].to_ascii_uppercase() as usize] = i as u8;
        i += 1;
    }
    table
};

/// The value of a symbol, either case.
pub(crate) fn value_of(symbol: u8) -> Option<u8> {
    Some(VALUES[symbol as usize]).filter(|&v| v != INVALID)
}

/// Number of symbols that encode `bytes` bytes.
pub(crate) fn encoded_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

/// Encodes bytes, most significant bit first; the last symbol's unused low bits are zero.
pub(crate) fn encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(encoded_len(bytes.len())));
    let (mut acc, mut bits) = (0u16, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[usize::from((acc >> bits) & 31)] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[usize::from((acc << (5 - bits)) & 31)] as char);
    }
    out
}

/// What [`decode`] made of some symbols.
pub(crate) struct Decoded {
    /// Every whole byte the symbols hold.
    pub bytes: Zeroizing<Vec<u8>>,
    /// Whether the symbols are exactly what [`encode`] writes for those bytes: no symbol too
    /// many, and the unused low bits of the last one zero.
    pub canonical: bool,
}

/// Decodes symbols (either case); `Err(i)` names the first byte that is not a symbol.
pub(crate) fn decode(symbols: &[u8]) -> Result<Decoded, usize> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(symbols.len() * 5 / 8));
    let (mut acc, mut bits) = (0u16, 0u32);
    for (i, &s) in symbols.iter().enumerate() {
        acc = (acc << 5) | u16::from(value_of(s).ok_or(i)?);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    let canonical = acc == 0 && encoded_len(bytes.len()) == symbols.len();
    Ok(Decoded { bytes, canonical })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length_and_refuses_extra_bits() {
        let data: Vec<u8> = (0u8..=40).map(|i| i.wrapping_mul(97) ^ 0x5a).collect();
        for len in 0..data.len() {
            let text = encode(&data[..len]);
            assert_eq!(text.len(), encoded_len(len));
            let decoded = decode(text.as_bytes()).unwrap();
            assert_eq!((decoded.bytes.as_slice(), decoded.canonical), (&data[..len], true));
            let upper = text.to_ascii_uppercase();
            assert_eq!(decode(upper.as_bytes()).unwrap().bytes.as_slice(), &data[..len]);
        }
        // One byte is 8 bits in two symbols: the second symbol's two low bits are unused.
        assert_eq!(encode(&[0xff]).as_str(), "zw");
        assert!(!decode(b"zx").unwrap().canonical);
        assert!(!decode(b"zw0").unwrap().canonical);
        assert_eq!(decode(b"zwi").err(), Some(2));
    }

    #[test]
    fn the_alphabet_is_crockfords() {
        let every_value = [
            0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56, 0xd7, 0xc6,
            0x75, 0xbe, 0x77, 0xdf,
        ];
        assert_eq!(encode(&every_value).as_str(), "0123456789abcdefghjkmnpqrstvwxyz");
        assert!(ALPHABET.iter().all(|c| !b"ilou".contains(c)));
    }
}
