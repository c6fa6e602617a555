//! `stats streams` (per course and stream numbers from the trigger-kept
//! counters), `stats verify` and `stats rebuild` (the counters against a
//! recount), and `stats daily` (activity per day).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use comfy_table::Cell;
use serde::Serialize;

use super::Context;
use clap::{Args, Subcommand};

use crate::args::OutputArgs;
use crate::db::stats::{compare_counters, DailyActivity, StatsFilter};
use crate::domain::money::Money;
use crate::domain::Status;
use crate::error::{exit, PaytrackError};
use crate::output::pipeline::{self, Record};
use crate::output::table::{new_table, number_cell, text_cell};
use crate::output::{views, Format, Output};
use crate::services::check::describe_difference;
use crate::services::counters::{bookings_in, rebuild_counters, Rebuilt};

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum StatsCommand {
    /// Per course and stream: total, confirmed, pending, cancelled, conversion, revenue, seats.
    #[command(
        after_help = "Examples:\n  paytrack stats streams\n  paytrack stats streams --csv\n  paytrack stats streams --since 2024-12-01 --json"
    )]
    Streams(StatsStreamsArgs),
    /// Recount every counter from the bookings and report any difference (exit 9).
    #[command(
        after_help = "Examples:\n  paytrack stats verify\n  paytrack stats verify || paytrack stats rebuild"
    )]
    Verify,
    /// Recount every counter from the bookings and store the result (audited).
    #[command(after_help = "Example:\n  paytrack stats rebuild")]
    Rebuild,
    /// Per day: new bookings, confirmations and cancellations.
    #[command(
        after_help = "Examples:\n  paytrack stats daily\n  paytrack stats daily --days 7 --csv"
    )]
    Daily(StatsDailyArgs),
}

#[derive(Debug, Args)]
pub struct StatsDailyArgs {
    /// How many days, ending today (in the display time zone).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StatsStreamsArgs {
    /// Only this course.
    #[arg(long)]
    pub course: Option<i64>,
    /// Only this stream code ("" for bookings without a stream).
    #[arg(long)]
    pub stream: Option<String>,
    /// Bookings created at or after (2024-12-01, RFC 3339, today, 7d...).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Bookings created before.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(ctx: &Context, cmd: StatsCommand) -> Result<u8> {
    match cmd {
        StatsCommand::Streams(args) => streams(ctx, args),
        StatsCommand::Verify => verify(ctx),
        StatsCommand::Rebuild => rebuild(ctx),
        StatsCommand::Daily(args) => daily(ctx, args),
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
    pub revenue_minor: Option<Money>,
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
                *confirmed_pct = confirmed_pct.saturating_add(c.pct_sum);
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
            // 128-bit and checked: a price stored before prices were bounded
            // gives a large revenue, never a wrapped (negative) one.
            row.revenue_minor = price.and_then(|p| Money::share_of(p, confirmed_pct));
            row.revenue = row.revenue_minor.map(|m| m.to_string());
            row.seats_left = row.capacity.map(|cap| cap - row.confirmed);
            row
        })
        .collect())
}

fn streams(ctx: &Context, args: StatsStreamsArgs) -> Result<u8> {
    let filter = StatsFilter {
        course: args.course,
        stream: args.stream.clone(),
        since: ctx.parse_optional_when("--since", args.since.as_deref())?,
        until: ctx.parse_optional_when("--until", args.until.as_deref())?,
    };
    let (format, out) = args.output.resolve(&ctx.out, Format::Table);
    let db = ctx.open_db()?;
    crate::services::catalogue::check_names(&db, filter.course, filter.stream.as_deref())?;
    let rows = stream_stats(&db, &filter)?;
    if !db.counters_kept()? {
        ctx.out.note(NO_COUNTERS);
    }
    pipeline::print(
        &out,
        format,
        &rows,
        stats_table,
        Some(ctx.out.tr("no bookings", "бронирований нет")),
    )?;
    Ok(exit::OK)
}

impl Record for StreamStats {
    const COLUMNS: &'static [&'static str] = &CSV_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
        vec![
            self.course_id.to_string(),
            out.csv_text(&self.course_name).into_owned(),
            out.csv_text(&self.course_stream).into_owned(),
            out.csv_text(&self.stream_name).into_owned(),
            self.total.to_string(),
            self.confirmed.to_string(),
            self.pending.to_string(),
            self.cancelled.to_string(),
            format!("{:.4}", self.conversion),
            self.revenue.clone().unwrap_or_default(),
            out.csv_text(self.currency.as_deref().unwrap_or(""))
                .into_owned(),
            opt(self.capacity),
            opt(self.seats_left),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        self
    }
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
    let mut revenue: BTreeMap<String, Money> = BTreeMap::new();
    for r in rows {
        total += r.total;
        confirmed += r.confirmed;
        pending += r.pending;
        cancelled += r.cancelled;
        if let Some(minor) = r.revenue_minor {
            let sum = revenue
                .entry(r.currency.clone().unwrap_or_default())
                .or_default();
            // 2^127 minor units cannot be reached by i64 prices times i64 counts.
            *sum = sum.checked_add(minor).unwrap_or(*sum);
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
            number_cell(
                r.revenue_minor
                    .map(|m| views::money(out, m, r.currency.as_deref()))
                    .unwrap_or_default(),
            ),
            number_cell(r.seats_left.map(|s| s.to_string()).unwrap_or_default()),
            bar(r.confirmed, r.pending, r.cancelled, 16),
        ]);
    }
    let conversion = if total > 0 {
        confirmed as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let revenue = revenue
        .iter()
        .map(|(cur, v)| views::money(out, *v, Some(cur)))
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
        bar(confirmed, pending, cancelled, 16),
    ]);
    // On a narrow terminal the names and the bar give way; the numbers stay whole.
    table.keep_whole(&[2, 3, 4, 5, 6, 7, 8]);
    table
}

/// A stacked bar of `width` cells in proportion to the counts (`style::bar`).
fn bar(confirmed: i64, pending: i64, cancelled: i64, width: usize) -> Cell {
    let total = (confirmed + pending + cancelled).max(1) as f64;
    let cells = |n: i64| ((n as f64 / total) * width as f64).round() as usize;
    let c = cells(confirmed);
    let p = cells(pending).min(width.saturating_sub(c));
    let x = cells(cancelled).min(width.saturating_sub(c + p));
    crate::output::style::bar(c, p, x)
}

/// How many bookings a set of counts covers.
/// Said where counters would be read: there are none to read.
const NO_COUNTERS: &str = "counted live from the bookings: no counter triggers on public.bookings here (init --adopt --no-counters)";

/// `stats verify`: recounts from the bookings in one snapshot and compares.
fn verify(ctx: &Context) -> Result<u8> {
    let mut db = ctx.open_db()?;
    if !db.counters_kept()? {
        ctx.out.note(&format!("nothing to verify: {NO_COUNTERS}"));
        return Ok(exit::OK);
    }
    let (stored, recounted) = db.read(|db| Ok((db.stored_counters()?, db.recount()?)))?;
    let differences = compare_counters(&stored, &recounted);
    let bookings = bookings_in(&recounted);
    let mut stdout = crate::output::stdout();
    if differences.is_empty() {
        writeln!(
            stdout,
            "ok: {bookings} bookings recounted, {} counters match",
            recounted.len()
        )?;
        stdout.flush()?;
        return Ok(exit::OK);
    }
    for d in &differences {
        writeln!(stdout, "{}", describe_difference(d))?;
    }
    stdout.flush()?;
    Err(PaytrackError::VerifyFailed(format!(
        "{} stream counters differ from a recount of {bookings} bookings; `paytrack stats rebuild` recomputes them",
        differences.len()
    ))
    .into())
}

/// `stats rebuild`: replaces the counters with a recount, in one audited transaction.
fn rebuild(ctx: &Context) -> Result<u8> {
    let mut db = ctx.open_db()?;
    if !db.counters_kept()? {
        return Err(
            PaytrackError::BadInput(format!("no counters to rebuild: {NO_COUNTERS}")).into(),
        );
    }
    let Rebuilt {
        differences,
        counters,
        bookings,
    } = db.write(|tx| rebuild_counters(tx, &ctx.actor, ctx.now))?;
    let out = &ctx.out;
    for d in &differences {
        out.note(&describe_difference(d));
    }
    out.note(&format!(
        "{} {counters} {} {bookings} {}; {} {}",
        out.tr("rebuilt", "пересчитано"),
        out.tr("counters from", "счётчиков по"),
        out.tr("bookings", "бронированиям"),
        differences.len(),
        out.tr("differed", "отличались"),
    ));
    Ok(exit::OK)
}

/// The columns of `stats daily` in CSV (and the JSON field names).
const DAILY_COLUMNS: [&str; 4] = ["day", "new_bookings", "confirmations", "cancellations"];

/// `stats daily`: one row per day of the last `--days` days, today included, empty days too.
fn daily(ctx: &Context, args: StatsDailyArgs) -> Result<u8> {
    let zone = &ctx.out.zone;
    let today = zone.date_of(ctx.now);
    let first = today - chrono::Duration::days(i64::from(args.days) - 1);
    let since = ctx.parse_when("--days", &first.format("%Y-%m-%d").to_string())?;
    // The zone's offset today, to cut days in SQL (exact unless the window spans a DST change).
    let today_midnight = ctx.parse_when("--days", "today")?;
    let offset =
        (today.and_time(chrono::NaiveTime::MIN) - today_midnight.naive_utc()).num_seconds();
    let (format, _) = args.output.resolve(&ctx.out, Format::Table);
    let db = ctx.open_db()?;
    let mut found: BTreeMap<String, DailyActivity> = db
        .daily_activity(since, offset)?
        .into_iter()
        .map(|d| (d.day.clone(), d))
        .collect();
    let rows: Vec<DailyActivity> = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| {
            let day = d.format("%Y-%m-%d").to_string();
            found.remove(&day).unwrap_or(DailyActivity {
                day,
                new_bookings: 0,
                confirmations: 0,
                cancellations: 0,
            })
        })
        .collect();
    pipeline::print(&ctx.out, format, &rows, daily_table, None)?;
    Ok(exit::OK)
}

impl Record for DailyActivity {
    const COLUMNS: &'static [&'static str] = &DAILY_COLUMNS;

    fn csv_record(&self, _out: &Output) -> Vec<String> {
        vec![
            self.day.clone(),
            self.new_bookings.to_string(),
            self.confirmations.to_string(),
            self.cancellations.to_string(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        self
    }
}

fn daily_table(out: &Output, rows: &[DailyActivity]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            out.tr("Day", "День"),
            out.tr("New", "Новых"),
            out.tr("Confirmed", "Подтверждено"),
            out.tr("Cancelled", "Отменено"),
            out.tr("New bookings", "Новые брони"),
        ],
    );
    let widest = rows
        .iter()
        .map(|r| r.new_bookings)
        .max()
        .unwrap_or(0)
        .max(1);
    for r in rows {
        let cells = (r.new_bookings * 20 + widest - 1) / widest;
        table.add_row(vec![
            comfy_table::Cell::new(&r.day),
            number_cell(r.new_bookings),
            number_cell(r.confirmations),
            number_cell(r.cancellations),
            comfy_table::Cell::new("█".repeat(cells as usize)),
        ]);
    }
    let sum = |f: fn(&DailyActivity) -> i64| rows.iter().map(f).sum::<i64>();
    table.add_row(vec![
        comfy_table::Cell::new(out.tr("Total", "Итого")),
        number_cell(sum(|r| r.new_bookings)),
        number_cell(sum(|r| r.confirmations)),
        number_cell(sum(|r| r.cancellations)),
        comfy_table::Cell::new(sparkline(rows.iter().map(|r| r.new_bookings))),
    ]);
    table.keep_whole(&[0, 1, 2, 3]);
    table
}

/// `▁▂▃▅▇`: one character per value, scaled to the largest (the last 40 values).
fn sparkline(values: impl Iterator<Item = i64>) -> String {
    const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let values: Vec<i64> = values.collect();
    let values = &values[values.len().saturating_sub(40)..];
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|&v| TICKS[((v.max(0) * 7 + max / 2) / max) as usize])
        .collect()
}
