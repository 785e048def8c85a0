//! `serve`: run the daemon.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use super::{init_background_logging, load_config, Failure};
use crate::access::{check_admin_exposure, check_exposure, check_payments_exposure, Tokens};
use crate::config::{Config, ConfigSource};
use crate::keys;
use crate::livepeer::orch_info::OrchInfoSignature;
use crate::server::health;
use crate::server::tls::ReloadableTls;
use crate::server::{self, AppState};
use crate::signer::Signer;
use crate::web3signer::policy::Policy;

/// Everything `serve` loads and checks before it touches the key: token
/// files, the exposure guard, TLS files, the eth1 policy. `check --offline`
/// runs the same, so a broken file shows up before a deploy.
pub(super) struct Preflight {
    /// `[[auth.tokens]]`, files read.
    pub tokens: Tokens,
    /// `[server.tls]`, files read.
    pub tls: Option<(Arc<ReloadableTls>, rustls::ServerConfig)>,
    /// `[web3signer]`, when enabled.
    pub policy: Option<Policy>,
}

pub(super) fn preflight(config: &Config) -> Result<Preflight, Failure> {
    let tokens = Tokens::load(&config.auth).map_err(Failure::config)?;
    check_exposure(config.server.listen, &tokens, config.auth.allow_unauthenticated)
        .map_err(Failure::config)?;
    if let Some(admin) = &config.admin {
        check_admin_exposure(admin.listen, &tokens).map_err(Failure::config)?;
    }
    if config.chain.is_some() {
        let webhook = config.payments.as_ref().and_then(|p| p.webhook.as_ref());
        check_payments_exposure(config.server.listen, &tokens, webhook.is_some()).map_err(Failure::config)?;
        if let Some(w) = webhook {
            w.load_headers().map_err(Failure::config)?;
        }
        if let Some(file) = config
            .payments
            .as_ref()
            .and_then(|p| p.state_mac_key_file.as_deref())
        {
            crate::livepeer::payment::mac::StateMacKey::read(file).map_err(Failure::config)?;
        }
    }
    let tls = match &config.server.tls {
        Some(files) => Some(ReloadableTls::load(files).map_err(Failure::config)?),
        None => None,
    };
    let policy = config
        .web3signer
        .enabled
        .then(|| Policy::from_config(&config.web3signer));
    Ok(Preflight { tokens, tls, policy })
}

pub(super) async fn run(config_path: Option<&Path>) -> Result<(), Failure> {
    let (config, source) = load_config(config_path)?;
    let _log = init_background_logging(&config.log);
    if source == ConfigSource::Embedded {
        tracing::warn!(
            "no --config given: using the embedded development config (keystore ./data/keystore, \
             key created if missing, listening on 127.0.0.1:8935). Not for production."
        );
    }
    tracing::info!(config = %source, backend = %config.key.backend, "starting livepeer-signer {}", env!("CARGO_PKG_VERSION"));

    // Everything that can be refused without touching the key comes first.
    let Preflight { tokens, tls, policy } = preflight(&config)?;
    if tokens.is_empty() {
        tracing::warn!(listen = %config.server.listen, "no [[auth.tokens]] configured: anyone who can reach the listener gets signatures");
    } else {
        tracing::info!(tokens = ?tokens, "bearer-token authentication on");
    }

    let backend = keys::open(&config.key)
        .await
        .map_err(|e| Failure::runtime(anyhow::Error::new(e).context("cannot open the key backend")))?;
    let signer = Signer::new(backend);
    tracing::info!(address = %signer.address(), key = %signer.backend().describe(), "key loaded");

    let orch_info = OrchInfoSignature::create(&signer).await.map_err(|e| {
        Failure::runtime(anyhow::Error::new(e).context("cannot sign the OrchestratorInfo credential"))
    })?;
    tracing::info!(address = %signer.address(), signature = %orch_info.signature().to_hex(), "OrchestratorInfo signature ready");

    let mut state = AppState::new(signer.clone(), orch_info, tokens, config.server.body_limit_bytes);
    // The chain view: one poller, started without waiting for the node (an
    // unreachable RPC must not keep OrchestratorInfo from being served).
    let chain = match &config.chain {
        Some(cfg) => {
            let me = alloy_primitives::Address::from(*signer.address().as_bytes());
            let handle = crate::chain::spawn(cfg, me).map_err(super::chain::chain_failure)?;
            tracing::info!(rpc = %cfg.redacted_rpc_url(), controller = %cfg.controller, "chain view starting");
            export_chain_metrics(handle.view.clone());
            state.chain = Some(handle.view.clone());
            let payments = config.payments.clone().unwrap_or_default();
            let service =
                crate::livepeer::payment::PaymentService::new(signer.clone(), payments, handle.view.clone())
                    .map_err(Failure::config)?;
            tracing::info!(
                webhook = service.has_webhook(),
                "live payments on: POST /generate-live-payment"
            );
            if let Some(w) = config.payments.as_ref().and_then(|p| p.webhook.as_ref()) {
                if w.is_plain_http_off_loopback() {
                    tracing::warn!(url = %w.url, "[payments.webhook] url is plain http to a non-loopback host: the webhook receives the callers' request headers (bearer tokens included) in clear text; use https");
                }
            }
            state.payments = Some(Arc::new(service));
            Some(handle)
        }
        None => {
            tracing::info!(
                "no [chain] section: live payments and the deposit commands are off; set [chain] rpc_url to turn them on"
            );
            None
        }
    };
    // Discovery. Its polls carry the OrchestratorInfo signature made above,
    // so even the first one is signed (go-livepeer's bootstrap race, spec §9,
    // cannot happen here).
    let _discovery_task = match &config.discovery {
        Some(cfg) => {
            let poller = crate::livepeer::discovery::Poller::new(
                cfg,
                *signer.address().as_bytes(),
                state.orch_info.signature().as_bytes().to_vec(),
                chain.as_ref().map(|h| h.client.clone()),
            )
            .map_err(Failure::config)?;
            let service =
                crate::livepeer::discovery::DiscoveryService::new(cfg, config.payments.as_ref(), poller);
            let task = service.start();
            tracing::info!(
                source = cfg.source().as_str(),
                refresh_interval_s = cfg.refresh_interval_s,
                "orchestrator discovery on: GET /discover-orchestrators"
            );
            state.discovery = Some(service);
            Some(task)
        }
        None => None,
    };
    if let Some(policy) = policy {
        if !policy.has_chains() {
            tracing::warn!("[web3signer] chain_ids is empty: eth_signTransaction refuses every transaction");
        }
        tracing::warn!(
            "[web3signer] enabled: POST / serves eth_* signing; eth_sign on a payment key can mint tickets, \
             so give its scopes only to the node that needs them"
        );
        state = state.with_web3signer(policy);
    }
    let state = Arc::new(state);
    let (tls_state, tls_config) = match tls {
        Some((s, c)) => (Some(s), Some(c)),
        None => (None, None),
    };
    let listen = config.server.listen;
    let mut bound = server::bind(&config.server, state.clone(), tls_config)
        .with_context(|| format!("cannot listen on {listen} ([server] listen / metrics_listen)"))
        .map_err(Failure::runtime)?;
    if let (Some(admin), Some(chain)) = (&config.admin, &chain) {
        let transactor = crate::chain::Transactor::new(chain.client.clone(), signer.clone());
        let admin_state = server::admin::AdminState::new(
            chain.client.clone(),
            transactor,
            config.auth.allow_unauthenticated,
        );
        let listen = admin.listen;
        let (server, addrs) = server::admin::bind(listen, state.clone(), admin_state)
            .with_context(|| format!("cannot listen on {listen} ([admin] listen)"))
            .map_err(Failure::runtime)?;
        if state.tokens.load().is_empty() && !config.auth.allow_unauthenticated {
            tracing::warn!(%listen, "[admin] listener without [[auth.tokens]]: every admin request gets 401 until a token with scopes = [\"admin\"] is configured");
        }
        for addr in addrs {
            tracing::info!(admin_url = %format!("http://{addr}"), "admin listener (CLI API subset) listening");
        }
        bound.push(server);
    }

    health::spawn_probe(
        signer.clone(),
        state.health.clone(),
        Duration::from_secs(config.health.probe_interval_s),
        Duration::from_millis(config.health.probe_timeout_ms),
    );
    let reloader = Reloader {
        path: config_path.map(Path::to_path_buf),
        current: Mutex::new(config.clone()),
        state: state.clone(),
        tls: tls_state,
    };
    server::spawn_signal_handlers(bound.handles(), move || reloader.reload())
        .context("cannot install signal handlers")
        .map_err(Failure::runtime)?;

    let scheme = if config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    for addr in bound.local_addrs() {
        tracing::info!(url = %format!("{scheme}://{addr}"), address = %signer.address(), "livepeer-signer listening");
    }
    for addr in bound.metrics_addrs() {
        tracing::info!(metrics_url = %format!("http://{addr}/metrics"), "metrics listening");
    }
    let handles = bound.handles();
    let mismatch = chain_id_mismatch(chain.as_ref().map(|h| h.view.clone()));
    tokio::select! {
        r = bound.run() => r.context("server failed").map_err(Failure::runtime)?,
        message = mismatch => {
            handles.stop(false).await;
            return Err(Failure::config(anyhow::anyhow!(message)));
        }
    }
    drop(chain);
    tracing::info!("livepeer-signer stopped");
    Ok(())
}

/// Resolves when the first chain reads show the node is on another chain
/// than `[chain] chain_id` (the daemon then exits 2 with both ids); never,
/// once the view has been fresh or without `[chain]`.
async fn chain_id_mismatch(view: Option<crate::chain::ChainView>) -> String {
    let Some(view) = view else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        if view.snapshot().is_some() {
            return std::future::pending().await;
        }
        if let Some(fault) = view.last_error().filter(|f| f.kind == "chain_id_mismatch") {
            tracing::error!(error = %fault.message, "wrong chain: stopping");
            return fault.message;
        }
    }
}

/// `livepeer_signer_chain_*` gauges, computed from the view at each scrape.
fn export_chain_metrics(view: crate::chain::ChainView) {
    use crate::eth::units::wei_to_f64;
    for kind in crate::chain::ERROR_KINDS {
        crate::metrics::METRICS
            .chain_rpc_errors
            .with_label_values(&[kind]);
    }
    crate::metrics::METRICS.on_scrape(move |m| {
        let c = view.metrics();
        let or_nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        m.chain_deposit_wei.set(or_nan(c.deposit_wei.map(wei_to_f64)));
        m.chain_reserve_wei.set(or_nan(c.reserve_wei.map(wei_to_f64)));
        m.chain_withdraw_round
            .set(or_nan(c.withdraw_round.map(wei_to_f64)));
        m.chain_last_initialized_round
            .set(or_nan(c.last_initialized_round.map(wei_to_f64)));
        m.chain_l1_block.set(or_nan(c.l1_block.map(|b| b as f64)));
        m.chain_snapshot_age_seconds
            .set(c.snapshot_age_seconds.unwrap_or(-1.0));
        m.chain_fresh.set(if c.fresh { 1.0 } else { 0.0 });
    });
}

/// Why reloaded tokens were not applied.
#[derive(Debug, thiserror::Error)]
enum TokenReload {
    #[error(transparent)]
    Load(#[from] crate::access::TokensError),
    #[error(transparent)]
    Exposed(#[from] crate::access::Exposed),
    #[error(transparent)]
    AdminExposed(#[from] crate::access::AdminExposed),
    #[error(transparent)]
    PaymentsExposed(#[from] crate::access::PaymentsExposed),
}

/// SIGHUP: re-read the config and swap what can change safely (tokens, TLS files).
struct Reloader {
    path: Option<PathBuf>,
    current: Mutex<Config>,
    state: Arc<AppState>,
    tls: Option<Arc<ReloadableTls>>,
}

impl Reloader {
    fn reload(&self) {
        let new = match Config::load(self.path.as_deref()) {
            Ok((c, _)) => c,
            Err(e) => {
                tracing::error!(error = %e, "reload failed: keeping the running configuration");
                return;
            }
        };
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let mut changes = Vec::new();

        let tokens = Tokens::load(&new.auth).map_err(TokenReload::from).and_then(|t| {
            check_exposure(current.server.listen, &t, new.auth.allow_unauthenticated)
                .map_err(TokenReload::from)?;
            if let Some(admin) = &current.admin {
                check_admin_exposure(admin.listen, &t)?;
            }
            if current.chain.is_some() {
                let webhook = current.payments.as_ref().is_some_and(|p| p.webhook.is_some());
                check_payments_exposure(current.server.listen, &t, webhook)?;
            }
            Ok(t)
        });
        match tokens {
            Ok(tokens) => {
                let old = self.state.tokens.load();
                if **old != tokens {
                    let (old_names, new_names) = (old.names(), tokens.names());
                    let added: Vec<_> = new_names.iter().filter(|n| !old_names.contains(n)).collect();
                    let removed: Vec<_> = old_names.iter().filter(|n| !new_names.contains(n)).collect();
                    changes.push(format!(
                        "tokens: now {new_names:?} (added {added:?}, removed {removed:?}, others re-read)"
                    ));
                    self.state.tokens.store(Arc::new(tokens));
                }
            }
            Err(e) => tracing::error!(error = %e, "reload: tokens not changed"),
        }

        match (&self.tls, &new.server.tls) {
            (Some(tls), Some(files)) => match tls.reload(files) {
                Ok(c) => changes.extend(c),
                Err(e) => tracing::error!(error = %e, "reload: TLS files not changed"),
            },
            (None, None) => {}
            _ => tracing::warn!("reload: [server.tls] was added or removed; that needs a restart"),
        }

        let server_except_tls = |c: &Config| crate::config::ServerConfig {
            tls: None,
            ..c.server.clone()
        };
        for (what, differs) in [
            (
                "[server] (other than [server.tls])",
                server_except_tls(&new) != server_except_tls(&current),
            ),
            ("[key]", new.key != current.key),
            ("[health]", new.health != current.health),
            ("[log]", new.log != current.log),
            ("[web3signer]", new.web3signer != current.web3signer),
            ("[chain]", new.chain != current.chain),
            ("[admin]", new.admin != current.admin),
            ("[payments]", new.payments != current.payments),
            ("[discovery]", new.discovery != current.discovery),
        ] {
            if differs {
                tracing::warn!("reload: {what} changed; that needs a restart and was not applied");
            }
        }
        if changes.is_empty() {
            tracing::info!("reload: nothing changed");
        }
        for c in &changes {
            tracing::info!(change = %c, "reload applied");
        }
        current.auth = new.auth;
        current.server.tls = new.server.tls;
    }
}
