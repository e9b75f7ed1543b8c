#!/usr/bin/env bash
# prfence direct mode against a real prsim daemon, as an operator runs it: the seed session on a farm,
# a fence of node A by node B, and the failure paths (no daemon, bad devices, bad keys, refusals).
# Usage: prfence_sim_test.sh PRFENCE PRSIM
set -u
P=$1 S=$2
dir=$(mktemp -d)
sock=$dir/prsim.sock
"$S" --socket "$sock" --luns 64 >"$dir/prsim.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "prsim did not start in 20 s:"; cat "$dir/prsim.log"; exit 1; }
A=(--initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1)
B=(--initiator "iqn.2026-11.io.prfence:node-b,i,0x2" --target-port 2)
ALL=sim:$sock:0-63
fails=0 passes=0
check() {  # check NAME WANT_RC REGEX -- ARGS...
    local name=$1 want_rc=$2 regex=$3; shift 4
    local out rc
    out=$("$P" "$@" 2>&1); rc=$?
    if [ "$rc" -ne "$want_rc" ] || ! grep -qE -- "$regex" <<<"$out"; then
        echo "FAIL $name: rc=$rc (want $want_rc), output:"; sed 's/^/    /' <<<"$out" | head -20; fails=$((fails+1))
    else
        passes=$((passes+1))
    fi
}
check register_a 0 '64 ok, 0 failed' -- register "${A[@]}" --key abc123 -q "$ALL"
check register_b 0 '64 ok, 0 failed' -- register "${B[@]}" --key 123abc -q "$ALL"
check keys 0 '2 keys: 0xabc123 0x123abc, generation 2' -- keys "${A[@]}" "sim:$sock:0"
check keys_json 0 '"keys": \[' -- keys "${A[@]}" --json "sim:$sock:0"
check reserve 0 '64 ok' -- reserve "${A[@]}" --key abc123 --type 3 -q "$ALL"
check reservation 0 'reserved by 0xabc123 EA' -- reservation "${B[@]}" "sim:$sock:7"
check reservation_json 0 '"type": "EA"' -- reservation "${B[@]}" --json "sim:$sock:7"
check reserve_conflict 24 'RESERVATION CONFLICT' -- reserve "${B[@]}" --key 123abc --type 3 "sim:$sock:0"
# probe: the holder reads and writes; under Exclusive Access the other node cannot even read.
check probe_holder 0 '64 ok, 0 failed' -- probe "${A[@]}" -q "$ALL"
check probe_excluded 24 'READ\(10\): RESERVATION CONFLICT' -- probe "${B[@]}" "sim:$sock:5"
check probe_no_key 1 'not expected: --key' -- probe "${B[@]}" --key 1 "sim:$sock:5"
check caps 0 'ATP_C=' -- caps "${A[@]}" "sim:$sock:0"
check status 0 'node-a' -- status "${A[@]}" "sim:$sock:0"
check release_wrong_type 5 'INVALID RELEASE OF PERSISTENT RESERVATION' -- release "${A[@]}" --key abc123 --type 1 "sim:$sock:0"
check fence 0 '64 ok, 0 failed' -- fence "${B[@]}" --key 123abc --victim abc123 --type 3 -q "$ALL"
check fenced_holder 0 'reserved by 0x123abc EA' -- reservation "${A[@]}" "sim:$sock:9"
check fence_again 0 'already fenced' -- fence "${B[@]}" --key 123abc --victim abc123 --type 3 "sim:$sock:1"
check probe_fenced 24 '0 ok, 64 failed' -- probe "${A[@]}" -q "$ALL"
check probe_new_holder 0 'read and write access' -- probe "${B[@]}" "sim:$sock:1"
check fenced_cannot_fence 24 'not registered here' -- fence "${A[@]}" --key abc123 --victim 123abc "sim:$sock:2"
check takeover_refused 1 'add --force' -- takeover "${A[@]}" --key abc123 "$ALL"
check takeover 0 '64 ok, 0 failed' -- takeover "${A[@]}" --key abc123 --type 3 --force -q "$ALL"
check after_takeover 0 'reserved by 0xabc123 EA' -- reservation "${B[@]}" "sim:$sock:3"
check clear 0 '64 ok' -- clear "${A[@]}" --key abc123 -q "$ALL"
check cleared 0 'not reserved' -- reservation "${A[@]}" "sim:$sock:3"
# Write Exclusive: the other node may read but not write.
check register_we 0 '1 ok' -- register "${A[@]}" --key abc123 "sim:$sock:3"
check reserve_we 0 '1 ok' -- reserve "${A[@]}" --key abc123 --type WE "sim:$sock:3"
check probe_we 24 'SYNCHRONIZE CACHE\(10\): RESERVATION CONFLICT \(reads are allowed\)' -- probe "${B[@]}" "sim:$sock:3"
check clear_we 0 '1 ok' -- clear "${A[@]}" --key abc123 "sim:$sock:3"
check unregister_gone 24 'RESERVATION CONFLICT' -- unregister "${B[@]}" --key 123abc "sim:$sock:3"
# Failure paths: every one a clear message and the right exit code.
check no_daemon 15 'nope.sock' -- keys "${A[@]}" "sim:$dir/nope.sock:0"
check no_initiator 15 'need --initiator' -- keys "sim:$sock:0"
check bad_lun 15 'does not exist' -- keys "${A[@]}" "sim:$sock:64"
check bad_range 15 'range 9-2 is reversed \(write 2-9\)' -- keys "${A[@]}" "sim:$sock:9-2"
check bad_key 1 'not a hex digit' -- register "${A[@]}" --key xyz "sim:$sock:0"
check missing_key 1 '--key is required' -- reserve "${A[@]}" --type 3 "sim:$sock:0"
check bad_type 1 'reservation type' -- reserve "${A[@]}" --key 1 --type 4 "sim:$sock:0"
check fence_self 1 'fence ourselves' -- fence "${A[@]}" --key 1 --victim 1 "sim:$sock:0"
check missing_node 15 '/dev/nonexistent1: does not exist' -- keys /dev/nonexistent1
check json_summary 0 '"exit_code": 0' -- keys "${A[@]}" --json "sim:$sock:0-3"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
