//! `[api]`: the daemon's local API (module `api`). The Unix socket is always served while
//! `clm-bridge run` runs; these keys bound what clients may cost, say how long the event log is
//! kept, and optionally serve the same API on a loopback TCP address behind a token.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The `[api]` section, as written and validated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Clients served at once (socket and TCP together); more are refused.
    pub max_clients: usize,
    /// The longest request line accepted, in bytes; a longer one ends the connection.
    pub max_request_bytes: usize,
    /// Events kept in the log (the newest); older ones are pruned.
    pub keep_events: u64,
    /// Days events are kept at most.
    pub keep_event_days: u64,
    /// Also serve the API on this loopback address (`127.0.0.1:PORT` or `[::1]:PORT`).
    pub tcp: Option<SocketAddr>,
    /// The bearer token's file (mode 0600), required with `tcp`: a TCP client's first request
    /// is `auth` with this token.
    pub token_file: Option<PathBuf>,
}

impl Default for ApiSettings {
    fn default() -> ApiSettings {
        ApiSettings {
            max_clients: 32,
            max_request_bytes: 1 << 20,
            keep_events: 100_000,
            keep_event_days: 30,
            tcp: None,
            token_file: None,
        }
    }
}

impl ApiSettings {
    /// Rules between keys: `(key, reason)` of the first one broken.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_clients == 0 {
            return Err(("max_clients", "must be at least 1 (the CLI is a client too)".into()));
        }
        if self.max_request_bytes < 4096 {
            return Err(("max_request_bytes", "must be at least 4096".into()));
        }
        if self.keep_events == 0 || self.keep_event_days == 0 {
            return Err(("keep_events", "keep_events and keep_event_days must be at least 1".into()));
        }
        match (&self.tcp, &self.token_file) {
            (Some(address), _) if !address.ip().is_loopback() => {
                Err(("tcp", format!("{address} is not a loopback address: the API is for this machine only")))
            }
            (Some(_), None) => Err(("token_file", "is required with tcp".into())),
            (None, Some(_)) => Err(("token_file", "applies only with tcp".into())),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::load_text;

    #[test]
    fn defaults_and_tcp_rules() {
        let settings = load_text("").unwrap();
        assert_eq!((settings.api.max_clients, settings.api.tcp), (32, None));
        let error =
            load_text("[api]\ntcp = \"0.0.0.0:7390\"\ntoken_file = \"/t\"\n").unwrap_err().to_string();
        assert!(error.contains("api.tcp") && error.contains("loopback"), "{error}");
        let error = load_text("[api]\ntcp = \"127.0.0.1:7390\"\n").unwrap_err().to_string();
        assert!(error.contains("api.token_file"), "{error}");
        let settings =
            load_text("[api]\ntcp = \"127.0.0.1:7390\"\ntoken_file = \"/t\"\nmax_clients = 4\n").unwrap();
        assert_eq!(settings.api.max_clients, 4);
        assert!(load_text("[api]\nmax_clinets = 4\n").is_err(), "typos are refused");
    }
}
