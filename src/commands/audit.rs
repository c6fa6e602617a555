//! `audit tail` (with `--follow`) and `audit verify`.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::Context;
use crate::cli::{AuditCommand, AuditTailArgs, AuditVerifyArgs};
use crate::db::audit::AuditFilter;
use crate::domain::audit::{AuditEntry, ChainReport};
use crate::error::{exit, PaytrackError};
use crate::output::redact::redact_all;
use crate::output::views;
use crate::output::{csv_writer, Format, JsonRows, Output, TABLE_ROWS_MAX};
use crate::services::check::describe_break;

pub fn run(ctx: &Context, cmd: AuditCommand) -> Result<u8> {
    match cmd {
        AuditCommand::Tail(args) => tail(ctx, args),
        AuditCommand::Verify(args) => verify(ctx, args),
    }
}

const CSV_COLUMNS: [&str; 12] = [
    "id",
    "at",
    "actor",
    "action",
    "booking_id",
    "old_value",
    "new_value",
    "reason",
    "details",
    "prev_hash",
    "hash",
    "operation_id",
];

/// Entries `audit tail` shows without `-n` or a period.
const DEFAULT_LINES: u64 = 20;

fn tail(ctx: &Context, args: AuditTailArgs) -> Result<u8> {
    let filter = AuditFilter {
        booking_id: args.booking,
        actor: args.actor.clone(),
        action: args.action.clone(),
        since: ctx.parse_optional_when("--since", args.since.as_deref())?,
        until: ctx.parse_optional_when("--until", args.until.as_deref())?,
        after_id: None,
        operation: args
            .operation
            .as_deref()
            .map(|op| op.trim().to_ascii_lowercase()),
    };
    let (format, out) = args.output.resolve(&ctx.out, Format::Table);
    if args.follow && format == Format::Json {
        return Err(crate::error::bad_input(
            "--follow prints entries as they come: use --format jsonl (one JSON object a line)",
        ));
    }
    // A period (--since/--until) is asked for whole: an accountant's export must not stop at 20.
    let limit = match args.lines {
        Some(n) => Some(n),
        None if filter.since.is_some() || filter.until.is_some() || filter.operation.is_some() => {
            None
        }
        None => Some(DEFAULT_LINES),
    };
    let mut db = ctx.open_db()?;
    let mut stdout = crate::output::stdout();
    let last_id = if format == Format::Table {
        // A table holds its rows: at most TABLE_ROWS_MAX of them (issue 19).
        let table_max = TABLE_ROWS_MAX as u64;
        // One past the maximum tells that there are more.
        let fetch = match limit {
            Some(n) if n <= table_max => n,
            _ => table_max + 1,
        };
        let (mut entries, last_id) =
            db.read(|db| Ok((db.audit_tail(&filter, Some(fetch))?, db.audit_last_id()?)))?;
        redact_all(&mut entries, args.privacy.redact);
        let too_long = entries.len() as u64 > table_max;
        if too_long && !args.follow {
            // Too long for a table: the same entries as one line each (the
            // --follow layout needs no column widths), streamed (issue 19).
            drop(entries);
            out.note(&format!(
                "{} {TABLE_ROWS_MAX} {}",
                out.tr("more than", "больше"),
                out.tr(
                    "entries: one line each instead of a table (--csv or --format jsonl for a file)",
                    "записей: по строке вместо таблицы (--csv или --format jsonl для файла)"
                )
            ));
            db.read(|db| {
                db.audit_tail_each(&filter, limit, |mut e| {
                    redact_all(std::slice::from_mut(&mut e), args.privacy.redact);
                    write_lines(&mut stdout, &out, std::slice::from_ref(&e))
                })
            })?;
            stdout.flush()?;
            return Ok(exit::OK);
        }
        if too_long {
            // Following: show no more than a table would before the new entries.
            entries.drain(..entries.len() - TABLE_ROWS_MAX);
        }
        if args.follow {
            write_lines(&mut stdout, &out, &entries)?;
        } else {
            write_entries(&mut stdout, &out, format, &entries, true)?;
        }
        last_id
    } else {
        // Files for programs are streamed, whatever -n asks for.
        db.read(|db| {
            let last_id = db.audit_last_id()?;
            stream_entries(
                db,
                &mut stdout,
                &out,
                format,
                &filter,
                limit,
                args.privacy.redact,
            )?;
            Ok(last_id)
        })?
    };
    stdout.flush()?;
    if args.follow {
        follow(
            &mut db,
            &out,
            format,
            &filter,
            last_id,
            args.privacy.redact,
            &mut stdout,
        )?;
    }
    Ok(exit::OK)
}

/// How often `--follow` looks for new entries.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Prints entries written after `last_id` as they arrive, until Ctrl-C (exit 0).
/// Each poll is one short read: a transaction held open between polls would
/// stop WAL checkpoints and let the -wal file grow without bound.
fn follow(
    db: &mut crate::db::Db,
    out: &Output,
    format: Format,
    filter: &AuditFilter,
    mut last_id: i64,
    redact: bool,
    stdout: &mut impl Write,
) -> Result<()> {
    loop {
        let deadline = Instant::now() + POLL_INTERVAL;
        while Instant::now() < deadline {
            if crate::interrupt::requested() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let (mut entries, newest) = db.audit_since(filter, last_id)?;
        redact_all(&mut entries, redact);
        last_id = last_id.max(newest);
        if entries.is_empty() {
            continue;
        }
        match format {
            // A boxed table per batch would repeat its header; people following get lines.
            Format::Table => write_lines(stdout, out, &entries)?,
            _ => write_entries(stdout, out, format, &entries, false)?,
        }
        stdout.flush()?;
    }
}

/// One line per entry, for people following the log: time, actor, action, booking, change, reason.
fn write_lines(w: &mut impl Write, out: &Output, entries: &[AuditEntry]) -> Result<()> {
    use crate::output::sanitize::for_terminal;
    for e in entries {
        let mut line = format!(
            "{:>6}  {}  {}  {}",
            e.id,
            views::show_time(out, &e.at),
            for_terminal(&e.actor),
            for_terminal(&e.action)
        );
        if let Some(b) = e.booking_id {
            line += &format!("  #{b}");
        }
        let change = views::change_text(e);
        if !change.is_empty() {
            line += &format!("  {}", for_terminal(&change));
        }
        if let Some(reason) = &e.reason {
            line += &format!("  ({})", for_terminal(reason));
        }
        writeln!(w, "{line}")?;
    }
    Ok(())
}

/// Writes the entries `audit_tail` would return, one at a time, as CSV,
/// JSON or JSON Lines (constant memory).
fn stream_entries(
    db: &crate::db::Db,
    w: &mut impl Write,
    out: &Output,
    format: Format,
    filter: &AuditFilter,
    limit: Option<u64>,
    redact: bool,
) -> Result<()> {
    // What identifies a person is left out before any format sees it (issue 20).
    let redacted = |mut e: AuditEntry| {
        redact_all(std::slice::from_mut(&mut e), redact);
        e
    };
    if format == Format::Csv {
        let mut csv = csv_writer(&mut *w);
        csv.write_record(CSV_COLUMNS)?;
        db.audit_tail_each(filter, limit, |e| {
            Ok(csv.write_record(csv_record(out, &redacted(e)))?)
        })?;
        csv.flush()?;
    } else {
        let mut rows = JsonRows::new(format == Format::Jsonl);
        db.audit_tail_each(filter, limit, |e| Ok(rows.push(&mut *w, &redacted(e))?))?;
        rows.finish(&mut *w)?;
    }
    Ok(())
}

/// One entry as a CSV record (text cells formula-protected).
fn csv_record(out: &Output, e: &AuditEntry) -> [String; 12] {
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map(|t| out.csv_text(t).into_owned())
            .unwrap_or_default()
    };
    [
        e.id.to_string(),
        out.csv_text(&e.at).into_owned(),
        out.csv_text(&e.actor).into_owned(),
        out.csv_text(&e.action).into_owned(),
        e.booking_id.map(|b| b.to_string()).unwrap_or_default(),
        opt(&e.old_value),
        opt(&e.new_value),
        opt(&e.reason),
        out.csv_text(&e.details).into_owned(),
        e.prev_hash.clone(),
        e.hash.clone(),
        e.operation_id.clone().unwrap_or_default(),
    ]
}

/// Writes entries in the chosen format (the CSV header only when `header`).
fn write_entries(
    w: &mut impl Write,
    out: &Output,
    format: Format,
    entries: &[AuditEntry],
    header: bool,
) -> Result<()> {
    match format {
        Format::Table => {
            if !entries.is_empty() {
                writeln!(w, "{}", views::audit_table(out, entries))?;
            }
        }
        Format::Csv => {
            let mut csv = csv_writer(&mut *w);
            if header {
                csv.write_record(CSV_COLUMNS)?;
            }
            for e in entries {
                csv.write_record(csv_record(out, e))?;
            }
            csv.flush()?;
        }
        // `--json` is one array, as everywhere; `--jsonl` streams (and `--follow` needs it).
        Format::Json | Format::Jsonl => {
            crate::output::write_json(w, entries, format == Format::Jsonl)?;
        }
    }
    Ok(())
}

fn verify(ctx: &Context, args: AuditVerifyArgs) -> Result<u8> {
    let db = ctx.open_db()?;
    let report = db.audit_verify(args.expect_head.as_deref(), |_| {})?;
    if let Some(broken) = &report.broken {
        return Err(PaytrackError::VerifyFailed(describe_break(broken, report.checked)).into());
    }
    if let (Some(anchor), None) = (&args.expect_head, report.anchor_id) {
        return Err(PaytrackError::VerifyFailed(format!(
            "the chain is intact but no entry has the expected head hash {anchor}: \
             entries were removed from the end, or the log was rewritten, since it was recorded \
             (head now: entry {} {})",
            report.head_id, report.head_hash
        ))
        .into());
    }
    let mut stdout = crate::output::stdout();
    write_report(&mut stdout, &report)?;
    stdout.flush()?;
    Ok(exit::OK)
}

/// The success report: a count, the head to record as the next anchor, and where the anchor was.
fn write_report(w: &mut impl Write, report: &ChainReport) -> Result<()> {
    writeln!(
        w,
        "ok: {} audit entries checked, hash chain intact",
        report.checked
    )?;
    writeln!(w, "head: {} {}", report.head_id, report.head_hash)?;
    if let Some(anchor) = report.anchor_id {
        writeln!(
            w,
            "anchor: entry {anchor} found, {} entries written since",
            report.head_id - anchor
        )?;
    }
    Ok(())
}
