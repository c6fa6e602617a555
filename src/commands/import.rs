//! `bookings import`: the old system's PostgreSQL export (or our own export),
//! in one transaction — every row or none — and repeatable: the rules of a
//! re-import (what the file may change, what is a conflict) are in
//! `services::sync`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use anyhow::{Context as _, Result};

use super::Context;
use std::path::PathBuf;

use crate::domain::booking::Booking;
use crate::error::{bad_input, exit};
use crate::input::bookings_csv::{column_index, parse_row};
use crate::input::{describe_csv_error, open_input};
use crate::output::file::Guard;
use crate::services::sync::{
    audit_import, Conflict, SeenIds, SyncCounts, SyncOptions, SyncRun, DUPLICATE_SETTLED,
};
use clap::Args;

use crate::args::{DryRun, ForceReason};

#[derive(Debug, Args)]
#[command(mut_arg("force", |a| a.help("Take the file's statuses even where the rules refuse them (recorded as forced; needs --reason)")))]
#[command(mut_arg("reason", |a| a.help("Why (with --force; also lets the file cancel a confirmed booking); stored in the audit log")))]
#[command(mut_arg("dry_run", |a| a.help("Check the file and report what would change, without writing")))]
pub struct ImportArgs {
    /// CSV file with a header row (`-` for stdin).
    pub file: PathBuf,
    #[command(flatten)]
    pub preview: DryRun,
    /// The file was written by `bookings export --raw`: take every cell exactly
    /// as it is (without it, the formula protection of a plain export is undone).
    #[arg(long)]
    pub raw: bool,
    /// The zone times without a UTC offset were written in (e.g. Europe/Moscow);
    /// without it such times are refused.
    #[arg(long, value_name = "ZONE")]
    pub assume_tz: Option<String>,
    /// Write the conflicts (statuses the rules refuse) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub forcing: ForceReason,
    /// Settle these bookings' conflicts in paytrack's favour (comma-separated ids, each
    /// in the file): the file's rows are recorded as seen and not applied, so the next
    /// import no longer reports them until the file changes them again. Audited.
    #[arg(long, value_name = "ID,…", value_delimiter = ',')]
    pub accept_ours: Vec<i64>,
    /// Change nothing, and exit 10 naming the count, when the file would change more than
    /// N bookings paytrack already has (new rows do not count).
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
}

pub fn run(ctx: &Context, args: ImportArgs) -> Result<u8> {
    // The report is judged before anything is written: a bad target changes nothing.
    let mut report_guard = Guard {
        database: Some(ctx.db_path.clone()),
        force: false,
        replaces_databases: false,
    };
    if let Some(report) = &args.report {
        // Here --force means "take the file's statuses", never "replace the
        // report". A report of our own (recognised by its header, as only a
        // conflict report starts) is replaced, so the README's
        // `--report conflicts.csv || alert` works on every run (issue 25);
        // any other file is never replaced. The header rather than "the same
        // path as last time": the database would have to remember paths, and
        // a user's own file at that path would still be lost.
        if std::fs::symlink_metadata(report).is_ok_and(|m| m.file_type().is_file()) {
            if !is_own_report(report) {
                return Err(bad_input(format!(
                    "{} exists; name a new report file (it is not a conflict report of paytrack's; nothing was written)",
                    crate::text::shown_path(report)
                )));
            }
            report_guard.force = true;
        }
        crate::output::file::check_target(report, &report_guard)?;
    }
    let (input, size) = open_input(&args.file)?;
    let name = crate::text::shown_path(&args.file);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let headers = reader
        .headers()
        .with_context(|| format!("{name}: reading the header"))?
        .clone();
    let mut index = column_index(&headers, &name, &|m| ctx.out.warn(m))?;
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
        force: args.forcing.force,
        reason: args.forcing.reason.clone().filter(|r| !r.trim().is_empty()),
        accept_ours: args.accept_ours.iter().copied().collect(),
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
            // Ids whose rows wait until the whole file is read: the ones to
            // settle now (--accept-ours) and the ones given twice that a
            // person settled before. Whether the file repeats them is known
            // only at its end (issue 25: an id given twice made every hourly
            // import fail, and nothing could settle it).
            let mut held: BTreeSet<i64> = tx.ids_with_import_fields(DUPLICATE_SETTLED)?;
            held.extend(options.accept_ours.iter().copied());
            let mut held_rows: BTreeMap<i64, Vec<(Booking, u64)>> = BTreeMap::new();
            // Into an empty table (the first import of the old system's export),
            // the indexes are built once after the rows instead of row by row.
            let counts = tx.load_bookings_with_deferred_indexes(|tx| {
                let mut run = SyncRun::default();
                let mut record = csv::StringRecord::new();
                let mut read = 0u64;
                loop {
                    let more = reader
                        .read_record(&mut record)
                        .map_err(|e| bad_input(format!("{name}: {}", describe_csv_error(&e))))?;
                    if !more {
                        break;
                    }
                    let line = record.position().map_or(0, csv::Position::line);
                    let booking = parse_row(&record, &index, line, &name)?;
                    if held.contains(&booking.id) {
                        held_rows.entry(booking.id).or_default().push((booking, line));
                        continue;
                    }
                    if let Some(first) = seen.insert(booking.id, line) {
                        return Err(bad_input(format!(
                            "{name}: line {line}: booking id {} already appears on line {first} \
                             (fix the export, or leave both rows out for good with --accept-ours {}; nothing was written)",
                            booking.id, booking.id
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
                    read += 1;
                    if read % 8192 == 0 {
                        bar.set_position(record.position().map_or(0, csv::Position::byte));
                        crate::interrupt::check()?;
                    }
                }
                // The held ids: repeated ones are settled, a single row is
                // imported as any other (an --accept-ours conflict, or a
                // settled duplicate the file no longer repeats).
                for (id, rows) in held_rows {
                    match rows.as_slice() {
                        [(booking, line)] => {
                            if known_courses.insert(booking.course_id) {
                                tx.ensure_course(booking.course_id, now)?;
                            }
                            if let Some(code) =
                                booking.course_stream.as_deref().filter(|c| !c.is_empty())
                            {
                                if known_streams.insert((booking.course_id, code.to_string())) {
                                    tx.ensure_stream(booking.course_id, code, now)?;
                                }
                            }
                            run.row(tx, booking, *line, &options, &actor, now)?;
                        }
                        [(first, _), ..] => {
                            let n = rows.len() as u64;
                            run.settle_duplicate(tx, id, n, first.status, &options, now)?;
                        }
                        [] => {}
                    }
                }
                run.finish(tx, &options, &actor, now)
            })?;
            // An id to settle that the file does not have is a typo: nothing is settled.
            let settled: std::collections::BTreeSet<i64> =
                counts.accepted_ours.iter().copied().collect();
            if let Some(missing) = options.accept_ours.difference(&settled).next() {
                return Err(bad_input(format!(
                    "--accept-ours {missing}: the file has no booking {missing} (nothing was written)"
                )));
            }
            audit_import(
                tx,
                &actor,
                now,
                &name,
                &counts,
                &options,
                args.preview.dry_run,
            )?;
            Ok(counts)
        },
        // A dry run rolls back; its counts are exact because the work was really done.
        // So does a run changing more than --max bookings (issue 25: blast radius).
        |counts| !args.preview.dry_run && counts.updated <= args.max.unwrap_or(u64::MAX),
    );
    bar.finish_and_clear();
    let (counts, committed) = result?;
    if !args.preview.dry_run {
        if let Some(code) = super::over_max(ctx, counts.updated, args.max, "bookings would change")
        {
            return Ok(code);
        }
    }
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
    if !counts.accepted_ours.is_empty() {
        line += &format!(
            "; {} {}",
            counts.accepted_ours.len(),
            out.tr(
                "settled in paytrack's favour (--accept-ours)",
                "решено в пользу paytrack (--accept-ours)"
            )
        );
    }
    if counts.settled_duplicates > 0 {
        line += &format!(
            "; {} {}",
            counts.settled_duplicates,
            out.tr(
                "ids the file gives twice, settled before: left out",
                "номеров, повторённых в файле и решённых ранее: пропущены"
            )
        );
    }
    if counts.other_person > 0 {
        line += &format!(
            "; {} {}",
            counts.other_person,
            out.tr(
                "settled before as another person's id: left alone",
                "ранее решены как чужой номер: не тронуты"
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
                "conflicting statuses were not applied (see the report); settle each: `--accept-ours ID,…` keeps paytrack's, `--force --reason` takes the file's statuses (never another person)",
                "конфликтующие статусы не применены (см. отчёт); решите каждый: `--accept-ours ID,…` оставляет данные paytrack, `--force --reason` берёт статусы из файла (но не другого человека)",
            )
        } else {
            out.tr(
                "conflicting statuses were not applied; --report FILE lists them all; settle each: `--accept-ours ID,…` keeps paytrack's, `--force --reason` takes the file's statuses (never another person)",
                "конфликтующие статусы не применены; --report FILE перечислит все; решите каждый: `--accept-ours ID,…` оставляет данные paytrack, `--force --reason` берёт статусы из файла (но не другого человека)",
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

/// The header of a conflict report, the way `is_own_report` knows one.
const REPORT_HEADER: [&str; 5] = [
    "line",
    "booking_id",
    "paytrack_status",
    "file_status",
    "why",
];

/// Whether `path` (a regular file) starts with a conflict report's header line.
fn is_own_report(path: &std::path::Path) -> bool {
    use std::io::Read as _;
    let expected = REPORT_HEADER.join(",");
    let mut head = vec![0u8; expected.len() + 2];
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut read = 0;
    let mut file = file.take(head.len() as u64);
    while let Ok(n) = file.read(&mut head[read..]) {
        if n == 0 {
            break;
        }
        read += n;
    }
    let head = &head[..read];
    head.strip_prefix(expected.as_bytes())
        .is_some_and(|rest| rest.starts_with(b"\n") || rest.starts_with(b"\r\n"))
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
        w.write_record(REPORT_HEADER)?;
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
