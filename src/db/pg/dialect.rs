//! SQL written once for both backends: the repository writes SQLite's `?N`
//! placeholders, and PostgreSQL gets them as `$N` (see the notes on issue 18:
//! SQLite reads `$N` as *named* parameters numbered by first appearance, so
//! `$N` text cannot be shared; `?N` can). Placeholders inside string
//! literals, quoted identifiers, dollar-quoted bodies and comments are left
//! alone. The session rewrites every statement it prepares through here.

use std::borrow::Cow;

/// `sql` with every `?N` placeholder outside quotes and comments written
/// `$N` (a bare `?` numbered as SQLite numbers it), and SQLite's `temp.`
/// schema written `pg_temp.`.
pub fn to_postgres(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') && !sql.contains("temp.") {
        return Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    // SQLite numbers a bare `?` one past the largest number used so far.
    let mut largest = 0usize;
    while i < bytes.len() {
        let rest = &sql[i..];
        let skip = match bytes[i] {
            b'\'' => quoted_len(rest, '\''),
            b'"' => quoted_len(rest, '"'),
            b'-' if rest.starts_with("--") => rest.find('\n').map_or(rest.len(), |n| n + 1),
            b'/' if rest.starts_with("/*") => rest.find("*/").map_or(rest.len(), |n| n + 2),
            b'$' => dollar_quoted_len(rest),
            b'?' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let digits = rest[1..]
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len() - 1);
                largest = largest.max(rest[1..=digits].parse().unwrap_or(0));
                out.push('$');
                i += 1;
                continue;
            }
            // SQLite's schema of temporary tables is PostgreSQL's pg_temp.
            b't' if rest.starts_with("temp.")
                && (i == 0
                    || !(bytes[i - 1].is_ascii_alphanumeric()
                        || bytes[i - 1] == b'_'
                        || bytes[i - 1] == b'.')) =>
            {
                out.push_str("pg_temp.");
                i += "temp.".len();
                continue;
            }
            b'?' => {
                largest += 1;
                out.push_str(&format!("${largest}"));
                i += 1;
                continue;
            }
            _ => 0,
        };
        let take = skip.max(rest.chars().next().map_or(1, char::len_utf8));
        out.push_str(&rest[..take]);
        i += take;
    }
    Cow::Owned(out)
}

/// Length of a `'…'` or `"…"` token (a doubled quote stays inside).
fn quoted_len(text: &str, quote: char) -> usize {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((at, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
                continue;
            }
            return at + c.len_utf8();
        }
    }
    text.len()
}

/// Length of a `$tag$ … $tag$` body, or 0 when `text` does not start one.
fn dollar_quoted_len(text: &str) -> usize {
    let Some(tag_end) = text[1..].find('$') else {
        return 0;
    };
    let tag = &text[..tag_end + 2];
    if !tag[1..tag.len() - 1]
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_')
        || tag[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        return 0;
    }
    text[tag.len()..]
        .find(tag)
        .map_or(text.len(), |end| tag.len() + end + tag.len())
}

#[cfg(test)]
mod tests {
    use super::to_postgres;

    #[test]
    fn rewrites_numbered_placeholders() {
        assert_eq!(
            to_postgres("SELECT * FROM b WHERE id = ?1 AND (?2 IS NULL OR s = ?2) LIMIT ?10"),
            "SELECT * FROM b WHERE id = $1 AND ($2 IS NULL OR s = $2) LIMIT $10"
        );
    }

    #[test]
    fn leaves_quotes_comments_and_bodies_alone() {
        let sql = "SELECT '?1', 'it''s ?2', \"col?3\" -- ?4\n, ?5 /* ?6 */, $fn$ ?7 $fn$, ?8";
        assert_eq!(
            to_postgres(sql),
            "SELECT '?1', 'it''s ?2', \"col?3\" -- ?4\n, $5 /* ?6 */, $fn$ ?7 $fn$, $8"
        );
    }

    #[test]
    fn numbers_bare_question_marks_as_sqlite_does_and_leaves_cyrillic_alone() {
        assert_eq!(to_postgres("SELECT 'Ольга?' , ?1"), "SELECT 'Ольга?' , $1");
        assert_eq!(
            to_postgres("VALUES (?, ?), (?, ?)"),
            "VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(to_postgres("SELECT ?2, ?, ?1"), "SELECT $2, $3, $1");
        assert_eq!(
            to_postgres("DELETE FROM temp.t; SELECT attempt.x, 'temp.y'"),
            "DELETE FROM pg_temp.t; SELECT attempt.x, 'temp.y'"
        );
        assert!(matches!(
            to_postgres("SELECT 1"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
