//! Status changes on PostgreSQL, written set-based and with the bot's row
//! locks taken last (issue 26, item 6).
//!
//! Through the view `paytrack.bookings` every changed row ran the INSTEAD OF
//! trigger (five statements a row), and the first batch's row locks were
//! held while the rest of the command ran: a bulk cancel of ~4,000 rows held
//! them 11.1 s and a bot rename waited 9.07 s. Now a change writes
//! paytrack's own `booking_state` at once (the bot never touches it), and
//! the bot's rows are changed by one UPDATE over every change of the
//! transaction, just before COMMIT (`WriteTx::write_deferred_statuses`), as
//! a compare-and-set on the status paytrack read: a row the bot changed
//! meanwhile is left alone and named by the caller.

use anyhow::Result;

use super::session::{wrap, Session};
use crate::domain::Status;

/// Rows `booking_state` may gain in one transaction before the planner is
/// told (`analyze_state_if_grown`): under this, a wrong guess costs little.
const ANALYZE_FROM_ROWS: u64 = 1_000;

/// paytrack's half of a status change: `updated_at`, and `confirmed_at` for
/// a confirmation, in one statement for `ids`. Returns how many rows were
/// new to `booking_state` (a booking the bot made and paytrack never wrote).
pub fn write_state(session: &Session, ids: &[i64], to: Status, now: &str) -> Result<u64> {
    let confirmed_at: Option<&str> = (to == Status::Confirmed).then_some(now);
    let mut client = session.client();
    // `xmax = 0` is true of a row this statement inserted, false of one it
    // updated (ON CONFLICT): the count of rows booking_state gained.
    let row = client
        .query_one(
            "WITH written AS (
                 INSERT INTO paytrack.booking_state AS s (booking_id, updated_at, confirmed_at)
                 SELECT v.id, $2, $3 FROM pg_catalog.unnest(CAST($1 AS pg_catalog.int8[])) AS v (id)
                 ON CONFLICT (booking_id) DO UPDATE
                    SET updated_at = excluded.updated_at,
                        confirmed_at = coalesce(excluded.confirmed_at, s.confirmed_at)
                 RETURNING (CAST(s.xmax AS pg_catalog.text) OPERATOR(pg_catalog.=) '0') AS inserted)
             SELECT CAST(count(*) FILTER (WHERE inserted) AS pg_catalog.int8) FROM written",
            &[&ids, &now, &confirmed_at],
        )
        .map_err(wrap)?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// The bot's half: each row's status set to its `to`, only where it still
/// holds the `from` paytrack read, in one statement. Returns the ids changed.
pub fn update_statuses(session: &Session, rows: &[(i64, Status, Status)]) -> Result<Vec<i64>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let from: Vec<i32> = rows.iter().map(|r| r.1.code() as i32).collect();
    let to: Vec<i32> = rows.iter().map(|r| r.2.code() as i32).collect();
    let mut client = session.client();
    let changed = client
        .query(
            "UPDATE public.bookings AS b SET confirmed = v.to_status
               FROM ROWS FROM (pg_catalog.unnest(CAST($1 AS pg_catalog.int8[])),
                               pg_catalog.unnest(CAST($2 AS pg_catalog.int4[])),
                               pg_catalog.unnest(CAST($3 AS pg_catalog.int4[]))) AS v (id, from_status, to_status)
              WHERE b.id OPERATOR(pg_catalog.=) v.id
                AND b.confirmed OPERATOR(pg_catalog.=) v.from_status
          RETURNING CAST(b.id AS pg_catalog.int8)",
            &[&ids, &from, &to],
        )
        .map_err(wrap)?;
    Ok(changed.iter().map(|r| r.get(0)).collect())
}

/// Tells the planner about the rows this transaction put in `booking_state`
/// once they are many (`gained`, of which `told` were counted the last
/// time): otherwise it still thinks the table is as small as at its last
/// ANALYZE, and a 100k-row `payments import` scanned it in full 784 times.
/// Told again each time they double: a few ANALYZEs of a 30,000-row sample
/// per transaction. Returns the rows it has now told. The login role does
/// not own the table, so the owner's `paytrack.analyze_booking_state()`
/// runs it (schema.pg.sql, migration 11); a role `init` has not granted it
/// to yet goes without, as before.
pub fn analyze_state_if_grown(session: &Session, gained: u64, told: u64) -> Result<u64> {
    if gained < ANALYZE_FROM_ROWS || gained < told.saturating_mul(2) {
        return Ok(told);
    }
    session
        .client()
        .batch_execute(
            "SELECT paytrack.analyze_booking_state()
              WHERE pg_catalog.has_function_privilege('paytrack.analyze_booking_state()', 'EXECUTE')",
        )
        .map_err(wrap)?;
    Ok(gained)
}
