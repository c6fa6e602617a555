//! The payments table: money received, one row per provider payment.

use super::error::OptionalExtension;
use super::value::params;
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::conditions::Conditions;
use super::{Db, WriteTx};
use crate::domain::money::Money;
pub use crate::domain::payment::{NewPayment, Payment};
use crate::domain::payment::{PaymentFilter, PaymentOutcome};
use crate::domain::time::to_storage;
use crate::error::PaytrackError;

/// A payment for `insert_new_payments`.
pub struct PaymentRow<'a> {
    pub payment: &'a NewPayment,
    pub outcome: PaymentOutcome,
    /// A booking that had no payment gets a ledger of this one: its status
    /// changes with it, and the message that change queues reads what it
    /// received next. Other rows start none: 70k ledgers nobody reads cost
    /// 20 MB in a 100k-row import.
    pub starts_ledger: bool,
}

/// Outcomes of money a booking actually received (whatever happens to it
/// next): what `received_total` sums and `bookings list --payment` looks at.
/// Unknown and unmatched payments belong to no booking; a payment in another
/// currency or of no positive amount cannot be added up with the others.
/// Refunds are negative, so the sum is the net amount the booking kept.
pub(super) const RECEIVED_OUTCOMES: &str =
    "('confirmed', 'already_confirmed', 'partial', 'overpaid', 'cancelled', 'recorded', 'refund')";

/// Rows per multi-row INSERT of payments (10 values each, well below
/// SQLite's 32,766 parameters).
const PAYMENTS_PER_INSERT: usize = 100;

const COLUMNS: &str =
    "id, provider, external_id, booking_id, amount_minor, currency, paid_at, description, outcome, imported_at,
     reference_id, resolved_at, resolved_by, resolution_note";

/// The condition (on payments aliased `p`) of a row still waiting for a
/// person: an outcome that needs one, not resolved, and not a partial payment
/// whose booking has since been confirmed (completed by a later payment or by
/// hand: nothing is left to do for it). The one definition of "open" for
/// `payments list --attention` and for the import's "reported before".
fn open_attention_sql() -> String {
    let names: Vec<String> = PaymentOutcome::ALL
        .into_iter()
        .filter(|o| o.needs_attention())
        // Our own fixed names, not input: safe to write into the SQL.
        .map(|o| format!("'{}'", o.as_str()))
        .collect();
    format!(
        "(p.resolved_at IS NULL AND p.outcome IN ({}) \
          AND NOT (p.outcome = 'partial' AND EXISTS (SELECT 1 FROM bookings b \
                   WHERE b.id = p.booking_id AND b.confirmed = 2)))",
        names.join(", ")
    )
}

fn payment_from_row(r: &super::sql::Row) -> super::error::Result<Payment> {
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
        reference_id: r.get(10)?,
        resolved_at: r.get(11)?,
        resolved_by: r.get(12)?,
        resolution_note: r.get(13)?,
    })
}

/// A stored payment and whether it still waits for a person.
#[derive(Debug, Clone)]
pub struct StoredPayment {
    pub payment: Payment,
    pub open: bool,
}

/// The (provider, external_id) pairs stored so far, as 64-bit fingerprints:
/// read in one pass over their index, so that an import asks the database
/// about a row only when its pair may be stored (issue 19). A fingerprint
/// match is only a "maybe" (the caller then reads the row); a miss is certain.
/// Eight bytes a payment, so a million stored payments stay within 8 MB.
#[derive(Debug, Default)]
pub struct PaymentKeys(rustc_hash::FxHashSet<u64>);

impl PaymentKeys {
    fn fingerprint(provider: &str, external_id: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        // SipHash with fixed keys: the same fingerprint in every process.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (provider, external_id).hash(&mut h);
        h.finish()
    }

    /// False when (provider, external_id) is certainly not stored.
    pub fn may_contain(&self, provider: &str, external_id: &str) -> bool {
        self.0.contains(&Self::fingerprint(provider, external_id))
    }

    /// Notes a pair stored since the pass.
    pub fn insert(&mut self, provider: &str, external_id: &str) {
        self.0.insert(Self::fingerprint(provider, external_id));
    }
}

impl WriteTx<'_> {
    /// Every stored (provider, external_id) pair (conflicts aside), in one
    /// pass over `payments_by_external`.
    pub fn payment_keys(&self) -> Result<PaymentKeys> {
        let mut keys = PaymentKeys::default();
        let mut stmt = self.conn().prepare(self.conn().pick(
            "SELECT provider, external_id FROM payments INDEXED BY payments_by_external
              WHERE outcome <> 'conflict'",
            "SELECT provider, external_id FROM payments WHERE outcome <> 'conflict'",
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            keys.insert(row.get_str(0)?, row.get_str(1)?);
        }
        Ok(keys)
    }

    /// Reads which bookings have a stored payment, in one pass, for the rest
    /// of this transaction (kept up to date as payments are stored): a large
    /// import then adds up no payments of a booking that has none.
    pub fn learn_paid_bookings(&self) -> Result<()> {
        let mut stmt = self
            .conn()
            .prepare("SELECT DISTINCT booking_id FROM payments WHERE booking_id IS NOT NULL")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<super::error::Result<rustc_hash::FxHashSet<i64>>>()?;
        self.cache.borrow_mut().paid_bookings = Some(ids);
        Ok(())
    }

    /// False only when the booking certainly has no stored payment (see
    /// `learn_paid_bookings`).
    pub fn may_have_payments(&self, booking_id: i64) -> bool {
        self.cache
            .borrow()
            .paid_bookings
            .as_ref()
            .is_none_or(|paid| paid.contains(&booking_id))
    }

    /// The (currency, amount) of a booking's payments that count as
    /// received: none for a booking known to have no payment, those stored
    /// in this transaction for one that had none before (handed over once,
    /// so the ledger stays small), else read.
    fn ledger(&self, booking_id: i64) -> Result<Vec<(String, i64)>> {
        {
            let mut cache = self.cache.borrow_mut();
            if let Some(rows) = cache.received.remove(&booking_id) {
                return Ok(rows);
            }
            if cache
                .paid_bookings
                .as_ref()
                .is_some_and(|paid| !paid.contains(&booking_id))
            {
                return Ok(Vec::new());
            }
        }
        let rows = self
            .conn()
            .prepare_cached(&format!(
                "SELECT currency, amount_minor FROM payments
                  WHERE booking_id = ?1 AND outcome IN {RECEIVED_OUTCOMES} ORDER BY id"
            ))?
            .query_map(params![booking_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<super::error::Result<Vec<(String, i64)>>>()?;
        Ok(rows)
    }

    /// The amounts a booking received in `currency` (all of them for None),
    /// for a message's `{amount_due}`.
    pub(super) fn received_amounts(
        &self,
        booking_id: i64,
        currency: Option<&str>,
    ) -> Result<Vec<i64>> {
        Ok(self
            .ledger(booking_id)?
            .into_iter()
            .filter(|(c, _)| currency.is_none_or(|wanted| wanted == c))
            .map(|(_, amount)| amount)
            .collect())
    }

    /// Keeps the ledger up to date with a payment just stored. `start_ledger`:
    /// a booking that had no payment gets a ledger of this one (see
    /// `PaymentRow::starts_ledger`).
    fn note_stored_payment(&self, p: &NewPayment, outcome: PaymentOutcome, start_ledger: bool) {
        let Some(booking_id) = p.booking_id else {
            return;
        };
        let mut cache = self.cache.borrow_mut();
        let cache = &mut *cache;
        // A booking known to have had no payment has exactly this one now.
        let had_none = cache
            .paid_bookings
            .as_mut()
            .is_some_and(|paid| paid.insert(booking_id));
        if had_none && start_ledger {
            cache.received.insert(booking_id, Vec::new());
        }
        if let Some(rows) = cache.received.get_mut(&booking_id) {
            if outcome.counts_as_received() {
                rows.push((p.currency.clone(), p.amount_minor));
            }
        }
    }

    /// Forgets the ledger: a stored payment changed its booking, outcome or currency.
    fn forget_ledger(&self) {
        let mut cache = self.cache.borrow_mut();
        cache.received.clear();
        cache.paid_bookings = None;
    }

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
                     description, outcome, imported_at, reference_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?3)
                 ON CONFLICT (provider, external_id) WHERE outcome <> 'conflict' DO NOTHING",
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
                &*self.stamp(now)
            ])?;
        if n == 1 {
            self.note_stored_payment(p, outcome, true);
        }
        Ok(if n == 1 {
            Some(self.conn().last_insert_rowid()?)
        } else {
            None
        })
    }

    /// Stores payments with their outcomes, many rows per INSERT (in the
    /// order given), for pairs the caller knows are not stored yet. A
    /// statement per row rebuilt the outcome CHECK's lookup table and
    /// re-opened every index each time: most of a large import (issue 19).
    /// Fails, so the transaction rolls back, if any pair was stored after all.
    /// Returns the id of the last one stored (of the only one, for one row).
    pub fn insert_new_payments(&self, rows: &[PaymentRow<'_>], now: DateTime<Utc>) -> Result<i64> {
        let stamp = self.stamp(now);
        let now: &str = &stamp;
        for chunk in rows.chunks(PAYMENTS_PER_INSERT) {
            // One text per chunk size: a full chunk's statement is reused.
            let mut stmt = self.conn().prepare_cached(&format!(
                "INSERT INTO payments (provider, external_id, booking_id, amount_minor, currency, paid_at,
                     description, outcome, imported_at, reference_id)
                 VALUES {}
                 ON CONFLICT (provider, external_id) WHERE outcome <> 'conflict' DO NOTHING",
                super::sql::values_rows(10, chunk.len())
            ))?;
            let outcomes: Vec<&'static str> = chunk.iter().map(|r| r.outcome.as_str()).collect();
            let mut params: Vec<&dyn super::value::ToValue> = Vec::with_capacity(chunk.len() * 10);
            for (row, outcome) in chunk.iter().zip(&outcomes) {
                let p = row.payment;
                params.extend_from_slice(&[
                    &p.provider as &dyn super::value::ToValue,
                    &p.external_id,
                    &p.booking_id,
                    &p.amount_minor,
                    &p.currency,
                    &p.paid_at,
                    &p.description,
                    outcome,
                    &now,
                    &p.booking_id,
                ]);
            }
            let n = stmt.execute(params.as_slice())?;
            if n != chunk.len() {
                return Err(PaytrackError::BadInput(match chunk {
                    [one] => format!(
                        "payment {} from {} is already recorded",
                        one.payment.external_id, one.payment.provider
                    ),
                    _ => format!(
                        "{} of {} payments are already recorded; nothing written",
                        chunk.len() - n,
                        chunk.len()
                    ),
                })
                .into());
            }
            for row in chunk {
                self.note_stored_payment(row.payment, row.outcome, row.starts_ledger);
            }
        }
        Ok(self.conn().last_insert_rowid()?)
    }

    /// Whether a booking has kept money, in any currency: the net of what it
    /// received (refunds subtracted) is above zero (see `RECEIVED_OUTCOMES`).
    pub fn has_received_money(&self, booking_id: i64) -> Result<bool> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT currency, amount_minor FROM payments
              WHERE booking_id = ?1 AND outcome IN {RECEIVED_OUTCOMES} ORDER BY currency"
        ))?;
        let rows = stmt
            .query_map(params![booking_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<super::error::Result<Vec<_>>>()?;
        let mut by_currency = std::collections::BTreeMap::<String, Vec<i64>>::new();
        for (currency, amount) in rows {
            by_currency.entry(currency).or_default().push(amount);
        }
        // A sum too large to add up is certainly money received.
        Ok(by_currency
            .into_values()
            .any(|amounts| Money::sum(amounts).is_none_or(Money::is_positive)))
    }

    /// The stored payment (provider, external_id) names (its first version,
    /// never a conflict), with whether it still waits for a person.
    pub fn stored_payment(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<StoredPayment>> {
        // "Open" reads the booking's status in SQL: the bot's rows first.
        self.settle_deferred_statuses()?;
        let open = open_attention_sql();
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, {open} FROM payments p
                  WHERE provider = ?1 AND external_id = ?2 AND outcome <> 'conflict'"
            ))?
            .query_row(params![provider, external_id], |r| {
                Ok(StoredPayment {
                    payment: payment_from_row(r)?,
                    open: r.get(14)?,
                })
            })
            .optional()?)
    }

    /// A stored conflict with exactly this amount, date and booking number
    /// for (provider, external_id) — the same contradiction reported before —
    /// and whether a person has resolved it: (id, resolved).
    pub fn known_conflict(&self, p: &NewPayment) -> Result<Option<(i64, bool)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, resolved_at IS NOT NULL FROM payments
                  WHERE provider = ?1 AND external_id = ?2 AND outcome = 'conflict'
                    AND amount_minor = ?3 AND paid_at IS NOT DISTINCT FROM ?4 AND reference_id IS NOT DISTINCT FROM ?5
                  ORDER BY id LIMIT 1",
            )?
            .query_row(
                params![
                    p.provider,
                    p.external_id,
                    p.amount_minor,
                    p.paid_at,
                    p.booking_id
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// One payment by id, with whether it still waits for a person.
    pub fn payment_by_id(&self, id: i64) -> Result<Option<StoredPayment>> {
        // "Open" reads the booking's status in SQL: the bot's rows first.
        self.settle_deferred_statuses()?;
        let open = open_attention_sql();
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, {open} FROM payments p WHERE id = ?1"
            ))?
            .query_row([id], |r| {
                Ok(StoredPayment {
                    payment: payment_from_row(r)?,
                    open: r.get(14)?,
                })
            })
            .optional()?)
    }

    /// Attaches a stored payment to a booking with a new outcome (`payments assign`).
    pub fn attach_payment(
        &self,
        id: i64,
        booking_id: i64,
        outcome: PaymentOutcome,
        currency: &str,
    ) -> Result<()> {
        self.forget_ledger();
        self.conn()
            .prepare_cached(
                "UPDATE payments SET booking_id = ?2, outcome = ?3, currency = ?4 WHERE id = ?1",
            )?
            .execute(params![id, booking_id, outcome.as_str(), currency])?;
        Ok(())
    }

    /// The id the next stored payment will get (for generated references).
    pub fn next_payment_id(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM payments", [], |r| {
                r.get(0)
            })?)
    }

    /// Marks a payment as handled by a person (`payments resolve`).
    pub fn resolve_payment(&self, id: i64, by: &str, note: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn()
            .prepare_cached(
                "UPDATE payments SET resolved_at = ?2, resolved_by = ?3, resolution_note = ?4 WHERE id = ?1",
            )?
            .execute(params![id, to_storage(now), by, note])?;
        Ok(())
    }

    /// What a booking has received so far in `currency` (see `RECEIVED_OUTCOMES`).
    ///
    /// Added up in Rust with `Money` (128-bit, checked) rather than SQL SUM,
    /// which fails on leaving i64: a booking has a handful of payments.
    pub fn received_total(&self, booking_id: i64, currency: &str) -> Result<Money> {
        self.received_total_without(booking_id, currency, None)
    }

    /// What a booking had received in `currency` before payment `before_id`
    /// (payments with a smaller id): the figure an import's report showed
    /// for that payment when it was stored, computed again on a re-run so
    /// that every run reports the same (issue 25).
    pub fn received_before(
        &self,
        booking_id: i64,
        currency: &str,
        before_id: i64,
    ) -> Result<Money> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT amount_minor FROM payments
              WHERE booking_id = ?1 AND currency = ?2 AND outcome IN {RECEIVED_OUTCOMES}
                AND id < ?3"
        ))?;
        let amounts = stmt
            .query_map(params![booking_id, currency, before_id], |r| {
                r.get::<_, i64>(0)
            })?
            .collect::<super::error::Result<Vec<i64>>>()?;
        Money::sum(amounts)
            .ok_or_else(|| anyhow::anyhow!("booking {booking_id}: payments too large to add up"))
    }

    /// Whether payment (provider, external_id) confirmed booking `booking_id`:
    /// its status change's audit entry names the payment. A re-run's report
    /// says "booking confirmed" where the first run did.
    pub fn payment_confirmed_booking(
        &self,
        booking_id: i64,
        provider: &str,
        external_id: &str,
    ) -> Result<bool> {
        let dialect = self.conn().dialect();
        let n: i64 = self
            .conn()
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM audit_log
                  WHERE booking_id = ?1 AND action = ?2 AND new_value = 'confirmed'
                    AND {} = ?3 AND {} = ?4",
                dialect.json_text("details", "payment_ref"),
                dialect.json_text("details", "provider"),
            ))?
            .query_row(
                params![
                    booking_id,
                    crate::domain::audit::action::STATUS_CHANGED,
                    external_id,
                    provider
                ],
                |r| r.get(0),
            )?;
        Ok(n > 0)
    }

    /// `received_total` leaving one payment out (the one being re-attached).
    pub fn received_total_without(
        &self,
        booking_id: i64,
        currency: &str,
        without_payment: Option<i64>,
    ) -> Result<Money> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT amount_minor FROM payments
              WHERE booking_id = ?1 AND currency = ?2 AND outcome IN {RECEIVED_OUTCOMES}
                AND id IS DISTINCT FROM ?3"
        ))?;
        let amounts = stmt
            .query_map(params![booking_id, currency, without_payment], |r| {
                r.get::<_, i64>(0)
            })?
            .collect::<super::error::Result<Vec<i64>>>()?;
        Money::sum(amounts)
            .ok_or_else(|| anyhow::anyhow!("booking {booking_id}: payments too large to add up"))
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
            .collect::<super::error::Result<_>>()?;
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
            c.push(&open_attention_sql(), vec![]);
        }
        if let Some(since) = &filter.since {
            c.push("paid_at >= ?", vec![Box::new(since.clone())]);
        }
        if let Some(until) = &filter.until {
            c.push("paid_at < ?", vec![Box::new(until.clone())]);
        }
        let mut sql = format!(
            "SELECT {COLUMNS} FROM payments p{} ORDER BY paid_at DESC NULLS LAST, id DESC",
            c.where_clause()
        );
        if let Some(n) = limit {
            c.args.push(Box::new(i64::try_from(n).unwrap_or(i64::MAX)));
            sql += &format!(" LIMIT ?{}", c.args.len());
        }
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt
            .query_map(
                super::sql::params_from_iter(c.args.iter()),
                payment_from_row,
            )?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }
}

/// How one provider's files are read, and how many payments it has sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderSettings {
    pub provider: String,
    /// JSON object: paytrack column → the file's header (`{}` when none).
    pub column_map: String,
    /// The encoding last forced with --encoding; None: detected.
    pub encoding: Option<String>,
    pub updated_at: Option<String>,
    pub payments: i64,
}

fn provider_from_row(r: &super::sql::Row) -> super::error::Result<ProviderSettings> {
    Ok(ProviderSettings {
        provider: r.get(0)?,
        column_map: r
            .get::<_, Option<String>>(1)?
            .unwrap_or_else(|| "{}".into()),
        encoding: r.get(2)?,
        updated_at: r.get(3)?,
        payments: r.get(4)?,
    })
}

const PROVIDER_SQL: &str = "SELECT x.provider, pp.column_map, pp.encoding, pp.updated_at,
            (SELECT COUNT(*) FROM payments p WHERE p.provider = x.provider)
       FROM (SELECT DISTINCT provider FROM payments
             UNION SELECT provider FROM payment_providers) x
       LEFT JOIN payment_providers pp ON pp.provider = x.provider";

impl Db {
    /// What is remembered about one provider.
    pub fn provider_settings(&self, provider: &str) -> Result<Option<ProviderSettings>> {
        Ok(self
            .conn()
            .prepare(&format!("{PROVIDER_SQL} WHERE x.provider = ?1"))?
            .query_row([provider], provider_from_row)
            .optional()?)
    }

    /// Every provider that sent payments or has remembered settings, by name.
    pub fn providers(&self) -> Result<Vec<ProviderSettings>> {
        let mut stmt = self
            .conn()
            .prepare(&format!("{PROVIDER_SQL} ORDER BY x.provider"))?;
        let rows = stmt
            .query_map([], provider_from_row)?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }
}

impl WriteTx<'_> {
    /// Remembers a provider's column map and/or forced encoding (None keeps what was stored).
    pub fn save_provider_settings(
        &self,
        provider: &str,
        column_map_json: Option<&str>,
        encoding: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO payment_providers (provider, column_map, encoding, updated_at)
                 VALUES (?1, COALESCE(?2, '{}'), ?3, ?4)
                 ON CONFLICT (provider) DO UPDATE
                    SET column_map = COALESCE(?2, payment_providers.column_map),
                        encoding = COALESCE(?3, payment_providers.encoding),
                        updated_at = ?4",
            )?
            .execute(params![
                provider,
                column_map_json,
                encoding,
                to_storage(now)
            ])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_outcomes_are_the_ones_that_belong_to_a_booking() {
        for outcome in PaymentOutcome::ALL {
            let received = outcome.counts_as_received();
            assert_eq!(
                RECEIVED_OUTCOMES.contains(&format!("'{}'", outcome.as_str())),
                received,
                "{outcome}"
            );
        }
    }

    /// The CHECK list of the newest `payments` table in schema.sql names
    /// exactly the outcomes of `PaymentOutcome` (so a new outcome cannot be
    /// added on one side only).
    #[test]
    fn schema_check_list_matches_the_outcome_enum() {
        let schema = super::super::migrations::SCHEMA;
        let start = schema
            .rfind("outcome IN (")
            .expect("a CHECK on payments.outcome")
            + "outcome IN (".len();
        let end = start + schema[start..].find(')').unwrap();
        let mut in_schema: Vec<String> = schema[start..end]
            .split(',')
            .map(|n| n.trim().trim_matches('\'').to_string())
            .collect();
        let mut in_enum: Vec<String> = PaymentOutcome::ALL
            .into_iter()
            .map(|o| o.as_str().to_string())
            .collect();
        in_schema.sort();
        in_enum.sort();
        assert_eq!(in_schema, in_enum);
    }
}
