//! Transactions for `eth_signTransaction`: geth's `SendTxArgs` in, a typed
//! alloy transaction, its signing hash, and the signed EIP-2718 bytes out.
//!
//! * `gasPrice` without `accessList`: legacy with EIP-155 replay protection;
//! * `gasPrice` with `accessList`: EIP-2930 (type 1);
//! * `maxFeePerGas` + `maxPriorityFeePerGas`: EIP-1559 (type 2).
//!
//! RLP and hashing are alloy's; nothing here encodes by hand.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Bytes, TxKind, U256};
use serde::Deserialize;

use super::{Address, RecoverableSignature};

/// geth's `SendTxArgs` (JSON, camelCase, hex quantities).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TxArgs {
    /// Sender; must be the signer's address.
    pub from: Address,
    /// Recipient; absent for contract creation.
    #[serde(default)]
    pub to: Option<alloy_primitives::Address>,
    /// Gas limit.
    pub gas: Option<U256>,
    /// Legacy / EIP-2930 gas price.
    pub gas_price: Option<U256>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: Option<U256>,
    /// EIP-1559 tip cap.
    pub max_priority_fee_per_gas: Option<U256>,
    /// Wei transferred.
    pub value: Option<U256>,
    /// Sender nonce.
    pub nonce: Option<U256>,
    /// Calldata (`data`, geth's older name).
    pub data: Option<Bytes>,
    /// Calldata (`input`).
    pub input: Option<Bytes>,
    /// EIP-155 chain id.
    pub chain_id: Option<U256>,
    /// EIP-2930 access list.
    pub access_list: Option<AccessList>,
}

/// An unsigned transaction of one of the supported types.
#[derive(Debug, Clone, PartialEq)]
pub enum UnsignedTx {
    /// Legacy with EIP-155.
    Legacy(TxLegacy),
    /// EIP-2930.
    Eip2930(TxEip2930),
    /// EIP-1559.
    Eip1559(TxEip1559),
}

/// Why `SendTxArgs` cannot become a transaction (a JSON-RPC invalid-params error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TxError(String);

fn required(v: Option<U256>, name: &str) -> Result<U256, TxError> {
    v.ok_or_else(|| TxError(format!("`{name}` is required")))
}

fn to_u64(v: U256, name: &str) -> Result<u64, TxError> {
    u64::try_from(v).map_err(|_| TxError(format!("`{name}` does not fit in 64 bits")))
}

fn to_u128(v: U256, name: &str) -> Result<u128, TxError> {
    u128::try_from(v).map_err(|_| TxError(format!("`{name}` does not fit in 128 bits")))
}

impl TxArgs {
    /// The calldata, reconciling `data` and `input` as geth does (both set
    /// must be equal).
    fn calldata(&self) -> Result<Bytes, TxError> {
        match (&self.data, &self.input) {
            (Some(d), Some(i)) if d != i => Err(TxError(
                "both `data` and `input` are set and differ; send only `input`".into(),
            )),
            (Some(d), _) => Ok(d.clone()),
            (None, Some(i)) => Ok(i.clone()),
            (None, None) => Ok(Bytes::new()),
        }
    }

    /// The chain id (required: every transaction is replay-protected).
    pub fn chain_id(&self) -> Result<u64, TxError> {
        to_u64(required(self.chain_id, "chainId")?, "chainId")
    }

    /// Builds the unsigned transaction; the type follows from the fee fields.
    pub fn build(&self) -> Result<UnsignedTx, TxError> {
        let chain_id = self.chain_id()?;
        let nonce = to_u64(required(self.nonce, "nonce")?, "nonce")?;
        let gas_limit = to_u64(required(self.gas, "gas")?, "gas")?;
        let to = self.to.map_or(TxKind::Create, TxKind::Call);
        let value = self.value.unwrap_or_default();
        let input = self.calldata()?;
        match (self.gas_price, self.max_fee_per_gas, self.max_priority_fee_per_gas) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(TxError(
                "set either `gasPrice` (legacy/EIP-2930) or `maxFeePerGas` + `maxPriorityFeePerGas` (EIP-1559), not both".into(),
            )),
            (Some(gp), None, None) => {
                let gas_price = to_u128(gp, "gasPrice")?;
                Ok(match &self.access_list {
                    None => UnsignedTx::Legacy(TxLegacy {
                        chain_id: Some(chain_id),
                        nonce,
                        gas_price,
                        gas_limit,
                        to,
                        value,
                        input,
                    }),
                    Some(list) => UnsignedTx::Eip2930(TxEip2930 {
                        chain_id,
                        nonce,
                        gas_price,
                        gas_limit,
                        to,
                        value,
                        access_list: list.clone(),
                        input,
                    }),
                })
            }
            (None, Some(max_fee), Some(tip)) => Ok(UnsignedTx::Eip1559(TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: to_u128(max_fee, "maxFeePerGas")?,
                max_priority_fee_per_gas: to_u128(tip, "maxPriorityFeePerGas")?,
                to,
                value,
                access_list: self.access_list.clone().unwrap_or_default(),
                input,
            })),
            (None, Some(_), None) | (None, None, Some(_)) => Err(TxError(
                "EIP-1559 needs both `maxFeePerGas` and `maxPriorityFeePerGas`".into(),
            )),
            (None, None, None) => Err(TxError(
                "set `gasPrice` (legacy/EIP-2930) or `maxFeePerGas` + `maxPriorityFeePerGas` (EIP-1559)".into(),
            )),
        }
    }
}

impl UnsignedTx {
    /// The 32-byte hash the sender signs (keccak256 of the signing encoding:
    /// EIP-155 RLP for legacy, `type ‖ RLP` for typed transactions).
    pub fn signing_hash(&self) -> [u8; 32] {
        match self {
            UnsignedTx::Legacy(t) => t.signature_hash().0,
            UnsignedTx::Eip2930(t) => t.signature_hash().0,
            UnsignedTx::Eip1559(t) => t.signature_hash().0,
        }
    }

    /// Recipient (`None` for contract creation).
    pub fn to(&self) -> Option<alloy_primitives::Address> {
        let kind = match self {
            UnsignedTx::Legacy(t) => t.to,
            UnsignedTx::Eip2930(t) => t.to,
            UnsignedTx::Eip1559(t) => t.to,
        };
        kind.to().copied()
    }

    /// Wei transferred.
    pub fn value(&self) -> U256 {
        match self {
            UnsignedTx::Legacy(t) => t.value,
            UnsignedTx::Eip2930(t) => t.value,
            UnsignedTx::Eip1559(t) => t.value,
        }
    }

    /// The signed transaction in its network (EIP-2718) encoding, given a
    /// signature over [`UnsignedTx::signing_hash`]. The 27/28 `v` becomes
    /// the y-parity alloy encodes (EIP-155 `v` for legacy).
    pub fn encode_signed(self, sig: &RecoverableSignature) -> Vec<u8> {
        let b = sig.as_bytes();
        let signature = alloy_primitives::Signature::new(
            U256::from_be_slice(&b[..32]),
            U256::from_be_slice(&b[32..64]),
            b[64] == 28,
        );
        let envelope: TxEnvelope = match self {
            UnsignedTx::Legacy(t) => t.into_signed(signature).into(),
            UnsignedTx::Eip2930(t) => t.into_signed(signature).into(),
            UnsignedTx::Eip1559(t) => t.into_signed(signature).into(),
        };
        envelope.encoded_2718()
    }
}
