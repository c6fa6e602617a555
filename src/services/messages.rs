//! Messages to students: what a queued message holds, how its text is
//! rendered (at send time, from the course's template and the current
//! catalogue), and the rules for withdrawing and cancelling it.
//!
//! A queued message stores its kind, its booking and its parameters (JSON):
//! an explicit template (a `--template` file, a broadcast's text) or nothing,
//! meaning "the course's template for this kind". The `body` column holds a
//! preview until the message is sent, then the exact text sent.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::outbox::{MessageFacts, NewMessage};
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::message::{render, MessageKind, MessageStatus, MessageVars, TELEGRAM_LIMIT};
use crate::domain::money::{expected_price, format_amount, Balance};
use crate::error::PaytrackError;

/// What a message's text is rendered from, besides its booking (`outbox.params`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageParams {
    /// A template given for this message only; else the course's, else the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl MessageParams {
    pub fn from_json(text: &str) -> MessageParams {
        // Written by us; an unreadable value falls back to the course's template.
        serde_json::from_str(text).unwrap_or_default()
    }
}

/// The text of a message of `kind` for the booking in `facts`.
/// Err when it cannot be sent as it is (over Telegram's limit): it is never cut.
pub fn render_message(
    facts: &MessageFacts,
    kind: MessageKind,
    params: &MessageParams,
) -> std::result::Result<String, String> {
    let template = params
        .template
        .as_deref()
        .or(facts.template.as_deref())
        .unwrap_or_else(|| kind.default_template());
    let b = &facts.booking;
    let course_name = facts
        .course_name
        .clone()
        .unwrap_or_else(|| format!("#{}", b.course_id));
    let stream_name = facts
        .stream_name
        .clone()
        .or_else(|| b.course_stream.clone())
        .unwrap_or_default();
    let amount_due = amount_due(facts);
    let text = render(
        template,
        &MessageVars {
            first_name: b.first_name.as_deref().unwrap_or(""),
            username: b.username.as_deref().unwrap_or(""),
            course_name: &course_name,
            stream_name: &stream_name,
            booking_id: b.id,
            amount_due: &amount_due,
            chat_link: facts.chat_link.as_deref().unwrap_or(""),
        },
    );
    let length = text.chars().count();
    if length > TELEGRAM_LIMIT {
        return Err(format!(
            "the text is {length} characters once filled in, over Telegram's {TELEGRAM_LIMIT}; not sent (fix the template, then `outbox retry`)"
        ));
    }
    Ok(text)
}

/// What is left to pay, with the currency: "27000.00 RUB"; empty when the stream has no price.
fn amount_due(facts: &MessageFacts) -> String {
    let Some(price) = facts.price_minor else {
        return String::new();
    };
    let due = (expected_price(price, facts.booking.discount_percent) - facts.received_minor).max(0);
    match &facts.currency {
        Some(c) => format!("{} {c}", format_amount(due)),
        None => format_amount(due),
    }
}

/// The balance of a booking that received part of its price (in the
/// stream's currency), not all of it; None without a price, with nothing
/// received, or paid in full. A confirmation by hand must not hide it
/// (issue 25: the balance vanished from every list).
pub fn part_paid(facts: &MessageFacts) -> Option<Balance> {
    let expected = expected_price(facts.price_minor?, facts.booking.discount_percent);
    let received = facts.received_minor;
    (received > 0 && received < expected).then(|| Balance {
        left_minor: expected - received,
        received_minor: received,
        expected_minor: expected,
        currency: facts.currency.clone(),
    })
}

/// The longest values a placeholder can take for a course, to check a
/// template against Telegram's limit when it is saved: Telegram names are at
/// most 64 characters, ids and amounts at most 20.
pub struct LongestValues {
    pub course_name: String,
    pub stream_name: String,
    pub chat_link: String,
}

impl LongestValues {
    pub fn check(&self, template: &str) -> std::result::Result<(), String> {
        let long_name = "W".repeat(64);
        let amount = "9".repeat(20);
        crate::domain::message::check_template(
            template,
            &MessageVars {
                first_name: &long_name,
                username: &long_name,
                course_name: &self.course_name,
                stream_name: &self.stream_name,
                booking_id: i64::MAX,
                amount_due: &amount,
                chat_link: &self.chat_link,
            },
        )
    }
}

/// Queues a message of `kind` for a booking; returns its id, or None when a
/// message with `dedupe_key` was queued before. The preview text is rendered
/// now; a preview over the limit is queued all the same and refused at send.
pub fn queue_message(
    tx: &WriteTx,
    booking_id: i64,
    kind: MessageKind,
    params: &MessageParams,
    dedupe_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let booking = tx.booking(booking_id)?.ok_or_else(|| {
        anyhow::anyhow!(crate::tr!(
            "booking {booking_id} not found",
            "бронь {booking_id} не найдена"
        ))
    })?;
    queue_message_for(tx, booking, kind, params, dedupe_key, now)
}

/// `outbox queue BOOKING --kind K`: a message an admin asks for, audited.
pub fn queue_by_admin(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    booking_id: i64,
    kind: MessageKind,
) -> Result<Option<i64>> {
    tx.booking(booking_id)?
        .ok_or_else(|| PaytrackError::NotFound(format!("booking {booking_id} not found")))?;
    let id = queue_message(tx, booking_id, kind, &MessageParams::default(), None, now)?;
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::MESSAGES_QUEUED,
            booking_id: Some(booking_id),
            details: json!({ "kind": kind.name(), "message_id": id, "source": "outbox queue" }),
            ..Default::default()
        },
    )?;
    Ok(id)
}

/// `queue_message` for a booking the caller read in this transaction (a
/// status change has it in hand: reading it again was a statement per
/// confirmation of a payments import, issue 19). Only the names, ids,
/// course, stream and discount are used, which a status change leaves as
/// they were.
pub fn queue_message_for(
    tx: &WriteTx,
    booking: Booking,
    kind: MessageKind,
    params: &MessageParams,
    dedupe_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let message = prepare_message(tx, booking, kind, params)?;
    tx.enqueue_message(&message.to_new(dedupe_key), now)
}

/// A message rendered for its booking, not queued yet (a status-change
/// batch queues many in one statement).
#[derive(Debug)]
pub struct PreparedMessage {
    pub booking_id: i64,
    chat_id: i64,
    kind: MessageKind,
    body: String,
    params: String,
}

impl PreparedMessage {
    pub fn to_new<'a>(&'a self, dedupe_key: Option<&'a str>) -> NewMessage<'a> {
        NewMessage {
            booking_id: self.booking_id,
            chat_id: self.chat_id,
            kind: self.kind.name(),
            body: &self.body,
            params: &self.params,
            dedupe_key,
        }
    }
}

/// Renders the preview of a message of `kind` for a booking read in this
/// transaction; a preview over the limit is queued all the same and
/// refused at send.
pub fn prepare_message(
    tx: &WriteTx,
    booking: Booking,
    kind: MessageKind,
    params: &MessageParams,
) -> Result<PreparedMessage> {
    let booking_id = booking.id;
    let facts = tx.message_facts_of(booking, kind)?;
    let body = render_message(&facts, kind, params).unwrap_or_else(|e| e);
    Ok(PreparedMessage {
        booking_id,
        chat_id: facts.booking.user_id,
        kind,
        body,
        params: serde_json::to_string(params)?,
    })
}

/// Withdraws the unsent messages of `kind` for a booking whose status made
/// them untrue (a confirmation of a booking no longer confirmed, a payment
/// reminder for one no longer pending); returns the `message.withdrawn`
/// audit entry of each, for the caller to append with its own.
pub fn withdraw_messages(
    tx: &WriteTx,
    booking_id: i64,
    kind: MessageKind,
    why: &str,
) -> Result<Vec<(i64, NewAuditEntry)>> {
    let ids = tx.stop_pending_for_booking(
        booking_id,
        kind,
        MessageStatus::Withdrawn,
        &format!("withdrawn: {why}"),
    )?;
    Ok(ids
        .into_iter()
        .map(|id| {
            let entry = NewAuditEntry {
                action: action::MESSAGE_WITHDRAWN,
                booking_id: Some(booking_id),
                old_value: Some(MessageStatus::Pending.name().to_string()),
                new_value: Some(MessageStatus::Withdrawn.name().to_string()),
                details: json!({ "message_id": id, "kind": kind.name() }),
                ..Default::default()
            };
            (id, entry)
        })
        .collect())
}

/// Cancels messages by id, all or none: an unknown id is NotFound, a message
/// already sent, being sent or stopped is refused. One `message.cancelled`
/// audit entry each.
pub fn cancel_messages(
    tx: &WriteTx,
    ids: &[i64],
    reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let stored_reason = match reason {
        Some(r) => format!("cancelled: {r}"),
        None => "cancelled by an admin".to_string(),
    };
    for &id in ids {
        let message = tx.message(id)?.ok_or_else(|| {
            PaytrackError::NotFound(crate::tr!(
                "message {id} not found",
                "сообщение {id} не найдено"
            ))
        })?;
        if !matches!(
            message.status,
            MessageStatus::Pending | MessageStatus::Failed
        ) {
            return Err(PaytrackError::TransitionRefused(format!(
                "message {id} is {}; only pending and failed messages can be cancelled; nothing changed",
                message.status
            ))
            .into());
        }
        tx.cancel_message(id, &stored_reason)?;
        tx.append_audit(
            actor,
            now,
            NewAuditEntry {
                action: action::MESSAGE_CANCELLED,
                booking_id: Some(message.booking_id),
                old_value: Some(message.status.name().to_string()),
                new_value: Some(MessageStatus::Cancelled.name().to_string()),
                reason: reason.map(str::to_string),
                details: json!({ "message_id": id, "kind": message.kind, "chat_id": message.chat_id }),
            },
        )?;
    }
    Ok(())
}

/// Puts failed (or cancelled) messages back in the queue, all or none (one
/// `message.retried` audit entry each).
pub fn retry_messages(tx: &WriteTx, ids: &[i64], actor: &str, now: DateTime<Utc>) -> Result<()> {
    for &id in ids {
        let message = tx.message(id)?.ok_or_else(|| {
            PaytrackError::NotFound(crate::tr!(
                "message {id} not found",
                "сообщение {id} не найдено"
            ))
        })?;
        // A cancelled message may have been stopped by mistake; a withdrawn
        // one is untrue (its booking changed) and stays withdrawn.
        if !matches!(
            message.status,
            MessageStatus::Failed | MessageStatus::Cancelled
        ) {
            return Err(PaytrackError::TransitionRefused(format!(
                "message {id} is {}; only failed and cancelled messages can be retried; nothing changed",
                message.status
            ))
            .into());
        }
        tx.requeue_message(id, now)?;
        tx.append_audit(
            actor,
            now,
            NewAuditEntry {
                action: action::MESSAGE_RETRIED,
                booking_id: Some(message.booking_id),
                old_value: Some(message.status.name().to_string()),
                new_value: Some(MessageStatus::Pending.name().to_string()),
                details: json!({ "message_id": id, "kind": message.kind, "attempts_before": message.attempts }),
                ..Default::default()
            },
        )?;
    }
    Ok(())
}

/// The text of a stored message as it stands: the text sent for a sent one
/// (and for one frozen when queued), else rendered now from the current
/// templates and catalogue. Err: why it cannot be sent.
pub fn current_text(
    facts: Option<&MessageFacts>,
    message: &crate::db::outbox::OutboxMessage,
) -> std::result::Result<String, String> {
    let frozen = message.status == MessageStatus::Sent || message.params.is_none();
    match (frozen, facts, MessageKind::from_name(&message.kind)) {
        (false, Some(facts), Some(kind)) => render_message(
            facts,
            kind,
            &MessageParams::from_json(message.params.as_deref().unwrap_or("{}")),
        ),
        _ => Ok(message.body.clone()),
    }
}

/// Refuses (bad input, exit 3) a template with an unknown placeholder, or one
/// that could render over Telegram's limit for this course: checked when it
/// is saved, so that nothing is cut or refused at send time. `course_name` is
/// the course's name as it will be (a rename in the same command).
pub fn check_course_template(
    tx: &WriteTx,
    course_id: i64,
    course_name: &str,
    template: &str,
) -> Result<()> {
    let (stream_name, chat_link) = tx.longest_stream_texts(course_id)?;
    LongestValues {
        course_name: course_name.to_string(),
        stream_name,
        chat_link,
    }
    .check(template)
    .map_err(|e| crate::error::bad_input(format!("template refused: {e}")))
}

/// What queueing reminders or a broadcast did (or, rolled back, would do).
#[derive(Debug, Default, Serialize)]
pub struct QueueReport {
    /// (booking id, message id) of each message queued.
    pub queued: Vec<(i64, i64)>,
    /// Bookings whose student blocked the bot: skipped.
    pub blocked: Vec<i64>,
    /// Bookings that had such a message recently, or one still unsent (reminders),
    /// or this broadcast already (same key): skipped.
    pub already: Vec<i64>,
}

/// Queues a payment reminder for each booking that has had none queued since
/// `not_since` and has none unsent, skipping students who blocked the bot.
/// One `messages.queued` audit entry for the run.
pub fn queue_reminders(
    tx: &WriteTx,
    bookings: &[Booking],
    not_since: DateTime<Utc>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<QueueReport> {
    let mut report = QueueReport::default();
    let not_since = crate::domain::time::to_storage(not_since);
    for (i, b) in bookings.iter().enumerate() {
        if i % 1024 == 0 {
            crate::interrupt::check()?;
        }
        if tx.user_blocked(b.user_id)? {
            report.blocked.push(b.id);
            continue;
        }
        let (last, unsent) = tx.last_message_of_kind(b.id, MessageKind::Reminder)?;
        if unsent || last.is_some_and(|at| at > not_since) {
            report.already.push(b.id);
            continue;
        }
        if let Some(id) = queue_message(
            tx,
            b.id,
            MessageKind::Reminder,
            &MessageParams::default(),
            None,
            now,
        )? {
            report.queued.push((b.id, id));
        }
    }
    audit_queued(tx, MessageKind::Reminder, &report, json!({}), actor, now)?;
    Ok(report)
}

/// Queues one broadcast message per booking, skipping students who blocked
/// the bot; with a `key`, a booking that already got this broadcast is
/// skipped, so re-running the same broadcast queues nothing new.
pub fn queue_broadcast(
    tx: &WriteTx,
    bookings: &[Booking],
    template: Option<&str>,
    key: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<QueueReport> {
    let mut report = QueueReport::default();
    let params = MessageParams {
        template: template.map(str::to_string),
    };
    for (i, b) in bookings.iter().enumerate() {
        if i % 1024 == 0 {
            crate::interrupt::check()?;
        }
        if tx.user_blocked(b.user_id)? {
            report.blocked.push(b.id);
            continue;
        }
        let dedupe = key.map(|k| format!("broadcast:{k}:{}", b.id));
        match queue_message(
            tx,
            b.id,
            MessageKind::Broadcast,
            &params,
            dedupe.as_deref(),
            now,
        )? {
            Some(id) => report.queued.push((b.id, id)),
            None => report.already.push(b.id),
        }
    }
    audit_queued(
        tx,
        MessageKind::Broadcast,
        &report,
        json!({ "key": key }),
        actor,
        now,
    )?;
    Ok(report)
}

/// One audit entry for a run that queued messages (not one per message: a
/// broadcast to a stream of 300 would flood the log; the outbox rows say who).
fn audit_queued(
    tx: &WriteTx,
    kind: MessageKind,
    report: &QueueReport,
    extra: serde_json::Value,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if report.queued.is_empty() {
        return Ok(());
    }
    let mut details = json!({
        "kind": kind.name(),
        "queued": report.queued.len(),
        "skipped_blocked": report.blocked.len(),
        "skipped_already": report.already.len(),
        "first_message_id": report.queued.first().map(|q| q.1),
        "last_message_id": report.queued.last().map(|q| q.1),
    });
    if let (Some(map), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
        map.extend(more);
    }
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::MESSAGES_QUEUED,
            details,
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Re-checks every template of a course after a catalogue change (a longer
/// course or stream name, a chat link) inside the same transaction: a change
/// that would push a saved template over Telegram's limit is refused (exit 3).
pub fn recheck_course_templates(tx: &WriteTx, course_id: i64) -> Result<()> {
    let Some(course) = tx.course(course_id)? else {
        return Ok(());
    };
    let mut templates: Vec<(String, String)> = course
        .message_template
        .iter()
        .map(|t| (MessageKind::Confirmation.name().to_string(), t.clone()))
        .collect();
    templates.extend(tx.kind_templates(course_id)?);
    for (kind, text) in templates {
        check_course_template(tx, course_id, &course.name, &text).map_err(|e| {
            crate::error::bad_input(format!(
                "the course's {kind} template would no longer fit: {e:#}; nothing changed"
            ))
        })?;
    }
    Ok(())
}
