#!/bin/bash
# SPDX-License-Identifier: MIT
# prfence against the tools an operator has for NVMe namespaces, on the real kernel (nvmet with reservations
# over nvme-loop, two NVMe hosts), in one boot:
#   fence   the mass fence of N namespaces (N = 64 and every namespace), armed the same way every round,
#           node B fencing node A: prfence's engine over io_uring passthrough and one command at a time
#           (prbench -b uring,serial), the block layer's PR ioctls on B's /dev/nvmeXnY in a C loop
#           (-b blkpr: IOC_PR_READ_KEYS, IOC_PR_PREEMPT_ABORT, IOC_PR_READ_RESERVATION per namespace), and
#           a loop of nvme-cli processes (-b nvme-cli: resv-report --eds, resv-acquire --racqa=2,
#           resv-report --eds per namespace; fewer rounds, it is slow)
#   direct  `prfence fence` as a whole process on every namespace (resolve, open, batch), REPS times, and
#           the same nvme-cli loop once as a shell loop, both timed by bash around the processes
# sg_persist, fence_scsi and mpathpersist cannot fence NVMe namespaces (sg3_utils does not translate
# PERSISTENT RESERVE to NVMe), so they are not run.
#
# On the host:  tests/vm/bench/nvme_bench.sh [ROUNDS [NVME_CLI_ROUNDS [REPS]]]    (defaults 5, 1, 3)
#   builds prbench and prfence (Release, PRFENCE_BENCH_BUILD or build/rel; PRFENCE_BENCH_JOBS ninja jobs,
#   default 2), boots the nvme topology (PRFENCE_VM_TOPOLOGY=nvme, PRFENCE_VM_LUNS namespaces, default
#   256) in its own guest directory (PRFENCE_VM_DIR, default build/vm-nvme-bench, so the SCSI guests'
#   layers are not rebuilt) and runs this script in the guest. Results in $PRFENCE_VM_DIR/out/:
#   nvbench-<series>-<N>ns.{txt,json} (prbench) and nvbench-direct-<series>-<N>ns.txt.
# In the guest (tests/vm/run.sh runs it as /prfence/run/nvme_bench.sh): the benchmark itself.
# Exit status: 0; 1 when a method failed or prfence's batch is not >= 100x the nvme-cli loop at the largest
# N (printed after everything else); 77 outside the nvme topology, without the tools, or (run.sh) without
# QEMU or a kernel with nvmet reservations.
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

ROUNDS=${1:-5}
NVCLI_ROUNDS=${2:-1}
REPS=${3:-3}
for t in prbench prfence nvme; do command -v "$t" >/dev/null || skip "no $t in this image"; done
NN=${#NV_NSIDS[@]}
log "$NN namespaces, two hosts over nvme-loop; $ROUNDS rounds per in-process method, $NVCLI_ROUNDS for the nvme-cli loop, $REPS direct runs (kernel $(uname -r), $(nproc) CPUs, TCG)"

# prbench's node A (the victim) is the guest's node A, its node B (the fencer) the guest's node B; both as
# block devices (prfence resolves them to the generic nodes; blkpr and nvme-cli act on the block devices).
printf '%s\n' "${A_NSS[@]}" >/tmp/nvbench-victim.list
printf '%s\n' "${B_NSS[@]}" >/tmp/nvbench-fencer.list

# shellcheck disable=SC2034  # read by lib.sh's run and engine_lib.sh's pj
QUIET=1
expect_ok() { # WHAT: the last pj must have succeeded on every namespace
    if [ "$RC" -ne 0 ] || [ "${J[summary.ok]:-}" != "$NN" ]; then
        show_last
        fail "$1: exit $RC, ${J[summary.ok]:-?} of $NN ok"
    fi
}
# A clean start: A registers a throw-away key and clears every namespace.
pj register --key feedf00d --ignore-existing "${A_NSS[@]}"
expect_ok "register (clean start)"
pj clear --key feedf00d "${A_NSS[@]}"
expect_ok "clear (clean start)"

# io_uring's own view of failures, kept in the results when a batch had errors: every completion with
# a negative result and every command io_uring handed to a worker (tracefs; absent tracepoints are
# skipped). Once, at 256 namespaces, about half the commands of prbench's batches completed with
# -EFAULT ("Bad address") and no kernel message; the same commands passed in later boots.
TR=/sys/kernel/tracing
[ -d "$TR/events" ] || mount -t tracefs nodev "$TR" 2>/dev/null || true
trace_on() {
    local e
    [ -d "$TR/events/io_uring" ] || return 0
    echo 'res < 0' >"$TR/events/io_uring/io_uring_complete/filter" 2>/dev/null || true
    for e in io_uring_complete io_uring_queue_async_work io_uring_req_failed; do
        echo 1 >"$TR/events/io_uring/$e/enable" 2>/dev/null || true
    done
    echo 8192 >"$TR/buffer_size_kb" 2>/dev/null || true
    : >"$TR/trace" 2>/dev/null || true
    echo 1 >"$TR/tracing_on" 2>/dev/null || true
}
trace_keep() { # FILE RC: save the trace when prbench reported failed commands (RC != 0). Every run
    # has a few: the ring's eventfd read ends with -ECANCELED when prbench closes a ring.
    [ "$2" -ne 0 ] && [ -r "$TR/trace" ] || return 0
    cp "$TR/trace" "$1"
    log "prbench exit $2: io_uring's failed completions and worker hand-offs are in $1"
}

status=0
ns=$NN
[ "$NN" -gt 64 ] && ns="64 $NN"
for n in $ns; do
    base=$PRFENCE_VM_OUT/nvbench-$KSERIES-${n}ns
    log "fence, $n namespaces"
    trace_on
    set +e
    prbench -w fence --luns "$n" -b uring,serial,blkpr,nvme-cli --rounds "$ROUNDS" \
        --baseline-rounds "$NVCLI_ROUNDS" --arm reserve --timeout 5000 --type 3 \
        --key-a "$KEY_A" --key-b "$KEY_B" --json "$base.json" --output "$base.txt" \
        @/tmp/nvbench-victim.list --node-b @/tmp/nvbench-fencer.list
    rc=$?
    set -e
    grep -vE '^ +\|' "$base.txt" || true
    trace_keep "$base-iouring-trace.txt" "$rc"
    [ "$rc" -eq 0 ] || { log "prbench fence ($n namespaces) exit $rc"; status=1; }
    RC_LAST=$rc
done

# The largest N: median batch wall of each method, from prbench's comparison table.
last=$PRFENCE_VM_OUT/nvbench-$KSERIES-${NN}ns.txt
med() { awk -v b="$1" '/^Comparison/ { c = 1 } c && $1 == "fence" && $4 == b { print $6 }' "$last"; }
m_uring=$(med uring) m_serial=$(med serial) m_blk=$(med blkpr) m_cli=$(med nvme-cli)
log "fence of $NN namespaces, median wall ms: prfence ${m_uring:-?}, one at a time ${m_serial:-?}, IOC_PR loop ${m_blk:-?}, nvme-cli loop ${m_cli:-?}"
X_BATCH=""
if [ "$RC_LAST" -ne 0 ]; then
    log "no ratio at $NN namespaces: prbench reported failed commands (above), so its figures are not a fence"
elif [ -n "$m_uring" ] && [ -n "$m_cli" ]; then
    X_BATCH=$(awk -v a="$m_cli" -v b="$m_uring" 'BEGIN { printf "%.0f", a / b }')
    log "prfence's batch is ${X_BATCH}x the nvme-cli loop at $NN namespaces"
else
    log "no prfence or nvme-cli figure in $last"
    status=1
fi

# ---- direct mode: prfence fence as a process, against the nvme-cli loop as a shell runs it.
arm() { # A holds an Exclusive Access reservation, B is registered (prbench's --arm reserve)
    pj register --key "$KEY_B" --ignore-existing "${B_NSS[@]}" && expect_ok "arm: B register"
    pj clear --key "$KEY_B" "${B_NSS[@]}" && expect_ok "arm: B clear"
    pj register --key "$KEY_A" --ignore-existing "${A_NSS[@]}" && expect_ok "arm: A register"
    pj register --key "$KEY_B" --ignore-existing "${B_NSS[@]}" && expect_ok "arm: B register"
    pj reserve --key "$KEY_A" --type 3 "${A_NSS[@]}" && expect_ok "arm: A reserve"
}
check_fenced() { # WHO: B holds every namespace and A's key is gone
    local i
    pj reservation "${B_NSS[@]}"
    expect_ok "$1: reservation"
    for ((i = 0; i < NN; i++)); do
        [ "${J[luns.$i.reservation.key]:-}" = "0x$KEY_B" ] ||
            { show_last; fail "$1: ${J[luns.$i.device]:-#$i} reserved by ${J[luns.$i.reservation.key]:-nobody}, not 0x$KEY_B"; }
    done
    pj keys "${B_NSS[@]}"
    expect_ok "$1: keys"
    for ((i = 0; i < NN; i++)); do
        if [ "${J[luns.$i.keys.0]:-}" != "0x$KEY_B" ] || [ -n "${J[luns.$i.keys.1]:-}" ]; then
            show_last
            fail "$1: ${J[luns.$i.device]:-#$i} keys ${J[luns.$i.keys.0]:-none} ${J[luns.$i.keys.1]:-}"
        fi
    done
}
ms_since() { T_MS=$(awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'); }

WALLS="" BATCHES=""
for ((r = 1; r <= REPS; r++)); do
    arm
    t0=$EPOCHREALTIME
    set +e
    OUT=$(prfence fence --timeout 5000 --key "$KEY_B" --victim "$KEY_A" --type 3 "${B_NSS[@]}" --json 2>&1)
    RC=$?
    set -e
    ms_since "$t0"
    J=()
    while IFS='=' read -r k v; do J["$k"]=$v; done < <(json_flat <<<"$OUT")
    expect_ok "direct fence"
    WALLS+="$T_MS " BATCHES+="${J[summary.wall_ms]} "
    log "direct run $r: $T_MS ms (resolve ${J[summary.resolve_ms]:-?} ms, open ${J[summary.open_ms]:-?} ms, batch ${J[summary.wall_ms]} ms)"
    check_fenced "direct fence"
done

arm
t0=$EPOCHREALTIME
for id in "${NV_NSIDS[@]}"; do
    nv_ns "$id" # sets NSID, B_NS
    # shellcheck disable=SC2153
    run nvme resv-report "$B_NS" --namespace-id="$NSID" --eds --output-format=json
    [ "$RC" -eq 0 ] || { show_last; fail "resv-report on $B_NS: exit $RC"; }
    run nvme resv-acquire "$B_NS" --namespace-id="$NSID" --crkey="$NV_KEY_B" --prkey="$NV_KEY_A" --rtype=2 --racqa=2
    [ "$RC" -eq 0 ] || { show_last; fail "resv-acquire --racqa=2 on $B_NS: exit $RC"; }
    run nvme resv-report "$B_NS" --namespace-id="$NSID" --eds --output-format=json
    [ "$RC" -eq 0 ] || { show_last; fail "resv-report on $B_NS: exit $RC"; }
done
ms_since "$t0"
LOOP=$T_MS
check_fenced "nvme-cli loop"

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }
M_WALL=$(median "$WALLS")
X_DIRECT=$(awk -v a="$LOOP" -v b="$M_WALL" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }')
{
    echo "# fence of $NN namespaces as whole processes; kernel $(uname -r), TCG, $(nproc) CPUs; median of $REPS (nvme-cli loop: 1)"
    printf '%-14s %10s %8s  %s\n' method wall_ms x_loop runs_ms
    printf '%-14s %10s %8s  %s\n' direct "$M_WALL" "$X_DIRECT" "$WALLS"
    printf '%-14s %10s %8s  %s\n' nvme-cli-loop "$LOOP" 1 "$((3 * NN)) processes"
    echo "# direct: batch wall_ms (prfence's summary) $BATCHES"
} | tee "$PRFENCE_VM_OUT/nvbench-direct-$KSERIES-${NN}ns.txt"

# Clean up: B holds every namespace; it clears.
pj clear --key "$KEY_B" "${B_NSS[@]}"
expect_ok "clear (clean up)"

if [ -n "$X_BATCH" ]; then
    if [ "$X_BATCH" -ge 100 ]; then
        log "prfence's batch is ${X_BATCH}x the nvme-cli loop at $NN namespaces (>= 100x): ok"
    else
        log "prfence's batch is ${X_BATCH}x the nvme-cli loop at $NN namespaces: below the 100x target"
        status=1
    fi
fi
log "prfence fence as a process is ${X_DIRECT}x the nvme-cli shell loop at $NN namespaces"
exit "$status"
