//! The eth1 (Web3Signer-compatible) conformance suite, written against any
//! `Signer` so it runs over the keystore backend and over SoftHSM2.
#![allow(dead_code)]

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use livepeer_signer::access::Caller;
use livepeer_signer::config::Web3SignerConfig;
use livepeer_signer::eth::{hex, keccak256, recover_digest, verify_sig, Address};
use livepeer_signer::signer::Signer;
use livepeer_signer::web3signer::policy::Policy;
use livepeer_signer::web3signer::Web3Signer;
use serde_json::{json, Value};

/// TicketBroker on Arbitrum One (an allowlisted recipient in the tests).
pub const TICKET_BROKER: &str = "0xa8bB618B1520E284046F3dFc448851A1Ff26e41B";
/// EIP-712 specification's Mail example.
pub fn mail_typed_data() -> Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
            "Mail": [
                {"name": "from", "type": "Person"},
                {"name": "to", "type": "Person"},
                {"name": "contents", "type": "string"}
            ]
        },
        "primaryType": "Mail",
        "domain": {
            "name": "Ether Mail",
            "version": "1",
            "chainId": 1,
            "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
        },
        "message": {
            "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    })
}
/// The Mail example's EIP-712 digest, from the specification.
pub const MAIL_DIGEST: &str = "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2";

pub fn policy() -> Policy {
    Policy::from_config(&Web3SignerConfig {
        enabled: true,
        chain_ids: vec![42161],
        allowed_to: vec![TICKET_BROKER.parse().unwrap()],
        max_value_wei: alloy_primitives::U256::from(1_000_000_000_000_000_000u64),
        allow_contract_creation: false,
        allow_raw_sign: true,
    })
}

pub async fn call(w: &Web3Signer, caller: &Caller, method: &str, params: Value) -> Value {
    let req = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let resp = w.handle_rpc(req.to_string().as_bytes(), caller).await.unwrap();
    assert_eq!(resp["jsonrpc"], "2.0");
    assert_eq!(resp["id"], 7);
    resp
}

pub fn result_hex(resp: &Value) -> Vec<u8> {
    let s = resp["result"]
        .as_str()
        .unwrap_or_else(|| panic!("no result: {resp}"));
    assert!(s.starts_with("0x"));
    hex::decode(s).unwrap()
}

pub fn error_code(resp: &Value) -> i64 {
    resp["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error: {resp}"))
}

/// go-livepeer's client sequence and every signing method, checked with the
/// go-livepeer verifier and alloy's decoder. Randomised backends (HSMs) are
/// verified, not compared byte for byte.
pub async fn conformance(signer: Signer) {
    let me = signer.address();
    let w = Web3Signer::new(signer, policy());
    let caller = Caller::anonymous();

    // eth_accounts
    let r = call(&w, &caller, "eth_accounts", json!([])).await;
    assert_eq!(r["result"], json!([me.to_lower_hex()]));

    // eth_sign over a 32-byte ticket hash (vectors.md A5 style) and over a state JSON blob.
    let ticket_hash =
        hex::decode("d5104bbecf755deaa03acf83486f2414d749f5e9d98b9feb9a0ad3791413f7e4").unwrap();
    let state = br#"{"StateID":"s1","PMSessionID":"0xabc","LastUpdate":"2026-01-01T00:00:00Z","OrchestratorAddress":"0x0000000000000000000000000000000000000001","SenderNonce":0,"Balance":"0"}"#;
    for msg in [ticket_hash.as_slice(), state.as_slice()] {
        let r = call(
            &w,
            &caller,
            "eth_sign",
            json!([me.to_checksum(), hex::encode_0x(msg)]),
        )
        .await;
        let sig = result_hex(&r);
        assert_eq!(sig.len(), 65);
        verify_sig(&me, msg, &sig).expect("go-livepeer VerifySig accepts eth_sign");
    }

    // EIP-712: the specification's digest; the signature recovers to us.
    for (method, typed) in [
        ("eth_signTypedData", mail_typed_data()),
        (
            "eth_signTypedData_v4",
            Value::String(mail_typed_data().to_string()),
        ),
    ] {
        let r = call(&w, &caller, method, json!([me.to_lower_hex(), typed])).await;
        let sig = result_hex(&r);
        let digest = hex::decode_array::<32>(MAIL_DIGEST).unwrap();
        assert_eq!(recover_digest(&digest, &sig).unwrap(), me, "{method}");
    }

    // Transactions: legacy (EIP-155), EIP-2930, EIP-1559.
    let to: alloy_primitives::Address = TICKET_BROKER.parse().unwrap();
    let base = json!({
        "from": me.to_lower_hex(), "to": TICKET_BROKER, "gas": "0x5208", "value": "0x0de0b6b3a7640000",
        "nonce": "0x7", "data": "0xdeadbeef", "chainId": "0xa4b1"
    });
    let access_list = json!([{"address": TICKET_BROKER, "storageKeys": ["0x0000000000000000000000000000000000000000000000000000000000000003"]}]);
    let cases = [
        ("legacy", json!({"gasPrice": "0x3b9aca00"})),
        (
            "eip2930",
            json!({"gasPrice": "0x3b9aca00", "accessList": access_list}),
        ),
        (
            "eip1559",
            json!({"maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00"}),
        ),
    ];
    for (kind, fees) in cases {
        let mut args = base.clone();
        for (k, v) in fees.as_object().unwrap() {
            args[k] = v.clone();
        }
        let r = call(&w, &caller, "eth_signTransaction", json!([args])).await;
        let raw = result_hex(&r);
        let env = TxEnvelope::decode_2718(&mut raw.as_slice()).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(
            env.recover_signer().unwrap().0 .0,
            *me.as_bytes(),
            "{kind}: signer"
        );
        assert_eq!(env.chain_id(), Some(42161), "{kind}");
        assert_eq!(env.nonce(), 7, "{kind}");
        assert_eq!(env.gas_limit(), 21000, "{kind}");
        assert_eq!(env.to(), Some(to), "{kind}");
        assert_eq!(env.value(), alloy_primitives::U256::from(10u64.pow(18)), "{kind}");
        assert_eq!(env.input().as_ref(), &[0xde, 0xad, 0xbe, 0xef], "{kind}");
        match (kind, &env) {
            ("legacy", TxEnvelope::Legacy(t)) => assert_eq!(t.tx().gas_price, 1_000_000_000),
            ("eip2930", TxEnvelope::Eip2930(t)) => {
                assert_eq!(t.tx().gas_price, 1_000_000_000);
                assert_eq!(t.tx().access_list.0.len(), 1);
                assert_eq!(t.tx().access_list.0[0].storage_keys.len(), 1);
            }
            ("eip1559", TxEnvelope::Eip1559(t)) => {
                assert_eq!(t.tx().max_fee_per_gas, 2_000_000_000);
                assert_eq!(t.tx().max_priority_fee_per_gas, 1_000_000_000);
            }
            _ => panic!("{kind}: wrong envelope type {:?}", env.tx_type()),
        }
    }

    // Raw signing: keccak256(data), no prefix.
    let data = b"raw payload";
    let body = format!("{{\"data\":\"{}\"}}", hex::encode_0x(data));
    let sig = w
        .raw_sign_request(&Caller::anonymous(), &me.to_checksum(), body.as_bytes())
        .await
        .unwrap();
    assert_eq!(recover_digest(&keccak256(data), sig.as_bytes()).unwrap(), me);
    assert!(w.matches_identifier(&w.public_key_hex()));
    assert!(w.matches_identifier(&me.to_checksum()));
    assert!(!w.matches_identifier(&Address::ZERO.to_lower_hex()));
}
