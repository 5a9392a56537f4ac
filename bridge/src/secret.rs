//! Where the chat secret comes from: an environment variable, a file, or a terminal prompt.
//! Never argv. The secret lives in a [`Zeroizing`] string and is never printed: error messages
//! name the source, not the value.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cli::SecretArgs;
use crate::error::{Error, usage};
use crate::input::strip_one_newline;

/// A validated secret source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `--secret-env VAR`.
    Env(String),
    /// `--secret-file PATH`.
    File(PathBuf),
    /// Neither flag, and a terminal to ask on.
    Prompt,
}

impl SecretSource {
    /// Picks the source the flags name; without flags, the prompt if `can_prompt`.
    pub fn choose(args: &SecretArgs, can_prompt: bool) -> Result<SecretSource, Error> {
        match (&args.secret_env, &args.secret_file) {
            (Some(_), Some(_)) => Err(usage("give one of --secret-env and --secret-file, not both")),
            (Some(name), None) => {
                if !is_variable_name(name) {
                    // Not echoed: someone who typed the secret itself here should not see it
                    // copied into a terminal log as well.
                    return Err(usage(
                        "--secret-env takes the NAME of an environment variable (letters, digits, _), \
                         not the secret itself",
                    ));
                }
                Ok(SecretSource::Env(name.clone()))
            }
            (None, Some(path)) => Ok(SecretSource::File(path.clone())),
            (None, None) if can_prompt => Ok(SecretSource::Prompt),
            (None, None) => Err(Error::NoSecretSource),
        }
    }

    /// Reads the secret. `lookup` reads an environment variable (a parameter so tests need not
    /// touch the process environment).
    pub fn read(&self, lookup: impl Fn(&str) -> Option<OsString>) -> Result<Zeroizing<String>, Error> {
        let (secret, origin) = match self {
            SecretSource::Env(name) => {
                let origin = format!("environment variable {name}");
                let value = lookup(name).ok_or_else(|| Error::SecretEnvUnset { name: name.clone() })?;
                let value = Zeroizing::new(
                    value.into_string().map_err(|_| Error::SecretNotUtf8 { origin: origin.clone() })?,
                );
                (value, origin)
            }
            SecretSource::File(path) => (read_secret_file(path)?, format!("file {}", path.display())),
            SecretSource::Prompt => {
                // rpassword talks to /dev/tty, so standard input stays free for decode's input.
                let typed = rpassword::prompt_password("clm-bridge: chat secret: ").map_err(Error::Prompt)?;
                (Zeroizing::new(typed), "the terminal".to_owned())
            }
        };
        if secret.is_empty() {
            return Err(Error::SecretEmpty { origin });
        }
        Ok(secret)
    }
}

/// Reads a secret (or passphrase) file: UTF-8, one trailing newline ignored. Emptiness is the
/// caller's to judge.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<String>, Error> {
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(|source| Error::SecretFile { path: path.to_owned(), source })?,
    );
    let text = std::str::from_utf8(strip_one_newline(&bytes))
        .map_err(|_| Error::SecretNotUtf8 { origin: format!("file {}", path.display()) })?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Reads the secret the flags name, from the real environment and terminal.
pub fn read_secret(args: &SecretArgs) -> Result<Zeroizing<String>, Error> {
    let can_prompt = std::io::stdin().is_terminal() || std::io::stderr().is_terminal();
    SecretSource::choose(args, can_prompt)?.read(|name| std::env::var_os(name))
}

/// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn env_args(name: &str) -> SecretArgs {
        SecretArgs { secret_env: Some(name.to_owned()), secret_file: None }
    }

    fn file_args(path: &Path) -> SecretArgs {
        SecretArgs { secret_env: None, secret_file: Some(path.to_owned()) }
    }

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    /// A file in the temp dir, removed when dropped.
    struct ScratchFile(PathBuf);

    impl ScratchFile {
        fn new(name: &str, contents: &[u8]) -> Self {
            let path = std::env::temp_dir().join(format!("clm-bridge-secret-{}-{name}", std::process::id()));
            std::fs::write(&path, contents).unwrap();
            ScratchFile(path)
        }

        fn source(&self) -> SecretSource {
            SecretSource::File(self.0.clone())
        }
    }

    impl Drop for ScratchFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn flags_choose_the_source() {
        assert_eq!(
            SecretSource::choose(&env_args("CLM_SECRET"), false).unwrap(),
            SecretSource::Env("CLM_SECRET".into())
        );
        let path = PathBuf::from("/some/file");
        assert_eq!(SecretSource::choose(&file_args(&path), true).unwrap(), SecretSource::File(path));
    }

    #[test]
    fn without_flags_prompts_only_on_a_terminal() {
        assert_eq!(SecretSource::choose(&SecretArgs::default(), true).unwrap(), SecretSource::Prompt);
        assert!(matches!(SecretSource::choose(&SecretArgs::default(), false), Err(Error::NoSecretSource)));
    }

    #[test]
    fn both_flags_are_refused() {
        let both = SecretArgs { secret_env: Some("A".into()), secret_file: Some("/f".into()) };
        assert!(matches!(SecretSource::choose(&both, true), Err(Error::Usage(_))));
    }

    #[test]
    fn a_secret_given_as_variable_name_is_refused_without_echo() {
        let error = SecretSource::choose(&env_args("hunter 2!"), false).unwrap_err();
        assert!(matches!(error, Error::Usage(_)));
        assert!(!error.to_string().contains("hunter"), "{error}");
        for bad in ["", "1ABC", "A-B", "A=B"] {
            assert!(SecretSource::choose(&env_args(bad), false).is_err(), "{bad:?}");
        }
        assert!(SecretSource::choose(&env_args("_clm_secret_2"), false).is_ok());
    }

    #[test]
    fn env_secret_is_read_verbatim() {
        let lookup = |name: &str| (name == "S").then(|| OsString::from(" pass word\n"));
        assert_eq!(SecretSource::Env("S".into()).read(lookup).unwrap().as_str(), " pass word\n");
    }

    #[test]
    fn unset_env_names_the_variable() {
        let error = SecretSource::Env("CLM_SECRET".into()).read(no_env).unwrap_err();
        assert!(matches!(&error, Error::SecretEnvUnset { name } if name == "CLM_SECRET"));
        assert_eq!(error.to_string(), "environment variable CLM_SECRET (--secret-env) is not set");
    }

    #[test]
    fn empty_env_is_refused() {
        let error = SecretSource::Env("S".into()).read(|_| Some(OsString::new())).unwrap_err();
        assert!(matches!(error, Error::SecretEmpty { .. }));
    }

    #[test]
    fn file_secret_loses_one_trailing_newline() {
        for (contents, expected) in [
            (&b"seed"[..], "seed"),
            (b"seed\n", "seed"),
            (b"seed\r\n", "seed"),
            (b"seed\n\n", "seed\n"),
            (b" seed \n", " seed "),
        ] {
            let file = ScratchFile::new("newline", contents);
            let secret = file.source().read(no_env).unwrap();
            assert_eq!(secret.as_str(), expected, "{contents:?}");
        }
    }

    #[test]
    fn file_errors_are_reported() {
        let missing = SecretSource::File("/nonexistent/clm-bridge/secret".into()).read(no_env);
        assert!(matches!(missing, Err(Error::SecretFile { .. })));
        let empty = ScratchFile::new("empty", b"\n").source().read(no_env);
        assert!(matches!(empty, Err(Error::SecretEmpty { .. })));
        let binary = ScratchFile::new("binary", b"\xff\xfe").source().read(no_env);
        assert!(matches!(binary, Err(Error::SecretNotUtf8 { .. })));
    }
}
