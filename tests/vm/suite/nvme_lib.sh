# shellcheck shell=bash disable=SC2034 # variables for the tests that source this
# SPDX-License-Identifier: MIT
# Helpers for guest tests on the nvme topology (PRFENCE_VM_TOPOLOGY=nvme): nvmet exports namespaces with
# reservations over nvme-loop to two NVMe hosts in the guest's kernel, node A and node B, each with its
# own host NQN and host ID and its own controller, block devices and generic char devices
# (guest/nvme.sh). Sourced after lib.sh:
#   . "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
#   . "$PRFENCE_VM_SUITE/nvme_lib.sh"     # skips (77) the test outside the nvme topology
#
# nv_ns NSID sets, for that namespace (/dev paths):
#   NSID  A_NS A_NG A_CTRL (node A's block device, generic char device, controller)  B_NS B_NG B_CTRL
#   NGUID UUID EUI64 (`-` when the kernel reports none)
# NV_NSIDS lists the NSIDs; A_NSS A_NGS B_NSS B_NGS every namespace's devices, in that order.
# HOSTID_A / HOSTID_B: the nodes' host IDs as nvme-cli prints them (32 hex digits). NV_KEY_A / NV_KEY_B:
# lib.sh's KEY_A / KEY_B as decimal numbers (nvme-cli 2.3 prints keys in decimal in JSON).
#
# nvme-cli 2.3 (Debian 12) wrappers, each through lib.sh's run (OUT, RC):
#   nv_report DEV          resv-report --eds -o json (nvmet answers only the extended layout; 2.3 does not
#                          ask for it by itself): sets RGEN RTYPE REGCTL and REGS, one
#                          "<hostid> <rkey> <rcsts>" per registrant; fails the test on a non-zero exit
#   nv_expect_state DEV GEN RTYPE [NODE:KEY:HOLDS ...]   the report must show generation GEN, type RTYPE and
#                          exactly these registrants (NODE A or B, KEY decimal, HOLDS 1 for the holder)
#   nv_notif CTRL          resv-notif-log -o json: sets NOTIF_TYPE NOTIF_NSID NOTIF_AVAIL (one log page;
#                          reading it consumes it)
#   nv_drain_notif CTRL    reads the controller's reservation notification log until it is empty
#   nv_clean NSID          no registrant and no reservation on the namespace (A registers a throw-away key
#                          and clears), and both nodes' notification logs drained
# Every command names the namespace (--namespace-id): the kernel refuses a passthrough command whose NSID
# is not the device's (EINVAL, "nsid (2) in cmd does not match nsid (3) of namespace" in dmesg).
set -euo pipefail

[ "${PRFENCE_VM_TOPOLOGY:-single}" = nvme ] ||
    skip "needs the nvme topology (PRFENCE_VM_TOPOLOGY=nvme tests/vm/run.sh ...)"
: "${PRFENCE_VM_NVME:=/run/prfence-vm/nvme}"
[ -r "$PRFENCE_VM_NVME" ] || fail "no namespace map $PRFENCE_VM_NVME"
# shellcheck disable=SC1090 # written by the guest's init
. "${PRFENCE_VM_ENV:-/run/prfence-vm/env}"
command -v nvme >/dev/null || fail "no nvme-cli in the guest"

HOSTID_A=${PRFENCE_VM_NODE_A_HOSTID//-/}
HOSTID_B=${PRFENCE_VM_NODE_B_HOSTID//-/}
NV_KEY_A=$((16#$KEY_A))
NV_KEY_B=$((16#$KEY_B))
NV_KEY_CLEAN=$((16#feedf00d))

declare -A NV=()
NV_NSIDS=() A_NSS=() A_NGS=() B_NSS=() B_NGS=()
while read -r nsid nguid uuid eui actrl ans ang bctrl bns bng; do
    [[ $nsid == \#* || -z $nsid ]] && continue
    NV_NSIDS+=("$nsid")
    NV[$nsid.nguid]=$nguid NV[$nsid.uuid]=$uuid NV[$nsid.eui]=$eui
    NV[$nsid.a_ctrl]=$actrl NV[$nsid.a_ns]=$ans NV[$nsid.a_ng]=$ang
    NV[$nsid.b_ctrl]=$bctrl NV[$nsid.b_ns]=$bns NV[$nsid.b_ng]=$bng
    A_NSS+=("/dev/$ans") A_NGS+=("/dev/$ang") B_NSS+=("/dev/$bns") B_NGS+=("/dev/$bng")
done <"$PRFENCE_VM_NVME"
[ ${#NV_NSIDS[@]} -gt 0 ] || fail "no namespaces in $PRFENCE_VM_NVME"

nv_ns() {
    [ -n "${NV[$1.a_ns]:-}" ] || fail "no namespace $1 in the namespace map"
    NSID=$1 NGUID=${NV[$1.nguid]} UUID=${NV[$1.uuid]} EUI64=${NV[$1.eui]}
    A_NS=/dev/${NV[$1.a_ns]} A_NG=/dev/${NV[$1.a_ng]} A_CTRL=/dev/${NV[$1.a_ctrl]}
    B_NS=/dev/${NV[$1.b_ns]} B_NG=/dev/${NV[$1.b_ng]} B_CTRL=/dev/${NV[$1.b_ctrl]}
}

# The NSID of a namespace device from sysfs (block /dev/nvmeXnY or generic /dev/ngXnY).
nv_dev_nsid() {
    local n=${1#/dev/} f
    case $n in ng*) n=nvme${n#ng} ;; esac
    f=/sys/block/$n/nsid
    IFS= read -r REPLY <"$f" || fail "no $f"
}

nv_node_of_hostid() {
    case $1 in
        "$HOSTID_A") REPLY=A ;;
        "$HOSTID_B") REPLY=B ;;
        *) REPLY="?$1" ;;
    esac
}

nv_report() {
    local dev=$1 parsed line
    nv_dev_nsid "$dev"
    run nvme resv-report "$dev" --namespace-id="$REPLY" --eds -o json
    [ "$RC" -eq 0 ] || { show_last; fail "resv-report on $dev failed"; }
    # nvme-cli 2.3 prints one "key":value per line; a registrant's object ends with a "}" line.
    parsed=$(awk -F: '{ gsub(/[ ",\t]/, "") }
        $1 == "gen" { g = $2 } $1 == "rtype" { t = $2 } $1 == "regctl" { r = $2 }
        $1 == "rkey" { k = $2 } $1 == "rcsts" { s = $2 } $1 == "hostid" { h = $2 }
        $0 == "}" && h != "" { print "R", h, k, s; h = "" }
        END { print "H", g, t, r }' <<<"$OUT")
    REGS=() RGEN="" RTYPE="" REGCTL=""
    while read -r line; do
        case $line in
            R\ *) REGS+=("${line#R }") ;;
            H\ *) read -r _ RGEN RTYPE REGCTL <<<"$line" ;;
        esac
    done <<<"$parsed"
    [ -n "$RGEN" ] && [ -n "$RTYPE" ] && [ -n "$REGCTL" ] || { show_last; fail "cannot read the report"; }
    [ "$REGCTL" -eq ${#REGS[@]} ] || { show_last; fail "regctl $REGCTL but ${#REGS[@]} registrants listed"; }
}

# Registrants of the last nv_report as sorted "NODE:KEY:RCSTS" words (RCSTS bit 0: holds the reservation).
nv_state_words() {
    local r h k s
    local -a w=()
    for r in "${REGS[@]}"; do
        read -r h k s <<<"$r"
        nv_node_of_hostid "$h"
        w+=("$REPLY:$k:$((s & 1))")
    done
    REPLY=$(printf '%s\n' "${w[@]}" | sort | tr '\n' ' ')
    REPLY=${REPLY% }
}

nv_expect_state() { # DEV GEN RTYPE [NODE:KEY:HOLDS ...]
    local dev=$1 gen=$2 rtype=$3 want
    shift 3
    nv_report "$dev"
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
    want=${want% }
    nv_state_words
    if [ "$RGEN" != "$gen" ] || [ "$RTYPE" != "$rtype" ] || [ "$REPLY" != "$want" ]; then
        show_last
        fail "expected gen $gen, rtype $rtype, registrants [$want]; got gen $RGEN, rtype $RTYPE, registrants [$REPLY]"
    fi
    log "  state: gen $RGEN, rtype $RTYPE, registrants [${REPLY:-none}]"
}

nv_notif() {
    run nvme resv-notif-log "$1" -o json
    [ "$RC" -eq 0 ] || { show_last; fail "resv-notif-log on $1 failed"; }
    NOTIF_TYPE=$(awk -F: '{ gsub(/[ ",\t]/, "") } $1 == "rn_log_type" { print $2 }' <<<"$OUT")
    NOTIF_NSID=$(awk -F: '{ gsub(/[ ",\t]/, "") } $1 == "nsid" { print $2 }' <<<"$OUT")
    NOTIF_AVAIL=$(awk -F: '{ gsub(/[ ",\t]/, "") } $1 == "num_logs" { print $2 }' <<<"$OUT")
    [ -n "$NOTIF_TYPE" ] || { show_last; fail "no rn_log_type in resv-notif-log's output"; }
}

nv_drain_notif() {
    local i q=$QUIET
    QUIET=1
    for i in $(seq 300); do
        nv_notif "$1"
        [ "$NOTIF_TYPE" = 0 ] && { QUIET=$q; return 0; }
    done
    QUIET=$q
    fail "the notification log of $1 did not empty"
}

nv_clean() {
    nv_ns "$1"
    local q=$QUIET
    QUIET=1
    nv_report "$A_NS"
    if [ "$REGCTL" -gt 0 ]; then
        run nvme resv-register "$A_NS" --namespace-id="$NSID" --nrkey="$NV_KEY_CLEAN" --rrega=0
        [ "$RC" -eq 0 ] || run nvme resv-register "$A_NS" --namespace-id="$NSID" --nrkey="$NV_KEY_CLEAN" --rrega=2 --iekey
        [ "$RC" -eq 0 ] || { show_last; fail "cannot register node A on namespace $NSID to clean it"; }
        run nvme resv-release "$A_NS" --namespace-id="$NSID" --crkey="$NV_KEY_CLEAN" --rrela=1
        [ "$RC" -eq 0 ] || { show_last; fail "cannot clear namespace $NSID"; }
        nv_report "$A_NS"
        [ "$REGCTL" -eq 0 ] && [ "$RTYPE" -eq 0 ] || { show_last; fail "namespace $NSID not clean after a clear"; }
    fi
    nv_drain_notif "$A_CTRL"
    nv_drain_notif "$B_CTRL"
    QUIET=$q
}

# One 4 KiB O_DIRECT write of zeros at LBA 0 (the namespaces have 4 KiB blocks).
nv_write() { run dd if=/dev/zero of="$1" bs=4096 count=1 oflag=direct; }

# GEN_OF[nsid]: the generation a test expects each namespace at; the test sets it from a first read
# and moves it with nv_bump as nvmet counts each change.
declare -A GEN_OF=()
# nv_bump BY [FROM [COUNT]]: GEN_OF +BY for the namespaces at indices FROM..FROM+COUNT-1 of NV_NSIDS
# (default: every one).
nv_bump() {
    local by=$1 from=${2:-0} count=${3:-${#NV_NSIDS[@]}} i
    for ((i = from; i < from + count; i++)); do
        GEN_OF[${NV_NSIDS[$i]}]=$((GEN_OF[${NV_NSIDS[$i]}] + by))
    done
}
# nv_expect_all NODE RTYPE [HOST:KEY:HOLDS ...]: nvme-cli's report of every namespace, read through
# NODE (the name of the variable nv_ns sets: A_NS, A_NG, B_NS or B_NG), shows GEN_OF[nsid], RTYPE
# and exactly these registrants.
nv_expect_all() {
    local node=$1 n q=$QUIET
    shift
    QUIET=1
    for n in "${NV_NSIDS[@]}"; do
        nv_ns "$n"
        nv_expect_state "${!node}" "${GEN_OF[$n]}" "$@"
    done
    QUIET=$q
    log "  nvme-cli: every namespace at its generation, rtype $1, registrants [${*:2}]"
}
