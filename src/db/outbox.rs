//! The outbox: messages written with the change that causes them, delivered later.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{Db, WriteTx};
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
}

const COLUMNS: &str =
    "id, booking_id, chat_id, kind, body, status, attempts, next_attempt_at, last_error, created_at, sent_at";

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
        let now = to_storage(now);
        self.conn()
            .prepare_cached(
                "INSERT INTO outbox (booking_id, chat_id, kind, body, status, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
            )?
            .execute(params![booking_id, chat_id, kind, body, now])?;
        Ok(self.conn().last_insert_rowid())
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
}
