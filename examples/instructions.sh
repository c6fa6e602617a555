#!/usr/bin/env bash
# Instructions, not seconds: two paytrack binaries (say, before and after a
# refactoring) counted by valgrind's callgrind on the same commands over the
# same SQLite file. An instruction count does not move with the machine's load
# (hyperfine's times moved 3-6x while other builds shared these 2 cores), so a
# change that should cost nothing can be shown to cost nothing on a busy box.
# Page faults and start-up I/O are not counted: for those, bench.sh on an idle
# machine.
#
#   examples/instructions.sh OLD_BIN NEW_BIN [BOOKINGS]   # default 100000 bookings
#
# Prints one row per command: instructions of each binary (Ir, millions) and
# new / old. Needs valgrind (apt-get install -y valgrind).
set -euo pipefail
old=${1:?old paytrack binary}
new=${2:?new paytrack binary}
bookings=${3:-100000}
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind" >&2; exit 75; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C.UTF-8 TZ=UTC NO_COLOR=1 PAYTRACK_ACTOR=bench
unset PAYTRACK_DB PAYTRACK_LANG PAYTRACK_TZ
# The clock is fixed so both binaries see the same "now" (and the same rows).
export PAYTRACK_NOW=2026-12-01T12:00:00Z

"$old" --db "$work/pristine.db" demo --bookings "$bookings" --seed 7 >/dev/null 2>&1
pending=$("$old" --db "$work/pristine.db" bookings list --status pending --csv --limit 1 2>/dev/null |
    sed -n '2p' | cut -d, -f1)
[[ $pending =~ ^[0-9]+$ ]] || { echo "instructions.sh: no pending booking in the demo" >&2; exit 1; }

# instructions BIN ARGS...: callgrind's total Ir of one run, on a fresh copy.
instructions() {
    local bin=$1; shift
    cp "$work/pristine.db" "$work/run.db"
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        "$bin" --db "$work/run.db" "$@" >/dev/null 2>"$work/vg.log" || {
        echo "instructions.sh: $bin $* failed:" >&2
        grep -v '^==' "$work/vg.log" >&2
        exit 1
    }
    grep -E '^(summary|totals):' "$work/cg.out" | head -1 | awk '{print $2}'
}

printf '%-52s %12s %12s %8s\n' command "old Mi" "new Mi" new/old
row() {
    local a b
    a=$(instructions "$old" "$@")
    b=$(instructions "$new" "$@")
    awk -v c="$*" -v a="$a" -v b="$b" \
        'BEGIN { printf "%-52s %12.1f %12.1f %8.3f\n", c, a / 1e6, b / 1e6, b / a }'
}
row bookings list --status pending --limit 50
row bookings list --search анна --limit 50
row booking set-status "$pending" confirmed
row stats streams --csv
row bookings export
row audit verify
