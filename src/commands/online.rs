//! Online payments (issue 29): `payments serve` (the webhook server),
//! `payments fetch` (reconcile what the webhooks missed) and `bookings
//! pay-link` (create a payment at a provider). Arguments live here, beside
//! the commands; the work is `server/` and `services::providers`.

use anyhow::Result;
use clap::Args;

use super::Context;
use crate::error::{bad_input, exit};
use crate::server;
use crate::services::providers::{Provider, Secrets};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0: any free port; the
    /// bound address is printed on stderr). Put nginx with TLS in front.
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// Requests handled at once (each with its own database connection).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
}

/// `payments serve`: answers the providers' notifications until Ctrl-C or SIGTERM.
pub fn serve(ctx: &Context, args: ServeArgs) -> Result<u8> {
    let secrets = Secrets::from_env();
    if !Provider::ALL.into_iter().any(|p| secrets.serves(p)) {
        return Err(bad_input(
            "no provider is configured: set PAYTRACK_TINKOFF_PASSWORD, PAYTRACK_CLOUDPAYMENTS_SECRET, \
             PAYTRACK_YOOKASSA_SHOP_ID and PAYTRACK_YOOKASSA_SECRET_KEY, or PAYTRACK_STRIPE_WEBHOOK_SECRET"
                .to_string(),
        ));
    }
    // Every connection opened (and migrated) before the first request.
    let dbs = (0..args.workers)
        .map(|_| ctx.open_db())
        .collect::<Result<Vec<_>>>()?;
    let fixed_now = std::env::var("PAYTRACK_NOW")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|_| ctx.now);
    server::run(
        server::Config {
            listen: args.listen,
            secrets,
            actor: ctx.actor.clone(),
            fixed_now,
        },
        dbs,
    )?;
    Ok(if crate::interrupt::requested() {
        // Asked to stop, and stopped cleanly: not a failure.
        exit::OK
    } else {
        exit::FAILURE
    })
}

#[derive(Debug, Args)]
pub struct PayLinkArgs {
    /// The booking to pay for (pending; its stream priced).
    #[arg(value_parser = crate::cli::booking_id)]
    pub booking: i64,
    /// Where to create the payment.
    #[arg(long, value_enum)]
    pub provider: Provider,
    /// The page the provider sends the student back to (YooKassa, Stripe)
    /// [env: PAYTRACK_PAY_RETURN_URL].
    #[arg(long, value_name = "URL")]
    pub return_url: Option<String>,
    /// Print the link as JSON on stdout (for the bot).
    #[arg(long)]
    pub json: bool,
}

/// `bookings pay-link`: creates the payment at the provider for what the
/// booking owes and prints the URL of its payment page.
pub fn pay_link(ctx: &Context, args: PayLinkArgs) -> Result<u8> {
    use crate::services::providers::links;
    let return_url = args
        .return_url
        .or_else(|| std::env::var("PAYTRACK_PAY_RETURN_URL").ok())
        .filter(|u| !u.trim().is_empty());
    if matches!(args.provider, Provider::YooKassa | Provider::Stripe) && return_url.is_none() {
        return Err(bad_input(format!(
            "{} needs a page to send the student back to: --return-url URL or PAYTRACK_PAY_RETURN_URL",
            args.provider
        )));
    }
    // What is due, read under the write lock so it is one consistent view
    // (nothing is written: the payment row comes with the notification).
    let due = ctx
        .open_db()?
        .write(|tx| links::amount_due(tx, args.booking))?;
    let link = links::create(
        args.provider,
        &due,
        return_url.as_deref().unwrap_or_default(),
        ctx.now,
    )?;
    if args.json {
        crate::output::json::print_line(&link)?;
    } else {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", crate::output::sanitize::for_terminal(&link.url))?;
        out.flush()?;
        ctx.out.note(&format!(
            "{} {}: {} {}",
            ctx.out
                .tr("payment link for booking", "ссылка на оплату брони"),
            link.booking_id,
            crate::domain::money::format_amount(link.amount_minor),
            link.currency
        ));
    }
    Ok(exit::OK)
}
