//! How paytrack's domain objects look to people: the tables of bookings,
//! payments, audit entries and messages, and the cells they share (times in
//! the display zone, money, statuses). Commands hand rows here; no command
//! builds another command's table.

use comfy_table::Cell;
use serde::Serialize;

use super::pipeline::Record;

use super::table::{new_table, number_cell, status_cell, text_cell, Table};
use super::{Lang, Output};
use crate::domain::audit::AuditEntry;
use crate::domain::booking::Booking;
use crate::domain::message::MessageStatus;
use crate::domain::message::OutboxMessage;
use crate::domain::money::{format_amount, Money};
use crate::domain::payment::Payment;
use crate::domain::time::from_storage;
use crate::text;

/// A stored time as people read it, in the display zone.
pub fn show_time(out: &Output, stored: &str) -> String {
    from_storage(stored).map_or_else(
        || text::for_terminal(stored).into_owned(),
        |t| out.zone.show(t),
    )
}

/// The columns of bookings in CSV and JSON: the schema's names plus
/// `status`. `bookings import` reads these columns, so export → import
/// round-trips.
pub const BOOKING_COLUMNS: [&str; 12] = [
    "id",
    "user_id",
    "username",
    "first_name",
    "course_id",
    "course_stream",
    "confirmed",
    "created_at",
    "referral_code",
    "discount_percent",
    "updated_at",
    "status",
];

/// A booking in JSON: the stored fields plus the status's name.
#[derive(Serialize)]
pub struct BookingJson<'a> {
    #[serde(flatten)]
    pub booking: &'a Booking,
    pub status: &'static str,
}

/// A booking for machines. Redaction (issue 20) happens on the row before
/// it gets here: a redacted booking has no names.
impl Record for Booking {
    const COLUMNS: &'static [&'static str] = &BOOKING_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        let text = |v: &Option<String>| out.csv_opt(v.as_deref());
        vec![
            self.id.to_string(),
            self.user_id.to_string(),
            text(&self.username),
            text(&self.first_name),
            self.course_id.to_string(),
            text(&self.course_stream),
            self.status.code().to_string(),
            self.created_at.clone(),
            text(&self.referral_code),
            self.discount_percent
                .map(|d| d.to_string())
                .unwrap_or_default(),
            self.updated_at.clone(),
            self.status.name().to_string(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        BookingJson {
            booking: self,
            status: self.status.name(),
        }
    }
}

/// The bookings table (also used by bulk set-status previews).
pub fn bookings_table(out: &Output, rows: &[Booking]) -> Table {
    let headers = [
        out.tr("ID", "ID"),
        &out.time_header("Created", "Создано"),
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
            comfy_table::Cell::new_owned(show_time(out, &b.created_at)),
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
    // Then Referral and Discount give their room to the names.
    table.optional(&[7, 8]);
    table
}

/// The columns of `payments list --csv`: the table's, amounts as `27000.00`.
pub const PAYMENT_COLUMNS: [&str; 13] = [
    "id",
    "provider",
    "external_id",
    "booking_id",
    "amount",
    "currency",
    "paid_at",
    "description",
    "outcome",
    "imported_at",
    "resolved_at",
    "resolved_by",
    "resolution_note",
];

/// A stored payment for CSV and JSON: the amount in machine form.
#[derive(Serialize)]
pub struct PaymentJson<'a> {
    #[serde(flatten)]
    pub payment: &'a Payment,
    pub amount: String,
}

impl Record for Payment {
    const COLUMNS: &'static [&'static str] = &PAYMENT_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        let text = |v: &str| out.csv_text(v).into_owned();
        vec![
            self.id.to_string(),
            text(&self.provider),
            text(&self.external_id),
            self.booking_id.map(|b| b.to_string()).unwrap_or_default(),
            format_amount(self.amount_minor),
            text(&self.currency),
            self.paid_at.clone().unwrap_or_default(),
            self.description.as_deref().map(text).unwrap_or_default(),
            self.outcome.clone(),
            self.imported_at.clone(),
            self.resolved_at.clone().unwrap_or_default(),
            self.resolved_by.as_deref().map(text).unwrap_or_default(),
            self.resolution_note
                .as_deref()
                .map(text)
                .unwrap_or_default(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        PaymentJson {
            payment: self,
            amount: format_amount(self.amount_minor),
        }
    }
}

/// Stored payments as a table for people.
pub fn payments_table(out: &Output, rows: &[Payment]) -> Table {
    let mut table = new_table(
        out,
        &[
            // The id `payments assign/resolve` take.
            "Id",
            &out.time_header("Paid at", "Оплачено"),
            out.tr("Provider", "Провайдер"),
            out.tr("Payment", "Платёж"),
            out.tr("Booking", "Бронь"),
            out.tr("Amount", "Сумма"),
            out.tr("Outcome", "Итог"),
            out.tr("Description", "Назначение"),
        ],
    );
    for p in rows {
        let outcome = match &p.resolved_at {
            Some(_) => format!("{} ({})", p.outcome, out.tr("resolved", "разобран")),
            None => p.outcome.clone(),
        };
        table.add_row(vec![
            number_cell(p.id),
            comfy_table::Cell::new(
                p.paid_at
                    .as_deref()
                    .map(|t| show_time(out, t))
                    .unwrap_or_default(),
            ),
            text_cell(out, Some(&p.provider), 16),
            text_cell(out, Some(&p.external_id), 24),
            number_cell(p.booking_id.map(|b| b.to_string()).unwrap_or_default()),
            money_cell(out, p.amount_minor, &p.currency),
            comfy_table::Cell::new(outcome),
            text_cell(out, p.description.as_deref(), 30),
        ]);
    }
    table.keep_whole(&[0, 1, 4, 5, 6]);
    table
}

/// The columns of audit entries in CSV (and the JSON field names).
pub const AUDIT_COLUMNS: [&str; 12] = [
    "id",
    "at",
    "actor",
    "action",
    "booking_id",
    "old_value",
    "new_value",
    "reason",
    "details",
    "prev_hash",
    "hash",
    "operation_id",
];

impl Record for AuditEntry {
    const COLUMNS: &'static [&'static str] = &AUDIT_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        let opt = |v: &Option<String>| out.csv_opt(v.as_deref());
        vec![
            self.id.to_string(),
            out.csv_text(&self.at).into_owned(),
            out.csv_text(&self.actor).into_owned(),
            out.csv_text(&self.action).into_owned(),
            self.booking_id.map(|b| b.to_string()).unwrap_or_default(),
            opt(&self.old_value),
            opt(&self.new_value),
            opt(&self.reason),
            out.csv_text(&self.details).into_owned(),
            self.prev_hash.clone(),
            self.hash.clone(),
            self.operation_id.clone().unwrap_or_default(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        self
    }
}

/// An audit entry as one line, for people following the log (`audit tail
/// -f`, or a tail too long for a table): id, time, actor, action, booking,
/// change, reason — every stored text sanitised.
pub fn audit_line(out: &Output, e: &AuditEntry) -> String {
    use text::for_terminal;
    let mut line = format!(
        "{:>6}  {}  {}  {}",
        e.id,
        show_time(out, &e.at),
        for_terminal(&e.actor),
        for_terminal(&e.action)
    );
    if let Some(b) = e.booking_id {
        line += &format!("  #{b}");
    }
    let change = change_text(e);
    if !change.is_empty() {
        line += &format!("  {}", for_terminal(&change));
    }
    if let Some(reason) = &e.reason {
        line += &format!("  ({})", for_terminal(reason));
    }
    line
}

/// Audit entries as a table for people.
pub fn audit_table(out: &Output, entries: &[AuditEntry]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            out.tr("ID", "ID"),
            &out.time_header("Time", "Время"),
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
            comfy_table::Cell::new_owned(show_time(out, &e.at)),
            text_cell(out, Some(&e.actor), 16),
            comfy_table::Cell::new(crate::text::for_terminal(&e.action)),
            number_cell(e.booking_id.map(|b| b.to_string()).unwrap_or_default()),
            text_cell(out, Some(&change), 28),
            text_cell(out, e.reason.as_deref(), 30),
        ]);
    }
    table.keep_whole(&[0, 1, 3, 4]);
    table
}

/// The columns of outbox messages in CSV (and the JSON field names).
pub const MESSAGE_COLUMNS: [&str; 13] = [
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

impl Record for OutboxMessage {
    const COLUMNS: &'static [&'static str] = &MESSAGE_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        let opt = |v: &Option<String>| out.csv_opt(v.as_deref());
        vec![
            self.id.to_string(),
            self.booking_id.to_string(),
            self.chat_id.to_string(),
            out.csv_text(&self.kind).into_owned(),
            self.status.name().to_string(),
            self.attempts.to_string(),
            self.next_attempt_at.clone(),
            opt(&self.sent_at),
            opt(&self.last_error),
            self.created_at.clone(),
            opt(&self.claimed_by),
            opt(&self.claimed_at),
            out.csv_text(&self.body).into_owned(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        self
    }
}

/// Messages as a table for people. Bodies and errors carry stranger-typed
/// names (and, for errors, whatever a command or server printed): sanitised.
pub fn messages_table(out: &Output, messages: &[OutboxMessage]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            out.tr("ID", "ID"),
            out.tr("Booking", "Бронь"),
            out.tr("Chat", "Чат"),
            out.tr("Status", "Статус"),
            out.tr("Tries", "Попыток"),
            &out.time_header("Next / sent", "Следующая / отправлено"),
            out.tr("Last error", "Последняя ошибка"),
            out.tr("Message", "Сообщение"),
        ],
    );
    table.keep_whole(&[0, 1, 2, 3, 4, 5]);
    for m in messages {
        let when = match (&m.sent_at, m.status) {
            (Some(sent), _) => show_time(out, sent),
            (None, MessageStatus::Pending) => show_time(out, &m.next_attempt_at),
            _ => String::new(),
        };
        table.add_row(vec![
            number_cell(m.id),
            number_cell(m.booking_id),
            number_cell(m.chat_id),
            message_status_cell(out, m.status.name()),
            number_cell(m.attempts),
            Cell::new(when),
            text_cell(out, m.last_error.as_deref(), 40),
            text_cell(out, Some(&m.body), 48),
        ]);
    }
    table
}

/// An amount with its currency, right-aligned.
pub fn money_cell(out: &Output, amount_minor: i64, currency: &str) -> Cell {
    number_cell(money(out, Money::from_minor(amount_minor), Some(currency)))
}

/// "Left to pay: 15,000.00 RUB (received 15,000.00 of 30,000.00 RUB)", for
/// a part-paid booking (`bookings show`, `users show`).
pub fn balance_line(out: &Output, b: &crate::domain::money::Balance) -> String {
    let m = |minor| money(out, Money::from_minor(minor), b.currency.as_deref());
    format!(
        "{}: {} ({} {} {} {})",
        out.tr("Left to pay", "Осталось оплатить"),
        m(b.left_minor),
        out.tr("received", "получено"),
        m(b.received_minor),
        out.tr("of", "из"),
        m(b.expected_minor)
    )
}

/// Money as people read it: digits grouped, the language's decimal mark, and
/// the currency after (`360,238,500.00 RUB`; in Russian `360 238 500,00 ₽`).
/// CSV and JSON keep the plain machine form (`360238500.00`).
pub fn money(out: &Output, amount: Money, currency: Option<&str>) -> String {
    let plain = amount.to_string();
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (whole, cents) = digits.split_once('.').unwrap_or((digits, "00"));
    let (group, point) = match out.lang {
        Lang::En => (',', '.'),
        // A no-break space, so a wrapped cell never splits a number.
        Lang::Ru => ('\u{a0}', ','),
    };
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(digit);
    }
    let currency = match (currency, out.lang) {
        (Some("RUB"), Lang::Ru) => Some("₽".into()),
        (Some(c), _) if !c.is_empty() => Some(text::for_terminal(c)),
        _ => None,
    };
    match currency {
        Some(c) => format!("{sign}{grouped}{point}{cents} {c}"),
        None => format!("{sign}{grouped}{point}{cents}"),
    }
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

pub fn message_status_cell(out: &Output, status: &str) -> Cell {
    super::style::message_status(out, status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{ColorChoice, Lang};

    fn out(lang: Lang) -> Output {
        Output::new(
            ColorChoice::Never,
            lang,
            crate::domain::time::DisplayZone::parse("UTC").unwrap(),
            false,
        )
    }

    #[test]
    fn money_is_grouped_in_each_language() {
        let big = Money::from_minor(36_023_850_000);
        assert_eq!(
            money(&out(Lang::En), big, Some("RUB")),
            "360,238,500.00 RUB"
        );
        assert_eq!(
            money(&out(Lang::Ru), big, Some("RUB")),
            "360\u{a0}238\u{a0}500,00 ₽"
        );
        assert_eq!(
            money(&out(Lang::En), Money::from_minor(-99_950), Some("USD")),
            "-999.50 USD"
        );
        assert_eq!(money(&out(Lang::En), Money::from_minor(5), None), "0.05");
        assert_eq!(
            money(&out(Lang::Ru), Money::from_minor(100_000), Some("EUR")),
            "1\u{a0}000,00 EUR"
        );
    }
}
