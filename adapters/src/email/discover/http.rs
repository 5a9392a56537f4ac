//! Just enough HTTP/1.1 to fetch an autoconfig file: one `GET` per connection (`Connection:
//! close`), HTTPS with the web PKI roots (plain HTTP only to loopback, for tests), at most a few
//! redirects, the answer bounded in bytes and time. Not worth a general client (reqwest) in
//! the `email` feature for three small files.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::super::tls;
use crate::settings::is_loopback;

/// Redirects followed at most (autoconfig hosts often send `http` to `https`, or to a provider).
const MAX_REDIRECTS: usize = 3;

/// An `http(s)://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Url {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, String> {
        let (tls, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("`{text}` is not an http(s) URL"));
        };
        let (authority, path) = rest.find(['/', '?']).map_or((rest, "/"), |i| rest.split_at(i));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
                (host, port.parse().map_err(|_| format!("bad port in `{text}`"))?)
            }
            _ => (authority, if tls { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err(format!("bad host in `{text}`"));
        }
        if !tls && !is_loopback(host) {
            return Err(format!("`{text}`: plain http only for a server on this machine"));
        }
        let path = if path.starts_with('?') { format!("/{path}") } else { path.to_owned() };
        Ok(Url { tls, host: host.to_owned(), port, path })
    }

    /// A `Location` header's target, absolute or relative to this URL.
    fn join(&self, location: &str) -> Result<Url, String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            Url::parse(location)
        } else if location.starts_with('/') {
            Ok(Url { path: location.to_owned(), ..self.clone() })
        } else {
            Err(format!("unusable redirect to `{location}`"))
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.path)
    }
}

/// `GET url`: the body of a 200 answer, following redirects; at most `max_bytes` read per
/// answer, all of it within `limit`.
pub(super) async fn get(url: &Url, max_bytes: usize, limit: Duration) -> Result<Vec<u8>, String> {
    let mut url = url.clone();
    let work = async {
        for _ in 0..=MAX_REDIRECTS {
            let answer = exchange(&url, max_bytes).await?;
            let (status, headers, body) = split(&answer)?;
            match status {
                200 => return decode_body(&headers, body),
                301 | 302 | 303 | 307 | 308 => {
                    let location = header(&headers, "location").ok_or("a redirect without Location")?;
                    url = url.join(location)?;
                }
                other => return Err(format!("HTTP {other}")),
            }
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    };
    tokio::time::timeout(limit, work).await.map_err(|_| format!("no answer within {limit:?}"))?
}

/// Sends the request and reads the whole answer (the server closes the connection).
async fn exchange(url: &Url, max_bytes: usize) -> Result<Vec<u8>, String> {
    let tcp = TcpStream::connect((url.host.as_str(), url.port)).await.map_err(|e| e.to_string())?;
    if url.tls {
        round_trip(tls::connect(&url.host, tcp).await?, url, max_bytes).await
    } else {
        round_trip(tcp, url, max_bytes).await
    }
}

async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    url: &Url,
    max_bytes: usize,
) -> Result<Vec<u8>, String> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: clm-bridge\r\nAccept: application/xml, text/xml\r\n\
         Connection: close\r\n\r\n",
        url.path, url.host
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    // One byte more than allowed tells a too-large answer from one that just fits.
    let read = (&mut stream).take(max_bytes as u64 + 1).read_to_end(&mut answer).await;
    // TLS servers often close without close_notify: what was read counts.
    if read.is_err() && answer.is_empty() {
        return Err(read.err().map(|e| e.to_string()).unwrap_or_default());
    }
    if answer.len() > max_bytes {
        return Err(format!("the answer is larger than {max_bytes} bytes"));
    }
    Ok(answer)
}

/// Header names (lower-cased) and values.
type Headers = Vec<(String, String)>;

/// Status, header lines and body of an answer.
fn split(answer: &[u8]) -> Result<(u16, Headers, &[u8]), String> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").ok_or("not an HTTP answer")?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1."))
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or("not an HTTP answer")?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok((status, headers, &answer[end + 4..]))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

/// The body as sent: chunked, of a given length, or up to the end.
fn decode_body(headers: &[(String, String)], body: &[u8]) -> Result<Vec<u8>, String> {
    if header(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(body);
    }
    match header(headers, "content-length").map(str::parse::<usize>) {
        Some(Ok(length)) if length <= body.len() => Ok(body[..length].to_vec()),
        Some(Ok(_)) => Err("the answer ended early".into()),
        _ => Ok(body.to_vec()),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or("a broken chunk")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a broken chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("the answer ended inside a chunk")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or("the answer ended inside a chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let url =
            Url::parse("https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=a%40b").unwrap();
        assert_eq!((url.host.as_str(), url.port, url.tls), ("autoconfig.example.org", 443, true));
        assert_eq!(url.path, "/mail/config-v1.1.xml?emailaddress=a%40b");
        let local = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((local.port, local.path.as_str()), (8080, "/"));
        assert_eq!(Url::parse("http://[::1]:81/x").unwrap().host, "::1");
        assert!(Url::parse("http://example.org/").is_err(), "plain http leaves no machine");
        assert!(Url::parse("ftp://example.org/").is_err());
        assert_eq!(local.join("/y").unwrap().path, "/y");
    }

    #[test]
    fn answers_split_and_decode() {
        let answer =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n";
        let (status, headers, body) = split(answer).unwrap();
        assert_eq!(status, 200);
        assert_eq!(decode_body(&headers, body).unwrap(), b"Wikipedia");
        let (_, headers, body) = split(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nabc").unwrap();
        assert_eq!(decode_body(&headers, body).unwrap(), b"ab");
        assert!(split(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(dechunk(b"10\r\nshort").is_err());
    }
}
