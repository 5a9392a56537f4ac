//! Keeps one transport running: restarts it with jittered exponential backoff when it fails
//! (returns an error, returns without being asked to, or panics), resuming from the cursors
//! stored since. One transport failing never stops the others.

use std::sync::Arc;
use std::time::Duration;

use clm_adapters::{Cursor, Inbound, Transport, TransportError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::{HealthSink, HealthState};
use crate::backoff::Backoff;

/// A request from a supervisor to whoever owns the store: the cursors stored for a transport.
#[derive(Debug)]
pub struct CursorRequest {
    /// The transport instance.
    pub transport: String,
    /// Where the cursors go; dropped if they cannot be read.
    pub reply: oneshot::Sender<Vec<Cursor>>,
}

/// How restarts are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restarts {
    /// The delay after each failure in a row.
    pub backoff: Backoff,
    /// A run that lasted this long counts as healthy: the next failure starts from the first
    /// delay again.
    pub healthy_after: Duration,
}

impl Default for Restarts {
    fn default() -> Restarts {
        Restarts {
            backoff: Backoff { first: Duration::from_secs(1), max: Duration::from_secs(60) },
            healthy_after: Duration::from_secs(60),
        }
    }
}

/// Aborts a task when dropped, so an aborted supervisor takes its transport down with it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `transport` until `stop`, restarting it after failures. The first run starts from
/// `cursors`; each restart asks `cursor_requests` for the cursors stored by then. Returns when
/// stopped, or when the bridge no longer listens (the inbound channel or the store is gone).
/// Each change of state (up, down, stopped) goes to `health` (the API's event log).
pub async fn supervise(
    transport: Arc<dyn Transport>,
    cursors: Vec<Cursor>,
    inbound: mpsc::Sender<Inbound>,
    cursor_requests: mpsc::Sender<CursorRequest>,
    stop: CancellationToken,
    restarts: Restarts,
    health: HealthSink,
) {
    let name = transport.name().to_owned();
    let stopped = |detail: &str| health.report(&name, HealthState::Stopped, detail);
    let mut cursors = cursors;
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        tracing::debug!(transport = %name, cursors = cursors.len(), "starting transport");
        health.report(&name, HealthState::Up, if failures == 0 { "started" } else { "restarted" });
        let run = Arc::clone(&transport).run(cursors, inbound.clone(), stop.child_token());
        let mut task = AbortOnDrop(tokio::spawn(run));
        let outcome = (&mut task.0).await;
        if stop.is_cancelled() {
            if let Err(join) = outcome
                && join.is_panic()
            {
                tracing::error!(transport = %name, "transport panicked while stopping");
            }
            tracing::debug!(transport = %name, "transport stopped");
            stopped("stopped with the daemon");
            return;
        }
        let reason = match outcome {
            Ok(Ok(())) => "it stopped without being asked to".to_owned(),
            Ok(Err(TransportError::Closed)) => return stopped("the bridge no longer listens"),
            Ok(Err(error)) => error.to_string(),
            Err(join) if join.is_panic() => "it panicked".to_owned(),
            Err(_) => "its task was cancelled".to_owned(),
        };
        if inbound.is_closed() {
            return stopped("the bridge no longer listens");
        }
        if started.elapsed() >= restarts.healthy_after {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        let delay = restarts.backoff.jittered(failures);
        health.report(&name, HealthState::Down, format!("{reason}; restarting in {}s", delay.as_secs()));
        tracing::warn!(
            transport = %name, error = %reason, failures, retry_in = ?delay,
            "transport failed; restarting it (the others keep running)"
        );
        tokio::select! {
            () = stop.cancelled() => return stopped("stopped with the daemon"),
            () = tokio::time::sleep(delay) => {}
        }
        let (reply, cursors_read) = oneshot::channel();
        if cursor_requests.send(CursorRequest { transport: name.clone(), reply }).await.is_err() {
            return;
        }
        cursors = tokio::select! {
            () = stop.cancelled() => return,
            read = cursors_read => match read {
                Ok(read) => read,
                Err(_) => return,
            },
        };
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use std::future::Future;
    use std::pin::Pin;

    use clm_adapters::{Route, Sent};

    use super::*;

    type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    const QUICK: Restarts = Restarts {
        backoff: Backoff { first: Duration::from_millis(1), max: Duration::from_millis(4) },
        healthy_after: Duration::from_secs(3600),
    };

    /// Fails (error, clean return, panic) on its first runs, then sends one item per run and
    /// waits to be stopped. Records the cursors each run started from.
    struct Flaky {
        name: String,
        failures: Vec<&'static str>,
        runs: AtomicUsize,
        started_from: Mutex<Vec<Vec<Cursor>>>,
    }

    impl Transport for Flaky {
        fn name(&self) -> &str {
            &self.name
        }

        fn send<'a>(&'a self, _: &'a Route, _: &'a str) -> BoxFuture<'a, Result<Sent, TransportError>> {
            Box::pin(async { Ok(Sent { id: String::new() }) })
        }

        fn run(
            self: Arc<Self>,
            cursors: Vec<Cursor>,
            inbound: mpsc::Sender<Inbound>,
            stop: CancellationToken,
        ) -> BoxFuture<'static, Result<(), TransportError>> {
            Box::pin(async move {
                let run = self.runs.fetch_add(1, Ordering::SeqCst);
                self.started_from.lock().unwrap().push(cursors);
                match self.failures.get(run).copied() {
                    Some("error") => {
                        return Err(TransportError::Unavailable(self.name.clone(), "down".into()));
                    }
                    Some("return") => return Ok(()),
                    Some(_) => panic!("transport bug"),
                    None => {}
                }
                let item = Inbound {
                    transport: self.name.clone(),
                    origin: format!("run {run}"),
                    place: String::new(),
                    text: Vec::new(),
                    cursor: None,
                    committed: None,
                };
                inbound.send(item).await.map_err(|_| TransportError::Closed)?;
                stop.cancelled().await;
                Ok(())
            })
        }
    }

    fn flaky(name: &str, failures: Vec<&'static str>) -> Arc<Flaky> {
        Arc::new(Flaky {
            name: name.into(),
            failures,
            runs: AtomicUsize::new(0),
            started_from: Mutex::default(),
        })
    }

    fn cursor(value: &str) -> Cursor {
        Cursor { key: "k".into(), value: value.into() }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_transport_is_restarted_from_stored_cursors_and_others_keep_running() {
        let broken = flaky("broken", vec!["error", "return", "panic"]);
        let healthy = flaky("healthy", vec![]);
        let (tx, mut rx) = mpsc::channel(8);
        let (requests_tx, mut requests) = mpsc::channel::<CursorRequest>(8);
        let stop = CancellationToken::new();
        let (sink, mut changes) = HealthSink::channel();
        // The store side: every restart gets the cursors "stored" so far.
        let answered = tokio::spawn(async move {
            let mut asked = 0;
            while let Some(request) = requests.recv().await {
                asked += 1;
                assert_eq!(request.transport, "broken");
                let _ = request.reply.send(vec![cursor(&format!("stored {asked}"))]);
            }
            asked
        });
        let supervisors = [
            tokio::spawn(supervise(
                broken.clone(),
                vec![cursor("initial")],
                tx.clone(),
                requests_tx.clone(),
                stop.clone(),
                QUICK,
                sink.clone(),
            )),
            tokio::spawn(supervise(
                healthy.clone(),
                vec![],
                tx,
                requests_tx,
                stop.clone(),
                QUICK,
                sink.clone(),
            )),
        ];
        let mut origins = Vec::new();
        for _ in 0..2 {
            let item = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.unwrap().unwrap();
            origins.push(format!("{} {}", item.transport, item.origin));
        }
        origins.sort();
        assert_eq!(origins, ["broken run 3", "healthy run 0"]);
        stop.cancel();
        for supervisor in supervisors {
            tokio::time::timeout(Duration::from_secs(30), supervisor).await.unwrap().unwrap();
        }
        assert_eq!(answered.await.unwrap(), 3, "one cursor request per restart");
        assert_eq!(healthy.runs.load(Ordering::SeqCst), 1);
        let started_from: Vec<String> =
            broken.started_from.lock().unwrap().iter().map(|c| c[0].value.clone()).collect();
        assert_eq!(started_from, ["initial", "stored 1", "stored 2", "stored 3"]);
        drop(sink);
        let mut states: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
        while let Some(change) = changes.recv().await {
            states.entry(change.transport).or_default().push(change.state.name());
        }
        assert_eq!(states["healthy"], ["up", "stopped"]);
        assert_eq!(states["broken"], ["up", "down", "up", "down", "up", "down", "up", "stopped"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stopping_during_the_backoff_ends_at_once() {
        let broken = flaky("broken", vec!["error"]);
        let (tx, _rx) = mpsc::channel(1);
        let (requests_tx, _requests) = mpsc::channel(1);
        let stop = CancellationToken::new();
        let slow =
            Restarts { backoff: Backoff { first: Duration::from_secs(3600), ..QUICK.backoff }, ..QUICK };
        let supervisor = tokio::spawn(supervise(
            broken.clone(),
            vec![],
            tx,
            requests_tx,
            stop.clone(),
            slow,
            HealthSink::default(),
        ));
        while broken.runs.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), supervisor).await.unwrap().unwrap();
        assert_eq!(broken.runs.load(Ordering::SeqCst), 1);
    }
}
