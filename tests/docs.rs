//! The operator docs stay true to the code: the error messages quoted in
//! docs/operations.md are the ones the real binary prints, every metric is
//! documented, and relative links resolve.

mod support;

use std::path::Path;

use support::bin;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Each case: a config, the command, the exit code, and a fragment that
/// must appear both in the binary's error and in docs/operations.md.
#[test]
fn troubleshooting_table_quotes_the_real_messages() {
    let docs = read("docs/operations.md");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pw = d.join("pw");
    std::fs::write(&pw, "not-the-password\n").unwrap();
    let key_dir = d.join("keystore");
    std::fs::create_dir(&key_dir).unwrap();
    // vectors.md C7 (light scrypt), password `livepeer-test`.
    std::fs::write(
        key_dir.join("UTC--2026-01-01T00-00-00.000000000Z--96216849c49358b10257cb55b28ea603c874b05e"),
        r#"{"address": "96216849c49358b10257cb55b28ea603c874b05e", "crypto": {"cipher": "aes-128-ctr", "ciphertext": "d3e83830feccc40dfb645a9dd02f8dbd06d7f5d9d4fd0ee2f4be601f0b5ec626", "cipherparams": {"iv": "000102030405060708090a0b0c0d0e0f"}, "kdf": "scrypt", "kdfparams": {"dklen": 32, "n": 4096, "p": 6, "r": 8, "salt": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}, "mac": "2ccb162d2fb9bd919fc8b6a7023e387aecd977bbffc025b2e0bce6f2f9896950"}, "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6", "version": 3}"#,
    )
    .unwrap();
    let short_mac = d.join("state-mac-key");
    std::fs::write(&short_mac, "too-short\n").unwrap();
    let ks = |extra: &str| {
        format!(
            "{extra}\n[key]\nbackend = \"keystore\"\n[key.keystore]\npath = {:?}\npassword_file = {:?}\n",
            key_dir.display().to_string(),
            pw.display().to_string()
        )
    };
    const CHAIN: &str = "[chain]\nrpc_url = \"http://127.0.0.1:8545\"\n";
    let cases: Vec<(&str, String, &str, i32, &str)> = vec![
        (
            "unknown key",
            ks("[server]\nlisten_addr = \"127.0.0.1:1\""),
            "check --offline",
            2,
            "check the spelling against config/*.example.toml",
        ),
        (
            "host name in listen",
            ks("[server]\nlisten = \"localhost:8935\""),
            "check --offline",
            2,
            "invalid socket address syntax for key `server.listen`",
        ),
        (
            "metrics_listen = listen",
            ks("[server]\nlisten = \"127.0.0.1:9000\"\nmetrics_listen = \"127.0.0.1:9000\""),
            "check --offline",
            2,
            "metrics_listen must differ from listen",
        ),
        (
            "duplicate token names",
            ks("[[auth.tokens]]\nname = \"a\"\nfile = \"x\"\n[[auth.tokens]]\nname = \"a\"\nfile = \"y\""),
            "check --offline",
            2,
            "the name is used twice; names must be unique",
        ),
        (
            "bad log level",
            ks("[log]\nlevel = \"loud==\""),
            "check --offline",
            2,
            "use trace, debug, info, warn or error",
        ),
        (
            "exposure guard",
            ks("[server]\nlisten = \"0.0.0.0:0\""),
            "serve",
            2,
            "without authentication: add [[auth.tokens]]",
        ),
        (
            "missing TLS certificate",
            ks("[server]\nlisten = \"127.0.0.1:0\"\n[server.tls]\ncert_file = \"/nonexistent/cert.pem\"\nkey_file = \"/nonexistent/key.pem\""),
            "serve",
            2,
            "[server.tls] certificate file",
        ),
        (
            "missing token file",
            ks("[server]\nlisten = \"127.0.0.1:0\"\n[[auth.tokens]]\nname = \"gw\"\nfile = \"/nonexistent/token\""),
            "serve",
            2,
            "token file",
        ),
        (
            "wrong password",
            ks(""),
            "check",
            1,
            "check [key.keystore] password_file / password_env",
        ),
        (
            "[payments] without [chain]",
            ks("[payments]\nmax_ticket_ev = \"1\""),
            "check --offline",
            2,
            "[payments] needs [chain]: payments read the sender's deposit, reserve and rounds from the chain; add [chain] rpc_url",
        ),
        (
            "payments exposure guard",
            ks(&format!("[server]\nlisten = \"0.0.0.0:0\"\n[auth]\nallow_unauthenticated = true\n{CHAIN}")),
            "serve",
            2,
            "without authentication: payments mint tickets drawn on the key's TicketBroker deposit; add [[auth.tokens]] with scopes including \"live-payment\", configure [payments.webhook], or listen on a loopback address",
        ),
        (
            "unknown pipeline",
            ks(&format!("{CHAIN}[[payments.max_price_per_capability]]\npipeline = \"lv2v\"\nmodel = \"default\"\nprice_per_unit = 1")),
            "check --offline",
            2,
            "is not a go-livepeer pipeline; use one of",
        ),
        (
            "a TOML float as a price",
            ks(&format!("{CHAIN}[payments]\nmax_price_per_unit = 0.5")),
            "check --offline",
            2,
            "0.5 is a float: floats are inexact; write the price as a string, e.g. \"1/2\" or \"0.5\" for key `payments.max_price_per_unit`",
        ),
        (
            "a short state MAC key",
            ks(&format!(
                "{CHAIN}[payments]\nstate_mac_key_file = {:?}",
                short_mac.display().to_string()
            )),
            "check --offline",
            2,
            "bytes after trimming whitespace; at least 32 random bytes are needed (e.g. `openssl rand -hex 32 > FILE`)",
        ),
        (
            "a zero spend limit",
            ks("[[auth.tokens]]\nname = \"gw\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\nmax_ev_per_minute = \"0\""),
            "check --offline",
            2,
            "max_ev_per_minute = \"0\" would refuse every payment; give a positive number of wei, or leave it out for no limit",
        ),
        (
            "deposit_multiplier = 0",
            ks(&format!("{CHAIN}[payments]\ndeposit_multiplier = 0")),
            "check --offline",
            2,
            "invalid value: integer `0`, expected a nonzero u64 for key `payments.deposit_multiplier`",
        ),
        (
            "webhook url",
            ks(&format!("{CHAIN}[payments.webhook]\nurl = \"ftp://auth.example.com/a\"")),
            "check --offline",
            2,
            "only http:// and https:// URLs with a host are allowed",
        ),
        (
            "webhook headers file",
            ks(&format!("{CHAIN}[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\nheaders_file = {:?}", pw.display().to_string())),
            "check --offline",
            2,
            "is not `Name: value`",
        ),
        (
            "unknown scope",
            ks("[[auth.tokens]]\nname = \"gw\"\nfile = \"x\"\nscopes = [\"live_payment\"]"),
            "check --offline",
            2,
            "enum Scope does not have variant constructor",
        ),
        (
            "[discovery] on-chain pool without [chain]",
            ks("[discovery]\nrefresh_interval_s = 60"),
            "check --offline",
            2,
            "[discovery] without `orchestrators` or `webhook_url` reads the on-chain pool (BondingManager and ServiceRegistry), which needs [chain] rpc_url; add [chain] or list the orchestrators",
        ),
        (
            "[discovery] both sources",
            ks("[discovery]\norchestrators = [\"https://orch.example.com:8935\"]\nwebhook_url = \"https://discovery.example.com/o\""),
            "check --offline",
            2,
            "[discovery]: set `orchestrators` or `webhook_url`, not both (go-livepeer would use the webhook and ignore the list)",
        ),
        (
            "[discovery] orchestrator scheme",
            ks("[discovery]\norchestrators = [\"ftp://orch.example.com:8935\"]"),
            "check --offline",
            2,
            "scheme \"ftp\" is not http or https; give e.g. \"https://orch.example.com:8935\"",
        ),
        (
            "[discovery] webhook_url",
            ks("[discovery]\nwebhook_url = \"discovery\""),
            "check --offline",
            2,
            "); give e.g. \"https://discovery.example.com/orchestrators\"",
        ),
        (
            "[discovery] refresh_interval_s = 0",
            ks("[discovery]\norchestrators = [\"orch.example.com:8935\"]\nrefresh_interval_s = 0"),
            "check --offline",
            2,
            "[discovery] refresh_interval_s must be > 0 (go-livepeer's default is 1500)",
        ),
        (
            "[discovery] timeout_ms = 0",
            ks("[discovery]\norchestrators = [\"orch.example.com:8935\"]\ntimeout_ms = 0"),
            "check --offline",
            2,
            "[discovery] timeout_ms must be > 0 (default 3000)",
        ),
        (
            "[discovery] negative extra_nodes",
            ks("[discovery]\norchestrators = [\"orch.example.com:8935\"]\nextra_nodes = -1"),
            "check --offline",
            2,
            "expected an unsigned 64 bit or less integer for key `discovery.extra_nodes`",
        ),
    ];
    for (what, config, cmd, code, fragment) in cases {
        let file = d.join("c.toml");
        std::fs::write(&file, config).unwrap();
        let out = bin()
            .args(cmd.split(' '))
            .arg("--config")
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{what}: {err}");
        assert!(
            err.contains(fragment),
            "{what}: the binary no longer says {fragment:?}: {err}"
        );
        assert!(
            docs.contains(fragment),
            "{what}: docs/operations.md does not quote {fragment:?} (the binary says: {err})"
        );
    }
}

/// Metric names as registered in src/metrics.rs (the first string after
/// each `opts(`).
fn metric_names() -> Vec<String> {
    let src = read("src/metrics.rs");
    let mut names = Vec::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find("opts(") {
        rest = &rest[i + 5..];
        let q = rest.find('"').unwrap();
        let after = &rest[q + 1..];
        let end = after.find('"').unwrap();
        let name = &after[..end];
        // Skip the namespace inside `fn opts` itself.
        if name != "livepeer_signer"
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_metric_is_documented() {
    let names = metric_names();
    assert!(names.len() >= 8, "found only {names:?} in src/metrics.rs");
    assert!(names.contains(&"backend_up".to_string()), "{names:?}");
    let docs = read("docs/operations.md");
    for n in &names {
        assert!(
            docs.contains(&format!("`{n}")),
            "metric {n} is not in docs/operations.md"
        );
    }
}

#[test]
fn relative_links_resolve() {
    for doc in [
        "SECURITY.md",
        "docs/operations.md",
        "deploy/README.md",
        "deploy/aws/README.md",
    ] {
        let text = read(doc);
        let base = root().join(doc).parent().unwrap().to_path_buf();
        let mut rest = text.as_str();
        let mut n = 0;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap();
            let target = &rest[..end];
            if target.contains("://") || target.starts_with('#') {
                continue;
            }
            let path = target.split('#').next().unwrap();
            assert!(base.join(path).exists(), "{doc}: link {target} does not resolve");
            n += 1;
        }
        eprintln!("{doc}: {n} relative links resolve");
    }
    // Files the docs name in backticks, shipped on this branch.
    let ops = read("docs/operations.md") + &read("SECURITY.md");
    for f in [
        "deploy/systemd/livepeer-signer.service",
        "deploy/container/Dockerfile",
        "deploy/kubernetes/deployment.yaml",
        "deploy/aws/iam-policy.json",
        "deploy/aws/key-policy.json",
        "config/keystore.example.toml",
        "config/production-tls-auth.example.toml",
    ] {
        assert!(
            ops.contains(f) || ops.contains(f.rsplit('/').next().unwrap()),
            "{f} not mentioned"
        );
        assert!(root().join(f).exists(), "{f} missing");
    }
}
