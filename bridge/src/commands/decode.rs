//! `clm-bridge decode`: runs the detector over text, HTML or a mail and prints one JSON line per
//! pointer the secret opens. Pointers it cannot open, and pointer-like text the detector had to
//! reject, are reported on the diagnostics stream, one line each, without secrets or plaintext.

use std::io::Write;
use std::path::PathBuf;

use clm_core::format::clm202::open_with_secret;
use clm_core::{
    Clm201Chat, Clm201Pointer, Clm202Chat, EncodeError, Format, Found, Native2Keys, NativeKeys, OpenError,
    Opened, Origin, Pointer, detect,
};
use serde::Serialize;

use crate::cli::{DecodeArgs, SecretArgs};
use crate::commands::{Outcome, default_chat_id};
use crate::display::quoted;
use crate::error::{Error, usage};
use crate::input::read_scan_input;

/// What to open, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Only this format, or every format found.
    pub format: Option<Format>,
    /// The chat name given with `--chat`.
    pub chat: Option<String>,
    /// clm201: only pointers of this chat id (`--chat-id`, or implied by a default chat name).
    pub clm201_chat_id: Option<String>,
    /// clm201: the seed suffix (`None`: CLM's default for each pointer's chat id).
    pub seed_suffix: Option<String>,
    /// The file to scan, or `None` for standard input.
    pub file: Option<PathBuf>,
    /// Where the secret comes from.
    pub secret: SecretArgs,
    /// native2: the chat's salt.
    pub salt: [u8; 16],
}

impl Settings {
    /// Checks that the flags make sense together.
    pub fn from_args(args: DecodeArgs) -> Result<Settings, Error> {
        let format = args.format.map(Format::from);
        if matches!(format, Some(Format::Clm202 | Format::Native | Format::Native2))
            && (args.chat_id.is_some() || args.seed_suffix.is_some())
        {
            return Err(usage("--chat-id and --seed-suffix apply to clm201 pointers only"));
        }
        if args.chat_id.as_deref() == Some("") {
            return Err(usage("--chat-id is empty"));
        }
        // As in encode: `--chat general` is CLM's chat 1, so it must not label chat 0's messages.
        let clm201_chat_id =
            args.chat_id.or_else(|| args.chat.as_deref().and_then(default_chat_id).map(str::to_owned));
        if args.salt.is_some() && matches!(format, Some(format) if format != Format::Native2) {
            return Err(usage("--salt applies to native2 pointers only"));
        }
        let salt = match args.salt.as_deref() {
            Some(text) => super::encode::parse_hex::<16>(text, "--salt")?,
            None => clm_core::format::native2::TYPED_SECRET_SALT,
        };
        Ok(Settings {
            format,
            chat: args.chat,
            clm201_chat_id,
            seed_suffix: args.seed_suffix,
            file: args.file,
            secret: args.secret,
            salt,
        })
    }
}

/// One output line. Field order is the output's key order.
#[derive(Debug, Serialize)]
struct Line<'a> {
    format: &'static str,
    chat: Option<&'a str>,
    from: &'a str,
    text: &'a str,
    epoch: u64,
    truncated: bool,
}

/// Why a found pointer was not opened.
#[derive(Debug)]
enum NotOpened {
    /// `--format` asked for another format.
    OtherFormat { wanted: Format },
    /// clm201 pointer of another chat id than the one asked for.
    OtherChatId { found: String, wanted: String },
    /// The pointer names a chat no key can be made for (an empty clm201 chat id).
    UnusableChat(EncodeError),
    /// The keys did not open it.
    Open(OpenError),
    /// A format this build cannot open.
    UnknownFormat,
}

impl core::fmt::Display for NotOpened {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NotOpened::OtherFormat { wanted } => write!(f, "skipped (--format {wanted})"),
            NotOpened::OtherChatId { found, wanted } => {
                write!(f, "its chat id {} is not the chat id {} asked for", quoted(found), quoted(wanted))
            }
            NotOpened::Open(error @ OpenError::NotThisChat) => {
                write!(f, "{error} (another secret or another chat)")
            }
            NotOpened::Open(error @ OpenError::BadPlaintext(_)) => {
                write!(f, "{error} (wrong secret or seed suffix?)")
            }
            NotOpened::UnusableChat(error) => write!(f, "{error}"),
            NotOpened::Open(error) => write!(f, "{error}"),
            NotOpened::UnknownFormat => f.write_str("a pointer format this clm-bridge cannot open"),
        }
    }
}

/// The keys built from the secret and settings, reused for every pointer found.
struct Opener<'a> {
    settings: &'a Settings,
    secret: &'a str,
    clm202_chat: Option<Clm202Chat>,
    /// Derived on the first native pointer only: Argon2id costs a third of a second.
    native_keys: Option<NativeKeys>,
    /// The same for native2.
    native2_keys: Option<Native2Keys>,
}

impl<'a> Opener<'a> {
    fn new(settings: &'a Settings, secret: &'a str) -> Self {
        let clm202_chat = settings.chat.as_deref().map(|name| Clm202Chat::new(secret, name));
        Opener { settings, secret, clm202_chat, native_keys: None, native2_keys: None }
    }

    /// Opens a pointer; returns the message and the chat name to show.
    fn open(&mut self, pointer: &Pointer) -> Result<(Opened, Option<String>), NotOpened> {
        if let Some(wanted) = self.settings.format
            && wanted != pointer.format()
        {
            return Err(NotOpened::OtherFormat { wanted });
        }
        match pointer {
            Pointer::Clm201(pointer) => self.open_clm201(pointer),
            Pointer::Clm202(pointer) => {
                let opened = match &self.clm202_chat {
                    Some(chat) => chat.open(pointer),
                    None => open_with_secret(self.secret, pointer),
                }
                .map_err(NotOpened::Open)?;
                let chat = opened.chat_name.clone();
                Ok((opened, chat))
            }
            Pointer::Native(pointer) => {
                let keys = self.native_keys.get_or_insert_with(|| NativeKeys::derive(self.secret.as_bytes()));
                let opened = keys.open(pointer).map_err(NotOpened::Open)?;
                Ok((opened, self.settings.chat.clone()))
            }
            Pointer::Native2(pointer) => {
                let (secret, salt) = (self.secret.as_bytes(), &self.settings.salt);
                let keys = self.native2_keys.get_or_insert_with(|| Native2Keys::derive(secret, salt));
                let opened = keys.open(pointer).map_err(NotOpened::Open)?;
                Ok((opened, self.settings.chat.clone()))
            }
            _ => Err(NotOpened::UnknownFormat),
        }
    }

    fn open_clm201(&self, pointer: &Clm201Pointer) -> Result<(Opened, Option<String>), NotOpened> {
        if let Some(wanted) = &self.settings.clm201_chat_id
            && *wanted != pointer.chat_id
        {
            return Err(NotOpened::OtherChatId { found: pointer.chat_id.clone(), wanted: wanted.clone() });
        }
        // No --seed-suffix: CLM's default for this pointer's chat id.
        let chat = Clm201Chat::new(self.secret, &pointer.chat_id, self.settings.seed_suffix.as_deref())
            .map_err(NotOpened::UnusableChat)?;
        let opened = chat.open(pointer).map_err(NotOpened::Open)?;
        let label = self.settings.chat.clone().unwrap_or_else(|| pointer.chat_id.clone());
        Ok((opened, Some(label)))
    }
}

/// Where a found pointer or rejected candidate stands, for diagnostics.
fn location(origin: Origin, span: &std::ops::Range<usize>) -> String {
    let text = match origin {
        Origin::Input => "input".to_owned(),
        Origin::MailPart(part) => format!("mail part {part}"),
        Origin::MailSubject => "mail subject".to_owned(),
        other => format!("{other:?}"),
    };
    format!("{text} bytes {}..{}", span.start, span.end)
}

/// Runs `decode`.
pub fn run(args: DecodeArgs, out: &mut dyn Write, diagnostics: &mut dyn Write) -> Result<Outcome, Error> {
    let settings = Settings::from_args(args)?;
    // The secret first: a missing one is a usage error whatever the input holds.
    let secret = super::read_secret(&settings.secret)?;
    let input = read_scan_input(settings.file.as_deref())?;
    let detection = detect(&input);

    // Diagnostics are best effort: failing to write one must not hide the results.
    for rejected in &detection.rejected {
        let _ = writeln!(
            diagnostics,
            "clm-bridge: rejected pointer-like text at {}: {}",
            location(rejected.origin, &rejected.span),
            rejected.error
        );
    }
    if detection.found.is_empty() {
        let _ = writeln!(diagnostics, "clm-bridge: no pointer found");
        return Ok(Outcome::NothingOpened);
    }

    let mut opener = Opener::new(&settings, &secret);
    let mut opened_any = false;
    for Found { pointer, span, origin } in &detection.found {
        match opener.open(pointer) {
            Ok((opened, chat)) => {
                write_line(out, &opened, chat.as_deref()).map_err(Error::Output)?;
                opened_any = true;
            }
            Err(why) => {
                let _ = writeln!(
                    diagnostics,
                    "clm-bridge: {} pointer at {} not opened: {why}",
                    pointer.format(),
                    location(*origin, span)
                );
            }
        }
    }
    out.flush().map_err(Error::Output)?;
    Ok(if opened_any { Outcome::Done } else { Outcome::NothingOpened })
}

fn write_line(out: &mut dyn Write, opened: &Opened, chat: Option<&str>) -> std::io::Result<()> {
    let line = Line {
        format: opened.format.name(),
        chat,
        from: &opened.from,
        text: &opened.text,
        epoch: opened.epoch,
        truncated: opened.truncated,
    };
    // Written as it is escaped: a megabyte message is not built in memory a second time.
    crate::display::write_json(out, &line)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::FormatArg;

    fn args() -> DecodeArgs {
        DecodeArgs {
            format: None,
            secret: SecretArgs { secret_env: Some("S".into()), secret_file: None },
            chat: None,
            chat_id: None,
            seed_suffix: None,
            salt: None,
            file: None,
        }
    }

    fn settings(args: DecodeArgs) -> Settings {
        Settings::from_args(args).unwrap()
    }

    #[test]
    fn clm201_flags_are_refused_with_other_formats() {
        for format in [FormatArg::Clm202, FormatArg::Native] {
            let mut with_id = args();
            with_id.format = Some(format);
            with_id.chat_id = Some("1".into());
            assert!(matches!(Settings::from_args(with_id), Err(Error::Usage(_))));
            let mut with_suffix = args();
            with_suffix.format = Some(format);
            with_suffix.seed_suffix = Some("s".into());
            assert!(matches!(Settings::from_args(with_suffix), Err(Error::Usage(_))));
        }
        // Without --format they apply to whatever clm201 pointers turn up.
        let mut any = args();
        any.chat_id = Some("1".into());
        assert_eq!(settings(any).clm201_chat_id.as_deref(), Some("1"));
    }

    #[test]
    fn default_chat_names_imply_their_clm201_ids() {
        let mut named = args();
        named.chat = Some("general".into());
        assert_eq!(settings(named).clm201_chat_id.as_deref(), Some("1"));

        let mut other = args();
        other.chat = Some("Work".into());
        assert_eq!(settings(other).clm201_chat_id, None);

        let mut explicit = args();
        explicit.chat = Some("general".into());
        explicit.chat_id = Some("5".into());
        assert_eq!(settings(explicit).clm201_chat_id.as_deref(), Some("5"));
    }

    fn open_all(
        settings: &Settings,
        secret: &str,
        pointer: &Pointer,
    ) -> Result<(Opened, Option<String>), NotOpened> {
        Opener::new(settings, secret).open(pointer)
    }

    #[test]
    fn clm201_label_and_chat_id_filter() {
        let chat = Clm201Chat::new("seed", "1", None).unwrap();
        let pointer = Pointer::Clm201(chat.encode("bob", "hi", 10).unwrap());

        let (opened, label) = open_all(&settings(args()), "seed", &pointer).unwrap();
        assert_eq!((opened.text.as_str(), label.as_deref()), ("hi", Some("1")));

        let mut named = args();
        named.chat = Some("general".into());
        let (_, label) = open_all(&settings(named), "seed", &pointer).unwrap();
        assert_eq!(label.as_deref(), Some("general"));

        let mut other = args();
        other.chat_id = Some("2".into());
        let why = open_all(&settings(other), "seed", &pointer).unwrap_err();
        assert!(matches!(why, NotOpened::OtherChatId { .. }));
        assert_eq!(why.to_string(), "its chat id \"1\" is not the chat id \"2\" asked for");
    }

    #[test]
    fn clm201_seed_suffix_is_used() {
        let chat = Clm201Chat::new("seed", "7", Some("work")).unwrap();
        let pointer = Pointer::Clm201(chat.encode("bob", "a longer message", 10).unwrap());
        assert!(open_all(&settings(args()), "seed", &pointer).is_err());
        let mut with_suffix = args();
        with_suffix.seed_suffix = Some("work".into());
        assert!(open_all(&settings(with_suffix), "seed", &pointer).is_ok());
    }

    #[test]
    fn format_filter_skips_other_formats() {
        let pointer = Pointer::Clm202(Clm202Chat::new("s", "c").encode("a", "m", 1, "n").unwrap());
        let mut only_native = args();
        only_native.format = Some(FormatArg::Native);
        let why = open_all(&settings(only_native), "s", &pointer).unwrap_err();
        assert_eq!(why.to_string(), "skipped (--format native)");
    }

    #[test]
    fn clm202_chat_name_is_matched_exactly_when_given() {
        let pointer = Pointer::Clm202(Clm202Chat::new("s", "a|¶|b").encode("from", "x|¶|y", 1, "n").unwrap());
        let mut exact = args();
        exact.chat = Some("a|¶|b".into());
        let (opened, label) = open_all(&settings(exact), "s", &pointer).unwrap();
        assert_eq!(
            (opened.from.as_str(), opened.text.as_str(), label.as_deref()),
            ("from", "x|¶|y", Some("a|¶|b"))
        );

        let mut other = args();
        other.chat = Some("a|¶|c".into());
        assert!(matches!(
            open_all(&settings(other), "s", &pointer),
            Err(NotOpened::Open(OpenError::NotThisChat))
        ));
    }

    #[test]
    fn output_line_has_the_documented_keys_in_order() {
        let opened = Clm202Chat::new("s", "c")
            .open(&Clm202Chat::new("s", "c").encode("a", "t\0\"", 3, "n").unwrap())
            .unwrap();
        let mut out = Vec::new();
        write_line(&mut out, &opened, Some("c")).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"format\":\"clm202\",\"chat\":\"c\",\"from\":\"a\",\"text\":\"t\\u0000\\\"\",\"epoch\":3,\"truncated\":false}\n"
        );
    }
}
