//! The webhook server of `payments serve` (issue 29): one endpoint per
//! provider, `POST /webhooks/{tinkoff,cloudpayments,yookassa,stripe}`.
//!
//! Routing, the body cap, the answers, one log line per request and the
//! clean stop live here; what a notification means is `services::providers`
//! (verification, the payment row) and `services::reconcile` (its outcome),
//! so the walk is server → providers → reconcile → db.
//!
//! Why tiny_http: a blocking HTTP/1.1 server on std threads, a handful of
//! small dependencies, maintained, and enough for a school's notifications (a
//! few a minute). axum/hyper would bring tokio, its runtime and a second I/O
//! model into a program whose database calls are all blocking; the sync
//! `postgres` client already runs its own small runtime internally, and
//! nothing here needs more. TLS is left to the nginx in front (README).
//!
//! Each worker thread owns a database connection and takes requests from the
//! shared listener; a notification is one write transaction. On Ctrl-C or
//! SIGTERM each worker finishes the request it has (its transaction is not
//! interrupted, see `Db::write_notification`) and stops within a quarter of
//! a second.

use std::io::Read as _;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::services::providers::{self, Applied, Event, Incoming, Provider, Refusal, Secrets};

/// The largest body read (a Stripe event is a few KiB; T-Bank's and
/// CloudPayments' notifications under one).
pub const MAX_BODY: usize = 256 * 1024;

/// How often a waiting worker looks at the stop flag.
const POLL: Duration = Duration::from_millis(250);

/// What the server needs to know.
pub struct Config {
    pub listen: String,
    pub secrets: Secrets,
    pub actor: String,
    /// PAYTRACK_NOW (tests): the time stamped on writes; None: the wall clock.
    pub fixed_now: Option<DateTime<Utc>>,
}

/// One answer and what the log line says about it.
struct Answer {
    status: u16,
    body: String,
    content_type: &'static str,
    provider: Option<Provider>,
    booking: Option<i64>,
    outcome: String,
}

impl Answer {
    fn plain(status: u16, outcome: &str, provider: Option<Provider>) -> Answer {
        Answer {
            status,
            body: String::new(),
            content_type: "text/plain; charset=utf-8",
            provider,
            booking: None,
            outcome: outcome.to_string(),
        }
    }

    fn ack(provider: Provider, booking: Option<i64>, outcome: String) -> Answer {
        let (body, content_type) = provider.ack();
        Answer {
            status: 200,
            body: body.to_string(),
            content_type,
            provider: Some(provider),
            booking,
            outcome,
        }
    }
}

/// Binds, prints the bound address on stderr, and serves until Ctrl-C or
/// SIGTERM with one worker per database connection in `dbs`.
pub fn run(config: Config, dbs: Vec<Db>) -> Result<()> {
    let server = tiny_http::Server::http(&config.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))
        .map_err(|e| crate::error::PaytrackError::BadInput(format!("{e:#}")))?;
    let server = Arc::new(server);
    let bound = server
        .server_addr()
        .to_ip()
        .map_or_else(|| config.listen.clone(), |a| a.to_string());
    let served: Vec<&str> = Provider::ALL
        .into_iter()
        .filter(|p| config.secrets.serves(*p))
        .map(Provider::as_str)
        .collect();
    eprintln!(
        "paytrack: listening on {bound} ({}; {} workers)",
        served.join(", "),
        dbs.len()
    );
    let config = Arc::new(config);
    let workers: Vec<_> = dbs
        .into_iter()
        .enumerate()
        .map(|(i, mut db)| {
            let server = Arc::clone(&server);
            let config = Arc::clone(&config);
            std::thread::Builder::new()
                .name(format!("webhook-{i}"))
                .spawn(move || {
                    while !crate::interrupt::requested() {
                        match server.recv_timeout(POLL) {
                            Ok(Some(request)) => serve_one(request, &mut db, &config),
                            Ok(None) => {}
                            Err(e) => {
                                eprintln!("paytrack: webhook: accepting a request failed: {e}");
                                std::thread::sleep(POLL);
                            }
                        }
                    }
                })
                .context("starting a worker thread")
        })
        .collect::<Result<_>>()?;
    for worker in workers {
        // A worker that panicked has logged it; the others stopped cleanly.
        let _ = worker.join();
    }
    eprintln!("paytrack: stopped");
    Ok(())
}

/// Answers one request and logs one line: provider, booking, outcome, status, time.
fn serve_one(mut request: tiny_http::Request, db: &mut Db, config: &Config) {
    let started = Instant::now();
    // A bug must cost one request a 500, not the server.
    let answer = std::panic::catch_unwind(AssertUnwindSafe(|| answer(&mut request, db, config)))
        .unwrap_or_else(|_| Answer::plain(500, "internal error", None));
    let elapsed = started.elapsed().as_millis();
    eprintln!(
        "paytrack: webhook provider={} booking={} outcome={} status={} ms={elapsed}",
        answer.provider.map_or("-", Provider::as_str),
        answer
            .booking
            .map_or_else(|| "-".to_string(), |b| b.to_string()),
        answer.outcome,
        answer.status,
    );
    let mut response =
        tiny_http::Response::from_string(answer.body).with_status_code(answer.status);
    if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", answer.content_type) {
        response = response.with_header(header);
    }
    // The provider hung up: it will retry; nothing to do here.
    let _ = request.respond(response);
}

fn answer(request: &mut tiny_http::Request, db: &mut Db, config: &Config) -> Answer {
    let path = request.url().split('?').next().unwrap_or_default();
    let Some(provider) = path
        .strip_prefix("/webhooks/")
        .map(|p| p.trim_end_matches('/'))
        .and_then(Provider::from_name)
    else {
        return Answer::plain(404, "no such endpoint", None);
    };
    // Never served unchecked: without its secret a provider does not exist here.
    if !config.secrets.serves(provider) {
        return Answer::plain(404, "provider not configured", Some(provider));
    }
    if *request.method() != tiny_http::Method::Post {
        return Answer::plain(405, "not a POST", Some(provider));
    }
    if let (Provider::YooKassa, Some(api)) = (provider, &config.secrets.yookassa) {
        if !api.allow.is_empty() && !sender(request).is_some_and(|ip| api.allow.allows(ip)) {
            return Answer::plain(
                403,
                "refused (sender not in PAYTRACK_YOOKASSA_ALLOW_IPS)",
                Some(provider),
            );
        }
    }
    if request.body_length().is_some_and(|n| n > MAX_BODY) {
        return Answer::plain(413, "body too large", Some(provider));
    }
    let mut body = Vec::new();
    match request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
    {
        Ok(n) if n > MAX_BODY => return Answer::plain(413, "body too large", Some(provider)),
        Ok(_) => {}
        Err(_) => return Answer::plain(400, "body unreadable", Some(provider)),
    }
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let incoming = Incoming {
        headers: &headers,
        body: &body,
        unix_now: Utc::now().timestamp(),
    };
    let notification = match providers::verify(provider, &config.secrets, &incoming) {
        Ok(Event::Money(n)) => n,
        Ok(Event::Ignored(why)) => {
            return Answer::ack(provider, None, format!("ignored ({why})"));
        }
        Err(refusal) => {
            let mut a = Answer::plain(
                refusal.status(),
                &format!("refused ({refusal})"),
                Some(provider),
            );
            if let Refusal::BadSignature(_) = refusal {
                a.body = "bad signature".into();
            }
            return a;
        }
    };
    let now = config.fixed_now.unwrap_or_else(Utc::now);
    match db.write_notification(|tx| {
        providers::apply(tx, &notification, &config.actor, now, "payments serve")
    }) {
        Ok((applied, booking)) => {
            let outcome = match applied {
                Applied::Stored {
                    confirmed: true, ..
                } => format!("{} (booking confirmed)", applied.describe()),
                _ => applied.describe().to_string(),
            };
            Answer::ack(provider, booking, outcome)
        }
        // Busy, disk full, a lost connection: nothing was written (one
        // transaction), and a 503 makes the provider send it again later.
        Err(e) => {
            let mut a = Answer::plain(503, &format!("error ({})", first_line(&e)), Some(provider));
            a.booking = notification.booking_id;
            a
        }
    }
}

/// The error's chain on one line, without anything from the request.
fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Who sent the request: the peer, or, when the peer is this machine (nginx
/// in front), the address nginx names in `X-Real-IP`. A remote peer's
/// `X-Real-IP` is never believed.
fn sender(request: &tiny_http::Request) -> Option<std::net::IpAddr> {
    let peer = request.remote_addr()?.ip();
    if !peer.is_loopback() {
        return Some(peer);
    }
    let forwarded = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("X-Real-IP"))
        .and_then(|h| h.value.as_str().trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}
