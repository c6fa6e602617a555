#!/usr/bin/env bash
# The first ten minutes, measured (issue 28): a fresh clone and an empty
# cargo home, as a newcomer has them. The crates are downloaded first and not
# timed; each README step is then timed as CPU time (user + sys, all child
# processes: rustc, the linker, the tests), which a busy machine changes far
# less than wall time. Prints one Markdown table row per step, for
# BENCHMARKS.md ("Cold start").
#
#   examples/cold-start.sh [REV]     REV: the commit to measure (default HEAD)
#
# Needs /usr/bin/time (Debian's `time`). Takes 10-20 minutes on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REV=${1:-HEAD}
export PATH="$HOME/.cargo/bin:$PATH"
[[ -x /usr/bin/time ]] || { echo "cold-start: needs /usr/bin/time (apt-get install time)" >&2; exit 75; }

work=$(mktemp -d /tmp/paytrack-cold.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$ROOT" "$work/clone"
git -C "$work/clone" checkout -q "$(git -C "$ROOT" rev-parse "$REV")"
cd "$work/clone"
# An empty cargo home (rustup's toolchain stays where it is), and no test
# server: what a newcomer's first `cargo test` has.
export CARGO_HOME="$work/cargo-home"
unset CARGO_TARGET_DIR PAYTRACK_TEST_PG PAYTRACK_TEST_BACKEND CI RUSTFLAGS
cargo fetch --locked -q

# step NAME COMMAND…: runs it, prints "| NAME | cpu s | wall s | peak RSS MB |".
step() {
    local name=$1
    shift
    /usr/bin/time -o "$work/time" -f '%U %S %e %M' "$@" >"$work/out" 2>"$work/err" ||
        { echo "cold-start: $name failed:" >&2; tail -20 "$work/err" >&2; exit 1; }
    read -r user sys wall rss <"$work/time"
    printf '| %s | %.0f | %.0f | %.0f |\n' "$name" "$(echo "$user + $sys" | bc)" "$wall" "$((rss / 1024))"
}

echo "| step (rev $(git rev-parse --short HEAD)) | CPU s (user+sys) | wall s | peak RSS MB |"
echo "|---|---|---|---|"
step "quick start: cargo run … demo && cargo run … bookings list" \
    bash -c 'cargo run -q -- --db demo.db demo >/dev/null && cargo run -q -- --db demo.db bookings list --status pending'
grep -q . "$work/out" || { echo "cold-start: the quick start printed nothing" >&2; exit 1; }
step "cargo test --locked (after it)" cargo test --locked
step "cargo install --locked --path ." cargo install --locked --path . --root "$work/install"
size=$(stat -c %s "$work/install/bin/paytrack")
echo
echo "installed binary: $((size / 1024)) KiB ($(file -b "$work/install/bin/paytrack" | grep -o 'not stripped\|stripped'))"
echo "crates in Cargo.lock: $(grep -c '^name = ' Cargo.lock)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
