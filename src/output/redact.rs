//! `--redact` for listings and `--full-body` for message bodies (issue 20):
//! what identifies a student is left out before rows reach any format, so
//! table, CSV and JSON print the same minimum.

use crate::domain::audit::{field, AuditEntry, ERASED};
use crate::domain::booking::Booking;
use crate::domain::catalogue::StreamMember;
use crate::domain::message::OutboxMessage;
use crate::domain::payment::Payment;

/// What a left-out free-text value is shown as.
pub const REDACTED: &str = "(redacted)";

/// How many characters of a message body a listing shows unless asked for all.
pub const BODY_PREVIEW_CHARS: usize = 40;

/// A row that can leave out what identifies a person.
pub trait Redact {
    fn redact(&mut self);
}

/// Redacts every row when `on`.
pub fn redact_all<T: Redact>(rows: &mut [T], on: bool) {
    if on {
        rows.iter_mut().for_each(Redact::redact);
    }
}

fn redacted(value: Option<&String>) -> Option<String> {
    value.map(|_| REDACTED.to_string())
}

impl Redact for Booking {
    fn redact(&mut self) {
        self.username = None;
        self.first_name = None;
    }
}

impl Redact for StreamMember {
    fn redact(&mut self) {
        self.username = None;
        self.first_name = None;
    }
}

impl Redact for Payment {
    /// Bank descriptions carry payers' names; resolution notes may too.
    fn redact(&mut self) {
        self.description = redacted(self.description.as_ref());
        self.resolution_note = redacted(self.resolution_note.as_ref());
    }
}

impl Redact for OutboxMessage {
    fn redact(&mut self) {
        if !self.body.is_empty() {
            self.body = REDACTED.to_string();
        }
    }
}

impl Redact for AuditEntry {
    /// Free-text reasons, and the values stored as personal fields; an
    /// erased value stays shown as erased.
    fn redact(&mut self) {
        let hide = |v: &mut Option<String>| {
            if v.as_deref().is_some_and(|t| t != ERASED) {
                *v = Some(REDACTED.to_string());
            }
        };
        hide(&mut self.reason);
        for p in &self.personal {
            match p.field.as_str() {
                field::OLD_VALUE => hide(&mut self.old_value),
                field::NEW_VALUE => hide(&mut self.new_value),
                _ => {}
            }
        }
    }
}

/// Shortens message bodies to a preview (`…` marks the cut) unless `full`.
pub fn preview_bodies(messages: &mut [OutboxMessage], full: bool) {
    if full {
        return;
    }
    for m in messages {
        if m.body.chars().count() > BODY_PREVIEW_CHARS {
            let mut cut: String = m.body.chars().take(BODY_PREVIEW_CHARS).collect();
            cut.push('…');
            m.body = cut;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> OutboxMessage {
        OutboxMessage {
            id: 1,
            booking_id: 1,
            chat_id: 1,
            kind: "confirmation".into(),
            body: body.into(),
            status: crate::domain::message::MessageStatus::Sent,
            attempts: 1,
            next_attempt_at: String::new(),
            last_error: None,
            created_at: String::new(),
            sent_at: None,
            claimed_by: None,
            claimed_at: None,
            params: None,
            dedupe_key: None,
        }
    }

    #[test]
    fn bodies_are_previewed_on_a_character_boundary() {
        let long = "Здравствуйте, Зельда! Оплата курса «Вайб кодинг» подтверждена.";
        let mut rows = vec![message(long), message("short")];
        preview_bodies(&mut rows, false);
        assert_eq!(rows[0].body.chars().count(), BODY_PREVIEW_CHARS + 1);
        assert!(rows[0].body.ends_with('…'));
        assert_eq!(rows[1].body, "short");
        let mut rows = vec![message(long)];
        preview_bodies(&mut rows, true);
        assert_eq!(rows[0].body, long);
        redact_all(&mut rows, true);
        assert_eq!(rows[0].body, REDACTED);
    }
}
