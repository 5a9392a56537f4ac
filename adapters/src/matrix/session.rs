//! Building a logged-in client: the store (its passphrase random and kept in the vault), then
//! the session of the device (restored from the vault, else a login whose session is saved).

use std::path::Path;
use std::time::Duration;

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::cross_process_lock::CrossProcessLockConfig;
use matrix_sdk::ruma::{OwnedDeviceId, OwnedUserId};
use matrix_sdk::store::RoomLoadSettings;
use matrix_sdk::{Client, SessionMeta, SessionTokens};
use zeroize::Zeroizing;

use super::errors::{from_http, from_sdk};
use super::{MatrixAuth, MatrixTransport};
use crate::TransportError;

/// The secret key of the passphrase encrypting the stores.
const STORE_PASSPHRASE: &str = "store_passphrase";
/// Requests other than `/sync` give up after this long (a send then goes to the outbox).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries of a failed request (network errors, 5xx, rate limits waited out as told).
const REQUEST_RETRIES: usize = 4;

/// Which device of the account a client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The receive loop's device (`STATE/sync`).
    Sync,
    /// The device `send` uses in a process that does not receive (`STATE/send`).
    Send,
}

impl Role {
    fn dir(self) -> &'static str {
        match self {
            Role::Sync => "sync",
            Role::Send => "send",
        }
    }

    fn session_key(self) -> &'static str {
        match self {
            Role::Sync => "sync.session",
            Role::Send => "send.session",
        }
    }

    fn device_name(self) -> &'static str {
        match self {
            Role::Sync => "clm-bridge (receiving)",
            Role::Send => "clm-bridge (sending)",
        }
    }
}

/// A logged-in client of `role`'s device, its store opened.
pub(super) async fn client(transport: &MatrixTransport, role: Role) -> Result<Client, TransportError> {
    let settings = &transport.settings;
    let store_dir = transport.state_dir.join(role.dir());
    create_private_dir(&store_dir)?;
    let passphrase = store_passphrase(transport)?;
    let holder = format!("clm-bridge-{}-{}", role.dir(), std::process::id());
    let client = Client::builder()
        .homeserver_url(settings.homeserver.as_str())
        .respect_login_well_known(false)
        .sqlite_store(&store_dir, Some(passphrase.as_str()))
        .request_config(RequestConfig::new().timeout(REQUEST_TIMEOUT).retry_limit(REQUEST_RETRIES))
        .cross_process_store_config(CrossProcessLockConfig::multi_process(holder.clone()))
        .build()
        .await
        .map_err(|e| transport.unavailable(format!("cannot open the Matrix client or its store: {e}")))?;
    let saved = transport.secrets.load(role.session_key())?;
    let session = match saved.as_deref().map(|bytes| parse_session(bytes)) {
        Some(Some(session)) => session,
        Some(None) => {
            return Err(TransportError::SecretState("the saved Matrix session is unreadable".into()));
        }
        None => {
            let session = new_session(transport, &client, role).await?;
            transport.secrets.save(role.session_key(), &session_bytes(&session))?;
            session
        }
    };
    if session.meta.user_id.as_str() != settings.user_id {
        return Err(TransportError::Refused(
            transport.name.clone(),
            format!("the saved session is of {}, not of {}", session.meta.user_id, settings.user_id),
        ));
    }
    let fresh = saved.is_none();
    if fresh {
        // A login already set the session on this client.
    } else {
        client
            .matrix_auth()
            .restore_session(session, RoomLoadSettings::default())
            .await
            .map_err(|e| from_sdk(&transport.name, &e))?;
    }
    if role == Role::Send {
        // Two `send` processes may share this device's store: its crypto state is then guarded.
        client
            .encryption()
            .enable_cross_process_store_lock(holder)
            .await
            .map_err(|e| from_sdk(&transport.name, &e))?;
    }
    tracing::info!(transport = %transport.name, device = ?client.device_id(), role = ?role, restored = !fresh, "matrix: logged in");
    Ok(client)
}

/// The access token of `role`'s saved session, if it has one.
pub(super) fn saved_token(
    transport: &MatrixTransport,
    role: Role,
) -> Result<Option<Zeroizing<String>>, TransportError> {
    let Some(saved) = transport.secrets.load(role.session_key())? else {
        return Ok(None);
    };
    parse_session(&saved)
        .map(|session| Some(Zeroizing::new(session.tokens.access_token)))
        .ok_or_else(|| TransportError::SecretState("the saved Matrix session is unreadable".into()))
}

/// A new session for `role`: a login with the password, or the configured access token's
/// device (for the receive loop only).
async fn new_session(
    transport: &MatrixTransport,
    client: &Client,
    role: Role,
) -> Result<MatrixSession, TransportError> {
    let settings = &transport.settings;
    match &transport.auth {
        MatrixAuth::Password(password) => {
            client
                .matrix_auth()
                .login_username(&settings.user_id, password)
                .initial_device_display_name(role.device_name())
                .send()
                .await
                .map_err(|e| from_sdk(&transport.name, &e))?;
            client.matrix_auth().session().ok_or_else(|| transport.unavailable("logged in, but no session"))
        }
        MatrixAuth::AccessToken(token) => {
            if role == Role::Send {
                return Err(transport.unavailable(
                    "an account with an access token sends through its receive loop: \
                     `clm-bridge run` delivers this from the outbox",
                ));
            }
            let (user_id, device_id) = whoami(transport, token).await?;
            let session = MatrixSession {
                meta: SessionMeta { user_id, device_id },
                tokens: SessionTokens { access_token: token.to_string(), refresh_token: None },
            };
            client
                .matrix_auth()
                .restore_session(session.clone(), RoomLoadSettings::default())
                .await
                .map_err(|e| from_sdk(&transport.name, &e))?;
            Ok(session)
        }
    }
}

/// The user and device an access token belongs to.
async fn whoami(
    transport: &MatrixTransport,
    token: &Zeroizing<String>,
) -> Result<(OwnedUserId, OwnedDeviceId), TransportError> {
    // A client without a session cannot send an authenticated request: borrow a throwaway one
    // with a memory store and the token.
    let probe = Client::builder()
        .homeserver_url(transport.settings.homeserver.as_str())
        .respect_login_well_known(false)
        .request_config(RequestConfig::new().timeout(REQUEST_TIMEOUT).retry_limit(REQUEST_RETRIES))
        .build()
        .await
        .map_err(|e| transport.unavailable(format!("cannot build a Matrix client: {e}")))?;
    let placeholder = MatrixSession {
        meta: SessionMeta {
            user_id: transport
                .settings
                .user_id
                .as_str()
                .try_into()
                .map_err(|e| TransportError::Refused(transport.name.clone(), format!("user id: {e}")))?,
            device_id: "CLMPROBE".into(),
        },
        tokens: SessionTokens { access_token: token.to_string(), refresh_token: None },
    };
    probe
        .matrix_auth()
        .restore_session(placeholder, RoomLoadSettings::default())
        .await
        .map_err(|e| from_sdk(&transport.name, &e))?;
    let answer = probe.whoami().await.map_err(|e| from_http(&transport.name, &e))?;
    let device_id = answer.device_id.ok_or_else(|| {
        TransportError::Refused(transport.name.clone(), "the access token belongs to no device".into())
    })?;
    Ok((answer.user_id, device_id))
}

/// The stores' passphrase: random, made once per instance, kept in the vault.
fn store_passphrase(transport: &MatrixTransport) -> Result<Zeroizing<String>, TransportError> {
    if let Some(saved) = transport.secrets.load(STORE_PASSPHRASE)? {
        return String::from_utf8(saved.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| TransportError::SecretState("the Matrix store passphrase is unreadable".into()));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom_fill(&mut bytes[..])?;
    let passphrase = Zeroizing::new(hex(&bytes[..]));
    transport.secrets.save(STORE_PASSPHRASE, passphrase.as_bytes())?;
    // Read back: of two processes creating it at once, the last save is the one both use.
    let saved = transport
        .secrets
        .load(STORE_PASSPHRASE)?
        .ok_or_else(|| TransportError::SecretState("the Matrix store passphrase was not kept".into()))?;
    String::from_utf8(saved.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| TransportError::SecretState("the Matrix store passphrase is unreadable".into()))
}

/// Random bytes from the operating system.
fn getrandom_fill(out: &mut [u8]) -> Result<(), TransportError> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(out))
        .map_err(|e| TransportError::SecretState(format!("no randomness from /dev/urandom: {e}")))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// A session as kept in the vault: `v1`, user id, device id, access token, one per line.
fn session_bytes(session: &MatrixSession) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(
        format!("v1\n{}\n{}\n{}", session.meta.user_id, session.meta.device_id, session.tokens.access_token)
            .into_bytes(),
    )
}

fn parse_session(bytes: &[u8]) -> Option<MatrixSession> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split('\n');
    if lines.next()? != "v1" {
        return None;
    }
    let user_id: OwnedUserId = lines.next()?.try_into().ok()?;
    let device_id: OwnedDeviceId = lines.next()?.into();
    let access_token = lines.next()?.to_owned();
    if lines.next().is_some() || access_token.is_empty() {
        return None;
    }
    Some(MatrixSession {
        meta: SessionMeta { user_id, device_id },
        tokens: SessionTokens { access_token, refresh_token: None },
    })
}

/// Creates `dir` (and its parents) readable by the owner only.
fn create_private_dir(dir: &Path) -> Result<(), TransportError> {
    let io = |source| TransportError::Io { path: dir.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for path in [dir, dir.parent().unwrap_or(dir)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_round_trip() {
        let session = MatrixSession {
            meta: SessionMeta { user_id: "@bot:example.org".try_into().unwrap(), device_id: "DEVICE".into() },
            tokens: SessionTokens { access_token: "syt_secret".into(), refresh_token: None },
        };
        let parsed = parse_session(&session_bytes(&session)).unwrap();
        assert_eq!(parsed.meta, session.meta);
        assert_eq!(parsed.tokens.access_token, "syt_secret");
        assert!(parse_session(b"v2\n@a:b\nD\nT").is_none());
        assert!(parse_session(b"v1\nnot-a-user\nD\nT").is_none());
        assert!(parse_session(b"v1\n@a:b\nD\n").is_none());
    }
}
