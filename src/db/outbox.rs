//! The outbox: messages written with the change that causes them, delivered
//! later by `outbox drain`; and the students who blocked the bot.
//!
//! Delivery is claim → send → record. Claiming moves one due message to
//! `sending` under the write lock, with who claimed it and when; the send
//! happens outside any transaction; the result is recorded only if the claim
//! is still ours (compare-and-set on `claimed_by`). A drain that died leaves
//! its claim behind; another drain takes it over once the lease has run out.

use super::error::OptionalExtension;
use super::value::params;
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

mod delivery;

pub use delivery::ClaimedMessage;

use super::{Db, WriteTx};
use crate::domain::booking::Booking;
pub use crate::domain::message::OutboxMessage;
use crate::domain::message::{MessageKind, MessageStatus};
use crate::domain::money::Money;
use crate::domain::time::to_storage;

/// Whether a student is on paytrack's blocked list; on PostgreSQL also on
/// the bot's own `public.blocked_users` (schema.pg.sql, migration 3).
const BLOCKED_SQLITE: &str = "SELECT EXISTS (SELECT 1 FROM blocked_users WHERE user_id = ?1)";
const BLOCKED_PG: &str = "SELECT EXISTS (SELECT 1 FROM blocked_users WHERE user_id = ?1)
                              OR paytrack.blocked_by_bot(?1)";

/// A message to queue.
#[derive(Debug, Clone, Default)]
pub struct NewMessage<'a> {
    pub booking_id: i64,
    pub chat_id: i64,
    pub kind: &'a str,
    /// The text as rendered now (a preview until it is sent).
    pub body: &'a str,
    /// What the text is rendered from at send time (JSON).
    pub params: &'a str,
    /// Unique across the outbox: a second message with the same key is not queued.
    pub dedupe_key: Option<&'a str>,
}

/// Messages per INSERT (`enqueue_messages`, 8 values each).
const MESSAGES_PER_INSERT: usize = 128;

/// How many messages are in each status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
    pub withdrawn: u64,
    pub cancelled: u64,
}

impl OutboxCounts {
    pub fn of(&self, status: MessageStatus) -> u64 {
        match status {
            MessageStatus::Pending => self.pending,
            MessageStatus::Sending => self.sending,
            MessageStatus::Sent => self.sent,
            MessageStatus::Failed => self.failed,
            MessageStatus::Withdrawn => self.withdrawn,
            MessageStatus::Cancelled => self.cancelled,
        }
    }

    pub fn total(&self) -> u64 {
        MessageStatus::ALL.iter().map(|&s| self.of(s)).sum()
    }
}

/// Which messages `outbox list` and `outbox cancel` select; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<MessageStatus>,
    pub kind: Option<MessageKind>,
    pub booking_id: Option<i64>,
    /// The recipient (Telegram user id).
    pub chat_id: Option<i64>,
    /// (course, stream code) of the message's booking.
    pub stream: Option<(i64, String)>,
}

/// What rendering a booking's message needs, read in one place.
#[derive(Debug, Clone)]
pub struct MessageFacts {
    pub booking: Booking,
    pub course_name: Option<String>,
    pub stream_name: Option<String>,
    pub chat_link: Option<String>,
    pub price_minor: Option<i64>,
    pub currency: Option<String>,
    /// Received so far in the stream's currency.
    pub received_minor: i64,
    /// The course's template for the kind asked for, if it has one.
    pub template: Option<String>,
}

/// The last error of a message held because its student is blocked
/// (`users unblock` looks for "blocked" in it).
pub const HELD_FOR_BLOCK: &str =
    "held: the student blocked the bot; `paytrack users unblock` queues it again";

const COLUMNS: &str = "id, booking_id, chat_id, kind, body, status, attempts, next_attempt_at, \
     last_error, created_at, sent_at, claimed_by, claimed_at, params, dedupe_key";

fn message_from_row(r: &super::sql::Row) -> super::error::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.get(0)?,
        booking_id: r.get(1)?,
        chat_id: r.get(2)?,
        kind: r.get(3)?,
        body: r.get(4)?,
        // The CHECK list keeps other values out; a hand-edited file gets a clear error.
        status: {
            let name: String = r.get(5)?;
            MessageStatus::from_name(&name).ok_or_else(|| {
                super::error::Error::invalid_column(5, format!("invalid message status '{name}'"))
            })?
        },
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        sent_at: r.get(10)?,
        claimed_by: r.get(11)?,
        claimed_at: r.get(12)?,
        params: r.get(13)?,
        dedupe_key: r.get(14)?,
    })
}

/// See `MessageFacts`; shared by reads and writes (rendering at send time).
fn message_facts(
    conn: super::sql::Conn<'_>,
    booking_id: i64,
    kind: MessageKind,
) -> Result<Option<MessageFacts>> {
    let Some(booking) = super::bookings::booking_by_id(conn, booking_id)? else {
        return Ok(None);
    };
    let catalogue = message_catalogue(
        conn,
        booking.course_id,
        booking.course_stream.as_deref(),
        kind,
    )?;
    let amounts = conn
        .prepare_cached(&format!(
            "SELECT amount_minor FROM payments
              WHERE booking_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR currency = ?2)
                AND outcome IN {}",
            super::payments::RECEIVED_OUTCOMES
        ))?
        .query_map(params![booking.id, catalogue.currency], |r| {
            r.get::<_, i64>(0)
        })?
        .collect::<super::error::Result<Vec<i64>>>()?;
    Ok(Some(catalogue.facts(booking, amounts)))
}

/// What a message's text takes from the catalogue: the same for every
/// booking of a (course, stream), so a write transaction reads it once per
/// (course, stream, kind) — a payments import queues thousands (issue 19).
#[derive(Debug, Clone)]
pub(super) struct MessageCatalogue {
    course_name: Option<String>,
    stream_name: Option<String>,
    chat_link: Option<String>,
    price_minor: Option<i64>,
    currency: Option<String>,
    template: Option<String>,
}

impl MessageCatalogue {
    /// The facts for `booking`, given the amounts it received (in the
    /// stream's currency, or all of them when the stream has none).
    fn facts(self, booking: Booking, amounts: Vec<i64>) -> MessageFacts {
        // Added up in Rust with `Money` (checked), as `received_total` does: SQL's
        // SUM fails on leaving i64, and a drain must not die on odd payment data.
        let received_minor = Money::sum(amounts).map_or(i64::MAX, Money::clamped_i64);
        MessageFacts {
            booking,
            course_name: self.course_name,
            stream_name: self.stream_name,
            chat_link: self.chat_link,
            price_minor: self.price_minor,
            currency: self.currency,
            received_minor,
            template: self.template,
        }
    }
}

fn message_catalogue(
    conn: super::sql::Conn<'_>,
    course_id: i64,
    stream_code: Option<&str>,
    kind: MessageKind,
) -> Result<MessageCatalogue> {
    let course = super::catalogue::course_by_id(conn, course_id)?;
    let stream = match stream_code {
        Some(code) => super::catalogue::stream_by_code(conn, course_id, code)?,
        None => None,
    };
    let chat_link: Option<String> = match stream_code {
        Some(code) => conn
            .prepare_cached("SELECT chat_link FROM streams WHERE course_id = ?1 AND code = ?2")?
            .query_row(params![course_id, code], |r| r.get(0))
            .optional()?
            .flatten(),
        None => None,
    };
    let template = match kind {
        MessageKind::Confirmation => course.as_ref().and_then(|c| c.message_template.clone()),
        _ => conn
            .prepare_cached(
                "SELECT body FROM message_templates WHERE course_id = ?1 AND kind = ?2",
            )?
            .query_row(params![course_id, kind.name()], |r| r.get(0))
            .optional()?,
    };
    Ok(MessageCatalogue {
        course_name: course.map(|c| c.name),
        stream_name: stream.as_ref().and_then(|s| s.name.clone()),
        price_minor: stream.as_ref().and_then(|s| s.price_minor),
        currency: stream.and_then(|s| s.currency),
        chat_link,
        template,
    })
}

/// The WHERE clause and arguments of a `MessageFilter` (over `outbox o`
/// joined with `bookings b`); values are always parameters.
fn filter_sql(f: &MessageFilter) -> (String, Vec<Box<dyn super::value::ToValue>>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Box<dyn super::value::ToValue>> = Vec::new();
    let mut push = |clause: &str, value: Box<dyn super::value::ToValue>| {
        args.push(value);
        clauses.push(clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(s) = f.status {
        push("o.status = ?", Box::new(s.name()));
    }
    if let Some(k) = f.kind {
        push("o.kind = ?", Box::new(k.name()));
    }
    if let Some(b) = f.booking_id {
        push("o.booking_id = ?", Box::new(b));
    }
    if let Some(c) = f.chat_id {
        push("o.chat_id = ?", Box::new(c));
    }
    if let Some((course, code)) = &f.stream {
        push("b.course_id = ?", Box::new(*course));
        if code.is_empty() {
            clauses.push("b.course_stream IS NULL".to_string());
        } else {
            push("b.course_stream = ?", Box::new(code.clone()));
        }
    }
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (clause, args)
}

/// `COLUMNS` qualified with the `o` alias.
fn qualified_columns() -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("o.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl WriteTx<'_> {
    /// Queues a message; returns its id, or None when its `dedupe_key` is already queued.
    pub fn enqueue_message(&self, m: &NewMessage, now: DateTime<Utc>) -> Result<Option<i64>> {
        let now = self.stamp(now);
        let now = &*now;
        let inserted = self
            .conn()
            .prepare_cached(
                "INSERT INTO outbox (booking_id, chat_id, kind, body, params, dedupe_key, status,
                                     next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)
                 ON CONFLICT (dedupe_key) DO NOTHING",
            )?
            .execute(params![
                m.booking_id,
                m.chat_id,
                m.kind,
                m.body,
                m.params,
                m.dedupe_key,
                now
            ])?;
        if inserted == 1 {
            if let Some(pending) = self.cache.borrow_mut().pending_messages.as_mut() {
                pending.insert(m.booking_id);
            }
        }
        Ok(if inserted == 1 {
            Some(self.conn().last_insert_rowid()?)
        } else {
            None
        })
    }

    /// Queues messages without dedupe keys, at most one per booking, many
    /// rows per INSERT; returns each booking's message id.
    pub fn enqueue_messages(
        &self,
        messages: &[NewMessage<'_>],
        now: DateTime<Utc>,
    ) -> Result<rustc_hash::FxHashMap<i64, i64>> {
        let now = self.stamp(now);
        let now: &str = &now;
        let mut ids = rustc_hash::FxHashMap::default();
        for chunk in messages.chunks(MESSAGES_PER_INSERT) {
            let mut stmt = self.conn().prepare_cached(&format!(
                "INSERT INTO outbox (booking_id, chat_id, kind, body, params, status,
                                     next_attempt_at, created_at)
                 VALUES {}
                 RETURNING booking_id, id",
                super::sql::values_rows(8, chunk.len())
            ))?;
            let mut params: Vec<&dyn super::value::ToValue> = Vec::with_capacity(chunk.len() * 8);
            for m in chunk {
                debug_assert!(m.dedupe_key.is_none());
                params.extend_from_slice(&[
                    &m.booking_id as &dyn super::value::ToValue,
                    &m.chat_id,
                    &m.kind,
                    &m.body,
                    &m.params,
                    &"pending",
                    &now,
                    &now,
                ]);
            }
            // RETURNING gives its rows in no promised order: keyed by booking.
            let mut rows = stmt.query(params.as_slice())?;
            while let Some(row) = rows.next()? {
                let booking_id: i64 = row.get(0)?;
                if ids.insert(booking_id, row.get(1)?).is_some() {
                    anyhow::bail!("internal: two messages for booking {booking_id} in one batch");
                }
            }
        }
        if let Some(pending) = self.cache.borrow_mut().pending_messages.as_mut() {
            pending.extend(messages.iter().map(|m| m.booking_id));
        }
        Ok(ids)
    }

    /// Reads which bookings have an unsent message, in one pass over
    /// the pending queue, for the rest of this transaction (kept up to date
    /// by the writes that make a message pending): a payments import then
    /// runs no withdrawal UPDATE for the thousands of bookings with nothing
    /// to withdraw (issue 19).
    pub fn learn_pending_messages(&self) -> Result<()> {
        let mut stmt = self
            .conn()
            .prepare("SELECT booking_id FROM outbox WHERE status = 'pending'")?;
        let mut rows = stmt.query([])?;
        let mut pending = rustc_hash::FxHashSet::default();
        while let Some(row) = rows.next()? {
            pending.insert(row.get::<_, i64>(0)?);
        }
        self.cache.borrow_mut().pending_messages = Some(pending);
        Ok(())
    }

    /// Forgets which messages are pending: a write made some pending again.
    pub(super) fn forget_pending_messages(&self) {
        self.cache.borrow_mut().pending_messages = None;
    }

    /// Moves the unsent (`pending`) messages of `kind` for a booking to
    /// `status` (withdrawn or cancelled), with `reason` as their last error;
    /// returns their ids. A message a drain is sending now is left alone.
    pub fn stop_pending_for_booking(
        &self,
        booking_id: i64,
        kind: MessageKind,
        status: MessageStatus,
        reason: &str,
    ) -> Result<Vec<i64>> {
        if self
            .cache
            .borrow()
            .pending_messages
            .as_ref()
            .is_some_and(|pending| !pending.contains(&booking_id))
        {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn().prepare_cached(
            "UPDATE outbox SET status = ?3, last_error = ?4
              WHERE booking_id = ?1 AND kind = ?2 AND status = 'pending'
          RETURNING id",
        )?;
        let mut ids = stmt
            .query_map(
                params![booking_id, kind.name(), status.name(), reason],
                |r| r.get::<_, i64>(0),
            )?
            .collect::<super::error::Result<Vec<_>>>()?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// Cancels one message if it is pending or failed; returns its status before.
    pub fn cancel_message(&self, id: i64, reason: &str) -> Result<Option<String>> {
        let before: Option<String> = self
            .conn()
            .prepare_cached("SELECT status FROM outbox WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if matches!(before.as_deref(), Some("pending" | "failed")) {
            self.conn()
                .prepare_cached(
                    "UPDATE outbox SET status = 'cancelled', last_error = ?2 WHERE id = ?1",
                )?
                .execute(params![id, reason])?;
        }
        Ok(before)
    }

    /// Puts a failed (or cancelled, withdrawn) message back in the queue,
    /// due now, with its attempts counted from zero again.
    pub fn requeue_message(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        self.forget_pending_messages();
        self.conn()
            .prepare_cached(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2,
                        claimed_by = NULL, claimed_at = NULL
                  WHERE id = ?1",
            )?
            .execute(params![id, to_storage(now)])?;
        Ok(())
    }

    /// Stores the text a claimed message is sent with (rendered at send time).
    pub fn set_message_body(&self, id: i64, body: &str) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE outbox SET body = ?2 WHERE id = ?1")?
            .execute(params![id, body])?;
        Ok(())
    }

    /// When the last message of `kind` for a booking was queued (withdrawn
    /// and cancelled ones do not count), and whether one is still unsent.
    pub fn last_message_of_kind(
        &self,
        booking_id: i64,
        kind: MessageKind,
    ) -> Result<(Option<String>, bool)> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT MAX(created_at), COALESCE(MAX(CASE WHEN status IN ('pending', 'sending') THEN 1 ELSE 0 END), 0)
                   FROM outbox
                  WHERE booking_id = ?1 AND kind = ?2 AND status NOT IN ('withdrawn', 'cancelled')",
            )?
            .query_row(params![booking_id, kind.name()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?)
    }

    /// Whether the student blocked the bot (on PostgreSQL: or the bot's own
    /// `public.blocked_users` lists them, issue 26).
    pub fn user_blocked(&self, user_id: i64) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached(self.conn().pick(BLOCKED_SQLITE, BLOCKED_PG))?
            .query_row(params![user_id], |r| r.get(0))?)
    }

    /// Whether a message of `kind` to this booking's student was delivered.
    pub fn message_was_sent(&self, booking_id: i64, kind: MessageKind) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM outbox
                                 WHERE booking_id = ?1 AND kind = ?2 AND status = 'sent')",
            )?
            .query_row(params![booking_id, kind.name()], |r| r.get(0))?)
    }

    pub fn message(&self, id: i64) -> Result<Option<OutboxMessage>> {
        message_by_id(self.conn(), id)
    }

    pub fn message_facts(
        &self,
        booking_id: i64,
        kind: MessageKind,
    ) -> Result<Option<MessageFacts>> {
        match self.booking(booking_id)? {
            Some(booking) => self.message_facts_of(booking, kind).map(Some),
            None => Ok(None),
        }
    }

    /// `message_facts` for a booking the caller read in this transaction:
    /// the catalogue side comes from this transaction's cache (forgotten on
    /// any catalogue write), the amounts received from its payments ledger.
    pub fn message_facts_of(&self, booking: Booking, kind: MessageKind) -> Result<MessageFacts> {
        let key = (
            booking.course_id,
            booking.course_stream.clone(),
            kind.name(),
        );
        let cached = self.cache.borrow().message_catalogues.get(&key).cloned();
        let catalogue = match cached {
            Some(catalogue) => catalogue,
            None => {
                let catalogue = message_catalogue(
                    self.conn(),
                    booking.course_id,
                    booking.course_stream.as_deref(),
                    kind,
                )?;
                self.cache
                    .borrow_mut()
                    .message_catalogues
                    .insert(key, catalogue.clone());
                catalogue
            }
        };
        let amounts = self.received_amounts(booking.id, catalogue.currency.as_deref())?;
        Ok(catalogue.facts(booking, amounts))
    }

    /// The ids of the messages a filter selects, oldest first.
    pub fn message_ids(&self, filter: &MessageFilter) -> Result<Vec<i64>> {
        let (clause, args) = filter_sql(filter);
        let mut stmt = self.conn().prepare(&format!(
            "SELECT o.id FROM outbox o JOIN bookings b ON b.id = o.booking_id{clause} ORDER BY o.id"
        ))?;
        let ids = stmt
            .query_map(super::sql::params_from_iter(args.iter()), |r| r.get(0))?
            .collect::<super::error::Result<_>>()?;
        Ok(ids)
    }

    /// Of the messages just queued (`queued`: message id, chat id), holds
    /// those to students in `blocked_users`: failed at once with a "blocked"
    /// error, which the drain never claims and `users unblock` queues again.
    /// Returns their ids. (Issue 25: a confirmation queued for a blocked
    /// student failed at the next drain, which then exited 10 for something
    /// nobody can fix.)
    ///
    /// The blocked list is asked about the chats, and the outbox is touched
    /// only for the messages of blocked ones (usually none). On PostgreSQL a
    /// statement run again and again gets a generic plan made while the
    /// outbox was small; the UPDATE over every new message then scanned the
    /// whole growing outbox each time: 0.2 ms a batch at first, 55 ms after
    /// 6,000 confirmations of one `payments import` (issue 26).
    pub fn hold_messages_for_blocked(&self, queued: &[(i64, i64)]) -> Result<Vec<i64>> {
        let mut blocked = rustc_hash::FxHashSet::default();
        for chunk in queued.chunks(500) {
            let mut stmt = self.conn().prepare_cached(&format!(
                "SELECT user_id FROM blocked_users WHERE user_id IN ({})",
                super::sql::placeholders(chunk.len())
            ))?;
            let chats: Vec<&dyn super::value::ToValue> = chunk
                .iter()
                .map(|(_, chat)| chat as &dyn super::value::ToValue)
                .collect();
            let mut rows = stmt.query(chats.as_slice())?;
            while let Some(row) = rows.next()? {
                blocked.insert(row.get::<_, i64>(0)?);
            }
        }
        let candidates: Vec<i64> = queued
            .iter()
            .filter(|(_, chat)| blocked.contains(chat))
            .map(|(id, _)| *id)
            .collect();
        let mut held = Vec::new();
        for chunk in candidates.chunks(500) {
            let mut stmt = self.conn().prepare_cached(&format!(
                "UPDATE outbox SET status = 'failed', last_error = ?
                  WHERE status = 'pending' AND id IN ({})
              RETURNING id",
                super::sql::placeholders(chunk.len())
            ))?;
            let mut params: Vec<&dyn super::value::ToValue> = vec![&HELD_FOR_BLOCK];
            params.extend(chunk.iter().map(|id| id as &dyn super::value::ToValue));
            let mut rows = stmt.query(params.as_slice())?;
            while let Some(row) = rows.next()? {
                held.push(row.get::<_, i64>(0)?);
            }
        }
        if !held.is_empty() {
            self.forget_pending_messages();
        }
        Ok(held)
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

fn message_by_id(conn: super::sql::Conn<'_>, id: i64) -> Result<Option<OutboxMessage>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"))?
        .query_row([id], message_from_row)
        .optional()?)
}

impl Db {
    /// Messages, optionally of one status, oldest first.
    pub fn outbox_messages(
        &self,
        status: Option<&str>,
        booking_id: Option<i64>,
    ) -> Result<Vec<OutboxMessage>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) AND (CAST(?2 AS BIGINT) IS NULL OR booking_id = ?2) ORDER BY id"
        ))?;
        let rows = stmt
            .query_map(params![status, booking_id], message_from_row)?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }

    /// The newest messages a filter selects, newest first; all of them without a limit.
    pub fn recent_messages(
        &self,
        filter: &MessageFilter,
        limit: Option<u64>,
    ) -> Result<Vec<OutboxMessage>> {
        let (clause, mut args) = filter_sql(filter);
        args.push(Box::new(
            // No limit: i64::MAX (SQLite's -1 is an error on PostgreSQL).
            limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX)),
        ));
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {} FROM outbox o JOIN bookings b ON b.id = o.booking_id{clause}
              ORDER BY o.id DESC LIMIT ?{}",
            qualified_columns(),
            args.len()
        ))?;
        let rows = stmt
            .query_map(super::sql::params_from_iter(args.iter()), message_from_row)?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }

    pub fn message(&self, id: i64) -> Result<Option<OutboxMessage>> {
        message_by_id(self.conn(), id)
    }

    pub fn message_facts(
        &self,
        booking_id: i64,
        kind: MessageKind,
    ) -> Result<Option<MessageFacts>> {
        message_facts(self.conn(), booking_id, kind)
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
                "withdrawn" => counts.withdrawn = n,
                "cancelled" => counts.cancelled = n,
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
