//! How `check` (and `backup`, which checks its copy) shows its findings:
//! one line per finding on stdout, or one line per passed check.

use std::io::Write;

use anyhow::Result;

use crate::domain::check::CheckReport;

/// Findings on stdout, one per line (`check: problem`); when there are none,
/// one `ok:` line per check that passed.
pub fn print_check_report(report: &CheckReport) -> Result<()> {
    let mut stdout = super::stdout();
    if report.findings.is_empty() {
        for line in &report.passed {
            writeln!(stdout, "ok: {line}")?;
        }
    }
    for finding in &report.findings {
        writeln!(stdout, "{}: {}", finding.check, finding.problem)?;
    }
    stdout.flush()?;
    Ok(())
}
