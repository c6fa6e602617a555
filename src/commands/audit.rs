//! `audit tail` and `audit verify`.

use std::io::Write;

use anyhow::Result;

use super::Context;
use crate::cli::{AuditCommand, AuditTailArgs};
use crate::db::audit::{AuditFilter, ChainBreak};
use crate::domain::audit::AuditEntry;
use crate::error::{exit, PaytrackError};
use crate::output::table::{new_table, number_cell, text_cell};
use crate::output::{csv_writer, pick_format, Format, Output};

pub fn run(ctx: &Context, cmd: AuditCommand) -> Result<u8> {
    match cmd {
        AuditCommand::Tail(args) => tail(ctx, args),
        AuditCommand::Verify => verify(ctx),
    }
}

const CSV_COLUMNS: [&str; 11] = [
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
];

fn tail(ctx: &Context, args: AuditTailArgs) -> Result<u8> {
    let filter = AuditFilter {
        booking_id: args.booking,
        actor: args.actor.clone(),
        action: args.action.clone(),
        since: args
            .since
            .as_deref()
            .map(|t| ctx.parse_when("--since", t))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| ctx.parse_when("--until", t))
            .transpose()?,
        after_id: None,
    };
    let format = pick_format(
        args.output.format,
        args.output.csv,
        args.output.json,
        Format::Table,
    );
    let mut out = ctx.out.clone();
    out.raw_csv = args.output.raw;
    let db = ctx.open_db()?;
    let entries = db.audit_tail(&filter, Some(args.lines))?;
    let mut stdout = crate::output::stdout();
    write_entries(&mut stdout, &out, format, &entries, true)?;
    stdout.flush()?;
    Ok(exit::OK)
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
                writeln!(w, "{}", audit_table(out, entries))?;
            }
        }
        Format::Csv => {
            let mut csv = csv_writer(&mut *w);
            if header {
                csv.write_record(CSV_COLUMNS)?;
            }
            for e in entries {
                let opt = |v: &Option<String>| {
                    v.as_deref()
                        .map(|t| out.csv_text(t).into_owned())
                        .unwrap_or_default()
                };
                csv.write_record([
                    e.id.to_string(),
                    e.at.clone(),
                    out.csv_text(&e.actor).into_owned(),
                    e.action.clone(),
                    e.booking_id.map(|b| b.to_string()).unwrap_or_default(),
                    opt(&e.old_value),
                    opt(&e.new_value),
                    opt(&e.reason),
                    out.csv_text(&e.details).into_owned(),
                    e.prev_hash.clone(),
                    e.hash.clone(),
                ])?;
            }
            csv.flush()?;
        }
        Format::Json | Format::Jsonl => {
            // Entries stream one per line in both forms, so `--follow` output stays parseable.
            crate::output::write_json(w, entries, true)?;
        }
    }
    Ok(())
}

/// Audit entries as a table for people.
pub fn audit_table(out: &Output, entries: &[AuditEntry]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            out.tr("ID", "ID"),
            out.tr("Time", "Время"),
            out.tr("Actor", "Кто"),
            out.tr("Action", "Действие"),
            out.tr("Booking", "Бронь"),
            out.tr("Change", "Изменение"),
            out.tr("Reason", "Причина"),
        ],
    );
    for e in entries {
        let change = match (&e.old_value, &e.new_value) {
            (Some(old), Some(new)) => format!("{old} → {new}"),
            (None, Some(new)) => new.clone(),
            (Some(old), None) => format!("{old} →"),
            (None, None) => String::new(),
        };
        table.add_row(vec![
            number_cell(e.id),
            comfy_table::Cell::new(super::bookings::show_time(out, &e.at)),
            text_cell(out, Some(&e.actor), 16),
            comfy_table::Cell::new(&e.action),
            number_cell(e.booking_id.map(|b| b.to_string()).unwrap_or_default()),
            text_cell(out, Some(&change), 28),
            text_cell(out, e.reason.as_deref(), 30),
        ]);
    }
    table.keep_whole(&[0, 1, 3, 4]);
    table
}

fn verify(ctx: &Context) -> Result<u8> {
    let db = ctx.open_db()?;
    let (checked, broken) = db.audit_verify(|_| {})?;
    match broken {
        None => {
            let mut stdout = crate::output::stdout();
            writeln!(stdout, "ok: {checked} audit entries checked, hash chain intact")?;
            stdout.flush()?;
            Ok(exit::OK)
        }
        Some(ChainBreak::Altered { id }) => Err(PaytrackError::VerifyFailed(format!(
            "audit entry {id} was altered: its content does not match its hash ({checked} entries checked)"
        ))
        .into()),
        Some(ChainBreak::Broken { id, previous_id }) => Err(PaytrackError::VerifyFailed(format!(
            "audit chain broken before entry {id}: an entry was removed or inserted out of band after {} ({checked} entries checked)",
            previous_id.map_or("the start".to_string(), |p| format!("entry {p}"))
        ))
        .into()),
    }
}
