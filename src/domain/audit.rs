//! Audit entries and the hash chain that makes tampering evident.
//!
//! Each entry stores `hash = SHA-256(prev_hash, content)`, where `prev_hash` is
//! the previous entry's hash (64 zeros for the first). Changing, removing or
//! inserting an entry out of band breaks the chain at that point.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    /// UTC RFC 3339.
    pub at: String,
    pub actor: String,
    /// A stable dotted name such as `booking.status_changed`.
    pub action: String,
    pub booking_id: Option<i64>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
    /// JSON object text.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What a writer supplies; id, time and hashes are filled in by the log.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub action: &'static str,
    pub booking_id: Option<i64>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

impl AuditEntry {
    /// The hash this entry should have, given its content and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        // Length-prefixed fields, so that moving text between fields changes the hash.
        let id = self.id.to_string();
        let booking = self.booking_id.map(|b| b.to_string());
        let fields: [Option<&str>; 10] = [
            Some(&self.prev_hash),
            Some(&id),
            Some(&self.at),
            Some(&self.actor),
            Some(&self.action),
            booking.as_deref(),
            self.old_value.as_deref(),
            self.new_value.as_deref(),
            self.reason.as_deref(),
            Some(&self.details),
        ];
        for field in fields {
            match field {
                None => h.update(b"N"),
                Some(text) => {
                    h.update(b"S");
                    h.update((text.len() as u64).to_le_bytes());
                    h.update(text.as_bytes());
                }
            }
        }
        hex::encode(h.finalize())
    }
}

/// Action names, one place for the spelling.
pub mod action {
    pub const STATUS_CHANGED: &str = "booking.status_changed";
    pub const BOOKINGS_IMPORTED: &str = "bookings.imported";
    pub const PAYMENTS_IMPORTED: &str = "payments.imported";
    pub const PAYMENT_RECORDED: &str = "payment.recorded";
    pub const COURSE_ADDED: &str = "catalogue.course_added";
    pub const COURSE_EDITED: &str = "catalogue.course_edited";
    pub const STREAM_ADDED: &str = "catalogue.stream_added";
    pub const STREAM_EDITED: &str = "catalogue.stream_edited";
    pub const MESSAGE_SENT: &str = "message.sent";
    pub const MESSAGE_FAILED: &str = "message.failed";
    pub const USER_BLOCKED: &str = "user.blocked";
    pub const STATS_REBUILT: &str = "stats.rebuilt";
    pub const DEMO_GENERATED: &str = "demo.generated";
    pub const DATABASE_CREATED: &str = "database.created";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            id: 1,
            at: "2024-12-01T00:00:00.000000Z".into(),
            actor: "admin".into(),
            action: action::STATUS_CHANGED.into(),
            booking_id: Some(42),
            old_value: Some("pending".into()),
            new_value: Some("confirmed".into()),
            reason: None,
            details: "{}".into(),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn any_field_change_changes_the_hash() {
        let base = entry().compute_hash();
        let mut e = entry();
        e.new_value = Some("cancelled".into());
        assert_ne!(e.compute_hash(), base);
        let mut e = entry();
        e.reason = Some(String::new());
        assert_ne!(e.compute_hash(), base, "None and empty differ");
        let mut e = entry();
        e.actor = "admi".into();
        e.action = format!("n{}", e.action);
        assert_ne!(e.compute_hash(), base, "moving text between fields");
    }
}
