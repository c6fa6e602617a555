//! Audit entries and the hash chain that makes tampering evident.
//!
//! Each entry stores `hash = SHA-256(prev_hash, content)`, where `prev_hash` is
//! the previous entry's hash (64 zeros for the first). Changing, removing or
//! inserting an entry out of band breaks the chain at that point.
//!
//! Personal data and erasure (issue 20). An entry has a format version, and
//! the version is part of what is hashed:
//! - format 1 (every entry written before the `audit_personal` migration)
//!   hashes all its fields in clear, exactly as before, so existing chains
//!   keep verifying unchanged;
//! - format 2 keeps personal fields (the free-text `reason`, and `old_value`/
//!   `new_value` when the writer marks them as naming a person) out of the
//!   entry: each goes to `audit_personal` with a random 128-bit salt, and the
//!   chain hashes only `SHA-256(field, salt, value)`, the field's digest.
//!   Erasing a person deletes the value and the salt; the digest stays, so the
//!   entry's hash still verifies, while the salt makes the digest useless for
//!   guessing the erased value. Changing a digest, adding or dropping a
//!   personal field, or flipping the format breaks the entry's hash.
//!
//! Format-1 entries cannot be erased without breaking the chain; `users
//! erase` reports how many of a person's entries are of that kind.

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
    /// How the entry is hashed: `FORMAT_CLEAR` or `FORMAT_PERSONAL_DIGESTS`.
    pub format: u8,
    /// Personal fields kept outside the entry (format 2), in field order.
    #[serde(skip)]
    pub personal: Vec<PersonalField>,
    /// The operation (one write command) this entry belongs to; None before
    /// operations were recorded.
    pub operation_id: Option<String>,
}

/// Entries written before personal fields moved out: everything in clear.
pub const FORMAT_CLEAR: u8 = 1;
/// Personal fields stored apart, hashed as salted digests.
pub const FORMAT_PERSONAL_DIGESTS: u8 = 2;

/// What an erased personal value is shown as.
pub const ERASED: &str = "(erased)";

/// Names of the entry columns a personal field can stand for.
pub mod field {
    pub const OLD_VALUE: &str = "old_value";
    pub const NEW_VALUE: &str = "new_value";
    pub const REASON: &str = "reason";
}

/// One personal field of a format-2 entry (a row of `audit_personal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalField {
    /// One of the `field` names.
    pub field: String,
    /// `personal_digest(field, salt, value)`, hex; part of the entry's hash.
    pub digest: String,
    /// The value and its salt (hex); both `None` once erased.
    pub value: Option<String>,
    pub salt: Option<String>,
}

impl PersonalField {
    /// Seals `value` with a fresh random salt.
    pub fn seal(field: &str, value: String) -> anyhow::Result<PersonalField> {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt)
            .map_err(|e| anyhow::anyhow!("no random numbers for an audit salt: {e}"))?;
        let salt = hex::encode(salt);
        Ok(PersonalField {
            field: field.to_string(),
            digest: personal_digest(field, &salt, &value),
            value: Some(value),
            salt: Some(salt),
        })
    }

    /// Value and salt both present and matching the digest, or both erased.
    pub fn is_consistent(&self) -> bool {
        match (&self.value, &self.salt) {
            (Some(value), Some(salt)) => personal_digest(&self.field, salt, value) == self.digest,
            (None, None) => true,
            _ => false,
        }
    }
}

/// The digest of a personal value: field name, salt and value, length-prefixed.
pub fn personal_digest(field: &str, salt: &str, value: &str) -> String {
    let mut h = Sha256::new();
    for part in ["paytrack.audit.personal", field, salt, value] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
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

/// Actions whose `old_value`/`new_value` can name a person (a name before and
/// after an edit): those are stored apart as salted digests, so that they can
/// be erased. `reason` is always stored so: it is free text typed by people.
/// A new action that records names (a booking edit) belongs in this list;
/// no action of the first round puts a name in those columns.
pub const ACTIONS_WITH_PERSONAL_VALUES: &[&str] = &[action::BOOKING_EDITED];

fn values_are_personal(action: &str) -> bool {
    ACTIONS_WITH_PERSONAL_VALUES.contains(&action)
}

impl AuditEntry {
    /// Builds the entry to append after `prev_hash` (format 2): personal
    /// fields moved apart with fresh salts, and the hash computed. The one
    /// way to make a new entry, for single appends and batches alike.
    pub fn seal(
        new: NewAuditEntry,
        id: i64,
        at: String,
        actor: &str,
        prev_hash: String,
    ) -> anyhow::Result<AuditEntry> {
        let mut personal = Vec::new();
        let mut take = |name: &str, value: Option<String>| -> anyhow::Result<()> {
            if let Some(value) = value {
                personal.push(PersonalField::seal(name, value)?);
            }
            Ok(())
        };
        let (old_value, new_value) = if values_are_personal(new.action) {
            take(field::OLD_VALUE, new.old_value)?;
            take(field::NEW_VALUE, new.new_value)?;
            (None, None)
        } else {
            (new.old_value, new.new_value)
        };
        take(field::REASON, new.reason)?;
        personal.sort_by(|a, b| a.field.cmp(&b.field));
        let mut entry = AuditEntry {
            id,
            at,
            actor: actor.to_string(),
            action: new.action.to_string(),
            booking_id: new.booking_id,
            old_value,
            new_value,
            reason: None,
            details: if new.details.is_null() {
                "{}".to_string()
            } else {
                new.details.to_string()
            },
            prev_hash,
            hash: String::new(),
            format: FORMAT_PERSONAL_DIGESTS,
            personal,
            operation_id: None,
        };
        entry.hash = entry.compute_hash();
        Ok(entry)
    }

    /// The entry as people read it: personal values back in their columns,
    /// `(erased)` where a value was erased.
    #[must_use]
    pub fn revealed(mut self) -> AuditEntry {
        for p in &self.personal {
            let shown = Some(p.value.clone().unwrap_or_else(|| ERASED.to_string()));
            match p.field.as_str() {
                field::OLD_VALUE => self.old_value = shown,
                field::NEW_VALUE => self.new_value = shown,
                field::REASON => self.reason = shown,
                _ => {}
            }
        }
        self
    }

    /// True when the entry matches its own hash and every personal value
    /// still present matches its digest.
    pub fn is_intact(&self) -> bool {
        self.compute_hash() == self.hash && self.personal.iter().all(PersonalField::is_consistent)
    }

    /// The hash this entry should have, given its content and `prev_hash`.
    /// The only hashing function of the log (see the module doc for formats).
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let tag = (self.format != FORMAT_CLEAR).then(|| format!("paytrack.audit.v{}", self.format));
        if let Some(tag) = &tag {
            // Format 1 has no tag, so its hashes are exactly the old ones;
            // any other format starts with one, so relabelling changes the hash.
            hash_field(&mut h, Some(tag));
        }
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
            hash_field(&mut h, field);
        }
        if tag.is_some() {
            hash_field(&mut h, Some(&self.personal.len().to_string()));
            for p in &self.personal {
                hash_field(&mut h, Some(&p.field));
                hash_field(&mut h, Some(&p.digest));
            }
        }
        // Hashed only when present, so entries written before operation ids
        // existed keep the hashes they were chained with.
        if let Some(op) = &self.operation_id {
            h.update(b"O");
            h.update((op.len() as u64).to_le_bytes());
            h.update(op.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

fn hash_field(h: &mut Sha256, field: Option<&str>) {
    match field {
        None => h.update(b"N"),
        Some(text) => {
            h.update(b"S");
            h.update((text.len() as u64).to_le_bytes());
            h.update(text.as_bytes());
        }
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
        let content_intact = entry.is_intact();
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

    /// The next entry cannot even be read as an entry (a column of the wrong
    /// type, written past the triggers): it was altered. `id` is its id when
    /// that much is readable.
    pub fn unreadable(&mut self, id: Option<i64>) {
        if self.report.broken.is_none() {
            self.report.checked += 1;
            let id = id.unwrap_or(self.report.head_id + 1);
            self.report.broken = Some(ChainBreak::Altered { id });
        }
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
    /// Fields of a booking changed (import, `bookings edit`, undo): old and
    /// new values of each changed field in the details.
    pub const BOOKING_EDITED: &str = "booking.edited";
    pub const BOOKING_ADDED: &str = "booking.added";
    pub const USER_UNBLOCKED: &str = "user.unblocked";
    pub const OPERATION_UNDONE: &str = "operation.undone";
    pub const PAYMENT_ASSIGNED: &str = "payment.assigned";
    pub const PAYMENT_RESOLVED: &str = "payment.resolved";
    pub const PAYMENT_REFUNDED: &str = "payment.refunded";
    pub const USER_ERASED: &str = "user.erased";
    pub const RETENTION_APPLIED: &str = "retention.applied";

    /// The actions `paytrack undo` reverses (`services::undo`); an operation
    /// with none of them gets no "undo with" hint.
    pub fn is_undoable(action: &str) -> bool {
        matches!(action, STATUS_CHANGED | BOOKING_EDITED | BOOKING_ADDED)
    }
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
            format: FORMAT_CLEAR,
            personal: Vec::new(),
            operation_id: None,
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
        e.operation_id = Some("7f3a".into());
        assert_ne!(
            e.compute_hash(),
            base,
            "the operation id is hashed when present"
        );
        let mut e = entry();
        e.actor = "admi".into();
        e.action = format!("n{}", e.action);
        assert_ne!(e.compute_hash(), base, "moving text between fields");
    }

    fn sealed_chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|id| {
                let new = NewAuditEntry {
                    action: action::STATUS_CHANGED,
                    booking_id: Some(7),
                    reason: Some(format!("Иван Петров asked, #{id}")),
                    ..Default::default()
                };
                let e = AuditEntry::seal(
                    new,
                    id,
                    "2024-12-01T00:00:00Z".into(),
                    "admin",
                    prev.clone(),
                )
                .unwrap();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn old_entries_hash_exactly_as_before() {
        // The hash the first round's code gave `entry()` (recomputed independently).
        let mut e = entry();
        e.hash = e.compute_hash();
        assert_eq!(
            e.hash,
            "e73fc45075beae622f68204fdd4f79926efd669402bcce1f9aea579bfde70dc9"
        );
        let mut relabelled = e.clone();
        relabelled.format = FORMAT_PERSONAL_DIGESTS;
        assert_ne!(relabelled.compute_hash(), e.hash, "the format is hashed");
        assert_eq!(walk(&chain(3), None).broken, None);
    }

    #[test]
    fn personal_fields_leave_the_entry_and_survive_erasure() {
        let mut e = sealed_chain(3);
        assert_eq!(e[1].reason, None, "the reason is not in the entry");
        assert_eq!(e[1].personal.len(), 1);
        assert!(e[1].clone().revealed().reason.unwrap().contains("Иван"));
        assert_eq!(walk(&e, None).broken, None);
        // Erased: value and salt gone, the chain still verifies.
        e[1].personal[0].value = None;
        e[1].personal[0].salt = None;
        assert_eq!(walk(&e, None).broken, None);
        assert_eq!(e[1].clone().revealed().reason.as_deref(), Some(ERASED));

        // A changed digest, a changed value, a half-erased field, a dropped field.
        let mut t = e.clone();
        t[1].personal[0].digest = "0".repeat(64);
        assert_eq!(walk(&t, None).broken, Some(ChainBreak::Altered { id: 2 }));
        let mut t = sealed_chain(3);
        t[1].personal[0].value = Some("someone else".into());
        assert_eq!(walk(&t, None).broken, Some(ChainBreak::Altered { id: 2 }));
        let mut t = sealed_chain(3);
        t[1].personal[0].salt = None;
        assert_eq!(walk(&t, None).broken, Some(ChainBreak::Altered { id: 2 }));
        let mut t = sealed_chain(3);
        t[1].personal.clear();
        assert_eq!(walk(&t, None).broken, Some(ChainBreak::Altered { id: 2 }));
        // Downgraded to format 1 with the reason put back in clear.
        let mut t = sealed_chain(3);
        t[1].reason = t[1].personal[0].value.clone();
        t[1].personal.clear();
        t[1].format = FORMAT_CLEAR;
        assert_eq!(walk(&t, None).broken, Some(ChainBreak::Altered { id: 2 }));
    }

    #[test]
    fn salts_are_random() {
        let a = PersonalField::seal(field::REASON, "x".into()).unwrap();
        let b = PersonalField::seal(field::REASON, "x".into()).unwrap();
        assert_ne!(a.digest, b.digest);
    }
}
