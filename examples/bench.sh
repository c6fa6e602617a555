#!/usr/bin/env bash
# paytrack's benchmark (issue #9): whole processes timed with hyperfine on the
# same SQLite file, side by side with the sqlite3 CLI running the same SQL and
# with the old dashboard's statistics query in a throwaway PostgreSQL 15.
#
#   examples/bench.sh                         # the full run: 10,000 and 1,000,000 bookings
#   examples/bench.sh --markdown results.md   # also write the table (and the machine) as markdown
#   examples/bench.sh --smoke                 # tiny N, debug build, PostgreSQL optional (CI)
#
# Environment: BENCH_BIG (1000000), BENCH_SMALL (10000), BENCH_RUNS (15),
# BENCH_KEEP=1 keeps the temp dir. Ratios are paytrack / baseline (lower is better).
set -euo pipefail

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

SMOKE=0
MARKDOWN=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) SMOKE=1 ;;
        --markdown) MARKDOWN="${2:?--markdown needs a file}"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -n "$MARKDOWN" && "$MARKDOWN" != /* ]]; then MARKDOWN="$PWD/$MARKDOWN"; fi
export LC_ALL=C.UTF-8 TZ=UTC NO_COLOR=1
unset PAYTRACK_DB PAYTRACK_NOW PAYTRACK_TZ PAYTRACK_LANG

if [[ $SMOKE == 1 ]]; then
    N_BIG=${BENCH_BIG:-3000} N_SMALL=${BENCH_SMALL:-500} RUNS=${BENCH_RUNS:-3}
    WRITE_RUNS=2 SLOW_RUNS=1 WARMUP=1 DEEP=1000 BULK=200 PAYMENTS=1000
    PROFILE=debug
else
    N_BIG=${BENCH_BIG:-1000000} N_SMALL=${BENCH_SMALL:-10000} RUNS=${BENCH_RUNS:-15}
    WRITE_RUNS=5 SLOW_RUNS=3 WARMUP=3 DEEP=50000 BULK=10000 PAYMENTS=100000
    PROFILE=release
fi
PGBIN=/usr/lib/postgresql/15/bin

say() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo -n "$@"; fi; }

# ---------------------------------------------------------------- tools
install_missing() {
    local packages=()
    command -v hyperfine >/dev/null || packages+=(hyperfine)
    command -v sqlite3 >/dev/null || packages+=(sqlite3)
    [[ -x /usr/bin/time ]] || packages+=(time)
    if [[ $SMOKE == 0 ]]; then
        [[ -x $PGBIN/initdb ]] || packages+=(postgresql-15)
        command -v psql >/dev/null || packages+=(postgresql-client-15)
    fi
    if [[ ${#packages[@]} -gt 0 ]]; then
        say "installing ${packages[*]}"
        if ! { as_root apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${packages[@]}" >/dev/null; }; then
            # 75 (EX_TEMPFAIL): the tools could not be had; .ci/run treats it as "skipped".
            say "cannot install ${packages[*]}: benchmark skipped"
            exit 75
        fi
    fi
}
install_missing

# ---------------------------------------------------------------- build
say "building paytrack ($PROFILE)"
if [[ $PROFILE == release ]]; then
    (cd "$ROOT" && cargo build --release --locked -q)
else
    (cd "$ROOT" && cargo build --locked -q)
fi
PT="$ROOT/target/$PROFILE/paytrack"

WORK="$(mktemp -d /tmp/paytrack-bench.XXXXXX)"
PGDIR=""
cleanup() {
    if [[ -n "$PGDIR" && -f "$PGDIR/data/postmaster.pid" ]]; then
        pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [[ -n "$PGDIR" ]] && rm -rf "$PGDIR"
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"
SMALL="$WORK/small.db"
BIG="$WORK/big.db"

# ---------------------------------------------------------------- results
# results.tsv: key, median in ms (or KiB for rss-*), and a note.
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
record() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }
value() { awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print v }' "$RESULTS"; }

# A command line that hyperfine --shell=none splits back into these words
# (one line: it splits like a POSIX shell and knows no $'\n' quoting).
cmdline() {
    local args=("${@//$'\n'/ }")
    printf '%q ' "${args[@]}"
}

# measure KEY RUNS [hyperfine options...] -- COMMAND WORDS...
measure() {
    local key="$1" runs="$2"
    shift 2
    local opts=()
    while [[ "$1" != -- ]]; do opts+=("$1"); shift; done
    shift
    local json="$WORK/$key.json"
    hyperfine -N --style none --runs "$runs" "${opts[@]}" --export-json "$json" \
        "$(cmdline "$@")" >"$WORK/$key.log" 2>&1 || {
        cat "$WORK/$key.log" >&2
        return 1
    }
    local median
    median=$(sed -n 's/^ *"median": *\([0-9.e+-]*\).*/\1/p' "$json" | head -n1)
    record "$key" "$(awk -v s="$median" 'BEGIN { printf "%.2f", s * 1000 }')"
    say "$(printf '%-28s %10s ms' "$key" "$(value "$key")")"
}

# Peak resident memory of one run, in KiB.
peak_rss() {
    local key="$1"
    shift
    /usr/bin/time -f '%M' -o "$WORK/$key.rss" "$@" >/dev/null
    record "$key" "$(tail -n1 "$WORK/$key.rss")"
    say "$(printf '%-28s %10s KiB' "$key" "$(value "$key")")"
}

# Like peak_rss, whatever the exit code (exit 10, a refusal: still measured).
peak_rss_any() {
    local key="$1"
    shift
    /usr/bin/time -f '%M' -o "$WORK/$key.rss" "$@" >/dev/null 2>&1 || true
    record "$key" "$(tail -n1 "$WORK/$key.rss")"
    say "$(printf '%-28s %10s KiB' "$key" "$(value "$key")")"
}

# ---------------------------------------------------------------- data
generate() {
    local db="$1" n="$2" key="$3"
    local start end
    start=$(date +%s%N)
    "$PT" --db "$db" demo --bookings "$n" --seed 7 2>/dev/null
    end=$(date +%s%N)
    record "$key" "$(( (end - start) / 1000000 ))"
    say "$(printf '%-28s %10s ms' "$key" "$(value "$key")")"
}
say "generating $N_SMALL and $N_BIG bookings in $WORK"
generate "$SMALL" "$N_SMALL" demo-small
generate "$BIG" "$N_BIG" demo-big

# The demo's catalogue grows with N (20 streams at 10k, 380 at 1M), so the two
# demos differ in streams as well as bookings. To show that `stats streams`
# does not depend on the number of bookings, thin a copy of the big database
# down to about N_SMALL bookings spread over all its streams: the DELETE goes
# through the same counter triggers, so the counters stay exact.
THIN="$WORK/thin.db"
sqlite3 "$BIG" ".backup '$THIN'"
sqlite3 "$THIN" "DELETE FROM bookings WHERE id % $(( N_BIG / N_SMALL > 0 ? N_BIG / N_SMALL : 1 )) <> 0; VACUUM;"

COLUMNS_SQL="b.id, b.user_id, b.username, b.first_name, b.course_id, b.course_stream, b.confirmed, b.created_at, b.referral_code, b.discount_percent, b.updated_at, b.confirmed_at"
pending_total=$(sqlite3 "$BIG" "SELECT COUNT(*) FROM bookings WHERE confirmed = 1")
deep=$(( DEEP < pending_total / 2 ? DEEP : pending_total / 2 ))
DEEP_ID=$(sqlite3 "$BIG" "SELECT id FROM bookings WHERE confirmed = 1 ORDER BY id DESC LIMIT 1 OFFSET $deep")
SINCE_DAY=$(date -u -d '365 days ago' +%Y-%m-%d)
SINCE_STORED="${SINCE_DAY}T00:00:00.000000Z"
NOW_STORED=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)

# The old system's export (`\copy bookings TO ... CSV HEADER`): +03 timestamps
# with microseconds, NULL as an empty cell. Also what PostgreSQL loads.
sqlite3 -csv -header "$BIG" "SELECT id, user_id, username, first_name, course_id, course_stream, confirmed,
    strftime('%Y-%m-%d %H:%M:%S', created_at, '+3 hours') || substr(created_at, 20, 7) || '+03' AS created_at,
    referral_code, discount_percent FROM bookings ORDER BY id" >"$WORK/legacy.csv"

# Payments for a range of bookings (all statuses: new, already paid, cancelled).
sqlite3 -csv -header "$BIG" "SELECT 'bench_' || b.id AS external_id, 'yookassa' AS provider, b.id AS booking_id,
    printf('%.2f', COALESCE(s.price_minor, 3000000) * (100 - COALESCE(b.discount_percent, 0)) / 10000.0) AS amount,
    'RUB' AS currency, strftime('%Y-%m-%dT%H:%M:%S+03:00', b.created_at, '+3 hours', '+2 days') AS paid_at,
    'Оплата курса, бронь №' || b.id AS description
    FROM bookings b LEFT JOIN streams s ON s.course_id = b.course_id AND s.code = b.course_stream
    ORDER BY b.id DESC LIMIT $PAYMENTS" >"$WORK/payments.csv"

# Ids for the write benchmarks: separate pending bookings for paytrack and for sqlite3.
sqlite3 "$BIG" "SELECT id FROM bookings WHERE confirmed = 1 ORDER BY (id * 7919) % 10007, id LIMIT $(( 2 * BULK + 2 ))" >"$WORK/pending-ids.txt"
ONE_ID=$(sed -n 1p "$WORK/pending-ids.txt")
ONE_ID_SQL=$(sed -n 2p "$WORK/pending-ids.txt")
sed -n "3,$(( BULK + 2 ))p" "$WORK/pending-ids.txt" >"$WORK/bulk-ids.txt"
sed -n "$(( BULK + 3 )),\$p" "$WORK/pending-ids.txt" >"$WORK/bulk-ids-sql.txt"
BULK_IN="$(paste -sd, "$WORK/bulk-ids-sql.txt")"

# A copy of the big database as generated, for the imports (the write benchmarks change $BIG).
cp "$BIG" "$WORK/pristine.db"

# ---------------------------------------------------------------- reads
say "timing (median of $RUNS runs unless noted)"
measure startup "$RUNS" --warmup "$WARMUP" -- "$PT" --version
measure sqlite-startup "$RUNS" --warmup "$WARMUP" -- sqlite3 :memory: 'select 1'

LIST_SQL="SELECT $COLUMNS_SQL FROM bookings b WHERE b.confirmed = 1 ORDER BY b.id DESC LIMIT 50"
DEEP_SQL="SELECT $COLUMNS_SQL FROM bookings b WHERE b.confirmed = 1 AND b.id < $DEEP_ID ORDER BY b.id DESC LIMIT 50"
SEARCH_SQL="SELECT $COLUMNS_SQL FROM bookings b WHERE instr(b.search_text, 'kate') > 0 ORDER BY b.id DESC LIMIT 50"
measure list "$RUNS" --warmup "$WARMUP" -- "$PT" --db "$BIG" bookings list --status pending --limit 50
measure sqlite-list "$RUNS" --warmup "$WARMUP" -- sqlite3 -csv "$BIG" "$LIST_SQL"
measure list-deep "$RUNS" --warmup "$WARMUP" -- "$PT" --db "$BIG" bookings list --status pending --limit 50 --cursor "$DEEP_ID"
measure sqlite-list-deep "$RUNS" --warmup "$WARMUP" -- sqlite3 -csv "$BIG" "$DEEP_SQL"
measure list-search "$RUNS" --warmup "$WARMUP" -- "$PT" --db "$BIG" bookings list --search kate --limit 50
measure sqlite-list-search "$RUNS" --warmup "$WARMUP" -- sqlite3 -csv "$BIG" "$SEARCH_SQL"
measure list-small "$RUNS" --warmup "$WARMUP" -- "$PT" --db "$SMALL" bookings list --status pending --limit 50

OLD_STATS_SQL="SELECT course_id, course_stream, COUNT(*) AS total,
    SUM(CASE WHEN confirmed = 2 THEN 1 ELSE 0 END) AS confirmed,
    SUM(CASE WHEN confirmed = 1 THEN 1 ELSE 0 END) AS pending,
    SUM(CASE WHEN confirmed = -1 THEN 1 ELSE 0 END) AS cancelled
  FROM bookings GROUP BY course_id, course_stream ORDER BY course_id, course_stream"
SINCE_SQL="SELECT course_id, COALESCE(course_stream, ''), confirmed, COUNT(*), SUM(100 - COALESCE(discount_percent, 0))
  FROM bookings WHERE created_at >= COALESCE('$SINCE_STORED', '') AND (NULL IS NULL OR created_at < NULL)
  GROUP BY course_id, COALESCE(course_stream, ''), confirmed ORDER BY 1, 2, 3"
measure stats-small "$RUNS" --warmup "$WARMUP" -- "$PT" --db "$SMALL" stats streams --csv
measure stats "$RUNS" --warmup "$WARMUP" -- "$PT" --db "$BIG" stats streams --csv
measure stats-thin "$RUNS" --warmup "$WARMUP" -- "$PT" --db "$THIN" stats streams --csv
measure sqlite-old-stats "$RUNS" --warmup "$WARMUP" -- sqlite3 -csv "$BIG" "$OLD_STATS_SQL"
measure stats-since "$RUNS" --warmup "$WARMUP" -- "$PT" --db "$BIG" stats streams --csv --since "$SINCE_DAY"
measure sqlite-stats-since "$RUNS" --warmup "$WARMUP" -- sqlite3 -csv "$BIG" "$SINCE_SQL"

EXPORT_SQL="SELECT $COLUMNS_SQL FROM bookings b ORDER BY b.id"
measure export-small "$RUNS" --warmup 1 -- "$PT" --db "$SMALL" bookings export --format csv
measure export "$SLOW_RUNS" --warmup 1 -- "$PT" --db "$BIG" bookings export --format csv
measure sqlite-export "$SLOW_RUNS" --warmup 1 -- sqlite3 -csv -header "$BIG" "$EXPORT_SQL"
peak_rss rss-export-small "$PT" --db "$SMALL" bookings export --format csv
peak_rss rss-export "$PT" --db "$BIG" bookings export --format csv

# ---------------------------------------------------------------- PostgreSQL
PG_OK=0
# PostgreSQL refuses to run as root: as root, run its tools as the postgres user (from /).
pg_as() { if [[ $(id -u) == 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
if [[ -x $PGBIN/initdb ]] && command -v psql >/dev/null; then
    PGDIR="$(mktemp -d /tmp/paytrack-bench-pg.XXXXXX)"
    [[ $(id -u) == 0 ]] && chown postgres: "$PGDIR"
    PGPORT=54329 # only names the socket file inside $PGDIR: no TCP listener, no clash
    say "starting a throwaway PostgreSQL 15 in $PGDIR"
    pg_as "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1
    pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
        -o "-c listen_addresses='' -k $PGDIR -p $PGPORT" start >/dev/null
    PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$PGDIR" -p "$PGPORT" -U postgres -d postgres)
    "${PSQL[@]}" -c "CREATE TABLE bookings (
        id bigint PRIMARY KEY, user_id bigint NOT NULL, username text, first_name text,
        course_id integer NOT NULL, course_stream text, confirmed integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL, referral_code text, discount_percent integer)"
    "${PSQL[@]}" -c "\\copy bookings FROM '$WORK/legacy.csv' CSV HEADER"
    "${PSQL[@]}" -c "VACUUM ANALYZE bookings"
    measure pg-old-stats "$RUNS" --warmup "$WARMUP" -- "${PSQL[@]}" -A -t -c "$OLD_STATS_SQL"
    PG_OK=1
elif [[ $SMOKE == 1 ]]; then
    say "PostgreSQL 15 is not installed: skipping the old-query baseline (smoke run)"
else
    echo "bench.sh: PostgreSQL 15 not found in $PGBIN" >&2
    exit 1
fi

# ---------------------------------------------------------------- writes
# Each run changes pending bookings to cancelled; the prepare step (not timed) reopens them.
measure set-status "$WRITE_RUNS" --warmup 1 \
    --prepare "$(cmdline "$PT" --db "$BIG" booking set-status "$ONE_ID" pending)" \
    -- "$PT" --db "$BIG" booking set-status "$ONE_ID" cancelled --reason bench
ONE_SQL="PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE;
  UPDATE bookings SET confirmed = -1, updated_at = '$NOW_STORED' WHERE id = $ONE_ID_SQL AND confirmed = 1;
  INSERT INTO audit_log (at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash)
  VALUES ('$NOW_STORED', 'bench', 'booking.status_changed', $ONE_ID_SQL, 'pending', 'cancelled', 'bench', '{}', '', '');
  COMMIT;"
measure sqlite-set-status "$WRITE_RUNS" --warmup 1 \
    --prepare "$(cmdline sqlite3 "$BIG" "UPDATE bookings SET confirmed = 1 WHERE id = $ONE_ID_SQL")" \
    -- sqlite3 "$BIG" "$ONE_SQL"

measure bulk-set-status "$WRITE_RUNS" --warmup 1 \
    --prepare "$(cmdline "$PT" --db "$BIG" bookings set-status --ids-from "$WORK/bulk-ids.txt" --to pending)" \
    -- "$PT" --db "$BIG" bookings set-status --ids-from "$WORK/bulk-ids.txt" --to cancelled --reason bench
BULK_SQL="PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE;
  INSERT INTO audit_log (at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash)
  SELECT '$NOW_STORED', 'bench', 'booking.status_changed', id, 'pending', 'cancelled', 'bench', '{}', '', ''
    FROM bookings WHERE confirmed = 1 AND id IN ($BULK_IN);
  UPDATE bookings SET confirmed = -1, updated_at = '$NOW_STORED' WHERE confirmed = 1 AND id IN ($BULK_IN);
  COMMIT;"
printf '%s\n' "$BULK_SQL" >"$WORK/bulk.sql"
measure sqlite-bulk-set-status "$WRITE_RUNS" --warmup 1 \
    --prepare "$(cmdline sqlite3 "$BIG" "UPDATE bookings SET confirmed = 1 WHERE id IN ($BULK_IN)")" \
    -- sqlite3 "$BIG" ".read $WORK/bulk.sql"

# Imports start from a fresh copy each run (the copy is not timed).
FRESH="$WORK/import.db"
fresh_copy() { cmdline bash -c "rm -f '$FRESH' '$FRESH-wal' '$FRESH-shm' && cp '$WORK/pristine.db' '$FRESH'"; }
fresh_empty() { cmdline bash -c "rm -f '$FRESH' '$FRESH-wal' '$FRESH-shm' && '$PT' --db '$FRESH' init 2>/dev/null"; }
BARE="$WORK/bare.db"
no_bare() { cmdline rm -f "$BARE"; }

PAYMENTS_OK=0
if "$PT" payments import --help >/dev/null 2>&1; then
    # Exit 10 means "rows need a person's attention", a normal outcome for this file.
    measure payments-import "$SLOW_RUNS" --warmup 1 -i --prepare "$(fresh_copy)" \
        -- "$PT" --db "$FRESH" payments import "$WORK/payments.csv"
    PAYMENTS_OK=1
else
    say "payments import is not in this build yet: marked pending"
fi
measure sqlite-payments-import "$SLOW_RUNS" --warmup 1 --prepare "$(no_bare)" \
    -- sqlite3 "$BARE" ".import --csv $WORK/payments.csv payments"

measure bookings-import "$SLOW_RUNS" --prepare "$(fresh_empty)" \
    -- "$PT" --db "$FRESH" bookings import "$WORK/legacy.csv"
measure sqlite-bookings-import "$SLOW_RUNS" --prepare "$(no_bare)" \
    -- sqlite3 "$BARE" ".import --csv $WORK/legacy.csv bookings"

# The fair floors (issue 19): the least SQL that writes the same rows into
# paytrack's schema, run by the sqlite3 CLI on the same file. `.import` above
# writes into a bare table with no index, trigger, audit or outbox.
#
# Payments: one matching pass (booking, stream terms, what it received
# before, pairs already stored), the outcome as a CASE, one INSERT…SELECT into
# payments, one UPDATE of bookings through the counter triggers, one message
# and one audit entry per confirmation, and the import's own entry. The floor
# leaves the audit hashes empty (SQLite cannot compute SHA-256): paytrack
# pays that, about 1 µs an entry. The script checks its own outcomes against
# paytrack's (below).
payments_floor_sql() {
    cat <<SQL
PRAGMA foreign_keys = ON;
PRAGMA synchronous = NORMAL;
PRAGMA temp_store = MEMORY;
.import --csv --schema temp $1 staging
BEGIN IMMEDIATE;
CREATE TEMP TABLE matched AS
SELECT s.rowid + 1 AS line, s.provider, s.external_id, CAST(s.booking_id AS INTEGER) AS booking_id,
       CAST(round(s.amount * 100) AS INTEGER) AS amount_minor, s.currency,
       strftime('%Y-%m-%dT%H:%M:%S.000000Z', s.paid_at) AS paid_at, s.description,
       b.confirmed AS status, b.user_id, b.first_name, b.course_id, b.course_stream,
       st.currency AS stream_currency, st.name AS stream_name, c.name AS course_name,
       (st.price_minor * (100 - COALESCE(b.discount_percent, 0)) + 50) / 100 AS expected,
       (SELECT TOTAL(p.amount_minor) FROM payments p WHERE p.booking_id = b.id AND p.currency = s.currency
           AND p.outcome IN ('confirmed', 'already_confirmed', 'partial', 'overpaid', 'cancelled', 'recorded', 'refund')) AS paid_before
  FROM temp.staging s
  LEFT JOIN bookings b ON b.id = CAST(s.booking_id AS INTEGER)
  LEFT JOIN streams st ON st.course_id = b.course_id AND st.code = b.course_stream
  LEFT JOIN courses c ON c.id = b.course_id
 WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.provider = s.provider AND p.external_id = s.external_id
                      AND p.outcome <> 'conflict');
CREATE TEMP TABLE decided AS
SELECT m.*, CASE
         WHEN amount_minor = 0 THEN 'not_positive'
         WHEN status IS NULL THEN 'unknown_booking'
         WHEN stream_currency IS NOT NULL AND currency <> stream_currency THEN 'currency_mismatch'
         WHEN amount_minor < 0 THEN 'refund'
         WHEN status = -1 THEN 'cancelled'
         WHEN status = 2 AND paid_before + amount_minor > COALESCE(expected, CASE WHEN paid_before > 0 THEN 0 END) THEN 'overpaid'
         WHEN status = 2 THEN 'already_confirmed'
         WHEN paid_before + amount_minor < expected THEN 'partial'
         WHEN paid_before + amount_minor > expected THEN 'overpaid'
         ELSE 'confirmed' END AS outcome,
       status = 1 AND amount_minor > 0 AND paid_before + amount_minor >= COALESCE(expected, 0) AS confirms
  FROM matched m;
INSERT INTO payments (provider, external_id, booking_id, amount_minor, currency, paid_at, description,
                      outcome, imported_at, reference_id)
SELECT provider, external_id, booking_id, amount_minor, currency, paid_at, description,
       outcome, '$NOW_STORED', booking_id FROM decided ORDER BY line;
UPDATE bookings SET confirmed = 2, updated_at = '$NOW_STORED', confirmed_at = '$NOW_STORED'
 WHERE confirmed = 1 AND id IN (SELECT booking_id FROM decided WHERE confirms);
INSERT INTO outbox (booking_id, chat_id, kind, body, status, next_attempt_at, created_at)
SELECT booking_id, user_id, 'confirmation',
       'Здравствуйте, ' || COALESCE(first_name, '') || '! Оплата курса «' || COALESCE(course_name, '#' || course_id)
       || '» (' || COALESCE(stream_name, course_stream, '') || ') подтверждена. Номер брони: ' || booking_id
       || '. До встречи на занятиях!', 'pending', '$NOW_STORED', '$NOW_STORED'
  FROM decided WHERE confirms ORDER BY line;
INSERT INTO audit_log (at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash)
SELECT '$NOW_STORED', 'bench', 'booking.status_changed', d.booking_id, 'pending', 'confirmed', NULL,
       json_object('amount', printf('%.2f', d.amount_minor / 100.0), 'currency', d.currency, 'forced', json('false'),
                   'message_id', o.id, 'payment_ref', d.external_id, 'provider', d.provider, 'source', 'payments import'),
       '', ''
  FROM decided d JOIN outbox o ON o.booking_id = d.booking_id AND o.created_at = '$NOW_STORED'
 WHERE d.confirms ORDER BY d.line;
INSERT INTO audit_log (at, actor, action, details, prev_hash, hash)
SELECT '$NOW_STORED', 'bench', 'payments.imported',
       json_object('rows', (SELECT COUNT(*) FROM temp.staging), 'imported', COUNT(*),
                   'bookings_confirmed', SUM(confirms)), '', ''
  FROM decided;
COMMIT;
SQL
}
payments_floor_sql "$WORK/payments.csv" >"$WORK/payments-floor.sql"
measure sqlite-payments-floor "$SLOW_RUNS" --warmup 1 --prepare "$(fresh_copy)" \
    -- sqlite3 "$FRESH" ".read $WORK/payments-floor.sql"
# The floor is only a floor if it writes what paytrack writes: same outcomes,
# same confirmations, same counters, same number of audit entries and messages.
outcomes_of() {
    sqlite3 "$1" "SELECT group_concat(outcome || '=' || n) FROM (SELECT outcome, COUNT(*) AS n FROM payments GROUP BY 1 ORDER BY 1);
      SELECT COUNT(*) FROM bookings WHERE confirmed = 2; SELECT COUNT(*) FROM outbox; SELECT COUNT(*) FROM audit_log;
      SELECT SUM(bookings * confirmed) FROM stream_counters;" | paste -sd' '
}
# (hyperfine's last run left the floor's result in $FRESH)
FLOOR_OUTCOMES=$(outcomes_of "$FRESH")
rm -f "$FRESH" "$FRESH-wal" "$FRESH-shm" && cp "$WORK/pristine.db" "$FRESH"
"$PT" --db "$FRESH" payments import "$WORK/payments.csv" >/dev/null 2>&1 || true
PAYTRACK_OUTCOMES=$(outcomes_of "$FRESH")
if [[ "$FLOOR_OUTCOMES" != "$PAYTRACK_OUTCOMES" ]]; then
    echo "bench.sh: the payments floor writes other rows than paytrack:" >&2
    echo "  floor:    $FLOOR_OUTCOMES" >&2
    echo "  paytrack: $PAYTRACK_OUTCOMES" >&2
    exit 1
fi
say "payments floor writes what paytrack writes: $PAYTRACK_OUTCOMES"
peak_rss_any rss-payments-import bash -c "rm -f '$FRESH'* && cp '$WORK/pristine.db' '$FRESH' && exec '$PT' --db '$FRESH' payments import '$WORK/payments.csv'"

# Bookings (the legacy export into an empty database): catalogue rows for
# every course and stream, the bookings with converted times and the search
# text through INSERT…SELECT, and — as paytrack does into an empty table —
# the indexes and the search index built after the rows; one audit entry.
bookings_floor_sql() {
    local schema_sql
    echo "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;"
    echo ".import --csv --schema temp $1 staging"
    echo "BEGIN IMMEDIATE;"
    sqlite3 "$2" "SELECT 'DROP ' || upper(type) || ' ' || name || ';' FROM sqlite_schema
        WHERE (type = 'index' AND tbl_name = 'bookings' AND sql IS NOT NULL) OR (type = 'trigger' AND name = 'bookings_search_insert')"
    cat <<SQL
INSERT OR IGNORE INTO courses (id, name, created_at, updated_at)
SELECT DISTINCT CAST(course_id AS INTEGER), 'Course ' || course_id, '$NOW_STORED', '$NOW_STORED' FROM temp.staging;
INSERT OR IGNORE INTO streams (course_id, code, created_at, updated_at)
SELECT DISTINCT CAST(course_id AS INTEGER), course_stream, '$NOW_STORED', '$NOW_STORED' FROM temp.staging WHERE course_stream <> '';
INSERT INTO bookings (id, user_id, username, first_name, course_id, course_stream, confirmed, created_at,
                      referral_code, discount_percent, updated_at, confirmed_at, search_text)
SELECT CAST(id AS INTEGER), CAST(user_id AS INTEGER), NULLIF(username, ''), NULLIF(first_name, ''),
       CAST(course_id AS INTEGER), NULLIF(course_stream, ''), CAST(confirmed AS INTEGER),
       strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '-3 hours') || substr(created_at, 20, 7) || 'Z',
       NULLIF(referral_code, ''), CAST(NULLIF(discount_percent, '') AS INTEGER), '$NOW_STORED',
       CASE WHEN confirmed = '2' THEN strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '-3 hours') || substr(created_at, 20, 7) || 'Z' END,
       lower(trim(COALESCE(username, '') || ' ' || COALESCE(first_name, '')))
  FROM temp.staging ORDER BY 1;
SQL
    sqlite3 "$2" "SELECT sql || ';' FROM sqlite_schema
        WHERE (type = 'index' AND tbl_name = 'bookings' AND sql IS NOT NULL) OR (type = 'trigger' AND name = 'bookings_search_insert')"
    cat <<SQL
INSERT INTO bookings_search (bookings_search) VALUES ('rebuild');
INSERT INTO audit_log (at, actor, action, details, prev_hash, hash)
SELECT '$NOW_STORED', 'bench', 'bookings.imported', json_object('rows', COUNT(*)), '', '' FROM temp.staging;
COMMIT;
SQL
}
"$PT" --db "$WORK/schema.db" init 2>/dev/null
bookings_floor_sql "$WORK/legacy.csv" "$WORK/schema.db" >"$WORK/bookings-floor.sql"
measure sqlite-bookings-floor "$SLOW_RUNS" --prepare "$(fresh_empty)" \
    -- sqlite3 "$FRESH" ".read $WORK/bookings-floor.sql"
peak_rss_any rss-bookings-import bash -c "rm -f '$FRESH'* && '$PT' --db '$FRESH' init 2>/dev/null && exec '$PT' --db '$FRESH' bookings import '$WORK/legacy.csv'"

# ---------------------------------------------------------------- memory and scale
# Peak RSS of every command that reads or writes many rows, at N_BIG (issue 19:
# none over 64 MB). A table of every booking is refused (exit 3, pointing at
# --csv); the files stream.
peak_rss_any rss-list-all-table "$PT" --db "$BIG" bookings list --all
peak_rss_any rss-list-all-csv "$PT" --db "$BIG" bookings list --all --csv
peak_rss_any rss-list-all-json "$PT" --db "$BIG" bookings list --all --json
peak_rss_any rss-audit-tail "$PT" --db "$BIG" audit tail -n 100000000
peak_rss_any rss-audit-tail-json "$PT" --db "$BIG" audit tail -n 100000000 --json
peak_rss_any rss-stats-verify "$PT" --db "$BIG" stats verify
peak_rss_any rss-demo bash -c "rm -f '$WORK/rss-demo.db'* && exec '$PT' --db '$WORK/rss-demo.db' demo --bookings $N_BIG --seed 7"
rm -f "$WORK/rss-demo.db"*

# stats verify recounts every booking: linear in N (≤ 5.2× from N to 5N).
measure stats-verify "$SLOW_RUNS" --warmup 1 -- "$PT" --db "$BIG" stats verify
measure stats-verify-small "$RUNS" --warmup 1 -- "$PT" --db "$SMALL" stats verify

# ---------------------------------------------------------------- report
# row LABEL KEY BASELINE-LABEL BASELINE-KEY TARGET(max ratio or empty)
ROWS=()
row() { ROWS+=("$1|$2|$3|$4|${5:-}"); }
row "start-up: paytrack --version" startup "sqlite3 :memory: 'select 1'" sqlite-startup 2
row "list --status pending --limit 50 ($N_BIG)" list "sqlite3 CLI, same SQL" sqlite-list 1.5
row "list, $deep rows deep (--cursor)" list-deep "sqlite3 CLI, same SQL" sqlite-list-deep 1.5
row "list --search kate" list-search "sqlite3 CLI, same SQL" sqlite-list-search
row "list first page at $N_BIG vs $N_SMALL" list "paytrack at $N_SMALL" list-small
row "stats streams --csv ($N_BIG)" stats "paytrack at $N_SMALL, same catalogue" stats-thin 1.2
row "stats streams --csv ($N_BIG)" stats "paytrack at $N_SMALL, small demo catalogue" stats-small
if [[ $PG_OK == 1 ]]; then
    row "stats streams --csv ($N_BIG)" stats "old GROUP BY, PostgreSQL 15 (psql)" pg-old-stats 0.05
fi
row "stats streams --csv ($N_BIG)" stats "old GROUP BY, sqlite3 CLI" sqlite-old-stats
row "stats streams --csv --since 1 year" stats-since "sqlite3 CLI, same SQL" sqlite-stats-since
row "bookings export --format csv ($N_BIG)" export "sqlite3 -csv, same SELECT" sqlite-export
row "export peak RSS (KiB) at $N_BIG vs $N_SMALL" rss-export "peak RSS at $N_SMALL" rss-export-small 1.5
row "booking set-status (one)" set-status "sqlite3: UPDATE + audit INSERT" sqlite-set-status
row "bookings set-status --ids-from ($BULK ids)" bulk-set-status "sqlite3: UPDATE + audit INSERT" sqlite-bulk-set-status
if [[ $PAYMENTS_OK == 1 ]]; then
    row "payments import ($PAYMENTS rows)" payments-import "sqlite3 .import, bare table" sqlite-payments-import 9
else
    row "payments import ($PAYMENTS rows): PENDING" "" "sqlite3 .import, bare table" sqlite-payments-import 3
fi
row "payments import ($PAYMENTS rows)" payments-import "set-based SQL floor, same rows (sqlite3)" sqlite-payments-floor 1.2
row "bookings import, legacy CSV ($N_BIG rows)" bookings-import "sqlite3 .import, bare table" sqlite-bookings-import
row "bookings import, legacy CSV ($N_BIG rows)" bookings-import "set-based SQL floor, same rows (sqlite3)" sqlite-bookings-floor 1.3
row "stats verify ($N_BIG)" stats-verify "stats verify ($N_SMALL)" stats-verify-small
row "demo --bookings $N_BIG (one run, ms)" demo-big "demo --bookings $N_SMALL" demo-small
for k in rss-payments-import rss-bookings-import rss-list-all-table rss-list-all-csv rss-list-all-json \
    rss-audit-tail rss-audit-tail-json rss-stats-verify rss-demo; do
    row "peak RSS (KiB) at $N_BIG: ${k#rss-}" "$k" "64 MB" limit-64mb 1
done
record limit-64mb 65536

TABLE="$WORK/table.md"
{
    echo "| benchmark | paytrack | baseline | baseline | ratio | target | met |"
    echo "|---|---:|---|---:|---:|---:|:---:|"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r label key blabel bkey target <<<"$r"
        a=$( [[ -n "$key" ]] && value "$key" || true )
        b=$(value "$bkey")
        ratio="" met=""
        if [[ -n "$a" && -n "$b" ]]; then
            ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
            if [[ -n "$target" && -n "$ratio" ]]; then
                met=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r <= t) ? "yes" : "NO" }')
            fi
        fi
        [[ -z "$a" ]] && a="pending"
        [[ -n "$target" ]] && target="≤ $target"
        echo "| $label | $a | $blabel | $b | $ratio | $target | $met |"
    done
} >"$TABLE"

echo
echo "paytrack benchmark: medians in ms (peak RSS in KiB); ratio = paytrack / baseline"
column -t -s '|' -o ' | ' <(sed -e '2d' -e 's/^| //' -e 's/ |$//' -e 's/ | /|/g' "$TABLE")

if [[ -n "$MARKDOWN" ]]; then
    {
        echo "## Results"
        echo
        echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "- command: \`examples/bench.sh$([[ $SMOKE == 1 ]] && echo ' --smoke')\` (N = $N_SMALL and $N_BIG, $RUNS runs per read benchmark, $WRITE_RUNS per write, $SLOW_RUNS per export/import)"
        echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(free -h | awk '/^Mem:/ { print $2 }') RAM"
        echo "- disk: $(df -h "$WORK" | awk 'NR == 2 { print $1 ", " $2 " (" $5 " used)" }')"
        echo "- OS: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
        echo "- $(rustc --version), $(sqlite3 --version | cut -d' ' -f1) (sqlite3 CLI), $("$PT" --version)"
        echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo
        cat "$TABLE"
    } >"$MARKDOWN"
    say "wrote $MARKDOWN"
fi
