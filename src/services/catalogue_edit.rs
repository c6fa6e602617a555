//! Catalogue edits (`streams add|edit`, `courses add|edit|template`): each
//! one audited transaction body, the audit entry listing the fields that
//! changed. The commands parse the flags and say what happened.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::db::catalogue::StreamChanges;
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::catalogue::{Course, Stream};
use crate::domain::message::MessageKind;
use crate::domain::money::format_amount;
use crate::error::{bad_input, PaytrackError};
use crate::services::messages::{check_course_template, recheck_course_templates};

/// `add` (the record must be new) or `edit` (it must exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saving {
    Add,
    Edit,
}

/// A capacity below the stream's confirmed students: refused, or set all
/// the same (`--force`) and reported back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overbooking {
    Refuse,
    Allow,
}

/// What `streams add|edit` asks for.
pub struct StreamEdit<'a> {
    pub course_id: i64,
    pub code: &'a str,
    pub changes: &'a StreamChanges,
    /// `--chat-link`: `Some(None)` clears it.
    pub chat_link: Option<Option<String>>,
    pub saving: Saving,
    pub overbooking: Overbooking,
}

/// What a stream save did: the stream after it (`None`: nothing to change),
/// and (confirmed, capacity) when a forced capacity is below the confirmed.
pub struct StreamSaved {
    pub after: Option<Stream>,
    pub overbooked: Option<(i64, i64)>,
}

/// Saves a stream (see `StreamEdit`); an edit that changes nothing writes
/// nothing. A capacity below the stream's confirmed students is refused
/// (exit 5) unless allowed: the bot's next `bookings add` would be refused (issue 25).
pub fn save_stream(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    edit: &StreamEdit,
) -> Result<StreamSaved> {
    let StreamEdit {
        course_id, code, ..
    } = *edit;
    let changes = edit.changes;
    let mut overbooked = None;
    if tx.course(course_id)?.is_none() {
        return Err(PaytrackError::NotFound(format!(
            "course {course_id} not found (add it with `paytrack courses add {course_id} --name …`)"
        ))
        .into());
    }
    let before = tx.stream(course_id, code)?;
    match (&before, edit.saving) {
        (Some(_), Saving::Add) => {
            return Err(bad_input(format!(
                "stream {} of course {course_id} already exists; change it with `paytrack streams edit`",
                crate::text::shown(code)
            )))
        }
        (None, Saving::Edit) => {
            return Err(PaytrackError::NotFound(format!(
                "stream {} of course {course_id} not found",
                crate::text::shown(code)
            ))
            .into())
        }
        _ => {}
    }
    let after = changes.apply_to(before.as_ref(), course_id, code);
    if after.price_minor.is_some() && after.currency.is_none() {
        return Err(bad_input(
            "a price needs a currency: add --currency, e.g. --currency RUB",
        ));
    }
    if let Some(capacity) = after.capacity.filter(|_| changes.capacity.is_some()) {
        let confirmed = tx.seats_taken(course_id, code)?;
        if confirmed > capacity {
            if edit.overbooking == Overbooking::Refuse {
                return Err(PaytrackError::TransitionRefused(format!(
                    "stream {} has {confirmed} confirmed students, more than a capacity of {capacity}: \
                     every new booking would be refused; nothing changed (add --force to set it all the same)",
                    crate::text::shown(code)
                ))
                .into());
            }
            overbooked = Some((confirmed, capacity));
        }
    }
    let subject = json!({ "course_id": course_id, "code": code });
    let link_before = tx.stream_chat_link(course_id, code)?;
    let link_change = edit.chat_link.clone().filter(|l| *l != link_before);
    if let Some(link) = &link_change {
        tx.set_stream_chat_link(course_id, code, link.as_deref(), now)?;
        append_edit(
            tx,
            actor,
            now,
            action::STREAM_EDITED,
            Some(json!({ "chat_link": link_before })),
            json!({ "chat_link": link }),
            subject.clone(),
        )?;
        recheck_course_templates(tx, course_id)?;
    }
    if before.as_ref() == Some(&after) {
        return Ok(StreamSaved {
            after: link_change.map(|_| after),
            overbooked,
        });
    }
    tx.upsert_stream(course_id, code, changes, now)?;
    recheck_course_templates(tx, course_id)?;
    let action = match edit.saving {
        Saving::Add => action::STREAM_ADDED,
        Saving::Edit => action::STREAM_EDITED,
    };
    let record = before.as_ref().map(stream_record);
    append_edit(
        tx,
        actor,
        now,
        action,
        record,
        stream_record(&after),
        subject,
    )?;
    Ok(StreamSaved {
        after: Some(after),
        overbooked,
    })
}

/// `courses add|edit`: `name` and `template` (`Some(None)` resets it) as
/// given; returns whether anything changed.
pub fn save_course(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    id: i64,
    name: Option<String>,
    template: Option<Option<String>>,
    saving: Saving,
) -> Result<bool> {
    let before = tx.course(id)?;
    let current = match (&before, saving) {
        (Some(_), Saving::Add) => {
            return Err(bad_input(format!(
                "course {id} already exists; change it with `paytrack courses edit`"
            )))
        }
        (None, Saving::Edit) => {
            return Err(PaytrackError::NotFound(format!("course {id} not found")).into())
        }
        (Some(course), Saving::Edit) => course.clone(),
        (None, Saving::Add) => Course {
            id,
            name: String::new(),
            message_template: None,
        },
    };
    let after = Course {
        name: name.unwrap_or_else(|| current.name.clone()),
        message_template: template.unwrap_or_else(|| current.message_template.clone()),
        ..current
    };
    if before.as_ref() == Some(&after) {
        return Ok(false);
    }
    if let Some(template) = &after.message_template {
        check_course_template(tx, id, &after.name, template)?;
    }
    tx.upsert_course(
        id,
        Some(&after.name),
        Some(after.message_template.as_deref()),
        now,
    )?;
    recheck_course_templates(tx, id)?;
    let action = match saving {
        Saving::Add => action::COURSE_ADDED,
        Saving::Edit => action::COURSE_EDITED,
    };
    let record = before.as_ref().map(course_record);
    append_edit(
        tx,
        actor,
        now,
        action,
        record,
        course_record(&after),
        json!({ "course_id": id }),
    )?;
    Ok(true)
}

/// `courses template ID --kind K --file F | --reset`: sets (`None`: resets)
/// one of a course's message templates.
pub fn set_course_template(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    course_id: i64,
    kind: MessageKind,
    text: Option<&str>,
) -> Result<()> {
    let course = tx.course(course_id)?.ok_or_else(|| {
        PaytrackError::NotFound(crate::tr!(
            "course {} not found",
            "курс {} не найден",
            course_id
        ))
    })?;
    if let Some(text) = text {
        check_course_template(tx, course_id, &course.name, text)?;
    }
    let before = match kind {
        MessageKind::Confirmation => course.message_template.clone(),
        _ => tx.kind_template(course_id, kind.name())?,
    };
    match kind {
        MessageKind::Confirmation => {
            tx.upsert_course(course_id, None, Some(text), now)?;
        }
        _ => tx.set_kind_template(course_id, kind.name(), text, now)?,
    }
    append_edit(
        tx,
        actor,
        now,
        action::COURSE_EDITED,
        Some(json!({ "template": kind.name(), "text": before })),
        json!({ "template": kind.name(), "text": text }),
        json!({ "course_id": course_id, "kind": kind.name() }),
    )
}

/// A stream as the audit log records it (price in the machine form).
fn stream_record(s: &Stream) -> Value {
    json!({
        "name": s.name,
        "price": s.price_minor.map(format_amount),
        "currency": s.currency,
        "capacity": s.capacity,
    })
}

fn course_record(c: &Course) -> Value {
    json!({ "name": c.name, "message_template": c.message_template })
}

/// Audits a catalogue edit: old and new values list the fields that changed
/// as `field=value` (short, for `audit tail`); the details hold `subject` and
/// the full records before and after.
fn append_edit(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    action: &'static str,
    before: Option<Value>,
    after: Value,
    mut subject: Value,
) -> Result<()> {
    let empty = serde_json::Map::new();
    let old = before.as_ref().and_then(Value::as_object).unwrap_or(&empty);
    let new = after.as_object().unwrap_or(&empty);
    let shown = |v: Option<&Value>| -> String {
        let text = match v {
            None | Some(Value::Null) => "none".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        crate::text::truncate(&text.replace('\n', " "), 40)
    };
    let mut old_fields = Vec::new();
    let mut new_fields = Vec::new();
    for (key, value) in new {
        if old.get(key) != Some(value) {
            if before.is_some() {
                old_fields.push(format!("{key}={}", shown(old.get(key))));
            }
            if !value.is_null() || before.is_some() {
                new_fields.push(format!("{key}={}", shown(Some(value))));
            }
        }
    }
    let old_value = (!old_fields.is_empty()).then(|| old_fields.join(" "));
    let new_value = Some(new_fields.join(" "));
    subject["before"] = before.unwrap_or(Value::Null);
    subject["after"] = after;
    tx.append_audit(
        actor,
        now,
        NewAuditEntry {
            action,
            old_value,
            new_value,
            reason: None,
            booking_id: None,
            details: subject,
        },
    )?;
    Ok(())
}
