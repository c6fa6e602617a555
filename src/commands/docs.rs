//! `completions` and `man`: generated from the clap definitions, never hand-written.
//!
//! Both are rendered into memory first: clap_complete panics when its writer
//! fails, and `paytrack completions bash | head` must end quietly, not panic.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::exit;

pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "paytrack", &mut script);
    print(&script)
}

pub fn man() -> Result<u8> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    print(&page)
}

fn print(bytes: &[u8]) -> Result<u8> {
    let mut out = crate::output::stdout();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(exit::OK)
}
