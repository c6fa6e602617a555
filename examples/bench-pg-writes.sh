# PostgreSQL writes (issue 26, item 6), sourced by examples/bench.sh (its
# PostgreSQL section; `--pg-only` runs it too) after the backend section:
#
# - `payments import` of $PAYMENTS rows against a COPY-based, set-based SQL
#   floor that writes the same rows (psql), paired, each run on a fresh copy
#   of the same database: BENCH_PG_WRITE_BOOKINGS bookings the bot made
#   (none known to paytrack's booking_state yet), no earlier payments.
# - `bookings set-status --ids-from` of 5,000 pending bookings to cancelled
#   while the bot renames one of them every 50 ms, each rename its own psql
#   statement timed by psql (\timing): the longest wait is the figure.
#
# Uses bench.sh's PT, PSQL_BIN, PG_PREFIX, WORK, SMOKE and its helpers
# (record, value, say, cmdline, paired, pg_db_url, pg_create_db).

if [[ $SMOKE == 1 ]]; then
    PGW_BOOKINGS=${BENCH_PG_WRITE_BOOKINGS:-6000} PGW_BULK=1000 PGW_ROUNDS=${BENCH_PG_WRITE_ROUNDS:-1}
else
    PGW_BOOKINGS=${BENCH_PG_WRITE_BOOKINGS:-200000} PGW_BULK=5000 PGW_ROUNDS=${BENCH_PG_WRITE_ROUNDS:-3}
fi
PGW_PAYMENTS=$((PAYMENTS < PGW_BOOKINGS / 2 ? PAYMENTS : PGW_BOOKINGS / 2))

# The template every timed run copies, and the copy it runs on.
PGW_TPL="${PG_PREFIX}_wtpl" PGW_DB="${PG_PREFIX}_w"
PGW_TPL_URL=$(pg_db_url "$PGW_TPL") PGW_URL=$(pg_db_url "$PGW_DB")
PGW_PSQL=("$PSQL_BIN" -X -q -v ON_ERROR_STOP=1)

# A fresh copy of the template (one command line, for hyperfine's --prepare).
PGW_FRESH="$(cmdline env PGOPTIONS=-c\ client_min_messages=warning "$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 -d "$PG_URL" \
    -c "DROP DATABASE IF EXISTS $PGW_DB WITH (FORCE)" -c "CREATE DATABASE $PGW_DB TEMPLATE $PGW_TPL")"
pgw_fresh() { eval "$PGW_FRESH" >/dev/null; }

pgw_setup() {
    pg_create_db "$PGW_TPL"
    pg_create_db "$PGW_DB"
    "$PT" --db "$PGW_TPL_URL" init 2>/dev/null
    # The bot's bookings by SQL, as the backend section loads them: 20 courses
    # x 19 streams, ~55% confirmed, 30% pending, 15% cancelled.
    "${PGW_PSQL[@]}" -d "$PGW_TPL_URL" -o /dev/null -v n="$PGW_BOOKINGS" <<'SQL'
SELECT setseed(0.3);
INSERT INTO public.bookings (user_id, username, first_name, course_id, course_stream, confirmed,
                             created_at, referral_code, discount_percent)
SELECT 100000000 + i, 'user_' || i, (ARRAY['Kate', 'Анна', 'Иван', 'Мария', 'Ольга'])[1 + i % 5],
       1 + (i % 20), 'stream-' || (1 + (i * 7 % 19)),
       CASE WHEN r < 0.55 THEN 2 WHEN r < 0.85 THEN 1 ELSE -1 END,
       timestamptz '2024-12-01 00:00:00+00' + (i::double precision / :n) * interval '730 days',
       NULL, CASE WHEN random() < 0.1 THEN 10 END
  FROM (SELECT i, random() AS r FROM generate_series(1, :n) AS i) g;
VACUUM ANALYZE public.bookings;
VACUUM ANALYZE paytrack.booking_state;
SQL
    # A payment for each of the first bookings, whatever their status (new,
    # already paid, cancelled), as bench.sh's SQLite payments file.
    "${PGW_PSQL[@]}" -d "$PGW_TPL_URL" -c "\\copy (SELECT 'bench_' || id AS external_id, 'yookassa' AS provider,
        id AS booking_id, '30000.00' AS amount, 'RUB' AS currency,
        to_char(created_at + interval '2 days', 'YYYY-MM-DD\"T\"HH24:MI:SS+00:00') AS paid_at,
        'Оплата курса, бронь №' || id AS description
        FROM public.bookings ORDER BY id LIMIT $PGW_PAYMENTS) TO '$WORK/pg-payments.csv' CSV HEADER"
    "${PGW_PSQL[@]}" -d "$PGW_TPL_URL" -A -t -c "SELECT id FROM public.bookings WHERE confirmed = 1
        AND id > $PGW_PAYMENTS ORDER BY id LIMIT $PGW_BULK" >"$WORK/pg-bulk-ids.txt"
}

# The floor: what paytrack writes for the file, in set-based SQL on one
# connection. COPY into a staging table, one matching pass, the outcome as a
# CASE (paytrack's rules for a catalogue without prices: a positive payment
# confirms a pending booking), one INSERT of payments, paytrack's
# booking_state and the bot's rows for the confirmations (the counter
# triggers fire once), a message and an audit entry per confirmation and
# the import's own entry, the counters folded. The audit entries extend the
# chain as the log's trigger demands, with empty hashes (paytrack computes
# SHA-256 in Rust). `pgw_outcomes` checks it writes what paytrack writes.
pgw_floor_sql() {
    cat <<SQL
BEGIN;
CREATE TEMP TABLE staging (external_id text, provider text, booking_id text, amount text,
                           currency text, paid_at text, description text) ON COMMIT DROP;
\\copy staging FROM '$WORK/pg-payments.csv' CSV HEADER
CREATE TEMP TABLE decided ON COMMIT DROP AS
SELECT m.*, CASE
         WHEN amount_minor = 0 THEN 'not_positive'
         WHEN status IS NULL THEN 'unknown_booking'
         WHEN amount_minor < 0 THEN 'refund'
         WHEN status = -1 THEN 'cancelled'
         WHEN status = 2 AND paid_before > 0 THEN 'overpaid'
         WHEN status = 2 THEN 'already_confirmed'
         ELSE 'confirmed' END AS outcome,
       status = 1 AND amount_minor > 0 AS confirms
  FROM (SELECT row_number() OVER () AS line, s.provider, s.external_id, s.booking_id::bigint AS booking_id,
               round(s.amount::numeric * 100)::bigint AS amount_minor, s.currency,
               to_char(s.paid_at::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS paid_at,
               s.description, b.confirmed AS status, b.user_id, b.first_name, b.course_id, b.course_stream,
               (SELECT coalesce(sum(p.amount_minor), 0) FROM paytrack.payments p
                 WHERE p.booking_id = b.id AND p.currency = s.currency
                   AND p.outcome IN ('confirmed', 'already_confirmed', 'partial', 'overpaid', 'cancelled',
                                     'recorded', 'refund')) AS paid_before
          FROM staging s LEFT JOIN public.bookings b ON b.id = s.booking_id::bigint
         WHERE NOT EXISTS (SELECT 1 FROM paytrack.payments p WHERE p.provider = s.provider
                              AND p.external_id = s.external_id AND p.outcome <> 'conflict')) m;
INSERT INTO paytrack.payments (provider, external_id, booking_id, amount_minor, currency, paid_at, description,
                               outcome, imported_at, reference_id)
SELECT provider, external_id, booking_id, amount_minor, currency, paid_at, description,
       outcome, '$PGW_NOW', booking_id FROM decided ORDER BY line;
INSERT INTO paytrack.booking_state AS s (booking_id, updated_at, confirmed_at)
SELECT booking_id, '$PGW_NOW', '$PGW_NOW' FROM decided WHERE confirms
ON CONFLICT (booking_id) DO UPDATE SET updated_at = excluded.updated_at, confirmed_at = excluded.confirmed_at;
INSERT INTO paytrack.outbox (booking_id, chat_id, kind, body, status, next_attempt_at, created_at)
SELECT booking_id, user_id, 'confirmation',
       'Здравствуйте, ' || coalesce(first_name, '') || '! Оплата курса «#' || course_id
       || '» (' || coalesce(course_stream, '') || ') подтверждена. Номер брони: ' || booking_id
       || '. До встречи на занятиях!', 'pending', '$PGW_NOW', '$PGW_NOW'
  FROM decided WHERE confirms ORDER BY line;
WITH head AS (SELECT coalesce(max(id), 0) AS id,
                     coalesce((SELECT hash FROM paytrack.audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64)) AS hash
                FROM paytrack.audit_log),
entries AS (
    SELECT d.line, d.booking_id, 'booking.status_changed' AS action, 'pending' AS old_value, 'confirmed' AS new_value,
           json_build_object('amount', to_char(d.amount_minor / 100.0, 'FM999999990.00'), 'currency', d.currency,
                             'forced', false, 'message_id', o.id, 'payment_ref', d.external_id,
                             'provider', d.provider, 'source', 'payments import')::text AS details
      FROM decided d JOIN paytrack.outbox o ON o.booking_id = d.booking_id AND o.created_at = '$PGW_NOW'
     WHERE d.confirms
    UNION ALL
    SELECT (SELECT count(*) FROM staging) + 1, NULL, 'payments.imported', NULL, NULL,
           json_build_object('rows', (SELECT count(*) FROM staging), 'imported', count(*),
                             'bookings_confirmed', count(*) FILTER (WHERE confirms))::text
      FROM decided),
numbered AS (SELECT e.*, row_number() OVER (ORDER BY line) AS n FROM entries e)
INSERT INTO paytrack.audit_log (id, at, actor, action, booking_id, old_value, new_value, details, prev_hash, hash)
SELECT head.id + n, '$PGW_NOW', 'bench', action, booking_id, old_value, new_value, details,
       CASE WHEN n = 1 THEN head.hash ELSE '' END, ''
  FROM numbered, head ORDER BY n;
UPDATE public.bookings SET confirmed = 2
 WHERE confirmed = 1 AND id IN (SELECT booking_id FROM decided WHERE confirms);
SELECT paytrack.fold_counters();
COMMIT;
SQL
}

# What a payments import wrote: outcomes, confirmed bookings, messages,
# audit entries, confirmed seats in the counters, booking_state rows.
pgw_outcomes() {
    "${PGW_PSQL[@]}" -d "$PGW_URL" -A -t -c "SELECT string_agg(outcome || '=' || n, ',' ORDER BY outcome)
          FROM (SELECT outcome, count(*) AS n FROM paytrack.payments GROUP BY 1) x" \
        -c "SELECT count(*) FROM public.bookings WHERE confirmed = 2" -c "SELECT count(*) FROM paytrack.outbox" \
        -c "SELECT count(*) FROM paytrack.audit_log" \
        -c "SELECT sum(bookings) FROM paytrack.stream_counters WHERE confirmed = 2" \
        -c "SELECT count(*) FROM paytrack.booking_state" | paste -sd' '
}

# One bulk change of the bulk ids to cancelled on a fresh copy while the bot
# renames the first of them every 50 ms. Appends "wall_ms max_wait_ms
# statements" to $WORK/pg-bulk-runs.txt.
pgw_bulk_with_bot() {
    local bot_id start end pid waits="$WORK/pg-bulk-waits.txt"
    bot_id=$(head -n1 "$WORK/pg-bulk-ids.txt")
    pgw_fresh
    : >"$waits"
    start=$(date +%s%N)
    "$PT" --db "$PGW_URL" bookings set-status --ids-from "$WORK/pg-bulk-ids.txt" --to cancelled >/dev/null 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        "$PSQL_BIN" -X -q -d "$PGW_URL" -c '\timing on' \
            -c "UPDATE public.bookings SET first_name = 'Бот' WHERE id = $bot_id" 2>&1 |
            sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' >>"$waits"
        sleep 0.05
    done
    wait "$pid" || { echo "bench.sh: the bulk change failed on PostgreSQL" >&2; return 1; }
    end=$(date +%s%N)
    printf '%s %s %s\n' "$(((end - start) / 1000000))" "$(sort -g "$waits" | tail -n1)" "$(wc -l <"$waits")" \
        >>"$WORK/pg-bulk-runs.txt"
}

pg_writes_bench() {
    say "PostgreSQL writes (issue 26): $PGW_BOOKINGS bot bookings, $PGW_PAYMENTS payments, bulk of $PGW_BULK"
    pgw_setup
    PGW_NOW=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
    pgw_floor_sql >"$WORK/pg-payments-floor.sql"
    # The floor is only a floor if it writes what paytrack writes.
    pgw_fresh
    "$PT" --db "$PGW_URL" payments import "$WORK/pg-payments.csv" >/dev/null 2>&1 || true
    local ours floor
    ours=$(pgw_outcomes)
    pgw_fresh
    "${PGW_PSQL[@]}" -d "$PGW_URL" -o /dev/null -f "$WORK/pg-payments-floor.sql"
    floor=$(pgw_outcomes)
    if [[ "$ours" != "$floor" ]]; then
        echo "bench.sh: the PostgreSQL payments floor writes other rows than paytrack:" >&2
        echo "  floor:    $floor" >&2
        echo "  paytrack: $ours" >&2
        return 1
    fi
    say "the PostgreSQL payments floor writes what paytrack writes: $ours"
    ROUNDS=$PGW_ROUNDS PAIRED_FLAGS=-i paired pg-payments-import pg-payments-floor 1 0 \
        "$(cmdline "$PT" --db "$PGW_URL" payments import "$WORK/pg-payments.csv")" \
        "$(cmdline "${PGW_PSQL[@]}" -d "$PGW_URL" -o /dev/null -f "$WORK/pg-payments-floor.sql")" \
        "$PGW_FRESH" "$PGW_FRESH"

    : >"$WORK/pg-bulk-runs.txt"
    local r
    for ((r = 1; r <= PGW_ROUNDS; r++)); do pgw_bulk_with_bot; done
    record pg-bulk "$(median $(cut -d' ' -f1 "$WORK/pg-bulk-runs.txt"))"
    record pg-bulk-bot-wait "$(cut -d' ' -f2 "$WORK/pg-bulk-runs.txt" | sort -g | tail -n1)"
    record pg-bulk-bot-statements "$(awk '{ s += $3 } END { print s }' "$WORK/pg-bulk-runs.txt")"
    record limit-1s 1000
    say "$(printf '%-28s %10s ms; the bot waited %s ms at most (%s renames)' pg-bulk "$(value pg-bulk)" \
        "$(value pg-bulk-bot-wait)" "$(value pg-bulk-bot-statements)")"
}

# The rows of bench.sh's PostgreSQL table.
pg_writes_rows() {
    row "payments import ($PGW_PAYMENTS rows, $PGW_BOOKINGS bot bookings)" pg-payments-import \
        "COPY + set-based SQL floor, same rows (psql)" pg-payments-floor 1.5
    row "bookings set-status --ids-from ($PGW_BULK) --to cancelled, median ms" pg-bulk "" ""
    row "the bot's longest rename during it ($(value pg-bulk-bot-statements) renames, ms)" pg-bulk-bot-wait \
        "1 s" limit-1s 1
}

pg_writes_bench
