#!/bin/bash
# What the first PR command on a fresh LU answers over LIO's iSCSI target, written down in
# $PRFENCE_VM_OUT/first-command-ua-<kernel series>.txt for the engine's retry logic:
#   1. after boot and login: the first PR IN through each nexus. GOOD: LIO does queue 3Fh/0Eh at login (it
#      builds the session's dynamic ACL one LU at a time), but sd's probe during the scan consumes it
#      (dmesg: "LUN assignments on this target have changed" for every LU but the first);
#   2. after a LU is added to the running target: LIO queues UNIT ATTENTION 3Fh/0Eh REPORTED LUNS DATA HAS
#      CHANGED for every other LU of every session, which the next command (a PR command too) receives;
#   3. the first PR command on the hot-added LU itself, after a rescan.
# Then every nexus is drained of unit attentions so that later tests start clean.
# (On tcm_loop, 3Fh/0Eh was seen on the first PR command of every LU: there LUs are added while
# the nexus exists.) Run first in all.sh: part 1 needs a LU nothing has touched since boot.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
# shellcheck source=../guest/lio.sh
. "$PRFENCE_VM_LIB/lio.sh"

# shellcheck disable=SC2034  # read by lib.sh's run
QUIET=1
REPORT=$PRFENCE_VM_OUT/first-command-ua-$KSERIES.txt
: >"$REPORT"

# first_pr LABEL SG: one READ KEYS; sets ANSWER to "GOOD", "UNIT ATTENTION 3Fh/0Eh (<text>)" or
# "exit N".
first_pr() {
    local label=$1 dev=$2 line
    local -a b
    run sg_persist -n --read-keys -vv "$dev"
    case $RC in
        0) ANSWER=GOOD ;;
        6)
            line=$(grep -A1 'Raw sense data' <<<"$OUT" | tail -n 1)
            read -ra b <<<"$line"
            ANSWER="UNIT ATTENTION ${b[12]^^}h/${b[13]^^}h ($(grep -o 'Additional sense: .*' <<<"$OUT" | head -n 1 | cut -d' ' -f3-))"
            ;;
        *) ANSWER="exit $RC" ;;
    esac
    record "$label ($dev): $ANSWER"
}

L=${LUNS[${#LUNS[@]} - 1]}
lu "$L"
echo "# kernel $(uname -r), LIO iSCSI target, open-iscsi initiators (tests/vm/suite/first_command_ua.sh)" >>"$REPORT"

log "1. the first PR command on LU $L after boot, through each nexus"
first_pr "boot: LU $L node A" "$A_SG"
BOOT_A=$ANSWER
first_pr "boot: LU $L node B" "$B_SG"
[ "$BOOT_A" = GOOD ] && [ "$ANSWER" = GOOD ] ||
    fail "the first PR command after boot was not GOOD through both nexuses (A: $BOOT_A, B: $ANSWER): something used this LU before, or LIO now leaves a unit attention after login"

NEW=$((${LUNS[${#LUNS[@]} - 1]} + 1))
log "2. LU $NEW is added to the running target; the next command on LU $L, through each nexus"
lio_backstore_create "$NEW"
lio_lun_add "$NEW"
for node in A B; do
    sg=${node}_SG
    first_pr "after adding LU $NEW: LU $L node $node" "${!sg}"
    [[ $ANSWER == "UNIT ATTENTION 3Fh/0Eh"* ]] || fail "expected UNIT ATTENTION 3Fh/0Eh, got $ANSWER"
    first_pr "  and the command after it" "${!sg}"
    [ "$ANSWER" = GOOD ] || fail "the unit attention was reported twice"
done

log "3. the first PR command on the added LU $NEW after a rescan"
iscsi_rescan
for node in A B; do
    hctl=${node}_HCTL
    h=${!hctl}
    h=${h%:*}:$NEW
    for _ in $(seq 100); do
        sgs=(/sys/class/scsi_device/"$h"/device/scsi_generic/*)
        [ -e "${sgs[0]}" ] && [ -c "/dev/${sgs[0]##*/}" ] && break
        sleep 0.2
    done
    [ -e "${sgs[0]}" ] || fail "LU $NEW did not appear as $h after the rescan"
    first_pr "added LU $NEW node $node" "/dev/${sgs[0]##*/}"
    [ "$ANSWER" = GOOD ] || fail "the hot-added LU's first PR command through node $node: $ANSWER (want GOOD: the rescan's probe takes the unit attention)"
done

log "draining unit attentions from every nexus"
# A sysfs rescan makes sd revalidate the disk, which sends TEST UNIT READY until no UNIT ATTENTION is left
# (sd_spinup_disk); a shell write per disk instead of a process per disk (each costs ~0.1 s under TCG).
for d in /sys/class/scsi_disk/*; do echo 1 >"$d/device/rescan"; done
for sg in "$A_SG" "$B_SG"; do
    expect_rc 0 sg_turs "$sg"
done
log "ok; answers written to $REPORT"
