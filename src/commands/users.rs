//! `users show | block | unblock`: one person's whole story on one screen,
//! and the admin's switch for messaging them.

use anyhow::Result;
use serde::Serialize;

use super::Context;

use crate::args::OutputArgs;
use crate::db::outbox::OutboxMessage;
use crate::db::payments::Payment;
use crate::domain::audit::AuditEntry;
use crate::domain::booking::{Booking, UserRef};
use crate::domain::message::MessageKind;
use crate::domain::Status;
use crate::error::{exit, PaytrackError};
use crate::output::pipeline;
use crate::output::views::BookingJson;
use crate::output::views::{audit_table, bookings_table, messages_table, payments_table};
use crate::output::Format;
use crate::services::blocking::{self, BlockChange, Blocking};

#[derive(Serialize)]
struct Blocked {
    blocked_at: String,
    reason: Option<String>,
}

#[derive(Serialize)]
struct UserStory<'a> {
    user_id: i64,
    blocked: Option<Blocked>,
    bookings: Vec<BookingJson<'a>>,
    payments: &'a [Payment],
    messages: &'a [OutboxMessage],
    audit: &'a [AuditEntry],
    /// Part-paid bookings and what they still owe (issue 25).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    left_to_pay: Vec<LeftToPay>,
}

#[derive(Serialize)]
struct LeftToPay {
    booking_id: i64,
    amount: String,
    currency: Option<String>,
}

/// `users show USER_ID|@username`.
pub fn show(ctx: &Context, user: &UserRef, history: u64, output: &OutputArgs) -> Result<u8> {
    let mut db = ctx.open_db()?;
    let (user_id, bookings, payments, messages, audit, blocked) = db.read(|db| {
        let user_id = match user {
            UserRef::Id(id) => *id,
            UserRef::Username(name) => db.user_id_for_username(name)?.ok_or_else(|| {
                PaytrackError::NotFound(format!(
                    "no booking has the username @{}",
                    crate::text::for_terminal(name)
                ))
            })?,
        };
        let bookings = db.bookings_of_user(user_id)?;
        let mut payments = Vec::new();
        let mut messages = Vec::new();
        for b in &bookings {
            payments.extend(db.payments_for_booking(b.id)?);
            messages.extend(db.outbox_messages(None, Some(b.id))?);
        }
        let audit = db.audit_for_user(user_id, history)?;
        let blocked = db.blocked_user(user_id)?;
        let mut balances = Vec::new();
        for b in bookings.iter().filter(|b| b.status != Status::Cancelled) {
            if let Some(facts) = db.message_facts(b.id, MessageKind::Confirmation)? {
                balances.extend(crate::services::messages::part_paid(&facts).map(|m| (b.id, m)));
            }
        }
        Ok((
            user_id,
            bookings,
            payments,
            messages,
            audit,
            (blocked, balances),
        ))
    })?;
    let (blocked, balances) = blocked;
    if bookings.is_empty() && blocked.is_none() && audit.is_empty() {
        return Err(PaytrackError::NotFound(format!("no bookings for user {user_id}")).into());
    }
    let (format, out) = output.resolve(&ctx.out, Format::Table);
    let story = UserStory {
        user_id,
        blocked: blocked
            .clone()
            .map(|(blocked_at, reason)| Blocked { blocked_at, reason }),
        bookings: bookings
            .iter()
            .map(|booking| BookingJson {
                booking,
                status: booking.status.name(),
            })
            .collect(),
        payments: &payments,
        messages: &messages,
        audit: &audit,
        left_to_pay: balances
            .iter()
            .map(|(id, b)| LeftToPay {
                booking_id: *id,
                amount: crate::domain::money::format_amount(b.left_minor),
                currency: b.currency.clone(),
            })
            .collect(),
    };
    pipeline::print_document(
        &out,
        format,
        "users show",
        &story,
        None::<&Booking>,
        |stdout| {
            let name = bookings
                .iter()
                .rev()
                .find_map(|b| b.username.as_deref().map(|u| format!(" @{u}")))
                .unwrap_or_default();
            let state = match &blocked {
                Some((at, reason)) => format!(
                    "{} {} ({})",
                    out.tr("blocked since", "заблокирован с"),
                    crate::output::views::show_time(&out, at),
                    reason.as_deref().unwrap_or("")
                ),
                None => out
                    .tr("receives messages", "получает сообщения")
                    .to_string(),
            };
            writeln!(
                stdout,
                "{} {user_id}{}: {}",
                out.tr("User", "Пользователь"),
                crate::text::for_terminal(&name),
                crate::text::for_terminal(&state)
            )?;
            let sections = [
                (
                    out.tr("Bookings", "Бронирования"),
                    (!bookings.is_empty()).then(|| bookings_table(&out, &bookings)),
                ),
                (
                    out.tr("Payments", "Платежи"),
                    (!payments.is_empty()).then(|| payments_table(&out, &payments)),
                ),
                (
                    out.tr("Messages", "Сообщения"),
                    (!messages.is_empty()).then(|| messages_table(&out, &messages)),
                ),
                (
                    out.tr("History", "История"),
                    (!audit.is_empty()).then(|| audit_table(&out, &audit)),
                ),
            ];
            for (title, table) in sections {
                if let Some(table) = table {
                    writeln!(stdout, "\n{title}\n{table}")?;
                }
                if title == out.tr("Bookings", "Бронирования") {
                    for (id, balance) in &balances {
                        writeln!(
                            stdout,
                            "{} {id}: {}",
                            out.tr("booking", "бронь"),
                            crate::output::views::balance_line(&out, balance)
                        )?;
                    }
                }
            }
            Ok(())
        },
    )?;
    Ok(exit::OK)
}

/// `users block` / `users unblock` (`services::blocking::set_blocked`).
pub fn set_blocked(ctx: &Context, user: &UserRef, blocking: Blocking, reason: &str) -> Result<u8> {
    if reason.trim().is_empty() {
        return Err(crate::error::bad_input("--reason cannot be empty"));
    }
    let (change, _) = super::write_unless(
        ctx,
        |tx| blocking::set_blocked(tx, &ctx.actor, ctx.now, user, blocking, reason),
        |change| change.changed,
    )?;
    let BlockChange {
        user_id,
        changed,
        messages: requeued,
    } = change;
    let out = &ctx.out;
    let text = match (blocking == Blocking::Block, changed) {
        (true, true) => format!(
            "{} {user_id} {}; {requeued} {}",
            out.tr("user", "пользователь"),
            out.tr(
                "blocked: no messages go to them",
                "заблокирован: сообщения не отправляются"
            ),
            out.tr(
                "queued messages held until `users unblock`",
                "сообщений в очереди задержано до `users unblock`"
            )
        ),
        (true, false) => format!(
            "{} {user_id} {}",
            out.tr("user", "пользователь"),
            out.tr(
                "was already blocked; nothing changed",
                "уже заблокирован; ничего не изменилось"
            )
        ),
        (false, true) => format!(
            "{} {user_id} {}; {requeued} {}",
            out.tr("user", "пользователь"),
            out.tr("unblocked", "разблокирован"),
            out.tr(
                "held messages queued again",
                "задержанных сообщений снова в очереди"
            )
        ),
        (false, false) => format!(
            "{} {user_id} {}",
            out.tr("user", "пользователь"),
            out.tr(
                "was not blocked; nothing changed",
                "не был заблокирован; ничего не изменилось"
            )
        ),
    };
    out.note(&text);
    Ok(exit::OK)
}
