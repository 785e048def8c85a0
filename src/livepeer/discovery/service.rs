//! The discovery cache: one background task polls the orchestrators and
//! publishes immutable snapshots; requests only read the latest one.
//!
//! * A non-empty snapshot is served for `refresh_interval_s`, then rebuilt
//!   in the background while it keeps being served.
//! * An empty snapshot (or none yet) answers 503 and is rebuilt on the
//!   next request (go-livepeer #3973), at most once per
//!   [`MIN_POLL_GAP`], and every [`EMPTY_RETRY`] even without requests.
//! * The candidate list is read from its source at most once per
//!   [`candidates_ttl`] (so retries of an empty snapshot do not hammer the
//!   RPC node or the webhook), and the last one read is kept when the
//!   webhook or the chain fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use tokio::sync::Notify;
use url::Url;

use super::poll::{PollOutcome, Poller, ERROR_KINDS};
use super::snapshot::{Ceilings, Snapshot};
use crate::config::{DiscoveryConfig, DiscoverySource, PaymentsConfig};
use crate::metrics::METRICS;

/// Shortest time between two polls while nothing is known.
pub const MIN_POLL_GAP: Duration = Duration::from_secs(1);
/// How often an empty snapshot is rebuilt when no request asks.
pub const EMPTY_RETRY: Duration = Duration::from_secs(30);

/// How long a candidate list is reused: the refresh interval, at most a
/// minute (go-livepeer caches webhook answers for a minute).
pub fn candidates_ttl(refresh_every: Duration) -> Duration {
    refresh_every.min(Duration::from_secs(60))
}

/// A published snapshot and when it was taken.
#[derive(Debug)]
struct Published {
    snapshot: Snapshot,
    taken_at: Instant,
}

#[derive(Debug)]
struct Inner {
    current: ArcSwapOption<Published>,
    wake: Notify,
    poller: Poller,
    ceilings: Ceilings,
    refresh_every: Duration,
    source: DiscoverySource,
    candidates: Mutex<(Vec<Url>, Option<Instant>)>,
}

/// `GET /discover-orchestrators`. Cheap to clone; the refresh task stops
/// when the [`DiscoveryTask`] is dropped.
#[derive(Debug, Clone)]
pub struct DiscoveryService {
    inner: Arc<Inner>,
}

/// The background refresh task (aborted on drop).
#[derive(Debug)]
pub struct DiscoveryTask(tokio::task::JoinHandle<()>);

impl Drop for DiscoveryTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl DiscoveryService {
    /// The service for `config` (its ceilings from `[discovery]` or
    /// `[payments]`), not yet polling.
    pub fn new(
        config: &DiscoveryConfig,
        payments: Option<&PaymentsConfig>,
        poller: Poller,
    ) -> DiscoveryService {
        DiscoveryService {
            inner: Arc::new(Inner {
                current: ArcSwapOption::empty(),
                wake: Notify::new(),
                poller,
                ceilings: Ceilings {
                    discovery_max: config.max_price_per_unit.clone(),
                    payments: payments.cloned().unwrap_or_default(),
                },
                refresh_every: config.refresh_interval(),
                source: config.source(),
                candidates: Mutex::new((Vec::new(), None)),
            }),
        }
    }

    /// Starts the refresh task on the current tokio runtime; the first poll
    /// begins at once. The metrics hook reads the snapshot's age at each scrape.
    pub fn start(&self) -> DiscoveryTask {
        for kind in ERROR_KINDS {
            METRICS.discovery_poll_errors.with_label_values(&[kind]);
        }
        METRICS.discovery_snapshot_age_seconds.set(-1.0);
        let weak = Arc::downgrade(&self.inner);
        METRICS.on_scrape(move |m| {
            if let Some(inner) = weak.upgrade() {
                let age = inner.current.load();
                m.discovery_snapshot_age_seconds
                    .set(age.as_ref().map_or(-1.0, |p| p.taken_at.elapsed().as_secs_f64()));
            }
        });
        let inner = self.inner.clone();
        DiscoveryTask(tokio::spawn(async move {
            loop {
                let started = Instant::now();
                let found = inner.refresh().await;
                if found > 0 {
                    tokio::time::sleep(inner.refresh_every).await;
                } else {
                    tokio::select! {
                        _ = inner.wake.notified() => {}
                        _ = tokio::time::sleep(EMPTY_RETRY) => {}
                    }
                    tokio::time::sleep_until((started + MIN_POLL_GAP).into()).await;
                }
            }
        }))
    }

    /// The response body for `caps` (a JSON array and `\n`), or `None`
    /// while no orchestrator is known (503); an empty or missing snapshot
    /// wakes the refresh task. Never waits for the network.
    pub fn response<'a>(&self, caps: impl IntoIterator<Item = &'a str>) -> Option<Bytes> {
        let current = self.inner.current.load();
        match current.as_ref() {
            Some(p) if !p.snapshot.is_empty() => Some(p.snapshot.response(caps)),
            _ => {
                self.inner.wake.notify_one();
                None
            }
        }
    }

    /// The latest snapshot's orchestrators (tests, `check`).
    pub fn snapshot_len(&self) -> Option<usize> {
        self.inner.current.load().as_ref().map(|p| p.snapshot.len())
    }
}

impl Inner {
    /// One refresh: candidates, poll, build, publish, metrics, audit line.
    /// Returns how many orchestrators the new snapshot holds.
    async fn refresh(&self) -> usize {
        let started = Instant::now();
        let mut errors: Vec<(String, super::poll::PollError)> = Vec::new();
        let cached = {
            let c = self.candidates.lock().unwrap_or_else(|e| e.into_inner());
            c.1.filter(|at| at.elapsed() < candidates_ttl(self.refresh_every))
                .map(|_| c.0.clone())
        };
        let candidates = match cached {
            Some(list) => list,
            None => match self.poller.candidates().await {
                Ok(list) => {
                    *self.candidates.lock().unwrap_or_else(|e| e.into_inner()) =
                        (list.clone(), Some(Instant::now()));
                    list
                }
                Err(e) => {
                    let kept = self
                        .candidates
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                        .clone();
                    tracing::warn!(
                        source = self.source.as_str(),
                        error = %e.message,
                        kept = kept.len(),
                        "discovery: candidate source failed; polling the last list"
                    );
                    errors.push((self.source.as_str().to_string(), e));
                    kept
                }
            },
        };
        let PollOutcome {
            candidates: asked,
            polled,
            errors: poll_errors,
        } = self.poller.poll(candidates).await;
        errors.extend(poll_errors);
        let answered = polled.len();
        // Parsing up to 1 MiB per orchestrator is CPU work: off the runtime's workers.
        let ceilings = self.ceilings.clone();
        let built = tokio::task::spawn_blocking(move || Snapshot::build(&polled, &ceilings)).await;
        let (snapshot, report) = match built {
            Ok(built) => built,
            Err(e) => {
                tracing::error!(error = %e, "discovery: building the snapshot failed; the previous one stays");
                return self.current.load().as_ref().map_or(0, |p| p.snapshot.len());
            }
        };

        for (who, e) in &errors {
            METRICS.discovery_poll_errors.with_label_values(&[e.kind]).inc();
            if e.kind == "discovery" {
                tracing::info!(orchestrator = %who, error = %e.message, "discovery: no runner records from this orchestrator");
            } else {
                tracing::info!(orchestrator = %who, kind = e.kind, error = %e.message, "discovery: no answer used");
            }
        }
        for who in &report.bad_documents {
            METRICS
                .discovery_poll_errors
                .with_label_values(&["discovery"])
                .inc();
            tracing::info!(
                orchestrator = %who,
                "discovery: /discovery answer is not a JSON array of runner records; ignored"
            );
        }
        for (why, orch, runner) in &report.rejected {
            METRICS
                .discovery_runners_rejected
                .with_label_values(&[why.as_str()])
                .inc();
            tracing::debug!(orchestrator = %orch, runner = %runner, reason = why.as_str(), "discovery: runner record filtered");
        }
        for (orch, runner) in &report.conflicts {
            tracing::warn!(orchestrator = %orch, runner = %runner, "discovery: conflicting runner records; keeping the first");
        }
        let found = snapshot.len();
        let runners: usize = snapshot.orchestrators().iter().map(|o| o.runners.len()).sum();
        METRICS.discovery_orchestrators.set(found as f64);
        METRICS
            .discovery_refreshes
            .with_label_values(&[if found > 0 { "ok" } else { "empty" }])
            .inc();
        tracing::info!(
            target: "livepeer_signer::audit",
            event = "discovery_refresh",
            source = self.source.as_str(),
            candidates = asked,
            answered,
            orchestrators = found,
            runners,
            runners_rejected = report.rejected.len(),
            errors = errors.len(),
            duration_ms = started.elapsed().as_millis() as u64,
        );
        // Published after its audit line, so the line precedes every answer from it.
        self.current.store(Some(Arc::new(Published {
            snapshot,
            taken_at: Instant::now(),
        })));
        found
    }
}
