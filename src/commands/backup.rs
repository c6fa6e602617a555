//! `paytrack backup FILE`: a consistent copy made while others keep working,
//! written under the rules for files the user names (`output::file`), and
//! checked (`services::check`) before it takes the name.

use std::path::Path;

use anyhow::Result;

use super::Context;
use std::path::PathBuf;

use crate::db::{Db, OpenMode};
use crate::error::{exit, PaytrackError};
use crate::output::encrypt::{self, Recipients};
use crate::output::file::{Guard, OutputFile};
use crate::services::check::run_checks;
use crate::text::shown_path;
use clap::Args;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a new file; an existing regular file only with --force).
    pub file: PathBuf,
    /// Replace FILE if it exists (never a directory, link, device or the database itself).
    #[arg(long)]
    pub force: bool,
    /// Encrypt the copy for this age recipient (a public key `age1…`; repeat for several):
    /// the plain copy exists only as a private temp file while it is checked.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
}

pub fn run(ctx: &Context, args: BackupArgs) -> Result<u8> {
    let recipients = Recipients::parse(&args.encrypt_to)?;
    let db = ctx.open_db()?;
    let mut target = OutputFile::create(
        &args.file,
        Guard {
            database: Some(ctx.db_path.clone()),
            force: args.force,
            replaces_databases: true,
        },
    )?;
    // Encrypted, the plain copy is a private (0600) temp file beside the
    // target, removed when this function returns; plain, it is the target's
    // own temp file.
    let plain = match &recipients {
        Some(_) => Some(
            tempfile::Builder::new()
                .prefix(".paytrack-backup-")
                .tempfile_in(
                    target
                        .temp_path()
                        .parent()
                        .unwrap_or_else(|| Path::new(".")),
                )?,
        ),
        None => None,
    };
    let copy_path = plain.as_ref().map_or_else(
        || target.temp_path().to_path_buf(),
        |p| p.path().to_path_buf(),
    );
    db.backup_to(&copy_path)?;
    drop(db);
    crate::interrupt::check()?;
    // The copy is checked as paytrack will open it after a restore.
    let report = {
        let mut copy = Db::open(&copy_path, OpenMode::Existing)?;
        run_checks(&mut copy, false)?
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
    if let (Some(plain), Some(_)) = (&plain, &recipients) {
        let mut sink = encrypt::sink(
            std::io::BufWriter::new(target.file().try_clone()?),
            recipients.as_ref(),
        )?;
        std::io::copy(&mut std::fs::File::open(plain.path())?, &mut sink)?;
        sink.finish()?;
    }
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
