# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The host side shared by the guest benchmarks (nvme_bench.sh, nvme_qd_sweep.sh, multipath_bench.sh,
# prbench.sh). Sourced on the host, never in the guest.
#
# bench_boot TOPOLOGY VM_DIR SCRIPT [ARGS...]: builds prbench and prfence (Release) in PRFENCE_BENCH_BUILD
# (default build/rel; PRFENCE_BENCH_JOBS ninja jobs, default 2, at nice 5), then runs SCRIPT ARGS... in
# the guest through tests/vm/run.sh. TOPOLOGY is single, multipath or nvme; PRFENCE_VM_LUNS defaults to
# 256, PRFENCE_VM_TIMEOUT to 3600 s; VM_DIR (relative to the source tree) is the default of
# PRFENCE_VM_DIR, empty for run.sh's own. The two tools go first in PRFENCE_VM_BINARIES, before any the
# caller set. Does not return: run.sh's exit status is the script's.
bench_boot() {
    local topology=$1 vm_dir=$2 script=$3
    shift 3
    local src build
    src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
    build=${PRFENCE_BENCH_BUILD:-$src/build/rel}
    cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    nice -n 5 ninja -C "$build" -j"${PRFENCE_BENCH_JOBS:-2}" prbench prfence >/dev/null
    export PRFENCE_VM_TOPOLOGY=$topology
    export PRFENCE_VM_LUNS=${PRFENCE_VM_LUNS:-256}
    export PRFENCE_VM_TIMEOUT=${PRFENCE_VM_TIMEOUT:-3600}
    [ -n "$vm_dir" ] && export PRFENCE_VM_DIR=${PRFENCE_VM_DIR:-$src/$vm_dir}
    export PRFENCE_VM_BINARIES="$build/tools/prbench/prbench $build/tools/prfence${PRFENCE_VM_BINARIES:+ $PRFENCE_VM_BINARIES}"
    exec "$src/tests/vm/run.sh" "$script" "$@"
}
