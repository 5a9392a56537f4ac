//! Chat secrets the bridge generates: the caller's random bytes written so that people can read
//! them aloud and type them (docs/PROTOCOL.md §7.2). The secret is the text itself: its UTF-8
//! bytes are what Argon2id stretches, exactly as for a secret people chose.

use zeroize::Zeroizing;

use crate::base32;

/// Random bytes in a generated secret: 160 bits, 32 symbols.
pub const GENERATED_SECRET_BYTES: usize = 20;
/// Symbols per group; groups are joined by `-`.
const GROUP: usize = 4;

/// Writes 20 random bytes as eight groups of four lower-case base32 symbols (Crockford's
/// alphabet: digits and letters without `i l o u`), e.g. `7kq2-m9xd-0c4t-...`: 160 bits,
/// 39 characters.
pub fn generated_secret(random: &[u8; GENERATED_SECRET_BYTES]) -> Zeroizing<String> {
    let symbols = base32::encode(random);
    let mut out = Zeroizing::new(String::with_capacity(symbols.len() + symbols.len() / GROUP));
    for (i, symbol) in symbols.chars().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(symbol);
    }
    out
}

/// A generated secret as someone typed it, back in its exact form: case, spaces and dashes do
/// not matter, and the letters people mistake for digits (`i`, `l` for `1`, `o` for `0`) are
/// read as Crockford's base32 reads them. `None` when the text is not 32 such symbols, so a
/// secret people chose is never rewritten.
pub fn normalize_generated_secret(typed: &str) -> Option<Zeroizing<String>> {
    let mut symbols = Zeroizing::new(Vec::with_capacity(typed.len()));
    for c in typed.bytes().filter(|&c| c != b'-' && !c.is_ascii_whitespace()) {
        symbols.push(match c.to_ascii_lowercase() {
            b'i' | b'l' => b'1',
            b'o' => b'0',
            other => other,
        });
    }
    let decoded = base32::decode(&symbols).ok()?;
    let random: &[u8; GENERATED_SECRET_BYTES] = decoded.bytes.as_slice().try_into().ok()?;
    decoded.canonical.then(|| generated_secret(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_values() {
        let secret = generated_secret(&[0; GENERATED_SECRET_BYTES]);
        assert_eq!(secret.as_str(), "0000-0000-0000-0000-0000-0000-0000-0000");
        let secret = generated_secret(&[0xff; GENERATED_SECRET_BYTES]);
        assert_eq!(secret.as_str(), "zzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zzzz");
        let counting: [u8; GENERATED_SECRET_BYTES] = std::array::from_fn(|i| i as u8);
        assert_eq!(generated_secret(&counting).as_str(), "000g-40r4-0m30-e209-185g-r38e-1w81-24gk");
    }

    #[test]
    fn typed_variants_normalize_to_the_same_secret() {
        let counting: [u8; GENERATED_SECRET_BYTES] = std::array::from_fn(|i| i as u8);
        let secret = generated_secret(&counting);
        for typed in [
            "000g-40r4-0m30-e209-185g-r38e-1w81-24gk",
            "000G 40R4 0M30 E209 185G R38E 1W8I 24GK",
            "ooog40r40m30e209185gr38elw8124gk",
            " 000g-40r4-0m30-e209-185g-r38e-1w81-24gk\n",
        ] {
            assert_eq!(
                normalize_generated_secret(typed).as_deref().map(String::as_str),
                Some(secret.as_str()),
                "{typed}"
            );
        }
        for not_generated in
            ["correct horse battery staple", "000g-40r4", "000g-40r4-0m30-e209-185g-r38e-1w81-24gu"]
        {
            assert_eq!(normalize_generated_secret(not_generated), None, "{not_generated}");
        }
    }
}
