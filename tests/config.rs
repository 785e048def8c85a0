//! Config loading: TOML, env overrides, validation messages.

mod support;

use std::path::PathBuf;

use alloy_primitives::U256;
use livepeer_signer::access::Tokens;
use livepeer_signer::config::{
    pipeline_capability, BackendKind, Config, ConfigSource, LogFormat, PaymentsConfig, Scope,
    EMBEDDED_DEFAULT,
};
use livepeer_signer::livepeer::payment::Rat;

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

// ---------------------------------------------------------------------------
// [payments]

const CHAIN: &str = "[chain]\nrpc_url = \"http://127.0.0.1:8545\"\n";

/// `KS` + `[chain]` + `extra`.
fn with_chain(extra: &str) -> String {
    format!("{KS}{CHAIN}{extra}")
}

fn payments(extra: &str) -> PaymentsConfig {
    load(&with_chain(extra), &[])
        .unwrap_or_else(|e| panic!("{extra}: {e}"))
        .payments
        .expect("[payments] present")
}

fn rat(s: &str) -> Rat {
    Rat::parse(s).unwrap()
}

#[test]
fn payments_defaults_are_go_livepeers() {
    // [chain] alone turns payments on with these defaults (serve uses
    // PaymentsConfig::default() when [payments] is absent).
    assert_eq!(load(&with_chain(""), &[]).unwrap().payments, None);
    let p = payments("[payments]\n");
    assert_eq!(p, PaymentsConfig::default());
    assert_eq!(p.max_ticket_ev, U256::from(3_000_000_000_000u64));
    assert_eq!(p.max_total_ev, U256::from(20_000_000_000_000u64));
    assert_eq!(p.deposit_multiplier.get(), 1);
    assert_eq!(p.max_price_per_unit, None);
    assert!(p.max_price_per_capability.is_empty());
    assert_eq!(p.webhook, None);
    assert_eq!(p.max_price_for([]), None, "no ceiling by default");
}

#[test]
fn payments_limits_are_wei_strings() {
    let p = payments(
        "[payments]\nmax_ticket_ev = \"1000000000000\"\nmax_total_ev = \"115792089237316195423570985008687907853269984665640564039457584007913129639935\"\ndeposit_multiplier = 3\n",
    );
    assert_eq!(p.max_ticket_ev, U256::from(1_000_000_000_000u64));
    assert_eq!(p.max_total_ev, U256::MAX);
    assert_eq!(p.deposit_multiplier.get(), 3);
    for bad in ["1.5", "-1", "0x10", "1eth", "3e12", ""] {
        let e = load(
            &with_chain(&format!("[payments]\nmax_ticket_ev = \"{bad}\"\n")),
            &[],
        )
        .unwrap_err();
        assert!(
            e.contains("is not a decimal number of wei") && e.contains("payments.max_ticket_ev"),
            "{bad}: {e}"
        );
    }
    let e = load(&with_chain("[payments]\nmax_total_ev = \"0\"\n"), &[]).unwrap_err();
    assert!(
        e.contains("[payments] max_ticket_ev and max_total_ev must be > 0 wei"),
        "{e}"
    );
    let e = load(&with_chain("[payments]\ndeposit_multiplier = 0\n"), &[]).unwrap_err();
    assert!(e.contains("payments.deposit_multiplier"), "{e}");
    let e = load(&with_chain("[payments]\nmax_ticket_evs = \"1\"\n"), &[]).unwrap_err();
    assert!(e.contains("unknown field") && e.contains("max_ticket_evs"), "{e}");
}

#[test]
fn payments_prices_are_integers_or_fractions() {
    assert_eq!(
        payments("[payments]\nmax_price_per_unit = \"1/3\"\n").max_price_per_unit,
        Some(rat("1/3"))
    );
    assert_eq!(
        payments("[payments]\nmax_price_per_unit = 5\n").max_price_per_unit,
        Some(Rat::from_integer(5))
    );
    assert_eq!(
        payments("[payments]\nmax_price_per_unit = \"0.5\"\n").max_price_per_unit,
        Some(rat("1/2"))
    );
    let p = payments(
        "[payments]\nmax_price_per_unit = \"1/3\"\n\
         [[payments.max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"default\"\nprice_per_unit = 200\n\
         [[payments.max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"m2\"\nprice_per_unit = \"7/2\"\npixels_per_unit = 7\n",
    );
    let c = &p.max_price_per_capability;
    assert_eq!(c.len(), 2);
    assert_eq!(
        c[0].pixels_per_unit,
        Rat::from_integer(1),
        "pixels_per_unit defaults to 1"
    );
    assert_eq!(
        (c[1].price_per_unit.clone(), c[1].pixels_per_unit.clone()),
        (rat("7/2"), Rat::from_integer(7))
    );
    let lv2v = pipeline_capability("live-video-to-video").unwrap();
    // The model's own entry, else the pipeline's "default"; summed over the
    // request's pairs; with no matching entry, the global ceiling.
    assert_eq!(p.max_price_for([(lv2v, "m2")]), Some(rat("1/2")));
    assert_eq!(p.max_price_for([(lv2v, "other")]), Some(Rat::from_integer(200)));
    assert_eq!(
        p.max_price_for([(lv2v, "m2"), (lv2v, "other")]),
        Some(rat("401/2"))
    );
    let llm = pipeline_capability("llm").unwrap();
    assert_eq!(p.max_price_for([(llm, "x")]), Some(rat("1/3")));
    assert_eq!(p.max_price_for([]), Some(rat("1/3")));

    for bad in ["\"0\"", "0", "\"-1\"", "-1", "\"1/0\"", "\"abc\""] {
        let e = load(
            &with_chain(&format!("[payments]\nmax_price_per_unit = {bad}\n")),
            &[],
        )
        .unwrap_err();
        assert!(
            e.contains("give a positive number of wei, an integer or a string such as \"1/3\"")
                && e.contains("payments.max_price_per_unit"),
            "{bad}: {e}"
        );
    }
    let e = load(
        &with_chain("[[payments.max_price_per_capability]]\npipeline = \"llm\"\nmodel = \"x\"\nprice_per_unit = \"-2/3\"\n"),
        &[],
    )
    .unwrap_err();
    assert!(e.contains("not positive") && e.contains("price_per_unit"), "{e}");
    let e = load(
        &with_chain("[[payments.max_price_per_capability]]\npipeline = \"llm\"\nprice_per_unit = 1\n"),
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("payments.max_price_per_capability[0]model"),
        "model is required: {e}"
    );
}

#[test]
fn payments_capability_entries_name_the_pipeline() {
    let e = load(
        &with_chain("[[payments.max_price_per_capability]]\npipeline = \"live-video\"\nmodel = \"default\"\nprice_per_unit = 1\n"),
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("[[payments.max_price_per_capability]] #1: pipeline = \"live-video\" is not a go-livepeer pipeline; use one of")
            && e.contains("live-video-to-video"),
        "{e}"
    );
    let e = load(
        &with_chain(
            "[[payments.max_price_per_capability]]\npipeline = \"llm\"\nmodel = \"a\"\nprice_per_unit = 1\n\
             [[payments.max_price_per_capability]]\npipeline = \"text-to-image\"\nmodel = \"a\"\nprice_per_unit = 1\n\
             [[payments.max_price_per_capability]]\npipeline = \"llm\"\nmodel = \"a\"\nprice_per_unit = 2\n",
        ),
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("[[payments.max_price_per_capability]] #3: pipeline \"llm\" model \"a\" is listed twice"),
        "{e}"
    );
    let e = load(
        &with_chain(
            "[[payments.max_price_per_capability]]\npipeline = \"llm\"\nmodel = \" \"\nprice_per_unit = 1\n",
        ),
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("model is empty; give a model id or \"default\""),
        "{e}"
    );
    // The same model under two pipelines is two entries.
    payments(
        "[[payments.max_price_per_capability]]\npipeline = \"llm\"\nmodel = \"a\"\nprice_per_unit = 1\n\
         [[payments.max_price_per_capability]]\npipeline = \"text-to-image\"\nmodel = \"a\"\nprice_per_unit = 1\n",
    );
}

#[test]
fn payments_need_chain() {
    for text in [
        format!("{KS}[payments]\n"),
        format!("{KS}[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\n"),
    ] {
        let e = load(&text, &[]).unwrap_err();
        assert!(
            e.contains("[payments] needs [chain]") && e.contains("add [chain] rpc_url"),
            "{e}"
        );
    }
    // An override alone creates [payments], and is refused the same way.
    let e = load(KS, &[("LIVEPEER_SIGNER__PAYMENTS__MAX_TICKET_EV", "5")]).unwrap_err();
    assert!(
        e.contains("[payments] needs [chain]") && e.contains("[chain] rpc_url"),
        "{e}"
    );
}

#[test]
fn payments_webhook_url_and_timeout() {
    let p = payments("[payments.webhook]\nurl = \"https://auth.example.com/authorize?x=1\"\n");
    let w = p.webhook.unwrap();
    assert_eq!(w.url, "https://auth.example.com/authorize?x=1");
    assert_eq!(w.timeout_ms, 5000, "go-livepeer's 5 s");
    assert!(w.headers.is_empty() && w.headers_file.is_none());
    for (url, fragment) in [
        ("auth.example.com/authorize", "is not an absolute URL"),
        ("/authorize", "is not an absolute URL"),
        (
            "ftp://auth.example.com/a",
            "only http:// and https:// URLs with a host are allowed",
        ),
        (
            "file:///etc/passwd",
            "only http:// and https:// URLs with a host are allowed",
        ),
    ] {
        let e = load(&with_chain(&format!("[payments.webhook]\nurl = {url:?}\n")), &[]).unwrap_err();
        assert!(
            e.contains(&format!("[payments.webhook] url = {url:?}")) && e.contains(fragment),
            "{url}: {e}"
        );
    }
    let e = load(&with_chain("[payments.webhook]\n"), &[]).unwrap_err();
    assert!(e.contains("payments.webhook.url"), "url is required: {e}");
    let e = load(
        &with_chain("[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\ntimeout_ms = 0\n"),
        &[],
    )
    .unwrap_err();
    assert!(e.contains("[payments.webhook] timeout_ms must be > 0"), "{e}");
}

#[test]
fn payments_webhook_headers_or_headers_file() {
    let w = payments(
        "[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\nheaders = { \"X-Api-Key\" = \"k\", Authorization = \"Bearer t\" }\n",
    )
    .webhook
    .unwrap();
    assert_eq!(
        w.load_headers().unwrap(),
        vec![
            ("Authorization".to_string(), "Bearer t".to_string()),
            ("X-Api-Key".to_string(), "k".to_string())
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("webhook-headers");
    std::fs::write(&file, "# comment\n\nX-Api-Key: k:with:colons\n").unwrap();
    let w = payments(&format!(
        "[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\nheaders_file = {:?}\n",
        file.display().to_string()
    ))
    .webhook
    .unwrap();
    assert_eq!(w.headers_file.as_deref(), Some(file.as_path()));
    assert_eq!(
        w.load_headers().unwrap(),
        vec![("X-Api-Key".to_string(), "k:with:colons".to_string())]
    );
    let e = load(
        &with_chain("[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\nheaders = { A = \"b\" }\nheaders_file = \"/h\"\n"),
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("[payments.webhook]: set `headers` or `headers_file`, not both"),
        "{e}"
    );
    let e = load(
        &with_chain("[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\nheaders = { \"X Key\" = \"b\" }\n"),
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("[payments.webhook] header \"X Key\": not a valid HTTP header name or value"),
        "{e}"
    );
}

#[test]
fn payments_env_overrides() {
    let c = load(
        &with_chain("[payments]\nmax_ticket_ev = \"1\"\n"),
        &[
            ("LIVEPEER_SIGNER__PAYMENTS__MAX_TICKET_EV", "4000000000000"),
            ("LIVEPEER_SIGNER__PAYMENTS__MAX_PRICE_PER_UNIT", "2/7"),
            ("LIVEPEER_SIGNER__PAYMENTS__DEPOSIT_MULTIPLIER", "2"),
        ],
    )
    .unwrap();
    let p = c.payments.unwrap();
    assert_eq!(p.max_ticket_ev, U256::from(4_000_000_000_000u64));
    assert_eq!(p.max_price_per_unit, Some(rat("2/7")));
    assert_eq!(p.deposit_multiplier.get(), 2);
    // With [chain] only, an override creates [payments].
    let c = load(
        &with_chain(""),
        &[("LIVEPEER_SIGNER__PAYMENTS__MAX_TICKET_EV", "7")],
    )
    .unwrap();
    assert_eq!(c.payments.unwrap().max_ticket_ev, U256::from(7));
    let c = load(
        &with_chain("[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\n"),
        &[("LIVEPEER_SIGNER__PAYMENTS__WEBHOOK__TIMEOUT_MS", "250")],
    )
    .unwrap();
    assert_eq!(c.payments.unwrap().webhook.unwrap().timeout_ms, 250);
    let e = load(
        &with_chain(""),
        &[("LIVEPEER_SIGNER__PAYMENTS__MAX_TICKET_EV", "3e12")],
    )
    .unwrap_err();
    assert!(
        e.contains("is not a decimal number of wei")
            && e.contains("LIVEPEER_SIGNER__PAYMENTS__MAX_TICKET_EV"),
        "{e}"
    );
}

#[test]
fn tokens_with_the_live_payment_scope_and_a_spend_limit() {
    let c = load(
        &format!(
            "{KS}[[auth.tokens]]\nname = \"gw\"\nsha256 = \"{}\"\nscopes = [\"orchestrator-info\", \"live-payment\"]\nmax_ev_per_minute = \"200000000000000\"\n\
             [[auth.tokens]]\nname = \"plain\"\nsha256 = \"{}\"\n",
            livepeer_signer::eth::hex::encode(livepeer_signer::access::token_sha256("gw-token")),
            livepeer_signer::eth::hex::encode(livepeer_signer::access::token_sha256("plain-token")),
        ),
        &[],
    )
    .unwrap();
    let t = &c.auth.tokens;
    assert_eq!(
        t[0].scopes,
        Some(vec![Scope::OrchestratorInfo, Scope::LivePayment])
    );
    assert_eq!(t[0].max_ev_per_minute, Some(U256::from(200_000_000_000_000u64)));
    assert_eq!((t[1].scopes.clone(), t[1].max_ev_per_minute), (None, None));
    assert_eq!(Scope::LivePayment.as_str(), "live-payment");

    let tokens = Tokens::load(&c.auth).unwrap();
    let gw = tokens.authenticate(Some(b"Bearer gw-token")).unwrap();
    assert!(gw.require(Scope::LivePayment).is_ok() && gw.require(Scope::OrchestratorInfo).is_ok());
    assert_eq!(gw.max_ev_per_minute, Some(U256::from(200_000_000_000_000u64)));
    // The default scope set stays ["orchestrator-info"]: no payments.
    let plain = tokens.authenticate(Some(b"Bearer plain-token")).unwrap();
    assert_eq!(
        plain.require(Scope::LivePayment).unwrap_err().to_string(),
        "token \"plain\" lacks the scope \"live-payment\"; add it to the token's `scopes` in [[auth.tokens]]"
    );
    assert_eq!(plain.max_ev_per_minute, None);

    let token = |extra: &str| {
        format!(
            "{KS}[[auth.tokens]]\nname = \"gw\"\nsha256 = \"{}\"\n{extra}\n",
            "0".repeat(64)
        )
    };
    let e = load(&token("scopes = [\"live_payment\"]"), &[]).unwrap_err();
    assert!(
        e.contains("live_payment") && e.contains("auth.tokens[0]scopes[0]"),
        "{e}"
    );
    for bad in ["1e3", "-5", "0.5", "1eth"] {
        let e = load(&token(&format!("max_ev_per_minute = \"{bad}\"")), &[]).unwrap_err();
        assert!(
            e.contains("is not a decimal number of wei") && e.contains("max_ev_per_minute"),
            "{bad}: {e}"
        );
    }
}

/// `check --offline` (and `serve`, before the key is opened) with `[chain]`:
/// a non-loopback listener needs tokens or an auth webhook.
#[test]
fn payments_exposure_guard_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |cmd: &str, text: &str| {
        let file = tmp.path().join("c.toml");
        std::fs::write(&file, text).unwrap();
        let out = support::bin()
            .args(cmd.split(' '))
            .arg("--config")
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let public = "[server]\nlisten = \"0.0.0.0:0\"\n";
    let open = "[auth]\nallow_unauthenticated = true\n";
    const REFUSED: &str = "refusing to serve /generate-live-payment on 0.0.0.0:0 without authentication: \
        payments mint tickets drawn on the key's TicketBroker deposit; add [[auth.tokens]] with scopes \
        including \"live-payment\", configure [payments.webhook], or listen on a loopback address";

    // allow_unauthenticated lifts the general guard, not the payments one.
    for cmd in ["check --offline", "serve"] {
        let (code, err) = run(cmd, &format!("{public}{open}{}", with_chain("")));
        assert_eq!(code, Some(2), "{cmd}: {err}");
        assert!(err.contains(REFUSED), "{cmd}: {err}");
    }
    // Without allow_unauthenticated the general guard answers first.
    let (code, err) = run("check --offline", &format!("{public}{}", with_chain("")));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without authentication"),
        "{err}"
    );
    // A webhook does not lift the general guard either.
    let webhook = "[payments.webhook]\nurl = \"http://127.0.0.1:1/authorize\"\n";
    let (code, err) = run("check --offline", &format!("{public}{}", with_chain(webhook)));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("refusing to listen on 0.0.0.0:0"), "{err}");

    let ok = |text: String| {
        let (code, err) = run("check --offline", &text);
        assert_eq!(code, Some(0), "{text}\n{err}");
    };
    // allow_unauthenticated + a webhook: the webhook is the authentication.
    ok(format!("{public}{open}{}", with_chain(webhook)));
    // Tokens (whatever their scopes).
    ok(format!(
        "{public}{}[[auth.tokens]]\nname = \"gw\"\nsha256 = \"{}\"\nscopes = [\"live-payment\"]\n",
        with_chain(""),
        "0".repeat(64)
    ));
    // Loopback.
    ok(format!("[server]\nlisten = \"[::1]:0\"\n{}", with_chain("")));
    // No [chain]: payments are off, only the general guard applies.
    ok(format!("{public}{open}{KS}"));
}

/// `check --offline` reads the webhook headers as `serve` does: values the
/// TOML parser accepts but HTTP cannot carry are refused there.
#[test]
fn check_offline_loads_the_webhook_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.toml");
    std::fs::write(
        &file,
        with_chain("[payments.webhook]\nurl = \"http://127.0.0.1:1/a\"\nheaders = { \"X-Api-Key\" = \"line\\nbreak\" }\n"),
    )
    .unwrap();
    let out = support::bin()
        .args(["check", "--offline", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("[payments.webhook] header \"X-Api-Key\": not a valid HTTP header name or value")
            && !err.contains("break"),
        "{err}"
    );
}
