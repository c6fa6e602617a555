//! `paytrack backup FILE`: a consistent copy made while others keep working,
//! written under the rules for files the user names (`output::file`), and
//! checked (`services::check`) before it takes the name.

use anyhow::Result;

use super::Context;
use crate::cli::BackupArgs;
use crate::db::{Db, OpenMode};
use crate::error::{exit, PaytrackError};
use crate::output::file::{Guard, OutputFile};
use crate::output::sanitize::shown_path;
use crate::services::check::run_checks;

pub fn run(ctx: &Context, args: BackupArgs) -> Result<u8> {
    let db = ctx.open_db()?;
    let target = OutputFile::create(
        &args.file,
        Guard {
            database: Some(ctx.db_path.clone()),
            force: args.force,
            replaces_databases: true,
        },
    )?;
    db.backup_to(target.temp_path())?;
    drop(db);
    crate::interrupt::check()?;
    // The copy is checked as paytrack will open it after a restore.
    let report = {
        let copy = Db::open(target.temp_path(), OpenMode::Existing)?;
        run_checks(&copy, false)?
    };
    if !report.findings.is_empty() {
        crate::output::findings::print_check_report(&report)?;
        // Dropping `target` removes the copy: a damaged backup must not
        // replace a good one under the name.
        return Err(PaytrackError::VerifyFailed(format!(
            "the copy has {} finding(s); {} was not written",
            report.findings.len(),
            shown_path(&args.file)
        ))
        .into());
    }
    crate::interrupt::check()?;
    target.finish()?;
    let out = &ctx.out;
    out.note(&format!(
        "{} {} ({})",
        out.tr("backed up to", "резервная копия:"),
        shown_path(&args.file),
        out.tr("checked: no findings", "проверена: замечаний нет")
    ));
    Ok(exit::OK)
}
