//! `bookings import`: the old system's PostgreSQL export (or our own export),
//! in one transaction — every row or none — and idempotent.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use anyhow::{Context as _, Result};
use serde_json::json;

use super::Context;
use crate::cli::ImportArgs;
use crate::db::bookings::Upsert;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::time::{parse_legacy_timestamp, to_storage};
use crate::domain::{check_transition, Status, Transition};
use crate::error::{bad_input, exit};
use crate::output::sanitize::from_csv;

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

/// Counts reported after an import.
#[derive(Debug, Default, serde::Serialize)]
pub struct ImportCounts {
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub status_changes: u64,
}

/// Opens a file argument (`-` is stdin) as a byte reader, with a size for progress.
pub fn open_input(path: &std::path::Path) -> Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(bad_input(format!("{} is a directory", path.display())));
    }
    Ok((
        Box::new(std::io::BufReader::with_capacity(256 * 1024, file)),
        Some(meta.len()),
    ))
}

pub fn run(ctx: &Context, args: ImportArgs) -> Result<u8> {
    let (input, size) = open_input(&args.file)?;
    let name = args.file.display().to_string();
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let headers = reader
        .headers()
        .with_context(|| format!("{name}: reading the header"))?
        .clone();
    let index = column_index(&headers, &name, &ctx.out)?;
    let bar = crate::output::progress::bytes(
        &ctx.out,
        size,
        ctx.out.tr("importing bookings", "импорт бронирований"),
    );

    let now = ctx.now;
    let actor = ctx.actor.clone();
    let result = super::write_unless(
        ctx,
        |tx| {
            let mut counts = ImportCounts::default();
            let mut seen: HashMap<i64, u64> = HashMap::new();
            let mut known_streams: HashSet<(i64, String)> = HashSet::new();
            let mut known_courses: HashSet<i64> = HashSet::new();
            // Into an empty table (the first import of the old system's export),
            // the indexes are built once after the rows instead of row by row.
            tx.load_bookings_with_deferred_indexes(|tx| {
                let mut record = csv::StringRecord::new();
                loop {
                    let more = reader
                        .read_record(&mut record)
                        .map_err(|e| bad_input(format!("{name}: {}", describe_csv_error(&e))))?;
                    if !more {
                        break;
                    }
                    let line = record.position().map_or(0, csv::Position::line);
                    let booking = parse_row(&record, &index, line, &name)?;
                    if let Some(first) = seen.insert(booking.id, line) {
                        return Err(bad_input(format!(
                            "{name}: line {line}: booking id {} already appears on line {first}",
                            booking.id
                        )));
                    }
                    if known_courses.insert(booking.course_id) {
                        tx.ensure_course(booking.course_id, now)?;
                    }
                    if let Some(code) = booking.course_stream.as_deref().filter(|c| !c.is_empty()) {
                        if known_streams.insert((booking.course_id, code.to_string())) {
                            tx.ensure_stream(booking.course_id, code, now)?;
                        }
                    }
                    counts.rows += 1;
                    match tx.upsert_booking(&booking, now)? {
                        Upsert::Inserted => counts.inserted += 1,
                        Upsert::Unchanged => counts.unchanged += 1,
                        Upsert::Updated { old_status } => {
                            counts.updated += 1;
                            if let Some(from) = old_status {
                                counts.status_changes += 1;
                                record_imported_status(
                                    tx,
                                    &actor,
                                    now,
                                    &name,
                                    booking.id,
                                    from,
                                    booking.status,
                                )?;
                            }
                        }
                    }
                    if counts.rows % 8192 == 0 {
                        bar.set_position(record.position().map_or(0, csv::Position::byte));
                        crate::interrupt::check()?;
                    }
                }
                Ok(())
            })?;
            if counts.inserted + counts.updated > 0 {
                tx.append_audit(
                &actor,
                now,
                NewAuditEntry {
                    action: action::BOOKINGS_IMPORTED,
                    details: json!({ "file": name, "rows": counts.rows, "inserted": counts.inserted,
                        "updated": counts.updated, "unchanged": counts.unchanged,
                        "status_changes": counts.status_changes, "dry_run": args.dry_run }),
                    ..Default::default()
                },
            )?;
            }
            Ok(counts)
        },
        // A dry run rolls back; its counts are exact because the work was really done.
        |_| !args.dry_run,
    );
    bar.finish_and_clear();
    let (counts, committed) = result?;
    let dry_run = !committed;
    let out = &ctx.out;
    let verb = if dry_run {
        out.tr("would import", "будет импортировано")
    } else {
        out.tr("imported", "импортировано")
    };
    out.note(&format!(
        "{name}: {verb} {} {}: {} {}, {} {}, {} {}",
        counts.rows,
        out.tr("rows", "строк"),
        counts.inserted,
        out.tr("inserted", "добавлено"),
        counts.updated,
        out.tr("updated", "обновлено"),
        counts.unchanged,
        out.tr("unchanged", "без изменений"),
    ));
    if counts.rows > 0 && counts.inserted + counts.updated == 0 {
        out.note(out.tr(
            "nothing changed: the file was already imported",
            "ничего не изменилось: файл уже импортирован",
        ));
    }
    Ok(exit::OK)
}

/// Status changes made by an import are each audited. They go through the
/// state machine as forced changes: the file is the old system's truth.
fn record_imported_status(
    tx: &crate::db::WriteTx,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
    file: &str,
    booking_id: i64,
    from: Status,
    to: Status,
) -> Result<()> {
    let reason = format!("imported from {file}");
    let transition =
        check_transition(from, to, true, Some(&reason)).map_err(|e| anyhow::anyhow!(e))?;
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::STATUS_CHANGED,
            booking_id: Some(booking_id),
            old_value: Some(from.name().into()),
            new_value: Some(to.name().into()),
            reason: Some(reason),
            details: json!({ "source": "bookings import", "forced": transition == Transition::Forced }),
        },
    )?;
    Ok(())
}

/// Where each known column is in this file, and whose file it is.
pub struct ColumnIndex {
    columns: HashMap<&'static str, usize>,
    /// The file has the columns only our export writes (`updated_at`, `status`),
    /// so its text cells carry our formula protection, which is undone. Other
    /// files (the old system's) are read exactly as they are: a name typed as
    /// `'=x` stays `'=x`.
    our_export: bool,
}

/// The columns a CSV reader knows: needed, read when present, and silently ignored.
pub struct Columns<'a> {
    pub required: &'a [&'static str],
    pub optional: &'a [&'static str],
    pub ignored: &'a [&'static str],
}

/// A header cell as written, without a BOM (common in exports from Windows tools) or spaces.
fn header_name(header: &str) -> &str {
    header.trim_start_matches('\u{feff}').trim()
}

/// Reads a header: finds the known columns (any case), warns about unknown
/// ones, and refuses a file without a required column or with one twice.
pub fn find_columns(
    headers: &csv::StringRecord,
    name: &str,
    out: &crate::output::Output,
    columns: Columns,
) -> Result<HashMap<&'static str, usize>> {
    let mut map = HashMap::new();
    for (i, header) in headers.iter().enumerate() {
        let header = header_name(header);
        let known = columns
            .required
            .iter()
            .chain(columns.optional.iter())
            .find(|c| c.eq_ignore_ascii_case(header));
        match known {
            Some(column) => {
                if map.insert(*column, i).is_some() {
                    return Err(bad_input(format!(
                        "{name}: column '{column}' appears twice in the header"
                    )));
                }
            }
            None if columns
                .ignored
                .iter()
                .any(|c| c.eq_ignore_ascii_case(header)) => {}
            None => out.warn(&format!(
                "{name}: ignoring unknown column '{}'",
                crate::output::sanitize::for_terminal(header)
            )),
        }
    }
    for column in columns.required {
        if !map.contains_key(column) {
            return Err(bad_input(format!(
                "{name}: missing column '{column}' (the header needs {})",
                columns.required.join(", ")
            )));
        }
    }
    Ok(map)
}

/// Reads the bookings header (see `find_columns`) and tells our own export
/// from the old system's by the columns only ours writes.
pub fn column_index(
    headers: &csv::StringRecord,
    name: &str,
    out: &crate::output::Output,
) -> Result<ColumnIndex> {
    let columns = find_columns(
        headers,
        name,
        out,
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
        text.trim()
            .parse::<i64>()
            .map_err(|_| fail(column, format!("'{}' is not a whole number", shorten(text))))
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
    let status = Status::from_code(int("confirmed", status_text)?)
        .ok_or_else(|| fail("confirmed", format!("'{status_text}' is not 2, 1 or -1")))?;
    let created = required("created_at")?;
    let created_at = parse_legacy_timestamp(created).ok_or_else(|| {
        fail(
            "created_at",
            format!("'{}' is not a timestamp", shorten(created)),
        )
    })?;
    let discount_percent = cell("discount_percent")
        .map(|d| {
            let d = d.trim().split('.').next().unwrap_or(d);
            int("discount_percent", d)
        })
        .transpose()?;
    if let Some(d) = discount_percent {
        if !(0..=100).contains(&d) {
            return Err(fail(
                "discount_percent",
                format!("{d} is not between 0 and 100"),
            ));
        }
    }
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

/// A cell quoted in an error message: short, and safe for the terminal.
pub fn shorten(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    let cut = if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    };
    crate::output::sanitize::for_terminal(&cut).into_owned()
}

/// csv's errors, phrased with the line number first.
pub fn describe_csv_error(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: not valid UTF-8 (save the file as UTF-8)",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: {len} fields where the header has {expected_len} (an unbalanced quote?)",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        _ => err.to_string(),
    }
}
