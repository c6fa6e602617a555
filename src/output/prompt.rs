//! Asking the person at the terminal before a change that reaches many people.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context as _, Result};

use super::Output;
use crate::error::bad_input;

/// Asks `question` on stderr and reads y/N from stdin. When stdin or stderr
/// is not a terminal there is nobody to ask: an error saying `--yes` is needed.
pub fn confirm(out: &Output, question: &str, what: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() || !out.stderr_is_terminal {
        return Err(bad_input(format!(
            "{what}; add --yes when not on a terminal (or --dry-run to preview)"
        )));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(
        answer.trim().to_lowercase().as_str(),
        "y" | "yes" | "д" | "да"
    ))
}
