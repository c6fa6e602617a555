//! A tool that feels native: help and its examples, tables in both languages
//! with and without colour, time zones, completions and the manual, quiet
//! pipes, Ctrl-C during a write, and a real pseudo-terminal (util-linux
//! `script`) to see that colour and progress appear there and not in pipes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clap::CommandFactory;
use paytrack::cli::Cli;
use paytrack::output::Lang;

use crate::harness::{code, fixture, Env};

const ESC: &str = "\x1b[";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Bookings whose names are wide, narrow and hostile, with fixed times.
const NAMES_CSV: &str = "\
id,user_id,username,first_name,course_id,course_stream,confirmed,created_at,referral_code,discount_percent
1,1001,olga,Ольга,1,8th_stream,2,2024-12-01 09:30:00+03,FRIEND10,10
2,1002,,李雷,1,8th_stream,1,2024-12-02 23:15:00+00,,
3,1003,nastya,Настя 🌸,1,,-1,2024-12-03 12:00:00+00,,
4,1004,alexandra_konstantinovna_the_first,Александра Константиновна,3,py_2,1,2024-12-04 08:00:00+00,HALF50,50
5,1005,evil,\"\x1b[2Jpwned\",3,py_2,2,2024-12-05 08:00:00+00,,
";

pub(crate) fn with_names() -> Env {
    let env = Env::new();
    let file = env.write("names.csv", NAMES_CSV);
    env.ok(&["bookings", "import", &file]);
    env
}

// ---- help -------------------------------------------------------------------

#[test]
fn the_clap_definitions_are_consistent_in_both_languages() {
    Cli::command().debug_assert();
    paytrack::i18n::help::command(Lang::Ru).debug_assert();
}

#[test]
fn every_command_has_a_description_and_examples() {
    fn walk(cmd: &clap::Command, path: String, lang: &str, examples: &str) {
        if cmd.get_name() == "help" {
            return;
        }
        assert!(
            cmd.get_about().is_some(),
            "`{path}` has no description ({lang})"
        );
        let after = cmd
            .get_after_help()
            .map(std::string::ToString::to_string)
            .unwrap_or_default();
        assert!(
            after.contains(examples),
            "`{path}` --help has no examples ({lang}): {after}"
        );
        for sub in cmd.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), lang, examples);
        }
    }
    walk(&Cli::command(), "paytrack".into(), "en", "Example");
    walk(
        &paytrack::i18n::help::command(Lang::Ru),
        "paytrack".into(),
        "ru",
        "Пример",
    );
}

/// Runs paytrack with extra environment variables.
fn run_with(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Output {
    env.cmd()
        .envs(vars.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

/// Help text, without the harness's values, so that `[env: …]` shows no temp path.
fn help_of(env: &Env, args: &[&str]) -> String {
    let out = env
        .cmd()
        .env_remove("PAYTRACK_DB")
        .env_remove("PAYTRACK_ACTOR")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    text(&out.stdout)
}

/// The top-level help without its list of commands, which grows as commands
/// are added (each is checked for a description and examples above).
fn without_command_list(help: &str) -> String {
    let mut out = String::new();
    let mut in_list = false;
    for line in help.lines() {
        if line == "Commands:" || line == "Команды:" {
            in_list = true;
            out += line;
            out += " …\n";
        } else if in_list && line.is_empty() {
            in_list = false;
        }
        if !in_list {
            out += line;
            out.push('\n');
        }
    }
    out
}

#[test]
fn help_shows_the_cron_usages_and_every_environment_variable() {
    let env = Env::empty();
    let help_of = |args: &[&str]| help_of(&env, args);
    let help = help_of(&["--help"]);
    for needle in [
        "paytrack bookings list --status pending",
        "paytrack booking set-status 42 confirmed",
        "paytrack stats streams --csv",
        // Its value is hidden: a postgres:// URL may hold a password.
        "[env: PAYTRACK_DB]",
        "[env: PAYTRACK_ACTOR=]",
        "[env: PAYTRACK_LANG=]",
        "[env: PAYTRACK_TZ=]",
        "[env: PAYTRACK_COLOR=]",
        "[env: PAYTRACK_WIDE=]",
        "NO_COLOR",
        "Exit codes:",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}");
    }
    assert!(!help.contains(ESC), "help in a pipe is not coloured");
    insta::assert_snapshot!("help_top_level", without_command_list(&help));
    insta::assert_snapshot!(
        "help_bookings_list",
        help_of(&["bookings", "list", "--help"])
    );
    insta::assert_snapshot!(
        "help_set_status",
        help_of(&["booking", "set-status", "--help"])
    );
    insta::assert_snapshot!("help_stats_streams", help_of(&["stats", "streams", "-h"]));
}

#[test]
fn help_is_in_russian_by_flag_variable_or_locale() {
    let env = Env::empty();
    let by_flag = help_of(&env, &["--lang", "ru", "--help"]);
    assert!(by_flag.contains("Коды выхода:"), "{by_flag}");
    assert!(by_flag.contains("paytrack stats streams --csv"));
    insta::assert_snapshot!("help_top_level_ru", without_command_list(&by_flag));
    insta::assert_snapshot!(
        "help_bookings_list_ru",
        help_of(&env, &["bookings", "list", "--lang=ru", "-h"])
    );

    let by_variable = run_with(
        &env,
        &[("PAYTRACK_LANG", "ru")],
        &["booking", "set-status", "--help"],
    );
    let by_variable = text(&by_variable.stdout);
    assert!(by_variable.contains("Примеры:"), "{by_variable}");
    assert!(by_variable.contains("paytrack booking set-status 42 confirmed"));

    let by_locale = run_with(&env, &[("LANG", "ru_RU.UTF-8")], &["stats", "--help"]);
    assert!(text(&by_locale.stdout).contains("Примеры:"));
    // The flag wins over the locale.
    let english = run_with(
        &env,
        &[("LANG", "ru_RU.UTF-8")],
        &["--lang", "en", "stats", "--help"],
    );
    assert!(text(&english.stdout).contains("Examples:"));
}

// ---- tables -----------------------------------------------------------------

#[test]
fn bookings_and_stats_tables_in_both_languages_with_and_without_colour() {
    let env = with_names();
    for lang in ["en", "ru"] {
        for color in ["never", "always"] {
            let list = env.ok(&["bookings", "list", "--lang", lang, "--color", color]);
            let stats = env.ok(&["stats", "streams", "--lang", lang, "--color", color]);
            assert_eq!(list.contains(ESC), color == "always", "{list}");
            insta::assert_snapshot!(format!("bookings_table_{lang}_{color}"), list);
            insta::assert_snapshot!(format!("stats_table_{lang}_{color}"), stats);
        }
    }
}

#[test]
fn russian_tables_use_the_old_systems_status_labels() {
    let env = with_names();
    let list = env.ok(&["bookings", "list", "--lang", "ru"]);
    for label in ["Подтверждено", "В ожидании", "Отменено", "Статус", "Имя"]
    {
        assert!(list.contains(label), "{label} missing:\n{list}");
    }
    let by_locale = run_with(&env, &[("LC_ALL", "ru_RU.UTF-8")], &["bookings", "list"]);
    assert!(text(&by_locale.stdout).contains("В ожидании"));
    assert!(text(&by_locale.stderr).contains("показано 5 из 5"));
}

#[test]
fn csv_and_json_are_never_translated_coloured_or_zoned() {
    let env = with_names();
    for args in [
        &["bookings", "list", "--csv"][..],
        &["bookings", "list", "--json"],
        &["bookings", "export"],
        &["stats", "streams", "--csv"],
        &["stats", "streams", "--json"],
    ] {
        let plain = env.ok(args);
        let dressed = env.ok(&[
            args,
            &["--lang", "ru", "--color", "always", "--tz", "Asia/Tokyo"],
        ]
        .concat());
        assert_eq!(plain, dressed, "{args:?}");
        // Only the hostile name's own ESC (kept as data); never a colour code.
        assert!(!plain.contains("\x1b[0m") && !plain.contains("\x1b[1m"));
    }
    let csv = env.ok(&["bookings", "list", "--csv", "--tz", "Europe/Moscow"]);
    assert!(csv.contains(",2024-12-01T06:30:00.000000Z,"), "{csv}");
}

#[test]
fn wide_shows_every_name_in_full_and_pipes_never_wrap() {
    let env = with_names();
    let piped = env.ok(&["bookings", "list"]);
    // Five rows, a header and three rules: one line per row, nothing wrapped.
    assert_eq!(piped.lines().count(), 9, "{piped}");
    assert!(piped.contains("Александра Константиновна") || piped.contains('…'));
    for wide in [
        env.ok(&["bookings", "list", "--wide"]),
        text(&run_with(&env, &[("PAYTRACK_WIDE", "true")], &["bookings", "list"]).stdout),
    ] {
        assert_eq!(wide.lines().count(), 9, "{wide}");
        assert!(wide.contains("Александра Константиновна"), "{wide}");
        assert!(
            wide.contains("@alexandra_konstantinovna_the_first"),
            "{wide}"
        );
        assert!(!wide.contains('…'), "{wide}");
        // Hostile names stay visible escapes even in full.
        assert!(wide.contains("\\e[2Jpwned") && !wide.contains("\x1b[2J"));
    }
}

// ---- time -------------------------------------------------------------------

#[test]
fn times_show_in_tz_or_the_tz_flag_and_dates_parse_in_that_zone() {
    let env = with_names();
    let first_row = |out: String| out.lines().nth(3).unwrap_or_default().to_string();
    let args = ["bookings", "list", "--sort", "oldest", "--limit", "1"];
    // Harness: TZ=UTC. Booking 1 was made at 09:30 Moscow time = 06:30 UTC.
    assert!(first_row(env.ok(&args)).contains("2024-12-01 06:30"));
    let by_flag = first_row(env.ok(&[&args[..], &["--tz", "Europe/Moscow"]].concat()));
    assert!(by_flag.contains("2024-12-01 09:30"), "{by_flag}");
    for (var, value) in [("PAYTRACK_TZ", "Europe/Moscow"), ("TZ", "Europe/Moscow")] {
        let out = run_with(&env, &[(var, value)], &args);
        assert!(
            first_row(text(&out.stdout)).contains("2024-12-01 09:30"),
            "{var}"
        );
    }
    // Booking 2: 23:15 UTC on 2 December is already 3 December in Moscow.
    let count = |extra: &[&str]| {
        env.ok(&[&["bookings", "list", "--csv"][..], extra].concat())
            .lines()
            .count()
            - 1
    };
    assert_eq!(count(&["--since", "2024-12-03"]), 3);
    assert_eq!(
        count(&["--since", "2024-12-03", "--tz", "Europe/Moscow"]),
        4
    );
    assert_eq!(
        count(&[
            "--since",
            "2024-12-02T23:00:00Z",
            "--until",
            "2024-12-03T00:00:00Z"
        ]),
        1
    );
    // The harness clock is 2024-12-10T12:00:00Z.
    assert_eq!(count(&["--since", "7d"]), 3);
    assert_eq!(count(&["--since", "240h"]), 5);
    assert_eq!(count(&["--since", "today"]), 0);
    assert_eq!(count(&["--until", "yesterday"]), 5);
    env.fails(
        &["bookings", "list", "--tz", "Mars/Olympus"],
        code::BAD_INPUT,
    );
    env.fails(
        &["bookings", "list", "--since", "2024-02-30"],
        code::BAD_INPUT,
    );
}

// ---- completions and the manual --------------------------------------------

#[test]
fn completions_for_every_shell_and_the_manual_page() {
    let env = Env::empty();
    for (shell, marker) in [
        ("bash", "complete -F _paytrack"),
        ("zsh", "#compdef paytrack"),
        ("fish", "complete -c paytrack"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = env.ok(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        assert!(
            script.contains("set-status"),
            "{shell}: subcommands missing"
        );
    }
    let page = env.ok(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH paytrack"),
        "{page}"
    );
    assert!(page.contains("PAYTRACK_DB"));
    // One page per command, so every option is in the manual.
    assert!(
        page.contains(".TH paytrack-bookings-set-status"),
        "subcommand pages"
    );
    assert!(page.contains("ids\\-from"), "subcommand options");
    // bash can load the script it is given (the README's install line).
    if Path::new("/bin/bash").exists() {
        let script = env.write("paytrack.bash", env.ok(&["completions", "bash"]));
        let status = Command::new("/bin/bash")
            .args(["-c", &format!("source {script} && complete -p paytrack")])
            .output()
            .unwrap();
        assert!(status.status.success(), "{}", text(&status.stderr));
    }
}

// ---- pipes and signals ------------------------------------------------------

/// Reads one line of a command's stdout, closes the pipe, and returns how it ended.
fn read_one_line_then_close(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let mut child = env.spawn(args);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "{args:?} printed nothing");
    drop(reader);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stderr))
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_0() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`
    }
    let env = Env::with_demo();
    for args in [
        &["bookings", "export"][..],
        &["bookings", "export", "--format", "jsonl"],
        &["bookings", "list", "--all"],
        &["bookings", "list", "--all", "--csv"],
    ] {
        let (code, stderr) = read_one_line_then_close(&env, args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
}

/// Waits until a writer is well into its transaction: its WAL has grown.
fn wait_for_wal(env: &Env, child: &mut std::process::Child, bytes: u64) {
    let wal = env.db.with_extension("db-wal");
    let start = Instant::now();
    loop {
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() >= bytes) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("paytrack ended ({status}) before it could be interrupted");
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no write began");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends Ctrl-C's signal to a running child and waits for it to end.
fn interrupt(child: std::process::Child) -> Output {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory-safety preconditions; pid is our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    child.wait_with_output().unwrap()
}

#[test]
fn ctrl_c_during_the_generator_leaves_the_database_as_it_was() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`, and waits on the WAL file
    }
    let env = Env::new();
    let before = env.snapshot();
    let mut child = env.spawn(&["demo", "--bookings", "2000000"]);
    wait_for_wal(&env, &mut child, 1_000_000);
    let out = interrupt(child);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert_eq!(env.count("SELECT count(*) FROM bookings"), 0);
    assert_eq!(env.snapshot(), before);
}

#[test]
fn ctrl_c_during_an_import_leaves_the_database_as_it_was() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: waits on the WAL file
    }
    let env = Env::with_sample();
    let before = env.snapshot();
    let mut csv = String::from("id,user_id,course_id,confirmed,created_at,first_name\n");
    for id in 1..=200_000 {
        csv += &format!(
            "{id},{},1,2,2024-12-01 10:00:00+03,Имя номер {id}\n",
            5000 + id
        );
    }
    let file = env.write("big.csv", csv);
    let mut child = env.spawn(&["bookings", "import", &file]);
    wait_for_wal(&env, &mut child, 1_000_000);
    let out = interrupt(child);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(env.count("SELECT count(*) FROM bookings"), 400);
    assert_eq!(env.snapshot(), before);
}

// ---- a real terminal --------------------------------------------------------

/// Another program with exactly the environment the harness gives paytrack.
fn with_harness_env(env: &Env, program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    for (key, value) in env.std_cmd().get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    cmd
}

/// Runs a shell command line in a pseudo-terminal (util-linux `script`), with
/// the harness environment plus `vars`; returns the terminal's transcript.
/// Its tests are ignored where `script` is not installed (`have_script`, build.rs).
pub(crate) fn in_terminal(env: &Env, line: &str, vars: &[(&str, &str)]) -> String {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("util-linux `script` is installed (the test is ignored without it)");
    let mut cmd = with_harness_env(env, script);
    cmd.envs(vars.iter().copied())
        .env("SHELL", "/bin/sh")
        .current_dir(env.dir.path())
        .args(["-qec", line, "/dev/null"])
        .stdin(Stdio::null());
    let out = cmd.output().expect("script runs");
    assert!(out.status.success(), "{line}: {}", text(&out.stderr));
    text(&out.stdout).replace('\r', "")
}

pub(crate) fn paytrack() -> String {
    assert_cmd::cargo::cargo_bin("paytrack")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
#[cfg_attr(
    not(have_script),
    ignore = "needs util-linux `script` for a terminal (apt-get install -y bsdutils; bash .ci/run installs it)"
)]
fn colour_appears_on_a_terminal_and_never_in_a_pipe() {
    let env = with_names();
    let list = format!("{} bookings list", paytrack());
    let tty = in_terminal(&env, &list, &[]);
    assert!(tty.contains(ESC), "no colour on a terminal:\n{tty}");
    assert!(!env.ok(&["bookings", "list"]).contains(ESC));
    for vars in [&[("NO_COLOR", "1")][..], &[("TERM", "dumb")]] {
        let plain = in_terminal(&env, &list, vars);
        assert!(!plain.contains(ESC), "{vars:?}:\n{plain}");
    }
    let never = in_terminal(&env, &format!("{list} --color never"), &[]);
    assert!(!never.contains(ESC));
    let forced = run_with(&env, &[("CLICOLOR_FORCE", "1")], &["bookings", "list"]);
    assert!(text(&forced.stdout).contains(ESC));

    // stderr's colour follows stderr's own terminal, not stdout's.
    let stderr_only = in_terminal(&env, &format!("{list} > table.txt"), &[]);
    assert!(
        stderr_only.contains(&format!("{ESC}2mpaytrack:")),
        "{stderr_only}"
    );
    let table = std::fs::read_to_string(env.path("table.txt")).unwrap();
    assert!(!table.contains(ESC) && table.contains("Александра"));
    let stdout_only = in_terminal(&env, &format!("{list} 2> talk.txt"), &[]);
    assert!(stdout_only.contains(ESC));
    let talk = std::fs::read_to_string(env.path("talk.txt")).unwrap();
    assert!(
        talk.contains("shown 5 of 5") && !talk.contains(ESC),
        "{talk}"
    );
}

#[test]
#[cfg_attr(
    not(have_script),
    ignore = "needs util-linux `script` for a terminal (apt-get install -y bsdutils; bash .ci/run installs it)"
)]
fn on_a_terminal_tables_fit_its_width_one_line_per_row() {
    let env = with_names();
    let line = format!("{} bookings list --color never", paytrack());
    let natural = in_terminal(&env, &line, &[]);
    let widest = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with(['│', '┌', '╞', '└']))
            .map(|l| l.chars().count())
            .max()
            .unwrap()
    };
    assert!(widest(&natural) > 100, "{natural}");
    let fitted = in_terminal(&env, &line, &[("COLUMNS", "100")]);
    assert!(widest(&fitted) <= 100, "{fitted}");
    assert!(fitted.contains('…'), "{fitted}");
    // Still one line per booking; ids, times and statuses intact.
    assert_eq!(fitted.lines().filter(|l| l.starts_with('│')).count(), 6);
    assert!(fitted.contains("2024-12-04 08:00") && fitted.contains("Cancelled"));
    let wide = in_terminal(&env, &format!("{line} --wide"), &[("COLUMNS", "100")]);
    assert!(wide.contains("Александра Константиновна"), "{wide}");
}

#[test]
#[cfg_attr(
    not(have_script),
    ignore = "needs util-linux `script` for a terminal (apt-get install -y bsdutils; bash .ci/run installs it)"
)]
fn progress_shows_on_a_terminal_stderr_and_never_on_stdout_or_in_a_pipe() {
    let env = Env::new();
    let mut csv = String::from("id,user_id,course_id,confirmed,created_at,first_name\n");
    for id in 1..=20_000 {
        csv += &format!(
            "{id},{},1,1,2024-12-01 10:00:00+03,Имя номер {id}\n",
            9000 + id
        );
    }
    assert!(csv.len() > 1_000_000);
    let file = env.write("big.csv", &csv);
    let bin = paytrack();
    let tty = in_terminal(
        &env,
        &format!("{bin} bookings import {file} > out.txt"),
        &[],
    );
    assert!(tty.contains("importing bookings"), "no progress:\n{tty}");
    assert_eq!(std::fs::read_to_string(env.path("out.txt")).unwrap(), "");

    let export = format!("{bin} bookings export -o all.csv > out.txt");
    let tty = in_terminal(&env, &export, &[]);
    assert!(tty.contains("exporting bookings"), "no progress:\n{tty}");
    assert_eq!(std::fs::read_to_string(env.path("out.txt")).unwrap(), "");
    let exported = std::fs::read_to_string(env.path("all.csv")).unwrap();
    assert_eq!(exported.lines().count(), 20_001);
    assert!(!env.path("all.csv.partial").exists());

    let demo_db = env.path("demo.db");
    let demo = format!("{bin} --db {} demo > out.txt", demo_db.display());
    let tty = in_terminal(&env, &demo, &[("PAYTRACK_LANG", "ru")]);
    assert!(tty.contains("создание бронирований"), "no progress:\n{tty}");
    assert_eq!(std::fs::read_to_string(env.path("out.txt")).unwrap(), "");

    // The same work in pipes: no bar anywhere.
    let fresh = Env::new();
    let file = fresh.write("big.csv", &csv);
    let out = fresh.run(&["bookings", "import", &file]);
    let out2 = fresh.run(&[
        "bookings",
        "export",
        "-o",
        fresh.path("x.csv").to_str().unwrap(),
    ]);
    for out in [out, out2] {
        assert_eq!(out.status.code(), Some(0));
        let all = text(&out.stdout) + &text(&out.stderr);
        assert!(!all.contains("bookings [") && !all.contains(ESC), "{all}");
    }
}

#[test]
#[cfg_attr(
    not(have_script),
    ignore = "needs util-linux `script` for a terminal (apt-get install -y bsdutils; bash .ci/run installs it)"
)]
fn a_small_import_shows_no_bar_even_on_a_terminal() {
    // A smaller file than the bar's threshold never shows one, even on a terminal.
    let env = Env::new();
    let sample = fixture("legacy-bookings.csv");
    let line = format!("{} bookings import {}", paytrack(), sample.display());
    let tty = in_terminal(&env, &line, &[]);
    assert!(!tty.contains("importing bookings"), "{tty}");
    assert!(tty.contains("imported 400 rows"));
}

// ---- the cron scripts in examples/cron --------------------------------------

/// Runs one of examples/cron/*.sh with this env's database and binary.
fn cron_script(env: &Env, name: &str, vars: &[(&str, &str)]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/cron")
        .join(name);
    let mut cmd = with_harness_env(env, "bash");
    cmd.env("PAYTRACK", paytrack())
        .env("LOCK_DIR", env.dir.path())
        .env("OUT_DIR", env.path("reports"))
        .envs(vars.iter().copied())
        .arg(script)
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(
    not(have_flock),
    ignore = "needs bash and flock for the cron scripts (apt-get install -y util-linux; bash .ci/run installs it)"
)]
fn the_cron_scripts_work_as_documented() {
    let env = Env::with_sample();
    let pending = "SELECT count(*) FROM bookings WHERE confirmed = 1";
    assert_eq!(env.count(pending), 119);

    // The first night after the import: ages count from the import (issue 25).
    let reminders = "SELECT count(*) FROM outbox WHERE kind = 'reminder'";
    let night = [("PAYTRACK_NOW", "2024-12-11T03:00:00Z")];
    let out = cron_script(&env, "payment-reminders.sh", &night);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = cron_script(&env, "cancel-stale-bookings.sh", &night);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!((env.count(reminders), env.count(pending)), (0, 119));

    // Three days on: one reminder per pending booking, and not again within --every.
    let later = [("PAYTRACK_NOW", "2024-12-13T10:00:00Z")];
    for _ in 0..2 {
        let out = cron_script(&env, "payment-reminders.sh", &later);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).is_empty(), "cron output goes to stderr");
        assert_eq!(env.count(reminders), 119);
    }

    // A week on: 119 stale bookings are more than MAX_CANCEL (50): none is cancelled.
    let week = ("PAYTRACK_NOW", "2024-12-18T03:15:00Z");
    let out = cron_script(&env, "cancel-stale-bookings.sh", &[week]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("119"), "{}", text(&out.stderr));
    assert_eq!(env.count(pending), 119);
    let out = cron_script(
        &env,
        "cancel-stale-bookings.sh",
        &[week, ("MAX_CANCEL", "200")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.count(pending), 0);
    assert!(text(&out.stdout).is_empty(), "cron output goes to stderr");

    let out = cron_script(&env, "nightly-stats.sh", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = env.path("reports").join(format!(
        "stats-{}.csv",
        chrono::Utc::now().format("%Y-%m-%d")
    ));
    let report = std::fs::read_to_string(report).unwrap();
    assert!(report.starts_with("course_id,course_name,course_stream"));

    let out = cron_script(&env, "audit-verify-alert.sh", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("hash chain intact"));

    // A database that is not there: the failure is logged and passed on.
    let missing = env.path("missing.db");
    let out = cron_script(
        &env,
        "nightly-stats.sh",
        &[("PAYTRACK_DB", missing.to_str().unwrap())],
    );
    assert_eq!(
        out.status.code(),
        Some(code::DATABASE),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("exit code 8"));
}

#[test]
fn json_escapes_bidi_and_c1_controls_and_reads_back_exactly() {
    let env = Env::new();
    let hostile = "\u{202e}evil\u{9b}2J\u{200b}";
    let file = env.write(
        "hostile.csv",
        format!(
            "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at,referral_code,discount_percent\n\
             1,1,bidi,{hostile},1,,1,2024-12-01 09:30:00+03,,\n"
        ),
    );
    env.ok(&["bookings", "import", &file]);
    for args in [
        &["bookings", "list", "--json"][..],
        &["bookings", "list", "--format", "jsonl"],
        &["bookings", "export", "--format", "jsonl"],
        &["bookings", "show", "1", "--json"],
    ] {
        let out = env.ok(args);
        for c in ['\u{202e}', '\u{9b}', '\u{200b}', '\u{1b}'] {
            assert!(!out.contains(c), "{args:?}: raw {c:?} in {out}");
        }
        assert!(out.contains("\\u202e"), "{args:?}: {out}");
        let first = out.lines().next().unwrap();
        let value: serde_json::Value = if first == "[" || first == "{" {
            serde_json::from_str(&out).unwrap()
        } else {
            serde_json::from_str(first).unwrap()
        };
        assert!(value.to_string().contains("evil"), "{args:?}");
        let name = match &value {
            serde_json::Value::Array(rows) => rows[0]["first_name"].clone(),
            row if row["first_name"].is_string() => row["first_name"].clone(),
            row => row["booking"]["first_name"].clone(),
        };
        assert_eq!(name, hostile, "{args:?}: {value}");
    }
}

#[test]
#[cfg_attr(
    not(have_script),
    ignore = "needs util-linux `script` for a terminal (apt-get install -y bsdutils; bash .ci/run installs it)"
)]
fn csv_on_a_terminal_shows_control_characters_as_escapes() {
    let env = with_names();
    let line = format!("{} bookings list --csv", paytrack());
    let tty = in_terminal(&env, &line, &[]);
    assert!(!tty.contains('\u{1b}'), "{tty:?}");
    assert!(tty.contains("\\e[2Jpwned"), "{tty}");
    // Piped, the CSV is the data as stored (formula protection aside).
    let piped = env.ok(&["bookings", "list", "--csv"]);
    assert!(piped.contains("\u{1b}[2Jpwned"));
}

#[test]
#[cfg_attr(
    not(have_script),
    ignore = "needs util-linux `script` for a terminal (apt-get install -y bsdutils; bash .ci/run installs it)"
)]
fn piped_tables_keep_whole_names_and_terminals_drop_empty_columns() {
    let env = with_names();
    // Piped: nothing is cut, however long.
    let piped = env.ok(&[
        "bookings",
        "list",
        "--user",
        "@alexandra_konstantinovna_the_first",
    ]);
    assert!(
        piped.contains("Александра Константиновна")
            && piped.contains("@alexandra_konstantinovna_the_first"),
        "{piped}"
    );
    assert!(!piped.contains('…'), "{piped}");
    // On a terminal, a page without referral codes or discounts shows neither
    // column, and the room goes to the names.
    let line = format!("{} bookings list --user 1002 --color never", paytrack());
    let tty = in_terminal(&env, &line, &[("COLUMNS", "100")]);
    assert!(
        !tty.contains("Referral") && !tty.contains("Discount"),
        "{tty}"
    );
    assert!(tty.contains("李雷") && tty.contains("8th_stream"), "{tty}");
    // With a value in them, they are back.
    let tty = in_terminal(
        &env,
        &format!("{} bookings list --color never", paytrack()),
        &[("COLUMNS", "160")],
    );
    assert!(
        tty.contains("Referral") && tty.contains("FRIEND10"),
        "{tty}"
    );
}

/// JSON reaches stdout only through `output::json`, which escapes bidi and C1
/// characters that serde_json leaves raw (a stranger's name could otherwise
/// reorder or drive the admin's terminal when a script prints the JSON).
#[test]
fn every_command_writes_json_through_the_escaping_writer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    // Subfolders too (services/providers/, issue 29).
    let mut files = Vec::new();
    let mut folders = vec![
        dir.join("commands"),
        dir.join("services"),
        dir.join("server"),
    ];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    {
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.contains("serde_json::to_writer") {
                    offenders.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "raw serde_json writers: {offenders:#?}"
    );
}
