//! TicketBroker sender transactions: `fundDepositAndReserve`, `fundDeposit`,
//! `fundReserve`, `unlock`, `cancelUnlock`, `withdraw`.
//!
//! [`Transactor::prepare`] builds an EIP-1559 transaction with alloy from
//! what the node says (chain id, pending nonce, estimated gas plus a margin,
//! fees from `eth_feeHistory`) and refuses, before anything is signed or
//! sent, when the balance cannot cover `value + gas_limit × max_fee_per_gas`.
//! The [`PreparedTx`] describes itself (a dry run stops there).
//! [`Transactor::send`] has the project's [`Signer`] sign the transaction's
//! signing hash (any backend), sends the raw bytes and returns the hash at
//! once; [`Transactor::wait`] waits for the receipt, surfaces a revert
//! reason by replaying the call at the parent block, and re-reads the
//! sender info. Encoding and hashing are [`crate::eth::tx`]'s (alloy's).

use std::fmt;
use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{BlockId, TransactionInput, TransactionReceipt, TransactionRequest};
use alloy_sol_types::SolCall;

use super::bindings::ITicketBroker;
use super::client::{ChainClient, SenderInfo};
use super::ChainError;
use crate::eth::tx::UnsignedTx;
use crate::eth::units::format_eth;
use crate::signer::Signer;

/// A TicketBroker sender-side call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderTx {
    /// `fundDepositAndReserve(deposit, reserve)` with value `deposit + reserve`.
    FundDepositAndReserve {
        /// Wei added to the deposit.
        deposit: U256,
        /// Wei added to the reserve.
        reserve: U256,
    },
    /// `fundDeposit()` with value `amount`.
    FundDeposit {
        /// Wei.
        amount: U256,
    },
    /// `fundReserve()` with value `amount`.
    FundReserve {
        /// Wei.
        amount: U256,
    },
    /// `unlock()`: start the unlock period.
    Unlock,
    /// `cancelUnlock()`.
    CancelUnlock,
    /// `withdraw()`: deposit and reserve back to the sender, after the unlock period.
    Withdraw,
}

impl SenderTx {
    /// The Solidity function called.
    pub fn function(&self) -> &'static str {
        match self {
            SenderTx::FundDepositAndReserve { .. } => "fundDepositAndReserve",
            SenderTx::FundDeposit { .. } => "fundDeposit",
            SenderTx::FundReserve { .. } => "fundReserve",
            SenderTx::Unlock => "unlock",
            SenderTx::CancelUnlock => "cancelUnlock",
            SenderTx::Withdraw => "withdraw",
        }
    }

    /// ABI-encoded calldata (alloy `sol!`).
    pub fn calldata(&self) -> Bytes {
        Bytes::from(match *self {
            SenderTx::FundDepositAndReserve { deposit, reserve } => {
                ITicketBroker::fundDepositAndReserveCall {
                    depositAmount: deposit,
                    reserveAmount: reserve,
                }
                .abi_encode()
            }
            SenderTx::FundDeposit { .. } => ITicketBroker::fundDepositCall {}.abi_encode(),
            SenderTx::FundReserve { .. } => ITicketBroker::fundReserveCall {}.abi_encode(),
            SenderTx::Unlock => ITicketBroker::unlockCall {}.abi_encode(),
            SenderTx::CancelUnlock => ITicketBroker::cancelUnlockCall {}.abi_encode(),
            SenderTx::Withdraw => ITicketBroker::withdrawCall {}.abi_encode(),
        })
    }

    /// Wei sent with the call. `None` when `deposit + reserve` overflows.
    pub fn value(&self) -> Option<U256> {
        match *self {
            SenderTx::FundDepositAndReserve { deposit, reserve } => deposit.checked_add(reserve),
            SenderTx::FundDeposit { amount } | SenderTx::FundReserve { amount } => Some(amount),
            SenderTx::Unlock | SenderTx::CancelUnlock | SenderTx::Withdraw => Some(U256::ZERO),
        }
    }
}

/// Knobs for building and awaiting a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOptions {
    /// Use this gas limit instead of `eth_estimateGas` + margin (an
    /// estimate refuses a call that would revert; a fixed limit sends it).
    pub gas_limit: Option<u64>,
    /// Percent added to the gas estimate.
    pub gas_margin_percent: u64,
    /// How long [`Transactor::wait`] waits for the receipt.
    pub receipt_timeout: Duration,
    /// How often it asks for the receipt.
    pub receipt_poll: Duration,
}

impl Default for TxOptions {
    fn default() -> Self {
        TxOptions {
            gas_limit: None,
            gas_margin_percent: 20,
            receipt_timeout: Duration::from_secs(300),
            receipt_poll: Duration::from_secs(1),
        }
    }
}

/// A built, unsigned transaction and what it may cost: the dry-run output.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedTx {
    /// The call.
    pub action: SenderTx,
    /// The paying account (the signer's address).
    pub from: Address,
    /// The TicketBroker (resolved through the Controller).
    pub ticket_broker: Address,
    /// The account's balance when it was prepared.
    pub balance: U256,
    /// `gas_limit × max_fee_per_gas`: the most the gas can cost.
    pub max_gas_cost: U256,
    /// The EIP-1559 transaction (chain id, nonce, gas, fees, value, calldata).
    pub tx: TxEip1559,
}

impl PreparedTx {
    /// `value + max_gas_cost`.
    pub fn max_total_cost(&self) -> U256 {
        self.tx.value.saturating_add(self.max_gas_cost)
    }

    /// The hash the signer signs.
    pub fn signing_hash(&self) -> B256 {
        B256::from(UnsignedTx::Eip1559(self.tx.clone()).signing_hash())
    }
}

impl fmt::Display for PreparedTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tx;
        writeln!(f, "TicketBroker.{}", self.action.function())?;
        if let SenderTx::FundDepositAndReserve { deposit, reserve } = self.action {
            writeln!(f, "  deposit:        {deposit} wei ({} ETH)", format_eth(deposit))?;
            writeln!(f, "  reserve:        {reserve} wei ({} ETH)", format_eth(reserve))?;
        }
        writeln!(f, "  from:           {}", self.from)?;
        writeln!(f, "  to:             {} (TicketBroker)", self.ticket_broker)?;
        writeln!(
            f,
            "  value:          {} wei ({} ETH)",
            t.value,
            format_eth(t.value)
        )?;
        writeln!(f, "  chain id:       {}", t.chain_id)?;
        writeln!(f, "  nonce:          {}", t.nonce)?;
        writeln!(f, "  gas limit:      {}", t.gas_limit)?;
        writeln!(f, "  max fee:        {} wei/gas", t.max_fee_per_gas)?;
        writeln!(f, "  priority fee:   {} wei/gas", t.max_priority_fee_per_gas)?;
        writeln!(
            f,
            "  max gas cost:   {} wei ({} ETH)",
            self.max_gas_cost,
            format_eth(self.max_gas_cost)
        )?;
        writeln!(
            f,
            "  balance:        {} wei ({} ETH)",
            self.balance,
            format_eth(self.balance)
        )?;
        write!(f, "  calldata:       {}", t.input)
    }
}

/// A mined, successful transaction.
#[derive(Debug, Clone)]
pub struct TxOutcome {
    /// Its hash.
    pub tx_hash: B256,
    /// The block it is in.
    pub block_number: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Wei per gas paid.
    pub effective_gas_price: u128,
    /// The full receipt (logs included).
    pub receipt: TransactionReceipt,
    /// `getSenderInfo(from)` read after the receipt.
    pub sender: SenderInfo,
}

/// Builds, signs, sends and awaits sender transactions.
#[derive(Debug, Clone)]
pub struct Transactor {
    client: ChainClient,
    signer: Signer,
}

impl Transactor {
    /// Transactions from `signer`'s address through `client`.
    pub fn new(client: ChainClient, signer: Signer) -> Transactor {
        Transactor { client, signer }
    }

    /// The paying address.
    pub fn address(&self) -> Address {
        Address::from(*self.signer.address().as_bytes())
    }

    /// Builds the transaction and checks the balance; sends nothing.
    pub async fn prepare(&self, action: SenderTx, options: &TxOptions) -> Result<PreparedTx, ChainError> {
        let c = &self.client;
        let from = self.address();
        let value = action
            .value()
            .ok_or_else(|| ChainError::InvalidTx("deposit + reserve exceeds 2^256-1 wei".into()))?;
        let chain_id = c.checked_chain_id().await?;
        let ticket_broker = c.ticket_broker().await?;
        let input = action.calldata();
        let request = TransactionRequest {
            from: Some(from),
            to: Some(TxKind::Call(ticket_broker)),
            value: Some(value),
            input: TransactionInput::new(input.clone()),
            ..Default::default()
        };
        let p = c.provider();
        let what = format!("TicketBroker.{}", action.function());
        let (nonce, fees, balance) = tokio::try_join!(
            async {
                p.get_transaction_count(from)
                    .pending()
                    .await
                    .map_err(|e| c.err("eth_getTransactionCount(pending)", e))
            },
            async {
                p.estimate_eip1559_fees()
                    .await
                    .map_err(|e| c.err("eth_feeHistory (fee estimate)", e))
            },
            c.balance(from),
        )?;
        let gas_limit = match options.gas_limit {
            Some(g) => g,
            None => {
                if balance < value {
                    // The node's estimate would refuse it in its own words
                    // (e.g. -32003 "insufficient funds"): say it with the numbers.
                    return Err(ChainError::InsufficientFunds {
                        address: from,
                        balance,
                        required: value,
                    });
                }
                let estimate = p
                    .estimate_gas(request)
                    .block(BlockId::pending())
                    .await
                    .map_err(|e| c.err(&format!("{what} (gas estimate)"), e))?;
                estimate
                    .checked_mul(100 + options.gas_margin_percent)
                    .map(|g| g / 100)
                    .ok_or_else(|| {
                        ChainError::InvalidTx(format!("gas estimate {estimate} overflows with the margin"))
                    })?
            }
        };
        let max_gas_cost = U256::from(gas_limit) * U256::from(fees.max_fee_per_gas);
        let required = value.saturating_add(max_gas_cost);
        if balance < required {
            return Err(ChainError::InsufficientFunds {
                address: from,
                balance,
                required,
            });
        }
        Ok(PreparedTx {
            action,
            from,
            ticket_broker,
            balance,
            max_gas_cost,
            tx: TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: fees.max_fee_per_gas,
                max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
                to: TxKind::Call(ticket_broker),
                value,
                access_list: Default::default(),
                input,
            },
        })
    }

    /// Signs (through the Signer) and sends; returns the transaction hash
    /// as soon as the node accepted it.
    pub async fn send(&self, prepared: &PreparedTx) -> Result<B256, ChainError> {
        let unsigned = UnsignedTx::Eip1559(prepared.tx.clone());
        let sig = self.signer.sign_digest(&unsigned.signing_hash()).await?;
        let raw = unsigned.encode_signed(&sig);
        let what = format!(
            "eth_sendRawTransaction (TicketBroker.{})",
            prepared.action.function()
        );
        let pending = self
            .client
            .provider()
            .send_raw_transaction(&raw)
            .await
            .map_err(|e| self.client.err(&what, e))?;
        let hash = *pending.tx_hash();
        tracing::info!(
            target: "livepeer_signer::audit",
            event = "chain_tx_sent",
            function = prepared.action.function(),
            tx_hash = %hash,
            nonce = prepared.tx.nonce,
            value = %prepared.tx.value,
        );
        Ok(hash)
    }

    /// Waits for the receipt of `tx_hash` (sent from `prepared`). A
    /// reverted transaction is [`ChainError::Reverted`] with the reason
    /// found by replaying the call at the parent block.
    pub async fn wait(
        &self,
        prepared: &PreparedTx,
        tx_hash: B256,
        options: &TxOptions,
    ) -> Result<TxOutcome, ChainError> {
        let c = &self.client;
        let started = Instant::now();
        let receipt = loop {
            match c.provider().get_transaction_receipt(tx_hash).await {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(error = %c.err("eth_getTransactionReceipt", e), "receipt not read yet")
                }
            }
            if started.elapsed() >= options.receipt_timeout {
                return Err(ChainError::ReceiptTimeout {
                    tx_hash,
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            tokio::time::sleep(options.receipt_poll).await;
        };
        let block_number = receipt.block_number.unwrap_or_default();
        let what = format!("TicketBroker.{}", prepared.action.function());
        if !receipt.status() {
            let reason = self.replay_reason(prepared, block_number).await;
            tracing::warn!(
                target: "livepeer_signer::audit",
                event = "chain_tx_reverted",
                tx_hash = %tx_hash,
                reason = reason.as_deref().unwrap_or(""),
            );
            return Err(ChainError::Reverted {
                what,
                tx_hash: Some(tx_hash),
                reason,
            });
        }
        let sender = c.sender_info(prepared.ticket_broker, prepared.from).await?;
        Ok(TxOutcome {
            tx_hash,
            block_number,
            gas_used: receipt.gas_used,
            effective_gas_price: receipt.effective_gas_price,
            receipt,
            sender,
        })
    }

    /// `prepare` then `send` then `wait`.
    pub async fn execute(&self, action: SenderTx, options: &TxOptions) -> Result<TxOutcome, ChainError> {
        let prepared = self.prepare(action, options).await?;
        let hash = self.send(&prepared).await?;
        self.wait(&prepared, hash, options).await
    }

    /// The revert reason of the mined call: the same call replayed with
    /// `eth_call` on the state before its block.
    async fn replay_reason(&self, prepared: &PreparedTx, block_number: u64) -> Option<String> {
        let request = TransactionRequest {
            from: Some(prepared.from),
            to: Some(TxKind::Call(prepared.ticket_broker)),
            value: Some(prepared.tx.value),
            input: TransactionInput::new(prepared.tx.input.clone()),
            gas: Some(prepared.tx.gas_limit),
            ..Default::default()
        };
        let at = BlockId::number(block_number.saturating_sub(1));
        match self.client.provider().call(request).block(at).await {
            Ok(_) => Some(format!(
                "the call does not revert when replayed before block {block_number}: out of gas (limit {})?",
                prepared.tx.gas_limit
            )),
            Err(e) => match self.client.err("replay", e) {
                ChainError::Reverted { reason, .. } => reason,
                other => {
                    tracing::debug!(error = %other, "revert replay failed");
                    None
                }
            },
        }
    }
}
