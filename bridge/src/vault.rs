//! The vault: one key, derived from the user's passphrase, that seals chat secrets and message
//! text at rest.
//!
//! - key = Argon2id(passphrase, random 16-byte salt, m = 64 MiB, t = 3, p = 4), 32 bytes. The
//!   parameters and the salt live in a [`VaultHeader`] (stored in the database), so they can be
//!   raised later without breaking existing vaults.
//! - sealed blob = random 24-byte nonce || XChaCha20-Poly1305(key, nonce, plaintext, AAD =
//!   context). The context names what the blob is and where it belongs (`chat-secret:7`,
//!   `message-text:<digest hex>`), so a blob moved to another row or field does not open.
//! - the header carries a check value, a sealed fixed label: a wrong passphrase is reported as
//!   [`VaultError::WrongPassphrase`] right after the KDF, before any data is read or written.
//! - index key = HMAC-SHA256(key, "clm-bridge vault index key v1"): keys the lookup columns of
//!   the store (digests, names, routes), so equal values can be found without being readable
//!   ([`Vault::keyed`]): a thief cannot tell which public pointer, chat name or address a row
//!   stands for.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use clm_core::HmacKey;
use zeroize::Zeroizing;

/// Name of the only key derivation function so far, as recorded in [`VaultHeader::kdf`].
pub const KDF_ARGON2ID: &str = "argon2id-v19";
/// Length of the random salt of a new vault.
pub const SALT_LEN: usize = 16;
/// Length of the vault key.
pub const KEY_LEN: usize = 32;
/// Length of the random nonce in front of every sealed blob.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag at the end of every sealed blob.
pub const TAG_LEN: usize = 16;

/// The plaintext of the check value, and its context.
const CHECK_LABEL: &[u8] = b"clm-bridge vault check v1";
const CHECK_CONTEXT: &str = "vault-check";
/// The label the index key is derived with.
const INDEX_KEY_LABEL: &[u8] = b"clm-bridge vault index key v1";

/// Upper bounds for parameters read from a header: a tampered header must not make opening
/// the vault allocate terabytes or run for days. Sixteen times the default memory.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 64;
const MAX_P: u32 = 64;

/// Why a vault could not be created or opened, or a blob not sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The passphrase does not open this vault. Nothing was read or changed.
    #[error("wrong passphrase: it does not open this vault")]
    WrongPassphrase,
    /// A new vault needs a non-empty passphrase.
    #[error("the vault passphrase is empty")]
    EmptyPassphrase,
    /// The stored header names an unknown KDF or has out-of-range parameters.
    #[error("vault header unusable: {0}")]
    BadHeader(String),
    /// The operating system's random source failed.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// A sealed blob did not authenticate: tampered with, moved to another context, or sealed
    /// by another vault.
    #[error("sealed data for {context} does not authenticate (tampered, misplaced, or from another vault)")]
    Tampered {
        /// The context the blob was opened under.
        context: String,
    },
    /// Encryption refused the plaintext (only possible for absurd sizes).
    #[error("sealing {context} failed")]
    Seal {
        /// The context of the blob being sealed.
        context: String,
    },
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub m_kib: u32,
    /// Passes over the memory.
    pub t: u32,
    /// Lanes (parallelism).
    pub p: u32,
}

impl Default for KdfParams {
    /// The parameters for real vaults: 64 MiB, 3 passes, 4 lanes (RFC 9106's second
    /// recommended option).
    fn default() -> KdfParams {
        KdfParams { m_kib: 64 * 1024, t: 3, p: 4 }
    }
}

impl KdfParams {
    fn to_argon2(self) -> Result<Params, VaultError> {
        if self.m_kib > MAX_M_KIB || self.t > MAX_T || self.p > MAX_P {
            return Err(VaultError::BadHeader(format!(
                "Argon2id parameters m={} KiB, t={}, p={} exceed the limits m<={MAX_M_KIB}, t<={MAX_T}, p<={MAX_P}",
                self.m_kib, self.t, self.p
            )));
        }
        Params::new(self.m_kib, self.t, self.p, Some(KEY_LEN)).map_err(|error| {
            VaultError::BadHeader(format!(
                "Argon2id parameters m={} KiB, t={}, p={}: {error}",
                self.m_kib, self.t, self.p
            ))
        })
    }
}

/// What is stored about a vault: how to derive its key, and a value to check the key against.
/// Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultHeader {
    /// The key derivation function, [`KDF_ARGON2ID`].
    pub kdf: String,
    /// Its cost parameters.
    pub params: KdfParams,
    /// Its salt.
    pub salt: Vec<u8>,
    /// The fixed label sealed under the key.
    pub check: Vec<u8>,
}

/// An open vault: the key, in memory only while the vault lives (zeroed on drop by the cipher).
/// A clone is a second copy of the key, zeroed on its own drop.
#[derive(Clone)]
pub struct Vault {
    cipher: XChaCha20Poly1305,
    index: HmacKey,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Vault { key: <hidden> }")
    }
}

impl Vault {
    /// Creates a new vault: a random salt from `fill_random` (normally [`getrandom::fill`]), the
    /// key from `passphrase`, and the header to store.
    pub fn create(
        passphrase: &[u8],
        params: KdfParams,
        mut fill_random: impl FnMut(&mut [u8]) -> Result<(), getrandom::Error>,
    ) -> Result<(Vault, VaultHeader), VaultError> {
        if passphrase.is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let mut salt = vec![0u8; SALT_LEN];
        fill_random(&mut salt).map_err(|error| VaultError::Random(error.to_string()))?;
        let vault = Vault::derive(passphrase, params, &salt)?;
        let check = vault.seal(CHECK_CONTEXT, CHECK_LABEL)?;
        let header = VaultHeader { kdf: KDF_ARGON2ID.to_owned(), params, salt, check };
        Ok((vault, header))
    }

    /// Opens the vault `header` describes, or fails with [`VaultError::WrongPassphrase`].
    pub fn open(passphrase: &[u8], header: &VaultHeader) -> Result<Vault, VaultError> {
        if header.kdf != KDF_ARGON2ID {
            return Err(VaultError::BadHeader(format!("unknown key derivation function {:?}", header.kdf)));
        }
        let vault = Vault::derive(passphrase, header.params, &header.salt)?;
        match vault.open_sealed(CHECK_CONTEXT, &header.check) {
            Ok(label) if label.as_slice() == CHECK_LABEL => Ok(vault),
            _ => Err(VaultError::WrongPassphrase),
        }
    }

    fn derive(passphrase: &[u8], params: KdfParams, salt: &[u8]) -> Result<Vault, VaultError> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        argon2.hash_password_into(passphrase, salt, key.as_mut_slice()).map_err(|error| {
            VaultError::BadHeader(format!("Argon2id refused the salt or passphrase: {error}"))
        })?;
        let cipher = XChaCha20Poly1305::new(key.as_slice().into());
        let index_key = Zeroizing::new(HmacKey::new(key.as_slice()).mac(&[INDEX_KEY_LABEL]));
        let index = HmacKey::new(index_key.as_slice());
        Ok(Vault { cipher, index })
    }

    /// Seals `plaintext` for `context`: a random nonce, then ciphertext and tag. Two seals of
    /// the same plaintext differ.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|error| VaultError::Random(error.to_string()))?;
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .map_err(|_| VaultError::Seal { context: context.to_owned() })?;
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(blob)
    }

    /// A keyed hash of `parts` for lookups by `label` (each part length-prefixed, so parts
    /// cannot run into each other): equal inputs give equal keys under this vault, and nothing
    /// about the input can be learnt without the vault key.
    pub fn keyed(&self, label: &str, parts: &[&[u8]]) -> [u8; 32] {
        let lengths: Vec<[u8; 8]> = parts.iter().map(|part| (part.len() as u64).to_be_bytes()).collect();
        let mut pieces: Vec<&[u8]> = Vec::with_capacity(2 + 2 * parts.len());
        pieces.push(label.as_bytes());
        pieces.push(&[0]);
        for (part, length) in parts.iter().zip(&lengths) {
            pieces.push(length);
            pieces.push(part);
        }
        self.index.mac(&pieces)
    }

    /// Opens a blob [`Vault::seal`] made for the same `context`.
    pub fn open_sealed(&self, context: &str, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let tampered = || VaultError::Tampered { context: context.to_owned() };
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(tampered());
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| tampered())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap enough for unit tests; the header records them, so open uses them too.
    const CHEAP: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    fn new_vault(passphrase: &str) -> (Vault, VaultHeader) {
        Vault::create(passphrase.as_bytes(), CHEAP, getrandom::fill).unwrap()
    }

    #[test]
    fn default_parameters_are_the_real_ones() {
        assert_eq!(KdfParams::default(), KdfParams { m_kib: 65536, t: 3, p: 4 });
    }

    #[test]
    fn header_records_kdf_parameters_and_salt() {
        let (_, header) = Vault::create(b"pass", CHEAP, |buf: &mut [u8]| {
            buf.fill(7);
            Ok(())
        })
        .unwrap();
        assert_eq!(header.kdf, KDF_ARGON2ID);
        assert_eq!(header.params, CHEAP);
        assert_eq!(header.salt, vec![7u8; SALT_LEN]);
    }

    #[test]
    fn sealed_text_round_trips_through_a_reopened_vault() {
        let (vault, header) = new_vault("correct horse");
        let blob = vault.seal("message-text:ab", b"meet at noon").unwrap();
        let reopened = Vault::open(b"correct horse", &header).unwrap();
        assert_eq!(reopened.open_sealed("message-text:ab", &blob).unwrap().as_slice(), b"meet at noon");
    }

    #[test]
    fn wrong_passphrase_is_refused() {
        let (_, header) = new_vault("correct horse");
        assert!(matches!(Vault::open(b"correct hose", &header), Err(VaultError::WrongPassphrase)));
        assert!(matches!(Vault::open(b"", &header), Err(VaultError::WrongPassphrase)));
    }

    #[test]
    fn empty_passphrase_cannot_create_a_vault() {
        assert!(matches!(Vault::create(b"", CHEAP, getrandom::fill), Err(VaultError::EmptyPassphrase)));
    }

    #[test]
    fn a_blob_does_not_open_under_another_context() {
        let (vault, _) = new_vault("p");
        let blob = vault.seal("chat-secret:1", b"s3cret").unwrap();
        assert!(matches!(vault.open_sealed("chat-secret:2", &blob), Err(VaultError::Tampered { .. })));
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let (vault, _) = new_vault("p");
        let blob = vault.seal("c", b"hello").unwrap();
        for index in 0..blob.len() {
            let mut tampered = blob.clone();
            tampered[index] ^= 0x01;
            assert!(vault.open_sealed("c", &tampered).is_err(), "flip at byte {index} went unnoticed");
        }
        assert!(vault.open_sealed("c", &blob[..blob.len() - 1]).is_err());
        assert!(vault.open_sealed("c", &[]).is_err());
    }

    #[test]
    fn another_vault_cannot_open_the_blob() {
        let (first, _) = new_vault("same passphrase");
        let (second, _) = new_vault("same passphrase");
        let blob = first.seal("c", b"hello").unwrap();
        assert!(second.open_sealed("c", &blob).is_err(), "different salts give different keys");
    }

    #[test]
    fn two_seals_of_the_same_text_differ() {
        let (vault, _) = new_vault("p");
        let one = vault.seal("c", b"same").unwrap();
        let two = vault.seal("c", b"same").unwrap();
        assert_ne!(one, two);
        assert_eq!(one.len(), NONCE_LEN + b"same".len() + TAG_LEN);
    }

    #[test]
    fn hostile_header_parameters_are_refused_before_deriving() {
        let (_, mut header) = new_vault("p");
        header.params.m_kib = u32::MAX;
        assert!(matches!(Vault::open(b"p", &header), Err(VaultError::BadHeader(_))));

        let (_, mut header) = new_vault("p");
        header.kdf = "scrypt".to_owned();
        assert!(matches!(Vault::open(b"p", &header), Err(VaultError::BadHeader(_))));

        let (_, mut header) = new_vault("p");
        header.salt.clear();
        assert!(matches!(Vault::open(b"p", &header), Err(VaultError::BadHeader(_))));
    }

    #[test]
    fn keyed_hashes_are_equal_for_equal_input_only_and_differ_between_vaults() {
        let (vault, header) = new_vault("p");
        let key = vault.keyed("chat-name", &[b"Family"]);
        assert_eq!(key, Vault::open(b"p", &header).unwrap().keyed("chat-name", &[b"Family"]));
        assert_ne!(key, vault.keyed("chat-name", &[b"Familz"]));
        assert_ne!(key, vault.keyed("route", &[b"Family"]), "labels separate uses");
        assert_ne!(
            vault.keyed("r", &[b"ab", b"c"]),
            vault.keyed("r", &[b"a", b"bc"]),
            "parts cannot run together"
        );
        let (other, _) = new_vault("p");
        assert_ne!(key, other.keyed("chat-name", &[b"Family"]), "another vault, another key");
    }

    #[test]
    fn debug_output_hides_the_key() {
        let (vault, _) = new_vault("p");
        assert_eq!(format!("{vault:?}"), "Vault { key: <hidden> }");
    }
}
