//! The test harness: a temp directory with a database path, and the real
//! `paytrack` binary run with a scrubbed environment and a fixed clock.

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

/// A temp dir holding one database file for one test.
pub struct Env {
    pub dir: TempDir,
    pub db: PathBuf,
}

impl Env {
    /// A fresh directory; the database file does not exist yet.
    pub fn empty() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("paytrack.db");
        Env { dir, db }
    }

    /// A fresh, initialised, empty database.
    pub fn new() -> Env {
        let env = Env::empty();
        env.ok(&["init"]);
        env
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

    /// A database with the demo data (3,000 bookings by default).
    pub fn with_demo() -> Env {
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
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("paytrack"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("xdg"))
            .env("TZ", "UTC")
            .env("LANG", "C")
            .env("PAYTRACK_NOW", NOW)
            .env("PAYTRACK_ACTOR", "tester")
            .env("PAYTRACK_DB", &self.db);
        cmd
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
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).expect("open db")
    }

    /// One integer from a query.
    pub fn count(&self, query: &str) -> i64 {
        self.sql().query_row(query, [], |r| r.get(0)).expect(query)
    }

    /// A logical snapshot of every table (to prove a failed command changed nothing).
    pub fn snapshot(&self) -> String {
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
/// columns. Use as `FROM {AUDIT_REVEALED} WHERE …`.
#[allow(dead_code)] // used by some test modules
pub const AUDIT_REVEALED: &str = "(SELECT a.id, a.action, a.booking_id, a.details, a.operation_id,
    COALESCE((SELECT value FROM audit_personal p WHERE p.entry_id = a.id AND p.field = 'old_value'), a.old_value) AS old_value,
    COALESCE((SELECT value FROM audit_personal p WHERE p.entry_id = a.id AND p.field = 'new_value'), a.new_value) AS new_value,
    COALESCE((SELECT value FROM audit_personal p WHERE p.entry_id = a.id AND p.field = 'reason'), a.reason) AS reason
  FROM audit_log a)";
