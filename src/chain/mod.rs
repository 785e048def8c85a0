//! The chain: Livepeer contract reads and sender-side transactions, through
//! alloy's JSON-RPC provider over HTTP(S).
//!
//! * [`config`]: the `[chain]` section ([`ChainConfig`]).
//! * [`client`]: the provider ([`ChainClient`]), contract resolution through
//!   the Controller, the reads go-livepeer makes (sender info, rounds, the
//!   latest block's L1 number).
//! * [`snapshot`]: one background poller swapping an immutable [`Snapshot`]
//!   into a [`ChainView`]; request handlers read the view and never wait
//!   for the chain. Staleness is part of the view.
//! * [`tx`]: TicketBroker deposit transactions, built with alloy, signed by
//!   the project's [`Signer`](crate::signer::Signer), sent and awaited.
//! * amounts: [`crate::eth::units`] (wei / `…eth`, parsed exactly).
//!
//! Errors are one enum, [`ChainError`]; each has a stable
//! [`kind`](ChainError::kind) for metrics.

pub mod bindings;
pub mod client;
pub mod config;
pub mod snapshot;
pub mod tx;

use alloy_primitives::{Address, B256, U256};

pub use crate::eth::units::{format_eth, parse_amount, wei_to_f64, AmountError};
pub use client::{BlockInfo, ChainClient, Contracts, PoolMember, SenderInfo, MAX_POOL};
pub use config::{ChainConfig, ChainConfigError, ARBITRUM_CHAIN_IDS, ARBITRUM_ONE_CONTROLLER};
pub use snapshot::{spawn, start, ChainHandle, ChainMetrics, ChainView, Fault, Poller, Snapshot, Stale};
pub use tx::{PreparedTx, SenderTx, Transactor, TxOptions, TxOutcome};

/// Every error kind [`ChainError::kind`] returns, for pre-registering metric labels.
pub const ERROR_KINDS: [&str; 16] = [
    "config",
    "timeout",
    "connect",
    "http_status",
    "rpc_error",
    "bad_response",
    "transport",
    "chain_id_mismatch",
    "zero_address",
    "ticket_broker_mismatch",
    "missing_l1_block",
    "revert",
    "insufficient_funds",
    "sign",
    "receipt_timeout",
    "invalid_tx",
];

/// Why a chain read or transaction failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// `[chain]` is unusable.
    #[error(transparent)]
    Config(#[from] ChainConfigError),
    /// The RPC did not answer within `request_timeout_ms`.
    #[error("{what}: the RPC at {url} did not answer within {timeout_ms} ms (check the node, or raise [chain] request_timeout_ms)")]
    Timeout {
        /// The call.
        what: String,
        /// The RPC (redacted).
        url: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// No connection to the RPC.
    #[error("{what}: cannot connect to the RPC at {url}: {detail} (is the node up? check [chain] rpc_url)")]
    Connect {
        /// The call.
        what: String,
        /// The RPC (redacted).
        url: String,
        /// The transport's error.
        detail: String,
    },
    /// The RPC answered with an HTTP error status.
    #[error("{what}: the RPC answered HTTP {status}: {body}")]
    HttpStatus {
        /// The call.
        what: String,
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The node answered with a JSON-RPC error object.
    #[error("{what}: the node answered JSON-RPC error {code}: {message}")]
    RpcError {
        /// The call.
        what: String,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The answer is not what the call returns (not JSON-RPC, wrong type,
    /// wrong ABI encoding, an empty result).
    #[error("{what}: unusable answer from the RPC: {detail}")]
    BadResponse {
        /// The call.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// Another transport failure.
    #[error("{what}: RPC transport error: {detail}")]
    Transport {
        /// The call.
        what: String,
        /// The transport's error.
        detail: String,
    },
    /// The node is on another chain than `[chain] chain_id`.
    #[error("the RPC reports chain id {actual}, but [chain] chain_id is {expected}: point rpc_url at a node of chain {expected} or fix chain_id")]
    ChainIdMismatch {
        /// `[chain] chain_id`.
        expected: u64,
        /// What `eth_chainId` returned.
        actual: u64,
    },
    /// The Controller has no address for a contract.
    #[error("the Controller at {controller} returns the zero address for {contract}: is [chain] controller the Livepeer Controller of this chain?")]
    ContractNotRegistered {
        /// `"TicketBroker"` or `"RoundsManager"`.
        contract: &'static str,
        /// The Controller asked.
        controller: Address,
    },
    /// The Controller names another TicketBroker than `[chain] ticket_broker`.
    #[error("the Controller at {controller} names TicketBroker {found}, but [chain] ticket_broker pins {expected}: refusing to read or fund it; if Livepeer upgraded the TicketBroker, check the new address and update ticket_broker, otherwise distrust the RPC node")]
    TicketBrokerMismatch {
        /// The Controller asked.
        controller: Address,
        /// `[chain] ticket_broker`.
        expected: Address,
        /// What the Controller returned.
        found: Address,
    },
    /// An Arbitrum chain's block has no `l1BlockNumber`.
    #[error("block {block} of chain {chain_id} has no l1BlockNumber: chain {chain_id} is an Arbitrum chain, whose blocks always carry it; is rpc_url an Arbitrum node?")]
    MissingL1BlockNumber {
        /// Chain id.
        chain_id: u64,
        /// Block number.
        block: u64,
    },
    /// A call or transaction reverted.
    #[error("{what} reverted{}: {}", tx_hash.map(|h| format!(" in transaction {h}")).unwrap_or_default(), reason.as_deref().unwrap_or("no revert reason given"))]
    Reverted {
        /// The call.
        what: String,
        /// The transaction, when it was mined.
        tx_hash: Option<B256>,
        /// The decoded `Error(string)` reason.
        reason: Option<String>,
    },
    /// The account cannot pay for the transaction.
    #[error("{address} has {balance} wei but the transaction needs up to {required} wei (value + gas limit × max fee per gas); fund the account first, nothing was sent")]
    InsufficientFunds {
        /// The paying account.
        address: Address,
        /// Its balance.
        balance: U256,
        /// value + gas_limit × max_fee_per_gas.
        required: U256,
    },
    /// The Signer could not sign.
    #[error("signing the transaction failed: {0}")]
    Sign(#[from] crate::signer::SignError),
    /// No receipt in time; the transaction may still be mined.
    #[error("transaction {tx_hash} has no receipt after {waited_ms} ms; it may still be mined: check it on a block explorer before sending again")]
    ReceiptTimeout {
        /// The transaction.
        tx_hash: B256,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The transaction cannot be built (a fee or gas value out of range).
    #[error("cannot build the transaction: {0}")]
    InvalidTx(String),
}

impl ChainError {
    /// A stable label for metrics (one of [`ERROR_KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            ChainError::Config(_) => "config",
            ChainError::Timeout { .. } => "timeout",
            ChainError::Connect { .. } => "connect",
            ChainError::HttpStatus { .. } => "http_status",
            ChainError::RpcError { .. } => "rpc_error",
            ChainError::BadResponse { .. } => "bad_response",
            ChainError::Transport { .. } => "transport",
            ChainError::ChainIdMismatch { .. } => "chain_id_mismatch",
            ChainError::ContractNotRegistered { .. } => "zero_address",
            ChainError::TicketBrokerMismatch { .. } => "ticket_broker_mismatch",
            ChainError::MissingL1BlockNumber { .. } => "missing_l1_block",
            ChainError::Reverted { .. } => "revert",
            ChainError::InsufficientFunds { .. } => "insufficient_funds",
            ChainError::Sign(_) => "sign",
            ChainError::ReceiptTimeout { .. } => "receipt_timeout",
            ChainError::InvalidTx(_) => "invalid_tx",
        }
    }
}
