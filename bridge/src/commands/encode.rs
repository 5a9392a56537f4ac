//! `clm-bridge encode`: a message in, one pointer's canonical JSON out.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use clm_core::format::native2::TYPED_SECRET_SALT;
use clm_core::{Clm201Chat, Clm202Chat, Native2Keys, NativeKeys, Pointer, hex};
use zeroize::Zeroizing;

use crate::cli::{EncodeArgs, FormatArg, SecretArgs};
use crate::commands::{Outcome, default_chat_id};
use crate::error::{Error, usage};
use crate::input::read_message_from_stdin;

/// Bytes of randomness in a default nonce (both clm202 and native): 128 bits, so nonces never
/// repeat in practice.
const NONCE_BYTES: usize = 16;

/// What to encode, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Format and its chat parameters.
    pub chat: ChatSettings,
    /// Sender name.
    pub from: String,
    /// Epoch, or `None` for now.
    pub epoch: Option<u64>,
    /// The message, or `None` to read standard input.
    pub message: Option<String>,
    /// Where the secret comes from.
    pub secret: SecretArgs,
}

/// The chat parameters of each format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatSettings {
    /// clm201: the chat id that travels in clear, and the seed suffix (`None`: CLM's default).
    Clm201 {
        /// Chat id.
        chat_id: String,
        /// Seed suffix.
        seed_suffix: Option<String>,
    },
    /// clm202: the chat name that starts every plaintext, and an optional fixed nonce.
    Clm202 {
        /// Chat name.
        name: String,
        /// Nonce, or `None` for a random one.
        nonce: Option<String>,
    },
    /// native: an optional fixed nonce.
    Native {
        /// Nonce, or `None` for a random one.
        nonce: Option<[u8; NONCE_BYTES]>,
    },
    /// native2: the salt, and an optional fixed nonce.
    Native2 {
        /// The chat's salt (the typed-secret salt unless given).
        salt: [u8; 16],
        /// Nonce, or `None` for a random one.
        nonce: Option<[u8; 24]>,
    },
}

impl Settings {
    /// Checks that the flags make sense together for the chosen format.
    pub fn from_args(args: EncodeArgs) -> Result<Settings, Error> {
        if args.format != FormatArg::Clm201 && (args.chat_id.is_some() || args.seed_suffix.is_some()) {
            return Err(usage("--chat-id and --seed-suffix apply to --format clm201 only"));
        }
        if args.format != FormatArg::Native2 && args.salt.is_some() {
            return Err(usage("--salt applies to --format native2 only"));
        }
        let chat = match args.format {
            FormatArg::Clm201 => {
                if args.nonce.is_some() {
                    return Err(usage(
                        "--nonce does not apply to clm201: its keystream depends on the epoch only",
                    ));
                }
                let chat_id = match args.chat_id {
                    Some(id) if id.is_empty() => return Err(usage("--chat-id is empty")),
                    Some(id) => id,
                    None => default_chat_id(&args.chat).map(str::to_owned).ok_or_else(|| {
                        usage("clm201 needs --chat-id unless --chat is urgent, general or secrets (ids 0, 1, 2)")
                    })?,
                };
                ChatSettings::Clm201 { chat_id, seed_suffix: args.seed_suffix }
            }
            FormatArg::Clm202 => ChatSettings::Clm202 { name: args.chat, nonce: args.nonce },
            FormatArg::Native => {
                let nonce = args.nonce.as_deref().map(parse_native_nonce).transpose()?;
                ChatSettings::Native { nonce }
            }
            FormatArg::Native2 => {
                let nonce = args.nonce.as_deref().map(|text| parse_hex::<24>(text, "--nonce")).transpose()?;
                let salt = args.salt.as_deref().map(|text| parse_hex::<16>(text, "--salt")).transpose()?;
                ChatSettings::Native2 { salt: salt.unwrap_or(TYPED_SECRET_SALT), nonce }
            }
        };
        Ok(Settings { chat, from: args.from, epoch: args.epoch, message: args.message, secret: args.secret })
    }
}

/// A native `--nonce`: exactly 32 hex digits.
fn parse_native_nonce(text: &str) -> Result<[u8; NONCE_BYTES], Error> {
    hex::decode(text.as_bytes())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| usage("a native --nonce is 32 hex digits (16 bytes)"))
}

/// `N` bytes written as `2 * N` hex digits.
pub fn parse_hex<const N: usize>(text: &str, flag: &str) -> Result<[u8; N], Error> {
    hex::decode(text.as_bytes())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| usage(format!("{flag} is {} hex digits ({N} bytes)", 2 * N)))
}

/// Runs `encode`.
pub fn run(args: EncodeArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let settings = Settings::from_args(args)?;
    let secret = super::read_secret(&settings.secret)?;
    let message = match settings.message {
        Some(message) => Zeroizing::new(message),
        None => read_message_from_stdin()?,
    };
    let epoch = match settings.epoch {
        Some(epoch) => epoch,
        None => now()?,
    };
    let pointer = encode(&settings.chat, &secret, &settings.from, &message, epoch)?;
    writeln!(out, "{}", pointer.to_json()).and_then(|()| out.flush()).map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// Encodes with the chat's keys, drawing a random nonce where none was given.
fn encode(
    chat: &ChatSettings,
    secret: &str,
    from: &str,
    message: &str,
    epoch: u64,
) -> Result<Pointer, Error> {
    Ok(match chat {
        ChatSettings::Clm201 { chat_id, seed_suffix } => {
            let chat = Clm201Chat::new(secret, chat_id, seed_suffix.as_deref())?;
            Pointer::Clm201(chat.encode(from, message, epoch)?)
        }
        ChatSettings::Clm202 { name, nonce } => {
            let nonce = match nonce {
                Some(nonce) => nonce.clone(),
                None => hex::encode(&random_nonce()?),
            };
            Pointer::Clm202(Clm202Chat::new(secret, name).encode(from, message, epoch, &nonce)?)
        }
        ChatSettings::Native { nonce } => {
            let nonce = match nonce {
                Some(nonce) => *nonce,
                None => random_nonce()?,
            };
            // Argon2id: about a third of a second, once per run.
            Pointer::Native(NativeKeys::derive(secret.as_bytes()).encode(from, message, epoch, nonce)?)
        }
        ChatSettings::Native2 { salt, nonce } => {
            let nonce = match nonce {
                Some(nonce) => *nonce,
                None => random_bytes()?,
            };
            Pointer::Native2(
                Native2Keys::derive(secret.as_bytes(), salt).encode(from, message, epoch, nonce)?,
            )
        }
    })
}

fn random_nonce() -> Result<[u8; NONCE_BYTES], Error> {
    random_bytes()
}

/// `N` bytes from the operating system's RNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes)
}

fn now() -> Result<u64, Error> {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).map_err(|_| Error::Clock)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(format: FormatArg, chat: &str) -> EncodeArgs {
        EncodeArgs {
            format,
            chat: chat.into(),
            from: "alice".into(),
            secret: SecretArgs { secret_env: Some("S".into()), secret_file: None },
            chat_id: None,
            seed_suffix: None,
            epoch: None,
            nonce: None,
            salt: None,
            message: Some("hi".into()),
        }
    }

    fn usage_error(result: Result<Settings, Error>) -> String {
        match result {
            Err(Error::Usage(message)) => message,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn clm201_default_chats_imply_their_ids() {
        for (name, id) in [("urgent", "0"), ("general", "1"), ("secrets", "2")] {
            let settings = Settings::from_args(args(FormatArg::Clm201, name)).unwrap();
            assert_eq!(settings.chat, ChatSettings::Clm201 { chat_id: id.into(), seed_suffix: None });
        }
    }

    #[test]
    fn clm201_other_chats_need_an_id() {
        let message = usage_error(Settings::from_args(args(FormatArg::Clm201, "Work")));
        assert!(message.contains("--chat-id"), "{message}");

        let mut with_id = args(FormatArg::Clm201, "Work");
        with_id.chat_id = Some("7".into());
        with_id.seed_suffix = Some("work".into());
        let settings = Settings::from_args(with_id).unwrap();
        assert_eq!(
            settings.chat,
            ChatSettings::Clm201 { chat_id: "7".into(), seed_suffix: Some("work".into()) }
        );
    }

    #[test]
    fn explicit_chat_id_beats_the_default_name() {
        let mut explicit = args(FormatArg::Clm201, "urgent");
        explicit.chat_id = Some("9".into());
        let settings = Settings::from_args(explicit).unwrap();
        assert!(matches!(settings.chat, ChatSettings::Clm201 { chat_id, .. } if chat_id == "9"));
    }

    #[test]
    fn clm201_refuses_a_nonce_and_an_empty_id() {
        let mut nonce = args(FormatArg::Clm201, "urgent");
        nonce.nonce = Some("n".into());
        assert!(usage_error(Settings::from_args(nonce)).contains("--nonce"));

        let mut empty = args(FormatArg::Clm201, "Work");
        empty.chat_id = Some(String::new());
        usage_error(Settings::from_args(empty));
    }

    #[test]
    fn clm201_flags_are_refused_elsewhere() {
        for format in [FormatArg::Clm202, FormatArg::Native] {
            let mut with_id = args(format, "Work");
            with_id.chat_id = Some("1".into());
            assert!(usage_error(Settings::from_args(with_id)).contains("clm201 only"));
            let mut with_suffix = args(format, "Work");
            with_suffix.seed_suffix = Some("x".into());
            usage_error(Settings::from_args(with_suffix));
        }
    }

    #[test]
    fn clm202_takes_any_nonce() {
        let mut any = args(FormatArg::Clm202, "Family");
        any.nonce = Some("nonce with spaces ¶".into());
        let settings = Settings::from_args(any).unwrap();
        assert_eq!(
            settings.chat,
            ChatSettings::Clm202 { name: "Family".into(), nonce: Some("nonce with spaces ¶".into()) }
        );
    }

    #[test]
    fn native_nonce_is_32_hex_digits() {
        let mut good = args(FormatArg::Native, "n");
        good.nonce = Some("000102030405060708090a0b0c0d0E0F".into());
        let settings = Settings::from_args(good).unwrap();
        let expected: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(settings.chat, ChatSettings::Native { nonce: Some(expected) });
        for bad in ["", "00", "000102030405060708090a0b0c0d0e0f00", "zz0102030405060708090a0b0c0d0e0f"] {
            let mut wrong = args(FormatArg::Native, "n");
            wrong.nonce = Some(bad.into());
            assert!(usage_error(Settings::from_args(wrong)).contains("32 hex"), "{bad:?}");
        }
    }

    #[test]
    fn default_nonces_are_fresh() {
        assert_ne!(random_nonce().unwrap(), random_nonce().unwrap());
    }

    #[test]
    fn clm202_default_nonce_is_32_lowercase_hex() {
        let chat = ChatSettings::Clm202 { name: "c".into(), nonce: None };
        let Pointer::Clm202(pointer) = encode(&chat, "secret", "a", "m", 5).unwrap() else { panic!() };
        assert_eq!(pointer.nonce.len(), 32);
        assert!(pointer.nonce.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
}
