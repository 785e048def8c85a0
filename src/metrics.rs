//! Prometheus metrics, all prefixed `livepeer_signer_`.
//!
//! One process-wide registry: the Signer records signing latency and errors,
//! the server records requests, latency and auth failures, the health probe
//! sets the backend gauge.

use std::sync::{LazyLock, Mutex};

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Called before every scrape (gauges computed from live state, e.g. the
/// chain view's age).
type ScrapeHook = Box<dyn Fn(&Metrics) + Send + Sync>;

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Registry,
    /// `http_requests_total{route, status}`
    pub http_requests: IntCounterVec,
    /// `http_request_duration_seconds{route}`
    pub http_duration: HistogramVec,
    /// `signatures_total{backend}`: signatures produced (self-checked).
    pub signatures: IntCounterVec,
    /// `sign_duration_seconds{backend}`: backend call + canonicalisation.
    pub sign_duration: HistogramVec,
    /// `sign_errors_total{backend, kind}`
    pub sign_errors: IntCounterVec,
    /// `auth_failures_total{reason}`: `missing`, `malformed`, `unknown_token`.
    pub auth_failures: IntCounterVec,
    /// `policy_refusals_total{rule}`: eth_* requests refused by policy or scope.
    pub policy_refusals: IntCounterVec,
    /// `token_requests_total{token}`: authenticated requests by token name.
    pub token_requests: IntCounterVec,
    /// `backend_up{backend}`: 1 when the last probe succeeded.
    pub backend_up: IntGaugeVec,
    /// `build_info{version}`: always 1.
    pub build_info: IntGaugeVec,
    /// `chain_deposit_wei`: the sender's TicketBroker deposit.
    pub chain_deposit_wei: Gauge,
    /// `chain_reserve_wei`: the sender's reserve (`fundsRemaining`).
    pub chain_reserve_wei: Gauge,
    /// `chain_withdraw_round`: 0 unless an unlock is in progress.
    pub chain_withdraw_round: Gauge,
    /// `chain_last_initialized_round`.
    pub chain_last_initialized_round: Gauge,
    /// `chain_l1_block`: the last seen L1 block (the ticket-expiry clock).
    pub chain_l1_block: Gauge,
    /// `chain_snapshot_age_seconds`.
    pub chain_snapshot_age_seconds: Gauge,
    /// `chain_fresh`: 1 when the chain view is younger than `max_staleness_ms`.
    pub chain_fresh: Gauge,
    /// `chain_rpc_errors_total{kind}`: failed chain polls by error kind.
    pub chain_rpc_errors: IntCounterVec,
    /// `admin_transactions_total{function, outcome}`: admin-listener transactions.
    pub admin_transactions: IntCounterVec,
    /// `payments_total{status}`: `/generate-live-payment` answers by HTTP status.
    pub payments: IntCounterVec,
    /// `payment_tickets_total`: tickets signed and returned.
    pub payment_tickets: prometheus::IntCounter,
    /// `payment_ev_wei_total`: expected value of the tickets returned, wei.
    pub payment_ev_wei: prometheus::Counter,
    /// `payment_fees_wei_total`: fees billed (at the sessions' initial prices), wei.
    pub payment_fees_wei: prometheus::Counter,
    /// `payment_duration_seconds{outcome}`: request latency (`ok` or `refused`).
    pub payment_duration: HistogramVec,
    /// `webhook_duration_seconds`: auth webhook call latency.
    pub webhook_duration: prometheus::Histogram,
    /// `webhook_failures_total{kind}`: webhook calls that failed (`transport`,
    /// `timeout`, `http_status`, `invalid_response`, `invalid_status`,
    /// `invalid_max_price`) or refused (`rejected`).
    pub webhook_failures: IntCounterVec,
    /// `spend_limit_refusals_total{token}`: payments refused by `max_ev_per_minute`.
    pub spend_limit_refusals: IntCounterVec,
    /// `discovery_orchestrators`: orchestrators in the discovery snapshot.
    pub discovery_orchestrators: Gauge,
    /// `discovery_snapshot_age_seconds`: -1 before the first snapshot.
    pub discovery_snapshot_age_seconds: Gauge,
    /// `discovery_refreshes_total{result}`: `ok` (orchestrators found) or `empty`.
    pub discovery_refreshes: IntCounterVec,
    /// `discovery_poll_errors_total{kind}`: `source`, `connect`, `timeout`,
    /// `grpc`, `invalid_info`, `discovery`.
    pub discovery_poll_errors: IntCounterVec,
    /// `discovery_runners_rejected_total{reason}`: runner records refused.
    pub discovery_runners_rejected: IntCounterVec,
    hooks: Mutex<Vec<ScrapeHook>>,
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help).namespace("livepeer_signer")
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let latency = vec![
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            10.0,
        ];
        let m = Metrics {
            http_requests: IntCounterVec::new(
                opts("http_requests_total", "HTTP requests by route and status"),
                &["route", "status"],
            )
            .unwrap(),
            http_duration: HistogramVec::new(
                HistogramOpts::from(opts("http_request_duration_seconds", "HTTP request latency"))
                    .buckets(latency.clone()),
                &["route"],
            )
            .unwrap(),
            signatures: IntCounterVec::new(
                opts(
                    "signatures_total",
                    "Signatures produced and self-checked, by backend",
                ),
                &["backend"],
            )
            .unwrap(),
            sign_duration: HistogramVec::new(
                HistogramOpts::from(opts(
                    "sign_duration_seconds",
                    "Signing latency (backend call and canonicalisation)",
                ))
                .buckets(latency),
                &["backend"],
            )
            .unwrap(),
            sign_errors: IntCounterVec::new(
                opts("sign_errors_total", "Signing failures by backend and error kind"),
                &["backend", "kind"],
            )
            .unwrap(),
            auth_failures: IntCounterVec::new(
                opts("auth_failures_total", "Rejected requests by reason"),
                &["reason"],
            )
            .unwrap(),
            policy_refusals: IntCounterVec::new(
                opts(
                    "policy_refusals_total",
                    "Signing requests refused by policy or token scope, by rule",
                ),
                &["rule"],
            )
            .unwrap(),
            token_requests: IntCounterVec::new(
                opts("token_requests_total", "Authenticated requests by token name"),
                &["token"],
            )
            .unwrap(),
            backend_up: IntGaugeVec::new(
                opts("backend_up", "1 when the key backend's last probe succeeded"),
                &["backend"],
            )
            .unwrap(),
            build_info: IntGaugeVec::new(opts("build_info", "Build information"), &["version"]).unwrap(),
            chain_deposit_wei: Gauge::with_opts(opts(
                "chain_deposit_wei",
                "The sender's TicketBroker deposit, wei",
            ))
            .unwrap(),
            chain_reserve_wei: Gauge::with_opts(opts(
                "chain_reserve_wei",
                "The sender's TicketBroker reserve (fundsRemaining), wei",
            ))
            .unwrap(),
            chain_withdraw_round: Gauge::with_opts(opts(
                "chain_withdraw_round",
                "The sender's withdraw round (0: no unlock in progress)",
            ))
            .unwrap(),
            chain_last_initialized_round: Gauge::with_opts(opts(
                "chain_last_initialized_round",
                "RoundsManager.lastInitializedRound()",
            ))
            .unwrap(),
            chain_l1_block: Gauge::with_opts(opts(
                "chain_l1_block",
                "Last seen L1 block number (Arbitrum l1BlockNumber, else number)",
            ))
            .unwrap(),
            chain_snapshot_age_seconds: Gauge::with_opts(opts(
                "chain_snapshot_age_seconds",
                "Age of the chain view; -1 before the first read",
            ))
            .unwrap(),
            chain_fresh: Gauge::with_opts(opts(
                "chain_fresh",
                "1 when the chain view is younger than [chain] max_staleness_ms",
            ))
            .unwrap(),
            chain_rpc_errors: IntCounterVec::new(
                opts("chain_rpc_errors_total", "Failed chain polls by error kind"),
                &["kind"],
            )
            .unwrap(),
            admin_transactions: IntCounterVec::new(
                opts(
                    "admin_transactions_total",
                    "Transactions sent through the admin listener, by function and outcome",
                ),
                &["function", "outcome"],
            )
            .unwrap(),
            payments: IntCounterVec::new(
                opts("payments_total", "/generate-live-payment answers by HTTP status"),
                &["status"],
            )
            .unwrap(),
            payment_tickets: prometheus::IntCounter::with_opts(opts(
                "payment_tickets_total",
                "Tickets signed and returned by /generate-live-payment",
            ))
            .unwrap(),
            payment_ev_wei: prometheus::Counter::with_opts(opts(
                "payment_ev_wei_total",
                "Expected value of the tickets returned, wei",
            ))
            .unwrap(),
            payment_fees_wei: prometheus::Counter::with_opts(opts(
                "payment_fees_wei_total",
                "Fees billed by /generate-live-payment at the sessions' initial prices, wei",
            ))
            .unwrap(),
            payment_duration: HistogramVec::new(
                HistogramOpts::from(opts(
                    "payment_duration_seconds",
                    "/generate-live-payment latency by outcome (ok, refused)",
                ))
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["outcome"],
            )
            .unwrap(),
            webhook_duration: prometheus::Histogram::with_opts(
                HistogramOpts::from(opts("webhook_duration_seconds", "Auth webhook call latency")).buckets(
                    vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                ),
            )
            .unwrap(),
            webhook_failures: IntCounterVec::new(
                opts(
                    "webhook_failures_total",
                    "Auth webhook calls that failed or refused, by kind",
                ),
                &["kind"],
            )
            .unwrap(),
            spend_limit_refusals: IntCounterVec::new(
                opts(
                    "spend_limit_refusals_total",
                    "Payments refused by a token's max_ev_per_minute",
                ),
                &["token"],
            )
            .unwrap(),
            discovery_orchestrators: Gauge::with_opts(opts(
                "discovery_orchestrators",
                "Orchestrators in the discovery snapshot",
            ))
            .unwrap(),
            discovery_snapshot_age_seconds: Gauge::with_opts(opts(
                "discovery_snapshot_age_seconds",
                "Age of the discovery snapshot; -1 before the first one",
            ))
            .unwrap(),
            discovery_refreshes: IntCounterVec::new(
                opts(
                    "discovery_refreshes_total",
                    "Discovery refreshes by result (ok: orchestrators found, empty: none)",
                ),
                &["result"],
            )
            .unwrap(),
            discovery_poll_errors: IntCounterVec::new(
                opts(
                    "discovery_poll_errors_total",
                    "Discovery failures by kind (candidate source, one orchestrator, its /discovery)",
                ),
                &["kind"],
            )
            .unwrap(),
            discovery_runners_rejected: IntCounterVec::new(
                opts(
                    "discovery_runners_rejected_total",
                    "Runner records refused by discovery, by reason",
                ),
                &["reason"],
            )
            .unwrap(),
            hooks: Mutex::new(Vec::new()),
            registry,
        };
        for c in [
            Box::new(m.http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.http_duration.clone()),
            Box::new(m.signatures.clone()),
            Box::new(m.sign_duration.clone()),
            Box::new(m.sign_errors.clone()),
            Box::new(m.auth_failures.clone()),
            Box::new(m.policy_refusals.clone()),
            Box::new(m.token_requests.clone()),
            Box::new(m.backend_up.clone()),
            Box::new(m.build_info.clone()),
            Box::new(m.chain_deposit_wei.clone()),
            Box::new(m.chain_reserve_wei.clone()),
            Box::new(m.chain_withdraw_round.clone()),
            Box::new(m.chain_last_initialized_round.clone()),
            Box::new(m.chain_l1_block.clone()),
            Box::new(m.chain_snapshot_age_seconds.clone()),
            Box::new(m.chain_fresh.clone()),
            Box::new(m.chain_rpc_errors.clone()),
            Box::new(m.admin_transactions.clone()),
            Box::new(m.payments.clone()),
            Box::new(m.payment_tickets.clone()),
            Box::new(m.payment_ev_wei.clone()),
            Box::new(m.payment_fees_wei.clone()),
            Box::new(m.payment_duration.clone()),
            Box::new(m.webhook_duration.clone()),
            Box::new(m.webhook_failures.clone()),
            Box::new(m.spend_limit_refusals.clone()),
            Box::new(m.discovery_orchestrators.clone()),
            Box::new(m.discovery_snapshot_age_seconds.clone()),
            Box::new(m.discovery_refreshes.clone()),
            Box::new(m.discovery_poll_errors.clone()),
            Box::new(m.discovery_runners_rejected.clone()),
        ] {
            m.registry.register(c).expect("metric names are unique");
        }
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m
    }

    /// Runs `hook` before every scrape (for gauges computed from live state).
    pub fn on_scrape(&self, hook: impl Fn(&Metrics) + Send + Sync + 'static) {
        self.hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(hook));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        for hook in self.hooks.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            hook(self);
        }
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
