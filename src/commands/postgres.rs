//! What only PostgreSQL has (issue 18): `init`, `init --adopt` and
//! `uninstall --yes`. Every other command opens the database through
//! `Context::open_db` and runs on the shared repository.

use anyhow::Result;

use super::Context;
use crate::db::pg::{self, PgDb};
use crate::error::exit;

/// Connects to the URL in `--db`, passing on what the password file check found.
pub(super) fn connect(ctx: &Context) -> Result<PgDb> {
    let url = ctx.postgres_url.as_deref().unwrap_or_default();
    let info = pg::resolve(url)?;
    for warning in &info.warnings {
        ctx.out.warn(warning);
    }
    PgDb::connect(&info)
}

/// `init`: creates or updates the `paytrack` schema; with `--adopt`, checks
/// the bot's table and installs the counters.
pub fn init(ctx: &Context, adopt: bool, counters: bool, roles: &super::InitRoles) -> Result<u8> {
    let mut db = connect(ctx)?;
    if let Some(owner) = &roles.owner {
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
    for warning in db.grant_login_roles(&roles.login)? {
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
pub fn uninstall(ctx: &Context) -> Result<u8> {
    let mut db = connect(ctx)?;
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
