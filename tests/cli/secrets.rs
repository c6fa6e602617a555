//! Secrets never leave paytrack (issue 26): an `outbox drain --exec` command
//! does not inherit the bot token, the database URL or the database
//! password unless `--pass-env` names them, and what it writes to stderr is
//! scrubbed of the token and the password before it is stored in
//! `outbox.last_error` or shown. On either backend.

use crate::harness::{code, Env, NOW};
use crate::outbox::{confirm, env_with_pending, run_at, TOKEN};

/// A database password as PGPASSWORD carries it (trust auth ignores it).
const DB_PASSWORD: &str = "Db-pa55:w0rd@secret";

/// Everything a run printed, for searching.
fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn secrets_env() -> [(&'static str, &'static str); 2] {
    [
        ("PAYTRACK_TELEGRAM_TOKEN", TOKEN),
        ("PGPASSWORD", DB_PASSWORD),
    ]
}

fn pending_with_messages() -> Env {
    let env = env_with_pending(2);
    confirm(&env, [1, 2]);
    env
}

#[test]
fn exec_children_get_no_secret_unless_passed_by_name() {
    let env = pending_with_messages();
    let dump = env.path("env.txt");
    let command = format!("env >> '{}'", dump.display());
    let out = run_at(
        &env,
        NOW,
        &secrets_env(),
        &["outbox", "drain", "--exec", &command, "--limit", "1"],
    );
    assert_eq!(out.status.code(), Some(code::OK), "{out:?}");
    let seen = std::fs::read_to_string(&dump).unwrap();
    assert!(seen.contains("PAYTRACK_MESSAGE_ID="), "{seen}");
    for withheld in ["PAYTRACK_TELEGRAM_TOKEN=", "PAYTRACK_DB=", "PGPASSWORD="] {
        assert!(!seen.contains(withheld), "{withheld} reached the command");
    }
    assert!(
        !seen.contains(TOKEN) && !seen.contains(DB_PASSWORD),
        "{seen}"
    );

    // Named, a withheld variable is passed; the others stay withheld.
    std::fs::remove_file(&dump).unwrap();
    let out = run_at(
        &env,
        NOW,
        &secrets_env(),
        &[
            "outbox",
            "drain",
            "--exec",
            &command,
            "--pass-env",
            "PAYTRACK_TELEGRAM_TOKEN",
        ],
    );
    assert_eq!(out.status.code(), Some(code::OK), "{out:?}");
    let seen = std::fs::read_to_string(&dump).unwrap();
    assert!(
        seen.contains(&format!("PAYTRACK_TELEGRAM_TOKEN={TOKEN}")),
        "{seen}"
    );
    assert!(
        !seen.contains("PGPASSWORD=") && !seen.contains("PAYTRACK_DB="),
        "{seen}"
    );
}

#[test]
fn exec_output_is_scrubbed_of_the_token_and_the_database_password() {
    let env = pending_with_messages();
    // A command that quotes both secrets in its error (as a shell script
    // with `set -x`, or a client printing its URL, would).
    let command = format!(
        "echo \"failed: token {TOKEN} url postgres://u:Db-pa55%3Aw0rd%40secret@h/db pw {DB_PASSWORD}\" >&2; exit 3"
    );
    let out = run_at(
        &env,
        NOW,
        &secrets_env(),
        &["outbox", "drain", "--exec", &command],
    );
    assert!(
        !printed(&out).contains("SECRET-token") && !printed(&out).contains("pa55"),
        "{}",
        printed(&out)
    );
    let errors = env.query_rows("SELECT last_error FROM outbox ORDER BY id");
    assert_eq!(errors.len(), 2);
    for error in errors {
        let error = error[0].clone().expect("a last error");
        assert!(error.contains("failed: token <secret>"), "{error}");
        assert!(
            !error.contains("SECRET-token") && !error.contains("pa55"),
            "{error}"
        );
        assert_eq!(error.matches("<secret>").count(), 3, "{error}");
    }
    let listed = env.ok(&["outbox", "list", "--all"]);
    assert!(
        !listed.contains("pa55") && !listed.contains("SECRET-token"),
        "{listed}"
    );
}

#[test]
fn pass_env_needs_exec_and_a_name() {
    let env = pending_with_messages();
    let before = env.snapshot();
    env.fails(
        &["outbox", "drain", "--telegram", "--pass-env", "PGPASSWORD"],
        code::USAGE,
    );
    let stderr = env.fails(
        &["outbox", "drain", "--exec", "true", "--pass-env", "A=B"],
        code::BAD_INPUT,
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(env.snapshot(), before, "a refused drain changed something");
}
