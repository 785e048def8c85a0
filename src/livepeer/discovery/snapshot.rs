//! The discovery snapshot: from what the orchestrators answered to the list
//! `GET /discover-orchestrators` serves (spec §4.3; go-livepeer
//! `remoteDiscoveryPool.refresh`). Pure: no I/O, no clock.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;

use super::records::{parse_entries, Entry, Rejection, Runner};
use crate::config::PaymentsConfig;
use crate::livepeer::payment::state::go_json_string;
use crate::livepeer::payment::Rat;
use crate::livepeer::proto;

/// What one orchestrator answered: its `GetOrchestrator` reply and the raw
/// body of its `/discovery` (when fetched and well-formed JSON).
#[derive(Debug, Clone, Default)]
pub struct Polled {
    /// `OrchestratorInfo` (`transcoder` is the service URI it reports).
    pub info: proto::OrchestratorInfo,
    /// `GET <uri>/discovery`, at most 1 MiB.
    pub discovery: Option<Vec<u8>>,
}

/// The price ceilings discovery applies.
#[derive(Debug, Clone, Default)]
pub struct Ceilings {
    /// `[discovery] max_price_per_unit`: the only ceiling when set.
    pub discovery_max: Option<Rat>,
    /// `[payments]` (its defaults when the section is absent).
    pub payments: PaymentsConfig,
}

impl Ceilings {
    /// The ceiling of one (capability, model) pair: the model's
    /// `max_price_per_capability` entry, else the pipeline's `"default"`,
    /// else the global one (go-livepeer `GetCapabilitiesMaxPrice`).
    pub fn for_pair(&self, capability: u32, model: &str) -> Option<Rat> {
        match &self.discovery_max {
            Some(max) => Some(max.clone()),
            None => self.payments.max_price_for([(capability, model)]),
        }
    }

    /// The global ceiling (runner records; go-livepeer `MaxPrice()`).
    pub fn global(&self) -> Option<&Rat> {
        self.discovery_max
            .as_ref()
            .or(self.payments.max_price_per_unit.as_ref())
    }
}

/// go-livepeer's capability names (`core.CapabilityNameLookup`), by id.
/// Id 13 (scene classification, deprecated) has no name.
const CAPABILITY_NAMES: [(u32, &str); 38] = [
    (0, "H.264"),
    (1, "MPEGTS"),
    (2, "MP4"),
    (3, "Fractional framerates"),
    (4, "Storage direct"),
    (5, "Storage S3"),
    (6, "Storage GCS"),
    (7, "H264 Baseline profile"),
    (8, "H264 Main profile"),
    (9, "H264 High profile"),
    (10, "H264 Constrained, Contained High profile"),
    (11, "GOP"),
    (12, "Auth token"),
    (14, "MPEG7 signature"),
    (15, "HEVC decode"),
    (16, "HEVC encode"),
    (17, "VP8 decode"),
    (18, "VP9 decode"),
    (19, "VP8 encode"),
    (20, "VP9 encode"),
    (21, "H264 Decode YUV444 8-bit"),
    (22, "H264 Decode YUV422 8-bit"),
    (23, "H264 Decode YUV444 10-bit"),
    (24, "H264 Decode YUV422 10-bit"),
    (25, "H264 Decode YUV420 10-bit"),
    (26, "Segment slicing"),
    (27, "Text to image"),
    (28, "Image to image"),
    (29, "Image to video"),
    (30, "Upscale"),
    (31, "Audio to text"),
    (32, "Segment anything 2"),
    (33, "Llm"),
    (34, "Image to text"),
    (35, "Live video to video"),
    (36, "Text to speech"),
    (37, "byoc"),
    // Keeps the table's length honest; never matches a u32 from the wire.
    (u32::MAX, ""),
];

/// The discovery key of a capability: its name, lower case, spaces → `-`
/// (`live-video-to-video`, `text-to-image`, `llm`, `byoc`).
pub fn pipeline_of(capability: u32) -> Option<String> {
    CAPABILITY_NAMES
        .iter()
        .find(|(id, name)| *id == capability && !name.is_empty())
        .map(|(_, name)| name.to_lowercase().replace(' ', "-"))
}

/// The price an orchestrator asks for (capability, model): its
/// `capabilities_prices` entry for that model, else its global
/// `price_info`; `None` without one (units ≤ 0 do not count). A negative
/// price is no price: the signer would refuse to pay it.
fn capability_price(info: &proto::OrchestratorInfo, capability: u32, model: &str) -> Option<Rat> {
    let ratio = |p: &proto::PriceInfo| Rat::from_frac(p.price_per_unit, p.pixels_per_unit);
    let price = info
        .capabilities_prices
        .iter()
        .find(|p| p.pixels_per_unit > 0 && p.capability == capability && p.constraint == model)
        .map(ratio)
        .or_else(|| {
            info.price_info
                .as_ref()
                .filter(|p| p.pixels_per_unit > 0)
                .map(ratio)
        })??;
    (!price.is_negative()).then_some(price)
}

/// One orchestrator (node) of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orchestrator {
    /// Its service URI, as first seen.
    pub address: String,
    /// Sorted `pipeline/model` keys plus runner apps.
    pub capabilities: Vec<String>,
    /// Kept runner records, first-seen order.
    pub runners: Vec<Runner>,
}

impl Orchestrator {
    /// `{"address","score":1,"capabilities","runners"}` as go-livepeer
    /// encodes its `discoveryResponse`.
    fn to_json(&self) -> String {
        let mut out = String::from("{\"address\":");
        out.push_str(&go_json_string(&self.address));
        out.push_str(",\"score\":1");
        if !self.capabilities.is_empty() {
            out.push_str(",\"capabilities\":[");
            for (i, c) in self.capabilities.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&go_json_string(c));
            }
            out.push(']');
        }
        if !self.runners.is_empty() {
            out.push_str(",\"runners\":[");
            for (i, r) in self.runners.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                r.write_json(&mut out);
            }
            out.push(']');
        }
        out.push('}');
        out
    }
}

/// What building the snapshot dropped (for logs and metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Runner records refused, with the reason, orchestrator and runner URL.
    pub rejected: Vec<(Rejection, String, String)>,
    /// Runner URLs seen twice with different records (the first is kept).
    pub conflicts: Vec<(String, String)>,
    /// Orchestrators (their `transcoder`) whose `/discovery` body was not a
    /// JSON array of entries (go-livepeer then ignores the whole body).
    pub bad_documents: Vec<String>,
}

/// An immutable snapshot, with each orchestrator's JSON encoded once.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    orchestrators: Vec<Orchestrator>,
    json: Vec<Bytes>,
    /// The answer without `caps` (what go-livepeer gateways ask), built once.
    all: Bytes,
    by_capability: HashMap<String, Vec<usize>>,
}

/// A service URI go-livepeer would accept as an orchestrator address:
/// absolute, `http` or `https`, with a host.
fn valid_address(text: &str) -> bool {
    super::http_url(text).is_ok()
}

/// Per-address accumulator.
struct Merge {
    address: String,
    capabilities: BTreeSet<String>,
    runners: Vec<Runner>,
}

impl Merge {
    /// go-livepeer `mergeDiscoveryRunners`: each record checked; a kept
    /// record adds its app; a URL already seen keeps its first record.
    fn runners(&mut self, runners: Vec<Runner>, global_max: Option<&Rat>, report: &mut BuildReport) {
        for r in runners {
            if let Err(why) = r.check(global_max) {
                report.rejected.push((why, self.address.clone(), r.url.clone()));
                continue;
            }
            self.capabilities.insert(r.app.clone());
            if let Some(first) = self.runners.iter().find(|k| k.url == r.url) {
                if !first.same_as(&r) {
                    report.conflicts.push((self.address.clone(), r.url.clone()));
                }
                continue;
            }
            self.runners.push(r);
        }
    }
}

impl Snapshot {
    /// Builds the snapshot from the orchestrators' answers, in their order:
    ///
    /// 1. each orchestrator whose `transcoder` is an absolute URI gets the
    ///    `pipeline/model` keys it prices within the ceilings; one without
    ///    any is dropped (its runner records may still bring it back);
    /// 2. every `/discovery` entry is merged by address (trailing `/`
    ///    ignored): checked runner records, first record per URL, each kept
    ///    record's app added as a capability;
    /// 3. addresses left without capabilities are dropped.
    pub fn build(polled: &[Polled], ceilings: &Ceilings) -> (Snapshot, BuildReport) {
        let mut report = BuildReport::default();
        let mut merged: Vec<Merge> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut ensure = |address: &str, merged: &mut Vec<Merge>| -> usize {
            let key = address.trim_end_matches('/').to_string();
            *index.entry(key).or_insert_with(|| {
                merged.push(Merge {
                    address: address.to_string(),
                    capabilities: BTreeSet::new(),
                    runners: Vec::new(),
                });
                merged.len() - 1
            })
        };

        for p in polled {
            let info = &p.info;
            if info.transcoder.is_empty() || !valid_address(&info.transcoder) {
                continue;
            }
            let mut eligible = BTreeSet::new();
            let per_capability = info
                .capabilities
                .as_ref()
                .and_then(|c| c.constraints.as_ref())
                .map(|c| &c.per_capability);
            for (capability, constraints) in per_capability.into_iter().flatten() {
                let Some(pipeline) = pipeline_of(*capability) else {
                    continue;
                };
                for model in constraints.models.keys().filter(|m| !m.is_empty()) {
                    let Some(price) = capability_price(info, *capability, model) else {
                        continue;
                    };
                    if ceilings
                        .for_pair(*capability, model)
                        .is_some_and(|max| price > max)
                    {
                        continue;
                    }
                    eligible.insert(format!("{pipeline}/{model}"));
                }
            }
            if eligible.is_empty() {
                continue;
            }
            let i = ensure(&info.transcoder, &mut merged);
            merged[i].capabilities.extend(eligible);
        }

        for p in polled {
            let Some(body) = &p.discovery else {
                continue;
            };
            let Some(entries) = parse_entries(body) else {
                report.bad_documents.push(p.info.transcoder.clone());
                continue;
            };
            for Entry { address, runners } in entries {
                if address.is_empty() {
                    continue;
                }
                let known = index_has(&merged, &address);
                if !known && !valid_address(&address) {
                    continue;
                }
                let i = ensure(&address, &mut merged);
                merged[i].runners(runners, ceilings.global(), &mut report);
            }
        }

        let mut snapshot = Snapshot::default();
        for m in merged.into_iter().filter(|m| !m.capabilities.is_empty()) {
            let orch = Orchestrator {
                address: m.address,
                capabilities: m.capabilities.into_iter().collect(),
                runners: m.runners,
            };
            let n = snapshot.orchestrators.len();
            for c in &orch.capabilities {
                snapshot.by_capability.entry(c.clone()).or_default().push(n);
            }
            snapshot.json.push(Bytes::from(orch.to_json()));
            snapshot.orchestrators.push(orch);
        }
        snapshot.all = snapshot.join(&(0..snapshot.orchestrators.len()).collect::<Vec<_>>());
        (snapshot, report)
    }

    /// The orchestrators, first-seen order.
    pub fn orchestrators(&self) -> &[Orchestrator] {
        &self.orchestrators
    }

    /// How many orchestrators it holds.
    pub fn len(&self) -> usize {
        self.orchestrators.len()
    }

    /// Nothing known.
    pub fn is_empty(&self) -> bool {
        self.orchestrators.is_empty()
    }

    /// Indices of the orchestrators offering any of `caps` (OR; empty
    /// values ignored; no caps means all): by requested cap, in order, each
    /// address once.
    pub fn select<'a>(&self, caps: impl IntoIterator<Item = &'a str>) -> Vec<usize> {
        let caps: Vec<&str> = caps.into_iter().filter(|c| !c.is_empty()).collect();
        if caps.is_empty() {
            return (0..self.orchestrators.len()).collect();
        }
        let mut seen = vec![false; self.orchestrators.len()];
        let mut out = Vec::new();
        for cap in caps {
            for &i in self.by_capability.get(cap).into_iter().flatten() {
                if !std::mem::replace(&mut seen[i], true) {
                    out.push(i);
                }
            }
        }
        out
    }

    /// The response body for `caps`: a JSON array and `\n`, as Go's
    /// `json.Encoder` writes `[]discoveryResponse`. Without caps it is the
    /// body built with the snapshot (no copy).
    pub fn response<'a>(&self, caps: impl IntoIterator<Item = &'a str>) -> Bytes {
        let mut caps = caps.into_iter().filter(|c| !c.is_empty()).peekable();
        if caps.peek().is_none() {
            return if self.orchestrators.is_empty() {
                Bytes::from_static(b"[]\n")
            } else {
                self.all.clone()
            };
        }
        self.join(&self.select(caps))
    }

    /// `[` entries `]\n`.
    fn join(&self, picked: &[usize]) -> Bytes {
        let len: usize = picked.iter().map(|&i| self.json[i].len() + 1).sum();
        let mut out = Vec::with_capacity(len + 3);
        out.push(b'[');
        for (n, &i) in picked.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.json[i]);
        }
        out.extend_from_slice(b"]\n");
        Bytes::from(out)
    }
}

fn index_has(merged: &[Merge], address: &str) -> bool {
    let key = address.trim_end_matches('/');
    merged.iter().any(|m| m.address.trim_end_matches('/') == key)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::livepeer::proto::capabilities::{
        capability_constraints::ModelConstraint, CapabilityConstraints, Constraints,
    };

    const LV2V: u32 = 35;
    const T2I: u32 = 27;

    fn caps(pairs: &[(u32, &str)]) -> proto::Capabilities {
        let mut per: BTreeMap<u32, CapabilityConstraints> = BTreeMap::new();
        for (c, m) in pairs {
            per.entry(*c)
                .or_default()
                .models
                .insert(m.to_string(), ModelConstraint::default());
        }
        proto::Capabilities {
            constraints: Some(Constraints {
                per_capability: per,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn price(ppu: i64, pixels: i64, cap: u32, model: &str) -> proto::PriceInfo {
        proto::PriceInfo {
            price_per_unit: ppu,
            pixels_per_unit: pixels,
            capability: cap,
            constraint: model.to_string(),
        }
    }

    fn orch(uri: &str, c: proto::Capabilities, prices: Vec<proto::PriceInfo>, discovery: &str) -> Polled {
        Polled {
            info: proto::OrchestratorInfo {
                transcoder: uri.to_string(),
                capabilities: Some(c),
                price_info: Some(price(200, 1, 0, "")),
                capabilities_prices: prices,
                ..Default::default()
            },
            discovery: (!discovery.is_empty()).then(|| discovery.as_bytes().to_vec()),
        }
    }

    fn lv2v_model_a_max_100() -> Ceilings {
        let payments: PaymentsConfig = toml::from_str(
            "[[max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"model-a\"\nprice_per_unit = 100\n",
        )
        .unwrap();
        Ceilings {
            discovery_max: None,
            payments,
        }
    }

    /// vectors B5: go-livepeer `TestRemoteSigner_Discovery` (lines 1462-1700).
    fn b5_fixture() -> Vec<Polled> {
        vec![
            orch(
                "https://orch1.example.com:8935",
                caps(&[(LV2V, "model-a")]),
                vec![price(80, 1, LV2V, "model-a")],
                r#"[
                {"address":"https://orch1.example.com:8935/","score":99,"capabilities":["evil/app"],"unknown_field":"must-not-leak",
                 "runners":[
                  {"url":"https://orch1.example.com:8935/scope-ok","app":"live-video-to-video/model-a","price_info":{"price":80,"currency":"wei","unit":"seconds"}},
                  {"url":"https://orch1.example.com:8935/scope-missing-price","app":"live-video-to-video/model-a"},
                  {"url":"https://orch1.example.com:8935/scope-too-expensive","app":"live-video-to-video/model-a","price_info":{"price":120,"currency":"wei","unit":"seconds"}},
                  {"url":"https://orch1.example.com:8935/scope-unsupported-unit","app":"live-video-to-video/model-a","price_info":{"price":1,"currency":"usd","unit":"seconds"}},
                  {"url":"https://orch1.example.com:8935/scope-invalid-price","app":"live-video-to-video/model-a","price_info":{"price":0,"currency":"wei","unit":"seconds"}},
                  {"url":"https://orch1.example.com:8935/scope-invalid-pixels","app":"live-video-to-video/model-a","price_info":{"price":0,"currency":"wei","unit":"seconds"}},
                  {"url":"https://orch1.example.com:8935/txt","app":"text-to-image/model-b","price_info":{"price":1,"currency":"wei","unit":"seconds"}}]},
                {"address":"https://discovered.example.com:8935","runners":[
                  {"url":"https://discovered.example.com:8935/scope","app":"live-video-to-video/model-a","capacity":3,"price_info":{"price":80,"currency":"wei","unit":"seconds"}},
                  {"url":"https://discovered.example.com:8935/dupe","app":"live-video-to-video/model-a","capacity":1,"price_info":{"price":80,"currency":"wei","unit":"seconds"}},
                  {"url":"https://discovered.example.com:8935/missing-price","app":"live-video-to-video/model-a"},
                  {"url":"https://discovered.example.com:8935/too-expensive","app":"live-video-to-video/model-a","price_info":{"price":120,"currency":"wei","unit":"seconds"}}]},
                {"address":"https://discovered.example.com:8935/","runners":[
                  {"url":"https://discovered.example.com:8935/dupe","app":"live-video-to-video/model-a","capacity":1,"capacity_used":1,"capacity_available":0,"price_info":{"price":80,"currency":"wei","unit":"seconds"}},
                  {"url":"https://discovered.example.com:8935/dupe","app":"live-video-to-video/model-a","capacity":2,"price_info":{"price":80,"currency":"wei","unit":"seconds"}}]}
                ]"#,
            ),
            orch(
                "https://orch2.example.com:8935",
                caps(&[(LV2V, "model-a"), (T2I, "model-b")]),
                vec![price(120, 1, LV2V, "model-a"), price(50, 1, T2I, "model-b")],
                r#"[
                {"address":"https://orch2.example.com:8935","runners":[
                  {"url":"https://orch2.example.com:8935/txt","app":"text-to-image/model-b","price_info":{"price":999,"currency":"wei","unit":"seconds"}},
                  {"url":"https://orch2.example.com:8935/scope","app":"live-video-to-video/model-a","price_info":{"price":1,"currency":"wei","unit":"seconds"}}]},
                {"address":"https://discovered.example.com:8935","runners":[
                  {"url":"https://discovered.example.com:8935/from-orch2","app":"live-video-to-video/model-a","price_info":{"price":80,"currency":"wei","unit":"seconds"}}]}
                ]"#,
            ),
            orch(
                "https://orch3.example.com:8935",
                caps(&[(LV2V, "model-a")]),
                vec![price(200, 1, LV2V, "model-a")],
                r#"[{"address":"https://orch3.example.com:8935","runners":[
                  {"url":"https://orch3.example.com:8935/scope","app":"live-video-to-video/model-a","price_info":{"price":1,"currency":"wei","unit":"seconds"}}]}]"#,
            ),
            Polled {
                info: proto::OrchestratorInfo {
                    transcoder: "://invalid-uri".into(),
                    capabilities: Some(caps(&[(LV2V, "model-a")])),
                    price_info: Some(price(1, 1, 0, "")),
                    ..Default::default()
                },
                discovery: None,
            },
        ]
    }

    fn apps(o: &Orchestrator) -> Vec<&str> {
        o.runners.iter().map(|r| r.app.as_str()).collect()
    }

    #[test]
    fn b5_discovery() {
        let (snap, report) = Snapshot::build(&b5_fixture(), &lv2v_model_a_max_100());
        let o = snap.orchestrators();
        let addresses: Vec<&str> = o.iter().map(|o| o.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "https://orch1.example.com:8935",
                "https://orch2.example.com:8935",
                "https://discovered.example.com:8935",
                "https://orch3.example.com:8935",
            ]
        );
        assert_eq!(
            o[0].capabilities,
            ["live-video-to-video/model-a", "text-to-image/model-b"]
        );
        assert_eq!(
            apps(&o[0]),
            [
                "live-video-to-video/model-a",
                "live-video-to-video/model-a",
                "text-to-image/model-b"
            ]
        );
        let urls: Vec<&str> = o[0]
            .runners
            .iter()
            .map(|r| r.url.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(urls, ["scope-ok", "scope-too-expensive", "txt"]);
        assert_eq!(
            o[1].capabilities,
            ["live-video-to-video/model-a", "text-to-image/model-b"]
        );
        assert_eq!(
            apps(&o[1]),
            ["text-to-image/model-b", "live-video-to-video/model-a"]
        );
        assert_eq!(o[2].capabilities, ["live-video-to-video/model-a"]);
        assert_eq!(o[2].runners.len(), 4);
        assert_eq!((o[2].runners[1].capacity, o[2].runners[1].capacity_used), (1, 0));
        let urls: Vec<&str> = o[2]
            .runners
            .iter()
            .map(|r| r.url.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(urls, ["scope", "dupe", "too-expensive", "from-orch2"]);
        assert_eq!(o[3].capabilities, ["live-video-to-video/model-a"]);
        assert_eq!(apps(&o[3]), ["live-video-to-video/model-a"]);
        // The conflicting `dupe` (capacity 2) is reported; the usage-only one is not.
        assert_eq!(
            report.conflicts,
            [(
                "https://discovered.example.com:8935".to_string(),
                "https://discovered.example.com:8935/dupe".to_string()
            )]
        );
        let body = String::from_utf8(snap.response([]).to_vec()).unwrap();
        assert!(body.ends_with("]\n"));
        assert!(!body.contains("unknown_field") && !body.contains("must-not-leak") && !body.contains("evil"));
        assert!(!body.contains("invalid-uri"));
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), 4);
        for e in parsed.as_array().unwrap() {
            assert_eq!(e["score"], 1);
        }
    }

    #[test]
    fn b5_caps_filter() {
        let (snap, _) = Snapshot::build(&b5_fixture(), &lv2v_model_a_max_100());
        assert_eq!(snap.select(["live-video-to-video/model-a"]), [0, 1, 2, 3]);
        assert_eq!(snap.select(["text-to-image/model-b"]), [0, 1]);
        // OR, repeated caps, order of the request, each address once, empty ignored.
        assert_eq!(
            snap.select(["text-to-image/model-b", "", "live-video-to-video/model-a"]),
            [0, 1, 2, 3]
        );
        assert_eq!(snap.select([""]), [0, 1, 2, 3]);
        assert!(snap.select(["llm/none"]).is_empty());
        assert_eq!(&snap.response(["llm/none"])[..], b"[]\n");
    }

    #[test]
    fn b5_all_invalid_or_too_expensive_is_empty() {
        // go-livepeer lines 1668-1737.
        let polled = vec![
            orch(
                "https://orch3.example.com:8935",
                caps(&[(LV2V, "model-a")]),
                vec![price(200, 1, LV2V, "model-a")],
                "",
            ),
            Polled {
                info: proto::OrchestratorInfo {
                    transcoder: "://invalid-uri".into(),
                    capabilities: Some(caps(&[(LV2V, "model-a")])),
                    price_info: Some(price(1, 1, 0, "")),
                    ..Default::default()
                },
                discovery: None,
            },
        ];
        let (snap, _) = Snapshot::build(&polled, &lv2v_model_a_max_100());
        assert!(snap.is_empty());
    }

    #[test]
    fn prices_and_ceilings() {
        let c = caps(&[
            (LV2V, "a"),
            (LV2V, "b"),
            (T2I, "c"),
            (13, "scene"),
            (35, ""),
            (99, "x"),
        ]);
        let info = proto::OrchestratorInfo {
            transcoder: "http://o:1".into(),
            capabilities: Some(c.clone()),
            // Global fallback 0 is a price; the `b` entry with 0 units does not count.
            price_info: Some(price(0, 1, 0, "")),
            capabilities_prices: vec![
                price(7, 2, LV2V, "a"),
                price(1, 0, LV2V, "b"),
                price(-1, 1, T2I, "c"),
            ],
            ..Default::default()
        };
        let polled = [Polled {
            info,
            discovery: None,
        }];
        let none = Ceilings::default();
        let (snap, _) = Snapshot::build(&polled, &none);
        // a = 7/2, b = 0 (global), c negative → dropped; 13 and 99 have no name; empty model skipped.
        assert_eq!(
            snap.orchestrators()[0].capabilities,
            ["live-video-to-video/a", "live-video-to-video/b"]
        );
        let tight = Ceilings {
            discovery_max: Some(Rat::from_integer(3)),
            ..Default::default()
        };
        let (snap, _) = Snapshot::build(&polled, &tight);
        assert_eq!(snap.orchestrators()[0].capabilities, ["live-video-to-video/b"]);
        // [payments] global ceiling applies to pairs without their own entry.
        let payments: PaymentsConfig = toml::from_str("max_price_per_unit = \"7/2\"").unwrap();
        let (snap, _) = Snapshot::build(
            &polled,
            &Ceilings {
                discovery_max: None,
                payments,
            },
        );
        assert_eq!(
            snap.orchestrators()[0].capabilities,
            ["live-video-to-video/a", "live-video-to-video/b"]
        );
        // No global price and no matching entry: no price, no capability.
        let mut p = polled[0].clone();
        p.info.price_info = None;
        let (snap, _) = Snapshot::build(&[p], &none);
        assert_eq!(snap.orchestrators()[0].capabilities, ["live-video-to-video/a"]);
    }

    #[test]
    fn pipeline_names_are_go_livepeers() {
        assert_eq!(pipeline_of(35).as_deref(), Some("live-video-to-video"));
        assert_eq!(pipeline_of(33).as_deref(), Some("llm"));
        assert_eq!(pipeline_of(37).as_deref(), Some("byoc"));
        assert_eq!(pipeline_of(32).as_deref(), Some("segment-anything-2"));
        assert_eq!(pipeline_of(0).as_deref(), Some("h.264"));
        assert_eq!(pipeline_of(13), None);
        assert_eq!(pipeline_of(38), None);
        for (name, id) in crate::config::PIPELINES {
            assert_eq!(pipeline_of(id).as_deref(), Some(name));
        }
    }

    #[test]
    fn runner_only_orchestrators_and_bad_documents() {
        let polled = vec![
            orch("https://a:1", caps(&[]), vec![], "{\"not\":\"an array\"}"),
            orch(
                "https://b:1",
                caps(&[]),
                vec![],
                r#"[{"address":"","runners":[]},{"address":"://bad","runners":[{"url":"u","app":"x","price_info":{"price":1,"currency":"wei","unit":"fixed"}}]},{"address":"https://c:1/","runners":[{"url":"u","app":"x","price_info":{"price":1,"currency":"wei","unit":"fixed"}}]}]"#,
            ),
        ];
        let (snap, report) = Snapshot::build(&polled, &Ceilings::default());
        assert_eq!(report.bad_documents, ["https://a:1"]);
        assert_eq!(snap.len(), 1);
        // First seen form of the address is kept, trailing slash and all.
        assert_eq!(snap.orchestrators()[0].address, "https://c:1/");
        assert_eq!(snap.orchestrators()[0].capabilities, ["x"]);
    }
}
