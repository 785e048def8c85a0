//! An orchestrator's `GET /discovery` body (spec §4.3), merged into a
//! discovery snapshot next to a fixed `GetOrchestrator` answer.
//!
//! Properties: never panics; the response is a JSON array of objects with
//! `score == 1` and non-empty `capabilities`; every runner re-emitted passes
//! the record rules against the global ceiling and appears once per
//! address; only modelled fields are written; `caps` selection returns a
//! subset, in order, each address once.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use livepeer_signer::config::PaymentsConfig;
use livepeer_signer::livepeer::discovery::records::Runner;
use livepeer_signer::livepeer::discovery::{Ceilings, Polled, Snapshot};
use livepeer_signer::livepeer::payment::Rat;
use livepeer_signer::livepeer::proto;

const FIELDS: [&str; 4] = ["address", "score", "capabilities", "runners"];
const RUNNER_FIELDS: [&str; 10] = [
    "url", "gpu", "app", "version", "metadata", "mode", "capacity", "capacity_used", "capacity_available", "price_info",
];

fuzz_target!(|data: &[u8]| {
    let info = proto::OrchestratorInfo {
        transcoder: "https://orch.example.com:8935".into(),
        price_info: Some(proto::PriceInfo {
            price_per_unit: 3,
            pixels_per_unit: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    let polled = [Polled {
        info,
        discovery: Some(data.to_vec()),
    }];
    let ceilings = Ceilings {
        discovery_max: Some(Rat::from_integer(1000)),
        payments: PaymentsConfig::default(),
    };
    let (snapshot, _report) = Snapshot::build(&polled, &ceilings);
    let body = snapshot.response([]);
    let value: serde_json::Value = serde_json::from_slice(&body).expect("the response is JSON");
    let list = value.as_array().expect("an array");
    assert_eq!(list.len(), snapshot.len());
    for (entry, orch) in list.iter().zip(snapshot.orchestrators()) {
        let obj = entry.as_object().expect("objects");
        assert!(obj.keys().all(|k| FIELDS.contains(&k.as_str())), "{obj:?}");
        assert_eq!(obj["score"], 1);
        assert!(!orch.capabilities.is_empty());
        let mut urls = HashSet::new();
        for r in &orch.runners {
            r.check(ceilings.global()).expect("kept runners pass the rules");
            assert!(urls.insert(r.url.clone()), "a runner URL twice");
            assert!(orch.capabilities.contains(&r.app));
        }
        for r in obj.get("runners").and_then(|r| r.as_array()).into_iter().flatten() {
            let fields = r.as_object().unwrap();
            assert!(fields.keys().all(|k| RUNNER_FIELDS.contains(&k.as_str())), "{fields:?}");
            let back: Runner = serde_json::from_value(r.clone()).expect("re-emitted runners parse");
            assert!(back.check(ceilings.global()).is_ok());
        }
    }
    let caps: Vec<&str> = snapshot
        .orchestrators()
        .iter()
        .flat_map(|o| o.capabilities.iter().map(String::as_str))
        .take(3)
        .collect();
    let picked = snapshot.select(caps.iter().copied());
    let unique: HashSet<_> = picked.iter().collect();
    assert_eq!(unique.len(), picked.len());
    assert!(picked.iter().all(|&i| i < snapshot.len()));
});
