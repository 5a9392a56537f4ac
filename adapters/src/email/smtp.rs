//! Sending: one text/plain UTF-8 mail per pointer, to every address of the route, over a fresh
//! SMTP connection (sends are rare; the outbox retries failures).

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};

use super::{EmailTransport, Endpoint, Security};
use crate::{Route, Sent, TransportError};

/// The addresses of a route: `bob@example.org[,carol@example.net...]`.
pub(super) fn recipients(route: &Route) -> Result<Vec<Address>, TransportError> {
    let invalid = |reason: String| TransportError::InvalidRoute { route: route.0.clone(), reason };
    let addresses: Vec<&str> = route.0.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
    if addresses.is_empty() {
        return Err(invalid("an e-mail route names one or more addresses: email:bob@example.org".into()));
    }
    addresses
        .into_iter()
        .map(|address| address.parse::<Address>().map_err(|e| invalid(format!("`{address}`: {e}"))))
        .collect()
}

/// A Message-ID unique to this pointer and moment, in the sender's domain.
fn message_id(address: &Address, pointer_text: &str) -> String {
    let digest = Sha256::digest(pointer_text.as_bytes());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    let hex: String = digest[..12].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("<{hex}.{nanos:x}@{}>", address.domain())
}

pub(super) async fn send(
    transport: &EmailTransport,
    route: &Route,
    pointer_text: &str,
) -> Result<Sent, TransportError> {
    let settings = &transport.settings;
    let to = recipients(route)?;
    let from: Address = settings
        .address
        .parse()
        .map_err(|e| transport.refused(format!("the account's address `{}`: {e}", settings.address)))?;
    let id = message_id(&from, pointer_text);
    let mut message = Message::builder()
        .from(Mailbox::new(None, from))
        .subject(settings.subject.clone())
        .message_id(Some(id.clone()))
        .header(ContentType::TEXT_PLAIN);
    for address in to {
        message = message.to(Mailbox::new(None, address));
    }
    let message = message
        .body(pointer_text.to_owned())
        .map_err(|e| transport.refused(format!("cannot build the mail: {e}")))?;

    let smtp = settings.smtp();
    let tls = tls(&smtp).map_err(|e| transport.unavailable(format!("TLS setup for {}: {e}", smtp.host)))?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(settings.timeout));
    if settings.smtp_auth {
        let password = transport.password.as_ref().ok_or_else(|| {
            transport.refused("SMTP authentication is on but the account has no password configured")
        })?;
        builder =
            builder.credentials(Credentials::new(settings.login().to_owned(), password.as_str().to_owned()));
    }
    let mailer = builder.build();
    match mailer.send(message).await {
        Ok(response) => {
            tracing::debug!(transport = %transport.name, code = %response.code(), "mail accepted");
            Ok(Sent { id })
        }
        Err(error) => Err(classify(transport, &smtp.host, &error)),
    }
}

/// How lettre protects a connection to `smtp`.
pub(super) fn tls(smtp: &Endpoint) -> Result<Tls, lettre::transport::smtp::Error> {
    Ok(match smtp.security {
        Security::None => Tls::None,
        Security::Tls => Tls::Wrapper(TlsParameters::new_rustls(smtp.host.clone())?),
        Security::StartTls => Tls::Required(TlsParameters::new_rustls(smtp.host.clone())?),
    })
}

/// What lettre says when the server announces no AUTH mechanism it shares with us.
const NO_COMPATIBLE_AUTH: &str = "No compatible authentication mechanism";

/// An SMTP error, told so a person knows what to do: a server offering no login it shares
/// with us is often a relay that needs none, which `smtp_auth = false` is for.
pub(super) fn describe(host: &str, error: &lettre::transport::smtp::Error) -> String {
    if error.is_client() && error.to_string().contains(NO_COMPATIBLE_AUTH) {
        format!(
            "SMTP server {host} offers no login (AUTH PLAIN or LOGIN) this client can use: if it needs \
             none (a relay that trusts your network), set `smtp_auth = false` in the account's settings \
             ({error})"
        )
    } else {
        format!("SMTP server {host}: {error}")
    }
}

/// 5xx and local refusals are for good; 4xx, connection, TLS and timeout failures are for now.
fn classify(
    transport: &EmailTransport,
    host: &str,
    error: &lettre::transport::smtp::Error,
) -> TransportError {
    let described = describe(host, error);
    if error.is_permanent() || error.is_client() {
        transport.refused(described)
    } else {
        transport.unavailable(described)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_comma_separated_addresses() {
        let parsed = recipients(&Route("bob@example.org, carol@example.net".into())).unwrap();
        let shown: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["bob@example.org", "carol@example.net"]);
        for bad in ["", " , ", "bob", "bob@example.org,not an address"] {
            assert!(
                matches!(recipients(&Route(bad.into())), Err(TransportError::InvalidRoute { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn message_ids_are_in_the_senders_domain() {
        let id = message_id(&"me@example.org".parse().unwrap(), "{}");
        assert!(id.starts_with('<') && id.ends_with("@example.org>"), "{id}");
    }
}
