//! Money as integer minor units (kopecks, cents): no floating point anywhere.
//!
//! Every amount paytrack accepts (a payment, a refund, a price) is at most
//! `MAX_AMOUNT_MINOR` in absolute value, checked where it enters (`parse_amount`).
//! Sums (what a booking received, a stream's revenue) are `Money`, whose
//! arithmetic is checked and 128 bits wide: adding up i64 amounts would need
//! more than 2^64 of them to overflow, so a total never wraps and never fails
//! on any database paytrack can hold.

use std::fmt;

/// The largest amount (and price) accepted, in minor units: 10^12, i.e.
/// 10,000,000,000.00 — far above any course price, far below where 64-bit
/// sums of a booking's payments could overflow.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// A sum of money in minor units, with checked arithmetic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i128);

impl Money {
    pub const ZERO: Money = Money(0);

    /// One stored amount.
    pub fn from_minor(minor: i64) -> Money {
        Money(i128::from(minor))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// Adds up amounts; None only if the sum would not fit 128 bits.
    pub fn sum(amounts: impl IntoIterator<Item = i64>) -> Option<Money> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |acc, a| acc.checked_add(Money::from_minor(a)))
    }

    /// `price × pct_sum / 100`, rounded down: the revenue of bookings whose
    /// (100 − discount) percentages add up to `pct_sum`.
    pub fn share_of(price_minor: i64, pct_sum: i64) -> Option<Money> {
        i128::from(price_minor)
            .checked_mul(i128::from(pct_sum))
            .map(|v| Money(v / 100))
    }

    /// The value in minor units.
    pub fn minor(self) -> i128 {
        self.0
    }

    /// The value as an i64, when it fits.
    pub fn to_i64(self) -> Option<i64> {
        i64::try_from(self.0).ok()
    }

    /// The value as an i64, clamped to i64's range (only for comparisons with
    /// bounded amounts, where a clamped total compares the same way).
    pub fn clamped_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(if self.0 < 0 { i64::MIN } else { i64::MAX })
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for Money {
    /// `27000.00`: `.` decimal point, no separators (the machine form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Parses an amount as bank and provider exports write it: `27000.00`,
/// `27000`, `27 000,50` (space or no-break space as thousands separator, comma
/// as decimal point, as Russian bank exports use). At most two decimals.
pub fn parse_amount(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "invalid amount '{}': expected a number such as 27000.00 or 27 000,50",
            crate::text::shown(text)
        )
    };
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '_'))
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 2
    {
        return Err(bad());
    }
    let too_large = || {
        format!(
            "amount {} is above the maximum {}",
            crate::text::shown(text.trim()),
            format_amount(MAX_AMOUNT_MINOR)
        )
    };
    // Any number of digits is read (so a huge amount is named as too large,
    // not as malformed); the bound is checked before it can reach an i64.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 20 {
        return Err(too_large());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let cents: u128 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    let minor = whole * 100 + cents;
    if minor > MAX_AMOUNT_MINOR.unsigned_abs().into() {
        return Err(too_large());
    }
    let minor = i64::try_from(minor).map_err(|_| too_large())?;
    Ok(if negative { -minor } else { minor })
}

/// Formats minor units as `27000.00` (machine form: `.` decimal point, no separators).
pub fn format_amount(minor: i64) -> String {
    Money::from_minor(minor).to_string()
}

/// The price a booking should pay: the stream price less the booking's discount, rounded to the minor unit.
/// Computed in 128 bits, so even a price stored before prices were bounded cannot wrap.
pub fn expected_price(price_minor: i64, discount_percent: Option<i64>) -> i64 {
    let pct = 100 - discount_percent.unwrap_or(0).clamp(0, 100);
    let expected = (i128::from(price_minor) * i128::from(pct) + 50) / 100;
    // |price × pct / 100| ≤ |price|, so this always fits.
    i64::try_from(expected).unwrap_or(i64::MAX)
}

/// What a part-paid booking still has to pay of its stream's price (minor
/// units, in the stream's currency).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    pub left_minor: i64,
    pub received_minor: i64,
    pub expected_minor: i64,
    pub currency: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_provider_and_bank_formats() {
        assert_eq!(parse_amount("27000.00"), Ok(2_700_000));
        assert_eq!(parse_amount("27000"), Ok(2_700_000));
        assert_eq!(parse_amount("27 000,5"), Ok(2_700_050));
        assert_eq!(parse_amount("27\u{a0}000,50"), Ok(2_700_050));
        assert_eq!(parse_amount("0.01"), Ok(1));
        assert_eq!(parse_amount("10000000000.00"), Ok(MAX_AMOUNT_MINOR));
        assert_eq!(parse_amount("-10000000000"), Ok(-MAX_AMOUNT_MINOR));
        for huge in [
            "92233720368547758.07",
            "-99999999999999999999999999999",
            "10000000000.01",
        ] {
            assert!(
                parse_amount(huge)
                    .unwrap_err()
                    .contains("above the maximum 10000000000.00"),
                "{huge}"
            );
        }
        assert_eq!(parse_amount("007.5"), Ok(750));
        for bad in [
            "",
            "abc",
            "1.234",
            "1,2,3",
            "12e3",
            "--1",
            "92233720368547758.07",
            "10000000000.01",
            "-10000000000.01",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_for_machines() {
        assert_eq!(format_amount(2_700_050), "27000.50");
        assert_eq!(format_amount(-5), "-0.05");
    }

    #[test]
    fn sums_never_wrap() {
        let total = Money::sum([i64::MAX, i64::MAX, 1]).unwrap();
        assert_eq!(total.minor(), 2 * i128::from(i64::MAX) + 1);
        assert_eq!(total.to_i64(), None);
        assert_eq!(total.clamped_i64(), i64::MAX);
        assert_eq!(
            Money::share_of(i64::MAX, 1_000).unwrap().minor(),
            i128::from(i64::MAX) * 10
        );
        assert_eq!(Money::from_minor(-5).to_string(), "-0.05");
        assert_eq!(expected_price(i64::MAX, Some(0)), i64::MAX);
    }

    #[test]
    fn expected_price_applies_the_discount() {
        assert_eq!(expected_price(3_000_000, Some(10)), 2_700_000);
        assert_eq!(expected_price(3_000_000, None), 3_000_000);
        assert_eq!(expected_price(333, Some(50)), 167);
    }
}
