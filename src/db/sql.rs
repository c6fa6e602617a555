//! One SQL surface over both backends (issue 18).
//!
//! The repository functions in `src/db/*.rs` were written against rusqlite;
//! this module gives them the same few calls (`execute`, `query_row`,
//! `prepare_cached`, `query_map`, `Row::get`) over either an SQLite
//! connection or a PostgreSQL session, so the SQL is written once with `?N`
//! placeholders and the row-mapping closures are shared. Parameters stay
//! rusqlite's `ToSql` values and columns are read with rusqlite's `FromSql`:
//! on PostgreSQL both travel through `rusqlite::types::Value` (see `pg_value`),
//! so a column reads the same Rust value on both backends. Where the
//! dialects differ, the repository picks the text with `Conn::pick`, and both
//! versions sit side by side.

use rusqlite::types::{FromSql, ToSql, Value};

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

    pub fn execute<P: Params>(self, sql: &str, params: P) -> rusqlite::Result<usize> {
        match self {
            Conn::Sqlite(c) => params.with_values(|v| c.execute(sql, v)),
            #[cfg(feature = "postgres")]
            Conn::Pg(s) => params.with_values(|v| s.execute(sql, v)),
        }
    }

    pub fn execute_batch(self, sql: &str) -> rusqlite::Result<()> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql),
            #[cfg(feature = "postgres")]
            Conn::Pg(s) => s.execute_batch(sql),
        }
    }

    pub fn query_row<T, P, F>(self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        match self {
            Conn::Sqlite(c) => params.with_values(|v| c.query_row(sql, v, |r| f(&Row::Sqlite(r)))),
            #[cfg(feature = "postgres")]
            Conn::Pg(s) => {
                let rows = params.with_values(|v| s.query(sql, v, Some(1)))?;
                match rows.first() {
                    Some(row) => f(&Row::Values(row)),
                    None => Err(rusqlite::Error::QueryReturnedNoRows),
                }
            }
        }
    }

    /// The id of the row the last INSERT made (PostgreSQL: the last value
    /// a sequence gave this session, which is that id for paytrack's tables).
    #[cfg_attr(not(feature = "postgres"), allow(clippy::unnecessary_wraps))]
    pub fn last_insert_rowid(self) -> rusqlite::Result<i64> {
        match self {
            Conn::Sqlite(c) => Ok(c.last_insert_rowid()),
            #[cfg(feature = "postgres")]
            Conn::Pg(_) => self.query_row("SELECT lastval()", [], |r| r.get(0)),
        }
    }

    pub fn prepare(self, sql: &str) -> rusqlite::Result<Statement<'a>> {
        self.prepare_cached(sql)
    }

    pub fn prepare_cached(self, sql: &str) -> rusqlite::Result<Statement<'a>> {
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
    pub fn execute<P: Params>(&mut self, params: P) -> rusqlite::Result<usize> {
        match self {
            Statement::Sqlite(s) => params.with_values(|v| s.execute(v)),
            #[cfg(feature = "postgres")]
            Statement::Pg { session, sql, .. } => params.with_values(|v| session.execute(sql, v)),
        }
    }

    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        match self {
            Statement::Sqlite(s) => params.with_values(|v| s.query_row(v, |r| f(&Row::Sqlite(r)))),
            #[cfg(feature = "postgres")]
            Statement::Pg { session, sql, .. } => {
                let rows = params.with_values(|v| session.query(sql, v, Some(1)))?;
                match rows.first() {
                    Some(row) => f(&Row::Values(row)),
                    None => Err(rusqlite::Error::QueryReturnedNoRows),
                }
            }
        }
    }

    /// Binds parameter `index` (from 1) for `raw_execute`: a many-row
    /// INSERT binds its values in place, without a slice of references.
    pub fn raw_bind_parameter(&mut self, index: usize, value: &dyn ToSql) -> rusqlite::Result<()> {
        match self {
            Statement::Sqlite(s) => s.raw_bind_parameter(index, value),
            #[cfg(feature = "postgres")]
            Statement::Pg { bound, .. } => {
                let value = owned_value(value)?;
                if bound.len() < index {
                    bound.resize(index, Value::Null);
                }
                bound[index - 1] = value;
                Ok(())
            }
        }
    }

    /// Runs the statement with the parameters bound by `raw_bind_parameter`.
    pub fn raw_execute(&mut self) -> rusqlite::Result<usize> {
        match self {
            Statement::Sqlite(s) => s.raw_execute(),
            #[cfg(feature = "postgres")]
            Statement::Pg {
                session,
                sql,
                bound,
            } => {
                let values = std::mem::take(bound);
                let refs: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
                session.execute(sql, &refs)
            }
        }
    }

    /// The rows, one at a time (SQLite steps the statement; PostgreSQL has
    /// fetched them).
    pub fn query<P: Params>(&mut self, params: P) -> rusqlite::Result<Rows<'_>> {
        match self {
            Statement::Sqlite(s) => Ok(Rows::Sqlite(params.with_values(|v| s.query(v))?)),
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
    pub fn query_stream<P: Params>(&mut self, params: P) -> rusqlite::Result<Rows<'_>> {
        match self {
            Statement::Sqlite(s) => Ok(Rows::Sqlite(params.with_values(|v| s.query(v))?)),
            #[cfg(feature = "postgres")]
            Statement::Pg { session, sql, .. } => {
                let cursor = params.with_values(|v| session.cursor(sql, v))?;
                Ok(Rows::Cursor {
                    cursor,
                    current: None,
                })
            }
        }
    }

    pub fn query_map<T, P, F>(&mut self, params: P, f: F) -> rusqlite::Result<MappedRows<'_, F>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
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
    pub fn next(&mut self) -> rusqlite::Result<Option<Row<'_>>> {
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
    F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
{
    type Item = rusqlite::Result<T>;

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
    /// Column `idx` as `T`, converted as rusqlite converts it.
    pub fn get<I: ColumnIndex, T: FromSql>(&self, idx: I) -> rusqlite::Result<T> {
        let idx = idx.index();
        match self {
            Row::Sqlite(r) => r.get(idx),
            Row::Values(values) => {
                let value = values
                    .get(idx)
                    .ok_or(rusqlite::Error::InvalidColumnIndex(idx))?;
                T::column_result(value.into()).map_err(|e| match e {
                    rusqlite::types::FromSqlError::InvalidType => {
                        rusqlite::Error::InvalidColumnType(
                            idx,
                            format!("column {idx}"),
                            value.data_type(),
                        )
                    }
                    other => rusqlite::Error::FromSqlConversionFailure(
                        idx,
                        value.data_type(),
                        Box::new(other),
                    ),
                })
            }
        }
    }
}

impl Row<'_> {
    /// Column `idx` as a borrowed value (its type decides how it is read).
    pub fn get_ref(&self, idx: usize) -> rusqlite::Result<rusqlite::types::ValueRef<'_>> {
        match self {
            Row::Sqlite(r) => r.get_ref(idx),
            Row::Values(values) => values
                .get(idx)
                .map(Into::into)
                .ok_or(rusqlite::Error::InvalidColumnIndex(idx)),
        }
    }
}

/// Statement parameters: rusqlite's `params![…]`, arrays of values, `[]`, or
/// `params_from_iter`. Handed to a backend as one slice of `ToSql` values.
pub trait Params {
    fn with_values<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R;
}

impl Params for &[&dyn ToSql] {
    fn with_values<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(self)
    }
}

impl Params for [&(dyn ToSql + Send + Sync); 0] {
    fn with_values<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(&[])
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn with_values<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
                let refs: Vec<&dyn ToSql> = self.iter().map(|v| v as &dyn ToSql).collect();
                f(&refs)
            }
        }
        impl<T: ToSql + ?Sized> Params for &[&T; $n] {
            fn with_values<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
                let refs: Vec<&dyn ToSql> = self.iter().map(|v| v as &dyn ToSql).collect();
                f(&refs)
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// Parameters from an iterator of values (rusqlite's `params_from_iter`).
pub struct ParamsFromIter<I>(I);

pub fn params_from_iter<I>(iter: I) -> ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToSql,
{
    ParamsFromIter(iter)
}

impl<I> Params for ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToSql,
{
    fn with_values<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        let values: Vec<I::Item> = self.0.into_iter().collect();
        let refs: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
        f(&refs)
    }
}

/// A parameter as an owned value (how PostgreSQL receives it).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn owned_value(param: &dyn ToSql) -> rusqlite::Result<Value> {
    use rusqlite::types::ToSqlOutput;
    Ok(match param.to_sql()? {
        ToSqlOutput::Borrowed(v) => v.into(),
        ToSqlOutput::Owned(v) => v,
        other => {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!("unsupported parameter {other:?}").into(),
            ))
        }
    })
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
