#!/bin/bash
# The seed sg_persist session on one LU through both nexuses, each step's answer checked:
# A and B register, A reserves Exclusive Access, B's I/O hits a reservation conflict (kernel log and
# errno), A releases, both unregister. Argument: the LUN (default 0).
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"

L=${1:-0}
pr_clean "$L"
lu "$L"
log "LU $L ($WWID): node A $A_SG/$A_SD ($A_HCTL), node B $B_SG/$B_SD ($B_HCTL)"

log "nothing registered yet"
expect_pr 0 "$A_SG" --read-keys
expect_out 'there are NO registered reservation keys'
pr_generation
G0=$GEN

log "A registers $KEY_A, B registers $KEY_B"
expect_pr 0 "$A_SG" --out --register --param-sark=$KEY_A
expect_pr 0 "$B_SG" --out --register --param-sark=$KEY_B

log "both keys are listed; the generation went up once per REGISTER"
expect_pr 0 "$B_SG" --read-keys
expect_out '2 registered reservation keys follow'
expect_out "^ +0x$KEY_A\$"
expect_out "^ +0x$KEY_B\$"
pr_generation
[ "$GEN" -eq $((G0 + 2)) ] || fail "generation $GEN after two REGISTERs, expected $((G0 + 2))"

log "READ FULL STATUS names each registrant by its iSCSI TransportID (initiator name and ISID)"
expect_pr 0 "$A_SG" --read-full-status
expect_out "Key=0x$KEY_A"
# sg_persist prints an iSCSI TransportID with an ISID (FORMAT CODE 01b) as "port id: NAME,i,0xISID";
# open-iscsi's ISIDs are 0x00023d000001, 0x00023d000002, ... in login order.
expect_out 'iSCSI world wide unique port id: iqn\.[^ ]*:node-a,i,0x[0-9a-f]{12}$'
expect_out 'iSCSI world wide unique port id: iqn\.[^ ]*:node-b,i,0x[0-9a-f]{12}$'

log "A reserves, type 3 (Exclusive Access)"
expect_pr 0 "$A_SG" --out --reserve --param-rk=$KEY_A --prout-type=3

log "B sees A's reservation; RESERVE did not change the generation"
expect_pr 0 "$B_SG" --read-reservation
expect_out "Key=0x$KEY_A"
expect_out 'scope: LU_SCOPE, +type: Exclusive Access$'
pr_generation
[ "$GEN" -eq $((G0 + 2)) ] || fail "generation $GEN after RESERVE, expected $((G0 + 2))"

log "B (registered, not the holder) may not read under Exclusive Access"
dmesg_mark
read_block "$B_SD"
[ "$RC" -ne 0 ] || fail "B's read succeeded under A's Exclusive Access reservation"
# The block layer fails the bio with BLK_STS_NEXUS, which reaches user space as EBADE.
expect_out 'Invalid exchange'
dmesg_since
printf '%s\n' "$OUT" | sed 's/^/    dmesg: /'
expect_out "sd $B_HCTL: reservation conflict"
expect_out "$(conflict_block_re "$B_SD")"

log "B's RESERVE conflicts with A's reservation (sg_persist exit 24)"
expect_pr 24 "$B_SG" --out --reserve --param-rk=$KEY_B --prout-type=3
expect_out 'Reservation conflict'

log "the holder A still reads"
read_block "$A_SD"
[ "$RC" -eq 0 ] || fail "A's read failed although A holds the reservation"

log "A releases; nothing is reserved and B reads again"
expect_pr 0 "$A_SG" --out --release --param-rk=$KEY_A --prout-type=3
expect_pr 0 "$B_SG" --read-reservation
expect_out 'there is NO reservation held'
read_block "$B_SD"
[ "$RC" -eq 0 ] || fail "B's read failed after A released"

log "both unregister (REGISTER with service action key 0)"
expect_pr 0 "$A_SG" --out --register --param-rk=$KEY_A --param-sark=0
expect_pr 0 "$B_SG" --out --register --param-rk=$KEY_B --param-sark=0
expect_pr 0 "$A_SG" --read-keys
expect_out 'there are NO registered reservation keys'
pr_generation
# SPC-4 bumps the generation for every successful REGISTER, unregistering included. LIO does not for
# unregistering (target_core_pr.c, core_scsi3_emulate_pro_register: only the sa_res_key != 0 branch
# calls core_scsi3_pr_generation), so 6.1 and 6.12 answer G0+2 here.
case $GEN in
    $((G0 + 2))) log "generation $GEN: unregistering did not bump it (LIO's deviation from SPC-4)" ;;
    $((G0 + 4))) log "generation $GEN: unregistering bumped it (SPC-4)" ;;
    *) fail "generation $GEN after two registrations and two unregistrations (started at $G0)" ;;
esac
log "ok (unit attentions absorbed: $ABSORBED)"
