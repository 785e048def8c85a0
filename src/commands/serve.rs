//! `serve`: run the daemon.

use std::path::Path;

use anyhow::Context;

use super::{init_logging, load_config, Failure};
use crate::config::ConfigSource;
use crate::keys;
use crate::livepeer::orch_info::OrchInfoSignature;
use crate::server::{self, AppState};
use crate::signer::Signer;

pub(super) async fn run(config_path: Option<&Path>) -> Result<(), Failure> {
    let (config, source) = load_config(config_path)?;
    init_logging(&config.log);
    if source == ConfigSource::Embedded {
        tracing::warn!(
            "no --config given: using the embedded development config (keystore ./data/keystore, \
             key created if missing, listening on 127.0.0.1:8935). Not for production."
        );
    }
    tracing::info!(config = %source, backend = %config.key.backend, "starting livepeer-signer {}", env!("CARGO_PKG_VERSION"));

    let backend = keys::open(&config.key)
        .await
        .map_err(|e| Failure::runtime(anyhow::Error::new(e).context("cannot open the key backend")))?;
    let signer = Signer::new(backend);
    tracing::info!(address = %signer.address(), key = %signer.backend().describe(), "key loaded");

    let orch_info = OrchInfoSignature::create(&signer).await.map_err(|e| {
        Failure::runtime(anyhow::Error::new(e).context("cannot sign the OrchestratorInfo credential"))
    })?;
    tracing::info!(address = %signer.address(), signature = %orch_info.signature().to_hex(), "OrchestratorInfo signature ready");

    let listen = config.server.listen;
    let bound = server::bind(
        listen,
        AppState {
            signer: signer.clone(),
            orch_info,
        },
    )
    .with_context(|| format!("cannot listen on {listen} ([server] listen)"))
    .map_err(Failure::runtime)?;
    server::shutdown_on_signals(bound.handle())
        .context("cannot install signal handlers")
        .map_err(Failure::runtime)?;
    for addr in bound.local_addrs() {
        tracing::info!(url = %format!("http://{addr}"), address = %signer.address(), "livepeer-signer listening");
    }
    bound
        .run()
        .await
        .context("server failed")
        .map_err(Failure::runtime)?;
    tracing::info!("livepeer-signer stopped");
    Ok(())
}
