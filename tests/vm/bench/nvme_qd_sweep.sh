#!/bin/bash
# SPDX-License-Identifier: MIT
# Does holding a batch below the NVMe queue's depth make a mass fence faster? prbench's fence of every
# namespace (node B fencing node A, armed with --arm reserve every round) at each commands-in-flight
# limit (`--qd`), with the number of passthrough commands io_uring handed to its io-wq workers
# (tracepoint io_uring:io_uring_queue_async_work) counted over each prbench run. nvme-loop's queues hold
# 127 commands, so at 256 namespaces an unlimited batch overflows into io-wq and a limit of 120 or less
# does not.
#
# On the host:  tests/vm/bench/nvme_qd_sweep.sh [ROUNDS [SWEEPS [QD...]]]   (defaults 7, 2, all 120 64 32)
#   builds prbench and prfence (Release, PRFENCE_BENCH_BUILD or build/rel) and boots the nvme topology
#   (PRFENCE_VM_LUNS namespaces, default 256) in PRFENCE_VM_DIR (default build/vm-nvme-bench, shared
#   with nvme_bench.sh). Results: nvqd-<series>-<N>ns-qd<QD>-<sweep>.txt in $PRFENCE_VM_DIR/out/ and a
#   summary table on stdout.
# Exit status: 0; 1 when prbench failed (a batch with failed commands, or no result); 77 outside the nvme topology or without the tools.
set -euo pipefail

if [ -z "${PRFENCE_VM_OUT:-}" ]; then
    # shellcheck source=host.sh
    . "$(dirname "${BASH_SOURCE[0]}")/host.sh"
    bench_boot nvme "build/vm-nvme-bench" "${BASH_SOURCE[0]}" "$@"
fi

# ---- in the guest
# shellcheck source=../suite/lib.sh
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
# shellcheck source=../suite/nvme_lib.sh
. "$PRFENCE_VM_SUITE/nvme_lib.sh"
# shellcheck source=../suite/engine_lib.sh
. "$PRFENCE_VM_SUITE/engine_lib.sh"

ROUNDS=${1:-7}
SWEEPS=${2:-2}
shift $(($# < 2 ? $# : 2))
QDS=("$@")
[ ${#QDS[@]} -gt 0 ] || QDS=(all 120 64 32)
for t in prbench prfence; do command -v "$t" >/dev/null || skip "no $t in this image"; done
NN=${#NV_NSIDS[@]}
for c in /sys/class/nvme/nvme*; do
    log "${c##*/}: $(cat "$c/queue_count" 2>/dev/null || echo ?) queues (admin included), sqsize $(cat "$c/sqsize" 2>/dev/null || echo ?)"
done
log "$NN namespaces, $ROUNDS rounds per prbench run, $SWEEPS sweeps over --qd ${QDS[*]} (kernel $(uname -r), $(nproc) CPUs, TCG)"

printf '%s\n' "${A_NSS[@]}" >/tmp/nvqd-victim.list
printf '%s\n' "${B_NSS[@]}" >/tmp/nvqd-fencer.list
# shellcheck disable=SC2034  # read by lib.sh's run and engine_lib.sh's pj
QUIET=1
pj register --key feedf00d --ignore-existing "${A_NSS[@]}"
[ "$RC" -eq 0 ] || { show_last; fail "register (clean start): exit $RC"; }
pj clear --key feedf00d "${A_NSS[@]}"
[ "$RC" -eq 0 ] || { show_last; fail "clear (clean start): exit $RC"; }

TR=/sys/kernel/tracing
[ -d "$TR/events" ] || mount -t tracefs nodev "$TR" 2>/dev/null || true
EV=$TR/events/io_uring/io_uring_queue_async_work
TRACE=0
if [ -w "$EV/enable" ]; then
    echo 16384 >"$TR/buffer_size_kb"
    echo 1 >"$EV/enable"
    TRACE=1
else
    log "no io_uring tracepoints: hand-offs not counted"
fi

status=0
declare -A WALL HANDOFF
for ((s = 1; s <= SWEEPS; s++)); do
    for qd in "${QDS[@]}"; do
        out=$PRFENCE_VM_OUT/nvqd-$KSERIES-${NN}ns-qd$qd-$s.txt
        if [ "$TRACE" = 1 ]; then
            echo 0 >"$TR/tracing_on"
            : >"$TR/trace"
            echo 1 >"$TR/tracing_on"
        fi
        set +e
        prbench -w fence --luns "$NN" -b uring --qd "$qd" --rounds "$ROUNDS" --arm reserve --timeout 5000 \
            --type 3 --key-a "$KEY_A" --key-b "$KEY_B" --output "$out" \
            @/tmp/nvqd-victim.list --node-b @/tmp/nvqd-fencer.list >/dev/null
        rc=$?
        set -e
        n=-
        if [ "$TRACE" = 1 ]; then
            echo 0 >"$TR/tracing_on"
            n=$(grep -c 'io_uring_queue_async_work' "$TR/trace" || true)
        fi
        [ "$rc" -eq 0 ] || { log "qd $qd, sweep $s: prbench exit $rc (failed commands; see $out)"; status=1; }
        med=""
        [ -r "$out" ] && med=$(sed -n 's/.*wall (msec):.*median=\([0-9.]*\).*/\1/p' "$out" | head -1)
        WALL[$qd]+="${med:-?} " HANDOFF[$qd]+="$n "
        log "qd $qd, sweep $s: median batch ${med:-?} ms, $n io-wq hand-offs, prbench exit $rc"
    done
done

printf '\n# fence of %s namespaces by --qd; median batch wall per sweep (ms), io-wq hand-offs per prbench run\n' "$NN"
printf '%-6s %-28s %s\n' qd wall_ms_per_sweep handoffs_per_sweep
for qd in "${QDS[@]}"; do printf '%-6s %-28s %s\n' "$qd" "${WALL[$qd]}" "${HANDOFF[$qd]}"; done
exit "$status"
