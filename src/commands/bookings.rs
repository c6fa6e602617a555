//! `bookings list | show | export` (and dispatch of `import`, `set-status`).

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::cli::{ExportArgs, FilterArgs, ListArgs, OutputArgs, StatusFilter};
use crate::domain::booking::{Booking, BookingFilter, Cursor};
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::encrypt::{self, others_can_read_dir_of, Recipients};
use crate::output::file::{Guard, OutputFile};
use crate::output::redact::redact_all;
use crate::output::views;
use crate::output::{csv_writer, Format, JsonRows, Output, TABLE_ROWS_MAX};
use crate::services::catalogue::check_filter_names;

/// Turns the filter flags into a domain filter (dates parsed in the display zone).
pub fn to_filter(ctx: &Context, args: &FilterArgs) -> Result<BookingFilter> {
    Ok(BookingFilter {
        status: match args.status {
            Some(StatusFilter::Only(s)) => Some(s),
            _ => None,
        },
        course: args.course,
        stream: args.stream.clone(),
        user: args.user.clone(),
        referral: args.referral.clone(),
        since: ctx.parse_optional_when("--since", args.since.as_deref())?,
        until: ctx.parse_optional_when("--until", args.until.as_deref())?,
        search: args.search.clone().filter(|s| !s.is_empty()),
        payment: args.payment,
    })
}

/// The columns of CSV and JSON output: the schema's names plus `status`.
/// `import` reads these columns, so export → import round-trips.
pub const CSV_COLUMNS: [&str; 12] = [
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

#[derive(Serialize)]
struct BookingRecord<'a> {
    #[serde(flatten)]
    booking: &'a Booking,
    status: &'static str,
}

fn csv_row(out: &Output, b: &Booking, redact: bool) -> [String; 12] {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(|t| out.csv_text(t).into_owned())
            .unwrap_or_default()
    };
    let names = |v: &Option<String>| if redact { String::new() } else { text(v) };
    [
        b.id.to_string(),
        b.user_id.to_string(),
        names(&b.username),
        names(&b.first_name),
        b.course_id.to_string(),
        text(&b.course_stream),
        b.status.code().to_string(),
        b.created_at.clone(),
        text(&b.referral_code),
        b.discount_percent
            .map(|d| d.to_string())
            .unwrap_or_default(),
        b.updated_at.clone(),
        b.status.name().to_string(),
    ]
}

pub fn list(ctx: &Context, args: ListArgs) -> Result<u8> {
    let filter = to_filter(ctx, &args.filter)?;
    let (format, out_cfg) = args.output.resolve(&ctx.out, Format::Table);
    let cursor = match (&args.cursor, args.after) {
        (Some(text), _) => Some(Cursor::decode(text).map_err(bad_input)?),
        (None, Some(id)) => Some(Cursor {
            created_at: None,
            id,
        }),
        (None, None) => None,
    };
    let limit = if args.all { None } else { Some(args.limit) };
    let db = ctx.open_db()?;
    check_filter_names(&db, &filter)?;
    if format != Format::Table {
        // Files for programs: streamed, whatever their length (issue 19).
        return stream_rows(
            &db,
            &out_cfg,
            format,
            &filter,
            &args,
            cursor.as_ref(),
            limit,
        );
    }
    // One row past the page tells whether there is a next page without
    // counting; a table never holds more than TABLE_ROWS_MAX rows.
    let table_max = TABLE_ROWS_MAX as u64;
    let mut rows = db.list_bookings(
        &filter,
        args.sort,
        cursor.as_ref(),
        Some(
            limit
                .map_or(table_max, |n| n.min(table_max))
                .saturating_add(1),
        ),
    )?;
    if rows.len() as u64 > table_max && limit.is_none_or(|n| n > table_max) {
        return Err(bad_input(format!(
            "more than {TABLE_ROWS_MAX} bookings match: too many for a table; \
             use --csv or --format jsonl (they stream any number of rows), or page with --limit and --cursor"
        )));
    }
    let more = limit.is_some_and(|n| rows.len() as u64 > n);
    if let Some(n) = limit {
        rows.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    redact_all(&mut rows, args.privacy.redact);
    let mut stdout = crate::output::stdout();
    match format {
        Format::Table => {
            if rows.is_empty() {
                ctx.out.note(
                    ctx.out
                        .tr("no bookings match", "подходящих бронирований нет"),
                );
                return Ok(exit::OK);
            }
            let table = views::bookings_table(&out_cfg, &rows);
            writeln!(stdout, "{table}")?;
            stdout.flush()?;
            // The total only when the counters know it: counting a --search or
            // --since filter scans every match, 100 times the cost of the page.
            let mut footer = format!("{} {}", ctx.out.tr("shown", "показано"), rows.len());
            if let Some(total) = db.count_bookings_from_counters(&filter)? {
                footer += &format!(" {} {total}", ctx.out.tr("of", "из"));
            }
            if more {
                let last = rows.last().expect("rows is not empty");
                let next = Cursor {
                    created_at: args.sort.by_created().then(|| last.created_at.clone()),
                    id: last.id,
                };
                footer += &format!(
                    "; {}: --cursor {}",
                    ctx.out.tr("next page", "следующая страница"),
                    next.encode()
                );
            }
            ctx.out.note(&footer);
        }
        Format::Csv | Format::Json | Format::Jsonl => unreachable!("streamed above"),
    }
    stdout.flush()?;
    Ok(exit::OK)
}

/// `bookings list` as CSV, JSON or JSON Lines: rows are written as they are
/// read, so `--all` at a million bookings stays in constant memory.
fn stream_rows(
    db: &crate::db::Db,
    out: &Output,
    format: Format,
    filter: &BookingFilter,
    args: &ListArgs,
    cursor: Option<&Cursor>,
    limit: Option<u64>,
) -> Result<u8> {
    let mut stdout = crate::output::stdout();
    match format {
        Format::Csv => {
            let mut w = csv_writer(&mut stdout);
            w.write_record(CSV_COLUMNS)?;
            db.for_each_booking(filter, args.sort, cursor, limit, |b| {
                w.write_record(csv_row(out, &b, args.privacy.redact))?;
                Ok(())
            })?;
            w.flush()?;
        }
        _ => {
            let mut rows = JsonRows::new(format == Format::Jsonl);
            db.for_each_booking(filter, args.sort, cursor, limit, |mut b| {
                // What identifies a student is left out before any format sees it (issue 20).
                redact_all(std::slice::from_mut(&mut b), args.privacy.redact);
                let record = BookingRecord {
                    booking: &b,
                    status: b.status.name(),
                };
                rows.push(&mut stdout, &record)?;
                Ok(())
            })?;
            rows.finish(&mut stdout)?;
        }
    }
    stdout.flush()?;
    Ok(exit::OK)
}

pub fn show(ctx: &Context, id: i64, output: OutputArgs, redact: bool) -> Result<u8> {
    let db = ctx.open_db()?;
    let mut booking = db
        .booking(id)?
        .ok_or_else(|| PaytrackError::NotFound(format!("booking {id} not found")))?;
    let mut payments = db.payments_for_booking(id)?;
    let mut audit = db.audit_for_booking(id)?;
    let mut messages = db.outbox_messages(None, Some(id))?;
    redact_all(std::slice::from_mut(&mut booking), redact);
    redact_all(&mut payments, redact);
    redact_all(&mut audit, redact);
    redact_all(&mut messages, redact);
    // What the booking kept per currency, refunds subtracted (issue 15).
    let received = crate::domain::payment::net_received(
        payments
            .iter()
            .map(|p| (p.outcome.as_str(), p.currency.as_str(), p.amount_minor)),
    );
    let (format, out) = output.resolve(&ctx.out, Format::Table);
    let mut stdout = crate::output::stdout();
    let out = &out;
    match format {
        Format::Json | Format::Jsonl => {
            let received: serde_json::Map<String, serde_json::Value> = received
                .iter()
                .map(|(currency, net)| (currency.clone(), net.to_string().into()))
                .collect();
            let record = serde_json::json!({
                "booking": BookingRecord { booking: &booking, status: booking.status.name() },
                "received": received,
                "payments": payments,
                "audit": audit,
                "messages": messages,
            });
            if format == Format::Jsonl {
                crate::output::json::to_writer(&mut stdout, &record)?;
            } else {
                crate::output::json::to_writer_pretty(&mut stdout, &record)?;
            }
            writeln!(stdout)?;
        }
        Format::Csv => {
            let mut w = csv_writer(&mut stdout);
            w.write_record(CSV_COLUMNS)?;
            w.write_record(csv_row(out, &booking, false))?;
            w.flush()?;
        }
        Format::Table => {
            writeln!(
                stdout,
                "{}",
                views::bookings_table(out, std::slice::from_ref(&booking))
            )?;
            if !payments.is_empty() {
                writeln!(stdout, "\n{}", out.tr("Payments", "Платежи"))?;
                writeln!(stdout, "{}", views::payments_table(out, &payments))?;
                for (currency, net) in &received {
                    writeln!(
                        stdout,
                        "{}: {}",
                        out.tr("Received, net of refunds", "Получено за вычетом возвратов"),
                        views::money(out, *net, Some(currency))
                    )?;
                }
            }
            if !audit.is_empty() {
                writeln!(stdout, "\n{}", out.tr("History", "История"))?;
                writeln!(stdout, "{}", views::audit_table(out, &audit))?;
            }
            if !messages.is_empty() {
                writeln!(stdout, "\n{}", out.tr("Messages", "Сообщения"))?;
                writeln!(stdout, "{}", views::messages_table(out, &messages))?;
            }
        }
    }
    stdout.flush()?;
    Ok(exit::OK)
}

pub fn export(ctx: &Context, args: ExportArgs) -> Result<u8> {
    let filter = to_filter(ctx, &args.filter)?;
    if !matches!(args.format, Format::Csv | Format::Jsonl) {
        return Err(bad_input(
            "export writes csv or jsonl (use `bookings list --json` for a JSON array)",
        ));
    }
    let mut out = ctx.out.clone();
    out.raw_csv = args.raw;
    // A file keeps the text as stored (export → import round-trips); only
    // CSV read on a terminal is escaped.
    out.to_terminal = ctx.out.to_terminal && args.output.is_none();
    let recipients = Recipients::parse(&args.encrypt_to)?;
    if recipients.is_some() {
        if args.output.is_none() && ctx.out.to_terminal {
            return Err(bad_input(
                "encrypted output is binary: write it to a file (-o FILE) or a pipe",
            ));
        }
        out.to_terminal = false;
    }
    let db = ctx.open_db()?;
    check_filter_names(&db, &filter)?;
    // The named file is judged before anything is read, and written beside
    // its final name and renamed at the end (see `output::file`), so a failed
    // or interrupted export never leaves half a file under that name.
    let mut target = match &args.output {
        Some(path) => Some(OutputFile::create(
            path,
            Guard {
                database: Some(ctx.db_path.clone()),
                force: args.force,
                replaces_databases: false,
            },
        )?),
        None => None,
    };
    if let Some(path) = &args.output {
        if recipients.is_none() && !args.redact && others_can_read_dir_of(path) {
            ctx.out.warn(&format!(
                "{} holds students' names and other users can read its directory; consider --encrypt-to RECIPIENT or --redact",
                crate::output::sanitize::shown_path(path)
            ));
        }
    }
    let to_file = target.is_some();
    let sink = match target.as_mut() {
        // The encrypting writer owns its output: a second handle on the temp file.
        Some(file) => encrypt::sink(
            std::io::BufWriter::new(
                file.file()
                    .try_clone()
                    .map_err(|e| anyhow::anyhow!("opening the export file: {e}"))?,
            ),
            recipients.as_ref(),
        )?,
        None => encrypt::sink(crate::output::stdout(), recipients.as_ref())?,
    };
    // Progress only for a file: on stdout the data itself is the output.
    let bar = if to_file && ctx.out.progress {
        crate::output::progress::count(
            &ctx.out,
            db.count_bookings(&filter)?,
            ctx.out.tr("exporting bookings", "экспорт бронирований"),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut rows = 0u64;
    let counted = |rows: &mut u64| {
        *rows += 1;
        if *rows % 1024 == 0 {
            bar.set_position(*rows);
        }
    };
    let written = (|| -> Result<()> {
        if args.format == Format::Jsonl {
            let mut sink = sink;
            db.for_each_booking(
                &filter,
                crate::domain::booking::Sort::Oldest,
                None,
                None,
                |mut b| {
                    if args.redact {
                        b.username = None;
                        b.first_name = None;
                    }
                    crate::output::json::to_writer(
                        &mut sink,
                        &BookingRecord {
                            booking: &b,
                            status: b.status.name(),
                        },
                    )?;
                    sink.write_all(b"\n")?;
                    counted(&mut rows);
                    Ok(())
                },
            )?;
            sink.finish()?;
        } else {
            let mut w = csv_writer(sink);
            w.write_record(CSV_COLUMNS)?;
            db.for_each_booking(
                &filter,
                crate::domain::booking::Sort::Oldest,
                None,
                None,
                |b| {
                    w.write_record(csv_row(&out, &b, args.redact))?;
                    counted(&mut rows);
                    Ok(())
                },
            )?;
            // Finishing writes an encrypted file's last chunk and tag.
            w.into_inner()
                .map_err(csv::IntoInnerError::into_error)?
                .finish()?;
        }
        Ok(())
    })();
    bar.finish_and_clear();
    written?;
    crate::interrupt::check()?;
    if let Some(file) = target {
        file.finish()?;
    }
    if let Some(path) = &args.output {
        ctx.out.note(&format!(
            "{}: {}",
            crate::output::sanitize::shown_path(path),
            ctx.out.bookings_count(rows)
        ));
    }
    Ok(exit::OK)
}
