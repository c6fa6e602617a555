//! The SQL of a bookings listing: the filter's conditions (money state
//! included), keyset pagination and order, for both engines (`Dialect`).

use super::search::{like_pattern, pg_names_fold, push_search, search_phrase, uses_search_index};
use super::COLUMNS;
use crate::db::conditions::Conditions;
use crate::db::payments::RECEIVED_OUTCOMES;
use crate::db::sql::Dialect;
use crate::db::value::ToValue;
use crate::domain::booking::{fold, BookingFilter, Cursor, PaymentState, Sort, UserRef};
use crate::domain::time::to_storage;

/// TOTAL, not SUM: SQLite's SUM fails the whole query with "integer overflow"
/// once a sum leaves i64, so one absurd row (stored before amounts were
/// bounded) broke `bookings list --payment` for every booking. TOTAL adds in
/// floating point and never fails; it is exact while a booking's sum stays
/// below 2^53 minor units, i.e. for any 9,000 payments of the largest
/// accepted amount (`domain::money::MAX_AMOUNT_MINOR`).
pub(super) fn received_sql(dialect: Dialect) -> String {
    format!(
        "(SELECT {} FROM payments p \
          WHERE p.booking_id = b.id AND p.outcome IN {RECEIVED_OUTCOMES})",
        dialect.total("p.amount_minor")
    )
}

/// What a booking should pay: its stream's price less its discount, rounded
/// as `domain::money::expected_price` rounds; NULL when the stream has no price.
pub(super) const EXPECTED_SQL: &str =
    "(SELECT (s.price_minor * (100 - COALESCE(b.discount_percent, 0)) + 50) / 100 \
      FROM streams s WHERE s.course_id = b.course_id AND s.code = b.course_stream)";

/// The money-state condition of `--payment`. Partial, overpaid and refund
/// start from the bookings that received money (an index lookup on the
/// payments), so they cost what the payments do, not what the bookings do.
pub(super) fn payment_state_sql(state: PaymentState, dialect: Dialect) -> String {
    let received = received_sql(dialect);
    let with_money = format!(
        "b.id IN (SELECT p.booking_id FROM payments p WHERE p.outcome IN {RECEIVED_OUTCOMES})"
    );
    // Paid more than the price (net of refunds), or, without a price, paid
    // twice (the import said overpaid) and nothing refunded since.
    let overpaid = format!(
        "({received} > {EXPECTED_SQL} OR ({EXPECTED_SQL} IS NULL \
           AND EXISTS (SELECT 1 FROM payments p WHERE p.booking_id = b.id AND p.outcome = 'overpaid') \
           AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.booking_id = b.id AND p.outcome = 'refund')))"
    );
    match state {
        // Pending or confirmed: a part-paid booking confirmed by hand still
        // owes the rest (issue 25: it vanished from this list).
        PaymentState::Partial => format!(
            "b.confirmed IN (1, 2) AND {with_money} AND {received} > 0 AND {received} < {EXPECTED_SQL}"
        ),
        PaymentState::Overpaid => format!("{with_money} AND {overpaid}"),
        // No money kept (net of refunds); money in another currency, which
        // cannot be added up with the rest, still means not unpaid.
        PaymentState::Unpaid => format!(
            "b.confirmed = 1 AND {received} <= 0 AND NOT EXISTS (SELECT 1 FROM payments p \
             WHERE p.booking_id = b.id AND p.amount_minor > 0 AND p.outcome = 'currency_mismatch')"
        ),
        PaymentState::Refund => {
            format!("{with_money} AND ((b.confirmed = -1 AND {received} > 0) OR {overpaid})")
        }
    }
}

pub(super) fn filter_conditions(filter: &BookingFilter, dialect: Dialect) -> Conditions {
    let mut c = Conditions::default();
    if let Some(status) = filter.status {
        c.push("b.confirmed = ?", vec![Box::new(status.code())]);
    }
    if let Some(course) = filter.course {
        c.push("b.course_id = ?", vec![Box::new(course)]);
    }
    match filter.stream.as_deref() {
        Some("") => c.push("(b.course_stream IS NULL OR b.course_stream = '')", vec![]),
        Some(stream) => c.push("b.course_stream = ?", vec![Box::new(stream.to_string())]),
        None => {}
    }
    match &filter.user {
        Some(UserRef::Id(id)) => c.push("b.user_id = ?", vec![Box::new(*id)]),
        Some(UserRef::Username(name)) => c.push(
            &dialect.equal_ignoring_case("b.username", "?"),
            vec![Box::new(name.clone())],
        ),
        None => {}
    }
    if let Some(code) = &filter.referral {
        c.push(
            &dialect.equal_ignoring_case("b.referral_code", "?"),
            vec![Box::new(code.clone())],
        );
    }
    if let Some(t) = filter.since {
        c.push("b.created_at >= ?", vec![Box::new(to_storage(t))]);
    }
    if let Some(t) = filter.until {
        c.push("b.created_at < ?", vec![Box::new(to_storage(t))]);
    }
    if let Some(t) = filter.known_before {
        // import_state.imported_at is the first import's time (kept by
        // re-imports). Two comparisons, not one COALESCE: on PostgreSQL an
        // adopted bookings table's created_at may be a timestamptz.
        c.push(
            "((SELECT s.imported_at FROM import_state s WHERE s.booking_id = b.id) < ? \
              OR (NOT EXISTS (SELECT 1 FROM import_state s WHERE s.booking_id = b.id) AND b.created_at < ?))",
            vec![Box::new(to_storage(t)), Box::new(to_storage(t))],
        );
    }
    if let Some(text) = &filter.search {
        push_search(&mut c, &fold(text), dialect);
    }
    if let Some(state) = filter.payment {
        c.push(&payment_state_sql(state, dialect), vec![]);
    }
    c
}

/// `id` is the column that holds the booking id in the query's first table.
pub(super) fn order_by(sort: Sort, id: &str) -> String {
    match sort {
        Sort::Newest => format!(" ORDER BY {id} DESC"),
        Sort::Oldest => format!(" ORDER BY {id} ASC"),
        Sort::Created => " ORDER BY b.created_at DESC, b.id DESC".to_string(),
        Sort::CreatedAsc => " ORDER BY b.created_at ASC, b.id ASC".to_string(),
    }
}

pub(super) fn cursor_condition(c: &mut Conditions, sort: Sort, cursor: &Cursor, id: &str) {
    let op = if sort.descending() { "<" } else { ">" };
    match (&cursor.created_at, sort.by_created()) {
        (Some(created), true) => c.push(
            &format!("(b.created_at, b.id) {op} (?, ?)"),
            vec![Box::new(created.clone()), Box::new(cursor.id)],
        ),
        _ => c.push(&format!("{id} {op} ?"), vec![Box::new(cursor.id)]),
    }
}

/// The query `bookings list` runs, exposed so that tests can check its plan.
pub fn list_query(
    filter: &BookingFilter,
    sort: Sort,
    after: Option<&Cursor>,
    limit: Option<u64>,
) -> (String, usize) {
    let (sql, args) = build_list(filter, sort, after, limit, Dialect::Sqlite, false);
    (sql, args.len())
}

/// `rare_search` (PostgreSQL): the search text has few matches
/// (`Db::search_is_rare`), so they are looked up in the trigram indexes;
/// otherwise the page is read in its order and stops at its end.
pub(super) fn build_list(
    filter: &BookingFilter,
    sort: Sort,
    after: Option<&Cursor>,
    limit: Option<u64>,
    dialect: Dialect,
    rare_search: bool,
) -> (String, Vec<Box<dyn ToValue>>) {
    // A search listed in id order walks the trigram index's matches newest
    // first and stops at the page's end, common name or none; the other
    // filters are checked on each match's row.
    let folded = filter.search.as_deref().map(fold);
    let (c, from, id) = match folded {
        Some(folded)
            if uses_search_index(&folded) && !sort.by_created() && dialect == Dialect::Sqlite =>
        {
            let others = BookingFilter {
                search: None,
                ..filter.clone()
            };
            let mut c = filter_conditions(&others, dialect);
            c.push(
                "s.bookings_search MATCH ?",
                vec![Box::new(search_phrase(&folded))],
            );
            (
                c,
                "bookings_search s CROSS JOIN bookings b ON b.id = s.rowid",
                "s.rowid",
            )
        }
        // PostgreSQL: the bot's names and paytrack's own folded text are
        // indexed on two tables (migration 13), so the matches come from
        // each, as two branches that cannot both hold a booking; a page in
        // id order can then still stop early on a common name.
        Some(folded) if rare_search && dialect == Dialect::Postgres => {
            let others = BookingFilter {
                search: None,
                ..filter.clone()
            };
            let mut c = filter_conditions(&others, dialect);
            c.args.push(Box::new(like_pattern(&folded)));
            let p = c.args.len();
            let names = pg_names_fold("b.");
            let from = format!(
                "(SELECT * FROM bookings b WHERE {names} LIKE ?{p} \
                  UNION ALL \
                  SELECT * FROM bookings b \
                   WHERE b.id IN (SELECT s.booking_id FROM booking_state s WHERE s.search_text LIKE ?{p}) \
                     AND NOT {names} LIKE ?{p}) AS b"
            );
            return finish_list(c, &from, "b.id", sort, after, limit);
        }
        _ => (filter_conditions(filter, dialect), "bookings b", "b.id"),
    };
    finish_list(c, from, id, sort, after, limit)
}

/// The listing's SELECT over `from` with conditions `c`, the cursor, the order and the limit.
pub(super) fn finish_list(
    mut c: Conditions,
    from: &str,
    id: &str,
    sort: Sort,
    after: Option<&Cursor>,
    limit: Option<u64>,
) -> (String, Vec<Box<dyn ToValue>>) {
    if let Some(cursor) = after {
        cursor_condition(&mut c, sort, cursor, id);
    }
    let mut sql = format!(
        "SELECT {COLUMNS} FROM {from}{}{}",
        c.where_clause(),
        order_by(sort, id)
    );
    if let Some(n) = limit {
        c.args.push(Box::new(i64::try_from(n).unwrap_or(i64::MAX)));
        sql += &format!(" LIMIT ?{}", c.args.len());
    }
    (sql, c.args)
}
