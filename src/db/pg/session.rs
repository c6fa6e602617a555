//! The PostgreSQL driver's half of the seam (issue 27), seen through
//! `db::sql`: statements written with `?N` run as `$N`, `db::Value`
//! parameters are bound whatever integer, float, text or timestamp type the
//! server inferred, every column comes back as a `db::Value`, and every
//! failure is `db::Error::Postgres`, so the repository's row closures read a
//! row as they read SQLite's.
//!
//! Types: the bot's table has `int4` ids and a `timestamptz` created_at,
//! paytrack's own tables `bigint` and storage-text times. Binding an `i64`
//! to an `int4` parameter is range-checked; a storage-text time bound to a
//! `timestamptz` parameter is parsed; a `timestamptz` column reads as
//! storage text (`domain::time::to_storage`); `numeric` (what `sum(bigint)`
//! returns) reads as an integer when it has no fraction.

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::error::Error as StdError;

use super::dialect::to_postgres;
use crate::db::error::{Error, Result as DbResult};
use crate::db::value::{ToValue, Value};
use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, IsNull, Kind, ToSql, Type};
use postgres::Client;

type BoxError = Box<dyn StdError + Sync + Send>;

pub(crate) fn wrap(err: postgres::Error) -> Error {
    Error::Postgres(err)
}

/// One client and its prepared statements.
pub struct Session {
    client: RefCell<Client>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
    /// `LISTEN paytrack_audit` was sent (`wait_for_audit_notification`).
    listening: std::cell::Cell<bool>,
    /// Inside BEGIN … COMMIT (a cursor then needs no transaction of its own).
    in_transaction: std::cell::Cell<bool>,
    /// Cursors open now (each gets its own name by depth).
    open_cursors: std::cell::Cell<u32>,
}

/// How many rows a streamed query fetches at a time.
const FETCH_ROWS: usize = 1024;

/// A query read through a server-side cursor, `FETCH_ROWS` at a time, so a
/// million-row listing or export holds one batch in memory, not the result.
pub struct Cursor<'s> {
    session: &'s Session,
    name: String,
    /// The cursor began its own read-only transaction (ended on drop).
    own_transaction: bool,
    batch: std::vec::IntoIter<Vec<Value>>,
    done: bool,
}

impl Cursor<'_> {
    /// The next row, fetching the next batch when this one is used up.
    pub fn next_row(&mut self) -> DbResult<Option<Vec<Value>>> {
        loop {
            if let Some(row) = self.batch.next() {
                return Ok(Some(row));
            }
            if self.done {
                return Ok(None);
            }
            let rows =
                self.session
                    .query(&format!("FETCH {FETCH_ROWS} FROM {}", self.name), &[], None)?;
            self.done = rows.len() < FETCH_ROWS;
            self.batch = rows.into_iter();
        }
    }
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        // Errors here mean the transaction already failed; its own error is reported.
        let mut client = self.session.client.borrow_mut();
        let _ = client.batch_execute(&format!("CLOSE {}", self.name));
        if self.own_transaction {
            let _ = client.batch_execute("COMMIT");
            self.session.in_transaction.set(false);
        }
        self.session
            .open_cursors
            .set(self.session.open_cursors.get().saturating_sub(1));
    }
}

impl Session {
    pub fn new(client: Client) -> Session {
        Session {
            client: RefCell::new(client),
            statements: RefCell::default(),
            listening: std::cell::Cell::new(false),
            in_transaction: std::cell::Cell::new(false),
            open_cursors: std::cell::Cell::new(0),
        }
    }

    pub fn client(&self) -> RefMut<'_, Client> {
        self.client.borrow_mut()
    }

    /// The statement for `sql` (`?N` written `$N`), prepared once per session.
    fn statement(&self, sql: &str) -> DbResult<postgres::Statement> {
        if let Some(stmt) = self.statements.borrow().get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self
            .client
            .borrow_mut()
            .prepare(&to_postgres(sql))
            .map_err(|e| {
                // For whoever ports the next statement: which one the server refused.
                if std::env::var_os("PAYTRACK_DEBUG_SQL").is_some() {
                    eprintln!("paytrack: PostgreSQL refused: {sql}");
                }
                wrap(e)
            })?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Waits up to `wait` for a new audit entry (`NOTIFY paytrack_audit`,
    /// sent by a trigger at commit); returns early on Ctrl-C. The first call
    /// starts listening.
    pub fn wait_for_audit_notification(&self, wait: std::time::Duration) -> DbResult<()> {
        let mut client = self.client.borrow_mut();
        if !self.listening.replace(true) {
            client
                .batch_execute("LISTEN paytrack_audit")
                .map_err(wrap)?;
        }
        let deadline = std::time::Instant::now() + wait;
        let mut notifications = client.notifications();
        while std::time::Instant::now() < deadline && !crate::interrupt::requested() {
            let slice = std::time::Duration::from_millis(50);
            if notifications
                .timeout_iter(slice)
                .next()
                .map_err(wrap)?
                .is_some()
            {
                // Take the rest that arrived together; one read covers them all.
                while notifications.iter().next().map_err(wrap)?.is_some() {}
                break;
            }
        }
        Ok(())
    }

    /// Marks the session as inside (or outside) a transaction begun or ended
    /// without `execute_batch` (`pg::begin_write`, `pg::finish_write`).
    pub fn set_in_transaction(&self, inside: bool) {
        self.in_transaction.set(inside);
    }

    /// Opens a cursor over `sql`; rows come through `Cursor::next_row`.
    /// Outside a transaction it opens its own with `begin_read` (the
    /// dialect's one-snapshot read, passed in: the driver does not import
    /// the repository's dialect, which imports the driver).
    pub fn cursor(
        &self,
        begin_read: &str,
        sql: &str,
        params: &[&dyn ToValue],
    ) -> DbResult<Cursor<'_>> {
        let own_transaction = !self.in_transaction.get();
        if own_transaction {
            self.execute_batch(begin_read)?;
        }
        let depth = self.open_cursors.get() + 1;
        let name = format!("paytrack_rows_{depth}");
        let declared = self.execute(
            &format!("DECLARE {name} NO SCROLL CURSOR FOR {sql}"),
            params,
        );
        if let Err(e) = declared {
            if own_transaction {
                let _ = self.execute_batch("ROLLBACK");
            }
            return Err(e);
        }
        self.open_cursors.set(depth);
        Ok(Cursor {
            session: self,
            name,
            own_transaction,
            batch: Vec::new().into_iter(),
            done: false,
        })
    }

    /// Runs `sql` and hands `visit` each row as the server sends it: one
    /// statement (one snapshot), no cursor. A cursor's FETCH waits for each
    /// batch whole while paytrack is idle, then the server waits while
    /// paytrack writes it out: `bookings export` took 2.55× psql's `\copy`
    /// (issue 26). Streamed, the server computes the next rows while
    /// paytrack writes these, and memory stays bounded (the driver stops
    /// reading the socket while a batch of rows is unread). `visit` must not
    /// use the session: the connection is busy with this result until its end.
    pub fn for_each_row(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        mut visit: impl FnMut(&[Value]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let stmt = self.statement(sql)?;
        let values = bind(params);
        let mut client = self.client.borrow_mut();
        let mut rows = client
            .query_raw(&stmt, values.iter().map(|v| v as &(dyn ToSql + Sync)))
            .map_err(wrap)?;
        while let Some(row) = rows.next().map_err(wrap)? {
            visit(&row_values(&row)?)?;
        }
        Ok(())
    }

    /// Forgets prepared statements (after a migration changed the tables).
    pub fn forget_statements(&self) {
        self.statements.borrow_mut().clear();
    }

    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<usize> {
        let stmt = self.statement(sql)?;
        let values = bind(params);
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let n = self
            .client
            .borrow_mut()
            .execute(&stmt, &refs)
            .map_err(wrap)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        // The first word, whatever its length: a slice of 8 bytes missed a
        // bare "COMMIT" (6), which left a later cursor thinking it was inside
        // a transaction ("DECLARE CURSOR can only be used in transaction blocks").
        let head: String = sql
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_uppercase();
        if head.starts_with("BEGIN") {
            self.in_transaction.set(true);
        } else if head.starts_with("COMMIT") || head.starts_with("ROLLBACK") {
            self.in_transaction.set(false);
        }
        self.client
            .borrow_mut()
            .batch_execute(&to_postgres(sql))
            .map_err(wrap)
    }

    /// Every row of a query (at most `limit`), each column as a `Value`.
    pub fn query(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        limit: Option<usize>,
    ) -> DbResult<Vec<Vec<Value>>> {
        let stmt = self.statement(sql)?;
        let values = bind(params);
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let rows = self.client.borrow_mut().query(&stmt, &refs).map_err(wrap)?;
        rows.iter()
            .take(limit.unwrap_or(usize::MAX))
            .map(row_values)
            .collect()
    }
}

fn bind(params: &[&dyn ToValue]) -> Vec<Param> {
    params
        .iter()
        .map(|p| Param(p.to_value().to_owned()))
        .collect()
}

/// A column of a PostgreSQL row as the SQLite value the repository expects.
fn row_values(row: &postgres::Row) -> DbResult<Vec<Value>> {
    (0..row.len())
        .map(|i| {
            row.try_get::<_, Column>(i)
                .map(|c| c.0)
                .map_err(|e| Error::Column {
                    index: i,
                    cause: crate::db::value::ConversionError::Invalid(e.to_string()),
                })
        })
        .collect()
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A parameter bound to whatever type the server inferred for it.
#[derive(Debug)]
struct Param(Value);

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let value = &self.0;
        match value {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => integer_to_sql(*i, ty, out),
            Value::Real(f) => match *ty {
                Type::FLOAT4 => {
                    #[allow(clippy::cast_possible_truncation)]
                    let narrow = *f as f32;
                    narrow.to_sql(ty, out)
                }
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::NUMERIC | Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::UNKNOWN => {
                    if *ty == Type::NUMERIC {
                        Err(format!("cannot bind {f} to numeric").into())
                    } else {
                        f.to_string().to_sql(&Type::TEXT, out)
                    }
                }
                _ => Err(format!("cannot bind a real number to {ty}").into()),
            },
            Value::Text(s) => match *ty {
                Type::TIMESTAMPTZ | Type::TIMESTAMP => {
                    let at = crate::domain::time::from_storage(s)
                        .ok_or_else(|| format!("not a time: {s:?}"))?;
                    out.put_i64(at.timestamp_micros() - PG_EPOCH_MICROS);
                    Ok(IsNull::No)
                }
                Type::JSONB => {
                    out.put_u8(1);
                    out.put_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                Type::INT2 | Type::INT4 | Type::INT8 => {
                    let i: i64 = s.parse().map_err(|_| format!("not a number: {s:?}"))?;
                    integer_to_sql(i, ty, out)
                }
                Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
                | Type::JSON => {
                    out.put_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                // Binary formats differ per type: write CAST(CAST(?N AS TEXT) AS type).
                _ => Err(format!("cannot bind text to {ty}").into()),
            },
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn integer_to_sql(i: i64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
        Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
        Type::INT8 => i.to_sql(ty, out),
        Type::BOOL => (i != 0).to_sql(ty, out),
        #[allow(clippy::cast_precision_loss)]
        Type::FLOAT8 => (i as f64).to_sql(ty, out),
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        Type::FLOAT4 => (i as f32).to_sql(ty, out),
        Type::NUMERIC => {
            numeric_to_sql(i, out);
            Ok(IsNull::No)
        }
        _ if matches!(ty.kind(), Kind::Simple) => {
            out.put_slice(i.to_string().as_bytes());
            Ok(IsNull::No)
        }
        _ => Err(format!("cannot bind an integer to {ty}").into()),
    }
}

/// An integer in PostgreSQL's binary numeric format (base-10000 digits).
fn numeric_to_sql(i: i64, out: &mut BytesMut) {
    let mut magnitude = i.unsigned_abs();
    let mut digits = Vec::new();
    while magnitude > 0 {
        #[allow(clippy::cast_possible_truncation)]
        digits.push((magnitude % 10_000) as i16);
        magnitude /= 10_000;
    }
    digits.reverse();
    let weight = i16::try_from(digits.len()).unwrap_or(1) - 1;
    // Trailing zero digits are implied by the weight.
    while digits.last() == Some(&0) {
        digits.pop();
    }
    out.put_u16(u16::try_from(digits.len()).unwrap_or(0));
    out.put_i16(weight.max(0));
    out.put_u16(if i < 0 { 0x4000 } else { 0 });
    out.put_u16(0);
    for d in digits {
        out.put_i16(d);
    }
}

/// One column read as a `Value`, by its PostgreSQL type.
struct Column(Value);

impl<'a> FromSql<'a> for Column {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let value = match *ty {
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::NUMERIC => numeric_from_sql(raw)?,
            Type::BYTEA => Value::Blob(raw.to_vec()),
            Type::TIMESTAMPTZ | Type::TIMESTAMP => {
                let micros = i64::from_be_bytes(raw.try_into()?);
                // PostgreSQL's 'infinity' and '-infinity' (another program can
                // write them in the bot's table): read as their text, which
                // paytrack then reports as not a time, instead of an overflow
                // (issue 25). A time chrono cannot hold is that too.
                match micros
                    .checked_add(PG_EPOCH_MICROS)
                    .and_then(DateTime::<Utc>::from_timestamp_micros)
                {
                    Some(at) => Value::Text(crate::domain::time::to_storage(at)),
                    None if micros == i64::MIN => Value::Text("-infinity".to_string()),
                    None if micros == i64::MAX => Value::Text("infinity".to_string()),
                    None => Value::Text("out of range".to_string()),
                }
            }
            Type::DATE => {
                let days = i32::from_be_bytes(raw.try_into()?);
                let date = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
                    .and_then(|d| d.checked_add_signed(chrono::Duration::days(days.into())))
                    .ok_or("date out of range")?;
                Value::Text(date.format("%Y-%m-%d").to_string())
            }
            Type::JSONB => {
                Value::Text(std::str::from_utf8(raw.get(1..).unwrap_or_default())?.to_string())
            }
            _ => Value::Text(std::str::from_utf8(raw)?.to_string()),
        };
        Ok(Column(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Column(Value::Null))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Simple | Kind::Domain(_))
    }
}

/// A numeric: an integer when it has no fraction and fits, else a real.
fn numeric_from_sql(raw: &[u8]) -> Result<Value, BoxError> {
    let word = |at: usize| -> Result<i16, BoxError> {
        Ok(i16::from_be_bytes(
            raw.get(at..at + 2).ok_or("short numeric")?.try_into()?,
        ))
    };
    let ndigits = usize::try_from(word(0)?)?;
    let weight = i32::from(word(2)?);
    #[allow(clippy::cast_sign_loss)]
    let sign = word(4)? as u16;
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let mut integer: Option<i64> = Some(0);
    let mut real = 0f64;
    for k in 0..ndigits {
        let digit = i64::from(word(8 + 2 * k)?);
        let power = weight - i32::try_from(k)?;
        real += digit as f64 * 10_000f64.powi(power);
        integer = if power >= 0 {
            integer.and_then(|acc| {
                10_000i64
                    .checked_pow(u32::try_from(power).ok()?)
                    .and_then(|p| digit.checked_mul(p))
                    .and_then(|v| acc.checked_add(v))
            })
        } else if digit == 0 {
            integer
        } else {
            None
        };
    }
    let negative = sign == 0x4000;
    Ok(match integer {
        // An integral value reads as an integer whatever its display scale.
        Some(i) => Value::Integer(if negative { -i } else { i }),
        _ => Value::Real(if negative { -real } else { real }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip_numeric(i: i64) -> Value {
        let mut buf = BytesMut::new();
        numeric_to_sql(i, &mut buf);
        numeric_from_sql(&buf).unwrap()
    }

    #[test]
    fn integers_survive_the_numeric_format() {
        for i in [
            0,
            1,
            -1,
            9_999,
            10_000,
            123_456_789,
            -100_000_000,
            i64::MAX,
            i64::MIN + 1,
        ] {
            assert_eq!(roundtrip_numeric(i), Value::Integer(i), "{i}");
        }
    }
}
