//! Argument groups and value parsers that several commands share, so that a
//! flag means the same and reads the same wherever it appears: the output
//! format (`--format`/`--csv`/`--json`), `--redact`, `--dry-run`, `--yes`,
//! `--force` with `--reason`, `--limit`/`--all`, ids and currency codes.

use clap::Args;

use crate::output::Format;

/// A booking id: a positive 64-bit integer (also read from files, so the
/// parser is the domain's).
pub use crate::domain::booking::parse_booking_id as booking_id;

// `--format` with its `--csv` / `--json` shorthands, the same on every command.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Output format: table for people; csv, json, jsonl for scripts.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Same as --format csv.
    #[arg(long, conflicts_with_all = ["format", "json"])]
    pub csv: bool,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// CSV cells exactly as stored: no protection against spreadsheet formulas (for machines).
    #[arg(long)]
    pub raw: bool,
}

impl OutputArgs {
    /// The chosen format (`default` when no flag says) and the run's output
    /// settings with `--raw` applied.
    pub fn resolve(
        &self,
        out: &crate::output::Output,
        default: Format,
    ) -> (Format, crate::output::Output) {
        let mut out = out.clone();
        out.raw_csv = self.raw;
        (
            crate::output::pick_format(self.format, self.csv, self.json, default),
            out,
        )
    }
}

/// A value to set, or `none` to clear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting<T> {
    Clear,
    To(T),
}

impl<T> Setting<T> {
    pub fn into_option(self) -> Option<T> {
        match self {
            Setting::Clear => None,
            Setting::To(v) => Some(v),
        }
    }
}

/// A currency code: three letters, stored upper-case (RUB, USD, EUR).
pub fn currency_code(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() == 3 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(crate::tr!(
            "'{}' is not a currency code (three letters, e.g. RUB)",
            "'{}' — не код валюты (три буквы, например RUB)",
            crate::text::shown(text)
        ))
    }
}

// `--redact` for listings (issue 20).
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct RedactArgs {
    /// Leave out what identifies students: names, payment descriptions, message bodies, reasons.
    #[arg(long)]
    pub redact: bool,
}

// A group's doc comment would become the `about` of every command that
// flattens it, so the groups are described with plain comments.

// `--dry-run`: the command does its work (so its counts are exact), reports
// it, and writes nothing. A command says what it shows with `mut_arg`.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct DryRun {
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

// `--yes`/`-y`: a bulk or destructive command asks on a terminal and needs
// this flag elsewhere.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct Confirm {
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

// `--force` with the `--reason` it needs: a change the rules refuse, made
// anyway and recorded as forced.
#[derive(Debug, Args, Clone, Default)]
pub struct ForceReason {
    /// Allow a change the rules refuse (needs --reason; recorded as forced).
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why (with --force); stored in the audit log.
    #[arg(long)]
    pub reason: Option<String>,
}

// `--json` on a command whose only other output is its report: the result
// as one JSON document on stdout (`--json` never names an input).
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct JsonFlag {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

// `--limit N` or `--all` for a listing.
#[derive(Debug, Args, Clone, Copy)]
pub struct Limit {
    /// How many rows to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    /// Show every matching row.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
}
