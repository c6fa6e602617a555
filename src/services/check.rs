//! `paytrack check`: every consistency check paytrack knows, in one run, for
//! cron and for the moment after a scare. Each check's problems are findings;
//! a check that cannot run (the file is damaged) is a finding too, so one
//! broken page never hides what the other checks would say.

use anyhow::Result;

use crate::db::stats::{compare_counters, CounterDifference};
use crate::db::Db;
use crate::domain::audit::ChainBreak;
pub use crate::domain::check::{CheckReport, Finding};
use crate::domain::Status;

/// Runs every check on an open database. Each check reads in its own
/// statement, not one shared transaction: on a damaged file a failed read
/// can end the transaction, and the checks after it must still run.
/// `quick`: SQLite's `quick_check` instead of the full `integrity_check`.
pub fn run_checks(db: &mut Db, quick: bool) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    // PostgreSQL checks its own pages and keys; the file checks are SQLite's.
    let sqlite = !db.is_postgres();
    let integrity = if quick {
        "quick_check"
    } else {
        "integrity_check"
    };
    if sqlite {
        record(&mut report, integrity, db.integrity_problems(quick), || {
            "the file's structure is sound".to_string()
        })?;
        record(
            &mut report,
            "foreign_keys",
            db.foreign_key_problems(),
            || "every reference has its row".to_string(),
        )?;
    }
    if db.counters_kept()? {
        // One snapshot for both (on PostgreSQL REPEATABLE READ READ ONLY): the
        // bot's insert and its counter delta commit together, so read apart
        // they differed by the rows the bot inserted in between, a false
        // alarm in 11 of 14 runs under 150 inserts/s (issue 26).
        // (SQLite: no transaction, as for every check here, for the reason
        // above.)
        let compare = |db: &Db| {
            let stored = db.stored_counters()?;
            let recounted = db.recount()?;
            Ok(compare_counters(&stored, &recounted))
        };
        let stats = if sqlite {
            compare(db)
        } else {
            db.read(compare)
        };
        record(
            &mut report,
            "stats",
            stats.map(|d| d.iter().map(describe_difference).collect()),
            || "stream counters match a recount".to_string(),
        )?;
    } else {
        report
            .passed
            .push("stats: no counters kept here (init --adopt --no-counters)".to_string());
    }
    let audit = db.audit_verify(None, |_| {}).map(|chain| {
        let checked = chain.checked;
        (chain.broken.map(|b| describe_break(&b, checked)), checked)
    });
    let checked = audit.as_ref().map_or(0, |a| a.1);
    record(
        &mut report,
        "audit",
        audit.map(|(broken, _)| broken.into_iter().collect()),
        || format!("{checked} audit entries chain intact"),
    )?;
    // Only asked on SQLite: the question itself reads sqlite_master, which
    // on PostgreSQL was an ERROR in the school's server log on every run.
    match sqlite.then(|| db.search_index_problems()) {
        None => {}
        Some(Ok(None)) => report
            .passed
            .push("search_index: not checked (read-only file)".to_string()),
        Some(outcome) => record(
            &mut report,
            "search_index",
            outcome.map(Option::unwrap_or_default),
            || "the search index matches the bookings".to_string(),
        )?,
    }
    record(
        &mut report,
        "bookings",
        db.unreadable_booking_problems(),
        || "every booking row is readable".to_string(),
    )?;
    record(&mut report, "outbox", db.outbox_problems(), || {
        "every message is in a consistent state".to_string()
    })?;
    Ok(report)
}

/// Adds one check's outcome: its problems as findings, an error as a finding
/// (an interrupt is passed on), or a line saying it passed.
fn record(
    report: &mut CheckReport,
    check: &'static str,
    outcome: Result<Vec<String>>,
    passed: impl FnOnce() -> String,
) -> Result<()> {
    match outcome {
        Ok(problems) if problems.is_empty() => report.passed.push(format!("{check}: {}", passed())),
        Ok(problems) => report
            .findings
            .extend(problems.into_iter().map(|p| Finding {
                check,
                problem: shown_long(&p),
            })),
        Err(err) if crate::interrupt::requested() => return Err(err),
        Err(err) => report.findings.push(Finding {
            check,
            problem: format!("could not run: {}", shown_long(&format!("{err:#}"))),
        }),
    }
    Ok(())
}

/// A finding's text: escaped, and cut if a damaged file made it huge.
fn shown_long(text: &str) -> String {
    crate::text::message_line(text)
}

/// One difference as a line for people and logs.
pub fn describe_difference(d: &CounterDifference) -> String {
    let stream = if d.course_stream.is_empty() {
        "(no stream)".to_string()
    } else {
        crate::text::for_terminal(&d.course_stream).into_owned()
    };
    let status = Status::from_code(d.status_code)
        .map_or_else(|| d.status_code.to_string(), |s| s.name().to_string());
    format!(
        "course {} stream {stream} {status}: stored {} bookings (pct_sum {}), recounted {} (pct_sum {})",
        d.course_id, d.stored.0, d.stored.1, d.recounted.0, d.recounted.1
    )
}

/// One line naming the first broken entry.
pub fn describe_break(broken: &ChainBreak, checked: u64) -> String {
    let what = match broken {
        ChainBreak::Altered { id } => format!(
            "audit entry {id} does not match its hash: it was changed, or inserted out of band"
        ),
        ChainBreak::Removed { first, last } if first == last => {
            format!("audit entry {first} was removed")
        }
        ChainBreak::Removed { first, last } => {
            format!("audit entries {first} to {last} were removed")
        }
        ChainBreak::Inserted { id } => format!(
            "audit entry {id} was inserted out of band: its id does not follow the entry before it"
        ),
        ChainBreak::Relinked {
            id,
            previous_id: Some(previous),
        } => format!(
            "audit entry {id} does not chain to entry {previous}: entry {previous} was rewritten \
             (and re-hashed), or entry {id} was replaced"
        ),
        ChainBreak::Relinked {
            id,
            previous_id: None,
        } => format!("audit entry {id} does not start the chain: it was replaced"),
    };
    format!("{what} ({checked} entries read)")
}
