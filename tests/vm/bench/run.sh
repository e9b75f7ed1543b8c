#!/usr/bin/env bash
# The engine's numbers on the real kernel: builds prfence (Release, build/rel) and sgio_loop (static, build/vm-bench)
# and runs tests/vm/suite/engine_bench.sh in the guest (tests/vm/run.sh). Prints the guest's table; the
# JSON is build/vm/out/engine-bench-<series>-<N>luns.json.
#   tests/vm/bench/run.sh [REPS]          (PRFENCE_VM_LUNS, default 256, and the rest as for run.sh)
# Exit status: engine_bench.sh's (1 when prfence is not >= 100x the sg_persist loop or is slower than
# the sequential SG_IO loop), or run.sh's (77: no QEMU).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BUILD=${PRFENCE_BENCH_BUILD:-$SRC/build/rel}
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPRFENCE_TESTS=ON >/dev/null
ninja -C "$BUILD" prfence >/dev/null
mkdir -p "$SRC/build/vm-bench"
gcc -O2 -Wall -Wextra -static -o "$SRC/build/vm-bench/sgio_loop" "$SRC/tests/vm/bench/sgio_loop.c"
export PRFENCE_VM_LUNS=${PRFENCE_VM_LUNS:-256}
export PRFENCE_VM_BINARIES="$BUILD/tools/prfence $SRC/build/vm-bench/sgio_loop${PRFENCE_VM_BINARIES:+ $PRFENCE_VM_BINARIES}"
exec "$SRC/tests/vm/run.sh" "$SRC/tests/vm/suite/engine_bench.sh" "$@"
