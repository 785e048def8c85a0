//! The JSON-RPC provider and the reads go-livepeer makes.
//!
//! One [`ChainClient`] owns an alloy [`RootProvider`] over a reqwest client
//! with rustls on ring (no native TLS, no aws-lc) and the
//! `request_timeout_ms` timeout. Contract addresses come from the Livepeer
//! Controller; a zero address is an error naming the contract and the
//! Controller.

use crate::net::error_chain;
use std::sync::Arc;

use alloy_network::Ethereum;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256, U64};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_client::RpcClient;
use alloy_rpc_types_eth::{BlockId, TransactionInput, TransactionRequest};
use alloy_sol_types::SolCall;
use alloy_transport::{RpcError, TransportErrorKind};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;

use super::bindings::{IBondingManager, IController, IRoundsManager, IServiceRegistry, ITicketBroker};
use super::config::{ChainConfig, ARBITRUM_CHAIN_IDS};
use super::ChainError;

/// The most transcoders [`ChainClient::active_orchestrators`] walks
/// (Livepeer's pool holds 100).
pub const MAX_POOL: usize = 1000;

/// An active orchestrator and its ServiceRegistry URI (as registered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolMember {
    /// Its address.
    pub address: Address,
    /// `ServiceRegistry.getServiceURI(address)`.
    pub service_uri: String,
}

/// A sender's TicketBroker state (`getSenderInfo`), in wei and rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// `sender.deposit`.
    pub deposit: U256,
    /// `sender.withdrawRound` (0: no unlock in progress).
    pub withdraw_round: U256,
    /// `reserve.fundsRemaining`.
    pub reserve: U256,
    /// `reserve.claimedInCurrentRound`.
    pub claimed_in_current_round: U256,
}

/// The Livepeer contracts in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contracts {
    /// The Controller they were resolved through.
    pub controller: Address,
    /// `getContract(keccak256("TicketBroker"))`.
    pub ticket_broker: Address,
    /// `getContract(keccak256("RoundsManager"))`.
    pub rounds_manager: Address,
}

/// The latest block, as go-livepeer's block watcher sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's own number (L2 on Arbitrum).
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its timestamp (seconds).
    pub timestamp: u64,
    /// Arbitrum's `l1BlockNumber`, or `number` on a chain without one.
    pub l1_block: u64,
}

/// The fields of `eth_getBlockByNumber` that are used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlock {
    number: U64,
    hash: B256,
    timestamp: U64,
    #[serde(default, deserialize_with = "quantity_or_number")]
    l1_block_number: Option<u64>,
}

/// Arbitrum nodes send `l1BlockNumber` as a hex quantity; anvil's Arbitrum
/// mode sends a JSON number. Both are accepted; anything else is an error.
fn quantity_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("l1BlockNumber {n} is not a block number"))),
        Some(serde_json::Value::String(s)) => s
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("l1BlockNumber {s:?} is not a hex quantity"))),
        Some(other) => Err(D::Error::custom(format!(
            "l1BlockNumber {other} is not a block number"
        ))),
    }
}

/// The provider plus the `[chain]` settings. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ChainClient {
    provider: RootProvider<Ethereum>,
    config: Arc<ChainConfig>,
}

/// Turns an alloy transport error into a [`ChainError`] for call `what`.
/// The RPC URL (which may carry an API key in its path or query) never
/// appears in it: the HTTP client quotes the full URL in its errors, so
/// every text taken from below is scrubbed to the redacted URL.
pub(crate) fn classify(config: &ChainConfig, what: &str, err: RpcError<TransportErrorKind>) -> ChainError {
    let scrub = |text: String| scrub_url(config, text);
    match classify_raw(config, what, err) {
        ChainError::Connect { what, url, detail } => ChainError::Connect {
            what,
            url,
            detail: scrub(detail),
        },
        ChainError::Transport { what, detail } => ChainError::Transport {
            what,
            detail: scrub(detail),
        },
        ChainError::BadResponse { what, detail } => ChainError::BadResponse {
            what,
            detail: scrub(detail),
        },
        ChainError::RpcError { what, code, message } => ChainError::RpcError {
            what,
            code,
            message: scrub(message),
        },
        ChainError::HttpStatus { what, status, body } => ChainError::HttpStatus {
            what,
            status,
            body: scrub(body),
        },
        other => other,
    }
}

/// `text` with the configured RPC URL (as written and as parsed) replaced
/// by [`ChainConfig::redacted_rpc_url`].
fn scrub_url(config: &ChainConfig, text: String) -> String {
    let redacted = config.redacted_rpc_url();
    let mut out = text;
    let mut forms = vec![config.rpc_url.clone()];
    if let Ok(u) = config.parsed_rpc_url() {
        forms.push(u.to_string());
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    for f in forms.iter().filter(|f| !f.is_empty()) {
        out = out.replace(f.as_str(), &redacted);
    }
    out
}

fn classify_raw(config: &ChainConfig, what: &str, err: RpcError<TransportErrorKind>) -> ChainError {
    let what = what.to_string();
    match err {
        RpcError::ErrorResp(payload) => {
            if let Some(data) = payload.as_revert_data() {
                return ChainError::Reverted {
                    what,
                    tx_hash: None,
                    reason: revert_reason(&data, &payload.message),
                };
            }
            if payload.message.contains("revert") {
                return ChainError::Reverted {
                    what,
                    tx_hash: None,
                    reason: revert_reason(&[], &payload.message),
                };
            }
            ChainError::RpcError {
                what,
                code: payload.code,
                message: payload.message.to_string(),
            }
        }
        RpcError::NullResp => ChainError::BadResponse {
            what,
            detail: "null result".into(),
        },
        RpcError::DeserError { err, text } => ChainError::BadResponse {
            what,
            detail: format!("{err}; the answer began {:?}", truncate(&text, 120)),
        },
        RpcError::Transport(kind) => classify_transport(config, what, kind),
        other => ChainError::Transport {
            what,
            detail: other.to_string(),
        },
    }
}

fn classify_transport(config: &ChainConfig, what: String, kind: TransportErrorKind) -> ChainError {
    let url = config.redacted_rpc_url();
    match kind {
        TransportErrorKind::HttpError(e) => ChainError::HttpStatus {
            what,
            status: e.status,
            body: truncate(&e.body, 200),
        },
        TransportErrorKind::HttpErrorWithRetryAfter { error, .. } => ChainError::HttpStatus {
            what,
            status: error.status,
            body: truncate(&error.body, 200),
        },
        TransportErrorKind::Custom(e) => {
            if let Some(r) = e.downcast_ref::<reqwest_alloy::Error>() {
                if r.is_timeout() {
                    return ChainError::Timeout {
                        what,
                        url,
                        timeout_ms: config.request_timeout_ms,
                    };
                }
                if r.is_connect() {
                    return ChainError::Connect {
                        what,
                        url,
                        detail: error_chain(r),
                    };
                }
                return ChainError::Transport {
                    what,
                    detail: error_chain(r),
                };
            }
            ChainError::Transport {
                what,
                detail: e.to_string(),
            }
        }
        other => ChainError::Transport {
            what,
            detail: other.to_string(),
        },
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// The revert reason in `data` (`Error(string)`, `Panic(uint256)`, a custom
/// error's selector), else the node's `execution reverted: …` message.
pub(crate) fn revert_reason(data: &[u8], message: &str) -> Option<String> {
    if let Some(r) = alloy_sol_types::decode_revert_reason(data) {
        // Plain `Error(string)` decodes to "revert: <reason>"; keep the reason.
        return Some(r.strip_prefix("revert: ").unwrap_or(&r).to_string());
    }
    message
        .split_once("execution reverted: ")
        .map(|(_, r)| r.to_string())
        .filter(|r| !r.is_empty())
}

impl ChainClient {
    /// Builds the provider for a validated `config`. No network I/O.
    pub fn new(config: &ChainConfig) -> Result<ChainClient, ChainError> {
        config.validate()?;
        let url = config.parsed_rpc_url()?;
        let tls = crate::net::platform_tls().map_err(|e| ChainError::Transport {
            what: "TLS setup".into(),
            detail: e.to_string(),
        })?;
        let http = reqwest_alloy::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.request_timeout())
            .connect_timeout(config.request_timeout())
            .build()
            .map_err(|e| ChainError::Transport {
                what: "HTTP client setup".into(),
                detail: error_chain(&e),
            })?;
        let rpc = RpcClient::new_http_with_client(http, url);
        Ok(ChainClient {
            provider: RootProvider::new(rpc),
            config: Arc::new(config.clone()),
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The alloy provider (for callers that need another `eth_*` call).
    pub fn provider(&self) -> &RootProvider<Ethereum> {
        &self.provider
    }

    pub(crate) fn err(&self, what: &str, e: RpcError<TransportErrorKind>) -> ChainError {
        classify(&self.config, what, e)
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        self.provider
            .get_chain_id()
            .await
            .map_err(|e| self.err("eth_chainId", e))
    }

    /// `eth_chainId`, refused with [`ChainError::ChainIdMismatch`] when
    /// `[chain] chain_id` is set and differs.
    pub async fn checked_chain_id(&self) -> Result<u64, ChainError> {
        let actual = self.chain_id().await?;
        match self.config.chain_id {
            Some(expected) if expected != actual => Err(ChainError::ChainIdMismatch { expected, actual }),
            _ => Ok(actual),
        }
    }

    /// `eth_call` of a `sol!` function on `to` at `latest`; the answer is
    /// ABI-decoded by alloy.
    pub async fn call<C: SolCall>(&self, what: &str, to: Address, call: C) -> Result<C::Return, ChainError> {
        let tx = TransactionRequest {
            to: Some(TxKind::Call(to)),
            input: TransactionInput::new(Bytes::from(call.abi_encode())),
            ..Default::default()
        };
        let out = self
            .provider
            .call(tx)
            .block(BlockId::latest())
            .await
            .map_err(|e| self.err(what, e))?;
        C::abi_decode_returns(&out).map_err(|e| ChainError::BadResponse {
            what: what.to_string(),
            detail: if out.is_empty() {
                format!("empty return data: is there a contract at {to}?")
            } else {
                format!("{e} ({} bytes returned)", out.len())
            },
        })
    }

    /// `Controller.getContract(keccak256(name))`, refusing the zero address.
    pub async fn contract_address(&self, name: &'static str) -> Result<Address, ChainError> {
        let controller = self.config.controller;
        let what = format!("Controller.getContract(\"{name}\")");
        let addr = self
            .call(
                &what,
                controller,
                IController::getContractCall {
                    id: keccak256(name.as_bytes()),
                },
            )
            .await?;
        if addr == Address::ZERO {
            return Err(ChainError::ContractNotRegistered {
                contract: name,
                controller,
            });
        }
        Ok(addr)
    }

    /// The TicketBroker the Controller names, which must be `[chain]
    /// ticket_broker` when that is set: every read of sender info and every
    /// deposit transaction goes through here.
    pub async fn ticket_broker(&self) -> Result<Address, ChainError> {
        let found = self.contract_address("TicketBroker").await?;
        match self.config.ticket_broker {
            Some(expected) if expected != found => Err(ChainError::TicketBrokerMismatch {
                controller: self.config.controller,
                expected,
                found,
            }),
            _ => Ok(found),
        }
    }

    /// TicketBroker and RoundsManager, from the Controller.
    pub async fn resolve_contracts(&self) -> Result<Contracts, ChainError> {
        // One after the other, so the error names the same contract every time.
        let ticket_broker = self.ticket_broker().await?;
        let rounds_manager = self.contract_address("RoundsManager").await?;
        Ok(Contracts {
            controller: self.config.controller,
            ticket_broker,
            rounds_manager,
        })
    }

    /// The orchestrators active in the last initialized round, with their
    /// service URIs, in BondingManager pool order (go-livepeer's on-chain
    /// discovery: `TranscoderPool` filtered by `activationRound <= round <
    /// deactivationRound`). A pool longer than [`MAX_POOL`] or that loops is
    /// refused as a bad answer.
    pub async fn active_orchestrators(&self) -> Result<Vec<PoolMember>, ChainError> {
        let bonding_manager = self.contract_address("BondingManager").await?;
        let service_registry = self.contract_address("ServiceRegistry").await?;
        let rounds_manager = self.contract_address("RoundsManager").await?;
        let round = self.last_initialized_round(rounds_manager).await?;
        let mut next = self
            .call(
                "BondingManager.getFirstTranscoderInPool",
                bonding_manager,
                IBondingManager::getFirstTranscoderInPoolCall {},
            )
            .await?;
        let mut pool = Vec::new();
        while next != Address::ZERO {
            if pool.len() >= MAX_POOL || pool.contains(&next) {
                return Err(ChainError::BadResponse {
                    what: "BondingManager.getNextTranscoderInPool".into(),
                    detail: format!("the pool does not end within {MAX_POOL} entries or loops at {next}"),
                });
            }
            pool.push(next);
            next = self
                .call(
                    "BondingManager.getNextTranscoderInPool",
                    bonding_manager,
                    IBondingManager::getNextTranscoderInPoolCall { transcoder: next },
                )
                .await?;
        }
        // Eight members at a time: a pool of 100 is 200 calls.
        let members: Vec<Option<PoolMember>> = futures_util::stream::iter(pool)
            .map(|address| async move {
                let t = self
                    .call(
                        "BondingManager.getTranscoder",
                        bonding_manager,
                        IBondingManager::getTranscoderCall { transcoder: address },
                    )
                    .await?;
                if !(t.activationRound <= round && round < t.deactivationRound) {
                    return Ok(None);
                }
                let service_uri = self
                    .call(
                        "ServiceRegistry.getServiceURI",
                        service_registry,
                        IServiceRegistry::getServiceURICall { addr: address },
                    )
                    .await?;
                Ok::<_, ChainError>(Some(PoolMember { address, service_uri }))
            })
            .buffered(8)
            .try_collect()
            .await?;
        let out: Vec<PoolMember> = members.into_iter().flatten().collect();
        Ok(out)
    }

    /// `RoundsManager.currentRound()`: the round of the current block, which
    /// TicketBroker's `withdraw` compares with the withdraw round.
    pub async fn current_round(&self, rounds_manager: Address) -> Result<U256, ChainError> {
        self.call(
            "RoundsManager.currentRound",
            rounds_manager,
            IRoundsManager::currentRoundCall {},
        )
        .await
    }

    /// `TicketBroker.getSenderInfo(sender)`.
    pub async fn sender_info(
        &self,
        ticket_broker: Address,
        sender: Address,
    ) -> Result<SenderInfo, ChainError> {
        let r = self
            .call(
                "TicketBroker.getSenderInfo",
                ticket_broker,
                ITicketBroker::getSenderInfoCall { sender },
            )
            .await?;
        Ok(SenderInfo {
            deposit: r.sender.deposit,
            withdraw_round: r.sender.withdrawRound,
            reserve: r.reserve.fundsRemaining,
            claimed_in_current_round: r.reserve.claimedInCurrentRound,
        })
    }

    /// `TicketBroker.isUnlockInProgress(sender)`.
    pub async fn is_unlock_in_progress(
        &self,
        ticket_broker: Address,
        sender: Address,
    ) -> Result<bool, ChainError> {
        self.call(
            "TicketBroker.isUnlockInProgress",
            ticket_broker,
            ITicketBroker::isUnlockInProgressCall { sender },
        )
        .await
    }

    /// `RoundsManager.lastInitializedRound()`.
    pub async fn last_initialized_round(&self, rounds_manager: Address) -> Result<U256, ChainError> {
        self.call(
            "RoundsManager.lastInitializedRound",
            rounds_manager,
            IRoundsManager::lastInitializedRoundCall {},
        )
        .await
    }

    /// `RoundsManager.blockHashForRound(round)`.
    pub async fn block_hash_for_round(
        &self,
        rounds_manager: Address,
        round: U256,
    ) -> Result<B256, ChainError> {
        self.call(
            "RoundsManager.blockHashForRound",
            rounds_manager,
            IRoundsManager::blockHashForRoundCall { round },
        )
        .await
    }

    /// `eth_getBlockByNumber("latest", false)`: its `l1BlockNumber` when the
    /// block has one, else its `number` (go-livepeer's block watcher). On
    /// an Arbitrum chain id ([`ARBITRUM_CHAIN_IDS`]) a missing
    /// `l1BlockNumber` is [`ChainError::MissingL1BlockNumber`].
    pub async fn latest_block(&self, chain_id: u64) -> Result<BlockInfo, ChainError> {
        let what = "eth_getBlockByNumber(latest)";
        let raw: Option<RawBlock> = self
            .provider
            .raw_request("eth_getBlockByNumber".into(), ("latest", false))
            .await
            .map_err(|e| self.err(what, e))?;
        let raw = raw.ok_or_else(|| ChainError::BadResponse {
            what: what.into(),
            detail: "null block".into(),
        })?;
        let number = raw.number.to::<u64>();
        let l1_block = match raw.l1_block_number {
            Some(n) => n,
            None if ARBITRUM_CHAIN_IDS.contains(&chain_id) => {
                return Err(ChainError::MissingL1BlockNumber {
                    chain_id,
                    block: number,
                })
            }
            None => number,
        };
        Ok(BlockInfo {
            number,
            hash: raw.hash,
            timestamp: raw.timestamp.to::<u64>(),
            l1_block,
        })
    }

    /// `eth_getBalance(address, latest)`.
    pub async fn balance(&self, address: Address) -> Result<U256, ChainError> {
        self.provider
            .get_balance(address)
            .await
            .map_err(|e| self.err("eth_getBalance", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port on 127.0.0.1 with nothing listening.
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn errors_never_show_the_rpc_url_api_key() {
        let url = format!("http://127.0.0.1:{}/v2/SECRETKEY?apikey=SECRET2", closed_port());
        let client = ChainClient::new(&ChainConfig::new(&url)).unwrap();
        let e = client.chain_id().await.unwrap_err();
        let text = format!("{e} {e:?}");
        assert_eq!(e.kind(), "connect", "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("http://127.0.0.1:"), "{text}");
        let cfg = ChainConfig::new(&url);
        assert!(!format!("{cfg:?}").contains("SECRET"), "{cfg:?}");
    }

    #[test]
    fn scrub_replaces_written_and_parsed_forms() {
        let cfg = ChainConfig::new("https://rpc.example:8443/key/ABC");
        let s = scrub_url(
            &cfg,
            "error for url (https://rpc.example:8443/key/ABC): refused".into(),
        );
        assert_eq!(s, "error for url (https://rpc.example:8443): refused");
    }
}
