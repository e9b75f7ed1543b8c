#!/bin/bash
# SPDX-License-Identifier: MIT
# prfence without root's rights on every NVMe namespace of the nvme topology: what an operator sees
# when the node or the kernel refuses, and what an unprivileged user may do once given the nodes.
# The unprivileged user is uid/gid 1000 ("prfop", added to the guest's /etc/passwd and /etc/group for
# the test and removed after), reached with busybox `su` (root needs no password; the shell runs with
# no capability at all, checked below). busybox's `setpriv` in this image has no --reuid, and the image
# has no chpst or other way to change user.
#   1. A's nodes as the kernel makes them (0600, root): `keys`, `register`, `fence`, `caps` and `probe`
#      as prfop fail on every namespace at the open, exit 15, the row naming the generic node and saying
#      that reservations need write access; with only the block nodes (/dev/nvmeXnY) given to prfop the
#      same, naming the generic node prfence opens; nvme-cli (root) reads every namespace unchanged.
#   2. prfop owns A's nodes (chown; mode 0600): keys, register, reserve WE, caps (Identify Namespace
#      through the admin ioctl), probe (Identify, Read, Flush), B registers (root) and prfop's fence
#      removes B: all work, nvme-cli reads A as the sole registrant holding WE. A node prfop may only
#      read (0604) still fails at the open (prfence opens O_RDWR), exit 15. What the kernel refuses
#      prfop on a node it owns, through nvme-cli: Get Log Page (the reservation notification log) and
#      Get Features (Host Identifier), admin commands other than Identify; prfence needs neither.
#      With kernel.io_uring_disabled=1 (io_uring only for CAP_SYS_ADMIN or io_uring_group) prfop's
#      prfence cannot set up its ring: exit 99 before any namespace, "prfence keys: io_uring_queue_init:
#      Operation not permitted (the sysctl kernel.io_uring_disabled: 1 leaves io_uring to CAP_SYS_ADMIN
#      and the group kernel.io_uring_group names, ...)" (checked: the exit and that it names the sysctl).
#   3. Ownership, modes, io_uring_disabled and /etc/passwd restored; root clears every namespace.
# Measured on 7.3.4+deb13-amd64 (nvmet): without CAP_SYS_ADMIN the kernel (drivers/nvme/host/ioctl.c,
# nvme_cmd_allowed) allows every command prfence sends: the four reservation commands and Read, Flush
# (nvmet's Commands Supported and Effects log marks them supported, with no effect beyond that, so
# write access to the node is all they need) and Identify Namespace; it refuses admin commands other
# than Identify with EACCES, and a write-class command on a node opened read-only.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/nvme_lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

PRFENCE_BIN=$(command -v prfence) || skip "no prfence in this image (set PRFENCE_VM_BINARIES)"
command -v su >/dev/null || fail "no su in the guest (busybox applet)"
N=${#NV_NSIDS[@]}
OP=prfop
OP_ID=1000
grep -q "^$OP:\|^[^:]*:[^:]*:$OP_ID:" /etc/passwd && fail "user $OP or uid $OP_ID already in /etc/passwd"

# prfence as prfop when AS_OP=1 (pj and expect_pj call this function), else as root.
AS_OP=0
prfence() {
    if [ "$AS_OP" = 1 ]; then
        # busybox su takes options anywhere on its command line: the arguments go inside CMD.
        su -s /bin/sh "$OP" -c "exec $(printf '%q ' "$PRFENCE_BIN" "$@")"
    else
        "$PRFENCE_BIN" "$@"
    fi
}
op_run() { run su -s /bin/sh "$OP" -c "$*"; }

IO_URING_DISABLED=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo -)
declare -A MODE_OF=()
restore() {
    local d m u g
    for d in "${!MODE_OF[@]}"; do
        read -r m u g <<<"${MODE_OF[$d]}"
        chown "$u:$g" "$d" && chmod "$m" "$d"
    done
    [ "$IO_URING_DISABLED" = - ] || echo "$IO_URING_DISABLED" >/proc/sys/kernel/io_uring_disabled
    sed -i "/^$OP:/d" /etc/passwd /etc/group
}
trap restore EXIT
for d in "${A_NGS[@]}" "${A_NSS[@]}"; do MODE_OF[$d]=$(stat -c '%a %u %g' "$d"); done
echo "$OP:x:$OP_ID:$OP_ID:prfence operator:/tmp:/bin/sh" >>/etc/passwd
echo "$OP:x:$OP_ID:" >>/etc/group

# rows_are FIELD WANT: every row of the last pj has FIELD == WANT.
rows_are() {
    local i=0
    while [ -n "${J[luns.$i.device]:-}" ]; do
        [ "${J[luns.$i.$1]:-}" = "$2" ] || { show_last; fail "${J[luns.$i.device]}: $1='${J[luns.$i.$1]:-}' (want '$2')"; }
        i=$((i + 1))
    done
    [ "$i" -gt 0 ] || { show_last; fail "no rows in prfence's output"; }
}
# snapshot: every namespace's generation, type and registrants (nvme-cli, as root) in SNAP.
snapshot() {
    local nsid q=$QUIET
    QUIET=1
    SNAP=""
    for nsid in "${NV_NSIDS[@]}"; do
        nv_ns "$nsid"
        nv_report "$A_NG"
        nv_state_words
        SNAP+="$NSID:$RGEN:$RTYPE:[$REPLY] "
    done
    QUIET=$q
}
# open_refused NODES: the last pj exited 15 with every row failed at the open, its error naming the
# row's generic node, "Permission denied" and the hint that reservations need write access.
open_refused() {
    local i=0 dev ng
    [ "$RC" -eq 15 ] || { show_last; fail "exit $RC, want 15 (cannot open)"; }
    rows_are ok false
    rows_are step open
    rows_are commands 0
    while [ -n "${J[luns.$i.device]:-}" ]; do
        dev=${J[luns.$i.device]}
        nv_dev_nsid "$dev"
        ng=/dev/${NV[$REPLY.a_ng]}
        [[ ${J[luns.$i.error]} == "$ng: Permission denied (NVMe reservations need write access to the node"* ]] ||
            { show_last; fail "$dev: error '${J[luns.$i.error]}' does not name $ng and the write access it needs"; }
        i=$((i + 1))
    done
    [ "$i" -eq "$1" ] || { show_last; fail "$i rows, want $1"; }
    log "  every row: ${J[luns.0.error]}"
}
# state_is RTYPE [NODE:KEY:HOLDS ...]: every namespace's report (nvme-cli) shows RTYPE and exactly
# these registrants; any generation.
state_is() {
    local nsid want q=$QUIET rtype=$1
    shift
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
    want=${want% }
    QUIET=1
    for nsid in "${NV_NSIDS[@]}"; do
        nv_ns "$nsid"
        nv_report "$A_NG"
        nv_state_words
        [ "$RTYPE" = "$rtype" ] && [ "$REPLY" = "$want" ] ||
            { show_last; fail "NSID $nsid: rtype $RTYPE, registrants [$REPLY]; want $rtype, [$want]"; }
    done
    QUIET=$q
    log "  nvme-cli: every namespace rtype $rtype, registrants [${want:-none}]"
}

log "0. every namespace clean; prfop has no capability"
expect_pj 0 register --key feedf00d --ignore-existing "${A_NSS[@]}"
expect_pj 0 clear --key feedf00d "${A_NSS[@]}"
state_is 0
op_run 'id -u; id -g; grep ^CapEff /proc/self/status'
[ "$RC" -eq 0 ] && [[ $OUT == "$OP_ID"$'\n'"$OP_ID"$'\n'"CapEff:"*0000000000000000 ]] ||
    { show_last; fail "su does not give uid $OP_ID without capabilities"; }

log "1. A's nodes as the kernel made them (0600 root): every subcommand refused at the open"
for d in "${A_NGS[@]}" "${A_NSS[@]}"; do
    [ "${MODE_OF[$d]}" = "600 0 0" ] || fail "$d: mode, uid, gid ${MODE_OF[$d]}, want 600 0 0"
done
snapshot
BEFORE=$SNAP
AS_OP=1
pj keys "${A_NSS[@]}"
open_refused "$N"
pj register --key "$KEY_A" "${A_NSS[@]}"
open_refused "$N"
pj fence --key "$KEY_A" --victim "$KEY_B" "${A_NGS[@]}"
open_refused "$N"
pj caps "${A_NGS[@]}"
open_refused "$N"
pj probe "${A_NSS[@]}"
open_refused "$N"
log "   only the block nodes given to $OP"
chown "$OP:$OP" "${A_NSS[@]}"
pj register --key "$KEY_A" "${A_NSS[@]}"
open_refused "$N"
AS_OP=0
snapshot
[ "$SNAP" = "$BEFORE" ] || fail "namespaces changed: before [$BEFORE], after [$SNAP]"
log "  nvme-cli: nothing changed ($SNAP)"

log "2. $OP owns A's nodes: what works without CAP_SYS_ADMIN"
chown "$OP:$OP" "${A_NGS[@]}"
AS_OP=1
expect_pj 0 keys "${A_NSS[@]}"
expect_pj 0 register --key "$KEY_A" "${A_NSS[@]}"
expect_pj 0 reserve --key "$KEY_A" --type we "${A_NGS[@]}"
expect_pj 0 caps "${A_NSS[@]}"
rows_are capabilities.types.0 WE
expect_pj 0 probe "${A_NSS[@]}"
rows_are note "read and write access"
AS_OP=0
state_is 1 "A:$NV_KEY_A:1"
expect_pj 0 register --key "$KEY_B" "${B_NSS[@]}"
AS_OP=1
expect_pj 0 fence --key "$KEY_A" --victim "$KEY_B" "${A_NSS[@]}"
AS_OP=0
state_is 1 "A:$NV_KEY_A:1"
log "   a node $OP may only read"
chown 0:0 "${A_NGS[0]}"
chmod 604 "${A_NGS[0]}"
AS_OP=1
pj keys "${A_NGS[0]}"
open_refused 1
AS_OP=0
chmod 600 "${A_NGS[0]}"
chown "$OP:$OP" "${A_NGS[0]}"
log "   what the kernel refuses $OP on its own node (nvme-cli): admin commands but Identify"
nv_ns "${NV_NSIDS[0]}"
op_run nvme resv-notif-log "$A_NG"
[ "$RC" -ne 0 ] && [[ $OUT == *"Permission denied"* ]] || { show_last; fail "Get Log Page allowed to $OP"; }
op_run nvme get-feature "$A_NG" --feature-id=0x81 --cdw11=1 --data-len=16
[ "$RC" -ne 0 ] && [[ $OUT == *"Permission denied"* ]] || { show_last; fail "Get Features allowed to $OP"; }
op_run nvme id-ns "$A_NG" --namespace-id="$NSID"
[ "$RC" -eq 0 ] || { show_last; fail "Identify Namespace refused to $OP"; }
if [ "$IO_URING_DISABLED" != - ]; then
    log "   kernel.io_uring_disabled=1: io_uring only for CAP_SYS_ADMIN (or io_uring_group)"
    echo 1 >/proc/sys/kernel/io_uring_disabled
    AS_OP=1
    run prfence keys "${A_NSS[@]}"
    AS_OP=0
    echo "$IO_URING_DISABLED" >/proc/sys/kernel/io_uring_disabled
    [ "$RC" -eq 99 ] || { show_last; fail "exit $RC with io_uring disabled, want 99"; }
    [[ $OUT == *io_uring_queue_init:*kernel.io_uring_disabled*CAP_SYS_ADMIN*io_uring_group* ]] ||
        { show_last; fail "the error does not say which right io_uring wants"; }
    log "  $(grep -m1 -i 'io_uring' <<<"$OUT" | sed 's/^ *//')"
fi

log "3. nodes, sysctl and users restored; root clears every namespace"
restore
trap - EXIT
for d in "${A_NGS[@]}" "${A_NSS[@]}"; do
    [ "$(stat -c '%a %u %g' "$d")" = "${MODE_OF[$d]}" ] || fail "$d not restored"
done
expect_pj 0 clear --key "$KEY_A" "${A_NSS[@]}"
state_is 0
log PASS
