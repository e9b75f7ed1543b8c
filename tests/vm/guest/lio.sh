# shellcheck shell=bash disable=SC2034 # variables for the scripts that source this
# LIO (the kernel's SCSI target) and open-iscsi login helpers for the test guest. Sourced by /init and by
# test scripts that change the LUN set (installed as /prfence/lib/lio.sh).
#
# Why iSCSI and not tcm_loop: PREEMPT AND ABORT deadlocks LIO over tcm_loop (the PR OUT runs in the
# target_submission workqueue and core_tmr_lun_reset flushes that same work; the LU is dead until reboot).
# Over iscsi_target_mod the command completes, and each initiator is a real I_T nexus with a real iSCSI
# TransportID (name + ISID). Seen on Debian's 6.1.x and 6.12.x kernels.
#
# Layout: one rd_mcp HBA (core/rd_mcp_0) with one ramdisk device per LU (lu<i>, 64 pages = 256 KiB),
# one iSCSI target with one TPG, two network portals (127.0.0.1:3260 for node A, 127.0.0.2:3260 for node
# B: iscsistart refuses a second session to the same portal), LUN i -> lu<i>, demo mode (dynamic ACLs for
# any initiator name), no authentication.

LIO_CFG=/sys/kernel/config/target
LIO_TARGET_IQN=iqn.2003-01.org.linux-iscsi.prfence:target
LIO_TPG=$LIO_CFG/iscsi/$LIO_TARGET_IQN/tpgt_1
LIO_RD_PAGES=${LIO_RD_PAGES:-64}
NODE_A_IQN=iqn.2003-01.org.linux-iscsi.prfence:node-a
NODE_B_IQN=iqn.2003-01.org.linux-iscsi.prfence:node-b
NODE_A_PORTAL=127.0.0.1
NODE_B_PORTAL=127.0.0.2
# Node A's second session in the multipath topology: a third network portal on the same TPG, so LIO sees
# a second I_T nexus for node A (same initiator name, the ISID open-iscsi gives the next session).
NODE_A2_PORTAL=127.0.0.3

# The unit serial number LIO puts in VPD page 80h. LIO builds the NAA designator of page 83h from its
# first 25 hex digits, so the LU index must come early: "PRFN" in hex, then the index. Set explicitly so
# that every boot gives the same WWIDs (naa.60014055052464e000N...) for fixtures, logs and the map.
lio_unit_serial() { printf '5052464e%04x' "$1"; }

# Configures and enables ramdisk backstore lu<i> (its directory exists). Must happen before the LU is
# exported: LIO refuses to change the unit serial of a device that has exports.
lio_backstore_enable() {
    local d=$LIO_CFG/core/rd_mcp_0/lu$1
    echo "rd_pages=$LIO_RD_PAGES" >"$d/control"
    lio_unit_serial "$1" >"$d/wwn/vpd_unit_serial"
    echo 1 >"$d/enable"
}

lio_backstore_create() {
    mkdir -p "$LIO_CFG/core/rd_mcp_0/lu$1"
    lio_backstore_enable "$1"
}

# Exports backstore lu<i> as LUN i of the target. With sessions logged in, LIO queues UNIT ATTENTION
# REPORTED LUNS DATA HAS CHANGED to them; the initiators only see the new LUN after a rescan.
lio_lun_add() {
    local i=$1
    mkdir "$LIO_TPG/lun/lun_$i"
    ln -s "$LIO_CFG/core/rd_mcp_0/lu$i" "$LIO_TPG/lun/lun_$i/lu$i"
}

# The whole target with N LUs. The persistent-reservation state directory must exist: without
# /var/target/pr LIO answers REGISTER with a failure although the key does get registered.
lio_target_setup() {
    local n=$1 i
    local -a bs=() luns=()
    mkdir -p /var/target/pr "$LIO_CFG/core/rd_mcp_0"
    # One mkdir for all directories of a level: every process costs milliseconds under TCG.
    for ((i = 0; i < n; i++)); do bs+=("$LIO_CFG/core/rd_mcp_0/lu$i") luns+=("$LIO_TPG/lun/lun_$i"); done
    mkdir "${bs[@]}"
    for ((i = 0; i < n; i++)); do lio_backstore_enable "$i"; done
    mkdir -p "$LIO_TPG"
    mkdir "$LIO_TPG/np/$NODE_A_PORTAL:3260" "$LIO_TPG/np/$NODE_B_PORTAL:3260"
    mkdir "${luns[@]}"
    for ((i = 0; i < n; i++)); do ln -s "$LIO_CFG/core/rd_mcp_0/lu$i" "$LIO_TPG/lun/lun_$i/lu$i"; done
    # Demo mode: any initiator name gets a dynamic ACL mapping every LUN; kept after logout so that a
    # re-login finds its registrations' ACL again.
    echo 1 >"$LIO_TPG/attrib/generate_node_acls"
    echo 1 >"$LIO_TPG/attrib/cache_dynamic_acls"
    echo 0 >"$LIO_TPG/attrib/demo_mode_write_protect"
    echo 0 >"$LIO_TPG/attrib/authentication"
    echo 1 >"$LIO_TPG/enable"
}

# Adds a network portal (address; port 3260) to the running TPG.
lio_portal_add() {
    mkdir "$LIO_TPG/np/$1:3260"
}

# Logs initiator IQN in to PORTAL with open-iscsi's iscsistart (no iscsid needed). Each session becomes a
# SCSI host of its own: node A is host 0, node B host 1 when they log in in that order.
iscsi_login() {
    local iqn=$1 portal=$2
    iscsistart -i "$iqn" -t "$LIO_TARGET_IQN" -g 1 -a "$portal" -p 3260
}

# Asks every iSCSI SCSI host to scan for new LUNs (after lio_lun_add).
iscsi_rescan() {
    local h
    for h in /sys/class/iscsi_host/host*; do
        echo "- - -" >"/sys/class/scsi_host/${h##*/}/scan"
    done
}

# The APTPL file LIO keeps for LU i: every PR change made while APTPL is active rewrites it.
lio_aptpl_file() { echo "/var/target/pr/aptpl_$(lio_unit_serial "$1")"; }

# Takes LU i away as a target that loses it does: the LUN export goes (initiators then get ILLEGAL
# REQUEST, LOGICAL UNIT NOT SUPPORTED), then the backstore with all its PR state in memory. The APTPL
# file stays on disk: LIO does not remove it when the device goes.
lio_lu_down() {
    local i=$1
    rm "$LIO_TPG/lun/lun_$i/lu$i"
    rmdir "$LIO_TPG/lun/lun_$i"
    rmdir "$LIO_CFG/core/rd_mcp_0/lu$i"
}

# Brings LU i back after lio_lu_down with its APTPL state, the way targetcli's restore does: LIO does not
# read its APTPL file itself, so each registration record (PR_REG_START .. PR_REG_END) of the file is
# written to pr/res_aptpl_metadata as one comma-separated line, before the LU is exported again (LIO
# refuses APTPL metadata while the device has exports). The initiators' registrations come alive when
# their sessions' ACLs see the LUN again.
lio_lu_up() {
    local i=$1 d=$LIO_CFG/core/rd_mcp_0/lu$1 f rec
    f=$(lio_aptpl_file "$i")
    mkdir "$d"
    lio_backstore_enable "$i"
    if [ -s "$f" ]; then
        while IFS= read -r rec; do
            [ -n "$rec" ] && echo "$rec" >"$d/pr/res_aptpl_metadata"
        done < <(awk '/^PR_REG_START/ { r = ""; next }
                      /^PR_REG_END/ { print r; next }
                      /=/ { r = (r == "" ? $0 : r "," $0) }' "$f")
    fi
    lio_lun_add "$i"
}
