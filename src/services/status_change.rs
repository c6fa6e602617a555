//! The one write path for a booking's status.
//!
//! `booking set-status`, bulk changes and payment confirmations all call
//! `change_status` inside a write transaction. It re-reads the booking under
//! the lock, checks `--expect`, asks the state machine, updates the row, and
//! in the same transaction writes the audit entry, the payment (if any) and
//! the message to the student (or withdraws one that no longer holds). The stream counters follow through triggers.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::db::payments::NewPayment;
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::message::MessageKind;
use crate::domain::money::format_amount;
use crate::domain::payment::PaymentOutcome;
use crate::domain::{check_transition, Status, Transition};
use crate::error::PaytrackError;
use crate::services::messages::{self, MessageParams};

/// A requested status change.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub booking_id: i64,
    pub to: Status,
    pub force: bool,
    pub reason: Option<String>,
    /// Refuse unless the booking currently has this status (optimistic concurrency).
    pub expect: Option<Status>,
    /// Queue the message the change calls for: a confirmation, or a
    /// cancellation when a sent confirmation is taken back. (An unsent
    /// confirmation is withdrawn whatever this says.)
    pub notify: bool,
    /// A payment recorded with the change, in the same transaction; the audit
    /// entry carries its reference.
    pub payment: Option<NewPayment>,
    /// The outcome `payment` is stored with: `Recorded` for `--payment-ref`,
    /// what reconciliation decided for `payments import`.
    pub payment_outcome: PaymentOutcome,
    /// Override of the message template (a file given on the command line).
    pub template: Option<String>,
    /// Where the change came from, for the audit details: "cli", "bulk", "payments import"...
    pub source: &'static str,
}

/// What `change_status` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusChangeOutcome {
    pub booking_id: i64,
    pub from: Status,
    pub to: Status,
    /// false for a no-op (the booking already had the status).
    pub changed: bool,
    pub forced: bool,
    pub audit_id: Option<i64>,
    pub message_id: Option<i64>,
    pub payment_id: Option<i64>,
}

/// Applies one status change inside `tx`. Errors: NotFound, ExpectationFailed,
/// TransitionRefused. On error the caller's transaction rolls back whole.
pub fn change_status(
    tx: &WriteTx,
    change: &StatusChange,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<StatusChangeOutcome> {
    let booking = tx.booking(change.booking_id)?.ok_or_else(|| {
        PaytrackError::NotFound(format!("booking {} not found", change.booking_id))
    })?;
    change_status_of(tx, &booking, change, actor, now)
}

/// `change_status` for a booking the caller has just read inside this same
/// transaction — under the write lock, so it is current. A payments import
/// reads each booking to decide the payment's outcome; reading it again here
/// was one of the statements it paid per confirmation (issue 19). The rule,
/// the audit entry and the message are the same as for `change_status`.
pub fn change_status_of(
    tx: &WriteTx,
    booking: &Booking,
    change: &StatusChange,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<StatusChangeOutcome> {
    if booking.id != change.booking_id {
        anyhow::bail!(
            "internal: status change for booking {} given booking {}",
            change.booking_id,
            booking.id
        );
    }
    let from = booking.status;
    if let Some(expected) = change.expect {
        if expected != from {
            return Err(PaytrackError::ExpectationFailed(format!(
                "booking {} is {from}, expected {expected}; nothing changed",
                booking.id
            ))
            .into());
        }
    }
    let transition = check_transition(from, change.to, change.force, change.reason.as_deref())
        .map_err(|e| PaytrackError::TransitionRefused(format!("booking {}: {e}", booking.id)))?;
    let mut outcome = StatusChangeOutcome {
        booking_id: booking.id,
        from,
        to: change.to,
        changed: false,
        forced: transition == Transition::Forced,
        audit_id: None,
        message_id: None,
        payment_id: None,
    };
    if transition == Transition::NoOp {
        return Ok(outcome);
    }
    // On SQLite we hold the write lock and just read the status, so this
    // cannot miss. On PostgreSQL the bot writes without paytrack's lock: the
    // compare-and-set is what keeps its change from being overwritten.
    if !tx.update_status(booking.id, from, change.to, now)? {
        return Err(PaytrackError::ExpectationFailed(format!(
            "booking {} changed under us (another program wrote it); nothing written, run the command again",
            booking.id
        ))
        .into());
    }
    outcome.changed = true;

    if let Some(payment) = &change.payment {
        outcome.payment_id = tx.insert_payment(payment, change.payment_outcome, now)?;
        if outcome.payment_id.is_none() {
            return Err(PaytrackError::BadInput(format!(
                "payment {} from {} is already recorded",
                payment.external_id, payment.provider
            ))
            .into());
        }
    }

    // A student must never hear "paid" about a booking that is no longer
    // confirmed: its unsent confirmation goes with the confirmation (issue 14).
    let mut withdrawn = Vec::new();
    if from == Status::Confirmed {
        withdrawn = messages::withdraw_messages(
            tx,
            booking.id,
            MessageKind::Confirmation,
            "the booking is no longer confirmed",
            actor,
            now,
        )?;
    }
    // Nor "cancelled" about a booking restored before the notice went out.
    if from == Status::Cancelled {
        withdrawn.extend(messages::withdraw_messages(
            tx,
            booking.id,
            MessageKind::Cancellation,
            "the booking is no longer cancelled",
            actor,
            now,
        )?);
    }
    // Nor "please pay" about a booking that is paid or cancelled.
    if from == Status::Pending {
        withdrawn.extend(messages::withdraw_messages(
            tx,
            booking.id,
            MessageKind::Reminder,
            "the booking is no longer pending",
            actor,
            now,
        )?);
    }
    if change.notify {
        outcome.message_id = match change.to {
            Status::Confirmed => messages::queue_message_for(
                tx,
                booking.clone(),
                MessageKind::Confirmation,
                &MessageParams {
                    template: change.template.clone(),
                },
                None,
                now,
            )?,
            // Told only if they had been told they were confirmed.
            Status::Cancelled
                if from == Status::Confirmed
                    && tx.message_was_sent(booking.id, MessageKind::Confirmation)? =>
            {
                messages::queue_message_for(
                    tx,
                    booking.clone(),
                    MessageKind::Cancellation,
                    &MessageParams::default(),
                    None,
                    now,
                )?
            }
            _ => None,
        };
    }

    let mut details = json!({
        "source": change.source,
        "forced": outcome.forced,
    });
    if let Some(payment) = &change.payment {
        details["payment_ref"] = json!(payment.external_id);
        details["provider"] = json!(payment.provider);
        details["amount"] = json!(format_amount(payment.amount_minor));
        details["currency"] = json!(payment.currency);
    }
    if let Some(id) = outcome.message_id {
        details["message_id"] = json!(id);
    }
    if !withdrawn.is_empty() {
        details["withdrawn_message_ids"] = json!(withdrawn);
    }
    outcome.audit_id = Some(tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::STATUS_CHANGED,
            booking_id: Some(booking.id),
            old_value: Some(from.name().to_string()),
            new_value: Some(change.to.name().to_string()),
            reason: change.reason.clone().filter(|r| !r.trim().is_empty()),
            details,
        },
    )?);
    Ok(outcome)
}
