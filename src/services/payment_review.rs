//! What a person does with payments the import could not settle: attach one
//! to a booking (`payments assign`), mark rows as handled (`payments
//! resolve`), and record money returned (`payments refund`). Each runs inside
//! the caller's write transaction; a status change goes through
//! `change_status`, as every status change does.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::db::payments::NewPayment;
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::money::{format_amount, Money};
use crate::domain::payment::{decide, PaymentOutcome, Target};
use crate::domain::Status;
use crate::error::{bad_input, PaytrackError};
use crate::services::reconcile::booking_facts;
use crate::services::status_change::{change_status, StatusChange};

/// A request to attach a stored payment to a booking.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub payment_id: i64,
    pub booking_id: i64,
    /// Move a payment that is already attached (needs a reason).
    pub force: bool,
    pub reason: Option<String>,
}

/// What `assign` did.
#[derive(Debug, Clone, Serialize)]
pub struct AssignOutcome {
    pub payment_id: i64,
    pub booking_id: i64,
    pub from_booking: Option<i64>,
    pub old_outcome: String,
    pub outcome: PaymentOutcome,
    pub booking_confirmed: bool,
    pub message_queued: bool,
    /// What the booking should pay and has now received (net), in the payment's currency.
    pub expected: Option<String>,
    pub received: String,
    pub currency: String,
}

/// Attaches a payment to a booking and reconciles it there with the same
/// rules as the import (`domain::payment::decide`): a payment completing the
/// price confirms a pending booking through `change_status` (audit entry and
/// confirmation message included); otherwise it is partial, overpaid, …
pub fn assign(
    tx: &WriteTx,
    request: &Assignment,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<AssignOutcome> {
    let stored = tx.payment_by_id(request.payment_id)?.ok_or_else(|| {
        PaytrackError::NotFound(crate::tr!(
            "payment {} not found",
            "платёж {} не найден",
            request.payment_id
        ))
    })?;
    let payment = stored.payment;
    let old_outcome = PaymentOutcome::from_name(&payment.outcome);
    let reason = request
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if old_outcome == Some(PaymentOutcome::Conflict) {
        // Not money of its own: another version of a stored payment, which
        // stands. Attaching it would count the same payment twice.
        return Err(PaytrackError::TransitionRefused(format!(
            "payment {} is a conflicting version of a stored payment of {} {}, not money of its own; \
             check which version is right with the provider, then `payments resolve {0} --note …`",
            payment.id,
            crate::text::for_terminal(&payment.provider),
            crate::text::for_terminal(&payment.external_id)
        ))
        .into());
    }
    let unattached = old_outcome.is_some_and(PaymentOutcome::is_unattached);
    let moving_allowed = request.force && reason.is_some();
    if !unattached && !moving_allowed {
        let attached = match payment.booking_id {
            Some(b) => format!("is attached to booking {b} ({})", payment.outcome),
            None => format!("is {}", payment.outcome),
        };
        return Err(PaytrackError::TransitionRefused(format!(
            "payment {} {attached}; only unmatched, unknown-booking and ambiguous payments are assigned without --force --reason TEXT",
            payment.id
        ))
        .into());
    }
    let booking = tx.booking(request.booking_id)?.ok_or_else(|| {
        PaytrackError::NotFound(crate::tr!(
            "booking {} not found",
            "бронь {} не найдена",
            request.booking_id
        ))
    })?;
    let facts = booking_facts(tx, &booking)?;
    let currency = if payment.currency.is_empty() {
        facts.currency.clone().unwrap_or_default()
    } else {
        payment.currency.clone()
    };
    let paid_before = tx
        .received_total_without(booking.id, &currency, Some(payment.id))?
        .clamped_i64();
    let decision = decide(
        Target::Found(&facts),
        payment.amount_minor,
        &currency,
        paid_before,
    );
    let mut message_queued = false;
    if decision.confirm {
        let change = StatusChange {
            booking_id: booking.id,
            to: Status::Confirmed,
            force: false,
            reason: reason.map(str::to_string),
            expect: Some(Status::Pending),
            notify: true,
            // The payment is stored already; it is re-attached below.
            payment: None,
            payment_outcome: decision.outcome,
            template: None,
            source: "payments assign",
        };
        message_queued = change_status(tx, &change, actor, now)?.message_id.is_some();
    }
    tx.attach_payment(payment.id, booking.id, decision.outcome, &currency)?;
    let received = Money::from_minor(paid_before)
        .checked_add(Money::from_minor(payment.amount_minor))
        .unwrap_or_default();
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::PAYMENT_ASSIGNED,
            booking_id: Some(booking.id),
            old_value: Some(payment.outcome.clone()),
            new_value: Some(decision.outcome.as_str().to_string()),
            reason: reason.map(str::to_string),
            details: json!({
                "payment_id": payment.id,
                "provider": payment.provider,
                "payment_ref": payment.external_id,
                "amount": format_amount(payment.amount_minor),
                "currency": currency,
                "from_booking": payment.booking_id,
                "forced": old_outcome.is_none_or(|o| !o.is_unattached()),
                "booking_confirmed": decision.confirm,
            }),
        },
    )?;
    Ok(AssignOutcome {
        payment_id: payment.id,
        booking_id: booking.id,
        from_booking: payment.booking_id,
        old_outcome: payment.outcome,
        outcome: decision.outcome,
        booking_confirmed: decision.confirm,
        message_queued,
        expected: facts.expected_minor.map(format_amount),
        received: received.to_string(),
        currency,
    })
}

/// What `resolve` did with one payment.
#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    pub payment_id: i64,
    pub outcome: String,
    /// false: it had been resolved before (by `resolved_by`), left as it was.
    pub resolved_now: bool,
    pub resolved_by: Option<String>,
}

/// Marks payments that need a person as handled: who, when and a note, one
/// audit entry each. The outcome stays. A payment that never needed a person
/// is refused (nothing is written); one resolved before is left as it was.
pub fn resolve(
    tx: &WriteTx,
    payment_ids: &[i64],
    note: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Resolution>> {
    let note = note.trim();
    if note.is_empty() {
        return Err(bad_input("--note must say what was done"));
    }
    let mut done = Vec::new();
    for &id in payment_ids {
        let stored = tx.payment_by_id(id)?.ok_or_else(|| {
            PaytrackError::NotFound(crate::tr!(
                "payment {id} not found",
                "платёж {id} не найден"
            ))
        })?;
        let p = stored.payment;
        if !PaymentOutcome::from_name(&p.outcome).is_some_and(PaymentOutcome::needs_attention) {
            return Err(bad_input(format!(
                "payment {id} is {}: it needs no attention; nothing was resolved",
                p.outcome
            )));
        }
        if p.resolved_at.is_some() || done.iter().any(|r: &Resolution| r.payment_id == id) {
            done.push(Resolution {
                payment_id: id,
                outcome: p.outcome,
                resolved_now: false,
                resolved_by: p.resolved_by,
            });
            continue;
        }
        tx.resolve_payment(id, actor, note, now)?;
        tx.append_audit(
            actor,
            now,
            NewAuditEntry {
                action: action::PAYMENT_RESOLVED,
                booking_id: p.booking_id,
                old_value: Some(p.outcome.clone()),
                new_value: Some(p.outcome.clone()),
                reason: Some(note.to_string()),
                details: json!({
                    "payment_id": id,
                    "provider": p.provider,
                    "payment_ref": p.external_id,
                    "amount": format_amount(p.amount_minor),
                    "currency": p.currency,
                }),
            },
        )?;
        done.push(Resolution {
            payment_id: id,
            outcome: p.outcome,
            resolved_now: true,
            resolved_by: Some(actor.to_string()),
        });
    }
    Ok(done)
}

/// A refund to record by hand.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub booking_id: i64,
    /// What was returned, positive (stored negative).
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub provider: String,
    /// The provider's reference for the refund; generated when None.
    pub external_id: Option<String>,
}

/// What `refund` did.
#[derive(Debug, Clone, Serialize)]
pub struct RefundOutcome {
    pub payment_id: i64,
    pub booking_id: i64,
    pub external_id: String,
    pub refunded: String,
    /// What the booking keeps after the refund (net), in `currency`.
    pub net_received: String,
    pub currency: String,
    pub status: Status,
    /// A confirmed booking whose money was all returned: cancelling it is
    /// offered (never done here).
    pub fully_refunded_confirmed: bool,
}

/// Records money returned for a booking as a `refund` payment (a negative
/// amount netted against what the booking received). Refused if it would
/// return more than the booking kept, or in another currency than its price.
pub fn refund(
    tx: &WriteTx,
    request: &RefundRequest,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<RefundOutcome> {
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(bad_input("--reason must say why the money was returned"));
    }
    if request.amount_minor <= 0 {
        return Err(bad_input("--amount must be above zero (the sum returned)"));
    }
    let booking = tx.booking(request.booking_id)?.ok_or_else(|| {
        PaytrackError::NotFound(crate::tr!(
            "booking {} not found",
            "бронь {} не найдена",
            request.booking_id
        ))
    })?;
    let facts = booking_facts(tx, &booking)?;
    if let Some(expected) = &facts.currency {
        if *expected != request.currency {
            return Err(bad_input(format!(
                "booking {} is priced in {expected}, not {}",
                booking.id, request.currency
            )));
        }
    }
    let received = tx.received_total(booking.id, &request.currency)?;
    let amount = Money::from_minor(request.amount_minor);
    let net = received
        .checked_sub(amount)
        .ok_or_else(|| anyhow::anyhow!("refund too large to subtract"))?;
    if net.minor() < 0 {
        return Err(bad_input(format!(
            "booking {} kept {received} {}; a refund of {amount} would return more than that",
            booking.id, request.currency
        )));
    }
    let external_id = match &request.external_id {
        Some(id) => id.clone(),
        None => format!("refund-{}-{}", booking.id, tx.next_payment_id()?),
    };
    let payment = NewPayment {
        provider: request.provider.clone(),
        external_id: external_id.clone(),
        booking_id: Some(booking.id),
        amount_minor: -request.amount_minor,
        currency: request.currency.clone(),
        paid_at: Some(crate::domain::time::to_storage(now)),
        description: Some(reason.to_string()),
    };
    let payment_id = tx
        .insert_payment(&payment, PaymentOutcome::Refund, now)?
        .ok_or_else(|| {
            bad_input(format!(
                "payment {external_id} from {} is already recorded",
                request.provider
            ))
        })?;
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::PAYMENT_REFUNDED,
            booking_id: Some(booking.id),
            old_value: Some(received.to_string()),
            new_value: Some(net.to_string()),
            reason: Some(reason.to_string()),
            details: json!({
                "payment_id": payment_id,
                "provider": request.provider,
                "payment_ref": external_id,
                "amount": amount.to_string(),
                "currency": request.currency,
            }),
        },
    )?;
    Ok(RefundOutcome {
        payment_id,
        booking_id: booking.id,
        external_id,
        refunded: amount.to_string(),
        net_received: net.to_string(),
        currency: request.currency.clone(),
        status: booking.status,
        fully_refunded_confirmed: booking.status == Status::Confirmed && !net.is_positive(),
    })
}
