//! `paytrack undo OP`: reverses what one operation (one write command) did
//! to bookings — status changes, field edits, added bookings (cancelled) —
//! all or nothing, through the same write paths as everything else, as
//! changes forced with the reason "undo of OP". A booking changed again
//! since the operation (by anyone, or by another program behind paytrack's
//! back) refuses the whole undo: reversing it would throw that change away.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::db::WriteTx;
use crate::domain::audit::{action, AuditEntry, NewAuditEntry};
use crate::domain::booking::BookingFields;
use crate::domain::message::{MessageKind, MessageStatus};
use crate::domain::payment::PaymentOutcome;
use crate::domain::Status;
use crate::error::PaytrackError;
use crate::services::booking_fields::{set_fields, EditOrigin};
use crate::services::status_change::{change_status, StatusChange};

/// What an undo did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UndoReport {
    pub operation: String,
    pub status_changes: u64,
    pub edits: u64,
    /// Bookings the operation added, now cancelled.
    pub cancelled: u64,
    /// Confirmation messages withdrawn before they were sent.
    pub withdrawn: u64,
    /// Confirmation messages queued again (undo of an undo).
    pub restored: u64,
    /// Entries of the operation that undo does not reverse, by action
    /// (payments stay recorded, imported rows stay, catalogue edits stay).
    pub not_reversed: BTreeMap<String, u64>,
}

/// Bookings shown in a refusal before "…".
const LISTED: usize = 20;

/// Undoes `operation` inside `tx` (the caller commits, or rolls back a dry run).
pub fn undo_operation(
    tx: &WriteTx,
    operation: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<UndoReport> {
    let entries = tx.operation_entries(operation)?;
    if entries.is_empty() {
        return Err(PaytrackError::NotFound(crate::tr!(
            "no operation {operation}",
            "операции {operation} нет"
        ))
        .into());
    }
    if let Some(by) = tx.undone_by(operation)? {
        return Err(PaytrackError::ExpectationFailed(format!(
            "operation {operation} was already undone by operation {by}; nothing changed"
        ))
        .into());
    }
    refuse_if_told(tx, operation, &entries)?;
    refuse_if_changed_since(tx, operation, &entries)?;

    let reason = format!("undo of {operation}");
    let mut report = UndoReport {
        operation: operation.to_string(),
        ..Default::default()
    };
    for entry in entries.iter().rev() {
        let Some(booking_id) = entry.booking_id else {
            *report.not_reversed.entry(entry.action.clone()).or_default() += 1;
            continue;
        };
        match entry.action.as_str() {
            action::STATUS_CHANGED => {
                let (from, to) = (
                    status(entry.new_value.as_deref())?,
                    status(entry.old_value.as_deref())?,
                );
                // The message the change queued; `change_status` withdraws it
                // when the booking leaves `confirmed` and it is still unsent.
                let message = serde_json::from_str::<Value>(&entry.details)
                    .ok()
                    .and_then(|d| d["message_id"].as_i64());
                let unsent_before = match message {
                    Some(id) => tx
                        .message(id)?
                        .is_some_and(|m| m.status == MessageStatus::Pending),
                    None => false,
                };
                let outcome = change_status(
                    tx,
                    &reverting(booking_id, to, Some(from), &reason),
                    actor,
                    now,
                )?;
                report.status_changes += u64::from(outcome.changed);
                if let (Some(id), true) = (message, unsent_before) {
                    let withdrawn = tx
                        .message(id)?
                        .is_some_and(|m| m.status == MessageStatus::Withdrawn);
                    report.withdrawn += u64::from(withdrawn);
                }
            }
            action::BOOKING_EDITED => {
                let old = object(entry.old_value.as_deref())?;
                let booking = tx.booking(booking_id)?.ok_or_else(|| {
                    PaytrackError::NotFound(crate::tr!(
                        "booking {booking_id} not found",
                        "бронь {booking_id} не найдена"
                    ))
                })?;
                let restored = BookingFields::of(&booking)
                    .with(&old)
                    .map_err(|e| anyhow::anyhow!("audit entry {}: {e}", entry.id))?;
                let origin = EditOrigin {
                    source: "undo",
                    reason: Some(&reason),
                    extra: json!({ "operation": operation }),
                };
                let changes = set_fields(tx, booking_id, &restored, &origin, actor, now)?;
                report.edits += u64::from(!changes.is_empty());
            }
            // A confirmation's message withdrawn by the operation (an undo
            // that unconfirmed it) comes back with the confirmation (issue 25).
            action::MESSAGE_WITHDRAWN => {
                let id = serde_json::from_str::<Value>(&entry.details)
                    .ok()
                    .and_then(|d| d["message_id"].as_i64());
                let Some(id) = id else { continue };
                let confirmed = tx
                    .booking(booking_id)?
                    .is_some_and(|b| b.status == Status::Confirmed);
                let Some(message) = tx.message(id)? else {
                    *report.not_reversed.entry(entry.action.clone()).or_default() += 1;
                    continue;
                };
                let withdrawn_confirmation = message.status == MessageStatus::Withdrawn
                    && message.kind == MessageKind::Confirmation.name();
                if !(confirmed && withdrawn_confirmation) {
                    *report.not_reversed.entry(entry.action.clone()).or_default() += 1;
                    continue;
                }
                tx.requeue_message(id, now)?;
                let held = !tx
                    .hold_messages_for_blocked(&[(id, message.chat_id)])?
                    .is_empty();
                tx.append_audit(
                    actor,
                    now,
                    NewAuditEntry {
                        action: action::MESSAGE_RETRIED,
                        booking_id: Some(booking_id),
                        old_value: Some(MessageStatus::Withdrawn.name().to_string()),
                        new_value: Some(
                            if held {
                                MessageStatus::Failed
                            } else {
                                MessageStatus::Pending
                            }
                            .name()
                            .to_string(),
                        ),
                        reason: Some(reason.clone()),
                        details: json!({ "message_id": id, "source": "undo", "held": held }),
                    },
                )?;
                report.restored += 1;
            }
            action::BOOKING_ADDED => {
                let outcome = change_status(
                    tx,
                    &reverting(booking_id, Status::Cancelled, None, &reason),
                    actor,
                    now,
                )?;
                report.cancelled += u64::from(outcome.changed);
            }
            other => *report.not_reversed.entry(other.to_string()).or_default() += 1,
        }
    }
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::OPERATION_UNDONE,
            reason: Some(reason),
            details: json!({
                "operation": operation,
                "status_changes": report.status_changes,
                "edits": report.edits,
                "cancelled": report.cancelled,
                "withdrawn": report.withdrawn,
                "restored": report.restored,
                "not_reversed": report.not_reversed,
            }),
            ..Default::default()
        },
    )?;
    Ok(report)
}

/// A forced status change back, with no message: the student was not told
/// of a change that is being taken back (an unsent one is withdrawn instead).
fn reverting(booking_id: i64, to: Status, expect: Option<Status>, reason: &str) -> StatusChange {
    StatusChange {
        booking_id,
        to,
        force: true,
        reason: Some(reason.to_string()),
        expect,
        notify: false,
        payment: None,
        payment_outcome: PaymentOutcome::Recorded,
        template: None,
        source: "undo",
    }
}

/// Refuses when a confirmation the operation queued has reached the student
/// (sent, or being sent): undo cannot take a message back, and reversing
/// the status silently would leave them told they are confirmed.
fn refuse_if_told(tx: &WriteTx, operation: &str, entries: &[AuditEntry]) -> Result<()> {
    let mut told = Vec::new();
    for e in entries {
        let (Some(booking_id), action::STATUS_CHANGED) = (e.booking_id, e.action.as_str()) else {
            continue;
        };
        let message = serde_json::from_str::<Value>(&e.details)
            .ok()
            .and_then(|d| d["message_id"].as_i64());
        if let Some(id) = message {
            if tx
                .message(id)?
                .is_some_and(|m| matches!(m.status, MessageStatus::Sent | MessageStatus::Sending))
            {
                told.push(format!("booking {booking_id} (message {id})"));
            }
        }
    }
    if told.is_empty() {
        return Ok(());
    }
    let shown = told.len().min(LISTED);
    let more = if told.len() > LISTED {
        format!(", … {} more", told.len() - LISTED)
    } else {
        String::new()
    };
    Err(PaytrackError::ExpectationFailed(format!(
        "the message operation {operation} queued was already sent for {}{more}; \
         undo cannot take a message back, nothing undone \
         (change the status with `paytrack booking set-status`, which tells the student)",
        told[..shown].join(", ")
    ))
    .into())
}

/// Refuses (listing them) when a booking the operation touched was changed
/// since: a later audit entry, or a state that is not what the operation left.
fn refuse_if_changed_since(tx: &WriteTx, operation: &str, entries: &[AuditEntry]) -> Result<()> {
    // Per booking: the operation's last entry, final status and final field values.
    let mut last_entry: HashMap<i64, i64> = HashMap::new();
    let mut final_status: HashMap<i64, Status> = HashMap::new();
    let mut final_fields: HashMap<i64, Map<String, Value>> = HashMap::new();
    for e in entries {
        let Some(id) = e.booking_id else { continue };
        match e.action.as_str() {
            action::STATUS_CHANGED | action::BOOKING_ADDED => {
                final_status.insert(id, status(e.new_value.as_deref())?);
            }
            action::BOOKING_EDITED => {
                final_fields
                    .entry(id)
                    .or_default()
                    .extend(object(e.new_value.as_deref())?);
            }
            _ => continue,
        }
        last_entry.insert(id, e.id);
    }
    let mut changed = BTreeSet::new();
    for (&id, &last) in &last_entry {
        if !tx.audit_entries_after(id, last)?.is_empty() {
            changed.insert(id);
            continue;
        }
        let Some(booking) = tx.booking(id)? else {
            changed.insert(id);
            continue;
        };
        if final_status.get(&id).is_some_and(|&s| s != booking.status) {
            changed.insert(id);
        }
        if let Some(fields) = final_fields.get(&id) {
            let now = BookingFields::of(&booking).to_map();
            if fields.iter().any(|(k, v)| now.get(k) != Some(v)) {
                changed.insert(id);
            }
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    let mut listed: Vec<String> = changed.iter().take(LISTED).map(i64::to_string).collect();
    if changed.len() > LISTED {
        listed.push(format!("… {} more", changed.len() - LISTED));
    }
    Err(PaytrackError::ExpectationFailed(format!(
        "{} bookings changed again since operation {operation}: {}; nothing undone \
         (see `paytrack audit tail --booking ID`)",
        changed.len(),
        listed.join(", ")
    ))
    .into())
}

fn status(name: Option<&str>) -> Result<Status> {
    name.unwrap_or_default()
        .parse()
        .map_err(|e: String| anyhow::anyhow!("audit entry holds no status: {e}"))
}

fn object(text: Option<&str>) -> Result<Map<String, Value>> {
    if text == Some(crate::domain::audit::ERASED) {
        return Err(PaytrackError::ExpectationFailed(
            "the field values of this operation were erased (users erase); it cannot be undone"
                .into(),
        )
        .into());
    }
    match serde_json::from_str(text.unwrap_or("{}")) {
        Ok(Value::Object(map)) => Ok(map),
        _ => anyhow::bail!("audit entry holds no field values"),
    }
}
