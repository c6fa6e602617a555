#!/usr/bin/env bash
# Verify the audit log's hash chain; alert when it was rewritten (exit 9).
#
#   30 6 * * *  /usr/local/bin/audit-verify-alert.sh 2>> /var/log/paytrack/cron.log
#
# Environment: PAYTRACK_DB (required), ALERT_EMAIL (mail(1) recipient) or
# ALERT_COMMAND (run with the message on stdin; wins over ALERT_EMAIL),
# PAYTRACK (the binary, default: paytrack on PATH), LOCK_DIR (default /tmp).
set -euo pipefail

log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }

alert() {
    local message=$1
    log "ALERT: $message"
    if [[ -n "${ALERT_COMMAND:-}" ]]; then
        printf '%s\n' "$message" | sh -c "$ALERT_COMMAND"
    elif [[ -n "${ALERT_EMAIL:-}" ]]; then
        printf '%s\n' "$message" | mail -s "paytrack audit alert on $(hostname)" "$ALERT_EMAIL"
    fi
}

: "${PAYTRACK_DB:?set PAYTRACK_DB to the database file}"
export PAYTRACK_DB
paytrack=${PAYTRACK:-paytrack}

exec 9>"${LOCK_DIR:-/tmp}/paytrack-audit-verify.lock"
if ! flock -n 9; then
    log "another run is still going; skipping"
    exit 0
fi

status=0
result=$("$paytrack" audit verify 2>&1) || status=$?
case $status in
    0) log "$result" ;;
    9) alert "the audit log of $PAYTRACK_DB was altered: $result"; exit 9 ;;
    *) alert "paytrack audit verify failed (exit $status): $result"; exit "$status" ;;
esac
