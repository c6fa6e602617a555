//! The outbox: queued with the confirmation, delivered by `outbox drain`
//! through a command or a fake Telegram Bot API served by the test itself.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::{code, csv_rows, Env, NOW};

/// A bot token shaped like a real one, easy to search for in every output.
pub(crate) const TOKEN: &str = "424242:SECRET-token_for-tests";

/// A database with pending bookings for users 1001..=1000+n, course 1.
pub(crate) fn env_with_pending(n: i64) -> Env {
    pending_into(Env::new(), n)
}

/// `n` pending bookings (ids 1..=n, users 1001…) imported into `env`.
pub(crate) fn pending_into(env: Env, n: i64) -> Env {
    let mut csv = String::from(
        "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at\n",
    );
    for i in 1..=n {
        csv += &format!(
            "{i},{},user_{i},Имя{i},1,8th_stream,1,2024-12-01 10:00:00+03\n",
            1000 + i
        );
    }
    let file = env.write("bookings.csv", csv);
    env.ok(&["bookings", "import", &file]);
    env
}

/// Confirms bookings 1..=n, queueing one message each (ids 1..=n).
pub(crate) fn confirm(env: &Env, ids: impl IntoIterator<Item = i64>) {
    let list: String = ids.into_iter().map(|i| i.to_string() + "\n").collect();
    let file = env.write("ids.txt", list);
    env.ok(&[
        "bookings",
        "set-status",
        "--ids-from",
        &file,
        "--to",
        "confirmed",
    ]);
}

/// `NOW` plus some seconds, as RFC 3339.
pub(crate) fn at(seconds: i64) -> String {
    let now = chrono::DateTime::parse_from_rfc3339(NOW).unwrap();
    (now + chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// Runs paytrack with the clock at `when` and extra environment.
pub(crate) fn run_at(env: &Env, when: &str, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = env.cmd();
    cmd.env("PAYTRACK_NOW", when);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("paytrack runs")
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A text column of one outbox row (the column name is the test's own constant).
pub(crate) fn field(env: &Env, id: i64, column: &str) -> String {
    env.query_text(&format!("SELECT {column} FROM outbox WHERE id = {id}"))
        .unwrap_or_else(|| panic!("outbox {id}: {column} is NULL"))
}

pub(crate) fn status_of(env: &Env, id: i64) -> String {
    field(env, id, "status")
}

/// Asserts the exit code of a run, showing its output if it differs.
pub(crate) fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(out.status.code(), Some(expected), "{}", text(out));
}

pub(crate) fn attempts_of(env: &Env, id: i64) -> i64 {
    env.count(&format!("SELECT attempts FROM outbox WHERE id = {id}"))
}

pub(crate) fn audit_count(env: &Env, action: &str) -> i64 {
    env.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
    ))
}

/// A shell-quoted path inside the env's temp dir.
pub(crate) fn quoted(env: &Env, name: &str) -> String {
    format!("'{}'", env.path(name).display())
}

#[test]
fn a_confirmation_queues_exactly_one_message_and_no_notify_none() {
    let env = env_with_pending(3);
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    // Confirming again is a no-op: still one message.
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 1"),
        1
    );
    assert_eq!(
        env.count("SELECT chat_id FROM outbox WHERE booking_id = 1"),
        1001
    );
    env.ok(&["booking", "set-status", "2", "confirmed", "--no-notify"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 2"),
        0
    );

    let rows = csv_rows(&env.ok(&["outbox", "list", "--csv"]));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0][0..5],
        ["id", "booking_id", "chat_id", "kind", "status"]
    );
    assert_eq!(rows[1][1..5], ["1", "1001", "confirmation", "pending"]);
    assert!(rows[1][12].contains("Имя1"), "{rows:?}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["outbox", "list", "--status", "pending", "--json"]))
            .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert!(
        env.ok(&["outbox", "list", "--status", "sent", "--csv"])
            .lines()
            .count()
            == 1
    );
}

#[test]
fn message_bodies_are_sanitised_in_the_table() {
    let env = Env::new();
    let file = env.write(
        "b.csv",
        "id,user_id,first_name,course_id,confirmed,created_at\n1,7,\"\u{1b}[2JEvil\u{202e}\",1,1,2024-12-01T00:00:00Z\n",
    );
    env.ok(&["bookings", "import", &file]);
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    let table = env.ok(&["outbox", "list", "--wide"]);
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{202e}'),
        "{table}"
    );
    assert!(table.contains("\\e[2JEvil\\u{202e}"), "{table}");
}

#[test]
fn exec_that_fails_then_succeeds_delivers_once() {
    let env = env_with_pending(1);
    confirm(&env, [1]);
    let script = format!(
        "n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; \
         if [ $n -eq 1 ]; then echo 'smtp down' >&2; exit 1; fi; cat >> {delivered}",
        counter = quoted(&env, "counter"),
        delivered = quoted(&env, "delivered"),
    );
    let drain = ["outbox", "drain", "--exec", &script];

    let first = run_at(&env, NOW, &[], &drain);
    assert_exit(&first, code::OK);
    assert!(text(&first).contains("1 to retry"), "{}", text(&first));
    assert_eq!(status_of(&env, 1), "pending");
    assert_eq!(attempts_of(&env, 1), 1);
    let error = field(&env, 1, "last_error");
    assert!(
        error.contains("status 1") && error.contains("smtp down"),
        "{error}"
    );

    // Backed off: not due again at the same moment.
    run_at(&env, NOW, &[], &drain);
    assert_eq!(
        std::fs::read_to_string(env.path("counter")).unwrap().trim(),
        "1"
    );

    let later = run_at(&env, &at(3600), &[], &drain);
    assert_exit(&later, code::OK);
    assert_eq!(status_of(&env, 1), "sent");
    run_at(&env, &at(7200), &[], &drain);

    let delivered = std::fs::read_to_string(env.path("delivered")).unwrap();
    assert_eq!(delivered.lines().count(), 1, "{delivered}");
    let message: serde_json::Value = serde_json::from_str(delivered.trim()).unwrap();
    assert_eq!(message["id"], 1);
    assert_eq!(message["booking_id"], 1);
    assert_eq!(message["chat_id"], 1001);
    assert_eq!(message["kind"], "confirmation");
    assert_eq!(message["attempts"], 2);
    assert!(message["body"].as_str().unwrap().contains("Имя1"));
    assert_eq!(audit_count(&env, "message.sent"), 1);
    assert_eq!(audit_count(&env, "message.failed"), 0);
}

#[test]
fn after_max_attempts_a_message_fails_and_the_exit_code_says_so() {
    let env = env_with_pending(1);
    confirm(&env, [1]);
    let drain = ["outbox", "drain", "--exec", "exit 7", "--max-attempts", "2"];
    let first = run_at(&env, NOW, &[], &drain);
    assert_exit(&first, code::OK);
    let second = run_at(&env, &at(3600), &[], &drain);
    assert_exit(&second, code::ATTENTION);
    assert!(
        text(&second).contains("gave up on message 1"),
        "{}",
        text(&second)
    );
    assert_eq!(status_of(&env, 1), "failed");
    assert_eq!(audit_count(&env, "message.failed"), 1);
    let rows = csv_rows(&env.ok(&["outbox", "list", "--status", "failed", "--csv"]));
    assert_eq!(rows.len(), 2);
    assert!(rows[1][8].contains("gave up after 2 attempts"), "{rows:?}");
    // Failed messages are left alone.
    let third = run_at(&env, &at(99_999), &[], &drain);
    assert_eq!(third.status.code(), Some(code::OK));
    assert_eq!(attempts_of(&env, 1), 2);
}

#[test]
fn a_hung_command_is_killed_and_retried() {
    let env = env_with_pending(1);
    confirm(&env, [1]);
    let out = run_at(
        &env,
        NOW,
        &[],
        &[
            "outbox",
            "drain",
            "--exec",
            "sleep 30",
            "--timeout",
            "200ms",
        ],
    );
    assert_exit(&out, code::OK);
    assert_eq!(status_of(&env, 1), "pending");
    let error = field(&env, 1, "last_error");
    assert_eq!(error, "command timed out after 200ms");
}

#[test]
fn max_time_stops_claiming_and_leaves_the_rest_queued_untouched() {
    const N: i64 = 4;
    let env = env_with_pending(N);
    confirm(&env, 1..=N);
    // Each send takes 0.5 s; after 0.3 s no message is claimed, so the
    // drain ends after the first (or none, on a machine slow to start).
    let script = format!(
        "sleep 0.5; echo $PAYTRACK_MESSAGE_ID >> {}",
        quoted(&env, "sent-ids")
    );
    let out = run_at(
        &env,
        NOW,
        &[],
        &["outbox", "drain", "--exec", &script, "--max-time", "300ms"],
    );
    assert_exit(&out, code::OK);
    let sent = env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'");
    assert!(
        sent < N,
        "the drain went on past --max-time: {}",
        text(&out)
    );
    // Nothing half-done: a message is sent and audited, or queued as it was.
    assert_eq!(audit_count(&env, "message.sent"), sent);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts = 0 AND claimed_by IS NULL"),
        N - sent
    );
    let delivered = std::fs::read_to_string(env.path("sent-ids")).unwrap_or_default();
    assert_eq!(delivered.lines().count() as i64, sent, "{delivered}");
    assert!(
        text(&out).contains(&format!(
            "stopped at --max-time 300ms; {} message(s) stay queued",
            N - sent
        )),
        "{}",
        text(&out)
    );
    // The next drain sends the rest, each once.
    let rest = run_at(&env, NOW, &[], &["outbox", "drain", "--exec", &script]);
    assert_exit(&rest, code::OK);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"),
        N
    );
    let delivered = std::fs::read_to_string(env.path("sent-ids")).unwrap();
    let mut ids: Vec<i64> = delivered.lines().map(|l| l.parse().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=N).collect::<Vec<_>>());
    env.fails(
        &["outbox", "drain", "--exec", "true", "--max-time", "2d"],
        code::USAGE,
    );
}

#[test]
fn two_drains_at_once_send_each_message_exactly_once() {
    const N: i64 = 40;
    let env = env_with_pending(N);
    confirm(&env, 1..=N);
    let script = format!(
        "sleep 0.01; echo $PAYTRACK_MESSAGE_ID >> {}",
        quoted(&env, "sent-ids")
    );
    let drains: Vec<_> = (0..3)
        .map(|_| env.spawn(&["outbox", "drain", "--exec", &script]))
        .collect();
    for child in drains {
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, 0);
    }
    let sent = std::fs::read_to_string(env.path("sent-ids")).unwrap();
    let mut ids: Vec<i64> = sent.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(ids.len() as i64, N, "every message sent once: {sent}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, (1..=N).collect::<Vec<_>>());
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"),
        N
    );
    assert_eq!(audit_count(&env, "message.sent"), N);
    env.ok(&["audit", "verify"]);
}

#[test]
fn a_dead_drains_claim_is_taken_over_after_the_lease_only() {
    let env = env_with_pending(2);
    confirm(&env, [1, 2]);
    // Message 1 was claimed an hour ago by a drain that died; message 2 just now by a live one.
    env.exec(&format!(
        "UPDATE outbox SET status = 'sending', claimed_by = 'dead', claimed_at = '2024-12-10T11:00:00.000000Z', attempts = 1 WHERE id = 1;
         UPDATE outbox SET status = 'sending', claimed_by = 'alive', claimed_at = '{}', attempts = 1 WHERE id = 2;",
        "2024-12-10T12:00:00.000000Z"
    ));
    let script = format!("echo $PAYTRACK_MESSAGE_ID >> {}", quoted(&env, "sent-ids"));
    let out = run_at(&env, NOW, &[], &["outbox", "drain", "--exec", &script]);
    assert_exit(&out, code::OK);
    assert_eq!(
        std::fs::read_to_string(env.path("sent-ids")).unwrap(),
        "1\n"
    );
    assert_eq!(status_of(&env, 1), "sent");
    assert_eq!(attempts_of(&env, 1), 2);
    assert_eq!(status_of(&env, 2), "sending");
}

/// What the fake Bot API answers to one request.
#[derive(Clone, Copy)]
pub(crate) enum Reply {
    Ok,
    Status(u16, &'static str),
    /// Answer nothing for this long (longer than the client's time-out).
    Hang(Duration),
}

/// A fake Telegram Bot API on 127.0.0.1: answers each request with `script(chat_id, n)`,
/// where n counts the requests for that chat (1 for the first). Records every request.
pub(crate) struct FakeBot {
    pub(crate) url: String,
    /// (path, JSON body) of every request.
    pub(crate) requests: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    /// Chats answered `Ok`, in order.
    pub(crate) delivered: Arc<Mutex<Vec<i64>>>,
}

impl FakeBot {
    pub(crate) fn start(script: fn(i64, usize) -> Reply) -> FakeBot {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let counts = Arc::new(Mutex::new(HashMap::<i64, usize>::new()));
        let (req, del) = (requests.clone(), delivered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (req, del, counts) = (req.clone(), del.clone(), counts.clone());
                std::thread::spawn(move || serve(stream, script, &req, &del, &counts));
            }
        });
        FakeBot {
            url,
            requests,
            delivered,
        }
    }
}

fn serve(
    stream: TcpStream,
    script: fn(i64, usize) -> Reply,
    requests: &Mutex<Vec<(String, serde_json::Value)>>,
    delivered: &Mutex<Vec<i64>>,
    counts: &Mutex<HashMap<i64, usize>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let chat = body["chat_id"].as_i64().unwrap_or(0);
    let n = {
        let mut counts = counts.lock().unwrap();
        let n = counts.entry(chat).or_default();
        *n += 1;
        *n
    };
    requests.lock().unwrap().push((path, body));
    let (code, answer) = match script(chat, n) {
        Reply::Ok => {
            delivered.lock().unwrap().push(chat);
            (200, r#"{"ok":true,"result":{"message_id":1}}"#)
        }
        Reply::Status(code, answer) => (code, answer),
        Reply::Hang(d) => {
            std::thread::sleep(d);
            return;
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// chat 1001: delivered; 1002: blocked the bot; 1003: 429 then delivered;
/// 1004: 500 then delivered; 1005: hangs then delivered.
fn bot_script(chat: i64, n: usize) -> Reply {
    match (chat, n) {
        (1002, _) => Reply::Status(
            403,
            r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
        ),
        (1003, 1) => Reply::Status(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#,
        ),
        (1004, 1) => Reply::Status(
            500,
            r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#,
        ),
        (1005, 1) => Reply::Hang(Duration::from_secs(3)),
        _ => Reply::Ok,
    }
}

#[test]
fn telegram_delivery_handles_blocks_rate_limits_errors_and_time_outs() {
    let env = env_with_pending(6);
    confirm(&env, 1..=5);
    let bot = FakeBot::start(bot_script);
    let vars = [
        ("PAYTRACK_TELEGRAM_TOKEN", TOKEN),
        ("PAYTRACK_TELEGRAM_API", bot.url.as_str()),
    ];
    let drain = ["outbox", "drain", "--telegram", "--timeout", "300ms"];
    let mut outputs = String::new();

    // 1: 1001 delivered, 1002 blocked, 1003 asks to wait 7 s: the run stops there.
    let first = run_at(&env, NOW, &vars, &drain);
    outputs += &text(&first);
    assert_exit(&first, code::ATTENTION);
    assert_eq!(
        (
            status_of(&env, 1),
            status_of(&env, 2),
            status_of(&env, 3),
            status_of(&env, 4)
        ),
        (
            "sent".into(),
            "failed".into(),
            "pending".into(),
            "pending".into()
        )
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM blocked_users WHERE user_id = 1002"),
        1
    );
    assert_eq!(audit_count(&env, "user.blocked"), 1);
    assert_eq!(
        attempts_of(&env, 3),
        0,
        "a 429 is not counted as an attempt"
    );
    let retry_at = field(&env, 3, "next_attempt_at");
    assert!(
        retry_at.as_str() >= "2024-12-10T12:00:07" && retry_at.as_str() < "2024-12-10T12:00:30",
        "{retry_at}"
    );
    assert!(
        text(&first).contains("Telegram asks to wait 7s"),
        "{}",
        text(&first)
    );

    // 2: 1003 delivered; 1004 gets a 500 and 1005 times out: both retried.
    let second = run_at(&env, &at(10), &vars, &drain);
    outputs += &text(&second);
    assert_exit(&second, code::OK);
    assert_eq!(status_of(&env, 3), "sent");
    assert_eq!(
        (status_of(&env, 4), attempts_of(&env, 4)),
        ("pending".into(), 1)
    );
    assert_eq!(
        (status_of(&env, 5), attempts_of(&env, 5)),
        ("pending".into(), 1)
    );

    // 3: an hour later both go through.
    let third = run_at(&env, &at(3600), &vars, &drain);
    outputs += &text(&third);
    assert_exit(&third, code::OK);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"),
        4
    );

    // 4: a new confirmation for the blocked student fails without a request.
    confirm(&env, [6]);
    env.exec(
        "UPDATE bookings SET user_id = 1002 WHERE id = 6;
         UPDATE outbox SET chat_id = 1002 WHERE booking_id = 6;",
    );
    let requests_before = bot.requests.lock().unwrap().len();
    let fourth = run_at(&env, &at(7200), &vars, &drain);
    outputs += &text(&fourth);
    assert_exit(&fourth, code::ATTENTION);
    assert_eq!(status_of(&env, 6), "failed");
    assert_eq!(bot.requests.lock().unwrap().len(), requests_before);

    let mut delivered = bot.delivered.lock().unwrap().clone();
    delivered.sort_unstable();
    assert_eq!(
        delivered,
        [1001, 1003, 1004, 1005],
        "each delivered exactly once"
    );
    for (path, body) in bot.requests.lock().unwrap().iter() {
        assert_eq!(path, &format!("/bot{TOKEN}/sendMessage"));
        assert!(
            body["text"].as_str().unwrap().contains("подтверждена"),
            "{body}"
        );
    }
    assert_eq!(audit_count(&env, "message.sent"), 4);
    assert_eq!(audit_count(&env, "message.failed"), 2);
    let failed = csv_rows(&env.ok(&["outbox", "list", "--status", "failed", "--csv"]));
    assert_eq!(failed.len(), 3);
    assert!(
        failed[2][8].contains("bot was blocked by the user"),
        "{failed:?}"
    );

    assert!(!outputs.contains("SECRET"), "token leaked: {outputs}");
    assert!(!env.snapshot().contains("SECRET"), "token stored");
    env.ok(&["audit", "verify"]);
}

#[test]
fn telegram_errors_never_show_the_token() {
    let env = env_with_pending(1);
    confirm(&env, [1]);
    let drain = ["outbox", "drain", "--telegram", "--timeout", "300ms"];

    // No token at all: bad input, nothing claimed.
    let before = env.snapshot();
    env.fails(&drain, code::BAD_INPUT);
    let odd = run_at(
        &env,
        NOW,
        &[("PAYTRACK_TELEGRAM_TOKEN", "SECRET token")],
        &drain,
    );
    assert_eq!(odd.status.code(), Some(code::BAD_INPUT));
    assert!(!text(&odd).contains("SECRET"), "{}", text(&odd));
    assert_eq!(env.snapshot(), before);

    // Nothing listens: a network error (which quotes the URL) is retried, scrubbed.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let vars = [
        ("PAYTRACK_TELEGRAM_TOKEN", TOKEN),
        ("PAYTRACK_TELEGRAM_API", url.as_str()),
    ];
    let refused = run_at(&env, NOW, &vars, &drain);
    assert_exit(&refused, code::OK);
    assert_eq!(
        (status_of(&env, 1), attempts_of(&env, 1)),
        ("pending".into(), 1)
    );

    // A refused token stops the run (exit 1) and leaves the message as it was.
    let bot = FakeBot::start(|_, _| {
        Reply::Status(
            401,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
        )
    });
    let vars = [
        ("PAYTRACK_TELEGRAM_TOKEN", TOKEN),
        ("PAYTRACK_TELEGRAM_API", bot.url.as_str()),
    ];
    let unauthorized = run_at(&env, &at(3600), &vars, &drain);
    assert_exit(&unauthorized, code::CHANNEL);
    assert!(
        text(&unauthorized).contains("PAYTRACK_TELEGRAM_TOKEN"),
        "{}",
        text(&unauthorized)
    );
    assert_eq!(
        (status_of(&env, 1), attempts_of(&env, 1)),
        ("pending".into(), 1)
    );

    let all = text(&refused) + &text(&unauthorized);
    assert!(!all.contains("SECRET"), "token leaked: {all}");
    assert!(!env.snapshot().contains("SECRET"), "token stored");
}
