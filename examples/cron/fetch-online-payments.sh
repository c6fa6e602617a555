#!/usr/bin/env bash
# Reconcile the online payments the webhooks missed (issue 29): read the
# provider's succeeded payments of the last FETCH_SINCE (default 2h, so a run
# every 15 minutes overlaps the previous ones) and store the ones `payments
# serve` did not. FETCH_PROVIDER: yookassa (default; its payment and refund
# lists) or tinkoff (GetState for each link `bookings pay-link` created). Idempotent with the webhooks: the provider's
# payment id is the key. Alert when a new payment needs a person (exit 10).
#
#   */15 * * * *  /usr/local/bin/fetch-online-payments.sh 2>> /var/log/paytrack/cron.log
#
# Environment: PAYTRACK_DB (required), the provider's secrets
# (PAYTRACK_YOOKASSA_SHOP_ID + PAYTRACK_YOOKASSA_SECRET_KEY, or
# PAYTRACK_TINKOFF_TERMINAL_KEY + PAYTRACK_TINKOFF_PASSWORD; keep them in a
# root-only file, not in the crontab), FETCH_SINCE (2h), ALERT_COMMAND (run
# with the message on stdin), PAYTRACK (the binary, default: paytrack on
# PATH), LOCK_DIR (default /tmp).
set -euo pipefail

log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }

alert() {
    log "ALERT: $1"
    if [[ -n "${ALERT_COMMAND:-}" ]]; then
        printf '%s\n' "$1" | sh -c "$ALERT_COMMAND"
    fi
}

: "${PAYTRACK_DB:?set PAYTRACK_DB to the database file}"
export PAYTRACK_DB
provider=${FETCH_PROVIDER:-yookassa}
paytrack=${PAYTRACK:-paytrack}

exec 9>"${LOCK_DIR:-/tmp}/paytrack-fetch-$provider.lock"
if ! flock -n 9; then
    log "another run is still going; skipping"
    exit 0
fi

status=0
result=$("$paytrack" payments fetch --provider "$provider" --since "${FETCH_SINCE:-2h}" 2>&1) || status=$?
case $status in
    0) log "$result" ;;
    10) alert "online payments need a person (paytrack payments list --attention): $result" ;;
    *) alert "paytrack payments fetch failed (exit $status): $result"; exit "$status" ;;
esac
