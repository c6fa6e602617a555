#!/usr/bin/env bash
# Reconcile the online payments the webhooks missed (issue 29): read
# YooKassa's succeeded payments and refunds of the last FETCH_SINCE (default
# 2h, so a run every 15 minutes overlaps the previous ones) and store the ones
# `payments serve` did not. Idempotent with the webhooks: the provider's
# payment id is the key. Alert when a new payment needs a person (exit 10).
#
#   */15 * * * *  /usr/local/bin/fetch-online-payments.sh 2>> /var/log/paytrack/cron.log
#
# Environment: PAYTRACK_DB (required), PAYTRACK_YOOKASSA_SHOP_ID and
# PAYTRACK_YOOKASSA_SECRET_KEY (required; keep them in a root-only
# EnvironmentFile, not in the crontab), FETCH_SINCE (2h), ALERT_COMMAND (run
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
: "${PAYTRACK_YOOKASSA_SHOP_ID:?set PAYTRACK_YOOKASSA_SHOP_ID}"
: "${PAYTRACK_YOOKASSA_SECRET_KEY:?set PAYTRACK_YOOKASSA_SECRET_KEY}"
export PAYTRACK_DB PAYTRACK_YOOKASSA_SHOP_ID PAYTRACK_YOOKASSA_SECRET_KEY
paytrack=${PAYTRACK:-paytrack}

exec 9>"${LOCK_DIR:-/tmp}/paytrack-fetch-online-payments.lock"
if ! flock -n 9; then
    log "another run is still going; skipping"
    exit 0
fi

status=0
result=$("$paytrack" payments fetch --provider yookassa --since "${FETCH_SINCE:-2h}" 2>&1) || status=$?
case $status in
    0) log "$result" ;;
    10) alert "online payments need a person (paytrack payments list --attention): $result" ;;
    *) alert "paytrack payments fetch failed (exit $status): $result"; exit "$status" ;;
esac
