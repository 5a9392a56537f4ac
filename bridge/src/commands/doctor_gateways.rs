//! `doctor`'s lines for the `[gateway.NAME]` sections, from what the transport checks found: a
//! gateway whose routes' transports all pass is ok; one with a failing route still relays
//! between the others (a warning: relays to that route wait in the outbox), unless fewer than
//! two of its routes work (a failure). A route its transport would not read from (a Telegram
//! chat off `allowed_chats`, a Matrix room off `rooms`) is a warning: nothing arrives from it.

use super::doctor::{Check, Status};
use crate::config::{Gateway, Settings};

/// One line per gateway, after the transports' lines in `checks`.
pub fn check(settings: &Settings, checks: &[Check]) -> Vec<Check> {
    settings.gateways.iter().map(|(name, gateway)| gateway_line(settings, name, gateway, checks)).collect()
}

fn gateway_line(settings: &Settings, name: &str, gateway: &Gateway, checks: &[Check]) -> Check {
    let worst_of = |transport: &str| {
        checks
            .iter()
            .filter(|check| check.check == transport)
            .map(|check| check.status)
            .max()
            .unwrap_or(Status::Ok)
    };
    let routes: Vec<String> =
        gateway.routes.iter().map(|r| format!("{} ({})", r.spec, direction(r.direction))).collect();
    let failing: Vec<String> = gateway
        .routes
        .iter()
        .filter(|r| worst_of(&r.transport()) == Status::Fail)
        .map(|r| r.spec.to_string())
        .collect();
    let unread: Vec<String> = gateway
        .routes
        .iter()
        .filter(|r| r.direction.receives() && !reads_from(settings, r))
        .map(|r| r.spec.to_string())
        .collect();
    let mut detail = format!("relays between {}", routes.join(", "));
    if !failing.is_empty() {
        detail.push_str(&format!(
            "; not reachable now: {} (see its line; relays to it wait in the outbox)",
            failing.join(", ")
        ));
    }
    if !unread.is_empty() {
        detail.push_str(&format!(
            "; its transport does not read {} (allowed_chats or rooms): nothing arrives from it",
            unread.join(", ")
        ));
    }
    let status = if gateway.routes.len() - failing.len() < 2 {
        Status::Fail
    } else if failing.is_empty() && unread.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    Check::new(status, format!("gateway.{name}"), detail)
}

fn direction(direction: crate::config::Direction) -> &'static str {
    match direction {
        crate::config::Direction::In => "in",
        crate::config::Direction::Out => "out",
        crate::config::Direction::Both => "both",
    }
}

/// Whether the route's transport reads the route's place at all.
fn reads_from(settings: &Settings, route: &crate::config::GatewayRoute) -> bool {
    let instance = route.spec.instance.as_deref().unwrap_or_default();
    match route.spec.kind.as_str() {
        "telegram" => settings.telegrams.get(instance).is_none_or(|bot| {
            route.spec.target.parse::<i64>().is_ok_and(|chat| bot.allowed_chats.contains(&chat))
        }),
        "matrix" => settings
            .matrices
            .get(instance)
            .is_none_or(|account| account.rooms.is_empty() || account.rooms.contains(&route.spec.target)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load_text;

    const SETTINGS: &str = "[drop.usb]\npath = \"/tmp/usb\"\n[drop.share]\npath = \"/tmp/share\"\n\
        [telegram.home]\ntoken_env = \"T\"\nallowed_chats = [-100]\n\
        [gateway.g]\nroutes = [\"drop.usb\", \"drop.share\", \"telegram.home:-100\"]\n";

    fn lines(settings: &str, checks: &[Check]) -> Vec<(Status, String)> {
        check(&load_text(settings).unwrap(), checks).into_iter().map(|c| (c.status, c.detail)).collect()
    }

    #[test]
    fn a_gateway_is_as_healthy_as_the_routes_it_can_still_relay_between() {
        let ok = |name: &str| Check::new(Status::Ok, name, "fine");
        let failed = |name: &str| Check::new(Status::Fail, name, "down");
        let all_up = lines(SETTINGS, &[ok("drop.usb"), ok("drop.share"), ok("telegram.home")]);
        assert_eq!(all_up[0].0, Status::Ok);
        assert!(all_up[0].1.contains("drop.usb (both), drop.share (both), telegram.home:-100 (both)"));

        let one_down = lines(SETTINGS, &[ok("drop.usb"), ok("drop.share"), failed("telegram.home")]);
        assert_eq!(one_down[0].0, Status::Warn);
        assert!(one_down[0].1.contains("not reachable now: telegram.home:-100"), "{}", one_down[0].1);

        let two_down = lines(SETTINGS, &[failed("drop.usb"), ok("drop.share"), failed("telegram.home")]);
        assert_eq!(two_down[0].0, Status::Fail);
    }

    #[test]
    fn a_chat_the_bot_does_not_read_is_warned_about() {
        let settings = SETTINGS.replace("allowed_chats = [-100]", "allowed_chats = [-200]");
        let found = lines(&settings, &[]);
        assert_eq!(found[0].0, Status::Warn);
        assert!(found[0].1.contains("does not read telegram.home:-100"), "{}", found[0].1);
    }
}
