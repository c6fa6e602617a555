//! paytrack's schema as numbered migrations (schema.sql; schema.pg.sql for
//! PostgreSQL, split by the same rule), and the rule that keeps the two one
//! history.

use anyhow::Result;
use rusqlite::Connection;

/// The schema, as numbered migrations (see the header of schema.sql).
pub(crate) const SCHEMA: &str = include_str!("../../schema.sql");

/// One migration history for both engines (issue 27): from this number on,
/// schema.sql and schema.pg.sql are numbered in step. Every migration
/// number is a section in both files (a section of comments only where one
/// engine needs nothing), so version N means the same tables, columns and
/// CHECK lists on either (tests/cli/pg_schema.rs compares them). Before it,
/// PostgreSQL's migrations 1–4 reached the shape of SQLite's 1–9 in fewer
/// steps; a PostgreSQL database goes from 4 straight to this number.
pub const MIGRATIONS_IN_STEP_FROM: u32 = 10;

/// The highest migration number in schema.sql.
pub fn latest_version() -> u32 {
    LATEST_VERSION
}

/// Found when paytrack is compiled: every open compares the file's version
/// with it, and splitting the schema into sections to find it was 1.6% of a
/// one-page `bookings list` (issue 28). The unit test below holds it to
/// [`migration_sections`].
const LATEST_VERSION: u32 = highest_migration(SCHEMA);

/// The highest `N` of the lines that are exactly `-- migration: N` (spaces
/// around the number allowed, as `migration_sections` trims them), in a
/// `const fn` so that it runs at compile time.
pub(crate) const fn highest_migration(schema: &str) -> u32 {
    const MARKER: &[u8] = b"-- migration: ";
    let text = schema.as_bytes();
    let mut highest = 0;
    let mut line = 0;
    while line < text.len() {
        let mut end = line;
        while end < text.len() && text[end] != b'\n' {
            end += 1;
        }
        let mut i = 0;
        while i < MARKER.len() && line + i < end && text[line + i] == MARKER[i] {
            i += 1;
        }
        if i == MARKER.len() {
            let mut at = line + i;
            while at < end && text[at].is_ascii_whitespace() {
                at += 1;
            }
            let (mut number, mut digits) = (0u32, 0);
            while at < end && text[at].is_ascii_digit() {
                number = number * 10 + (text[at] - b'0') as u32;
                digits += 1;
                at += 1;
            }
            while at < end && text[at].is_ascii_whitespace() {
                at += 1;
            }
            if digits > 0 && at == end && number > highest {
                highest = number;
            }
        }
        line = end + 1;
    }
    highest
}

/// The `-- migration: N` sections of schema.sql, in order: each starts at a
/// line that is exactly the marker and a number, and ends at the next one.
pub fn migrations() -> impl Iterator<Item = (u32, &'static str)> {
    migration_sections(SCHEMA)
}

/// The `-- migration: N` sections of a schema file (schema.sql, and
/// schema.pg.sql for PostgreSQL), split by the same rule.
pub(crate) fn migration_sections(
    schema: &'static str,
) -> impl Iterator<Item = (u32, &'static str)> {
    const MARKER: &str = "-- migration: ";
    // (version, where the marker line begins, where the section's SQL begins)
    let mut markers: Vec<(u32, usize, usize)> = Vec::new();
    let mut offset = 0;
    for line in schema.split_inclusive('\n') {
        if let Some(version) = line
            .strip_prefix(MARKER)
            .and_then(|n| n.trim().parse().ok())
        {
            markers.push((version, offset, offset + line.len()));
        }
        offset += line.len();
    }
    let ends: Vec<usize> = markers
        .iter()
        .skip(1)
        .map(|m| m.1)
        .chain([schema.len()])
        .collect();
    markers
        .into_iter()
        .zip(ends)
        .map(|((version, _, start), end)| (version, &schema[start..end]))
}

/// The names of every table, index and trigger paytrack's schema creates
/// (from the schema itself, applied to a scratch in-memory database).
pub(super) fn paytrack_object_names() -> Result<Vec<String>> {
    let scratch = Connection::open_in_memory()?;
    for (_, sql) in migrations() {
        scratch.execute_batch(sql)?;
    }
    let mut stmt = scratch
        .prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

#[cfg(all(test, feature = "postgres"))]
mod migration_history_tests {
    use super::*;
    use crate::db::pg;

    fn numbers(schema: &'static str) -> Vec<u32> {
        migration_sections(schema).map(|(n, _)| n).collect()
    }

    /// SQLite's migrations run 1, 2, … without a gap; PostgreSQL's run
    /// 1–4 and then take exactly SQLite's numbers from
    /// MIGRATIONS_IN_STEP_FROM on, so both files always end at the same
    /// version once the histories meet.
    #[test]
    fn the_two_schema_files_are_numbered_in_step() {
        let sqlite = numbers(SCHEMA);
        let postgres = numbers(pg::SCHEMA);
        assert_eq!(sqlite, (1..=latest_version()).collect::<Vec<_>>());
        let early: Vec<u32> = postgres
            .iter()
            .copied()
            .filter(|n| *n < MIGRATIONS_IN_STEP_FROM)
            .collect();
        assert_eq!(
            early,
            vec![1, 2, 3, 4],
            "PostgreSQL's history before the step is shipped"
        );
        let in_step = |v: &[u32]| -> Vec<u32> {
            v.iter()
                .copied()
                .filter(|n| *n >= MIGRATIONS_IN_STEP_FROM)
                .collect()
        };
        assert_eq!(
            in_step(&postgres),
            in_step(&sqlite),
            "from migration {MIGRATIONS_IN_STEP_FROM} on, each number is a section of both \
             schema.sql and schema.pg.sql (comments only where one engine needs nothing)"
        );
        if latest_version() >= MIGRATIONS_IN_STEP_FROM {
            assert_eq!(pg::latest_version(), latest_version());
        }
        assert!(migration_sections(pg::SCHEMA).all(|(_, sql)| sql.contains("paytrack")));
    }

    #[test]
    fn the_compiled_latest_version_is_the_last_section_of_each_schema() {
        for schema in [SCHEMA, pg::SCHEMA] {
            let sections = migration_sections(schema).map(|(v, _)| v).max();
            assert_eq!(Some(highest_migration(schema)), sections);
        }
        let made_up =
            "-- migration: 3\nx\n-- migration: 12 \n-- migration: 99 later\n  -- migration: 50\n";
        assert_eq!(highest_migration(made_up), 12);
        assert_eq!(
            migration_sections(made_up).map(|(v, _)| v).max(),
            Some(12),
            "the same rule as the sections"
        );
    }
}
