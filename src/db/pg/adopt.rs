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

/// paytrack's triggers on the bot's table, by name. Created only when
/// missing: replacing one needs the table's owner, creating one only TRIGGER.
/// The counters move once per statement (transition tables; see
/// schema.pg.sql migration 2 for why not once per row).
const TRIGGERS: &[(&str, &str)] = &[
    (
        "paytrack_count_insert",
        "CREATE TRIGGER paytrack_count_insert AFTER INSERT ON public.bookings
             REFERENCING NEW TABLE AS new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION paytrack.count_bookings_inserted()",
    ),
    (
        "paytrack_count_update",
        "CREATE TRIGGER paytrack_count_update AFTER UPDATE ON public.bookings
             REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION paytrack.count_bookings_updated()",
    ),
    (
        "paytrack_count_delete",
        "CREATE TRIGGER paytrack_count_delete AFTER DELETE ON public.bookings
             REFERENCING OLD TABLE AS old_rows
             FOR EACH STATEMENT EXECUTE FUNCTION paytrack.count_bookings_deleted()",
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
DELETE FROM paytrack.stream_counter_deltas;
INSERT INTO paytrack.stream_counter_deltas (course_id, course_stream, confirmed, bookings, pct_sum)
SELECT coalesce(course_id, 0), coalesce(course_stream, ''), coalesce(confirmed, 0), count(*),
       sum(100 - coalesce(discount_percent, 0))
  FROM public.bookings GROUP BY 1, 2, 3;
";

/// The bot's table as paytrack creates it on a database that has none yet
/// (`init` on an empty database): the shape of the old system's table.
const CREATE_BOT_TABLE: &str = "
CREATE TABLE public.bookings (
    id               serial PRIMARY KEY,
    user_id          bigint NOT NULL,
    username         text,
    first_name       text,
    course_id        integer NOT NULL,
    course_stream    text,
    confirmed        integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    referral_code    text,
    discount_percent integer
);
CREATE INDEX bookings_by_status ON public.bookings (confirmed, id);
CREATE INDEX bookings_by_stream ON public.bookings (course_id, course_stream, id);
CREATE INDEX bookings_by_user   ON public.bookings (user_id, id);
CREATE INDEX bookings_by_created ON public.bookings (created_at);
";

/// What the repository sees as `bookings` (search_path puts `paytrack`
/// first): the bot's row joined with paytrack's per-booking state, in the
/// columns of SQLite's table. `{referral}` and `{discount}` are the bot's
/// columns or NULL where its table has none.
const BOOKINGS_VIEW: &str = "
CREATE OR REPLACE VIEW paytrack.bookings AS
SELECT b.id, b.user_id, b.username, b.first_name, b.course_id, b.course_stream, b.confirmed,
       b.created_at::timestamptz AS created_at, {referral} AS referral_code,
       {discount} AS discount_percent,
       coalesce(s.updated_at, to_char(b.created_at::timestamptz AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) AS updated_at,
       s.confirmed_at, coalesce(s.search_text, '') AS search_text, s.erased_at
  FROM public.bookings b LEFT JOIN paytrack.booking_state s ON s.booking_id = b.id;
";

/// Writes through the view: the bot's columns go to its table, paytrack's to
/// `booking_state`. An UPDATE changes only the bot's columns paytrack changed
/// (a name the bot rewrote meanwhile stays), and only while the status is
/// still the one paytrack read (compare-and-set against the bot's own
/// writes: otherwise the row counts as not updated). An INSERT with an
/// explicit id moves the bot's id sequence past it, so the bot's next
/// booking does not collide.
///
/// Both functions run as the caller (the login role), never as the owner:
/// they write the bot's table, whose own triggers then run as that role,
/// which can append to the audit log but not change it (issue 26; see
/// `roles.rs`). Their `search_path = pg_catalog, pg_temp` and schema-qualified
/// names keep anything the bot creates in `public` (a function such as
/// `pg_get_serial_sequence(text, text)`, an operator such as `=` on integers)
/// from standing in for PostgreSQL's: with pg_catalog the only schema
/// searched for functions and operators, nothing can shadow one.
const BOOKINGS_WRITE: &str = "
CREATE OR REPLACE FUNCTION paytrack.bookings_write() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    seq text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM public.bookings WHERE id = OLD.id;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        DELETE FROM paytrack.booking_state WHERE booking_id = OLD.id;
        RETURN OLD;
    ELSIF TG_OP = 'INSERT' THEN
        IF NEW.id IS NULL THEN
            INSERT INTO public.bookings (user_id, username, first_name, course_id, course_stream,
                                         confirmed, created_at{bot_extra_columns})
            VALUES (NEW.user_id, NEW.username, NEW.first_name, NEW.course_id, NEW.course_stream,
                    coalesce(NEW.confirmed, 1), coalesce(NEW.created_at, pg_catalog.now()){new_extra_values})
            RETURNING id INTO NEW.id;
        ELSE
            INSERT INTO public.bookings (id, user_id, username, first_name, course_id, course_stream,
                                         confirmed, created_at{bot_extra_columns})
            VALUES (NEW.id, NEW.user_id, NEW.username, NEW.first_name, NEW.course_id, NEW.course_stream,
                    coalesce(NEW.confirmed, 1), coalesce(NEW.created_at, pg_catalog.now()){new_extra_values});
            seq := pg_catalog.pg_get_serial_sequence('public.bookings', 'id');
            IF seq IS NOT NULL
               AND coalesce(pg_catalog.pg_sequence_last_value(CAST(seq AS pg_catalog.regclass)), 0) < NEW.id THEN
                PERFORM pg_catalog.setval(CAST(seq AS pg_catalog.regclass), NEW.id);
            END IF;
        END IF;
    ELSE
        UPDATE public.bookings SET
            user_id = CASE WHEN NEW.user_id IS DISTINCT FROM OLD.user_id THEN NEW.user_id ELSE user_id END,
            username = CASE WHEN NEW.username IS DISTINCT FROM OLD.username THEN NEW.username ELSE username END,
            first_name = CASE WHEN NEW.first_name IS DISTINCT FROM OLD.first_name THEN NEW.first_name ELSE first_name END,
            course_id = CASE WHEN NEW.course_id IS DISTINCT FROM OLD.course_id THEN NEW.course_id ELSE course_id END,
            course_stream = CASE WHEN NEW.course_stream IS DISTINCT FROM OLD.course_stream THEN NEW.course_stream ELSE course_stream END,
            confirmed = NEW.confirmed{bot_extra_updates}
         WHERE id = OLD.id AND confirmed IS NOT DISTINCT FROM OLD.confirmed
           -- Each column this write changes must still hold what the writer
           -- read (OLD): a row the bot changed since is a lost race, reported
           -- by the caller, never overwritten (issue 26).
           AND (NEW.user_id IS NOT DISTINCT FROM OLD.user_id OR user_id IS NOT DISTINCT FROM OLD.user_id)
           AND (NEW.username IS NOT DISTINCT FROM OLD.username OR username IS NOT DISTINCT FROM OLD.username)
           AND (NEW.first_name IS NOT DISTINCT FROM OLD.first_name OR first_name IS NOT DISTINCT FROM OLD.first_name)
           AND (NEW.course_id IS NOT DISTINCT FROM OLD.course_id OR course_id IS NOT DISTINCT FROM OLD.course_id)
           AND (NEW.course_stream IS NOT DISTINCT FROM OLD.course_stream
                OR course_stream IS NOT DISTINCT FROM OLD.course_stream){bot_extra_checks};
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO paytrack.booking_state (booking_id, updated_at, confirmed_at, search_text, erased_at)
    VALUES (NEW.id, NEW.updated_at, NEW.confirmed_at, coalesce(NEW.search_text, ''), NEW.erased_at)
    ON CONFLICT (booking_id) DO UPDATE
       SET updated_at = excluded.updated_at, confirmed_at = excluded.confirmed_at,
           search_text = excluded.search_text, erased_at = excluded.erased_at;
    RETURN NEW;
END
$fn$;
DROP TRIGGER IF EXISTS bookings_write ON paytrack.bookings;

-- New bookings staged by COPY (src/db/pg/bulk.rs), written set-based.
CREATE OR REPLACE FUNCTION paytrack.insert_staged_bookings() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    seq text;
    top bigint;
BEGIN
    INSERT INTO public.bookings (id, user_id, username, first_name, course_id, course_stream,
                                 confirmed, created_at{bot_extra_columns})
    SELECT id, user_id, username, first_name, course_id, course_stream, confirmed, created_at{staged_extra_values}
      FROM pg_temp.paytrack_staged_bookings ORDER BY id;
    INSERT INTO paytrack.booking_state (booking_id, updated_at, confirmed_at, search_text)
    SELECT id, updated_at, confirmed_at, search_text FROM pg_temp.paytrack_staged_bookings
    ON CONFLICT (booking_id) DO UPDATE
       SET updated_at = excluded.updated_at, confirmed_at = excluded.confirmed_at,
           search_text = excluded.search_text, erased_at = NULL;
    seq := pg_catalog.pg_get_serial_sequence('public.bookings', 'id');
    SELECT max(id) INTO top FROM pg_temp.paytrack_staged_bookings;
    IF seq IS NOT NULL AND top IS NOT NULL
       AND coalesce(pg_catalog.pg_sequence_last_value(CAST(seq AS pg_catalog.regclass)), 0) < top THEN
        PERFORM pg_catalog.setval(CAST(seq AS pg_catalog.regclass), top);
    END IF;
    DELETE FROM pg_temp.paytrack_staged_bookings;
END
$fn$;
CREATE TRIGGER bookings_write INSTEAD OF INSERT OR UPDATE OR DELETE ON paytrack.bookings
    FOR EACH ROW EXECUTE FUNCTION paytrack.bookings_write();
";

/// The indexes paytrack's filters walk on the bot's table (keyset pages by
/// id within a status, stream or user; date ranges). Created only by the
/// table's owner: without ownership, adoption names them for the owner.
const BOT_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS paytrack_bookings_by_status ON public.bookings (confirmed, id)",
    "CREATE INDEX IF NOT EXISTS paytrack_bookings_by_stream ON public.bookings (course_id, course_stream, id)",
    "CREATE INDEX IF NOT EXISTS paytrack_bookings_by_user ON public.bookings (user_id, id)",
    "CREATE INDEX IF NOT EXISTS paytrack_bookings_by_created ON public.bookings (created_at)",
];

/// The trigram index `--search` looks the bot's names up in (schema.pg.sql,
/// migration 13), over the expression every search compares
/// (`db::bookings::pg_names_fold`), with pg_trgm's operator class from the
/// schema it was installed in. GIN's pending list keeps the bot's own
/// inserts cheap.
fn search_index_sql(trgm_schema: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS paytrack_bookings_search ON public.bookings \
         USING gin (({}) \"{}\".gin_trgm_ops)",
        crate::db::bookings::pg_names_fold(""),
        trgm_schema.replace('"', "\"\"")
    )
}

/// The schema pg_trgm is installed in here, if it is (migration 13 installs
/// it in `paytrack` where it may).
fn trgm_schema(tx: &mut postgres::Transaction<'_>) -> Result<Option<String>> {
    Ok(tx
        .query_opt(
            "SELECT n.nspname::text FROM pg_catalog.pg_extension AS e
               JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
              WHERE e.extname = 'pg_trgm'",
            &[],
        )?
        .map(|r| r.get(0)))
}

/// What `init --adopt` found and did.
#[derive(Debug)]
pub struct Adopted {
    pub bookings: i64,
    pub streams: i64,
    /// The index statements this role could not run (not the table's owner).
    pub indexes_left: Vec<String>,
}

impl PgDb {
    /// Checks the bot's table and installs the counters (one transaction).
    /// `counters`: install the counter triggers (else `stats` counts live).
    pub fn adopt(&mut self, actor: &str, counters: bool) -> Result<Adopted> {
        self.write(|tx| {
            check_bookings_columns(tx)?;
            install_view(tx)?;
            refuse_impostor_triggers(tx)?;
            let existing: Vec<String> = tx
                .query(
                    "SELECT tgname::text FROM pg_trigger
                      WHERE tgrelid = 'public.bookings'::regclass AND NOT tgisinternal",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            // A database adopted before keeps its row-level `paytrack_count`
            // (it counts through the same rules); adding the statement-level
            // ones beside it would count every change twice.
            let row_level = existing.iter().any(|e| e == "paytrack_count");
            let mut counting_trigger_created = false;
            for (name, sql) in TRIGGERS {
                let present = existing.iter().any(|e| e == name);
                let counted_by_row_trigger = row_level && *name != "paytrack_count_truncate";
                if !present && !counted_by_row_trigger && counters {
                    tx.batch_execute(sql).map_err(|e| {
                        privilege_hint(&e, "installing the counter triggers on public.bookings")
                    })?;
                    counting_trigger_created |= *name == "paytrack_count_insert";
                }
            }
            if counting_trigger_created {
                tx.batch_execute(BACKFILL_COUNTERS)
                    .context("counting the existing bookings")?;
            }
            let indexes_left = create_bot_indexes(tx)?;
            tx.execute(
                "INSERT INTO paytrack.adoption (adopted_at, adopted_by, counters)
                 VALUES (now(), $1,
                         EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'public.bookings'::regclass
                                    AND tgname IN ('paytrack_count', 'paytrack_count_insert')))
                 ON CONFLICT (singleton) DO UPDATE
                    SET adopted_at = now(), adopted_by = excluded.adopted_by, counters = excluded.counters",
                &[&actor],
            )?;
            let row = tx.query_one(
                "SELECT coalesce(sum(bookings), 0)::bigint,
                        count(DISTINCT (course_id, course_stream)) FILTER (WHERE bookings <> 0)
                   FROM paytrack.stream_counters",
                &[],
            )?;
            Ok(Adopted {
                bookings: row.get(0),
                streams: row.get(1),
                indexes_left,
            })
        })
    }

    /// Whether pg_trgm is here, so `--search` goes through trigram indexes
    /// (schema.pg.sql, migration 13); without it searches read every row.
    pub fn has_trigram_search(&mut self) -> Result<bool> {
        self.write(|tx| Ok(trgm_schema(tx)?.is_some()))
    }

    /// Re-installs the view and its functions where they exist, so `init`
    /// after an upgrade brings them up to this paytrack's version.
    pub fn refresh_view(&mut self) -> Result<()> {
        self.write(|tx| {
            let installed: bool = tx
                .query_one("SELECT to_regclass('paytrack.bookings') IS NOT NULL", &[])?
                .get(0);
            if installed {
                install_view(tx)?;
            }
            Ok(())
        })
    }

    /// On a database without the bot's table (`init` on an empty
    /// database): creates it in the old system's shape, with the view and the
    /// counters, so the bot can be pointed at it. Returns false (and does
    /// nothing) when `public.bookings` exists: that table is the bot's, and
    /// only `init --adopt` takes it on.
    pub fn create_bookings_table(&mut self) -> Result<bool> {
        self.write(|tx| {
            let exists: bool = tx
                .query_one("SELECT to_regclass('public.bookings') IS NOT NULL", &[])?
                .get(0);
            if exists {
                return Ok(false);
            }
            tx.batch_execute(CREATE_BOT_TABLE)
                .map_err(|e| privilege_hint(&e, "creating public.bookings"))?;
            if let Some(schema) = trgm_schema(tx)? {
                tx.batch_execute(&search_index_sql(&schema))?;
            }
            install_view(tx)?;
            for (_, sql) in TRIGGERS {
                tx.batch_execute(sql)?;
            }
            Ok(true)
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
                // pg_trgm where migration 13 installed it goes first, with the
                // search indexes over its operator class: its members use
                // paytrack's schema, not paytrack's functions.
                tx.batch_execute(
                    "DO $drop$ BEGIN
                         IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension
                                     WHERE extname = 'pg_trgm'
                                       AND extnamespace = CAST('paytrack' AS pg_catalog.regnamespace)) THEN
                             DROP EXTENSION pg_trgm CASCADE;
                         END IF;
                     END $drop$;",
                )
                .map_err(|e| privilege_hint(&e, "dropping pg_trgm from the paytrack schema"))?;
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
                           LEFT JOIN pg_class c ON c.oid = t.tgrelid
                          WHERE d.deptype = 'n'
                            AND (t.oid IS NULL OR (t.tgname NOT IN ('paytrack_count', 'paytrack_count_insert', 'paytrack_count_update',
                                                                   'paytrack_count_delete', 'paytrack_count_truncate')
                                                   AND c.relnamespace <> 'paytrack'::regnamespace))",
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
                     DROP FUNCTION IF EXISTS paytrack.count_bookings_inserted() CASCADE;
                     DROP FUNCTION IF EXISTS paytrack.count_bookings_updated() CASCADE;
                     DROP FUNCTION IF EXISTS paytrack.count_bookings_deleted() CASCADE;
                     DROP FUNCTION IF EXISTS paytrack.count_bookings_truncate() CASCADE;
                     DROP VIEW IF EXISTS paytrack.bookings, paytrack.stream_counters RESTRICT;
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
                         -- Then paytrack's functions, aggregates and collations.
                         SELECT string_agg(format('%s %s', CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END,
                                                  p.oid::regprocedure), '; ') INTO tables
                           FROM pg_proc p WHERE p.pronamespace = 'paytrack'::regnamespace;
                         IF tables IS NOT NULL THEN
                             EXECUTE 'DROP ' || replace(tables, '; ', ' RESTRICT; DROP ') || ' RESTRICT';
                         END IF;
                         DROP COLLATION IF EXISTS paytrack.nocase RESTRICT;
                     END
                     $drop$;
                     DROP SCHEMA paytrack RESTRICT;",
                )
                .map_err(|e| privilege_hint(&e, "dropping the paytrack schema"))?;
                drop_bot_indexes(tx)?;
            }
            Ok(schema)
        })
    }
}

/// Refuses adoption when a trigger on the bot's table carries one of
/// paytrack's names but runs something else: adoption would take it for its
/// own and never install the real one, so the counters would count nothing
/// (or whatever the other function likes).
fn refuse_impostor_triggers(tx: &mut postgres::Transaction<'_>) -> Result<()> {
    let impostors: Vec<String> = tx
        .query(
            "SELECT format('%I (runs %s)', t.tgname, CAST(t.tgfoid AS pg_catalog.regprocedure))
               FROM pg_catalog.pg_trigger AS t
               JOIN (VALUES ('paytrack_count', 'paytrack.count_booking_change()'),
                            ('paytrack_count_insert', 'paytrack.count_bookings_inserted()'),
                            ('paytrack_count_update', 'paytrack.count_bookings_updated()'),
                            ('paytrack_count_delete', 'paytrack.count_bookings_deleted()'),
                            ('paytrack_count_truncate', 'paytrack.count_bookings_truncate()'))
                    AS ours (name, function) ON ours.name = t.tgname
              WHERE t.tgrelid = CAST('public.bookings' AS pg_catalog.regclass)
                AND t.tgfoid IS DISTINCT FROM pg_catalog.to_regprocedure(ours.function)
              ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if impostors.is_empty() {
        return Ok(());
    }
    Err(PaytrackError::Database(format!(
        "public.bookings has a trigger named like paytrack's that is not paytrack's: {}; \
         its owner must drop it first; nothing was changed",
        impostors.join(", ")
    ))
    .into())
}

/// Creates `BOT_INDEXES`, each in a savepoint; returns those refused for
/// lack of ownership (any other error fails the adoption).
fn create_bot_indexes(tx: &mut postgres::Transaction<'_>) -> Result<Vec<String>> {
    let mut indexes: Vec<String> = BOT_INDEXES.iter().map(|s| (*s).to_string()).collect();
    if let Some(schema) = trgm_schema(tx)? {
        indexes.push(search_index_sql(&schema));
    }
    // Not the owner: nothing is tried, so the school's server log gets no
    // "must be owner of table bookings" ERROR per index on every adoption
    // (issue 26: paytrack's own noise in that log).
    if !owns_bot_table(tx)? {
        return Ok(indexes);
    }
    let mut left = Vec::new();
    for sql in indexes {
        tx.batch_execute("SAVEPOINT paytrack_index")?;
        match tx.batch_execute(&sql) {
            Ok(()) => tx.batch_execute("RELEASE SAVEPOINT paytrack_index")?,
            Err(e) if e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT paytrack_index")?;
                left.push(sql);
            }
            Err(e) => return Err(privilege_hint(&e, "creating an index on public.bookings")),
        }
    }
    Ok(left)
}

/// Whether this role owns (or is a member of the owner of) the bot's table:
/// only its owner may index it.
fn owns_bot_table(tx: &mut postgres::Transaction<'_>) -> Result<bool> {
    Ok(tx
        .query_one(
            "SELECT coalesce((SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE')
                                FROM pg_catalog.pg_class AS c
                               WHERE c.oid = pg_catalog.to_regclass('public.bookings')), false)",
            &[],
        )?
        .get(0))
}

/// Drops the indexes `create_bot_indexes` made, where this role may (the
/// table's owner); otherwise they stay: harmless to the bot, and named
/// `paytrack_…` for its owner to drop.
fn drop_bot_indexes(tx: &mut postgres::Transaction<'_>) -> Result<()> {
    if !owns_bot_table(tx)? {
        return Ok(());
    }
    let names: Vec<String> = tx
        .query(
            "SELECT indexname::text FROM pg_indexes
              WHERE schemaname = 'public' AND tablename = 'bookings'
                AND indexname IN ('paytrack_bookings_by_status', 'paytrack_bookings_by_stream',
                                  'paytrack_bookings_by_user', 'paytrack_bookings_by_created',
                                  'paytrack_bookings_search')",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in names {
        tx.batch_execute("SAVEPOINT paytrack_index")?;
        // The names are our own constants (matched above), not input.
        match tx.batch_execute(&format!("DROP INDEX public.{name}")) {
            Ok(()) => tx.batch_execute("RELEASE SAVEPOINT paytrack_index")?,
            Err(e) if e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT paytrack_index")?;
            }
            Err(e) => {
                return Err(privilege_hint(
                    &e,
                    "dropping paytrack's index on public.bookings",
                ))
            }
        }
    }
    Ok(())
}

/// Installs (or refreshes) the `paytrack.bookings` view and its write
/// trigger over the bot's table, with NULL for the optional columns the
/// bot's table lacks.
fn install_view(tx: &mut postgres::Transaction<'_>) -> Result<()> {
    let present: Vec<String> = tx
        .query(
            "SELECT column_name::text FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name = 'bookings'",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let has = |c: &str| present.iter().any(|p| p == c);
    let mut extra_columns = String::new();
    let mut extra_values = String::new();
    let mut extra_updates = String::new();
    let mut staged_extra = String::new();
    let mut extra_checks = String::new();
    for column in ["referral_code", "discount_percent"] {
        if has(column) {
            extra_columns += &format!(", {column}");
            extra_values += &format!(", NEW.{column}");
            staged_extra += &format!(", {column}");
            extra_updates += &format!(
                ",\n            {column} = CASE WHEN NEW.{column} IS DISTINCT FROM OLD.{column} THEN NEW.{column} ELSE {column} END"
            );
            extra_checks += &format!(
                "\n           AND (NEW.{column} IS NOT DISTINCT FROM OLD.{column} OR {column} IS NOT DISTINCT FROM OLD.{column})"
            );
        }
    }
    let view = BOOKINGS_VIEW
        .replace(
            "{referral}",
            if has("referral_code") {
                "b.referral_code"
            } else {
                "NULL::text"
            },
        )
        .replace(
            "{discount}",
            if has("discount_percent") {
                "b.discount_percent"
            } else {
                "NULL::integer"
            },
        );
    let write = BOOKINGS_WRITE
        .replace("{bot_extra_columns}", &extra_columns)
        .replace("{new_extra_values}", &extra_values)
        .replace("{bot_extra_updates}", &extra_updates)
        .replace("{bot_extra_checks}", &extra_checks)
        .replace("{staged_extra_values}", &staged_extra);
    tx.batch_execute(&view)
        .map_err(|e| privilege_hint(&e, "creating the view paytrack.bookings"))?;
    tx.batch_execute(&write)
        .map_err(|e| privilege_hint(&e, "creating the write trigger of paytrack.bookings"))?;
    Ok(())
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
