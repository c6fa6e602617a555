//! `users erase`: answer "delete my data" for one Telegram user (issue 20).

use anyhow::Result;
use serde_json::json;

use super::Context;
use crate::db::privacy::ErasureCounts;
use crate::domain::privacy::pseudonym;
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::Output;
use crate::services::privacy::erase_user;
use clap::Args;

use crate::args::{Confirm, DryRun, JsonFlag};

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print the counts as JSON on stdout")))]
#[command(mut_arg("dry_run", |a| a.help("Count what would be erased; change nothing")))]
pub struct UsersEraseArgs {
    /// Telegram user id.
    #[arg(value_name = "USER_ID")]
    pub user_id: i64,
    /// Why (e.g. the request's date and channel); kept in the audit log.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub preview: DryRun,
    #[command(flatten)]
    pub confirm: Confirm,
    /// Also VACUUM the database file afterwards (rewrites it whole; slow on big files).
    #[arg(long)]
    pub vacuum: bool,
    #[command(flatten)]
    pub output: JsonFlag,
}

/// `users erase USER_ID` (the `users` group is dispatched in `commands::run`).
pub fn run(ctx: &Context, args: UsersEraseArgs) -> Result<u8> {
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err(bad_input(
            "--reason is empty: say why (e.g. the request's date), it goes to the audit log",
        ));
    }
    let user_id = args.user_id;
    let mut db = ctx.open_db()?;
    if !db.user_is_known(user_id)? {
        return Err(PaytrackError::NotFound(format!(
            "no bookings or blocked-user row for user {user_id}; nothing changed"
        ))
        .into());
    }
    // The same work as the real run, rolled back: the counts are exact.
    let (preview, _) = super::write_unless(
        ctx,
        |tx| erase_user(tx, &ctx.actor, ctx.now, user_id, reason),
        |_| false,
    )?;
    if args.preview.dry_run {
        report(ctx, &args, &preview, true)?;
        return Ok(exit::OK);
    }
    if !args.confirm.yes {
        confirm(&ctx.out, user_id, &preview)?;
    }
    db.enable_secure_delete()?;
    let counts = db.write(|tx| erase_user(tx, &ctx.actor, ctx.now, user_id, reason))?;
    // Old page images with the names are still in the WAL until it is
    // checkpointed; a VACUUM also drops free pages from the file.
    let flushed = if args.vacuum {
        db.vacuum()?
    } else {
        db.checkpoint_truncate()?
    };
    if !flushed {
        ctx.out.warn(
            "another process is reading the database, so old copies of the erased text may stay in its WAL file until the next checkpoint; run `paytrack users erase` again later to flush it",
        );
    }
    report(ctx, &args, &counts, false)?;
    Ok(exit::OK)
}

fn confirm(out: &Output, user_id: i64, preview: &ErasureCounts) -> Result<()> {
    let question = format!(
        "Erase user {user_id} ({} bookings, {} payments, {} messages, {} audit values)? This cannot be undone.",
        preview.bookings, preview.payments, preview.messages, preview.audit_values
    );
    let what = format!("erasing user {user_id} cannot be undone");
    if crate::output::prompt::confirm(out, &question, &what)? {
        Ok(())
    } else {
        Err(PaytrackError::BadInput("cancelled; nothing changed".into()).into())
    }
}

fn report(
    ctx: &Context,
    args: &UsersEraseArgs,
    counts: &ErasureCounts,
    dry_run: bool,
) -> Result<()> {
    if args.output.json {
        crate::output::json::print_line(&json!({
            "user_id": args.user_id,
            "pseudonym": pseudonym(args.user_id),
            "dry_run": dry_run,
            "counts": counts,
        }))?;
    }
    let verb = if dry_run { "would erase" } else { "erased" };
    ctx.out.note(&format!(
        "{verb} user {} as {}: {} bookings, {} payments, {} messages, {} blocked-user rows, {} audit values",
        args.user_id,
        pseudonym(args.user_id),
        counts.bookings,
        counts.payments,
        counts.messages,
        counts.blocked_users,
        counts.audit_values
    ));
    if counts.audit_entries_in_clear > 0 {
        ctx.out.warn(&format!(
            "{} audit entries about this user were written before personal fields moved out of the chain (format 1); their reasons stay readable, as changing them would break `audit verify`",
            counts.audit_entries_in_clear
        ));
    }
    Ok(())
}
