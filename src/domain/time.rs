//! Time: parsing what people type, the storage format, and display zones.
//!
//! Stored times are UTC RFC 3339 with exactly six fractional digits, so that
//! comparing the text compares the instants (see schema.sql).

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Formats an instant the way the database stores it:
/// `%Y-%m-%dT%H:%M:%S%.6fZ`.
pub fn to_storage(t: DateTime<Utc>) -> String {
    use chrono::Timelike as _;
    let Some(year) = plain_utc_year(t) else {
        return t.format(STORAGE_FORMAT).to_string();
    };
    let micros = t.nanosecond() / 1000;
    two_digit_fields(utc_fields(t, year, '.').into_iter().chain([
        (micros / 10_000, None),
        (micros / 100 % 100, None),
        (micros % 100, Some('Z')),
    ]))
}

const STORAGE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// Formats an instant for CSV and JSON: RFC 3339 UTC, seconds precision.
pub fn to_rfc3339(t: DateTime<Utc>) -> String {
    let Some(year) = plain_utc_year(t) else {
        return t.format(RFC3339_SECONDS).to_string();
    };
    two_digit_fields(utc_fields(t, year, 'Z'))
}

const RFC3339_SECONDS: &str = "%Y-%m-%dT%H:%M:%SZ";

/// `t`'s year when `two_digit_fields` can write `t`: years chrono writes
/// with a sign or more digits, and leap seconds (second 60), are left to it.
fn plain_utc_year(t: DateTime<Utc>) -> Option<u32> {
    use chrono::Timelike as _;
    four_digit_year(t.year()).filter(|_| t.nanosecond() < 1_000_000_000)
}

/// `YYYY-MM-DDTHH:MM:SS` as `two_digit_fields`, the seconds followed by `then`.
fn utc_fields(t: DateTime<Utc>, year: u32, then: char) -> [(u32, Option<char>); 7] {
    use chrono::Timelike as _;
    [
        (year / 100, None),
        (year % 100, Some('-')),
        (t.month(), Some('-')),
        (t.day(), Some('T')),
        (t.hour(), Some(':')),
        (t.minute(), Some(':')),
        (t.second(), Some(then)),
    ]
}

/// A year chrono's `%Y` writes as four plain digits (0–9999); others it
/// writes with a sign or more digits, and the callers leave those to it.
fn four_digit_year(year: i32) -> Option<u32> {
    u32::try_from(year).ok().filter(|y| *y <= 9999)
}

/// Two-digit fields (0–99), each followed by its separator, written out
/// directly: chrono's `format` parses its pattern on every call and `format!`
/// pads each number through the formatter, which was most of the time
/// formatting in an import (issue 19), a list page and an export (issue 28:
/// 13% of a PostgreSQL export). Held to chrono's patterns by the tests below.
fn two_digit_fields(fields: impl IntoIterator<Item = (u32, Option<char>)>) -> String {
    let mut out = String::with_capacity(27);
    for (n, then) in fields {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
        out.extend(then);
    }
    out
}

/// Reads a stored time back (also accepts any RFC 3339 text).
pub fn from_storage(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The zone times are shown in: the `--tz` zone, or the system's local zone (`TZ`).
///
/// Named zones come from the system's tz database (/usr/share/zoneinfo) through
/// jiff, read when asked for. chrono-tz compiled every zone's rules into the
/// binary: ~30,000 relocations that every start-up paid for, `--tz` or not
/// (BENCHMARKS.md, start-up).
#[derive(Debug, Clone)]
pub enum DisplayZone {
    Local,
    Named(jiff::tz::TimeZone),
}

/// The system zone's name, when it names a file of the tz database: `TZ`
/// (`Europe/Moscow`, or `:Europe/Moscow` as glibc also reads it), else the
/// zone /etc/localtime links to (the usual case). Asking jiff for the system
/// zone first lists the whole tz database (40-odd directory reads and 30
/// opens), which cost every table listing ~0.6 ms of a ~3 ms start-up (issue
/// 19) — and cron jobs and the benchmark run with `TZ=UTC`. Anything else (a
/// POSIX rule such as `UTC0`, a path, a copied file, posix/ or right/
/// zones): None, and jiff decides as before.
fn system_zone_name() -> Option<String> {
    let name = match std::env::var_os("TZ") {
        Some(tz) => {
            let tz = tz.to_str()?;
            tz.strip_prefix(':').unwrap_or(tz).to_string()
        }
        None => {
            let target = std::fs::read_link("/etc/localtime").ok()?;
            let target = target.to_str()?;
            target
                .strip_prefix("/usr/share/zoneinfo/")
                .or_else(|| target.strip_prefix("../usr/share/zoneinfo/"))?
                .to_string()
        }
    };
    let plain = !name.is_empty()
        && !name.starts_with("posix/")
        && !name.starts_with("right/")
        && !name.split('/').any(|part| part.is_empty() || part == "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b));
    (plain
        && std::path::Path::new("/usr/share/zoneinfo")
            .join(&name)
            .is_file())
    .then_some(name)
}

impl DisplayZone {
    pub fn parse(name: &str) -> Result<DisplayZone, String> {
        match name {
            "" | "local" => Ok(DisplayZone::Local),
            "UTC" | "utc" | "Etc/UTC" | "Z" => Ok(DisplayZone::Named(jiff::tz::TimeZone::UTC)),
            _ => jiff::tz::TimeZone::get(name)
                .map(DisplayZone::Named)
                .map_err(|_| {
                    crate::tr!(
                        "unknown time zone '{}' (use an IANA name such as Europe/Moscow, or UTC)",
                        "неизвестный часовой пояс '{}' (укажите имя IANA, например Europe/Moscow, или UTC)",
                        crate::text::shown(name)
                    )
                }),
        }
    }

    /// The zone's offset at an instant, as chrono's fixed offset.
    fn offset_at(tz: &jiff::tz::TimeZone, t: DateTime<Utc>) -> FixedOffset {
        let instant = jiff::Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        FixedOffset::east_opt(tz.to_offset(instant).seconds())
            .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"))
    }

    /// Local midnight of a calendar date in this zone, as UTC (the earlier
    /// instant when the clock goes back; the instant after a gap when it skips).
    fn midnight(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        self.local_to_utc(date.and_hms_opt(0, 0, 0)?)
    }

    /// A wall-clock time in this zone, as UTC (the earlier instant when the
    /// clock goes back; the instant after a gap when it skips).
    pub fn local_to_utc(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        use chrono::Timelike;
        let date = naive.date();
        match self {
            DisplayZone::Local => chrono::Local
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
            DisplayZone::Named(tz) => {
                let civil = jiff::civil::date(
                    i16::try_from(date.year()).ok()?,
                    i8::try_from(date.month()).ok()?,
                    i8::try_from(date.day()).ok()?,
                )
                .at(
                    i8::try_from(naive.hour()).ok()?,
                    i8::try_from(naive.minute()).ok()?,
                    i8::try_from(naive.second()).ok()?,
                    i32::try_from(naive.nanosecond()).ok()?,
                );
                let instant = tz.to_ambiguous_timestamp(civil).earlier().ok()?;
                DateTime::from_timestamp(instant.as_second(), instant.subsec_nanosecond() as u32)
            }
        }
    }

    fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        match self {
            DisplayZone::Local => now.with_timezone(&chrono::Local).date_naive(),
            DisplayZone::Named(tz) => now.with_timezone(&Self::offset_at(tz, now)).date_naive(),
        }
    }

    /// The zone's name for a column header: `UTC`, `Europe/Moscow`, or for the
    /// system's zone its name when the system knows it (else `local`).
    pub fn label(&self) -> String {
        let named = match self {
            DisplayZone::Named(tz) => tz.iana_name().map(str::to_string),
            DisplayZone::Local => system_zone_name().or_else(|| {
                jiff::tz::TimeZone::try_system()
                    .ok()
                    .and_then(|tz| tz.iana_name().map(str::to_string))
            }),
        };
        match named.as_deref() {
            Some("Etc/UTC" | "UTC" | "Etc/Universal" | "Zulu") => "UTC".to_string(),
            Some(name) => name.to_string(),
            None if matches!(self, DisplayZone::Named(_)) => "UTC".to_string(),
            None => "local".to_string(),
        }
    }

    /// Formats an instant for people: `2024-03-01 10:06` in this zone.
    pub fn show(&self, t: DateTime<Utc>) -> String {
        let local = match self {
            DisplayZone::Local => t.with_timezone(&chrono::Local).naive_local(),
            DisplayZone::Named(tz) => t.with_timezone(&Self::offset_at(tz, t)).naive_local(),
        };
        use chrono::Timelike as _;
        let Some(year) = four_digit_year(local.year()) else {
            return local.format("%Y-%m-%d %H:%M").to_string();
        };
        two_digit_fields([
            (year / 100, None),
            (year % 100, Some('-')),
            (local.month(), Some('-')),
            (local.day(), Some(' ')),
            (local.hour(), Some(':')),
            (local.minute(), None),
        ])
    }

    /// The calendar day of an instant in this zone.
    pub fn date_of(&self, t: DateTime<Utc>) -> NaiveDate {
        self.today(t)
    }
}

/// Parses a point in time as people type it: `2024-12-01` (midnight in the
/// display zone), RFC 3339, `now`, `today`, `yesterday`, or an age such as
/// `7d`, `24h`, `30m`, `2w` (that long before `now`).
pub fn parse_instant(
    text: &str,
    now: DateTime<Utc>,
    zone: &DisplayZone,
) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    let bad = || {
        crate::tr!(
            "invalid date '{}': use 2024-12-01 (or 01.12.2024), 2024-12-01T10:00:00Z, today, yesterday, or an age such as 7d or 24h",
            "недопустимая дата '{}': пишите 2024-12-01 (или 01.12.2024), 2024-12-01T10:00:00Z, today, yesterday или возраст, например 7d или 24h",
            crate::text::shown(text)
        )
    };
    match t {
        "now" => return Ok(now),
        "today" => return zone.midnight(zone.today(now)).ok_or_else(bad),
        "yesterday" => {
            return zone
                .midnight(zone.today(now) - Duration::days(1))
                .ok_or_else(bad)
        }
        _ => {}
    }
    if let Some(age) = parse_age(t) {
        return now.checked_sub_signed(age?).ok_or_else(bad);
    }
    if let Some(date) = parse_calendar_date(t) {
        return zone.midnight(date).ok_or_else(bad);
    }
    if let Ok(ts) = DateTime::parse_from_rfc3339(t) {
        return Ok(ts.with_timezone(&Utc));
    }
    Err(bad())
}

/// A calendar date as people here write it: ISO `2024-12-01` or the Russian
/// `01.12.2024`. The one date reader for flags (`--since`) and bank files.
pub fn parse_calendar_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(date);
    }
    // Exactly DD.MM.YYYY: chrono alone would read `1.3.24` as the year 24.
    let b = t.as_bytes();
    let shaped = b.len() == 10
        && b[2] == b'.'
        && b[5] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit());
    shaped
        .then(|| NaiveDate::parse_from_str(t, "%d.%m.%Y").ok())
        .flatten()
}

/// Parses an age such as `7d`; `None` when the text is not shaped like one.
pub fn parse_age(text: &str) -> Option<Result<Duration, String>> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let too_large = || format!("age '{}' is too large", crate::text::shown(text));
    let Ok(n) = digits.parse::<i64>() else {
        return Some(Err(too_large()));
    };
    let duration = match unit {
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => return None,
    };
    Some(
        duration
            .filter(|d| d.num_days() <= 365 * 200)
            .ok_or_else(too_large),
    )
}

/// The years a booking's time may fall in: anything else is a typo or a
/// broken export (issue 17: year 0000 and `-2024-03-01` were accepted).
pub const BOOKING_YEARS: std::ops::RangeInclusive<i32> = 1970..=2100;

/// Why a booking timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampError {
    NotATimestamp,
    /// A wall-clock time with no UTC offset, and no `--assume-tz` to place it.
    NoOffset,
    YearOutOfRange(i32),
}

impl std::fmt::Display for TimestampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimestampError::NotATimestamp => f.write_str("is not a timestamp such as 2024-03-01 10:06:00+03"),
            TimestampError::NoOffset => f.write_str(
                "has no UTC offset (such as +03); add one, or name the zone it was written in with --assume-tz",
            ),
            TimestampError::YearOutOfRange(year) => write!(
                f,
                "has the year {year}, outside {}–{}",
                BOOKING_YEARS.start(),
                BOOKING_YEARS.end()
            ),
        }
    }
}

/// The bookings importer's timestamps: the forms `parse_legacy_timestamp`
/// reads, but strict. A time without an offset is refused unless `assume`
/// names the zone it was written in (it used to be taken as UTC silently),
/// and the year as written must be in `BOOKING_YEARS`.
pub fn parse_booking_timestamp(
    text: &str,
    assume: Option<&DisplayZone>,
) -> Result<DateTime<Utc>, TimestampError> {
    let t = text.trim();
    // chrono's %Y takes a sign and any number of digits; a year is four.
    if !t
        .as_bytes()
        .get(..4)
        .is_some_and(|y| y.iter().all(u8::is_ascii_digit))
        || t.as_bytes().get(4) != Some(&b'-')
    {
        return Err(TimestampError::NotATimestamp);
    }
    let check_year = |year: i32| {
        if BOOKING_YEARS.contains(&year) {
            Ok(())
        } else {
            Err(TimestampError::YearOutOfRange(year))
        }
    };
    let with_offset = DateTime::parse_from_rfc3339(t).ok().or_else(|| {
        ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"]
            .iter()
            .find_map(|format| DateTime::<FixedOffset>::parse_from_str(t, format).ok())
    });
    if let Some(ts) = with_offset {
        check_year(ts.year())?;
        return Ok(ts.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(t, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .ok_or(TimestampError::NotATimestamp)?;
    check_year(naive.year())?;
    let zone = assume.ok_or(TimestampError::NoOffset)?;
    zone.local_to_utc(naive)
        .ok_or(TimestampError::NotATimestamp)
}

/// Parses the old system's PostgreSQL timestamps (`2024-03-01 10:06:00.532084+03`,
/// with or without fraction and offset minutes) and RFC 3339. A time without an
/// offset is taken as UTC.
pub fn parse_legacy_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(ts) = DateTime::parse_from_rfc3339(t) {
        return Some(ts.with_timezone(&Utc));
    }
    // PostgreSQL writes the offset as +03 or +05:30; chrono's %#z takes both.
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(ts) = DateTime::<FixedOffset>::parse_from_str(t, format) {
            return Some(ts.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct formatting writes exactly what chrono's format does, over
    /// instants from the first year to the last with four digits, every
    /// fraction width, and the edges of each field.
    #[test]
    fn storage_text_is_chronos_format() {
        let mut instants = vec![
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 1, 12, 0, 0).unwrap(),
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 320_000_000_000) as i64 - 62_000_000_000;
            let nanos = (x >> 20) as u32 % 1_000_000_000;
            instants.push(DateTime::from_timestamp(secs, nanos).unwrap());
        }
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        instants.push(leap);
        for t in instants {
            assert_eq!(to_storage(t), t.format(STORAGE_FORMAT).to_string(), "{t:?}");
            assert_eq!(
                to_rfc3339(t),
                t.format(RFC3339_SECONDS).to_string(),
                "{t:?}"
            );
        }
    }

    /// The name read from `TZ` or /etc/localtime is the one jiff gives for
    /// the system zone (on a machine where there is one to read).
    #[test]
    fn the_system_zone_name_is_jiffs_name_for_the_system_zone() {
        if let Some(name) = system_zone_name() {
            let system = jiff::tz::TimeZone::try_system().expect("system zone");
            assert_eq!(system.iana_name(), Some(name.as_str()));
        }
    }

    /// `show` writes what chrono's `%Y-%m-%d %H:%M` writes, in the zone.
    #[test]
    fn shown_times_match_chronos_pattern_in_every_zone() {
        let zones = [
            utc(),
            DisplayZone::parse("Europe/Moscow").unwrap(),
            DisplayZone::parse("America/St_Johns").unwrap(),
        ];
        for stored in [
            "0001-01-01T00:00:00Z",
            "0999-09-09T09:09:09Z",
            "2024-03-01T07:06:00.532084Z",
            "2024-12-31T23:59:59.999999Z",
            "9999-12-31T20:00:00Z",
        ] {
            let t = from_storage(stored).unwrap();
            for zone in &zones {
                let local = match zone {
                    DisplayZone::Named(tz) => t
                        .with_timezone(&DisplayZone::offset_at(tz, t))
                        .naive_local(),
                    DisplayZone::Local => unreachable!(),
                };
                assert_eq!(
                    zone.show(t),
                    local.format("%Y-%m-%d %H:%M").to_string(),
                    "{stored}"
                );
            }
        }
    }

    fn now() -> DateTime<Utc> {
        from_storage("2024-12-10T12:00:00Z").unwrap()
    }
    fn utc() -> DisplayZone {
        DisplayZone::parse("UTC").unwrap()
    }

    #[test]
    fn booking_timestamps_are_strict() {
        let moscow = DisplayZone::parse("Europe/Moscow").unwrap();
        let ok =
            |t: &str, z: Option<&DisplayZone>| to_storage(parse_booking_timestamp(t, z).unwrap());
        assert_eq!(
            ok("2024-03-01 10:06:00.5+03", None),
            "2024-03-01T07:06:00.500000Z"
        );
        assert_eq!(
            ok("2024-03-01 10:06:00", Some(&moscow)),
            "2024-03-01T07:06:00.000000Z"
        );
        assert_eq!(
            ok("2024-03-01", Some(&utc())),
            "2024-03-01T00:00:00.000000Z"
        );
        assert_eq!(
            parse_booking_timestamp("2024-03-01 10:06:00", None),
            Err(TimestampError::NoOffset)
        );
        for (text, year) in [
            ("0000-03-01 10:00:00+03", 0),
            ("2101-01-01T00:00:00Z", 2101),
            ("1969-12-31 10:00:00+00", 1969),
        ] {
            assert_eq!(
                parse_booking_timestamp(text, None),
                Err(TimestampError::YearOutOfRange(year)),
                "{text}"
            );
        }
        for text in [
            "-2024-03-01 10:00:00+03",
            "+2024-03-01",
            "12024-03-01",
            "24-03-01",
            "",
        ] {
            assert_eq!(
                parse_booking_timestamp(text, Some(&utc())),
                Err(TimestampError::NotATimestamp),
                "{text}"
            );
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        let z = utc();
        assert_eq!(
            to_storage(parse_instant("2024-12-01", now(), &z).unwrap()),
            "2024-12-01T00:00:00.000000Z"
        );
        assert_eq!(
            to_storage(parse_instant("today", now(), &z).unwrap()),
            "2024-12-10T00:00:00.000000Z"
        );
        assert_eq!(
            to_storage(parse_instant("yesterday", now(), &z).unwrap()),
            "2024-12-09T00:00:00.000000Z"
        );
        assert_eq!(
            to_storage(parse_instant("7d", now(), &z).unwrap()),
            "2024-12-03T12:00:00.000000Z"
        );
        assert_eq!(
            to_storage(parse_instant("24h", now(), &z).unwrap()),
            "2024-12-09T12:00:00.000000Z"
        );
        assert_eq!(
            to_storage(parse_instant("2024-12-01T10:00:00+03:00", now(), &z).unwrap()),
            "2024-12-01T07:00:00.000000Z"
        );
    }

    #[test]
    fn date_only_is_midnight_in_the_display_zone() {
        let msk = DisplayZone::parse("Europe/Moscow").unwrap();
        assert_eq!(
            to_storage(parse_instant("2024-12-01", now(), &msk).unwrap()),
            "2024-11-30T21:00:00.000000Z"
        );
    }

    #[test]
    fn rejects_impossible_and_malformed_dates() {
        for bad in [
            "2024-02-30",
            "2024-13-01",
            "yesterdayish",
            "7x",
            "d",
            "",
            "99999999999999999999d",
            "-7d",
        ] {
            assert!(parse_instant(bad, now(), &utc()).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_postgres_timestamps() {
        let t = parse_legacy_timestamp("2024-03-01 10:06:00.532084+03").unwrap();
        assert_eq!(to_storage(t), "2024-03-01T07:06:00.532084Z");
        let t = parse_legacy_timestamp("2024-03-01 10:06:00+05:30").unwrap();
        assert_eq!(to_storage(t), "2024-03-01T04:36:00.000000Z");
        assert!(parse_legacy_timestamp("2024-03-01 25:06:00+03").is_none());
    }
}
