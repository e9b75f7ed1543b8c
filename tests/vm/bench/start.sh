#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Direct mode's start against prfenced and a sg_persist loop on the real kernel: builds prfence and prfenced
# (Release) and runs tests/vm/bench/start_guest.sh in the guest (tests/vm/run.sh): fence every LU as a whole
# process, direct (resolve, open, batch) and through prfenced (the group held open), REPS times each, and a
# sg_persist loop once, in one boot. Prints the guest's table; the text is build/vm/out/start-<series>-<N>luns.txt
# (PRFENCE_VM_DIR moves build/vm).
#   tests/vm/bench/start.sh [REPS]        (PRFENCE_VM_LUNS, default 256, and the rest as for run.sh)
# PRFENCE_BENCH_BUILD: the build directory (default build/rel). PRFENCE_BENCH_BASE: another prfence binary
# (an older build, static) timed in the same boot as `direct-base`. PRFENCE_BENCH_STRACE=1: strace in the
# image, for a count of one direct fence's system calls.
# Exit status: start_guest.sh's (1 when direct mode is below 100x or the daemon below 200x the sg_persist
# loop), or run.sh's (77: no QEMU).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BUILD=${PRFENCE_BENCH_BUILD:-$SRC/build/rel}
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" -j2 prfence prfenced >/dev/null
BIN="$BUILD/tools/prfence $BUILD/nl_control/daemon/prfenced"
if [ -n "${PRFENCE_BENCH_BASE:-}" ]; then
    STAGE=$(mktemp -d /tmp/prfence-start-bench.XXXXXX)
    trap 'rm -rf "$STAGE"' EXIT
    cp "$PRFENCE_BENCH_BASE" "$STAGE/prfence-base"
    BIN+=" $STAGE/prfence-base"
fi
if [ "${PRFENCE_BENCH_STRACE:-0}" = 1 ]; then
    command -v strace >/dev/null || { echo "start.sh: PRFENCE_BENCH_STRACE=1 but no strace here" >&2; exit 2; }
    BIN+=" $(command -v strace)"
fi
export PRFENCE_VM_LUNS=${PRFENCE_VM_LUNS:-256}
export PRFENCE_VM_TIMEOUT=${PRFENCE_VM_TIMEOUT:-1800}
export PRFENCE_VM_BINARIES="$BIN${PRFENCE_VM_BINARIES:+ $PRFENCE_VM_BINARIES}"
"$SRC/tests/vm/run.sh" "$SRC/tests/vm/bench/start_guest.sh" "$@"
