//! An account's servers found from its address, as Thunderbird and Delta Chat do: the
//! provider's autoconfig file (`https://autoconfig.DOMAIN/mail/config-v1.1.xml`, then
//! `https://DOMAIN/.well-known/autoconfig/...`, then Mozilla's ISPDB, which knows the big
//! providers), else the usual host names (`imap.DOMAIN`, `smtp.DOMAIN`, `mail.DOMAIN`) probed
//! on their usual ports: a TLS handshake checked against the certificate, then the greeting.
//!
//! DNS SRV records (RFC 6186) are not asked: that needs a DNS client, which neither tokio nor
//! the standard library has, and autoconfig plus probing covers the providers seen in practice.
//! Every read is bounded: `max_bytes` per answer, `timeout` per source and per probe.

mod autoconfig;
mod http;

use std::time::Duration;

use futures_util::future::join_all;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::tls;
use crate::settings::email::{EmailSettings, Endpoint, Security};

/// Where [`discover`] looks. [`Discovery::default`] is the real world; tests point it at
/// servers on loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Discovery {
    /// Autoconfig URLs tried in order; `{domain}` and `{address}` (percent-encoded) are filled in.
    pub autoconfig_urls: Vec<String>,
    /// IMAP servers probed when no autoconfig answers, best first; `{domain}` is filled in.
    pub imap_probes: Vec<Endpoint>,
    /// SMTP servers probed likewise.
    pub smtp_probes: Vec<Endpoint>,
    /// Limit on each autoconfig source and each probe.
    pub timeout: Duration,
    /// The most read of one autoconfig answer (real files are a few kilobytes).
    pub max_bytes: usize,
}

impl Default for Discovery {
    fn default() -> Self {
        let probe = |host: &str, port, security| Endpoint { host: host.to_owned(), port, security };
        Discovery {
            autoconfig_urls: vec![
                "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}".into(),
                "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress={address}".into(),
                "https://autoconfig.thunderbird.net/v1.1/{domain}".into(),
            ],
            imap_probes: vec![
                probe("imap.{domain}", 993, Security::Tls),
                probe("mail.{domain}", 993, Security::Tls),
                probe("imap.{domain}", 143, Security::StartTls),
                probe("mail.{domain}", 143, Security::StartTls),
            ],
            smtp_probes: vec![
                probe("smtp.{domain}", 465, Security::Tls),
                probe("mail.{domain}", 465, Security::Tls),
                probe("smtp.{domain}", 587, Security::StartTls),
                probe("mail.{domain}", 587, Security::StartTls),
            ],
            timeout: Duration::from_secs(10),
            max_bytes: 64 * 1024,
        }
    }
}

/// The servers found for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Discovered {
    /// Where mail is read.
    pub imap: Option<Endpoint>,
    /// Where mail is sent.
    pub smtp: Endpoint,
    /// The user name, when the provider's file names one other than the address.
    pub login: Option<String>,
    /// Where this was found: an autoconfig URL, or `probing`.
    pub source: String,
}

impl Discovered {
    /// Settings for `address` with these servers (the password source still to be set).
    pub fn settings(&self, address: &str) -> EmailSettings {
        let mut settings = EmailSettings::new(address, self.smtp.host.clone());
        settings.smtp_security = self.smtp.security;
        settings.smtp_port = Some(self.smtp.port);
        settings.login.clone_from(&self.login);
        if let Some(imap) = &self.imap {
            settings.imap_host = Some(imap.host.clone());
            settings.imap_security = Some(imap.security);
            settings.imap_port = Some(imap.port);
        }
        settings
    }
}

/// Why nothing was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// The text is not an address with a domain.
    #[error("`{0}` is not an e-mail address")]
    InvalidAddress(String),
    /// No source named an SMTP server and none answered where one usually is.
    #[error("no mail servers found for {domain}; tried: {}", tried.join("; "))]
    NotFound {
        /// The address's domain.
        domain: String,
        /// What was tried, and what each said.
        tried: Vec<String>,
    },
}

/// Finds the servers of `address`: autoconfig sources in order, then probing.
///
/// ```no_run
/// # async fn add() -> Result<(), clm_adapters::email::DiscoverError> {
/// use clm_adapters::email::{Discovery, discover};
/// let found = discover("alice@example.org", &Discovery::default()).await?;
/// let settings = found.settings("alice@example.org");
/// # Ok(()) }
/// ```
pub async fn discover(address: &str, discovery: &Discovery) -> Result<Discovered, DiscoverError> {
    let domain = domain_of(address).ok_or_else(|| DiscoverError::InvalidAddress(address.to_owned()))?;
    let mut tried = Vec::new();
    for template in &discovery.autoconfig_urls {
        let url = template.replace("{domain}", &domain).replace("{address}", &percent_encode(address));
        match from_autoconfig(&url, address, discovery).await {
            Ok(found) => return Ok(found),
            Err(why) => tried.push(format!("{url}: {why}")),
        }
    }
    let fill = |probes: &[Endpoint]| -> Vec<Endpoint> {
        probes.iter().map(|p| Endpoint { host: p.host.replace("{domain}", &domain), ..p.clone() }).collect()
    };
    let (imap, smtp) = (fill(&discovery.imap_probes), fill(&discovery.smtp_probes));
    let (imap, smtp) = tokio::join!(
        first_answering(&imap, b"* ", discovery.timeout),
        first_answering(&smtp, b"220", discovery.timeout)
    );
    match smtp {
        Some(smtp) => Ok(Discovered { imap, smtp, login: None, source: "probing".into() }),
        None => {
            tried.push("probing the usual host names: no SMTP server answered".into());
            Err(DiscoverError::NotFound { domain, tried })
        }
    }
}

/// The domain of `local@domain`, lower-cased, if it looks like a host name.
fn domain_of(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    let valid = !local.is_empty()
        && !domain.is_empty()
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
    valid.then(|| domain.to_ascii_lowercase())
}

/// Percent-encoding for a query value: everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn from_autoconfig(url: &str, address: &str, discovery: &Discovery) -> Result<Discovered, String> {
    let parsed = http::Url::parse(url)?;
    let body = http::get(&parsed, discovery.max_bytes, discovery.timeout).await?;
    let text = String::from_utf8(body).map_err(|_| "not UTF-8")?;
    let found = autoconfig::parse(&text, address)?;
    let (smtp, smtp_login) = found.smtp.ok_or("names no SMTP server with TLS or STARTTLS")?;
    let (imap, imap_login) =
        found.imap.map_or((None, None), |(endpoint, login)| (Some(endpoint), Some(login)));
    let login = imap_login.or(Some(smtp_login)).filter(|login| !login.is_empty() && login != address);
    Ok(Discovered { imap, smtp, login, source: url.to_owned() })
}

/// The first of `candidates` (best first) whose greeting starts with `greeting`; all are
/// probed at once.
async fn first_answering(candidates: &[Endpoint], greeting: &[u8], limit: Duration) -> Option<Endpoint> {
    let answers = join_all(candidates.iter().map(|candidate| async move {
        tokio::time::timeout(limit, probe(candidate, greeting)).await.unwrap_or(false)
    }))
    .await;
    candidates.iter().zip(answers).find(|(_, answered)| *answered).map(|(candidate, _)| candidate.clone())
}

/// Connects (TLS checked against the host's certificate where the port speaks it) and reads
/// the first bytes of the greeting.
async fn probe(endpoint: &Endpoint, greeting: &[u8]) -> bool {
    let Ok(tcp) = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await else { return false };
    let mut first = vec![0; greeting.len()];
    let read = match endpoint.security {
        Security::Tls => match tls::connect(&endpoint.host, tcp).await {
            Ok(mut stream) => stream.read_exact(&mut first).await.is_ok(),
            Err(_) => false,
        },
        Security::StartTls | Security::None => {
            let mut tcp = tcp;
            tcp.read_exact(&mut first).await.is_ok()
        }
    };
    read && first == greeting
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_give_their_domain() {
        assert_eq!(domain_of("Alice@Example.ORG"), Some("example.org".into()));
        assert_eq!(domain_of("a\"b@c\"@example.org"), Some("example.org".into()));
        for bad in ["alice", "@example.org", "alice@", "a@exa/mple.org", "a@ex ample.org"] {
            assert_eq!(domain_of(bad), None, "{bad}");
        }
        assert_eq!(percent_encode("a+b@c.d"), "a%2Bb%40c.d");
    }

    #[test]
    fn discovered_servers_make_settings() {
        let found = Discovered {
            imap: Some(Endpoint { host: "imap.example.org".into(), port: 993, security: Security::Tls }),
            smtp: Endpoint { host: "smtp.example.org".into(), port: 587, security: Security::StartTls },
            login: Some("alice".into()),
            source: "test".into(),
        };
        let settings = found.settings("alice@example.org");
        assert_eq!(settings.smtp(), found.smtp);
        assert_eq!(settings.imap(), found.imap);
        assert_eq!(settings.login(), "alice");
        settings.password_env.is_none().then_some(()).expect("the password source is the caller's");
    }
}
