//! `bookings add`: one booking from flags, or many from JSON Lines (`--input -`),
//! all in one transaction; the rules are in `services::booking_add`.

use std::io::{BufRead, Write};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::Context;
use crate::domain::booking::Booking;
use crate::domain::Status;
use crate::error::{bad_input, exit};
use crate::services::booking_add::{add_booking, AddOutcome, AddRules, NewBooking};
use clap::Args;

use crate::args::{DryRun, ForceReason, JsonFlag};

#[derive(Debug, Args)]
#[command(mut_arg("force", |a| a.help("Add to a stream with no seats left (needs --reason)")))]
#[command(mut_arg("json", |a| a.help("Print the booking as JSON on stdout")))]
#[command(mut_arg("dry_run", |a| a.help("Check everything and show what would be added, without writing")))]
pub struct AddArgs {
    /// Telegram user id of the student.
    #[arg(long)]
    pub user_id: Option<i64>,
    /// Telegram username (with or without @).
    #[arg(long)]
    pub username: Option<String>,
    /// First name as Telegram shows it.
    #[arg(long)]
    pub first_name: Option<String>,
    /// Course id (must be in the catalogue).
    #[arg(long)]
    pub course: Option<i64>,
    /// Stream code, e.g. 8th_stream (must be in the catalogue, or --create-stream).
    #[arg(long)]
    pub stream: Option<String>,
    /// Referral code.
    #[arg(long)]
    pub referral: Option<String>,
    /// Discount in percent, 0 to 100.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=100))]
    pub discount: Option<i64>,
    /// Status of the new booking.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Status::Pending)]
    pub status: Status,
    /// When the student booked: 2024-12-01, RFC 3339, now [default: now].
    #[arg(long, value_name = "WHEN")]
    pub created_at: Option<String>,
    /// Idempotency key: adding with a key seen before returns that booking and writes nothing.
    #[arg(long)]
    pub key: Option<String>,
    /// Add the stream to the catalogue if it is missing.
    #[arg(long)]
    pub create_stream: bool,
    #[command(flatten)]
    pub forcing: ForceReason,
    /// With --status confirmed: do not queue the confirmation message.
    #[arg(long)]
    pub no_notify: bool,
    /// Read the bookings as JSON Lines from FILE (`-` for stdin), all in one transaction;
    /// prints one JSON line per booking.
    #[arg(long, value_name = "FILE")]
    pub input: Option<String>,
    #[command(flatten)]
    pub output: JsonFlag,
    /// The old spelling of `--input FILE`, `--json FILE`: kept working, with a
    /// deprecation line, for the bots already calling it (`--json` itself now
    /// only means JSON output, as on every other command).
    #[arg(
        hide = true,
        requires = "json",
        conflicts_with = "input",
        value_name = "FILE"
    )]
    pub json_input: Option<String>,
    #[command(flatten)]
    pub preview: DryRun,
}

/// One line of `--input -`. Unknown fields are refused: a typo must not drop data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBooking {
    user_id: i64,
    username: Option<String>,
    first_name: Option<String>,
    #[serde(alias = "course_id")]
    course: i64,
    #[serde(alias = "course_stream")]
    stream: Option<String>,
    #[serde(alias = "referral_code")]
    referral: Option<String>,
    #[serde(alias = "discount_percent")]
    discount: Option<i64>,
    /// A name, alias or code: "pending", "confirmed", 2, -1...
    status: Option<serde_json::Value>,
    created_at: Option<String>,
    key: Option<String>,
}

/// A booking as `add` prints it: the columns, the status name, and whether it is new.
#[derive(Serialize)]
struct AddedRecord<'a> {
    #[serde(flatten)]
    booking: &'a Booking,
    status: &'static str,
    created: bool,
}

pub fn run(ctx: &Context, args: AddArgs) -> Result<u8> {
    if let Some(file) = &args.json_input {
        let file = crate::text::shown(file);
        ctx.out.warn(&crate::tr!(
            "`--json {file}` is deprecated: use `--input {file}` (--json alone means JSON output)",
            "`--json {file}` устарело: пишите `--input {file}` (--json без файла — вывод в JSON)"
        ));
    }
    let input = args.input.as_deref().or(args.json_input.as_deref());
    let bookings = match input {
        Some(file) => {
            if args.user_id.is_some() || args.course.is_some() || args.key.is_some() {
                return Err(bad_input(crate::tr!(
                    "with --input FILE the bookings come from the file; drop --user-id, --course and --key",
                    "с --input FILE брони берутся из файла; уберите --user-id, --course и --key"
                )));
            }
            read_json_lines(ctx, file)?
        }
        None => vec![from_flags(ctx, &args)?],
    };
    let rules = AddRules {
        create_stream: args.create_stream,
        force: args.forcing.force,
        reason: args.forcing.reason.clone(),
        no_notify: args.no_notify,
    };
    let (outcomes, committed) = super::write_unless(
        ctx,
        |tx| {
            let mut outcomes = Vec::with_capacity(bookings.len());
            for (line, new) in &bookings {
                let outcome =
                    add_booking(tx, new, &rules, &ctx.actor, ctx.now).map_err(|e| match line {
                        Some(n) => e.context(format!("{}: line {n}", input.unwrap_or("-"))),
                        None => e,
                    })?;
                outcomes.push(outcome);
            }
            Ok(outcomes)
        },
        |outcomes: &Vec<AddOutcome>| !args.preview.dry_run && outcomes.iter().any(|o| o.created),
    )?;
    report(ctx, &args, &outcomes, committed)?;
    Ok(exit::OK)
}

/// Prints ids (or JSON) on stdout and a summary on stderr.
fn report(ctx: &Context, args: &AddArgs, outcomes: &[AddOutcome], committed: bool) -> Result<()> {
    let mut stdout = crate::output::stdout();
    for o in outcomes {
        if args.output.json || args.input.is_some() || args.json_input.is_some() {
            crate::output::json::to_writer(
                &mut stdout,
                &AddedRecord {
                    booking: &o.booking,
                    status: o.booking.status.name(),
                    created: o.created,
                },
            )?;
            writeln!(stdout)?;
        } else {
            writeln!(stdout, "{}", o.booking.id)?;
        }
    }
    stdout.flush()?;
    let out = &ctx.out;
    let created = outcomes.iter().filter(|o| o.created).count();
    let existing = outcomes.len() - created;
    let head = if args.preview.dry_run {
        out.tr(
            "dry run, nothing written: would add",
            "пробный запуск, ничего не записано: будет добавлено",
        )
    } else {
        out.tr("added", "добавлено")
    };
    let mut line = format!("{head} {created} {}", out.tr("bookings", "бронирований"));
    if existing > 0 {
        line += &format!(
            "; {existing} {}",
            out.tr(
                "already added with the same key (nothing written for them)",
                "уже добавлены с тем же ключом (для них ничего не записано)"
            )
        );
    }
    if !committed && !args.preview.dry_run && created == 0 {
        line = out
            .tr(
                "nothing written: every key was seen before",
                "ничего не записано: все ключи уже встречались",
            )
            .to_string();
    }
    out.note(&line);
    Ok(())
}

/// The booking the flags describe.
fn from_flags(ctx: &Context, args: &AddArgs) -> Result<(Option<usize>, NewBooking)> {
    let user_id = args.user_id.ok_or_else(|| {
        bad_input("--user-id is required (or --input - to read bookings from stdin)")
    })?;
    let course_id = args.course.ok_or_else(|| {
        bad_input("--course is required (or --input - to read bookings from stdin)")
    })?;
    let created_at = match &args.created_at {
        Some(text) => ctx.parse_when("--created-at", text)?,
        None => ctx.now,
    };
    let new = NewBooking {
        user_id,
        username: args.username.clone(),
        first_name: args.first_name.clone(),
        course_id,
        stream: args.stream.clone(),
        referral_code: args.referral.clone(),
        discount_percent: args.discount,
        status: args.status,
        created_at,
        key: args.key.clone(),
    };
    Ok((None, checked(new).map_err(bad_input)?))
}

/// Reads one booking per line (blank lines skipped); a bad line names its number.
fn read_json_lines(ctx: &Context, file: &str) -> Result<Vec<(Option<usize>, NewBooking)>> {
    let (input, _) = crate::input::open_input(std::path::Path::new(file))?;
    let mut bookings = Vec::new();
    for (i, line) in std::io::BufReader::new(input).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| bad_input(format!("{file}: line {n}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = parse_json_line(ctx, &line)
            .map_err(|e| bad_input(format!("{file}: line {n}: {e}; nothing was added")))?;
        bookings.push((Some(n), parsed));
    }
    if bookings.is_empty() {
        return Err(bad_input(format!(
            "{file}: no bookings (one JSON object per line)"
        )));
    }
    Ok(bookings)
}

fn parse_json_line(ctx: &Context, line: &str) -> Result<NewBooking, String> {
    let j: JsonBooking = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let status = match &j.status {
        None => Status::Pending,
        Some(serde_json::Value::String(s)) => s.parse()?,
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .and_then(Status::from_code)
            .ok_or_else(|| format!("status {n} is not 2, 1 or -1"))?,
        Some(other) => return Err(format!("status {other} is not a status")),
    };
    let created_at = match &j.created_at {
        Some(text) => crate::domain::time::parse_instant(text, ctx.now, &ctx.out.zone)?,
        None => ctx.now,
    };
    checked(NewBooking {
        user_id: j.user_id,
        username: j.username,
        first_name: j.first_name,
        course_id: j.course,
        stream: j.stream,
        referral_code: j.referral,
        discount_percent: j.discount,
        status,
        created_at,
        key: j.key,
    })
}

/// The checks that need no database: ids, discount, the year (the rule
/// `bookings import` applies: `add` took years 0000–9999), and tidy
/// optional text.
fn checked(mut new: NewBooking) -> Result<NewBooking, String> {
    if new.user_id <= 0 {
        return Err(format!("user id {} is not a Telegram user id", new.user_id));
    }
    let year = chrono::Datelike::year(&new.created_at);
    if !crate::domain::time::BOOKING_YEARS.contains(&year) {
        return Err(format!(
            "created_at {}",
            crate::domain::time::TimestampError::YearOutOfRange(year)
        ));
    }
    if let Some(d) = new.discount_percent {
        if !(0..=100).contains(&d) {
            return Err(format!("discount {d} is not between 0 and 100"));
        }
    }
    let tidy = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    new.username = tidy(new.username).map(|u| u.trim_start_matches('@').to_string());
    new.first_name = tidy(new.first_name);
    new.stream = tidy(new.stream);
    new.referral_code = tidy(new.referral_code);
    new.key = tidy(new.key);
    Ok(new)
}
