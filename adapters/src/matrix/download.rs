//! Downloading a file that may hold a pointer, within bounds. The size an event declares
//! (`info.size`) is the sender's word: a file declared too large is skipped unread, and the
//! bytes that actually arrive are counted as they come, the download cut off once they pass
//! `max_file_bytes`. matrix-sdk's media API reads a whole body into memory first, so the
//! request is made here, with the client's HTTP client and access token.

use std::io::Read as _;
use std::time::Duration;

use matrix_sdk::Client;
use matrix_sdk::encryption::MediaEncryptionInfo;
use matrix_sdk::reqwest::{StatusCode, header};
use matrix_sdk::ruma::api::MatrixVersion;
use matrix_sdk::ruma::events::room::MediaSource;
use matrix_sdk::ruma::events::room::message::FileMessageEventContent;
use matrix_sdk::ruma::{MxcUri, RoomId};
use matrix_sdk_base::crypto::AttachmentDecryptor;
use zeroize::Zeroizing;

use super::MatrixTransport;
use crate::TransportError;
use crate::log_safe::Escaped;

/// How long one file may take to arrive, whatever its size.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Skip {
    /// Not text or JSON: no pointer in it.
    NotText,
    /// The event says it is larger than the limit.
    DeclaredTooLarge(u64),
    /// More bytes arrived than the limit allows (whatever it declared).
    TooLarge,
    /// The server would not give it, or it does not decrypt.
    Unreadable(String),
}

/// Whether a file's type or name says it may be a pointer: text or JSON.
pub(super) fn is_textual(content: &FileMessageEventContent) -> bool {
    let mimetype = content.info.as_deref().and_then(|info| info.mimetype.as_deref()).unwrap_or("");
    let name = content.filename.as_deref().unwrap_or(&content.body).to_ascii_lowercase();
    mimetype.starts_with("text/plain")
        || mimetype.starts_with("application/json")
        || name.ends_with(".json")
        || name.ends_with(".txt")
}

/// The content of a file of room `room_id` that may be a pointer, or `None` when it was skipped
/// (said in the log). Errors only when the homeserver is unreachable: the response is then read
/// again from the same token later.
pub(super) async fn download(
    transport: &MatrixTransport,
    client: &Client,
    room_id: &RoomId,
    content: &FileMessageEventContent,
) -> Result<Option<Vec<u8>>, TransportError> {
    let max = transport.settings.max_file_bytes;
    let name = content.filename.as_deref().unwrap_or(&content.body);
    let skipped = match check_declared(content, max) {
        Ok(()) => match fetch(transport, client, content, max).await? {
            Ok(bytes) => return Ok(Some(bytes)),
            Err(skip) => skip,
        },
        Err(skip) => skip,
    };
    match skipped {
        Skip::NotText => {
            tracing::debug!(transport = %transport.name, room = %room_id, file = %Escaped(name), "matrix: a file that is not text or JSON; skipped");
        }
        Skip::DeclaredTooLarge(size) => {
            tracing::warn!(transport = %transport.name, room = %room_id, file = %Escaped(name), declared = size, max_file_bytes = max, "matrix: a file declared larger than max_file_bytes; skipped unread");
        }
        Skip::TooLarge => {
            tracing::warn!(transport = %transport.name, room = %room_id, file = %Escaped(name), max_file_bytes = max, "matrix: a file larger than max_file_bytes (whatever it declared); download cut off and skipped");
        }
        Skip::Unreadable(why) => {
            tracing::warn!(transport = %transport.name, room = %room_id, file = %Escaped(name), why = %Escaped(&why), "matrix: a file cannot be downloaded; skipped");
        }
    }
    Ok(None)
}

/// What the event says: a text or JSON file, not declared larger than `max`.
pub(super) fn check_declared(content: &FileMessageEventContent, max: u64) -> Result<(), Skip> {
    if !is_textual(content) {
        return Err(Skip::NotText);
    }
    match content.info.as_deref().and_then(|info| info.size).map(u64::from) {
        Some(size) if size > max => Err(Skip::DeclaredTooLarge(size)),
        _ => Ok(()),
    }
}

/// Downloads (and decrypts) at most `max` bytes; the outer error is the homeserver being
/// unreachable, the inner one a file skipped.
async fn fetch(
    transport: &MatrixTransport,
    client: &Client,
    content: &FileMessageEventContent,
    max: u64,
) -> Result<Result<Vec<u8>, Skip>, TransportError> {
    let (uri, encryption) = match &content.source {
        MediaSource::Plain(uri) => (uri.as_ref(), None),
        MediaSource::Encrypted(file) => {
            (file.url.as_ref(), Some(MediaEncryptionInfo::from((**file).clone())))
        }
    };
    let url = match media_url(client, uri).await {
        Ok(url) => url,
        Err(skip) => return Ok(Err(skip)),
    };
    let token = Zeroizing::new(client.access_token().unwrap_or_default());
    let sent = client
        .http_client()
        .get(url)
        .header(header::AUTHORIZATION, format!("Bearer {}", token.as_str()))
        .timeout(DOWNLOAD_TIMEOUT)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) if error.is_connect() => {
            return Err(
                transport.unavailable(format!("cannot reach the homeserver: {}", error.without_url()))
            );
        }
        Err(error) => return Ok(Err(Skip::Unreadable(error.without_url().to_string()))),
    };
    match response.status() {
        status if status.is_success() => {}
        StatusCode::TOO_MANY_REQUESTS => {
            return Err(transport.unavailable("rate limited while downloading a file"));
        }
        status => return Ok(Err(Skip::Unreadable(format!("the homeserver answered {status}")))),
    }
    let bytes = match read_capped(response, max).await {
        Ok(bytes) => bytes,
        Err(skip) => return Ok(Err(skip)),
    };
    Ok(match encryption {
        None => Ok(bytes),
        Some(info) => decrypt(bytes, info),
    })
}

/// The download URL of `uri`: the authenticated endpoint where the server has it (Matrix 1.11).
async fn media_url(client: &Client, uri: &MxcUri) -> Result<url::Url, Skip> {
    let (server, media_id) = uri.parts().map_err(|e| Skip::Unreadable(format!("not an mxc URI: {e}")))?;
    let authenticated = client
        .supported_versions()
        .await
        .is_ok_and(|supported| supported.versions.contains(&MatrixVersion::V1_11));
    let mut url = client.homeserver();
    let base: &[&str] = if authenticated {
        &["_matrix", "client", "v1", "media", "download"]
    } else {
        &["_matrix", "media", "v3", "download"]
    };
    url.path_segments_mut()
        .map_err(|()| Skip::Unreadable("the homeserver URL cannot take a path".into()))?
        .pop_if_empty()
        .extend(base)
        .extend([server.as_str(), media_id]);
    Ok(url)
}

/// The body, read as it arrives and given up once it passes `max` bytes.
async fn read_capped(mut response: matrix_sdk::reqwest::Response, max: u64) -> Result<Vec<u8>, Skip> {
    if response.content_length().is_some_and(|length| length > max) {
        return Err(Skip::TooLarge);
    }
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if (bytes.len() + chunk.len()) as u64 > max {
                    return Err(Skip::TooLarge);
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(error) => return Err(Skip::Unreadable(error.without_url().to_string())),
        }
    }
}

/// Decrypts an encrypted attachment, its hash checked.
fn decrypt(ciphertext: Vec<u8>, info: MediaEncryptionInfo) -> Result<Vec<u8>, Skip> {
    let mut input = std::io::Cursor::new(ciphertext);
    let mut reader = AttachmentDecryptor::new(&mut input, info)
        .map_err(|e| Skip::Unreadable(format!("cannot decrypt: {e}")))?;
    let mut plaintext = Vec::new();
    reader.read_to_end(&mut plaintext).map_err(|e| Skip::Unreadable(format!("cannot decrypt: {e}")))?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use matrix_sdk::ruma::events::room::message::FileInfo;
    use matrix_sdk::ruma::{OwnedMxcUri, UInt};

    use super::*;

    fn file(name: &str, mimetype: Option<&str>, size: Option<u32>) -> FileMessageEventContent {
        let mut content =
            FileMessageEventContent::plain(name.to_owned(), OwnedMxcUri::from("mxc://example.org/abc"));
        let mut info = FileInfo::new();
        info.mimetype = mimetype.map(str::to_owned);
        info.size = size.map(UInt::from);
        content.info = Some(Box::new(info));
        content
    }

    /// A server that answers with an endless chunked body (no length declared): the count of
    /// bytes it managed to send before the reader hung up.
    async fn endless_body() -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/file", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let mut sent = 0;
            let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return sent;
            }
            let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
            // 64 MiB at most, so a broken reader cannot keep the test going for ever.
            for _ in 0..4096 {
                if stream.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
                sent += 0x4000;
            }
            sent
        });
        (url, server)
    }

    #[tokio::test]
    async fn a_body_longer_than_the_cap_is_cut_off_whatever_was_declared() {
        let (url, server) = endless_body().await;
        let response = matrix_sdk::reqwest::Client::new().get(url).send().await.unwrap();
        assert_eq!(read_capped(response, 64 * 1024).await, Err(Skip::TooLarge));
        let sent = server.await.unwrap();
        assert!(sent < 16 * 1024 * 1024, "the reader hung up early: {sent} bytes sent");
    }

    #[test]
    fn the_declared_size_is_checked_before_anything_is_read() {
        assert_eq!(check_declared(&file("p.json", Some("application/json"), Some(100)), 1000), Ok(()));
        assert_eq!(check_declared(&file("p", Some("text/plain; charset=utf-8"), None), 1000), Ok(()));
        assert_eq!(check_declared(&file("notes.txt", None, None), 1000), Ok(()));
        assert_eq!(
            check_declared(&file("p.json", Some("application/json"), Some(1001)), 1000),
            Err(Skip::DeclaredTooLarge(1001))
        );
        assert_eq!(check_declared(&file("cat.jpg", Some("image/jpeg"), Some(10)), 1000), Err(Skip::NotText));
    }
}
