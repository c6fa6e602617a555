//! The payments table: money received, one row per provider payment.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{Db, WriteTx};
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
        outcome: &str,
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
                outcome,
                to_storage(now)
            ])?;
        Ok((n == 1).then(|| self.conn().last_insert_rowid()))
    }

    /// Total already received for a booking (matched payments only).
    pub fn paid_total(&self, booking_id: i64) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM payments
                  WHERE booking_id = ?1 AND outcome NOT IN ('unknown_booking', 'unmatched')",
            )?
            .query_row([booking_id], |r| r.get(0))?)
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
}
