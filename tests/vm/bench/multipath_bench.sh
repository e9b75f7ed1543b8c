#!/bin/bash
# SPDX-License-Identifier: MIT
# prfence against the tools an operator has for LUs behind dm-multipath, on the real kernel, in one boot:
#   fence     the mass fence of N multipathed LUs (N = 64 and every LU, at most 256), armed the same way
#             every round: prfence's engine over io_uring and one command at a time, the kernel's PR
#             ioctls on the maps (prbench -b blkpr: IOC_PR_REGISTER down every path, IOC_PR_PREEMPT_ABORT,
#             one SG_IO READ RESERVATION, LU after LU), a loop of mpathpersist processes on the maps, and
#             a sg_persist loop; fence-agents' fence_mpath is not run (below)
#   register  node A's key on every path of every map (2 per LU: 2N commands), prfence in one batch
#             against prfence --qd 1, and a loop of mpathpersist --register-ignore (one process per map)
# The fencer is the multipathed initiator: mpathpersist and the PR ioctls act on dm maps, and in this
# guest only node A has maps (node B's disks are blacklisted, tests/vm/README.md). So prbench's node B
# (the fencer) is the guest's node A through its maps, with multipath.conf's reservation_key, and
# prbench's node A (the victim) is the guest's node B through its sg nodes.
# fence_mpath: fence-agents is Python (fence_mpath imports fencing.py and runs mpathpersist); the guest
# image has no Python interpreter or modules, so it cannot run here.
#
# On the host:  tests/vm/bench/multipath_bench.sh [ROUNDS [BASELINE_ROUNDS]]
#   builds prbench and prfence (Release, PRFENCE_BENCH_BUILD or build/rel) and runs this script in the
#   guest with PRFENCE_VM_TOPOLOGY=multipath (PRFENCE_VM_LUNS, default 256). Results in build/vm/out/:
#   mpbench-<series>-<N>luns.{txt,json} (prbench) and mpbench-register-<series>.txt.
# In the guest (tests/vm/run.sh runs it as /prfence/run/multipath_bench.sh): the benchmark itself.
# Exit status: 0; 1 when a method failed or prfence is not >= 100x the mpathpersist loop at the largest N
# or the batch registration not >= 20x --qd 1; 77 outside the multipath topology or without the tools.
set -euo pipefail

if [ -z "${PRFENCE_VM_OUT:-}" ]; then
    # shellcheck source=host.sh
    . "$(dirname "${BASH_SOURCE[0]}")/host.sh"
    bench_boot multipath "" "${BASH_SOURCE[0]}" "$@"
fi

# ---- in the guest
# shellcheck source=../suite/lib.sh
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
# shellcheck source=../suite/engine_lib.sh
. "$PRFENCE_VM_SUITE/engine_lib.sh"
# shellcheck source=../suite/mp_lib.sh
. "$PRFENCE_VM_SUITE/mp_lib.sh"

ROUNDS=${1:-5}
BL_ROUNDS=${2:-1}
for t in prbench prfence mpathpersist; do command -v "$t" >/dev/null || skip "no $t in this image"; done
NM=${#MAPS[@]}
KEY_FENCER=${MP_KEY#0x} # the guest's node A: its maps, multipath.conf's reservation_key
KEY_VICTIM=$KEY_B       # the guest's node B: its sg nodes
[ "$KEY_FENCER" != "$KEY_VICTIM" ] || fail "the fencer's and the victim's keys are the same ($KEY_FENCER)"
log "$NM maps, 2 paths each; $ROUNDS rounds per in-process method, $BL_ROUNDS per process loop (kernel $(uname -r), $(nproc) CPUs, TCG)"
mp_wait_paths 2 60 || fail "not every map has 2 active paths"

# The victim's sg nodes and the fencer's maps, in LU order (prbench pairs them and checks the WWIDs).
VICTIM=() FENCER=()
for l in "${MP_LUNS[@]}"; do
    mp_lu "$l"
    VICTIM+=("$B_SG") FENCER+=("$MAP")
done
printf '%s\n' "${VICTIM[@]}" >/tmp/mpbench-victim.list
printf '%s\n' "${FENCER[@]}" >/tmp/mpbench-fencer.list

# A clean start: the fencer registers on every path (REGISTER AND IGNORE) and clears every LU.
# shellcheck disable=SC2034  # read by lib.sh's run and engine_lib.sh's pj
QUIET=1
pj register --key "$KEY_FENCER" --ignore-existing "${FENCER[@]}"
[ "$RC" -eq 0 ] || { show_last; fail "register (clean start)"; }
pj clear --key "$KEY_FENCER" "${FENCER[@]}"
[ "$RC" -eq 0 ] || { show_last; fail "clear (clean start)"; }
pj keys "${VICTIM[@]}" # drains the victim's unit attentions

status=0
ns=$NM
[ "$NM" -gt 64 ] && ns="64 $NM"
for n in $ns; do
    base=$PRFENCE_VM_OUT/mpbench-$KSERIES-${n}luns
    log "fence, $n LUs"
    set +e
    prbench -w fence --luns "$n" -b uring,serial,blkpr,mpathpersist,sg_persist --rounds "$ROUNDS" \
        --baseline-rounds "$BL_ROUNDS" --arm reserve --timeout 5000 --type 3 \
        --key-a "$KEY_VICTIM" --key-b "$KEY_FENCER" --json "$base.json" --output "$base.txt" \
        @/tmp/mpbench-victim.list --node-b @/tmp/mpbench-fencer.list
    rc=$?
    set -e
    grep -vE '^ +\|' "$base.txt" || true
    [ "$rc" -eq 0 ] || { log "prbench fence ($n LUs) exit $rc"; status=1; }
done

# The largest N: prfence (io_uring) against the mpathpersist loop, median batch wall from the comparison.
last=$PRFENCE_VM_OUT/mpbench-$KSERIES-${NM}luns.txt
med() { awk -v b="$1" '/^Comparison/ { c = 1 } c && $1 == "fence" && $4 == b { print $6 }' "$last"; }
m_uring=$(med uring) m_mpp=$(med mpathpersist) m_blk=$(med blkpr)
log "fence of $NM maps, median wall ms: prfence ${m_uring:-?}, IOC_PR loop ${m_blk:-?}, mpathpersist loop ${m_mpp:-?}"
if [ -n "$m_uring" ] && [ -n "$m_mpp" ]; then
    x=$(awk -v a="$m_mpp" -v b="$m_uring" 'BEGIN { printf "%.0f", a / b }')
    log "prfence is ${x}x the mpathpersist loop at $NM LUs"
    [ "$NM" -lt 256 ] || [ "$x" -ge 100 ] || { log "below the 100x target at $NM LUs"; status=1; }
else
    log "no prfence or mpathpersist figure in $last"
    status=1
fi

# Registration on every path of every map: one batch, then one command at a time, then mpathpersist.
reg=$PRFENCE_VM_OUT/mpbench-register-$KSERIES.txt
echo "# $NM maps x 2 paths: prfence register --ignore-existing on the maps (wall_ms = the batch; commands include unit attentions sent again), --qd 1, mpathpersist loop" >"$reg"
for r in 1 2 3; do
    pj clear --key "$KEY_FENCER" "${FENCER[@]}"
    now
    t0=$NOW
    pj register --key "$KEY_FENCER" --ignore-existing "${FENCER[@]}"
    now
    t1=$NOW
    [ "$RC" -eq 0 ] || { show_last; fail "prfence register (batch)"; }
    batch=${J[summary.wall_ms]}
    echo "batch $r wall_ms $batch process_s $(elapsed "$t0" "$t1") commands ${J[summary.commands]:-?}" >>"$reg"
    pj clear --key "$KEY_FENCER" "${FENCER[@]}"
    now
    t0=$NOW
    pj register --key "$KEY_FENCER" --ignore-existing --qd 1 "${FENCER[@]}"
    now
    t1=$NOW
    [ "$RC" -eq 0 ] || { show_last; fail "prfence register --qd 1"; }
    echo "qd1 $r wall_ms ${J[summary.wall_ms]} process_s $(elapsed "$t0" "$t1") commands ${J[summary.commands]:-?}" >>"$reg"
done
pj clear --key "$KEY_FENCER" "${FENCER[@]}"
now
t0=$NOW
bad=0
for m in "${FENCER[@]}"; do mpathpersist --out --register-ignore --param-sark="$MP_KEY" "$m" >/dev/null 2>&1 || bad=$((bad + 1)); done
now
t1=$NOW
echo "mpathpersist 1 process_s $(elapsed "$t0" "$t1") failed $bad" >>"$reg"
cat "$reg"
[ "$bad" -eq 0 ] || { log "mpathpersist --register-ignore failed on $bad maps"; status=1; }
x=$(awk '$1 == "batch" { b[++nb] = $4 } $1 == "qd1" { q[++nq] = $4 }
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
    END { if (nb && nq) printf "%.0f", med(q, nq) / med(b, nb) }' "$reg")
log "registering $((2 * NM)) paths: one batch is ${x:-?}x --qd 1"
if [ -z "$x" ] || [ "$x" -lt 20 ]; then
    log "below the 20x target"
    status=1
fi

# Clean up: the fencer clears (it holds every LU); drain the victim's unit attentions.
pj register --key "$KEY_FENCER" --ignore-existing "${FENCER[@]}"
pj clear --key "$KEY_FENCER" "${FENCER[@]}"
pj keys "${VICTIM[@]}"
exit "$status"
