//! `Rat::parse` (`big.Rat.SetString` syntax: `a/b` with base prefixes,
//! integers, decimals with an exponent) on arbitrary UTF-8: it reads the
//! state's `Balance` and configured / requested prices.
//!
//! Properties: never panics; a parsed value's `rat_string` parses back to an
//! equal `Rat` and is a fixed point (lowest terms, no `/1`); `float_string(5)` never panics, has
//! exactly five fractional digits, and parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_signer::livepeer::payment::rat::Rat;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(v) = Rat::parse(s) else { return };
    let printed = v.rat_string();
    let back = Rat::parse(&printed).unwrap_or_else(|e| panic!("rat_string {printed:?} of {s:?}: {e}"));
    assert_eq!(back, v, "{s:?} printed as {printed:?}");
    assert_eq!(back.rat_string(), printed);
    // Lowest terms, positive denominator: never "a/1", never "a/-b".
    assert!(!printed.contains("/-") && !printed.ends_with("/1"), "{printed:?}");
    let f = v.float_string(5);
    let (_, frac) = f
        .split_once('.')
        .unwrap_or_else(|| panic!("float_string(5) {f:?} has no point"));
    assert_eq!(frac.len(), 5, "{f:?}");
    assert!(Rat::parse(&f).is_ok(), "float_string(5) {f:?} does not parse");
});
