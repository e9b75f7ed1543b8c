# shellcheck shell=bash disable=SC2034 # variables for the scripts that source this
# Which /dev/sdX and /dev/sgN are which LU through which node, from sysfs. Sourced by /init and by test
# scripts that change the LUN set (installed as /prfence/lib/devices.sh).
#
# The map file (PRFENCE_VM_DEVICES, /run/prfence-vm/devices) has one line per LU, sorted by LUN:
#   <lun> <wwid> <a_hctl> <a_sd> <a_sg> <b_hctl> <b_sd> <b_sg>
# e.g. `3 naa.6001405... 0:0:0:3 sdd sg3 1:0:0:3 sdk sg10`; `-` where a node does not see the LU.
# Lines starting with # describe the nodes (SCSI host number, iSCSI session, initiator name, portal).
# The env file (/run/prfence-vm/env) has the same node facts as shell assignments:
#   PRFENCE_VM_NODE_A_HOST=0 PRFENCE_VM_NODE_A_IQN=... PRFENCE_VM_NODE_A_PORTAL=... (and _B_)
# (The initiator's ISID is not in sysfs; READ FULL STATUS shows it in the TransportIDs.)
#
# In the multipath topology node A has a second session (node "a2": A's initiator name, another portal).
# The map file's a_ columns stay A's first session; the env file adds PRFENCE_VM_NODE_A2_*; and the
# multipath map file (PRFENCE_VM_MPATHS, /run/prfence-vm/mpaths) has one line per LU:
#   <lun> <wwid> <map> <dm> <a_hctl> <a_sd> <a_sg> <a2_hctl> <a2_sd> <a2_sg> <b_hctl> <b_sd> <b_sg>
# <map> is the dm-multipath map's name (/dev/mapper/<map>, the WWID multipath uses: "3" + the NAA
# digits), <dm> its dm-N; `-` where something is missing (no map, or a path not in it).

# Prints "<host> <a|a2|b> <session> <initiator> <portal>" for each iSCSI session. The node comes from
# the initiator name (…:node-a / …:node-b), never from the host number, which depends on login order;
# node A's session through any portal but its first (NODE_A_PORTAL, lio.sh) is "a2".
vm_sessions() {
    local s sess host ini portal node
    for s in /sys/class/iscsi_session/session*; do
        [ -e "$s" ] || continue
        sess=${s##*/}
        host=$(readlink -f "$s/device")
        host=${host%/"$sess"}
        host=${host##*/host}
        ini=- portal=-
        IFS= read -r ini <"$s/initiatorname" || true
        IFS= read -r portal </sys/class/iscsi_connection/connection"${sess#session}":0/persistent_address || true
        case $ini in
            *:node-a) node=a; [ "$portal" != "${NODE_A_PORTAL:-127.0.0.1}" ] && node=a2 ;;
            *:node-b) node=b ;;
            *) node=- ;;
        esac
        echo "$host $node $sess $ini $portal"
    done
}

# Sets SD and SG to the block and sg device names of scsi_disk sysfs dir $1 (empty when not there yet).
# Globs and builtins only: this runs in polling loops, and every fork costs milliseconds under TCG.
vm_disk_nodes() {
    local b=("$1"/device/block/*) g=("$1"/device/scsi_generic/*)
    SD=${b[0]##*/} SG=${g[0]##*/}
    [ -e "${b[0]}" ] || SD=""
    [ -e "${g[0]}" ] || SG=""
}

# Counts SCSI disks that are fully there: a block device and an sg node, both with their /dev entries.
vm_ready_disks() {
    local d n=0
    for d in /sys/class/scsi_disk/*; do
        [ -e "$d" ] || continue
        vm_disk_nodes "$d"
        [ -n "$SD" ] && [ -n "$SG" ] && [ -b "/dev/$SD" ] && [ -c "/dev/$SG" ] && n=$((n + 1))
    done
    READY_DISKS=$n
}

# Writes the map and env files (arguments: map path, env path).
vm_write_device_map() {
    local map=$1 env=$2 host node sess ini portal d hctl h lun sd sg wwid up SD SG
    local -A node_of_host=()
    local -A lu_wwid=() lu_a=() lu_b=()
    : >"$env.tmp"
    {
        echo "# prfence-vm device map: one line per LU (docs: tests/vm/README.md)"
        while read -r host node sess ini portal; do
            node_of_host[$host]=$node
            echo "# node $node host $host $sess initiator $ini portal $portal"
            up=${node^^}
            printf 'PRFENCE_VM_NODE_%s_HOST=%s\nPRFENCE_VM_NODE_%s_IQN=%s\nPRFENCE_VM_NODE_%s_PORTAL=%s\n' \
                "$up" "$host" "$up" "$ini" "$up" "$portal" >>"$env.tmp"
        done < <(vm_sessions)
        echo "# lun wwid a_hctl a_sd a_sg b_hctl b_sd b_sg"
    } >"$map.tmp"
    for d in /sys/class/scsi_disk/*; do
        [ -e "$d" ] || continue
        hctl=${d##*/}
        h=${hctl%%:*}
        lun=${hctl##*:}
        vm_disk_nodes "$d"
        sd=${SD:--} sg=${SG:--} wwid=-
        [ -r "$d/device/wwid" ] && IFS= read -r wwid <"$d/device/wwid"
        lu_wwid[$lun]=${wwid// /_}
        case ${node_of_host[$h]:-} in
            a) lu_a[$lun]="$hctl $sd $sg" ;;
            b) lu_b[$lun]="$hctl $sd $sg" ;;
        esac
    done
    for lun in $(printf '%s\n' "${!lu_wwid[@]}" | sort -n); do
        echo "$lun ${lu_wwid[$lun]} ${lu_a[$lun]:-- - -} ${lu_b[$lun]:-- - -}"
    done >>"$map.tmp"
    mv "$map.tmp" "$map"
    mv "$env.tmp" "$env"
}

# Writes the multipath map file (argument: its path) from sysfs: every dm device whose uuid starts with
# "mpath-", its slaves, and the disks of every session (node a, a2, b) by LUN.
vm_write_mp_map() {
    local out=$1 host node sess ini portal d hctl h lun dm name uuid s SD SG
    local -A node_of_host=() lu_wwid=() lu_a=() lu_a2=() lu_b=() lun_of_sd=() lu_map=()
    while read -r host node sess ini portal; do node_of_host[$host]=$node; done < <(vm_sessions)
    for d in /sys/class/scsi_disk/*; do
        [ -e "$d" ] || continue
        hctl=${d##*/}
        h=${hctl%%:*}
        lun=${hctl##*:}
        vm_disk_nodes "$d"
        [ -n "$SD" ] && lun_of_sd[$SD]=$lun
        [ -r "$d/device/wwid" ] && [ -z "${lu_wwid[$lun]:-}" ] && IFS= read -r "lu_wwid[$lun]" <"$d/device/wwid"
        case ${node_of_host[$h]:-} in
            a) lu_a[$lun]="$hctl ${SD:--} ${SG:--}" ;;
            a2) lu_a2[$lun]="$hctl ${SD:--} ${SG:--}" ;;
            b) lu_b[$lun]="$hctl ${SD:--} ${SG:--}" ;;
        esac
    done
    for dm in /sys/block/dm-*; do
        [ -e "$dm/dm/uuid" ] || continue
        IFS= read -r uuid <"$dm/dm/uuid"
        [[ $uuid == mpath-* ]] || continue
        IFS= read -r name <"$dm/dm/name"
        for s in "$dm"/slaves/*; do
            lun=${lun_of_sd[${s##*/}]:-}
            [ -n "$lun" ] && lu_map[$lun]="$name ${dm##*/}"
        done
    done
    {
        echo "# prfence-vm multipath map: one line per LU (docs: tests/vm/README.md)"
        echo "# lun wwid map dm a_hctl a_sd a_sg a2_hctl a2_sd a2_sg b_hctl b_sd b_sg"
        for lun in $(printf '%s\n' "${!lu_wwid[@]}" | sort -n); do
            s=${lu_wwid[$lun]}
            echo "$lun ${s// /_} ${lu_map[$lun]:-- -} ${lu_a[$lun]:-- - -} ${lu_a2[$lun]:-- - -} ${lu_b[$lun]:-- - -}"
        done
    } >"$out.tmp"
    mv "$out.tmp" "$out"
}
