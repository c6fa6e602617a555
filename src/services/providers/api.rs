//! Calls to the providers' APIs (YooKassa's fetch-back and list, T-Bank's
//! `Init` and `GetState`, Stripe's Checkout): ureq, already paytrack's HTTP
//! client for Telegram, with timeouts, JSON answers, and errors that name the
//! status but never echo a header (they carry the credentials).

use std::time::Duration;

use serde_json::Value;

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// The API answered with this HTTP status.
    Status(u16),
    /// No answer (connection, timeout), or one that is not JSON.
    Transport(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status(code) => write!(f, "the API answered HTTP {code}"),
            CallError::Transport(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for CallError {}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> Result<Value, CallError> {
    match result {
        Ok(response) => response
            .into_json::<Value>()
            .map_err(|e| CallError::Transport(format!("the API's answer is not JSON: {e}"))),
        Err(ureq::Error::Status(code, _)) => Err(CallError::Status(code)),
        // The transport error names the host and the kind of failure, not headers.
        Err(ureq::Error::Transport(t)) => Err(CallError::Transport(format!(
            "no answer from the API: {}",
            t.kind()
        ))),
    }
}

fn with_headers(mut request: ureq::Request, headers: &[(&str, String)]) -> ureq::Request {
    for (name, value) in headers {
        request = request.set(name, value);
    }
    request
}

pub fn get_json(url: &str, headers: &[(&str, String)]) -> Result<Value, CallError> {
    answer(with_headers(agent().get(url), headers).call())
}

pub fn post_json(url: &str, body: &Value, headers: &[(&str, String)]) -> Result<Value, CallError> {
    answer(with_headers(agent().post(url), headers).send_json(body.clone()))
}

pub fn post_form(
    url: &str,
    form: &[(&str, &str)],
    headers: &[(&str, String)],
) -> Result<Value, CallError> {
    answer(with_headers(agent().post(url), headers).send_form(form))
}

/// `Authorization: Basic …` for a user and password.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
