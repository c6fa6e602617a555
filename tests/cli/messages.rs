//! Issue 14: messages an admin controls — no message nobody asked for,
//! withdrawal, outbox show/cancel/retry, delivery edge cases, render at send
//! time, templates, reminders and broadcasts.

use std::time::Duration;

use crate::harness::{code, Env, NOW};
use crate::outbox::{
    assert_exit, at, attempts_of, audit_count, confirm, env_with_pending, field, quoted, run_at,
    status_of, text, FakeBot, Reply, TOKEN,
};

fn outbox_count(env: &Env, filter: &str) -> i64 {
    env.count(&format!("SELECT COUNT(*) FROM outbox WHERE {filter}"))
}

/// A payments file paying `ids` in full (30000 RUB each).
fn payments_file(env: &Env, ids: impl IntoIterator<Item = i64>) -> String {
    let mut csv = String::from("external_id,provider,booking_id,amount,currency\n");
    for id in ids {
        csv += &format!("p{id},yookassa,{id},30000.00,RUB\n");
    }
    env.write("payments.csv", csv)
}

fn priced(n: i64) -> Env {
    let env = env_with_pending(n);
    env.ok(&[
        "streams",
        "edit",
        "8th_stream",
        "--price",
        "30000",
        "--currency",
        "RUB",
    ]);
    env
}

#[test]
fn a_historical_import_with_no_notify_queues_nothing() {
    let env = priced(5);
    let file = payments_file(&env, 1..=5);
    env.ok(&["payments", "import", &file, "--no-notify"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2"),
        5
    );
    assert_eq!(outbox_count(&env, "true"), 0);

    // The same import without the flag queues one message per confirmation.
    let other = priced(5);
    let file = payments_file(&other, 1..=5);
    other.ok(&["payments", "import", &file]);
    assert_eq!(outbox_count(&other, "kind = 'confirmation'"), 5);
}

#[test]
fn bulk_set_status_with_no_notify_queues_nothing() {
    let env = env_with_pending(4);
    let ids = env.write("ids.txt", "1\n2\n");
    env.ok(&[
        "bookings",
        "set-status",
        "--ids-from",
        &ids,
        "--to",
        "confirmed",
        "--no-notify",
    ]);
    env.ok(&[
        "bookings",
        "set-status",
        "--status",
        "pending",
        "--to",
        "confirmed",
        "--yes",
        "--no-notify",
    ]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2"),
        4
    );
    assert_eq!(outbox_count(&env, "true"), 0);
}

#[test]
fn confirm_cancel_confirm_yields_one_pending_confirmation_and_one_withdrawn() {
    let env = env_with_pending(2);
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    env.ok(&[
        "booking",
        "set-status",
        "1",
        "cancelled",
        "--reason",
        "by mistake",
    ]);
    assert_eq!(status_of(&env, 1), "withdrawn");
    env.ok(&["booking", "set-status", "1", "pending"]);
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    assert_eq!(
        outbox_count(
            &env,
            "booking_id = 1 AND kind = 'confirmation' AND status = 'pending'"
        ),
        1
    );
    assert_eq!(
        outbox_count(
            &env,
            "booking_id = 1 AND kind = 'confirmation' AND status = 'withdrawn'"
        ),
        1
    );
    // Nothing was ever sent, so no cancellation notice either.
    assert_eq!(outbox_count(&env, "kind = 'cancellation'"), 0);
    assert_eq!(audit_count(&env, "message.withdrawn"), 1);
    // Reverting to pending withdraws too; the drain sends nothing withdrawn.
    env.ok(&[
        "booking",
        "set-status",
        "1",
        "pending",
        "--force",
        "--reason",
        "undo",
    ]);
    assert_eq!(outbox_count(&env, "status = 'withdrawn'"), 2);
    let sent = env.path("sent");
    let script = format!("echo $PAYTRACK_MESSAGE_ID >> '{}'", sent.display());
    env.ok(&["outbox", "drain", "--exec", &script]);
    assert!(!sent.exists(), "a withdrawn message was sent");
    env.ok(&["audit", "verify"]);
}

#[test]
fn cancelling_after_a_sent_confirmation_tells_the_student() {
    let env = env_with_pending(1);
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    env.ok(&["outbox", "drain", "--exec", "cat > /dev/null"]);
    assert_eq!(status_of(&env, 1), "sent");
    env.ok(&[
        "booking",
        "set-status",
        "1",
        "cancelled",
        "--reason",
        "refund",
    ]);
    assert_eq!(
        outbox_count(&env, "kind = 'cancellation' AND status = 'pending'"),
        1
    );
    assert_eq!(status_of(&env, 1), "sent", "a sent message stays sent");
    let body = field(&env, 2, "body");
    assert!(body.contains("отменена") && body.contains("Имя1"), "{body}");
    // Restored before the notice went out: the notice is withdrawn.
    env.ok(&["booking", "set-status", "1", "pending"]);
    assert_eq!(status_of(&env, 2), "withdrawn");
}

#[test]
fn the_schema_check_list_matches_the_message_status_enum() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: sqlite_master
    }
    let env = Env::new();
    let sql: String = env
        .sql()
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let start = sql.find("CHECK (status IN (").expect("a CHECK on status") + 18;
    let end = start + sql[start..].find(')').unwrap();
    let in_schema: Vec<String> = sql[start..end]
        .split(',')
        .map(|s| s.trim().trim_matches('\'').to_string())
        .collect();
    let in_code: Vec<String> = paytrack::domain::message::MessageStatus::ALL
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    assert_eq!(in_schema, in_code);
}

#[test]
fn an_exec_command_that_cannot_run_stops_at_once_and_uses_no_attempts() {
    let env = env_with_pending(3);
    confirm(&env, 1..=3);
    let before = env.snapshot();
    for command in ["/nonexistent/send-message", "exit 126"] {
        let out = env.fails(&["outbox", "drain", "--exec", command], code::CHANNEL);
        assert!(out.contains("cannot run"), "{out}");
        for id in 1..=3 {
            assert_eq!(
                (status_of(&env, id), attempts_of(&env, id)),
                ("pending".into(), 0)
            );
        }
    }
    // Only the last error text is new; nothing is due later than before.
    assert_eq!(
        outbox_count(
            &env,
            &format!("next_attempt_at > '{}'", "2024-12-10T12:00:01")
        ),
        0
    );
    assert_eq!(audit_count(&env, "message.failed"), 0);
    assert_ne!(env.snapshot(), before, "the error is kept on the message");
}

/// 1001 gets a 429 asking to wait about 584 billion years.
fn huge_retry_after(chat: i64, n: usize) -> Reply {
    match (chat, n) {
        (1001, 1) => Reply::Status(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":18446744073709551615}}"#,
        ),
        _ => Reply::Ok,
    }
}

#[test]
fn a_huge_retry_after_is_clamped_to_an_hour() {
    let env = env_with_pending(2);
    confirm(&env, 1..=2);
    let bot = FakeBot::start(huge_retry_after);
    let vars = [
        ("PAYTRACK_TELEGRAM_TOKEN", TOKEN),
        ("PAYTRACK_TELEGRAM_API", bot.url.as_str()),
    ];
    let out = run_at(&env, NOW, &vars, &["outbox", "drain", "--telegram"]);
    assert_exit(&out, code::OK);
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
    assert_eq!(
        (status_of(&env, 1), attempts_of(&env, 1)),
        ("pending".into(), 0)
    );
    let next = field(&env, 1, "next_attempt_at");
    assert!(
        next.as_str() <= "2024-12-10T13:00:01",
        "waits at most an hour: {next}"
    );
    assert!(
        next.as_str() >= "2024-12-10T12:59:59",
        "waits the clamp: {next}"
    );
    // An hour later both go out.
    let later = run_at(&env, &at(3700), &vars, &["outbox", "drain", "--telegram"]);
    assert_exit(&later, code::OK);
    assert_eq!(
        (status_of(&env, 1), status_of(&env, 2)),
        ("sent".into(), "sent".into())
    );
}

#[test]
fn ctrl_c_during_a_send_leaves_it_sent_and_recorded() {
    let env = env_with_pending(2);
    confirm(&env, 1..=2);
    let script = format!(
        "touch {}; cat > /dev/null; sleep 1; echo $PAYTRACK_MESSAGE_ID >> {}",
        quoted(&env, "started"),
        quoted(&env, "sent")
    );
    let child = env.spawn(&["outbox", "drain", "--exec", &script]);
    // Ctrl-C once the first send is under way (however slow the machine).
    let started = env.path("started");
    for _ in 0..200 {
        if started.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(started.exists(), "the send never started");
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe {
        libc::kill(libc::pid_t::try_from(child.id()).unwrap(), libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    // The message being sent finished and was recorded; the next was never claimed.
    assert_eq!(std::fs::read_to_string(env.path("sent")).unwrap(), "1\n");
    assert_eq!(status_of(&env, 1), "sent");
    assert_eq!(
        (status_of(&env, 2), attempts_of(&env, 2)),
        ("pending".into(), 0)
    );
}

#[test]
fn outbox_cancel_by_id_booking_and_kind_keeps_and_audits() {
    let env = env_with_pending(5);
    confirm(&env, 1..=5);
    // By id, with a reason.
    env.ok(&["outbox", "cancel", "1", "2", "--reason", "sent by hand"]);
    assert_eq!(
        (status_of(&env, 1), status_of(&env, 2)),
        ("cancelled".into(), "cancelled".into())
    );
    assert!(field(&env, 1, "last_error").contains("sent by hand"));
    assert_eq!(audit_count(&env, "message.cancelled"), 2);
    // All or nothing: an unknown id or a message already stopped changes nothing.
    let before = env.snapshot();
    env.fails(&["outbox", "cancel", "3", "99"], code::NOT_FOUND);
    env.fails(&["outbox", "cancel", "3", "1"], code::REFUSED);
    assert_eq!(env.snapshot(), before);
    // By booking.
    env.ok(&["outbox", "cancel", "--booking", "3"]);
    assert_eq!(status_of(&env, 3), "cancelled");
    // By kind: needs --yes.
    env.fails(
        &["outbox", "cancel", "--kind", "confirmed"],
        code::BAD_INPUT,
    );
    assert_eq!(status_of(&env, 4), "pending");
    env.ok(&[
        "outbox",
        "cancel",
        "--kind",
        "confirmed",
        "--status",
        "pending",
        "--yes",
    ]);
    assert_eq!(outbox_count(&env, "status = 'cancelled'"), 5);
    // Nothing cancelled is ever sent.
    let sent = env.path("sent");
    let script = format!("echo x >> '{}'", sent.display());
    env.ok(&["outbox", "drain", "--exec", &script]);
    assert!(!sent.exists());
}

#[test]
fn outbox_retry_puts_a_failed_message_back() {
    let env = env_with_pending(3);
    confirm(&env, 1..=2);
    let out = run_at(
        &env,
        NOW,
        &[],
        &["outbox", "drain", "--exec", "exit 3", "--max-attempts", "1"],
    );
    assert_exit(&out, code::ATTENTION);
    assert_eq!(status_of(&env, 1), "failed");
    env.fails(&["outbox", "retry", "1", "99"], code::NOT_FOUND);
    assert_eq!(status_of(&env, 1), "failed");
    env.ok(&["outbox", "retry", "1", "2"]);
    assert_eq!(
        (status_of(&env, 1), attempts_of(&env, 1)),
        ("pending".into(), 0)
    );
    assert_eq!(audit_count(&env, "message.retried"), 2);
    env.ok(&["outbox", "drain", "--exec", "cat > /dev/null"]);
    assert_eq!(status_of(&env, 1), "sent");
    // Only failed and cancelled messages can be retried; a withdrawn one stays withdrawn.
    env.fails(&["outbox", "retry", "1"], code::REFUSED);
    confirm(&env, [3]);
    env.ok(&["outbox", "cancel", "3"]);
    env.ok(&["outbox", "retry", "3"]);
    assert_eq!(status_of(&env, 3), "pending");
    env.ok(&["booking", "set-status", "3", "cancelled", "--reason", "r"]);
    assert_eq!(status_of(&env, 3), "withdrawn");
    env.fails(&["outbox", "retry", "3"], code::REFUSED);
}

#[test]
fn outbox_list_filters_by_status_kind_booking_user_and_stream() {
    let env = env_with_pending(4);
    // Booking 4 moves to another stream.
    env.ok(&["streams", "add", "9th_stream", "--course", "1"]);
    env.exec("UPDATE bookings SET course_stream = '9th_stream' WHERE id = 4");
    confirm(&env, 1..=4);
    env.ok(&["outbox", "cancel", "2"]);
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["outbox", "list", "--csv"];
        all.extend_from_slice(args);
        crate::harness::csv_rows(&env.ok(&all))
            .into_iter()
            .skip(1)
            .map(|r| r[0].clone())
            .collect()
    };
    assert_eq!(ids(&[]), ["4", "3", "2", "1"]);
    assert_eq!(ids(&["--status", "cancelled"]), ["2"]);
    assert_eq!(
        ids(&["--status", "pending", "--kind", "confirmed"]),
        ["4", "3", "1"]
    );
    assert_eq!(ids(&["--kind", "reminder"]), Vec::<String>::new());
    assert_eq!(ids(&["--booking", "3"]), ["3"]);
    assert_eq!(ids(&["--user", "1001"]), ["1"]);
    assert_eq!(ids(&["--stream", "9th_stream"]), ["4"]);
    assert_eq!(
        ids(&["--stream", "8th_stream", "--course", "1"]),
        ["3", "2", "1"]
    );
    env.fails(&["outbox", "list", "--stream", "nope"], code::NOT_FOUND);
}

/// Every text the fake Bot API received, in order.
fn texts(bot: &FakeBot) -> Vec<String> {
    bot.requests
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| body["text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_rename_after_queueing_changes_the_text_sent_and_show_sees_it_first() {
    let env = env_with_pending(2);
    // Booking 2 has no stream: no empty «()».
    env.exec("UPDATE bookings SET course_stream = NULL WHERE id = 2");
    confirm(&env, 1..=2);
    assert!(field(&env, 1, "body").contains("«Course 1»"));
    env.ok(&["courses", "edit", "1", "--name", "Вайб кодинг"]);
    env.ok(&["streams", "edit", "8th_stream", "--name", "8-й поток"]);
    let shown = env.ok(&["outbox", "show", "1"]);
    assert!(shown.contains("«Вайб кодинг» (8-й поток)"), "{shown}");
    // Listings show the start of a body (issue 20); --full-body shows it all.
    let listed = env.ok(&["outbox", "list", "--csv", "--full-body"]);
    assert!(listed.contains("«Вайб кодинг» (8-й поток)"), "{listed}");
    let bot = FakeBot::start(|_, _| Reply::Ok);
    let vars = [
        ("PAYTRACK_TELEGRAM_TOKEN", TOKEN),
        ("PAYTRACK_TELEGRAM_API", bot.url.as_str()),
    ];
    assert_exit(
        &run_at(&env, NOW, &vars, &["outbox", "drain", "--telegram"]),
        code::OK,
    );
    let sent = texts(&bot);
    assert_eq!(sent.len(), 2);
    assert!(sent[0].contains("«Вайб кодинг» (8-й поток)"), "{}", sent[0]);
    assert!(
        sent[1].contains("«Вайб кодинг» подтверждена"),
        "{}",
        sent[1]
    );
    assert!(!sent[1].contains("()"), "{}", sent[1]);
    // The exact text sent is on the row, and stays as sent after another rename.
    assert_eq!(field(&env, 1, "body"), sent[0]);
    env.ok(&["courses", "edit", "1", "--name", "Другое"]);
    assert!(env.ok(&["outbox", "show", "1"]).contains("Вайб кодинг"));
}

#[test]
fn bulk_cancel_by_filter_spares_part_paid_bookings_unless_asked() {
    let env = priced(3);
    // Booking 2 paid 10,000 of 30,000.
    let file = env.write(
        "partial.csv",
        "external_id,provider,booking_id,amount,currency\np2,bank,2,10000.00,RUB\n",
    );
    let out = env.run(&["payments", "import", &file]);
    assert_exit(&out, code::ATTENTION);
    let out = env.run(&[
        "bookings",
        "set-status",
        "--status",
        "pending",
        "--to",
        "cancelled",
        "--yes",
        "--json",
    ]);
    assert_exit(&out, code::OK);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("money received") && stderr.contains(": 2"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["spared_paid"], serde_json::json!([2]));
    let status = |id: i64| env.count(&format!("SELECT confirmed FROM bookings WHERE id = {id}"));
    assert_eq!((status(1), status(2), status(3)), (-1, 1, -1));
    // Named explicitly, it is cancelled.
    env.ok(&[
        "bookings",
        "set-status",
        "--status",
        "pending",
        "--to",
        "cancelled",
        "--yes",
        "--include-paid",
    ]);
    assert_eq!(status(2), -1);
}

#[test]
fn templates_with_unknown_placeholders_or_over_4096_characters_are_refused_when_saved() {
    let env = env_with_pending(1);
    let before = env.snapshot();
    let typo = env.write("typo.txt", "Привет, {frist_name}!");
    let err = env.fails(
        &[
            "courses", "template", "1", "--kind", "reminder", "--file", &typo,
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("{frist_name}"), "{err}");
    env.fails(
        &["courses", "edit", "1", "--template", &typo],
        code::BAD_INPUT,
    );
    // 4,040 characters plus a name of up to 64: could be 4,104.
    let long = env.write("long.txt", format!("{}{{first_name}}", "я".repeat(4040)));
    let err = env.fails(
        &[
            "courses", "template", "1", "--kind", "reminder", "--file", &long,
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("4096"), "{err}");
    assert_eq!(env.snapshot(), before);
    // Exactly 4,096 characters of plain text is fine.
    let full = env.write("full.txt", "я".repeat(4096));
    env.ok(&[
        "courses",
        "template",
        "1",
        "--kind",
        "broadcast",
        "--file",
        &full,
    ]);
    let shown = env.ok(&["courses", "template", "1", "--kind", "broadcast"]);
    assert_eq!(shown.trim_end().chars().count(), 4096);
}

#[test]
fn a_template_fix_and_a_chat_link_reach_a_queued_message() {
    let env = env_with_pending(1);
    confirm(&env, [1]);
    env.ok(&[
        "streams",
        "edit",
        "8th_stream",
        "--chat-link",
        "https://t.me/+AbCd",
    ]);
    env.fails(
        &[
            "streams",
            "edit",
            "8th_stream",
            "--chat-link",
            "javascript:x",
        ],
        code::USAGE,
    );
    let text = env.write("c.txt", "{first_name}, вы в потоке {stream}: {chat_link}");
    env.ok(&[
        "courses",
        "template",
        "1",
        "--kind",
        "confirmed",
        "--file",
        &text,
    ]);
    let sent = env.path("sent");
    let script = format!("cat >> '{}'", sent.display());
    env.ok(&["outbox", "drain", "--exec", &script]);
    let json: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&sent).unwrap().trim()).unwrap();
    assert_eq!(
        json["body"],
        "Имя1, вы в потоке 8th_stream: https://t.me/+AbCd"
    );
    assert_eq!(field(&env, 1, "body"), json["body"].as_str().unwrap());
    // Back to the default.
    env.ok(&["courses", "template", "1", "--kind", "confirmed", "--reset"]);
    assert!(env
        .ok(&["courses", "template", "1", "--kind", "confirmed"])
        .contains("подтверждена"));
}

fn block(env: &Env, user_id: i64) {
    env.exec(&format!(
        "INSERT INTO blocked_users (user_id, blocked_at, reason) VALUES ({user_id}, '2024-12-01T00:00:00.000000Z', 'test')"
    ));
}

#[test]
fn reminders_skip_blocked_students_and_respect_every_across_runs() {
    let env = priced(3);
    block(&env, 1003);
    let remind = |when: &str, extra: &[&str]| -> serde_json::Value {
        // The sample's bookings were imported at NOW: their age is the old system's (issue 25).
        let mut args = vec![
            "bookings",
            "remind",
            "--every",
            "3d",
            "--json",
            "--by-created-at",
        ];
        args.extend_from_slice(extra);
        if !extra.contains(&"--older-than") {
            args.extend_from_slice(&["--older-than", "2d"]);
        }
        let out = run_at(&env, when, &[], &args);
        assert_exit(&out, code::OK);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // A dry run shows who, and queues nothing.
    let dry = remind(NOW, &["--dry-run"]);
    assert_eq!(
        (dry["queued"].as_u64(), dry["skipped_blocked"].clone()),
        (Some(2), serde_json::json!([3]))
    );
    assert_eq!(outbox_count(&env, "true"), 0);
    env.fails(
        &[
            "bookings",
            "remind",
            "--status",
            "cancelled",
            "--older-than",
            "2d",
        ],
        code::BAD_INPUT,
    );
    // Too young: nothing.
    assert_eq!(remind(NOW, &["--older-than", "30d"])["queued"], 0);
    assert_eq!(remind(NOW, &[])["queued"], 2);
    // The first message queued (a dry run may use up ids on PostgreSQL, where
    // sequences are not transactional).
    let first = env.count("SELECT MIN(id) FROM outbox");
    assert!(
        field(&env, first, "body").contains("30000.00 RUB"),
        "{}",
        field(&env, first, "body")
    );
    // Again at once: both still unsent.
    assert_eq!(remind(NOW, &[])["queued"], 0);
    env.ok(&["outbox", "drain", "--exec", "cat > /dev/null"]);
    // A day later: reminded within 3 days.
    assert_eq!(remind(&at(86_400), &[])["queued"], 0);
    // Three days and a minute later: reminded again.
    let again = remind(&at(3 * 86_400 + 60), &[]);
    assert_eq!(again["queued"], 2);
    // Paying withdraws the unsent reminder.
    env.ok(&["booking", "set-status", "1", "confirmed", "--no-notify"]);
    assert_eq!(
        outbox_count(&env, "kind = 'reminder' AND status = 'withdrawn'"),
        1
    );
    assert_eq!(
        outbox_count(&env, "kind = 'reminder' AND status = 'pending'"),
        1
    );
    assert_eq!(audit_count(&env, "messages.queued"), 2);
}

#[test]
fn a_broadcast_with_a_key_run_twice_queues_once() {
    let env = env_with_pending(4);
    confirm(&env, 1..=3);
    env.ok(&["outbox", "cancel", "--kind", "confirmed", "--yes"]);
    block(&env, 1002);
    let text = env.write(
        "start.txt",
        "{first_name}, занятия начинаются в понедельник!",
    );
    let args = [
        "streams",
        "broadcast",
        "8th_stream",
        "--text-file",
        &text,
        "--key",
        "start",
        "--json",
    ];
    // Not on a terminal: --yes is needed, and nothing is queued without it.
    let before = env.snapshot();
    env.fails(&args, code::BAD_INPUT);
    assert_eq!(env.snapshot(), before);
    let dry: serde_json::Value =
        serde_json::from_str(&env.ok(&[&args[..], &["--dry-run"]].concat())).unwrap();
    assert_eq!(dry["queued"], 2);
    assert_eq!(env.snapshot(), before);
    let first: serde_json::Value =
        serde_json::from_str(&env.ok(&[&args[..], &["--yes"]].concat())).unwrap();
    assert_eq!(
        (first["queued"].as_u64(), first["skipped_blocked"].clone()),
        (Some(2), serde_json::json!([2]))
    );
    let second: serde_json::Value =
        serde_json::from_str(&env.ok(&[&args[..], &["--yes"]].concat())).unwrap();
    assert_eq!(second["queued"], 0);
    assert_eq!(second["skipped_already"], serde_json::json!([1, 3]));
    assert_eq!(outbox_count(&env, "kind = 'broadcast'"), 2);
    // Pending members are not members; a typo in the text is refused.
    let typo = env.write("typo.txt", "{frist_name}");
    env.fails(
        &[
            "streams",
            "broadcast",
            "8th_stream",
            "--text-file",
            &typo,
            "--yes",
        ],
        code::BAD_INPUT,
    );
    let sent = env.path("sent");
    env.ok(&[
        "outbox",
        "drain",
        "--exec",
        &format!("cat >> '{}'", sent.display()),
    ]);
    let bodies = std::fs::read_to_string(&sent).unwrap();
    assert!(
        bodies.contains("Имя1, занятия начинаются в понедельник!"),
        "{bodies}"
    );
    assert!(
        !bodies.contains("Имя2,"),
        "a blocked student got it: {bodies}"
    );
}

#[test]
fn messages_queued_before_the_upgrade_keep_their_text_and_status() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: SQLite's migrations
    }
    // A database at the schema before issue 14, with a message frozen at queue time.
    let env = Env::empty();
    let conn = env.sql();
    // Every migration before the outbox rebuild (later ones may follow it).
    let before_ours = paytrack::db::migrations()
        .take_while(|(_, sql)| !sql.contains("outbox_rebuilt"))
        .collect::<Vec<_>>();
    let last = before_ours.last().unwrap().0;
    assert!(
        last < paytrack::db::latest_version(),
        "the outbox rebuild is a migration"
    );
    for (_, sql) in paytrack::db::migrations().take_while(|(v, _)| *v <= last) {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch(&format!(
        "PRAGMA user_version = {last};
         INSERT INTO courses (id, name, created_at, updated_at) VALUES (1, 'Курс', 't', 't');
         INSERT INTO bookings (id, user_id, first_name, search_text, course_id, created_at,
                               updated_at, confirmed)
              VALUES (1, 1001, 'Оля', 'оля', 1, '2024-12-01T00:00:00.000000Z', 't', 2);
         INSERT INTO outbox (booking_id, chat_id, body, status, next_attempt_at, created_at)
              VALUES (1, 1001, 'frozen text', 'pending', '2024-12-01T00:00:00.000000Z', 't'),
                     (1, 1001, 'old sent', 'sent', '2024-12-01T00:00:00.000000Z', 't');"
    ))
    .unwrap();
    drop(conn);
    let sent = env.path("sent");
    env.ok(&[
        "outbox",
        "drain",
        "--exec",
        &format!("cat >> '{}'", sent.display()),
    ]);
    assert_eq!(
        env.count("PRAGMA user_version"),
        i64::from(paytrack::db::latest_version())
    );
    let json: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&sent).unwrap().trim()).unwrap();
    assert_eq!(json["body"], "frozen text");
    assert_eq!(
        (status_of(&env, 1), status_of(&env, 2)),
        ("sent".into(), "sent".into())
    );
    assert_eq!(field(&env, 2, "body"), "old sent");
}

#[test]
fn a_booking_refunded_in_full_has_no_money_received_and_can_be_bulk_cancelled() {
    let env = priced(2);
    let file = env.write(
        "partial.csv",
        "external_id,provider,booking_id,amount,currency\np2,bank,2,10000.00,RUB\nr2,bank,2,-10000.00,RUB\n",
    );
    env.run(&["payments", "import", &file]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM payments WHERE booking_id = 2 AND outcome = 'refund'"),
        1,
        "the fixture is a partial payment and its refund"
    );
    env.ok(&[
        "bookings",
        "set-status",
        "--status",
        "pending",
        "--to",
        "cancelled",
        "--yes",
    ]);
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 2"), -1);
}

#[test]
fn a_rename_that_would_push_a_template_over_the_limit_is_refused() {
    let env = env_with_pending(1);
    // 4,000 characters, a 64-character name, "Course 1" and "8th_stream": 4,082.
    let text = env.write(
        "r.txt",
        format!("{}{{first_name}}{{course}}{{stream}}", "я".repeat(4000)),
    );
    env.ok(&[
        "courses", "template", "1", "--kind", "reminder", "--file", &text,
    ]);
    let before = env.snapshot();
    let long_name = "Н".repeat(100);
    let err = env.fails(
        &["courses", "edit", "1", "--name", &long_name],
        code::BAD_INPUT,
    );
    assert!(err.contains("reminder template"), "{err}");
    let err = env.fails(
        &["streams", "edit", "8th_stream", "--name", &long_name],
        code::BAD_INPUT,
    );
    assert!(err.contains("4096"), "{err}");
    assert_eq!(env.snapshot(), before);
    env.ok(&["courses", "edit", "1", "--name", "Вайб кодинг"]);
}

/// Issue 19: a payments import reads the catalogue once per stream, the
/// pending messages once, and what a booking received from what it stored
/// in the same run. The message must still say what is left to pay after
/// every payment of the file (a partial one written in an earlier batch
/// included), and a pending reminder must still be withdrawn.
#[test]
fn an_import_withdraws_reminders_and_its_messages_count_every_payment_of_the_file() {
    let env = priced(3);
    let out = run_at(
        &env,
        NOW,
        &[],
        &[
            "bookings",
            "remind",
            "--every",
            "3d",
            "--older-than",
            "2d",
            "--by-created-at",
        ],
    );
    assert_exit(&out, code::OK);
    assert_eq!(
        outbox_count(&env, "kind = 'reminder' AND status = 'pending'"),
        3
    );
    let template = env.write("due.txt", "Left to pay: {amount_due}.");
    env.ok(&[
        "courses",
        "template",
        "1",
        "--kind",
        "confirmation",
        "--file",
        &template,
    ]);
    // Booking 1: a partial payment, then the rest; 2: in full; 3: unpaid.
    let file = env.write(
        "payments.csv",
        "external_id,provider,booking_id,amount,currency\n\
         a,yookassa,1,10000.00,RUB\n\
         b,yookassa,2,30000.00,RUB\n\
         c,yookassa,1,20000.00,RUB\n",
    );
    let out = env.run(&["payments", "import", &file]);
    assert!(
        matches!(out.status.code(), Some(code::OK | code::ATTENTION)),
        "{}",
        text(&out)
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2"),
        2
    );
    let bodies: Vec<(i64, String)> = env
        .query_rows(
            "SELECT booking_id, body FROM outbox WHERE kind = 'confirmation' ORDER BY booking_id",
        )
        .into_iter()
        .map(|r| {
            (
                r[0].as_deref().unwrap().parse().unwrap(),
                r[1].clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        bodies,
        vec![
            (1, "Left to pay: 0.00 RUB.".to_string()),
            (2, "Left to pay: 0.00 RUB.".to_string())
        ]
    );
    assert_eq!(
        outbox_count(&env, "kind = 'reminder' AND status = 'withdrawn'"),
        2
    );
    assert_eq!(
        outbox_count(
            &env,
            "kind = 'reminder' AND status = 'pending' AND booking_id = 3"
        ),
        1
    );
    assert_eq!(audit_count(&env, "message.withdrawn"), 2);
}
