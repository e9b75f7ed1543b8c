#!/usr/bin/env bash
# prexplain one-shot on fixture files, as an operator and a harness use it: the human lines, the
# --json fields and the exit codes (0 no conflict, 24 conflicts, 1 usage, 15 unreadable input).
# --no-query throughout: the fixtures come from other machines.
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

# Every format, human lines.
check dmesg_6_1 24 '^sdq \[1:0:0:0\]: READ_10 sector 0: UNKNOWN: not queried' -- --no-query "$V/dmesg-6.1.txt"
check dmesg_6_12 24 '^sdb \[0:0:0:1\]: READ_10 sector 0: UNKNOWN' -- --no-query "$V/dmesg-6.12.txt"
count dmesg_6_12_lus 24 16 '^[^ ]+ \[0:0:0:[0-9]+\]: (READ_10|command)' -- --no-query "$V/dmesg-6.12.txt"
check dmesg_5_10 24 '^sdb \[2:0:0:0\]: WRITE_10 sector 2048: UNKNOWN' -- --no-query "$F/dmesg-5.10.txt"
check dmesg_5_10_nexus_failure 24 '^sdc \[2:0:0:1\]: READ_10 sector 2048' -- --no-query "$F/dmesg-5.10.txt"
check journal_short 24 '^sdb \[1:0:0:0\]: READ_10 sector 0' -- --no-query "$F/journal-short.txt"
check journal_monotonic 24 '^sdb \[0:0:0:1\]: READ_10 sector 0: UNKNOWN: not queried \(--no-query\) \(1 conflict, at 47\.786626\)' -- --no-query "$F/journal-monotonic.txt"
check kmsg 24 '^sdb \[0:0:0:1\]: READ_10 sector 0.*at 47\.786626' -- --no-query "$F/kmsg.txt"
check trace_6_1 24 '\[0:0:0:1\]: READ_10 sector 0' -- --no-query "$V/trace-6.1.txt"
check trace_6_12 24 '\[0:0:0:1\]: still conflicting: PERSISTENT_RESERVE_OUT: UNKNOWN.*2 conflicts' -- --no-query "$V/trace-6.12.txt"
check trace_5_15 24 '\[1:0:1:0\]: WRITE_10 sector 2048' -- --no-query "$F/trace-5.15.txt"
check prsim 24 '\[1:0:1:0\]: READ_10 sector 0' -- --no-query "$F/prsim-6.1.txt"
check prsim_capture 24 '\[0:0:0:7\]: PERSISTENT_RESERVE_OUT' -- --no-query "$F/prsim-capture.txt"
# A storm is counted, not repeated: one first event, one update per LU.
count storm_lines 24 3 '.' -- --no-query "$F/storm.txt"
check storm_count 24 '^sde \[3:0:0:4\]: still conflicting: .*2000 conflicts, 100\.000000 to 101\.999000' -- --no-query "$F/storm.txt"
STDIN="$F/kmsg.txt" check stdin 24 '^sdb \[0:0:0:1\]' -- --no-query -
count clean 0 0 '.' -- --no-query "$F/clean.txt"

# --json fields.
J=(--no-query --json --key 0xabc123)
check json_class 24 '"class":"UNKNOWN"' -- "${J[@]}" "$F/journal-monotonic.txt"
check json_fields 24 '^\{"class":"UNKNOWN","reason":"not queried \(--no-query\)","device":"sdb","hctl":"0:0:0:1","wwid":null,"op":"READ_10","access":"read","sector":0,"blocks":8,"count":1,"first_seen":47\.786626,"last_seen":47\.786626,"update":false,"source":"journal","group":null,"our_key":"0xabc123","holder_key":null,"type":null' -- "${J[@]}" "$F/journal-monotonic.txt"
check json_trace 24 '"hctl":"0:0:0:1","wwid":null,"op":"PERSISTENT_RESERVE_OUT","access":"pr_out","sector":null' -- "${J[@]}" "$V/trace-6.1.txt"
check json_storm 24 '"count":2000,"first_seen":100(\.0)?,"last_seen":101\.999' -- "${J[@]}" "$F/storm.txt"

# Exit codes.
check usage_nothing 1 'nothing to read' --
check usage_bad_option 1 'unknown|not expected|extras' -- --no-such-option
check usage_bad_key 1 '--key zz: .*not a hex digit' -- --key zz "$F/clean.txt"
check usage_mix 1 'do not mix' -- --follow "$F/clean.txt" "$F/clean.txt"
# Our key from a cluster key file, as fence_scsi and fence_prfence write it.
kdir=$(mktemp -d); trap 'rm -rf "$kdir"' EXIT
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
