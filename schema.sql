-- paytrack schema.
--
-- This file is embedded in the binary and applied as numbered migrations.
-- Each `-- migration: N` section runs once, in order, inside one transaction,
-- and sets `PRAGMA user_version = N`. A shipped section is never edited:
-- change the schema by appending a new section at the end of this file.
--
-- One history for both engines (issue 27): from migration 10 on, every number
-- is a section here and in schema.pg.sql (comments only where one engine
-- needs nothing), so version N is the same shape on SQLite and PostgreSQL.
-- A new migration takes the next number in both files
-- (`db::MIGRATIONS_IN_STEP_FROM`; tests/cli/pg_schema.rs compares the
-- tables, columns, nullability, type classes and CHECK lists init makes).
--
-- Conventions: times are UTC RFC 3339 text with six fractional digits
-- (`2024-03-01T07:06:00.532084Z`), so text order is time order; money is an
-- integer number of minor units (kopecks, cents).

-- migration: 1

-- The catalogue: human names, prices and capacities for the codes bookings use.
CREATE TABLE courses (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    -- Confirmation message template for this course; NULL means the default.
    message_template TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE streams (
    course_id   INTEGER NOT NULL REFERENCES courses(id),
    code        TEXT NOT NULL CHECK (code <> ''),
    name        TEXT,
    price_minor INTEGER CHECK (price_minor IS NULL OR price_minor >= 0),
    currency    TEXT,
    capacity    INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (course_id, code)
) WITHOUT ROWID;

-- The old system's bookings table, column names unchanged so its exports load as they are.
CREATE TABLE bookings (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL,
    username         TEXT,
    first_name       TEXT,
    course_id        INTEGER NOT NULL REFERENCES courses(id),
    course_stream    TEXT,
    -- 2 = confirmed (paid), 1 = pending, -1 = cancelled.
    confirmed        INTEGER NOT NULL DEFAULT 1 CHECK (confirmed IN (2, 1, -1)),
    created_at       TEXT NOT NULL,
    referral_code    TEXT,
    discount_percent INTEGER CHECK (discount_percent IS NULL OR discount_percent BETWEEN 0 AND 100),
    updated_at       TEXT NOT NULL,
    -- When the booking last became confirmed (for the confirmed-students list).
    confirmed_at     TEXT,
    -- Case-folded "username first_name", written by paytrack: SQLite's lower()
    -- folds ASCII only, and --search must be case-insensitive for Cyrillic too.
    search_text      TEXT NOT NULL DEFAULT ''
);

-- One index per `bookings list` filter, each ending in id so that keyset
-- pagination (newest first) walks the index instead of sorting.
CREATE INDEX bookings_by_status   ON bookings (confirmed, id);
CREATE INDEX bookings_by_stream   ON bookings (course_id, course_stream, id);
CREATE INDEX bookings_by_user     ON bookings (user_id, id);
CREATE INDEX bookings_by_username ON bookings (username COLLATE NOCASE, id);
CREATE INDEX bookings_by_referral ON bookings (referral_code, id);
-- Covers the date-filtered statistics (and --since/--until listing) without touching the table.
CREATE INDEX bookings_by_created  ON bookings (created_at, course_id, course_stream, confirmed, discount_percent);

-- Per (course, stream, status) counters, kept current by the triggers below in
-- the same transaction as every write to bookings, so `stats streams` reads
-- a handful of rows instead of scanning the bookings. `course_stream` is ''
-- for bookings without a stream. `pct_sum` is the sum of (100 - discount) over
-- the bookings, so revenue = price * pct_sum / 100 stays right when a price changes.
CREATE TABLE stream_counters (
    course_id     INTEGER NOT NULL,
    course_stream TEXT NOT NULL,
    confirmed     INTEGER NOT NULL,
    bookings      INTEGER NOT NULL,
    pct_sum       INTEGER NOT NULL,
    PRIMARY KEY (course_id, course_stream, confirmed)
) WITHOUT ROWID;

CREATE TRIGGER bookings_count_insert AFTER INSERT ON bookings
BEGIN
    INSERT INTO stream_counters (course_id, course_stream, confirmed, bookings, pct_sum)
    VALUES (NEW.course_id, COALESCE(NEW.course_stream, ''), NEW.confirmed, 1,
            100 - COALESCE(NEW.discount_percent, 0))
    ON CONFLICT (course_id, course_stream, confirmed) DO UPDATE
        SET bookings = bookings + 1, pct_sum = pct_sum + excluded.pct_sum;
END;

CREATE TRIGGER bookings_count_delete AFTER DELETE ON bookings
BEGIN
    UPDATE stream_counters
       SET bookings = bookings - 1, pct_sum = pct_sum - (100 - COALESCE(OLD.discount_percent, 0))
     WHERE course_id = OLD.course_id AND course_stream = COALESCE(OLD.course_stream, '')
       AND confirmed = OLD.confirmed;
END;

CREATE TRIGGER bookings_count_update
AFTER UPDATE OF course_id, course_stream, confirmed, discount_percent ON bookings
BEGIN
    UPDATE stream_counters
       SET bookings = bookings - 1, pct_sum = pct_sum - (100 - COALESCE(OLD.discount_percent, 0))
     WHERE course_id = OLD.course_id AND course_stream = COALESCE(OLD.course_stream, '')
       AND confirmed = OLD.confirmed;
    INSERT INTO stream_counters (course_id, course_stream, confirmed, bookings, pct_sum)
    VALUES (NEW.course_id, COALESCE(NEW.course_stream, ''), NEW.confirmed, 1,
            100 - COALESCE(NEW.discount_percent, 0))
    ON CONFLICT (course_id, course_stream, confirmed) DO UPDATE
        SET bookings = bookings + 1, pct_sum = pct_sum + excluded.pct_sum;
END;

-- Money received, one row per provider payment. The outcome is decided at import.
CREATE TABLE payments (
    id           INTEGER PRIMARY KEY,
    provider     TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    -- The booking the payment names (it may not exist: outcome 'unknown_booking').
    booking_id   INTEGER,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    paid_at      TEXT,
    description  TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('confirmed', 'already_confirmed', 'partial',
                     'overpaid', 'cancelled', 'unknown_booking', 'unmatched', 'recorded')),
    imported_at  TEXT NOT NULL,
    UNIQUE (provider, external_id)
);
CREATE INDEX payments_by_booking ON payments (booking_id);
CREATE INDEX payments_by_outcome ON payments (outcome, id);

-- The audit log: append-only and hash-chained (see src/db/audit.rs).
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    booking_id INTEGER,
    old_value  TEXT,
    new_value  TEXT,
    reason     TEXT,
    details    TEXT NOT NULL DEFAULT '{}',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_by_booking ON audit_log (booking_id, id);
CREATE INDEX audit_by_action  ON audit_log (action, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Messages to students, written in the same transaction as the change that
-- causes them and delivered later by `outbox drain` (at least once).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    booking_id      INTEGER NOT NULL REFERENCES bookings(id),
    chat_id         INTEGER NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'confirmation',
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_by      TEXT,
    claimed_at      TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);

-- Students who blocked the bot (Telegram answered 403); not messaged again.
CREATE TABLE blocked_users (
    user_id    INTEGER PRIMARY KEY,
    blocked_at TEXT NOT NULL,
    reason     TEXT
);

-- migration: 2

-- Two more payment outcomes, both for a person to look at:
--   currency_mismatch: paid in another currency than the stream's price, so the
--                      amounts cannot be compared and nothing is confirmed;
--   not_positive:      a zero or negative amount (a refund or reversal line in a
--                      bank statement), which never confirms anything.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt
-- (same columns, same order) and its indexes recreated.
CREATE TABLE payments_v2 (
    id           INTEGER PRIMARY KEY,
    provider     TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    -- The booking the payment names (it may not exist: outcome 'unknown_booking').
    booking_id   INTEGER,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    paid_at      TEXT,
    description  TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('confirmed', 'already_confirmed', 'partial',
                     'overpaid', 'cancelled', 'unknown_booking', 'unmatched', 'recorded',
                     'currency_mismatch', 'not_positive')),
    imported_at  TEXT NOT NULL,
    UNIQUE (provider, external_id)
);
INSERT INTO payments_v2 (id, provider, external_id, booking_id, amount_minor, currency, paid_at,
                         description, outcome, imported_at)
    SELECT id, provider, external_id, booking_id, amount_minor, currency, paid_at,
           description, outcome, imported_at
      FROM payments;
DROP TABLE payments;
ALTER TABLE payments_v2 RENAME TO payments;
CREATE INDEX payments_by_booking ON payments (booking_id);
CREATE INDEX payments_by_outcome ON payments (outcome, id);

-- migration: 3

-- `--search` through an index instead of a scan of every row: an FTS5 trigram
-- index, kept by triggers in the same transaction as every write to bookings.
-- The trigram tokenizer matches any substring of 3+ characters and folds case
-- (Cyrillic included) by itself.
--
-- What is indexed is `search_text` (paytrack's own fold: accents, ё = е), or,
-- for a booking another program wrote with plain SQL and no search text, its
-- names in SQL's lower() (ASCII only; the index folds the rest of the case).
-- The same expression stands in the view and in each trigger: an external-
-- content index must be told exactly what it was given, so no trigger writes
-- to bookings itself.
CREATE VIEW bookings_search_source AS
SELECT id, CASE WHEN b.search_text <> '' THEN b.search_text
         ELSE lower(trim(COALESCE(b.username, '') || ' ' || COALESCE(b.first_name, ''))) END AS search_text
  FROM bookings b;
CREATE VIRTUAL TABLE bookings_search USING fts5(
    search_text, content = 'bookings_search_source', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER bookings_search_insert AFTER INSERT ON bookings
BEGIN
    INSERT INTO bookings_search (rowid, search_text)
    VALUES (NEW.id, CASE WHEN NEW.search_text <> '' THEN NEW.search_text
         ELSE lower(trim(COALESCE(NEW.username, '') || ' ' || COALESCE(NEW.first_name, ''))) END);
END;
CREATE TRIGGER bookings_search_delete AFTER DELETE ON bookings
BEGIN
    INSERT INTO bookings_search (bookings_search, rowid, search_text)
    VALUES ('delete', OLD.id, CASE WHEN OLD.search_text <> '' THEN OLD.search_text
         ELSE lower(trim(COALESCE(OLD.username, '') || ' ' || COALESCE(OLD.first_name, ''))) END);
END;
CREATE TRIGGER bookings_search_update AFTER UPDATE OF search_text, username, first_name ON bookings
BEGIN
    INSERT INTO bookings_search (bookings_search, rowid, search_text)
    VALUES ('delete', OLD.id, CASE WHEN OLD.search_text <> '' THEN OLD.search_text
         ELSE lower(trim(COALESCE(OLD.username, '') || ' ' || COALESCE(OLD.first_name, ''))) END);
    INSERT INTO bookings_search (rowid, search_text)
    VALUES (NEW.id, CASE WHEN NEW.search_text <> '' THEN NEW.search_text
         ELSE lower(trim(COALESCE(NEW.username, '') || ' ' || COALESCE(NEW.first_name, ''))) END);
END;
INSERT INTO bookings_search (bookings_search) VALUES ('rebuild');

-- `--referral` ignores case (codes are typed by people: SPRING24, spring24).
DROP INDEX bookings_by_referral;
CREATE INDEX bookings_by_referral ON bookings (referral_code COLLATE NOCASE, id);

-- migration: 4

-- Payments that need a person (issue 15). The table is rebuilt (SQLite cannot
-- change a CHECK in place) with:
--   three more outcomes:
--     conflict:  a known (provider, external_id) sent again with another amount,
--                date or booking; stored beside the first version, which stands;
--     ambiguous: the description names several booking numbers;
--     refund:    money returned to the payer (a negative amount), netted
--                against what the booking received;
--   reference_id: the booking number the file named, kept when `payments
--                assign` attaches the payment to a booking (booking_id), so a
--                re-import compares the row with what the file said;
--   resolved_at/by/note: a person marked the row as handled (`payments resolve`).
-- (provider, external_id) stays unique except for conflicts, which are
-- second versions of a stored payment by definition.
CREATE TABLE payments_v3 (
    id              INTEGER PRIMARY KEY,
    provider        TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    -- The booking the payment belongs to (it may not exist: outcome 'unknown_booking').
    booking_id      INTEGER,
    amount_minor    INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    paid_at         TEXT,
    description     TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('confirmed', 'already_confirmed', 'partial',
                        'overpaid', 'cancelled', 'unknown_booking', 'unmatched', 'recorded',
                        'currency_mismatch', 'not_positive', 'conflict', 'ambiguous', 'refund')),
    imported_at     TEXT NOT NULL,
    reference_id    INTEGER,
    resolved_at     TEXT,
    resolved_by     TEXT,
    resolution_note TEXT
);
INSERT INTO payments_v3 (id, provider, external_id, booking_id, amount_minor, currency, paid_at,
                         description, outcome, imported_at, reference_id)
    SELECT id, provider, external_id, booking_id, amount_minor, currency, paid_at,
           description, outcome, imported_at, booking_id
      FROM payments;
DROP TABLE payments;
ALTER TABLE payments_v3 RENAME TO payments;
CREATE UNIQUE INDEX payments_by_external ON payments (provider, external_id)
    WHERE outcome <> 'conflict';
CREATE INDEX payments_conflicts ON payments (provider, external_id) WHERE outcome = 'conflict';
CREATE INDEX payments_by_booking ON payments (booking_id);
CREATE INDEX payments_by_outcome ON payments (outcome, id);

-- How a provider's (bank's) files are read: its own column names mapped to
-- paytrack's (`payments import --map`), remembered for the next file.
CREATE TABLE payment_providers (
    provider   TEXT PRIMARY KEY,
    -- JSON object: paytrack column → the file's header, e.g. {"amount": "Сумма"}.
    column_map TEXT NOT NULL DEFAULT '{}',
    -- The encoding last forced with --encoding (NULL: detect).
    encoding   TEXT,
    updated_at TEXT NOT NULL
);

-- migration: 5

-- Messages an admin controls (issue 14):
--   status  'withdrawn': a confirmation still unsent when its booking left
--                        `confirmed` (cancelled or reverted); kept, never sent;
--           'cancelled': stopped by an admin (`outbox cancel`), kept with the reason;
--   params:     JSON the text is rendered from at send time (NULL: `body` was
--               frozen when queued, by an older paytrack, and is sent as it is);
--   dedupe_key: a broadcast's --key plus the recipient, so a re-run queues nothing.
-- `body` is the text as last rendered, and after delivery the exact text sent.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE outbox_rebuilt (
    id              INTEGER PRIMARY KEY,
    booking_id      INTEGER NOT NULL REFERENCES bookings(id),
    chat_id         INTEGER NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'confirmation',
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed',
                                          'withdrawn', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_by      TEXT,
    claimed_at      TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    params          TEXT,
    dedupe_key      TEXT UNIQUE
);
INSERT INTO outbox_rebuilt (id, booking_id, chat_id, kind, body, status, attempts, next_attempt_at,
                       claimed_by, claimed_at, last_error, created_at, sent_at)
    SELECT id, booking_id, chat_id, kind, body, status, attempts, next_attempt_at,
           claimed_by, claimed_at, last_error, created_at, sent_at
      FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
CREATE INDEX outbox_by_status  ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_booking ON outbox (booking_id, kind, status);

-- Message templates per course and kind (confirmation, cancellation, reminder,
-- broadcast). The course's own `message_template` column stays the
-- confirmation template; this table holds the others.
CREATE TABLE message_templates (
    course_id  INTEGER NOT NULL REFERENCES courses(id),
    kind       TEXT NOT NULL CHECK (kind IN ('cancellation', 'reminder', 'broadcast')),
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (course_id, kind)
) WITHOUT ROWID;

-- A stream's group chat link, for the {chat_link} placeholder.
ALTER TABLE streams ADD COLUMN chat_link TEXT;

-- migration: 6

-- Personal data that can be erased without breaking the audit chain (issue 20).
-- Entries written from now on are format 2: their personal fields (free-text
-- reasons, names before and after an edit) live in audit_personal with a
-- random salt, and the entry's hash covers only SHA-256(field, salt, value).
-- Erasure sets value and salt to NULL and keeps the digest, so `audit verify`
-- still passes. Existing entries are format 1 and hash exactly as before.
-- See src/domain/audit.rs.
ALTER TABLE audit_log ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
CREATE TABLE audit_personal (
    entry_id INTEGER NOT NULL REFERENCES audit_log(id),
    field    TEXT NOT NULL,
    digest   TEXT NOT NULL,
    value    TEXT,
    salt     TEXT,
    PRIMARY KEY (entry_id, field)
) WITHOUT ROWID;
-- The only change allowed is erasing: value and salt to NULL, nothing else.
CREATE TRIGGER audit_personal_erase_only BEFORE UPDATE ON audit_personal
WHEN NEW.entry_id IS NOT OLD.entry_id OR NEW.field IS NOT OLD.field
  OR NEW.digest IS NOT OLD.digest OR NEW.value IS NOT NULL OR NEW.salt IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_personal only allows erasing a value');
END;
CREATE TRIGGER audit_personal_no_delete BEFORE DELETE ON audit_personal
BEGIN
    SELECT RAISE(ABORT, 'audit_personal is append-only (erase sets value and salt to NULL)');
END;
-- When a booking's personal fields were replaced by a pseudonym (`users
-- erase`, `retention apply`); NULL while they are as typed.
ALTER TABLE bookings ADD COLUMN erased_at TEXT;

-- migration: 7

-- What each booking looked like in the last `bookings import` that carried
-- it: the file's status and the file's other columns (a JSON object). A
-- re-import compares the file with this, not with the booking, so "the file
-- has nothing new" (paytrack's own change since then stands) is told apart
-- from "the file disagrees" (a change made in the old system).
CREATE TABLE import_state (
    booking_id  INTEGER PRIMARY KEY,
    status      INTEGER NOT NULL CHECK (status IN (2, 1, -1)),
    fields      TEXT NOT NULL,
    imported_at TEXT NOT NULL
);

-- The operation an audit entry belongs to: every entry written by one write
-- transaction (one command) carries the same id, which `paytrack undo` takes.
-- NULL for entries written before this migration.
ALTER TABLE audit_log ADD COLUMN operation_id TEXT;
CREATE INDEX audit_by_operation ON audit_log (operation_id) WHERE operation_id IS NOT NULL;

-- Idempotency keys of `bookings add --key`: a retried add finds its booking here.
CREATE TABLE booking_keys (
    key        TEXT PRIMARY KEY,
    booking_id INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

-- migration: 8

-- Rows another program writes (issue 25).
--
-- Their names are searched with paytrack's fold. Such a row has no
-- `search_text`, and SQLite's lower() folds ASCII only, so `Пётр ЁЛКИН` was
-- never found by `--search пётр`. The view now folds the names in SQL: lower()
-- and one replace() per letter of `domain::booking::SQL_FOLD_PAIRS` (Cyrillic
-- capitals, ё = е, й = и, accented Latin letters), 15 to a view in a chain
-- (the `sqlite3` shell's parser overflows at about 26 nested calls, and every
-- program writing the file parses these views). Generated by
-- `db::bookings::search_fold_views`; unit tests hold them to it and to `fold`.
-- The triggers read the view instead of repeating the expression: the old text
-- is read before a delete or update, the new one after an insert or update.
--
-- `created_at` and `updated_at` get a default (the time of the INSERT), so a
-- plain INSERT without them works. SQLite cannot change a default with SQL
-- here: `Db::migrate` edits the table's definition after this section
-- (`db::bookings::default_stamps`).
DROP TRIGGER IF EXISTS bookings_search_insert;
DROP TRIGGER IF EXISTS bookings_search_delete;
DROP TRIGGER IF EXISTS bookings_search_update;
DROP VIEW IF EXISTS bookings_search_source;
CREATE VIEW bookings_search_fold_0 AS
SELECT b.id, b.search_text, lower(trim(COALESCE(b.username, '') || ' ' || COALESCE(b.first_name, ''))) AS folded
  FROM bookings b;
CREATE VIEW bookings_search_fold_1 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'А', 'а'), 'Б', 'б'), 'В', 'в'), 'Г', 'г'), 'Д', 'д'), 'Е', 'е'), 'Ж', 'ж'), 'З', 'з'), 'И', 'и'), 'Й', 'и'), 'К', 'к'), 'Л', 'л'), 'М', 'м'), 'Н', 'н'), 'О', 'о') AS folded
  FROM bookings_search_fold_0;
CREATE VIEW bookings_search_fold_2 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'П', 'п'), 'Р', 'р'), 'С', 'с'), 'Т', 'т'), 'У', 'у'), 'Ф', 'ф'), 'Х', 'х'), 'Ц', 'ц'), 'Ч', 'ч'), 'Ш', 'ш'), 'Щ', 'щ'), 'Ъ', 'ъ'), 'Ы', 'ы'), 'Ь', 'ь'), 'Э', 'э') AS folded
  FROM bookings_search_fold_1;
CREATE VIEW bookings_search_fold_3 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'Ю', 'ю'), 'Я', 'я'), 'Ё', 'е'), 'ё', 'е'), 'й', 'и'), 'Є', 'є'), 'І', 'і'), 'Ї', 'і'), 'ї', 'і'), 'Ґ', 'ґ'), 'Ў', 'у'), 'ў', 'у'), 'À', 'a'), 'Á', 'a'), 'Â', 'a') AS folded
  FROM bookings_search_fold_2;
CREATE VIEW bookings_search_fold_4 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'Ã', 'a'), 'Ä', 'a'), 'Å', 'a'), 'à', 'a'), 'á', 'a'), 'â', 'a'), 'ã', 'a'), 'ä', 'a'), 'å', 'a'), 'Ç', 'c'), 'ç', 'c'), 'È', 'e'), 'É', 'e'), 'Ê', 'e'), 'Ë', 'e') AS folded
  FROM bookings_search_fold_3;
CREATE VIEW bookings_search_fold_5 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'è', 'e'), 'é', 'e'), 'ê', 'e'), 'ë', 'e'), 'Ì', 'i'), 'Í', 'i'), 'Î', 'i'), 'Ï', 'i'), 'ì', 'i'), 'í', 'i'), 'î', 'i'), 'ï', 'i'), 'Ñ', 'n'), 'ñ', 'n'), 'Ò', 'o') AS folded
  FROM bookings_search_fold_4;
CREATE VIEW bookings_search_fold_6 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'Ó', 'o'), 'Ô', 'o'), 'Õ', 'o'), 'Ö', 'o'), 'ò', 'o'), 'ó', 'o'), 'ô', 'o'), 'õ', 'o'), 'ö', 'o'), 'Ù', 'u'), 'Ú', 'u'), 'Û', 'u'), 'Ü', 'u'), 'ù', 'u'), 'ú', 'u') AS folded
  FROM bookings_search_fold_5;
CREATE VIEW bookings_search_fold_7 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'û', 'u'), 'ü', 'u'), 'Ý', 'y'), 'ý', 'y'), 'ÿ', 'y'), 'Ÿ', 'y'), 'Æ', 'æ'), 'Ø', 'ø'), 'Č', 'c'), 'č', 'c'), 'Ć', 'c'), 'ć', 'c'), 'Š', 's'), 'š', 's'), 'Ś', 's') AS folded
  FROM bookings_search_fold_6;
CREATE VIEW bookings_search_fold_8 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'ś', 's'), 'Ş', 's'), 'ş', 's'), 'Ž', 'z'), 'ž', 'z'), 'Ź', 'z'), 'ź', 'z'), 'Ż', 'z'), 'ż', 'z'), 'Ř', 'r'), 'ř', 'r'), 'Ě', 'e'), 'ě', 'e'), 'Ę', 'e'), 'ę', 'e') AS folded
  FROM bookings_search_fold_7;
CREATE VIEW bookings_search_fold_9 AS
SELECT id, search_text, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(folded, 'Ą', 'a'), 'ą', 'a'), 'Ń', 'n'), 'ń', 'n'), 'Ň', 'n'), 'ň', 'n'), 'Ł', 'ł'), 'Ő', 'o'), 'ő', 'o'), 'Ű', 'u'), 'ű', 'u'), 'Ğ', 'g'), 'ğ', 'g'), 'İ', 'i') AS folded
  FROM bookings_search_fold_8;
CREATE VIEW bookings_search_source AS
SELECT id, CASE WHEN search_text <> '' THEN search_text ELSE folded END AS search_text
  FROM bookings_search_fold_9;
CREATE TRIGGER bookings_search_insert AFTER INSERT ON bookings
BEGIN
    INSERT INTO bookings_search (rowid, search_text)
    SELECT id, search_text FROM bookings_search_source WHERE id = NEW.id;
END;
CREATE TRIGGER bookings_search_delete BEFORE DELETE ON bookings
BEGIN
    INSERT INTO bookings_search (bookings_search, rowid, search_text)
    SELECT 'delete', id, search_text FROM bookings_search_source WHERE id = OLD.id;
END;
CREATE TRIGGER bookings_search_update_old BEFORE UPDATE OF search_text, username, first_name ON bookings
BEGIN
    INSERT INTO bookings_search (bookings_search, rowid, search_text)
    SELECT 'delete', id, search_text FROM bookings_search_source WHERE id = OLD.id;
END;
CREATE TRIGGER bookings_search_update AFTER UPDATE OF search_text, username, first_name ON bookings
BEGIN
    INSERT INTO bookings_search (rowid, search_text)
    SELECT id, search_text FROM bookings_search_source WHERE id = NEW.id;
END;
INSERT INTO bookings_search (bookings_search) VALUES ('rebuild');

-- migration: 9
-- What an online payment provider said about a payment it notified (issue
-- 29): its payment id (the row's external_id), the method, when it says the
-- money moved, and the notification as received. The raw text holds the
-- payer's e-mail or card mask, so `users erase` sets it to NULL.
CREATE TABLE provider_payments (
    provider         TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    booking_id       INTEGER,
    method           TEXT,
    provider_paid_at TEXT,
    raw              TEXT,
    received_at      TEXT NOT NULL,
    PRIMARY KEY (provider, external_id)
) WITHOUT ROWID;
CREATE INDEX provider_payments_by_booking ON provider_payments (booking_id);

-- The payments `bookings pay-link` created at a provider, so that
-- `payments fetch` can ask a provider that lists no payments (T-Bank's
-- GetState takes one PaymentId) what became of each.
CREATE TABLE pay_links (
    provider     TEXT NOT NULL,
    payment_id   TEXT NOT NULL,
    booking_id   INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    url          TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (provider, payment_id)
) WITHOUT ROWID;
CREATE INDEX pay_links_by_time ON pay_links (provider, created_at);

-- migration: 10
-- Nothing here on SQLite: PostgreSQL's 10 adds the index `outbox drain`
-- claims through; SQLite's outbox_by_status (status, next_attempt_at) ends
-- in the rowid, so it already gives pending messages in claim order.

-- migration: 11
-- Nothing on SQLite. On PostgreSQL (schema.pg.sql, issue 26):
-- paytrack.analyze_booking_state(), which lets the login role have
-- booking_state analysed inside a long write. SQLite's writer holds the
-- whole file and keeps its own statistics (ANALYZE is not needed mid-write).

-- migration: 12
-- Nothing here on SQLite: PostgreSQL's 12 drops the stand-ins for SQLite's
-- json_extract, json_set, TOTAL and NOCASE; paytrack now writes each
-- engine's own SQL for them (db::sql::Dialect, issue 27).

-- migration: 13
-- Nothing on SQLite: its FTS5 trigram index (migration 3) already serves
-- `--search`. On PostgreSQL (schema.pg.sql, issue 26) pg_trgm indexes the
-- folded names the same way.

-- migration: 14
-- The pending (or confirmed, or cancelled) total under a list page (issue 28).
-- `bookings list --status S` reads it from the counters, and stream_counters'
-- key starts with the course, so that sum read every counter row: at 380
-- streams, 1,140 rows, a twentieth of a list page's work. This index holds
-- the status first and the count beside it, so the sum reads one status's
-- rows and nothing else.
CREATE INDEX stream_counters_by_status ON stream_counters (confirmed, bookings);
