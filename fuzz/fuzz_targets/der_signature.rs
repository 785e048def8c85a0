//! AWS KMS parsing: the DER ECDSA signature returned by `Sign`
//! (`keys::aws_kms::parse_signature`) and the DER SubjectPublicKeyInfo
//! returned by `GetPublicKey` (`keys::aws_kms::parse_public_key`). The first
//! byte picks the parser. Arbitrary bytes never panic; an accepted signature
//! re-encodes to DER that parses back to the same `(r, s)`, unchanged (the
//! backend must not normalise `s`; the Signer does).
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_signer::eth::Address;
use livepeer_signer::keys::aws_kms::{parse_public_key, parse_signature};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which & 1 == 0 {
        if let Ok(sig) = parse_signature(rest) {
            let der = sig.to_der();
            assert_eq!(parse_signature(der.as_bytes()).expect("own DER parses"), sig);
        }
    } else if let Ok(key) = parse_public_key(rest) {
        let _ = Address::from_public_key(&key);
    }
});
