//! Online payments (issue 29): `payments serve` (the webhook server),
//! `payments fetch` (reconcile what the webhooks missed) and `bookings
//! pay-link` (create a payment at a provider). Arguments live here, beside
//! the commands; the work is `server/` and `services::providers`.

use anyhow::Result;
use clap::Args;

use crate::args::JsonFlag;

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
    crate::services::providers::yookassa::allow_list_from_env().map_err(bad_input)?;
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
#[command(mut_arg("json", |a| a.help("Print the link as JSON on stdout (for the bot)")))]
pub struct PayLinkArgs {
    /// The booking to pay for (pending; its stream priced).
    #[arg(value_parser = crate::args::booking_id)]
    pub booking: i64,
    /// Where to create the payment.
    #[arg(long, value_enum)]
    pub provider: Provider,
    /// The page the provider sends the student back to (YooKassa, Stripe)
    /// [env: PAYTRACK_PAY_RETURN_URL].
    #[arg(long, value_name = "URL")]
    pub return_url: Option<String>,
    #[command(flatten)]
    pub output: JsonFlag,
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
    let mut db = ctx.open_db()?;
    let due = db.write(|tx| links::amount_due(tx, args.booking))?;
    let link = links::create(
        args.provider,
        &due,
        return_url.as_deref().unwrap_or_default(),
        ctx.now,
    )?;
    // Remembered for `payments fetch` (T-Bank is asked about each link).
    db.write(|tx| links::remember(tx, &link, ctx.now))?;
    if args.output.json {
        crate::output::json::print_line(&link)?;
    } else {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", crate::text::for_terminal(&link.url))?;
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

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The provider to ask: yookassa (its payment and refund lists) or tinkoff
    /// (GetState for each link `bookings pay-link` created since --since).
    #[arg(long, value_enum)]
    pub provider: Provider,
    /// How far back: a duration (24h, 7d) or a date.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Print the counts as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What `payments fetch` did.
#[derive(Debug, Default, serde::Serialize)]
struct FetchReport {
    provider: &'static str,
    fetched: u64,
    stored: u64,
    already_stored: u64,
    bookings_confirmed: u64,
    needs_attention: u64,
    outcomes: std::collections::BTreeMap<&'static str, u64>,
}

/// `payments fetch`: the provider's succeeded payments and refunds since
/// `--since`, each reconciled in its own transaction as a notification
/// would be; the ones a webhook (or an earlier fetch) stored are skipped.
pub fn fetch(ctx: &Context, args: FetchArgs) -> Result<u8> {
    use crate::services::providers::{apply, Applied};
    let since = ctx.parse_when("--since", &args.since)?;
    let secrets = Secrets::from_env();
    let notifications = match args.provider {
        Provider::YooKassa => {
            let api = secrets.yookassa.as_ref().ok_or_else(|| {
                bad_input("PAYTRACK_YOOKASSA_SHOP_ID and PAYTRACK_YOOKASSA_SECRET_KEY are not set")
            })?;
            api.succeeded_since(since, 100)?
        }
        Provider::Tinkoff => {
            // T-Bank lists no payments: each link `pay-link` created since
            // --since is asked with GetState.
            let config = secrets
                .tinkoff
                .as_ref()
                .ok_or_else(|| bad_input("PAYTRACK_TINKOFF_PASSWORD is not set"))?;
            let ids = ctx.open_db()?.pay_links_since("tinkoff", since)?;
            let mut found = Vec::new();
            for id in ids {
                crate::interrupt::check()?;
                if let crate::services::providers::Event::Money(n) =
                    crate::services::providers::tinkoff::get_state(config, &id)?
                {
                    found.push(n);
                }
            }
            found
        }
        other => {
            return Err(bad_input(format!(
                "payments fetch --provider {other}: not supported (yookassa and tinkoff are)"
            )))
        }
    };
    let mut db = ctx.open_db()?;
    let mut report = FetchReport {
        provider: args.provider.as_str(),
        ..FetchReport::default()
    };
    for n in &notifications {
        crate::interrupt::check()?;
        report.fetched += 1;
        let (applied, booking) =
            db.write(|tx| apply(tx, n, &ctx.actor, ctx.now, "payments fetch"))?;
        match applied {
            Applied::Replay => report.already_stored += 1,
            Applied::Stored { outcome, confirmed } => {
                report.stored += 1;
                report.bookings_confirmed += u64::from(confirmed);
                *report.outcomes.entry(outcome.as_str()).or_default() += 1;
                if outcome.needs_attention() {
                    report.needs_attention += 1;
                }
                ctx.out.note(&format!(
                    "{} {}: {} {}",
                    args.provider,
                    crate::text::for_terminal(&n.external_id),
                    outcome,
                    booking.map_or_else(String::new, |b| format!("(booking {b})"))
                ));
            }
        }
    }
    ctx.out.note(&format!(
        "{}: {} fetched, {} new, {} already stored, {} bookings confirmed, {} need a person",
        args.provider,
        report.fetched,
        report.stored,
        report.already_stored,
        report.bookings_confirmed,
        report.needs_attention
    ));
    if args.json {
        crate::output::json::print_line(&report)?;
    }
    Ok(if report.needs_attention > 0 {
        exit::ATTENTION
    } else {
        exit::OK
    })
}
