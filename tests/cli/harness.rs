//! The test harness: a temp directory with a database, and the real
//! `paytrack` binary run with a scrubbed environment and a fixed clock.
//!
//! One switch picks the backend (issue 18): by default each test gets an
//! SQLite file in its temp dir; with `PAYTRACK_TEST_BACKEND=postgres` (and
//! `PAYTRACK_TEST_PG`, a server URL) each test gets its own PostgreSQL
//! database instead, cloned from a template this test process initialises
//! once, and dropped when the test ends. `env.db` is then that database's
//! URL. Tests of SQLite-file behaviour start with `if harness::sqlite_only()
//! { return; }`.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

/// The fixed "now" of every test run (PAYTRACK_NOW).
pub const NOW: &str = "2024-12-10T12:00:00Z";

/// Exit codes, as documented in README.md.
#[allow(dead_code)] // each test module uses some
pub mod code {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const BAD_INPUT: i32 = 3;
    pub const NOT_FOUND: i32 = 4;
    pub const REFUSED: i32 = 5;
    pub const EXPECTATION: i32 = 6;
    pub const BUSY: i32 = 7;
    pub const DATABASE: i32 = 8;
    pub const VERIFY: i32 = 9;
    pub const ATTENTION: i32 = 10;
    pub const CHANNEL: i32 = 11;
}

/// Whether this run uses PostgreSQL (`PAYTRACK_TEST_BACKEND=postgres`)
/// rather than SQLite (unset, empty or `sqlite`).
pub fn is_postgres() -> bool {
    match std::env::var("PAYTRACK_TEST_BACKEND").as_deref() {
        Err(_) | Ok("" | "sqlite") => false,
        Ok("postgres") => true,
        Ok(other) => panic!("PAYTRACK_TEST_BACKEND={other:?}: expected `sqlite` or `postgres`"),
    }
}

/// Marks a test of SQLite itself (the file, its bytes, `env.sql()`,
/// backups, `check`, `demo`, …): start it with
/// `if crate::harness::sqlite_only() { return; }`. The PostgreSQL-backend
/// run leaves such tests out by name (`.ci/pg-run-leaves-out` finds them by
/// that first line), so the run's summary counts them as filtered out, never
/// as passed (issue 28). Reached on PostgreSQL all the same, it fails.
pub fn sqlite_only() -> bool {
    assert!(
        !is_postgres(),
        "a SQLite-only test ran on PostgreSQL: leave it out as .ci/run does \
         (cargo test --test cli -- --exact $(.ci/pg-run-leaves-out | sed 's/^/--skip /')), \
         and keep its `sqlite_only()` check among its first three lines"
    );
    false
}

/// Whether `db` names a PostgreSQL database rather than an SQLite file.
fn is_url(db: &Path) -> bool {
    let db = db.to_string_lossy();
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// A temp dir for one test's files, and its database: an SQLite file in the
/// dir, or (PostgreSQL backend) the URL of a database of its own.
pub struct Env {
    pub dir: TempDir,
    pub db: PathBuf,
    /// The PostgreSQL database this Env created, dropped with it.
    #[cfg(feature = "postgres")]
    #[allow(dead_code)] // held for its Drop
    pg: Option<pg::Database>,
}

impl Env {
    /// A fresh directory; the database does not exist yet (SQLite), or is
    /// an empty PostgreSQL database without paytrack's schema.
    pub fn empty() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        if is_postgres() {
            return Env::on_postgres(dir, false);
        }
        let db = dir.path().join("paytrack.db");
        Env {
            dir,
            db,
            #[cfg(feature = "postgres")]
            pg: None,
        }
    }

    /// A fresh, initialised, empty database.
    pub fn new() -> Env {
        if is_postgres() {
            let dir = tempfile::tempdir().expect("temp dir");
            return Env::on_postgres(dir, true);
        }
        let env = Env::empty();
        env.ok(&["init"]);
        env
    }

    /// A fresh, initialised, empty database on the test PostgreSQL server,
    /// whichever backend this run uses: for a test of PostgreSQL's own
    /// behaviour (mark it ignored without `pg_test_server`).
    pub fn new_on_postgres() -> Env {
        Env::on_postgres(tempfile::tempdir().expect("temp dir"), true)
    }

    #[cfg(feature = "postgres")]
    fn on_postgres(dir: TempDir, initialised: bool) -> Env {
        let database = if initialised {
            pg::Database::from_template()
        } else {
            pg::Database::empty()
        };
        Env {
            dir,
            db: PathBuf::from(&database.url),
            pg: Some(database),
        }
    }

    #[cfg(not(feature = "postgres"))]
    fn on_postgres(_dir: TempDir, _initialised: bool) -> Env {
        panic!("PAYTRACK_TEST_BACKEND=postgres needs the `postgres` feature");
    }

    /// A database loaded with the old system's sample export (400 bookings).
    pub fn with_sample() -> Env {
        let env = Env::new();
        env.ok(&[
            "bookings",
            "import",
            fixture("legacy-bookings.csv").to_str().unwrap(),
        ]);
        env
    }

    /// A database with the demo data (3,000 bookings by default). SQLite only.
    pub fn with_demo() -> Env {
        assert!(
            !is_postgres(),
            "`demo` is SQLite-only: start the test with `if harness::sqlite_only() {{ return; }}`"
        );
        let env = Env::empty();
        env.ok(&["demo"]);
        env
    }

    /// The binary with a scrubbed environment, this env's database and a fixed clock.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// Starts paytrack in the background (stdout and stderr piped).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.std_cmd()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn paytrack")
    }

    /// The same as `cmd`, as a std Command (for spawning children).
    pub fn std_cmd(&self) -> std::process::Command {
        paytrack_cmd(self.dir.path(), &self.db)
    }

    /// Runs paytrack with `args` and returns its output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("paytrack runs")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "paytrack {args:?} failed\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    /// Runs, asserts the exit code, and that stderr is one clear `paytrack:` line
    /// (clap's usage errors, code 2, have their own shape). Returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "paytrack {args:?}: wrong exit code\nstderr: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        if code != code::USAGE {
            let lines: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("paytrack: error:"))
                .collect();
            assert_eq!(lines.len(), 1, "one error line expected, got: {stderr}");
        }
        stderr
    }

    /// A plain SQLite connection to the database, for recounts done by hand.
    /// SQLite only: a test using it starts with `harness::sqlite_only()`.
    pub fn sql(&self) -> rusqlite::Connection {
        assert!(
            !is_url(&self.db),
            "env.sql() is SQLite-only: start the test with `if harness::sqlite_only() {{ return; }}`"
        );
        rusqlite::Connection::open(&self.db).expect("open db")
    }

    /// Runs SQL statements (no parameters, no results) on either backend,
    /// for setup both backends share. On PostgreSQL, names resolve in
    /// `paytrack` first, then `public`, as paytrack's own sessions do.
    #[allow(dead_code)] // used by some test modules
    pub fn exec(&self, sql: &str) {
        if is_url(&self.db) {
            #[cfg(feature = "postgres")]
            {
                let sql = &pg::postgres_spelling(sql);
                return pg::with_client(&self.db, |c| {
                    c.batch_execute(sql)
                        .unwrap_or_else(|e| panic!("{sql}: {}", pg::describe(&e)));
                });
            }
        }
        self.sql().execute_batch(sql).expect(sql);
    }

    /// Runs SQL statements like `exec`, but returns the database's error
    /// (as text) rather than panicking: for writes that must be refused.
    #[allow(dead_code)] // used by some test modules
    pub fn try_exec(&self, sql: &str) -> Result<(), String> {
        if is_url(&self.db) {
            #[cfg(feature = "postgres")]
            {
                let sql = &pg::postgres_spelling(sql);
                return pg::with_client(&self.db, |c| {
                    c.batch_execute(sql).map_err(|e| pg::describe(&e))
                });
            }
        }
        self.sql().execute_batch(sql).map_err(|e| e.to_string())
    }

    /// Lifts the append-only guards of the audit log and its personal
    /// fields, as whoever holds the database can (the SQLite file's owner
    /// drops the triggers; PostgreSQL's table owner disables them, including
    /// the one that checks a new entry extends the chain), so a test can
    /// tamper with entries and see `audit verify` catch it.
    #[allow(dead_code)] // used by some test modules
    pub fn unguard_audit_log(&self) {
        if is_url(&self.db) {
            self.exec(
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
                 ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate;
                 ALTER TABLE audit_log DISABLE TRIGGER audit_log_extends_chain;
                 ALTER TABLE audit_personal DISABLE TRIGGER audit_personal_erase_only;
                 ALTER TABLE audit_personal DISABLE TRIGGER audit_personal_no_truncate;",
            );
        } else {
            self.exec(
                "DROP TRIGGER IF EXISTS audit_log_no_update;
                 DROP TRIGGER IF EXISTS audit_log_no_delete;
                 DROP TRIGGER IF EXISTS audit_personal_erase_only;
                 DROP TRIGGER IF EXISTS audit_personal_no_delete;",
            );
        }
    }

    /// Makes every `op` (INSERT, UPDATE or DELETE) on `table` fail with
    /// `message`, inside the writing command's transaction: a stand-in for
    /// a full disk or a crash part-way through a write. A trigger on either
    /// backend (PostgreSQL's needs a function; `table` must be a table).
    #[allow(dead_code)] // used by some test modules
    pub fn refuse_writes(&self, op: &str, table: &str, message: &str) {
        let name = format!("refuse_{}_{table}", op.to_lowercase());
        let message = message.replace('\'', "''");
        if is_url(&self.db) {
            self.exec(&format!(
                "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS
                     $fn$BEGIN RAISE EXCEPTION '{message}'; END$fn$;
                 CREATE TRIGGER {name} BEFORE {op} ON {table}
                     FOR EACH ROW EXECUTE FUNCTION {name}();"
            ));
        } else {
            self.exec(&format!(
                "CREATE TRIGGER {name} BEFORE {op} ON {table}
                 BEGIN SELECT RAISE(ABORT, '{message}'); END;"
            ));
        }
    }

    /// The first column of every row of a query, as integers (booleans as
    /// 1 and 0), on either backend. Panics on NULL.
    #[allow(dead_code)] // used by some test modules
    pub fn query_ints(&self, query: &str) -> Vec<i64> {
        self.query_rows(query)
            .into_iter()
            .map(|row| {
                let text = row
                    .into_iter()
                    .next()
                    .flatten()
                    .unwrap_or_else(|| panic!("{query}: NULL"));
                match text.as_str() {
                    "t" => 1,
                    "f" => 0,
                    _ => text
                        .parse()
                        .unwrap_or_else(|_| panic!("{query}: {text:?} is not an integer")),
                }
            })
            .collect()
    }

    /// The first value of a query's first row as text (None for NULL), on
    /// either backend. Panics when there is no row.
    #[allow(dead_code)] // used by some test modules
    pub fn query_text(&self, query: &str) -> Option<String> {
        self.query_rows(query)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{query}: no row"))
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{query}: no column"))
    }

    /// Every row of a query, each value as text (None for NULL), on either
    /// backend. Numbers come as their decimal text, so parse them.
    #[allow(dead_code)] // used by some test modules
    pub fn query_rows(&self, query: &str) -> Vec<Vec<Option<String>>> {
        if is_url(&self.db) {
            #[cfg(feature = "postgres")]
            return pg::rows(&self.db, query);
        }
        let conn = self.sql();
        let mut stmt = conn.prepare(query).expect(query);
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                        rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                        rusqlite::types::ValueRef::Text(v) | rusqlite::types::ValueRef::Blob(v) => {
                            Some(String::from_utf8_lossy(v).into_owned())
                        }
                    })
                })
                .collect()
        })
        .expect(query)
        .collect::<Result<_, _>>()
        .expect(query)
    }

    /// One integer from a query.
    pub fn count(&self, query: &str) -> i64 {
        if is_url(&self.db) {
            #[cfg(feature = "postgres")]
            return pg::count(&self.db, query);
        }
        self.sql().query_row(query, [], |r| r.get(0)).expect(query)
    }

    /// A logical snapshot of every table (to prove a failed command changed nothing).
    pub fn snapshot(&self) -> String {
        if is_url(&self.db) {
            #[cfg(feature = "postgres")]
            return pg::snapshot(&self.db);
        }
        let conn = self.sql();
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.sort();
        let mut out = String::new();
        for table in tables {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY 1"))
                .unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let mut line = Vec::new();
                    for i in 0..n {
                        line.push(format!("{:?}", r.get_ref(i)?));
                    }
                    Ok(line.join("|"))
                })
                .unwrap();
            out += &format!("== {table}\n");
            for row in rows {
                out += &row.unwrap();
                out.push('\n');
            }
        }
        out
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file into the temp dir and returns its path as a string.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_string()
    }
}

/// paytrack with a scrubbed environment, HOME in `home`, the database `db`
/// and the fixed clock.
fn paytrack_cmd(home: &Path, db: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("paytrack"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg"))
        .env("TZ", "UTC")
        .env("LANG", "C")
        .env("PAYTRACK_NOW", NOW)
        .env("PAYTRACK_ACTOR", "tester")
        .env("PAYTRACK_DB", db);
    cmd
}

/// The PostgreSQL backend: a database per test on the server named by
/// PAYTRACK_TEST_PG, cloned from a template this process initialises once.
#[cfg(feature = "postgres")]
pub(crate) mod pg {
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};

    /// Every database the harness creates starts with this; the pid of the
    /// test process that owns it follows.
    const PREFIX: &str = "ptcli_";

    fn server() -> String {
        match std::env::var("PAYTRACK_TEST_PG") {
            Ok(url) if !url.is_empty() => url,
            _ => panic!(
                "PAYTRACK_TEST_BACKEND=postgres needs PAYTRACK_TEST_PG, the URL of a PostgreSQL \
                 server where the tests may create databases as a superuser \
                 (`.ci/pg-cluster start DIR` starts one and prints its URL)"
            ),
        }
    }

    /// `server` with its database replaced by `dbname` (query parameters kept).
    pub fn url_for(server: &str, dbname: &str) -> String {
        let (scheme, rest) = server
            .split_once("://")
            .expect("PAYTRACK_TEST_PG is a postgres:// URL");
        let (rest, query) = rest
            .split_once('?')
            .map_or((rest, None), |(r, q)| (r, Some(q)));
        let authority = rest.split('/').next().unwrap();
        let query = query.map_or(String::new(), |q| format!("?{q}"));
        format!("{scheme}://{authority}/{dbname}{query}")
    }

    /// An error with the server's message, detail and hint when there are some.
    pub fn describe(e: &postgres::Error) -> String {
        match e.as_db_error() {
            Some(db) => {
                let mut text = format!("{}: {}", db.severity(), db.message());
                if let Some(detail) = db.detail() {
                    text += &format!(" (detail: {detail})");
                }
                if let Some(hint) = db.hint() {
                    text += &format!(" (hint: {hint})");
                }
                text
            }
            None => e.to_string(),
        }
    }

    fn connect(url: &str) -> postgres::Client {
        let config: postgres::Config = url
            .parse()
            .unwrap_or_else(|e| panic!("not a PostgreSQL URL: {url}: {e}"));
        config
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {url}: {}", describe(&e)))
    }

    /// A client on the server's own database, for CREATE and DROP DATABASE.
    fn admin() -> postgres::Client {
        connect(&server())
    }

    /// Clients kept per database URL for the test's later queries (paytrack's
    /// commands never need them gone: DROP … WITH (FORCE) ends them).
    static CLIENTS: Mutex<Vec<(String, postgres::Client)>> = Mutex::new(Vec::new());

    fn clients() -> std::sync::MutexGuard<'static, Vec<(String, postgres::Client)>> {
        CLIENTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` with a client on `db`, whose names resolve in `paytrack`
    /// first, then `public`, as in paytrack's own sessions.
    pub fn with_client<T>(db: &Path, f: impl FnOnce(&mut postgres::Client) -> T) -> T {
        let url = db.to_str().expect("a UTF-8 URL").to_string();
        // Taken out while in use, so a slow query holds up no other test.
        let taken = {
            let mut clients = clients();
            clients
                .iter()
                .position(|(u, _)| *u == url)
                .map(|i| clients.swap_remove(i).1)
        };
        let mut client = match taken {
            Some(c) if !c.is_closed() => c,
            _ => {
                let mut c = connect(&url);
                // Times in UTC, as paytrack runs (TZ=UTC): a date literal
                // compared with the bot's timestamptz means UTC midnight.
                c.batch_execute("SET search_path = paytrack, public; SET TimeZone = 'UTC'")
                    .expect("set search_path");
                c
            }
        };
        let out = f(&mut client);
        clients().push((url, client));
        out
    }

    /// The tests' SQL is written once, in SQLite's dialect; on PostgreSQL its
    /// `json_extract(doc, '$.key')` is spelled `((doc)::jsonb ->> 'key')`, as
    /// paytrack itself spells it (`db::sql::Dialect::json_text`).
    pub fn postgres_spelling(query: &str) -> String {
        const CALL: &str = "json_extract(";
        let mut out = String::with_capacity(query.len());
        let mut rest = query;
        while let Some(at) = rest.find(CALL) {
            out.push_str(&rest[..at]);
            let args = &rest[at + CALL.len()..];
            let mut depth = 0;
            let end = args
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth < 0
                })
                .map(|(i, _)| i)
                .expect("a closed json_extract call");
            let (doc, path) = args[..end]
                .rsplit_once(',')
                .expect("json_extract(doc, path)");
            let key = path
                .trim()
                .strip_prefix("'$.")
                .and_then(|k| k.strip_suffix('\''))
                .expect("a '$.key' path");
            out.push_str(&format!("(({})::jsonb ->> '{key}')", doc.trim()));
            rest = &args[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Closes the kept clients of `url` (its database is about to go).
    fn forget_clients(url: &str) {
        let gone: Vec<_> = {
            let mut clients = clients();
            let (gone, kept) = std::mem::take(&mut *clients)
                .into_iter()
                .partition(|(u, _)| u == url);
            *clients = kept;
            gone
        };
        drop(gone);
    }

    /// Every row of the last statement of `query`, each value in
    /// PostgreSQL's text form (None for NULL).
    pub fn rows(db: &Path, query: &str) -> Vec<Vec<Option<String>>> {
        let query = &postgres_spelling(query);
        let messages = with_client(db, |c| c.simple_query(query))
            .unwrap_or_else(|e| panic!("{query}: {}", describe(&e)));
        let mut rows = Vec::new();
        for message in messages {
            match message {
                postgres::SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                // A later statement's rows replace an earlier one's.
                postgres::SimpleQueryMessage::RowDescription(_) => rows.clear(),
                _ => {}
            }
        }
        rows
    }

    /// The first column of the first row as an integer, whatever its type.
    pub fn count(db: &Path, query: &str) -> i64 {
        let text = rows(db, query)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{query}: no row"))
            .into_iter()
            .next()
            .flatten()
            .unwrap_or_else(|| panic!("{query}: NULL"));
        match text.as_str() {
            "t" => 1,
            "f" => 0,
            _ => text.parse().unwrap_or_else(|_| {
                let float: f64 = text
                    .parse()
                    .unwrap_or_else(|_| panic!("{query}: {text:?} is not a number"));
                assert!(float.fract() == 0.0, "{query}: {text} is not an integer");
                #[allow(clippy::cast_possible_truncation)]
                let n = float as i64;
                n
            }),
        }
    }

    /// Every table of schema paytrack, then public.bookings, each row as
    /// PostgreSQL's text of the row, ordered by the first column.
    pub fn snapshot(db: &Path) -> String {
        with_client(db, |c| {
            let tables = c
                .query(
                    "SELECT t.table_schema::text, t.table_name::text, c.column_name::text
                       FROM information_schema.tables t
                       JOIN information_schema.columns c
                         ON c.table_schema = t.table_schema AND c.table_name = t.table_name
                        AND c.ordinal_position = 1
                      WHERE (t.table_schema = 'paytrack' AND t.table_type = 'BASE TABLE')
                         OR (t.table_schema = 'public' AND t.table_name = 'bookings')
                      ORDER BY t.table_schema, t.table_name",
                    &[],
                )
                .expect("list tables");
            let mut out = String::new();
            for table in tables {
                let (schema, name, first): (String, String, String) =
                    (table.get(0), table.get(1), table.get(2));
                let rows = c
                    .query(
                        &format!(
                            "SELECT t::text FROM \"{schema}\".\"{name}\" t ORDER BY t.\"{first}\", 1"
                        ),
                        &[],
                    )
                    .unwrap_or_else(|e| panic!("snapshot of {schema}.{name}: {}", describe(&e)));
                out += &format!("== {schema}.{name}\n");
                for row in rows {
                    out += &row.get::<_, String>(0);
                    out.push('\n');
                }
            }
            out
        })
    }

    /// One database of this test process's, dropped with it.
    pub struct Database {
        pub name: String,
        pub url: String,
    }

    impl Database {
        /// A new, empty database (a copy of template1).
        pub fn empty() -> Database {
            Database::create(None)
        }

        /// A copy of this process's template: what `paytrack init` makes.
        pub fn from_template() -> Database {
            Database::create(Some(template()))
        }

        fn create(template: Option<&str>) -> Database {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let name = format!("{PREFIX}{}_{n}", std::process::id());
            let sql = match template {
                Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
                None => format!("CREATE DATABASE {name}"),
            };
            create_database(&mut admin(), &sql);
            Database {
                url: url_for(&server(), &name),
                name,
            }
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            forget_clients(&self.url);
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(e) = admin().batch_execute(&sql) {
                eprintln!("note: {sql}: {}", describe(&e));
            }
        }
    }

    /// CREATE DATABASE, retried for a few seconds while the template is
    /// still in use (a paytrack that just ran on it may not have left yet).
    fn create_database(admin: &mut postgres::Client, sql: &str) {
        let started = Instant::now();
        loop {
            match admin.batch_execute(sql) {
                Ok(()) => return,
                Err(e)
                    if e.code() == Some(&postgres::error::SqlState::OBJECT_IN_USE)
                        && started.elapsed() < Duration::from_secs(10) =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("{sql}: {}", describe(&e)),
            }
        }
    }

    /// This process's template database, made once: an empty database
    /// that the real `paytrack init` initialised.
    fn template() -> &'static str {
        static TEMPLATE: OnceLock<String> = OnceLock::new();
        TEMPLATE.get_or_init(|| {
            let mut admin = admin();
            drop_leftovers(&mut admin);
            let name = format!("{PREFIX}tpl_{}", std::process::id());
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .unwrap();
            create_database(&mut admin, &format!("CREATE DATABASE {name}"));
            let home = tempfile::tempdir().expect("temp dir");
            let url = url_for(&server(), &name);
            let out = super::paytrack_cmd(home.path(), Path::new(&url))
                .arg("init")
                .output()
                .expect("paytrack runs");
            assert!(
                out.status.success(),
                "paytrack init of the template database {name} failed\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            name
        })
    }

    /// Drops the databases of test processes that are gone (killed before
    /// their Drop ran, and every process's template).
    fn drop_leftovers(admin: &mut postgres::Client) {
        let rows = admin
            .query(
                "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)",
                &[&PREFIX],
            )
            .expect("list databases");
        for row in rows {
            let name: String = row.get(0);
            let rest = &name[PREFIX.len()..];
            let pid = rest.strip_prefix("tpl_").unwrap_or(rest);
            let pid = pid.split('_').next().unwrap_or_default();
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// `value` as an SQL string literal (NULL for None), for SQL that both
/// backends run through `exec` and `query_*`, which take no parameters.
/// Quotes are doubled; nothing else needs escaping in either (PostgreSQL's
/// standard_conforming_strings is on). Text with U+0000 fits neither.
#[allow(dead_code)] // used by some test modules
pub fn sql_literal(value: Option<&str>) -> String {
    match value {
        None => "NULL".to_string(),
        Some(text) => format!("'{}'", text.replace('\'', "''")),
    }
}

/// The test PostgreSQL server's URL (`PAYTRACK_TEST_PG`, set by `.ci/run`),
/// or None with a note when there is none locally; under `CI=true` a missing
/// server fails the test instead of skipping it.
pub fn pg_server() -> Option<String> {
    match std::env::var("PAYTRACK_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PAYTRACK_TEST_PG is unset under CI=true: .ci/run must start the test PostgreSQL"
            );
            eprintln!("note: PostgreSQL test skipped: PAYTRACK_TEST_PG is unset (.ci/run sets it)");
            None
        }
    }
}

/// `server` with its database replaced by `dbname` (query parameters kept).
pub fn database_url(server: &str, dbname: &str) -> String {
    pg::url_for(server, dbname)
}

/// A file from tests/fixtures (copies of ../shared/samples).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Stdout of a successful run, as CSV rows (header included).
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The audit log as people read it, for SQL in tests: personal fields
/// (reasons, names in edits), stored apart since issue 20, back in their
/// columns. Use as `FROM {AUDIT_REVEALED} WHERE …` (it carries its alias,
/// which PostgreSQL 15 requires of a subquery in FROM).
#[allow(dead_code)] // used by some test modules
pub const AUDIT_REVEALED: &str = "(SELECT a.id, a.action, a.booking_id, a.details, a.operation_id,
    COALESCE((SELECT value FROM audit_personal p WHERE p.entry_id = a.id AND p.field = 'old_value'), a.old_value) AS old_value,
    COALESCE((SELECT value FROM audit_personal p WHERE p.entry_id = a.id AND p.field = 'new_value'), a.new_value) AS new_value,
    COALESCE((SELECT value FROM audit_personal p WHERE p.entry_id = a.id AND p.field = 'reason'), a.reason) AS reason
  FROM audit_log a) AS audit_revealed";

/// A directory every user can traverse (0755, with every ancestor
/// traversable), holding a 0755 copy of the paytrack binary as `paytrack`:
/// for tests that run the binary as another user (issue 30). The checkout
/// itself may sit where only its owner can enter (`/root`, a 0700
/// `mktemp -d`), so the built binary is not reachable by `nobody` there.
/// `Err` says why no such place could be made; never a panic.
pub fn place_for_other_users() -> Result<TempDir, String> {
    use std::os::unix::fs::PermissionsExt;
    let traversable = |dir: &Path| {
        dir.ancestors()
            .all(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
    };
    let base = [
        std::env::temp_dir(),
        PathBuf::from("/tmp"),
        PathBuf::from("/var/tmp"),
    ]
    .into_iter()
    .find(|dir| traversable(dir))
    .ok_or("no temporary directory that every user can traverse")?;
    let place = tempfile::Builder::new()
        .prefix("paytrack-shared-")
        .tempdir_in(&base)
        .map_err(|e| format!("creating a directory in {}: {e}", base.display()))?;
    let open = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(place.path(), open.clone())
        .map_err(|e| format!("chmod {}: {e}", place.path().display()))?;
    let copy = place.path().join("paytrack");
    std::fs::copy(assert_cmd::cargo::cargo_bin("paytrack"), &copy)
        .map_err(|e| format!("copying the binary to {}: {e}", copy.display()))?;
    std::fs::set_permissions(&copy, open).map_err(|e| format!("chmod {}: {e}", copy.display()))?;
    Ok(place)
}

/// A client to the test server (`PAYTRACK_TEST_PG`) as `user` on `dbname`,
/// for tests that set up roles and the bot's side themselves.
#[cfg(feature = "postgres")]
pub fn pg_client(server: &str, user: &str, dbname: &str) -> postgres::Client {
    let info = paytrack::db::pg::conninfo::resolve(
        server,
        &paytrack::db::pg::conninfo::ProcessEnvironment,
    )
    .expect("PAYTRACK_TEST_PG parses");
    let mut config = postgres::Config::new();
    config
        .host(&info.host)
        .port(info.port)
        .user(user)
        .dbname(dbname);
    config
        .connect(postgres::NoTls)
        .expect("connect to the test server")
}

/// `server`'s host and port as `user:password` on `dbname`.
#[cfg(feature = "postgres")]
pub fn pg_url_as(server: &str, user: &str, password: &str, dbname: &str) -> String {
    let rest = server.split_once("://").unwrap().1;
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = host.split('/').next().unwrap();
    format!("postgres://{user}:{password}@{host}/{dbname}")
}

/// A booking's status code (`confirmed`), read on either backend.
pub fn status_of(env: &Env, id: i64) -> i64 {
    env.count(&format!("SELECT confirmed FROM bookings WHERE id = {id}"))
}
