//! The `paytrack` binary: parse (with help in the user's language), run, map
//! the outcome to an exit code.

use std::ffi::OsString;
use std::process::ExitCode;

use paytrack::cli::Cli;
use paytrack::commands::exit_code;
use paytrack::error::{exit, is_broken_pipe};
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
    let lang = Lang::detect(&args);
    paytrack::i18n::set(lang);
    let mut command = paytrack::i18n::help::command(lang).color(help_color);
    let parsed = command
        .try_get_matches_from_mut(&args)
        .and_then(|matches| Cli::from_matches(&matches));
    // The command tree (every subcommand's arguments and help) is not freed:
    // the process ends soon, and dropping it was 10% of the instructions of a
    // one-booking `set-status` (issue 19: ≤ 1.1× the bare UPDATE + INSERT).
    std::mem::forget(command);
    let cli = match parsed {
        Ok(cli) => cli,
        // Help and --version go to stdout as clap writes them (in Russian,
        // with clap's fixed headings renamed).
        Err(err) if !err.use_stderr() && lang == Lang::Ru => {
            let styled = err.render();
            let text = if help_in_colour(help_color) {
                styled.ansi().to_string()
            } else {
                styled.to_string()
            };
            print!("{}", paytrack::i18n::help::headings(&text));
            return ExitCode::from(exit::OK);
        }
        Err(err) if !err.use_stderr() => err.exit(),
        // A usage error quotes the value typed, which may hold escape
        // sequences or be megabytes long: each line is made safe and short.
        Err(err) => {
            let text = paytrack::i18n::help::headings(&paytrack::i18n::usage_error(
                &err.render().to_string(),
            ));
            for line in text.lines() {
                talk(format_args!("{}", paytrack::text::message_line(line)));
            }
            return ExitCode::from(exit::USAGE);
        }
    };
    match paytrack::run(cli) {
        Ok(code) => ExitCode::from(code),
        // `paytrack ... | head`: the reader is done, and so are we.
        Err(err) if is_broken_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => {
            // One line: the error and its causes, outermost first.
            // A cause that only repeats the one before it (a driver error
            // carried inside another driver's error type) is said once.
            let mut causes: Vec<String> = Vec::new();
            for cause in err.chain() {
                let text = cause.to_string();
                if causes.last() != Some(&text) {
                    causes.push(text);
                }
            }
            let text = causes.join(": ").replace('\n', " ");
            // Values are quoted through `text::shown` where the error is
            // made; this is the net for anything a cause quotes (a driver, a
            // server), so that no error line can drive the terminal.
            let text = paytrack::text::message_line(&text);
            let code = exit_code(&err);
            if code == exit::INTERRUPTED {
                // Ctrl-C stopped a statement: SQLite's wording adds nothing.
                talk(format_args!(
                    "paytrack: {}",
                    paytrack::tr!("error: interrupted", "ошибка: прервано")
                ));
            } else {
                talk(format_args!(
                    "paytrack: {} {text}",
                    paytrack::tr!("error:", "ошибка:")
                ));
            }
            ExitCode::from(code)
        }
    }
}

/// Whether help on stdout is coloured: as clap decides for `--color`
/// (`auto`: a terminal, unless NO_COLOR is set or TERM=dumb).
fn help_in_colour(choice: clap::ColorChoice) -> bool {
    use std::io::IsTerminal as _;
    match choice {
        clap::ColorChoice::Always => true,
        clap::ColorChoice::Never => false,
        clap::ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    }
}
