//! `[matrix.NAME]` sections as matrix transports: the settings are the adapter's own type, so
//! only the password or access token is read here (from where the settings name it).

use std::sync::Arc;

use clm_adapters::matrix::{MatrixAuth, MatrixLogin, MatrixSettings, MatrixTransport};

use super::{Adapter, Context, Resolved};
use super::{SetupError, invalid};
use crate::config::Settings;
use crate::secret::read_secret_ref;

/// The transport instance name of a matrix section: `matrix.NAME`.
fn instance_name(section: &str) -> String {
    format!("matrix.{section}")
}

/// The transport of section `[matrix.NAME]`, its password or token read now.
pub(crate) fn transport(
    section: &str,
    settings: &MatrixSettings,
    context: &Context,
) -> Result<Arc<MatrixTransport>, SetupError> {
    let name = instance_name(section);
    let login = settings.login().map_err(|e| invalid(format!("[matrix.{section}] {e}")))?;
    let read = |source: &clm_adapters::settings::SecretRef, key: &str| {
        read_secret_ref(source).map_err(|e| invalid(format!("[matrix.{section}] {key}: {e}")))
    };
    let auth = match &login {
        MatrixLogin::Password(source) => MatrixAuth::Password(read(source, "password")?),
        MatrixLogin::AccessToken(source) => MatrixAuth::AccessToken(read(source, "access token")?),
    };
    let state_dir = context.state_dir(&name);
    let secrets = context.secrets(&name);
    Ok(Arc::new(MatrixTransport::new(name, settings.clone(), auth, state_dir, secrets)))
}

/// Every `[matrix.NAME]` section, in name order.
pub fn configured(settings: &Settings, context: &Context) -> Result<Vec<Adapter>, SetupError> {
    settings
        .matrices
        .iter()
        .map(|(section, account)| {
            let matrix = transport(section, account, context)?;
            let progress = Arc::clone(&matrix);
            Ok(Adapter { transport: matrix, backlog: Box::new(move || progress.backlog()) })
        })
        .collect()
}

/// The matrix instance `instance` (known to exist), delivering to `target` (a room id
/// `!room:server` or an alias `#alias:server`; checked when sending).
pub fn resolve(
    settings: &Settings,
    context: &Context,
    instance: &str,
    target: &str,
) -> Result<Resolved, SetupError> {
    if !target.starts_with(['!', '#']) {
        return Err(invalid(format!(
            "route `matrix.{instance}:{target}` names no room: write matrix.{instance}:!ROOM:SERVER or \
             matrix.{instance}:#ALIAS:SERVER"
        )));
    }
    let account = &settings.matrices[instance];
    Ok(Resolved {
        transport: transport(instance, account, context)?,
        route: clm_adapters::Route(target.to_owned()),
    })
}

/// A log layer that drops matrix-sdk's two `ERROR ... 404 "Account data not found"` lines of
/// every start: the sdk asks whether the account keeps secrets on the server (it does not, and
/// the bridge uses no such secrets) and logs the expected "no" as a request error, which a new
/// user reads as a failure. Every other error of the sdk still shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietStart;

/// The one message the layer drops, and where it comes from.
const NOISE_TARGET: &str = "matrix_sdk::http_client";
const NOISE: &str = "Account data not found";

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QuietStart {
    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _context: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        if event.metadata().target() != NOISE_TARGET {
            return true;
        }
        let mut message = MessageText(String::new());
        event.record(&mut message);
        !message.0.contains(NOISE)
    }
}

/// The `message` field of an event, as text.
struct MessageText(String);

impl tracing::field::Visit for MessageText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn only_the_account_data_404_is_dropped() {
        let logged = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logged);
        let subscriber =
            tracing_subscriber::fmt().with_writer(move || Sink(Arc::clone(&sink))).finish().with(QuietStart);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "matrix_sdk::http_client", "Error while sending request: Api(Server(ClientApi(Error {{ status_code: 404, body: Standard {{ kind: NotFound, message: \"Account data not found\" }} }})))");
            tracing::error!(target: "matrix_sdk::http_client", "Error while sending request: Reqwest(connection refused)");
            tracing::error!(target: "other", "Account data not found");
        });
        let text = String::from_utf8(logged.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("status_code: 404"), "{text}");
        assert!(text.contains("connection refused") && text.contains("other"), "{text}");
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
