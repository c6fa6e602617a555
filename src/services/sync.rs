//! `bookings import` as a repeatable sync with the old system.
//!
//! Each row of the file is compared with two things: the booking as paytrack
//! has it now, and the booking as the last import saw it in the file
//! (`import_state`). Where the file still says what it said last time, it has
//! nothing new, and whatever paytrack did since (a payment, an admin's
//! change) stands. Where the file changed, its status goes through the one
//! state machine (`check_transition`) and `change_status`; a change the rules
//! refuse is not applied and becomes a conflict for a person, unless the run
//! is forced (`--force --reason`). Other fields follow the same three-way
//! rule, field by field, through `booking_fields::set_fields`.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::db::sync::ImportState;
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::{Booking, BookingFields};
use crate::domain::payment::PaymentOutcome;
use crate::domain::{check_transition, Status};
use crate::services::booking_fields::{set_fields, EditOrigin, FieldChanges};
use crate::services::status_change::{change_status, StatusChange};

/// How a run treats the file.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The file's name, for audit entries.
    pub file: String,
    /// Take the file's statuses even where the rules refuse them (recorded as forced).
    pub force: bool,
    /// The admin's reason (required with `force`; also allows confirmed → cancelled).
    pub reason: Option<String>,
    /// Bookings whose conflict a person settled in paytrack's favour
    /// (`--accept-ours`): the file's row is recorded as seen and nothing of
    /// it is applied, so the next import no longer reports it.
    pub accept_ours: std::collections::BTreeSet<i64>,
}

/// A status the file asks for that the rules refuse: not applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub line: u64,
    pub booking_id: i64,
    pub paytrack_status: Status,
    pub file_status: Status,
    pub why: String,
}

/// What a run did, row by row.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncCounts {
    pub rows: u64,
    pub inserted: u64,
    /// Bookings whose status or fields changed.
    pub updated: u64,
    pub unchanged: u64,
    pub status_changes: u64,
    /// Status changes outside the rules, taken because of --force.
    pub forced: u64,
    /// Bookings whose status paytrack changed since the last import, while
    /// the file still says what it said then: paytrack's status stands.
    pub kept: u64,
    /// Rows settled by `--accept-ours`: recorded as seen, nothing applied.
    pub accepted_ours: Vec<i64>,
    /// Ids the file gives twice that a person settled before: their rows are left out.
    pub settled_duplicates: u64,
    /// Rows of an id the file gives to another person than paytrack's
    /// booking, settled before (`--accept-ours`) or by an audited edit:
    /// left alone, as long as the file names the same other person.
    pub other_person: u64,
    pub conflicts: Vec<Conflict>,
}

/// The import state of an id the file gives twice and a person settled
/// (`--accept-ours ID`): every row of that id is left out of later imports
/// while the file still gives it more than once. Not a `BookingFields`
/// object, so no merge ever reads it as one.
pub const DUPLICATE_SETTLED: &str = r#"{"duplicate_in_file":"settled"}"#;

/// What happened to one row.
enum StatusDecision {
    Same,
    /// The file has nothing new: paytrack's status stands.
    Kept,
    Apply,
    Conflict(String),
}

/// New bookings written per batch: a multi-row INSERT per table instead of
/// one statement per row (as `insert_bookings` explains, most of a first
/// import's time was per-statement work).
const INSERT_BATCH: usize = 256;

/// One import run: its counts, and new rows waiting to be written together.
#[derive(Debug, Default)]
pub struct SyncRun {
    pub counts: SyncCounts,
    /// New bookings and their import state, not yet written. The file's ids
    /// are unique (the importer refuses duplicates), so no later row can
    /// need one of them before they are flushed.
    new_rows: Vec<(Booking, ImportState)>,
    /// File rows (with their line) read but not applied yet: they are applied
    /// a batch at a time after one read-ahead of what they need
    /// (`WriteTx::prefetch_for_import`), in file order.
    pending: Vec<(Booking, u64)>,
}

/// File rows applied per read-ahead. On PostgreSQL each row's three lookups
/// (booking, erasure, last import) were three round trips: a re-import of
/// 100k unchanged rows took 43.7 s.
const READ_AHEAD: usize = 512;

impl SyncRun {
    /// Applies one row of the file (already parsed) inside the import's transaction.
    pub fn row(
        &mut self,
        tx: &WriteTx,
        file: &Booking,
        line: u64,
        options: &SyncOptions,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.pending.push((file.clone(), line));
        if self.pending.len() >= READ_AHEAD {
            self.apply_pending(tx, options, actor, now)?;
        }
        Ok(())
    }

    /// Applies and writes what is still waiting; call before the transaction ends.
    pub fn finish(
        mut self,
        tx: &WriteTx,
        options: &SyncOptions,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<SyncCounts> {
        self.apply_pending(tx, options, actor, now)?;
        self.flush(tx, now)?;
        Ok(self.counts)
    }

    /// Settles an id the file gives on several lines, whose rows were held
    /// back: with `--accept-ours` it is recorded as settled (none of its rows
    /// is applied, now or while the file still repeats it); one settled
    /// before is only counted. The caller holds back exactly those ids.
    pub fn settle_duplicate(
        &mut self,
        tx: &WriteTx,
        id: i64,
        rows: u64,
        file_status: Status,
        options: &SyncOptions,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.counts.rows += rows;
        self.counts.unchanged += rows;
        if options.accept_ours.contains(&id) {
            self.counts.accepted_ours.push(id);
            let status = tx.booking(id)?.map_or(file_status, |b| b.status);
            tx.record_import_state(
                id,
                &ImportState {
                    status,
                    fields: DUPLICATE_SETTLED.to_string(),
                },
                now,
            )?;
        } else {
            self.counts.settled_duplicates += 1;
        }
        Ok(())
    }

    fn apply_pending(
        &mut self,
        tx: &WriteTx,
        options: &SyncOptions,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let ids: Vec<i64> = pending.iter().map(|(b, _)| b.id).collect();
        tx.prefetch_for_import(&ids)?;
        for (file, line) in &pending {
            sync_row(tx, file, *line, options, self, actor, now)?;
        }
        tx.forget_prefetched();
        Ok(())
    }

    fn flush(&mut self, tx: &WriteTx, now: DateTime<Utc>) -> Result<()> {
        if self.new_rows.is_empty() {
            return Ok(());
        }
        let bookings: Vec<Booking> = self.new_rows.iter().map(|(b, _)| b.clone()).collect();
        tx.insert_bookings(&bookings, &crate::domain::time::to_storage(now))?;
        let states: Vec<(i64, &ImportState)> =
            self.new_rows.iter().map(|(b, s)| (b.id, s)).collect();
        tx.record_new_import_states(&states, now)?;
        self.new_rows.clear();
        Ok(())
    }
}

fn sync_row(
    tx: &WriteTx,
    file: &Booking,
    line: u64,
    options: &SyncOptions,
    run: &mut SyncRun,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let counts = &mut run.counts;
    counts.rows += 1;
    let mut file_fields = BookingFields::of(file);
    let Some(current) = tx.booking(file.id)? else {
        let fields_json = serde_json::to_string(&file_fields)?;
        counts.inserted += 1;
        run.new_rows.push((
            file.clone(),
            ImportState {
                status: file.status,
                fields: fields_json,
            },
        ));
        if run.new_rows.len() >= INSERT_BATCH {
            run.flush(tx, now)?;
        }
        return Ok(());
    };
    // An erased person stays erased: the old system's export still carries
    // the names the pseudonym replaced, and they are neither applied nor kept.
    if tx.booking_is_erased(file.id)? {
        file_fields.username.clone_from(&current.username);
        file_fields.first_name.clone_from(&current.first_name);
    }
    let fields_json = serde_json::to_string(&file_fields)?;
    let last = tx.import_state(file.id)?;
    // A person settled this row in paytrack's favour: the file's row is
    // recorded as seen (so a file that still says the same has nothing new
    // next time) and nothing of it is applied.
    if options.accept_ours.contains(&file.id) {
        counts.accepted_ours.push(file.id);
        let state = ImportState {
            status: file.status,
            fields: fields_json,
        };
        if last.as_ref() != Some(&state) {
            tx.record_import_state(file.id, &state, now)?;
        }
        return Ok(());
    }
    // The file names another person than paytrack's booking. Identity never
    // changes through an import, whatever --force says (issue 25: a re-import
    // moved booking 1 and its payment to user 200): a booking made in
    // paytrack while the old system gave the id to someone else, or the old
    // system reusing an id. Overwriting it would lose a student; a person
    // decides. Where the file still names the person it named when the
    // conflict was settled (or paytrack's person was set by an audited edit),
    // the file has nothing new about this booking: the row is left alone,
    // status included (it is another person's booking in the old system).
    if current.user_id != file.user_id {
        let last_user = last
            .as_ref()
            .and_then(|s| serde_json::from_str::<BookingFields>(&s.fields).ok())
            .map(|f| f.user_id);
        if last_user == Some(file.user_id) {
            counts.other_person += 1;
            counts.unchanged += 1;
            return Ok(());
        }
        let why = if last.is_none() {
            format!(
                "booking {} in paytrack is user {}'s, the file's is user {}: the same id was given twice",
                file.id, current.user_id, file.user_id
            )
        } else {
            format!(
                "booking {} in paytrack is user {}'s, the file now says user {}: an import never moves a booking to another person",
                file.id, current.user_id, file.user_id
            )
        };
        counts.conflicts.push(Conflict {
            line,
            booking_id: file.id,
            paytrack_status: current.status,
            file_status: file.status,
            why,
        });
        return Ok(());
    }

    // Fields, one by one: the file's value where the file changed it since
    // the last import (or there was none), paytrack's where it did not. The
    // common cases of a nightly re-import (the row is as paytrack has it, or
    // as the file had it last time) skip the merge: it costs more than the rest.
    let current_fields = BookingFields::of(&current);
    let file_row_unchanged = last.as_ref().is_some_and(|s| s.fields == fields_json);
    let edited = if file_fields == current_fields || file_row_unchanged {
        FieldChanges::default()
    } else {
        let last_fields: Option<BookingFields> = last
            .as_ref()
            .and_then(|s| serde_json::from_str(&s.fields).ok());
        let merged = merge_fields(&current_fields, &file_fields, last_fields.as_ref())?;
        set_fields(
            tx,
            file.id,
            &merged,
            &EditOrigin {
                source: "bookings import",
                reason: options.reason.as_deref(),
                extra: json!({ "file": options.file }),
            },
            actor,
            now,
        )?
    };

    // Imported before import states were kept (an upgraded database): what
    // the file said then is the status before paytrack's own first change.
    let inferred;
    let last_seen = match &last {
        None if current.status != file.status => {
            inferred = tx
                .status_before_first_local_change(file.id)?
                .map(|status| ImportState {
                    status,
                    fields: String::new(),
                });
            inferred.as_ref()
        }
        _ => last.as_ref(),
    };
    let decision = decide_status(current.status, file.status, last_seen, options);
    let conflicted = matches!(decision, StatusDecision::Conflict(_));
    let mut status_changed = false;
    let recorded_status = match decision {
        StatusDecision::Same => file.status,
        StatusDecision::Kept => {
            counts.kept += 1;
            file.status
        }
        StatusDecision::Apply => {
            let reason = options
                .reason
                .clone()
                .unwrap_or_else(|| format!("imported from {}", options.file));
            let outcome = change_status(
                tx,
                &StatusChange {
                    booking_id: file.id,
                    to: file.status,
                    force: options.force,
                    reason: Some(reason),
                    expect: Some(current.status),
                    // An import mirrors the old system, which told the student itself.
                    notify: false,
                    payment: None,
                    payment_outcome: PaymentOutcome::Recorded,
                    template: None,
                    source: "bookings import",
                },
                actor,
                now,
            )?;
            status_changed = outcome.changed;
            counts.status_changes += u64::from(outcome.changed);
            counts.forced += u64::from(outcome.forced);
            file.status
        }
        StatusDecision::Conflict(why) => {
            counts.conflicts.push(Conflict {
                line,
                booking_id: file.id,
                paytrack_status: current.status,
                file_status: file.status,
                why,
            });
            // Not recorded as seen: the next import reports it again until a
            // person settles it (set-status, or a forced import).
            last.as_ref().map_or(current.status, |s| s.status)
        }
    };
    if status_changed || !edited.is_empty() {
        counts.updated += 1;
    } else if !conflicted {
        counts.unchanged += 1;
    }
    let state = ImportState {
        status: recorded_status,
        fields: fields_json,
    };
    if last.as_ref() != Some(&state) {
        tx.record_import_state(file.id, &state, now)?;
    }
    Ok(())
}

/// The booking ids a file has had so far, with the line of each, to refuse
/// an id given twice. An export is mostly in id order, one line a row: such
/// rows are kept as runs (first id, first line, length), a few bytes for a
/// million rows; the others in a map. A map of every row was 34 MB (50 MB
/// while it grew) of the import's 128 MB peak at 1M rows (issue 19).
#[derive(Debug, Default)]
pub struct SeenIds {
    /// (first id, first line, rows): ids and lines both step by one.
    runs: Vec<(i64, u64, u64)>,
    /// Ids that did not continue the last run nor start a later one.
    others: std::collections::HashMap<i64, u64>,
}

impl SeenIds {
    /// Notes `id` at `line`; returns the line it appeared on before, if any.
    pub fn insert(&mut self, id: i64, line: u64) -> Option<u64> {
        if let Some(first) = self.line_of(id) {
            return Some(first);
        }
        match self.runs.last_mut() {
            Some((start, first_line, len))
                if i128::from(*start) + i128::from(*len) == i128::from(id)
                    && *first_line + *len == line =>
            {
                *len += 1;
            }
            Some((start, _, len)) if i128::from(id) < i128::from(*start) + i128::from(*len) => {
                self.others.insert(id, line);
            }
            _ => self.runs.push((id, line, 1)),
        }
        None
    }

    fn line_of(&self, id: i64) -> Option<u64> {
        // The runs are in increasing id order: the last one starting at or before `id`.
        let after = self.runs.partition_point(|(start, _, _)| *start <= id);
        if let Some((start, first_line, len)) = after.checked_sub(1).map(|i| self.runs[i]) {
            let offset = id.abs_diff(start);
            if offset < len {
                return Some(first_line + offset);
            }
        }
        self.others.get(&id).copied()
    }
}

/// The status rule of a sync (see the module doc).
fn decide_status(
    current: Status,
    file: Status,
    last: Option<&ImportState>,
    options: &SyncOptions,
) -> StatusDecision {
    if current == file {
        return StatusDecision::Same;
    }
    let file_has_nothing_new = last.is_some_and(|s| s.status == file);
    if file_has_nothing_new && !options.force {
        return StatusDecision::Kept;
    }
    // The admin's reason counts; the file's name is not a reason to cancel a paid booking.
    match check_transition(current, file, options.force, options.reason.as_deref()) {
        Ok(_) => StatusDecision::Apply,
        Err(err) => StatusDecision::Conflict(err.to_string()),
    }
}

/// Three-way merge of the non-status fields.
fn merge_fields(
    current: &BookingFields,
    file: &BookingFields,
    last: Option<&BookingFields>,
) -> Result<BookingFields> {
    let current_map = current.to_map();
    let file_map = file.to_map();
    let last_map = last.map(BookingFields::to_map);
    let mut take = serde_json::Map::new();
    for (key, file_value) in &file_map {
        let unchanged_in_file = last_map
            .as_ref()
            .is_some_and(|m| m.get(key) == Some(file_value));
        if current_map.get(key) != Some(file_value) && !unchanged_in_file {
            take.insert(key.clone(), file_value.clone());
        }
    }
    current.with(&take).map_err(|e| anyhow::anyhow!(e))
}

/// Audits an import that wrote or settled anything: the file's name and
/// the counts (a dry run's too, rolled back with it).
pub fn audit_import(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    file: &str,
    counts: &SyncCounts,
    options: &SyncOptions,
    dry_run: bool,
) -> Result<()> {
    if counts.inserted + counts.updated == 0
        && counts.conflicts.is_empty()
        && counts.accepted_ours.is_empty()
    {
        return Ok(());
    }
    let mut details = json!({ "file": file, "rows": counts.rows, "inserted": counts.inserted,
        "updated": counts.updated, "unchanged": counts.unchanged,
        "status_changes": counts.status_changes, "forced": counts.forced,
        "kept": counts.kept, "conflicts": counts.conflicts.len(),
        "dry_run": dry_run });
    if !counts.accepted_ours.is_empty() {
        details["accepted_ours"] = json!(counts.accepted_ours);
    }
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::BOOKINGS_IMPORTED,
            reason: options.reason.clone(),
            details,
            ..Default::default()
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn state(status: Status) -> ImportState {
        ImportState {
            status,
            fields: "{}".into(),
        }
    }

    fn options(force: bool, reason: Option<&str>) -> SyncOptions {
        SyncOptions {
            file: "f.csv".into(),
            force,
            reason: reason.map(str::to_string),
            accept_ours: std::collections::BTreeSet::default(),
        }
    }

    #[test]
    fn a_file_with_nothing_new_leaves_paytracks_status() {
        let d = decide_status(
            Confirmed,
            Pending,
            Some(&state(Pending)),
            &options(false, None),
        );
        assert!(matches!(d, StatusDecision::Kept));
    }

    #[test]
    fn a_file_that_disagrees_is_a_conflict_unless_forced() {
        let d = decide_status(Confirmed, Pending, None, &options(false, None));
        assert!(matches!(d, StatusDecision::Conflict(_)));
        let d = decide_status(
            Confirmed,
            Cancelled,
            Some(&state(Pending)),
            &options(false, None),
        );
        assert!(matches!(d, StatusDecision::Conflict(why) if why.contains("needs --reason")));
        let d = decide_status(
            Confirmed,
            Pending,
            Some(&state(Pending)),
            &options(true, Some("r")),
        );
        assert!(matches!(d, StatusDecision::Apply));
    }

    #[test]
    fn seen_ids_tell_the_first_line_of_an_id_given_twice() {
        let mut seen = SeenIds::default();
        // A run, a gap, a row out of order, a row on a line of its own.
        for (id, line) in [(1, 2), (2, 3), (3, 4), (10, 5), (11, 6), (5, 7), (12, 9)] {
            assert_eq!(seen.insert(id, line), None, "{id}");
        }
        assert!(seen.runs.len() <= 4, "{:?}", seen.runs);
        for (id, first) in [(1, 2), (3, 4), (10, 5), (11, 6), (5, 7), (12, 9)] {
            assert_eq!(seen.insert(id, 100), Some(first), "{id}");
        }
        for id in [0, 4, 6, 9, 13, -1, i64::MIN, i64::MAX] {
            assert_eq!(seen.line_of(id), None, "{id}");
        }
        assert_eq!(seen.insert(i64::MAX, 200), None);
        assert_eq!(seen.insert(i64::MIN, 201), None);
        assert_eq!(seen.insert(i64::MAX, 202), Some(200));
        assert_eq!(seen.insert(i64::MIN, 203), Some(201));
    }

    #[test]
    fn an_allowed_change_in_the_file_is_applied() {
        let d = decide_status(
            Pending,
            Confirmed,
            Some(&state(Pending)),
            &options(false, None),
        );
        assert!(matches!(d, StatusDecision::Apply));
    }
}
