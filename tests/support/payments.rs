//! Live-payment harness for `POST /generate-live-payment`: a real anvil with
//! our Livepeer test contracts, the §C signer's deposit and reserve funded in
//! the TicketBroker, the real `livepeer-signer` binary (C7 keystore, `[chain]`
//! with fast polling, JSON logs, plus the caller's `[payments]` / `[auth]`
//! text), and everything a gateway and an orchestrator do around it:
//!
//! * [`Orch`] builds a `net.OrchestratorInfo` as an orchestrator sends it
//!   (recipient, face value, win probability, `recipient_rand_hash =
//!   keccak256(recipientRand)` with the rand kept by the test, seed,
//!   expiration block, optional expiration params, price, auth token,
//!   transcoder URL);
//! * [`PayRequest`] is the JSON body exactly as a go-livepeer gateway writes
//!   it (spec §3.1), [`Signer::pay`] posts it;
//! * [`Resp`] checks the response layout (§3.2, §1.5) and decodes it;
//! * [`Signer::verify`] checks a payment as an orchestrator and the chain
//!   would: every ticket by go-livepeer's `VerifySig` and in the EVM through
//!   the test TicketBroker's `checkWinningTicket`, the segment credentials,
//!   the state signature and layout;
//! * [`expected_update`] is §3.5's arithmetic in exact rationals, and
//!   [`Session`] drives a session call after call with all of the above.
//!
//! Every server it starts binds 127.0.0.1 and is stopped on drop.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy_primitives::{Address as ChainAddress, B256, U256};
use alloy_sol_types::{sol, SolCall};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use livepeer_signer::chain::{ChainClient, ChainConfig, ChainError};
use livepeer_signer::eth::{hex, keccak256, text_hash, verify_sig, Address};
use livepeer_signer::livepeer::payment::{GoTime, Rat, RemotePaymentState};
use livepeer_signer::livepeer::proto;
use prost::Message as _;
use time::OffsetDateTime;

use crate::support::anvil::{Anvil, Deployed, TestTicketBroker};
use crate::support::{self, Daemon};

sol! {
    interface FundingBroker {
        function fundDepositAndReserveFor(address addr, uint256 depositAmount, uint256 reserveAmount) external payable;
    }
}

/// `2^256 − 1`.
pub const MAX_WIN_PROB: U256 = U256::MAX;

/// A win probability of exactly 1/3: `(2^256 − 1) / 3` (2^256 − 1 is divisible by 3).
pub fn win_third() -> U256 {
    MAX_WIN_PROB / U256::from(3)
}

/// A win probability so close to 1 that every ticket wins (but EV < face value).
pub fn win_almost_always() -> U256 {
    MAX_WIN_PROB - U256::from(1)
}

/// `face × win_prob / (2^256 − 1)`, exact.
pub fn ev_of(face: U256, win_prob: U256) -> Rat {
    let num = &Rat::from_u256(face) * &Rat::from_u256(win_prob);
    (&num / &Rat::from_u256(MAX_WIN_PROB)).unwrap()
}

/// Face value and win probability whose EV is exactly the integer `ev`
/// (face `3·ev`, win probability 1/3).
pub fn exact_ev(ev: u64) -> (U256, U256) {
    (U256::from(3 * ev), win_third())
}

/// Minimal big-endian bytes (0 → empty), as go-livepeer's `big.Int.Bytes()`.
pub fn min_bytes(n: U256) -> Vec<u8> {
    let b = n.to_be_bytes::<32>();
    let first = b.iter().position(|&x| x != 0).unwrap_or(32);
    b[first..].to_vec()
}

/// The §C signer's address.
pub fn c_address() -> Address {
    support::C_ADDRESS.parse().unwrap()
}

fn c_chain_address() -> ChainAddress {
    support::C_ADDRESS.parse().unwrap()
}

/// Random 20 bytes, never all zero.
pub fn random_address() -> [u8; 20] {
    let mut a: [u8; 20] = rand::random();
    a[0] |= 1;
    a
}

/// A random 256-bit value.
pub fn random_u256() -> U256 {
    U256::from_be_bytes(rand::random::<[u8; 32]>())
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The signature go-livepeer's `Eth.Sign(msg)` makes with the §C key:
/// ECDSA over `TextHash(msg)`, `r‖s‖(v+27)`, low s.
pub fn c_sign(msg: &[u8]) -> Vec<u8> {
    let (sig, recid) = support::c_key()
        .sign_prehash_recoverable(&text_hash(msg))
        .unwrap();
    let mut out = sig.to_bytes().to_vec();
    out.push(27 + recid.to_byte());
    verify_sig(&c_address(), msg, &out).expect("the test's own state signature verifies");
    out
}

/// A state blob signed with the §C key, as a Go or Rust signer with that key would.
pub fn signed_state(json: &[u8]) -> WireState {
    WireState {
        state: json.to_vec(),
        sig: c_sign(json),
    }
}

// ---------------------------------------------------------------------------
// The chain

/// Anvil with the Livepeer test contracts, the §C signer funded in the TicketBroker.
pub struct Chain {
    /// The node.
    pub anvil: Anvil,
    /// The contracts.
    pub d: Deployed,
    client: ChainClient,
}

impl Chain {
    /// Deploys and funds `deposit` / `reserve` for the §C signer (from
    /// anvil's dev account, `fundDepositAndReserveFor`). Zero funds nothing.
    pub async fn start(deposit: U256, reserve: U256) -> Chain {
        let anvil = Anvil::start();
        let d = anvil.deploy_livepeer().await;
        let client = ChainClient::new(&ChainConfig::new(anvil.url())).unwrap();
        let c = Chain { anvil, d, client };
        if !deposit.is_zero() || !reserve.is_zero() {
            c.fund(deposit, reserve).await;
        }
        c
    }

    /// Adds `deposit` / `reserve` for the §C signer.
    pub async fn fund(&self, deposit: U256, reserve: U256) {
        let call = FundingBroker::fundDepositAndReserveForCall {
            addr: c_chain_address(),
            depositAmount: deposit,
            reserveAmount: reserve,
        };
        self.anvil
            .send(
                Some(self.d.ticket_broker),
                call.abi_encode().into(),
                deposit + reserve,
            )
            .await;
        let info = self.sender().await;
        assert!(info.deposit >= deposit && info.reserve >= reserve, "{info:?}");
    }

    /// `getSenderInfo(§C)`.
    pub async fn sender(&self) -> livepeer_signer::chain::SenderInfo {
        self.client
            .sender_info(self.d.ticket_broker, c_chain_address())
            .await
            .unwrap()
    }

    /// `[chain]` for this node (fast polling; `max_staleness_ms` as given).
    pub fn toml(&self, max_staleness_ms: u64) -> String {
        format!(
            "\n[chain]\nrpc_url = {:?}\ncontroller = \"{}\"\nchain_id = 31337\n\
             poll_interval_ms = 200\nrequest_timeout_ms = 2000\nmax_staleness_ms = {max_staleness_ms}\n",
            self.anvil.url(),
            self.d.controller
        )
    }

    /// The latest block number (the L1 block on anvil).
    pub async fn block(&self) -> u64 {
        use alloy_provider::Provider;
        self.client.provider().get_block_number().await.unwrap()
    }

    /// `(lastInitializedRound, blockHashForRound(it))`.
    pub async fn round(&self) -> (i64, B256) {
        let round = self
            .client
            .last_initialized_round(self.d.rounds_manager)
            .await
            .unwrap();
        let hash = self
            .client
            .block_hash_for_round(self.d.rounds_manager, round)
            .await
            .unwrap();
        (i64::try_from(round).unwrap(), hash)
    }

    /// `TicketBroker.getTicketHash(ticket)`.
    pub async fn ticket_hash(&self, t: &TestTicketBroker::Ticket) -> B256 {
        self.client
            .call(
                "getTicketHash",
                self.d.ticket_broker,
                TestTicketBroker::getTicketHashCall { ticket: t.clone() },
            )
            .await
            .unwrap()
    }

    /// `TicketBroker.checkWinningTicket(ticket, sig, recipientRand)`: the
    /// ticket hash when it is a valid winner, else the revert reason.
    pub async fn check_winning(
        &self,
        t: &TestTicketBroker::Ticket,
        sig: &[u8],
        rand: U256,
    ) -> Result<B256, String> {
        let call = TestTicketBroker::checkWinningTicketCall {
            ticket: t.clone(),
            sig: sig.to_vec().into(),
            recipientRand: rand,
        };
        match self
            .client
            .call("checkWinningTicket", self.d.ticket_broker, call)
            .await
        {
            Ok(h) => Ok(h),
            Err(ChainError::Reverted { reason, .. }) => Err(reason.unwrap_or_else(|| "no reason".into())),
            Err(e) => panic!("checkWinningTicket: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------
// The orchestrator side

/// An orchestrator's `OrchestratorInfo`, field by field, and the
/// `recipientRand` behind its `recipient_rand_hash`.
#[derive(Debug, Clone)]
pub struct Orch {
    /// `OrchestratorInfo.address`.
    pub address: Vec<u8>,
    /// `OrchestratorInfo.transcoder`.
    pub transcoder: String,
    /// `ticket_params.recipient`.
    pub recipient: [u8; 20],
    /// `ticket_params.face_value`.
    pub face_value: U256,
    /// `ticket_params.win_prob`.
    pub win_prob: U256,
    /// The O's secret; `recipient_rand_hash = keccak256(uint256(it))`.
    pub recipient_rand: U256,
    /// `ticket_params.seed`.
    pub seed: U256,
    /// `ticket_params.expiration_block`.
    pub expiration_block: u64,
    /// `ticket_params.expiration_params` (round, block hash).
    pub expiration_params: Option<(i64, B256)>,
    /// `price_info`.
    pub price: Option<proto::PriceInfo>,
    /// `auth_token`.
    pub auth_token: Option<proto::AuthToken>,
    /// Leave `ticket_params` out entirely.
    pub no_ticket_params: bool,
}

impl Orch {
    /// An orchestrator valid against a chain at `block` with round `round`:
    /// expiration block `block + 100`, expiration params set, auth token
    /// valid for an hour, price `price_per_unit / pixels_per_unit`.
    pub fn new(face_value: U256, win_prob: U256, price: (i64, i64), block: u64, round: (i64, B256)) -> Orch {
        Orch {
            address: random_address().to_vec(),
            transcoder: "https://orch.example:8935".into(),
            recipient: random_address(),
            face_value,
            win_prob,
            recipient_rand: random_u256(),
            seed: random_u256(),
            expiration_block: block + 100,
            expiration_params: Some(round),
            price: Some(proto::PriceInfo {
                price_per_unit: price.0,
                pixels_per_unit: price.1,
                capability: 0,
                constraint: String::new(),
            }),
            auth_token: Some(proto::AuthToken {
                token: rand::random::<[u8; 16]>().to_vec(),
                session_id: format!("session-{:08x}", rand::random::<u32>()),
                expiration: unix_now() + 3600,
            }),
            no_ticket_params: false,
        }
    }

    /// `keccak256(uint256_be(recipient_rand))`.
    pub fn rand_hash(&self) -> B256 {
        B256::from(keccak256(self.recipient_rand.to_be_bytes::<32>()))
    }

    /// `0x` + hex of the rand hash: the `PMSessionID` of these params.
    pub fn pm_session_id(&self) -> String {
        format!("0x{}", hex::encode(self.rand_hash()))
    }

    /// Fresh ticket params (new recipientRand and seed), as an O's
    /// `PaymentResult` brings.
    pub fn refresh_params(&mut self) {
        self.recipient_rand = random_u256();
        self.seed = random_u256();
    }

    /// The ticket EV of these params.
    pub fn ev(&self) -> Rat {
        ev_of(self.face_value, self.win_prob)
    }

    /// The O's price as a rational.
    pub fn price_rat(&self) -> Rat {
        let p = self.price.as_ref().unwrap();
        Rat::from_frac(p.price_per_unit, p.pixels_per_unit).unwrap()
    }

    /// Sets `price_info` to `ppu / pixels`.
    pub fn set_price(&mut self, ppu: i64, pixels: i64) {
        let p = self.price.get_or_insert_with(Default::default);
        p.price_per_unit = ppu;
        p.pixels_per_unit = pixels;
    }

    /// The protobuf `TicketParams` the O advertises.
    pub fn ticket_params(&self) -> proto::TicketParams {
        proto::TicketParams {
            recipient: self.recipient.to_vec(),
            face_value: min_bytes(self.face_value),
            win_prob: min_bytes(self.win_prob),
            recipient_rand_hash: self.rand_hash().to_vec(),
            seed: min_bytes(self.seed),
            expiration_block: min_bytes(U256::from(self.expiration_block)),
            expiration_params: self
                .expiration_params
                .map(|(r, h)| proto::TicketExpirationParams {
                    creation_round: r,
                    creation_round_block_hash: h.to_vec(),
                }),
        }
    }

    /// The `OrchestratorInfo` message.
    pub fn info(&self) -> proto::OrchestratorInfo {
        proto::OrchestratorInfo {
            transcoder: self.transcoder.clone(),
            ticket_params: (!self.no_ticket_params).then(|| self.ticket_params()),
            price_info: self.price.clone(),
            address: self.address.clone(),
            auth_token: self.auth_token.clone(),
            ..Default::default()
        }
    }

    /// Its protobuf bytes (the request's `orchestrator`, before base64).
    pub fn bytes(&self) -> Vec<u8> {
        self.info().encode_to_vec()
    }

    /// `BytesToAddress(address)`: the last 20 bytes, left-padded.
    pub fn go_address(&self) -> Address {
        let mut a = [0u8; 20];
        let b = &self.address;
        if b.len() >= 20 {
            a.copy_from_slice(&b[b.len() - 20..]);
        } else {
            a[20 - b.len()..].copy_from_slice(b);
        }
        Address::from_bytes(a)
    }
}

/// `net.Capabilities` for live-video-to-video (capability 35) with
/// per-capability constraints naming `models`.
pub fn lv2v_caps(models: &[&str]) -> proto::Capabilities {
    use proto::capabilities::capability_constraints::ModelConstraint;
    use proto::capabilities::{CapabilityConstraints, Constraints};
    let models = models
        .iter()
        .map(|m| {
            (
                m.to_string(),
                ModelConstraint {
                    warm: true,
                    capacity: 1,
                    runner_version: String::new(),
                    capacity_in_use: 0,
                },
            )
        })
        .collect();
    proto::Capabilities {
        bitstring: vec![1u64 << 35],
        mandatories: vec![],
        capacities: BTreeMap::from([(35, 1)]),
        version: "0.8.5".into(),
        constraints: Some(Constraints {
            min_version: String::new(),
            per_capability: BTreeMap::from([(35, CapabilityConstraints { models })]),
        }),
    }
}

// ---------------------------------------------------------------------------
// Requests and responses

/// `{State, Sig}` as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireState {
    /// The state JSON.
    pub state: Vec<u8>,
    /// The 65-byte signature.
    pub sig: Vec<u8>,
}

impl WireState {
    /// The parsed state (panics when it does not parse).
    pub fn parsed(&self) -> RemotePaymentState {
        RemotePaymentState::from_json(&self.state).unwrap()
    }
}

/// A `/generate-live-payment` request.
#[derive(Debug, Clone, Default)]
pub struct PayRequest {
    /// `state` (absent → `{"State":null,"Sig":null}`).
    pub state: Option<WireState>,
    /// `orchestrator` (raw protobuf; base64 on the wire).
    pub orchestrator: Vec<u8>,
    /// `ManifestID`.
    pub manifest_id: String,
    /// `app` (omitted when `None`).
    pub app: Option<String>,
    /// `inPixels`.
    pub in_pixels: i64,
    /// `type`.
    pub job_type: String,
    /// `maxPrice`: raw JSON text (omitted when `None`).
    pub max_price: Option<String>,
    /// `capabilities` (raw protobuf; `null` when `None`).
    pub capabilities: Option<Vec<u8>>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

impl PayRequest {
    /// A request for `orch` of `job_type` with no state and no manifest id
    /// (a gateway's first call).
    pub fn new(orch: &Orch, job_type: &str) -> PayRequest {
        PayRequest {
            orchestrator: orch.bytes(),
            job_type: job_type.into(),
            ..Default::default()
        }
    }

    /// With `ManifestID`.
    pub fn manifest(mut self, mid: &str) -> Self {
        self.manifest_id = mid.into();
        self
    }

    /// With `inPixels`.
    pub fn pixels(mut self, n: i64) -> Self {
        self.in_pixels = n;
        self
    }

    /// With `state`.
    pub fn state(mut self, s: &WireState) -> Self {
        self.state = Some(s.clone());
        self
    }

    /// With `app`.
    pub fn app(mut self, app: &str) -> Self {
        self.app = Some(app.into());
        self
    }

    /// With `maxPrice` (raw JSON).
    pub fn max_price(mut self, json: &str) -> Self {
        self.max_price = Some(json.into());
        self
    }

    /// With `capabilities`.
    pub fn caps(mut self, caps: &proto::Capabilities) -> Self {
        self.capabilities = Some(caps.encode_to_vec());
        self
    }

    /// With a request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The JSON body in go-livepeer's field order
    /// (`RemotePaymentRequest`: state, orchestrator, ManifestID, app,
    /// inPixels, type, maxPrice, capabilities; `app` and `maxPrice` only
    /// when set, as with `omitempty`).
    pub fn body(&self) -> String {
        let b64 = |v: &[u8]| format!("\"{}\"", B64.encode(v));
        let state = match &self.state {
            None => "{\"State\":null,\"Sig\":null}".to_string(),
            Some(w) => format!("{{\"State\":{},\"Sig\":{}}}", b64(&w.state), b64(&w.sig)),
        };
        let mut s = format!(
            "{{\"state\":{state},\"orchestrator\":{},\"ManifestID\":{}",
            b64(&self.orchestrator),
            json_str(&self.manifest_id)
        );
        if let Some(app) = &self.app {
            s.push_str(&format!(",\"app\":{}", json_str(app)));
        }
        s.push_str(&format!(
            ",\"inPixels\":{},\"type\":{}",
            self.in_pixels,
            json_str(&self.job_type)
        ));
        if let Some(mp) = &self.max_price {
            s.push_str(&format!(",\"maxPrice\":{mp}"));
        }
        match &self.capabilities {
            Some(c) => s.push_str(&format!(",\"capabilities\":{}}}", b64(c))),
            None => s.push_str(",\"capabilities\":null}"),
        }
        s
    }
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Livepeer-Orchestrator-URL`.
    pub orch_url: Option<String>,
    /// The body.
    pub body: String,
    /// Just before the request was sent.
    pub sent: OffsetDateTime,
    /// Just after the response was read.
    pub received: OffsetDateTime,
    /// What was sent (for messages).
    pub request: String,
}

/// A decoded 200.
#[derive(Debug, Clone)]
pub struct Paid {
    /// `payment`.
    pub payment: proto::Payment,
    /// `segCreds`.
    pub seg: proto::SegData,
    /// `state`.
    pub wire: WireState,
    /// `state.State` parsed.
    pub st: RemotePaymentState,
    /// When the request was sent / the answer read.
    pub sent: OffsetDateTime,
    /// See `sent`.
    pub received: OffsetDateTime,
}

impl Resp {
    /// The error message, after checking the envelope exactly:
    /// `Content-Type: application/json`, `{"error":{"message":"…"}}\n`.
    #[track_caller]
    pub fn message(&self) -> String {
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "status {}: {}",
            self.status,
            self.body
        );
        let v: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {:?}", self.body));
        let msg = v["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error.message in {:?}", self.body))
            .to_string();
        let exact = format!("{{\"error\":{{\"message\":{}}}}}\n", go_json(&msg));
        assert_eq!(self.body, exact, "error envelope layout");
        msg
    }

    /// Asserts `status` and a message containing `needle`; returns the message.
    #[track_caller]
    pub fn expect(&self, status: u16, needle: &str) -> String {
        assert_eq!(
            self.status, status,
            "expected {status} ({needle:?}), got {}: {}\nrequest: {}",
            self.status, self.body, self.request
        );
        let m = self.message();
        assert!(
            m.contains(needle),
            "status {status}: message {m:?} lacks {needle:?}"
        );
        m
    }

    /// Asserts `status` and exactly `message`.
    #[track_caller]
    pub fn expect_exact(&self, status: u16, message: &str) {
        let m = self.expect(status, message);
        assert_eq!(m, message);
    }

    /// Asserts a 480 with `Livepeer-Orchestrator-URL: transcoder`.
    #[track_caller]
    pub fn expect_refresh(&self, transcoder: &str) {
        self.expect_exact(480, "refresh session for remote signer");
        assert_eq!(
            self.orch_url.as_deref(),
            Some(transcoder),
            "Livepeer-Orchestrator-URL"
        );
    }

    /// Decodes a 200 after checking its exact layout (§3.2).
    #[track_caller]
    pub fn paid(&self) -> Paid {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}\nrequest: {}",
            self.status, self.body, self.request
        );
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        assert_eq!(self.orch_url, None, "Livepeer-Orchestrator-URL on a 200");
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap();
        let s = |p: &serde_json::Value| p.as_str().unwrap_or_else(|| panic!("{}", self.body)).to_string();
        let (p, sc, st, sig) = (
            s(&v["payment"]),
            s(&v["segCreds"]),
            s(&v["state"]["State"]),
            s(&v["state"]["Sig"]),
        );
        let exact = format!(
            "{{\"payment\":\"{p}\",\"segCreds\":\"{sc}\",\"state\":{{\"State\":\"{st}\",\"Sig\":\"{sig}\"}}}}\n"
        );
        assert_eq!(self.body, exact, "response layout");
        let d = |t: &str| {
            B64.decode(t)
                .unwrap_or_else(|e| panic!("not padded standard base64 ({e}): {t}"))
        };
        let payment = proto::Payment::decode(d(&p).as_slice()).expect("payment is a net.Payment");
        let seg = proto::SegData::decode(d(&sc).as_slice()).expect("segCreds is a net.SegData");
        let wire = WireState {
            state: d(&st),
            sig: d(&sig),
        };
        let parsed = RemotePaymentState::from_json(&wire.state).unwrap_or_else(|e| {
            panic!(
                "state does not parse ({e}): {}",
                String::from_utf8_lossy(&wire.state)
            )
        });
        Paid {
            payment,
            seg,
            wire,
            st: parsed,
            sent: self.sent,
            received: self.received,
        }
    }
}

/// A Go `json.Marshal` string (escapes `<`, `>`, `&`).
pub fn go_json(s: &str) -> String {
    livepeer_signer::livepeer::payment::state::go_json_string(s)
}

// ---------------------------------------------------------------------------
// The signer

/// The real binary with payments on, and its chain.
pub struct Signer {
    /// The chain (absent for the no-`[chain]` case).
    pub chain: Option<Chain>,
    /// The daemon.
    pub daemon: Daemon,
    /// Its URL.
    pub url: String,
    /// A client for it.
    pub http: reqwest::Client,
    /// Its config file.
    pub cfg: PathBuf,
    dir: tempfile::TempDir,
}

/// 1 ETH.
pub fn one_eth() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

impl Signer {
    /// Anvil funded with 1 ETH deposit and 1 ETH reserve, and a signer with
    /// `config` appended (its `[payments]`, `[auth]`…).
    pub async fn start(config: &str) -> Signer {
        let chain = Chain::start(one_eth(), one_eth()).await;
        Signer::on(Some(chain), config, 1500).await
    }

    /// A signer on `chain` (or without `[chain]`), `config` appended.
    pub async fn on(chain: Option<Chain>, config: &str, max_staleness_ms: u64) -> Signer {
        let dir = tempfile::tempdir().unwrap();
        let (key, pw) = support::write_c7(dir.path());
        let cfg = support::write_keystore_config(dir.path(), &key, &pw);
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str("\n[log]\nlevel = \"info\"\nformat = \"json\"\n");
        if let Some(c) = &chain {
            text.push_str(&c.toml(max_staleness_ms));
        }
        text.push('\n');
        text.push_str(config);
        std::fs::write(&cfg, &text).unwrap();
        let mut cmd = support::bin();
        cmd.arg("serve").arg("--config").arg(&cfg);
        let daemon = Daemon::start(cmd);
        let url = daemon.url.clone();
        let s = Signer {
            chain,
            daemon,
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            cfg,
            dir,
        };
        if s.chain.is_some() {
            let block = s.chain().block().await;
            s.wait_l1(block).await;
        }
        s
    }

    /// The chain (panics when started without one).
    pub fn chain(&self) -> &Chain {
        self.chain.as_ref().expect("started without [chain]")
    }

    /// A temporary directory for the test's files.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// An orchestrator valid now (see [`Orch::new`]).
    pub async fn orch(&self, face: U256, win_prob: U256, price: (i64, i64)) -> Orch {
        let c = self.chain();
        Orch::new(face, win_prob, price, c.block().await, c.round().await)
    }

    /// Waits until `/readyz` reports a fresh chain view at L1 block ≥ `block`.
    pub async fn wait_l1(&self, block: u64) {
        if let Err(last) = ready_at(&self.http, &self.url, block).await {
            panic!("the signer's chain view never reached block {block}: {last}");
        }
    }

    /// Waits until `/readyz` says the chain view is stale (503).
    pub async fn wait_stale(&self) {
        let start = Instant::now();
        loop {
            let r = self
                .http
                .get(format!("{}/readyz", self.url))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            if status == 503 && v["chain"]["fresh"] == false {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the chain view never went stale: {status} {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// POSTs `req` to `/generate-live-payment`.
    pub async fn pay(&self, req: &PayRequest) -> Resp {
        self.post_raw(&req.body(), &req.headers).await
    }

    /// POSTs `body` to `/generate-live-payment` with `Content-Type: application/json` and `headers`.
    pub async fn post_raw(&self, body: &str, headers: &[(String, String)]) -> Resp {
        let mut rb = self
            .http
            .post(format!("{}/generate-live-payment", self.url))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        for (n, v) in headers {
            rb = rb.header(n.as_str(), v.as_str());
        }
        let sent = OffsetDateTime::now_utc();
        let r = rb.send().await.expect("POST /generate-live-payment");
        let status = r.status().as_u16();
        let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
        let (content_type, orch_url) = (h("content-type"), h("livepeer-orchestrator-url"));
        let body_out = r.text().await.unwrap();
        Resp {
            status,
            content_type,
            orch_url,
            body: body_out,
            sent,
            received: OffsetDateTime::now_utc(),
            request: body.chars().take(600).collect(),
        }
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let r = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text().await.unwrap()
    }

    /// `livepeer_signer_signatures_total{backend="keystore"}`.
    pub async fn signatures(&self) -> f64 {
        metric(
            &self.metrics().await,
            "livepeer_signer_signatures_total{backend=\"keystore\"}",
        )
    }

    /// Every audit line with `event == "payment"` logged so far (JSON logs).
    pub fn payment_audits(&self) -> Vec<serde_json::Value> {
        self.daemon
            .logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| field(v, "event").as_deref() == Some("payment"))
            .collect()
    }

    /// Waits until there are at least `n` payment audit lines; returns them.
    pub async fn wait_payment_audits(&self, n: usize) -> Vec<serde_json::Value> {
        let start = Instant::now();
        loop {
            let a = self.payment_audits();
            if a.len() >= n {
                return a;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "only {} payment audit lines, wanted {n}; logs:\n{}",
                a.len(),
                self.daemon.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Verifies a payment as an orchestrator and the chain would (module
    /// docs) for `orch` / `req`; returns the nonces and the manifest id.
    pub async fn verify(&self, orch: &Orch, req: &PayRequest, paid: &Paid) -> Verified {
        verify_payment(self.chain(), orch, req, paid).await
    }
}

/// The value of a (flattened) JSON log field as text.
pub fn field(v: &serde_json::Value, key: &str) -> Option<String> {
    let f = v.get(key).or_else(|| v.get("fields").and_then(|f| f.get(key)))?;
    Some(match f {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// One Prometheus sample (0 when absent).
pub fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .unwrap_or(0.0)
}

/// Whether the exposition has any sample of `name` (with or without labels).
pub fn has_metric(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        !l.starts_with('#')
            && l.starts_with(name)
            && matches!(l.as_bytes().get(name.len()), Some(b' ') | Some(b'{'))
    })
}

/// The sum of every sample of `name` over its label sets.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.starts_with(name))
        .filter(|l| matches!(l.as_bytes().get(name.len()), Some(b' ') | Some(b'{')))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// What [`Signer::verify`] found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The ticket nonces, in order.
    pub nonces: Vec<u32>,
    /// The segment credentials' manifest id.
    pub manifest_id: String,
    /// How many tickets won (checked in the EVM).
    pub winners: usize,
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The ticket the TicketBroker sees for nonce `nonce`.
fn evm_ticket(orch: &Orch, nonce: u32, round: i64, hash: B256) -> TestTicketBroker::Ticket {
    let aux = if round == 0 && hash.is_zero() {
        Vec::new()
    } else {
        let mut a = U256::from(round as u64).to_be_bytes::<32>().to_vec();
        a.extend_from_slice(hash.as_slice());
        a
    };
    TestTicketBroker::Ticket {
        recipient: ChainAddress::from(orch.recipient),
        sender: c_chain_address(),
        faceValue: orch.face_value,
        winProb: orch.win_prob,
        senderNonce: U256::from(nonce),
        recipientRandHash: orch.rand_hash(),
        auxData: aux.into(),
    }
}

/// The ticket hash, computed here: keccak256 of the `abi.encodePacked` layout.
fn local_ticket_hash(t: &TestTicketBroker::Ticket) -> B256 {
    let mut p = Vec::with_capacity(232);
    p.extend_from_slice(t.recipient.as_slice());
    p.extend_from_slice(t.sender.as_slice());
    p.extend_from_slice(&t.faceValue.to_be_bytes::<32>());
    p.extend_from_slice(&t.winProb.to_be_bytes::<32>());
    p.extend_from_slice(&t.senderNonce.to_be_bytes::<32>());
    p.extend_from_slice(t.recipientRandHash.as_slice());
    p.extend_from_slice(&t.auxData);
    B256::from(keccak256(&p))
}

/// See [`Signer::verify`].
/// Polls `url`/readyz until it answers 200 with a fresh chain view at L1
/// block ≥ `block`; after 30 s, `Err` with the last status and body.
pub async fn ready_at(http: &reqwest::Client, url: &str, block: u64) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let mut last = "no answer".to_string();
        if let Ok(r) = http.get(format!("{url}/readyz")).send().await {
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            if status == 200
                && v["chain"]["fresh"] == true
                && v["chain"]["l1_block"].as_u64().unwrap_or(0) >= block
            {
                return Ok(());
            }
            last = format!("{status} {v}");
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The state MAC key the tests write to `[payments] state_mac_key_file`.
pub const TEST_STATE_MAC_KEY: &[u8] = b"livepeer-signer test state MAC key, 32+ bytes";

pub async fn verify_payment(chain: &Chain, orch: &Orch, req: &PayRequest, paid: &Paid) -> Verified {
    let me = c_address();
    let p = &paid.payment;
    // Payment (§3.9).
    assert_eq!(p.sender, me.as_bytes().to_vec(), "payment.sender");
    let tp = p.ticket_params.as_ref().expect("payment.ticket_params");
    assert_eq!(tp.recipient, orch.recipient.to_vec(), "recipient");
    assert_eq!(tp.face_value, min_bytes(orch.face_value), "face_value");
    assert_eq!(tp.win_prob, min_bytes(orch.win_prob), "win_prob");
    assert_eq!(
        tp.recipient_rand_hash,
        orch.rand_hash().to_vec(),
        "recipient_rand_hash"
    );
    assert_eq!(tp.seed, min_bytes(orch.seed), "seed");
    assert_eq!(
        tp.expiration_block,
        min_bytes(U256::from(orch.expiration_block)),
        "expiration_block"
    );
    assert_eq!(
        tp.expiration_params, None,
        "ticket_params.expiration_params must not be set"
    );
    let (round, hash) = match orch.expiration_params {
        Some((r, h)) if r != 0 && !h.is_zero() => (r, h),
        _ => chain.round().await,
    };
    let ep = p
        .expiration_params
        .as_ref()
        .expect("payment.expiration_params is always set");
    assert_eq!(ep.creation_round, round, "creation_round");
    assert_eq!(
        ep.creation_round_block_hash,
        hash.to_vec(),
        "creation_round_block_hash"
    );
    assert_eq!(
        p.expected_price, orch.price,
        "expected_price is the O's price_info verbatim"
    );
    assert!(!p.ticket_sender_params.is_empty(), "a 200 carries tickets");
    let nonces: Vec<u32> = p.ticket_sender_params.iter().map(|t| t.sender_nonce).collect();
    for w in nonces.windows(2) {
        assert_eq!(w[1], w[0] + 1, "nonces are consecutive: {nonces:?}");
    }

    // Every ticket: VerifySig and the TicketBroker's redemption checks.
    let checks = p.ticket_sender_params.iter().map(|tsp| async move {
        assert_eq!(tsp.sig.len(), 65);
        let t = evm_ticket(orch, tsp.sender_nonce, round, hash);
        let h = local_ticket_hash(&t);
        assert_eq!(chain.ticket_hash(&t).await, h, "getTicketHash");
        verify_sig(&me, h.as_slice(), &tsp.sig)
            .unwrap_or_else(|e| panic!("ticket {} fails VerifySig: {e}", tsp.sender_nonce));
        let mut win_input = tsp.sig.clone();
        win_input.extend_from_slice(&orch.recipient_rand.to_be_bytes::<32>());
        let wins = U256::from_be_bytes(keccak256(&win_input)) < orch.win_prob;
        match chain.check_winning(&t, &tsp.sig, orch.recipient_rand).await {
            Ok(got) => {
                assert!(wins, "the EVM accepted a ticket that should lose");
                assert_eq!(got, h);
                true
            }
            Err(reason) => {
                assert!(
                    !wins && reason.contains("ticket did not win"),
                    "ticket {} refused by the TicketBroker: {reason}",
                    tsp.sender_nonce
                );
                false
            }
        }
    });
    let winners = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter(|w| *w)
        .count();
    if orch.win_prob >= win_almost_always() {
        assert_eq!(winners, nonces.len(), "every ticket wins at win_prob 2^256 − 2");
    }

    // Segment credentials (§3.10).
    let seg = &paid.seg;
    let mid = String::from_utf8(seg.manifest_id.clone()).unwrap();
    if req.manifest_id.is_empty() && req.state.is_none() {
        assert!(is_lower_hex(&mid, 8), "generated manifest id {mid:?}");
    } else {
        assert_eq!(mid, req.manifest_id, "segCreds manifest id");
    }
    assert_eq!(seg.seq, 0);
    assert_eq!(
        seg.hash,
        keccak256(b"").to_vec(),
        "segCreds hash = keccak256(\"\")"
    );
    assert_eq!(seg.profiles, b"invalid".to_vec(), "segCreds profiles");
    assert_eq!(seg.duration, 0);
    assert_eq!(
        seg.auth_token, orch.auth_token,
        "segCreds auth_token is the O's, verbatim"
    );
    let mut flatten = mid.as_bytes().to_vec();
    flatten.extend_from_slice(&[0u8; 32]);
    flatten.extend_from_slice(&keccak256(b""));
    verify_sig(&me, &keccak256(&flatten), &seg.sig)
        .expect("segCreds sig: VerifySig(sender, keccak256(Flatten))");
    match &req.capabilities {
        None => assert_eq!(seg.capabilities, None, "no capabilities in, none out"),
        Some(c) => {
            let sent = proto::Capabilities::decode(c.as_slice()).unwrap();
            let got = seg
                .capabilities
                .as_ref()
                .expect("segCreds carries the request's capabilities");
            assert_eq!(got.bitstring, sent.bitstring);
            assert_eq!(got.mandatories, sent.mandatories);
            let models = |c: &proto::Capabilities| {
                c.constraints.as_ref().map(|k| {
                    k.per_capability
                        .iter()
                        .map(|(cap, m)| (*cap, m.models.keys().cloned().collect::<Vec<_>>()))
                        .collect::<Vec<_>>()
                })
            };
            assert_eq!(models(got), models(&sent), "capability constraints");
        }
    }

    // State (§3.3).
    let w = &paid.wire;
    if w.sig.len() == livepeer_signer::livepeer::payment::mac::TAG_LEN {
        // `[payments] state_mac_key_file` = TEST_STATE_MAC_KEY: an HMAC tag.
        let key = livepeer_signer::livepeer::payment::mac::StateMacKey::new(TEST_STATE_MAC_KEY).unwrap();
        assert!(
            key.verify(&me, &w.state, &w.sig),
            "state tag: HMAC over the state bytes"
        );
    } else {
        verify_sig(&me, &w.state, &w.sig).expect("state sig: VerifySig(signer, stateBytes, sig)");
    }
    let st = &paid.st;
    assert_eq!(
        st.to_json(),
        w.state,
        "state JSON is exactly Go's layout:\n{}",
        String::from_utf8_lossy(&w.state)
    );
    if req.state.is_none() {
        assert!(is_lower_hex(&st.state_id, 8), "new StateID {:?}", st.state_id);
    }
    assert_eq!(st.pm_session_id, orch.pm_session_id(), "PMSessionID");
    assert_eq!(st.orchestrator_address, orch.go_address(), "OrchestratorAddress");
    assert_eq!(
        st.sender_nonce,
        *nonces.last().unwrap(),
        "SenderNonce is the last nonce"
    );
    assert_eq!(st.job_type, req.job_type, "Type");
    assert_eq!(st.app, req.app.clone().unwrap_or_default(), "App");
    let lu = st.last_update.0;
    let slack = time::Duration::milliseconds(5);
    assert!(
        lu >= paid.sent - slack && lu <= paid.received + slack,
        "LastUpdate {} outside the request window [{}, {}]",
        st.last_update.format(),
        paid.sent,
        paid.received
    );
    Verified {
        nonces,
        manifest_id: mid,
        winners,
    }
}

// ---------------------------------------------------------------------------
// §3.5 arithmetic

/// Go's `Duration.Seconds()` for `nanos`.
pub fn go_seconds(nanos: i128) -> f64 {
    let d = nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let sec = d / 1_000_000_000;
    let nsec = d % 1_000_000_000;
    sec as f64 + nsec as f64 / 1e9
}

/// Billable units (§3.4 step 15) for a call `secs` after the previous one.
pub fn billable_units(job_type: &str, in_pixels: i64, secs: f64) -> i64 {
    match job_type {
        "lv2v" => {
            let s = if secs <= 0.0 { 60.0 } else { secs };
            (1280.0 * 720.0 * 30.0 * s) as i64
        }
        "live" => {
            let s = if secs <= 0.0 { 10.0 } else { secs };
            s.ceil() as i64
        }
        "fixed" => 1,
        "" => in_pixels,
        other => panic!("no units for type {other:?}"),
    }
}

/// What §3.5 says a call must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Billable units.
    pub units: i64,
    /// `units × initial price`.
    pub fee: Rat,
    /// Tickets.
    pub tickets: u64,
    /// New `Balance`.
    pub balance: Rat,
}

/// §3.4 steps 12, 15, 17, 18, 21: from the previous state (if any) and
/// the new state (its `LastUpdate` is the handler's `now`, its initial
/// price the session's), with ticket EV `ev`.
pub fn expected_update(
    prev: Option<&RemotePaymentState>,
    new: &RemotePaymentState,
    job_type: &str,
    in_pixels: i64,
    ev: &Rat,
) -> Expected {
    let secs = match prev {
        Some(p) if !p.last_update.is_zero() => {
            go_seconds((new.last_update.0 - p.last_update.0).whole_nanoseconds())
        }
        _ => 0.0,
    };
    let units = billable_units(job_type, in_pixels, secs);
    let price = Rat::from_frac(new.initial_price_per_unit, new.initial_pixels_per_unit).unwrap();
    let fee = &Rat::from_integer(units) * &price;
    let existing = prev
        .map(|p| Rat::parse(&p.balance).unwrap_or_default())
        .unwrap_or_default();
    let min_credit = if ev > &fee { ev.clone() } else { fee.clone() };
    assert!(
        existing < min_credit,
        "a 200 needs existing {existing} < max(fee, EV) {min_credit}"
    );
    let n = (&(&min_credit - &existing) / ev).unwrap().ceil();
    let tickets = u64::try_from(&n).unwrap();
    let balance = &(&existing + &(ev * &Rat::from_integer(tickets))) - &fee;
    Expected {
        units,
        fee,
        tickets,
        balance,
    }
}

/// A session driven like a gateway: the state carried from call to call,
/// every response verified, the arithmetic checked.
pub struct Session {
    /// The last state returned (or a crafted starting state).
    pub prev: Option<WireState>,
    /// Calls that returned 200.
    pub calls: usize,
    /// Tickets received.
    pub tickets: u64,
    /// The last call's expectations.
    pub last: Option<Expected>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A new session (no state).
    pub fn new() -> Session {
        Session {
            prev: None,
            calls: 0,
            tickets: 0,
            last: None,
        }
    }

    /// A session continuing `state`.
    pub fn from_state(state: WireState) -> Session {
        Session {
            prev: Some(state),
            ..Session::new()
        }
    }

    /// Pays once with `req` (its state replaced by the session's), expects
    /// 200 and checks everything; returns the payment and what was verified.
    pub async fn step(&mut self, s: &Signer, orch: &Orch, mut req: PayRequest) -> (Paid, Verified) {
        req.state = self.prev.clone();
        let resp = s.pay(&req).await;
        let paid = resp.paid();
        let v = s.verify(orch, &req, &paid).await;
        self.advance(orch, &req, &paid, &v.nonces);
        (paid, v)
    }

    /// The gateway-side checks of a 200 (nonces continue from the state's
    /// `SenderNonce` on the same `PMSessionID`, else restart at 1; ticket
    /// count and `Balance` exactly as §3.5; `StateID`, sequence number and
    /// initial price carried), then the session advanced with the new state.
    pub fn advance(&mut self, orch: &Orch, req: &PayRequest, paid: &Paid, nonces: &[u32]) -> Expected {
        let prev = self.prev.as_ref().map(|w| w.parsed());
        let st = &paid.st;
        let nonce0 = match &prev {
            Some(p) if p.pm_session_id == orch.pm_session_id() => p.sender_nonce,
            _ => 0,
        };
        let want: Vec<u32> = (nonce0 + 1..=nonce0 + nonces.len() as u32).collect();
        assert_eq!(
            nonces, want,
            "nonces continue from the state's SenderNonce {nonce0}"
        );
        let e = expected_update(prev.as_ref(), st, &req.job_type, req.in_pixels, &orch.ev());
        assert_eq!(
            nonces.len() as u64,
            e.tickets,
            "ticket count for {e:?} (call {}, state {})",
            self.calls,
            String::from_utf8_lossy(&paid.wire.state)
        );
        assert_eq!(st.balance, e.balance.rat_string(), "Balance for {e:?}");
        match &prev {
            None => {
                assert_eq!(st.sequence_number, 0, "SequenceNumber of a new session");
                let price = orch.price.as_ref().unwrap();
                assert_eq!(st.initial_price_per_unit, price.price_per_unit);
                assert_eq!(st.initial_pixels_per_unit, price.pixels_per_unit);
            }
            Some(p) => {
                assert_eq!(st.state_id, p.state_id, "StateID is kept");
                assert_eq!(
                    st.sequence_number,
                    p.sequence_number + 1,
                    "SequenceNumber increments"
                );
                assert_eq!(st.initial_price_per_unit, p.initial_price_per_unit);
                assert_eq!(st.initial_pixels_per_unit, p.initial_pixels_per_unit);
                assert!(st.last_update.0 > p.last_update.0, "LastUpdate moves forward");
            }
        }
        self.prev = Some(paid.wire.clone());
        self.calls += 1;
        self.tickets += e.tickets;
        self.last = Some(e.clone());
        e
    }
}

/// Go's `time.Time` text for `t`.
pub fn go_time(t: OffsetDateTime) -> String {
    GoTime(t).format()
}
