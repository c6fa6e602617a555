//! The bookings CSV: the old system's PostgreSQL export and paytrack's own
//! export, read into `Booking`s with every error naming the line and column.
//! Shared by `bookings import` and the property tests.

use std::collections::HashMap;

use anyhow::Result;

use super::{find_columns, header_name, Columns};
use crate::domain::booking::Booking;
use crate::domain::time::{parse_booking_timestamp, to_storage};
use crate::domain::Status;
use crate::error::bad_input;
use crate::text::from_csv;

/// Columns the file must have.
const REQUIRED: [&str; 5] = ["id", "user_id", "course_id", "confirmed", "created_at"];
/// Columns read when present.
const OPTIONAL: [&str; 5] = [
    "username",
    "first_name",
    "course_stream",
    "referral_code",
    "discount_percent",
];
/// Columns our own export adds; derived, so ignored on the way in.
const DERIVED: [&str; 3] = ["updated_at", "status", "confirmed_at"];

/// Where each known column is in this file, and whose file it is.
pub struct ColumnIndex {
    columns: HashMap<&'static str, usize>,
    /// The file has the columns only our export writes (`updated_at`, `status`),
    /// so its text cells carry our formula protection, which is undone. Other
    /// files (the old system's) are read exactly as they are: a name typed as
    /// `'=x` stays `'=x`.
    our_export: bool,
    /// `--assume-tz`: the zone times without an offset were written in.
    assume_zone: Option<crate::domain::time::DisplayZone>,
}

impl ColumnIndex {
    /// `import --raw`: the file came from `export --raw`, so no cell carries
    /// protection and none is undone. Whether a leading `'` was added by our
    /// protection or typed by a student cannot be told from the file itself
    /// (issue 17: `'=HYPERLINK(1)` came back as `=HYPERLINK(1)`).
    pub fn read_cells_as_they_are(&mut self) {
        self.our_export = false;
    }

    /// `import --assume-tz ZONE`: times without an offset were written in `zone`.
    pub fn assume_zone(&mut self, zone: crate::domain::time::DisplayZone) {
        self.assume_zone = Some(zone);
    }
}

/// Reads the bookings header (see `find_columns`) and tells our own export
/// from the old system's by the columns only ours writes.
pub fn column_index(
    headers: &csv::StringRecord,
    name: &str,
    warn: &dyn Fn(&str),
) -> Result<ColumnIndex> {
    let columns = find_columns(
        headers,
        name,
        warn,
        Columns {
            required: &REQUIRED,
            optional: &OPTIONAL,
            ignored: &DERIVED,
        },
    )?;
    let our_export = ["updated_at", "status"].iter().all(|c| {
        headers
            .iter()
            .any(|h| c.eq_ignore_ascii_case(header_name(h)))
    });
    Ok(ColumnIndex {
        columns,
        our_export,
        assume_zone: None,
    })
}

/// Reads one data row into a booking; errors name the file, line and column.
pub fn parse_row(
    record: &csv::StringRecord,
    index: &ColumnIndex,
    line: u64,
    file: &str,
) -> Result<Booking> {
    let cell = |column: &str| -> Option<&str> {
        index
            .columns
            .get(column)
            .and_then(|&i| record.get(i))
            .filter(|v| !v.is_empty())
    };
    let fail = |column: &str, why: String| {
        bad_input(format!("{file}: line {line}, column {column}: {why}"))
    };
    let required =
        |column: &'static str| cell(column).ok_or_else(|| fail(column, "is empty".into()));
    let int = |column: &'static str, text: &str| {
        text.trim().parse::<i64>().map_err(|_| {
            fail(
                column,
                format!("'{}' is not a whole number", crate::text::shown(text)),
            )
        })
    };
    let text = |column: &str| {
        cell(column).map(|v| {
            if index.our_export {
                from_csv(v).to_string()
            } else {
                v.to_string()
            }
        })
    };

    let id = int("id", required("id")?)?;
    if id <= 0 {
        return Err(fail("id", format!("{id} is not a positive id")));
    }
    let status_text = required("confirmed")?;
    let status = Status::from_code(int("confirmed", status_text)?).ok_or_else(|| {
        fail(
            "confirmed",
            format!("'{}' is not 2, 1 or -1", crate::text::shown(status_text)),
        )
    })?;
    let created = required("created_at")?;
    let created_at =
        parse_booking_timestamp(created, index.assume_zone.as_ref()).map_err(|why| {
            fail(
                "created_at",
                format!("'{}' {why}", crate::text::shown(created)),
            )
        })?;
    let discount_percent = cell("discount_percent")
        .map(|d| {
            parse_discount(d).ok_or_else(|| {
                fail(
                    "discount_percent",
                    format!(
                        "'{}' is not a whole percentage from 0 to 100",
                        crate::text::shown(d)
                    ),
                )
            })
        })
        .transpose()?;
    Ok(Booking {
        id,
        user_id: int("user_id", required("user_id")?)?,
        username: text("username"),
        first_name: text("first_name"),
        course_id: int("course_id", required("course_id")?)?,
        course_stream: text("course_stream"),
        status,
        created_at: to_storage(created_at),
        referral_code: text("referral_code"),
        discount_percent,
        updated_at: String::new(),
        confirmed_at: None,
    })
}

/// A discount as the old system wrote it: a whole number from 0 to 100,
/// possibly as a numeric with zero decimals (`15.00`). Signs, fractions
/// (`99.99`) and anything out of range are refused rather than rounded.
fn parse_discount(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || whole.len() > 3
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b == b'0')
    {
        return None;
    }
    whole.parse::<i64>().ok().filter(|d| (0..=100).contains(d))
}
