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
    assert_eq!(outbox_count(&env, "1"), 0);

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
    assert_eq!(outbox_count(&env, "1"), 0);
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
}

#[test]
fn the_schema_check_list_matches_the_message_status_enum() {
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
        "cat > /dev/null; sleep 1; echo $PAYTRACK_MESSAGE_ID >> {}",
        quoted(&env, "sent")
    );
    let child = env.spawn(&["outbox", "drain", "--exec", &script]);
    std::thread::sleep(Duration::from_millis(400));
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
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
