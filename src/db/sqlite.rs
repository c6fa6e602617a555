//! The SQLite driver's half of the seam (issue 27): rusqlite's values and
//! errors to and from `db::Value` / `db::Error`. Only this file, `db::sql`'s
//! SQLite arms and what is SQLite's alone (opening the file, pragmas,
//! backups, `check`) name rusqlite. Also what SQLite's file alone needs:
//! creating it private, the URI it is opened by, its side files' modes, and
//! its storage errors said in one line that names the file.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rusqlite::types::{ToSqlOutput, ValueRef as SqliteRef};
use rusqlite::OpenFlags;

use crate::error::PaytrackError;
use crate::text::shown_path;

use super::error::Error;
use super::value::{ToValue, ValueRef};

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Error {
        match err {
            rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
            other => Error::Sqlite(other),
        }
    }
}

impl<'a> From<SqliteRef<'a>> for ValueRef<'a> {
    fn from(value: SqliteRef<'a>) -> ValueRef<'a> {
        match value {
            SqliteRef::Null => ValueRef::Null,
            SqliteRef::Integer(i) => ValueRef::Integer(i),
            SqliteRef::Real(f) => ValueRef::Real(f),
            SqliteRef::Text(t) => ValueRef::Text(t),
            SqliteRef::Blob(b) => ValueRef::Blob(b),
        }
    }
}

/// A parameter as rusqlite binds it, borrowed (no copy of text or blobs).
pub(super) struct Bind<'a>(pub ValueRef<'a>);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            ValueRef::Null => SqliteRef::Null,
            ValueRef::Integer(i) => SqliteRef::Integer(i),
            ValueRef::Real(f) => SqliteRef::Real(f),
            ValueRef::Text(t) => SqliteRef::Text(t),
            ValueRef::Blob(b) => SqliteRef::Blob(b),
        }))
    }
}

/// Runs `f` with the parameters as rusqlite's.
pub(super) fn with_binds<R>(
    params: &[&dyn ToValue],
    f: impl FnOnce(&[&dyn rusqlite::ToSql]) -> R,
) -> R {
    let binds: Vec<Bind<'_>> = params.iter().map(|p| Bind(p.to_value())).collect();
    let refs: Vec<&dyn rusqlite::ToSql> = binds.iter().map(|b| b as &dyn rusqlite::ToSql).collect();
    f(&refs)
}

/// Creates an empty file readable by its owner only (0600), parents included.
/// SQLite gives the -wal and -shm files the same permissions as the database.
pub(super) fn create_private_file(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Owner-only (0700) whatever the umask: under umask 000 plain
        // create_dir_all made world-writable directories (issue 30).
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
        dirs.create(parent)
            .with_context(|| format!("creating directory {}", crate::text::shown_path(parent)))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating database {}", crate::text::shown_path(path)))?;
    Ok(())
}

/// The name SQLite opens, built by us: `--db` is a path, never a URI, so a
/// name like `file:u.db?mode=memory` is a file of that name. The absolute
/// path is percent-encoded into a `file:` URI whose parameters we choose:
/// `mode=rw` (the file exists by now), or for a file without write
/// permission `mode=ro`, plus `immutable=1` when no write-ahead log is
/// pending, so that reading it creates no `-wal`/`-shm` files (which would
/// get the frozen file's 0400 mode and block writes after it is unfrozen).
pub(super) fn open_uri(path: &Path, frozen: bool) -> Result<(String, OpenFlags)> {
    let absolute =
        std::path::absolute(path).with_context(|| format!("resolving {}", shown_path(path)))?;
    let mut uri = String::from("file://");
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(absolute.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = absolute.to_string_lossy().replace('\\', "/").into_bytes();
    for byte in bytes {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(byte as char);
            }
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    if !frozen {
        uri.push_str("?mode=rw");
        return Ok((uri, OpenFlags::SQLITE_OPEN_READ_WRITE));
    }
    uri.push_str("?mode=ro");
    if !pending_wal(path) {
        // Nobody can be writing a file without write permission (root aside),
        // so its contents cannot change under us.
        uri.push_str("&immutable=1");
    }
    Ok((uri, OpenFlags::SQLITE_OPEN_READ_ONLY))
}

/// The path of a side file: `x.db` → `x.db-wal`.
fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// True when a non-empty `-wal` file exists: committed data may live there,
/// and an immutable open would not see it.
fn pending_wal(path: &Path) -> bool {
    std::fs::metadata(side_file(path, "-wal")).is_ok_and(|m| m.len() > 0)
}

/// Side files left without write permission by an older paytrack's read of
/// a frozen database outlive the freeze and make every write fail; give them
/// the database's own mode back (when they are ours to change).
pub(super) fn restore_side_file_modes(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(db) = std::fs::metadata(path) else {
            return;
        };
        for suffix in ["-wal", "-shm"] {
            let side = side_file(path, suffix);
            let Ok(meta) = std::fs::symlink_metadata(&side) else {
                continue;
            };
            let wanted = db.permissions().mode() & 0o777;
            if meta.file_type().is_file()
                && meta.uid() == db.uid()
                && meta.permissions().mode() & 0o777 != wanted
            {
                let _ = std::fs::set_permissions(&side, std::fs::Permissions::from_mode(wanted));
            }
        }
    }
}

/// True when the file's permission bits allow nobody to write it.
pub(super) fn has_no_write_permission(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
}

/// The SQLite error code somewhere in an error's chain, if any.
fn sqlite_code(err: &anyhow::Error) -> Option<rusqlite::ErrorCode> {
    err.chain()
        .find_map(super::error::sqlite_error)
        .and_then(rusqlite::Error::sqlite_error_code)
}

/// SQLite's extended result code somewhere in an error's chain, if any.
fn extended_code(err: &anyhow::Error) -> Option<i32> {
    err.chain()
        .find_map(|c| match super::error::sqlite_error(c) {
            Some(rusqlite::Error::SqliteFailure(e, _)) => Some(e.extended_code),
            _ => None,
        })
}

/// Turns a storage failure during a write (disk full, I/O error, read-only)
/// into one line that names the file and says nothing was changed: the
/// transaction rolled back. Other errors (bad input, refusals) pass through.
pub(super) fn describe_write_error(path: &Path, err: anyhow::Error) -> anyhow::Error {
    use rusqlite::ErrorCode::{DatabaseCorrupt, DiskFull, NotADatabase, ReadOnly, SystemIoFailure};
    let shown = crate::text::shown_path(path);
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
pub(super) fn describe_open_error(path: &Path, err: anyhow::Error) -> anyhow::Error {
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
    PaytrackError::Database(format!("{} {what}", shown_path(path))).into()
}

#[cfg(test)]
mod tests {
    /// The bundled SQLite is built as `.cargo/config.toml` says: the search's
    /// FTS5 is there, and SQL cannot load a shared library into paytrack.
    #[test]
    fn the_bundled_sqlite_has_fts5_and_cannot_load_extensions() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for wanted in ["ENABLE_FTS5", "OMIT_LOAD_EXTENSION", "DEFAULT_MEMSTATUS=0"] {
            assert!(options.iter().any(|o| o == wanted), "{wanted}: {options:?}");
        }
        for unwanted in ["ENABLE_FTS3", "ENABLE_RTREE", "ENABLE_LOAD_EXTENSION"] {
            assert!(
                !options.iter().any(|o| o == unwanted),
                "{unwanted}: {options:?}"
            );
        }
        let loaded = conn.query_row("SELECT load_extension('/nonexistent')", [], |r| {
            r.get::<_, Option<String>>(0)
        });
        let message = loaded.unwrap_err().to_string();
        assert!(message.contains("no such function"), "{message}");
    }
}
