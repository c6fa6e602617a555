//! Operations: every audit entry of one write transaction carries its id;
//! `undo` reads an operation back and checks what happened since.

use super::error::OptionalExtension;
use super::value::params;
use anyhow::Result;

use super::{Db, WriteTx};
use crate::domain::audit::{action, AuditEntry};

impl WriteTx<'_> {
    /// Every audit entry of an operation, in order (under the write lock).
    pub fn operation_entries(&self, operation_id: &str) -> Result<Vec<AuditEntry>> {
        operation_entries(self.conn(), operation_id)
    }

    /// Ids of the audit entries about `booking_id` written after entry
    /// `after_id`, those of a message's delivery left out: a drain sending,
    /// failing or retrying a message changes nothing about the booking
    /// (issue 25: a sent confirmation made undo say "changed again").
    pub fn audit_entries_after(&self, booking_id: i64, after_id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM audit_log WHERE booking_id = ?1 AND id > ?2
                AND action NOT IN ('message.sent', 'message.failed', 'message.retried',
                                   'message.cancelled', 'user.blocked')
              ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![booking_id, after_id], |r| r.get(0))?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }

    /// The operation that undid `operation_id`, if one did.
    pub fn undone_by(&self, operation_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT operation_id FROM audit_log
                      WHERE action = ?1 AND {} = ?2
                      ORDER BY id DESC LIMIT 1",
                    self.conn().dialect().json_text("details", "operation")
                ),
                params![action::OPERATION_UNDONE, operation_id],
                |r| r.get(0),
            )
            .optional()?)
    }
}

fn operation_entries(conn: super::sql::Conn<'_>, operation_id: &str) -> Result<Vec<AuditEntry>> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM audit_log WHERE operation_id = ?1 ORDER BY id")?
        .query_map([operation_id], |r| r.get(0))?
        .collect::<super::error::Result<_>>()?;
    let mut entries = Vec::with_capacity(ids.len());
    for id in ids {
        entries.extend(super::audit::entry_by_id(conn, id)?);
    }
    Ok(entries)
}

impl Db {
    /// Operation ids that start with `prefix`, a lower-case hex string (at
    /// most a few, to tell an ambiguous prefix from a unique one).
    pub fn operations_matching(&self, prefix: &str) -> Result<Vec<String>> {
        // Every id is lower-case hex, so all that start with the prefix sort
        // below prefix + "g": a range the index answers.
        let mut stmt = self.conn().prepare(
            "SELECT DISTINCT operation_id FROM audit_log
              WHERE operation_id >= ?1 AND operation_id < ?2
              ORDER BY operation_id LIMIT 5",
        )?;
        let rows = stmt
            .query_map([prefix.to_string(), format!("{prefix}g")], |r| r.get(0))?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }
}
