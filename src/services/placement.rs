//! Where a booking may go: its course and stream must be in the catalogue
//! (a typo names the closest match), and a stream with no seats left takes
//! no more bookings unless an admin forces it with a reason. Shared by
//! `bookings add` and `bookings edit`.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::db::WriteTx;
use crate::error::PaytrackError;

/// What a placement may do beyond the plain rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlacementRules {
    /// Add a stream missing from the catalogue instead of refusing.
    pub create_stream: bool,
    /// Place into a full stream (the caller has a reason).
    pub over_capacity: bool,
}

/// What checking a placement found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// The stream was added to the catalogue.
    pub stream_created: bool,
    /// The stream was full and the booking went in anyway.
    pub over_capacity: bool,
}

/// Checks (and with `create_stream`, prepares) a booking's place.
/// Errors: NotFound (exit 4) naming the closest match; refused (exit 5) for a full stream.
pub fn check_placement(
    tx: &WriteTx,
    course_id: i64,
    stream: Option<&str>,
    rules: PlacementRules,
    now: DateTime<Utc>,
) -> Result<Placement> {
    let mut placement = Placement::default();
    if tx.course(course_id)?.is_none() {
        let courses = tx.course_names()?;
        let closest = courses
            .iter()
            .min_by_key(|(id, _)| id.abs_diff(course_id))
            .map(|(id, name)| format!(" (closest: {id} \"{}\")", crate::text::for_terminal(name)))
            .unwrap_or_default();
        return Err(PaytrackError::NotFound(format!(
            "course {course_id} is not in the catalogue{closest}; add it with `paytrack courses add`"
        ))
        .into());
    }
    let Some(code) = stream.filter(|s| !s.is_empty()) else {
        return Ok(placement);
    };
    match tx.stream(course_id, code)? {
        None if rules.create_stream => {
            placement.stream_created = tx.ensure_stream(course_id, code, now)?;
        }
        None => {
            let codes = tx.stream_codes(course_id)?;
            // The same nearness rule as every other "no such stream" (services::catalogue).
            let closest = crate::services::catalogue::closest(&codes, code, 1)
                .first()
                .map(|c| format!(" (closest: {c})"))
                .unwrap_or_default();
            return Err(PaytrackError::NotFound(format!(
                "stream {} of course {course_id} is not in the catalogue{closest}; \
                 --create-stream adds it",
                crate::text::for_terminal(code)
            ))
            .into());
        }
        Some(s) => {
            if let Some(capacity) = s.capacity {
                let taken = tx.seats_taken(course_id, code)?;
                if taken >= capacity {
                    if !rules.over_capacity {
                        return Err(PaytrackError::TransitionRefused(format!(
                            "stream {} is full ({taken} of {capacity} seats taken); \
                             use --force --reason to place the booking anyway",
                            crate::text::for_terminal(code)
                        ))
                        .into());
                    }
                    placement.over_capacity = true;
                }
            }
        }
    }
    Ok(placement)
}
