//! `init --adopt` and `uninstall`: living beside the bot's `public.bookings`.
//!
//! Adoption checks the bot's columns and types (read from
//! information_schema, never assumed), then installs counter triggers whose
//! functions are `SECURITY DEFINER` with a fixed `search_path`, so the bot's
//! own INSERTs keep working under its own role without any privilege on the
//! `paytrack` schema. Nothing is added to, dropped from or retyped in the
//! bot's table, and no foreign key points at it.

use anyhow::{Context as _, Result};

use super::PgDb;
use crate::error::PaytrackError;

/// The bot's columns paytrack reads, with the types it accepts for each
/// (`data_type` as information_schema spells it). `required`: adoption
/// refuses without it.
const EXPECTED_COLUMNS: &[(&str, &[&str], bool)] = &[
    ("id", &["integer", "bigint"], true),
    ("user_id", &["bigint", "integer"], true),
    ("username", &["text", "character varying"], true),
    ("first_name", &["text", "character varying"], true),
    ("course_id", &["integer", "smallint", "bigint"], true),
    ("course_stream", &["text", "character varying"], true),
    ("confirmed", &["integer", "smallint", "bigint"], true),
    (
        "created_at",
        &["timestamp with time zone", "timestamp without time zone"],
        true,
    ),
    ("referral_code", &["text", "character varying"], false),
    (
        "discount_percent",
        &["integer", "smallint", "numeric", "bigint"],
        false,
    ),
];

/// The counter trigger functions. They run as its
/// owner (SECURITY DEFINER) with a fixed search_path, so the bot needs no
/// privilege on `paytrack` and cannot redirect it. It is kept trivial: any
/// error inside it would fail the bot's own write.
const INSTALL_FUNCTIONS: &str = "
CREATE OR REPLACE FUNCTION paytrack.count_booking_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = paytrack, pg_catalog AS $fn$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.course_id, OLD.course_stream, OLD.confirmed)
           IS NOT DISTINCT FROM (NEW.course_id, NEW.course_stream, NEW.confirmed) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE paytrack.stream_counters
           SET total = total - 1,
               confirmed = confirmed - (OLD.confirmed IS NOT DISTINCT FROM 2)::int,
               pending = pending - (OLD.confirmed IS NOT DISTINCT FROM 1)::int,
               cancelled = cancelled - (OLD.confirmed IS NOT DISTINCT FROM -1)::int
         WHERE course_id = coalesce(OLD.course_id, 0)
           AND course_stream = coalesce(OLD.course_stream, '');
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO paytrack.stream_counters AS c
               (course_id, course_stream, total, confirmed, pending, cancelled)
        VALUES (coalesce(NEW.course_id, 0), coalesce(NEW.course_stream, ''), 1,
                (NEW.confirmed IS NOT DISTINCT FROM 2)::int,
                (NEW.confirmed IS NOT DISTINCT FROM 1)::int,
                (NEW.confirmed IS NOT DISTINCT FROM -1)::int)
        ON CONFLICT (course_id, course_stream) DO UPDATE
           SET total = c.total + 1,
               confirmed = c.confirmed + excluded.confirmed,
               pending = c.pending + excluded.pending,
               cancelled = c.cancelled + excluded.cancelled;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION paytrack.count_bookings_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = paytrack, pg_catalog AS $fn$
BEGIN
    DELETE FROM paytrack.stream_counters;
    RETURN NULL;
END
$fn$;

";

/// paytrack's triggers on the bot's table, by name. Created only when
/// missing: replacing one needs the table's owner, creating one only TRIGGER.
const TRIGGERS: &[(&str, &str)] = &[
    (
        "paytrack_count",
        "CREATE TRIGGER paytrack_count AFTER INSERT OR UPDATE OR DELETE ON public.bookings
             FOR EACH ROW EXECUTE FUNCTION paytrack.count_booking_change()",
    ),
    (
        "paytrack_count_truncate",
        "CREATE TRIGGER paytrack_count_truncate AFTER TRUNCATE ON public.bookings
             FOR EACH STATEMENT EXECUTE FUNCTION paytrack.count_bookings_truncate()",
    ),
];

/// Counts what is there now. Runs only right after CREATE TRIGGER in the same
/// transaction: the trigger's table lock (SHARE ROW EXCLUSIVE) keeps the bot's
/// writes waiting until commit, so no insert falls between the count and the
/// trigger. Once the triggers exist they keep the counts; a second adoption
/// does not recount (it could not lock the bot out with only TRIGGER).
const BACKFILL_COUNTERS: &str = "
DELETE FROM paytrack.stream_counters;
INSERT INTO paytrack.stream_counters (course_id, course_stream, total, confirmed, pending, cancelled)
SELECT coalesce(course_id, 0), coalesce(course_stream, ''), count(*),
       count(*) FILTER (WHERE confirmed = 2), count(*) FILTER (WHERE confirmed = 1),
       count(*) FILTER (WHERE confirmed = -1)
  FROM public.bookings GROUP BY 1, 2;
";

/// What `init --adopt` found and did.
#[derive(Debug)]
pub struct Adopted {
    pub bookings: i64,
    pub streams: i64,
}

impl PgDb {
    /// Checks the bot's table and installs the counters (one transaction).
    pub fn adopt(&mut self, actor: &str) -> Result<Adopted> {
        self.write(|tx| {
            check_bookings_columns(tx)?;
            tx.batch_execute(INSTALL_FUNCTIONS)
                .map_err(|e| privilege_hint(&e, "installing the counter functions"))?;
            let existing: Vec<String> = tx
                .query(
                    "SELECT tgname::text FROM pg_trigger
                      WHERE tgrelid = 'public.bookings'::regclass AND NOT tgisinternal",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut row_trigger_created = false;
            for (name, sql) in TRIGGERS {
                if !existing.iter().any(|e| e == name) {
                    tx.batch_execute(sql).map_err(|e| {
                        privilege_hint(&e, "installing the counter triggers on public.bookings")
                    })?;
                    row_trigger_created |= *name == "paytrack_count";
                }
            }
            if row_trigger_created {
                tx.batch_execute(BACKFILL_COUNTERS)
                    .context("counting the existing bookings")?;
            }
            tx.execute(
                "INSERT INTO paytrack.adoption (adopted_at, adopted_by) VALUES (now(), $1)
                 ON CONFLICT (singleton) DO UPDATE SET adopted_at = now(), adopted_by = excluded.adopted_by",
                &[&actor],
            )?;
            let row = tx.query_one(
                "SELECT coalesce(sum(total), 0)::bigint, count(*) FILTER (WHERE total <> 0)
                   FROM paytrack.stream_counters",
                &[],
            )?;
            Ok(Adopted {
                bookings: row.get(0),
                streams: row.get(1),
            })
        })
    }

    /// Drops paytrack's triggers from the bot's table and the `paytrack`
    /// schema; the bot's tables and rows are untouched. Returns false when
    /// there was nothing to remove.
    pub fn uninstall(&mut self) -> Result<bool> {
        self.write(|tx| {
            let schema: bool = tx
                .query_one("SELECT to_regnamespace('paytrack') IS NOT NULL", &[])?
                .get(0);
            if schema {
                // Dropping a trigger needs the bot table's owner; dropping
                // paytrack's own functions with CASCADE takes their triggers
                // along with only paytrack's ownership. First make sure the
                // only things that depend on them are paytrack's triggers.
                let foreign: Vec<String> = tx
                    .query(
                        "SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
                           FROM pg_depend d
                           JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid
                           JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'paytrack'
                           LEFT JOIN pg_trigger t ON d.classid = 'pg_trigger'::regclass AND t.oid = d.objid
                          WHERE d.deptype = 'n'
                            AND (t.oid IS NULL OR t.tgname NOT IN ('paytrack_count', 'paytrack_count_truncate'))",
                        &[],
                    )?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                if !foreign.is_empty() {
                    return Err(PaytrackError::Database(format!(
                        "something outside paytrack uses its functions ({}); nothing was changed",
                        foreign.join(", ")
                    ))
                    .into());
                }
                // RESTRICT for the rest: if anything else depends on paytrack's
                // tables, refuse rather than drop someone else's view.
                tx.batch_execute(
                    "DROP FUNCTION IF EXISTS paytrack.count_booking_change() CASCADE;
                     DROP FUNCTION IF EXISTS paytrack.count_bookings_truncate() CASCADE;
                     DO $drop$
                     DECLARE tables text;
                     BEGIN
                         -- Every table of paytrack's, whatever later migrations
                         -- added, in one statement (they may refer to each other).
                         SELECT string_agg(format('paytrack.%I', tablename), ', ') INTO tables
                           FROM pg_tables WHERE schemaname = 'paytrack';
                         IF tables IS NOT NULL THEN
                             EXECUTE 'DROP TABLE ' || tables || ' RESTRICT';
                         END IF;
                     END
                     $drop$;
                     DROP SCHEMA paytrack RESTRICT;",
                )
                .map_err(|e| privilege_hint(&e, "dropping the paytrack schema"))?;
            }
            Ok(schema)
        })
    }
}

/// Refuses adoption when a column paytrack reads is missing or has a type it
/// does not handle; names every problem at once.
fn check_bookings_columns(tx: &mut postgres::Transaction<'_>) -> Result<()> {
    let rows = tx.query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name = 'bookings'",
        &[],
    )?;
    if rows.is_empty() {
        return Err(PaytrackError::Database(
            "there is no table public.bookings here (or this role cannot see it); nothing was changed".into(),
        )
        .into());
    }
    let found: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut problems = Vec::new();
    for (name, accepted, required) in EXPECTED_COLUMNS {
        match found.iter().find(|(n, _)| n == name) {
            None if *required => problems.push(format!("{name} is missing")),
            Some((_, ty)) if !accepted.contains(&ty.as_str()) => {
                problems.push(format!(
                    "{name} is {ty}, expected {}",
                    accepted.join(" or ")
                ));
            }
            // Absent but optional, or present with a type paytrack reads.
            None | Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PaytrackError::Database(format!(
            "public.bookings does not look like the bot's table: {}; nothing was changed",
            problems.join("; ")
        ))
        .into())
    }
}

/// Adds what to grant when the server refused for lack of privilege (exit 8).
fn privilege_hint(err: &postgres::Error, doing: &str) -> anyhow::Error {
    if err
        .code()
        .is_some_and(|c| *c == postgres::error::SqlState::DEPENDENT_OBJECTS_STILL_EXIST)
    {
        return PaytrackError::Database(format!(
            "{doing}: {}; remove those first; nothing was changed",
            super::describe(err)
        ))
        .into();
    }
    let denied = err
        .code()
        .is_some_and(|c| *c == postgres::error::SqlState::INSUFFICIENT_PRIVILEGE);
    if denied {
        PaytrackError::Database(format!(
            "{doing}: {} (adoption needs TRIGGER on public.bookings and CREATE on the database; see README \"Running against PostgreSQL\"); nothing was changed",
            super::describe(err)
        ))
        .into()
    } else {
        super::lock_error(err).context(doing.to_string())
    }
}
