//! EIP-712 typed structured data: the digest `keccak256(0x19 ‖ 0x01 ‖
//! domainSeparator ‖ hashStruct(message))`, computed by alloy.

use alloy_dyn_abi::TypedData;

/// Why typed data could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("invalid EIP-712 typed data: {0}")]
pub struct TypedDataError(String);

/// The EIP-712 signing digest of `value`: the typed-data JSON object
/// (`types`, `primaryType`, `domain`, `message`) or a JSON string holding it,
/// as `eth_signTypedData_v4` callers send either.
pub fn eip712_digest(value: &serde_json::Value) -> Result<[u8; 32], TypedDataError> {
    let typed: TypedData = match value {
        serde_json::Value::String(s) => serde_json::from_str(s),
        other => serde_json::from_value(other.clone()),
    }
    .map_err(|e| TypedDataError(e.to_string()))?;
    let hash = typed
        .eip712_signing_hash()
        .map_err(|e| TypedDataError(e.to_string()))?;
    Ok(hash.0)
}
