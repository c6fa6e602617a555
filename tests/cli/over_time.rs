//! Issue 25: paytrack right over time — re-runs, re-imports and cron nights
//! never change a figure, move a booking to another person, or make a mass
//! change nobody decided.

use crate::harness::{code, csv_rows, Env};

/// Two bookings of one stream priced 30,000.00 RUB (user 100 and 200).
fn two_bookings() -> Env {
    let env = Env::new();
    let file = env.write(
        "old.csv",
        "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at,referral_code,discount_percent\n\
         1,100,anna,Анна,1,s1,1,2024-12-01 10:00:00+00,,\n\
         2,200,boris,Борис,1,s1,1,2024-12-01 11:00:00+00,,\n",
    );
    env.ok(&["bookings", "import", &file]);
    env.exec(
        "UPDATE streams SET price_minor = 3000000, currency = 'RUB' WHERE course_id = 1 AND code = 's1'",
    );
    env
}

/// (booking_id, outcome, expected, received) of the report's attention rows.
fn figures(csv: &str) -> Vec<(String, String, String, String)> {
    let rows = csv_rows(csv);
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let (b, o, e, r) = (
        col("booking_id"),
        col("outcome"),
        col("expected"),
        col("received"),
    );
    rows[1..]
        .iter()
        .map(|row| {
            (
                row[b].clone(),
                row[o].clone(),
                row[e].clone(),
                row[r].clone(),
            )
        })
        .collect()
}

#[test]
fn a_reimported_bank_file_reports_the_same_figures() {
    let env = two_bookings();
    let bank = env.write(
        "bank.csv",
        "external_id,provider,booking_id,amount,currency\n\
         p1,bank,1,15000,RUB\n\
         p2,bank,2,35000,RUB\n",
    );
    let first = env.run(&["payments", "import", &bank, "--csv"]);
    assert_eq!(first.status.code(), Some(code::ATTENTION));
    let first_csv = String::from_utf8(first.stdout).unwrap();
    let expected = vec![
        (
            "1".into(),
            "partial".into(),
            "30000.00".into(),
            "15000.00".into(),
        ),
        (
            "2".into(),
            "overpaid".into(),
            "30000.00".into(),
            "35000.00".into(),
        ),
    ];
    assert_eq!(figures(&first_csv), expected, "{first_csv}");
    let first_table = String::from_utf8(env.run(&["payments", "import", &bank]).stdout).unwrap();
    for again in 0..2 {
        let out = env.run(&["payments", "import", &bank, "--csv"]);
        let csv = String::from_utf8(out.stdout).unwrap();
        assert_eq!(figures(&csv), expected, "re-run {again}: {csv}");
    }
    // The table says the true overpayment, never the whole payment, on every run.
    let table = String::from_utf8(env.run(&["payments", "import", &bank]).stdout).unwrap();
    for text in [&first_table, &table] {
        assert!(text.contains("return 5000.00 RUB"), "{text}");
        assert!(!text.contains("return 35000.00"), "{text}");
        assert!(text.contains("paid 15000.00 RUB of 30000.00 RUB"), "{text}");
    }
}
