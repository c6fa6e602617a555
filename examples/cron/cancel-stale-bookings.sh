#!/usr/bin/env bash
# Cancel bookings still unpaid after STALE_AFTER (default 7d), in one transaction.
#
#   15 3 * * *  /usr/local/bin/cancel-stale-bookings.sh 2>> /var/log/paytrack/cron.log
#
# The age counts from when paytrack first knew a booking (its first import, or
# when it was added), not from the old system's created_at: the night after the
# switchover cancels nobody. More than MAX_CANCEL stale bookings at once is not
# a night's normal work: nothing is cancelled, and the run exits 10 naming the
# count (a person looks, then runs it by hand with a larger --max).
#
# Environment: PAYTRACK_DB (required), STALE_AFTER (7d), STREAM (only this stream),
# MAX_CANCEL (default 50), PAYTRACK (the binary, default: paytrack on PATH),
# LOCK_DIR (default /tmp).
set -euo pipefail

log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }

: "${PAYTRACK_DB:?set PAYTRACK_DB to the database file}"
export PAYTRACK_DB PAYTRACK_ACTOR="${PAYTRACK_ACTOR:-cron}"
paytrack=${PAYTRACK:-paytrack}
stale_after=${STALE_AFTER:-7d}
max_cancel=${MAX_CANCEL:-50}

# One run at a time: a slow run is never overlapped by the next one.
exec 9>"${LOCK_DIR:-/tmp}/paytrack-cancel-stale.lock"
if ! flock -n 9; then
    log "another run is still going; skipping"
    exit 0
fi

filter=(--status pending --older-than "$stale_after")
if [[ -n "${STREAM:-}" ]]; then
    filter+=(--stream "$STREAM")
fi

log "cancelling bookings pending for more than $stale_after"
status=0
"$paytrack" bookings set-status "${filter[@]}" --to cancelled \
    --reason "unpaid after $stale_after" --yes --no-notify --max "$max_cancel" || status=$?
case $status in
    0) log "done" ;;
    10) log "ALERT: more than $max_cancel stale bookings; nothing cancelled (see above)"; exit 10 ;;
    7) log "database busy; will try again next run"; exit 75 ;;  # EX_TEMPFAIL
    *) log "paytrack failed with exit code $status"; exit "$status" ;;
esac
