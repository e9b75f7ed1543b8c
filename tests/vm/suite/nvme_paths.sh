#!/bin/bash
# SPDX-License-Identifier: MIT
# Node A with two controllers, i.e. two paths to every namespace (as a host with two ports or two fabric
# connections has): prfence registers a host once, not once per path, with and without the kernel's
# native NVMe multipath. nvme-cli reads every state back.
#   1. nvme_core multipath=N, as the topology boots: A connects a second time (duplicate_connect) and
#      gets a second controller with its own /dev/nvmeCnH and /dev/ngCnH for every namespace (the same
#      NSIDs and identifiers). prfence, given both controllers' block devices, makes one LU per
#      namespace with two paths and sends one Register per namespace; nvme-cli through the second
#      controller: generation +1 and A the sole registrant. A reserves EA; A writes through both
#      controllers, B's write is refused. The second controller is deleted: prfence status on the first
#      still shows A holding; A's release and unregister leave every namespace empty.
#   2. nvme_core multipath=Y: the test unloads the NVMe host and target modules (nv_unload), loads them
#      again with multipath=Y, sets the target up again and connects A twice. Each namespace is then one
#      head, /dev/nvmeSnH and /dev/ngSnH (S the subsystem's instance); the controllers' paths are hidden
#      (nvmeScCnH in sysfs, no block node and no generic node of their own). prfence on the heads: one
#      LU per namespace and one path; register (one registrant: the host, whichever controller the
#      kernel used), reserve EA, a write; the controller the head was using deleted, the reservation
#      and the write go on through the other; release and unregister.
# Goes last in the nvme list: node B is gone after part 2 and the namespace map no longer holds.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/nvme_lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"
# shellcheck source=../guest/nvme.sh
. /prfence/lib/nvme.sh

command -v prfence >/dev/null || skip "no prfence in this image (set PRFENCE_VM_BINARIES)"
N=${#NV_NSIDS[@]}
PJ_LUNS=$N

# ns_nodes CTRL_OR_SUBSYS_DIR: NODE_OF[nsid] = nvmeXnH for every visible namespace below the sysfs dir.
declare -A NODE_OF=()
ns_nodes() {
    local d name nsid
    NODE_OF=()
    for d in "$1"/nvme*n*; do
        name=${d##*/}
        [[ $name =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
        IFS= read -r nsid <"/sys/block/$name/nsid" || continue
        NODE_OF[$nsid]=$name
    done
}
# wait_nodes DIR: until every NSID has a visible namespace below DIR whose block and generic nodes exist.
wait_nodes() {
    local tries n name ok
    for ((tries = 0; tries < 300; tries++)); do
        ns_nodes "$1"
        ok=1
        for n in "${NV_NSIDS[@]}"; do
            name=${NODE_OF[$n]:-}
            [ -n "$name" ] && [ -b "/dev/$name" ] && [ -c "/dev/ng${name#nvme}" ] || { ok=0; break; }
        done
        [ "$ok" = 1 ] && return 0
        sleep 0.2
    done
    fail "not every namespace appeared below $1 (found: ${!NODE_OF[*]})"
}
# delete_ctrl nvmeC: the host controller deleted (the path lost), waiting until sysfs lets it go.
delete_ctrl() {
    local t
    echo 1 >"/sys/class/nvme/$1/delete_controller" || fail "cannot delete $1"
    for ((t = 0; t < 100; t++)); do [ -e "/sys/class/nvme/$1" ] || return 0; sleep 0.1; done
    fail "$1 still there after delete_controller"
}
# expect_one_path: every row of the last pj has exactly one path (no second entry in luns.I.paths).
expect_one_path() {
    local i
    for ((i = 0; i < N; i++)); do
        [ -z "${J[luns.$i.paths.1.path]:-}" ] || { show_last; fail "${J[luns.$i.device]} has more than one path"; }
    done
}

# ---- 1. multipath=N: A's second controller, its own nodes
log "1. nvme_core multipath=$(cat /sys/module/nvme_core/parameters/multipath): node A connects a second time"
for n in "${NV_NSIDS[@]}"; do nv_clean "$n"; done
nv_connect "$NV_HOSTNQN_A" "$NV_HOSTID_A" ",duplicate_connect" || fail "node A's second connect failed"
A2_CTRL=$NV_CTRL
wait_nodes "/sys/class/nvme/$A2_CTRL"
A2_NSS=()
for n in "${NV_NSIDS[@]}"; do A2_NSS+=("/dev/${NODE_OF[$n]}"); done
log "  node A's second controller is $A2_CTRL (namespaces ${A2_NSS[*]:0:4}...)"
for n in "${NV_NSIDS[@]}"; do
    nv_ns "$n"
    QUIET=1 nv_report "$A_NS"
    GEN_OF[$n]=$RGEN
done

# Both controllers' nodes of every namespace: one LU each, one Register each.
expect_pj 0 register --key "$KEY_A" "${A_NSS[@]}" "${A2_NSS[@]}"
[ "${J[summary.commands]}" = "$N" ] || { show_last; fail "register through two paths sent ${J[summary.commands]} commands for $N namespaces"; }
for ((i = 0; i < N; i++)); do
    [ -n "${J[luns.$i.paths.1.path]:-}" ] || { show_last; fail "${J[luns.$i.device]}: one path, want two (both controllers)"; }
done
nv_bump 1
# nvme-cli through the second controller's nodes.
for n in "${NV_NSIDS[@]}"; do
    QUIET=1 nv_expect_state "/dev/${NODE_OF[$n]}" "${GEN_OF[$n]}" 0 "A:$NV_KEY_A:0"
done
log "  nvme-cli through $A2_CTRL: every namespace at generation +1, A the sole registrant"

expect_pj 0 reserve --key "$KEY_A" --type 3 "${A_NSS[@]}" "${A2_NSS[@]}"
[ "${J[summary.commands]}" = "$N" ] || { show_last; fail "reserve through two paths sent ${J[summary.commands]} commands"; }
nv_expect_all A_NS 2 "A:$NV_KEY_A:1"
nv_ns "${NV_NSIDS[0]}"
nv_write "$A_NS"
[ "$RC" -eq 0 ] || { show_last; fail "A's write through its first controller was refused"; }
nv_write "/dev/${NODE_OF[${NV_NSIDS[0]}]}"
[ "$RC" -eq 0 ] || { show_last; fail "A's write through its second controller was refused"; }
nv_write "$B_NS"
[ "$RC" -ne 0 ] || { show_last; fail "B's write went through A's Exclusive Access reservation"; }

delete_ctrl "$A2_CTRL"
log "  $A2_CTRL deleted"
expect_pj 0 status "${A_NSS[@]}"
for ((i = 0; i < N; i++)); do
    [ "${J[luns.$i.nvme.registrants.0.holder]:-}" = true ] && [ -z "${J[luns.$i.nvme.registrants.1.key]:-}" ] ||
        { show_last; fail "${J[luns.$i.device]}: A is not the sole holder after the path loss"; }
done
expect_pj 0 release --key "$KEY_A" --type 3 "${A_NSS[@]}"
expect_pj 0 unregister --key "$KEY_A" "${A_NSS[@]}"
nv_bump 1  # nvmet counts registrations and preemptions, not Acquire or Release
nv_expect_all A_NS 0

# ---- 2. multipath=Y: one head per namespace
log "2. reloading the NVMe modules with multipath=Y"
nv_unload || fail "cannot unload the NVMe modules"
nv_load_modules Y || fail "the NVMe modules did not load with multipath=Y"
nv_target_setup "$N" || fail "nvmet target setup failed"
nv_connect "$NV_HOSTNQN_A" "$NV_HOSTID_A" || fail "node A could not connect"
C1=$NV_CTRL
nv_connect "$NV_HOSTNQN_A" "$NV_HOSTID_A" ",duplicate_connect" || fail "node A's second connect failed"
C2=$NV_CTRL
SUBSYS=""
for s in /sys/class/nvme-subsystem/nvme-subsys*; do
    [ -e "$s/$C1" ] && SUBSYS=$(readlink -f "$s")
done
[ -e "$SUBSYS/$C2" ] || fail "$C1 and $C2 are not in one subsystem ($SUBSYS)"
wait_nodes "$SUBSYS"
HEADS=() HEAD_NGS=()
for n in "${NV_NSIDS[@]}"; do HEADS+=("/dev/${NODE_OF[$n]}") HEAD_NGS+=("/dev/ng${NODE_OF[$n]#nvme}"); done
log "  $C1 and $C2 in ${SUBSYS##*/}; heads ${HEADS[*]:0:4}..."
# The paths are hidden: no block or generic node of their own (waiting for the second controller's).
for ((t = 0; t < 300; t++)); do
    hidden=$(find /sys/block -maxdepth 1 -name 'nvme*c*n*' | wc -l)
    [ "$hidden" -ge $((2 * N)) ] && break
    sleep 0.2
done
for d in /sys/block/nvme*c*n*; do
    [ -e "/dev/${d##*/}" ] && fail "hidden path ${d##*/} has a /dev node"
done
[ "$hidden" -eq $((2 * N)) ] || fail "$hidden hidden paths, want $((2 * N))"
generic=$(find /sys/class/nvme-generic -mindepth 1 -maxdepth 1 | wc -l)
[ "$generic" -eq "$N" ] || fail "$generic generic nodes, want $N (one per head)"
log "  $hidden hidden paths, $generic generic nodes (the heads')"

expect_pj 0 status "${HEADS[@]}"
expect_one_path
expect_pj 0 register --key "$KEY_A" "${HEADS[@]}" "${HEAD_NGS[@]}"
[ "${J[summary.commands]}" = "$N" ] || { show_last; fail "register on the heads sent ${J[summary.commands]} commands for $N namespaces"; }
expect_one_path
for h in "${HEADS[@]}"; do
    QUIET=1 nv_expect_state "$h" 1 0 "A:$NV_KEY_A:0"
done
log "  nvme-cli: every head at generation 1, A the sole registrant"
expect_pj 0 reserve --key "$KEY_A" --type 3 "${HEADS[@]}"
nv_write "${HEADS[0]}"
[ "$RC" -eq 0 ] || { show_last; fail "A's write through the head was refused"; }

# The first controller is the path the head's I/O policy (numa) uses; losing it makes the kernel turn
# to the second, which is what the head must survive.
H0=${HEADS[0]##*/}
paths_of_head() { # REPLY: the head's paths as sysfs lists them, each followed by a space
    local p
    REPLY=""
    for p in "/sys/block/$H0/multipath"/*; do [ -e "$p" ] && REPLY+="${p##*/} "; done
    return 0
}
paths_of_head
log "  ${HEADS[0]}'s paths: $REPLY"
delete_ctrl "$C1"
paths_of_head
[[ $REPLY =~ ^nvme[0-9]+c${C2#nvme}n[0-9]+\ $ ]] || fail "${HEADS[0]}'s paths after $C1 was deleted: '$REPLY', want only $C2's"
log "  $C1 deleted: the heads keep $C2 ($REPLY)"
expect_pj 0 status "${HEADS[@]}"
for ((i = 0; i < N; i++)); do
    [ "${J[luns.$i.nvme.registrants.0.holder]:-}" = true ] ||
        { show_last; fail "${J[luns.$i.device]}: A is not the holder after the path loss"; }
done
nv_write "${HEADS[0]}"
[ "$RC" -eq 0 ] || { show_last; fail "A's write through the head after the path loss was refused"; }
expect_pj 0 release --key "$KEY_A" --type 3 "${HEADS[@]}"
expect_pj 0 unregister --key "$KEY_A" "${HEADS[@]}"
for h in "${HEADS[@]}"; do QUIET=1 nv_expect_state "$h" 2 0; done
log "  released and unregistered through the heads: generation 2, no registrant"
log "PASS"
