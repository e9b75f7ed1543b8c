#!/bin/bash
# Fencing every LU, the way a cluster fences a node: A registers and reserves (Exclusive Access) every
# LU; B registers and PREEMPT AND ABORTs A's key on every LU (the command that deadlocks LIO over
# tcm_loop; over iSCSI it must complete); then A is out: its first command sees the unit attention, its
# reads fail with a reservation conflict, and B holds every reservation. Ends with every LU clean.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"

# shellcheck disable=SC2034  # read by lib.sh's run
QUIET=1
N=${#LUNS[@]}
log "$N LUs"
for L in "${LUNS[@]}"; do pr_clean "$L"; done

log "A registers $KEY_A and reserves every LU; B registers $KEY_B"
now; t0=$NOW
for L in "${LUNS[@]}"; do
    lu "$L"
    expect_pr 0 "$A_SG" --out --register --param-sark=$KEY_A
    expect_pr 0 "$A_SG" --out --reserve --param-rk=$KEY_A --prout-type=3
    expect_pr 0 "$B_SG" --out --register --param-sark=$KEY_B
done
now
log "  $((3 * N)) PR OUT commands in $(elapsed "$t0" "$NOW")s"

log "B preempts and aborts A on every LU (each under a 60 s timeout: a hang is a failure, not a stall)"
now; t0=$NOW
for L in "${LUNS[@]}"; do
    lu "$L"
    run timeout 60 sg_persist -n --out --preempt-abort --param-rk=$KEY_B --param-sark=$KEY_A --prout-type=3 "$B_SG"
    [ "$RC" -eq 0 ] || { show_last; fail "PREEMPT AND ABORT on LU $L: exit $RC"; }
done
now
log "  $N PREEMPT AND ABORTs completed in $(elapsed "$t0" "$NOW")s"

log "A's first command afterwards on every LU: UNIT ATTENTION, REGISTRATIONS PREEMPTED (2Ah/05h)"
for L in "${LUNS[@]}"; do
    lu "$L"
    run sg_persist -n --read-keys -vv "$A_SG"
    [ "$RC" -eq 6 ] || { show_last; fail "A's first command on LU $L after being preempted: exit $RC, not 6"; }
    # Fixed-format sense: ASC/ASCQ are bytes 12 and 13 (the second half of the first hex dump line).
    expect_out 'Additional sense: Registrations preempted'
    expect_out '^ +70 00 06 00 00 00 00 0a +00 00 00 00 2a 05 '
    [ "$L" = "${LUNS[0]}" ] && printf '%s\n' "$OUT" | grep -A3 'Fixed format' | sed 's/^/    /'
    # The unit attention is consumed; A's key is gone, B's remains.
    expect_pr 0 "$A_SG" --read-keys
    expect_out '1 registered reservation key follows'
    expect_out "^ +0x$KEY_B\$"
    expect_no_out "0x$KEY_A"
done

log "A's reads fail with a reservation conflict on every LU"
dmesg_mark
for L in "${LUNS[@]}"; do
    lu "$L"
    read_block "$A_SD"
    [ "$RC" -ne 0 ] || fail "A read LU $L after being fenced"
    expect_out 'Invalid exchange'
done
dmesg_since
# Every conflict gets the SCSI line. The block layer's line (and the midlayer's "FAILED Result" and
# "CDB:" lines) go through printk rate limits (10 per 5 s), so only the first LU's is certain.
for L in "${LUNS[@]}"; do
    lu "$L"
    expect_out "sd $A_HCTL: reservation conflict"
done
lu "${LUNS[0]}"
expect_out "$(conflict_block_re "$A_SD")"
log "  $N conflicts, each logged as 'sd H:C:T:L: reservation conflict'; block-layer lines (rate-limited): $(grep -cE "$(conflict_block_re "sd[a-z]+")" <<<"$OUT")"

log "B holds every reservation"
for L in "${LUNS[@]}"; do
    lu "$L"
    expect_pr 0 "$B_SG" --read-reservation
    expect_out "Key=0x$KEY_B"
    expect_out 'type: Exclusive Access$'
    read_block "$B_SD"
    [ "$RC" -eq 0 ] || { show_last; fail "B (holder) cannot read LU $L"; }
done

log "B clears every LU"
for L in "${LUNS[@]}"; do
    lu "$L"
    expect_pr 0 "$B_SG" --out --clear --param-rk=$KEY_B
done
log "ok (unit attentions absorbed by retries: $ABSORBED)"
