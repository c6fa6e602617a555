//! `completions` and `man`: generated from the clap definitions, never hand-written.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::exit;

pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut out = crate::output::stdout();
    clap_complete::generate(shell, &mut Cli::command(), "paytrack", &mut out);
    std::io::Write::flush(&mut out)?;
    Ok(exit::OK)
}

pub fn man() -> Result<u8> {
    let mut out = crate::output::stdout();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    std::io::Write::flush(&mut out)?;
    Ok(exit::OK)
}
