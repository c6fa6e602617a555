//! What `payments import` tells: the summary on stderr, and the report on
//! stdout (the rows that need a person, explained, and the totals) as a
//! table, CSV or JSON.

use anyhow::Result;
use serde::Serialize;

use crate::domain::money::format_amount;
use crate::domain::payment::PaymentOutcome;
use crate::output::pipeline::{self, Record};
use crate::output::table::{new_table, number_cell, text_cell, Table};
use crate::output::views;
use crate::output::{Format, Lang, Output};
use crate::services::reconcile::{Attention, AttentionRow, ReconcileReport};

/// The summary for people, on stderr.
pub(super) fn summarize(out: &Output, name: &str, report: &ReconcileReport, rolled_back: bool) {
    let prefix = if rolled_back {
        out.tr(
            "dry run, nothing written: ",
            "пробный запуск, ничего не записано: ",
        )
    } else {
        ""
    };
    out.note(&format!(
        "{prefix}{name}: {} {}: {} {}, {} {}, {} {}; {} {}, {} {} ({} {})",
        report.rows,
        out.tr("rows", "строк"),
        report.imported,
        out.tr("imported", "импортировано"),
        report.already_imported,
        out.tr("already imported", "уже были импортированы"),
        report.duplicates_in_file,
        out.tr("duplicates in the file", "повторов в файле"),
        report.bookings_confirmed,
        out.tr("bookings confirmed", "броней подтверждено"),
        report.attention.len(),
        out.tr("need attention", "требуют внимания"),
        report.new_attention(),
        out.tr("new", "новых"),
    ));
    for (line, booking) in &report.fully_refunded {
        out.note(&format!(
            "{} {line}: {} {booking} {}: paytrack booking set-status {booking} cancelled --reason refunded",
            out.tr("line", "строка"),
            out.tr("booking", "бронь"),
            out.tr(
                "is confirmed but fully refunded; to cancel it",
                "подтверждена, но деньги полностью возвращены; чтобы отменить"
            ),
        ));
    }
    if report.rows > 0 && report.imported == 0 && report.already_imported > 0 {
        out.note(out.tr(
            "nothing new: the file was already imported",
            "ничего нового: файл уже импортирован",
        ));
    }
}

/// The name an attention row goes by in CSV and JSON.
fn attention_name(row: &AttentionRow) -> &'static str {
    match &row.attention {
        Attention::Outcome(outcome) => outcome.as_str(),
        Attention::DuplicateInFile { .. } => "duplicate_in_file",
        Attention::Conflict { .. } => PaymentOutcome::Conflict.as_str(),
        Attention::Ambiguous { .. } => PaymentOutcome::Ambiguous.as_str(),
    }
}

/// What the person should know about a row, in `lang`.
fn explain(row: &AttentionRow, lang: Lang) -> String {
    let ru = lang == Lang::Ru;
    let tr = |en: &'static str, r: &'static str| if ru { r } else { en };
    let p = &row.payment;
    let money = |minor: i64| {
        format!("{} {}", format_amount(minor), p.currency)
            .trim_end()
            .to_string()
    };
    let expected = row.expected_minor.map(money).unwrap_or_default();
    let text = explain_attention(row, lang, &money, &expected);
    if row.already_reported {
        format!(
            "{}: {text}",
            tr(
                "reported before, still open",
                "уже сообщалось, не разобрано"
            )
        )
    } else {
        text
    }
}

fn explain_attention(
    row: &AttentionRow,
    lang: Lang,
    money: &dyn Fn(i64) -> String,
    expected: &str,
) -> String {
    let ru = lang == Lang::Ru;
    let tr = |en: &'static str, r: &'static str| if ru { r } else { en };
    let p = &row.payment;
    match &row.attention {
        Attention::Conflict {
            stored_id,
            first_line,
            differs,
            stored_amount_minor,
            stored_paid_at,
            stored_booking,
        } => {
            let source = match first_line {
                Some(l) => format!("{} {l}", tr("line", "строка")),
                None => format!("{} {stored_id}", tr("stored payment", "сохранённый платёж")),
            };
            let booking = stored_booking
                .map(|b| format!(", {} {b}", tr("booking", "бронь")))
                .unwrap_or_default();
            format!(
                "{} {source} ({}{}{booking}): {} {}; {}",
                tr("contradicts", "противоречит:"),
                money(*stored_amount_minor),
                stored_paid_at
                    .as_deref()
                    .map(|t| format!(", {t}"))
                    .unwrap_or_default(),
                tr("differs in", "отличается"),
                differs.join(", "),
                tr(
                    "the stored payment stands",
                    "сохранённый платёж остаётся в силе"
                )
            )
        }
        Attention::Ambiguous { candidates } => format!(
            "{} {}",
            tr(
                "the description names several bookings:",
                "в назначении платежа несколько броней:"
            ),
            candidates
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Attention::DuplicateInFile { first_line } => format!(
            "{} {first_line}; {}",
            tr("repeats the payment of line", "повторяет платёж из строки"),
            tr("not imported", "не импортирован")
        ),
        Attention::Outcome(outcome) => match *outcome {
            PaymentOutcome::Partial => format!(
                "{} {} {} {expected}; {}",
                tr("paid", "оплачено"),
                money(row.received_minor),
                tr("of", "из"),
                tr("booking stays pending", "бронь остаётся в ожидании")
            ),
            PaymentOutcome::Overpaid => {
                let over = match row.expected_minor {
                    Some(e) => format!(
                        "{} {} {} {expected}: {} {}",
                        tr("paid", "оплачено"),
                        money(row.received_minor),
                        tr("of", "из"),
                        tr("return", "вернуть"),
                        money(row.received_minor - e)
                    ),
                    None => format!(
                        "{}: {} {}",
                        tr("booking was already paid", "бронь уже была оплачена"),
                        tr("return", "вернуть"),
                        money(p.amount_minor)
                    ),
                };
                if row.booking_confirmed {
                    format!("{over}; {}", tr("booking confirmed", "бронь подтверждена"))
                } else {
                    over
                }
            }
            PaymentOutcome::Cancelled => format!(
                "{}: {} {}",
                tr("booking is cancelled", "бронь отменена"),
                tr("return", "вернуть"),
                money(p.amount_minor)
            ),
            PaymentOutcome::UnknownBooking => format!(
                "{} {}",
                tr("no such booking:", "нет такой брони:"),
                p.booking_id.unwrap_or_default()
            ),
            PaymentOutcome::Unmatched => tr(
                "no booking number in booking_id or the description",
                "нет номера брони ни в booking_id, ни в назначении платежа",
            )
            .to_string(),
            PaymentOutcome::CurrencyMismatch => format!(
                "{} {}, {} {}",
                tr("paid in", "оплачено в"),
                if p.currency.is_empty() {
                    "?"
                } else {
                    &p.currency
                },
                tr("the price is in", "цена в"),
                row.expected_currency.as_deref().unwrap_or("?")
            ),
            PaymentOutcome::NotPositive if p.amount_minor < 0 && p.booking_id.is_some() => {
                format!(
                    "{} {} {} {}; {}",
                    tr("refund of", "возврат"),
                    money(-p.amount_minor),
                    tr(
                        "is more than the booking received:",
                        "больше, чем получено по брони:"
                    ),
                    money(row.received_minor),
                    tr("not netted, check it", "не учтён, проверьте")
                )
            }
            PaymentOutcome::NotPositive => tr(
                "zero or negative amount (a refund or reversal?)",
                "нулевая или отрицательная сумма (возврат?)",
            )
            .to_string(),
            PaymentOutcome::Conflict => tr(
                "another version of a stored payment",
                "другая версия сохранённого платежа",
            )
            .to_string(),
            PaymentOutcome::Ambiguous => tr(
                "the description names several bookings",
                "в назначении платежа несколько броней",
            )
            .to_string(),
            _ => String::new(),
        },
    }
}

/// One attention row for CSV and JSON (never translated).
#[derive(Serialize)]
struct AttentionRecord<'a> {
    line: u64,
    provider: &'a str,
    external_id: &'a str,
    booking_id: Option<i64>,
    amount: String,
    currency: &'a str,
    outcome: &'static str,
    expected: Option<String>,
    received: String,
    booking_confirmed: bool,
    detail: String,
    already_reported: bool,
}

const ATTENTION_COLUMNS: [&str; 12] = [
    "line",
    "provider",
    "external_id",
    "booking_id",
    "amount",
    "currency",
    "outcome",
    "expected",
    "received",
    "booking_confirmed",
    "detail",
    "already_reported",
];

impl Record for AttentionRecord<'_> {
    const COLUMNS: &'static [&'static str] = &ATTENTION_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        vec![
            self.line.to_string(),
            out.csv_text(self.provider).into_owned(),
            out.csv_text(self.external_id).into_owned(),
            self.booking_id.map(|b| b.to_string()).unwrap_or_default(),
            self.amount.clone(),
            out.csv_text(self.currency).into_owned(),
            self.outcome.to_string(),
            self.expected.clone().unwrap_or_default(),
            self.received.clone(),
            self.booking_confirmed.to_string(),
            out.csv_text(&self.detail).into_owned(),
            self.already_reported.to_string(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        self
    }
}

fn attention_record(row: &AttentionRow) -> AttentionRecord<'_> {
    let p = &row.payment;
    AttentionRecord {
        line: row.line,
        provider: &p.provider,
        external_id: &p.external_id,
        booking_id: p.booking_id,
        amount: format_amount(p.amount_minor),
        currency: &p.currency,
        outcome: attention_name(row),
        expected: row.expected_minor.map(format_amount),
        received: format_amount(row.received_minor),
        booking_confirmed: row.booking_confirmed,
        detail: explain(row, Lang::En),
        already_reported: row.already_reported,
    }
}

/// The whole report as one JSON object.
#[derive(Serialize)]
struct ReportRecord<'a> {
    dry_run: bool,
    rows: u64,
    imported: u64,
    already_imported: u64,
    duplicates_in_file: u64,
    bookings_confirmed: u64,
    messages_queued: u64,
    needs_attention: usize,
    /// Attention rows this run found for the first time (exit 10 without --strict).
    new_attention: usize,
    /// Stored payments per outcome (every outcome, zeros included, so scripts need no defaults).
    outcomes: serde_json::Map<String, serde_json::Value>,
    attention: &'a [AttentionRecord<'a>],
}

pub(super) fn write_report(
    out: &Output,
    report: &ReconcileReport,
    dry_run: bool,
    format: Format,
    all_rows: bool,
) -> Result<()> {
    let rows: Vec<AttentionRecord> = report.attention.iter().map(attention_record).collect();
    let summary = ReportRecord {
        dry_run,
        rows: report.rows,
        imported: report.imported,
        already_imported: report.already_imported,
        duplicates_in_file: report.duplicates_in_file,
        bookings_confirmed: report.bookings_confirmed,
        messages_queued: report.messages_queued,
        needs_attention: report.attention.len(),
        new_attention: report.new_attention(),
        outcomes: PaymentOutcome::ALL
            .into_iter()
            .filter(|o| *o != PaymentOutcome::Recorded)
            .map(|o| (o.as_str().to_string(), report.count(o).into()))
            .collect(),
        attention: &rows,
    };
    pipeline::print_report(out, format, &summary, &rows, |w| {
        if !report.attention.is_empty() {
            writeln!(
                w,
                "{} ({})",
                out.tr("Needs attention", "Требует внимания"),
                report.attention.len()
            )?;
            // A table of thousands of rows is for nobody's eyes, and it
            // took a tenth of a 100k-row import to lay out (issue 19):
            // the first rows show what kind of trouble it is; the rest
            // go to a file with --csv/--json, or here with --all.
            let shown = if all_rows {
                report.attention.len()
            } else {
                report.attention.len().min(ATTENTION_ROWS_SHOWN)
            };
            writeln!(w, "{}", attention_table(out, &report.attention[..shown]))?;
            if shown < report.attention.len() {
                out.note(&format!(
                    "{} {}",
                    report.attention.len() - shown,
                    out.tr(
                        "more rows need attention: see them all with --all, or write them to a file with --csv or --json",
                        "строк ещё требуют внимания: все покажет --all, в файл их запишут --csv или --json"
                    )
                ));
            }
            writeln!(w)?;
        }
        writeln!(w, "{}", totals_table(out, report))?;
        Ok(())
    })
}

/// How many attention rows the table shows without --all.
const ATTENTION_ROWS_SHOWN: usize = 20;

fn attention_table(out: &Output, rows: &[AttentionRow]) -> Table {
    let mut table = new_table(
        out,
        &[
            out.tr("Line", "Строка"),
            out.tr("Provider", "Провайдер"),
            out.tr("Payment", "Платёж"),
            out.tr("Booking", "Бронь"),
            out.tr("Amount", "Сумма"),
            out.tr("Outcome", "Итог"),
            out.tr("What to do", "Что сделать"),
        ],
    );
    for row in rows {
        let p = &row.payment;
        table.add_row(vec![
            number_cell(row.line),
            text_cell(out, Some(&p.provider), 16),
            text_cell(out, Some(&p.external_id), 24),
            number_cell(p.booking_id.map(|b| b.to_string()).unwrap_or_default()),
            views::money_cell(out, p.amount_minor, &p.currency),
            comfy_table::Cell::new(attention_name(row)),
            // Our own sentence, never cut; the file's text in it is sanitised.
            comfy_table::Cell::new(crate::text::for_terminal(&explain(row, out.lang))),
        ]);
    }
    table.keep_whole(&[0, 3, 4, 5]);
    table
}

fn totals_table(out: &Output, report: &ReconcileReport) -> Table {
    let mut table = new_table(
        out,
        &[out.tr("Outcome", "Итог"), out.tr("Payments", "Платежей")],
    );
    for outcome in PaymentOutcome::ALL {
        let n = report.count(outcome);
        if n > 0 {
            table.add_row(vec![
                comfy_table::Cell::new(outcome.as_str()),
                number_cell(n),
            ]);
        }
    }
    for (label, n) in [
        ("already_imported", report.already_imported),
        ("duplicate_in_file", report.duplicates_in_file),
    ] {
        if n > 0 {
            table.add_row(vec![comfy_table::Cell::new(label), number_cell(n)]);
        }
    }
    table.keep_whole(&[0, 1]);
    table
}
