//! Issue 29: online payments through the real binary — `payments serve`
//! answering real HTTP on 127.0.0.1, notifications built from each
//! provider's documented examples and signed here independently of
//! paytrack's code, a fake YooKassa API (a local server in the test), and
//! what lands in the database on either backend.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::harness::Env;

const TINKOFF_PASSWORD: &str = "tinkoff-test-password";
const CLOUDPAYMENTS_SECRET: &str = "cp-test-api-secret";
const STRIPE_SECRET: &str = "whsec_test_secret";
const YOOKASSA_SHOP: &str = "54401";
const YOOKASSA_KEY: &str = "test_yookassa_key";

/// A course with stream `s1` at 300.00 RUB.
fn school() -> Env {
    let env = Env::new();
    env.ok(&["courses", "add", "1", "--name", "Курс"]);
    env.ok(&[
        "streams",
        "add",
        "s1",
        "--course",
        "1",
        "--price",
        "300",
        "--currency",
        "RUB",
    ]);
    env
}

/// Adds a pending booking in stream s1 for `user`; returns its id.
fn booking(env: &Env, user: i64) -> i64 {
    env.ok(&[
        "bookings",
        "add",
        "--user-id",
        &user.to_string(),
        "--course",
        "1",
        "--stream",
        "s1",
        "--username",
        "@ольга",
    ])
    .trim()
    .parse()
    .expect("the new id")
}

/// Asserts that nothing in the database changed (without printing the
/// whole snapshot on failure).
fn unchanged(env: &Env, before: &str, what: &str) {
    assert!(env.snapshot() == before, "{what} changed the database");
}

use crate::harness::status_of;

fn payments_of(env: &Env, id: i64) -> Vec<(String, i64, String)> {
    env.query_rows(&format!(
        "SELECT external_id, amount_minor, outcome FROM payments WHERE booking_id = {id} ORDER BY id"
    ))
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap(),
            r[1].as_deref().unwrap().parse().unwrap(),
            r[2].clone().unwrap(),
        )
    })
    .collect()
}

fn messages_of(env: &Env, id: i64) -> i64 {
    env.count(&format!(
        "SELECT COUNT(*) FROM outbox WHERE booking_id = {id}"
    ))
}

/// A running `payments serve`, killed on drop; its stderr lines collected.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(env: &Env, secrets: &[(&str, &str)]) -> Server {
        let mut cmd = env.std_cmd();
        cmd.args(["payments", "serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in secrets {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn payments serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix("paytrack: listening on ") {
                        let addr = rest
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        let _ = tx.send(addr);
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no listening line: {:?}", log.lock().unwrap()));
        Server {
            child,
            addr: addr.parse().expect("a socket address"),
            log,
        }
    }

    fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
        http(self.addr, "POST", path, headers, body)
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The log once a line matches `wanted` (the reader thread may lag the
    /// answer by a moment); at most 10 s.
    fn log_with(&self, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.iter().any(|l| wanted(l)) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status (bounded wait).
    fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        unsafe_kill(self.child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code(), self.log());
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// One HTTP/1.1 request with `Connection: close`; (status, body).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += "\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

// ---- T-Bank ----------------------------------------------------------------

/// A T-Bank notification as documented (TerminalKey, OrderId, Success,
/// Status, PaymentId, ErrorCode, Amount in kopecks, CardId, Pan, ExpDate,
/// a nested Data object), signed: SHA-256 hex of the root scalars' values
/// plus Password, sorted by key.
fn tinkoff_body(
    order: &str,
    payment_id: i64,
    status: &str,
    kopecks: i64,
    password: &str,
) -> Vec<u8> {
    let mut fields: Vec<(&str, String)> = vec![
        ("TerminalKey", "1321054611234DEMO".into()),
        ("OrderId", order.into()),
        ("Success", "true".into()),
        ("Status", status.into()),
        ("PaymentId", payment_id.to_string()),
        ("ErrorCode", "0".into()),
        ("Amount", kopecks.to_string()),
        ("CardId", "322264".into()),
        ("Pan", "430000******0777".into()),
        ("ExpDate", "1122".into()),
        ("Password", password.into()),
    ];
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let concatenated: String = fields.iter().map(|(_, v)| v.as_str()).collect();
    let token = hex::encode(Sha256::digest(concatenated.as_bytes()));
    format!(
        r#"{{"TerminalKey":"1321054611234DEMO","OrderId":"{order}","Success":true,"Status":"{status}","PaymentId":{payment_id},"ErrorCode":"0","Amount":{kopecks},"CardId":322264,"Pan":"430000******0777","ExpDate":"1122","Data":{{"Phone":"+79001234567"}},"Token":"{token}"}}"#
    )
    .into_bytes()
}

fn tinkoff_server(env: &Env) -> Server {
    Server::start(env, &[("PAYTRACK_TINKOFF_PASSWORD", TINKOFF_PASSWORD)])
}

#[test]
fn tinkoff_confirms_refuses_a_bad_token_and_writes_a_replay_once() {
    let env = school();
    let id = booking(&env, 501);
    let server = tinkoff_server(&env);

    // A wrong password's token: refused, nothing written.
    let before = env.snapshot();
    let forged = tinkoff_body(&id.to_string(), 9001, "CONFIRMED", 30000, "guess");
    let (status, _) = server.post("/webhooks/tinkoff", &[], &forged);
    assert_eq!(status, 401);
    unchanged(&env, &before, "a bad token wrote something");

    let body = tinkoff_body(
        &format!("{id}-1733500000"),
        9001,
        "CONFIRMED",
        30000,
        TINKOFF_PASSWORD,
    );
    let (status, answer) = server.post("/webhooks/tinkoff", &[], &body);
    assert_eq!((status, answer.as_str()), (200, "OK"));
    assert_eq!(status_of(&env, id), 2, "the booking is confirmed");
    assert_eq!(
        payments_of(&env, id),
        vec![("9001".to_string(), 30000, "confirmed".to_string())]
    );
    assert_eq!(messages_of(&env, id), 1, "one confirmation message queued");
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE booking_id = {id} AND action = 'booking.status_changed' \
               AND details LIKE '%payments serve%' AND details LIKE '%9001%'"
        )),
        1,
        "the confirmation's audit entry names the server and the payment"
    );
    assert_eq!(
        env.query_text("SELECT method FROM provider_payments WHERE provider = 'tinkoff' AND external_id = '9001'"),
        Some("card".to_string())
    );
    assert_eq!(
        env.query_ints("SELECT raw IS NOT NULL FROM provider_payments WHERE external_id = '9001'"),
        vec![1]
    );

    // The same notification again (T-Bank retries until it reads OK).
    let before = env.snapshot();
    let (status, answer) = server.post("/webhooks/tinkoff", &[], &body);
    assert_eq!((status, answer.as_str()), (200, "OK"));
    unchanged(&env, &before, "a replay wrote something");

    let replayed = |l: &str| {
        l.contains("provider=tinkoff")
            && l.contains(&format!("booking={id}"))
            && l.contains("outcome=replay")
            && l.contains("ms=")
    };
    let log = server.log_with(replayed);
    assert!(log.iter().any(|l| replayed(l)), "{log:?}");
    // Never the card mask or the phone in the log.
    assert!(
        !log.iter().any(|l| l.contains("0777") || l.contains("7900")),
        "{log:?}"
    );
}

#[test]
fn tinkoff_part_payment_stays_pending_and_a_refund_is_recorded() {
    let env = school();
    let id = booking(&env, 502);
    let server = tinkoff_server(&env);
    let part = tinkoff_body(&id.to_string(), 9101, "CONFIRMED", 10000, TINKOFF_PASSWORD);
    assert_eq!(server.post("/webhooks/tinkoff", &[], &part).0, 200);
    assert_eq!(status_of(&env, id), 1, "a part payment leaves it pending");
    assert_eq!(payments_of(&env, id)[0].2, "partial");
    assert_eq!(messages_of(&env, id), 0);

    let rest = tinkoff_body(&id.to_string(), 9102, "CONFIRMED", 20000, TINKOFF_PASSWORD);
    assert_eq!(server.post("/webhooks/tinkoff", &[], &rest).0, 200);
    assert_eq!(status_of(&env, id), 2, "the rest completes the price");

    let refund = tinkoff_body(
        &id.to_string(),
        9102,
        "PARTIAL_REFUNDED",
        5000,
        TINKOFF_PASSWORD,
    );
    assert_eq!(server.post("/webhooks/tinkoff", &[], &refund).0, 200);
    let rows = payments_of(&env, id);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[2].1, -5000);
    assert_eq!(rows[2].2, "refund");

    // A status that moves no money (AUTHORIZED) is acknowledged and ignored.
    let before = env.snapshot();
    let authorized = tinkoff_body(&id.to_string(), 9103, "AUTHORIZED", 30000, TINKOFF_PASSWORD);
    assert_eq!(
        server.post("/webhooks/tinkoff", &[], &authorized),
        (200, "OK".into())
    );
    unchanged(&env, &before, "a refused or repeated request");
}

#[test]
fn an_unknown_booking_and_a_wrong_currency_are_rows_for_a_person() {
    let env = school();
    let id = booking(&env, 503);
    let server = Server::start(
        &env,
        &[("PAYTRACK_CLOUDPAYMENTS_SECRET", CLOUDPAYMENTS_SECRET)],
    );
    let unknown = tinkoffless_cp_pay(99_999, 7001, "300.00", "RUB");
    let sig = cp_hmac(CLOUDPAYMENTS_SECRET, &unknown);
    assert_eq!(
        server.post(
            "/webhooks/cloudpayments",
            &[("Content-HMAC", sig)],
            &unknown
        ),
        (200, r#"{"code":0}"#.to_string())
    );
    assert_eq!(
        env.query_text("SELECT outcome FROM payments WHERE external_id = '7001'"),
        Some("unknown_booking".into())
    );
    let usd = tinkoffless_cp_pay(id, 7002, "300.00", "USD");
    let sig = cp_hmac(CLOUDPAYMENTS_SECRET, &usd);
    assert_eq!(
        server
            .post("/webhooks/cloudpayments", &[("Content-HMAC", sig)], &usd)
            .0,
        200
    );
    assert_eq!(payments_of(&env, id)[0].2, "currency_mismatch");
    assert_eq!(status_of(&env, id), 1);
}

// ---- CloudPayments ---------------------------------------------------------

/// A Pay notification as CloudPayments documents it (form-encoded:
/// TransactionId, Amount in rubles, Currency, DateTime in UTC, card fields,
/// InvoiceId, AccountId, Email, Status, OperationType).
fn tinkoffless_cp_pay(invoice: i64, transaction: i64, amount: &str, currency: &str) -> Vec<u8> {
    format!(
        "TransactionId={transaction}&Amount={amount}&Currency={currency}&PaymentAmount={amount}&PaymentCurrency={currency}\
         &DateTime=2024-03-01+07%3A06%3A00&CardFirstSix=424242&CardLastFour=4242&CardType=Visa&CardExpDate=05%2F27\
         &TestMode=1&Status=Completed&OperationType=Payment&InvoiceId={invoice}&AccountId=olga%40example.ru\
         &Email=olga%40example.ru&Name=OLGA+P&PaymentMethod=&Data=%7B%22x%22%3A1%7D"
    )
    .into_bytes()
}

fn cp_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[test]
fn cloudpayments_confirms_refuses_a_bad_hmac_replays_part_pays_and_refunds() {
    let env = school();
    let id = booking(&env, 504);
    let part_id = booking(&env, 505);
    let server = Server::start(
        &env,
        &[("PAYTRACK_CLOUDPAYMENTS_SECRET", CLOUDPAYMENTS_SECRET)],
    );
    let pay = tinkoffless_cp_pay(id, 8001, "300.00", "RUB");

    let before = env.snapshot();
    let bad = cp_hmac("another-secret", &pay);
    assert_eq!(
        server
            .post("/webhooks/cloudpayments", &[("Content-HMAC", bad)], &pay)
            .0,
        401
    );
    assert_eq!(
        server.post("/webhooks/cloudpayments", &[], &pay).0,
        401,
        "no header"
    );
    unchanged(&env, &before, "a refused or repeated request");

    let sig = cp_hmac(CLOUDPAYMENTS_SECRET, &pay);
    let headers = [
        ("Content-HMAC", sig),
        ("Content-Type", "application/x-www-form-urlencoded".into()),
    ];
    assert_eq!(
        server.post("/webhooks/cloudpayments", &headers, &pay),
        (200, r#"{"code":0}"#.to_string())
    );
    assert_eq!(status_of(&env, id), 2);
    assert_eq!(
        env.query_text("SELECT paid_at FROM payments WHERE external_id = '8001'")
            .unwrap(),
        "2024-03-01T07:06:00.000000Z"
    );
    let before = env.snapshot();
    assert_eq!(
        server.post("/webhooks/cloudpayments", &headers, &pay).0,
        200
    );
    unchanged(&env, &before, "a replay wrote something");

    let part = tinkoffless_cp_pay(part_id, 8002, "100.50", "RUB");
    let sig = cp_hmac(CLOUDPAYMENTS_SECRET, &part);
    assert_eq!(
        server
            .post("/webhooks/cloudpayments", &[("Content-HMAC", sig)], &part)
            .0,
        200
    );
    assert_eq!(status_of(&env, part_id), 1);
    assert_eq!(
        payments_of(&env, part_id),
        vec![("8002".to_string(), 10050, "partial".to_string())]
    );

    // A Refund notification names the payment, not always the invoice.
    let refund = b"TransactionId=8003&PaymentTransactionId=8001&Amount=300.00&DateTime=2024-03-02+10%3A00%3A00&OperationType=Refund&Email=olga%40example.ru".to_vec();
    let sig = cp_hmac(CLOUDPAYMENTS_SECRET, &refund);
    assert_eq!(
        server
            .post("/webhooks/cloudpayments", &[("Content-HMAC", sig)], &refund)
            .0,
        200
    );
    let rows = payments_of(&env, id);
    assert_eq!(
        rows.last().unwrap(),
        &("8003".to_string(), -30000, "refund".to_string())
    );
}

// ---- Stripe ----------------------------------------------------------------

fn stripe_header(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A `checkout.session.completed` event shaped as Stripe's API reference shows it.
fn stripe_session(booking: i64, intent: &str, amount: i64) -> Vec<u8> {
    serde_json::json!({
        "id": format!("evt_{intent}"), "object": "event", "api_version": "2024-06-20",
        "created": 1_709_276_760, "type": "checkout.session.completed", "livemode": false,
        "data": {"object": {
            "id": format!("cs_test_{intent}"), "object": "checkout.session",
            "amount_total": amount, "currency": "rub", "mode": "payment",
            "payment_intent": intent, "payment_status": "paid", "status": "complete",
            "client_reference_id": booking.to_string(),
            "customer_details": {"email": "olga@example.ru", "name": "Olga"},
            "metadata": {"booking_id": booking.to_string()}
        }}
    })
    .to_string()
    .into_bytes()
}

fn stripe_intent(booking: i64, intent: &str, amount: i64) -> Vec<u8> {
    serde_json::json!({
        "id": format!("evt_pi_{intent}"), "object": "event", "created": 1_709_276_761,
        "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": intent, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "currency": "rub", "status": "succeeded", "payment_method_types": ["card"],
            "metadata": {"booking_id": booking.to_string()}
        }}
    })
    .to_string()
    .into_bytes()
}

#[test]
fn stripe_confirms_once_for_both_events_and_refuses_bad_or_stale_signatures() {
    let env = school();
    let id = booking(&env, 506);
    let part_id = booking(&env, 507);
    let server = Server::start(&env, &[("PAYTRACK_STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)]);
    let session = stripe_session(id, "pi_3Ab", 30000);

    let before = env.snapshot();
    let now = unix_now();
    for header in [
        stripe_header("whsec_other", now, &session),
        stripe_header(STRIPE_SECRET, now - 301, &session),
        format!("t={now}"),
    ] {
        let (status, _) = server.post(
            "/webhooks/stripe",
            &[("Stripe-Signature", header)],
            &session,
        );
        assert_eq!(status, 401);
    }
    assert_eq!(server.post("/webhooks/stripe", &[], &session).0, 401);
    unchanged(&env, &before, "a refused event wrote something");

    let header = stripe_header(STRIPE_SECRET, unix_now(), &session);
    assert_eq!(
        server
            .post(
                "/webhooks/stripe",
                &[("Stripe-Signature", header)],
                &session
            )
            .0,
        200
    );
    assert_eq!(status_of(&env, id), 2);
    // The PaymentIntent's own event for the same payment: a replay.
    let before = env.snapshot();
    let intent = stripe_intent(id, "pi_3Ab", 30000);
    let header = stripe_header(STRIPE_SECRET, unix_now(), &intent);
    assert_eq!(
        server
            .post("/webhooks/stripe", &[("Stripe-Signature", header)], &intent)
            .0,
        200
    );
    unchanged(&env, &before, "a refused or repeated request");
    assert_eq!(payments_of(&env, id).len(), 1);

    let part = stripe_intent(part_id, "pi_3Cd", 12000);
    let header = stripe_header(STRIPE_SECRET, unix_now(), &part);
    assert_eq!(
        server
            .post("/webhooks/stripe", &[("Stripe-Signature", header)], &part)
            .0,
        200
    );
    assert_eq!(status_of(&env, part_id), 1);
    assert_eq!(payments_of(&env, part_id)[0].2, "partial");

    let refund = serde_json::json!({
        "id": "evt_re", "object": "event", "created": 1_709_300_000, "type": "charge.refunded",
        "data": {"object": {"id": "ch_3Ab", "object": "charge", "amount": 30000,
            "amount_refunded": 10000, "currency": "rub", "payment_intent": "pi_3Ab",
            "metadata": {}, "refunds": {"object": "list", "data": [
                {"id": "re_1", "object": "refund", "amount": 10000, "currency": "rub"}]}}}
    })
    .to_string()
    .into_bytes();
    let header = stripe_header(STRIPE_SECRET, unix_now(), &refund);
    assert_eq!(
        server
            .post("/webhooks/stripe", &[("Stripe-Signature", header)], &refund)
            .0,
        200
    );
    assert_eq!(
        payments_of(&env, id).last().unwrap(),
        &("re_1".to_string(), -10000, "refund".to_string())
    );
}

// ---- YooKassa and its fake API --------------------------------------------

/// A request the fake API received: method, target, headers (lower-case names), body.
type Seen = (String, String, HashMap<String, String>, String);

/// A fake provider API on 127.0.0.1: answers GETs and POSTs from a table of
/// path → (status, JSON) and records each request (method, path, headers).
struct FakeApi {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    routes: Arc<Mutex<HashMap<String, (u16, String)>>>,
    /// How long each answer waits, in milliseconds (a slow provider).
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    /// Connections accepted so far (counted before the delay).
    accepted: Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeApi {
    fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let routes: Arc<Mutex<HashMap<String, (u16, String)>>> = Arc::default();
        let delay_ms: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let accepted: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let thread = {
            let counted = Arc::clone(&accepted);
            let (stop, seen, routes) = (Arc::clone(&stop), Arc::clone(&seen), Arc::clone(&routes));
            let delay = Arc::clone(&delay_ms);
            std::thread::spawn(move || {
                // Bounded: the test's drop stops it; 10 minutes at most regardless.
                let deadline = Instant::now() + Duration::from_secs(600);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            counted.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(
                                delay.load(Ordering::Relaxed),
                            ));
                            serve_fake(stream, &seen, &routes);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        FakeApi {
            addr,
            stop,
            seen,
            routes,
            delay_ms,
            accepted,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v3", self.addr)
    }

    fn route(&self, key: &str, status: u16, body: serde_json::Value) {
        self.routes
            .lock()
            .unwrap()
            .insert(key.to_string(), (status, body.to_string()));
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_fake(
    stream: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    routes: &Mutex<HashMap<String, (u16, String)>>,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(1 << 20)];
    let _ = reader.read_exact(&mut body);
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let path = target.split('?').next().unwrap_or_default().to_string();
    seen.lock().unwrap().push((
        method.clone(),
        target.clone(),
        headers,
        String::from_utf8_lossy(&body).into_owned(),
    ));
    // A page of a list is routed by its cursor: `GET /v3/payments?cursor=X`.
    let cursor = target
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("cursor=")))
        .map(|c| format!("?cursor={c}"))
        .unwrap_or_default();
    // T-Bank's GetState is routed by the PaymentId it asks about: `POST /v2/GetState#13661`.
    let asked = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("PaymentId")
                .and_then(|p| p.as_str().map(str::to_string))
        })
        .map(|p| format!("{method} {path}#{p}"));
    let routes = routes.lock().unwrap();
    let (status, answer) = asked
        .and_then(|key| routes.get(&key))
        .or_else(|| routes.get(&format!("{method} {path}{cursor}")))
        .cloned()
        .unwrap_or_else(|| (404, r#"{"type":"error","code":"not_found"}"#.to_string()));
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// A YooKassa payment object as its API reference shows it.
fn yk_payment(id: &str, booking: i64, value: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "status": status, "paid": status == "succeeded",
        "amount": {"value": value, "currency": "RUB"},
        "income_amount": {"value": value, "currency": "RUB"},
        "captured_at": "2024-03-01T07:06:00.000Z", "created_at": "2024-03-01T07:05:00.000Z",
        "description": "Заказ №1", "metadata": {"booking_id": booking.to_string()},
        "payment_method": {"type": "bank_card", "id": id, "saved": false,
            "card": {"first6": "555555", "last4": "4444", "expiry_month": "07", "expiry_year": "2027", "card_type": "MasterCard"}},
        "refundable": true, "test": true
    })
}

fn yk_notification(event: &str, object: serde_json::Value) -> Vec<u8> {
    serde_json::json!({"type": "notification", "event": event, "object": object})
        .to_string()
        .into_bytes()
}

fn yookassa_server(env: &Env, api: &FakeApi) -> Server {
    Server::start(
        env,
        &[
            ("PAYTRACK_YOOKASSA_SHOP_ID", YOOKASSA_SHOP),
            ("PAYTRACK_YOOKASSA_SECRET_KEY", YOOKASSA_KEY),
            ("PAYTRACK_YOOKASSA_API", &api.url()),
        ],
    )
}

#[test]
fn yookassa_believes_the_api_not_the_body() {
    let env = school();
    let id = booking(&env, 508);
    let part_id = booking(&env, 509);
    let api = FakeApi::start();
    let server = yookassa_server(&env, &api);
    let pid = "2d9b3f9a-000f-5000-9000-1b68e7b15f3f";
    api.route(
        &format!("GET /v3/payments/{pid}"),
        200,
        yk_payment(pid, id, "300.00", "succeeded"),
    );

    // A forged notification: YooKassa does not know the payment.
    let before = env.snapshot();
    let forged = yk_notification(
        "payment.succeeded",
        yk_payment(
            "2d9b3f9a-dead-5000-9000-1b68e7b15f3f",
            id,
            "300.00",
            "succeeded",
        ),
    );
    assert_eq!(server.post("/webhooks/yookassa", &[], &forged).0, 401);
    unchanged(&env, &before, "a refused or repeated request");

    // The body claims a different amount: the API's answer counts.
    let body = yk_notification(
        "payment.succeeded",
        yk_payment(pid, id, "1.00", "succeeded"),
    );
    assert_eq!(server.post("/webhooks/yookassa", &[], &body).0, 200);
    assert_eq!(status_of(&env, id), 2);
    assert_eq!(
        payments_of(&env, id),
        vec![(pid.to_string(), 30000, "confirmed".to_string())]
    );
    let seen = api.seen.lock().unwrap().clone();
    let (_, _, headers, _) = seen.last().unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{YOOKASSA_SHOP}:{YOOKASSA_KEY}"))
    );
    assert_eq!(headers.get("authorization"), Some(&expected));

    let before = env.snapshot();
    assert_eq!(server.post("/webhooks/yookassa", &[], &body).0, 200);
    unchanged(&env, &before, "a replay wrote something");

    // The API says the payment is still pending: refused, nothing written.
    let pending = "2d9b3f9a-0001-5000-9000-1b68e7b15f3f";
    api.route(
        &format!("GET /v3/payments/{pending}"),
        200,
        yk_payment(pending, part_id, "300.00", "pending"),
    );
    let body = yk_notification(
        "payment.succeeded",
        yk_payment(pending, part_id, "300.00", "succeeded"),
    );
    assert_eq!(server.post("/webhooks/yookassa", &[], &body).0, 401);
    unchanged(&env, &before, "a refused or repeated request");

    let part = "2d9b3f9a-0002-5000-9000-1b68e7b15f3f";
    api.route(
        &format!("GET /v3/payments/{part}"),
        200,
        yk_payment(part, part_id, "150.00", "succeeded"),
    );
    let body = yk_notification(
        "payment.succeeded",
        yk_payment(part, part_id, "150.00", "succeeded"),
    );
    assert_eq!(server.post("/webhooks/yookassa", &[], &body).0, 200);
    assert_eq!(status_of(&env, part_id), 1);
    assert_eq!(payments_of(&env, part_id)[0].2, "partial");

    let refund_id = "216749f7-0016-50be-b000-078d43a63ae4";
    let refund = serde_json::json!({
        "id": refund_id, "payment_id": pid, "status": "succeeded",
        "created_at": "2024-03-02T10:00:00.000Z", "amount": {"value": "100.00", "currency": "RUB"}
    });
    api.route(&format!("GET /v3/refunds/{refund_id}"), 200, refund.clone());
    let body = yk_notification("refund.succeeded", refund);
    assert_eq!(server.post("/webhooks/yookassa", &[], &body).0, 200);
    assert_eq!(
        payments_of(&env, id).last().unwrap(),
        &(refund_id.to_string(), -10000, "refund".to_string())
    );

    // Our credentials refused by the API: 502 (YooKassa retries), nothing written.
    let denied = "2d9b3f9a-0004-5000-9000-1b68e7b15f3f";
    api.route(
        &format!("GET /v3/payments/{denied}"),
        401,
        serde_json::json!({"type": "error", "code": "invalid_credentials"}),
    );
    let body = yk_notification(
        "payment.succeeded",
        yk_payment(denied, id, "300.00", "succeeded"),
    );
    let before = env.snapshot();
    assert_eq!(server.post("/webhooks/yookassa", &[], &body).0, 502);
    unchanged(&env, &before, "a fetch-back with refused credentials");
    let log = server.log_with(|l| l.contains("status=502"));
    assert!(
        log.iter().any(|l| l.contains("refused the shop id")),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains(YOOKASSA_KEY)), "{log:?}");

    // The API is down: 502, so YooKassa retries; nothing written.
    drop(api);
    let before = env.snapshot();
    let other = yk_notification(
        "payment.succeeded",
        yk_payment(
            "2d9b3f9a-0003-5000-9000-1b68e7b15f3f",
            id,
            "1.00",
            "succeeded",
        ),
    );
    assert_eq!(server.post("/webhooks/yookassa", &[], &other).0, 502);
    unchanged(&env, &before, "a refused or repeated request");
}

// ---- The server itself -----------------------------------------------------

#[test]
fn unconfigured_providers_unknown_paths_methods_and_large_bodies_are_refused() {
    let env = school();
    let server = tinkoff_server(&env);
    let before = env.snapshot();
    for path in [
        "/webhooks/stripe",
        "/webhooks/yookassa",
        "/webhooks/cloudpayments",
        "/",
        "/webhooks/paypal",
    ] {
        assert_eq!(server.post(path, &[], b"{}").0, 404, "{path}");
    }
    assert_eq!(
        http(server.addr, "GET", "/webhooks/tinkoff", &[], b"").0,
        405
    );
    let huge = vec![b'x'; 300 * 1024];
    assert_eq!(server.post("/webhooks/tinkoff", &[], &huge).0, 413);
    assert_eq!(server.post("/webhooks/tinkoff", &[], b"not json").0, 401);
    assert_eq!(server.post("/webhooks/tinkoff", &[], b"\xff\xfe{").0, 401);
    // Still serving after all that.
    let id = booking(&env, 510);
    let body = tinkoff_body(&id.to_string(), 9201, "CONFIRMED", 30000, TINKOFF_PASSWORD);
    assert_eq!(server.post("/webhooks/tinkoff", &[], &body).0, 200);
    assert_eq!(status_of(&env, id), 2);
    drop(before);
}

#[test]
fn serve_without_any_secret_refuses_to_start() {
    let env = school();
    let err = env.fails(&["payments", "serve", "--listen", "127.0.0.1:0"], 3);
    assert!(err.contains("no provider is configured"), "{err}");
}

#[test]
fn twenty_concurrent_notifications_are_each_applied_once() {
    let env = school();
    let ids: Vec<i64> = (0..20).map(|i| booking(&env, 600 + i)).collect();
    let server = tinkoff_server(&env);
    let addr = server.addr;
    let threads: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let body = tinkoff_body(
                &id.to_string(),
                10_000 + i as i64,
                "CONFIRMED",
                30000,
                TINKOFF_PASSWORD,
            );
            std::thread::spawn(move || {
                // Each sent twice at once: the second is a replay.
                let again = body.clone();
                let twin = std::thread::spawn(move || {
                    http(addr, "POST", "/webhooks/tinkoff", &[], &again)
                });
                let first = http(addr, "POST", "/webhooks/tinkoff", &[], &body);
                (first, twin.join().unwrap())
            })
        })
        .collect();
    for t in threads {
        let (a, b) = t.join().unwrap();
        assert_eq!((a.0, b.0), (200, 200));
    }
    assert_eq!(env.count("SELECT COUNT(*) FROM payments"), 20);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2"),
        20
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM outbox"), 20);
    assert_eq!(env.count("SELECT COUNT(*) FROM provider_payments"), 20);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log:?}");
    assert_eq!(
        log.iter().filter(|l| l.contains("outcome=replay")).count(),
        20,
        "{log:?}"
    );
    assert!(log.last().unwrap().contains("stopped"), "{log:?}");
}

#[test]
fn kill_9_mid_request_leaves_nothing_half_written() {
    let env = school();
    let ids: Vec<i64> = (0..30).map(|i| booking(&env, 700 + i)).collect();
    let server = tinkoff_server(&env);
    let addr = server.addr;
    let pid = server.child.id();
    let senders: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let body = tinkoff_body(
                &id.to_string(),
                20_000 + i as i64,
                "CONFIRMED",
                30000,
                TINKOFF_PASSWORD,
            );
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(3 * i as u64));
                // The server may be gone: any outcome, but no panic here.
                std::panic::catch_unwind(|| http(addr, "POST", "/webhooks/tinkoff", &[], &body))
                    .ok()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(40));
    unsafe_kill(pid, "KILL");
    let answered: usize = senders
        .into_iter()
        .filter_map(|t| t.join().ok().flatten())
        .filter(|(status, _)| *status == 200)
        .count();
    drop(server);
    // Each booking is all or nothing: confirmed ⇔ its payment ⇔ its facts ⇔ its message.
    for id in &ids {
        let confirmed = status_of(&env, *id) == 2;
        let n = |sql: String| env.count(&sql);
        let payments = n(format!(
            "SELECT COUNT(*) FROM payments WHERE booking_id = {id}"
        ));
        let facts = n(format!(
            "SELECT COUNT(*) FROM provider_payments WHERE booking_id = {id}"
        ));
        let messages = messages_of(&env, *id);
        let audit = n(format!("SELECT COUNT(*) FROM audit_log WHERE booking_id = {id} AND action = 'booking.status_changed'"));
        let expected = i64::from(confirmed);
        assert_eq!(
            (payments, facts, messages, audit),
            (expected, expected, expected, expected),
            "booking {id}"
        );
    }
    let confirmed = env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2") as usize;
    assert!(
        confirmed >= answered,
        "{confirmed} confirmed, {answered} answered 200"
    );
    // And the database is sound: a new server applies the rest.
    let server = tinkoff_server(&env);
    for (i, id) in ids.iter().enumerate() {
        let body = tinkoff_body(
            &id.to_string(),
            20_000 + i as i64,
            "CONFIRMED",
            30000,
            TINKOFF_PASSWORD,
        );
        assert_eq!(server.post("/webhooks/tinkoff", &[], &body).0, 200);
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2"),
        30
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM payments"), 30);
}

#[test]
fn users_erase_erases_the_raw_notification() {
    let env = school();
    let id = booking(&env, 801);
    let server = tinkoff_server(&env);
    let body = tinkoff_body(&id.to_string(), 9301, "CONFIRMED", 30000, TINKOFF_PASSWORD);
    assert_eq!(server.post("/webhooks/tinkoff", &[], &body).0, 200);
    drop(server);
    assert!(env
        .query_text("SELECT raw FROM provider_payments WHERE external_id = '9301'")
        .unwrap()
        .contains("430000******0777"));
    env.ok(&[
        "users",
        "erase",
        "801",
        "--reason",
        "asked to be forgotten",
        "--yes",
    ]);
    assert_eq!(
        env.query_text("SELECT raw FROM provider_payments WHERE external_id = '9301'"),
        None
    );
    assert_eq!(
        env.query_text("SELECT method FROM provider_payments WHERE external_id = '9301'"),
        Some("card".into())
    );
}

// ---- Payment links ---------------------------------------------------------

/// Runs paytrack with extra environment variables; (exit code, stdout, stderr).
fn run_env(env: &Env, vars: &[(&str, String)], args: &[&str]) -> (i32, String, String) {
    let out = env
        .cmd()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_yookassa_link_is_for_the_amount_due_and_its_payment_confirms_the_booking() {
    let env = school();
    let id = booking(&env, 901);
    let api = FakeApi::start();
    let pid = "2d9b3f9a-0abc-5000-9000-1b68e7b15f3f";
    api.route(
        "POST /v3/payments",
        200,
        serde_json::json!({"id": pid, "status": "pending", "amount": {"value": "200.00", "currency": "RUB"},
            "confirmation": {"type": "redirect", "confirmation_url": "https://yoomoney.ru/checkout/payments/v2/contract?orderId=abc"}}),
    );
    let vars = [
        ("PAYTRACK_YOOKASSA_SHOP_ID", YOOKASSA_SHOP.to_string()),
        ("PAYTRACK_YOOKASSA_SECRET_KEY", YOOKASSA_KEY.to_string()),
        ("PAYTRACK_YOOKASSA_API", api.url()),
    ];
    // 100.00 of 300.00 was paid already (a bank transfer): 200.00 is due.
    let file = env.write(
        "bank.csv",
        format!("external_id,provider,booking_id,amount,currency\nb1,bank,{id},100.00,RUB\n"),
    );
    let (code, _, _) = run_env(&env, &[], &["payments", "import", &file]);
    assert_eq!(code, 10, "a part payment is news for a person");

    let (code, _, err) = run_env(
        &env,
        &vars,
        &[
            "bookings",
            "pay-link",
            &id.to_string(),
            "--provider",
            "yookassa",
        ],
    );
    assert_eq!(code, 3, "no return URL: {err}");
    assert!(err.contains("--return-url"), "{err}");

    let before = env.snapshot();
    let (code, out, err) = run_env(
        &env,
        &vars,
        &[
            "bookings",
            "pay-link",
            &id.to_string(),
            "--provider",
            "yookassa",
            "--return-url",
            "https://t.me/school_bot",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    drop(before);
    // Only the link is remembered (for payments fetch); no payment yet.
    assert_eq!(
        env.query_rows("SELECT provider, payment_id, booking_id, amount_minor FROM pay_links"),
        vec![vec![
            Some("yookassa".into()),
            Some(pid.into()),
            Some(id.to_string()),
            Some("20000".into())
        ]]
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM payments"), 1);
    let link: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        link["url"],
        "https://yoomoney.ru/checkout/payments/v2/contract?orderId=abc"
    );
    assert_eq!(link["amount_minor"], 20000);
    assert_eq!(link["payment_id"], pid);
    let seen = api.seen.lock().unwrap().clone();
    let (method, target, headers, body) = seen.last().unwrap();
    assert_eq!((method.as_str(), target.as_str()), ("POST", "/v3/payments"));
    assert!(headers
        .get("idempotence-key")
        .is_some_and(|k| k.contains(&id.to_string())));
    assert!(headers
        .get("authorization")
        .is_some_and(|a| a.starts_with("Basic ")));
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        sent["amount"],
        serde_json::json!({"value": "200.00", "currency": "RUB"})
    );
    assert_eq!(sent["metadata"]["booking_id"], id.to_string());
    assert!(!out.contains(YOOKASSA_KEY) && !err.contains(YOOKASSA_KEY));

    // The student pays; YooKassa notifies; the booking is confirmed.
    api.route(
        &format!("GET /v3/payments/{pid}"),
        200,
        yk_payment(pid, id, "200.00", "succeeded"),
    );
    let server = yookassa_server(&env, &api);
    let body = yk_notification(
        "payment.succeeded",
        yk_payment(pid, id, "200.00", "succeeded"),
    );
    assert_eq!(server.post("/webhooks/yookassa", &[], &body).0, 200);
    assert_eq!(status_of(&env, id), 2);
    assert_eq!(messages_of(&env, id), 1);

    // Nothing is due any more.
    let (code, _, err) = run_env(
        &env,
        &vars,
        &[
            "bookings",
            "pay-link",
            &id.to_string(),
            "--provider",
            "yookassa",
            "--return-url",
            "https://x",
        ],
    );
    assert_eq!(code, 5, "{err}");
    let (code, _, _) = run_env(
        &env,
        &vars,
        &[
            "bookings",
            "pay-link",
            "9999",
            "--provider",
            "yookassa",
            "--return-url",
            "https://x",
        ],
    );
    assert_eq!(code, 4);
}

#[test]
fn a_tinkoff_link_is_a_signed_init_and_stripe_and_cloudpayments_links_work() {
    let env = school();
    let id = booking(&env, 902);
    let api = FakeApi::start();
    api.route(
        "POST /v2/Init",
        200,
        serde_json::json!({"Success": true, "ErrorCode": "0", "TerminalKey": "TinkoffBankTest",
            "Status": "NEW", "PaymentId": "13660", "OrderId": "x", "Amount": 30000,
            "PaymentURL": "https://securepay.tinkoff.ru/new/fU1ppgqa"}),
    );
    let vars = [
        (
            "PAYTRACK_TINKOFF_TERMINAL_KEY",
            "TinkoffBankTest".to_string(),
        ),
        ("PAYTRACK_TINKOFF_PASSWORD", TINKOFF_PASSWORD.to_string()),
        ("PAYTRACK_TINKOFF_API", format!("http://{}/v2", api.addr)),
    ];
    let (code, out, err) = run_env(
        &env,
        &vars,
        &[
            "bookings",
            "pay-link",
            &id.to_string(),
            "--provider",
            "tinkoff",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "https://securepay.tinkoff.ru/new/fU1ppgqa");
    let seen = api.seen.lock().unwrap().clone();
    let sent: serde_json::Value = serde_json::from_str(&seen.last().unwrap().3).unwrap();
    assert_eq!(sent["Amount"], 30000);
    assert!(sent["OrderId"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{id}-")));
    // The request's token, recomputed here from the documented rule.
    let mut pairs: Vec<(String, String)> = sent
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| k.as_str() != "Token" && !v.is_object() && !v.is_array())
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    pairs.push(("Password".into(), TINKOFF_PASSWORD.into()));
    pairs.sort();
    let concatenated: String = pairs.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(
        sent["Token"],
        hex::encode(Sha256::digest(concatenated.as_bytes()))
    );

    api.route(
        "POST /v1/checkout/sessions",
        200,
        serde_json::json!({"id": "cs_test_a1", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_a1"}),
    );
    let vars = [
        ("PAYTRACK_STRIPE_SECRET_KEY", "sk_test_123".to_string()),
        ("PAYTRACK_STRIPE_API", format!("http://{}/v1", api.addr)),
        (
            "PAYTRACK_PAY_RETURN_URL",
            "https://t.me/school_bot".to_string(),
        ),
    ];
    let (code, out, err) = run_env(
        &env,
        &vars,
        &[
            "bookings",
            "pay-link",
            &id.to_string(),
            "--provider",
            "stripe",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "https://checkout.stripe.com/c/pay/cs_test_a1");
    let seen = api.seen.lock().unwrap().clone();
    let (_, _, headers, body) = seen.last().unwrap();
    assert_eq!(
        headers.get("authorization").map(String::as_str),
        Some("Bearer sk_test_123")
    );
    assert!(
        body.contains("metadata%5Bbooking_id%5D=") || body.contains("metadata[booking_id]="),
        "{body}"
    );
    assert!(body.contains("30000"), "{body}");

    api.route(
        "POST /orders/create",
        200,
        serde_json::json!({"Success": true, "Model": {"Id": "f2K8LV6reGE9WBFn", "Url": "https://orders.cloudpayments.ru/d/f2K8LV6reGE9WBFn"}}),
    );
    let vars = [
        ("PAYTRACK_CLOUDPAYMENTS_PUBLIC_ID", "pk_test".to_string()),
        (
            "PAYTRACK_CLOUDPAYMENTS_SECRET",
            CLOUDPAYMENTS_SECRET.to_string(),
        ),
        ("PAYTRACK_CLOUDPAYMENTS_API", format!("http://{}", api.addr)),
    ];
    let (code, out, err) = run_env(
        &env,
        &vars,
        &[
            "bookings",
            "pay-link",
            &id.to_string(),
            "--provider",
            "cloudpayments",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "https://orders.cloudpayments.ru/d/f2K8LV6reGE9WBFn"
    );
    let seen = api.seen.lock().unwrap().clone();
    let sent: serde_json::Value = serde_json::from_str(&seen.last().unwrap().3).unwrap();
    assert_eq!(
        (sent["Amount"].as_str(), sent["InvoiceId"].as_str()),
        (Some("300.00"), Some(id.to_string().as_str()))
    );

    // The provider refuses: one clear error line, nothing changed.
    api.route(
        "POST /v2/Init",
        200,
        serde_json::json!({"Success": false, "ErrorCode": "204"}),
    );
    let before = env.snapshot();
    let vars = [
        (
            "PAYTRACK_TINKOFF_TERMINAL_KEY",
            "TinkoffBankTest".to_string(),
        ),
        ("PAYTRACK_TINKOFF_PASSWORD", TINKOFF_PASSWORD.to_string()),
        ("PAYTRACK_TINKOFF_API", format!("http://{}/v2", api.addr)),
    ];
    let (code, _, err) = run_env(
        &env,
        &vars,
        &[
            "bookings",
            "pay-link",
            &id.to_string(),
            "--provider",
            "tinkoff",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("paytrack: error:"))
            .count(),
        1,
        "{err}"
    );
    assert!(!err.contains(TINKOFF_PASSWORD));
    unchanged(&env, &before, "a refused link");
}

// ---- payments fetch --------------------------------------------------------

#[test]
fn fetch_reconciles_what_the_webhooks_missed_and_is_idempotent_with_them() {
    let env = school();
    let (a, b, c) = (booking(&env, 951), booking(&env, 952), booking(&env, 953));
    let api = FakeApi::start();
    let (pa, pb, pc) = (
        "2d9b3f9a-0a00-5000-9000-1b68e7b15f3f",
        "2d9b3f9a-0b00-5000-9000-1b68e7b15f3f",
        "2d9b3f9a-0c00-5000-9000-1b68e7b15f3f",
    );
    // Booking a's payment came by webhook.
    api.route(
        &format!("GET /v3/payments/{pa}"),
        200,
        yk_payment(pa, a, "300.00", "succeeded"),
    );
    let server = yookassa_server(&env, &api);
    let body = yk_notification(
        "payment.succeeded",
        yk_payment(pa, a, "300.00", "succeeded"),
    );
    assert_eq!(server.post("/webhooks/yookassa", &[], &body).0, 200);
    drop(server);

    // The list: page 1 has a (known) and b; page 2 has c's part payment and a
    // payment still pending (not money yet).
    api.route(
        "GET /v3/payments",
        200,
        serde_json::json!({"type": "list", "items": [yk_payment(pa, a, "300.00", "succeeded"), yk_payment(pb, b, "300.00", "succeeded")], "next_cursor": "page2"}),
    );
    api.route(
        "GET /v3/payments?cursor=page2",
        200,
        serde_json::json!({"type": "list", "items": [yk_payment(pc, c, "100.00", "succeeded"), yk_payment("2d9b3f9a-0d00-5000-9000-1b68e7b15f3f", c, "200.00", "pending")]}),
    );
    api.route(
        "GET /v3/refunds",
        200,
        serde_json::json!({"type": "list", "items": []}),
    );
    let vars = [
        ("PAYTRACK_YOOKASSA_SHOP_ID", YOOKASSA_SHOP.to_string()),
        ("PAYTRACK_YOOKASSA_SECRET_KEY", YOOKASSA_KEY.to_string()),
        ("PAYTRACK_YOOKASSA_API", api.url()),
    ];
    let (code, out, err) = run_env(
        &env,
        &vars,
        &[
            "payments",
            "fetch",
            "--provider",
            "yookassa",
            "--since",
            "24h",
            "--json",
        ],
    );
    assert_eq!(code, 10, "c's part payment needs a person: {err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            report["fetched"].as_u64(),
            report["stored"].as_u64(),
            report["already_stored"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(
        (status_of(&env, a), status_of(&env, b), status_of(&env, c)),
        (2, 2, 1)
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM payments"), 3);
    assert_eq!(messages_of(&env, a) + messages_of(&env, b), 2);
    let seen = api.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(_, target, _, _)| target.contains("created_at.gte=2024-12-09T12:00:00.000Z")),
        "{seen:?}"
    );

    // Again: nothing new.
    let before = env.snapshot();
    let (code, out, _) = run_env(
        &env,
        &vars,
        &["payments", "fetch", "--provider", "yookassa", "--json"],
    );
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["stored"], 0);
    unchanged(&env, &before, "a second fetch");

    // Stripe is not fetched: refused with one clear line.
    let err = env.fails(&["payments", "fetch", "--provider", "stripe"], 3);
    assert!(err.contains("not supported"), "{err}");
}

#[test]
fn tinkoff_fetch_asks_get_state_about_each_link() {
    let env = school();
    let (a, b) = (booking(&env, 991), booking(&env, 992));
    let api = FakeApi::start();
    let vars = [
        (
            "PAYTRACK_TINKOFF_TERMINAL_KEY",
            "TinkoffBankTest".to_string(),
        ),
        ("PAYTRACK_TINKOFF_PASSWORD", TINKOFF_PASSWORD.to_string()),
        ("PAYTRACK_TINKOFF_API", format!("http://{}/v2", api.addr)),
    ];
    for (booking, payment) in [(a, "13661"), (b, "13662")] {
        api.route(
            "POST /v2/Init",
            200,
            serde_json::json!({"Success": true, "ErrorCode": "0", "PaymentId": payment,
                "PaymentURL": format!("https://securepay.tinkoff.ru/new/{payment}")}),
        );
        let (code, _, err) = run_env(
            &env,
            &vars,
            &[
                "bookings",
                "pay-link",
                &booking.to_string(),
                "--provider",
                "tinkoff",
            ],
        );
        assert_eq!(code, 0, "{err}");
    }
    // a was paid and its notification arrived; b was paid and its notification was lost.
    let server = tinkoff_server(&env);
    let body = tinkoff_body(
        &format!("{a}-1"),
        13661,
        "CONFIRMED",
        30000,
        TINKOFF_PASSWORD,
    );
    assert_eq!(server.post("/webhooks/tinkoff", &[], &body).0, 200);
    drop(server);
    // GetState: both confirmed; b's notification never came.
    for (booking, payment) in [(a, "13661"), (b, "13662")] {
        api.route(
            &format!("POST /v2/GetState#{payment}"),
            200,
            serde_json::json!({"Success": true, "ErrorCode": "0", "Status": "CONFIRMED",
                "PaymentId": payment, "OrderId": format!("{booking}-1"), "Amount": 30000}),
        );
    }
    let (code, out, err) = run_env(
        &env,
        &vars,
        &["payments", "fetch", "--provider", "tinkoff", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            report["fetched"].as_u64(),
            report["stored"].as_u64(),
            report["already_stored"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{report}"
    );
    let before = env.snapshot();
    let (code, _, err) = run_env(&env, &vars, &["payments", "fetch", "--provider", "tinkoff"]);
    assert_eq!(code, 0, "{err}");
    unchanged(&env, &before, "a second fetch");
    assert_eq!((status_of(&env, a), status_of(&env, b)), (2, 2));
    assert_eq!(env.count("SELECT COUNT(*) FROM payments"), 2);
    // Each GetState request was signed with the documented token.
    let seen = api.seen.lock().unwrap().clone();
    let get_states: Vec<serde_json::Value> = seen
        .iter()
        .filter(|(_, target, _, _)| target.ends_with("/GetState"))
        .map(|(_, _, _, body)| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(get_states.len(), 4);
    for sent in get_states {
        let mut pairs = [
            ("PaymentId", sent["PaymentId"].as_str().unwrap().to_string()),
            ("Password", TINKOFF_PASSWORD.to_string()),
            ("TerminalKey", "TinkoffBankTest".to_string()),
        ];
        pairs.sort();
        let concatenated: String = pairs.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            sent["Token"],
            hex::encode(Sha256::digest(concatenated.as_bytes()))
        );
    }
}

#[test]
#[cfg_attr(
    not(have_flock),
    ignore = "needs bash and flock for the cron scripts (apt-get install -y util-linux; bash .ci/run installs it)"
)]
fn the_fetch_cron_script_runs_fetch() {
    let env = school();
    let id = booking(&env, 961);
    let api = FakeApi::start();
    let pid = "2d9b3f9a-0e00-5000-9000-1b68e7b15f3f";
    api.route(
        "GET /v3/payments",
        200,
        serde_json::json!({"type": "list", "items": [yk_payment(pid, id, "300.00", "succeeded")]}),
    );
    api.route(
        "GET /v3/refunds",
        200,
        serde_json::json!({"type": "list", "items": []}),
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/cron/fetch-online-payments.sh");
    let mut cmd = std::process::Command::new("bash");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("TZ", "UTC")
        .env("PAYTRACK_NOW", crate::harness::NOW)
        .env("PAYTRACK_DB", &env.db)
        .env("PAYTRACK_ACTOR", "tester")
        .env("PAYTRACK", assert_cmd::cargo::cargo_bin("paytrack"))
        .env("LOCK_DIR", env.dir.path())
        .env("PAYTRACK_YOOKASSA_SHOP_ID", YOOKASSA_SHOP)
        .env("PAYTRACK_YOOKASSA_SECRET_KEY", YOOKASSA_KEY)
        .env("PAYTRACK_YOOKASSA_API", api.url())
        .arg(&script);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(out.stdout.is_empty(), "cron output goes to stderr");
    assert!(err.contains("1 fetched, 1 new"), "{err}");
    assert_eq!(status_of(&env, id), 2);
}

#[test]
fn the_yookassa_allow_list_refuses_other_senders() {
    let env = school();
    let id = booking(&env, 971);
    let api = FakeApi::start();
    let pid = "2d9b3f9a-0f00-5000-9000-1b68e7b15f3f";
    api.route(
        &format!("GET /v3/payments/{pid}"),
        200,
        yk_payment(pid, id, "300.00", "succeeded"),
    );
    let err = env
        .cmd()
        .env("PAYTRACK_YOOKASSA_SHOP_ID", YOOKASSA_SHOP)
        .env("PAYTRACK_YOOKASSA_SECRET_KEY", YOOKASSA_KEY)
        .env("PAYTRACK_YOOKASSA_ALLOW_IPS", "185.71.76.0/99")
        .args(["payments", "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(3), "a bad list refuses to start");
    let server = Server::start(
        &env,
        &[
            ("PAYTRACK_YOOKASSA_SHOP_ID", YOOKASSA_SHOP),
            ("PAYTRACK_YOOKASSA_SECRET_KEY", YOOKASSA_KEY),
            ("PAYTRACK_YOOKASSA_API", &api.url()),
            (
                "PAYTRACK_YOOKASSA_ALLOW_IPS",
                "185.71.76.0/27, 77.75.156.11",
            ),
        ],
    );
    let body = yk_notification(
        "payment.succeeded",
        yk_payment(pid, id, "300.00", "succeeded"),
    );
    let before = env.snapshot();
    // nginx on this machine names the sender in X-Real-IP.
    assert_eq!(
        server
            .post(
                "/webhooks/yookassa",
                &[("X-Real-IP", "203.0.113.9".into())],
                &body
            )
            .0,
        403
    );
    assert_eq!(
        server.post("/webhooks/yookassa", &[], &body).0,
        403,
        "the loopback peer itself is not listed"
    );
    unchanged(&env, &before, "a sender outside the allow-list");
    assert!(
        api.seen.lock().unwrap().is_empty(),
        "refused before asking the API"
    );
    assert_eq!(
        server
            .post(
                "/webhooks/yookassa",
                &[("X-Real-IP", "185.71.76.7".into())],
                &body
            )
            .0,
        200
    );
    assert_eq!(status_of(&env, id), 2);
}

#[test]
fn sigterm_lets_the_request_under_way_finish() {
    let env = school();
    let id = booking(&env, 981);
    let api = FakeApi::start();
    let pid = "2d9b3f9a-1000-5000-9000-1b68e7b15f3f";
    api.route(
        &format!("GET /v3/payments/{pid}"),
        200,
        yk_payment(pid, id, "300.00", "succeeded"),
    );
    // YooKassa's API answers the fetch-back slowly: the request is under way when SIGTERM comes.
    api.delay_ms.store(1500, Ordering::Relaxed);
    let server = yookassa_server(&env, &api);
    let addr = server.addr;
    let body = yk_notification(
        "payment.succeeded",
        yk_payment(pid, id, "300.00", "succeeded"),
    );
    let request = std::thread::spawn(move || http(addr, "POST", "/webhooks/yookassa", &[], &body));
    // Bounded wait until the server is asking the API.
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.accepted.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        api.seen.lock().unwrap().is_empty(),
        "SIGTERM comes before the API answers"
    );
    let started = Instant::now();
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log:?}");
    assert_eq!(
        request.join().unwrap().0,
        200,
        "the request under way was answered"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(status_of(&env, id), 2, "and its payment landed");
    assert_eq!(payments_of(&env, id).len(), 1);
}

#[test]
fn a_stripe_payment_stored_unmatched_is_attached_when_a_later_event_names_the_booking() {
    let env = school();
    let id = booking(&env, 1001);
    let server = Server::start(&env, &[("PAYTRACK_STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)]);
    // A Payment Link made in Stripe's dashboard: the intent carries no metadata.
    let intent = serde_json::json!({
        "id": "evt_pi_x", "object": "event", "created": 1_709_276_761, "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_3Xy", "object": "payment_intent", "amount": 30000,
            "amount_received": 30000, "currency": "rub", "status": "succeeded", "metadata": {}}}
    })
    .to_string()
    .into_bytes();
    let header = stripe_header(STRIPE_SECRET, unix_now(), &intent);
    assert_eq!(
        server
            .post("/webhooks/stripe", &[("Stripe-Signature", header)], &intent)
            .0,
        200
    );
    assert_eq!(
        env.query_text("SELECT outcome FROM payments WHERE external_id = 'pi_3Xy'"),
        Some("unmatched".into())
    );
    // The session's event names the booking (client_reference_id).
    let mut session: serde_json::Value =
        serde_json::from_slice(&stripe_session(id, "pi_3Xy", 30000)).unwrap();
    session["data"]["object"]["metadata"] = serde_json::json!({});
    let session = session.to_string().into_bytes();
    let header = stripe_header(STRIPE_SECRET, unix_now(), &session);
    assert_eq!(
        server
            .post(
                "/webhooks/stripe",
                &[("Stripe-Signature", header)],
                &session
            )
            .0,
        200
    );
    assert_eq!(status_of(&env, id), 2);
    assert_eq!(
        payments_of(&env, id),
        vec![("pi_3Xy".to_string(), 30000, "confirmed".to_string())]
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM payments"), 1);
    assert_eq!(messages_of(&env, id), 1);
    // And again: a replay.
    let before = env.snapshot();
    let header = stripe_header(STRIPE_SECRET, unix_now(), &session);
    assert_eq!(
        server
            .post(
                "/webhooks/stripe",
                &[("Stripe-Signature", header)],
                &session
            )
            .0,
        200
    );
    unchanged(&env, &before, "a replay after the attachment");
}
