//! The chain view: one poller task reads the chain every `poll_interval_ms`
//! and swaps in an immutable [`Snapshot`]; readers never wait for the chain.
//!
//! A failed poll leaves the last snapshot in place (its age grows) and
//! records the [`Fault`]. Past `max_staleness_ms` the view is stale:
//! [`ChainView::fresh`] answers [`Stale`] with the age and the last error.
//! The next good poll makes it fresh again, without a restart.
//!
//! Contract addresses are resolved through the Controller at the first poll
//! and again whenever `lastInitializedRound` changes, so a Livepeer
//! contract upgrade is followed without a restart.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, U256};
use arc_swap::ArcSwapOption;

use super::client::{BlockInfo, ChainClient, Contracts, SenderInfo};
use super::config::ChainConfig;
use super::ChainError;

/// What the chain said at one poll. Immutable.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `eth_chainId`.
    pub chain_id: u64,
    /// The contracts read.
    pub contracts: Contracts,
    /// Whose sender info this is (the signer's address).
    pub sender_address: Address,
    /// `TicketBroker.getSenderInfo(sender_address)`.
    pub sender: SenderInfo,
    /// `RoundsManager.lastInitializedRound()`.
    pub last_initialized_round: U256,
    /// `RoundsManager.blockHashForRound(last_initialized_round)`.
    pub round_block_hash: B256,
    /// The latest block (its `l1_block` is the ticket-expiry clock).
    pub block: BlockInfo,
    /// When the poll that made it finished (monotonic).
    pub taken_at: Instant,
    /// The same moment, Unix milliseconds (for display).
    pub taken_at_unix_ms: u64,
}

impl Snapshot {
    /// How old it is.
    pub fn age(&self) -> Duration {
        self.taken_at.elapsed()
    }

    /// Last seen L1 block number (Arbitrum `l1BlockNumber`, else `number`).
    pub fn l1_block(&self) -> u64 {
        self.block.l1_block
    }
}

/// A failed poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// [`ChainError::kind`].
    pub kind: &'static str,
    /// The error's message.
    pub message: String,
    /// When it happened.
    pub at: Instant,
}

/// The view is not usable for payments.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Stale {
    /// Age of the last snapshot; `None` when the chain was never read.
    pub age: Option<Duration>,
    /// `max_staleness_ms`.
    pub max_staleness: Duration,
    /// Since when the poller has been running.
    pub running_for: Duration,
    /// The most recent poll error.
    pub last_error: Option<Fault>,
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.age {
            Some(age) => write!(
                f,
                "chain view is stale: last read {} ms ago (max_staleness_ms {})",
                age.as_millis(),
                self.max_staleness.as_millis()
            )?,
            None => write!(
                f,
                "chain view not ready: the chain has not been read since start {} ms ago",
                self.running_for.as_millis()
            )?,
        }
        if let Some(e) = &self.last_error {
            write!(
                f,
                "; last error ({}, {} ms ago): {}",
                e.kind,
                e.at.elapsed().as_millis(),
                e.message
            )?;
        }
        Ok(())
    }
}

/// Numbers for `livepeer_signer_chain_*` metrics, read from the view
/// ([`ChainView::metrics`]). Suggested exposition (set at scrape time):
///
/// | metric | type | from |
/// |---|---|---|
/// | `livepeer_signer_chain_deposit_wei` | gauge (f64, [`wei_to_f64`](crate::eth::units::wei_to_f64)) | `deposit_wei` |
/// | `livepeer_signer_chain_reserve_wei` | gauge (f64) | `reserve_wei` |
/// | `livepeer_signer_chain_withdraw_round` | gauge | `withdraw_round` |
/// | `livepeer_signer_chain_last_initialized_round` | gauge | `last_initialized_round` |
/// | `livepeer_signer_chain_l1_block` | gauge | `l1_block` |
/// | `livepeer_signer_chain_snapshot_age_seconds` | gauge | `snapshot_age_seconds` |
/// | `livepeer_signer_chain_fresh` | gauge 0/1 | `fresh` |
/// | `livepeer_signer_chain_rpc_errors_total{kind}` | counter | `errors_by_kind` (cumulative; kinds in [`ERROR_KINDS`](super::ERROR_KINDS)) |
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChainMetrics {
    /// Sender deposit, wei (None before the first snapshot).
    pub deposit_wei: Option<U256>,
    /// Sender reserve (`fundsRemaining`), wei.
    pub reserve_wei: Option<U256>,
    /// Sender withdraw round.
    pub withdraw_round: Option<U256>,
    /// Last initialized round.
    pub last_initialized_round: Option<U256>,
    /// Last seen L1 block.
    pub l1_block: Option<u64>,
    /// Snapshot age, seconds.
    pub snapshot_age_seconds: Option<f64>,
    /// Whether [`ChainView::fresh`] would succeed.
    pub fresh: bool,
    /// Successful polls so far.
    pub polls_ok: u64,
    /// Failed polls so far, by [`ChainError::kind`].
    pub errors_by_kind: BTreeMap<&'static str, u64>,
}

struct Shared {
    current: ArcSwapOption<Snapshot>,
    last_error: ArcSwapOption<Fault>,
    max_staleness: Duration,
    started: Instant,
    polls_ok: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

/// Readers' handle on the chain view. Cheap to clone; never blocks on I/O.
#[derive(Clone)]
pub struct ChainView {
    shared: Arc<Shared>,
}

impl fmt::Debug for ChainView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainView")
            .field("snapshot", &self.snapshot())
            .field("last_error", &self.last_error())
            .finish()
    }
}

impl ChainView {
    /// An empty view (no snapshot yet) that is stale past `max_staleness`.
    pub fn new(max_staleness: Duration) -> ChainView {
        ChainView {
            shared: Arc::new(Shared {
                current: ArcSwapOption::empty(),
                last_error: ArcSwapOption::empty(),
                max_staleness,
                started: Instant::now(),
                polls_ok: AtomicU64::new(0),
                errors: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The latest snapshot, however old.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.shared.current.load_full()
    }

    /// The latest snapshot if it is younger than `max_staleness_ms`, else
    /// why not (age and the last error): what payments and `/readyz` use.
    pub fn fresh(&self) -> Result<Arc<Snapshot>, Stale> {
        let snap = self.snapshot();
        match snap {
            Some(s) if s.age() <= self.shared.max_staleness => Ok(s),
            other => Err(Stale {
                age: other.map(|s| s.age()),
                max_staleness: self.shared.max_staleness,
                running_for: self.shared.started.elapsed(),
                last_error: self.last_error(),
            }),
        }
    }

    /// The most recent poll error (kept after recovery, for diagnosis).
    pub fn last_error(&self) -> Option<Fault> {
        self.shared.last_error.load_full().map(|f| (*f).clone())
    }

    /// `max_staleness_ms`.
    pub fn max_staleness(&self) -> Duration {
        self.shared.max_staleness
    }

    /// Everything the metrics need, from one consistent snapshot.
    pub fn metrics(&self) -> ChainMetrics {
        let snap = self.snapshot();
        ChainMetrics {
            deposit_wei: snap.as_ref().map(|s| s.sender.deposit),
            reserve_wei: snap.as_ref().map(|s| s.sender.reserve),
            withdraw_round: snap.as_ref().map(|s| s.sender.withdraw_round),
            last_initialized_round: snap.as_ref().map(|s| s.last_initialized_round),
            l1_block: snap.as_ref().map(|s| s.block.l1_block),
            snapshot_age_seconds: snap.as_ref().map(|s| s.age().as_secs_f64()),
            fresh: self.fresh().is_ok(),
            polls_ok: self.shared.polls_ok.load(Ordering::Relaxed),
            errors_by_kind: self.shared.errors.lock().map(|m| m.clone()).unwrap_or_default(),
        }
    }

    /// Publishes a new snapshot.
    pub fn publish(&self, snapshot: Snapshot) {
        self.shared.current.store(Some(Arc::new(snapshot)));
        self.shared.polls_ok.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a failed poll; the snapshot stays.
    pub fn record_error(&self, error: &ChainError) {
        crate::metrics::METRICS
            .chain_rpc_errors
            .with_label_values(&[error.kind()])
            .inc();
        let kind = error.kind();
        if let Ok(mut m) = self.shared.errors.lock() {
            *m.entry(kind).or_default() += 1;
        }
        self.shared.last_error.store(Some(Arc::new(Fault {
            kind,
            message: error.to_string(),
            at: Instant::now(),
        })));
    }
}

/// Polls the chain into a [`ChainView`].
#[derive(Debug)]
pub struct Poller {
    client: ChainClient,
    sender: Address,
    view: ChainView,
    /// Contracts and the round they were resolved in.
    contracts: Option<(Contracts, U256)>,
}

impl Poller {
    /// A poller reading `sender`'s info through `client` into a new view.
    pub fn new(client: ChainClient, sender: Address) -> Poller {
        let view = ChainView::new(client.config().max_staleness());
        Poller {
            client,
            sender,
            view,
            contracts: None,
        }
    }

    /// The view this poller publishes to.
    pub fn view(&self) -> &ChainView {
        &self.view
    }

    /// One poll: reads the chain and publishes a snapshot, or records the
    /// error and leaves the last snapshot in place.
    pub async fn poll(&mut self) -> Result<Arc<Snapshot>, ChainError> {
        match self.read().await {
            Ok(s) => {
                if self.view.fresh().is_err() {
                    tracing::info!(
                        l1_block = s.block.l1_block,
                        round = %s.last_initialized_round,
                        "chain view fresh"
                    );
                }
                self.view.publish(s);
                Ok(self.view.snapshot().expect("just published"))
            }
            Err(e) => {
                tracing::warn!(kind = e.kind(), error = %e, "chain poll failed; keeping the last chain view");
                self.view.record_error(&e);
                Err(e)
            }
        }
    }

    async fn read(&mut self) -> Result<Snapshot, ChainError> {
        let c = &self.client;
        let (chain_id, block) = {
            let chain_id = c.checked_chain_id().await?;
            (chain_id, c.latest_block(chain_id).await?)
        };
        let (mut contracts, resolved_round) = match self.contracts {
            Some((known, round)) => (known, Some(round)),
            None => (c.resolve_contracts().await?, None),
        };
        let mut round = c.last_initialized_round(contracts.rounds_manager).await?;
        if resolved_round.is_some_and(|r| r != round) {
            // A new round: follow Livepeer contract upgrades.
            let fresh = c.resolve_contracts().await?;
            if fresh != contracts {
                tracing::info!(
                    ticket_broker = %fresh.ticket_broker,
                    rounds_manager = %fresh.rounds_manager,
                    "Livepeer contract addresses changed"
                );
                if fresh.rounds_manager != contracts.rounds_manager {
                    round = c.last_initialized_round(fresh.rounds_manager).await?;
                }
                contracts = fresh;
            }
        }
        let (round_block_hash, sender) = tokio::try_join!(
            c.block_hash_for_round(contracts.rounds_manager, round),
            c.sender_info(contracts.ticket_broker, self.sender)
        )?;
        self.contracts = Some((contracts, round));
        Ok(Snapshot {
            chain_id,
            contracts,
            sender_address: self.sender,
            sender,
            last_initialized_round: round,
            round_block_hash,
            block,
            taken_at: Instant::now(),
            taken_at_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        })
    }

    /// Polls forever, every `poll_interval_ms` (a slow poll is not
    /// followed by a burst).
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(self.client.config().poll_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let _ = self.poll().await;
        }
    }
}

/// The running poller: its view, its client, and the task (aborted on drop).
#[derive(Debug)]
pub struct ChainHandle {
    /// The view to hand to request handlers.
    pub view: ChainView,
    /// The client (for transactions and one-off reads).
    pub client: ChainClient,
    task: tokio::task::JoinHandle<()>,
}

impl ChainHandle {
    /// Stops the poller.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for ChainHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the poller without waiting for the chain at all (inside a tokio
/// runtime; no network I/O here). A chain id mismatch then shows only as
/// the view's last error (kind `chain_id_mismatch`) and the view never
/// becomes fresh; [`start`] is the variant that refuses it up front.
pub fn spawn(config: &ChainConfig, sender: Address) -> Result<ChainHandle, ChainError> {
    let client = ChainClient::new(config)?;
    let poller = Poller::new(client.clone(), sender);
    let view = poller.view().clone();
    let task = tokio::spawn(poller.run());
    Ok(ChainHandle { view, client, task })
}

/// Starts the chain view for `sender` (must run inside a tokio runtime).
///
/// The first poll is awaited (bounded by `request_timeout_ms`): a node on
/// another chain than `[chain] chain_id` is [`ChainError::ChainIdMismatch`]
/// and nothing is started; any other failure (node down, slow, garbage,
/// contract missing) is recorded in the view and the poller keeps trying,
/// so an unreachable RPC does not block startup.
pub async fn start(config: &ChainConfig, sender: Address) -> Result<ChainHandle, ChainError> {
    let client = ChainClient::new(config)?;
    let mut poller = Poller::new(client.clone(), sender);
    if let Err(e @ ChainError::ChainIdMismatch { .. }) = poller.poll().await {
        return Err(e);
    }
    let view = poller.view().clone();
    let interval = config.poll_interval();
    let task = tokio::spawn(async move {
        tokio::time::sleep(interval).await;
        poller.run().await;
    });
    Ok(ChainHandle { view, client, task })
}
