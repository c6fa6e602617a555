//! Build script: links the release binary as a position-dependent executable.
//!
//! A PIE paytrack spends most of its start-up applying ~35,000 dynamic
//! relocations (clap, chrono-tz and SQLite tables of pointers), which touches
//! and copies about 1 MiB of pages before `main`: `paytrack --version` took
//! 2.5 ms of CPU instead of 0.9 ms (BENCHMARKS.md). Without PIE the linker
//! resolves them once, at link time. The cost is that the executable's own
//! code sits at a fixed address (libraries, heap and stack are still
//! randomised). Debug builds, which tests use, are left as they are.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if release && linux_gnu {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
