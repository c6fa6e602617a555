//! Name search: the fold SQL applies to names (as `domain::booking::fold`
//! does), the trigram index on SQLite and pg_trgm on PostgreSQL, and the
//! patterns each is asked with.

use crate::db::conditions::Conditions;
use crate::db::sql::Dialect;
use crate::domain::booking::SQL_FOLD_PAIRS;

/// Whether folded search text can use the trigram index (`bookings_search`,
/// migration 3): it holds every run of three characters, so shorter text is
/// looked for row by row.
pub(super) fn uses_search_index(folded: &str) -> bool {
    folded.chars().count() >= 3
}

/// The names of a booking `b` as one text, before folding.
pub(super) const NAMES_SQL: &str =
    "trim(COALESCE(b.username, '') || ' ' || COALESCE(b.first_name, ''))";

/// `expr` folded in SQL as `domain::booking::fold` folds it, for names
/// another program wrote (issue 25): on SQLite `lower()` (ASCII) wrapped in
/// a `replace` per letter of `SQL_FOLD_PAIRS`; on PostgreSQL one
/// `translate`, which also lowers those letters whatever the server's locale.
pub(in crate::db) fn sql_fold(expr: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => SQL_FOLD_PAIRS
            .iter()
            .fold(format!("lower({expr})"), |inner, (from, to)| {
                format!("replace({inner}, '{from}', '{to}')")
            }),
        Dialect::Postgres => {
            let from: String = SQL_FOLD_PAIRS.iter().map(|(f, _)| *f).collect();
            let to: String = SQL_FOLD_PAIRS.iter().map(|(_, t)| *t).collect();
            format!("translate(lower({expr}), '{from}', '{to}')")
        }
    }
}

/// Replacements per view of the fold's chain (schema.sql, migration 8):
/// another program's SQLite parses each view of the chain, and the `sqlite3`
/// shell's parser overflows at about 26 nested calls (issue 25).
#[cfg(test)]
pub(in crate::db) const FOLD_PAIRS_PER_VIEW: usize = 15;

/// The views of schema.sql's migration 8 that fold the names of a booking in
/// SQL, `FOLD_PAIRS_PER_VIEW` letters each, ending in `bookings_search_source`
/// (what the search index holds). Generated here, pasted there; a unit test
/// holds the two together.
#[cfg(test)]
pub(in crate::db) fn search_fold_views() -> String {
    let mut sql = format!(
        "CREATE VIEW bookings_search_fold_0 AS\nSELECT b.id, b.search_text, lower({NAMES_SQL}) AS folded\n  FROM bookings b;\n"
    );
    let chunks: Vec<&[(char, char)]> = SQL_FOLD_PAIRS.chunks(FOLD_PAIRS_PER_VIEW).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let folded = chunk
            .iter()
            .fold("folded".to_string(), |inner, (from, to)| {
                format!("replace({inner}, '{from}', '{to}')")
            });
        sql += &format!(
            "CREATE VIEW bookings_search_fold_{} AS\nSELECT id, search_text, {folded} AS folded\n  FROM bookings_search_fold_{i};\n",
            i + 1
        );
    }
    sql += &format!(
        "CREATE VIEW bookings_search_source AS\nSELECT id, CASE WHEN search_text <> '' THEN search_text ELSE folded END AS search_text\n  FROM bookings_search_fold_{};\n",
        chunks.len()
    );
    sql
}

/// The text a booking is searched by, as the index holds it (schema.sql,
/// migration 8, the view `bookings_search_source`): paytrack's fold, or the
/// names as another program wrote them, folded in SQL.
pub(in crate::db) fn searched_text(dialect: Dialect) -> String {
    format!(
        "CASE WHEN b.search_text <> '' THEN b.search_text ELSE {} END",
        sql_fold(NAMES_SQL, dialect)
    )
}

/// Folded text as one FTS5 phrase: in double quotes, inner quotes doubled, so
/// nothing in it is read as FTS query syntax.
pub(super) fn search_phrase(folded: &str) -> String {
    format!("\"{}\"", folded.replace('"', "\"\""))
}

/// The `--search` condition on folded text, through the index where it can,
/// so a search costs what its matches do, not what the table does.
pub(super) fn push_search(c: &mut Conditions, folded: &str, dialect: Dialect) {
    if !uses_search_index(folded) {
        // Shorter than a trigram: read row by row (an index has nothing to give).
        c.push(
            &format!("instr({}, ?) > 0", searched_text(dialect)),
            vec![Box::new(folded.to_string())],
        );
    } else if dialect == Dialect::Sqlite {
        c.push(
            "b.id IN (SELECT rowid FROM bookings_search WHERE bookings_search MATCH ?)",
            vec![Box::new(search_phrase(folded))],
        );
    } else {
        // The bot's names, or paytrack's own fold of them (which also drops
        // marks SQL_FOLD_PAIRS does not know), each with its trigram index.
        let pattern = like_pattern(folded);
        c.push(
            &format!(
                "({} LIKE ? OR b.id IN (SELECT s.booking_id FROM booking_state s WHERE s.search_text LIKE ?))",
                pg_names_fold("b.")
            ),
            vec![Box::new(pattern.clone()), Box::new(pattern)],
        );
    }
}

/// The names of the bot's row folded as `--search` compares them on
/// PostgreSQL (`column_prefix`: `b.` in a query, empty in an index): the
/// expression of the trigram index `paytrack_bookings_search` on
/// public.bookings, and of every search, so the planner can use that index.
pub(crate) fn pg_names_fold(column_prefix: &str) -> String {
    sql_fold(
        &format!(
            "trim(COALESCE({column_prefix}username, '') || ' ' || COALESCE({column_prefix}first_name, ''))"
        ),
        Dialect::Postgres,
    )
}

/// Folded text as a LIKE pattern that finds it anywhere (`%`, `_` and a
/// backslash in it stand for themselves). pg_trgm's indexes answer LIKE,
/// not strpos.
pub(super) fn like_pattern(folded: &str) -> String {
    let mut pattern = String::with_capacity(folded.len() + 2);
    pattern.push('%');
    for ch in folded.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod fold_tests {
    use super::*;
    use crate::db::bookings::STAMP_DEFAULTS_MIGRATION;
    use crate::domain::booking::fold;

    /// The view of schema.sql's migration 8 folds as short searches do.
    #[test]
    fn the_search_view_folds_as_short_searches_do() {
        let (_, sql) = crate::db::migrations()
            .find(|(v, _)| *v == STAMP_DEFAULTS_MIGRATION)
            .expect("migration 8");
        assert!(
            sql.contains(&search_fold_views()),
            "regenerate migration 8's views"
        );
    }

    /// The chain of views folds as `fold` does, and as short searches do.
    #[test]
    fn the_view_chain_folds_as_fold_does() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for (_, sql) in crate::db::migrations() {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO courses (id, name, created_at, updated_at) VALUES (1, 'c', 'x', 'x')",
        )
        .unwrap();
        let names = ["Пётр ЁЛКИН", "José ÁLVAREZ", "Łukasz Ščęsný", "ЙОГУРТ йод"];
        for (id, name) in (1_i64..).zip(names) {
            conn.execute(
                "INSERT INTO bookings (id, user_id, first_name, course_id, confirmed, created_at, updated_at)
                 VALUES (?1, 1, ?2, 1, 1, 'x', 'x')",
                rusqlite::params![id, name],
            )
            .unwrap();
            let (by_view, by_expr): (String, String) = conn
                .query_row(
                    &format!(
                        "SELECT (SELECT search_text FROM bookings_search_source WHERE id = b.id), {}
                           FROM bookings b WHERE b.id = ?1",
                        searched_text(Dialect::Sqlite)
                    ),
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(by_view, fold(name), "{name}");
            assert_eq!(by_expr, fold(name), "{name}");
        }
    }

    /// SQLite's fold of foreign names equals paytrack's.
    #[test]
    fn the_sql_fold_matches_fold() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for name in [
            "Пётр ЁЛКИН",
            "José ÁLVAREZ",
            "Łukasz Ščęsný",
            "ЙОГУРТ йод",
            "Ärger Øre",
        ] {
            let folded: String = conn
                .query_row(
                    &format!("SELECT {}", sql_fold("?1", Dialect::Sqlite)),
                    [name],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(folded, fold(name), "{name}");
        }
    }
}
