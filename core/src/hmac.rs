//! HMAC-SHA256 with the key's pads absorbed once.
//!
//! Every keystream in this crate is `V = HMAC(K, V)` repeated under a fixed `K`, so the two
//! SHA-256 states after the ipad and opad blocks are computed once per key and each 32-byte
//! message then costs exactly two compressions. `sha2::compress256` gives us the raw
//! compression function (with SHA-NI where the CPU has it).

use sha2::compress256;
use sha2::digest::generic_array::GenericArray;
use zeroize::{Zeroize, ZeroizeOnDrop};

const SHA256_IV: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// Bit length of a message of one 64-byte pad block plus 32 bytes: fixed for `mac32`.
const PAD_PLUS_32_BITS: u64 = (64 + 32) * 8;

#[inline(always)]
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    compress256(state, core::slice::from_ref(GenericArray::from_slice(block)));
}

#[inline(always)]
fn state_to_bytes(state: &[u32; 8], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// The final block of a 32-byte message hashed after one 64-byte block: the message, then
/// SHA-256 padding. Only its first 32 bytes change between uses.
#[inline(always)]
fn block_for_32(message: &[u8; 32]) -> [u8; 64] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(message);
    block[32] = 0x80;
    block[56..].copy_from_slice(&PAD_PLUS_32_BITS.to_be_bytes());
    block
}

/// An HMAC-SHA256 key with its inner and outer pad states precomputed. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl core::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

impl HmacKey {
    /// Precomputes the pad states of `key` (keys longer than 64 bytes are hashed first, per RFC 2104).
    pub fn new(key: &[u8]) -> Self {
        // One buffer, wiped once: key ^ ipad, then flipped in place to key ^ opad.
        let mut block = [0u8; 64];
        if key.len() > 64 {
            let mut long = Sha256Stream::from_iv();
            long.update(key);
            block[..32].copy_from_slice(&long.finish());
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        block.iter_mut().for_each(|b| *b ^= 0x36);
        let mut inner = SHA256_IV;
        compress(&mut inner, &block);
        block.iter_mut().for_each(|b| *b ^= 0x36 ^ 0x5c);
        let mut outer = SHA256_IV;
        compress(&mut outer, &block);
        block.zeroize();
        HmacKey { inner, outer }
    }

    /// Like [`HmacKey::new`] for a 32-byte key, with the pad block built in `scratch`, which
    /// the caller wipes once for a whole run of keys (clm202 recognition makes two per chat).
    pub(crate) fn new_in(key: &[u8; 32], scratch: &mut [u8; 128]) -> Self {
        let block: &mut [u8; 64] = (&mut scratch[..64]).try_into().expect("64 bytes");
        block[..32].copy_from_slice(key);
        block[32..].fill(0);
        block.iter_mut().for_each(|b| *b ^= 0x36);
        let mut inner = SHA256_IV;
        compress(&mut inner, block);
        block.iter_mut().for_each(|b| *b ^= 0x36 ^ 0x5c);
        let mut outer = SHA256_IV;
        compress(&mut outer, block);
        HmacKey { inner, outer }
    }

    /// HMAC of `v || byte || seed` (65 bytes: a DRBG update with a 32-byte seed) from two
    /// fixed blocks built in `scratch`, which the caller wipes.
    pub(crate) fn mac_update65(
        &self,
        v: &[u8; 32],
        byte: u8,
        seed: &[u8; 32],
        scratch: &mut [u8; 128],
    ) -> [u8; 32] {
        scratch[..32].copy_from_slice(v);
        scratch[32] = byte;
        scratch[33..65].copy_from_slice(seed);
        scratch[65] = 0x80;
        scratch[66..120].fill(0);
        scratch[120..].copy_from_slice(&((64u64 + 65) * 8).to_be_bytes());
        let mut inner = self.inner;
        compress(&mut inner, scratch[..64].try_into().expect("64 bytes"));
        compress(&mut inner, scratch[64..].try_into().expect("64 bytes"));
        let block: &mut [u8; 64] = (&mut scratch[..64]).try_into().expect("64 bytes");
        state_to_bytes(&inner, &mut block[..32]);
        block[32] = 0x80;
        block[33..56].fill(0);
        block[56..].copy_from_slice(&PAD_PLUS_32_BITS.to_be_bytes());
        let mut outer = self.outer;
        compress(&mut outer, block);
        let mut out = [0u8; 32];
        state_to_bytes(&outer, &mut out);
        out
    }

    /// HMAC of a 32-byte message: two compressions.
    #[inline]
    pub fn mac32(&self, message: &[u8; 32]) -> [u8; 32] {
        let mut block = block_for_32(message);
        let mut out = [0u8; 32];
        self.mac32_with_block(&mut block, &mut out);
        out
    }

    /// The keystream hot loop: `block` holds V followed by padding; on return `out` and the
    /// first 32 bytes of `block` hold HMAC(K, V).
    #[inline(always)]
    fn mac32_with_block(&self, block: &mut [u8; 64], out: &mut [u8; 32]) {
        let mut inner = self.inner;
        compress(&mut inner, block);
        state_to_bytes(&inner, &mut block[..32]);
        let mut outer = self.outer;
        compress(&mut outer, block);
        state_to_bytes(&outer, out);
        block[..32].copy_from_slice(out);
    }

    /// HMAC over the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = Sha256Stream::from_state(self.inner, 64);
        for part in parts {
            inner.update(part);
        }
        let mut block = block_for_32(&inner.finish());
        let mut outer = self.outer;
        compress(&mut outer, &block);
        state_to_bytes(&outer, &mut block[..32]);
        block[..32].try_into().expect("32 bytes")
    }
}

/// Streaming SHA-256 that can start from a midstate (which `sha2::Sha256` does not expose).
#[derive(Clone)]
pub(crate) struct Sha256Stream {
    state: [u32; 8],
    buffer: [u8; 64],
    buffered: usize,
    total: u64,
}

impl Sha256Stream {
    pub(crate) fn from_iv() -> Self {
        Self::from_state(SHA256_IV, 0)
    }

    fn from_state(state: [u32; 8], already_hashed: u64) -> Self {
        Sha256Stream { state, buffer: [0; 64], buffered: 0, total: already_hashed }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.buffered > 0 {
            let take = data.len().min(64 - self.buffered);
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < 64 {
                return;
            }
            compress(&mut self.state, &self.buffer);
            self.buffered = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            compress(&mut self.state, block.try_into().expect("64-byte chunk"));
        }
        let rest = blocks.remainder();
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    pub(crate) fn finish(mut self) -> [u8; 32] {
        let bits = self.total * 8;
        // Pad in the buffer itself (wiped once, on drop): 0x80, zeros, then the bit length,
        // spilling into a second block when fewer than 8 bytes are left after the 0x80.
        self.buffer[self.buffered] = 0x80;
        self.buffer[self.buffered + 1..].fill(0);
        if self.buffered >= 56 {
            compress(&mut self.state, &self.buffer);
            self.buffer.fill(0);
        }
        self.buffer[56..].copy_from_slice(&bits.to_be_bytes());
        compress(&mut self.state, &self.buffer);
        let mut out = [0u8; 32];
        state_to_bytes(&self.state, &mut out);
        out
    }
}

impl Drop for Sha256Stream {
    fn drop(&mut self) {
        self.buffer.zeroize();
    }
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut stream = Sha256Stream::from_iv();
    for part in parts {
        stream.update(part);
    }
    stream.finish()
}

/// Keystream generator state for the DRBG: the key plus the 64-byte block whose first half is V.
pub(crate) struct Chain<'k> {
    key: &'k HmacKey,
    block: [u8; 64],
}

impl<'k> Chain<'k> {
    pub(crate) fn new(key: &'k HmacKey, v: &[u8; 32]) -> Self {
        Chain { key, block: block_for_32(v) }
    }

    /// Advances V = HMAC(K, V) and writes the new V to `out`.
    #[inline(always)]
    pub(crate) fn next_into(&mut self, out: &mut [u8; 32]) {
        self.key.mac32_with_block(&mut self.block, out);
    }
}

impl Drop for Chain<'_> {
    fn drop(&mut self) {
        self.block.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        crate::hex::decode(s.as_bytes()).unwrap()
    }

    // RFC 4231 test cases 1, 2 and 6 (key longer than a block).
    #[test]
    fn rfc4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 3] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, msg, expected) in cases {
            assert_eq!(HmacKey::new(&key).mac(&[&msg]).to_vec(), hex(expected));
        }
    }

    #[test]
    fn fixed_block_paths_match_the_general_ones() {
        let mut scratch = [0u8; 128];
        let key = [9u8; 32];
        let (v, seed) = ([1u8; 32], [2u8; 32]);
        let fast = HmacKey::new_in(&key, &mut scratch);
        assert_eq!(fast.mac32(&v), HmacKey::new(&key).mac32(&v));
        assert_eq!(
            fast.mac_update65(&v, 0x01, &seed, &mut scratch),
            HmacKey::new(&key).mac(&[&v, &[0x01], &seed])
        );
    }

    #[test]
    fn mac32_matches_general_mac() {
        let key = HmacKey::new(b"k");
        let msg = [7u8; 32];
        assert_eq!(key.mac32(&msg), key.mac(&[&msg[..5], &msg[5..]]));
    }

    #[test]
    fn sha256_across_block_boundaries() {
        // FIPS 180-2 two-block message, fed in awkward pieces.
        let msg = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        let expected = hex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        assert_eq!(sha256(&[msg]).to_vec(), expected);
        assert_eq!(sha256(&[&msg[..3], &msg[3..55], &msg[55..]]).to_vec(), expected);
        assert_eq!(
            sha256(&[b""]).to_vec(),
            hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }
}
