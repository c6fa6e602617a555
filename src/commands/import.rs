//! `bookings import`: the old system's PostgreSQL export (or our own export),
//! in one transaction — every row or none — and repeatable: the rules of a
//! re-import (what the file may change, what is a conflict) are in
//! `services::sync`.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use anyhow::{Context as _, Result};
use serde_json::json;

use super::Context;
use crate::cli::ImportArgs;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::time::{parse_booking_timestamp, to_storage};
use crate::domain::Status;
use crate::error::{bad_input, exit};
use crate::output::file::Guard;
use crate::output::sanitize::from_csv;
use crate::services::sync::{Conflict, SeenIds, SyncCounts, SyncOptions, SyncRun};

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

/// Opens a file argument (`-` is stdin) as a byte reader, with a size for progress.
pub fn open_input(path: &std::path::Path) -> Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let file = std::fs::File::open(path).map_err(|e| {
        bad_input(format!(
            "cannot read {}: {e}",
            crate::output::sanitize::shown_path(path)
        ))
    })?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(bad_input(format!(
            "{} is a directory",
            crate::output::sanitize::shown_path(path)
        )));
    }
    Ok((
        Box::new(std::io::BufReader::with_capacity(256 * 1024, file)),
        Some(meta.len()),
    ))
}

pub fn run(ctx: &Context, args: ImportArgs) -> Result<u8> {
    // The report is judged before anything is written: a bad target changes nothing.
    let report_guard = Guard {
        database: Some(ctx.db_path.clone()),
        force: false,
        replaces_databases: false,
    };
    if let Some(report) = &args.report {
        // Here --force means "take the file's statuses", never "replace the report".
        if std::fs::symlink_metadata(report).is_ok_and(|m| m.file_type().is_file()) {
            return Err(bad_input(format!(
                "{} exists; name a new report file (nothing was written)",
                crate::output::sanitize::shown_path(report)
            )));
        }
        crate::output::file::check_target(report, &report_guard)?;
    }
    let (input, size) = open_input(&args.file)?;
    let name = crate::output::sanitize::shown_path(&args.file);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let headers = reader
        .headers()
        .with_context(|| format!("{name}: reading the header"))?
        .clone();
    let mut index = column_index(&headers, &name, &ctx.out)?;
    if args.raw {
        index.read_cells_as_they_are();
    }
    if let Some(zone) = &args.assume_tz {
        index.assume_zone(
            crate::domain::time::DisplayZone::parse(zone)
                .map_err(|e| bad_input(format!("--assume-tz: {e}")))?,
        );
    }
    let bar = crate::output::progress::bytes(
        &ctx.out,
        size,
        ctx.out.tr("importing bookings", "импорт бронирований"),
    );

    let now = ctx.now;
    let actor = ctx.actor.clone();
    let options = SyncOptions {
        file: name.clone(),
        force: args.force,
        reason: args.reason.clone().filter(|r| !r.trim().is_empty()),
    };
    // Into an empty table the indexes are built after the rows: their sorts
    // spill to SQLite's temporary files, not memory (128 MB at 1M rows, issue 19).
    let mut db = ctx.open_db()?;
    db.sort_in_temp_files()?;
    let result = super::write_unless_on(
        db,
        |tx| {
            let mut seen = SeenIds::default();
            let mut known_streams: HashSet<(i64, String)> = HashSet::new();
            let mut known_courses: HashSet<i64> = HashSet::new();
            // Into an empty table (the first import of the old system's export),
            // the indexes are built once after the rows instead of row by row.
            let counts = tx.load_bookings_with_deferred_indexes(|tx| {
                let mut run = SyncRun::default();
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
                    run.row(tx, &booking, line, &options, &actor, now)?;
                    if run.counts.rows % 8192 == 0 {
                        bar.set_position(record.position().map_or(0, csv::Position::byte));
                        crate::interrupt::check()?;
                    }
                }
                run.finish(tx, now)
            })?;
            if counts.inserted + counts.updated > 0 || !counts.conflicts.is_empty() {
                tx.append_audit(
                    &actor,
                    now,
                    NewAuditEntry {
                        action: action::BOOKINGS_IMPORTED,
                        reason: options.reason.clone(),
                        details: json!({ "file": name, "rows": counts.rows, "inserted": counts.inserted,
                            "updated": counts.updated, "unchanged": counts.unchanged,
                            "status_changes": counts.status_changes, "forced": counts.forced,
                            "kept": counts.kept, "conflicts": counts.conflicts.len(),
                            "dry_run": args.dry_run }),
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
    if let Some(report) = &args.report {
        write_report(&ctx.out, report, report_guard, &counts.conflicts)?;
    }
    summarise(ctx, &name, &counts, dry_run, args.report.is_some());
    Ok(if counts.conflicts.is_empty() {
        exit::OK
    } else {
        exit::ATTENTION
    })
}

/// Conflicts shown on stderr before pointing at the report.
const CONFLICTS_SHOWN: usize = 20;

/// The summary and the conflicts, on stderr.
fn summarise(ctx: &Context, name: &str, counts: &SyncCounts, dry_run: bool, reported: bool) {
    let out = &ctx.out;
    let verb = if dry_run {
        out.tr(
            "dry run, nothing written: would import",
            "пробный запуск, ничего не записано: будет импортировано",
        )
    } else {
        out.tr("imported", "импортировано")
    };
    let mut line = format!(
        "{name}: {verb} {} {}: {} {}, {} {}, {} {}, {} {}",
        counts.rows,
        out.tr("rows", "строк"),
        counts.inserted,
        out.tr("inserted", "добавлено"),
        counts.updated,
        out.tr("updated", "обновлено"),
        counts.unchanged,
        out.tr("unchanged", "без изменений"),
        counts.conflicts.len(),
        out.tr("conflicts", "конфликтов"),
    );
    if counts.kept > 0 {
        line += &format!(
            "; {} {}",
            counts.kept,
            out.tr(
                "changed in paytrack since the last import kept their status",
                "изменённых в paytrack после прошлого импорта сохранили статус"
            )
        );
    }
    if counts.forced > 0 {
        line += &format!("; {} {}", counts.forced, out.tr("forced", "принудительно"));
    }
    out.note(&line);
    for c in counts.conflicts.iter().take(CONFLICTS_SHOWN) {
        out.warn(&format!(
            "{name}: {} {}: {} {}: paytrack {}, {} {}: {}",
            out.tr("line", "строка"),
            c.line,
            out.tr("booking", "бронь"),
            c.booking_id,
            c.paytrack_status,
            out.tr("file", "файл"),
            c.file_status,
            c.why
        ));
    }
    if counts.conflicts.len() > CONFLICTS_SHOWN {
        out.warn(&format!(
            "… {} {}",
            counts.conflicts.len() - CONFLICTS_SHOWN,
            out.tr("more conflicts", "конфликтов ещё")
        ));
    }
    if !counts.conflicts.is_empty() {
        let hint = if reported {
            out.tr(
                "conflicting statuses were not applied (see the report); settle each with `booking set-status`, or re-import with --force --reason",
                "конфликтующие статусы не применены (см. отчёт); решите каждый через `booking set-status` или импортируйте заново с --force --reason",
            )
        } else {
            out.tr(
                "conflicting statuses were not applied; --report FILE lists them all; settle each with `booking set-status`, or re-import with --force --reason",
                "конфликтующие статусы не применены; --report FILE перечислит все; решите каждый через `booking set-status` или импортируйте заново с --force --reason",
            )
        };
        out.note(hint);
    } else if counts.rows > 0 && counts.inserted + counts.updated == 0 {
        out.note(out.tr(
            "nothing changed: the file has nothing new",
            "ничего не изменилось: в файле нет нового",
        ));
    }
}

/// The conflicts as CSV: line, booking_id, paytrack_status, file_status, why.
fn write_report(
    out: &crate::output::Output,
    path: &std::path::Path,
    guard: Guard,
    conflicts: &[Conflict],
) -> Result<()> {
    crate::output::file::write_with(path, guard, |sink| {
        let mut w = crate::output::csv_writer(sink);
        w.write_record([
            "line",
            "booking_id",
            "paytrack_status",
            "file_status",
            "why",
        ])?;
        for c in conflicts {
            w.write_record([
                c.line.to_string(),
                c.booking_id.to_string(),
                c.paytrack_status.name().to_string(),
                c.file_status.name().to_string(),
                out.csv_text(&c.why).into_owned(),
            ])?;
        }
        w.flush()?;
        Ok(())
    })
}

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
                crate::output::sanitize::shown(header)
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
                format!(
                    "'{}' is not a whole number",
                    crate::output::sanitize::shown(text)
                ),
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
            format!(
                "'{}' is not 2, 1 or -1",
                crate::output::sanitize::shown(status_text)
            ),
        )
    })?;
    let created = required("created_at")?;
    let created_at =
        parse_booking_timestamp(created, index.assume_zone.as_ref()).map_err(|why| {
            fail(
                "created_at",
                format!("'{}' {why}", crate::output::sanitize::shown(created)),
            )
        })?;
    let discount_percent = cell("discount_percent")
        .map(|d| {
            parse_discount(d).ok_or_else(|| {
                fail(
                    "discount_percent",
                    format!(
                        "'{}' is not a whole percentage from 0 to 100",
                        crate::output::sanitize::shown(d)
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
