//! Catalogue look-ups several commands share: which stream a code names.

use anyhow::Result;

use crate::db::catalogue::Stream;
use crate::db::Db;
use crate::error::{bad_input, PaytrackError};

/// The course that has a stream with this code: `--course` when given, else
/// the only course using the code.
pub fn resolve_stream(db: &Db, code: &str, course: Option<i64>) -> Result<Stream> {
    if let Some(course) = course {
        return db.stream(course, code)?.ok_or_else(|| {
            PaytrackError::NotFound(format!("stream {code} of course {course} not found")).into()
        });
    }
    let mut found = db.streams_by_code(code)?;
    match found.len() {
        0 => Err(PaytrackError::NotFound(format!("stream {code} not found")).into()),
        1 => Ok(found.remove(0)),
        _ => Err(bad_input(format!(
            "stream {code} exists in courses {}: name one with --course",
            found
                .iter()
                .map(|s| s.course_id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
