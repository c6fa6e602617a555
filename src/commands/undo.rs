//! `paytrack undo OP`: finds the operation (a unique prefix will do) and
//! reverses it in one transaction; the rules are in `services::undo`.

use anyhow::Result;

use super::Context;
use crate::error::{bad_input, exit, PaytrackError};
use crate::services::undo::undo_operation;
use clap::Args;

use crate::args::DryRun;

#[derive(Debug, Args)]
#[command(mut_arg("dry_run", |a| a.help("Show what would be undone; write nothing")))]
pub struct UndoArgs {
    /// Operation id, or a unique prefix of it (at least 4 hex digits).
    pub operation: String,
    #[command(flatten)]
    pub preview: DryRun,
}

pub fn run(ctx: &Context, args: UndoArgs) -> Result<u8> {
    let prefix = args.operation.trim().to_ascii_lowercase();
    if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_input(crate::tr!(
            "'{}' is not an operation id (at least 4 hex digits, as printed after a write)",
            "'{}' — не id операции (не меньше 4 шестнадцатеричных цифр, как печатает команда записи)",
            crate::text::for_terminal(&args.operation)
        )));
    }
    let matches = ctx.open_db()?.operations_matching(&prefix)?;
    let operation = match matches.as_slice() {
        [] => {
            return Err(PaytrackError::NotFound(crate::tr!(
                "no operation {prefix}",
                "операции {prefix} нет"
            ))
            .into());
        }
        [one] => one.clone(),
        several => {
            return Err(bad_input(crate::tr!(
                "{prefix} names several operations ({}); give more digits",
                "{prefix} подходит к нескольким операциям ({}); дайте больше цифр",
                several.join(", ")
            )))
        }
    };
    let (report, _) = super::write_unless(
        ctx,
        |tx| undo_operation(tx, &operation, &ctx.actor, ctx.now),
        |_| !args.preview.dry_run,
    )?;
    let out = &ctx.out;
    let head = if args.preview.dry_run {
        out.tr(
            "dry run, nothing written: would undo",
            "пробный запуск, ничего не записано: будет отменена",
        )
    } else {
        out.tr("undid", "отменена")
    };
    let mut line = format!(
        "{head} {} {operation}: {} {}, {} {}, {} {}",
        out.tr("operation", "операция"),
        report.status_changes,
        out.tr("status changes reversed", "смен статуса отменено"),
        report.edits,
        out.tr("edits reversed", "правок отменено"),
        report.cancelled,
        out.tr(
            "added bookings cancelled",
            "добавленных бронирований отменено"
        ),
    );
    if report.withdrawn > 0 {
        line += &format!(
            ", {} {}",
            report.withdrawn,
            out.tr(
                "unsent confirmation messages withdrawn",
                "неотправленных подтверждений отозвано"
            )
        );
    }
    if report.restored > 0 {
        line += &format!(
            ", {} {}",
            report.restored,
            out.tr(
                "confirmation messages queued again",
                "подтверждений снова в очереди"
            )
        );
    }
    out.note(&line);
    if !report.not_reversed.is_empty() {
        let kept: Vec<String> = report
            .not_reversed
            .iter()
            .map(|(action, n)| format!("{n} {action}"))
            .collect();
        out.note(&format!(
            "{}: {}",
            out.tr("left as they are", "оставлено как есть"),
            kept.join(", ")
        ));
    }
    Ok(exit::OK)
}
