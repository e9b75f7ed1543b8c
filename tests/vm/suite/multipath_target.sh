#!/bin/bash
# SPDX-License-Identifier: MIT
# The target loses its LUs and gets them back, with their APTPL state, while node B fences node A
# (multipath topology). Node A is registered on both nexuses of every LU and holds a WE-RO reservation,
# B is registered; every registration was made with APTPL, so LIO keeps each LU's PR state in its APTPL
# file. Then:
#   1. The last LU is taken away (LUN export and backstore removed) before the fence starts, and the
#      others one after another while it runs: prfence fence --claim on B's paths of every LU.
#   2. Every LU comes back (backstore rebuilt, its APTPL file replayed into LIO, LUN exported again).
#   3. Each LU's row must tell the truth, checked against READ FULL STATUS through node A's first path
#      (a nexus the fence did not use):
#        ok                             -> fenced: A's key on no nexus, B holds the reservation;
#        failed before PREEMPT AND ABORT
#        or refused by it               -> untouched: A's key on both nexuses, A holds;
#        failed after it (verification) -> fenced;
#        timed out in PREEMPT AND ABORT -> unknown: either of the two, nothing else.
#      The LU that was gone from the start must have failed with LIO's answer in its row (ILLEGAL
#      REQUEST, LOGICAL UNIT NOT SUPPORTED; while LIO is still removing a LU it answers DATA PROTECT,
#      WRITE PROTECTED), and the batch must exit non-zero.
#   4. The same fence again converges: exit 0, and every LU is fenced.
# Why not the whole target (TPG disabled, sessions dropped): the guest logs in with iscsistart and runs
# no iscsid, so nothing would ever log the sessions in again. Taking the LUs away exercises the same
# thing prfence sees from a target that lost its devices: commands refused, then the LU back with the
# state its APTPL file kept.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
# shellcheck source=mp_lib.sh
. "$PRFENCE_VM_SUITE/mp_lib.sh"
# shellcheck source=../guest/lio.sh
. "$PRFENCE_VM_LIB/lio.sh"
command -v prfence >/dev/null || skip "no prfence in the image (PRFENCE_VM_BINARIES)"
# shellcheck source=engine_lib.sh
. "$PRFENCE_VM_SUITE/engine_lib.sh"

NM=${#MP_LUNS[@]}
[ "$NM" -ge 2 ] || skip "needs at least two LUs (PRFENCE_VM_LUNS)"
LAST=${MP_LUNS[$((NM - 1))]}

# state LUN: through node A's first path, sets ST to fenced (no key of A, B holds), untouched (A's key
# from two nexuses, A holds) or "other: <what READ FULL STATUS says>".
state() {
    mp_lu "$1"
    QUIET=1 expect_pr 0 "$A1_SG" --read-full-status
    local fs=$OUT a_regs holder
    a_regs=$(grep -c "Key=0x$KEY_A" <<<"$fs" || true)
    QUIET=1 expect_pr 0 "$A1_SG" --read-reservation
    holder=$(awk '/Key=0x/ { sub(/.*Key=/, ""); print; exit }' <<<"$OUT")
    if [ "$a_regs" -eq 0 ] && [ "$holder" = "0x$KEY_B" ]; then
        ST=fenced
    elif [ "$a_regs" -eq 2 ] && [ "$holder" = "0x$KEY_A" ]; then
        ST=untouched
    else
        ST="other: A's key $a_regs times, holder '${holder:-none}'"
    fi
}

for l in "${MP_LUNS[@]}"; do pr_clean "$l"; done
mp_wait_paths 2 60 || fail "not every map has two active paths at the start"

log "setup: A registers (APTPL) on both paths of every map and reserves WE-RO; B registers (APTPL)"
expect_pj 0 register --key "$KEY_A" --aptpl "${MAPS[@]}"
expect_pj 0 reserve --key "$KEY_A" --type we-ro "${MAPS[@]}"
expect_pj 0 register --key "$KEY_B" --aptpl "${B_SGS[@]}"
for l in "${MP_LUNS[@]}"; do
    f=$(lio_aptpl_file "$l")
    [ -s "$f" ] || fail "LU $l: no APTPL file $f after registering with APTPL"
    state "$l"
    [ "$ST" = untouched ] || fail "LU $l after setup: $ST"
done

log "1. LU $LAST goes away, then B fences A while the others go one by one"
lio_lu_down "$LAST"
(
    # prfence takes about a tenth of a second to start in this guest: the others go while it runs.
    sleep 0.15
    for l in "${MP_LUNS[@]}"; do
        [ "$l" = "$LAST" ] || lio_lu_down "$l"
    done
) &
downer=$!
pj fence --key "$KEY_B" --victim "$KEY_A" --claim --aptpl --type we-ro --timeout 3000 --deadline 20000 "${B_SGS[@]}"
wait "$downer" || fail "taking the LUs away failed"
FENCE_RC=$RC
declare -A ROW_OK=() ROW_STEP=() ROW_TIMED=() ROW_ERR=()
for l in "${MP_LUNS[@]}"; do
    mp_lu "$l"
    jl "$B_SG" ok
    ROW_OK[$l]=$JL
    jl "$B_SG" step
    ROW_STEP[$l]=$JL
    jl "$B_SG" timed_out
    ROW_TIMED[$l]=$JL
    jl "$B_SG" error
    ROW_ERR[$l]=$JL
    log "  LU $l: ok=${ROW_OK[$l]} step='${ROW_STEP[$l]}' timed_out=${ROW_TIMED[$l]:-false} error='${ROW_ERR[$l]}'"
done
[ "$FENCE_RC" -ne 0 ] || { show_last; fail "the fence with LU $LAST gone exited 0"; }
[ "${ROW_OK[$LAST]}" = false ] || { show_last; fail "LU $LAST was gone but its row says ok"; }
grep -qi "logical unit not supported" <<<"${J[luns.${DEV_IDX[$(mp_lu "$LAST"; echo "$B_SG")]}.sense.text]:-}" ||
    { show_last; fail "LU $LAST: the row does not carry LIO's LOGICAL UNIT NOT SUPPORTED"; }

log "2. every LU comes back with its APTPL state"
for l in "${MP_LUNS[@]}"; do lio_lu_up "$l"; done

log "3. each LU's row against READ FULL STATUS through A's first path"
fenced=0 untouched=0 unknown=0
for l in "${MP_LUNS[@]}"; do
    state "$l"
    if [ "${ROW_OK[$l]}" = true ]; then
        want=fenced
    elif [ "${ROW_TIMED[$l]}" = true ] && [ "${ROW_STEP[$l]}" = "PREEMPT AND ABORT" ]; then
        want=unknown
    elif [[ ${ROW_STEP[$l]} == "READ RESERVATION" || ${ROW_STEP[$l]} == "RESERVE" ]]; then
        want=fenced
    else
        want=untouched
    fi
    case $want in
        unknown) [[ $ST == fenced || $ST == untouched ]] || fail "LU $l (unknown): $ST"; unknown=$((unknown + 1)) ;;
        *) [ "$ST" = "$want" ] || fail "LU $l: the row says $want (step '${ROW_STEP[$l]}'), READ FULL STATUS says $ST" ;;
    esac
    [ "$want" = fenced ] && fenced=$((fenced + 1))
    [ "$want" = untouched ] && untouched=$((untouched + 1))
done
log "  exit $FENCE_RC: $fenced fenced, $untouched untouched, $unknown unknown; every row matches its LU"

log "4. the rerun converges"
expect_pj 0 fence --key "$KEY_B" --victim "$KEY_A" --claim --aptpl --type we-ro "${B_SGS[@]}"
for l in "${MP_LUNS[@]}"; do
    state "$l"
    [ "$ST" = fenced ] || fail "LU $l after the rerun: $ST"
done
log "  every LU fenced"

for l in "${MP_LUNS[@]}"; do pr_clean "$l"; done
log "PASS"
