//! Routing: the parsed command line to the command module that does each
//! part. Command modules never call each other, so the routing lives here;
//! it takes the parsed `Cli`, so it sits in the parser's layer, above the
//! commands (see tests/cli/layers.rs).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::groups::{BookingsCommand, PaymentsCommand, StreamsCommand, UsersCommand};
use super::{Cli, Command};
use crate::commands::{
    add, audit, backup, bookings, catalogue, check, demo, docs, edit, erase, import, messaging,
    online, outbox, payments, retention, set_status, setup, stats, undo, users, Context,
};
use crate::domain::time::DisplayZone;
use crate::error::bad_input;
use crate::output::{Lang, Output};
use crate::services::blocking::Blocking;
use crate::services::catalogue_edit::{Overbooking, Saving};

/// Runs the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let zone = DisplayZone::parse(cli.tz.as_deref().unwrap_or("local")).map_err(bad_input)?;
    let lang = cli.lang.unwrap_or_else(Lang::from_locale);
    crate::i18n::set(lang);
    let out = Output::new(cli.color, lang, zone, cli.wide);
    let (db_path, db_named) = match cli.db {
        Some(path) => (path, true),
        None => (default_db_path()?, false),
    };
    let postgres_url = db_path
        .to_str()
        .filter(|text| crate::db::is_postgres_url(text))
        .map(str::to_string);
    let ctx = Context {
        db_path,
        db_named,
        now: now()?,
        actor: actor(cli.actor),
        out,
        postgres_url,
        command: cli.command_name,
    };
    let result = match cli.command {
        Command::Init(args) => setup::init(&ctx, &args),
        Command::Uninstall(args) => setup::uninstall(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Bookings(cmd) => run_bookings(&ctx, cmd),
        Command::Stats(cmd) => stats::run(&ctx, cmd),
        Command::Audit(cmd) => audit::run(&ctx, cmd),
        Command::Outbox(cmd) => outbox::run(&ctx, cmd),
        Command::Payments(cmd) => run_payments(&ctx, cmd),
        Command::Streams(cmd) => run_streams(&ctx, cmd),
        Command::Courses(cmd) => catalogue::run_courses(&ctx, cmd),
        // One `users` group, two issues: the story and blocking (13), erasure (20).
        Command::Users(UsersCommand::Show {
            user,
            history,
            output,
        }) => users::show(&ctx, &user, history, &output),
        Command::Users(UsersCommand::Block { user, reason }) => {
            users::set_blocked(&ctx, &user, Blocking::Block, &reason)
        }
        Command::Users(UsersCommand::Unblock { user, reason }) => {
            users::set_blocked(&ctx, &user, Blocking::Unblock, &reason)
        }
        Command::Users(UsersCommand::Erase(args)) => erase::run(&ctx, args),
        Command::Retention(cmd) => retention::run(&ctx, cmd),
        Command::Check(args) => check::run(&ctx, args),
        Command::Backup(args) => backup::run(&ctx, args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
        Command::Undo(args) => undo::run(&ctx, args),
    };
    for problem in crate::db::take_skipped_rows() {
        ctx.out.warn(&format!(
            "{problem}; {}",
            ctx.out.tr(
                "skipped (see `paytrack check`)",
                "пропущена (см. `paytrack check`)"
            )
        ));
    }
    // Said even when the command then failed (e.g. exit 10 after committing):
    // what was committed can be undone.
    for op in crate::db::take_committed_operations() {
        ctx.out.note(&format!(
            "{} {op}; {} paytrack undo {op}",
            ctx.out.tr("operation", "операция"),
            ctx.out.tr("undo with", "отменить:")
        ));
    }
    result
}

/// Routes `bookings …` to the module that does each part; modules never
/// call each other, so the routing lives here.
fn run_payments(ctx: &Context, cmd: PaymentsCommand) -> Result<u8> {
    match cmd {
        PaymentsCommand::Import(args) => payments::import(ctx, args),
        PaymentsCommand::List(args) => payments::list(ctx, args),
        PaymentsCommand::Assign(args) => payments::assign(ctx, args),
        PaymentsCommand::Resolve(args) => payments::resolve(ctx, args),
        PaymentsCommand::Refund(args) => payments::refund(ctx, args),
        PaymentsCommand::Providers { output } => payments::providers(ctx, output),
        PaymentsCommand::Serve(args) => online::serve(ctx, args),
        PaymentsCommand::Fetch(args) => online::fetch(ctx, args),
    }
}

fn run_bookings(ctx: &Context, cmd: BookingsCommand) -> Result<u8> {
    match cmd {
        BookingsCommand::List(args) => bookings::list(ctx, args),
        BookingsCommand::Show {
            id,
            output,
            privacy,
        } => bookings::show(ctx, id, output, privacy.redact),
        BookingsCommand::Export(args) => bookings::export(ctx, args),
        BookingsCommand::Import(args) => import::run(ctx, args),
        BookingsCommand::SetStatus(args) => set_status::run(ctx, args),
        BookingsCommand::Add(args) => add::run(ctx, args),
        BookingsCommand::Edit(args) => edit::run(ctx, args),
        BookingsCommand::Remind(args) => messaging::remind(ctx, args),
        BookingsCommand::PayLink(args) => online::pay_link(ctx, args),
    }
}

/// Routes `streams …`: the catalogue's own commands, and broadcast.
fn run_streams(ctx: &Context, cmd: StreamsCommand) -> Result<u8> {
    match cmd {
        StreamsCommand::List { course, output } => catalogue::list_streams(ctx, course, output),
        StreamsCommand::Add(args) => catalogue::save_stream(
            ctx,
            &args.code,
            Some(args.course),
            &args.fields,
            Saving::Add,
            None,
            Overbooking::Refuse,
        ),
        StreamsCommand::Edit(args) => catalogue::save_stream(
            ctx,
            &args.code,
            args.course,
            &args.fields,
            Saving::Edit,
            args.chat_link.map(crate::args::Setting::into_option),
            if args.force {
                Overbooking::Allow
            } else {
                Overbooking::Refuse
            },
        ),
        StreamsCommand::Members {
            stream,
            course,
            output,
            privacy,
        } => catalogue::members(ctx, &stream, course, output, privacy.redact),
        StreamsCommand::Broadcast(args) => messaging::broadcast(ctx, args),
    }
}

/// `$XDG_DATA_HOME/paytrack/paytrack.db`, else `~/.local/share/paytrack/paytrack.db`.
fn default_db_path() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".local").join("share")))
        .context("no home directory: name a database with --db or PAYTRACK_DB")?;
    Ok(base.join("paytrack").join("paytrack.db"))
}

fn now() -> Result<DateTime<Utc>> {
    match std::env::var("PAYTRACK_NOW") {
        Ok(text) if !text.is_empty() => DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| bad_input(format!("PAYTRACK_NOW: {e}"))),
        _ => Ok(Utc::now()),
    }
}

fn actor(flag: Option<String>) -> String {
    flag.filter(|a| !a.trim().is_empty())
        .or_else(|| {
            std::env::var("PAYTRACK_ACTOR")
                .ok()
                .filter(|a| !a.trim().is_empty())
        })
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| format!("uid:{}", unsafe_free_uid()))
}

fn unsafe_free_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}
