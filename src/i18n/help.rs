//! Help in the user's language. The English text is clap's, from the `///`
//! comments beside each command's arguments; the Russian text (`ru.rs`) is
//! put on the built command tree by clap id before parsing: each command by
//! its path of subcommand names, each argument by its command's path and its
//! id. clap's own words (headings, `[default: …]`, `-h`'s help, the `help`
//! subcommand) are said in Russian too.

use clap::builder::StyledStr;
use clap::{Arg, Command};

use super::ru;
use crate::cli::Cli;
use crate::output::Lang;

/// The command line with its help in `lang`.
pub fn command(lang: Lang) -> Command {
    use clap::CommandFactory;
    let cmd = match lang {
        Lang::En => Cli::command(),
        // Translation walks every subcommand and argument, so they are built
        // first (English help stays deferred: issue 19).
        Lang::Ru => {
            let mut cmd = Cli::command();
            cmd.build();
            russian(cmd, "")
        }
    };
    // The exit codes come from the error module's table, in the run's language.
    let rest = cmd
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    let codes = crate::error::exit_code_help(lang == Lang::Ru);
    cmd.after_help(format!("{codes}\n\n{rest}"))
}

/// The Russian description and notes of the command at `path`.
pub fn command_text(path: &str) -> Option<(&'static str, &'static str)> {
    ru::COMMANDS
        .iter()
        .find(|(key, _, _)| *key == path)
        .map(|(_, about, after)| (*about, *after))
}

/// The Russian help of argument `id` of the command at `path`: its own, else
/// the one every command shares for that id (`*`), e.g. `dry_run`.
pub fn arg_text(path: &str, id: &str) -> Option<&'static str> {
    let find = |cmd: &str| {
        ru::ARGS
            .iter()
            .find(|(c, i, _)| *c == cmd && *i == id)
            .map(|(_, _, text)| *text)
    };
    find(path).or_else(|| find("*"))
}

/// The path of a subcommand: "bookings" + "list" → "bookings list".
pub fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path} {name}")
    }
}

/// clap's `help` subcommand (not one of paytrack's).
pub fn is_clap_help(cmd: &Command) -> bool {
    cmd.get_name() == "help" && cmd.get_arguments().all(|a| a.get_id() == "subcommand")
}

/// clap's own arguments (`-h`, `-V`), which paytrack does not declare.
pub fn is_clap_arg(arg: &Arg) -> bool {
    arg.get_id() == "help" || arg.get_id() == "version"
}

fn russian(mut cmd: Command, path: &str) -> Command {
    if is_clap_help(&cmd) {
        return cmd.about("Показать эту справку или справку указанной команды");
    }
    if let Some((about, after)) = command_text(path) {
        // As with clap's doc comments: the first paragraph is the summary in
        // a list of commands and `-h`, the whole text is `--help`'s.
        cmd = match about.split_once("\n\n") {
            Some((summary, _)) => cmd.about(summary).long_about(about),
            None => cmd.about(about).long_about(None),
        }
        .after_help(after);
    }
    let usage = cmd.get_styles().get_usage();
    let heading = format!("{usage}Использование:{usage:#}");
    cmd = cmd
        .help_template(StyledStr::from(format!(
            "{{before-help}}{{about-with-newline}}\n{heading} {{usage}}\n\n{{all-args}}{{after-help}}"
        )))
        .subcommand_help_heading("Команды");
    let ids: Vec<clap::Id> = cmd.get_arguments().map(|a| a.get_id().clone()).collect();
    for id in ids {
        cmd = cmd.mut_arg(id, |arg| russian_arg(arg, path));
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let sub_path = child_path(path, &name);
        cmd = cmd.mut_subcommand(&name, |sub| russian(sub, &sub_path));
    }
    cmd
}

fn russian_arg(mut arg: Arg, path: &str) -> Arg {
    // A global option is declared once, on the top level.
    let path = if arg.is_global_set() { "" } else { path };
    let id = arg.get_id().as_str().to_string();
    let text = match id.as_str() {
        "help"
            if arg
                .get_help()
                .is_some_and(|h| h.to_string().contains("--help")) =>
        {
            "Показать справку (подробнее: --help)".to_string()
        }
        "help" => "Показать справку".to_string(),
        "version" => "Показать версию".to_string(),
        _ => arg_text(path, &id).map_or_else(
            || arg.get_help().map(ToString::to_string).unwrap_or_default(),
            str::to_string,
        ),
    };
    // clap's bracketed notes, in Russian; an environment value is never shown.
    let mut notes = String::new();
    if let Some(env) = arg.get_env().filter(|_| !arg.is_hide_env_set()) {
        notes += &format!(" [переменная: {}]", env.to_string_lossy());
        arg = arg.hide_env(true);
    }
    let takes_values = arg.get_action().takes_values();
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if takes_values && !defaults.is_empty() && !arg.is_hide_default_value_set() {
        notes += &format!(" [по умолчанию: {}]", defaults.join(", "));
        arg = arg.hide_default_value(true);
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if takes_values && !values.is_empty() && !arg.is_hide_possible_values_set() {
        notes += &format!(" [значения: {}]", values.join(", "));
        arg = arg.hide_possible_values(true);
    }
    let long = match id.as_str() {
        // `--help`'s own long text points back to `-h`.
        "help" if arg.get_long_help().is_some() => Some("Показать справку (кратко: -h)"),
        _ => None,
    };
    arg = arg.help(format!("{text}{notes}")).long_help(long);
    // clap's own headings ("Options", "Arguments") cannot be renamed, and a
    // custom heading for them would list the global options first (they are
    // propagated before a deferred command adds its own): `headings` renames
    // them in the rendered help instead.
    if arg.get_help_heading() == Some(crate::cli::GLOBAL_OPTIONS) {
        arg = arg.help_heading("Общие параметры");
    }
    arg
}

/// Rendered help (or a usage error showing it) with clap's fixed headings in
/// the user's language: a line that is only `Options:` or `Arguments:`,
/// with or without colour.
pub fn headings(text: &str) -> String {
    if !super::is_russian() {
        return text.to_string();
    }
    text.split_inclusive('\n')
        .map(|line| {
            let bare = without_styles(line.trim_end());
            match bare.as_str() {
                "Options:" => line.replacen("Options:", "Параметры:", 1),
                "Arguments:" => line.replacen("Arguments:", "Аргументы:", 1),
                // A command's visible alias in the list of commands.
                _ => line
                    .replace("[aliases: ", "[другие имена: ")
                    .replace("[alias: ", "[другое имя: "),
            }
        })
        .collect()
}

/// `text` without its SGR sequences (`ESC [ … m`), to compare a line's words.
fn without_styles(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
