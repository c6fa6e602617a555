//! The `paytrack` binary: parse, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use paytrack::cli::Cli;
use paytrack::error::{exit, exit_code, is_broken_pipe};

fn main() -> ExitCode {
    paytrack::interrupt::install();
    let cli = Cli::parse();
    match paytrack::run(cli) {
        Ok(code) => ExitCode::from(code),
        // `paytrack ... | head`: the reader is done, and so are we.
        Err(err) if is_broken_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => {
            // One line: the error and its causes, outermost first.
            let text = format!("{err:#}").replace('\n', " ");
            eprintln!("paytrack: error: {text}");
            ExitCode::from(exit_code(&err))
        }
    }
}
