//! `GET /discover-orchestrators` ([discovery], go-livepeer's
//! `-remoteDiscovery`), black box: the real binary with the §C key, real
//! gRPC orchestrators on 127.0.0.1 (plaintext and TLS, `/discovery` runner
//! records), a real `-orchWebhookUrl` server, and the BondingManager /
//! ServiceRegistry pool on a real anvil.
//!
//! Spec: ../shared/protocol/go-livepeer-remote-signer.md §4 and §9
//! ("Discovery bootstrap race"); vectors: ../shared/protocol/vectors.md B5
//! (go-livepeer `server/remote_signer_test.go`, lines 1462–2219), C1.
//!
//! Needs `tests/chain/setup.sh` (anvil, solc-js) for the tests that need
//! `[chain]`; they fail without it.

mod support;

#[path = "support/payments.rs"]
mod payments;

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use livepeer_signer::access::token_sha256;
use livepeer_signer::eth::hex;
use livepeer_signer::livepeer::proto::{OrchestratorInfo, PriceInfo};
use payments::{field, metric, Chain, Signer};
use support::orchestrator::{
    ai_info, default_info, GrpcAnswer, GrpcCall, HttpAnswer, OrchWebhook, Orchestrator,
    CAP_LIVE_VIDEO_TO_VIDEO as LV2V, CAP_LLM as LLM, CAP_TEXT_TO_IMAGE as T2I,
};

/// `Capability_ImageToImage`.
const I2I: u32 = 28;

/// How long a test waits for the daemon to reach a state.
const DEADLINE: Duration = Duration::from_secs(20);

/// The 503 envelope of an empty cache (spec §1.5, §4.2).
const EMPTY_503: &str = "{\"error\":{\"message\":\"Service Unavailable Error\"}}\n";

const M: &str = "livepeer_signer_discovery_";

fn c_addr() -> Address {
    support::C_ADDRESS.parse().unwrap()
}

/// The §C signature of vectors C1 (`Sign(ASCII(EIP-55 address))`), 65 bytes.
fn c1_sig() -> Vec<u8> {
    let c1: serde_json::Value = serde_json::from_str(support::C1_BODY).unwrap();
    hex::decode(c1["signature"].as_str().unwrap().trim_start_matches("0x")).unwrap()
}

/// `ai_info(models)` with a global `price_info` of `global` (go-livepeer drops
/// an answer without one) and `transcoder` (empty: the server's own URL).
fn info(transcoder: &str, models: &[(u32, &str, i64)], global: (i64, i64)) -> OrchestratorInfo {
    let mut i = ai_info(models);
    i.transcoder = transcoder.to_string();
    i.price_info = Some(PriceInfo {
        price_per_unit: global.0,
        pixels_per_unit: global.1,
        ..Default::default()
    });
    i
}

/// A plaintext orchestrator answering `info` and `/discovery` `discovery`.
fn orch(info: OrchestratorInfo, discovery: &str) -> Orchestrator {
    let o = Orchestrator::http(c_addr());
    o.set_info(info);
    o.set_discovery_json(discovery);
    o
}

/// `orchestrators = [...]` (TOML).
fn list(urls: &[String]) -> String {
    let quoted: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    format!("orchestrators = [{}]\n", quoted.join(", "))
}

/// A daemon without `[chain]`, `config` appended.
async fn daemon(config: &str) -> Signer {
    Signer::on(None, config, 1500).await
}

/// One answer of the daemon.
#[derive(Debug)]
struct Got {
    status: u16,
    content_type: Option<String>,
    allow: Option<String>,
    body: String,
}

async fn request(s: &Signer, method: reqwest::Method, query: &str, token: Option<&str>) -> Got {
    let mut rb = s
        .http
        .request(method, format!("{}/discover-orchestrators{query}", s.url));
    if let Some(t) = token {
        rb = rb.header("Authorization", format!("Bearer {t}"));
    }
    let r = rb.send().await.expect("request /discover-orchestrators");
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let (content_type, allow) = (h("content-type"), h("allow"));
    Got {
        status: r.status().as_u16(),
        content_type,
        allow,
        body: r.text().await.unwrap(),
    }
}

/// `GET /discover-orchestrators{query}`.
async fn get(s: &Signer, query: &str) -> Got {
    request(s, reqwest::Method::GET, query, None).await
}

/// Polls `GET /discover-orchestrators{query}` until `done(body)` holds for a
/// 200 (503 is the only other answer allowed meanwhile); returns the body.
async fn wait_body(s: &Signer, query: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let g = get(s, query).await;
        match g.status {
            200 => {
                assert_eq!(g.content_type.as_deref(), Some("application/json"), "{g:?}");
                if done(&g.body) {
                    return g.body;
                }
            }
            503 => assert_eq!(g.body, EMPTY_503),
            _ => panic!("unexpected answer {g:?}"),
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}; last answer {g:?}; logs:\n{}",
            s.daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first 200 body.
async fn wait_ok(s: &Signer) -> String {
    wait_body(s, "", "a 200", |_| true).await
}

/// The `address` of every entry, in order.
fn addresses(body: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"))
        .iter()
        .map(|e| e["address"].as_str().unwrap().to_string())
        .collect()
}

/// Entry `address` of a response body.
fn entry(body: &str, address: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|e| e["address"] == address)
        .unwrap_or_else(|| panic!("no entry {address} in {body}"))
        .clone()
}

/// The runner URLs of one entry.
fn runner_urls(e: &serde_json::Value) -> Vec<String> {
    e["runners"]
        .as_array()
        .map(|a| a.iter().map(|r| r["url"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// A runner record as go-livepeer's `json.Encoder` writes it (field order
/// of `LiveRunnerDiscoveryRunner`, no optional field set).
fn runner(url: &str, app: &str, capacity: (i64, i64, i64), price: &str, unit: &str) -> String {
    format!(
        "{{\"url\":\"{url}\",\"app\":\"{app}\",\"capacity\":{},\"capacity_used\":{},\"capacity_available\":{},\
         \"price_info\":{{\"price\":{price},\"currency\":\"wei\",\"unit\":\"{unit}\"}}}}",
        capacity.0, capacity.1, capacity.2
    )
}

/// One `discoveryResponse` as go-livepeer writes it.
fn entry_json(address: &str, caps: &[&str], runners: &[String]) -> String {
    let caps: Vec<String> = caps.iter().map(|c| format!("\"{c}\"")).collect();
    let mut out = format!(
        "{{\"address\":\"{address}\",\"score\":1,\"capabilities\":[{}]",
        caps.join(",")
    );
    if !runners.is_empty() {
        out.push_str(&format!(",\"runners\":[{}]", runners.join(",")));
    }
    out.push('}');
    out
}

fn array(entries: &[&String]) -> String {
    let parts: Vec<&str> = entries.iter().map(|s| s.as_str()).collect();
    format!("[{}]\n", parts.join(","))
}

/// Every `event=discovery_refresh` audit line so far.
/// The `event=discovery_refresh` audit lines once there are at least `n`
/// (logs reach the test through the daemon's log thread and stderr, so a
/// line can trail the answer it describes).
fn audits_at_least(s: &Signer, n: usize) -> Vec<serde_json::Value> {
    let start = Instant::now();
    loop {
        let audits = refresh_audits(s);
        if audits.len() >= n {
            return audits;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{} of {n} discovery_refresh lines; logs:\n{}",
            audits.len(),
            s.daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn refresh_audits(s: &Signer) -> Vec<serde_json::Value> {
    s.daemon
        .logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| field(v, "event").as_deref() == Some("discovery_refresh"))
        .collect()
}

fn num(v: &serde_json::Value, key: &str) -> u64 {
    field(v, key)
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {v}: {e}"))
}

/// `[[payments.max_price_per_capability]]` entries.
fn cap_max(entries: &[(&str, &str, i64)]) -> String {
    entries
        .iter()
        .map(|(p, m, price)| {
            format!("\n[[payments.max_price_per_capability]]\npipeline = \"{p}\"\nmodel = \"{m}\"\nprice_per_unit = {price}\n")
        })
        .collect()
}

// ---------------------------------------------------------------------------
// 1. B5 end to end

/// vectors B5: orch1's `/discovery` (go-livepeer lines 1523–1556), verbatim.
const B5_ORCH1_DISCOVERY: &str = r#"[
    {
        "address": "https://orch1.example.com:8935/",
        "score": 99,
        "capabilities": ["evil/app"],
        "unknown_field": "must-not-leak",
        "runners": [
            {"url":"https://orch1.example.com:8935/scope-ok","app":"live-video-to-video/model-a","price_info":{"price":80,"currency":"wei","unit":"seconds"}},
            {"url":"https://orch1.example.com:8935/scope-missing-price","app":"live-video-to-video/model-a"},
            {"url":"https://orch1.example.com:8935/scope-too-expensive","app":"live-video-to-video/model-a","price_info":{"price":120,"currency":"wei","unit":"seconds"}},
            {"url":"https://orch1.example.com:8935/scope-unsupported-unit","app":"live-video-to-video/model-a","price_info":{"price":1,"currency":"usd","unit":"seconds"}},
            {"url":"https://orch1.example.com:8935/scope-invalid-price","app":"live-video-to-video/model-a","price_info":{"price":0,"currency":"wei","unit":"seconds"}},
            {"url":"https://orch1.example.com:8935/scope-invalid-pixels","app":"live-video-to-video/model-a","price_info":{"price":0,"currency":"wei","unit":"seconds"}},
            {"url":"https://orch1.example.com:8935/txt","app":"text-to-image/model-b","price_info":{"price":1,"currency":"wei","unit":"seconds"}}
        ]
    },
    {
        "address": "https://discovered.example.com:8935",
        "runners": [
            {"url":"https://discovered.example.com:8935/scope","app":"live-video-to-video/model-a","capacity":3,"price_info":{"price":80,"currency":"wei","unit":"seconds"}},
            {"url":"https://discovered.example.com:8935/dupe","app":"live-video-to-video/model-a","capacity":1,"price_info":{"price":80,"currency":"wei","unit":"seconds"}},
            {"url":"https://discovered.example.com:8935/missing-price","app":"live-video-to-video/model-a"},
            {"url":"https://discovered.example.com:8935/too-expensive","app":"live-video-to-video/model-a","price_info":{"price":120,"currency":"wei","unit":"seconds"}}
        ]
    },
    {
        "address": "https://discovered.example.com:8935/",
        "runners": [
            {"url":"https://discovered.example.com:8935/dupe","app":"live-video-to-video/model-a","capacity":1,"capacity_used":1,"capacity_available":0,"price_info":{"price":80,"currency":"wei","unit":"seconds"}},
            {"url":"https://discovered.example.com:8935/dupe","app":"live-video-to-video/model-a","capacity":2,"price_info":{"price":80,"currency":"wei","unit":"seconds"}}
        ]
    }
]"#;

/// vectors B5: orch2's `/discovery` (lines 1584–1599).
const B5_ORCH2_DISCOVERY: &str = r#"[
    {
        "address": "https://orch2.example.com:8935",
        "runners": [
            {"url":"https://orch2.example.com:8935/txt","app":"text-to-image/model-b","price_info":{"price":999,"currency":"wei","unit":"seconds"}},
            {"url":"https://orch2.example.com:8935/scope","app":"live-video-to-video/model-a","price_info":{"price":1,"currency":"wei","unit":"seconds"}}
        ]
    },
    {
        "address": "https://discovered.example.com:8935",
        "runners": [
            {"url":"https://discovered.example.com:8935/from-orch2","app":"live-video-to-video/model-a","price_info":{"price":80,"currency":"wei","unit":"seconds"}}
        ]
    }
]"#;

/// vectors B5: orch3's `/discovery` (lines 1615–1620).
const B5_ORCH3_DISCOVERY: &str = r#"[{
    "address": "https://orch3.example.com:8935",
    "runners": [
        {"url":"https://orch3.example.com:8935/scope","app":"live-video-to-video/model-a","price_info":{"price":1,"currency":"wei","unit":"seconds"}}
    ]
}]"#;

#[tokio::test(flavor = "multi_thread")]
async fn b5_end_to_end_exact_body_and_caps_filter() {
    const MA: &str = "live-video-to-video/model-a";
    const MB: &str = "text-to-image/model-b";
    // B5's fixture, each OrchNetworkCapabilities answered by a real orchestrator.
    let orch1 = orch(
        info(
            "https://orch1.example.com:8935",
            &[(LV2V, "model-a", 80)],
            (200, 1),
        ),
        B5_ORCH1_DISCOVERY,
    );
    let orch2 = orch(
        info(
            "https://orch2.example.com:8935",
            &[(LV2V, "model-a", 120), (T2I, "model-b", 50)],
            (200, 1),
        ),
        B5_ORCH2_DISCOVERY,
    );
    let orch3 = orch(
        info(
            "https://orch3.example.com:8935",
            &[(LV2V, "model-a", 200)],
            (200, 1),
        ),
        B5_ORCH3_DISCOVERY,
    );
    let mut invalid = info("://invalid-uri", &[(LV2V, "model-a", 1)], (1, 1));
    invalid.capabilities_prices.clear();
    let orch4 = orch(invalid, "[]");
    let urls = [orch1.url(), orch2.url(), orch3.url(), orch4.url()];

    // The lv2v model-a max of 100 and no global max: [payments], so [chain].
    let chain = Chain::start(U256::ZERO, U256::ZERO).await;
    let config = format!(
        "[payments]\n{}\n[discovery]\n{}refresh_interval_s = 3600\n",
        cap_max(&[("live-video-to-video", "model-a", 100)]),
        list(&urls)
    );
    let s = Signer::on(Some(chain), &config, 1500).await;
    let body = wait_ok(&s).await;

    let orch1_json = entry_json(
        "https://orch1.example.com:8935",
        &[MA, MB],
        &[
            runner(
                "https://orch1.example.com:8935/scope-ok",
                MA,
                (0, 0, 0),
                "80",
                "seconds",
            ),
            runner(
                "https://orch1.example.com:8935/scope-too-expensive",
                MA,
                (0, 0, 0),
                "120",
                "seconds",
            ),
            runner(
                "https://orch1.example.com:8935/txt",
                MB,
                (0, 0, 0),
                "1",
                "seconds",
            ),
        ],
    );
    let orch2_json = entry_json(
        "https://orch2.example.com:8935",
        &[MA, MB],
        &[
            runner(
                "https://orch2.example.com:8935/txt",
                MB,
                (0, 0, 0),
                "999",
                "seconds",
            ),
            runner(
                "https://orch2.example.com:8935/scope",
                MA,
                (0, 0, 0),
                "1",
                "seconds",
            ),
        ],
    );
    let discovered_json = entry_json(
        "https://discovered.example.com:8935",
        &[MA],
        &[
            runner(
                "https://discovered.example.com:8935/scope",
                MA,
                (3, 0, 0),
                "80",
                "seconds",
            ),
            // The first `dupe` record wins: capacity 1, capacity_used 0.
            runner(
                "https://discovered.example.com:8935/dupe",
                MA,
                (1, 0, 0),
                "80",
                "seconds",
            ),
            runner(
                "https://discovered.example.com:8935/too-expensive",
                MA,
                (0, 0, 0),
                "120",
                "seconds",
            ),
            runner(
                "https://discovered.example.com:8935/from-orch2",
                MA,
                (0, 0, 0),
                "80",
                "seconds",
            ),
        ],
    );
    let orch3_json = entry_json(
        "https://orch3.example.com:8935",
        &[MA],
        &[runner(
            "https://orch3.example.com:8935/scope",
            MA,
            (0, 0, 0),
            "1",
            "seconds",
        )],
    );
    // Candidate order, then addresses only known from /discovery, first seen.
    let all = array(&[&orch1_json, &orch2_json, &discovered_json, &orch3_json]);
    assert_eq!(body, all);
    for leak in [
        "unknown_field",
        "must-not-leak",
        "evil",
        "\"score\":99",
        "invalid-uri",
    ] {
        assert!(!body.contains(leak), "{leak} leaked: {body}");
    }
    // B5's own checks, on the parsed body.
    assert_eq!(
        addresses(&body),
        [
            "https://orch1.example.com:8935",
            "https://orch2.example.com:8935",
            "https://discovered.example.com:8935",
            "https://orch3.example.com:8935"
        ]
    );
    let d = entry(&body, "https://discovered.example.com:8935");
    assert_eq!(d["runners"][1]["capacity"], 1);
    assert_eq!(d["runners"][1]["capacity_used"], 0);
    assert_eq!(d["runners"].as_array().unwrap().len(), 4);

    // ?caps= (OR, by requested cap, each address once; empty values ignored).
    let t2i_only = array(&[&orch1_json, &orch2_json]);
    for (query, want) in [
        ("?caps=live-video-to-video/model-a", &all),
        (
            "?caps=live-video-to-video/model-a&caps=text-to-image/model-b",
            &all,
        ),
        (
            "?caps=text-to-image/model-b&caps=live-video-to-video/model-a",
            &all,
        ),
        ("?caps=text-to-image/model-b", &t2i_only),
        ("?caps=text-to-image%2Fmodel-b&caps=nothing/here", &t2i_only),
        ("?caps=&caps=", &all),
        ("?other=x", &all),
        ("?caps=nothing/here", &"[]\n".to_string()),
        ("?caps=evil/app", &"[]\n".to_string()),
    ] {
        let g = get(&s, query).await;
        assert_eq!(g.status, 200, "{query}: {g:?}");
        assert_eq!(g.content_type.as_deref(), Some("application/json"), "{query}");
        assert_eq!(&g.body, want, "{query}");
    }

    // One refresh (the snapshot is kept for an hour): its rejections and
    // errors, exactly. B5's rejected runners: 4 invalid prices (missing, 0,
    // 0, discovered's missing), 1 usd; orch4's transcoder is no URI (dropped
    // when the snapshot is built, not a poll error).
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, &format!("{M}refreshes_total{{result=\"ok\"}}")),
        1.0,
        "{m}"
    );
    assert_eq!(metric(&m, &format!("{M}orchestrators")), 4.0, "{m}");
    assert_eq!(
        metric(
            &m,
            &format!("{M}runners_rejected_total{{reason=\"invalid_price\"}}")
        ),
        4.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            &format!("{M}runners_rejected_total{{reason=\"unsupported_currency\"}}")
        ),
        1.0,
        "{m}"
    );
    for kind in [
        "source",
        "connect",
        "timeout",
        "grpc",
        "invalid_info",
        "discovery",
    ] {
        assert_eq!(
            metric(&m, &format!("{M}poll_errors_total{{kind=\"{kind}\"}}")),
            0.0,
            "{kind}: {m}"
        );
    }
    let audits = audits_at_least(&s, 1);
    assert_eq!(audits.len(), 1, "{audits:?}");
    let a = &audits[0];
    assert_eq!(field(a, "source").as_deref(), Some("static"));
    assert_eq!(
        (
            num(a, "candidates"),
            num(a, "answered"),
            num(a, "orchestrators"),
            num(a, "runners"),
            num(a, "runners_rejected"),
            num(a, "errors")
        ),
        (4, 4, 4, 10, 5, 0),
        "{a}"
    );
    // The conflicting `dupe` (capacity 2) is logged once; the first record stays.
    let logs = s.daemon.logs();
    let conflicts: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("conflicting runner records"))
        .collect();
    assert_eq!(conflicts.len(), 1, "{logs}");
    assert!(
        conflicts[0].contains("https://discovered.example.com:8935/dupe"),
        "{}",
        conflicts[0]
    );
    // Every orchestrator was asked once, and its /discovery fetched once.
    for o in [&orch1, &orch2, &orch3, &orch4] {
        assert_eq!(o.requests().len(), 1, "{}", o.url());
        assert_eq!(o.discovery_calls().len(), 1, "{}", o.url());
    }
}

// ---------------------------------------------------------------------------
// 2. Nothing eligible → 503

#[tokio::test(flavor = "multi_thread")]
async fn all_invalid_or_too_expensive_is_503_and_rebuilt_on_request() {
    // B5 lines 1668–1737, with a ceiling of 100 ([discovery] max_price_per_unit).
    let too_expensive = orch(
        info("", &[(LV2V, "model-a", 200)], (1, 1)),
        // Its runner records are refused too: above the ceiling, usd.
        &format!(
            "[{{\"address\":\"{}\",\"runners\":[\
             {{\"url\":\"r1\",\"app\":\"live-video-to-video/model-a\",\"price_info\":{{\"price\":101,\"currency\":\"wei\",\"unit\":\"seconds\"}}}},\
             {{\"url\":\"r2\",\"app\":\"live-video-to-video/model-a\",\"price_info\":{{\"price\":1,\"currency\":\"usd\",\"unit\":\"seconds\"}}}}]}}]",
            "http://127.0.0.1:1"
        ),
    );
    // Global price too expensive, no per-capability price.
    let mut global = info("", &[(LV2V, "model-a", 0)], (200, 1));
    global.capabilities_prices.clear();
    let global_too_expensive = orch(global, "[]");
    let also_invalid = orch(info("://also-invalid", &[(LV2V, "model-a", 1)], (1, 1)), "[]");
    // price_info {0, 0} and no price_info: dropped at the poll (invalid_info).
    let missing_price = orch(info("", &[(LV2V, "model-a", 1)], (0, 0)), "[]");
    let mut nil = ai_info(&[(LV2V, "model-a", 1)]);
    nil.price_info = None;
    let nil_price = orch(nil, "[]");
    // No model id: no pair at all.
    let no_model = orch(info("", &[(LV2V, "", 1)], (1, 1)), "[]");
    let all = [
        &too_expensive,
        &global_too_expensive,
        &also_invalid,
        &missing_price,
        &nil_price,
        &no_model,
    ];
    let urls: Vec<String> = all.iter().map(|o| o.url()).collect();
    let s = daemon(&format!(
        "[discovery]\n{}max_price_per_unit = 100\nrefresh_interval_s = 3600\n",
        list(&urls)
    ))
    .await;
    // Wait for the first poll to be over.
    let start = Instant::now();
    while refresh_audits(&s).is_empty() {
        assert!(start.elapsed() < DEADLINE, "{}", s.daemon.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let g = get(&s, "").await;
    assert_eq!(g.status, 503, "{g:?}");
    assert_eq!(g.content_type.as_deref(), Some("application/json"));
    assert_eq!(g.body, EMPTY_503);
    let g = get(&s, "?caps=live-video-to-video/model-a").await;
    assert_eq!((g.status, g.body.as_str()), (503, EMPTY_503));

    // An empty snapshot is rebuilt when asked (not after an hour, nor only
    // by the 30 s background retry): the counter of empty refreshes grows,
    // while polls stay at most one a second however often the route is asked.
    let empty = |m: &str| metric(m, &format!("{M}refreshes_total{{result=\"empty\"}}"));
    let before = empty(&s.metrics().await);
    assert!(before >= 1.0);
    let first = too_expensive.requests().len();
    let t0 = Instant::now();
    let mut asked = 0;
    loop {
        let g = get(&s, "").await;
        assert_eq!((g.status, g.body.as_str()), (503, EMPTY_503));
        asked += 1;
        if empty(&s.metrics().await) >= before + 2.0 && t0.elapsed() > Duration::from_millis(1500) {
            break;
        }
        assert!(
            t0.elapsed() < DEADLINE,
            "empty refreshes stuck; {}",
            s.daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let polls = too_expensive.requests().len() - first;
    let secs = t0.elapsed().as_secs_f64().ceil() as usize;
    assert!(
        polls <= secs + 1,
        "{polls} polls for {asked} requests in {secs} s"
    );

    // Once quiet (no request, so no rebuild before the 30 s retry), every
    // refresh counted the same errors and rejections.
    let mut last = s.metrics().await;
    loop {
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let now = s.metrics().await;
        if empty(&now) == empty(&last) {
            break;
        }
        last = now;
    }
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, &format!("{M}refreshes_total{{result=\"ok\"}}")),
        0.0,
        "{m}"
    );
    assert_eq!(metric(&m, &format!("{M}orchestrators")), 0.0, "{m}");
    let refreshes = empty(&m);
    assert_eq!(
        metric(&m, &format!("{M}poll_errors_total{{kind=\"invalid_info\"}}")),
        2.0 * refreshes,
        "{m}"
    );
    for reason in ["above_max_price", "unsupported_currency"] {
        assert_eq!(
            metric(&m, &format!("{M}runners_rejected_total{{reason=\"{reason}\"}}")),
            refreshes,
            "{reason}: {m}"
        );
    }
    let audits = audits_at_least(&s, refreshes as usize);
    assert_eq!(audits.len() as f64, refreshes);
    for a in audits {
        assert_eq!(
            (
                num(&a, "candidates"),
                num(&a, "answered"),
                num(&a, "orchestrators"),
                num(&a, "runners_rejected"),
                num(&a, "errors")
            ),
            (6, 4, 0, 2, 2),
            "{a}"
        );
    }
    assert_eq!(get(&s, "").await.body, EMPTY_503);
}

// ---------------------------------------------------------------------------
// 3. Empty-cache retry

#[tokio::test(flavor = "multi_thread")]
async fn empty_cache_is_retried_on_request_before_the_refresh_interval() {
    // B5 lines 1739–1781: the first call is 503; once the orchestrator
    // answers, the next calls get 200 well before refresh_interval_s.
    let o = orch(info("", &[(LV2V, "scope", 5)], (1, 1)), "[]");
    o.set_grpc(GrpcAnswer::Status(tonic::Code::Unknown, "not ready".into()));
    let started = Instant::now();
    let s = daemon(&format!(
        "[discovery]\n{}refresh_interval_s = 3600\n",
        list(&[o.url()])
    ))
    .await;
    let start = Instant::now();
    while o.requests().is_empty() || refresh_audits(&s).is_empty() {
        assert!(start.elapsed() < DEADLINE, "{}", s.daemon.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let g = get(&s, "?caps=live-video-to-video/scope").await;
    assert_eq!((g.status, g.body.as_str()), (503, EMPTY_503), "{g:?}");
    let m = s.metrics().await;
    assert!(
        metric(&m, &format!("{M}poll_errors_total{{kind=\"grpc\"}}")) >= 1.0,
        "{m}"
    );
    assert!(
        metric(&m, &format!("{M}refreshes_total{{result=\"empty\"}}")) >= 1.0,
        "{m}"
    );

    o.set_grpc(GrpcAnswer::Info);
    let body = wait_body(&s, "?caps=live-video-to-video/scope", "200 after the fix", |_| {
        true
    })
    .await;
    // Well before the 1 h interval, and before the 30 s background retry.
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        body,
        array(&[&entry_json(&o.url(), &["live-video-to-video/scope"], &[])])
    );
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, &format!("{M}refreshes_total{{result=\"ok\"}}")),
        1.0,
        "{m}"
    );
    let age = metric(&m, &format!("{M}snapshot_age_seconds"));
    assert!((0.0..60.0).contains(&age), "{m}");
    // A non-empty snapshot is not rebuilt on request.
    let polls = o.requests().len();
    for _ in 0..5 {
        assert_eq!(get(&s, "").await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(get(&s, "").await.status, 200);
    assert_eq!(o.requests().len(), polls);
}

// ---------------------------------------------------------------------------
// 4. Refresh interval

#[tokio::test(flavor = "multi_thread")]
async fn non_empty_snapshot_is_kept_for_the_interval_then_refreshed() {
    // B5 lines 2139–2219, in seconds instead of minutes.
    const INTERVAL: Duration = Duration::from_secs(3);
    let o = orch(
        info("https://orch-a.example.com:8935", &[(LV2V, "model-a", 1)], (1, 1)),
        "[]",
    );
    let s = daemon(&format!(
        "[discovery]\n{}refresh_interval_s = 3\n",
        list(&[o.url()])
    ))
    .await;
    let a_body = array(&[&entry_json(
        "https://orch-a.example.com:8935",
        &["live-video-to-video/model-a"],
        &[],
    )]);
    assert_eq!(wait_ok(&s).await, a_body);

    // Right after a poll, change the orchestrator's answer.
    let n = o.requests().len();
    let polled = wait_requests(&o, n + 1).await;
    let last_poll = polled.last().unwrap().at;
    o.set_info(info(
        "https://orch-b.example.com:8935",
        &[(LV2V, "model-b", 1)],
        (1, 1),
    ));
    // Within the interval the snapshot is unchanged.
    let mut checked = 0;
    loop {
        let g = get(&s, "").await;
        if last_poll.elapsed() + Duration::from_millis(300) >= INTERVAL {
            break;
        }
        assert_eq!((g.status, &g.body), (200, &a_body), "changed before the interval");
        checked += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(checked > 0, "the host is too slow to check within the interval");
    // After it, the change shows.
    let b_body = array(&[&entry_json(
        "https://orch-b.example.com:8935",
        &["live-video-to-video/model-b"],
        &[],
    )]);
    wait_body(&s, "", "the new answer", |b| b == b_body).await;
    let calls = o.requests();
    let next = calls.iter().find(|c| c.at > last_poll).unwrap();
    assert!(
        next.at.duration_since(last_poll) >= INTERVAL - Duration::from_millis(100),
        "refreshed after {:?}",
        next.at.duration_since(last_poll)
    );
}

/// Waits (async) until `o` has recorded at least `n` GetOrchestrator calls.
async fn wait_requests(o: &Orchestrator, n: usize) -> Vec<GrpcCall> {
    let start = Instant::now();
    loop {
        let r = o.requests();
        if r.len() >= n {
            return r;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{}: {} GetOrchestrator calls, expected {n}",
            o.url(),
            r.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------
// 5. Runner rules

#[tokio::test(flavor = "multi_thread")]
async fn runner_records_are_checked_field_by_field() {
    // B5 lines 1861–1911 (global max 200; the per-capability max of 1 does
    // not apply to runners) and 2009–2041 (metadata), plus the whitelist of
    // re-emitted fields and Go's HTML escaping.
    const A: &str = "https://filtered.example.com:8935";
    const APP: &str = "live-video-to-video/scope";
    let r = |name: &str, rest: &str| format!("{{\"url\":\"{A}/{name}\",\"app\":\"{APP}\"{rest}}}");
    let price = |p: &str, unit: &str| {
        format!(",\"price_info\":{{\"price\":{p},\"currency\":\"wei\",\"unit\":\"{unit}\"}}")
    };
    let ok5 = price("5", "fixed");
    let records = [
        r("too-expensive", &price("201", "720p-pixel-seconds")),
        r("price-ok", &price("199", "720p-pixel-seconds")),
        r(
            "unsupported-unit",
            ",\"price_info\":{\"price\":5,\"currency\":\"usd\",\"unit\":\"720p-pixel-seconds\"}",
        ),
        r("missing-price", ""),
        r("missing-currency", ",\"price_info\":{\"price\":5,\"unit\":\"720p-pixel-seconds\"}"),
        r("missing-unit", ",\"price_info\":{\"price\":5,\"currency\":\"wei\"}"),
        r("non-positive-price", &price("0", "720p-pixel-seconds")),
        r("non-positive-pixels", &price("0", "720p-pixel-seconds")),
        r("negative-price", &price("-5", "seconds")),
        format!("{{\"url\":\"{A}/empty-app\",\"app\":\"\"{}}}", price("5", "720p-pixel-seconds")),
        format!("{{\"url\":\"{A}/blank-app\",\"app\":\"  \"{}}}", price("5", "seconds")),
        format!("{{\"url\":\"\",\"app\":\"{APP}\"{ok5}}}"),
        r("metadata-1024", &format!(",\"metadata\":\"{}\"{ok5}", "m".repeat(1024))),
        r("metadata-1025", &format!(",\"metadata\":\"{}\"{ok5}", "m".repeat(1025))),
        r("metadata-fffd-escaped", &format!(",\"metadata\":\"ok \\ufffd\"{ok5}")),
        r("metadata-fffd-raw", &format!(",\"metadata\":\"ok \u{FFFD}\"{ok5}")),
        r("price-max", &price("200", "seconds")),
        r(
            "full-record",
            ",\"gpu\":{\"id\":\"0\",\"name\":\"RTX <4090>\",\"vram_mb\":24576,\"extra\":1},\"version\":\"1.2\",\
             \"metadata\":\"{\\\"region\\\":\\\"us&west\\\"}\",\"mode\":\"live\",\"capacity\":2,\"capacity_used\":1,\
             \"capacity_available\":1,\"secret\":\"must-not-leak\",\
             \"price_info\":{\"price\":\"7.5\",\"currency\":\" WEI \",\"unit\":\"Seconds\",\"extra\":2}",
        ),
    ];
    // Invalid UTF-8 in the body: Go's decoder makes it U+FFFD (refused), and
    // the rest of the document stays.
    let mut body = format!("[{{\"address\":\"{A}\",\"runners\":[{},", records.join(",")).into_bytes();
    body.extend_from_slice(
        format!("{{\"url\":\"{A}/metadata-invalid-utf8\",\"app\":\"{APP}\",\"metadata\":\"bad ").as_bytes(),
    );
    body.push(0xff);
    body.extend_from_slice(format!("\"{ok5}}}]}}]").as_bytes());

    // No capability of its own: it is listed through its runners only.
    let o = Orchestrator::http(c_addr());
    let mut i = default_info();
    i.transcoder = A.into();
    o.set_info(i);
    o.set_discovery(HttpAnswer {
        status: 200,
        content_type: "application/json".into(),
        body,
        delay: Duration::ZERO,
    });

    let chain = Chain::start(U256::ZERO, U256::ZERO).await;
    let config = format!(
        "[payments]\nmax_price_per_unit = 200\n{}\n[discovery]\n{}refresh_interval_s = 3600\n",
        cap_max(&[("live-video-to-video", "scope", 1)]),
        list(&[o.url()])
    );
    let s = Signer::on(Some(chain), &config, 1500).await;
    let got = wait_ok(&s).await;
    let full = format!(
        "{{\"url\":\"{A}/full-record\",\"gpu\":{{\"id\":\"0\",\"name\":\"RTX \\u003c4090\\u003e\",\"vram_mb\":24576}},\
         \"app\":\"{APP}\",\"version\":\"1.2\",\"metadata\":\"{{\\\"region\\\":\\\"us\\u0026west\\\"}}\",\"mode\":\"live\",\
         \"capacity\":2,\"capacity_used\":1,\"capacity_available\":1,\
         \"price_info\":{{\"price\":7.5,\"currency\":\" WEI \",\"unit\":\"Seconds\"}}}}"
    );
    let meta1024 = format!(
        "{{\"url\":\"{A}/metadata-1024\",\"app\":\"{APP}\",\"metadata\":\"{}\",\"capacity\":0,\"capacity_used\":0,\
         \"capacity_available\":0,\"price_info\":{{\"price\":5,\"currency\":\"wei\",\"unit\":\"fixed\"}}}}",
        "m".repeat(1024)
    );
    let want = array(&[&entry_json(
        A,
        &[APP],
        &[
            runner(
                &format!("{A}/price-ok"),
                APP,
                (0, 0, 0),
                "199",
                "720p-pixel-seconds",
            ),
            meta1024,
            runner(&format!("{A}/price-max"), APP, (0, 0, 0), "200", "seconds"),
            full,
        ],
    )]);
    // Kept: price-ok, metadata-1024, price-max, full-record (a json.Number
    // is re-emitted as the literal, unquoted: "7.5" → 7.5; currency and unit
    // as sent; unknown fields dropped; <, >, & escaped as Go does).
    assert_eq!(
        runner_urls(&entry(&got, A)),
        ["price-ok", "metadata-1024", "price-max", "full-record"].map(|n| format!("{A}/{n}"))
    );
    assert_eq!(got, want);
    let m = s.metrics().await;
    for (reason, n) in [
        ("above_max_price", 1.0),
        ("invalid_price", 4.0),
        ("unsupported_currency", 2.0),
        ("unsupported_unit", 1.0),
        ("missing_app", 2.0),
        ("missing_url", 1.0),
        ("metadata", 4.0),
    ] {
        assert_eq!(
            metric(&m, &format!("{M}runners_rejected_total{{reason=\"{reason}\"}}")),
            n,
            "{reason}: {m}"
        );
    }
}

// ---------------------------------------------------------------------------
// 6. Ceilings

#[tokio::test(flavor = "multi_thread")]
async fn discovery_max_price_replaces_the_payments_ceilings() {
    let o = orch(
        info(
            "",
            &[
                (LV2V, "model-a", 80),
                (LV2V, "model-c", 30),
                (T2I, "model-b", 50),
                (LLM, "model-d", 51),
            ],
            (1000, 1),
        ),
        "",
    );
    // A pair priced by the global price only.
    let mut i = o.info();
    let image = ai_info(&[(I2I, "model-e", 1)]);
    let caps = i.capabilities.as_mut().unwrap().constraints.as_mut().unwrap();
    caps.per_capability
        .extend(image.capabilities.unwrap().constraints.unwrap().per_capability);
    o.set_info(i);
    let runner_body = |p: i64| {
        format!(
            "{{\"url\":\"{}/r-{p}\",\"app\":\"live-video-to-video/model-x\",\"price_info\":{{\"price\":{p},\"currency\":\"wei\",\"unit\":\"seconds\"}}}}",
            o.url()
        )
    };
    o.set_discovery_json(format!(
        "[{{\"address\":\"{}\",\"runners\":[{},{}]}}]",
        o.url(),
        runner_body(40),
        runner_body(60)
    ));
    let chain = Chain::start(U256::ZERO, U256::ZERO).await;
    let chain_toml = chain.toml(1500);
    let payments = format!(
        "[payments]\n{}",
        cap_max(&[
            ("live-video-to-video", "model-a", 100),
            ("live-video-to-video", "model-c", 10),
            ("text-to-image", "default", 40)
        ])
    );
    let discovery = format!("[discovery]\n{}refresh_interval_s = 3600\n", list(&[o.url()]));
    let with_max = Signer::on(
        Some(chain),
        &format!("{payments}\n{discovery}max_price_per_unit = 50\n"),
        1500,
    )
    .await;
    let payments_only = daemon(&format!("{chain_toml}\n{payments}\n{discovery}")).await;

    let r = |p: i64| {
        runner(
            &format!("{}/r-{p}", o.url()),
            "live-video-to-video/model-x",
            (0, 0, 0),
            &p.to_string(),
            "seconds",
        )
    };
    // [discovery] max 50 is the only ceiling: model-a (80, allowed by
    // [payments]) and llm (51) and image-to-image (global 1000) go,
    // model-c (30, refused by [payments]) and t2i (50) stay; it is also the
    // runners' global ceiling (60 goes).
    assert_eq!(
        wait_ok(&with_max).await,
        array(&[&entry_json(
            &o.url(),
            &[
                "live-video-to-video/model-c",
                "live-video-to-video/model-x",
                "text-to-image/model-b"
            ],
            &[r(40)],
        )])
    );
    // Without it, the [payments] ceilings: per (pipeline, model), else the
    // pipeline's "default" (t2i 50 > 40 goes), no global one, so no ceiling
    // for the other pipelines nor for runners.
    assert_eq!(
        wait_ok(&payments_only).await,
        array(&[&entry_json(
            &o.url(),
            &[
                "image-to-image/model-e",
                "live-video-to-video/model-a",
                "live-video-to-video/model-x",
                "llm/model-d"
            ],
            &[r(40), r(60)],
        )])
    );
}

// ---------------------------------------------------------------------------
// 7. Failures never block the others

#[tokio::test(flavor = "multi_thread")]
async fn failing_orchestrators_never_block_the_healthy_ones() {
    let healthy = |name: &str| {
        orch(
            info(
                &format!("https://{name}.example.com:8935"),
                &[(LV2V, name, 1)],
                (1, 1),
            ),
            "[]",
        )
    };
    let h1 = healthy("h1");
    let slow = healthy("slow");
    slow.set_grpc_delay(Duration::from_secs(4));
    let garbage = healthy("garbage");
    garbage.set_grpc(GrpcAnswer::garbage());
    // Not an HTTP/2 server at all, plaintext and TLS (docs/operations.md
    // 15.10: kind `connect`).
    let junk = healthy("junk");
    junk.set_tcp_junk(Some(b"SSH-2.0-OpenSSH_9.6 not an orchestrator\r\n".to_vec()));
    let tls_junk = Orchestrator::https(c_addr());
    tls_junk.set_tcp_junk(Some(b"SSH-2.0-OpenSSH_9.6 not an orchestrator\r\n".to_vec()));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let status = healthy("status");
    status.set_grpc(GrpcAnswer::Status(
        tonic::Code::PermissionDenied,
        "go away".into(),
    ));
    let bad_protobuf = healthy("bad-protobuf");
    bad_protobuf.set_grpc(GrpcAnswer::bad_protobuf());
    let h2 = healthy("h2");
    let urls = vec![
        h1.url(),
        slow.url(),
        garbage.url(),
        junk.url(),
        tls_junk.url(),
        closed.clone(),
        status.url(),
        bad_protobuf.url(),
        h2.url(),
    ];
    let s = daemon(&format!(
        "[discovery]\n{}timeout_ms = 500\nrefresh_interval_s = 3600\n",
        list(&urls)
    ))
    .await;
    let body = wait_ok(&s).await;
    assert_eq!(
        body,
        array(&[
            &entry_json("https://h1.example.com:8935", &["live-video-to-video/h1"], &[]),
            &entry_json("https://h2.example.com:8935", &["live-video-to-video/h2"], &[]),
        ])
    );
    let audits = audits_at_least(&s, 1);
    assert_eq!(audits.len(), 1, "{audits:?}");
    let a = &audits[0];
    assert_eq!(
        (
            num(a, "candidates"),
            num(a, "answered"),
            num(a, "orchestrators"),
            num(a, "errors")
        ),
        (9, 2, 2, 7),
        "{a}"
    );
    // The slow one costs timeout_ms, not its 4 s delay (a bound on logic,
    // not on speed: anything under the delay proves the cut).
    let took = num(a, "duration_ms");
    assert!((500..4000).contains(&took), "duration_ms = {took}");
    // Every live orchestrator was asked once (the junk ones never got as far
    // as gRPC).
    for o in [&h1, &slow, &garbage, &status, &bad_protobuf, &h2] {
        assert_eq!(o.requests().len(), 1, "{}", o.url());
    }
    assert!(junk.connections() >= 1 && tls_junk.connections() >= 1);

    // Each failure is attributed to its orchestrator with its kind
    // (docs/operations.md 15.10: `connect` is "no connection to the
    // orchestrator (refused, DNS, TLS handshake, not an HTTP/2 gRPC server)").
    let log = s.daemon.logs();
    let why: Vec<&str> = log.lines().filter(|l| l.contains("no answer used")).collect();
    assert_eq!(why.len(), 7, "{why:#?}");
    let kind_of = |url: &str| -> String {
        let line = why
            .iter()
            .find(|l| l.contains(&format!("\"orchestrator\":\"{url}/\"")))
            .unwrap_or_else(|| panic!("no line for {url}: {why:#?}"));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        field(&v, "kind").unwrap()
    };
    let got: Vec<(&str, String)> = [
        ("slow", slow.url()),
        ("garbage", garbage.url()),
        ("status", status.url()),
        ("bad_protobuf", bad_protobuf.url()),
        ("closed", closed.clone()),
        ("tls_junk", tls_junk.url()),
        ("junk", junk.url()),
    ]
    .into_iter()
    .map(|(name, url)| (name, kind_of(&url)))
    .collect();
    assert_eq!(
        got,
        [
            ("slow", "timeout".to_string()),
            ("garbage", "grpc".into()),
            ("status", "grpc".into()),
            ("bad_protobuf", "grpc".into()),
            ("closed", "connect".into()),
            ("tls_junk", "connect".into()),
            ("junk", "connect".into()),
        ],
        "{why:#?}"
    );
    let m = s.metrics().await;
    let kinds: Vec<(&str, f64)> = [
        "source",
        "connect",
        "timeout",
        "grpc",
        "invalid_info",
        "discovery",
    ]
    .into_iter()
    .map(|k| (k, metric(&m, &format!("{M}poll_errors_total{{kind=\"{k}\"}}"))))
    .collect();
    assert_eq!(
        kinds,
        [
            ("source", 0.0),
            ("connect", 3.0),
            ("timeout", 1.0),
            ("grpc", 3.0),
            ("invalid_info", 0.0),
            ("discovery", 0.0)
        ]
    );
}

// ---------------------------------------------------------------------------
// 8. Bootstrap order and request shape

#[tokio::test(flavor = "multi_thread")]
async fn first_poll_is_already_signed() {
    // Spec §9: go-livepeer's first on-chain poll carries an empty sig. Here
    // even the first GetOrchestrator of the daemon's life is signed.
    let plain = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "[]");
    let tls = Orchestrator::https(c_addr());
    tls.set_info(info("", &[(LV2V, "m", 1)], (1, 1)));
    let s = daemon(&format!(
        "[discovery]\n{}refresh_interval_s = 3600\n",
        list(&[plain.url(), tls.url()])
    ))
    .await;
    assert_eq!(addresses(&wait_ok(&s).await), [plain.url(), tls.url()]);
    let c1 = c1_sig();
    for o in [&plain, &tls] {
        let calls = o.requests();
        assert_eq!(calls.len(), 1, "{}", o.url());
        let first = &calls[0];
        assert!(first.sig_valid && first.sig_ok, "{}: {first:?}", o.url());
        assert!(first.ignore_capacity_check, "{first:?}");
        assert_eq!(first.sender, c_addr());
        assert_eq!(first.request.address, c_addr().to_vec(), "20 bytes");
        // vectors C1, byte for byte: r‖s‖v, low s, v ∈ {27, 28}.
        assert_eq!(first.request.sig, c1);
        assert!(matches!(first.request.sig[64], 27 | 28));
        assert!(first.request.capabilities.is_none());
    }
    // Its /discovery was fetched too (the TLS one's is refused at the
    // handshake: go-livepeer verifies certificates there).
    assert_eq!(plain.discovery_calls().len(), 1);
}

// ---------------------------------------------------------------------------
// 9. TLS

#[tokio::test(flavor = "multi_thread")]
async fn tls_orchestrator_is_listed_but_its_unverified_runner_records_are_not() {
    let records = |url: &str| {
        format!(
            "[{{\"address\":\"{url}\",\"runners\":[{{\"url\":\"{url}/runner\",\"app\":\"live-video-to-video/r\",\
             \"price_info\":{{\"price\":3,\"currency\":\"wei\",\"unit\":\"seconds\"}}}}]}}]"
        )
    };
    let tls = Orchestrator::https(c_addr());
    tls.set_info(info("", &[(LV2V, "m", 1)], (1, 1)));
    tls.set_discovery_json(records(&tls.url()));
    let plain = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "");
    plain.set_discovery_json(records(&plain.url()));
    let s = daemon(&format!(
        "[discovery]\n{}refresh_interval_s = 3600\n",
        list(&[tls.url(), plain.url()])
    ))
    .await;
    let body = wait_ok(&s).await;
    assert_eq!(
        body,
        array(&[
            // gRPC over TLS without verification: listed; /discovery with
            // verification: the self-signed certificate is refused.
            &entry_json(&tls.url(), &["live-video-to-video/m"], &[]),
            &entry_json(
                &plain.url(),
                &["live-video-to-video/m", "live-video-to-video/r"],
                &[runner(
                    &format!("{}/runner", plain.url()),
                    "live-video-to-video/r",
                    (0, 0, 0),
                    "3",
                    "seconds"
                )]
            ),
        ])
    );
    assert_eq!(tls.requests().len(), 1);
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, &format!("{M}poll_errors_total{{kind=\"discovery\"}}")),
        1.0,
        "{m}"
    );
    // The failure lines precede the refresh's audit line.
    audits_at_least(&s, 1);
    let logs = s.daemon.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("no runner records from this orchestrator")
                && l.contains("invalid peer certificate")
                && l.contains(&tls.url())),
        "{logs}"
    );
}

// ---------------------------------------------------------------------------
// 10. Webhook source

#[tokio::test(flavor = "multi_thread")]
async fn webhook_list_is_used_and_kept_when_the_webhook_fails() {
    let o1 = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "[]");
    let o2 = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "[]");
    let with_slash = format!("{}/", o2.url());
    let hook = OrchWebhook::start(support::orchestrator::webhook_body(&[&o1.url(), &with_slash]));
    let s = daemon(&format!(
        "[discovery]\nwebhook_url = {:?}\nrefresh_interval_s = 1\n",
        hook.url()
    ))
    .await;
    assert_eq!(addresses(&wait_ok(&s).await), [o1.url(), o2.url()]);
    let calls = hook.calls();
    assert!(!calls.is_empty());
    assert!(
        calls
            .iter()
            .all(|c| c.method == "GET" && c.path == "/orchestrators"),
        "{calls:?}"
    );
    // Both were polled, /discovery included (the trailing `/` is not doubled).
    assert!(o2.discovery_calls().iter().all(|c| c.path == "/discovery"));
    assert!(!o2.discovery_calls().is_empty());

    // The webhook fails: the last list is still polled and served.
    hook.set_answer(HttpAnswer::http(500, "{\"error\":\"down\"}"));
    let failed_at = Instant::now();
    let start = Instant::now();
    loop {
        let failed = hook.calls().iter().any(|c| c.at > failed_at);
        let repolled = o1
            .requests()
            .iter()
            .any(|c| c.at > failed_at + Duration::from_millis(50))
            && o2
                .requests()
                .iter()
                .any(|c| c.at > failed_at + Duration::from_millis(50));
        let kept = s.daemon.logs().contains("polling the last list");
        if failed && repolled && kept {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "{}", s.daemon.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let g = get(&s, "").await;
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(addresses(&g.body), [o1.url(), o2.url()]);
    let m = s.metrics().await;
    assert!(
        metric(&m, &format!("{M}poll_errors_total{{kind=\"source\"}}")) >= 1.0,
        "{m}"
    );
    let logs = s.daemon.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("polling the last list"))
        .unwrap();
    assert!(
        line.contains("\"kept\":2") && line.contains("status 500"),
        "{line}"
    );

    // The webhook answers again, with one orchestrator: the list follows.
    hook.set_orchestrators(&[&o2.url()]);
    wait_body(&s, "", "the new webhook list", |b| addresses(b) == [o2.url()]).await;
}

// ---------------------------------------------------------------------------
// 11. On-chain pool

#[tokio::test(flavor = "multi_thread")]
async fn on_chain_pool_polls_the_active_orchestrators() {
    let active = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "[]");
    let future = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "[]");
    let gone = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "[]");
    // Registered as `127.0.0.1:PORT`: go-livepeer reads it as https://.
    let no_scheme = Orchestrator::https(c_addr());
    no_scheme.set_info(info("", &[(LV2V, "m", 1)], (1, 1)));

    let chain = Chain::start(U256::ZERO, U256::ZERO).await;
    let (anvil, d) = (&chain.anvil, &chain.d);
    let (a, b, c, e) = (
        Address::repeat_byte(0xa1),
        Address::repeat_byte(0xb2),
        Address::repeat_byte(0xc3),
        Address::repeat_byte(0xd4),
    );
    anvil.add_active_orchestrator(d, a, &active.url()).await;
    let round = anvil.current_round(d).await;
    anvil
        .add_orchestrator(
            d,
            b,
            round + U256::from(100),
            support::anvil::MAX_ROUND,
            &future.url(),
        )
        .await;
    anvil.add_orchestrator(d, c, U256::ZERO, round, &gone.url()).await;
    anvil
        .add_active_orchestrator(d, e, &format!("127.0.0.1:{}", no_scheme.port()))
        .await;
    // A fresh round, initialized, so that every activation above is settled.
    anvil.next_round(d).await;
    assert_eq!(anvil.transcoder_pool(d).await, [a, b, c, e]);

    let s = Signer::on(Some(chain), "[discovery]\nrefresh_interval_s = 1\n", 1500).await;
    let body = wait_ok(&s).await;
    assert_eq!(addresses(&body), [active.url(), no_scheme.url()]);
    for o in [&active, &no_scheme] {
        let first = &o.requests()[0];
        // Spec §9: the first on-chain poll is signed.
        assert!(first.sig_ok && first.ignore_capacity_check, "{first:?}");
        assert_eq!(first.request.sig, c1_sig());
    }
    assert!(audits_at_least(&s, 1)
        .iter()
        .all(|a| field(a, "source").as_deref() == Some("chain") && num(a, "candidates") == 2));
    // Leaving the pool: gone at the next refresh.
    let chain = s.chain();
    chain.anvil.remove_orchestrator(&chain.d, a).await;
    wait_body(&s, "", "the removed orchestrator gone", |b| {
        addresses(b) == [no_scheme.url()]
    })
    .await;
    // The inactive ones were never contacted.
    for o in [&future, &gone] {
        assert_eq!(o.connections(), 0, "{}", o.url());
        assert!(o.requests().is_empty());
    }
}

// ---------------------------------------------------------------------------
// 12. extra_nodes

#[tokio::test(flavor = "multi_thread")]
async fn advertised_nodes_are_polled_up_to_extra_nodes() {
    let b = orch(info("", &[(LV2V, "b", 1)], (1, 1)), "[]");
    let c = orch(info("", &[(LV2V, "c", 1)], (1, 1)), "[]");
    let mut ai = info("", &[(LV2V, "a", 1)], (1, 1));
    ai.nodes = vec![b.url(), c.url()];
    let a = orch(ai, "[]");
    // Default extra_nodes = 0: the nodes are not followed.
    let s0 = daemon(&format!(
        "[discovery]\n{}refresh_interval_s = 3600\n",
        list(&[a.url()])
    ))
    .await;
    assert_eq!(addresses(&wait_ok(&s0).await), [a.url()]);
    assert_eq!((b.connections(), c.connections()), (0, 0));
    drop(s0);
    // extra_nodes = 1: the first node only.
    let s1 = daemon(&format!(
        "[discovery]\n{}extra_nodes = 1\nrefresh_interval_s = 3600\n",
        list(&[a.url()])
    ))
    .await;
    assert_eq!(addresses(&wait_ok(&s1).await), [a.url(), b.url()]);
    let first = &b.requests()[0];
    assert!(first.sig_ok && first.ignore_capacity_check, "{first:?}");
    assert_eq!(b.discovery_calls().len(), 1);
    assert_eq!(c.connections(), 0, "{} was contacted", c.url());
    let a1 = &audits_at_least(&s1, 1)[0];
    assert_eq!((num(a1, "candidates"), num(a1, "answered")), (2, 2), "{a1}");
}

// ---------------------------------------------------------------------------
// 13. Access

#[tokio::test(flavor = "multi_thread")]
async fn route_needs_the_discovery_scope_and_the_section() {
    const ORCH_ONLY: &str = "orch-info-only-token-0123456789";
    const DISCOVERY: &str = "discovery-token-0123456789";
    let o = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "[]");
    let s = daemon(&format!(
        "[[auth.tokens]]\nname = \"gw-orch\"\nsha256 = \"{}\"\nscopes = [\"orchestrator-info\"]\n\n\
         [[auth.tokens]]\nname = \"gw-disc\"\nsha256 = \"{}\"\nscopes = [\"discovery\"]\n\n\
         [discovery]\n{}refresh_interval_s = 3600\n",
        hex::encode(token_sha256(ORCH_ONLY)),
        hex::encode(token_sha256(DISCOVERY)),
        list(&[o.url()])
    ))
    .await;
    let get_as = |t: Option<&'static str>| request(&s, reqwest::Method::GET, "", t);
    // With the scope: 200 (once the first poll is in).
    let start = Instant::now();
    let ok = loop {
        let g = get_as(Some(DISCOVERY)).await;
        if g.status == 200 {
            break g;
        }
        assert_eq!((g.status, g.body.as_str()), (503, EMPTY_503));
        assert!(start.elapsed() < DEADLINE, "{}", s.daemon.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(addresses(&ok.body), [o.url()]);
    // Without it: 403 naming the scope.
    let g = get_as(Some(ORCH_ONLY)).await;
    assert_eq!(g.status, 403, "{g:?}");
    assert_eq!(g.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        g.body,
        "{\"error\":{\"message\":\"token \\\"gw-orch\\\" lacks the scope \\\"discovery\\\"; add it to the token's `scopes` in [[auth.tokens]]\"}}\n"
    );
    // No token, an unknown token: 401.
    for t in [None, Some("not-a-token-at-all-0123456789")] {
        let g = get_as(t).await;
        assert_eq!(g.status, 401, "{t:?}: {g:?}");
        assert!(g.body.starts_with("{\"error\":{\"message\":"), "{g:?}");
    }
    // Only GET and HEAD.
    let g = request(&s, reqwest::Method::POST, "", Some(DISCOVERY)).await;
    assert_eq!(g.status, 405, "{g:?}");
    assert_eq!(g.allow.as_deref(), Some("GET, HEAD"));
    assert_eq!(g.body, "Method Not Allowed\n");
    let g = request(&s, reqwest::Method::HEAD, "", Some(DISCOVERY)).await;
    assert_eq!((g.status, g.body.as_str()), (200, ""), "{g:?}");
    assert_eq!(g.content_type.as_deref(), Some("application/json"));

    // SIGHUP: the token gets the scope at once; a [discovery] change is
    // refused with a warning (it needs a restart).
    let text = std::fs::read_to_string(&s.cfg)
        .unwrap()
        .replace(
            "scopes = [\"orchestrator-info\"]",
            "scopes = [\"orchestrator-info\", \"discovery\"]",
        )
        .replace("refresh_interval_s = 3600", "refresh_interval_s = 60");
    std::fs::write(&s.cfg, text).unwrap();
    s.daemon.signal("HUP");
    let start = Instant::now();
    while !s
        .daemon
        .logs()
        .contains("reload: [discovery] changed; that needs a restart and was not applied")
    {
        assert!(start.elapsed() < DEADLINE, "{}", s.daemon.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let g = get_as(Some(ORCH_ONLY)).await;
    assert_eq!((g.status, &g.body), (200, &ok.body), "{g:?}");

    // Without [discovery] the route does not exist.
    let plain = daemon("").await;
    let g = get(&plain, "").await;
    assert_eq!(g.status, 404, "{g:?}");
    assert_eq!(g.body, "404 page not found\n");
    let g = request(&plain, reqwest::Method::POST, "", None).await;
    assert_eq!(g.status, 404, "{g:?}");
}

// ---------------------------------------------------------------------------
// 14. Config errors

#[test]
fn config_errors_exit_2_and_name_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(dir.path());
    let base = std::fs::read_to_string(support::write_keystore_config(dir.path(), &key, &pw)).unwrap();
    let file = dir.path().join("bad.toml");
    let run = |args: &[&str], extra: &str| {
        std::fs::write(&file, format!("{base}\n{extra}")).unwrap();
        let (code, out, err) = support::run(support::bin().args(args).arg("--config").arg(&file));
        (code, format!("{out}{err}"))
    };
    let exit_config = i32::from(livepeer_signer::EXIT_CONFIG);
    for args in [&["serve"][..], &["check", "--offline"][..]] {
        let (code, text) = run(
            args,
            "[discovery]\norchestrators = [\"https://orch.example.com:8935\"]\nwebhook_url = \"https://hook.example.com/o\"\n",
        );
        assert_eq!(code, exit_config, "{args:?}: {text}");
        assert!(
            text.contains("orchestrators") && text.contains("webhook_url") && text.contains("not both"),
            "{args:?}: {text}"
        );
        for extra in [
            "[discovery]\n",
            "[discovery]\norchestrators = []\nrefresh_interval_s = 60\n",
        ] {
            let (code, text) = run(args, extra);
            assert_eq!(code, exit_config, "{args:?} {extra:?}: {text}");
            assert!(text.contains("[chain] rpc_url"), "{args:?}: {text}");
        }
        for (extra, needle) in [
            (
                "[discovery]\norchestrators = [\"ftp://o:1\"]\n",
                "orchestrators[0]",
            ),
            ("[discovery]\nwebhook_url = \"ftp://o/x\"\n", "webhook_url"),
            (
                "[discovery]\norchestrators = [\"o:1\"]\nrefresh_interval_s = 0\n",
                "refresh_interval_s",
            ),
            ("[discovery]\norchestrators = [\"o:1\"]\npool = 1\n", "pool"),
        ] {
            let (code, text) = run(args, extra);
            assert_eq!(code, exit_config, "{args:?} {extra:?}: {text}");
            assert!(text.contains(needle), "{args:?} {extra:?}: {text}");
        }
    }
    // A valid section passes check --offline.
    let (code, text) = run(
        &["check", "--offline"],
        "[discovery]\norchestrators = [\"orch.example.com:8935\"]\n",
    );
    assert_eq!(code, 0, "{text}");
}

// ---------------------------------------------------------------------------
// 15. /discovery documents: size, status, time, shape

/// `[{"address": url, "runners": [one good runner `url/name`]}]`.
fn one_runner(url: &str, name: &str, extra: &str) -> String {
    format!(
        "[{{\"address\":\"{url}\",\"runners\":[{{\"url\":\"{url}/{name}\",\"app\":\"live-video-to-video/r\"{extra},\
         \"price_info\":{{\"price\":3,\"currency\":\"wei\",\"unit\":\"seconds\"}}}}]}}]"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_documents_are_read_as_go_livepeer_reads_them() {
    // go-livepeer callOrchestratorDiscovery: 2xx, at most 1 MiB, within 2 s,
    // valid JSON; then an array of {address, runners} or nothing at all.
    let o = || orch(info("", &[(LV2V, "m", 1)], (1, 1)), "[]");
    let padded = |url: &str, len: usize| {
        let mut doc = one_runner(url, "r", "");
        doc.push_str(&" ".repeat(len - doc.len()));
        doc
    };
    let exact = o();
    exact.set_discovery_json(padded(&exact.url(), 1 << 20));
    let over = o();
    over.set_discovery_json(padded(&over.url(), (1 << 20) + 1));
    let not_found = o();
    not_found.set_discovery(HttpAnswer::http(404, one_runner(&not_found.url(), "r", "")));
    let object = o();
    object.set_discovery_json(format!("{{\"address\":\"{}\",\"runners\":[]}}", object.url()));
    // A field of the wrong type fails the whole document, in Go too.
    let float = o();
    float.set_discovery_json(one_runner(&float.url(), "r", ",\"capacity\":1.5"));
    let slow = o();
    slow.set_discovery(HttpAnswer::json(one_runner(&slow.url(), "r", "")).after(Duration::from_millis(2600)));
    let all = [&exact, &over, &not_found, &object, &float, &slow];
    let urls: Vec<String> = all.iter().map(|o| o.url()).collect();
    let s = daemon(&format!(
        "[discovery]\n{}refresh_interval_s = 3600\n",
        list(&urls)
    ))
    .await;
    let body = wait_ok(&s).await;
    let plain = |o: &Orchestrator| entry_json(&o.url(), &["live-video-to-video/m"], &[]);
    let with_runner = entry_json(
        &exact.url(),
        &["live-video-to-video/m", "live-video-to-video/r"],
        &[runner(
            &format!("{}/r", exact.url()),
            "live-video-to-video/r",
            (0, 0, 0),
            "3",
            "seconds",
        )],
    );
    assert_eq!(
        body,
        array(&[
            &with_runner,
            &plain(&over),
            &plain(&not_found),
            &plain(&object),
            &plain(&float),
            &plain(&slow)
        ])
    );
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, &format!("{M}poll_errors_total{{kind=\"discovery\"}}")),
        5.0,
        "{m}"
    );
    for o in all {
        assert_eq!(o.discovery_calls().len(), 1, "{}", o.url());
    }
}

// ---------------------------------------------------------------------------
// Go decoder compatibility of /discovery documents

#[tokio::test(flavor = "multi_thread")]
async fn one_odd_record_drops_only_that_record_as_in_go() {
    // Go's encoding/json (go-livepeer remoteDiscoveryEntries) decodes
    // * the escape `\ud800` (a lone UTF-16 surrogate) as U+FFFD: that
    //   record's metadata is then refused (ValidateLiveRunnerMetadata);
    // * a key given twice in one object with the last value winning;
    // and keeps every other record of the document. Both documents are
    // valid JSON (json.Valid).
    let good = |url: &str| {
        format!(
            "{{\"url\":\"{url}/good\",\"app\":\"live-video-to-video/r\",\
             \"price_info\":{{\"price\":3,\"currency\":\"wei\",\"unit\":\"seconds\"}}}}"
        )
    };
    let surrogate = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "");
    let u1 = surrogate.url();
    surrogate.set_discovery_json(format!(
        "[{{\"address\":\"{u1}\",\"runners\":[{},\
         {{\"url\":\"{u1}/surrogate\",\"app\":\"live-video-to-video/r\",\"metadata\":\"x\\ud800y\",\
         \"price_info\":{{\"price\":3,\"currency\":\"wei\",\"unit\":\"seconds\"}}}}]}}]",
        good(&u1)
    ));
    let twice = orch(info("", &[(LV2V, "m", 1)], (1, 1)), "");
    let u2 = twice.url();
    twice.set_discovery_json(format!(
        "[{{\"address\":\"{u2}\",\"runners\":[{},\
         {{\"url\":\"{u2}/first\",\"url\":\"{u2}/twice\",\"app\":\"live-video-to-video/r\",\
         \"price_info\":{{\"price\":4,\"currency\":\"wei\",\"unit\":\"seconds\"}}}}]}}]",
        good(&u2)
    ));
    let s = daemon(&format!(
        "[discovery]\n{}refresh_interval_s = 3600\n",
        list(&[u1.clone(), u2.clone()])
    ))
    .await;
    let body = wait_ok(&s).await;
    let caps = ["live-video-to-video/m", "live-video-to-video/r"];
    let r = |url: &str, name: &str, price: &str| {
        runner(
            &format!("{url}/{name}"),
            "live-video-to-video/r",
            (0, 0, 0),
            price,
            "seconds",
        )
    };
    assert_eq!(
        body,
        array(&[
            &entry_json(&u1, &caps, &[r(&u1, "good", "3")]),
            &entry_json(&u2, &caps, &[r(&u2, "good", "3"), r(&u2, "twice", "4")]),
        ])
    );
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, &format!("{M}runners_rejected_total{{reason=\"metadata\"}}")),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, &format!("{M}poll_errors_total{{kind=\"discovery\"}}")),
        0.0,
        "{m}"
    );
}
