//! `audit tail` (with `--follow`) and `audit verify`.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use super::Context;
use clap::{Args, Subcommand};

use crate::args::{booking_id, OutputArgs, RedactArgs};
use crate::db::audit::AuditFilter;
use crate::domain::audit::{AuditEntry, ChainReport};
use crate::error::{exit, PaytrackError};
use crate::output::pipeline::{self, RowWriter};
use crate::output::redact::redact_all;
use crate::output::views;
use crate::output::{Format, TABLE_ROWS_MAX};
use crate::services::check::describe_break;

#[derive(Debug, Subcommand)]
// Not deferred: `audit tail --actor` (a filter) must replace the global
// `--actor`, which clap only does when the filter exists as globals propagate.
pub enum AuditCommand {
    /// The last entries, oldest first (like tail).
    #[command(
        after_help = "Examples:\n  paytrack audit tail -n 50\n  paytrack audit tail --booking 42\n  paytrack audit tail --action booking.status_changed --since 2024-12-01 --format csv\n  paytrack audit tail -f"
    )]
    Tail(AuditTailArgs),
    /// Walk the hash chain and name the first entry changed, removed or inserted out of band.
    #[command(
        after_help = "Examples:\n  paytrack audit verify\n  paytrack audit verify || mail -s 'paytrack audit' admin@example.com < /dev/null\n  paytrack audit verify --expect-head 3f2a…   # a head hash printed by an earlier run"
    )]
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// A head hash printed by an earlier `audit verify`: fail unless that entry is still in the chain.
    #[arg(long, value_name = "HASH", value_parser = sha256_hex)]
    pub expect_head: Option<String>,
}

/// A SHA-256 in hex (64 characters), lower-cased.
fn sha256_hex(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(crate::tr!(
            "'{}' is not a SHA-256 hash (64 hex digits)",
            "'{}' — не хеш SHA-256 (64 шестнадцатеричные цифры)",
            crate::text::shown(text)
        ))
    }
}

#[derive(Debug, Args)]
pub struct AuditTailArgs {
    /// How many entries [default: 20; every matching entry with --since, --until or --operation].
    #[arg(short = 'n', long = "lines")]
    pub lines: Option<u64>,
    /// Only entries about this booking.
    #[arg(long, value_parser = booking_id)]
    pub booking: Option<i64>,
    /// Only entries by this actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action, e.g. booking.status_changed.
    #[arg(long)]
    pub action: Option<String>,
    /// Only entries at or after (2024-12-01, RFC 3339, today, 7d...).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only entries before.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only entries of this operation (the id a write command prints; see `paytrack undo`).
    #[arg(long, value_name = "OP")]
    pub operation: Option<String>,
    /// Keep printing new entries as they are written, until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub privacy: RedactArgs,
}

pub fn run(ctx: &Context, cmd: AuditCommand) -> Result<u8> {
    match cmd {
        AuditCommand::Tail(args) => tail(ctx, args),
        AuditCommand::Verify(args) => verify(ctx, args),
    }
}

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
    if args.follow {
        pipeline::check_followable(format)?;
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
    if format != Format::Table {
        // Files for programs are streamed, whatever -n asks for; --follow
        // goes on writing to the same writer (one CSV header, one stream).
        let stdout = crate::output::stdout();
        let mut writer = RowWriter::new(&out, format, stdout)?;
        let last_id = db.read(|db| {
            let last_id = db.audit_last_id()?;
            db.audit_tail_each(&filter, limit, |mut e| {
                // What identifies a person is left out before any format sees it (issue 20).
                redact_all(std::slice::from_mut(&mut e), args.privacy.redact);
                writer.push(&e)
            })?;
            Ok(last_id)
        })?;
        if args.follow {
            writer.flush()?;
            follow(&mut db, &filter, last_id, args.privacy.redact, |entries| {
                for e in entries {
                    writer.push(e)?;
                }
                Ok(writer.flush()?)
            })?;
        }
        writer.finish()?;
        return Ok(exit::OK);
    }
    let mut stdout = crate::output::stdout();
    // A table holds its rows: at most TABLE_ROWS_MAX of them (issue 19);
    // one past the maximum tells that there are more (a tail reads the
    // newest rows, so no more than asked for when -n fits a table).
    let table_max = TABLE_ROWS_MAX as u64;
    let fetch = match limit {
        Some(n) if n <= table_max => n,
        _ => table_max + 1,
    };
    let (mut entries, last_id) =
        db.read(|db| Ok((db.audit_tail(&filter, Some(fetch))?, db.audit_last_id()?)))?;
    redact_all(&mut entries, args.privacy.redact);
    let too_long = entries.len() > TABLE_ROWS_MAX;
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
                Ok(writeln!(stdout, "{}", views::audit_line(&out, &e))?)
            })
        })?;
        stdout.flush()?;
        return Ok(exit::OK);
    }
    if entries.len() > TABLE_ROWS_MAX {
        // Following: show no more than a table would before the new entries.
        entries.drain(..entries.len() - TABLE_ROWS_MAX);
    }
    if args.follow {
        // A boxed table per batch would repeat its header; people following get lines.
        let mut print_lines = |entries: &[AuditEntry]| -> Result<()> {
            for e in entries {
                writeln!(stdout, "{}", views::audit_line(&out, e))?;
            }
            Ok(stdout.flush()?)
        };
        print_lines(&entries)?;
        follow(&mut db, &filter, last_id, args.privacy.redact, print_lines)?;
    } else {
        pipeline::print(&out, format, &entries, views::audit_table, None)?;
    }
    Ok(exit::OK)
}

/// How often `--follow` looks for new entries.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Hands `print` the entries written after `last_id` as they arrive, until
/// Ctrl-C (exit 0). Each poll is one short read: a transaction held open
/// between polls would stop WAL checkpoints and let the -wal file grow
/// without bound.
fn follow(
    db: &mut crate::db::Db,
    filter: &AuditFilter,
    mut last_id: i64,
    redact: bool,
    mut print: impl FnMut(&[AuditEntry]) -> Result<()>,
) -> Result<()> {
    loop {
        db.wait_for_audit_entries(POLL_INTERVAL)?;
        if crate::interrupt::requested() {
            return Ok(());
        }
        let (mut entries, newest) = db.audit_since(filter, last_id)?;
        redact_all(&mut entries, redact);
        last_id = last_id.max(newest);
        if !entries.is_empty() {
            print(&entries)?;
        }
    }
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
