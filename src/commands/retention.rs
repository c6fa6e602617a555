//! `retention apply`: keep personal data no longer than needed (issue 20).
//! Meant for cron; `--dry-run` does the same work and rolls it back, so its
//! counts are exactly what a real run touches.

use anyhow::Result;
use serde_json::json;

use super::Context;
use crate::domain::privacy::Age;
use crate::error::{bad_input, exit};
use crate::services::privacy::apply_retention;
use clap::{Args, Subcommand};

use crate::args::{DryRun, JsonFlag};

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum RetentionCommand {
    /// Pseudonymise bookings and clear message bodies older than the given ages.
    #[command(
        after_help = "Ages: a number and y (years), m (months) or d (days), counted back from now.\nBookings older than --bookings-older-than (by creation date) are erased as\n`users erase` does for one person; messages older than --messages-older-than\nthat will not be sent any more (sent, failed, withdrawn, cancelled) lose their body. Ids, statuses, amounts and dates stay.\n\nExamples:\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y --dry-run\n  # crontab: every night at 03:45\n  45 3 * * * paytrack --db /srv/paytrack/school.db retention apply --bookings-older-than 3y --messages-older-than 1y"
    )]
    Apply(RetentionApplyArgs),
}

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print the counts as JSON on stdout")))]
#[command(mut_arg("dry_run", |a| a.help("Count what would be touched; change nothing")))]
#[command(group(clap::ArgGroup::new("rule").required(true).multiple(true)))]
pub struct RetentionApplyArgs {
    /// Pseudonymise bookings created longer ago than this (e.g. 3y).
    #[arg(long, value_name = "AGE", group = "rule")]
    pub bookings_older_than: Option<String>,
    /// Clear the bodies of messages older than this that will not be sent any more (e.g. 1y).
    #[arg(long, value_name = "AGE", group = "rule")]
    pub messages_older_than: Option<String>,
    #[command(flatten)]
    pub preview: DryRun,
    #[command(flatten)]
    pub output: JsonFlag,
}

pub fn run(ctx: &Context, cmd: RetentionCommand) -> Result<u8> {
    match cmd {
        RetentionCommand::Apply(args) => apply(ctx, args),
    }
}

fn parse_age(flag: &str, text: Option<&str>) -> Result<Option<Age>> {
    text.map(|t| Age::parse(t).map_err(|e| bad_input(format!("{flag}: {e}"))))
        .transpose()
}

fn apply(ctx: &Context, args: RetentionApplyArgs) -> Result<u8> {
    let bookings_age = parse_age("--bookings-older-than", args.bookings_older_than.as_deref())?;
    let messages_age = parse_age("--messages-older-than", args.messages_older_than.as_deref())?;
    let bookings_cutoff = bookings_age.map(|a| a.cutoff(ctx.now));
    let messages_cutoff = messages_age.map(|a| a.cutoff(ctx.now));
    let work = |tx: &crate::db::WriteTx| {
        apply_retention(tx, &ctx.actor, ctx.now, bookings_cutoff, messages_cutoff)
    };
    let counts = if args.preview.dry_run {
        super::write_unless(ctx, work, |_| false)?.0
    } else {
        let mut db = ctx.open_db()?;
        db.enable_secure_delete()?;
        let counts = db.write(work)?;
        if !db.checkpoint_truncate()? {
            ctx.out.warn(
                "another process is reading the database, so old copies of the cleared text may stay in its WAL file until the next checkpoint",
            );
        }
        counts
    };
    if args.output.json {
        crate::output::json::print_line(
            &json!({ "dry_run": args.preview.dry_run, "counts": counts }),
        )?;
    }
    let verb = if args.preview.dry_run {
        "would pseudonymise"
    } else {
        "pseudonymised"
    };
    let e = &counts.erased;
    ctx.out.note(&format!(
        "{verb} {} bookings ({} payments, {} messages, {} audit values); {} {} old message bodies",
        e.bookings,
        e.payments,
        e.messages,
        e.audit_values,
        if args.preview.dry_run {
            "would clear"
        } else {
            "cleared"
        },
        counts.message_bodies
    ));
    Ok(exit::OK)
}
