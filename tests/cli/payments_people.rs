//! Issue 15: payments that need a person — bounded money, honest outcomes
//! (conflict, ambiguous, news-only exit 10), assign, resolve, refunds and
//! bank files as they come (encodings, column maps, Russian dates).

use std::fmt::Write as _;

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
    env.exec(&format!(
        "UPDATE streams SET price_minor = {price_minor}, currency = 'RUB' WHERE course_id = 1 AND code = '{stream}'"
    ));
}

use crate::harness::status_of;

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
    for ext in ["legacy1", "legacy2"] {
        env.exec(&format!(
            "INSERT INTO payments (provider, external_id, booking_id, amount_minor, currency, outcome, imported_at)
             VALUES ('old', '{ext}', 13, 9223372036854775807, 'RUB', 'overpaid', '2024-01-01T00:00:00.000000Z')"
        ));
    }
    // The price of a stream, as large as an i64 goes.
    env.exec(
        "UPDATE streams SET price_minor = 9223372036854775807, currency = 'RUB' WHERE course_id = 1 AND code = '4th_stream'",
    );
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

// ---- 1. Assign --------------------------------------------------------------

fn payment_id(env: &Env, external_id: &str) -> String {
    env.count(&format!(
        "SELECT id FROM payments WHERE external_id = '{external_id}' AND outcome <> 'conflict'"
    ))
    .to_string()
}

fn audit_count(env: &Env, action: &str, booking: i64) -> i64 {
    env.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND booking_id = {booking}"
    ))
}

#[test]
fn assigning_an_unmatched_payment_confirms_the_booking_once_through_the_status_rules() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let file = env.write(
        "bank.csv",
        "external_id;amount;currency;description\n\
         u1;27 000,00;RUB;Перевод без номера\n\
         u2;30000;RUB;бронь 1400\n",
    );
    let (exit, _) = import(&env, &file, &["--provider", "bank"]);
    assert_eq!(exit, code::ATTENTION);
    let u1 = payment_id(&env, "u1");
    assert_eq!(
        ids(&env, &["payments", "list", "--attention", "--csv"]).len(),
        2
    );

    // Booking 1 (10 % off the 30 000.00 price) is due 27 000.00: the payment completes it.
    let out = env.run(&["payments", "assign", &u1, "1", "--json"]);
    assert_eq!(out.status.code(), Some(code::OK), "{out:?}");
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["outcome"], "confirmed");
    assert_eq!(done["booking_confirmed"], true);
    assert_eq!(done["old_outcome"], "unmatched");
    assert_eq!(status_of(&env, 1), 2);
    assert_eq!(audit_count(&env, "booking.status_changed", 1), 1);
    assert_eq!(audit_count(&env, "payment.assigned", 1), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 1"),
        1
    );
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM payments WHERE id = {u1} AND booking_id = 1 AND outcome = 'confirmed'"
        )),
        1
    );
    assert_eq!(
        ids(&env, &["payments", "list", "--attention", "--csv"]).len(),
        1
    );

    // Attached now: refused without --force --reason, and nothing changes.
    let before = env.snapshot();
    let err = env.fails(&["payments", "assign", &u1, "7"], code::REFUSED);
    assert!(err.contains("attached to booking 1"), "{err}");
    env.fails(&["payments", "assign", &u1, "7", "--force"], code::USAGE);
    env.fails(&["payments", "assign", "99999", "7"], code::NOT_FOUND);
    let u2 = payment_id(&env, "u2");
    env.fails(&["payments", "assign", &u2, "99999"], code::NOT_FOUND);
    assert_eq!(env.snapshot(), before);

    // The unknown-booking payment goes to booking 7 (30 000.00 due): confirmed too.
    env.ok(&[
        "payments",
        "assign",
        &u2,
        "7",
        "--reason",
        "typo in the booking number",
    ]);
    assert_eq!(status_of(&env, 7), 2);
    assert_eq!(audit_count(&env, "booking.status_changed", 7), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 7"),
        1
    );
    assert!(ids(&env, &["payments", "list", "--attention", "--csv"]).is_empty());

    // Moving an attached payment needs --force --reason; booking 1 keeps its status.
    env.ok(&[
        "payments",
        "assign",
        &u1,
        "13",
        "--force",
        "--reason",
        "paid for the friend's booking",
    ]);
    assert_eq!(
        env.count(&format!("SELECT booking_id FROM payments WHERE id = {u1}")),
        13
    );
    assert_eq!(status_of(&env, 1), 2);
    env.ok(&["audit", "verify"]);
}

// ---- 2. Resolve -------------------------------------------------------------

#[test]
fn resolving_takes_rows_off_the_attention_list_and_keeps_their_outcome() {
    let env = Env::with_sample();
    import(&env, fixture("payments.csv").to_str().unwrap(), &[]);
    let unknown = payment_id(&env, "pay_7_unknown");
    let conflict = env
        .count("SELECT id FROM payments WHERE outcome = 'conflict'")
        .to_string();
    assert_eq!(
        ids(&env, &["payments", "list", "--attention", "--csv"]).len(),
        2
    );
    // A payment that needs no person is refused, and the whole command with it.
    let confirmed = env
        .count("SELECT id FROM payments WHERE outcome = 'confirmed' LIMIT 1")
        .to_string();
    let before = env.snapshot();
    let err = env.fails(
        &["payments", "resolve", &unknown, &confirmed, "--note", "x"],
        code::BAD_INPUT,
    );
    assert!(err.contains("needs no attention"), "{err}");
    env.fails(
        &["payments", "resolve", &unknown, "--note", "  "],
        code::BAD_INPUT,
    );
    env.fails(&["payments", "resolve", &unknown], code::USAGE);
    assert_eq!(env.snapshot(), before);

    env.ok(&[
        "payments",
        "resolve",
        &unknown,
        &conflict,
        "--note",
        "returned to the payer",
    ]);
    assert!(ids(&env, &["payments", "list", "--attention", "--csv"]).is_empty());
    let row = &csv_rows(&env.ok(&["payments", "list", "--outcome", "unknown_booking", "--csv"]))[1];
    assert_eq!(row[8], "unknown_booking");
    assert_eq!(row[10], "2024-12-10T12:00:00.000000Z");
    assert_eq!(row[11], "tester");
    assert_eq!(row[12], "returned to the payer");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log a JOIN audit_personal p ON p.entry_id = a.id AND p.field = 'reason' WHERE a.action = 'payment.resolved' AND p.value = 'returned to the payer'"),
        2
    );
    // Again: left as it was, no second audit entry.
    env.ok(&["payments", "resolve", &unknown, "--note", "again"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.resolved'"),
        2
    );
    // A resolved row is not news, nor listed, when the file comes again.
    let (exit, report) = import(
        &env,
        fixture("payments.csv").to_str().unwrap(),
        &["--strict"],
    );
    assert_eq!(exit, code::OK, "{report}");
    env.ok(&["audit", "verify"]);
}

#[test]
fn a_partial_payment_leaves_the_attention_list_when_its_booking_is_paid_in_full() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let head = "external_id,provider,booking_id,amount,currency\n";
    let first = env.write("first.csv", format!("{head}p1,yookassa,1,15000.00,RUB\n"));
    let (exit, _) = import(&env, &first, &[]);
    assert_eq!(exit, code::ATTENTION);
    let attention = csv_rows(&env.ok(&["payments", "list", "--attention", "--csv"]));
    assert_eq!(attention.len(), 2);
    assert_eq!(attention[1][8], "partial");
    let rest = env.write("rest.csv", format!("{head}p2,yookassa,1,12000.00,RUB\n"));
    let (exit, _) = import(&env, &rest, &[]);
    assert_eq!(exit, code::OK);
    assert_eq!(status_of(&env, 1), 2);
    assert!(ids(&env, &["payments", "list", "--attention", "--csv"]).is_empty());
    // Its outcome is kept, and nobody had to resolve it.
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM payments WHERE outcome = 'partial' AND resolved_at IS NULL"
        ),
        1
    );
    // Re-importing the first file is not news either.
    let (exit, report) = import(&env, &first, &["--strict"]);
    assert_eq!(exit, code::OK, "{report}");
}

// ---- 3. Refunds -------------------------------------------------------------

#[test]
fn refunds_net_out_in_listings_and_a_full_refund_only_offers_cancelling() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    env.ok(&["booking", "set-status", "9", "cancelled"]);
    let file = env.write(
        "p.csv",
        "external_id,provider,booking_id,amount,currency\n\
         c1,yookassa,9,30000,RUB\n\
         o1,yookassa,7,35000,RUB\n\
         ok,yookassa,13,30000,RUB\n",
    );
    import(&env, &file, &[]);
    let list = |state: &str| {
        ids(
            &env,
            &["bookings", "list", "--payment", state, "--all", "--csv"],
        )
    };
    assert_eq!(list("overpaid"), ["7"]);
    assert_eq!(list("refund"), ["9", "7"]);

    // The excess of booking 7 returned by hand: no longer overpaid, nothing to return.
    let out = env.run(&[
        "payments",
        "refund",
        "7",
        "--amount",
        "5000",
        "--currency",
        "RUB",
        "--reason",
        "overpaid",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(code::OK), "{out:?}");
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["net_received"], "30000.00");
    assert_eq!(done["fully_refunded_confirmed"], false);
    assert!(list("overpaid").is_empty());
    assert_eq!(list("refund"), ["9"]);
    assert_eq!(audit_count(&env, "payment.refunded", 7), 1);

    // Booking 9's money comes back as a negative line in the provider's file.
    let back = env.write(
        "back.csv",
        "external_id,provider,booking_id,amount,currency\nr9,yookassa,9,-30000.00,RUB\n",
    );
    let (exit, report) = import(&env, &back, &[]);
    assert_eq!(exit, code::OK, "{report}");
    assert_eq!(report["outcomes"]["refund"], 1);
    assert!(list("refund").is_empty());
    assert_eq!(status_of(&env, 9), -1);

    // Refusals change nothing: more than the booking kept, another currency, no booking.
    let before = env.snapshot();
    let err = env.fails(
        &[
            "payments",
            "refund",
            "13",
            "--amount",
            "30000.01",
            "--currency",
            "RUB",
            "--reason",
            "x",
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("more than"), "{err}");
    env.fails(
        &[
            "payments",
            "refund",
            "13",
            "--amount",
            "100",
            "--currency",
            "USD",
            "--reason",
            "x",
        ],
        code::BAD_INPUT,
    );
    env.fails(
        &[
            "payments",
            "refund",
            "99999",
            "--amount",
            "100",
            "--currency",
            "RUB",
            "--reason",
            "x",
        ],
        code::NOT_FOUND,
    );
    env.fails(
        &[
            "payments",
            "refund",
            "13",
            "--amount",
            "0",
            "--currency",
            "RUB",
            "--reason",
            "x",
        ],
        code::BAD_INPUT,
    );
    assert_eq!(env.snapshot(), before);

    // A full refund of confirmed booking 13: recorded, cancelling offered, not done.
    let out = env.run(&[
        "payments",
        "refund",
        "13",
        "--amount",
        "30000",
        "--currency",
        "RUB",
        "--reason",
        "student withdrew",
    ]);
    assert_eq!(out.status.code(), Some(code::OK));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("paytrack booking set-status 13 cancelled"),
        "{stderr}"
    );
    assert_eq!(status_of(&env, 13), 2, "never cancelled without asking");
    assert!(
        !list("unpaid").contains(&"13".to_string()),
        "confirmed bookings are never unpaid"
    );
    // bookings show lists the refund with its sign.
    let show: serde_json::Value =
        serde_json::from_str(&env.ok(&["bookings", "show", "13", "--json"])).unwrap();
    let amounts: Vec<i64> = show["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [3_000_000, -3_000_000]);
    assert_eq!(show["received"]["RUB"], "0.00");
    let table = env.ok(&["bookings", "show", "13"]);
    assert!(table.contains("-30,000.00 RUB"), "{table}");
    assert!(
        table.contains("Received, net of refunds: 0.00 RUB"),
        "{table}"
    );
    let show: serde_json::Value =
        serde_json::from_str(&env.ok(&["bookings", "show", "7", "--json"])).unwrap();
    assert_eq!(
        show["received"]["RUB"], "30000.00",
        "35000 paid, 5000 returned"
    );
    // Cancelling it afterwards goes through the status rules as usual.
    env.ok(&[
        "booking",
        "set-status",
        "13",
        "cancelled",
        "--reason",
        "refunded",
    ]);
    assert!(list("refund").is_empty(), "nothing left to return");
}

#[test]
fn a_refunded_pending_booking_is_unpaid_again() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let file = env.write(
        "p.csv",
        "external_id,provider,booking_id,amount,currency\np1,yookassa,1,15000,RUB\n",
    );
    import(&env, &file, &[]);
    let list = |state: &str| {
        ids(
            &env,
            &["bookings", "list", "--payment", state, "--all", "--csv"],
        )
    };
    assert_eq!(list("partial"), ["1"]);
    assert!(!list("unpaid").contains(&"1".to_string()));
    env.ok(&[
        "payments",
        "refund",
        "1",
        "--amount",
        "15000",
        "--currency",
        "RUB",
        "--reason",
        "changed their mind",
    ]);
    assert!(list("partial").is_empty());
    assert!(list("unpaid").contains(&"1".to_string()));
}

// ---- 5. Bank files as they come ---------------------------------------------

/// A Russian bank statement: Windows-1251, `;`, the bank's own Cyrillic headers,
/// decimal commas, and the three date forms.
fn bank_statement_cp1251(rows: &[&str]) -> Vec<u8> {
    let mut text = String::from("Номер;Дата;Сумма;Валюта;Назначение платежа;Плательщик\n");
    for row in rows {
        text += row;
        text.push('\n');
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");
    bytes.into_owned()
}

const SBER_MAP: &str =
    "external_id=Номер,amount=Сумма,currency=Валюта,description=Назначение платежа,paid_at=Дата";

#[test]
fn a_windows_1251_statement_with_cyrillic_headers_is_read_with_a_remembered_map() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let first = env.write(
        "statement-1.csv",
        bank_statement_cp1251(&[
            "101;01.03.2024 12:06;27 000,00;RUB;Оплата курса, бронь №1;Иванов И. И.",
            "102;02.03.2024;30000,00;руб.;Оплата по брони 7;Петрова А.",
            "103;2024-03-03T10:00:00+03:00;100,00;RUB;Перевод без номера;Сидоров",
        ]),
    );
    // Without the map the bank's headers mean nothing to paytrack.
    let before = env.snapshot();
    env.fails(
        &["payments", "import", &first, "--provider", "sber"],
        code::BAD_INPUT,
    );
    // Forcing the wrong encoding is refused, naming it.
    let err = env.fails(
        &[
            "payments",
            "import",
            &first,
            "--provider",
            "sber",
            "--map",
            SBER_MAP,
            "--encoding",
            "utf-8",
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("UTF-8"), "{err}");
    // A map names columns of a provider; a header the file lacks is refused.
    env.fails(
        &["payments", "import", &first, "--map", SBER_MAP],
        code::USAGE,
    );
    env.fails(
        &[
            "payments",
            "import",
            &first,
            "--provider",
            "sber",
            "--map",
            "amount=Итого,external_id=Номер",
        ],
        code::BAD_INPUT,
    );
    assert_eq!(env.snapshot(), before);

    let out = env.run(&[
        "payments",
        "import",
        &first,
        "--provider",
        "sber",
        "--map",
        SBER_MAP,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(code::ATTENTION));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("read as windows-1251"), "{stderr}");
    assert!(
        !stderr.contains("ignoring"),
        "the bank's other columns are expected: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcomes"]["confirmed"], 2);
    assert_eq!(report["attention"][0]["outcome"], "unmatched");
    assert_eq!(status_of(&env, 1), 2);
    assert_eq!(status_of(&env, 7), 2);
    let stored = |ext: &str, column: &str| -> String {
        env.query_text(&format!(
            "SELECT {column} FROM payments WHERE external_id = '{ext}'"
        ))
        .unwrap()
    };
    assert_eq!(stored("101", "paid_at"), "2024-03-01T12:06:00.000000Z");
    assert_eq!(stored("102", "paid_at"), "2024-03-02T00:00:00.000000Z");
    assert_eq!(stored("103", "paid_at"), "2024-03-03T07:00:00.000000Z");
    assert_eq!(stored("101", "description"), "Оплата курса, бронь №1");
    assert_eq!(stored("102", "currency"), "RUB");

    // The next statement of the same bank needs no --map.
    let second = env.write(
        "statement-2.csv",
        bank_statement_cp1251(&["104;04.03.2024 09:30;30 000,00;RUB;бронь №13;Кузнецов"]),
    );
    let (exit, report) = import(&env, &second, &["--provider", "sber"]);
    assert_eq!(exit, code::OK, "{report}");
    assert_eq!(status_of(&env, 13), 2);
    let providers = csv_rows(&env.ok(&["payments", "providers", "--csv"]));
    assert_eq!(
        providers[0],
        [
            "provider",
            "payments",
            "column_map",
            "encoding",
            "updated_at"
        ]
    );
    let sber = providers.iter().find(|r| r[0] == "sber").unwrap();
    assert_eq!(sber[1], "4");
    assert!(sber[2].contains("amount=Сумма"), "{sber:?}");
    assert!(
        sber[2].contains("description=Назначение платежа"),
        "{sber:?}"
    );
    assert!(env.ok(&["payments", "providers"]).contains("sber"));
}

#[test]
fn utf8_with_a_bom_and_forced_encodings_are_read() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(
        "external_id;amount;paid_at;description\nb1;27000,00;01.03.2024 12:06;бронь №1\n"
            .as_bytes(),
    );
    let file = env.write("bom.csv", bom);
    let (exit, _) = import(&env, &file, &["--provider", "bank"]);
    assert_eq!(exit, code::OK);
    assert_eq!(status_of(&env, 1), 2);
    // Forced Windows-1251 with plain headers; remembered for the provider.
    let (bytes, _, _) = encoding_rs::WINDOWS_1251
        .encode("external_id;amount;description\nb2;30000;Оплата по брони 7\n");
    let file = env.write("cp.csv", &bytes);
    let (exit, _) = import(&env, &file, &["--provider", "alfa", "--encoding", "cp1251"]);
    assert_eq!(exit, code::OK);
    assert_eq!(status_of(&env, 7), 2);
    let providers = csv_rows(&env.ok(&["payments", "providers", "--csv"]));
    let alfa = providers.iter().find(|r| r[0] == "alfa").unwrap();
    assert_eq!(alfa[3], "windows-1251");
    env.fails(
        &[
            "payments",
            "import",
            &file,
            "--provider",
            "x",
            "--encoding",
            "klingon",
        ],
        code::USAGE,
    );
}

/// A large file is read as a stream when it is plain UTF-8 (issue 19: a
/// 100k-row file was held in memory twice). The encoding is still decided by
/// every byte: a statement whose only Cyrillic comes after the first
/// hundreds of kilobytes is Windows-1251 all the same, every row read once,
/// from a file as from stdin.
#[test]
fn the_encoding_of_a_large_statement_is_decided_by_all_of_its_bytes() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let ascii: Vec<String> = (0..6000)
        .map(|i| format!("t{i};01.03.2024;100,00;RUB;Transfer {i} without a booking;Payer {i}"))
        .collect();
    let text = format!(
        "external_id;paid_at;amount;currency;description;payer\n{}\n{}\n",
        ascii.join("\n"),
        "101;01.03.2024 12:06;27 000,00;RUB;Оплата курса, бронь №1;Иванов И. И."
    );
    let bytes = encoding_rs::WINDOWS_1251.encode(&text).0.into_owned();
    assert!(bytes.len() > 300_000, "{}", bytes.len());
    assert!(std::str::from_utf8(&bytes[..bytes.len() - 60]).is_ok());
    assert!(std::str::from_utf8(&bytes).is_err());
    let file = env.write("late-cyrillic.csv", &bytes);
    let out = env.run(&["payments", "import", &file, "--provider", "sber", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("read as windows-1251"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows"], 6001, "{report}");
    assert_eq!(report["outcomes"]["unmatched"], 6000, "{report}");
    assert_eq!(report["outcomes"]["confirmed"], 1, "{report}");
    assert_eq!(status_of(&env, 1), 2);
    assert_eq!(
        env.query_text("SELECT description FROM payments WHERE external_id = '101'")
            .unwrap(),
        "Оплата курса, бронь №1"
    );

    // The same rows in UTF-8, streamed from the file, and again from stdin:
    // all already imported, none read twice or lost.
    let file = env.write("late-cyrillic-utf8.csv", text.as_bytes());
    let (_, report) = import(&env, &file, &["--provider", "sber"]);
    assert_eq!(report["rows"], 6001, "{report}");
    assert_eq!(report["already_imported"], 6001, "{report}");
    let out = env
        .cmd()
        .args(["payments", "import", "-", "--provider", "sber", "--json"])
        .write_stdin(text.as_bytes().to_vec())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["already_imported"], 6001, "{report}");
}

/// A payments import writes its confirmations in batches (issue 19); each
/// must still be what one `booking set-status` writes: the status, the
/// payment, one message and one audit entry naming that message, the hash
/// chain intact, payment ids in file order. The file confirms more bookings
/// than one batch holds, and pays some of them twice — one on the very next
/// row, whose booking was read ahead with the row before, 100 much later —
/// where the second payment must see the first (overpaid, not confirmed).
#[test]
fn batched_confirmations_write_what_one_change_writes() {
    let env = Env::new();
    let mut bookings = String::new();
    for id in 1..=1500 {
        let user = 7000 + id;
        writeln!(
            bookings,
            "{id},{user},user_{id},Имя {id},1,9th_stream,1,2024-03-01 10:06:00+03,,"
        )
        .unwrap();
    }
    let file = env.write(
        "bookings.csv",
        format!("id,user_id,username,first_name,course_id,course_stream,confirmed,created_at,referral_code,discount_percent\n{bookings}"),
    );
    env.ok(&["bookings", "import", &file]);
    set_price(&env, "9th_stream", 1_000_000);
    // Bookings 1..=1200 paid once; 1..=100 paid again at the end of the file.
    let mut payments = String::from("external_id,provider,booking_id,amount,currency\n");
    for id in 1..=1200 {
        writeln!(payments, "p{id},bank,{id},10000.00,RUB").unwrap();
        if id == 5 {
            // Paid again at once: read ahead with the row before, changed by it.
            writeln!(payments, "twice5,bank,5,10.00,RUB").unwrap();
        }
    }
    for id in 1..=100 {
        writeln!(payments, "again{id},bank,{id},10.00,RUB").unwrap();
    }
    let file = env.write("payments.csv", payments);
    let (_, report) = import(&env, &file, &[]);
    assert_eq!(report["outcomes"]["confirmed"], 1200, "{report}");
    assert_eq!(report["outcomes"]["overpaid"], 101, "{report}");
    assert_eq!(report["messages_queued"], 1200, "{report}");

    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2"),
        1200
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'confirmation'"),
        1200
    );
    // One status entry per confirmed booking, naming its own message.
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM audit_log a JOIN outbox o ON o.booking_id = a.booking_id
              WHERE a.action = 'booking.status_changed'
                AND CAST(json_extract(a.details, '$.message_id') AS INTEGER) = o.id
                AND json_extract(a.details, '$.payment_ref') = 'p' || a.booking_id"
        ),
        1200
    );
    // Payment ids follow the file.
    let order =
        env.query_ints("SELECT booking_id FROM payments WHERE external_id LIKE 'p%' ORDER BY id");
    assert_eq!(order, (1..=1200).collect::<Vec<i64>>());
    assert!(
        env.count("SELECT MIN(id) FROM payments WHERE external_id LIKE 'again%'")
            > env.count("SELECT MAX(id) FROM payments WHERE external_id LIKE 'p%'")
    );
    env.ok(&["audit", "verify"]);
    // The counters moved with every status.
    env.ok(&["stats", "verify"]);
}

// ---- Upgrading a database and the edges of assign/refund --------------------

#[test]
fn a_database_from_before_this_change_keeps_its_payments_and_gains_the_new_outcomes() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: SQLite's migrations
    }
    let env = Env::empty();
    {
        let conn = env.sql();
        // Every migration before the one that rebuilds payments for issue 15.
        for (version, sql) in paytrack::db::migrations() {
            if sql.contains("CREATE TABLE payment_providers") {
                break;
            }
            conn.execute_batch(&format!(
                "BEGIN; {sql}; PRAGMA user_version = {version}; COMMIT;"
            ))
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO courses (id, name, created_at, updated_at) VALUES (1, 'C', 'x', 'x');
             INSERT INTO bookings (id, user_id, course_id, confirmed, created_at, updated_at)
                  VALUES (5, 1, 1, 1, '2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z');
             INSERT INTO payments (provider, external_id, booking_id, amount_minor, currency, outcome, imported_at)
                  VALUES ('bank', 'old1', 5, -100, 'RUB', 'not_positive', '2024-01-01T00:00:00.000000Z'),
                         ('bank', 'old2', 9, 100, 'RUB', 'unknown_booking', '2024-01-01T00:00:00.000000Z');",
        )
        .unwrap();
    }
    let listed = csv_rows(&env.ok(&["payments", "list", "--csv"]));
    assert_eq!(listed.len(), 3);
    assert_eq!(
        env.count("PRAGMA user_version"),
        i64::from(paytrack::db::latest_version())
    );
    assert_eq!(
        env.count("SELECT reference_id FROM payments WHERE external_id = 'old2'"),
        9
    );
    // The new outcomes are accepted; (provider, external_id) is still unique for payments.
    let conn = env.sql();
    conn.execute(
        "UPDATE payments SET outcome = 'conflict' WHERE external_id = 'old1'",
        [],
    )
    .unwrap();
    assert!(conn
        .execute(
            "INSERT INTO payments (provider, external_id, amount_minor, currency, outcome, imported_at)
             VALUES ('bank', 'old2', 1, 'RUB', 'unmatched', 'x')",
            [],
        )
        .is_err());
    assert!(conn
        .execute(
            "INSERT INTO payments (provider, external_id, amount_minor, currency, outcome, imported_at)
             VALUES ('bank', 'old2', 1, 'RUB', 'nonsense', 'x')",
            [],
        )
        .is_err());
}

#[test]
fn a_conflict_cannot_be_assigned_and_a_refund_line_for_a_paid_booking_offers_cancelling() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let head = "external_id,provider,booking_id,amount,currency\n";
    let paid = env.write("paid.csv", format!("{head}p1,yookassa,7,30000,RUB\n"));
    import(&env, &paid, &[]);
    let other = env.write("other.csv", format!("{head}p1,yookassa,7,31000,RUB\n"));
    import(&env, &other, &[]);
    let conflict = env
        .count("SELECT id FROM payments WHERE outcome = 'conflict'")
        .to_string();
    let before = env.snapshot();
    for args in [
        vec!["payments", "assign", &conflict, "13"],
        vec![
            "payments", "assign", &conflict, "13", "--force", "--reason", "x",
        ],
    ] {
        let err = env.fails(&args, code::REFUSED);
        assert!(err.contains("conflicting version"), "{err}");
    }
    assert_eq!(env.snapshot(), before);

    // The provider's refund of the whole payment, as a negative line.
    let back = env.write("back.csv", format!("{head}r1,yookassa,7,-30000,RUB\n"));
    let out = env.run(&["payments", "import", &back]);
    assert_eq!(out.status.code(), Some(code::OK));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("paytrack booking set-status 7 cancelled"),
        "{stderr}"
    );
    assert_eq!(status_of(&env, 7), 2, "offered, not done");
}
