//! `Address` parsing (lenient, like go-livepeer's `-ethAcctAddr`) and EIP-55.
//!
//! Properties: never panics; a parsed address round-trips through its
//! EIP-55 and lowercase forms; the EIP-55 form is 42 ASCII characters that
//! differ from the lowercase form only in letter case.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_signer::eth::Address;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(a) = s.parse::<Address>() else { return };
    let checksum = a.to_checksum();
    let lower = a.to_lower_hex();
    assert_eq!(checksum.len(), 42);
    assert_eq!(checksum.to_ascii_lowercase(), lower);
    assert_eq!(checksum.parse::<Address>().unwrap(), a);
    assert_eq!(lower.parse::<Address>().unwrap(), a);
    assert_eq!(a.to_string(), checksum);
});
