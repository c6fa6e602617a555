//! `paytrack check`: every consistency check in one run (see `services::check`);
//! exit 9 on any finding.

use anyhow::Result;

use super::Context;
use crate::error::{exit, PaytrackError};
use crate::services::check::run_checks;
use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Run SQLite's quick_check (no index/table cross-checks) instead of integrity_check.
    #[arg(long)]
    pub quick: bool,
}

pub fn run(ctx: &Context, args: CheckArgs) -> Result<u8> {
    let mut db = match ctx.open_db() {
        Ok(db) => db,
        // A file too damaged to open is the strongest finding of all.
        Err(err) if crate::db::check::is_corruption(&err) => {
            return Err(PaytrackError::VerifyFailed(format!("{err:#}")).into())
        }
        Err(err) => return Err(err),
    };
    let report = run_checks(&mut db, args.quick)?;
    crate::output::findings::print_check_report(&report)?;
    if report.findings.is_empty() {
        return Ok(exit::OK);
    }
    Err(PaytrackError::VerifyFailed(format!(
        "{} finding(s) in {}; see above",
        report.findings.len(),
        crate::text::shown_path(&ctx.db_path)
    ))
    .into())
}
