//! Personal data rules (issue 20): the pseudonym that replaces a person's
//! names, and the ages a retention policy is written in (`3y`, `18m`, `90d`).

use chrono::{DateTime, Duration, Months, Utc};
use sha2::{Digest, Sha256};

/// The stable pseudonym of a Telegram user: `erased-` and 10 hex digits.
///
/// Derived from the user id so that every row of one person gets the same
/// pseudonym (their bookings still group together, and erasing twice changes
/// nothing). It hides nothing the id does not already show: the id is kept.
pub fn pseudonym(user_id: i64) -> String {
    let digest = Sha256::digest(format!("paytrack.erased-user:{user_id}").as_bytes());
    format!("erased-{}", &hex::encode(digest)[..10])
}

/// How old something must be before a retention rule touches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    Years(u32),
    Months(u32),
    Days(u32),
}

impl Age {
    /// Parses `3y`, `18m`, `90d` (a positive whole number and a unit).
    pub fn parse(text: &str) -> Result<Age, String> {
        let text = text.trim();
        let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
            format!("{text:?}: add a unit: y (years), m (months) or d (days), e.g. 3y")
        })?;
        let (number, unit) = text.split_at(unit_at);
        let n: u32 = number.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("{text:?}: expected a positive number and a unit, e.g. 3y, 18m, 90d")
        })?;
        match unit {
            "y" => Ok(Age::Years(n)),
            "m" => Ok(Age::Months(n)),
            "d" => Ok(Age::Days(n)),
            _ => Err(format!(
                "{text:?}: the unit is y (years), m (months) or d (days)"
            )),
        }
    }

    /// The instant `now` minus this age: things created before it are older.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let months = |m: u32| now.checked_sub_months(Months::new(m));
        match self {
            Age::Years(y) => months(y.saturating_mul(12)),
            Age::Months(m) => months(m),
            Age::Days(d) => now.checked_sub_signed(Duration::days(i64::from(d))),
        }
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_and_distinct() {
        assert_eq!(pseudonym(42), pseudonym(42));
        assert_ne!(pseudonym(42), pseudonym(43));
        assert!(pseudonym(42).starts_with("erased-"));
        assert_eq!(pseudonym(42).len(), "erased-".len() + 10);
    }

    #[test]
    fn ages_parse_and_cut_off() {
        let now = DateTime::parse_from_rfc3339("2025-03-31T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(Age::parse("3y"), Ok(Age::Years(3)));
        assert_eq!(
            Age::parse("1y").unwrap().cutoff(now).to_rfc3339(),
            "2024-03-31T12:00:00+00:00"
        );
        assert_eq!(
            Age::parse("1m").unwrap().cutoff(now).to_rfc3339(),
            "2025-02-28T12:00:00+00:00"
        );
        assert_eq!(
            Age::parse("30d").unwrap().cutoff(now).to_rfc3339(),
            "2025-03-01T12:00:00+00:00"
        );
        for bad in ["", "3", "y", "0y", "-1y", "3w", "3 years"] {
            assert!(Age::parse(bad).is_err(), "{bad}");
        }
    }
}
