//! `outbox list` and `outbox drain`: see the messages to students, deliver them.

use std::io::Write;

use anyhow::Result;

use super::Context;
use crate::cli::{OutboxCommand, OutboxDrainArgs, OutboxListArgs};
use crate::db::outbox::OutboxCounts;
use crate::domain::message::MessageStatus;
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::views;
use crate::output::{csv_writer, write_json, Format, Output};
use crate::services::delivery::{self, Channel, Clock, DrainOptions, DrainReport};
use crate::services::delivery_exec::{show_duration, ExecChannel};
use crate::services::delivery_telegram::{token_is_plausible, TelegramChannel, DEFAULT_API};

/// Where the bot token comes from: the environment only, never a flag (a flag
/// shows in `ps` and in shell history).
const TOKEN_VAR: &str = "PAYTRACK_TELEGRAM_TOKEN";
const API_VAR: &str = "PAYTRACK_TELEGRAM_API";

pub fn run(ctx: &Context, cmd: OutboxCommand) -> Result<u8> {
    match cmd {
        OutboxCommand::List(args) => list(ctx, args),
        OutboxCommand::Drain(args) => drain(ctx, args),
    }
}

const CSV_COLUMNS: [&str; 13] = [
    "id",
    "booking_id",
    "chat_id",
    "kind",
    "status",
    "attempts",
    "next_attempt_at",
    "sent_at",
    "last_error",
    "created_at",
    "claimed_by",
    "claimed_at",
    "body",
];

fn list(ctx: &Context, args: OutboxListArgs) -> Result<u8> {
    let (format, out) = args.output.resolve(&ctx.out, Format::Table);
    let mut db = ctx.open_db()?;
    let limit = (!args.all).then_some(args.limit);
    let (messages, counts) =
        db.read(|db| Ok((db.recent_messages(args.status, limit)?, db.outbox_counts()?)))?;
    let mut stdout = crate::output::stdout();
    match format {
        Format::Table => {
            if !messages.is_empty() {
                writeln!(stdout, "{}", views::messages_table(&out, &messages))?;
            }
            stdout.flush()?;
            out.note(&footer(&out, messages.len(), args.status, &counts));
        }
        Format::Csv => {
            let mut w = csv_writer(&mut stdout);
            w.write_record(CSV_COLUMNS)?;
            for m in &messages {
                let opt = |v: &Option<String>| {
                    v.as_deref()
                        .map(|t| out.csv_text(t).into_owned())
                        .unwrap_or_default()
                };
                w.write_record([
                    m.id.to_string(),
                    m.booking_id.to_string(),
                    m.chat_id.to_string(),
                    out.csv_text(&m.kind).into_owned(),
                    m.status.clone(),
                    m.attempts.to_string(),
                    m.next_attempt_at.clone(),
                    opt(&m.sent_at),
                    opt(&m.last_error),
                    m.created_at.clone(),
                    opt(&m.claimed_by),
                    opt(&m.claimed_at),
                    out.csv_text(&m.body).into_owned(),
                ])?;
            }
            w.flush()?;
        }
        Format::Json | Format::Jsonl => {
            write_json(&mut stdout, &messages, format == Format::Jsonl)?;
        }
    }
    stdout.flush()?;
    Ok(exit::OK)
}

/// `shown 3 of 120 (pending 2, sending 0, sent 117, failed 1)`.
fn footer(
    out: &Output,
    shown: usize,
    status: Option<MessageStatus>,
    counts: &OutboxCounts,
) -> String {
    let of = match status {
        None => counts.pending + counts.sending + counts.sent + counts.failed,
        Some(MessageStatus::Pending) => counts.pending,
        Some(MessageStatus::Sending) => counts.sending,
        Some(MessageStatus::Sent) => counts.sent,
        Some(MessageStatus::Failed) => counts.failed,
    };
    let c = counts;
    match out.lang {
        crate::output::Lang::En => format!(
            "shown {shown} of {of} (pending {}, sending {}, sent {}, failed {})",
            c.pending, c.sending, c.sent, c.failed
        ),
        crate::output::Lang::Ru => format!(
            "показано {shown} из {of} (в очереди {}, отправляется {}, отправлено {}, не доставлено {})",
            c.pending, c.sending, c.sent, c.failed
        ),
    }
}

fn drain(ctx: &Context, args: OutboxDrainArgs) -> Result<u8> {
    let mut channel = channel(&args)?;
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
        return Err(anyhow::anyhow!(error));
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

/// The channel the flags ask for, checked before anything is claimed.
fn channel(args: &OutboxDrainArgs) -> Result<Box<dyn Channel>> {
    if let Some(command) = &args.exec {
        if command.trim().is_empty() {
            return Err(bad_input("--exec needs a command"));
        }
        return Ok(Box::new(ExecChannel::new(command.clone(), args.timeout)));
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
