//! How hard a passphrase is to guess, and the bar a vault passphrase must clear.
//!
//! A stolen data directory can be attacked offline: the attacker runs Argon2id on guesses for
//! as long as they like. The estimate is zxcvbn's (Dropbox's estimator: dictionaries, common
//! passwords, names, keyboard walks, dates, repeats, l33t), as bits: log2 of the guesses it
//! expects an attacker to need. zxcvbn counts guesses in a `u64`, so it never says more than
//! 64 bits; [`MIN_BITS`] is a little under that ceiling so that "as strong as zxcvbn can tell"
//! passes and anything it can see a pattern in does not.
//!
//! The same check serves typed chat secrets (native chats): [`check`] takes what is checked
//! and the flag that overrides it, so its error speaks for either.

use std::fmt;

/// The least estimated strength accepted without an override, in bits.
pub const MIN_BITS: f64 = 60.0;

/// What would pass, said in every refusal.
pub const ADVICE: &str = "five or more random words (e.g. from a diceware list), or 12 or more random \
                          letters, digits and symbols; a password manager can make one";

/// The estimated strength of `text`, in bits (0 for an empty text; at most 64).
pub fn estimate_bits(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    zxcvbn::zxcvbn(text, &[]).guesses_log10() * std::f64::consts::LOG2_10
}

/// A passphrase or secret refused as too easy to guess. Its message names the estimate, what
/// would be accepted, and the override; never the text itself.
#[derive(Debug, Clone, PartialEq)]
pub struct TooWeak {
    /// What was checked, e.g. "the vault passphrase".
    pub what: &'static str,
    /// The estimate, in bits.
    pub bits: f64,
    /// The flag that accepts it anyway, e.g. "--weak-passphrase".
    pub override_flag: &'static str,
}

impl fmt::Display for TooWeak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is too easy to guess (about {:.0} bits; at least {MIN_BITS:.0} are needed): use {ADVICE}; \
             or pass {} to accept it anyway",
            self.what, self.bits, self.override_flag
        )
    }
}

impl std::error::Error for TooWeak {}

/// Checks `text` against [`MIN_BITS`]. `what` names it in the error, `override_flag` is the
/// flag that would accept it.
pub fn check(text: &str, what: &'static str, override_flag: &'static str) -> Result<f64, TooWeak> {
    let bits = estimate_bits(text);
    if bits >= MIN_BITS { Ok(bits) } else { Err(TooWeak { what, bits, override_flag }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_patterned_texts_are_weak() {
        for weak in [
            "",
            "a",
            "password",
            "P@ssw0rd!",
            "correct horse battery staple",
            "qwertyuiopasdfghjkl",
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            "1234567890123456",
            "e2e vault passphrase",
        ] {
            let bits = estimate_bits(weak);
            assert!(bits < MIN_BITS, "{weak:?}: {bits:.1} bits");
            assert!(check(weak, "the vault passphrase", "--weak-passphrase").is_err(), "{weak:?}");
        }
    }

    #[test]
    fn random_words_and_characters_are_strong() {
        for strong in [
            "ketchup glacier moped ratify ozone tulip",
            "7hQ$v9!rTz#2mWx4",
            "b1c6e08ad52e4c2c9f8e0d1f7a3b5c94",
        ] {
            let bits = check(strong, "the vault passphrase", "--weak-passphrase")
                .unwrap_or_else(|e| panic!("{strong:?}: {e}"));
            assert!((MIN_BITS..=64.5).contains(&bits), "{strong:?}: {bits:.1}");
        }
    }

    #[test]
    fn the_estimate_grows_with_length_and_never_passes_the_ceiling() {
        let random = "Xq7!mZ2#vL9@tR4$wN6%bK8&";
        let bits: Vec<f64> = (1..=random.len()).map(|n| estimate_bits(&random[..n])).collect();
        assert!(bits.windows(2).all(|pair| pair[0] <= pair[1]), "{bits:?}");
        assert!(bits.iter().all(|&b| b <= 64.5), "{bits:?}");
    }

    #[test]
    fn the_refusal_says_what_would_pass_and_never_echoes_the_text() {
        let error = check("hunter2", "the vault passphrase", "--weak-passphrase").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("the vault passphrase is too easy to guess (about "), "{message}");
        assert!(message.contains("random words") && message.contains("--weak-passphrase"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}
