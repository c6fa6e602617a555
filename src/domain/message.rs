//! Confirmation message text: a template with placeholders.
//!
//! Placeholders: `{first_name}`, `{username}`, `{course_name}`, `{stream_name}`,
//! `{booking_id}`. Unknown placeholders are left as written, so a typo shows
//! up in the message instead of failing a payment confirmation.

/// The default confirmation text (Russian, as the school's students read it).
pub const DEFAULT_CONFIRMATION: &str =
    "Здравствуйте, {first_name}! Оплата курса «{course_name}» ({stream_name}) подтверждена. \
Номер брони: {booking_id}. До встречи на занятиях!";

/// The placeholders `render` fills.
pub const PLACEHOLDERS: [&str; 5] = [
    "first_name",
    "username",
    "course_name",
    "stream_name",
    "booking_id",
];

/// `{words}` in a template that are not placeholders (likely typos), in order of appearance.
pub fn unknown_placeholders(template: &str) -> Vec<&str> {
    let mut unknown = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let key = &after[..end];
        let looks_like_one =
            !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_');
        if looks_like_one && !PLACEHOLDERS.contains(&key) {
            unknown.push(key);
        }
        rest = &after[end + 1..];
    }
    unknown
}

/// Values for the placeholders.
pub struct MessageVars<'a> {
    pub first_name: &'a str,
    pub username: &'a str,
    pub course_name: &'a str,
    pub stream_name: &'a str,
    pub booking_id: i64,
}

/// Fills the placeholders of `template` in one pass (values are never re-scanned,
/// so a name containing `{booking_id}` stays literal).
pub fn render(template: &str, vars: &MessageVars) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('}') else {
            out.push_str(after);
            return out;
        };
        let key = &after[1..end];
        match key {
            "first_name" => out.push_str(vars.first_name),
            "username" => out.push_str(vars.username),
            "course_name" => out.push_str(vars.course_name),
            "stream_name" => out.push_str(vars.stream_name),
            "booking_id" => out.push_str(&vars.booking_id.to_string()),
            _ => out.push_str(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Where a queued message is in its delivery (the `outbox.status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Waiting for a drain (at or after `next_attempt_at`).
    Pending,
    /// Claimed by a drain that is sending it now (or died doing so: retried after the lease).
    Sending,
    /// Delivered.
    Sent,
    /// Given up on: too many attempts, refused for good, or the student blocked the bot.
    Failed,
}

impl MessageStatus {
    /// The stored and machine name.
    pub fn name(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
        }
    }
}

/// The wait before retrying a message that failed its `attempts`-th attempt:
/// one minute, doubling each time, at most an hour. With the default of 8
/// attempts a message is retried over about two hours, so a short outage of
/// the channel loses nothing and a long one ends in `failed` the same day.
pub fn retry_delay(attempts: u32) -> std::time::Duration {
    const FIRST_SECS: u64 = 60;
    const MAX_SECS: u64 = 3600;
    let doublings = attempts.saturating_sub(1).min(16);
    std::time::Duration::from_secs((FIRST_SECS << doublings).min(MAX_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_an_hour() {
        let secs: Vec<u64> = (1..=9).map(|a| retry_delay(a).as_secs()).collect();
        assert_eq!(secs, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(retry_delay(0).as_secs(), 60);
        assert_eq!(retry_delay(u32::MAX).as_secs(), 3600);
    }

    #[test]
    fn finds_unknown_placeholders() {
        assert_eq!(
            unknown_placeholders("Hi {first_name}, {frist_name} {course_name} {} { x } {"),
            vec!["frist_name"]
        );
    }

    #[test]
    fn fills_placeholders_once() {
        let vars = MessageVars {
            first_name: "{booking_id}",
            username: "u",
            course_name: "Вайб кодинг",
            stream_name: "8-й поток",
            booking_id: 42,
        };
        assert_eq!(
            render(
                "{first_name}: {course_name}, {stream_name} #{booking_id} {nope} {",
                &vars
            ),
            "{booking_id}: Вайб кодинг, 8-й поток #42 {nope} {"
        );
    }
}
