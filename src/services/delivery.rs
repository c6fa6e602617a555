//! `outbox drain`: deliver due messages at least once, never twice on purpose.
//!
//! Each message goes through three steps, none of them holding a transaction
//! open while the channel works:
//!
//! 1. claim: one short write transaction moves the message to `sending` with
//!    this drain's id and the time (`claim_next_message`). A second drain
//!    running at the same moment waits for the lock and then sees the claim,
//!    so it picks another message;
//! 2. send: through a `Channel` (a command, the Telegram Bot API), bounded by
//!    a time-out;
//! 3. record: one short write transaction stores the outcome, compare-and-set
//!    on the claim, with the audit entry (`message.sent`, `message.failed`,
//!    `user.blocked`).
//!
//! A drain killed between 1 and 3 leaves a `sending` row behind. Once the
//! lease has run out (it is longer than any send can take, see `lease_for`),
//! the next drain takes the message over and sends it again: the delivery is
//! at-least-once, and twice only when a drain died after sending and before
//! recording. Attempts and their errors are kept on the outbox row; the audit
//! log records outcomes (one entry per delivery or final failure, not one per
//! retry, so that a cron job retrying every minute does not flood it).

use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::outbox::ClaimedMessage;
use crate::db::{Db, WriteTx};
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::message::{retry_delay, MessageKind, MAX_RATE_LIMIT_WAIT};
use crate::services::messages::{render_message, MessageParams};

/// What happened when a channel tried to send one message.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Delivered,
    /// Failed this time, worth retrying: a 5xx, a time-out, a command's non-zero exit.
    Retry {
        error: String,
    },
    /// The channel asks us to wait (Telegram's 429 `retry_after`). Not counted as an
    /// attempt; the run stops, since the next messages would be refused too.
    RateLimited {
        error: String,
        wait: Duration,
    },
    /// Refused for good (e.g. 400 "chat not found"): failed, not retried.
    Rejected {
        error: String,
    },
    /// The student blocked the bot: failed, not retried, added to `blocked_users`.
    Blocked {
        error: String,
    },
    /// The channel itself cannot work (a refused token, a command that cannot
    /// start): the message goes back to the queue untouched and the run stops.
    Broken {
        error: String,
    },
}

/// A way to deliver a message: a command, the Telegram Bot API.
pub trait Channel {
    /// A short name for the audit details (`exec`, `telegram`).
    fn name(&self) -> &'static str;
    /// Sends one message. Must return within the channel's time-out.
    fn send(&mut self, message: &ClaimedMessage) -> SendOutcome;
}

/// How a drain runs.
#[derive(Debug, Clone)]
pub struct DrainOptions {
    /// Claim at most this many messages.
    pub limit: Option<u64>,
    /// After this many attempts a message is `failed`.
    pub max_attempts: u32,
    /// How old a claim must be before another drain takes it over.
    pub lease: Duration,
    /// Claim no message once the run has lasted this long (`--max-time`):
    /// the one being sent then is finished and recorded, the rest stay queued.
    pub max_time: Option<Duration>,
}

/// The lease for a drain whose sends time out after `send_timeout`: well
/// beyond the longest a claim can stay open while its drain is alive (one send
/// plus two short transactions that may wait for the lock), so a live drain's
/// claim is never taken over.
pub fn lease_for(send_timeout: Duration) -> Duration {
    const MINIMUM: Duration = Duration::from_secs(300);
    (send_timeout * 2 + Duration::from_secs(120)).max(MINIMUM)
}

/// One message that was not delivered in this run.
#[derive(Debug, Clone, PartialEq)]
pub struct Undelivered {
    pub message_id: i64,
    pub chat_id: i64,
    pub attempts: i64,
    pub error: String,
    /// When it will be tried again; None when it failed for good.
    pub retry_at: Option<DateTime<Utc>>,
}

/// What a drain did.
#[derive(Debug, Clone, Default)]
pub struct DrainReport {
    pub sent: u64,
    /// Put back in the queue for a later drain.
    pub retried: u64,
    /// Failed for good in this run (blocked students included).
    pub failed: u64,
    /// Students newly added to `blocked_users`.
    pub blocked: u64,
    /// Claims another drain took over before we recorded the outcome (the
    /// message may be delivered twice); expected to stay 0.
    pub lost_claims: u64,
    pub undelivered: Vec<Undelivered>,
    /// The run stopped early because the channel asked to wait this long.
    pub rate_limited: Option<Duration>,
    /// The run stopped because the channel cannot work.
    pub broken: Option<String>,
    /// The run stopped because of Ctrl-C or SIGTERM.
    pub interrupted: bool,
    /// The run stopped at `max_time` with messages perhaps still due.
    pub out_of_time: bool,
}

/// The time during a run: `start` (the run's `now`, fixed by PAYTRACK_NOW in
/// tests) plus the time elapsed since, so long runs record real send times.
pub struct Clock {
    start: DateTime<Utc>,
    started: Instant,
}

impl Clock {
    pub fn starting_at(start: DateTime<Utc>) -> Clock {
        Clock {
            start,
            started: Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.start + later(self.elapsed())
    }

    /// Real time since the run started (whatever `start` says).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// A std duration as a chrono one (saturating: every duration here is small).
fn later(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A name for this drain's claims: host, process id and start time, so that
/// two drains, on one machine or several sharing a file, never share one.
pub fn claimer_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{host}:{}:{nanos:x}", std::process::id())
}

/// Delivers the messages due when the run starts, one at a time, oldest due
/// first. Each message is tried at most once per run: a retry is due later
/// than the start, and a claim made in this run is younger than the lease.
pub fn drain(
    db: &mut Db,
    channel: &mut dyn Channel,
    options: &DrainOptions,
    clock: &Clock,
    actor: &str,
) -> Result<DrainReport> {
    let claimer = claimer_id();
    let due_by = clock.now();
    let abandoned_before = due_by - later(options.lease);
    let mut report = DrainReport::default();
    let mut claimed_count = 0u64;
    while options.limit.is_none_or(|limit| claimed_count < limit) {
        if crate::interrupt::requested() {
            report.interrupted = true;
            break;
        }
        if options.max_time.is_some_and(|max| clock.elapsed() >= max) {
            report.out_of_time = true;
            break;
        }
        let now = clock.now();
        let claimed = db.write(|tx| {
            let Some(mut message) =
                tx.claim_next_message(&claimer, now, due_by, abandoned_before)?
            else {
                return Ok(None);
            };
            let problem = render_for_sending(tx, &mut message)?;
            Ok(Some((message, problem)))
        })?;
        let Some((message, problem)) = claimed else {
            break;
        };
        claimed_count += 1;
        let outcome = if message.recipient_blocked {
            SendOutcome::Rejected {
                error: "not sent: the student blocked the bot earlier".to_string(),
            }
        } else if let Some(error) = problem {
            SendOutcome::Rejected { error }
        } else {
            channel.send(&message)
        };
        let finished = clock.now();
        let recorded = db.write_delivery_result(|tx| {
            record(
                tx,
                &Recording {
                    message: &message,
                    claimer: &claimer,
                    channel: channel.name(),
                    actor,
                    now: finished,
                    max_attempts: options.max_attempts,
                },
                &outcome,
                &mut report,
            )
        })?;
        if !recorded {
            report.lost_claims += 1;
        }
        match outcome {
            SendOutcome::RateLimited { wait, .. } => {
                report.rate_limited = Some(wait);
                break;
            }
            SendOutcome::Broken { error } => {
                report.broken = Some(error);
                break;
            }
            _ => {}
        }
    }
    Ok(report)
}

/// Renders a claimed message's text from the current templates and catalogue
/// and stores it on the row (the exact text sent), inside the claim's
/// transaction. A message frozen when queued (no params) keeps its text.
/// Returns why the text cannot be sent, if it cannot (never cut silently).
fn render_for_sending(tx: &WriteTx, message: &mut ClaimedMessage) -> Result<Option<String>> {
    let (Some(params), Some(kind)) = (&message.params, MessageKind::from_name(&message.kind))
    else {
        return Ok(None);
    };
    let Some(facts) = tx.message_facts(message.booking_id, kind)? else {
        return Ok(None);
    };
    match render_message(&facts, kind, &MessageParams::from_json(params)) {
        Ok(text) => {
            if text != message.body {
                tx.set_message_body(message.id, &text)?;
                message.body = text;
            }
            Ok(None)
        }
        Err(problem) => Ok(Some(problem)),
    }
}

/// What `record` needs to know about the claim it closes.
struct Recording<'a> {
    message: &'a ClaimedMessage,
    claimer: &'a str,
    channel: &'static str,
    actor: &'a str,
    now: DateTime<Utc>,
    max_attempts: u32,
}

/// Stores one outcome and its audit entries; false if the claim was no longer ours.
fn record(
    tx: &WriteTx,
    r: &Recording,
    outcome: &SendOutcome,
    report: &mut DrainReport,
) -> Result<bool> {
    let m = r.message;
    let audit = |action: &'static str, extra: serde_json::Value| -> Result<()> {
        let mut details = json!({
            "message_id": m.id,
            "chat_id": m.chat_id,
            "kind": m.kind,
            "channel": r.channel,
            "attempts": m.attempts,
        });
        if let (Some(map), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
            map.extend(more);
        }
        tx.append_audit(
            r.actor,
            r.now,
            NewAuditEntry {
                action,
                booking_id: Some(m.booking_id),
                details,
                ..Default::default()
            },
        )?;
        Ok(())
    };
    let fail_for_good = |error: &str, extra: serde_json::Value, report: &mut DrainReport| {
        if !tx.mark_message_failed(m.id, r.claimer, error)? {
            return Ok(false);
        }
        let mut details = json!({ "error": error });
        if let (Some(map), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
            map.extend(more);
        }
        audit(action::MESSAGE_FAILED, details)?;
        report.failed += 1;
        report.undelivered.push(Undelivered {
            message_id: m.id,
            chat_id: m.chat_id,
            attempts: m.attempts,
            error: error.to_string(),
            retry_at: None,
        });
        Ok::<bool, anyhow::Error>(true)
    };
    let retry = |attempts: i64, at: DateTime<Utc>, error: &str, report: &mut DrainReport| {
        if !tx.mark_message_for_retry(m.id, r.claimer, attempts, at, Some(error))? {
            return Ok(false);
        }
        report.retried += 1;
        report.undelivered.push(Undelivered {
            message_id: m.id,
            chat_id: m.chat_id,
            attempts,
            error: error.to_string(),
            retry_at: Some(at),
        });
        Ok::<bool, anyhow::Error>(true)
    };
    match outcome {
        SendOutcome::Delivered => {
            if !tx.mark_message_sent(m.id, r.claimer, r.now)? {
                return Ok(false);
            }
            audit(action::MESSAGE_SENT, json!({}))?;
            report.sent += 1;
            Ok(true)
        }
        SendOutcome::Retry { error } => {
            let attempts = u32::try_from(m.attempts).unwrap_or(u32::MAX);
            if attempts >= r.max_attempts {
                let error = format!("gave up after {attempts} attempts: {error}");
                fail_for_good(&error, json!({}), report)
            } else {
                let at = r.now + later(retry_delay(attempts));
                retry(m.attempts, at, error, report)
            }
        }
        SendOutcome::RateLimited { error, wait } => {
            // At least a second later, so this run never sees it due again; at
            // most the clamp, whatever a channel says (no overflow either).
            let at = r.now + later((*wait).clamp(Duration::from_secs(1), MAX_RATE_LIMIT_WAIT));
            retry(m.attempts - 1, at, error, report)
        }
        SendOutcome::Rejected { error } => fail_for_good(error, json!({}), report),
        SendOutcome::Blocked { error } => {
            if !fail_for_good(error, json!({ "blocked": true }), report)? {
                return Ok(false);
            }
            if tx.block_user(m.chat_id, r.now, error)? {
                report.blocked += 1;
                tx.append_audit(
                    r.actor,
                    r.now,
                    NewAuditEntry {
                        action: action::USER_BLOCKED,
                        booking_id: Some(m.booking_id),
                        new_value: Some(m.chat_id.to_string()),
                        details: json!({ "user_id": m.chat_id, "message_id": m.id, "error": error }),
                        ..Default::default()
                    },
                )?;
            }
            Ok(true)
        }
        // Back to the queue as it was: the fault is ours, not the message's.
        SendOutcome::Broken { error } => {
            tx.mark_message_for_retry(m.id, r.claimer, m.attempts - 1, r.now, Some(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_outlasts_any_send() {
        assert_eq!(lease_for(Duration::from_secs(1)), Duration::from_secs(300));
        assert!(lease_for(Duration::from_secs(600)) > Duration::from_secs(1200));
    }

    #[test]
    fn claimer_ids_differ_between_calls() {
        assert_ne!(claimer_id(), claimer_id());
    }
}
