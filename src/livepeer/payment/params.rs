//! Ticket parameters: conversion from `OrchestratorInfo.ticket_params`
//! (go-livepeer `pmTicketParams`, spec §3.7.1), the effective expiration
//! params of a batch (§3.8), the `ticket_params` echoed in `net.Payment`
//! (§3.9), and `validateTicketParams` (pm/sender.go, §3.7.2) as a pure
//! function of the parameters, the ticket count, a chain snapshot and the
//! configured limits.
//!
//! Nothing here is signed. The error messages are byte-for-byte
//! go-livepeer's, because the HTTP layer returns them to gateways.

use std::num::NonZeroU64;

use alloy_primitives::{B256, U256};

use super::rat::Rat;
use super::ticket::{ticket_ev, Ticket};
pub use crate::chain::SenderInfo;
use crate::chain::Snapshot;
use crate::eth::Address;
use crate::livepeer::proto;

/// go-livepeer's `-maxTicketEV` default: 3 000 000 000 000 wei.
pub const DEFAULT_MAX_TICKET_EV_WEI: u64 = 3_000_000_000_000;
/// go-livepeer's `-maxTotalEV` default: 20 000 000 000 000 wei.
pub const DEFAULT_MAX_TOTAL_EV_WEI: u64 = 20_000_000_000_000;
/// `paramsExpiryBuffer`: params whose expiration block is at most this many
/// blocks past the last seen L1 block are expired.
pub const PARAMS_EXPIRY_BUFFER: i64 = 1;

/// The creation round of the tickets of a batch and its block hash: both
/// go into [`Ticket::aux_data`] and into `Payment.expiration_params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpirationParams {
    /// `creation_round`.
    pub creation_round: i64,
    /// `creation_round_block_hash`.
    pub creation_round_block_hash: B256,
}

impl ExpirationParams {
    /// `net.TicketExpirationParams` with a 32-byte hash (always set in
    /// `Payment.expiration_params`, §3.9).
    pub fn to_proto(&self) -> proto::TicketExpirationParams {
        proto::TicketExpirationParams {
            creation_round: self.creation_round,
            creation_round_block_hash: self.creation_round_block_hash.to_vec(),
        }
    }
}

/// An orchestrator's ticket parameters, decoded (go-livepeer's `pm.TicketParams`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketParams {
    /// `BytesToAddress(recipient)`.
    pub recipient: Address,
    /// Face value in wei.
    pub face_value: U256,
    /// Win probability numerator, out of 2^256 − 1.
    pub win_prob: U256,
    /// `BytesToHash(recipient_rand_hash)`.
    pub recipient_rand_hash: B256,
    /// The O's seed (echoed back, used in its HMAC).
    pub seed: U256,
    /// L1 block after which the params are no longer accepted.
    pub expiration_block: U256,
    /// The O's `expiration_params` (absent = round 0, zero hash).
    pub expiration_params: ExpirationParams,
}

/// Why `ticket_params` cannot be converted.
///
/// Go reads these integers as unbounded `big.Int`s; a value wider than 256
/// bits cannot be redeemed by the TicketBroker (its fields are `uint256`),
/// so it is refused here rather than hashed in a layout the contract does
/// not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketParamsError {
    /// A `bytes` integer with more than 32 significant bytes.
    #[error("ticketParams {field} does not fit in 256 bits ({len} bytes)")]
    TooLarge {
        /// The protobuf field name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
}

/// `ethcommon.BytesToAddress`: the last 20 bytes, left-padded with zeros if shorter.
pub fn bytes_to_address(b: &[u8]) -> Address {
    let mut out = [0u8; 20];
    let take = b.len().min(20);
    out[20 - take..].copy_from_slice(&b[b.len() - take..]);
    Address::from_bytes(out)
}

/// `ethcommon.BytesToHash`: the last 32 bytes, left-padded with zeros if shorter.
pub fn bytes_to_hash(b: &[u8]) -> B256 {
    let mut out = [0u8; 32];
    let take = b.len().min(32);
    out[32 - take..].copy_from_slice(&b[b.len() - take..]);
    B256::from(out)
}

/// `new(big.Int).SetBytes(b)` for values up to 256 bits (leading zero
/// bytes ignored, empty = 0).
pub fn bytes_to_u256(field: &'static str, b: &[u8]) -> Result<U256, TicketParamsError> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    let significant = &b[start..];
    if significant.len() > 32 {
        return Err(TicketParamsError::TooLarge { field, len: b.len() });
    }
    Ok(U256::from_be_slice(significant))
}

/// `big.Int.Bytes()`: minimal big-endian bytes, empty for 0.
pub fn u256_to_min_bytes(n: U256) -> Vec<u8> {
    let bytes = n.to_be_bytes::<32>();
    let start = bytes.iter().position(|&x| x != 0).unwrap_or(32);
    bytes[start..].to_vec()
}

impl TicketParams {
    /// `pmTicketParams(OrchestratorInfo.ticket_params)` (§3.7.1). The
    /// recipient is not checked against `OrchestratorInfo.address`.
    pub fn from_proto(p: &proto::TicketParams) -> Result<Self, TicketParamsError> {
        let exp = p.expiration_params.as_ref();
        Ok(TicketParams {
            recipient: bytes_to_address(&p.recipient),
            face_value: bytes_to_u256("face_value", &p.face_value)?,
            win_prob: bytes_to_u256("win_prob", &p.win_prob)?,
            recipient_rand_hash: bytes_to_hash(&p.recipient_rand_hash),
            seed: bytes_to_u256("seed", &p.seed)?,
            expiration_block: bytes_to_u256("expiration_block", &p.expiration_block)?,
            expiration_params: ExpirationParams {
                creation_round: exp.map_or(0, |e| e.creation_round),
                creation_round_block_hash: exp
                    .map_or(B256::ZERO, |e| bytes_to_hash(&e.creation_round_block_hash)),
            },
        })
    }

    /// The `ticket_params` of `net.Payment` (§3.9): recipient (20 bytes),
    /// minimal big-endian integers (0 → empty), recipient_rand_hash
    /// (32 bytes), **no** `expiration_params`.
    pub fn to_payment_proto(&self) -> proto::TicketParams {
        proto::TicketParams {
            recipient: self.recipient.as_bytes().to_vec(),
            face_value: u256_to_min_bytes(self.face_value),
            win_prob: u256_to_min_bytes(self.win_prob),
            recipient_rand_hash: self.recipient_rand_hash.to_vec(),
            seed: u256_to_min_bytes(self.seed),
            expiration_block: u256_to_min_bytes(self.expiration_block),
            expiration_params: None,
        }
    }

    /// `ticketEV(face_value, win_prob)`, exact.
    pub fn ev(&self) -> Rat {
        ticket_ev(self.face_value, self.win_prob)
    }

    /// The expiration params hashed into a batch (`CreateTicketBatch`): the
    /// O's if its round is non-zero **and** its hash is non-zero, otherwise
    /// the signer's own last initialized round and that round's block hash.
    pub fn effective_expiration(&self, own: ExpirationParams) -> ExpirationParams {
        let theirs = self.expiration_params;
        if theirs.creation_round == 0 || theirs.creation_round_block_hash.is_zero() {
            own
        } else {
            theirs
        }
    }

    /// The ticket with nonce `sender_nonce` from `sender` under these
    /// params and `expiration` (see [`Self::effective_expiration`]).
    pub fn ticket(&self, sender: Address, sender_nonce: u32, expiration: ExpirationParams) -> Ticket {
        Ticket {
            recipient: self.recipient,
            sender,
            face_value: self.face_value,
            win_prob: self.win_prob,
            sender_nonce,
            recipient_rand_hash: self.recipient_rand_hash,
            creation_round: expiration.creation_round,
            creation_round_block_hash: expiration.creation_round_block_hash,
        }
    }
}

/// The chain facts `validateTicketParams` and ticket creation read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainInputs {
    /// The last seen L1 block number (Arbitrum's `l1BlockNumber`).
    pub last_seen_l1_block: U256,
    /// `RoundsManager.lastInitializedRound()`.
    pub last_initialized_round: U256,
    /// `RoundsManager.blockHashForRound(last_initialized_round)`.
    pub round_block_hash: B256,
    /// The signer's own sender info, if the chain view has it. Only read
    /// when the EV is positive, as in Go.
    pub sender: Option<SenderInfo>,
}

impl ChainInputs {
    /// The inputs of one chain snapshot. Its sender info is used only if
    /// it was read for `signer` (the tickets' sender); otherwise `sender`
    /// is `None` and a positive-EV validation fails with
    /// [`InvalidTicketParams::SenderInfoUnavailable`].
    pub fn from_snapshot(snapshot: &Snapshot, signer: Address) -> Self {
        let own = snapshot.sender_address.as_slice() == signer.as_bytes();
        ChainInputs {
            last_seen_l1_block: U256::from(snapshot.l1_block()),
            last_initialized_round: snapshot.last_initialized_round,
            round_block_hash: snapshot.round_block_hash,
            sender: own.then_some(snapshot.sender),
        }
    }

    /// The signer's own expiration params (`sender.expirationParams()`):
    /// the last initialized round (its low 64 bits, Go's `Int64()`) and
    /// that round's block hash. Used when the O's are incomplete.
    pub fn own_expiration(&self) -> ExpirationParams {
        ExpirationParams {
            creation_round: low_i64(self.last_initialized_round),
            creation_round_block_hash: self.round_block_hash,
        }
    }
}

/// Configured limits (`-maxTicketEV`, `-maxTotalEV`, `-depositMultiplier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted EV of one ticket, wei.
    pub max_ticket_ev: Rat,
    /// Largest accepted EV of one batch, wei.
    pub max_total_ev: Rat,
    /// A ticket's face value may be at most `deposit / deposit_multiplier`.
    pub deposit_multiplier: NonZeroU64,
}

impl Default for Limits {
    /// go-livepeer's defaults: 3e12 wei, 2e13 wei, multiplier 1.
    fn default() -> Self {
        Limits {
            max_ticket_ev: Rat::from_integer(DEFAULT_MAX_TICKET_EV_WEI),
            max_total_ev: Rat::from_integer(DEFAULT_MAX_TOTAL_EV_WEI),
            deposit_multiplier: NonZeroU64::MIN,
        }
    }
}

/// Why `validateTicketParams` refused; `Display` is go-livepeer's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTicketParams {
    /// `expiration_block` is 0 (its low 64 bits, as Go's `Int64()` reads it).
    #[error("ticketParams expiration block is 0")]
    ZeroExpirationBlock,
    /// `expiration_block − last_seen_l1_block <= 1`: the refresh trigger (HTTP 480).
    #[error("TicketParams expired")]
    Expired,
    /// EV ≥ face value, i.e. win probability ≥ 100 %.
    #[error("ticket faceValue too low faceValue={face_value}")]
    FaceValueTooLow {
        /// The face value, wei.
        face_value: U256,
    },
    /// EV above `max_ticket_ev`.
    #[error("ticket EV {} > max ticket EV {}", .ev.float_string(5), .max.float_string(5))]
    TicketEvTooHigh {
        /// The ticket's EV.
        ev: Box<Rat>,
        /// The limit.
        max: Box<Rat>,
    },
    /// The chain view has no sender info for the signer (Go returns the RPC error).
    #[error("unable to get sender info: not available from the chain view")]
    SenderInfoUnavailable,
    /// `withdraw_round != 0 && withdraw_round <= last_initialized_round + 1`.
    #[error("unable to validate sender: deposit and reserve is set to unlock soon")]
    UnlockSoon,
    /// Reserve is 0.
    #[error("no sender reserve")]
    NoReserve,
    /// Deposit is 0.
    #[error("no sender deposit")]
    NoDeposit,
    /// EV × tickets above `max_total_ev`.
    #[error("total ticket EV {} for {num_tickets} tickets > max total ticket EV {}", .total_ev.float_string(5), .max.float_string(5))]
    TotalEvTooHigh {
        /// EV × `num_tickets`.
        total_ev: Box<Rat>,
        /// Tickets in the batch.
        num_tickets: u64,
        /// The limit.
        max: Box<Rat>,
    },
    /// Face value above `deposit / deposit_multiplier`.
    #[error("ticket faceValue {face_value} > max faceValue {max_face_value}")]
    FaceValueTooHigh {
        /// The face value, wei.
        face_value: U256,
        /// `deposit / deposit_multiplier` (integer division).
        max_face_value: U256,
    },
}

impl InvalidTicketParams {
    /// Whether this is the "ticket params expired" refresh signal (HTTP 480).
    pub fn is_expired(&self) -> bool {
        matches!(self, InvalidTicketParams::Expired)
    }

    /// Whether Go would wrap this in `ErrSenderValidation`.
    pub fn is_sender_validation(&self) -> bool {
        matches!(
            self,
            InvalidTicketParams::UnlockSoon | InvalidTicketParams::NoReserve | InvalidTicketParams::NoDeposit
        )
    }
}

/// The low 64 bits of `n` as Go's `big.Int.Int64()` returns them for a
/// non-negative value.
fn low_i64(n: U256) -> i64 {
    n.as_limbs()[0] as i64
}

/// `new(big.Int).Sub(a, b).Int64()`: low 64 bits of |a − b|, negated
/// (wrapping) when a < b.
fn sub_int64(a: U256, b: U256) -> i64 {
    if a >= b {
        low_i64(a - b)
    } else {
        low_i64(b - a).wrapping_neg()
    }
}

/// go-livepeer's `validateTicketParams(params, numTickets)`, in its order:
///
/// 1. expiration block 0 → [`InvalidTicketParams::ZeroExpirationBlock`]
///    (checked first, even when the win probability is 100 %);
/// 2. `expiration_block − last_seen_l1_block <= 1` → [`InvalidTicketParams::Expired`];
/// 3. EV ≤ 0 → accepted, no further checks;
/// 4. EV ≥ face value; 5. EV > max ticket EV;
/// 6. sender info present; 7. unlock soon / no reserve / no deposit;
/// 8. EV × `num_tickets` > max total EV;
/// 9. face value > deposit / deposit multiplier.
///
/// Limits are inclusive: equality is accepted everywhere.
pub fn validate_ticket_params(
    params: &TicketParams,
    num_tickets: u64,
    chain: &ChainInputs,
    limits: &Limits,
) -> Result<(), InvalidTicketParams> {
    if low_i64(params.expiration_block) == 0 {
        return Err(InvalidTicketParams::ZeroExpirationBlock);
    }
    if sub_int64(params.expiration_block, chain.last_seen_l1_block) <= PARAMS_EXPIRY_BUFFER {
        return Err(InvalidTicketParams::Expired);
    }
    let ev = params.ev();
    if !ev.is_positive() {
        return Ok(());
    }
    if ev >= Rat::from_u256(params.face_value) {
        return Err(InvalidTicketParams::FaceValueTooLow {
            face_value: params.face_value,
        });
    }
    if ev > limits.max_ticket_ev {
        return Err(InvalidTicketParams::TicketEvTooHigh {
            ev: Box::new(ev),
            max: Box::new(limits.max_ticket_ev.clone()),
        });
    }
    let sender = chain.sender.ok_or(InvalidTicketParams::SenderInfoUnavailable)?;
    validate_sender(&sender, chain.last_initialized_round)?;
    let total_ev = &ev * &Rat::from_integer(num_tickets);
    if total_ev > limits.max_total_ev {
        return Err(InvalidTicketParams::TotalEvTooHigh {
            total_ev: Box::new(total_ev),
            num_tickets,
            max: Box::new(limits.max_total_ev.clone()),
        });
    }
    let max_face_value = sender.deposit / U256::from(limits.deposit_multiplier.get());
    if params.face_value > max_face_value {
        return Err(InvalidTicketParams::FaceValueTooHigh {
            face_value: params.face_value,
            max_face_value,
        });
    }
    Ok(())
}

/// go-livepeer's `validateSender`.
pub fn validate_sender(info: &SenderInfo, last_initialized_round: U256) -> Result<(), InvalidTicketParams> {
    let max_withdraw_round = last_initialized_round.saturating_add(U256::from(1));
    if low_i64(info.withdraw_round) != 0 && info.withdraw_round <= max_withdraw_round {
        return Err(InvalidTicketParams::UnlockSoon);
    }
    if info.reserve.is_zero() {
        return Err(InvalidTicketParams::NoReserve);
    }
    if info.deposit.is_zero() {
        return Err(InvalidTicketParams::NoDeposit);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::livepeer::payment::ticket::MAX_WIN_PROB;
    use prost::Message;

    fn half() -> U256 {
        MAX_WIN_PROB / U256::from(2)
    }

    fn params(face_value: u64, win_prob: U256, expiration_block: u64) -> TicketParams {
        TicketParams {
            recipient: Address::from_bytes([0x73; 20]),
            face_value: U256::from(face_value),
            win_prob,
            recipient_rand_hash: B256::repeat_byte(0x11),
            seed: U256::from(7),
            expiration_block: U256::from(expiration_block),
            expiration_params: ExpirationParams::default(),
        }
    }

    /// A7 setup: lastSeenL1Block 100, maxEV 100, depositMultiplier 2, deposit 300.
    fn a7() -> (ChainInputs, Limits) {
        let chain = ChainInputs {
            last_seen_l1_block: U256::from(100),
            last_initialized_round: U256::from(5),
            round_block_hash: B256::ZERO,
            sender: Some(SenderInfo {
                deposit: U256::from(300),
                withdraw_round: U256::ZERO,
                reserve: U256::from(1000),
                claimed_in_current_round: U256::ZERO,
            }),
        };
        let limits = Limits {
            max_ticket_ev: Rat::from_integer(100),
            max_total_ev: Rat::from_integer(1000),
            deposit_multiplier: NonZeroU64::new(2).unwrap(),
        };
        (chain, limits)
    }

    #[test]
    fn a7_expiry() {
        let (chain, limits) = a7();
        let check = |exp| validate_ticket_params(&params(100, half(), exp), 1, &chain, &limits);
        assert_eq!(check(1), Err(InvalidTicketParams::Expired));
        assert_eq!(check(99), Err(InvalidTicketParams::Expired));
        assert_eq!(check(100), Err(InvalidTicketParams::Expired));
        assert_eq!(check(101), Err(InvalidTicketParams::Expired));
        assert_eq!(check(102), Ok(()));
        assert_eq!(check(105), Ok(()));
        assert_eq!(check(0), Err(InvalidTicketParams::ZeroExpirationBlock));
        assert_eq!(check(1).unwrap_err().to_string(), "TicketParams expired");
        assert!(check(1).unwrap_err().is_expired());
        assert_eq!(
            check(0).unwrap_err().to_string(),
            "ticketParams expiration block is 0"
        );
        // Go reads the expiration block with Int64(): only its low 64 bits count.
        let mut p = params(100, half(), 0);
        p.expiration_block = U256::from(1) << 64;
        assert_eq!(
            validate_ticket_params(&p, 1, &chain, &limits),
            Err(InvalidTicketParams::ZeroExpirationBlock)
        );
    }

    #[test]
    fn a7_no_early_return_for_zero_expiration_with_max_win_prob() {
        let (chain, limits) = a7();
        let p = params(100, MAX_WIN_PROB, 0);
        assert_eq!(
            validate_ticket_params(&p, 1, &chain, &limits),
            Err(InvalidTicketParams::ZeroExpirationBlock)
        );
        // With a valid block the same params fail on the face value.
        let p = params(100, MAX_WIN_PROB, 105);
        let err = validate_ticket_params(&p, 1, &chain, &limits).unwrap_err();
        assert_eq!(err.to_string(), "ticket faceValue too low faceValue=100");
    }

    #[test]
    fn a7_sender_validation() {
        let (mut chain, limits) = a7();
        let p = params(100, half(), 105);
        let mut with = |f: &dyn Fn(&mut SenderInfo)| {
            let mut s = a7().0.sender.unwrap();
            f(&mut s);
            chain.sender = Some(s);
            validate_ticket_params(&p, 1, &chain, &limits)
        };
        let unlock = "unable to validate sender: deposit and reserve is set to unlock soon";
        for round in [2u64, 4, 5, 6] {
            let err = with(&|s| s.withdraw_round = U256::from(round)).unwrap_err();
            assert_eq!(err.to_string(), unlock, "withdrawRound {round}");
            assert!(err.is_sender_validation());
        }
        for round in [0u64, 7, 100] {
            assert_eq!(
                with(&|s| s.withdraw_round = U256::from(round)),
                Ok(()),
                "withdrawRound {round}"
            );
        }
        assert_eq!(
            with(&|s| s.reserve = U256::ZERO).unwrap_err().to_string(),
            "no sender reserve"
        );
        assert_eq!(
            with(&|s| s.deposit = U256::ZERO).unwrap_err().to_string(),
            "no sender deposit"
        );
        // Reserve is checked before deposit.
        let err = with(&|s| {
            s.deposit = U256::ZERO;
            s.reserve = U256::ZERO
        });
        assert_eq!(err, Err(InvalidTicketParams::NoReserve));
    }

    #[test]
    fn missing_sender_info_only_matters_for_positive_ev() {
        let (mut chain, limits) = a7();
        chain.sender = None;
        assert_eq!(
            validate_ticket_params(&params(100, half(), 105), 1, &chain, &limits),
            Err(InvalidTicketParams::SenderInfoUnavailable)
        );
        assert_eq!(
            validate_ticket_params(&params(100, U256::ZERO, 105), 1, &chain, &limits),
            Ok(())
        );
        assert_eq!(
            validate_ticket_params(&params(0, MAX_WIN_PROB, 105), 1, &chain, &limits),
            Ok(())
        );
    }

    #[test]
    fn a7_face_value_versus_deposit() {
        let (mut chain, limits) = a7();
        let set_deposit = |chain: &mut ChainInputs, d: u64| {
            chain.sender.as_mut().unwrap().deposit = U256::from(d);
        };
        // faceValue 199, winProb ½ (EV 99.5): deposit 399 / 2 = 199.
        set_deposit(&mut chain, 399);
        assert_eq!(
            validate_ticket_params(&params(199, half(), 105), 1, &chain, &limits),
            Ok(())
        );
        // deposit 400 / 2 = 200, faceValue 200: equality accepted.
        set_deposit(&mut chain, 400);
        assert_eq!(
            validate_ticket_params(&params(200, half(), 105), 1, &chain, &limits),
            Ok(())
        );
        set_deposit(&mut chain, 397);
        let err = validate_ticket_params(&params(199, half(), 105), 1, &chain, &limits).unwrap_err();
        assert_eq!(err.to_string(), "ticket faceValue 199 > max faceValue 198");
        assert_eq!(
            err,
            InvalidTicketParams::FaceValueTooHigh {
                face_value: U256::from(199),
                max_face_value: U256::from(198)
            }
        );
    }

    #[test]
    fn ev_limits_and_messages() {
        let (mut chain, mut limits) = a7();
        chain.sender.as_mut().unwrap().deposit = U256::from(400);
        // EV of 199 × ⌊max/2⌋ / max is just under 99.5.
        let p = params(199, half(), 105);
        limits.max_ticket_ev = Rat::from_integer(50);
        let err = validate_ticket_params(&p, 1, &chain, &limits).unwrap_err();
        assert_eq!(err.to_string(), "ticket EV 99.50000 > max ticket EV 50.00000");
        // Equality with the max ticket EV is accepted.
        limits.max_ticket_ev = p.ev();
        assert_eq!(validate_ticket_params(&p, 1, &chain, &limits), Ok(()));
        limits.max_ticket_ev = Rat::from_integer(100);
        limits.max_total_ev = Rat::parse("297.5").unwrap();
        let err = validate_ticket_params(&p, 3, &chain, &limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "total ticket EV 298.50000 for 3 tickets > max total ticket EV 297.50000"
        );
        // Equality with the max total EV is accepted.
        limits.max_total_ev = &p.ev() * &Rat::from_integer(3);
        assert_eq!(validate_ticket_params(&p, 3, &chain, &limits), Ok(()));
        assert!(validate_ticket_params(&p, 4, &chain, &limits).is_err());
        // The go-livepeer defaults.
        let d = Limits::default();
        assert_eq!(d.max_ticket_ev.float_string(5), "3000000000000.00000");
        assert_eq!(d.max_total_ev.rat_string(), "20000000000000");
        assert_eq!(d.deposit_multiplier.get(), 1);
    }

    #[test]
    fn chain_inputs_from_a_snapshot() {
        use crate::chain::{BlockInfo, Contracts};
        let signer = Address::from_bytes([0x96; 20]);
        let snapshot = Snapshot {
            chain_id: 42161,
            contracts: Contracts {
                controller: alloy_primitives::Address::ZERO,
                ticket_broker: alloy_primitives::Address::ZERO,
                rounds_manager: alloy_primitives::Address::ZERO,
            },
            sender_address: alloy_primitives::Address::from([0x96; 20]),
            sender: SenderInfo {
                deposit: U256::from(300),
                ..Default::default()
            },
            last_initialized_round: U256::from(1619),
            round_block_hash: B256::repeat_byte(0xf3),
            block: BlockInfo {
                number: 9_000_000,
                hash: B256::ZERO,
                timestamp: 0,
                l1_block: 100,
            },
            taken_at: std::time::Instant::now(),
            taken_at_unix_ms: 0,
        };
        let c = ChainInputs::from_snapshot(&snapshot, signer);
        assert_eq!(c.last_seen_l1_block, U256::from(100));
        assert_eq!(c.sender.unwrap().deposit, U256::from(300));
        assert_eq!(
            c.own_expiration(),
            ExpirationParams {
                creation_round: 1619,
                creation_round_block_hash: B256::repeat_byte(0xf3)
            }
        );
        let other = ChainInputs::from_snapshot(&snapshot, Address::from_bytes([1; 20]));
        assert_eq!(other.sender, None);
    }

    #[test]
    fn conversion_from_proto() {
        let wire = proto::TicketParams {
            recipient: [vec![0xff; 4], vec![0x73; 20]].concat(),
            face_value: vec![0, 0, 0x03, 0xe8],
            win_prob: vec![],
            recipient_rand_hash: vec![0x01, 0x02],
            seed: vec![0; 40],
            expiration_block: vec![0x01, 0x00],
            expiration_params: None,
        };
        let p = TicketParams::from_proto(&wire).unwrap();
        assert_eq!(p.recipient, Address::from_bytes([0x73; 20]));
        assert_eq!(p.face_value, U256::from(1000));
        assert_eq!(p.win_prob, U256::ZERO);
        let mut rrh = [0u8; 32];
        rrh[30..].copy_from_slice(&[1, 2]);
        assert_eq!(p.recipient_rand_hash, B256::from(rrh));
        assert_eq!(p.seed, U256::ZERO);
        assert_eq!(p.expiration_block, U256::from(256));
        assert_eq!(p.expiration_params, ExpirationParams::default());
        // Short recipient: left-padded.
        let short = proto::TicketParams {
            recipient: vec![0xab],
            expiration_params: Some(proto::TicketExpirationParams {
                creation_round: 1619,
                creation_round_block_hash: vec![0xcd; 33],
            }),
            ..Default::default()
        };
        let p = TicketParams::from_proto(&short).unwrap();
        let mut a = [0u8; 20];
        a[19] = 0xab;
        assert_eq!(p.recipient, Address::from_bytes(a));
        assert_eq!(p.expiration_params.creation_round, 1619);
        assert_eq!(
            p.expiration_params.creation_round_block_hash,
            B256::repeat_byte(0xcd)
        );
        // Wider than 256 bits.
        let wide = proto::TicketParams {
            face_value: [vec![1], vec![0; 32]].concat(),
            ..Default::default()
        };
        let err = TicketParams::from_proto(&wide).unwrap_err();
        assert_eq!(
            err,
            TicketParamsError::TooLarge {
                field: "face_value",
                len: 33
            }
        );
        assert_eq!(
            err.to_string(),
            "ticketParams face_value does not fit in 256 bits (33 bytes)"
        );
    }

    #[test]
    fn payment_ticket_params_are_minimal_and_without_expiration() {
        let mut p = params(1000, U256::ZERO, 256);
        p.expiration_params = ExpirationParams {
            creation_round: 5,
            creation_round_block_hash: B256::repeat_byte(9),
        };
        p.seed = U256::ZERO;
        let wire = p.to_payment_proto();
        assert_eq!(wire.recipient, vec![0x73; 20]);
        assert_eq!(wire.face_value, vec![0x03, 0xe8]);
        assert!(wire.win_prob.is_empty() && wire.seed.is_empty());
        assert_eq!(wire.expiration_block, vec![0x01, 0x00]);
        assert_eq!(wire.recipient_rand_hash, vec![0x11; 32]);
        assert!(wire.expiration_params.is_none());
        let mut expected = vec![0x0a, 20];
        expected.extend([0x73; 20]);
        expected.extend([0x12, 2, 0x03, 0xe8, 0x22, 32]);
        expected.extend([0x11; 32]);
        expected.extend([0x32, 2, 0x01, 0x00]);
        assert_eq!(wire.encode_to_vec(), expected);
        assert_eq!(
            p.effective_expiration(ExpirationParams::default()).to_proto(),
            proto::TicketExpirationParams {
                creation_round: 5,
                creation_round_block_hash: vec![9; 32]
            }
        );
    }

    #[test]
    fn effective_expiration_falls_back_unless_both_set() {
        let own = ExpirationParams {
            creation_round: 42,
            creation_round_block_hash: B256::repeat_byte(0x42),
        };
        let mut p = params(1, U256::ZERO, 1);
        assert_eq!(p.effective_expiration(own), own);
        p.expiration_params.creation_round = 7;
        assert_eq!(p.effective_expiration(own), own);
        p.expiration_params = ExpirationParams {
            creation_round: 0,
            creation_round_block_hash: B256::repeat_byte(1),
        };
        assert_eq!(p.effective_expiration(own), own);
        p.expiration_params.creation_round = 7;
        assert_eq!(p.effective_expiration(own), p.expiration_params);
        let t = p.ticket(Address::from_bytes([0x96; 20]), 3, p.effective_expiration(own));
        assert_eq!(t.sender_nonce, 3);
        assert_eq!(t.creation_round, 7);
        assert_eq!(t.recipient, p.recipient);
    }
}
