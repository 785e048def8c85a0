//! A real anvil node (from `tests/chain/node_modules`, installed by
//! `tests/chain/setup.sh`) on an ephemeral 127.0.0.1 port, plus our test
//! contracts (tests/chain/contracts, compiled with solc-js) deployed with
//! alloy from anvil's first dev account.
//!
//! The node is killed by its own PID on drop. [`Anvil::stop`] and
//! [`Anvil::restart`] keep the port and the chain state (`--state`), for
//! outage tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use alloy_primitives::{address, keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_types_eth::{TransactionInput, TransactionReceipt, TransactionRequest};
use alloy_sol_types::{sol, SolCall, SolValue};

/// Anvil's first dev account (unlocked: anvil signs its `eth_sendTransaction`).
pub const DEV_ACCOUNT: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
/// Blocks per round in the test RoundsManager.
pub const ROUND_LENGTH: u64 = 10;
/// Rounds between `unlock` and `withdraw` in the test TicketBroker.
pub const UNLOCK_PERIOD: u64 = 2;
/// Ticket validity in rounds.
pub const TICKET_VALIDITY_PERIOD: u64 = 2;
/// The deactivation round of a transcoder that is not leaving: 2²⁵⁶ − 1
/// (Livepeer's `MAX_FUTURE_ROUND`).
pub const MAX_ROUND: U256 = U256::MAX;

sol! {
    interface TestController {
        function setContractInfo(bytes32 id, address contractAddress, bytes20 gitCommitHash) external;
        function getContract(bytes32 id) external view returns (address);
    }
    interface TestRoundsManager {
        function initializeRound() external;
        function currentRound() external view returns (uint256);
    }
    interface TestTicketBroker {
        struct Ticket {
            address recipient;
            address sender;
            uint256 faceValue;
            uint256 winProb;
            uint256 senderNonce;
            bytes32 recipientRandHash;
            bytes auxData;
        }
        function getTicketHash(Ticket ticket) external pure returns (bytes32);
        function checkWinningTicket(Ticket ticket, bytes sig, uint256 recipientRand) external view returns (bytes32);
    }
    interface TestBondingManager {
        function setTranscoder(address transcoder, uint256 activationRound, uint256 deactivationRound) external;
        function removeTranscoder(address transcoder) external;
        function getFirstTranscoderInPool() external view returns (address);
        function getNextTranscoderInPool(address transcoder) external view returns (address);
        function getTranscoderPoolSize() external view returns (uint256);
        function getTranscoder(address transcoder) external view returns (
            uint256 lastRewardRound,
            uint256 rewardCut,
            uint256 feeShare,
            uint256 lastActiveStakeUpdateRound,
            uint256 activationRound,
            uint256 deactivationRound,
            uint256 activeCumulativeRewards,
            uint256 cumulativeRewards,
            uint256 cumulativeFees,
            uint256 lastFeeRound
        );
        function isActiveTranscoder(address transcoder) external view returns (bool);
    }
    interface TestServiceRegistry {
        event ServiceURIUpdate(address indexed addr, string serviceURI);
        function setServiceURI(string serviceURI) external;
        function setServiceURIFor(address addr, string serviceURI) external;
        function getServiceURI(address addr) external view returns (string);
    }
}

fn chain_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chain")
}

const SETUP_HINT: &str =
    "run tests/chain/setup.sh (npm ci of tests/chain/package-lock.json: anvil 1.7.1 and solc 0.8.37)";

/// The anvil binary shipped by `@foundry-rs/anvil-<os>-<arch>`.
pub fn anvil_bin() -> PathBuf {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let bin = chain_dir().join(format!("node_modules/@foundry-rs/anvil-{os}-{arch}/bin/anvil"));
    assert!(bin.is_file(), "anvil missing at {}: {SETUP_HINT}", bin.display());
    bin
}

/// A compiled contract.
pub struct Artifact {
    /// Constructor bytecode.
    pub bytecode: Bytes,
}

/// Compiles tests/chain/contracts once per test binary; returns the output dir.
fn compiled_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let solc = chain_dir().join("node_modules/solc/package.json");
        assert!(
            solc.is_file(),
            "solc-js missing at {}: {SETUP_HINT}",
            solc.display()
        );
        let out =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chain-contracts-{}", std::process::id()));
        let status = Command::new("node")
            .arg(chain_dir().join("compile.js"))
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run node (Node.js is needed for solc-js): {e}; {SETUP_HINT}"));
        assert!(status.success(), "tests/chain/compile.js failed ({status})");
        out
    })
}

/// Our compiled contract `name` (Controller, RoundsManager, TicketBroker,
/// BondingManager, ServiceRegistry).
pub fn artifact(name: &str) -> Artifact {
    let path = compiled_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hex = v["bytecode"].as_str().unwrap();
    Artifact {
        bytecode: hex.parse().unwrap(),
    }
}

/// The deployed Livepeer test contracts.
#[derive(Debug, Clone, Copy)]
pub struct Deployed {
    /// Controller.
    pub controller: Address,
    /// RoundsManager (registered unless deployed with `register: false`).
    pub rounds_manager: Address,
    /// TicketBroker.
    pub ticket_broker: Address,
    /// BondingManager (the transcoder pool: [`Anvil::add_orchestrator`]).
    pub bonding_manager: Address,
    /// ServiceRegistry (service URIs: [`Anvil::set_service_uri`]).
    pub service_registry: Address,
}

/// A running anvil.
pub struct Anvil {
    child: Option<Child>,
    /// The port, kept across [`Anvil::restart`].
    pub port: u16,
    /// The chain id it was started with.
    pub chain_id: u64,
    state: tempfile::TempDir,
}

impl Anvil {
    /// Anvil with chain id 31337.
    pub fn start() -> Anvil {
        Anvil::with_chain_id(31337)
    }

    /// Anvil with `chain_id` on an ephemeral port.
    pub fn with_chain_id(chain_id: u64) -> Anvil {
        let state = tempfile::tempdir().unwrap();
        let mut a = Anvil {
            child: None,
            port: 0,
            chain_id,
            state,
        };
        a.spawn();
        a
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "anvil already running");
        let mut cmd = Command::new(anvil_bin());
        cmd.args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--chain-id", &self.chain_id.to_string()])
            .arg("--state")
            .arg(self.state.path().join("state.json"))
            .args(["--accounts", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn anvil: {e}; {SETUP_HINT}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.trim().strip_prefix("Listening on 127.0.0.1:") {
                    let _ = tx.send(rest.trim().parse::<u16>().unwrap());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => {
                assert!(
                    self.port == 0 || self.port == port,
                    "anvil restarted on {port}, not {}",
                    self.port
                );
                self.port = port;
                self.child = Some(child);
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "anvil did not report a listening port within 30 s (port {})",
                    self.port
                );
            }
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its PID, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Stops it (SIGTERM to its PID, so it writes its state), and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let ok = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the saved state.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// An alloy provider on it (test side: deployments, anvil_* calls).
    pub fn provider(&self) -> RootProvider {
        let config = livepeer_signer::chain::ChainConfig::new(self.url());
        livepeer_signer::chain::ChainClient::new(&config)
            .unwrap()
            .provider()
            .clone()
    }

    /// Sends a transaction from the dev account (anvil signs) and returns the mined receipt.
    pub async fn send(&self, to: Option<Address>, input: Bytes, value: U256) -> TransactionReceipt {
        let p = self.provider();
        let tx = TransactionRequest {
            from: Some(DEV_ACCOUNT),
            to: Some(to.map_or(TxKind::Create, TxKind::Call)),
            value: Some(value),
            input: TransactionInput::new(input),
            ..Default::default()
        };
        let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "dev transaction reverted: {receipt:?}");
        receipt
    }

    /// Deploys `name` with ABI-encoded constructor `args`.
    pub async fn deploy(&self, name: &str, args: Vec<u8>) -> Address {
        let mut code = artifact(name).bytecode.to_vec();
        code.extend_from_slice(&args);
        let r = self.send(None, code.into(), U256::ZERO).await;
        r.contract_address.expect("contract address")
    }

    /// Registers `addr` under `keccak256(name)` in `controller` (zero unregisters).
    pub async fn register(&self, controller: Address, name: &str, addr: Address) {
        let call = TestController::setContractInfoCall {
            id: keccak256(name.as_bytes()),
            contractAddress: addr,
            gitCommitHash: Default::default(),
        };
        self.send(Some(controller), call.abi_encode().into(), U256::ZERO)
            .await;
    }

    /// Controller + RoundsManager + TicketBroker + BondingManager +
    /// ServiceRegistry, all registered, and the current round initialized.
    /// The transcoder pool starts empty.
    pub async fn deploy_livepeer(&self) -> Deployed {
        let controller = self.deploy("Controller", Vec::new()).await;
        let rounds_manager = self
            .deploy("RoundsManager", (U256::from(ROUND_LENGTH),).abi_encode_params())
            .await;
        let ticket_broker = self
            .deploy(
                "TicketBroker",
                (
                    controller,
                    U256::from(UNLOCK_PERIOD),
                    U256::from(TICKET_VALIDITY_PERIOD),
                )
                    .abi_encode_params(),
            )
            .await;
        let bonding_manager = self
            .deploy("BondingManager", (controller,).abi_encode_params())
            .await;
        let service_registry = self.deploy("ServiceRegistry", Vec::new()).await;
        self.register(controller, "RoundsManager", rounds_manager).await;
        self.register(controller, "TicketBroker", ticket_broker).await;
        self.register(controller, "BondingManager", bonding_manager).await;
        self.register(controller, "ServiceRegistry", service_registry)
            .await;
        let d = Deployed {
            controller,
            rounds_manager,
            ticket_broker,
            bonding_manager,
            service_registry,
        };
        self.next_round(&d).await;
        d
    }

    /// Mines to the start of the next round and initializes it; returns the round.
    pub async fn next_round(&self, d: &Deployed) -> U256 {
        let block = self.provider().get_block_number().await.unwrap();
        let next_start = (block / ROUND_LENGTH + 1) * ROUND_LENGTH;
        // The initializeRound transaction itself is mined in the next block.
        if next_start > block + 1 {
            self.mine(next_start - block - 1).await;
        }
        self.send(
            Some(d.rounds_manager),
            TestRoundsManager::initializeRoundCall {}.abi_encode().into(),
            U256::ZERO,
        )
        .await;
        self.current_round(d).await
    }

    /// `RoundsManager.currentRound()`.
    pub async fn current_round(&self, d: &Deployed) -> U256 {
        let out = self
            .provider()
            .call(TransactionRequest {
                to: Some(TxKind::Call(d.rounds_manager)),
                input: TransactionInput::new(TestRoundsManager::currentRoundCall {}.abi_encode().into()),
                ..Default::default()
            })
            .await
            .unwrap();
        TestRoundsManager::currentRoundCall::abi_decode_returns(&out).unwrap()
    }

    /// `eth_call` of `call` on `to` (latest block), decoded.
    pub async fn call<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        let out = self
            .provider()
            .call(TransactionRequest {
                to: Some(TxKind::Call(to)),
                input: TransactionInput::new(call.abi_encode().into()),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("eth_call {} on {to}: {e}", C::SIGNATURE));
        C::abi_decode_returns(&out).unwrap_or_else(|e| panic!("decode {} from {to}: {e}", C::SIGNATURE))
    }

    /// Puts orchestrator `addr` in the BondingManager pool (appended at the
    /// end if new, else its rounds updated) with these rounds, and sets its
    /// ServiceRegistry URI. It is active while `activation <= round <
    /// deactivation` (see [`MAX_ROUND`] and [`Anvil::current_round`]).
    pub async fn add_orchestrator(
        &self,
        d: &Deployed,
        addr: Address,
        activation: U256,
        deactivation: U256,
        service_uri: &str,
    ) {
        let call = TestBondingManager::setTranscoderCall {
            transcoder: addr,
            activationRound: activation,
            deactivationRound: deactivation,
        };
        self.send(Some(d.bonding_manager), call.abi_encode().into(), U256::ZERO)
            .await;
        self.set_service_uri(d, addr, service_uri).await;
    }

    /// [`Anvil::add_orchestrator`], active from the current round on for good.
    pub async fn add_active_orchestrator(&self, d: &Deployed, addr: Address, service_uri: &str) {
        let round = self.current_round(d).await;
        self.add_orchestrator(d, addr, round, MAX_ROUND, service_uri)
            .await;
    }

    /// Takes `addr` out of the BondingManager pool (its rounds are reset;
    /// its service URI stays, as on Livepeer).
    pub async fn remove_orchestrator(&self, d: &Deployed, addr: Address) {
        let call = TestBondingManager::removeTranscoderCall { transcoder: addr };
        self.send(Some(d.bonding_manager), call.abi_encode().into(), U256::ZERO)
            .await;
    }

    /// Sets `addr`'s ServiceRegistry URI (emits `ServiceURIUpdate`).
    pub async fn set_service_uri(&self, d: &Deployed, addr: Address, uri: &str) {
        let call = TestServiceRegistry::setServiceURIForCall {
            addr,
            serviceURI: uri.to_string(),
        };
        self.send(Some(d.service_registry), call.abi_encode().into(), U256::ZERO)
            .await;
    }

    /// The BondingManager pool, walked the way go-livepeer does
    /// (`getFirstTranscoderInPool`, then `getNextTranscoderInPool` until
    /// the zero address).
    pub async fn transcoder_pool(&self, d: &Deployed) -> Vec<Address> {
        let mut out = Vec::new();
        let mut next = self
            .call(
                d.bonding_manager,
                TestBondingManager::getFirstTranscoderInPoolCall {},
            )
            .await;
        while next != Address::ZERO {
            assert!(!out.contains(&next), "pool loops at {next}: {out:?}");
            out.push(next);
            next = self
                .call(
                    d.bonding_manager,
                    TestBondingManager::getNextTranscoderInPoolCall { transcoder: next },
                )
                .await;
        }
        out
    }

    /// `ServiceRegistry.getServiceURI(addr)`.
    pub async fn service_uri(&self, d: &Deployed, addr: Address) -> String {
        self.call(
            d.service_registry,
            TestServiceRegistry::getServiceURICall { addr },
        )
        .await
    }

    /// `BondingManager.isActiveTranscoder(addr)`.
    pub async fn is_active_transcoder(&self, d: &Deployed, addr: Address) -> bool {
        self.call(
            d.bonding_manager,
            TestBondingManager::isActiveTranscoderCall { transcoder: addr },
        )
        .await
    }

    /// `anvil_mine(blocks)`.
    pub async fn mine(&self, blocks: u64) {
        let _: serde_json::Value = self
            .provider()
            .raw_request("anvil_mine".into(), (U256::from(blocks),))
            .await
            .unwrap();
    }

    /// `anvil_setBalance(addr, wei)`.
    pub async fn set_balance(&self, addr: Address, wei: U256) {
        let _: serde_json::Value = self
            .provider()
            .raw_request("anvil_setBalance".into(), (addr, wei))
            .await
            .unwrap();
    }

    /// `eth_getBalance`.
    pub async fn balance(&self, addr: Address) -> U256 {
        self.provider().get_balance(addr).await.unwrap()
    }

    /// Pending nonce of `addr`.
    pub async fn nonce(&self, addr: Address) -> u64 {
        self.provider()
            .get_transaction_count(addr)
            .pending()
            .await
            .unwrap()
    }

    /// The hash of block `n`.
    pub async fn block_hash(&self, n: u64) -> B256 {
        let b: serde_json::Value = self
            .provider()
            .raw_request("eth_getBlockByNumber".into(), (format!("{n:#x}"), false))
            .await
            .unwrap();
        b["hash"].as_str().unwrap().parse().unwrap()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The sender info the tests expect: no reserve claimed this round.
pub fn info(deposit: U256, reserve: U256, withdraw_round: U256) -> livepeer_signer::chain::SenderInfo {
    livepeer_signer::chain::SenderInfo {
        deposit,
        withdraw_round,
        reserve,
        claimed_in_current_round: U256::ZERO,
    }
}
