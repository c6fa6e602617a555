//! One schema in two dialects (issue 27): `paytrack init` on SQLite and on
//! PostgreSQL must give paytrack's tables the same columns, nullability,
//! type classes and CHECK lists, so a column or a status added to one
//! schema file and forgotten in the other fails here, not in a school's
//! database. The few tables that exist on one engine only are named below
//! with the reason. Needs PAYTRACK_TEST_PG (ignored with the reason without it).

use std::collections::{BTreeMap, BTreeSet};

use crate::harness::{is_postgres, pg, Env};

/// Tables of one engine only, and why (anything else must be on both).
const SQLITE_ONLY: &[(&str, &str)] = &[
    (
        "bookings",
        "on PostgreSQL the bot's public.bookings, shown as the view paytrack.bookings (compared below)",
    ),
    ("bookings_search", "SQLite's FTS5 index of the folded names"),
    ("bookings_search_config", "FTS5's own table"),
    ("bookings_search_data", "FTS5's own table"),
    ("bookings_search_docsize", "FTS5's own table"),
    ("bookings_search_idx", "FTS5's own table"),
    (
        "stream_counters",
        "PostgreSQL keeps the counters as deltas (stream_counter_deltas) so the bot never waits",
    ),
];
const POSTGRES_ONLY: &[(&str, &str)] = &[
    (
        "adoption",
        "what `init --adopt` installed on the bot's table",
    ),
    (
        "booking_state",
        "paytrack's per-booking columns, kept out of the bot's table",
    ),
    (
        "login_roles",
        "the login roles the owner let append to the audit log",
    ),
    ("schema_version", "SQLite keeps it in PRAGMA user_version"),
    (
        "stream_counter_deltas",
        "the counters as deltas (SQLite: stream_counters)",
    ),
];

/// (type class, NOT NULL) of each column, by (table, column).
type Columns = BTreeMap<(String, String), (&'static str, bool)>;
/// The values each CHECK (column IN (…)) allows, by (table, column).
type CheckLists = BTreeMap<(String, String), BTreeSet<String>>;

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_both_schemas_have_the_same_tables_columns_types_and_check_lists() {
    assert!(
        !is_postgres(),
        "builds an SQLite file beside PostgreSQL: runs in the SQLite run only"
    );
    let sqlite = Env::new();
    let postgres = Env::new_on_postgres();

    let (sqlite_columns, sqlite_checks) = sqlite_schema(&sqlite);
    let (pg_columns, pg_checks) = postgres_schema(&postgres);

    let tables = |columns: &Columns| -> BTreeSet<String> {
        columns.keys().map(|(table, _)| table.clone()).collect()
    };
    let named = |list: &[(&str, &str)]| -> BTreeSet<String> {
        list.iter().map(|(t, _)| (*t).to_string()).collect()
    };
    let sqlite_tables = tables(&sqlite_columns);
    let pg_tables = tables(&pg_columns);
    assert_eq!(
        sqlite_tables.difference(&pg_tables).cloned().collect::<BTreeSet<_>>(),
        named(SQLITE_ONLY),
        "tables on SQLite only (add the table to schema.pg.sql, or name it in SQLITE_ONLY with the reason)"
    );
    assert_eq!(
        pg_tables.difference(&sqlite_tables).cloned().collect::<BTreeSet<_>>(),
        named(POSTGRES_ONLY),
        "tables on PostgreSQL only (add the table to schema.sql, or name it in POSTGRES_ONLY with the reason)"
    );
    assert!(
        sqlite_tables.intersection(&pg_tables).count() >= 10,
        "too few shared tables to compare: {sqlite_tables:?} / {pg_tables:?}"
    );

    // Every shared table column by column; SQLite's bookings against the view
    // that shows the bot's table to paytrack's SQL in SQLite's shape.
    let shared = |columns: &Columns, view: Option<&str>| -> Columns {
        columns
            .iter()
            .filter(|((table, _), _)| {
                pg_tables.contains(table) && sqlite_tables.contains(table)
                    || view == Some(table.as_str())
            })
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let mut pg_shared = shared(&pg_columns, None);
    for ((table, column), (class, _)) in view_columns(&postgres) {
        // A view's columns are all nullable to the catalogue: compare types only.
        let not_null = sqlite_columns[&(table.clone(), column.clone())].1;
        pg_shared.insert((table, column), (class, not_null));
    }
    let sqlite_shared = shared(&sqlite_columns, Some("bookings"));
    let keys: BTreeSet<_> = sqlite_shared.keys().chain(pg_shared.keys()).collect();
    let differences: Vec<String> = keys
        .into_iter()
        .filter(|k| sqlite_shared.get(*k) != pg_shared.get(*k))
        .map(|k| {
            format!(
                "{}.{}: SQLite {:?}, PostgreSQL {:?}",
                k.0,
                k.1,
                sqlite_shared.get(k),
                pg_shared.get(k)
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "columns differ as (type class, NOT NULL):\n{}",
        differences.join("\n")
    );
    assert!(sqlite_shared.len() > 80, "too few columns compared");

    // The bot's table is the bot's: paytrack adds no CHECK to it (its state
    // machine and the view's write function refuse any other status).
    let mut sqlite_checks = sqlite_checks;
    assert!(
        sqlite_checks
            .remove(&("bookings".to_string(), "confirmed".to_string()))
            .is_some(),
        "the CHECK list on bookings.confirmed was not found: the parser missed it"
    );
    assert_eq!(
        sqlite_checks, pg_checks,
        "CHECK (column IN (…)) lists differ"
    );
    for (table, column) in [
        ("outbox", "status"),
        ("payments", "outcome"),
        ("import_state", "status"),
    ] {
        assert!(
            sqlite_checks.contains_key(&(table.to_string(), column.to_string())),
            "the CHECK list on {table}.{column} was not found: the parser missed it"
        );
    }
}

/// SQLite's declared type as its affinity (the rules of sqlite.org/datatype3).
fn sqlite_class(declared: &str) -> &'static str {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "integer"
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|s| t.contains(s)) {
        "text"
    } else if t.is_empty() || t.contains("BLOB") {
        "blob"
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|s| t.contains(s)) {
        "real"
    } else {
        "numeric"
    }
}

/// PostgreSQL's type as the SQLite class its values round-trip through.
fn postgres_class(data_type: &str) -> &'static str {
    match data_type {
        "smallint" | "integer" | "bigint" | "boolean" => "integer",
        // Timestamps are the bot's created_at: paytrack reads and writes
        // every time as storage text (domain::time) on both engines.
        "text"
        | "character varying"
        | "character"
        | "timestamp with time zone"
        | "timestamp without time zone" => "text",
        "real" | "double precision" => "real",
        "bytea" => "blob",
        _ => "numeric",
    }
}

fn sqlite_schema(env: &Env) -> (Columns, CheckLists) {
    let conn = env.sql();
    let mut columns = Columns::new();
    let mut stmt = conn
        .prepare(
            "SELECT m.name, p.name, p.type, p.\"notnull\" OR p.pk > 0 \
             FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (table, column, declared, not_null) = row.unwrap();
        columns.insert((table, column), (sqlite_class(&declared), not_null));
    }
    let mut checks = CheckLists::new();
    let mut stmt = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap();
    for row in rows {
        let (table, sql) = row.unwrap();
        for (column, values) in in_lists(&sql) {
            checks.insert((table.clone(), column), values);
        }
    }
    (columns, checks)
}

/// `CHECK (column IN (v, …))` in a CREATE TABLE statement.
fn in_lists(sql: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut found = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find("CHECK (") {
        rest = &rest[at + "CHECK (".len()..];
        let Some((column, after)) = rest.split_once(" IN (") else {
            continue;
        };
        if !column
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        let list = &after[..after.find(')').expect("a closed IN list")];
        found.push((column.to_string(), list_values(list.split(','))));
    }
    found
}

fn list_values<'a>(items: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    items
        .map(|v| v.trim().trim_matches('\'').to_string())
        .collect()
}

fn postgres_schema(env: &Env) -> (Columns, CheckLists) {
    let mut columns = Columns::new();
    for row in pg::rows(
        &env.db,
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, \
                (c.is_nullable = 'NO')::text \
         FROM information_schema.columns c \
         JOIN information_schema.tables t USING (table_schema, table_name) \
         WHERE c.table_schema = 'paytrack' AND t.table_type = 'BASE TABLE'",
    ) {
        let [table, column, data_type, not_null] = &row[..] else {
            panic!("{row:?}")
        };
        columns.insert(
            (table.clone().unwrap(), column.clone().unwrap()),
            (
                postgres_class(data_type.as_deref().unwrap()),
                not_null.as_deref() == Some("true"),
            ),
        );
    }
    // pg_get_constraintdef shows `col IN ('a', 'b')` as
    // `((col = ANY (ARRAY['a'::text, 'b'::text])))` and `col IN (2, 1, -1)`
    // as `((col = ANY (ARRAY[2, 1, '-1'::integer])))`.
    let mut checks = CheckLists::new();
    for row in pg::rows(
        &env.db,
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE contype = 'c' AND connamespace = 'paytrack'::regnamespace",
    ) {
        let table = row[0].clone().unwrap();
        let table = table
            .strip_prefix("paytrack.")
            .unwrap_or(&table)
            .to_string();
        let def = row[1].clone().unwrap();
        let Some((head, array)) = def.split_once(" = ANY (ARRAY[") else {
            continue;
        };
        let column = head.trim_start_matches(['C', 'H', 'E', 'K', ' ', '(']);
        let array = &array[..array.find(']').expect("a closed ARRAY")];
        // Integers come as `(2)::bigint` or `('-1'::integer)::bigint`.
        let values = array.split(',').map(|v| {
            v.trim()
                .trim_start_matches('(')
                .split("::")
                .next()
                .unwrap_or_default()
                .trim_end_matches(')')
        });
        checks.insert((table, column.to_string()), list_values(values));
    }
    (columns, checks)
}

/// The columns of the view `paytrack.bookings` (the bot's table in SQLite's
/// shape), as (("bookings", column), (class, false)).
fn view_columns(env: &Env) -> Columns {
    let rows = pg::rows(
        &env.db,
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = 'paytrack' AND table_name = 'bookings'",
    );
    assert!(!rows.is_empty(), "no view paytrack.bookings to compare");
    rows.into_iter()
        .map(|row| {
            (
                ("bookings".to_string(), row[0].clone().unwrap()),
                (postgres_class(row[1].as_deref().unwrap()), false),
            )
        })
        .collect()
}
