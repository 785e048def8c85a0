//! A Web3Signer-compatible eth1 API (for go-livepeer's `-ethExternalSigner`),
//! with a signing policy and per-token scopes.
//!
//! JSON-RPC 2.0 on `POST /` (single and batch):
//! * `eth_accounts` → `["0x<address>"]`;
//! * `eth_sign [address, "0x<data>"]` → signature over `TextHash(data)`
//!   (EIP-191), `0x` + 130 hex, `v ∈ {27, 28}` (go-livepeer's `Eth.Sign`);
//! * `eth_signTypedData[_v4] [address, typedData]` → signature over the
//!   EIP-712 digest, same format;
//! * `eth_signTransaction [txArgs]` → the signed raw transaction (EIP-2718
//!   bytes as `0x` hex), after the [`policy::Policy`] allows it.
//!
//! Error codes: the JSON-RPC ones (`-32700`, `-32600`, `-32601`, `-32602`),
//! plus [`CODE_SIGNING_FAILED`], [`CODE_POLICY`] and [`CODE_SCOPE`].

pub mod policy;

use serde_json::{json, Value};

use crate::access::{record_refusal, Caller, Scope};
use crate::eth::tx::TxArgs;
use crate::eth::typed_data::eip712_digest;
use crate::eth::{hex, Address, RecoverableSignature};
use crate::signer::Signer;
use policy::{Policy, Refusal};

/// Signing failed, or the request names an account this signer does not hold.
pub const CODE_SIGNING_FAILED: i64 = -32000;
/// Refused by the `[web3signer]` policy (`data.rule` names the rule).
pub const CODE_POLICY: i64 = -32001;
/// The bearer token lacks the scope (`data.scope` names it).
pub const CODE_SCOPE: i64 = -32003;
/// Largest batch accepted.
pub const MAX_BATCH: usize = 100;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// Error code.
    pub code: i64,
    /// Message.
    pub message: String,
    /// Optional structured data.
    pub data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(-32602, message)
    }

    fn to_json(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if let Some(d) = &self.data {
            e["data"] = d.clone();
        }
        e
    }
}

/// Records a policy or scope refusal (audit line and metric, see
/// [`record_refusal`]) as a JSON-RPC error.
pub fn refuse(caller: &Caller, what: &str, r: Refusal) -> RpcError {
    record_refusal(caller, what, r.rule, &r.message);
    RpcError {
        code: if r.rule == "scope" {
            CODE_SCOPE
        } else {
            CODE_POLICY
        },
        message: r.message,
        data: Some(json!({ "rule": r.rule })),
    }
}

/// Requires `scope` of `caller`.
pub fn require_scope(caller: &Caller, scope: Scope, what: &str) -> Result<(), RpcError> {
    let missing = caller.require(scope).err();
    let Some(missing) = missing else { return Ok(()) };
    let mut e = refuse(
        caller,
        what,
        Refusal {
            rule: "scope",
            message: missing.to_string(),
        },
    );
    e.data = Some(json!({ "rule": "scope", "scope": scope.as_str() }));
    Err(e)
}

/// Why `POST /api/v1/eth1/sign/{identifier}` signed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawSignError {
    /// The token lacks `raw_sign`, or `allow_raw_sign = false` (recorded).
    #[error("{0}")]
    Forbidden(String),
    /// The identifier names no key of this signer.
    #[error("no key for identifier {0}: see GET /api/v1/eth1/publicKeys")]
    UnknownKey(String),
    /// The body is not `{"data": "0x<hex>"}`.
    #[error("body must be {{\"data\": \"0x<hex>\"}}: {0}")]
    BadBody(String),
    /// Signing failed.
    #[error("{0}")]
    Failed(String),
}

#[derive(serde::Deserialize)]
struct RawSignBody {
    data: String,
}

/// The eth1 API over one signer.
#[derive(Debug, Clone)]
pub struct Web3Signer {
    signer: Signer,
    policy: Policy,
}

impl Web3Signer {
    /// An API for `signer` under `policy`.
    pub fn new(signer: Signer, policy: Policy) -> Self {
        Web3Signer { signer, policy }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Handles a JSON-RPC body (single or batch). `None` means "no response"
    /// (only notifications were sent).
    pub async fn handle_rpc(&self, body: &[u8], caller: &Caller) -> Option<Value> {
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return Some(response(
                    Value::Null,
                    Err(RpcError::new(-32700, format!("parse error: {e}"))),
                ))
            }
        };
        match parsed {
            Value::Array(items) if items.is_empty() => Some(response(
                Value::Null,
                Err(RpcError::new(-32600, "invalid request: empty batch")),
            )),
            Value::Array(items) if items.len() > MAX_BATCH => Some(response(
                Value::Null,
                Err(RpcError::new(
                    -32600,
                    format!("invalid request: batch of {} exceeds {MAX_BATCH}", items.len()),
                )),
            )),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(r) = self.handle_one(item, caller).await {
                        out.push(r);
                    }
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
            other => self.handle_one(other, caller).await,
        }
    }

    async fn handle_one(&self, req: Value, caller: &Caller) -> Option<Value> {
        let Value::Object(obj) = req else {
            return Some(response(
                Value::Null,
                Err(RpcError::new(-32600, "invalid request: not an object")),
            ));
        };
        let id = obj.get("id").cloned();
        let valid_id = matches!(id, None | Some(Value::Null | Value::Number(_) | Value::String(_)));
        let reply_id = if valid_id {
            id.clone().unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        if !valid_id || obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
            return Some(response(
                reply_id,
                Err(RpcError::new(
                    -32600,
                    "invalid request: need \"jsonrpc\": \"2.0\", a string \"method\" and a number/string id",
                )),
            ));
        }
        let Some(Value::String(method)) = obj.get("method") else {
            return Some(response(
                reply_id,
                Err(RpcError::new(
                    -32600,
                    "invalid request: \"method\" must be a string",
                )),
            ));
        };
        let params = match obj.get("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => {
                return Some(response(
                    reply_id,
                    Err(RpcError::invalid_params("params must be an array")),
                ));
            }
        };
        let result = self.call(method, &params, caller).await;
        id.map(|id| response(id, result))
    }

    async fn call(&self, method: &str, params: &[Value], caller: &Caller) -> Result<Value, RpcError> {
        match method {
            "eth_accounts" => Ok(json!([self.signer.address().to_lower_hex()])),
            "eth_sign" => {
                require_scope(caller, Scope::EthSign, method)?;
                let [address, data] = params else {
                    return Err(RpcError::invalid_params("eth_sign takes [address, data]"));
                };
                self.check_account(address)?;
                let data = data
                    .as_str()
                    .ok_or_else(|| RpcError::invalid_params("data must be a 0x-prefixed hex string"))
                    .and_then(|s| {
                        if !s.starts_with("0x") {
                            return Err(RpcError::invalid_params("data must be a 0x-prefixed hex string"));
                        }
                        hex::decode(s).map_err(|e| RpcError::invalid_params(format!("data: {e}")))
                    })?;
                let sig = self.signer.sign_text(&data).await.map_err(sign_failed)?;
                audit(caller, method, &sig);
                Ok(json!(sig.to_hex()))
            }
            "eth_signTypedData" | "eth_signTypedData_v4" => {
                require_scope(caller, Scope::EthSignTypedData, method)?;
                let [address, typed] = params else {
                    return Err(RpcError::invalid_params(format!(
                        "{method} takes [address, typedData]"
                    )));
                };
                self.check_account(address)?;
                let digest = eip712_digest(typed).map_err(|e| RpcError::invalid_params(e.to_string()))?;
                let sig = self.signer.sign_digest(&digest).await.map_err(sign_failed)?;
                audit(caller, method, &sig);
                Ok(json!(sig.to_hex()))
            }
            "eth_signTransaction" => {
                require_scope(caller, Scope::EthSignTransaction, method)?;
                let [args] = params else {
                    return Err(RpcError::invalid_params("eth_signTransaction takes [txArgs]"));
                };
                let args: TxArgs = serde_json::from_value(args.clone())
                    .map_err(|e| RpcError::invalid_params(format!("txArgs: {e}")))?;
                self.check_address(&args.from)?;
                let chain_id = args
                    .chain_id()
                    .map_err(|e| RpcError::invalid_params(e.to_string()))?;
                let tx = args
                    .build()
                    .map_err(|e| RpcError::invalid_params(e.to_string()))?;
                self.policy
                    .check_tx(chain_id, &tx)
                    .map_err(|r| refuse(caller, method, r))?;
                let sig = self
                    .signer
                    .sign_digest(&tx.signing_hash())
                    .await
                    .map_err(sign_failed)?;
                audit(caller, method, &sig);
                Ok(json!(hex::encode_0x(tx.encode_signed(&sig))))
            }
            other => Err(RpcError::new(-32601, format!("method not found: {other}"))),
        }
    }

    fn check_account(&self, v: &Value) -> Result<(), RpcError> {
        let s = v
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("address must be a hex string"))?;
        let a: Address = s
            .parse()
            .map_err(|e| RpcError::invalid_params(format!("address {s:?}: {e}")))?;
        self.check_address(&a)
    }

    fn check_address(&self, a: &Address) -> Result<(), RpcError> {
        if *a == self.signer.address() {
            Ok(())
        } else {
            Err(RpcError::new(
                CODE_SIGNING_FAILED,
                format!(
                    "no key for address {a}: this signer holds {}",
                    self.signer.address()
                ),
            ))
        }
    }

    /// Does `identifier` (uncompressed public key hex, with or without the
    /// `04` prefix, or the address) name this signer's key?
    pub fn matches_identifier(&self, identifier: &str) -> bool {
        let point = self.signer.public_key().to_encoded_point(false);
        let Ok(bytes) = hex::decode(identifier) else {
            return false;
        };
        match bytes.len() {
            65 => bytes == point.as_bytes(),
            64 => bytes == point.as_bytes()[1..],
            20 => bytes == self.signer.address().as_bytes(),
            _ => false,
        }
    }

    /// `0x04…`: the uncompressed public key, as `/api/v1/eth1/publicKeys` lists it.
    pub fn public_key_hex(&self) -> String {
        hex::encode_0x(self.signer.public_key().to_encoded_point(false).as_bytes())
    }

    /// `POST /api/v1/eth1/sign/{identifier}` with `{"data": "0x…"}`: after
    /// the scope `raw_sign`, the policy (`allow_raw_sign`) and the
    /// identifier, signs `keccak256(data)` with **no** prefix; `r‖s‖v`,
    /// `v ∈ {27, 28}`.
    pub async fn raw_sign_request(
        &self,
        caller: &Caller,
        identifier: &str,
        body: &[u8],
    ) -> Result<RecoverableSignature, RawSignError> {
        const WHAT: &str = "/api/v1/eth1/sign";
        require_scope(caller, Scope::RawSign, WHAT).map_err(|e| RawSignError::Forbidden(e.message))?;
        self.policy
            .check_raw()
            .map_err(|r| RawSignError::Forbidden(refuse(caller, WHAT, r).message))?;
        if !self.matches_identifier(identifier) {
            return Err(RawSignError::UnknownKey(identifier.to_string()));
        }
        let data = serde_json::from_slice::<RawSignBody>(body)
            .map_err(|e| RawSignError::BadBody(e.to_string()))
            .and_then(|b| hex::decode(&b.data).map_err(|e| RawSignError::BadBody(format!("data: {e}"))))?;
        let sig = self
            .signer
            .sign_digest(&crate::eth::keccak256(&data))
            .await
            .map_err(|e| RawSignError::Failed(sign_failed(e).message))?;
        tracing::info!(target: "livepeer_signer::audit", event = "raw_sign", token = %caller.name, outcome = "ok");
        Ok(sig)
    }
}

fn sign_failed(e: crate::signer::SignError) -> RpcError {
    tracing::error!(error = %e, "signing failed");
    RpcError::new(CODE_SIGNING_FAILED, format!("signing failed: {e}"))
}

fn audit(caller: &Caller, method: &str, sig: &RecoverableSignature) {
    tracing::info!(
        target: "livepeer_signer::audit",
        event = "rpc",
        method,
        token = %caller.name,
        v = sig.v(),
        outcome = "ok",
    );
}

fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(r) => json!({ "jsonrpc": "2.0", "id": id, "result": r }),
        Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e.to_json() }),
    }
}
