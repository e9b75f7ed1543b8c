#!/bin/bash
# SPDX-License-Identifier: MIT
# prfence on dm-multipath maps when node A's paths fail (multipath topology only). Every check is made
# LU by LU, with READ FULL STATUS through node B's path (a nexus prfence did not use):
#   1. A path down before the batch (one of A's two disks offline): prfence register on every map
#      exits 0 with that LU degraded, its JSON naming the dead sg node ("device state offline"), in
#      well under the command timeout; the LU has A's key from one nexus, every other LU from both;
#      multipathd was told the key for every map.
#   2. The path comes back: multipathd reinstates it and registers it itself (prfence told it the map
#      carries registrations), so READ FULL STATUS shows A's key from both nexuses again without any
#      prfence run.
#   3. A's second session goes down while a registration batch runs: each LU's JSON says which paths
#      took the registration and which were dead, and READ FULL STATUS agrees nexus by nexus; a rerun
#      after the session is back registers every path.
#   4. Every path of one map down: register and reserve on it fail at once with exit 35 and "every path
#      is dead"; the LU's registrations are untouched; the other LUs of the same batch are fine.
# Starts and ends with no registration on any LU.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
# shellcheck source=mp_lib.sh
. "$PRFENCE_VM_SUITE/mp_lib.sh"
command -v prfence >/dev/null || skip "no prfence in the image (PRFENCE_VM_BINARIES)"
# shellcheck source=engine_lib.sh
. "$PRFENCE_VM_SUITE/engine_lib.sh"

KA=${MP_KEY#0x}
[ "$KA" = "$KEY_A" ] || fail "multipath.conf's reservation_key $MP_KEY is not the suite's node A key $KEY_A"
NM=${#MP_LUNS[@]}
[ "$NM" -ge 2 ] || skip "needs at least two LUs (PRFENCE_VM_LUNS)"
L0=${MP_LUNS[0]}

# fs LUN: A's registrations on LU, read through B's path: FS_ISIDS = the ISIDs of node A's nexuses
# registered with A's key (sorted, space separated), FS_OTHER = registrations of anything else.
fs() {
    mp_lu "$1"
    QUIET=1 expect_pr 0 "$B_SG" --read-full-status
    local lines
    lines=$(awk '/Key=0x/ { if (k != "") print k, t; k = $0; sub(/.*Key=/, "", k); t = "-" }
                 /port id: / { t = $NF; sub(/.*:/, "", t) }
                 END { if (k != "") print k, t }' <<<"$OUT")
    FS_ISIDS=$(awk -v k="0x$KA" '$1 == k && $2 ~ /^node-a,i,0x/ { sub(/.*,i,/, "", $2); print $2 }' <<<"$lines" |
        sort | tr '\n' ' ')
    FS_ISIDS=${FS_ISIDS% }
    FS_OTHER=$(awk -v k="0x$KA" '!($1 == k && $2 ~ /^node-a,i,0x/)' <<<"$lines")
}

# row LUN: the index of LU's row in the last pj's JSON (devices are named by their map), in ROW.
row() {
    mp_lu "$1"
    ROW=${DEV_IDX[$MAP_NAME]:-${DEV_IDX[$MAP]:-}}
    [ -n "$ROW" ] || { show_last; fail "LU $1: no row for map $MAP_NAME in prfence's output"; }
}
# path_state LUN SG: the state (registered, dead, ...) the last pj's JSON gives SG of LU's row, in PS;
# its error in PE.
path_state() {
    row "$1"
    local k
    PS="" PE=""
    for ((k = 0; ; k++)); do
        [ -n "${J[luns.$ROW.paths.$k.path]:-}" ] || break
        if [ "${J[luns.$ROW.paths.$k.path]}" = "$2" ]; then
            PS=${J[luns.$ROW.paths.$k.state]:-} PE=${J[luns.$ROW.paths.$k.error]:-}
            return 0
        fi
    done
    show_last
    fail "LU $1: no path $2 in its row's paths"
}
# wait_isids LUN WANT SECONDS: until LU's A-nexus ISIDs are WANT; 1 after SECONDS.
wait_isids() {
    local tries=$(($3 * 2))
    while [ "$tries" -gt 0 ]; do
        fs "$1"
        [ "$FS_ISIDS" = "$2" ] && return 0
        sleep 0.5
        tries=$((tries - 1))
    done
    return 1
}

for l in "${MP_LUNS[@]}"; do pr_clean "$l"; done
mp_wait_paths 2 60 || fail "not every map has two active paths at the start"

log "1. one path down before the batch"
mp_lu "$L0"
A2_DOWN=$A2_SD A2_DOWN_SG=$A2_SG A1_L0_SG=$A1_SG
mp_path_down "$A2_DOWN"
now
t0=$NOW
PJ_LUNS=$NM expect_pj 0 register --key "$KA" "${MAPS[@]}"
now
secs=$(elapsed "$t0" "$NOW")
[ "${J[summary.degraded]:-}" = 1 ] || { show_last; fail "want exactly one degraded LU, summary says ${J[summary.degraded]:-?}"; }
awk -v s="$secs" 'BEGIN { exit !(s < 10) }' || fail "the register batch took ${secs}s with a path down"
path_state "$L0" "$A2_DOWN_SG"
[[ $PS == dead && $PE == "device state offline"* ]] || fail "LU $L0: path $A2_DOWN_SG is '$PS' ($PE), want dead (device state offline)"
path_state "$L0" "$A1_L0_SG"
[ "$PS" = registered ] || fail "LU $L0: path $A1_L0_SG is '$PS', want registered"
row "$L0"
[ "${J[luns.$ROW.degraded]:-}" = true ] || { show_last; fail "LU $L0 is not marked degraded"; }
for l in "${MP_LUNS[@]}"; do
    row "$l"
    [ "${J[luns.$ROW.multipathd.told]:-}" = true ] ||
        { show_last; fail "LU $l: multipathd not told (${J[luns.$ROW.multipathd.error]:-no multipathd object})"; }
done
fs "$L0"
[[ -n $FS_ISIDS && $FS_ISIDS != *" "* && -z $FS_OTHER ]] ||
    fail "LU $L0: want A's key from one nexus only, READ FULL STATUS: A's ISIDs '$FS_ISIDS', others '$FS_OTHER'"
A1_ISID=$FS_ISIDS
for l in "${MP_LUNS[@]:1}"; do
    fs "$l"
    [[ $FS_ISIDS == *" "* && -z $FS_OTHER ]] || fail "LU $l: want A's key from two nexuses, have '$FS_ISIDS' '$FS_OTHER'"
done
A_BOTH=$FS_ISIDS
A2_ISID=${A_BOTH/$A1_ISID/}
A2_ISID=${A2_ISID// /}
log "  ${secs}s; LU $L0 degraded ($A2_DOWN_SG dead, A's key from $A1_ISID only), the others from $A_BOTH"

log "2. the path returns: multipathd registers it"
mp_wait_path "$A2_DOWN" faulty 30 || fail "multipathd did not see $A2_DOWN fail in 30 s"
mp_path_up "$A2_DOWN"
now
t0=$NOW
mp_wait_paths 2 60 || fail "multipathd did not reinstate $A2_DOWN in 60 s"
wait_isids "$L0" "$A_BOTH" 60 ||
    fail "LU $L0: multipathd did not register the returning path: A's ISIDs '$FS_ISIDS', want '$A_BOTH'"
now
log "  A's key on both nexuses of LU $L0 again after $(elapsed "$t0" "$NOW")s, no prfence run"

log "3. A's second session goes down during a registration batch"
for l in "${MP_LUNS[@]}"; do pr_clean "$l"; done
# The batch takes milliseconds; the session goes down while it is being started, so some LUs may
# finish before and some after: whatever each LU's JSON says must be what the LU holds.
(
    sleep 0.02
    mp_session_down
) &
downer=$!
pj register --key "$KA" "${MAPS[@]}"
wait "$downer"
[ "$RC" -eq 0 ] || { show_last; fail "register with the session going down: exit $RC, want 0"; }
degraded=0
for l in "${MP_LUNS[@]}"; do
    mp_lu "$l"
    path_state "$l" "$A1_SG"
    s1=$PS
    path_state "$l" "$A2_SG"
    s2=$PS
    isids=()
    [ "$s1" = registered ] && isids+=("$A1_ISID")
    [ "$s2" = registered ] && isids+=("$A2_ISID")
    want=$(printf '%s\n' "${isids[@]}" | sort | tr '\n' ' ')
    want=${want% }
    [ "$s1" = registered ] || [ "$s2" = registered ] || fail "LU $l: no path registered ($s1, $s2)"
    [ "$s2" = dead ] && degraded=$((degraded + 1))
    fs "$l"
    [[ $FS_ISIDS == "$want" && -z $FS_OTHER ]] ||
        fail "LU $l: JSON says $A1_SG $s1, $A2_SG $s2; READ FULL STATUS has A's ISIDs '$FS_ISIDS' (want '$want') others '$FS_OTHER'"
done
[ "${J[summary.degraded]:-}" = "$degraded" ] || fail "summary.degraded ${J[summary.degraded]:-?}, counted $degraded"
log "  $degraded of $NM LUs met the dead session; every LU's JSON matches its registrations"
mp_session_up
mp_wait_paths 2 60 || fail "multipathd did not reinstate A's second session in 60 s"
PJ_LUNS=$NM expect_pj 0 register --key "$KA" --ignore-existing "${MAPS[@]}"
[ "${J[summary.degraded]:-}" = 0 ] || { show_last; fail "the rerun is still degraded"; }
for l in "${MP_LUNS[@]}"; do
    fs "$l"
    [ "$FS_ISIDS" = "$A_BOTH" ] || fail "LU $l after the rerun: A's ISIDs '$FS_ISIDS', want '$A_BOTH'"
done
log "  the rerun registered both nexuses of every LU"

log "4. every path of one map down"
mp_lu "$L0"
mp_path_down "$A1_SD"
mp_path_down "$A2_SD"
now
t0=$NOW
pj register --key "$KA" --ignore-existing "${MAPS[@]}"
now
secs=$(elapsed "$t0" "$NOW")
[ "$RC" -eq 35 ] || { show_last; fail "register with every path of $MAP down: exit $RC, want 35"; }
row "$L0"
[[ ${J[luns.$ROW.ok]:-} == false && ${J[luns.$ROW.error]:-} == "every path is dead: "* ]] ||
    { show_last; fail "LU $L0: want failed with 'every path is dead'"; }
[ "${J[summary.ok]:-}" = $((NM - 1)) ] || { show_last; fail "the other LUs did not all succeed"; }
awk -v s="$secs" 'BEGIN { exit !(s < 10) }' || fail "register with every path down took ${secs}s"
pj reserve --key "$KA" --type we-ro "$MAP"
[ "$RC" -eq 35 ] || { show_last; fail "reserve with every path of $MAP down: exit $RC, want 35"; }
fs "$L0"
[[ $FS_ISIDS == "$A_BOTH" && -z $FS_OTHER ]] || fail "LU $L0 changed while its paths were down: '$FS_ISIDS' '$FS_OTHER'"
QUIET=1 expect_pr 0 "$B_SG" --read-reservation
grep -q 'NO reservation' <<<"$OUT" || { show_last; fail "LU $L0: a reservation appeared"; }
log "  exit 35 in ${secs}s, 'every path is dead', LU $L0 untouched, the other LUs registered"
mp_path_up "$A1_SD"
mp_path_up "$A2_SD"
mp_wait_paths 2 60 || fail "multipathd did not reinstate LU $L0's paths in 60 s"

log "5. unregister tells multipathd"
PJ_LUNS=$NM expect_pj 0 unregister --key "$KA" "${MAPS[@]}"
for l in "${MP_LUNS[@]}"; do
    row "$l"
    [ "${J[luns.$ROW.multipathd.told]:-}" = true ] || { show_last; fail "LU $l: multipathd not told of the unregister"; }
    fs "$l"
    [[ -z $FS_ISIDS && -z $FS_OTHER ]] || fail "LU $l after unregister: '$FS_ISIDS' '$FS_OTHER'"
done
for l in "${MP_LUNS[@]}"; do pr_clean "$l"; done
log "PASS"
