//! Readiness: the OrchestratorInfo signature is cached (always true once
//! serving) and the backend's last probe succeeded. A background task probes
//! the backend periodically; `/readyz` reads the result.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::keys::BackendError;
use crate::metrics::METRICS;
use crate::signer::Signer;

/// The last probe's outcome.
#[derive(Debug, Clone)]
pub struct ProbeState {
    /// Did it succeed?
    pub ok: bool,
    /// Why not (backend error message; never a secret).
    pub reason: Option<String>,
    /// When the state last changed.
    pub since: SystemTime,
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The backend answered with an error.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// It did not answer within `[health] probe_timeout_ms`.
    #[error("probe timed out after {} ms", .0.as_millis())]
    TimedOut(Duration),
}

/// Backend health shared by the probe task and `/readyz`.
#[derive(Debug)]
pub struct Health {
    backend: &'static str,
    state: ArcSwap<ProbeState>,
}

impl Health {
    /// Healthy: the backend was just opened and signed at startup.
    pub fn new(backend: &'static str) -> Health {
        METRICS.backend_up.with_label_values(&[backend]).set(1);
        Health {
            backend,
            state: ArcSwap::from_pointee(ProbeState {
                ok: true,
                reason: None,
                since: SystemTime::now(),
            }),
        }
    }

    /// Backend kind.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The current state.
    pub fn state(&self) -> Arc<ProbeState> {
        self.state.load_full()
    }

    /// Records a probe result; logs and updates the gauge on transitions.
    pub fn record(&self, result: Result<(), ProbeError>) {
        let result = result.map_err(|e| e.to_string());
        let prev = self.state.load();
        let ok = result.is_ok();
        METRICS
            .backend_up
            .with_label_values(&[self.backend])
            .set(i64::from(ok));
        match (&result, prev.ok) {
            (Ok(()), false) => tracing::info!(backend = self.backend, "key backend recovered: ready again"),
            (Err(e), true) => tracing::error!(
                backend = self.backend,
                error = %e,
                "key backend probe failed: not ready (the cached OrchestratorInfo signature is still served)"
            ),
            (Err(e), false) if prev.reason.as_deref() != Some(e.as_str()) => {
                tracing::warn!(backend = self.backend, error = %e, "key backend still failing")
            }
            _ => {}
        }
        let since = if ok == prev.ok && result.as_ref().err() == prev.reason.as_ref() {
            prev.since
        } else {
            SystemTime::now()
        };
        self.state.store(Arc::new(ProbeState {
            ok,
            reason: result.err(),
            since,
        }));
    }

    /// Runs one probe with a time limit and records it.
    pub async fn probe_once(&self, signer: &Signer, timeout: Duration) {
        let result = match tokio::time::timeout(timeout, signer.backend().probe()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ProbeError::Backend(e)),
            Err(_) => Err(ProbeError::TimedOut(timeout)),
        };
        self.record(result);
    }
}

/// Probes every `interval` until the runtime stops.
pub fn spawn_probe(signer: Signer, health: Arc<Health>, interval: Duration, timeout: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick fires at once; startup already proved the backend
        loop {
            tick.tick().await;
            health.probe_once(&signer, timeout).await;
        }
    });
}
