//! The aws-kms backend against a real KMS-protocol HTTP server on loopback
//! (moto, patched by `tests/support/kms_emulator.py`), through the real
//! `aws-sdk-kms` client and, for `serve` / `check`, the real binary.
//!
//! Needs a Python with the moto pinned in tests/requirements.txt
//! (`$TEST_PYTHON`, or `.tools/venv` made by scripts/test.sh); without it
//! these tests fail with an install hint (they never skip).
#![cfg(feature = "aws-kms")]

#[path = "support/kms.rs"]
mod kms;
mod support;

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use k256::ecdsa::SigningKey;
use kms::KmsEmulator;
use livepeer_signer::eth::{hex as eth_hex, keccak256, verify_digest, verify_sig, Address};
use livepeer_signer::keys::aws_kms::{AwsKmsBackend, AwsKmsError};
use livepeer_signer::keys::{BackendError, KeyBackend};
use livepeer_signer::livepeer::orch_info;
use livepeer_signer::signer::{SignError, Signer};
use support::run;
use support::{bin, Daemon, C_ADDRESS};

fn c_address() -> Address {
    C_ADDRESS.parse().unwrap()
}

/// `livepeer-signer <args> --config <cfg>` with the test AWS environment.
fn signer_cmd(dir: &std::path::Path, cfg: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.args(args).arg("--config").arg(cfg);
    kms::aws_env(&mut cmd, dir);
    cmd
}

async fn post_orch_info(url: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/sign-orchestrator-info"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn expect_open_err(r: Result<AwsKmsBackend, AwsKmsError>) -> AwsKmsError {
    match r {
        Ok(b) => panic!("expected an error, opened {b:?}"),
        Err(e) => e,
    }
}

/// C1 flow: a seeded §C key in KMS; `address`, `check` and `serve` agree,
/// the served signature passes go-livepeer's verifier for the §C address,
/// and the cached response survives a KMS outage.
#[tokio::test(flavor = "multi_thread")]
async fn c1_flow_serve_signs_orchestrator_info_with_seeded_c_key() {
    let emu = KmsEmulator::start();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(tmp.path(), &emu.endpoint, &key_id);

    let (code, out, err) = run(&mut signer_cmd(tmp.path(), &cfg, &["address"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{C_ADDRESS}\n"));
    assert!(err.contains("AWS KMS key ready"), "{err}");
    assert!(err.contains(C_ADDRESS), "startup logs the address: {err}");

    let (code, out, err) = run(&mut signer_cmd(tmp.path(), &cfg, &["check"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("ok: AWS KMS key {key_id}")), "{out}");
    assert!(out.contains(C_ADDRESS), "{out}");

    let daemon = Daemon::start(signer_cmd(tmp.path(), &cfg, &["serve"]));
    let (status, body) = post_orch_info(&daemon.url).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("}\n"), "{body:?}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["address"].as_str().unwrap(), C_ADDRESS);
    let sig = eth_hex::decode(json["signature"].as_str().unwrap()).unwrap();
    assert_eq!(sig.len(), 65);
    assert!(sig[64] == 27 || sig[64] == 28);
    verify_sig(&c_address(), &keccak256(orch_info::message(&c_address())), &sig)
        .expect("the served signature passes go-livepeer's VerifySig for the §C address");

    // KMS goes away: the OrchestratorInfo response is cached, still served.
    drop(emu);
    let (status, again) = post_orch_info(&daemon.url).await;
    assert_eq!(status, 200);
    assert_eq!(again, body);
}

/// 1,000 fresh KMS signatures through the Signer all pass go-livepeer's
/// verifier; about half arrive high-s and are normalised; both `v` occur.
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_fresh_kms_signatures_pass_the_verifier() {
    let emu = KmsEmulator::start();
    let key = SigningKey::from_slice(&keccak256(b"aws-kms thousand")).unwrap();
    let key_id = emu.create_seeded_key(&key).await;
    let backend = emu.open(&key_id).await.unwrap();
    let expected = Address::from_public_key(key.verifying_key());
    assert_eq!(backend.address(), expected);
    let signer = Signer::new(Box::new(backend));

    const N: u64 = 10_000;
    const WORKERS: u64 = 8;
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let signer = signer.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (w..N).step_by(WORKERS as usize) {
                let digest = keccak256(format!("fresh digest {i}"));
                let raw = signer.backend().sign_digest(&digest).await.unwrap();
                let high_s = raw.normalize_s().is_some();
                let sig = signer.finalize(&digest, &raw).unwrap();
                out.push((digest, high_s, sig));
            }
            out
        }));
    }
    let mut high = 0;
    let mut v27 = 0;
    let mut v28 = 0;
    let mut seen = std::collections::HashSet::new();
    for t in tasks {
        for (digest, high_s, sig) in t.await.unwrap() {
            verify_digest(&expected, &digest, sig.as_bytes()).expect("passes go-livepeer's verifier");
            assert!(seen.insert(sig.as_bytes().to_vec()), "signatures are fresh");
            high += usize::from(high_s);
            match sig.v() {
                27 => v27 += 1,
                28 => v28 += 1,
                v => panic!("v = {v}"),
            }
        }
    }
    println!("aws-kms {N} signatures: {high} high-s normalised, v=27: {v27}, v=28: {v28}");
    assert_eq!(seen.len(), N as usize);
    // Binomial(10,000, 1/2): outside 4,500..=5,500 is a 10-sigma event.
    assert!((4500..=5500).contains(&high), "high-s count {high}");
    assert!((4500..=5500).contains(&v27), "v=27 count {v27}");
    assert_eq!(v27 + v28, N as usize);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_spec_is_a_clear_config_error() {
    let emu = KmsEmulator::start();
    let key_id = emu
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify, None)
        .await;
    let err = expect_open_err(emu.open(&key_id).await);
    assert!(
        matches!(&err, AwsKmsError::WrongKeySpec { key_spec, .. } if key_spec == "ECC_NIST_P256"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&key_id) && msg.contains("ECC_NIST_P256") && msg.contains("ECC_SECG_P256K1"),
        "{msg}"
    );
    assert_eq!(BackendError::from(err).kind(), "config");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_usage_is_a_clear_config_error() {
    let emu = KmsEmulator::start();
    let key_id = emu
        .create_key(KeySpec::EccSecgP256K1, KeyUsageType::EncryptDecrypt, None)
        .await;
    let err = expect_open_err(emu.open(&key_id).await);
    assert!(
        matches!(&err, AwsKmsError::WrongKeyUsage { key_usage, .. } if key_usage == "ENCRYPT_DECRYPT"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&key_id) && msg.contains("ENCRYPT_DECRYPT") && msg.contains("SIGN_VERIFY"),
        "{msg}"
    );
    assert_eq!(BackendError::from(err).kind(), "config");
}

/// Disabled and pending-deletion keys: at startup, on Sign and on probe.
#[tokio::test(flavor = "multi_thread")]
async fn disabled_and_pending_deletion_keys_are_clear_errors() {
    let emu = KmsEmulator::start();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let backend = emu.open(&key_id).await.unwrap();
    backend.probe().await.unwrap();

    emu.client().disable_key().key_id(&key_id).send().await.unwrap();
    let probe = backend.probe().await.unwrap_err();
    assert_eq!(probe.kind(), "unavailable", "{probe}");
    assert!(
        probe
            .to_string()
            .contains(&format!("AWS KMS key {key_id} is disabled")),
        "{probe}"
    );
    let sign = backend.sign_raw(&[7u8; 32]).await.unwrap_err();
    assert!(matches!(sign, AwsKmsError::Disabled { .. }), "{sign:?}");
    let err = expect_open_err(emu.open(&key_id).await);
    assert!(matches!(err, AwsKmsError::Disabled { .. }), "{err:?}");
    assert!(err.to_string().contains("aws kms enable-key"), "{err}");

    emu.client().enable_key().key_id(&key_id).send().await.unwrap();
    backend.probe().await.unwrap();
    emu.client()
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let err = expect_open_err(emu.open(&key_id).await);
    assert!(
        matches!(
            &err,
            AwsKmsError::InvalidState {
                operation: "GetPublicKey",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("pending deletion"), "{err}");
    assert!(err.to_string().contains("cancel-key-deletion"), "{err}");
    let sign = backend.sign_digest(&[7u8; 32]).await.unwrap_err();
    assert_eq!(sign.kind(), "unavailable");
    assert!(sign.to_string().contains("kms:Sign"), "{sign}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_key_id_and_alias_are_not_found() {
    let emu = KmsEmulator::start();
    for key_id in ["0b4e6f4e-7a60-4a6e-9d35-3d1a2b3c4d5e", "alias/no-such-alias"] {
        let err = expect_open_err(emu.open(key_id).await);
        assert!(matches!(err, AwsKmsError::NotFound { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("AWS KMS key {key_id} not found in region us-east-1")),
            "{msg}"
        );
        assert_eq!(BackendError::from(err).kind(), "config");
    }
}

/// Key policy denies: AccessDenied names the missing permission.
#[tokio::test(flavor = "multi_thread")]
async fn access_denied_names_the_missing_permission() {
    let emu = KmsEmulator::start();
    let deny = |action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"{action}","Resource":"*"}}]}}"#
        )
    };
    let c = support::c_key();
    let no_sign = emu
        .create_key_with_policy(
            KeySpec::EccSecgP256K1,
            KeyUsageType::SignVerify,
            Some(&c),
            Some(&deny("kms:Sign")),
        )
        .await;
    let backend = emu.open(&no_sign).await.expect("GetPublicKey is allowed");
    let err = backend.sign_raw(&[1u8; 32]).await.unwrap_err();
    assert!(
        matches!(
            err,
            AwsKmsError::AccessDenied {
                operation: "Sign",
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "AccessDenied on kms:Sign for key {no_sign}: grant kms:Sign on this key"
        )),
        "{msg}"
    );
    assert_eq!(BackendError::from(err).kind(), "denied");

    let no_get = emu
        .create_key_with_policy(
            KeySpec::EccSecgP256K1,
            KeyUsageType::SignVerify,
            Some(&c),
            Some(&deny("kms:GetPublicKey")),
        )
        .await;
    let err = expect_open_err(emu.open(&no_get).await);
    assert!(
        matches!(
            err,
            AwsKmsError::AccessDenied {
                operation: "GetPublicKey",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("grant kms:GetPublicKey"), "{err}");
}

/// Nothing listens on the port: a clear Unavailable naming the endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_endpoint_is_unavailable() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let cfg = kms::config_for(&endpoint, "0b4e6f4e-7a60-4a6e-9d35-3d1a2b3c4d5e");
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        AwsKmsBackend::open_with_credentials(&cfg, kms::credentials()),
    )
    .await
    .expect("open returns");
    let err = expect_open_err(r);
    assert!(matches!(err, AwsKmsError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("cannot reach AWS KMS at {endpoint}")),
        "{msg}"
    );
    assert_eq!(BackendError::from(err).kind(), "unavailable");
}

/// An endpoint that accepts and never answers: the timeout fires instead of
/// hanging.
#[tokio::test(flavor = "multi_thread")]
async fn stalled_endpoint_hits_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            match conn {
                Ok(c) => held.push(c), // accept, never answer
                Err(_) => break,
            }
        }
    });
    let mut cfg = kms::config_for(&endpoint, "0b4e6f4e-7a60-4a6e-9d35-3d1a2b3c4d5e");
    cfg.operation_timeout_ms = 1000;
    cfg.max_attempts = 2;
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        AwsKmsBackend::open_with_credentials(&cfg, kms::credentials()),
    )
    .await
    .expect("open returns instead of hanging");
    let err = expect_open_err(r);
    assert!(matches!(err, AwsKmsError::Timeout { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&endpoint) && msg.contains("operation_timeout_ms = 1000"),
        "{msg}"
    );
    assert_eq!(BackendError::from(err).kind(), "timeout");
}

/// Stock moto hashes the DIGEST again: the Signer refuses its signatures.
#[tokio::test(flavor = "multi_thread")]
async fn unpatched_emulator_fails_closed_in_the_signer() {
    let emu = KmsEmulator::start_unpatched_digest();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let backend = emu.open(&key_id).await.unwrap();
    assert_eq!(backend.address(), c_address());
    let signer = Signer::new(Box::new(backend));
    for i in 0..20u8 {
        match signer.sign_digest(&keccak256([i])).await {
            Err(SignError::NotOurKey { backend, address }) => {
                assert_eq!(backend, "aws-kms");
                assert_eq!(address, c_address());
            }
            other => panic!("expected NotOurKey, got {other:?}"),
        }
    }
}

/// ... and `check` and `serve` exit 1 saying exactly that, never serving.
#[tokio::test(flavor = "multi_thread")]
async fn unpatched_emulator_makes_check_and_serve_exit_1() {
    let emu = KmsEmulator::start_unpatched_digest();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(tmp.path(), &emu.endpoint, &key_id);
    let expected = format!(
        "the aws-kms backend returned a signature that does not recover to its public key ({C_ADDRESS})"
    );

    let (code, out, err) = run(&mut signer_cmd(tmp.path(), &cfg, &["check"]));
    assert_eq!(code, 1, "stdout {out} stderr {err}");
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains("refusing to use it"), "{err}");
    assert!(!out.starts_with("ok"), "{out}");

    let mut serve = signer_cmd(tmp.path(), &cfg, &["serve"]);
    let out = tokio::task::spawn_blocking(move || serve.output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot sign the OrchestratorInfo credential"),
        "{err}"
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!err.contains("listening"), "{err}");
}

/// An alias works (with a warning); repointed to another key it fails
/// closed, and the probe reports the change.
#[tokio::test(flavor = "multi_thread")]
async fn alias_works_with_a_warning_and_a_repointed_alias_fails_closed() {
    let emu = KmsEmulator::start();
    let a = emu.create_seeded_key(&support::c_key()).await;
    let b = emu
        .create_key(KeySpec::EccSecgP256K1, KeyUsageType::SignVerify, None)
        .await;
    let client = emu.client();
    client
        .create_alias()
        .alias_name("alias/livepeer-signer")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(tmp.path(), &emu.endpoint, "alias/livepeer-signer");
    let (code, out, err) = run(&mut signer_cmd(tmp.path(), &cfg, &["check"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(C_ADDRESS), "{out}");
    assert!(err.contains("key_id is an alias"), "{err}");

    let backend = emu.open("alias/livepeer-signer").await.unwrap();
    assert!(backend.key_arn().contains(&a), "{}", backend.key_arn());
    let signer = Signer::new(Box::new(backend));
    signer.sign_digest(&[3u8; 32]).await.unwrap();

    client
        .update_alias()
        .alias_name("alias/livepeer-signer")
        .target_key_id(&b)
        .send()
        .await
        .unwrap();
    let err = signer.sign_digest(&[3u8; 32]).await.unwrap_err();
    assert!(matches!(err, SignError::NotOurKey { .. }), "{err:?}");
    let probe = signer.backend().probe().await.unwrap_err();
    assert_eq!(probe.kind(), "unavailable");
    assert!(probe.to_string().contains("alias was repointed"), "{probe}");

    // The alias is deleted: the probe reports it (NotFound), as unavailable.
    client
        .delete_alias()
        .alias_name("alias/livepeer-signer")
        .send()
        .await
        .unwrap();
    let probe = signer.backend().probe().await.unwrap_err();
    assert_eq!(probe.kind(), "unavailable");
    assert!(
        probe
            .to_string()
            .contains("AWS KMS key alias/livepeer-signer not found in region us-east-1"),
        "{probe}"
    );
}

/// The probe answers Ok while KMS is up and Unavailable/Timeout once it is gone.
#[tokio::test(flavor = "multi_thread")]
async fn probe_reports_a_kms_outage() {
    let emu = KmsEmulator::start();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let backend = emu.open(&key_id).await.unwrap();
    backend.probe().await.unwrap();
    drop(emu);
    let err = tokio::time::timeout(Duration::from_secs(60), backend.probe())
        .await
        .expect("probe returns")
        .unwrap_err();
    assert!(matches!(err.kind(), "unavailable" | "timeout"), "{err}");
    assert!(err.to_string().contains(&key_id), "{err}");
}

/// No credentials anywhere in the chain (and no metadata service): a clear
/// error saying where credentials come from, exit 1.
#[test]
fn missing_credentials_are_a_clear_error() {
    let emu = KmsEmulator::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(tmp.path(), &emu.endpoint, "0b4e6f4e-7a60-4a6e-9d35-3d1a2b3c4d5e");
    let mut cmd = signer_cmd(tmp.path(), &cfg, &["check"]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no AWS credentials for kms:GetPublicKey on key 0b4e6f4e-7a60-4a6e-9d35-3d1a2b3c4d5e"),
        "{err}"
    );
    assert!(err.contains("never read from this config file"), "{err}");
}

/// The shipped example config parses and validates as an aws-kms config.
#[test]
fn example_config_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/aws-kms.example.toml");
    let (config, _) =
        livepeer_signer::config::Config::load_with_env(Some(&path), Vec::<(String, String)>::new()).unwrap();
    assert_eq!(config.key.backend, livepeer_signer::config::BackendKind::AwsKms);
    let a = config.key.aws_kms.unwrap();
    assert!(a.key_id.starts_with("arn:aws:kms:"));
    assert_eq!(
        (a.connect_timeout_ms, a.operation_timeout_ms, a.max_attempts),
        (3000, 10_000, 3)
    );
}

/// ThrottlingException is retried with backoff; throttled on every attempt
/// it becomes a clear Unavailable naming the attempts.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_then_reported() {
    let emu = KmsEmulator::start();
    let c = support::c_key();
    // One throttled Sign, 2 attempts: the retry succeeds.
    let once = emu.create_throttled_key(&c, 1).await;
    let signer = Signer::new(Box::new(emu.open(&once).await.unwrap()));
    let sig = signer
        .sign_digest(&[9u8; 32])
        .await
        .expect("retried after throttling");
    verify_digest(&c_address(), &[9u8; 32], sig.as_bytes()).unwrap();

    // Throttled on every attempt.
    let always = emu.create_throttled_key(&c, 1000).await;
    let backend = emu.open(&always).await.unwrap();
    let err = backend.sign_raw(&[9u8; 32]).await.unwrap_err();
    assert!(
        matches!(
            err,
            AwsKmsError::Throttled {
                operation: "Sign",
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "AWS KMS throttled kms:Sign for key {always} on every one of 2 attempts"
        )),
        "{msg}"
    );
    assert_eq!(BackendError::from(err).kind(), "unavailable");
}

/// Issue 5 with KMS: when the emulator stops, `/readyz` turns 503 with the
/// reason, `backend_up` goes to 0, and the cached OrchestratorInfo signature
/// is still served.
#[tokio::test(flavor = "multi_thread")]
async fn readyz_goes_503_when_kms_stops() {
    let emu = KmsEmulator::start();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(tmp.path(), &emu.endpoint, &key_id);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[health]\nprobe_interval_s = 1\nprobe_timeout_ms = 5000\n");
    std::fs::write(&cfg, text).unwrap();
    let daemon = Daemon::start(signer_cmd(tmp.path(), &cfg, &["serve"]));
    let client = reqwest::Client::new();
    let readyz = || async {
        let r = client.get(format!("{}/readyz", daemon.url)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(readyz().await.0, 200);
    let (_, before) = post_orch_info(&daemon.url).await;

    drop(emu); // killed by its own PID
    let mut last = readyz().await;
    for _ in 0..150 {
        if last.0 == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        last = readyz().await;
    }
    assert_eq!(last.0, 503, "{}", last.1);
    let v: serde_json::Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(v["backend"], "aws-kms");
    assert!(!v["reason"].as_str().unwrap().is_empty());
    let metrics = client
        .get(format!("{}/metrics", daemon.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("livepeer_signer_backend_up{backend=\"aws-kms\"} 0"),
        "{metrics}"
    );
    assert_eq!(post_orch_info(&daemon.url).await, (200, before));
}

/// Issue 7 fault injection: `serve` against a KMS endpoint that accepts
/// connections and never answers exits 1 with a timeout message instead of
/// hanging (bounded by the configured operation timeout; the test only
/// guards against a hang with a generous outer limit).
#[test]
fn serve_with_a_stalled_kms_exits_1_with_a_timeout_message() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c); // accept, never answer
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(tmp.path(), &endpoint, "0b4e6f4e-7a60-4a6e-9d35-3d1a2b3c4d5e");
    let text: Vec<String> = std::fs::read_to_string(&cfg)
        .unwrap()
        .lines()
        .map(|l| match l.split('=').next().map(str::trim) {
            Some("operation_timeout_ms") => "operation_timeout_ms = 1500".to_string(),
            Some("max_attempts") => "max_attempts = 1".to_string(),
            _ => l.to_string(),
        })
        .collect();
    std::fs::write(&cfg, text.join("\n")).unwrap();
    let mut child = signer_cmd(tmp.path(), &cfg, &["serve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve hung on a stalled KMS endpoint");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cannot open the key backend"), "{err}");
    assert!(
        err.contains("operation_timeout_ms = 1500") && err.contains(&endpoint),
        "{err}"
    );
    assert!(!err.contains("listening"), "{err}");
}
