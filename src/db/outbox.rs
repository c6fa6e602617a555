//! The outbox: messages written with the change that causes them, delivered
//! later by `outbox drain`; and the students who blocked the bot.
//!
//! Delivery is claim → send → record. Claiming moves one due message to
//! `sending` under the write lock, with who claimed it and when; the send
//! happens outside any transaction; the result is recorded only if the claim
//! is still ours (compare-and-set on `claimed_by`). A drain that died leaves
//! its claim behind; another drain takes it over once the lease has run out.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Db, WriteTx};
use crate::domain::message::MessageStatus;
use crate::domain::time::to_storage;

/// One queued message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub booking_id: i64,
    pub chat_id: i64,
    pub kind: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<String>,
}

/// A message a drain has claimed and now sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimedMessage {
    pub id: i64,
    pub booking_id: i64,
    pub chat_id: i64,
    pub kind: String,
    pub body: String,
    /// The number of this attempt (1 for the first).
    pub attempts: i64,
    /// The recipient is in `blocked_users`: do not send.
    #[serde(skip)]
    pub recipient_blocked: bool,
}

/// How many messages are in each status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
}

const COLUMNS: &str = "id, booking_id, chat_id, kind, body, status, attempts, next_attempt_at, \
     last_error, created_at, sent_at, claimed_by, claimed_at";

fn message_from_row(r: &rusqlite::Row) -> rusqlite::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.get(0)?,
        booking_id: r.get(1)?,
        chat_id: r.get(2)?,
        kind: r.get(3)?,
        body: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        sent_at: r.get(10)?,
        claimed_by: r.get(11)?,
        claimed_at: r.get(12)?,
    })
}

impl WriteTx<'_> {
    /// Queues a message; returns its id.
    pub fn enqueue_message(
        &self,
        booking_id: i64,
        chat_id: i64,
        kind: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let now = self.stamp(now);
        let now = &*now;
        self.conn()
            .prepare_cached(
                "INSERT INTO outbox (booking_id, chat_id, kind, body, status, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
            )?
            .execute(params![booking_id, chat_id, kind, body, now])?;
        Ok(self.conn().last_insert_rowid())
    }

    /// Claims one message for `claimer`: first a `sending` one whose claim is
    /// older than `abandoned_before` (its drain died), else the pending one
    /// due longest, at or before `due_by`. The claim counts as an attempt, so
    /// a message that kills every drain still ends in `failed`.
    pub fn claim_next_message(
        &self,
        claimer: &str,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        abandoned_before: DateTime<Utc>,
    ) -> Result<Option<ClaimedMessage>> {
        let conn = self.conn();
        let abandoned: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM outbox WHERE status = 'sending' AND claimed_at <= ?1
                 ORDER BY id LIMIT 1",
            )?
            .query_row(params![to_storage(abandoned_before)], |r| r.get(0))
            .optional()?;
        let id = match abandoned {
            Some(id) => Some(id),
            // The (status, next_attempt_at) index yields this row first.
            None => conn
                .prepare_cached(
                    "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
                     ORDER BY next_attempt_at, id LIMIT 1",
                )?
                .query_row(params![to_storage(due_by)], |r| r.get(0))
                .optional()?,
        };
        let Some(id) = id else {
            return Ok(None);
        };
        let claimed = conn
            .prepare_cached(
                "UPDATE outbox
                    SET status = 'sending', claimed_by = ?2, claimed_at = ?3, attempts = attempts + 1
                  WHERE id = ?1
              RETURNING id, booking_id, chat_id, kind, body, attempts",
            )?
            .query_row(params![id, claimer, to_storage(now)], |r| {
                Ok(ClaimedMessage {
                    id: r.get(0)?,
                    booking_id: r.get(1)?,
                    chat_id: r.get(2)?,
                    kind: r.get(3)?,
                    body: r.get(4)?,
                    attempts: r.get(5)?,
                    recipient_blocked: false,
                })
            })?;
        let recipient_blocked = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM blocked_users WHERE user_id = ?1)")?
            .query_row(params![claimed.chat_id], |r| r.get(0))?;
        Ok(Some(ClaimedMessage {
            recipient_blocked,
            ..claimed
        }))
    }

    /// Records a delivery. False when the claim is no longer `claimer`'s.
    pub fn mark_message_sent(&self, id: i64, claimer: &str, now: DateTime<Utc>) -> Result<bool> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE outbox SET status = 'sent', sent_at = ?3, last_error = NULL
                  WHERE id = ?1 AND status = 'sending' AND claimed_by = ?2",
            )?
            .execute(params![id, claimer, to_storage(now)])?;
        Ok(changed == 1)
    }

    /// Puts a claimed message back in the queue, due at `next_attempt_at`,
    /// with `attempts` as its attempt count. False when the claim is no longer ours.
    pub fn mark_message_for_retry(
        &self,
        id: i64,
        claimer: &str,
        attempts: i64,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<bool> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE outbox
                    SET status = 'pending', attempts = ?3, next_attempt_at = ?4,
                        last_error = COALESCE(?5, last_error), claimed_by = NULL, claimed_at = NULL
                  WHERE id = ?1 AND status = 'sending' AND claimed_by = ?2",
            )?
            .execute(params![
                id,
                claimer,
                attempts,
                to_storage(next_attempt_at),
                error
            ])?;
        Ok(changed == 1)
    }

    /// Gives up on a claimed message. False when the claim is no longer ours.
    pub fn mark_message_failed(&self, id: i64, claimer: &str, error: &str) -> Result<bool> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE outbox SET status = 'failed', last_error = ?3
                  WHERE id = ?1 AND status = 'sending' AND claimed_by = ?2",
            )?
            .execute(params![id, claimer, error])?;
        Ok(changed == 1)
    }

    /// Adds a student to `blocked_users`; false if they were already there.
    pub fn block_user(&self, user_id: i64, now: DateTime<Utc>, reason: &str) -> Result<bool> {
        let inserted = self
            .conn()
            .prepare_cached(
                "INSERT INTO blocked_users (user_id, blocked_at, reason) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO NOTHING",
            )?
            .execute(params![user_id, to_storage(now), reason])?;
        Ok(inserted == 1)
    }
}

impl Db {
    /// Messages, optionally of one status, oldest first.
    pub fn outbox_messages(
        &self,
        status: Option<&str>,
        booking_id: Option<i64>,
    ) -> Result<Vec<OutboxMessage>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR booking_id = ?2) ORDER BY id"
        ))?;
        let rows = stmt
            .query_map(params![status, booking_id], message_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The newest messages (of one status, if given), newest first; all of them without a limit.
    pub fn recent_messages(
        &self,
        status: Option<MessageStatus>,
        limit: Option<u64>,
    ) -> Result<Vec<OutboxMessage>> {
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![status.map(|s| s.name()), limit], message_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// How many messages are in each status.
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        let mut counts = OutboxCounts::default();
        let mut stmt = self
            .conn()
            .prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let status: String = row.get(0)?;
            let n: i64 = row.get(1)?;
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "pending" => counts.pending = n,
                "sending" => counts.sending = n,
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Like `Db::write`, but commits even after Ctrl-C. A drain records a send
    /// that already happened this way: rolling that back would leave the
    /// message claimed, and it would be sent a second time after the lease.
    pub fn write_delivery_result<T>(
        &mut self,
        work: impl FnOnce(&WriteTx) -> Result<T>,
    ) -> Result<T> {
        self.write_transaction(work, false)
    }
}
