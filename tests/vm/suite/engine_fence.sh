#!/bin/bash
# prfence's batch engine against the real kernel: what fence_all.sh does with one
# sg_persist per command, done by prfence with one invocation per node and step:
#   1. A registers every LU and reserves type 3 (EA), B registers: one prfence run each, exit 0, ok == N;
#   2. sg_persist agrees with prfence's JSON (keys, reservation, generation) on the first, middle, last LU;
#   3. B fences A on every LU in one run (READ KEYS, PREEMPT AND ABORT, READ RESERVATION): B's key holds;
#   4. A's next PR command gets UNIT ATTENTION 2Ah/05h on every LU: prfence keys through A is ok with
#      retries >= 1 per LU (absorbed without TEST UNIT READY); a LU hot-added to the target makes every
#      other LU report 3Fh/0Eh once per nexus, absorbed the same way;
#   5. A's reads fail with EBADE and "reservation conflict" in dmesg; B holds every reservation;
#   6. the same fence with --transport sgio;
#   7. failure paths: a partition and a non-SCSI device (exit 15), a key that is not registered (exit 24,
#      "not registered" per LU).
# Ends with every LU clean and no unit attention pending.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"
# shellcheck source=../guest/lio.sh
. "$PRFENCE_VM_LIB/lio.sh"

command -v prfence >/dev/null || skip "no prfence in this image (set PRFENCE_VM_BINARIES)"
QUIET=${QUIET:-0}
log "$N LUs; node A ${A_SDS[0]}.., node B ${B_SDS[0]}.."
REPORT=$PRFENCE_VM_OUT/engine-fence-$KSERIES.txt
: >"$REPORT"

# Clean start, whatever ran before: a throw-away registration through A, then CLEAR (any UA absorbed).
expect_pj 0 register --key feedf00d --ignore-existing "${A_SDS[@]}"
expect_pj 0 clear --key feedf00d "${A_SDS[@]}"
expect_pj 0 keys "${B_SDS[@]}" # drains B's unit attentions (CLEAR preempted B's registrations, if any)

# all_field FIELD WANT: every LUN row of the last pj has FIELD == WANT.
all_field() {
    local i
    for ((i = 0; i < N; i++)); do
        [ "${J[luns.$i.$1]:-}" = "$2" ] || { show_last; fail "LUN ${J[luns.$i.device]:-#$i}: $1=${J[luns.$i.$1]:-} (want $2)"; }
    done
}

log "1. A registers $KEY_A on every LU, reserves EA; B registers $KEY_B (one prfence run each)"
expect_pj 0 register --key $KEY_A "${A_SDS[@]}"
record "register A: $N LUs in ${J[summary.wall_ms]} ms (p50 ${J[summary.p50_us]} us, p99 ${J[summary.p99_us]} us)"
expect_pj 0 reserve --key $KEY_A --type 3 "${A_SDS[@]}"
record "reserve A: $N LUs in ${J[summary.wall_ms]} ms"
expect_pj 0 register --key $KEY_B "${B_SDS[@]}"
record "register B: $N LUs in ${J[summary.wall_ms]} ms"

log "2. prfence's JSON and sg_persist agree (keys, reservation, generation) on the first, middle, last LU"
expect_pj 0 keys "${A_SDS[@]}"
all_field keys.0 "0x$KEY_A"
all_field keys.1 "0x$KEY_B"
declare -A KGEN=()
for ((i = 0; i < N; i++)); do KGEN[${J[luns.$i.device]}]=${J[luns.$i.generation]}; done
expect_pj 0 reservation "${A_SDS[@]}"
all_field reservation.key "0x$KEY_A"
all_field reservation.type EA
declare -A RGEN=()
for ((i = 0; i < N; i++)); do RGEN[${J[luns.$i.device]}]=${J[luns.$i.generation]}; done
SAMPLE=("${LUNS[0]}" "${LUNS[$((N / 2))]}" "${LUNS[$((N - 1))]}")
for L in "${SAMPLE[@]}"; do
    lu "$L"
    QUIET=1 expect_pr 0 "$A_SG" --read-keys
    expect_out '2 registered reservation keys follow'
    expect_out "^ +0x$KEY_A\$"
    expect_out "^ +0x$KEY_B\$"
    pr_generation
    [ "$GEN" = "${KGEN[$A_SD]}" ] || { show_last; fail "LU $L: sg_persist generation $GEN, prfence ${KGEN[$A_SD]}"; }
    QUIET=1 expect_pr 0 "$B_SG" --read-reservation
    expect_out "Key=0x$KEY_A"
    expect_out 'type: Exclusive Access$'
    pr_generation
    [ "$GEN" = "${RGEN[$A_SD]}" ] || { show_last; fail "LU $L: sg_persist generation $GEN, prfence ${RGEN[$A_SD]}"; }
    log "  LU $L: keys 0x$KEY_A 0x$KEY_B, EA held by 0x$KEY_A, generation $GEN (both tools)"
done

log "3. B fences A on every LU in one run"
dmesg_mark
expect_pj 0 fence --key $KEY_B --victim $KEY_A --type 3 "${B_SDS[@]}"
all_field ok true
all_field reservation.key "0x$KEY_B"
all_field reservation.type EA
record "fence (io_uring): $N LUs in ${J[summary.wall_ms]} ms (command latency p50 ${J[summary.p50_us]} us, p99 ${J[summary.p99_us]} us, max ${J[summary.max_us]} us; ${J[summary.commands]} commands)"

log "4. A's next PR command on every LU: UNIT ATTENTION 2Ah/05h, absorbed by prfence"
expect_pj 0 keys "${A_SDS[@]}"
for ((i = 0; i < N; i++)); do
    [ "${J[luns.$i.retries]}" -ge 1 ] || { show_last; fail "${J[luns.$i.device]}: retries ${J[luns.$i.retries]}, want >= 1 (no unit attention seen)"; }
done
all_field keys.0 "0x$KEY_B"
for ((i = 0; i < N; i++)); do
    [ -z "${J[luns.$i.keys.1]:-}" ] || fail "A's key is still registered on ${J[luns.$i.device]}"
done
record "unit attention 2Ah/05h absorbed: $N LUs, ${J[summary.retries]} retries, ${J[summary.wall_ms]} ms"
# The unit attention itself, as sg_persist sees it: re-provoked on the first LU by fencing A once more.
lu "${LUNS[0]}"
QUIET=1 PJ_LUNS=1 expect_pj 0 register --key $KEY_A "$A_SD"
QUIET=1 expect_pr 0 "$B_SG" --out --preempt-abort --param-rk=$KEY_B --param-sark=$KEY_A --prout-type=3
run sg_persist -n --read-keys -vv "$A_SG"
[ "$RC" -eq 6 ] || { show_last; fail "A's first command after the preemption: exit $RC, not 6"; }
expect_out 'Additional sense: Registrations preempted'

# 3Fh/0Eh: a LU added to the running target queues REPORTED LUNS DATA HAS CHANGED on every other LU of
# every session. The index is one past whatever exists (first_command_ua.sh may have added one).
NEW=0
for d in "$LIO_TPG"/lun/lun_*; do n=${d##*lun_}; [ "$n" -ge "$NEW" ] && NEW=$((n + 1)); done
log "   LU $NEW is added to the running target: every other LU reports 3Fh/0Eh once per nexus"
lio_backstore_create "$NEW"
lio_lun_add "$NEW"
lu "${LUNS[0]}"
run sg_persist -n --read-keys -vv "$A_SG"
[ "$RC" -eq 6 ] || { show_last; fail "LU ${LUNS[0]} after adding LU $NEW: exit $RC, not 6"; }
expect_out 'Reported luns data has changed'
for node in A B; do
    declare -n devs=${node}_SDS
    expect_pj 0 keys "${devs[@]}"
    for ((i = 0; i < N; i++)); do
        dev=${J[luns.$i.device]}
        # LU 0 through A: sg_persist above already took its unit attention.
        [ "$node" = A ] && [ "$dev" = "$A_SD" ] && continue
        [ "${J[luns.$i.retries]}" -ge 1 ] || { show_last; fail "node $node $dev: retries ${J[luns.$i.retries]}, want >= 1 (3Fh/0Eh)"; }
    done
    record "unit attention 3Fh/0Eh absorbed through node $node: $N LUs, ${J[summary.retries]} retries"
    # Exactly once: the next run retries nothing.
    QUIET=1 expect_pj 0 keys "${devs[@]}"
    [ "${J[summary.retries]}" = 0 ] || { show_last; fail "node $node: the unit attention came back (${J[summary.retries]} retries)"; }
done

log "5. A's reads fail with a reservation conflict (EBADE) on every LU; B holds every reservation"
dmesg_mark
for L in "${LUNS[@]}"; do
    lu "$L"
    QUIET=1 read_block "$A_SD"
    [ "$RC" -ne 0 ] || fail "A read LU $L after being fenced"
    expect_out 'Invalid exchange'
done
dmesg_since
for L in "${LUNS[@]}"; do
    lu "$L"
    expect_out "sd $A_HCTL: reservation conflict"
done
log "  $N reads: 'Invalid exchange', and 'sd H:C:T:L: reservation conflict' for each in dmesg"
expect_pj 0 reservation "${B_SDS[@]}"
all_field reservation.key "0x$KEY_B"
all_field reservation.type EA
for L in "${SAMPLE[@]}"; do
    lu "$L"
    QUIET=1 expect_pr 0 "$B_SG" --read-reservation
    expect_out "Key=0x$KEY_B"
    expect_out 'type: Exclusive Access$'
done
log "  sg_persist agrees on LUs ${SAMPLE[*]}"

log "6. the same fence with --transport sgio (sg nodes)"
expect_pj 0 register --key $KEY_A "${A_SDS[@]}"
expect_pj 0 keys "${B_SGS[@]}"
all_field keys.1 "0x$KEY_A"
expect_pj 0 fence --transport sgio --key $KEY_B --victim $KEY_A --type 3 "${B_SGS[@]}"
all_field ok true
all_field reservation.key "0x$KEY_B"
record "fence (SG_IO pool): $N LUs in ${J[summary.wall_ms]} ms (p50 ${J[summary.p50_us]} us, p99 ${J[summary.p99_us]} us)"
expect_pj 0 keys --transport sgio "${A_SGS[@]}"
all_field keys.0 "0x$KEY_B"
[ "${J[summary.retries]}" -ge "$N" ] || { show_last; fail "A's unit attentions after the sgio fence: ${J[summary.retries]} retries, want >= $N"; }

log "7. failure paths"
run prfence keys /dev/null
[ "$RC" -eq 15 ] || { show_last; fail "prfence keys /dev/null: exit $RC, not 15"; }
log "  non-SCSI device /dev/null: exit 15: $(head -n 3 <<<"$OUT" | tr -s "\n " " ")"
run prfence keys /dev/mem
[ "$RC" -eq 15 ] || { show_last; fail "prfence keys /dev/mem: exit $RC, not 15"; }
log "  non-SCSI device /dev/mem: exit 15: $(head -n 3 <<<"$OUT" | tr -s "\n " " ")"
# A partition: an MBR with one partition (sectors 64-319) written through B (the holder), re-read.
lu "${LUNS[0]}"
mbr=/tmp/mbr.bin
{
    head -c 446 /dev/zero
    printf '\x00\x00\x00\x00\x83\x00\x00\x00\x40\x00\x00\x00\x00\x01\x00\x00'
    head -c 48 /dev/zero
    printf '\x55\xaa'
} >"$mbr"
QUIET=1 run dd if="$mbr" of="$B_SD" bs=512 count=1 conv=notrunc oflag=direct
[ "$RC" -eq 0 ] || { show_last; fail "could not write a partition table to $B_SD"; }
QUIET=1 run blockdev --rereadpt "$B_SD"
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b "${B_SD}1" ] && break; sleep 0.2; done
[ -b "${B_SD}1" ] || { show_last; fail "no partition ${B_SD}1 after writing an MBR"; }
run prfence keys "${B_SD}1"
PART_RC=$RC PART_OUT=$OUT
QUIET=1 run dd if=/dev/zero of="$B_SD" bs=512 count=1 conv=notrunc oflag=direct
QUIET=1 run blockdev --rereadpt "$B_SD"
[ "$PART_RC" -eq 15 ] || { OUT=$PART_OUT RC=$PART_RC; show_last; fail "prfence keys on a partition: exit $PART_RC, not 15"; }
log "  partition ${B_SD}1: exit 15: $(head -n 3 <<<"$PART_OUT" | tr -s "\n " " ")"
pj fence --key c0ffee --victim $KEY_A --type 3 "${B_SDS[@]}"
[ "$RC" -eq 24 ] || { show_last; fail "fence with an unregistered key: exit $RC, not 24"; }
[ "${J[summary.failed]}" = "$N" ] || { show_last; fail "fence with an unregistered key: ${J[summary.failed]} failed, want $N"; }
for ((i = 0; i < N; i++)); do
    [[ ${J[luns.$i.error]:-} == *"not registered"* ]] || { show_last; fail "${J[luns.$i.device]}: error '${J[luns.$i.error]:-}'"; }
done
run prfence fence -q --key c0ffee --victim $KEY_A --type 3 "${B_SDS[@]}"
[ "$RC" -eq 24 ] || { show_last; fail "fence with an unregistered key (text): exit $RC, not 24"; }
[ "$(grep -c 'not registered' <<<"$OUT")" -eq "$N" ] || { show_last; fail "want 'not registered' on each of $N LUs"; }
log "  unregistered key c0ffee: exit 24, 'not registered' on all $N LUs: $(grep -m1 'not registered' <<<"$OUT")"
# B still holds everything: the failed fence changed nothing.
QUIET=1 expect_pj 0 reservation "${B_SDS[@]}"
all_field reservation.key "0x$KEY_B"

log "clean-up: B clears every LU; no keys, no unit attention left on either nexus"
expect_pj 0 clear --key $KEY_B "${B_SDS[@]}"
expect_pj 0 keys "${A_SDS[@]}"
all_field keys "[]"
QUIET=1 expect_pj 0 keys "${A_SDS[@]}"
[ "${J[summary.retries]}" = 0 ] || { show_last; fail "unit attentions left on node A"; }
QUIET=1 expect_pj 0 keys "${B_SDS[@]}"
[ "${J[summary.retries]}" = 0 ] || { show_last; fail "unit attentions left on node B"; }
log "ok; numbers in $REPORT"
