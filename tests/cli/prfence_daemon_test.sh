#!/usr/bin/env bash
# prfence --daemon as an operator runs it: prsim farm (LUNs and two NVMe namespaces), prfenced on a
# temporary socket and config, two groups (node A and node B, one initiator each) over the same LUNs,
# the failover through the daemon, the same output as direct mode (NVMe namespaces too), and the
# failure paths (no daemon, unknown group, bad input, group commands without --daemon).
# Node B's group carries its key (group create --key): operations without --key use it.
# With PREXPLAIN given, also: prexplain --forward hands a conflict to the daemon's subscribers, and
# prexplain --daemon takes "our key" (and the initiator to query as) from the daemon's groups.
# Usage: prfence_daemon_test.sh PRFENCE PRSIM PRFENCED [PREXPLAIN]
set -u
P=$1 S=$2 D=$3 X=${4:-}
fixtures=$(cd "$(dirname "$0")/../fixtures/prexplain" && pwd)
dir=$(mktemp -d)
sock=$dir/prsim.sock ctl=$dir/control.sock cfg=$dir/prfenced.json
"$S" --socket "$sock" --luns 64 --nvme-namespaces 4 --trace "$dir/trace.txt" >"$dir/prsim.log" 2>&1 &
spid=$!
"$D" --socket "$ctl" --config "$cfg" >"$dir/prfenced.log" 2>&1 &
dpid=$!
trap 'kill $spid $dpid 2>/dev/null; wait $spid $dpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$sock" ] && [ -S "$ctl" ] && break; sleep 0.1; done
[ -S "$sock" ] && [ -S "$ctl" ] || { echo "prsim or prfenced did not start in 20 s:"; cat "$dir/prsim.log" "$dir/prfenced.log"; exit 1; }
PD=("$P" "--daemon=$ctl")
ALL=sim:$sock:0-63
fails=0 passes=0
check() {  # check NAME WANT_RC REGEX -- ARGS... (ARGS run as prfence --daemon=CTL ...)
    local name=$1 want_rc=$2 regex=$3; shift 4
    local out rc
    out=$("${PD[@]}" "$@" 2>&1); rc=$?
    if [ "$rc" -ne "$want_rc" ] || ! grep -qE -- "$regex" <<<"$out"; then
        echo "FAIL $name: rc=$rc (want $want_rc), output:"; sed 's/^/    /' <<<"$out" | head -20; fails=$((fails+1))
    else
        passes=$((passes+1))
    fi
}
check create_a 0 'nodeA: 64 LUNs' -- group create nodeA --initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1 "$ALL"
check create_key0 1 '0 is not a reservation key' -- group create nodeB --key 0 "$ALL"
check create_badkey 1 'hex' -- group create nodeB --key xyz "$ALL"
check create_b 0 'nodeB: 64 LUNs.*key 0x123abc' -- group create nodeB --initiator "iqn.2026-11.io.prfence:node-b,i,0x2" --target-port 2 --key 123abc "$ALL"
check create_dup 1 'EEXIST' -- group create nodeA --initiator "iqn.2026-11.io.prfence:node-a,i,0x1" "$ALL"
check list 0 'nodeB: 64 LUNs' -- group list
check list_json 0 '"key": "0x123abc"' -- group list --json
check register_a 0 '64 ok, 0 failed' -- register --key abc123 -q nodeA
check register_b 0 '64 ok, 0 failed' -- register -q nodeB
check keys 0 '2 keys: 0xabc123 0x123abc' -- keys nodeA
check reserve 0 '64 ok' -- reserve --key abc123 --type 3 -q nodeA
check reservation_json 0 '"type": "EA"' -- reservation --json nodeB
check fence 0 'fence: 64 LUNs, 64 ok, 0 failed' -- fence --victim abc123 --type 3 -q nodeB
check fence_json 0 '"queued_ms"' -- fence --key 123abc --victim abc123 --type 3 --json nodeB
check fenced 0 'reserved by 0x123abc EA' -- reservation nodeA
check fenced_cannot_fence 24 'not registered here' -- fence --key abc123 --victim 123abc nodeA
check missing_key 1 '--key is required.*group "nodeA" has no key' -- reserve --type 3 nodeA
# prexplain --daemon: A, fenced, keeps trying; the daemon's groups say which key is A's (and which
# initiator to ask as); an LU in both groups with different keys is pointed out once per pair.
if [ -n "$X" ]; then
    before=$(wc -l <"$dir/trace.txt")
    "$P" reserve --initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1 --key abc123 --type EA -q "$ALL" >/dev/null 2>&1
    tail -n +"$((before + 1))" "$dir/trace.txt" >"$dir/trace.a"
    "${PD[@]}" group delete nodeA >/dev/null && "${PD[@]}" group create nodeA --key abc123 \
        --initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1 "$ALL" >/dev/null || { echo "FAIL recreate nodeA"; fails=$((fails+1)); }
    out=$("$X" --daemon "$ctl" --group nodeA --sim "$sock" --json "$dir/trace.a" 2>&1); xrc=$?
    n=$(grep -c '"class":"FENCED".*"group":"nodeA".*"our_key":"0xabc123".*"holder_key":"0x123abc"' <<<"$out")
    if [ "$xrc" -eq 24 ] && [ "$n" -eq 64 ]; then passes=$((passes+1)); else
        echo "FAIL prexplain_daemon_key: rc=$xrc, $n of 64"; sed 's/^/    /' <<<"$out" | head; fails=$((fails+1)); fi
    out=$("$X" --daemon "$ctl" --sim "$sock" --no-query "$dir/trace.a" 2>&1 >/dev/null)
    if [ "$(grep -c 'more LUs are in group' <<<"$out")" -eq 1 ]; then passes=$((passes+1)); else
        echo "FAIL prexplain_daemon_two_groups:"; sed 's/^/    /' <<<"$out" | head; fails=$((fails+1)); fi
    out=$("$X" --daemon "$ctl" --group nosuch "$dir/trace.a" 2>&1); xrc=$?
    if [ "$xrc" -eq 1 ] && grep -q 'no group "nosuch"' <<<"$out"; then passes=$((passes+1)); else
        echo "FAIL prexplain_daemon_nosuch: rc=$xrc: $out"; fails=$((fails+1)); fi
fi
check stats 0 'fence' -- stats
check stats_json 0 '"p99_us"' -- stats --json
check health 0 'groups: 2' -- health
check ping 0 'NOOP round trips' -- ping --count 200
check refresh 0 'refresh: 64 LUNs, 64 ok' -- group refresh nodeA
check takeover_refused 1 'add --force' -- takeover --key abc123 nodeA
check clear 0 '64 ok' -- clear --key 123abc -q nodeB
# prexplain's events reach a subscriber through the daemon.
if [ -n "$X" ]; then
    "${PD[@]}" events --count 1 >"$dir/events.txt" 2>&1 &
    epid=$!
    for _ in $(seq 50); do "${PD[@]}" health 2>/dev/null | grep -q 'subscribers: 1' && break; sleep 0.1; done
    "$X" --no-query --key abc123 --forward "$ctl" "$fixtures/dmesg-5.10.txt" >"$dir/prexplain.out" 2>&1; xrc=$?
    for _ in $(seq 50); do kill -0 $epid 2>/dev/null || break; sleep 0.1; done
    kill $epid 2>/dev/null; wait $epid 2>/dev/null
    if [ "$xrc" -ne 24 ] || ! grep -q '"kind":"conflict"' "$dir/events.txt"; then
        echo "FAIL prexplain_forward: prexplain rc=$xrc, events:"; sed 's/^/    /' "$dir/events.txt" "$dir/prexplain.out" | head; fails=$((fails+1))
    else
        passes=$((passes+1))
    fi
fi
# Failure paths.
check unknown_group 15 'ENOENT' -- keys nosuch
check two_groups 1 'exactly one LUN group' -- keys nodeA nodeB
check initiator_in_group 1 'belong to the group' -- keys --initiator "iqn.x,i,0x1" nodeA
check create_tmp 0 'tmp: 4 LUNs' -- group create tmp "sim:$sock:0-3"
# group delete says nothing when it succeeds.
out=$("${PD[@]}" group delete tmp 2>&1); rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then echo "FAIL delete: rc=$rc (want 0, no output): $out"; fails=$((fails+1)); else passes=$((passes+1)); fi
check deleted 15 'ENOENT' -- keys tmp
out=$("$P" group list 2>&1); rc=$?
if [ "$rc" -ne 1 ] || ! grep -q -- '--daemon' <<<"$out"; then echo "FAIL group_without_daemon: rc=$rc: $out"; fails=$((fails+1)); else passes=$((passes+1)); fi
out=$("$P" --daemon="$dir/nope.sock" keys nodeA 2>&1); rc=$?
if [ "$rc" -ne 15 ] || ! grep -q 'nope.sock' <<<"$out"; then echo "FAIL no_daemon: rc=$rc: $out"; fails=$((fails+1)); else passes=$((passes+1)); fi
# Paths per LU: daemon mode's JSON carries the same "paths" as direct mode's for the same LUs (one
# renderer, fed through LUN_PATHS). LU 2 sits behind a socket nobody listens on: its one path is
# dead, with the open error as its reason; the live LUs have one path each and list none.
gone="sim:$dir/gone.sock:2"
check create_paths 0 'mp: 3 LUNs' -- group create mp --initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1 "sim:$sock:60-61" "$gone"
"${PD[@]}" register --ignore-existing --key abc999 --json mp >"$dir/paths_daemon.json" 2>/dev/null; drc=$?
"$P" register --ignore-existing --key abc999 --json --initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1 \
    "sim:$sock:60-61" "$gone" >"$dir/paths_direct.json" 2>/dev/null; rrc=$?
if python3 - "$dir/paths_daemon.json" "$dir/paths_direct.json" "$gone" <<'EOF2'
import json, sys
d, r = (json.load(open(f))["luns"] for f in sys.argv[1:3])
view = lambda luns: [(l["device"], l["ok"], l.get("paths")) for l in luns]
assert view(d) == view(r), "daemon %s\ndirect %s" % (view(d), view(r))
dead = [l for l in d if l.get("paths")]
assert [l["device"] for l in dead] == [sys.argv[3]], view(d)
p = dead[0]["paths"]
assert len(p) == 1 and p[0]["path"] == sys.argv[3] and p[0]["state"] == "dead", p
assert "gone.sock" in p[0]["error"] and p[0]["error"].startswith("open: "), p
assert sum(l["ok"] for l in d) == 2, view(d)
EOF2
then [ "$drc" -eq "$rrc" ] && passes=$((passes+1)) || { echo "FAIL paths_exit: daemon $drc, direct $rrc"; fails=$((fails+1)); }
else
    echo "FAIL paths_same_as_direct:"; sed 's/^/    /' "$dir/paths_daemon.json" | head -40; fails=$((fails+1))
fi
"${PD[@]}" group delete mp >/dev/null 2>&1
# NVMe namespaces: daemon mode's JSON carries the same "nvme" object as direct mode's (one renderer,
# fed through LUN_NVME): the Report's registrants with their host identifiers (each initiator its
# own NVMe host) and holder, and the NVMe status of a conflict.
NS=sim:$sock:ns1-2 NA="iqn.2026-11.io.prfence:node-a,i,0x1" NB="iqn.2026-11.io.prfence:node-b,i,0x2"
check create_nvA 0 'nvA: 2 LUNs' -- group create nvA --initiator "$NA" "$NS"
check create_nvB 0 'nvB: 2 LUNs' -- group create nvB --initiator "$NB" "$NS"
check register_nvA 0 '2 ok, 0 failed' -- register --key a1 -q nvA
check register_nvB 0 '2 ok, 0 failed' -- register --key b2 -q nvB
check reserve_nvA 0 '2 ok, 0 failed' -- reserve --key a1 --type EA -q nvA
nvme_same() {  # nvme_same NAME WANT_RC CHECK -- OP_ARGS... (group nvB, then direct as node B)
    local name=$1 want=$2 assert=$3; shift 4
    local drc rrc
    "${PD[@]}" "$@" --json nvB >"$dir/$name.daemon.json" 2>/dev/null; drc=$?
    "$P" "$@" --json --initiator "$NB" "$NS" >"$dir/$name.direct.json" 2>/dev/null; rrc=$?
    if [ "$drc" -ne "$want" ] || [ "$rrc" -ne "$want" ]; then
        echo "FAIL ${name}_exit: daemon $drc, direct $rrc, want $want"; fails=$((fails+1)); return
    fi
    if python3 - "$dir/$name.daemon.json" "$dir/$name.direct.json" "$assert" <<'EOF2'
import json, sys
d, r = (json.load(open(f))["luns"] for f in sys.argv[1:3])
view = lambda luns: [(l["device"], l["ok"], l.get("nvme")) for l in luns]
assert view(d) == view(r), "daemon %s\ndirect %s" % (view(d), view(r))
assert len(d) == 2 and all("nvme" in l for l in d), view(d)
n = d[0]["nvme"]
if sys.argv[3] == "report":
    regs = n["registrants"]
    assert n["rtype_name"] == "Exclusive Access" and len(regs) == 2, n
    assert sorted(g["key"] for g in regs) == ["0xa1", "0xb2"], n
    assert [g["key"] for g in regs if g["holder"]] == ["0xa1"], n
    ids = [g["hostid"] for g in regs]
    assert len(set(ids)) == 2 and all(len(i) == 32 and int(i, 16) for i in ids), n
else:
    assert n["status"].startswith("Reservation Conflict (0x"), n
EOF2
    then passes=$((passes+1))
    else echo "FAIL ${name}_same_as_direct:"; sed 's/^/    /' "$dir/$name.daemon.json" | head -40; fails=$((fails+1))
    fi
}
nvme_same nvme_keys 0 report -- keys
nvme_same nvme_conflict 24 status -- reserve --key b2 --type EA
"${PD[@]}" group delete nvA >/dev/null 2>&1
"${PD[@]}" group delete nvB >/dev/null 2>&1
# The NVMe host a group speaks as, given at create as direct mode takes it (--hostnqn, --hostid), no
# initiator at all: host A named by a UUID NQN (its identifier is that UUID), host B by an NQN and an
# identifier of its own. A registers and reserves through its group, B fences A through its group;
# the Report's registrants carry exactly the identifiers given. A bad NQN or identifier is refused
# at create (exit 1, the value and the reason named) and makes no group.
HS=sim:$sock:ns3-4 HA=0123abcd-0000-4000-8000-00000000000a HB=0123abcd00004000800000000000000b
QA="nqn.2014-08.org.nvmexpress:uuid:$HA" QB="nqn.2026-12.io.example:node-b"
check create_hqA 0 "hqA: 2 LUNs, 2 paths open, hostnqn $QA, uring" -- group create hqA --hostnqn "$QA" "$HS"
check create_hqB 0 "hqB: 2 LUNs, 2 paths open, hostnqn $QB, hostid $HB, uring" -- \
    group create hqB --hostnqn "$QB" --hostid "$HB" "$HS"
check list_hq_json 0 "\"hostid\": \"$HB\"" -- group list --json hqB
check register_hqA 0 '2 ok, 0 failed' -- register --key a3 -q hqA
check reserve_hqA 0 '2 ok, 0 failed' -- reserve --key a3 --type WE-RO -q hqA
check register_hqB 0 '2 ok, 0 failed' -- register --key b4 -q hqB
"${PD[@]}" keys --json hqB >"$dir/hq_keys.json" 2>"$dir/hq_keys.err"; krc=$?
"${PD[@]}" fence --key b4 --victim a3 --json hqB >"$dir/hq_fence.json" 2>"$dir/hq_fence.err"; frc=$?
if [ "$krc" -eq 0 ] && [ "$frc" -eq 0 ] && python3 - "$dir/hq_keys.json" "$dir/hq_fence.json" "${HA//-/}" "$HB" <<'EOF2'
import json, sys
keys, fence = (json.load(open(f)) for f in sys.argv[1:3])
ha, hb = sys.argv[3], sys.argv[4]
regs = lambda j: [[(g["key"], g["hostid"], g["holder"]) for g in l["nvme"]["registrants"]] for l in j["luns"]]
assert [l["ok"] for l in keys["luns"]] == [True, True], keys
assert regs(keys) == [[("0xa3", ha, True), ("0xb4", hb, False)]] * 2, regs(keys)
assert fence["summary"]["ok"] == 2 and fence["summary"]["group"] == "hqB", fence["summary"]
assert regs(fence) == [[("0xb4", hb, True)]] * 2, regs(fence)
assert all(l["reservation"]["key"] == "0xb4" for l in fence["luns"]), fence["luns"]
EOF2
then passes=$((passes+1))
else
    echo "FAIL hq_fence: keys rc=$krc, fence rc=$frc:"; sed 's/^/    /' "$dir/hq_keys.json" "$dir/hq_keys.err" "$dir/hq_fence.json" "$dir/hq_fence.err" | head -80; fails=$((fails+1))
fi
check hq_fenced 24 'ns3 +FAILED' -- reserve --key a3 --type WE-RO hqA
long=$(printf 'q%.0s' $(seq 230))
check hq_bad_long 1 "--hostnqn \"q{64}\.\.\.\" \(230 bytes\): an NVMe host NQN is 1 to 223 printable ASCII characters" -- \
    group create hqC --hostnqn "$long" "$HS"
check hq_bad_char 1 '--hostnqn "nqn\.a\\x09b" \(7 bytes\): an NVMe host NQN is 1 to 223 printable ASCII characters' -- \
    group create hqC --hostnqn "$(printf 'nqn.a\tb')" "$HS"
check hq_bad_id 1 '--hostid "xyz": an NVMe host identifier is 32 hex digits' -- group create hqC --hostid xyz "$HS"
check hq_bad_none 15 'ENOENT' -- keys hqC
# The group survives a restart: same config, state re-read from the LUNs.
kill $dpid; wait $dpid 2>/dev/null
"$D" --socket "$ctl" --config "$cfg" >>"$dir/prfenced.log" 2>&1 &
dpid=$!
for _ in $(seq 100); do [ -S "$ctl" ] && "$P" --daemon="$ctl" health >/dev/null 2>&1 && break; sleep 0.1; done
check restarted 0 'nodeA: 64 LUNs' -- group list
check restarted_keys 0 '64 ok' -- keys -q nodeA
check restarted_group_key 0 'key 0x123abc' -- group list nodeB
check restarted_hostnqn 0 "hqB: 2 LUNs.*hostnqn $QB, hostid $HB" -- group list hqB
check restarted_hq_keys 0 'ns3 +ok .*1 key: 0xb4' -- keys hqA
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
