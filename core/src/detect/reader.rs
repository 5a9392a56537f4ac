//! Reads one pointer object starting at a `{`, leniently: keys in any order, any spacing,
//! HTML entities and tags (in HTML mode), `> ` quote prefixes after line breaks, and line
//! breaks or spaces inserted inside long hex/base64 values by mail clients.
//!
//! Linear time: a failed attempt only re-reads text that lies inside one of its short string
//! values, because any `{` where another object could start must sit inside such a string,
//! and that object's first key then ends the outer attempt (see docs/PROTOCOL.md, Detection).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::format::MAX_DATA_BYTES;
use crate::format::native2::{self, AEAD_TAG_LEN};
use crate::format::padding::is_padded_len;
use crate::pointer::NATIVE_VERSION;
use crate::{Clm201Pointer, Clm202Pointer, Native2Pointer, NativePointer, Pointer, PointerError, hex};

/// Most characters a `d` value may have (hex of [`MAX_DATA_BYTES`]).
pub const MAX_VALUE_CHARS: usize = 2 * MAX_DATA_BYTES;
/// Most bytes of a short value (`c`, `n`, `t`, `m`); encoders refuse longer chat ids and nonces.
pub const MAX_SHORT_VALUE_BYTES: usize = 1024;
const MAX_SHORT: usize = MAX_SHORT_VALUE_BYTES;
/// Longest HTML tag skipped inside a pointer.
const MAX_TAG: usize = 512;

/// What one attempt found.
pub(crate) enum Outcome {
    Pointer(Pointer),
    Rejected(PointerError),
    NotAPointer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    C,
    E,
    N,
    D,
    V,
    T,
    M,
}

impl Key {
    fn parse(name: &[u8]) -> Option<Key> {
        Some(match name {
            b"c" => Key::C,
            b"e" => Key::E,
            b"n" => Key::N,
            b"d" => Key::D,
            b"v" => Key::V,
            b"t" => Key::T,
            b"m" => Key::M,
            _ => return None,
        })
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }

    fn name(self) -> &'static str {
        ["c", "e", "n", "d", "v", "t", "m"][self as usize]
    }
}

enum Value {
    Int(u64),
    Text(String),
}

#[derive(Default)]
struct Fields {
    seen: u8,
    c: Option<Value>,
    e: Option<u64>,
    n: Option<String>,
    d: Option<Vec<u8>>,
    v: Option<u64>,
    t: Option<Vec<u8>>,
    m: Option<Vec<u8>>,
}

struct Stop(Outcome);

impl From<PointerError> for Stop {
    fn from(e: PointerError) -> Self {
        Stop(Outcome::Rejected(e))
    }
}

fn not_a_pointer<T>() -> Result<T, Stop> {
    Err(Stop(Outcome::NotAPointer))
}

pub(crate) struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
    html: bool,
}

/// Reads the object starting at `start` (which holds `{`). Returns the outcome and where
/// reading stopped (just past `}` for a pointer).
pub(crate) fn read_at(text: &[u8], start: usize, html: bool) -> (Outcome, usize) {
    let mut reader = Reader { text, pos: start, html };
    let outcome = match reader.object() {
        Ok(pointer) => Outcome::Pointer(pointer),
        Err(Stop(outcome)) => outcome,
    };
    (outcome, reader.pos)
}

impl Reader<'_> {
    /// The next logical character and its length in the text: entities decode in HTML mode.
    #[inline]
    fn peek(&self) -> Option<(u32, usize)> {
        let &b = self.text.get(self.pos)?;
        if self.html
            && b == b'&'
            && let Some(entity) = entity_at(&self.text[self.pos..])
        {
            return Some(entity);
        }
        Some((u32::from(b), 1))
    }

    fn skip_tag(&mut self) -> bool {
        let window = &self.text[self.pos..self.text.len().min(self.pos + MAX_TAG)];
        match memchr::memchr(b'>', window) {
            Some(end) => {
                self.pos += end + 1;
                true
            }
            None => false,
        }
    }

    /// Skips what may separate tokens, or sit inside a wrapped value: spaces, line breaks with
    /// the quote prefixes after them, non-breaking spaces, and tags in HTML mode.
    fn skip_gap(&mut self) {
        while let Some((c, len)) = self.peek() {
            match c {
                0x20 | 0x09 | 0x0d | 0xa0 => self.pos += len,
                0x0a => {
                    self.pos += len;
                    while let Some((c, len)) = self.peek() {
                        if matches!(c, 0x20 | 0x09 | 0x3e) {
                            self.pos += len;
                        } else {
                            break;
                        }
                    }
                }
                0xc2 if self.text.get(self.pos + 1) == Some(&0xa0) => self.pos += 2,
                0x3c if self.html && len == 1 => {
                    if !self.skip_tag() {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    fn expect(&mut self, wanted: u8) -> Result<(), Stop> {
        match self.peek() {
            Some((c, len)) if c == u32::from(wanted) => {
                self.pos += len;
                Ok(())
            }
            _ => not_a_pointer(),
        }
    }

    fn object(&mut self) -> Result<Pointer, Stop> {
        self.expect(b'{')?;
        let mut fields = Fields::default();
        loop {
            self.skip_gap();
            self.expect(b'"')?;
            let key = self.key()?;
            if fields.seen & key.bit() != 0 {
                return not_a_pointer();
            }
            fields.seen |= key.bit();
            self.skip_gap();
            self.expect(b':')?;
            self.skip_gap();
            match key {
                Key::E => fields.e = Some(self.integer()?),
                Key::V => fields.v = Some(self.integer()?),
                Key::C => {
                    fields.c = Some(match self.peek() {
                        Some((0x22, _)) => Value::Text(self.string()?),
                        _ => Value::Int(self.integer()?),
                    })
                }
                Key::N => fields.n = Some(self.string()?),
                Key::D => fields.d = Some(self.token("d", MAX_VALUE_CHARS)?),
                Key::T => fields.t = Some(self.token("t", MAX_SHORT)?),
                Key::M => fields.m = Some(self.token("m", MAX_SHORT)?),
            }
            self.skip_gap();
            match self.peek() {
                Some((0x2c, len)) => self.pos += len,
                Some((0x7d, len)) => {
                    self.pos += len;
                    return build(fields).map_err(Stop::from);
                }
                _ => return not_a_pointer(),
            }
        }
    }

    fn key(&mut self) -> Result<Key, Stop> {
        let start = self.pos;
        while self.pos < self.text.len() && self.pos - start < 2 && self.text[self.pos].is_ascii_lowercase() {
            self.pos += 1;
        }
        let key = Key::parse(&self.text[start..self.pos]);
        self.expect(b'"')?;
        key.map_or_else(not_a_pointer, Ok)
    }

    fn integer(&mut self) -> Result<u64, Stop> {
        let start = self.pos;
        while self.pos < self.text.len() && self.text[self.pos].is_ascii_digit() && self.pos - start <= 20 {
            self.pos += 1;
        }
        let digits = std::str::from_utf8(&self.text[start..self.pos]).expect("ASCII digits");
        digits.parse().map_or_else(|_| not_a_pointer(), Ok)
    }

    /// A JSON string with its escapes; raw control characters end the attempt.
    fn string(&mut self) -> Result<String, Stop> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let run_start = self.pos;
            while self.pos < self.text.len()
                && self.pos - run_start <= MAX_SHORT
                && is_plain_string_byte(self.text[self.pos], self.html)
            {
                self.pos += 1;
            }
            out.extend_from_slice(&self.text[run_start..self.pos]);
            let Some((c, len)) = self.peek() else {
                return not_a_pointer();
            };
            if out.len() > MAX_SHORT {
                return not_a_pointer();
            }
            match c {
                0x22 => {
                    self.pos += len;
                    break;
                }
                0x5c => {
                    self.pos += len;
                    let ch = self.escape()?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0x3c if self.html && len == 1 => {
                    if !self.skip_tag() {
                        return not_a_pointer();
                    }
                }
                c if c < 0x20 => return not_a_pointer(),
                c if len == 1 => {
                    out.push(c as u8);
                    self.pos += 1;
                }
                c => {
                    let ch = char::from_u32(c).expect("entities decode to chars");
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    self.pos += len;
                }
            }
        }
        String::from_utf8(out).map_or_else(|_| not_a_pointer(), Ok)
    }

    fn escape(&mut self) -> Result<char, Stop> {
        let Some(&b) = self.text.get(self.pos) else {
            return not_a_pointer();
        };
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if (0xd800..0xdc00).contains(&high) {
                    if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return not_a_pointer();
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return not_a_pointer();
                    }
                    let c = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                    char::from_u32(c).map_or_else(not_a_pointer, Ok)?
                } else {
                    char::from_u32(high).map_or_else(not_a_pointer, Ok)?
                }
            }
            _ => return not_a_pointer(),
        })
    }

    fn hex4(&mut self) -> Result<u32, Stop> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or(Stop(Outcome::NotAPointer))?;
        let digits = std::str::from_utf8(digits).map_err(|_| Stop(Outcome::NotAPointer))?;
        let value = u32::from_str_radix(digits, 16).map_err(|_| Stop(Outcome::NotAPointer))?;
        self.pos += 4;
        Ok(value)
    }

    /// A hex or base64url value; gaps inside it (wrapping) are skipped. Past `max` characters
    /// the rest of the value is consumed, so scanning resumes after it, and it is rejected.
    fn token(&mut self, field: &'static str, max: usize) -> Result<Vec<u8>, Stop> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        let mut too_large = false;
        loop {
            let run_start = self.pos;
            let rest = &self.text[self.pos..];
            self.pos += rest.iter().position(|&b| !is_token_byte(b)).unwrap_or(rest.len());
            if !too_large {
                if out.len() + (self.pos - run_start) > max {
                    too_large = true;
                    out = Vec::new();
                } else {
                    out.extend_from_slice(&self.text[run_start..self.pos]);
                }
            }
            self.skip_gap();
            match self.peek() {
                Some((0x22, len)) => {
                    self.pos += len;
                    break;
                }
                // A raw token byte: the next run takes it. An entity spelling one (`&#97;`) is
                // taken here, or the run loop would never consume it.
                Some((c, len)) if c < 0x80 && is_token_byte(c as u8) => {
                    if len > 1 {
                        if !too_large {
                            out.push(c as u8);
                        }
                        self.pos += len;
                    }
                }
                _ => {
                    if too_large {
                        break;
                    }
                    return not_a_pointer();
                }
            }
        }
        if too_large {
            return Err(PointerError::TooLarge { field, max }.into());
        }
        Ok(out)
    }
}

/// Bytes of hex and base64 (both alphabets, with padding) values.
const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'=' | b'+' | b'/');
        b += 1;
    }
    table
};

#[inline(always)]
fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[b as usize]
}

/// Bytes a JSON string copies as they are (no quote, backslash, control byte; in HTML mode
/// no `&` or `<` either, which may start an entity or a tag).
#[inline(always)]
fn is_plain_string_byte(b: u8, html: bool) -> bool {
    b >= 0x20 && b != b'"' && b != b'\\' && !(html && (b == b'&' || b == b'<'))
}

/// Decodes an HTML entity at the start of `text` (which starts with `&`): the five XML ones,
/// `&nbsp;`, and numeric ones. Returns the code point and the entity's length.
fn entity_at(text: &[u8]) -> Option<(u32, usize)> {
    let end = memchr::memchr(b';', &text[..text.len().min(12)])?;
    let body = &text[1..end];
    let code = match body {
        b"quot" => 0x22,
        b"amp" => 0x26,
        b"lt" => 0x3c,
        b"gt" => 0x3e,
        b"apos" => 0x27,
        b"nbsp" => 0xa0,
        [b'#', b'x' | b'X', digits @ ..] => {
            u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?
        }
        [b'#', digits @ ..] => std::str::from_utf8(digits).ok()?.parse().ok()?,
        _ => return None,
    };
    char::from_u32(code)?;
    Some((code, end + 1))
}

const NATIVE_KEYS: u8 =
    Key::V.bit() | Key::T.bit() | Key::E.bit() | Key::N.bit() | Key::D.bit() | Key::M.bit();
const NATIVE2_KEYS: u8 = Key::V.bit() | Key::T.bit() | Key::E.bit() | Key::N.bit() | Key::D.bit();
const CLM201_KEYS: u8 = Key::C.bit() | Key::E.bit() | Key::D.bit();
const CLM202_KEYS: u8 = Key::E.bit() | Key::N.bit() | Key::D.bit();

/// The key set decides the format; a native key set also fixes the version it must carry.
fn build(f: Fields) -> Result<Pointer, PointerError> {
    match f.seen {
        NATIVE_KEYS => build_native(f),
        NATIVE2_KEYS => build_native2(f),
        CLM201_KEYS | CLM202_KEYS => build_clm(f),
        _ => Err(PointerError::InvalidField { field: "{}", reason: "keys match no pointer format" }),
    }
}

fn check_version(f: &Fields, wanted: u64) -> Result<(), PointerError> {
    match f.v.unwrap_or_default() {
        version if version == wanted => Ok(()),
        version => Err(PointerError::UnsupportedVersion(version)),
    }
}

fn build_native(f: Fields) -> Result<Pointer, PointerError> {
    check_version(&f, NATIVE_VERSION)?;
    Ok(Pointer::Native(NativePointer {
        tag: fixed_b64(Key::T, &f.t.unwrap_or_default())?,
        epoch: f.e.unwrap_or_default(),
        nonce: fixed_b64(Key::N, f.n.unwrap_or_default().as_bytes())?,
        data: data_b64(&f.d.unwrap_or_default())?,
        mac: fixed_b64(Key::M, &f.m.unwrap_or_default())?,
    }))
}

fn build_native2(f: Fields) -> Result<Pointer, PointerError> {
    check_version(&f, native2::VERSION)?;
    let data = data_b64(&f.d.unwrap_or_default())?;
    if !data.len().checked_sub(AEAD_TAG_LEN).is_some_and(is_padded_len) {
        return Err(PointerError::InvalidField { field: "d", reason: "length is not a padded length + 16" });
    }
    Ok(Pointer::Native2(Native2Pointer {
        tag: fixed_b64(Key::T, &f.t.unwrap_or_default())?,
        epoch: f.e.unwrap_or_default(),
        nonce: fixed_b64(Key::N, f.n.unwrap_or_default().as_bytes())?,
        data,
    }))
}

fn build_clm(f: Fields) -> Result<Pointer, PointerError> {
    let epoch = f.e.unwrap_or_default();
    let d = f.d.unwrap_or_default();
    let data = hex::decode(&d).ok_or(PointerError::InvalidField { field: "d", reason: "not hex" })?;
    if data.is_empty() {
        return Err(PointerError::InvalidField { field: "d", reason: "empty" });
    }
    if f.seen == CLM201_KEYS {
        let chat_id = match f.c {
            Some(Value::Text(s)) => s,
            Some(Value::Int(i)) => i.to_string(),
            _ => unreachable!("c is read as text or integer"),
        };
        if chat_id.is_empty() {
            return Err(PointerError::InvalidField { field: "c", reason: "empty" });
        }
        return Ok(Pointer::Clm201(Clm201Pointer { chat_id, epoch, data }));
    }
    Ok(Pointer::Clm202(Clm202Pointer { epoch, nonce: f.n.unwrap_or_default(), data }))
}

fn b64(key: Key, text: &[u8]) -> Result<Vec<u8>, PointerError> {
    let trimmed = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"=")).unwrap_or(text);
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .map_err(|_| PointerError::InvalidField { field: key.name(), reason: "not base64url" })
}

fn fixed_b64<const N: usize>(key: Key, text: &[u8]) -> Result<[u8; N], PointerError> {
    let reason = match N {
        16 => "must be 16 bytes",
        24 => "must be 24 bytes",
        32 => "must be 32 bytes",
        _ => "wrong length",
    };
    b64(key, text)?.try_into().map_err(|_| PointerError::InvalidField { field: key.name(), reason })
}

fn data_b64(text: &[u8]) -> Result<Vec<u8>, PointerError> {
    let data = b64(Key::D, text)?;
    if data.is_empty() {
        return Err(PointerError::InvalidField { field: "d", reason: "empty" });
    }
    if data.len() > MAX_DATA_BYTES {
        return Err(PointerError::TooLarge { field: "d", max: MAX_VALUE_CHARS });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, html: bool) -> (Outcome, usize) {
        read_at(text.as_bytes(), 0, html)
    }

    #[test]
    fn regression_entity_spelling_a_token_byte_does_not_hang() {
        let text = r#"{"e": 1, "n": "x", "d": "a&#98;cd"}"#;
        let (outcome, end) = read(text, true);
        let Outcome::Pointer(Pointer::Clm202(p)) = outcome else { panic!("not a clm202 pointer") };
        assert_eq!((p.data, end), (vec![0xab, 0xcd], text.len()));
    }

    #[test]
    fn unknown_key_and_duplicate_key_are_not_pointers() {
        for text in [r#"{"e": 1, "n": "x", "d": "ab", "z": 1}"#, r#"{"e": 1, "e": 2, "n": "x", "d": "ab"}"#] {
            assert!(matches!(read(text, false).0, Outcome::NotAPointer), "{text}");
        }
    }
}
