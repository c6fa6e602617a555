//! Issue 19: listings of any length in bounded memory — a table is refused
//! (bookings) or turned into streamed lines (audit) past 10,000 rows, and the
//! file formats stream whatever their length, with the same bytes as before.

use crate::harness::Env;

/// A demo database with just over 10,000 bookings (a table's maximum).
fn over_a_table() -> Env {
    let env = Env::empty();
    env.ok(&["demo", "--bookings", "10050"]);
    env
}

#[test]
fn a_table_of_every_booking_is_refused_past_ten_thousand_rows_and_files_stream_them_all() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`
    }
    let env = over_a_table();
    let before = env.snapshot();
    let err = env.fails(&["bookings", "list", "--all"], 3);
    assert!(err.contains("more than 10000 bookings match"), "{err}");
    assert!(err.contains("--csv"), "{err}");
    assert_eq!(env.snapshot(), before, "a refusal changes nothing");

    // A page of a table is still a table, and a filter that fits still shows whole.
    let page = env.ok(&["bookings", "list", "--limit", "30"]);
    assert!(page.lines().count() > 30, "{page}");

    // Files: every booking, in the listing's order, as the export has them.
    let csv = env.ok(&["bookings", "list", "--all", "--csv"]);
    assert_eq!(csv.lines().count(), 10050 + 1);
    let jsonl = env.ok(&["bookings", "list", "--all", "--format", "jsonl"]);
    assert_eq!(jsonl.lines().count(), 10050);
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["bookings", "list", "--all", "--json"])).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 10050);
    let first_line: serde_json::Value =
        serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(rows[0], first_line);
    assert_eq!(rows[0]["id"], 10050, "newest first, as the table");
    assert_eq!(rows[10049]["id"], 1);

    // A small --all page is unchanged: a table.
    let few = env.ok(&[
        "bookings",
        "list",
        "--all",
        "--status",
        "cancelled",
        "--course",
        "1",
    ]);
    assert!(few.contains('│') || few.contains('|'), "{few}");
}

#[test]
fn a_long_audit_tail_streams_lines_and_files_keep_their_form() {
    let env = Env::new();
    // 10,050 entries written straight into the log (tail reads them; it does
    // not check the chain), with ids after the last (PostgreSQL gives none).
    // Out of band: the guard that a new entry extends the chain is off.
    env.unguard_audit_log();
    env.exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10050)
         INSERT INTO audit_log (id, at, actor, action, booking_id, details, prev_hash, hash)
         SELECT (SELECT COALESCE(MAX(id), 0) FROM audit_log) + i,
                '2024-12-01T10:00:00.000000Z', 'tester', 'test.entry', i, '{}', '', '' FROM n",
    );
    let total = env.count("SELECT COUNT(*) FROM audit_log");
    let last = env.count("SELECT MAX(id) FROM audit_log");

    let out = env.run(&["audit", "tail", "-n", "100000000"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(String::from_utf8_lossy(&out.stderr).contains("one line each"));
    assert_eq!(
        stdout.lines().count() as i64,
        total,
        "one line an entry, all of them"
    );
    assert!(stdout
        .lines()
        .last()
        .unwrap()
        .trim_start()
        .starts_with(&last.to_string()));

    // -n counts back from the newest, in any format.
    let csv = env.ok(&["audit", "tail", "-n", "10020", "--csv"]);
    assert_eq!(csv.lines().count(), 10020 + 1);
    assert!(csv
        .lines()
        .nth(1)
        .unwrap()
        .starts_with(&format!("{},", last - 10019)));
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["audit", "tail", "-n", "3", "--json"])).unwrap();
    let ids: Vec<i64> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![last - 2, last - 1, last]);
    let jsonl = env.ok(&["audit", "tail", "-n", "100000000", "--format", "jsonl"]);
    assert_eq!(jsonl.lines().count() as i64, total);

    // Up to 10,000 entries it is the table it always was.
    let table = env.ok(&["audit", "tail", "-n", "5"]);
    assert!(
        table.contains("test.entry") && table.lines().count() > 5,
        "{table}"
    );
}
