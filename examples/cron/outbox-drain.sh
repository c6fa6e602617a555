#!/usr/bin/env bash
# Send the queued confirmation messages to Telegram.
#
#   * * * * *  /usr/local/bin/outbox-drain.sh 2>> /var/log/paytrack/cron.log
#
# Environment: PAYTRACK_DB (required), the Telegram settings `paytrack outbox drain`
# reads (see its --help), PAYTRACK (the binary), LOCK_DIR (default /tmp).
set -euo pipefail

log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }

: "${PAYTRACK_DB:?set PAYTRACK_DB to the database file}"
export PAYTRACK_DB PAYTRACK_ACTOR="${PAYTRACK_ACTOR:-cron}"
paytrack=${PAYTRACK:-paytrack}

# Every minute: if the last drain is still sending, this one steps aside.
exec 9>"${LOCK_DIR:-/tmp}/paytrack-outbox-drain.lock"
if ! flock -n 9; then
    exit 0
fi

status=0
"$paytrack" outbox drain --telegram || status=$?
case $status in
    0) ;;
    7) log "database busy; the next run will send" ;;
    *) log "paytrack outbox drain failed with exit code $status"; exit "$status" ;;
esac
