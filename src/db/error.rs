//! The error every database call fails with, whichever engine ran it
//! (issue 27): the repository matches on these variants, and the exit code a
//! failure stands for is read from them (`db::exit_code_for`), so nothing
//! outside a driver knows the other crate's error types.

use std::fmt;

use super::value::ConversionError;

#[derive(Debug)]
pub enum Error {
    /// A query that must return a row returned none.
    NoRows,
    /// Column `index` could not be read as the type asked for (another
    /// program can write any value into a column).
    Column {
        index: usize,
        cause: ConversionError,
    },
    /// A parameter the engine cannot take (a value out of the column's range).
    Parameter(String),
    /// What SQLite said.
    Sqlite(rusqlite::Error),
    /// What PostgreSQL said; shown without the connection string.
    #[cfg(feature = "postgres")]
    Postgres(postgres::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoRows => f.write_str("query returned no rows"),
            Error::Column { index, cause } => write!(f, "column {index}: {cause}"),
            Error::Parameter(why) => f.write_str(why),
            Error::Sqlite(e) => e.fmt(f),
            #[cfg(feature = "postgres")]
            Error::Postgres(e) => f.write_str(&describe_postgres(e)),
        }
    }
}

/// No source: the text above already says what the engine said.
impl std::error::Error for Error {}

impl Error {
    /// Column `index` holds a value the domain does not know.
    pub fn invalid_column(index: usize, why: impl Into<String>) -> Error {
        Error::Column {
            index,
            cause: ConversionError::Invalid(why.into()),
        }
    }

    /// SQLite's error, when SQLite said it.
    pub fn as_sqlite(&self) -> Option<&rusqlite::Error> {
        match self {
            Error::Sqlite(e) => Some(e),
            _ => None,
        }
    }

    /// PostgreSQL's error, when PostgreSQL said it.
    #[cfg(feature = "postgres")]
    pub fn as_postgres(&self) -> Option<&postgres::Error> {
        match self {
            Error::Postgres(e) => Some(e),
            _ => None,
        }
    }
}

/// SQLite's error somewhere in a chain: raised by the driver directly
/// (opening, backups) or carried in a `db::Error`.
pub fn sqlite_error<'a>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rusqlite::Error> {
    cause
        .downcast_ref::<rusqlite::Error>()
        .or_else(|| cause.downcast_ref::<Error>().and_then(Error::as_sqlite))
}

/// `.optional()`: a query's "no row" as `None`.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The server's message with its SQLSTATE; never the connection string.
#[cfg(feature = "postgres")]
pub(crate) fn describe_postgres(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => match db.detail() {
            // The detail names the objects involved ("view report depends on …").
            Some(detail) => format!(
                "{} ({}): {}",
                db.message(),
                db.code().code(),
                detail.replace('\n', "; ")
            ),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}
