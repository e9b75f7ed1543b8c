#!/bin/bash
# SPDX-License-Identifier: MIT
# prfence on every NVMe namespace of the nvme topology, against the kernel's nvmet, with nvme-cli as the
# independent reader after every step (nv_expect_state: generation, reservation type, registrants by
# host ID):
#   1. A registers on every namespace through the block nodes (/dev/nvmeXnY), then once more through the
#      generic nodes (/dev/ngXnY): both succeed, and nvmet counts each successful Register in the
#      generation (+1 each, also for the second, which changes nothing else); prfence's generation is
#      nvme-cli's;
#   2. A reserves Write Exclusive - Registrants Only (prfence --type we-ro, NVMe RTYPE 3); `status --json`
#      shows A's host ID as the holding registrant (luns.N.nvme.registrants), `caps --json` the six types;
#   3. what NVMe cannot express is refused per namespace with the reason, nothing sent (generation
#      unchanged): REGISTER AND MOVE (`move`), TransportIDs (`register --transport-id`, SPEC_I_PT) and
#      `register --all-tg-pt` (an NVMe registration already covers every controller of the host); exit 5,
#      illegal request;
#   4. B registers and fences A (`fence --victim A --type we-ro`) on every namespace in one run: nvme-cli
#      shows only B, holding; A's O_DIRECT write fails with EBADE and the kernel's "I/O Error (sct 0x0 /
#      sc 0x83)" and "reservation conflict error" lines for each; A's `keys` still works and shows B;
#      A's unregister conflicts (exit 24, A is not registered any more) and changes nothing;
#   5. wrong devices: a namespace that does not exist, the controller node, a partition of a namespace
#      (exit 15 with the reason, nothing sent);
#   6. B unregisters from half the namespaces and clears the other half (through the generic nodes):
#      every namespace ends with no registrant and no reservation.
# Writes nvme-engine-<series>.txt: prfence's wall time per step.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/nvme_lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

command -v prfence >/dev/null || skip "no prfence in this image (set PRFENCE_VM_BINARIES)"
N=${#NV_NSIDS[@]}
REPORT=$PRFENCE_VM_OUT/nvme-engine-$KSERIES.txt
echo "# kernel $(uname -r), $N namespaces" >"$REPORT"

for n in "${NV_NSIDS[@]}"; do nv_clean "$n"; done
# The generation each namespace starts with, by NSID; GEN_OF[nsid] follows every change.
for n in "${NV_NSIDS[@]}"; do
    nv_ns "$n"
    QUIET=1 nv_report "$A_NS"
    GEN_OF[$n]=$RGEN
done
log "$N namespaces; node A ${A_NSS[0]} ${A_NGS[0]}.., node B ${B_NSS[0]} ${B_NGS[0]}..; generations ${GEN_OF[*]}"

bump() { nv_bump 1; } # every namespace's generation +1
# expect_all RTYPE [NODE:KEY:HOLDS ...]: as nvme-cli reads every namespace through node A's block device.
expect_all() { nv_expect_all A_NS "$@"; }
# all_field FIELD WANT: every row of the last pj has FIELD == WANT.
all_field() {
    local i
    for ((i = 0; i < N; i++)); do
        [ "${J[luns.$i.$1]:-}" = "$2" ] || { show_last; fail "${J[luns.$i.device]:-#$i}: $1=${J[luns.$i.$1]:-} (want $2)"; }
    done
}
# nsid_of DEV: the NSID of a namespace node (REPLY).
nsid_of() { nv_dev_nsid "$1"; }
# gen_field FIELD: every row's FIELD (a generation) is GEN_OF of its namespace.
gen_field() {
    local i
    for ((i = 0; i < N; i++)); do
        nsid_of "${J[luns.$i.device]}"
        [ "${J[luns.$i.$1]:-}" = "${GEN_OF[$REPLY]}" ] ||
            { show_last; fail "${J[luns.$i.device]} (NSID $REPLY): $1=${J[luns.$i.$1]:-}, nvme-cli counts ${GEN_OF[$REPLY]}"; }
    done
}

log "1. A registers $KEY_A on every namespace through the block nodes, then again through the generic nodes"
expect_pj 0 register --key $KEY_A "${A_NSS[@]}"
all_field commands 1
record "register A (block nodes): $N namespaces in ${J[summary.wall_ms]} ms"
bump
expect_all 0 "A:$NV_KEY_A:0"
expect_pj 0 register --key $KEY_A "${A_NGS[@]}"
all_field commands 1
record "register A again (generic nodes): $N namespaces in ${J[summary.wall_ms]} ms"
bump # nvmet: a Register by a host already registered with that key succeeds and counts
expect_all 0 "A:$NV_KEY_A:0"
expect_pj 0 keys "${A_NGS[@]}"
all_field keys.0 "0x$KEY_A"
all_field keys.1 ""
gen_field generation
gen_field nvme.generation
log "  prfence keys: one key, 0x$KEY_A, and nvme-cli's generation on every namespace"

log "2. A reserves Write Exclusive - Registrants Only; status shows A's host ID holding; caps lists six types"
expect_pj 0 reserve --key $KEY_A --type we-ro "${A_NSS[@]}"
record "reserve A: $N namespaces in ${J[summary.wall_ms]} ms"
expect_all 3 "A:$NV_KEY_A:1"
expect_pj 0 status "${A_NSS[@]}"
all_field nvme.rtype 3
all_field nvme.registrants.0.key "0x$KEY_A"
all_field nvme.registrants.0.hostid "$HOSTID_A"
all_field nvme.registrants.0.holder true
all_field nvme.registrants.1.key ""
gen_field nvme.generation
log "  prfence status: registrant 0x$KEY_A, host ID $HOSTID_A, holder, rtype 3 on every namespace"
expect_pj 0 reservation "${B_NGS[@]}"
all_field reservation.key "0x$KEY_A"
all_field reservation.type WE-RO
expect_pj 0 caps "${A_NGS[@]}"
TYPES=(WE EA WE-RO EA-RO WE-AR EA-AR)
for t in 0 1 2 3 4 5; do all_field "capabilities.types.$t" "${TYPES[$t]}"; done
all_field capabilities.types.6 ""
all_field capabilities.atp_c false
all_field capabilities.sip_c false
log "  prfence caps: ${TYPES[*]}; ATP_C and SIP_C clear"

log "3. what NVMe cannot express is refused per namespace, nothing sent"
# refused REASON ARGS...: prfence ARGS fails on every namespace (exit 5, illegal request) naming REASON.
refused() {
    local reason=$1
    shift
    pj "$@"
    [ "$RC" -eq 5 ] || { show_last; fail "prfence $1 on NVMe: exit $RC, want 5 (illegal request)"; }
    if [ "${J[summary.failed]:-}" != "$N" ] || [ "${J[summary.exit_code]:-}" != 5 ]; then
        show_last
        fail "prfence $1: ${J[summary.failed]:-?} failed, exit_code ${J[summary.exit_code]:-?}"
    fi
    all_field category "illegal request"
    local i
    for ((i = 0; i < N; i++)); do
        [[ ${J[luns.$i.error]:-} == *"$reason"* ]] ||
            { show_last; fail "${J[luns.$i.device]}: error '${J[luns.$i.error]:-}', want '$reason'"; }
    done
    log "  ${J[luns.0.error]}"
}
refused "REGISTER AND MOVE has no NVMe equivalent" \
    move --key $KEY_A --to-key $KEY_B --transport-id iqn.2026-12.io.prfence:b --rel-port 1 --type we-ro "${A_NSS[@]}"
# --transport-id takes several values: the option after it ends the list.
refused "SPEC_I_PT has no NVMe equivalent" \
    register --transport-id iqn.2026-12.io.prfence:b --key $KEY_A "${A_NSS[@]}"
expect_all 3 "A:$NV_KEY_A:1"
refused "ALL_TG_PT has no NVMe equivalent" register --key $KEY_A --all-tg-pt "${A_NSS[@]}"
expect_all 3 "A:$NV_KEY_A:1"

log "4. B registers and fences A on every namespace in one run"
expect_pj 0 register --key $KEY_B "${B_NSS[@]}"
bump
expect_all 3 "A:$NV_KEY_A:1" "B:$NV_KEY_B:0"
expect_pj 0 fence --key $KEY_B --victim $KEY_A --type we-ro "${B_NSS[@]}"
record "fence by B: $N namespaces in ${J[summary.wall_ms]} ms (${J[summary.commands]} commands, p50 ${J[summary.p50_us]} us, p99 ${J[summary.p99_us]} us)"
bump # the preempt removed A's registration
all_field reservation.key "0x$KEY_B"
all_field reservation.type WE-RO
all_field nvme.rtype 3
all_field nvme.registrants.0.hostid "$HOSTID_B"
all_field nvme.registrants.0.holder true
all_field nvme.registrants.1.key ""
gen_field nvme.generation
expect_all 3 "B:$NV_KEY_B:1"

log "   A's writes fail (EBADE) with the kernel's lines; A's reads and A's keys work"
dmesg_mark
for d in "${A_NSS[@]}"; do
    QUIET=1 nv_write "$d"
    [ "$RC" -ne 0 ] || { show_last; fail "A's write to $d succeeded after B fenced A"; }
    expect_out 'Invalid exchange'
    QUIET=1 read_block "$d"
    [ "$RC" -eq 0 ] || { show_last; fail "A's read of $d failed under Write Exclusive - Registrants Only"; }
done
dmesg_since
for d in "${A_NSS[@]}"; do
    n=${d#/dev/}
    expect_out "\] $n: I/O Cmd\(0x1\) @ LBA 0, 1 blocks, I/O Error \(sct 0x0 / sc 0x83\)"
    expect_out "\] reservation conflict error, dev $n, sector 0 op 0x1:\(WRITE\)"
done
log "  $N writes: 'Invalid exchange', and 'I/O Error (sct 0x0 / sc 0x83)' for each in dmesg"
expect_pj 0 keys "${A_NSS[@]}"
all_field keys.0 "0x$KEY_B"
all_field keys.1 ""
all_field nvme.registrants.0.hostid "$HOSTID_B"
gen_field generation
pj unregister --key $KEY_A "${A_NSS[@]}"
[ "$RC" -eq 24 ] || { show_last; fail "A's unregister after the fence: exit $RC, want 24"; }
all_field category "reservation conflict"
all_field step REGISTER
all_field error "NVMe Reservation Conflict (0x4083)"
all_field nvme.status "Reservation Conflict (0x4083)"
expect_all 3 "B:$NV_KEY_B:1"

log "5. wrong devices: exit 15 with the reason, nothing sent"
nv_ns "${NV_NSIDS[0]}"
expect_rc 15 prfence register --key feedf00d /dev/nvme0n999 "$A_NS"
expect_out '^/dev/nvme0n999: does not exist$'
expect_rc 15 prfence keys "$A_CTRL"
expect_out "^$A_CTRL: not a SCSI device \(an NVMe controller or path; give a namespace, /dev/nvmeXnY or /dev/ngXnY\)$"
# A partition: an MBR (4 KiB blocks: LBA 16, 64 blocks) written through B, the holder, and read back.
mbr=/tmp/nvme-mbr.bin
{
    head -c 446 /dev/zero
    printf '\x00\x00\x00\x00\x83\x00\x00\x00\x10\x00\x00\x00\x40\x00\x00\x00'
    head -c 48 /dev/zero
    printf '\x55\xaa'
} >"$mbr"
QUIET=1 run dd if="$mbr" of="$B_NS" bs=4096 count=1 conv=sync oflag=direct
[ "$RC" -eq 0 ] || { show_last; fail "could not write a partition table to $B_NS"; }
QUIET=1 run blockdev --rereadpt "$B_NS"
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b "${B_NS}p1" ] && break; sleep 0.2; done
[ -b "${B_NS}p1" ] || { show_last; fail "no partition ${B_NS}p1 after writing an MBR"; }
run prfence register --key feedf00d "${B_NS}p1"
PART_RC=$RC PART_OUT=$OUT
QUIET=1 run dd if=/dev/zero of="$B_NS" bs=4096 count=1 oflag=direct
QUIET=1 run blockdev --rereadpt "$B_NS"
RC=$PART_RC OUT=$PART_OUT
[ "$RC" -eq 15 ] || { show_last; fail "prfence on a partition: exit $RC, want 15"; }
expect_out "^${B_NS}p1: is a partition; give the whole disk $B_NS$"
expect_all 3 "B:$NV_KEY_B:1"

log "6. B unregisters from the first half, clears the second half (generic nodes): clean everywhere"
H=$((N / 2))
PJ_LUNS=$H expect_pj 0 unregister --key $KEY_B "${B_NSS[@]:0:H}"
PJ_LUNS=$((N - H)) expect_pj 0 clear --key $KEY_B "${B_NGS[@]:H}"
bump # unregister and clear each count once
expect_all 0
expect_pj 0 keys "${B_NGS[@]}"
all_field keys.0 ""
all_field nvme.rtype 0
gen_field generation
for n in "${NV_NSIDS[@]}"; do
    nv_ns "$n"
    nv_drain_notif "$A_CTRL"
    nv_drain_notif "$B_CTRL"
done
log "PASS (record: $REPORT)"
