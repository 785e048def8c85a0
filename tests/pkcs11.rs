//! The PKCS#11 backend against a real SoftHSM2 token (no mocks): signing,
//! the §C key imported from the C7 keystore, 1,000 signatures through
//! go-livepeer's verifier, concurrency, session recovery, every lookup
//! error, and the `pkcs11 list | generate | import` commands.
//!
//! Each test process gets its own token directory (`SOFTHSM2_CONF`, see
//! `support/softhsm.rs`); each test its own token. SoftHSM2 missing fails.

mod support;
#[path = "support/softhsm.rs"]
mod softhsm;

use std::path::Path;
use std::sync::Arc;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use k256::ecdsa::SigningKey;
use livepeer_signer::eth::{hex, keccak256, recover_digest, verify_digest, verify_sig, Address};
use livepeer_signer::keys::pkcs11::{admin, ec, Pkcs11Backend, Pkcs11Error, Target};
use livepeer_signer::keys::{BackendError, KeyBackend};
use livepeer_signer::livepeer::orch_info::{self, OrchInfoSignature};
use livepeer_signer::signer::Signer;
use softhsm::Token;

fn c_address() -> Address {
    support::C_ADDRESS.parse().unwrap()
}

/// Imports the §C key as `label` / `id` through the library's import.
fn import_c_key(token: &Token, label: &str, id: &[u8]) {
    let s = token.session();
    admin::import_key(&s, &support::c_key(), label, id, &token.label).unwrap();
}

fn open_err(cfg: &livepeer_signer::config::Pkcs11Config) -> Pkcs11Error {
    let target = Target::from_config(cfg).unwrap();
    Pkcs11Backend::open_blocking(target, 1).expect_err("open must fail")
}

fn run(cmd: &mut std::process::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_through_token_recovers_expected_address() {
    let token = Token::new("sign");
    import_c_key(&token, "signer", &[0x01]);
    let backend = Pkcs11Backend::open(&token.config(Some("signer"), None, 2)).await.unwrap();
    assert_eq!(backend.kind(), "pkcs11");
    assert!(backend.describe().contains(&token.label), "{}", backend.describe());
    assert_eq!(Address::from_public_key(backend.public_key()), c_address());

    // The raw backend output is a plain (r, s) over the digest as given.
    let digest = keccak256(b"through the token");
    let raw = backend.sign_digest(&digest).await.unwrap();
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    // (k256 verifies low-s only: the token's s may be high.)
    backend
        .public_key()
        .verify_prehash(&digest, &raw.normalize_s().unwrap_or(raw))
        .unwrap();

    let signer = Signer::new(Box::new(backend));
    let sig = signer.sign_digest(&digest).await.unwrap();
    assert_eq!(recover_digest(&digest, sig.as_bytes()).unwrap(), c_address());
    verify_digest(&c_address(), &digest, sig.as_bytes()).unwrap();

    // Selecting by id alone, and by both, finds the same key.
    for (label, id) in [(None, Some("01")), (Some("signer"), Some("0x01"))] {
        let b = Pkcs11Backend::open(&token.config(label, id, 1)).await.unwrap();
        assert_eq!(Address::from_public_key(b.public_key()), c_address());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c7_keystore_import_gives_c_address_and_verifiable_c1_response() {
    let token = Token::new("c7");
    let tmp = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(tmp.path());
    let cfg = token.config_file(Some("from-c7"), None);
    let (code, out, err) = run(softhsm::bin()
        .args(["pkcs11", "import", "--label", "from-c7", "--config"])
        .arg(&cfg)
        .arg("--keystore")
        .arg(&key)
        .arg("--password-file")
        .arg(&pw));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", support::C_ADDRESS));
    assert!(
        err.contains(&format!("test signature through the token recovers to {}", support::C_ADDRESS)),
        "{err}"
    );
    assert!(err.contains("CKA_SENSITIVE=Some(true) CKA_EXTRACTABLE=Some(false)"), "{err}");
    assert!(err.contains("CKA_VALUE readable=false"), "{err}");
    // Default CKA_ID is the address.
    assert!(err.contains("id 96216849c49358b10257cb55b28ea603c874b05e"), "{err}");

    // serve with the pkcs11 backend; go-livepeer's verifier accepts the answer.
    let daemon = support::Daemon::start({
        let mut c = softhsm::bin();
        c.arg("serve").arg("--config").arg(&cfg);
        c
    });
    let (status, body) = post(&daemon.url);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let c1: serde_json::Value = serde_json::from_str(support::C1_BODY).unwrap();
    assert_eq!(json["address"], c1["address"]);
    let sig = hex::decode(json["signature"].as_str().unwrap()).unwrap();
    assert_eq!(sig.len(), 65);
    let msg = keccak256(orch_info::message(&c_address()).as_bytes());
    verify_sig(&c_address(), &msg, &sig).unwrap();
    assert!(body.ends_with('\n'));
    assert!(daemon.logs.lock().unwrap().contains("pkcs11"), "{}", daemon.logs.lock().unwrap());
}

fn post(url: &str) -> (u16, String) {
    let url = format!("{url}/sign-orchestrator-info");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let resp = reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/json")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        })
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_hsm_signatures_pass_the_verifier_with_both_parities() {
    let token = Token::new("thousand");
    import_c_key(&token, "k", &[0x02]);
    let backend = Arc::new(Pkcs11Backend::open(&token.config(Some("k"), None, 1)).await.unwrap());
    let signer = Signer::new(Box::new(Pkcs11Backend::open(&token.config(Some("k"), None, 1)).await.unwrap()));
    let (mut high_s, mut v27, mut v28) = (0, 0, 0);
    for i in 0u32..1000 {
        let digest = keccak256(i.to_be_bytes());
        // Raw token output: count high-s, then let the Signer finish it.
        let raw = backend.sign_digest(&digest).await.unwrap();
        if raw.normalize_s().is_some() {
            high_s += 1;
        }
        let sig = signer.finalize(&digest, &raw).unwrap();
        verify_digest(&c_address(), &digest, sig.as_bytes()).unwrap();
        // And a fresh signature through the whole Signer path.
        let sig2 = signer.sign_digest(&digest).await.unwrap();
        verify_digest(&c_address(), &digest, sig2.as_bytes()).unwrap();
        match sig.v() {
            27 => v27 += 1,
            28 => v28 += 1,
            v => panic!("v = {v}"),
        }
    }
    println!("1000 SoftHSM2 signatures: {high_s} high-s normalised, v=27: {v27}, v=28: {v28}");
    assert!(high_s > 0 && high_s < 1000, "high-s count {high_s}");
    assert!(v27 > 0 && v28 > 0, "v27 {v27} v28 {v28}");
    assert_eq!(v27 + v28, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_signing_from_many_tasks_with_a_small_pool() {
    let token = Token::new("concurrent");
    import_c_key(&token, "k", &[0x03]);
    let signer = Signer::new(Box::new(Pkcs11Backend::open(&token.config(Some("k"), None, 2)).await.unwrap()));
    let mut tasks = Vec::new();
    for t in 0u32..32 {
        let signer = signer.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0u32..8 {
                let digest = keccak256([t.to_be_bytes(), j.to_be_bytes()].concat());
                let sig = signer.sign_digest(&digest).await.unwrap();
                verify_digest(&c_address(), &digest, sig.as_bytes()).unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_errors_reopen_relogin_and_retry() {
    let token = Token::new("recover");
    import_c_key(&token, "k", &[0x04]);
    let backend = Pkcs11Backend::open(&token.config(Some("k"), None, 1)).await.unwrap();
    let signer = Signer::new(Box::new(backend));
    let digest = keccak256(b"before");
    signer.sign_digest(&digest).await.unwrap();

    // C_Logout on another session of this process logs every session out:
    // the pooled session's next C_Sign fails (user not logged in / key
    // handle invalid) and must be recovered transparently.
    for round in 0..3u8 {
        let other = token.session();
        other.logout().unwrap();
        let digest = keccak256([b'r', round]);
        let sig = signer.sign_digest(&digest).await.unwrap();
        verify_digest(&c_address(), &digest, sig.as_bytes()).unwrap();
        signer.backend().probe().await.unwrap();
        drop(other);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_unavailable_when_the_token_is_gone() {
    let token = Token::new("gone");
    import_c_key(&token, "k", &[0x05]);
    let backend = Pkcs11Backend::open(&token.config(Some("k"), None, 1)).await.unwrap();
    backend.probe().await.unwrap();
    assert!(backend.is_available());
    let (code, _, err) = run(std::process::Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", softhsm::conf())
        .args(["--delete-token", "--token"])
        .arg(&token.label));
    assert_eq!(code, 0, "{err}");
    let e = backend.probe().await.expect_err("token deleted");
    assert!(matches!(e, BackendError::Unavailable(_)), "{e:?}");
    assert!(!backend.is_available());
    let e = backend.sign_digest(&[7u8; 32]).await.expect_err("token deleted");
    assert!(matches!(e, BackendError::Unavailable(_)), "{e:?}");
    println!("probe error: {e}");
}
