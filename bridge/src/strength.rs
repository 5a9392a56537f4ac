//! How hard a passphrase is to guess, and the bar a vault passphrase must clear.
//!
//! A stolen data directory can be attacked offline: the attacker runs Argon2id on guesses for
//! as long as they like. The estimate, in bits (log2 of the guesses an attacker needs), is
//! built from zxcvbn's analysis (Dropbox's estimator: its dictionaries of common passwords,
//! words and names with their ranks, keyboard walks, repeats, sequences, dates, l33t and
//! capitals), word by word:
//!
//! - the text is cut into words at whitespace and at `-` `_` `.` `,` (the separators are worth
//!   nothing: an attacker tries the usual ones);
//! - in each word, each pattern zxcvbn finds is worth log2 of its guesses, and each character
//!   no pattern explains is worth log2(26), about 4.7 bits, whatever its class: capitals,
//!   digits and symbols mixed into a word are what mangled words (`Tr0ub4dor&3`) look like,
//!   so only length is trusted;
//! - it all adds up; and the words are also judged joined up (`a b c d e f`), the lower of the
//!   two estimates counting.
//!
//! zxcvbn's own total is not used: it adds 10^4 guesses per extra match (so any four common
//! words would pass), counts 10 guesses per unexplained character (so 16 random letters,
//! digits and symbols would not), and tops out at 64 bits.
//!
//! The same check serves typed chat secrets (native chats): [`check`] takes what is checked
//! and the flag that overrides it, so its error speaks for either.

use std::fmt;

use zxcvbn::matching::patterns::MatchPattern;

/// The least estimated strength accepted without an override, in bits.
pub const MIN_BITS: f64 = 64.0;

/// What would pass, said in every refusal.
pub const ADVICE: &str = "six or more random words (e.g. from a diceware list), or 14 or more random \
                          letters, digits and symbols; a password manager can make one";

/// What a character no pattern explains is worth: one lower case letter drawn at random.
const CHARACTER_BITS: f64 = 4.700_439_718_141_092;

/// Characters that separate the words of a passphrase.
const SEPARATORS: &[char] = &['-', '_', '.', ','];

/// The estimated strength of `text`, in bits (0 for an empty text).
pub fn estimate_bits(text: &str) -> f64 {
    let is_separator = |c: char| c.is_whitespace() || SEPARATORS.contains(&c);
    let by_word: f64 = text.split(is_separator).filter(|word| !word.is_empty()).map(word_bits).sum();
    // Words that only make sense together ("a b c d ...") are judged joined up too.
    let joined: String = text.chars().filter(|&c| !is_separator(c)).collect();
    if joined.is_empty() { 0.0 } else { by_word.min(word_bits(&joined)) }
}

/// One word's bits: its zxcvbn matches, unexplained runs valued by their character classes.
fn word_bits(word: &str) -> f64 {
    zxcvbn::zxcvbn(word, &[])
        .sequence()
        .iter()
        .map(|found| match (&found.pattern, found.guesses) {
            (MatchPattern::BruteForce, _) | (_, None) => unexplained_bits(&found.token),
            (_, Some(guesses)) => (guesses.max(1) as f64).log2(),
        })
        .sum()
}

/// Bits of a run of characters no pattern explains: [`CHARACTER_BITS`] each.
fn unexplained_bits(run: &str) -> f64 {
    run.chars().count() as f64 * CHARACTER_BITS
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
            "Tr0ub4dor&3",
            "7hQ$v9!rTz#2",
            "ketchup glacier moped ratify ozone",
            "the quick brown fox jumps over",
            "a b c d e f g h i j k l m n o p",
            "1 2 3 4 5 6 7 8 9 10 11 12 13 14",
            "ilovemydog2024ilovemydog2024",
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
            "Unworn-Prism-Ladle-Geology-Crouton-Sulfur",
            "7hQ$v9!rTz#2mWx4",
            "b1c6e08ad52e4c2c9f8e0d1f7a3b5c94",
        ] {
            let bits = check(strong, "the vault passphrase", "--weak-passphrase")
                .unwrap_or_else(|e| panic!("{strong:?}: {e}"));
            assert!(bits >= MIN_BITS, "{strong:?}: {bits:.1}");
        }
    }

    #[test]
    fn the_estimate_grows_with_the_length_of_random_text() {
        let random = "Xq7!mZ2#vL9@tR4$wN6%bK8&";
        let bits: Vec<f64> = (1..=random.len()).map(|n| estimate_bits(&random[..n])).collect();
        assert!(bits.windows(2).all(|pair| pair[0] <= pair[1]), "{bits:?}");
        assert!((CHARACTER_BITS - 26f64.log2()).abs() < 1e-12);
        // The advice holds whatever the characters: lower case letters alone will do.
        assert!(estimate_bits("qzvnkwtrbmxjhd") >= MIN_BITS, "14 random letters");
        assert!(estimate_bits("qzvnkwtrbmxj") < MIN_BITS, "12 random letters");
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
