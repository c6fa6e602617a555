//! One module per command group. Each `run` decides what to do and how to
//! show it; the rules live in `domain`/`services`, the SQL in `db`.

pub mod add;
pub mod audit;
pub mod backup;
pub mod bookings;
pub mod catalogue;
pub mod check;
pub mod demo;
pub mod docs;
pub mod edit;
pub mod erase;
pub mod import;
pub mod messaging;
pub mod online;
pub mod outbox;
pub mod payments;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod retention;
pub mod set_status;
pub mod stats;
pub mod undo;
pub mod users;

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use clap::Args;

use self::bookings::BookingsCommand;
use self::catalogue::args::StreamsCommand;
use self::payments::args::PaymentsCommand;
use self::users::UsersCommand;
use crate::cli::{Cli, Command};
use crate::db::{Db, OpenMode};
use crate::domain::time::{parse_instant, DisplayZone};
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::{Lang, Output};

// `init`'s flags (no doc comment: it would replace the command's description).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Add paytrack's tables to another application's SQLite file (refused
    /// otherwise). Its own tables are left as they are; a file with a table
    /// of the same name as one of paytrack's, or its own schema version, is refused.
    /// On a postgres:// URL: check the bot's public.bookings and install
    /// paytrack's counter triggers on it.
    #[arg(long)]
    pub adopt: bool,
    /// With --adopt on a postgres:// URL: install no counter triggers on the
    /// bot's table. `stats` then counts live with a GROUP BY over the
    /// bookings (slower on a big table) and says so.
    #[arg(long, requires = "adopt")]
    pub no_counters: bool,
    /// On a postgres:// URL: create paytrack's schema, tables and functions
    /// as this (NOLOGIN) role, which the connecting role must be a member
    /// of, so the role paytrack's commands connect as owns nothing (see
    /// README "Running against PostgreSQL" → Roles). An existing schema
    /// must belong to it.
    #[arg(long, value_name = "ROLE")]
    pub owner_role: Option<String>,
    /// On a postgres:// URL: the role paytrack's commands connect as, given
    /// only what they need: it appends to the audit log but cannot change
    /// it. Repeatable; later `init`s grant the roles named before again.
    #[arg(long, value_name = "ROLE")]
    pub login_role: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Really remove it (the bot's tables and rows are never touched).
    #[arg(long)]
    pub yes: bool,
}

/// What every command gets: where the database is, the clock, who acts, how to print.
pub struct Context {
    pub db_path: PathBuf,
    /// The path was named (`--db` or `PAYTRACK_DB`): it must exist.
    pub db_named: bool,
    /// The time of this run; `PAYTRACK_NOW` fixes it for tests.
    pub now: DateTime<Utc>,
    pub actor: String,
    pub out: Output,
    /// `--db` named a PostgreSQL URL (kept as text: it may hold a password,
    /// so it is shown only through `db::pg::conninfo::ConnInfo`'s Display).
    pub postgres_url: Option<String>,
    /// The command as typed, e.g. "bookings list", for messages.
    pub command: String,
}

impl Context {
    /// Opens the database, which must exist. Only `init` and `demo` create
    /// one (issue 25): a command that created the default database when
    /// `PAYTRACK_DB` was forgotten answered "no bookings match" with exit 0,
    /// and a cron import filled a file nobody reads.
    pub fn open_db(&self) -> Result<Db> {
        #[cfg(feature = "postgres")]
        if self.postgres_url.is_some() {
            return Db::from_postgres(postgres::connect(self)?);
        }
        self.refuse_postgres()?;
        if !self.db_named && !self.db_path.exists() {
            let shown = crate::output::sanitize::shown_path(&self.db_path);
            return Err(PaytrackError::Database(format!(
                "no database at {shown} (the default, as neither --db nor PAYTRACK_DB names one); \
                 create it with `paytrack init`, or name yours with --db or PAYTRACK_DB"
            ))
            .into());
        }
        Db::open(&self.db_path, OpenMode::Existing)
    }

    /// Opens the database, creating it if missing (init, demo).
    pub fn create_db(&self) -> Result<Db> {
        self.refuse_postgres()?;
        Db::open(&self.db_path, OpenMode::CreateIfMissing)
    }

    /// `demo` (and anything else that creates a database it owns) works on an
    /// SQLite file only: on PostgreSQL the bookings table is the bot's.
    fn refuse_postgres(&self) -> Result<()> {
        if self.postgres_url.is_none() {
            return Ok(());
        }
        if cfg!(feature = "postgres") {
            Err(PaytrackError::Database(format!(
                "{} works on an SQLite file only: on PostgreSQL the bookings table is the bot's (see README \"Running against PostgreSQL\")",
                self.command
            ))
            .into())
        } else {
            Err(PaytrackError::Database(
                "this paytrack was built without PostgreSQL support (the `postgres` feature)"
                    .into(),
            )
            .into())
        }
    }

    /// Parses a date flag (`--since` and friends) in the display zone.
    pub fn parse_when(&self, flag: &str, text: &str) -> Result<DateTime<Utc>> {
        parse_instant(text, self.now, &self.out.zone).map_err(|e| bad_input(format!("{flag}: {e}")))
    }

    /// Parses an optional date flag, as `parse_when` does.
    pub fn parse_optional_when(
        &self,
        flag: &str,
        text: Option<&str>,
    ) -> Result<Option<DateTime<Utc>>> {
        text.map(|t| self.parse_when(flag, t)).transpose()
    }
}

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
        Command::Init(args) => init(
            &ctx,
            args.adopt,
            args.no_counters,
            &InitRoles {
                owner: args.owner_role,
                login: args.login_role,
            },
        ),
        Command::Uninstall(args) => uninstall(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Bookings(cmd) => run_bookings(&ctx, cmd),
        Command::Stats(cmd) => stats::run(&ctx, cmd),
        Command::Audit(cmd) => audit::run(&ctx, cmd),
        Command::Outbox(cmd) => outbox::run(&ctx, cmd),
        Command::Payments(PaymentsCommand::Serve(args)) => online::serve(&ctx, args),
        Command::Payments(PaymentsCommand::Fetch(args)) => online::fetch(&ctx, args),
        Command::Payments(cmd) => payments::run(&ctx, cmd),
        Command::Streams(cmd) => run_streams(&ctx, cmd),
        Command::Courses(cmd) => catalogue::run_courses(&ctx, cmd),
        // One `users` group, two issues: the story and blocking (13), erasure (20).
        Command::Users(UsersCommand::Show {
            user,
            history,
            output,
        }) => users::show(&ctx, &user, history, &output),
        Command::Users(UsersCommand::Block { user, reason }) => {
            users::set_blocked(&ctx, &user, true, &reason)
        }
        Command::Users(UsersCommand::Unblock { user, reason }) => {
            users::set_blocked(&ctx, &user, false, &reason)
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

/// The exit code for an error, the storage backend's own errors included.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    crate::error::exit_code(err, crate::db::exit_code_for)
}

/// Routes `bookings …` to the module that does each part; modules never
/// call each other, so the routing lives here.
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
            true,
            None,
            false,
        ),
        StreamsCommand::Edit(args) => catalogue::save_stream(
            ctx,
            &args.code,
            args.course,
            &args.fields,
            false,
            args.chat_link.map(crate::args::Setting::into_option),
            args.force,
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

/// Marker error that rolls a transaction back while carrying its result out.
#[derive(Debug)]
struct RolledBack<T>(T);
impl<T> std::fmt::Display for RolledBack<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rolled back")
    }
}
impl<T: std::fmt::Debug> std::error::Error for RolledBack<T> {}

/// Runs `work` in one write transaction and commits unless `keep` says no, in
/// which case the same work is rolled back: a dry run (its counts are exact
/// because the work was really done), or a batch with refusals. Returns the
/// result and whether it was committed.
pub fn write_unless<T: std::fmt::Debug + Send + Sync + 'static>(
    ctx: &Context,
    work: impl FnOnce(&crate::db::WriteTx) -> Result<T>,
    keep: impl FnOnce(&T) -> bool,
) -> Result<(T, bool)> {
    write_unless_on(ctx.open_db()?, work, keep)
}

/// `write_unless` on a database the caller opened (and tuned: `bookings
/// import` sorts its index builds in temporary files, which must be set
/// before the transaction).
pub fn write_unless_on<T: std::fmt::Debug + Send + Sync + 'static>(
    mut db: crate::db::Db,
    work: impl FnOnce(&crate::db::WriteTx) -> Result<T>,
    keep: impl FnOnce(&T) -> bool,
) -> Result<(T, bool)> {
    let result = db.write(|tx| {
        let value = work(tx)?;
        if !keep(&value) {
            return Err(RolledBack(value).into());
        }
        Ok(value)
    });
    match result {
        Ok(v) => Ok((v, true)),
        Err(err) => match err.downcast::<RolledBack<T>>() {
            Ok(RolledBack(v)) => Ok((v, false)),
            Err(err) => Err(err),
        },
    }
}

/// Reads booking ids, one per line; blank lines and `#` comments are skipped.
pub fn read_ids(path: &std::path::Path) -> Result<Vec<i64>> {
    use std::io::BufRead as _;
    let (input, _) = crate::input::open_input(path)?;
    let reader = std::io::BufReader::new(input);
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| {
            bad_input(crate::tr!(
                "{}: line {}: {e}",
                "{}: строка {}: {e}",
                crate::output::sanitize::shown_path(path),
                n + 1
            ))
        })?;
        let text = line.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let id = crate::args::booking_id(text).map_err(|e| {
            bad_input(crate::tr!(
                "{}: line {}: {e}",
                "{}: строка {}: {e}",
                crate::output::sanitize::shown_path(path),
                n + 1
            ))
        })?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(bad_input(crate::tr!(
            "{}: no booking ids in the file",
            "{}: в файле нет номеров броней",
            crate::output::sanitize::shown_path(path)
        )));
    }
    Ok(ids)
}

/// `init --owner-role` and `--login-role` (PostgreSQL only; issue 26).
pub struct InitRoles {
    pub owner: Option<String>,
    pub login: Vec<String>,
}

fn init(ctx: &Context, adopt: bool, no_counters: bool, roles: &InitRoles) -> Result<u8> {
    if ctx.postgres_url.is_some() {
        #[cfg(feature = "postgres")]
        return postgres::init(ctx, adopt, !no_counters, roles);
        #[cfg(not(feature = "postgres"))]
        return ctx.refuse_postgres().map(|()| exit::OK);
    }
    if no_counters {
        return Err(bad_input(
            "--no-counters is for a postgres:// URL (an SQLite file's counters are paytrack's own)",
        ));
    }
    if roles.owner.is_some() || !roles.login.is_empty() {
        return Err(bad_input(
            "--owner-role and --login-role are for a postgres:// URL (an SQLite file has no roles)",
        ));
    }
    let existed = ctx.db_path.exists();
    let mode = if adopt {
        OpenMode::Adopt
    } else {
        OpenMode::CreateIfMissing
    };
    let db = Db::open(&ctx.db_path, mode)?;
    let version = db.schema_version()?;
    let path = crate::output::sanitize::shown_path(&ctx.db_path);
    let out = &ctx.out;
    let schema = out.tr("schema version", "версия схемы");
    if let Some(theirs) = db.adopted_beside() {
        let theirs: Vec<String> = theirs
            .iter()
            .map(|t| crate::output::sanitize::shown(t))
            .collect();
        out.note(&format!(
            "{path}: {} ({schema} {version}, {}); {}: {}",
            out.tr(
                "added paytrack's tables, indexes and triggers",
                "добавлены таблицы, индексы и триггеры paytrack"
            ),
            out.tr("journal mode WAL", "журнал WAL"),
            out.tr(
                "its own tables were left as they were",
                "свои таблицы файла не тронуты"
            ),
            theirs.join(", ")
        ));
    } else if existed {
        let up_to_date = out.tr("is up to date", "актуальна");
        out.note(&format!("{path} {up_to_date} ({schema} {version})"));
    } else {
        let created = out.tr("created", "создана");
        out.note(&format!("{created} {path} ({schema} {version})"));
    }
    Ok(exit::OK)
}

fn uninstall(ctx: &Context, args: UninstallArgs) -> Result<u8> {
    if ctx.postgres_url.is_none() {
        return Err(bad_input(
            "uninstall removes paytrack from a PostgreSQL database; an SQLite database is one file, delete it instead",
        ));
    }
    if !args.yes {
        return Err(bad_input(
            "uninstall drops the paytrack schema (audit log and counters included) and its triggers; run it again with --yes",
        ));
    }
    #[cfg(feature = "postgres")]
    return postgres::uninstall(ctx);
    #[cfg(not(feature = "postgres"))]
    ctx.refuse_postgres().map(|()| exit::OK)
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

/// The blast-radius limit of a bulk change or bulk message (`--max N`,
/// issue 25): when `count` is above it, says so on stderr and returns the
/// exit code (10); the caller then changes nothing.
pub fn over_max(ctx: &Context, count: u64, max: Option<u64>, what: &str) -> Option<u8> {
    let max = max?;
    if count <= max {
        return None;
    }
    ctx.out.warn(&format!(
        "{count} {what}, more than --max {max}: nothing changed (raise --max, or narrow the selection)"
    ));
    Some(crate::error::exit::ATTENTION)
}
