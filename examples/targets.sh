#!/usr/bin/env bash
# Issue 28's two process-weight targets alone, without the whole of bench.sh:
# a list's first page and one set-status against the sqlite3 CLI running the
# same SQL on the same file (bench.sh's "list-paired" and "set-status-paired"
# rows, same commands), in paired rounds: each round is one hyperfine call
# timing both sides, paytrack first in odd rounds and sqlite3 first in even
# ones; the ratio is the median of the rounds' ratios. Meant for an idle
# machine (the targets are about start-up cost: page faults, relocations).
#
#   examples/targets.sh [PAYTRACK_BIN]    # default: target/release/paytrack
#
# Environment: TARGETS_BOOKINGS (1000000), TARGETS_ROUNDS (10), TARGETS_PER (10).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PT=${1:-$ROOT/target/release/paytrack}
N=${TARGETS_BOOKINGS:-1000000}
ROUNDS=${TARGETS_ROUNDS:-10}
PER=${TARGETS_PER:-10}
for tool in hyperfine sqlite3; do
    command -v "$tool" >/dev/null || { echo "targets.sh: needs $tool" >&2; exit 75; }
done
export LC_ALL=C.UTF-8 TZ=UTC NO_COLOR=1 PAYTRACK_ACTOR=bench
unset PAYTRACK_DB PAYTRACK_NOW PAYTRACK_TZ PAYTRACK_LANG
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DB="$WORK/big.db"
"$PT" --db "$DB" demo --bookings "$N" --seed 7 2>/dev/null

COLUMNS_SQL="b.id, b.user_id, b.username, b.first_name, b.course_id, b.course_stream, b.confirmed, b.created_at, b.referral_code, b.discount_percent, b.updated_at, b.confirmed_at"
LIST_SQL="SELECT $COLUMNS_SQL FROM bookings b WHERE b.confirmed = 1 ORDER BY b.id DESC LIMIT 50"
mapfile -t ids < <(sqlite3 "$DB" "SELECT id FROM bookings WHERE confirmed = 1 ORDER BY id LIMIT 2")
ONE=${ids[0]} ONE_SQL_ID=${ids[1]}
NOW_STORED=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
ONE_SQL="PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE;
  UPDATE bookings SET confirmed = -1, updated_at = '$NOW_STORED' WHERE id = $ONE_SQL_ID AND confirmed = 1;
  INSERT INTO audit_log (at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash)
  VALUES ('$NOW_STORED', 'bench', 'booking.status_changed', $ONE_SQL_ID, 'pending', 'cancelled', 'bench', '{}', '', '');
  COMMIT;"

# A command line hyperfine splits back into these words (newlines as spaces,
# as bench.sh's cmdline: hyperfine's parser reads no $'...').
q() {
    local args=("${@//$'\n'/ }")
    printf '%q ' "${args[@]}"
}

# paired NAME TARGET PER CMD_A CMD_B [PREP_A PREP_B]
paired() {
    local name=$1 target=$2 per=$3 ca=$4 cb=$5 pa=${6:-} pb=${7:-}
    local r csv a b ratios=() as=() bs=()
    for ((r = 1; r <= ROUNDS; r++)); do
        csv="$WORK/r.csv"
        local args=(-N --style none --runs "$per" --warmup 2 --export-csv "$csv")
        if ((r % 2)); then
            [[ -n $pa ]] && args+=(--prepare "$pa" --prepare "$pb")
            args+=("$ca" "$cb")
        else
            [[ -n $pa ]] && args+=(--prepare "$pb" --prepare "$pa")
            args+=("$cb" "$ca")
        fi
        hyperfine "${args[@]}" >/dev/null
        a=$(awk -F, 'NR == 2 { print $(NF - 4) * 1000 }' "$csv")
        b=$(awk -F, 'NR == 3 { print $(NF - 4) * 1000 }' "$csv")
        ((r % 2)) || { local t=$a; a=$b; b=$t; }
        as+=("$a") bs+=("$b")
        ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", a / b }')")
    done
    med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    printf '%-34s paytrack %7.2f ms  sqlite3 %7.2f ms  ratio %.3f (rounds %s–%s)  target <= %s\n' \
        "$name" "$(med "${as[@]}")" "$(med "${bs[@]}")" "$(med "${ratios[@]}")" \
        "$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)" "$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)" "$target"
}

echo "paytrack $("$PT" --version | head -1), $N bookings, $ROUNDS paired rounds; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
paired "list --status pending --limit 50" 1.25 "$PER" \
    "$(q "$PT" --db "$DB" bookings list --status pending --limit 50)" \
    "$(q sqlite3 -csv "$DB" "$LIST_SQL")"
paired "booking set-status (one)" 1.1 5 \
    "$(q "$PT" --db "$DB" booking set-status "$ONE" cancelled --reason bench)" \
    "$(q sqlite3 "$DB" "$ONE_SQL")" \
    "$(q "$PT" --db "$DB" booking set-status "$ONE" pending)" \
    "$(q sqlite3 "$DB" "UPDATE bookings SET confirmed = 1 WHERE id = $ONE_SQL_ID")"
