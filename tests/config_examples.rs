//! Every `config/*.toml` passes `livepeer-signer check --offline` (the real
//! binary). The directory is globbed, so an example added later is covered
//! without touching this file.

mod support;

use std::path::{Path, PathBuf};

use support::bin;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// All `*.toml` files of `config/`, sorted.
fn tomls() -> Vec<PathBuf> {
    let dir = config_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The example with the files it names made real under `root` (see
/// `support::config_files`), written to `root`.
fn materialize(example: &Path, root: &Path) -> PathBuf {
    let text = std::fs::read_to_string(example).unwrap();
    let text = support::config_files::materialize(&text, root);
    let out = root.join(example.file_name().unwrap());
    std::fs::write(&out, text).unwrap();
    out
}

#[test]
fn every_toml_in_config_passes_check_offline() {
    let files = tomls();
    assert!(
        !files.is_empty(),
        "{} holds no .toml file: the examples are missing",
        config_dir().display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    for example in &files {
        let root = tmp.path().join(example.file_stem().unwrap());
        let file = materialize(example, &root);
        let out = bin()
            .args(["check", "--offline", "--config"])
            .arg(&file)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} fails `check --offline`:\n{stderr}",
            example.display()
        );
        assert!(
            stdout.starts_with("config ok: ") && stdout.contains(&file.display().to_string()),
            "{}: unexpected output {stdout:?}",
            file.display()
        );
        checked.push(example.file_name().unwrap().to_string_lossy().into_owned());
    }
    eprintln!("checked {} config files: {checked:?}", checked.len());
    // The two examples this issue ships must be among them.
    for required in [
        "keystore.example.toml",
        "production-tls-auth.example.toml",
        "livepeer-signer.toml",
    ] {
        assert!(
            checked.iter().any(|c| c == required),
            "{required} missing from config/"
        );
    }
}

/// `check --offline` reads the files `serve` reads: the production example
/// as shipped (its files do not exist here) is refused, naming the token
/// file; with the files in place but an empty token file, or without the
/// TLS key, the file is named.
/// `check --offline --config file`: it must fail with exit 2 and say `fragment`.
fn refused_saying(file: &Path, fragment: &str) {
    let out = bin()
        .args(["check", "--offline", "--config"])
        .arg(file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(fragment), "expected {fragment:?} in: {err}");
}

#[test]
fn check_offline_reads_tls_and_token_files() {
    let example = config_dir().join("production-tls-auth.example.toml");
    refused_saying(
        &example,
        "token file /etc/livepeer-signer/tokens/gateway-us-1: No such file",
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = materialize(&example, tmp.path());
    let token = tmp.path().join("etc/livepeer-signer/tokens/gateway-us-1");
    std::fs::write(&token, " \n").unwrap();
    refused_saying(&file, &format!("token file {} is empty", token.display()));
    std::fs::write(&token, "a-token\n").unwrap();
    let key = tmp.path().join("etc/livepeer-signer/tls/key.pem");
    std::fs::remove_file(&key).unwrap();
    refused_saying(
        &file,
        &format!("[server.tls] key file {}: No such file", key.display()),
    );
}

/// The check above would be worthless if `check --offline` accepted anything.
#[test]
fn check_offline_rejects_a_broken_copy_of_an_example() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(config_dir().join("keystore.example.toml")).unwrap();
    let broken = text.replace("keep_alive_s = 75", "keep_alive_secs = 75");
    assert_ne!(text, broken, "the example no longer sets keep_alive_s");
    let file = tmp.path().join("broken.toml");
    std::fs::write(&file, broken).unwrap();
    let out = bin()
        .args(["check", "--offline", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("keep_alive_secs"));
}

/// Every key of the sections these examples cover appears in them (set or
/// commented out), so the examples stay a complete reference.
#[test]
fn examples_mention_every_key_of_their_sections() {
    let dir = config_dir();
    let text = ["keystore.example.toml", "production-tls-auth.example.toml"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let keys = [
        // [server]
        "listen",
        "metrics_listen",
        "workers",
        "max_connections",
        "body_limit_bytes",
        "request_timeout_ms",
        "keep_alive_s",
        "shutdown_timeout_s",
        // [server.tls]
        "cert_file",
        "key_file",
        "client_ca_file",
        // [auth], [[auth.tokens]]
        "allow_unauthenticated",
        "name",
        "sha256",
        "file",
        // [health]
        "probe_interval_s",
        "probe_timeout_ms",
        // [log]
        "level",
        "format",
        // [key], [key.keystore]
        "backend",
        "path",
        "address",
        "password_file",
        "password_env",
        "create_if_missing",
    ];
    for key in keys {
        let present = text.lines().any(|l| {
            let l = l.trim_start().trim_start_matches('#').trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        assert!(present, "no `{key} = …` line (set or commented) in the examples");
    }
    for section in [
        "[server]",
        "[server.tls]",
        "[auth]",
        "[[auth.tokens]]",
        "[health]",
        "[log]",
        "[key]",
        "[key.keystore]",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == section),
            "section {section} missing from the examples"
        );
    }
}

/// A `key = …` line, set or commented out.
fn mentions_key(text: &str, key: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start().trim_start_matches('#').trim_start();
        l.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    })
}

/// config/payments.example.toml is the reference for `[payments]`, its
/// subsections and the payment keys of `[[auth.tokens]]`.
#[test]
fn payments_example_mentions_every_key_of_its_sections() {
    let text = std::fs::read_to_string(config_dir().join("payments.example.toml")).unwrap();
    for key in [
        // [payments]
        "max_ticket_ev",
        "max_total_ev",
        "deposit_multiplier",
        "max_price_per_unit",
        "state_mac_key_file",
        // [[payments.max_price_per_capability]]
        "pipeline",
        "model",
        "price_per_unit",
        "pixels_per_unit",
        // [payments.webhook]
        "url",
        "headers",
        "headers_file",
        "timeout_ms",
        // [[auth.tokens]]
        "scopes",
        "max_ev_per_minute",
        // [chain] (payments are on whenever it is set)
        "rpc_url",
    ] {
        assert!(
            mentions_key(&text, key),
            "no `{key} = …` line (set or commented) in payments.example.toml"
        );
    }
    for section in [
        "[chain]",
        "[payments]",
        "[[payments.max_price_per_capability]]",
        "[payments.webhook]",
        "[[auth.tokens]]",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == section),
            "section {section} missing from payments.example.toml"
        );
    }
    assert!(
        text.contains("scopes = [\"live-payment\"]"),
        "a token with only the live-payment scope"
    );
}

/// `check --offline` reads the webhook's `headers_file` as `serve` does.
#[test]
fn check_offline_reads_the_webhook_headers_file() {
    let example = config_dir().join("payments.example.toml");
    let tmp = tempfile::tempdir().unwrap();
    let file = materialize(&example, tmp.path());
    let headers = tmp.path().join("etc/livepeer-signer/webhook-headers");
    std::fs::write(&headers, "Authorization Bearer no-colon\n").unwrap();
    refused_saying(
        &file,
        &format!(
            "[payments.webhook] headers_file {}: line 1 is not `Name: value`",
            headers.display()
        ),
    );
    std::fs::remove_file(&headers).unwrap();
    refused_saying(
        &file,
        &format!(
            "[payments.webhook] headers_file: file {}: No such file",
            headers.display()
        ),
    );
}

/// config/discovery.example.toml is the reference for `[discovery]`: every
/// key, each of the three sources, and a token with the `discovery` scope.
#[test]
fn discovery_example_mentions_every_key_of_its_section() {
    let text = std::fs::read_to_string(config_dir().join("discovery.example.toml")).unwrap();
    for key in [
        "orchestrators",
        "webhook_url",
        "refresh_interval_s",
        "extra_nodes",
        "max_price_per_unit",
        "timeout_ms",
        // the on-chain source needs [chain]
        "rpc_url",
        // [[auth.tokens]]
        "scopes",
    ] {
        assert!(
            mentions_key(&text, key),
            "no `{key} = …` line (set or commented) in discovery.example.toml"
        );
    }
    for section in ["[discovery]", "[[auth.tokens]]"] {
        assert!(
            text.lines().any(|l| l.trim() == section),
            "section {section} missing from discovery.example.toml"
        );
    }
    assert!(
        text.lines().any(|l| l.trim() == "# [chain]"),
        "the on-chain source's [chain] (commented out) is missing"
    );
    assert!(
        text.contains("scopes = [\"discovery\"]"),
        "a token with only the discovery scope"
    );
    // Only loopback and example.com hosts: the example must never point at a real service.
    let quoted = text.lines().flat_map(|l| l.split('"').skip(1).step_by(2));
    let mut urls = 0;
    for url in quoted.filter(|q| q.starts_with("http://") || q.starts_with("https://")) {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .unwrap_or_default();
        assert!(
            host == "127.0.0.1" || host == "example.com" || host.ends_with(".example.com") || host == "…",
            "discovery.example.toml names the host {host:?} ({url})"
        );
        urls += 1;
    }
    assert!(
        urls >= 3,
        "expected the list, the webhook and the RPC URL, found {urls} URLs"
    );
}
