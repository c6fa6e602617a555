//! Tables for people: one styling helper, colour through comfy-table's cell
//! styles (never pasted into the text, which would break widths), names
//! truncated to fit unless `--wide`.

use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};
use unicode_width::UnicodeWidthChar;

use super::{sanitize, Output};
use crate::domain::Status;

/// A new table with headers, styled for this run.
pub fn new_table(out: &Output, headers: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    if out.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    match out.width {
        Some(width) => {
            table.set_width(width);
            table.set_content_arrangement(ContentArrangement::Dynamic);
        }
        // Piped or --wide: never wrap.
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    table.set_header(headers.iter().map(|h| {
        let cell = Cell::new(h);
        if out.color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    table
}

/// A cell of stranger-typed text: sanitised, truncated to `max` columns unless `--wide`.
pub fn text_cell(out: &Output, text: Option<&str>, max: usize) -> Cell {
    let safe = sanitize::for_terminal(text.unwrap_or(""));
    if out.wide {
        Cell::new(safe)
    } else {
        Cell::new(truncate(&safe, max))
    }
}

/// A status badge: coloured label.
pub fn status_cell(out: &Output, status: Status) -> Cell {
    let cell = Cell::new(out.status_label(status));
    if !out.color {
        return cell;
    }
    let color = match status {
        Status::Confirmed => Color::Green,
        Status::Pending => Color::Yellow,
        Status::Cancelled => Color::Red,
    };
    cell.fg(color).add_attribute(Attribute::Bold)
}

/// A right-aligned number cell.
pub fn number_cell(value: impl std::fmt::Display) -> Cell {
    Cell::new(value).set_alignment(comfy_table::CellAlignment::Right)
}

/// Shortens `text` to at most `max` terminal columns, ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let width: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if width <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncates_by_display_width() {
        assert_eq!(truncate("Ольга", 10), "Ольга");
        assert_eq!(truncate("Александра Константиновна", 10), "Александр…");
        assert_eq!(truncate("漢字漢字漢字", 7), "漢字漢…");
        assert_eq!(truncate("🌸🌸🌸🌸", 5), "🌸🌸…");
    }
}
