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
use crate::domain::message::{render, MessageKind, MessageStatus, MessageVars, TELEGRAM_LIMIT};
use crate::domain::money::{expected_price, format_amount};
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
        .unwrap_or(kind.default_template());
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
    let facts = tx
        .message_facts(booking_id, kind)?
        .ok_or_else(|| anyhow::anyhow!("booking {booking_id} not found"))?;
    let preview = render_message(&facts, kind, params).unwrap_or_else(|e| e);
    let params_json = serde_json::to_string(params)?;
    tx.enqueue_message(
        &NewMessage {
            booking_id,
            chat_id: facts.booking.user_id,
            kind: kind.name(),
            body: &preview,
            params: &params_json,
            dedupe_key,
        },
        now,
    )
}

/// Withdraws the unsent confirmations of a booking that stopped being
/// confirmed, with one `message.withdrawn` audit entry each; returns their ids.
pub fn withdraw_confirmations(
    tx: &WriteTx,
    booking_id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let ids = tx.stop_pending_for_booking(
        booking_id,
        MessageKind::Confirmation,
        MessageStatus::Withdrawn,
        "withdrawn: the booking is no longer confirmed",
    )?;
    for &id in &ids {
        tx.append_audit(
            actor,
            now,
            NewAuditEntry {
                action: action::MESSAGE_WITHDRAWN,
                booking_id: Some(booking_id),
                old_value: Some(MessageStatus::Pending.name().to_string()),
                new_value: Some(MessageStatus::Withdrawn.name().to_string()),
                details: json!({ "message_id": id, "kind": MessageKind::Confirmation.name() }),
                ..Default::default()
            },
        )?;
    }
    Ok(ids)
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
        let message = tx
            .message(id)?
            .ok_or_else(|| PaytrackError::NotFound(format!("message {id} not found")))?;
        if !matches!(message.status.as_str(), "pending" | "failed") {
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
                old_value: Some(message.status.clone()),
                new_value: Some(MessageStatus::Cancelled.name().to_string()),
                reason: reason.map(str::to_string),
                details: json!({ "message_id": id, "kind": message.kind, "chat_id": message.chat_id }),
            },
        )?;
    }
    Ok(())
}

/// Puts failed messages back in the queue, all or none (one
/// `message.retried` audit entry each).
pub fn retry_messages(tx: &WriteTx, ids: &[i64], actor: &str, now: DateTime<Utc>) -> Result<()> {
    for &id in ids {
        let message = tx
            .message(id)?
            .ok_or_else(|| PaytrackError::NotFound(format!("message {id} not found")))?;
        if message.status != MessageStatus::Failed.name() {
            return Err(PaytrackError::TransitionRefused(format!(
                "message {id} is {}; only failed messages can be retried; nothing changed",
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
                old_value: Some(message.status.clone()),
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
    let frozen = message.status == MessageStatus::Sent.name() || message.params.is_none();
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
