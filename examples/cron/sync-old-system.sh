#!/usr/bin/env bash
# While the old system still takes bookings: export its bookings table and
# import it into paytrack. The import is a safe sync (see README, "Moving from
# the old system"): what paytrack did since the last import stands, and a
# status the old system changed against the rules is reported, not applied.
#
#   0 * * * *  /usr/local/bin/sync-old-system.sh 2>> /var/log/paytrack/cron.log
#
# Environment: PAYTRACK_DB (required); OLD_DATABASE_URL (psql's connection
# string) or EXPORT_COMMAND (a command that writes the CSV export to the file
# named by its first argument); ASSUME_TZ (the old server's zone, when its
# timestamps carry no offset); REPORT_DIR (default: ./reports); MAX_CHANGES
# (default 200: a run that would change more bookings paytrack has changes
# nothing and exits 10, naming the count); PAYTRACK (the binary, default:
# paytrack on PATH); LOCK_DIR (default /tmp).
# Exit: 0 in step; 10 conflicts for a person (listed in the report); 75 busy.
set -euo pipefail

log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }

: "${PAYTRACK_DB:?set PAYTRACK_DB to the database file}"
export PAYTRACK_DB PAYTRACK_ACTOR="${PAYTRACK_ACTOR:-cron}"
paytrack=${PAYTRACK:-paytrack}
report_dir=${REPORT_DIR:-reports}

exec 9>"${LOCK_DIR:-/tmp}/paytrack-sync-old-system.lock"
if ! flock -n 9; then
    log "another run is still going; skipping"
    exit 0
fi

export_file=$(mktemp --suffix=.csv "${TMPDIR:-/tmp}/old-bookings.XXXXXX")
trap 'rm -f "$export_file"' EXIT
if [[ -n "${EXPORT_COMMAND:-}" ]]; then
    sh -c "$EXPORT_COMMAND \"\$1\"" export "$export_file"
else
    : "${OLD_DATABASE_URL:?set OLD_DATABASE_URL (or EXPORT_COMMAND)}"
    psql "$OLD_DATABASE_URL" -v ON_ERROR_STOP=1 -q \
        -c "\\copy bookings TO '$export_file' CSV HEADER"
fi

mkdir -p "$report_dir"
# One report per run (the import replaces only a conflict report of its own).
# Settle a conflict for good with `paytrack bookings import FILE --accept-ours ID,…`.
report="$report_dir/import-conflicts-$(date -u +%Y%m%dT%H%M%SZ)-$$.csv"
extra=()
if [[ -n "${ASSUME_TZ:-}" ]]; then
    extra+=(--assume-tz "$ASSUME_TZ")
fi
status=0
"$paytrack" bookings import "$export_file" --report "$report" --max "${MAX_CHANGES:-200}" "${extra[@]}" || status=$?
case $status in
    0) rm -f "$report"; log "in step with the old system" ;;
    10) if [[ -s "$report" ]]; then
            log "the old system disagrees with paytrack: conflicts in $report"
        else
            rm -f "$report"
            log "ALERT: the export would change more than ${MAX_CHANGES:-200} bookings; nothing changed (see above)"
        fi
        exit 10 ;;
    7) log "database busy; will try again next run"; exit 75 ;;  # EX_TEMPFAIL
    *) log "paytrack bookings import failed with exit code $status"; exit "$status" ;;
esac
