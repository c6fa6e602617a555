//! YooKassa (ЮKassa): notifications, payments and the payment list.
//!
//! Documentation (YooKassa, "Входящие уведомления",
//! https://yookassa.ru/developers/using-api/webhooks): a notification is a
//! JSON POST `{"type":"notification","event":"payment.succeeded","object":{…}}`
//! and carries no signature. YooKassa's advice for checking one is to ask the
//! API for the object's current status (and, optionally, to accept only its
//! published IP ranges); so paytrack trusts nothing in the body but the
//! object's id: it fetches `GET /v3/payments/{id}` (or `/v3/refunds/{id}`)
//! with HTTP Basic auth (shop id : secret key) and reads the amount, currency,
//! status and metadata from that answer. An id YooKassa does not know is
//! refused as a forgery. The merchant answers HTTP 200 or YooKassa retries.
//! Amounts are decimal strings in major units (`"2.00"`), `metadata.booking_id`
//! is ours. Creating a payment (https://yookassa.ru/developers/api#create_payment)
//! takes an `Idempotence-Key` header; the list
//! (https://yookassa.ru/developers/api#get_payments_list) pages with `cursor`.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::api::{self, CallError};
use super::{
    booking_from_order, from_rfc3339, major_to_minor, scalar_text, Event, Incoming, Notification,
    Provider, Refusal, Secret,
};

pub const DEFAULT_API: &str = "https://api.yookassa.ru/v3";

/// `PAYTRACK_YOOKASSA_ALLOW_IPS`, parsed (empty when unset).
pub fn allow_list_from_env() -> Result<AllowList, String> {
    match std::env::var("PAYTRACK_YOOKASSA_ALLOW_IPS") {
        Ok(text) => {
            AllowList::parse(&text).map_err(|e| format!("PAYTRACK_YOOKASSA_ALLOW_IPS: {e}"))
        }
        Err(_) => Ok(AllowList::default()),
    }
}

/// The optional IP allow-list (`PAYTRACK_YOOKASSA_ALLOW_IPS`, addresses and
/// CIDR ranges separated by commas; YooKassa publishes the ranges it sends
/// from). Empty: every sender is checked by the fetch-back alone.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Vec<(IpAddr, u8)>);

impl AllowList {
    /// Parses `185.71.76.0/27,77.75.156.11,2a02:5180::/32`.
    pub fn parse(text: &str) -> Result<AllowList, String> {
        let mut ranges = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("'{item}' is not an IP address or range"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("'{item}' has a bad prefix length"))?,
                None => max,
            };
            ranges.push((addr, bits));
        }
        Ok(AllowList(ranges))
    }

    /// A list no sender matches.
    pub fn nobody() -> AllowList {
        AllowList(vec![(IpAddr::from([255, 255, 255, 255]), 32)])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        self.0.iter().any(|(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*bits)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*bits)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }
}

/// The shop's credentials and the API base URL (`PAYTRACK_YOOKASSA_API`, so
/// tests can point it at a local fake).
#[derive(Debug, Clone)]
pub struct Api {
    shop_id: Secret,
    secret_key: Secret,
    base: String,
    /// Who may send notifications (empty: anyone; the fetch-back decides).
    pub allow: AllowList,
}

impl Api {
    pub fn new(shop_id: Secret, secret_key: Secret, base: Option<String>) -> Api {
        Api {
            shop_id,
            secret_key,
            base: base
                .unwrap_or_else(|| DEFAULT_API.to_string())
                .trim_end_matches('/')
                .to_string(),
            allow: AllowList::default(),
        }
    }

    fn auth(&self) -> (&'static str, String) {
        (
            "Authorization",
            api::basic_auth(self.shop_id.expose(), self.secret_key.expose()),
        )
    }

    /// An object by kind (`payments`, `refunds`) and id.
    fn fetch(&self, kind: &str, id: &str) -> Result<Value, CallError> {
        // Ids are YooKassa's (letters, digits, dashes); anything else cannot be one.
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(CallError::Status(404));
        }
        api::get_json(&format!("{}/{kind}/{id}", self.base), &[self.auth()])
    }

    /// Creates a payment for a booking; answers (payment id, confirmation URL).
    pub fn create_payment(
        &self,
        booking_id: i64,
        amount_minor: i64,
        currency: &str,
        description: &str,
        return_url: &str,
        idempotence_key: &str,
    ) -> anyhow::Result<(String, String)> {
        let body = serde_json::json!({
            "amount": {"value": format!("{}.{:02}", amount_minor / 100, amount_minor % 100), "currency": currency},
            "capture": true,
            "confirmation": {"type": "redirect", "return_url": return_url},
            "description": description,
            "metadata": {"booking_id": booking_id.to_string()},
        });
        let answer = api::post_json(
            &format!("{}/payments", self.base),
            &body,
            &[
                self.auth(),
                ("Idempotence-Key", idempotence_key.to_string()),
            ],
        )
        .map_err(|e| anyhow::anyhow!("YooKassa create payment: {e}"))?;
        let id = answer
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let url = answer
            .pointer("/confirmation/confirmation_url")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("YooKassa answered no confirmation_url"))?
            .to_string();
        Ok((id, url))
    }

    /// Succeeded payments and refunds created since `since`, every page (at
    /// most `max_pages` of 100 each), as notifications: payments first.
    pub fn succeeded_since(
        &self,
        since: DateTime<Utc>,
        max_pages: usize,
    ) -> anyhow::Result<Vec<Notification>> {
        let mut found = self.list("payments", since, max_pages)?;
        found.extend(self.list("refunds", since, max_pages)?);
        Ok(found)
    }

    fn list(
        &self,
        kind: &str,
        since: DateTime<Utc>,
        max_pages: usize,
    ) -> anyhow::Result<Vec<Notification>> {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..max_pages {
            let mut url = format!(
                "{}/{kind}?status=succeeded&limit=100&created_at.gte={}",
                self.base,
                since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
            if let Some(c) = &cursor {
                url += &format!("&cursor={c}");
            }
            let page = api::get_json(&url, &[self.auth()])
                .map_err(|e| anyhow::anyhow!("YooKassa {kind} list: {e}"))?;
            for item in page
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if item.get("status").and_then(Value::as_str) != Some("succeeded") {
                    continue;
                }
                let n = if kind == "refunds" {
                    refund_notification(item, item.to_string())
                } else {
                    payment_notification(item, item.to_string())
                };
                if let Ok(n) = n {
                    found.push(n);
                }
            }
            cursor = page
                .get("next_cursor")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(|c| c.chars().filter(char::is_ascii_alphanumeric).collect());
            if cursor.is_none() {
                break;
            }
        }
        Ok(found)
    }
}

/// A succeeded payment object as a notification.
fn payment_notification(object: &Value, raw: String) -> Result<Notification, Refusal> {
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::Malformed("payment without id".into()))?;
    let (amount, currency) = amount_of(object)?;
    Ok(Notification {
        provider: Provider::YooKassa,
        external_id: id.to_string(),
        booking_id: object
            .pointer("/metadata/booking_id")
            .and_then(scalar_text)
            .as_deref()
            .and_then(booking_from_order),
        amount_minor: amount,
        currency,
        paid_at: object
            .get("captured_at")
            .or_else(|| object.get("created_at"))
            .and_then(Value::as_str)
            .and_then(from_rfc3339),
        event_at: None,
        method: object
            .pointer("/payment_method/type")
            .and_then(Value::as_str)
            .map(str::to_string),
        refund_of: None,
        raw,
    })
}

/// A succeeded refund object as a (negative) notification; its booking is
/// the refunded payment's.
fn refund_notification(object: &Value, raw: String) -> Result<Notification, Refusal> {
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::Malformed("refund without id".into()))?;
    let (amount, currency) = amount_of(object)?;
    Ok(Notification {
        provider: Provider::YooKassa,
        external_id: id.to_string(),
        booking_id: object
            .pointer("/metadata/booking_id")
            .and_then(scalar_text)
            .as_deref()
            .and_then(booking_from_order),
        amount_minor: -amount,
        currency,
        paid_at: object
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(from_rfc3339),
        event_at: None,
        method: None,
        refund_of: object
            .get("payment_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        raw,
    })
}

fn amount_of(object: &Value) -> Result<(i64, String), Refusal> {
    let value = object
        .pointer("/amount/value")
        .and_then(scalar_text)
        .ok_or_else(|| Refusal::Malformed("no amount.value".into()))?;
    let currency = object
        .pointer("/amount/currency")
        .and_then(Value::as_str)
        .map(crate::domain::payment::normalize_currency)
        .unwrap_or_default();
    Ok((major_to_minor(&value)?, currency))
}

fn fetch_refusal(e: CallError) -> Refusal {
    match e {
        // YooKassa does not know this id: the notification did not come
        // from YooKassa for this shop.
        CallError::Status(404 | 400) => {
            Refusal::BadSignature("the object is not in this shop at YooKassa")
        }
        // Our own credentials are refused: not the sender's fault; a 502
        // keeps YooKassa retrying until they are fixed.
        CallError::Status(401 | 403) => Refusal::Upstream(
            "YooKassa refused the shop id and secret key (PAYTRACK_YOOKASSA_SHOP_ID, PAYTRACK_YOOKASSA_SECRET_KEY)"
                .into(),
        ),
        other => Refusal::Upstream(other.to_string()),
    }
}

pub fn verify(api: &Api, req: &Incoming<'_>) -> Result<Event, Refusal> {
    let body: Value = serde_json::from_slice(req.body)
        .map_err(|_| Refusal::Malformed("body is not JSON".into()))?;
    let event = body
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let id = body
        .pointer("/object/id")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::Malformed("no object.id".into()))?;
    match event {
        "payment.succeeded" => {
            // The truth is what the API says now, not what the body claims.
            let object = api.fetch("payments", id).map_err(fetch_refusal)?;
            if object.get("status").and_then(Value::as_str) != Some("succeeded") {
                return Err(Refusal::BadSignature(
                    "YooKassa says the payment has not succeeded",
                ));
            }
            Ok(Event::Money(payment_notification(
                &object,
                String::from_utf8_lossy(req.body).into_owned(),
            )?))
        }
        "refund.succeeded" => {
            let object = api.fetch("refunds", id).map_err(fetch_refusal)?;
            if object.get("status").and_then(Value::as_str) != Some("succeeded") {
                return Err(Refusal::BadSignature(
                    "YooKassa says the refund has not succeeded",
                ));
            }
            Ok(Event::Money(refund_notification(
                &object,
                String::from_utf8_lossy(req.body).into_owned(),
            )?))
        }
        _ => Ok(Event::Ignored("event changes nothing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matches_ranges() {
        let list = AllowList::parse("185.71.76.0/27, 77.75.156.11,2a02:5180::/32").unwrap();
        let ok = |ip: &str| list.allows(ip.parse().unwrap());
        assert!(ok("185.71.76.31"));
        assert!(!ok("185.71.76.32"));
        assert!(ok("77.75.156.11"));
        assert!(!ok("77.75.156.12"));
        assert!(ok("2a02:5180::1"));
        assert!(ok("::ffff:185.71.76.1"));
        assert!(!ok("127.0.0.1"));
        assert!(AllowList::parse("1.2.3.4/33").is_err());
        assert!(AllowList::parse("example.com").is_err());
    }
}
