//! Gateways at work (`[gateway.NAME]`): for a pointer that arrived, the routes it is relayed to.
//! Pure: fed the arrival's transport and place, the pointer's format, whether a known chat
//! opened it and `now`; the store then records each relay at most once per gateway and route
//! (`store/relays.rs`) and the outbox carries it. No key is needed: a pointer is relayed as its
//! canonical text, never with the text around it.

use std::collections::BTreeMap;

use clm_core::Format;

use super::OriginQuota;
use crate::config::{ChatsRelayed, Gateway, GatewayRoute};
use crate::store::RelayTarget;

/// Where a pointer arrived: the transport instance and the place in it
/// ([`clm_adapters::Inbound::place`]).
#[derive(Debug, Clone, Copy)]
pub struct Arrived<'a> {
    /// Transport instance (`telegram.home`).
    pub transport: &'a str,
    /// Chat id, room id, or empty for a folder or a mailbox.
    pub place: &'a str,
}

/// One gateway's relay of one pointer: where it arrived, where it may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// The gateway's name.
    pub gateway: String,
    /// The route it arrived on (as written): marked as holding the pointer.
    pub arrived_on: String,
    /// Every other route that sends, in the order written.
    pub targets: Vec<RelayTarget>,
}

/// Why a pointer that arrived on a gateway's route is not relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Its format is not among the gateway's `formats`.
    Format,
    /// The gateway relays only known chats' pointers, or only unknown ones.
    Chat,
    /// Its route relayed `unknown_per_route` pointers of unknown chats this period already.
    Quota,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Held::Format => "its format is not among the gateway's formats",
            Held::Chat => "the gateway relays only known chats' pointers, or only unknown ones",
            Held::Quota => "its route relayed unknown_per_route pointers of unknown chats this period",
        })
    }
}

/// The configured gateways, each with its quota of unknown pointers per route.
#[derive(Debug)]
pub struct Gateways {
    gateways: Vec<(String, Gateway, OriginQuota)>,
}

impl Gateways {
    /// The gateways of the settings; quotas counted per `period_seconds`.
    pub fn new(gateways: &BTreeMap<String, Gateway>, period_seconds: u64) -> Gateways {
        let gateways = gateways
            .iter()
            .map(|(name, gateway)| {
                let quota = OriginQuota::new(gateway.unknown_per_route, period_seconds);
                (name.clone(), gateway.clone(), quota)
            })
            .collect();
        Gateways { gateways }
    }

    /// True when no gateway is configured (nothing to plan).
    pub fn is_empty(&self) -> bool {
        self.gateways.is_empty()
    }

    /// The relays of a pointer of `format` that arrived at `arrived` (`known`: a chat of this
    /// bridge opened it), and for each gateway that holds it back, why.
    pub fn plan(&mut self, arrived: Arrived<'_>, format: Format, known: bool, now: u64) -> Planned {
        let mut planned = Planned::default();
        for (name, gateway, quota) in &mut self.gateways {
            let Some(from) = gateway.routes.iter().find(|route| receives_from(route, arrived)) else {
                continue;
            };
            let arrived_on = from.spec.to_string();
            let held = if !gateway.formats.iter().any(|f| f == format_family(format)) {
                Some(Held::Format)
            } else if matches!(
                (gateway.relay, known),
                (ChatsRelayed::Known, false) | (ChatsRelayed::Unknown, true)
            ) {
                Some(Held::Chat)
            } else if !known && !quota.admit(&arrived_on, "", now) {
                Some(Held::Quota)
            } else {
                None
            };
            if let Some(why) = held {
                planned.held.push((name.clone(), why));
                continue;
            }
            let targets = gateway
                .routes
                .iter()
                .filter(|to| to.direction.sends() && to.spec != from.spec)
                .map(|to| RelayTarget {
                    route: to.spec.to_string(),
                    transport: to.transport(),
                    target: to.spec.target.clone(),
                })
                .collect();
            planned.relays.push(Relay { gateway: name.clone(), arrived_on, targets });
        }
        planned
    }
}

/// What [`Gateways::plan`] decided for one pointer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Planned {
    /// One per gateway that relays it.
    pub relays: Vec<Relay>,
    /// Gateways whose route it arrived on that hold it back, and why.
    pub held: Vec<(String, Held)>,
}

/// A route pointers are relayed from matches an arrival on its transport, in its place (a
/// folder or a mailbox is one place: its arrivals name none).
fn receives_from(route: &GatewayRoute, arrived: Arrived<'_>) -> bool {
    route.direction.receives()
        && route.transport() == arrived.transport
        && (arrived.place.is_empty() || route.spec.target == arrived.place)
}

/// The name `formats = [...]` uses: native v1 and v2 are both `native`.
fn format_family(format: Format) -> &'static str {
    match format {
        Format::Native | Format::Native2 => "native",
        other => other.name(),
    }
}

/// A gateway of `routes` (each both ways) relaying native and clm202 pointers of all chats,
/// for tests.
#[cfg(test)]
pub(crate) fn test_gateway(routes: &[&str]) -> Gateway {
    let routes = routes.iter().map(|text| tests::route(text, crate::config::Direction::Both)).collect();
    Gateway {
        routes,
        formats: vec!["native".into(), "clm202".into()],
        relay: ChatsRelayed::All,
        unknown_per_route: 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Direction, RouteSpec};

    pub(super) fn route(text: &str, direction: Direction) -> GatewayRoute {
        GatewayRoute { spec: RouteSpec::parse(text).unwrap(), direction }
    }

    fn gateways(routes: Vec<GatewayRoute>, relay: ChatsRelayed, unknown_per_route: u32) -> Gateways {
        let gateway = Gateway { routes, relay, unknown_per_route, ..test_gateway(&[]) };
        Gateways::new(&BTreeMap::from([("g".to_owned(), gateway)]), 3600)
    }

    fn targets(planned: &Planned) -> Vec<&str> {
        planned.relays.iter().flat_map(|r| r.targets.iter().map(|t| t.route.as_str())).collect()
    }

    const AT: u64 = 1_763_700_000;

    fn home() -> Gateways {
        gateways(
            vec![
                route("telegram.home:-100", Direction::Both),
                route("matrix.home:!room:example.org", Direction::Both),
                route("drop.usb", Direction::In),
                route("email.list:l@example.org", Direction::Out),
            ],
            ChatsRelayed::All,
            1000,
        )
    }

    #[test]
    fn a_pointer_goes_to_every_other_route_that_sends() {
        let mut gateways = home();
        let telegram = Arrived { transport: "telegram.home", place: "-100" };
        let planned = gateways.plan(telegram, Format::Native2, false, AT);
        assert_eq!(planned.relays[0].arrived_on, "telegram.home:-100");
        assert_eq!(targets(&planned), ["matrix.home:!room:example.org", "email.list:l@example.org"]);
        let target = &planned.relays[0].targets[1];
        assert_eq!((target.transport.as_str(), target.target.as_str()), ("email.list", "l@example.org"));

        let usb = Arrived { transport: "drop.usb", place: "" };
        assert_eq!(
            targets(&gateways.plan(usb, Format::Clm202, true, AT)),
            ["telegram.home:-100", "matrix.home:!room:example.org", "email.list:l@example.org"]
        );
    }

    #[test]
    fn what_arrives_elsewhere_or_on_an_out_route_is_not_relayed() {
        let mut gateways = home();
        for (transport, place) in [
            ("telegram.home", "-200"),
            ("telegram.work", "-100"),
            ("matrix.home", "!other:example.org"),
            ("email.list", ""),
            ("drop.share", ""),
        ] {
            let planned = gateways.plan(Arrived { transport, place }, Format::Native2, false, AT);
            assert_eq!(planned, Planned::default(), "{transport} {place}");
        }
    }

    #[test]
    fn formats_and_the_chats_relayed_hold_pointers_back() {
        let telegram = Arrived { transport: "telegram.home", place: "-100" };
        let mut gateways = home();
        let planned = gateways.plan(telegram, Format::Clm201, false, AT);
        assert_eq!(
            (planned.relays.len(), planned.held.as_slice()),
            (0, &[("g".to_owned(), Held::Format)][..])
        );

        let mut known_only = gateways_with(ChatsRelayed::Known);
        assert_eq!(known_only.plan(telegram, Format::Native, false, AT).held, [("g".to_owned(), Held::Chat)]);
        assert_eq!(known_only.plan(telegram, Format::Native, true, AT).relays.len(), 1);
        let mut unknown_only = gateways_with(ChatsRelayed::Unknown);
        assert_eq!(
            unknown_only.plan(telegram, Format::Native, true, AT).held,
            [("g".to_owned(), Held::Chat)]
        );
        assert_eq!(unknown_only.plan(telegram, Format::Native, false, AT).relays.len(), 1);
    }

    fn gateways_with(relay: ChatsRelayed) -> Gateways {
        gateways(
            vec![route("telegram.home:-100", Direction::Both), route("drop.usb", Direction::Both)],
            relay,
            1000,
        )
    }

    #[test]
    fn unknown_pointers_are_relayed_within_the_route_quota_and_known_ones_always() {
        let mut gateways = gateways(
            vec![route("drop.usb", Direction::Both), route("drop.share", Direction::Both)],
            ChatsRelayed::All,
            3,
        );
        let usb = Arrived { transport: "drop.usb", place: "" };
        let relayed =
            (0..5).filter(|_| !gateways.plan(usb, Format::Native2, false, AT).relays.is_empty()).count();
        assert_eq!(relayed, 3);
        assert_eq!(gateways.plan(usb, Format::Native2, false, AT).held, [("g".to_owned(), Held::Quota)]);
        assert_eq!(gateways.plan(usb, Format::Native2, true, AT).relays.len(), 1, "a known chat's pointer");
        let share = Arrived { transport: "drop.share", place: "" };
        assert_eq!(gateways.plan(share, Format::Native2, false, AT).relays.len(), 1, "another route's quota");
        assert_eq!(gateways.plan(usb, Format::Native2, false, AT + 3600).relays.len(), 1, "the next period");
    }
}
