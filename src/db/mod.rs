//! The database: opening, pragmas, migrations and transactions.
//!
//! All SQL lives under `src/db/`. Commands get a `Db`, read through its
//! methods, and write through `Db::write`, which hands them a `WriteTx` inside
//! one `BEGIN IMMEDIATE` transaction: everything done with it lands, or none
//! of it does. Nothing here prints. Signatures use domain types only, never
//! rusqlite's, so a PostgreSQL backend can implement the same surface.

pub mod audit;
pub mod bookings;
pub mod catalogue;
pub mod outbox;
pub mod payments;
pub mod privacy;
pub mod stats;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::PaytrackError;

/// The schema, as numbered migrations (see the header of schema.sql).
const SCHEMA: &str = include_str!("../../schema.sql");

/// How long a statement waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether opening may create the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist (a path named by `--db` or `PAYTRACK_DB`).
    Existing,
    /// Create the file, and its parent directories, if missing.
    CreateIfMissing,
}

/// An open paytrack database.
pub struct Db {
    conn: Connection,
    path: PathBuf,
    /// Opened read-only: the file has no write permission (or the OS refused writes).
    read_only: bool,
}

/// A write transaction (`BEGIN IMMEDIATE`); repository write methods hang off it.
pub struct WriteTx<'a> {
    tx: rusqlite::Transaction<'a>,
    /// What this transaction has read or written already. We hold the write
    /// lock, so nobody else can change it before we commit or roll back
    /// (issue 19: a 100k-row payments import re-read the same audit head,
    /// courses and streams, and formatted the same `now`, for every row).
    cache: RefCell<TxCache>,
}

/// Facts a write transaction keeps instead of re-reading or recomputing them.
/// Each is filled by the one method that reads it and kept up to date by the
/// methods that write it (all in `src/db/`).
#[derive(Default)]
struct TxCache {
    /// The last audit entry's (id, hash): the chain continues from here.
    audit_head: Option<(i64, String)>,
    /// The last instant formatted for storage, and its text.
    stamp: Option<(DateTime<Utc>, Rc<str>)>,
    courses: HashMap<i64, Option<catalogue::Course>>,
    streams: HashMap<(i64, String), Option<catalogue::Stream>>,
}

impl Db {
    /// Opens (or creates) the database at `path`, applies pending migrations and
    /// refuses a database written by a newer paytrack.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Db> {
        let shown = path.display();
        if path.is_dir() {
            return Err(PaytrackError::Database(format!(
                "{shown} is a directory, not a database file"
            ))
            .into());
        }
        if !path.exists() {
            match mode {
                OpenMode::Existing => {
                    return Err(PaytrackError::Database(format!(
                    "database {shown} does not exist (create it with `paytrack init --db {shown}`)"
                ))
                    .into())
                }
                OpenMode::CreateIfMissing => create_private_file(path)?,
            }
        }
        // A file without write permission is opened read-only on purpose: root
        // could write to it anyway, and `chmod a-w` is how an admin says "hands off".
        let access = if has_no_write_permission(path) {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let flags = access | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| PaytrackError::Database(format!("cannot open {shown}: {e}")))?;
        // SQLite also falls back to read-only by itself when the OS refuses writes.
        let read_only = conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .unwrap_or(false);
        let mut db = Db {
            conn,
            path: path.to_path_buf(),
            read_only,
        };
        db.configure().map_err(|e| describe_open_error(path, e))?;
        db.migrate().map_err(|e| describe_open_error(path, e))?;
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&mut self) -> Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // Reading the schema version first turns "not a database" into an error here.
        let _: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        // A read-only file may not switch modes; reads still work and writes fail
        // with a clear "read-only" error later, so the answer is not checked.
        let _mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        self.conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA temp_store = MEMORY;",
        )?;
        self.conn.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    /// The version this database is at (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        let latest = latest_version();
        let current = self.schema_version()?;
        if current > latest {
            return Err(PaytrackError::Database(format!(
                "{} has schema version {current}, newer than this paytrack supports ({latest}); upgrade paytrack",
                self.path.display()
            ))
            .into());
        }
        if current == latest {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let current: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (version, sql) in migrations() {
            if version > current {
                tx.execute_batch(sql)
                    .with_context(|| format!("applying schema migration {version}"))?;
            }
        }
        // Work a migration needs that SQL cannot do: the search fold is Rust's.
        if current < bookings::SEARCH_FOLD_MIGRATION && latest >= bookings::SEARCH_FOLD_MIGRATION {
            bookings::refold_search_text(&tx).context("refolding the search text")?;
        }
        // PRAGMA takes no parameters; `latest` is our own number, not input.
        tx.execute_batch(&format!("PRAGMA user_version = {latest}"))?;
        tx.commit()?;
        Ok(())
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction: commits if it returns
    /// Ok, rolls back otherwise (and if the process dies, SQLite rolls back).
    pub fn write<T>(&mut self, work: impl FnOnce(&WriteTx) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(PaytrackError::Database(format!(
                "{} is read-only (the file has no write permission); nothing was changed",
                self.path.display()
            ))
            .into());
        }
        let path = self.path.clone();
        self.write_transaction(work, true)
            .map_err(|e| describe_write_error(&path, e))
    }

    /// The one transaction runner. `honour_interrupt`: a Ctrl-C that arrived
    /// during `work` rolls it back instead of committing.
    fn write_transaction<T>(
        &mut self,
        work: impl FnOnce(&WriteTx) -> Result<T>,
        honour_interrupt: bool,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting a write transaction")?;
        let write = WriteTx {
            tx,
            cache: RefCell::default(),
        };
        let value = work(&write)?;
        if honour_interrupt {
            crate::interrupt::check()?;
        }
        write.tx.commit().context("committing")?;
        Ok(value)
    }

    /// Lets large sorts (index builds after a bulk load) spill to SQLite's
    /// own temporary files — unnamed, deleted as soon as opened — instead of
    /// memory. With temp_store = MEMORY, `demo --bookings 1000000` kept every
    /// sorted run of its index builds in memory (158 MB peak) and was slower
    /// for it (issue 19). Called before the write transaction: SQLite refuses
    /// the change inside one.
    pub fn sort_in_temp_files(&mut self) -> Result<()> {
        self.conn.execute_batch("PRAGMA temp_store = FILE")?;
        Ok(())
    }

    /// True when this database was opened read-only (every write will be refused).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Runs `work` in one read transaction, so that it sees one snapshot.
    pub fn read<T>(&mut self, work: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let value = work(self);
        self.conn.execute_batch("COMMIT")?;
        value
    }

    /// `PRAGMA integrity_check`, for tests and `stats verify`.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

impl WriteTx<'_> {
    /// Gives this connection a page cache big enough for a bulk load (`demo`)
    /// of a million rows. With SQLite's default 2 MiB cache,
    /// inserts into the indexes keyed by random values (user id, username) spill
    /// dirty pages to the WAL and read them back, which made `demo --bookings
    /// 1000000` take several times longer. It only sizes memory for this
    /// process; journal mode, synchronous and every other durability setting
    /// stay as they are. The memory is taken only as pages are used.
    pub fn tune_for_bulk_load(&self) -> Result<()> {
        // 16 MiB: the rows go in append-only (demo builds the indexes after
        // them), and the WAL still grows while a long load runs. Each index
        // build's sorter takes as much again, so 64 MiB made `demo` peak at
        // 158 MB of memory at 1M bookings (issue 19: 64 MB at most).
        self.tx.execute_batch("PRAGMA cache_size = -16384")?; // KiB
        Ok(())
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.tx
    }

    /// `now` as storage text, formatted once per transaction (every row a
    /// command writes carries the same instant).
    pub(crate) fn stamp(&self, now: DateTime<Utc>) -> Rc<str> {
        let mut cache = self.cache.borrow_mut();
        match &cache.stamp {
            Some((at, text)) if *at == now => text.clone(),
            _ => {
                let text: Rc<str> = crate::domain::time::to_storage(now).into();
                cache.stamp = Some((now, text.clone()));
                text
            }
        }
    }
}

/// The highest migration number in schema.sql.
pub fn latest_version() -> u32 {
    migrations().map(|(v, _)| v).max().unwrap_or(0)
}

/// The `-- migration: N` sections of schema.sql, in order: each starts at a
/// line that is exactly the marker and a number, and ends at the next one.
pub fn migrations() -> impl Iterator<Item = (u32, &'static str)> {
    const MARKER: &str = "-- migration: ";
    // (version, where the marker line begins, where the section's SQL begins)
    let mut markers: Vec<(u32, usize, usize)> = Vec::new();
    let mut offset = 0;
    for line in SCHEMA.split_inclusive('\n') {
        if let Some(version) = line
            .strip_prefix(MARKER)
            .and_then(|n| n.trim().parse().ok())
        {
            markers.push((version, offset, offset + line.len()));
        }
        offset += line.len();
    }
    let ends: Vec<usize> = markers
        .iter()
        .skip(1)
        .map(|m| m.1)
        .chain([SCHEMA.len()])
        .collect();
    markers
        .into_iter()
        .zip(ends)
        .map(|((version, _, start), end)| (version, &SCHEMA[start..end]))
}

/// Creates an empty file readable by its owner only (0600), parents included.
/// SQLite gives the -wal and -shm files the same permissions as the database.
fn create_private_file(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating directory {}", parent.display()))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating database {}", path.display()))?;
    Ok(())
}

/// True when the file's permission bits allow nobody to write it.
fn has_no_write_permission(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
}

/// The SQLite error code somewhere in an error's chain, if any.
fn sqlite_code(err: &anyhow::Error) -> Option<rusqlite::ErrorCode> {
    err.chain()
        .find_map(|c| c.downcast_ref::<rusqlite::Error>())
        .and_then(rusqlite::Error::sqlite_error_code)
}

/// SQLite's extended result code somewhere in an error's chain, if any.
fn extended_code(err: &anyhow::Error) -> Option<i32> {
    err.chain()
        .find_map(|c| match c.downcast_ref::<rusqlite::Error>() {
            Some(rusqlite::Error::SqliteFailure(e, _)) => Some(e.extended_code),
            _ => None,
        })
}

/// Turns a storage failure during a write (disk full, I/O error, read-only)
/// into one line that names the file and says nothing was changed: the
/// transaction rolled back. Other errors (bad input, refusals) pass through.
fn describe_write_error(path: &Path, err: anyhow::Error) -> anyhow::Error {
    use rusqlite::ErrorCode::{DatabaseCorrupt, DiskFull, NotADatabase, ReadOnly, SystemIoFailure};
    let shown = path.display();
    let what = match sqlite_code(&err) {
        Some(DiskFull) => "the disk is full (or a file size limit was reached)".to_string(),
        // SQLITE_IOERR_WRITE: write(2) failed, typically ENOSPC or EFBIG (`ulimit -f`).
        Some(SystemIoFailure) if extended_code(&err) == Some(rusqlite::ffi::SQLITE_IOERR_WRITE) => {
            "writing failed (the disk is full or a file size limit was reached)".to_string()
        }
        Some(SystemIoFailure) => format!("a disk I/O error ({err:#})"),
        Some(ReadOnly) => "the database is read-only".to_string(),
        Some(DatabaseCorrupt | NotADatabase) => "the database is corrupt".to_string(),
        _ => return err,
    };
    PaytrackError::Database(format!(
        "cannot write to {shown}: {what}; nothing was changed"
    ))
    .into()
}

/// Turns SQLite's terse open-time failures into one line that names the file.
fn describe_open_error(path: &Path, err: anyhow::Error) -> anyhow::Error {
    if err
        .chain()
        .any(|c| c.downcast_ref::<PaytrackError>().is_some())
    {
        return err;
    }
    use rusqlite::ErrorCode::{
        DatabaseBusy, DatabaseCorrupt, DatabaseLocked, NotADatabase, ReadOnly,
    };
    let what = match sqlite_code(&err) {
        Some(NotADatabase) => "is not a SQLite database".to_string(),
        Some(DatabaseCorrupt) => "is corrupt".to_string(),
        Some(ReadOnly) => "is read-only".to_string(),
        Some(DatabaseBusy | DatabaseLocked) => return err,
        _ => format!("cannot be used: {err:#}"),
    };
    PaytrackError::Database(format!("{} {what}", path.display())).into()
}

/// The exit code a storage error stands for, if it is one of ours: busy,
/// unusable (corrupt, read-only, disk full…), or data refused by a constraint.
/// Lives here so that nothing outside `db` needs to know SQLite's error codes.
pub fn exit_code_for(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    use crate::error::exit;
    use rusqlite::ErrorCode::{
        CannotOpen, ConstraintViolation, DatabaseBusy, DatabaseCorrupt, DatabaseLocked, DiskFull,
        FileLockingProtocolFailed, NotADatabase, PermissionDenied, ReadOnly, SystemIoFailure,
        TooBig,
    };
    let err = cause.downcast_ref::<rusqlite::Error>()?;
    match err.sqlite_error_code()? {
        DatabaseBusy | DatabaseLocked => Some(exit::BUSY),
        DatabaseCorrupt
        | NotADatabase
        | ReadOnly
        | DiskFull
        | CannotOpen
        | SystemIoFailure
        | PermissionDenied
        | FileLockingProtocolFailed
        | TooBig => Some(exit::DATABASE),
        ConstraintViolation => Some(exit::BAD_INPUT),
        _ => None,
    }
}
