//! The audit log table: appending under the write lock, reading, verifying.

use super::error::OptionalExtension;
use super::value::params;
use anyhow::Result;
use chrono::{DateTime, Utc};

use super::sql::Row;

use super::{Db, WriteTx};
use crate::domain::audit::{
    AuditEntry, ChainReport, ChainWalk, NewAuditEntry, PersonalField, FORMAT_CLEAR, GENESIS_HASH,
};
use crate::domain::time::to_storage;

/// Which entries `audit tail` shows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub booking_id: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only entries with a greater id (for `--follow`).
    pub after_id: Option<i64>,
    /// Only entries of this operation (`paytrack undo OP`).
    pub operation: Option<String>,
}

const COLUMNS: &str = "id, at, actor, action, booking_id, old_value, new_value, reason, details, \
     prev_hash, hash, format, operation_id";

fn entry_from_row(row: &Row) -> super::error::Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.get(0)?,
        at: row.get(1)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        booking_id: row.get(4)?,
        old_value: row.get(5)?,
        new_value: row.get(6)?,
        reason: row.get(7)?,
        details: row.get(8)?,
        prev_hash: row.get(9)?,
        hash: row.get(10)?,
        format: row.get(11)?,
        personal: Vec::new(),
        operation_id: row.get(12)?,
    })
}

/// One entry by id, as people read it (personal values revealed).
pub(super) fn entry_by_id(conn: super::sql::Conn<'_>, id: i64) -> Result<Option<AuditEntry>> {
    let entry = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log WHERE id = ?1"))?
        .query_row([id], entry_from_row)
        .optional()?;
    let Some(mut entry) = entry else {
        return Ok(None);
    };
    load_personal(conn, &mut entry)?;
    Ok(Some(entry.revealed()))
}

/// Fills in the personal fields of a format-2 entry from `audit_personal`.
fn load_personal(conn: super::sql::Conn<'_>, entry: &mut AuditEntry) -> super::error::Result<()> {
    if entry.format == FORMAT_CLEAR {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT field, digest, value, salt FROM audit_personal WHERE entry_id = ?1 ORDER BY field",
    )?;
    entry.personal = stmt
        .query_map([entry.id], |r| {
            Ok(PersonalField {
                field: r.get(0)?,
                digest: r.get(1)?,
                value: r.get(2)?,
                salt: r.get(3)?,
            })
        })?
        .collect::<super::error::Result<_>>()?;
    Ok(())
}

impl WriteTx<'_> {
    /// Appends an entry, chained to the last one. Runs under the write lock,
    /// so two processes never chain to the same predecessor.
    pub fn append_audit(&self, actor: &str, now: DateTime<Utc>, new: NewAuditEntry) -> Result<i64> {
        let ids = self.append_audits(actor, now, vec![new])?;
        Ok(ids[0])
    }

    /// Appends entries in order, each chained to the one before, many rows
    /// per INSERT; returns their ids. The hashes are computed here, in
    /// memory, under the write lock (about 1 µs an entry).
    pub fn append_audits(
        &self,
        actor: &str,
        now: DateTime<Utc>,
        entries: Vec<NewAuditEntry>,
    ) -> Result<Vec<i64>> {
        let conn = self.conn();
        // The head is read once per transaction: under the write lock only
        // this transaction appends, so the chain continues from what we wrote.
        let cached = self.cache.borrow_mut().audit_head.take();
        let last: Option<(i64, String)> = match cached {
            Some(head) => Some(head),
            None => conn
                .prepare_cached("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?,
        };
        let (mut next_id, mut prev_hash) = match last {
            Some((id, hash)) => (id + 1, hash),
            None => (1, GENESIS_HASH.to_string()),
        };
        let at = self.stamp(now);
        let mut sealed = Vec::with_capacity(entries.len());
        for new in entries {
            let mut entry = AuditEntry::seal(new, next_id, at.to_string(), actor, prev_hash)?;
            // Every entry of this transaction carries its operation (`paytrack undo`).
            entry.operation_id = Some(self.operation_id().to_string());
            entry.hash = entry.compute_hash();
            if crate::domain::audit::action::is_undoable(&entry.action) {
                self.mark_undoable();
            }
            prev_hash = entry.hash.clone();
            next_id += 1;
            sealed.push(entry);
        }
        insert_entries(conn, &sealed)?;
        let ids = sealed.iter().map(|e| e.id).collect();
        // Only once the rows are in: a failed insert leaves the head to be re-read.
        if let Some(last) = sealed.pop() {
            self.cache.borrow_mut().audit_head = Some((last.id, last.hash));
        }
        Ok(ids)
    }
}

impl Db {
    /// Waits until new audit entries may be there: on PostgreSQL until a
    /// `NOTIFY paytrack_audit` (or `wait` passes), on SQLite `wait` (there is
    /// no notification across processes). Returns early on Ctrl-C.
    pub fn wait_for_audit_entries(&self, wait: std::time::Duration) -> Result<()> {
        #[cfg(feature = "postgres")]
        if let super::sql::Conn::Pg(session) = self.conn() {
            session.wait_for_audit_notification(wait)?;
            return Ok(());
        }
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline && !crate::interrupt::requested() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(())
    }
}

/// Audit rows per INSERT (13 values each).
const ENTRIES_PER_INSERT: usize = 64;

/// Inserts sealed entries and their personal fields, many rows per statement.
fn insert_entries(conn: super::sql::Conn<'_>, entries: &[AuditEntry]) -> Result<()> {
    for chunk in entries.chunks(ENTRIES_PER_INSERT) {
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES {}",
            super::sql::values_rows(13, chunk.len())
        ))?;
        let mut params: Vec<&dyn super::value::ToValue> = Vec::with_capacity(chunk.len() * 13);
        for e in chunk {
            params.extend_from_slice(&[
                &e.id as &dyn super::value::ToValue,
                &e.at,
                &e.actor,
                &e.action,
                &e.booking_id,
                &e.old_value,
                &e.new_value,
                &e.reason,
                &e.details,
                &e.prev_hash,
                &e.hash,
                &e.format,
                &e.operation_id,
            ]);
        }
        stmt.execute(params.as_slice())?;
    }
    let mut personal = conn.prepare_cached(
        "INSERT INTO audit_personal (entry_id, field, digest, value, salt) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for entry in entries {
        for p in &entry.personal {
            personal.execute(params![entry.id, p.field, p.digest, p.value, p.salt])?;
        }
    }
    Ok(())
}

impl Db {
    /// The last `limit` entries matching `filter`, oldest first (like tail(1)),
    /// as people read them (`AuditEntry::revealed`): not for hashing.
    pub fn audit_tail(&self, filter: &AuditFilter, limit: Option<u64>) -> Result<Vec<AuditEntry>> {
        let (mut sql, mut args) = audit_where(filter);
        sql += " ORDER BY id DESC";
        if let Some(n) = limit {
            args.push(Box::new(i64::try_from(n).unwrap_or(i64::MAX)));
            sql += &format!(" LIMIT ?{}", args.len());
        }
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows: Vec<AuditEntry> = stmt
            .query_map(super::sql::params_from_iter(args.iter()), entry_from_row)?
            .collect::<super::error::Result<_>>()?;
        rows.reverse();
        // Shown to people: personal values in place, "(erased)" where erased.
        rows.into_iter()
            .map(|mut e| {
                load_personal(self.conn(), &mut e)?;
                Ok(e.revealed())
            })
            .collect()
    }

    /// The same entries as `audit_tail`, oldest first, handed to `visit` one
    /// at a time: memory does not grow with `limit` (issue 19: `-n 100000000`
    /// held the whole log). The first entry shown is found by counting back
    /// `limit` matches on the id index; the rest are read forward from it.
    pub fn audit_tail_each(
        &self,
        filter: &AuditFilter,
        limit: Option<u64>,
        mut visit: impl FnMut(AuditEntry) -> Result<()>,
    ) -> Result<()> {
        let first_id = match limit {
            Some(0) => return Ok(()),
            Some(n) => {
                let (mut sql, mut args) = audit_where(filter);
                args.push(Box::new(i64::try_from(n - 1).unwrap_or(i64::MAX)));
                sql = sql.replacen(&format!("SELECT {COLUMNS}"), "SELECT id", 1);
                sql += &format!(" ORDER BY id DESC LIMIT 1 OFFSET ?{}", args.len());
                self.conn()
                    .prepare(&sql)?
                    .query_row(super::sql::params_from_iter(args.iter()), |r| r.get(0))
                    .optional()?
                    // Fewer matches than asked for: all of them.
                    .unwrap_or(i64::MIN)
            }
            None => i64::MIN,
        };
        let (mut sql, mut args) = audit_where(filter);
        args.push(Box::new(first_id));
        sql += &format!(" AND id >= ?{} ORDER BY id", args.len());
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query_stream(super::sql::params_from_iter(args.iter()))?;
        let mut seen = 0u32;
        while let Some(row) = rows.next()? {
            // Shown to people: personal values in place, "(erased)" where erased.
            let mut entry = entry_from_row(&row)?;
            load_personal(self.conn(), &mut entry)?;
            visit(entry.revealed())?;
            seen = seen.wrapping_add(1);
            if seen % 4096 == 0 {
                crate::interrupt::check()?;
            }
        }
        Ok(())
    }
}

/// `SELECT … FROM audit_log WHERE …` for `filter`, with its parameters.
fn audit_where(filter: &AuditFilter) -> (String, Vec<Box<dyn super::value::ToValue>>) {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
    let mut args: Vec<Box<dyn super::value::ToValue>> = Vec::new();
    if let Some(b) = filter.booking_id {
        args.push(Box::new(b));
        sql += &format!(" AND booking_id = ?{}", args.len());
    }
    if let Some(a) = &filter.actor {
        args.push(Box::new(a.clone()));
        sql += &format!(" AND actor = ?{}", args.len());
    }
    if let Some(a) = &filter.action {
        args.push(Box::new(a.clone()));
        sql += &format!(" AND action = ?{}", args.len());
    }
    if let Some(t) = filter.since {
        args.push(Box::new(to_storage(t)));
        sql += &format!(" AND at >= ?{}", args.len());
    }
    if let Some(t) = filter.until {
        args.push(Box::new(to_storage(t)));
        sql += &format!(" AND at < ?{}", args.len());
    }
    if let Some(op) = &filter.operation {
        args.push(Box::new(op.clone()));
        sql += &format!(" AND operation_id = ?{}", args.len());
    }
    if let Some(after) = filter.after_id {
        args.push(Box::new(after));
        sql += &format!(" AND id > ?{}", args.len());
    }
    (sql, args)
}

impl Db {
    /// Every entry about one booking, oldest first.
    pub fn audit_for_booking(&self, booking_id: i64) -> Result<Vec<AuditEntry>> {
        self.audit_tail(
            &AuditFilter {
                booking_id: Some(booking_id),
                ..Default::default()
            },
            None,
        )
    }

    /// Number of entries with the given action (tests and summaries).
    pub fn audit_count(&self, action: Option<&str>) -> Result<u64> {
        let n: i64 = match action {
            Some(a) => self.conn().query_row(
                "SELECT COUNT(*) FROM audit_log WHERE action = ?1",
                [a],
                |r| r.get(0),
            )?,
            None => self
                .conn()
                .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))?,
        };
        Ok(n as u64)
    }

    /// Walks the whole chain in id order and stops at the first break.
    /// `anchor` is a head hash recorded earlier that must still be in the
    /// chain. Streams rows: memory does not grow with the log.
    pub fn audit_verify(
        &self,
        anchor: Option<&str>,
        mut on_progress: impl FnMut(u64),
    ) -> Result<ChainReport> {
        // One pass over a join, personal fields of an entry in field order
        // (the plan is a scan of audit_log and a primary-key search of
        // audit_personal: no sort, so rows still stream).
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {COLUMNS}, p.field, p.digest, p.value, p.salt
               FROM audit_log LEFT JOIN audit_personal AS p ON p.entry_id = audit_log.id
              ORDER BY audit_log.id, p.field"
        ))?;
        let mut rows = stmt.query([])?;
        let mut walk = ChainWalk::new(anchor);
        let mut pending: Option<AuditEntry> = None;
        loop {
            let row = rows.next()?;
            let id: Option<i64> = row.as_ref().map(|r| r.get(0)).transpose()?;
            if let Some(entry) = pending.take_if(|e| Some(e.id) != id) {
                if !walk.check(&entry) {
                    break;
                }
                if walk.checked() % 10_000 == 0 {
                    on_progress(walk.checked());
                    crate::interrupt::check()?;
                }
            }
            let Some(row) = row else { break };
            // A column of the wrong type is tampering, not a driver failure
            // (issue 17: `audit verify` exited 1 with rusqlite's message).
            let read = (|| -> super::error::Result<()> {
                let entry = match &mut pending {
                    Some(entry) => entry,
                    None => pending.insert(entry_from_row(&row)?),
                };
                // A personal row under a format-1 entry is not part of it (and
                // cannot hide anything: that entry's hash covers all its fields).
                if let (Some(field), true) = (
                    row.get::<_, Option<String>>(13)?,
                    entry.format != FORMAT_CLEAR,
                ) {
                    entry.personal.push(PersonalField {
                        field,
                        digest: row.get(14)?,
                        value: row.get(15)?,
                        salt: row.get(16)?,
                    });
                }
                Ok(())
            })();
            match read {
                Ok(()) => {}
                Err(super::error::Error::Column { .. }) => {
                    walk.unreadable(id);
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(walk.finish())
    }

    /// Entries matching `filter` with an id above `after_id`, and the highest
    /// id of all (matching or not), read in one short snapshot: `--follow`
    /// calls this once per poll and holds no transaction in between.
    pub fn audit_since(
        &mut self,
        filter: &AuditFilter,
        after_id: i64,
    ) -> Result<(Vec<AuditEntry>, i64)> {
        let filter = AuditFilter {
            after_id: Some(after_id),
            ..filter.clone()
        };
        self.read(|db| Ok((db.audit_tail(&filter, None)?, db.audit_last_id()?)))
    }

    /// The highest audit id (0 for an empty log); `--follow` polls from here.
    pub fn audit_last_id(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM audit_log", [], |r| {
                r.get(0)
            })?)
    }
}
