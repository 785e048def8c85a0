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
