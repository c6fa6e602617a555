//! New bookings in bulk on PostgreSQL: `COPY` into a staging table, then one
//! set-based insert into the bot's table and paytrack's `booking_state`
//! (`paytrack.insert_staged_bookings`, installed with the view). Through the
//! view each row ran its INSTEAD OF trigger (five statements a row): a
//! 100k-row first import took 73 s.

use std::io::Write as _;

use anyhow::{Context as _, Result};

use super::session::Session;
use crate::domain::booking::{search_text, Booking};
use crate::domain::Status;

const STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS paytrack_staged_bookings (
    id bigint, user_id bigint, username text, first_name text, course_id bigint,
    course_stream text, confirmed bigint, created_at timestamptz, referral_code text,
    discount_percent bigint, updated_at text, confirmed_at text, search_text text
) ON COMMIT DELETE ROWS";

/// Inserts `batch` (ids free) as `WriteTx::insert_bookings` does on SQLite.
pub fn insert_bookings(session: &Session, batch: &[Booking], now: &str) -> Result<()> {
    session.execute_batch(STAGING)?;
    {
        let mut client = session.client();
        let mut copy = client
            .copy_in("COPY pg_temp.paytrack_staged_bookings FROM STDIN")
            .context("starting COPY of new bookings")?;
        let mut line = String::new();
        for b in batch {
            line.clear();
            let confirmed_at = (b.status == Status::Confirmed)
                .then(|| b.confirmed_at.as_deref().unwrap_or(&b.created_at));
            let search = search_text(b.username.as_deref(), b.first_name.as_deref());
            let fields: [Option<String>; 13] = [
                Some(b.id.to_string()),
                Some(b.user_id.to_string()),
                b.username.clone(),
                b.first_name.clone(),
                Some(b.course_id.to_string()),
                b.course_stream.clone(),
                Some(b.status.code().to_string()),
                Some(b.created_at.clone()),
                b.referral_code.clone(),
                b.discount_percent.map(|d| d.to_string()),
                Some(now.to_string()),
                confirmed_at.map(str::to_string),
                Some(search),
            ];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    line.push('\t');
                }
                match field {
                    None => line.push_str("\\N"),
                    Some(text) => push_copy_text(&mut line, text),
                }
            }
            line.push('\n');
            copy.write_all(line.as_bytes())?;
        }
        copy.finish().map_err(super::session::wrap)?;
    }
    session.execute_batch("SELECT paytrack.insert_staged_bookings()")?;
    Ok(())
}

/// `text` in COPY's text format: backslash, tab, newline and CR escaped.
fn push_copy_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_text_escapes_what_would_split_a_row() {
        let mut out = String::new();
        super::push_copy_text(&mut out, "a\tb\nc\\d\re\\N");
        assert_eq!(out, "a\\tb\\nc\\\\d\\re\\\\N");
    }
}
