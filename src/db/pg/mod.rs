//! The PostgreSQL backend (issue 18): connection, paytrack's own schema beside
//! the bot's table, adoption of the bot's `public.bookings`, and removal.
//!
//! Every command runs here: the repository functions of `src/db/*.rs` run
//! through `db::sql::Conn` on either engine; this module holds what only
//! PostgreSQL has (the session and its types, connection rules and TLS,
//! COPY, adoption beside the bot, roles, removal) and `schema.pg.sql` its
//! migrations.

pub mod adopt;
pub mod bot_rows;
pub mod bulk;
pub mod conninfo;
pub mod dialect;
pub mod roles;
pub mod session;
pub mod tls;

use anyhow::{Context as _, Result};
use postgres::{Client, Transaction};

use crate::error::PaytrackError;
use conninfo::{ConnInfo, Environment};

/// paytrack's migrations for PostgreSQL (see the header of schema.pg.sql).
pub(super) const SCHEMA: &str = include_str!("../../../schema.pg.sql");

/// The key of the advisory lock every paytrack write transaction takes first,
/// so paytrack's writers (and migrations) serialise. Any constant works; this
/// one is "paytrack" in ASCII, truncated to 63 bits.
pub const WRITE_LOCK_KEY: i64 = 0x7061_7974_7261_636b;

/// How long a write waits for the advisory lock or a table lock before exit 7,
/// unless the session sets its own `lock_timeout`.
const LOCK_TIMEOUT: &str = "10s";

/// An open connection to a PostgreSQL database.
pub struct PgDb {
    client: Client,
    info: ConnInfo,
}

/// The paytrack schema version of a session's database (0 before `init`).
pub(crate) fn schema_version(session: &session::Session) -> Result<u32> {
    version_of(&mut session.client())
}

/// The paytrack schema version a client sees (0 before `init`).
fn version_of(client: &mut Client) -> Result<u32> {
    let installed: bool = client
        .query_one(
            "SELECT to_regclass('paytrack.schema_version') IS NOT NULL",
            &[],
        )?
        .get(0);
    if !installed {
        return Ok(0);
    }
    let version: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM paytrack.schema_version",
            &[],
        )?
        .get(0);
    Ok(u32::try_from(version).unwrap_or(0))
}

/// Starts a write: READ COMMITTED, paytrack's `lock_timeout` unless the
/// session has its own, and the advisory lock every paytrack writer takes
/// first, so writers serialise (and the audit hash chain stays linear).
pub(crate) fn begin_write(session: &session::Session) -> Result<&session::Session> {
    session.set_in_transaction(true);
    let mut client = session.client();
    client
        .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .context("starting a write transaction")?;
    let locked = client
        .execute(
            "SELECT set_config('lock_timeout', $1, true) WHERE current_setting('lock_timeout') = '0'",
            &[&LOCK_TIMEOUT],
        )
        .and_then(|_| take_write_lock(&mut *client));
    if let Err(e) = locked {
        let _ = client.batch_execute("ROLLBACK");
        session.set_in_transaction(false);
        return Err(lock_error(&e));
    }
    Ok(session)
}

/// paytrack's advisory lock, waiting `lock_timeout` twice: a writer that
/// held it that long once (a long import) gets one more wait before exit 7.
fn take_write_lock(client: &mut impl postgres::GenericClient) -> Result<u64, postgres::Error> {
    let lock = "SELECT pg_advisory_xact_lock($1)";
    // A savepoint, so the first timeout leaves the transaction usable.
    client.batch_execute("SAVEPOINT paytrack_lock")?;
    match client.execute(lock, &[&WRITE_LOCK_KEY]) {
        Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
            client.batch_execute("ROLLBACK TO SAVEPOINT paytrack_lock")?;
            client.execute(lock, &[&WRITE_LOCK_KEY])
        }
        other => other,
    }
}

/// Ends a write begun by `begin_write`: COMMIT when `outcome` is Ok, else ROLLBACK.
pub(crate) fn finish_write<T>(session: &session::Session, outcome: Result<T>) -> Result<T> {
    session.set_in_transaction(false);
    let mut client = session.client();
    match outcome {
        Ok(value) => {
            // The counters' deltas this write (and the bot since) added, folded
            // back to one row per key (schema.pg.sql, migration 2).
            if let Err(e) = client.batch_execute("SELECT paytrack.fold_counters()") {
                let _ = client.batch_execute("ROLLBACK");
                return Err(lock_error(&e).context("folding the stream counters"));
            }
            client
                .batch_execute("COMMIT")
                .map_err(|e| lock_error(&e).context("committing"))?;
            Ok(value)
        }
        Err(e) => {
            // A failed statement already aborted the transaction; ROLLBACK ends it.
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// Ctrl-C cancels the statement the server is running (libpq's cancel
/// request, `CancelToken`): a watcher thread waits for the flag the signal
/// handler sets. The statement fails with 57014, the transaction rolls back,
/// and paytrack exits 130 (`exit_code_for`).
fn watch_interrupts(client: &Client, info: &ConnInfo) {
    let token = client.cancel_token();
    let tls = if info.is_socket() {
        None
    } else {
        tls::client_config(info, &conninfo::ProcessEnvironment).ok()
    };
    std::thread::spawn(move || {
        while !crate::interrupt::requested() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // Best effort: the process is stopping either way.
        let _ = match tls {
            Some(config) => {
                token.cancel_query(tokio_postgres_rustls::MakeRustlsConnect::new(config))
            }
            None => token.cancel_query(postgres::NoTls),
        };
    });
}

/// Resolves `url` with the process environment and `~/.pgpass`.
pub fn resolve(url: &str) -> Result<ConnInfo> {
    conninfo::resolve(url, &conninfo::ProcessEnvironment)
        .map_err(|e| PaytrackError::BadInput(format!("--db: {e}")).into())
}

impl PgDb {
    /// Connects. Errors name the server without its password (exit 8).
    pub fn connect(info: &ConnInfo) -> Result<PgDb> {
        Self::connect_with(info, &conninfo::ProcessEnvironment)
    }

    fn connect_with(info: &ConnInfo, env: &dyn Environment) -> Result<PgDb> {
        let mut config = postgres::Config::new();
        config
            .host(&info.host)
            .port(info.port)
            .user(&info.user)
            .dbname(&info.dbname)
            .application_name(info.application_name.as_deref().unwrap_or("paytrack"));
        if let Some(password) = info.password() {
            config.password(password);
        }
        if let Some(options) = &info.options {
            config.options(options);
        }
        if let Some(timeout) = info.connect_timeout {
            config.connect_timeout(timeout);
        }
        // libpq never uses TLS over a Unix socket, whatever sslmode says.
        config.ssl_mode(if info.is_socket() {
            postgres::config::SslMode::Disable
        } else {
            match info.sslmode {
                conninfo::SslMode::Disable => postgres::config::SslMode::Disable,
                conninfo::SslMode::Prefer => postgres::config::SslMode::Prefer,
                _ => postgres::config::SslMode::Require,
            }
        });
        // Over a socket there is no TLS, and rustls would reject the path as a
        // server name before the connection starts.
        let connected = if info.is_socket() {
            config.connect(postgres::NoTls)
        } else {
            let tls = tls::client_config(info, env)
                .map_err(|e| PaytrackError::Database(format!("cannot connect to {info}: {e}")))?;
            config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        };
        let client = connected.map_err(|e| {
            PaytrackError::Database(format!("cannot connect to {info}: {}", describe(&e)))
        })?;
        Ok(PgDb {
            client,
            info: info.clone(),
        })
    }

    pub fn info(&self) -> &ConnInfo {
        &self.info
    }

    /// The connection as a repository session, once paytrack's schema is
    /// here and current; names resolve in `pg_catalog`, then `paytrack` (its
    /// `bookings` view over the bot's table), never in `public`.
    pub fn into_session(mut self) -> Result<session::Session> {
        let version = self.schema_version()?;
        let latest = latest_version();
        if version == 0 {
            return Err(PaytrackError::Database(format!(
                "{}: paytrack is not installed here (run `paytrack init --adopt --db URL` first)",
                self.info
            ))
            .into());
        }
        if version != latest {
            return Err(PaytrackError::Database(format!(
                "{}: the paytrack schema is at version {version}, this paytrack needs {latest} (run `paytrack init --db URL`{})",
                self.info,
                if version > latest { "; or upgrade paytrack" } else { "" }
            ))
            .into());
        }
        let has_view: bool = self
            .client
            .query_one("SELECT to_regclass('paytrack.bookings') IS NOT NULL", &[])?
            .get(0);
        if !has_view {
            return Err(PaytrackError::Database(format!(
                "{}: paytrack has not adopted public.bookings here (run `paytrack init --adopt --db URL`)",
                self.info
            ))
            .into());
        }
        watch_interrupts(&self.client, &self.info);
        // Times: a `timestamp without time zone` of the bot's is read as UTC.
        // Names resolve in pg_catalog first, then paytrack; never in `public`,
        // where the bot (the database owner may create there) could put a
        // function or operator that beats PostgreSQL's on argument types
        // (a `public.||(varchar, text)` ran during `--search`, issue 26).
        // paytrack names the bot's table `public.bookings` where it means it.
        self.client
            .batch_execute("SET search_path = pg_catalog, paytrack, pg_temp; SET TimeZone = 'UTC'")
            .context("setting the search path")?;
        Ok(session::Session::new(self.client))
    }

    /// The paytrack schema version here (0: `init` has not run).
    pub fn schema_version(&mut self) -> Result<u32> {
        version_of(&mut self.client)
    }

    /// Runs `work` in one READ COMMITTED transaction that first takes
    /// paytrack's advisory lock under a `lock_timeout`; commits if it returns Ok.
    pub fn write<T>(&mut self, work: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut tx = self
            .client
            .transaction()
            .context("starting a write transaction")?;
        // paytrack's default, unless the session already has one (ALTER ROLE
        // … SET lock_timeout, or `options=-c lock_timeout=…` in the URL).
        tx.execute(
            "SELECT set_config('lock_timeout', $1, true) WHERE current_setting('lock_timeout') = '0'",
            &[&LOCK_TIMEOUT],
        )?;
        take_write_lock(&mut tx).map_err(|e| lock_error(&e))?;
        // What `init`, adoption and `uninstall` create binds to PostgreSQL's
        // own functions and operators (a view's operators are fixed when it
        // is created), never to something of the same name in `public`.
        tx.batch_execute("SET LOCAL search_path = pg_catalog, pg_temp")?;
        let value = work(&mut tx)?;
        crate::interrupt::check()?;
        tx.commit().context("committing")?;
        Ok(value)
    }

    /// Creates the `paytrack` schema or brings it up to date; returns
    /// (version before, version after).
    pub fn migrate(&mut self) -> Result<(u32, u32)> {
        let latest = latest_version();
        self.write(|tx| {
            roles::refuse_foreign_schema(tx)?;
            tx.batch_execute(
                "CREATE SCHEMA IF NOT EXISTS paytrack;
                 CREATE TABLE IF NOT EXISTS paytrack.schema_version (
                     version    integer PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 );",
            )
            .context("creating the paytrack schema")?;
            let current: i32 = tx
                .query_one("SELECT coalesce(max(version), 0) FROM paytrack.schema_version", &[])?
                .get(0);
            let current = current as u32;
            if current > latest {
                return Err(PaytrackError::Database(format!(
                    "the paytrack schema is at version {current}, newer than this paytrack supports ({latest}); upgrade paytrack"
                ))
                .into());
            }
            for (version, sql) in migrations() {
                if version > current {
                    tx.batch_execute(sql)
                        .with_context(|| format!("applying PostgreSQL migration {version}"))?;
                    tx.execute(
                        "INSERT INTO paytrack.schema_version (version) VALUES ($1)",
                        &[&(version as i32)],
                    )?;
                }
            }
            Ok((current, latest.max(current)))
        })
    }

    /// A warning when the database's character classification cannot fold
    /// Cyrillic case (LC_CTYPE C or POSIX): a search for "ольга" would then
    /// miss "Ольга" once search runs here.
    pub fn case_folding_warning(&mut self) -> Result<Option<String>> {
        let ctype: String = self
            .client
            .query_one(
                "SELECT datctype::text FROM pg_database WHERE datname = current_database()",
                &[],
            )?
            .get(0);
        Ok(matches!(ctype.as_str(), "C" | "POSIX").then(|| {
            format!(
                "this database's LC_CTYPE is {ctype}: PostgreSQL will not fold Cyrillic case here \
                 (create it with a UTF-8 locale, e.g. LC_CTYPE 'C.UTF-8' or an ICU collation)"
            )
        }))
    }

    /// True when `init --adopt` has installed the counters here.
    pub fn is_adopted(&mut self) -> Result<bool> {
        if self.schema_version()? == 0 {
            return Ok(false);
        }
        Ok(self
            .client
            .query_one("SELECT EXISTS (SELECT 1 FROM paytrack.adoption)", &[])?
            .get(0))
    }
}

/// The highest migration number in schema.pg.sql.
pub fn latest_version() -> u32 {
    const LATEST: u32 = super::migrations::highest_migration(SCHEMA);
    LATEST
}

/// The numbered sections of schema.pg.sql.
fn migrations() -> Vec<(u32, &'static str)> {
    super::migrations::migration_sections(SCHEMA).collect()
}

// Said by the common `db::Error` too, so it lives there (the driver uses
// the common error, not the other way round).
pub(crate) use super::error::describe_postgres as describe;

/// A lock wait that ran out becomes exit 7 ("busy"); anything else, exit 8.
pub(crate) fn lock_error(err: &postgres::Error) -> anyhow::Error {
    if err
        .code()
        .is_some_and(|c| *c == postgres::error::SqlState::QUERY_CANCELED)
    {
        return PaytrackError::Interrupted.into();
    }
    let busy = err
        .code()
        .is_some_and(|c| *c == postgres::error::SqlState::LOCK_NOT_AVAILABLE);
    if busy {
        anyhow::Error::new(Busy(
            "another paytrack or the bot held a lock longer than lock_timeout; nothing was changed"
                .into(),
        ))
    } else {
        PaytrackError::Database(describe(err)).into()
    }
}

/// A lock timeout (exit 7).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Busy(pub String);

/// PostgreSQL's error, raised by the client directly (connecting, COPY) or
/// carried in a `db::Error`.
fn postgres_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a postgres::Error> {
    cause.downcast_ref::<postgres::Error>().or_else(|| {
        cause
            .downcast_ref::<crate::db::error::Error>()
            .and_then(crate::db::error::Error::as_postgres)
    })
}

/// Exit codes for PostgreSQL errors anywhere in a chain (used by `db::exit_code_for`).
/// The id of the bot's booking that a new booking of paytrack's collided
/// with: another program inserted it at the same moment (its insert was not
/// yet visible when paytrack chose the ids), and the server refused ours.
pub fn taken_booking_id(err: &anyhow::Error) -> Option<i64> {
    let db_error = err
        .chain()
        .find_map(|cause| postgres_error(cause)?.as_db_error())?;
    if *db_error.code() != postgres::error::SqlState::UNIQUE_VIOLATION
        || db_error.schema() != Some("public")
        || db_error.table() != Some("bookings")
    {
        return None;
    }
    // The detail is "Key (id)=(5) already exists."
    let detail = db_error.detail()?;
    let start = detail.find("=(")? + 2;
    let end = start + detail[start..].find(')')?;
    detail[start..end].parse().ok()
}

pub fn exit_code_for(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if cause.downcast_ref::<Busy>().is_some() {
        return Some(crate::error::exit::BUSY);
    }
    let err = postgres_error(cause)?;
    Some(match err.code() {
        Some(c) if *c == postgres::error::SqlState::LOCK_NOT_AVAILABLE => crate::error::exit::BUSY,
        Some(c) if *c == postgres::error::SqlState::QUERY_CANCELED => {
            crate::error::exit::INTERRUPTED
        }
        // Another transaction won: nothing was written; running again is the answer.
        Some(c)
            if *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                || *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            crate::error::exit::BUSY
        }
        // Constraint violations, and data the server cannot store (22: a NUL
        // character in text, a number out of range) are bad input.
        Some(c) if c.code().starts_with("23") || c.code().starts_with("22") => {
            crate::error::exit::BAD_INPUT
        }
        _ => crate::error::exit::DATABASE,
    })
}
