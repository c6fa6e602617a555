//! Money as integer minor units (kopecks, cents): no floating point anywhere.

/// Parses an amount as bank and provider exports write it: `27000.00`,
/// `27000`, `27 000,50` (space or no-break space as thousands separator, comma
/// as decimal point, as Russian bank exports use). At most two decimals.
pub fn parse_amount(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "invalid amount '{}': expected a number such as 27000.00 or 27 000,50",
            crate::output::sanitize::shown(text)
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
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    let minor = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(cents))
        .ok_or_else(bad)?;
    Ok(if negative { -minor } else { minor })
}

/// Formats minor units as `27000.00` (machine form: `.` decimal point, no separators).
pub fn format_amount(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// The price a booking should pay: the stream price less the booking's discount, rounded to the minor unit.
pub fn expected_price(price_minor: i64, discount_percent: Option<i64>) -> i64 {
    let pct = 100 - discount_percent.unwrap_or(0).clamp(0, 100);
    (price_minor * pct + 50) / 100
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
        for bad in [
            "",
            "abc",
            "1.234",
            "1,2,3",
            "12e3",
            "--1",
            "99999999999999999999",
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
    fn expected_price_applies_the_discount() {
        assert_eq!(expected_price(3_000_000, Some(10)), 2_700_000);
        assert_eq!(expected_price(3_000_000, None), 3_000_000);
        assert_eq!(expected_price(333, Some(50)), 167);
    }
}
