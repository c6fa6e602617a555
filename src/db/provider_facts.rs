//! What online payment providers said about the payments they notified
//! (issue 29): method, the provider's time, and the raw notification, beside
//! the payment row that `(provider, external_id)` names; and the payments
//! `bookings pay-link` created, for `payments fetch`.

use super::error::OptionalExtension;
use super::value::params;
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, WriteTx};
use crate::domain::time::to_storage;

/// The facts to store with a notified payment.
pub struct ProviderFacts<'a> {
    pub provider: &'a str,
    pub external_id: &'a str,
    pub booking_id: Option<i64>,
    pub method: Option<&'a str>,
    pub provider_paid_at: Option<DateTime<Utc>>,
    pub raw: &'a str,
}

/// The stored facts of one payment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFacts {
    pub provider: String,
    pub external_id: String,
    pub booking_id: Option<i64>,
    pub method: Option<String>,
    pub provider_paid_at: Option<String>,
    /// None once erased (`users erase`).
    pub raw: Option<String>,
    pub received_at: String,
}

impl WriteTx<'_> {
    /// Stores the facts of a payment just stored; a second notification of
    /// the same payment keeps the first facts.
    pub fn insert_provider_facts(&self, f: &ProviderFacts<'_>, now: DateTime<Utc>) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO provider_payments (provider, external_id, booking_id, method,
                     provider_paid_at, raw, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (provider, external_id) DO NOTHING",
            )?
            .execute(params![
                f.provider,
                f.external_id,
                f.booking_id,
                f.method,
                f.provider_paid_at.map(to_storage),
                f.raw,
                &*self.stamp(now)
            ])?;
        Ok(())
    }

    /// Erases the raw notifications of these bookings' payments (the method
    /// and times stay: they name nobody). Returns how many were erased.
    pub(super) fn erase_provider_raw(&self) -> Result<u64> {
        Ok(self.conn().execute(
            "UPDATE provider_payments SET raw = NULL
              WHERE raw IS NOT NULL
                AND (booking_id IN (SELECT id FROM temp.erase_bookings)
                     OR EXISTS (SELECT 1 FROM payments p
                                 WHERE p.provider = provider_payments.provider
                                   AND p.external_id = provider_payments.external_id
                                   AND (p.booking_id IN (SELECT id FROM temp.erase_bookings)
                                        OR p.reference_id IN (SELECT id FROM temp.erase_bookings))))",
            [],
        )? as u64)
    }
}

impl Db {
    /// The facts a provider sent about one payment.
    pub fn provider_facts(&self, provider: &str, external_id: &str) -> Result<Option<StoredFacts>> {
        Ok(self
            .conn()
            .prepare(
                "SELECT provider, external_id, booking_id, method, provider_paid_at, raw, received_at
                   FROM provider_payments WHERE provider = ?1 AND external_id = ?2",
            )?
            .query_row(params![provider, external_id], |r| {
                Ok(StoredFacts {
                    provider: r.get(0)?,
                    external_id: r.get(1)?,
                    booking_id: r.get(2)?,
                    method: r.get(3)?,
                    provider_paid_at: r.get(4)?,
                    raw: r.get(5)?,
                    received_at: r.get(6)?,
                })
            })
            .optional()?)
    }
}

impl Db {
    /// Like `Db::write`, but a Ctrl-C or SIGTERM that arrives meanwhile lets
    /// it finish: `payments serve` stops after the notification under way,
    /// rather than rolling it back and making the provider send it again.
    pub fn write_notification<T>(&mut self, work: impl FnOnce(&WriteTx) -> Result<T>) -> Result<T> {
        self.write_transaction(work, false)
    }
}

/// A payment created at a provider by `bookings pay-link`.
pub struct NewPayLink<'a> {
    pub provider: &'a str,
    pub payment_id: &'a str,
    pub booking_id: i64,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub url: &'a str,
}

impl WriteTx<'_> {
    /// Remembers a created payment (the same one again changes nothing).
    pub fn insert_pay_link(&self, link: &NewPayLink<'_>, now: DateTime<Utc>) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO pay_links (provider, payment_id, booking_id, amount_minor, currency, url, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (provider, payment_id) DO NOTHING",
            )?
            .execute(params![
                link.provider,
                link.payment_id,
                link.booking_id,
                link.amount_minor,
                link.currency,
                link.url,
                &*self.stamp(now)
            ])?;
        Ok(())
    }
}

impl Db {
    /// The payment ids of the links created at `provider` since `since`, oldest first.
    pub fn pay_links_since(&self, provider: &str, since: DateTime<Utc>) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare(
            "SELECT payment_id FROM pay_links WHERE provider = ?1 AND created_at >= ?2
              ORDER BY created_at, payment_id",
        )?;
        let rows = stmt
            .query_map(params![provider, to_storage(since)], |r| r.get(0))?
            .collect::<super::error::Result<Vec<String>>>()?;
        Ok(rows)
    }
}
