//! `stats rebuild`: the stream counters replaced by a recount, in one
//! audited transaction that records what drifted.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::stats::{compare_counters, CounterDifference, StatusCount};
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::services::check::describe_difference;

/// Bookings counted over `counts`.
pub fn bookings_in(counts: &[StatusCount]) -> i64 {
    counts.iter().map(|c| c.bookings).sum()
}

/// What a rebuild found and left.
pub struct Rebuilt {
    /// Where the stored counters differed from the recount.
    pub differences: Vec<CounterDifference>,
    /// Counters and bookings counted after the rebuild.
    pub counters: usize,
    pub bookings: i64,
}

/// Replaces the counters with a recount; audited with the totals before and
/// after and the first differences.
pub fn rebuild_counters(tx: &WriteTx, actor: &str, now: DateTime<Utc>) -> Result<Rebuilt> {
    let before = tx.stored_counters()?;
    let recounted = tx.recount()?;
    let differences = compare_counters(&before, &recounted);
    tx.rebuild_counters()?;
    let after = tx.stored_counters()?;
    let summary = |counts: &[StatusCount]| json!({ "counters": counts.len(), "bookings": bookings_in(counts) });
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::STATS_REBUILT,
            old_value: Some(summary(&before).to_string()),
            new_value: Some(summary(&after).to_string()),
            details: json!({
                "differences": differences.len(),
                // The first few, so the log shows what drifted without growing unbounded.
                "changed": differences.iter().take(20).map(describe_difference).collect::<Vec<_>>(),
            }),
            ..Default::default()
        },
    )?;
    Ok(Rebuilt {
        differences,
        counters: after.len(),
        bookings: bookings_in(&after),
    })
}
