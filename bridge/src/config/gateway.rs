//! `[gateway.NAME]`: a gateway relays the pointers that arrive on one of its routes to all its
//! other routes, for chats this bridge knows or not (a pointer opens only with its chat's
//! secret, so carrying it reveals nothing). Parsed here, validated once against the
//! transports configured; the relaying itself is `crate::gateway`.

use serde::Deserialize;

use super::{RouteSpec, Settings};

/// One gateway as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGateway {
    routes: Vec<RawRoute>,
    #[serde(default)]
    formats: Option<Vec<String>>,
    #[serde(default)]
    relay: Option<String>,
    #[serde(default)]
    unknown_per_route: Option<u32>,
}

/// A route as written: `"drop.usb"`, or `{ route = "drop.usb", direction = "in" }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Both(String),
    Directed {
        route: String,
        #[serde(default)]
        direction: Option<String>,
    },
}

/// Which ways pointers go on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What arrives there is relayed; nothing is sent there.
    In,
    /// Pointers are sent there; what arrives there is not relayed.
    Out,
    /// Both.
    Both,
}

impl Direction {
    /// What arrives on the route is relayed.
    pub fn receives(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }

    /// Pointers are relayed to the route.
    pub fn sends(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }
}

/// Which pointers a gateway relays, by what this bridge knows of their chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatsRelayed {
    /// Every pointer (the default).
    All,
    /// Only pointers of chats this bridge knows.
    Known,
    /// Only pointers of chats this bridge does not know.
    Unknown,
}

/// A gateway's route, its transport instance named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRoute {
    /// The route, instance filled in (`drop` alone becomes `drop.usb` when it is the only one).
    pub spec: RouteSpec,
    /// Which ways pointers go on it.
    pub direction: Direction,
}

impl GatewayRoute {
    /// The transport instance (`telegram.home`).
    pub fn transport(&self) -> String {
        format!("{}.{}", self.spec.kind, self.spec.instance.as_deref().unwrap_or_default())
    }
}

/// The pointer formats a gateway may relay (`formats = [...]`).
pub const FORMATS: [&str; 3] = ["native", "clm202", "clm201"];

/// Pointers of unknown chats relayed from one route per `limits.origin_period` by default: a
/// stranger who floods one route cannot make the gateway flood the others. Per route, not per
/// sender: a drop folder's file names and Telegram's message ids name no sender to count by.
pub const DEFAULT_UNKNOWN_PER_ROUTE: u32 = 1000;

/// A validated gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// Its routes, in the order written.
    pub routes: Vec<GatewayRoute>,
    /// The formats it relays (`native`, `clm202`, `clm201`).
    pub formats: Vec<String>,
    /// Which pointers it relays.
    pub relay: ChatsRelayed,
    /// Pointers of unknown chats relayed from one route per period; known chats' are never held.
    pub unknown_per_route: u32,
}

/// Validates `[gateway.NAME]`; `Err((key, reason))` names the key at fault below it.
pub(super) fn validate(raw: RawGateway, settings: &Settings) -> Result<Gateway, (String, String)> {
    let mut routes: Vec<GatewayRoute> = Vec::new();
    for (i, raw_route) in raw.routes.into_iter().enumerate() {
        let key = format!("routes[{i}]");
        let route = gateway_route(raw_route, settings).map_err(|reason| (key.clone(), reason))?;
        if routes.iter().any(|r| r.spec == route.spec) {
            return Err((key, format!("`{}` is listed twice", route.spec)));
        }
        // A folder or a mailbox is one place: two routes receiving from it would be one.
        let one_place = matches!(route.spec.kind.as_str(), "drop" | "email");
        if one_place
            && route.direction.receives()
            && let Some(other) =
                routes.iter().find(|r| r.direction.receives() && r.transport() == route.transport())
        {
            return Err((
                key,
                format!("`{}` and `{}` receive from the same place: make one `out`", other.spec, route.spec),
            ));
        }
        routes.push(route);
    }
    let relays_somewhere = routes.iter().any(|from| {
        from.direction.receives() && routes.iter().any(|to| to.spec != from.spec && to.direction.sends())
    });
    if !relays_somewhere {
        return Err((
            "routes".into(),
            "needs a route pointers arrive on (in or both) and another they go to (out or both)".into(),
        ));
    }
    let formats = match raw.formats {
        None => FORMATS.iter().map(|f| (*f).to_owned()).collect(),
        Some(list) if list.iter().any(|f| f == "all") => FORMATS.iter().map(|f| (*f).to_owned()).collect(),
        Some(list) => {
            if let Some(bad) = list.iter().find(|f| !FORMATS.contains(&f.as_str())) {
                return Err((
                    "formats".into(),
                    format!("unknown format `{bad}` (native, clm202, clm201 or all)"),
                ));
            }
            if list.is_empty() {
                return Err(("formats".into(), "is empty: name at least one format, or `all`".into()));
            }
            list
        }
    };
    let relay = match raw.relay.as_deref() {
        None | Some("all") => ChatsRelayed::All,
        Some("known") => ChatsRelayed::Known,
        Some("unknown") => ChatsRelayed::Unknown,
        Some(other) => return Err(("relay".into(), format!("`{other}`: one of all, known, unknown"))),
    };
    let unknown_per_route = raw.unknown_per_route.unwrap_or(DEFAULT_UNKNOWN_PER_ROUTE);
    Ok(Gateway { routes, formats, relay, unknown_per_route })
}

fn gateway_route(raw: RawRoute, settings: &Settings) -> Result<GatewayRoute, String> {
    let (text, direction) = match raw {
        RawRoute::Both(text) => (text, None),
        RawRoute::Directed { route, direction } => (route, direction),
    };
    let direction = match direction.as_deref() {
        None | Some("both") => Direction::Both,
        Some("in") => Direction::In,
        Some("out") => Direction::Out,
        Some(other) => return Err(format!("direction `{other}`: one of in, out, both")),
    };
    let mut spec = RouteSpec::parse(&text)?;
    if let Some(reason) = settings.unconfigured(&spec.kind, spec.instance.as_deref()) {
        return Err(format!("`{spec}`: {reason}"));
    }
    if spec.instance.is_none() {
        // `unconfigured` said there is exactly one.
        spec.instance = settings.instances(&spec.kind).first().map(|name| (*name).to_owned());
    }
    check_target(&spec)?;
    Ok(GatewayRoute { spec, direction })
}

/// A route's target as the gateway matches arrivals on it: a Telegram chat id, a Matrix room
/// id (not an alias: arrivals name the room by id), an e-mail address, nothing for a folder.
fn check_target(spec: &RouteSpec) -> Result<(), String> {
    let target = spec.target.as_str();
    let fine = match spec.kind.as_str() {
        "drop" => target.is_empty(),
        "telegram" => target.parse::<i64>().is_ok(),
        "matrix" => target.starts_with('!') && target.len() > 1,
        "email" => target.contains('@'),
        _ => true,
    };
    if fine {
        return Ok(());
    }
    Err(match spec.kind.as_str() {
        "drop" => format!("`{spec}`: a drop folder's route names no target"),
        "telegram" => format!("`{spec}`: needs the chat's numeric id (telegram.NAME:-100...)"),
        "matrix" => format!("`{spec}`: needs the room's id (matrix.NAME:!id), not an alias"),
        _ => format!("`{spec}`: needs the address pointers are sent to (email.NAME:list@example.org)"),
    })
}
