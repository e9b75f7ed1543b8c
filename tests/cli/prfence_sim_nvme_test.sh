#!/usr/bin/env bash
# prfence on prsim's NVMe namespaces end to end, as an operator runs it: two nodes named only by
# --initiator (their NVMe hosts derived from it) register, reserve and fence a mixed batch of SCSI
# LUs and namespaces; the --json rows of both kinds, the namespaces' "nvme" object with the host
# identifiers; the refusals with no NVMe twin; --hostid / --hostnqn given and refused; a namespace
# the farm lacks and a prsim without namespaces, each naming the socket; fence_prfence on, off and
# status over LUs and namespaces, its nodes' NVMe hosts derived from initiator= alone; --transport-id
# taking one value per occurrence, the devices after it left as devices; a fence's --json saying
# which parts are from before and after it, the nvme object read back after fence --claim and
# unfence reserve; status text listing a namespace's registrants by host identifier; probe on free,
# write-exclusive and exclusive-access namespaces from the holder and from another host.
# Usage: prfence_sim_nvme_test.sh PRFENCE PRSIM FENCE_PRFENCE
P=$1 S=$2 F=$3
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
B=(--initiator "iqn.2026-11.io.prfence:node-b,i,0x2" --target-port 2)

check() {  # check NAME WANT_RC REGEX -- ARGS... (prfence ARGS)
    local name=$1 want_rc=$2 regex=$3; shift 4
    local out rc
    out=$("$P" "$@" 2>&1); rc=$?
    if [ "$rc" -eq "$want_rc" ] && grep -qE -- "$regex" <<<"$out"; then ok; else
        bad "$name: rc=$rc (want $want_rc, /$regex/), output:"; sed 's/^/    /' <<<"$out" | head -20; fi
}

start_prsim --luns 4 --nvme-namespaces 4
M=sim:$sock:0-1,ns1-2

check register_a 0 'register: 4 LUNs, 4 ok, 0 failed' -- register "${A[@]}" --key a "$M"
check reserve_a 0 'reserve: 4 LUNs, 4 ok, 0 failed' -- reserve "${A[@]}" --key a --type WE-RO "$M"
check register_b 0 'register: 4 LUNs, 4 ok, 0 failed' -- register "${B[@]}" --key b "$M"
check keys_ns 0 'sim:.*:ns1 +ok .*0xa 0xb, generation 2' -- keys "${B[@]}" "sim:$sock:ns1"
check reservation_ns 0 'reserved by 0xa WE-RO' -- reservation "${B[@]}" "sim:$sock:ns2"
check status_ns 0 'ns1 +ok .* 2 registrant\(s\), generation 2; 0xa holder WE-RO hostid [0-9a-f]{32}; 0xb hostid [0-9a-f]{32}$' -- status "${B[@]}" "sim:$sock:ns1"
check caps_ns 0 'ns1 +ok' -- caps "${B[@]}" "sim:$sock:ns1"

# ---- the fence, --json: one row per LU and namespace, the nvme object on the namespaces only.
out=$("$P" fence "${B[@]}" --key b --victim a --json "$M" 2>"$dir/fence.err"); rc=$?
if [ "$rc" -eq 0 ]; then ok; else bad "fence --json: rc=$rc"; cat "$dir/fence.err"; fi
hostid() {  # the host identifier a node's --initiator gives, as the Report shows it: from status --json
    "$P" status "$@" --json "sim:$sock:ns4" | python3 -c '
import json, sys
regs = json.load(sys.stdin)["luns"][0]["nvme"]["registrants"]
print(regs[0]["hostid"] if regs else "")'
}
"$P" register "${A[@]}" --key c "sim:$sock:ns4" >/dev/null
hid_a=$(hostid "${A[@]}")
"$P" unregister "${A[@]}" --key c "sim:$sock:ns4" >/dev/null
"$P" register "${B[@]}" --key d "sim:$sock:ns4" >/dev/null
hid_b=$(hostid "${B[@]}")
if [ ${#hid_a} -eq 32 ] && [ ${#hid_b} -eq 32 ] && [ "$hid_a" != "$hid_b" ]; then ok; else
    bad "host identifiers of A and B: '$hid_a' '$hid_b'"; fi
# shellcheck disable=SC2016  # Python, not shell
rows_check='
import json, sys
sock, hid_b = sys.argv[1], sys.argv[2]
j = json.load(sys.stdin)
rows = {r["device"]: r for r in j["luns"]}
want = [f"sim:{sock}:{n}" for n in ("0", "1", "ns1", "ns2")]
assert list(rows) == want, list(rows)
assert j["operation"] == "fence" and j["summary"]["ok"] == 4 and j["summary"]["failed"] == 0, j["summary"]
for name, r in rows.items():
    assert r["ok"] and r["category"] == "ok", r
    assert r["reservation"]["key"] == "0xb" and r["reservation"]["type"] == "WE-RO", r
    assert r["commands"] == 3, r
    # READ KEYS before the preempt (it still lists the victim), the verification after it.
    assert r["keys"] == ["0xa", "0xb"] and r["generation"] == 2, r
    states = {"generation": "before", "keys": "before", "reservation": "after"}
    if name.endswith(("ns1", "ns2")):
        assert r["states"] == {**states, "nvme": "after"}, r
        assert r["nvme"]["generation"] == 3, r
        n = r["nvme"]
        assert n["rtype_name"] == "Write Exclusive, registrants only", n
        assert [(g["key"], g["hostid"], g["holder"]) for g in n["registrants"]] == [("0xb", hid_b, True)], n
    else:
        assert "nvme" not in r and r["states"] == states, r
'
if python3 -c "$rows_check" "$sock" "$hid_b" <<<"$out"; then ok; else
    bad "fence --json rows:"; sed 's/^/    /' <<<"$out" | head -80; fi
check fenced_a 24 'ns1 +FAILED .*RESERVE' -- reserve "${A[@]}" --key a --type WE-RO "sim:$sock:ns1"
check fenced_a_lu 24 'sim:.*:0 +FAILED' -- reserve "${A[@]}" --key a --type WE-RO "sim:$sock:0"

# ---- no NVMe twin: refused by name, nothing sent, exit 5 (ILLEGAL REQUEST).
check move_ns 5 'REGISTER AND MOVE has no NVMe equivalent' -- move "${B[@]}" --key b --to-key e \
    --transport-id "iqn.2026-11.io.prfence:node-a,i,0x1" --rel-port 1 --type WE-RO "sim:$sock:ns1"
check all_tg_pt_ns 5 'ALL_TG_PT has no NVMe equivalent' -- register "${B[@]}" --all-tg-pt --old-key b --key e "sim:$sock:ns1"
check all_tg_pt_ns_json 5 '"exit_code": 5' -- register "${B[@]}" --all-tg-pt --old-key b --key e --json "sim:$sock:ns1"
check tid_ns 5 'SPEC_I_PT has no NVMe equivalent' -- register "${B[@]}" --key e --transport-id "iqn.2026-11.io.prfence:node-c,i,0x3" "sim:$sock:ns3"
check replace_lost_ns 5 'REPLACE LOST RESERVATION has no NVMe equivalent' -- replace-lost "${B[@]}" --key b --type WE-RO "sim:$sock:ns1"
check unchanged 0 'ns1 +ok .*0xb, generation' -- keys "${B[@]}" "sim:$sock:ns1"

# ---- the NVMe host given: --hostid alone (no --initiator) is a host of its own; bad ones refused.
H=0123abcd-0000-4000-8000-00000000000a
check hostid_register 0 '1 ok' -- register --hostid "$H" --key f "sim:$sock:ns3"
check hostid_report 0 '"hostid": "0123abcd00004000800000000000000a"' -- status "${B[@]}" --json "sim:$sock:ns3"
check hostid_lu_needs_initiator 15 'sim LUNs need --initiator' -- keys --hostid "$H" "sim:$sock:0,ns3"
check hostid_bad 1 '--hostid "xyz": an NVMe host identifier is 32 hex digits' -- keys --hostid xyz "sim:$sock:ns1"
check hostid_short 1 '32 hex digits' -- keys "${A[@]}" --hostid 0123abcd "sim:$sock:ns1"
check hostnqn_bad 1 '--hostnqn "q{64}\.\.\." \(230 bytes\): an NVMe host NQN is 1 to 223 printable' -- keys "${A[@]}" --hostnqn "$(printf 'q%.0s' $(seq 230))" "sim:$sock:ns1"
check no_host 15 'NVMe namespaces need an NVMe host' -- keys "sim:$sock:ns1"
check daemon_hostid 1 'with --daemon, --initiator, --hostnqn, --hostid and --transport belong to the group' -- \
    --daemon="$dir/none.sock" keys --hostid "$H" nodeA

# ---- fence_prfence: nothing NVMe-specific to say; B fences A on both kinds.
agent() {  # agent ACTION KEY INITIATOR: fence_prfence as the fencer runs it (stdin); sets rc, out
    out=$(printf 'action=%s\ndevices=sim:%s:2-3,sim:%s:ns3-4\nkey=%s\ninitiator=%s\n' \
        "$1" "$sock" "$sock" "$2" "$3" | "$F" 2>&1); rc=$?
}
IA=${A[1]} IB=${B[1]}
agent on c "$IA"
if [ "$rc" -eq 0 ] && grep -q 'key 0xc registered on 4 LUs' <<<"$out"; then ok; else bad "agent on A: rc=$rc $out"; fi
agent on d "$IB"
if [ "$rc" -eq 0 ]; then ok; else bad "agent on B: rc=$rc $out"; fi
agent off c "$IB"
if [ "$rc" -eq 0 ] && grep -q 'fenced on 4 LUs' <<<"$out"; then ok; else bad "agent off: rc=$rc $out"; fi
agent status c "$IA"
if [ "$rc" -eq 2 ]; then ok; else bad "agent status of the fenced node: rc=$rc (want 2) $out"; fi
check agent_result 0 'ns4 +ok .*1 key: 0xd,' -- keys "${A[@]}" "sim:$sock:ns4"

# ---- fence --claim and unfence reserve after their last read: the namespace's Report is read back,
# so the nvme object shows the reservation the row reports (not the unreserved state before it).
stop_prsim
start_prsim --luns 1 --nvme-namespaces 4
"$P" register "${A[@]}" --key a "sim:$sock:ns1" >/dev/null
"$P" register "${B[@]}" --key b "sim:$sock:ns1" >/dev/null
# shellcheck disable=SC2016  # Python, not shell
reserved_check='
import json, sys
key, rtype, commands, note = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.load(sys.stdin)["luns"][0]
assert r["ok"] and r["commands"] == commands and r["note"].endswith(note), r
assert r["reservation"]["key"] == key, r
n = r["nvme"]
assert n["rtype"] == rtype and [(g["key"], g["holder"]) for g in n["registrants"]] == [(key, True)], n
'
out=$("$P" fence "${B[@]}" --key b --victim a --claim --type WE-RO --json "sim:$sock:ns1" 2>&1)
if python3 -c "$reserved_check" 0xb 3 6 "reserved it" <<<"$out"; then ok; else
    bad "fence --claim --json:"; sed 's/^/    /' <<<"$out" | head -60; fi
out=$("$P" unfence "${A[@]}" --key c --type EA --json "sim:$sock:ns2" 2>&1)
if python3 -c "$reserved_check" 0xc 2 4 "reserved it" <<<"$out"; then ok; else
    bad "unfence --json:"; sed 's/^/    /' <<<"$out" | head -60; fi

# ---- hostile: a namespace the farm lacks, bad lists, a prsim without namespaces.
check ns_beyond 15 "sim:$sock:ns9: namespace 9 does not exist \\(the farm has ns1-ns4\\)" -- keys "${A[@]}" "sim:$sock:ns9"
check ns_zero 15 'ns0 is not a namespace' -- keys "${A[@]}" "sim:$sock:ns0"
check ns_reversed 15 'range ns4-2 is reversed' -- keys "${A[@]}" "sim:$sock:ns4-2"
stop_prsim
start_prsim --luns 2
check no_namespaces 15 "sim:$sock:ns1: prsim serves no NVMe namespaces \\(start it with --nvme-namespaces N\\)" -- keys "${A[@]}" "sim:$sock:0,ns1"
check no_namespaces_lu_ok 15 'sim:.*:0 +ok' -- keys "${A[@]}" "sim:$sock:0,ns1"

# ---- --transport-id takes one value per occurrence: the devices after it stay devices, and a
# repeated option gives more than one TransportID (both registered by SPEC_I_PT).
TC="iqn.2026-11.io.prfence:node-c,i,0x3" TD="iqn.2026-11.io.prfence:node-d,i,0x4"
check tid_then_devices 0 'register: 2 LUNs, 2 ok, 0 failed' -- register "${A[@]}" --key 7 \
    --transport-id "$TC" --transport-id "$TD" "sim:$sock:0" "sim:$sock:1"
check tid_both_registered 0 "sim:.*:1 +ok .*3 registrant.*0x7 $TC; 0x7 $TD" -- status "${A[@]}" "sim:$sock:1"
check tid_then_missing_devices 15 "/dev/prfence-none-a: does not exist" -- register --key 7 \
    --transport-id "$TC" /dev/prfence-none-a /dev/prfence-none-b
check tid_missing_value 1 'transport-id' -- register "${A[@]}" --key 7 "sim:$sock:0" --transport-id

# ---- probe on namespaces (Identify, Read, Flush), beside a LU: what the reservation lets each
# host do. ns1 unreserved; ns2 Write Exclusive and ns3 Exclusive Access, both held by A.
stop_prsim
start_prsim --luns 1 --nvme-namespaces 3
check probe_free 0 'probe: 4 LUNs, 4 ok, 0 failed' -- probe "${B[@]}" "sim:$sock:0,ns1-3"
check probe_free_text 0 'ns1 +ok .*read and write access' -- probe "${B[@]}" "sim:$sock:ns1"
check probe_arm_register 0 'register: 2 LUNs, 2 ok' -- register "${A[@]}" --key a "sim:$sock:ns2-3"
check probe_arm_we 0 'reserve: 1 LUN, 1 ok' -- reserve "${A[@]}" --key a --type WE "sim:$sock:ns2"
check probe_arm_ea 0 'reserve: 1 LUN, 1 ok' -- reserve "${A[@]}" --key a --type EA "sim:$sock:ns3"
check probe_holder 0 'probe: 2 LUNs, 2 ok' -- probe "${A[@]}" "sim:$sock:ns2-3"
check probe_we_other 24 'ns2 +FAILED .*SYNCHRONIZE CACHE\(10\): NVMe Reservation Conflict .*\(reads are allowed\)' -- probe "${B[@]}" "sim:$sock:ns2"
check probe_ea_other 24 'ns3 +FAILED .*READ\(10\): NVMe Reservation Conflict' -- probe "${B[@]}" "sim:$sock:ns3"
check probe_mixed 24 'probe: 3 LUNs, 1 ok, 2 failed' -- probe "${B[@]}" "sim:$sock:ns1-3"
finish
