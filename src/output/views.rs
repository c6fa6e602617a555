//! Views of domain objects shared by several commands: a booking row, an
//! audit entry, a time cell, and the pieces of one user's story.

use comfy_table::Cell;

use crate::db::outbox::OutboxMessage;
use crate::db::payments::Payment;
use crate::domain::audit::AuditEntry;
use crate::domain::booking::Booking;
use crate::domain::money::format_amount;
use crate::domain::time::from_storage;
use crate::output::table::{new_table, number_cell, status_cell, text_cell, Table};
use crate::output::{sanitize, Output};

/// The bookings table (also used by bulk set-status previews).
pub fn bookings_table(out: &Output, rows: &[Booking]) -> Table {
    let headers = [
        out.tr("ID", "ID"),
        out.tr("Created", "Создано"),
        out.tr("Status", "Статус"),
        out.tr("User", "Пользователь"),
        out.tr("Name", "Имя"),
        out.tr("Course", "Курс"),
        out.tr("Stream", "Поток"),
        out.tr("Referral", "Реферал"),
        out.tr("Discount", "Скидка"),
    ];
    let mut table = new_table(out, &headers);
    for b in rows {
        let user = match &b.username {
            Some(name) if !name.is_empty() => format!("@{name}"),
            _ => b.user_id.to_string(),
        };
        table.add_row(vec![
            number_cell(b.id),
            Cell::new(show_time(out, &b.created_at)),
            status_cell(out, b.status),
            text_cell(out, Some(&user), 20),
            text_cell(out, b.first_name.as_deref(), 20),
            number_cell(b.course_id),
            text_cell(out, b.course_stream.as_deref(), 16),
            text_cell(out, b.referral_code.as_deref(), 12),
            number_cell(
                b.discount_percent
                    .map(|d| format!("{d}%"))
                    .unwrap_or_default(),
            ),
        ]);
    }
    // On a narrow terminal the names give way; id, time, status and numbers stay whole.
    table.keep_whole(&[0, 1, 2, 5, 8]);
    table
}

/// A stored time as people read it, in the display zone.
pub fn show_time(out: &Output, stored: &str) -> String {
    from_storage(stored)
        .map(|t| out.zone.show(t))
        .unwrap_or_else(|| sanitize::for_terminal(stored).into_owned())
}

/// Audit entries as a table for people.
pub fn audit_table(out: &Output, entries: &[AuditEntry]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            out.tr("ID", "ID"),
            out.tr("Time", "Время"),
            out.tr("Actor", "Кто"),
            out.tr("Action", "Действие"),
            out.tr("Booking", "Бронь"),
            out.tr("Change", "Изменение"),
            out.tr("Reason", "Причина"),
        ],
    );
    for e in entries {
        let change = change_text(e);
        table.add_row(vec![
            number_cell(e.id),
            Cell::new(show_time(out, &e.at)),
            text_cell(out, Some(&e.actor), 16),
            Cell::new(crate::output::sanitize::for_terminal(&e.action)),
            number_cell(e.booking_id.map(|b| b.to_string()).unwrap_or_default()),
            text_cell(out, Some(&change), 28),
            text_cell(out, e.reason.as_deref(), 30),
        ]);
    }
    table.keep_whole(&[0, 1, 3, 4]);
    table
}

/// `old → new`, as far as the entry has them.
pub fn change_text(e: &AuditEntry) -> String {
    match (&e.old_value, &e.new_value) {
        (Some(old), Some(new)) => format!("{old} → {new}"),
        (None, Some(new)) => new.clone(),
        (Some(old), None) => format!("{old} →"),
        (None, None) => String::new(),
    }
}

/// One user's payments: when, which booking, how much, what reconciliation decided.
pub fn user_payments_table(out: &Output, rows: &[Payment]) -> Table {
    let mut table = new_table(
        out,
        &[
            out.tr("Paid at", "Оплачено"),
            out.tr("Booking", "Бронь"),
            out.tr("Provider", "Провайдер"),
            out.tr("Payment", "Платёж"),
            out.tr("Amount", "Сумма"),
            out.tr("Outcome", "Итог"),
        ],
    );
    for p in rows {
        table.add_row(vec![
            Cell::new(
                p.paid_at
                    .as_deref()
                    .map(|t| show_time(out, t))
                    .unwrap_or_default(),
            ),
            number_cell(p.booking_id.map(|b| b.to_string()).unwrap_or_default()),
            text_cell(out, Some(&p.provider), 16),
            text_cell(out, Some(&p.external_id), 24),
            number_cell(format!(
                "{} {}",
                format_amount(p.amount_minor),
                sanitize::for_terminal(&p.currency)
            )),
            Cell::new(&p.outcome),
        ]);
    }
    table.keep_whole(&[0, 1, 4, 5]);
    table
}

/// One user's messages: sent, queued, failed or withdrawn.
pub fn user_messages_table(out: &Output, rows: &[OutboxMessage]) -> Table {
    let mut table = new_table(
        out,
        &[
            out.tr("ID", "ID"),
            out.tr("Booking", "Бронь"),
            out.tr("Status", "Статус"),
            out.tr("Created", "Создано"),
            out.tr("Sent", "Отправлено"),
            out.tr("Last error", "Последняя ошибка"),
        ],
    );
    for m in rows {
        table.add_row(vec![
            number_cell(m.id),
            number_cell(m.booking_id),
            text_cell(out, Some(&m.status), 12),
            Cell::new(show_time(out, &m.created_at)),
            Cell::new(
                m.sent_at
                    .as_deref()
                    .map(|t| show_time(out, t))
                    .unwrap_or_default(),
            ),
            text_cell(out, m.last_error.as_deref(), 40),
        ]);
    }
    table.keep_whole(&[0, 1, 2, 3, 4]);
    table
}
