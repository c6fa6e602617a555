//! `bookings list | show | export` (and dispatch of `import`, `set-status`).

use anyhow::Result;

use super::Context;
use std::path::PathBuf;

use clap::Args;

use crate::args::{Limit, OutputArgs, RedactArgs};
use crate::domain::booking::{BookingFilter, Cursor};
use crate::domain::booking::{PaymentState, Sort, UserRef};
use crate::domain::Status;
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::encrypt::{self, others_can_read_dir_of, Recipients};
use crate::output::file::{Guard, OutputFile};
use crate::output::pipeline::{self, Record, RowWriter};
use crate::output::redact::redact_all;
use crate::output::views;
use crate::output::Format;
use crate::services::catalogue::check_filter_names;

// Filters shared by `list`, `export` and bulk `set-status`.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Status: confirmed, pending, cancelled or all (also 2, 1, -1, paid, canceled).
    #[arg(long, value_parser = StatusFilterParser, allow_hyphen_values = true, hide_possible_values = true)]
    pub status: Option<StatusFilter>,
    /// Course id.
    #[arg(long)]
    pub course: Option<i64>,
    /// Stream code, e.g. 8th_stream ("" for bookings without a stream).
    #[arg(long)]
    pub stream: Option<String>,
    /// Telegram user id or @username.
    #[arg(long)]
    pub user: Option<UserRef>,
    /// Referral code.
    #[arg(long)]
    pub referral: Option<String>,
    /// Created at or after: 2024-12-01 or 01.12.2024, RFC 3339, today, yesterday, 7d, 24h.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Created before (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Username or first name contains this text (any case, accents and ё/е ignored; @user finds the username).
    #[arg(long)]
    pub search: Option<String>,
    /// Money state from recorded payments.
    #[arg(long, value_enum)]
    pub payment: Option<PaymentState>,
}

/// `--status all` or one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Only(Status),
}

/// Parses `--status` as `status_filter` does, and offers the status names to
/// shell completion (a plain function parser would complete file names).
#[derive(Debug, Clone, Copy)]
struct StatusFilterParser;

impl clap::builder::TypedValueParser for StatusFilterParser {
    type Value = StatusFilter;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<StatusFilter, clap::Error> {
        let text = value.to_string_lossy();
        status_filter(&text).map_err(|message| {
            let flag = arg.map_or_else(|| "--status".to_string(), ToString::to_string);
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{text}' for '{flag}': {message}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ["confirmed", "pending", "cancelled", "all"]
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

fn status_filter(text: &str) -> Result<StatusFilter, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(StatusFilter::All);
    }
    text.parse::<Status>()
        .map(StatusFilter::Only)
        .map_err(|_| {
            crate::tr!(
                "[possible values: confirmed, pending, cancelled, all; or 2, 1, -1, paid, canceled] got '{}'",
                "[значения: confirmed, pending, cancelled, all; а также 2, 1, -1, paid, canceled] указано '{}'",
                crate::text::shown(text)
            )
        })
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Order of rows.
    #[arg(long, value_enum, default_value_t = Sort::Newest)]
    pub sort: Sort,
    #[command(flatten)]
    pub page: Limit,
    /// Start after this booking id (keyset pagination; with --sort newest|oldest).
    #[arg(long, value_name = "ID", conflicts_with = "cursor")]
    pub after: Option<i64>,
    /// Start after this cursor, as printed under the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub privacy: RedactArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// csv (the default) or jsonl.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Leave out usernames and first names, for sharing.
    #[arg(long)]
    pub redact: bool,
    /// CSV cells exactly as stored (no formula protection); use when the file goes to a machine.
    #[arg(long)]
    pub raw: bool,
    /// Encrypt the output for this age recipient (a public key `age1…`; repeat for several).
    /// Decrypt with `age -d -i key.txt FILE`.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Replace the --output file if it exists (only a regular file that is not a database).
    #[arg(long, requires = "output")]
    pub force: bool,
}

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
        known_before: None,
    })
}

/// The columns of bookings in CSV and JSON (kept under this name for the tests and importers).
pub use crate::output::views::BOOKING_COLUMNS as CSV_COLUMNS;

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
    let limit = if args.page.all {
        None
    } else {
        Some(args.page.limit)
    };
    let db = ctx.open_db()?;
    check_filter_names(&db, &filter)?;
    if format != Format::Table {
        // Files for programs: streamed, whatever their length (issue 19).
        pipeline::stream(&out_cfg, format, |push| {
            db.for_each_booking(&filter, args.sort, cursor.as_ref(), limit, |mut b| {
                // What identifies a student is left out before any format sees it (issue 20).
                redact_all(std::slice::from_mut(&mut b), args.privacy.redact);
                push(&b)
            })
        })?;
        return Ok(exit::OK);
    }
    // One row past the page tells whether there is a next page without
    // counting; a table never holds more than TABLE_ROWS_MAX rows.
    let mut rows = db.list_bookings(
        &filter,
        args.sort,
        cursor.as_ref(),
        Some(pipeline::table_fetch(limit)),
    )?;
    pipeline::check_table_rows(rows.len(), limit, "bookings")?;
    let more = limit.is_some_and(|n| rows.len() as u64 > n);
    if let Some(n) = limit {
        rows.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    redact_all(&mut rows, args.privacy.redact);
    pipeline::print(
        &out_cfg,
        format,
        &rows,
        views::bookings_table,
        Some(
            ctx.out
                .tr("no bookings match", "подходящих бронирований нет"),
        ),
    )?;
    if rows.is_empty() {
        return Ok(exit::OK);
    }
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
    Ok(exit::OK)
}

pub fn show(ctx: &Context, id: i64, output: OutputArgs, redact: bool) -> Result<u8> {
    let db = ctx.open_db()?;
    let mut booking = db.booking(id)?.ok_or_else(|| {
        PaytrackError::NotFound(crate::tr!(
            "booking {id} not found",
            "бронь {id} не найдена"
        ))
    })?;
    let mut payments = db.payments_for_booking(id)?;
    let mut audit = db.audit_for_booking(id)?;
    let mut messages = db.outbox_messages(None, Some(id))?;
    // Still owed by a part-paid booking, whatever its status (issue 25).
    let balance = match db.message_facts(id, crate::domain::message::MessageKind::Confirmation)? {
        Some(facts) if booking.status != crate::domain::Status::Cancelled => {
            crate::services::messages::part_paid(&facts)
        }
        _ => None,
    };
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
    let out = &out;
    let received_json: serde_json::Map<String, serde_json::Value> = received
        .iter()
        .map(|(currency, net)| (currency.clone(), net.to_string().into()))
        .collect();
    let mut document = serde_json::json!({
        "booking": booking.json(),
        "received": received_json,
        "payments": payments,
        "audit": audit,
        "messages": messages,
    });
    if let Some(b) = &balance {
        document["left_to_pay"] = serde_json::json!({
            "amount": crate::domain::money::format_amount(b.left_minor),
            "currency": b.currency,
        });
    }
    pipeline::print_document(
        out,
        format,
        "bookings show",
        &document,
        Some(&booking),
        |stdout| {
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
            if let Some(b) = &balance {
                writeln!(stdout, "{}", views::balance_line(out, b))?;
            }
            if !audit.is_empty() {
                writeln!(stdout, "\n{}", out.tr("History", "История"))?;
                writeln!(stdout, "{}", views::audit_table(out, &audit))?;
            }
            if !messages.is_empty() {
                writeln!(stdout, "\n{}", out.tr("Messages", "Сообщения"))?;
                writeln!(stdout, "{}", views::messages_table(out, &messages))?;
            }
            Ok(())
        },
    )?;
    Ok(exit::OK)
}

pub fn export(ctx: &Context, args: ExportArgs) -> Result<u8> {
    let filter = to_filter(ctx, &args.filter)?;
    pipeline::check_export_format(args.format)?;
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
            ctx.out.warn(&crate::tr!(
                "{} holds students' names and other users can read its directory; consider --encrypt-to RECIPIENT or --redact",
                "в {} имена студентов, а его каталог могут читать другие пользователи; подумайте о --encrypt-to RECIPIENT или --redact",
                crate::text::shown_path(path)
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
        let mut writer = RowWriter::new(&out, args.format, sink)?;
        db.for_each_booking(
            &filter,
            crate::domain::booking::Sort::Oldest,
            None,
            None,
            |mut b| {
                redact_all(std::slice::from_mut(&mut b), args.redact);
                writer.push(&b)?;
                counted(&mut rows);
                Ok(())
            },
        )?;
        // Finishing writes an encrypted file's last chunk and tag.
        writer.finish()?.finish()?;
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
            crate::text::shown_path(path),
            ctx.out.bookings_count(rows)
        ));
    }
    Ok(exit::OK)
}
