//! The one output pipeline: every listing hands its typed rows here, and
//! this module alone owns stdout and the format switch. A row type says
//! what it is in each format ([`Record`]: its CSV columns and record, its
//! JSON value); a view in `output::views` (or the command's own table
//! function) says how a page of rows looks to people. What every command
//! would otherwise have to remember happens here once:
//!
//! - `--json` is one array everywhere, `--jsonl` one object a line;
//! - JSON escapes control, bidi and zero-width characters (`output::json`);
//! - CSV cells are formula-protected unless `--raw`, and escaped when the
//!   CSV is read on a terminal (`Output::csv_text`, called for each text cell);
//! - table cells are sanitised by the cell constructors (`table::text_cell`);
//! - an empty table is a note on stderr, never an empty box on stdout;
//! - long results stream: [`stream`] writes CSV/JSON rows as they are read,
//!   and a table is refused past [`TABLE_ROWS_MAX`] rows ([`check_table_rows`]).

use std::io::{self, Write};
use std::marker::PhantomData;

use anyhow::Result;
use serde::Serialize;

use super::table::Table;
use super::{csv_writer, json, Format, JsonRows, Output, TABLE_ROWS_MAX};

/// A row as machines read it.
pub trait Record {
    /// The CSV header: machine names, in order (documented in the README;
    /// `bookings import` reads the bookings' ones back).
    const COLUMNS: &'static [&'static str];

    /// The row's CSV cells, in `COLUMNS` order. Text cells go through
    /// `out.csv_text` (formula protection, terminal escaping).
    fn csv_record(&self, out: &Output) -> Vec<String>;

    /// The row's JSON value (often the row itself).
    fn json(&self) -> impl Serialize + '_;
}

/// Writes rows of one type in one machine format (CSV, JSON array or JSON
/// Lines) to any writer, one at a time: a million rows cost one row's memory.
pub struct RowWriter<'o, T, W: Write> {
    out: &'o Output,
    sink: Sink<W>,
    rows: PhantomData<fn(&T)>,
}

enum Sink<W: Write> {
    // Boxed: the CSV writer's buffer state is ten times a JSON sink's.
    Csv(Box<csv::Writer<W>>),
    Json(W, JsonRows),
}

impl<'o, T: Record, W: Write> RowWriter<'o, T, W> {
    /// A writer for `format`; the CSV header is written at once. A table is
    /// no machine format: asking for one here is a bug in the caller.
    pub fn new(out: &'o Output, format: Format, w: W) -> Result<Self> {
        let sink = match format {
            Format::Csv => {
                let mut csv = csv_writer(w);
                csv.write_record(T::COLUMNS)?;
                Sink::Csv(Box::new(csv))
            }
            Format::Json => Sink::Json(w, JsonRows::new(false)),
            Format::Jsonl => Sink::Json(w, JsonRows::new(true)),
            Format::Table => anyhow::bail!("internal error: a table is not written row by row"),
        };
        Ok(RowWriter {
            out,
            sink,
            rows: PhantomData,
        })
    }

    pub fn push(&mut self, row: &T) -> Result<()> {
        match &mut self.sink {
            Sink::Csv(csv) => csv.write_record(row.csv_record(self.out))?,
            Sink::Json(w, rows) => rows.push(w, &row.json())?,
        }
        Ok(())
    }

    /// Sends what is buffered on (between batches of `audit tail -f`).
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Csv(csv) => csv.flush(),
            Sink::Json(w, _) => w.flush(),
        }
    }

    /// Closes the JSON array and hands the writer back (flushed).
    pub fn finish(self) -> Result<W> {
        let mut w = match self.sink {
            Sink::Csv(csv) => csv.into_inner().map_err(csv::IntoInnerError::into_error)?,
            Sink::Json(mut w, rows) => {
                rows.finish(&mut w)?;
                w
            }
        };
        w.flush()?;
        Ok(w)
    }
}

/// Prints a listing held in memory: a table for people (built by `table`;
/// when there are no rows, `empty` as a note on stderr and nothing on
/// stdout), or the rows in the machine format asked for.
pub fn print<T: Record>(
    out: &Output,
    format: Format,
    rows: &[T],
    table: impl FnOnce(&Output, &[T]) -> Table,
    empty: Option<&str>,
) -> Result<()> {
    if format == Format::Table {
        if rows.is_empty() {
            if let Some(note) = empty {
                out.note(note);
            }
            return Ok(());
        }
        let mut stdout = super::stdout();
        let table = table(out, rows);
        writeln!(stdout, "{table}")?;
        stdout.flush()?;
        // Not dropped: every caller prints one listing and exits, and freeing
        // each cell's strings was 1.5% of a list page (issue 28, as with the
        // command tree in main.rs).
        std::mem::forget(table);
        return Ok(());
    }
    stream(out, format, |push| rows.iter().try_for_each(push))
}

/// Prints rows in a machine format as `produce` reads them (it calls the
/// given function once per row), in constant memory.
pub fn stream<T: Record>(
    out: &Output,
    format: Format,
    produce: impl FnOnce(&mut dyn FnMut(&T) -> Result<()>) -> Result<()>,
) -> Result<()> {
    let mut writer = RowWriter::new(out, format, super::stdout())?;
    produce(&mut |row| writer.push(row))?;
    writer.finish()?;
    Ok(())
}

/// Prints one document (`bookings show`, `users show`): a JSON object
/// (pretty for `--json`, one line for `--jsonl`), `csv` as a one-row CSV
/// where the document has one (else a clear refusal naming `command`), or
/// the people's view written by `table`.
pub fn print_document<T: Record>(
    out: &Output,
    format: Format,
    command: &str,
    json_value: &impl Serialize,
    csv: Option<&T>,
    table: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let mut stdout = super::stdout();
    match format {
        Format::Table => table(&mut stdout)?,
        Format::Json => {
            json::to_writer_pretty(&mut stdout, json_value)?;
            writeln!(stdout)?;
        }
        Format::Jsonl => {
            json::to_writer(&mut stdout, json_value)?;
            writeln!(stdout)?;
        }
        Format::Csv => {
            let Some(row) = csv else {
                return Err(crate::error::bad_input(format!(
                    "{command} has several sections: use --json (or the table)"
                )));
            };
            let mut writer = RowWriter::new(out, format, &mut stdout)?;
            writer.push(row)?;
            writer.finish()?;
        }
    }
    stdout.flush()?;
    Ok(())
}

/// Prints a report (`payments import`): for `--json` its summary document,
/// which holds the detail rows; for CSV and JSON Lines the detail rows alone,
/// one record each (a file of rows to work through); for people the view
/// written by `table`.
pub fn print_report<T: Record>(
    out: &Output,
    format: Format,
    summary: &impl Serialize,
    rows: &[T],
    table: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    match format {
        Format::Csv | Format::Jsonl => stream(out, format, |push| rows.iter().try_for_each(push)),
        Format::Json | Format::Table => {
            print_document(out, format, "the report", summary, None::<&T>, table)
        }
    }
}

/// How many rows to read for a table page of at most `limit` rows: one past
/// the page (to tell whether there is more), never past one more than
/// [`TABLE_ROWS_MAX`].
pub fn table_fetch(limit: Option<u64>) -> u64 {
    let table_max = TABLE_ROWS_MAX as u64;
    limit
        .map_or(table_max, |n| n.min(table_max))
        .saturating_add(1)
}

/// Refuses a table of more than [`TABLE_ROWS_MAX`] rows: laying it out holds
/// every row (3.3 GB for a million bookings), and --csv/--jsonl stream.
/// `fetched` is what [`table_fetch`] read; `what` names the rows (`bookings`).
pub fn check_table_rows(fetched: usize, limit: Option<u64>, what: &str) -> Result<()> {
    let table_max = TABLE_ROWS_MAX as u64;
    if fetched as u64 > table_max && limit.is_none_or(|n| n > table_max) {
        return Err(crate::error::bad_input(format!(
            "more than {TABLE_ROWS_MAX} {what} match: too many for a table; \
             use --csv or --format jsonl (they stream any number of rows), or page with --limit and --cursor"
        )));
    }
    Ok(())
}

/// Whether `format` can print rows as they come (`--follow`): a JSON array
/// cannot, as it is closed only at the end.
pub fn check_followable(format: Format) -> Result<()> {
    if format == Format::Json {
        return Err(crate::error::bad_input(
            "--follow prints entries as they come: use --format jsonl (one JSON object a line)",
        ));
    }
    Ok(())
}

/// An export file is written row by row (and may be encrypted as it goes):
/// CSV or JSON Lines, never one array that only the end closes.
pub fn check_export_format(format: Format) -> Result<()> {
    if !matches!(format, Format::Csv | Format::Jsonl) {
        return Err(crate::error::bad_input(
            "export writes csv or jsonl (use `bookings list --json` for a JSON array)",
        ));
    }
    Ok(())
}
