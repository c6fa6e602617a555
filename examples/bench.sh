#!/usr/bin/env bash
# paytrack's benchmark (issue #9): whole processes timed with hyperfine on the
# same SQLite file, side by side with the sqlite3 CLI running the same SQL and
# with the old dashboard's statistics query in a throwaway PostgreSQL 15; then
# (issue 18) paytrack on PostgreSQL against psql on the same server, paired;
# (issue 26) its writes beside the bot (examples/bench-pg-writes.sh).
#
#   examples/bench.sh                         # the full run: 10,000 and 1,000,000 bookings
#   examples/bench.sh --markdown results.md   # also write the table (and the machine) as markdown
#   examples/bench.sh --pg-only               # only the PostgreSQL backend section
#   examples/bench.sh --smoke                 # tiny N, debug build, PostgreSQL optional (CI)
#
# Environment: BENCH_BIG (1000000), BENCH_SMALL (10000), BENCH_RUNS (15),
# BENCH_PG_ROUNDS (10), BENCH_PAIRED_ROUNDS (10: the SQLite targets timed in
# paired rounds), BENCH_KEEP=1 keeps the temp dir (and the databases).
# PAYTRACK_BENCH_PG=postgres://... runs the PostgreSQL parts on that server
# (in databases of their own, dropped at the end); without it a throwaway
# cluster is started with .ci/pg-cluster (--smoke: PAYTRACK_TEST_PG first,
# and PostgreSQL is skipped when there is none). Ratios are paytrack /
# baseline (lower is better).
set -euo pipefail

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
}

SMOKE=0
PG_ONLY=0
MARKDOWN=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) SMOKE=1 ;;
        --pg-only) PG_ONLY=1 ;;
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
    PG_ROUNDS=${BENCH_PG_ROUNDS:-2} PG_PER=1 PG_WRITE_PER=1 PG_SQL_SECONDS=1
    PAIRED_ROUNDS=${BENCH_PAIRED_ROUNDS:-2} PAIRED_PER=2
    PROFILE=debug
else
    N_BIG=${BENCH_BIG:-1000000} N_SMALL=${BENCH_SMALL:-10000} RUNS=${BENCH_RUNS:-15}
    WRITE_RUNS=5 SLOW_RUNS=3 WARMUP=3 DEEP=50000 BULK=10000 PAYMENTS=100000
    PG_ROUNDS=${BENCH_PG_ROUNDS:-10} PG_PER=3 PG_WRITE_PER=2 PG_SQL_SECONDS=10
    PAIRED_ROUNDS=${BENCH_PAIRED_ROUNDS:-10} PAIRED_PER=10
    # The shipped build: what `cargo install` builds (Cargo.toml's `release`:
    # opt-level s, fat LTO, one codegen unit; issue 28).
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
        [[ -n ${PAYTRACK_BENCH_PG:-} || -x $PGBIN/initdb ]] || packages+=(postgresql-15)
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
PT_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"

WORK="$(mktemp -d /tmp/paytrack-bench.XXXXXX)"
PGDIR=""      # a throwaway cluster this script started (.ci/pg-cluster)
PG_URL=""     # the server's URL (its maintenance database), empty: no PostgreSQL
PG_DBS=()     # databases this script created on it
cleanup() {
    if [[ -n "$PG_URL" && ${BENCH_KEEP:-0} != 1 ]]; then
        for db in "${PG_DBS[@]}"; do
            "$PSQL_BIN" -X -q -d "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
        done
    fi
    if [[ -n "$PGDIR" ]]; then
        "$ROOT/.ci/pg-cluster" stop "$PGDIR" >/dev/null 2>&1 || true
        if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "kept $PGDIR (stopped)"; else rm -rf "$PGDIR"; fi
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"

# ---------------------------------------------------------------- PostgreSQL server
# PAYTRACK_BENCH_PG, else (--smoke) the test suite's PAYTRACK_TEST_PG, else a
# throwaway cluster (.ci/pg-cluster: socket in a temp dir, fsync off). A smoke
# run without PostgreSQL skips its parts; a full run needs them.
# Debian's /usr/bin/psql is a Perl wrapper (pg_wrapper) that costs ~25 ms a
# start: the baselines run the real binary.
PSQL_BIN=$(command -v psql || true)
[[ -x $PGBIN/psql ]] && PSQL_BIN=$PGBIN/psql
PGBENCH_BIN=$(command -v pgbench || true)
[[ -x $PGBIN/pgbench ]] && PGBENCH_BIN=$PGBIN/pgbench
PG_ORIGIN=""
if [[ -n ${PAYTRACK_BENCH_PG:-} ]]; then
    PG_URL=$PAYTRACK_BENCH_PG PG_ORIGIN="PAYTRACK_BENCH_PG"
elif [[ $SMOKE == 1 && -n ${PAYTRACK_TEST_PG:-} ]]; then
    PG_URL=$PAYTRACK_TEST_PG PG_ORIGIN="PAYTRACK_TEST_PG"
elif [[ -x $PGBIN/initdb && -n "$PSQL_BIN" ]]; then
    PGDIR="$(mktemp -d /tmp/paytrack-bench-pg.XXXXXX)"
    say "starting a throwaway PostgreSQL 15 in $PGDIR (.ci/pg-cluster)"
    if PG_URL=$("$ROOT/.ci/pg-cluster" start "$PGDIR" 2>"$WORK/pg-cluster.log"); then
        PG_ORIGIN="throwaway cluster (.ci/pg-cluster: fsync, synchronous_commit and full_page_writes off)"
    else
        PG_URL=""
        cat "$WORK/pg-cluster.log" >&2
        if [[ $SMOKE == 0 ]]; then echo "bench.sh: could not start PostgreSQL" >&2; exit 1; fi
        say "could not start PostgreSQL: its parts are skipped (smoke run)"
    fi
fi
if [[ -n "$PG_URL" && -z "$PSQL_BIN" ]]; then
    if [[ $SMOKE == 0 ]]; then echo "bench.sh: psql not found" >&2; exit 1; fi
    say "psql is not installed: PostgreSQL parts skipped (smoke run)"
    PG_URL=""
fi
if [[ -n "$PG_URL" ]] && ! "$PSQL_BIN" -X -q -d "$PG_URL" -c 'SELECT 1' >/dev/null 2>"$WORK/pg-connect.log"; then
    cat "$WORK/pg-connect.log" >&2
    if [[ $SMOKE == 0 ]]; then echo "bench.sh: cannot connect to PostgreSQL ($PG_ORIGIN)" >&2; exit 1; fi
    say "cannot connect to PostgreSQL ($PG_ORIGIN): its parts are skipped (smoke run)"
    PG_URL=""
fi
if [[ -z "$PG_URL" && $SMOKE == 0 ]]; then
    echo "bench.sh: PostgreSQL 15 not found in $PGBIN (or set PAYTRACK_BENCH_PG)" >&2
    exit 1
fi
if [[ -z "$PG_URL" && -z "$PG_ORIGIN" && -z "$PGDIR" ]]; then
    say "no PostgreSQL (PAYTRACK_TEST_PG unset, none installed): its parts are skipped (smoke run)"
fi

# The URL of database $1 on the same server (same host, port, user, options).
pg_db_url() {
    local base="${PG_URL%%\?*}" query=""
    [[ "$PG_URL" == *\?* ]] && query="?${PG_URL#*\?}"
    local rest="${base#*://}"
    [[ "$rest" == */* ]] && base="${base%/*}"
    printf '%s/%s%s' "$base" "$1" "$query"
}
# A fresh database named $1 (dropped again at exit unless BENCH_KEEP=1).
pg_create_db() {
    PGOPTIONS="-c client_min_messages=warning" "$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 -d "$PG_URL" \
        -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
    PG_DBS+=("$1")
}
PG_PREFIX="paytrack_bench_$$"
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

median() {
    printf '%s\n' "$@" | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# paired KEY_A KEY_B PER WARMUP CMD_A CMD_B [PREP_A PREP_B]
# ROUNDS rounds (default PG_ROUNDS); each round is one hyperfine call timing PER runs of A and
# PER runs of B (after WARMUP runs of each), A first in odd rounds and B first
# in even ones, so both see the same minutes of a shared machine. Records
# KEY_A and KEY_B (median over rounds of each round's median, ms), KEY_A/KEY_B
# (median of the per-round ratios) and KEY_A/KEY_B-range (their min–max).
paired() {
    local ka="$1" kb="$2" per="$3" warm="$4" ca="$5" cb="$6" pa="${7:-}" pb="${8:-}"
    local r csv m1 m2 args as=() bs=() rs=()
    for ((r = 1; r <= ${ROUNDS:-$PG_ROUNDS}; r++)); do
        csv="$WORK/$ka.r$r.csv"
        # PAIRED_FLAGS: -i for a command whose exit code is not 0 by design.
        args=(-N --style none --runs "$per" --warmup "$warm" --export-csv "$csv" ${PAIRED_FLAGS:-})
        if ((r % 2)); then
            [[ -n "$pa" ]] && args+=(--prepare "$pa" --prepare "$pb")
            args+=("$ca" "$cb")
        else
            [[ -n "$pa" ]] && args+=(--prepare "$pb" --prepare "$pa")
            args+=("$cb" "$ca")
        fi
        hyperfine "${args[@]}" >"$WORK/$ka.r$r.log" 2>&1 || {
            cat "$WORK/$ka.r$r.log" >&2
            return 1
        }
        # command,mean,stddev,median,user,system,min,max: the command may hold
        # commas (quoted), so the median is counted from the end.
        m1=$(awk -F, 'NR == 2 { printf "%.3f", $(NF - 4) * 1000 }' "$csv")
        m2=$(awk -F, 'NR == 3 { printf "%.3f", $(NF - 4) * 1000 }' "$csv")
        if ((r % 2)); then as+=("$m1") bs+=("$m2"); else as+=("$m2") bs+=("$m1"); fi
        rs+=("$(awk -v a="${as[-1]}" -v b="${bs[-1]}" 'BEGIN { printf "%.4f", a / b }')")
    done
    record "$ka" "$(median "${as[@]}")"
    record "$kb" "$(median "${bs[@]}")"
    record "$ka/$kb" "$(median "${rs[@]}")"
    record "$ka/$kb-range" "$(printf '%s\n' "${rs[@]}" | sort -g |
        awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f–%.2f", lo, hi }')"
    say "$(printf '%-28s %10s ms vs %s ms: %s (rounds %s)' "$ka" "$(value "$ka")" "$(value "$kb")" \
        "$(value "$ka/$kb")" "$(value "$ka/$kb-range")")"
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

if [[ $PG_ONLY == 0 ]]; then # the SQLite sections, up to "memory and scale"
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
# The targets, also in paired rounds: both sides in the same minutes.
ROUNDS=$PAIRED_ROUNDS paired list-paired sqlite-list-paired "$PAIRED_PER" "$WARMUP" \
    "$(cmdline "$PT" --db "$BIG" bookings list --status pending --limit 50)" \
    "$(cmdline sqlite3 -csv "$BIG" "$LIST_SQL")"
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

# ---------------------------------------------------------------- PostgreSQL: the old query
# The old dashboard's statistics query on the old system's bare table, loaded
# from the same demo data (the legacy export), in a database of its own.
PG_OK=0
if [[ -n "$PG_URL" ]]; then
    LEGACY_URL=$(pg_db_url "${PG_PREFIX}_legacy")
    pg_create_db "${PG_PREFIX}_legacy"
    PSQL=("$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 -d "$LEGACY_URL")
    "${PSQL[@]}" -c "CREATE TABLE bookings (
        id bigint PRIMARY KEY, user_id bigint NOT NULL, username text, first_name text,
        course_id integer NOT NULL, course_stream text, confirmed integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL, referral_code text, discount_percent integer)"
    "${PSQL[@]}" -c "\\copy bookings FROM '$WORK/legacy.csv' CSV HEADER"
    "${PSQL[@]}" -c "VACUUM ANALYZE bookings"
    measure pg-old-stats "$RUNS" --warmup "$WARMUP" -- "${PSQL[@]}" -A -t -c "$OLD_STATS_SQL"
    PG_OK=1
else
    say "no PostgreSQL: skipping the old-query baseline (smoke run)"
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
ROUNDS=$PAIRED_ROUNDS paired set-status-paired sqlite-set-status-paired "$WRITE_RUNS" 1 \
    "$(cmdline "$PT" --db "$BIG" booking set-status "$ONE_ID" cancelled --reason bench)" \
    "$(cmdline sqlite3 "$BIG" "$ONE_SQL")" \
    "$(cmdline "$PT" --db "$BIG" booking set-status "$ONE_ID" pending)" \
    "$(cmdline sqlite3 "$BIG" "UPDATE bookings SET confirmed = 1 WHERE id = $ONE_ID_SQL")"

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
# Paired (issue 19): on a shared machine the import and its floor, timed
# minutes apart by hyperfine above, drift by more than the 1.2x target; the
# target row is the median of paired rounds on fresh copies.
ROUNDS=$PAIRED_ROUNDS PAIRED_FLAGS=-i paired payments-import-paired sqlite-payments-floor-paired 1 0 \
    "$(cmdline "$PT" --db "$FRESH" payments import "$WORK/payments.csv")" \
    "$(cmdline sqlite3 "$FRESH" ".read $WORK/payments-floor.sql")" \
    "$(fresh_copy)" "$(fresh_copy)"
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
fi # PG_ONLY == 0

# ---------------------------------------------------------------- PostgreSQL backend (issue 18)
# paytrack itself on PostgreSQL: `paytrack init` on an empty database (the
# bot-shaped public.bookings, the paytrack schema, the view, the statement-level
# counter triggers), N_BIG bookings loaded by SQL, then each command against
# psql running its baseline on the same server, paired and interleaved.

# sql_only KEY FILE: pgbench's mean latency (ms) of the script FILE on one
# kept connection for PG_SQL_SECONDS: what the SQL itself costs, with no
# process start and no connection set-up (nothing if pgbench is missing).
sql_only() {
    local key="$1" file="$2"
    [[ -n "$PGBENCH_BIN" ]] || return 0
    "$PGBENCH_BIN" -n -f "$file" -T "$PG_SQL_SECONDS" "$PT_URL" >"$WORK/$key.log" 2>&1 || {
        cat "$WORK/$key.log" >&2
        return 1
    }
    record "$key" "$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$WORK/$key.log")"
    say "$(printf '%-28s %10s ms (pgbench, %s transactions)' "$key" "$(value "$key")" \
        "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/$key.log")")"
}

# Peak RSS (KiB) and wall time (s) of one run.
rss_and_wall() {
    local key="$1"
    shift
    /usr/bin/time -f '%M %e' -o "$WORK/$key.rss" "$@" >/dev/null
    record "$key" "$(tail -n1 "$WORK/$key.rss" | cut -d' ' -f1)"
    record "$key-s" "$(tail -n1 "$WORK/$key.rss" | cut -d' ' -f2)"
    say "$(printf '%-28s %10s KiB %8s s' "$key" "$(value "$key")" "$(value "$key-s")")"
}

PG_BACKEND=0
if [[ -n "$PG_URL" ]]; then
    PT_URL=$(pg_db_url "${PG_PREFIX}_pt")
    pg_create_db "${PG_PREFIX}_pt"
    PQ=("$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 -d "$PT_URL")
    "$PT" --db "$PT_URL" init 2>/dev/null
    PG_VERSION=$("${PQ[@]}" -A -t -c "SHOW server_version")
    PG_SETTINGS=$("${PQ[@]}" -A -t -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
        WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'work_mem', 'jit')")

    # The bot's rows, by SQL (paytrack's demo refuses PostgreSQL): 20 courses x
    # 19 streams (380, as the SQLite demo's catalogue at 1M), ~55% confirmed,
    # 30% pending, 15% cancelled, two years of created_at in id order, 10% with
    # a referral code and a discount. One statement: the counter triggers run once.
    say "loading $N_BIG bookings into public.bookings on PostgreSQL $PG_VERSION ($PG_ORIGIN)"
    start=$(date +%s%N)
    "${PQ[@]}" -o /dev/null -v n="$N_BIG" <<'SQL'
SELECT setseed(0.7);
INSERT INTO public.bookings (user_id, username, first_name, course_id, course_stream, confirmed,
                             created_at, referral_code, discount_percent)
SELECT 100000000 + (random() * :n / 3)::bigint,
       CASE WHEN random() < 0.8 THEN 'user_' || (random() * :n)::int END,
       (ARRAY['Kate', 'Анна', 'Иван', 'Мария', 'Alex', 'Ольга', 'Дмитрий', 'Sam', 'Екатерина', 'Всеволод'])[1 + (random() * 9.999)::int],
       c, 'stream-' || (1 + (i * 7 % 19)),
       CASE WHEN r < 0.55 THEN 2 WHEN r < 0.85 THEN 1 ELSE -1 END,
       timestamptz '2024-12-01 00:00:00+00' + (i::double precision / :n) * interval '730 days',
       CASE WHEN random() < 0.1 THEN 'REF' || (random() * 50)::int END,
       CASE WHEN random() < 0.1 THEN (ARRAY[10, 15, 20])[1 + (random() * 2.999)::int] END
  FROM (SELECT i, 1 + (i % 20) AS c, random() AS r FROM generate_series(1, :n) AS i) g;
SQL
    end=$(date +%s%N)
    record pg-load "$(((end - start) / 1000000))"
    say "$(printf '%-28s %10s ms' pg-load "$(value pg-load)")"
    "${PQ[@]}" -c "VACUUM ANALYZE public.bookings" -c "VACUUM ANALYZE paytrack.stream_counter_deltas"

    # The old dashboard's stream statistics (getCourseStreamStats: conditional
    # aggregation grouped by course and stream) on the bot's table.
    PG_OLD_STATS_SQL="SELECT course_id, course_stream, COUNT(*) AS total,
    SUM(CASE WHEN confirmed = 2 THEN 1 ELSE 0 END) AS confirmed,
    SUM(CASE WHEN confirmed = 1 THEN 1 ELSE 0 END) AS pending,
    SUM(CASE WHEN confirmed = -1 THEN 1 ELSE 0 END) AS cancelled
  FROM public.bookings GROUP BY course_id, course_stream ORDER BY course_id, course_stream"
    # The counters must say what the GROUP BY says, or the comparison means nothing.
    counters=$("$PT" --db "$PT_URL" stats streams --csv | awk -F, 'NR > 1 { print $1 "," $3 "," $5 "," $6 "," $7 "," $8 }' | sort)
    grouped=$("${PQ[@]}" -A -t -F, -c "$PG_OLD_STATS_SQL" | sort)
    if [[ "$counters" != "$grouped" ]]; then
        echo "bench.sh: on PostgreSQL, stats streams disagrees with the GROUP BY:" >&2
        diff <(echo "$counters") <(echo "$grouped") | head -n 20 >&2
        exit 1
    fi
    say "stats streams on PostgreSQL = the old GROUP BY ($(echo "$counters" | wc -l) streams)"

    # What `bookings list --status pending --limit 50` runs (through a cursor,
    # one row more to know whether there is a next page): the same SELECT on
    # paytrack's view of the bot's table, with search_path = paytrack, public.
    PG_LIST_SQL="SELECT b.id, b.user_id, b.username, b.first_name, b.course_id, b.course_stream, b.confirmed, b.created_at, b.referral_code, b.discount_percent, b.updated_at, b.confirmed_at FROM paytrack.bookings b WHERE b.confirmed = 1 ORDER BY b.id DESC LIMIT 50"

    # Two pending bookings in the middle: one for paytrack, one for psql.
    mapfile -t pg_ids < <("${PQ[@]}" -A -t -c "SELECT id FROM public.bookings
        WHERE confirmed = 1 AND id <= $((N_BIG / 2)) ORDER BY id DESC LIMIT 2")
    PG_ID=${pg_ids[0]} PG_ID_SQL=${pg_ids[1]}
    PG_NOW=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
    # The bare write: the status (through paytrack's view, which also keeps
    # updated_at and confirmed_at, as paytrack's UPDATE does) and one audit
    # entry, in one transaction. Not done: paytrack's rule check, lock, the
    # booking read, the hash and the confirmation message it queues. (The
    # entry names the last one's hash as prev_hash: since issue 26 the
    # audit log refuses an entry that does not extend the chain.)
    PG_ONE_SQL="BEGIN;
  UPDATE paytrack.bookings SET confirmed = 2, updated_at = '$PG_NOW', confirmed_at = '$PG_NOW' WHERE id = $PG_ID_SQL AND confirmed = 1;
  INSERT INTO paytrack.audit_log (id, at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash, format)
  SELECT COALESCE(MAX(id), 0) + 1, '$PG_NOW', 'bench', 'booking.status_changed', $PG_ID_SQL, 'pending', 'confirmed', NULL, '{}', COALESCE((SELECT hash FROM paytrack.audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64)), '', 2
    FROM paytrack.audit_log;
  COMMIT;"

    say "PostgreSQL: $PG_ROUNDS rounds, paytrack and psql interleaved (medians in ms)"
    paired pg-stats pg-old-stats-same "$PG_PER" 1 \
        "$(cmdline "$PT" --db "$PT_URL" stats streams --csv)" \
        "$(cmdline "${PQ[@]}" -A -t -c "$PG_OLD_STATS_SQL")"
    # The floor of any psql baseline: its start, the connection, a trivial query.
    paired pg-stats-again pg-psql-select-1 "$PG_PER" 1 \
        "$(cmdline "$PT" --db "$PT_URL" stats streams --csv)" \
        "$(cmdline "${PQ[@]}" -A -t -c "SELECT 1")"
    paired pg-list pg-psql-list "$PG_PER" 1 \
        "$(cmdline "$PT" --db "$PT_URL" bookings list --status pending --limit 50)" \
        "$(cmdline "${PQ[@]}" -A -t -c "$PG_LIST_SQL")"
    # Each timed run confirms a pending booking; the prepare step (not timed)
    # puts it back to pending (paytrack: --force, as that is not a normal move).
    paired pg-set-status pg-psql-set-status "$PG_WRITE_PER" 1 \
        "$(cmdline "$PT" --db "$PT_URL" booking set-status "$PG_ID" confirmed)" \
        "$(cmdline "${PQ[@]}" -c "$PG_ONE_SQL")" \
        "$(cmdline "$PT" --db "$PT_URL" booking set-status "$PG_ID" pending --force --reason bench)" \
        "$(cmdline "${PQ[@]}" -c "UPDATE public.bookings SET confirmed = 1 WHERE id = $PG_ID_SQL")"

    # The baselines' SQL alone (pgbench, one connection): how much of each time
    # above is process start and connection. The write flips the same booking
    # between pending and confirmed so every transaction changes a row.
    printf '%s;\n' "$PG_OLD_STATS_SQL" >"$WORK/pg-old-stats.sql"
    printf '%s;\n' "$PG_LIST_SQL" >"$WORK/pg-list.sql"
    printf '%s\n' "BEGIN;" \
        "UPDATE paytrack.bookings SET confirmed = 3 - confirmed, updated_at = '$PG_NOW', confirmed_at = '$PG_NOW' WHERE id = $PG_ID_SQL AND confirmed IN (1, 2);" \
        "INSERT INTO paytrack.audit_log (id, at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash, format) SELECT COALESCE(MAX(id), 0) + 1, '$PG_NOW', 'bench', 'booking.status_changed', $PG_ID_SQL, 'pending', 'confirmed', NULL, '{}', COALESCE((SELECT hash FROM paytrack.audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64)), '', 2 FROM paytrack.audit_log;" \
        "COMMIT;" >"$WORK/pg-set-status.sql"
    sql_only pgbench-old-stats "$WORK/pg-old-stats.sql"
    sql_only pgbench-list "$WORK/pg-list.sql"
    sql_only pgbench-set-status "$WORK/pg-set-status.sql"

    # Issue 26, item 6: the reads and the outbox against their floors.
    # `bookings export` against psql's COPY of the same rows and columns
    # (what \copy … TO STDOUT sends), three paired rounds of one run each.
    PG_EXPORT_SQL="COPY (SELECT b.id, b.user_id, b.username, b.first_name, b.course_id, b.course_stream, b.confirmed, b.created_at, b.referral_code, b.discount_percent, b.updated_at, b.confirmed_at FROM paytrack.bookings b ORDER BY b.id) TO STDOUT WITH (FORMAT csv, HEADER)"
    ROUNDS=3 paired pg-export pg-psql-copy 1 0 \
        "$(cmdline "$PT" --db "$PT_URL" bookings export --format csv)" \
        "$(cmdline "${PQ[@]}" -c "$PG_EXPORT_SQL")"
    # A --search that matches nothing (the worst case without an index: every
    # name read) against the status page, both paytrack.
    paired pg-search-miss pg-list-again "$PG_PER" 1 \
        "$(cmdline "$PT" --db "$PT_URL" bookings list --search zzqxj --limit 50)" \
        "$(cmdline "$PT" --db "$PT_URL" bookings list --status pending --limit 50)"
    # outbox drain with a fast --exec: one bulk confirm queues DRAIN_N
    # messages, then one drain sends them all (wall time of that one run).
    DRAIN_N=$((SMOKE == 1 ? 200 : 5000))
    "${PQ[@]}" -A -t -c "SELECT id FROM public.bookings WHERE confirmed = 1 AND id > $((N_BIG / 2)) ORDER BY id LIMIT $DRAIN_N" >"$WORK/drain-ids.txt"
    "$PT" --db "$PT_URL" bookings set-status --ids-from "$WORK/drain-ids.txt" --to confirmed 2>/dev/null
    DRAIN_QUEUED=$("${PQ[@]}" -A -t -c "SELECT count(*) FROM paytrack.outbox WHERE status = 'pending'")
    start=$(date +%s%N)
    "$PT" --db "$PT_URL" outbox drain --exec /bin/true -q
    end=$(date +%s%N)
    DRAIN_SENT=$("${PQ[@]}" -A -t -c "SELECT count(*) FROM paytrack.outbox WHERE status = 'sent'")
    record pg-drain-ms "$(((end - start) / 1000000))"
    # Time per 1,000 messages against 40 s (25 a second, the issue's floor).
    record pg-drain-per-1000 "$(awk -v ms="$(value pg-drain-ms)" -v n="$DRAIN_SENT" 'BEGIN { printf "%.0f", ms * 1000 / n }')"
    record limit-drain-40s 40000
    record pg-drain-rate "$(awk -v ms="$(value pg-drain-ms)" -v n="$DRAIN_SENT" 'BEGIN { printf "%.1f", n / (ms / 1000) }')"
    say "$(printf '%-28s %10s ms for %s of %s queued: %s messages/s' pg-drain "$(value pg-drain-ms)" "$DRAIN_SENT" "$DRAIN_QUEUED" "$(value pg-drain-rate)")"

    # Peak memory of the commands that stream every booking from PostgreSQL.
    rss_and_wall rss-pg-export "$PT" --db "$PT_URL" bookings export --format csv
    rss_and_wall rss-pg-list-all-csv "$PT" --db "$PT_URL" bookings list --all --csv
    PG_BACKEND=1

    # Writes beside the bot (issue 26): payments import against its floor,
    # and a bulk change with the bot's longest wait.
    source "$ROOT/examples/bench-pg-writes.sh"
fi


# ---------------------------------------------------------------- report
# row LABEL KEY BASELINE-LABEL BASELINE-KEY TARGET(max ratio or empty)
ROWS=()
row() { ROWS+=("$1|$2|$3|$4|${5:-}"); }
record limit-64mb 65536
if [[ $PG_ONLY == 0 ]]; then
row "start-up: paytrack --version" startup "sqlite3 :memory: 'select 1'" sqlite-startup 2
row "list --status pending --limit 50 ($N_BIG)" list "sqlite3 CLI, same SQL" sqlite-list 1.5
row "list --status pending --limit 50 ($N_BIG), median of $PAIRED_ROUNDS paired rounds" list-paired "sqlite3 CLI, same SQL" sqlite-list-paired 1.25
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
row "booking set-status (one), median of $PAIRED_ROUNDS paired rounds" set-status-paired "sqlite3: UPDATE + audit INSERT" sqlite-set-status-paired 1.1
row "bookings set-status --ids-from ($BULK ids)" bulk-set-status "sqlite3: UPDATE + audit INSERT" sqlite-bulk-set-status
if [[ $PAYMENTS_OK == 1 ]]; then
    row "payments import ($PAYMENTS rows)" payments-import "sqlite3 .import, bare table" sqlite-payments-import 9
else
    row "payments import ($PAYMENTS rows): PENDING" "" "sqlite3 .import, bare table" sqlite-payments-import 3
fi
row "payments import ($PAYMENTS rows), unpaired" payments-import "set-based SQL floor, same rows (sqlite3)" sqlite-payments-floor
row "payments import ($PAYMENTS rows), median of $PAIRED_ROUNDS paired rounds" payments-import-paired "set-based SQL floor, same rows (sqlite3)" sqlite-payments-floor-paired 1.2
row "bookings import, legacy CSV ($N_BIG rows)" bookings-import "sqlite3 .import, bare table" sqlite-bookings-import
row "bookings import, legacy CSV ($N_BIG rows)" bookings-import "set-based SQL floor, same rows (sqlite3)" sqlite-bookings-floor 1.3
row "stats verify ($N_BIG)" stats-verify "stats verify ($N_SMALL)" stats-verify-small
row "demo --bookings $N_BIG (one run, ms)" demo-big "demo --bookings $N_SMALL" demo-small
for k in rss-payments-import rss-bookings-import rss-list-all-table rss-list-all-csv rss-list-all-json \
    rss-audit-tail rss-audit-tail-json rss-stats-verify rss-demo; do
    row "peak RSS (KiB) at $N_BIG: ${k#rss-}" "$k" "64 MB" limit-64mb 1
done
fi

# table ROWS... (as row() makes them) as markdown on stdout. A PAIRED row's
# ratio is the median of its rounds' ratios, with their range; any other's is
# the ratio of the two medians.
table() {
    local r label key blabel bkey target a b ratio met range
    echo "| benchmark | paytrack | baseline | baseline | ratio | target | met |"
    echo "|---|---:|---|---:|---:|---:|:---:|"
    for r in "$@"; do
        IFS='|' read -r label key blabel bkey target <<<"$r"
        a=$( [[ -n "$key" ]] && value "$key" || true )
        b=$(value "$bkey")
        ratio="" met=""
        if [[ -n "$a" && -n "$b" ]]; then
            ratio=$(value "$key/$bkey")
            range=$(value "$key/$bkey-range")
            [[ -z "$ratio" ]] && ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
            if [[ -n "$target" && -n "$ratio" ]]; then
                met=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r <= t) ? "yes" : "NO" }')
            fi
            [[ -n "$range" ]] && ratio="$ratio ($range)"
        fi
        [[ -z "$a" ]] && a="pending"
        [[ -n "$target" ]] && target="≤ $target"
        echo "| $label | $a | $blabel | $b | $ratio | $target | $met |"
    done
}
show() { column -t -s '|' -o ' | ' <(sed -e '2d' -e 's/^| //' -e 's/ |$//' -e 's/ | /|/g' "$1"); }

TABLE="$WORK/table.md"
if [[ $PG_ONLY == 0 ]]; then
    table "${ROWS[@]}" >"$TABLE"
    echo
    echo "paytrack benchmark: medians in ms (peak RSS in KiB); ratio = paytrack / baseline"
    show "$TABLE"
fi

PG_TABLE="$WORK/pg-table.md"
if [[ $PG_BACKEND == 1 ]]; then
    ROWS=()
    row "stats streams --csv (counters)" pg-stats "old GROUP BY (psql)" pg-old-stats-same 0.05
    row "stats streams --csv (counters)" pg-stats-again "psql -c 'SELECT 1' (start, connect)" pg-psql-select-1
    row "bookings list --status pending --limit 50" pg-list "psql, same SELECT on the view" pg-psql-list 1.5
    row "booking set-status ID confirmed (one)" pg-set-status "psql: UPDATE + audit INSERT" pg-psql-set-status
    if [[ -n "$(value pgbench-list)" ]]; then
        row "stats streams --csv (counters)" pg-stats "old GROUP BY, SQL alone (pgbench)" pgbench-old-stats
        row "bookings list --status pending --limit 50" pg-list "same SELECT, SQL alone (pgbench)" pgbench-list
        row "booking set-status ID confirmed (one)" pg-set-status "UPDATE + audit INSERT, SQL alone (pgbench)" pgbench-set-status
    fi
    pg_writes_rows
    row "bookings export --format csv (all rows)" pg-export "psql: COPY of the same SELECT (CSV)" pg-psql-copy 1.5
    row "bookings list --search (a miss) --limit 50" pg-search-miss "bookings list --status pending --limit 50" pg-list-again 2
    row "outbox drain --exec /bin/true: ms per 1,000 messages" pg-drain-per-1000 "25 messages/s" limit-drain-40s 1
    row "peak RSS (KiB): bookings export --format csv" rss-pg-export "64 MB" limit-64mb 1
    row "peak RSS (KiB): bookings list --all --csv" rss-pg-list-all-csv "64 MB" limit-64mb 1
    table "${ROWS[@]}" >"$PG_TABLE"
    echo
    echo "paytrack on PostgreSQL $PG_VERSION, $N_BIG bookings: medians in ms; ratio = median of $PG_ROUNDS paired rounds (their range)"
    show "$PG_TABLE"
    echo "load of $N_BIG bookings by one INSERT…SELECT (counter triggers included): $(value pg-load) ms;" \
        "one run each: export $(value rss-pg-export-s) s, list --all --csv $(value rss-pg-list-all-csv-s) s"
fi

if [[ -n "$MARKDOWN" ]]; then
    {
        echo "## Results"
        echo
        echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        if [[ $PG_ONLY == 1 ]]; then
            echo "- command: \`examples/bench.sh$([[ $SMOKE == 1 ]] && echo ' --smoke') --pg-only\` (N = $N_BIG; $PG_ROUNDS rounds of $PG_PER runs per read, $PG_WRITE_PER per write; pgbench ${PG_SQL_SECONDS} s per statement)"
        else
            echo "- command: \`examples/bench.sh$([[ $SMOKE == 1 ]] && echo ' --smoke')\` (N = $N_SMALL and $N_BIG, $RUNS runs per read benchmark, $WRITE_RUNS per write, $SLOW_RUNS per export/import; PostgreSQL: $PG_ROUNDS rounds of $PG_PER runs per read, $PG_WRITE_PER per write)"
        fi
        echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(free -h | awk '/^Mem:/ { print $2 }') RAM"
        echo "- disk: $(df -h "$WORK" | awk 'NR == 2 { print $1 ", " $2 " (" $5 " used)" }')"
        echo "- OS: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
        echo "- $(rustc --version), $(sqlite3 --version | cut -d' ' -f1) (sqlite3 CLI), $("$PT" --version) built at $PT_COMMIT"
        if [[ $PG_BACKEND == 1 ]]; then
            echo "- PostgreSQL $PG_VERSION: $PG_ORIGIN; $PG_SETTINGS"
        fi
        echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
        if [[ $PG_ONLY == 0 ]]; then
            echo
            cat "$TABLE"
        fi
        if [[ $PG_BACKEND == 1 ]]; then
            echo
            echo "### paytrack on PostgreSQL ($N_BIG bookings)"
            echo
            echo "Medians in ms; ratio = median of $PG_ROUNDS paired rounds (min–max over rounds)."
            echo "Load: $(value pg-load) ms for $N_BIG bookings in one INSERT…SELECT (counter triggers included)."
            echo "One run each: \`bookings export --format csv\` $(value rss-pg-export-s) s, \`bookings list --all --csv\` $(value rss-pg-list-all-csv-s) s."
            echo "outbox drain: $DRAIN_SENT of $DRAIN_QUEUED queued messages in $(value pg-drain-ms) ms, $(value pg-drain-rate) messages/s (one run)."
            echo
            cat "$PG_TABLE"
        fi
    } >"$MARKDOWN"
    say "wrote $MARKDOWN"
fi
