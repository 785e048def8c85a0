//! The HTTP server: binding (plain or TLS), limits, a separate metrics
//! listener, signals (SIGTERM/SIGINT drain, SIGHUP reload).
//!
//! It holds an [`AppState`] and knows nothing about which backend is in use.

pub(crate) mod admin;
mod auth;
mod body;
pub mod error;
pub(crate) mod health;
pub mod routes;
pub(crate) mod tls;

pub use body::Body;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::KeepAlive;
use actix_web::{web, App, HttpServer};
use arc_swap::ArcSwap;

use crate::access::Tokens;
use crate::config::ServerConfig;
use crate::livepeer::orch_info::OrchInfoSignature;
use crate::signer::Signer;
use crate::web3signer::policy::Policy;
use crate::web3signer::Web3Signer;
use health::Health;

/// The body limit when no [`AppState`] is registered (in-process tests).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Everything handlers need, shared by all workers.
#[derive(Debug)]
pub struct AppState {
    /// The signer (for endpoints that sign per request).
    pub signer: Signer,
    /// The OrchestratorInfo signature computed at startup.
    pub orch_info: OrchInfoSignature,
    /// Bearer tokens; swapped on SIGHUP. Empty = no authentication.
    pub tokens: ArcSwap<Tokens>,
    /// Backend health for `/readyz`.
    pub health: Arc<Health>,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// The eth1 API, when `[web3signer] enabled`.
    pub web3signer: Option<Web3Signer>,
    /// The chain view, when `[chain]` is set (`/readyz` reports it).
    pub chain: Option<crate::chain::ChainView>,
    /// `/generate-live-payment`, when `[chain]` is set.
    pub payments: Option<Arc<crate::livepeer::payment::PaymentService>>,
    /// `/discover-orchestrators`, when `[discovery]` is set.
    pub discovery: Option<crate::livepeer::discovery::DiscoveryService>,
}

impl AppState {
    /// State with the given tokens and a healthy backend.
    pub fn new(signer: Signer, orch_info: OrchInfoSignature, tokens: Tokens, body_limit: usize) -> AppState {
        let health = Arc::new(Health::new(signer.backend().kind()));
        AppState {
            signer,
            orch_info,
            tokens: ArcSwap::from_pointee(tokens),
            health,
            body_limit,
            web3signer: None,
            chain: None,
            payments: None,
            discovery: None,
        }
    }

    /// Enables the eth1 API.
    pub fn with_web3signer(mut self, policy: Policy) -> AppState {
        self.web3signer = Some(Web3Signer::new(self.signer.clone(), policy));
        self
    }
}

/// The peer address for audit lines.
fn peer(req: &actix_web::HttpRequest) -> String {
    req.peer_addr().map_or_else(|| "-".into(), |a| a.to_string())
}

/// Bound, not yet running servers (the API and, optionally, metrics).
pub struct Bound {
    servers: Vec<actix_web::dev::Server>,
    addrs: Vec<SocketAddr>,
    metrics_addrs: Vec<SocketAddr>,
}

/// Stops every server of a [`Bound`].
#[derive(Clone)]
pub struct Handles(Vec<actix_web::dev::ServerHandle>);

impl Handles {
    /// Stops accepting; with `graceful`, in-flight requests finish first.
    pub async fn stop(&self, graceful: bool) {
        for h in &self.0 {
            h.stop(graceful).await;
        }
    }
}

impl Bound {
    /// The API addresses actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The metrics listener's addresses, when `metrics_listen` is set.
    pub fn metrics_addrs(&self) -> &[SocketAddr] {
        &self.metrics_addrs
    }

    /// Adds a bound server (the admin listener) to run and stop with the rest.
    pub(crate) fn push(&mut self, server: actix_web::dev::Server) {
        self.servers.push(server);
    }

    /// Handles to stop the servers.
    pub fn handles(&self) -> Handles {
        Handles(self.servers.iter().map(|s| s.handle()).collect())
    }

    /// Runs until stopped.
    pub async fn run(self) -> std::io::Result<()> {
        for r in futures_util::future::join_all(self.servers).await {
            r?;
        }
        Ok(())
    }
}

/// Binds the API (TLS when `tls` is given) and the metrics listener.
pub fn bind(
    config: &ServerConfig,
    state: Arc<AppState>,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Bound> {
    let data = web::Data::from(state);
    let workers = if config.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        config.workers
    };
    let per_worker = config.max_connections.div_ceil(workers).max(1);
    let serve_metrics_here = config.metrics_listen.is_none();
    let web3signer = data.web3signer.is_some();
    let discovery = data.discovery.is_some();
    let app_data = data.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_data.clone())
            .configure(|c| routes::configure(c, serve_metrics_here, web3signer, discovery))
    })
    .workers(workers)
    .max_connections(per_worker)
    .client_request_timeout(Duration::from_millis(config.request_timeout_ms))
    .client_disconnect_timeout(Duration::from_secs(1))
    .keep_alive(match config.keep_alive_s {
        0 => KeepAlive::Disabled,
        s => KeepAlive::Timeout(Duration::from_secs(s)),
    })
    .shutdown_timeout(config.shutdown_timeout_s)
    // Signals are handled by `spawn_signal_handlers`, registered before the
    // servers run, so a SIGTERM right after startup still drains cleanly.
    .disable_signals();
    let server = match tls {
        Some(tls) => server
            .tls_handshake_timeout(Duration::from_millis(config.request_timeout_ms))
            .bind_rustls_0_23(config.listen, tls)?,
        None => server.bind(config.listen)?,
    };
    let addrs = server.addrs();
    let mut servers = vec![server.run()];

    let mut metrics_addrs = Vec::new();
    if let Some(listen) = config.metrics_listen {
        let m = HttpServer::new(|| App::new().configure(routes::configure_metrics_only))
            .workers(1)
            .disable_signals()
            .bind(listen)?;
        metrics_addrs = m.addrs();
        servers.push(m.run());
    }
    Ok(Bound {
        servers,
        addrs,
        metrics_addrs,
    })
}

/// Registers SIGTERM, SIGINT and SIGHUP now. SIGTERM/SIGINT stop `handles`
/// gracefully (in-flight requests drain); SIGHUP calls `on_reload` on a
/// blocking thread (it reads config, token and certificate files).
pub fn spawn_signal_handlers(
    handles: Handles,
    on_reload: impl Fn() + Send + Sync + 'static,
) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let on_reload = std::sync::Arc::new(on_reload);
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                    _ = hup.recv() => {
                        tracing::info!(signal = "SIGHUP", "reloading tokens and TLS files");
                        let reload = on_reload.clone();
                        if let Err(e) = tokio::task::spawn_blocking(move || reload()).await {
                            tracing::error!(error = %e, "reload task failed: keeping the running configuration");
                        }
                        continue;
                    }
                };
                tracing::info!(signal = name, "shutting down: draining in-flight requests");
                handles.stop(true).await;
                break;
            }
        });
    }
    #[cfg(not(unix))]
    {
        let _ = on_reload;
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                handles.stop(true).await;
            }
        });
    }
    Ok(())
}
