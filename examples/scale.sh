#!/usr/bin/env bash
# How each paytrack command grows with the number of bookings (issue 19):
# a demo database per N, every command timed on it (median of hyperfine
# runs, whole processes) with its peak RSS, as one markdown table.
#
#   examples/scale.sh                      # N = 10000 100000 1000000
#   SCALE_N="10000 100000 1000000 5000000" examples/scale.sh --markdown scale.md
#
# A column's ratio to the one before it, against the ratio of N, flags a
# super-linear command. Needs hyperfine, sqlite3 and /usr/bin/time.
set -euo pipefail
MARKDOWN=""
if [[ "${1:-}" == --markdown ]]; then MARKDOWN="${2:?--markdown needs a file}"; fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -n "$MARKDOWN" && "$MARKDOWN" != /* ]]; then MARKDOWN="$PWD/$MARKDOWN"; fi
export LC_ALL=C.UTF-8 TZ=UTC NO_COLOR=1
unset PAYTRACK_DB PAYTRACK_NOW PAYTRACK_TZ PAYTRACK_LANG
SCALE_N=${SCALE_N:-"10000 100000 1000000"}
RUNS=${SCALE_RUNS:-5}
(cd "$ROOT" && cargo build --release --locked -q)
PT="$ROOT/target/release/paytrack"
WORK="$(mktemp -d /tmp/paytrack-scale.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
say() { printf '\033[1mscale:\033[0m %s\n' "$*" >&2; }

# key|label|command (run with bash -c; $DB is the database of this N)
COMMANDS=(
    "list|bookings list --status pending (first page)|\"\$PT\" --db \"\$DB\" bookings list --status pending --limit 50"
    "search-miss|bookings list --search всеволод (no match)|\"\$PT\" --db \"\$DB\" bookings list --search всеволод --limit 50"
    "search-hit|bookings list --search kate|\"\$PT\" --db \"\$DB\" bookings list --search kate --limit 50"
    "stats|stats streams --csv|\"\$PT\" --db \"\$DB\" stats streams --csv"
    "stats-verify|stats verify|\"\$PT\" --db \"\$DB\" stats verify"
    "export|bookings export --format csv|\"\$PT\" --db \"\$DB\" bookings export --format csv"
    "list-all-csv|bookings list --all --csv|\"\$PT\" --db \"\$DB\" bookings list --all --csv"
    "audit-tail|audit tail -n 100000000 --json|\"\$PT\" --db \"\$DB\" audit tail -n 100000000 --json"
    "audit-verify|audit verify|\"\$PT\" --db \"\$DB\" audit verify"
    "show|booking show (one)|\"\$PT\" --db \"\$DB\" booking show 1"
    "payments|payments import (N/10 rows, fresh copy)|cp \"\$DB.pristine\" \"\$DB.imp\" && \"\$PT\" --db \"\$DB.imp\" payments import \"\$DB.payments.csv\"; rm -f \"\$DB.imp\"*"
    "bookings-import|bookings import (N rows, empty db)|rm -f \"\$DB.bi\"* && \"\$PT\" --db \"\$DB.bi\" init 2>/dev/null && \"\$PT\" --db \"\$DB.bi\" bookings import \"\$DB.legacy.csv\"; rm -f \"\$DB.bi\"*"
)

declare -A TIME RSS
for n in $SCALE_N; do
    export DB="$WORK/n$n.db" PT
    say "demo --bookings $n"
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$WORK/demo.rss" "$PT" --db "$DB" demo --bookings "$n" --seed 7 2>/dev/null
    TIME[demo,$n]=$(( ($(date +%s%N) - start) / 1000000 ))
    RSS[demo,$n]=$(tail -n1 "$WORK/demo.rss")
    cp "$DB" "$DB.pristine"
    sqlite3 -csv -header "$DB" "SELECT 'bench_' || b.id AS external_id, 'yookassa' AS provider, b.id AS booking_id,
        printf('%.2f', COALESCE(s.price_minor, 3000000) * (100 - COALESCE(b.discount_percent, 0)) / 10000.0) AS amount,
        'RUB' AS currency, strftime('%Y-%m-%dT%H:%M:%S+03:00', b.created_at, '+3 hours', '+2 days') AS paid_at,
        'Оплата курса, бронь №' || b.id AS description
        FROM bookings b LEFT JOIN streams s ON s.course_id = b.course_id AND s.code = b.course_stream
        ORDER BY b.id DESC LIMIT $(( n / 10 ))" >"$DB.payments.csv"
    sqlite3 -csv -header "$DB" "SELECT id, user_id, username, first_name, course_id, course_stream, confirmed,
        strftime('%Y-%m-%d %H:%M:%S', created_at, '+3 hours') || substr(created_at, 20, 7) || '+03' AS created_at,
        referral_code, discount_percent FROM bookings ORDER BY id" >"$DB.legacy.csv"
    for c in "${COMMANDS[@]}"; do
        IFS='|' read -r key label cmd <<<"$c"
        runs=$RUNS
        [[ $key == bookings-import || $key == payments ]] && runs=3
        hyperfine -N --style none -i --runs "$runs" --warmup 1 --export-json "$WORK/h.json" \
            "bash -c '$cmd'" >/dev/null 2>&1 || { say "$key failed at $n"; continue; }
        median=$(sed -n 's/^ *"median": *\([0-9.e+-]*\).*/\1/p' "$WORK/h.json" | head -n1)
        TIME[$key,$n]=$(awk -v s="$median" 'BEGIN { printf "%.1f", s * 1000 }')
        /usr/bin/time -f '%M' -o "$WORK/rss" bash -c "$cmd" >/dev/null 2>&1 || true
        RSS[$key,$n]=$(tail -n1 "$WORK/rss")
        say "$(printf '%-16s %9s %10s ms %8s KiB' "$key" "$n" "${TIME[$key,$n]}" "${RSS[$key,$n]}")"
    done
    rm -f "$DB" "$DB".*
done

NS=($SCALE_N)
{
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1); load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- times: median ms of whole processes ($RUNS runs, 3 for imports); RSS: peak KiB of one run (\`/usr/bin/time -f %M\`)"
    echo "- growth: time at N ÷ time at the N before; **super-linear** when it exceeds the growth of N by more than 10% (and the time is over 20 ms)"
    echo
    header="| command |"
    sep="|---|"
    for n in "${NS[@]}"; do header+=" $n ms | RSS KiB |"; sep+="---:|---:|"; done
    header+=" growth |"
    sep+="---|"
    echo "$header"
    echo "$sep"
    for c in "demo|demo --bookings N|" "${COMMANDS[@]}"; do
        IFS='|' read -r key label _ <<<"$c"
        line="| $label |"
        growth=""
        prev=""
        prev_n=""
        for n in "${NS[@]}"; do
            t=${TIME[$key,$n]:-}
            line+=" ${t:-–} | ${RSS[$key,$n]:-–} |"
            if [[ -n "$prev" && -n "$t" ]]; then
                g=$(awk -v a="$t" -v b="$prev" -v n="$n" -v p="$prev_n" 'BEGIN {
                    r = (b > 0) ? a / b : 0; flag = (r > 1.1 * n / p && a > 20) ? " **super-linear**" : "";
                    printf "×%.1f%s", r, flag }')
                growth+="${growth:+, }$g"
            fi
            prev=$t
            prev_n=$n
        done
        echo "$line $growth |"
    done
} >"$WORK/scale.md"
cat "$WORK/scale.md"
if [[ -n "$MARKDOWN" ]]; then cp "$WORK/scale.md" "$MARKDOWN"; say "wrote $MARKDOWN"; fi
