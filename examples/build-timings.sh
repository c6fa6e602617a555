#!/usr/bin/env bash
# What each dependency costs a cold build (issue 28): `cargo build --timings`
# of REV in a fresh clone and target, then the crates that took longest,
# summed per crate (its build script, proc-macro and library units together),
# as Markdown rows for BENCHMARKS.md. Crates must be downloaded already
# (run `cargo fetch` once); nothing is downloaded while timing.
#
#   examples/build-timings.sh [REV] [TOP]     defaults: HEAD, 25
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REV=${1:-HEAD}
TOP=${2:-25}
export PATH="$HOME/.cargo/bin:$PATH"
work=$(mktemp -d /tmp/paytrack-timings.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$ROOT" "$work/clone"
git -C "$work/clone" checkout -q "$(git -C "$ROOT" rev-parse "$REV")"
cd "$work/clone"
unset CARGO_TARGET_DIR RUSTFLAGS
cargo fetch --locked -q
cargo build --locked -q --timings >/dev/null 2>&1
html=$(ls target/cargo-timings/cargo-timing*.html | head -n 1)
python3 - "$html" "$TOP" "$(git rev-parse --short HEAD)" <<'EOF'
import json, re, sys
from collections import defaultdict
html, top, rev = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3]
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
cost = defaultdict(float)
for u in units:
    cost[(u["name"], u["version"])] += u["duration"]
total = sum(cost.values())
print(f"| crate (rev {rev}) | unit seconds | share |")
print("|---|---|---|")
for (name, version), secs in sorted(cost.items(), key=lambda kv: -kv[1])[:top]:
    print(f"| {name} {version} | {secs:.1f} | {100 * secs / total:.1f}% |")
print(f"| all {len(cost)} crates | {total:.1f} | 100% |")
EOF
