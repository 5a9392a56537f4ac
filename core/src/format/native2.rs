//! The native format, version 2 (specified in docs/PROTOCOL.md §7).
//!
//! - root = Argon2id(secret, salt, m = 64 MiB, t = 3, p = 4), 32 bytes; the salt is a chat's
//!   own random 16 bytes (carried by its invite), or [`TYPED_SECRET_SALT`] for a secret that
//!   people agreed by voice and type on each side;
//! - encryption and tag keys = HKDF-Expand(root, label, 32) with distinct labels;
//! - tag = HMAC(tag key, TAG_LABEL || period)[..16], period = epoch / 3600, as in version 1;
//! - plaintext = sender length, message length, sender, message, zero padding (see
//!   [`padding`](super::padding));
//! - XChaCha20-Poly1305 under a random 192-bit nonce, with (label, version, tag, epoch) as
//!   associated data. The tag is checked before the AEAD, which makes the format key-committing
//!   in practice (PROTOCOL.md §7.6).

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::format::check_size;
use crate::format::native::{KDF_LANES, KDF_MEMORY_KIB, KDF_PASSES, period_of};
use crate::format::padding::padded_len;
use crate::hmac::HmacKey;
use crate::{EncodeError, Format, Native2Pointer, OpenError, Opened};

/// The version number v2 pointers carry in `v`.
pub const VERSION: u64 = 2;
/// Length of a recognition tag.
pub const TAG_LEN: usize = 16;
/// Length of the XChaCha20 nonce: random per pointer, supplied by the caller.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag at the end of `d`.
pub const AEAD_TAG_LEN: usize = 16;
/// Length of an Argon2id salt.
pub const SALT_LEN: usize = 16;
/// Bytes before the sender in the plaintext: its length (1) and the message's (4).
pub const HEADER_LEN: usize = 5;

/// The salt of chats whose secret people typed on each side: both derive it alike, so it is
/// fixed, `SHA-256("clm-bridge native v2 typed-secret salt")[..16]`. Such chats do not get a
/// salt of their own, so their secrets must be strong (the bridge refuses weak ones).
pub const TYPED_SECRET_SALT: [u8; SALT_LEN] =
    [0x88, 0xf4, 0x15, 0xea, 0x8a, 0x74, 0xf5, 0x78, 0xf8, 0xd4, 0x74, 0x8b, 0xf2, 0xf6, 0x6a, 0x04];
/// What [`TYPED_SECRET_SALT`] is the digest of.
pub const TYPED_SECRET_SALT_LABEL: &[u8] = b"clm-bridge native v2 typed-secret salt";

const ENC_KEY_LABEL: &[u8] = b"clm-bridge native v2 enc";
const TAG_KEY_LABEL: &[u8] = b"clm-bridge native v2 tag";
const TAG_LABEL: &[u8] = b"clm-bridge native v2 tag\0";
const HEADER_LABEL: &[u8] = b"clm-bridge native v2\0";

/// A v2 chat's keys, derived once from its root. Zeroized on drop.
#[derive(Clone)]
pub struct Native2Keys {
    cipher: XChaCha20Poly1305,
    tag: HmacKey,
}

impl core::fmt::Debug for Native2Keys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Native2Keys(..)")
    }
}

impl Native2Keys {
    /// Stretches a secret with its chat's salt (about a third of a second and 64 MiB): do it
    /// once per chat, when the chat is added or the vault is opened.
    pub fn derive(secret: &[u8], salt: &[u8; SALT_LEN]) -> Self {
        Self::from_root(&Self::stretch(secret, salt))
    }

    /// The Argon2id root of a secret and salt: what [`Native2Keys::from_root`] takes. Callers
    /// that keep it (sealed) skip the KDF next time.
    pub fn stretch(secret: &[u8], salt: &[u8; SALT_LEN]) -> Zeroizing<[u8; 32]> {
        let params =
            Params::new(KDF_MEMORY_KIB, KDF_PASSES, KDF_LANES, Some(32)).expect("valid Argon2 parameters");
        let mut root = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(secret, salt, root.as_mut())
            .expect("Argon2 accepts any secret length and a 16-byte salt");
        root
    }

    /// Keys from a 32-byte root (the Argon2id output).
    pub fn from_root(root: &[u8; 32]) -> Self {
        let prk = HmacKey::new(root);
        let expand = |label: &[u8]| Zeroizing::new(prk.mac(&[label, &[0x01]]));
        Native2Keys {
            cipher: XChaCha20Poly1305::new(expand(ENC_KEY_LABEL).as_ref().into()),
            tag: HmacKey::new(expand(TAG_KEY_LABEL).as_ref()),
        }
    }

    /// The recognition tag for a period.
    pub fn tag_for_period(&self, period: u64) -> [u8; TAG_LEN] {
        let full = self.tag.mac(&[TAG_LABEL, &period.to_be_bytes()]);
        full[..TAG_LEN].try_into().expect("16 of 32 bytes")
    }

    /// Encodes a message. `nonce` must be fresh random bytes from the caller's RNG.
    pub fn encode(
        &self,
        from: &str,
        message: &str,
        epoch: u64,
        nonce: [u8; NONCE_LEN],
    ) -> Result<Native2Pointer, EncodeError> {
        let sender_len: u8 =
            from.len().try_into().map_err(|_| EncodeError::InvalidSender("longer than 255 bytes"))?;
        let body_len = HEADER_LEN + from.len() + message.len();
        check_size(body_len.saturating_add(AEAD_TAG_LEN))?;
        let padded = padded_len(body_len);
        check_size(padded + AEAD_TAG_LEN)?;
        let message_len = u32::try_from(message.len()).expect("bounded by MAX_DATA_BYTES");
        let mut data = Vec::with_capacity(padded + AEAD_TAG_LEN);
        data.push(sender_len);
        data.extend_from_slice(&message_len.to_be_bytes());
        data.extend_from_slice(from.as_bytes());
        data.extend_from_slice(message.as_bytes());
        data.resize(padded, 0);
        let tag = self.tag_for_period(period_of(epoch));
        let aead_tag = self
            .cipher
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &header(&tag, epoch), &mut data)
            .expect("XChaCha20 encrypts up to 256 GiB");
        data.extend_from_slice(&aead_tag);
        Ok(Native2Pointer { tag, epoch, nonce, data })
    }

    /// Opens a pointer: the tag first, then the AEAD, then the padding and the UTF-8.
    pub fn open(&self, pointer: &Native2Pointer) -> Result<Opened, OpenError> {
        if self.tag_for_period(period_of(pointer.epoch)) != pointer.tag {
            return Err(OpenError::NotThisChat);
        }
        self.open_recognized(pointer)
    }

    /// Opens a pointer whose tag the caller already matched to this chat.
    pub(crate) fn open_recognized(&self, pointer: &Native2Pointer) -> Result<Opened, OpenError> {
        let split = pointer.data.len().checked_sub(AEAD_TAG_LEN).ok_or(OpenError::BadMac)?;
        let (ciphertext, aead_tag) = pointer.data.split_at(split);
        let mut plain = Zeroizing::new(ciphertext.to_vec());
        self.cipher
            .decrypt_in_place_detached(
                XNonce::from_slice(&pointer.nonce),
                &header(&pointer.tag, pointer.epoch),
                &mut plain,
                aead_tag.into(),
            )
            .map_err(|_| OpenError::BadMac)?;
        let (sender_len, body_len) = unpad(&plain)?;
        let from =
            std::str::from_utf8(&plain[HEADER_LEN..HEADER_LEN + sender_len]).expect("checked").to_owned();
        // The message is most of the buffer: moved into the String, not copied (and wiped twice).
        let mut text = std::mem::take(&mut *plain);
        text.truncate(body_len);
        text.drain(..HEADER_LEN + sender_len);
        Ok(Opened {
            format: Format::Native2,
            chat_name: None,
            from,
            text: String::from_utf8(text).expect("checked"),
            epoch: pointer.epoch,
            truncated: false,
        })
    }
}

/// The associated data: every header field but the nonce, which the AEAD takes itself.
fn header(tag: &[u8; TAG_LEN], epoch: u64) -> [u8; HEADER_LABEL.len() + 1 + TAG_LEN + 8] {
    let mut out = [0u8; HEADER_LABEL.len() + 1 + TAG_LEN + 8];
    let (label, rest) = out.split_at_mut(HEADER_LABEL.len());
    label.copy_from_slice(HEADER_LABEL);
    rest[0] = VERSION as u8;
    rest[1..1 + TAG_LEN].copy_from_slice(tag);
    rest[1 + TAG_LEN..].copy_from_slice(&epoch.to_be_bytes());
    out
}

/// The sender's length and the body's (header, sender, message) in a decrypted plaintext, once
/// it is known to be padded exactly as the rule says and to hold UTF-8 (a correct sender never
/// does otherwise; the AEAD already vouched for the bytes).
fn unpad(plain: &[u8]) -> Result<(usize, usize), OpenError> {
    let header = plain.get(..HEADER_LEN).ok_or(OpenError::BadPlaintext("shorter than its header"))?;
    let sender_len = usize::from(header[0]);
    let message_len = u32::from_be_bytes(header[1..].try_into().expect("4 bytes")) as usize;
    let body_len = HEADER_LEN + sender_len + message_len;
    if body_len > plain.len() {
        return Err(OpenError::BadPlaintext("lengths beyond the end"));
    }
    if padded_len(body_len) != plain.len() {
        return Err(OpenError::BadPlaintext("padded to the wrong length"));
    }
    if plain[body_len..].iter().any(|&b| b != 0) {
        return Err(OpenError::BadPlaintext("padding is not zero"));
    }
    let (from, text) = plain[HEADER_LEN..body_len].split_at(sender_len);
    std::str::from_utf8(from).map_err(|_| OpenError::BadPlaintext("sender is not UTF-8"))?;
    std::str::from_utf8(text).map_err(|_| OpenError::BadPlaintext("message is not UTF-8"))?;
    Ok((sender_len, body_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_secret_salt_is_the_digest_of_its_label() {
        let digest = crate::sha256(&[TYPED_SECRET_SALT_LABEL]);
        assert_eq!(TYPED_SECRET_SALT[..], digest[..SALT_LEN]);
    }

    #[test]
    fn the_header_lays_out_label_version_tag_epoch() {
        let h = header(&[0xaa; TAG_LEN], 0x0102_0304_0506_0708);
        assert_eq!(&h[..21], b"clm-bridge native v2\0");
        assert_eq!(h[21], 2);
        assert_eq!(h[22..38], [0xaa; 16]);
        assert_eq!(h[38..], [1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
