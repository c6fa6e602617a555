//! `stats streams`: per course and stream numbers from the trigger-kept counters.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::cli::{StatsCommand, StatsStreamsArgs};
use crate::db::stats::StatsFilter;
use crate::domain::money::format_amount;
use crate::domain::Status;
use crate::error::exit;
use crate::output::table::{new_table, number_cell, text_cell};
use crate::output::{csv_writer, pick_format, write_json, Format, Output};

pub fn run(ctx: &Context, cmd: StatsCommand) -> Result<u8> {
    match cmd {
        StatsCommand::Streams(args) => streams(ctx, args),
    }
}

/// One row of `stats streams`. The first eight fields are the old system's
/// (snake_case); the CSV header is fixed in this order (see README).
#[derive(Debug, Clone, Serialize)]
pub struct StreamStats {
    pub course_id: i64,
    pub course_name: String,
    pub course_stream: String,
    pub stream_name: String,
    pub total: i64,
    pub confirmed: i64,
    pub pending: i64,
    pub cancelled: i64,
    /// confirmed / total, 0..1.
    pub conversion: f64,
    /// Revenue of confirmed bookings in minor units, where the stream has a price.
    #[serde(skip)]
    pub revenue_minor: Option<i64>,
    pub revenue: Option<String>,
    pub currency: Option<String>,
    pub capacity: Option<i64>,
    pub seats_left: Option<i64>,
}

pub const CSV_COLUMNS: [&str; 13] = [
    "course_id",
    "course_name",
    "course_stream",
    "stream_name",
    "total",
    "confirmed",
    "pending",
    "cancelled",
    "conversion",
    "revenue",
    "currency",
    "capacity",
    "seats_left",
];

/// Builds the rows from the counts and the catalogue.
pub fn stream_stats(db: &crate::db::Db, filter: &StatsFilter) -> Result<Vec<StreamStats>> {
    let counts = db.status_counts(filter)?;
    let courses: BTreeMap<i64, String> =
        db.courses()?.into_iter().map(|c| (c.id, c.name)).collect();
    let streams: BTreeMap<(i64, String), crate::db::catalogue::Stream> = db
        .streams(filter.course)?
        .into_iter()
        .map(|s| ((s.course_id, s.code.clone()), s))
        .collect();
    let mut rows: BTreeMap<(i64, String), (StreamStats, i64)> = BTreeMap::new();
    for c in counts {
        let key = (c.course_id, c.course_stream.clone());
        let (row, confirmed_pct) = rows.entry(key).or_insert_with(|| {
            let stream = streams.get(&(c.course_id, c.course_stream.clone()));
            (
                StreamStats {
                    course_id: c.course_id,
                    course_name: courses
                        .get(&c.course_id)
                        .cloned()
                        .unwrap_or_else(|| c.course_id.to_string()),
                    course_stream: c.course_stream.clone(),
                    stream_name: stream
                        .and_then(|s| s.name.clone())
                        .unwrap_or_else(|| c.course_stream.clone()),
                    total: 0,
                    confirmed: 0,
                    pending: 0,
                    cancelled: 0,
                    conversion: 0.0,
                    revenue_minor: None,
                    revenue: None,
                    currency: stream.and_then(|s| s.currency.clone()),
                    capacity: stream.and_then(|s| s.capacity),
                    seats_left: None,
                },
                0,
            )
        });
        row.total += c.bookings;
        match c.status() {
            Some(Status::Confirmed) => {
                row.confirmed += c.bookings;
                *confirmed_pct += c.pct_sum;
            }
            Some(Status::Pending) => row.pending += c.bookings,
            Some(Status::Cancelled) => row.cancelled += c.bookings,
            None => {}
        }
    }
    Ok(rows
        .into_iter()
        .map(|((course, code), (mut row, confirmed_pct))| {
            let price = streams.get(&(course, code)).and_then(|s| s.price_minor);
            row.conversion = if row.total > 0 {
                row.confirmed as f64 / row.total as f64
            } else {
                0.0
            };
            row.revenue_minor = price.map(|p| (p as i128 * confirmed_pct as i128 / 100) as i64);
            row.revenue = row.revenue_minor.map(format_amount);
            row.seats_left = row.capacity.map(|cap| cap - row.confirmed);
            row
        })
        .collect())
}

fn streams(ctx: &Context, args: StatsStreamsArgs) -> Result<u8> {
    let filter = StatsFilter {
        course: args.course,
        stream: args.stream.clone(),
        since: args
            .since
            .as_deref()
            .map(|t| ctx.parse_when("--since", t))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| ctx.parse_when("--until", t))
            .transpose()?,
    };
    let format = pick_format(
        args.output.format,
        args.output.csv,
        args.output.json,
        Format::Table,
    );
    let mut out = ctx.out.clone();
    out.raw_csv = args.output.raw;
    let db = ctx.open_db()?;
    let rows = stream_stats(&db, &filter)?;
    let mut stdout = crate::output::stdout();
    match format {
        Format::Csv => {
            let mut w = csv_writer(&mut stdout);
            w.write_record(CSV_COLUMNS)?;
            for r in &rows {
                let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
                w.write_record([
                    r.course_id.to_string(),
                    out.csv_text(&r.course_name).into_owned(),
                    out.csv_text(&r.course_stream).into_owned(),
                    out.csv_text(&r.stream_name).into_owned(),
                    r.total.to_string(),
                    r.confirmed.to_string(),
                    r.pending.to_string(),
                    r.cancelled.to_string(),
                    format!("{:.4}", r.conversion),
                    r.revenue.clone().unwrap_or_default(),
                    out.csv_text(r.currency.as_deref().unwrap_or(""))
                        .into_owned(),
                    opt(r.capacity),
                    opt(r.seats_left),
                ])?;
            }
            w.flush()?;
        }
        Format::Json | Format::Jsonl => write_json(&mut stdout, &rows, format == Format::Jsonl)?,
        Format::Table => {
            if rows.is_empty() {
                ctx.out.note(ctx.out.tr("no bookings", "бронирований нет"));
                return Ok(exit::OK);
            }
            writeln!(stdout, "{}", stats_table(&out, &rows))?;
        }
    }
    stdout.flush()?;
    Ok(exit::OK)
}

fn stats_table(out: &Output, rows: &[StreamStats]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            out.tr("Course", "Курс"),
            out.tr("Stream", "Поток"),
            out.tr("Total", "Всего"),
            out.tr("Confirmed", "Подтверждено"),
            out.tr("Pending", "В ожидании"),
            out.tr("Cancelled", "Отменено"),
            out.tr("Conv.", "Конв."),
            out.tr("Revenue", "Выручка"),
            out.tr("Seats left", "Мест"),
            "",
        ],
    );
    let (mut total, mut confirmed, mut pending, mut cancelled) = (0, 0, 0, 0);
    let mut revenue: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        total += r.total;
        confirmed += r.confirmed;
        pending += r.pending;
        cancelled += r.cancelled;
        if let Some(minor) = r.revenue_minor {
            *revenue
                .entry(r.currency.clone().unwrap_or_default())
                .or_default() += minor;
        }
        let stream = if r.course_stream.is_empty() {
            out.tr("(no stream)", "(без потока)").to_string()
        } else {
            r.stream_name.clone()
        };
        table.add_row(vec![
            text_cell(out, Some(&r.course_name), 24),
            text_cell(out, Some(&stream), 20),
            number_cell(r.total),
            number_cell(r.confirmed),
            number_cell(r.pending),
            number_cell(r.cancelled),
            number_cell(format!("{:.0}%", r.conversion * 100.0)),
            number_cell(match (&r.revenue, &r.currency) {
                (Some(v), Some(c)) => format!("{v} {}", crate::output::sanitize::for_terminal(c)),
                (Some(v), None) => v.clone(),
                _ => String::new(),
            }),
            number_cell(r.seats_left.map(|s| s.to_string()).unwrap_or_default()),
            comfy_table::Cell::new(bar(out, r.confirmed, r.pending, r.cancelled, 16)),
        ]);
    }
    let conversion = if total > 0 {
        confirmed as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let revenue = revenue
        .iter()
        .map(|(cur, v)| {
            format!(
                "{} {}",
                format_amount(*v),
                crate::output::sanitize::for_terminal(cur)
            )
            .trim()
            .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ");
    table.add_row(vec![
        comfy_table::Cell::new(out.tr("Total", "Итого")),
        comfy_table::Cell::new(""),
        number_cell(total),
        number_cell(confirmed),
        number_cell(pending),
        number_cell(cancelled),
        number_cell(format!("{conversion:.0}%")),
        number_cell(revenue),
        comfy_table::Cell::new(""),
        comfy_table::Cell::new(bar(out, confirmed, pending, cancelled, 16)),
    ]);
    // On a narrow terminal the names and the bar give way; the numbers stay whole.
    table.keep_whole(&[2, 3, 4, 5, 6, 7, 8]);
    table
}

/// A stacked bar: █ confirmed, ▒ pending, ░ cancelled — readable without colour,
/// coloured green/yellow/red when colour is on (comfy-table measures ANSI-aware).
pub fn bar(out: &Output, confirmed: i64, pending: i64, cancelled: i64, width: usize) -> String {
    use owo_colors::OwoColorize;
    let total = (confirmed + pending + cancelled).max(1) as f64;
    let cells = |n: i64| ((n as f64 / total) * width as f64).round() as usize;
    let c = cells(confirmed);
    let p = cells(pending).min(width.saturating_sub(c));
    let x = cells(cancelled).min(width.saturating_sub(c + p));
    let (c, p, x) = ("█".repeat(c), "▒".repeat(p), "░".repeat(x));
    if out.color {
        format!("{}{}{}", c.green(), p.yellow(), x.red())
    } else {
        format!("{c}{p}{x}")
    }
}
