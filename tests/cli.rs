//! The real binary: commands, exit codes, messages, and `serve` end to end.

mod support;

use livepeer_signer::eth::{keccak256, verify_sig, Address};
use livepeer_signer::livepeer::orch_info;
use support::{bin, run, Daemon};

fn post_orch_info(url: &str) -> String {
    let (status, body) = support::post_orch_info_blocking(url);
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn keystore_new_then_address_and_check_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ks");
    let pw = tmp.path().join("pw");
    let (code, out, err) = run(bin()
        .args(["keystore", "new", "--light", "--dir"])
        .arg(&dir)
        .arg("--password-file")
        .arg(&pw));
    assert_eq!(code, 0, "{err}");
    let address: Address = out.trim().parse().expect("keystore new prints the address");
    assert_eq!(out.trim(), address.to_checksum());
    assert!(err.contains("wrote a random password to"), "{err}");

    let cfg = support::write_keystore_config(tmp.path(), &dir, &pw);
    let (code, out, err) = run(bin().arg("address").arg("--config").arg(&cfg));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", address.to_checksum()));

    let (code, out, err) = run(bin().arg("check").env("LIVEPEER_SIGNER_CONFIG", &cfg));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: keystore "), "{out}");
    assert!(out.contains(&address.to_checksum()), "{out}");
}

#[test]
fn check_offline_validates_without_opening_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = support::write_keystore_config(
        tmp.path(),
        &tmp.path().join("missing"),
        &tmp.path().join("missing-pw"),
    );
    let (code, out, err) = run(bin().args(["check", "--offline", "--config"]).arg(&cfg));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("config ok: "), "{out}");
}

#[test]
fn config_errors_exit_2_and_name_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "[key]\nbackend = \"keystore\"\n[key.keystore]\npath = \"x\"\npassword_file = \"p\"\npasword = \"typo\"\n").unwrap();
    let (code, _, err) = run(bin().args(["check", "--offline", "--config"]).arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&cfg.display().to_string()), "{err}");
    assert!(err.contains("pasword"), "{err}");

    std::fs::write(&cfg, "[key]\nbackend = \"yubikey\"\n").unwrap();
    let (code, _, err) = run(bin().args(["check", "--offline", "--config"]).arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("keystore, pkcs11, aws-kms"), "{err}");

    let (code, _, err) = run(bin().args(["check", "--config", "/nonexistent/x.toml"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/x.toml"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, _) = run(bin().arg("frobnicate"));
    assert_eq!(code, 2);
    let (code, _, _) = run(bin().args(["keystore", "new", "--dir", "/tmp/x"]));
    assert_eq!(code, 2, "--password-file or --password-env is required");
}

#[test]
fn wrong_password_exits_1_without_printing_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(tmp.path());
    std::fs::write(&pw, "hunter2-wrong").unwrap();
    let cfg = support::write_keystore_config(tmp.path(), &key, &pw);
    for sub in ["check", "address", "serve"] {
        let (code, out, err) = run(bin().arg(sub).arg("--config").arg(&cfg));
        assert_eq!(code, 1, "{sub}: {err}");
        assert!(err.contains("wrong password for keystore"), "{sub}: {err}");
        assert!(err.contains(&key.display().to_string()), "{sub}: {err}");
        assert!(
            !err.contains("hunter2") && !out.contains("hunter2"),
            "{sub}: secret leaked"
        );
        assert!(!err.contains("panicked"), "{sub}: {err}");
    }
}

#[test]
fn serve_answers_the_c1_body_over_a_real_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(tmp.path());
    let cfg = support::write_keystore_config(tmp.path(), &key, &pw);
    let mut cmd = bin();
    cmd.arg("serve").arg("--config").arg(&cfg);
    let daemon = Daemon::start(cmd);
    let body = post_orch_info(&daemon.url);
    assert_eq!(body, support::C1_BODY);
    let logs = daemon.logs.lock().unwrap().clone();
    assert!(
        logs.contains(support::C_ADDRESS),
        "address logged at startup: {logs}"
    );
    assert!(!logs.contains(support::C7_PASSWORD), "password leaked into logs");
}

#[test]
fn serve_with_embedded_default_creates_a_dev_key_and_serves_a_valid_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.arg("serve")
        .current_dir(tmp.path())
        // Only the port is overridden, through the documented env override.
        .env("LIVEPEER_SIGNER__SERVER__LISTEN", "127.0.0.1:0");
    let daemon = Daemon::start(cmd);
    let body: serde_json::Value = serde_json::from_str(&post_orch_info(&daemon.url)).unwrap();
    let address: Address = body["address"].as_str().unwrap().parse().unwrap();
    assert_eq!(body["address"].as_str().unwrap(), address.to_checksum());
    let sig = livepeer_signer::eth::hex::decode(body["signature"].as_str().unwrap()).unwrap();
    verify_sig(&address, &keccak256(orch_info::message(&address)), &sig).unwrap();
    let logs = daemon.logs.lock().unwrap().clone();
    assert!(logs.contains("DEVELOPMENT KEY CREATED"), "{logs}");
    assert!(logs.contains("embedded development config"), "{logs}");
    assert!(tmp.path().join("data/password").is_file());
    assert_eq!(
        std::fs::read_dir(tmp.path().join("data/keystore"))
            .unwrap()
            .count(),
        1
    );
}

#[cfg(unix)]
#[test]
fn sigterm_stops_serve_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(tmp.path());
    let cfg = support::write_keystore_config(tmp.path(), &key, &pw);
    let mut cmd = bin();
    cmd.arg("serve").arg("--config").arg(&cfg);
    let mut daemon = Daemon::start(cmd);
    daemon.signal("TERM");
    assert_eq!(daemon.wait().code(), Some(0));
}

#[test]
fn expected_address_pins_the_key_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(tmp.path());
    let cfg = support::write_keystore_config(tmp.path(), &key, &pw);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let pinned = |addr: &str| {
        text.replace(
            "backend = \"keystore\"",
            &format!("backend = \"keystore\"\nexpected_address = \"{addr}\""),
        )
    };
    std::fs::write(&cfg, pinned(support::C_ADDRESS)).unwrap();
    let (code, out, err) = run(bin().arg("address").arg("--config").arg(&cfg));
    assert_eq!((code, out.trim()), (0, support::C_ADDRESS), "{err}");

    let other = "0x7ef5a6135f1fd6a02593eedc869c6d41d934aef8";
    std::fs::write(&cfg, pinned(other)).unwrap();
    for sub in ["check", "serve"] {
        let (code, _, err) = run(bin().arg(sub).arg("--config").arg(&cfg));
        assert_eq!(code, 1, "{sub}: {err}");
        assert!(
            err.contains("expected_address") && err.contains(support::C_ADDRESS),
            "{sub}: {err}"
        );
    }
}

/// `support::bin()` strips the test runner's `LIVEPEER_SIGNER*` variables:
/// this test re-runs its own test binary (this test only) with overrides
/// that break any config, and in there `bin()` must still get a clean
/// `check --offline`. The control first shows that the same overrides do
/// break the binary when they reach it.
#[test]
fn bin_helper_strips_inherited_livepeer_signer_variables() {
    const CHILD: &str = "SUPPORT_BIN_TEST_CHILD";
    const POISON: [(&str, &str); 3] = [
        ("LIVEPEER_SIGNER_CONFIG", "/nonexistent/poisoned.toml"),
        ("LIVEPEER_SIGNER__SERVER__LISTEN", "not-an-address"),
        ("LIVEPEER_SIGNER__LOG__LEVEL", "not-a-level"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let cfg = support::write_keystore_config(tmp.path(), &tmp.path().join("k"), &tmp.path().join("p"));
    if std::env::var_os(CHILD).is_some() {
        // The re-run: the overrides are in this process's environment.
        for (k, v) in POISON {
            assert_eq!(std::env::var(k).as_deref(), Ok(v), "{k}");
        }
        let (code, out, err) = run(bin().args(["check", "--offline", "--config"]).arg(&cfg));
        assert_eq!(
            code, 0,
            "an inherited LIVEPEER_SIGNER* variable reached the binary: {err}"
        );
        assert!(out.starts_with("config ok: "), "{out}");
        return;
    }
    let (code, _, err) = run(bin()
        .args(["check", "--offline", "--config"])
        .arg(&cfg)
        .envs(POISON));
    assert_eq!(
        code, 2,
        "the overrides must break the binary when they reach it: {err}"
    );
    assert!(err.contains("listen"), "{err}");

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "bin_helper_strips_inherited_livepeer_signer_variables",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .envs(POISON)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "the re-run failed:\n{stdout}{stderr}");
    assert!(stdout.contains("1 passed"), "the re-run ran no test:\n{stdout}");
}
