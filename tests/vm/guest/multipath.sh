# shellcheck shell=bash disable=SC2034 # variables for the scripts that source this
# The multipath topology (PRFENCE_VM_TOPOLOGY=multipath): udevd, multipathd and their configuration.
# Sourced by /init after lio.sh and devices.sh (installed as /prfence/lib/multipath.sh); the files come
# from build-image.sh's multipath layer.
#
# Node A has two sessions (portals NODE_A_PORTAL and NODE_A2_PORTAL), node B one. multipathd gives node A
# one map per LU, named by its WWID (/dev/mapper/3600140550...), with A's two paths; node B's disks stay
# plain sd devices. How B is kept out: a udev rule gives B's disks the property ID_PRFENCE_NODE_B (B is
# told apart by its portal in ID_PATH, which udev's path_id builds from the iSCSI connection), and
# multipath.conf blacklists that property. B's disks have the same WWID, vendor, product and protocol as
# A's, and multipath.conf has no host or initiator criterion, so a property is the stable handle (a
# devnode list would depend on probe order).
# The property's name must sort before "ID_WWN": libmultipath walks a device's properties in the order
# libudev lists them (by name) and the first one that matches its exceptions (built in: SCSI_IDENT_,
# ID_WWN) or its blacklist decides.
#
# multipathd runs in the foreground of a background job (its log is $MP_LOG, copied to PRFENCE_VM_OUT at
# the end) and knows node A's reservation key (MP_KEY, reservation_key in multipath.conf): mpathpersist
# refuses any other key on these maps, and multipathd registers that key on a path that comes back only
# when it finds it registered on the map's other paths and mpathpersist told it about the registration.

MP_KEY=0xabc123 # node A's key in multipath.conf; the suite's KEY_A (lib.sh) is the same
MP_LOG=/run/prfence-vm/multipathd.log
UDEVD_LOG=/run/prfence-vm/udevd.log
MP_PID="" UDEVD_PID=""

# Loads the device-mapper modules (build-image.sh's list, dependencies first).
mp_load_modules() {
    local path
    while read -r path; do
        insmod "$path" 2>/dev/null || echo "prfence-vm: insmod ${path##*/} failed (continuing)"
    done </etc/prfence-vm/modules-mp
    [ -d /sys/module/dm_multipath ] || return 1
}

mp_write_config() {
    mkdir -p /etc/udev/rules.d /etc/multipath
    cat >/etc/udev/rules.d/61-prfence-vm.rules <<EOF
# prfence test guest: node B's disks (its iSCSI portal in ID_PATH), blacklisted in /etc/multipath.conf.
SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", ENV{ID_PATH}=="ip-$NODE_B_PORTAL:3260-iscsi-*", ENV{ID_PRFENCE_NODE_B}="1"
EOF
    cat >/etc/multipath.conf <<EOF
# prfence test guest (tests/vm/guest/multipath.sh)
defaults {
    user_friendly_names no
    find_multipaths no
    polling_interval 5
    reservation_key $MP_KEY
}
blacklist {
    property "^ID_PRFENCE_NODE_B\$"
}
EOF
}

# Starts udevd and has it process every block device that is already there.
mp_start_udevd() {
    SYSTEMD_LOG_TARGET=console /usr/lib/systemd/systemd-udevd --resolve-names=never >"$UDEVD_LOG" 2>&1 &
    UDEVD_PID=$!
    local i
    for i in $(seq 50); do
        [ -S /run/udev/control ] && break
        sleep 0.1
    done
    [ -S /run/udev/control ] || return 1
    udevadm trigger --action=add --subsystem-match=block || return 1
    udevadm settle -t "$(mp_settle_timeout)"
}

# udev needs a few processes per disk and per map (scsi_id, dmsetup, multipath -U), each a fraction of
# a second under TCG: with 64 LUs the queue takes minutes to drain.
mp_settle_timeout() { echo $((60 + 3 * PRFENCE_VM_LUNS)); }

mp_start_multipathd() {
    multipathd -d -s -v3 >"$MP_LOG" 2>&1 &
    MP_PID=$!
}

# Waits (up to $2 seconds) until multipathd shows $1 maps with exactly two paths each, both active and
# ready; then lets udev finish the /dev/mapper links. Prints multipathd's view when it gives up.
mp_wait_maps() {
    local want=$1 tries=$(($2 * 2)) n=0 paths
    while [ "$tries" -gt 0 ]; do
        paths=$(multipathd show paths raw format "%m %t %T" 2>/dev/null)
        n=$(awk '$2 == "active" && $3 == "ready" { ok[$1]++ } { all[$1]++ }
            END { c = 0; for (m in ok) if (ok[m] == 2 && all[m] == 2) c++; print c }' <<<"$paths")
        [ "$n" -ge "$want" ] && break
        sleep 0.5
        tries=$((tries - 1))
    done
    if [ "$n" -lt "$want" ]; then
        echo "prfence-vm: $n of $want multipath maps with two active paths; multipathd shows:"
        multipathd show paths format "%m %d %i %t %T %o" 2>&1 | head -n 40
        return 1
    fi
    # The maps' /dev/mapper and by-id links, and the change events multipathd triggered for its paths.
    udevadm settle -t "$(mp_settle_timeout)" || { echo "prfence-vm: udev still busy after $(mp_settle_timeout)s"; return 1; }
}

# Stops multipathd and udevd (at the end of the run); the maps stay.
mp_stop() {
    local i
    if [ -n "$MP_PID" ] && kill -0 "$MP_PID" 2>/dev/null; then
        multipathd shutdown >/dev/null 2>&1
        for i in $(seq 50); do kill -0 "$MP_PID" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$MP_PID" 2>/dev/null && { echo "prfence-vm: multipathd did not stop; killing it"; kill -9 "$MP_PID"; }
    fi
    if [ -n "$UDEVD_PID" ] && kill -0 "$UDEVD_PID" 2>/dev/null; then
        udevadm control --exit >/dev/null 2>&1
        for i in $(seq 25); do kill -0 "$UDEVD_PID" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$UDEVD_PID" 2>/dev/null && kill -9 "$UDEVD_PID"
    fi
    MP_PID="" UDEVD_PID=""
}

# The whole setup, from the modules to the map file (argument: its path); 1 with a message on failure.
mp_setup() {
    local map=$1
    mp_write_config
    mp_start_udevd || { echo "prfence-vm: udevd did not start or settle (see $UDEVD_LOG)"; tail -n 20 "$UDEVD_LOG"; return 1; }
    echo "prfence-vm: udevd settled at $(cut -d' ' -f1 /proc/uptime)s"
    mp_start_multipathd
    # multipathd listens on its socket once it has set up every map (and checked each map's
    # registrations, since it has a reservation_key).
    local i
    for i in $(seq $(((60 + PRFENCE_VM_LUNS) * 5))); do
        grep -q 'uxsock: startup listener' "$MP_LOG" && break
        sleep 0.2
    done
    echo "prfence-vm: multipathd set up its maps at $(cut -d' ' -f1 /proc/uptime)s"
    mp_wait_maps "$PRFENCE_VM_LUNS" $((60 + PRFENCE_VM_LUNS)) || return 1
    vm_write_mp_map "$map"
    if awk '!/^#/ { for (i = 1; i <= NF; i++) if ($i == "-") bad = 1 } END { exit !bad }' "$map"; then
        echo "prfence-vm: a LU lacks its map or a path:"
        cat "$map"
        return 1
    fi
}
