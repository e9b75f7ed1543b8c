#!/bin/bash
# SPDX-License-Identifier: MIT
# The seed workflow on one NVMe namespace (the first), with nvme-cli only, against the kernel's nvmet:
# A registers, the extended report shows A's key and host ID, A acquires Write Exclusive - Registrants
# Only (RTYPE 3), B (not registered) cannot acquire, B's write fails with EBADE and the kernel's lines,
# B's read works, B registers and preempts-and-aborts A, A's write then fails the same way while A's read
# works, A's reservation notification log says "registration preempted" for that namespace (and B's log
# is empty), B releases and unregisters, the report is empty and A writes again. The generation is
# checked after every step: nvmet bumps it for every registration change (register, unregister, a
# preempt that removes registrants, clear), not for acquire or release.
# Writes nvme-seed-<series>.txt: the kernel's lines for both refused writes and nvme-cli's conflict text.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/nvme_lib.sh"

NS=${NV_NSIDS[0]}
nv_clean "$NS"
nv_ns "$NS"
RECORD=$PRFENCE_VM_OUT/nvme-seed-$KSERIES.txt
log "namespace $NSID: node A $A_NS $A_NG ($A_CTRL), node B $B_NS $B_NG ($B_CTRL); NGUID $NGUID UUID $UUID"
for d in "$A_NS" "$A_NG" "$B_NS" "$B_NG"; do
    nv_dev_nsid "$d"
    [ "$REPLY" = "$NSID" ] || fail "$d has NSID $REPLY in sysfs, the map says $NSID"
done
{
    echo "# kernel $(uname -r), nvme-cli $(nvme version 2>&1 | sed -n 1p)"
    echo "# namespace $NSID: node A $A_NS, node B $B_NS"
} >"$RECORD"

nv_report "$A_NS"
G=$RGEN
nv_expect_state "$A_NS" "$G" 0

log "A registers key $KEY_A ($NV_KEY_A)"
expect_rc 0 nvme resv-register "$A_NS" --namespace-id="$NSID" --nrkey="$NV_KEY_A" --rrega=0
G=$((G + 1))
nv_expect_state "$A_NS" "$G" 0 "A:$NV_KEY_A:0"
nv_expect_state "$B_NS" "$G" 0 "A:$NV_KEY_A:0"
[[ $OUT == *"\"hostid\":\"$HOSTID_A\""* ]] || { show_last; fail "the report does not show A's host ID $HOSTID_A"; }

log "A acquires Write Exclusive - Registrants Only (RTYPE 3)"
expect_rc 0 nvme resv-acquire "$A_NS" --namespace-id="$NSID" --crkey="$NV_KEY_A" --rtype=3 --racqa=0
nv_expect_state "$A_NS" "$G" 3 "A:$NV_KEY_A:1"

log "B, not registered, cannot acquire"
expect_rc 1 nvme resv-acquire "$B_NS" --namespace-id="$NSID" --crkey="$NV_KEY_B" --rtype=3 --racqa=0
expect_out 'NVMe status: Reservation Conflict.*\(0x[46]083\)'
echo "B acquire without registration (nvme-cli exit $RC): $OUT" >>"$RECORD"
nv_expect_state "$A_NS" "$G" 3 "A:$NV_KEY_A:1"

# lib.sh's dmesg_since gives the lines after the mark; the conflict's two lines name the device.
conflict_lines() { # DEV WHO
    local n=${1#/dev/}
    dmesg_since
    local lines
    lines=$(grep -E "$n: I/O Cmd|reservation conflict error, dev $n," <<<"$OUT" || true)
    grep -Eq "\] $n: I/O Cmd\(0x1\) @ LBA 0, 1 blocks, I/O Error \(sct 0x0 / sc 0x83\)" <<<"$lines" ||
        { show_last; fail "no 'I/O Cmd(0x1) ... sc 0x83' line for $n in dmesg"; }
    grep -Eq "\] reservation conflict error, dev $n, sector 0 op 0x1:\(WRITE\)" <<<"$lines" ||
        { show_last; fail "no 'reservation conflict error, dev $n' line in dmesg"; }
    printf '%s\n' "$lines" | sed 's/^/    /'
    { echo "$2 write refused: dd says: $3"; printf '%s\n' "$lines"; } >>"$RECORD"
}

log "B's write fails (EBADE), with the kernel's lines"
dmesg_mark
nv_write "$B_NS"
[ "$RC" -ne 0 ] || fail "B's write succeeded under A's Write Exclusive - Registrants Only reservation"
expect_out 'Invalid exchange'
DD_OUT=$(grep 'Invalid exchange' <<<"$OUT")
conflict_lines "$B_NS" B "$DD_OUT"

log "B's read works"
read_block "$B_NS"
[ "$RC" -eq 0 ] || { show_last; fail "B's read failed under Write Exclusive - Registrants Only"; }
log "A's write works"
nv_write "$A_NS"
[ "$RC" -eq 0 ] || { show_last; fail "the holder's write failed"; }

log "B registers key $KEY_B ($NV_KEY_B)"
expect_rc 0 nvme resv-register "$B_NS" --namespace-id="$NSID" --nrkey="$NV_KEY_B" --rrega=0
G=$((G + 1))
nv_expect_state "$B_NS" "$G" 3 "A:$NV_KEY_A:1" "B:$NV_KEY_B:0"
[[ $OUT == *"\"hostid\":\"$HOSTID_B\""* ]] || { show_last; fail "the report does not show B's host ID $HOSTID_B"; }

log "B preempts and aborts A (RACQA 2)"
expect_rc 0 nvme resv-acquire "$B_NS" --namespace-id="$NSID" --crkey="$NV_KEY_B" --prkey="$NV_KEY_A" --rtype=3 --racqa=2
G=$((G + 1))
nv_expect_state "$B_NS" "$G" 3 "B:$NV_KEY_B:1"
nv_expect_state "$A_NS" "$G" 3 "B:$NV_KEY_B:1"

log "A's write fails now, A's read works"
dmesg_mark
nv_write "$A_NS"
[ "$RC" -ne 0 ] || fail "A's write succeeded after B preempted A"
expect_out 'Invalid exchange'
DD_OUT=$(grep 'Invalid exchange' <<<"$OUT")
conflict_lines "$A_NS" A "$DD_OUT"
read_block "$A_NS"
[ "$RC" -eq 0 ] || { show_last; fail "A's read failed under Write Exclusive - Registrants Only"; }

log "A's notification log: registration preempted on namespace $NSID; B's is empty"
nv_notif "$A_CTRL"
[ "$NOTIF_TYPE" = 1 ] && [ "$NOTIF_NSID" = "$NSID" ] ||
    { show_last; fail "expected a Registration Preempted (type 1) page for NSID $NSID"; }
echo "A's reservation notification log after the preemption: $(tr -d ' \n' <<<"$OUT")" >>"$RECORD"
nv_notif "$A_CTRL"
[ "$NOTIF_TYPE" = 0 ] || { show_last; fail "A's log has a second page: one preemption, one page expected"; }
nv_notif "$B_CTRL"
[ "$NOTIF_TYPE" = 0 ] || { show_last; fail "B's log has a page, but B caused every change"; }

log "A, preempted, cannot release with its old key"
expect_rc 1 nvme resv-release "$A_NS" --namespace-id="$NSID" --crkey="$NV_KEY_A" --rtype=3 --rrela=0
expect_out 'Reservation Conflict'
nv_expect_state "$A_NS" "$G" 3 "B:$NV_KEY_B:1"

log "B releases"
expect_rc 0 nvme resv-release "$B_NS" --namespace-id="$NSID" --crkey="$NV_KEY_B" --rtype=3 --rrela=0
nv_expect_state "$B_NS" "$G" 0 "B:$NV_KEY_B:0"

log "B unregisters"
expect_rc 0 nvme resv-register "$B_NS" --namespace-id="$NSID" --crkey="$NV_KEY_B" --rrega=1
G=$((G + 1))
nv_expect_state "$B_NS" "$G" 0
nv_expect_state "$A_NS" "$G" 0

log "A writes again"
nv_write "$A_NS"
[ "$RC" -eq 0 ] || { show_last; fail "A's write failed on a namespace without reservation"; }
nv_drain_notif "$A_CTRL"
nv_drain_notif "$B_CTRL"
log "PASS (record: $RECORD)"
