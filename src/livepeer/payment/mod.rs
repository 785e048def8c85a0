//! The pure building blocks of `POST /generate-live-payment`: no HTTP, no
//! key, no I/O.
//!
//! * [`rat`]: exact rationals with go-livepeer's `big.Rat` formatting and parsing.
//! * [`ticket`]: tickets, their hash and the digest the key signs.
//! * [`params`]: `OrchestratorInfo.ticket_params` conversion and `validateTicketParams`.
//! * [`state`]: the signed `RemotePaymentState` JSON, byte-identical to Go's.
//! * [`session`]: nonce base, `PMSessionID`, the refresh (480) check.
//! * [`price`]: billable units, `maxPrice`, ceilings, fee, ticket count and new balance.
//! * [`wire`]: `net.Payment` and `net.SegData` assembly, the segment-credential digest.
//!
//! The three digests the key signs per call, all 32 bytes, signed with
//! `Signer::sign_digest` into 65-byte `r‖s‖v` (low s, `v ∈ {27, 28}`):
//!
//! | what | digest | function |
//! |---|---|---|
//! | each ticket | `TextHash(keccak256(abi.encodePacked(ticket)))` | [`Ticket::digest`] |
//! | segment credentials | `TextHash(keccak256(Flatten))` | [`wire::seg_creds_digest`] |
//! | the new state | `TextHash(state JSON bytes)` | [`RemotePaymentState::digest`] |
//!
//! Spec §3.4 steps and where they live (the HTTP layer decodes the request,
//! maps errors to status codes and does the signing and the webhook):
//!
//! | step | function |
//! |---|---|
//! | 4–6 decode `OrchestratorInfo`, price and ticket-params presence | [`crate::livepeer::proto::OrchestratorInfo`] (prost) |
//! | 7 `BytesToAddress` | [`params::bytes_to_address`] |
//! | 8 parse the state (after verifying `Sig`) | [`RemotePaymentState::from_json`] |
//! | 11 ticket params | [`TicketParams::from_proto`] |
//! | 12 balance restore | [`RemotePaymentState::balance_rat`] |
//! | 13 nonce base (+ #4028 guard) | [`session::nonce_base`], [`session::nonce_refresh`] |
//! | 14 refresh check (480) | [`session::should_refresh`] |
//! | 15 billable units | [`price::elapsed_secs`], [`price::billable_units`] |
//! | 16 ceilings (481) | [`price::parse_max_price`], [`price::check_price`] |
//! | 17 fee | [`price::fee`] |
//! | 18 ticket count (482 / 400) | [`stage_balance`] |
//! | 19 drift check, full validation, tickets | [`price::check_price_drift`], [`validate_ticket_params`], [`TicketParams::effective_expiration`], [`TicketParams::ticket`] |
//! | 19–20 payloads | [`wire::payment`], [`wire::seg_data`] |
//! | 21 new state | [`RemotePaymentState::set_balance`], [`session::pm_session_id`] |
//! | 24 state bytes | [`RemotePaymentState::to_json`] |

pub mod params;
pub mod price;
pub mod rat;
pub mod session;
pub mod state;
pub mod ticket;
pub mod wire;

pub use params::{
    validate_ticket_params, ChainInputs, InvalidTicketParams, Limits, SenderInfo, TicketParams,
};
pub use price::{stage_balance, BalanceUpdate, PaymentType, TicketCountError};
pub use rat::{Rat, RatParseError};
pub use state::{GoTime, RemotePaymentState, StateError};
pub use ticket::{recipient_rand_hash, ticket_ev, win_prob_rat, Ticket, MAX_WIN_PROB};
