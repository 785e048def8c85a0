//! The signed session blob of `/generate-live-payment` (spec §3.3):
//! `RemotePaymentState::from_json` on arbitrary bytes (a gateway sends the
//! state back; the signature is checked first, but the parser must be safe
//! on anything, including Go-minted states and the auth webhook's view).
//!
//! Properties: never panics; a parsed state's `to_json` parses again to an
//! equal state, and serialising that gives the same bytes (the signed form
//! is a fixed point after one round); `balance_rat` never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_signer::livepeer::payment::state::RemotePaymentState;

fuzz_target!(|data: &[u8]| {
    let Ok(st) = RemotePaymentState::from_json(data) else {
        return;
    };
    let _ = st.balance_rat();
    let json = st.to_json();
    let again = RemotePaymentState::from_json(&json).unwrap_or_else(|e| {
        panic!(
            "to_json output does not parse ({e}): {}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(again, st);
    // `GoTime` compares instants; the bytes also pin the offset and fraction.
    assert_eq!(again.last_update.format(), st.last_update.format());
    let json2 = again.to_json();
    assert_eq!(
        json2,
        json,
        "re-serialising is not byte-stable: {} vs {}",
        String::from_utf8_lossy(&json2),
        String::from_utf8_lossy(&json)
    );
    let _ = RemotePaymentState::digest(&json);
});
