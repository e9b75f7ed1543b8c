#!/bin/bash
# SPDX-License-Identifier: MIT
# prfence and mpathpersist on dm-multipath maps (multipath topology only: node A reaches every LU through
# two iSCSI sessions and one map, node B through one session). What it checks, every LU unless named:
#   1. `multipath -ll` lists one map per LU, named by its WWID, with node A's two paths and not B's;
#      multipathd shows two paths per map.
#   2. prfence register on /dev/mapper/<wwid>, on /dev/dm-N, on /dev/disk/by-id/dm-uuid-mpath-<wwid>
#      and on a map given together with its own sd and sg paths (the LUs split four ways, one prfence run
#      each) registers on every path: two commands per LU, and READ FULL STATUS through B's path (a
#      nexus prfence did not use) shows A's key from both of A's TransportIDs (two ISIDs).
#   3. prfence reserve (WE-RO) through the maps goes down one path (one command per LU, one holder);
#      release leaves no reservation; A reserves again.
#   4. B registers and fences A (prfence fence, PREEMPT AND ABORT): only B's key is left, B holds WE-RO.
#      A's O_DIRECT write through its map fails with EBADE ("Invalid exchange"), its read works (WE-RO
#      lets anyone read); dm-multipath fails no path and queues nothing (dmsetup status: every path "A"
#      with fail count 0, queueing flag 0; multipathd: every path "active ready running"; no "Failing
#      path" in dmesg). Written to multipath-basic-<series>.txt.
#   5. mpathpersist through the first map: a key other than multipath.conf's reservation_key is
#      refused and registers nothing; the reservation_key registers on both of A's nexuses (multipathd's
#      prflag, `multipathd getprstatus map`, is 1), prfence reads the same two keys, reserve/release
#      type 5, unregister (prflag 0).
# Starts and ends with no registration on any LU (and multipathd's prflag unset on every map).
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
# shellcheck source=mp_lib.sh
. "$PRFENCE_VM_SUITE/mp_lib.sh"
command -v prfence >/dev/null || skip "no prfence in the image (PRFENCE_VM_BINARIES)"
# shellcheck source=engine_lib.sh
. "$PRFENCE_VM_SUITE/engine_lib.sh"

KA=${MP_KEY#0x}
[ "$KA" = "$KEY_A" ] || fail "multipath.conf's reservation_key $MP_KEY is not the suite's node A key $KEY_A"
REPORT=$PRFENCE_VM_OUT/multipath-basic-$KSERIES.txt
: >"$REPORT"
note() { printf '%s\n' "$@" >>"$REPORT"; }

# fs LUN: READ FULL STATUS through B's path; FS = one "key holder initiator,i,isid" line per registration
# (initiator without the IQN's prefix), FS_N their number.
fs() {
    mp_lu "$1"
    QUIET=1 expect_pr 0 "$B_SG" --read-full-status
    FS=$(awk '/Key=0x/ { if (k != "") print k, h, t; k = $0; sub(/.*Key=/, "", k); h = "no"; t = "-" }
              /<< Reservation holder >>/ { h = "yes" }
              /port id: / { t = $NF; sub(/.*:/, "", t) }
              END { if (k != "") print k, h, t }' <<<"$OUT")
    FS_N=0
    [ -n "$FS" ] && FS_N=$(wc -l <<<"$FS")
    return 0
}
# expect_a_both LUN [HOLDERS]: A's key registered from both of A's nexuses and nothing else; HOLDERS
# (default 0) of them hold the reservation.
expect_a_both() {
    fs "$1"
    local isids holders
    isids=$(awk -v k="0x$KA" '$1 == k && $3 ~ /^node-a,i,0x/ { print $3 }' <<<"$FS" | sort -u | wc -l)
    holders=$(awk '$2 == "yes"' <<<"$FS" | wc -l)
    if [ "$FS_N" -ne 2 ] || [ "$isids" -ne 2 ] || [ "$holders" -ne "${2:-0}" ]; then
        show_last
        fail "LU $1: want A's key 0x$KA from two node-a nexuses (${2:-0} holding), READ FULL STATUS has: ${FS:-nothing}"
    fi
}

for l in "${MP_LUNS[@]}"; do pr_clean "$l"; done

log "1. one map per LU with A's two paths, none of B's"
run multipath -ll
note "== multipath -ll" "$OUT"
MLL=$OUT
declare -A PATHS_OF=()
while read -r m sd; do PATHS_OF[$m]+=" $sd"; done < <(awk '
    /^3[0-9a-f]+ dm-[0-9]+ / { m = $1 }
    / [0-9]+:[0-9]+:[0-9]+:[0-9]+ sd[a-z]+ / { for (i = 1; i <= NF; i++) if ($i ~ /^sd[a-z]+$/) print m, $i }' <<<"$MLL")
[ ${#PATHS_OF[@]} -eq ${#MP_LUNS[@]} ] || fail "multipath -ll lists ${#PATHS_OF[@]} maps, want ${#MP_LUNS[@]}"
for l in "${MP_LUNS[@]}"; do
    mp_lu "$l"
    want=$(printf '%s\n' "${A1_SD#/dev/}" "${A2_SD#/dev/}" | sort | tr '\n' ' ')
    read -ra have <<<"${PATHS_OF[$MAP_NAME]:-}"
    got=$(printf '%s\n' "${have[@]}" | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "LU $l: map $MAP_NAME has paths '$got', want A's '$want'"
    grep -qw -- "${B_SD#/dev/}" <<<"$MLL" && fail "LU $l: B's path ${B_SD#/dev/} is in multipath -ll"
    for f in "$MAP" "$DM" "/dev/disk/by-id/dm-uuid-mpath-$MAP_NAME"; do
        [ -b "$f" ] || fail "LU $l: no block device $f"
    done
done
run multipathd show maps raw format "%n %N"
[ "$(awk '$2 == 2' <<<"$OUT" | wc -l)" -eq ${#MP_LUNS[@]} ] || { show_last; fail "multipathd: not every map has two paths"; }
log "  ${#MP_LUNS[@]} maps, two paths each, B's disks outside"

log "2. prfence register through map names registers on every path"
declare -a G0=() G1=() G2=() G3=() GL0=() GL1=() GL2=() GL3=()
for l in "${MP_LUNS[@]}"; do
    mp_lu "$l"
    case $((l % 4)) in
        0) G0+=("$MAP") GL0+=("$l") ;;
        1) G1+=("$DM") GL1+=("$l") ;;
        2) G2+=("/dev/disk/by-id/dm-uuid-mpath-$MAP_NAME") GL2+=("$l") ;;
        3) G3+=("$MAP" "$A2_SD" "$A1_SG") GL3+=("$l") ;;
    esac
done
for g in 0 1 2 3; do
    declare -n devs=G$g lus=GL$g
    if [ ${#lus[@]} -eq 0 ]; then
        log "  (no LU for name kind $g with ${#MP_LUNS[@]} LUs)"
        unset -n devs lus
        continue
    fi
    PJ_LUNS=${#lus[@]} expect_pj 0 register --key "$KA" "${devs[@]}"
    [ "${J[summary.commands]:-}" = $((2 * ${#lus[@]})) ] ||
        fail "register on ${devs[*]}: ${J[summary.commands]:-?} commands, want two per LU"
    for l in "${lus[@]}"; do expect_a_both "$l"; done
    unset -n devs lus
done
fs "${MP_LUNS[0]}"
note "== READ FULL STATUS of LU ${MP_LUNS[0]} after prfence register (key holder initiator)" "$FS"
log "  every LU: 0x$KA from two node-a nexuses"

log "3. reserve and release go down one path"
PJ_LUNS=${#MAPS[@]} expect_pj 0 reserve --key "$KA" --type we-ro "${MAPS[@]}"
[ "${J[summary.commands]:-}" = ${#MAPS[@]} ] || fail "reserve: ${J[summary.commands]:-?} commands for ${#MAPS[@]} maps"
for l in "${MP_LUNS[@]}"; do expect_a_both "$l" 1; done
PJ_LUNS=${#MAPS[@]} expect_pj 0 release --key "$KA" --type we-ro "${MAPS[@]}"
[ "${J[summary.commands]:-}" = ${#MAPS[@]} ] || fail "release: ${J[summary.commands]:-?} commands for ${#MAPS[@]} maps"
for l in "${MP_LUNS[@]}"; do expect_a_both "$l" 0; done
PJ_LUNS=${#MAPS[@]} expect_pj 0 reserve --key "$KA" --type we-ro "${MAPS[@]}"

log "4. B fences A"
PJ_LUNS=${#B_SGS[@]} expect_pj 0 register --key "$KEY_B" "${B_SGS[@]}"
PJ_LUNS=${#B_SGS[@]} expect_pj 0 fence --key "$KEY_B" --victim "$KA" --type we-ro "${B_SGS[@]}"
for l in "${MP_LUNS[@]}"; do
    fs "$l"
    [[ $FS_N -eq 1 && $FS == "0x$KEY_B yes node-b,i,0x"* ]] ||
        fail "LU $l after the fence: want only B's key holding, READ FULL STATUS has: ${FS:-nothing}"
done
log "  only 0x$KEY_B (node B, holding) on every LU"
dmesg_mark
for l in "${MP_LUNS[@]}"; do
    mp_lu "$l"
    now
    t0=$NOW
    run dd if=/dev/zero of="$MAP" bs=4096 count=1 oflag=direct
    now
    if [ "$RC" -eq 0 ] || ! grep -q 'Invalid exchange' <<<"$OUT"; then
        show_last
        fail "LU $l: A's write through $MAP should fail with EBADE (Invalid exchange)"
    fi
    [ "$l" = "${MP_LUNS[0]}" ] && note "== A's write through the map after the fence ($(elapsed "$t0" "$NOW")s)" "$OUT"
    read_block "$MAP"
    [ "$RC" -eq 0 ] || { show_last; fail "LU $l: A's read through $MAP should work under WE-RO"; }
done
log "  A's writes through every map: EBADE; reads: fine"
run dmsetup status --target multipath
note "== dmsetup status --target multipath (after A's refused writes)" "$OUT"
DMS=$OUT
[ "$(grep -c ' multipath ' <<<"$DMS")" -eq ${#MP_LUNS[@]} ] || fail "dmsetup status: not one multipath table per LU"
# Per map: "multipath 2 <queueing> <pg_init_count> ..." then per path "<major:minor> <A|F> <fail count>".
bad=$(awk '{ for (i = 1; i <= NF; i++) {
        if ($i == "multipath" && $(i + 2) != 0) print $1, "queueing", $(i + 2)
        if ($i ~ /^[0-9]+:[0-9]+$/ && ($(i + 1) != "A" || $(i + 2) != 0)) print $1, $i, $(i + 1), $(i + 2)
    } }' <<<"$DMS")
[ -z "$bad" ] || fail "dm-multipath reacted to the reservation conflicts: $bad"
run multipathd show paths raw format "%m %d %t %T %o"
note "== multipathd show paths (map dev dm_state checker_state dev_state)" "$OUT"
[ "$(grep -c ' active ready running$' <<<"$OUT")" -eq $((2 * ${#MP_LUNS[@]})) ] ||
    { show_last; fail "multipathd: not every path is active ready running after the conflicts"; }
dmesg_since
note "== dmesg during A's writes and reads" "$OUT"
grep -q 'reservation conflict' <<<"$OUT" || { show_last; fail "no 'reservation conflict' in dmesg"; }
if grep -q 'Failing path' <<<"$OUT"; then show_last; fail "dm-multipath failed a path on a reservation conflict"; fi
log "  dm-multipath: no path failed, nothing queued"

for l in "${MP_LUNS[@]}"; do pr_clean "$l"; done

log "5. mpathpersist side by side (LU ${MP_LUNS[0]})"
mp_lu "${MP_LUNS[0]}"
run mpathpersist --out --register --param-sark=0xb7 "$MAP"
[ "$RC" -ne 0 ] || fail "mpathpersist registered 0xb7, which is not multipath.conf's reservation_key"
fs "${MP_LUNS[0]}"
[ "$FS_N" -eq 0 ] || fail "mpathpersist's refused register left: $FS"
expect_rc 0 mpathpersist --out --register --param-sark="$MP_KEY" "$MAP"
expect_a_both "${MP_LUNS[0]}"
# mpathpersist tells multipathd the map is registered (its prflag), which multipathd needs to register
# the key on a path that comes back.
expect_rc 0 multipathd getprstatus map "$MAP_NAME"
[ "$OUT" = 1 ] || fail "multipathd's prflag for $MAP_NAME after mpathpersist's register: '$OUT', want 1"
expect_rc 0 mpathpersist --in -k "$MAP"
[ "$(grep -c "0x$KA" <<<"$OUT")" -eq 2 ] || { show_last; fail "mpathpersist --in -k: want 0x$KA twice"; }
PJ_LUNS=1 expect_pj 0 keys "$MAP"
[ "${J[luns.0.keys.0]:-}/${J[luns.0.keys.1]:-}" = "0x$KA/0x$KA" ] || { show_last; fail "prfence keys: want 0x$KA twice"; }
expect_rc 0 mpathpersist --out --reserve --param-rk="$MP_KEY" --prout-type=5 "$MAP"
expect_a_both "${MP_LUNS[0]}" 1
expect_rc 0 mpathpersist --out --release --param-rk="$MP_KEY" --prout-type=5 "$MAP"
expect_a_both "${MP_LUNS[0]}" 0
expect_rc 0 mpathpersist --out --register --param-rk="$MP_KEY" --param-sark=0 "$MAP"
fs "${MP_LUNS[0]}"
[ "$FS_N" -eq 0 ] || fail "mpathpersist's unregister left: $FS"
expect_rc 0 multipathd getprstatus map "$MAP_NAME"
[ "$OUT" = 0 ] || fail "multipathd's prflag for $MAP_NAME after mpathpersist's unregister: '$OUT', want 0"
log "  mpathpersist: wrong key refused; register on both nexuses, reserve, release, unregister"

for l in "${MP_LUNS[@]}"; do pr_clean "$l"; done
# sg_persist's CLEAR does not tell multipathd; whatever set a map's prflag (prfence may), no map is
# registered now.
for m in "${MAPS[@]}"; do QUIET=1 expect_rc 0 multipathd unsetprstatus map "${m#/dev/mapper/}"; done
log "PASS"
