//! The pointer formats as data, and their canonical JSON text.
//!
//! Canonical text is what our encoders emit: for clm201 and clm202 it is byte-for-byte what
//! CLM's Python (`json.dumps` with default settings) writes; for native v1 and v2 it is compact JSON.
//! [`Pointer::digest`] identifies a pointer however it was wrapped in transit.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::format::native2;
use crate::hex;
use crate::hmac::sha256;

/// Pointer formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Format {
    /// CLM v2.0.1: `{"c": chat_id, "e": epoch, "d": hex}`.
    Clm201,
    /// CLM v2.0.2: `{"e": epoch, "n": nonce, "d": hex}`.
    Clm202,
    /// clm-bridge's authenticated format, version 1 (name `native`, kept so stored data keeps
    /// its meaning).
    Native,
    /// clm-bridge's format version 2: per-chat salt, padding, XChaCha20-Poly1305.
    Native2,
}

impl Format {
    /// The name used on the command line and in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Format::Clm201 => "clm201",
            Format::Clm202 => "clm202",
            Format::Native => "native",
            Format::Native2 => "native2",
        }
    }

    /// Parses a name produced by [`Format::name`].
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "clm201" => Some(Format::Clm201),
            "clm202" => Some(Format::Clm202),
            "native" => Some(Format::Native),
            "native2" => Some(Format::Native2),
            _ => None,
        }
    }
}

impl core::fmt::Display for Format {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A CLM v2.0.1 pointer. The chat travels in clear as `c`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Clm201Pointer {
    /// The chat id as CLM writes it (a decimal string in practice).
    pub chat_id: String,
    /// Seconds since the Unix epoch, chosen by the sender.
    pub epoch: u64,
    /// Ciphertext.
    pub data: Vec<u8>,
}

/// A CLM v2.0.2 pointer. No chat identifier travels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Clm202Pointer {
    /// Seconds since the Unix epoch.
    pub epoch: u64,
    /// Any string; part of the seed.
    pub nonce: String,
    /// Ciphertext.
    pub data: Vec<u8>,
}

/// Length of a native recognition tag.
pub const TAG_LEN: usize = 16;
/// Length of a native nonce.
pub const NONCE_LEN: usize = 16;
/// Length of a native MAC.
pub const MAC_LEN: usize = 32;
/// The native format version this code writes and reads.
pub const NATIVE_VERSION: u64 = 1;

/// A native (authenticated) pointer, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NativePointer {
    /// Recognition tag: names the chat for one hour to those who know its key.
    pub tag: [u8; TAG_LEN],
    /// Seconds since the Unix epoch (authenticated).
    pub epoch: u64,
    /// Random per pointer.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext.
    pub data: Vec<u8>,
    /// HMAC-SHA256 over the header and ciphertext.
    pub mac: [u8; MAC_LEN],
}

/// A native pointer, version 2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Native2Pointer {
    /// Recognition tag: names the chat for one hour to those who know its key.
    pub tag: [u8; native2::TAG_LEN],
    /// Seconds since the Unix epoch (authenticated as associated data).
    pub epoch: u64,
    /// Random per pointer: the XChaCha20 nonce.
    pub nonce: [u8; native2::NONCE_LEN],
    /// The padded plaintext's ciphertext followed by the 16-byte Poly1305 tag.
    pub data: Vec<u8>,
}

/// A parsed pointer of any format.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pointer {
    /// CLM v2.0.1.
    Clm201(Clm201Pointer),
    /// CLM v2.0.2.
    Clm202(Clm202Pointer),
    /// Native, version 1.
    Native(NativePointer),
    /// Native, version 2.
    Native2(Native2Pointer),
}

impl Pointer {
    /// This pointer's format.
    pub fn format(&self) -> Format {
        match self {
            Pointer::Clm201(_) => Format::Clm201,
            Pointer::Clm202(_) => Format::Clm202,
            Pointer::Native(_) => Format::Native,
            Pointer::Native2(_) => Format::Native2,
        }
    }

    /// The sender's epoch.
    pub fn epoch(&self) -> u64 {
        match self {
            Pointer::Clm201(p) => p.epoch,
            Pointer::Clm202(p) => p.epoch,
            Pointer::Native(p) => p.epoch,
            Pointer::Native2(p) => p.epoch,
        }
    }

    /// Whether the sender's epoch is more than a day ahead of `now` (see [`crate::is_from_the_future`]).
    pub fn is_from_the_future(&self, now: u64) -> bool {
        crate::is_from_the_future(self.epoch(), now)
    }

    /// Canonical JSON text (see the module docs).
    pub fn to_json(&self) -> String {
        match self {
            Pointer::Clm201(p) => format!(
                "{{\"c\": {}, \"e\": {}, \"d\": \"{}\"}}",
                python_json_string(&p.chat_id),
                p.epoch,
                hex::encode(&p.data)
            ),
            Pointer::Clm202(p) => format!(
                "{{\"e\": {}, \"n\": {}, \"d\": \"{}\"}}",
                p.epoch,
                python_json_string(&p.nonce),
                hex::encode(&p.data)
            ),
            Pointer::Native(p) => format!(
                "{{\"v\":{},\"t\":\"{}\",\"e\":{},\"n\":\"{}\",\"d\":\"{}\",\"m\":\"{}\"}}",
                NATIVE_VERSION,
                URL_SAFE_NO_PAD.encode(p.tag),
                p.epoch,
                URL_SAFE_NO_PAD.encode(p.nonce),
                URL_SAFE_NO_PAD.encode(&p.data),
                URL_SAFE_NO_PAD.encode(p.mac)
            ),
            Pointer::Native2(p) => format!(
                "{{\"v\":{},\"t\":\"{}\",\"e\":{},\"n\":\"{}\",\"d\":\"{}\"}}",
                native2::VERSION,
                URL_SAFE_NO_PAD.encode(p.tag),
                p.epoch,
                URL_SAFE_NO_PAD.encode(p.nonce),
                URL_SAFE_NO_PAD.encode(&p.data)
            ),
        }
    }

    /// Identifies a pointer however it was wrapped in transit: SHA-256 over a domain-separated
    /// binary encoding of its fields (docs/PROTOCOL.md §6). Equal pointers, equal digests.
    pub fn digest(&self) -> [u8; 32] {
        const LABEL: &[u8] = b"clm-bridge pointer digest v1\0";
        fn len(bytes: &[u8]) -> [u8; 8] {
            (bytes.len() as u64).to_be_bytes()
        }
        match self {
            Pointer::Clm201(p) => sha256(&[
                LABEL,
                &[1],
                &len(p.chat_id.as_bytes()),
                p.chat_id.as_bytes(),
                &p.epoch.to_be_bytes(),
                &p.data,
            ]),
            Pointer::Clm202(p) => sha256(&[
                LABEL,
                &[2],
                &p.epoch.to_be_bytes(),
                &len(p.nonce.as_bytes()),
                p.nonce.as_bytes(),
                &p.data,
            ]),
            Pointer::Native(p) => {
                sha256(&[LABEL, &[3], &p.tag, &p.epoch.to_be_bytes(), &p.nonce, &p.mac, &p.data])
            }
            Pointer::Native2(p) => sha256(&[LABEL, &[4], &p.tag, &p.epoch.to_be_bytes(), &p.nonce, &p.data]),
        }
    }
}

/// A JSON string literal exactly as Python's `json.dumps` writes it by default
/// (`ensure_ascii=True`: every non-ASCII character as `\uXXXX`, surrogate pairs above U+FFFF).
pub fn python_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if !(' '..='~').contains(&c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_escapes() {
        assert_eq!(python_json_string("a\"b\\c"), r#""a\"b\\c""#);
        // What `python3 -c 'import json; print(json.dumps("é🌌\x01\x7f"))'` prints.
        assert_eq!(python_json_string("é🌌\u{1}\u{7f}"), "\"\\u00e9\\ud83c\\udf0c\\u0001\\u007f\"");
    }
}
