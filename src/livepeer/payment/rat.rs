//! Exact rationals with the `math/big.Rat` behaviours go-livepeer's payment
//! code relies on: `RatString` (`"5"`, `"125/7"`), `SetString` parsing
//! (`"a/b"`, integers, decimals with an exponent), comparisons and
//! `FloatString(n)` (used by the `%.5f`-style EV error messages).
//!
//! Built on `num_rational::BigRational`, always kept in lowest terms with a
//! positive denominator (as `big.Rat` is). Nothing here is hashed or signed;
//! the strings it prints go into the signed state JSON (`Balance`) and into
//! error messages.

use std::fmt;
use std::ops::{Add, Mul, Sub};

use alloy_primitives::U256;
use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// Largest decimal exponent [`Rat::parse`] accepts (`1e10000`). Go allows up
/// to 10^6; a smaller bound keeps an untrusted `maxPrice` from allocating
/// megabytes. No realistic price or balance comes near it.
pub const MAX_DECIMAL_EXPONENT: i64 = 10_000;

/// An exact rational number, always in lowest terms.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rat(BigRational);

/// Why a string is not a rational in `big.Rat.SetString` syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatParseError {
    /// Not `a/b`, an integer or a decimal.
    #[error("{0:?} is not a number (expected a/b, an integer or a decimal)")]
    Syntax(String),
    /// `a/0`.
    #[error("{0:?} has a zero denominator")]
    ZeroDenominator(String),
    /// A decimal exponent beyond ±[`MAX_DECIMAL_EXPONENT`].
    #[error("{0:?} has an exponent too large")]
    ExponentTooLarge(String),
}

impl Rat {
    /// 0.
    pub fn zero() -> Self {
        Rat(BigRational::zero())
    }

    /// The integer `n`.
    pub fn from_integer(n: impl Into<BigInt>) -> Self {
        Rat(BigRational::from_integer(n.into()))
    }

    /// `num / den` in lowest terms, or `None` if `den == 0` (`big.Rat.SetFrac`).
    pub fn from_frac(num: impl Into<BigInt>, den: impl Into<BigInt>) -> Option<Self> {
        let den = den.into();
        if den.is_zero() {
            return None;
        }
        Some(Rat(BigRational::new(num.into(), den)))
    }

    /// The unsigned 256-bit integer `n`.
    pub fn from_u256(n: U256) -> Self {
        Self::from_integer(u256_to_bigint(n))
    }

    /// The numerator (sign carrier) of the lowest-terms form.
    pub fn numer(&self) -> &BigInt {
        self.0.numer()
    }

    /// The denominator (> 0) of the lowest-terms form.
    pub fn denom(&self) -> &BigInt {
        self.0.denom()
    }

    /// Whether the denominator is 1.
    pub fn is_integer(&self) -> bool {
        self.0.is_integer()
    }

    /// Whether this is 0.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Whether this is > 0.
    pub fn is_positive(&self) -> bool {
        self.0.is_positive()
    }

    /// Whether this is < 0.
    pub fn is_negative(&self) -> bool {
        self.0.is_negative()
    }

    /// The smallest integer ≥ self.
    pub fn ceil(&self) -> BigInt {
        self.0.ceil().to_integer()
    }

    /// `big.Rat.RatString()`: `"a"` if the denominator is 1, else `"a/b"`
    /// in lowest terms (`"0"`, `"-3"`, `"125/7"`; never `"500/1"`).
    pub fn rat_string(&self) -> String {
        if self.is_integer() {
            self.numer().to_string()
        } else {
            format!("{}/{}", self.numer(), self.denom())
        }
    }

    /// `big.Rat.FloatString(prec)`: decimal with exactly `prec` fractional
    /// digits, the last digit rounded half away from zero. A negative value
    /// that rounds to zero keeps its sign (`"-0.00000"`), as in Go.
    pub fn float_string(&self, prec: usize) -> String {
        let num = self.numer().magnitude();
        let den = self.denom().magnitude();
        let mut out = String::new();
        if self.is_integer() {
            if self.is_negative() {
                out.push('-');
            }
            out.push_str(&num.to_string());
            if prec > 0 {
                out.push('.');
                out.extend(std::iter::repeat_n('0', prec));
            }
            return out;
        }
        let (mut q, r) = num.div_rem(den);
        let p = BigUint::from(10u32).pow(prec as u32);
        let (mut frac, r2) = (r * &p).div_rem(den);
        if den <= &(&r2 + &r2) {
            frac += 1u32;
            if frac >= p {
                q += 1u32;
                frac -= &p;
            }
        }
        if self.is_negative() {
            out.push('-');
        }
        out.push_str(&q.to_string());
        if prec > 0 {
            let digits = frac.to_string();
            out.push('.');
            out.extend(std::iter::repeat_n('0', prec - digits.len()));
            out.push_str(&digits);
        }
        out
    }

    /// `big.Rat.SetString(s)`: a fraction `a/b` (optional sign on `a`; each
    /// part decimal or with a `0b`/`0o`/`0x`/`0` prefix), or a decimal number
    /// with optional sign, fraction and `e`/`E` exponent (`101.2` → 506/5,
    /// `1e3`, `.5`, `-2.50`). The whole string must match; no whitespace is
    /// trimmed. Not supported (Go accepts them; they never occur in the
    /// decimal JSON numbers and `RatString`s the signer parses): digit
    /// separators `_`, prefixed (hex/binary/octal) mantissas in decimal
    /// form, `p` exponents, exponents beyond ±[`MAX_DECIMAL_EXPONENT`].
    pub fn parse(s: &str) -> Result<Self, RatParseError> {
        let syntax = || RatParseError::Syntax(s.to_string());
        if let Some((a, b)) = s.split_once('/') {
            let (neg, a) = strip_sign(a);
            let a = parse_prefixed_uint(a).ok_or_else(syntax)?;
            let b = parse_prefixed_uint(b).ok_or_else(syntax)?;
            if b.is_zero() {
                return Err(RatParseError::ZeroDenominator(s.to_string()));
            }
            let a = BigInt::from_biguint(if neg { Sign::Minus } else { Sign::Plus }, a);
            return Ok(Rat(BigRational::new(a, BigInt::from(b))));
        }
        let (neg, rest) = strip_sign(s);
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty()) || !all_digits(int_part) || !all_digits(frac_part) {
            return Err(syntax());
        }
        let mut exp10: i64 = match exp {
            None => 0,
            Some(e) => {
                let (eneg, digits) = strip_sign(e);
                if digits.is_empty() || !all_digits(digits) {
                    return Err(syntax());
                }
                let trimmed = digits.trim_start_matches('0');
                let v: i64 = if trimmed.is_empty() {
                    0
                } else if trimmed.len() > 7 {
                    return Err(RatParseError::ExponentTooLarge(s.to_string()));
                } else {
                    trimmed.parse().map_err(|_| syntax())?
                };
                if eneg {
                    -v
                } else {
                    v
                }
            }
        };
        exp10 -= frac_part.len() as i64;
        if exp10.abs() > MAX_DECIMAL_EXPONENT + frac_part.len() as i64 {
            return Err(RatParseError::ExponentTooLarge(s.to_string()));
        }
        let digits = format!("{int_part}{frac_part}");
        let mut num = BigInt::parse_bytes(digits.as_bytes(), 10).ok_or_else(syntax)?;
        if neg {
            num = -num;
        }
        let scale = BigInt::from(10u32).pow(exp10.unsigned_abs() as u32);
        let r = if exp10 >= 0 {
            BigRational::from_integer(num * scale)
        } else {
            BigRational::new(num, scale)
        };
        Ok(Rat(r))
    }

    /// `self` as an `f64` (for `%.3f` price messages); lossy.
    pub fn to_f64(&self) -> f64 {
        self.0.to_f64().unwrap_or(f64::NAN)
    }

    /// The inner `BigRational`.
    pub fn as_big_rational(&self) -> &BigRational {
        &self.0
    }
}

/// `U256` as a non-negative `BigInt`.
pub fn u256_to_bigint(n: U256) -> BigInt {
    BigInt::from_bytes_be(Sign::Plus, &n.to_be_bytes::<32>())
}

fn strip_sign(s: &str) -> (bool, &str) {
    if let Some(r) = s.strip_prefix('-') {
        (true, r)
    } else {
        (false, s.strip_prefix('+').unwrap_or(s))
    }
}

/// An unsigned integer as Go's base-0 `Int.SetString` reads it: decimal, or
/// `0b`/`0o`/`0x` prefixed, or a leading `0` meaning octal. No `_`.
fn parse_prefixed_uint(s: &str) -> Option<BigUint> {
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    BigUint::parse_bytes(digits.as_bytes(), radix)
}

impl fmt::Display for Rat {
    /// [`Rat::rat_string`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rat_string())
    }
}

impl fmt::Debug for Rat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rat({})", self.rat_string())
    }
}

impl std::str::FromStr for Rat {
    type Err = RatParseError;

    /// [`Rat::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rat::parse(s)
    }
}

impl From<BigRational> for Rat {
    fn from(r: BigRational) -> Self {
        Rat(r)
    }
}

impl From<i64> for Rat {
    fn from(n: i64) -> Self {
        Rat::from_integer(n)
    }
}

impl From<U256> for Rat {
    fn from(n: U256) -> Self {
        Rat::from_u256(n)
    }
}

impl Add<&Rat> for &Rat {
    type Output = Rat;
    fn add(self, rhs: &Rat) -> Rat {
        Rat(&self.0 + &rhs.0)
    }
}

impl Sub<&Rat> for &Rat {
    type Output = Rat;
    fn sub(self, rhs: &Rat) -> Rat {
        Rat(&self.0 - &rhs.0)
    }
}

impl Mul<&Rat> for &Rat {
    type Output = Rat;
    fn mul(self, rhs: &Rat) -> Rat {
        Rat(&self.0 * &rhs.0)
    }
}

impl std::ops::Div<&Rat> for &Rat {
    type Output = Option<Rat>;
    /// `None` when dividing by zero.
    fn div(self, rhs: &Rat) -> Option<Rat> {
        if rhs.is_zero() {
            None
        } else {
            Some(Rat(&self.0 / &rhs.0))
        }
    }
}

impl One for Rat {
    fn one() -> Self {
        Rat(BigRational::one())
    }
}

impl Mul for Rat {
    type Output = Rat;
    fn mul(self, rhs: Rat) -> Rat {
        Rat(self.0 * rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Rat {
        Rat::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn rat_string_like_go() {
        assert_eq!(Rat::zero().rat_string(), "0");
        assert_eq!(Rat::from_integer(5).rat_string(), "5");
        assert_eq!(Rat::from_frac(500, 1).unwrap().rat_string(), "500");
        assert_eq!(Rat::from_frac(250, 14).unwrap().rat_string(), "125/7");
        assert_eq!(Rat::from_frac(3, -6).unwrap().rat_string(), "-1/2");
        assert_eq!(Rat::from_frac(0, -6).unwrap().rat_string(), "0");
        assert!(Rat::from_frac(1, 0).is_none());
    }

    #[test]
    fn parse_like_go_set_string() {
        // A9: 101.2 → 506/5.
        assert_eq!(r("101.2").rat_string(), "506/5");
        for (s, want) in [
            ("7", "7"),
            ("125/7", "125/7"),
            ("250/14", "125/7"),
            ("-3/6", "-1/2"),
            ("+3/6", "1/2"),
            ("0", "0"),
            ("-0", "0"),
            ("1e3", "1000"),
            ("1E-3", "1/1000"),
            ("2.50e+1", "25"),
            (".5", "1/2"),
            ("5.", "5"),
            ("-2.50", "-5/2"),
            ("0.000", "0"),
            ("007", "7"),
            ("0x10/3", "16/3"),
            ("010/3", "8/3"),
            ("0b11/0o7", "3/7"),
        ] {
            assert_eq!(r(s).rat_string(), want, "{s}");
        }
        for bad in [
            "", "wat", ".", "-", "1/", "/2", "1/-2", "1/+2", " 1", "1 ", "1e", "1e+", "1.2.3", "0x1.8",
            "1_000", "--1", "1/2/3", "1/2.5", "inf", "NaN",
        ] {
            assert!(
                matches!(Rat::parse(bad), Err(RatParseError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Rat::parse("1/0"),
            Err(RatParseError::ZeroDenominator(_))
        ));
        assert!(matches!(
            Rat::parse("1e100000"),
            Err(RatParseError::ExponentTooLarge(_))
        ));
        assert!(matches!(
            Rat::parse("1e-99999999999"),
            Err(RatParseError::ExponentTooLarge(_))
        ));
        assert_eq!(r("1e10000").numer().to_string().len(), 10_001);
    }

    #[test]
    fn float_string_like_go() {
        let cases = [
            ("0", 5, "0.00000"),
            ("7", 0, "7"),
            ("7", 2, "7.00"),
            ("-7", 2, "-7.00"),
            ("199/2", 5, "99.50000"),
            ("1/3", 5, "0.33333"),
            ("2/3", 5, "0.66667"),
            ("1/2", 0, "1"),
            ("-1/2", 0, "-1"),
            ("1/200000", 5, "0.00001"),
            ("1/200001", 5, "0.00000"),
            ("-1/300000", 5, "-0.00000"),
            ("999999/100000", 5, "9.99999"),
            ("9999995/1000000", 5, "10.00000"),
            ("125/7", 5, "17.85714"),
            ("3000000000000", 5, "3000000000000.00000"),
        ];
        for (s, prec, want) in cases {
            assert_eq!(r(s).float_string(prec), want, "{s} {prec}");
        }
    }

    #[test]
    fn short_strings_never_panic_and_round_trip() {
        let alphabet = ["0", "1", "9", "+", "-", ".", "/", "e", "x", "_", "\u{e9}", " "];
        let mut words = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for w in &words {
                for a in alphabet {
                    next.push(format!("{w}{a}"));
                }
            }
            for w in &next {
                if let Ok(v) = Rat::parse(w) {
                    assert_eq!(Rat::parse(&v.rat_string()).unwrap(), v, "{w:?}");
                }
            }
            words = next;
        }
    }

    #[test]
    fn float_string_is_within_half_an_ulp() {
        let half = Rat::from_frac(1, 200_000).unwrap();
        for num in -300i64..300 {
            for den in [1i64, 2, 3, 7, 8, 125, 199, 200_000, 400_000, 999_983] {
                let v = Rat::from_frac(num, den).unwrap();
                let printed = Rat::parse(&v.float_string(5)).unwrap();
                let diff = &printed - &v;
                let abs = if diff.is_negative() {
                    &Rat::zero() - &diff
                } else {
                    diff
                };
                assert!(abs <= half, "{v} printed {}", v.float_string(5));
            }
        }
    }

    #[test]
    fn arithmetic_and_order() {
        let a = r("125/7");
        let b = r("5");
        assert_eq!((&a + &b).rat_string(), "160/7");
        assert_eq!((&a - &b).rat_string(), "90/7");
        assert_eq!((&a * &b).rat_string(), "625/7");
        assert_eq!((&a / &b).unwrap().rat_string(), "25/7");
        assert!((&a / &Rat::zero()).is_none());
        assert!(a > b);
        assert_eq!(r("10/2"), b);
        assert!(r("-1/2") < Rat::zero());
        assert_eq!(r("7/2").ceil(), BigInt::from(4));
        assert_eq!(r("-7/2").ceil(), BigInt::from(-3));
        assert_eq!(Rat::from_u256(U256::MAX).rat_string(), U256::MAX.to_string());
    }
}
