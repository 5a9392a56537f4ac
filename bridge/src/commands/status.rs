//! `clm-bridge status`: whether a daemon serves the data directory (asked over its API: its
//! process, version and transports' health), and what the store holds. Without a daemon the
//! store is read here, without the vault: counts and ids are all it needs, and they are clear.

use std::io::Write;

use serde::Serialize;

use super::Outcome;
use super::remote::{call, connect};
use crate::api::types::{Counts, DaemonInfo, EventRange, GatewayStatus, NoParams, Status, TransportHealth};
use crate::app;
use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::Error;
use crate::store::Store;
use crate::times::format_time;

/// `status --json`. Field order is the key order.
#[derive(Debug, Serialize)]
struct StatusJson<'a> {
    data_dir: &'a str,
    /// `null` when no daemon runs.
    daemon: Option<&'a DaemonInfo>,
    transports: &'a [TransportHealth],
    counts: &'a Counts,
    events: &'a EventRange,
    gateways: &'a [GatewayStatus],
}

/// Runs `status`.
pub fn run(global: &GlobalArgs, args: StatusArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let status = match connect(global)? {
        Some(mut client) => call::<_, Status>(&mut client, "status", &NoParams {})?,
        None => local(global)?,
    };
    let running = status.daemon.pid != 0;
    let text = if args.json {
        let line = StatusJson {
            data_dir: &status.daemon.data_dir,
            daemon: running.then_some(&status.daemon),
            transports: &status.transports,
            counts: &status.counts,
            events: &status.events,
            gateways: &status.gateways,
        };
        format!("{}\n", crate::display::json_text(&line).as_str())
    } else {
        text(&status, running, app::now()?.cast_signed())
    };
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(Error::Output)?;
    Ok(Outcome::Done)
}

/// The status read from the store itself (no daemon: pid 0).
fn local(global: &GlobalArgs) -> Result<Status, Error> {
    let locations = global.locations();
    let settings = app::load_settings(&locations)?;
    let data_dir = app::data_dir(&locations, &settings)?;
    if !data_dir.db_path().exists() {
        return Err(Error::Usage(format!(
            "no bridge in {}: run `clm-bridge init --name NAME` first",
            data_dir.root().display()
        )));
    }
    let store = Store::open(&data_dir.db_path())?;
    let counts = store.counts()?;
    Ok(Status {
        daemon: DaemonInfo {
            pid: 0,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            api_version: crate::api::API_VERSION,
            started_at: 0,
            data_dir: data_dir.root().display().to_string(),
            schema_version: store.schema_version()?,
        },
        transports: Vec::new(),
        counts: Counts {
            chats: counts.chats,
            messages: counts.messages,
            trashed: counts.trashed,
            pending: counts.pending,
            outbox_queued: counts.queued,
            outbox_failed: counts.failed,
        },
        events: EventRange { first: store.first_event_id()?, last: store.event_sequence()? },
        gateways: GatewayStatus::all(&settings, &[], None),
    })
}

fn text(status: &Status, running: bool, now: i64) -> String {
    let daemon = &status.daemon;
    let mut text = if running {
        format!(
            "daemon: running (pid {}, clm-bridge {}, API {}, up {})\n",
            daemon.pid,
            daemon.version,
            daemon.api_version,
            duration(now.saturating_sub(daemon.started_at))
        )
    } else {
        "daemon: not running (commands open the store themselves)\n".to_owned()
    };
    text.push_str(&format!("data dir: {}\n", daemon.data_dir));
    if running {
        text.push_str("transports:\n");
        for transport in &status.transports {
            let detail =
                if transport.detail.is_empty() { String::new() } else { format!(" ({})", transport.detail) };
            let since = format_time(transport.since);
            text.push_str(&format!("  {}: {} since {since}{detail}\n", transport.name, transport.state));
        }
    }
    let counts = &status.counts;
    text.push_str(&format!("chats: {}\n", counts.chats));
    text.push_str(&format!("messages: {} ({} in the trash)\n", counts.messages, counts.trashed));
    text.push_str(&format!("pending: {}\n", counts.pending));
    text.push_str(&format!("outbox: {} queued, {} failed\n", counts.outbox_queued, counts.outbox_failed));
    match status.events.first {
        Some(first) => text.push_str(&format!("events: {first} to {}\n", status.events.last)),
        None => text.push_str(&format!("events: none kept (last id {})\n", status.events.last)),
    }
    for gateway in &status.gateways {
        let queued = gateway.relays_queued.map(|n| format!(" ({n} relays queued)")).unwrap_or_default();
        text.push_str(&format!("gateway {}{queued}:\n", gateway.name));
        for route in &gateway.routes {
            text.push_str(&format!("  {} ({}): {}\n", route.route, route.direction, route.state));
        }
    }
    text
}

/// `3d4h`, `2h5m`, `4m10s`, `12s`.
fn duration(seconds: i64) -> String {
    let (days, hours, minutes, seconds) =
        (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m{seconds}s"),
        (0, _, _) => format!("{hours}h{minutes}m"),
        _ => format!("{days}d{hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(12), "12s");
        assert_eq!(duration(250), "4m10s");
        assert_eq!(duration(7500), "2h5m");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5), "3d4h");
    }
}
