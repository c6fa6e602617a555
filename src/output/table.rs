//! Tables for people: one styling helper, colour through comfy-table's cell
//! styles (never pasted into the text, which would break widths), widths
//! measured in terminal columns (Cyrillic 1, CJK and emoji 2), and rows that
//! fit the terminal: one line each, long text cut with `…`, unless `--wide`.

use std::fmt;
use std::ops::{Deref, DerefMut};

use comfy_table::{presets, Cell, ColumnConstraint, ContentArrangement, Row, Width};

use super::{style, Output};
use crate::domain::Status;
use crate::text::{self, cut_to_width, display_width};

/// A comfy-table that fits the terminal it is printed on.
///
/// It derefs to `comfy_table::Table`; `add_row` and `Display` are its own, so
/// every row gets the one-line cap and the fitting happens without each
/// command remembering to ask for it.
pub struct Table {
    inner: comfy_table::Table,
    /// The terminal width to fit; `None` when piped or `--wide` (never cut, never wrap).
    fit_width: Option<u16>,
    /// Columns never cut (ids, times, statuses, numbers).
    whole: Vec<usize>,
    /// Columns hidden, in this order, when the others would be cut to a letter.
    optional: Vec<usize>,
}

impl Table {
    /// Adds a row; on a terminal it is capped at one line.
    ///
    /// The last line of defence for stored text: a cell that still holds a
    /// control, bidi or zero-width character (a view that built it without
    /// `text_cell`) is sanitised here, so no view can forget. No cell
    /// carries escape codes: colour is comfy-table's own, per cell.
    pub fn add_row<T: Into<Row>>(&mut self, row: T) -> &mut Self {
        let mut row = row.into();
        let raw = |cell: &Cell| text::has_dangerous(&cell.content());
        if row.cell_iter().any(raw) {
            let cells: Vec<Cell> = row
                .cell_iter()
                .map(|cell| {
                    if raw(cell) {
                        Cell::new(text::for_terminal(&cell.content()))
                    } else {
                        cell.clone()
                    }
                })
                .collect();
            row = Row::from(cells);
        }
        if self.fit_width.is_some() {
            row.max_height(1);
        }
        self.inner.add_row(row);
        self
    }

    /// Columns whose cells must never be cut (ids, times, numbers, statuses):
    /// when the terminal is narrow, only the other columns give up width.
    pub fn keep_whole(&mut self, columns: &[usize]) -> &mut Self {
        self.whole.extend_from_slice(columns);
        self
    }

    /// Columns that may be left out on a narrow terminal (in this order)
    /// rather than cut the names to a letter: `--wide` or a pipe shows them.
    pub fn optional(&mut self, columns: &[usize]) -> &mut Self {
        self.optional.extend_from_slice(columns);
        self
    }
}

impl Deref for Table {
    type Target = comfy_table::Table;
    fn deref(&self) -> &comfy_table::Table {
        &self.inner
    }
}

impl DerefMut for Table {
    fn deref_mut(&mut self) -> &mut comfy_table::Table {
        &mut self.inner
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fit_width {
            // Fitting needs every row's width, so it happens here, on a copy
            // (a table for people is small; the copy costs what printing does).
            Some(width) => {
                let mut fitted = self.inner.clone();
                fit(&mut fitted, usize::from(width), &self.whole, &self.optional);
                fitted.fmt(f)
            }
            None => self.inner.fmt(f),
        }
    }
}

/// Fits the table to `width` terminal columns: empty columns hide, then the
/// widest cuttable columns are capped ([`column_caps`]); when that would cut
/// names to a letter, the optional columns hide first, one at a time.
fn fit(table: &mut comfy_table::Table, width: usize, whole: &[usize], optional: &[usize]) {
    let mut hidden = hide_empty_columns(table);
    // Includes the header and measures in terminal columns (ANSI-aware).
    let measured: Vec<usize> = table
        .column_max_content_widths()
        .into_iter()
        .map(usize::from)
        .collect();
    let header_widths: Vec<usize> = table.header().map_or_else(Vec::new, |h| {
        h.cell_iter().map(|c| display_width(&c.content())).collect()
    });
    let mut optional = optional.iter().copied();
    loop {
        let fitted = column_caps(&measured, &hidden, &header_widths, whole, width);
        let caps = match fitted {
            Fitted::Whole => return,
            Fitted::Readable(caps) => caps,
            // Names cut to a letter say nothing: the columns that may go
            // (referral, discount) go first, one at a time.
            Fitted::Tight(caps) => match optional.by_ref().find(|&i| !hidden[i]) {
                Some(index) => {
                    if let Some(column) = table.column_mut(index) {
                        column.set_constraint(ColumnConstraint::Hidden);
                        hidden[index] = true;
                    }
                    continue;
                }
                None => caps,
            },
        };
        for (index, limit) in caps {
            if let Some(column) = table.column_mut(index) {
                column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
                    // comfy-table's fixed widths include the padding.
                    u16::try_from(limit + 2).unwrap_or(u16::MAX),
                )));
            }
        }
        return;
    }
}

/// How a table fits its terminal: as it is, with cut columns whose headers
/// stay readable, or only with headers cut too. The caps are `(column, width)`.
enum Fitted {
    Whole,
    Readable(Vec<(usize, usize)>),
    Tight(Vec<(usize, usize)>),
}

/// Caps the widest cuttable columns until the table fits `width` terminal
/// columns: the narrow ones keep their full width, so short names stay whole
/// and only the longest give way, each cut with `…` on its one line.
fn column_caps(
    measured: &[usize],
    hidden: &[bool],
    header_widths: &[usize],
    whole: &[usize],
    width: usize,
) -> Fitted {
    // A hidden column takes nothing.
    let natural: Vec<usize> = measured
        .iter()
        .zip(hidden)
        .map(|(&w, &hidden)| if hidden { 0 } else { w })
        .collect();
    // Each shown column has one space of padding on either side and a border
    // to its left; the last border closes the row.
    let overhead = hidden.iter().filter(|h| !**h).count() * 3 + 1;
    if natural.iter().sum::<usize>() + overhead <= width {
        return Fitted::Whole;
    }
    let header_width = |index: usize| header_widths.get(index).copied().unwrap_or(0);
    let cuttable: Vec<usize> = (0..natural.len()).filter(|i| !whole.contains(i)).collect();
    let kept: usize = (0..natural.len())
        .filter(|i| whole.contains(i))
        .map(|i| natural[i])
        .sum();
    let room = width.saturating_sub(overhead + kept);
    // A cut column keeps its header readable and at least a letter and the
    // `…` — unless even that is wider than the terminal: then headers are
    // cut too, as a wrapped table is unreadable altogether.
    let readable = |index: usize| natural[index].min(header_width(index).max(2));
    let tight = |index: usize| natural[index].min(2);
    let used = |cap: usize, floor: &dyn Fn(usize) -> usize| -> usize {
        cuttable
            .iter()
            .map(|&i| natural[i].min(cap.max(floor(i))))
            .sum()
    };
    let is_tight = used(2, &readable) > room;
    let floor: &dyn Fn(usize) -> usize = if is_tight { &tight } else { &readable };
    let mut cap = cuttable.iter().map(|&i| natural[i]).max().unwrap_or(0);
    while cap > 2 && used(cap, floor) > room {
        cap -= 1;
    }
    let caps = cuttable
        .iter()
        .map(|&index| (index, cap.max(floor(index))))
        .filter(|&(index, limit)| natural[index] > limit)
        .collect();
    if is_tight {
        Fitted::Tight(caps)
    } else {
        Fitted::Readable(caps)
    }
}

/// On a terminal, a column with no value in any row (no referral codes, no
/// discounts on this page) gives its width to the others.
/// Returns which columns it hid.
fn hide_empty_columns(table: &mut comfy_table::Table) -> Vec<bool> {
    let columns = table.column_count();
    let mut filled = vec![false; columns];
    for row in table.row_iter() {
        for (index, cell) in row.cell_iter().enumerate() {
            if index < columns && !cell.content().trim().is_empty() {
                filled[index] = true;
            }
        }
    }
    if table.row_iter().next().is_none() {
        return vec![false; columns];
    }
    for (index, &filled) in filled.iter().enumerate() {
        if !filled {
            if let Some(column) = table.column_mut(index) {
                column.set_constraint(ColumnConstraint::Hidden);
            }
        }
    }
    filled.into_iter().map(|f| !f).collect()
}

/// A new table with headers, styled for this run.
pub fn new_table(out: &Output, headers: &[&str]) -> Table {
    let mut inner = comfy_table::Table::new();
    inner.load_preset(presets::UTF8_FULL_CONDENSED);
    // comfy-table must not make its own terminal decisions: the one colour
    // decision and the width come from `Output`.
    inner.force_no_tty();
    if out.color {
        inner.enforce_styling();
    }
    inner.set_truncation_indicator("…");
    // Never wrap: a cut cell ends in `…` on its one line instead.
    inner.set_content_arrangement(ContentArrangement::Disabled);
    let mut header: Row = headers
        .iter()
        .map(|h| style::header(out, h))
        .collect::<Vec<_>>()
        .into();
    header.max_height(1);
    inner.set_header(header);
    Table {
        inner,
        fit_width: out.width,
        whole: Vec::new(),
        optional: Vec::new(),
    }
}

/// The widest cell even `--wide` shows in a table. comfy-table measures
/// columns in `u16` and splits a longer line again and again, which made a
/// 10 MB name take half a minute (issue 17); nobody reads a cell this wide,
/// and `--csv`/`--json` carry every value whole.
pub const WIDE_CELL_MAX_COLUMNS: usize = 4096;

/// A cell of stranger-typed text: sanitised, and on a terminal truncated to
/// `max` columns unless `--wide`. Piped tables (and `--wide`) are cut only at
/// `WIDE_CELL_MAX_COLUMNS`, so a script reading the table gets whole names.
/// Linear in the text's length.
pub fn text_cell(out: &Output, text: Option<&str>, max: usize) -> Cell {
    let text = text.unwrap_or("");
    let max = if out.wide || out.width.is_none() {
        WIDE_CELL_MAX_COLUMNS
    } else {
        max
    };
    // Only the part that can be shown is sanitised and measured: every
    // character takes at least one column once sanitised (zero-width ones
    // aside), so no more than `max + 1` of them can fit.
    let shown_end = text
        .char_indices()
        .nth(max + 1)
        .map_or(text.len(), |(i, _)| i);
    let safe = text::for_terminal(&text[..shown_end]);
    Cell::new_owned(cut_to_width(&safe, max, shown_end < text.len()))
}

/// A status badge: the label in the run's language, coloured by `style`.
pub fn status_cell(out: &Output, status: Status) -> Cell {
    style::status(out, status)
}

/// A right-aligned number cell.
pub fn number_cell(value: impl std::fmt::Display) -> Cell {
    Cell::new(value).set_alignment(comfy_table::CellAlignment::Right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::DisplayZone;
    use crate::output::{Lang, Output};

    fn output(width: Option<u16>, wide: bool) -> Output {
        Output {
            color: false,
            color_stderr: false,
            lang: Lang::En,
            zone: DisplayZone::parse("UTC").unwrap(),
            wide,
            width,
            raw_csv: false,
            to_terminal: false,
            stderr_is_terminal: false,
            progress: false,
            quiet: true,
        }
    }

    #[test]
    fn huge_cells_cost_what_is_shown() {
        let huge = format!("\x1b[2J{}", "Ж".repeat(5_000_000));
        // On a terminal the cell's own cap; piped or --wide, the linear-time cap.
        // (The time it takes is measured in BENCHMARKS.md, not asserted here.)
        for (width, wide, max) in [
            (Some(80), false, 20),
            (None, false, WIDE_CELL_MAX_COLUMNS),
            (Some(80), true, WIDE_CELL_MAX_COLUMNS),
        ] {
            let cell = text_cell(&output(width, wide), Some(&huge), 20);
            let text = cell.content();
            assert!(display_width(&text) <= max, "{}", display_width(&text));
            assert!(display_width(&text) >= max - 1, "{}", display_width(&text));
            assert!(text.starts_with("\\e[2J") && text.ends_with('…'));
        }
        let short = text_cell(&output(None, false), Some("Ольга"), 20);
        assert_eq!(short.content(), "Ольга");
    }

    fn sample(out: &Output) -> String {
        let mut table = new_table(out, &["ID", "Name", "Stream"]);
        table.add_row(vec![
            number_cell(1),
            text_cell(out, Some("Настя 🌸 李雷 Александра Константиновна"), 40),
            text_cell(out, Some("8th_stream"), 16),
        ]);
        table.keep_whole(&[0]);
        table.to_string()
    }

    #[test]
    fn a_terminal_table_fits_its_width_one_line_per_row() {
        let text = sample(&output(Some(40), false));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        for line in &lines {
            assert!(display_width(line) <= 40, "{line:?} is wider than 40");
        }
        assert!(text.contains('…'), "{text}");
    }

    #[test]
    fn a_cell_built_without_text_cell_is_sanitised_anyway() {
        let out = output(None, false);
        let mut table = new_table(&out, &["Raw", "Bar"]);
        table.add_row(vec![
            Cell::new("\x1b]0;pwned\x07\u{202e}x"),
            Cell::new("\x1b[32m█\x1b[0m"),
        ]);
        let text = table.to_string();
        assert!(text.contains("\\e]0;pwned\\u{7}\\u{202e}x"), "{text}");
        assert!(
            !text.contains('\u{7}') && !text.contains('\u{202e}'),
            "{text:?}"
        );
        // Escape codes in any column are shown, never obeyed.
        assert!(text.contains("\\e[32m█"), "{text:?}");
    }

    #[test]
    fn piped_and_wide_tables_are_never_wrapped() {
        for out in [output(None, false), output(None, true)] {
            let text = sample(&out);
            assert_eq!(text.lines().count(), 5, "{text}");
        }
        let wide = sample(&output(None, true));
        assert!(wide.contains("Александра Константиновна"), "{wide}");
    }
}
