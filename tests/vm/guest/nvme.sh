# shellcheck shell=bash disable=SC2034 # variables for the scripts that source this
# SPDX-License-Identifier: MIT
# The nvme topology (PRFENCE_VM_TOPOLOGY=nvme): the kernel's NVMe target (nvmet) with reservations,
# reached over the nvme-loop transport by two NVMe hosts in the same kernel, node A and node B.
# Sourced by /init (installed as /prfence/lib/nvme.sh); the modules and nvme-cli come from build-image.sh's
# nvme layer (nvme-image.sh), the kernel from PRFENCE_VM_KERNEL=nvmet.
#
# Target: one subsystem (NV_NQN) with PRFENCE_VM_LUNS namespaces, NSIDs 1..N, each backed by a 1 MiB
# sparse file on tmpfs (buffered_io=1: tmpfs has no O_DIRECT), reservations switched on per namespace
# (resv_enable, which nvmet accepts only before the namespace is enabled), any host allowed, one loop port.
# Each namespace gets a fixed NGUID and UUID (5052464e-4e56-... with the NSID in the last digits), so its
# identifiers are the same on every boot.
#
# Hosts: each node connects with its own host NQN and host ID (nvmet keys registrants and the holder by
# host ID; the kernel's fabrics code refuses one host NQN with two host IDs). The connects are written to
# /dev/nvme-fabrics directly: nvme-cli 2.3 refuses a second host's connect to a subsystem it already
# sees ("already connected"). nvme_core is loaded with multipath=N (an insmod argument; busybox insmod
# does not read nvme_core.multipath= from the kernel command line): with native multipath both
# controllers would join one head, /dev/nvme0n1, and every command would take the same path, so node B
# could not be addressed. With multipath=N every controller has its own block devices and generic char
# devices: node A's /dev/nvmeAnH and /dev/ngAnH, node B's /dev/nvmeBnH and /dev/ngBnH (A and B the
# controller instances; H the head instance, shared, in discovery order, not the NSID).
#
# The map file (PRFENCE_VM_NVME, /run/prfence-vm/nvme) has one line per namespace, sorted by NSID:
#   <nsid> <nguid> <uuid> <eui64> <a_ctrl> <a_ns> <a_ng> <b_ctrl> <b_ns> <b_ng>
# e.g. `2 5052464e-4e56-0000-0000-000000000002 5052464e-4e56-4000-8000-000000000002 - nvme0 nvme0n1 ng0n1
# nvme1 nvme1n1 ng1n1` (names under /dev; `-` for what the kernel does not report); `#` lines name the
# nodes: `# node a nvme0 cntlid=1 hostnqn=... hostid=...`. The NSIDs come from each disk's sysfs `nsid`.

NV_NQN=nqn.2026-12.io.prfence:subsys1
NV_HOSTID_A=5052464e-0000-4000-8000-00000000000a
NV_HOSTID_B=5052464e-0000-4000-8000-00000000000b
NV_HOSTNQN_A=nqn.2014-08.org.nvmexpress:uuid:$NV_HOSTID_A
NV_HOSTNQN_B=nqn.2014-08.org.nvmexpress:uuid:$NV_HOSTID_B
NV_CFS=/sys/kernel/config/nvmet
NV_BACKING=/run/prfence-vm/nvme-backing
NV_CTRL_A="" NV_CTRL_B=""

nv_say() { echo "prfence-vm: $*"; }

# nv_load_modules [MULTIPATH]: loads the NVMe modules (build-image.sh's list, dependencies first),
# nvme-core with multipath=MULTIPATH (default N; the suite's nvme_paths.sh reloads with Y). Modules
# already loaded (nvme-auth, nvme-keyring after nv_unload) stay as they are.
nv_load_modules() {
    local path mp=${1:-N}
    while read -r path; do
        case ${path##*/} in
            nvme-core.ko) insmod "$path" multipath="$mp" || return 1 ;;
            *) [ -d "/sys/module/$(basename "${path//-/_}" .ko)" ] ||
                insmod "$path" 2>/dev/null || nv_say "insmod ${path##*/} failed (continuing)" ;;
        esac
    done </etc/prfence-vm/modules-nvme
    local m p
    for m in nvme_core nvme_fabrics nvmet nvme_loop; do [ -d "/sys/module/$m" ] || { nv_say "module $m did not load"; return 1; }; done
    IFS= read -r p </sys/module/nvme_core/parameters/multipath || return 1
    [ "$p" = "$mp" ] || { nv_say "nvme_core multipath=$p, not $mp"; return 1; }
}

# nv_unload: every host controller deleted, the target's port, namespaces and subsystem removed, and
# nvme-loop, nvmet, nvme-fabrics and nvme-core unloaded (nvmet uses nvme-core, so the target goes too).
# 1 with a message when something stays.
nv_unload() {
    local c ns tries m
    for c in /sys/class/nvme/nvme*; do
        [ -e "$c/delete_controller" ] && echo 1 >"$c/delete_controller"
    done
    for ((tries = 0; tries < 100; tries++)); do
        compgen -G '/sys/class/nvme/nvme*' >/dev/null || break
        sleep 0.1
    done
    compgen -G '/sys/class/nvme/nvme*' >/dev/null && { nv_say "controllers left: $(ls /sys/class/nvme)"; return 1; }
    local s=$NV_CFS/subsystems/$NV_NQN
    rm -f "$NV_CFS"/ports/1/subsystems/*
    [ -d "$NV_CFS/ports/1" ] && rmdir "$NV_CFS/ports/1"
    for ns in "$s"/namespaces/*; do
        [ -d "$ns" ] || continue
        echo 0 >"$ns/enable"
        rmdir "$ns"
    done
    [ -d "$s" ] && rmdir "$s"
    rm -f "$NV_BACKING"/ns*.img
    for m in nvme_loop nvmet nvme_fabrics nvme_core; do
        [ -d "/sys/module/$m" ] || continue
        rmmod "$m" || { nv_say "cannot unload $m"; return 1; }
    done
}

# The NGUID and UUID of namespace NSID (decimal): fixed prefixes, the NSID in hex in the last digits.
nv_ids() {
    local h
    printf -v h '%012x' "$1"
    NV_NGUID=5052464e-4e56-0000-0000-$h
    NV_UUID=5052464e-4e56-4000-8000-$h
}

# The target: subsystem, N namespaces with reservations, the loop port.
nv_target_setup() {
    local n=$1 s=$NV_CFS/subsystems/$NV_NQN i ns
    mkdir -p "$NV_BACKING" || return 1
    local -a files=() dirs=()
    for ((i = 1; i <= n; i++)); do
        files+=("$NV_BACKING/ns$i.img")
        dirs+=("$s/namespaces/$i")
    done
    truncate -s 1M "${files[@]}" || return 1
    mkdir "$s" || return 1
    echo 1 >"$s/attr_allow_any_host" || return 1
    mkdir "${dirs[@]}" || return 1
    for ((i = 1; i <= n; i++)); do
        ns=$s/namespaces/$i
        nv_ids "$i"
        printf '%s' "$NV_BACKING/ns$i.img" >"$ns/device_path" || return 1
        echo 1 >"$ns/buffered_io" || return 1
        echo "$NV_NGUID" >"$ns/device_nguid" || return 1
        echo "$NV_UUID" >"$ns/device_uuid" || return 1
        echo 1 >"$ns/resv_enable" || { nv_say "cannot enable reservations on namespace $i"; return 1; }
        echo 1 >"$ns/enable" || { nv_say "cannot enable namespace $i"; return 1; }
    done
    mkdir "$NV_CFS/ports/1" || return 1
    echo loop >"$NV_CFS/ports/1/addr_trtype" || return 1
    ln -s "$s" "$NV_CFS/ports/1/subsystems/" || return 1
}

# nv_connect HOSTNQN HOSTID [OPTIONS]: connects one host over loop (OPTIONS appended to the fabrics
# options, e.g. ",duplicate_connect" for a host's second controller); sets NV_CTRL (nvmeN) from the
# reply, which is only readable on the fd the options were written to.
nv_connect() {
    local reply="" fd
    exec {fd}<>/dev/nvme-fabrics || return 1
    printf 'transport=loop,nqn=%s,hostnqn=%s,hostid=%s%s' "$NV_NQN" "$1" "$2" "${3:-}" >&"$fd" || { exec {fd}<&-; return 1; }
    IFS= read -r reply <&"$fd"
    exec {fd}<&-
    [[ $reply =~ instance=([0-9]+) ]] || { nv_say "connect for $1: unexpected reply '$reply'"; return 1; }
    NV_CTRL=nvme${BASH_REMATCH[1]}
}

# Counts controller $1's namespaces whose block and generic char devices are both in /dev.
nv_ready_count() {
    local d name n=0 ctrl=$1
    for d in /sys/class/nvme/"$ctrl"/"$ctrl"n*; do
        [ -e "$d" ] || continue
        name=${d##*/}
        [ -b "/dev/$name" ] && [ -c "/dev/ng${name#nvme}" ] && n=$((n + 1))
    done
    NV_READY=$n
}

# Waits (60 s + 1 s per namespace at most) until both controllers show all N namespaces.
nv_wait_namespaces() {
    local want=$1 tries=$(((60 + $1) * 5)) a b
    while [ "$tries" -gt 0 ]; do
        nv_ready_count "$NV_CTRL_A"
        a=$NV_READY
        nv_ready_count "$NV_CTRL_B"
        b=$NV_READY
        [ "$a" -ge "$want" ] && [ "$b" -ge "$want" ] && return 0
        sleep 0.2
        tries=$((tries - 1))
    done
    nv_say "only $a (node A) and $b (node B) of $want namespaces appeared"
    return 1
}

nv_attr() { # FILE: REPLY = its first line, or - when missing or empty
    REPLY=-
    [ -r "$1" ] && IFS= read -r REPLY <"$1" 2>/dev/null
    [ -n "$REPLY" ] || REPLY=-
}

# Writes the map file (argument) and appends the node facts to the env file (second argument).
nv_write_map() {
    local map=$1 env=$2 d name nsid node ctrl cntlid
    local -A a=() b=() ids=()
    for node in A B; do
        [ "$node" = A ] && ctrl=$NV_CTRL_A || ctrl=$NV_CTRL_B
        for d in /sys/class/nvme/"$ctrl"/"$ctrl"n*; do
            [ -e "$d/nsid" ] || continue
            name=${d##*/}
            IFS= read -r nsid <"$d/nsid"
            if [ "$node" = A ]; then
                a[$nsid]="$ctrl $name ng${name#nvme}"
                local nguid uuid eui
                nv_attr "$d/nguid"; nguid=$REPLY
                nv_attr "$d/uuid"; uuid=$REPLY
                nv_attr "$d/eui"; eui=$REPLY
                ids[$nsid]="$nguid $uuid $eui"
            else
                b[$nsid]="$ctrl $name ng${name#nvme}"
            fi
        done
    done
    {
        for node in A B; do
            [ "$node" = A ] && ctrl=$NV_CTRL_A || ctrl=$NV_CTRL_B
            nv_attr "/sys/class/nvme/$ctrl/cntlid"; cntlid=$REPLY
            if [ "$node" = A ]; then
                echo "# node a $ctrl cntlid=$cntlid hostnqn=$NV_HOSTNQN_A hostid=$NV_HOSTID_A"
            else
                echo "# node b $ctrl cntlid=$cntlid hostnqn=$NV_HOSTNQN_B hostid=$NV_HOSTID_B"
            fi
        done
        echo "# nsid nguid uuid eui64 a_ctrl a_ns a_ng b_ctrl b_ns b_ng (subsystem $NV_NQN)"
        for nsid in "${!a[@]}" "${!b[@]}"; do echo "$nsid"; done | sort -n -u | while read -r nsid; do
            echo "$nsid ${ids[$nsid]:-- - -} ${a[$nsid]:-- - -} ${b[$nsid]:-- - -}"
        done
    } >"$map"
    local ca cb
    nv_attr "/sys/class/nvme/$NV_CTRL_A/cntlid"; ca=$REPLY
    nv_attr "/sys/class/nvme/$NV_CTRL_B/cntlid"; cb=$REPLY
    cat >>"$env" <<EOF
PRFENCE_VM_NVME=$map
PRFENCE_VM_NVME_NQN=$NV_NQN
PRFENCE_VM_NODE_A_CTRL=$NV_CTRL_A
PRFENCE_VM_NODE_A_CNTLID=$ca
PRFENCE_VM_NODE_A_HOSTNQN=$NV_HOSTNQN_A
PRFENCE_VM_NODE_A_HOSTID=$NV_HOSTID_A
PRFENCE_VM_NODE_B_CTRL=$NV_CTRL_B
PRFENCE_VM_NODE_B_CNTLID=$cb
PRFENCE_VM_NODE_B_HOSTNQN=$NV_HOSTNQN_B
PRFENCE_VM_NODE_B_HOSTID=$NV_HOSTID_B
EOF
}

# The whole setup: target, both hosts, the map (argument: its path; second: the env file). 1 with a
# message on failure.
nv_setup() {
    local n=$PRFENCE_VM_LUNS map=$1 env=$2
    nv_target_setup "$n" || { nv_say "nvmet target setup failed"; return 1; }
    nv_say "nvmet: $n namespaces with reservations at $(cut -d' ' -f1 /proc/uptime)s"
    nv_connect "$NV_HOSTNQN_A" "$NV_HOSTID_A" || { nv_say "node A could not connect"; return 1; }
    NV_CTRL_A=$NV_CTRL
    nv_connect "$NV_HOSTNQN_B" "$NV_HOSTID_B" || { nv_say "node B could not connect"; return 1; }
    NV_CTRL_B=$NV_CTRL
    nv_say "node A is $NV_CTRL_A, node B is $NV_CTRL_B"
    nv_wait_namespaces "$n" || return 1
    nv_write_map "$map" "$env"
    if awk '!/^#/ { for (i = 5; i <= NF; i++) if ($i == "-") bad = 1; n++ } END { exit !(bad || n != '"$n"') }' "$map"; then
        nv_say "a namespace lacks a device on one node:"
        cat "$map"
        return 1
    fi
}
