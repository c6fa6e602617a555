//! Russian all the way (issue 28, item 5): the help of every command and
//! argument has its Russian text, keyed by clap ids, and no key is stale.

use std::collections::BTreeSet;

use paytrack::i18n::help::{arg_text, child_path, command_text, is_clap_arg, is_clap_help};
use paytrack::i18n::ru;
use paytrack::output::Lang;

/// What the walk found: texts missing, and the keys that were used.
#[derive(Default)]
struct Coverage {
    missing: Vec<String>,
    commands: BTreeSet<String>,
    args: BTreeSet<(String, String)>,
}

fn walk(cmd: &clap::Command, path: &str, found: &mut Coverage) {
    if is_clap_help(cmd) {
        return;
    }
    if command_text(path).is_some() {
        found.commands.insert(path.to_string());
    } else {
        found.missing.push(format!("command `{path}`"));
    }
    // A hidden argument (an old spelling kept working) shows no help.
    for arg in cmd
        .get_arguments()
        .filter(|a| !is_clap_arg(a) && !a.is_hide_set())
    {
        // Global options are declared (and translated) once, at the top.
        if arg.is_global_set() && !path.is_empty() {
            continue;
        }
        let id = arg.get_id().as_str();
        let key = if ru::ARGS.iter().any(|(c, i, _)| *c == path && *i == id) {
            path
        } else {
            "*"
        };
        if arg_text(path, id).is_some() {
            found.args.insert((key.to_string(), id.to_string()));
        } else {
            let english = arg.get_help().map(ToString::to_string).unwrap_or_default();
            found
                .missing
                .push(format!("(\"{path}\", \"{id}\", \"{english}\"),"));
        }
    }
    for sub in cmd.get_subcommands() {
        walk(sub, &child_path(path, sub.get_name()), found);
    }
}

#[test]
fn every_command_and_argument_has_its_russian_help_and_no_key_is_stale() {
    let mut cmd = paytrack::cli::command(Lang::En);
    cmd.build();
    let mut found = Coverage::default();
    walk(&cmd, "", &mut found);
    let stale: Vec<String> = ru::COMMANDS
        .iter()
        .filter(|(path, _, _)| !found.commands.contains(*path))
        .map(|(path, _, _)| format!("command `{path}`"))
        .chain(
            ru::ARGS
                .iter()
                .filter(|(c, i, _)| !found.args.contains(&(c.to_string(), i.to_string())))
                .map(|(c, i, _)| format!("argument `{i}` of `{c}`")),
        )
        .collect();
    assert!(
        found.missing.is_empty() && stale.is_empty(),
        "no Russian help for:\n{}\nstale keys (no such command or argument):\n{}",
        found.missing.join("\n"),
        stale.join("\n")
    );
}
