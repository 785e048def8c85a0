//! Config loading: TOML, env overrides, validation messages.

use std::path::PathBuf;

use livepeer_signer::config::{BackendKind, Config, ConfigSource, LogFormat, EMBEDDED_DEFAULT};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, String> {
    Config::from_toml_with_env(text, &ConfigSource::File("test.toml".into()), env(vars))
        .map_err(|e| e.to_string())
}

#[test]
fn embedded_default_is_the_repo_file_and_is_valid() {
    let repo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/livepeer-signer.toml"
    ))
    .unwrap();
    assert_eq!(repo, EMBEDDED_DEFAULT);
    let (c, source) = Config::load_with_env(None, env(&[])).unwrap();
    assert_eq!(source, ConfigSource::Embedded);
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8935");
    assert_eq!(c.key.backend, BackendKind::Keystore);
    let ks = c.key.keystore.unwrap();
    assert_eq!(ks.path, PathBuf::from("data/keystore"));
    assert!(ks.create_if_missing);
}

#[test]
fn env_overrides_use_double_underscores_and_the_toml_key_names() {
    let c = load(
        EMBEDDED_DEFAULT,
        &[
            ("LIVEPEER_SIGNER__SERVER__LISTEN", "127.0.0.1:9999"),
            ("LIVEPEER_SIGNER__KEY__KEYSTORE__CREATE_IF_MISSING", "false"),
            (
                "LIVEPEER_SIGNER__KEY__KEYSTORE__ADDRESS",
                "96216849c49358b10257cb55b28ea603c874b05e",
            ),
            ("LIVEPEER_SIGNER__LOG__FORMAT", "json"),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:9999");
    let ks = c.key.keystore.unwrap();
    assert!(!ks.create_if_missing);
    assert_eq!(
        ks.address.unwrap().to_checksum(),
        "0x96216849c49358B10257cb55b28eA603c874b05E"
    );
    assert_eq!(c.log.format, LogFormat::Json);
}

#[test]
fn unknown_keys_are_refused_with_the_key_named() {
    let err = load(
        "[server]\nlisten = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n[key]\nbackend = \"keystore\"\n",
        &[],
    )
    .unwrap_err();
    assert!(err.contains("test.toml") && err.contains("listen_addr"), "{err}");
    let err = load(
        EMBEDDED_DEFAULT,
        &[("LIVEPEER_SIGNER__KEY__KEYSTORE__PASWORD_FILE", "x")],
    )
    .unwrap_err();
    assert!(
        err.contains("pasword_file") && err.contains("LIVEPEER_SIGNER__KEY__KEYSTORE__PASWORD_FILE"),
        "{err}"
    );
}

#[test]
fn invalid_values_say_what_is_allowed() {
    let err = load("[key]\nbackend = \"hsm\"\n", &[]).unwrap_err();
    assert!(err.contains("keystore, pkcs11, aws-kms"), "{err}");
    let err = load(
        "[server]\nlisten = \"localhost\"\n[key]\nbackend = \"keystore\"\n",
        &[],
    )
    .unwrap_err();
    assert!(err.contains("listen") || err.contains("socket address"), "{err}");
    let err = load("[key]\nbackend = \"keystore\"\n[key.keystore]\npath = \"x\"\naddress = \"0x12\"\npassword_file = \"p\"\n", &[]).unwrap_err();
    assert!(err.contains("40 hex digits"), "{err}");
    let err = load("[key\n", &[]).unwrap_err();
    assert!(err.contains("invalid TOML") && err.contains("line 1"), "{err}");
}

#[test]
fn cross_field_rules() {
    let ks = |extra: &str| format!("[key]\nbackend = \"keystore\"\n[key.keystore]\npath = \"x\"\n{extra}");
    assert!(load(&ks(""), &[]).unwrap_err().contains("password_file"));
    assert!(load(&ks("password_file = \"a\"\npassword_env = \"B\"\n"), &[])
        .unwrap_err()
        .contains("only one"));
    assert!(load(&ks("password_env = \"B\"\ncreate_if_missing = true\n"), &[])
        .unwrap_err()
        .contains("needs `password_file`"));
    assert!(load("[key]\nbackend = \"keystore\"\n", &[])
        .unwrap_err()
        .contains("[key.keystore]"));
    assert!(load(
        "[key]\nbackend = \"pkcs11\"\n[key.pkcs11]\nmodule = \"/x.so\"\nkey_label = \"k\"\npin_env = \"P\"\n",
        &[]
    )
    .unwrap_err()
    .contains("token_label"));
    assert!(load(
        "[key]\nbackend = \"aws-kms\"\n[key.aws_kms]\nkey_id = \"k\"\nendpoint_url = \"kms.local\"\n",
        &[]
    )
    .unwrap_err()
    .contains("https://"));
    let err = load(
        &ks("password_file = \"a\"\n[log]\nlevel = \"info,foo=loudest\"\n"),
        &[],
    )
    .unwrap_err();
    assert!(err.contains("[log] level"), "{err}");
}

#[test]
fn non_ascii_log_level_is_an_error_not_a_panic() {
    // Found by the config_toml fuzz target: tracing-subscriber's directive
    // parser panics on this kind of input.
    let level = format!("d\u{FFFD}` , {}\u{FFFD}[", "0".repeat(80));
    let err = load(
        EMBEDDED_DEFAULT,
        &[("LIVEPEER_SIGNER__LOG__LEVEL", level.as_str())],
    )
    .unwrap_err();
    assert!(err.contains("[log] level") && err.contains("only ASCII"), "{err}");
}

const KS: &str = "[key]\nbackend = \"keystore\"\n[key.keystore]\npath = \"k\"\npassword_file = \"p\"\n";

#[test]
fn chain_and_admin_sections() {
    let c = load(
        &format!("{KS}[chain]\nrpc_url = \"http://127.0.0.1:8545\"\n[admin]\n"),
        &[],
    )
    .unwrap();
    let chain = c.chain.unwrap();
    assert_eq!(
        chain.controller.to_string(),
        "0xD8E8328501E9645d16Cf49539efC04f734606ee4",
        "default: Arbitrum One's Controller"
    );
    assert_eq!(
        (
            chain.poll_interval_ms,
            chain.request_timeout_ms,
            chain.max_staleness_ms
        ),
        (5000, 20000, 60000)
    );
    assert_eq!(chain.chain_id, None);
    assert_eq!(c.admin.unwrap().listen.to_string(), "127.0.0.1:3935");
    // An env override alone turns [chain] on.
    let c = load(KS, &[("LIVEPEER_SIGNER__CHAIN__RPC_URL", "http://127.0.0.1:1")]).unwrap();
    assert_eq!(c.chain.unwrap().rpc_url, "http://127.0.0.1:1");

    let e = load(&format!("{KS}[admin]\nlisten = \"127.0.0.1:3935\"\n"), &[]).unwrap_err();
    assert!(e.contains("[admin] needs [chain]"), "{e}");
    let e = load(
        &format!("{KS}[server]\nlisten = \"127.0.0.1:9000\"\n[chain]\nrpc_url = \"http://127.0.0.1:8545\"\n[admin]\nlisten = \"127.0.0.1:9000\"\n"),
        &[],
    )
    .unwrap_err();
    assert!(e.contains("give the admin listener its own address"), "{e}");
    let e = load(&format!("{KS}[chain]\nrpc_url = \"ftp://x\"\n"), &[]).unwrap_err();
    assert!(e.contains("rpc_url"), "{e}");
    let e = load(
        &format!("{KS}[chain]\nrpc_url = \"http://127.0.0.1:8545\"\nrpc = 1\n"),
        &[],
    )
    .unwrap_err();
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn web3signer_max_value_wei_is_typed_at_load() {
    let c = load(
        &format!("{KS}[web3signer]\nmax_value_wei = \"1000000000000000000\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.web3signer.max_value_wei.to_string(), "1000000000000000000");
    for bad in ["1.5", "-1", "0x10", "1eth", ""] {
        let e = load(&format!("{KS}[web3signer]\nmax_value_wei = \"{bad}\"\n"), &[]).unwrap_err();
        assert!(e.contains("is not a decimal number of wei"), "{bad}: {e}");
    }
    let too_big = format!("1{}", "0".repeat(78));
    let e = load(&format!("{KS}[web3signer]\nmax_value_wei = \"{too_big}\"\n"), &[]).unwrap_err();
    assert!(e.contains("max_value_wei"), "{e}");
}

#[test]
fn a_present_backend_section_is_validated_even_when_unused() {
    // The pkcs11 admin commands read [key.pkcs11] with another backend
    // selected: the same rules apply (one validate() for both paths).
    let e = load(
        &format!("{KS}[key.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\nslot = 1\npin_file = \"p\"\n"),
        &[],
    )
    .unwrap_err();
    assert!(e.contains("set only one of `token_label` and `slot`"), "{e}");
    let e = load(
        &format!(
            "{KS}[key.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\nkey_id = \"zz\"\npin_file = \"p\"\n"
        ),
        &[],
    )
    .unwrap_err();
    assert!(e.contains("key_id = \"zz\" is not hex"), "{e}");
    // Without a key label or id it is fine for the admin commands…
    load(
        &format!("{KS}[key.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\npin_file = \"p\"\n"),
        &[],
    )
    .unwrap();
    // …but not as the signing backend.
    let e = load(
        "[key]\nbackend = \"pkcs11\"\n[key.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\npin_file = \"p\"\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("set `key_label`, `key_id` (hex CKA_ID), or both"),
        "{e}"
    );
}

#[test]
fn chain_ticket_broker_pin() {
    let c = load(
        &format!("{KS}[chain]\nrpc_url = \"http://127.0.0.1:8545\"\nticket_broker = \"0xa8bB618B1520E284046F3dFc448851A1Ff26e41B\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(
        c.chain.unwrap().ticket_broker.unwrap().to_string(),
        "0xa8bB618B1520E284046F3dFc448851A1Ff26e41B"
    );
    let e = load(
        &format!("{KS}[chain]\nrpc_url = \"http://127.0.0.1:8545\"\nticket_broker = \"0x0000000000000000000000000000000000000000\"\n"),
        &[],
    )
    .unwrap_err();
    assert!(e.contains("ticket_broker"), "{e}");
}
