//! Personal data, erased on request (`users erase`, issue 20) or by age
//! (`retention apply`): each erasure with its one audit entry, in the
//! caller's transaction (a dry run rolls it back, so its counts are exact).

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::db::privacy::{ErasureCounts, ErasureScope};
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::privacy::pseudonym;
use crate::domain::time::to_storage;

/// Erases one person's data, audited with their user id, pseudonym and the
/// reason (no erased value).
pub fn erase_user(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    user_id: i64,
    reason: &str,
) -> Result<ErasureCounts> {
    let counts = tx.erase_personal(ErasureScope::User(user_id), now)?;
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action: action::USER_ERASED,
            reason: Some(reason.to_string()),
            details: json!({
                "user_id": user_id,
                "pseudonym": pseudonym(user_id),
                "counts": counts,
            }),
            ..Default::default()
        },
    )?;
    Ok(counts)
}

/// What one retention run touched.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionCounts {
    /// Bookings created before this were pseudonymised (RFC 3339), if asked.
    pub bookings_cutoff: Option<String>,
    /// Messages created before this lost their body, if asked.
    pub messages_cutoff: Option<String>,
    pub erased: ErasureCounts,
    /// Bodies of sent/failed messages cleared by the message rule.
    pub message_bodies: u64,
}

/// Pseudonymises bookings created before `bookings_cutoff` and clears the
/// bodies of finished messages created before `messages_cutoff`; audited
/// when anything was touched.
pub fn apply_retention(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    bookings_cutoff: Option<DateTime<Utc>>,
    messages_cutoff: Option<DateTime<Utc>>,
) -> Result<RetentionCounts> {
    let mut counts = RetentionCounts {
        bookings_cutoff: bookings_cutoff.map(to_storage),
        messages_cutoff: messages_cutoff.map(to_storage),
        ..Default::default()
    };
    if let Some(cutoff) = bookings_cutoff {
        counts.erased = tx.erase_personal(ErasureScope::BookingsCreatedBefore(cutoff), now)?;
    }
    if let Some(cutoff) = messages_cutoff {
        counts.message_bodies = tx.clear_message_bodies_before(cutoff)?;
    }
    let touched = counts.erased.bookings
        + counts.erased.payments
        + counts.erased.messages
        + counts.erased.audit_values
        + counts.message_bodies;
    if touched > 0 {
        tx.append_audit(
            actor,
            now,
            NewAuditEntry {
                action: action::RETENTION_APPLIED,
                details: serde_json::to_value(&counts)?,
                ..Default::default()
            },
        )?;
    }
    Ok(counts)
}
