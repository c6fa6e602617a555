//! Stripe: webhook events and Checkout Sessions.
//!
//! Documentation (Stripe, "Verify webhook signatures manually",
//! https://docs.stripe.com/webhooks#verify-manually): the `Stripe-Signature`
//! header is `t=<unix time>,v1=<hex>[,v1=…][,v0=…]`; the signed payload is
//! the timestamp, a `.`, and the raw body; the expected signature is the hex
//! HMAC-SHA256 of it keyed with the endpoint's signing secret (`whsec_…`),
//! compared in constant time against each `v1` (other schemes ignored); a
//! timestamp more than 5 minutes from now is refused (Stripe's libraries'
//! default tolerance, against replays). Events (https://docs.stripe.com/api/events/types):
//! `checkout.session.completed` (paid when `payment_status` is `paid`),
//! `payment_intent.succeeded` and `charge.refunded`. Amounts are in the
//! currency's smallest unit, currencies lower-case ISO codes; our booking is
//! `metadata.booking_id`. A Checkout payment sends both of the first two
//! events: both are keyed by the PaymentIntent id, so the second is a replay.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{
    booking_from_order, constant_time_eq, from_unix, scalar_text, Event, Incoming, Notification,
    Provider, Refusal, Secret,
};

/// How far a signature's timestamp may be from now, in seconds.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The hex signature of `timestamp.payload`.
pub fn signature(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the `Stripe-Signature` header against the body.
fn check_signature(secret: &Secret, req: &Incoming<'_>) -> Result<(), Refusal> {
    let header = req
        .header("stripe-signature")
        .ok_or(Refusal::BadSignature("no Stripe-Signature header"))?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v.to_ascii_lowercase()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Refusal::BadSignature("no timestamp in Stripe-Signature"))?;
    if candidates.is_empty() {
        return Err(Refusal::BadSignature("no v1 signature"));
    }
    let expected = signature(secret.expose(), timestamp, req.body);
    // Every candidate is compared, so the time does not tell which matched.
    let matched = candidates.iter().fold(false, |ok, c| {
        constant_time_eq(expected.as_bytes(), c.as_bytes()) | ok
    });
    if !matched {
        return Err(Refusal::BadSignature("signature does not match"));
    }
    if (req.unix_now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(Refusal::BadSignature(
            "timestamp outside the 5-minute tolerance",
        ));
    }
    Ok(())
}

pub fn verify(secret: &Secret, req: &Incoming<'_>) -> Result<Event, Refusal> {
    check_signature(secret, req)?;
    let event: Value = serde_json::from_slice(req.body)
        .map_err(|_| Refusal::Malformed("body is not JSON".into()))?;
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let object = event
        .pointer("/data/object")
        .ok_or_else(|| Refusal::Malformed("no data.object".into()))?;
    let text = |v: &Value, key: &str| v.get(key).and_then(scalar_text);
    let int = |v: &Value, key: &str| v.get(key).and_then(Value::as_i64);
    let booking = object
        .pointer("/metadata/booking_id")
        .and_then(scalar_text)
        .or_else(|| text(object, "client_reference_id"))
        .as_deref()
        .and_then(booking_from_order);
    let currency = text(object, "currency")
        .map(|c| c.to_uppercase())
        .unwrap_or_default();
    // The event's time differs between checkout.session.completed and
    // payment_intent.succeeded for one payment: kept as a fact, not as the
    // payment's date (which must not differ between them).
    let event_at = int(&event, "created").and_then(from_unix);
    let raw = String::from_utf8_lossy(req.body).into_owned();
    let money = |external_id: String, amount_minor: i64, method, refund_of| {
        Event::Money(Notification {
            provider: Provider::Stripe,
            external_id,
            booking_id: booking,
            amount_minor,
            currency: currency.clone(),
            paid_at: None,
            event_at,
            method,
            refund_of,
            raw: raw.clone(),
        })
    };
    let missing = |what: &str| Refusal::Malformed(format!("{kind}: no {what}"));
    match kind {
        "checkout.session.completed" => {
            if text(object, "payment_status").as_deref() != Some("paid") {
                return Ok(Event::Ignored("checkout session not paid yet"));
            }
            let id = text(object, "payment_intent")
                .or_else(|| text(object, "id"))
                .ok_or_else(|| missing("id"))?;
            let amount = int(object, "amount_total").ok_or_else(|| missing("amount_total"))?;
            Ok(money(id, amount, None, None))
        }
        "payment_intent.succeeded" => {
            let id = text(object, "id").ok_or_else(|| missing("id"))?;
            let amount = int(object, "amount_received")
                .or_else(|| int(object, "amount"))
                .ok_or_else(|| missing("amount_received"))?;
            let method = object
                .pointer("/payment_method_types/0")
                .and_then(Value::as_str)
                .map(str::to_string);
            Ok(money(id, amount, method, None))
        }
        "charge.refunded" => {
            let intent = text(object, "payment_intent");
            // The newest refund when the event lists them; otherwise the
            // charge's total refunded so far, keyed by that total.
            let (id, amount) = match object.pointer("/refunds/data/0") {
                Some(refund) => (
                    text(refund, "id").ok_or_else(|| missing("refund id"))?,
                    int(refund, "amount").ok_or_else(|| missing("refund amount"))?,
                ),
                None => {
                    let total =
                        int(object, "amount_refunded").ok_or_else(|| missing("amount_refunded"))?;
                    let charge = text(object, "id").ok_or_else(|| missing("id"))?;
                    (format!("{charge}:refunded:{total}"), total)
                }
            };
            Ok(money(id, -amount, None, intent))
        }
        _ => Ok(Event::Ignored("event type changes nothing")),
    }
}

/// A Checkout Session created for a booking.
#[derive(Debug, Clone)]
pub struct Link {
    pub session_id: String,
    pub url: String,
}

/// Creates a Checkout Session (`POST /v1/checkout/sessions`, form-encoded,
/// https://docs.stripe.com/api/checkout/sessions/create) with the booking in
/// the session's and the PaymentIntent's metadata.
pub fn checkout_session(
    api: &str,
    secret_key: &Secret,
    due: &crate::domain::payment::Due,
    return_url: &str,
    idempotency_key: &str,
) -> anyhow::Result<Link> {
    let booking = due.booking_id.to_string();
    let amount = due.amount_minor.to_string();
    let currency = due.currency.to_lowercase();
    let description = due.description.as_str();
    let form: Vec<(&str, &str)> = vec![
        ("mode", "payment"),
        ("success_url", return_url),
        ("client_reference_id", &booking),
        ("metadata[booking_id]", &booking),
        ("payment_intent_data[metadata][booking_id]", &booking),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][currency]", &currency),
        ("line_items[0][price_data][unit_amount]", &amount),
        ("line_items[0][price_data][product_data][name]", description),
    ];
    let answer = super::api::post_form(
        &format!("{}/checkout/sessions", api.trim_end_matches('/')),
        &form,
        &[
            ("Authorization", format!("Bearer {}", secret_key.expose())),
            ("Idempotency-Key", idempotency_key.to_string()),
        ],
    )
    .map_err(|e| anyhow::anyhow!("Stripe checkout session: {e}"))?;
    Ok(Link {
        session_id: answer
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        url: answer
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("Stripe answered no url"))?
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(headers: &'a [(String, String)], body: &'a [u8], now: i64) -> Incoming<'a> {
        Incoming {
            headers,
            body,
            unix_now: now,
        }
    }

    #[test]
    fn signature_checks_time_and_body() {
        let secret = Secret("whsec_test".into());
        let body = br#"{"type":"ping","data":{"object":{}}}"#;
        let sig = signature("whsec_test", 1_700_000_000, body);
        let headers = vec![(
            "stripe-signature".to_string(),
            format!("t=1700000000,v1=deadbeef,v1={sig},v0=zz"),
        )];
        assert!(check_signature(&secret, &incoming(&headers, body, 1_700_000_100)).is_ok());
        assert!(check_signature(&secret, &incoming(&headers, body, 1_700_000_301)).is_err());
        assert!(check_signature(&secret, &incoming(&headers, b"{}", 1_700_000_000)).is_err());
    }
}
