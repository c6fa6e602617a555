//! The arguments of `payments …` (the online commands' own are in `commands::online`).

use std::path::PathBuf;

use clap::Args;

use crate::args::{
    booking_id, currency_code, DryRun, ForceReason, JsonFlag, Limit, OutputArgs, RedactArgs,
};
use crate::domain::payment::PaymentOutcome;

#[derive(Debug, Args)]
#[command(mut_arg("force", |a| a.help("Move a payment that is already attached to a booking")))]
#[command(mut_arg("reason", |a| a.help("Why (kept in the audit log; required with --force)")))]
pub struct PaymentsAssignArgs {
    /// The payment's id (first column of `payments list`).
    #[arg(value_parser = payment_id)]
    pub payment: i64,
    /// The booking it pays for.
    #[arg(value_parser = booking_id)]
    pub booking: i64,
    #[command(flatten)]
    pub forcing: ForceReason,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PaymentsResolveArgs {
    /// Payment ids (first column of `payments list`).
    #[arg(required = true, value_parser = payment_id)]
    pub payments: Vec<i64>,
    /// What was done (kept with the payment and in the audit log).
    #[arg(long, required = true)]
    pub note: String,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PaymentsRefundArgs {
    /// The booking the money was returned for.
    #[arg(value_parser = booking_id)]
    pub booking: i64,
    /// The sum returned, e.g. 27000 or 27 000,50 (positive).
    #[arg(long)]
    pub amount: String,
    /// Its currency (three letters, e.g. RUB).
    #[arg(long, value_parser = currency_code)]
    pub currency: String,
    /// Why the money was returned (kept in the audit log).
    #[arg(long)]
    pub reason: String,
    /// Who paid it out.
    #[arg(long, default_value = "manual")]
    pub provider: String,
    /// The provider's reference for the refund [default: generated].
    #[arg(long = "ref", value_name = "REF")]
    pub reference: Option<String>,
    #[command(flatten)]
    pub output: JsonFlag,
}

/// A payment id: a positive whole number.
fn payment_id(text: &str) -> Result<i64, String> {
    match text.trim().trim_start_matches('#').parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(crate::tr!(
            "'{text}' is not a payment id (a positive whole number)",
            "'{text}' — не номер платежа (целое положительное число)"
        )),
    }
}

#[derive(Debug, Args)]
#[command(mut_arg("dry_run", |a| a.help("Do the whole import, report it, and roll it back")))]
pub struct PaymentsImportArgs {
    /// CSV file with a header row (`-` for stdin).
    pub file: PathBuf,
    /// Provider for rows without a provider column or cell, e.g. bank.
    #[arg(long)]
    pub provider: Option<String>,
    #[command(flatten)]
    pub preview: DryRun,
    /// Record the payments and confirmations without queueing any message
    /// (e.g. a historical import of payments the students know about).
    #[arg(long)]
    pub no_notify: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Exit 10 for every row that needs a person, also rows an earlier run already reported.
    #[arg(long)]
    pub strict: bool,
    /// Read the file in this encoding (utf-8, windows-1251…) instead of detecting it; remembered for --provider.
    #[arg(long, value_name = "NAME", value_parser = crate::input::bank_file::encoding_by_name)]
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The bank's own column names: amount=Сумма,description=Назначение платежа,paid_at=Дата. Remembered for --provider.
    #[arg(long, value_name = "COLUMN=HEADER,…", requires = "provider", value_parser = column_map)]
    pub map: Option<crate::input::bank_file::ColumnMap>,
    /// Show every row that needs attention in the table (default: the first 20; --csv and --json list all).
    #[arg(long)]
    pub all: bool,
}

fn column_map(text: &str) -> Result<crate::input::bank_file::ColumnMap, String> {
    crate::input::bank_file::ColumnMap::parse(text, &crate::input::bank_file::PAYMENT_COLUMNS)
}

#[derive(Debug, Args)]
pub struct PaymentsListArgs {
    /// Only payments of this booking.
    #[arg(long, value_parser = booking_id)]
    pub booking: Option<i64>,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this outcome.
    #[arg(long, value_enum)]
    pub outcome: Option<PaymentOutcome>,
    /// Only outcomes a person must look at.
    #[arg(long, conflicts_with = "outcome")]
    pub attention: bool,
    /// Paid at or after: 2024-12-01, RFC 3339, today, yesterday, 7d, 24h.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Paid before (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    #[command(flatten)]
    pub page: Limit,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub privacy: RedactArgs,
}
