//! Issue 13: paytrack as the live system of record — re-imports that never
//! undo a payment, conflicts reported, forced imports audited.

use std::collections::BTreeSet;

use crate::harness::{code, csv_rows, fixture, Env, AUDIT_REVEALED};

fn legacy() -> String {
    fixture("legacy-bookings.csv").to_str().unwrap().to_string()
}

fn payments() -> String {
    fixture("payments.csv").to_str().unwrap().to_string()
}

/// A snapshot (`Env::snapshot`) without the sections of these tables, on
/// either backend (PostgreSQL's headers name the schema too).
fn without_tables(snapshot: &str, tables: &[&str]) -> String {
    let mut out = String::new();
    let mut keep = true;
    for line in snapshot.lines() {
        if let Some(header) = line.strip_prefix("== ") {
            let table = header.rsplit('.').next().unwrap();
            keep = !tables.contains(&table);
        }
        if keep {
            out += line;
            out.push('\n');
        }
    }
    out
}

/// Booking ids with this status code.
fn ids_with_status(env: &Env, code: i64) -> BTreeSet<i64> {
    env.query_rows(&format!(
        "SELECT id FROM bookings WHERE confirmed = {code} ORDER BY id"
    ))
    .into_iter()
    .map(|r| r[0].as_deref().unwrap().parse().unwrap())
    .collect()
}

use crate::harness::status_of;

/// The sample export with some cells changed: (booking id, column, new value).
fn edited_legacy(env: &Env, name: &str, edits: &[(i64, &str, &str)]) -> String {
    let text = std::fs::read_to_string(fixture("legacy-bookings.csv")).unwrap();
    let mut rows = csv_rows(&text);
    let header = rows[0].clone();
    for (id, column, value) in edits {
        let col = header.iter().position(|h| h == column).unwrap();
        let row = rows
            .iter_mut()
            .find(|r| r[0] == id.to_string())
            .expect("id in the sample");
        row[col] = (*value).to_string();
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r).unwrap();
    }
    env.write(name, w.into_inner().unwrap())
}

/// The sample imported, then the sample payments reconciled (bookings paid in paytrack).
fn paid_sample() -> Env {
    let env = Env::with_sample();
    let out = env.run(&["payments", "import", &payments()]);
    assert_eq!(
        out.status.code(),
        Some(code::ATTENTION),
        "the sample has two rows to look at"
    );
    env
}

#[test]
fn reimport_after_payments_keeps_every_confirmation() {
    let env = paid_sample();
    let confirmed = ids_with_status(&env, 2);
    let pending_in_file: Vec<i64> = {
        let text = std::fs::read_to_string(fixture("legacy-bookings.csv")).unwrap();
        csv_rows(&text)[1..]
            .iter()
            .filter(|r| r[6] == "1")
            .map(|r| r[0].parse().unwrap())
            .collect()
    };
    let paid_here: Vec<i64> = pending_in_file
        .iter()
        .copied()
        .filter(|id| confirmed.contains(id))
        .collect();
    assert!(
        paid_here.len() > 30,
        "payments confirmed bookings the file has as pending"
    );
    let status_entries =
        env.count("SELECT COUNT(*) FROM audit_log WHERE action = 'booking.status_changed'");

    // The defect: this re-import used to put every paid booking back to pending.
    let out = env.run(&["bookings", "import", &legacy()]);
    assert_eq!(out.status.code(), Some(code::OK));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0 updated") && stderr.contains("0 conflicts"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{} changed in paytrack since the last import kept their status",
            paid_here.len()
        )),
        "{stderr}"
    );
    assert_eq!(
        ids_with_status(&env, 2),
        confirmed,
        "every confirmed booking stays confirmed"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log WHERE action = 'booking.status_changed'"),
        status_entries
    );
    env.ok(&["stats", "verify"]);
    env.ok(&["audit", "verify"]);
}

#[test]
fn conflicts_only_where_the_file_truly_disagrees() {
    let env = paid_sample();
    let confirmed = ids_with_status(&env, 2);
    let cancelled = ids_with_status(&env, -1);
    let text = std::fs::read_to_string(fixture("legacy-bookings.csv")).unwrap();
    let file_rows = csv_rows(&text);
    let file_status = |id: i64| -> String {
        file_rows.iter().find(|r| r[0] == id.to_string()).unwrap()[6].clone()
    };
    // Paid in paytrack, pending in the file, and now cancelled in the old system.
    let paid = *confirmed
        .iter()
        .find(|&&id| file_status(id) == "1")
        .unwrap();
    // Pending in both, and now paid in the old system: an allowed change.
    let pending = *ids_with_status(&env, 1)
        .iter()
        .find(|&&id| file_status(id) == "1")
        .unwrap();
    // Cancelled in both, and now confirmed in the old system: refused.
    let was_cancelled = *cancelled
        .iter()
        .find(|&&id| file_status(id) == "-1")
        .unwrap();
    // Confirmed in both; the old system renamed the student.
    let renamed = *confirmed
        .iter()
        .find(|&&id| file_status(id) == "2")
        .unwrap();
    let old_name = env
        .query_text(&format!(
            "SELECT username FROM bookings WHERE id = {renamed}"
        ))
        .unwrap();
    let file = edited_legacy(
        &env,
        "changed.csv",
        &[
            (paid, "confirmed", "-1"),
            (pending, "confirmed", "2"),
            (was_cancelled, "confirmed", "2"),
            (renamed, "username", "=HYPERLINK(\"x\")"),
        ],
    );
    let report = env.path("conflicts.csv");
    let out = env.run(&[
        "bookings",
        "import",
        &file,
        "--report",
        report.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert!(stderr.contains("2 conflicts"), "{stderr}");
    let rows = csv_rows(&std::fs::read_to_string(&report).unwrap());
    assert_eq!(
        rows[0],
        [
            "line",
            "booking_id",
            "paytrack_status",
            "file_status",
            "why"
        ]
    );
    let mut conflicted: Vec<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
        .collect();
    conflicted.sort();
    let mut want = vec![
        (
            paid.to_string(),
            "confirmed".to_string(),
            "cancelled".to_string(),
        ),
        (
            was_cancelled.to_string(),
            "cancelled".to_string(),
            "confirmed".to_string(),
        ),
    ];
    want.sort();
    assert_eq!(conflicted, want);
    let paid_row = rows.iter().find(|r| r[1] == paid.to_string()).unwrap();
    assert!(paid_row[4].contains("needs --reason"), "{paid_row:?}");
    // The line is the file's line: the header is line 1.
    let line: usize = paid_row[0].parse().unwrap();
    let file_text = std::fs::read_to_string(&file).unwrap();
    assert!(file_text
        .lines()
        .nth(line - 1)
        .unwrap()
        .starts_with(&format!("{paid},")));

    // Refused changes were not applied; the allowed one and the rename were.
    assert_eq!(status_of(&env, paid), 2);
    assert_eq!(status_of(&env, was_cancelled), -1);
    assert_eq!(status_of(&env, pending), 2);
    let edited = &env.query_rows(&format!(
        "SELECT old_value, new_value FROM {AUDIT_REVEALED} WHERE action = 'booking.edited' AND booking_id = {renamed}"
    ))[0];
    let (old_value, new_value) = (edited[0].clone().unwrap(), edited[1].clone().unwrap());
    assert!(
        old_value.contains(&old_name) && new_value.contains("HYPERLINK"),
        "{old_value} → {new_value}"
    );
    let mut expected_confirmed = confirmed.clone();
    expected_confirmed.insert(pending);
    assert_eq!(ids_with_status(&env, 2), expected_confirmed);

    // The same file again: the conflicts are still conflicts (not silently
    // accepted), and nothing else changes.
    let without_audit =
        |snapshot: String| without_tables(&snapshot, &["audit_log", "audit_personal"]);
    let before = env.snapshot();
    let entries = env.count("SELECT COUNT(*) FROM audit_log");
    let out = env.run(&["bookings", "import", &file]);
    assert_eq!(out.status.code(), Some(code::ATTENTION));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 conflicts"));
    assert_eq!(without_audit(env.snapshot()), without_audit(before));
    // Only the import's own entry was added.
    assert_eq!(env.count("SELECT COUNT(*) FROM audit_log"), entries + 1);

    // An admin settles one with a reason, through the rules; the other stays.
    env.ok(&[
        "booking",
        "set-status",
        &paid.to_string(),
        "cancelled",
        "--reason",
        "refund in the old system",
    ]);
    let out = env.run(&["bookings", "import", &file]);
    assert_eq!(out.status.code(), Some(code::ATTENTION));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 conflicts"));
    env.ok(&["stats", "verify"]);
    env.ok(&["audit", "verify"]);
}

#[test]
fn a_forced_reimport_takes_the_files_statuses_as_forced() {
    let env = paid_sample();
    let confirmed = ids_with_status(&env, 2);
    let text = std::fs::read_to_string(fixture("legacy-bookings.csv")).unwrap();
    let file_confirmed: BTreeSet<i64> = csv_rows(&text)[1..]
        .iter()
        .filter(|r| r[6] == "2")
        .map(|r| r[0].parse().unwrap())
        .collect();
    let reverted = confirmed.difference(&file_confirmed).count() as i64;
    assert!(reverted > 30);

    env.fails(&["bookings", "import", &legacy(), "--force"], code::USAGE);
    let dry = env.snapshot();
    let out = env.run(&[
        "bookings",
        "import",
        &legacy(),
        "--force",
        "--reason",
        "old system wins",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(code::OK));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{reverted} forced")));
    assert_eq!(env.snapshot(), dry, "a dry run writes nothing");

    env.ok(&[
        "bookings",
        "import",
        &legacy(),
        "--force",
        "--reason",
        "old system wins",
    ]);
    assert_eq!(ids_with_status(&env, 2), file_confirmed);
    // JSON true is 1 to SQLite's json_extract, 'true' to PostgreSQL's (text).
    let forced = env.count(&format!(
        "SELECT COUNT(*) FROM {AUDIT_REVEALED} WHERE action = 'booking.status_changed'
           AND old_value = 'confirmed' AND new_value = 'pending'
           AND reason = 'old system wins'
           AND CAST(json_extract(details, '$.forced') AS TEXT) IN ('1', 'true')
           AND json_extract(details, '$.source') = 'bookings import'"
    ));
    assert_eq!(forced, reverted);
    env.ok(&["stats", "verify"]);
    env.ok(&["audit", "verify"]);
}

#[test]
fn a_report_is_never_written_through_a_link_or_over_a_directory() {
    let env = paid_sample();
    let file = edited_legacy(&env, "changed.csv", &[(3, "confirmed", "1")]);
    let before = env.snapshot();
    let dir = env.path("a-dir");
    std::fs::create_dir(&dir).unwrap();
    let err = env.fails(
        &[
            "bookings",
            "import",
            &file,
            "--report",
            dir.to_str().unwrap(),
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("is a directory"), "{err}");
    let target = env.path("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = env.path("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    env.fails(
        &[
            "bookings",
            "import",
            &file,
            "--report",
            link.to_str().unwrap(),
        ],
        code::BAD_INPUT,
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert_eq!(
        env.snapshot(),
        before,
        "a refused report target changes nothing"
    );

    // An existing file is not replaced (--force here means the file's statuses).
    let report = env.path("report.csv");
    std::fs::write(&report, "old").unwrap();
    let err = env.fails(
        &[
            "bookings",
            "import",
            &file,
            "--report",
            report.to_str().unwrap(),
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("exists; name a new report file"), "{err}");
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "old");
    assert_eq!(env.snapshot(), before, "nothing imported either");

    // A new file is written whole; no temp file is left behind.
    let report = env.path("new-report.csv");
    let out = env.run(&[
        "bookings",
        "import",
        &file,
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(code::ATTENTION));
    let rows = csv_rows(&std::fs::read_to_string(&report).unwrap());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][1], "3");
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn dry_run_shows_conflicts_and_writes_nothing() {
    let env = paid_sample();
    let file = edited_legacy(
        &env,
        "changed.csv",
        &[(3, "confirmed", "1"), (1, "first_name", "Оля")],
    );
    let before = env.snapshot();
    let out = env.run(&["bookings", "import", &file, "--dry-run"]);
    assert_eq!(out.status.code(), Some(code::ATTENTION));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dry run, nothing written"), "{stderr}");
    assert!(
        stderr.contains("1 updated") && stderr.contains("1 conflicts"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("undo with"),
        "a dry run is not an operation: {stderr}"
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn an_id_paytrack_gave_to_another_person_is_a_conflict_not_an_overwrite() {
    let env = Env::new();
    env.ok(&["courses", "add", "1", "--name", "Вайб кодинг"]);
    env.ok(&["streams", "add", "3rd_stream", "--course", "1"]);
    // The bot booked in paytrack while the old system was still taking bookings.
    let id = env.ok(&[
        "bookings",
        "add",
        "--user-id",
        "42",
        "--username",
        "bot_user",
        "--course",
        "1",
        "--stream",
        "3rd_stream",
    ]);
    assert_eq!(id.trim(), "1");
    let out = env.run(&["bookings", "import", &legacy()]);
    assert_eq!(out.status.code(), Some(code::ATTENTION));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the same id was given twice") && stderr.contains("1 conflicts"),
        "{stderr}"
    );
    assert_eq!(
        env.query_rows("SELECT user_id, username FROM bookings WHERE id = 1"),
        [[Some("42".to_string()), Some("bot_user".to_string())]],
        "the bot's booking is kept"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings"),
        400,
        "the other 399 rows came in"
    );
    env.ok(&["stats", "verify"]);
}

/// Runs examples/cron/sync-old-system.sh against this env's database; the
/// "export" copies `export` (so no PostgreSQL is needed).
fn sync_script(env: &Env, export: &str) -> std::process::Output {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cron/sync-old-system.sh");
    let mut cmd = std::process::Command::new("bash");
    cmd.env_clear();
    for (key, value) in env.std_cmd().get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    cmd.env("PAYTRACK", assert_cmd::cargo::cargo_bin("paytrack"))
        .env("LOCK_DIR", env.dir.path())
        .env("TMPDIR", env.dir.path())
        .env("REPORT_DIR", env.path("reports"))
        .env("EXPORT_COMMAND", format!("cp '{export}'"))
        .arg(script)
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(
    not(have_flock),
    ignore = "needs bash and flock for the cron scripts (apt-get install -y util-linux; bash .ci/run installs it)"
)]
fn the_side_by_side_cron_script_syncs_and_reports_conflicts() {
    let env = paid_sample();
    let out = sync_script(&env, &legacy());
    assert_eq!(
        out.status.code(),
        Some(code::OK),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("in step with the old system"));
    assert!(ids_with_status(&env, 2).len() > 250, "payments kept");
    let changed = edited_legacy(&env, "changed.csv", &[(3, "confirmed", "1")]);
    let out = sync_script(&env, &changed);
    assert_eq!(
        out.status.code(),
        Some(code::ATTENTION),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<_> = std::fs::read_dir(env.path("reports"))
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(reports.len(), 1);
    let rows = csv_rows(&std::fs::read_to_string(reports[0].path()).unwrap());
    assert_eq!(rows[1][1], "3");
    let leftovers = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("old-bookings"))
        .count();
    assert_eq!(leftovers, 0, "the export is removed");
}

#[test]
fn a_database_imported_before_the_upgrade_keeps_its_payments_too() {
    // Imported and paid with a paytrack that kept no import state: the first
    // re-import after the upgrade reads what the file said from the audit log.
    let env = paid_sample();
    env.exec("DELETE FROM import_state");
    let confirmed = ids_with_status(&env, 2);
    let out = env.run(&["bookings", "import", &legacy()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::OK), "{stderr}");
    assert!(
        stderr.contains("0 conflicts") && stderr.contains("kept their status"),
        "{stderr}"
    );
    assert_eq!(ids_with_status(&env, 2), confirmed);
    // From now on the state is kept as usual.
    assert_eq!(env.count("SELECT COUNT(*) FROM import_state"), 400);
    env.ok(&["bookings", "import", &legacy()]);
    assert_eq!(ids_with_status(&env, 2), confirmed);
}

#[test]
fn an_erased_person_stays_erased_through_re_imports() {
    let env = Env::with_sample();
    // Booking 1 is user 5695818424, @user_18424, Ольга.
    env.ok(&[
        "users",
        "erase",
        "5695818424",
        "--reason",
        "request",
        "--yes",
    ]);
    let remembered = |env: &Env| -> String {
        env.query_text("SELECT fields FROM import_state WHERE booking_id = 1")
            .unwrap()
    };
    assert!(
        !remembered(&env).contains("user_18424"),
        "the import memory is erased too"
    );
    let out = env.run(&["bookings", "import", &legacy()]);
    assert_eq!(
        out.status.code(),
        Some(code::OK),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = &env.query_rows("SELECT username, first_name FROM bookings WHERE id = 1")[0];
    let (username, first_name) = (row[0].clone().unwrap(), row[1].clone());
    assert!(
        username.starts_with("erased-") && first_name.is_none(),
        "{username} {first_name:?}"
    );
    assert!(!remembered(&env).contains("user_18424") && !remembered(&env).contains("Ольга"));
    env.ok(&["audit", "verify"]);
}

/// Issue 19: the ids seen so far are kept as runs, not a map of every row.
/// An id given twice is still refused with the line it first appeared on,
/// in order or not, and nothing is written.
#[test]
fn an_id_given_twice_names_its_first_line_in_order_or_not() {
    let env = Env::new();
    let before = env.snapshot();
    let header = "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at\n";
    let row = |id: i64| format!("{id},{},u{id},N,1,s,1,2024-12-01 10:00:00+03\n", 100 + id);
    for (name, ids, repeated, first_line, line) in [
        ("in-order.csv", vec![1, 2, 3, 4, 2], 2, 3, 6),
        ("gaps.csv", vec![10, 11, 20, 21, 22, 21], 21, 5, 7),
        ("shuffled.csv", vec![30, 31, 5, 40, 6, 5], 5, 4, 7),
    ] {
        let text: String = std::iter::once(header.to_string())
            .chain(ids.iter().map(|&id| row(id)))
            .collect();
        let file = env.write(name, text);
        let err = env.fails(&["bookings", "import", &file], code::BAD_INPUT);
        assert!(
            err.contains(&format!(
                "line {line}: booking id {repeated} already appears on line {first_line}"
            )),
            "{name}: {err}"
        );
        assert_eq!(env.snapshot(), before, "{name}");
    }
}
