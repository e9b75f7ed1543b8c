# shellcheck shell=bash disable=SC2034 # variables for the tests that source this
# Helpers for guest tests on the multipath topology (PRFENCE_VM_TOPOLOGY=multipath): node A reaches every
# LU through two iSCSI sessions (two I_T nexuses) and one dm-multipath map, node B through one session.
# Sourced after lib.sh:
#   . "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
#   . "$PRFENCE_VM_SUITE/mp_lib.sh"      # skips (77) the test outside the multipath topology
#
# mp_lu N sets, for LU N (/dev paths unless named otherwise):
#   MAP (/dev/mapper/<name>)  MAP_NAME (<name>: the WWID multipath uses)  DM (/dev/dm-N)  WWID (sysfs)
#   A1_SD A1_SG A1_HCTL  node A's first session (the same devices as lib.sh's A_SD A_SG A_HCTL)
#   A2_SD A2_SG A2_HCTL  node A's second session
#   B_SD B_SG B_HCTL     node B
# MP_LUNS lists the LUs; MAPS, A1_SDS, A2_SDS, B_SGS every LU's map / path, in that order.
# Path faults, on node A's side (the initiator):
#   mp_path_down DEV / mp_path_up DEV   one path: the SCSI device's state to offline / running. The kernel
#       then rejects I/O on it at once ("rejecting I/O to offline device", DID_NO_CONNECT for SG_IO);
#       dm-multipath fails the path on the next I/O through the map, multipathd's checker (every
#       polling_interval, 5 s) marks it failed and, once running again, reinstates it.
#   mp_session_down / mp_session_up   every disk of node A's second session at once (the state of each
#       device, as above). A real logout is not available: iscsistart cannot log out and the guest runs
#       no iscsid, so a dropped connection would never be recovered.
#   mp_wait_paths N SECONDS   until every map has N paths "active ready" in multipathd's view (others
#       may be listed as failed)
#   mp_wait_path DEV STATE SECONDS   until multipathd's checker state of one path (sdX) is STATE (ready,
#       faulty, ...). A path that is down and up again within one polling interval is never seen down,
#       so nothing is reinstated: tests that want multipathd's reaction wait for "faulty" first.
#   mp_paths_of MAP_NAME      multipathd's "dev dm_state checker_state dev_state" per path, in OUT
set -euo pipefail

[ "${PRFENCE_VM_TOPOLOGY:-single}" = multipath ] ||
    skip "needs the multipath topology (PRFENCE_VM_TOPOLOGY=multipath tests/vm/run.sh ...)"
: "${PRFENCE_VM_MPATHS:=/run/prfence-vm/mpaths}"
[ -r "$PRFENCE_VM_MPATHS" ] || fail "no multipath map file $PRFENCE_VM_MPATHS"
# shellcheck disable=SC1090 # written by the guest's init
. "${PRFENCE_VM_ENV:-/run/prfence-vm/env}"
MP_KEY=${PRFENCE_VM_MP_KEY:-0xabc123} # the reservation_key multipathd and mpathpersist use (node A's)

declare -A MP=()
MP_LUNS=() MAPS=() A1_SDS=() A2_SDS=() B_SGS=()
while read -r lun wwid map dm a1h a1sd a1sg a2h a2sd a2sg bh bsd bsg; do
    [[ $lun == \#* || -z $lun ]] && continue
    MP_LUNS+=("$lun")
    MP[$lun.wwid]=$wwid MP[$lun.map]=$map MP[$lun.dm]=$dm
    MP[$lun.a1_hctl]=$a1h MP[$lun.a1_sd]=$a1sd MP[$lun.a1_sg]=$a1sg
    MP[$lun.a2_hctl]=$a2h MP[$lun.a2_sd]=$a2sd MP[$lun.a2_sg]=$a2sg
    MP[$lun.b_hctl]=$bh MP[$lun.b_sd]=$bsd MP[$lun.b_sg]=$bsg
    MAPS+=("/dev/mapper/$map") A1_SDS+=("/dev/$a1sd") A2_SDS+=("/dev/$a2sd") B_SGS+=("/dev/$bsg")
done <"$PRFENCE_VM_MPATHS"
[ ${#MP_LUNS[@]} -gt 0 ] || fail "no LUs in $PRFENCE_VM_MPATHS"

mp_lu() {
    [ -n "${MP[$1.map]:-}" ] || fail "no LU $1 in the multipath map"
    MAP_NAME=${MP[$1.map]} MAP=/dev/mapper/${MP[$1.map]} DM=/dev/${MP[$1.dm]} WWID=${MP[$1.wwid]}
    A1_SD=/dev/${MP[$1.a1_sd]} A1_SG=/dev/${MP[$1.a1_sg]} A1_HCTL=${MP[$1.a1_hctl]}
    A2_SD=/dev/${MP[$1.a2_sd]} A2_SG=/dev/${MP[$1.a2_sg]} A2_HCTL=${MP[$1.a2_hctl]}
    B_SD=/dev/${MP[$1.b_sd]} B_SG=/dev/${MP[$1.b_sg]} B_HCTL=${MP[$1.b_hctl]}
}

# The sysfs state file of a disk given as /dev/sdX or sdX.
mp_state_file() { echo "/sys/block/${1#/dev/}/device/state"; }
mp_path_down() { echo offline >"$(mp_state_file "$1")"; }
mp_path_up() { echo running >"$(mp_state_file "$1")"; }

mp_session_disks() {
    local d
    MP_SESSION_DISKS=()
    for d in "/sys/class/scsi_disk/${PRFENCE_VM_NODE_A2_HOST:?}":*; do
        [ -e "$d" ] && MP_SESSION_DISKS+=("$d/device/state")
    done
    [ ${#MP_SESSION_DISKS[@]} -gt 0 ] || fail "no disks on node A's second session (host $PRFENCE_VM_NODE_A2_HOST)"
}
mp_session_down() {
    local f
    mp_session_disks
    for f in "${MP_SESSION_DISKS[@]}"; do echo offline >"$f"; done
}
mp_session_up() {
    local f
    mp_session_disks
    for f in "${MP_SESSION_DISKS[@]}"; do echo running >"$f"; done
}

# mp_wait_paths N SECONDS: 0 once every map has exactly N paths "active ready"; 1 after SECONDS.
mp_wait_paths() {
    local want=$1 tries=$(($2 * 2)) n
    while [ "$tries" -gt 0 ]; do
        n=$(multipathd show paths raw format "%m %t %T" 2>/dev/null | awk -v w="$want" '
            $2 == "active" && $3 == "ready" { ok[$1]++ } { all[$1]++ }
            END { c = 0; for (m in all) if (ok[m] + 0 == w) c++; print c }')
        [ "$n" -ge "${#MP_LUNS[@]}" ] && return 0
        sleep 0.5
        tries=$((tries - 1))
    done
    return 1
}

mp_wait_path() {
    local dev=${1#/dev/} want=$2 tries=$(($3 * 2)) st
    while [ "$tries" -gt 0 ]; do
        st=$(multipathd show paths raw format "%d %T" 2>/dev/null | awk -v d="$dev" '$1 == d { print $2 }')
        [ "$st" = "$want" ] && return 0
        sleep 0.5
        tries=$((tries - 1))
    done
    return 1
}

mp_paths_of() {
    run multipathd show paths raw format "%m %d %t %T %o"
    OUT=$(awk -v m="$1" '$1 == m { print $2, $3, $4, $5 }' <<<"$OUT")
}
