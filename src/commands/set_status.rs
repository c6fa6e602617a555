//! `booking set-status`: one booking, a list of ids, or every booking matching
//! a filter — each change through `services::status_change`, all in one transaction.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use serde::Serialize;

use super::Context;
use std::path::PathBuf;

use clap::Args;

use crate::args::{booking_id, Confirm, DryRun, JsonFlag};
use crate::db::payments::NewPayment;
use crate::domain::booking::{BookingFilter, Sort};
use crate::domain::message::MessageKind;
use crate::domain::money::parse_amount;
use crate::domain::payment::PaymentOutcome;
use crate::domain::time::parse_age;
use crate::domain::Status;
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::views;
use crate::services::status_change::{
    change_status, ChangeBatch, StatusChange, StatusChangeOutcome,
};

#[derive(Debug, Args)]
#[command(mut_arg("yes", |a| a.help("Bulk: do not ask for confirmation (needed when not on a terminal)")))]
pub struct SetStatusArgs {
    /// Booking id (omit with --ids-from or a filter).
    #[arg(value_parser = booking_id)]
    pub id: Option<i64>,
    /// New status: confirmed, pending, cancelled (also 2, 1, -1, paid, canceled, Russian labels).
    #[arg(value_enum, ignore_case = true, value_name = "STATUS")]
    pub target: Option<Status>,
    /// New status (for --ids-from and filters).
    #[arg(long, value_enum, ignore_case = true, conflicts_with = "target")]
    pub to: Option<Status>,
    /// Apply to the ids in this file, one per line (`-` for stdin): one transaction, all or nothing.
    #[arg(long, value_name = "FILE", conflicts_with = "id")]
    pub ids_from: Option<PathBuf>,
    /// Bulk: only bookings in this status.
    #[arg(long = "status", value_enum, ignore_case = true, value_name = "STATUS")]
    pub current: Option<Status>,
    /// Bulk: only this course.
    #[arg(long)]
    pub course: Option<i64>,
    /// Bulk: only this stream.
    #[arg(long)]
    pub stream: Option<String>,
    /// Bulk: only bookings paytrack has known for longer than this (7d, 24h, 2w): since
    /// their first import, or their created_at when no import brought them.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Bulk: count --older-than from created_at (the old system's time for an imported booking).
    #[arg(long, requires = "older_than")]
    pub by_created_at: bool,
    /// Bulk: change nothing, and exit 10 naming the count, when more than N bookings are selected.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    /// Why (required for confirmed → cancelled and with --force); stored in the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// Allow a change the rules refuse (needs --reason; recorded as forced).
    #[arg(long)]
    pub force: bool,
    /// Refuse (exit 6) unless the booking currently has this status.
    #[arg(long, value_enum, ignore_case = true, value_name = "STATUS")]
    pub expect: Option<Status>,
    #[command(flatten)]
    pub preview: DryRun,
    /// Record the change without queueing any message (an unsent confirmation is withdrawn all the same).
    #[arg(long)]
    pub no_notify: bool,
    /// Confirmation message template file (placeholders: {first_name} {username} {course_name} {stream_name} {booking_id}).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Payment reference to record with the change.
    #[arg(long, value_name = "REF")]
    pub payment_ref: Option<String>,
    /// Amount paid (with --payment-ref), e.g. 30000 or 27000.50.
    #[arg(long, requires = "payment_ref")]
    pub amount: Option<String>,
    /// Currency of --amount, e.g. RUB.
    #[arg(long, requires = "payment_ref")]
    pub currency: Option<String>,
    /// Payment provider of --payment-ref.
    #[arg(long, default_value = "manual", requires = "payment_ref")]
    pub provider: String,
    #[command(flatten)]
    pub output: JsonFlag,
    #[command(flatten)]
    pub confirm: Confirm,
    /// Bulk cancel by filter: cancel bookings that have received money too (they are skipped and listed otherwise).
    #[arg(long)]
    pub include_paid: bool,
}

pub fn run(ctx: &Context, args: SetStatusArgs) -> Result<u8> {
    let to = args.target.or(args.to).ok_or_else(|| {
        bad_input("which status? e.g. `paytrack booking set-status 42 confirmed`")
    })?;
    let bulk_filter = args.current.is_some()
        || args.course.is_some()
        || args.stream.is_some()
        || args.older_than.is_some();
    if args.payment_ref.is_some() && to != Status::Confirmed {
        return Err(bad_input(
            "--payment-ref records a payment with a confirmation; use it with `confirmed`",
        ));
    }
    let template = args
        .template
        .as_ref()
        .map(|p| {
            std::fs::read_to_string(p).map_err(|e| {
                bad_input(format!(
                    "cannot read template {}: {e}",
                    crate::text::shown_path(p)
                ))
            })
        })
        .transpose()?;
    // A typo would reach the student: refused before anything changes.
    if let Some(key) = template.as_deref().and_then(|t| {
        crate::domain::message::unknown_placeholders(t)
            .first()
            .copied()
    }) {
        return Err(bad_input(format!(
            "--template: {{{}}} is not a placeholder; nothing changed",
            crate::text::for_terminal(key)
        )));
    }
    let change_for = |id: i64, source: &'static str| -> Result<StatusChange> {
        Ok(StatusChange {
            booking_id: id,
            to,
            force: args.force,
            reason: args.reason.clone(),
            expect: args.expect,
            notify: !args.no_notify,
            payment: payment(&args, id)?,
            payment_outcome: PaymentOutcome::Recorded,
            template: template.clone(),
            source,
        })
    };
    match (args.id, &args.ids_from, bulk_filter) {
        (Some(id), None, false) => single(ctx, &args, change_for(id, "cli")?),
        (None, Some(file), false) => {
            let ids = super::read_ids(file)?;
            let max = args.max.filter(|_| !args.preview.dry_run);
            if let Some(code) = super::over_max(ctx, ids.len() as u64, max, "bookings listed") {
                return Ok(code);
            }
            one_booking_per_payment(&args, ids.len())?;
            let changes = ids.into_iter().map(|id| change_for(id, "bulk")).collect::<Result<Vec<_>>>()?;
            bulk(ctx, &args, changes)
        }
        (None, None, true) => {
            let ids = select_by_filter(ctx, &args)?;
            if ids.is_empty() {
                ctx.out.note(ctx.out.tr("no bookings match; nothing to do", "подходящих бронирований нет; делать нечего"));
                return Ok(exit::OK);
            }
            let max = args.max.filter(|_| !args.preview.dry_run);
            if let Some(code) = super::over_max(ctx, ids.len() as u64, max, "bookings match") {
                return Ok(code);
            }
            one_booking_per_payment(&args, ids.len())?;
            let mut changes = Vec::with_capacity(ids.len());
            for id in ids {
                let mut change = change_for(id, "bulk")?;
                // Bookings that moved between the preview and the write are skipped, not changed.
                change.expect = args.current.or(args.expect);
                changes.push(change);
            }
            bulk(ctx, &args, changes)
        }
        (None, None, false) => Err(bad_input("name a booking id, --ids-from FILE, or a filter (--status, --course, --stream, --older-than)")),
        _ => Err(bad_input("give one of: a booking id, --ids-from FILE, or filter flags")),
    }
}

/// A payment reference names one payment of one booking: with a list or a
/// filter it is accepted only when that selects exactly one booking (issue 17:
/// it was stored with no booking, or as "already recorded" for the second).
fn one_booking_per_payment(args: &SetStatusArgs, bookings: usize) -> Result<()> {
    if args.payment_ref.is_some() && bookings != 1 {
        return Err(bad_input(format!(
            "--payment-ref records one payment for one booking, but {bookings} bookings were selected; \
             confirm them without --payment-ref, or import the payments with `payments import`"
        )));
    }
    Ok(())
}

/// The payment `--payment-ref` records for booking `booking_id`.
fn payment(args: &SetStatusArgs, booking_id: i64) -> Result<Option<NewPayment>> {
    let Some(reference) = &args.payment_ref else {
        return Ok(None);
    };
    let amount_minor = args
        .amount
        .as_deref()
        .map(parse_amount)
        .transpose()
        .map_err(bad_input)?
        .unwrap_or(0);
    if amount_minor < 0 {
        return Err(bad_input("--amount cannot be negative"));
    }
    Ok(Some(NewPayment {
        provider: args.provider.clone(),
        external_id: reference.clone(),
        booking_id: Some(booking_id),
        amount_minor,
        currency: args.currency.clone().unwrap_or_default().to_uppercase(),
        paid_at: None,
        description: None,
    }))
}

fn single(ctx: &Context, args: &SetStatusArgs, change: StatusChange) -> Result<u8> {
    let ((outcome, balance), _) = super::write_unless(
        ctx,
        |tx| {
            let outcome = change_status(tx, &change, &ctx.actor, ctx.now)?;
            // A confirmation by hand of a part-paid booking says what is
            // still owed (issue 25).
            let balance = match tx.booking(outcome.booking_id)? {
                Some(b) if outcome.changed && outcome.to == Status::Confirmed => {
                    crate::services::messages::part_paid(
                        &tx.message_facts_of(b, MessageKind::Confirmation)?,
                    )
                }
                _ => None,
            };
            Ok((outcome, balance))
        },
        |_| !args.preview.dry_run,
    )?;
    let out = &ctx.out;
    if let Some(balance) = &balance {
        let money = |minor| {
            crate::output::views::money(
                out,
                crate::domain::money::Money::from_minor(minor),
                balance.currency.as_deref(),
            )
        };
        out.warn(&format!(
            "{} {} {} {} ({} {} {} {}); {}",
            out.tr("booking", "бронь"),
            outcome.booking_id,
            out.tr("is part-paid:", "оплачена частично:"),
            out.tr(
                &format!("{} left to pay", money(balance.left_minor)),
                &format!("осталось оплатить {}", money(balance.left_minor))
            ),
            out.tr("received", "получено"),
            money(balance.received_minor),
            out.tr("of", "из"),
            money(balance.expected_minor),
            out.tr(
                "`bookings list --payment partial` lists it",
                "она видна в `bookings list --payment partial`"
            )
        ));
    }
    let prefix = if args.preview.dry_run {
        out.tr("dry run: ", "пробный запуск: ")
    } else {
        ""
    };
    if outcome.changed {
        let verb = if args.preview.dry_run {
            out.tr("would change", "будет изменена")
        } else {
            out.tr("changed", "изменена")
        };
        let mut line = format!(
            "{prefix}{} {} {verb}: {} → {}",
            out.tr("booking", "бронь"),
            outcome.booking_id,
            out.status_label(outcome.from),
            out.status_label(outcome.to)
        );
        if outcome.forced {
            line += out.tr(" (forced)", " (принудительно)");
        }
        if outcome.message_held {
            line += out.tr(
                "; the student blocked the bot: confirmation message held until `users unblock`",
                "; студент заблокировал бота: сообщение о подтверждении отложено до `users unblock`",
            );
        } else if outcome.message_id.is_some() {
            line += out.tr(
                "; confirmation message queued",
                "; сообщение о подтверждении в очереди",
            );
        }
        out.note(&line);
    } else {
        out.note(&format!(
            "{prefix}{} {} {} {}; {}",
            out.tr("booking", "бронь"),
            outcome.booking_id,
            out.tr("is already", "уже"),
            out.status_label(outcome.from),
            out.tr("nothing to do", "делать нечего")
        ));
    }
    if args.output.json {
        let mut stdout = crate::output::stdout();
        crate::output::json::to_writer(
            &mut stdout,
            &JsonOutcome {
                dry_run: args.preview.dry_run,
                outcome: &outcome,
            },
        )?;
        writeln!(stdout)?;
        stdout.flush()?;
    }
    Ok(exit::OK)
}

#[derive(Serialize)]
struct JsonOutcome<'a> {
    dry_run: bool,
    #[serde(flatten)]
    outcome: &'a StatusChangeOutcome,
}

/// The result of a bulk change.
#[derive(Debug, Default, Serialize)]
struct BulkSummary {
    dry_run: bool,
    changed: u64,
    unchanged: u64,
    /// Bookings that moved to another status since they were selected (filter bulk only).
    skipped: u64,
    /// Bookings a filter cancel left alone because they have received money.
    spared_paid: Vec<i64>,
    /// Bookings confirmed here that received part of their price: the rest
    /// is still owed (issue 25).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    part_paid: Vec<i64>,
    refused: Vec<Refusal>,
}

#[derive(Debug, Serialize)]
struct Refusal {
    booking_id: i64,
    reason: String,
}

fn bulk(ctx: &Context, args: &SetStatusArgs, changes: Vec<StatusChange>) -> Result<u8> {
    let total = changes.len();
    // A refused change leaves the whole batch unapplied: fix the list and re-run.
    // A stale-booking cleanup must not cancel a student who paid part of the
    // price (issue 14): such bookings are skipped, in the transaction, unless asked.
    let spare_paid = changes.first().map(|c| c.to) == Some(Status::Cancelled)
        && !args.include_paid
        && args.ids_from.is_none()
        && args.id.is_none();
    let (summary, applied) = super::write_unless(
        ctx,
        |tx| apply_all(tx, ctx, &changes, spare_paid),
        |s| !args.preview.dry_run && s.refused.is_empty(),
    )?;
    let applied = applied && summary.changed > 0;
    let out = &ctx.out;
    if !summary.spared_paid.is_empty() {
        out.warn(&format!(
            "{} {}: {}",
            summary.spared_paid.len(),
            out.tr(
                "booking(s) with money received were not cancelled (--include-paid cancels them too)",
                "бронирований с поступившими деньгами не отменены (--include-paid отменит и их)"
            ),
            summary
                .spared_paid
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if applied && !summary.part_paid.is_empty() {
        let mut listed: Vec<String> = summary
            .part_paid
            .iter()
            .take(20)
            .map(i64::to_string)
            .collect();
        if summary.part_paid.len() > 20 {
            listed.push(format!("… {} more", summary.part_paid.len() - 20));
        }
        out.warn(&format!(
            "{} {}: {} ({})",
            summary.part_paid.len(),
            out.tr(
                "booking(s) confirmed with part of the price still to pay",
                "бронирований подтверждено с неоплаченным остатком"
            ),
            listed.join(", "),
            out.tr(
                "`bookings list --payment partial` lists them",
                "они видны в `bookings list --payment partial`"
            )
        ));
    }
    for refusal in &summary.refused {
        // Through `talk`: a closed stderr must not become a panic.
        crate::output::talk(format_args!(
            "paytrack: {}: {}",
            out.tr("refused", "отказано"),
            refusal.reason
        ));
    }
    let head = if applied {
        out.tr("applied", "применено")
    } else if args.preview.dry_run {
        out.tr(
            "dry run, nothing written",
            "пробный запуск, ничего не записано",
        )
    } else if !summary.refused.is_empty() {
        out.tr(
            "nothing written because of refusals",
            "ничего не записано из-за отказов",
        )
    } else {
        out.tr("nothing to change", "менять нечего")
    };
    out.note(&format!(
        "{head}: {}, {} {}, {} {}, {} {}, {} {}",
        out.bookings_count(total as u64),
        summary.changed,
        out.tr("changed", "изменено"),
        summary.unchanged,
        out.tr("unchanged", "без изменений"),
        summary.skipped,
        out.tr("skipped", "пропущено"),
        summary.refused.len(),
        out.tr("refused", "отказано"),
    ));
    let refused = !summary.refused.is_empty();
    if args.output.json {
        let mut stdout = crate::output::stdout();
        let summary = BulkSummary {
            dry_run: !applied,
            ..summary
        };
        crate::output::json::to_writer(&mut stdout, &summary)?;
        writeln!(stdout)?;
        stdout.flush()?;
    }
    Ok(if refused {
        exit::TRANSITION_REFUSED
    } else {
        exit::OK
    })
}

/// Applies every change in one transaction, collecting refusals instead of
/// stopping at the first. Each change is checked as it comes (so every
/// refusal is listed) and written in batches of `BULK_BATCH` (issue 19).
fn apply_all(
    tx: &crate::db::WriteTx,
    ctx: &Context,
    changes: &[StatusChange],
    spare_paid: bool,
) -> Result<BulkSummary> {
    const BULK_BATCH: usize = 500;
    if changes.len() > BULK_BATCH {
        // One pass over the pending queue instead of a withdrawal UPDATE per
        // booking with nothing to withdraw.
        tx.learn_pending_messages()?;
    }
    let mut summary = BulkSummary::default();
    let mut batch = ChangeBatch::default();
    // `last`: the bot's rows too, written after everything else (issue 26).
    let write = |batch: &mut ChangeBatch, summary: &mut BulkSummary, last: bool| -> Result<()> {
        let written = batch.write(tx, &ctx.actor, ctx.now).and_then(|_| {
            if last {
                batch.finish(tx)
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => Ok(()),
            // On PostgreSQL the bot changed a booking between its read and
            // this write: refused, so nothing of the bulk is kept.
            Err(err) => match (batch.lost(), err.downcast_ref::<PaytrackError>()) {
                (Some(booking_id), Some(PaytrackError::ExpectationFailed(msg))) => {
                    summary.refused.push(Refusal {
                        booking_id,
                        reason: msg.clone(),
                    });
                    Ok(())
                }
                _ => Err(err),
            },
        }
    };
    // The bookings of the next changes, read ahead in one query each
    // (on PostgreSQL one round trip per booking was a third of a bulk's
    // time); each is taken once, so a booking named again is read afresh.
    let mut ahead: rustc_hash::FxHashMap<i64, crate::domain::booking::Booking> =
        rustc_hash::FxHashMap::default();
    for (i, change) in changes.iter().enumerate() {
        if i % 1024 == 0 {
            crate::interrupt::check()?;
        }
        if i % crate::db::bookings::BOOKINGS_AHEAD == 0 {
            let next: Vec<i64> = changes[i..]
                .iter()
                .take(crate::db::bookings::BOOKINGS_AHEAD)
                .map(|c| c.booking_id)
                .collect();
            ahead = tx
                .bookings_ahead(&next)?
                .into_iter()
                .map(|b| (b.id, b))
                .collect();
        }
        if batch.has_change_for(change.booking_id) {
            write(&mut batch, &mut summary, false)?;
        }
        if spare_paid && tx.has_received_money(change.booking_id)? {
            summary.spared_paid.push(change.booking_id);
            continue;
        }
        let booking = match ahead.remove(&change.booking_id) {
            Some(booking) => Some(booking),
            None => tx.booking(change.booking_id)?,
        };
        let added = match &booking {
            Some(booking) => batch.add_change(booking, change.clone()),
            None => Err(PaytrackError::NotFound(format!(
                "booking {} not found",
                change.booking_id
            ))
            .into()),
        };
        match added {
            Ok(None) => {
                summary.changed += 1;
                if let (Status::Confirmed, Some(booking)) = (change.to, booking) {
                    let facts = tx.message_facts_of(booking, MessageKind::Confirmation)?;
                    if crate::services::messages::part_paid(&facts).is_some() {
                        summary.part_paid.push(change.booking_id);
                    }
                }
            }
            Ok(Some(_)) => summary.unchanged += 1,
            Err(err) => match err.downcast_ref::<PaytrackError>() {
                Some(PaytrackError::ExpectationFailed(_))
                    if change.source == "bulk" && change.expect.is_some() =>
                {
                    summary.skipped += 1;
                }
                Some(
                    PaytrackError::NotFound(msg)
                    | PaytrackError::TransitionRefused(msg)
                    | PaytrackError::ExpectationFailed(msg),
                ) => summary.refused.push(Refusal {
                    booking_id: change.booking_id,
                    reason: msg.clone(),
                }),
                _ => return Err(err),
            },
        }
        if batch.len() >= BULK_BATCH {
            write(&mut batch, &mut summary, false)?;
        }
    }
    write(&mut batch, &mut summary, true)?;
    Ok(summary)
}

/// The bookings a filter bulk change selects; shows them and asks on a terminal.
fn select_by_filter(ctx: &Context, args: &SetStatusArgs) -> Result<Vec<i64>> {
    let until = match &args.older_than {
        Some(age) => {
            let duration = parse_age(age.trim())
                .ok_or_else(|| {
                    bad_input(format!(
                        "--older-than: '{}' is not an age such as 7d, 24h or 2w",
                        crate::text::shown(age)
                    ))
                })?
                .map_err(bad_input)?;
            Some(
                ctx.now
                    .checked_sub_signed(duration)
                    .ok_or_else(|| bad_input("--older-than is too large"))?,
            )
        }
        None => None,
    };
    let (until, known_before) = if args.by_created_at {
        (until, None)
    } else {
        (None, until)
    };
    let filter = BookingFilter {
        status: args.current,
        course: args.course,
        stream: args.stream.clone(),
        until,
        known_before,
        ..Default::default()
    };
    let db = ctx.open_db()?;
    crate::services::catalogue::check_filter_names(&db, &filter)?;
    let rows = db.list_bookings(&filter, Sort::Oldest, None, None)?;
    let ids: Vec<i64> = rows.iter().map(|b| b.id).collect();
    // Above --max nobody is asked: the caller refuses.
    let over_max = args.max.is_some_and(|max| ids.len() as u64 > max);
    if ids.is_empty() || args.preview.dry_run || args.confirm.yes || over_max {
        if args.preview.dry_run && !ids.is_empty() {
            let mut stdout = crate::output::stdout();
            writeln!(stdout, "{}", views::bookings_table(&ctx.out, &rows))?;
            stdout.flush()?;
        }
        return Ok(ids);
    }
    // The rows are shown only where someone can answer the question below.
    if std::io::stdin().is_terminal() && ctx.out.stderr_is_terminal {
        crate::output::talk(format_args!("{}", views::bookings_table(&ctx.out, &rows)));
    }
    let question = format!(
        "{} {} → {}?",
        ctx.out.tr("Change", "Изменить"),
        ctx.out.bookings_count(ids.len() as u64),
        ctx.out
            .status_label(args.target.or(args.to).expect("checked by the caller"))
    );
    let what = format!("{} bookings match", ids.len());
    if crate::output::prompt::confirm(&ctx.out, &question, &what)? {
        Ok(ids)
    } else {
        Err(PaytrackError::BadInput("cancelled; nothing changed".into()).into())
    }
}
