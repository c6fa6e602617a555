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
            .map(|(id, name)| {
                format!(
                    " (closest: {id} \"{}\")",
                    crate::output::sanitize::for_terminal(name)
                )
            })
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
            let closest = closest(code, codes.iter().map(String::as_str))
                .map(|c| format!(" (closest: {})", crate::output::sanitize::for_terminal(c)))
                .unwrap_or_default();
            return Err(PaytrackError::NotFound(format!(
                "stream {} of course {course_id} is not in the catalogue{closest}; \
                 --create-stream adds it",
                crate::output::sanitize::for_terminal(code)
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
                            crate::output::sanitize::for_terminal(code)
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

/// The candidate nearest to `wanted` by edit distance (case-insensitive),
/// if any is near enough to be a typo of it.
fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = wanted.to_lowercase();
    candidates
        .map(|c| (edit_distance(&wanted, &c.to_lowercase()), c))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, c)| *d <= c.chars().count().max(wanted.chars().count()) / 2)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_typo_but_not_a_stranger() {
        let codes = ["7th_stream", "8th_stream", "mentoring"];
        assert_eq!(closest("8th_strem", codes.into_iter()), Some("8th_stream"));
        assert_eq!(closest("8TH_STREAM", codes.into_iter()), Some("8th_stream"));
        assert_eq!(closest("zzzzzzzzzzzzzz", codes.into_iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
