//! Bookings that live in paytrack day after day: what each booking looked
//! like at its last import (`import_state`), field edits, idempotency keys of
//! `bookings add`, seats and catalogue names for placing a booking, and
//! whether a database holds only demo data.

use super::error::OptionalExtension;
use super::value::params;
use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{Db, WriteTx};
use crate::domain::audit::action;
use std::collections::HashMap;

use crate::domain::booking::{search_text, Booking, BookingFields};
use crate::domain::time::to_storage;
use crate::domain::Status;

/// A booking as the last import that carried it saw it in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportState {
    pub status: Status,
    /// `BookingFields` as JSON text.
    pub fields: String,
}

/// An import's read-ahead: per booking id asked for, the booking (None: no
/// such booking) with its erasure mark, and its last import state.
#[derive(Default)]
pub(super) struct Prefetched {
    pub(super) bookings: HashMap<i64, Option<(Booking, bool)>>,
    pub(super) states: HashMap<i64, Option<ImportState>>,
}

impl WriteTx<'_> {
    /// Reads ahead, in two queries, what applying the file rows of `ids`
    /// asks for one id at a time (`booking`, `booking_is_erased`,
    /// `import_state`). Only on PostgreSQL, where each of those is a round
    /// trip; on SQLite they are cheaper than the bookkeeping.
    pub fn prefetch_for_import(&self, ids: &[i64]) -> Result<()> {
        if !self.conn().is_postgres() || ids.is_empty() {
            return Ok(());
        }
        let mut prefetched = Prefetched::default();
        for id in ids {
            prefetched.bookings.insert(*id, None);
            prefetched.states.insert(*id, None);
        }
        let list = (1..=ids.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        for (booking, erased) in super::bookings::bookings_by_ids(self.conn(), ids, &list)? {
            prefetched
                .bookings
                .insert(booking.id, Some((booking, erased)));
        }
        let mut stmt = self.conn().prepare(&format!(
            "SELECT booking_id, status, fields FROM import_state WHERE booking_id IN ({list})"
        ))?;
        let rows = stmt.query_map(super::sql::params_from_iter(ids.iter()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, code, fields) = row?;
            let state = Status::from_code(code).map(|status| ImportState { status, fields });
            prefetched.states.insert(id, state);
        }
        self.cache.borrow_mut().prefetched = Some(prefetched);
        Ok(())
    }

    /// Drops what `prefetch_for_import` read and nobody asked for.
    pub fn forget_prefetched(&self) {
        self.cache.borrow_mut().prefetched = None;
    }

    /// The prefetched booking `id` (Some(None): known not to exist), taken
    /// out so a second read (after this transaction changed it) goes to the
    /// database.
    pub(super) fn take_prefetched_booking(&self, id: i64) -> Option<Option<(Booking, bool)>> {
        let mut cache = self.cache.borrow_mut();
        let prefetched = cache.prefetched.as_mut()?;
        let entry = prefetched.bookings.get_mut(&id)?;
        // The erasure mark is read right after; keep it, drop the booking.
        Some(entry.as_mut().map(|(b, erased)| (b.clone(), *erased)))
    }

    /// What the last import saw of this booking, if any import carried it.
    pub fn import_state(&self, booking_id: i64) -> Result<Option<ImportState>> {
        if let Some(state) = self
            .cache
            .borrow_mut()
            .prefetched
            .as_mut()
            .and_then(|p| p.states.remove(&booking_id))
        {
            return Ok(state);
        }
        let row: Option<(i64, String)> = self
            .conn()
            .prepare_cached("SELECT status, fields FROM import_state WHERE booking_id = ?1")?
            .query_row([booking_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(code, fields)| {
            Status::from_code(code).map(|status| ImportState { status, fields })
        }))
    }

    /// The bookings whose import state holds `fields` exactly: the ids a
    /// person settled as given twice by the file (`services::sync::DUPLICATE_SETTLED`).
    pub fn ids_with_import_fields(&self, fields: &str) -> Result<std::collections::BTreeSet<i64>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT booking_id FROM import_state WHERE fields = ?1")?;
        let ids = stmt
            .query_map([fields], |r| r.get(0))?
            .collect::<super::error::Result<_>>()?;
        Ok(ids)
    }

    /// Whether `users erase` or `retention apply` pseudonymised the booking:
    /// an import then keeps the pseudonym instead of the file's names.
    pub fn booking_is_erased(&self, booking_id: i64) -> Result<bool> {
        if let Some(entry) = self
            .cache
            .borrow_mut()
            .prefetched
            .as_mut()
            .and_then(|p| p.bookings.remove(&booking_id))
        {
            return Ok(entry.is_some_and(|(_, erased)| erased));
        }
        super::bookings::booking_is_erased(self.conn(), booking_id)
    }

    /// Records what this import saw of the booking. `imported_at` stays the
    /// first import's time: when paytrack first knew the booking, the age
    /// stale-cancel and reminders count from (issue 25).
    pub fn record_import_state(
        &self,
        booking_id: i64,
        state: &ImportState,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO import_state (booking_id, status, fields, imported_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (booking_id) DO UPDATE
                    SET status = excluded.status, fields = excluded.fields",
            )?
            .execute(params![
                booking_id,
                state.status.code(),
                state.fields,
                to_storage(now)
            ])?;
        Ok(())
    }

    /// For a booking imported before paytrack kept import states: its status
    /// before paytrack first changed it by other means than an import (a
    /// payment, an admin), read from the audit log. That is what the file
    /// said when it was imported, unless the import itself changed it since.
    pub fn status_before_first_local_change(&self, booking_id: i64) -> Result<Option<Status>> {
        let old: Option<String> = self
            .conn()
            .prepare_cached(&format!(
                "SELECT old_value FROM audit_log
                  WHERE booking_id = ?1 AND action = ?2
                    AND COALESCE({}, '') <> 'bookings import'
                  ORDER BY id LIMIT 1",
                self.conn().dialect().json_text("details", "source")
            ))?
            .query_row(params![booking_id, action::STATUS_CHANGED], |r| r.get(0))
            .optional()?;
        Ok(old.and_then(|name| name.parse().ok()))
    }

    /// Records the import state of bookings that have none yet (new ones),
    /// several rows per statement.
    pub fn record_new_import_states(
        &self,
        states: &[(i64, &ImportState)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let stamp = to_storage(now);
        for chunk in states.chunks(64) {
            let sql = format!(
                "INSERT INTO import_state (booking_id, status, fields, imported_at) VALUES {}",
                super::sql::values_rows(4, chunk.len())
            );
            let mut stmt = self.conn().prepare_cached(&sql)?;
            let mut index = 0;
            let mut bind = |value: &dyn super::value::ToValue| -> super::error::Result<()> {
                index += 1;
                stmt.raw_bind_parameter(index, value)
            };
            for (id, state) in chunk {
                bind(id)?;
                bind(&state.status.code())?;
                bind(&state.fields)?;
                bind(&stamp)?;
            }
            stmt.raw_execute()?;
        }
        Ok(())
    }

    /// Sets every field of a booking but its status (the counters follow by
    /// trigger), compare-and-set: only while the row still holds `old`, the
    /// fields the caller read. Returns false when it does not (or the
    /// booking is gone): on PostgreSQL the bot may have written the row
    /// since, and overwriting (or silently missing) its change is a lost
    /// race the caller must report (issue 26). The view's write function
    /// compares the changed columns again against the live row.
    pub fn update_booking_fields(
        &self,
        id: i64,
        old: &BookingFields,
        f: &BookingFields,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE bookings SET user_id = ?2, username = ?3, first_name = ?4, course_id = ?5,
                     course_stream = ?6, created_at = ?7, referral_code = ?8,
                     discount_percent = ?9, updated_at = ?10, search_text = ?11
                 WHERE id = ?1 AND user_id IS NOT DISTINCT FROM ?12
                   AND username IS NOT DISTINCT FROM ?13 AND first_name IS NOT DISTINCT FROM ?14
                   AND course_id IS NOT DISTINCT FROM ?15 AND course_stream IS NOT DISTINCT FROM ?16
                   AND created_at IS NOT DISTINCT FROM ?17 AND referral_code IS NOT DISTINCT FROM ?18
                   AND discount_percent IS NOT DISTINCT FROM ?19",
            )?
            .execute(params![
                id,
                f.user_id,
                f.username,
                f.first_name,
                f.course_id,
                f.course_stream,
                f.created_at,
                f.referral_code,
                f.discount_percent,
                to_storage(now),
                search_text(f.username.as_deref(), f.first_name.as_deref()),
                old.user_id,
                old.username,
                old.first_name,
                old.course_id,
                old.course_stream,
                old.created_at,
                old.referral_code,
                old.discount_percent,
            ])?;
        Ok(n == 1)
    }

    /// The booking an idempotency key already made, if any.
    pub fn booking_for_key(&self, key: &str) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT booking_id FROM booking_keys WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Remembers which booking a key made.
    pub fn record_booking_key(&self, key: &str, booking_id: i64, now: DateTime<Utc>) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO booking_keys (key, booking_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![key, booking_id, to_storage(now)])?;
        Ok(())
    }

    /// Confirmed bookings in a stream (seats taken), read under the write lock.
    pub fn seats_taken(&self, course_id: i64, code: &str) -> Result<i64> {
        // The counters follow the bot's rows: write the deferred ones first.
        self.settle_deferred_statuses()?;
        Ok(self.conn().query_row(
            "SELECT COALESCE(SUM(bookings), 0) FROM stream_counters
              WHERE course_id = ?1 AND course_stream = ?2 AND confirmed = 2",
            params![course_id, code],
            |r| r.get(0),
        )?)
    }
}

impl Db {
    /// Whether every booking in the database was made by `demo`: the demo
    /// runs' audit entries account for all of them and nothing else ever
    /// imported or added one. Plain SQL inserts are not audited, so the
    /// count must match exactly as well.
    pub fn holds_only_demo_bookings(&self) -> Result<bool> {
        let (demo, other, bookings): (i64, i64, i64) = self.conn().query_row(
            &format!(
                "SELECT
                    (SELECT COALESCE(SUM({}), 0) FROM audit_log WHERE action = ?1),
                    (SELECT COUNT(*) FROM audit_log WHERE action IN (?2, ?3)),
                    (SELECT COUNT(*) FROM bookings)",
                self.conn().dialect().json_integer("details", "bookings")
            ),
            params![
                action::DEMO_GENERATED,
                action::BOOKINGS_IMPORTED,
                action::BOOKING_ADDED
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(other == 0 && demo == bookings)
    }
}

impl WriteTx<'_> {
    /// Every course id and name, for naming the closest one to a typo.
    pub fn course_names(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT id, name FROM courses ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }

    /// Every stream code of a course.
    pub fn stream_codes(&self, course_id: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT code FROM streams WHERE course_id = ?1 ORDER BY code")?;
        let rows = stmt
            .query_map([course_id], |r| r.get(0))?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }
}
