//! Issue 2: the database, import, list/show/export, and their errors.

use crate::harness::{code, csv_rows, fixture, Env};

/// Counts per `confirmed` value, read from the sample file itself.
fn sample_counts() -> std::collections::HashMap<String, i64> {
    let mut counts = std::collections::HashMap::new();
    let mut reader = csv::Reader::from_path(fixture("legacy-bookings.csv")).unwrap();
    for row in reader.records() {
        *counts.entry(row.unwrap()[6].to_string()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn fixtures_are_exact_copies_of_the_shared_samples() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples");
    for name in ["legacy-bookings.csv", "payments.csv"] {
        let original = shared.join(name);
        if original.exists() {
            assert_eq!(
                std::fs::read(original).unwrap(),
                std::fs::read(fixture(name)).unwrap(),
                "{name}"
            );
        }
    }
}

#[test]
fn a_named_database_that_does_not_exist_is_an_error_and_is_not_created() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: the database file
    }
    let env = Env::empty();
    for args in [
        &["bookings", "list"][..],
        &["stats", "streams", "--csv"],
        &["audit", "tail"],
    ] {
        let err = env.fails(args, code::DATABASE);
        assert!(err.contains("does not exist"), "{err}");
    }
    assert!(!env.db.exists());
}

#[test]
fn init_creates_parents_and_is_idempotent() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: the database file and its mode
    }
    let env = Env::empty();
    let nested = env.path("a/b/c.db");
    let nested = nested.to_str().unwrap();
    env.ok(&["--db", nested, "init"]);
    let before = std::fs::read(nested).unwrap();
    env.ok(&["--db", nested, "init"]);
    assert_eq!(std::fs::read(nested).unwrap(), before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(nested).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "database readable by its owner only");
    }
}

#[test]
fn default_database_lives_in_the_xdg_data_dir() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: the default database file
    }
    let env = Env::empty();
    // `init` creates it there (a read never does: tests/cli/silent.rs).
    for args in [&["init"][..], &["bookings", "list", "--csv"]] {
        let out = env
            .cmd()
            .env_remove("PAYTRACK_DB")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(env.dir.path().join("xdg/paytrack/paytrack.db").exists());
}

#[test]
fn import_of_the_sample_matches_the_file_per_status() {
    let env = Env::with_sample();
    let counts = sample_counts();
    for (code, name) in [("2", "confirmed"), ("1", "pending"), ("-1", "cancelled")] {
        let out = env.ok(&["bookings", "list", "--status", name, "--all", "--csv"]);
        assert_eq!(csv_rows(&out).len() as i64 - 1, counts[code], "{name}");
        let by_sql = env.count(&format!(
            "SELECT COUNT(*) FROM bookings WHERE confirmed = {code}"
        ));
        assert_eq!(by_sql, counts[code]);
    }
    // Streams and courses seen in the file are in the catalogue.
    assert!(env.count("SELECT COUNT(*) FROM streams WHERE code = '8th_stream'") == 1);
    assert!(env.count("SELECT COUNT(*) FROM courses") >= 2);
}

#[test]
fn reimport_changes_nothing_and_says_so() {
    let env = Env::with_sample();
    let before = env.snapshot();
    let out = env.run(&[
        "bookings",
        "import",
        fixture("legacy-bookings.csv").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0 inserted, 0 updated, 400 unchanged"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn import_keeps_quotes_commas_emoji_and_nulls() {
    let env = Env::with_sample();
    let out = env.ok(&["bookings", "show", "12", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["booking"]["first_name"], "Kate, the \"Great\"");
    assert_eq!(v["booking"]["created_at"], "2024-03-01T13:29:00.640595Z");
    assert_eq!(v["booking"]["referral_code"], serde_json::Value::Null);
    let out = env.ok(&["bookings", "show", "11", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["booking"]["first_name"], "Настя 🌸");
    assert_eq!(v["booking"]["username"], serde_json::Value::Null);
}

#[test]
fn a_bad_row_names_line_and_column_and_imports_nothing() {
    let env = Env::new();
    let mut text = std::fs::read_to_string(fixture("legacy-bookings.csv")).unwrap();
    text.push_str("401,5,u,Name,1,8th_stream,3,2024-03-01 10:06:00+03,,\n");
    let file = env.write("bad.csv", text);
    let before = env.snapshot();
    let err = env.fails(&["bookings", "import", &file], code::BAD_INPUT);
    assert!(err.contains("line 402, column confirmed"), "{err}");
    assert_eq!(env.snapshot(), before);

    let file = env.write(
        "bad-date.csv",
        "id,user_id,course_id,confirmed,created_at\n1,2,1,1,2024-02-30 10:00:00+03\n",
    );
    let err = env.fails(&["bookings", "import", &file], code::BAD_INPUT);
    assert!(err.contains("line 2, column created_at"), "{err}");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn import_dry_run_reports_and_writes_nothing() {
    let env = Env::new();
    let before = env.snapshot();
    let out = env.run(&[
        "bookings",
        "import",
        "--dry-run",
        fixture("legacy-bookings.csv").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("would import 400 rows: 400 inserted"));
    assert_eq!(env.snapshot(), before);
}

#[test]
fn export_round_trips_through_import() {
    let env = Env::with_sample();
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    let exported = env.ok(&["bookings", "export"]);
    let other = Env::new();
    let file = other.write("export.csv", &exported);
    other.ok(&["bookings", "import", &file]);
    assert_eq!(
        other
            .ok(&["bookings", "export"])
            .lines()
            .skip(1)
            .map(|l| l.rsplitn(3, ',').nth(2).unwrap().to_string())
            .collect::<Vec<_>>(),
        exported
            .lines()
            .skip(1)
            .map(|l| l.rsplitn(3, ',').nth(2).unwrap().to_string())
            .collect::<Vec<_>>(),
        "same rows apart from updated_at"
    );
}

#[test]
fn list_filters_each_narrow_the_rows() {
    let env = Env::with_sample();
    let ids = |args: &[&str]| -> Vec<i64> {
        let mut all = vec!["bookings", "list", "--all", "--csv"];
        all.extend_from_slice(args);
        csv_rows(&env.ok(&all))
            .into_iter()
            .skip(1)
            .map(|r| r[0].parse().unwrap())
            .collect()
    };
    let sql_ids = |cond: &str| -> Vec<i64> {
        env.query_ints(&format!(
            "SELECT id FROM bookings WHERE {cond} ORDER BY id DESC"
        ))
    };
    assert_eq!(ids(&["--status", "pending"]), sql_ids("confirmed = 1"));
    assert_eq!(ids(&["--status", "1"]), sql_ids("confirmed = 1"));
    assert_eq!(ids(&["--status", "-1"]), sql_ids("confirmed = -1"));
    assert_eq!(ids(&["--status", "canceled"]), sql_ids("confirmed = -1"));
    assert_eq!(ids(&["--status", "paid"]), sql_ids("confirmed = 2"));
    assert_eq!(ids(&["--status", "all"]).len(), 400);
    assert_eq!(ids(&["--course", "2"]), sql_ids("course_id = 2"));
    assert_eq!(
        ids(&["--stream", "8th_stream"]),
        sql_ids("course_stream = '8th_stream'")
    );
    assert_eq!(ids(&["--stream", ""]), sql_ids("course_stream IS NULL"));
    assert_eq!(
        ids(&["--referral", "VIBE20"]),
        sql_ids("referral_code = 'VIBE20'")
    );
    assert_eq!(ids(&["--user", "5695818424"]), vec![1]);
    assert_eq!(ids(&["--user", "@USER_18424"]), vec![1]);
    assert_eq!(
        ids(&["--since", "2024-03-10", "--until", "2024-03-11"]),
        sql_ids("created_at >= '2024-03-10' AND created_at < '2024-03-11'")
    );
    // Case-insensitive for Cyrillic: "ОЛЬГА" finds "Ольга".
    assert_eq!(ids(&["--search", "ОЛЬГА"]), sql_ids("first_name = 'Ольга'"));
    assert_eq!(
        ids(&["--search", "great"]),
        // SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
        sql_ids("lower(first_name) LIKE '%great%'")
    );
    // SQL in a filter is just text.
    assert!(ids(&["--search", "' OR 1=1 --"]).is_empty());
    assert!(ids(&["--referral", "x' OR '1'='1"]).is_empty());
}

#[test]
fn keyset_pages_cover_every_row_once() {
    let env = Env::with_sample();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec![
            "bookings",
            "list",
            "--status",
            "confirmed",
            "--limit",
            "25",
            "--csv",
        ];
        let c;
        if let Some(value) = &cursor {
            c = value.clone();
            args.extend_from_slice(&["--cursor", &c]);
        }
        let rows = csv_rows(&env.ok(&args));
        if rows.len() == 1 {
            break;
        }
        let page: Vec<i64> = rows[1..].iter().map(|r| r[0].parse().unwrap()).collect();
        cursor = Some(page.last().unwrap().to_string());
        seen.extend(page);
    }
    let expected = env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 2");
    assert_eq!(seen.len() as i64, expected);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, seen, "newest first, no duplicates");
}

#[test]
fn table_footer_shows_count_and_next_cursor_on_stderr() {
    let env = Env::with_sample();
    let out = env.run(&["bookings", "list", "--status", "pending", "--limit", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pending = env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 1");
    assert!(
        stderr.contains(&format!("shown 3 of {pending}")),
        "{stderr}"
    );
    assert!(stderr.contains("--cursor"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Pending") && !stdout.contains('\x1b'),
        "no colour when piped: {stdout}"
    );
}

#[test]
fn json_and_jsonl_carry_schema_columns_and_status_name() {
    let env = Env::with_sample();
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["bookings", "list", "--limit", "2", "--json"])).unwrap();
    let first = &v.as_array().unwrap()[0];
    for key in [
        "id",
        "user_id",
        "username",
        "first_name",
        "course_id",
        "course_stream",
        "confirmed",
        "created_at",
        "referral_code",
        "discount_percent",
        "status",
    ] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
    let lines = env.ok(&["bookings", "list", "--limit", "3", "--format", "jsonl"]);
    assert_eq!(lines.lines().count(), 3);
    for line in lines.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(["confirmed", "pending", "cancelled"].contains(&row["status"].as_str().unwrap()));
    }
}

#[test]
fn russian_labels_in_tables_only() {
    let env = Env::with_sample();
    let table = env.ok(&[
        "--lang", "ru", "bookings", "list", "--status", "pending", "--limit", "2",
    ]);
    assert!(table.contains("В ожидании"), "{table}");
    let csv = env.ok(&[
        "--lang", "ru", "bookings", "list", "--status", "pending", "--limit", "2", "--csv",
    ]);
    assert!(csv.contains(",pending") && !csv.contains("ожидании"));
    let via_locale = env
        .cmd()
        .env("LANG", "ru_RU.UTF-8")
        .args(["bookings", "list", "--limit", "1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&via_locale.stdout).contains("Статус"));
}

#[test]
fn show_unknown_booking_is_not_found() {
    let env = Env::with_sample();
    let err = env.fails(&["bookings", "show", "9999"], code::NOT_FOUND);
    assert!(err.contains("booking 9999 not found"));
    env.fails(&["bookings", "show", "0"], code::USAGE);
    env.fails(&["bookings", "show", "-5"], code::USAGE);
    env.fails(&["bookings", "show", "99999999999999999999"], code::USAGE);
    env.fails(&["bookings", "show", "abc"], code::USAGE);
}

#[test]
fn booking_and_bookings_are_one_command() {
    let env = Env::with_sample();
    assert_eq!(
        env.ok(&["booking", "show", "3", "--csv"]),
        env.ok(&["bookings", "show", "3", "--csv"])
    );
    env.ok(&["booking", "list", "--limit", "1"]);
}

#[test]
fn demo_gives_real_output_at_once() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`
    }
    let env = Env::with_demo();
    let out = env.ok(&["bookings", "list", "--status", "pending"]);
    assert!(out.contains("Pending"));
    let total = env.count("SELECT COUNT(*) FROM bookings");
    assert_eq!(total, 3000);
    let streams = env.count("SELECT COUNT(DISTINCT course_stream) FROM bookings");
    assert!(streams >= 10, "several streams: {streams}");
}

#[test]
fn older_schema_is_migrated_and_newer_is_refused() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: SQLite's migrations and user_version
    }
    // An empty SQLite file is schema version 0: opening migrates it.
    let env = Env::empty();
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .execute_batch("PRAGMA page_size = 4096; VACUUM;")
        .unwrap();
    env.ok(&["bookings", "list"]);
    let latest = i64::from(paytrack::db::latest_version());
    assert_eq!(env.count("PRAGMA user_version"), latest);
    // One with another application's tables is not ours (issue 17): refused, untouched.
    let env = Env::empty();
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .execute_batch("CREATE TABLE unrelated (x);")
        .unwrap();
    env.fails(&["bookings", "list"], code::DATABASE);
    assert_eq!(env.count("PRAGMA user_version"), 0);

    // A database at every earlier version, built from schema.sql's own sections.
    for stop in 1..latest as u32 {
        let env = Env::empty();
        let conn = rusqlite::Connection::open(&env.db).unwrap();
        for (version, sql) in paytrack::db::migrations().filter(|(v, _)| *v <= stop) {
            conn.execute_batch(sql).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {version}"))
                .unwrap();
        }
        drop(conn);
        env.ok(&["bookings", "list"]);
        assert_eq!(env.count("PRAGMA user_version"), latest);
    }

    let env = Env::new();
    env.sql()
        .execute_batch(&format!("PRAGMA user_version = {}", latest + 1))
        .unwrap();
    let err = env.fails(&["bookings", "list"], code::DATABASE);
    assert!(
        err.contains(&format!("schema version {}", latest + 1))
            && err.contains(&format!("({latest})")),
        "{err}"
    );
}

#[test]
fn every_list_filter_uses_an_index() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: SQLite's query plans
    }
    use paytrack::domain::booking::{BookingFilter, Sort, UserRef};
    let env = Env::with_sample();
    let db = paytrack::db::Db::open(&env.db, paytrack::db::OpenMode::Existing).unwrap();
    let filters = [
        BookingFilter::default(),
        BookingFilter {
            status: Some(paytrack::domain::Status::Pending),
            ..Default::default()
        },
        BookingFilter {
            course: Some(1),
            stream: Some("8th_stream".into()),
            ..Default::default()
        },
        BookingFilter {
            user: Some(UserRef::Id(5)),
            ..Default::default()
        },
        BookingFilter {
            user: Some(UserRef::Username("u".into())),
            ..Default::default()
        },
        BookingFilter {
            referral: Some("X".into()),
            ..Default::default()
        },
        // Searches of three characters or more walk the trigram index.
        BookingFilter {
            search: Some("всеволод".into()),
            ..Default::default()
        },
        BookingFilter {
            search: Some("анн".into()),
            status: Some(paytrack::domain::Status::Pending),
            ..Default::default()
        },
    ];
    for (i, filter) in filters.into_iter().enumerate() {
        let plan = db
            .explain_list(&filter, Sort::Newest, None)
            .unwrap()
            .join(" / ");
        // Unfiltered, walking the table in rowid order is the index walk.
        assert!(
            i == 0
                || plan.contains("USING INDEX")
                || plan.contains("USING COVERING INDEX")
                || (filter.search.is_some() && plan.contains("VIRTUAL TABLE")),
            "{filter:?}: {plan}"
        );
        assert!(
            !plan.contains("TEMP B-TREE"),
            "no sort step for {filter:?}: {plan}"
        );
    }
    let since = BookingFilter {
        since: Some(chrono::Utc::now()),
        ..Default::default()
    };
    let plan = db
        .explain_list(&since, Sort::Created, None)
        .unwrap()
        .join(" / ");
    assert!(plan.contains("bookings_by_created"), "{plan}");
}

#[test]
fn bad_dates_are_bad_input() {
    let env = Env::with_sample();
    for bad in ["2024-02-30", "yesterdayish", "13/01/2024", "7x"] {
        let err = env.fails(&["bookings", "list", "--since", bad], code::BAD_INPUT);
        assert!(err.contains("--since"), "{err}");
    }
    env.ok(&["bookings", "list", "--since", "7d"]);
    env.ok(&[
        "bookings",
        "list",
        "--since",
        "yesterday",
        "--until",
        "today",
    ]);
    env.ok(&["bookings", "list", "--since", "2024-03-01T10:00:00+03:00"]);
    // The Russian way of writing a date means the same day wherever a date is taken.
    let russian = env.ok(&[
        "bookings",
        "list",
        "--since",
        "10.03.2024",
        "--until",
        "11.03.2024",
        "--csv",
    ]);
    let iso = env.ok(&[
        "bookings",
        "list",
        "--since",
        "2024-03-10",
        "--until",
        "2024-03-11",
        "--csv",
    ]);
    assert_eq!(russian, iso);
    assert!(csv_rows(&iso).len() > 1, "{iso}");
    assert_eq!(
        env.ok(&["stats", "streams", "--since", "01.03.2024", "--csv"]),
        env.ok(&["stats", "streams", "--since", "2024-03-01", "--csv"])
    );
    for bad in ["31.02.2024", "1.3.24", "2024.03.01"] {
        env.fails(&["bookings", "list", "--since", bad], code::BAD_INPUT);
    }
}

/// Issue 28: the README's quick start and ten-line tour run as written, one
/// after the other, in a fresh directory (`cargo run -q --` and the alias
/// stand for the binary the tests built). Every tour line must succeed and
/// print something; no line may wait for input or follow forever.
#[test]
fn the_readme_quick_start_and_tour_run_as_written() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: the tour's demo.db is a file
    }
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let block_after = |heading: &str| {
        let rest = &readme[readme.find(heading).unwrap()..];
        let start = rest.find("```sh\n").unwrap() + "```sh\n".len();
        rest[start..start + rest[start..].find("```").unwrap()].to_string()
    };
    let quick = block_after("## Quick start");
    let tour = block_after("## A ten-line tour");
    assert!(
        quick.starts_with("cargo run -q -- --db demo.db demo"),
        "{quick}"
    );
    let mut lines = tour.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("alias paytrack='cargo run -q --'"),
        "the tour's first line makes `paytrack` work right after the quick start"
    );
    let env = Env::empty();
    // The tour runs in a clone's root: the files it names are the repository's.
    for word in tour.split_whitespace().filter(|w| w.starts_with("tests/")) {
        let copy = env.path(word);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(word),
            copy,
        )
        .unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("paytrack");
    // The harness's scrubbed environment (fixed clock, no PAYTRACK_DB).
    let base = env.std_cmd();
    let run = |line: &str| {
        let out = std::process::Command::new("bash")
            .env_clear()
            .envs(base.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .env_remove("PAYTRACK_DB")
            .current_dir(env.dir.path())
            .stdin(std::process::Stdio::null())
            .args([
                "-c",
                &format!("set -e; paytrack() {{ \"$0\" \"$@\"; }}; {line}"),
            ])
            .arg(&bin)
            .output()
            .unwrap();
        // An import that found payments for a person exits with the
        // documented "needs attention" code, which the next line lists.
        let attention =
            line.contains("payments import") && out.status.code() == Some(code::ATTENTION);
        assert!(
            out.status.success() || attention,
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        [out.stdout, out.stderr].concat()
    };
    let quick_out = run(&quick.trim().replace("cargo run -q --", "paytrack"));
    assert!(String::from_utf8_lossy(&quick_out).contains("Pending"));
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let command = line.split("  #").next().unwrap().trim();
        let said = run(command);
        // A redirected line's output is in its file (checked below).
        assert!(
            command.contains('>') || !said.is_empty(),
            "{command} said nothing"
        );
        // The tour shows a change, not "nothing to do": its booking is
        // pending in the demo, and `show` then has the history and message.
        let said = String::from_utf8_lossy(&said);
        if command.contains("set-status") {
            assert!(said.contains("Pending → Confirmed"), "{command}: {said}");
        }
        if command.contains("--attention") {
            assert!(said.contains("overpaid"), "{command}: {said}");
        }
        if command.contains("bookings show") {
            assert!(
                said.contains("History") && said.contains("Messages"),
                "{command}: {said}"
            );
        }
    }
    assert!(env.path("streams.csv").metadata().unwrap().len() > 0);
}
