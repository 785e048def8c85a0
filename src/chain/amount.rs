//! ETH amounts on the command line: a wei integer (`50000000000000000`) or
//! a decimal with an `eth` suffix (`0.05eth`), parsed exactly (no floats).

use alloy_primitives::U256;

/// Wei per ether.
pub const WEI_PER_ETH: u128 = 1_000_000_000_000_000_000;

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing given.
    #[error("empty amount: give wei (e.g. 50000000000000000) or ether with an `eth` suffix (e.g. 0.05eth)")]
    Empty,
    /// Not digits (or digits, one `.`, digits, `eth`).
    #[error("invalid amount {0:?}: give wei as digits only (e.g. 50000000000000000) or ether as a decimal with an `eth` suffix (e.g. 0.05eth); no signs, exponents or separators")]
    Invalid(String),
    /// More than 18 decimals of ether (a fraction of a wei).
    #[error("invalid amount {0:?}: ether has at most 18 decimals (1 wei = 0.000000000000000001eth)")]
    TooPrecise(String),
    /// Does not fit in 256 bits.
    #[error("amount {0:?} is too large (more than 2^256-1 wei)")]
    Overflow(String),
}

/// Parses `"123"` (wei), `"123wei"`, `"0.05eth"` or `"1 ETH"` into wei.
pub fn parse_amount(text: &str) -> Result<U256, AmountError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AmountError::Empty);
    }
    let lower = t.to_ascii_lowercase();
    let invalid = || AmountError::Invalid(text.to_string());
    if let Some(num) = lower.strip_suffix("eth") {
        let num = num.trim_end();
        let (int, frac) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(invalid());
        }
        if frac.len() > 18 {
            return Err(AmountError::TooPrecise(text.to_string()));
        }
        let overflow = || AmountError::Overflow(text.to_string());
        let int_wei = if int.is_empty() {
            U256::ZERO
        } else {
            U256::from_str_radix(int, 10).map_err(|_| overflow())?
        };
        let frac_wei = if frac.is_empty() {
            U256::ZERO
        } else {
            let padded = format!("{frac:0<18}");
            U256::from_str_radix(&padded, 10).map_err(|_| invalid())?
        };
        return int_wei
            .checked_mul(U256::from(WEI_PER_ETH))
            .and_then(|w| w.checked_add(frac_wei))
            .ok_or_else(overflow);
    }
    let num = lower.strip_suffix("wei").map(str::trim_end).unwrap_or(&lower);
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    U256::from_str_radix(num, 10).map_err(|_| AmountError::Overflow(text.to_string()))
}

/// Formats wei as ether with every significant decimal (`50000000000000000`
/// → `"0.05"`), for describing a transaction.
pub fn format_eth(wei: U256) -> String {
    let unit = U256::from(WEI_PER_ETH);
    let int = wei / unit;
    let frac = wei % unit;
    if frac.is_zero() {
        return int.to_string();
    }
    let f = format!("{:0>18}", frac.to_string());
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// Wei as a float, for Prometheus gauges (`livepeer_signer_chain_deposit_wei`
/// …): exact up to 2^53 wei, then rounded; never used for money decisions.
pub fn wei_to_f64(wei: U256) -> f64 {
    wei.to_string().parse().unwrap_or(f64::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wei_and_eth() {
        assert_eq!(parse_amount("0").unwrap(), U256::ZERO);
        assert_eq!(
            parse_amount("50000000000000000").unwrap(),
            U256::from(50_000_000_000_000_000u64)
        );
        assert_eq!(
            parse_amount("0.05eth").unwrap(),
            U256::from(50_000_000_000_000_000u64)
        );
        assert_eq!(
            parse_amount("0.05 ETH").unwrap(),
            U256::from(50_000_000_000_000_000u64)
        );
        assert_eq!(
            parse_amount(".5eth").unwrap(),
            U256::from(500_000_000_000_000_000u64)
        );
        assert_eq!(
            parse_amount("2eth").unwrap(),
            U256::from(2_000_000_000_000_000_000u128)
        );
        assert_eq!(parse_amount("1.eth").unwrap(), U256::from(WEI_PER_ETH));
        assert_eq!(parse_amount("0.000000000000000001eth").unwrap(), U256::from(1));
        assert_eq!(parse_amount("7wei").unwrap(), U256::from(7));
        assert_eq!(parse_amount(&U256::MAX.to_string()).unwrap(), U256::MAX);
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_amount(" ").unwrap_err(), AmountError::Empty);
        for bad in [
            "-1", "+1", "1e18", "0x10", "1_000", "1,5eth", "eth", ".eth", "1.2.3eth", "1.5", "abc", "1 000",
        ] {
            assert!(matches!(parse_amount(bad), Err(AmountError::Invalid(_))), "{bad}");
        }
        assert!(matches!(
            parse_amount("0.0000000000000000001eth"),
            Err(AmountError::TooPrecise(_))
        ));
        let huge = format!("{}0", U256::MAX);
        assert!(matches!(parse_amount(&huge), Err(AmountError::Overflow(_))));
        let huge_eth = format!("{}eth", U256::MAX);
        assert!(matches!(parse_amount(&huge_eth), Err(AmountError::Overflow(_))));
    }

    #[test]
    fn as_float() {
        assert_eq!(wei_to_f64(U256::from(1_250_000_000_000_000_000u128)), 1.25e18);
        assert_eq!(wei_to_f64(U256::ZERO), 0.0);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_eth(U256::from(50_000_000_000_000_000u64)), "0.05");
        assert_eq!(format_eth(U256::from(WEI_PER_ETH) * U256::from(3)), "3");
        assert_eq!(format_eth(U256::from(1)), "0.000000000000000001");
    }
}
