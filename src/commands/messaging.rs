//! `bookings remind` and `streams broadcast`: messages an admin sends to
//! many students at once, previewed (`--dry-run`) and confirmed before they
//! are queued.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Context;
use std::path::PathBuf;

use clap::Args;

use crate::args::{Confirm, DryRun, JsonFlag};

use crate::domain::booking::{Booking, BookingFilter, Sort};
use crate::domain::message::MessageKind;
use crate::domain::time::parse_age;
use crate::domain::Status;
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::views;
use crate::services::catalogue::resolve_stream;
use crate::services::messages::{
    check_course_template, queue_broadcast, queue_reminders, QueueReport,
};

#[derive(Debug, Args)]
#[command(mut_arg("dry_run", |a| a.help("Show who would get a reminder; queue nothing")))]
pub struct RemindArgs {
    /// Only bookings in this status.
    #[arg(
        long = "status",
        value_enum,
        ignore_case = true,
        value_name = "STATUS",
        default_value = "pending"
    )]
    pub status: Status,
    /// Only bookings paytrack has known for longer than this (2d, 36h, 1w): since their
    /// first import, or their created_at when no import brought them.
    #[arg(long, value_name = "AGE")]
    pub older_than: String,
    /// Only this stream.
    #[arg(long)]
    pub stream: Option<String>,
    /// Only this course.
    #[arg(long)]
    pub course: Option<i64>,
    /// Skip a booking that got a reminder queued within this long (3d, 12h).
    #[arg(long, value_name = "AGE", default_value = "3d")]
    pub every: String,
    /// Count --older-than from the booking's created_at (the old system's time for an
    /// imported booking) instead of from when paytrack first knew it (its first import).
    #[arg(long)]
    pub by_created_at: bool,
    /// Queue nothing, and exit 10 naming the count, when more than N reminders would go out.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    #[command(flatten)]
    pub preview: DryRun,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
#[command(mut_arg("dry_run", |a| a.help("Show who would get it; queue nothing")))]
pub struct BroadcastArgs {
    /// Stream code.
    pub stream: String,
    /// The stream's course (needed when two courses use the same code).
    #[arg(long)]
    pub course: Option<i64>,
    /// The message (a template: {first_name} {course} {stream} {booking_id} {amount_due} {chat_link}).
    #[arg(long, value_name = "FILE")]
    pub text_file: Option<PathBuf>,
    /// Members in this status.
    #[arg(
        long = "status",
        value_enum,
        ignore_case = true,
        value_name = "STATUS",
        default_value = "confirmed"
    )]
    pub status: Status,
    /// A name for this broadcast: a member who already got it is skipped.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Queue nothing, and exit 10 naming the count, when more than N messages would go out.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    #[command(flatten)]
    pub preview: DryRun,
    #[command(flatten)]
    pub confirm: Confirm,
    #[command(flatten)]
    pub output: JsonFlag,
}

/// `now` less an age such as `2d` (for `--older-than`, `--every`).
fn before_now(ctx: &Context, flag: &str, age: &str) -> Result<DateTime<Utc>> {
    let duration = parse_age(age.trim())
        .ok_or_else(|| {
            bad_input(format!(
                "{flag}: '{age}' is not an age such as 2d, 36h or 1w"
            ))
        })?
        .map_err(bad_input)?;
    ctx.now
        .checked_sub_signed(duration)
        .ok_or_else(|| bad_input(format!("{flag} is too large")))
}

/// `bookings remind`.
pub fn remind(ctx: &Context, args: RemindArgs) -> Result<u8> {
    // "Please pay" to a paid or cancelled booking is the message nobody asked for.
    if args.status != crate::domain::Status::Pending {
        return Err(bad_input(
            "--status: payment reminders are for pending bookings only",
        ));
    }
    let until = before_now(ctx, "--older-than", &args.older_than)?;
    let not_since = before_now(ctx, "--every", &args.every)?;
    let db = ctx.open_db()?;
    let course = match &args.stream {
        Some(code) => Some(resolve_stream(&db, code, args.course)?.course_id),
        None => args.course,
    };
    let (until, known_before) = if args.by_created_at {
        (Some(until), None)
    } else {
        (None, Some(until))
    };
    let filter = BookingFilter {
        status: Some(args.status),
        course,
        stream: args.stream.clone(),
        until,
        known_before,
        ..Default::default()
    };
    let bookings = db.list_bookings(&filter, Sort::Oldest, None, None)?;
    drop(db);
    let (report, _) = super::write_unless(
        ctx,
        |tx| queue_reminders(tx, &bookings, not_since, &ctx.actor, ctx.now),
        |report| {
            !args.preview.dry_run && report.queued.len() as u64 <= args.max.unwrap_or(u64::MAX)
        },
    )?;
    if !args.preview.dry_run {
        if let Some(code) =
            super::over_max(ctx, report.queued.len() as u64, args.max, "reminders due")
        {
            return Ok(code);
        }
    }
    finish(
        ctx,
        MessageKind::Reminder,
        &bookings,
        &report,
        args.preview.dry_run,
        args.output.json,
    )
}

/// `streams broadcast`.
pub fn broadcast(ctx: &Context, args: BroadcastArgs) -> Result<u8> {
    if args.key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(bad_input("--key cannot be empty"));
    }
    let text = match &args.text_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let mut db = ctx.open_db()?;
    let stream = resolve_stream(&db, &args.stream, args.course)?;
    let course = db
        .course(stream.course_id)?
        .ok_or_else(|| PaytrackError::NotFound(format!("course {} not found", stream.course_id)))?;
    if text.is_none()
        && db
            .kind_template(course.id, MessageKind::Broadcast.name())?
            .is_none()
    {
        return Err(bad_input(format!(
            "no text: give --text-file FILE, or set the course's broadcast template (`courses template {} --kind broadcast --file FILE`)",
            course.id
        )));
    }
    let filter = BookingFilter {
        status: Some(args.status),
        course: Some(stream.course_id),
        stream: Some(stream.code.clone()),
        ..Default::default()
    };
    let bookings = db.list_bookings(&filter, Sort::Oldest, None, None)?;
    // The text is checked like a saved template (placeholders, 4096), before anyone is asked.
    db.write(|tx| match &text {
        Some(t) => check_course_template(tx, course.id, &course.name, t),
        None => Ok(()),
    })?;
    drop(db);
    if bookings.is_empty() {
        ctx.out.note(ctx.out.tr(
            "no members; nothing to send",
            "участников нет; отправлять некому",
        ));
        return Ok(exit::OK);
    }
    if !args.preview.dry_run {
        if let Some(code) = super::over_max(ctx, bookings.len() as u64, args.max, "members") {
            return Ok(code);
        }
    }
    if !args.preview.dry_run && !args.confirm.yes {
        let question = format!(
            "{} {} {}?",
            ctx.out
                .tr("Queue a message to", "Поставить в очередь сообщение для"),
            bookings.len(),
            ctx.out.tr("member(s)", "участников")
        );
        let what = format!("{} members would get this message", bookings.len());
        if !crate::output::prompt::confirm(&ctx.out, &question, &what)? {
            return Err(bad_input("cancelled; nothing queued"));
        }
    }
    let (report, _) = super::write_unless(
        ctx,
        |tx| {
            queue_broadcast(
                tx,
                &bookings,
                text.as_deref(),
                args.key.as_deref(),
                &ctx.actor,
                ctx.now,
            )
        },
        |_| !args.preview.dry_run,
    )?;
    finish(
        ctx,
        MessageKind::Broadcast,
        &bookings,
        &report,
        args.preview.dry_run,
        args.output.json,
    )
}

#[derive(Serialize)]
struct Summary<'a> {
    dry_run: bool,
    kind: &'static str,
    queued: usize,
    message_ids: Vec<i64>,
    skipped_blocked: &'a [i64],
    skipped_already: &'a [i64],
}

/// The preview (dry run) or the summary, and the JSON.
fn finish(
    ctx: &Context,
    kind: MessageKind,
    bookings: &[Booking],
    report: &QueueReport,
    dry_run: bool,
    json: bool,
) -> Result<u8> {
    let out = &ctx.out;
    let mut stdout = crate::output::stdout();
    if dry_run && !json && !report.queued.is_empty() {
        let chosen: Vec<Booking> = bookings
            .iter()
            .filter(|b| report.queued.iter().any(|q| q.0 == b.id))
            .cloned()
            .collect();
        writeln!(stdout, "{}", views::bookings_table(out, &chosen))?;
    }
    if json {
        crate::output::json::to_writer(
            &mut stdout,
            &Summary {
                dry_run,
                kind: kind.name(),
                queued: report.queued.len(),
                message_ids: if dry_run {
                    Vec::new()
                } else {
                    report.queued.iter().map(|q| q.1).collect()
                },
                skipped_blocked: &report.blocked,
                skipped_already: &report.already,
            },
        )?;
        writeln!(stdout)?;
    }
    stdout.flush()?;
    let verb = if dry_run {
        out.tr(
            "dry run: would queue",
            "пробный запуск: будет поставлено в очередь",
        )
    } else {
        out.tr("queued", "поставлено в очередь")
    };
    let already = match kind {
        MessageKind::Broadcast => out.tr("already got this broadcast", "уже получили эту рассылку"),
        _ => out.tr("reminded recently", "недавно получали напоминание"),
    };
    out.note(&format!(
        "{verb} {} {} ({} {}, {} {})",
        report.queued.len(),
        out.tr("message(s)", "сообщений"),
        report.blocked.len(),
        out.tr("skipped: blocked the bot", "пропущено: заблокировали бота"),
        report.already.len(),
        already,
    ));
    Ok(exit::OK)
}
