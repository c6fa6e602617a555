//! Messages to students: their kinds and delivery states, and the templates
//! their text is rendered from (at send time, from the current catalogue).
//!
//! Placeholders: `{first_name} {course} {stream} {booking_id} {amount_due}
//! {chat_link}`; `{username}`, `{course_name}` and `{stream_name}` are kept for
//! templates written before. A template with any other `{word}` is refused when
//! it is saved, so a typo never reaches a student.

/// Telegram's limit on one message's text, in characters.
pub const TELEGRAM_LIMIT: usize = 4096;

/// The default confirmation text (Russian, as the school's students read it).
pub const DEFAULT_CONFIRMATION: &str =
    "Здравствуйте, {first_name}! Оплата курса «{course_name}» ({stream_name}) подтверждена. \
Номер брони: {booking_id}. До встречи на занятиях!";

/// The default text when a confirmed booking is cancelled.
pub const DEFAULT_CANCELLATION: &str =
    "Здравствуйте, {first_name}! Бронь {booking_id} на курс «{course}» ({stream}) отменена. \
Если это ошибка, ответьте на это сообщение.";

/// The default payment reminder.
pub const DEFAULT_REMINDER: &str =
    "Здравствуйте, {first_name}! Напоминаем об оплате курса «{course}» ({stream}): \
к оплате {amount_due}. Номер брони: {booking_id}.";

/// The placeholders `render` fills.
pub const PLACEHOLDERS: [&str; 9] = [
    "first_name",
    "course",
    "stream",
    "booking_id",
    "amount_due",
    "chat_link",
    "username",
    "course_name",
    "stream_name",
];

/// What a message is about; the `outbox.kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// The booking is paid and confirmed.
    #[value(name = "confirmed", alias = "confirmation")]
    Confirmation,
    /// A booking the student was told was confirmed is cancelled.
    #[value(name = "cancelled", alias = "cancellation")]
    Cancellation,
    /// A pending booking is still waiting for its payment.
    Reminder,
    /// An admin's message to the members of a stream.
    Broadcast,
}

impl MessageKind {
    pub const ALL: [MessageKind; 4] = [
        MessageKind::Confirmation,
        MessageKind::Cancellation,
        MessageKind::Reminder,
        MessageKind::Broadcast,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Confirmation => "confirmation",
            MessageKind::Cancellation => "cancellation",
            MessageKind::Reminder => "reminder",
            MessageKind::Broadcast => "broadcast",
        }
    }

    pub fn from_name(name: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The text used when the course has no template of this kind (a
    /// broadcast always brings its own text).
    pub fn default_template(self) -> &'static str {
        match self {
            MessageKind::Confirmation => DEFAULT_CONFIRMATION,
            MessageKind::Cancellation => DEFAULT_CANCELLATION,
            MessageKind::Reminder => DEFAULT_REMINDER,
            MessageKind::Broadcast => "",
        }
    }
}

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
#[derive(Debug, Clone, Default)]
pub struct MessageVars<'a> {
    pub first_name: &'a str,
    pub username: &'a str,
    pub course_name: &'a str,
    pub stream_name: &'a str,
    pub booking_id: i64,
    /// What is left to pay, formatted with its currency ("27000.00 RUB").
    pub amount_due: &'a str,
    pub chat_link: &'a str,
}

/// Fills the placeholders of `template` in one pass (values are never re-scanned,
/// so a name containing `{booking_id}` stays literal). A placeholder standing
/// alone in parentheses whose value is empty disappears with them and the
/// space before them: a booking without a stream reads «Course», not «Course» ().
/// An empty value followed by punctuation takes the comma and spaces before
/// it along: a student without a first name reads «Здравствуйте!», not
/// «Здравствуйте, !» (issue 25).
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
        let booking_id = vars.booking_id.to_string();
        let value = match key {
            "first_name" => Some(vars.first_name),
            "username" => Some(vars.username),
            "course" | "course_name" => Some(vars.course_name),
            "stream" | "stream_name" => Some(vars.stream_name),
            "booking_id" => Some(booking_id.as_str()),
            "amount_due" => Some(vars.amount_due),
            "chat_link" => Some(vars.chat_link),
            _ => None,
        };
        rest = &after[end + 1..];
        match value {
            Some("") if out.ends_with('(') && rest.starts_with(')') => {
                out.pop();
                if out.ends_with(' ') {
                    out.pop();
                }
                rest = &rest[1..];
            }
            Some(value)
                if value.trim().is_empty()
                    && rest.starts_with(['!', '?', '.', ',', ';', ':', ')'])
                    && !out.is_empty() =>
            {
                let kept = out.trim_end().trim_end_matches(',').trim_end().len();
                out.truncate(kept);
            }
            Some(value) => out.push_str(value),
            None => out.push_str(&after[..=end]),
        }
    }
    out.push_str(rest);
    out
}

/// Why a template cannot be saved: an unknown placeholder, or a text that
/// would be over Telegram's limit once rendered with `longest` values.
pub fn check_template(template: &str, longest: &MessageVars) -> Result<(), String> {
    let unknown = unknown_placeholders(template);
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|k| format!("{{{k}}}")).collect();
        return Err(format!(
            "unknown placeholder {} (known: {})",
            list.join(", "),
            PLACEHOLDERS[..6]
                .iter()
                .map(|p| format!("{{{p}}}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if template.trim().is_empty() {
        return Err("the template is empty".to_string());
    }
    let length = render(template, longest).chars().count();
    if length > TELEGRAM_LIMIT {
        return Err(format!(
            "the message would be {length} characters once filled in; Telegram allows {TELEGRAM_LIMIT}"
        ));
    }
    Ok(())
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
    /// A confirmation not yet sent when its booking stopped being confirmed: never sent.
    Withdrawn,
    /// Stopped by an admin (`outbox cancel`): never sent.
    Cancelled,
}

impl std::fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl MessageStatus {
    /// Every status, in the order of the schema's CHECK list.
    pub const ALL: [MessageStatus; 6] = [
        MessageStatus::Pending,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Withdrawn,
        MessageStatus::Cancelled,
    ];

    /// The stored and machine name.
    pub fn name(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Withdrawn => "withdrawn",
            MessageStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<MessageStatus> {
        MessageStatus::ALL.into_iter().find(|s| s.name() == name)
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

/// The longest a channel may ask us to wait (Telegram's 429 `retry_after`):
/// a server asking for more is wrong or hostile, and a wait of days would
/// silently stall the queue.
pub const MAX_RATE_LIMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// One queued message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub booking_id: i64,
    pub chat_id: i64,
    pub kind: String,
    pub body: String,
    pub status: MessageStatus,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<String>,
    /// JSON the text is rendered from at send time; None for a text frozen when queued.
    pub params: Option<String>,
    pub dedupe_key: Option<String>,
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
        assert!(unknown_placeholders("{course} {stream} {amount_due} {chat_link}").is_empty());
    }

    #[test]
    fn an_empty_first_name_leaves_no_empty_slot() {
        let vars = MessageVars {
            course_name: "Курс",
            booking_id: 7,
            ..Default::default()
        };
        let text = render(DEFAULT_CONFIRMATION, &vars);
        assert!(
            text.starts_with("Здравствуйте! Оплата курса «Курс»"),
            "{text}"
        );
        assert_eq!(render("Hi {first_name}, welcome", &vars), "Hi, welcome");
        assert_eq!(render("{first_name}!", &vars), "!");
        let named = MessageVars {
            first_name: "Оля",
            ..vars
        };
        assert_eq!(
            render("Здравствуйте, {first_name}!", &named),
            "Здравствуйте, Оля!"
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
            amount_due: "100.00 RUB",
            chat_link: "https://t.me/+x",
        };
        assert_eq!(
            render(
                "{first_name}: {course_name}, {stream_name} #{booking_id} {nope} {",
                &vars
            ),
            "{booking_id}: Вайб кодинг, 8-й поток #42 {nope} {"
        );
        assert_eq!(
            render("{course} ({stream}) {amount_due} {chat_link}", &vars),
            "Вайб кодинг (8-й поток) 100.00 RUB https://t.me/+x"
        );
    }

    #[test]
    fn an_empty_value_in_parentheses_leaves_no_trace() {
        let vars = MessageVars {
            course_name: "Вайб кодинг",
            booking_id: 7,
            ..Default::default()
        };
        assert_eq!(
            render(DEFAULT_CONFIRMATION, &vars),
            "Здравствуйте! Оплата курса «Вайб кодинг» подтверждена. Номер брони: 7. До встречи на занятиях!"
        );
        // Text around the parentheses, or a filled value, keeps them.
        assert_eq!(render("a ({stream} x)", &vars), "a ( x)");
    }

    #[test]
    fn templates_are_checked_when_saved() {
        let longest = MessageVars {
            first_name: "n",
            ..Default::default()
        };
        assert!(check_template("Hi {first_name}", &longest).is_ok());
        let err = check_template("Hi {frist_name}", &longest).unwrap_err();
        assert!(err.contains("{frist_name}"), "{err}");
        assert!(check_template(&"я".repeat(4096), &longest).is_ok());
        let err =
            check_template(&format!("{}{{first_name}}x", "я".repeat(4095)), &longest).unwrap_err();
        assert!(err.contains("4097"), "{err}");
    }

    #[test]
    fn statuses_and_kinds_round_trip_their_names() {
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::from_name(s.name()), Some(s));
        }
        for k in MessageKind::ALL {
            assert_eq!(MessageKind::from_name(k.name()), Some(k));
        }
    }
}
