//! Issue 8: hostile input, table-driven, across every command.
//!
//! Each case runs the real binary against one database loaded with the sample
//! (400 bookings) and checks: no panic, the documented exit code, one clear
//! error line on stderr, and the database byte-for-byte as it was (compared
//! after a checkpoint, so the WAL is folded in).

use crate::harness::{code, Env};

/// What a case must do.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Fail with this exit code and one error line.
    Fails(i32),
    /// A bulk change refused as a whole (exit 5): refusal lines, no `error:` line.
    Refused,
    /// Succeed and find nothing: the text was a value, never SQL.
    FindsNothing,
}

use Expect::*;

struct Case {
    name: &'static str,
    args: Vec<String>,
    expect: Expect,
}

fn case(name: &'static str, args: &[&str], expect: Expect) -> Case {
    Case {
        name,
        args: args.iter().map(|a| (*a).to_string()).collect(),
        expect,
    }
}

/// A file of `size` bytes holding a CSV whose `id` cell is one huge field.
fn huge_field_csv(size: usize) -> Vec<u8> {
    let mut csv = b"id,user_id,course_id,confirmed,created_at\n\"".to_vec();
    csv.resize(csv.len() + size, b'7');
    csv.extend_from_slice(b"\",1,1,1,2024-03-01 10:00:00+03\n");
    csv
}

fn cases(env: &Env) -> Vec<Case> {
    let header = "id,user_id,course_id,confirmed,created_at\n";
    let file = |name: &str, contents: &[u8]| env.write(name, contents);
    let empty = file("empty.csv", b"");
    let latin1 = file("latin1.csv", b"id,user_id,username,course_id,confirmed,created_at\n9001,1,Jos\xe9,1,1,2024-03-01 10:00:00+03\n");
    let binary = file(
        "binary.csv",
        &(0..4096u32)
            .map(|i| (i * 7919 % 256) as u8)
            .collect::<Vec<_>>(),
    );
    let missing = file(
        "missing.csv",
        b"id,user_id,course_id,confirmed\n9001,1,1,1\n",
    );
    let extra = file(
        "extra.csv",
        format!("{header}9001,1,1,1,2024-03-01 10:00:00+03,surprise\n").as_bytes(),
    );
    let quotes = file(
        "quotes.csv",
        format!("{header}9001,1,1,\"1,2024-03-01 10:00:00+03\n9002,1,1,1,2024-03-01\n").as_bytes(),
    );
    let huge = file("huge.csv", &huge_field_csv(10 * 1024 * 1024));
    let dupes = file(
        "dupes.csv",
        format!("{header}9001,1,1,1,2024-03-01 10:00:00+03\n9002,1,1,1,2024-03-01 10:00:00+03\n9001,1,1,2,2024-03-01 10:00:00+03\n")
            .as_bytes(),
    );
    let bad_status = file(
        "status.csv",
        format!("{header}9001,1,1,3,2024-03-01 10:00:00+03\n").as_bytes(),
    );
    let bad_date = file(
        "date.csv",
        format!("{header}9001,1,1,1,2024-02-30 10:00:00+03\n").as_bytes(),
    );
    let big_id = file(
        "bigid.csv",
        format!("{header}99999999999999999999,1,1,1,2024-03-01 10:00:00+03\n").as_bytes(),
    );
    let zero_id = file(
        "zeroid.csv",
        format!("{header}0,1,1,1,2024-03-01 10:00:00+03\n").as_bytes(),
    );
    let sql_row = file(
        "sqlrow.csv",
        format!("{header}9001,1,1,1,'); DROP TABLE bookings; --\n").as_bytes(),
    );
    std::fs::create_dir_all(env.path("a/b")).unwrap();
    let traversal = format!(
        "{}/a/b/../../../{}/binary.csv",
        env.dir.path().display(),
        env.dir.path().file_name().unwrap().to_str().unwrap()
    );
    let ids_zero = file("ids-zero.txt", b"1\n0\n");
    let ids_text = file("ids-text.txt", b"1\nabc\n");
    let ids_big = file("ids-big.txt", b"18446744073709551616\n");
    let ids_neg = file("ids-neg.txt", b"-3\n");
    let ids_latin1 = file("ids-latin1.txt", b"1\n\xe9\xff\n");
    let ids_unknown = file("ids-unknown.txt", b"1\n999999\n");
    let dir = env.dir.path().to_str().unwrap().to_string();
    let missing_db = env.path("nope.db").to_str().unwrap().to_string();
    let missing_dir_file = env.path("no-such-dir/x.csv").to_str().unwrap().to_string();

    let mut cases = vec![
        // Unknown statuses.
        case(
            "unknown target status",
            &["booking", "set-status", "1", "paidd"],
            Fails(code::USAGE),
        ),
        case(
            "empty target status",
            &["booking", "set-status", "1", ""],
            Fails(code::USAGE),
        ),
        case(
            "unknown --status filter",
            &["bookings", "list", "--status", "bogus"],
            Fails(code::USAGE),
        ),
        case(
            "numeric status out of range",
            &["bookings", "list", "--status", "3"],
            Fails(code::USAGE),
        ),
        case(
            "unknown --to",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &ids_unknown,
                "--to",
                "weird",
            ],
            Fails(code::USAGE),
        ),
        case(
            "unknown --expect",
            &[
                "booking",
                "set-status",
                "1",
                "confirmed",
                "--expect",
                "nope",
            ],
            Fails(code::USAGE),
        ),
        case(
            "status code 3 in a file",
            &["bookings", "import", &bad_status],
            Fails(code::BAD_INPUT),
        ),
        // Ids: 0, negative, beyond 64 bits, not a number.
        case(
            "id 0",
            &["booking", "set-status", "0", "confirmed"],
            Fails(code::USAGE),
        ),
        case(
            "negative id",
            &["booking", "set-status", "-5", "confirmed"],
            Fails(code::USAGE),
        ),
        case(
            "id beyond 64 bits",
            &["booking", "set-status", "99999999999999999999", "confirmed"],
            Fails(code::USAGE),
        ),
        case(
            "id not a number",
            &["booking", "set-status", "abc", "confirmed"],
            Fails(code::USAGE),
        ),
        case("show id 0", &["bookings", "show", "0"], Fails(code::USAGE)),
        case(
            "show id 2^64",
            &["bookings", "show", "18446744073709551616"],
            Fails(code::USAGE),
        ),
        case(
            "show unknown id",
            &["bookings", "show", "999999"],
            Fails(code::NOT_FOUND),
        ),
        case(
            "change unknown id",
            &["booking", "set-status", "999999", "confirmed"],
            Fails(code::NOT_FOUND),
        ),
        case(
            "course not a number",
            &["bookings", "list", "--course", "abc"],
            Fails(code::USAGE),
        ),
        case(
            "audit booking negative",
            &["audit", "tail", "--booking", "-1"],
            Fails(code::USAGE),
        ),
        case(
            "limit negative",
            &["bookings", "list", "--limit", "-1"],
            Fails(code::USAGE),
        ),
        case(
            "ids file with 0",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &ids_zero,
                "--to",
                "confirmed",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "ids file with text",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &ids_text,
                "--to",
                "confirmed",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "ids file beyond 64 bits",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &ids_big,
                "--to",
                "confirmed",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "ids file negative",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &ids_neg,
                "--to",
                "confirmed",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "ids file not UTF-8",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &ids_latin1,
                "--to",
                "confirmed",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "ids file binary",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &binary,
                "--to",
                "confirmed",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "ids file empty",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &empty,
                "--to",
                "confirmed",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "ids file with an unknown booking",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &ids_unknown,
                "--to",
                "confirmed",
            ],
            Refused,
        ),
        case(
            "id 0 in a file",
            &["bookings", "import", &zero_id],
            Fails(code::BAD_INPUT),
        ),
        case(
            "id beyond 64 bits in a file",
            &["bookings", "import", &big_id],
            Fails(code::BAD_INPUT),
        ),
        // Malformed and impossible dates.
        case(
            "February 30",
            &["bookings", "list", "--since", "2024-02-30"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "month 13",
            &["bookings", "list", "--since", "2024-13-01"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "garbage date",
            &["bookings", "list", "--until", "next tuesday"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "age too large",
            &["bookings", "list", "--since", "99999999999999d"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "hour 25",
            &["audit", "tail", "--since", "2024-12-01T25:00:00Z"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "month 0 in stats",
            &["stats", "streams", "--since", "2024-00-10"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "bad --older-than",
            &[
                "bookings",
                "set-status",
                "--status",
                "pending",
                "--older-than",
                "7x",
                "--to",
                "cancelled",
                "--yes",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "impossible date in a file",
            &["bookings", "import", &bad_date],
            Fails(code::BAD_INPUT),
        ),
        case(
            "unknown time zone",
            &["--tz", "Mars/Olympus", "bookings", "list"],
            Fails(code::BAD_INPUT),
        ),
        // Files: empty, not UTF-8, binary, broken CSV.
        case(
            "empty CSV",
            &["bookings", "import", &empty],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV not UTF-8",
            &["bookings", "import", &latin1],
            Fails(code::BAD_INPUT),
        ),
        case(
            "binary CSV",
            &["bookings", "import", &binary],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV missing a column",
            &["bookings", "import", &missing],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV row with an extra column",
            &["bookings", "import", &extra],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV with an unbalanced quote",
            &["bookings", "import", &quotes],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV with a 10 MB field",
            &["bookings", "import", &huge],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV with a duplicate id",
            &["bookings", "import", &dupes],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV with SQL in a date",
            &["bookings", "import", &sql_row],
            Fails(code::BAD_INPUT),
        ),
        case(
            "dry run of a bad CSV",
            &["bookings", "import", "--dry-run", &dupes],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV that does not exist",
            &["bookings", "import", "/nonexistent/bookings.csv"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "CSV that is a directory",
            &["bookings", "import", &dir],
            Fails(code::BAD_INPUT),
        ),
        case(
            "path traversal to a binary file",
            &["bookings", "import", &traversal],
            Fails(code::BAD_INPUT),
        ),
        case(
            "path traversal to /etc/passwd as ids",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                "../../../../../../../../etc/passwd",
                "--to",
                "confirmed",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "template that does not exist",
            &[
                "booking",
                "set-status",
                "1",
                "confirmed",
                "--template",
                "../../nonexistent.txt",
            ],
            Fails(code::BAD_INPUT),
        ),
        // Other bad values.
        case(
            "amount not a number",
            &[
                "booking",
                "set-status",
                "1",
                "confirmed",
                "--payment-ref",
                "p1",
                "--amount",
                "12abc",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "negative amount",
            &[
                "booking",
                "set-status",
                "1",
                "confirmed",
                "--payment-ref",
                "p1",
                "--amount",
                "-5",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "payment with a cancellation",
            &[
                "booking",
                "set-status",
                "1",
                "cancelled",
                "--payment-ref",
                "p1",
            ],
            Fails(code::BAD_INPUT),
        ),
        case(
            "no target status",
            &["booking", "set-status", "1"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "bad cursor",
            &["bookings", "list", "--cursor", "'; DROP TABLE bookings; --"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export as a table",
            &["bookings", "export", "--format", "table"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export into a missing directory",
            &["bookings", "export", "-o", &missing_dir_file],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export onto a directory",
            &["bookings", "export", "-o", &dir],
            Fails(code::BAD_INPUT),
        ),
        case(
            "demo of 0 bookings",
            &["demo", "--bookings", "0"],
            Fails(code::USAGE),
        ),
        // The database argument itself.
        case(
            "--db is a directory (read)",
            &["--db", &dir, "bookings", "list"],
            Fails(code::DATABASE),
        ),
        case(
            "--db is a directory (write)",
            &["--db", &dir, "booking", "set-status", "1", "confirmed"],
            Fails(code::DATABASE),
        ),
        case(
            "--db does not exist",
            &["--db", &missing_db, "bookings", "list"],
            Fails(code::DATABASE),
        ),
        case(
            "--db is a CSV file",
            &["--db", &dupes, "stats", "streams"],
            Fails(code::DATABASE),
        ),
    ];
    // SQL fragments in every text filter: bound as values, they match nothing.
    for fragment in [
        "' OR 1=1 --",
        "x'); DROP TABLE bookings; --",
        "\" OR \"\"=\"",
        "%' UNION SELECT * FROM audit_log --",
    ] {
        for flag in ["--search", "--referral"] {
            cases.push(case(
                "SQL in a bookings filter",
                &["bookings", "list", flag, fragment, "--csv"],
                FindsNothing,
            ));
        }
        // A stream that does not exist is an error, not an empty result.
        cases.push(case(
            "SQL in --stream",
            &["bookings", "list", "--stream", fragment, "--csv"],
            Fails(code::NOT_FOUND),
        ));
        cases.push(case(
            "SQL in --user",
            &[
                "bookings",
                "list",
                "--user",
                &format!("@{fragment}"),
                "--csv",
            ],
            FindsNothing,
        ));
        cases.push(case(
            "SQL in export --search",
            &["bookings", "export", "--search", fragment],
            FindsNothing,
        ));
        cases.push(case(
            "SQL in audit --actor",
            &["audit", "tail", "--actor", fragment, "--csv"],
            FindsNothing,
        ));
        cases.push(case(
            "SQL in audit --action",
            &["audit", "tail", "--action", fragment, "--csv"],
            FindsNothing,
        ));
        cases.push(case(
            "SQL in stats --stream",
            &["stats", "streams", "--stream", fragment, "--csv"],
            Fails(code::NOT_FOUND),
        ));
        cases.push(case(
            "SQL in bulk --stream",
            &[
                "bookings",
                "set-status",
                "--status",
                "pending",
                "--stream",
                fragment,
                "--to",
                "cancelled",
                "--yes",
            ],
            Fails(code::NOT_FOUND),
        ));
    }
    cases.extend(round_two_cases(env));
    cases
}

/// Issue 17's classes: files paytrack must not replace, databases it does
/// not own, values echoed in errors, strict import rows.
fn round_two_cases(env: &Env) -> Vec<Case> {
    let path = |name: &str| env.path(name).to_str().unwrap().to_string();
    let db = env.db.to_str().unwrap().to_string();
    let fifo = path("r2-fifo.csv");
    let c_fifo = std::ffi::CString::new(fifo.as_str()).unwrap();
    // SAFETY: a valid C string and mode.
    unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o644) };
    std::fs::write(env.path("r2-victim.txt"), "keep me").unwrap();
    let link = path("r2-link.csv");
    std::os::unix::fs::symlink(env.path("r2-victim.txt"), &link).unwrap();
    let dir = path("r2-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let existing = path("r2-existing.csv");
    std::fs::write(&existing, "old").unwrap();
    let foreign = path("r2-foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY); INSERT INTO users VALUES (1);")
        .unwrap();
    let write = |name: &str, contents: String| env.write(name, contents);
    let header = "id,user_id,course_id,confirmed,created_at,discount_percent\n";
    let three_ids = write("r2-three.txt", "1\n7\n9\n".into());
    let mut cases = vec![
        case(
            "export onto the database",
            &["bookings", "export", "-o", &db],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export onto the database, forced",
            &["bookings", "export", "-o", &db, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export into a FIFO",
            &["bookings", "export", "-o", &fifo, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export through a symlink",
            &["bookings", "export", "-o", &link, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export onto a device",
            &["bookings", "export", "-o", "/dev/null", "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export onto a directory, forced",
            &["bookings", "export", "-o", &dir, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export onto an existing file",
            &["bookings", "export", "-o", &existing],
            Fails(code::BAD_INPUT),
        ),
        case(
            "export onto another database",
            &["bookings", "export", "-o", &foreign, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "backup onto the database",
            &["backup", &db, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "backup into a FIFO",
            &["backup", &fifo, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "backup onto a directory",
            &["backup", &dir, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "backup through a symlink",
            &["backup", &link, "--force"],
            Fails(code::BAD_INPUT),
        ),
        case(
            "a foreign database (read)",
            &["--db", &foreign, "bookings", "list"],
            Fails(code::DATABASE),
        ),
        case(
            "a foreign database (write)",
            &["--db", &foreign, "booking", "set-status", "1", "confirmed"],
            Fails(code::DATABASE),
        ),
        case(
            "a foreign database (init)",
            &["--db", &foreign, "init"],
            Fails(code::DATABASE),
        ),
        case(
            "a foreign database (check)",
            &["--db", &foreign, "check"],
            Fails(code::DATABASE),
        ),
        case(
            "--db is a FIFO",
            &["--db", &fifo, "bookings", "list"],
            Fails(code::DATABASE),
        ),
        case(
            "--db is a device",
            &["--db", "/dev/null", "init"],
            Fails(code::DATABASE),
        ),
        case(
            "--db as an SQLite URI",
            &["--db", "file:r2.db?mode=memory", "bookings", "list"],
            Fails(code::DATABASE),
        ),
        case(
            "--payment-ref for three bookings",
            &[
                "bookings",
                "set-status",
                "--ids-from",
                &three_ids,
                "--to",
                "confirmed",
                "--payment-ref",
                "P1",
            ],
            Fails(code::BAD_INPUT),
        ),
    ];
    for (n, (label, row)) in [
        ("import: year 0000", "9001,1,1,1,0000-03-01 10:00:00+03,"),
        (
            "import: negative year",
            "9001,1,1,1,-2024-03-01 10:00:00+03,",
        ),
        ("import: year 2101", "9001,1,1,1,2101-03-01 10:00:00+03,"),
        ("import: no offset", "9001,1,1,1,2024-03-01 10:00:00,"),
        (
            "import: discount -0.5",
            "9001,1,1,1,2024-03-01 10:00:00+03,-0.5",
        ),
        (
            "import: discount 99.99",
            "9001,1,1,1,2024-03-01 10:00:00+03,99.99",
        ),
        (
            "import: discount 101",
            "9001,1,1,1,2024-03-01 10:00:00+03,101",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let file = write(&format!("r2-strict-{n}.csv"), format!("{header}{row}\n"));
        cases.push(case(
            label,
            &["bookings", "import", &file],
            Fails(code::BAD_INPUT),
        ));
    }
    // Values that would drive a terminal, in every flag and file cell that is echoed.
    for (n, value) in [
        "\x1b[2J\x1b[H",
        "\x1b]0;pwned\x07",
        "x\x07\x07",
        "bad\rpaytrack: ok",
        "\u{202e}7d",
        "\u{9b}31m",
    ]
    .into_iter()
    .enumerate()
    {
        let ids = write(&format!("r2-ids-{n}.txt"), format!("1\n{value}\n"));
        let amount = write(
            &format!("r2-amount-{n}.csv"),
            format!("external_id,provider,booking_id,amount\nx1,bank,1,{value}\n"),
        );
        let booking = write(
            &format!("r2-booking-{n}.csv"),
            format!("external_id,provider,booking_id,amount\nx1,bank,{value},100\n"),
        );
        let created = write(
            &format!("r2-created-{n}.csv"),
            format!("{header}9001,1,1,1,{value},\n"),
        );
        let missing = format!("{}/{value}", env.dir.path().display());
        cases.extend([
            case(
                "echo: --tz",
                &["--tz", value, "bookings", "list"],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: --since",
                &["bookings", "list", "--since", value],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: stats --since",
                &["stats", "streams", "--since", value],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: --cursor",
                &["bookings", "list", "--cursor", value],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: --older-than",
                &[
                    "bookings",
                    "set-status",
                    "--status",
                    "pending",
                    "--older-than",
                    value,
                    "--to",
                    "cancelled",
                    "--reason",
                    "x",
                    "--yes",
                ],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: streams members",
                &["streams", "members", value],
                Fails(code::NOT_FOUND),
            ),
            case(
                "echo: --ids-from line",
                &[
                    "bookings",
                    "set-status",
                    "--ids-from",
                    &ids,
                    "--to",
                    "confirmed",
                ],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: payments amount",
                &["payments", "import", &amount],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: payments booking id",
                &["payments", "import", &booking],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: import created_at",
                &["bookings", "import", &created],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: import path",
                &["bookings", "import", &missing],
                Fails(code::BAD_INPUT),
            ),
            case(
                "echo: --db path",
                &["--db", &missing, "bookings", "list"],
                Fails(code::DATABASE),
            ),
        ]);
    }
    cases
}

fn db_bytes(env: &Env) -> Vec<u8> {
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    std::fs::read(&env.db).unwrap()
}

#[test]
fn hostile_input_is_refused_clearly_and_changes_nothing() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: the file's bytes; backup, check and foreign files
    }
    let env = Env::with_sample();
    // Give the audit log something to protect.
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    let cases = cases(&env);
    assert!(cases.len() >= 150, "{} cases", cases.len());
    eprintln!("{} hostile cases", cases.len());
    let before = env.snapshot();
    let bytes = db_bytes(&env);
    let mut failures = Vec::new();
    for case in &cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let out = env.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let code = out.status.code();
        let errors = |prefix: &str| stderr.lines().filter(|l| l.starts_with(prefix)).count();
        let problem = if stderr.contains("panicked") || code.is_none() {
            Some("panic or signal".to_string())
        } else {
            match case.expect {
                Fails(expected) if code != Some(expected) => {
                    Some(format!("exit {code:?}, expected {expected}"))
                }
                // clap's usage errors: one `error:` line, then usage help.
                Fails(code::USAGE) if errors("error:") != 1 => Some("not one `error:` line".into()),
                Fails(c) if c != code::USAGE && errors("paytrack: error:") != 1 => {
                    Some("not one `paytrack: error:` line".into())
                }
                Refused if code != Some(code::REFUSED) || !stderr.contains("not found") => {
                    Some(format!("exit {code:?}, expected a refusal"))
                }
                FindsNothing if code != Some(0) => Some(format!("exit {code:?}, expected 0")),
                _ if stderr.trim_end_matches('\n').chars().any(|c| {
                    (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c)
                }) =>
                {
                    Some("a control character reached stderr".into())
                }
                FindsNothing if stdout.lines().count() > 1 => Some("found rows".into()),
                _ => None,
            }
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "{}: {args:?}: {problem}\nstderr: {stderr}",
                case.name
            ));
        }
        if db_bytes(&env) != bytes {
            failures.push(format!("{}: {args:?}: the database changed", case.name));
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.count("SELECT COUNT(*) FROM bookings"), 400);
    assert_eq!(
        std::fs::read_to_string(env.path("r2-victim.txt")).unwrap(),
        "keep me"
    );
    assert!(!env.path("file:r2.db?mode=memory").exists());
    assert!(
        !env.path("no-such-dir").exists(),
        "a failed export created its directory"
    );
    let mut beside_dir = env.dir.path().as_os_str().to_owned();
    beside_dir.push(".partial");
    assert!(
        !std::path::Path::new(&beside_dir).exists(),
        "a failed export left a .partial file"
    );
}
