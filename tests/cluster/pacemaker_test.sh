#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fence_prfence under a real Pacemaker 2.1.5 + Corosync 3 (cluster_lib.sh): a one-node cluster node-a
# fences the non-member node-b on a prsim farm of N LUs (default 256) held open by prfenced, in a group
# that speaks as node-a's initiator. node-b's key is registered directly over node-b's own I_T nexus,
# as node-b would have unfenced itself (an `on` declared on_target cannot be run for another node).
#   1. key from the device's host map (pcmk_host_map + pcmk_host_argument=key): the scheduler unfences
#      node-a by itself (meta provides=unfencing): node-a's key on every LU, a WRITE EXCLUSIVE -
#      REGISTRANTS ONLY reservation held by it, the key file written, #node-unfenced set;
#      `stonith_admin --fence node-b` removes node-b's key from every LU and keeps our reservation;
#      --reboot is remapped to off; --unfence node-b is refused (105, on_target).
#   2. stonith_admin --validate runs the agent's validate-all: a good and three bad parameter sets.
#   3. failures: a victim key equal to ours, and a group prfenced does not have, fail (exit 1) after
#      the fencer's two attempts, and leave the LUs as they were.
#   4. key_value=hash instead of the host map (the parameter change re-unfences node-a): node-b's key is
#      fence_scsi's md5 formula over the cluster name and "node-b", and fencing removes it.
#   5. timeout: with every command held 9 s by prsim and pcmk_off_timeout=5s, the fencer SIGKILLs the
#      agent mid-batch (stonith_admin 124); prfenced keeps answering, and once the latency is gone a
#      retry fences.
# Every LU is read back through a third initiator (node-c), not through the agent or prfenced.
# Usage: pacemaker_test.sh FENCE_PRFENCE PRFENCE PRSIM PRFENCED    (root; exits 77 without a cluster)
set -u
AGENT=$1 P=$2 S=$3 D=$4
# shellcheck source=cluster_lib.sh
. "$(dirname "$0")/cluster_lib.sh"
N=${PRFENCE_CLUSTER_LUNS:-256}
INI_A="iqn.2026-11.io.prfence:node-a,i,0x1"
INI_B="iqn.2026-11.io.prfence:node-b,i,0x2"
INI_C="iqn.2026-11.io.prfence:node-c,i,0x3"
# fence_scsi's key_value=hash keys for cluster "prfence" (fence_scsi.py's generate_key): the first 4 hex
# digits of md5(cluster name), then those of md5(node name), leading zeros stripped.
hash_key() { python3 -c 'import hashlib, sys
h = lambda s: hashlib.md5(s.encode()).hexdigest()[:4]
print((h("prfence") + h(sys.argv[1])).lstrip("0"))' "$1"; }
KA=$(hash_key node-a) KB=$(hash_key node-b)
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $1"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }

cluster_prepare
for b in "$AGENT" "$P" "$S" "$D"; do [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }; done
sock=$CL_DIR/prsim.sock ctl=$CL_DIR/control.sock keyfile=$CL_DIR/cluster.key
ALL=sim:$sock:0-$((N - 1))
cl_start_farm "$S" "$D" "$P" --luns "$N"
"$P" --daemon="$ctl" group create nodeA --initiator "$INI_A" --target-port 1 "$ALL" >/dev/null ||
    { echo "FAIL: group create"; exit 1; }

register_b() {  # node-b unfences itself: its key over its own nexus, on every LU
    "$P" register --initiator "$INI_B" --target-port 2 --key "$KB" --ignore-existing -q "$ALL" >"$CL_DIR/register_b.out" 2>&1 ||
        { bad "register node-b's key directly:"; sed 's/^/    /' "$CL_DIR/register_b.out"; }
}

# check_luns NAME "KEYS" HOLDER: every LU has exactly these keys (sorted, space-separated) and a WE-RO
# reservation held by HOLDER, read through node-c.
check_luns() {
    local name=$1 keys=$2 holder=$3 out
    "$P" keys --initiator "$INI_C" --target-port 1 --json "$ALL" >"$CL_DIR/keys.json" 2>"$CL_DIR/keys.err"
    "$P" reservation --initiator "$INI_C" --target-port 1 --json "$ALL" >"$CL_DIR/res.json" 2>"$CL_DIR/res.err"
    if out=$(python3 - "$CL_DIR/keys.json" "$CL_DIR/res.json" "$keys" "$holder" "$N" <<'PY' 2>&1
import json, sys
keys, res = (json.load(open(f))["luns"] for f in sys.argv[1:3])
want, holder, n = sys.argv[3].split(), "0x" + sys.argv[4], int(sys.argv[5])
want = sorted("0x" + k for k in want)
assert len(keys) == n and len(res) == n, "%d and %d LUs read, want %d" % (len(keys), len(res), n)
bad = []
for k, r in zip(keys, res):
    got = sorted(k.get("keys") or [])
    rv = r.get("reservation") or {}
    if not (k["ok"] and r["ok"] and got == want and rv.get("key") == holder and rv.get("type") == "WE-RO"):
        bad.append("%s: keys %s, reservation %s" % (k["device"], got, rv or None))
assert not bad, "%d of %d LUs differ, e.g. %s" % (len(bad), n, "; ".join(bad[:3]))
PY
    ); then ok "$name"; else bad "$name: $out"; fi
}

# expect NAME WANT_RC COMMAND...: the exit status; the output is kept in $CL_DIR/NAME.out.
expect() {
    local name=$1 want=$2 rc
    shift 2
    "$@" >"$CL_DIR/$name.out" 2>&1
    rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name"; else
        bad "$name: exit $rc (want $want): $*"; sed 's/^/    /' "$CL_DIR/$name.out" | head -20
    fi
}

# How many times node-a has been unfenced (the fencer's history, every event).
unfence_count() { stonith_admin --history node-a --verbose 2>/dev/null | grep -c 'unfencing of node-a successful'; }
wait_unfenced() {  # wait_unfenced COUNT: at least COUNT successful unfencings of node-a, within 60 s
    local _
    for _ in $(seq 600); do [ "$(unfence_count)" -ge "$1" ] && return 0; sleep 0.1; done
    return 1
}

register_b
cluster_agent fence_prfence "$AGENT"
# prim_xml map|hash: the device, its key from the host map (given to the agent as key=) or derived by
# the agent from the node name with fence_scsi's hash formula.
prim_xml() {
    local keys
    if [ "$1" = map ]; then
        keys="<nvpair id=\"prf-hm\" name=\"pcmk_host_map\" value=\"node-a:$KA;node-b:$KB\"/>
    <nvpair id=\"prf-ha\" name=\"pcmk_host_argument\" value=\"key\"/>"
    else
        keys="<nvpair id=\"prf-kv\" name=\"key_value\" value=\"hash\"/>"
    fi
    echo "<primitive id=\"prf\" class=\"stonith\" type=\"fence_prfence\">
  <instance_attributes id=\"prf-ia\">
    <nvpair id=\"prf-group\" name=\"group\" value=\"nodeA\"/>
    <nvpair id=\"prf-socket\" name=\"socket\" value=\"$ctl\"/>
    <nvpair id=\"prf-keyfile\" name=\"key_file\" value=\"$keyfile\"/>
    <nvpair id=\"prf-hl\" name=\"pcmk_host_list\" value=\"node-a node-b\"/>
    <nvpair id=\"prf-to\" name=\"pcmk_off_timeout\" value=\"5s\"/>
    $keys
  </instance_attributes>
  <meta_attributes id=\"prf-ma\"><nvpair id=\"prf-prov\" name=\"provides\" value=\"unfencing\"/></meta_attributes>
  <operations><op id=\"prf-mon\" name=\"monitor\" interval=\"60s\"/></operations>
</primitive>"
}
cluster_seed "$(prim_xml map)"
cluster_start
cluster_wait_device prf 30 && ok device_registered || bad "device prf not registered in 30 s"
cluster_wait_dc 60

# 1. Automatic unfencing of node-a, then fencing node-b with the key from the host map.
if wait_unfenced 1; then ok unfenced_by_scheduler; else bad "node-a was not unfenced within 60 s of the DC"; fi
# The device started (its start and recurring monitor are the agent's monitor action, no LUN I/O).
for _ in $(seq 100); do crm_resource --locate -r prf 2>/dev/null | grep -q 'is running on: node-a' && break; sleep 0.1; done
crm_resource --locate -r prf 2>&1 | grep -q 'is running on: node-a' && ok device_started ||
    bad "prf not started: $(crm_resource --locate -r prf 2>&1)"
v=$(attrd_updater -Q -n '#node-unfenced' -N node-a 2>&1)
grep -q 'value="[1-9][0-9]*"' <<<"$v" && ok node_unfenced_attribute || bad "#node-unfenced: $v"
[ "$(tr -d '\n' <"$keyfile" 2>&1 | sed 's/^0x//')" = "$KA" ] && ok key_file || bad "key file: $(cat "$keyfile" 2>&1)"
check_luns after_unfence "$KA $KB" "$KA"
expect fence_node_b 0 stonith_admin --fence node-b --timeout 60
check_luns after_fence "$KA" "$KA"
register_b
expect reboot_is_off 0 stonith_admin --reboot node-b --timeout 60
check_luns after_reboot "$KA" "$KA"
expect fence_again 0 stonith_admin --fence node-b --timeout 60
expect unfence_b_on_target 105 stonith_admin --unfence node-b
expect fence_unknown_node 105 stonith_admin --fence node-zz --timeout 10

# 2. validate-all through the fencer's own path (stonith_admin runs the agent itself).
expect validate_good 0 stonith_admin --validate --agent fence_prfence --option group=nodeA --option "socket=$ctl" \
    --option key=$KB
expect validate_devices_and_group 1 stonith_admin --validate --agent fence_prfence --option group=nodeA \
    --option "devices=$ALL" --option key=$KB
expect validate_bad_key 1 stonith_admin --validate --agent fence_prfence --option group=nodeA --option key=xyz
expect validate_nothing 1 stonith_admin --validate --agent fence_prfence --option key=$KB

# 3. Failures: two attempts each, nothing changed on the LUs.
register_b
stonith_admin -R prf-same -a fence_prfence -o group=nodeA -o "socket=$ctl" -o "key_file=$keyfile" \
    -o pcmk_host_list=node-d -o "pcmk_host_map=node-d:$KA" -o pcmk_host_argument=key >/dev/null 2>&1
stonith_admin -R prf-nosuch -a fence_prfence -o group=nosuch -o "socket=$ctl" -o "key_file=$keyfile" \
    -o pcmk_host_list=node-e -o "pcmk_host_map=node-e:$KB" -o pcmk_host_argument=key >/dev/null 2>&1
cluster_wait_device prf-same 10 && cluster_wait_device prf-nosuch 10 && ok failure_devices_registered ||
    bad "stonith_admin -R prf-same/prf-nosuch: $(stonith_admin --list-registered 2>&1 | tr '\n' ' ')"
# fail_twice NAME TARGET: stonith_admin --fence TARGET exits 1 after the agent failed twice (the
# fencer's default pcmk_off_retries), each failure's stderr in the fencer's log.
fail_twice() {
    local from n
    from=$(wc -l <"$CL_DIR/pacemaker.log")
    expect "$1" 1 stonith_admin --fence "$2" --timeout 30
    n=$(tail -n +"$((from + 1))" "$CL_DIR/pacemaker.log" | grep -c 'fence_prfence_off_[12]of2\[[0-9]*\] error output')
    [ "$n" -eq 2 ] && ok "$1_two_attempts" || bad "$1: $n failed attempts in the fencer's log (want 2)"
}
fail_twice victim_is_us node-d
fail_twice no_such_group node-e
check_luns after_failures "$KA $KB" "$KA"
stonith_admin -D prf-same >/dev/null 2>&1
stonith_admin -D prf-nosuch >/dev/null 2>&1

# 4. key_value=hash: the keys come from fence_scsi's formula, not from the host map.
# One CIB change, so that node-a is re-unfenced once, with the new parameters (an intermediate set,
# such as the host map without pcmk_host_argument, would be unfenced too, with a key of its own).
before=$(unfence_count)
cibadmin --replace -o resources --xml-text "<resources>$(prim_xml hash)</resources>" >/dev/null 2>&1 ||
    bad "cibadmin could not switch prf to key_value=hash"
if wait_unfenced $((before + 1)); then ok hash_reunfenced; else bad "node-a not unfenced again after the change"; fi
check_luns hash_after_unfence "$KA $KB" "$KA"
expect hash_fence_node_b 0 stonith_admin --fence node-b --timeout 60
check_luns hash_after_fence "$KA" "$KA"

# 5. Timeout: prsim holds every command 9 s, the fencer kills the agent at 5 s.
register_b
fid=$("$S" ctl --socket "$sock" fault arm latency,ms=9000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
from=$(wc -l <"$CL_DIR/pacemaker.log")
t0=$(date +%s%N)
expect timeout_sigkill 124 stonith_admin --fence node-b --timeout 60
el=$((($(date +%s%N) - t0) / 1000000))
[ "$el" -ge 4900 ] && [ "$el" -lt 9000 ] && ok timeout_at_pcmk_off_timeout || bad "timeout after $el ms (want 5 s)"
# The fencer's account: the first attempt timed out, and a timed-out action is not attempted again.
tail -n +"$((from + 1))" "$CL_DIR/pacemaker.log" >"$CL_DIR/timeout.log"
grep -q 'fence_prfence_off_1of2\[[0-9]*\] timed out after 5s' "$CL_DIR/timeout.log" && ! grep -q '_off_2of2' "$CL_DIR/timeout.log" &&
    ok timeout_logged_not_retried || bad "the fencer's log does not show one attempt timed out at 5 s"
expect health_after_kill 0 "$P" --daemon="$ctl" health
expect ping_after_kill 0 "$P" --daemon="$ctl" ping --count 20
"$S" ctl --socket "$sock" fault disarm "$fid" >/dev/null || bad "fault disarm $fid"
# The abandoned batch ends by itself (its held commands complete, or prfenced cancels them): a read
# through the group returns once it has.
expect group_usable_after_kill 0 timeout 30 "$P" --daemon="$ctl" keys -q nodeA
register_b
expect retry_after_timeout 0 stonith_admin --fence node-b --timeout 60
check_luns after_retry "$KA" "$KA"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
