//! The rustls client configuration for IMAP: the web PKI roots and the `ring` provider named
//! explicitly, because the workspace compiles more than one provider in (the process-wide
//! default would then be ambiguous and `ClientConfig::builder()` would panic).

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

fn client_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|error| format!("TLS setup: {error}"))
        })
        .clone()
}

/// Wraps `tcp` in TLS to `host`, checking its certificate.
pub(super) async fn connect(host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>, String> {
    let name = ServerName::try_from(host.to_owned()).map_err(|_| format!("`{host}` is not a host name"))?;
    TlsConnector::from(client_config()?)
        .connect(name, tcp)
        .await
        .map_err(|error| format!("TLS handshake with {host}: {error}"))
}
