#!/usr/bin/env bash
# Remind students whose booking is still unpaid, at most once every few days.
#
#   0 10 * * *  /usr/local/bin/payment-reminders.sh 2>> /var/log/paytrack/cron.log
#
# The reminders go out with the next `outbox drain` (see outbox-drain.sh). Their
# text is the course's reminder template (`paytrack courses template ID --kind reminder`).
#
# A booking's age counts from when paytrack first knew it (its first import, or
# when it was added), not from the old system's created_at. More than
# REMIND_MAX reminders at once queues none and exits 10 naming the count.
#
# Environment: PAYTRACK_DB (required), REMIND_AFTER (default 2d: how long
# paytrack has known a pending booking), REMIND_EVERY (default 3d), REMIND_STREAM
# (only this stream; default all), REMIND_MAX (default 200), PAYTRACK (the
# binary), LOCK_DIR (default /tmp).
set -euo pipefail

log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }

: "${PAYTRACK_DB:?set PAYTRACK_DB to the database file}"
export PAYTRACK_DB PAYTRACK_ACTOR="${PAYTRACK_ACTOR:-cron}"
paytrack=${PAYTRACK:-paytrack}

exec 9>"${LOCK_DIR:-/tmp}/paytrack-payment-reminders.lock"
if ! flock -n 9; then
    log "another run is still going; skipping"
    exit 0
fi

args=(bookings remind --status pending --older-than "${REMIND_AFTER:-2d}" --every "${REMIND_EVERY:-3d}"
    --max "${REMIND_MAX:-200}")
if [[ -n "${REMIND_STREAM:-}" ]]; then
    args+=(--stream "$REMIND_STREAM")
fi

status=0
"$paytrack" "${args[@]}" || status=$?
case $status in
    0) ;;
    7) log "database busy; tomorrow's run will remind" ;;
    10) log "ALERT: more than ${REMIND_MAX:-200} reminders due; none queued (see above)"; exit 10 ;;
    *) log "paytrack bookings remind failed with exit code $status"; exit "$status" ;;
esac
