//! The transports the settings configure, as `Arc<dyn Transport>`: every `[KIND.NAME]` section
//! is a transport instance named `KIND.NAME`. `configured` builds them all for the daemon;
//! `resolve` builds the one a route names. Each kind has its own module; a kind this build was
//! compiled without is refused with a clear error instead of being skipped silently.

#[cfg(feature = "drop")]
mod drop;
// The kinds' modules are visible to the crate so `doctor` builds each section's transport
// (or reads its password) with the same code as the daemon, one section at a time.
#[cfg(feature = "email")]
pub(crate) mod email;
#[cfg(feature = "matrix")]
pub(crate) mod matrix;
mod secrets;
#[cfg(feature = "telegram")]
pub(crate) mod telegram;

use std::path::PathBuf;
use std::sync::Arc;

use clm_adapters::{SecretStore, Transport};

#[cfg(feature = "drop")]
pub use self::drop::drop_name;
#[cfg(feature = "matrix")]
pub use self::matrix::QuietStart;
use self::secrets::VaultSecrets;
use crate::config::{RouteSpec, Settings};
use crate::paths::DataDir;
use crate::store::Route as StoredRoute;
use crate::vault::Vault;

/// Why a transport could not be set up from its settings, or a route not resolved to one. The
/// message names the section or route and says why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(String);

impl From<crate::secret::SecretError> for SetupError {
    fn from(error: crate::secret::SecretError) -> SetupError {
        SetupError(error.to_string())
    }
}

/// A [`SetupError`] saying `message`.
pub(crate) fn invalid(message: impl Into<String>) -> SetupError {
    SetupError(message.into())
}

/// What transports need from the bridge besides their settings: where they may keep state
/// and how to keep secrets (sealed in the vault, in the bridge's database).
#[derive(Debug, Clone)]
pub struct Context {
    /// The data directory; a transport keeps files under `transports/<instance>/`.
    pub data_dir: PathBuf,
    database: PathBuf,
    vault: Arc<Vault>,
}

impl Context {
    /// The context of a bridge's data directory and unlocked vault.
    pub fn new(data_dir: &DataDir, vault: &Vault) -> Context {
        Context {
            data_dir: data_dir.root().to_path_buf(),
            database: data_dir.db_path(),
            vault: Arc::new(vault.clone()),
        }
    }

    /// A connection of its own to the bridge's store, unlocked.
    pub fn open_store(&self) -> Result<crate::store::Store, crate::store::StoreError> {
        let mut store = crate::store::Store::open(&self.database)?;
        store.unlock(&self.vault)?;
        Ok(store)
    }

    /// A directory of its own for transport `instance` (not created here).
    pub fn state_dir(&self, instance: &str) -> PathBuf {
        self.data_dir.join("transports").join(instance)
    }

    /// The secret store of transport `instance`.
    pub fn secrets(&self, instance: &str) -> Arc<dyn SecretStore> {
        Arc::new(VaultSecrets::new(self.database.clone(), Arc::clone(&self.vault), instance.to_owned()))
    }
}

/// A configured transport, ready to run.
pub struct Adapter {
    /// The transport.
    pub transport: Arc<dyn Transport>,
    /// How many items it has found and not yet handed over (a progress figure).
    backlog: Box<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter").field("name", &self.transport.name()).finish_non_exhaustive()
    }
}

impl Adapter {
    /// The instance name, e.g. `drop.usb`.
    pub fn name(&self) -> &str {
        self.transport.name()
    }

    /// Items found and not yet handed to the bridge (files of a drop folder's current pass).
    pub fn backlog(&self) -> usize {
        (self.backlog)()
    }
}

/// Every transport the settings configure, in kind then name order.
pub fn configured(settings: &Settings, context: &Context) -> Result<Vec<Adapter>, SetupError> {
    // Without any transport feature there is nothing to add: the daemon then says so.
    #[allow(unused_mut)]
    let mut adapters = Vec::new();
    #[cfg(feature = "drop")]
    adapters.extend(drop::configured(settings));
    #[cfg(feature = "email")]
    adapters.extend(email::configured(settings, context)?);
    #[cfg(feature = "matrix")]
    adapters.extend(matrix::configured(settings, context)?);
    #[cfg(feature = "telegram")]
    adapters.extend(telegram::configured(settings, context)?);
    let _ = (settings, context);
    Ok(adapters)
}

/// A route resolved to the transport that delivers along it.
#[derive(Clone)]
pub struct Resolved {
    /// The transport instance.
    pub transport: Arc<dyn Transport>,
    /// The target within it, as the adapter takes it.
    pub route: clm_adapters::Route,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl Resolved {
    /// The route as a person writes it: `drop.usb`, `drop.usb:alice`.
    pub fn shown(&self) -> String {
        match self.route.0.as_str() {
            "" => self.transport.name().to_owned(),
            target => format!("{}:{target}", self.transport.name()),
        }
    }

    /// What makes two resolved routes the same delivery: instance and target.
    pub fn key(&self) -> (String, String) {
        (self.transport.name().to_owned(), self.route.0.clone())
    }
}

/// Resolves a route spec (`drop`, `drop.usb:sub`, `email.work:bob@example.org`) against the
/// settings.
pub fn resolve(settings: &Settings, context: &Context, spec: &RouteSpec) -> Result<Resolved, SetupError> {
    if let Some(reason) = settings.unconfigured(&spec.kind, spec.instance.as_deref()) {
        return Err(invalid(format!("route `{spec}`: {reason}")));
    }
    let instances = settings.instances(&spec.kind);
    // `unconfigured` passed: the instance is named and exists, or there is exactly one.
    let instance = spec.instance.as_deref().or_else(|| instances.first().copied()).unwrap_or_default();
    let target = spec.target.as_str();
    let unavailable = || {
        invalid(format!(
            "route `{spec}`: the {} transport is not available in this build of clm-bridge",
            spec.kind
        ))
    };
    let _ = (context, target, instance);
    match spec.kind.as_str() {
        #[cfg(feature = "drop")]
        "drop" => Ok(drop::resolve(settings, instance, target)),
        #[cfg(feature = "email")]
        "email" => email::resolve(settings, context, instance, target),
        #[cfg(feature = "matrix")]
        "matrix" => matrix::resolve(settings, context, instance, target),
        #[cfg(feature = "telegram")]
        "telegram" => telegram::resolve(settings, context, instance, target),
        _ => Err(unavailable()),
    }
}

/// Resolves a route stored with `chat route`.
pub fn resolve_stored(
    settings: &Settings,
    context: &Context,
    route: &StoredRoute,
) -> Result<Resolved, SetupError> {
    let text = if route.target.is_empty() {
        route.transport.clone()
    } else {
        format!("{}:{}", route.transport, route.target)
    };
    let spec = RouteSpec::parse(&text).map_err(|reason| invalid(format!("stored route: {reason}")))?;
    resolve(settings, context, &spec)
}

/// Checks a route when it is added (`chat route`), without building its transport: the
/// settings have its section, this build has its transport, and its target is one that
/// transport takes (a subfolder name, addresses, a room, a chat id). `send` would refuse the
/// others later, and one bad route of a chat would hold up its good ones.
pub fn check_route(settings: &Settings, spec: &RouteSpec) -> Result<(), SetupError> {
    if let Some(reason) = settings.unconfigured(&spec.kind, spec.instance.as_deref()) {
        return Err(invalid(format!("route `{spec}`: {reason}")));
    }
    let route = clm_adapters::Route(spec.target.clone());
    let refused = |error: clm_adapters::TransportError| invalid(format!("route `{spec}`: {error}"));
    // Unused in a build without transports.
    let _ = (&route, &refused);
    match spec.kind.as_str() {
        #[cfg(feature = "drop")]
        "drop" => clm_adapters::drop::check_route(&route).map_err(refused),
        #[cfg(feature = "email")]
        "email" => clm_adapters::email::check_route(&route).map_err(refused),
        #[cfg(feature = "matrix")]
        "matrix" => clm_adapters::matrix::check_route(&route).map_err(refused),
        #[cfg(feature = "telegram")]
        "telegram" => clm_adapters::telegram::check_route(&route).map_err(refused),
        kind => Err(invalid(format!(
            "route `{spec}`: the {kind} transport is not available in this build of clm-bridge"
        ))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::config::DropSettings;
    use crate::vault::KdfParams;

    /// A context over a throwaway vault (cheap KDF) and database path.
    pub(crate) fn test_context(dir: &std::path::Path) -> Context {
        let (vault, _) =
            Vault::create(b"test", KdfParams { m_kib: 64, t: 1, p: 1 }, getrandom::fill).unwrap();
        Context { data_dir: dir.to_path_buf(), database: dir.join("bridge.db"), vault: Arc::new(vault) }
    }

    fn settings(drops: &[&str]) -> Settings {
        let mut settings = Settings::default();
        for name in drops {
            settings.drops.insert(
                (*name).to_owned(),
                DropSettings {
                    poll_interval: Duration::from_secs(3),
                    ..DropSettings::new(PathBuf::from(format!("/srv/{name}")))
                },
            );
        }
        settings
    }

    fn spec(text: &str) -> RouteSpec {
        RouteSpec::parse(text).unwrap()
    }

    #[test]
    fn every_drop_section_is_an_adapter_named_by_it() {
        let dir = tempfile::tempdir().unwrap();
        let context = test_context(dir.path());
        let configured = |settings: &Settings| configured(settings, &context).unwrap();
        let adapters = configured(&settings(&["usb", "nas"]));
        let names: Vec<&str> = adapters.iter().map(Adapter::name).collect();
        assert_eq!(names, ["drop.nas", "drop.usb"]);
        assert_eq!(adapters[0].backlog(), 0, "nothing found before it runs");
        assert!(configured(&Settings::default()).is_empty());
    }

    #[test]
    fn drop_routes_resolve_to_their_section() {
        let dir = tempfile::tempdir().unwrap();
        let context = test_context(dir.path());
        let resolve = |settings: &Settings, spec: &RouteSpec| resolve(settings, &context, spec);
        let resolve_stored =
            |settings: &Settings, route: &StoredRoute| resolve_stored(settings, &context, route);
        let two = settings(&["usb", "nas"]);
        let usb = resolve(&two, &spec("drop.usb:alice")).unwrap();
        assert_eq!(usb.key(), ("drop.usb".to_owned(), "alice".to_owned()));
        assert_eq!(usb.shown(), "drop.usb:alice");
        assert_eq!(resolve(&two, &spec("drop.nas")).unwrap().shown(), "drop.nas");

        let only = resolve(&settings(&["usb"]), &spec("drop")).unwrap();
        assert_eq!(only.shown(), "drop.usb", "`drop` means the only drop folder");
        let stored = StoredRoute { transport: "drop".into(), target: "sub".into() };
        assert_eq!(resolve_stored(&settings(&["usb"]), &stored).unwrap().shown(), "drop.usb:sub");
    }

    #[test]
    fn unresolvable_routes_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let context = test_context(dir.path());
        let message = |settings: &Settings, text: &str| {
            resolve(settings, &context, &spec(text)).unwrap_err().to_string()
        };
        let two = settings(&["usb", "nas"]);
        assert!(message(&two, "drop").contains("exactly one [drop.NAME]"));
        assert!(message(&two, "drop.stick").contains("no [drop.stick] section"));
        assert!(message(&two, "email.work:bob@example.org").contains("no [email.work] section"));
        assert!(message(&Settings::default(), "drop").contains("there are 0"));
    }
}
