//! The `net.*` protobuf messages of go-livepeer's `net/lp_rpc.proto`
//! (`package net`, proto3) that payments and discovery use.
//!
//! Hand-written `#[derive(prost::Message)]` structs: no `.proto` file, no
//! `protoc`, no build script. Field numbers and wire types are exactly those
//! of `lp_rpc.proto` (spec §5); field names are the snake-case forms
//! `prost-build` would generate. Nested messages live in modules named after
//! their parent (`capabilities::Constraints`), as `prost-build` lays them out.
//!
//! Nothing here is hashed or signed directly: these are the wire forms of
//! `OrchestratorInfo` (decoded from the request's `orchestrator` field),
//! `net.Payment` (the `Livepeer-Payment` header, spec §3.9) and `net.SegData`
//! (the `Livepeer-Segment` header, spec §3.10). proto3 defaults are omitted
//! on encode and fields are written in field-number order, so prost's output
//! is the canonical encoding Go produces. Unknown fields are dropped on
//! decode (Go keeps them); the signer never re-encodes an `OrchestratorInfo`.
//!
//! Maps are `BTreeMap`s so that encodings are deterministic.

use std::collections::BTreeMap;

/// `net.OrchestratorRequest`: a gateway's `GetOrchestrator` request.
/// `sig` is `Broadcaster.Sign(ASCII(EIP-55 address))` (see
/// [`crate::livepeer::orch_info`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrchestratorRequest {
    /// The gateway (sender) address, 20 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub address: Vec<u8>,
    /// 65-byte `r‖s‖v` signature over `TextHash(keccak256(EIP-55 address))`.
    #[prost(bytes = "vec", tag = "2")]
    pub sig: Vec<u8>,
    /// Capabilities the gateway asks for.
    #[prost(message, optional, tag = "3")]
    pub capabilities: Option<Capabilities>,
    /// `ignoreCapacityCheck`.
    #[prost(bool, tag = "4")]
    pub ignore_capacity_check: bool,
}

/// `net.OSInfo`: object storage the orchestrator offers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OsInfo {
    /// `storageType`, an [`os_info::StorageType`] value.
    #[prost(enumeration = "os_info::StorageType", tag = "1")]
    pub storage_type: i32,
    /// `s3info`.
    #[prost(message, optional, tag = "16")]
    pub s3info: Option<S3OsInfo>,
}

/// Nested types of [`OsInfo`].
pub mod os_info {
    /// `net.OSInfo.StorageType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum StorageType {
        /// `DIRECT = 0`.
        Direct = 0,
        /// `S3 = 1`.
        S3 = 1,
        /// `GOOGLE = 2`.
        Google = 2,
    }
}

/// `net.S3OSInfo`: pre-signed S3 POST policy fields.
#[derive(Clone, PartialEq, prost::Message)]
pub struct S3OsInfo {
    /// `host = 1`.
    #[prost(string, tag = "1")]
    pub host: String,
    /// `key = 2`.
    #[prost(string, tag = "2")]
    pub key: String,
    /// `policy = 3`.
    #[prost(string, tag = "3")]
    pub policy: String,
    /// `signature = 4`.
    #[prost(string, tag = "4")]
    pub signature: String,
    /// `credential = 5`.
    #[prost(string, tag = "5")]
    pub credential: String,
    /// `xAmzDate = 6`.
    #[prost(string, tag = "6")]
    pub x_amz_date: String,
}

/// `net.PriceInfo`: price = `price_per_unit / pixels_per_unit` wei per unit.
/// Copied verbatim (all four fields) into `Payment.expected_price`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PriceInfo {
    /// `pricePerUnit = 1`, wei.
    #[prost(int64, tag = "1")]
    pub price_per_unit: i64,
    /// `pixelsPerUnit = 2`.
    #[prost(int64, tag = "2")]
    pub pixels_per_unit: i64,
    /// `capability = 3`.
    #[prost(uint32, tag = "3")]
    pub capability: u32,
    /// `constraint = 4` (model id).
    #[prost(string, tag = "4")]
    pub constraint: String,
}

/// `net.Capabilities`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Capabilities {
    /// `repeated uint64 bitstring = 1` (packed).
    #[prost(uint64, repeated, tag = "1")]
    pub bitstring: Vec<u64>,
    /// `repeated uint64 mandatories = 2` (packed).
    #[prost(uint64, repeated, tag = "2")]
    pub mandatories: Vec<u64>,
    /// `map<uint32, uint32> capacities = 3`.
    #[prost(btree_map = "uint32, uint32", tag = "3")]
    pub capacities: BTreeMap<u32, u32>,
    /// `version = 4`.
    #[prost(string, tag = "4")]
    pub version: String,
    /// `constraints = 5`.
    #[prost(message, optional, tag = "5")]
    pub constraints: Option<capabilities::Constraints>,
}

/// Nested types of [`Capabilities`].
pub mod capabilities {
    use std::collections::BTreeMap;

    /// `net.Capabilities.Constraints`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Constraints {
        /// `minVersion = 1`.
        #[prost(string, tag = "1")]
        pub min_version: String,
        /// `map<uint32, CapabilityConstraints> PerCapability = 2`.
        #[prost(btree_map = "uint32, message", tag = "2")]
        pub per_capability: BTreeMap<u32, CapabilityConstraints>,
    }

    /// `net.Capabilities.CapabilityConstraints`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CapabilityConstraints {
        /// `map<string, ModelConstraint> models = 1`.
        #[prost(btree_map = "string, message", tag = "1")]
        pub models: BTreeMap<String, capability_constraints::ModelConstraint>,
    }

    /// Nested types of [`CapabilityConstraints`].
    pub mod capability_constraints {
        /// `net.Capabilities.CapabilityConstraints.ModelConstraint`.
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct ModelConstraint {
            /// `warm = 1`.
            #[prost(bool, tag = "1")]
            pub warm: bool,
            /// `capacity = 2`.
            #[prost(uint32, tag = "2")]
            pub capacity: u32,
            /// `runnerVersion = 3`.
            #[prost(string, tag = "3")]
            pub runner_version: String,
            /// `capacityInUse = 4`.
            #[prost(uint32, tag = "4")]
            pub capacity_in_use: u32,
        }
    }
}

/// `net.OrchestratorInfo`: what `GetOrchestrator` returns; the request's
/// `orchestrator` field is its protobuf encoding, base64.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrchestratorInfo {
    /// `transcoder = 1`: the O's service URL (`Livepeer-Orchestrator-URL` on 480).
    #[prost(string, tag = "1")]
    pub transcoder: String,
    /// `ticket_params = 2`.
    #[prost(message, optional, tag = "2")]
    pub ticket_params: Option<TicketParams>,
    /// `price_info = 3`.
    #[prost(message, optional, tag = "3")]
    pub price_info: Option<PriceInfo>,
    /// `address = 4`: the O's address (`BytesToAddress`).
    #[prost(bytes = "vec", tag = "4")]
    pub address: Vec<u8>,
    /// `capabilities = 5`.
    #[prost(message, optional, tag = "5")]
    pub capabilities: Option<Capabilities>,
    /// `auth_token = 6`: copied verbatim into `SegData.auth_token`.
    #[prost(message, optional, tag = "6")]
    pub auth_token: Option<AuthToken>,
    /// `repeated HardwareInformation hardware = 7`.
    #[prost(message, repeated, tag = "7")]
    pub hardware: Vec<HardwareInformation>,
    /// `repeated OSInfo storage = 32`.
    #[prost(message, repeated, tag = "32")]
    pub storage: Vec<OsInfo>,
    /// `repeated PriceInfo capabilities_prices = 33`.
    #[prost(message, repeated, tag = "33")]
    pub capabilities_prices: Vec<PriceInfo>,
    /// `repeated string nodes = 34`.
    #[prost(string, repeated, tag = "34")]
    pub nodes: Vec<String>,
}

/// `net.AuthToken`: the O's HMAC session token.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AuthToken {
    /// `token = 1`.
    #[prost(bytes = "vec", tag = "1")]
    pub token: Vec<u8>,
    /// `session_id = 2`.
    #[prost(string, tag = "2")]
    pub session_id: String,
    /// `expiration = 3`, Unix seconds.
    #[prost(int64, tag = "3")]
    pub expiration: i64,
}

/// `net.SegData`: segment credentials (`Livepeer-Segment`). `sig` is
/// `Broadcaster.Sign(Flatten)` = ECDSA over `TextHash(keccak256(Flatten))`
/// (spec §3.10).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SegData {
    /// `manifestId = 1`: ASCII bytes of the manifest id.
    #[prost(bytes = "vec", tag = "1")]
    pub manifest_id: Vec<u8>,
    /// `seq = 2`.
    #[prost(int64, tag = "2")]
    pub seq: i64,
    /// `hash = 3`: 32-byte keccak256 of the segment.
    #[prost(bytes = "vec", tag = "3")]
    pub hash: Vec<u8>,
    /// `profiles = 4` (the signer sends ASCII `invalid`).
    #[prost(bytes = "vec", tag = "4")]
    pub profiles: Vec<u8>,
    /// `sig = 5`: 65-byte signature.
    #[prost(bytes = "vec", tag = "5")]
    pub sig: Vec<u8>,
    /// `duration = 6`, milliseconds.
    #[prost(int32, tag = "6")]
    pub duration: i32,
    /// `capabilities = 7`.
    #[prost(message, optional, tag = "7")]
    pub capabilities: Option<Capabilities>,
    /// `auth_token = 8`.
    #[prost(message, optional, tag = "8")]
    pub auth_token: Option<AuthToken>,
    /// `calc_perceptual_hash = 10`.
    #[prost(bool, tag = "10")]
    pub calc_perceptual_hash: bool,
    /// `repeated OSInfo storage = 32`.
    #[prost(message, repeated, tag = "32")]
    pub storage: Vec<OsInfo>,
    /// `repeated VideoProfile fullProfiles = 33`.
    #[prost(message, repeated, tag = "33")]
    pub full_profiles: Vec<VideoProfile>,
    /// `repeated VideoProfile fullProfiles2 = 34`.
    #[prost(message, repeated, tag = "34")]
    pub full_profiles2: Vec<VideoProfile>,
    /// `repeated VideoProfile fullProfiles3 = 35`.
    #[prost(message, repeated, tag = "35")]
    pub full_profiles3: Vec<VideoProfile>,
    /// `segment_parameters = 37`.
    #[prost(message, optional, tag = "37")]
    pub segment_parameters: Option<SegParameters>,
    /// `ForceSessionReinit = 38`.
    #[prost(bool, tag = "38")]
    pub force_session_reinit: bool,
}

/// `net.SegParameters`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SegParameters {
    /// `from = 1`.
    #[prost(uint64, tag = "1")]
    pub from: u64,
    /// `to = 2`.
    #[prost(uint64, tag = "2")]
    pub to: u64,
}

/// `net.VideoProfile`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VideoProfile {
    /// `name = 16`.
    #[prost(string, tag = "16")]
    pub name: String,
    /// `width = 17`.
    #[prost(int32, tag = "17")]
    pub width: i32,
    /// `height = 18`.
    #[prost(int32, tag = "18")]
    pub height: i32,
    /// `bitrate = 19`.
    #[prost(int32, tag = "19")]
    pub bitrate: i32,
    /// `fps = 20`.
    #[prost(uint32, tag = "20")]
    pub fps: u32,
    /// `format = 21`.
    #[prost(enumeration = "video_profile::Format", tag = "21")]
    pub format: i32,
    /// `fpsDen = 22`.
    #[prost(uint32, tag = "22")]
    pub fps_den: u32,
    /// `profile = 23`.
    #[prost(enumeration = "video_profile::Profile", tag = "23")]
    pub profile: i32,
    /// `gop = 24`.
    #[prost(int32, tag = "24")]
    pub gop: i32,
    /// `encoder = 25`.
    #[prost(enumeration = "video_profile::VideoCodec", tag = "25")]
    pub encoder: i32,
    /// `colorDepth = 26`.
    #[prost(int32, tag = "26")]
    pub color_depth: i32,
    /// `chromaFormat = 27`.
    #[prost(enumeration = "video_profile::ChromaSubsampling", tag = "27")]
    pub chroma_format: i32,
    /// `quality = 28`.
    #[prost(uint32, tag = "28")]
    pub quality: u32,
}

/// Nested enums of [`VideoProfile`].
pub mod video_profile {
    /// `net.VideoProfile.Format`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Format {
        /// `MPEGTS = 0`.
        Mpegts = 0,
        /// `MP4 = 1`.
        Mp4 = 1,
    }

    /// `net.VideoProfile.Profile`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Profile {
        /// `ENCODER_DEFAULT = 0`.
        EncoderDefault = 0,
        /// `H264_BASELINE = 1`.
        H264Baseline = 1,
        /// `H264_MAIN = 2`.
        H264Main = 2,
        /// `H264_HIGH = 3`.
        H264High = 3,
        /// `H264_CONSTRAINED_HIGH = 4`.
        H264ConstrainedHigh = 4,
    }

    /// `net.VideoProfile.VideoCodec`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum VideoCodec {
        /// `H264 = 0`.
        H264 = 0,
        /// `H265 = 1`.
        H265 = 1,
        /// `VP8 = 2`.
        Vp8 = 2,
        /// `VP9 = 3`.
        Vp9 = 3,
    }

    /// `net.VideoProfile.ChromaSubsampling`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ChromaSubsampling {
        /// `CHROMA_420 = 0`.
        Chroma420 = 0,
        /// `CHROMA_422 = 1`.
        Chroma422 = 1,
        /// `CHROMA_444 = 2`.
        Chroma444 = 2,
    }
}

/// `net.PaymentResult`: the O's answer to `POST /payment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PaymentResult {
    /// `info = 16`: refreshed OrchestratorInfo.
    #[prost(message, optional, tag = "16")]
    pub info: Option<OrchestratorInfo>,
}

/// `net.TicketParams`: the O's ticket parameters. Integers are unsigned
/// big-endian byte strings of any length (empty = 0).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TicketParams {
    /// `recipient = 1`: address bytes (`BytesToAddress`).
    #[prost(bytes = "vec", tag = "1")]
    pub recipient: Vec<u8>,
    /// `face_value = 2`, wei.
    #[prost(bytes = "vec", tag = "2")]
    pub face_value: Vec<u8>,
    /// `win_prob = 3`, out of 2^256 − 1.
    #[prost(bytes = "vec", tag = "3")]
    pub win_prob: Vec<u8>,
    /// `recipient_rand_hash = 4`: keccak256 of the O's secret random number.
    #[prost(bytes = "vec", tag = "4")]
    pub recipient_rand_hash: Vec<u8>,
    /// `seed = 5`.
    #[prost(bytes = "vec", tag = "5")]
    pub seed: Vec<u8>,
    /// `expiration_block = 6` (L1 block number).
    #[prost(bytes = "vec", tag = "6")]
    pub expiration_block: Vec<u8>,
    /// `expiration_params = 7`. Not set in `Payment.ticket_params`.
    #[prost(message, optional, tag = "7")]
    pub expiration_params: Option<TicketExpirationParams>,
}

/// `net.TicketSenderParams`: one ticket's nonce and signature.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TicketSenderParams {
    /// `sender_nonce = 1`.
    #[prost(uint32, tag = "1")]
    pub sender_nonce: u32,
    /// `sig = 2`: 65-byte `r‖s‖v` over `TextHash(ticket hash)`.
    #[prost(bytes = "vec", tag = "2")]
    pub sig: Vec<u8>,
}

/// `net.TicketExpirationParams`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TicketExpirationParams {
    /// `creation_round = 1`.
    #[prost(int64, tag = "1")]
    pub creation_round: i64,
    /// `creation_round_block_hash = 2` (32 bytes).
    #[prost(bytes = "vec", tag = "2")]
    pub creation_round_block_hash: Vec<u8>,
}

/// `net.Payment` (`Livepeer-Payment`, spec §3.9).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Payment {
    /// `ticket_params = 1` (without `expiration_params`).
    #[prost(message, optional, tag = "1")]
    pub ticket_params: Option<TicketParams>,
    /// `sender = 2`: the signer's address, 20 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub sender: Vec<u8>,
    /// `expiration_params = 3`: the effective creation round and block hash
    /// hashed into the tickets. Always set.
    #[prost(message, optional, tag = "3")]
    pub expiration_params: Option<TicketExpirationParams>,
    /// `repeated ticket_sender_params = 4`, in nonce order.
    #[prost(message, repeated, tag = "4")]
    pub ticket_sender_params: Vec<TicketSenderParams>,
    /// `expected_price = 5`: the O's `price_info`, verbatim.
    #[prost(message, optional, tag = "5")]
    pub expected_price: Option<PriceInfo>,
}

/// `net.GPUComputeInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GpuComputeInfo {
    /// `id = 1`.
    #[prost(string, tag = "1")]
    pub id: String,
    /// `name = 2`.
    #[prost(string, tag = "2")]
    pub name: String,
    /// `major = 4`.
    #[prost(uint32, tag = "4")]
    pub major: u32,
    /// `minor = 5`.
    #[prost(uint32, tag = "5")]
    pub minor: u32,
    /// `memory_free = 6`.
    #[prost(int64, tag = "6")]
    pub memory_free: i64,
    /// `memory_total = 7`.
    #[prost(int64, tag = "7")]
    pub memory_total: i64,
}

/// `net.HardwareInformation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HardwareInformation {
    /// `pipeline = 1`.
    #[prost(string, tag = "1")]
    pub pipeline: String,
    /// `model_id = 2`.
    #[prost(string, tag = "2")]
    pub model_id: String,
    /// `map<string, GPUComputeInfo> gpu_info = 3`.
    #[prost(btree_map = "string, message", tag = "3")]
    pub gpu_info: BTreeMap<String, GpuComputeInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn roundtrip<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) -> Vec<u8> {
        let bytes = m.encode_to_vec();
        let back = M::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(&back, m);
        bytes
    }

    fn sample_caps() -> Capabilities {
        let model = capabilities::capability_constraints::ModelConstraint {
            warm: true,
            capacity: 2,
            runner_version: "0.1.0".into(),
            capacity_in_use: 1,
        };
        let per = capabilities::CapabilityConstraints {
            models: BTreeMap::from([("livepeer/model-high".to_string(), model)]),
        };
        Capabilities {
            bitstring: vec![1, 1 << 40],
            mandatories: vec![0],
            capacities: BTreeMap::from([(35, 1)]),
            version: "0.8.0".into(),
            constraints: Some(capabilities::Constraints {
                min_version: "0.7.0".into(),
                per_capability: BTreeMap::from([(35, per)]),
            }),
        }
    }

    #[test]
    fn payment_encodes_with_spec_layout() {
        let payment = Payment {
            ticket_params: Some(TicketParams {
                recipient: vec![0xaa; 2],
                face_value: vec![0x01],
                ..Default::default()
            }),
            sender: vec![0xbb, 0xcc],
            expiration_params: Some(TicketExpirationParams {
                creation_round: 5,
                creation_round_block_hash: vec![0xdd],
            }),
            ticket_sender_params: vec![
                TicketSenderParams {
                    sender_nonce: 1,
                    sig: vec![0xee],
                },
                TicketSenderParams {
                    sender_nonce: 300,
                    sig: vec![],
                },
            ],
            expected_price: Some(PriceInfo {
                price_per_unit: 150,
                pixels_per_unit: 175,
                capability: 0,
                constraint: String::new(),
            }),
        };
        let expected: &[u8] = &[
            0x0a, 0x07, // 1: ticket_params, LEN 7
            0x0a, 0x02, 0xaa, 0xaa, // recipient
            0x12, 0x01, 0x01, // face_value
            0x12, 0x02, 0xbb, 0xcc, // 2: sender
            0x1a, 0x05, // 3: expiration_params, LEN 5
            0x08, 0x05, // creation_round 5
            0x12, 0x01, 0xdd, // creation_round_block_hash
            0x22, 0x05, 0x08, 0x01, 0x12, 0x01, 0xee, // 4: {nonce 1, sig ee}
            0x22, 0x03, 0x08, 0xac, 0x02, // 4: {nonce 300 (varint ac 02)}, empty sig omitted
            0x2a, 0x06, 0x08, 0x96, 0x01, 0x10, 0xaf, 0x01, // 5: {150, 175}
        ];
        assert_eq!(roundtrip(&payment), expected);
    }

    #[test]
    fn empty_messages_encode_to_nothing() {
        assert!(Payment::default().encode_to_vec().is_empty());
        assert!(SegData::default().encode_to_vec().is_empty());
        // An explicitly present but empty sub-message is still emitted (tag, len 0).
        let p = Payment {
            expiration_params: Some(TicketExpirationParams::default()),
            ..Default::default()
        };
        assert_eq!(p.encode_to_vec(), [0x1a, 0x00]);
    }

    #[test]
    fn capabilities_bitstring_is_packed() {
        let caps = Capabilities {
            bitstring: vec![1, 2],
            ..Default::default()
        };
        assert_eq!(roundtrip(&caps), [0x0a, 0x02, 0x01, 0x02]);
    }

    #[test]
    fn orchestrator_info_roundtrip() {
        let info = OrchestratorInfo {
            transcoder: "https://o.example:8935".into(),
            ticket_params: Some(TicketParams {
                recipient: vec![0x11; 20],
                face_value: vec![0x03, 0xe8],
                win_prob: vec![0xff; 32],
                recipient_rand_hash: vec![0x22; 32],
                seed: vec![0x33; 32],
                expiration_block: vec![0x01, 0x00],
                expiration_params: Some(TicketExpirationParams {
                    creation_round: 1619,
                    creation_round_block_hash: vec![0x44; 32],
                }),
            }),
            price_info: Some(PriceInfo {
                price_per_unit: 300,
                pixels_per_unit: 1,
                capability: 35,
                constraint: "livepeer/model-high".into(),
            }),
            address: vec![0x55; 20],
            capabilities: Some(sample_caps()),
            auth_token: Some(AuthToken {
                token: vec![9; 8],
                session_id: "sess".into(),
                expiration: 1_700_000_000,
            }),
            hardware: vec![HardwareInformation {
                pipeline: "live-video-to-video".into(),
                model_id: "m".into(),
                gpu_info: BTreeMap::from([(
                    "0".to_string(),
                    GpuComputeInfo {
                        id: "gpu0".into(),
                        name: "RTX".into(),
                        major: 8,
                        minor: 6,
                        memory_free: 1,
                        memory_total: 2,
                    },
                )]),
            }],
            storage: vec![OsInfo {
                storage_type: os_info::StorageType::S3 as i32,
                s3info: Some(S3OsInfo {
                    host: "h".into(),
                    x_amz_date: "d".into(),
                    ..Default::default()
                }),
            }],
            capabilities_prices: vec![PriceInfo {
                price_per_unit: 1,
                pixels_per_unit: 2,
                capability: 3,
                constraint: "c".into(),
            }],
            nodes: vec!["https://n1".into()],
        };
        let bytes = roundtrip(&info);
        // Field 1 (transcoder, LEN) comes first, field 34 (nodes) last: 34 << 3 | 2 = 0x112 → varint 92 02.
        assert_eq!(bytes[0], 0x0a);
        let tail = b"https://n1";
        assert_eq!(
            &bytes[bytes.len() - tail.len() - 3..bytes.len() - tail.len()],
            &[0x92, 0x02, 10]
        );
        let wrapped = PaymentResult { info: Some(info) };
        roundtrip(&wrapped);
    }

    #[test]
    fn seg_data_and_request_roundtrip() {
        let seg = SegData {
            manifest_id: b"abcd1234".to_vec(),
            seq: 0,
            hash: vec![0xc5; 32],
            profiles: b"invalid".to_vec(),
            sig: vec![1; 65],
            duration: 0,
            capabilities: Some(sample_caps()),
            auth_token: Some(AuthToken::default()),
            calc_perceptual_hash: true,
            storage: vec![OsInfo::default()],
            full_profiles: vec![VideoProfile {
                name: "P240p30fps16x9".into(),
                width: 426,
                height: 240,
                bitrate: 250_000,
                fps: 30,
                format: video_profile::Format::Mp4 as i32,
                fps_den: 1,
                profile: video_profile::Profile::H264High as i32,
                gop: 2,
                encoder: video_profile::VideoCodec::H265 as i32,
                color_depth: 8,
                chroma_format: video_profile::ChromaSubsampling::Chroma444 as i32,
                quality: 23,
            }],
            full_profiles2: vec![VideoProfile::default()],
            full_profiles3: vec![],
            segment_parameters: Some(SegParameters { from: 1, to: 2 }),
            force_session_reinit: true,
        };
        roundtrip(&seg);
        let req = OrchestratorRequest {
            address: vec![0x96; 20],
            sig: vec![0x1b; 65],
            capabilities: Some(sample_caps()),
            ignore_capacity_check: true,
        };
        roundtrip(&req);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(OrchestratorInfo::decode(&[0xff, 0xff, 0xff][..]).is_err());
    }
}
