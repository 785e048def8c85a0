//! The chain commands (`chain status`, `deposit …`), `serve` with `[chain]`
//! (`/readyz`, `/metrics`, chain id mismatch, unreachable RPC) and the
//! `[admin]` listener, all through the real binary on real sockets, against
//! a real anvil running our Livepeer test contracts; the keys live in a V3
//! keystore (C7), a SoftHSM2 token and the KMS emulator. Every value the
//! binary prints or sends is checked against the chain.
//!
//! Needs `tests/chain/setup.sh` (anvil, solc-js), SoftHSM2 (`pkcs11`
//! feature) and Python with moto (`aws-kms` feature); fails without them.

#[cfg(feature = "aws-kms")]
#[path = "support/kms.rs"]
mod kms;
#[cfg(feature = "pkcs11")]
#[path = "support/softhsm.rs"]
mod softhsm;
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{TransactionInput, TransactionRequest};
use alloy_sol_types::SolCall;
use livepeer_signer::chain::bindings::ITicketBroker;
use livepeer_signer::chain::{parse_amount, ChainClient, ChainConfig, SenderInfo};
use livepeer_signer::eth::units::format_eth;
use serde_json::json;
use support::anvil::{info, Anvil, Deployed, UNLOCK_PERIOD};
use support::{bin, run, Daemon, C1_BODY, C_ADDRESS};

fn eth(s: &str) -> U256 {
    parse_amount(s).unwrap()
}

fn me() -> Address {
    C_ADDRESS.parse().unwrap()
}

/// A port nothing listens on (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `[chain]` for `url` / `controller`, fast polling.
fn chain_toml(url: &str, controller: Address) -> String {
    format!(
        "\n[chain]\nrpc_url = {url:?}\ncontroller = \"{controller}\"\nchain_id = 31337\n\
         poll_interval_ms = 200\nrequest_timeout_ms = 2000\nmax_staleness_ms = 1500\n"
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A C7 keystore config (no `[chain]` yet) in `dir`.
fn keystore_config(dir: &Path) -> PathBuf {
    let (key, pw) = support::write_c7(dir);
    support::write_keystore_config(dir, &key, &pw)
}

/// Anvil with the Livepeer test contracts and the §C address funded.
struct Chain {
    anvil: Anvil,
    d: Deployed,
}

impl Chain {
    async fn start(funds: U256) -> Chain {
        let anvil = Anvil::start();
        let d = anvil.deploy_livepeer().await;
        anvil.set_balance(me(), funds).await;
        Chain { anvil, d }
    }

    fn toml(&self) -> String {
        chain_toml(&self.anvil.url(), self.d.controller)
    }

    /// `getSenderInfo(§C)` read from the chain (not through the binary).
    async fn sender(&self) -> SenderInfo {
        ChainClient::new(&ChainConfig::new(self.anvil.url()))
            .unwrap()
            .sender_info(self.d.ticket_broker, me())
            .await
            .unwrap()
    }

    /// `RoundsManager.lastInitializedRound()`: what the binary prints as the round.
    async fn round(&self) -> U256 {
        ChainClient::new(&ChainConfig::new(self.anvil.url()))
            .unwrap()
            .last_initialized_round(self.d.rounds_manager)
            .await
            .unwrap()
    }

    /// `RoundsManager.currentRound()` (what the unlock state is measured against).
    async fn current_round(&self) -> U256 {
        ChainClient::new(&ChainConfig::new(self.anvil.url()))
            .unwrap()
            .current_round(self.d.rounds_manager)
            .await
            .unwrap()
    }

    /// Starts and initializes a new round, so that the next few
    /// transactions (fewer than a round's blocks) run in it: `unlock`
    /// takes `currentRound()` of its block. Returns `withdrawRound` for an
    /// unlock in it.
    async fn fresh_round_for_unlock(&self) -> U256 {
        let round = self.anvil.next_round(&self.d).await;
        assert_eq!(self.round().await, round);
        round + U256::from(UNLOCK_PERIOD)
    }

    /// Everything that must not move when nothing was sent.
    async fn untouched_state(&self) -> (u64, U256, U256, SenderInfo) {
        (
            self.anvil.nonce(me()).await,
            self.anvil.balance(me()).await,
            self.anvil.balance(self.d.ticket_broker).await,
            self.sender().await,
        )
    }
}

/// Builds `livepeer-signer <args> --config <cfg>` for one key backend.
type Cli = Box<dyn Fn(&[&str]) -> Command>;

fn keystore_cli(cfg: PathBuf) -> Cli {
    Box::new(move |args: &[&str]| {
        let mut c = bin();
        c.args(args).arg("--config").arg(&cfg);
        c
    })
}

/// What `deposit … --yes` printed about the transaction.
#[derive(Debug)]
struct Mined {
    hash: B256,
    block: u64,
    gas_used: u64,
    price: u128,
}

fn parse_mined(out: &str) -> Mined {
    let sent = out
        .lines()
        .find_map(|l| l.strip_prefix("sent: transaction "))
        .unwrap_or_else(|| panic!("no `sent:` line in:\n{out}"));
    let mined = out
        .lines()
        .find_map(|l| l.strip_prefix("mined: block "))
        .unwrap_or_else(|| panic!("no `mined:` line in:\n{out}"));
    // "N, gas used G, P wei/gas"
    let (block, rest) = mined.split_once(", gas used ").unwrap();
    let (gas, rest) = rest.split_once(", ").unwrap();
    let price = rest.strip_suffix(" wei/gas").unwrap();
    Mined {
        hash: sent.parse().unwrap(),
        block: block.parse().unwrap(),
        gas_used: gas.parse().unwrap(),
        price: price.parse().unwrap(),
    }
}

/// The sender lines `deposit …` and `chain status` print.
fn sender_lines(i: &SenderInfo, round: U256) -> String {
    let unlock = if i.withdraw_round.is_zero() {
        "no unlock in progress".to_string()
    } else if i.withdraw_round > round {
        format!(
            "unlocking: withdraw round {}, {} round(s) left",
            i.withdraw_round,
            i.withdraw_round - round
        )
    } else {
        format!(
            "withdrawable since round {}: `deposit withdraw` pays deposit and reserve back",
            i.withdraw_round
        )
    };
    format!(
        "deposit:          {} wei ({} ETH)\nreserve:          {} wei ({} ETH), claimed this round {} wei\nunlock:           {unlock}",
        i.deposit,
        format_eth(i.deposit),
        i.reserve,
        format_eth(i.reserve),
        i.claimed_in_current_round
    )
}

/// Runs `deposit <args> --yes` and checks it on chain: exit 0; the printed
/// transaction is mined in the printed block, from §C to the TicketBroker,
/// with the printed gas; §C paid exactly `value` + gas × price and got
/// `refund` back; the TicketBroker holds `value` more (`refund` less); the
/// sender info on chain is `expect` and the binary printed it.
async fn send(c: &Chain, cli: &Cli, args: &[&str], value: U256, refund: U256, expect: SenderInfo) -> Mined {
    let before = c.anvil.balance(me()).await;
    let broker_before = c.anvil.balance(c.d.ticket_broker).await;
    let nonce = c.anvil.nonce(me()).await;
    let mut full: Vec<&str> = vec!["deposit"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--yes", "--receipt-timeout-s", "60"]);
    let (code, out, err) = run(&mut cli(&full));
    assert_eq!(code, 0, "{full:?}: stdout:\n{out}\nstderr:\n{err}");
    let m = parse_mined(&out);
    let r = c
        .anvil
        .provider()
        .get_transaction_receipt(m.hash)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no receipt for {}", m.hash));
    assert!(r.status(), "{r:?}");
    assert_eq!(r.from, me());
    assert_eq!(r.to, Some(c.d.ticket_broker));
    assert_eq!(r.block_number, Some(m.block));
    assert_eq!(r.gas_used, m.gas_used);
    assert_eq!(r.effective_gas_price, m.price);
    assert_eq!(c.anvil.nonce(me()).await, nonce + 1);
    let fee = U256::from(m.gas_used) * U256::from(m.price);
    assert!(fee > U256::ZERO);
    assert_eq!(
        c.anvil.balance(me()).await,
        before - value - fee + refund,
        "{full:?}"
    );
    assert_eq!(
        c.anvil.balance(c.d.ticket_broker).await,
        broker_before + value - refund
    );
    let onchain = c.sender().await;
    assert_eq!(onchain, expect, "{full:?}");
    let lines = sender_lines(&onchain, c.current_round().await);
    assert!(out.contains(&lines), "{lines}\nnot in:\n{out}");
    m
}

/// `deposit <args>` without `--yes`: exit 0, the dry-run line, `needles`
/// in the description, and nothing on chain moved (a block is mined first,
/// so a sent transaction would show).
async fn dry_run(c: &Chain, cli: &Cli, args: &[&str], needles: &[&str]) {
    let before = c.untouched_state().await;
    let mut full: Vec<&str> = vec!["deposit"];
    full.extend_from_slice(args);
    let (code, out, err) = run(&mut cli(&full));
    assert_eq!(code, 0, "{full:?}: stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.ends_with("dry run: nothing was signed or sent; add --yes to send this transaction\n"),
        "{out}"
    );
    assert!(!out.contains("sent: "), "{out}");
    for n in needles {
        assert!(out.contains(n), "{n:?} not in:\n{out}");
    }
    c.anvil.mine(1).await;
    assert_eq!(c.untouched_state().await, before);
}

/// fund, unlock, (rounds pass), withdraw through `cli`: the round trip every backend must do.
#[cfg(any(feature = "pkcs11", feature = "aws-kms"))]
async fn fund_unlock_withdraw(c: &Chain, cli: &Cli) {
    let (d, r) = (eth("0.3eth"), eth("0.1eth"));
    send(
        c,
        cli,
        &["fund", "--deposit", "0.3eth", "--reserve", "0.1eth"],
        d + r,
        U256::ZERO,
        info(d, r, U256::ZERO),
    )
    .await;
    let withdraw_round = c.fresh_round_for_unlock().await;
    send(
        c,
        cli,
        &["unlock"],
        U256::ZERO,
        U256::ZERO,
        info(d, r, withdraw_round),
    )
    .await;
    for _ in 0..UNLOCK_PERIOD {
        c.anvil.next_round(&c.d).await;
    }
    assert_eq!(c.round().await, withdraw_round);
    send(c, cli, &["withdraw"], U256::ZERO, d + r, SenderInfo::default()).await;
    assert_eq!(c.anvil.balance(c.d.ticket_broker).await, U256::ZERO);
}

fn chain_status_text(
    c: &Chain,
    i: &SenderInfo,
    (round, current): (U256, U256),
    block: u64,
    balance: U256,
) -> String {
    format!(
        "address:          {C_ADDRESS}\nchain id:         31337\ncontroller:       {}\nTicketBroker:     {}\nRoundsManager:    {}\n{}\nround:            {current} (current; last initialized {round})\nblock:            {block} (L1 block {block})\nbalance:          {balance} wei ({} ETH)\n",
        c.d.controller,
        c.d.ticket_broker,
        c.d.rounds_manager,
        sender_lines(i, current),
        format_eth(balance)
    )
}

/// `chain status` and `chain status --json` equal the chain, value for value.
async fn check_chain_status(c: &Chain, cli: &Cli, unlock: &str, rounds_left: u64) {
    let i = c.sender().await;
    let round = c.round().await;
    let current = c.current_round().await;
    let balance = c.anvil.balance(me()).await;
    let block = c.anvil.provider().get_block_number().await.unwrap();

    let (code, out, err) = run(&mut cli(&["chain", "status"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, chain_status_text(c, &i, (round, current), block, balance));

    let (code, out, err) = run(&mut cli(&["chain", "status", "--json"]));
    assert_eq!(code, 0, "{err}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        got,
        json!({
            "address": C_ADDRESS,
            "chain_id": 31337,
            "controller": c.d.controller.to_checksum(None),
            "ticket_broker": c.d.ticket_broker.to_checksum(None),
            "rounds_manager": c.d.rounds_manager.to_checksum(None),
            "deposit_wei": i.deposit.to_string(),
            "reserve_wei": i.reserve.to_string(),
            "reserve_claimed_in_current_round_wei": "0",
            "withdraw_round": i.withdraw_round.to_string(),
            "unlock": unlock,
            "unlock_rounds_left": rounds_left.to_string(),
            "last_initialized_round": round.to_string(),
            "current_round": current.to_string(),
            "block": block,
            "l1_block": block,
            "balance_wei": balance.to_string(),
        })
    );
    // Reading sent nothing.
    assert_eq!(c.anvil.provider().get_block_number().await.unwrap(), block);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystore_every_deposit_command_on_chain_and_chain_status() {
    let c = Chain::start(eth("10eth")).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = keystore_config(dir.path());
    append(&cfg, &c.toml());
    let cli = keystore_cli(cfg);

    // Nothing funded yet.
    check_chain_status(&c, &cli, "locked", 0).await;

    // Without --yes nothing is signed or sent.
    dry_run(
        &c,
        &cli,
        &["fund", "--deposit", "0.05eth", "--reserve", "0.02eth"],
        &[
            "TicketBroker.fundDepositAndReserve\n",
            "  deposit:        50000000000000000 wei (0.05 ETH)\n",
            "  reserve:        20000000000000000 wei (0.02 ETH)\n",
            &format!("  from:           {C_ADDRESS}\n"),
            &format!("  to:             {} (TicketBroker)\n", c.d.ticket_broker),
            "  value:          70000000000000000 wei (0.07 ETH)\n",
            "  chain id:       31337\n",
            "  nonce:          0\n",
            "  balance:        10000000000000000000 wei (10 ETH)\n",
        ],
    )
    .await;

    let (d1, r1) = (eth("1eth"), eth("0.5eth"));
    send(
        &c,
        &cli,
        &["fund", "--deposit", "1eth", "--reserve", "0.5eth"],
        d1 + r1,
        U256::ZERO,
        info(d1, r1, U256::ZERO),
    )
    .await;
    let d2 = d1 + eth("0.25eth");
    send(
        &c,
        &cli,
        &["fund-deposit", "--amount", "250000000000000000"],
        eth("0.25eth"),
        U256::ZERO,
        info(d2, r1, U256::ZERO),
    )
    .await;
    let r2 = r1 + U256::from(123_456_789u64);
    send(
        &c,
        &cli,
        &["fund-reserve", "--amount", "123456789"],
        U256::from(123_456_789u64),
        U256::ZERO,
        info(d2, r2, U256::ZERO),
    )
    .await;
    assert_eq!(c.anvil.balance(c.d.ticket_broker).await, d2 + r2);
    check_chain_status(&c, &cli, "locked", 0).await;

    dry_run(
        &c,
        &cli,
        &["unlock"],
        &[
            "TicketBroker.unlock\n",
            "  value:          0 wei (0 ETH)\n",
            "  nonce:          3\n",
        ],
    )
    .await;

    let withdraw_round = c.fresh_round_for_unlock().await;
    send(
        &c,
        &cli,
        &["unlock"],
        U256::ZERO,
        U256::ZERO,
        info(d2, r2, withdraw_round),
    )
    .await;
    check_chain_status(&c, &cli, "unlocking", UNLOCK_PERIOD).await;
    send(
        &c,
        &cli,
        &["cancel-unlock"],
        U256::ZERO,
        U256::ZERO,
        info(d2, r2, U256::ZERO),
    )
    .await;
    send(
        &c,
        &cli,
        &["unlock"],
        U256::ZERO,
        U256::ZERO,
        info(d2, r2, withdraw_round),
    )
    .await;
    for _ in 0..UNLOCK_PERIOD {
        c.anvil.next_round(&c.d).await;
    }
    assert_eq!(c.round().await, withdraw_round);
    check_chain_status(&c, &cli, "withdrawable", 0).await;
    send(
        &c,
        &cli,
        &["withdraw"],
        U256::ZERO,
        d2 + r2,
        SenderInfo::default(),
    )
    .await;
    assert_eq!(c.anvil.balance(c.d.ticket_broker).await, U256::ZERO);
    assert_eq!(c.anvil.nonce(me()).await, 7);
    check_chain_status(&c, &cli, "locked", 0).await;
}

#[cfg(feature = "pkcs11")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softhsm_key_funds_unlocks_and_withdraws() {
    let token = softhsm::Token::with_key("deposit", &support::c_key(), "signer");
    let c = Chain::start(eth("2eth")).await;
    let cfg = token.config_file(Some("signer"), None);
    append(&cfg, &c.toml());
    let cli: Cli = Box::new(move |args: &[&str]| {
        let mut cmd = softhsm::bin();
        cmd.args(args).arg("--config").arg(&cfg);
        cmd
    });
    let (code, out, err) = run(&mut cli(&["address"]));
    assert_eq!(
        (code, out.as_str()),
        (0, format!("{C_ADDRESS}\n").as_str()),
        "{err}"
    );
    fund_unlock_withdraw(&c, &cli).await;
}

#[cfg(feature = "aws-kms")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_key_funds_unlocks_and_withdraws() {
    let emu = kms::KmsEmulator::start();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let c = Chain::start(eth("2eth")).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(dir.path(), &emu.endpoint, &key_id);
    append(&cfg, &c.toml());
    let home = dir.path().to_path_buf();
    let cli: Cli = Box::new(move |args: &[&str]| {
        let mut cmd = bin();
        cmd.args(args).arg("--config").arg(&cfg);
        kms::aws_env(&mut cmd, &home);
        cmd
    });
    let (code, out, err) = run(&mut cli(&["address"]));
    assert_eq!(
        (code, out.as_str()),
        (0, format!("{C_ADDRESS}\n").as_str()),
        "{err}"
    );
    fund_unlock_withdraw(&c, &cli).await;
    drop(emu);
}

/// `deposit … --yes` that must fail with exit 1 before anything is sent.
async fn refused(c: &Chain, cli: &Cli, args: &[&str], needle: &str) -> String {
    let before = c.untouched_state().await;
    let mut full: Vec<&str> = vec!["deposit"];
    full.extend_from_slice(args);
    full.push("--yes");
    let (code, out, err) = run(&mut cli(&full));
    assert_eq!(code, 1, "{full:?}: stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains(needle), "{needle:?} not in stderr:\n{err}");
    assert!(!out.contains("sent: "), "{out}");
    c.anvil.mine(1).await;
    assert_eq!(c.untouched_state().await, before, "{full:?} moved something");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_reasons_and_insufficient_balance_are_refused_before_sending() {
    let c = Chain::start(eth("10eth")).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = keystore_config(dir.path());
    append(&cfg, &c.toml());
    let cli = keystore_cli(cfg);

    // A controller that is not a contract: exit 1, named.
    let wrong = dir.path().join("wrong-controller.toml");
    let text = std::fs::read_to_string(dir.path().join("signer.toml")).unwrap();
    let head = text.split("\n[chain]").next().unwrap();
    std::fs::write(
        &wrong,
        format!("{head}{}", chain_toml(&c.anvil.url(), Address::with_last_byte(1))),
    )
    .unwrap();
    let (code, out, err) = run(&mut keystore_cli(wrong.clone())(&["chain", "status"]));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("Controller.getContract(\"TicketBroker\"): unusable answer from the RPC: empty return data: is there a contract at 0x0000000000000000000000000000000000000001?"),
        "{err}"
    );
    refused(
        &c,
        &keystore_cli(wrong),
        &["unlock"],
        "is there a contract at 0x0000000000000000000000000000000000000001?",
    )
    .await;

    // The contract's revert reasons, from the gas estimate.
    refused(&c, &cli, &["withdraw"], "sender deposit and reserve are zero").await;
    send(
        &c,
        &cli,
        &["fund-deposit", "--amount", "1eth"],
        eth("1eth"),
        U256::ZERO,
        info(eth("1eth"), U256::ZERO, U256::ZERO),
    )
    .await;
    let err = refused(&c, &cli, &["withdraw"], "no unlock request in progress").await;
    assert!(err.contains("TicketBroker.withdraw"), "{err}");
    refused(&c, &cli, &["cancel-unlock"], "no unlock request in progress").await;
    assert_eq!(c.anvil.nonce(me()).await, 1);

    // Enough for the value, not for the gas: refused with both numbers.
    let balance = eth("1eth") + U256::from(1000u64);
    c.anvil.set_balance(me(), balance).await;
    let p = c.anvil.provider();
    let estimate = p
        .estimate_gas(TransactionRequest {
            from: Some(me()),
            to: Some(c.d.ticket_broker.into()),
            value: Some(eth("1eth")),
            input: TransactionInput::new(ITicketBroker::fundDepositCall {}.abi_encode().into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let fees = p.estimate_eip1559_fees().await.unwrap();
    let required = eth("1eth") + U256::from(estimate * 120 / 100) * U256::from(fees.max_fee_per_gas);
    refused(
        &c,
        &cli,
        &["fund-deposit", "--amount", "1eth"],
        &format!(
            "{C_ADDRESS} has {balance} wei but the transaction needs up to {required} wei (value + gas limit × max fee per gas); fund the account first, nothing was sent"
        ),
    )
    .await;

    // Not even the value.
    c.anvil.set_balance(me(), U256::from(1000u64)).await;
    refused(
        &c,
        &cli,
        &["fund-deposit", "--amount", "1eth"],
        &format!("{C_ADDRESS} has 1000 wei but the transaction needs up to 1000000000000000000 wei"),
    )
    .await;
    assert_eq!(c.anvil.nonce(me()).await, 1);

    // Sent but not mined within --receipt-timeout-s: exit 1, the hash and
    // a warning; the transaction is still good once a block comes.
    c.anvil.set_balance(me(), eth("10eth")).await;
    let p = c.anvil.provider();
    let _: serde_json::Value = p.raw_request("evm_setAutomine".into(), (false,)).await.unwrap();
    let (code, out, err) = run(&mut cli(&[
        "deposit",
        "fund-deposit",
        "--amount",
        "1000",
        "--yes",
        "--receipt-timeout-s",
        "1",
    ]));
    assert_eq!(code, 1, "{out}\n{err}");
    let hash = out
        .lines()
        .find_map(|l| l.strip_prefix("sent: transaction "))
        .unwrap_or_else(|| panic!("no `sent:` line in:\n{out}"))
        .to_string();
    assert!(
        err.contains(&format!("transaction {hash} has no receipt after ")),
        "{err}"
    );
    assert!(
        err.contains("it may still be mined: check it on a block explorer before sending again"),
        "{err}"
    );
    assert_eq!(c.sender().await, info(eth("1eth"), U256::ZERO, U256::ZERO));
    c.anvil.mine(1).await;
    let r = p
        .get_transaction_receipt(hash.parse().unwrap())
        .await
        .unwrap()
        .expect("mined with the next block");
    assert!(r.status());
    assert_eq!(
        c.sender().await,
        info(eth("1eth") + U256::from(1000u64), U256::ZERO, U256::ZERO)
    );
}

/// Runs `cmd` to completion within `limit` (it is killed, by its PID, and
/// the test fails otherwise): (exit code, stdout, stderr).
fn run_bounded(mut cmd: Command, limit: Duration) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {limit:?}; stderr:\n{}",
                std::fs::read_to_string(&e).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(&o).unwrap(),
        std::fs::read_to_string(&e).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let base = keystore_config(dir.path());
    let base_text = std::fs::read_to_string(&base).unwrap();
    let write = |name: &str, extra: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("{base_text}{extra}")).unwrap();
        p
    };

    // Not an amount: a usage error.
    for amount in ["1.5", "lots", "-1", "0.0000000000000000001eth"] {
        let arg = format!("--amount={amount}");
        let (code, out, err) = run(&mut keystore_cli(base.clone())(&[
            "deposit",
            "fund-deposit",
            &arg,
        ]));
        assert_eq!(code, 2, "{amount}: {out}\n{err}");
        assert!(
            err.contains(&format!("invalid value '{amount}' for '--amount <AMOUNT>'")),
            "{err}"
        );
    }

    // No [chain]: the chain commands name it.
    let cli = keystore_cli(base.clone());
    for args in [
        &["chain", "status"][..],
        &["chain", "status", "--json"],
        &["deposit", "unlock", "--yes"],
    ] {
        let (code, out, err) = run(&mut cli(args));
        assert_eq!(code, 2, "{args:?}: {out}\n{err}");
        assert!(err.contains("has no [chain] section"), "{err}");
        assert!(out.is_empty(), "{out}");
    }

    // [admin] without [chain].
    let cfg = write("admin-no-chain.toml", "\n[admin]\nlisten = \"127.0.0.1:3935\"\n");
    let (code, _, err) = run(&mut keystore_cli(cfg)(&["check", "--offline"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("[admin] needs [chain]"), "{err}");

    // [admin] off loopback without tokens: the startup guard (check --offline runs it).
    let chain = chain_toml("http://127.0.0.1:9", Address::with_last_byte(1));
    let cfg = write(
        "admin-exposed.toml",
        &format!("{chain}\n[admin]\nlisten = \"10.0.0.5:3935\"\n"),
    );
    let (code, out, err) = run(&mut keystore_cli(cfg)(&["check", "--offline"]));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("refusing to serve the admin listener on 10.0.0.5:3935 without tokens"),
        "{err}"
    );
    // Even with allow_unauthenticated (it moves money).
    let cfg = write(
        "admin-exposed-allowed.toml",
        &format!("{chain}\n[admin]\nlisten = \"10.0.0.5:3935\"\n\n[auth]\nallow_unauthenticated = true\n"),
    );
    let (code, out, err) = run(&mut keystore_cli(cfg)(&["check", "--offline"]));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("refusing to serve the admin listener on 10.0.0.5:3935 without tokens"),
        "{err}"
    );
    // With an admin token the same listener passes.
    let cfg = write(
        "admin-token.toml",
        &format!(
            "{chain}\n[admin]\nlisten = \"10.0.0.5:3935\"\n\n[[auth.tokens]]\nname = \"ch\"\nsha256 = \"{}\"\nscopes = [\"admin\"]\n",
            sha256_hex("admin-token")
        ),
    );
    let (code, out, err) = run(&mut keystore_cli(cfg)(&["check", "--offline"]));
    assert_eq!(code, 0, "{out}\n{err}");

    // A node on chain 999 while [chain] chain_id = 31337: both ids, exit 2.
    let anvil = Anvil::with_chain_id(999);
    let cfg = write(
        "wrong-chain.toml",
        &chain_toml(&anvil.url(), Address::with_last_byte(1)),
    );
    let (code, _, err) = run_bounded(keystore_cli(cfg.clone())(&["serve"]), Duration::from_secs(60));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the RPC reports chain id 999, but [chain] chain_id is 31337"),
        "{err}"
    );
    for args in [&["chain", "status"][..], &["deposit", "unlock", "--yes"]] {
        let (code, out, err) = run(&mut keystore_cli(cfg.clone())(args));
        assert_eq!(code, 2, "{args:?}: {out}\n{err}");
        assert!(
            err.contains("the RPC reports chain id 999, but [chain] chain_id is 31337"),
            "{err}"
        );
    }
}

fn sha256_hex(token: &str) -> String {
    livepeer_signer::access::token_sha256(token)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn orch_info(url: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{url}/sign-orchestrator-info"))
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Polls `GET {url}/readyz` (every 100 ms, up to 30 s) until it answers
/// `status`; `/sign-orchestrator-info` answers the C1 body at every step.
async fn readyz_until(url: &str, status: u16) -> serde_json::Value {
    let start = Instant::now();
    loop {
        assert_eq!(orch_info(url).await, (200, C1_BODY.to_string()));
        let (s, body) = get(&format!("{url}/readyz")).await;
        if s == status {
            return serde_json::from_str(&body).unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "/readyz never answered {status}; last {s}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the metric line `name` (exact name with labels).
fn metric(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .to_string()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_readyz_and_metrics_follow_the_chain_view_through_an_outage() {
    let mut c = Chain::start(eth("10eth")).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = keystore_config(dir.path());
    append(&cfg, &c.toml());
    let cli = keystore_cli(cfg.clone());
    let (d, r) = (eth("1eth"), eth("0.5eth"));
    send(
        &c,
        &cli,
        &["fund", "--deposit", "1eth", "--reserve", "0.5eth"],
        d + r,
        U256::ZERO,
        info(d, r, U256::ZERO),
    )
    .await;
    let round = c.round().await;
    let block = c.anvil.provider().get_block_number().await.unwrap();

    let daemon = Daemon::start(cli(&["serve"]));
    let pid = daemon.pid();
    let ready = readyz_until(&daemon.url, 200).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["reason"], serde_json::Value::Null, "{ready}");
    assert_eq!(ready["chain"]["fresh"], true, "{ready}");
    assert_eq!(ready["chain"]["l1_block"], block, "{ready}");
    assert_eq!(
        ready["chain"]["last_initialized_round"],
        round.to_string(),
        "{ready}"
    );
    assert_eq!(orch_info(&daemon.url).await, (200, C1_BODY.to_string()));
    let (s, m) = get(&format!("{}/metrics", daemon.url)).await;
    assert_eq!(s, 200);
    assert_eq!(
        metric(&m, "livepeer_signer_chain_deposit_wei"),
        "1000000000000000000"
    );
    assert_eq!(
        metric(&m, "livepeer_signer_chain_reserve_wei"),
        "500000000000000000"
    );
    assert_eq!(metric(&m, "livepeer_signer_chain_withdraw_round"), "0");
    assert_eq!(
        metric(&m, "livepeer_signer_chain_last_initialized_round"),
        round.to_string()
    );
    assert_eq!(metric(&m, "livepeer_signer_chain_l1_block"), block.to_string());
    assert_eq!(metric(&m, "livepeer_signer_chain_fresh"), "1");

    // The node goes away: stale once max_staleness_ms passes; signing goes on.
    c.anvil.stop();
    // The commands fail at run time (exit 1) naming the node.
    for args in [&["chain", "status"][..], &["deposit", "unlock", "--yes"]] {
        let (code, out, err) = run(&mut cli(args));
        assert_eq!(code, 1, "{args:?}: {out}\n{err}");
        assert!(
            err.contains(&format!("cannot connect to the RPC at {}", c.anvil.url())),
            "{err}"
        );
        assert!(!out.contains("sent: "), "{out}");
    }
    let stale = readyz_until(&daemon.url, 503).await;
    assert_eq!(stale["status"], "not ready", "{stale}");
    assert_eq!(stale["chain"]["fresh"], false, "{stale}");
    let reason = stale["chain"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("chain view is stale: last read "), "{reason}");
    assert!(
        reason.contains(&format!("cannot connect to the RPC at {}", c.anvil.url())),
        "{reason}"
    );
    assert_eq!(stale["reason"], reason, "{stale}");
    assert_eq!(orch_info(&daemon.url).await, (200, C1_BODY.to_string()));
    let (_, m) = get(&format!("{}/metrics", daemon.url)).await;
    assert_eq!(metric(&m, "livepeer_signer_chain_fresh"), "0");
    // The last snapshot's numbers stay.
    assert_eq!(
        metric(&m, "livepeer_signer_chain_deposit_wei"),
        "1000000000000000000"
    );
    let connect_errors: u64 = metric(&m, "livepeer_signer_chain_rpc_errors_total{kind=\"connect\"}")
        .parse()
        .unwrap();
    assert!(connect_errors >= 1, "{m}");

    // Back on the same port: ready again, same process.
    c.anvil.restart();
    let again = readyz_until(&daemon.url, 200).await;
    assert_eq!(again["chain"]["fresh"], true, "{again}");
    assert_eq!(daemon.pid(), pid);
    assert!(alive(pid));
    assert_eq!(orch_info(&daemon.url).await, (200, C1_BODY.to_string()));
    let (_, m) = get(&format!("{}/metrics", daemon.url)).await;
    assert_eq!(metric(&m, "livepeer_signer_chain_fresh"), "1");
    assert_eq!(
        metric(&m, "livepeer_signer_chain_deposit_wei"),
        "1000000000000000000"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_an_unreachable_rpc_still_signs_orchestrator_info() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = keystore_config(dir.path());
    let url = format!("http://127.0.0.1:{}", free_port());
    append(&cfg, &chain_toml(&url, Address::with_last_byte(1)));
    let daemon = Daemon::start(keystore_cli(cfg)(&["serve"]));
    assert_eq!(orch_info(&daemon.url).await, (200, C1_BODY.to_string()));
    let body = readyz_until(&daemon.url, 503).await;
    assert_eq!(body["chain"]["fresh"], false, "{body}");
    let reason = body["chain"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("chain view not ready: the chain has not been read since start"),
        "{reason}"
    );
    // Still serving a while later, still not ready.
    let (_, m) = get(&format!("{}/metrics", daemon.url)).await;
    assert_eq!(metric(&m, "livepeer_signer_chain_fresh"), "0");
    assert_eq!(metric(&m, "livepeer_signer_chain_snapshot_age_seconds"), "-1");
    assert_eq!(metric(&m, "livepeer_signer_chain_deposit_wei"), "NaN");
    let connect_errors: u64 = metric(&m, "livepeer_signer_chain_rpc_errors_total{kind=\"connect\"}")
        .parse()
        .unwrap();
    assert!(connect_errors >= 1, "{m}");
    assert_eq!(orch_info(&daemon.url).await, (200, C1_BODY.to_string()));
}

const ADMIN_TOKEN: &str = "clearinghouse-admin-token-0123456789";
const GATEWAY_TOKEN: &str = "gateway-orch-info-token-0123456789";

struct Admin {
    url: String,
    http: reqwest::Client,
}

impl Admin {
    async fn call(
        &self,
        method: reqwest::Method,
        route: &str,
        token: Option<&str>,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        let (status, _, body) = self.call_headers(method, route, token, form).await;
        (status, body)
    }

    async fn call_headers(
        &self,
        method: reqwest::Method,
        route: &str,
        token: Option<&str>,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self.http.request(method.clone(), format!("{}{route}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if method == reqwest::Method::POST {
            let body: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let r = req.send().await.unwrap();
        let headers = r.headers().clone();
        (r.status().as_u16(), headers, r.text().await.unwrap())
    }

    /// `POST route` (admin token) that sends one transaction of `value`
    /// and answers `<function> success`; checks it on chain: mined from §C
    /// to the TicketBroker, §C paid exactly value + gas × price, the
    /// TicketBroker holds `value` more, the sender info is `expect`.
    async fn transact(&self, c: &Chain, route: &str, form: &[(&str, &str)], value: U256, expect: SenderInfo) {
        let before = c.anvil.balance(me()).await;
        let broker_before = c.anvil.balance(c.d.ticket_broker).await;
        let nonce = c.anvil.nonce(me()).await;
        let function = route.trim_start_matches('/').split('?').next().unwrap();
        assert_eq!(
            self.post(route, form).await,
            (200, format!("{function} success")),
            "{route} {form:?}"
        );
        assert_eq!(c.anvil.nonce(me()).await, nonce + 1);
        // Anvil mines each transaction in its own block: the latest one.
        let block: serde_json::Value = c
            .anvil
            .provider()
            .raw_request("eth_getBlockByNumber".into(), ("latest", false))
            .await
            .unwrap();
        let txs = block["transactions"].as_array().unwrap();
        assert_eq!(txs.len(), 1, "{block}");
        let hash: B256 = txs[0].as_str().unwrap().parse().unwrap();
        let r = c
            .anvil
            .provider()
            .get_transaction_receipt(hash)
            .await
            .unwrap()
            .unwrap();
        assert!(r.status(), "{r:?}");
        assert_eq!((r.from, r.to), (me(), Some(c.d.ticket_broker)));
        let fee = U256::from(r.gas_used) * U256::from(r.effective_gas_price);
        assert_eq!(c.anvil.balance(me()).await, before - value - fee, "{route}");
        assert_eq!(c.anvil.balance(c.d.ticket_broker).await, broker_before + value);
        assert_eq!(c.sender().await, expect, "{route}");
    }

    async fn post(&self, route: &str, form: &[(&str, &str)]) -> (u16, String) {
        self.call(reqwest::Method::POST, route, Some(ADMIN_TOKEN), form)
            .await
    }

    async fn get(&self, route: &str) -> (u16, String) {
        self.call(reqwest::Method::GET, route, Some(ADMIN_TOKEN), &[])
            .await
    }
}

fn sender_info_json(i: &SenderInfo) -> String {
    format!(
        "{{\"Deposit\":{},\"WithdrawRound\":{},\"Reserve\":{{\"FundsRemaining\":{},\"ClaimedInCurrentRound\":{}}}}}",
        i.deposit, i.withdraw_round, i.reserve, i.claimed_in_current_round
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_speaks_the_cli_api_subset() {
    let mut c = Chain::start(eth("10eth")).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = keystore_config(dir.path());
    let port = free_port();
    append(
        &cfg,
        &format!(
            "{}\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[auth.tokens]]\nname = \"ch\"\nsha256 = \"{}\"\nscopes = [\"admin\"]\n\n\
             [[auth.tokens]]\nname = \"gw\"\nsha256 = \"{}\"\nscopes = [\"orchestrator-info\"]\n",
            c.toml(),
            sha256_hex(ADMIN_TOKEN),
            sha256_hex(GATEWAY_TOKEN)
        ),
    );
    let daemon = Daemon::start(keystore_cli(cfg)(&["serve"]));
    daemon.wait_for_log("admin listener (CLI API subset) listening");
    let logged = daemon
        .logs()
        .lines()
        .find_map(|l| support::log_field(l, "admin_url"))
        .unwrap();
    assert_eq!(logged, format!("http://127.0.0.1:{port}"));
    let a = Admin {
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    };
    use reqwest::Method;

    // The main listener: the gateway token signs, the admin token does not.
    let orch = |token: &'static str| {
        let url = format!("{}/sign-orchestrator-info", daemon.url);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(orch(GATEWAY_TOKEN).await, (200, C1_BODY.to_string()));
    let (s, body) = orch(ADMIN_TOKEN).await;
    assert_eq!(s, 403, "{body}");

    // Authentication and scope, before anything is read or sent.
    let before = c.untouched_state().await;
    for route in ["/ethAddr", "/senderInfo", "/fundDeposit", "/unlock"] {
        let method = if route.starts_with("/eth") || route.starts_with("/sender") {
            Method::GET
        } else {
            Method::POST
        };
        let form: &[(&str, &str)] = &[("amount", "1000")];
        assert_eq!(
            a.call(method.clone(), route, None, form).await,
            (
                401,
                "missing Authorization header: send Authorization: Bearer <token>\n".into()
            ),
            "{route}"
        );
        assert_eq!(
            a.call(method.clone(), route, Some("not-a-configured-token"), form)
                .await,
            (401, "invalid bearer token\n".into()),
            "{route}"
        );
        assert_eq!(
            a.call(method, route, Some(GATEWAY_TOKEN), form).await,
            (403, "token lacks the admin scope\n".into()),
            "{route}"
        );
    }
    c.anvil.mine(1).await;
    assert_eq!(c.untouched_state().await, before);

    let (s, h, body) = a
        .call_headers(Method::GET, "/ethAddr", Some(ADMIN_TOKEN), &[])
        .await;
    assert_eq!((s, body.as_str()), (200, C_ADDRESS));
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    let (s, h, body) = a
        .call_headers(Method::GET, "/senderInfo", Some(ADMIN_TOKEN), &[])
        .await;
    assert_eq!((s, body), (200, sender_info_json(&SenderInfo::default())));
    assert_eq!(h["content-type"], "application/json");
    let (s, h, _) = a
        .call_headers(Method::GET, "/senderInfo", Some("not-a-configured-token"), &[])
        .await;
    assert_eq!(s, 401);
    assert_eq!(h["www-authenticate"], "Bearer");
    let (s, h, body) = a
        .call_headers(Method::PUT, "/unlock", Some(ADMIN_TOKEN), &[])
        .await;
    assert_eq!((s, body.as_str()), (405, "Method Not Allowed\n"));
    assert_eq!(h["allow"], "POST");
    assert_eq!(a.get("/ethAddr").await, (200, C_ADDRESS.to_string()));
    assert_eq!(
        a.get("/senderInfo").await,
        (200, sender_info_json(&SenderInfo::default()))
    );

    // Form errors: nothing sent.
    let before = c.untouched_state().await;
    for (route, form, body) in [
        ("/fundDeposit", &[][..], "missing form param: amount\n"),
        (
            "/fundDeposit",
            &[("amount", "")][..],
            "missing form param: amount\n",
        ),
        (
            "/fundDeposit",
            &[("amount", "lots")][..],
            "invalid amount: failed to parse big integer\n",
        ),
        (
            "/fundDeposit",
            &[("amount", "-5")][..],
            "invalid amount: failed to parse big integer\n",
        ),
        (
            "/fundDepositAndReserve",
            &[("depositAmount", "1000")][..],
            "missing form param: reserveAmount\n",
        ),
        (
            "/fundDepositAndReserve",
            &[("reserveAmount", "1000")][..],
            "missing form param: depositAmount\n",
        ),
        (
            "/fundDepositAndReserve",
            &[("depositAmount", "1000"), ("reserveAmount", "0x10")][..],
            "invalid reserveAmount: failed to parse big integer\n",
        ),
    ] {
        assert_eq!(
            a.post(route, form).await,
            (400, body.to_string()),
            "{route} {form:?}"
        );
    }
    assert_eq!(
        a.get("/fundDeposit").await.0,
        405,
        "transaction routes take POST only"
    );
    assert_eq!(a.get("/withdraw").await.0, 405);
    c.anvil.mine(1).await;
    assert_eq!(c.untouched_state().await, before);

    // fundDepositAndReserve.
    let (d, r) = (eth("1eth"), eth("0.5eth"));
    a.transact(
        &c,
        "/fundDepositAndReserve",
        &[
            ("depositAmount", "1000000000000000000"),
            ("reserveAmount", "500000000000000000"),
        ],
        d + r,
        info(d, r, U256::ZERO),
    )
    .await;
    assert_eq!(c.anvil.balance(c.d.ticket_broker).await, d + r);
    assert_eq!(c.anvil.nonce(me()).await, 1);
    assert_eq!(
        a.get("/senderInfo").await,
        (200, sender_info_json(&info(d, r, U256::ZERO)))
    );

    // fundDeposit.
    let d = d + U256::from(777u64);
    a.transact(
        &c,
        "/fundDeposit",
        &[("amount", "777")],
        U256::from(777u64),
        info(d, r, U256::ZERO),
    )
    .await;
    assert_eq!(c.anvil.balance(c.d.ticket_broker).await, d + r);

    // withdraw without an unlock: the revert reason in a 500.
    let (s, body) = a.post("/withdraw", &[]).await;
    assert_eq!(s, 500, "{body}");
    assert!(body.starts_with("could not execute withdraw: "), "{body}");
    assert!(body.ends_with("no unlock request in progress\n"), "{body}");
    assert_eq!(c.anvil.nonce(me()).await, 2, "refused before sending");

    // unlock / cancelUnlock.
    let withdraw_round = c.fresh_round_for_unlock().await;
    a.transact(&c, "/unlock", &[], U256::ZERO, info(d, r, withdraw_round))
        .await;
    assert_eq!(
        a.get("/senderInfo").await,
        (200, sender_info_json(&info(d, r, withdraw_round)))
    );
    a.transact(&c, "/cancelUnlock", &[], U256::ZERO, info(d, r, U256::ZERO))
        .await;
    assert_eq!(c.anvil.nonce(me()).await, 4);

    // Go's FormValue: the query string counts too.
    let d = d + U256::from(5u64);
    a.transact(
        &c,
        "/fundDeposit?amount=5",
        &[],
        U256::from(5u64),
        info(d, r, U256::ZERO),
    )
    .await;
    // …and, as in Go, a body value wins over the query's.
    let d = d + U256::from(4u64);
    a.transact(
        &c,
        "/fundDeposit?amount=999",
        &[("amount", "4")],
        U256::from(4u64),
        info(d, r, U256::ZERO),
    )
    .await;

    // Concurrent requests: one transaction at a time, each its own nonce, all mined.
    let nonce = c.anvil.nonce(me()).await;
    let (x, y, z) = tokio::join!(
        a.post("/fundDeposit", &[("amount", "1")]),
        a.post("/fundDeposit", &[("amount", "2")]),
        a.post("/fundDeposit", &[("amount", "3")]),
    );
    for resp in [x, y, z] {
        assert_eq!(resp, (200, "fundDeposit success".into()));
    }
    assert_eq!(c.anvil.nonce(me()).await, nonce + 3);
    let d = d + U256::from(6u64);
    assert_eq!(c.sender().await, info(d, r, U256::ZERO));
    assert_eq!(c.anvil.balance(c.d.ticket_broker).await, d + r);

    // deposit + reserve above 2^256-1: refused before anything is built.
    let max = U256::MAX.to_string();
    assert_eq!(
        a.post(
            "/fundDepositAndReserve",
            &[("depositAmount", max.as_str()), ("reserveAmount", "1")]
        )
        .await,
        (
            500,
            "could not execute fundDepositAndReserve: cannot build the transaction: deposit + reserve exceeds 2^256-1 wei\n"
                .into()
        )
    );
    assert_eq!(c.anvil.nonce(me()).await, nonce + 3);

    // The outcomes are counted.
    let (_, m) = get(&format!("{}/metrics", daemon.url)).await;
    for (function, outcome, n) in [
        ("fundDepositAndReserve", "ok", "1"),
        ("fundDepositAndReserve", "invalid_tx", "1"),
        ("fundDeposit", "ok", "6"),
        ("withdraw", "revert", "1"),
        ("unlock", "ok", "1"),
        ("cancelUnlock", "ok", "1"),
    ] {
        assert_eq!(
            metric(
                &m,
                &format!("livepeer_signer_admin_transactions_total{{function=\"{function}\",outcome=\"{outcome}\"}}")
            ),
            n
        );
    }
    assert_eq!(metric(&m, "livepeer_signer_chain_fresh"), "1");

    // The node goes away: the chain routes answer 500 naming it; /ethAddr needs no node.
    c.anvil.stop();
    let connect = format!("cannot connect to the RPC at {}", c.anvil.url());
    let (s, body) = a.post("/fundDeposit", &[("amount", "1")]).await;
    assert_eq!(s, 500, "{body}");
    assert!(body.starts_with("could not execute fundDeposit: "), "{body}");
    assert!(body.contains(&connect), "{body}");
    let (s, body) = a.get("/senderInfo").await;
    assert_eq!(s, 500, "{body}");
    assert!(body.starts_with("could not query sender info: "), "{body}");
    assert!(body.contains(&connect), "{body}");
    assert_eq!(a.get("/ethAddr").await, (200, C_ADDRESS.to_string()));
    let (_, m) = get(&format!("{}/metrics", daemon.url)).await;
    assert_eq!(
        metric(
            &m,
            "livepeer_signer_admin_transactions_total{function=\"fundDeposit\",outcome=\"connect\"}"
        ),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_without_tokens_answers_401_until_a_reload_adds_one() {
    let c = Chain::start(eth("1eth")).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = keystore_config(dir.path());
    let port = free_port();
    append(
        &cfg,
        &format!("{}\n[admin]\nlisten = \"127.0.0.1:{port}\"\n", c.toml()),
    );
    let daemon = Daemon::start(keystore_cli(cfg.clone())(&["serve"]));
    daemon.wait_for_log("every admin request gets 401");
    let a = Admin {
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    };
    let before = c.untouched_state().await;
    let body = "the admin listener needs a bearer token with the admin scope: add [[auth.tokens]] with scopes = [\"admin\"]\n";
    assert_eq!(
        a.call(reqwest::Method::GET, "/ethAddr", None, &[]).await,
        (401, body.into())
    );
    assert_eq!(a.get("/senderInfo").await, (401, body.into()));
    assert_eq!(
        a.post("/fundDeposit", &[("amount", "1000")]).await,
        (401, body.into())
    );
    c.anvil.mine(1).await;
    assert_eq!(c.untouched_state().await, before);
    // The main listener, without tokens on loopback, still signs.
    assert_eq!(orch_info(&daemon.url).await, (200, C1_BODY.to_string()));

    // SIGHUP with an admin token added: the admin listener takes it.
    let without = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "{without}\n[[auth.tokens]]\nname = \"ch\"\nsha256 = \"{}\"\nscopes = [\"admin\"]\n",
            sha256_hex(ADMIN_TOKEN)
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    let start = Instant::now();
    while a.get("/ethAddr").await.0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the reloaded admin token never worked; logs:\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.get("/ethAddr").await, (200, C_ADDRESS.to_string()));
    assert_eq!(
        a.call(reqwest::Method::GET, "/ethAddr", None, &[]).await,
        (
            401,
            "missing Authorization header: send Authorization: Bearer <token>\n".into()
        )
    );
    a.transact(
        &c,
        "/fundDeposit",
        &[("amount", "1000")],
        U256::from(1000u64),
        info(U256::from(1000u64), U256::ZERO, U256::ZERO),
    )
    .await;

    // And removed again: back to 401 for everyone.
    std::fs::write(&cfg, &without).unwrap();
    daemon.signal("HUP");
    let start = Instant::now();
    while a.get("/ethAddr").await.0 != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the removed admin token still works; logs:\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.get("/senderInfo").await, (401, body.into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_anonymous_on_loopback_when_allowed_and_sigterm_stops_both_listeners() {
    let c = Chain::start(eth("1eth")).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = keystore_config(dir.path());
    let port = free_port();
    append(
        &cfg,
        &format!(
            "{}\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\n[auth]\nallow_unauthenticated = true\n",
            c.toml()
        ),
    );
    let mut daemon = Daemon::start(keystore_cli(cfg)(&["serve"]));
    let a = Admin {
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    };
    assert_eq!(
        a.call(reqwest::Method::GET, "/ethAddr", None, &[]).await,
        (200, C_ADDRESS.to_string())
    );
    assert_eq!(
        a.call(reqwest::Method::GET, "/senderInfo", None, &[]).await,
        (200, sender_info_json(&SenderInfo::default()))
    );
    assert_eq!(
        a.call(reqwest::Method::GET, "/nope", None, &[]).await,
        (404, "404 page not found\n".into())
    );

    daemon.signal("TERM");
    let pid = daemon.pid();
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still running 30 s after SIGTERM; logs:\n{}",
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = daemon.wait();
    assert_eq!(status.code(), Some(0), "{}", daemon.logs());
    assert!(
        daemon.logs().contains("livepeer-signer stopped"),
        "{}",
        daemon.logs()
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// The unlock state is measured as TicketBroker's `withdraw` measures it:
/// against `currentRound()` (block-based), not the last initialized round.
/// With rounds passing but none initialized, `chain status` says
/// `withdrawable` and the withdraw goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_state_follows_the_current_round_even_when_no_round_is_initialized() {
    let c = Chain::start(eth("10eth")).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = keystore_config(dir.path());
    append(&cfg, &c.toml());
    let cli = keystore_cli(cfg);
    for args in [
        &[
            "deposit",
            "fund",
            "--deposit",
            "1eth",
            "--reserve",
            "1eth",
            "--yes",
        ][..],
        &["deposit", "unlock", "--yes"],
    ] {
        let (code, _, err) = run(&mut cli(args));
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    let withdraw_round = c.sender().await.withdraw_round;
    let initialized = c.round().await;
    // Mine past the unlock period without initializing a round.
    c.anvil
        .mine(support::anvil::ROUND_LENGTH * (support::anvil::UNLOCK_PERIOD + 1))
        .await;
    assert_eq!(c.round().await, initialized, "no round was initialized");
    let current = c.current_round().await;
    assert!(current >= withdraw_round, "{current} < {withdraw_round}");
    let (code, out, err) = run(&mut cli(&["chain", "status", "--json"]));
    assert_eq!(code, 0, "{err}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["unlock"], "withdrawable", "{got}");
    assert_eq!(got["unlock_rounds_left"], "0", "{got}");
    assert_eq!(got["current_round"], current.to_string(), "{got}");
    assert_eq!(got["last_initialized_round"], initialized.to_string(), "{got}");
    let (code, out, err) = run(&mut cli(&["deposit", "withdraw", "--yes"]));
    assert_eq!(code, 0, "{out}{err}");
    let after = c.sender().await;
    assert_eq!((after.deposit, after.reserve), (U256::ZERO, U256::ZERO));
}
