//! Everything that reaches the terminal: the one colour decision, the
//! language, tables, CSV/JSON writers over one buffered stdout, and the
//! sanitiser for stranger-typed text. stdout carries data; stderr carries talk.

pub mod age;
pub mod encrypt;
pub mod file;
pub mod findings;
pub mod json;
pub mod pipeline;
pub mod progress;
pub mod prompt;
pub mod redact;
pub mod style;
pub mod table;
pub mod views;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use crate::domain::time::DisplayZone;
use crate::domain::Status;
use crate::text;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is unset (CLICOLOR_FORCE forces it).
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// `--color` before clap has parsed anything (for the colour of help and
    /// usage errors): `--color`, else `PAYTRACK_COLOR`, else auto.
    pub fn detect(args: &[OsString]) -> ColorChoice {
        early_choice(args, "--color", "PAYTRACK_COLOR").unwrap_or_default()
    }
}

/// A global flag's value read from the raw arguments (`--flag X`, `--flag=X`),
/// else from its environment variable. An invalid value counts as absent here;
/// clap reports it when it parses.
fn early_choice<T: clap::ValueEnum>(args: &[OsString], flag: &str, env: &str) -> Option<T> {
    let parse = |text: &str| T::from_str(text, true).ok();
    let mut found = None;
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if word == flag {
            found = words.next().and_then(|v| parse(&v));
        } else if let Some(value) = word.strip_prefix(flag).and_then(|w| w.strip_prefix('=')) {
            found = parse(value);
        }
    }
    found.or_else(|| std::env::var(env).ok().and_then(|v| parse(&v)))
}

pub use crate::i18n::Lang;

// The language lives in `i18n` (below every layer that says a message);
// choosing it from the command line before clap runs is output's job, like
// the colour's.
impl Lang {
    /// The language before clap has parsed anything (the help text depends
    /// on it): `--lang`, else `PAYTRACK_LANG`, else the locale.
    pub fn detect(args: &[OsString]) -> Lang {
        early_choice(args, "--lang", "PAYTRACK_LANG").unwrap_or_else(Lang::from_locale)
    }
}

/// `--format`: tables for people, the rest for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Jsonl,
}

/// How this run prints: decided once in `main`, passed to every command.
#[derive(Debug, Clone)]
pub struct Output {
    /// ANSI colour on stdout.
    pub color: bool,
    /// Colour on stderr (judged on stderr's own terminal-ness).
    pub color_stderr: bool,
    pub lang: Lang,
    pub zone: DisplayZone,
    /// `--wide`: never truncate.
    pub wide: bool,
    /// Terminal width when stdout is a terminal; tables fit it.
    pub width: Option<u16>,
    /// `--raw`: CSV cells exactly as stored, without formula protection.
    pub raw_csv: bool,
    /// Text cells of machine formats (CSV) go to a terminal: they are
    /// sanitised for it too. False when stdout is piped or a file is written.
    pub to_terminal: bool,
    /// Whether stderr is a terminal (prompts).
    pub stderr_is_terminal: bool,
    /// Progress bars may be drawn: stderr is a terminal that understands cursor movement.
    pub progress: bool,
    /// No notes or warnings on stderr (library callers such as the property
    /// tests, which feed the parsers thousands of odd headers).
    pub quiet: bool,
}

impl Output {
    /// Decides colour from `--color`, NO_COLOR, CLICOLOR_FORCE, TERM and whether stdout is a terminal.
    pub fn new(choice: ColorChoice, lang: Lang, zone: DisplayZone, wide: bool) -> Output {
        let stdout_tty = io::stdout().is_terminal();
        let stderr_tty = io::stderr().is_terminal();
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let decide = |tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
                if set("NO_COLOR") {
                    false
                } else if std::env::var_os("CLICOLOR_FORCE")
                    .is_some_and(|x| !x.is_empty() && x != "0")
                {
                    true
                } else {
                    tty && !dumb
                }
            }
        };
        let width = if stdout_tty && !wide {
            terminal_width()
        } else {
            None
        };
        Output {
            color: decide(stdout_tty),
            color_stderr: decide(stderr_tty),
            lang,
            zone,
            wide,
            width,
            raw_csv: false,
            to_terminal: stdout_tty,
            stderr_is_terminal: stderr_tty,
            progress: stderr_tty && !dumb,
            quiet: false,
        }
    }

    /// Picks the English or Russian text.
    pub fn tr<'a>(&self, en: &'a str, ru: &'a str) -> &'a str {
        match self.lang {
            Lang::En => en,
            Lang::Ru => ru,
        }
    }

    /// A noun agreeing with a count: English `[one, other]`, Russian
    /// `[one, few, many]` (1 бронирование, 2 бронирования, 5 бронирований;
    /// 11–14 take "many", 21 takes "one").
    pub fn plural<'a>(&self, n: u64, en: [&'a str; 2], ru: [&'a str; 3]) -> &'a str {
        match self.lang {
            Lang::En => {
                if n == 1 {
                    en[0]
                } else {
                    en[1]
                }
            }
            Lang::Ru => match (n % 10, n % 100) {
                (1, m) if m != 11 => ru[0],
                (2..=4, m) if !(12..=14).contains(&m) => ru[1],
                _ => ru[2],
            },
        }
    }

    /// The label people see for a status (the old system's labels in Russian).
    pub fn status_label(&self, status: Status) -> &'static str {
        match (status, self.lang) {
            (Status::Confirmed, Lang::En) => "Confirmed",
            (Status::Pending, Lang::En) => "Pending",
            (Status::Cancelled, Lang::En) => "Cancelled",
            (Status::Confirmed, Lang::Ru) => "Подтверждено",
            (Status::Pending, Lang::Ru) => "В ожидании",
            (Status::Cancelled, Lang::Ru) => "Отменено",
        }
    }

    /// A note for the person at the terminal, on stderr.
    pub fn note(&self, message: &str) {
        if self.quiet {
            return;
        }
        let message = text::message_line(message);
        talk(format_args!("{} {message}", style::note_prefix(self)));
    }

    /// A warning on stderr.
    pub fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        let message = text::message_line(message);
        talk(format_args!(
            "paytrack: {} {message}",
            style::warn_prefix(self)
        ));
    }

    /// A header for a column of times, with the zone they are shown in:
    /// `Created (Europe/Moscow)`.
    pub fn time_header(&self, en: &str, ru: &str) -> String {
        format!("{} ({})", self.tr(en, ru), self.zone.label())
    }

    /// An optional CSV text cell (`csv_text`), empty when absent.
    pub fn csv_opt(&self, text: Option<&str>) -> String {
        text.map(|t| self.csv_text(t).into_owned())
            .unwrap_or_default()
    }

    /// `N bookings` in the run's language.
    pub fn bookings_count(&self, n: u64) -> String {
        let noun = self.plural(
            n,
            ["booking", "bookings"],
            ["бронирование", "бронирования", "бронирований"],
        );
        format!("{n} {noun}")
    }

    /// A CSV text cell: formula-protected unless `--raw`, and on a terminal
    /// (`--csv` read by a person) with control characters shown as escapes.
    pub fn csv_text<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        use std::borrow::Cow;
        let cell = if self.raw_csv {
            Cow::Borrowed(text)
        } else {
            text::for_csv(text)
        };
        match (self.to_terminal, cell) {
            (false, cell) => cell,
            (true, Cow::Borrowed(t)) => text::for_terminal(t),
            (true, Cow::Owned(t)) => Cow::Owned(text::for_terminal(&t).into_owned()),
        }
    }
}

/// One line on stderr. Unlike `eprintln!`, a closed stderr (`2>&1 | head`)
/// is not a panic: the talk is lost, the work goes on.
pub fn talk(line: std::fmt::Arguments<'_>) {
    let mut stderr = io::stderr().lock();
    let _ = stderr
        .write_fmt(line)
        .and_then(|()| stderr.write_all(b"\n"));
}

/// The width tables fit on a terminal: `COLUMNS` when set (as `ls` does, so a
/// user or a test can ask for a width), else the terminal's own size.
fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c > 0)
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0))
}

/// Buffered, locked stdout. Errors (a closed pipe) propagate to `main`, which exits quietly.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// A CSV writer over stdout (one header row, `\n` line ends).
pub fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(w)
}

/// Writes rows as one JSON array (`json`) or one object per line (`jsonl`).
pub fn write_json<W: Write, T: Serialize>(w: &mut W, rows: &[T], lines: bool) -> io::Result<()> {
    if lines {
        for row in rows {
            json::to_writer(&mut *w, row)?;
            w.write_all(b"\n")?;
        }
    } else {
        json::to_writer_pretty(&mut *w, rows)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes rows as `write_json` does, one at a time, so that a listing of a
/// million rows never holds them all (issue 19). The array form comes out
/// byte for byte as `write_json` writes it.
pub struct JsonRows {
    lines: bool,
    written: u64,
    buffer: Vec<u8>,
}

impl JsonRows {
    /// `lines`: JSON Lines (one object a line) instead of one pretty array.
    pub fn new(lines: bool) -> JsonRows {
        JsonRows {
            lines,
            written: 0,
            buffer: Vec::new(),
        }
    }

    pub fn push<W: Write, T: Serialize>(&mut self, w: &mut W, row: &T) -> io::Result<()> {
        if self.lines {
            json::to_writer(&mut *w, row)?;
            w.write_all(b"\n")?;
        } else {
            w.write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
            // The array's pretty layout is each element's, indented one level.
            self.buffer.clear();
            json::to_writer_pretty(&mut self.buffer, row)?;
            for (i, line) in self.buffer.split(|b| *b == b'\n').enumerate() {
                if i > 0 {
                    w.write_all(b"\n")?;
                }
                w.write_all(b"  ")?;
                w.write_all(line)?;
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Closes the array (`[]` when no row came).
    pub fn finish<W: Write>(self, w: &mut W) -> io::Result<()> {
        if !self.lines {
            w.write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        Ok(())
    }
}

/// How many rows a table may have: a longer one is for no one's eyes, and
/// laying it out holds every row (3.3 GB for `bookings list --all` at a
/// million bookings). Listings refuse it and point at --csv/--jsonl, which
/// stream (issue 19).
pub const TABLE_ROWS_MAX: usize = 10_000;

/// Reads `--format`, `--csv` and `--json` as one choice (the shorthands win).
pub fn pick_format(format: Option<Format>, csv: bool, json: bool, default: Format) -> Format {
    if csv {
        Format::Csv
    } else if json {
        Format::Json
    } else {
        format.unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_agree_in_both_languages() {
        let mut out = Output::new(
            ColorChoice::Never,
            Lang::En,
            DisplayZone::parse("UTC").unwrap(),
            false,
        );
        assert_eq!(out.bookings_count(1), "1 booking");
        assert_eq!(out.bookings_count(0), "0 bookings");
        out.lang = Lang::Ru;
        let cases = [
            (1, "1 бронирование"),
            (2, "2 бронирования"),
            (5, "5 бронирований"),
            (11, "11 бронирований"),
            (12, "12 бронирований"),
            (21, "21 бронирование"),
            (22, "22 бронирования"),
            (111, "111 бронирований"),
            (104, "104 бронирования"),
        ];
        for (n, text) in cases {
            assert_eq!(out.bookings_count(n), text);
        }
    }
}

#[cfg(test)]
mod json_rows_tests {
    use super::*;

    #[test]
    fn streamed_rows_are_written_as_write_json_writes_them() {
        let rows = [
            serde_json::json!({"id": 1, "name": "a\nb", "tags": [1, 2]}),
            serde_json::json!({"id": 2, "name": null, "nested": {"x": []}}),
        ];
        for lines in [false, true] {
            for n in 0..=rows.len() {
                let mut expected = Vec::new();
                write_json(&mut expected, &rows[..n], lines).unwrap();
                let mut streamed = Vec::new();
                let mut w = JsonRows::new(lines);
                for row in &rows[..n] {
                    w.push(&mut streamed, row).unwrap();
                }
                w.finish(&mut streamed).unwrap();
                assert_eq!(
                    String::from_utf8(streamed).unwrap(),
                    String::from_utf8(expected).unwrap(),
                    "lines={lines} n={n}"
                );
            }
        }
    }
}
