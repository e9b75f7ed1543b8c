#!/bin/bash
# Fixtures for the log-parser tool (prexplain): what the kernel says about reservation conflicts.
#   $PRFENCE_VM_OUT/dmesg-<series>.txt  the guest's whole kernel log (dmesg, with timestamps) after a
#                                       conflicting read, boot noise included as an operator would paste it
#   $PRFENCE_VM_OUT/trace-<series>.txt  a tracefs instance's buffer with scsi:scsi_dispatch_cmd_done and
#                                       block:block_rq_complete during: B registers and reserves (PR OUT,
#                                       GOOD), A registers (PR OUT, GOOD), A reads (READ, RESERVATION
#                                       CONFLICT), A tries to reserve (PR OUT, RESERVATION CONFLICT), B
#                                       reads the keys (PR IN, GOOD)
# Argument: the LUN (default 1, or 0 with a single LU). Leaves the LU clean.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"

L=${1:-1}
[ -n "${LU[$L.wwid]:-}" ] || L=${LUNS[0]}
pr_clean "$L"
lu "$L"
log "LU $L: node A $A_SG/$A_SD ($A_HCTL), node B $B_SG/$B_SD ($B_HCTL)"

TR=/sys/kernel/tracing
[ -d "$TR/instances" ] || skip "no tracefs at $TR"
I=$TR/instances/prfence
[ -d "$I" ] && rmdir "$I"
mkdir "$I"
trap 'echo 0 >"$I/tracing_on" 2>/dev/null; rmdir "$I" 2>/dev/null || true' EXIT
echo 1 >"$I/events/scsi/scsi_dispatch_cmd_done/enable"
echo 1 >"$I/events/block/block_rq_complete/enable"
echo 1 >"$I/tracing_on"

dmesg_mark
log "B registers and reserves"
expect_pr 0 "$B_SG" --out --register --param-sark=$KEY_B
expect_pr 0 "$B_SG" --out --reserve --param-rk=$KEY_B --prout-type=3
log "A registers, then reads: reservation conflict"
expect_pr 0 "$A_SG" --out --register --param-sark=$KEY_A
# The block layer prints its conflict lines through a rate limit (10 per 5 s); the tests before this one
# may have spent it, so wait for a fresh window or the line we capture would be suppressed.
sleep 6
read_block "$A_SD"
[ "$RC" -ne 0 ] || fail "A read under B's Exclusive Access reservation"
expect_out 'Invalid exchange'
log "A tries to reserve: reservation conflict"
expect_pr 24 "$A_SG" --out --reserve --param-rk=$KEY_A --prout-type=3
expect_pr 0 "$B_SG" --read-keys
echo 0 >"$I/tracing_on"

TRACE=$PRFENCE_VM_OUT/trace-$KSERIES.txt
DMESG=$PRFENCE_VM_OUT/dmesg-$KSERIES.txt
cat "$I/trace" >"$TRACE"
dmesg >"$DMESG"

log "checking what was captured"
OUT=$(cat "$TRACE")
# One READ and one PR OUT completed with RESERVATION CONFLICT, and the READ's request failed with
# -EBADE (-52) in block_rq_complete.
expect_out "scsi_dispatch_cmd_done: host_no=${A_HCTL%%:*} .*cmnd=\\(READ_10 .*status=SAM_STAT_RESERVATION_CONFLICT"
expect_out "scsi_dispatch_cmd_done: host_no=${A_HCTL%%:*} .*cmnd=\\(PERSISTENT_RESERVE_OUT .*status=SAM_STAT_RESERVATION_CONFLICT"
expect_out "scsi_dispatch_cmd_done: host_no=${B_HCTL%%:*} .*cmnd=\\(PERSISTENT_RESERVE_OUT .*status=SAM_STAT_GOOD"
expect_out 'block_rq_complete: .* \[-52\]$'
grep -E 'RESERVATION_CONFLICT|\[-52\]' <<<"$OUT" | sed 's/^/    trace: /'
dmesg_since
expect_out "sd $A_HCTL: reservation conflict"
expect_out "$(conflict_block_re "$A_SD")"
printf '%s\n' "$OUT" | sed 's/^/    dmesg: /'
pr_clean "$L"
log "ok: $(wc -l <"$TRACE") trace lines in ${TRACE##*/}, $(wc -l <"$DMESG") kernel log lines in ${DMESG##*/}"
