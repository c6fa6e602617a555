//! Issue 13: bookings that live in paytrack — demo kept apart from real data,
//! bookings added and edited, operations undone, the story of one user.

use crate::harness::{code, Env, AUDIT_REVEALED};

#[test]
fn demo_refuses_a_database_with_real_bookings() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`
    }
    let env = Env::with_sample();
    let before = env.snapshot();
    let err = env.fails(&["demo", "--bookings", "50"], code::BAD_INPUT);
    assert!(
        err.contains("holds 400 bookings, not all made by demo") && err.contains("--db demo.db"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before, "nothing written");
}

#[test]
fn demo_leaves_a_demo_database_alone_but_refuses_one_written_by_another_program() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`
    }
    let env = Env::empty();
    env.ok(&["demo", "--bookings", "60"]);
    let before = env.snapshot();
    env.ok(&["demo", "--bookings", "60"]);
    assert_eq!(env.snapshot(), before, "a demo database is left as it is");
    // A booking written by another program is real data, audited or not.
    env.sql()
        .execute(
            "INSERT INTO bookings (id, user_id, course_id, created_at, updated_at)
             VALUES (1000, 42, 1, '2024-12-01T00:00:00.000000Z', '2024-12-01T00:00:00.000000Z')",
            [],
        )
        .unwrap();
    let err = env.fails(&["demo", "--bookings", "60"], code::BAD_INPUT);
    assert!(
        err.contains("holds 61 bookings, not all made by demo"),
        "{err}"
    );
}

/// A database with a catalogue: course 1 with streams 8th_stream (2 seats) and 9th_stream.
fn catalogue() -> Env {
    let env = Env::new();
    env.ok(&["courses", "add", "1", "--name", "Вайб кодинг"]);
    env.ok(&[
        "streams",
        "add",
        "8th_stream",
        "--course",
        "1",
        "--capacity",
        "2",
        "--price",
        "30000",
        "--currency",
        "RUB",
    ]);
    env.ok(&["streams", "add", "9th_stream", "--course", "1"]);
    env
}

fn add(env: &Env, extra: &[&str]) -> i64 {
    let mut args = vec!["bookings", "add"];
    args.extend_from_slice(extra);
    env.ok(&args).trim().parse().expect("the new id on stdout")
}

#[test]
fn add_prints_the_new_id_and_a_key_makes_a_retry_harmless() {
    let env = catalogue();
    let args = [
        "--user-id",
        "123",
        "--username",
        "@olga",
        "--first-name",
        "Ольга",
        "--course",
        "1",
        "--stream",
        "8th_stream",
        "--key",
        "tg-8812",
    ];
    let id = add(&env, &args);
    assert_eq!(id, 1);
    let before = env.snapshot();
    let out = env.run(&[&["bookings", "add"][..], &args, &["--json"]].concat());
    assert_eq!(out.status.code(), Some(code::OK));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["id"].as_i64(), json["created"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(json["username"], "olga");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("undo with"));
    assert_eq!(env.snapshot(), before, "the same key again writes nothing");
    assert_eq!(env.count("SELECT COUNT(*) FROM bookings"), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log WHERE action = 'booking.added'"),
        1
    );

    // The same key for another student is a caller's bug, not a retry.
    let err = env.fails(
        &[
            "bookings",
            "add",
            "--user-id",
            "999",
            "--course",
            "1",
            "--key",
            "tg-8812",
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("key tg-8812 was used for booking 1"), "{err}");
    env.ok(&["stats", "verify"]);
    assert!(env
        .ok(&["stats", "streams", "--csv"])
        .contains("8th_stream"));
}

/// `--json` means output on every command (issue 27): `bookings add` reads
/// JSON Lines with `--input FILE`, and the old `--json FILE` still works,
/// with one deprecation line on stderr naming the new spelling.
#[test]
fn add_reads_json_lines_with_input_and_the_old_json_file_spelling_still_works() {
    let env = catalogue();
    let line =
        |id: u32| format!("{{\"user_id\": {id}, \"course\": 1, \"stream\": \"9th_stream\"}}\n");
    let new = env
        .cmd()
        .args(["bookings", "add", "--input", "-"])
        .write_stdin(line(501))
        .output()
        .unwrap();
    assert!(new.status.success(), "{new:?}");
    let new_err = String::from_utf8_lossy(&new.stderr);
    assert!(!new_err.contains("deprecated"), "{new_err}");
    let printed: serde_json::Value = serde_json::from_slice(&new.stdout).expect("one JSON line");
    assert_eq!(printed["user_id"], 501);

    let old = env
        .cmd()
        .args(["bookings", "add", "--json", "-"])
        .write_stdin(line(502))
        .output()
        .unwrap();
    assert!(old.status.success(), "{old:?}");
    let old_err = String::from_utf8_lossy(&old.stderr);
    assert!(
        old_err.contains("`--json -` is deprecated: use `--input -`"),
        "{old_err}"
    );
    let printed: serde_json::Value = serde_json::from_slice(&old.stdout).expect("one JSON line");
    assert_eq!(printed["user_id"], 502);

    // `--json` alone is output, as everywhere else: one booking from flags.
    let out = env.ok(&[
        "bookings",
        "add",
        "--user-id",
        "503",
        "--course",
        "1",
        "--stream",
        "9th_stream",
        "--json",
    ]);
    let printed: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(printed["user_id"], 503);
    // Both spellings of the input at once are refused before anything is read.
    env.fails(
        &["bookings", "add", "--json", "-", "--input", "-"],
        code::USAGE,
    );
}

#[test]
fn add_json_lines_is_one_transaction_and_names_a_bad_line() {
    let env = catalogue();
    let before = env.snapshot();
    let lines = concat!(
        r#"{"user_id": 1, "username": "a", "course": 1, "stream": "9th_stream", "key": "k1"}"#,
        "\n",
        r#"{"user_id": 2, "first_name": "Zoë 🌸", "course": 1, "stream": "9th_stream", "status": "confirmed"}"#,
        "\n",
        r#"{"user_id": 3, "course": 1, "stream": "9th_stream", "discont": 10}"#,
        "\n",
    );
    let out = env
        .cmd()
        .args(["bookings", "add", "--input", "-"])
        .write_stdin(lines)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(code::BAD_INPUT));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-: line 3") && err.contains("discont") && err.contains("nothing was added"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before);

    // A line naming a stream the catalogue lacks: exit 4, the line named, nothing added.
    let bad_stream = lines
        .replace(r#""discont": 10"#, r#""discount": 10"#)
        .replace(
            r#""user_id": 2, "first_name": "Zoë 🌸", "course": 1, "stream": "9th_stream""#,
            r#""user_id": 2, "course": 1, "stream": "9th_strem""#,
        );
    let out = env
        .cmd()
        .args(["bookings", "add", "--input", "-"])
        .write_stdin(bad_stream)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(code::NOT_FOUND));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("closest: 9th_stream"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before);

    let good = lines.replace(r#""discont": 10"#, r#""discount": 10"#);
    let out = env
        .cmd()
        .args(["bookings", "add", "--input", "-"])
        .write_stdin(good.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(code::OK));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["status"], "confirmed");
    // Born confirmed is a confirmation like any other: audited, message queued.
    let confirmed_id = rows[1]["id"].as_i64().unwrap();
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE booking_id = {confirmed_id} AND status = 'pending'"
        )),
        1
    );
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE booking_id = {confirmed_id}
               AND action = 'booking.status_changed' AND new_value = 'confirmed'"
        )),
        1
    );
    assert_eq!(rows[2]["discount_percent"], 10);
    let ops = env
        .count("SELECT COUNT(DISTINCT operation_id) FROM audit_log WHERE action = 'booking.added'");
    assert_eq!(ops, 1, "one command, one operation");
    env.ok(&["stats", "verify"]);
    // Retried by the bot after a time-out: the keyed line is not added twice.
    let retry = env
        .cmd()
        .args(["bookings", "add", "--input", "-"])
        .write_stdin(good.lines().next().unwrap().to_string())
        .output()
        .unwrap();
    assert_eq!(retry.status.code(), Some(code::OK));
    assert_eq!(env.count("SELECT COUNT(*) FROM bookings"), 3);
}

#[test]
fn add_checks_the_catalogue_and_the_seats() {
    let env = catalogue();
    let err = env.fails(
        &[
            "bookings",
            "add",
            "--user-id",
            "5",
            "--course",
            "1",
            "--stream",
            "8th_strem",
        ],
        code::NOT_FOUND,
    );
    assert!(
        err.contains("closest: 8th_stream") && err.contains("--create-stream"),
        "{err}"
    );
    let err = env.fails(
        &["bookings", "add", "--user-id", "5", "--course", "2"],
        code::NOT_FOUND,
    );
    assert!(
        err.contains("course 2 is not in the catalogue (closest: 1"),
        "{err}"
    );
    let id = add(
        &env,
        &[
            "--user-id",
            "5",
            "--course",
            "1",
            "--stream",
            "10th_stream",
            "--create-stream",
        ],
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM streams WHERE code = '10th_stream'"),
        1
    );
    assert_eq!(id, 1);

    // Two seats, both taken by confirmed students (told by nobody: --no-notify): the stream is full.
    add(
        &env,
        &[
            "--user-id",
            "6",
            "--course",
            "1",
            "--stream",
            "8th_stream",
            "--status",
            "confirmed",
            "--no-notify",
        ],
    );
    add(
        &env,
        &[
            "--user-id",
            "7",
            "--course",
            "1",
            "--stream",
            "8th_stream",
            "--status",
            "confirmed",
            "--no-notify",
        ],
    );
    let before = env.snapshot();
    let err = env.fails(
        &[
            "bookings",
            "add",
            "--user-id",
            "8",
            "--course",
            "1",
            "--stream",
            "8th_stream",
        ],
        code::REFUSED,
    );
    assert!(
        err.contains("8th_stream is full (2 of 2 seats taken)"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before);
    env.fails(
        &[
            "bookings",
            "add",
            "--user-id",
            "8",
            "--course",
            "1",
            "--stream",
            "8th_stream",
            "--force",
        ],
        code::USAGE,
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM outbox"), 0, "--no-notify");
    let id = add(
        &env,
        &[
            "--user-id",
            "8",
            "--course",
            "1",
            "--stream",
            "8th_stream",
            "--force",
            "--reason",
            "friend of the teacher",
        ],
    );
    let reason = env.query_text(&format!(
        "SELECT reason FROM {AUDIT_REVEALED} WHERE action = 'booking.added' AND booking_id = {id}"
    ));
    assert_eq!(reason.as_deref(), Some("friend of the teacher"));
    env.ok(&["stats", "verify"]);
    env.ok(&["audit", "verify"]);
    // Real bookings now: demo keeps away (`demo` is SQLite's alone).
    if !crate::harness::is_postgres() {
        env.fails(&["demo"], code::BAD_INPUT);
    }
}

fn legacy() -> String {
    crate::harness::fixture("legacy-bookings.csv")
        .to_str()
        .unwrap()
        .to_string()
}

fn stream_of(env: &Env, id: i64) -> Option<String> {
    env.query_text(&format!(
        "SELECT course_stream FROM bookings WHERE id = {id}"
    ))
}

/// A confirmed booking of the sample with a payment, and its stream.
fn paid_booking(env: &Env) -> (i64, String) {
    env.ok(&[
        "booking",
        "set-status",
        "1",
        "confirmed",
        "--payment-ref",
        "pay-1",
        "--amount",
        "27000",
        "--currency",
        "RUB",
    ]);
    (1, stream_of(env, 1).unwrap())
}

#[test]
fn edit_transfers_a_booking_keeping_status_payments_and_history() {
    let env = Env::with_sample();
    let (id, from) = paid_booking(&env);
    assert_eq!(from, "3rd_stream");
    let history = env.count("SELECT COUNT(*) FROM audit_log WHERE booking_id = 1");
    let before_counts = env.ok(&["stats", "streams", "--csv"]);

    // Dry run: before → after shown, nothing written.
    let snapshot = env.snapshot();
    let out = env.run(&[
        "bookings",
        "edit",
        "1",
        "--stream",
        "8th_stream",
        "--discount",
        "15",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(code::OK));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("course_stream 3rd_stream → 8th_stream")
            && stderr.contains("discount_percent 10 → 15"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), snapshot);

    // Someone moved it first: --expect-stream refuses, nothing changes.
    let err = env.fails(
        &[
            "bookings",
            "edit",
            "1",
            "--stream",
            "8th_stream",
            "--expect-stream",
            "4th_stream",
        ],
        code::EXPECTATION,
    );
    assert!(
        err.contains("is in stream '3rd_stream', expected '4th_stream'"),
        "{err}"
    );
    assert_eq!(env.snapshot(), snapshot);

    env.ok(&[
        "bookings",
        "edit",
        "1",
        "--stream",
        "8th_stream",
        "--discount",
        "15",
        "--expect-stream",
        "3rd_stream",
    ]);
    assert_eq!(stream_of(&env, id).as_deref(), Some("8th_stream"));
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 1"), 2);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM payments WHERE booking_id = 1"),
        1
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log WHERE booking_id = 1"),
        history + 1
    );
    let edited = env.query_rows(&format!(
        "SELECT old_value, new_value FROM {AUDIT_REVEALED} WHERE action = 'booking.edited'"
    ));
    assert_eq!(edited.len(), 1, "{edited:?}");
    assert_eq!(
        edited[0][0].as_deref(),
        Some(r#"{"course_stream":"3rd_stream","discount_percent":10}"#)
    );
    assert_eq!(
        edited[0][1].as_deref(),
        Some(r#"{"course_stream":"8th_stream","discount_percent":15}"#)
    );
    env.ok(&["stats", "verify"]);
    assert_ne!(
        env.ok(&["stats", "streams", "--csv"]),
        before_counts,
        "the counters moved"
    );

    // The transfer survives a re-import of the old export: the file has nothing new for it.
    env.ok(&["bookings", "import", &legacy()]);
    assert_eq!(stream_of(&env, id).as_deref(), Some("8th_stream"));
    env.ok(&["stats", "verify"]);
    env.ok(&["audit", "verify"]);
}

#[test]
fn edit_refuses_a_full_stream_and_moves_a_group_all_or_nothing() {
    let env = Env::with_sample();
    let confirmed_in_8th = env.count(
        "SELECT COUNT(*) FROM bookings WHERE course_stream = '8th_stream' AND confirmed = 2",
    );
    env.ok(&[
        "streams",
        "edit",
        "8th_stream",
        "--capacity",
        &confirmed_in_8th.to_string(),
    ]);
    let confirmed_3rd: i64 = env
        .count("SELECT MIN(id) FROM bookings WHERE course_stream = '3rd_stream' AND confirmed = 2");
    let before = env.snapshot();
    let err = env.fails(
        &[
            "bookings",
            "edit",
            &confirmed_3rd.to_string(),
            "--stream",
            "8th_stream",
        ],
        code::REFUSED,
    );
    assert!(err.contains("8th_stream is full"), "{err}");
    assert_eq!(env.snapshot(), before);
    env.ok(&[
        "bookings",
        "edit",
        &confirmed_3rd.to_string(),
        "--stream",
        "8th_stream",
        "--force",
        "--reason",
        "teacher said yes",
    ]);
    env.ok(&["stats", "verify"]);

    // A group: one unknown id and nothing moves.
    let ids: Vec<i64> = (2..=4).collect();
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let bad = env.write("bad.txt", format!("{list}\n99999\n"));
    let before = env.snapshot();
    env.fails(
        &[
            "bookings",
            "edit",
            "--ids-from",
            &bad,
            "--stream",
            "9th_stream",
            "--create-stream",
        ],
        code::NOT_FOUND,
    );
    assert_eq!(env.snapshot(), before);
    let good = env.write("group.txt", format!("{list}\n"));
    let out = env.run(&[
        "bookings",
        "edit",
        "--ids-from",
        &good,
        "--stream",
        "9th_stream",
    ]);
    assert_eq!(
        out.status.code(),
        Some(code::NOT_FOUND),
        "9th_stream is not in the catalogue"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--create-stream"));
    env.ok(&[
        "bookings",
        "edit",
        "--ids-from",
        &good,
        "--stream",
        "9th_stream",
        "--create-stream",
    ]);
    for id in ids {
        assert_eq!(stream_of(&env, id).as_deref(), Some("9th_stream"));
    }
    assert_eq!(
        env.count("SELECT COUNT(DISTINCT operation_id) FROM audit_log WHERE action = 'booking.edited' AND json_extract(details, '$.source') = 'bookings edit'"),
        2
    );
    env.ok(&["stats", "verify"]);
    env.fails(&["bookings", "edit", "5"], code::BAD_INPUT);
}

/// Runs a write command and returns the operation id it printed on stderr.
fn operation_of(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 10)),
        "{args:?}: {stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("undo with paytrack undo"))
        .unwrap_or_else(|| panic!("no operation in: {stderr}"));
    let op = line
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(';')
        .to_string();
    assert!(line.ends_with(&format!("paytrack undo {op}")), "{line}");
    op
}

fn pending_in_3rd(env: &Env) -> Vec<i64> {
    env.query_rows(
        "SELECT id FROM bookings WHERE course_stream = '3rd_stream' AND confirmed = 1 ORDER BY id",
    )
    .into_iter()
    .map(|r| r[0].as_deref().unwrap().parse().unwrap())
    .collect()
}

const BULK_CANCEL: [&str; 10] = [
    "bookings",
    "set-status",
    "--status",
    "pending",
    "--stream",
    "3rd_stream",
    "--to",
    "cancelled",
    "--reason",
    "unpaid",
];

#[test]
fn undo_of_a_bulk_cancel_restores_every_booking_and_refuses_one_changed_since() {
    let env = Env::with_sample();
    let pending = pending_in_3rd(&env);
    assert!(pending.len() >= 3);
    let op = operation_of(&env, &[&BULK_CANCEL[..], &["--yes"]].concat());
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM bookings WHERE course_stream = '3rd_stream' AND confirmed = 1"
        ),
        0
    );
    // Every entry of that command carries the operation id.
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE operation_id = '{op}'"
        )),
        pending.len() as i64
    );

    // `audit tail --operation` shows what the operation did, all of it.
    let entries: serde_json::Value =
        serde_json::from_str(&env.ok(&["audit", "tail", "--operation", &op, "--json"])).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), pending.len());
    assert!(entries
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["operation_id"] == op.as_str()));

    // An admin re-opens one of them in between: the undo refuses, naming it.
    let reopened = pending[1];
    env.ok(&["booking", "set-status", &reopened.to_string(), "pending"]);
    let before = env.snapshot();
    let err = env.fails(&["undo", &op], code::EXPECTATION);
    assert!(
        err.contains(&format!(
            "1 bookings changed again since operation {op}: {reopened};"
        )),
        "{err}"
    );
    assert_eq!(env.snapshot(), before, "all or nothing");

    // Without the change in between, every booking comes back.
    let env = Env::with_sample();
    let op = operation_of(&env, &[&BULK_CANCEL[..], &["--yes"]].concat());
    let before = env.snapshot();
    let out = env.run(&["undo", &op[..6], "--dry-run"]);
    assert_eq!(out.status.code(), Some(code::OK));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!(
        "would undo operation {op}: {} status changes",
        pending.len()
    )));
    assert_eq!(env.snapshot(), before);
    env.ok(&["undo", &op]);
    assert_eq!(pending_in_3rd(&env), pending);
    let undone = env.count(&format!(
        "SELECT COUNT(*) FROM {AUDIT_REVEALED} WHERE action = 'booking.status_changed'
           AND old_value = 'cancelled' AND new_value = 'pending' AND reason = 'undo of {op}'
           AND json_extract(details, '$.source') = 'undo'"
    ));
    assert_eq!(undone, pending.len() as i64);
    env.ok(&["stats", "verify"]);
    env.ok(&["audit", "verify"]);
    let err = env.fails(&["undo", &op], code::EXPECTATION);
    assert!(err.contains("already undone"), "{err}");
    env.fails(&["undo", "zz"], code::BAD_INPUT);
    env.fails(&["undo", "0000000000000000"], code::NOT_FOUND);
}

#[test]
fn undo_of_a_confirmation_withdraws_its_unsent_message() {
    let env = Env::with_sample();
    let op = operation_of(&env, &["booking", "set-status", "1", "confirmed"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 1 AND status = 'pending'"),
        1
    );
    let out = env.run(&["undo", &op]);
    assert_eq!(out.status.code(), Some(code::OK));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 unsent confirmation messages withdrawn"),
        "{stderr}"
    );
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 1"), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 1 AND status = 'pending'"),
        0
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 1 AND status = 'withdrawn'"),
        1
    );
    // Nothing is left for a drain to send.
    let sink = format!("cat >> '{}'", env.path("sent.txt").display());
    let drain = env.run(&["outbox", "drain", "--exec", &sink]);
    assert_eq!(drain.status.code(), Some(code::OK));
    assert!(!env.path("sent.txt").exists());
}

#[test]
fn undo_reverses_edits_adds_and_imports() {
    let env = Env::with_sample();
    let counters = env.ok(&["stats", "streams", "--csv"]);
    let op = operation_of(
        &env,
        &[
            "bookings",
            "edit",
            "2",
            "--stream",
            "8th_stream",
            "--first-name",
            "Маша",
        ],
    );
    env.ok(&["undo", &op]);
    assert_eq!(stream_of(&env, 2).as_deref(), Some("3rd_stream"));
    assert_eq!(
        env.ok(&["stats", "streams", "--csv"]),
        counters,
        "counters back"
    );
    env.ok(&["stats", "verify"]);

    let op = operation_of(
        &env,
        &[
            "bookings",
            "add",
            "--user-id",
            "77",
            "--course",
            "1",
            "--stream",
            "3rd_stream",
        ],
    );
    let out = env.run(&["undo", &op]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 added bookings cancelled"));
    assert_eq!(
        env.count("SELECT confirmed FROM bookings WHERE user_id = 77"),
        -1
    );

    // A forced re-import that undid payments can itself be undone.
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    let op = operation_of(
        &env,
        &[
            "bookings",
            "import",
            &legacy(),
            "--force",
            "--reason",
            "oops",
        ],
    );
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 1"), 1);
    let out = env.run(&["undo", &op]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("left as they are: 1 bookings.imported"),
        "{stderr}"
    );
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 1"), 2);
    env.ok(&["stats", "verify"]);
    env.ok(&["audit", "verify"]);
}

#[test]
fn users_show_tells_one_persons_whole_story() {
    let env = catalogue();
    let first = add(
        &env,
        &[
            "--user-id",
            "555",
            "--username",
            "olga",
            "--first-name",
            "Оля\u{1b}[31m\u{202e}",
            "--course",
            "1",
            "--stream",
            "8th_stream",
        ],
    );
    add(
        &env,
        &[
            "--user-id",
            "555",
            "--username",
            "olga",
            "--course",
            "1",
            "--stream",
            "9th_stream",
        ],
    );
    add(&env, &["--user-id", "777", "--course", "1"]);
    env.ok(&[
        "booking",
        "set-status",
        &first.to_string(),
        "confirmed",
        "--payment-ref",
        "p-1",
        "--amount",
        "30000",
        "--currency",
        "RUB",
    ]);

    let raw = env.ok(&["users", "show", "@olga", "--json"]);
    assert!(
        !raw.contains('\u{202e}'),
        "bidi controls are escaped in JSON"
    );
    let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(json["user_id"], 555);
    assert_eq!(json["bookings"].as_array().unwrap().len(), 2);
    assert_eq!(json["bookings"][0]["status"], "confirmed");
    assert_eq!(json["payments"][0]["external_id"], "p-1");
    assert_eq!(json["messages"][0]["status"], "pending");
    assert!(json["blocked"].is_null());
    assert!(json["audit"].as_array().unwrap().len() >= 3);

    let table = env.ok(&["users", "show", "555"]);
    assert!(
        table.contains("User 555 @olga: receives messages"),
        "{table}"
    );
    for section in ["Bookings", "Payments", "Messages", "History"] {
        assert!(table.contains(section), "{section}: {table}");
    }
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{202e}'),
        "stranger-typed text never drives the terminal"
    );
    env.fails(&["users", "show", "@nobody"], code::NOT_FOUND);
    env.fails(&["users", "show", "999"], code::NOT_FOUND);
}

#[test]
fn blocking_holds_a_students_messages_and_unblocking_lets_them_go() {
    let env = catalogue();
    let id = add(
        &env,
        &[
            "--user-id",
            "555",
            "--course",
            "1",
            "--stream",
            "9th_stream",
        ],
    );
    env.ok(&["users", "block", "555", "--reason", "asked for silence"]);
    env.ok(&["booking", "set-status", &id.to_string(), "confirmed"]);
    let sent = env.path("sent.txt");
    let sink = format!("cat >> '{}'", sent.display());
    env.run(&["outbox", "drain", "--exec", &sink]);
    assert!(!sent.exists(), "nothing goes to a blocked student");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'failed'"),
        1
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["users", "show", "555", "--json"])).unwrap();
    assert_eq!(json["blocked"]["reason"], "asked for silence");

    let out = env.run(&["users", "unblock", "555", "--reason", "unblocked the bot"]);
    assert_eq!(out.status.code(), Some(code::OK));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 held messages queued again"));
    env.ok(&["outbox", "drain", "--exec", &sink]);
    assert!(std::fs::read_to_string(&sent)
        .unwrap()
        .contains("\"chat_id\":555"));
    assert_eq!(
        env.count(&format!("SELECT COUNT(*) FROM {AUDIT_REVEALED} WHERE action IN ('user.blocked', 'user.unblocked') AND reason IS NOT NULL")),
        2
    );
    // Twice is a no-op, with no entry.
    let entries = env.count("SELECT COUNT(*) FROM audit_log");
    env.ok(&["users", "unblock", "555", "--reason", "again"]);
    assert_eq!(env.count("SELECT COUNT(*) FROM audit_log"), entries);
    env.ok(&["audit", "verify"]);
}

#[test]
fn entries_without_an_operation_id_still_verify_in_a_mixed_chain() {
    use crate::harness::sql_literal;
    use paytrack::domain::audit::AuditEntry;
    let env = Env::with_sample();
    // An entry as a paytrack from before operation ids wrote it: no id, and
    // a hash over the old fields only, chained to the current head.
    let head = &env.query_rows("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")[0];
    let last_id: i64 = head[0].as_deref().unwrap().parse().unwrap();
    let last_hash = head[1].clone().unwrap();
    let mut old = AuditEntry {
        id: last_id + 1,
        at: "2024-12-01T00:00:00.000000Z".into(),
        actor: "before-upgrade".into(),
        action: "booking.status_changed".into(),
        booking_id: Some(1),
        old_value: Some("pending".into()),
        new_value: Some("pending".into()),
        reason: None,
        details: "{}".into(),
        prev_hash: last_hash,
        hash: String::new(),
        format: paytrack::domain::audit::FORMAT_CLEAR,
        personal: Vec::new(),
        operation_id: None,
    };
    old.hash = old.compute_hash();
    let text = |v: &Option<String>| sql_literal(v.as_deref());
    env.exec(&format!(
        "INSERT INTO audit_log (id, at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash)
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        old.id,
        sql_literal(Some(&old.at)),
        sql_literal(Some(&old.actor)),
        sql_literal(Some(&old.action)),
        old.booking_id.map_or_else(|| "NULL".to_string(), |b| b.to_string()),
        text(&old.old_value),
        text(&old.new_value),
        text(&old.reason),
        sql_literal(Some(&old.details)),
        sql_literal(Some(&old.prev_hash)),
        sql_literal(Some(&old.hash)),
    ));
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    env.ok(&["audit", "verify"]);
    // The operation id is covered by the hash: changing it breaks the chain.
    let head = env.count("SELECT MAX(id) FROM audit_log");
    env.unguard_audit_log();
    env.exec(&format!(
        "UPDATE audit_log SET operation_id = 'ffff' WHERE id = {head}"
    ));
    let err = env.fails(&["audit", "verify"], code::VERIFY);
    assert!(err.contains(&head.to_string()), "{err}");
}
