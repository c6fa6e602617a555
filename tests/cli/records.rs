//! Issue 13: bookings that live in paytrack — demo kept apart from real data,
//! bookings added and edited, operations undone, the story of one user.

use crate::harness::{code, Env};

#[test]
fn demo_refuses_a_database_with_real_bookings() {
    let env = Env::with_sample();
    let before = env.snapshot();
    let err = env.fails(&["demo", "--bookings", "50"], code::BAD_INPUT);
    assert!(
        err.contains("holds 400 bookings, not all made by demo") && err.contains("--db demo.db"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before, "nothing written");
}

#[test]
fn demo_leaves_a_demo_database_alone_but_refuses_one_written_by_another_program() {
    let env = Env::empty();
    env.ok(&["demo", "--bookings", "60"]);
    let before = env.snapshot();
    env.ok(&["demo", "--bookings", "60"]);
    assert_eq!(env.snapshot(), before, "a demo database is left as it is");
    // A booking written by another program is real data, audited or not.
    env.sql()
        .execute(
            "INSERT INTO bookings (id, user_id, course_id, created_at, updated_at)
             VALUES (1000, 42, 1, '2024-12-01T00:00:00.000000Z', '2024-12-01T00:00:00.000000Z')",
            [],
        )
        .unwrap();
    let err = env.fails(&["demo", "--bookings", "60"], code::BAD_INPUT);
    assert!(
        err.contains("holds 61 bookings, not all made by demo"),
        "{err}"
    );
}
