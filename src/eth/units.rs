//! Amounts of ether, exactly: decimal wei, or ether with an `eth` suffix
//! (`0.05eth`), parsed without floats; and wei printed as exact ether.

use alloy_primitives::U256;

/// Wei per ether.
pub const WEI_PER_ETH: u64 = 1_000_000_000_000_000_000;

/// An amount that is not a decimal number of wei or of ether.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not digits (with at most one `.` in an `eth` amount).
    #[error("{0:?} is not an amount: give wei as digits (\"1000000000000000000\") or ether with an eth suffix (\"0.05eth\")")]
    Syntax(String),
    /// More than 18 decimals of ether.
    #[error("{0:?} has more than 18 decimals: 1 wei is 0.000000000000000001eth")]
    TooPrecise(String),
    /// Larger than 2^256 − 1 wei.
    #[error("{0:?} does not fit in 256 bits of wei")]
    TooLarge(String),
}

/// Parses a decimal number of wei (digits only, at most 2^256 − 1).
pub fn parse_wei(s: &str) -> Result<U256, AmountError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::Syntax(s.to_string()));
    }
    U256::from_str_radix(s, 10).map_err(|_| AmountError::TooLarge(s.to_string()))
}

/// Parses wei (`"50000000000000000"`) or ether with an `eth` suffix
/// (`"0.05eth"`, `"1eth"`, `"1.5 ETH"`), exactly.
pub fn parse_amount(s: &str) -> Result<U256, AmountError> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let Some(eth) = lower.strip_suffix("eth") else {
        return parse_wei(t).map_err(|e| match e {
            AmountError::Syntax(_) => AmountError::Syntax(s.to_string()),
            other => other,
        });
    };
    let eth = eth.trim_end();
    let (whole, frac) = eth.split_once('.').unwrap_or((eth, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return Err(AmountError::Syntax(s.to_string()));
    }
    if frac.len() > 18 {
        return Err(AmountError::TooPrecise(s.to_string()));
    }
    let wei_digits = format!("{whole}{frac:0<18}");
    let wei_digits = wei_digits.trim_start_matches('0');
    if wei_digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(wei_digits, 10).map_err(|_| AmountError::TooLarge(s.to_string()))
}

/// `wei` as exact ether: `"0.05"`, `"1"`, `"0.000000000000000001"`.
pub fn format_eth(wei: U256) -> String {
    let per = U256::from(WEI_PER_ETH);
    let (whole, frac) = (wei / per, wei % per);
    if frac.is_zero() {
        return whole.to_string();
    }
    let frac = format!("{:0>18}", frac.to_string());
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Wei as a float, for Prometheus gauges (`livepeer_signer_chain_deposit_wei`
/// …): exact up to 2^53 wei, then rounded; never used for money decisions.
pub fn wei_to_f64(wei: U256) -> f64 {
    f64::from(wei)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wei_and_eth_amounts_are_exact() {
        assert_eq!(
            parse_amount("0.05eth").unwrap(),
            U256::from(50_000_000_000_000_000u64)
        );
        assert_eq!(parse_amount("1eth").unwrap(), U256::from(WEI_PER_ETH));
        assert_eq!(
            parse_amount("1.5 ETH").unwrap(),
            U256::from(1_500_000_000_000_000_000u64)
        );
        assert_eq!(
            parse_amount(".5eth").unwrap(),
            U256::from(500_000_000_000_000_000u64)
        );
        assert_eq!(parse_amount("0.000000000000000001eth").unwrap(), U256::from(1));
        assert_eq!(parse_amount("0eth").unwrap(), U256::ZERO);
        assert_eq!(parse_amount("12345").unwrap(), U256::from(12345));
        assert_eq!(parse_wei("0").unwrap(), U256::ZERO);
        assert_eq!(
            parse_wei(&U256::MAX.to_string()).unwrap(),
            U256::MAX,
            "2^256 - 1 fits"
        );
    }

    #[test]
    fn bad_amounts_say_why() {
        for bad in [
            "", "eth", ".eth", "1.2.3eth", "-1", "1e18", "0x10", "1,5eth", "1 wei",
        ] {
            assert!(matches!(parse_amount(bad), Err(AmountError::Syntax(_))), "{bad}");
        }
        assert!(matches!(
            parse_amount("0.0000000000000000001eth"),
            Err(AmountError::TooPrecise(_))
        ));
        let too_big = format!("{}0", U256::MAX);
        assert!(matches!(parse_wei(&too_big), Err(AmountError::TooLarge(_))));
        assert!(parse_wei("1eth").is_err(), "config wei values take digits only");
    }

    #[test]
    fn formats_exact_ether() {
        assert_eq!(format_eth(U256::from(50_000_000_000_000_000u64)), "0.05");
        assert_eq!(format_eth(U256::from(WEI_PER_ETH)), "1");
        assert_eq!(format_eth(U256::from(1)), "0.000000000000000001");
        assert_eq!(format_eth(U256::ZERO), "0");
        assert_eq!(wei_to_f64(U256::from(12345u64)), 12345.0);
        for s in ["0.05eth", "3.14159eth", "1000eth"] {
            assert_eq!(format!("{}eth", format_eth(parse_amount(s).unwrap())), s);
        }
    }
}
