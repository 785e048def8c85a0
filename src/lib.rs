//! livepeer-signer: a remote signer for go-livepeer gateways.
//!
//! Shape (see `ARCHITECTURE.md`):
//!
//! ```text
//! gateway ──HTTP──▶ server ──▶ livepeer payloads ──▶ Signer ──▶ KeyBackend
//!                   routes       what is signed      Ethereum     keystore | pkcs11 | aws-kms
//!                                                    rules        (raw r, s only)
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chain;
pub mod cli;
pub mod commands;
pub mod config;
pub mod eth;
pub mod keys;
pub mod livepeer;
pub mod metrics;
pub mod server;
pub mod signer;
pub mod web3signer;
