//! Reaching an IMAP server: TCP, TLS or STARTTLS (or plain on loopback), the greeting, the
//! login, each step under the timeout. Shared by the receive loop and the self-check.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::tls;
use crate::settings::email::{Endpoint, Security};

/// A connection, plain or TLS.
pub(super) trait Connection: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Connection for T {}
/// The stream a session runs over.
pub(super) type Stream = Box<dyn Connection>;

/// Why a server could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// Not now: unreachable, dropped, too slow, TLS failed. Worth retrying.
    Unavailable(String),
    /// For good: the login or a folder was refused, with the server's words.
    Refused(String),
}

impl Failure {
    pub fn text(&self) -> &str {
        match self {
            Failure::Unavailable(text) | Failure::Refused(text) => text,
        }
    }
}

/// Runs `step` under `limit`: an IMAP error or no answer is a failure of the connection.
pub(super) async fn timed<T>(
    limit: Duration,
    what: &str,
    step: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Failure::Unavailable(format!("IMAP {what}: {error}"))),
        Err(_) => Err(Failure::Unavailable(format!("IMAP {what}: no answer within {limit:?}"))),
    }
}

/// Connects to `endpoint` and logs in as `login`.
pub(super) async fn login(
    endpoint: &Endpoint,
    login: &str,
    password: &str,
    limit: Duration,
) -> Result<Session<Stream>, Failure> {
    let client = connect(endpoint, limit).await?;
    let address = format!("{}:{}", endpoint.host, endpoint.port);
    match tokio::time::timeout(limit, client.login(login, password)).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason), _))) => {
            Err(Failure::Refused(format!("IMAP server {address} refused the login as `{login}`: {reason}")))
        }
        Ok(Err((error, _))) => Err(Failure::Unavailable(format!("IMAP login at {address}: {error}"))),
        Err(_) => Err(Failure::Unavailable(format!("IMAP login at {address}: no answer within {limit:?}"))),
    }
}

/// Connects to `endpoint` and reads the greeting: a client ready to log in.
pub(super) async fn connect(endpoint: &Endpoint, limit: Duration) -> Result<Client<Stream>, Failure> {
    let address = format!("{}:{}", endpoint.host, endpoint.port);
    let tcp = match tokio::time::timeout(limit, TcpStream::connect((endpoint.host.as_str(), endpoint.port)))
        .await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => return Err(Failure::Unavailable(format!("IMAP server {address}: {error}"))),
        Err(_) => {
            return Err(Failure::Unavailable(format!(
                "IMAP server {address}: no connection within {limit:?}"
            )));
        }
    };
    let _ = tcp.set_nodelay(true);
    let stream: Stream = match endpoint.security {
        Security::None => Box::new(tcp),
        Security::Tls => Box::new(handshake(&endpoint.host, tcp, limit).await?),
        Security::StartTls => {
            let mut client = Client::new(tcp);
            greeting(&mut client, limit).await?;
            timed(limit, "STARTTLS", client.run_command_and_check_ok("STARTTLS", None)).await?;
            Box::new(handshake(&endpoint.host, client.into_inner(), limit).await?)
        }
    };
    let mut client = Client::new(stream);
    if endpoint.security != Security::StartTls {
        greeting(&mut client, limit).await?;
    }
    Ok(client)
}

async fn handshake(
    host: &str,
    tcp: TcpStream,
    limit: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
    match tokio::time::timeout(limit, tls::connect(host, tcp)).await {
        Ok(result) => result.map_err(Failure::Unavailable),
        Err(_) => Err(Failure::Unavailable(format!("TLS handshake with {host}: no answer within {limit:?}"))),
    }
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
    client: &mut Client<T>,
    limit: Duration,
) -> Result<(), Failure> {
    match tokio::time::timeout(limit, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => {
            Err(Failure::Unavailable("the IMAP server closed the connection before its greeting".into()))
        }
        Ok(Err(error)) => Err(Failure::Unavailable(format!("IMAP greeting: {error}"))),
        Err(_) => Err(Failure::Unavailable(format!("IMAP greeting: none within {limit:?}"))),
    }
}

/// A UID set for IMAP commands from sorted UIDs: runs become ranges (`1:5,7,9:12`).
pub(super) fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.saturating_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Text from a server or a mail, made safe to log: control characters escaped, cut at `max`
/// characters (a hostile subject can neither forge log lines nor flood them).
pub(super) fn loggable(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(max).flat_map(char::escape_debug).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), format!("{}:{}", u32::MAX - 1, u32::MAX));
    }

    #[test]
    fn logged_text_is_escaped_and_cut() {
        assert_eq!(loggable(b"Hi\r\nINFO forged line\x1b[31m", 100), "Hi\\r\\nINFO forged line\\u{1b}[31m");
        assert_eq!(loggable("é".repeat(10).as_bytes(), 3), "ééé…");
        assert_eq!(loggable(b"\xff", 10), "\u{fffd}");
    }
}
