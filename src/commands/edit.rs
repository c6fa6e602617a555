//! `bookings edit`: an admin's fixes to one booking or a group (`--ids-from`):
//! a transfer to another stream or course, discount, referral, names. One
//! transaction; the write itself is `services::booking_fields::set_fields`.

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::Context;
use std::path::PathBuf;

use clap::Args;

use crate::args::{booking_id, DryRun, ForceReason, Setting};
use crate::domain::booking::BookingFields;
use crate::error::{bad_input, exit, PaytrackError};
use crate::services::booking_fields::{set_fields, EditOrigin, FieldChanges};
use crate::services::placement::{check_placement, PlacementRules};

#[derive(Debug, Args)]
#[command(mut_arg("force", |a| a.help("Move into a stream with no seats left (needs --reason)")))]
#[command(mut_arg("reason", |a| a.help("Why; stored in the audit log")))]
#[command(mut_arg("dry_run", |a| a.help("Show before → after; write nothing")))]
pub struct EditArgs {
    /// Booking id (or --ids-from).
    #[arg(value_parser = booking_id, required_unless_present = "ids_from")]
    pub id: Option<i64>,
    /// Apply to the ids in this file, one per line (`-` for stdin): one transaction, all or nothing.
    #[arg(long, value_name = "FILE", conflicts_with = "id")]
    pub ids_from: Option<PathBuf>,
    /// Move to this stream ("" for no stream).
    #[arg(long)]
    pub stream: Option<String>,
    /// Move to this course.
    #[arg(long)]
    pub course: Option<i64>,
    /// Discount in percent (0 to 100), or none.
    #[arg(long, value_parser = discount_setting)]
    pub discount: Option<Setting<i64>>,
    /// Referral code ("" clears it).
    #[arg(long)]
    pub referral: Option<String>,
    /// Telegram username, with or without @ ("" clears it).
    #[arg(long)]
    pub username: Option<String>,
    /// First name ("" clears it).
    #[arg(long)]
    pub first_name: Option<String>,
    /// Refuse (exit 6) unless the booking is in this stream now ("" for none).
    #[arg(long, value_name = "STREAM")]
    pub expect_stream: Option<String>,
    /// Add the target stream to the catalogue if it is missing.
    #[arg(long)]
    pub create_stream: bool,
    #[command(flatten)]
    pub forcing: ForceReason,
    #[command(flatten)]
    pub preview: DryRun,
    /// With --ids-from: change nothing, and exit 10 naming the count, when the file lists more than N.
    #[arg(long, value_name = "N", requires = "ids_from")]
    pub max: Option<u64>,
}

fn discount_setting(text: &str) -> Result<Setting<i64>, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Setting::Clear);
    }
    match text.trim().parse::<i64>() {
        Ok(n) if (0..=100).contains(&n) => Ok(Setting::To(n)),
        _ => Err(crate::tr!(
            "'{text}' is not a discount (0 to 100, or none)",
            "'{text}' — не скидка (от 0 до 100 или none)"
        )),
    }
}

pub fn run(ctx: &Context, args: EditArgs) -> Result<u8> {
    let changes = requested_changes(&args);
    if changes.is_empty() {
        return Err(bad_input(
            "nothing to change: give --stream, --course, --discount, --referral, --username or --first-name",
        ));
    }
    let ids = match (&args.id, &args.ids_from) {
        (Some(id), None) => vec![*id],
        (None, Some(file)) => super::read_ids(file)?,
        _ => return Err(bad_input("name a booking id or --ids-from FILE")),
    };
    let max = args.max.filter(|_| !args.preview.dry_run);
    if let Some(code) = super::over_max(ctx, ids.len() as u64, max, "bookings listed") {
        return Ok(code);
    }
    let reason = args.forcing.reason.clone().filter(|r| !r.trim().is_empty());
    let (edits, _) = super::write_unless(
        ctx,
        |tx| {
            let mut edits = Vec::with_capacity(ids.len());
            for (i, &id) in ids.iter().enumerate() {
                if i % 1024 == 0 {
                    crate::interrupt::check()?;
                }
                let booking = tx.booking(id)?.ok_or_else(|| {
                    PaytrackError::NotFound(crate::tr!(
                        "booking {id} not found",
                        "бронь {id} не найдена"
                    ))
                })?;
                if let Some(expected) = &args.expect_stream {
                    let now_in = booking.course_stream.as_deref().unwrap_or("");
                    if now_in != expected {
                        return Err(PaytrackError::ExpectationFailed(format!(
                            "booking {id} is in stream '{}', expected '{}'; nothing changed",
                            crate::text::for_terminal(now_in),
                            crate::text::for_terminal(expected)
                        ))
                        .into());
                    }
                }
                let current = BookingFields::of(&booking);
                let target = current.with(&changes).map_err(bad_input)?;
                let moves = target.course_id != current.course_id
                    || target.course_stream != current.course_stream;
                let mut extra = json!({});
                if moves {
                    let placement = check_placement(
                        tx,
                        target.course_id,
                        target.course_stream.as_deref(),
                        PlacementRules {
                            create_stream: args.create_stream,
                            over_capacity: args.forcing.force && reason.is_some(),
                        },
                        ctx.now,
                    )
                    .map_err(|e| e.context(format!("booking {id}")))?;
                    extra = json!({
                        "stream_created": placement.stream_created,
                        "over_capacity": placement.over_capacity,
                    });
                }
                let done = set_fields(
                    tx,
                    id,
                    &target,
                    &EditOrigin {
                        source: "bookings edit",
                        reason: reason.as_deref(),
                        extra,
                    },
                    &ctx.actor,
                    ctx.now,
                )?;
                edits.push((id, done));
            }
            Ok(edits)
        },
        |edits: &Vec<(i64, FieldChanges)>| {
            !args.preview.dry_run && edits.iter().any(|(_, c)| !c.is_empty())
        },
    )?;
    show(ctx, &args, &edits);
    Ok(exit::OK)
}

/// The fields the flags set, as the JSON keys of `BookingFields`.
fn requested_changes(args: &EditArgs) -> Map<String, Value> {
    let text = |v: &str| {
        let v = v.trim();
        if v.is_empty() {
            Value::Null
        } else {
            Value::String(v.to_string())
        }
    };
    let mut map = Map::new();
    if let Some(s) = &args.stream {
        map.insert("course_stream".into(), text(s));
    }
    if let Some(c) = args.course {
        map.insert("course_id".into(), json!(c));
    }
    if let Some(d) = args.discount {
        let value = match d {
            Setting::Clear => Value::Null,
            Setting::To(n) => json!(n),
        };
        map.insert("discount_percent".into(), value);
    }
    if let Some(r) = &args.referral {
        map.insert("referral_code".into(), text(r));
    }
    if let Some(u) = &args.username {
        map.insert("username".into(), text(u.trim().trim_start_matches('@')));
    }
    if let Some(f) = &args.first_name {
        map.insert("first_name".into(), text(f));
    }
    map
}

/// Before → after of each booking, on stderr.
fn show(ctx: &Context, args: &EditArgs, edits: &[(i64, FieldChanges)]) {
    let out = &ctx.out;
    let shown = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "—".to_string(),
        Some(Value::String(s)) => crate::text::for_terminal(s).into_owned(),
        Some(other) => other.to_string(),
    };
    for (id, change) in edits {
        if change.is_empty() {
            out.note(&format!(
                "{} {id}: {}",
                out.tr("booking", "бронь"),
                out.tr("already so; nothing to change", "уже так; менять нечего")
            ));
            continue;
        }
        let fields: Vec<String> = change
            .after
            .keys()
            .map(|k| {
                format!(
                    "{k} {} → {}",
                    shown(change.before.get(k)),
                    shown(change.after.get(k))
                )
            })
            .collect();
        out.note(&format!(
            "{} {id}: {}",
            out.tr("booking", "бронь"),
            fields.join("; ")
        ));
    }
    let changed = edits.iter().filter(|(_, c)| !c.is_empty()).count();
    let head = if args.preview.dry_run {
        out.tr(
            "dry run, nothing written: would change",
            "пробный запуск, ничего не записано: будет изменено",
        )
    } else {
        out.tr("changed", "изменено")
    };
    out.note(&format!(
        "{head} {changed} {}",
        out.tr("bookings", "бронирований")
    ));
}
