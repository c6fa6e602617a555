//! `streams` and `courses`: the catalogue of names, prices, capacities and
//! message templates, each edit audited; and `streams members`, the confirmed
//! students of a stream.

pub mod args;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use self::args::{CourseAddArgs, CourseEditArgs, CourseTemplateArgs, CoursesCommand, StreamFields};
use super::Context;
use crate::args::OutputArgs;
use crate::db::catalogue::{StreamChanges, StreamMember};
use crate::db::stats::StatsFilter;
use crate::db::Db;
use crate::domain::message::{unknown_placeholders, MessageKind};
use crate::domain::money::format_amount;
use crate::domain::Status;
use crate::error::{bad_input, exit, PaytrackError};
use crate::output::pipeline::{self, Record};
use crate::output::table::{new_table, number_cell, text_cell};
use crate::output::views;
use crate::output::{Format, Output};
use crate::services::catalogue::resolve_stream;
use crate::services::catalogue_edit::{self, Overbooking, Saving, StreamEdit, StreamSaved};

pub fn run_courses(ctx: &Context, cmd: CoursesCommand) -> Result<u8> {
    match cmd {
        CoursesCommand::List { output } => list_courses(ctx, output),
        CoursesCommand::Add(args) => add_course(ctx, args),
        CoursesCommand::Edit(args) => edit_course(ctx, args),
        CoursesCommand::Template(args) => course_template(ctx, args),
    }
}

/// Text people type for a name: trimmed, not empty.
fn name_text(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(bad_input("--name cannot be empty"));
    }
    Ok(name.to_string())
}

/// `streams add` (the stream must be new, its course must exist) and
/// `streams edit` (the stream must exist): one audited transaction
/// (`services::catalogue_edit::save_stream`); says what changed, and warns
/// when a forced capacity is below the confirmed students.
pub fn save_stream(
    ctx: &Context,
    code: &str,
    course: Option<i64>,
    fields: &StreamFields,
    saving: Saving,
    chat_link: Option<Option<String>>,
    overbooking: Overbooking,
) -> Result<u8> {
    let code = code.trim();
    if code.is_empty() {
        return Err(bad_input("a stream code cannot be empty"));
    }
    let changes = StreamChanges {
        name: fields.name.as_deref().map(name_text).transpose()?,
        price_minor: fields.price.map(crate::args::Setting::into_option),
        currency: fields.currency.clone(),
        capacity: fields.capacity.map(crate::args::Setting::into_option),
    };
    let mut db = ctx.open_db()?;
    let course_id = match (saving, course) {
        (Saving::Add, Some(id)) => id,
        _ => resolve_stream(&db, code, course)?.course_id,
    };
    let edit = StreamEdit {
        course_id,
        code,
        changes: &changes,
        chat_link,
        saving,
        overbooking,
    };
    let StreamSaved {
        after: saved,
        overbooked,
    } = db.write(|tx| catalogue_edit::save_stream(tx, &ctx.actor, ctx.now, &edit))?;
    let out = &ctx.out;
    let shown = crate::text::for_terminal(code);
    if let (Some(_), Some((confirmed, capacity))) = (&saved, overbooked) {
        out.warn(&format!(
            "{} {shown}: {confirmed} {} {capacity}; {}",
            out.tr("stream", "поток"),
            out.tr(
                "confirmed students, more than its capacity of",
                "подтверждённых студентов, больше вместимости"
            ),
            out.tr(
                "new bookings are refused until seats free up",
                "новые бронирования будут отклоняться, пока не освободятся места"
            )
        ));
    }
    match saved {
        None => out.note(&format!(
            "{} {shown}: {}",
            out.tr("stream", "поток"),
            out.tr("nothing to change", "изменять нечего")
        )),
        Some(_) if saving == Saving::Add => out.note(&format!(
            "{} {shown} {} {course_id}",
            out.tr("added stream", "добавлен поток"),
            out.tr("to course", "в курс")
        )),
        Some(_) => out.note(&format!(
            "{} {shown} {} {course_id}",
            out.tr("changed stream", "изменён поток"),
            out.tr("of course", "курса")
        )),
    }
    Ok(exit::OK)
}

/// Reads a template file: UTF-8, not empty, no unknown placeholder (a typo
/// would reach every student); its length is checked when it is saved.
fn read_template(path: &Path) -> Result<String> {
    let shown = crate::text::shown_path(path);
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("cannot read template {shown}: {e}")))?;
    if text.trim().is_empty() {
        return Err(bad_input(format!("template {shown} is empty")));
    }
    if let Some(key) = unknown_placeholders(&text).first() {
        return Err(bad_input(format!(
            "template {shown}: {{{}}} is not a placeholder (known: {{first_name}} {{course}} {{stream}} {{booking_id}} {{amount_due}} {{chat_link}}); nothing changed",
            crate::text::for_terminal(key)
        )));
    }
    Ok(text)
}

/// `courses template ID --kind K [--file F | --reset]`: print or set one template.
fn course_template(ctx: &Context, args: CourseTemplateArgs) -> Result<u8> {
    let kind = args.kind;
    let text = args.file.as_deref().map(read_template).transpose()?;
    let mut db = ctx.open_db()?;
    if text.is_none() && !args.reset {
        let course = db.course(args.id)?.ok_or_else(|| {
            PaytrackError::NotFound(crate::tr!(
                "course {} not found",
                "курс {} не найден",
                args.id
            ))
        })?;
        let current = match kind {
            MessageKind::Confirmation => course.message_template,
            _ => db.read(|db| db.kind_template(args.id, kind.name()))?,
        };
        let mut stdout = crate::output::stdout();
        match current {
            Some(t) => write!(stdout, "{t}")?,
            None => {
                ctx.out
                    .note(ctx.out.tr("(the default text)", "(текст по умолчанию)"));
                write!(stdout, "{}", kind.default_template())?;
            }
        }
        if !matches!(stdout.buffer().last(), Some(b'\n') | None) {
            writeln!(stdout)?;
        }
        stdout.flush()?;
        return Ok(exit::OK);
    }
    db.write(|tx| {
        catalogue_edit::set_course_template(tx, &ctx.actor, ctx.now, args.id, kind, text.as_deref())
    })?;
    ctx.out.note(&format!(
        "{} {} {}",
        ctx.out.tr("course", "курс"),
        args.id,
        if text.is_some() {
            ctx.out.tr("template saved", "шаблон сохранён")
        } else {
            ctx.out.tr(
                "template reset to the default",
                "шаблон сброшен на текст по умолчанию",
            )
        }
    ));
    Ok(exit::OK)
}

fn add_course(ctx: &Context, args: CourseAddArgs) -> Result<u8> {
    let name = name_text(&args.name)?;
    let template = args.template.as_deref().map(read_template).transpose()?;
    save_course(ctx, args.id, Some(name), template.map(Some), Saving::Add)
}

fn edit_course(ctx: &Context, args: CourseEditArgs) -> Result<u8> {
    let name = args.name.as_deref().map(name_text).transpose()?;
    let template = match (&args.template, args.default_template) {
        (Some(path), _) => Some(Some(read_template(path)?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    save_course(ctx, args.id, name, template, Saving::Edit)
}

/// `courses add` (the id must be free) and `courses edit` (it must exist), audited.
fn save_course(
    ctx: &Context,
    id: i64,
    name: Option<String>,
    template: Option<Option<String>>,
    saving: Saving,
) -> Result<u8> {
    let mut db = ctx.open_db()?;
    let changed = db.write(|tx| {
        catalogue_edit::save_course(
            tx,
            &ctx.actor,
            ctx.now,
            id,
            name.clone(),
            template.clone(),
            saving,
        )
    })?;
    let out = &ctx.out;
    out.note(&match (changed, saving == Saving::Add) {
        (false, _) => format!(
            "{} {id}: {}",
            out.tr("course", "курс"),
            out.tr("nothing to change", "изменять нечего")
        ),
        (true, true) => format!("{} {id}", out.tr("added course", "добавлен курс")),
        (true, false) => format!("{} {id}", out.tr("changed course", "изменён курс")),
    });
    Ok(exit::OK)
}

/// Bookings and confirmed bookings per (course, stream code), from the counters.
fn booking_counts(db: &Db, course: Option<i64>) -> Result<BTreeMap<(i64, String), (i64, i64)>> {
    let mut counts: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    let filter = StatsFilter {
        course,
        ..Default::default()
    };
    for c in db.status_counts(&filter)? {
        let entry = counts
            .entry((c.course_id, c.course_stream.clone()))
            .or_default();
        entry.0 += c.bookings;
        if c.status() == Some(Status::Confirmed) {
            entry.1 += c.bookings;
        }
    }
    Ok(counts)
}

/// One row of `streams list`.
#[derive(Debug, Serialize)]
struct StreamRow {
    course_id: i64,
    course_name: String,
    code: String,
    name: Option<String>,
    price: Option<String>,
    currency: Option<String>,
    capacity: Option<i64>,
    bookings: i64,
    confirmed: i64,
}

const STREAM_COLUMNS: [&str; 9] = [
    "course_id",
    "course_name",
    "code",
    "name",
    "price",
    "currency",
    "capacity",
    "bookings",
    "confirmed",
];

pub fn list_streams(ctx: &Context, course: Option<i64>, output: OutputArgs) -> Result<u8> {
    let (format, out) = output.resolve(&ctx.out, Format::Table);
    let mut db = ctx.open_db()?;
    let (courses, streams, counts) = db.read(|db| {
        Ok((
            db.courses()?,
            db.streams(course)?,
            booking_counts(db, course)?,
        ))
    })?;
    let course_names: BTreeMap<i64, String> = courses.into_iter().map(|c| (c.id, c.name)).collect();
    let rows: Vec<StreamRow> = streams
        .into_iter()
        .map(|s| {
            let (bookings, confirmed) = counts
                .get(&(s.course_id, s.code.clone()))
                .copied()
                .unwrap_or_default();
            StreamRow {
                course_id: s.course_id,
                course_name: course_names.get(&s.course_id).cloned().unwrap_or_default(),
                price: s.price_minor.map(format_amount),
                code: s.code,
                name: s.name,
                currency: s.currency,
                capacity: s.capacity,
                bookings,
                confirmed,
            }
        })
        .collect();
    pipeline::print(
        &out,
        format,
        &rows,
        streams_table,
        Some(out.tr("no streams", "потоков нет")),
    )?;
    Ok(exit::OK)
}

impl Record for StreamRow {
    const COLUMNS: &'static [&'static str] = &STREAM_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        let text = |t: &Option<String>| out.csv_text(t.as_deref().unwrap_or("")).into_owned();
        vec![
            self.course_id.to_string(),
            out.csv_text(&self.course_name).into_owned(),
            out.csv_text(&self.code).into_owned(),
            text(&self.name),
            self.price.clone().unwrap_or_default(),
            text(&self.currency),
            self.capacity.map(|c| c.to_string()).unwrap_or_default(),
            self.bookings.to_string(),
            self.confirmed.to_string(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        self
    }
}

fn streams_table(out: &Output, rows: &[StreamRow]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            out.tr("Course", "Курс"),
            out.tr("Code", "Код"),
            out.tr("Name", "Название"),
            out.tr("Price", "Цена"),
            out.tr("Capacity", "Мест"),
            out.tr("Bookings", "Брони"),
            out.tr("Confirmed", "Подтверждено"),
        ],
    );
    for r in rows {
        let price = match (&r.price, &r.currency) {
            (Some(p), Some(c)) => format!("{p} {c}"),
            (Some(p), None) => p.clone(),
            _ => String::new(),
        };
        table.add_row(vec![
            text_cell(out, Some(&format!("{} {}", r.course_id, r.course_name)), 24),
            text_cell(out, Some(&r.code), 20),
            text_cell(out, r.name.as_deref(), 24),
            number_cell(crate::text::for_terminal(&price)),
            number_cell(r.capacity.map(|c| c.to_string()).unwrap_or_default()),
            number_cell(r.bookings),
            number_cell(r.confirmed),
        ]);
    }
    table.keep_whole(&[3, 4, 5, 6]);
    table
}

/// One row of `courses list`.
#[derive(Debug, Serialize)]
struct CourseRow {
    id: i64,
    name: String,
    message_template: Option<String>,
    streams: usize,
    bookings: i64,
    confirmed: i64,
}

const COURSE_COLUMNS: [&str; 6] = [
    "id",
    "name",
    "message_template",
    "streams",
    "bookings",
    "confirmed",
];

fn list_courses(ctx: &Context, output: OutputArgs) -> Result<u8> {
    let (format, out) = output.resolve(&ctx.out, Format::Table);
    let mut db = ctx.open_db()?;
    let (courses, streams, counts) =
        db.read(|db| Ok((db.courses()?, db.streams(None)?, booking_counts(db, None)?)))?;
    let rows: Vec<CourseRow> = courses
        .into_iter()
        .map(|c| {
            let (bookings, confirmed) = counts
                .iter()
                .filter(|((course, _), _)| *course == c.id)
                .fold((0, 0), |(b, k), (_, (nb, nk))| (b + nb, k + nk));
            CourseRow {
                streams: streams.iter().filter(|s| s.course_id == c.id).count(),
                id: c.id,
                name: c.name,
                message_template: c.message_template,
                bookings,
                confirmed,
            }
        })
        .collect();
    pipeline::print(
        &out,
        format,
        &rows,
        courses_table,
        Some(out.tr("no courses", "курсов нет")),
    )?;
    Ok(exit::OK)
}

impl Record for CourseRow {
    const COLUMNS: &'static [&'static str] = &COURSE_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        vec![
            self.id.to_string(),
            out.csv_text(&self.name).into_owned(),
            out.csv_text(self.message_template.as_deref().unwrap_or(""))
                .into_owned(),
            self.streams.to_string(),
            self.bookings.to_string(),
            self.confirmed.to_string(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        self
    }
}

fn courses_table(out: &Output, rows: &[CourseRow]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            "ID",
            out.tr("Name", "Название"),
            out.tr("Message", "Сообщение"),
            out.tr("Streams", "Потоков"),
            out.tr("Bookings", "Брони"),
            out.tr("Confirmed", "Подтверждено"),
        ],
    );
    for r in rows {
        let template = match r.message_template {
            Some(_) => out.tr("own template", "свой шаблон"),
            None => out.tr("default", "по умолчанию"),
        };
        table.add_row(vec![
            number_cell(r.id),
            text_cell(out, Some(&r.name), 32),
            comfy_table::Cell::new(template),
            number_cell(r.streams),
            number_cell(r.bookings),
            number_cell(r.confirmed),
        ]);
    }
    table.keep_whole(&[0, 2, 3, 4, 5]);
    table
}

const MEMBER_COLUMNS: [&str; 6] = [
    "user_id",
    "username",
    "first_name",
    "booking_id",
    "confirmed_at",
    "blocked",
];

/// `streams members`: the confirmed students of one stream.
pub fn members(
    ctx: &Context,
    code: &str,
    course: Option<i64>,
    output: OutputArgs,
    redact: bool,
) -> Result<u8> {
    let (format, out) = output.resolve(&ctx.out, Format::Table);
    let mut db = ctx.open_db()?;
    let stream = resolve_stream(&db, code, course)?;
    let mut rows = db.read(|db| db.stream_members(stream.course_id, &stream.code))?;
    crate::output::redact::redact_all(&mut rows, redact);
    let blocked = rows.iter().filter(|r| r.blocked).count();
    let summary = format!(
        "{} {}, {blocked} {}",
        rows.len(),
        out.tr("confirmed students", "подтверждённых студентов"),
        out.tr("blocked the bot", "заблокировали бота"),
    );
    pipeline::print(
        &out,
        format,
        &rows,
        |out, rows| {
            out.note(&summary);
            members_table(out, rows)
        },
        Some(&summary),
    )?;
    Ok(exit::OK)
}

impl Record for StreamMember {
    const COLUMNS: &'static [&'static str] = &MEMBER_COLUMNS;

    fn csv_record(&self, out: &Output) -> Vec<String> {
        let text = |t: &Option<String>| out.csv_text(t.as_deref().unwrap_or("")).into_owned();
        vec![
            self.user_id.to_string(),
            text(&self.username),
            text(&self.first_name),
            self.booking_id.to_string(),
            self.confirmed_at.clone().unwrap_or_default(),
            self.blocked.to_string(),
        ]
    }

    fn json(&self) -> impl Serialize + '_ {
        self
    }
}

fn members_table(out: &Output, rows: &[StreamMember]) -> crate::output::table::Table {
    let mut table = new_table(
        out,
        &[
            out.tr("User", "Пользователь"),
            out.tr("Username", "Ник"),
            out.tr("First name", "Имя"),
            out.tr("Booking", "Бронь"),
            out.tr("Confirmed at", "Подтверждено"),
            out.tr("Blocked bot", "Бот заблокирован"),
        ],
    );
    for r in rows {
        table.add_row(vec![
            number_cell(r.user_id),
            text_cell(
                out,
                r.username.as_deref().map(|u| format!("@{u}")).as_deref(),
                20,
            ),
            text_cell(out, r.first_name.as_deref(), 20),
            number_cell(r.booking_id),
            comfy_table::Cell::new(
                r.confirmed_at
                    .as_deref()
                    .map(|t| views::show_time(out, t))
                    .unwrap_or_default(),
            ),
            comfy_table::Cell::new(if r.blocked { out.tr("yes", "да") } else { "" }),
        ]);
    }
    table.keep_whole(&[0, 3, 4, 5]);
    table
}
