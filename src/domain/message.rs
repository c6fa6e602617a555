//! Confirmation message text: a template with placeholders.
//!
//! Placeholders: `{first_name}`, `{username}`, `{course_name}`, `{stream_name}`,
//! `{booking_id}`. Unknown placeholders are left as written, so a typo shows
//! up in the message instead of failing a payment confirmation.

/// The default confirmation text (Russian, as the school's students read it).
pub const DEFAULT_CONFIRMATION: &str =
    "Здравствуйте, {first_name}! Оплата курса «{course_name}» ({stream_name}) подтверждена. \
Номер брони: {booking_id}. До встречи на занятиях!";

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

#[cfg(test)]
mod tests {
    use super::*;

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
