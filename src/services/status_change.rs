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

use rustc_hash::FxHashSet;

use crate::db::payments::{NewPayment, PaymentRow};
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
    /// The message was held: the student blocked the bot.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub message_held: bool,
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
        PaytrackError::NotFound(crate::tr!(
            "booking {} not found",
            "бронь {} не найдена",
            change.booking_id
        ))
    })?;
    change_status_of(tx, &booking, change, actor, now)
}

/// `change_status` for a booking the caller has just read inside this same
/// transaction — under the write lock, so it is current. The rule, the audit
/// entry and the message are those of a `ChangeBatch` of one.
pub fn change_status_of(
    tx: &WriteTx,
    booking: &Booking,
    change: &StatusChange,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<StatusChangeOutcome> {
    let mut batch = ChangeBatch::default();
    if let Some(no_op) = batch.add_change(booking, change.clone())? {
        return Ok(no_op);
    }
    let mut outcomes = batch.write(tx, actor, now)?;
    outcomes
        .pop()
        .ok_or_else(|| anyhow::anyhow!("internal: a status change wrote nothing"))
}

/// Status changes, and payments with or without one, written together many
/// rows per statement, in the order they were added (payment ids follow
/// it). A payments import confirms thousands of bookings: one statement per
/// write per booking was most of its time (issue 19). Every change passes
/// `--expect` and the state machine (`check_transition`) when it is added,
/// and is written by `write` exactly as a single change is: the status as a
/// compare-and-set, its payment, the withdrawals, its message, its audit
/// entry. A booking has at most one change per batch; `has_change_for`
/// tells a caller about to read it again to write the batch first.
#[derive(Default)]
pub struct ChangeBatch {
    entries: Vec<Entry>,
    changed: FxHashSet<i64>,
    /// The booking whose compare-and-set the last `write` lost.
    lost: Option<i64>,
}

struct Entry {
    payment: Option<(NewPayment, PaymentOutcome)>,
    change: Option<Planned>,
}

/// A change that passed the rules, with the booking as read.
struct Planned {
    booking: Booking,
    /// Its payment (if any) is in the entry.
    change: StatusChange,
    forced: bool,
}

impl ChangeBatch {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The booking another program changed between its read and the last
    /// `write` (on PostgreSQL, the bot), which then failed.
    pub fn lost(&self) -> Option<i64> {
        self.lost
    }

    /// Whether the batch changes this booking: its row is stale until written.
    pub fn has_change_for(&self, booking_id: i64) -> bool {
        self.changed.contains(&booking_id)
    }

    /// Checks a change of `booking` (read in this transaction) against its
    /// `expect` and the state machine, and adds it. A change to the status
    /// the booking has is a no-op: its outcome is returned, nothing is added.
    /// Errors: ExpectationFailed, TransitionRefused.
    pub fn add_change(
        &mut self,
        booking: &Booking,
        mut change: StatusChange,
    ) -> Result<Option<StatusChangeOutcome>> {
        if booking.id != change.booking_id {
            anyhow::bail!(
                "internal: status change for booking {} given booking {}",
                change.booking_id,
                booking.id
            );
        }
        if self.changed.contains(&booking.id) {
            anyhow::bail!(
                "internal: booking {} changed twice in one batch",
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
            .map_err(|e| {
                PaytrackError::TransitionRefused(format!("booking {}: {e}", booking.id))
            })?;
        if transition == Transition::NoOp {
            return Ok(Some(StatusChangeOutcome {
                booking_id: booking.id,
                from,
                to: change.to,
                changed: false,
                forced: false,
                audit_id: None,
                message_id: None,
                message_held: false,
                payment_id: None,
            }));
        }
        let payment = change.payment.take().map(|p| (p, change.payment_outcome));
        self.changed.insert(booking.id);
        self.entries.push(Entry {
            payment,
            change: Some(Planned {
                booking: booking.clone(),
                change,
                forced: transition == Transition::Forced,
            }),
        });
        Ok(None)
    }

    /// Writes the bot's rows of every change written in this transaction:
    /// on PostgreSQL `write` leaves them to the end, so the bot's row locks
    /// are taken last and held only until COMMIT (issue 26). Call it as the
    /// last write before commit (the commit does it otherwise); a row the bot
    /// changed meanwhile fails as in `write`, and `lost` names it.
    pub fn finish(&mut self, tx: &WriteTx) -> Result<()> {
        match tx.write_deferred_statuses()? {
            Some(lost) => {
                self.lost = Some(lost);
                Err(crate::db::bookings::status_race_lost(lost).into())
            }
            None => Ok(()),
        }
    }

    /// Adds a payment that changes no status. The caller knows its
    /// (provider, external_id) is not stored yet.
    pub fn add_payment(&mut self, payment: NewPayment, outcome: PaymentOutcome) {
        self.entries.push(Entry {
            payment: Some((payment, outcome)),
            change: None,
        });
    }

    /// Writes everything added, and empties the batch; returns the outcome
    /// of each change, in order. On error the caller's transaction rolls
    /// back whole.
    pub fn write(
        &mut self,
        tx: &WriteTx,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<StatusChangeOutcome>> {
        let entries = std::mem::take(&mut self.entries);
        self.changed.clear();
        let planned: Vec<&Planned> = entries.iter().filter_map(|e| e.change.as_ref()).collect();

        // The statuses, as compare-and-set. On SQLite we hold the write lock
        // and just read them, so this cannot miss. On PostgreSQL the bot
        // writes without paytrack's lock: the compare-and-set is what keeps
        // its change from being overwritten.
        let mut groups: Vec<((Status, Status), Vec<i64>)> = Vec::new();
        for p in &planned {
            let key = (p.booking.status, p.change.to);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, ids)) => ids.push(p.booking.id),
                None => groups.push((key, vec![p.booking.id])),
            }
        }
        for ((from, to), ids) in &groups {
            let changed = tx.update_statuses(ids, *from, *to, now)?;
            if let Some(lost) = ids
                .iter()
                .zip(&changed)
                .find(|(a, b)| a != b)
                .map_or_else(|| ids.get(changed.len()).copied(), |(id, _)| Some(*id))
            {
                self.lost = Some(lost);
                return Err(crate::db::bookings::status_race_lost(lost).into());
            }
        }

        let payments: Vec<PaymentRow> = entries
            .iter()
            .filter_map(|e| {
                e.payment.as_ref().map(|(payment, outcome)| PaymentRow {
                    payment,
                    outcome: *outcome,
                    starts_ledger: e.change.is_some(),
                })
            })
            .collect();
        let last_payment_id = if payments.is_empty() {
            None
        } else {
            Some(tx.insert_new_payments(&payments, now)?)
        };
        // Reported for a change written alone (`booking set-status --payment-ref`).
        let payment_id = match entries.as_slice() {
            [Entry {
                payment: Some(_),
                change: Some(_),
            }] => last_payment_id,
            _ => None,
        };

        // A student must never hear "paid" about a booking that is no longer
        // confirmed, "cancelled" about one restored before the notice went
        // out, nor "please pay" about one paid or cancelled (issue 14).
        let mut withdrawn = Vec::with_capacity(planned.len());
        let mut prepared = Vec::new();
        for p in &planned {
            let (booking, from, to) = (&p.booking, p.booking.status, p.change.to);
            let stale = match from {
                Status::Confirmed => (
                    MessageKind::Confirmation,
                    "the booking is no longer confirmed",
                ),
                Status::Cancelled => (
                    MessageKind::Cancellation,
                    "the booking is no longer cancelled",
                ),
                Status::Pending => (MessageKind::Reminder, "the booking is no longer pending"),
            };
            withdrawn.push(messages::withdraw_messages(
                tx, booking.id, stale.0, stale.1,
            )?);
            if !p.change.notify {
                continue;
            }
            let message = match to {
                Status::Confirmed => Some((
                    MessageKind::Confirmation,
                    MessageParams {
                        template: p.change.template.clone(),
                    },
                )),
                // Told only if they had been told they were confirmed.
                Status::Cancelled
                    if from == Status::Confirmed
                        && tx.message_was_sent(booking.id, MessageKind::Confirmation)? =>
                {
                    Some((MessageKind::Cancellation, MessageParams::default()))
                }
                _ => None,
            };
            if let Some((kind, params)) = message {
                prepared.push(messages::prepare_message(
                    tx,
                    booking.clone(),
                    kind,
                    &params,
                )?);
            }
        }
        let new_messages: Vec<_> = prepared.iter().map(|m| m.to_new(None)).collect();
        let message_ids = if new_messages.is_empty() {
            rustc_hash::FxHashMap::default()
        } else {
            tx.enqueue_messages(&new_messages, now)?
        };
        // A blocked student's message is held, not sent (one statement per batch).
        let held: FxHashSet<i64> = if message_ids.is_empty() {
            FxHashSet::default()
        } else {
            let queued: Vec<(i64, i64)> = new_messages
                .iter()
                .filter_map(|m| message_ids.get(&m.booking_id).map(|id| (*id, m.chat_id)))
                .collect();
            tx.hold_messages_for_blocked(&queued)?.into_iter().collect()
        };

        let mut audit = Vec::with_capacity(planned.len());
        // Where each change's own entry is in `audit` (withdrawals come first).
        let mut status_entries = Vec::with_capacity(planned.len());
        let mut outcomes = Vec::with_capacity(planned.len());
        for ((p, withdrawn), entry) in planned.iter().zip(withdrawn).zip(
            entries
                .iter()
                .filter(|e| e.change.is_some())
                .map(|e| e.payment.as_ref()),
        ) {
            let message_id = message_ids.get(&p.booking.id).copied();
            let mut details = json!({
                "source": p.change.source,
                "forced": p.forced,
            });
            if let Some((payment, _)) = entry {
                details["payment_ref"] = json!(payment.external_id);
                details["provider"] = json!(payment.provider);
                details["amount"] = json!(format_amount(payment.amount_minor));
                details["currency"] = json!(payment.currency);
            }
            if let Some(id) = message_id {
                details["message_id"] = json!(id);
                if held.contains(&id) {
                    details["message_held"] = json!("the student blocked the bot");
                }
            }
            let withdrawn_ids: Vec<i64> = withdrawn.iter().map(|(id, _)| *id).collect();
            if !withdrawn_ids.is_empty() {
                details["withdrawn_message_ids"] = json!(withdrawn_ids);
            }
            audit.extend(withdrawn.into_iter().map(|(_, entry)| entry));
            status_entries.push(audit.len());
            audit.push(NewAuditEntry {
                action: action::STATUS_CHANGED,
                booking_id: Some(p.booking.id),
                old_value: Some(p.booking.status.name().to_string()),
                new_value: Some(p.change.to.name().to_string()),
                reason: p.change.reason.clone().filter(|r| !r.trim().is_empty()),
                details,
            });
            outcomes.push(StatusChangeOutcome {
                booking_id: p.booking.id,
                from: p.booking.status,
                to: p.change.to,
                changed: true,
                forced: p.forced,
                audit_id: None,
                message_id,
                message_held: message_id.is_some_and(|id| held.contains(&id)),
                payment_id,
            });
        }
        let audit_ids = tx.append_audits(actor, now, audit)?;
        for (outcome, index) in outcomes.iter_mut().zip(status_entries) {
            outcome.audit_id = Some(audit_ids[index]);
        }
        Ok(outcomes)
    }
}
