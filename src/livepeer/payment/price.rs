//! Pricing and the balance arithmetic of `/generate-live-payment`
//! (spec §3.4 steps 15–19, §3.5, §3.6): billable units, the `maxPrice`
//! ceiling object, price ceilings, the fee, and the ticket count with the
//! new balance (go-livepeer `newBalanceUpdate` / `StageUpdate` /
//! `completeBalanceUpdate`, computed request-locally).
//!
//! Nothing here is hashed or signed. The new balance goes into the signed
//! state as `RatString`; the error messages are go-livepeer's.

use num_bigint::BigInt;

use super::rat::Rat;
use super::state::GoTime;

/// Largest number of tickets one call may carry.
pub const MAX_TICKETS_PER_CALL: u64 = 100;
/// lv2v pixels per second: 1280 × 720 × 30.
pub const LV2V_PIXELS_PER_SECOND: f64 = 1280.0 * 720.0 * 30.0;
/// Seconds billed up front by the first lv2v call of a session.
pub const LV2V_PRELOAD_SECS: f64 = 60.0;
/// Seconds billed up front by the first live call of a session.
pub const LIVE_PRELOAD_SECS: f64 = 10.0;

/// The request's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentType {
    /// `""`: bill `inPixels`.
    Untyped,
    /// `"lv2v"`: bill 720p30 pixels for the wall time.
    Lv2v,
    /// `"live"`: bill whole seconds of wall time.
    Live,
    /// `"fixed"`: bill one unit per call.
    Fixed,
}

impl PaymentType {
    /// `""`, `"lv2v"`, `"live"`, `"fixed"` (exact, case-sensitive), else `None`
    /// (the HTTP layer answers 400 `invalid job type`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" => Some(PaymentType::Untyped),
            "lv2v" => Some(PaymentType::Lv2v),
            "live" => Some(PaymentType::Live),
            "fixed" => Some(PaymentType::Fixed),
            _ => None,
        }
    }

    /// The wire string.
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentType::Untyped => "",
            PaymentType::Lv2v => "lv2v",
            PaymentType::Live => "live",
            PaymentType::Fixed => "fixed",
        }
    }

    /// The `maxPrice.unit` this type requires, if `maxPrice` is allowed.
    pub fn max_price_unit(&self) -> Option<&'static str> {
        match self {
            PaymentType::Untyped => None,
            PaymentType::Lv2v => Some("720p-pixel-seconds"),
            PaymentType::Live => Some("seconds"),
            PaymentType::Fixed => Some("fixed"),
        }
    }
}

/// Units are not positive (step 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("missing billable unit or job type")]
pub struct NoBillableUnits;

/// `now.Sub(last).Seconds()` with `last = now` when `last` is Go's zero
/// time: the duration saturates at ±2^63 ns as Go's `Duration` does.
pub fn elapsed_secs(now: GoTime, last: GoTime) -> f64 {
    if last.is_zero() {
        return 0.0;
    }
    let nanos = (now.0 - last.0).whole_nanoseconds();
    let d = nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let secs = d / 1_000_000_000;
    let nsec = d % 1_000_000_000;
    secs as f64 + nsec as f64 / 1e9
}

/// Billable units for a call `secs` after the previous one (step 15). The
/// only float arithmetic of the money path, on purpose: go-livepeer computes
/// these units in float64 and truncates (spec §8), and the O bills by the
/// same rule, so the units must match Go's bit for bit; everything after
/// them (fee, EV, balance) is exact rationals.
///
/// lv2v `trunc(27 648 000 × secs)` pixels (60 s if `secs <= 0`), live
/// `ceil(secs)` seconds (10 s if `secs <= 0`), fixed 1, untyped `in_pixels`.
pub fn billable_units(kind: PaymentType, in_pixels: i64, secs: f64) -> Result<i64, NoBillableUnits> {
    let units = match kind {
        PaymentType::Lv2v => {
            let secs = if secs <= 0.0 { LV2V_PRELOAD_SECS } else { secs };
            (LV2V_PIXELS_PER_SECOND * secs) as i64
        }
        PaymentType::Live => {
            let secs = if secs <= 0.0 { LIVE_PRELOAD_SECS } else { secs };
            secs.ceil() as i64
        }
        PaymentType::Fixed => 1,
        PaymentType::Untyped => in_pixels,
    };
    if units <= 0 {
        return Err(NoBillableUnits);
    }
    Ok(units)
}

/// A `maxPrice` object (`runner.LiveRunnerPriceInfo`) as it arrives: the
/// `json.Number` text of `price`, and `currency`, `unit`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaxPrice {
    /// `price`: the JSON number's text (`"101.2"`), or `""` when absent.
    pub price: String,
    /// `currency`: must be `wei` (trimmed, any case).
    pub currency: String,
    /// `unit`: see [`PaymentType::max_price_unit`] (trimmed, any case).
    pub unit: String,
}

/// Why a `maxPrice` object is refused (request: 400; webhook: 502 with
/// the prefix `signer auth invalid maxPrice: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaxPriceError {
    /// Not a rational, or ≤ 0.
    #[error("maxPrice.price must be a positive decimal")]
    Price,
    /// Currency is not `wei`.
    #[error("maxPrice.currency must be wei")]
    Currency,
    /// The payment type is untyped.
    #[error("maxPrice requires payment type live, lv2v, or fixed")]
    PaymentType,
    /// Wrong unit for the type.
    #[error("maxPrice.unit must be {expected} for payment type {payment_type}")]
    Unit {
        /// The unit the type requires.
        expected: &'static str,
        /// The type's wire string.
        payment_type: &'static str,
    },
}

/// `parseRemotePaymentMaxPrice`: the ceiling in wei per unit, compared
/// directly with the O's `pricePerUnit / pixelsPerUnit`. Checks, in order:
/// price, currency, payment type, unit.
pub fn parse_max_price(max: &MaxPrice, kind: PaymentType) -> Result<Rat, MaxPriceError> {
    let price = Rat::parse(max.price.trim()).map_err(|_| MaxPriceError::Price)?;
    if !price.is_positive() {
        return Err(MaxPriceError::Price);
    }
    if go_lower_trim(&max.currency) != "wei" {
        return Err(MaxPriceError::Currency);
    }
    let expected = kind.max_price_unit().ok_or(MaxPriceError::PaymentType)?;
    if go_lower_trim(&max.unit) != expected {
        return Err(MaxPriceError::Unit {
            expected,
            payment_type: kind.as_str(),
        });
    }
    Ok(price)
}

/// `strings.ToLower(strings.TrimSpace(s))`. Go lowercases with the simple
/// (one-to-one) case mapping; U+0130 is the one character whose full
/// lowercase mapping (Rust's) differs, so it is mapped to `i` by hand.
fn go_lower_trim(s: &str) -> String {
    s.trim()
        .chars()
        .flat_map(|c| {
            let lower: Vec<char> = if c == '\u{130}' {
                vec!['i']
            } else {
                c.to_lowercase().collect()
            };
            lower
        })
        .collect()
}

/// Where a price ceiling comes from; `Display` is the name in the 481 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CeilingSource {
    /// `-maxPricePerUnit` / `-maxPricePerCapability`.
    Configured,
    /// The request's `maxPrice`.
    Request,
    /// The session's initial price (with state).
    InitialSession,
    /// The auth webhook's `maxPrice`.
    AuthWebhook,
}

impl CeilingSource {
    /// `configured maximum price`, `request maxPrice`, `initial session
    /// price`, `auth webhook maxPrice`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CeilingSource::Configured => "configured maximum price",
            CeilingSource::Request => "request maxPrice",
            CeilingSource::InitialSession => "initial session price",
            CeilingSource::AuthWebhook => "auth webhook maxPrice",
        }
    }
}

impl std::fmt::Display for CeilingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The O's price is above the effective ceiling (HTTP 481).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("orchestrator price {} exceeds {ceiling_source} ceiling {}", .price.float_string(3), .ceiling.float_string(3))]
pub struct PriceExceeded {
    /// The O's price, wei per unit.
    pub price: Box<Rat>,
    /// Which ceiling.
    pub ceiling_source: CeilingSource,
    /// Its value.
    pub ceiling: Box<Rat>,
}

/// `checkRemotePaymentPrice`: the smallest present ceiling wins (the
/// earliest on ties); `price > ceiling` is refused, equality accepted.
pub fn check_price(price: &Rat, ceilings: &[(CeilingSource, Option<&Rat>)]) -> Result<(), PriceExceeded> {
    let mut effective: Option<(CeilingSource, &Rat)> = None;
    for (source, ceiling) in ceilings {
        let Some(c) = ceiling else { continue };
        if effective.is_none_or(|(_, e)| *c < e) {
            effective = Some((*source, c));
        }
    }
    match effective {
        Some((source, c)) if price > c => Err(PriceExceeded {
            price: Box::new(price.clone()),
            ceiling_source: source,
            ceiling: Box::new(c.clone()),
        }),
        _ => Ok(()),
    }
}

/// `price_per_unit / pixels_per_unit`, or `None` if `pixels_per_unit == 0`.
pub fn price_rat(price_per_unit: i64, pixels_per_unit: i64) -> Option<Rat> {
    Rat::from_frac(price_per_unit, pixels_per_unit)
}

/// `calculateFee`: `units × price_per_unit / pixels_per_unit` (the
/// session's **initial** price), exact; `None` if `pixels_per_unit == 0`.
pub fn fee(units: i64, price_per_unit: i64, pixels_per_unit: i64) -> Option<Rat> {
    Some(&price_rat(price_per_unit, pixels_per_unit)? * &Rat::from_integer(units))
}

/// The O's current price is more than twice the initial one (HTTP 481).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Orchestrator price has more than doubled, Orchestrator price: {}, Orchestrator initial price: {}", .price.rat_string(), .initial.rat_string())]
pub struct PriceDoubled {
    /// Current price.
    pub price: Box<Rat>,
    /// Initial price.
    pub initial: Box<Rat>,
}

/// go-livepeer's price drift check before ticket creation:
/// `price > 2 × initial` is refused.
pub fn check_price_drift(price: &Rat, initial: &Rat) -> Result<(), PriceDoubled> {
    if price > &(initial * &Rat::from_integer(2)) {
        return Err(PriceDoubled {
            price: Box::new(price.clone()),
            initial: Box::new(initial.clone()),
        });
    }
    Ok(())
}

/// The staged balance update of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceUpdate {
    /// Tickets to sign, 1..=100.
    pub num_tickets: u64,
    /// `existing + num_tickets × EV − fee`: the new `Balance` (never negative).
    pub new_balance: Rat,
}

/// Why no payment is made (step 18).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketCountError {
    /// The balance covers `max(fee, EV)`, or the EV is 0 (HTTP 482, no state returned).
    #[error("no tickets")]
    NoTickets,
    /// More than [`MAX_TICKETS_PER_CALL`] (HTTP 400).
    #[error("numTickets {0} exceeds maximum of 100")]
    TooMany(BigInt),
}

/// `newBalanceUpdate` + `StageUpdate` + `completeBalanceUpdate`:
///
/// ```text
/// minCredit = max(fee, ev)
/// existing >= minCredit or ev == 0  → NoTickets
/// n = ceil((minCredit − existing) / ev); n > 100 → TooMany
/// new_balance = existing + n × ev − fee
/// ```
pub fn stage_balance(existing: &Rat, fee: &Rat, ev: &Rat) -> Result<BalanceUpdate, TicketCountError> {
    let min_credit = if ev > fee { ev } else { fee };
    if existing >= min_credit {
        return Err(TicketCountError::NoTickets);
    }
    let Some(size) = &(min_credit - existing) / ev else {
        return Err(TicketCountError::NoTickets);
    };
    let n = size.ceil();
    let num_tickets = match u64::try_from(&n) {
        Ok(k) if (1..=MAX_TICKETS_PER_CALL).contains(&k) => k,
        _ if n <= BigInt::from(0) => return Err(TicketCountError::NoTickets),
        _ => return Err(TicketCountError::TooMany(n)),
    };
    let new_balance = &(existing + &(ev * &Rat::from_integer(num_tickets))) - fee;
    Ok(BalanceUpdate {
        num_tickets,
        new_balance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Rat {
        Rat::parse(s).unwrap()
    }

    fn mp(price: &str, currency: &str, unit: &str) -> MaxPrice {
        MaxPrice {
            price: price.into(),
            currency: currency.into(),
            unit: unit.into(),
        }
    }

    #[test]
    fn a9_max_price() {
        use PaymentType::*;
        assert_eq!(
            parse_max_price(&mp("101.2", "wei", "seconds"), Live)
                .unwrap()
                .rat_string(),
            "506/5"
        );
        assert_eq!(
            parse_max_price(&mp("7", "wei", "720p-pixel-seconds"), Lv2v)
                .unwrap()
                .rat_string(),
            "7"
        );
        assert_eq!(
            parse_max_price(&mp("3", "wei", "fixed"), Fixed)
                .unwrap()
                .rat_string(),
            "3"
        );
        let positive = "maxPrice.price must be a positive decimal";
        assert_eq!(
            parse_max_price(&mp("wat", "wei", "fixed"), Fixed)
                .unwrap_err()
                .to_string(),
            positive
        );
        assert_eq!(
            parse_max_price(&mp("-1", "wei", "fixed"), Fixed)
                .unwrap_err()
                .to_string(),
            positive
        );
        assert_eq!(
            parse_max_price(&mp("0", "wei", "fixed"), Fixed)
                .unwrap_err()
                .to_string(),
            positive
        );
        assert_eq!(
            parse_max_price(&mp("", "wei", "fixed"), Fixed)
                .unwrap_err()
                .to_string(),
            positive
        );
        assert_eq!(
            parse_max_price(&mp("1", "", "fixed"), Fixed)
                .unwrap_err()
                .to_string(),
            "maxPrice.currency must be wei"
        );
        // Trimming and case folding; json.Number text such as 1e3.
        assert_eq!(
            parse_max_price(&mp(" 1e3 ", " WEI ", " Seconds "), Live)
                .unwrap()
                .rat_string(),
            "1000"
        );
        assert_eq!(
            parse_max_price(&mp("1", "wei", "seconds"), Untyped)
                .unwrap_err()
                .to_string(),
            "maxPrice requires payment type live, lv2v, or fixed"
        );
        assert_eq!(
            parse_max_price(&mp("1", "wei", "seconds"), Lv2v)
                .unwrap_err()
                .to_string(),
            "maxPrice.unit must be 720p-pixel-seconds for payment type lv2v"
        );
        assert_eq!(
            parse_max_price(&mp("1", "wei", "fixed"), Live)
                .unwrap_err()
                .to_string(),
            "maxPrice.unit must be seconds for payment type live"
        );
        // Go's simple case mapping: U+0130 lowercases to a plain `i`.
        assert_eq!(
            parse_max_price(&mp("1", "WE\u{130}", "fixed"), Fixed)
                .unwrap()
                .rat_string(),
            "1"
        );
        assert_eq!(
            parse_max_price(&mp("1", "\u{a0}wEi\u{3000}", "FIXED"), Fixed)
                .unwrap()
                .rat_string(),
            "1"
        );
        // Price is checked before currency.
        assert_eq!(
            parse_max_price(&mp("x", "eth", "x"), Live),
            Err(MaxPriceError::Price)
        );
    }

    #[test]
    fn ceilings() {
        use CeilingSource::*;
        let p = r("300");
        assert_eq!(check_price(&p, &[]), Ok(()));
        assert_eq!(
            check_price(&p, &[(Configured, None), (Request, Some(&r("300")))]),
            Ok(())
        );
        let err = check_price(&p, &[(Configured, Some(&r("200"))), (Request, Some(&r("250")))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "orchestrator price 300.000 exceeds configured maximum price ceiling 200.000"
        );
        let err = check_price(&p, &[(Configured, Some(&r("500"))), (Request, Some(&r("1/3")))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "orchestrator price 300.000 exceeds request maxPrice ceiling 0.333"
        );
        // Ties: the earliest source is named.
        let err = check_price(
            &r("2"),
            &[
                (Configured, None),
                (Request, Some(&r("1"))),
                (InitialSession, Some(&r("1"))),
            ],
        )
        .unwrap_err();
        assert_eq!(err.ceiling_source, Request);
        let err = check_price(&r("150/175"), &[(InitialSession, Some(&r("112/175")))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "orchestrator price 0.857 exceeds initial session price ceiling 0.640"
        );
        assert_eq!(AuthWebhook.to_string(), "auth webhook maxPrice");
    }

    #[test]
    fn drift() {
        assert_eq!(check_price_drift(&r("2/7"), &r("1/7")), Ok(()));
        assert_eq!(
            check_price_drift(&r("1/3"), &r("1/7")).unwrap_err().to_string(),
            "Orchestrator price has more than doubled, Orchestrator price: 1/3, Orchestrator initial price: 1/7"
        );
    }

    #[test]
    fn units() {
        use PaymentType::*;
        assert_eq!(billable_units(Lv2v, 0, 0.0), Ok(1_658_880_000));
        assert_eq!(billable_units(Lv2v, 0, -3.0), Ok(1_658_880_000));
        assert_eq!(billable_units(Lv2v, 0, 1.5), Ok(41_472_000));
        assert_eq!(billable_units(Live, 0, 0.0), Ok(10));
        assert_eq!(billable_units(Live, 0, 12.0), Ok(12));
        assert_eq!(billable_units(Live, 0, 12.000001), Ok(13));
        assert_eq!(billable_units(Fixed, 1_000_000, 5.0), Ok(1));
        assert_eq!(billable_units(Untyped, 1000, 5.0), Ok(1000));
        assert_eq!(billable_units(Untyped, 0, 5.0), Err(NoBillableUnits));
        assert_eq!(
            billable_units(Untyped, -1, 5.0).unwrap_err().to_string(),
            "missing billable unit or job type"
        );
        for t in ["", "lv2v", "live", "fixed"] {
            assert_eq!(PaymentType::parse(t).unwrap().as_str(), t);
        }
        assert_eq!(PaymentType::parse("LIVE"), None);
        let t0 = GoTime::parse("2026-01-02T03:04:05Z").unwrap();
        let t1 = GoTime::parse("2026-01-02T03:04:17.25Z").unwrap();
        assert_eq!(elapsed_secs(t1, t0), 12.25);
        assert_eq!(elapsed_secs(t0, t1), -12.25);
        assert_eq!(elapsed_secs(t1, GoTime::ZERO), 0.0);
        // Go's Duration saturates at about 292 years.
        let far = GoTime::parse("0500-01-01T00:00:00Z").unwrap();
        assert_eq!(elapsed_secs(t0, far), i64::MAX as f64 / 1e9);
    }

    #[test]
    fn b3_balance_vectors() {
        let ev = r("35");
        // LV2V_Succeeds, untyped inPixels 1000 at 150/175: fee 6000/7 → 25 tickets → 125/7.
        let f = fee(1000, 150, 175).unwrap();
        assert_eq!(f.rat_string(), "6000/7");
        let u = stage_balance(&Rat::zero(), &f, &ev).unwrap();
        assert_eq!(
            (u.num_tickets, u.new_balance.rat_string().as_str()),
            (25, "125/7")
        );
        // Same session, inPixels 2500 at the initial price: fee 15000/7 → 61 tickets → 10.
        let f = fee(2500, 150, 175).unwrap();
        let u = stage_balance(&r("125/7"), &f, &ev).unwrap();
        assert_eq!((u.num_tickets, u.new_balance.rat_string().as_str()), (61, "10"));
        // New session, price 300/1, inPixels 1: 9 tickets → 15.
        let u = stage_balance(&Rat::zero(), &fee(1, 300, 1).unwrap(), &ev).unwrap();
        assert_eq!((u.num_tickets, u.new_balance.rat_string().as_str()), (9, "15"));
        // live, 3 wei/s: first call 10 s → 1 ticket → 5; 12 s later → 1 ticket → 4.
        let units = billable_units(PaymentType::Live, 0, 0.0).unwrap();
        let u = stage_balance(&Rat::zero(), &fee(units, 3, 1).unwrap(), &ev).unwrap();
        assert_eq!((u.num_tickets, u.new_balance.rat_string().as_str()), (1, "5"));
        let units = billable_units(PaymentType::Live, 0, 12.0).unwrap();
        let u = stage_balance(&r("5"), &fee(units, 3, 1).unwrap(), &ev).unwrap();
        assert_eq!((u.num_tickets, u.new_balance.rat_string().as_str()), (1, "4"));
        // fixed, EV 3, price 3: 1 ticket → 0, twice.
        let units = billable_units(PaymentType::Fixed, 1_000_000, 0.0).unwrap();
        let f = fee(units, 3, 1).unwrap();
        for _ in 0..2 {
            let u = stage_balance(&Rat::zero(), &f, &r("3")).unwrap();
            assert_eq!((u.num_tickets, u.new_balance.rat_string().as_str()), (1, "0"));
        }
    }

    #[test]
    fn ticket_count_edges() {
        // Balance covers max(fee, EV): no tickets.
        assert_eq!(
            stage_balance(&r("35"), &r("10"), &r("35")),
            Err(TicketCountError::NoTickets)
        );
        assert_eq!(
            stage_balance(&r("40"), &r("40"), &r("35")),
            Err(TicketCountError::NoTickets)
        );
        // EV 0: no tickets.
        assert_eq!(
            stage_balance(&Rat::zero(), &r("10"), &Rat::zero()),
            Err(TicketCountError::NoTickets)
        );
        // Fee below EV: one ticket of credit is still bought.
        let u = stage_balance(&Rat::zero(), &r("1"), &r("35")).unwrap();
        assert_eq!((u.num_tickets, u.new_balance.rat_string().as_str()), (1, "34"));
        // Exactly 100 is allowed, 101 is not.
        assert_eq!(
            stage_balance(&Rat::zero(), &r("3500"), &r("35"))
                .unwrap()
                .num_tickets,
            100
        );
        let err = stage_balance(&Rat::zero(), &r("3501"), &r("35")).unwrap_err();
        assert_eq!(err.to_string(), "numTickets 101 exceeds maximum of 100");
        // Huge counts are reported in full (Go would truncate to int64).
        let err = stage_balance(&Rat::zero(), &r("1e30"), &r("1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "numTickets 1000000000000000000000000000000 exceeds maximum of 100"
        );
        // A negative balance (never produced) still buys enough tickets.
        let u = stage_balance(&r("-5"), &r("30"), &r("35")).unwrap();
        assert_eq!((u.num_tickets, u.new_balance.rat_string().as_str()), (2, "35"));
    }
}
