//! Conformance vectors from `../shared/protocol/vectors.md`, asserted byte for byte,
//! and the Signer's canonicalisation over many random keys.

mod support;

use k256::ecdsa::{Signature, SigningKey};
use k256::elliptic_curve::scalar::IsHigh;
use livepeer_signer::eth::{hex, keccak256, recover_digest, verify_digest, verify_sig, Address, VerifyError};
use livepeer_signer::keys::keystore::KeystoreBackend;
use livepeer_signer::livepeer::orch_info::{self, OrchInfoSignature};
use livepeer_signer::signer::{SignError, Signer};
use rand::{RngCore, SeedableRng};

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn signer_for(key: SigningKey) -> Signer {
    Signer::new(Box::new(KeystoreBackend::from_signing_key(key, "memory".into())))
}

// ---- A1: crypto/verify_test.go

const A1_ADDR: &str = "0x3BadDb1eeE2105893136A3F96c8a963E9C6309d6";
const A1_MSG: &str = "b7da355477356fc4c47fcabcf232dc77a6db9b07b7e48b76261cc55cc8fbabb3";
const A1_SIG: &str = "206443228e8f784bc3a122de0d85eb3ebff82d6a79cca26c7eeb907099a6404f6dff57bc6828f28bd6cd073c89d94cf3364204679ed8365fa45b5ee6af19a9841c";

#[test]
fn a1_accepts_the_go_livepeer_signature() {
    let msg = hex::decode(A1_MSG).unwrap();
    let sig = hex::decode(A1_SIG).unwrap();
    assert_eq!(verify_sig(&addr(A1_ADDR), &msg, &sig), Ok(()));
}

#[test]
fn a1_rejects_64_byte_signature() {
    let msg = hex::decode(A1_MSG).unwrap();
    let sig = hex::decode(A1_SIG).unwrap();
    let err = verify_sig(&addr(A1_ADDR), &msg, &sig[..64]).unwrap_err();
    assert_eq!(err, VerifyError::Length(64));
    assert!(err.to_string().starts_with("invalid signature length"));
}

#[test]
fn a1_rejects_high_s() {
    let msg = hex::decode(A1_MSG).unwrap();
    let sig = hex::decode("e742ff452d41413616a5bf43fe15dd88294e983d3d36206c2712f39083d638bde0a0fc89be718fbc1033e1d30d78be1c68081562ed2e97af876f286f3453231d1b").unwrap();
    let err = verify_sig(&addr(A1_ADDR), &msg, &sig).unwrap_err();
    assert_eq!(err, VerifyError::HighS);
    assert_eq!(err.to_string(), "signature s value too high");
}

#[test]
fn a1_rejects_v_229() {
    let msg = hex::decode(A1_MSG).unwrap();
    let mut sig = vec![0u8; 64];
    sig.push(0xe5);
    let err = verify_sig(&addr(A1_ADDR), &msg, &sig).unwrap_err();
    assert_eq!(err, VerifyError::BadV(229));
    assert!(err.to_string().starts_with("signature v value must be 27 or 28"));
}

#[test]
fn a1_rejects_raw_v_0_and_1() {
    let msg = hex::decode(A1_MSG).unwrap();
    let mut sig = hex::decode(A1_SIG).unwrap();
    sig[64] -= 27;
    assert_eq!(verify_sig(&addr(A1_ADDR), &msg, &sig), Err(VerifyError::BadV(1)));
}

#[test]
fn a1_other_message_recovers_another_address() {
    // FromHex("foo") is the empty byte string in go-livepeer's test.
    let sig = hex::decode(A1_SIG).unwrap();
    match verify_sig(&addr(A1_ADDR), b"", &sig) {
        Err(VerifyError::WrongSigner { expected, recovered }) => {
            assert_eq!(expected, addr(A1_ADDR));
            assert_ne!(recovered, expected);
        }
        other => panic!("expected WrongSigner, got {other:?}"),
    }
}

// ---- A5: a real redeemed ticket

#[test]
fn a5_ticket_signature_recovers_the_sender() {
    let hash =
        hex::decode_array::<32>("d5104bbecf755deaa03acf83486f2414d749f5e9d98b9feb9a0ad3791413f7e4").unwrap();
    let sig = hex::decode("90cb8a9280386cc77e9f3473bb87530cf9a1dbe5625013a9ed16675ad7607c800bf4e32ee4cc6b9c785e1c786c9965831a8216c408b251f98d6c18bf1bf4d1621c").unwrap();
    assert_eq!(
        verify_sig(&addr("0x3eE860A4abA830AF84EbBCE2b381fc11DB8493e2"), &hash, &sig),
        Ok(())
    );
}

// ---- A10 / C1

#[test]
fn a10_key_has_the_expected_address() {
    let key = support::c_key();
    assert_eq!(
        Address::from_public_key(key.verifying_key()).to_checksum(),
        support::C_ADDRESS
    );
}

#[test]
fn c1_digest_steps() {
    let a = addr(support::C_ADDRESS);
    assert_eq!(
        orch_info::message(&a),
        "0x96216849c49358B10257cb55b28eA603c874b05E"
    );
    assert_eq!(
        hex::encode(keccak256(orch_info::message(&a))),
        "ee96633aed042ac52aa7069ecf77197b72b4eaf865c41905e4e184b7b2a54799"
    );
    assert_eq!(
        hex::encode(orch_info::digest(&a)),
        "86823e0a870be94a5ea7641cd849e4938a5537b90e12235c02e4bcf660463c30"
    );
}

#[tokio::test]
async fn c1_response_body_is_byte_exact() {
    let signer = signer_for(support::c_key());
    let orch = OrchInfoSignature::create(&signer).await.unwrap();
    assert_eq!(std::str::from_utf8(orch.body()).unwrap(), support::C1_BODY);
    // And the orchestrator-side check passes: VerifySig(addr, keccak256(ASCII addr), sig).
    let a = addr(support::C_ADDRESS);
    assert_eq!(
        verify_sig(
            &a,
            &keccak256(orch_info::message(&a)),
            orch.signature().as_bytes()
        ),
        Ok(())
    );
}

// ---- The Signer over many keys (issue 7: >= 10,000 fresh signatures per backend)

#[tokio::test]
async fn ten_thousand_random_keys_sign_canonically_and_match_k256_recoverable() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x11fe_9ee7);
    let mut v_seen = [0usize; 2];
    for _ in 0..10_000 {
        let key = SigningKey::random(&mut rng);
        let signer = signer_for(key.clone());
        let mut digest = [0u8; 32];
        rng.fill_bytes(&mut digest);
        let sig = signer.sign_digest(&digest).await.unwrap();
        // go-livepeer's verifier accepts it.
        verify_digest(&signer.address(), &digest, sig.as_bytes()).unwrap();
        // Byte-identical to k256's RFC 6979 recoverable signature (= libsecp256k1's).
        let (want, recid) = key.sign_prehash_recoverable(&digest).unwrap();
        assert_eq!(&sig.as_bytes()[..64], want.to_bytes().as_slice());
        assert_eq!(sig.v(), 27 + recid.to_byte());
        v_seen[(sig.v() - 27) as usize] += 1;
    }
    assert!(
        v_seen[0] > 300 && v_seen[1] > 300,
        "both v parities occur: {v_seen:?}"
    );
}

#[test]
fn high_s_input_is_normalised() {
    let key = support::c_key();
    let signer = signer_for(key.clone());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..50 {
        let mut digest = [0u8; 32];
        rng.fill_bytes(&mut digest);
        let (low, _) = key.sign_prehash_recoverable(&digest).unwrap();
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        assert!(bool::from(high.s().is_high()), "constructed a high-s input");
        let from_high = signer.finalize(&digest, &high).unwrap();
        let from_low = signer.finalize(&digest, &low).unwrap();
        assert_eq!(from_high, from_low);
        assert_eq!(
            recover_digest(&digest, from_high.as_bytes()).unwrap(),
            signer.address()
        );
    }
}

#[test]
fn a_signature_from_another_key_is_refused() {
    let signer = signer_for(support::c_key());
    let other = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let digest = keccak256(b"x");
    let (sig, _) = other.sign_prehash_recoverable(&digest).unwrap();
    let err = signer.finalize(&digest, &sig).unwrap_err();
    assert!(matches!(err, SignError::NotOurKey { .. }), "{err:?}");
    assert!(err.to_string().contains("does not recover to its public key"));
}

#[test]
fn a_signature_over_another_digest_is_refused() {
    // What a KMS that hashes the digest again produces.
    let key = support::c_key();
    let signer = signer_for(key.clone());
    let digest = keccak256(b"x");
    let (sig, _) = key.sign_prehash_recoverable(&sha2_of(&digest)).unwrap();
    assert!(matches!(
        signer.finalize(&digest, &sig),
        Err(SignError::NotOurKey { .. })
    ));
}

fn sha2_of(d: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(d).into()
}
