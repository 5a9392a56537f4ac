//! CLM v2.0.1: `{"c": chat_id, "e": epoch, "d": hex}`.
//!
//! seed = UTF-8 of `"{master_seed}_{seed_suffix}_{epoch}"`, plaintext = `"{username}: {message}"`,
//! ciphertext = plaintext XOR HMAC-DRBG(seed). There is no integrity check and the keystream
//! repeats for two messages in the same chat and second: kept only for compatibility.

use zeroize::Zeroizing;

use crate::detect::MAX_SHORT_VALUE_BYTES;
use crate::drbg::Keystream;
use crate::format::check_size;
use crate::{Clm201Pointer, EncodeError, Format, OpenError, Opened};

/// The seed suffix CLM gives a chat id: its three default chats, else `chat_{id}`.
pub fn default_seed_suffix(chat_id: &str) -> String {
    match chat_id {
        "0" => "urgent".into(),
        "1" => "general".into(),
        "2" => "secrets".into(),
        other => format!("chat_{other}"),
    }
}

/// A clm201 chat: the user's master seed plus the chat's id and seed suffix.
#[derive(Clone)]
pub struct Clm201Chat {
    master_seed: Zeroizing<String>,
    chat_id: String,
    seed_suffix: String,
}

impl core::fmt::Debug for Clm201Chat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Clm201Chat")
            .field("chat_id", &self.chat_id)
            .field("seed_suffix", &self.seed_suffix)
            .finish_non_exhaustive()
    }
}

impl Clm201Chat {
    /// A chat with an explicit seed suffix (`None`: CLM's default for the id).
    pub fn new(master_seed: &str, chat_id: &str, seed_suffix: Option<&str>) -> Result<Self, EncodeError> {
        if chat_id.is_empty() {
            return Err(EncodeError::InvalidChat("clm201 chat id is empty"));
        }
        if chat_id.len() > MAX_SHORT_VALUE_BYTES {
            return Err(EncodeError::InvalidChat("clm201 chat id longer than 1024 bytes"));
        }
        Ok(Clm201Chat {
            master_seed: Zeroizing::new(master_seed.to_owned()),
            chat_id: chat_id.to_owned(),
            seed_suffix: seed_suffix.map_or_else(|| default_seed_suffix(chat_id), str::to_owned),
        })
    }

    /// The chat id that travels in clear as `c`.
    pub fn chat_id(&self) -> &str {
        &self.chat_id
    }

    /// The seed suffix.
    pub fn seed_suffix(&self) -> &str {
        &self.seed_suffix
    }

    fn keystream(&self, epoch: u64) -> Keystream {
        let seed = Zeroizing::new(format!("{}_{}_{}", *self.master_seed, self.seed_suffix, epoch));
        Keystream::new(seed.as_bytes())
    }

    /// Encodes `"{from}: {message}"` as CLM v2.0.1 does.
    pub fn encode(&self, from: &str, message: &str, epoch: u64) -> Result<Clm201Pointer, EncodeError> {
        if from.contains(": ") {
            return Err(EncodeError::InvalidSender("contains \": \", where CLM splits sender and message"));
        }
        let mut data = format!("{from}: {message}").into_bytes();
        check_size(data.len())?;
        self.keystream(epoch).apply(&mut data);
        Ok(Clm201Pointer { chat_id: self.chat_id.clone(), epoch, data })
    }

    /// Opens a pointer of this chat. clm201 has no MAC: a wrong key is noticed only when the
    /// result is not UTF-8 or lacks the `": "` separator.
    pub fn open(&self, pointer: &Clm201Pointer) -> Result<Opened, OpenError> {
        if pointer.chat_id != self.chat_id {
            return Err(OpenError::NotThisChat);
        }
        let mut plain = Zeroizing::new(pointer.data.clone());
        self.keystream(pointer.epoch).apply(&mut plain);
        let text = std::str::from_utf8(&plain).map_err(|_| OpenError::BadPlaintext("not UTF-8"))?;
        let (from, text) =
            text.split_once(": ").ok_or(OpenError::BadPlaintext("no \": \" after the sender"))?;
        Ok(Opened {
            format: Format::Clm201,
            chat_name: None,
            from: from.to_owned(),
            text: text.to_owned(),
            epoch: pointer.epoch,
            truncated: false,
        })
    }
}
