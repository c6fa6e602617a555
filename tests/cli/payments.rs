//! Issue 6: payments reconciliation through the real binary — matching,
//! outcomes, idempotence, atomicity, the report and its exit code.

use std::collections::HashMap;

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

fn sample_payments() -> String {
    fixture("payments.csv").to_str().unwrap().to_string()
}

/// The stored outcome of each payment, by external_id.
fn stored_outcomes(env: &Env) -> HashMap<String, String> {
    env.query_rows("SELECT external_id, outcome FROM payments WHERE outcome <> 'conflict'")
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect()
}

use crate::harness::status_of;

fn set_price(env: &Env, stream: &str, price_minor: i64) {
    env.exec(&format!(
        "UPDATE streams SET price_minor = {price_minor}, currency = 'RUB' WHERE course_id = 1 AND code = '{stream}'"
    ));
}

/// The outcome each sample payment should get, recounted here from the
/// bookings and prices in the database (read before the import) and the rules
/// in README: duplicates of an earlier row are skipped.
fn recount(env: &Env) -> HashMap<String, &'static str> {
    let mut expected = HashMap::new();
    let mut paid: HashMap<i64, i64> = HashMap::new();
    let mut reader = csv::Reader::from_path(fixture("payments.csv")).unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        let (id, booking_cell, amount, description) = (&row[0], &row[2], &row[3], &row[6]);
        if expected.contains_key(id) {
            continue;
        }
        let booking: i64 = if booking_cell.is_empty() {
            description.rsplit('№').next().unwrap().parse().unwrap()
        } else {
            booking_cell.parse().unwrap()
        };
        let amount = (amount.parse::<f64>().unwrap() * 100.0).round() as i64;
        let facts: Option<(i64, Option<i64>)> = env
            .query_rows(&format!(
                "SELECT b.confirmed, (s.price_minor * (100 - COALESCE(b.discount_percent, 0)) + 50) / 100
                   FROM bookings b LEFT JOIN streams s ON s.course_id = b.course_id AND s.code = b.course_stream
                  WHERE b.id = {booking}"
            ))
            .into_iter()
            .next()
            .map(|r| {
                (
                    r[0].as_deref().unwrap().parse().unwrap(),
                    r[1].as_deref().map(|p| p.parse().unwrap()),
                )
            });
        let total = paid.entry(booking).or_default();
        *total += amount;
        let outcome = match facts {
            None => "unknown_booking",
            Some((-1, _)) => "cancelled",
            Some((2, Some(price))) if *total > price => "overpaid",
            Some((2, _)) => "already_confirmed",
            Some((_, Some(price))) if *total < price => "partial",
            Some((_, Some(price))) if *total > price => "overpaid",
            Some(_) => "confirmed",
        };
        expected.insert(id.to_string(), outcome);
    }
    expected
}

/// The sample with prices that exercise every amount rule: 3rd stream exact,
/// 4th stream dearer (partial), 5th stream cheaper (overpaid); bookings without
/// a stream have no price. One booking is cancelled and one confirmed first.
fn priced_sample() -> Env {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    set_price(&env, "4th_stream", 3_200_000);
    set_price(&env, "5th_stream", 2_800_000);
    env.ok(&["booking", "set-status", "9", "cancelled"]);
    env.ok(&["booking", "set-status", "16", "confirmed", "--no-notify"]);
    env
}

#[test]
fn sample_outcomes_match_a_recount_and_confirm_through_the_state_machine() {
    let env = priced_sample();
    let expected = recount(&env);
    let pending_before: Vec<i64> = (1..=400).filter(|id| status_of(&env, *id) == 1).collect();
    let outbox_before = env.count("SELECT COUNT(*) FROM outbox");

    let (exit, report) = import(&env, &sample_payments(), &[]);
    assert_eq!(exit, code::ATTENTION);

    // Every payment stored with the outcome the recount gives.
    let stored = stored_outcomes(&env);
    assert_eq!(stored.len(), expected.len());
    for (id, outcome) in &expected {
        assert_eq!(stored[id], *outcome, "{id}");
    }
    // Each outcome appears, so the recount really exercised the rules.
    let mut per_outcome: HashMap<&str, i64> = HashMap::new();
    for outcome in expected.values() {
        *per_outcome.entry(outcome).or_default() += 1;
    }
    for outcome in [
        "confirmed",
        "already_confirmed",
        "partial",
        "overpaid",
        "cancelled",
        "unknown_booking",
    ] {
        assert!(
            per_outcome.get(outcome).copied().unwrap_or(0) > 0,
            "{outcome}"
        );
        assert_eq!(
            report["outcomes"][outcome], per_outcome[outcome],
            "{outcome}"
        );
    }

    // Exactly the pending bookings paid in full were confirmed, each once,
    // each with one queued message and one audit entry carrying the payment.
    let confirmed_now: Vec<i64> = pending_before
        .iter()
        .copied()
        .filter(|id| status_of(&env, *id) == 2)
        .collect();
    // Confirmed by a payment: outcome confirmed, or overpaid on a booking that was pending.
    let mut paid_in_full: Vec<i64> = env
        .query_ints("SELECT booking_id FROM payments WHERE outcome IN ('confirmed', 'overpaid')")
        .into_iter()
        .filter(|id| pending_before.contains(id))
        .collect();
    paid_in_full.sort_unstable();
    paid_in_full.dedup();
    assert_eq!(confirmed_now, paid_in_full);
    let by_payment = confirmed_now.len() as i64;
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log WHERE action = 'booking.status_changed' AND json_extract(details, '$.source') = 'payments import'"),
        by_payment
    );
    assert_eq!(report["bookings_confirmed"], by_payment);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox") - outbox_before,
        by_payment
    );
    for id in &confirmed_now {
        assert_eq!(
            env.count(&format!(
                "SELECT COUNT(*) FROM outbox WHERE booking_id = {id}"
            )),
            1
        );
        let details = env
            .query_text(&format!(
                "SELECT details FROM audit_log WHERE booking_id = {id} AND action = 'booking.status_changed'"
            ))
            .unwrap();
        let details: serde_json::Value = serde_json::from_str(&details).unwrap();
        assert_eq!(details["source"], "payments import");
        assert!(details["payment_ref"]
            .as_str()
            .unwrap()
            .starts_with("pay_7_"));
    }
    // Partial payments left their bookings pending; cancelled stays cancelled.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE p.outcome = 'partial' AND b.confirmed <> 1"),
        0
    );
    assert_eq!(status_of(&env, 9), -1);

    // The repeated pay_7_1 (another amount and date: a conflict, issue 15) and
    // the unknown booking are reported, not failures.
    let attention = report["attention"].as_array().unwrap();
    let conflict = attention
        .iter()
        .find(|r| r["outcome"] == "conflict")
        .unwrap();
    assert_eq!(conflict["external_id"], "pay_7_1");
    assert_eq!(conflict["line"], 41);
    assert!(attention
        .iter()
        .any(|r| r["outcome"] == "unknown_booking" && r["booking_id"] == 1400));
    assert_eq!(report["duplicates_in_file"], 0);
    assert_eq!(
        attention.len() as i64,
        env.count(
            "SELECT COUNT(*) FROM payments WHERE outcome IN ('partial', 'overpaid', 'cancelled', 'unknown_booking', 'unmatched', 'conflict')"
        )
    );
    // One payments.imported entry with the counts.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_log WHERE action = 'payments.imported'"),
        1
    );
    assert_eq!(
        env.count("SELECT json_extract(details, '$.imported') FROM audit_log WHERE action = 'payments.imported'"),
        expected.len() as i64 + 1,
        "the 40 payments and the conflicting second pay_7_1"
    );
    env.ok(&["audit", "verify"]);
}

#[test]
fn reimport_is_idempotent_and_says_so() {
    let env = Env::with_sample();
    let (first, _) = import(&env, &sample_payments(), &[]);
    assert_eq!(first, code::ATTENTION);
    let before = env.snapshot();
    let out = env.run(&["payments", "import", &sample_payments()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already imported"), "{stderr}");
    assert_eq!(env.snapshot(), before, "a second import changes nothing");
    let (_, report) = import(&env, &sample_payments(), &[]);
    assert_eq!(report["imported"], 0);
    assert_eq!(report["bookings_confirmed"], 0);
    assert_eq!(report["already_imported"], 41);
    // What still waits for a person is listed again, as reported before: not news.
    assert_eq!(
        report["needs_attention"],
        env.count("SELECT COUNT(*) FROM payments WHERE outcome IN ('partial', 'overpaid', 'cancelled', 'unknown_booking', 'unmatched', 'conflict')")
    );
    assert_eq!(report["new_attention"], 0);
    assert!(report["attention"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["already_reported"] == true));
}

#[test]
fn dry_run_reports_everything_and_changes_nothing() {
    let env = Env::with_sample();
    let before = env.snapshot();
    let (exit, dry) = import(&env, &sample_payments(), &["--dry-run"]);
    assert_eq!(exit, code::ATTENTION);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(env.snapshot(), before);
    let (_, real) = import(&env, &sample_payments(), &[]);
    assert_eq!(dry["outcomes"], real["outcomes"]);
    assert_eq!(dry["bookings_confirmed"], real["bookings_confirmed"]);
    assert!(real["bookings_confirmed"].as_i64().unwrap() > 0);
}

#[test]
fn partial_then_completing_payment_confirms() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    // Booking 1: pending, 10 % discount, so 27 000.00 is due.
    let first = env.write(
        "first.csv",
        "external_id,provider,booking_id,amount,currency\np1,yookassa,1,15000.00,RUB\n",
    );
    let (exit, report) = import(&env, &first, &[]);
    assert_eq!(exit, code::ATTENTION);
    assert_eq!(report["attention"][0]["outcome"], "partial");
    assert_eq!(report["attention"][0]["expected"], "27000.00");
    assert_eq!(report["attention"][0]["received"], "15000.00");
    assert_eq!(status_of(&env, 1), 1);
    let partial = env.ok(&["bookings", "list", "--payment", "partial", "--csv"]);
    assert_eq!(
        csv_rows(&partial)[1..]
            .iter()
            .map(|r| r[0].as_str())
            .collect::<Vec<_>>(),
        ["1"]
    );
    let unpaid = env.ok(&["bookings", "list", "--payment", "unpaid", "--all", "--csv"]);
    assert!(!csv_rows(&unpaid).iter().any(|r| r[0] == "1"));
    assert_eq!(
        csv_rows(&unpaid).len() as i64 - 1,
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 1") - 1
    );

    let rest = env.write(
        "rest.csv",
        "external_id,provider,booking_id,amount,currency\np2,yookassa,1,12000.00,RUB\n",
    );
    let (exit, report) = import(&env, &rest, &[]);
    assert_eq!(exit, code::OK, "{report}");
    assert_eq!(report["outcomes"]["confirmed"], 1);
    assert_eq!(status_of(&env, 1), 2);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE booking_id = 1"),
        1
    );
    let partial = env.ok(&["bookings", "list", "--payment", "partial", "--csv"]);
    assert_eq!(csv_rows(&partial).len(), 1, "header only: {partial}");
}

#[test]
fn bank_file_with_semicolons_decimal_commas_and_descriptions() {
    let env = Env::with_sample();
    set_price(&env, "3rd_stream", 3_000_000);
    let file = env.write(
        "bank.csv",
        "external_id;amount;currency;paid_at;description\n\
         b1;27 000,00;RUR;01.03.2024 12:06;\"Оплата курса; бронь №1\"\n\
         b2;30000;руб;01.03.2024;Оплата по брони 7\n\
         b3;30 000,00;RUB;;booking #13\n\
         b4;100,50;RUB;;Перевод без номера\n\
         b5;30000;USD;;бронь 25\n\
         b6;-300,00;RUB;;Возврат, бронь 27\n",
    );
    let (exit, report) = import(&env, &file, &["--provider", "bank"]);
    assert_eq!(exit, code::ATTENTION);
    let stored = stored_outcomes(&env);
    assert_eq!(stored["b1"], "confirmed");
    assert_eq!(stored["b2"], "confirmed");
    assert_eq!(stored["b3"], "confirmed");
    assert_eq!(stored["b4"], "unmatched");
    assert_eq!(stored["b5"], "currency_mismatch");
    // Booking 27 received nothing: a refund of more than that is for a
    // person, never netted (issue 25).
    assert_eq!(stored["b6"], "not_positive");
    assert_eq!(
        env.count("SELECT amount_minor FROM payments WHERE external_id = 'b1'"),
        2_700_000
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM payments WHERE provider = 'bank' AND currency = 'RUB' AND booking_id IN (1, 7, 13)"),
        3
    );
    for id in [1, 7, 13] {
        assert_eq!(status_of(&env, id), 2, "booking {id}");
    }
    assert_eq!(status_of(&env, 25), 1, "another currency confirms nothing");
    assert_eq!(status_of(&env, 27), 1, "a refund line confirms nothing");
    assert_eq!(report["needs_attention"], 3);
}

#[test]
fn malformed_files_are_bad_input_and_change_nothing() {
    let env = Env::with_sample();
    let before = env.snapshot();
    let cases = [
        (
            "no-amount.csv",
            "external_id,provider,booking_id\np1,x,1\n",
            "missing column 'amount'",
        ),
        (
            "bad-amount.csv",
            "external_id,provider,booking_id,amount\np1,x,1,30000\np2,x,7,30 000.5.0\n",
            "line 3, column amount",
        ),
        (
            "bad-booking.csv",
            "external_id,provider,booking_id,amount\np1,x,1,30000\np2,x,seven,30000\n",
            "line 3, column booking_id",
        ),
        (
            "bad-date.csv",
            "external_id,provider,booking_id,amount,paid_at\np1,x,1,30000,someday\n",
            "column paid_at",
        ),
        (
            "no-provider.csv",
            "external_id,booking_id,amount\np1,1,30000\n",
            "--provider",
        ),
        (
            "no-match-column.csv",
            "external_id,provider,amount\np1,x,30000\n",
            "booking_id",
        ),
        (
            "ragged.csv",
            "external_id,provider,booking_id,amount\np1,x,1,30000,extra\n",
            "line 2",
        ),
    ];
    for (name, text, message) in cases {
        let file = env.write(name, text);
        let err = env.fails(&["payments", "import", &file], code::BAD_INPUT);
        assert!(err.contains(message), "{name}: {err}");
        assert_eq!(env.snapshot(), before, "{name}");
    }
}

#[test]
fn refunds_and_overpayments_can_be_listed_and_exported() {
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
    let (exit, _) = import(&env, &file, &[]);
    assert_eq!(exit, code::ATTENTION);
    let ids = |args: &[&str]| -> Vec<String> {
        csv_rows(&env.ok(args))[1..]
            .iter()
            .map(|r| r[0].clone())
            .collect()
    };
    assert_eq!(
        ids(&["bookings", "list", "--payment", "overpaid", "--csv"]),
        ["7"]
    );
    assert_eq!(
        ids(&["bookings", "export", "--payment", "refund"]),
        ["7", "9"]
    );
    assert_eq!(status_of(&env, 7), 2, "an overpayment still confirms");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings b WHERE confirmed = 1")
            - (ids(&["bookings", "list", "--payment", "unpaid", "--all", "--csv"]).len() as i64),
        0,
        "every pending booking here is unpaid"
    );
}

#[test]
fn payments_list_filters_and_formats() {
    let env = Env::with_sample();
    import(&env, &sample_payments(), &[]);
    let rows = |args: &[&str]| -> Vec<Vec<String>> {
        let mut full = vec!["payments", "list", "--all", "--csv"];
        full.extend_from_slice(args);
        csv_rows(&env.ok(&full))[1..].to_vec()
    };
    assert_eq!(
        rows(&[]).len() as i64,
        env.count("SELECT COUNT(*) FROM payments")
    );
    let bank = rows(&["--provider", "bank"]);
    assert_eq!(
        bank.len() as i64,
        env.count("SELECT COUNT(*) FROM payments WHERE provider = 'bank'")
    );
    assert!(bank.iter().all(|r| r[1] == "bank"));
    assert_eq!(rows(&["--booking", "13"]).len(), 1);
    let unknown = rows(&["--outcome", "unknown_booking"]);
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0][2], "pay_7_unknown");
    // The unknown booking and the conflicting second pay_7_1.
    assert_eq!(rows(&["--attention"]).len(), 2);
    // paid_at 2024-03-01T…+03:00 is stored in UTC; the first day holds six payments.
    let day = rows(&["--since", "2024-03-01", "--until", "2024-03-02"]);
    assert_eq!(
        day.len() as i64,
        env.count("SELECT COUNT(*) FROM payments WHERE paid_at >= '2024-03-01' AND paid_at < '2024-03-02'")
    );
    assert!(!day.is_empty());
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["payments", "list", "--booking", "13", "--json"])).unwrap();
    assert_eq!(json[0]["amount"], "30000.00");
    assert_eq!(json[0]["outcome"], "confirmed");
    let table = env.ok(&["payments", "list", "--limit", "3"]);
    assert!(table.contains("pay_7_"), "{table}");
    env.fails(&["payments", "list", "--outcome", "nonsense"], code::USAGE);
}

#[test]
fn nothing_to_look_at_exits_zero_with_a_table() {
    let env = Env::with_sample();
    let file = env.write(
        "ok.csv",
        "external_id,provider,booking_id,amount\np1,yookassa,1,27000\n",
    );
    let out = env.ok(&["payments", "import", &file]);
    assert!(out.contains("confirmed"), "{out}");
    assert!(!out.contains("Needs attention"), "{out}");
}

#[test]
fn reads_stdin_and_reports_as_csv() {
    let env = Env::with_sample();
    let out = env
        .cmd()
        .args(["payments", "import", "-", "--provider", "bank", "--csv"])
        .write_stdin("external_id;amount;description\nx1;27000,00;бронь №1\nx2;100;без номера\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(code::ATTENTION));
    let rows = csv_rows(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        rows[0],
        [
            "line",
            "provider",
            "external_id",
            "booking_id",
            "amount",
            "currency",
            "outcome",
            "expected",
            "received",
            "booking_confirmed",
            "detail",
            "already_reported"
        ]
    );
    assert_eq!(rows.len(), 2, "only the unmatched row needs a person");
    assert_eq!(rows[1][2], "x2");
    assert_eq!(rows[1][6], "unmatched");
    assert_eq!(status_of(&env, 1), 2);
}

/// Issue 19: a file of thousands of rows, written from the demo database
/// itself, so the outcomes it must give are counted from the bookings before
/// the import: each pending booking paid in full is confirmed (one audit
/// entry and one message each), each confirmed one already was, each
/// cancelled one is reported. Some bookings pay in two halves within the file
/// (the first half is partial, the second confirms), some rows repeat an
/// earlier one, and some name no booking. The batched path must give exactly
/// these outcomes and keep the audit chain intact; a re-import stores nothing.
#[test]
fn a_large_file_gets_the_outcomes_counted_from_the_bookings_one_entry_and_message_per_confirmation()
{
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`
    }
    let env = Env::with_demo();
    let conn = env.sql();
    let count = |sql: &str| env.count(sql);
    let priced =
        "FROM bookings b JOIN streams s ON s.course_id = b.course_id AND s.code = b.course_stream
                  WHERE s.price_minor IS NOT NULL";
    let pending = count(&format!("SELECT COUNT(*) {priced} AND b.confirmed = 1"));
    let confirmed = count(&format!("SELECT COUNT(*) {priced} AND b.confirmed = 2"));
    let cancelled = count(&format!("SELECT COUNT(*) {priced} AND b.confirmed = -1"));
    assert!(
        pending > 100 && confirmed > 100 && cancelled > 20,
        "{pending} {confirmed} {cancelled}"
    );
    let audit_before = count("SELECT COUNT(*) FROM audit_log");

    // Every priced booking pays what it owes; pending bookings with an id
    // divisible by 5 pay in two halves (the first line partial).
    let mut file =
        String::from("external_id,provider,booking_id,amount,currency,paid_at,description\n");
    let mut stmt = conn
        .prepare(&format!(
            "SELECT b.id, b.confirmed, (s.price_minor * (100 - COALESCE(b.discount_percent, 0)) + 50) / 100
             {priced} ORDER BY b.id"
        ))
        .unwrap();
    let rows: Vec<(i64, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut halves = 0;
    let mut lines = 0;
    for (id, status, owed) in &rows {
        let line = |ext: String, amount: i64| {
            format!(
                "{ext},bank,{id},{}.{:02},RUB,2024-12-01T10:00:00Z,бронь {id}\n",
                amount / 100,
                amount % 100
            )
        };
        if *status == 1 && id % 5 == 0 && *owed >= 2 {
            file += &line(format!("half1-{id}"), owed / 2);
            file += &line(format!("half2-{id}"), owed - owed / 2);
            halves += 1;
            lines += 2;
        } else {
            file += &line(format!("pay-{id}"), *owed);
            lines += 1;
        }
    }
    // Three repeats of earlier rows and two payments naming no booking.
    let repeated: Vec<&str> = file.lines().skip(1).take(3).collect();
    let repeated = repeated.join("\n") + "\n";
    file += &repeated;
    file += "stray-1,bank,,100.00,RUB,2024-12-01T10:00:00Z,без номера\n";
    file += "stray-2,bank,99999999,100.00,RUB,2024-12-01T10:00:00Z,бронь 99999999\n";
    let path = env.write("big-payments.csv", &file);

    let (code, report) = import(&env, &path, &[]);
    assert_eq!(code, 10, "cancelled bookings need a person");
    assert_eq!(report["rows"], lines + 5);
    assert_eq!(report["imported"], lines + 2);
    assert_eq!(report["duplicates_in_file"], 3);
    assert_eq!(report["bookings_confirmed"], pending);
    assert_eq!(report["messages_queued"], pending);
    let outcomes = &report["outcomes"];
    assert_eq!(outcomes["confirmed"], pending);
    assert_eq!(outcomes["partial"], halves);
    assert_eq!(outcomes["already_confirmed"], confirmed);
    assert_eq!(outcomes["cancelled"], cancelled);
    assert_eq!(outcomes["unmatched"], 1);
    assert_eq!(outcomes["unknown_booking"], 1);

    // One audit entry and one message per confirmed booking, plus the import's entry.
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log") - audit_before,
        pending + 1
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM (SELECT booking_id FROM audit_log WHERE action = 'booking.status_changed'
               AND details LIKE '%payments import%' GROUP BY booking_id HAVING COUNT(*) = 1)"
        ),
        pending
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM (SELECT booking_id FROM outbox GROUP BY booking_id HAVING COUNT(*) = 1)"),
        pending
    );
    assert_eq!(
        count(&format!("SELECT COUNT(*) {priced} AND b.confirmed = 1")),
        0
    );
    let verify = env.ok(&["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
    env.ok(&["stats", "verify"]);

    // Imported again: nothing new is stored, nothing is confirmed twice.
    let (_, again) = import(&env, &path, &[]);
    assert_eq!(again["imported"], 0);
    assert_eq!(again["already_imported"], lines + 5, "the repeats too");
    assert_eq!(again["bookings_confirmed"], 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log") - audit_before,
        pending + 1
    );
}

/// Issue 19: the table report shows the first rows that need a person and
/// counts the rest (on stderr), instead of laying out thousands of rows;
/// `--all` shows them all.
#[test]
fn the_attention_table_shows_the_first_rows_and_counts_the_rest_unless_all() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`
    }
    let env = Env::with_demo();
    let cancelled: Vec<(i64,)> = {
        let conn = env.sql();
        let mut stmt = conn
            .prepare("SELECT id FROM bookings WHERE confirmed = -1 ORDER BY id LIMIT 30")
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?,))).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert_eq!(cancelled.len(), 30);
    let mut file = String::from("external_id,provider,booking_id,amount\n");
    for (id,) in &cancelled {
        file += &format!("c-{id},bank,{id},10.00\n");
    }
    let path = env.write("cancelled.csv", &file);
    let out = env.run(&["payments", "import", &path, "--dry-run"]);
    assert_eq!(out.status.code(), Some(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = |text: &str| {
        cancelled
            .iter()
            .filter(|(id,)| text.contains(&format!("c-{id}")))
            .count()
    };
    assert_eq!(shown(&stdout), 20, "{stdout}");
    assert!(stdout.contains("(30)"), "{stdout}");
    assert!(stderr.contains("10 more rows need attention"), "{stderr}");

    let out = env.run(&["payments", "import", &path, "--dry-run", "--all"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(shown(&stdout), 30, "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("more rows"));
}
