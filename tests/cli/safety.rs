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
