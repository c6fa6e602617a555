//! `outbox list` and `outbox drain`: see the messages to students, deliver them.

use std::io::Write;

use anyhow::Result;

use super::Context;
use crate::cli::{
    OutboxCancelArgs, OutboxCommand, OutboxDrainArgs, OutboxListArgs, OutboxQueueArgs,
    OutboxRetryArgs, OutboxShowArgs,
};
use crate::db::outbox::{MessageFilter, OutboxCounts, OutboxMessage};
use crate::domain::message::{MessageKind, MessageStatus};
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::pipeline;
use crate::output::{redact, views};
use crate::output::{Format, Output};
use crate::services::catalogue::resolve_stream;
use crate::services::delivery::{self, Channel, Clock, DrainOptions, DrainReport};
use crate::services::delivery_exec::{show_duration, ExecChannel};
use crate::services::delivery_telegram::{token_is_plausible, TelegramChannel, DEFAULT_API};
use crate::services::messages::{self, MessageParams};

/// Where the bot token comes from: the environment only, never a flag (a flag
/// shows in `ps` and in shell history).
const TOKEN_VAR: &str = "PAYTRACK_TELEGRAM_TOKEN";
const API_VAR: &str = "PAYTRACK_TELEGRAM_API";

pub fn run(ctx: &Context, cmd: OutboxCommand) -> Result<u8> {
    match cmd {
        OutboxCommand::List(args) => list(ctx, args),
        OutboxCommand::Drain(args) => drain(ctx, args),
        OutboxCommand::Show(args) => show(ctx, args),
        OutboxCommand::Cancel(args) => cancel(ctx, args),
        OutboxCommand::Retry(args) => retry(ctx, args),
        OutboxCommand::Queue(args) => queue(ctx, args),
    }
}

fn list(ctx: &Context, args: OutboxListArgs) -> Result<u8> {
    let (format, out) = args.output.resolve(&ctx.out, Format::Table);
    let mut db = ctx.open_db()?;
    let limit = (!args.all).then_some(args.limit);
    let stream = match &args.stream {
        Some(code) if code.is_empty() => Some((
            args.course
                .ok_or_else(|| bad_input("--stream \"\" (no stream) needs --course"))?,
            String::new(),
        )),
        Some(code) => {
            let s = resolve_stream(&db, code, args.course)?;
            Some((s.course_id, s.code))
        }
        None => None,
    };
    let filter = MessageFilter {
        status: args.status,
        kind: args.kind,
        booking_id: args.booking,
        chat_id: args.user,
        stream,
    };
    let (mut messages, counts) = db.read(|db| {
        let mut messages = db.recent_messages(&filter, limit)?;
        // Unsent messages are shown as they would go out now (renamed course,
        // fixed template), not as they read when queued.
        for m in messages
            .iter_mut()
            .filter(|m| m.status != MessageStatus::Sent)
        {
            if let Some(kind) = MessageKind::from_name(&m.kind) {
                let facts = db.message_facts(m.booking_id, kind)?;
                m.body = messages::current_text(facts.as_ref(), m).unwrap_or_else(|e| e);
            }
        }
        Ok((messages, db.outbox_counts()?))
    })?;
    // A listing shows the start of a body, enough to tell messages apart.
    redact::preview_bodies(&mut messages, args.full_body);
    redact::redact_all(&mut messages, args.privacy.redact);
    pipeline::print(&out, format, &messages, views::messages_table, None)?;
    if format == Format::Table {
        out.note(&footer(&out, messages.len(), args.status, &counts));
    }
    Ok(exit::OK)
}

/// `shown 3 of 120 (pending 2, sending 0, sent 117, failed 1)`.
fn footer(
    out: &Output,
    shown: usize,
    status: Option<MessageStatus>,
    counts: &OutboxCounts,
) -> String {
    let of = status.map_or(counts.total(), |s| counts.of(s));
    let c = counts;
    // Withdrawn and cancelled are named only when there are some, to keep the usual line short.
    let mut stopped = String::new();
    if c.withdrawn > 0 {
        stopped += &format!(", {} {}", out.tr("withdrawn", "отозвано"), c.withdrawn);
    }
    if c.cancelled > 0 {
        stopped += &format!(", {} {}", out.tr("cancelled", "отменено"), c.cancelled);
    }
    match out.lang {
        crate::output::Lang::En => format!(
            "shown {shown} of {of} (pending {}, sending {}, sent {}, failed {}{stopped})",
            c.pending, c.sending, c.sent, c.failed
        ),
        crate::output::Lang::Ru => format!(
            "показано {shown} из {of} (в очереди {}, отправляется {}, отправлено {}, не доставлено {}{stopped})",
            c.pending, c.sending, c.sent, c.failed
        ),
    }
}

fn drain(ctx: &Context, args: OutboxDrainArgs) -> Result<u8> {
    let mut channel = channel(ctx, &args)?;
    let mut db = ctx.open_db()?;
    let options = DrainOptions {
        limit: args.limit,
        max_attempts: args.max_attempts,
        lease: delivery::lease_for(args.timeout),
    };
    let clock = Clock::starting_at(ctx.now);
    let report = delivery::drain(&mut db, channel.as_mut(), &options, &clock, &ctx.actor)?;
    print_report(&ctx.out, &report, args.quiet);
    if let Some(error) = report.broken {
        return Err(PaytrackError::ChannelUnusable(format!(
            "{error}; the drain stopped, no attempt was used up"
        ))
        .into());
    }
    if report.interrupted {
        return Err(PaytrackError::Interrupted.into());
    }
    // A message given up on needs a person: cron mails a non-zero exit.
    Ok(if report.failed > 0 {
        exit::ATTENTION
    } else {
        exit::OK
    })
}

/// What an `--exec` command's output must never carry into the outbox or a
/// terminal (issue 26): the bot token and the database password, wherever
/// paytrack found it (the URL, PGPASSWORD or the password file).
fn secrets(ctx: &Context) -> Vec<String> {
    let mut secrets: Vec<String> = [TOKEN_VAR, "PGPASSWORD"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .collect();
    #[cfg(feature = "postgres")]
    if let Some(url) = &ctx.postgres_url {
        if let Some(password) = crate::db::pg::resolve(url)
            .ok()
            .and_then(|info| info.password().map(str::to_string))
        {
            secrets.push(password);
        }
    }
    #[cfg(not(feature = "postgres"))]
    let _ = ctx;
    secrets.retain(|s| !s.is_empty());
    secrets
}

/// The channel the flags ask for, checked before anything is claimed.
fn channel(ctx: &Context, args: &OutboxDrainArgs) -> Result<Box<dyn Channel>> {
    if let Some(command) = &args.exec {
        if command.trim().is_empty() {
            return Err(bad_input("--exec needs a command"));
        }
        for name in &args.pass_env {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(bad_input(format!(
                    "--pass-env {}: not the name of an environment variable",
                    crate::output::sanitize::shown(name)
                )));
            }
        }
        return Ok(Box::new(ExecChannel::new(
            command.clone(),
            args.timeout,
            args.pass_env.clone(),
            secrets(ctx),
        )));
    }
    let token = std::env::var(TOKEN_VAR).unwrap_or_default();
    if token.is_empty() {
        return Err(bad_input(format!(
            "--telegram needs the bot token in the environment variable {TOKEN_VAR}"
        )));
    }
    if !token_is_plausible(&token) {
        // Never echo the value: it may be the real token with a typo.
        return Err(bad_input(format!(
            "{TOKEN_VAR} does not look like a bot token (digits, ':', letters, '-' and '_')"
        )));
    }
    let api = std::env::var(API_VAR)
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API.to_string());
    if !(api.starts_with("https://") || api.starts_with("http://")) {
        return Err(bad_input(format!(
            "{API_VAR} must be an http:// or https:// URL"
        )));
    }
    Ok(Box::new(TelegramChannel::new(&api, &token, args.timeout)))
}

/// One line per message not delivered, then the summary, on stderr. `quiet`
/// keeps only the messages given up on.
fn print_report(out: &Output, report: &DrainReport, quiet: bool) {
    for u in &report.undelivered {
        let error = crate::output::sanitize::for_terminal(&u.error);
        match u.retry_at {
            None => out.warn(&format!(
                "{} {} ({} {}): {error}",
                out.tr("gave up on message", "сообщение не доставлено:"),
                u.message_id,
                out.tr("chat", "чат"),
                u.chat_id
            )),
            Some(at) if !quiet => out.note(&format!(
                "{} {} ({} {}) {} {}: {error}",
                out.tr("message", "сообщение"),
                u.message_id,
                out.tr("chat", "чат"),
                u.chat_id,
                out.tr("will be retried at", "будет повторено в"),
                out.zone.show(at),
            )),
            Some(_) => {}
        }
    }
    if report.lost_claims > 0 {
        out.warn(&format!(
            "{} {}",
            report.lost_claims,
            out.tr(
                "message(s) were taken over by another drain before the result was recorded and may be delivered twice",
                "сообщений перехвачено другим drain до записи результата; возможна повторная доставка"
            )
        ));
    }
    if let Some(wait) = report.rate_limited {
        out.warn(&format!(
            "{} {}; {}",
            out.tr("Telegram asks to wait", "Telegram просит подождать"),
            show_duration(wait),
            out.tr(
                "the rest waits for the next drain",
                "остальные сообщения ждут следующего запуска"
            )
        ));
    }
    let claimed = report.sent + report.retried + report.failed;
    if quiet || (claimed == 0 && !out.stderr_is_terminal) {
        return;
    }
    let summary = match out.lang {
        crate::output::Lang::En => format!(
            "outbox drain: {} sent, {} to retry, {} failed ({} newly blocked)",
            report.sent, report.retried, report.failed, report.blocked
        ),
        crate::output::Lang::Ru => format!(
            "outbox drain: отправлено {}, к повтору {}, не доставлено {} (новых блокировок {})",
            report.sent, report.retried, report.failed, report.blocked
        ),
    };
    out.note(&summary);
}

/// `outbox show ID`: the message as it will be sent (rendered now), or as it was.
fn show(ctx: &Context, args: OutboxShowArgs) -> Result<u8> {
    let mut db = ctx.open_db()?;
    let (message, facts) = db.read(|db| {
        let message = db
            .message(args.id)?
            .ok_or_else(|| PaytrackError::NotFound(format!("message {} not found", args.id)))?;
        let facts = match MessageKind::from_name(&message.kind) {
            Some(kind) => db.message_facts(message.booking_id, kind)?,
            None => None,
        };
        Ok((message, facts))
    })?;
    let text = messages::current_text(facts.as_ref(), &message);
    let mut stdout = crate::output::stdout();
    if args.json {
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            message: &'a OutboxMessage,
            /// The text it is (or was) sent with.
            text: Option<&'a str>,
            /// Why it cannot be sent as it is.
            problem: Option<&'a str>,
        }
        crate::output::json::to_writer(
            &mut stdout,
            &Shown {
                message: &message,
                text: text.as_deref().ok(),
                problem: text.as_ref().err().map(String::as_str),
            },
        )?;
        writeln!(stdout)?;
    } else {
        let out = &ctx.out;
        let clean = |t: &str| crate::output::sanitize::for_terminal(t).into_owned();
        writeln!(stdout, "{}: {}", out.tr("message", "сообщение"), message.id)?;
        writeln!(
            stdout,
            "{}: {}",
            out.tr("booking", "бронь"),
            message.booking_id
        )?;
        writeln!(stdout, "{}: {}", out.tr("chat", "чат"), message.chat_id)?;
        writeln!(
            stdout,
            "{}: {}",
            out.tr("kind", "вид"),
            clean(&message.kind)
        )?;
        writeln!(stdout, "{}: {}", out.tr("status", "статус"), message.status)?;
        writeln!(
            stdout,
            "{}: {}",
            out.tr("attempts", "попыток"),
            message.attempts
        )?;
        if let Some(sent) = &message.sent_at {
            writeln!(
                stdout,
                "{}: {}",
                out.tr("sent at", "отправлено"),
                views::show_time(out, sent)
            )?;
        }
        if let Some(error) = &message.last_error {
            writeln!(
                stdout,
                "{}: {}",
                out.tr("last error", "последняя ошибка"),
                clean(error)
            )?;
        }
        writeln!(stdout)?;
        match &text {
            Ok(text) => writeln!(stdout, "{}", clean(text))?,
            Err(problem) => writeln!(
                stdout,
                "{}: {}",
                out.tr("cannot be sent", "не может быть отправлено"),
                problem
            )?,
        }
    }
    stdout.flush()?;
    Ok(exit::OK)
}

/// `outbox cancel`: by ids, or every pending (or failed) message a filter selects.
fn cancel(ctx: &Context, args: OutboxCancelArgs) -> Result<u8> {
    let by_filter = args.ids.is_empty();
    if by_filter && args.booking.is_none() && args.kind.is_none() {
        return Err(bad_input(
            "name message ids, --booking ID, or --kind K (with --yes)",
        ));
    }
    if by_filter && args.booking.is_none() && !args.yes {
        return Err(bad_input(
            "cancelling by --kind may stop many messages: add --yes (see them first with `outbox list --kind K --status pending`)",
        ));
    }
    if !matches!(args.status, MessageStatus::Pending | MessageStatus::Failed) {
        return Err(bad_input(
            "--status: only pending and failed messages can be cancelled",
        ));
    }
    let reason = args
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let filter = MessageFilter {
        status: Some(args.status),
        kind: args.kind,
        booking_id: args.booking,
        ..Default::default()
    };
    let limit = args.max.unwrap_or(u64::MAX);
    let (cancelled, _) = super::write_unless(
        ctx,
        |tx| {
            let ids = if by_filter {
                tx.message_ids(&filter)?
            } else {
                args.ids.clone()
            };
            // Above --max nothing is cancelled: counted before the change.
            if ids.len() as u64 > limit {
                return Ok(ids.len());
            }
            messages::cancel_messages(tx, &ids, reason, &ctx.actor, ctx.now)?;
            Ok(ids.len())
        },
        |n| *n as u64 <= limit,
    )?;
    if let Some(code) = super::over_max(ctx, cancelled as u64, args.max, "messages match") {
        return Ok(code);
    }
    ctx.out.note(&format!(
        "{} {cancelled} {}",
        ctx.out.tr("cancelled", "отменено"),
        ctx.out.tr("message(s)", "сообщений")
    ));
    Ok(exit::OK)
}

/// `outbox retry ID…`: failed (or cancelled) messages back to the queue.
fn retry(ctx: &Context, args: OutboxRetryArgs) -> Result<u8> {
    super::write_unless(
        ctx,
        |tx| messages::retry_messages(tx, &args.ids, &ctx.actor, ctx.now),
        |()| true,
    )?;
    ctx.out.note(&format!(
        "{} {}",
        args.ids.len(),
        ctx.out
            .tr("message(s) back in the queue", "сообщений снова в очереди")
    ));
    Ok(exit::OK)
}

/// `outbox queue BOOKING --kind K`: a message an admin asks for.
fn queue(ctx: &Context, args: OutboxQueueArgs) -> Result<u8> {
    if args.kind == MessageKind::Broadcast {
        return Err(bad_input(
            "a broadcast has its own text: use `streams broadcast STREAM --text-file F`",
        ));
    }
    let (id, _) = super::write_unless(
        ctx,
        |tx| {
            tx.booking(args.booking)?.ok_or_else(|| {
                PaytrackError::NotFound(format!("booking {} not found", args.booking))
            })?;
            let id = messages::queue_message(
                tx,
                args.booking,
                args.kind,
                &MessageParams::default(),
                None,
                ctx.now,
            )?;
            tx.append_audit(
                &ctx.actor,
                ctx.now,
                crate::domain::audit::NewAuditEntry {
                    action: crate::domain::audit::action::MESSAGES_QUEUED,
                    booking_id: Some(args.booking),
                    details: serde_json::json!({ "kind": args.kind.name(), "message_id": id, "source": "outbox queue" }),
                    ..Default::default()
                },
            )?;
            Ok(id)
        },
        |_| true,
    )?;
    let mut stdout = crate::output::stdout();
    writeln!(stdout, "{}", id.unwrap_or_default())?;
    stdout.flush()?;
    Ok(exit::OK)
}
