//! `outbox drain --telegram`: deliver through the Telegram Bot API.
//!
//! `POST {api}/bot{token}/sendMessage` with `chat_id` (the student's user id)
//! and `text`. The token comes only from `PAYTRACK_TELEGRAM_TOKEN`, and it is
//! part of the URL, which HTTP client errors quote: every error text leaving
//! this module goes through `scrub`, so the token never reaches a terminal,
//! the outbox table or the audit log.
//!
//! How answers are read (https://core.telegram.org/bots/api#making-requests):
//! 200 `ok` → delivered; 429 → wait `parameters.retry_after`; 403 "bot was
//! blocked by the user" → blocked; other 400/403 → refused for good; 401/404
//! → the token is wrong, stop; 5xx, time-outs, network errors → retry.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::db::outbox::ClaimedMessage;
use crate::domain::message::MAX_RATE_LIMIT_WAIT;
use crate::services::delivery::{Channel, SendOutcome};

/// The public Bot API; `PAYTRACK_TELEGRAM_API` overrides it (tests, a local Bot API server).
pub const DEFAULT_API: &str = "https://api.telegram.org";

/// How long to wait after a 429 that names no `retry_after`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How much of the Bot API's answer is kept in an error.
const MAX_DESCRIPTION_CHARS: usize = 300;

pub struct TelegramChannel {
    agent: ureq::Agent,
    /// The sendMessage URL; it holds the token, so it is never shown.
    send_url: String,
    token: String,
}

/// The error shape of the Bot API.
#[derive(Debug, Default, Deserialize)]
struct ApiAnswer {
    #[serde(default)]
    ok: bool,
    description: Option<String>,
    parameters: Option<ApiParameters>,
}

#[derive(Debug, Default, Deserialize)]
struct ApiParameters {
    /// Seconds; read as any JSON number (a hostile or broken server may send
    /// a float, a negative or a huge value), then clamped by `rate_limit_wait`.
    retry_after: Option<serde_json::Number>,
}

/// The wait a 429 asks for, within [1 s, MAX_RATE_LIMIT_WAIT].
fn rate_limit_wait(retry_after: Option<&serde_json::Number>) -> Duration {
    let Some(secs) = retry_after.and_then(serde_json::Number::as_f64) else {
        return DEFAULT_RETRY_AFTER;
    };
    let max = MAX_RATE_LIMIT_WAIT.as_secs_f64();
    // NaN cannot come from JSON; clamp also catches infinities.
    Duration::from_secs_f64(secs.clamp(1.0, max))
}

impl TelegramChannel {
    /// A client for `api` (no trailing slash needed) with `token`; every
    /// request gives up after `timeout` (connecting, and the whole exchange).
    pub fn new(api: &str, token: &str, timeout: Duration) -> TelegramChannel {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout(timeout)
            .user_agent(concat!("paytrack/", env!("CARGO_PKG_VERSION")))
            .build();
        TelegramChannel {
            agent,
            send_url: format!("{}/bot{token}/sendMessage", api.trim_end_matches('/')),
            token: token.to_string(),
        }
    }

    /// Removes the token from a text (as written, and percent-encoded as a URL may show it).
    fn scrub(&self, text: &str) -> String {
        scrub_token(text, &self.token)
    }

    fn classify(&self, result: Result<ureq::Response, ureq::Error>) -> SendOutcome {
        let (code, response) = match result {
            Ok(response) => (response.status(), response),
            Err(ureq::Error::Status(code, response)) => (code, response),
            Err(ureq::Error::Transport(transport)) => {
                let error = self.scrub(&transport.to_string());
                return match transport.kind() {
                    ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
                        SendOutcome::Broken {
                            error: format!("PAYTRACK_TELEGRAM_API is not usable: {error}"),
                        }
                    }
                    _ => SendOutcome::Retry { error },
                };
            }
        };
        let body = response.into_string().unwrap_or_default();
        let answer: ApiAnswer = serde_json::from_str(&body).unwrap_or_default();
        // Scrubbed whole, then cut: cutting first could split the token so
        // that the scrub no longer finds it and a part of it leaks (issue 17).
        let description = clip(
            &self.scrub(answer.description.as_deref().unwrap_or_else(|| body.trim())),
            MAX_DESCRIPTION_CHARS,
        );
        let error = format!("Telegram answered {code}: {description}");
        match code {
            200..=299 if answer.ok => SendOutcome::Delivered,
            429 => SendOutcome::RateLimited {
                error,
                wait: rate_limit_wait(answer.parameters.as_ref().and_then(|p| p.retry_after.as_ref())),
            },
            403 if description.to_lowercase().contains("blocked") => SendOutcome::Blocked { error },
            401 | 404 => SendOutcome::Broken {
                error: format!(
                    "Telegram refused the bot token ({code}: {description}); check PAYTRACK_TELEGRAM_TOKEN"
                ),
            },
            400..=499 => SendOutcome::Rejected { error },
            _ => SendOutcome::Retry { error },
        }
    }
}

impl Channel for TelegramChannel {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn send(&mut self, message: &ClaimedMessage) -> SendOutcome {
        let result = self
            .agent
            .post(&self.send_url)
            .send_json(json!({ "chat_id": message.chat_id, "text": message.body }));
        self.classify(result)
    }
}

/// The first `max` characters of an already scrubbed text.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Whether a token can go into a URL path as it is. Real tokens look like
/// `123456:ABC-def_1`; anything else is refused before a request is made.
pub fn token_is_plausible(token: &str) -> bool {
    !token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'))
}

/// `text` with every occurrence of `token` (raw or percent-encoded) replaced.
pub fn scrub_token(text: &str, token: &str) -> String {
    if token.is_empty() {
        return text.to_string();
    }
    let encoded = token.replace(':', "%3A");
    text.replace(token, "<token>")
        .replace(&encoded, "<token>")
        .replace(&encoded.replace("%3A", "%3a"), "<token>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_raw_and_encoded_tokens() {
        let token = "123:AbC-d_e";
        let text = "http://x/bot123:AbC-d_e/sendMessage and bot123%3AAbC-d_e and 123%3aAbC-d_e";
        let clean = scrub_token(text, token);
        assert!(!clean.contains("AbC-d_e"), "{clean}");
        assert_eq!(clean.matches("<token>").count(), 3);
    }

    #[test]
    fn a_token_straddling_the_cut_never_survives() {
        let token = "123456:AbCdEfGhIjKlMnOp";
        for offset in 250..=310 {
            let text = format!("{}/bot{token}/sendMessage", "x".repeat(offset));
            let cut = clip(&scrub_token(&text, token), MAX_DESCRIPTION_CHARS);
            for window in token.as_bytes().windows(4).skip(7) {
                let window = std::str::from_utf8(window).unwrap();
                assert!(!cut.contains(window), "offset {offset}: {cut}");
            }
        }
    }

    #[test]
    fn rate_limit_waits_are_clamped() {
        let n = |text: &str| serde_json::from_str::<serde_json::Number>(text).unwrap();
        assert_eq!(rate_limit_wait(Some(&n("7"))), Duration::from_secs(7));
        assert_eq!(rate_limit_wait(None), DEFAULT_RETRY_AFTER);
        for huge in ["18446744073709551615", "1e300", "99999999999"] {
            assert_eq!(
                rate_limit_wait(Some(&n(huge))),
                MAX_RATE_LIMIT_WAIT,
                "{huge}"
            );
        }
        assert_eq!(rate_limit_wait(Some(&n("-5"))), Duration::from_secs(1));
        assert_eq!(rate_limit_wait(Some(&n("0.2"))), Duration::from_secs(1));
    }

    #[test]
    fn only_token_shaped_text_is_plausible() {
        assert!(token_is_plausible("123456:ABC-def_1"));
        for bad in ["", "a b", "12/34", "x?y", "ключ"] {
            assert!(!token_is_plausible(bad), "{bad}");
        }
    }
}
