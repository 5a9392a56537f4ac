//! The native authenticated format, version 1 (specified in docs/PROTOCOL.md).
//!
//! - root = Argon2id(secret, salt = "clm-bridge/native/v1", m = 64 MiB, t = 3, p = 4), 32 bytes;
//! - enc, mac and tag keys = HKDF-Expand(root, label, 32) with distinct labels;
//! - tag = HMAC(tag key, TAG_LABEL || period)[..16], period = epoch / 3600;
//! - keystream = HMAC-DRBG(KEYSTREAM_LABEL || enc key || nonce || epoch);
//! - mac = HMAC(mac key, MAC_LABEL || version || tag || epoch || nonce || ciphertext),
//!   checked in constant time before any byte is decrypted.

use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::drbg::Keystream;
use crate::format::check_size;
use crate::hmac::HmacKey;
use crate::pointer::{MAC_LEN, NATIVE_VERSION, NONCE_LEN, TAG_LEN};
use crate::{EncodeError, Format, NativePointer, OpenError, Opened};

/// Seconds per recognition period: tags change every hour.
pub const PERIOD_SECONDS: u64 = 3600;
/// Argon2id parameters of version 1: RFC 9106's second recommended option.
pub const KDF_MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes.
pub const KDF_PASSES: u32 = 3;
/// Argon2id lanes.
pub const KDF_LANES: u32 = 4;
/// Argon2id salt: fixed, because the chat secret is all that members share.
pub const KDF_SALT: &[u8] = b"clm-bridge/native/v1";

const ENC_LABEL: &[u8] = b"clm-bridge native v1 enc";
const MAC_KEY_LABEL: &[u8] = b"clm-bridge native v1 mac";
const TAG_KEY_LABEL: &[u8] = b"clm-bridge native v1 tag";
const TAG_LABEL: &[u8] = b"clm-bridge native v1 tag\0";
const KEYSTREAM_LABEL: &[u8] = b"clm-bridge native v1 keystream\0";
const MAC_LABEL: &[u8] = b"clm-bridge native v1 mac\0";

/// The recognition period of an epoch.
pub fn period_of(epoch: u64) -> u64 {
    epoch / PERIOD_SECONDS
}

/// A native chat's keys, derived once from its secret. Zeroized on drop.
#[derive(Clone)]
pub struct NativeKeys {
    enc: Zeroizing<[u8; 32]>,
    mac: HmacKey,
    tag: HmacKey,
}

impl core::fmt::Debug for NativeKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NativeKeys(..)")
    }
}

impl NativeKeys {
    /// Stretches a chat secret with Argon2id (version-1 parameters, about a quarter second
    /// and 64 MiB): do it once per chat, when the chat is added or the vault is opened.
    pub fn derive(secret: &[u8]) -> Self {
        Self::from_root(&Self::stretch(secret))
    }

    /// The Argon2id root of a secret (version-1 parameters): what [`NativeKeys::from_root`]
    /// takes. Callers that keep it (sealed) skip the KDF next time.
    pub fn stretch(secret: &[u8]) -> Zeroizing<[u8; 32]> {
        let params =
            Params::new(KDF_MEMORY_KIB, KDF_PASSES, KDF_LANES, Some(32)).expect("valid Argon2 parameters");
        let mut root = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(secret, KDF_SALT, root.as_mut())
            .expect("Argon2 accepts any secret length and a 20-byte salt");
        root
    }

    /// Keys from an already-stretched 32-byte root (the Argon2id output). Lets callers cache
    /// the root (encrypted) instead of paying the KDF again, and lets tests skip it.
    pub fn from_root(root: &[u8; 32]) -> Self {
        let prk = HmacKey::new(root);
        let expand = |label: &[u8]| Zeroizing::new(prk.mac(&[label, &[0x01]]));
        NativeKeys {
            enc: expand(ENC_LABEL),
            mac: HmacKey::new(expand(MAC_KEY_LABEL).as_ref()),
            tag: HmacKey::new(expand(TAG_KEY_LABEL).as_ref()),
        }
    }

    /// The recognition tag for a period.
    pub fn tag_for_period(&self, period: u64) -> [u8; TAG_LEN] {
        let full = self.tag.mac(&[TAG_LABEL, &period.to_be_bytes()]);
        full[..TAG_LEN].try_into().expect("16 of 32 bytes")
    }

    fn keystream(&self, nonce: &[u8; NONCE_LEN], epoch: u64) -> Keystream {
        let mut seed = Zeroizing::new(Vec::with_capacity(KEYSTREAM_LABEL.len() + 32 + NONCE_LEN + 8));
        seed.extend_from_slice(KEYSTREAM_LABEL);
        seed.extend_from_slice(self.enc.as_ref());
        seed.extend_from_slice(nonce);
        seed.extend_from_slice(&epoch.to_be_bytes());
        Keystream::new(&seed)
    }

    fn mac_of(&self, tag: &[u8; TAG_LEN], epoch: u64, nonce: &[u8; NONCE_LEN], data: &[u8]) -> [u8; MAC_LEN] {
        self.mac.mac(&[MAC_LABEL, &[NATIVE_VERSION as u8], tag, &epoch.to_be_bytes(), nonce, data])
    }

    /// Encodes a message. `nonce` must be fresh random bytes from the caller's RNG.
    pub fn encode(
        &self,
        from: &str,
        message: &str,
        epoch: u64,
        nonce: [u8; NONCE_LEN],
    ) -> Result<NativePointer, EncodeError> {
        let sender_len: u8 =
            from.len().try_into().map_err(|_| EncodeError::InvalidSender("longer than 255 bytes"))?;
        let mut data = Vec::with_capacity(1 + from.len() + message.len());
        data.push(sender_len);
        data.extend_from_slice(from.as_bytes());
        data.extend_from_slice(message.as_bytes());
        check_size(data.len())?;
        self.keystream(&nonce, epoch).apply(&mut data);
        let tag = self.tag_for_period(period_of(epoch));
        let mac = self.mac_of(&tag, epoch, &nonce, &data);
        Ok(NativePointer { tag, epoch, nonce, data, mac })
    }

    /// Opens a pointer: tag, then MAC in constant time, and only then decryption.
    pub fn open(&self, pointer: &NativePointer) -> Result<Opened, OpenError> {
        if self.tag_for_period(period_of(pointer.epoch)) != pointer.tag {
            return Err(OpenError::NotThisChat);
        }
        self.open_recognized(pointer)
    }

    /// Opens a pointer whose tag the caller already matched to this chat.
    pub(crate) fn open_recognized(&self, pointer: &NativePointer) -> Result<Opened, OpenError> {
        let expected = self.mac_of(&pointer.tag, pointer.epoch, &pointer.nonce, &pointer.data);
        if !bool::from(expected.ct_eq(&pointer.mac)) {
            return Err(OpenError::BadMac);
        }
        let mut plain = Zeroizing::new(pointer.data.clone());
        self.keystream(&pointer.nonce, pointer.epoch).apply(&mut plain);
        let (&sender_len, rest) = plain.split_first().ok_or(OpenError::BadPlaintext("empty"))?;
        let sender_len = usize::from(sender_len);
        if rest.len() < sender_len {
            return Err(OpenError::BadPlaintext("sender length beyond the end"));
        }
        let (from, text) = rest.split_at(sender_len);
        let from = std::str::from_utf8(from).map_err(|_| OpenError::BadPlaintext("sender is not UTF-8"))?;
        let text = std::str::from_utf8(text).map_err(|_| OpenError::BadPlaintext("message is not UTF-8"))?;
        Ok(Opened {
            format: Format::Native,
            chat_name: None,
            from: from.to_owned(),
            text: text.to_owned(),
            epoch: pointer.epoch,
            truncated: false,
        })
    }
}
