//! `outbox list` and `outbox drain`: see the messages to students, deliver them.

use std::io::Write;

use anyhow::Result;

use super::Context;
use clap::{Args, Subcommand};

use crate::args::{booking_id, Confirm, JsonFlag, Limit, OutputArgs, RedactArgs};
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
use crate::services::messages;

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum OutboxCommand {
    /// Queued, sent and failed messages, newest first (counts per status on stderr).
    #[command(
        after_help = "Examples:\n  paytrack outbox list\n  paytrack outbox list --status failed\n  paytrack outbox list --status pending --all --csv"
    )]
    List(OutboxListArgs),
    /// Deliver the messages that are due, once each; safe from cron every minute, even two at once.
    #[command(
        after_help = "Each message is claimed before it is sent, so two drains never send it twice; a drain\n\
that dies leaves its claims to the next one after a lease (delivery is at least once).\n\
Failures are retried by later drains after 1, 2, 4 ... 60 minutes; after --max-attempts the\n\
message is failed. Telegram's 403 \"bot was blocked by the user\" fails it at once and adds\n\
the student to the blocked list; a 429 waits as long as Telegram asks.\n\n\
--exec: CMD gets one line of JSON on stdin (id, booking_id, chat_id, kind, body, attempts)\n\
and PAYTRACK_MESSAGE_ID, PAYTRACK_CHAT_ID in its environment; exit 0 means delivered.\n\
--telegram: the token is read from PAYTRACK_TELEGRAM_TOKEN only (never a flag, never shown);\n\
PAYTRACK_TELEGRAM_API overrides https://api.telegram.org.\n\n\
Exit: 0 when nothing failed for good, 10 when a message failed for good in this run (see\n\
`outbox list --status failed`), 11 when the channel cannot work: the --exec command cannot run\n\
(exit 126 or 127, e.g. a typo in its name) or the token is refused; the drain stops at the\n\
first message and uses up no attempt. Ctrl-C lets the message being sent finish and be recorded;\n\
so does --max-time: once it has passed no message is claimed, the rest stay queued (exit as above).\n\n\
Examples:\n  paytrack outbox drain --telegram\n  paytrack outbox drain --exec ./send-mail.sh --limit 100\n  * * * * *  PAYTRACK_TELEGRAM_TOKEN=... paytrack --db /srv/paytrack.db outbox drain --telegram -q"
    )]
    Drain(OutboxDrainArgs),
    /// One message as it will be sent (rendered now from the current templates and catalogue), or as it was sent.
    #[command(
        after_help = "Examples:\n  paytrack outbox show 17\n  paytrack outbox show 17 --json"
    )]
    Show(OutboxShowArgs),
    /// Stop messages before they are sent (status cancelled; kept and audited).
    #[command(after_help = "Only pending and failed messages can be cancelled.\n\n\
Examples:\n  paytrack outbox cancel 17 18 --reason \"sent by hand\"\n  paytrack outbox cancel --booking 42\n  paytrack outbox cancel --kind confirmed --status pending --yes --reason \"historical import\"")]
    Cancel(OutboxCancelArgs),
    /// Put failed (or cancelled) messages back in the queue, due now, with their attempts counted from zero.
    #[command(after_help = "Examples:\n  paytrack outbox retry 17 18")]
    Retry(OutboxRetryArgs),
    /// Queue a message to a booking's student by hand (e.g. a cancellation notice nobody was sent).
    #[command(after_help = "Examples:\n  paytrack outbox queue 42 --kind cancelled")]
    Queue(OutboxQueueArgs),
}

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print the message as JSON on stdout")))]
pub struct OutboxShowArgs {
    /// Message id.
    pub id: i64,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
#[command(mut_arg("yes", |a| a.help("Needed to cancel by --kind without --booking (it may be many messages)")))]
pub struct OutboxCancelArgs {
    /// Message ids.
    #[arg(conflicts_with_all = ["booking", "kind", "status"])]
    pub ids: Vec<i64>,
    /// Every unsent message of this booking.
    #[arg(long, value_parser = booking_id)]
    pub booking: Option<i64>,
    /// Only messages of this kind.
    #[arg(long, value_enum)]
    pub kind: Option<crate::domain::message::MessageKind>,
    /// Only messages in this status: pending (the default) or failed.
    #[arg(long, value_enum, default_value = "pending")]
    pub status: crate::domain::message::MessageStatus,
    /// Why; stored with each message and in the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub confirm: Confirm,
    /// Cancel nothing, and exit 10 naming the count, when more than N messages match.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
}

#[derive(Debug, Args)]
pub struct OutboxRetryArgs {
    /// Message ids (failed or cancelled messages).
    #[arg(required = true)]
    pub ids: Vec<i64>,
}

#[derive(Debug, Args)]
pub struct OutboxQueueArgs {
    /// Booking id.
    #[arg(value_parser = booking_id)]
    pub booking: i64,
    /// What kind of message (its text is the course's template for the kind).
    #[arg(long, value_enum)]
    pub kind: crate::domain::message::MessageKind,
}

#[derive(Debug, Args)]
#[command(mut_arg("limit", |a| a.help("How many messages to show")))]
#[command(mut_arg("all", |a| a.help("Show every matching message")))]
pub struct OutboxListArgs {
    /// Only messages in this status.
    #[arg(long, value_enum)]
    pub status: Option<crate::domain::message::MessageStatus>,
    /// Only messages of this kind.
    #[arg(long, value_enum)]
    pub kind: Option<crate::domain::message::MessageKind>,
    /// Only messages about this booking.
    #[arg(long, value_parser = booking_id)]
    pub booking: Option<i64>,
    /// Only messages to this student (Telegram user id).
    #[arg(long, value_name = "USER_ID")]
    pub user: Option<i64>,
    /// Only messages about bookings of this stream ("" for bookings without one).
    #[arg(long)]
    pub stream: Option<String>,
    /// The stream's course (needed when two courses use the same code).
    #[arg(long, requires = "stream")]
    pub course: Option<i64>,
    #[command(flatten)]
    pub page: Limit,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub privacy: RedactArgs,
    /// Show message bodies whole (by default a listing shows their first 40 characters).
    #[arg(long, conflicts_with = "redact")]
    pub full_body: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("channel").required(true).args(["exec", "telegram"])))]
pub struct OutboxDrainArgs {
    /// Deliver by running CMD (through `sh -c`) once per message, the message as JSON on stdin; exit 0 = delivered.
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Let the --exec command see this environment variable although it holds
    /// a secret (PAYTRACK_TELEGRAM_TOKEN, PAYTRACK_DB, PGPASSWORD are withheld
    /// otherwise). Repeatable.
    #[arg(
        long,
        value_name = "NAME",
        requires = "exec",
        conflicts_with = "telegram"
    )]
    pub pass_env: Vec<String>,
    /// Deliver through the Telegram Bot API (token from the environment, PAYTRACK_TELEGRAM_TOKEN).
    #[arg(long)]
    pub telegram: bool,
    /// Send at most N messages in this run.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// After this many attempts a message is failed.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Give up on one send after this long (the command is killed): 500ms, 30s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = send_timeout)]
    pub timeout: std::time::Duration,
    /// Claim no more messages after this long (the one being sent finishes): 50s, 10m, 1h.
    #[arg(long, value_name = "DURATION", value_parser = max_time)]
    pub max_time: Option<std::time::Duration>,
    /// Print only what needs a person (messages that failed for good); for cron.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A send time-out: `500ms`, `30s`, `2m`, or a number of seconds; 1 ms to 1 hour.
fn send_timeout(text: &str) -> Result<std::time::Duration, String> {
    duration_up_to(text, 3_600_000).ok_or_else(|| {
        crate::tr!(
            "'{}' is not a time-out between 1ms and 1h (e.g. 500ms, 30s, 2m)",
            "'{}' — не время ожидания от 1ms до 1h (например 500ms, 30s, 2m)",
            crate::text::shown(text)
        )
    })
}

/// A drain's time limit (`--max-time`): as a time-out, 1 ms to 24 hours.
fn max_time(text: &str) -> Result<std::time::Duration, String> {
    duration_up_to(text, 86_400_000).ok_or_else(|| {
        crate::tr!(
            "'{}' is not a duration between 1ms and 24h (e.g. 50s, 10m, 1h)",
            "'{}' — не длительность от 1ms до 24h (например 50s, 10m, 1h)",
            crate::text::shown(text)
        )
    })
}

/// `500ms`, `30s`, `2m`, `1h` or a number of seconds, when it is 1 ms to `max_ms`.
fn duration_up_to(text: &str, max_ms: u64) -> Option<std::time::Duration> {
    let t = text.trim();
    let (digits, unit_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (t, 1000)
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|&ms| (1..=max_ms).contains(&ms))
        .map(std::time::Duration::from_millis)
}

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
    let limit = (!args.page.all).then_some(args.page.limit);
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
    let of = status.map_or_else(|| counts.total(), |s| counts.of(s));
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
        max_time: args.max_time,
    };
    let clock = Clock::starting_at(ctx.now);
    let report = delivery::drain(&mut db, channel.as_mut(), &options, &clock, &ctx.actor)?;
    print_report(&ctx.out, &report, args.quiet);
    if report.out_of_time && !args.quiet {
        // What the next drain finds (due or not yet), said once on stderr.
        let queued = db.read(|db| Ok(db.outbox_counts()?.pending))?;
        ctx.out.note(&crate::tr!(
            "outbox drain: stopped at --max-time {}; {} message(s) stay queued for the next drain",
            "outbox drain: остановлен по --max-time {}; в очереди для следующего запуска: {}",
            show_duration(args.max_time.unwrap_or_default()),
            queued
        ));
    }
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
                    crate::text::shown(name)
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
        let error = crate::text::for_terminal(&u.error);
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
    if args.output.json {
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
        let clean = |t: &str| crate::text::for_terminal(t).into_owned();
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
    if by_filter && args.booking.is_none() && !args.confirm.yes {
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
        |tx| messages::queue_by_admin(tx, &ctx.actor, ctx.now, args.booking, args.kind),
        |_| true,
    )?;
    let mut stdout = crate::output::stdout();
    writeln!(stdout, "{}", id.unwrap_or_default())?;
    stdout.flush()?;
    Ok(exit::OK)
}
