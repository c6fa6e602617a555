//! A booking as paytrack sees it, and the filters that select bookings.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Status;

/// One row of the `bookings` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Booking {
    pub id: i64,
    pub user_id: i64,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub course_id: i64,
    pub course_stream: Option<String>,
    /// The `confirmed` column, parsed.
    #[serde(rename = "confirmed", serialize_with = "serialize_status_code")]
    pub status: Status,
    /// Stored UTC RFC 3339 text.
    pub created_at: String,
    pub referral_code: Option<String>,
    pub discount_percent: Option<i64>,
    pub updated_at: String,
    pub confirmed_at: Option<String>,
}

/// The columns of a booking other than its status and times paytrack keeps:
/// what an import brings, `bookings edit` changes and `undo` restores.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct BookingFields {
    pub user_id: i64,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub course_id: i64,
    pub course_stream: Option<String>,
    pub created_at: String,
    pub referral_code: Option<String>,
    pub discount_percent: Option<i64>,
}

impl BookingFields {
    pub fn of(b: &Booking) -> BookingFields {
        BookingFields {
            user_id: b.user_id,
            username: b.username.clone(),
            first_name: b.first_name.clone(),
            course_id: b.course_id,
            course_stream: b.course_stream.clone(),
            created_at: b.created_at.clone(),
            referral_code: b.referral_code.clone(),
            discount_percent: b.discount_percent,
        }
    }

    /// The fields as a JSON object, one key per field.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// The fields of `self` with the keys of `changes` set (unknown keys and
    /// values of the wrong type are an error).
    pub fn with(
        &self,
        changes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<BookingFields, String> {
        let mut map = self.to_map();
        for (key, value) in changes {
            if !map.contains_key(key) {
                return Err(format!("unknown booking field '{key}'"));
            }
            map.insert(key.clone(), value.clone());
        }
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
    }
}

/// The fields that differ between `old` and `new`: (old values, new values),
/// as two JSON objects with the same keys, in field order.
pub fn field_changes(
    old: &BookingFields,
    new: &BookingFields,
) -> (
    serde_json::Map<String, serde_json::Value>,
    serde_json::Map<String, serde_json::Value>,
) {
    let (old, new) = (old.to_map(), new.to_map());
    let mut before = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    for (key, value) in &new {
        if old.get(key) != Some(value) {
            before.insert(key.clone(), old.get(key).cloned().unwrap_or_default());
            after.insert(key.clone(), value.clone());
        }
    }
    (before, after)
}

fn serialize_status_code<S: serde::Serializer>(status: &Status, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(status.code())
}

/// The text `--search` matches against: names folded so that case (Cyrillic
/// included) and ё/е do not matter. Stored in `bookings.search_text`.
pub fn search_text(username: Option<&str>, first_name: Option<&str>) -> String {
    let mut text = String::new();
    for part in [username, first_name].into_iter().flatten() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&fold(part));
    }
    text
}

/// The fold in SQL's terms, for names another program wrote without
/// `search_text` (issue 25: SQLite's `lower()` folds ASCII only, so `Пётр
/// ЁЛКИН` was never found by `--search пётр`). Each pair maps one letter to
/// what `fold` makes of it: Cyrillic capitals, ё/й (and the Ukrainian and
/// Belarusian letters with marks), and the accented Latin letters names
/// usually carry. ASCII is left to `lower()`. A unit test holds the pairs to
/// `fold`; `db::bookings` builds the SQL from them.
#[rustfmt::skip]
pub const SQL_FOLD_PAIRS: &[(char, char)] = &[
    ('А', 'а'), ('Б', 'б'), ('В', 'в'), ('Г', 'г'), ('Д', 'д'), ('Е', 'е'), ('Ж', 'ж'),
    ('З', 'з'), ('И', 'и'), ('Й', 'и'), ('К', 'к'), ('Л', 'л'), ('М', 'м'), ('Н', 'н'),
    ('О', 'о'), ('П', 'п'), ('Р', 'р'), ('С', 'с'), ('Т', 'т'), ('У', 'у'), ('Ф', 'ф'),
    ('Х', 'х'), ('Ц', 'ц'), ('Ч', 'ч'), ('Ш', 'ш'), ('Щ', 'щ'), ('Ъ', 'ъ'), ('Ы', 'ы'),
    ('Ь', 'ь'), ('Э', 'э'), ('Ю', 'ю'), ('Я', 'я'), ('Ё', 'е'), ('ё', 'е'), ('й', 'и'),
    ('Є', 'є'), ('І', 'і'), ('Ї', 'і'), ('ї', 'і'), ('Ґ', 'ґ'), ('Ў', 'у'), ('ў', 'у'),
    ('À', 'a'), ('Á', 'a'), ('Â', 'a'), ('Ã', 'a'), ('Ä', 'a'), ('Å', 'a'),
    ('à', 'a'), ('á', 'a'), ('â', 'a'), ('ã', 'a'), ('ä', 'a'), ('å', 'a'),
    ('Ç', 'c'), ('ç', 'c'), ('È', 'e'), ('É', 'e'), ('Ê', 'e'), ('Ë', 'e'),
    ('è', 'e'), ('é', 'e'), ('ê', 'e'), ('ë', 'e'), ('Ì', 'i'), ('Í', 'i'), ('Î', 'i'),
    ('Ï', 'i'), ('ì', 'i'), ('í', 'i'), ('î', 'i'), ('ï', 'i'), ('Ñ', 'n'), ('ñ', 'n'),
    ('Ò', 'o'), ('Ó', 'o'), ('Ô', 'o'), ('Õ', 'o'), ('Ö', 'o'), ('ò', 'o'), ('ó', 'o'),
    ('ô', 'o'), ('õ', 'o'), ('ö', 'o'), ('Ù', 'u'), ('Ú', 'u'), ('Û', 'u'), ('Ü', 'u'),
    ('ù', 'u'), ('ú', 'u'), ('û', 'u'), ('ü', 'u'), ('Ý', 'y'), ('ý', 'y'), ('ÿ', 'y'),
    ('Ÿ', 'y'), ('Æ', 'æ'), ('Ø', 'ø'), ('Č', 'c'), ('č', 'c'), ('Ć', 'c'), ('ć', 'c'),
    ('Š', 's'), ('š', 's'), ('Ś', 's'), ('ś', 's'), ('Ş', 's'), ('ş', 's'), ('Ž', 'z'),
    ('ž', 'z'), ('Ź', 'z'), ('ź', 'z'), ('Ż', 'z'), ('ż', 'z'), ('Ř', 'r'), ('ř', 'r'),
    ('Ě', 'e'), ('ě', 'e'), ('Ę', 'e'), ('ę', 'e'), ('Ą', 'a'), ('ą', 'a'), ('Ń', 'n'),
    ('ń', 'n'), ('Ň', 'n'), ('ň', 'n'), ('Ł', 'ł'), ('Ő', 'o'), ('ő', 'o'), ('Ű', 'u'),
    ('ű', 'u'), ('Ğ', 'g'), ('ğ', 'g'), ('İ', 'i'),
];

/// Folds text for search: lowercase, accents and other combining marks
/// dropped (`José` → `jose`, `ё` → `е`, which Russian users type either way),
/// and a leading `@` removed, so `@user_1` finds the username shown as `@user_1`.
/// The same fold is applied to the stored text and to the query.
pub fn fold(text: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    text.trim_start_matches('@')
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Who `--user` names: a Telegram id or an @username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(i64),
    Username(String),
}

impl std::str::FromStr for UserRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(name) = s.strip_prefix('@') {
            if name.is_empty() {
                return Err("empty username after '@'".into());
            }
            return Ok(UserRef::Username(name.to_string()));
        }
        if let Ok(id) = s.parse::<i64>() {
            return Ok(UserRef::Id(id));
        }
        if s.is_empty() {
            return Err("expected a Telegram user id or @username".into());
        }
        Ok(UserRef::Username(s.to_string()))
    }
}

/// Money states derived from a booking's payments (`bookings list --payment`).
/// Amounts are net: refunds are subtracted from what the booking received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaymentState {
    /// Not cancelled, and paid less than the expected price (stream price less discount) so far
    /// (a booking confirmed by hand included).
    Partial,
    /// Paid more than the expected price (or, without a price, paid twice and nothing refunded).
    Overpaid,
    /// Pending, and no money kept (none received, or all of it refunded).
    Unpaid,
    /// Money still to return: cancelled and money kept, or overpaid.
    Refund,
}

/// Which bookings a command works on. Every field narrows the selection.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub status: Option<Status>,
    pub course: Option<i64>,
    pub stream: Option<String>,
    pub user: Option<UserRef>,
    pub referral: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub search: Option<String>,
    pub payment: Option<PaymentState>,
    /// Paytrack first knew the booking before this: the first import that
    /// brought it, or its `created_at` when no import did (added in paytrack
    /// or by the bot). The age of stale-cancel and reminders (issue 25: the
    /// old system's `created_at` made the whole backlog stale on day one).
    pub known_before: Option<DateTime<Utc>>,
}

/// Order of listed bookings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Sort {
    /// Newest booking number first (the default).
    #[default]
    Newest,
    /// Oldest booking number first.
    Oldest,
    /// Latest creation time first.
    Created,
    /// Earliest creation time first.
    CreatedAsc,
}

impl Sort {
    pub fn by_created(self) -> bool {
        matches!(self, Sort::Created | Sort::CreatedAsc)
    }
    pub fn descending(self) -> bool {
        matches!(self, Sort::Newest | Sort::Created)
    }
}

/// Where a page starts: after this row in the chosen order (keyset pagination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: Option<String>,
    pub id: i64,
}

impl Cursor {
    /// Encodes as `ID` or `CREATED_AT~ID`, safe to paste into a shell.
    pub fn encode(&self) -> String {
        match &self.created_at {
            Some(c) => format!("{c}~{}", self.id),
            None => self.id.to_string(),
        }
    }

    pub fn decode(text: &str) -> Result<Cursor, String> {
        let bad = || format!("invalid cursor '{}'", crate::text::shown(text));
        match text.rsplit_once('~') {
            Some((created, id)) => {
                super::time::from_storage(created).ok_or_else(bad)?;
                Ok(Cursor {
                    created_at: Some(created.to_string()),
                    id: id.parse().map_err(|_| bad())?,
                })
            }
            None => Ok(Cursor {
                created_at: None,
                id: text.parse().map_err(|_| bad())?,
            }),
        }
    }
}

/// A booking id: a positive 64-bit integer.
pub fn parse_booking_id(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        Ok(_) => Err(crate::tr!(
            "a booking id is a positive number",
            "номер брони — положительное число"
        )),
        Err(_) => Err(crate::tr!(
            "'{}' is not a booking id (a positive 64-bit number)",
            "'{}' — не номер брони (положительное 64-битное число)",
            crate::text::shown(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_fold_pairs_are_what_fold_makes_of_each_letter() {
        for (from, to) in SQL_FOLD_PAIRS {
            assert_eq!(fold(&from.to_string()), to.to_string(), "{from}");
        }
        assert_eq!(fold("Пётр ЁЛКИН"), "петр елкин");
    }

    #[test]
    fn search_text_folds_cyrillic_and_yo() {
        assert_eq!(search_text(Some("User_1"), Some("Алёна")), "user_1 алена");
        assert_eq!(search_text(None, Some("ОЛЬГА")), "ольга");
        assert_eq!(fold("Ёлка"), "елка");
        assert_eq!(fold("José ÅSA"), "jose asa");
        assert_eq!(fold("@User_32127"), "user_32127");
        // Decomposed input folds the same as precomposed.
        assert_eq!(fold("Jose\u{301}"), fold("José"));
    }

    #[test]
    fn user_ref_parses_ids_and_usernames() {
        assert_eq!("42".parse::<UserRef>(), Ok(UserRef::Id(42)));
        assert_eq!(
            "@kate".parse::<UserRef>(),
            Ok(UserRef::Username("kate".into()))
        );
        assert!("@".parse::<UserRef>().is_err());
    }

    #[test]
    fn cursor_round_trips() {
        for c in [
            Cursor {
                created_at: None,
                id: 7,
            },
            Cursor {
                created_at: Some("2024-03-01T07:06:00.532084Z".into()),
                id: 7,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        }
        assert!(Cursor::decode("x~1").is_err());
    }
}
