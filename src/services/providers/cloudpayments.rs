//! CloudPayments: Pay and Refund notifications.
//!
//! Documentation (CloudPayments, "Уведомления" and "Проверка уведомлений",
//! https://developers.cloudpayments.ru/#uvedomleniya): notifications are POSTs,
//! form-encoded by default (JSON when the site is set so), signed in the
//! `Content-HMAC` header with the base64 HMAC-SHA256 of the raw body, keyed
//! with the site's API secret (`X-Content-HMAC` carries the same over the
//! URL-decoded parameters; either is accepted). The answer is `{"code":0}`.
//! `Amount` is in rubles (a decimal), `Currency` the ISO code, `InvoiceId`
//! ours (the booking), `TransactionId` CloudPayments' id; a Refund has its own
//! `TransactionId` and names the payment in `PaymentTransactionId`.
//! `DateTime` is UTC, `yyyy-MM-dd HH:mm:ss`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{
    booking_from_order, constant_time_eq, major_to_minor, scalar_text, Event, Incoming,
    Notification, Provider, Refusal, Secret,
};

/// base64 HMAC-SHA256 of `data` with `secret`.
pub fn signature(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(data);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Percent-decoding of a form body (`+` is a space).
fn url_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len() => {
                match std::str::from_utf8(&text[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The parameters of a form or JSON body, as text.
fn parameters(body: &[u8]) -> Result<Vec<(String, String)>, Refusal> {
    let trimmed = body.trim_ascii_start();
    if trimmed.first() == Some(&b'{') {
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| Refusal::Malformed("body is not JSON".into()))?;
        let Value::Object(object) = value else {
            return Err(Refusal::Malformed("body is not a JSON object".into()));
        };
        return Ok(object
            .iter()
            .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t)))
            .collect());
    }
    Ok(body
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = url_decode(parts.next().unwrap_or_default());
            let value = url_decode(parts.next().unwrap_or_default());
            (
                String::from_utf8_lossy(&key).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            )
        })
        .collect())
}

pub fn verify(secret: &Secret, req: &Incoming<'_>) -> Result<Event, Refusal> {
    let signed = match (req.header("content-hmac"), req.header("x-content-hmac")) {
        (Some(sent), _) => constant_time_eq(
            signature(secret.expose(), req.body).as_bytes(),
            sent.trim().as_bytes(),
        ),
        (None, Some(sent)) => constant_time_eq(
            signature(secret.expose(), &url_decode(req.body)).as_bytes(),
            sent.trim().as_bytes(),
        ),
        (None, None) => return Err(Refusal::BadSignature("no Content-HMAC header")),
    };
    if !signed {
        return Err(Refusal::BadSignature("Content-HMAC does not match"));
    }
    let params = parameters(req.body)?;
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let refund = match (get("OperationType"), get("Status")) {
        (Some("Refund"), _) => true,
        (Some("Payment") | None, Some("Completed")) => false,
        _ => return Ok(Event::Ignored("not a completed payment or a refund")),
    };
    let transaction =
        get("TransactionId").ok_or_else(|| Refusal::Malformed("no TransactionId".into()))?;
    let amount =
        major_to_minor(get("Amount").ok_or_else(|| Refusal::Malformed("no Amount".into()))?)?;
    let paid_at = get("DateTime").and_then(|t| {
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|n| n.and_utc())
            .or_else(|| super::from_rfc3339(t))
    });
    let method = get("PaymentMethod")
        .map(str::to_string)
        .or_else(|| get("CardLastFour").map(|_| "card".to_string()));
    Ok(Event::Money(Notification {
        provider: Provider::CloudPayments,
        external_id: transaction.to_string(),
        booking_id: get("InvoiceId").and_then(booking_from_order),
        amount_minor: if refund { -amount } else { amount },
        currency: get("Currency")
            .map(crate::domain::payment::normalize_currency)
            .unwrap_or_default(),
        paid_at,
        event_at: None,
        method,
        refund_of: if refund {
            get("PaymentTransactionId").map(str::to_string)
        } else {
            None
        },
        raw: String::from_utf8_lossy(req.body).into_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        assert_eq!(url_decode(b"a+b%20c%3D"), b"a b c=");
        assert_eq!(url_decode(b"50%"), b"50%");
        let p = parameters(b"InvoiceId=42&Amount=10.00&Email=a%40b.ru").unwrap();
        assert_eq!(p[2], ("Email".to_string(), "a@b.ru".to_string()));
    }
}
