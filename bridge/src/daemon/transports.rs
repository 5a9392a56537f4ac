//! The transports the settings configure, as `Arc<dyn Transport>`: every `[drop.NAME]` section
//! is a drop folder named `drop.NAME`. `run` starts them all; `send` builds the one a route
//! names. Transport kinds this build does not carry yet (e-mail, Matrix, Telegram) are refused
//! with a clear error instead of being skipped silently.

use std::sync::Arc;

use clm_adapters::Transport;
use clm_adapters::drop::{DropSettings, DropTransport};

use crate::config::{DropAccount, RouteSpec, Settings};
use crate::error::{Error, usage};
use crate::store::Route as StoredRoute;

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

/// The transport instance name of a drop section: `drop.NAME`.
pub fn drop_name(section: &str) -> String {
    format!("drop.{section}")
}

fn drop_transport(section: &str, account: &DropAccount) -> Arc<DropTransport> {
    let mut settings = DropSettings::new(account.path.clone());
    settings.poll_interval = account.poll_interval;
    Arc::new(DropTransport::new(drop_name(section), settings))
}

/// Every transport the settings configure, in name order.
pub fn configured(settings: &Settings) -> Vec<Adapter> {
    settings
        .drops
        .iter()
        .map(|(section, account)| {
            let drop = drop_transport(section, account);
            let progress = Arc::clone(&drop);
            Adapter { transport: drop, backlog: Box::new(move || progress.backlog()) }
        })
        .collect()
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

/// Resolves a route spec (`drop`, `drop.usb`, `drop.usb:sub`) against the settings.
pub fn resolve(settings: &Settings, spec: &RouteSpec) -> Result<Resolved, Error> {
    match spec.kind.as_str() {
        "drop" => {
            let (section, account) = match &spec.instance {
                Some(instance) => settings.drops.get_key_value(instance).ok_or_else(|| {
                    usage(format!("route `{spec}`: there is no [drop.{instance}] section in the settings"))
                })?,
                None => {
                    let mut drops = settings.drops.iter();
                    match (drops.next(), drops.next()) {
                        (Some(only), None) => only,
                        _ => {
                            return Err(usage(format!(
                                "route `{spec}`: `drop` without an instance needs exactly one [drop.NAME] \
                                 section in the settings (there are {}); name one, e.g. drop.NAME",
                                settings.drops.len()
                            )));
                        }
                    }
                }
            };
            Ok(Resolved {
                transport: drop_transport(section, account),
                route: clm_adapters::Route(spec.target.clone()),
            })
        }
        kind => Err(usage(format!(
            "route `{spec}`: the {kind} transport is not available in this build of clm-bridge (drop folders are)"
        ))),
    }
}

/// Resolves a route stored with `chat route`.
pub fn resolve_stored(settings: &Settings, route: &StoredRoute) -> Result<Resolved, Error> {
    let text = if route.target.is_empty() {
        route.transport.clone()
    } else {
        format!("{}:{}", route.transport, route.target)
    };
    let spec = RouteSpec::parse(&text).map_err(|reason| usage(format!("stored route: {reason}")))?;
    resolve(settings, &spec)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    fn settings(drops: &[&str]) -> Settings {
        let mut settings = Settings::default();
        for name in drops {
            settings.drops.insert(
                (*name).to_owned(),
                DropAccount {
                    path: PathBuf::from(format!("/srv/{name}")),
                    poll_interval: Duration::from_secs(3),
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
        let adapters = configured(&settings(&["usb", "nas"]));
        let names: Vec<&str> = adapters.iter().map(Adapter::name).collect();
        assert_eq!(names, ["drop.nas", "drop.usb"]);
        assert_eq!(adapters[0].backlog(), 0, "nothing found before it runs");
        assert!(configured(&Settings::default()).is_empty());
    }

    #[test]
    fn drop_routes_resolve_to_their_section() {
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
        let message =
            |settings: &Settings, text: &str| resolve(settings, &spec(text)).unwrap_err().to_string();
        let two = settings(&["usb", "nas"]);
        assert!(message(&two, "drop").contains("exactly one [drop.NAME]"));
        assert!(message(&two, "drop.stick").contains("no [drop.stick] section"));
        assert!(message(&two, "email.work:bob@example.org").contains("not available in this build"));
        assert!(message(&Settings::default(), "drop").contains("there are 0"));
    }
}
