//! The OrchestratorInfo signature served by `POST /sign-orchestrator-info`.
//!
//! go-livepeer's `Broadcaster.Sign(m)` is `Eth.Sign(keccak256(m))`; for the
//! OrchestratorInfo request `m` is the ASCII of the signer's EIP-55 address.
//! So the 32-byte digest signed is
//!
//! `TextHash(keccak256(ASCII(EIP-55(address))))`, TextHash's length field being `"32"`,
//!
//! and the wire form is `r‖s‖v` (65 bytes, low-s, `v ∈ {27, 28}`). It does
//! not depend on the request, so it is computed once at startup and served
//! from memory.

use bytes::Bytes;
use serde::Serialize;

use crate::eth::{keccak256, text_hash, Address, RecoverableSignature};
use crate::signer::{SignError, Signer};

/// The message go-livepeer hashes with keccak256 before `Eth.Sign`: the
/// ASCII bytes of the EIP-55 address (42 bytes).
pub fn message(address: &Address) -> String {
    address.to_checksum()
}

/// The 32-byte digest the key signs: `TextHash(keccak256(message))`.
pub fn digest(address: &Address) -> [u8; 32] {
    text_hash(keccak256(message(address).as_bytes()))
}

/// A signed OrchestratorInfo credential and its exact HTTP response body.
#[derive(Debug, Clone)]
pub struct OrchInfoSignature {
    address: Address,
    /// `address` in EIP-55 form (computed once; it goes in every audit line).
    checksum: String,
    signature: RecoverableSignature,
    /// Shared, immutable: each response clones a reference, not the bytes.
    body: Bytes,
}

/// JSON body in go-livepeer's field order (sorted: `address`, `signature`).
#[derive(Serialize)]
struct Body<'a> {
    address: &'a str,
    signature: &'a str,
}

impl OrchInfoSignature {
    /// Signs the OrchestratorInfo digest with `signer` (self-checked by the Signer).
    pub async fn create(signer: &Signer) -> Result<Self, SignError> {
        let address = signer.address();
        let signature = signer.sign_digest(&digest(&address)).await?;
        Ok(Self::from_parts(address, signature))
    }

    /// Assembles the response for a known signature.
    pub fn from_parts(address: Address, signature: RecoverableSignature) -> Self {
        let checksum = address.to_checksum();
        let hex = signature.to_hex();
        let mut body = serde_json::to_vec(&Body {
            address: &checksum,
            signature: &hex,
        })
        .expect("two strings always serialise");
        // Go's json.Encoder terminates every value with a newline.
        body.push(b'\n');
        OrchInfoSignature {
            address,
            checksum,
            signature,
            body: Bytes::from(body),
        }
    }

    /// The signer address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The signer address in EIP-55 form, with `0x`.
    pub fn address_checksum(&self) -> &str {
        &self.checksum
    }

    /// The 65-byte signature.
    pub fn signature(&self) -> &RecoverableSignature {
        &self.signature
    }

    /// `{"address":"<EIP-55>","signature":"0x<130 hex>"}\n`, byte-exact.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// [`Self::body`] as a reference-counted buffer (a clone copies no bytes).
    pub fn body_bytes(&self) -> Bytes {
        self.body.clone()
    }
}
