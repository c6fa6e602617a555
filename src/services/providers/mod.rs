//! Online payment providers (issue 29): verify a notification as its provider
//! documents, turn it into a payment row, and reconcile that row with the same
//! rules as a bank file (`services::reconcile`), in one transaction.
//!
//! One module per provider holds its signature check and its field mapping
//! (`tinkoff`, `cloudpayments`, `yookassa`, `stripe`), each citing the
//! provider's documentation. Nothing here listens on a socket: `server/`
//! routes HTTP requests here. YooKassa signs nothing, so its check is a
//! fetch-back from the provider's API (`yookassa::Api`).
//!
//! The key of a payment is the provider's own id, stored as
//! `payments.external_id` under the provider's name, so a notification sent
//! twice, a `payments fetch` of the same payment and an import of the
//! provider's export all land on one row: `(provider, external_id)` is unique.

pub mod api;
pub mod cloudpayments;
pub mod links;
pub mod stripe;
pub mod tinkoff;
pub mod yookassa;

use std::fmt;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::db::payments::NewPayment;
use crate::db::provider_facts::ProviderFacts;
use crate::db::WriteTx;
use crate::domain::payment::PaymentOutcome;
use crate::services::reconcile::{IncomingPayment, Reconciler};

/// The providers paytrack takes notifications from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Provider {
    Tinkoff,
    #[value(name = "cloudpayments")]
    CloudPayments,
    #[value(name = "yookassa")]
    YooKassa,
    Stripe,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Tinkoff,
        Provider::CloudPayments,
        Provider::YooKassa,
        Provider::Stripe,
    ];

    /// The name stored in `payments.provider` and used in the webhook path.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Tinkoff => "tinkoff",
            Provider::CloudPayments => "cloudpayments",
            Provider::YooKassa => "yookassa",
            Provider::Stripe => "stripe",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// What the provider expects in a 200 answer, and its content type:
    /// T-Bank wants the text `OK`, CloudPayments `{"code":0}`; YooKassa and
    /// Stripe only look at the status.
    pub fn ack(self) -> (&'static str, &'static str) {
        match self {
            Provider::Tinkoff => ("OK", "text/plain; charset=utf-8"),
            Provider::CloudPayments => ("{\"code\":0}", "application/json"),
            Provider::YooKassa | Provider::Stripe => ("{}", "application/json"),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret read from the environment. Never printed: Debug and Display
/// show only that it is set.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(set)")
    }
}

/// Each provider's secret, from the environment only (never a flag: a flag
/// shows in `ps` and shell history). A provider without its secret is not
/// served at all.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub tinkoff: Option<tinkoff::Config>,
    pub cloudpayments: Option<Secret>,
    pub yookassa: Option<yookassa::Api>,
    pub stripe: Option<Secret>,
}

/// Reads a variable; an empty one counts as unset.
fn env_secret(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(Secret)
}

impl Secrets {
    pub fn from_env() -> Secrets {
        Secrets {
            tinkoff: env_secret("PAYTRACK_TINKOFF_PASSWORD").map(|password| tinkoff::Config {
                terminal_key: std::env::var("PAYTRACK_TINKOFF_TERMINAL_KEY").ok(),
                password,
                api: std::env::var("PAYTRACK_TINKOFF_API")
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| tinkoff::DEFAULT_API.to_string()),
            }),
            cloudpayments: env_secret("PAYTRACK_CLOUDPAYMENTS_SECRET"),
            yookassa: match (
                env_secret("PAYTRACK_YOOKASSA_SHOP_ID"),
                env_secret("PAYTRACK_YOOKASSA_SECRET_KEY"),
            ) {
                (Some(shop_id), Some(secret_key)) => {
                    let mut api = yookassa::Api::new(
                        shop_id,
                        secret_key,
                        std::env::var("PAYTRACK_YOOKASSA_API")
                            .ok()
                            .filter(|v| !v.is_empty()),
                    );
                    // `serve` refuses to start on a list that does not parse
                    // (`yookassa::allow_list_from_env`); should one get here,
                    // it lets only the broadcast address in: nobody.
                    api.allow = yookassa::allow_list_from_env()
                        .unwrap_or_else(|_| yookassa::AllowList::nobody());
                    Some(api)
                }
                _ => None,
            },
            stripe: env_secret("PAYTRACK_STRIPE_WEBHOOK_SECRET"),
        }
    }

    pub fn serves(&self, provider: Provider) -> bool {
        match provider {
            Provider::Tinkoff => self.tinkoff.is_some(),
            Provider::CloudPayments => self.cloudpayments.is_some(),
            Provider::YooKassa => self.yookassa.is_some(),
            Provider::Stripe => self.stripe.is_some(),
        }
    }
}

/// An HTTP request as a provider module sees it: header names lower-case.
pub struct Incoming<'a> {
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// The wall clock, Unix seconds (Stripe's tolerance is against real time).
    pub unix_now: i64,
}

impl Incoming<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a notification was not taken. The text never quotes the body (it
/// holds e-mails and card masks).
#[derive(Debug)]
pub enum Refusal {
    /// No valid signature (or the fetched-back object does not say so): 401.
    BadSignature(&'static str),
    /// Signed, but not a notification we can read: 400.
    Malformed(String),
    /// The provider's API could not be asked (YooKassa's fetch-back): 502,
    /// so the provider retries later.
    Upstream(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadSignature(_) => 401,
            Refusal::Malformed(_) => 400,
            Refusal::Upstream(_) => 502,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::BadSignature(why) => write!(f, "bad signature: {why}"),
            Refusal::Malformed(why) => write!(f, "malformed: {why}"),
            Refusal::Upstream(why) => write!(f, "provider API: {why}"),
        }
    }
}

/// A verified notification about money: a payment (positive amount) or a
/// refund (negative), keyed by the provider's id.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub provider: Provider,
    /// The provider's payment id (a refund's own id for a refund).
    pub external_id: String,
    /// The booking the order id / metadata names (None: none or unreadable).
    pub booking_id: Option<i64>,
    /// Minor units; negative for a refund.
    pub amount_minor: i64,
    /// ISO code, upper case (empty: the stream's currency).
    pub currency: String,
    /// When the provider says the money moved, as stored with the payment:
    /// the same in every notification of this payment (else a resent one
    /// would read as a conflicting version of it).
    pub paid_at: Option<DateTime<Utc>>,
    /// The notification's own time (kept with the provider facts).
    pub event_at: Option<DateTime<Utc>>,
    /// Card, SBP, wallet… as the provider names it.
    pub method: Option<String>,
    /// For a refund that names no booking: the payment it returns, whose
    /// booking it belongs to.
    pub refund_of: Option<String>,
    /// The notification as received (kept with the payment, erased with the person).
    pub raw: String,
}

/// What a verified request means.
#[derive(Debug)]
pub enum Event {
    Money(Notification),
    /// A notification about something else (a status we do not act on, a
    /// non-final state): acknowledged, nothing written.
    Ignored(&'static str),
}

/// Checks a request to `provider`'s endpoint and reads it. The caller
/// answers 404 for a provider without secrets; this refuses too.
pub fn verify(provider: Provider, secrets: &Secrets, req: &Incoming<'_>) -> Result<Event, Refusal> {
    let missing = Refusal::BadSignature("provider not configured");
    match provider {
        Provider::Tinkoff => tinkoff::verify(secrets.tinkoff.as_ref().ok_or(missing)?, req),
        Provider::CloudPayments => {
            cloudpayments::verify(secrets.cloudpayments.as_ref().ok_or(missing)?, req)
        }
        Provider::YooKassa => yookassa::verify(secrets.yookassa.as_ref().ok_or(missing)?, req),
        Provider::Stripe => stripe::verify(secrets.stripe.as_ref().ok_or(missing)?, req),
    }
}

/// What applying a notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Stored with this outcome (the booking confirmed when `confirmed`).
    Stored {
        outcome: PaymentOutcome,
        confirmed: bool,
    },
    /// This payment was stored before (a retried notification): nothing written.
    Replay,
}

impl Applied {
    pub fn describe(self) -> &'static str {
        match self {
            Applied::Stored { outcome, .. } => outcome.as_str(),
            Applied::Replay => "replay",
        }
    }
}

/// Stores a verified notification and reconciles it, inside `tx`: the same
/// decision, audit entry and confirmation message as `payments import`. A
/// payment already stored under its provider id writes nothing.
pub fn apply(
    tx: &WriteTx,
    n: &Notification,
    actor: &str,
    now: DateTime<Utc>,
    source: &'static str,
) -> Result<(Applied, Option<i64>)> {
    let mut booking_id = n.booking_id;
    if booking_id.is_none() {
        if let Some(original) = &n.refund_of {
            booking_id = tx
                .stored_payment(n.provider.as_str(), original)?
                .and_then(|s| s.payment.booking_id);
        }
    }
    if let Some(attached) = attach_if_named_later(tx, n, booking_id, actor, now)? {
        return Ok((attached, booking_id));
    }
    let payment = NewPayment {
        provider: n.provider.as_str().to_string(),
        external_id: n.external_id.clone(),
        booking_id,
        amount_minor: n.amount_minor,
        currency: n.currency.clone(),
        paid_at: n.paid_at.map(crate::domain::time::to_storage),
        description: None,
    };
    let mut reconciler = Reconciler::for_one(tx, actor, now).with_source(source);
    reconciler.apply(IncomingPayment { line: 1, payment })?;
    let report = reconciler.finish(&format!("{source} {}", n.provider))?;
    if report.imported == 0 {
        return Ok((Applied::Replay, booking_id));
    }
    let outcome = PaymentOutcome::ALL
        .into_iter()
        .find(|o| report.count(*o) > 0)
        .unwrap_or(PaymentOutcome::Unmatched);
    tx.insert_provider_facts(
        &ProviderFacts {
            provider: n.provider.as_str(),
            external_id: &n.external_id,
            booking_id,
            method: n.method.as_deref(),
            provider_paid_at: n.event_at.or(n.paid_at),
            raw: &n.raw,
        },
        now,
    )?;
    Ok((
        Applied::Stored {
            outcome,
            confirmed: report.bookings_confirmed > 0,
        },
        booking_id,
    ))
}

/// A payment stored as `unmatched` (its first notification named no booking,
/// e.g. Stripe's `payment_intent.succeeded` of a Payment Link made in the
/// dashboard) whose later notification names one (`checkout.session.completed`
/// with `client_reference_id`): attached to that booking and reconciled there
/// by `payments assign`'s rules, instead of being skipped as a replay.
fn attach_if_named_later(
    tx: &WriteTx,
    n: &Notification,
    booking_id: Option<i64>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Applied>> {
    let Some(booking_id) = booking_id else {
        return Ok(None);
    };
    let Some(stored) = tx.stored_payment(n.provider.as_str(), &n.external_id)? else {
        return Ok(None);
    };
    let p = &stored.payment;
    if p.outcome != PaymentOutcome::Unmatched.as_str()
        || p.booking_id.is_some()
        || p.amount_minor != n.amount_minor
    {
        return Ok(None);
    }
    let done = crate::services::payment_review::assign(
        tx,
        &crate::services::payment_review::Assignment {
            payment_id: p.id,
            booking_id,
            force: false,
            reason: Some(format!(
                "a later {} notification named the booking",
                n.provider
            )),
        },
        actor,
        now,
    )?;
    Ok(Some(Applied::Stored {
        outcome: done.outcome,
        confirmed: done.booking_confirmed,
    }))
}

/// Compares two byte strings in time that depends on their lengths only,
/// not on where they first differ (a signature must not leak by timing).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// The booking an order id or metadata value names: `42`, or `42-…` (a pay
/// link adds a suffix, since T-Bank wants each order id used once).
pub fn booking_from_order(text: &str) -> Option<i64> {
    let head = text.trim().split(['-', '_', '/']).next()?;
    head.parse::<i64>().ok().filter(|id| *id > 0)
}

/// A JSON value as text: strings as they are, numbers and booleans as JSON
/// writes them (what T-Bank's token and amounts in rubles need).
pub(crate) fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An amount in major units ("100.00", 100, 100.5) as minor units.
pub(crate) fn major_to_minor(text: &str) -> Result<i64, Refusal> {
    crate::domain::money::parse_amount(text)
        .map_err(|_| Refusal::Malformed("amount is not a number".into()))
}

/// Unix seconds as a time.
pub(crate) fn from_unix(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

/// An RFC 3339 time (YooKassa's `captured_at`, T-Bank's dates).
pub(crate) fn from_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn order_ids_name_bookings() {
        assert_eq!(booking_from_order("42"), Some(42));
        assert_eq!(booking_from_order("42-1733550000"), Some(42));
        assert_eq!(booking_from_order("abc"), None);
        assert_eq!(booking_from_order("0"), None);
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
