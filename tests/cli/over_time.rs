//! Issue 25: paytrack right over time — re-runs, re-imports and cron nights
//! never change a figure, move a booking to another person, or make a mass
//! change nobody decided.

use crate::harness::{code, csv_rows, Env};

/// Two bookings of one stream priced 30,000.00 RUB (user 100 and 200).
fn two_bookings() -> Env {
    let env = Env::new();
    let file = env.write(
        "old.csv",
        "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at,referral_code,discount_percent\n\
         1,100,anna,Анна,1,s1,1,2024-12-01 10:00:00+00,,\n\
         2,200,boris,Борис,1,s1,1,2024-12-01 11:00:00+00,,\n",
    );
    env.ok(&["bookings", "import", &file]);
    env.exec(
        "UPDATE streams SET price_minor = 3000000, currency = 'RUB' WHERE course_id = 1 AND code = 's1'",
    );
    env
}

/// (booking_id, outcome, expected, received, booking_confirmed) of the report's attention rows.
fn figures(csv: &str) -> Vec<[String; 5]> {
    let rows = csv_rows(csv);
    let columns = [
        "booking_id",
        "outcome",
        "expected",
        "received",
        "booking_confirmed",
    ]
    .map(|name| rows[0].iter().position(|c| c == name).unwrap());
    rows[1..]
        .iter()
        .map(|row| columns.map(|c| row[c].clone()))
        .collect()
}

#[test]
fn a_reimported_bank_file_reports_the_same_figures() {
    let env = two_bookings();
    let bank = env.write(
        "bank.csv",
        "external_id,provider,booking_id,amount,currency\n\
         p1,bank,1,15000,RUB\n\
         p2,bank,2,35000,RUB\n",
    );
    let first = env.run(&["payments", "import", &bank, "--csv"]);
    assert_eq!(first.status.code(), Some(code::ATTENTION));
    let first_csv = String::from_utf8(first.stdout).unwrap();
    let expected = vec![
        ["1", "partial", "30000.00", "15000.00", "false"].map(String::from),
        ["2", "overpaid", "30000.00", "35000.00", "true"].map(String::from),
    ];
    assert_eq!(figures(&first_csv), expected, "{first_csv}");
    let first_table = String::from_utf8(env.run(&["payments", "import", &bank]).stdout).unwrap();
    for again in 0..2 {
        let out = env.run(&["payments", "import", &bank, "--csv"]);
        let csv = String::from_utf8(out.stdout).unwrap();
        assert_eq!(figures(&csv), expected, "re-run {again}: {csv}");
    }
    // The table says the true overpayment, never the whole payment, on every run.
    let table = String::from_utf8(env.run(&["payments", "import", &bank]).stdout).unwrap();
    for text in [&first_table, &table] {
        assert!(text.contains("return 5000.00 RUB"), "{text}");
        assert!(!text.contains("return 35000.00"), "{text}");
        assert!(text.contains("paid 15000.00 RUB of 30000.00 RUB"), "{text}");
        assert!(text.contains("booking confirmed"), "{text}");
    }
}

const HEADER: &str = "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at,referral_code,discount_percent\n";

/// The people of bookings 1 and 2, as (user_id, username).
fn people(env: &Env) -> Vec<Vec<Option<String>>> {
    env.query_rows("SELECT id, user_id, username FROM bookings WHERE id IN (1, 2) ORDER BY id")
}

#[test]
fn a_reimport_never_moves_an_imported_booking_to_another_person() {
    let env = two_bookings();
    let bank = env.write(
        "bank.csv",
        "external_id,provider,booking_id,amount,currency\np1,bank,1,30000,RUB\n",
    );
    env.ok(&["payments", "import", &bank]);
    let before = people(&env);
    let swapped = env.write(
        "swapped.csv",
        format!(
            "{HEADER}1,200,boris,Борис,1,s1,1,2024-12-01 10:00:00+00,,\n\
             2,100,anna,Анна,1,s1,1,2024-12-01 11:00:00+00,,\n"
        ),
    );
    for extra in [
        &[][..],
        &["--force", "--reason", "the old system is right"][..],
    ] {
        let mut args = vec!["bookings", "import", swapped.as_str()];
        args.extend_from_slice(extra);
        let out = env.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code::ATTENTION),
            "{extra:?}: {stderr}"
        );
        assert!(stderr.contains("2 conflicts"), "{extra:?}: {stderr}");
        assert_eq!(people(&env), before, "{extra:?}: nobody changes person");
    }
    // User 100's payment stays on user 100's booking.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE b.user_id = 100"),
        1
    );
    env.ok(&["stats", "verify"]);
}

#[test]
fn a_conflict_settled_with_accept_ours_stays_settled() {
    let env = two_bookings();
    // Paytrack confirmed booking 1 (paid); the old system cancels it, and gave id 2 to another person.
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    let changed = env.write(
        "changed.csv",
        format!(
            "{HEADER}1,100,anna,Анна,1,s1,-1,2024-12-01 10:00:00+00,,\n\
             2,300,vera,Вера,1,s1,1,2024-12-01 11:00:00+00,,\n"
        ),
    );
    let report = env.path("conflicts.csv");
    let report = report.to_str().unwrap();
    let out = env.run(&["bookings", "import", &changed, "--report", report]);
    assert_eq!(
        out.status.code(),
        Some(code::ATTENTION),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(csv_rows(&std::fs::read_to_string(report).unwrap()).len(), 3);
    // The same report path again: its own earlier report is replaced.
    let out = env.run(&["bookings", "import", &changed, "--report", report]);
    assert_eq!(
        out.status.code(),
        Some(code::ATTENTION),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A file paytrack did not write is never replaced.
    let other = env.write("notes.csv", "my own notes\n");
    env.fails(
        &["bookings", "import", &changed, "--report", &other],
        code::BAD_INPUT,
    );
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "my own notes\n");
    // An id the file does not have: bad input, nothing settled.
    env.fails(
        &["bookings", "import", &changed, "--accept-ours", "7"],
        code::BAD_INPUT,
    );
    let before = people(&env);
    let out = env.run(&[
        "bookings",
        "import",
        &changed,
        "--accept-ours",
        "1,2",
        "--report",
        report,
    ]);
    assert_eq!(
        out.status.code(),
        Some(code::OK),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        csv_rows(&std::fs::read_to_string(report).unwrap()).len(),
        1,
        "no conflicts left"
    );
    assert_eq!(people(&env), before);
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 1"), 2);
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM audit_log WHERE CAST(details AS TEXT) LIKE '%accepted_ours%'"
        ),
        1,
        "the settlement is audited"
    );
    // Settled for good: the hourly re-import exits 0.
    for _ in 0..2 {
        env.ok(&["bookings", "import", &changed]);
    }
    assert_eq!(people(&env), before);
    // The old system then cancels its own booking 2 (Вера's): Борис's booking stays.
    let later = env.write(
        "later.csv",
        format!(
            "{HEADER}1,100,anna,Анна,1,s1,-1,2024-12-01 10:00:00+00,,\n\
             2,300,vera,Вера,1,s1,-1,2024-12-01 11:00:00+00,,\n"
        ),
    );
    env.ok(&["bookings", "import", &later]);
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 2"), 1);
    // Giving id 2 to yet another person is a new conflict.
    let again = env.write(
        "again.csv",
        format!(
            "{HEADER}1,100,anna,Анна,1,s1,-1,2024-12-01 10:00:00+00,,\n\
             2,400,gleb,Глеб,1,s1,1,2024-12-01 11:00:00+00,,\n"
        ),
    );
    let out = env.run(&["bookings", "import", &again]);
    assert_eq!(out.status.code(), Some(code::ATTENTION));
    assert_eq!(people(&env), before);
    env.ok(&["audit", "verify"]);
    env.ok(&["stats", "verify"]);
}

/// Runs paytrack at another "now" than the harness's.
fn run_at(env: &Env, now: &str, args: &[&str]) -> std::process::Output {
    env.cmd()
        .env("PAYTRACK_NOW", now)
        .args(args)
        .output()
        .unwrap()
}

/// The old system's backlog: `n` pending bookings created a month before the
/// switchover (the harness's NOW), on stream s1, users 1000…
fn backlog(n: usize) -> Env {
    let env = Env::new();
    let mut csv = HEADER.to_string();
    for i in 1..=n {
        csv += &format!(
            "{i},{},u{i},Имя{i},1,s1,1,2024-11-01 10:00:00+00,,\n",
            1000 + i
        );
    }
    let file = env.write("old.csv", csv);
    env.ok(&["bookings", "import", &file]);
    env
}

fn pending(env: &Env) -> i64 {
    env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 1")
}

#[test]
fn the_first_night_after_the_switchover_cancels_and_reminds_nobody() {
    let env = backlog(12);
    let cancel = [
        "bookings",
        "set-status",
        "--status",
        "pending",
        "--older-than",
        "7d",
        "--to",
        "cancelled",
        "--reason",
        "unpaid",
        "--yes",
        "--no-notify",
    ];
    // The night after the import: every booking is 40 days old in the old
    // system, and known to paytrack for 15 hours.
    let night = "2024-12-11T03:15:00Z";
    let out = run_at(&env, night, &cancel);
    assert_eq!(
        out.status.code(),
        Some(code::OK),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pending(&env), 12, "nobody cancelled on the first night");
    let remind = ["bookings", "remind", "--older-than", "2d", "--json"];
    let out = run_at(&env, night, &remind);
    assert_eq!(out.status.code(), Some(code::OK));
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox"),
        0,
        "nobody reminded"
    );

    // Asked for by the old system's created_at: all 12, but above --max nothing changes.
    let mut by_created = cancel.to_vec();
    by_created.extend(["--by-created-at", "--max", "5"]);
    let before = env.snapshot();
    let out = run_at(&env, night, &by_created);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert!(
        stderr.contains("12") && stderr.contains("--max 5"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before, "above --max nothing changes");

    // Three days on, reminders are due for all 12: above --max, none is queued.
    let later = "2024-12-13T10:00:00Z";
    let out = run_at(
        &env,
        later,
        &["bookings", "remind", "--older-than", "2d", "--max", "10"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert!(
        stderr.contains("12") && stderr.contains("--max 10"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before);
    let out = run_at(
        &env,
        later,
        &["bookings", "remind", "--older-than", "2d", "--max", "12"],
    );
    assert_eq!(out.status.code(), Some(code::OK));
    assert_eq!(env.count("SELECT COUNT(*) FROM outbox"), 12);

    // A week and a day after the import, the stale-cancel takes them, within --max.
    let week = "2024-12-18T13:00:00Z";
    let mut capped = cancel.to_vec();
    capped.extend(["--max", "12"]);
    let out = run_at(&env, week, &capped);
    assert_eq!(
        out.status.code(),
        Some(code::OK),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pending(&env), 0);
    env.ok(&["audit", "verify"]);
}

#[test]
fn a_broadcast_and_a_list_of_ids_above_max_change_nothing() {
    let env = backlog(4);
    let ids = env.write("ids.txt", "1\n2\n3\n");
    let before = env.snapshot();
    let out = env.run(&[
        "booking",
        "set-status",
        "--ids-from",
        &ids,
        "--to",
        "confirmed",
        "--yes",
        "--max",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert!(
        stderr.contains('3') && stderr.contains("--max 2"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before);
    let text = env.write("start.txt", "Старт {first_name}!");
    let out = env.run(&[
        "streams",
        "broadcast",
        "s1",
        "--status",
        "pending",
        "--text-file",
        &text,
        "--yes",
        "--max",
        "3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert!(
        stderr.contains('4') && stderr.contains("--max 3"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before);
    env.ok(&[
        "streams",
        "broadcast",
        "s1",
        "--status",
        "pending",
        "--text-file",
        &text,
        "--yes",
        "--max",
        "4",
    ]);
    assert_eq!(env.count("SELECT COUNT(*) FROM outbox"), 4);
}

#[test]
fn a_bulk_edit_and_a_bulk_outbox_cancel_above_max_change_nothing() {
    let env = backlog(4);
    let ids = env.write("ids.txt", "1\n2\n3\n");
    let before = env.snapshot();
    let out = env.run(&[
        "bookings",
        "edit",
        "--ids-from",
        &ids,
        "--stream",
        "s2",
        "--create-stream",
        "--max",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert!(
        stderr.contains('3') && stderr.contains("--max 2"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before);
    let out = run_at(
        &env,
        "2024-12-13T10:00:00Z",
        &["bookings", "remind", "--older-than", "2d"],
    );
    assert_eq!(out.status.code(), Some(code::OK));
    let queued = env.snapshot();
    let out = env.run(&[
        "outbox", "cancel", "--kind", "reminder", "--yes", "--max", "3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert!(
        stderr.contains('4') && stderr.contains("--max 3"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), queued);
    env.ok(&[
        "outbox", "cancel", "--kind", "reminder", "--yes", "--max", "4",
    ]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'"),
        0
    );
}

#[test]
fn an_id_the_file_gives_twice_can_be_settled_for_good() {
    let env = two_bookings();
    let twice = env.write(
        "twice.csv",
        format!(
            "{HEADER}1,100,anna,Анна,1,s1,1,2024-12-01 10:00:00+00,,\n\
             2,200,boris,Борис,1,s1,1,2024-12-01 11:00:00+00,,\n\
             3,300,vera,Вера,1,s1,1,2024-12-02 11:00:00+00,,\n\
             2,400,gleb,Глеб,1,s1,2,2024-12-02 12:00:00+00,,\n\
             4,500,dina,Дина,1,s1,1,2024-12-02 13:00:00+00,,\n"
        ),
    );
    let before = env.snapshot();
    let err = env.fails(&["bookings", "import", &twice], code::BAD_INPUT);
    assert!(
        err.contains("booking id 2 already appears on line 3") && err.contains("--accept-ours 2"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before, "nothing imported");
    let out = env.run(&["bookings", "import", &twice, "--accept-ours", "2"]);
    assert_eq!(
        out.status.code(),
        Some(code::OK),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The other rows came in; neither row of id 2 was applied.
    assert_eq!(env.count("SELECT COUNT(*) FROM bookings"), 4);
    assert_eq!(
        people(&env)[1],
        [Some("2".into()), Some("200".into()), Some("boris".into())]
    );
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 2"), 1);
    // Every later import (the hourly cron, without the flag) leaves id 2 out.
    for _ in 0..2 {
        let out = env.run(&["bookings", "import", &twice]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code::OK), "{stderr}");
        assert!(stderr.contains("gives twice, settled before"), "{stderr}");
    }
    assert_eq!(
        people(&env)[1],
        [Some("2".into()), Some("200".into()), Some("boris".into())]
    );
    // The old system fixes its export: id 2 once, as paytrack has it, is in step again.
    let fixed = env.write(
        "fixed.csv",
        format!(
            "{HEADER}1,100,anna,Анна,1,s1,1,2024-12-01 10:00:00+00,,\n\
             2,200,boris,Борис,1,s1,1,2024-12-01 11:00:00+00,,\n"
        ),
    );
    env.ok(&["bookings", "import", &fixed]);
    env.ok(&["bookings", "import", &fixed]);
    env.ok(&["audit", "verify"]);
    env.ok(&["stats", "verify"]);
}

#[test]
fn a_reimport_changing_more_than_max_bookings_changes_nothing() {
    let env = backlog(4);
    let mut csv = HEADER.to_string();
    for i in 1..=4 {
        csv += &format!(
            "{i},{},renamed{i},Имя{i},1,s1,-1,2024-11-01 10:00:00+00,,\n",
            1000 + i
        );
    }
    csv += "5,2000,new,Новый,1,s1,1,2024-12-09 10:00:00+00,,\n";
    let file = env.write("changed.csv", csv);
    let before = env.snapshot();
    let out = env.run(&["bookings", "import", &file, "--max", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert!(
        stderr.contains("4 bookings would change, more than --max 3"),
        "{stderr}"
    );
    assert_eq!(
        env.snapshot(),
        before,
        "nothing changed, the new row neither"
    );
    env.ok(&["bookings", "import", &file, "--max", "4"]);
    assert_eq!(pending(&env), 1, "four cancelled, one new");
}
