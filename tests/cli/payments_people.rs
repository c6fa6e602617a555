//! Issue 15: payments that need a person — bounded money, honest outcomes
//! (conflict, ambiguous, news-only exit 10), assign, resolve, refunds and
//! bank files as they come (encodings, column maps, Russian dates).

use crate::harness::{code, csv_rows, fixture, Env};

/// Runs `payments import FILE --json ARGS…`; returns the exit code and the report.
fn import(env: &Env, file: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["payments", "import", file, "--json"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stderr}"));
    (out.status.code().unwrap(), report)
}

fn set_price(env: &Env, stream: &str, price_minor: i64) {
    env.sql()
        .execute(
            "UPDATE streams SET price_minor = ?2, currency = 'RUB' WHERE course_id = 1 AND code = ?1",
            rusqlite::params![stream, price_minor],
        )
        .unwrap();
}

/// The first column of a CSV listing, header dropped.
fn ids(env: &Env, args: &[&str]) -> Vec<String> {
    csv_rows(&env.ok(args))[1..]
        .iter()
        .map(|r| r[0].clone())
        .collect()
}

// ---- 6. Bounded money -------------------------------------------------------

#[test]
fn an_amount_beyond_the_maximum_is_refused_naming_the_line_and_nothing_is_written() {
    let env = Env::with_sample();
    let before = env.snapshot();
    for (name, amount) in [
        ("huge.csv", "92233720368547758.07"),
        ("negative.csv", "-92233720368547758.08"),
        ("just-over.csv", "10000000000.01"),
    ] {
        let file = env.write(
            name,
            format!("external_id,provider,booking_id,amount\nok,x,1,27000\nbig,x,7,{amount}\n"),
        );
        let err = env.fails(&["payments", "import", &file], code::BAD_INPUT);
        assert!(err.contains("line 3, column amount"), "{name}: {err}");
        assert!(err.contains("maximum 10000000000.00"), "{name}: {err}");
        assert_eq!(env.snapshot(), before, "{name}");
    }
    // The maximum itself is accepted.
    let file = env.write(
        "max.csv",
        "external_id,provider,booking_id,amount\nmax,x,7,10000000000.00\n",
    );
    import(&env, &file, &[]);
    assert_eq!(
        env.count("SELECT amount_minor FROM payments WHERE external_id = 'max'"),
        1_000_000_000_000
    );
    // A hand-recorded payment and a price are bounded at their edge too.
    env.fails(
        &[
            "streams",
            "edit",
            "3rd_stream",
            "--course",
            "1",
            "--price",
            "92233720368547758.07",
        ],
        code::USAGE,
    );
    let err = env.fails(
        &[
            "booking",
            "set-status",
            "13",
            "confirmed",
            "--payment-ref",
            "r1",
            "--amount",
            "92233720368547758.07",
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("maximum"), "{err}");
}

#[test]
fn sums_over_rows_stored_before_the_bound_never_overflow_or_wrap() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let file = env.write(
        "p.csv",
        "external_id,provider,booking_id,amount,currency\no1,yookassa,7,35000,RUB\n",
    );
    import(&env, &file, &[]);
    // Rows as an older paytrack accepted them: i64::MAX twice on one booking.
    let conn = env.sql();
    for ext in ["legacy1", "legacy2"] {
        conn.execute(
            "INSERT INTO payments (provider, external_id, booking_id, amount_minor, currency, outcome, imported_at)
             VALUES ('old', ?1, 13, 9223372036854775807, 'RUB', 'overpaid', '2024-01-01T00:00:00.000000Z')",
            [ext],
        )
        .unwrap();
    }
    // The price of a stream, as large as an i64 goes.
    conn.execute(
        "UPDATE streams SET price_minor = 9223372036854775807, currency = 'RUB' WHERE course_id = 1 AND code = '4th_stream'",
        [],
    )
    .unwrap();
    drop(conn);
    env.ok(&["booking", "set-status", "47", "confirmed", "--no-notify"]);
    assert_eq!(
        ids(
            &env,
            &[
                "bookings",
                "list",
                "--payment",
                "overpaid",
                "--all",
                "--csv"
            ]
        ),
        ["13", "7"]
    );
    ids(
        &env,
        &["bookings", "list", "--payment", "refund", "--all", "--csv"],
    );
    ids(
        &env,
        &["bookings", "list", "--payment", "partial", "--all", "--csv"],
    );
    let stats = csv_rows(&env.ok(&["stats", "streams", "--csv"]));
    let revenue = stats[0].iter().position(|c| c == "revenue").unwrap();
    let stream = stats[0].iter().position(|c| c == "course_stream").unwrap();
    for row in &stats[1..] {
        assert!(!row[revenue].starts_with('-'), "negative revenue: {row:?}");
    }
    let fourth = stats[1..]
        .iter()
        .find(|r| r[stream] == "4th_stream")
        .unwrap();
    // One confirmed booking at the full i64 price (less its discount, if any): never wrapped.
    assert!(fourth[revenue].len() >= 19, "{fourth:?}");
    env.ok(&["stats", "streams"]);
    env.ok(&["bookings", "show", "13"]);
}

// ---- 4. Honest outcomes -----------------------------------------------------

#[test]
fn the_sample_imported_twice_alerts_once_and_strict_keeps_the_old_behaviour() {
    let env = Env::with_sample();
    let sample = fixture("payments.csv");
    let sample = sample.to_str().unwrap();
    let (first, report) = import(&env, sample, &[]);
    assert_eq!(first, code::ATTENTION);
    assert!(report["new_attention"].as_u64().unwrap() > 0);
    // The sample repeats pay_7_1 with another amount and date: a conflict.
    let conflict = report["attention"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["external_id"] == "pay_7_1")
        .unwrap();
    assert_eq!(conflict["outcome"], "conflict");
    assert!(
        conflict["detail"].as_str().unwrap().contains("line 2"),
        "{conflict}"
    );
    let (second, report) = import(&env, sample, &[]);
    assert_eq!(second, code::OK, "{report}");
    assert_eq!(report["new_attention"], 0);
    assert!(report["needs_attention"].as_u64().unwrap() > 0);
    let (strict, _) = import(&env, sample, &["--strict"]);
    assert_eq!(strict, code::ATTENTION);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM payments WHERE external_id = 'pay_7_1'"),
        2
    );
    // The table says which rows were reported before.
    let table = env.ok(&["payments", "import", sample]);
    assert!(table.contains("reported before"), "{table}");
}

#[test]
fn a_known_payment_with_another_amount_date_or_booking_is_a_conflict_not_a_repeat() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let head = "external_id,provider,booking_id,amount,currency,paid_at\n";
    let first = env.write(
        "first.csv",
        format!("{head}p1,yookassa,1,27000,RUB,2024-03-01T10:00:00Z\n"),
    );
    let (exit, _) = import(&env, &first, &[]);
    assert_eq!(exit, code::OK);
    // The same payment again: a repeat, nothing new.
    let (exit, report) = import(&env, &first, &[]);
    assert_eq!(exit, code::OK);
    assert_eq!(report["already_imported"], 1);
    assert_eq!(report["needs_attention"], 0);

    for (name, row, differs) in [
        (
            "amount.csv",
            "p1,yookassa,1,30000,RUB,2024-03-01T10:00:00Z",
            "amount",
        ),
        (
            "date.csv",
            "p1,yookassa,1,27000,RUB,2024-03-02T10:00:00Z",
            "date",
        ),
        (
            "booking.csv",
            "p1,yookassa,7,27000,RUB,2024-03-01T10:00:00Z",
            "booking",
        ),
    ] {
        let file = env.write(name, format!("{head}{row}\n"));
        let (exit, report) = import(&env, &file, &[]);
        assert_eq!(exit, code::ATTENTION, "{name}: {report}");
        let row = &report["attention"][0];
        assert_eq!(row["outcome"], "conflict", "{name}");
        assert!(row["detail"].as_str().unwrap().contains(differs), "{row}");
        assert_eq!(row["already_reported"], false);
        // Reported once: the same contradiction again is listed, not news.
        let (exit, report) = import(&env, &file, &[]);
        assert_eq!(exit, code::OK, "{name}: {report}");
        assert_eq!(report["attention"][0]["already_reported"], true);
    }
    // The first version stands: booking 1 confirmed once, booking 7 untouched.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM payments WHERE outcome = 'conflict'"),
        3
    );
    assert_eq!(env.count("SELECT confirmed FROM bookings WHERE id = 7"), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 1"),
        1
    );
    assert_eq!(
        ids(&env, &["payments", "list", "--attention", "--csv"]).len(),
        3
    );
    // Conflicts are not money: booking 7 is still unpaid.
    assert!(ids(
        &env,
        &["bookings", "list", "--payment", "unpaid", "--all", "--csv"]
    )
    .contains(&"7".to_string()));
}

#[test]
fn a_description_naming_several_bookings_is_ambiguous_and_names_them() {
    let env = Env::with_sample();
    let bookings_before = env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2");
    let file = env.write(
        "bank.csv",
        "external_id;amount;description\nb1;30000,00;Оплата: бронь №12 и бронь №13\n",
    );
    let (exit, report) = import(&env, &file, &["--provider", "bank"]);
    assert_eq!(exit, code::ATTENTION);
    let row = &report["attention"][0];
    assert_eq!(row["outcome"], "ambiguous");
    assert!(row["detail"].as_str().unwrap().ends_with("12, 13"), "{row}");
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM payments WHERE outcome = 'ambiguous' AND booking_id IS NULL"
        ),
        1
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2"),
        bookings_before,
        "nothing confirmed by a guess"
    );
    let list = csv_rows(&env.ok(&["payments", "list", "--attention", "--csv"]));
    assert_eq!(list[1][8], "ambiguous");
}
