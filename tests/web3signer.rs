//! Issue 8: the Web3Signer-compatible eth1 API, its policy and token scopes.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use k256::ecdsa::SigningKey;
use livepeer_signer::access::{token_sha256, Caller, Scopes, Tokens};
use livepeer_signer::config::{AuthConfig, Scope, ServerConfig, TokenConfig};
use livepeer_signer::eth::{hex, keccak256, recover_digest, text_hash, Address};
use livepeer_signer::keys::keystore::KeystoreBackend;
use livepeer_signer::livepeer::orch_info::OrchInfoSignature;
use livepeer_signer::server::{self, AppState};
use livepeer_signer::signer::Signer;
use livepeer_signer::web3signer::{Web3Signer, CODE_POLICY, CODE_SCOPE, CODE_SIGNING_FAILED};
use serde_json::{json, Value};
use support::web3::{call, error_code, policy, result_hex, TICKET_BROKER};

fn signer(key: SigningKey) -> Signer {
    Signer::new(Box::new(KeystoreBackend::from_signing_key(key, "memory".into())))
}

fn c_signer() -> Signer {
    signer(support::c_key())
}

#[tokio::test]
async fn conformance_over_the_keystore_backend() {
    support::web3::conformance(c_signer()).await;
}

#[tokio::test]
async fn eth_sign_is_byte_identical_to_go_livepeers_keystore_sign() {
    let s = c_signer();
    let w = Web3Signer::new(s.clone(), policy());
    let msg = hex::decode("d5104bbecf755deaa03acf83486f2414d749f5e9d98b9feb9a0ad3791413f7e4").unwrap();
    let r = call(
        &w,
        &Caller::anonymous(),
        "eth_sign",
        json!([support::C_ADDRESS, hex::encode_0x(&msg)]),
    )
    .await;
    // go-livepeer's accountManager.Sign: secp256k1 RFC 6979 over TextHash(msg), v + 27.
    let (sig, recid) = support::c_key()
        .sign_prehash_recoverable(&text_hash(&msg))
        .unwrap();
    let mut want = sig.to_bytes().to_vec();
    want.push(27 + recid.to_byte());
    assert_eq!(result_hex(&r), want);
    assert_eq!(
        result_hex(&r),
        s.sign_text(&msg).await.unwrap().as_bytes().to_vec()
    );
}

#[tokio::test]
async fn eip712_mail_example_matches_the_specification_signature() {
    // The EIP-712 specification signs its Mail example with keccak256("cow").
    let cow = SigningKey::from_slice(&keccak256(b"cow")).unwrap();
    let s = signer(cow);
    assert_eq!(
        s.address(),
        "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
            .parse::<Address>()
            .unwrap()
    );
    let w = Web3Signer::new(s.clone(), policy());
    let r = call(
        &w,
        &Caller::anonymous(),
        "eth_signTypedData_v4",
        json!([s.address().to_checksum(), support::web3::mail_typed_data()]),
    )
    .await;
    assert_eq!(
        hex::encode(result_hex(&r)),
        "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d\
         07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562\
         1c"
    );
}

fn tx(overrides: Value) -> Value {
    let mut t = json!({
        "from": support::C_ADDRESS, "to": TICKET_BROKER, "gas": "0x5208", "gasPrice": "0x1",
        "value": "0x0", "nonce": "0x0", "chainId": "0xa4b1"
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            t.as_object_mut().unwrap().remove(k);
        } else {
            t[k] = v.clone();
        }
    }
    t
}

#[tokio::test]
async fn every_policy_rule_refuses() {
    let w = Web3Signer::new(c_signer(), policy());
    let anyone = Caller::anonymous();
    for (overrides, rule) in [
        (json!({"chainId": "0x1"}), "chain_ids"),
        (
            json!({"to": "0x0000000000000000000000000000000000000001"}),
            "allowed_to",
        ),
        (json!({"value": "0x0de0b6b3a7640001"}), "max_value_wei"),
        (json!({"to": null}), "allow_contract_creation"),
    ] {
        let r = call(&w, &anyone, "eth_signTransaction", json!([tx(overrides)])).await;
        assert_eq!(error_code(&r), CODE_POLICY, "{rule}: {r}");
        assert_eq!(r["error"]["data"]["rule"], rule);
        assert!(r["error"]["message"].as_str().unwrap().contains(rule), "{r}");
    }
    // Exactly at the value cap is allowed.
    let r = call(
        &w,
        &anyone,
        "eth_signTransaction",
        json!([tx(json!({"value": "0x0de0b6b3a7640000"}))]),
    )
    .await;
    assert!(r["result"].is_string(), "{r}");
    // A missing chainId is invalid params, not silently replayable.
    let r = call(
        &w,
        &anyone,
        "eth_signTransaction",
        json!([tx(json!({"chainId": null}))]),
    )
    .await;
    assert_eq!(error_code(&r), -32602);
    assert!(r["error"]["message"].as_str().unwrap().contains("chainId"));
}

#[tokio::test]
async fn raw_sign_is_off_unless_enabled() {
    let cfg = livepeer_signer::config::Web3SignerConfig {
        chain_ids: vec![1],
        ..Default::default()
    };
    let p = livepeer_signer::web3signer::policy::Policy::from_config(&cfg);
    assert_eq!(p.check_raw().unwrap_err().rule, "allow_raw_sign");
    assert!(policy().check_raw().is_ok());
}

#[tokio::test]
async fn scopes_are_enforced_per_method() {
    let w = Web3Signer::new(c_signer(), policy());
    let only = |s: Scope| Caller {
        name: "t".into(),
        scopes: Scopes::from_iter([s]),
        max_ev_per_minute: None,
    };
    let typed = support::web3::mail_typed_data();
    let calls = [
        ("eth_sign", json!([support::C_ADDRESS, "0x01"]), Scope::EthSign),
        (
            "eth_signTypedData",
            json!([support::C_ADDRESS, typed]),
            Scope::EthSignTypedData,
        ),
        (
            "eth_signTransaction",
            json!([tx(json!({}))]),
            Scope::EthSignTransaction,
        ),
    ];
    for (method, params, scope) in &calls {
        let denied = call(&w, &only(Scope::OrchestratorInfo), method, params.clone()).await;
        assert_eq!(error_code(&denied), CODE_SCOPE, "{method}");
        assert_eq!(denied["error"]["data"]["scope"], scope.as_str());
        let allowed = call(&w, &only(*scope), method, params.clone()).await;
        assert!(allowed["result"].is_string(), "{method}: {allowed}");
    }
    // eth_accounts needs no signing scope.
    let r = call(&w, &only(Scope::OrchestratorInfo), "eth_accounts", json!([])).await;
    assert!(r["result"].is_array());
}

#[tokio::test]
async fn unknown_account_is_named() {
    let w = Web3Signer::new(c_signer(), policy());
    let other = "0x0000000000000000000000000000000000000abc";
    let r = call(&w, &Caller::anonymous(), "eth_sign", json!([other, "0x01"])).await;
    assert_eq!(error_code(&r), CODE_SIGNING_FAILED);
    let msg = r["error"]["message"].as_str().unwrap();
    let named = other.parse::<Address>().unwrap().to_checksum();
    assert!(msg.contains(&named) && msg.contains(support::C_ADDRESS), "{msg}");
    let r = call(
        &w,
        &Caller::anonymous(),
        "eth_signTransaction",
        json!([tx(json!({"from": other}))]),
    )
    .await;
    assert_eq!(error_code(&r), CODE_SIGNING_FAILED);
}

#[tokio::test]
async fn json_rpc_batches_and_malformed_requests() {
    let w = Web3Signer::new(c_signer(), policy());
    let c = Caller::anonymous();
    let rpc = |body: &str| {
        let w = w.clone();
        let c = c.clone();
        let body = body.to_string();
        async move { w.handle_rpc(body.as_bytes(), &c).await }
    };
    // Batch: responses for requests with ids, in order; none for the notification.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"},
        {"jsonrpc": "2.0", "method": "eth_accounts"},
        {"jsonrpc": "2.0", "id": "two", "method": "eth_sign", "params": [support::C_ADDRESS, "0x00"]},
        {"jsonrpc": "2.0", "id": 3, "method": "nope"}
    ]);
    let r = rpc(&batch.to_string()).await.unwrap();
    let arr = r.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["id"], 1);
    assert_eq!(arr[1]["id"], "two");
    assert!(arr[1]["result"].is_string());
    assert_eq!(arr[2]["error"]["code"], -32601);
    // Only notifications: nothing at all.
    assert_eq!(rpc(r#"[{"jsonrpc":"2.0","method":"eth_accounts"}]"#).await, None);
    assert_eq!(rpc(r#"{"jsonrpc":"2.0","method":"eth_accounts"}"#).await, None);
    // Malformed.
    let code = |v: Option<Value>| v.unwrap()["error"]["code"].as_i64().unwrap();
    assert_eq!(code(rpc("{not json").await), -32700);
    assert_eq!(code(rpc("[]").await), -32600);
    assert_eq!(code(rpc("42").await), -32600);
    assert_eq!(
        code(rpc(r#"{"jsonrpc":"1.0","id":1,"method":"eth_accounts"}"#).await),
        -32600
    );
    assert_eq!(
        code(rpc(r#"{"jsonrpc":"2.0","id":{},"method":"eth_accounts"}"#).await),
        -32600
    );
    assert_eq!(code(rpc(r#"{"jsonrpc":"2.0","id":1,"method":5}"#).await), -32600);
    assert_eq!(
        code(rpc(r#"{"jsonrpc":"2.0","id":1,"method":"eth_sign","params":{}}"#).await),
        -32602
    );
    assert_eq!(
        code(rpc(r#"{"jsonrpc":"2.0","id":1,"method":"eth_sign","params":["0x12"]}"#).await),
        -32602
    );
    let r = rpc(&format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sign","params":["{}","nothex"]}}"#,
        support::C_ADDRESS
    ))
    .await;
    assert_eq!(code(r), -32602);
    let r = rpc(r#"{"jsonrpc":"2.0","id":1,"method":"eth_signTypedData","params":["0x96216849c49358B10257cb55b28eA603c874b05E",{"types":{}}]}"#).await;
    assert_eq!(code(r), -32602);
    let too_big = serde_json::to_string(&vec![
        json!({"jsonrpc":"2.0","id":1,"method":"eth_accounts"});
        101
    ])
    .unwrap();
    assert_eq!(code(rpc(&too_big).await), -32600);
    for bad in [
        json!({"gasPrice": null}),
        json!({"maxFeePerGas": "0x1"}),
        json!({"gas": null}),
        json!({"data": "0x01", "input": "0x02"}),
    ] {
        let r = call(&w, &c, "eth_signTransaction", json!([tx(bad.clone())])).await;
        assert_eq!(error_code(&r), -32602, "{bad}: {r}");
    }
}

// ---- Over real sockets

async fn start(web3signer: bool) -> (SocketAddr, server::Handles) {
    let s = c_signer();
    let orch = OrchInfoSignature::create(&s).await.unwrap();
    let tokens = Tokens::load(&AuthConfig {
        allow_unauthenticated: false,
        tokens: vec![
            TokenConfig {
                name: "gateway".into(),
                sha256: Some(hex::encode(token_sha256("gw-token"))),
                file: None,
                scopes: None,
                max_ev_per_minute: None,
            },
            TokenConfig {
                name: "node".into(),
                sha256: Some(hex::encode(token_sha256("node-token"))),
                file: None,
                scopes: Some(vec![Scope::EthSign, Scope::EthSignTransaction, Scope::RawSign]),
                max_ev_per_minute: None,
            },
        ],
    })
    .unwrap();
    let mut state = AppState::new(s, orch, tokens, 64 * 1024);
    if web3signer {
        state = state.with_web3signer(policy());
    }
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let bound = server::bind(&config, Arc::new(state), None).unwrap();
    let addr = bound.local_addrs()[0];
    let h = bound.handles();
    tokio::spawn(bound.run());
    (addr, h)
}

async fn post(url: String, token: Option<&str>, body: String) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn http_surface_with_tokens_and_scopes() {
    let (addr, h) = start(true).await;
    let base = format!("http://{addr}");
    let rpc = |m: &str, p: Value| json!({"jsonrpc":"2.0","id":1,"method":m,"params":p}).to_string();

    // JSON-RPC needs a token; the gateway token lacks eth_sign; the node token has it.
    let (st, _) = post(format!("{base}/"), None, rpc("eth_accounts", json!([]))).await;
    assert_eq!(st, 401);
    let (st, body) = post(
        format!("{base}/"),
        Some("gw-token"),
        rpc("eth_sign", json!([support::C_ADDRESS, "0x01"])),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        CODE_SCOPE
    );
    let (st, body) = post(
        format!("{base}/"),
        Some("node-token"),
        rpc("eth_sign", json!([support::C_ADDRESS, "0x01"])),
    )
    .await;
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    livepeer_signer::eth::verify_sig(
        &support::C_ADDRESS.parse().unwrap(),
        &[1],
        &hex::decode(v["result"].as_str().unwrap()).unwrap(),
    )
    .unwrap();

    // The node token cannot fetch the OrchestratorInfo signature; the gateway token can.
    let (st, body) = post(
        format!("{base}/sign-orchestrator-info"),
        Some("node-token"),
        String::new(),
    )
    .await;
    assert_eq!(st, 403);
    assert!(body.contains("orchestrator-info"), "{body}");
    let (st, body) = post(
        format!("{base}/sign-orchestrator-info"),
        Some("gw-token"),
        String::new(),
    )
    .await;
    assert_eq!((st, body.as_str()), (200, support::C1_BODY));

    // REST endpoints.
    let c = reqwest::Client::new();
    let up = c.get(format!("{base}/upcheck")).send().await.unwrap();
    assert_eq!(up.status(), 200);
    assert_eq!(up.text().await.unwrap(), "OK");
    let keys: Vec<String> = c
        .get(format!("{base}/api/v1/eth1/publicKeys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let point = support::c_key().verifying_key().to_encoded_point(false);
    assert_eq!(keys, vec![hex::encode_0x(point.as_bytes())]);
    let data = json!({"data": "0x0102"}).to_string();
    let (st, body) = post(
        format!("{base}/api/v1/eth1/sign/{}", keys[0]),
        Some("node-token"),
        data.clone(),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        recover_digest(&keccak256([1u8, 2]), &hex::decode(&body).unwrap())
            .unwrap()
            .to_checksum(),
        support::C_ADDRESS
    );
    let (st, _) = post(
        format!("{base}/api/v1/eth1/sign/{}", keys[0]),
        Some("gw-token"),
        data.clone(),
    )
    .await;
    assert_eq!(st, 403, "raw_sign scope required");
    let (st, _) = post(
        format!("{base}/api/v1/eth1/sign/0x0000000000000000000000000000000000000001"),
        Some("node-token"),
        data,
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = post(
        format!("{base}/api/v1/eth1/sign/{}", keys[0]),
        Some("node-token"),
        "{}".into(),
    )
    .await;
    assert_eq!(st, 400);

    // Refusals are counted by rule.
    let m = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("livepeer_signer_policy_refusals_total{rule=\"scope\"}"),
        "{m}"
    );
    assert!(m.contains("livepeer_signer_token_requests_total{token=\"node\"}"));
    h.stop(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_by_default() {
    let (addr, h) = start(false).await;
    let base = format!("http://{addr}");
    let (st, _) = post(
        format!("{base}/"),
        Some("node-token"),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_accounts"}"#.into(),
    )
    .await;
    assert_eq!(st, 404);
    let st = reqwest::get(format!("{base}/upcheck")).await.unwrap().status();
    assert_eq!(st, 404);
    h.stop(true).await;
}
