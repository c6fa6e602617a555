//! Payment links (issue 29, `bookings pay-link`): what a booking still owes,
//! and a payment for it created at the provider, whose page the student
//! opens. The provider's notification then confirms the booking through
//! `payments serve`, keyed by the booking id the link carries.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{api, stripe, tinkoff, Provider, Secret};
use crate::db::WriteTx;
use crate::domain::payment::Due;
use crate::domain::Status;
use crate::error::{bad_input, PaytrackError};
use crate::services::reconcile::booking_facts;

/// The amount due for a pending booking; refuses one that is not pending,
/// has no price, or owes nothing.
pub fn amount_due(tx: &WriteTx, booking_id: i64) -> Result<Due> {
    let booking = tx
        .booking(booking_id)?
        .ok_or_else(|| PaytrackError::NotFound(format!("no booking {booking_id}")))?;
    if booking.status != Status::Pending {
        return Err(PaytrackError::TransitionRefused(format!(
            "booking {booking_id} is {}, not pending: nothing to pay",
            booking.status
        ))
        .into());
    }
    let facts = booking_facts(tx, &booking)?;
    let (Some(expected), Some(currency)) = (facts.expected_minor, facts.currency) else {
        return Err(bad_input(format!(
            "booking {booking_id}: its stream has no price and currency (streams edit --price --currency)"
        )));
    };
    let received = tx.received_total(booking_id, &currency)?.clamped_i64();
    let amount_minor = expected.saturating_sub(received);
    if amount_minor <= 0 {
        return Err(PaytrackError::TransitionRefused(format!(
            "booking {booking_id} has received its price already"
        ))
        .into());
    }
    let stream = booking.course_stream.clone().unwrap_or_default();
    Ok(Due {
        booking_id,
        amount_minor,
        currency,
        description: if stream.is_empty() {
            format!("Booking {booking_id}")
        } else {
            format!("Booking {booking_id} ({stream})")
        },
    })
}

/// A link created at a provider.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub booking_id: i64,
    pub provider: &'static str,
    /// The provider's id of the created payment / session / invoice.
    pub payment_id: String,
    pub url: String,
    pub amount_minor: i64,
    pub currency: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn required(name: &str) -> Result<Secret> {
    env(name)
        .map(Secret)
        .ok_or_else(|| bad_input(format!("{name} is not set")))
}

/// Creates the payment at `provider` for `due` (all settings from the
/// environment). `now` makes T-Bank's order id unique and dates YooKassa's
/// idempotence key, so a link asked twice the same day is one payment.
pub fn create(provider: Provider, due: &Due, return_url: &str, now: DateTime<Utc>) -> Result<Link> {
    let booking = due.booking_id;
    let day = now.format("%Y%m%d");
    let key = format!("paytrack-{booking}-{}-{day}", due.amount_minor);
    let (payment_id, url) = match provider {
        Provider::Tinkoff => {
            let config = tinkoff::Config {
                terminal_key: env("PAYTRACK_TINKOFF_TERMINAL_KEY"),
                password: required("PAYTRACK_TINKOFF_PASSWORD")?,
                api: env("PAYTRACK_TINKOFF_API").unwrap_or_else(|| tinkoff::DEFAULT_API.into()),
            };
            if due.currency != "RUB" {
                return Err(bad_input(format!(
                    "T-Bank terminals take rubles; booking {booking} is priced in {}",
                    due.currency
                )));
            }
            let order = format!("{booking}-{}", now.timestamp());
            let link = tinkoff::init(&config, &order, due.amount_minor, &due.description)?;
            (link.payment_id, link.url)
        }
        Provider::YooKassa => {
            let api = super::yookassa::Api::new(
                required("PAYTRACK_YOOKASSA_SHOP_ID")?,
                required("PAYTRACK_YOOKASSA_SECRET_KEY")?,
                env("PAYTRACK_YOOKASSA_API"),
            );
            api.create_payment(
                booking,
                due.amount_minor,
                &due.currency,
                &due.description,
                return_url,
                &key,
            )?
        }
        Provider::CloudPayments => {
            // "Создание счёта для отправки по почте" (POST /orders/create, Basic
            // auth Public ID : API secret) answers a payment page URL.
            let public_id = required("PAYTRACK_CLOUDPAYMENTS_PUBLIC_ID")?;
            let secret = required("PAYTRACK_CLOUDPAYMENTS_SECRET")?;
            let base = env("PAYTRACK_CLOUDPAYMENTS_API")
                .unwrap_or_else(|| "https://api.cloudpayments.ru".into());
            let body = serde_json::json!({
                "Amount": format!("{}.{:02}", due.amount_minor / 100, due.amount_minor % 100),
                "Currency": due.currency,
                "Description": due.description,
                "InvoiceId": booking.to_string(),
                "RequireConfirmation": false,
            });
            let answer = api::post_json(
                &format!("{}/orders/create", base.trim_end_matches('/')),
                &body,
                &[
                    (
                        "Authorization",
                        api::basic_auth(public_id.expose(), secret.expose()),
                    ),
                    ("X-Request-ID", key.clone()),
                ],
            )
            .map_err(|e| anyhow::anyhow!("CloudPayments orders/create: {e}"))?;
            if answer.get("Success").and_then(serde_json::Value::as_bool) != Some(true) {
                anyhow::bail!("CloudPayments refused orders/create");
            }
            let model = answer.get("Model").cloned().unwrap_or_default();
            (
                model
                    .get("Id")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                model
                    .get("Url")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| anyhow::anyhow!("CloudPayments answered no Url"))?
                    .to_string(),
            )
        }
        Provider::Stripe => {
            let link = stripe::checkout_session(
                &env("PAYTRACK_STRIPE_API").unwrap_or_else(|| "https://api.stripe.com/v1".into()),
                &required("PAYTRACK_STRIPE_SECRET_KEY")?,
                due,
                return_url,
                &key,
            )?;
            (link.session_id, link.url)
        }
    };
    Ok(Link {
        booking_id: booking,
        provider: provider.as_str(),
        payment_id,
        url,
        amount_minor: due.amount_minor,
        currency: due.currency.clone(),
    })
}

/// Remembers a created link, so `payments fetch` can ask about it later.
pub fn remember(tx: &WriteTx, link: &Link, now: DateTime<Utc>) -> Result<()> {
    tx.insert_pay_link(
        &crate::db::provider_facts::NewPayLink {
            provider: link.provider,
            payment_id: &link.payment_id,
            booking_id: link.booking_id,
            amount_minor: link.amount_minor,
            currency: &link.currency,
            url: &link.url,
        },
        now,
    )
}
