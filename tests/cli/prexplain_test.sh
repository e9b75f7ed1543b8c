#!/usr/bin/env bash
# prexplain one-shot on fixture files, as an operator and a harness use it: one event per LU (its
# names, the commands refused, the count and times), the human lines, the --json fields and the exit
# codes (0 no conflict, 24 conflicts, 1 usage, 15 unreadable input). --no-query throughout: the
# fixtures come from other machines; --sys points at a sysfs of our own where names are mapped.
# Usage: prexplain_test.sh PATH_TO_PREXPLAIN FIXTURES_DIR VM_FIXTURES_DIR
set -u
P=$1 F=$2 V=$3
fails=0 passes=0
check() {  # check NAME WANT_RC REGEX -- ARGS...   (stdin from $STDIN when set)
    local name=$1 want_rc=$2 regex=$3; shift 4
    local out rc
    if [ -n "${STDIN:-}" ]; then out=$("$P" "$@" 2>&1 <"$STDIN"); rc=$?
    else out=$("$P" "$@" 2>&1 </dev/null); rc=$?; fi
    if [ "$rc" -ne "$want_rc" ] || ! grep -qE -- "$regex" <<<"$out"; then
        echo "FAIL $name: rc=$rc (want $want_rc), output:"; sed 's/^/    /' <<<"$out"; fails=$((fails+1))
    else
        passes=$((passes+1))
    fi
}
count() {  # count NAME WANT_RC WANT_LINES REGEX -- ARGS...: the exit status, and how many output lines match
    local name=$1 want_rc=$2 want=$3 regex=$4; shift 5
    local out rc n
    out=$("$P" "$@" 2>/dev/null </dev/null); rc=$?
    n=$(grep -cE -- "$regex" <<<"$out")
    if [ "$rc" -ne "$want_rc" ] || [ "$n" -ne "$want" ]; then
        echo "FAIL $name: rc=$rc (want $want_rc), $n lines match '$regex', want $want"; fails=$((fails+1))
    else
        passes=$((passes+1))
    fi
}

kdir=$(mktemp -d); trap 'rm -rf "$kdir"' EXIT
nosys=$kdir/nosys; mkdir -p "$nosys"   # a sysfs that knows nothing: names come from the lines alone
N=(--no-query --sys "$nosys")

# Every format, human lines: one per LU, every command it refused.
check dmesg_6_1 24 '^sdq \[1:0:0:0\]: READ_10 sector 0, 8 blocks; command: UNKNOWN: not queried \(--no-query\) \(2 conflicts, 20\.093091 to 20\.421708\)$' -- "${N[@]}" "$V/dmesg-6.1.txt"
# Rate limits left LU 15 with its sd conflict line only: the boot's "[sdp] Attached SCSI disk" names it.
check dmesg_6_1_named 24 '^sdp \[0:0:0:15\]: command: UNKNOWN: not queried \(--no-query\) \(1 conflict, at 37\.888129\)$' -- "${N[@]}" "$V/dmesg-6.1.txt"
check dmesg_6_12 24 '^sdb \[0:0:0:1\]: READ_10 sector 0, 8 blocks.*: UNKNOWN' -- "${N[@]}" "$V/dmesg-6.12.txt"
count dmesg_6_12_lus 24 16 '^[^ ]+ \[0:0:0:[0-9]+\]: (READ_10|command)' -- "${N[@]}" "$V/dmesg-6.12.txt"
count dmesg_6_12_one_per_lu 24 17 '.' -- "${N[@]}" "$V/dmesg-6.12.txt"
check dmesg_5_10 24 '^sdb \[2:0:0:0\]: WRITE_10 sector 2048, 8 blocks: UNKNOWN' -- "${N[@]}" "$F/dmesg-5.10.txt"
check dmesg_5_10_nexus_failure 24 '^sdc \[2:0:0:1\]: READ_10 sector 2048, 8 blocks' -- "${N[@]}" "$F/dmesg-5.10.txt"
check journal_short 24 '^sdb \[1:0:0:0\]: READ_10 sector 0, 8 blocks' -- "${N[@]}" "$F/journal-short.txt"
check journal_monotonic 24 '^sdb \[0:0:0:1\]: READ_10 sector 0, 8 blocks: UNKNOWN: not queried \(--no-query\) \(1 conflict, at 47\.786626\)' -- "${N[@]}" "$F/journal-monotonic.txt"
check kmsg 24 '^sdb \[0:0:0:1\]: READ_10 sector 0, 8 blocks.*at 47\.786626' -- "${N[@]}" "$F/kmsg.txt"
check trace_6_1 24 '\[0:0:0:1\]: READ_10 sector 0, 8 blocks; PERSISTENT_RESERVE_OUT: UNKNOWN.*2 conflicts' -- "${N[@]}" "$V/trace-6.1.txt"
check trace_6_12 24 '\[0:0:0:1\]: READ_10 sector 0, 8 blocks; PERSISTENT_RESERVE_OUT: UNKNOWN.*2 conflicts' -- "${N[@]}" "$V/trace-6.12.txt"
check trace_5_15 24 '\[1:0:1:0\]: WRITE_10 sector 2048, 8 blocks' -- "${N[@]}" "$F/trace-5.15.txt"
check prsim 24 '\[1:0:1:0\]: READ_10 sector 0, 8 blocks; PERSISTENT_RESERVE_OUT: .*2 conflicts' -- "${N[@]}" "$F/prsim-6.1.txt"
check prsim_capture 24 '\[0:0:0:7\]: PERSISTENT_RESERVE_OUT' -- "${N[@]}" "$F/prsim-capture.txt"
count prsim_capture_lus 24 8 '.' -- "${N[@]}" "$F/prsim-capture.txt"
# A storm is counted, not repeated: one event per LU.
count storm_lines 24 2 '.' -- "${N[@]}" "$F/storm.txt"
# printk's rate limits left the CDB (and block) lines of the first 10 only: the rest are unnamed commands.
check storm_count 24 '^sde \[3:0:0:4\]: WRITE_10 sector 128, 8 blocks x10; command x1990: UNKNOWN: .*\(2000 conflicts, 100\.000000 to 101\.999000\)$' -- "${N[@]}" "$F/storm.txt"
STDIN="$F/kmsg.txt" check stdin 24 '^sdb \[0:0:0:1\]' -- "${N[@]}" -
count clean 0 0 '.' -- "${N[@]}" "$F/clean.txt"

# The first report's lines (FAILED and CDB printed before the conflict lines): one event, the CDB's
# READ(10) of 8 blocks at the block layer's sector, the disk named with its address.
count seed_one_event 24 1 '.' -- "${N[@]}" "$F/dmesg-seed.txt"
check seed 24 '^sdc \[11:0:0:1\]: READ_10 sector 2097024, 8 blocks: UNKNOWN: not queried \(--no-query\) \(1 conflict\)$' -- "${N[@]}" "$F/dmesg-seed.txt"
check seed_json 24 '"device":"sdc","hctl":"11:0:0:1","wwid":null,"op":"READ_10","access":"read","sector":2097024,"blocks":8,"count":1,.*"commands":\[\{"op":"READ_10","access":"read","sector":2097024,"blocks":8,"device":"sdc","hctl":"11:0:0:1","count":1,' -- "${N[@]}" --json "$F/dmesg-seed.txt"

# dm-multipath (the 6.1 guest's capture): one event for the LU, naming both paths and the map, the
# map's own lines folded in (three failed writes, not five).
count multipath_one_event 24 1 '.' -- "${N[@]}" "$F/multipath-6.1.txt"
check multipath_lines_only 24 '^sda \[0:0:0:0\], map dm-0, paths sda \[0:0:0:0\] sdag \[2:0:0:0\]: WRITE_10 sector 0, 8 blocks; WRITE_10 sector 64, 8 blocks; WRITE sector 0: UNKNOWN: not queried \(--no-query\) \(3 conflicts\)$' -- "${N[@]}" "$F/multipath-6.1.txt"
# With the sysfs that goes with it: the map's name and uuid, and the WWID.
mp=$kdir/mp
mkdir -p "$mp/dev" "$mp/sys/block" "$mp/sys/class/block" "$mp/sys/class/scsi_generic" "$mp/sys/bus/scsi/devices" \
    "$mp/sys/dev/block" "$mp/sys/devices/virtual/block/dm-0/dm" "$mp/sys/devices/virtual/block/dm-0/slaves"
echo 360014055052464e00000000000000000 >"$mp/sys/devices/virtual/block/dm-0/dm/name"
echo mpath-360014055052464e00000000000000000 >"$mp/sys/devices/virtual/block/dm-0/dm/uuid"
echo 254:0 >"$mp/sys/devices/virtual/block/dm-0/dev"
ln -s ../devices/virtual/block/dm-0 "$mp/sys/block/dm-0"
ln -s ../../devices/virtual/block/dm-0 "$mp/sys/class/block/dm-0"
ln -s ../../devices/virtual/block/dm-0 "$mp/sys/dev/block/254:0"
path() {  # path H:C:T:L DISK MAJ:MIN SG: a SCSI disk under dm-0, laid out as Linux does
    local h=${1%%:*} rel D
    rel=platform/host$h/session$h/target$h:0:0/$1
    D=$mp/sys/devices/$rel
    mkdir -p "$D/block/$2/holders" "$D/scsi_generic/$4"
    echo naa.60014055052464e00000000000000000 >"$D/wwid"
    echo "$3" >"$D/block/$2/dev"
    ln -s "../../../$1" "$D/block/$2/device"
    ln -s ../../../../../../../../virtual/block/dm-0 "$D/block/$2/holders/dm-0"
    ln -s "../devices/$rel/block/$2" "$mp/sys/block/$2"
    ln -s "../../devices/$rel/block/$2" "$mp/sys/class/block/$2"
    ln -s "../../devices/$rel/block/$2" "$mp/sys/dev/block/$3"
    echo "21:${4#sg}" >"$D/scsi_generic/$4/dev"
    ln -s "../../../$1" "$D/scsi_generic/$4/device"
    ln -s "../../devices/$rel/scsi_generic/$4" "$mp/sys/class/scsi_generic/$4"
    ln -s "../../../devices/$rel" "$mp/sys/bus/scsi/devices/$1"
    ln -s "../../../../$rel/block/$2" "$mp/sys/devices/virtual/block/dm-0/slaves/$2"
    : >"$mp/dev/$2"; : >"$mp/dev/$4"
}
path 0:0:0:0 sda 8:0 sg0
path 2:0:0:0 sdag 66:0 sg32
M=(--no-query --sys "$mp/sys" --dev "$mp/dev")
count multipath_sysfs_one_event 24 1 '.' -- "${M[@]}" "$F/multipath-6.1.txt"
check multipath_sysfs 24 '^sda \[0:0:0:0\] naa\.60014055052464e00000000000000000, map 360014055052464e00000000000000000 \(dm-0\), paths sda \[0:0:0:0\] sdag \[2:0:0:0\]: WRITE_10 sector 0, 8 blocks; WRITE_10 sector 64, 8 blocks; WRITE sector 0: UNKNOWN: not queried \(--no-query\) \(3 conflicts\)$' -- "${M[@]}" "$F/multipath-6.1.txt"
check multipath_json 24 '"wwid":"naa\.60014055052464e00000000000000000",.*"count":3,.*"paths":\[\{"device":"sda","hctl":"0:0:0:0"\},\{"device":"sdag","hctl":"2:0:0:0"\}\],"map":\{"device":"dm-0","name":"360014055052464e00000000000000000","uuid":"mpath-360014055052464e00000000000000000"\},"commands":\[\{"op":"WRITE_10","access":"write","sector":0,"blocks":8,"device":"sda","hctl":"0:0:0:0","count":1,.*\{"op":"WRITE_10","access":"write","sector":64,"blocks":8,"device":"sdag","hctl":"2:0:0:0","count":1,.*\{"op":"WRITE","access":"write","sector":0,"blocks":null,"device":"dm-0","hctl":null,"count":1,.*"unlisted":0\}$' -- "${M[@]}" --json "$F/multipath-6.1.txt"
# Only the map's line in the log: sysfs still names the LU, its paths and the map.
tail -n 2 "$F/multipath-6.1.txt" >"$kdir/dm-only.txt"
check multipath_map_line_only 24 '^sda \[0:0:0:0\] naa\.60014055052464e00000000000000000, map 360014055052464e00000000000000000 \(dm-0\), paths sda \[0:0:0:0\] sdag \[2:0:0:0\]: WRITE sector 0: ' -- "${M[@]}" "$kdir/dm-only.txt"

# Live (--follow): an event at once, then the LU again ("update":true) as names are learned, without
# waiting for the next summary. From the lines alone, the second path is a second LU until the map's
# line ties it to the first (then one LU: both paths, the map); the last update (at exit) counts all
# three writes. With the sysfs, the first event names the map and both paths already.
live_run() {  # live_run OUT ARGS...: follows a file the multipath capture is appended to, in two parts
    local out=$1 live=$kdir/live.txt lpid; shift
    : >"$live"
    "$P" "$@" --json --follow "$live" >"$out" 2>"$out.err" &
    lpid=$!
    sleep 0.3
    head -n 3 "$F/multipath-6.1.txt" >>"$live"
    for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
    tail -n +4 "$F/multipath-6.1.txt" >>"$live"
    for _ in $(seq 100); do grep -q '"paths":\[{[^]]*},{' "$out" && break; sleep 0.05; done
    sleep 0.2
    kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null
}
live_ok() {  # live_ok NAME OUT CONDITION...
    local name=$1 out=$2; shift 2
    if "$@"; then passes=$((passes+1)); else
        echo "FAIL $name: events:"; sed 's/^/    /' "$out" "$out.err"; fails=$((fails+1)); fi
}
both='"paths":\[{"device":"sda","hctl":"0:0:0:0"},{"device":"sdag","hctl":"2:0:0:0"}\],"map":{"device":"dm-0"'
live_run "$kdir/live.json" "${N[@]}"
live_lines_only() {
    head -n 1 "$kdir/live.json" | grep -q '"op":"WRITE_10".*"update":false,.*"map":null' &&
        grep -q "\"count\":2,.*\"update\":true,.*$both" "$kdir/live.json" &&
        tail -n 1 "$kdir/live.json" | grep -q "\"count\":3,.*\"update\":true,.*$both" &&
        [ "$(grep -c '"update":false' "$kdir/live.json")" -eq 2 ]
}
live_ok live_multipath_lines_only "$kdir/live.json" live_lines_only
live_run "$kdir/live-sys.json" "${M[@]}"
live_sysfs() {
    head -n 1 "$kdir/live-sys.json" | grep -q "\"op\":\"WRITE_10\".*\"update\":false,.*$both,\"name\":\"360014055052464e00000000000000000\"" &&
        tail -n 1 "$kdir/live-sys.json" | grep -q '"count":3,.*"update":true' &&
        [ "$(grep -c '"update":false' "$kdir/live-sys.json")" -eq 1 ]
}
live_ok live_multipath_sysfs "$kdir/live-sys.json" live_sysfs

# --json fields.
J=("${N[@]}" --json --key 0xabc123)
check json_class 24 '"class":"UNKNOWN"' -- "${J[@]}" "$F/journal-monotonic.txt"
check json_fields 24 '^\{"class":"UNKNOWN","reason":"not queried \(--no-query\)","device":"sdb","hctl":"0:0:0:1","wwid":null,"op":"READ_10","access":"read","sector":0,"blocks":8,"count":1,"first_seen":47\.786626,"last_seen":47\.786626,"update":false,"source":"journal","group":null,"our_key":"0xabc123","holder_key":null,"type":null' -- "${J[@]}" "$F/journal-monotonic.txt"
check json_trace 24 '"hctl":"0:0:0:1","wwid":null,"op":"READ_10","access":"read","sector":0,.*"commands":\[\{"op":"READ_10".*\{"op":"PERSISTENT_RESERVE_OUT","access":"pr_out","sector":null' -- "${J[@]}" "$V/trace-6.1.txt"
check json_storm 24 '"count":2000,"first_seen":100(\.0)?,"last_seen":101\.999' -- "${J[@]}" "$F/storm.txt"

# NVMe: the two lines a write refused by a reservation leaves (a 7.3 kernel with nvmet; the first
# ends with a blank), a read on a path of a multipath head, and a notification seen as the
# tracepoint and as the uevent udevadm monitor prints: one story per namespace, one per controller.
nv=$kdir/nvme-dmesg.txt
{
    printf '%s\n' '[  101.203344] nvme1n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x83) MORE DNR '
    printf '%s\n' '[  101.203390] reservation conflict error, dev nvme1n4, sector 0 op 0x1:(WRITE) flags 0x8800 phys_seg 1 prio class 2'
    printf '%s\n' '[  102.500000] nvme2c3n1: I/O Cmd(0x2) @ LBA 16, 8 blocks, I/O Error (sct 0x0 / sc 0x83) MORE DNR '
    printf '%s\n' '[  102.500010] reservation conflict error, dev nvme2c3n1, sector 128 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 2'
} >"$nv"
check nvme_text 24 '^nvme1n4: Write sector 0, 1 block: UNKNOWN: not queried \(--no-query\) \(1 conflict, at 101\.203344\)$' -- "${N[@]}" "$nv"
check nvme_path_text 24 '^nvme2n1: Read sector 128, 8 blocks: UNKNOWN' -- "${N[@]}" "$nv"
count nvme_one_per_namespace 24 2 '^nvme' -- "${N[@]}" "$nv"
check nvme_json 24 '"device":"nvme1n4","hctl":null,"wwid":null,"op":"Write","access":"write","sector":0,"blocks":1,"count":1,.*"commands":\[\{"op":"Write","access":"write","sector":0,"blocks":1,"device":"nvme1n4",.*"unlisted":0,"nsid":null,"ctrl":null,"hostid":null,"registrants":\[\]\}$' -- "${N[@]}" --json "$nv"
check nvme_json_path 24 '"device":"nvme2c3n1","hctl":null,"count":1' -- "${N[@]}" --json "$nv"
nt=$kdir/nvme-notify.txt
{
    printf '%s\n' '   kworker/0:1H-54      [000] .....   230.114421: nvme_async_event: nvme0: NVME_AEN=0x800006 [NVME_AER_CSS]'
    printf '%s\n' 'KERNEL[230.114500] change   /devices/virtual/nvme-fabrics/ctl/nvme0 (nvme)' 'ACTION=change' \
        'DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme0' 'SUBSYSTEM=nvme' 'NVME_AEN=0x800006' 'SEQNUM=4711'
    printf '%s\n' '   kworker/0:1H-54      [000] .....   231.000000: nvme_async_event: nvme0: NVME_AEN=0x000002 [NVME_AER_NOTICE_NS_CHANGED]'
} >"$nt"
check nvme_notify_text 24 '^nvme0: reservation notification \(NVME_AEN=0x800006, log page 0x80\); no namespaces of nvme0 in .*; the entries are in log page 0x80: nvme resv-notif-log /dev/nvme0 \(1 notification, at 230\.114421\)$' -- "${N[@]}" "$nt"
count nvme_notify_once 24 1 'reservation notification' -- "${N[@]}" "$nt"
check nvme_notify_json 24 '^\{"event":"reservation_notification","ctrl":"nvme0","aen":"0x800006","log_page":"0x80","count":1,"first_seen":230\.114421,"last_seen":230\.114421,"update":false,"source":"trace","hostid":null,"namespaces":\[\],' -- "${N[@]}" --json "$nt"
# Where sysfs knows the controller: our host identifier and its namespaces (not queried here).
ns=$kdir/nvsys
mkdir -p "$ns/devices/virtual/nvme-fabrics/ctl/nvme0/nvme0n1" "$ns/devices/virtual/nvme-fabrics/ctl/nvme0/nvme0n2" "$ns/class/nvme"
printf '5052464e-0000-4000-8000-00000000000a\n' >"$ns/devices/virtual/nvme-fabrics/ctl/nvme0/hostid"
ln -s ../../devices/virtual/nvme-fabrics/ctl/nvme0 "$ns/class/nvme/nvme0"
check nvme_notify_sysfs 24 '"hostid":"5052464e-0000-4000-8000-00000000000a","namespaces":\[\{"device":"nvme0n1","nsid":null,"class":null,"reason":null\},\{"device":"nvme0n2",' -- --no-query --sys "$ns" --json "$nt"
check nvme_notify_sysfs_text 24 '^nvme0: reservation notification \(NVME_AEN=0x800006, log page 0x80\): 2 namespaces; 2 not queried; the entries' -- --no-query --sys "$ns" "$nt"
# --uevent: the kernel's uevent socket, read until SIGTERM (exit 0, nothing seen), or refused with
# the reason where this host's network namespace does not allow it (exit 15).
"$P" --no-query --uevent >"$kdir/uevent.out" 2>&1 &
upid=$!
sleep 0.5
kill -TERM "$upid" 2>/dev/null
wait "$upid"; urc=$?
if { [ "$urc" -eq 0 ] && [ ! -s "$kdir/uevent.out" ]; } ||
    { [ "$urc" -eq 15 ] && grep -q '^prexplain: --uevent: .*NETLINK_KOBJECT_UEVENT' "$kdir/uevent.out"; }; then
    passes=$((passes+1))
else
    echo "FAIL uevent_live: rc=$urc"; sed 's/^/    /' "$kdir/uevent.out"; fails=$((fails+1))
fi
# Only other asynchronous events: nothing to say.
grep NS_CHANGED "$nt" >"$kdir/nvme-other.txt"
check nvme_other_aen 0 '^$' -- "${N[@]}" "$kdir/nvme-other.txt"

# Exit codes.
check usage_nothing 1 'nothing to read' --
check usage_uevent_mix 1 'do not mix' -- --uevent "$F/clean.txt"
check usage_bad_option 1 'unknown|not expected|extras' -- --no-such-option
check usage_bad_key 1 '--key zz: .*not a hex digit' -- --key zz "$F/clean.txt"
check usage_mix 1 'do not mix' -- --follow "$F/clean.txt" "$F/clean.txt"
# Our key from a cluster key file, as fence_scsi and fence_prfence write it.
printf 'abc123\n' >"$kdir/cluster.key"
check key_file 24 '"our_key":"0xabc123"' -- --no-query --json --key-file "$kdir/cluster.key" "$F/journal-monotonic.txt"
check key_file_and_key 1 '--key and --key-file both' -- --key 1 --key-file "$kdir/cluster.key" "$F/clean.txt"
check key_file_absent 1 "--key-file: .*$kdir/none.key" -- --key-file "$kdir/none.key" "$F/clean.txt"
printf 'not a key\n' >"$kdir/bad.key"
check key_file_bad 1 "--key-file: .*bad.key" -- --key-file "$kdir/bad.key" "$F/clean.txt"
check forward_no_daemon 1 'nope.sock' -- --forward "$F/nope.sock" "$F/clean.txt"
check unreadable 15 'does-not-exist.txt: No such file' -- --no-query "$F/does-not-exist.txt"
check unreadable_dir 15 'is a directory' -- --no-query "$F"
check unreadable_among 15 'sdb' -- --no-query "$F/kmsg.txt" "$F/does-not-exist.txt"
check version 0 '^prexplain [0-9]' -- --version
check help 0 '--on-fenced' -- --help

echo "prexplain CLI: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
