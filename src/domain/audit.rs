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

/// The first place a walk of the chain found tampering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The entry no longer matches its own hash: changed in place, or
    /// inserted out of band with a made-up hash.
    Altered { id: i64 },
    /// Entries `first..=last` are gone: ids are consecutive, and the next
    /// entry does not chain to the one before the gap.
    Removed { first: i64, last: i64 },
    /// The entry chains to its predecessor but its id skips ahead: inserted
    /// out of band with an invented id.
    Inserted { id: i64 },
    /// Both entries match their own hashes, yet `id` does not chain to
    /// `previous_id`: the previous entry was rewritten and re-hashed, or this
    /// one was replaced.
    Relinked { id: i64, previous_id: Option<i64> },
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub checked: u64,
    /// The last entry's id and hash (0 and the genesis hash for an empty log).
    pub head_id: i64,
    pub head_hash: String,
    /// Where the expected head (an anchor recorded earlier) was found, if asked for one.
    pub anchor_id: Option<i64>,
    pub broken: Option<ChainBreak>,
}

/// Walks entries in id order and stops at the first break.
#[derive(Debug)]
pub struct ChainWalk {
    report: ChainReport,
    anchor: Option<String>,
}

impl ChainWalk {
    /// `anchor`: a head hash recorded earlier that must still be in the chain.
    pub fn new(anchor: Option<&str>) -> ChainWalk {
        let anchor = anchor.map(str::to_ascii_lowercase);
        ChainWalk {
            report: ChainReport {
                checked: 0,
                head_id: 0,
                head_hash: GENESIS_HASH.to_string(),
                anchor_id: anchor.as_deref().filter(|a| *a == GENESIS_HASH).map(|_| 0),
                broken: None,
            },
            anchor,
        }
    }

    pub fn checked(&self) -> u64 {
        self.report.checked
    }

    /// Checks the next entry; false once the chain is broken (stop walking).
    pub fn check(&mut self, entry: &AuditEntry) -> bool {
        if self.report.broken.is_some() {
            return false;
        }
        let report = &mut self.report;
        report.checked += 1;
        let previous_id = (report.checked > 1).then_some(report.head_id);
        let expected_id = report.head_id + 1;
        let content_intact = entry.compute_hash() == entry.hash;
        let linked = entry.prev_hash == report.head_hash;
        let broken = if entry.id > expected_id && !linked {
            Some(ChainBreak::Removed {
                first: expected_id,
                last: entry.id - 1,
            })
        } else if !content_intact {
            Some(ChainBreak::Altered { id: entry.id })
        } else if entry.id != expected_id {
            Some(ChainBreak::Inserted { id: entry.id })
        } else if !linked {
            Some(ChainBreak::Relinked {
                id: entry.id,
                previous_id,
            })
        } else {
            None
        };
        if broken.is_some() {
            report.broken = broken;
            return false;
        }
        report.head_id = entry.id;
        report.head_hash = entry.hash.clone();
        if self.anchor.as_deref() == Some(entry.hash.as_str()) {
            report.anchor_id = Some(entry.id);
        }
        true
    }

    pub fn finish(self) -> ChainReport {
        self.report
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
    pub const MESSAGE_WITHDRAWN: &str = "message.withdrawn";
    pub const MESSAGE_CANCELLED: &str = "message.cancelled";
    pub const MESSAGE_RETRIED: &str = "message.retried";
    pub const MESSAGES_QUEUED: &str = "messages.queued";
    pub const USER_BLOCKED: &str = "user.blocked";
    pub const STATS_REBUILT: &str = "stats.rebuilt";
    pub const DEMO_GENERATED: &str = "demo.generated";
    pub const DATABASE_CREATED: &str = "database.created";
    pub const PAYMENT_ASSIGNED: &str = "payment.assigned";
    pub const PAYMENT_RESOLVED: &str = "payment.resolved";
    pub const PAYMENT_REFUNDED: &str = "payment.refunded";
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

    /// A valid chain of `n` entries.
    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|id| {
                let mut e = entry();
                e.id = id;
                e.prev_hash = prev.clone();
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn walk(entries: &[AuditEntry], anchor: Option<&str>) -> ChainReport {
        let mut w = ChainWalk::new(anchor);
        for e in entries {
            if !w.check(e) {
                break;
            }
        }
        w.finish()
    }

    #[test]
    fn an_intact_chain_reports_its_head_and_anchor() {
        let entries = chain(4);
        let r = walk(&entries, Some(&entries[1].hash.to_uppercase()));
        assert_eq!(r.broken, None);
        assert_eq!((r.checked, r.head_id), (4, 4));
        assert_eq!(r.head_hash, entries[3].hash);
        assert_eq!(r.anchor_id, Some(2));
        assert_eq!(walk(&[], Some(GENESIS_HASH)).anchor_id, Some(0));
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let mut e = chain(4);
        e[1].reason = Some("edited".into());
        assert_eq!(walk(&e, None).broken, Some(ChainBreak::Altered { id: 2 }));

        let mut e = chain(5);
        e.drain(1..3);
        assert_eq!(
            walk(&e, None).broken,
            Some(ChainBreak::Removed { first: 2, last: 3 })
        );

        // Re-hashed after editing: the next entry no longer chains to it.
        let mut e = chain(4);
        e[1].reason = Some("edited".into());
        e[1].hash = e[1].compute_hash();
        assert_eq!(
            walk(&e, None).broken,
            Some(ChainBreak::Relinked {
                id: 3,
                previous_id: Some(2)
            })
        );

        // Appended with a correct link but an invented id.
        let mut e = chain(3);
        let mut forged = e[2].clone();
        forged.id = 9;
        forged.prev_hash = e[2].hash.clone();
        forged.hash = forged.compute_hash();
        e.push(forged);
        assert_eq!(walk(&e, None).broken, Some(ChainBreak::Inserted { id: 9 }));
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
