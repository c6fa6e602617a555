//! The arguments of `streams …` and `courses …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::args::{currency_code, OutputArgs, Setting};

// Stream fields that `add` and `edit` set.
#[derive(Debug, Args, Clone, Default)]
pub struct StreamFields {
    /// Name people see, e.g. "9-й поток".
    #[arg(long)]
    pub name: Option<String>,
    /// Price of the stream, e.g. 30000 or 27000.50; `none` clears it.
    #[arg(long, value_parser = price_setting)]
    pub price: Option<Setting<i64>>,
    /// Currency of the price, e.g. RUB.
    #[arg(long, value_parser = currency_code)]
    pub currency: Option<String>,
    /// Number of seats; `none` clears it.
    #[arg(long, value_parser = capacity_setting)]
    pub capacity: Option<Setting<i64>>,
}

#[derive(Debug, Args)]
pub struct StreamAddArgs {
    /// Stream code as bookings use it, e.g. 9th_stream.
    pub code: String,
    /// Course id.
    #[arg(long)]
    pub course: i64,
    #[command(flatten)]
    pub fields: StreamFields,
}

#[derive(Debug, Args)]
pub struct StreamEditArgs {
    /// Stream code.
    pub code: String,
    /// Course id (needed when two courses use the same code).
    #[arg(long)]
    pub course: Option<i64>,
    #[command(flatten)]
    pub fields: StreamFields,
    /// The stream's group chat link for the {chat_link} placeholder (https:// or tg://); `none` clears it.
    #[arg(long, value_name = "URL", value_parser = chat_link_setting)]
    pub chat_link: Option<Setting<String>>,
    /// Set a capacity below the number of confirmed students (new bookings are then refused).
    #[arg(long)]
    pub force: bool,
}

/// A chat link: https:// or tg://, no spaces or control characters, at most 512 characters.
fn chat_link_setting(text: &str) -> Result<Setting<String>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Setting::Clear);
    }
    let scheme_ok = text.starts_with("https://") || text.starts_with("tg://");
    let clean = !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if scheme_ok && clean && text.len() > 8 && text.chars().count() <= 512 {
        Ok(Setting::To(text.to_string()))
    } else {
        Err(crate::tr!(
            "a chat link is an https:// or tg:// URL without spaces, e.g. https://t.me/+AbCdEf",
            "ссылка на чат — URL https:// или tg:// без пробелов, например https://t.me/+AbCdEf"
        ))
    }
}

fn price_setting(text: &str) -> Result<Setting<i64>, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Setting::Clear);
    }
    match crate::domain::money::parse_amount(text)? {
        minor if minor < 0 => Err(crate::tr!(
            "a price cannot be negative",
            "цена не может быть отрицательной"
        )),
        minor => Ok(Setting::To(minor)),
    }
}

fn capacity_setting(text: &str) -> Result<Setting<i64>, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Setting::Clear);
    }
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Setting::To(n)),
        _ => Err(crate::tr!(
            "'{}' is not a capacity (a whole number of seats, or none)",
            "'{}' — не число мест (целое число или none)",
            crate::text::shown(text)
        )),
    }
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum CoursesCommand {
    /// Courses with their names, templates and booking counts.
    #[command(after_help = "Examples:\n  paytrack courses list\n  paytrack courses list --json")]
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a course.
    #[command(
        after_help = "Examples:\n  paytrack courses add 5 --name \"Вайб кодинг\" --template confirmation.txt"
    )]
    Add(CourseAddArgs),
    /// Rename a course or change its confirmation message template.
    #[command(
        after_help = "Examples:\n  paytrack courses edit 5 --name \"Вайб кодинг 2.0\"\n  paytrack courses edit 5 --default-template"
    )]
    Edit(CourseEditArgs),
    /// Show or set a course's message template of one kind (confirmed, cancelled, reminder, broadcast).
    #[command(
        after_help = "Placeholders: {first_name} {course} {stream} {booking_id} {amount_due} {chat_link}.\n\
A placeholder alone in parentheses, e.g. ({stream}), disappears with them when it is empty.\n\
An unknown placeholder, or a text that could exceed Telegram's 4096 characters once filled\n\
in, is refused (exit 3). Queued messages are rendered when sent, so a fix reaches them.\n\n\
Examples:\n  paytrack courses template 5 --kind reminder\n  paytrack courses template 5 --kind reminder --file reminder.txt\n  paytrack courses template 5 --kind cancelled --reset"
    )]
    Template(CourseTemplateArgs),
}

#[derive(Debug, Args)]
pub struct CourseTemplateArgs {
    /// Course id.
    pub id: i64,
    /// Which message.
    #[arg(long, value_enum)]
    pub kind: crate::domain::message::MessageKind,
    /// Set the template from this file (without it, the current template is printed).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Go back to the default text.
    #[arg(long, conflicts_with = "file")]
    pub reset: bool,
}

#[derive(Debug, Args)]
pub struct CourseAddArgs {
    /// Course id as bookings use it.
    pub id: i64,
    /// Name people see.
    #[arg(long)]
    pub name: String,
    /// Confirmation message template file (placeholders: {first_name} {username} {course_name} {stream_name} {booking_id}).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CourseEditArgs {
    /// Course id.
    pub id: i64,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// Confirmation message template file.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Go back to the default confirmation message.
    #[arg(long, conflicts_with = "template")]
    pub default_template: bool,
}
