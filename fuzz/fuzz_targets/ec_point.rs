//! PKCS#11 `CKA_EC_POINT` parsing (`keys::pkcs11::ec::parse_ec_point`):
//! arbitrary bytes never panic, and every accepted point round-trips through
//! both encodings tokens use (DER OCTET STRING and the raw SEC1 point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_signer::keys::pkcs11::ec::{encode_ec_point, parse_ec_point};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = parse_ec_point(data) {
        let der = encode_ec_point(&key);
        assert_eq!(der[..2], [0x04, 0x41], "DER OCTET STRING of 65 bytes");
        assert_eq!(parse_ec_point(&der).expect("own encoding parses"), key);
        let raw = key.to_encoded_point(false);
        assert_eq!(parse_ec_point(raw.as_bytes()).expect("raw point parses"), key);
    }
});
