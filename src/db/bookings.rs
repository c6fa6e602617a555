//! The bookings table: filtered listing with keyset pagination, streaming
//! export, inserts and status updates.

mod query;
mod search;

pub use query::list_query;
use query::{build_list, filter_conditions};
pub(crate) use search::pg_names_fold;
use search::{like_pattern, uses_search_index};

use super::value::{params, ToValue};
use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::conditions::Conditions;
use super::sql::Row;

use super::{Db, WriteTx};
use crate::domain::booking::{fold, search_text, Booking, BookingFilter, Cursor, Sort};
use crate::domain::Status;

pub(super) const COLUMNS: &str =
    "b.id, b.user_id, b.username, b.first_name, b.course_id, b.course_stream, \
     b.confirmed, b.created_at, b.referral_code, b.discount_percent, b.updated_at, b.confirmed_at";

fn booking_from_row(row: &Row) -> super::error::Result<Booking> {
    let code: i64 = row.get(6)?;
    Ok(Booking {
        id: row.get(0)?,
        user_id: row.get(1)?,
        username: row.get(2)?,
        first_name: row.get(3)?,
        course_id: row.get(4)?,
        course_stream: row.get(5)?,
        // The CHECK constraint keeps other values out; a hand-edited file gets a clear error.
        status: Status::from_code(code).ok_or_else(|| {
            super::error::Error::invalid_column(6, format!("invalid status code {code}"))
        })?,
        created_at: row.get(7)?,
        referral_code: row.get(8)?,
        discount_percent: row.get(9)?,
        updated_at: row.get(10)?,
        confirmed_at: row.get(11)?,
    })
}

/// The columns of `COLUMNS`, by index, for messages.
const COLUMN_NAMES: [&str; 12] = [
    "id",
    "user_id",
    "username",
    "first_name",
    "course_id",
    "course_stream",
    "confirmed",
    "created_at",
    "referral_code",
    "discount_percent",
    "updated_at",
    "confirmed_at",
];

/// Why a bookings row (read with `COLUMNS`) cannot be read as a booking,
/// when the reason is its data (a value of the wrong type or out of range,
/// as another program can write); None for any other error.
fn unreadable_booking(row: &Row, err: &super::error::Error) -> Option<String> {
    use super::value::ValueRef;
    let super::error::Error::Column { index: column, .. } = *err else {
        return None;
    };
    let shown = |i: usize| match row.get_ref(i) {
        Ok(ValueRef::Null) => "NULL".to_string(),
        Ok(ValueRef::Integer(v)) => v.to_string(),
        Ok(ValueRef::Real(v)) => v.to_string(),
        Ok(ValueRef::Text(t) | ValueRef::Blob(t)) => {
            crate::text::shown(&String::from_utf8_lossy(t))
        }
        Err(_) => "?".to_string(),
    };
    let name = COLUMN_NAMES.get(column).copied().unwrap_or("a column");
    Some(format!(
        "booking {}: {name} is {}, which paytrack cannot read (written by another program?)",
        shown(0),
        shown(column)
    ))
}

/// One row of a listing to `visit`. A row another program wrote that
/// paytrack cannot read (a text user_id, status 0) is skipped and reported,
/// not the end of the listing (issue 25: one such row made `bookings list`,
/// `export` and `users show` fail). Ctrl-C is looked at every 4,096 rows.
fn visit_booking(
    row: &Row,
    seen: &mut u32,
    visit: &mut impl FnMut(Booking) -> Result<()>,
) -> Result<()> {
    match booking_from_row(row) {
        Ok(booking) => visit(booking)?,
        Err(err) => match unreadable_booking(row, &err) {
            Some(problem) => super::note_skipped_row(problem),
            None => return Err(err.into()),
        },
    }
    *seen = seen.wrapping_add(1);
    if *seen % 4096 == 0 {
        crate::interrupt::check()?;
    }
    Ok(())
}

/// Every bookings row paytrack cannot read, with why (`paytrack check`).
pub(super) fn unreadable_bookings(conn: super::sql::Conn<'_>) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM bookings b ORDER BY b.id"))?;
    let mut rows = stmt.query_stream(super::sql::params_from_iter(std::iter::empty::<i64>()))?;
    let mut problems = Vec::new();
    while let Some(row) = rows.next()? {
        let problem = match booking_from_row(&row) {
            Ok(b) if crate::domain::time::from_storage(&b.created_at).is_none() => Some(format!(
                "booking {}: created_at is {}, not a time (written by another program?)",
                b.id,
                crate::text::shown(&b.created_at)
            )),
            Ok(_) => None,
            Err(err) => Some(unreadable_booking(&row, &err).ok_or(err)?),
        };
        problems.extend(problem);
    }
    Ok(problems)
}

/// What a booking received: the sum of its payments that count as received
/// money (see `payments::RECEIVED_OUTCOMES`); 0 when none.
///
impl Db {
    pub fn booking(&self, id: i64) -> Result<Option<Booking>> {
        booking_by_id(self.conn(), id)
    }

    /// One page of bookings: those matching `filter`, in `sort` order, after `after`.
    pub fn list_bookings(
        &self,
        filter: &BookingFilter,
        sort: Sort,
        after: Option<&Cursor>,
        limit: Option<u64>,
    ) -> Result<Vec<Booking>> {
        let mut rows = Vec::new();
        self.for_each_booking(filter, sort, after, limit, |b| {
            rows.push(b);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Streams matching bookings to `visit`, one at a time, in constant
    /// memory. `visit` must not use the database (on PostgreSQL the
    /// connection is busy streaming the rows: `Session::for_each_row`).
    pub fn for_each_booking(
        &self,
        filter: &BookingFilter,
        sort: Sort,
        after: Option<&Cursor>,
        limit: Option<u64>,
        mut visit: impl FnMut(Booking) -> Result<()>,
    ) -> Result<()> {
        let rare = self.search_is_rare(filter)?;
        let (sql, args) = build_list(filter, sort, after, limit, self.conn().dialect(), rare);
        let mut seen = 0u32;
        #[cfg(feature = "postgres")]
        if let super::sql::Conn::Pg(session) = self.conn() {
            let params: Vec<&dyn ToValue> = args.iter().map(AsRef::as_ref).collect();
            return session.for_each_row(&sql, &params, |values| {
                visit_booking(&Row::Values(values), &mut seen, &mut visit)
            });
        }
        let mut stmt = self
            .conn()
            .prepare_cached(&sql)
            .context("preparing the bookings query")?;
        let mut rows = stmt.query_stream(super::sql::params_from_iter(args.iter()))?;
        while let Some(row) = rows.next()? {
            visit_booking(&row, &mut seen, &mut visit)?;
        }
        Ok(())
    }

    /// Whether `--search` text matches fewer bookings than a probe of
    /// `RARE_SEARCH_PROBE` finds through the trigram index (PostgreSQL, text
    /// of three characters or more). The planner costs the fold in the
    /// index's recheck as one cheap call: it took a name on 10% of 1M rows
    /// through the index too, and rechecked 100k rows (3.6 s) for a page
    /// that reading in id order fills from a few hundred.
    fn search_is_rare(&self, filter: &BookingFilter) -> Result<bool> {
        let Some(folded) = filter.search.as_deref().map(fold) else {
            return Ok(false);
        };
        if !self.conn().is_postgres() || !uses_search_index(&folded) {
            return Ok(false);
        }
        let pattern = like_pattern(&folded);
        let found: i64 = self.conn().query_row(
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM public.bookings b WHERE {} LIKE ?1 LIMIT ?2) AS m",
                pg_names_fold("b.")
            ),
            params![pattern, RARE_SEARCH_PROBE],
            |r| r.get(0),
        )?;
        Ok(found < RARE_SEARCH_PROBE)
    }

    /// How many bookings match. Filters that the stream counters can answer
    /// (status, course, stream) are counted from them, without a scan.
    pub fn count_bookings(&self, filter: &BookingFilter) -> Result<u64> {
        if let Some(n) = self.count_bookings_from_counters(filter)? {
            return Ok(n);
        }
        let c = filter_conditions(filter, self.conn().dialect());
        let sql = format!("SELECT COUNT(*) FROM bookings b{}", c.where_clause());
        let n: i64 =
            self.conn()
                .query_row(&sql, super::sql::params_from_iter(c.args.iter()), |r| {
                    r.get(0)
                })?;
        Ok(n as u64)
    }

    /// How many bookings match, when the stream counters can tell without a
    /// scan (filters on status, course and stream only); None otherwise.
    pub fn count_bookings_from_counters(&self, filter: &BookingFilter) -> Result<Option<u64>> {
        let counters_suffice = filter.user.is_none()
            && filter.referral.is_none()
            && filter.since.is_none()
            && filter.until.is_none()
            && filter.known_before.is_none()
            && filter.search.is_none()
            && filter.payment.is_none();
        if !counters_suffice {
            return Ok(None);
        }
        let mut c = Conditions::default();
        if let Some(status) = filter.status {
            c.push("confirmed = ?", vec![Box::new(status.code())]);
        }
        if let Some(course) = filter.course {
            c.push("course_id = ?", vec![Box::new(course)]);
        }
        if let Some(stream) = &filter.stream {
            c.push("course_stream = ?", vec![Box::new(stream.clone())]);
        }
        let sql = format!(
            "SELECT COALESCE(SUM(bookings), 0) FROM stream_counters{}",
            c.where_clause()
        );
        let n: i64 =
            self.conn()
                .query_row(&sql, super::sql::params_from_iter(c.args.iter()), |r| {
                    r.get(0)
                })?;
        Ok(Some(n as u64))
    }

    /// The query plan SQLite chooses for a listing (tests assert indexes are used).
    pub fn explain_list(
        &self,
        filter: &BookingFilter,
        sort: Sort,
        after: Option<&Cursor>,
    ) -> Result<Vec<String>> {
        let (sql, args) = build_list(filter, sort, after, Some(50), self.conn().dialect(), false);
        let mut stmt = self.conn().prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let rows = stmt
            .query_map(super::sql::params_from_iter(args.iter()), |r| {
                r.get::<_, String>(3)
            })?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }
}

/// The migration that brought the search index and the accent-folding
/// `fold`; databases older than it get their search text recomputed.
pub(super) const SEARCH_FOLD_MIGRATION: u32 = 3;

/// The migration after which `bookings.created_at` and `updated_at` have a
/// default (`default_stamps`).
pub(super) const STAMP_DEFAULTS_MIGRATION: u32 = 8;

/// The default of `created_at` and `updated_at`: the time of the INSERT as
/// storage text (six fractional digits, so it sorts with paytrack's own).
const STAMP_DEFAULT: &str = "DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))";

/// Gives `created_at` and `updated_at` a default, so that another program's
/// plain INSERT without them works (issue 25: the README's own INSERT failed
/// on NOT NULL). SQLite cannot alter a column's default, and rebuilding
/// `bookings` (which every other table refers to) is out of the question;
/// changing a default is one of the edits SQLite documents as safe to make
/// in `sqlite_schema` directly ("ALTER TABLE", section 7: the stored rows do
/// not change), with the schema cookie bumped so every connection reloads
/// it. Run inside the migration's transaction. A table whose text is not
/// paytrack's is left as it is.
pub(super) fn default_stamps(conn: &rusqlite::Connection) -> Result<()> {
    let sql: String = conn.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'bookings'",
        [],
        |r| r.get(0),
    )?;
    let mut edited = sql.clone();
    for column in ["created_at", "updated_at"] {
        let declared = format!("{column:<17}TEXT NOT NULL,");
        edited = edited.replacen(
            &declared,
            &format!("{column:<17}TEXT NOT NULL {STAMP_DEFAULT},"),
            1,
        );
    }
    if edited == sql {
        return Ok(());
    }
    let cookie: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA writable_schema = ON")?;
    let updated = conn.execute(
        "UPDATE sqlite_master SET sql = ?1 WHERE type = 'table' AND name = 'bookings'",
        [&edited],
    );
    // The cookie is ours to bump (read just above, in this transaction).
    let bumped = conn.execute_batch(&format!("PRAGMA schema_version = {}", cookie + 1));
    conn.execute_batch("PRAGMA writable_schema = OFF")?;
    updated?;
    bumped?;
    Ok(())
}

/// Recomputes `search_text` with today's `fold` where it differs (the update
/// trigger keeps the search index in step).
pub(super) fn refold_search_text(conn: super::sql::Conn<'_>) -> Result<()> {
    let mut read = conn.prepare("SELECT id, username, first_name, search_text FROM bookings")?;
    let mut write = conn.prepare("UPDATE bookings SET search_text = ?2 WHERE id = ?1")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let (username, first_name): (Option<String>, Option<String>) = (row.get(1)?, row.get(2)?);
        let folded = search_text(username.as_deref(), first_name.as_deref());
        if row.get_ref(3)?.as_str().ok() != Some(folded.as_str()) {
            write.execute(params![row.get::<_, i64>(0)?, folded])?;
        }
    }
    Ok(())
}

/// The bookings of `ids` (`list`: their placeholders) with their erasure marks.
pub(super) fn bookings_by_ids(
    conn: super::sql::Conn<'_>,
    ids: &[i64],
    list: &str,
) -> Result<Vec<(Booking, bool)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS}, b.erased_at IS NOT NULL FROM bookings b WHERE b.id IN ({list})"
    ))?;
    let rows = stmt.query_map(super::sql::params_from_iter(ids.iter()), |r| {
        Ok((booking_from_row(r)?, r.get(12)?))
    })?;
    Ok(rows.collect::<super::error::Result<_>>()?)
}

pub(super) fn booking_by_id(conn: super::sql::Conn<'_>, id: i64) -> Result<Option<Booking>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM bookings b WHERE b.id = ?1"))?;
    let mut rows = stmt.query_stream(super::sql::params_from_iter([id].iter()))?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    // One booking asked for by id that paytrack cannot read: said plainly
    // (exit 8), not as the driver's type error (issue 25).
    match booking_from_row(&row) {
        Ok(booking) => Ok(Some(booking)),
        Err(err) => match unreadable_booking(&row, &err) {
            Some(problem) => Err(crate::error::PaytrackError::Database(format!(
                "{problem}; fix the row, or ask whoever wrote it (see `paytrack check`)"
            ))
            .into()),
            None => Err(err.into()),
        },
    }
}

/// Rows per multi-row INSERT (13 parameters each; SQLite allows 32,766).
const INSERT_BATCH_ROWS: usize = 64;

/// Matches of the bot's names a search looks for before it decides to walk
/// the listing's order instead of the trigram index (`search_is_rare`).
const RARE_SEARCH_PROBE: i64 = 500;

/// Bookings per status UPDATE (`update_statuses`).
const STATUS_UPDATES_PER_STATEMENT: usize = 250;

/// Bookings per read-ahead query (`bookings_ahead`).
pub const BOOKINGS_AHEAD: usize = 256;

/// `INSERT INTO bookings ... VALUES (...), (...)` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    format!(
        "INSERT INTO bookings (id, user_id, username, first_name, course_id, course_stream,
             confirmed, created_at, referral_code, discount_percent, updated_at, confirmed_at, search_text)
         VALUES {}",
        super::sql::values_rows(13, rows)
    )
}

impl WriteTx<'_> {
    pub fn booking(&self, id: i64) -> Result<Option<Booking>> {
        let found = match self.take_prefetched_booking(id) {
            Some(entry) => entry.map(|(booking, _)| booking),
            None => booking_by_id(self.conn(), id)?,
        };
        Ok(found.map(|b| self.with_deferred_status(b)))
    }

    /// `booking` with the status this transaction gave it and has not yet
    /// written to the bot's row (PostgreSQL: `DeferredStatuses`).
    fn with_deferred_status(&self, mut booking: Booking) -> Booking {
        let cache = self.cache.borrow();
        if let Some(&i) = cache.deferred.index.get(&booking.id) {
            booking.status = cache.deferred.rows[i].2;
        }
        booking
    }

    /// The bookings among `ids` (at most `BOOKINGS_AHEAD`) that exist, in
    /// one query: an import reads its next rows' bookings ahead instead of
    /// one statement each (on PostgreSQL, one round trip each).
    pub fn bookings_ahead(&self, ids: &[i64]) -> Result<Vec<Booking>> {
        let Some(&last) = ids.last() else {
            return Ok(Vec::new());
        };
        anyhow::ensure!(
            ids.len() <= BOOKINGS_AHEAD,
            "internal: too many bookings ahead"
        );
        // Always BOOKINGS_AHEAD parameters (the last id repeated), so the
        // statement is prepared once.
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {COLUMNS} FROM bookings b WHERE b.id IN ({})",
            super::sql::placeholders(BOOKINGS_AHEAD)
        ))?;
        let padded = ids
            .iter()
            .chain(std::iter::repeat(&last))
            .take(BOOKINGS_AHEAD);
        let rows: Vec<Booking> = stmt
            .query_map(super::sql::params_from_iter(padded), booking_from_row)?
            .collect::<super::error::Result<_>>()?;
        Ok(rows
            .into_iter()
            .map(|b| self.with_deferred_status(b))
            .collect())
    }

    /// Sets bookings' status, each as a compare-and-set on the status read
    /// before, many per statement; returns the ids that still had `from`
    /// and were changed, in the order given (the caller refuses the rest). A
    /// statement that fires the counter triggers journals every page it
    /// touches first, so one per booking paid that for the same hot pages
    /// again and again (issue 19).
    pub fn update_statuses(
        &self,
        ids: &[i64],
        from: Status,
        to: Status,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        let now = self.stamp(now);
        let now: &str = &now;
        #[cfg(feature = "postgres")]
        if let super::sql::Conn::Pg(session) = self.conn() {
            self.defer_statuses(session, ids, from, to, now)?;
            return Ok(ids.to_vec());
        }
        let (from, to) = (from.code(), to.code());
        let mut changed = rustc_hash::FxHashSet::default();
        for chunk in ids.chunks(STATUS_UPDATES_PER_STATEMENT) {
            let mut stmt = self.conn().prepare_cached(&format!(
                "UPDATE bookings SET confirmed = ?, updated_at = ?,
                        confirmed_at = CASE WHEN ? = 2 THEN ? ELSE confirmed_at END
                  WHERE confirmed = ? AND id IN ({})
              RETURNING id",
                super::sql::placeholders(chunk.len())
            ))?;
            let mut params: Vec<&dyn ToValue> = vec![&to, &now, &to, &now, &from];
            params.extend(chunk.iter().map(|id| id as &dyn ToValue));
            let mut rows = stmt.query(params.as_slice())?;
            while let Some(row) = rows.next()? {
                changed.insert(row.get::<_, i64>(0)?);
            }
        }
        Ok(ids
            .iter()
            .copied()
            .filter(|id| changed.contains(id))
            .collect())
    }

    /// PostgreSQL's `update_statuses`: paytrack's `booking_state` now, the
    /// bot's rows at the end of the transaction (`write_deferred_statuses`),
    /// so its row locks are held only from there to COMMIT (issue 26).
    #[cfg(feature = "postgres")]
    fn defer_statuses(
        &self,
        session: &super::pg::session::Session,
        ids: &[i64],
        from: Status,
        to: Status,
        now: &str,
    ) -> Result<()> {
        use super::pg::bot_rows;
        let gained = bot_rows::write_state(session, ids, to, now)?;
        let (gained, told) = {
            let mut cache = self.cache.borrow_mut();
            let deferred = &mut cache.deferred;
            for &id in ids {
                // A booking changed twice keeps the status first read:
                // that is what the bot's row must still hold.
                if let Some(&i) = deferred.index.get(&id) {
                    deferred.rows[i].2 = to;
                } else {
                    deferred.index.insert(id, deferred.rows.len());
                    deferred.rows.push((id, from, to));
                }
            }
            deferred.state_gained += gained;
            (deferred.state_gained, deferred.state_told)
        };
        let told = bot_rows::analyze_state_if_grown(session, gained, told)?;
        self.cache.borrow_mut().deferred.state_told = told;
        Ok(())
    }

    /// Writes the bot's row of every status change this transaction
    /// deferred, in one statement, each as a compare-and-set on the status
    /// paytrack read; returns the first booking another program changed
    /// since (then nothing of the transaction may be committed). Called last,
    /// just before COMMIT; nothing is deferred on SQLite.
    pub fn write_deferred_statuses(&self) -> Result<Option<i64>> {
        let rows = {
            let mut cache = self.cache.borrow_mut();
            cache.deferred.index.clear();
            std::mem::take(&mut cache.deferred.rows)
        };
        if rows.is_empty() {
            return Ok(None);
        }
        #[cfg(feature = "postgres")]
        if let super::sql::Conn::Pg(session) = self.conn() {
            let changed: rustc_hash::FxHashSet<i64> =
                super::pg::bot_rows::update_statuses(session, &rows)?
                    .into_iter()
                    .collect();
            return Ok(rows.iter().map(|r| r.0).find(|id| !changed.contains(id)));
        }
        anyhow::bail!("internal: a status change was deferred on SQLite")
    }

    /// `write_deferred_statuses`, with a lost race as its error: before a
    /// read that counts statuses in SQL (seats taken, open payments), and
    /// at commit for the writes no caller finished.
    pub(crate) fn settle_deferred_statuses(&self) -> Result<()> {
        match self.write_deferred_statuses()? {
            Some(lost) => Err(status_race_lost(lost).into()),
            None => Ok(()),
        }
    }

    /// Inserts a new booking (the id must be free). `confirmed_at` defaults to
    /// `created_at` for a booking that arrives confirmed.
    pub fn insert_booking(&self, b: &Booking, now: &str) -> Result<()> {
        self.insert_bookings(std::slice::from_ref(b), now)
    }

    /// Inserts new bookings (the ids must be free), as `insert_booking` does,
    /// several rows per INSERT statement. Each statement that fires the
    /// counter triggers copies every page it touches into a statement journal
    /// first; one statement per row did that for the same hot pages (table
    /// tail, counters, index tails) on every row, most of a bulk load's time.
    pub fn insert_bookings(&self, batch: &[Booking], now: &str) -> Result<()> {
        #[cfg(feature = "postgres")]
        if let super::sql::Conn::Pg(session) = self.conn() {
            // The bot inserts into its own table at any moment: an id that
            // was free when paytrack looked can be taken by the time its
            // insert lands. That is a lost race, not bad data (issue 26).
            return super::pg::bulk::insert_bookings(session, batch, now).map_err(|err| {
                match super::pg::taken_booking_id(&err) {
                    Some(id) => crate::error::PaytrackError::ExpectationFailed(format!(
                        "booking {id} was added by another program at the same moment; \
                         nothing was changed: run the command again"
                    ))
                    .into(),
                    None => err,
                }
            });
        }
        for chunk in batch.chunks(INSERT_BATCH_ROWS) {
            let mut stmt = self.conn().prepare_cached(&insert_sql(chunk.len()))?;
            let mut index = 0;
            let mut bind = |value: &dyn ToValue| -> super::error::Result<()> {
                index += 1;
                stmt.raw_bind_parameter(index, value)
            };
            for b in chunk {
                let confirmed_at = (b.status == Status::Confirmed)
                    .then(|| b.confirmed_at.as_deref().unwrap_or(&b.created_at));
                bind(&b.id)?;
                bind(&b.user_id)?;
                bind(&b.username)?;
                bind(&b.first_name)?;
                bind(&b.course_id)?;
                bind(&b.course_stream)?;
                bind(&b.status.code())?;
                bind(&b.created_at)?;
                bind(&b.referral_code)?;
                bind(&b.discount_percent)?;
                bind(&now)?;
                bind(&confirmed_at)?;
                bind(&search_text(b.username.as_deref(), b.first_name.as_deref()))?;
            }
            stmt.raw_execute()?;
        }
        Ok(())
    }

    /// Runs `load` (which fills an empty bookings table) with the table's
    /// secondary indexes dropped, then recreates them from their own stored
    /// definitions, so they are exactly the schema's. Building an index by
    /// sorting finished rows is several times cheaper than a million random
    /// inserts into it. It all happens inside this transaction: a failure
    /// rolls the indexes back with the rows. With bookings already present
    /// `load` runs with the indexes in place.
    pub fn load_bookings_with_deferred_indexes<T>(
        &self,
        load: impl FnOnce(&Self) -> Result<T>,
    ) -> Result<T> {
        let empty: bool =
            self.conn()
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM bookings)", [], |r| {
                    r.get(0)
                })?;
        // On PostgreSQL the table is the bot's: its indexes are never dropped.
        if !empty || self.conn().is_postgres() {
            return load(self);
        }
        // The search index is rebuilt in one pass too: its per-row trigger goes
        // with the indexes and comes back with them.
        let indexes: Vec<(String, String)> = self
            .conn()
            .prepare(
                "SELECT name, sql FROM sqlite_schema
                  WHERE (type = 'index' AND tbl_name = 'bookings' AND sql IS NOT NULL)
                     OR (type = 'trigger' AND name = 'bookings_search_insert')",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<super::error::Result<_>>()?;
        for (name, sql) in &indexes {
            let kind = if sql.starts_with("CREATE TRIGGER") {
                "TRIGGER"
            } else {
                "INDEX"
            };
            // Names come from sqlite_schema, not from input; quoted all the same.
            self.conn()
                .execute_batch(&format!("DROP {kind} \"{}\"", name.replace('"', "\"\"")))?;
        }
        let value = load(self)?;
        for (_, sql) in &indexes {
            self.conn().execute_batch(sql)?;
        }
        self.conn()
            .execute_batch("INSERT INTO bookings_search (bookings_search) VALUES ('rebuild')")?;
        Ok(value)
    }

    /// The id for a booking paytrack adds: past the highest there is and,
    /// on PostgreSQL, the next value of the bot's own id sequence, so that a
    /// booking the bot is inserting right now (not yet visible) keeps its id
    /// and ours never collides with it (issue 26). Without a sequence, or
    /// without the right to use it, the highest id + 1.
    pub fn next_booking_id(&self) -> Result<Option<i64>> {
        let last = self.max_booking_id()?;
        let from_sequence: Option<i64> = if self.conn().is_postgres() {
            self.conn().query_row(
                "SELECT CASE WHEN q.seq IS NOT NULL
                              AND pg_catalog.has_sequence_privilege(q.seq, 'USAGE')
                             THEN pg_catalog.nextval(CAST(q.seq AS pg_catalog.regclass)) END
                   FROM (SELECT pg_catalog.pg_get_serial_sequence('public.bookings', 'id') AS seq) AS q",
                [],
                |r| r.get(0),
            )?
        } else {
            None
        };
        Ok(last
            .checked_add(1)
            .map(|next| next.max(from_sequence.unwrap_or(next))))
    }

    /// The highest booking id, 0 when there are none.
    pub fn max_booking_id(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM bookings", [], |r| {
                r.get(0)
            })?)
    }
}

/// Status changes written to paytrack's `booking_state` whose bot row is
/// written at the end of the transaction (PostgreSQL, `pg::bot_rows`).
#[derive(Default)]
pub(super) struct DeferredStatuses {
    /// (booking, status read, new status), in the order changed.
    rows: Vec<(i64, Status, Status)>,
    /// Where each booking is in `rows`.
    index: rustc_hash::FxHashMap<i64, usize>,
    /// Rows this transaction added to `booking_state`, and how many of them
    /// the planner was last told of (`bot_rows::analyze_state_if_grown`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    state_gained: u64,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    state_told: u64,
}

/// A status compare-and-set that found the row changed since it was read:
/// another program (on PostgreSQL, the bot) wrote it.
pub fn status_race_lost(booking_id: i64) -> crate::error::PaytrackError {
    crate::error::PaytrackError::ExpectationFailed(format!(
        "booking {booking_id} changed under us (another program wrote it); nothing written, run the command again"
    ))
}

/// Whether `users erase` or `retention apply` pseudonymised the booking.
pub(super) fn booking_is_erased(conn: super::sql::Conn<'_>, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT erased_at IS NOT NULL FROM bookings WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}
