//! HMAC-DRBG (NIST SP 800-90A, HMAC-SHA256) as CLM uses it for keystreams: K = 0x00*32,
//! V = 0x01*32, one update with the seed, then generate by repeating V = HMAC(K, V).
//! No reseed, no additional input. XOR with the keystream both encrypts and decrypts.

use std::sync::OnceLock;

use zeroize::{Zeroize, Zeroizing};

use crate::hmac::{Chain, HmacKey};

const INITIAL_V: [u8; 32] = [0x01; 32];

/// The instantiate key K = 0x00*32 is the same for every seed: its pads are computed once.
fn zero_key() -> &'static HmacKey {
    static ZERO: OnceLock<HmacKey> = OnceLock::new();
    ZERO.get_or_init(|| HmacKey::new(&[0u8; 32]))
}

/// A keystream positioned at its start. Reading it advances it; it never reseeds.
pub struct Keystream {
    key: HmacKey,
    v: [u8; 32],
    /// Unused bytes of the last generated block, at `block[used..]`.
    block: [u8; 32],
    used: usize,
}

impl core::fmt::Debug for Keystream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Keystream(..)")
    }
}

impl Keystream {
    /// Instantiates the DRBG with `seed` (SP 800-90A HMAC_DRBG_Update with provided data).
    pub fn new(seed: &[u8]) -> Self {
        if let Ok(seed) = <&[u8; 32]>::try_from(seed) {
            let mut scratch = Zeroizing::new([0u8; 128]);
            let (key, v) = instantiate_seed32(seed, &mut scratch);
            return Keystream::from_state(key, v);
        }
        let mut v = INITIAL_V;
        let mut k = zero_key().mac(&[&v, &[0x00], seed]);
        let mut key = HmacKey::new(&k);
        v = key.mac32(&v);
        if !seed.is_empty() {
            k = key.mac(&[&v, &[0x01], seed]);
            key = HmacKey::new(&k);
            v = key.mac32(&v);
        }
        k.zeroize();
        Keystream { key, v, block: [0; 32], used: 32 }
    }

    /// A keystream positioned at its start, from an instantiated state.
    pub(crate) fn from_state(key: HmacKey, v: [u8; 32]) -> Self {
        Keystream { key, v, block: [0; 32], used: 32 }
    }

    /// XORs the next `data.len()` keystream bytes into `data`.
    pub fn apply(&mut self, data: &mut [u8]) {
        let mut rest = data;
        if self.used < 32 && !rest.is_empty() {
            let take = rest.len().min(32 - self.used);
            xor(&mut rest[..take], &self.block[self.used..self.used + take]);
            self.used += take;
            rest = &mut rest[take..];
        }
        if rest.is_empty() {
            return;
        }
        let mut chain = Chain::new(&self.key, &self.v);
        let mut chunks = rest.chunks_exact_mut(32);
        for chunk in &mut chunks {
            chain.next_into(&mut self.block);
            xor(chunk, &self.block);
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            chain.next_into(&mut self.block);
            xor(tail, &self.block[..tail.len()]);
            self.used = tail.len();
        } else {
            self.used = 32;
        }
        self.v = self.block;
    }

    /// Writes the next `out.len()` keystream bytes into `out`.
    pub fn fill(&mut self, out: &mut [u8]) {
        out.fill(0);
        self.apply(out);
    }
}

impl Drop for Keystream {
    fn drop(&mut self) {
        self.v.zeroize();
        self.block.zeroize();
    }
}

/// Instantiate with a 32-byte seed, every temporary in `scratch` (wiped once by the caller):
/// the hot path of clm202 recognition, which instantiates once per chat it tries. Returns the
/// key and V; the first keystream block is `key.mac32(&v)`.
pub(crate) fn instantiate_seed32(seed: &[u8; 32], scratch: &mut [u8; 128]) -> (HmacKey, [u8; 32]) {
    let mut k = Zeroizing::new(zero_key().mac_update65(&INITIAL_V, 0x00, seed, scratch));
    let key = HmacKey::new_in(&k, scratch);
    let v = key.mac32(&INITIAL_V);
    *k = key.mac_update65(&v, 0x01, seed, scratch);
    let key = HmacKey::new_in(&k, scratch);
    let v = key.mac32(&v);
    (key, v)
}

#[inline(always)]
fn xor(data: &mut [u8], keystream: &[u8]) {
    for (d, k) in data.iter_mut().zip(keystream) {
        *d ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed32_fast_path_matches_the_general_update() {
        // SP 800-90A by hand, with the general streaming HMAC.
        let seed = [5u8; 32];
        let zero = HmacKey::new(&[0; 32]);
        let k1 = zero.mac(&[&INITIAL_V, &[0], &seed]);
        let v1 = HmacKey::new(&k1).mac32(&INITIAL_V);
        let k2 = HmacKey::new(&k1).mac(&[&v1, &[1], &seed]);
        let v2 = HmacKey::new(&k2).mac32(&v1);
        let first = HmacKey::new(&k2).mac32(&v2);
        let mut out = [0u8; 32];
        Keystream::new(&seed).fill(&mut out);
        assert_eq!(out, first);
    }

    #[test]
    fn split_reads_equal_one_read() {
        let mut whole = vec![0u8; 200];
        Keystream::new(b"seed").fill(&mut whole);
        let mut ks = Keystream::new(b"seed");
        let mut parts = vec![0u8; 200];
        for range in [0..1, 1..33, 33..64, 64..65, 65..130, 130..200] {
            ks.fill(&mut parts[range]);
        }
        assert_eq!(whole, parts);
    }
}
