//! Issue 17: paytrack never damages what it was not asked to touch — files
//! the user named, other applications' databases, side files — never leaks a
//! secret, and never echoes raw input.

use std::path::Path;

use crate::harness::{code, Env};

/// The bytes of the database after folding the WAL in.
pub fn db_bytes(path: &Path) -> Vec<u8> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    std::fs::read(path).unwrap()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// No temp file is left beside the targets in `dir`.
fn no_partials(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial") && n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
}

// ---- 1. output files ---------------------------------------------------------

#[test]
fn export_onto_the_open_database_is_refused_and_the_database_survives() {
    let env = Env::with_sample();
    let before = db_bytes(&env.db);
    let db = env.db.to_str().unwrap();
    for force in [false, true] {
        let mut args = vec!["bookings", "export", "-o", db];
        if force {
            args.push("--force");
        }
        let err = env.fails(&args, code::BAD_INPUT);
        assert!(err.contains("the open database"), "{err}");
    }
    assert_eq!(db_bytes(&env.db), before);
    assert_eq!(env.count("SELECT COUNT(*) FROM bookings"), 400);
    // Another paytrack database (any SQLite file) is refused too, even with --force.
    let other = Env::with_sample();
    let other_before = db_bytes(&other.db);
    let err = env.fails(
        &[
            "bookings",
            "export",
            "-o",
            other.db.to_str().unwrap(),
            "--force",
        ],
        code::BAD_INPUT,
    );
    assert!(err.contains("SQLite database"), "{err}");
    assert_eq!(db_bytes(&other.db), other_before);
    no_partials(env.dir.path());
}

#[test]
fn export_refuses_fifos_symlinks_devices_and_directories() {
    let env = Env::with_sample();
    let fifo = env.path("pipe.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string and mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let victim = env.path("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let link = env.path("link.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let dir = env.path("adir");
    std::fs::create_dir(&dir).unwrap();
    for (target, what) in [
        (&fifo, "not a regular file"),
        (&link, "symbolic link"),
        (&dir, "directory"),
    ] {
        for force in [false, true] {
            let mut args = vec!["bookings", "export", "-o", target.to_str().unwrap()];
            if force {
                args.push("--force");
            }
            let err = env.fails(&args, code::BAD_INPUT);
            assert!(err.contains(what), "{target:?}: {err}");
        }
    }
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    no_partials(env.dir.path());
    // A device node: /dev/null is a character device; as root the old code replaced it.
    let err = env.fails(
        &["bookings", "export", "-o", "/dev/null", "--force"],
        code::BAD_INPUT,
    );
    assert!(err.contains("not a regular file"), "{err}");
    let meta = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &meta.file_type()
    ));
}

#[test]
fn a_planted_partial_symlink_is_never_followed() {
    let env = Env::with_sample();
    let victim = env.path("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    // The names the old code (and any predictable scheme) would use.
    for name in ["out.csv.partial", ".out.csv.partial"] {
        std::os::unix::fs::symlink(&victim, env.path(name)).unwrap();
    }
    let out = env.path("out.csv");
    env.ok(&["bookings", "export", "-o", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), 401);
    assert!(std::fs::symlink_metadata(env.path("out.csv.partial"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn export_files_are_private_and_replaced_only_with_force() {
    let env = Env::with_sample();
    let out = env.path("out.csv");
    let path = out.to_str().unwrap();
    // Under the usual umask the old code made 0644 files of personal data.
    let mut cmd = env.std_cmd();
    let status = cmd
        .args(["bookings", "export", "-o", path])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&out), 0o600);
    std::fs::write(&out, "old").unwrap();
    let err = env.fails(&["bookings", "export", "-o", path], code::BAD_INPUT);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
    env.ok(&["bookings", "export", "-o", path, "--force"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 401);
    assert_eq!(mode(&out), 0o600);
    no_partials(env.dir.path());
    let _ = is_root;
}

// ---- 2. foreign databases ----------------------------------------------------

/// Another application's SQLite file: a `users` table with a row.
fn foreign_db(env: &Env, name: &str, extra_sql: &str) -> std::path::PathBuf {
    let path = env.path(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
         INSERT INTO users VALUES (1, 'alice');
         {extra_sql}"
    ))
    .unwrap();
    drop(conn);
    path
}

fn side_files(path: &Path) -> Vec<String> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|s| format!("{}{s}", path.display()))
        .filter(|p| Path::new(p).exists())
        .collect()
}

#[test]
fn a_foreign_database_is_refused_by_every_command_and_left_byte_identical() {
    let env = Env::new();
    let sample = crate::harness::fixture("legacy-bookings.csv");
    let sample = sample.to_str().unwrap();
    for (name, extra) in [
        ("users.db", ""),
        // A file that already has a `bookings` table once got a 5 KB error of schema SQL.
        (
            "shop.db",
            "CREATE TABLE bookings (id INTEGER PRIMARY KEY, room TEXT); PRAGMA user_version = 7;",
        ),
        // A schema version alone does not make a file paytrack's.
        ("versioned.db", "PRAGMA user_version = 1;"),
    ] {
        let path = foreign_db(&env, name, extra);
        let db = path.to_str().unwrap();
        let before = std::fs::read(&path).unwrap();
        let commands: Vec<Vec<&str>> = vec![
            vec!["bookings", "list"],
            vec!["bookings", "export"],
            vec!["stats", "streams"],
            vec!["stats", "verify"],
            vec!["audit", "verify"],
            vec!["audit", "tail"],
            vec!["outbox", "list"],
            vec!["booking", "set-status", "1", "confirmed"],
            vec!["bookings", "import", sample],
            vec!["demo", "--bookings", "10"],
            vec!["init"],
        ];
        for command in commands {
            let mut args = vec!["--db", db];
            args.extend(&command);
            let err = env.fails(&args, code::DATABASE);
            assert!(err.contains("not a paytrack database"), "{args:?}: {err}");
            assert!(err.len() < 400, "{args:?}: {} bytes: {err}", err.len());
            assert!(!err.contains("CREATE"), "{args:?}: schema text: {err}");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                before,
                "{args:?} changed {name}"
            );
            assert!(
                side_files(&path).is_empty(),
                "{args:?}: {:?}",
                side_files(&path)
            );
        }
    }
}

#[test]
fn init_adopt_adds_paytracks_tables_beside_anothers_and_refuses_clashes() {
    let env = Env::new();
    let path = foreign_db(&env, "users.db", "");
    let db = path.to_str().unwrap();
    let out = env.run(&["--db", db, "init", "--adopt"]);
    assert_eq!(out.status.code(), Some(0));
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("added paytrack's tables"), "{note}");
    assert!(note.contains("users"), "{note}");
    env.ok(&["--db", db, "demo", "--bookings", "10"]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let name: String = conn
        .query_row("SELECT name FROM users WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "alice");
    drop(conn);
    // A table of the same name as one of ours, or its own schema version: refused.
    for (name, extra) in [
        ("clash.db", "CREATE TABLE outbox (x);"),
        ("version.db", "PRAGMA user_version = 3;"),
    ] {
        let path = foreign_db(&env, name, extra);
        let before = std::fs::read(&path).unwrap();
        let err = env.fails(
            &["--db", path.to_str().unwrap(), "init", "--adopt"],
            code::DATABASE,
        );
        assert!(err.contains("cannot adopt"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}

// ---- 3. --db is a path -------------------------------------------------------

#[test]
fn db_names_that_look_like_uris_are_plain_files() {
    let env = Env::new();
    let name = "file:u.db?mode=memory";
    let out = env
        .cmd()
        .current_dir(env.dir.path())
        .args(["--db", name, "demo", "--bookings", "20"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let literal = env.path(name);
    assert!(literal.is_file(), "{name} was not created");
    let out = env
        .cmd()
        .current_dir(env.dir.path())
        .args(["--db", name, "bookings", "list", "--all", "--csv"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 21);
    assert!(!env.path("u.db").exists());
    // Percent signs and spaces are part of the name too.
    let odd = env.path("a%20b c#?.db");
    env.ok(&["--db", odd.to_str().unwrap(), "init"]);
    assert!(odd.is_file());
}

// ---- 4. side files -----------------------------------------------------------

#[test]
fn reading_a_frozen_database_leaves_no_side_files_and_unfreezing_restores_writes() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::with_sample();
    db_bytes(&env.db); // fold the WAL in and close: no side files now
    assert!(side_files(&env.db).is_empty());
    let before = std::fs::read(&env.db).unwrap();
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o400)).unwrap();
    let listed = env.ok(&["bookings", "list", "--all", "--csv"]);
    assert_eq!(listed.lines().count(), 401);
    env.ok(&["stats", "verify"]);
    assert!(side_files(&env.db).is_empty(), "{:?}", side_files(&env.db));
    assert_eq!(std::fs::read(&env.db).unwrap(), before);
    env.fails(&["booking", "set-status", "1", "confirmed"], code::DATABASE);
    std::fs::set_permissions(&env.db, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.ok(&["booking", "set-status", "1", "confirmed"]);
    // Side files an older paytrack left with the frozen mode get the database's mode back.
    db_bytes(&env.db);
    for side in ["-wal", "-shm"] {
        let path = format!("{}{side}", env.db.display());
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    env.ok(&[
        "booking",
        "set-status",
        "2",
        "cancelled",
        "--reason",
        "test",
    ]);
    for side in ["-wal", "-shm"] {
        let path = format!("{}{side}", env.db.display());
        if Path::new(&path).exists() {
            assert_eq!(mode(Path::new(&path)), 0o600, "{path}");
        }
    }
}
