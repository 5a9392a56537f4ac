//! How long a native v2 plaintext is made before encryption (docs/PROTOCOL.md §7.4).
//!
//! Every plaintext is padded to at least [`MIN_PADDED_LEN`] bytes, so the short messages most
//! chats are made of all look alike; above it, to the Padmé length of the PURBs paper (Nikitin
//! et al., 2019), which costs under 6.25 % here (3.2 % from 64 KiB on) and leaves only
//! O(log log n) bits of the length.

/// The smallest padded plaintext: a 5-byte length header, a short sender name and a message of
/// about 240 bytes fit (100 characters of any script of one or two bytes a character).
pub const MIN_PADDED_LEN: usize = 256;

/// The length a plaintext of `len` bytes is padded to: [`MIN_PADDED_LEN`] up to it, the Padmé
/// length above it. Meant for lengths up to [`crate::MAX_DATA_BYTES`]; larger ones saturate.
pub fn padded_len(len: usize) -> usize {
    if len <= MIN_PADDED_LEN {
        return MIN_PADDED_LEN;
    }
    // E = floor(log2 len), S = floor(log2 E) + 1: keep the top S bits of the length's E + 1
    // bits, round the E - S low ones up.
    let e = usize::BITS - 1 - len.leading_zeros();
    let s = u32::BITS - e.leading_zeros();
    let mask = (1usize << (e - s)) - 1;
    len.saturating_add(mask) & !mask
}

/// Whether `len` is a length [`padded_len`] produces.
pub fn is_padded_len(len: usize) -> bool {
    len >= MIN_PADDED_LEN && padded_len(len) == len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Padmé as the PURBs paper writes it, in floating point: the reference for the bit version.
    fn padme_reference(len: usize) -> usize {
        let e = (len as f64).log2().floor();
        let s = e.log2().floor() + 1.0;
        let last_bits = (e - s) as u32;
        let mask = (1usize << last_bits) - 1;
        (len + mask) & !mask
    }

    #[test]
    fn matches_the_papers_formula_above_the_minimum() {
        for len in (257..70_000).chain((1..=2048).map(|k| k * 1021)) {
            assert_eq!(padded_len(len), padme_reference(len), "{len}");
        }
    }

    #[test]
    fn known_values() {
        let cases = [(0, 256), (1, 256), (256, 256), (257, 272), (300, 304), (1000, 1024), (1025, 1088)];
        for (len, padded) in cases {
            assert_eq!(padded_len(len), padded, "{len}");
        }
        assert_eq!(padded_len(1 << 20), 1 << 20);
        assert_eq!(padded_len((1 << 20) + 1), (1 << 20) + (1 << 15));
    }

    #[test]
    fn padded_lengths_are_fixed_points_and_cost_under_a_sixteenth() {
        for len in (257..300_000).chain([(1 << 21) - 1]) {
            let padded = padded_len(len);
            assert!(padded >= len && is_padded_len(padded), "{len}");
            assert!((padded - len) * 16 < len, "{len} -> {padded}");
            assert!(len < 1 << 16 || (padded - len) * 32 < len, "{len} -> {padded}");
        }
        assert!(!is_padded_len(255) && !is_padded_len(257) && is_padded_len(272));
    }
}
