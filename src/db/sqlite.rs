//! The SQLite driver's half of the seam (issue 27): rusqlite's values and
//! errors to and from `db::Value` / `db::Error`. Only this file, `db::sql`'s
//! SQLite arms and what is SQLite's alone (opening the file, pragmas,
//! backups, `check`) name rusqlite.

use rusqlite::types::{ToSqlOutput, ValueRef as SqliteRef};

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
