//! Tables that let bookings live in paytrack day after day: what each booking
//! looked like at its last import (`import_state`), field edits, idempotency
//! keys of `bookings add`, and the questions `demo` and `undo` ask.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{Db, WriteTx};
use crate::domain::audit::{action, AuditEntry};
use crate::domain::booking::{search_text, BookingFields};
use crate::domain::time::to_storage;
use crate::domain::Status;

/// A booking as the last import that carried it saw it in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportState {
    pub status: Status,
    /// `BookingFields` as JSON text.
    pub fields: String,
}

impl WriteTx<'_> {
    /// What the last import saw of this booking, if any import carried it.
    pub fn import_state(&self, booking_id: i64) -> Result<Option<ImportState>> {
        let row: Option<(i64, String)> = self
            .conn()
            .prepare_cached("SELECT status, fields FROM import_state WHERE booking_id = ?1")?
            .query_row([booking_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(code, fields)| {
            Status::from_code(code).map(|status| ImportState { status, fields })
        }))
    }

    /// Records what this import saw of the booking.
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
                    SET status = excluded.status, fields = excluded.fields,
                        imported_at = excluded.imported_at",
            )?
            .execute(params![
                booking_id,
                state.status.code(),
                state.fields,
                to_storage(now)
            ])?;
        Ok(())
    }

    /// Sets every field of a booking but its status (the counters follow by
    /// trigger). Returns false when the booking does not exist.
    pub fn update_booking_fields(
        &self,
        id: i64,
        f: &BookingFields,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE bookings SET user_id = ?2, username = ?3, first_name = ?4, course_id = ?5,
                     course_stream = ?6, created_at = ?7, referral_code = ?8,
                     discount_percent = ?9, updated_at = ?10, search_text = ?11
                 WHERE id = ?1",
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
                search_text(f.username.as_deref(), f.first_name.as_deref())
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
        Ok(self.conn().query_row(
            "SELECT COALESCE(SUM(bookings), 0) FROM stream_counters
              WHERE course_id = ?1 AND course_stream = ?2 AND confirmed = 2",
            params![course_id, code],
            |r| r.get(0),
        )?)
    }

    /// Every audit entry of an operation, in order (under the write lock).
    pub fn operation_entries(&self, operation_id: &str) -> Result<Vec<AuditEntry>> {
        operation_entries(self.conn(), operation_id)
    }

    /// Ids of the audit entries about `booking_id` written after entry `after_id`.
    pub fn audit_entries_after(&self, booking_id: i64, after_id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM audit_log WHERE booking_id = ?1 AND id > ?2 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![booking_id, after_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The operation that undid `operation_id`, if one did.
    pub fn undone_by(&self, operation_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT operation_id FROM audit_log
                  WHERE action = ?1 AND json_extract(details, '$.operation') = ?2
                  ORDER BY id DESC LIMIT 1",
                params![action::OPERATION_UNDONE, operation_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Withdraws a queued message that no drain has claimed yet, so it is
    /// never sent. Returns false when it was already claimed, sent or failed.
    ///
    /// The outbox has no `withdrawn` status yet (issue 14 adds one); until
    /// then a withdrawn message is `failed` with the reason as its error.
    pub fn withdraw_message(&self, message_id: i64, why: &str) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE outbox SET status = 'failed', last_error = ?2
                  WHERE id = ?1 AND status = 'pending'",
            )?
            .execute(params![message_id, format!("withdrawn: {why}")])?;
        Ok(n == 1)
    }
}

fn operation_entries(conn: &rusqlite::Connection, operation_id: &str) -> Result<Vec<AuditEntry>> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM audit_log WHERE operation_id = ?1 ORDER BY id")?
        .query_map([operation_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut entries = Vec::with_capacity(ids.len());
    for id in ids {
        entries.extend(super::audit::entry_by_id(conn, id)?);
    }
    Ok(entries)
}

impl Db {
    /// Operation ids that start with `prefix`, a lower-case hex string (at
    /// most a few, to tell an ambiguous prefix from a unique one).
    pub fn operations_matching(&self, prefix: &str) -> Result<Vec<String>> {
        // Every id is lower-case hex, so all that start with the prefix sort
        // below prefix + "g": a range the index answers.
        let mut stmt = self.conn().prepare(
            "SELECT DISTINCT operation_id FROM audit_log
              WHERE operation_id >= ?1 AND operation_id < ?2
              ORDER BY operation_id LIMIT 5",
        )?;
        let rows = stmt
            .query_map([prefix.to_string(), format!("{prefix}g")], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Whether every booking in the database was made by `demo`: the demo
    /// runs' audit entries account for all of them and nothing else ever
    /// imported or added one. Plain SQL inserts are not audited, so the
    /// count must match exactly as well.
    pub fn holds_only_demo_bookings(&self) -> Result<bool> {
        let (demo, other, bookings): (i64, i64, i64) = self.conn().query_row(
            "SELECT
                (SELECT COALESCE(SUM(json_extract(details, '$.bookings')), 0)
                   FROM audit_log WHERE action = ?1),
                (SELECT COUNT(*) FROM audit_log WHERE action IN (?2, ?3)),
                (SELECT COUNT(*) FROM bookings)",
            params![
                action::DEMO_GENERATED,
                action::BOOKINGS_IMPORTED,
                action::BOOKING_ADDED
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(other == 0 && demo == bookings)
    }

    /// Bookings of one person, oldest first.
    pub fn bookings_of_user(&self, user_id: i64) -> Result<Vec<crate::domain::booking::Booking>> {
        self.list_bookings(
            &crate::domain::booking::BookingFilter {
                user: Some(crate::domain::booking::UserRef::Id(user_id)),
                ..Default::default()
            },
            crate::domain::booking::Sort::Oldest,
            None,
            None,
        )
    }

    /// The user id behind a username (the most recent booking's), if any.
    pub fn user_id_for_username(&self, username: &str) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_id FROM bookings WHERE username = ?1 COLLATE NOCASE
                  ORDER BY id DESC LIMIT 1",
                [username],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// When and why a user was blocked, if they are.
    pub fn blocked_user(&self, user_id: i64) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT blocked_at, reason FROM blocked_users WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
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
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every stream code of a course.
    pub fn stream_codes(&self, course_id: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT code FROM streams WHERE course_id = ?1 ORDER BY code")?;
        let rows = stmt
            .query_map([course_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

impl WriteTx<'_> {
    /// Takes a student off `blocked_users`; false if they were not on it.
    pub fn unblock_user(&self, user_id: i64) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached("DELETE FROM blocked_users WHERE user_id = ?1")?
            .execute([user_id])?;
        Ok(n == 1)
    }

    /// Queues again the student's messages that failed because of the block
    /// (the drain's "blocked" errors), due now with fresh attempts. Messages
    /// withdrawn or failed for other reasons stay as they are.
    pub fn requeue_blocked_messages(&self, user_id: i64, now: DateTime<Utc>) -> Result<u64> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2,
                        claimed_by = NULL, claimed_at = NULL
                  WHERE chat_id = ?1 AND status = 'failed'
                    AND last_error LIKE '%blocked%' AND last_error NOT LIKE 'withdrawn:%'",
            )?
            .execute(params![user_id, to_storage(now)])?;
        Ok(n as u64)
    }
}

impl Db {
    /// The last `limit` audit entries about a person: their bookings', and
    /// those naming them (block, unblock), oldest first.
    pub fn audit_for_user(&self, user_id: i64, limit: u64) -> Result<Vec<AuditEntry>> {
        let ids: Vec<i64> = self
            .conn()
            .prepare(
                "SELECT id FROM audit_log
                  WHERE booking_id IN (SELECT id FROM bookings WHERE user_id = ?1)
                     OR (booking_id IS NULL AND json_extract(details, '$.user_id') = ?1)
                  ORDER BY id DESC LIMIT ?2",
            )?
            .query_map(
                params![user_id, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let mut entries = Vec::with_capacity(ids.len());
        for id in ids.into_iter().rev() {
            entries.extend(super::audit::entry_by_id(self.conn(), id)?);
        }
        Ok(entries)
    }
}
