#!/bin/bash
# prbench in the guest: on the real kernel (LIO over iSCSI, node A and node B as two sessions).
#   fence     mass fence of N LUs by node B (N = 16, 64 and every LU), prfence over io_uring (sg nodes),
#             prfence over the SG_IO pool, the engine one command at a time, and a sg_persist loop
#             (3 processes per LU); fence_scsi is reported as skipped (the guest has no python)
#             Each round is armed without an abort (prbench --arm reserve: A and B register, B releases,
#             A reserves); arming with A's takeover (PREEMPT AND ABORT) makes LIO's next fence slower
#             (tools/prbench/README.md)
#   prfence   the same fence by the prfence binary in this boot (prfence fence --json summary.wall_ms on B's
#             sg nodes, 3 runs at 64 and every LU, armed the same way): prbench's engine batch and prfence's
#             must agree
#   pingpong  A and B alternately take over every LU (engine backends)
#   op        per-operation latency of READ KEYS, REGISTER AND IGNORE and PREEMPT AND ABORT on up to 64
#             LUs at concurrency 1, 8 and 64, against one sg_persist process per command
# Writes $PRFENCE_VM_OUT/prbench-<series>-<N>luns.{json,svg,txt} (fence), prbench-pingpong-... and
# prbench-op-<series>-<N>luns.{json,txt}. Not in all.sh: tests/vm/bench/prbench.sh runs it.
# Arguments: ROUNDS (default 5), SG_PERSIST_ROUNDS (default 1).
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

command -v prbench >/dev/null || skip "no prbench in this image (set PRFENCE_VM_BINARIES)"
ROUNDS=${1:-5}
SGP_ROUNDS=${2:-1}
BASE=$PRFENCE_VM_OUT/prbench-$KSERIES-${N}luns
OPBASE=$PRFENCE_VM_OUT/prbench-op-$KSERIES-${N}luns
log "$N LUs, $ROUNDS rounds per engine backend, $SGP_ROUNDS for sg_persist (kernel $(uname -r), $(nproc) CPUs, TCG)"

# Node A's and node B's sg nodes, in LU order (prbench pairs them by position and checks the WWIDs).
printf '%s\n' "${A_SGS[@]}" >/tmp/prbench-a.list
printf '%s\n' "${B_SGS[@]}" >/tmp/prbench-b.list

# A clean start: node A registers (REGISTER AND IGNORE) and clears every LU.
# shellcheck disable=SC2034  # read by lib.sh's run
QUIET=1
pj register --key feedf00d --ignore-existing "${A_SDS[@]}"
[ "$RC" -eq 0 ] || { show_last; fail "register (clean start)"; }
pj clear --key feedf00d "${A_SDS[@]}"
[ "$RC" -eq 0 ] || { show_last; fail "clear (clean start)"; }
pj keys "${B_SDS[@]}"  # drains node B's unit attentions

sweep=16,64,$N
[ "$N" -le 64 ] && sweep=16,$N
[ "$N" -le 16 ] && sweep=$N
set +e
prbench -w fence --luns "$sweep" -b uring,sgio,serial,sg_persist,fence_scsi --rounds "$ROUNDS" \
    --baseline-rounds "$SGP_ROUNDS" --arm reserve --timeout 5000 --key-a $KEY_A --key-b $KEY_B --type 3 \
    --json "$BASE.json" --plot "$BASE.svg" --output "$BASE.txt" @/tmp/prbench-a.list --node-b @/tmp/prbench-b.list
rc=$?
set -e
grep -vE '^ +\|' "$BASE.txt" || true
[ "$rc" -eq 0 ] || fail "prbench fence exit $rc"

# The same fence by the prfence binary, in this boot: its own batch clock (summary.wall_ms), armed as prbench
# arms (no abort). B holds every LU after the sweep's last fence.
PFBASE=$PRFENCE_VM_OUT/prbench-prfence-$KSERIES-${N}luns
pf_n=64
[ "$N" -le 64 ] && pf_n=$N
{
    echo "# prfence fence --json on node B's sg nodes, summary.wall_ms (the batch alone), armed like prbench --arm reserve"
    echo "# luns run wall_ms p50_us max_us"
} >"$PFBASE.txt"
for n in $(printf '%s\n' $pf_n $N | sort -un); do
    for r in 1 2 3; do
        pj register --key $KEY_A --ignore-existing "${A_SGS[@]:0:n}"
        pj register --key $KEY_B --ignore-existing "${B_SGS[@]:0:n}"
        pj release --key $KEY_B --type 3 "${B_SGS[@]:0:n}"
        pj reserve --key $KEY_A --type 3 "${A_SGS[@]:0:n}"
        [ "$RC" -eq 0 ] || { show_last; fail "arming for prfence fence ($n LUs)"; }
        pj fence --timeout 5000 --key $KEY_B --victim $KEY_A --type 3 "${B_SGS[@]:0:n}"
        [ "$RC" -eq 0 ] || { show_last; fail "prfence fence ($n LUs)"; }
        echo "$n $r ${J[summary.wall_ms]} ${J[summary.p50_us]} ${J[summary.max_us]}" >>"$PFBASE.txt"
    done
done
awk '!/^#/ { v[$1] = v[$1] " " $3 } END { for (n in v) print "# prfence fence, " n " LUs, batch wall_ms:" v[n] }' "$PFBASE.txt" |
    tee -a "$PFBASE.txt"

PPBASE=$PRFENCE_VM_OUT/prbench-pingpong-$KSERIES-${N}luns
set +e
prbench -w pingpong -b uring,sgio,serial --rounds "$ROUNDS" --timeout 5000 --key-a $KEY_A --key-b $KEY_B --type 3 \
    --json "$PPBASE.json" --output "$PPBASE.txt" @/tmp/prbench-a.list --node-b @/tmp/prbench-b.list
rc=$?
set -e
sed -n '/^Comparison/,$p' "$PPBASE.txt"
[ "$rc" -eq 0 ] || fail "prbench pingpong exit $rc"

opn=$N
[ "$opn" -gt 64 ] && opn=64
set +e
prbench -w op --op read-keys,register-ignore,preempt-abort --luns "$opn" -b uring,sgio,sg_persist --qd 1,8,64 \
    --iterations 10 --baseline-iterations 1 --timeout 5000 --key-a $KEY_A --key-b $KEY_B --type 3 \
    --json "$OPBASE.json" --output "$OPBASE.txt" @/tmp/prbench-a.list --node-b @/tmp/prbench-b.list
rc=$?
set -e
sed -n '/^Comparison/,$p' "$OPBASE.txt"
[ "$rc" -eq 0 ] || fail "prbench op exit $rc"

# The files a harness reads must be there and say what they should (no jq or python in the guest).
for f in "$BASE.json" "$BASE.svg" "$PPBASE.json" "$OPBASE.json"; do [ -s "$f" ] || fail "no $f"; done
grep -q '"clat_ns"' "$BASE.json" || fail "no clat_ns in $BASE.json"
grep -q '"percentile"' "$BASE.json" || fail "no percentiles in $BASE.json"
grep -q '</svg>' "$BASE.svg" || fail "$BASE.svg is not a finished SVG"
grep -q 'fence_scsi' "$BASE.txt" || fail "fence_scsi is not reported"

# Clean up: node B clears (it holds every LU after the last fence); drain node A's unit attentions.
pj register --key $KEY_B --ignore-existing "${B_SDS[@]}"
pj clear --key $KEY_B "${B_SDS[@]}"
[ "$RC" -eq 0 ] || { show_last; fail "clear (clean up)"; }
pj keys "${A_SDS[@]}"
log "wrote $BASE.{json,svg,txt}, $PFBASE.txt, $PPBASE.{json,txt} and $OPBASE.{json,txt}"
