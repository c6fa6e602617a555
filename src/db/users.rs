//! One person across their bookings: who a username is, whether they are
//! blocked, and the audit entries about them.

use super::error::OptionalExtension;
use super::value::params;
use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{Db, WriteTx};
use crate::domain::audit::AuditEntry;
use crate::domain::time::to_storage;

/// Whether paytrack holds anything about the person: a booking of theirs, a
/// block, a message to them or what an import saw of a booking of theirs.
/// The last two outlive a booking the bot deleted (issue 26), and a request
/// to be forgotten must still reach them.
pub(super) fn user_is_known(conn: super::sql::Conn<'_>, user_id: i64) -> Result<bool> {
    Ok(conn.query_row(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM bookings WHERE user_id = ?1)
                 OR EXISTS (SELECT 1 FROM blocked_users WHERE user_id = ?1)
                 OR EXISTS (SELECT 1 FROM outbox WHERE chat_id = ?1)
                 OR EXISTS (SELECT 1 FROM import_state WHERE {} = ?1)",
            conn.dialect().json_integer("fields", "user_id")
        ),
        [user_id],
        |r| r.get(0),
    )?)
}

/// The user id behind a username (the most recent booking's), if any.
fn user_id_for(conn: super::sql::Conn<'_>, username: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT user_id FROM bookings WHERE {} ORDER BY id DESC LIMIT 1",
                conn.dialect().equal_ignoring_case("username", "?1")
            ),
            [username],
            |r| r.get(0),
        )
        .optional()?)
}

impl WriteTx<'_> {
    /// `Db::user_id_for_username` under the write lock.
    pub fn user_id_for_username(&self, username: &str) -> Result<Option<i64>> {
        user_id_for(self.conn(), username)
    }

    /// Whether paytrack knows the person (see `user_is_known`).
    /// `users block 999` for nobody was taken silently (issue 25).
    pub fn user_is_known(&self, user_id: i64) -> Result<bool> {
        user_is_known(self.conn(), user_id)
    }

    /// Holds a student's unsent messages when they are blocked: failed with
    /// the "held … blocked" error (`outbox::HELD_FOR_BLOCK`) that the drain
    /// never claims and `users unblock` queues again, instead of failing at
    /// the next drain, which then exited 10 (issue 25). A message a drain is
    /// sending now is left to it. Returns how many.
    pub fn hold_messages_of(&self, user_id: i64) -> Result<u64> {
        self.forget_pending_messages();
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE outbox SET status = 'failed', last_error = ?2
                  WHERE chat_id = ?1 AND status = 'pending'",
            )?
            .execute(params![user_id, super::outbox::HELD_FOR_BLOCK])?;
        Ok(n as u64)
    }

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
        self.forget_pending_messages();
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
        user_id_for(self.conn(), username)
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

    /// The last `limit` audit entries about a person: their bookings', and
    /// those naming them (block, unblock), oldest first.
    pub fn audit_for_user(&self, user_id: i64, limit: u64) -> Result<Vec<AuditEntry>> {
        let ids: Vec<i64> = self
            .conn()
            .prepare(&format!(
                "SELECT id FROM audit_log
                  WHERE booking_id IN (SELECT id FROM bookings WHERE user_id = ?1)
                     OR (booking_id IS NULL AND {} = ?1)
                  ORDER BY id DESC LIMIT ?2",
                self.conn().dialect().json_integer("details", "user_id")
            ))?
            .query_map(
                params![user_id, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )?
            .collect::<super::error::Result<_>>()?;
        let mut entries = Vec::with_capacity(ids.len());
        for id in ids.into_iter().rev() {
            entries.extend(super::audit::entry_by_id(self.conn(), id)?);
        }
        Ok(entries)
    }
}
