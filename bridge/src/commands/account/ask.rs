//! Where `account add` gets what it needs: a flag, else a question on the terminal. Secrets
//! come from an environment variable a flag names, standard input, or a hidden prompt
//! (rpassword, on the terminal), never from argv. Without a terminal, every missing value is
//! a usage error that names the flags to give.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use zeroize::Zeroizing;

use crate::error::Error;
use crate::secret::SecretError;

/// The flags that give a secret: `--{key}-env VAR` or `--{key}-stdin`.
#[derive(Debug, Clone, Copy)]
pub(super) struct SecretFlags<'a> {
    /// `password` or `token`.
    pub key: &'static str,
    /// The variable `--{key}-env` names.
    pub env: Option<&'a str>,
    /// `--{key}-stdin`.
    pub stdin: bool,
}

impl SecretFlags<'_> {
    fn given(&self) -> bool {
        self.env.is_some() || self.stdin
    }

    /// `--password-env VAR or --password-stdin`.
    fn named(&self) -> String {
        format!("--{0}-env VAR or --{0}-stdin", self.key)
    }
}

/// Asks on the terminal, when there is one and standard input is not the secret's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asker {
    can_prompt: bool,
}

impl Asker {
    /// An asker that prompts when standard input and standard error are a terminal (and
    /// standard input does not carry the secret).
    pub fn new(secret: SecretFlags<'_>) -> Asker {
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        Asker { can_prompt: terminal && !secret.stdin }
    }

    /// Whether questions can be asked.
    #[cfg_attr(not(feature = "telegram"), allow(dead_code))]
    pub fn can_prompt(&self) -> bool {
        self.can_prompt
    }

    /// Fails at once, naming every flag missing, when there is no terminal to ask on:
    /// `needed` pairs whether a value was given with the flag that gives it.
    pub fn require(&self, needed: &[(bool, &str)], secret: Option<SecretFlags<'_>>) -> Result<(), Error> {
        if self.can_prompt {
            return Ok(());
        }
        let mut missing: Vec<String> =
            needed.iter().filter(|(given, _)| !given).map(|(_, flag)| (*flag).to_owned()).collect();
        if let Some(secret) = secret.filter(|secret| !secret.given()) {
            missing.push(secret.named());
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::Usage(format!("no terminal to ask on: give {}", missing.join(", "))))
    }

    /// The flag's value, else the answer to `question`.
    #[cfg_attr(not(any(feature = "email", feature = "matrix")), allow(dead_code))]
    pub fn value(&self, given: Option<String>, question: &str, flag: &str) -> Result<String, Error> {
        if let Some(value) = given {
            return Ok(value);
        }
        if !self.can_prompt {
            return Err(Error::Usage(format!("no terminal to ask on: give {flag}")));
        }
        let answer = self.line(question)?;
        if answer.is_empty() {
            return Err(Error::Usage(format!("no {question} given: nothing was added")));
        }
        Ok(answer)
    }

    /// One line typed on the terminal after `question` (trimmed; empty when nothing is typed).
    pub fn line(&self, question: &str) -> Result<String, Error> {
        let mut stderr = std::io::stderr();
        write!(stderr, "clm-bridge: {question}: ").and_then(|()| stderr.flush()).map_err(Error::Output)?;
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|error| Error::Usage(format!("cannot read the answer: {error}")))?;
        Ok(answer.trim().to_owned())
    }

    /// The secret: from the variable `--{key}-env` names, standard input, or a hidden prompt.
    pub fn secret(&self, flags: SecretFlags<'_>, what: &str) -> Result<Zeroizing<String>, Error> {
        let (secret, origin) = match (flags.env, flags.stdin) {
            (Some(name), _) => (from_env(name, flags.key)?, format!("environment variable {name}")),
            (None, true) => (from_stdin()?, "standard input".to_owned()),
            (None, false) if self.can_prompt => {
                let typed = rpassword::prompt_password(format!("clm-bridge: {what}: "))
                    .map_err(SecretError::Prompt)?;
                (Zeroizing::new(typed), "the terminal".to_owned())
            }
            (None, false) => {
                return Err(Error::Usage(format!("no terminal to ask on: give {}", flags.named())));
            }
        };
        if secret.is_empty() {
            return Err(SecretError::Empty { origin }.into());
        }
        Ok(secret)
    }
}

/// The secret in the environment variable `name` (`--{key}-env`).
fn from_env(name: &str, key: &str) -> Result<Zeroizing<String>, Error> {
    let variable = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !variable {
        return Err(Error::Usage(format!(
            "--{key}-env takes the NAME of an environment variable (letters, digits, _), not the {key} itself"
        )));
    }
    let value = std::env::var_os(name)
        .ok_or_else(|| Error::Usage(format!("environment variable {name} (--{key}-env) is not set")))?;
    let value = value
        .into_string()
        .map_err(|_| SecretError::NotUtf8 { origin: format!("environment variable {name}") })?;
    Ok(Zeroizing::new(value))
}

/// The first line of standard input, its line ending removed.
fn from_stdin() -> Result<Zeroizing<String>, Error> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line).map_err(SecretError::Prompt)?;
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(line)
}
