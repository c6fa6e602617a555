//! The storage half of `paytrack check`: SQLite's own integrity checks,
//! foreign keys, and the outbox rows no paytrack write can produce.

use anyhow::Result;

use super::Db;

/// At most this many problems are listed per check (SQLite's own limit is 100).
pub const MAX_FINDINGS: usize = 50;

impl Db {
    /// `PRAGMA integrity_check` (or `quick_check`): the problems found, none when "ok".
    pub fn integrity_problems(&self, quick: bool) -> Result<Vec<String>> {
        // PRAGMA takes no parameters; the pragma name and limit are our own constants.
        let pragma = if quick {
            "quick_check"
        } else {
            "integrity_check"
        };
        let mut stmt = self
            .conn()
            .prepare(&format!("PRAGMA {pragma}({MAX_FINDINGS})"))?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<super::error::Result<_>>()?;
        // One row can hold several problems, one per line.
        Ok(lines
            .iter()
            .flat_map(|row| row.lines())
            .filter(|l| *l != "ok" && !l.starts_with("*** in database"))
            .map(str::to_string)
            .collect())
    }

    /// `PRAGMA foreign_key_check`: rows whose parent row is missing.
    pub fn foreign_key_problems(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare("PRAGMA foreign_key_check")?;
        let rows = stmt.query_map([], |r| {
            Ok(format!(
                "{} row {} refers to a missing {} row",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?
                    .map_or_else(|| "?".to_string(), |id| id.to_string()),
                r.get::<_, String>(2)?
            ))
        })?;
        let mut problems = Vec::new();
        for row in rows.take(MAX_FINDINGS) {
            problems.push(row?);
        }
        Ok(problems)
    }

    /// The full-text search index against the bookings it indexes (FTS5's
    /// `integrity-check` with rank 1 also compares it with the content
    /// table). `None` when it cannot be asked: no index, or a read-only file
    /// (the check is phrased as an INSERT, which SQLite refuses there).
    /// `PRAGMA integrity_check` does not look inside FTS5 indexes.
    pub fn search_index_problems(&self) -> Result<Option<Vec<String>>> {
        let exists: bool = self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'bookings_search')",
            [],
            |r| r.get(0),
        )?;
        if !exists || self.is_read_only() {
            return Ok(None);
        }
        // It writes nothing, but runs inside a savepoint that is rolled back,
        // so that `check` cannot change the file whatever SQLite does.
        self.conn().execute_batch("SAVEPOINT search_check")?;
        let outcome = self.conn().execute_batch(
            "INSERT INTO bookings_search (bookings_search, rank) VALUES ('integrity-check', 1)",
        );
        self.conn()
            .execute_batch("ROLLBACK TO search_check; RELEASE search_check")?;
        match outcome {
            Ok(()) => Ok(Some(Vec::new())),
            Err(e)
                if e.as_sqlite().and_then(rusqlite::Error::sqlite_error_code)
                    == Some(rusqlite::ErrorCode::DatabaseCorrupt) =>
            {
                Ok(Some(vec![
                    "the search index (bookings_search) does not match the bookings; \
                 `paytrack check` cannot repair it: rebuild it with \
                 `INSERT INTO bookings_search (bookings_search) VALUES ('rebuild')`"
                        .to_string(),
                ]))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Bookings rows paytrack cannot read (another program's data: a text
    /// `user_id`, a status outside 2, 1, -1, a `created_at` that is no
    /// time), one line each naming the row (issue 25).
    pub fn unreadable_booking_problems(&self) -> Result<Vec<String>> {
        super::bookings::unreadable_bookings(self.conn())
    }

    /// Outbox rows in states no paytrack write leaves them in. (A sent or
    /// failed message keeps the name of the drain that claimed it.)
    pub fn outbox_problems(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT id, problem FROM (SELECT id, CASE
                 WHEN status = 'sent' AND sent_at IS NULL THEN 'is sent but has no sent time'
                 WHEN status <> 'sent' AND sent_at IS NOT NULL THEN 'has a sent time but is ' || status
                 WHEN status = 'sending' AND (claimed_by IS NULL OR claimed_at IS NULL) THEN 'is sending but nobody claimed it'
                 WHEN status = 'pending' AND claimed_by IS NOT NULL THEN 'is claimed but pending'
                 WHEN attempts < 0 THEN 'has a negative attempt count'
                 WHEN NOT EXISTS (SELECT 1 FROM bookings b WHERE b.id = outbox.booking_id) THEN 'belongs to a missing booking'
               END AS problem
               FROM outbox) AS checked WHERE problem IS NOT NULL ORDER BY id LIMIT {MAX_FINDINGS}"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(format!(
                "message {} {}",
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?
            ))
        })?;
        Ok(rows.collect::<super::error::Result<_>>()?)
    }
}

/// True when an error says the database file itself is damaged.
pub fn is_corruption(err: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    err.chain().any(|c| {
        super::error::sqlite_error(c)
            .and_then(rusqlite::Error::sqlite_error_code)
            .is_some_and(|code| matches!(code, DatabaseCorrupt | NotADatabase))
    }) || err.chain().any(|c| c.to_string().contains("is corrupt"))
}
