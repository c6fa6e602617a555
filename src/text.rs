//! Making stranger-typed text (Telegram names) harmless on the way out: a
//! leaf below every layer (domain, db, services and input quote values in
//! their errors with it), so it imports nothing from paytrack.
//!
//! - On a terminal: control characters (C0, DEL, C1 — ESC starts every escape
//!   sequence), bidi overrides and zero-width characters are shown as visible
//!   escapes such as `\e` or `\u{202e}`, so a name cannot clear, retitle or
//!   rewrite the admin's screen or hide text.
//! - In CSV: a cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed
//!   with `'` (OWASP's advice against formula injection) unless raw output was
//!   asked for.
//!
//! The database keeps the text exactly as typed.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

/// True for characters that must not reach a terminal as they are.
pub fn is_dangerous(c: char) -> bool {
    c.is_control() // C0, DEL, C1
        || matches!(c,
            '\u{200b}'..='\u{200f}'   // zero-width space/joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line/paragraph separators
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{feff}'              // zero-width no-break space / BOM
            | '\u{fff9}'..='\u{fffb}' // interlinear annotations
        )
}

/// Whether `text` holds a character `is_dangerous` names. Printable ASCII
/// (most of a table: ids, times, streams, Latin names) is checked a byte at a
/// time; only text with other characters is decoded.
pub fn has_dangerous(text: &str) -> bool {
    if text.is_ascii() {
        return text.bytes().any(|b| b < b' ' || b == 0x7f);
    }
    text.chars().any(is_dangerous)
}

/// Text safe to print on a terminal: dangerous characters shown as escapes.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !has_dangerous(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\x1b' => out.push_str("\\e"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_dangerous(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The most bytes of a value echoed in a message; longer values are cut.
const SHOWN_MAX_BYTES: usize = 120;

/// A value typed by someone else (a flag, a file's cell, a path), made fit to
/// echo in a one-line message: cut to a short prefix with an ellipsis and its
/// full length in bytes, then escaped as `for_terminal` does, so that neither
/// an escape sequence nor a 10 MB value reaches the terminal. Every error that
/// quotes input goes through here. Linear in the text's length.
pub fn shown(text: &str) -> String {
    capped(text, SHOWN_MAX_BYTES)
}

/// The most bytes of one line of talk on stderr (an error, a note).
const LINE_MAX_BYTES: usize = 2000;

/// A whole line of talk, made safe as a last line of defence: whatever a
/// message quotes, escape sequences are shown as text and the line stays
/// short. Values are capped one by one with `shown`; this catches the rest.
pub fn message_line(text: &str) -> String {
    capped(text, LINE_MAX_BYTES)
}

fn capped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return for_terminal(text).into_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", for_terminal(&text[..cut]), text.len())
}

/// A path, made fit to echo as `shown` does (a name that is not UTF-8 is shown
/// lossily); a `postgres://` URL without its password (issue 26: `check` printed
/// it whole, and cron mails what `check` prints).
pub fn shown_path(path: impl AsRef<std::path::Path>) -> String {
    shown(&without_password(&path.as_ref().to_string_lossy()))
}

/// `text` without a password when it is a `postgres://` or `postgresql://`
/// URL: the `:password` of its user part and any `password=` parameter are
/// left out. Anything else is returned as it is. The one place a URL loses
/// its password before it is shown.
pub fn without_password(text: &str) -> Cow<'_, str> {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    let Some(scheme_len) = ["postgres://", "postgresql://"]
        .iter()
        .find(|s| lower.starts_with(*s))
        .map(|s| s.len())
    else {
        return Cow::Borrowed(text);
    };
    let (scheme, rest) = text.split_at(scheme_len);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
    Cow::Owned(format!("{scheme}{authority}{tail}"))
}

/// Whether a CSV cell needs the `'` prefix. Text that already starts with `'`
/// before such a cell is prefixed too, so that `from_csv` can undo exactly
/// what `for_csv` did and export → import round-trips every name.
fn needs_prefix(text: &str) -> bool {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => true,
        Some('\'') => needs_prefix(&text[1..]),
        _ => false,
    }
}

/// A CSV cell that a spreadsheet will not run as a formula.
pub fn for_csv(text: &str) -> Cow<'_, str> {
    if needs_prefix(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Undoes `for_csv` when reading a file paytrack exported.
pub fn from_csv(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if needs_prefix(rest) => rest,
        _ => text,
    }
}

/// Width of `text` in terminal columns (CJK and emoji count two).
pub fn display_width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Shortens `text` to at most `max` terminal columns, ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    cut_to_width(text, max, false)
}

/// As `truncate`; `more` says the text was already cut before it got here,
/// so it ends in `…` even when what is left fits.
pub fn cut_to_width(text: &str, max: usize, more: bool) -> String {
    // No character is wider than two columns, nor shorter than one byte:
    // a text of at most max / 2 bytes fits without measuring it.
    if !more && (text.len() <= max / 2 || display_width(text) <= max) {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            without_password("postgres://app:S3cret@db.example.org:5432/school?sslmode=require"),
            "postgres://app@db.example.org:5432/school?sslmode=require"
        );
        assert_eq!(
            without_password(
                "POSTGRESQL://app:a:b@c@%2Ftmp%2Fs/db?password=S3cret&sslmode=disable"
            ),
            "POSTGRESQL://app@%2Ftmp%2Fs/db?sslmode=disable"
        );
        assert_eq!(
            without_password("postgres:///db?Password=x"),
            "postgres:///db"
        );
        assert_eq!(without_password("/srv/a:b@c.db"), "/srv/a:b@c.db");
        assert!(!shown_path("postgres://u:S3cret@h/d").contains("S3cret"));
    }

    #[test]
    fn escapes_what_could_drive_a_terminal() {
        assert_eq!(for_terminal("Ольга 🌸"), "Ольга 🌸");
        assert_eq!(
            for_terminal("\x1b[2J\x1b]0;pwned\x07"),
            "\\e[2J\\e]0;pwned\\u{7}"
        );
        assert_eq!(for_terminal("a\rb\nc"), "a\\rb\\nc");
        assert_eq!(for_terminal("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(for_terminal("x\u{200b}y\u{9b}"), "x\\u{200b}y\\u{9b}");
    }

    #[test]
    fn shown_values_are_short_and_clean() {
        assert_eq!(shown("abc"), "abc");
        assert_eq!(shown("\x1b]0;x\x07"), "\\e]0;x\\u{7}");
        let long = "я".repeat(5_000_000);
        let cut = shown(&long);
        assert!(cut.len() < 300, "{}", cut.len());
        assert!(cut.ends_with("… (10000000 bytes)"), "{cut}");
    }

    #[test]
    fn neutralises_formula_cells() {
        assert_eq!(for_csv("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        for s in ["+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(for_csv(s).starts_with('\''), "{s:?}");
        }
        assert_eq!(for_csv("Kate, the \"Great\""), "Kate, the \"Great\"");
    }

    proptest::proptest! {
        #[test]
        fn terminal_text_never_contains_control_characters(s in "\\PC*|[\\x00-\\x1f\\x7f-\\x9f\u{202a}-\u{202e}a-z]*|[\\x00-\\x7f]*") {
            let safe = for_terminal(&s);
            proptest::prop_assert!(!safe.chars().any(is_dangerous));
            proptest::prop_assert_eq!(has_dangerous(&s), s.chars().any(is_dangerous));
        }

        #[test]
        fn csv_protection_round_trips(s in "['=+@a\\-]{0,4}\\PC{0,8}") {
            let protected = for_csv(&s);
            proptest::prop_assert_eq!(from_csv(&protected), s.as_str());
        }

        #[test]
        fn csv_cells_never_start_a_formula(s in "\\PC*|[=+@\\-\t\r].*") {
            let safe = for_csv(&s);
            proptest::prop_assert!(!matches!(safe.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r')));
        }
    }

    #[test]
    fn truncates_by_display_width() {
        assert_eq!(truncate("Ольга", 10), "Ольга");
        assert_eq!(truncate("Александра Константиновна", 10), "Александр…");
        assert_eq!(truncate("漢字漢字漢字", 7), "漢字漢…");
        assert_eq!(truncate("🌸🌸🌸🌸", 5), "🌸🌸…");
    }
}
