//! The HTTP server: binding, application state, shutdown.
//!
//! It holds an [`AppState`] and knows nothing about which backend is in use.

pub mod error;
pub mod routes;

use std::net::SocketAddr;

use actix_web::{web, App, HttpServer};

use crate::livepeer::orch_info::OrchInfoSignature;
use crate::signer::Signer;

/// Everything handlers need, shared by all workers.
#[derive(Debug)]
pub struct AppState {
    /// The signer (for endpoints that sign per request).
    pub signer: Signer,
    /// The OrchestratorInfo signature computed at startup.
    pub orch_info: OrchInfoSignature,
}

/// A bound, not yet running server.
pub struct Bound {
    server: actix_web::dev::Server,
    addrs: Vec<SocketAddr>,
}

impl Bound {
    /// The addresses actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until stopped (SIGTERM/SIGINT drain in-flight requests).
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Registers SIGTERM and SIGINT now and, once one arrives, stops `handle`
/// gracefully (in-flight requests are drained).
pub fn shutdown_on_signals(handle: actix_web::dev::ServerHandle) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutting down: draining in-flight requests");
            handle.stop(true).await;
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            handle.stop(true).await;
        }
    });
    Ok(())
}

/// Binds `listen` and builds the server.
pub fn bind(listen: SocketAddr, state: AppState) -> std::io::Result<Bound> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes::configure))
        // Signals are handled by `shutdown_on_signals`, registered before binding,
        // so a SIGTERM that arrives right after startup still drains cleanly.
        .disable_signals()
        .bind(listen)?;
    let addrs = server.addrs();
    Ok(Bound {
        server: server.run(),
        addrs,
    })
}
