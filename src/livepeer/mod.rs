//! Livepeer payloads: which bytes are signed for which protocol message.
//! They ask the [`crate::signer::Signer`] for signatures and never touch a backend.

pub mod discovery;
pub mod orch_info;
pub mod payment;
pub mod proto;
