#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# prfenced's fence figure as an operator meets it: fencing N sim LUNs with `prfence --daemon fence`
# (prfenced holds the group open) against `prfence fence` in direct mode (the CLI resolves and opens
# the LUNs itself), both timed as whole processes, from exec to exit, on one prsim farm. Rounds
# alternate the two modes; each round arms the farm first (A registers and reserves EA, the fencer
# registers), untimed. Prints every round, then min / median / max and the ratio of medians.
#
#   tests/bench/fence_cli.sh [BUILD_DIR]        (default build/rel; a Release tree)
#   env: PRFENCE_BENCH_LUNS (1000), PRFENCE_BENCH_ROUNDS (11), PRFENCE_BENCH_LATENCY_US (2000)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/rel}
LUNS=${PRFENCE_BENCH_LUNS:-1000}
ROUNDS=${PRFENCE_BENCH_ROUNDS:-11}
LAT=${PRFENCE_BENCH_LATENCY_US:-2000}
P=$BUILD/tools/prfence D=$BUILD/nl_control/daemon/prfenced S=$BUILD/interposer/prsim
for b in "$P" "$D" "$S"; do
    [[ -x $b ]] || { echo "fence_cli.sh: $b is not built (cmake --build $BUILD --target prfence prfenced prsim)" >&2; exit 2; }
done

T=$(mktemp -d /tmp/prfence-fence-cli.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

SOCK=$T/prsim.sock CTL=$T/control.sock FARM="sim:$T/prsim.sock:0-$((LUNS - 1))"
A=(--initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1)
B=(--initiator "iqn.2026-11.io.prfence:node-b,i,0x2" --target-port 2)
C=(--initiator "iqn.2026-11.io.prfence:node-c,i,0x3" --target-port 2)

"$S" --socket "$SOCK" --luns "$LUNS" --fault "latency,us=$LAT" >"$T/prsim.log" 2>&1 &
pids+=($!)
for _ in $(seq 400); do [[ -S $SOCK ]] && break; sleep 0.05; done
[[ -S $SOCK ]] || { echo "prsim did not start in 20 s:"; cat "$T/prsim.log"; exit 1; }
"$D" --socket "$CTL" >"$T/prfenced.log" 2>&1 &
pids+=($!)
for _ in $(seq 400); do [[ -S $CTL ]] && break; sleep 0.05; done
[[ -S $CTL ]] || { echo "prfenced did not start in 20 s:"; cat "$T/prfenced.log"; exit 1; }
PD=("$P" "--daemon=$CTL")
"${PD[@]}" group create nodeA "${A[@]}" --key a "$FARM" >/dev/null
"${PD[@]}" group create nodeB "${B[@]}" --key b "$FARM" >/dev/null

must() { "$@" >"$T/out" 2>&1 || { echo "fence_cli.sh: failed: $*" >&2; cat "$T/out" >&2; exit 1; }; }
arm() {  # A holds an EA reservation; the fencer is registered
    must "${PD[@]}" register -q nodeA
    must "${PD[@]}" reserve --type EA -q nodeA
    if [[ $1 == daemon ]]; then must "${PD[@]}" register -q nodeB
    else must "$P" register --key c -q "${C[@]}" "$FARM"; fi
}
# Bash's own clock ($EPOCHREALTIME, microseconds), read without a subshell: spawning date(1) or forking
# around each command would add a process to each figure. Sets REPLY to the microseconds from $1 to $2.
us_between() { REPLY=$(((10#${2%.*} - 10#${1%.*}) * 1000000 + 10#${2#*.} - 10#${1#*.})); }

declare -a dm xm
echo "fence of $LUNS sim LUNs at $LAT us per command, whole processes, $ROUNDS rounds each (ms):"
for r in $(seq "$ROUNDS"); do
    arm daemon
    t0=$EPOCHREALTIME
    must "${PD[@]}" fence --victim a --type EA -q nodeB
    us_between "$t0" "$EPOCHREALTIME"
    dm+=("$REPLY")
    must "${PD[@]}" clear -q nodeB

    arm direct
    t0=$EPOCHREALTIME
    must "$P" fence --key c --victim a --type EA -q "${C[@]}" "$FARM"
    us_between "$t0" "$EPOCHREALTIME"
    xm+=("$REPLY")
    must "$P" clear --key c -q "${C[@]}" "$FARM"
    awk -v r="$r" -v d="${dm[-1]}" -v x="${xm[-1]}" 'BEGIN { printf "  round %2d: daemon %7.2f   direct %7.2f\n", r, d / 1000, x / 1000 }'
done

python3 - "${#dm[@]}" "${dm[@]}" "${xm[@]}" <<'EOF'
import statistics, sys
n = int(sys.argv[1])
d = [int(x) / 1000 for x in sys.argv[2:2 + n]]
x = [int(v) / 1000 for v in sys.argv[2 + n:]]
for name, v in (("prfence --daemon fence", d), ("prfence fence (direct)", x)):
    print(f"{name:24s} min {min(v):7.2f}  median {statistics.median(v):7.2f}  max {max(v):7.2f} ms")
print(f"ratio of medians daemon / direct: {statistics.median(d) / statistics.median(x):.2f} (target <= 1.2)")
EOF
