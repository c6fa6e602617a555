//! Issue 16: the one output pipeline. Every listing command, in every
//! format, is fed text a stranger could type (terminal escapes, OSC, BEL,
//! CR, C1, bidi override, zero-width, formula starters) and must show it
//! harmlessly: no raw control or bidi character in a table or in JSON (on a
//! pipe and on a terminal), no CSV cell that a spreadsheet runs as a formula
//! unless `--raw` asks for the text as stored, and JSON that still carries
//! the exact stored text. Then the two main tables at 80, 100 and 160
//! terminal columns in both languages.

use crate::harness::{code, csv_rows, Env};
use crate::native::{in_terminal, paytrack, with_names};
use paytrack::text::display_width;

/// Stored text that would retitle and clear a terminal, move the cursor
/// home, reverse the line, hide characters and (through `start`) run as a
/// spreadsheet formula.
fn hostile(start: &str) -> String {
    format!("{start}Evil\x1b]0;pwned\x07\x1b[2J\rX\u{202e}Y\u{200b}Z\u{9b}31m")
}

/// What must never reach a terminal raw: controls (newline aside), bidi
/// controls, zero-width characters.
fn is_dangerous(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// A database where every text column a listing shows holds hostile text:
/// names, username, stream code and name, referral, course name, payment
/// provider, id and description, a status-change reason (and the message
/// it queued), and an audit action written by another program.
fn hostile_env() -> Env {
    let env = Env::new();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "user_id",
        "username",
        "first_name",
        "course_id",
        "course_stream",
        "confirmed",
        "created_at",
        "referral_code",
        "discount_percent",
    ])
    .unwrap();
    w.write_record([
        "1",
        "42",
        &hostile("=cmd"),
        &hostile("+1"),
        "1",
        &hostile("@x"),
        "1",
        "2024-12-01 10:00:00+03",
        &hostile("-2"),
        "10",
    ])
    .unwrap();
    w.write_record([
        "2",
        "43",
        "plain",
        "Ольга",
        "1",
        "s1",
        "1",
        "2024-12-02 10:00:00+03",
        "",
        "",
    ])
    .unwrap();
    let file = env.write("hostile.csv", w.into_inner().unwrap());
    env.ok(&["bookings", "import", &file]);
    env.ok(&["courses", "edit", "1", "--name", &hostile("=name")]);
    env.ok(&[
        "streams",
        "edit",
        "--course",
        "1",
        &hostile("@x"),
        "--name",
        &hostile("+stream"),
    ]);
    env.ok(&[
        "bookings",
        "set-status",
        "1",
        "confirmed",
        "--reason",
        &hostile("=reason"),
    ]);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "external_id",
        "provider",
        "booking_id",
        "amount",
        "currency",
        "description",
    ])
    .unwrap();
    w.write_record([
        &hostile("@pay"),
        "bank",
        "2",
        "100.00",
        "RUB",
        &hostile("=desc"),
    ])
    .unwrap();
    let payments = env.write("payments.csv", w.into_inner().unwrap());
    let imported = env.run(&["payments", "import", &payments]);
    assert!(
        matches!(imported.status.code(), Some(code::OK | code::ATTENTION)),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    // The next id given by hand: PostgreSQL's audit_log has no default for it.
    // Out of band: the guard that a new entry extends the chain is off.
    env.unguard_audit_log();
    env.exec(&format!(
        "INSERT INTO audit_log (id, at, actor, action, details, prev_hash, hash)
         SELECT COALESCE(MAX(id), 0) + 1, '2024-12-10T12:00:00Z', '{}', '{}', '{{}}', '', ''
           FROM audit_log",
        hostile("@actor").replace('\'', "''"),
        hostile("=action").replace('\'', "''"),
    ));
    env
}

/// Every listing command, as `(arguments, shows stored text, has CSV cells
/// that start with stored text)`.
fn listings() -> Vec<(Vec<String>, bool, bool)> {
    let stream = hostile("@x");
    let words = |w: &[&str]| w.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    vec![
        (words(&["bookings", "list", "--all"]), true, true),
        (words(&["bookings", "show", "1"]), true, true),
        (words(&["payments", "list", "--all"]), true, true),
        (words(&["payments", "providers"]), false, false),
        // Message bodies start with the greeting: text inside, never first.
        (
            words(&["outbox", "list", "--all", "--full-body"]),
            true,
            false,
        ),
        (words(&["audit", "tail", "-n", "100"]), true, true),
        (words(&["stats", "streams"]), true, true),
        (words(&["stats", "daily"]), false, false),
        (words(&["streams", "list"]), true, true),
        (
            words(&["streams", "members", &stream, "--course", "1"]),
            true,
            true,
        ),
        (words(&["courses", "list"]), true, true),
        (words(&["users", "show", "42"]), true, true),
    ]
}

/// Every output format, as `(name, extra arguments)`.
const FORMATS: &[(&str, &[&str])] = &[
    ("table", &[]),
    ("wide", &["--wide"]),
    ("csv", &["--csv"]),
    ("raw", &["--csv", "--raw"]),
    ("json", &["--json"]),
    ("jsonl", &["--format", "jsonl"]),
];

/// Every string value in a JSON document.
fn strings(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => into.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, into)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, into)),
        _ => {}
    }
}

fn starts_a_formula(cell: &str) -> bool {
    matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

#[test]
fn every_listing_in_every_format_shows_hostile_text_harmlessly() {
    let env = hostile_env();
    for (command, shows_text, formula_cells) in listings() {
        for (format, extra) in FORMATS {
            let args: Vec<&str> = command
                .iter()
                .map(String::as_str)
                .chain(extra.iter().copied())
                .collect();
            let what = format!("{} ({format})", command[..2].join(" "));
            if command[0] == "users" && matches!(*format, "csv" | "raw") {
                // One person's story has several sections: no single CSV.
                env.fails(&args, code::BAD_INPUT);
                continue;
            }
            let run = env.run(&args);
            let stdout = String::from_utf8(run.stdout).expect("UTF-8");
            let stderr = String::from_utf8_lossy(&run.stderr);
            assert_eq!(run.status.code(), Some(code::OK), "{what}: {stderr}");
            // stderr is talk for a person: always sanitised.
            assert!(!stderr.chars().any(is_dangerous), "{what}: {stderr:?}");
            if shows_text {
                assert!(
                    stdout.contains("Evil"),
                    "{what}: no stored text in\n{stdout}"
                );
            }
            match *format {
                "table" | "wide" => {
                    assert!(!stdout.chars().any(is_dangerous), "{what}: {stdout:?}");
                    if shows_text {
                        assert!(stdout.contains("\\e]0;pwned"), "{what}:\n{stdout}");
                    }
                }
                "json" | "jsonl" => {
                    assert!(!stdout.chars().any(is_dangerous), "{what}: {stdout:?}");
                    let documents: Vec<serde_json::Value> = if *format == "json" {
                        vec![serde_json::from_str(&stdout).expect("one JSON document")]
                    } else {
                        stdout
                            .lines()
                            .map(|l| serde_json::from_str(l).expect("a JSON line"))
                            .collect()
                    };
                    if *format == "json" && !command.contains(&"show".to_string()) {
                        // `--json` is one array everywhere.
                        assert!(documents[0].is_array(), "{what}: {stdout}");
                    }
                    let mut found = Vec::new();
                    for document in &documents {
                        strings(document, &mut found);
                    }
                    if shows_text {
                        // Escaped for the terminal, yet the exact text for a parser.
                        assert!(
                            found
                                .iter()
                                .any(|s| s.contains("Evil\x1b]0;pwned\x07\x1b[2J\rX\u{202e}")),
                            "{what}: the stored text did not survive: {found:?}"
                        );
                    }
                }
                "csv" | "raw" => {
                    let rows = csv_rows(&stdout);
                    let cells = || rows.iter().skip(1).flatten();
                    if *format == "csv" {
                        let formulas: Vec<_> = cells().filter(|c| starts_a_formula(c)).collect();
                        assert!(formulas.is_empty(), "{what}: formula cells {formulas:?}");
                    } else if formula_cells {
                        // --raw gives the text as stored: the protection above is real.
                        assert!(cells().any(|c| starts_a_formula(c)), "{what}: {stdout}");
                    }
                }
                _ => unreachable!(),
            }
        }
    }
}

#[test]
#[cfg_attr(
    not(have_script),
    ignore = "needs util-linux `script` for a terminal (apt-get install -y bsdutils; bash .ci/run installs it)"
)]
fn on_a_terminal_tables_and_csv_show_no_raw_control_character() {
    let env = hostile_env();
    let mut line = String::new();
    for (command, _, _) in listings() {
        for extra in [&[][..], &["--csv"], &["--wide"]] {
            let words: Vec<String> = command
                .iter()
                .map(String::as_str)
                .chain(extra.iter().copied())
                .map(|w| format!("'{w}'"))
                .collect();
            line += &format!("{} --color never {} || true; ", paytrack(), words.join(" "));
        }
    }
    let transcript = in_terminal(&env, &line, &[("COLUMNS", "100")]);
    assert!(transcript.contains("\\e]0;pwned"), "{transcript}");
    let raw: Vec<(usize, char)> = transcript
        .char_indices()
        .filter(|(_, c)| is_dangerous(*c))
        .take(5)
        .collect();
    assert!(raw.is_empty(), "raw characters {raw:?} in\n{transcript}");
}

/// The bookings and stats tables as a terminal of `columns` shows them.
fn tables_at(env: &Env, lang: &str, columns: usize) -> String {
    let line = format!(
        "{p} --color never --lang {lang} bookings list; {p} --color never --lang {lang} stats streams",
        p = paytrack()
    );
    in_terminal(env, &line, &[("COLUMNS", &columns.to_string())])
}

#[test]
#[cfg_attr(
    not(have_script),
    ignore = "needs util-linux `script` for a terminal (apt-get install -y bsdutils; bash .ci/run installs it)"
)]
fn bookings_and_stats_tables_fit_80_100_and_160_columns_in_both_languages() {
    let env = with_names();
    for lang in ["en", "ru"] {
        for columns in [80, 100, 160] {
            let tables = tables_at(&env, lang, columns);
            for line in tables.lines() {
                assert!(
                    display_width(line) <= columns,
                    "{lang} at {columns}: {line:?} is {} wide",
                    display_width(line)
                );
            }
            // Statuses and ids are never cut; the hostile name stays escaped.
            assert!(!tables.contains('\x1b'), "{tables}");
            insta::assert_snapshot!(format!("tables_{lang}_{columns}"), tables);
        }
    }
}
