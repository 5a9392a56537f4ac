//! CLM v2.0.2: `{"e": epoch, "n": nonce, "d": hex}`.
//!
//! seed = SHA-256 of UTF-8 `"{chat_secret}_{epoch}_{nonce}"`, plaintext =
//! `"#{chat_name}|¶|{username}|¶|{message}"`, ciphertext = plaintext XOR HMAC-DRBG(seed).
//! The published sender sizes the keystream in characters, so its ciphertexts lose the last
//! (bytes - characters) bytes; we encode full length and read the short ones as truncated.

use zeroize::Zeroizing;

use crate::detect::MAX_SHORT_VALUE_BYTES;
use crate::drbg::{Keystream, instantiate_seed32};
use crate::format::check_size;
use crate::hmac::sha256;
use crate::{Clm202Pointer, EncodeError, Format, OpenError, Opened};

/// The separator between chat name, sender and message.
pub const SEPARATOR: &str = "|¶|";

fn keystream(secret: &[u8], epoch: u64, nonce: &str) -> Keystream {
    Keystream::new(seed(secret, &seed_suffix(epoch, nonce)).as_slice())
}

/// `"_{epoch}_{nonce}"`: the part of the seed string every chat shares for one pointer.
fn seed_suffix(epoch: u64, nonce: &str) -> Vec<u8> {
    let mut digits = [0u8; 20];
    let mut suffix = Vec::with_capacity(22 + nonce.len());
    suffix.push(b'_');
    suffix.extend_from_slice(decimal(epoch, &mut digits));
    suffix.push(b'_');
    suffix.extend_from_slice(nonce.as_bytes());
    suffix
}

fn seed(secret: &[u8], suffix: &[u8]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(sha256(&[secret, suffix]))
}

/// What trying one pointer against many chats shares: the seed suffix, built once, and the
/// scratch buffer every instantiate works in, wiped once when the probe is dropped.
pub(crate) struct Probe {
    suffix: Vec<u8>,
    scratch: Zeroizing<[u8; 128]>,
}

impl Probe {
    pub(crate) fn new(pointer: &Clm202Pointer) -> Self {
        Probe { suffix: seed_suffix(pointer.epoch, &pointer.nonce), scratch: Zeroizing::new([0; 128]) }
    }
}

/// A clm202 chat: its shared secret and its name (which every plaintext starts with).
#[derive(Clone)]
pub struct Clm202Chat {
    secret: Zeroizing<Vec<u8>>,
    name: String,
    /// `"#{name}|¶|"`: what every plaintext of this chat starts with.
    prefix: Vec<u8>,
    /// The shortest ciphertext this chat can produce: `"#{name}|¶||¶|"` in characters (the
    /// published sender's cut keeps one byte per character). Shorter data is not this chat's.
    min_data_len: usize,
}

impl core::fmt::Debug for Clm202Chat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Clm202Chat").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Clm202Chat {
    /// A chat named `name` with secret `secret`.
    pub fn new(secret: &str, name: &str) -> Self {
        Clm202Chat {
            secret: Zeroizing::new(secret.as_bytes().to_vec()),
            name: name.to_owned(),
            prefix: format!("#{name}{SEPARATOR}").into_bytes(),
            min_data_len: format!("#{name}{SEPARATOR}{SEPARATOR}").chars().count(),
        }
    }

    /// The chat name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Encodes a message; unlike the published sender, the whole UTF-8 plaintext is encrypted.
    pub fn encode(
        &self,
        from: &str,
        message: &str,
        epoch: u64,
        nonce: &str,
    ) -> Result<Clm202Pointer, EncodeError> {
        // The reader ends the sender at the first `|¶|`: it must be the one after the sender
        // (this also refuses a sender ending in `|¶` or `|`, which would merge with it).
        if format!("{from}{SEPARATOR}").find(SEPARATOR) != Some(from.len()) {
            return Err(EncodeError::InvalidSender("would run into the |¶| separator CLM splits at"));
        }
        if nonce.len() > MAX_SHORT_VALUE_BYTES {
            return Err(EncodeError::InvalidChat("nonce longer than 1024 bytes"));
        }
        let mut data = format!("#{}{SEPARATOR}{from}{SEPARATOR}{message}", self.name).into_bytes();
        check_size(data.len())?;
        keystream(&self.secret, epoch, nonce).apply(&mut data);
        Ok(Clm202Pointer { epoch, nonce: nonce.to_owned(), data })
    }

    /// Opens a pointer if it is this chat's. The plaintext must start with this chat's exact
    /// prefix; the first keystream block decides, so other chats' pointers cost one block.
    ///
    /// Data too short to be any plaintext of this chat is not this chat's, so a claim always
    /// rests on at least `min(len(prefix), chars(name) + 7)` matching bytes, 40 bits or more:
    /// junk pointers cannot pass for this chat's by chance.
    pub fn open(&self, pointer: &Clm202Pointer) -> Result<Opened, OpenError> {
        self.open_probed(pointer, &mut Probe::new(pointer))
    }

    /// [`Clm202Chat::open`] sharing per-pointer work across the chats a registry tries.
    pub(crate) fn open_probed(
        &self,
        pointer: &Clm202Pointer,
        probe: &mut Probe,
    ) -> Result<Opened, OpenError> {
        if pointer.data.len() < self.min_data_len {
            return Err(OpenError::NotThisChat);
        }
        let (key, v) = instantiate_seed32(&seed(&self.secret, &probe.suffix), &mut probe.scratch);
        let first_block = Zeroizing::new(key.mac32(&v));
        let checked = pointer.data.len().min(32).min(self.prefix.len());
        let differs = (0..checked).any(|i| pointer.data[i] ^ first_block[i] != self.prefix[i]);
        if differs {
            return Err(OpenError::NotThisChat);
        }
        let mut plain = Zeroizing::new(pointer.data.clone());
        Keystream::from_state(key, v).apply(&mut plain);
        if !plain.starts_with(&self.prefix) {
            // Every byte there is matches the prefix: the published sender's cut reached the name.
            return Err(if self.prefix.starts_with(&plain) {
                OpenError::BadPlaintext("cut inside the chat name: the published sender lost the message")
            } else {
                OpenError::NotThisChat
            });
        }
        let (from, text, truncated) = split_body(plain, self.prefix.len())?;
        Ok(Opened {
            format: Format::Clm202,
            chat_name: Some(self.name.clone()),
            from,
            text,
            epoch: pointer.epoch,
            truncated,
        })
    }
}

/// Opens a pointer knowing only the secret: the chat name is read up to the first `|¶|`
/// (so a name that itself contains `|¶|` needs [`Clm202Chat::open`]).
pub fn open_with_secret(secret: &str, pointer: &Clm202Pointer) -> Result<Opened, OpenError> {
    let mut plain = Zeroizing::new(pointer.data.clone());
    keystream(secret.as_bytes(), pointer.epoch, &pointer.nonce).apply(&mut plain);
    if plain.first() != Some(&b'#') {
        return Err(OpenError::NotThisChat);
    }
    let body = &plain[1..];
    let name_end = find(body, SEPARATOR.as_bytes())
        .ok_or(OpenError::BadPlaintext("no separator after the chat name"))?;
    let name = std::str::from_utf8(&body[..name_end])
        .map_err(|_| OpenError::BadPlaintext("chat name is not UTF-8"))?
        .to_owned();
    let body_start = 1 + name_end + SEPARATOR.len();
    let (from, text, truncated) = split_body(plain, body_start)?;
    Ok(Opened { format: Format::Clm202, chat_name: Some(name), from, text, epoch: pointer.epoch, truncated })
}

/// Splits `"{from}|¶|{message}"` (the plaintext from `start` on), reading a tail cut by the
/// published sender: an incomplete trailing UTF-8 sequence is dropped, and a missing separator
/// means the cut reached the sender. The message keeps the plaintext's buffer (moved to its
/// start), so a megabyte message is not copied into a second one.
fn split_body(mut plain: Zeroizing<Vec<u8>>, start: usize) -> Result<(String, String, bool), OpenError> {
    let body = &plain[start..];
    let (valid, truncated) = match std::str::from_utf8(body) {
        Ok(text) => (text, false),
        Err(e) if e.error_len().is_none() => {
            (std::str::from_utf8(&body[..e.valid_up_to()]).expect("valid prefix"), true)
        }
        Err(_) => return Err(OpenError::BadPlaintext("not UTF-8")),
    };
    let Some(separator) = valid.find(SEPARATOR) else {
        // A whole message always has the separator: the cut fell inside or before it.
        let from = valid.strip_suffix("|¶").or_else(|| valid.strip_suffix('|')).unwrap_or(valid);
        return Ok((from.to_owned(), String::new(), true));
    };
    let from = valid[..separator].to_owned();
    let (text_start, text_end) = (start + separator + SEPARATOR.len(), start + valid.len());
    let mut bytes = std::mem::take(&mut *plain);
    bytes.truncate(text_end);
    bytes.drain(..text_start);
    // The bytes between the separator and the end of the valid UTF-8 above: UTF-8.
    let text = String::from_utf8(bytes).map_err(|_| OpenError::BadPlaintext("not UTF-8"))?;
    Ok((from, text, truncated))
}

/// Writes `n` in decimal into `buf` (no allocation: this runs once per chat tried).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// Encrypts as the published CLM v2.0.2 sender does, keystream sized in characters, so the
/// last (bytes - characters) plaintext bytes are lost. For tests and interoperability checks.
pub fn encode_like_published_sender(
    secret: &str,
    chat_name: &str,
    from: &str,
    message: &str,
    epoch: u64,
    nonce: &str,
) -> Clm202Pointer {
    let plain = format!("#{chat_name}{SEPARATOR}{from}{SEPARATOR}{message}");
    let mut data = plain.as_bytes()[..plain.chars().count()].to_vec();
    keystream(secret.as_bytes(), epoch, nonce).apply(&mut data);
    Clm202Pointer { epoch, nonce: nonce.to_owned(), data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_matches_display() {
        for n in [0, 7, 10, 1_763_700_000, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }
}
