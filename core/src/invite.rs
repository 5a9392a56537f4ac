//! Invites: a `clm:` link that carries everything needed to join a chat (docs/PROTOCOL.md §8).
//!
//! ```text
//! link  = "clm:" || base32(frame)                       Crockford base32, any case
//! frame = u8(version = 1) || u16be(len(body)) || body || crc32(everything before it), LE
//! body  = u8(format) || str(name) || keys || u8(route count) || str(route)*
//! ```
//!
//! The link is case-insensitive, so its upper-case form ([`Invite::to_qr_text`]) fits a QR
//! code's alphanumeric mode. The CRC-32 catches every change of one character (or of a few
//! neighbouring ones); the declared length tells a cut link from a damaged one.

use zeroize::Zeroizing;

use crate::Format;
use crate::base32;
use crate::format::native2::SALT_LEN;

/// The invite version this code writes and reads.
pub const INVITE_VERSION: u8 = 1;
/// What every invite link starts with (any case).
pub const SCHEME: &str = "clm:";
/// Most suggested routes an invite carries (each at most 255 bytes).
pub const MAX_ROUTES: usize = 16;
/// Version, body length.
const HEADER_LEN: usize = 3;
const CRC_LEN: usize = 4;

/// Why a link is not a usable invite, or why an invite cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InviteError {
    /// The text does not start with `clm:`.
    #[error("not an invite: it does not start with clm:")]
    NotAnInvite,
    /// A character of the link is not one an invite uses (position in bytes from the link's start).
    #[error("character {position} of the link is not one an invite uses")]
    BadCharacter {
        /// Byte offset in the text given, after leading spaces.
        position: usize,
    },
    /// The link is cut short: part of it was lost when it was copied or scanned.
    #[error("the link is cut short: {found} of {expected} characters")]
    Truncated {
        /// Characters the link's own header announces (or, when the header itself is cut, the
        /// header's).
        expected: usize,
        /// Characters there are.
        found: usize,
    },
    /// The link has characters past the end its header announces.
    #[error("the link runs on past its end: {found} characters, {expected} expected")]
    TooLong {
        /// Characters the link's header announces.
        expected: usize,
        /// Characters there are.
        found: usize,
    },
    /// The checksum does not match: a character was changed or mistyped.
    #[error("the link is damaged: its checksum does not match (a character was changed)")]
    ChecksumMismatch,
    /// An intact invite of a version this code does not read.
    #[error("invite version {0} is not supported by this version of clm-bridge")]
    UnsupportedVersion(u8),
    /// A field is missing, malformed or out of its bounds.
    #[error("invalid invite field `{field}`: {reason}")]
    BadField {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The keys an invite carries, by chat format.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InviteKeys {
    /// Native version 2: the secret and the chat's salt.
    Native2 {
        /// The chat secret.
        secret: Zeroizing<String>,
        /// The chat's Argon2id salt (random, or the typed-secret salt).
        salt: [u8; SALT_LEN],
    },
    /// Native version 1.
    Native {
        /// The chat secret.
        secret: Zeroizing<String>,
    },
    /// CLM v2.0.2: the chat name is part of every plaintext.
    Clm202 {
        /// The chat secret.
        secret: Zeroizing<String>,
    },
    /// CLM v2.0.1. The master seed opens every clm201 chat of its owner, not only this one.
    Clm201 {
        /// The inviter's master seed.
        master_seed: Zeroizing<String>,
        /// The chat id that travels in clear in each pointer.
        chat_id: String,
        /// The chat's seed suffix.
        seed_suffix: String,
    },
}

impl InviteKeys {
    /// The chat format these keys are for.
    pub fn format(&self) -> Format {
        match self {
            InviteKeys::Native2 { .. } => Format::Native2,
            InviteKeys::Native { .. } => Format::Native,
            InviteKeys::Clm202 { .. } => Format::Clm202,
            InviteKeys::Clm201 { .. } => Format::Clm201,
        }
    }

    /// The chat secret (clm201: the master seed).
    pub fn secret(&self) -> &str {
        match self {
            InviteKeys::Native2 { secret, .. }
            | InviteKeys::Native { secret }
            | InviteKeys::Clm202 { secret } => secret,
            InviteKeys::Clm201 { master_seed, .. } => master_seed,
        }
    }

    fn code(&self) -> u8 {
        match self {
            InviteKeys::Native2 { .. } => 1,
            InviteKeys::Native { .. } => 2,
            InviteKeys::Clm202 { .. } => 3,
            InviteKeys::Clm201 { .. } => 4,
        }
    }
}

impl core::fmt::Debug for InviteKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut out = f.debug_struct("InviteKeys");
        out.field("format", &self.format());
        if let InviteKeys::Clm201 { chat_id, seed_suffix, .. } = self {
            out.field("chat_id", chat_id).field("seed_suffix", seed_suffix);
        }
        out.finish_non_exhaustive()
    }
}

/// An invite to a chat: its name, its keys and the routes the inviter suggests.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    name: String,
    keys: InviteKeys,
    routes: Vec<String>,
}

impl core::fmt::Debug for Invite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Invite")
            .field("name", &self.name)
            .field("keys", &self.keys)
            .field("routes", &self.routes)
            .finish()
    }
}

impl Invite {
    /// An invite, checked against the limits every link must keep: name, secrets, chat id and
    /// routes of 1 to 255 bytes (a clm201 seed suffix may be empty); no control characters in
    /// the name, chat id, seed suffix or routes (they are shown); at most [`MAX_ROUTES`] routes.
    pub fn new(name: &str, keys: InviteKeys, routes: Vec<String>) -> Result<Invite, InviteError> {
        check_text("name", name, false)?;
        check_str("secret", keys.secret(), false)?;
        if let InviteKeys::Clm201 { chat_id, seed_suffix, .. } = &keys {
            check_text("chat_id", chat_id, false)?;
            check_text("seed_suffix", seed_suffix, true)?;
        }
        if routes.len() > MAX_ROUTES {
            return Err(InviteError::BadField { field: "routes", reason: "more than 16" });
        }
        for route in &routes {
            check_text("route", route, false)?;
        }
        Ok(Invite { name: name.to_owned(), keys, routes })
    }

    /// The chat's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The chat's keys.
    pub fn keys(&self) -> &InviteKeys {
        &self.keys
    }

    /// The chat's format.
    pub fn format(&self) -> Format {
        self.keys.format()
    }

    /// Suggested routes, opaque strings such as `telegram.home:-1001234` (never credentials).
    pub fn routes(&self) -> &[String] {
        &self.routes
    }

    /// The link, lower case: `clm:` and base32.
    pub fn to_link(&self) -> Zeroizing<String> {
        let mut frame = Zeroizing::new(vec![INVITE_VERSION, 0, 0]);
        self.write_body(&mut frame);
        let body_len = u16::try_from(frame.len() - HEADER_LEN).expect("limits keep the body under 64 KiB");
        frame[1..HEADER_LEN].copy_from_slice(&body_len.to_be_bytes());
        let crc = crc32(&frame);
        frame.extend_from_slice(&crc.to_le_bytes());
        let mut link = Zeroizing::new(String::from(SCHEME));
        link.push_str(&base32::encode(&frame));
        link
    }

    /// The link in upper case, for a QR code: every character is then in QR's alphanumeric
    /// set (5.5 bits a character instead of 8). [`Invite::parse`] reads either.
    pub fn to_qr_text(&self) -> Zeroizing<String> {
        Zeroizing::new(self.to_link().to_ascii_uppercase())
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.push(self.keys.code());
        put_str(out, &self.name);
        put_str(out, self.keys.secret());
        match &self.keys {
            InviteKeys::Native2 { salt, .. } => out.extend_from_slice(salt),
            InviteKeys::Clm201 { chat_id, seed_suffix, .. } => {
                put_str(out, chat_id);
                put_str(out, seed_suffix);
            }
            InviteKeys::Native { .. } | InviteKeys::Clm202 { .. } => {}
        }
        out.push(u8::try_from(self.routes.len()).expect("at most 16 routes"));
        for route in &self.routes {
            put_str(out, route);
        }
    }

    /// Reads a link (surrounding spaces and line breaks are ignored). Checks, in order: the
    /// scheme, the characters, the length the header announces, the checksum, the version,
    /// then each field.
    pub fn parse(link: &str) -> Result<Invite, InviteError> {
        let frame = checked_frame(link)?;
        if frame[0] != INVITE_VERSION {
            return Err(InviteError::UnsupportedVersion(frame[0]));
        }
        let mut body = Fields { rest: &frame[HEADER_LEN..frame.len() - CRC_LEN] };
        let invite = body.invite()?;
        if !body.rest.is_empty() {
            return Err(InviteError::BadField { field: "routes", reason: "bytes after the last route" });
        }
        Ok(invite)
    }
}

impl core::str::FromStr for Invite {
    type Err = InviteError;

    fn from_str(link: &str) -> Result<Invite, InviteError> {
        Invite::parse(link)
    }
}

/// The frame of a link whose scheme, characters, length and checksum are right (any version).
fn checked_frame(link: &str) -> Result<Zeroizing<Vec<u8>>, InviteError> {
    let link = link.trim_ascii();
    let scheme = link.get(..SCHEME.len()).filter(|s| s.eq_ignore_ascii_case(SCHEME));
    let symbols = &link.as_bytes()[scheme.ok_or(InviteError::NotAnInvite)?.len()..];
    let decoded =
        base32::decode(symbols).map_err(|i| InviteError::BadCharacter { position: SCHEME.len() + i })?;
    let found = symbols.len();
    let Some(declared) = decoded.bytes.get(1..HEADER_LEN) else {
        return Err(InviteError::Truncated { expected: base32::encoded_len(HEADER_LEN), found });
    };
    let frame_len = HEADER_LEN + usize::from(u16::from_be_bytes([declared[0], declared[1]])) + CRC_LEN;
    let expected = base32::encoded_len(frame_len);
    if found < expected {
        return Err(InviteError::Truncated { expected, found });
    }
    if found > expected {
        return Err(InviteError::TooLong { expected, found });
    }
    let frame = decoded.bytes;
    let (covered, crc) = frame.split_at(frame_len - CRC_LEN);
    if !decoded.canonical || crc32(covered).to_le_bytes() != crc {
        return Err(InviteError::ChecksumMismatch);
    }
    Ok(frame)
}

/// Reads the fields of a version-1 body.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn invite(&mut self) -> Result<Invite, InviteError> {
        let code = self.bytes::<1>("format")?[0];
        let name = self.text("name", false)?;
        let secret = Zeroizing::new(self.str("secret")?.to_owned());
        check_str("secret", &secret, false)?;
        let keys = match code {
            1 => InviteKeys::Native2 { secret, salt: *self.bytes::<SALT_LEN>("salt")? },
            2 => InviteKeys::Native { secret },
            3 => InviteKeys::Clm202 { secret },
            4 => InviteKeys::Clm201 {
                master_seed: secret,
                chat_id: self.text("chat_id", false)?.to_owned(),
                seed_suffix: self.text("seed_suffix", true)?.to_owned(),
            },
            _ => return Err(InviteError::BadField { field: "format", reason: "unknown format" }),
        };
        let count = self.bytes::<1>("routes")?[0];
        if usize::from(count) > MAX_ROUTES {
            return Err(InviteError::BadField { field: "routes", reason: "more than 16" });
        }
        let routes =
            (0..count).map(|_| self.text("route", false).map(str::to_owned)).collect::<Result<_, _>>()?;
        Invite::new(name, keys, routes)
    }

    fn bytes<const N: usize>(&mut self, field: &'static str) -> Result<&'a [u8; N], InviteError> {
        let (head, rest) =
            self.rest.split_first_chunk::<N>().ok_or(InviteError::BadField { field, reason: "missing" })?;
        self.rest = rest;
        Ok(head)
    }

    /// A string that is shown: checked as it is read, so the first bad field is the one named.
    fn text(&mut self, field: &'static str, may_be_empty: bool) -> Result<&'a str, InviteError> {
        let text = self.str(field)?;
        check_text(field, text, may_be_empty)?;
        Ok(text)
    }

    fn str(&mut self, field: &'static str) -> Result<&'a str, InviteError> {
        let len = usize::from(self.bytes::<1>(field)?[0]);
        if self.rest.len() < len {
            return Err(InviteError::BadField { field, reason: "length beyond the end" });
        }
        let (text, rest) = self.rest.split_at(len);
        self.rest = rest;
        std::str::from_utf8(text).map_err(|_| InviteError::BadField { field, reason: "not UTF-8" })
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.push(u8::try_from(text.len()).expect("checked by Invite::new"));
    out.extend_from_slice(text.as_bytes());
}

fn check_str(field: &'static str, text: &str, may_be_empty: bool) -> Result<(), InviteError> {
    if text.is_empty() && !may_be_empty {
        return Err(InviteError::BadField { field, reason: "empty" });
    }
    if text.len() > 255 {
        return Err(InviteError::BadField { field, reason: "longer than 255 bytes" });
    }
    Ok(())
}

fn check_text(field: &'static str, text: &str, may_be_empty: bool) -> Result<(), InviteError> {
    check_str(field, text, may_be_empty)?;
    if text.chars().any(char::is_control) {
        return Err(InviteError::BadField { field, reason: "control character" });
    }
    Ok(())
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, &b| TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlibs() {
        // python3 -c 'import zlib; print(hex(zlib.crc32(b"123456789")))'
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    fn sample() -> Invite {
        let keys = InviteKeys::Native2 { secret: Zeroizing::new("s3cret".into()), salt: [7; SALT_LEN] };
        Invite::new("Family", keys, vec!["drop.usb".into(), "email.work:bob@example.org".into()]).unwrap()
    }

    /// Every symbol of the link replaced by every other symbol: refused, every time.
    #[test]
    fn every_single_symbol_change_is_refused() {
        let link = sample().to_link();
        let mut checked = 0;
        for position in SCHEME.len()..link.len() {
            for &symbol in base32::ALPHABET.iter().filter(|&&s| s != link.as_bytes()[position]) {
                let mut changed = link.as_bytes().to_vec();
                changed[position] = symbol;
                let changed = String::from_utf8(changed).unwrap();
                assert!(Invite::parse(&changed).is_err(), "{changed}");
                checked += 1;
            }
        }
        assert_eq!(checked, (link.len() - SCHEME.len()) * 31);
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", sample());
        assert!(shown.contains("Family") && shown.contains("drop.usb"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
