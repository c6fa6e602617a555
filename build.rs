//! Tells the CLI tests what this machine can run, so that a test which
//! cannot run here is *ignored with its reason* instead of returning early
//! and being counted as passed (issue 28):
//! - `pg_test_server`: a PostgreSQL test server is named (`PAYTRACK_TEST_PG`);
//! - `have_script`, `have_sqlite3`, `have_age`, `have_flock`: util-linux
//!   `script` (terminal tests), the `sqlite3` shell (another program writing
//!   the file), the reference `age` and `age-keygen` (encrypted copies), and
//!   `bash` with `flock` (the cron scripts) are on PATH.
//!
//! `.ci/run` installs the tools and sets the variable before its first cargo
//! command, and fails if any test was ignored, so CI runs every test.
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-env-changed=PAYTRACK_TEST_PG");
    println!("cargo::rerun-if-env-changed=PATH");
    let server = std::env::var_os("PAYTRACK_TEST_PG").is_some_and(|v| !v.is_empty());
    let tools: [(&str, &[&str]); 4] = [
        ("have_script", &["script"]),
        ("have_sqlite3", &["sqlite3"]),
        ("have_age", &["age", "age-keygen"]),
        ("have_flock", &["bash", "flock"]),
    ];
    println!("cargo::rustc-check-cfg=cfg(pg_test_server)");
    if server {
        println!("cargo::rustc-cfg=pg_test_server");
    }
    // Relative relocations packed (DT_RELR): the loader's relocation table
    // shrinks from ~370 KB to a few KB, so every start reads less (issue 28).
    // An older GNU ld warns and ignores the flag; against a glibc without
    // DT_RELR support (before 2.36) ld leaves it out.
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if target_os == "linux" && target_env == "gnu" {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    for (cfg, programs) in tools {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if programs.iter().all(|p| on_path(p)) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

/// Whether an executable file named `program` is in a PATH directory.
fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(program);
        is_executable(&candidate)
    })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}
