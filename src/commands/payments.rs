//! `payments import` (reconcile a provider's or bank's export with the
//! bookings, report what needs a person) and `payments list`.

pub mod args;
mod report;

use anyhow::Result;
use serde::Serialize;

use self::args::{
    PaymentsAssignArgs, PaymentsImportArgs, PaymentsListArgs, PaymentsRefundArgs,
    PaymentsResolveArgs,
};
use super::Context;
use crate::db::payments::ProviderSettings;
use crate::domain::money::parse_amount;
use crate::domain::payment::{PaymentFilter, PaymentOutcome};
use crate::domain::time::to_storage;
use crate::domain::Status;
use crate::error::{bad_input, exit};
use crate::input::bank_file::{decoded_input, encoding_by_name, BankFile, ColumnMap, Decoded};
use crate::output::pipeline::{self, Record};
use crate::output::table::{new_table, number_cell, text_cell, Table};
use crate::output::views;
use crate::output::{Format, Output};
use crate::services::payment_review::{self, Assignment, RefundRequest};
use crate::services::reconcile::{IncomingPayment, Reconciler};
use crate::services::status_change::{change_status, StatusChange};

pub fn assign(ctx: &Context, args: PaymentsAssignArgs) -> Result<u8> {
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

pub fn resolve(ctx: &Context, args: PaymentsResolveArgs) -> Result<u8> {
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

pub fn refund(ctx: &Context, args: PaymentsRefundArgs) -> Result<u8> {
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

pub fn import(ctx: &Context, args: PaymentsImportArgs) -> Result<u8> {
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
    report::summarize(&ctx.out, &name, &report, !committed);
    report::write_report(&out, &report, args.preview.dry_run, format, args.all)?;
    // Exit 10 means news for a person, so that a cron job's `|| notify` does
    // not alert again for rows it alerted on yesterday (issue 15).
    let alert = if args.strict {
        !report.attention.is_empty()
    } else {
        report.new_attention() > 0
    };
    Ok(if alert { exit::ATTENTION } else { exit::OK })
}

pub fn providers(ctx: &Context, output: crate::args::OutputArgs) -> Result<u8> {
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

pub fn list(ctx: &Context, args: PaymentsListArgs) -> Result<u8> {
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
