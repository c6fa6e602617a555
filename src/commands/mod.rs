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
mod postgres;
pub mod retention;
pub mod set_status;
pub mod setup;
pub mod stats;
pub mod undo;
pub mod users;

use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::db::{Db, OpenMode};
use crate::domain::time::parse_instant;
use crate::error::{bad_input, PaytrackError};
use crate::output::Output;

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
    /// The PostgreSQL database `--db` names, connected as every command
    /// connects (`init` and `uninstall` work on it directly).
    #[cfg(feature = "postgres")]
    pub fn connect_postgres(&self) -> Result<crate::db::pg::PgDb> {
        postgres::connect(self)
    }

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
            let shown = crate::text::shown_path(&self.db_path);
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

/// The exit code for an error, the storage backend's own errors included.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    crate::error::exit_code(err, crate::db::exit_code_for)
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
                crate::text::shown_path(path),
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
                crate::text::shown_path(path),
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
            crate::text::shown_path(path)
        )));
    }
    Ok(ids)
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
