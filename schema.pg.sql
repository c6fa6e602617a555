-- paytrack's own tables on PostgreSQL (issue 18), in the `paytrack` schema,
-- beside the bot's `public.bookings`, which paytrack never alters.
--
-- Numbered, append-only migrations, like schema.sql: a shipped section is
-- never edited; a change is a new `-- migration: N` at the end. `paytrack
-- init` applies the pending ones in one transaction under an advisory lock,
-- and records the version in paytrack.schema_version. The counter triggers on
-- the bot's table are not here: `init --adopt` installs them (src/db/pg/adopt.rs).

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
