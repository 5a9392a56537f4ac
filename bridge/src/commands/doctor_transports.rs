//! `doctor`'s live checks of the `[email.NAME]`, `[matrix.NAME]` and `[telegram.NAME]`
//! sections: each account's adapter self-check (`clm_adapters::*::check`), all run at once on
//! one runtime, each bounded by `--timeout` as a whole. An account whose secret cannot be read
//! or whose transport cannot be built is a FAIL line, never the end of `doctor`. Transports are
//! built and secrets read by the same code as the daemon's (`crate::transports`); no line ever
//! holds a secret (the adapters' details never do, and the setup errors name where a secret
//! comes from, not what it is).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use clm_adapters::{Check as Finding, CheckStatus};

use super::doctor::{Check, Status};
use crate::config::Settings;
use crate::store::Store;
use crate::transports::Context;

/// What `doctor` opened that transports may need: the Matrix ones keep their session sealed in
/// the vault and their sync position in the store.
#[derive(Debug, Clone, Copy)]
pub struct Unlocked<'a> {
    /// The data directory and the vault.
    pub context: &'a Context,
    /// The store, unlocked with the vault.
    pub store: &'a Store,
}

/// A live self-check, ready to be polled.
type Live = Pin<Box<dyn Future<Output = Vec<Finding>> + Send>>;

/// One account's line(s) to come, in config order.
// Without any live transport compiled in, only `Known` is ever made.
#[cfg_attr(not(any(feature = "email", feature = "matrix", feature = "telegram")), allow(dead_code))]
enum Planned {
    /// Decided without the network (its secret could not be read, say).
    Known(Check),
    /// To run: the line's name, what it talks to (for the timeout line), the check.
    Live { name: String, server: String, check: Live },
}

/// Every e-mail, Matrix and Telegram account's checks, in kind then name order (as the
/// daemon starts them). `unlocked` is `None` when the store or the vault did not open.
pub fn check(settings: &Settings, unlocked: Option<Unlocked<'_>>, timeout: Duration) -> Vec<Check> {
    let mut planned = email(settings, timeout);
    planned.extend(matrix(settings, unlocked, timeout));
    planned.extend(telegram(settings, timeout));
    run_all(planned, timeout)
}

/// A FAIL line of account `name`.
fn failed(name: String, detail: impl Into<String>) -> Planned {
    Planned::Known(Check::new(Status::Fail, name, detail))
}

/// Every section of a kind this build has no transport for: the bridge could not run them.
#[cfg_attr(all(feature = "email", feature = "matrix", feature = "telegram"), allow(dead_code))]
fn not_built(settings: &Settings, kind: &str) -> Vec<Planned> {
    let why = format!("not checked: this clm-bridge was built without the {kind} transport");
    settings.instances(kind).into_iter().map(|name| failed(format!("{kind}.{name}"), why.clone())).collect()
}

/// Plans every section of one kind, in name order: `plan` reads the section's secret and
/// builds its check (what it talks to, and the future), or says why it cannot.
#[cfg_attr(not(any(feature = "email", feature = "matrix", feature = "telegram")), allow(dead_code))]
fn each<T>(
    sections: &BTreeMap<String, T>,
    kind: &str,
    plan: impl Fn(&str, &T) -> Result<(String, Live), String>,
) -> Vec<Planned> {
    let plan_one = |(section, account): (&String, &T)| {
        let name = format!("{kind}.{section}");
        match plan(section, account) {
            Ok((server, check)) => Planned::Live { name, server, check },
            Err(why) => failed(name, why),
        }
    };
    sections.iter().map(plan_one).collect()
}

#[cfg(feature = "email")]
fn email(settings: &Settings, timeout: Duration) -> Vec<Planned> {
    each(&settings.emails, "email", |section, account| {
        let password = crate::transports::email::password(section, account).map_err(|e| e.to_string())?;
        let smtp = account.smtp();
        let server = match account.imap() {
            Some(imap) => format!("SMTP {}:{}, IMAP {}:{}", smtp.host, smtp.port, imap.host, imap.port),
            None => format!("SMTP {}:{}", smtp.host, smtp.port),
        };
        let account = account.clone();
        let check: Live = Box::pin(async move {
            let password = password.as_ref().map(|password| password.as_str());
            clm_adapters::email::check(&account, password, timeout).await
        });
        Ok((server, check))
    })
}

#[cfg(not(feature = "email"))]
fn email(settings: &Settings, _timeout: Duration) -> Vec<Planned> {
    not_built(settings, "email")
}

#[cfg(feature = "matrix")]
fn matrix(settings: &Settings, unlocked: Option<Unlocked<'_>>, timeout: Duration) -> Vec<Planned> {
    each(&settings.matrices, "matrix", |section, account| {
        let Some(Unlocked { context, store }) = unlocked else {
            return Err("not checked: its session is sealed in the vault, which did not open".to_owned());
        };
        let transport =
            crate::transports::matrix::transport(section, account, context).map_err(|e| e.to_string())?;
        let cursors = store
            .transport_cursors(&format!("matrix.{section}"))
            .map_err(|e| format!("cannot read its stored sync position: {e}"))?;
        let check: Live =
            Box::pin(async move { clm_adapters::matrix::check(&transport, &cursors, timeout).await });
        Ok((account.homeserver.clone(), check))
    })
}

#[cfg(not(feature = "matrix"))]
fn matrix(settings: &Settings, _unlocked: Option<Unlocked<'_>>, _timeout: Duration) -> Vec<Planned> {
    not_built(settings, "matrix")
}

#[cfg(feature = "telegram")]
fn telegram(settings: &Settings, timeout: Duration) -> Vec<Planned> {
    each(&settings.telegrams, "telegram", |section, account| {
        let bot = crate::transports::telegram::transport(section, account).map_err(|e| e.to_string())?;
        let check: Live = Box::pin(async move { clm_adapters::telegram::check(&bot, timeout).await });
        // The Bot API's base URL: the token is added per request, never kept in it.
        Ok((format!("the Bot API at {}", account.api_url), check))
    })
}

#[cfg(not(feature = "telegram"))]
fn telegram(settings: &Settings, _timeout: Duration) -> Vec<Planned> {
    not_built(settings, "telegram")
}

/// Runs every live check at once and returns all lines in the planned order.
fn run_all(planned: Vec<Planned>, timeout: Duration) -> Vec<Check> {
    if !planned.iter().any(|plan| matches!(plan, Planned::Live { .. })) {
        return unrun(planned, "");
    }
    // Several worker threads: a check that blocks a thread for a while (a slow name lookup)
    // must not hold back the others' timers.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            return unrun(planned, &format!("not checked: cannot start the async runtime: {error}"));
        }
    };
    let lines = runtime.block_on(async move {
        // Spawned first, awaited after: they all run together, and a check that panics is
        // its own FAIL line.
        let running: Vec<_> = planned
            .into_iter()
            .map(|plan| match plan {
                Planned::Known(check) => Err(check),
                Planned::Live { name, server, check } => {
                    Ok((name, server, tokio::spawn(tokio::time::timeout(timeout, check))))
                }
            })
            .collect();
        let mut lines = Vec::new();
        for task in running {
            match task {
                Err(check) => lines.push(check),
                Ok((name, server, handle)) => lines.extend(finished(&name, &server, timeout, handle.await)),
            }
        }
        lines
    });
    // A name lookup still hanging on a blocking thread is left behind, not waited for.
    runtime.shutdown_background();
    lines
}

/// The lines of plans that are not run: live ones fail with `why`.
fn unrun(planned: Vec<Planned>, why: &str) -> Vec<Check> {
    let line = |plan: Planned| match plan {
        Planned::Known(check) => check,
        Planned::Live { name, .. } => Check::new(Status::Fail, name, why),
    };
    planned.into_iter().map(line).collect()
}

/// The lines of one finished (or timed out, or panicked) check.
fn finished(
    name: &str,
    server: &str,
    timeout: Duration,
    outcome: Result<Result<Vec<Finding>, tokio::time::error::Elapsed>, tokio::task::JoinError>,
) -> Vec<Check> {
    match outcome {
        Ok(Ok(findings)) if findings.is_empty() => {
            vec![Check::new(Status::Fail, name, "the check found nothing to report")]
        }
        Ok(Ok(findings)) => findings.into_iter().map(|finding| line(name, finding)).collect(),
        Ok(Err(_elapsed)) => vec![Check::new(
            Status::Fail,
            name,
            format!("timed out after {timeout:?}: no complete answer from {server} (--timeout)"),
        )],
        Err(error) => vec![Check::new(Status::Fail, name, format!("the check stopped: {error}"))],
    }
}

/// One adapter finding as a doctor line: the account names the line, the finding's own label
/// leads its detail.
fn line(name: &str, finding: Finding) -> Check {
    let status = match finding.status {
        CheckStatus::Ok => Status::Ok,
        CheckStatus::Warning => Status::Warn,
        CheckStatus::Failure => Status::Fail,
    };
    Check::new(status, name, format!("{}: {}", finding.what, finding.detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(name: &str, findings: Vec<Finding>, delay: Duration) -> Planned {
        let check = Box::pin(async move {
            tokio::time::sleep(delay).await;
            findings
        });
        Planned::Live { name: name.into(), server: format!("{name}'s server"), check }
    }

    fn summary(checks: &[Check]) -> Vec<(Status, &str, &str)> {
        checks.iter().map(|c| (c.status, c.check.as_str(), c.detail.as_str())).collect()
    }

    #[test]
    fn findings_become_lines_in_plan_order_and_a_slow_check_times_out_alone() {
        let started = std::time::Instant::now();
        let planned = vec![
            live("email.slow", vec![Finding::ok("SMTP connection", "never seen")], Duration::from_secs(30)),
            failed("email.nopass".into(), "[email.nopass] password: the secret from file /x is empty"),
            live(
                "telegram.bot",
                vec![
                    Finding::ok("Telegram bot token", "accepted"),
                    Finding::warning("Telegram privacy mode", "on"),
                ],
                Duration::ZERO,
            ),
        ];
        let lines = run_all(planned, Duration::from_millis(300));
        assert!(started.elapsed() < Duration::from_secs(5), "the slow check was cut off");
        assert_eq!(
            summary(&lines),
            [
                (
                    Status::Fail,
                    "email.slow",
                    "timed out after 300ms: no complete answer from email.slow's server (--timeout)"
                ),
                (Status::Fail, "email.nopass", "[email.nopass] password: the secret from file /x is empty"),
                (Status::Ok, "telegram.bot", "Telegram bot token: accepted"),
                (Status::Warn, "telegram.bot", "Telegram privacy mode: on"),
            ]
        );
    }

    #[test]
    fn a_check_that_panics_is_a_failed_line() {
        let check: Live = Box::pin(async { panic!("a bug in an adapter") });
        let planned = vec![Planned::Live { name: "matrix.home".into(), server: "there".into(), check }];
        let lines = run_all(planned, Duration::from_secs(5));
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].status, lines[0].check.as_str()), (Status::Fail, "matrix.home"));
        assert!(lines[0].detail.starts_with("the check stopped"), "{}", lines[0].detail);
    }
}
