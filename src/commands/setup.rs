//! `init` and `uninstall`: paytrack's tables into a database (an SQLite
//! file, or beside the bot's on PostgreSQL) and out of it again.

use anyhow::Result;
use clap::Args;

use super::Context;
use crate::db::{Db, OpenMode};
use crate::error::{bad_input, exit};

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

/// `init`: paytrack's tables into a new SQLite file or beside another
/// application's (`--adopt`); on a postgres:// URL, see `init_postgres`.
pub fn init(ctx: &Context, args: &InitArgs) -> Result<u8> {
    if ctx.postgres_url.is_some() {
        #[cfg(feature = "postgres")]
        return init_postgres(ctx, args);
        #[cfg(not(feature = "postgres"))]
        return ctx.refuse_postgres().map(|()| exit::OK);
    }
    if args.no_counters {
        return Err(bad_input(
            "--no-counters is for a postgres:// URL (an SQLite file's counters are paytrack's own)",
        ));
    }
    if args.owner_role.is_some() || !args.login_role.is_empty() {
        return Err(bad_input(
            "--owner-role and --login-role are for a postgres:// URL (an SQLite file has no roles)",
        ));
    }
    let existed = ctx.db_path.exists();
    let mode = if args.adopt {
        OpenMode::Adopt
    } else {
        OpenMode::CreateIfMissing
    };
    let db = Db::open(&ctx.db_path, mode)?;
    let version = db.schema_version()?;
    let path = crate::text::shown_path(&ctx.db_path);
    let out = &ctx.out;
    let schema = out.tr("schema version", "версия схемы");
    if let Some(theirs) = db.adopted_beside() {
        let theirs: Vec<String> = theirs.iter().map(|t| crate::text::shown(t)).collect();
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

pub fn uninstall(ctx: &Context, args: UninstallArgs) -> Result<u8> {
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
    return uninstall_postgres(ctx);
    #[cfg(not(feature = "postgres"))]
    ctx.refuse_postgres().map(|()| exit::OK)
}

/// `init`: creates or updates the `paytrack` schema; with `--adopt`, checks
/// the bot's table and installs the counters.
#[cfg(feature = "postgres")]
fn init_postgres(ctx: &Context, args: &InitArgs) -> Result<u8> {
    let (adopt, counters) = (args.adopt, !args.no_counters);
    let mut db = ctx.connect_postgres()?;
    if let Some(owner) = &args.owner_role {
        db.act_as(owner)?;
    }
    let (before, after) = db.migrate()?;
    let out = &ctx.out;
    let shown = db.info().to_string();
    let schema = out.tr("paytrack schema version", "версия схемы paytrack");
    if before == after {
        let up_to_date = out.tr("is up to date", "актуальна");
        out.note(&format!("{shown}: {schema} {after} {up_to_date}"));
    } else {
        let created = out.tr("created", "создана");
        out.note(&format!("{shown}: {schema} {after} {created}"));
    }
    if let Some(warning) = db.case_folding_warning()? {
        out.warn(&warning);
    }
    if !db.has_trigram_search()? {
        out.warn(out.tr(
            "the extension pg_trgm is not available in this database (PostgreSQL's contrib, installed by a role with CREATE on the database): `bookings list --search` reads every booking instead of an index",
            "расширения pg_trgm в этой базе нет (contrib PostgreSQL; ставит роль с правом CREATE на базу): `bookings list --search` читает все бронирования вместо индекса",
        ));
    }
    db.refresh_view()?;
    if !adopt && db.create_bookings_table()? {
        out.note(&format!(
            "{shown}: {}",
            out.tr(
                "created public.bookings in the old system's shape (no bot table was here)",
                "создана таблица public.bookings в формате старой системы (таблицы бота здесь не было)"
            )
        ));
    }
    let mut adopted_indexes_left = Vec::new();
    if adopt {
        let adopted = db.adopt(&ctx.actor, counters)?;
        adopted_indexes_left.clone_from(&adopted.indexes_left);
        out.note(&format!(
            "{}: {} {}, {} {}",
            out.tr(
                "adopted public.bookings",
                "таблица public.bookings подключена"
            ),
            adopted.bookings,
            out.tr("bookings", "бронирований"),
            adopted.streams,
            out.tr("streams counted", "потоков посчитано"),
        ));
    }
    if adopt && !adopted_indexes_left.is_empty() {
        out.warn(&format!(
            "{}: {}",
            out.tr(
                "not the owner of public.bookings, so no index was created; for fast filters the owner can run",
                "роль не владеет public.bookings, индексы не созданы; для быстрых фильтров владелец может выполнить"
            ),
            adopted_indexes_left.join("; ")
        ));
    }
    // Every init grants the login roles again: a migration may have added tables.
    for warning in db.grant_login_roles(&args.login_role)? {
        out.warn(&warning);
    }
    if adopt && !counters {
        out.warn(out.tr(
            "no counter triggers on public.bookings: `stats` counts live with a GROUP BY over the bookings",
            "триггеров-счётчиков на public.bookings нет: `stats` считает по всем бронированиям",
        ));
    }
    Ok(exit::OK)
}

/// `uninstall --yes`: drops paytrack's triggers and schema.
#[cfg(feature = "postgres")]
fn uninstall_postgres(ctx: &Context) -> Result<u8> {
    let mut db = ctx.connect_postgres()?;
    let shown = db.info().to_string();
    if db.uninstall()? {
        ctx.out.note(&format!(
            "{shown}: {}",
            ctx.out.tr(
                "removed the paytrack schema and its triggers; the bot's tables are untouched",
                "схема paytrack и её триггеры удалены; таблицы бота не тронуты"
            )
        ));
    } else {
        ctx.out.note(&format!(
            "{shown}: {}",
            ctx.out.tr(
                "paytrack is not installed here",
                "paytrack здесь не установлен"
            )
        ));
    }
    Ok(exit::OK)
}
