#!/usr/bin/env bash
# Write tonight's per-stream numbers to $OUT_DIR/stats-YYYY-MM-DD.csv.
#
#   5 0 * * *  /usr/local/bin/nightly-stats.sh 2>> /var/log/paytrack/cron.log
#
# Environment: PAYTRACK_DB (required), OUT_DIR (default: ./reports),
# PAYTRACK (the binary, default: paytrack on PATH), LOCK_DIR (default /tmp).
set -euo pipefail

log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }

: "${PAYTRACK_DB:?set PAYTRACK_DB to the database file}"
export PAYTRACK_DB
paytrack=${PAYTRACK:-paytrack}
out_dir=${OUT_DIR:-reports}

exec 9>"${LOCK_DIR:-/tmp}/paytrack-nightly-stats.lock"
if ! flock -n 9; then
    log "another run is still going; skipping"
    exit 0
fi

mkdir -p "$out_dir"
report="$out_dir/stats-$(date -u +%F).csv"
# Written beside its name and renamed: a reader never sees half a report.
partial="$report.partial"
trap 'rm -f "$partial"' EXIT

status=0
"$paytrack" stats streams --csv > "$partial" || status=$?
if (( status != 0 )); then
    log "paytrack stats failed with exit code $status"
    exit "$status"
fi
mv "$partial" "$report"
log "wrote $report ($(( $(wc -l < "$report") - 1 )) streams)"
