#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fence_prfence's direct back end (devices=) tells multipathd our key after `on` and `off`, as
# prfence and prfenced do, so that multipathd registers a path that returns. The LUs are prsim's,
# reached as sg nodes through prsim-run (the sg driver's SG_IO, hence the hidden transport=sgio),
# named in a fake sysfs (hidden sys= and dev=) that puts LUs 0 and 1 in dm-multipath maps mpatha and
# mpathb and leaves LU 2 outside any map; multipathd is tests/cli/fake_multipathd.py on a path socket
# (hidden multipathd_socket=), one per node, logging every command it gets.
#   on        setprkey/setprstatus/getprkey per map with our key (":aptpl" with aptpl=1), nothing for
#             the LU outside a map, nothing at all when no LU is in a map; the keys are on the LUs
#   off       fence --claim registers our key and preempts the victim: multipathd gets our key
#   status    reads only: multipathd is not told anything
#   failures  multipathd that refuses setprkey (reservation_key not "file"), and no multipathd at
#             all: a warning per map on stderr, "Success" and exit 0 all the same (fencing worked)
# Usage: fence_prfence_multipath_test.sh FENCE_PRFENCE PRFENCE PRSIM PRSIM_RUN
F=$1 P=$2 S=$3 R=$4
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
fake_mpd=$(dirname "$0")/fake_multipathd.py
mpids=()
stop_fakes() { [ ${#mpids[@]} -gt 0 ] && kill "${mpids[@]}" 2>/dev/null && wait "${mpids[@]}" 2>/dev/null; }
trap 'stop_fakes; cleanup' EXIT

IA="iqn.2026-11.io.prfence:node-a,i,0x1"
IB="iqn.2026-11.io.prfence:node-b,i,0x2"
IC="iqn.2026-11.io.prfence:node-c,i,0x3"
sys=$dir/sys vdev=$dir/vdev

# fake_disk N [MAP]: prsim LU N as SCSI disk 7:0:0:N (sdX, sgN) in the fake sysfs, laid out as Linux
# lays it out (the links resolve_devices follows), with dm-N holding it as multipath map MAP.
fake_disk() {
    local n=$1 map=${2:-} sd hctl rel D
    sd=sd$(printf "\\x$(printf %x $((97 + n)))")
    hctl=7:0:0:$n
    rel=platform/host7/session7/target7:0:0/$hctl
    D=$sys/devices/$rel
    mkdir -p "$D/block/$sd/holders" "$D/scsi_generic/sg$n" "$sys/block" "$sys/class/block" \
        "$sys/class/scsi_generic" "$sys/dev/block" "$sys/dev/char"
    printf 'naa.6001405000000000000000000000%02d\n' "$n" >"$D/wwid"
    echo "8:$((16 * n))" >"$D/block/$sd/dev"
    ln -s "../../../$hctl" "$D/block/$sd/device"
    ln -s "../devices/$rel/block/$sd" "$sys/block/$sd"
    ln -s "../../devices/$rel/block/$sd" "$sys/class/block/$sd"
    ln -s "../../devices/$rel/block/$sd" "$sys/dev/block/8:$((16 * n))"
    echo "21:$n" >"$D/scsi_generic/sg$n/dev"
    ln -s "../../../$hctl" "$D/scsi_generic/sg$n/device"
    ln -s "scsi_generic/sg$n" "$D/generic"
    ln -s "../../devices/$rel/scsi_generic/sg$n" "$sys/class/scsi_generic/sg$n"
    ln -s "../../devices/$rel/scsi_generic/sg$n" "$sys/dev/char/21:$n"
    [ -n "$map" ] || return 0
    local dm=$sys/devices/virtual/block/dm-$n
    mkdir -p "$dm/dm" "$dm/slaves"
    echo "$map" >"$dm/dm/name"
    echo "mpath-36001405000000000000000000000$n" >"$dm/dm/uuid"
    ln -s "../devices/virtual/block/dm-$n" "$sys/block/dm-$n"
    ln -s "../../../../virtual/block/dm-$n" "$D/block/$sd/holders/dm-$n"
}

# start_mpd NAME [--no-file]: a fake multipathd on $dir/NAME.sock logging to $dir/NAME.log.
start_mpd() {
    local name=$1 _
    : >"$dir/$name.log"
    python3 "$fake_mpd" "$dir/$name.sock" "$dir/$name.log" "${@:2}" 2>>"$dir/$name.err" &
    mpids+=($!)
    for _ in $(seq 200); do
        [ -S "$dir/$name.sock" ] && return 0
        sleep 0.05
    done
    echo "fake multipathd $name did not start:"; cat "$dir/$name.err"; exit 1
}

# agent NODE_INITIATOR MPD LINE...: fence_prfence through prsim-run as that initiator, the lines on
# stdin, the hidden parameters pointing at the fake sysfs, /dev and multipathd MPD; sets rc, out,
# err. In a sanitizer build the agent is an ASan binary whose runtime is not first in the library list
# once prsim-run preloads the shim; ASan refuses that by default, and works with the check off.
agent() {
    local tid=$1 mpd=$2
    shift 2
    printf '%s\n' "$@" "sys=$sys" "dev=$vdev" transport=sgio "multipathd_socket=$dir/$mpd.sock" |
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" timeout -k 5 60 "$R" --socket "$sock" --initiator "$tid" --prefix "$vdev" -- "$F" \
            >"$dir/out" 2>"$dir/err"
    rc=$?
    out=$(cat "$dir/out") err=$(cat "$dir/err")
}
# expect NAME WANT_RC OUT_REGEX ERR_REGEX: after agent; '' matches anything, ERR_REGEX "^$" nothing.
expect() {
    local name=$1 want=$2 ore=$3 ere=$4
    if [ "$rc" -eq "$want" ] && grep -qE -- "$ore" <<<"$out" && grep -qE -- "$ere" <<<"$err"; then ok; else
        bad "$name: rc=$rc (want $want), stdout:"; sed 's/^/    /' <<<"$out" | head -8
        echo "  stderr:"; sed 's/^/    /' <<<"$err" | head -12
    fi
}
# expect_log NAME MPD WANT: the commands MPD received since its log was last emptied, exactly.
expect_log() {
    local got
    got=$(cat "$dir/$2.log")
    if [ "$got" = "$3" ]; then ok; else
        bad "$1: $2 received:"; sed 's/^/    /' <<<"$got"; echo "  expected:"; sed 's/^/    /' <<<"$3"
    fi
    : >"$dir/$2.log"
}
# keys_on N: the keys node C reads on LU N, sorted, comma-separated.
keys_on() {
    "$P" keys --json --initiator "$IC" --target-port 1 "sim:$sock:$1" 2>/dev/null |
        python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin)["luns"][0].get("keys") or [])))'
}
told() {  # told MAP KEY: what multipathd gets for one map after our key was registered on it
    printf 'setprkey map %s key %s\nsetprstatus map %s\ngetprkey map %s' "$1" "$2" "$1" "$1"
}

start_prsim --luns 4 --state-dir "$dir/aptpl"
fake_disk 0 mpatha
fake_disk 1 mpathb
fake_disk 2
start_mpd mpd_a
start_mpd mpd_b
DEVS=devices=/dev/sg0,/dev/sg1,/dev/sg2

# on: node A's key on every LU, multipathd told for the two maps only.
agent "$IA" mpd_a action=on key=a1 "key_file=$dir/a.key" "$DEVS" "initiator=$IA"
expect on 0 '^Success: key 0xa1 registered on 3 LUs' '^$'
expect_log on_told mpd_a "$(told mpatha a1)
$(told mpathb a1)"
[ "$(keys_on 0),$(keys_on 1),$(keys_on 2)" = "0xa1,0xa1,0xa1" ] && ok || bad "on: keys $(keys_on 0) $(keys_on 1) $(keys_on 2)"
# aptpl=1: the key is told with ":aptpl", as libmpathpersist does.
agent "$IA" mpd_a action=on key=a1 aptpl=1 "key_file=$dir/a.key" devices=/dev/sg0 "initiator=$IA"
expect on_aptpl 0 '^Success' '^$'
expect_log on_aptpl_told mpd_a "$(told mpatha a1:aptpl)"
# A LU outside any map: multipathd is not even asked.
agent "$IA" mpd_a action=on key=a1 "key_file=$dir/a.key" devices=/dev/sg2 "initiator=$IA"
expect on_no_map 0 '^Success' '^$'
expect_log on_no_map_silent mpd_a ""
# status reads keys: nothing to tell.
agent "$IA" mpd_a action=status key=a1 "$DEVS" "initiator=$IA"
expect status 0 'Status: ON' '^$'
expect_log status_silent mpd_a ""

# off from node B: fence --claim registers B's key (b2) and preempts A's; B's multipathd learns b2.
printf 'b2\n' >"$dir/b.key"
agent "$IB" mpd_b action=off key=a1 "key_file=$dir/b.key" "$DEVS" "initiator=$IB"
expect off 0 '^Success: \(key 0xa1\) fenced on 3 LUs' '^$'
expect_log off_told mpd_b "$(told mpatha b2)
$(told mpathb b2)"
expect_log off_a_untouched mpd_a ""
[ "$(keys_on 0),$(keys_on 1),$(keys_on 2)" = "0xb2,0xb2,0xb2" ] && ok || bad "off: keys $(keys_on 0) $(keys_on 1) $(keys_on 2)"

# multipathd without reservation_key "file" refuses setprkey: the registration stands, a warning
# per map says multipathd will not register returning paths, exit 0.
start_mpd mpd_nofile --no-file
agent "$IA" mpd_nofile action=on key=a1 "key_file=$dir/a.key" "$DEVS" "initiator=$IA"
expect on_refused 0 '^Success: key 0xa1 registered on 3 LUs' \
    '^fence_prfence: on: warning: multipathd not told key 0xa1 for map mpatha \(/dev/sg0\): multipathd has no key for the map'
[ "$(grep -c 'warning: multipathd not told' <<<"$err")" -eq 2 ] && ok || bad "on_refused: $(grep -c warning <<<"$err") warnings"
[ "$(keys_on 0)" = "0xa1,0xb2" ] && ok || bad "on_refused: keys on LU 0: $(keys_on 0)"
# No multipathd at all.
agent "$IB" nompd action=off key=a1 "key_file=$dir/b.key" "$DEVS" "initiator=$IB"
expect off_no_multipathd 0 '^Success' \
    'fence_prfence: off: warning: multipathd not told key 0xb2 for map mpathb \(/dev/sg1\): multipathd is not running'

finish
