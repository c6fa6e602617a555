//! Catalogue rules that commands share: a course or stream named on the
//! command line must exist, and a typo gets the closest names instead of an
//! empty result (an empty CSV from a cron typo is data loss by silence).

use anyhow::Result;

use crate::db::catalogue::Stream;
use crate::db::Db;
use crate::domain::booking::BookingFilter;
use crate::error::{bad_input, PaytrackError};
use crate::text::for_terminal;

/// How many near names a "not found" suggests.
const SUGGESTIONS: usize = 3;

/// Refuses (exit 4) a booking filter whose `--course` or `--stream` names
/// nothing paytrack knows, naming the closest known names.
pub fn check_filter_names(db: &Db, filter: &BookingFilter) -> Result<()> {
    check_names(db, filter.course, filter.stream.as_deref())
}

/// Refuses (exit 4) a `--course` or `--stream` that names nothing paytrack
/// knows, naming the closest known names.
pub fn check_names(db: &Db, course: Option<i64>, stream: Option<&str>) -> Result<()> {
    if let Some(course) = course {
        let known = db.known_course_ids()?;
        if !known.contains(&course) {
            let list: Vec<String> = known.iter().map(i64::to_string).collect();
            return Err(PaytrackError::NotFound(format!(
                "no course {course}; known courses: {}",
                shorten(&list)
            ))
            .into());
        }
    }
    // `--stream ""` selects bookings without a stream: always a valid choice.
    if let Some(stream) = stream.filter(|s| !s.is_empty()) {
        let known = db.known_stream_codes(course)?;
        if !known.iter().any(|k| k == stream) {
            let within = course
                .map(|c| format!(" in course {c}"))
                .unwrap_or_default();
            let near = closest(&known, stream, SUGGESTIONS);
            let elsewhere = match course {
                Some(_) => db.streams_by_code(stream)?,
                None => Vec::new(),
            };
            let hint = if let Some(other) = elsewhere.first() {
                format!("it is in course {}", other.course_id)
            } else if near.is_empty() {
                format!("known streams{within}: {}", shorten(&known))
            } else {
                format!("did you mean {}?", near.join(", "))
            };
            return Err(PaytrackError::NotFound(format!(
                "no stream '{}'{within}; {hint}",
                crate::text::shown(stream)
            ))
            .into());
        }
    }
    Ok(())
}

/// The known names nearest to `typed`, best first: those that contain it or
/// are within a few edits of it (case ignored).
pub fn closest(known: &[String], typed: &str, n: usize) -> Vec<String> {
    let typed = typed.to_lowercase();
    let mut scored: Vec<(f64, &String)> = known
        .iter()
        .map(|name| {
            let lower = name.to_lowercase();
            let contains = lower.contains(&typed) || typed.contains(&lower);
            let score = strsim::jaro_winkler(&lower, &typed) + if contains { 0.5 } else { 0.0 };
            (score, name)
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(n)
        .map(|(_, name)| for_terminal(name).into_owned())
        .collect()
}

/// A list for one line of stderr: the first few names and how many more.
fn shorten(names: &[String]) -> String {
    const SHOWN: usize = 8;
    if names.is_empty() {
        return "none".to_string();
    }
    let mut text: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| for_terminal(n).into_owned())
        .collect();
    if names.len() > SHOWN {
        text.push(format!("… ({} more)", names.len() - SHOWN));
    }
    text.join(", ")
}

/// The course that has a stream with this code: `--course` when given, else
/// the only course using the code.
pub fn resolve_stream(db: &Db, code: &str, course: Option<i64>) -> Result<Stream> {
    let shown_code = crate::text::shown(code);
    if let Some(course) = course {
        return db.stream(course, code)?.ok_or_else(|| {
            PaytrackError::NotFound(format!("stream {shown_code} of course {course} not found"))
                .into()
        });
    }
    let mut found = db.streams_by_code(code)?;
    match found.len() {
        0 => Err(PaytrackError::NotFound(format!("stream {shown_code} not found")).into()),
        1 => Ok(found.remove(0)),
        _ => Err(bad_input(format!(
            "stream {shown_code} exists in courses {}: name one with --course",
            found
                .iter()
                .map(|s| s.course_id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_rank_typos_and_parts_first() {
        let known: Vec<String> = ["8th_stream", "9th_stream", "mentoring", "py_60"]
            .map(String::from)
            .to_vec();
        assert_eq!(closest(&known, "8th_strem", 3)[0], "8th_stream");
        assert_eq!(closest(&known, "MENTOR", 3), vec!["mentoring"]);
        assert!(closest(&known, "zzzzzz", 3).is_empty());
    }
}
