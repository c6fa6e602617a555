//! The payments table: money received, one row per provider payment.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::bookings::Conditions;
use super::{Db, WriteTx};
use crate::domain::payment::{PaymentFilter, PaymentOutcome};
use crate::domain::time::to_storage;

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

/// Outcomes of money a booking actually received (whatever happens to it
/// next): what `received_total` sums and `bookings list --payment` looks at.
/// Unknown and unmatched payments belong to no booking; a payment in another
/// currency or of no positive amount cannot be added up with the others.
pub(super) const RECEIVED_OUTCOMES: &str =
    "('confirmed', 'already_confirmed', 'partial', 'overpaid', 'cancelled', 'recorded')";

const COLUMNS: &str =
    "id, provider, external_id, booking_id, amount_minor, currency, paid_at, description, outcome, imported_at";

fn payment_from_row(r: &rusqlite::Row) -> rusqlite::Result<Payment> {
    Ok(Payment {
        id: r.get(0)?,
        provider: r.get(1)?,
        external_id: r.get(2)?,
        booking_id: r.get(3)?,
        amount_minor: r.get(4)?,
        currency: r.get(5)?,
        paid_at: r.get(6)?,
        description: r.get(7)?,
        outcome: r.get(8)?,
        imported_at: r.get(9)?,
    })
}

impl WriteTx<'_> {
    /// Stores a payment with its outcome. Returns None when (provider,
    /// external_id) is already stored: the payment was imported before.
    pub fn insert_payment(
        &self,
        p: &NewPayment,
        outcome: PaymentOutcome,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let n = self
            .conn()
            .prepare_cached(
                "INSERT INTO payments (provider, external_id, booking_id, amount_minor, currency, paid_at,
                     description, outcome, imported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (provider, external_id) DO NOTHING",
            )?
            .execute(params![
                p.provider,
                p.external_id,
                p.booking_id,
                p.amount_minor,
                p.currency,
                p.paid_at,
                p.description,
                outcome.as_str(),
                to_storage(now)
            ])?;
        Ok((n == 1).then(|| self.conn().last_insert_rowid()))
    }

    /// Whether (provider, external_id) is already stored.
    pub fn payment_exists(&self, provider: &str, external_id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM payments WHERE provider = ?1 AND external_id = ?2")?
            .query_row(params![provider, external_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Whether a booking has received any money, in any currency (see `RECEIVED_OUTCOMES`).
    pub fn has_received_money(&self, booking_id: i64) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM payments
                  WHERE booking_id = ?1 AND amount_minor > 0 AND outcome IN {RECEIVED_OUTCOMES})"
            ))?
            .query_row(params![booking_id], |r| r.get(0))?)
    }

    /// What a booking has received so far in `currency` (see `RECEIVED_OUTCOMES`).
    pub fn received_total(&self, booking_id: i64, currency: &str) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM payments
                  WHERE booking_id = ?1 AND currency = ?2 AND outcome IN {RECEIVED_OUTCOMES}"
            ))?
            .query_row(params![booking_id, currency], |r| r.get(0))?)
    }
}

impl Db {
    /// Payments of one booking, oldest first.
    pub fn payments_for_booking(&self, booking_id: i64) -> Result<Vec<Payment>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {COLUMNS} FROM payments WHERE booking_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt
            .query_map([booking_id], payment_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Payments matching `filter`, latest `paid_at` first (undated ones last).
    pub fn list_payments(
        &self,
        filter: &PaymentFilter,
        limit: Option<u64>,
    ) -> Result<Vec<Payment>> {
        let mut c = Conditions::default();
        if let Some(booking) = filter.booking {
            c.push("booking_id = ?", vec![Box::new(booking)]);
        }
        if let Some(provider) = &filter.provider {
            c.push("provider = ?", vec![Box::new(provider.clone())]);
        }
        if let Some(outcome) = filter.outcome {
            c.push("outcome = ?", vec![Box::new(outcome.as_str())]);
        }
        if filter.attention {
            let names: Vec<&str> = PaymentOutcome::ALL
                .into_iter()
                .filter(|o| o.needs_attention())
                .map(PaymentOutcome::as_str)
                .collect();
            let marks = vec!["?"; names.len()].join(", ");
            c.push(
                &format!("outcome IN ({marks})"),
                names
                    .into_iter()
                    .map(|n| Box::new(n) as Box<dyn rusqlite::ToSql>)
                    .collect(),
            );
        }
        if let Some(since) = &filter.since {
            c.push("paid_at >= ?", vec![Box::new(since.clone())]);
        }
        if let Some(until) = &filter.until {
            c.push("paid_at < ?", vec![Box::new(until.clone())]);
        }
        let mut sql = format!(
            "SELECT {COLUMNS} FROM payments{} ORDER BY paid_at DESC NULLS LAST, id DESC",
            c.where_clause()
        );
        if let Some(n) = limit {
            c.args.push(Box::new(i64::try_from(n).unwrap_or(i64::MAX)));
            sql += &format!(" LIMIT ?{}", c.args.len());
        }
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(c.args.iter()), payment_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_outcomes_are_the_ones_that_belong_to_a_booking() {
        use PaymentOutcome::*;
        for outcome in PaymentOutcome::ALL {
            let received = !matches!(
                outcome,
                UnknownBooking | Unmatched | CurrencyMismatch | NotPositive
            );
            assert_eq!(
                RECEIVED_OUTCOMES.contains(&format!("'{}'", outcome.as_str())),
                received,
                "{outcome}"
            );
        }
    }
}
