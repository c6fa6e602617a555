//! `bookings add`: a new booking made in paytrack (by the bot, another
//! program or an admin), checked against the catalogue and the seats,
//! idempotent by key, and audited.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::payment::PaymentOutcome;
use crate::domain::time::to_storage;
use crate::domain::Status;
use crate::error::{bad_input, PaytrackError};
use crate::services::placement::{check_placement, PlacementRules};
use crate::services::status_change::{change_status, StatusChange};

/// A booking to add, parsed at the edge (flags or one JSON line).
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub user_id: i64,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub course_id: i64,
    pub stream: Option<String>,
    pub referral_code: Option<String>,
    pub discount_percent: Option<i64>,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    /// Idempotency key: the same key again returns the same booking.
    pub key: Option<String>,
}

/// How `add_booking` may bend the catalogue rules.
#[derive(Debug, Clone, Default)]
pub struct AddRules {
    pub create_stream: bool,
    pub force: bool,
    pub reason: Option<String>,
    /// A booking added as confirmed queues its confirmation message, as any
    /// confirmation does, unless this is set.
    pub no_notify: bool,
}

/// What `add_booking` did.
#[derive(Debug, Clone, PartialEq)]
pub struct AddOutcome {
    pub booking: Booking,
    /// false: the key was seen before and its booking is returned unchanged.
    pub created: bool,
}

/// Adds one booking inside `tx` (or finds the one its key made).
pub fn add_booking(
    tx: &WriteTx,
    new: &NewBooking,
    rules: &AddRules,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<AddOutcome> {
    if let Some(key) = &new.key {
        if let Some(id) = tx.booking_for_key(key)? {
            let booking = tx.booking(id)?.ok_or_else(|| {
                anyhow::anyhow!("key {key} names booking {id}, which no longer exists")
            })?;
            // A retry carries the same booking; the same key for another
            // person or course is a bug in the caller, not a retry.
            if booking.user_id != new.user_id || booking.course_id != new.course_id {
                return Err(bad_input(format!(
                    "key {} was used for booking {id} (user {}, course {}); use a new key",
                    crate::text::for_terminal(key),
                    booking.user_id,
                    booking.course_id
                )));
            }
            return Ok(AddOutcome {
                booking,
                created: false,
            });
        }
    }
    let reason = rules.reason.as_deref().filter(|r| !r.trim().is_empty());
    let placement = check_placement(
        tx,
        new.course_id,
        new.stream.as_deref(),
        PlacementRules {
            create_stream: rules.create_stream,
            over_capacity: rules.force && reason.is_some(),
        },
        now,
    )?;
    // Another program may have written the largest id there is; the next
    // would wrap to a negative one (issue 25).
    let id = tx.next_booking_id()?.ok_or_else(|| {
        PaytrackError::Database(format!(
            "booking id {} is taken (another program wrote it) and no larger id exists; \
             nothing was added (renumber that booking first)",
            i64::MAX
        ))
    })?;
    let stamp = to_storage(now);
    // A confirmation is a status change like any other: the booking is born
    // pending and confirmed through `change_status`, which audits it and
    // queues the message.
    let born = if new.status == Status::Confirmed {
        Status::Pending
    } else {
        new.status
    };
    let booking = Booking {
        id,
        user_id: new.user_id,
        username: new.username.clone(),
        first_name: new.first_name.clone(),
        course_id: new.course_id,
        course_stream: new.stream.clone(),
        status: born,
        created_at: to_storage(new.created_at),
        referral_code: new.referral_code.clone(),
        discount_percent: new.discount_percent,
        updated_at: stamp.clone(),
        confirmed_at: None,
    };
    tx.insert_booking(&booking, &stamp)?;
    if let Some(key) = &new.key {
        tx.record_booking_key(key, id, now)?;
    }
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::BOOKING_ADDED,
            booking_id: Some(id),
            old_value: None,
            new_value: Some(born.name().to_string()),
            reason: if placement.over_capacity {
                reason.map(str::to_string)
            } else {
                None
            },
            details: json!({
                "source": "bookings add",
                "user_id": new.user_id,
                "course_id": new.course_id,
                "course_stream": new.stream,
                "key": new.key,
                "stream_created": placement.stream_created,
                "over_capacity": placement.over_capacity,
            }),
        },
    )?;
    if new.status == Status::Confirmed {
        change_status(
            tx,
            &StatusChange {
                booking_id: id,
                to: Status::Confirmed,
                force: false,
                reason: None,
                expect: Some(Status::Pending),
                notify: !rules.no_notify,
                payment: None,
                payment_outcome: PaymentOutcome::Recorded,
                template: None,
                source: "bookings add",
            },
            actor,
            now,
        )?;
    }
    let booking = tx.booking(id)?.expect("inserted in this transaction");
    Ok(AddOutcome {
        booking,
        created: true,
    })
}
