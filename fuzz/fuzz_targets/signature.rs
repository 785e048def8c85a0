//! The 65-byte signature verifier: `RecoverableSignature::parse`,
//! `recover_digest`, `verify_digest` (go-livepeer's `VerifySig` rules).
//!
//! Input: 32-byte digest ‖ signature bytes (any length).
//! Properties: never panics; `parse` accepts exactly 65 bytes with low s and
//! v ∈ {27, 28} and keeps them unchanged; whatever `recover_digest` returns
//! `verify_digest` agrees with; a recovered address verifies, flipping `v`
//! never verifies for the same address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_signer::eth::signature::HALF_ORDER;
use livepeer_signer::eth::{recover_digest, verify_digest, Address, RecoverableSignature, VerifyError};

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let digest: [u8; 32] = data[..32].try_into().unwrap();
    let sig = &data[32..];

    let structurally_ok =
        sig.len() == 65 && sig[32..64] <= HALF_ORDER[..] && matches!(sig[64], 27 | 28);
    match RecoverableSignature::parse(sig) {
        Ok(parsed) => {
            assert!(structurally_ok);
            assert_eq!(&parsed.as_bytes()[..], sig);
            assert_eq!(parsed.to_hex().len(), 132);
        }
        Err(_) => assert!(!structurally_ok),
    }

    match recover_digest(&digest, sig) {
        Ok(addr) => {
            assert!(structurally_ok);
            verify_digest(&addr, &digest, sig).expect("recovered address verifies");
            let mut flipped = sig.to_vec();
            flipped[64] ^= 27 ^ 28;
            match verify_digest(&addr, &digest, &flipped) {
                Err(VerifyError::WrongSigner { .. } | VerifyError::Unrecoverable) => {}
                other => panic!("flipped v: {other:?}"),
            }
        }
        Err(e) => {
            assert_eq!(verify_digest(&Address::ZERO, &digest, sig), Err(e));
        }
    }
});
