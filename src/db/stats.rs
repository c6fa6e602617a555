//! Per (course, stream, status) counts: read from the trigger-kept counters,
//! or recounted from the bookings (date filters, `stats verify`, `stats rebuild`).

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, WriteTx};
use crate::domain::time::to_storage;
use crate::domain::Status;

/// Counts for one (course, stream, status). `course_stream` is "" for bookings without a stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StatusCount {
    pub course_id: i64,
    pub course_stream: String,
    pub status_code: i64,
    pub bookings: i64,
    /// Sum of (100 - discount percent): revenue = price * pct_sum / 100.
    pub pct_sum: i64,
}

impl StatusCount {
    pub fn status(&self) -> Option<Status> {
        Status::from_code(self.status_code)
    }
}

/// Optional narrowing of the statistics.
#[derive(Debug, Clone, Default)]
pub struct StatsFilter {
    pub course: Option<i64>,
    pub stream: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

fn collect(
    stmt: &mut rusqlite::Statement,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<StatusCount>> {
    let rows = stmt
        .query_map(args, |r| {
            Ok(StatusCount {
                course_id: r.get(0)?,
                course_stream: r.get(1)?,
                status_code: r.get(2)?,
                bookings: r.get(3)?,
                pct_sum: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

const RECOUNT: &str = "SELECT course_id, COALESCE(course_stream, ''), confirmed, COUNT(*),
        SUM(100 - COALESCE(discount_percent, 0))
   FROM bookings
  WHERE (?1 IS NULL OR course_id = ?1) AND (?2 IS NULL OR COALESCE(course_stream, '') = ?2)
    AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at < ?4)
  GROUP BY course_id, COALESCE(course_stream, ''), confirmed
  ORDER BY 1, 2, 3";

impl Db {
    /// Counts per (course, stream, status). Without a date filter they come
    /// from the counters table (cost grows with streams, not bookings); with
    /// one, from the bookings through the covering `bookings_by_created` index.
    pub fn status_counts(&self, filter: &StatsFilter) -> Result<Vec<StatusCount>> {
        let since = filter.since.map(to_storage);
        let until = filter.until.map(to_storage);
        if since.is_none() && until.is_none() {
            let mut stmt = self.conn().prepare_cached(
                "SELECT course_id, course_stream, confirmed, bookings, pct_sum FROM stream_counters
                  WHERE bookings <> 0 AND (?1 IS NULL OR course_id = ?1) AND (?2 IS NULL OR course_stream = ?2)
                  ORDER BY 1, 2, 3",
            )?;
            return collect(&mut stmt, &[&filter.course, &filter.stream]);
        }
        let mut stmt = self.conn().prepare_cached(RECOUNT)?;
        collect(&mut stmt, &[&filter.course, &filter.stream, &since, &until])
    }

    /// The counters as stored, including zero rows (for `stats verify`).
    pub fn stored_counters(&self) -> Result<Vec<StatusCount>> {
        let mut stmt = self.conn().prepare(
            "SELECT course_id, course_stream, confirmed, bookings, pct_sum FROM stream_counters
              WHERE bookings <> 0 OR pct_sum <> 0 ORDER BY 1, 2, 3",
        )?;
        collect(&mut stmt, &[])
    }

    /// The counters recomputed from the bookings.
    pub fn recount(&self) -> Result<Vec<StatusCount>> {
        let mut stmt = self.conn().prepare_cached(RECOUNT)?;
        let none: Option<i64> = None;
        let none_text: Option<String> = None;
        collect(&mut stmt, &[&none, &none_text, &none_text, &none_text])
    }

    /// New bookings, confirmations and cancellations per UTC day since `since`.
    pub fn daily_activity(&self, since: DateTime<Utc>) -> Result<Vec<DailyActivity>> {
        let since = to_storage(since);
        let mut stmt = self.conn().prepare(
            "SELECT day, SUM(created), SUM(confirmed), SUM(cancelled) FROM (
                 SELECT substr(created_at, 1, 10) AS day, 1 AS created, 0 AS confirmed, 0 AS cancelled
                   FROM bookings WHERE created_at >= ?1
                 UNION ALL
                 SELECT substr(at, 1, 10), 0,
                        CASE WHEN new_value = 'confirmed' THEN 1 ELSE 0 END,
                        CASE WHEN new_value = 'cancelled' THEN 1 ELSE 0 END
                   FROM audit_log WHERE action = 'booking.status_changed' AND at >= ?1
             ) GROUP BY day ORDER BY day",
        )?;
        let rows = stmt
            .query_map([since], |r| {
                Ok(DailyActivity {
                    day: r.get(0)?,
                    created: r.get(1)?,
                    confirmed: r.get(2)?,
                    cancelled: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// One day of `stats daily`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyActivity {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub created: i64,
    pub confirmed: i64,
    pub cancelled: i64,
}

impl WriteTx<'_> {
    /// Replaces the counters with a recount from the bookings.
    pub fn rebuild_counters(&self) -> Result<()> {
        self.conn().execute_batch(
            "DELETE FROM stream_counters;
             INSERT INTO stream_counters (course_id, course_stream, confirmed, bookings, pct_sum)
             SELECT course_id, COALESCE(course_stream, ''), confirmed, COUNT(*),
                    SUM(100 - COALESCE(discount_percent, 0))
               FROM bookings GROUP BY 1, 2, 3;",
        )?;
        Ok(())
    }
}
