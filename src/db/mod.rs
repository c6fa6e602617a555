//! The database: opening, pragmas, migrations and transactions, over an
//! SQLite file or a PostgreSQL database (issue 18).
//!
//! All SQL lives under `src/db/`. Commands get a `Db`, read through its
//! methods, and write through `Db::write`, which hands them a `WriteTx` inside
//! one transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: READ COMMITTED
//! after paytrack's advisory lock): everything done with it lands, or none of
//! it does. Nothing here prints. Signatures use domain types only; the
//! repository functions run their SQL through `sql::Conn`, the same calls on
//! either engine, and `pg/` holds what only PostgreSQL needs.

pub mod audit;
pub mod backup;
pub mod bookings;
pub mod catalogue;
pub mod check;
mod conditions;
pub mod error;
mod migrations;
pub mod operations;
pub mod outbox;
pub mod payments;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod privacy;
pub mod provider_facts;
pub mod sql;
mod sqlite;

use migrations::paytrack_object_names;
pub use migrations::{latest_version, migrations, MIGRATIONS_IN_STEP_FROM};
use sqlite::{
    create_private_file, describe_open_error, describe_write_error, has_no_write_permission,
    open_uri, restore_side_file_modes,
};
pub mod stats;
pub mod sync;
pub mod users;
pub mod value;

use std::cell::RefCell;
use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::PaytrackError;
use crate::text::{shown, shown_path};

/// True when `--db` names a PostgreSQL database rather than an SQLite file:
/// a `postgres://` or `postgresql://` URL (any case).
pub fn is_postgres_url(text: &str) -> bool {
    let head = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    head.starts_with("postgres://") || head.starts_with("postgresql://")
}

/// How long a statement waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How many SQLite VM steps pass between two looks at the Ctrl-C flag.
const INTERRUPT_POLL_STEPS: i32 = 10_000;

/// Whether opening may create the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist (a path named by `--db` or `PAYTRACK_DB`).
    Existing,
    /// Create the file, and its parent directories, if missing.
    CreateIfMissing,
    /// As `CreateIfMissing`, and accept another application's database, adding
    /// paytrack's tables beside its own (`init --adopt`).
    Adopt,
}

/// Whose database a file is.
enum Ownership {
    /// No tables and schema version 0: a new file, ours to initialise.
    Empty,
    Paytrack,
    Foreign {
        tables: Vec<String>,
        user_version: u32,
    },
}

/// The engine under a `Db`: an SQLite file or a PostgreSQL session (issue
/// 18). Repository functions see it only as a `sql::Conn`.
enum Backend {
    Sqlite(Connection),
    #[cfg(feature = "postgres")]
    Pg(pg::session::Session),
}

/// An open paytrack database.
pub struct Db {
    backend: Backend,
    path: PathBuf,
    /// Opened read-only: the file has no write permission (or the OS refused writes).
    read_only: bool,
    /// `init --adopt` took another application's file: its tables.
    adopted: Option<Vec<String>>,
}

/// A write transaction (`BEGIN IMMEDIATE`); repository write methods hang off it.
pub struct WriteTx<'a> {
    tx: TxConn<'a>,
    /// What this transaction has read or written already. We hold the write
    /// lock, so nobody else can change it before we commit or roll back
    /// (issue 19: a 100k-row payments import re-read the same audit head,
    /// courses and streams, and formatted the same `now`, for every row).
    cache: RefCell<TxCache>,
    /// The operation id every audit entry of this transaction carries
    /// (`paytrack undo OP`). Made here, not by commands, so none can forget it.
    operation_id: String,
    /// Whether an entry `paytrack undo` can reverse was written (then the
    /// operation is reported with its undo hint).
    undoable: std::cell::Cell<bool>,
}

/// The connection a write transaction runs on.
enum TxConn<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    /// A session inside `BEGIN … COMMIT` (see `Db::write_transaction`).
    #[cfg(feature = "postgres")]
    Pg(&'a pg::session::Session),
}

/// Operations committed by this process that `undo` can reverse, in order;
/// `commands::run` reports them when the command finishes.
static COMMITTED_OPERATIONS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Rows a listing skipped because paytrack cannot read them (another
/// program's data), said once each by the command (`take_skipped_rows`).
static SKIPPED_ROWS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

pub(crate) fn note_skipped_row(problem: String) {
    if let Ok(mut rows) = SKIPPED_ROWS.lock() {
        if !rows.contains(&problem) {
            rows.push(problem);
        }
    }
}

/// Takes the rows skipped so far, each once.
pub fn take_skipped_rows() -> Vec<String> {
    SKIPPED_ROWS
        .lock()
        .map(|mut rows| std::mem::take(&mut *rows))
        .unwrap_or_default()
}

/// Takes the ids of the operations committed so far (see `WriteTx::operation_id`).
pub fn take_committed_operations() -> Vec<String> {
    COMMITTED_OPERATIONS
        .lock()
        .map(|mut ops| std::mem::take(&mut *ops))
        .unwrap_or_default()
}

/// A new operation id: 16 hex digits from the wall clock (not PAYTRACK_NOW,
/// which tests fix), the process id and a counter, hashed. Unique enough for
/// one school's database; `undo` refuses an ambiguous prefix anyway.
fn new_operation_id() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hex::encode(&h.finalize()[..8])
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
    /// What a message's text takes from the catalogue, per (course, stream, kind).
    message_catalogues: HashMap<(i64, Option<String>, &'static str), outbox::MessageCatalogue>,
    /// Per booking that had no payment before this transaction, the
    /// (currency, amount) of each payment stored since that counts as
    /// received; handed over (removed) when read (`WriteTx::ledger`).
    received: FxHashMap<i64, Vec<(String, i64)>>,
    /// Every booking with a stored payment, once someone asked
    /// (`booking_ids_with_payments`): a booking outside it has an empty ledger.
    paid_bookings: Option<FxHashSet<i64>>,
    /// Every booking with a pending message (of any kind), once someone
    /// asked (`learn_pending_messages`); may hold some with none left (then
    /// a withdrawal just finds nothing), never misses one.
    pending_messages: Option<FxHashSet<i64>>,
    /// What an import read ahead for its next rows (`prefetch_for_import`);
    /// each entry is handed over (removed) when read.
    prefetched: Option<sync::Prefetched>,
    /// Status changes whose bot row is written at the end (PostgreSQL).
    deferred: bookings::DeferredStatuses,
}

impl Db {
    /// Opens (or creates) the database at `path`, applies pending migrations and
    /// refuses a database written by a newer paytrack, or one that belongs to
    /// another application (unless `mode` is `Adopt`).
    pub fn open(path: &Path, mode: OpenMode) -> Result<Db> {
        let shown = shown_path(path);
        if path.is_dir() {
            return Err(PaytrackError::Database(format!(
                "{shown} is a directory, not a database file"
            ))
            .into());
        }
        if !path.exists() {
            match mode {
                OpenMode::Existing => {
                    return Err(PaytrackError::Database(crate::tr!(
                    "database {shown} does not exist (create it with `paytrack init --db {shown}`)",
                    "базы {shown} нет (создайте её: `paytrack init --db {shown}`)"
                ))
                    .into())
                }
                OpenMode::CreateIfMissing | OpenMode::Adopt => create_private_file(path)?,
            }
        }
        // A device, FIFO or socket is never opened: SQLite would take an
        // unreadable size for an empty database and write a schema onto it
        // (as root, onto a disk).
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(PaytrackError::Database(format!(
                "{shown} is not a regular file (a device, FIFO or socket); name a database file"
            ))
            .into());
        }
        // A file without write permission is opened read-only on purpose: root
        // could write to it anyway, and `chmod a-w` is how an admin says "hands off".
        let frozen = has_no_write_permission(path);
        if !frozen {
            restore_side_file_modes(path);
        }
        let (uri, access) = open_uri(path, frozen)?;
        let flags = access | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&uri, flags)
            .map_err(|e| PaytrackError::Database(format!("cannot open {shown}: {e}")))?;
        // SQLite also falls back to read-only by itself when the OS refuses writes.
        let read_only = conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .unwrap_or(false);
        let mut db = Db {
            backend: Backend::Sqlite(conn),
            path: path.to_path_buf(),
            read_only,
            adopted: None,
        };
        db.lite().busy_timeout(BUSY_TIMEOUT)?;
        // Nothing is written before we know the file is ours: switching the
        // journal mode or migrating another application's file would change it.
        let owner = db.ownership().map_err(|e| describe_open_error(path, e))?;
        if let Ownership::Foreign {
            tables,
            user_version,
        } = owner
        {
            db.refuse_or_adopt(mode, tables, user_version)?;
        }
        db.configure().map_err(|e| describe_open_error(path, e))?;
        db.migrate().map_err(|e| describe_open_error(path, e))?;
        Ok(db)
    }

    /// A repository over a PostgreSQL connection whose paytrack schema is
    /// installed and current (issue 18). `path` holds the server as shown,
    /// never its password.
    #[cfg(feature = "postgres")]
    pub fn from_postgres(connection: pg::PgDb) -> Result<Db> {
        let shown = connection.info().to_string();
        let session = connection.into_session()?;
        Ok(Db {
            backend: Backend::Pg(session),
            path: PathBuf::from(shown),
            read_only: false,
            adopted: None,
        })
    }

    /// Whose file this is: empty (ours to initialise), paytrack's, or another
    /// application's (objects in it that are not paytrack's, or a schema
    /// version without paytrack's tables).
    fn ownership(&self) -> Result<Ownership> {
        // Reading the schema version first turns "not a database" into an error here.
        let user_version: u32 = self
            .lite()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let mut stmt = self.lite().prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let tables: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if tables.is_empty() && user_version == 0 {
            return Ok(Ownership::Empty);
        }
        let ours = ["bookings", "audit_log", "outbox"]
            .iter()
            .all(|t| tables.iter().any(|name| name == t));
        if ours && user_version > 0 {
            Ok(Ownership::Paytrack)
        } else {
            Ok(Ownership::Foreign {
                tables,
                user_version,
            })
        }
    }

    /// Another application's database: refused, or with `init --adopt`
    /// accepted when paytrack's objects fit beside its own.
    fn refuse_or_adopt(
        &mut self,
        mode: OpenMode,
        tables: Vec<String>,
        user_version: u32,
    ) -> Result<()> {
        let shown = shown_path(&self.path);
        let theirs = list_names(&tables);
        if mode != OpenMode::Adopt {
            return Err(PaytrackError::Database(format!(
                "{shown} is not a paytrack database (it holds other tables: {theirs}); nothing was changed. \
                 `paytrack init --adopt` would add paytrack's tables beside them"
            ))
            .into());
        }
        let clashes: Vec<String> = paytrack_object_names()?
            .into_iter()
            .filter(|name| self.has_object(name).unwrap_or(true))
            .collect();
        if !clashes.is_empty() {
            return Err(PaytrackError::Database(format!(
                "cannot adopt {shown}: it has its own {} that paytrack would create; nothing was changed",
                list_names(&clashes)
            ))
            .into());
        }
        if user_version != 0 {
            return Err(PaytrackError::Database(format!(
                "cannot adopt {shown}: its schema version ({user_version}) belongs to another application; nothing was changed"
            ))
            .into());
        }
        if self.read_only {
            return Err(PaytrackError::Database(format!(
                "cannot adopt {shown}: it is read-only; nothing was changed"
            ))
            .into());
        }
        self.adopted = Some(tables);
        Ok(())
    }

    fn has_object(&self, name: &str) -> Result<bool> {
        Ok(self.lite().query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1 COLLATE NOCASE)",
            [name],
            |r| r.get(0),
        )?)
    }

    /// After `init --adopt` on another application's file: its own tables,
    /// which were left as they were.
    pub fn adopted_beside(&self) -> Option<&[String]> {
        self.adopted.as_deref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&mut self) -> Result<()> {
        // A read-only file may not switch modes; reads still work and writes fail
        // with a clear "read-only" error later, so the answer is not checked.
        let _mode: String = self
            .lite()
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        self.lite().execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA temp_store = MEMORY;",
        )?;
        self.lite().set_prepared_statement_cache_capacity(64);
        // Ctrl-C reaches long statements too (a recount, a date-range scan,
        // `check`'s integrity_check): SQLite asks every few thousand VM steps
        // and the statement fails with SQLITE_INTERRUPT, which rolls back a
        // write and maps to exit 130 (`exit_code_for`).
        self.watch_interrupts(true);
        Ok(())
    }

    /// Lets Ctrl-C stop this connection's statements (`true`), or not.
    // Without the `postgres` feature SQLite is the only backend.
    #[cfg_attr(not(feature = "postgres"), allow(irrefutable_let_patterns))]
    fn watch_interrupts(&self, on: bool) {
        let Backend::Sqlite(conn) = &self.backend else {
            return;
        };
        if on {
            conn.progress_handler(INTERRUPT_POLL_STEPS, Some(crate::interrupt::requested));
        } else {
            conn.progress_handler(0, None::<fn() -> bool>);
        }
    }

    /// The version this database is at (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32> {
        match &self.backend {
            Backend::Sqlite(conn) => Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?),
            #[cfg(feature = "postgres")]
            Backend::Pg(session) => pg::schema_version(session),
        }
    }

    fn migrate(&mut self) -> Result<()> {
        let latest = latest_version();
        let current = self.schema_version()?;
        if current > latest {
            return Err(PaytrackError::Database(format!(
                "{} has schema version {current}, newer than this paytrack supports ({latest}); upgrade paytrack",
                crate::text::shown_path(&self.path)
            ))
            .into());
        }
        if current == latest {
            return Ok(());
        }
        let tx = self
            .lite_mut()
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
            bookings::refold_search_text(sql::Conn::Sqlite(&tx))
                .context("refolding the search text")?;
        }
        if current < bookings::STAMP_DEFAULTS_MIGRATION
            && latest >= bookings::STAMP_DEFAULTS_MIGRATION
        {
            bookings::default_stamps(&tx).context("giving bookings' times a default")?;
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
                crate::text::shown_path(&self.path)
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
        // A write that must land after Ctrl-C (a send that already happened)
        // must not be stopped inside SQLite either.
        if !honour_interrupt {
            self.watch_interrupts(false);
        }
        let result = (|| {
            let tx = match &mut self.backend {
                Backend::Sqlite(conn) => TxConn::Sqlite(
                    conn.transaction_with_behavior(TransactionBehavior::Immediate)
                        .context("starting a write transaction")?,
                ),
                #[cfg(feature = "postgres")]
                Backend::Pg(session) => TxConn::Pg(pg::begin_write(session)?),
            };
            let write = WriteTx {
                tx,
                cache: RefCell::default(),
                operation_id: new_operation_id(),
                undoable: std::cell::Cell::new(false),
            };
            let outcome = work(&write).and_then(|value| {
                if honour_interrupt {
                    crate::interrupt::check()?;
                }
                // The bot's rows last, just before COMMIT (pg::bot_rows).
                write.settle_deferred_statuses()?;
                Ok(value)
            });
            let (operation_id, undoable) = (write.operation_id.clone(), write.undoable.get());
            let value = match write.tx {
                TxConn::Sqlite(tx) => {
                    let value = outcome?;
                    tx.commit().context("committing")?;
                    value
                }
                #[cfg(feature = "postgres")]
                TxConn::Pg(session) => pg::finish_write(session, outcome)?,
            };
            // Delivery results (honour_interrupt false) are not a person's command to undo.
            if undoable && honour_interrupt {
                if let Ok(mut ops) = COMMITTED_OPERATIONS.lock() {
                    ops.push(operation_id);
                }
            }
            Ok(value)
        })();
        if !honour_interrupt {
            self.watch_interrupts(true);
        }
        result
    }

    /// Lets large sorts (index builds after a bulk load) spill to SQLite's
    /// own temporary files — unnamed, deleted as soon as opened — instead of
    /// memory. With temp_store = MEMORY, `demo --bookings 1000000` kept every
    /// sorted run of its index builds in memory (158 MB peak) and was slower
    /// for it (issue 19). Called before the write transaction: SQLite refuses
    /// the change inside one.
    #[cfg_attr(not(feature = "postgres"), allow(irrefutable_let_patterns))]
    pub fn sort_in_temp_files(&mut self) -> Result<()> {
        if let Backend::Sqlite(conn) = &self.backend {
            conn.execute_batch("PRAGMA temp_store = FILE")?;
        }
        Ok(())
    }

    /// True when this database was opened read-only (every write will be refused).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Runs `work` in one read transaction, so that it sees one snapshot.
    pub fn read<T>(&mut self, work: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        self.conn()
            .execute_batch(self.conn().dialect().begin_read())?;
        let value = work(self);
        self.conn().execute_batch("COMMIT")?;
        value
    }

    /// `PRAGMA integrity_check`'s first line, for tests (`paytrack check`
    /// lists every problem through `integrity_problems`).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .sqlite_only("check")?
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    pub(crate) fn conn(&self) -> sql::Conn<'_> {
        match &self.backend {
            Backend::Sqlite(conn) => sql::Conn::Sqlite(conn),
            #[cfg(feature = "postgres")]
            Backend::Pg(session) => sql::Conn::Pg(session),
        }
    }

    /// True on PostgreSQL (for the few commands that differ there).
    pub fn is_postgres(&self) -> bool {
        self.conn().is_postgres()
    }

    /// The SQLite connection of a file opened by `open`, where only an SQLite
    /// file gets here (opening, migrating, configuring).
    fn lite(&self) -> &Connection {
        match &self.backend {
            Backend::Sqlite(conn) => conn,
            #[cfg(feature = "postgres")]
            Backend::Pg(_) => unreachable!("an SQLite-only step ran on PostgreSQL"),
        }
    }

    fn lite_mut(&mut self) -> &mut Connection {
        match &mut self.backend {
            Backend::Sqlite(conn) => conn,
            #[cfg(feature = "postgres")]
            Backend::Pg(_) => unreachable!("an SQLite-only step ran on PostgreSQL"),
        }
    }

    /// The SQLite connection for what only SQLite has (`what` names it in
    /// the refusal on PostgreSQL, exit 8).
    #[cfg_attr(
        not(feature = "postgres"),
        allow(unused_variables, clippy::unnecessary_wraps)
    )]
    pub(crate) fn sqlite_only(&self, what: &str) -> Result<&Connection> {
        match &self.backend {
            Backend::Sqlite(conn) => Ok(conn),
            #[cfg(feature = "postgres")]
            Backend::Pg(_) => Err(PaytrackError::Database(format!(
                "{what} works on an SQLite file only; on PostgreSQL use the server's own tools"
            ))
            .into()),
        }
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
    #[cfg_attr(not(feature = "postgres"), allow(irrefutable_let_patterns))]
    pub fn tune_for_bulk_load(&self) -> Result<()> {
        // 16 MiB: the rows go in append-only (demo builds the indexes after
        // them), and the WAL still grows while a long load runs. Each index
        // build's sorter takes as much again, so 64 MiB made `demo` peak at
        // 158 MB of memory at 1M bookings (issue 19: 64 MB at most).
        if let TxConn::Sqlite(tx) = &self.tx {
            tx.execute_batch("PRAGMA cache_size = -16384")?; // KiB
        }
        Ok(())
    }

    pub(crate) fn conn(&self) -> sql::Conn<'_> {
        match &self.tx {
            TxConn::Sqlite(tx) => sql::Conn::Sqlite(tx),
            #[cfg(feature = "postgres")]
            TxConn::Pg(session) => sql::Conn::Pg(session),
        }
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

    /// The id of this transaction's operation, carried by its audit entries.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    pub(crate) fn mark_undoable(&self) {
        self.undoable.set(true);
    }
}

/// A short, safe list of names for a message: the first few, then a count.
fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|n| shown(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// The exit code a storage error stands for, if it is one of ours: busy,
/// unusable (corrupt, read-only, disk full…), or data refused by a constraint.
/// Lives here so that nothing outside `db` needs to know SQLite's error codes.
pub fn exit_code_for(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    use crate::error::exit;
    use rusqlite::ErrorCode::{
        CannotOpen, ConstraintViolation, DatabaseBusy, DatabaseCorrupt, DatabaseLocked, DiskFull,
        FileLockingProtocolFailed, NotADatabase, OperationInterrupted, PermissionDenied, ReadOnly,
        SystemIoFailure, TooBig,
    };
    #[cfg(feature = "postgres")]
    if let Some(code) = pg::exit_code_for(cause) {
        return Some(code);
    }
    let err = error::sqlite_error(cause)?;
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
        OperationInterrupted => Some(exit::INTERRUPTED),
        _ => None,
    }
}
