//! `payments import` (reconcile a provider's or bank's export with the
//! bookings, report what needs a person) and `payments list`.

pub mod args;

use anyhow::Result;
use serde::Serialize;

use self::args::{
    PaymentsAssignArgs, PaymentsCommand, PaymentsImportArgs, PaymentsListArgs, PaymentsRefundArgs,
    PaymentsResolveArgs,
};
use super::Context;
use crate::db::payments::ProviderSettings;
use crate::domain::money::{format_amount, parse_amount};
use crate::domain::payment::{PaymentFilter, PaymentOutcome};
use crate::domain::time::to_storage;
use crate::domain::Status;
use crate::error::{bad_input, exit};
use crate::input::bank_file::{decoded_input, encoding_by_name, BankFile, ColumnMap, Decoded};
use crate::output::pipeline::{self, Record};
use crate::output::table::{new_table, number_cell, text_cell, Table};
use crate::output::views;
use crate::output::{Format, Lang, Output};
use crate::services::payment_review::{self, Assignment, RefundRequest};
use crate::services::reconcile::{
    Attention, AttentionRow, IncomingPayment, ReconcileReport, Reconciler,
};
use crate::services::status_change::{change_status, StatusChange};

pub fn run(ctx: &Context, cmd: PaymentsCommand) -> Result<u8> {
    match cmd {
        PaymentsCommand::Import(args) => import(ctx, args),
        PaymentsCommand::List(args) => list(ctx, args),
        PaymentsCommand::Assign(args) => assign(ctx, args),
        PaymentsCommand::Resolve(args) => resolve(ctx, args),
        PaymentsCommand::Refund(args) => refund(ctx, args),
        PaymentsCommand::Providers { output } => providers(ctx, output),
        // Routed to commands/online.rs by mod.rs: no command module imports another.
        PaymentsCommand::Serve(_) | PaymentsCommand::Fetch(_) => Err(anyhow::anyhow!(
            "internal: `payments serve` and `payments fetch` are routed by commands::run"
        )),
    }
}

fn assign(ctx: &Context, args: PaymentsAssignArgs) -> Result<u8> {
    let request = Assignment {
        payment_id: args.payment,
        booking_id: args.booking,
        force: args.forcing.force,
        reason: args.forcing.reason.clone(),
    };
    let mut db = ctx.open_db()?;
    let done = db.write(|tx| payment_review::assign(tx, &request, &ctx.actor, ctx.now))?;
    let out = &ctx.out;
    let mut line = format!(
        "{} {} → {} {}: {} → {}",
        out.tr("payment", "платёж"),
        done.payment_id,
        out.tr("booking", "бронь"),
        done.booking_id,
        done.old_outcome,
        done.outcome
    );
    if let Some(expected) = &done.expected {
        line += &format!(
            " ({} {} {} {expected} {})",
            out.tr("received", "получено"),
            done.received,
            out.tr("of", "из"),
            crate::text::for_terminal(&done.currency)
        );
    }
    if done.booking_confirmed {
        line += out.tr("; booking confirmed", "; бронь подтверждена");
    }
    if done.message_queued {
        line += out.tr(
            ", confirmation message queued",
            ", сообщение о подтверждении в очереди",
        );
    }
    out.note(&line);
    if args.output.json {
        crate::output::json::print_line(&done)?;
    }
    Ok(exit::OK)
}

fn resolve(ctx: &Context, args: PaymentsResolveArgs) -> Result<u8> {
    let mut db = ctx.open_db()?;
    let done = db
        .write(|tx| payment_review::resolve(tx, &args.payments, &args.note, &ctx.actor, ctx.now))?;
    let out = &ctx.out;
    for r in &done {
        if r.resolved_now {
            out.note(&format!(
                "{} {} ({}) {}",
                out.tr("payment", "платёж"),
                r.payment_id,
                r.outcome,
                out.tr("resolved", "разобран")
            ));
        } else {
            out.note(&format!(
                "{} {} {} {}; {}",
                out.tr("payment", "платёж"),
                r.payment_id,
                out.tr("was already resolved by", "уже разобран:"),
                crate::text::for_terminal(r.resolved_by.as_deref().unwrap_or("?")),
                out.tr("left as it was", "оставлен как был")
            ));
        }
    }
    if args.output.json {
        crate::output::json::print_line(&done)?;
    }
    Ok(exit::OK)
}

fn refund(ctx: &Context, args: PaymentsRefundArgs) -> Result<u8> {
    let amount_minor =
        parse_amount(&args.amount).map_err(|e| bad_input(format!("--amount: {e}")))?;
    let request = RefundRequest {
        booking_id: args.booking,
        amount_minor,
        currency: args.currency.clone(),
        reason: args.reason.clone(),
        provider: args.provider.trim().to_string(),
        external_id: args.reference.clone(),
    };
    if request.provider.is_empty() {
        return Err(bad_input("--provider cannot be empty"));
    }
    let mut db = ctx.open_db()?;
    let done = db.write(|tx| payment_review::refund(tx, &request, &ctx.actor, ctx.now))?;
    let out = &ctx.out;
    out.note(&format!(
        "{} {}: {} {} {}; {} {} {}",
        out.tr("booking", "бронь"),
        done.booking_id,
        out.tr("refund recorded", "возврат записан"),
        done.refunded,
        done.currency,
        out.tr("net received", "итого получено"),
        done.net_received,
        done.currency,
    ));
    if args.output.json {
        crate::output::json::print_line(&done)?;
    }
    if done.fully_refunded_confirmed {
        offer_cancel(ctx, &mut db, done.booking_id, &args.reason)?;
    }
    Ok(exit::OK)
}

/// A confirmed booking whose money was all returned: ask (on a terminal)
/// whether to cancel it, through the status rules; elsewhere print the command.
/// Never cancels without a yes.
fn offer_cancel(
    ctx: &Context,
    db: &mut crate::db::Db,
    booking_id: i64,
    reason: &str,
) -> Result<()> {
    use std::io::IsTerminal;
    let out = &ctx.out;
    let interactive = std::io::stdin().is_terminal() && out.stderr_is_terminal;
    if !interactive {
        out.note(&format!(
            "{} {booking_id} {}: paytrack booking set-status {booking_id} cancelled --reason refunded",
            out.tr("booking", "бронь"),
            out.tr(
                "is confirmed but fully refunded; to cancel it",
                "подтверждена, но деньги полностью возвращены; чтобы отменить"
            ),
        ));
        return Ok(());
    }
    let question = format!(
        "{} {booking_id}?",
        out.tr(
            "Fully refunded. Cancel confirmed booking",
            "Деньги возвращены полностью. Отменить подтверждённую бронь"
        )
    );
    if !crate::output::prompt::confirm(out, &question, "a refund")? {
        out.note(out.tr("booking left as it is", "бронь оставлена как есть"));
        return Ok(());
    }
    let change = StatusChange {
        booking_id,
        to: Status::Cancelled,
        force: false,
        reason: Some(reason.to_string()),
        expect: Some(Status::Confirmed),
        notify: false,
        payment: None,
        payment_outcome: PaymentOutcome::Recorded,
        template: None,
        source: "payments refund",
    };
    db.write(|tx| change_status(tx, &change, &ctx.actor, ctx.now))?;
    out.note(&format!(
        "{} {booking_id} {}",
        out.tr("booking", "бронь"),
        out.tr("cancelled", "отменена")
    ));
    Ok(())
}

fn import(ctx: &Context, args: PaymentsImportArgs) -> Result<u8> {
    let (format, out) = args.output.resolve(&ctx.out, Format::Table);
    let name = crate::text::shown_path(&args.file);
    let default_provider = args
        .provider
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    // What an earlier import remembered for this provider's files.
    let remembered = match default_provider {
        Some(provider) => ctx.open_db()?.provider_settings(provider)?,
        None => None,
    };
    let remembered_encoding = remembered
        .as_ref()
        .and_then(|r| r.encoding.as_deref())
        .and_then(|e| encoding_by_name(e).ok());
    let forced_encoding = args.encoding.or(remembered_encoding);
    let map = args.map.clone().or_else(|| {
        remembered
            .as_ref()
            .map(|r| ColumnMap::from_json(&r.column_map))
            .filter(|m| !m.0.is_empty())
    });

    let Decoded {
        text,
        size,
        guessed,
    } = decoded_input(&args.file, &name, forced_encoding)?;
    if let Some(encoding) = guessed {
        ctx.out.note(&format!(
            "{name}: {} {}",
            ctx.out.tr("read as", "прочитан как"),
            encoding.name()
        ));
    }
    let mut bank = BankFile::new(text, &name, map.as_ref(), default_provider, &|m| {
        ctx.out.warn(m);
    })?;
    let bar = crate::output::progress::bytes(
        &ctx.out,
        size,
        ctx.out.tr("importing payments", "импорт платежей"),
    );
    let (report, committed) = super::write_unless(
        ctx,
        |tx| {
            if let Some(provider) = default_provider {
                if args.map.is_some() || args.encoding.is_some() {
                    tx.save_provider_settings(
                        provider,
                        args.map.as_ref().map(ColumnMap::to_json).as_deref(),
                        args.encoding.map(encoding_rs::Encoding::name),
                        ctx.now,
                    )?;
                }
            }
            tx.tune_for_bulk_load()?;
            let mut reconciler = Reconciler::new(tx, &ctx.actor, ctx.now)?;
            if args.no_notify {
                reconciler = reconciler.without_messages();
            }
            let mut rows = 0u64;
            while let Some((line, payment)) = bank.next_payment()? {
                reconciler.apply(IncomingPayment { line, payment })?;
                rows += 1;
                if rows % 4096 == 0 {
                    bar.set_position(bank.byte_position());
                    crate::interrupt::check()?;
                }
            }
            reconciler.finish(&name)
        },
        |_| !args.preview.dry_run,
    )?;
    bar.finish_and_clear();
    summarize(&ctx.out, &name, &report, !committed);
    write_report(&out, &report, args.preview.dry_run, format, args.all)?;
    // Exit 10 means news for a person, so that a cron job's `|| notify` does
    // not alert again for rows it alerted on yesterday (issue 15).
    let alert = if args.strict {
        !report.attention.is_empty()
    } else {
        report.new_attention() > 0
    };
    Ok(if alert { exit::ATTENTION } else { exit::OK })
}

fn providers(ctx: &Context, output: crate::args::OutputArgs) -> Result<u8> {
    let (format, out) = output.resolve(&ctx.out, Format::Table);
    let rows = ctx.open_db()?.providers()?;
    let rows: Vec<ProviderRow> = rows.iter().map(ProviderRow).collect();
    pipeline::print(
        &out,
        format,
        &rows,
        providers_table,
        Some(out.tr("no providers yet", "провайдеров пока нет")),
    )?;
    Ok(exit::OK)
}

/// A bank's import settings as `payments providers` lists them.
struct ProviderRow<'a>(&'a ProviderSettings);

impl ProviderRow<'_> {
    fn column_map(&self) -> String {
        ColumnMap::from_json(&self.0.column_map).describe()
    }
}

impl Record for ProviderRow<'_> {
    const COLUMNS: &'static [&'static str] = &[
        "provider",
        "payments",
        "column_map",
        "encoding",
        "updated_at",
    ];

    fn csv_record(&self, out: &Output) -> Vec<String> {
        let r = self.0;
        vec![
            out.csv_text(&r.provider).into_owned(),
            r.payments.to_string(),
            out.csv_text(&self.column_map()).into_owned(),
            r.encoding.clone().unwrap_or_default(),
            r.updated_at.clone().unwrap_or_default(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        let r = self.0;
        serde_json::json!({
            "provider": r.provider,
            "payments": r.payments,
            "column_map": ColumnMap::from_json(&r.column_map).0,
            "encoding": r.encoding,
            "updated_at": r.updated_at,
        })
    }
}

fn providers_table(out: &Output, rows: &[ProviderRow]) -> Table {
    let mut table = new_table(
        out,
        &[
            out.tr("Provider", "Провайдер"),
            out.tr("Payments", "Платежей"),
            out.tr("Column map", "Колонки"),
            out.tr("Encoding", "Кодировка"),
        ],
    );
    for row in rows {
        let r = row.0;
        table.add_row(vec![
            text_cell(out, Some(&r.provider), 24),
            number_cell(r.payments),
            text_cell(out, Some(&row.column_map()), 60),
            text_cell(out, Some(r.encoding.as_deref().unwrap_or("auto")), 16),
        ]);
    }
    table.keep_whole(&[1]);
    table
}

/// The summary for people, on stderr.
fn summarize(out: &Output, name: &str, report: &ReconcileReport, rolled_back: bool) {
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

fn write_report(
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

fn list(ctx: &Context, args: PaymentsListArgs) -> Result<u8> {
    let filter = PaymentFilter {
        booking: args.booking,
        provider: args.provider.clone(),
        outcome: args.outcome,
        attention: args.attention,
        since: ctx
            .parse_optional_when("--since", args.since.as_deref())?
            .map(to_storage),
        until: ctx
            .parse_optional_when("--until", args.until.as_deref())?
            .map(to_storage),
    };
    let (format, out) = args.output.resolve(&ctx.out, Format::Table);
    let limit = if args.page.all {
        None
    } else {
        Some(args.page.limit)
    };
    let db = ctx.open_db()?;
    let mut rows = db.list_payments(&filter, limit)?;
    crate::output::redact::redact_all(&mut rows, args.privacy.redact);
    pipeline::print(
        &out,
        format,
        &rows,
        views::payments_table,
        Some(out.tr("no payments match", "подходящих платежей нет")),
    )?;
    if format == Format::Table && limit.is_some_and(|n| rows.len() as u64 == n) {
        out.note(out.tr(
            "more may match: raise --limit or use --all",
            "могут быть ещё: увеличьте --limit или укажите --all",
        ));
    }
    Ok(exit::OK)
}
