//! livepeer-signer: a remote signer for go-livepeer gateways.
//!
//! Shape (see `ARCHITECTURE.md`):
//!
//! ```text
//! gateway ──HTTP──▶ server ──▶ livepeer payloads ──▶ Signer ──▶ KeyBackend
//!                   routes       what is signed      Ethereum     keystore | pkcs11 | aws-kms
//!                   access                           rules        (raw r, s only)
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod chain;
mod cli;
mod commands;
pub mod config;
pub mod eth;
pub mod keys;
pub mod livepeer;
mod metrics;
pub mod net;
pub mod secret;
pub mod server;
pub mod signer;
pub mod web3signer;

pub use cli::Cli;
pub use commands::{run, Failure, EXIT_CONFIG, EXIT_RUNTIME};
