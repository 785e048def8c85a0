//! src/chain against a real anvil node running our test contracts
//! (tests/chain/contracts): the poller's snapshot equals the contracts'
//! state, every TicketBroker sender transaction is signed by a keystore
//! Signer and checked on chain, and the faults (node down, slow, garbage,
//! wrong chain, unregistered contract, Arbitrum blocks) are the documented
//! errors. Needs `tests/chain/setup.sh` (anvil, solc-js); fails without it.

mod support;

use std::time::{Duration, Instant};

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{TransactionInput, TransactionReceipt, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use livepeer_signer::chain::bindings::ITicketBroker;
use livepeer_signer::chain::{
    self, parse_amount, ChainClient, ChainConfig, ChainError, SenderInfo, SenderTx, Transactor, TxOptions,
};
use livepeer_signer::keys::keystore::KeystoreBackend;
use livepeer_signer::signer::Signer;
use support::anvil::{info, Anvil, Deployed, TestTicketBroker, UNLOCK_PERIOD};
use support::rpc_proxy::{Mode, RpcProxy};

const ETH: u128 = 1_000_000_000_000_000_000;

fn eth(s: &str) -> U256 {
    parse_amount(s).unwrap()
}

/// The C7 keystore (the §C key), unlocked: a keystore-backend Signer.
fn c7_signer(dir: &std::path::Path) -> Signer {
    let (key, _) = support::write_c7(dir);
    let pw = secrecy::SecretString::from(support::C7_PASSWORD.to_string());
    Signer::new(Box::new(KeystoreBackend::unlock(&key, &pw).unwrap()))
}

fn c_address() -> Address {
    support::C_ADDRESS.parse().unwrap()
}

fn config(url: &str, d: &Deployed) -> ChainConfig {
    let mut c = ChainConfig::new(url);
    c.controller = d.controller;
    c.poll_interval_ms = 200;
    c.request_timeout_ms = 2000;
    c.max_staleness_ms = 1500;
    c
}

struct Env {
    anvil: Anvil,
    d: Deployed,
    tx: Transactor,
    client: ChainClient,
    _dir: tempfile::TempDir,
}

async fn env_with(anvil: Anvil, funds: U256) -> Env {
    let d = anvil.deploy_livepeer().await;
    anvil.set_balance(c_address(), funds).await;
    let dir = tempfile::tempdir().unwrap();
    let signer = c7_signer(dir.path());
    assert_eq!(signer.address().to_checksum(), support::C_ADDRESS);
    let client = ChainClient::new(&config(&anvil.url(), &d)).unwrap();
    Env {
        tx: Transactor::new(client.clone(), signer),
        client,
        anvil,
        d,
        _dir: dir,
    }
}

async fn env() -> Env {
    env_with(Anvil::start(), U256::from(10 * ETH)).await
}

/// The single log of event `E` in `r`, decoded.
fn event<E: SolEvent>(r: &TransactionReceipt) -> E {
    let logs: Vec<_> = r
        .inner
        .logs()
        .iter()
        .filter(|l| l.topic0() == Some(&E::SIGNATURE_HASH))
        .collect();
    assert_eq!(logs.len(), 1, "expected one {} log in {r:?}", E::SIGNATURE);
    E::decode_log_data(&logs[0].inner.data).unwrap()
}

async fn wait_until<F: Fn() -> bool>(what: &str, limit: Duration, f: F) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sender pays exactly value + gas_used × effective_gas_price.
async fn assert_paid(e: &Env, before: U256, value: U256, o: &chain::TxOutcome) {
    let fee = U256::from(o.gas_used) * U256::from(o.effective_gas_price);
    assert_eq!(e.anvil.balance(c_address()).await, before - value - fee);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sender_transaction_on_chain_and_the_poller_agrees() {
    let e = env().await;
    let opts = TxOptions::default();
    let me = c_address();

    // fundDepositAndReserve: value = deposit + reserve.
    let before = e.anvil.balance(me).await;
    let o =
        e.tx.execute(
            SenderTx::FundDepositAndReserve {
                deposit: eth("1eth"),
                reserve: eth("0.5eth"),
            },
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(o.sender, info(eth("1eth"), eth("0.5eth"), U256::ZERO));
    let dep: ITicketBroker::DepositFunded = event(&o.receipt);
    assert_eq!((dep.sender, dep.amount), (me, eth("1eth")));
    let res: ITicketBroker::ReserveFunded = event(&o.receipt);
    assert_eq!((res.reserveHolder, res.amount), (me, eth("0.5eth")));
    assert_eq!(o.receipt.to, Some(e.d.ticket_broker));
    assert_eq!(e.anvil.balance(e.d.ticket_broker).await, eth("1.5eth"));
    assert_paid(&e, before, eth("1.5eth"), &o).await;

    // fundDeposit / fundReserve.
    let before = e.anvil.balance(me).await;
    let o =
        e.tx.execute(
            SenderTx::FundDeposit {
                amount: eth("0.25eth"),
            },
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(o.sender, info(eth("1.25eth"), eth("0.5eth"), U256::ZERO));
    let dep: ITicketBroker::DepositFunded = event(&o.receipt);
    assert_eq!((dep.sender, dep.amount), (me, eth("0.25eth")));
    assert_paid(&e, before, eth("0.25eth"), &o).await;
    let before = e.anvil.balance(me).await;
    let o =
        e.tx.execute(
            SenderTx::FundReserve {
                amount: U256::from(123_456_789u64),
            },
            &opts,
        )
        .await
        .unwrap();
    let reserve = eth("0.5eth") + U256::from(123_456_789u64);
    assert_eq!(o.sender, info(eth("1.25eth"), reserve, U256::ZERO));
    let res: ITicketBroker::ReserveFunded = event(&o.receipt);
    assert_eq!((res.reserveHolder, res.amount), (me, U256::from(123_456_789u64)));
    assert_paid(&e, before, U256::from(123_456_789u64), &o).await;
    assert_eq!(
        e.anvil.balance(e.d.ticket_broker).await,
        eth("1.75eth") + U256::from(123_456_789u64)
    );

    // The poller's snapshot is the contracts' state.
    let handle = chain::start(&config(&e.anvil.url(), &e.d), me).await.unwrap();
    let s = handle.view.fresh().expect("fresh after the first poll");
    let round = e.anvil.current_round(&e.d).await;
    let latest = e.anvil.provider().get_block_number().await.unwrap();
    assert_eq!(s.chain_id, 31337);
    assert_eq!(s.sender_address, me);
    assert_eq!(s.sender, info(eth("1.25eth"), reserve, U256::ZERO));
    assert_eq!(s.contracts.controller, e.d.controller);
    assert_eq!(s.contracts.ticket_broker, e.d.ticket_broker);
    assert_eq!(s.contracts.rounds_manager, e.d.rounds_manager);
    assert_eq!(s.last_initialized_round, round);
    // initializeRound records the hash of the block before its own.
    let round_start = round.to::<u64>() * support::anvil::ROUND_LENGTH;
    assert_eq!(s.round_block_hash, e.anvil.block_hash(round_start - 1).await);
    assert_eq!(s.block.number, latest);
    assert_eq!(
        s.l1_block(),
        latest,
        "no l1BlockNumber on chain 31337: the block number"
    );
    let m = handle.view.metrics();
    assert_eq!(m.deposit_wei, Some(eth("1.25eth")));
    assert_eq!(m.reserve_wei, Some(reserve));
    assert_eq!(m.withdraw_round, Some(U256::ZERO));
    assert_eq!(m.last_initialized_round, Some(round));
    assert_eq!(m.l1_block, Some(latest));
    assert!(m.fresh && m.polls_ok >= 1 && m.errors_by_kind.is_empty(), "{m:?}");

    // unlock: withdrawRound = currentRound + unlockPeriod.
    let o = e.tx.execute(SenderTx::Unlock, &opts).await.unwrap();
    let withdraw_round = round + U256::from(UNLOCK_PERIOD);
    assert_eq!(o.sender, info(eth("1.25eth"), reserve, withdraw_round));
    let u: ITicketBroker::Unlock = event(&o.receipt);
    assert_eq!((u.sender, u.startRound, u.endRound), (me, round, withdraw_round));
    assert!(e
        .client
        .is_unlock_in_progress(e.d.ticket_broker, me)
        .await
        .unwrap());
    wait_until("poller sees the unlock", Duration::from_secs(10), || {
        handle.view.snapshot().unwrap().sender.withdraw_round == withdraw_round
    })
    .await;

    // cancelUnlock.
    let o = e.tx.execute(SenderTx::CancelUnlock, &opts).await.unwrap();
    assert_eq!(o.sender, info(eth("1.25eth"), reserve, U256::ZERO));
    let c: ITicketBroker::UnlockCancelled = event(&o.receipt);
    assert_eq!(c.sender, me);
    assert!(!e
        .client
        .is_unlock_in_progress(e.d.ticket_broker, me)
        .await
        .unwrap());

    // unlock again, wait out the unlock period (new rounds), withdraw.
    e.tx.execute(SenderTx::Unlock, &opts).await.unwrap();
    let mut r = round;
    for _ in 0..UNLOCK_PERIOD {
        r = e.anvil.next_round(&e.d).await;
    }
    assert_eq!(r, withdraw_round);
    wait_until("poller follows the new round", Duration::from_secs(10), || {
        handle.view.snapshot().unwrap().last_initialized_round == withdraw_round
    })
    .await;
    let before = e.anvil.balance(me).await;
    let o = e.tx.execute(SenderTx::Withdraw, &opts).await.unwrap();
    assert_eq!(o.sender, SenderInfo::default());
    let w: ITicketBroker::Withdrawal = event(&o.receipt);
    assert_eq!((w.sender, w.deposit, w.reserve), (me, eth("1.25eth"), reserve));
    assert_eq!(e.anvil.balance(e.d.ticket_broker).await, U256::ZERO);
    let fee = U256::from(o.gas_used) * U256::from(o.effective_gas_price);
    assert_eq!(e.anvil.balance(me).await, before + eth("1.25eth") + reserve - fee);
    wait_until("poller sees the withdrawal", Duration::from_secs(10), || {
        handle.view.snapshot().unwrap().sender == SenderInfo::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_describes_and_sends_nothing() {
    let e = env().await;
    let me = c_address();
    let nonce = e.anvil.nonce(me).await;
    let balance = e.anvil.balance(me).await;
    let action = SenderTx::FundDepositAndReserve {
        deposit: eth("0.05eth"),
        reserve: eth("0.02eth"),
    };
    let p = e.tx.prepare(action, &TxOptions::default()).await.unwrap();
    // The node's own estimate, plus the 20 % margin.
    let estimate = e
        .anvil
        .provider()
        .estimate_gas(TransactionRequest {
            from: Some(me),
            to: Some(e.d.ticket_broker.into()),
            value: Some(eth("0.07eth")),
            input: TransactionInput::new(action.calldata()),
            ..Default::default()
        })
        .await
        .unwrap();
    let fees = e.anvil.provider().estimate_eip1559_fees().await.unwrap();
    assert_eq!(p.tx.chain_id, 31337);
    assert_eq!(p.tx.nonce, nonce);
    assert_eq!(p.tx.gas_limit, estimate * 120 / 100);
    assert_eq!(p.tx.max_fee_per_gas, fees.max_fee_per_gas);
    assert_eq!(p.tx.max_priority_fee_per_gas, fees.max_priority_fee_per_gas);
    assert_eq!(p.tx.value, eth("0.07eth"));
    assert_eq!(p.tx.to, e.d.ticket_broker.into());
    assert_eq!(
        p.tx.input,
        Bytes::from(
            ITicketBroker::fundDepositAndReserveCall {
                depositAmount: eth("0.05eth"),
                reserveAmount: eth("0.02eth")
            }
            .abi_encode()
        )
    );
    assert_eq!(
        p.max_gas_cost,
        U256::from(p.tx.gas_limit) * U256::from(p.tx.max_fee_per_gas)
    );
    assert_eq!(p.balance, balance);
    let text = p.to_string();
    for needle in [
        "TicketBroker.fundDepositAndReserve",
        "deposit:        50000000000000000 wei (0.05 ETH)",
        "reserve:        20000000000000000 wei (0.02 ETH)",
        "value:          70000000000000000 wei (0.07 ETH)",
        "chain id:       31337",
        &format!("nonce:          {nonce}"),
        &format!("to:             {} (TicketBroker)", e.d.ticket_broker),
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    // Nothing was sent.
    e.anvil.mine(1).await;
    assert_eq!(e.anvil.nonce(me).await, nonce);
    assert_eq!(e.anvil.balance(me).await, balance);
    assert_eq!(
        e.client.sender_info(e.d.ticket_broker, me).await.unwrap(),
        SenderInfo::default()
    );
}

fn reason(err: &ChainError) -> (&str, Option<B256>) {
    match err {
        ChainError::Reverted { reason, tx_hash, .. } => (reason.as_deref().unwrap_or(""), *tx_hash),
        other => panic!("expected a revert, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_reasons_are_surfaced() {
    let e = env().await;
    let me = c_address();
    let opts = TxOptions::default();

    // Refused by the gas estimate: nothing is sent.
    let err = e.tx.prepare(SenderTx::Withdraw, &opts).await.unwrap_err();
    assert_eq!(reason(&err), ("sender deposit and reserve are zero", None));
    assert_eq!(err.kind(), "revert");
    assert_eq!(e.anvil.nonce(me).await, 0);
    let err = e.tx.prepare(SenderTx::CancelUnlock, &opts).await.unwrap_err();
    assert_eq!(reason(&err).0, "no unlock request in progress");

    e.tx.execute(SenderTx::FundDeposit { amount: eth("1eth") }, &opts)
        .await
        .unwrap();
    // A fixed gas limit skips the estimate: the transaction is mined, reverts,
    // and the reason comes from replaying it.
    let fixed = TxOptions {
        gas_limit: Some(200_000),
        ..TxOptions::default()
    };
    let err = e.tx.execute(SenderTx::Withdraw, &fixed).await.unwrap_err();
    let (why, hash) = reason(&err);
    assert_eq!(why, "no unlock request in progress");
    let hash = hash.expect("mined");
    let receipt = e
        .anvil
        .provider()
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .unwrap();
    assert!(!receipt.status());
    assert_eq!(e.anvil.nonce(me).await, 2);
    assert!(
        err.to_string().contains(&format!(
            "TicketBroker.withdraw reverted in transaction {hash}: no unlock request in progress"
        )),
        "{err}"
    );

    e.tx.execute(SenderTx::Unlock, &opts).await.unwrap();
    let err = e.tx.prepare(SenderTx::Unlock, &opts).await.unwrap_err();
    assert_eq!(reason(&err).0, "unlock already initiated");
    let err = e.tx.execute(SenderTx::Withdraw, &fixed).await.unwrap_err();
    assert_eq!(reason(&err).0, "account is locked");
    assert!(reason(&err).1.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_balance_is_refused_before_sending() {
    let e = env_with(Anvil::start(), U256::from(1000u64)).await;
    let me = c_address();
    let opts = TxOptions {
        gas_limit: Some(100_000),
        ..TxOptions::default()
    };
    let fees = e.anvil.provider().estimate_eip1559_fees().await.unwrap();
    let err =
        e.tx.prepare(SenderTx::FundDeposit { amount: eth("1eth") }, &opts)
            .await
            .unwrap_err();
    let required = eth("1eth") + U256::from(100_000u64) * U256::from(fees.max_fee_per_gas);
    match &err {
        ChainError::InsufficientFunds {
            address,
            balance,
            required: r,
        } => {
            assert_eq!(*address, me);
            assert_eq!(*balance, U256::from(1000u64));
            assert_eq!(*r, required);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), "insufficient_funds");
    let text = err.to_string();
    assert!(
        text.contains("has 1000 wei") && text.contains(&format!("needs up to {required} wei")),
        "{text}"
    );
    assert_eq!(e.anvil.nonce(me).await, 0);
    assert_eq!(e.anvil.balance(me).await, U256::from(1000u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_outage_makes_the_view_stale_and_it_recovers_without_restart() {
    let mut e = env().await;
    let me = c_address();
    e.tx.execute(
        SenderTx::FundDeposit { amount: eth("2eth") },
        &TxOptions::default(),
    )
    .await
    .unwrap();
    let cfg = config(&e.anvil.url(), &e.d);
    let handle = chain::start(&cfg, me).await.unwrap();
    let first = handle.view.fresh().unwrap();
    assert_eq!(first.sender.deposit, eth("2eth"));

    e.anvil.stop();
    let stopped = Instant::now();
    wait_until("view goes stale", Duration::from_secs(10), || {
        handle.view.fresh().is_err()
    })
    .await;
    let stale = handle.view.fresh().unwrap_err();
    let age = stale.age.expect("a snapshot exists");
    assert!(age > Duration::from_millis(1500), "{age:?}");
    // Not stale before max_staleness: the last good poll was at most one interval before the stop.
    assert!(
        stopped.elapsed() >= Duration::from_millis(1500 - 250),
        "{:?}",
        stopped.elapsed()
    );
    let fault = stale.last_error.clone().expect("last error");
    assert_eq!(fault.kind, "connect", "{fault:?}");
    let text = stale.to_string();
    assert!(text.starts_with("chain view is stale: last read "), "{text}");
    assert!(
        text.contains("(max_staleness_ms 1500); last error (connect"),
        "{text}"
    );
    assert!(
        text.contains(&format!("cannot connect to the RPC at {}", e.anvil.url())),
        "{text}"
    );
    // The last snapshot is still there, unchanged.
    assert_eq!(handle.view.snapshot().unwrap().sender.deposit, eth("2eth"));
    let m = handle.view.metrics();
    assert!(
        !m.fresh && m.errors_by_kind.get("connect").copied().unwrap_or(0) >= 1,
        "{m:?}"
    );

    e.anvil.restart();
    wait_until("view fresh again", Duration::from_secs(10), || {
        handle.view.fresh().is_ok()
    })
    .await;
    let again = handle.view.fresh().unwrap();
    assert_eq!(again.sender.deposit, eth("2eth"));
    assert!(again.taken_at > first.taken_at);
    // And it follows the chain again.
    e.tx.execute(
        SenderTx::FundDeposit { amount: eth("1eth") },
        &TxOptions::default(),
    )
    .await
    .unwrap();
    wait_until("poller sees the new deposit", Duration::from_secs(10), || {
        handle.view.snapshot().unwrap().sender.deposit == eth("3eth")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_rpc_at_startup_does_not_block() {
    // A port nothing listens on (bound then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = ChainConfig::new(format!("http://127.0.0.1:{port}"));
    cfg.poll_interval_ms = 200;
    cfg.max_staleness_ms = 1000;
    let started = Instant::now();
    let handle = chain::start(&cfg, c_address()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let stale = handle.view.fresh().unwrap_err();
    assert_eq!(stale.age, None);
    assert_eq!(stale.last_error.as_ref().unwrap().kind, "connect");
    assert!(
        stale
            .to_string()
            .starts_with("chain view not ready: the chain has not been read since start"),
        "{stale}"
    );
    assert!(handle.view.snapshot().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_rpc_hits_the_request_timeout() {
    let e = env().await;
    let proxy = RpcProxy::start(&e.anvil.url());
    let mut cfg = config(&proxy.url, &e.d);
    cfg.request_timeout_ms = 500;
    let client = ChainClient::new(&cfg).unwrap();
    assert_eq!(client.chain_id().await.unwrap(), 31337);
    proxy.set_mode(Mode::Delay(Duration::from_secs(3)));
    let t = Instant::now();
    let err = client.chain_id().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_millis(1500), "{:?}", t.elapsed());
    match &err {
        ChainError::Timeout {
            what,
            url,
            timeout_ms,
        } => {
            assert_eq!(
                (what.as_str(), url.as_str(), *timeout_ms),
                ("eth_chainId", proxy.url.as_str(), 500)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), "timeout");
    // The poller records it and keeps no half snapshot.
    let handle = chain::start(&cfg, c_address()).await.unwrap();
    assert!(handle.view.snapshot().is_none());
    assert_eq!(handle.view.last_error().unwrap().kind, "timeout");
    proxy.set_mode(Mode::Pass);
    wait_until("fresh once the RPC is fast", Duration::from_secs(10), || {
        handle.view.fresh().is_ok()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_answers_are_bad_responses() {
    let e = env().await;
    let proxy = RpcProxy::start(&e.anvil.url());
    let cfg = config(&proxy.url, &e.d);
    let client = ChainClient::new(&cfg).unwrap();
    let handle = chain::start(&cfg, c_address()).await.unwrap();
    let good = handle.view.fresh().unwrap();

    for garbage in [
        "this is not JSON",
        r#"{"jsonrpc":"2.0","id":0,"result":"0xnothex"}"#,
        r#"{"jsonrpc":"2.0","id":0,"result":{"unexpected":true}}"#,
    ] {
        proxy.set_mode(Mode::Garbage(garbage.into()));
        let err = client.chain_id().await.unwrap_err();
        assert_eq!(err.kind(), "bad_response", "{garbage}: {err:?}");
        assert!(
            err.to_string()
                .starts_with("eth_chainId: unusable answer from the RPC: "),
            "{err}"
        );
    }
    // An eth_call answer that is not the ABI of the function.
    proxy.set_mode(Mode::Garbage(
        r#"{"jsonrpc":"2.0","id":0,"result":"0x1234"}"#.into(),
    ));
    let err = client
        .sender_info(e.d.ticket_broker, c_address())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "bad_response", "{err:?}");
    assert!(
        err.to_string()
            .starts_with("TicketBroker.getSenderInfo: unusable answer"),
        "{err}"
    );
    // The poller keeps the last good snapshot and counts the errors.
    wait_until("poller records garbage", Duration::from_secs(10), || {
        handle.view.last_error().is_some_and(|f| f.kind == "bad_response")
    })
    .await;
    assert_eq!(handle.view.snapshot().unwrap().taken_at, good.taken_at);
    proxy.set_mode(Mode::Pass);
    wait_until("fresh again", Duration::from_secs(10), || {
        handle.view.snapshot().unwrap().taken_at > good.taken_at
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_id_mismatch_carries_both_ids() {
    let e = env().await;
    let mut cfg = config(&e.anvil.url(), &e.d);
    cfg.chain_id = Some(42161);
    let err = chain::start(&cfg, c_address()).await.unwrap_err();
    match err {
        ChainError::ChainIdMismatch { expected, actual } => assert_eq!((expected, actual), (42161, 31337)),
        ref other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), "chain_id_mismatch");
    assert_eq!(
        err.to_string(),
        "the RPC reports chain id 31337, but [chain] chain_id is 42161: point rpc_url at a node of chain 42161 or fix chain_id"
    );
    // The transaction path refuses too.
    let tx = Transactor::new(ChainClient::new(&cfg).unwrap(), e.tx_signer());
    let err = tx
        .prepare(SenderTx::Unlock, &TxOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "chain_id_mismatch");
    // spawn() does not wait: the mismatch is the view's error and it never gets fresh.
    let spawned = chain::spawn(&cfg, c_address()).unwrap();
    wait_until(
        "spawned poller sees the mismatch",
        Duration::from_secs(10),
        || {
            spawned
                .view
                .last_error()
                .is_some_and(|f| f.kind == "chain_id_mismatch")
        },
    )
    .await;
    assert!(spawned.view.snapshot().is_none());
    cfg.chain_id = Some(31337);
    chain::start(&cfg, c_address())
        .await
        .unwrap()
        .view
        .fresh()
        .unwrap();
}

impl Env {
    fn tx_signer(&self) -> Signer {
        c7_signer(self._dir.path())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_without_a_contract_names_it() {
    let anvil = Anvil::start();
    let controller = anvil.deploy("Controller", Vec::new()).await;
    let d = Deployed {
        controller,
        rounds_manager: Address::ZERO,
        ticket_broker: Address::ZERO,
        bonding_manager: Address::ZERO,
        service_registry: Address::ZERO,
    };
    let client = ChainClient::new(&config(&anvil.url(), &d)).unwrap();
    let err = client.resolve_contracts().await.unwrap_err();
    assert_eq!(err.kind(), "zero_address");
    assert_eq!(
        err.to_string(),
        format!("the Controller at {controller} returns the zero address for TicketBroker: is [chain] controller the Livepeer Controller of this chain?")
    );
    // TicketBroker registered, RoundsManager not.
    let full = anvil.deploy_livepeer().await;
    anvil
        .register(controller, "TicketBroker", full.ticket_broker)
        .await;
    match client.resolve_contracts().await.unwrap_err() {
        ChainError::ContractNotRegistered {
            contract,
            controller: c,
        } => {
            assert_eq!((contract, c), ("RoundsManager", controller));
        }
        other => panic!("{other:?}"),
    }
    // The poller reports it as its last error.
    let handle = chain::start(&config(&anvil.url(), &d), c_address())
        .await
        .unwrap();
    assert!(handle.view.snapshot().is_none());
    let f = handle.view.last_error().unwrap();
    assert_eq!(f.kind, "zero_address");
    assert!(f.message.contains("zero address for RoundsManager"), "{f:?}");
    // Registering it lets the poller through without a restart.
    anvil
        .register(controller, "RoundsManager", full.rounds_manager)
        .await;
    wait_until("poller resolves the contracts", Duration::from_secs(10), || {
        handle.view.fresh().is_ok()
    })
    .await;
    assert_eq!(
        handle.view.snapshot().unwrap().contracts.rounds_manager,
        full.rounds_manager
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_upgrade_is_followed_on_the_next_round() {
    let e = env().await;
    let me = c_address();
    let handle = chain::start(&config(&e.anvil.url(), &e.d), me).await.unwrap();
    assert_eq!(
        handle.view.fresh().unwrap().contracts.ticket_broker,
        e.d.ticket_broker
    );
    // A new TicketBroker is registered (an upgrade); it is read from the next round on.
    let upgraded = e
        .anvil
        .deploy(
            "TicketBroker",
            (e.d.controller, U256::from(UNLOCK_PERIOD), U256::from(2u64)).abi_encode_params(),
        )
        .await;
    e.anvil.register(e.d.controller, "TicketBroker", upgraded).await;
    let round = e.anvil.next_round(&e.d).await;
    wait_until("poller follows the upgrade", Duration::from_secs(10), || {
        let s = handle.view.snapshot().unwrap();
        s.contracts.ticket_broker == upgraded && s.last_initialized_round == round
    })
    .await;
    // And deposits go to the new contract.
    let o =
        e.tx.execute(
            SenderTx::FundDeposit {
                amount: eth("0.3eth"),
            },
            &TxOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(o.receipt.to, Some(upgraded));
    assert_eq!(e.anvil.balance(upgraded).await, eth("0.3eth"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrum_l1_block_number() {
    let anvil = Anvil::with_chain_id(42161);
    let d = anvil.deploy_livepeer().await;
    let latest = anvil.provider().get_block_number().await.unwrap();
    let proxy = RpcProxy::start(&anvil.url());
    let mut cfg = config(&proxy.url, &d);
    cfg.chain_id = Some(42161);
    let client = ChainClient::new(&cfg).unwrap();

    // An Arbitrum-shaped block: l1BlockNumber as a hex quantity.
    proxy.set_mode(Mode::SetL1BlockNumber(19_088_743));
    let b = client.latest_block(42161).await.unwrap();
    assert_eq!((b.number, b.l1_block), (latest, 19_088_743));
    let handle = chain::start(&cfg, c_address()).await.unwrap();
    let s = handle.view.fresh().unwrap();
    assert_eq!(
        (s.chain_id, s.block.number, s.l1_block()),
        (42161, latest, 19_088_743)
    );

    // anvil's own Arbitrum mode sends l1BlockNumber as a JSON number.
    proxy.set_mode(Mode::Pass);
    let raw: serde_json::Value = anvil
        .provider()
        .raw_request("eth_getBlockByNumber".into(), ("latest", false))
        .await
        .unwrap();
    let native = raw["l1BlockNumber"]
        .as_u64()
        .expect("anvil --chain-id 42161 has l1BlockNumber");
    assert_eq!(client.latest_block(42161).await.unwrap().l1_block, native);

    // No l1BlockNumber on an Arbitrum chain id: an error, not the L2 number.
    proxy.set_mode(Mode::StripL1BlockNumber);
    let err = client.latest_block(42161).await.unwrap_err();
    match &err {
        ChainError::MissingL1BlockNumber { chain_id, block } => {
            assert_eq!((*chain_id, *block), (42161, latest))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), "missing_l1_block");
    wait_until("poller records it", Duration::from_secs(10), || {
        handle
            .view
            .last_error()
            .is_some_and(|f| f.kind == "missing_l1_block")
    })
    .await;
    // On a chain without l1BlockNumber, the block number is used.
    assert_eq!(client.latest_block(31337).await.unwrap().l1_block, latest);
}

/// The ticket check view the payments work relies on: our hash layout,
/// an EIP-191 signature by the sender (keystore Signer), the win rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_check_view_accepts_a_signer_ticket() {
    let e = env().await;
    let round = e.anvil.current_round(&e.d).await;
    let round_hash = e
        .client
        .block_hash_for_round(e.d.rounds_manager, round)
        .await
        .unwrap();
    let recipient: Address = "0x1111111111111111111111111111111111111111".parse().unwrap();
    let rand = U256::from(0xdead_beef_u64);
    let mut aux = round.to_be_bytes::<32>().to_vec();
    aux.extend_from_slice(round_hash.as_slice());
    let ticket = TestTicketBroker::Ticket {
        recipient,
        sender: c_address(),
        faceValue: eth("0.001eth"),
        winProb: U256::MAX,
        senderNonce: U256::from(1u64),
        recipientRandHash: keccak256(rand.to_be_bytes::<32>()),
        auxData: aux.clone().into(),
    };
    // The spec's §3.8 layout: recipient ‖ sender ‖ faceValue ‖ winProb ‖ nonce ‖ randHash ‖ aux.
    let mut packed = Vec::new();
    packed.extend_from_slice(recipient.as_slice());
    packed.extend_from_slice(c_address().as_slice());
    for v in [ticket.faceValue, ticket.winProb, ticket.senderNonce] {
        packed.extend_from_slice(&v.to_be_bytes::<32>());
    }
    packed.extend_from_slice(ticket.recipientRandHash.as_slice());
    packed.extend_from_slice(&aux);
    assert_eq!(packed.len(), 232);
    let hash = keccak256(&packed);
    let view = |call: Vec<u8>| {
        let p = e.anvil.provider();
        let to = e.d.ticket_broker;
        async move {
            p.call(TransactionRequest {
                to: Some(to.into()),
                input: TransactionInput::new(call.into()),
                ..Default::default()
            })
            .await
        }
    };
    let out = view(
        TestTicketBroker::getTicketHashCall {
            ticket: ticket.clone(),
        }
        .abi_encode(),
    )
    .await
    .unwrap();
    assert_eq!(
        TestTicketBroker::getTicketHashCall::abi_decode_returns(&out).unwrap(),
        hash
    );

    let sig = e.tx_signer().sign_text(hash.as_slice()).await.unwrap();
    let sig = Bytes::copy_from_slice(sig.as_bytes());
    let check = |t: TestTicketBroker::Ticket, s: Bytes, r: U256| {
        view(
            TestTicketBroker::checkWinningTicketCall {
                ticket: t,
                sig: s,
                recipientRand: r,
            }
            .abi_encode(),
        )
    };
    let out = check(ticket.clone(), sig.clone(), rand).await.unwrap();
    assert_eq!(
        TestTicketBroker::checkWinningTicketCall::abi_decode_returns(&out).unwrap(),
        hash
    );

    let revert = |r: Result<Bytes, alloy_transport::TransportError>| -> String {
        let e = r.unwrap_err();
        let data = e
            .as_error_resp()
            .and_then(|p| p.as_revert_data())
            .expect("revert data");
        alloy_sol_types::decode_revert_reason(&data).unwrap()
    };
    let mut lose = ticket.clone();
    lose.winProb = U256::ZERO;
    // winProb is hashed, so the loser needs its own signature.
    let lose_hash = keccak256([&packed[..72], &U256::ZERO.to_be_bytes::<32>()[..], &packed[104..]].concat());
    let lose_sig = e.tx_signer().sign_text(lose_hash.as_slice()).await.unwrap();
    assert_eq!(
        revert(check(lose, Bytes::copy_from_slice(lose_sig.as_bytes()), rand).await),
        "revert: ticket did not win"
    );
    assert_eq!(
        revert(check(ticket.clone(), sig.clone(), rand + U256::from(1u64)).await),
        "revert: recipientRand does not match recipientRandHash"
    );
    let mut other = ticket.clone();
    other.sender = recipient;
    assert_eq!(
        revert(check(other, sig.clone(), rand).await),
        "revert: invalid signature over ticket hash"
    );
    let mut bad_aux = ticket.clone();
    bad_aux.auxData = Bytes::new();
    assert_eq!(
        revert(check(bad_aux, sig, rand).await),
        "revert: invalid length for ticket auxData: must be 64 bytes"
    );
}

/// An `https://` rpc_url runs TLS (rustls on ring, built by ChainClient)
/// and verifies the server: a self-signed certificate on a loopback TLS
/// server is refused as a connection error naming the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_rpc_url_verifies_the_server_certificate() {
    use std::sync::Arc;
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let server =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Arc::new(server);
    let tls_thread = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut conn = rustls::ServerConnection::new(server).unwrap();
        // The client aborts the handshake: this ends in an error.
        while conn.is_handshaking() {
            if conn.complete_io(&mut sock).is_err() {
                break;
            }
        }
    });
    let mut cfg = ChainConfig::new(format!("https://127.0.0.1:{port}/rpc"));
    cfg.request_timeout_ms = 5000;
    let err = ChainClient::new(&cfg).unwrap().chain_id().await.unwrap_err();
    tls_thread.join().unwrap();
    assert_eq!(err.kind(), "connect", "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "eth_chainId: cannot connect to the RPC at https://127.0.0.1:{port}: "
        )),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");
}

/// `[chain] ticket_broker` pins the contract funds go to: a Controller that
/// names another TicketBroker (an upgrade, or a lying node) makes reads and
/// deposit transactions refuse, before anything is signed; the right pin
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_ticket_broker_refuses_another_one() {
    let e = env().await;
    let me = c_address();
    let nonce = e.anvil.nonce(me).await;
    let impostor = e.anvil.deploy_livepeer().await.ticket_broker;
    assert_ne!(impostor, e.d.ticket_broker);
    let mut pinned = config(&e.anvil.url(), &e.d);
    pinned.ticket_broker = Some(impostor);
    let client = ChainClient::new(&pinned).unwrap();
    let err = client.resolve_contracts().await.unwrap_err();
    assert_eq!(err.kind(), "ticket_broker_mismatch");
    assert_eq!(
        err.to_string(),
        format!(
            "the Controller at {} names TicketBroker {}, but [chain] ticket_broker pins {impostor}: refusing to read or fund it; if Livepeer upgraded the TicketBroker, check the new address and update ticket_broker, otherwise distrust the RPC node",
            e.d.controller, e.d.ticket_broker
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let tx = Transactor::new(client, c7_signer(dir.path()));
    let action = SenderTx::FundDeposit {
        amount: eth("0.01eth"),
    };
    let err = tx.prepare(action, &TxOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), "ticket_broker_mismatch", "{err}");
    assert_eq!(e.anvil.nonce(me).await, nonce, "nothing was sent");
    // The poller reports it and never publishes a view.
    let handle = chain::start(&pinned, me).await.unwrap();
    assert!(handle.view.snapshot().is_none());
    assert_eq!(handle.view.last_error().unwrap().kind, "ticket_broker_mismatch");
    // The right pin: business as usual.
    pinned.ticket_broker = Some(e.d.ticket_broker);
    let client = ChainClient::new(&pinned).unwrap();
    assert_eq!(
        client.resolve_contracts().await.unwrap().ticket_broker,
        e.d.ticket_broker
    );
    let tx = Transactor::new(client, c7_signer(dir.path()));
    tx.execute(action, &TxOptions::default()).await.unwrap();
    assert_eq!(
        e.client.sender_info(e.d.ticket_broker, me).await.unwrap().deposit,
        eth("0.01eth")
    );
}
