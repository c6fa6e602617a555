//! Issue 13, point 6: another program (here the `sqlite3` shell) writes
//! bookings with plain SQL while paytrack processes run; afterwards the
//! counters still match a recount and nothing is lost.

use std::process::{Command, Stdio};

use crate::harness::Env;

/// The `sqlite3` shell (the test is ignored without it: `have_sqlite3`, build.rs).
const SQLITE3: &str = "sqlite3";

/// Marks the rows the external program inserts.
const EXTERNAL_USER: i64 = 9_000_000_000;
const EXTERNAL_ROWS: i64 = 150;

/// The other program's script: inserts (letting SQLite pick the id, as the
/// README says) and updates of existing bookings, each its own transaction.
fn external_script() -> String {
    let mut sql = String::from(".timeout 30000\n");
    for i in 0..EXTERNAL_ROWS {
        sql += &format!(
            "INSERT INTO bookings (user_id, username, first_name, course_id, course_stream, confirmed,
                                   created_at, discount_percent, updated_at)
             VALUES ({}, 'ext_{i}', 'Внешний', 1, '{}', {}, '2024-12-09T10:00:00.000000Z', {},
                     '2024-12-09T10:00:00.000000Z');\n",
            EXTERNAL_USER + i,
            if i % 2 == 0 { "8th_stream" } else { "9th_stream" },
            [1, 2, -1][(i % 3) as usize],
            if i % 4 == 0 { "10" } else { "NULL" },
        );
        // Updates of bookings paytrack also works on: discounts and streams.
        let id = 100 + i;
        sql += &format!(
            "UPDATE bookings SET discount_percent = {}, updated_at = '2024-12-09T11:00:00.000000Z' WHERE id = {id};\n",
            i % 40
        );
        if i % 5 == 0 {
            sql += &format!(
                "UPDATE bookings SET course_stream = '9th_stream' WHERE id = {};\n",
                250 + i
            );
        }
    }
    sql
}

#[test]
#[cfg_attr(
    not(have_sqlite3),
    ignore = "needs the sqlite3 shell (apt-get install -y sqlite3; bash .ci/run installs it)"
)]
fn another_program_writing_sql_while_paytrack_runs_keeps_the_counts() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: the sqlite3 shell writes the file
    }
    let sqlite3 = SQLITE3;
    let env = Env::with_sample();
    env.ok(&["streams", "add", "9th_stream", "--course", "1"]);
    let script = env.write("external.sql", external_script());

    // paytrack's own writers, started together with the external one.
    let lines: String = (0..60)
        .map(|i| {
            format!(
                r#"{{"user_id": {}, "course": 1, "stream": "8th_stream", "key": "bot-{i}"}}"#,
                7_000 + i
            ) + "\n"
        })
        .collect();
    let json_file = env.write("bot.jsonl", &lines);
    let ids: String = (1..=60).map(|i| i.to_string() + "\n").collect();
    let ids_file = env.write("ids.txt", ids);

    let external = Command::new(sqlite3)
        .arg(&env.db)
        .stdin(std::fs::File::open(&script).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sqlite3");
    let mut paytrack = [
        env.spawn(&[
            "bookings",
            "set-status",
            "--ids-from",
            &ids_file,
            "--to",
            "cancelled",
            "--reason",
            "external test",
        ]),
        env.spawn(&[
            "bookings",
            "edit",
            "--ids-from",
            &ids_file,
            "--discount",
            "5",
        ]),
        env.spawn(&["stats", "verify"]),
    ];
    let mut add = env
        .std_cmd()
        .args(["bookings", "add", "--input", &json_file])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Single adds, one process after another, while the others run.
    for i in 0..15 {
        env.ok(&[
            "bookings",
            "add",
            "--user-id",
            &(8_000 + i).to_string(),
            "--course",
            "1",
            "--stream",
            "9th_stream",
        ]);
    }
    let status = add.wait().unwrap();
    assert!(status.success(), "bookings add --json FILE failed");
    for child in &mut paytrack {
        let out = child.wait().unwrap();
        assert!(
            matches!(out.code(), Some(0)),
            "a paytrack process failed: {out:?}"
        );
    }
    let out = external.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Nothing lost: every row of every writer is there.
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM bookings WHERE user_id >= {EXTERNAL_USER}"
        )),
        EXTERNAL_ROWS
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE user_id BETWEEN 7000 AND 8999"),
        75
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings"),
        400 + EXTERNAL_ROWS + 75
    );
    assert_eq!(
        env.count("SELECT COUNT(DISTINCT id) FROM bookings"),
        400 + EXTERNAL_ROWS + 75
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE id <= 60 AND discount_percent = 5"),
        60
    );
    // The counters the triggers kept agree with a recount.
    env.ok(&["stats", "verify"]);
    env.ok(&["audit", "verify"]);
    // And paytrack lists what the other program wrote.
    let listed = env.ok(&[
        "bookings",
        "list",
        "--user",
        &EXTERNAL_USER.to_string(),
        "--csv",
    ]);
    assert!(listed.contains("ext_0"), "{listed}");
}
