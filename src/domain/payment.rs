//! Payments reconciliation rules, free of I/O: finding the booking a payment
//! names, and deciding what a payment means for that booking (its outcome).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use super::time::parse_legacy_timestamp;
use super::Status;

/// What a stored payment turned out to be. Stored in `payments.outcome` under `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum PaymentOutcome {
    /// Completed the expected price: the booking was confirmed by this payment.
    Confirmed,
    /// The booking was already confirmed; nothing else to do.
    AlreadyConfirmed,
    /// Less than the expected price so far; the booking stays pending.
    Partial,
    /// More than the expected price: money to return (a pending booking is still confirmed).
    Overpaid,
    /// The booking is cancelled: money to return.
    Cancelled,
    /// The payment names a booking that does not exist.
    UnknownBooking,
    /// No booking number found (no booking_id, nothing usable in the description).
    Unmatched,
    /// Paid in another currency than the stream's price.
    CurrencyMismatch,
    /// A zero or negative amount (a refund or reversal line).
    NotPositive,
    /// Recorded by hand with `booking set-status --payment-ref`.
    Recorded,
    /// A known (provider, external_id) sent again with another amount, date or
    /// booking: stored beside the first version, which stands.
    Conflict,
    /// The description names several booking numbers.
    Ambiguous,
    /// Money returned to the payer (a negative amount), netted against what the booking received.
    Refund,
}

impl PaymentOutcome {
    /// Every outcome, in the order reports list them.
    pub const ALL: [PaymentOutcome; 13] = [
        PaymentOutcome::Confirmed,
        PaymentOutcome::AlreadyConfirmed,
        PaymentOutcome::Partial,
        PaymentOutcome::Overpaid,
        PaymentOutcome::Cancelled,
        PaymentOutcome::UnknownBooking,
        PaymentOutcome::Unmatched,
        PaymentOutcome::CurrencyMismatch,
        PaymentOutcome::NotPositive,
        PaymentOutcome::Conflict,
        PaymentOutcome::Ambiguous,
        PaymentOutcome::Refund,
        PaymentOutcome::Recorded,
    ];

    /// The name stored in the database and printed in CSV/JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentOutcome::Confirmed => "confirmed",
            PaymentOutcome::AlreadyConfirmed => "already_confirmed",
            PaymentOutcome::Partial => "partial",
            PaymentOutcome::Overpaid => "overpaid",
            PaymentOutcome::Cancelled => "cancelled",
            PaymentOutcome::UnknownBooking => "unknown_booking",
            PaymentOutcome::Unmatched => "unmatched",
            PaymentOutcome::CurrencyMismatch => "currency_mismatch",
            PaymentOutcome::NotPositive => "not_positive",
            PaymentOutcome::Recorded => "recorded",
            PaymentOutcome::Conflict => "conflict",
            PaymentOutcome::Ambiguous => "ambiguous",
            PaymentOutcome::Refund => "refund",
        }
    }

    pub fn from_name(name: &str) -> Option<PaymentOutcome> {
        PaymentOutcome::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Whether a person has to act on a payment with this outcome (exit code 10).
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            PaymentOutcome::Partial
                | PaymentOutcome::Overpaid
                | PaymentOutcome::Cancelled
                | PaymentOutcome::UnknownBooking
                | PaymentOutcome::Unmatched
                | PaymentOutcome::CurrencyMismatch
                | PaymentOutcome::NotPositive
                | PaymentOutcome::Conflict
                | PaymentOutcome::Ambiguous
        )
    }

    /// Whether a payment with this outcome is money the booking kept (refunds
    /// negative), so that adding these up gives the net received. The SQL
    /// side is `db::payments::RECEIVED_OUTCOMES`, tested against this.
    pub fn counts_as_received(self) -> bool {
        matches!(
            self,
            PaymentOutcome::Confirmed
                | PaymentOutcome::AlreadyConfirmed
                | PaymentOutcome::Partial
                | PaymentOutcome::Overpaid
                | PaymentOutcome::Cancelled
                | PaymentOutcome::Recorded
                | PaymentOutcome::Refund
        )
    }

    /// Whether a payment with this outcome belongs to no booking yet, so that
    /// `payments assign` may attach it without `--force`.
    pub fn is_unattached(self) -> bool {
        matches!(
            self,
            PaymentOutcome::UnknownBooking | PaymentOutcome::Unmatched | PaymentOutcome::Ambiguous
        )
    }
}

impl std::fmt::Display for PaymentOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The booking number a bank transfer's text carries: «Оплата курса, бронь №123»,
/// «бронь 123», «брони № 123», «booking 123», «Booking #123», «#123».
///
/// A bare «№123» is not taken: bank texts use it for invoices and contracts
/// too («договор №45»). Two different numbers make the text ambiguous: None,
/// so that a person decides rather than paytrack guessing (see
/// `booking_references` for the numbers).
pub fn booking_reference(description: &str) -> Option<i64> {
    match booking_references(description).as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Every distinct booking number a text carries, in order of appearance.
pub fn booking_references(description: &str) -> Vec<i64> {
    let chars: Vec<char> = description.to_lowercase().chars().collect();
    let mut found: Vec<i64> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let word_start = i == 0 || !chars[i - 1].is_alphanumeric();
        let after_marker = if word_start && chars[i] == '#' {
            Some(i + 1)
        } else if word_start {
            keyword_end(&chars, i)
        } else {
            None
        };
        let Some(mut j) = after_marker else {
            i += 1;
            continue;
        };
        j = skip_number_sign(&chars, j);
        let digits_end = j + chars[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        let ends_cleanly = chars.get(digits_end).is_none_or(|c| !c.is_alphanumeric());
        if digits_end > j && ends_cleanly {
            let number: String = chars[j..digits_end].iter().collect();
            if let Some(n) = number.parse::<i64>().ok().filter(|n| *n > 0) {
                if !found.contains(&n) {
                    found.push(n);
                }
            }
            i = digits_end;
        } else {
            i = j.max(i + 1);
        }
    }
    found
}

/// If a booking keyword starts at `i` (бронь, брони, бронирование…, booking),
/// where it ends.
fn keyword_end(chars: &[char], i: usize) -> Option<usize> {
    let starts_with = |word: &str| {
        let w: Vec<char> = word.chars().collect();
        chars.get(i..i + w.len()) == Some(&w[..])
    };
    let word_end = |from: usize| {
        from + chars[from..]
            .iter()
            .take_while(|c| c.is_alphabetic())
            .count()
    };
    if starts_with("брон") {
        // Any Russian case form: бронь, брони, броню, бронирование, бронированию…
        Some(word_end(i))
    } else if starts_with("booking") {
        let end = word_end(i);
        (end == i + "booking".len()).then_some(end)
    } else {
        None
    }
}

/// Skips what may sit between the keyword and the number: spaces, `№`, `#`,
/// `no.`, `n`, `:`, `-`.
fn skip_number_sign(chars: &[char], mut j: usize) -> usize {
    loop {
        match chars.get(j) {
            Some(c) if c.is_whitespace() || matches!(c, '№' | '#' | ':' | '-' | '.') => j += 1,
            Some('n') if chars.get(j + 1) == Some(&'o') && !is_letter_at(chars, j + 2) => j += 2,
            Some('n') if !is_letter_at(chars, j + 1) => j += 1,
            _ => return j,
        }
    }
}

fn is_letter_at(chars: &[char], j: usize) -> bool {
    chars.get(j).is_some_and(|c| c.is_alphabetic())
}

/// The same currency under the names exports use: `RUR` (the old code 810), `₽`, `руб`.
pub fn normalize_currency(text: &str) -> String {
    let t = text.trim();
    match t.to_lowercase().trim_end_matches('.') {
        "rur" | "₽" | "руб" | "рубль" | "рублей" | "р" => "RUB".to_string(),
        _ => t.to_uppercase(),
    }
}

/// Parses a payment time: what `bookings import` reads (RFC 3339, PostgreSQL
/// timestamps, `2024-03-01`), plus the Russian bank forms `01.03.2024` and
/// `01.03.2024 12:06[:00]`. A time without an offset is taken as UTC.
pub fn parse_paid_at(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Some(ts) = parse_legacy_timestamp(t) {
        return Some(ts);
    }
    for format in ["%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return Some(naive.and_utc());
        }
    }
    crate::domain::time::parse_calendar_date(t)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
}

/// What a booking kept, per currency, net of refunds: the sum of its
/// payments whose outcome `counts_as_received`, from (outcome, currency,
/// amount) triples.
pub fn net_received<'a>(
    payments: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
) -> std::collections::BTreeMap<String, crate::domain::money::Money> {
    let mut totals: std::collections::BTreeMap<String, crate::domain::money::Money> =
        std::collections::BTreeMap::new();
    for (outcome, currency, amount) in payments {
        if PaymentOutcome::from_name(outcome).is_some_and(PaymentOutcome::counts_as_received) {
            let total = totals.entry(currency.to_string()).or_default();
            // 128-bit: i64 amounts cannot reach its limit.
            *total = total
                .checked_add(crate::domain::money::Money::from_minor(amount))
                .unwrap_or(*total);
        }
    }
    totals
}

/// What reconciliation knows about the booking a payment names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingFacts {
    pub status: Status,
    /// The stream price less the booking's discount; None when the stream has no price.
    pub expected_minor: Option<i64>,
    /// The stream's currency, when set.
    pub currency: Option<String>,
}

/// Which booking a payment was matched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// No booking number in the row.
    NoReference,
    /// A booking number that names no booking.
    Missing,
    /// Several booking numbers (in the description).
    Several,
    Found(&'a BookingFacts),
}

/// What to do with one payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub outcome: PaymentOutcome,
    /// Confirm the (pending) booking now.
    pub confirm: bool,
}

/// Decides a payment's outcome. `paid_before` is what the booking already
/// received in this currency (earlier payments); `currency` is the payment's,
/// already normalised ("" when the file did not say).
///
/// Rules, in order: a zero amount is never a payment; no number → unmatched;
/// several numbers → ambiguous; no such booking → unknown_booking; another
/// currency than the stream's → currency_mismatch; a negative amount →
/// refund (netted against what the booking received; it never changes a
/// status by itself), or not_positive (for a person) when it is more than
/// the booking received; a cancelled booking → cancelled (return it);
/// then the running total against the expected price: below → partial, equal
/// → confirmed, above → overpaid. A pending booking is confirmed once the total
/// reaches the price (overpaid included); without a price any positive amount
/// confirms it. An already confirmed booking is overpaid if the total now
/// exceeds the price or, without a price, if it had been paid before.
pub fn decide(target: Target, amount_minor: i64, currency: &str, paid_before: i64) -> Decision {
    let only = |outcome| Decision {
        outcome,
        confirm: false,
    };
    if amount_minor == 0 {
        return only(PaymentOutcome::NotPositive);
    }
    let booking = match target {
        Target::NoReference => return only(PaymentOutcome::Unmatched),
        Target::Several => return only(PaymentOutcome::Ambiguous),
        Target::Missing => return only(PaymentOutcome::UnknownBooking),
        Target::Found(b) => b,
    };
    if let Some(expected_currency) = &booking.currency {
        if !currency.is_empty() && currency != expected_currency {
            return only(PaymentOutcome::CurrencyMismatch);
        }
    }
    if amount_minor < 0 {
        // More returned than was received is not a refund paytrack can net:
        // taken as one, it left the booking below zero and its next full
        // payment read as partial (issue 25). A person looks at it.
        if paid_before.saturating_add(amount_minor) < 0 {
            return only(PaymentOutcome::NotPositive);
        }
        return only(PaymentOutcome::Refund);
    }
    let total = paid_before.saturating_add(amount_minor);
    match booking.status {
        Status::Cancelled => only(PaymentOutcome::Cancelled),
        Status::Confirmed => match booking.expected_minor {
            Some(expected) if total > expected => only(PaymentOutcome::Overpaid),
            None if paid_before > 0 => only(PaymentOutcome::Overpaid),
            _ => only(PaymentOutcome::AlreadyConfirmed),
        },
        Status::Pending => match booking.expected_minor {
            Some(expected) if total < expected => only(PaymentOutcome::Partial),
            Some(expected) if total > expected => Decision {
                outcome: PaymentOutcome::Overpaid,
                confirm: true,
            },
            _ => Decision {
                outcome: PaymentOutcome::Confirmed,
                confirm: true,
            },
        },
    }
}

/// Which payments `payments list` shows. Every field narrows the selection.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub booking: Option<i64>,
    pub provider: Option<String>,
    pub outcome: Option<PaymentOutcome>,
    /// Only outcomes a person must look at.
    pub attention: bool,
    /// `paid_at` at or after (UTC storage text).
    pub since: Option<String>,
    /// `paid_at` before.
    pub until: Option<String>,
}

/// What a booking owes now.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    pub booking_id: i64,
    /// Price less discount less what was received (net of refunds), minor units.
    pub amount_minor: i64,
    pub currency: String,
    /// "Course (stream), booking 42": the payment's description.
    pub description: String,
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payment {
    pub id: i64,
    pub provider: String,
    pub external_id: String,
    pub booking_id: Option<i64>,
    pub amount_minor: i64,
    pub currency: String,
    pub paid_at: Option<String>,
    pub description: Option<String>,
    pub outcome: String,
    pub imported_at: String,
    /// The booking number the file named (booking_id may differ after `payments assign`).
    pub reference_id: Option<i64>,
    /// When, by whom and why a person marked the row as handled (`payments resolve`).
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}

/// A payment to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPayment {
    pub provider: String,
    pub external_id: String,
    pub booking_id: Option<i64>,
    pub amount_minor: i64,
    pub currency: String,
    pub paid_at: Option<String>,
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_booking_numbers_in_bank_texts() {
        for (text, id) in [
            ("Оплата курса, бронь №123", 123),
            ("Оплата курса, бронь № 123", 123),
            ("бронь 123", 123),
            ("БРОНЬ№7", 7),
            ("по брони №45 за курс", 45),
            ("Оплата бронирования 88", 88),
            ("booking 123", 123),
            ("Booking #123, thanks", 123),
            ("booking no. 5", 5),
            ("booking: 9", 9),
            ("#123", 123),
            ("payment (#42)", 42),
            ("бронь 12, повторно бронь №12", 12),
        ] {
            assert_eq!(booking_reference(text), Some(id), "{text}");
        }
    }

    #[test]
    fn refuses_texts_without_a_clear_number() {
        for text in [
            "",
            "Вайб кодинг",
            "Оплата по договору №45",
            "бронь",
            "бронь №",
            "booking 12abc",
            "rebooking 12",
            "abc#12",
            "бронь 0",
            "бронь 12 и бронь 13",
            "booking 5, booking 6 and booking 5",
            "booking 99999999999999999999999",
        ] {
            assert_eq!(booking_reference(text), None, "{text}");
        }
    }

    #[test]
    fn names_every_number_of_an_ambiguous_text() {
        assert_eq!(booking_references("бронь 12 и бронь 13"), [12, 13]);
        assert_eq!(
            booking_references("booking 5, booking 6 and booking 5"),
            [5, 6]
        );
        assert_eq!(booking_references("бронь 12, повторно бронь №12"), [12]);
        assert!(booking_references("Вайб кодинг").is_empty());
    }

    #[test]
    fn reads_provider_and_bank_times() {
        let utc = |t: &str| parse_paid_at(t).map(super::super::time::to_storage);
        assert_eq!(
            utc("2024-03-01T12:06:00+03:00").as_deref(),
            Some("2024-03-01T09:06:00.000000Z")
        );
        assert_eq!(
            utc("01.03.2024 12:06").as_deref(),
            Some("2024-03-01T12:06:00.000000Z")
        );
        assert_eq!(
            utc("01.03.2024").as_deref(),
            Some("2024-03-01T00:00:00.000000Z")
        );
        assert_eq!(utc("32.01.2024"), None);
        assert_eq!(utc("yesterday"), None);
    }

    #[test]
    fn normalizes_currency_names() {
        assert_eq!(normalize_currency(" rur "), "RUB");
        assert_eq!(normalize_currency("руб."), "RUB");
        assert_eq!(normalize_currency("usd"), "USD");
    }

    fn facts(status: Status, expected: Option<i64>) -> BookingFacts {
        BookingFacts {
            status,
            expected_minor: expected,
            currency: Some("RUB".into()),
        }
    }

    fn outcome(b: &BookingFacts, amount: i64, before: i64) -> (PaymentOutcome, bool) {
        let d = decide(Target::Found(b), amount, "RUB", before);
        (d.outcome, d.confirm)
    }

    #[test]
    fn pending_bookings_confirm_when_the_total_reaches_the_price() {
        use PaymentOutcome::*;
        let b = facts(Status::Pending, Some(2_700_000));
        assert_eq!(outcome(&b, 2_700_000, 0), (Confirmed, true));
        assert_eq!(outcome(&b, 1_500_000, 0), (Partial, false));
        assert_eq!(outcome(&b, 1_200_000, 1_500_000), (Confirmed, true));
        assert_eq!(outcome(&b, 3_000_000, 0), (Overpaid, true));
        let unpriced = facts(Status::Pending, None);
        assert_eq!(outcome(&unpriced, 1, 0), (Confirmed, true));
    }

    #[test]
    fn confirmed_and_cancelled_bookings_never_confirm() {
        use PaymentOutcome::*;
        let b = facts(Status::Confirmed, Some(2_700_000));
        assert_eq!(outcome(&b, 2_700_000, 0), (AlreadyConfirmed, false));
        assert_eq!(outcome(&b, 2_700_000, 2_700_000), (Overpaid, false));
        let unpriced = facts(Status::Confirmed, None);
        assert_eq!(outcome(&unpriced, 5, 0), (AlreadyConfirmed, false));
        assert_eq!(outcome(&unpriced, 5, 5), (Overpaid, false));
        let c = facts(Status::Cancelled, Some(2_700_000));
        assert_eq!(outcome(&c, 2_700_000, 0), (Cancelled, false));
    }

    #[test]
    fn odd_payments_need_a_person() {
        use PaymentOutcome::*;
        let b = facts(Status::Pending, Some(100));
        assert_eq!(decide(Target::Found(&b), 0, "RUB", 0).outcome, NotPositive);
        assert_eq!(decide(Target::Found(&b), -100, "RUB", 100).outcome, Refund);
        // More than was received: a person looks at it, nothing is netted.
        assert_eq!(
            decide(Target::Found(&b), -100, "RUB", 0).outcome,
            NotPositive
        );
        assert_eq!(
            decide(Target::Found(&b), -100, "USD", 0).outcome,
            CurrencyMismatch
        );
        assert_eq!(
            decide(Target::NoReference, -100, "RUB", 0).outcome,
            Unmatched
        );
        assert_eq!(decide(Target::Several, 100, "RUB", 0).outcome, Ambiguous);
        assert_eq!(
            decide(Target::Found(&b), 100, "USD", 0).outcome,
            CurrencyMismatch
        );
        assert_eq!(decide(Target::Found(&b), 100, "", 0).outcome, Confirmed);
        assert_eq!(
            decide(Target::Missing, 100, "RUB", 0).outcome,
            UnknownBooking
        );
        assert_eq!(
            decide(Target::NoReference, 100, "RUB", 0).outcome,
            Unmatched
        );
        for o in PaymentOutcome::ALL {
            assert_eq!(PaymentOutcome::from_name(o.as_str()), Some(o));
        }
    }
}
