//! `chain status` and `deposit …`: the sender's on-chain state, and
//! TicketBroker transactions signed by the configured key (keystore, HSM or
//! KMS alike).

use std::path::Path;
use std::time::Duration;

use alloy_primitives::U256;
use anyhow::anyhow;
use serde_json::json;

use super::{init_logging, load_config, Failure};
use crate::chain::{ChainClient, ChainConfig, ChainError, SenderInfo, Transactor, TxOptions};
use crate::cli::DepositCommand;
use crate::eth::units::format_eth;
use crate::keys;
use crate::signer::Signer;

/// Exit code 2 for what the config must fix (a chain id mismatch, a broken
/// `[chain]`), 1 for the rest (node down, revert, no funds…).
pub(super) fn chain_failure(e: ChainError) -> Failure {
    match e {
        ChainError::ChainIdMismatch { .. } | ChainError::Config(_) => Failure::config(e),
        e => Failure::runtime(e),
    }
}

async fn open(config_path: Option<&Path>) -> Result<(ChainConfig, Signer, ChainClient), Failure> {
    let (config, source) = load_config(config_path)?;
    init_logging(&config.log);
    let chain = config.chain.clone().ok_or_else(|| {
        Failure::config(anyhow!(
            "{source} has no [chain] section: set [chain] rpc_url (an Ethereum JSON-RPC node of the chain \
             that holds the Livepeer contracts, e.g. Arbitrum One); see config/chain.example.toml"
        ))
    })?;
    let backend = keys::open(&config.key)
        .await
        .map_err(|e| Failure::runtime(anyhow::Error::new(e).context("cannot open the key backend")))?;
    let client = ChainClient::new(&chain).map_err(chain_failure)?;
    Ok((chain, Signer::new(backend), client))
}

/// Where an unlock stands against the current round (TicketBroker's
/// `withdraw` rule: `currentRound() >= withdrawRound`): `locked`,
/// `unlocking` (rounds left) or `withdrawable`.
fn unlock_state(info: &SenderInfo, round: U256) -> (&'static str, U256) {
    if info.withdraw_round.is_zero() {
        ("locked", U256::ZERO)
    } else if info.withdraw_round > round {
        ("unlocking", info.withdraw_round - round)
    } else {
        ("withdrawable", U256::ZERO)
    }
}

fn sender_lines(info: &SenderInfo, round: U256) -> String {
    let (state, left) = unlock_state(info, round);
    let unlock = match state {
        "locked" => "no unlock in progress".to_string(),
        "unlocking" => format!(
            "unlocking: withdraw round {}, {left} round(s) left",
            info.withdraw_round
        ),
        _ => format!(
            "withdrawable since round {}: `deposit withdraw` pays deposit and reserve back",
            info.withdraw_round
        ),
    };
    format!(
        "deposit:          {} wei ({} ETH)\nreserve:          {} wei ({} ETH), claimed this round {} wei\nunlock:           {unlock}",
        info.deposit,
        format_eth(info.deposit),
        info.reserve,
        format_eth(info.reserve),
        info.claimed_in_current_round,
    )
}

/// `chain status [--json]`.
pub(super) async fn status(config_path: Option<&Path>, as_json: bool) -> Result<(), Failure> {
    let (_, signer, client) = open(config_path).await?;
    let me = alloy_primitives::Address::from(*signer.address().as_bytes());
    let chain_id = client.checked_chain_id().await.map_err(chain_failure)?;
    let contracts = client.resolve_contracts().await.map_err(chain_failure)?;
    let (info, round, current, block, balance) = tokio::try_join!(
        client.sender_info(contracts.ticket_broker, me),
        client.last_initialized_round(contracts.rounds_manager),
        client.current_round(contracts.rounds_manager),
        client.latest_block(chain_id),
        client.balance(me),
    )
    .map_err(chain_failure)?;
    let (state, rounds_left) = unlock_state(&info, current);
    if as_json {
        let out = json!({
            "address": signer.address().to_checksum(),
            "chain_id": chain_id,
            "controller": contracts.controller.to_checksum(None),
            "ticket_broker": contracts.ticket_broker.to_checksum(None),
            "rounds_manager": contracts.rounds_manager.to_checksum(None),
            "deposit_wei": info.deposit.to_string(),
            "reserve_wei": info.reserve.to_string(),
            "reserve_claimed_in_current_round_wei": info.claimed_in_current_round.to_string(),
            "withdraw_round": info.withdraw_round.to_string(),
            "unlock": state,
            "unlock_rounds_left": rounds_left.to_string(),
            "last_initialized_round": round.to_string(),
            "current_round": current.to_string(),
            "block": block.number,
            "l1_block": block.l1_block,
            "balance_wei": balance.to_string(),
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "address:          {}\nchain id:         {chain_id}\ncontroller:       {}\nTicketBroker:     {}\nRoundsManager:    {}\n{}\nround:            {current} (current; last initialized {round})\nblock:            {} (L1 block {})\nbalance:          {balance} wei ({} ETH)",
        signer.address(),
        contracts.controller,
        contracts.ticket_broker,
        contracts.rounds_manager,
        sender_lines(&info, current),
        block.number,
        block.l1_block,
        format_eth(balance),
    );
    Ok(())
}

/// `deposit fund | fund-deposit | fund-reserve | unlock | cancel-unlock | withdraw`.
pub(super) async fn deposit(config_path: Option<&Path>, cmd: DepositCommand) -> Result<(), Failure> {
    let (action, send) = cmd.split();
    let (_, signer, client) = open(config_path).await?;
    let transactor = Transactor::new(client.clone(), signer);
    let options = TxOptions {
        receipt_timeout: Duration::from_secs(send.receipt_timeout_s.max(1)),
        ..TxOptions::default()
    };
    let prepared = transactor
        .prepare(action, &options)
        .await
        .map_err(chain_failure)?;
    println!("{prepared}");
    if !send.yes {
        println!("dry run: nothing was signed or sent; add --yes to send this transaction");
        return Ok(());
    }
    let hash = transactor.send(&prepared).await.map_err(chain_failure)?;
    println!("sent: transaction {hash}");
    tracing::info!(
        target: "livepeer_signer::audit",
        event = "transaction",
        function = action.function(),
        value = %prepared.tx.value,
        tx_hash = %hash,
        via = "cli",
    );
    let outcome = transactor
        .wait(&prepared, hash, &options)
        .await
        .map_err(chain_failure)?;
    println!(
        "mined: block {}, gas used {}, {} wei/gas",
        outcome.block_number, outcome.gas_used, outcome.effective_gas_price
    );
    let contracts = client.resolve_contracts().await.map_err(chain_failure)?;
    let round = client
        .current_round(contracts.rounds_manager)
        .await
        .map_err(chain_failure)?;
    println!("{}", sender_lines(&outcome.sender, round));
    Ok(())
}
