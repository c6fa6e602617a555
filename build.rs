//! Tells the CLI tests whether a PostgreSQL test server is named
//! (`PAYTRACK_TEST_PG`), so that the tests which need one are *ignored with
//! their reason* where there is none, instead of returning early and being
//! counted as passed (issue 28). CI sets the variable before its first cargo
//! command, so it never rebuilds for it.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_test_server)");
    println!("cargo::rerun-if-env-changed=PAYTRACK_TEST_PG");
    if std::env::var_os("PAYTRACK_TEST_PG").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=pg_test_server");
    }
}
