//! Where secrets come from: an environment variable, a file, or a terminal prompt. Never argv.
//! A secret lives in a [`Zeroizing`] string and is never printed: errors name the source, not
//! the value. Chat secrets (`--secret-env`, `--secret-file`), the vault passphrase and the
//! passwords and tokens the settings name all come through here.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clm_adapters::settings::SecretRef;
use zeroize::Zeroizing;

use crate::input::strip_one_newline;

/// Why a secret could not be had. Messages name where it was looked for, never its value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No `--secret-env`, no `--secret-file`, and no terminal to prompt on.
    #[error("no secret given: use --secret-env VAR or --secret-file PATH (no terminal to prompt on)")]
    NoSource,
    /// Both `--secret-env` and `--secret-file`.
    #[error("give one of --secret-env and --secret-file, not both")]
    BothSources,
    /// `--secret-env` was given something that is not a variable name (perhaps the secret
    /// itself, which is therefore not echoed).
    #[error(
        "--secret-env takes the NAME of an environment variable (letters, digits, _), not the secret itself"
    )]
    NotAVariableName,
    /// `--secret-env` names a variable that is not set.
    #[error("environment variable {name} (--secret-env) is not set")]
    EnvUnset {
        /// The variable's name.
        name: String,
    },
    /// A variable named by the settings (`password_env`, `token_env`) is not set.
    #[error("environment variable {name} (named in the settings) is not set or not UTF-8")]
    SettingsEnvUnset {
        /// The variable's name.
        name: String,
    },
    /// A secret that is not UTF-8 (CLM's secrets are text).
    #[error("the secret from {origin} is not valid UTF-8")]
    NotUtf8 {
        /// Where it came from, e.g. "environment variable CLM_SECRET".
        origin: String,
    },
    /// An empty secret: almost surely a mistake (an unset-but-exported variable, an empty file).
    #[error("the secret from {origin} is empty")]
    Empty {
        /// Where it came from.
        origin: String,
    },
    /// The secret file could not be read.
    #[error("cannot read the secret file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The terminal prompt failed.
    #[error("cannot read the secret from the terminal: {0}")]
    Prompt(std::io::Error),
}

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
    /// Picks the source the flags name (`--secret-env`, `--secret-file`); without flags, the
    /// prompt if `can_prompt`.
    pub fn choose(
        env: Option<&str>,
        file: Option<&Path>,
        can_prompt: bool,
    ) -> Result<SecretSource, SecretError> {
        match (env, file) {
            (Some(_), Some(_)) => Err(SecretError::BothSources),
            (Some(name), None) if !is_variable_name(name) => Err(SecretError::NotAVariableName),
            (Some(name), None) => Ok(SecretSource::Env(name.to_owned())),
            (None, Some(path)) => Ok(SecretSource::File(path.to_owned())),
            (None, None) if can_prompt => Ok(SecretSource::Prompt),
            (None, None) => Err(SecretError::NoSource),
        }
    }

    /// Reads the secret. `lookup` reads an environment variable (a parameter so tests need not
    /// touch the process environment).
    pub fn read(&self, lookup: impl Fn(&str) -> Option<OsString>) -> Result<Zeroizing<String>, SecretError> {
        let (secret, origin) = match self {
            SecretSource::Env(name) => {
                let origin = format!("environment variable {name}");
                let value = lookup(name).ok_or_else(|| SecretError::EnvUnset { name: name.clone() })?;
                let value = Zeroizing::new(
                    value.into_string().map_err(|_| SecretError::NotUtf8 { origin: origin.clone() })?,
                );
                (value, origin)
            }
            SecretSource::File(path) => (read_secret_file(path)?, format!("file {}", path.display())),
            SecretSource::Prompt => {
                // rpassword talks to /dev/tty, so standard input stays free for decode's input.
                let typed =
                    rpassword::prompt_password("clm-bridge: chat secret: ").map_err(SecretError::Prompt)?;
                (Zeroizing::new(typed), "the terminal".to_owned())
            }
        };
        if secret.is_empty() {
            return Err(SecretError::Empty { origin });
        }
        Ok(secret)
    }
}

/// Reads a secret (or passphrase) file: UTF-8, one trailing newline ignored. Emptiness is the
/// caller's to judge.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<String>, SecretError> {
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(|source| SecretError::File { path: path.to_owned(), source })?,
    );
    let text = std::str::from_utf8(strip_one_newline(&bytes))
        .map_err(|_| SecretError::NotUtf8 { origin: format!("file {}", path.display()) })?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Reads the secret that `--secret-env` / `--secret-file` name, from the real environment, or
/// asks on the terminal.
pub fn read_secret(env: Option<&str>, file: Option<&Path>) -> Result<Zeroizing<String>, SecretError> {
    let can_prompt = std::io::stdin().is_terminal() || std::io::stderr().is_terminal();
    SecretSource::choose(env, file, can_prompt)?.read(|name| std::env::var_os(name))
}

/// Reads a password or token the settings name (`*_env`, `*_file`), when a transport starts.
pub fn read_secret_ref(secret: &SecretRef) -> Result<Zeroizing<String>, SecretError> {
    let (value, origin) = match secret {
        SecretRef::Env(name) => {
            let value =
                std::env::var(name).map_err(|_| SecretError::SettingsEnvUnset { name: name.clone() })?;
            (Zeroizing::new(value), format!("environment variable {name}"))
        }
        SecretRef::File(path) => (read_secret_file(path)?, format!("file {}", path.display())),
    };
    if value.is_empty() {
        return Err(SecretError::Empty { origin });
    }
    Ok(value)
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

    fn env_args(name: &str, can_prompt: bool) -> Result<SecretSource, SecretError> {
        SecretSource::choose(Some(name), None, can_prompt)
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
        assert_eq!(env_args("CLM_SECRET", false).unwrap(), SecretSource::Env("CLM_SECRET".into()));
        let path = PathBuf::from("/some/file");
        assert_eq!(SecretSource::choose(None, Some(&path), true).unwrap(), SecretSource::File(path));
    }

    #[test]
    fn without_flags_prompts_only_on_a_terminal() {
        assert_eq!(SecretSource::choose(None, None, true).unwrap(), SecretSource::Prompt);
        assert!(matches!(SecretSource::choose(None, None, false), Err(SecretError::NoSource)));
    }

    #[test]
    fn both_flags_are_refused() {
        let both = SecretSource::choose(Some("A"), Some(Path::new("/f")), true);
        assert!(matches!(both, Err(SecretError::BothSources)));
    }

    #[test]
    fn a_secret_given_as_variable_name_is_refused_without_echo() {
        let error = env_args("hunter 2!", false).unwrap_err();
        assert!(matches!(error, SecretError::NotAVariableName));
        assert!(!error.to_string().contains("hunter"), "{error}");
        for bad in ["", "1ABC", "A-B", "A=B"] {
            assert!(env_args(bad, false).is_err(), "{bad:?}");
        }
        assert!(env_args("_clm_secret_2", false).is_ok());
    }

    #[test]
    fn env_secret_is_read_verbatim() {
        let lookup = |name: &str| (name == "S").then(|| OsString::from(" pass word\n"));
        assert_eq!(SecretSource::Env("S".into()).read(lookup).unwrap().as_str(), " pass word\n");
    }

    #[test]
    fn unset_env_names_the_variable() {
        let error = SecretSource::Env("CLM_SECRET".into()).read(no_env).unwrap_err();
        assert!(matches!(&error, SecretError::EnvUnset { name } if name == "CLM_SECRET"));
        assert_eq!(error.to_string(), "environment variable CLM_SECRET (--secret-env) is not set");
    }

    #[test]
    fn empty_env_is_refused() {
        let error = SecretSource::Env("S".into()).read(|_| Some(OsString::new())).unwrap_err();
        assert!(matches!(error, SecretError::Empty { .. }));
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
        assert!(matches!(missing, Err(SecretError::File { .. })));
        let empty = ScratchFile::new("empty", b"\n").source().read(no_env);
        assert!(matches!(empty, Err(SecretError::Empty { .. })));
        let binary = ScratchFile::new("binary", b"\xff\xfe").source().read(no_env);
        assert!(matches!(binary, Err(SecretError::NotUtf8 { .. })));
    }
}
