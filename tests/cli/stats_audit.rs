//! Issues 4 and 5: statistics that match a recount after every kind of write,
//! `stats verify/rebuild/daily`, the catalogue commands, and an audit log that
//! records every write, follows live, and catches tampering.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::{code, csv_rows, fixture, sql_literal, Env};

/// Per (course, stream): total, confirmed, pending, cancelled, revenue.
type StreamNumbers = BTreeMap<(i64, String), (i64, i64, i64, i64, String)>;

/// The numbers `stats streams --csv` prints.
fn stats_numbers(env: &Env) -> StreamNumbers {
    let rows = csv_rows(&env.ok(&["stats", "streams", "--csv"]));
    assert_eq!(
        rows[0][..8],
        [
            "course_id",
            "course_name",
            "course_stream",
            "stream_name",
            "total",
            "confirmed",
            "pending",
            "cancelled"
        ]
    );
    let int = |s: &str| s.parse::<i64>().unwrap();
    rows[1..]
        .iter()
        .map(|r| {
            (
                (int(&r[0]), r[2].clone()),
                (int(&r[4]), int(&r[5]), int(&r[6]), int(&r[7]), r[9].clone()),
            )
        })
        .collect()
}

/// The same numbers recounted from the bookings by plain SQL, independent of paytrack.
fn recounted_by_sql(env: &Env) -> StreamNumbers {
    // Portable SQL: CASE rather than summing booleans, and the price
    // subquery inside an aggregate (PostgreSQL checks its grouping).
    let rows = env.query_rows(
        "SELECT b.course_id, COALESCE(b.course_stream, ''), COUNT(*),
                SUM(CASE WHEN b.confirmed = 2 THEN 1 ELSE 0 END),
                SUM(CASE WHEN b.confirmed = 1 THEN 1 ELSE 0 END),
                SUM(CASE WHEN b.confirmed = -1 THEN 1 ELSE 0 END),
                MAX((SELECT price_minor FROM streams s
                      WHERE s.course_id = b.course_id AND s.code = b.course_stream)),
                SUM(CASE WHEN b.confirmed = 2 THEN 100 - COALESCE(b.discount_percent, 0) ELSE 0 END)
           FROM bookings b GROUP BY 1, 2",
    );
    let int = |v: &Option<String>| -> i64 { v.as_deref().unwrap().parse().unwrap() };
    rows.iter()
        .map(|r| {
            let price: Option<i64> = r[6].as_deref().map(|p| p.parse().unwrap());
            let pct = int(&r[7]);
            let revenue = price
                .map(|p| {
                    let minor = p * pct / 100;
                    format!("{}.{:02}", minor / 100, minor % 100)
                })
                .unwrap_or_default();
            (
                (int(&r[0]), r[1].clone().unwrap()),
                (int(&r[2]), int(&r[3]), int(&r[4]), int(&r[5]), revenue),
            )
        })
        .collect()
}

/// After a write: the statistics equal the recount, and `stats verify` agrees.
fn assert_stats_consistent(env: &Env, after: &str) {
    assert_eq!(stats_numbers(env), recounted_by_sql(env), "after {after}");
    let ok = env.ok(&["stats", "verify"]);
    assert!(ok.starts_with("ok: "), "after {after}: {ok}");
}

/// The sample file with some statuses, a stream and a discount changed, as
/// the old system would export it a week later.
fn changed_sample(env: &Env) -> String {
    let mut reader = csv::Reader::from_path(fixture("legacy-bookings.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut row: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        match row[0].as_str() {
            "1" => row[6] = "2".into(),  // pending → confirmed
            "2" => row[6] = "-1".into(), // confirmed → cancelled
            "3" => row[5] = "8th_stream".into(),
            "4" => row[9] = "50".into(),
            _ => {}
        }
        writer.write_record(&row).unwrap();
    }
    env.write("changed.csv", writer.into_inner().unwrap())
}

/// Names, prices and seats the 8th stream.
const PRICE_8TH_STREAM: [&str; 11] = [
    "streams",
    "edit",
    "8th_stream",
    "--name",
    "8-й поток",
    "--price",
    "30000",
    "--currency",
    "RUB",
    "--capacity",
    "40",
];

fn last_action(env: &Env) -> String {
    env.query_rows("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")
        .into_iter()
        .next()
        .and_then(|r| r[0].clone())
        .unwrap_or_default()
}

fn audit_entries(env: &Env) -> i64 {
    env.count("SELECT COUNT(*) FROM audit_log")
}

#[test]
fn stats_match_a_plain_recount_after_every_kind_of_write() {
    let env = Env::with_sample();
    assert_stats_consistent(&env, "import");
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    assert_stats_consistent(&env, "set-status");
    let ids = env.write("ids.txt", "7\n9\n# a comment\n13\n");
    env.ok(&[
        "bookings",
        "set-status",
        "--ids-from",
        &ids,
        "--to",
        "cancelled",
    ]);
    assert_stats_consistent(&env, "bulk by ids");
    env.ok(&[
        "bookings",
        "set-status",
        "--status",
        "pending",
        "--stream",
        "7th_stream",
        "--to",
        "cancelled",
        "--reason",
        "unpaid",
        "--yes",
    ]);
    assert_stats_consistent(&env, "bulk by filter");
    env.ok(&[
        "booking",
        "set-status",
        "14",
        "confirmed",
        "--force",
        "--reason",
        "cash",
    ]);
    assert_stats_consistent(&env, "forced");
    // Payments confirm the bookings they fully pay; the rest wait for a person (exit 10).
    let payments = env.run(&[
        "payments",
        "import",
        fixture("payments.csv").to_str().unwrap(),
    ]);
    assert!(
        matches!(payments.status.code(), Some(code::OK | code::ATTENTION)),
        "{payments:?}"
    );
    assert_eq!(last_action(&env), "payments.imported");
    assert_stats_consistent(&env, "payments import");
    env.ok(&[
        "bookings",
        "import",
        &changed_sample(&env),
        "--reason",
        "refund in the old system",
    ]);
    assert_stats_consistent(&env, "re-import with changes");
    env.ok(&PRICE_8TH_STREAM);
    env.ok(&[
        "streams",
        "add",
        "9th_stream",
        "--course",
        "1",
        "--price",
        "32 000,50",
        "--currency",
        "RUB",
    ]);
    env.ok(&["courses", "edit", "1", "--name", "Вайб кодинг"]);
    assert_stats_consistent(&env, "catalogue edits");
    let numbers = stats_numbers(&env);
    assert_ne!(
        numbers[&(1, "8th_stream".into())].4,
        "",
        "a priced stream has revenue"
    );
    env.ok(&["stats", "rebuild"]);
    assert_stats_consistent(&env, "rebuild");
    assert_eq!(
        stats_numbers(&env),
        numbers,
        "a rebuild of correct counters changes nothing"
    );
}

#[test]
fn stats_verify_fails_after_a_counter_is_altered_by_hand_and_rebuild_repairs_it() {
    let env = Env::with_sample();
    // Three bookings too many in one counter, and another counter gone.
    if crate::harness::is_postgres() {
        // There the counters are the sum of their deltas (a view).
        env.exec(
            "INSERT INTO stream_counter_deltas (course_id, course_stream, confirmed, bookings, pct_sum)
                  VALUES (1, '8th_stream', 2, 3, 0);
             INSERT INTO stream_counter_deltas (course_id, course_stream, confirmed, bookings, pct_sum)
                  SELECT course_id, course_stream, confirmed, -bookings, -pct_sum
                    FROM stream_counters WHERE course_id = 2 AND confirmed = -1;",
        );
    } else {
        env.exec(
            "UPDATE stream_counters SET bookings = bookings + 3
              WHERE course_id = 1 AND course_stream = '8th_stream' AND confirmed = 2;
             DELETE FROM stream_counters WHERE course_id = 2 AND confirmed = -1;",
        );
    }
    let out = env.run(&["stats", "verify"]);
    assert_eq!(out.status.code(), Some(code::VERIFY));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("course 1 stream 8th_stream confirmed: stored 35 bookings"),
        "{stdout}"
    );
    assert!(
        stdout.contains("course 2 stream mentoring cancelled: stored 0 bookings"),
        "{stdout}"
    );
    let err = env.fails(&["stats", "verify"], code::VERIFY);
    assert!(err.contains("2 stream counters differ"), "{err}");

    env.ok(&["stats", "rebuild"]);
    assert_stats_consistent(&env, "rebuild");
    let rebuilt = &env.query_rows(
        "SELECT old_value, new_value, details FROM audit_log WHERE action = 'stats.rebuilt'",
    )[0];
    let (old, new) = (rebuilt[0].clone().unwrap(), rebuilt[1].clone().unwrap());
    let details: serde_json::Value = serde_json::from_str(rebuilt[2].as_deref().unwrap()).unwrap();
    assert_eq!(details["differences"], 2, "{details}");
    assert!(old.contains("\"bookings\":394"), "{old}"); // 400 + 3 − 9 cancelled in course 2
    assert!(new.contains("\"bookings\":400"), "{new}");
}

#[test]
fn stats_streams_csv_snapshot() {
    let env = Env::with_sample();
    env.ok(&["courses", "edit", "1", "--name", "Вайб кодинг"]);
    env.ok(&["courses", "edit", "2", "--name", "=Менторинг"]); // formula-protected in CSV
    env.ok(&PRICE_8TH_STREAM);
    env.ok(&[
        "streams",
        "edit",
        "mentoring",
        "--price",
        "99.99",
        "--currency",
        "usd",
    ]);
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    insta::assert_snapshot!("stats_streams_csv", env.ok(&["stats", "streams", "--csv"]));
    insta::assert_snapshot!(
        "stats_streams_csv_since",
        env.ok(&[
            "stats",
            "streams",
            "--csv",
            "--since",
            "2024-03-10",
            "--until",
            "2024-04-01"
        ])
    );
}

#[test]
fn stats_daily_counts_new_bookings_confirmations_and_cancellations() {
    let env = Env::with_sample();
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    env.ok(&[
        "booking",
        "set-status",
        "2",
        "cancelled",
        "--reason",
        "refund",
    ]);
    env.ok(&["booking", "set-status", "7", "cancelled"]);
    insta::assert_snapshot!(
        "stats_daily_csv",
        env.ok(&["stats", "daily", "--days", "3", "--csv"])
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["stats", "daily", "--days", "400", "--json"])).unwrap();
    let days = json.as_array().unwrap();
    assert_eq!(days.len(), 400, "empty days are listed too");
    let sum = |field: &str| days.iter().map(|d| d[field].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum("new_bookings"), 400);
    assert_eq!(sum("confirmations"), 1);
    assert_eq!(sum("cancellations"), 2);
    let table = env.ok(&["stats", "daily", "--days", "2"]);
    assert!(
        table.contains("2024-12-10") && table.contains("Total"),
        "{table}"
    );
}

#[test]
fn every_writing_command_leaves_its_entry_and_no_op_leaves_none() {
    let env = Env::with_sample();
    assert_eq!(last_action(&env), "bookings.imported");
    let ids = env.write("ids.txt", "7\n9\n");
    let sample = fixture("legacy-bookings.csv");
    let changed = changed_sample(&env);
    let template = env.write("template.txt", "Привет, {first_name}!");
    // (command, entries it adds, the last entry's action)
    let cases: Vec<(Vec<&str>, i64, &str)> = vec![
        (vec!["bookings", "import", sample.to_str().unwrap()], 0, ""), // unchanged re-import
        (
            vec!["booking", "set-status", "1", "confirmed"],
            1,
            "booking.status_changed",
        ),
        (
            vec![
                "bookings",
                "set-status",
                "--ids-from",
                &ids,
                "--to",
                "cancelled",
            ],
            2,
            "booking.status_changed",
        ),
        (
            vec![
                "booking",
                "set-status",
                "14",
                "confirmed",
                "--force",
                "--reason",
                "cash",
            ],
            1,
            "booking.status_changed",
        ),
        // The file cancels booking 2 (allowed with the admin's reason), moves 3
        // and discounts 4: each audited, plus the import. Bookings 7, 9 and 14,
        // changed in paytrack since, keep their status (the file has nothing new).
        (
            vec![
                "bookings",
                "import",
                &changed,
                "--reason",
                "refund in the old system",
            ],
            4,
            "bookings.imported",
        ),
        (
            vec![
                "courses",
                "add",
                "7",
                "--name",
                "Новый курс",
                "--template",
                &template,
            ],
            1,
            "catalogue.course_added",
        ),
        (
            vec!["courses", "edit", "7", "--default-template"],
            1,
            "catalogue.course_edited",
        ),
        (vec!["courses", "edit", "7", "--name", "Новый курс"], 0, ""), // the same name
        (
            vec![
                "streams",
                "add",
                "s1",
                "--course",
                "7",
                "--price",
                "100",
                "--currency",
                "RUB",
            ],
            1,
            "catalogue.stream_added",
        ),
        (
            vec![
                "streams",
                "edit",
                "s1",
                "--price",
                "none",
                "--capacity",
                "12",
            ],
            1,
            "catalogue.stream_edited",
        ),
        (vec!["streams", "edit", "s1", "--capacity", "12"], 0, ""), // nothing to change
        (vec!["booking", "set-status", "1", "confirmed"], 0, ""),   // already confirmed
        (vec!["stats", "rebuild"], 1, "stats.rebuilt"),
    ];
    for (args, added, action) in cases {
        let before = audit_entries(&env);
        env.ok(&args);
        assert_eq!(audit_entries(&env) - before, added, "{args:?}");
        if added > 0 {
            assert_eq!(last_action(&env), action, "{args:?}");
        }
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log WHERE actor <> 'tester'"),
        0,
        "every entry names the actor"
    );
    // JSON true is 1 in SQLite's json_extract, 'true' in PostgreSQL's.
    let forced = env.count(
        "SELECT COUNT(*) FROM audit_log WHERE booking_id = 14
            AND CAST(json_extract(details, '$.forced') AS TEXT) IN ('1', 'true')",
    );
    assert_eq!(forced, 1);
    let edit = env.query_rows(
        "SELECT old_value, new_value FROM audit_log WHERE action = 'catalogue.stream_edited'",
    );
    assert_eq!(
        edit,
        [[
            Some("capacity=none price=100.00".to_string()),
            Some("capacity=12 price=none".to_string())
        ]]
    );
    assert!(env.ok(&["audit", "verify"]).starts_with("ok: "));

    // `demo` is SQLite's alone.
    if !crate::harness::is_postgres() {
        let demo = Env::empty();
        demo.ok(&["demo", "--bookings", "50"]);
        assert_eq!(last_action(&demo), "demo.generated");
    }
}

#[test]
fn catalogue_commands_refuse_bad_input_and_change_nothing() {
    let env = Env::with_sample();
    let before = env.snapshot();
    let err = env.fails(&["streams", "add", "x", "--course", "99"], code::NOT_FOUND);
    assert!(err.contains("course 99 not found"), "{err}");
    let err = env.fails(
        &["streams", "add", "8th_stream", "--course", "1"],
        code::BAD_INPUT,
    );
    assert!(err.contains("already exists"), "{err}");
    env.fails(&["streams", "edit", "nope", "--name", "x"], code::NOT_FOUND);
    let err = env.fails(
        &["streams", "edit", "8th_stream", "--price", "100"],
        code::BAD_INPUT,
    );
    assert!(err.contains("needs a currency"), "{err}");
    env.fails(
        &["streams", "edit", "8th_stream", "--price", "-5"],
        code::USAGE,
    );
    env.fails(
        &["streams", "edit", "8th_stream", "--capacity", "many"],
        code::USAGE,
    );
    env.fails(
        &["streams", "edit", "8th_stream", "--name", "  "],
        code::BAD_INPUT,
    );
    env.fails(&["courses", "add", "1", "--name", "again"], code::BAD_INPUT);
    env.fails(&["courses", "edit", "99", "--name", "x"], code::NOT_FOUND);
    let missing = env.path("missing.txt");
    env.fails(
        &[
            "courses",
            "edit",
            "1",
            "--template",
            missing.to_str().unwrap(),
        ],
        code::BAD_INPUT,
    );
    assert_eq!(env.snapshot(), before);

    // A code used by two courses needs --course.
    env.ok(&["streams", "add", "mentoring", "--course", "1"]);
    let err = env.fails(
        &["streams", "edit", "mentoring", "--name", "x"],
        code::BAD_INPUT,
    );
    assert!(err.contains("courses 1, 2"), "{err}");
    env.ok(&[
        "streams",
        "edit",
        "mentoring",
        "--course",
        "2",
        "--name",
        "Менторство",
    ]);
    let list = csv_rows(&env.ok(&["streams", "list", "--course", "2", "--csv"]));
    assert_eq!(
        list[0],
        [
            "course_id",
            "course_name",
            "code",
            "name",
            "price",
            "currency",
            "capacity",
            "bookings",
            "confirmed"
        ]
    );
    assert_eq!(list[1][..4], ["2", "Course 2", "mentoring", "Менторство"]);
    assert_eq!(
        list[1][7],
        env.count("SELECT COUNT(*) FROM bookings WHERE course_id = 2")
            .to_string()
    );
    let courses = csv_rows(&env.ok(&["courses", "list", "--csv"]));
    assert_eq!(
        courses[0],
        [
            "id",
            "name",
            "message_template",
            "streams",
            "bookings",
            "confirmed"
        ]
    );
    assert_eq!(courses.len(), 3);
}

#[test]
fn streams_members_lists_confirmed_students_and_who_blocked_the_bot() {
    let env = Env::with_sample();
    let blocked_user = env.count(
        "SELECT user_id FROM bookings WHERE course_stream = '8th_stream' AND confirmed = 2 ORDER BY id LIMIT 1",
    );
    env.exec(&format!(
        "INSERT INTO blocked_users (user_id, blocked_at, reason) VALUES ({blocked_user}, '2024-12-01T00:00:00.000000Z', '403')"
    ));
    let rows = csv_rows(&env.ok(&["streams", "members", "8th_stream", "--csv"]));
    assert_eq!(
        rows[0],
        [
            "user_id",
            "username",
            "first_name",
            "booking_id",
            "confirmed_at",
            "blocked"
        ]
    );
    let confirmed = env.count(
        "SELECT COUNT(*) FROM bookings WHERE course_id = 1 AND course_stream = '8th_stream' AND confirmed = 2",
    );
    assert_eq!(rows.len() as i64 - 1, confirmed);
    let blocked: Vec<&Vec<String>> = rows[1..].iter().filter(|r| r[5] == "true").collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0][0], blocked_user.to_string());
    let json: serde_json::Value = serde_json::from_str(&env.ok(&[
        "streams",
        "members",
        "8th_stream",
        "--course",
        "1",
        "--json",
    ]))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len() as i64, confirmed);
    env.fails(&["streams", "members", "9th_stream"], code::NOT_FOUND);
}

/// Lifts the append-only guards, as whoever holds the database could, and runs `sql`.
fn tamper(env: &Env, sql: &str) {
    env.unguard_audit_log();
    if !sql.is_empty() {
        env.exec(sql);
    }
}

/// A sample database with a few audit entries (ids 1..=6).
fn audited_env() -> Env {
    let env = Env::with_sample();
    for (id, to) in [
        ("1", "confirmed"),
        ("7", "confirmed"),
        ("9", "cancelled"),
        ("13", "confirmed"),
        ("16", "confirmed"),
    ] {
        env.ok(&["booking", "set-status", id, to]);
    }
    assert_eq!(audit_entries(&env), 6);
    env
}

#[test]
fn the_guard_triggers_refuse_update_and_delete() {
    let env = audited_env();
    let before = env.snapshot();
    for sql in [
        "UPDATE audit_log SET reason = 'x' WHERE id = 2",
        "DELETE FROM audit_log WHERE id = 2",
    ] {
        let err = env.try_exec(sql).expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(env.snapshot(), before);
}

#[test]
fn audit_verify_names_the_entry_changed_removed_or_inserted() {
    let env = audited_env();
    let ok = env.ok(&["audit", "verify"]);
    assert!(ok.starts_with("ok: 6 audit entries checked"), "{ok}");

    // (what the attacker runs, what verify must say)
    let cases = [
        (
            "UPDATE audit_log SET new_value = 'cancelled' WHERE id = 3",
            "audit entry 3 does not match its hash",
        ),
        ("DELETE FROM audit_log WHERE id = 3", "audit entry 3 was removed"),
        (
            "INSERT INTO audit_log (id, at, actor, action, booking_id, old_value, new_value, prev_hash, hash)
             SELECT id + 1, at, 'admin', 'booking.status_changed', 20, 'pending', 'confirmed', hash, hash
               FROM audit_log ORDER BY id DESC LIMIT 1",
            "audit entry 7 does not match its hash",
        ),
        (
            "UPDATE audit_log SET id = 40 WHERE id = 6",
            "audit entry 40 does not match its hash", // the id is hashed too
        ),
    ];
    for (sql, expected) in cases {
        let env = audited_env();
        tamper(&env, sql);
        let err = env.fails(&["audit", "verify"], code::VERIFY);
        assert!(err.contains(expected), "{sql}: {err}");
    }
}

#[test]
fn a_rewrite_with_recomputed_hashes_is_caught_at_the_next_entry() {
    let env = audited_env();
    // The attacker knows the algorithm: edits entry 3 and re-hashes it.
    let mut entry = paytrack_entry(&env, 3);
    entry.new_value = Some("cancelled".into());
    entry.hash = entry.compute_hash();
    tamper(
        &env,
        &format!(
            "UPDATE audit_log SET new_value = {}, hash = {} WHERE id = 3",
            sql_literal(entry.new_value.as_deref()),
            sql_literal(Some(&entry.hash))
        ),
    );
    let err = env.fails(&["audit", "verify"], code::VERIFY);
    assert!(
        err.contains("audit entry 4 does not chain to entry 3"),
        "{err}"
    );
}

/// Reads an entry through paytrack's own type, to recompute hashes as an attacker would.
pub fn paytrack_entry(env: &Env, id: i64) -> paytrack::domain::audit::AuditEntry {
    let rows = env.query_rows(&format!(
        "SELECT id, at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash, format,
                operation_id
           FROM audit_log WHERE id = {id}"
    ));
    let r = &rows[0];
    let text = |i: usize| r[i].clone().unwrap();
    let int = |i: usize| r[i].as_deref().map(|v| v.parse::<i64>().unwrap());
    paytrack::domain::audit::AuditEntry {
        id: int(0).unwrap(),
        at: text(1),
        actor: text(2),
        action: text(3),
        booking_id: int(4),
        old_value: r[5].clone(),
        new_value: r[6].clone(),
        reason: r[7].clone(),
        details: text(8),
        prev_hash: text(9),
        hash: text(10),
        format: int(11).unwrap().try_into().unwrap(),
        personal: env
            .query_rows(&format!(
                "SELECT field, digest, value, salt FROM audit_personal WHERE entry_id = {id} ORDER BY field"
            ))
            .into_iter()
            .map(|p| paytrack::domain::audit::PersonalField {
                field: p[0].clone().unwrap(),
                digest: p[1].clone().unwrap(),
                value: p[2].clone(),
                salt: p[3].clone(),
            })
            .collect(),
        operation_id: r[12].clone(),
    }
}

/// The `head: ID HASH` line of a successful `audit verify`.
fn head_hash(env: &Env) -> String {
    let out = env.ok(&["audit", "verify"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("head: "))
        .expect("a head line");
    line.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn an_anchor_detects_truncation_of_the_tail() {
    let env = audited_env();
    let anchor = head_hash(&env);
    env.ok(&["booking", "set-status", "25", "confirmed"]);
    let ok = env.ok(&["audit", "verify", "--expect-head", &anchor]);
    assert!(
        ok.contains("anchor: entry 6 found, 1 entries written since"),
        "{ok}"
    );

    tamper(&env, "DELETE FROM audit_log WHERE id >= 6");
    // The chain that is left is intact: without the anchor nothing can tell.
    env.ok(&["audit", "verify"]);
    let err = env.fails(&["audit", "verify", "--expect-head", &anchor], code::VERIFY);
    assert!(err.contains("no entry has the expected head hash"), "{err}");
    env.fails(&["audit", "verify", "--expect-head", "xyz"], code::USAGE);
}

#[test]
fn accounting_view_lists_every_status_change_of_a_period() {
    let env = Env::with_sample();
    let at = |now: &str, args: &[&str]| {
        let out = env
            .cmd()
            .env("PAYTRACK_NOW", now)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    at(
        "2024-11-20T10:00:00Z",
        &["booking", "set-status", "1", "confirmed"],
    );
    // More than a screenful in the period: --since must not stop at the default 20.
    let pending: Vec<String> = env
        .query_ints("SELECT id FROM bookings WHERE confirmed = 1 ORDER BY id LIMIT 25")
        .iter()
        .map(i64::to_string)
        .collect();
    let ids = env.write("ids.txt", pending.join("\n"));
    at(
        "2024-12-02T09:00:00Z",
        &[
            "bookings",
            "set-status",
            "--ids-from",
            &ids,
            "--to",
            "confirmed",
        ],
    );
    at(
        "2024-12-03T09:00:00Z",
        &[
            "booking",
            "set-status",
            "2",
            "cancelled",
            "--reason",
            "refund",
        ],
    );
    at(
        "2024-12-04T09:00:00Z",
        &["streams", "edit", "8th_stream", "--name", "8-й"],
    );

    let rows = csv_rows(&env.ok(&[
        "audit",
        "tail",
        "--action",
        "booking.status_changed",
        "--since",
        "2024-12-01",
        "--format",
        "csv",
    ]));
    assert_eq!(
        rows[0][..8],
        [
            "id",
            "at",
            "actor",
            "action",
            "booking_id",
            "old_value",
            "new_value",
            "reason"
        ]
    );
    let body = &rows[1..];
    assert_eq!(body.len(), 26, "every change of the period, none before it");
    assert!(body
        .iter()
        .all(|r| r[3] == "booking.status_changed" && r[1].as_str() >= "2024-12-01"));
    assert_eq!(body.iter().filter(|r| r[6] == "confirmed").count(), 25);
    let refund = body.last().unwrap();
    assert_eq!(refund[4..8], ["2", "confirmed", "cancelled", "refund"]);
    assert_eq!(
        csv_rows(&env.ok(&["audit", "tail", "--format", "csv"])).len(),
        21,
        "default: 20"
    );
}

/// Lines of a child's stdout, delivered through a channel so reads can time out.
fn stdout_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line containing `needle`, or a panic after a generous deadline.
fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return;
                }
            }
            Err(err) => panic!("no line with {needle:?} in time ({err}); saw {seen:#?}"),
        }
    }
}

/// Sends Ctrl-C and returns the exit code (killing the child if it does not stop).
fn interrupt(mut child: std::process::Child) -> Option<i32> {
    // SAFETY: kill(2) with our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().ok();
    child.wait().ok();
    panic!("audit tail --follow did not stop on Ctrl-C");
}

#[test]
fn follow_prints_entries_written_by_another_process_and_stops_on_ctrl_c() {
    let env = audited_env();
    let mut child = env.spawn(&["audit", "tail", "-f", "-n", "1", "--format", "jsonl"]);
    let rx = stdout_lines(&mut child);
    let mut seen = Vec::new();
    // The initial tail first, so the next entry can only arrive by following.
    wait_for_line(&rx, "\"id\":6", &mut seen);
    env.ok(&["booking", "set-status", "25", "confirmed"]);
    wait_for_line(&rx, "\"booking_id\":25", &mut seen);
    env.ok(&["streams", "edit", "8th_stream", "--capacity", "300"]);
    wait_for_line(&rx, "catalogue.stream_edited", &mut seen);
    assert_eq!(interrupt(child), Some(code::OK));
    for line in &seen {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(entry["hash"].is_string(), "{line}");
    }
}

#[test]
fn follow_in_csv_prints_the_header_once_and_honours_filters() {
    let env = audited_env();
    let mut child = env.spawn(&[
        "audit",
        "tail",
        "-f",
        "--action",
        "booking.status_changed",
        "-n",
        "1",
        "--format",
        "csv",
    ]);
    let rx = stdout_lines(&mut child);
    let mut seen = Vec::new();
    wait_for_line(&rx, ",16,pending,confirmed", &mut seen);
    env.ok(&["streams", "edit", "8th_stream", "--capacity", "300"]); // filtered out
    env.ok(&["booking", "set-status", "25", "confirmed"]);
    wait_for_line(&rx, ",25,pending,confirmed", &mut seen);
    env.ok(&["booking", "set-status", "26", "confirmed"]);
    wait_for_line(&rx, ",26,pending,confirmed", &mut seen);
    assert_eq!(interrupt(child), Some(code::OK));
    assert_eq!(
        seen.iter().filter(|l| l.starts_with("id,at,")).count(),
        1,
        "{seen:#?}"
    );
    assert!(!seen.iter().any(|l| l.contains("catalogue.")), "{seen:#?}");
}

#[test]
fn follow_escapes_a_hostile_action_written_into_the_log() {
    let env = audited_env();
    let mut child = env.spawn(&["audit", "tail", "-f", "-n", "1"]);
    let rx = stdout_lines(&mut child);
    let mut seen = Vec::new();
    wait_for_line(&rx, "  ", &mut seen);
    env.ok(&["booking", "set-status", "25", "confirmed"]);
    wait_for_line(&rx, "#25", &mut seen);
    // A hand-edited file can hold anything: an action that would retitle and
    // clear the admin's terminal.
    env.exec(&format!(
        "INSERT INTO audit_log (id, at, actor, action, details, prev_hash, hash)
         SELECT MAX(id) + 1, '2024-12-10T12:00:00Z', 'mallory', {}, '{{}}',
                (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), '' FROM audit_log",
        sql_literal(Some("x\u{1b}]0;owned\u{7}\u{1b}[2Jmarker"))
    ));
    wait_for_line(&rx, "marker", &mut seen);
    assert_eq!(interrupt(child), Some(code::OK));
    for line in &seen {
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{7}'),
            "{line:?}"
        );
    }
}

#[test]
fn paytrack_actor_names_who_acts_and_does_not_filter_the_audit_tail() {
    let env = audited_env();
    // The harness sets PAYTRACK_ACTOR=tester; an entry by someone else must
    // still be listed (it was hidden: the variable filled `audit tail --actor`).
    env.cmd()
        .env("PAYTRACK_ACTOR", "alice")
        .args(["booking", "set-status", "25", "confirmed"])
        .assert()
        .success();
    let all = env.ok(&["audit", "tail", "-n", "2", "--csv"]);
    assert!(all.contains(",tester,") && all.contains(",alice,"), "{all}");
    let alice = env.ok(&["audit", "tail", "--actor", "alice", "--csv"]);
    assert_eq!(csv_rows(&alice).len(), 2, "{alice}");
    // --actor before the command still names who acts.
    env.ok(&["--actor", "bob", "booking", "set-status", "26", "confirmed"]);
    let bob = env.ok(&["audit", "tail", "--actor", "bob", "--csv"]);
    assert_eq!(csv_rows(&bob).len(), 2, "{bob}");
}

#[test]
fn audit_json_is_an_array_and_jsonl_is_lines() {
    let env = audited_env();
    let array: serde_json::Value =
        serde_json::from_str(&env.ok(&["audit", "tail", "-n", "3", "--json"])).unwrap();
    assert_eq!(array.as_array().map(Vec::len), Some(3), "{array}");
    let lines = env.ok(&["audit", "tail", "-n", "3", "--format", "jsonl"]);
    assert_eq!(lines.lines().count(), 3);
    for line in lines.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).unwrap()["hash"].is_string());
    }
    // An array cannot be followed: the flag says which format can.
    let err = env.fails(&["audit", "tail", "-f", "--json"], code::BAD_INPUT);
    assert!(err.contains("jsonl"), "{err}");
}
