//! `--search` and the other text filters find what the table shows: case,
//! accents and ё fold, `@user` finds the username, rows written by another
//! program are found, and the trigram index survives an upgrade.

use crate::harness::{code, Env};

/// A database with a few bookings whose names need folding.
fn env_with_names() -> Env {
    let env = Env::new();
    let file = env.write(
        "names.csv",
        "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at,referral_code,discount_percent\n\
         1,101,user_32127,José,1,8th_stream,1,2024-03-01 10:00:00+03,Spring24,\n\
         2,102,alena,Алёна,1,8th_stream,2,2024-03-01 11:00:00+03,,\n\
         3,103,OLGA_K,ОЛЬГА,1,8th_stream,1,2024-03-01 12:00:00+03,,\n\
         4,104,ivan,Иван,1,8th_stream,-1,2024-03-01 13:00:00+03,SPRING24,\n",
    );
    env.ok(&["bookings", "import", &file]);
    env
}

fn ids(env: &Env, args: &[&str]) -> Vec<i64> {
    let mut full = vec!["bookings", "list", "--format", "csv", "--all"];
    full.extend_from_slice(args);
    crate::harness::csv_rows(&env.ok(&full))
        .iter()
        .skip(1)
        .map(|row| row[0].parse().unwrap())
        .collect()
}

#[test]
fn search_folds_case_accents_yo_and_the_at_sign() {
    let env = env_with_names();
    assert_eq!(ids(&env, &["--search", "jose"]), vec![1]);
    assert_eq!(ids(&env, &["--search", "JOSÉ"]), vec![1]);
    // The username as the table shows it, and part of it.
    assert_eq!(ids(&env, &["--search", "@user_32127"]), vec![1]);
    assert_eq!(ids(&env, &["--search", "@USER_321"]), vec![1]);
    assert_eq!(ids(&env, &["--search", "алена"]), vec![2]);
    assert_eq!(ids(&env, &["--search", "АЛЁНА"]), vec![2]);
    assert_eq!(ids(&env, &["--search", "ольга"]), vec![3]);
    assert_eq!(ids(&env, &["--search", "olga"]), vec![3]);
    // Short text (no trigram) is looked for row by row, folded the same way.
    assert_eq!(ids(&env, &["--search", "Ив"]), vec![4]);
    // FTS syntax is plain text: quotes, operators and stars match nothing here.
    for text in ["\"", "jose OR ivan", "jo*", "NEAR(a b)", "a:b"] {
        assert!(ids(&env, &["--search", text]).is_empty(), "{text}");
    }
    // Paging through a search walks the same matches.
    assert_eq!(ids(&env, &["--search", "8th"]), Vec::<i64>::new());
}

#[test]
fn referral_ignores_case() {
    let env = env_with_names();
    assert_eq!(ids(&env, &["--referral", "spring24"]), vec![4, 1]);
    assert_eq!(ids(&env, &["--referral", "SPRING24"]), vec![4, 1]);
}

/// Runs SQL in the `sqlite3` shell: another program, with its own SQLite
/// (another version than paytrack's) writing the same file. Its tests are
/// ignored where the shell is missing (`have_sqlite3`, build.rs).
fn sqlite3_shell(env: &Env, sql: &str) {
    let out = std::process::Command::new("sqlite3")
        .arg(&env.db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sqlite3 {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[cfg_attr(
    not(have_sqlite3),
    ignore = "needs the sqlite3 shell (apt-get install -y sqlite3; bash .ci/run installs it)"
)]
fn bookings_written_by_another_program_are_found() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: the sqlite3 shell writes the file
    }
    let env = env_with_names();
    // Plain SQL, as the bot would write it: no search text. One with a name
    // of three letters, one without a username, one without any name.
    sqlite3_shell(
        &env,
        "INSERT INTO bookings (id, user_id, username, first_name, course_id, course_stream,
                               confirmed, created_at, updated_at)
         VALUES (10, 110, 'bot_user', 'Всеволод', 1, '8th_stream', 1,
                 '2024-03-02T10:00:00Z', '2024-03-02T10:00:00Z'),
                (11, 111, NULL, 'Оля', 1, '8th_stream', 1,
                 '2024-03-02T11:00:00Z', '2024-03-02T11:00:00Z'),
                (12, 112, NULL, NULL, 1, '8th_stream', 1,
                 '2024-03-02T12:00:00Z', '2024-03-02T12:00:00Z');",
    );
    assert_eq!(ids(&env, &["--search", "всеволод"]), vec![10]);
    assert_eq!(ids(&env, &["--search", "ВСЕВОЛОД"]), vec![10]);
    assert_eq!(ids(&env, &["--search", "@bot_user"]), vec![10]);
    assert_eq!(ids(&env, &["--search", "оля"]), vec![11]);
    // Short text is looked for row by row in the same text (SQL's lower()
    // folds only ASCII, so here the case must match: README says so).
    assert_eq!(ids(&env, &["--search", "@bot"]), vec![10]);
    // A rename by another program follows; the old name no longer matches.
    sqlite3_shell(
        &env,
        "UPDATE bookings SET first_name = 'Святослав' WHERE id = 10",
    );
    assert_eq!(ids(&env, &["--search", "святослав"]), vec![10]);
    assert!(ids(&env, &["--search", "всеволод"]).is_empty());
    // paytrack's own write of the same booking folds it its way.
    env.sql()
        .execute_batch("UPDATE bookings SET search_text = 'bot_user святослав' WHERE id = 10")
        .unwrap();
    assert_eq!(ids(&env, &["--search", "святослав"]), vec![10]);
    // A delete leaves no ghost in the index.
    sqlite3_shell(&env, "DELETE FROM bookings WHERE id IN (10, 11, 12)");
    assert!(ids(&env, &["--search", "святослав"]).is_empty());
    sqlite3_shell(
        &env,
        "INSERT INTO bookings_search (bookings_search) VALUES ('integrity-check')",
    );
    env.ok(&["stats", "verify"]);
}

#[test]
fn search_pages_are_newest_first_and_cover_every_match_once() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `demo`
    }
    let env = Env::with_demo();
    let all = ids(&env, &["--search", "анн"]);
    assert!(all.len() > 60, "the demo has many Анна: {}", all.len());
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec![
            "bookings", "list", "--search", "анн", "--limit", "25", "--format", "csv",
        ];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let rows = crate::harness::csv_rows(&env.ok(&args));
        if rows.len() == 1 {
            break;
        }
        let page: Vec<i64> = rows[1..].iter().map(|r| r[0].parse().unwrap()).collect();
        cursor = Some(page.last().unwrap().to_string());
        seen.extend(page);
    }
    assert_eq!(seen, all);
    // With another filter, only the matches that pass it.
    let pending = ids(&env, &["--search", "анн", "--status", "pending"]);
    let expected: i64 =
        env.count("SELECT COUNT(*) FROM bookings WHERE confirmed = 1 AND search_text LIKE '%анн%'");
    assert_eq!(pending.len() as i64, expected);
}

#[test]
fn an_older_database_gets_the_index_and_folded_text_on_upgrade() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: SQLite's migrations
    }
    let env = Env::empty();
    {
        let conn = rusqlite::Connection::open(&env.db).unwrap();
        for (version, sql) in paytrack::db::migrations().filter(|(v, _)| *v <= 2) {
            conn.execute_batch(sql).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {version}"))
                .unwrap();
        }
        // Folded the old way: lower case only, the accent kept.
        conn.execute_batch(
            "INSERT INTO courses (id, name, created_at, updated_at)
             VALUES (1, 'Course 1', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z');
             INSERT INTO bookings (id, user_id, username, first_name, course_id, confirmed,
                                   created_at, updated_at, search_text)
             VALUES (1, 1, 'zoe', 'Zoë', 1, 1, '2024-03-01T10:00:00Z', '2024-03-01T10:00:00Z',
                     'zoe zoë');",
        )
        .unwrap();
    }
    assert_eq!(ids(&env, &["--search", "zoe zoe"]), vec![1]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE search_text = 'zoe zoe'"),
        1
    );
}

#[test]
fn hostile_search_text_is_refused_nowhere_and_changes_nothing() {
    let env = env_with_names();
    let before = env.snapshot();
    for text in [
        "\u{1b}]0;x\u{7}",
        "%",
        "_",
        "'; DROP TABLE bookings; --",
        "\u{202e}abc",
    ] {
        let out = env.run(&["bookings", "list", "--search", text]);
        assert_eq!(out.status.code(), Some(code::OK), "{text:?}");
    }
    assert_eq!(env.snapshot(), before);
}

#[test]
fn an_unknown_stream_or_course_is_not_found_with_the_closest_names() {
    let env = env_with_names();
    let before = env.snapshot();
    let err = env.fails(
        &["bookings", "list", "--stream", "8th_strem"],
        code::NOT_FOUND,
    );
    assert!(err.contains("did you mean 8th_stream"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = env.fails(&["bookings", "export", "--course", "9"], code::NOT_FOUND);
    assert!(err.contains("no course 9; known courses: 1"), "{err}");
    let err = env.fails(
        &["stats", "streams", "--stream", "8th-stream", "--csv"],
        code::NOT_FOUND,
    );
    assert!(err.contains("8th_stream"), "{err}");
    // A hostile name is echoed escaped, never raw.
    let err = env.fails(
        &["bookings", "list", "--stream", "\u{1b}]0;pwned\u{7}"],
        code::NOT_FOUND,
    );
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert_eq!(env.snapshot(), before, "a refused filter changes nothing");
    // A stream that only bookings know (written by another program) is fine,
    // and so is `--stream ""` (bookings without a stream).
    env.exec(
        "INSERT INTO bookings (id, user_id, course_id, course_stream, confirmed, created_at, updated_at)
         VALUES (20, 120, 1, 'bot_stream', 1, '2024-03-02T10:00:00Z', '2024-03-02T10:00:00Z');",
    );
    assert_eq!(ids(&env, &["--stream", "bot_stream"]), vec![20]);
    assert!(ids(&env, &["--stream", ""]).is_empty());
}
