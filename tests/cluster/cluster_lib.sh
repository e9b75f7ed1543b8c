# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# A real single-node Corosync + Pacemaker cluster for the tests of this folder: cluster "prfence",
# one member node-a (nodeid 1, knet on 127.0.0.1), no systemd. Corosync and pacemakerd run as children
# of the test script (PID 1 here may not reap orphans, so nothing is left to it), and everything they
# and the test leave is removed on exit: the daemons (pacemakerd --shutdown, corosync-cfgtool -H, then
# SIGKILL by PID of whatever is still alive), the CIB and the cluster's state files created during the
# run, and the /usr/sbin/fence_* entries the test installed (an entry that was there before is put
# back). Corosync reads its configuration from the temporary directory (corosync -c), so
# /etc/corosync/corosync.conf is never touched.
#
# Pacemaker 2.1.5 runs fence agents only from /usr/sbin (PCMK__FENCE_BINDIR; a symlink is followed).
# The fencer sends the agent its parameters on stdin, runs it in its own process group and SIGKILLs
# that group at the action's timeout (pcmk_<action>_timeout).
#
# Usage (after sourcing):
#   cluster_prepare                 root, packages, the machine-wide lock, no other cluster; else exit 77
#   cluster_agent NAME TARGET       /usr/sbin/NAME -> TARGET for this run
#   cluster_seed [XML]...           a fresh CIB: dc-deadtime=2s, stonith-enabled=true, the resources given
#   cluster_start                   corosync, quorate, then pacemakerd with the fencer answering
#   cluster_wait_dc                 the DC is elected (the scheduler runs: automatic unfencing)
# Sets CL_DIR (the run's temporary directory; pacemaker.log and corosync.log are there). With
# PRFENCE_CLUSTER_KEEP=DIR the logs are copied to DIR at the end.
set -u
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
export PATH
CL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CL_DIR=$(mktemp -d "${TMPDIR:-/tmp}/prfence-cluster.XXXXXX")
chmod 0755 "$CL_DIR"  # pacemaker-based (user hacluster) reads the seed CIB's copy, the agent runs as root
CL_LOCK=/run/lock/prfence-cluster.lock
CL_COROSYNC_PID='' CL_PACEMAKERD_PID=''
CL_CHILDREN=()      # pacemakerd's daemons, recorded once up (killed by PID if a shutdown leaves them)
CL_AGENTS=()        # /usr/sbin entries this run installed
CL_STATE_DIRS=(/var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox
               /var/lib/pacemaker/cores /var/lib/corosync /var/log/pacemaker /var/log/corosync)
CL_EXTRA_CLEANUP=()  # commands the test adds (its prsim, prfenced)
trap cluster_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cl_skip() { echo "SKIP: $*"; exit 77; }

# A daemon's PID is alive (and not a zombie waiting for its parent).
cl_alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

# cl_wait_gone PID SECONDS: wait for a child to exit (reaping it); 1 if it is still there.
cl_wait_gone() {
    local pid=$1 n=$(($2 * 10))
    while [ "$n" -gt 0 ] && cl_alive "$pid"; do sleep 0.1; n=$((n - 1)); done
    cl_alive "$pid" && return 1
    wait "$pid" 2>/dev/null
    return 0
}

# The live (non-zombie) processes called NAME, as PIDs; used to refuse a machine running a cluster.
cl_pids_named() { ps -eo pid=,stat=,comm= | awk -v n="$1" '$3 == n && $2 !~ /^Z/ {print $1}'; }

cluster_prepare() {
    [ "$(id -u)" -eq 0 ] || cl_skip "a Corosync + Pacemaker cluster needs root (pacemakerd refuses a non-root corosync)"
    # shellcheck source=../../tools/deps.sh
    . "$CL_ROOT/tools/deps.sh"
    prfence_install_cluster_deps ||
        cl_skip "pacemaker, pacemaker-cli-utils and corosync are not installed and could not be (tools/deps.sh cluster set)"
    local t
    for t in corosync pacemakerd stonith_admin cibadmin crm_attribute crm_mon corosync-quorumtool corosync-cfgtool; do
        command -v "$t" >/dev/null || cl_skip "$t not found after installing the cluster set"
    done
    # One cluster per machine (knet's UDP port, libqb's IPC names, /usr/sbin/fence_*): runs of this
    # suite from several build trees wait for each other.
    exec 9>"$CL_LOCK"
    flock -w 900 9 || { echo "FAIL: another cluster test held $CL_LOCK for 900 s"; exit 1; }
    local p
    for p in corosync pacemakerd pacemaker-fence pacemaker-based; do  # comm: 15 characters
        [ -z "$(cl_pids_named "$p")" ] ||
            cl_skip "$p is already running (pid $(cl_pids_named "$p" | tr '\n' ' ')): this machine has a cluster of its own"
    done
    # What the state directories held before: cluster_cleanup removes only what appears during the run.
    find "${CL_STATE_DIRS[@]}" -mindepth 1 2>/dev/null | sort >"$CL_DIR/state.before"
    find /dev/shm -maxdepth 1 -name 'qb-*' 2>/dev/null | sort >"$CL_DIR/shm.before"
}

# cluster_agent NAME TARGET: /usr/sbin/NAME becomes a symlink to TARGET for this run.
cluster_agent() {
    local name=$1 target path=/usr/sbin/$1
    target=$(readlink -f "$2")
    if [ -e "$path" ] || [ -L "$path" ]; then
        # Put aside once; the original comes back in cluster_cleanup.
        [ -e "$CL_DIR/orig.$name" ] || [ -L "$CL_DIR/orig.$name" ] || mv "$path" "$CL_DIR/orig.$name"
        rm -f "$path"
    fi
    ln -s "$target" "$path"
    CL_AGENTS+=("$name")
}

# cluster_seed [PRIMITIVE_XML]...: the CIB pacemaker-based starts from (no DC wait of 20 s, fencing on).
cluster_seed() {
    local seed=$CL_DIR/seed.xml x
    cibadmin --empty >"$seed" || { echo "FAIL: cibadmin --empty"; exit 1; }
    CIB_file=$seed crm_attribute -t crm_config -n dc-deadtime -v 2s >/dev/null &&
        CIB_file=$seed crm_attribute -t crm_config -n stonith-enabled -v true >/dev/null ||
        { echo "FAIL: crm_attribute on the seed CIB"; exit 1; }
    for x in "$@"; do
        CIB_file=$seed cibadmin --create -o resources --xml-text "$x" ||
            { echo "FAIL: cibadmin --create on the seed CIB: $x"; exit 1; }
    done
    crm_verify -x "$seed" >"$CL_DIR/crm_verify.out" 2>&1 ||
        { echo "FAIL: crm_verify on the seed CIB:"; cat "$CL_DIR/crm_verify.out"; exit 1; }
    # The run's CIB must not mix with one left in the directory: those files are put aside and
    # restored by cluster_cleanup.
    mkdir -p "$CL_DIR/cib.orig"
    find /var/lib/pacemaker/cib -mindepth 1 -maxdepth 1 -exec mv -t "$CL_DIR/cib.orig" {} +
    install -o hacluster -g haclient -m 0600 "$seed" /var/lib/pacemaker/cib/cib.xml
}

cluster_start() {
    cat >"$CL_DIR/corosync.conf" <<EOF
totem {
    version: 2
    cluster_name: prfence
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        name: node-a
        nodeid: 1
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_stderr: no
    to_logfile: yes
    logfile: $CL_DIR/corosync.log
    to_syslog: no
    timestamp: on
}
EOF
    corosync -f -c "$CL_DIR/corosync.conf" >"$CL_DIR/corosync.out" 2>&1 &
    CL_COROSYNC_PID=$!
    local n
    for n in $(seq 200); do
        corosync-quorumtool -s 2>/dev/null | grep -Eq '^Quorate: +Yes' && break
        cl_alive "$CL_COROSYNC_PID" || break
        sleep 0.1
    done
    if ! corosync-quorumtool -s 2>/dev/null | grep -Eq '^Quorate: +Yes'; then
        echo "corosync did not become quorate in 20 s:"
        tail -20 "$CL_DIR/corosync.out" "$CL_DIR/corosync.log" 2>/dev/null
        cl_skip "corosync is not quorate here (a single node on 127.0.0.1 with knet needs UDP 5405 and a writable /dev/shm)"
    fi
    PCMK_logfile=$CL_DIR/pacemaker.log pacemakerd >"$CL_DIR/pacemakerd.out" 2>&1 &
    CL_PACEMAKERD_PID=$!
    for n in $(seq 300); do
        stonith_admin --list-registered >/dev/null 2>&1 && break
        cl_alive "$CL_PACEMAKERD_PID" || break
        sleep 0.1
    done
    if ! stonith_admin --list-registered >/dev/null 2>&1; then
        echo "FAIL: pacemaker's fencer did not answer within 30 s:"
        tail -30 "$CL_DIR/pacemakerd.out" "$CL_DIR/pacemaker.log" 2>/dev/null
        exit 1
    fi
    # All six daemons, recorded so that they can be ended by PID if the shutdown leaves one.
    for n in $(seq 100); do
        mapfile -t CL_CHILDREN < <(ps -o pid= --ppid "$CL_PACEMAKERD_PID")
        [ "${#CL_CHILDREN[@]}" -ge 6 ] && break
        sleep 0.1
    done
}

# cluster_wait_dc [SECONDS]: node-a is the DC (with dc-deadtime=2s, about 4 s after the start).
cluster_wait_dc() {
    local n
    for n in $(seq $((${1:-60} * 5))); do
        crm_mon -1 2>/dev/null | grep -q 'Current DC: node-a' && return 0
        sleep 0.2
    done
    echo "FAIL: no DC within ${1:-60} s:"; crm_mon -1 2>&1 | head -20
    exit 1
}

# cluster_wait_device ID [SECONDS]: the fencer has device ID registered.
cluster_wait_device() {
    local n
    for n in $(seq $((${2:-30} * 10))); do
        stonith_admin --list-registered 2>/dev/null | grep -qx "$1" && return 0
        sleep 0.1
    done
    return 1
}

cluster_cleanup() {
    local rc=$? c p
    trap - EXIT INT TERM
    if [ -n "$CL_PACEMAKERD_PID" ]; then
        pacemakerd --shutdown >/dev/null 2>&1 || true
        if ! cl_wait_gone "$CL_PACEMAKERD_PID" 60; then
            echo "cleanup: pacemakerd did not stop in 60 s; SIGKILL" >&2
            kill -9 "$CL_PACEMAKERD_PID" 2>/dev/null
            cl_wait_gone "$CL_PACEMAKERD_PID" 5 || true
        fi
        for p in "${CL_CHILDREN[@]}"; do
            cl_alive "$p" && { echo "cleanup: pacemaker daemon $p still running; SIGKILL" >&2; kill -9 "$p" 2>/dev/null; }
        done
    fi
    if [ -n "$CL_COROSYNC_PID" ]; then
        corosync-cfgtool -H >/dev/null 2>&1 || true
        if ! cl_wait_gone "$CL_COROSYNC_PID" 30; then
            echo "cleanup: corosync did not stop in 30 s; SIGKILL" >&2
            kill -9 "$CL_COROSYNC_PID" 2>/dev/null
            cl_wait_gone "$CL_COROSYNC_PID" 5 || true
        fi
    fi
    # The test's own daemons last: the fencer may run an agent that talks to them until it stops.
    for c in "${CL_EXTRA_CLEANUP[@]}"; do eval "$c" || true; done
    for c in "${CL_AGENTS[@]}"; do
        rm -f "/usr/sbin/$c"
        if [ -e "$CL_DIR/orig.$c" ] || [ -L "$CL_DIR/orig.$c" ]; then mv "$CL_DIR/orig.$c" "/usr/sbin/$c"; fi
    done
    if [ -f "$CL_DIR/state.before" ]; then
        # Files and directories the run created in the cluster's state directories, deepest first.
        find "${CL_STATE_DIRS[@]}" -mindepth 1 2>/dev/null | sort | comm -13 "$CL_DIR/state.before" - |
            sort -r | while read -r p; do rm -rf "$p"; done
        find /dev/shm -maxdepth 1 -name 'qb-*' 2>/dev/null | sort | comm -13 "$CL_DIR/shm.before" - |
            while read -r p; do rm -rf "$p"; done
        if [ -d "$CL_DIR/cib.orig" ]; then
            find "$CL_DIR/cib.orig" -mindepth 1 -maxdepth 1 -exec mv -t /var/lib/pacemaker/cib {} +
        fi
    fi
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -f "$CL_DIR/pacemaker.log" ]; then
        echo "--- last lines of the fencer's log"
        grep -E 'pacemaker-fenced|fence_' "$CL_DIR/pacemaker.log" | tail -40
    fi
    # PRFENCE_CLUSTER_KEEP=DIR keeps the run's logs (pacemaker.log, corosync.log, the daemons') there.
    if [ -n "${PRFENCE_CLUSTER_KEEP:-}" ]; then
        mkdir -p "$PRFENCE_CLUSTER_KEEP" && cp "$CL_DIR"/*.log "$PRFENCE_CLUSTER_KEEP"/ 2>/dev/null
    fi
    rm -rf "$CL_DIR"
    exit "$rc"
}

# cl_start_farm PRSIM PRFENCED PRFENCE PRSIM_ARGS...: prsim on $CL_DIR/prsim.sock and prfenced on
# $CL_DIR/control.sock, both stopped by the exit trap; returns once prfenced answers health, or ends
# the script saying why.
cl_farm_spid='' cl_farm_dpid=''
cl_stop_farm() {
    [ -n "$cl_farm_dpid" ] && kill "$cl_farm_dpid" 2>/dev/null && wait "$cl_farm_dpid" 2>/dev/null
    [ -n "$cl_farm_spid" ] && kill "$cl_farm_spid" 2>/dev/null && wait "$cl_farm_spid" 2>/dev/null
    return 0
}
cl_start_farm() {
    local prsim=$1 prfenced=$2 prfence=$3
    shift 3
    local sock=$CL_DIR/prsim.sock ctl=$CL_DIR/control.sock
    CL_EXTRA_CLEANUP+=(cl_stop_farm)
    "$prsim" --socket "$sock" "$@" >"$CL_DIR/prsim.log" 2>&1 &
    cl_farm_spid=$!
    "$prfenced" --socket "$ctl" --config "$CL_DIR/prfenced.json" >"$CL_DIR/prfenced.log" 2>&1 &
    cl_farm_dpid=$!
    for _ in $(seq 200); do
        [ -S "$sock" ] && [ -S "$ctl" ] && "$prfence" --daemon="$ctl" health >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "FAIL: prsim or prfenced did not start:"
    cat "$CL_DIR"/prsim.log "$CL_DIR"/prfenced.log
    exit 1
}
