//! The `paytrack` binary: parse (with help in the user's language), run, map
//! the outcome to an exit code.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::FromArgMatches;
use paytrack::cli::Cli;
use paytrack::error::{exit, exit_code, is_broken_pipe};
use paytrack::output::{talk, ColorChoice, Lang};

fn main() -> ExitCode {
    paytrack::interrupt::install();
    let args: Vec<OsString> = std::env::args_os().collect();
    // Help and usage errors are printed while parsing, so their language and
    // colour are read from the raw arguments first.
    let help_color = match ColorChoice::detect(&args) {
        ColorChoice::Auto => clap::ColorChoice::Auto,
        ColorChoice::Always => clap::ColorChoice::Always,
        ColorChoice::Never => clap::ColorChoice::Never,
    };
    let parsed = paytrack::cli::command(Lang::detect(&args))
        .color(help_color)
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    // `exit` prints help on stdout (exit 0) or the usage error on stderr (exit 2).
    let cli = parsed.unwrap_or_else(|err| err.exit());
    match paytrack::run(cli) {
        Ok(code) => ExitCode::from(code),
        // `paytrack ... | head`: the reader is done, and so are we.
        Err(err) if is_broken_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => {
            // One line: the error and its causes, outermost first.
            let text = format!("{err:#}").replace('\n', " ");
            talk(format_args!("paytrack: error: {text}"));
            ExitCode::from(exit_code(&err))
        }
    }
}
