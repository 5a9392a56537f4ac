//! Settings: read with the `config` crate from a TOML file plus `CLM_BRIDGE__SECTION__KEY`
//! environment overrides, then validated into typed settings. These types compile without any
//! transport feature (as himalaya's do); each adapter section is a plain table here.
//!
//! Every key is documented in `config.example.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod api;
pub mod edit;
#[cfg(test)]
mod edit_tests;
#[cfg(test)]
mod email_tests;
mod gateway;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod matrix_tests;
#[cfg(test)]
mod telegram_tests;

pub use self::api::ApiSettings;
pub use self::gateway::{ChatsRelayed, Direction, Gateway, GatewayRoute};

pub use clm_adapters::settings::drop::DropSettings;
pub use clm_adapters::settings::email::EmailSettings;
pub use clm_adapters::settings::matrix::{MatrixLogin, MatrixSettings};
pub use clm_adapters::settings::telegram::TelegramSettings;
pub use clm_adapters::settings::{SettingsError, parse_duration};

use crate::limits::{Limits, RawLimits};

/// Environment prefix of overrides: `CLM_BRIDGE__DROP__USB__PATH=/mnt` sets `drop.usb.path`.
pub const ENV_PREFIX: &str = "CLM_BRIDGE";

/// Why the settings could not be used. Names the file and the key at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read or parsed, or a value has the wrong type.
    #[error("{file}: {reason}")]
    Load {
        /// The config file (or "environment").
        file: String,
        /// What the parser said.
        reason: String,
    },
    /// A value is of the right type but unusable.
    #[error("{file}: `{key}`: {reason}")]
    Invalid {
        /// The config file.
        file: String,
        /// The key, dotted (`drop.usb.poll_interval`).
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The file as written, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(default)]
    identity: RawIdentity,
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    chats: BTreeMap<String, RawChat>,
    #[serde(default)]
    outbox: OutboxSettings,
    #[serde(default)]
    drop: BTreeMap<String, DropSettings>,
    #[serde(default)]
    email: BTreeMap<String, EmailSettings>,
    #[serde(default)]
    matrix: BTreeMap<String, MatrixSettings>,
    #[serde(default)]
    telegram: BTreeMap<String, TelegramSettings>,
    #[serde(default)]
    api: ApiSettings,
    #[serde(default)]
    gateway: BTreeMap<String, gateway::RawGateway>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    name: Option<String>,
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    on_message: Option<Vec<String>>,
    on_message_env: Option<Vec<String>>,
}

/// The vault passphrase's variable (`app::PASSPHRASE_ENV`): never passed on.
const PASSPHRASE_VARIABLE: &str = "CLM_BRIDGE_PASSPHRASE";

/// The environment variables `on_message` gets by default (the rest of the daemon's environment,
/// transports' passwords and tokens included, is withheld).
pub const ON_MESSAGE_ENV: [&str; 15] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TMPDIR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChat {
    #[serde(default)]
    routes: Vec<String>,
}

/// Validated settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// The file they came from, if any.
    pub file: Option<PathBuf>,
    /// Sender name overriding the one stored by `init`.
    pub identity_name: Option<String>,
    /// Data directory (the `--data-dir` flag and `$CLM_BRIDGE_DATA_DIR` take precedence).
    pub data_dir: Option<PathBuf>,
    /// Program (and arguments) run for each new message, the message as JSON on its stdin.
    pub on_message: Option<Vec<String>>,
    /// The environment variables passed on to `on_message` (nothing else is).
    pub on_message_env: Vec<String>,
    /// Limits on what strangers can make the bridge hold (`[limits]`).
    pub limits: Limits,
    /// Extra routes per chat name, on top of those stored with `chat route`.
    pub chat_routes: BTreeMap<String, Vec<RouteSpec>>,
    /// How deliveries are retried and claimed.
    pub outbox: OutboxSettings,
    /// Drop folders by instance name.
    pub drops: BTreeMap<String, DropSettings>,
    /// E-mail accounts by instance name.
    pub emails: BTreeMap<String, EmailSettings>,
    /// Matrix accounts by instance name.
    pub matrices: BTreeMap<String, MatrixSettings>,
    /// Telegram bots by instance name.
    pub telegrams: BTreeMap<String, TelegramSettings>,
    /// The daemon's local API.
    pub api: ApiSettings,
    /// Gateways by name: pointers relayed between their routes.
    pub gateways: BTreeMap<String, Gateway>,
}

impl Settings {
    /// The instance names configured for a transport kind (`drop`, `email`, ...).
    pub fn instances(&self, kind: &str) -> Vec<&str> {
        fn names<T>(map: &BTreeMap<String, T>) -> Vec<&str> {
            map.keys().map(String::as_str).collect()
        }
        match kind {
            "drop" => names(&self.drops),
            "email" => names(&self.emails),
            "matrix" => names(&self.matrices),
            "telegram" => names(&self.telegrams),
            _ => Vec::new(),
        }
    }

    /// Why a route of this kind and instance cannot be delivered with these settings, if so:
    /// no such section, or no instance named while the kind has several (or none).
    pub fn unconfigured(&self, kind: &str, instance: Option<&str>) -> Option<String> {
        let instances = self.instances(kind);
        match instance {
            Some(name) if !instances.contains(&name) => {
                Some(format!("there is no [{kind}.{name}] section in the settings"))
            }
            Some(_) => None,
            None if instances.len() == 1 => None,
            None => Some(format!(
                "`{kind}` without an instance needs exactly one [{kind}.NAME] section in the settings \
                 (there are {}); name one, e.g. {kind}.NAME",
                instances.len()
            )),
        }
    }
}

/// `[outbox]`: how queued deliveries are retried, and how long a process trying one keeps
/// others from trying it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// The delay before the first retry of a delivery that failed for now (doubling after).
    #[serde(default = "default_first_retry", deserialize_with = "clm_adapters::settings::duration")]
    pub first_retry: Duration,
    /// The longest delay between retries.
    #[serde(default = "default_max_retry", deserialize_with = "clm_adapters::settings::duration")]
    pub max_retry: Duration,
    /// How long a claim on a delivery being tried holds: nobody else tries it meanwhile; a
    /// process killed while trying leaves it to be tried again after this.
    #[serde(default = "default_claim", deserialize_with = "clm_adapters::settings::duration")]
    pub claim: Duration,
}

fn default_first_retry() -> Duration {
    Duration::from_secs(15)
}

fn default_max_retry() -> Duration {
    Duration::from_secs(30 * 60)
}

fn default_claim() -> Duration {
    Duration::from_secs(300)
}

impl Default for OutboxSettings {
    fn default() -> OutboxSettings {
        OutboxSettings {
            first_retry: default_first_retry(),
            max_retry: default_max_retry(),
            claim: default_claim(),
        }
    }
}

impl OutboxSettings {
    /// How retries are spaced.
    pub fn retries(&self) -> crate::backoff::Backoff {
        crate::backoff::Backoff { first: self.first_retry, max: self.max_retry.max(self.first_retry) }
    }

    /// The claim, in whole seconds.
    pub fn claim_seconds(&self) -> i64 {
        i64::try_from(self.claim.as_secs()).unwrap_or(i64::MAX).max(1)
    }
}

/// A route: `KIND[.INSTANCE][:TARGET]`, e.g. `drop.usb`, `email.work:bob@example.org`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteSpec {
    /// Transport kind: `drop`, `email`, `matrix`, `telegram`.
    pub kind: String,
    /// Instance name; `None` means "the only instance of that kind".
    pub instance: Option<String>,
    /// Where within the transport (empty for a drop folder itself).
    pub target: String,
}

/// Transport kinds this build knows by name (whether or not their feature is compiled in).
pub const KINDS: [&str; 4] = ["drop", "email", "matrix", "telegram"];

impl RouteSpec {
    /// Parses `KIND[.INSTANCE][:TARGET]`.
    pub fn parse(text: &str) -> Result<RouteSpec, String> {
        let (transport, target) = text.split_once(':').unwrap_or((text, ""));
        let (kind, instance) = match transport.split_once('.') {
            Some((kind, instance)) => (kind, Some(instance)),
            None => (transport, None),
        };
        if !KINDS.contains(&kind) {
            return Err(format!(
                "unknown transport `{kind}` in route `{text}` (one of {})",
                KINDS.join(", ")
            ));
        }
        if instance.is_some_and(str::is_empty) {
            return Err(format!("empty instance name in route `{text}`"));
        }
        Ok(RouteSpec {
            kind: kind.to_owned(),
            instance: instance.map(str::to_owned),
            target: target.to_owned(),
        })
    }
}

impl std::fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kind)?;
        if let Some(instance) = &self.instance {
            write!(f, ".{instance}")?;
        }
        if !self.target.is_empty() {
            write!(f, ":{}", self.target)?;
        }
        Ok(())
    }
}

/// Where the config file is looked for when no `--config` is given: `$CLM_BRIDGE_CONFIG`, else
/// `$XDG_CONFIG_HOME/clm-bridge/config.toml`, else `~/.config/clm-bridge/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CLM_BRIDGE_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("clm-bridge").join("config.toml"))
}

impl Settings {
    /// Loads `file` (which must exist when `required`) plus environment overrides, and validates.
    pub fn load(file: Option<&Path>, required: bool) -> Result<Settings, ConfigError> {
        let file_name = file.map_or_else(|| "environment".to_owned(), |f| f.display().to_string());
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(
                config::File::from(path.to_path_buf()).format(config::FileFormat::Toml).required(required),
            );
        }
        let raw: RawSettings = builder
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("daemon.on_message")
                    .with_list_parse_key("daemon.on_message_env")
                    .try_parsing(true),
            )
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| ConfigError::Load { file: file_name.clone(), reason: e.to_string() })?;
        let used_file = file.filter(|f| f.exists()).map(Path::to_path_buf);
        validate(raw, used_file, &file_name)
    }
}

/// The `[limits]` section and `daemon.on_message_env`, validated.
fn daemon_settings(
    raw: &RawSettings,
    invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<(Limits, Vec<String>), ConfigError> {
    let limits =
        raw.limits.validate().map_err(|error| invalid(format!("limits.{}", error.key), error.reason))?;
    let on_message_env = match raw.daemon.on_message_env.clone() {
        Some(names) => names,
        None => ON_MESSAGE_ENV.iter().map(|name| (*name).to_owned()).collect(),
    };
    if let Some(name) = on_message_env
        .iter()
        .find(|name| name.is_empty() || name.contains('=') || *name == PASSPHRASE_VARIABLE)
    {
        return Err(invalid(
            "daemon.on_message_env".into(),
            format!(
                "`{}` cannot be passed on (a variable name, and never the vault passphrase)",
                name.escape_debug()
            ),
        ));
    }
    Ok((limits, on_message_env))
}

fn validate(raw: RawSettings, file: Option<PathBuf>, file_name: &str) -> Result<Settings, ConfigError> {
    let invalid =
        |key: String, reason: String| ConfigError::Invalid { file: file_name.to_owned(), key, reason };
    let invalid: &dyn Fn(String, String) -> ConfigError = &invalid;
    if raw.identity.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(invalid("identity.name".into(), "is empty".into()));
    }
    if raw.daemon.on_message.as_ref().is_some_and(|argv| argv.first().is_none_or(|p| p.is_empty())) {
        return Err(invalid(
            "daemon.on_message".into(),
            "needs a program: [\"program\", \"arg\", ...]".into(),
        ));
    }
    let (limits, on_message_env) = daemon_settings(&raw, invalid)?;
    for (name, drop) in &raw.drop {
        drop.validate().map_err(|error| invalid(format!("drop.{name}.{}", error.key), error.reason))?;
    }
    let drops = raw.drop;
    for (name, email) in &raw.email {
        email.validate().map_err(|error| invalid(format!("email.{name}.{}", error.key), error.reason))?;
    }
    let emails = raw.email;
    for (name, matrix) in &raw.matrix {
        matrix.validate().map_err(|error| invalid(format!("matrix.{name}.{}", error.key), error.reason))?;
    }
    let matrices = raw.matrix;
    for (name, telegram) in &raw.telegram {
        telegram
            .validate()
            .map_err(|error| invalid(format!("telegram.{name}.{}", error.key), error.reason))?;
    }
    let telegrams = raw.telegram;
    raw.api.validate().map_err(|(key, reason)| invalid(format!("api.{key}"), reason))?;
    let mut settings = Settings {
        file,
        identity_name: raw.identity.name,
        data_dir: raw.identity.data_dir,
        on_message: raw.daemon.on_message,
        on_message_env,
        limits,
        chat_routes: BTreeMap::new(),
        outbox: raw.outbox,
        drops,
        emails,
        matrices,
        telegrams,
        api: raw.api,
        gateways: BTreeMap::new(),
    };
    for (name, raw_gateway) in raw.gateway {
        let gateway = gateway::validate(raw_gateway, &settings)
            .map_err(|(key, reason)| invalid(format!("gateway.{name}.{key}"), reason))?;
        settings.gateways.insert(name, gateway);
    }
    settings.chat_routes = chat_routes(raw.chats, &settings, invalid)?;
    Ok(settings)
}

/// `[chats.NAME] routes`, each parsed and its transport configured in `settings`.
fn chat_routes(
    chats: BTreeMap<String, RawChat>,
    settings: &Settings,
    invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<BTreeMap<String, Vec<RouteSpec>>, ConfigError> {
    let mut all = BTreeMap::new();
    for (chat, raw_chat) in chats {
        let mut routes = Vec::new();
        for (i, text) in raw_chat.routes.iter().enumerate() {
            let key = format!("chats.{chat}.routes[{i}]");
            let route = RouteSpec::parse(text).map_err(|reason| invalid(key.clone(), reason))?;
            if let Some(reason) = settings.unconfigured(&route.kind, route.instance.as_deref()) {
                return Err(invalid(key, format!("`{route}`: {reason}")));
            }
            routes.push(route);
        }
        all.insert(chat, routes);
    }
    Ok(all)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Loads `text` as a settings file (shared by the section modules' tests).
    pub(crate) fn load_text(text: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(Some(&path), true)
    }

    #[test]
    fn the_example_config_is_valid() {
        let settings = load_text(include_str!("../../../config.example.toml")).unwrap();
        assert!(!settings.drops.is_empty(), "the example shows a drop folder");
    }

    #[test]
    fn the_example_config_with_every_section_switched_on_is_valid() {
        // The transport sections are commented out ("# [email.work]" and "# key = value" lines
        // up to the next blank line); switched on as a reader would, they must load.
        let mut in_section = false;
        let mut text = String::new();
        for line in include_str!("../../../config.example.toml").lines() {
            in_section = (in_section && !line.trim().is_empty()) || line.starts_with("# [");
            text.push_str(if in_section { line.strip_prefix("# ").unwrap_or(line) } else { line });
            text.push('\n');
        }
        let settings = load_text(&text).unwrap();
        for kind in ["drop", "email", "matrix", "telegram"] {
            assert_eq!(settings.instances(kind).len(), 1, "one [{kind}.NAME] section in the example");
        }
    }

    #[test]
    fn every_limit_is_documented_in_the_example_with_its_default() {
        // `# key = value` lines of the [limits] section, switched on, are the defaults.
        let example = include_str!("../../../config.example.toml");
        let section = example.split("\n[limits]\n").nth(1).unwrap().split("\n[").next().unwrap();
        let keys: Vec<&str> = section
            .lines()
            .filter_map(|line| line.strip_prefix("# ").filter(|l| l.contains(" = ")))
            .collect();
        assert_eq!(keys.len(), 12, "{keys:?}");
        let settings = load_text(&format!("[limits]\n{}\n", keys.join("\n"))).unwrap();
        assert_eq!(settings.limits, Limits::default());
        // And the on_message environment's default.
        let daemon = example.split("\n[daemon]\n").nth(1).unwrap().split("\n[").next().unwrap();
        let list: String = daemon
            .lines()
            .skip_while(|line| !line.starts_with("# on_message_env"))
            .take_while(|line| line.starts_with("# ") && !line.starts_with("#\n"))
            .map(|line| line.trim_start_matches('#'))
            .take_while(|line| !line.trim().is_empty())
            .collect();
        let settings = load_text(&format!("[daemon]\n{list}\n")).unwrap();
        assert_eq!(settings.on_message_env, ON_MESSAGE_ENV);
    }

    #[test]
    fn limits_are_validated_and_named_in_errors() {
        let error = load_text("[limits]\nbatch_pointers = 0\n").unwrap_err().to_string();
        assert!(error.contains("limits.batch_pointers"), "{error}");
        let error = load_text("[limits]\npending_age = \"forever\"\n").unwrap_err().to_string();
        assert!(error.contains("limits.pending_age"), "{error}");
        let error =
            load_text("[daemon]\non_message_env = [\"CLM_BRIDGE_PASSPHRASE\"]\n").unwrap_err().to_string();
        assert!(error.contains("daemon.on_message_env"), "{error}");
        assert_eq!(PASSPHRASE_VARIABLE, crate::app::PASSPHRASE_ENV);
    }

    #[test]
    fn drop_sections_and_routes_validate() {
        let settings = load_text(
            "[drop.usb]\npath = \"/media/usb/clm\"\npoll_interval = \"500ms\"\n[chats.Family]\nroutes = [\"drop.usb\"]\n",
        )
        .unwrap();
        assert_eq!(settings.drops["usb"].poll_interval, Duration::from_millis(500));
        assert_eq!(settings.chat_routes["Family"], vec![RouteSpec::parse("drop.usb").unwrap()]);
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let error =
            load_text("[drop.usb]\npath = \"/x\"\npoll_interval = \"soon\"\n").unwrap_err().to_string();
        assert!(error.contains("config.toml") && error.contains("drop.usb.poll_interval"), "{error}");
        let error = load_text("[chats.F]\nroutes = [\"drop.stick\"]\n").unwrap_err().to_string();
        assert!(error.contains("chats.F.routes[0]"), "{error}");
        let error = load_text("[identity]\nnmae = \"typo\"\n").unwrap_err().to_string();
        assert!(error.contains("nmae"), "{error}");
    }

    #[test]
    fn missing_optional_file_is_empty_settings() {
        let settings = Settings::load(Some(Path::new("/nonexistent/clm/config.toml")), false).unwrap();
        assert_eq!(settings.file, None);
        assert!(Settings::load(Some(Path::new("/nonexistent/clm/config.toml")), true).is_err());
    }

    #[test]
    fn routes_parse_and_print_back() {
        for text in ["drop.usb", "email.work:bob@example.org", "matrix:!room:example.org", "telegram:-100123"]
        {
            assert_eq!(RouteSpec::parse(text).unwrap().to_string(), text);
        }
        let matrix = RouteSpec::parse("matrix:!room:example.org").unwrap();
        assert_eq!((matrix.instance, matrix.target.as_str()), (None, "!room:example.org"));
        assert!(RouteSpec::parse("pigeon:home").is_err());
        assert!(RouteSpec::parse("drop.:x").is_err());
    }
}
