#!/usr/bin/env bash
# prbench's figures on the real kernel: builds prbench and prfence (Release) and runs
# tests/vm/suite/prbench_guest.sh in the guest (tests/vm/run.sh): mass fence and ping-pong at N = 16, 64
# and every LU (prfence over io_uring, over the SG_IO pool, one at a time, a sg_persist loop; fence_scsi
# reported as not installed), and per-operation latency. The JSON, SVG and text land in build/vm/out/
# (prbench-<series>-<N>luns.{json,svg,txt}, prbench-op-<series>-<N>luns.{json,txt}), with prfence fence's
# own batch time in the same boot (prbench-prfence-<series>-<N>luns.txt). Under TCG read the ratios
# between methods, not the absolute times (tools/prbench/README.md).
#   tests/vm/bench/prbench.sh [ROUNDS [SG_PERSIST_ROUNDS]]    (PRFENCE_VM_LUNS, default 256)
# PRFENCE_BENCH_BUILD: the build directory (default build/rel). Exit status: the guest script's, or
# run.sh's (77: no QEMU).
set -euo pipefail
# shellcheck source=host.sh
. "$(dirname "${BASH_SOURCE[0]}")/host.sh"
PRFENCE_VM_TIMEOUT=${PRFENCE_VM_TIMEOUT:-1800} bench_boot "${PRFENCE_VM_TOPOLOGY:-single}" "" \
    "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/suite/prbench_guest.sh" "$@"
