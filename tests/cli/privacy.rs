//! Personal data (issue 20): `users erase`, `retention apply`, audit entries
//! that survive erasure, encrypted exports.

use crate::harness::{code, Env};

/// The person who asks to be forgotten, and the words that identify them.
const USER: &str = "777000777";
const NAMES: [&str; 4] = ["zelda_kowalski", "Зельда", "Kowalski", "Ковальски"];
/// Someone else, who must stay as they are.
const OTHER_NAME: &str = "bystander_bob";

/// Bookings of user 777000777 (ids 1, 2; booking 1 from 2021) and of a
/// bystander (3, 4); payments naming Zelda; a sent confirmation that greets
/// her; a status change whose reason names her; a blocked-user row.
fn env_with_person() -> Env {
    let env = Env::new();
    let bookings = env.write(
        "bookings.csv",
        format!(
            "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at\n\
             1,{USER},zelda_kowalski,Зельда,1,8th_stream,1,2021-05-01 10:00:00+03\n\
             2,{USER},zelda_kowalski,Зельда,1,8th_stream,1,2024-12-01 10:00:00+03\n\
             3,555,{OTHER_NAME},Боб,1,8th_stream,1,2021-05-02 10:00:00+03\n\
             4,555,{OTHER_NAME},Боб,1,8th_stream,1,2024-12-02 10:00:00+03\n"
        ),
    );
    env.ok(&["bookings", "import", &bookings]);
    let payments = env.write(
        "payments.csv",
        "external_id,provider,booking_id,amount,currency,paid_at,description\n\
         p1,bank,2,15000.00,RUB,2024-12-02T12:00:00+03:00,Оплата от Зельда Ковальски по брони 2\n\
         p2,bank,4,30000.00,RUB,2024-12-02T13:00:00+03:00,Оплата от Боб bystander_bob\n",
    );
    let out = env.run(&["payments", "import", &payments]);
    assert!(
        matches!(out.status.code(), Some(0 | 10)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    env.ok(&[
        "booking",
        "set-status",
        "2",
        "cancelled",
        "--reason",
        "Zelda Kowalski asked to cancel",
    ]);
    env.ok(&["booking", "set-status", "3", "confirmed"]);
    env.ok(&["outbox", "drain", "--exec", "cat > /dev/null"]);
    env.exec(&format!(
        "INSERT INTO blocked_users (user_id, blocked_at, reason) VALUES ({USER}, '2024-12-03T00:00:00Z', 'blocked by zelda_kowalski')"
    ));
    // Everything the test later proves gone is really there to begin with.
    if !crate::harness::is_postgres() {
        assert!(file_contains_names(&env).is_some());
    }
    assert!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND body LIKE '%Зельда%'")
            >= 1
    );
    env
}

/// The first identifying word found in the database file or its WAL.
fn file_contains_names(env: &Env) -> Option<String> {
    let mut bytes = std::fs::read(&env.db).unwrap();
    let wal = env.db.with_extension("db-wal");
    if let Ok(more) = std::fs::read(wal) {
        bytes.extend(more);
    }
    NAMES
        .iter()
        .find(|name| {
            let needle = name.as_bytes();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .map(|n| (*n).to_string())
}

/// What the accounts look like: statuses, ids, amounts, dates, stats.
fn accounts(env: &Env) -> String {
    let conn = env.sql();
    let rows = |sql: &str| -> String {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            Ok((0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("\n")
    };
    let mut all = rows("SELECT id, user_id, course_id, course_stream, confirmed, created_at, updated_at, confirmed_at FROM bookings ORDER BY id");
    all += &rows("SELECT id, provider, external_id, booking_id, amount_minor, currency, paid_at, outcome FROM payments ORDER BY id");
    all += &rows("SELECT SUM(amount_minor) FROM payments");
    all += &rows("SELECT id, booking_id, chat_id, status, created_at, sent_at FROM outbox WHERE status = 'sent' ORDER BY id");
    all += &env.ok(&["stats", "streams", "--json"]);
    all
}

#[test]
fn erasing_a_person_leaves_no_name_in_the_file_and_keeps_accounts_and_proof() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: the file's bytes
    }
    let env = env_with_person();
    let accounts_before = accounts(&env);
    let args = [
        "users",
        "erase",
        USER,
        "--reason",
        "request of 2024-12-09 by e-mail",
        "--json",
    ];

    // A dry run counts exactly what the real run then does, and changes nothing.
    let messages = env.count("SELECT COUNT(*) FROM outbox WHERE booking_id IN (1, 2)");
    let before = env.snapshot();
    let preview: serde_json::Value =
        serde_json::from_str(&env.ok(&[&args[..], &["--dry-run"]].concat())).unwrap();
    assert_eq!(env.snapshot(), before);
    // Not on a terminal and no --yes: refused, nothing changed.
    env.fails(&args, code::BAD_INPUT);
    assert_eq!(env.snapshot(), before);

    let done: serde_json::Value =
        serde_json::from_str(&env.ok(&[&args[..], &["--yes"]].concat())).unwrap();
    assert_eq!(preview["counts"], done["counts"]);
    let counts = &done["counts"];
    assert_eq!(counts["bookings"], 2);
    assert_eq!(counts["payments"], 1);
    assert_eq!(counts["messages"], messages);
    assert_eq!(counts["blocked_users"], 1);
    assert_eq!(counts["audit_values"], 1, "the reason naming her");
    let pseudonym = done["pseudonym"].as_str().unwrap().to_string();
    assert!(pseudonym.starts_with("erased-"));

    // No name anywhere in the file (WAL included); the bystander is untouched.
    assert_eq!(file_contains_names(&env), None);
    assert!(std::fs::read(&env.db)
        .unwrap()
        .windows(OTHER_NAME.len())
        .any(|w| w == OTHER_NAME.as_bytes()));
    // Accounts, stats and payment sums as before; the chain verifies.
    assert_eq!(accounts(&env), accounts_before);
    env.ok(&["audit", "verify"]);
    // Found under the pseudonym, no longer under the name.
    assert!(!env
        .ok(&["bookings", "list", "--search", "zelda"])
        .contains("zelda"));
    assert!(env
        .ok(&["bookings", "list", "--search", &pseudonym])
        .contains(&pseudonym));
    // The audit shows the erased value as such, and one erasure entry that
    // names the user and the reason.
    let show = env.ok(&["booking", "show", "2"]);
    assert!(show.contains("(erased)"), "{show}");
    assert!(show.contains(&pseudonym), "{show}");
    let tail_table = env.ok(&["audit", "tail", "--booking", "2", "--wide"]);
    assert!(tail_table.contains("(erased)"), "{tail_table}");
    let tail = env.ok(&["audit", "tail", "--format", "jsonl"]);
    let last: serde_json::Value = serde_json::from_str(tail.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "user.erased");
    assert_eq!(last["reason"], "request of 2024-12-09 by e-mail");
    assert!(last["details"].as_str().unwrap().contains(USER));

    // Erasing again finds nothing more to do, and still verifies.
    let again: serde_json::Value =
        serde_json::from_str(&env.ok(&[&args[..], &["--yes"]].concat())).unwrap();
    assert_eq!(again["counts"]["bookings"], 0);
    assert_eq!(again["counts"]["audit_values"], 0);
    env.ok(&["audit", "verify"]);

    // The old system's export, imported again, does not bring the names back.
    env.ok(&[
        "bookings",
        "import",
        env.path("bookings.csv").to_str().unwrap(),
    ]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE user_id = 777000777 AND username = 'zelda_kowalski'"),
        0
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE user_id = 777000777 AND first_name IS NULL"),
        2
    );
}

#[test]
fn tampering_with_an_erased_entry_is_caught() {
    // The same erased database each time (the clock is fixed).
    let erased = || {
        let env = env_with_person();
        env.ok(&["users", "erase", USER, "--reason", "request", "--yes"]);
        env.ok(&["audit", "verify"]);
        env
    };
    let env = erased();
    let erased_entry =
        env.count("SELECT entry_id FROM audit_personal WHERE value IS NULL AND field = 'reason'");
    let cases = [
        // A new digest (say, of a value the attacker wants to plant).
        format!(
            "UPDATE audit_personal SET digest = '{}' WHERE entry_id = {erased_entry}",
            "ab".repeat(32)
        ),
        // The erased value put back (or replaced) without its salt.
        format!("UPDATE audit_personal SET value = 'Someone Else' WHERE entry_id = {erased_entry}"),
        // The personal field dropped altogether.
        format!("DELETE FROM audit_personal WHERE entry_id = {erased_entry}"),
        // Downgraded to format 1 with the reason in clear.
        format!(
            "UPDATE audit_log SET format = 1, reason = 'Someone Else' WHERE id = {erased_entry}"
        ),
    ];
    for sql in cases {
        let env2 = erased();
        env2.unguard_audit_log();
        env2.exec(&sql);
        let err = env2.fails(&["audit", "verify"], code::VERIFY);
        assert!(
            err.contains(&format!(
                "audit entry {erased_entry} does not match its hash"
            )),
            "{sql}: {err}"
        );
    }
    // Without lifting the guards, only erasing is allowed.
    for sql in [
        format!(
            "UPDATE audit_personal SET value = 'x', salt = 'y' WHERE entry_id = {erased_entry}"
        ),
        format!("DELETE FROM audit_personal WHERE entry_id = {erased_entry}"),
    ] {
        assert!(env.try_exec(&sql).is_err(), "{sql}");
    }
}

#[test]
fn erase_refuses_unknown_users_and_empty_reasons_changing_nothing() {
    let env = env_with_person();
    let before = env.snapshot();
    env.fails(
        &["users", "erase", "424242", "--reason", "x", "--yes"],
        code::NOT_FOUND,
    );
    env.fails(
        &["users", "erase", USER, "--reason", "  ", "--yes"],
        code::BAD_INPUT,
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn retention_dry_run_counts_what_apply_touches() {
    let env = env_with_person();
    let args = [
        "retention",
        "apply",
        "--bookings-older-than",
        "3y",
        "--messages-older-than",
        "1d",
        "--json",
    ];
    let before = env.snapshot();
    let preview: serde_json::Value =
        serde_json::from_str(&env.ok(&[&args[..], &["--dry-run"]].concat())).unwrap();
    assert_eq!(env.snapshot(), before);
    let done: serde_json::Value = serde_json::from_str(&env.ok(&args)).unwrap();
    assert_eq!(preview["counts"], done["counts"]);
    // Bookings 1 and 3 are from 2021; the messages were sent "now" (2024-12-10).
    assert_eq!(done["counts"]["erased"]["bookings"], 2);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE erased_at IS NOT NULL AND first_name IS NULL AND username LIKE 'erased-%'"),
        2
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE id IN (2, 4) AND erased_at IS NULL"),
        2
    );
    env.ok(&["audit", "verify"]);
    // A second run finds nothing left to do.
    let again: serde_json::Value = serde_json::from_str(&env.ok(&args)).unwrap();
    assert_eq!(again["counts"]["erased"]["bookings"], 0);
    assert_eq!(again["counts"]["message_bodies"], 0);

    // Messages older than a day: those sent "now" stay until the clock moves on.
    let later = env
        .cmd()
        .env("PAYTRACK_NOW", "2025-12-31T00:00:00Z")
        .args([
            "retention",
            "apply",
            "--messages-older-than",
            "1y",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(later.status.success());
    let later: serde_json::Value = serde_json::from_slice(&later.stdout).unwrap();
    assert!(
        later["counts"]["message_bodies"].as_u64().unwrap() >= 1,
        "{later}"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND body <> ''"),
        0
    );

    env.fails(
        &["retention", "apply", "--bookings-older-than", "3 years"],
        code::BAD_INPUT,
    );
    env.fails(&["retention", "apply"], code::USAGE);
}

/// A key pair made by the reference `age-keygen` (Debian's `age`), so every
/// encrypted file is opened by an implementation other than paytrack's own
/// (src/output/age.rs). None (the test skips) where `age` is not installed.
struct AgeKey {
    dir: tempfile::TempDir,
    recipient: String,
}

impl AgeKey {
    fn new() -> AgeKey {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("age-keygen")
            .arg("-o")
            .arg(dir.path().join("key.txt"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let recipient = String::from_utf8(out.stderr)
            .unwrap()
            .trim()
            .strip_prefix("Public key: ")
            .unwrap()
            .to_string();
        AgeKey { dir, recipient }
    }

    /// `age --decrypt` of `sealed` with this key: the plain bytes, or age's error.
    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        use std::io::Write;
        let mut child = std::process::Command::new("age")
            .arg("--decrypt")
            .arg("-i")
            .arg(self.dir.path().join("key.txt"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = sealed.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        let _ = feeder.join();
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

#[test]
#[cfg_attr(
    not(have_age),
    ignore = "needs the reference age and age-keygen (apt-get install -y age; bash .ci/run installs it)"
)]
fn an_encrypted_export_decrypts_to_exactly_the_plain_export() {
    let key = AgeKey::new();
    let stranger = AgeKey::new();
    let env = env_with_person();
    let recipient = key.recipient.clone();
    for format in ["csv", "jsonl"] {
        let plain = env.path(&format!("plain.{format}"));
        let sealed = env.path(&format!("sealed.{format}.age"));
        env.ok(&[
            "bookings",
            "export",
            "--format",
            format,
            "-o",
            plain.to_str().unwrap(),
        ]);
        env.ok(&[
            "bookings",
            "export",
            "--format",
            format,
            "--encrypt-to",
            &recipient,
            "-o",
            sealed.to_str().unwrap(),
        ]);
        let plain = std::fs::read(plain).unwrap();
        let sealed = std::fs::read(sealed).unwrap();
        assert!(plain.windows(6).any(|w| w == "zelda_".as_bytes()));
        assert!(!sealed.windows(6).any(|w| w == "zelda_".as_bytes()));
        assert_eq!(key.open(&sealed).unwrap(), plain, "{format}");
        // Another key cannot open it, and a flipped byte is refused.
        assert!(stranger.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&tampered).is_err());
    }
    // Encrypted to stdout (a pipe here) works too.
    let piped = env.run(&["bookings", "export", "--encrypt-to", &recipient]);
    assert!(piped.status.success());
    assert!(piped.stdout.starts_with(b"age-encryption.org/v1"));
    let opened = key.open(&piped.stdout).unwrap();
    assert_eq!(opened, std::fs::read(env.path("plain.csv")).unwrap());
    // Two recipients: each can open it.
    let both = env.run(&[
        "bookings",
        "export",
        "--encrypt-to",
        &recipient,
        "--encrypt-to",
        &stranger.recipient,
    ]);
    assert_eq!(key.open(&both.stdout).unwrap(), opened);
    assert_eq!(stranger.open(&both.stdout).unwrap(), opened);
    // A bad recipient is bad input, and no file appears.
    let target = env.path("never.csv");
    let err = env.fails(
        &[
            "bookings",
            "export",
            "--encrypt-to",
            "age1nope",
            "-o",
            target.to_str().unwrap(),
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("not an age recipient"), "{err}");
    assert!(!target.exists());
}

#[test]
#[cfg_attr(
    not(have_age),
    ignore = "needs the reference age and age-keygen (apt-get install -y age; bash .ci/run installs it)"
)]
fn a_plain_export_of_names_where_others_can_read_warns() {
    use std::os::unix::fs::PermissionsExt;
    let env = env_with_person();
    let shared = env.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let private = env.path("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let stderr = |args: &[&str]| String::from_utf8(env.run(args).stderr).unwrap();
    let file = shared.join("b.csv");
    let file = file.to_str().unwrap();
    assert!(stderr(&["bookings", "export", "-o", file]).contains("warning:"));
    assert!(!stderr(&["bookings", "export", "--redact", "-o", file]).contains("warning:"));
    let key = AgeKey::new();
    let recipient = key.recipient;
    assert!(
        !stderr(&["bookings", "export", "--encrypt-to", &recipient, "-o", file])
            .contains("warning:")
    );
    let file = private.join("b.csv");
    assert!(!stderr(&["bookings", "export", "-o", file.to_str().unwrap()]).contains("warning:"));
}

#[test]
fn redact_leaves_names_out_of_every_listing_in_every_format() {
    let env = env_with_person();
    let views: [&[&str]; 6] = [
        &["bookings", "list"],
        &["booking", "show", "2"],
        &["audit", "tail"],
        &["payments", "list"],
        &["outbox", "list"],
        &["streams", "members", "8th_stream"],
    ];
    let names_in = |text: &str| {
        NAMES
            .iter()
            .chain(&[OTHER_NAME, "Zelda"])
            .find(|n| text.contains(*n))
            .map(|n| (*n).to_string())
    };
    for view in views {
        for format in [&["--csv"][..], &["--json"], &["--format", "table"]] {
            let plain = env.ok(&[view, format].concat());
            let redacted = env.ok(&[view, format, &["--redact"]].concat());
            // The plain views do show names (so the redacted check means something)...
            assert!(names_in(&plain).is_some(), "{view:?} {format:?}: {plain}");
            // ...and the redacted ones never.
            assert_eq!(names_in(&redacted), None, "{view:?} {format:?}: {redacted}");
        }
    }
    let show = env.ok(&["booking", "show", "2", "--redact", "--json"]);
    assert!(show.contains("(redacted)"), "{show}");
}

#[test]
fn outbox_list_shows_the_start_of_a_body_unless_asked() {
    let env = env_with_person();
    let bodies = |args: &[&str]| -> Vec<String> {
        let json: serde_json::Value =
            serde_json::from_str(&env.ok(&[&["outbox", "list", "--json"], args].concat())).unwrap();
        json.as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_string())
            .collect()
    };
    let stored = env
        .query_text("SELECT body FROM outbox ORDER BY id LIMIT 1")
        .unwrap();
    assert!(stored.chars().count() > 41);
    let short = bodies(&[]);
    assert!(short.iter().all(|b| b.chars().count() <= 41), "{short:?}");
    assert!(short.iter().any(|b| b.ends_with('…')), "{short:?}");
    assert!(bodies(&["--full-body"]).contains(&stored));
    assert!(bodies(&["--redact"]).iter().all(|b| b == "(redacted)"));
    env.fails(&["outbox", "list", "--redact", "--full-body"], code::USAGE);
}

#[test]
fn a_database_from_before_this_change_keeps_verifying_and_chains_new_entries_on() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: SQLite's migrations
    }
    use paytrack::domain::audit::{AuditEntry, FORMAT_CLEAR, GENESIS_HASH};
    let env = Env::empty();
    {
        let conn = env.sql();
        // Every migration before the one that moves personal fields out.
        for (version, sql) in paytrack::db::migrations() {
            if sql.contains("CREATE TABLE audit_personal") {
                break;
            }
            conn.execute_batch(&format!(
                "BEGIN; {sql}; PRAGMA user_version = {version}; COMMIT;"
            ))
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO courses (id, name, created_at, updated_at) VALUES (1, 'C', 'x', 'x');
             INSERT INTO bookings (id, user_id, username, first_name, course_id, confirmed, created_at, updated_at, search_text)
                  VALUES (5, 1, 'old_name', 'Старое', 1, 1, '2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z', 'old_name старое');",
        )
        .unwrap();
        // Entries as the previous version wrote them (no format column yet).
        let mut prev = GENESIS_HASH.to_string();
        for id in 1..=3 {
            let mut e = AuditEntry {
                id,
                at: format!("2024-01-0{id}T00:00:00.000000Z"),
                actor: "admin".into(),
                action: "booking.status_changed".into(),
                booking_id: Some(5),
                old_value: Some("pending".into()),
                new_value: Some("pending".into()),
                reason: Some(format!("old_name called, #{id}")),
                details: "{}".into(),
                prev_hash: prev.clone(),
                hash: String::new(),
                format: FORMAT_CLEAR,
                personal: Vec::new(),
                operation_id: None,
            };
            e.hash = e.compute_hash();
            conn.execute(
                "INSERT INTO audit_log (id, at, actor, action, booking_id, old_value, new_value, reason, details, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                rusqlite::params![e.id, e.at, e.actor, e.action, e.booking_id, e.old_value,
                                  e.new_value, e.reason, e.details, e.prev_hash, e.hash],
            )
            .unwrap();
            prev = e.hash;
        }
    }
    let verified = env.ok(&["audit", "verify"]);
    assert!(verified.contains("head: 3 "), "{verified}");
    env.ok(&[
        "booking",
        "set-status",
        "5",
        "confirmed",
        "--reason",
        "old_name paid",
    ]);
    assert_eq!(env.count("SELECT format FROM audit_log WHERE id = 4"), 2);
    env.ok(&["audit", "verify"]);
    let out = env.run(&["users", "erase", "1", "--reason", "request", "--yes"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 audit entries"), "{stderr}");
    env.ok(&["audit", "verify"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM audit_personal WHERE entry_id = 4 AND value IS NULL"),
        1
    );
}

#[test]
fn an_erasure_that_fails_part_way_changes_nothing() {
    let env = env_with_person();
    // The last table erasure touches refuses the change (a stand-in for a
    // full disk or a crash): the bookings already renamed must roll back.
    env.refuse_writes("UPDATE", "blocked_users", "refused");
    let before = env.snapshot();
    let out = env.run(&["users", "erase", USER, "--reason", "request", "--yes"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("paytrack: error:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM bookings WHERE username = 'zelda_kowalski'"),
        2
    );
}

#[test]
#[cfg_attr(
    not(have_age),
    ignore = "needs the reference age and age-keygen (apt-get install -y age; bash .ci/run installs it)"
)]
fn an_encrypted_backup_decrypts_to_a_database_that_checks_and_leaves_no_plain_copy() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: `backup` and `check`
    }
    let key = AgeKey::new();
    let env = env_with_person();
    let recipient = key.recipient.clone();
    let dir = tempfile::tempdir().unwrap();
    let sealed = dir.path().join("school.db.age");
    env.ok(&[
        "backup",
        sealed.to_str().unwrap(),
        "--encrypt-to",
        &recipient,
    ]);
    // Only the encrypted file is left in the directory: no plain copy, no side files.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["school.db.age"]);
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(!bytes.starts_with(b"SQLite format 3"));
    assert!(!bytes.windows(6).any(|w| w == "zelda_".as_bytes()));
    let opened = key.open(&bytes).unwrap();
    // The decrypted copy is the database: paytrack checks it and lists the same bookings.
    let restored = Env::empty();
    std::fs::write(&restored.db, &opened).unwrap();
    restored.ok(&["check"]);
    assert_eq!(
        restored.ok(&["bookings", "list", "--all", "--csv"]),
        env.ok(&["bookings", "list", "--all", "--csv"])
    );
    // A bad recipient is refused before anything is written.
    let refused = dir.path().join("other.age");
    env.fails(
        &[
            "backup",
            refused.to_str().unwrap(),
            "--encrypt-to",
            "age1nope",
        ],
        code::BAD_INPUT,
    );
    assert!(!refused.exists());
}

#[test]
fn only_operations_undo_can_reverse_get_the_undo_hint() {
    let env = env_with_person();
    let changed = env.run(&[
        "booking",
        "set-status",
        "4",
        "cancelled",
        "--reason",
        "test",
    ]);
    let talk = String::from_utf8_lossy(&changed.stderr);
    assert!(talk.contains("undo with paytrack undo"), "{talk}");
    // An erasure cannot be reversed: no hint that it can.
    let erased = env.run(&["users", "erase", USER, "--reason", "request", "--yes"]);
    assert!(erased.status.success());
    let talk = String::from_utf8_lossy(&erased.stderr);
    assert!(!talk.contains("undo"), "{talk}");
}

/// Issue 26: another program (the bot) deleted a booking of the person while
/// its confirmation was still queued. Before, `users erase` found no booking
/// (exit 4, "no bookings"), the name stayed in the outbox and in what the
/// import saw, and the next drain sent the message. Now the erasure reaches
/// everything paytrack holds of that booking and cancels the message.
#[test]
fn erasing_a_person_whose_booking_another_program_deleted_still_erases_what_paytrack_holds() {
    let env = Env::new();
    let bookings = env.write(
        "bookings.csv",
        "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at\n\
         1,4242,zelda_kowalski,Зельда,1,8th_stream,1,2024-12-01 10:00:00+03\n\
         2,555,bystander_bob,Боб,1,8th_stream,1,2024-12-02 10:00:00+03\n",
    );
    env.ok(&["bookings", "import", &bookings]);
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    env.ok(&["booking", "set-status", "2", "confirmed"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND body LIKE '%Зельда%'"),
        1
    );
    // As the bot would: its own table on PostgreSQL, the sqlite3 CLI's
    // default (no foreign keys) on SQLite.
    if crate::harness::is_postgres() {
        env.exec("DELETE FROM public.bookings WHERE id = 1");
    } else {
        env.exec("PRAGMA foreign_keys = OFF; DELETE FROM bookings WHERE id = 1");
    }

    env.ok(&["users", "erase", "4242", "--reason", "request", "--yes"]);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE body LIKE '%Зельда%'"),
        0,
        "the message body is gone"
    );
    assert_eq!(
        env.query_text("SELECT status FROM outbox WHERE booking_id = 1")
            .as_deref(),
        Some("cancelled")
    );
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM import_state WHERE fields LIKE '%Зельда%' OR fields LIKE '%zelda%'"
        ),
        0,
        "what the import saw no longer names her"
    );
    // The bystander keeps his name and his message.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND body LIKE '%Боб%'"),
        1
    );
    let sent = env.path("sent.txt");
    env.ok(&[
        "outbox",
        "drain",
        "--exec",
        &format!("cat >> {}", sent.display()),
    ]);
    let sent = std::fs::read_to_string(sent).unwrap_or_default();
    assert!(!sent.contains("Зельда"), "{sent}");
    assert!(sent.contains("Боб"), "{sent}");
}
