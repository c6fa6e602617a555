//! T-Bank (Tinkoff) internet acquiring: notifications and `Init`.
//!
//! Documentation (T-Bank, "Токен" and "Уведомления",
//! https://developer.tbank.ru/eacq/intro/developer/token and
//! https://developer.tbank.ru/eacq/intro/developer/notification): a
//! notification is a JSON POST to the terminal's notification URL. Its
//! `Token` is the hex SHA-256 of the values of the root object's parameters
//! (nested objects and arrays such as `Data` and `Receipt` left out, and
//! `Token` itself), with the pair `Password` (the terminal's password) added,
//! sorted by key and concatenated; booleans are written `true`/`false`. The
//! merchant answers HTTP 200 with the body `OK`, or T-Bank sends it again.
//! `Amount` is in kopecks, `OrderId` is ours (the booking, see
//! `providers::booking_from_order`), `PaymentId` is T-Bank's payment id.
//! `Status` `CONFIRMED` is money received; `REFUNDED` / `PARTIAL_REFUNDED` is
//! money returned; other statuses (`AUTHORIZED`, `REJECTED`…) change nothing.
//! `Init` (https://developer.tbank.ru/eacq/api/init) is signed the same way and
//! answers `PaymentURL`.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    booking_from_order, constant_time_eq, scalar_text, Event, Incoming, Notification, Provider,
    Refusal, Secret,
};

pub const DEFAULT_API: &str = "https://securepay.tinkoff.ru/v2";

/// The terminal: its key (for `Init`), password (for tokens) and API base URL.
#[derive(Debug, Clone)]
pub struct Config {
    pub terminal_key: Option<String>,
    pub password: Secret,
    pub api: String,
}

/// The token of a JSON object: SHA-256 hex of the sorted root scalars plus Password.
pub fn token(object: &serde_json::Map<String, Value>, password: &str) -> String {
    let mut pairs: BTreeMap<&str, String> = object
        .iter()
        .filter(|(k, _)| k.as_str() != "Token")
        .filter_map(|(k, v)| scalar_text(v).map(|t| (k.as_str(), t)))
        .collect();
    pairs.insert("Password", password.to_string());
    let mut h = Sha256::new();
    for value in pairs.values() {
        h.update(value.as_bytes());
    }
    hex::encode(h.finalize())
}

pub fn verify(config: &Config, req: &Incoming<'_>) -> Result<Event, Refusal> {
    let value: Value = serde_json::from_slice(req.body)
        .map_err(|_| Refusal::BadSignature("body is not JSON, so it carries no token"))?;
    let Value::Object(object) = value else {
        return Err(Refusal::BadSignature("body is not a JSON object"));
    };
    let Some(sent) = object.get("Token").and_then(Value::as_str) else {
        return Err(Refusal::BadSignature("no Token"));
    };
    let expected = token(&object, config.password.expose());
    if !constant_time_eq(expected.as_bytes(), sent.to_ascii_lowercase().as_bytes()) {
        return Err(Refusal::BadSignature("Token does not match"));
    }
    read(&object, String::from_utf8_lossy(req.body).into_owned())
}

/// What a signed notification (or a `GetState` answer) says about money.
fn read(object: &serde_json::Map<String, Value>, raw: String) -> Result<Event, Refusal> {
    let text = |key: &str| object.get(key).and_then(scalar_text);
    let status = text("Status").unwrap_or_default();
    if object.get("Success").and_then(Value::as_bool) == Some(false) {
        return Ok(Event::Ignored("unsuccessful operation"));
    }
    let refund = match status.as_str() {
        "CONFIRMED" => false,
        "REFUNDED" | "PARTIAL_REFUNDED" => true,
        _ => return Ok(Event::Ignored("status changes nothing")),
    };
    let payment_id = text("PaymentId").ok_or_else(|| Refusal::Malformed("no PaymentId".into()))?;
    let amount: i64 = text("Amount")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| Refusal::Malformed("Amount is not a whole number of kopecks".into()))?;
    let booking_id = text("OrderId").as_deref().and_then(booking_from_order);
    Ok(Event::Money(Notification {
        provider: Provider::Tinkoff,
        // A refund is its own row: the payment id, the status and the sum
        // returned (T-Bank gives a refund no id of its own in the notification).
        external_id: if refund {
            format!("{payment_id}:{status}:{amount}")
        } else {
            payment_id.clone()
        },
        booking_id,
        amount_minor: if refund { -amount } else { amount },
        // Terminals in rubles; the notification names no currency.
        currency: String::new(),
        paid_at: None,
        event_at: None,
        method: object.contains_key("Pan").then(|| "card".to_string()),
        refund_of: refund.then_some(payment_id),
        raw,
    }))
}

/// Asks `GetState` (https://developer.tbank.ru/eacq/api/get-state) what
/// became of a payment a link created: a confirmed one is money to reconcile
/// (`payments fetch`); the answer comes over TLS from the API we called.
pub fn get_state(config: &Config, payment_id: &str) -> anyhow::Result<Event> {
    let terminal_key = config.terminal_key.as_deref().ok_or_else(|| {
        crate::error::bad_input("PAYTRACK_TINKOFF_TERMINAL_KEY is not set".to_string())
    })?;
    let mut body = serde_json::Map::new();
    body.insert("TerminalKey".into(), Value::from(terminal_key));
    body.insert("PaymentId".into(), Value::from(payment_id));
    let token = token(&body, config.password.expose());
    body.insert("Token".into(), Value::from(token));
    let answer = super::api::post_json(
        &format!("{}/GetState", config.api.trim_end_matches('/')),
        &Value::Object(body),
        &[],
    )
    .map_err(|e| anyhow::anyhow!("T-Bank GetState: {e}"))?;
    let Value::Object(object) = answer else {
        anyhow::bail!("T-Bank GetState answered no object");
    };
    let answered = object.get("PaymentId").and_then(scalar_text);
    if answered.as_deref() != Some(payment_id) {
        anyhow::bail!("T-Bank GetState answered about another payment than {payment_id}");
    }
    let raw = serde_json::to_string(&object)?;
    read(&object, raw).map_err(|e| anyhow::anyhow!("T-Bank GetState: {e}"))
}

/// A payment link created by `Init`.
#[derive(Debug, Clone)]
pub struct Link {
    pub payment_id: String,
    pub url: String,
}

/// Creates a payment with `Init` for `amount_minor` kopecks; `order_id` names the booking.
pub fn init(
    config: &Config,
    order_id: &str,
    amount_minor: i64,
    description: &str,
) -> anyhow::Result<Link> {
    let terminal_key = config.terminal_key.as_deref().ok_or_else(|| {
        crate::error::bad_input("PAYTRACK_TINKOFF_TERMINAL_KEY is not set".to_string())
    })?;
    let mut body = serde_json::Map::new();
    body.insert("TerminalKey".into(), Value::from(terminal_key));
    body.insert("Amount".into(), Value::from(amount_minor));
    body.insert("OrderId".into(), Value::from(order_id));
    body.insert("Description".into(), Value::from(description));
    let token = token(&body, config.password.expose());
    body.insert("Token".into(), Value::from(token));
    let answer = super::api::post_json(
        &format!("{}/Init", config.api.trim_end_matches('/')),
        &Value::Object(body),
        &[],
    )
    .map_err(|e| anyhow::anyhow!("T-Bank Init: {e}"))?;
    if answer.get("Success").and_then(Value::as_bool) != Some(true) {
        let code = answer
            .get("ErrorCode")
            .and_then(scalar_text)
            .unwrap_or_default();
        anyhow::bail!("T-Bank refused Init (ErrorCode {code})");
    }
    Ok(Link {
        payment_id: answer
            .get("PaymentId")
            .and_then(scalar_text)
            .unwrap_or_default(),
        url: answer
            .get("PaymentURL")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("T-Bank's Init answered no PaymentURL"))?
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documentation's example: TerminalKey, Amount, OrderId, Description
    /// plus Password, sorted by key, values concatenated.
    #[test]
    fn token_follows_the_documented_order() {
        let object: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"TerminalKey":"MerchantTerminalKey","Amount":19200,"OrderId":"00000",
                "Description":"Подарочная карта на 1000 рублей","Receipt":{"Email":"a@b.c"},
                "DATA":{"x":"y"},"Token":"ignored"}"#,
        )
        .unwrap();
        let concatenated =
            "19200Подарочная карта на 1000 рублей0000011111111111111MerchantTerminalKey";
        assert_eq!(
            token(&object, "11111111111111"),
            hex::encode(Sha256::digest(concatenated.as_bytes()))
        );
    }

    #[test]
    fn booleans_are_words() {
        let object: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"Success":true,"A":"1"}"#).unwrap();
        assert_eq!(token(&object, "p"), hex::encode(Sha256::digest(b"1ptrue")));
    }
}
