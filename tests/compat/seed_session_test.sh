#!/usr/bin/env bash
# The seed sg_persist session, with Debian's unmodified sg3_utils 1.46, against a prsim LU through
# libprinterpose: node A and node B (two I_T nexuses) register abc123 and 123abc, read keys shows
# both with the generation, A reserves type 3, read reservation names 0xabc123 and Exclusive
# Access, B's READ gets a reservation conflict (sg_read and sg_dd through the sg node, read() of
# the disk), A's does not, release, unregister. Outputs are compared line by line.
. "$(dirname "$0")/lib.sh"
need_tools sg_persist sg_read sg_dd sg_turs
start_prsim --luns 4

INQ='  PRFENCE   prsim             0001
  Peripheral device type: disk'
D=/dev/prsim/sda

expect register_a 0 "$INQ" -- A sg_persist --out --register --param-sark=abc123 $D
expect register_b 0 "$INQ" -- B sg_persist --out --register --param-sark=123abc $D
expect read_keys 0 "$INQ
  PR generation=0x2, 2 registered reservation keys follow:
    0xabc123
    0x123abc" -- A sg_persist --in --read-keys $D
expect reserve_a 0 "$INQ" -- A sg_persist --out --reserve --param-rk=abc123 --prout-type=3 $D
expect read_reservation 0 "$INQ
  PR generation=0x2, Reservation follows:
    Key=0xabc123
    scope: LU_SCOPE,  type: Exclusive Access" -- B sg_persist --in --read-reservation $D
# The same through the sg node of the same LU.
expect read_reservation_sg 0 "  PR generation=0x2, Reservation follows:
    Key=0xabc123
    scope: LU_SCOPE,  type: Exclusive Access" -- B sg_persist -n -i -r /dev/prsim/sg0
# The other initiator's READ meets the reservation: sg_read (SG_IO), sg_dd (sg v3 write()/read()).
expect read_conflict_b 99 "reading: SCSI status: Reservation Conflict 
sg_read: SCSI READ failed
Some error occurred,  remaining block count=1
0+0 records in" -- B sg_read if=/dev/prsim/sg0 bs=512 count=1
expect sg_dd_conflict_b 99 "sg_read failed, at or after lba=0 [0x0]
Some error occurred,  remaining block count=1
0+0 records in
0+0 records out
1 unrecovered error(s)" -- B sg_dd if=/dev/prsim/sg0 of=/dev/null bs=512 count=1
# Block-device read() of the disk node: the page cache's EIO.
expect_re disk_read_conflict_b 1 'Input/output error' -- B dd if=$D of=/dev/null bs=512 count=1 status=none
# B's reservation conflict on a PR OUT: sg_persist's exit status 24.
expect reserve_conflict_b 24 "PR out (Reserve): Reservation conflict
sg_persist failed: Reservation conflict" -- B sg_persist -n --out --reserve --param-rk=123abc --prout-type=3 $D
expect read_a 0 "1+0 records in
1+0 records out" -- A sg_dd if=/dev/prsim/sg0 of=/dev/null bs=512 count=1
expect release_a 0 "$INQ" -- A sg_persist --out --release --param-rk=abc123 --prout-type=3 $D
expect released 0 "$INQ
  PR generation=0x2, there is NO reservation held" -- B sg_persist --in --read-reservation $D
expect read_b_after_release 0 "1+0 records in
1+0 records out" -- B sg_dd if=/dev/prsim/sg0 of=/dev/null bs=512 count=1
expect unregister_a 0 "$INQ" -- A sg_persist --out --register --param-rk=abc123 --param-sark=0 $D
expect unregister_b 0 "$INQ" -- B sg_persist --out --register --param-rk=123abc --param-sark=0 $D
expect no_keys 0 "$INQ
  PR generation=0x4, there are NO registered reservation keys" -- A sg_persist --in -k $D
# The other LUs were never touched.
expect untouched_lu 0 "$INQ
  PR generation=0x0, there are NO registered reservation keys" -- A sg_persist --in -k /dev/prsim/sdd

# Unit attentions reach the tool as they would on a real system: the POWER ON one every new I_T
# nexus starts with is consumed as by the kernel's scan, REGISTRATIONS PREEMPTED is not.
expect register_a2 0 "" -- A sg_persist -n --out --register --param-sark=abc123 /dev/prsim/sdb
expect register_b2 0 "" -- B sg_persist -n --out --register --param-sark=123abc /dev/prsim/sdb
expect preempt_b 0 "" -- B sg_persist -n --out --preempt-abort --param-rk=123abc --param-sark=abc123 --prout-type=3 /dev/prsim/sdb
expect ua_to_a 6 "Persistent reservation in:
Fixed format, current; Sense key: Unit Attention
Additional sense: Registrations preempted
PR in (Read keys): Unit attention
sg_persist failed: Unit attention" -- A sg_persist -n -i -k /dev/prsim/sdb
expect keys_after_preempt 0 "  PR generation=0x3, 1 registered reservation key follows:
    0x123abc" -- A sg_persist -n -i -k /dev/prsim/sdb
expect tur_a 0 "" -- A sg_turs /dev/prsim/sg1

# Timing: one whole seed session (9 tool processes), printed, not checked.
start=$(date +%s%N)
d=/dev/prsim/sdc
{
    A sg_persist -n --out --register --param-sark=abc123 $d
    B sg_persist -n --out --register --param-sark=123abc $d
    A sg_persist -n -i -k $d
    A sg_persist -n --out --reserve --param-rk=abc123 --prout-type=3 $d
    B sg_persist -n -i -r $d
    B sg_read if=/dev/prsim/sg2 bs=512 count=1
    A sg_persist -n --out --release --param-rk=abc123 --prout-type=3 $d
    A sg_persist -n --out --register --param-rk=abc123 --param-sark=0 $d
    B sg_persist -n --out --register --param-rk=123abc --param-sark=0 $d
} >/dev/null 2>&1
echo "seed session (9 tool processes through prsim-run): $((($(date +%s%N) - start) / 1000000)) ms"
finish
