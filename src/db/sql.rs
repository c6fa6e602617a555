//! One SQL surface over both backends (issue 18).
//!
//! The repository functions in `src/db/*.rs` were written against rusqlite;
//! this module gives them the same few calls (`execute`, `query_row`,
//! `prepare_cached`, `query_map`, `Row::get`) over either an SQLite
//! connection or a PostgreSQL session, so the SQL is written once with `?N`
//! placeholders and the row-mapping closures are shared. Parameters are
//! `db::value::ToValue` and columns are read as `FromValue` (issue 27): the
//! SQLite driver (`db::sqlite`) binds and reads them borrowed, the
//! PostgreSQL driver (`db::pg::session`) converts each to and from the
//! server's types, so a column reads the same Rust value on both backends
//! and every failure is a `db::Error`. Where the dialects differ in a
//! phrase, `Dialect` names it by what it means (`json_text`, `total`,
//! `begin_read`, …) and spells it in each engine's own SQL; where a whole
//! statement differs, the repository picks the text with `Conn::pick`, and
//! both versions sit side by side. (What only one engine has lives in its
//! driver: `db::sqlite`, `db::pg`.)

use super::error::{Error, Result};
use super::sqlite::with_binds;
use super::value::{FromValue, ToValue, Value, ValueRef};

#[cfg(feature = "postgres")]
use super::pg::session::Session;

/// A connection to run repository SQL on.
#[derive(Clone, Copy)]
pub(crate) enum Conn<'a> {
    Sqlite(&'a rusqlite::Connection),
    #[cfg(feature = "postgres")]
    Pg(&'a Session),
}

/// Which SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// SQL whose spelling differs between the engines, by what it means (issue
/// 27): each engine's own functions, never one emulating the other's. The
/// keys and columns are paytrack's constants, never user input.
impl Dialect {
    /// The text of top-level field `key` of JSON text column `column`.
    pub fn json_text(self, column: &str, key: &str) -> String {
        debug_assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("(({column})::jsonb ->> '{key}')"),
        }
    }

    /// Top-level field `key` of JSON text column `column`, as an integer.
    pub fn json_integer(self, column: &str, key: &str) -> String {
        format!("CAST({} AS BIGINT)", self.json_text(column, key))
    }

    /// JSON text column `column` with top-level `fields` set to the values of
    /// SQL expressions (NULL: JSON null), added where missing.
    pub fn json_with(self, column: &str, fields: &[(&str, &str)]) -> String {
        debug_assert!(fields
            .iter()
            .all(|(k, _)| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        match self {
            Dialect::Sqlite => {
                let pairs: Vec<String> = fields
                    .iter()
                    .map(|(key, value)| format!("'$.{key}', {value}"))
                    .collect();
                format!("json_set({column}, {})", pairs.join(", "))
            }
            Dialect::Postgres => {
                let pairs: Vec<String> = fields
                    .iter()
                    .map(|(key, value)| format!("'{key}', {value}"))
                    .collect();
                format!(
                    "(({column})::jsonb || jsonb_build_object({}))::text",
                    pairs.join(", ")
                )
            }
        }
    }

    /// `column = value`, ignoring case (SQLite's NOCASE folds ASCII only;
    /// PostgreSQL's lower() folds every letter its locale knows).
    pub fn equal_ignoring_case(self, column: &str, value: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} = {value} COLLATE NOCASE"),
            Dialect::Postgres => format!("lower({column}) = lower({value})"),
        }
    }

    /// Begins a read transaction that sees one snapshot: SQLite's read
    /// transaction, PostgreSQL's REPEATABLE READ (READ COMMITTED would see
    /// each statement's own).
    pub fn begin_read(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN DEFERRED",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }

    /// The sum of `expr` over the rows, 0 over none, never overflowing:
    /// SQLite's TOTAL (a real), PostgreSQL's SUM of an integer (a numeric).
    pub fn total(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("TOTAL({expr})"),
            Dialect::Postgres => format!("COALESCE(SUM({expr}), 0)"),
        }
    }
}

impl<'a> Conn<'a> {
    pub fn dialect(self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::Pg(_) => Dialect::Postgres,
        }
    }

    pub fn is_postgres(self) -> bool {
        self.dialect() == Dialect::Postgres
    }

    /// The SQLite text or the PostgreSQL text of a statement whose dialects differ.
    pub fn pick<T>(self, sqlite: T, postgres: T) -> T {
        match self.dialect() {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }

    pub fn execute<P: Params>(self, sql: &str, params: P) -> Result<usize> {
        match self {
            Conn::Sqlite(c) => Ok(params.with_values(|v| with_binds(v, |v| c.execute(sql, v)))?),
            #[cfg(feature = "postgres")]
            Conn::Pg(s) => params.with_values(|v| s.execute(sql, v)),
        }
    }

    pub fn execute_batch(self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            #[cfg(feature = "postgres")]
            Conn::Pg(s) => s.execute_batch(sql),
        }
    }

    pub fn query_row<T, P, F>(self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        match self {
            Conn::Sqlite(c) => params.with_values(|v| {
                with_binds(v, |v| {
                    let mut stmt = c.prepare_cached(sql)?;
                    let mut rows = stmt.query(v)?;
                    match rows.next()? {
                        Some(row) => f(&Row::Sqlite(row)),
                        None => Err(Error::NoRows),
                    }
                })
            }),
            #[cfg(feature = "postgres")]
            Conn::Pg(s) => {
                let rows = params.with_values(|v| s.query(sql, v, Some(1)))?;
                match rows.first() {
                    Some(row) => f(&Row::Values(row)),
                    None => Err(Error::NoRows),
                }
            }
        }
    }

    /// The id of the row the last INSERT made (PostgreSQL: the last value
    /// a sequence gave this session, which is that id for paytrack's tables).
    #[cfg_attr(not(feature = "postgres"), allow(clippy::unnecessary_wraps))]
    pub fn last_insert_rowid(self) -> Result<i64> {
        match self {
            Conn::Sqlite(c) => Ok(c.last_insert_rowid()),
            #[cfg(feature = "postgres")]
            Conn::Pg(_) => self.query_row("SELECT lastval()", [], |r| r.get(0)),
        }
    }

    pub fn prepare(self, sql: &str) -> Result<Statement<'a>> {
        self.prepare_cached(sql)
    }

    pub fn prepare_cached(self, sql: &str) -> Result<Statement<'a>> {
        match self {
            Conn::Sqlite(c) => Ok(Statement::Sqlite(c.prepare_cached(sql)?)),
            #[cfg(feature = "postgres")]
            Conn::Pg(s) => Ok(Statement::Pg {
                session: s,
                sql: sql.to_string(),
                bound: Vec::new(),
            }),
        }
    }
}

/// A prepared statement (on PostgreSQL: the text, prepared by the session's cache).
pub(crate) enum Statement<'a> {
    Sqlite(rusqlite::CachedStatement<'a>),
    #[cfg(feature = "postgres")]
    Pg {
        session: &'a Session,
        sql: String,
        /// Values bound one by one (`raw_bind_parameter`), for `raw_execute`.
        bound: Vec<Value>,
    },
}

impl Statement<'_> {
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        match self {
            Statement::Sqlite(s) => Ok(params.with_values(|v| with_binds(v, |v| s.execute(v)))?),
            #[cfg(feature = "postgres")]
            Statement::Pg { session, sql, .. } => params.with_values(|v| session.execute(sql, v)),
        }
    }

    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        match self {
            Statement::Sqlite(s) => params.with_values(|v| {
                with_binds(v, |v| {
                    let mut rows = s.query(v)?;
                    match rows.next()? {
                        Some(row) => f(&Row::Sqlite(row)),
                        None => Err(Error::NoRows),
                    }
                })
            }),
            #[cfg(feature = "postgres")]
            Statement::Pg { session, sql, .. } => {
                let rows = params.with_values(|v| session.query(sql, v, Some(1)))?;
                match rows.first() {
                    Some(row) => f(&Row::Values(row)),
                    None => Err(Error::NoRows),
                }
            }
        }
    }

    /// Binds parameter `index` (from 1) for `raw_execute`: a many-row
    /// INSERT binds its values in place, without a slice of references.
    pub fn raw_bind_parameter(&mut self, index: usize, value: &dyn ToValue) -> Result<()> {
        match self {
            Statement::Sqlite(s) => {
                Ok(s.raw_bind_parameter(index, super::sqlite::Bind(value.to_value()))?)
            }
            #[cfg(feature = "postgres")]
            Statement::Pg { bound, .. } => {
                let value = value.to_value().to_owned();
                if bound.len() < index {
                    bound.resize(index, Value::Null);
                }
                bound[index - 1] = value;
                Ok(())
            }
        }
    }

    /// Runs the statement with the parameters bound by `raw_bind_parameter`.
    pub fn raw_execute(&mut self) -> Result<usize> {
        match self {
            Statement::Sqlite(s) => Ok(s.raw_execute()?),
            #[cfg(feature = "postgres")]
            Statement::Pg {
                session,
                sql,
                bound,
            } => {
                let values = std::mem::take(bound);
                let refs: Vec<&dyn ToValue> = values.iter().map(|v| v as &dyn ToValue).collect();
                session.execute(sql, &refs)
            }
        }
    }

    /// The rows, one at a time (SQLite steps the statement; PostgreSQL has
    /// fetched them).
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        match self {
            Statement::Sqlite(s) => Ok(Rows::Sqlite(
                params.with_values(|v| with_binds(v, |v| s.query(v)))?,
            )),
            #[cfg(feature = "postgres")]
            Statement::Pg { session, sql, .. } => {
                let rows = params.with_values(|v| session.query(sql, v, None))?;
                Ok(Rows::Values {
                    rows: rows.into_iter(),
                    current: None,
                })
            }
        }
    }

    /// As `query`, for results that may be large (listings, exports, the
    /// audit tail): on PostgreSQL through a cursor, a batch at a time, so
    /// memory stays bounded as it does on SQLite.
    pub fn query_stream<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        match self {
            Statement::Sqlite(s) => Ok(Rows::Sqlite(
                params.with_values(|v| with_binds(v, |v| s.query(v)))?,
            )),
            #[cfg(feature = "postgres")]
            Statement::Pg { session, sql, .. } => {
                let begin_read = Dialect::Postgres.begin_read();
                let cursor = params.with_values(|v| session.cursor(begin_read, sql, v))?;
                Ok(Rows::Cursor {
                    cursor,
                    current: None,
                })
            }
        }
    }

    pub fn query_map<T, P, F>(&mut self, params: P, f: F) -> Result<MappedRows<'_, F>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        Ok(MappedRows {
            rows: self.query(params)?,
            map: f,
        })
    }
}

/// Rows of a query being read.
pub(crate) enum Rows<'s> {
    Sqlite(rusqlite::Rows<'s>),
    #[cfg(feature = "postgres")]
    Values {
        rows: std::vec::IntoIter<Vec<Value>>,
        current: Option<Vec<Value>>,
    },
    #[cfg(feature = "postgres")]
    Cursor {
        cursor: super::pg::session::Cursor<'s>,
        current: Option<Vec<Value>>,
    },
}

impl Rows<'_> {
    /// The next row, or None at the end.
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self {
            Rows::Sqlite(rows) => Ok(rows.next()?.map(Row::Sqlite)),
            #[cfg(feature = "postgres")]
            Rows::Values { rows, current } => {
                *current = rows.next();
                Ok(current.as_deref().map(Row::Values))
            }
            #[cfg(feature = "postgres")]
            Rows::Cursor { cursor, current } => {
                *current = cursor.next_row()?;
                Ok(current.as_deref().map(Row::Values))
            }
        }
    }
}

/// The rows of a query, each passed through a closure.
pub(crate) struct MappedRows<'s, F> {
    rows: Rows<'s>,
    map: F,
}

impl<T, F> Iterator for MappedRows<'_, F>
where
    F: FnMut(&Row<'_>) -> Result<T>,
{
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.rows.next() {
            Ok(Some(row)) => Some((self.map)(&row)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// A column position (only `usize`: so that `row.get::<_, T>(0)` reads as with rusqlite).
pub trait ColumnIndex {
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row of a result.
pub(crate) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    /// A PostgreSQL row, converted column by column (`pg_value`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Values(&'r [Value]),
}

impl Row<'_> {
    /// Column `idx` as `T` (`FromValue`: as SQLite converts it).
    pub fn get<I: ColumnIndex, T: FromValue>(&self, idx: I) -> Result<T> {
        let idx = idx.index();
        T::from_value(self.get_ref(idx)?).map_err(|cause| Error::Column { index: idx, cause })
    }
}

impl Row<'_> {
    /// Text column `idx`, borrowed.
    pub fn get_str(&self, idx: usize) -> Result<&str> {
        self.get_ref(idx)?
            .as_str()
            .map_err(|cause| Error::Column { index: idx, cause })
    }

    /// Column `idx` as a borrowed value (its type decides how it is read).
    pub fn get_ref(&self, idx: usize) -> Result<ValueRef<'_>> {
        match self {
            Row::Sqlite(r) => Ok(r.get_ref(idx)?.into()),
            // The error is built only when the column is missing: `ok_or`
            // allocated its message for every column read (9% of the time of a
            // PostgreSQL export: 12 columns a row).
            Row::Values(values) => {
                values
                    .get(idx)
                    .map(Value::as_ref)
                    .ok_or_else(|| Error::Column {
                        index: idx,
                        cause: super::value::ConversionError::Invalid("no such column".into()),
                    })
            }
        }
    }
}

/// Statement parameters: `params![…]`, arrays of values, `[]`, or
/// `params_from_iter`. Handed to a backend as one slice of `ToValue` values.
pub trait Params {
    fn with_values<R>(self, f: impl FnOnce(&[&dyn ToValue]) -> R) -> R;
}

impl Params for &[&dyn ToValue] {
    fn with_values<R>(self, f: impl FnOnce(&[&dyn ToValue]) -> R) -> R {
        f(self)
    }
}

impl Params for [&(dyn ToValue + Send + Sync); 0] {
    fn with_values<R>(self, f: impl FnOnce(&[&dyn ToValue]) -> R) -> R {
        f(&[])
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn with_values<R>(self, f: impl FnOnce(&[&dyn ToValue]) -> R) -> R {
                let refs: Vec<&dyn ToValue> = self.iter().map(|v| v as &dyn ToValue).collect();
                f(&refs)
            }
        }
        impl<T: ToValue + ?Sized> Params for &[&T; $n] {
            fn with_values<R>(self, f: impl FnOnce(&[&dyn ToValue]) -> R) -> R {
                let refs: Vec<&dyn ToValue> = self.iter().map(|v| v as &dyn ToValue).collect();
                f(&refs)
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// Parameters from an iterator of values.
pub struct ParamsFromIter<I>(I);

pub fn params_from_iter<I>(iter: I) -> ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToValue,
{
    ParamsFromIter(iter)
}

impl<I> Params for ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToValue,
{
    fn with_values<R>(self, f: impl FnOnce(&[&dyn ToValue]) -> R) -> R {
        let values: Vec<I::Item> = self.0.into_iter().collect();
        let refs: Vec<&dyn ToValue> = values.iter().map(|v| v as &dyn ToValue).collect();
        f(&refs)
    }
}

/// The rows of a many-row `INSERT … VALUES`: `rows` groups of `columns`
/// bare placeholders, bound in order. One statement for many rows opens the
/// indexes and the statement journal once, instead of once per row.
pub fn values_rows(columns: usize, rows: usize) -> String {
    let row = format!("({})", placeholders(columns));
    vec![row.as_str(); rows].join(", ")
}

/// `n` bare placeholders for an `IN (…)` list or a row: `?, ?, ?`.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
