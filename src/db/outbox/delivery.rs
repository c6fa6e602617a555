//! Delivery: a drain claims a due message, sends it outside any transaction,
//! and records the result only if the claim is still its own (see the
//! outbox's module doc).

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{BLOCKED_PG, BLOCKED_SQLITE};
use crate::db::error::OptionalExtension;
use crate::db::value::params;
use crate::db::WriteTx;
use crate::domain::time::to_storage;

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
    /// What the text is rendered from; None for a text frozen when queued.
    #[serde(skip)]
    pub params: Option<String>,
    /// The recipient is in `blocked_users`: do not send.
    #[serde(skip)]
    pub recipient_blocked: bool,
}

impl WriteTx<'_> {
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
        // PostgreSQL: writers already queue on paytrack's advisory lock, and
        // the row lock (SKIP LOCKED) with the status re-checked by the UPDATE
        // keeps two drains off one message even without it.
        let abandoned: Option<i64> = conn
            .prepare_cached(conn.pick(
                "SELECT id FROM outbox WHERE status = 'sending' AND claimed_at <= ?1
                 ORDER BY id LIMIT 1",
                "SELECT id FROM outbox WHERE status = 'sending' AND claimed_at <= ?1
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
            ))?
            .query_row(params![to_storage(abandoned_before)], |r| r.get(0))
            .optional()?;
        let id = match abandoned {
            Some(id) => Some(id),
            // The (status, next_attempt_at) index yields this row first.
            None => conn
                .prepare_cached(conn.pick(
                    "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
                     ORDER BY next_attempt_at, id LIMIT 1",
                    "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
                     ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                ))?
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
                  WHERE id = ?1 AND status IN ('pending', 'sending')
              RETURNING id, booking_id, chat_id, kind, body, attempts, params",
            )?
            .query_row(params![id, claimer, to_storage(now)], |r| {
                Ok(ClaimedMessage {
                    id: r.get(0)?,
                    booking_id: r.get(1)?,
                    chat_id: r.get(2)?,
                    kind: r.get(3)?,
                    body: r.get(4)?,
                    attempts: r.get(5)?,
                    params: r.get(6)?,
                    recipient_blocked: false,
                })
            })?;
        let recipient_blocked = conn
            .prepare_cached(conn.pick(BLOCKED_SQLITE, BLOCKED_PG))?
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
        self.forget_pending_messages();
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
}
