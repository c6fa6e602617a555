-- paytrack's own tables on PostgreSQL (issue 18), in the `paytrack` schema,
-- beside the bot's `public.bookings`, which paytrack never alters.
--
-- Numbered, append-only migrations, like schema.sql: a shipped section is
-- never edited; a change is a new `-- migration: N` at the end. `paytrack
-- init` applies the pending ones in one transaction under an advisory lock,
-- and records the version in paytrack.schema_version. The counter triggers on
-- the bot's table are not here: `init --adopt` installs them (src/db/pg/adopt.rs).
--
-- One history with schema.sql (issue 27): migrations 1–4 here reached the
-- shape of schema.sql's 1–9; from 10 on, every number is a section in both
-- files (comments only where one engine needs nothing), and a database at 4
-- goes straight to 10. A new migration takes the next number in both files.

-- migration: 1
-- Per-stream counters, kept by the triggers `init --adopt` installs on
-- public.bookings. A NULL course or stream is counted under 0 / ''.
CREATE TABLE paytrack.stream_counters (
    course_id     integer NOT NULL,
    course_stream text    NOT NULL,
    total         bigint  NOT NULL DEFAULT 0,
    confirmed     bigint  NOT NULL DEFAULT 0,
    pending       bigint  NOT NULL DEFAULT 0,
    cancelled     bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (course_id, course_stream)
);

-- paytrack's per-booking state, kept out of the bot's table (no added column,
-- and no foreign key the bot's own DELETE could trip on).
CREATE TABLE paytrack.booking_state (
    booking_id   bigint PRIMARY KEY,
    updated_at   timestamptz,
    confirmed_at timestamptz
);

-- What `init --adopt` installed, so `uninstall` and the commands know.
CREATE TABLE paytrack.adoption (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    adopted_at   timestamptz NOT NULL,
    adopted_by   text NOT NULL
);

-- migration: 2
-- Every command on PostgreSQL (issue 18): paytrack's tables as schema.sql
-- has them after its migration 7, in the same shapes and column names, so
-- the repository's SQL runs on both. Integers are bigint, times paytrack
-- writes are storage text (`domain::time::to_storage`, fixed width, so they
-- sort as they compare), JSON is text. The bot's table is reached through
-- the view `paytrack.bookings` below; names resolve in `paytrack` first
-- (each session sets search_path = paytrack, public).

-- SQLite's functions and collation the shared SQL uses, in PostgreSQL.
CREATE COLLATION paytrack.nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE FUNCTION paytrack.instr(haystack text, needle text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT strpos(haystack, needle)';
-- json_extract(doc, '$.a.b') for paytrack's JSON text columns, as text.
CREATE FUNCTION paytrack.json_extract(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$SELECT doc::jsonb #>> string_to_array(substr(path, 3), '.')$$;
-- json_set(doc, '$.a', value, '$.b', value) with text values (NULL: JSON null).
CREATE FUNCTION paytrack.json_set(doc text, path1 text, value1 text, path2 text, value2 text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$SELECT jsonb_set(jsonb_set(doc::jsonb, string_to_array(substr(path1, 3), '.'),
                                    coalesce(to_jsonb(value1), 'null'::jsonb)),
                          string_to_array(substr(path2, 3), '.'),
                          coalesce(to_jsonb(value2), 'null'::jsonb))::text$$;
-- TOTAL(): SQLite's sum that is 0.0 over no rows and never overflows.
CREATE AGGREGATE paytrack.total(double precision) (
    sfunc = float8pl, stype = double precision, initcond = '0'
);

-- The counters in SQLite's shape (per course, stream and status, with the
-- discount sum for revenue), replacing migration 1's per-stream columns, and
-- kept as deltas: a trigger on the bot's table only ever INSERTs a row here,
-- so the bot never waits for (or deadlocks with) a paytrack transaction that
-- moved the same counters; updating shared counter rows did exactly that
-- (a bot UPDATE during a bulk cancel died with 40P01). Every paytrack write
-- folds the deltas back to one row per key before it commits
-- (paytrack.fold_counters); `stream_counters` is the sum, as a view.
DROP TABLE paytrack.stream_counters;
CREATE TABLE paytrack.stream_counter_deltas (
    course_id     bigint NOT NULL,
    course_stream text   NOT NULL,
    confirmed     bigint NOT NULL,
    bookings      bigint NOT NULL,
    pct_sum       bigint NOT NULL
);
CREATE INDEX stream_counter_deltas_by_key
    ON paytrack.stream_counter_deltas (course_id, course_stream, confirmed);
CREATE VIEW paytrack.stream_counters AS
SELECT course_id, course_stream, confirmed, sum(bookings)::bigint AS bookings,
       sum(pct_sum)::bigint AS pct_sum
  FROM paytrack.stream_counter_deltas GROUP BY course_id, course_stream, confirmed;

-- One row per key again, for the keys that have more than one (those a
-- write or the bot touched since the last fold): an index-only look at the
-- keys, then a rewrite of only those. Folding every key cost 5 ms a write
-- with 1,140 counters. Only paytrack's writers run it (under the advisory
-- lock); the rows it deletes are committed ones no trigger touches again.
CREATE FUNCTION paytrack.fold_counters() RETURNS void LANGUAGE sql AS $fn$
    WITH touched AS (
        SELECT course_id, course_stream, confirmed FROM paytrack.stream_counter_deltas
         GROUP BY 1, 2, 3 HAVING count(*) > 1
    ), gone AS (
        DELETE FROM paytrack.stream_counter_deltas AS d
         USING touched AS t
         WHERE (d.course_id, d.course_stream, d.confirmed) = (t.course_id, t.course_stream, t.confirmed)
        RETURNING d.course_id, d.course_stream, d.confirmed, d.bookings, d.pct_sum
    )
    INSERT INTO paytrack.stream_counter_deltas (course_id, course_stream, confirmed, bookings, pct_sum)
    SELECT course_id, course_stream, confirmed, sum(bookings), sum(pct_sum)
      FROM gone GROUP BY 1, 2, 3
    HAVING sum(bookings) <> 0 OR sum(pct_sum) <> 0;
$fn$;

-- paytrack's per-booking state: times as storage text like the rest, the
-- search fold and the erasure mark.
ALTER TABLE paytrack.booking_state
    ALTER COLUMN updated_at TYPE text USING to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    ALTER COLUMN confirmed_at TYPE text USING to_char(confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    ADD COLUMN search_text text NOT NULL DEFAULT '',
    ADD COLUMN erased_at text;

-- Whether the counter triggers are on the bot's table (`init --adopt
-- --no-counters` declines them; `stats` then counts live).
ALTER TABLE paytrack.adoption ADD COLUMN counters boolean NOT NULL DEFAULT true;

CREATE TABLE paytrack.courses (
    id               bigint PRIMARY KEY,
    name             text NOT NULL,
    message_template text,
    created_at       text NOT NULL,
    updated_at       text NOT NULL
);

CREATE TABLE paytrack.streams (
    course_id   bigint NOT NULL REFERENCES paytrack.courses(id),
    code        text NOT NULL CHECK (code <> ''),
    name        text,
    price_minor bigint CHECK (price_minor IS NULL OR price_minor >= 0),
    currency    text,
    capacity    bigint CHECK (capacity IS NULL OR capacity >= 0),
    created_at  text NOT NULL,
    updated_at  text NOT NULL,
    chat_link   text,
    PRIMARY KEY (course_id, code)
);

CREATE TABLE paytrack.payments (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    provider        text NOT NULL,
    external_id     text NOT NULL,
    booking_id      bigint,
    amount_minor    bigint NOT NULL,
    currency        text NOT NULL,
    paid_at         text,
    description     text,
    outcome         text NOT NULL CHECK (outcome IN ('confirmed', 'already_confirmed', 'partial',
                        'overpaid', 'cancelled', 'unknown_booking', 'unmatched', 'recorded',
                        'currency_mismatch', 'not_positive', 'conflict', 'ambiguous', 'refund')),
    imported_at     text NOT NULL,
    reference_id    bigint,
    resolved_at     text,
    resolved_by     text,
    resolution_note text
);
CREATE UNIQUE INDEX payments_by_external ON paytrack.payments (provider, external_id)
    WHERE outcome <> 'conflict';
CREATE INDEX payments_conflicts ON paytrack.payments (provider, external_id) WHERE outcome = 'conflict';
CREATE INDEX payments_by_booking ON paytrack.payments (booking_id);
CREATE INDEX payments_by_outcome ON paytrack.payments (outcome, id);

CREATE TABLE paytrack.payment_providers (
    provider   text PRIMARY KEY,
    column_map text NOT NULL DEFAULT '{}',
    encoding   text,
    updated_at text NOT NULL
);

-- The audit log: append-only and hash-chained, as on SQLite. The triggers
-- refuse UPDATE, DELETE and TRUNCATE; `init` also revokes those privileges
-- from PUBLIC. The table's owner can still disable triggers, so the hash
-- chain (`audit verify`) stays the proof.
CREATE TABLE paytrack.audit_log (
    id           bigint PRIMARY KEY,
    at           text NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    booking_id   bigint,
    old_value    text,
    new_value    text,
    reason       text,
    details      text NOT NULL DEFAULT '{}',
    prev_hash    text NOT NULL,
    hash         text NOT NULL,
    format       bigint NOT NULL DEFAULT 1,
    operation_id text
);
CREATE INDEX audit_by_booking ON paytrack.audit_log (booking_id, id);
CREATE INDEX audit_by_action  ON paytrack.audit_log (action, id);
CREATE INDEX audit_by_operation ON paytrack.audit_log (operation_id) WHERE operation_id IS NOT NULL;

CREATE FUNCTION paytrack.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END
$fn$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON paytrack.audit_log
    FOR EACH ROW EXECUTE FUNCTION paytrack.refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON paytrack.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION paytrack.refuse_change();

-- A new entry wakes `audit tail -f` (LISTEN paytrack_audit) at commit.
CREATE FUNCTION paytrack.notify_audit() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_notify('paytrack_audit', NEW.id::text);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER audit_log_notify AFTER INSERT ON paytrack.audit_log
    FOR EACH ROW EXECUTE FUNCTION paytrack.notify_audit();

CREATE TABLE paytrack.audit_personal (
    entry_id bigint NOT NULL REFERENCES paytrack.audit_log(id),
    field    text NOT NULL,
    digest   text NOT NULL,
    value    text,
    salt     text,
    PRIMARY KEY (entry_id, field)
);
CREATE FUNCTION paytrack.audit_personal_erase_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_personal is append-only (erase sets value and salt to NULL)' USING ERRCODE = 'P0001';
    END IF;
    IF NEW.entry_id IS DISTINCT FROM OLD.entry_id OR NEW.field IS DISTINCT FROM OLD.field
       OR NEW.digest IS DISTINCT FROM OLD.digest OR NEW.value IS NOT NULL OR NEW.salt IS NOT NULL THEN
        RAISE EXCEPTION 'audit_personal only allows erasing a value' USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER audit_personal_erase_only BEFORE UPDATE OR DELETE ON paytrack.audit_personal
    FOR EACH ROW EXECUTE FUNCTION paytrack.audit_personal_erase_only();
CREATE TRIGGER audit_personal_no_truncate BEFORE TRUNCATE ON paytrack.audit_personal
    FOR EACH STATEMENT EXECUTE FUNCTION paytrack.refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON paytrack.audit_log FROM PUBLIC;

-- No foreign key to the bot's table (its own DELETE must never trip on ours).
CREATE TABLE paytrack.outbox (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    booking_id      bigint NOT NULL,
    chat_id         bigint NOT NULL,
    kind            text NOT NULL DEFAULT 'confirmation',
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed',
                                          'withdrawn', 'cancelled')),
    attempts        bigint NOT NULL DEFAULT 0,
    next_attempt_at text NOT NULL,
    claimed_by      text,
    claimed_at      text,
    last_error      text,
    created_at      text NOT NULL,
    sent_at         text,
    params          text,
    dedupe_key      text UNIQUE
);
CREATE INDEX outbox_by_status  ON paytrack.outbox (status, next_attempt_at);
CREATE INDEX outbox_by_booking ON paytrack.outbox (booking_id, kind, status);

CREATE TABLE paytrack.message_templates (
    course_id  bigint NOT NULL REFERENCES paytrack.courses(id),
    kind       text NOT NULL CHECK (kind IN ('cancellation', 'reminder', 'broadcast')),
    body       text NOT NULL,
    updated_at text NOT NULL,
    PRIMARY KEY (course_id, kind)
);

-- paytrack's own list of students who blocked the bot (Telegram answered
-- 403). It shadows a `public.blocked_users` of the bot's, which is left alone.
CREATE TABLE paytrack.blocked_users (
    user_id    bigint PRIMARY KEY,
    blocked_at text NOT NULL,
    reason     text
);

CREATE TABLE paytrack.import_state (
    booking_id  bigint PRIMARY KEY,
    status      bigint NOT NULL CHECK (status IN (2, 1, -1)),
    fields      text NOT NULL,
    imported_at text NOT NULL
);

CREATE TABLE paytrack.booking_keys (
    key        text PRIMARY KEY,
    booking_id bigint NOT NULL,
    created_at text NOT NULL
);

-- The counter trigger functions. They run as their owner (SECURITY DEFINER)
-- with a fixed search_path, so the bot needs no privilege on `paytrack`, and
-- they are kept trivial (one INSERT of deltas): any error inside one would
-- fail the bot's own write. The row-level one serves databases adopted
-- before (their trigger `paytrack_count` keeps calling it); `init --adopt`
-- now installs the statement-level ones, one INSERT per statement over
-- transition tables (a row-level trigger made a 1M-row insert take minutes).
CREATE OR REPLACE FUNCTION paytrack.count_booking_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = paytrack, pg_catalog AS $fn$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.course_id, OLD.course_stream, OLD.confirmed, OLD.discount_percent)
           IS NOT DISTINCT FROM (NEW.course_id, NEW.course_stream, NEW.confirmed, NEW.discount_percent) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO paytrack.stream_counter_deltas VALUES
            (coalesce(OLD.course_id, 0), coalesce(OLD.course_stream, ''), coalesce(OLD.confirmed, 0),
             -1, -(100 - coalesce(OLD.discount_percent, 0)));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO paytrack.stream_counter_deltas VALUES
            (coalesce(NEW.course_id, 0), coalesce(NEW.course_stream, ''), coalesce(NEW.confirmed, 0),
             1, 100 - coalesce(NEW.discount_percent, 0));
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION paytrack.count_bookings_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = paytrack, pg_catalog AS $fn$
BEGIN
    INSERT INTO paytrack.stream_counter_deltas
    SELECT coalesce(course_id, 0), coalesce(course_stream, ''), coalesce(confirmed, 0), count(*),
           sum(100 - coalesce(discount_percent, 0))
      FROM new_rows GROUP BY 1, 2, 3;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION paytrack.count_bookings_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = paytrack, pg_catalog AS $fn$
BEGIN
    INSERT INTO paytrack.stream_counter_deltas
    SELECT coalesce(course_id, 0), coalesce(course_stream, ''), coalesce(confirmed, 0), -count(*),
           -sum(100 - coalesce(discount_percent, 0))
      FROM old_rows GROUP BY 1, 2, 3;
    RETURN NULL;
END
$fn$;

-- Only the rows whose counted columns changed move between counters.
CREATE FUNCTION paytrack.count_bookings_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = paytrack, pg_catalog AS $fn$
BEGIN
    WITH changed AS (
        SELECT o.course_id AS old_course, o.course_stream AS old_stream, o.confirmed AS old_status,
               o.discount_percent AS old_discount, n.course_id AS new_course,
               n.course_stream AS new_stream, n.confirmed AS new_status,
               n.discount_percent AS new_discount
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.course_id, o.course_stream, o.confirmed, o.discount_percent)
               IS DISTINCT FROM (n.course_id, n.course_stream, n.confirmed, n.discount_percent)
    ), moved AS (
        SELECT -1 AS sign, coalesce(old_course, 0) AS course_id, coalesce(old_stream, '') AS course_stream,
               coalesce(old_status, 0) AS confirmed, 100 - coalesce(old_discount, 0) AS pct
          FROM changed
        UNION ALL
        SELECT 1, coalesce(new_course, 0), coalesce(new_stream, ''), coalesce(new_status, 0),
               100 - coalesce(new_discount, 0)
          FROM changed
    )
    INSERT INTO paytrack.stream_counter_deltas
    SELECT course_id, course_stream, confirmed, sum(sign), sum(sign * pct)
      FROM moved GROUP BY 1, 2, 3;
    RETURN NULL;
END
$fn$;

-- TRUNCATE of the bot's table: no rows, no counts.
CREATE OR REPLACE FUNCTION paytrack.count_bookings_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = paytrack, pg_catalog AS $fn$
BEGIN
    DELETE FROM paytrack.stream_counter_deltas;
    RETURN NULL;
END
$fn$;

DO $recount$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger
                WHERE tgname = 'paytrack_count' AND tgrelid = to_regclass('public.bookings')) THEN
        -- The bot's writes wait until this commits, so none falls between.
        LOCK TABLE public.bookings IN SHARE ROW EXCLUSIVE MODE;
        INSERT INTO paytrack.stream_counter_deltas
        SELECT coalesce(course_id, 0), coalesce(course_stream, ''), coalesce(confirmed, 0), count(*),
               sum(100 - coalesce(discount_percent, 0))
          FROM public.bookings GROUP BY 1, 2, 3;
    END IF;
END
$recount$;

-- migration: 3
-- A trust boundary the bot cannot cross (issue 26).
--
-- Search paths: every function below runs with `search_path = pg_catalog,
-- pg_temp` and names every object with its schema, so nothing the bot makes
-- in `public` (the database owner may create there) can stand in for a
-- function or operator of PostgreSQL's: a `public.pg_get_serial_sequence`
-- or a `public.=` on integers ran as paytrack under migration 2's
-- search path (paytrack, then public, then pg_catalog). (pg_temp is never searched
-- for functions or operators; listed last it cannot shadow a table either.)
-- The view's write functions are installed by `init --adopt`
-- (src/db/pg/adopt.rs) the same way; sessions use `pg_catalog, paytrack,
-- pg_temp` (src/db/pg/mod.rs).
--
-- The three SQL helpers stay without a SET clause on purpose: PostgreSQL
-- inlines a SQL function only without one (and a SET costs a GUC save and
-- restore on every call; `instr` runs once per booking in a `--search`
-- scan). They run with the caller's rights, never the owner's, and their
-- bodies name every function, operator and type with its schema, so the
-- caller's path does not change what they do.
CREATE OR REPLACE FUNCTION paytrack.instr(haystack text, needle text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT pg_catalog.strpos(haystack, needle)';
CREATE OR REPLACE FUNCTION paytrack.json_extract(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$SELECT CAST(doc AS pg_catalog.jsonb) OPERATOR(pg_catalog.#>>)
                pg_catalog.string_to_array(pg_catalog.substr(path, 3), '.')$$;
CREATE OR REPLACE FUNCTION paytrack.json_set(doc text, path1 text, value1 text, path2 text, value2 text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$SELECT CAST(pg_catalog.jsonb_set(
                pg_catalog.jsonb_set(CAST(doc AS pg_catalog.jsonb),
                                     pg_catalog.string_to_array(pg_catalog.substr(path1, 3), '.'),
                                     coalesce(pg_catalog.to_jsonb(value1), CAST('null' AS pg_catalog.jsonb))),
                pg_catalog.string_to_array(pg_catalog.substr(path2, 3), '.'),
                coalesce(pg_catalog.to_jsonb(value2), CAST('null' AS pg_catalog.jsonb))) AS pg_catalog.text)$$;

-- Folding runs as the owner: the login role paytrack connects as may read
-- the counters but not write them (a trigger of the bot's running as that
-- role cannot move a count).
CREATE OR REPLACE FUNCTION paytrack.fold_counters() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    WITH touched AS (
        SELECT course_id, course_stream, confirmed FROM paytrack.stream_counter_deltas
         GROUP BY 1, 2, 3 HAVING count(*) > 1
    ), gone AS (
        DELETE FROM paytrack.stream_counter_deltas AS d
         USING touched AS t
         WHERE (d.course_id, d.course_stream, d.confirmed) = (t.course_id, t.course_stream, t.confirmed)
        RETURNING d.course_id, d.course_stream, d.confirmed, d.bookings, d.pct_sum
    )
    INSERT INTO paytrack.stream_counter_deltas (course_id, course_stream, confirmed, bookings, pct_sum)
    SELECT course_id, course_stream, confirmed, sum(bookings), sum(pct_sum)
      FROM gone GROUP BY 1, 2, 3
    HAVING sum(bookings) <> 0 OR sum(pct_sum) <> 0;
$fn$;

-- `stats rebuild` on PostgreSQL: the counters recounted from the bot's
-- table, as the owner (see fold_counters). One statement, so the deltas it
-- removes and the rows it counts are one snapshot: a bot write committed
-- after it is in neither, and its own delta stays. (A data-modifying WITH
-- always runs to completion, read or not.)
-- (PL/pgSQL: a SQL function's body is checked when it is created, and a
-- database `init` runs on may have no public.bookings yet.)
CREATE FUNCTION paytrack.rebuild_counters() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    WITH gone AS (DELETE FROM paytrack.stream_counter_deltas RETURNING 1)
    INSERT INTO paytrack.stream_counter_deltas (course_id, course_stream, confirmed, bookings, pct_sum)
    SELECT coalesce(course_id, 0), coalesce(course_stream, ''), coalesce(confirmed, 0), count(*),
           sum(100 - coalesce(discount_percent, 0))
      FROM public.bookings GROUP BY 1, 2, 3;
END
$fn$;

CREATE OR REPLACE FUNCTION paytrack.refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END
$fn$;

CREATE OR REPLACE FUNCTION paytrack.notify_audit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM pg_catalog.pg_notify('paytrack_audit', CAST(NEW.id AS pg_catalog.text));
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION paytrack.audit_personal_erase_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_personal is append-only (erase sets value and salt to NULL)' USING ERRCODE = 'P0001';
    END IF;
    IF NEW.entry_id IS DISTINCT FROM OLD.entry_id OR NEW.field IS DISTINCT FROM OLD.field
       OR NEW.digest IS DISTINCT FROM OLD.digest OR NEW.value IS NOT NULL OR NEW.salt IS NOT NULL THEN
        RAISE EXCEPTION 'audit_personal only allows erasing a value' USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$fn$;

-- A new audit entry must extend the chain: the next id, and the hash of the
-- last entry as its prev_hash. The login role may only INSERT into the log
-- (init grants no UPDATE, DELETE or TRUNCATE, and only the owner can
-- disable this trigger), so history can be added to but not forked,
-- re-chained or rewritten. A row-level BEFORE trigger sees the rows an
-- earlier part of the same multi-row INSERT added.
CREATE FUNCTION paytrack.audit_log_extends_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    last_id   bigint := 0;
    last_hash text := '0000000000000000000000000000000000000000000000000000000000000000';
BEGIN
    SELECT a.id, a.hash INTO last_id, last_hash
      FROM paytrack.audit_log AS a ORDER BY a.id DESC LIMIT 1;
    IF NOT FOUND THEN
        last_id := 0;
        last_hash := '0000000000000000000000000000000000000000000000000000000000000000';
    END IF;
    IF NEW.id IS DISTINCT FROM last_id + 1 OR NEW.prev_hash IS DISTINCT FROM last_hash THEN
        RAISE EXCEPTION 'audit entry % does not extend the audit chain (its last entry is %)',
            NEW.id, last_id USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER audit_log_extends_chain BEFORE INSERT ON paytrack.audit_log
    FOR EACH ROW EXECUTE FUNCTION paytrack.audit_log_extends_chain();

-- The counter triggers' functions, as in migration 2 with the fixed path.
CREATE OR REPLACE FUNCTION paytrack.count_booking_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.course_id, OLD.course_stream, OLD.confirmed, OLD.discount_percent)
           IS NOT DISTINCT FROM (NEW.course_id, NEW.course_stream, NEW.confirmed, NEW.discount_percent) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO paytrack.stream_counter_deltas VALUES
            (coalesce(OLD.course_id, 0), coalesce(OLD.course_stream, ''), coalesce(OLD.confirmed, 0),
             -1, -(100 - coalesce(OLD.discount_percent, 0)));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO paytrack.stream_counter_deltas VALUES
            (coalesce(NEW.course_id, 0), coalesce(NEW.course_stream, ''), coalesce(NEW.confirmed, 0),
             1, 100 - coalesce(NEW.discount_percent, 0));
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION paytrack.count_bookings_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    INSERT INTO paytrack.stream_counter_deltas
    SELECT coalesce(course_id, 0), coalesce(course_stream, ''), coalesce(confirmed, 0), count(*),
           sum(100 - coalesce(discount_percent, 0))
      FROM new_rows GROUP BY 1, 2, 3;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION paytrack.count_bookings_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    INSERT INTO paytrack.stream_counter_deltas
    SELECT coalesce(course_id, 0), coalesce(course_stream, ''), coalesce(confirmed, 0), -count(*),
           -sum(100 - coalesce(discount_percent, 0))
      FROM old_rows GROUP BY 1, 2, 3;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION paytrack.count_bookings_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    WITH changed AS (
        SELECT o.course_id AS old_course, o.course_stream AS old_stream, o.confirmed AS old_status,
               o.discount_percent AS old_discount, n.course_id AS new_course,
               n.course_stream AS new_stream, n.confirmed AS new_status,
               n.discount_percent AS new_discount
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.course_id, o.course_stream, o.confirmed, o.discount_percent)
               IS DISTINCT FROM (n.course_id, n.course_stream, n.confirmed, n.discount_percent)
    ), moved AS (
        SELECT -1 AS sign, coalesce(old_course, 0) AS course_id, coalesce(old_stream, '') AS course_stream,
               coalesce(old_status, 0) AS confirmed, 100 - coalesce(old_discount, 0) AS pct
          FROM changed
        UNION ALL
        SELECT 1, coalesce(new_course, 0), coalesce(new_stream, ''), coalesce(new_status, 0),
               100 - coalesce(new_discount, 0)
          FROM changed
    )
    INSERT INTO paytrack.stream_counter_deltas
    SELECT course_id, course_stream, confirmed, sum(sign), sum(sign * pct)
      FROM moved GROUP BY 1, 2, 3;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION paytrack.count_bookings_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    DELETE FROM paytrack.stream_counter_deltas;
    RETURN NULL;
END
$fn$;

-- Functions that run as their owner are the owner's to hand out: nobody
-- attaches a counter function to a table of their own to forge counts
-- (a trigger's EXECUTE is checked when it is created, not when it fires, so
-- the bot's own writes keep counting). `init` grants the login roles what
-- they call.
REVOKE EXECUTE ON FUNCTION paytrack.fold_counters(), paytrack.rebuild_counters(),
    paytrack.count_booking_change(), paytrack.count_bookings_inserted(),
    paytrack.count_bookings_deleted(), paytrack.count_bookings_updated(),
    paytrack.count_bookings_truncate() FROM PUBLIC;
REVOKE ALL ON SCHEMA paytrack FROM PUBLIC;

-- Whether the bot's own `public.blocked_users` (when there is one) lists
-- a student: paytrack honours it like its own list on every send path
-- (issue 26). Looked up by name at call time, so paytrack holds no
-- dependency on the bot's table (a view over it would stop the bot from
-- dropping or recreating it). Runs as the caller: the login role needs
-- SELECT on it, which the bot's owner grants (README: Roles); without it the
-- send fails loudly rather than message a student the bot has blocked.
CREATE FUNCTION paytrack.blocked_by_bot(student bigint) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    listed boolean := false;
BEGIN
    IF pg_catalog.to_regclass('public.blocked_users') IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                       WHERE a.attrelid = pg_catalog.to_regclass('public.blocked_users')
                         AND a.attname = 'user_id' AND NOT a.attisdropped) THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM public.blocked_users AS b
                             WHERE b.user_id OPERATOR(pg_catalog.=) $1)'
       INTO listed USING student;
    RETURN listed;
END
$fn$;

-- The roles paytrack connects as when they are not the owner (`init
-- --login-role`): each `init` grants them what the commands need on every
-- table there is by then (src/db/pg/roles.rs).
CREATE TABLE paytrack.login_roles (
    role_name  text PRIMARY KEY,
    granted_at timestamptz NOT NULL DEFAULT now()
);

-- migration: 4
-- What an online payment provider said about a payment it notified (issue
-- 29), as schema.sql's provider_payments.
CREATE TABLE paytrack.provider_payments (
    provider         text NOT NULL,
    external_id      text NOT NULL,
    booking_id       bigint,
    method           text,
    provider_paid_at text,
    raw              text,
    received_at      text NOT NULL,
    PRIMARY KEY (provider, external_id)
);
CREATE INDEX provider_payments_by_booking ON paytrack.provider_payments (booking_id);

-- The payments `bookings pay-link` created at a provider (see schema.sql).
CREATE TABLE paytrack.pay_links (
    provider     text NOT NULL,
    payment_id   text NOT NULL,
    booking_id   bigint NOT NULL,
    amount_minor bigint NOT NULL,
    currency     text NOT NULL,
    url          text NOT NULL,
    created_at   text NOT NULL,
    PRIMARY KEY (provider, payment_id)
);
CREATE INDEX pay_links_by_time ON paytrack.pay_links (provider, created_at);

-- migration: 10
-- `outbox drain` claims the pending message due longest (ORDER BY
-- next_attempt_at, id). A bulk confirm queues its messages all due at the
-- same moment, and outbox_by_status (status, next_attempt_at) cannot give
-- them in id order, so every claim read and sorted every pending message:
-- one drain after 4,900 confirms ran 688 s (issue 26). This index, over
-- pending messages only and in claim order, hands the claim its row at
-- once however long the queue or the history of sent messages.
CREATE INDEX outbox_due ON paytrack.outbox (next_attempt_at, id) WHERE status = 'pending';

-- migration: 11
-- The planner told about what a long write fills (issue 26, item 6). A
-- status change writes `booking_state` for bookings the bot made, so a
-- 100k-row `payments import` fills it from nothing inside one transaction;
-- the planner still took it for empty and scanned it in full 784 times.
-- paytrack's writers (src/db/pg/bot_rows.rs) ANALYZE it when it has grown,
-- inside the transaction (which counts its own rows). Only a table's owner
-- may ANALYZE it on PostgreSQL 15, and the login role is not the owner
-- (roles.rs), so the owner's function does it; it does nothing else, and
-- `init` grants it to the login roles only.
CREATE FUNCTION paytrack.analyze_booking_state() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    ANALYZE paytrack.booking_state;
END
$fn$;
REVOKE EXECUTE ON FUNCTION paytrack.analyze_booking_state() FROM PUBLIC;

-- migration: 12
-- PostgreSQL's own SQL instead of SQLite's emulated (issue 27): paytrack now
-- writes `doc::jsonb ->> 'key'`, `jsonb ||` and `jsonb_build_object`,
-- `COALESCE(SUM(…), 0)` and `lower(a) = lower(b)` where SQLite's text says
-- json_extract, json_set, TOTAL and COLLATE NOCASE (db::sql::Dialect), so
-- migration 2's stand-ins for them go. (instr stays while `--search` uses it.)
DROP FUNCTION paytrack.json_extract(text, text);
DROP FUNCTION paytrack.json_set(text, text, text, text, text);
DROP AGGREGATE paytrack.total(double precision);
DROP COLLATION paytrack.nocase;

-- migration: 13
-- `--search` through trigram indexes (issue 26): a miss read every booking
-- (1.4-1.8 s at 240k-1M). pg_trgm is a contrib extension PostgreSQL ships
-- (Debian's postgresql-15 has it) and a trusted one: whoever has CREATE on
-- the database may install it, so `init` (paytrack's owner role) puts it in
-- the paytrack schema, or uses it where someone installed it before. Where
-- it cannot be had (no contrib package, no right), nothing fails: `init`
-- says so once and searches read every row as before. The index here
-- covers paytrack's own folded text; the bot's names are indexed on
-- public.bookings by its owner (src/db/pg/adopt.rs, `search_index_sql`).
DO $do$
DECLARE
    trgm name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION pg_trgm SCHEMA paytrack;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'pg_trgm is not available here (%): searches read every booking', SQLERRM;
        END;
    END IF;
    SELECT n.nspname INTO trgm
      FROM pg_catalog.pg_extension AS e
      JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    IF trgm IS NOT NULL THEN
        EXECUTE pg_catalog.format(
            'CREATE INDEX booking_state_search ON paytrack.booking_state USING gin (search_text %I.gin_trgm_ops)',
            trgm);
    END IF;
END
$do$;

-- migration: 14
-- Nothing on PostgreSQL: SQLite's 14 indexes its stream_counters table by
-- status for a list page's total. Here stream_counters is a view that sums
-- paytrack.stream_counter_deltas (migration 4), whose rows the total reads
-- whatever the index; a page's time on PostgreSQL is the round trips.
