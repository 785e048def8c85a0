//! Assembly of the two protobuf payloads of a `/generate-live-payment`
//! response: `net.Payment` (§3.9, `payment` / `Livepeer-Payment`) and the
//! segment credentials `net.SegData` (§3.10, `segCreds` / `Livepeer-Segment`),
//! plus the bytes the segment-credential signature covers.
//!
//! What is signed for segment credentials: go-livepeer's
//! `Broadcaster.Sign(Flatten)`, i.e. ECDSA over [`seg_creds_digest`] =
//! `TextHash(keccak256(Flatten))`, where for the empty segment the signer
//! describes `Flatten = ASCII(manifest_id) ‖ uint256_be(0) ‖ keccak256("")`.
//! The orchestrator checks it with `VerifySig(payment.sender,
//! keccak256(Flatten), sig)`. Tickets are signed separately
//! ([`super::Ticket::digest`]); this module only places the signatures.

use alloy_primitives::{B256, U256};

use super::params::{ExpirationParams, TicketParams};
use crate::eth::{keccak256, text_hash, Address};
use crate::livepeer::proto;

/// `keccak256("")`, the hash of the empty segment the credentials describe.
pub const EMPTY_SEGMENT_HASH: [u8; 32] = [
    0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7, 0x03, 0xc0, 0xe5,
    0x00, 0xb6, 0x53, 0xca, 0x82, 0x27, 0x3b, 0x7b, 0xfa, 0xd8, 0x04, 0x5d, 0x85, 0xa4, 0x70,
];

/// The literal `profiles` bytes of the signer's `SegData` (poisons very old
/// orchestrators that do not read `fullProfiles`).
pub const INVALID_PROFILES: &[u8] = b"invalid";

/// `SegTranscodingMetadata.Flatten()`: `ASCII(manifest_id) ‖
/// uint256_be(|seq|) ‖ hash ‖ ASCII(profiles_hex)` (Go writes `big.Int.Bytes()`
/// of the sequence number, i.e. its absolute value).
pub fn flatten(manifest_id: &str, seq: i64, hash: &B256, profiles_hex: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(manifest_id.len() + 64 + profiles_hex.len());
    out.extend_from_slice(manifest_id.as_bytes());
    out.extend_from_slice(&U256::from(seq.unsigned_abs()).to_be_bytes::<32>());
    out.extend_from_slice(hash.as_slice());
    out.extend_from_slice(profiles_hex.as_bytes());
    out
}

/// The `Flatten` of the empty segment the signer describes: sequence 0,
/// hash `keccak256("")`, no profiles.
pub fn empty_segment_flatten(manifest_id: &str) -> Vec<u8> {
    flatten(manifest_id, 0, &B256::from(EMPTY_SEGMENT_HASH), "")
}

/// The 32-byte digest the key signs for the segment credentials of
/// `manifest_id`: `TextHash(keccak256(empty_segment_flatten(manifest_id)))`.
pub fn seg_creds_digest(manifest_id: &str) -> [u8; 32] {
    text_hash(keccak256(empty_segment_flatten(manifest_id)))
}

/// `net.SegData` for the empty segment: manifest id, hash `keccak256("")`,
/// profiles `invalid`, the 65-byte `sig` over [`seg_creds_digest`], the
/// request's capabilities (if any) and the O's auth token, verbatim.
/// Sequence 0 and duration 0 are proto3 defaults and not emitted.
pub fn seg_data(
    manifest_id: &str,
    sig: &[u8],
    capabilities: Option<proto::Capabilities>,
    auth_token: Option<proto::AuthToken>,
) -> proto::SegData {
    proto::SegData {
        manifest_id: manifest_id.as_bytes().to_vec(),
        hash: EMPTY_SEGMENT_HASH.to_vec(),
        profiles: INVALID_PROFILES.to_vec(),
        sig: sig.to_vec(),
        capabilities,
        auth_token,
        ..Default::default()
    }
}

/// `net.Payment` (§3.9): `ticket_params` without expiration params, the
/// signer's 20-byte address, the effective `expiration_params` (always
/// set), one `{sender_nonce, sig}` per ticket in the order given (nonce
/// order), and the O's `price_info` copied verbatim as `expected_price`.
pub fn payment(
    params: &TicketParams,
    sender: Address,
    expiration: ExpirationParams,
    tickets: impl IntoIterator<Item = (u32, Vec<u8>)>,
    expected_price: Option<proto::PriceInfo>,
) -> proto::Payment {
    proto::Payment {
        ticket_params: Some(params.to_payment_proto()),
        sender: sender.as_bytes().to_vec(),
        expiration_params: Some(expiration.to_proto()),
        ticket_sender_params: tickets
            .into_iter()
            .map(|(sender_nonce, sig)| proto::TicketSenderParams { sender_nonce, sig })
            .collect(),
        expected_price,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::hex;
    use prost::Message;

    #[test]
    fn empty_segment_hash_is_keccak_of_nothing() {
        assert_eq!(keccak256(b""), EMPTY_SEGMENT_HASH);
        assert_eq!(
            hex::encode(EMPTY_SEGMENT_HASH),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn flatten_layout() {
        let f = empty_segment_flatten("abcd1234");
        assert_eq!(f.len(), 8 + 32 + 32);
        assert_eq!(&f[..8], b"abcd1234");
        assert_eq!(&f[8..40], &[0u8; 32]);
        assert_eq!(&f[40..], &EMPTY_SEGMENT_HASH);
        assert_eq!(seg_creds_digest("abcd1234"), text_hash(keccak256(&f)));
        let g = flatten("m", -3, &B256::repeat_byte(1), "0a0b");
        assert_eq!(g[32], 3);
        assert_eq!(&g[65..], b"0a0b");
    }

    #[test]
    fn seg_data_encoding() {
        let sig = [0x1b; 65];
        let token = proto::AuthToken {
            token: b"foo".to_vec(),
            session_id: "bar".into(),
            expiration: 5,
        };
        let seg = seg_data("ab", &sig, None, Some(token));
        let mut want = vec![0x0a, 2, b'a', b'b', 0x1a, 32];
        want.extend(EMPTY_SEGMENT_HASH);
        want.extend([0x22, 7]);
        want.extend(b"invalid");
        want.extend([0x2a, 65]);
        want.extend(sig);
        want.extend([
            0x42, 12, 0x0a, 3, b'f', b'o', b'o', 0x12, 3, b'b', b'a', b'r', 0x18, 5,
        ]);
        assert_eq!(seg.encode_to_vec(), want);
        assert_eq!(proto::SegData::decode(want.as_slice()).unwrap(), seg);
    }

    #[test]
    fn payment_assembly() {
        let params = TicketParams {
            recipient: Address::from_bytes([0x73; 20]),
            face_value: U256::from(1000),
            win_prob: U256::from(1),
            recipient_rand_hash: B256::repeat_byte(0x11),
            seed: U256::from(0x0102),
            expiration_block: U256::from(105),
            expiration_params: ExpirationParams {
                creation_round: 9,
                creation_round_block_hash: B256::repeat_byte(9),
            },
        };
        let exp = params.effective_expiration(ExpirationParams::default());
        let price = proto::PriceInfo {
            price_per_unit: 112,
            pixels_per_unit: 175,
            capability: 35,
            constraint: "livepeer/model-high".into(),
        };
        let sender = Address::from_bytes([0x96; 20]);
        let p = payment(
            &params,
            sender,
            exp,
            [(1, vec![0xaa; 65]), (2, vec![0xbb; 65])],
            Some(price.clone()),
        );
        let tp = p.ticket_params.as_ref().unwrap();
        assert!(tp.expiration_params.is_none());
        assert_eq!(tp.seed, vec![1, 2]);
        assert_eq!(tp.expiration_block, vec![105]);
        assert_eq!(p.sender, vec![0x96; 20]);
        assert_eq!(
            p.expiration_params,
            Some(proto::TicketExpirationParams {
                creation_round: 9,
                creation_round_block_hash: vec![9; 32]
            })
        );
        let nonces: Vec<u32> = p.ticket_sender_params.iter().map(|t| t.sender_nonce).collect();
        assert_eq!(nonces, [1, 2]);
        assert_eq!(p.expected_price, Some(price));
        let bytes = p.encode_to_vec();
        assert_eq!(proto::Payment::decode(bytes.as_slice()).unwrap(), p);
        // Field order: 1, 2, 3, 4, 4, 5.
        assert_eq!(bytes[0], 0x0a);
    }
}
