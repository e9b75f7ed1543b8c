#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The NVMe fence on prsim, no guest: prsim serves N NVMe namespaces; node B fences node A on every one,
# with prfence's engine in one batch and one command at a time (prbench -b uring,serial over prsim's
# socket), and with a loop of unmodified nvme-cli processes through the prsim-run shim (-b nvme-cli: per
# namespace `nvme resv-report /dev/prsim/nvme0nN --eds -o json`, `nvme resv-acquire ... --racqa=2`, the
# report again; each process started with prsim-run's environment and node B's NVMe host, the one the
# engine speaks as). Each round is armed by the engine, unmeasured. prbench's text and JSON go to OUT_DIR;
# the last line gives prfence's batch against the nvme-cli loop at the largest N.
#
#   tests/bench/nvme_cli_sim.sh [BUILD_DIR [OUT_DIR]]     (defaults build/rel and BUILD_DIR/nvme-cli-sim)
#   env: PRFENCE_BENCH_NS (namespace counts, default "64 256"), PRFENCE_BENCH_ROUNDS (engine rounds, 5),
#        PRFENCE_BENCH_CLI_ROUNDS (nvme-cli rounds, 1), PRFENCE_BENCH_LATENCY_US (prsim's added latency
#        per command, default 0: none), PRFENCE_BENCH_TARGET (the ratio to reach, default 100; 0: none,
#        as ctest runs it small only to keep the script working)
# Exit status: 0; 1 when a method failed or prfence's batch is below the target against the nvme-cli loop
# at the largest N; 2 when something is not built or nvme-cli is not installed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/rel}
OUT=${2:-$BUILD/nvme-cli-sim}
read -r -a NS <<<"${PRFENCE_BENCH_NS:-64 256}"
ROUNDS=${PRFENCE_BENCH_ROUNDS:-5}
CLI_ROUNDS=${PRFENCE_BENCH_CLI_ROUNDS:-1}
LAT=${PRFENCE_BENCH_LATENCY_US:-0}
TARGET=${PRFENCE_BENCH_TARGET:-100}
B=$BUILD/tools/prbench/prbench S=$BUILD/interposer/prsim R=$BUILD/interposer/prsim-run
for b in "$B" "$S" "$R"; do
    [[ -x $b ]] || { echo "nvme_cli_sim.sh: $b is not built (cmake --build $BUILD --target prbench prsim prsim-run)" >&2; exit 2; }
done
command -v nvme >/dev/null || { echo "nvme_cli_sim.sh: nvme-cli is not installed (tools/deps.sh test)" >&2; exit 2; }
MAX=0
for n in "${NS[@]}"; do ((n > MAX)) && MAX=$n; done
mkdir -p "$OUT"

T=$(mktemp -d /tmp/prfence-nvme-cli-sim.XXXXXX)
pid=""
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

SOCK=$T/prsim.sock
fault=()
((LAT > 0)) && fault=(--fault "latency,us=$LAT")
"$S" --socket "$SOCK" --luns 1 --nvme-namespaces "$MAX" "${fault[@]}" >"$T/prsim.log" 2>&1 &
pid=$!
for _ in $(seq 400); do [[ -S $SOCK ]] && break; sleep 0.05; done
[[ -S $SOCK ]] || { echo "prsim did not start in 20 s:"; cat "$T/prsim.log"; exit 1; }

status=0
for n in "${NS[@]}"; do
    base=$OUT/nvme-cli-sim-${n}ns
    echo "== fence of $n prsim namespaces (added latency $LAT us per command)"
    set +e
    "$B" -w fence --luns "$n" -b uring,serial,nvme-cli --rounds "$ROUNDS" --baseline-rounds "$CLI_ROUNDS" \
        --arm reserve --type EA --prsim-run "$R" --json "$base.json" --output "$base.txt" -q \
        "sim:$SOCK:ns1-$MAX"
    rc=$?
    set -e
    grep -vE '^ +\|' "$base.txt" || true
    [[ $rc -eq 0 ]] || { echo "prbench ($n namespaces) exit $rc"; status=1; }
done

last=$OUT/nvme-cli-sim-${MAX}ns.txt
med() { awk -v b="$1" '/^Comparison/ { c = 1 } c && $1 == "fence" && $4 == b { print $6 }' "$last"; }
m_uring=$(med uring) m_cli=$(med nvme-cli)
if [[ -n $m_uring && -n $m_cli ]]; then
    x=$(awk -v a="$m_cli" -v b="$m_uring" 'BEGIN { printf "%.0f", a / b }')
    echo "fence of $MAX prsim namespaces, median wall: prfence $m_uring ms, nvme-cli loop $m_cli ms: ${x}x (target >= ${TARGET}x)"
    [[ $x -ge $TARGET ]] || status=1
else
    echo "no prfence or nvme-cli figure in $last"
    status=1
fi
exit "$status"
