//! Pure Ethereum primitives: no I/O, no backends, no async.
//!
//! * [`address`]: 20-byte addresses, EIP-55 display, lenient parsing.
//! * [`hash`]: keccak256 and the EIP-191 `personal_sign` text hash.
//! * [`signature`]: the 65-byte `r‖s‖v` signature and go-livepeer's
//!   `VerifySig` rules.
//! * [`hex`]: the one place that parses and prints hex.
//! * [`units`]: exact wei / ether amounts.

pub mod address;
pub mod hash;
pub mod hex;
pub mod signature;
pub mod tx;
pub mod typed_data;
pub mod units;

pub use address::{Address, AddressError};
pub use hash::{keccak256, text_hash};
pub(crate) use signature::secp;
pub use signature::{
    recover_digest, recover_digest_reference, verify_digest, verify_sig, RecoverableSignature, VerifyError,
};
