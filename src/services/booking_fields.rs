//! The one write path for a booking's fields other than its status
//! (`bookings import`, `bookings edit`, `undo`): updates the row, lets the
//! triggers move the counters, and writes one `booking.edited` audit entry
//! whose old and new values are JSON objects of the changed fields only.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::{field_changes, BookingFields};
use crate::error::PaytrackError;

/// What changed: the old and new values of each changed field.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FieldChanges {
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
}

impl FieldChanges {
    pub fn is_empty(&self) -> bool {
        self.after.is_empty()
    }
}

/// Where a field change comes from, for its audit entry.
#[derive(Debug, Clone)]
pub struct EditOrigin<'a> {
    /// "bookings import", "bookings edit", "undo"...
    pub source: &'a str,
    pub reason: Option<&'a str>,
    /// More audit details (a JSON object), e.g. the file of an import.
    pub extra: Value,
}

/// Sets the booking's fields to `new`, audited as coming from `origin`. No
/// change, no write. The catalogue must already hold the course and stream
/// (callers decide whether to create them).
pub fn set_fields(
    tx: &WriteTx,
    booking_id: i64,
    new: &BookingFields,
    origin: &EditOrigin,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<FieldChanges> {
    let booking = tx.booking(booking_id)?.ok_or_else(|| {
        PaytrackError::NotFound(crate::tr!(
            "booking {booking_id} not found",
            "бронь {booking_id} не найдена"
        ))
    })?;
    let old = BookingFields::of(&booking);
    let (before, after) = field_changes(&old, new);
    let changes = FieldChanges { before, after };
    if changes.is_empty() {
        return Ok(changes);
    }
    if !tx.update_booking_fields(booking_id, &old, new, now)? {
        // Lost to another writer (on PostgreSQL the bot writes the same
        // rows): nothing is audited as done, and the whole command rolls back.
        return Err(PaytrackError::ExpectationFailed(format!(
            "booking {booking_id} changed while paytrack was editing it (another program wrote it); \
             nothing was changed: look at it again (bookings show {booking_id}) and retry"
        ))
        .into());
    }
    let mut details =
        json!({ "source": origin.source, "fields": changes.after.keys().collect::<Vec<_>>() });
    if let Value::Object(extra) = &origin.extra {
        for (k, v) in extra {
            details[k] = v.clone();
        }
    }
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::BOOKING_EDITED,
            booking_id: Some(booking_id),
            old_value: Some(Value::Object(changes.before.clone()).to_string()),
            new_value: Some(Value::Object(changes.after.clone()).to_string()),
            reason: origin
                .reason
                .filter(|r| !r.trim().is_empty())
                .map(str::to_string),
            details,
        },
    )?;
    Ok(changes)
}
