//! Every colour paytrack prints is decided here (as pueue's `style.rs`
//! does): which status is green, what a header looks like, the stats bar's
//! segments and the stderr prefixes. Whether colour is on at all is
//! decided once, in `Output::new` (`--color`, NO_COLOR, a terminal); the
//! helpers here return plain text or plain cells when it is off.

use comfy_table::{Attribute, Cell, Color};
use owo_colors::OwoColorize;

use super::Output;
use crate::domain::Status;

/// A column header: bold.
pub fn header(out: &Output, text: &str) -> Cell {
    let cell = Cell::new(text);
    if out.color {
        cell.add_attribute(Attribute::Bold)
    } else {
        cell
    }
}

/// A booking status badge: the label in the run's language, green / yellow / red.
pub fn status(out: &Output, status: Status) -> Cell {
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

/// A message's delivery status, labelled in the run's language.
pub fn message_status(out: &Output, status: &str) -> Cell {
    let (label, color) = match status {
        "pending" => (out.tr("pending", "в очереди"), Color::Yellow),
        "sending" => (out.tr("sending", "отправляется"), Color::Cyan),
        "sent" => (out.tr("sent", "отправлено"), Color::Green),
        "failed" => (out.tr("failed", "не доставлено"), Color::Red),
        "withdrawn" => (out.tr("withdrawn", "отозвано"), Color::DarkGrey),
        "cancelled" => (out.tr("cancelled", "отменено"), Color::DarkGrey),
        other => (other, Color::Reset),
    };
    let cell = Cell::new(label);
    if out.color {
        cell.fg(color)
    } else {
        cell
    }
}

/// The stats bar's cell: `█` confirmed, `▒` pending, `░` cancelled, told
/// apart by shape, in or out of colour.
///
/// It had a colour per run (escape codes inside the one cell), which needs
/// comfy-table's `custom_styling`: that measures every cell of every table
/// ANSI-aware, 17% of a `bookings list` first page's instructions (issue 19).
/// The shapes already say what the colours said.
pub fn bar(confirmed: usize, pending: usize, cancelled: usize) -> Cell {
    Cell::new(format!(
        "{}{}{}",
        "█".repeat(confirmed),
        "▒".repeat(pending),
        "░".repeat(cancelled)
    ))
}

/// The `paytrack:` before a note on stderr.
pub fn note_prefix(out: &Output) -> String {
    if out.color_stderr {
        "paytrack:".dimmed().to_string()
    } else {
        "paytrack:".to_string()
    }
}

/// The `warning:` (`предупреждение:`) before a warning on stderr.
pub fn warn_prefix(out: &Output) -> String {
    let prefix = out.tr("warning:", "предупреждение:");
    if out.color_stderr {
        prefix.yellow().bold().to_string()
    } else {
        prefix.to_string()
    }
}
