//! Thunderbird's autoconfig format (`config-v1.1.xml`, also served by Delta Chat's and most
//! providers' autoconfig hosts and by Mozilla's ISPDB): the first IMAP incoming server and the
//! first SMTP outgoing server that use TLS or STARTTLS.

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use crate::settings::email::{Endpoint, Security};
use crate::settings::is_loopback;

/// What a config file names for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub imap: Option<(Endpoint, String)>,
    pub smtp: Option<(Endpoint, String)>,
}

/// One `incomingServer` or `outgoingServer` element as read.
#[derive(Debug, Default)]
struct Server {
    kind: String,
    hostname: String,
    port: String,
    socket_type: String,
    username: String,
}

/// Reads `xml` for `address`; placeholders (`%EMAILADDRESS%`, `%EMAILLOCALPART%`,
/// `%EMAILDOMAIN%`) are filled in. Servers without encryption are left out unless on loopback.
pub(super) fn parse(xml: &str, address: &str) -> Result<Found, String> {
    let mut found = Found { imap: None, smtp: None };
    for (incoming, server) in servers(xml)? {
        let Some(endpoint) = endpoint(&server, address) else { continue };
        let login = fill(&server.username, address);
        let slot = match (incoming, server.kind.as_str()) {
            (true, "imap") => &mut found.imap,
            (false, "smtp") => &mut found.smtp,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some((endpoint, login));
        }
    }
    Ok(found)
}

fn endpoint(server: &Server, address: &str) -> Option<Endpoint> {
    let host = fill(&server.hostname, address);
    let security = match server.socket_type.to_ascii_uppercase().as_str() {
        "SSL" | "TLS" => Security::Tls,
        "STARTTLS" => Security::StartTls,
        "PLAIN" if is_loopback(&host) => Security::None,
        _ => return None,
    };
    let port = server.port.parse().ok().filter(|&port| port != 0)?;
    (!host.is_empty()).then_some(Endpoint { host, port, security })
}

fn fill(template: &str, address: &str) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    template
        .replace("%EMAILADDRESS%", address)
        .replace("%EMAILLOCALPART%", local)
        .replace("%EMAILDOMAIN%", domain)
        .trim()
        .to_owned()
}

/// Every server element, `true` for incoming, in document order.
fn servers(xml: &str) -> Result<Vec<(bool, Server)>, String> {
    let mut reader = Reader::from_str(xml);
    let mut servers = Vec::new();
    let mut current: Option<(bool, Server)> = None;
    let mut field = String::new();
    let mut saw_root = false;
    loop {
        match reader.read_event().map_err(|error| format!("not autoconfig XML: {error}"))? {
            Event::Start(element) => {
                let name = element.local_name().as_ref().to_owned();
                saw_root |= name == "clientConfig";
                if name == "incomingServer" || name == "outgoingServer" {
                    let kind = element
                        .try_get_attribute("type")
                        .ok()
                        .flatten()
                        .map(|a| a.value.to_ascii_lowercase())
                        .unwrap_or_default();
                    current = Some((name == "incomingServer", Server { kind, ..Server::default() }));
                }
                field = name;
            }
            Event::Text(text) => append(&mut current, &field, &text.xml10_content()),
            Event::GeneralRef(reference) => {
                let entity = format!("&{};", reference.xml10_content());
                let resolved =
                    quick_xml::escape::unescape(&entity).map(|c| c.into_owned()).unwrap_or_default();
                append(&mut current, &field, &resolved);
            }
            Event::End(element) => {
                let name = element.local_name();
                if matches!(name.as_ref(), "incomingServer" | "outgoingServer") {
                    servers.extend(current.take());
                }
                field.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err("not autoconfig XML: no <clientConfig>".into());
    }
    Ok(servers)
}

fn append(current: &mut Option<(bool, Server)>, field: &str, text: &str) {
    let Some((_, server)) = current else { return };
    let target = match field {
        "hostname" => &mut server.hostname,
        "port" => &mut server.port,
        "socketType" => &mut server.socket_type,
        "username" => &mut server.username,
        _ => return,
    };
    target.push_str(text.trim());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like a real provider's file: POP3 first, a plain IMAP server to refuse, comments.
    pub(in crate::email::discover) const EXAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <!-- pop3 first, as many files have it -->
    <incomingServer type="pop3">
      <hostname>pop.example.org</hostname><port>995</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>plain.example.org</hostname><port>143</port><socketType>plain</socketType>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.org</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>"#;

    #[test]
    fn the_first_encrypted_imap_and_smtp_servers_are_taken() {
        let found = parse(EXAMPLE, "alice@example.org").unwrap();
        assert_eq!(
            found.imap,
            Some((
                Endpoint { host: "imap.example.org".into(), port: 993, security: Security::Tls },
                "alice".into()
            ))
        );
        assert_eq!(
            found.smtp,
            Some((
                Endpoint { host: "smtp.example.org".into(), port: 587, security: Security::StartTls },
                "alice@example.org".into()
            ))
        );
    }

    #[test]
    fn other_xml_is_refused_and_entities_are_read() {
        assert!(parse("<html><body>not found</body></html>", "a@b.c").is_err());
        let xml = "<clientConfig><outgoingServer type=\"smtp\"><hostname>a&amp;b</hostname>\
                   <port>465</port><socketType>SSL</socketType></outgoingServer></clientConfig>";
        assert_eq!(parse(xml, "a@b.c").unwrap().smtp.unwrap().0.host, "a&b");
    }
}
