#!/bin/bash
# SPDX-License-Identifier: MIT
# fence_prfence, prexplain and prfenced on every NVMe namespace of the nvme topology, against the
# kernel's nvmet, with nvme-cli's extended report (nv_expect_state: generation, reservation type,
# registrants by host ID) as the independent reader after every step that changes a namespace.
#   1. fence_prfence driven as Pacemaker's fencer drives it (no arguments, name=value lines on a pipe):
#      metadata; list is unsupported (exit 1); A's agent unfences node-a (`on`, A's block nodes): A holds
#      Write Exclusive - Registrants Only (RTYPE 3); B's agent unfences node-b (`on`, B's generic
#      nodes): B registered, not holding; `monitor`; `status` says ON for both hosts; B's agent fences
#      node-a (`off`, plug=node-a, B's block nodes): only B is left, holding RTYPE 3; `status` says OFF
#      (exit 2) for A, through B's and through A's namespaces, ON for B; fence_prfence_check (the
#      watchdog hook) on A says A's key is gone (exit 2);
#   2. prexplain: A's O_DIRECT writes fail with EBADE on every namespace; the kernel's lines, read from
#      dmesg, are classified FENCED on every namespace by prexplain's own Report of the device: the
#      namespace's device and NSID, our host ID (A's), the holder's host ID and key (B's), B holding in
#      the registrant list; the text form says the same; prexplain --kmsg (live) sees a new conflict of
#      A's and says FENCED naming B's host;
#   3. A's agent unfences node-a again (`on`): A registered again, B still holding; `status` ON for A;
#      A writes (a registrant may, under RTYPE 3); fence_prfence_check on A passes;
#   4. prfenced holds B's namespaces as a group; `prfence --daemon fence` removes A from every
#      namespace (nvme-cli: only B, holding); A registers again and direct mode fences it the same way;
#      the two runs' per-namespace results have the same fields (an "nvme" object in each) and the same
#      values, the generations two apart (A's register and the second preempt); `keys` through the
#      daemon and directly agree on everything but latency;
#   5. B clears every namespace: no registrant, no reservation; both controllers' notification logs
#      are drained.
# nvmet counts every successful Register in the generation, also one by a host already registered
# with that key (fence_prfence's `off` registers our key before it preempts, so it counts twice).
# Writes nvme-tools-<series>.txt: each tool's wall time per step.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/nvme_lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

for tool in prfence fence_prfence prexplain prfenced; do
    command -v $tool >/dev/null || skip "no $tool in this image (set PRFENCE_VM_BINARIES)"
done
N=${#NV_NSIDS[@]}
REPORT=$PRFENCE_VM_OUT/nvme-tools-$KSERIES.txt
echo "# kernel $(uname -r), $N namespaces" >"$REPORT"
D=/tmp/nvme-tools
rm -rf "$D"
mkdir -p "$D/a" "$D/b" "$D/bin"
AKEYFILE=$D/a/cluster.key
BKEYFILE=$D/b/cluster.key
ln -s "$(command -v fence_prfence)" "$D/bin/fence_prfence_check"
join_by() {
    local IFS=$1
    shift
    echo "$*"
}
A_COMMA=$(join_by , "${A_NSS[@]}")
nv_ns "${NV_NSIDS[0]}"
CTRL_A=$A_CTRL CTRL_B=$B_CTRL
# prexplain writes host IDs in their UUID form.
HOSTID_A_UUID=$PRFENCE_VM_NODE_A_HOSTID
HOSTID_B_UUID=$PRFENCE_VM_NODE_B_HOSTID

log "0. clean start: A registers a throw-away key and clears every namespace"
expect_pj 0 register --key feedf00d --ignore-existing "${A_NSS[@]}"
expect_pj 0 clear --key feedf00d "${A_NSS[@]}"
QUIET=1 nv_drain_notif "$CTRL_A"
QUIET=1 nv_drain_notif "$CTRL_B"
# The generation each namespace has now, by NSID, from prfence (the first nvme-cli check below
# confirms it); GEN_OF[nsid] then follows every change.
expect_pj 0 keys "${A_NSS[@]}"
for ((i = 0; i < N; i++)); do
    nv_dev_nsid "${J[luns.$i.device]}"
    GEN_OF[$REPLY]=${J[luns.$i.generation]}
    [ "${J[luns.$i.keys.0]:-}" = "" ] || { show_last; fail "${J[luns.$i.device]} has a key after CLEAR"; }
done
log "$N namespaces; node A ${A_NSS[0]} ($CTRL_A), node B ${B_NSS[0]} ($CTRL_B); generations ${GEN_OF[*]}"

bump() { nv_bump "$1"; } # BY: every namespace's generation +BY
# expect_all RTYPE [NODE:KEY:HOLDS ...]: as nvme-cli reads every namespace through B's generic nodes,
# which no tool below is given except where said.
expect_all() { nv_expect_all B_NG "$@"; }

# agent LINE...: fence_prfence as the fencer runs it: no arguments, one line each on a pipe. Sets RC,
# OUT (stdout) and ERR (stderr).
agent() {
    set +e
    OUT=$(printf '%s\n' "$@" | fence_prfence 2>"$D/stderr")
    RC=$?
    set -e
    ERR=$(<"$D/stderr")
    echo "  \$ fence_prfence <<< $(printf '%s ' "$@" | cut -c1-170)"
    [ -n "$OUT" ] && printf '%s\n' "$OUT" | head -n 6 | sed 's/^/    out: /'
    [ -n "$ERR" ] && printf '%s\n' "$ERR" | head -n 6 | sed 's/^/    err: /'
    echo "    -> exit $RC"
}
# status_is NODE KEY DEVICES WANT_EXIT WANT_LINE: the agent's status of that node's key.
status_is() {
    expect_agent "$4" "nodename=$1" action=status "key=$2" "devices=$3" "key_file=$BKEYFILE"
    [ "$OUT" = "$5" ] || { agent_show; fail "status of $1 through $3: want '$5'"; }
}
check_hook() { run "$D/bin/fence_prfence_check" "$@"; }

log "1. fence_prfence: metadata, list, on for both nodes, status, off for node-a"
expect_agent 0 action=metadata
grep -q '<resource-agent name="fence_prfence"' <<<"$OUT" || { agent_show; fail "metadata: no <resource-agent name=\"fence_prfence\">"; }
expect_agent 1 action=list "devices=${B_NSS[*]}"
grep -q 'unsupported action' <<<"$ERR" || { agent_show; fail "list: want 'unsupported action' on stderr"; }

now
t0=$NOW
expect_agent 0 nodename=node-a action=on key=$KEY_A "devices=$A_COMMA" "key_file=$AKEYFILE"
now
grep -q "^Success: key 0x$KEY_A registered on $N LUs" <<<"$OUT" || { agent_show; fail "on: want 'Success: key 0x$KEY_A registered on $N LUs'"; }
record "agent on (node-a, A's block nodes): $(elapsed "$t0" "$NOW") s: $OUT"
bump 1
expect_all 3 "A:$NV_KEY_A:1"
[ "$(cat "$AKEYFILE")" = $KEY_A ] || fail "key file $AKEYFILE holds '$(cat "$AKEYFILE")', not $KEY_A"

expect_agent 0 nodename=node-b action=on key=$KEY_B "devices=${B_NGS[*]}" "key_file=$BKEYFILE"
grep -q "^Success: key 0x$KEY_B registered on $N LUs" <<<"$OUT" || { agent_show; fail "on: want 'Success: key 0x$KEY_B registered on $N LUs'"; }
bump 1
expect_all 3 "A:$NV_KEY_A:1" "B:$NV_KEY_B:0"

expect_agent 0 action=monitor "devices=${B_NSS[*]}" "key_file=$BKEYFILE"
status_is node-a $KEY_A "${B_NSS[*]}" 0 "Status: ON"
status_is node-b $KEY_B "${B_NSS[*]}" 0 "Status: ON"

now
t0=$NOW
expect_agent 0 nodename=node-a plug=node-a action=off key=$KEY_A "devices=${B_NSS[*]}" "key_file=$BKEYFILE"
now
grep -q "^Success: node-a (key 0x$KEY_A) fenced on $N LUs" <<<"$OUT" || { agent_show; fail "off: want 'Success: node-a (key 0x$KEY_A) fenced on $N LUs'"; }
record "agent off (node-a by node-b, B's block nodes): $(elapsed "$t0" "$NOW") s: $OUT"
bump 2 # our key's Register, then the preempt that removed A
expect_all 3 "B:$NV_KEY_B:1"
status_is node-a $KEY_A "${B_NSS[*]}" 2 "Status: OFF"
status_is node-a $KEY_A "$A_COMMA" 2 "Status: OFF"
status_is node-b $KEY_B "${B_NSS[*]}" 0 "Status: ON"
check_hook test --key-file "$AKEYFILE"
[ "$RC" -eq 2 ] || { show_last; fail "fence_prfence_check test on A after the fence: exit $RC, not 2"; }
expect_out "our key 0x$KEY_A is gone from $N LUs"

log "2. prexplain: A's writes conflict; the kernel's lines, explained from each namespace's Report"
dmesg_mark
for d in "${A_NSS[@]}"; do
    QUIET=1 nv_write "$d"
    [ "$RC" -ne 0 ] || { show_last; fail "A's write to $d succeeded after B fenced A"; }
    expect_out 'Invalid exchange'
done
dmesg_since
DMESG=$OUT
for d in "${A_NSS[@]}"; do expect_out "\] ${d#/dev/}: I/O Cmd\(0x1\) @ LBA 0, 1 blocks, I/O Error \(sct 0x0 / sc 0x83\)"; done
log "  $N writes: 'Invalid exchange' (EBADE), and the kernel's I/O Error (sc 0x83) line for each"
now
t0=$NOW
set +e
OUT=$(prexplain --key $KEY_A --json - <<<"$DMESG" 2>&1)
RC=$?
set -e
now
[ "$RC" -eq 24 ] || { show_last; fail "prexplain exit $RC (want 24)"; }
record "prexplain --json over $N namespaces' conflict lines (Report of each): $(elapsed "$t0" "$NOW") s"
EXPLAINED=$OUT
# One event per namespace, each FENCED with B as the holder, as prexplain's own Report saw it.
n=$(grep -c '"class":"FENCED"' <<<"$EXPLAINED" || true)
[ "$n" -eq "$N" ] || { show_last; fail "FENCED on $n of $N namespaces"; }
for id in "${NV_NSIDS[@]}"; do
    nv_ns "$id"
    line=$(grep -F "\"device\":\"${A_NS#/dev/}\"" <<<"$EXPLAINED" || true)
    [ "$(grep -c . <<<"$line")" -eq 1 ] || { show_last; fail "not one event for ${A_NS#/dev/} (NSID $NSID)"; }
    for want in '"class":"FENCED"' "\"holder_key\":\"0x$KEY_B\"" "\"our_key\":\"0x$KEY_A\"" '"registered":false' \
        "\"nsid\":$NSID" "\"hostid\":\"$HOSTID_A_UUID\"" '"op":"Write"' "\"preempted_by\":[\"0x$KEY_B\"]" \
        "\"holders\":[\"0x$KEY_B host $HOSTID_B_UUID\"]" \
        "\"registrants\":[{\"key\":\"0x$KEY_B\",\"hostid\":\"$HOSTID_B_UUID\",\"holds\":true,\"ours\":false}]"; do
        [[ $line == *"$want"* ]] || { RC=24 OUT=$line show_last; fail "${A_NS#/dev/} (NSID $NSID): no $want"; }
    done
    [[ $line =~ \"reason\":\"[^\"]*host\ $HOSTID_B_UUID ]] || { RC=24 OUT=$line show_last; fail "${A_NS#/dev/}: the reason does not name B's host"; }
done
log "  FENCED on every namespace: NSID, our host $HOSTID_A_UUID not registered, holder host $HOSTID_B_UUID key 0x$KEY_B"
log "  e.g. $(head -n 1 <<<"$EXPLAINED" | cut -c1-400)"
nv_ns "${NV_NSIDS[0]}"
set +e
OUT=$(prexplain --key $KEY_A - <<<"$DMESG" 2>&1)
RC=$?
set -e
[ "$RC" -eq 24 ] || { show_last; fail "prexplain (text) exit $RC (want 24)"; }
expect_out "^${A_NS#/dev/} nsid $NSID [^ ]*: Write sector 0, 1 block: FENCED: our host $HOSTID_A_UUID .* held by host $HOSTID_B_UUID \\(key 0x$KEY_B\\)"
log "  $(grep "^${A_NS#/dev/} " <<<"$OUT")"

log "   live: prexplain --kmsg sees A's next conflict on ${A_NS}"
prexplain --kmsg --key $KEY_A --json >"$D/kmsg.json" 2>"$D/kmsg.err" &
xpid=$!
# prexplain starts reading at the end of /dev/kmsg and says nothing when it is there: A writes again
# every 2 s until the event shows, 30 s at most.
seen=0
now
t0=$NOW
for _ in $(seq 15); do
    QUIET=1 nv_write "$A_NS"
    for _ in $(seq 20); do grep -q FENCED "$D/kmsg.json" 2>/dev/null && { seen=1; break 2; }; sleep 0.1; done
done
now
kill $xpid 2>/dev/null || true
wait $xpid 2>/dev/null || true
[ "$seen" -eq 1 ] || { cat "$D/kmsg.json" "$D/kmsg.err"; fail "prexplain --kmsg saw no FENCED event"; }
line=$(grep -F "\"device\":\"${A_NS#/dev/}\"" "$D/kmsg.json" | head -n 1)
[[ $line == *'"class":"FENCED"'* && $line == *"\"holders\":[\"0x$KEY_B host $HOSTID_B_UUID\"]"* && $line == *'"source":"kmsg"'* ]] ||
    { cat "$D/kmsg.json"; fail "prexplain --kmsg: want FENCED on ${A_NS#/dev/} from kmsg, holder B's host"; }
record "prexplain --kmsg: FENCED seen within $(elapsed "$t0" "$NOW") s of the first write"

log "3. A's agent unfences node-a again: A registered, B still holding"
expect_agent 0 nodename=node-a action=on key=$KEY_A "devices=$A_COMMA" "key_file=$AKEYFILE"
grep -q "^Success: key 0x$KEY_A registered on $N LUs" <<<"$OUT" || { agent_show; fail "on: want 'Success: key 0x$KEY_A registered on $N LUs'"; }
bump 1
expect_all 3 "A:$NV_KEY_A:0" "B:$NV_KEY_B:1"
status_is node-a $KEY_A "${B_NSS[*]}" 0 "Status: ON"
nv_write "${A_NSS[0]}"
[ "$RC" -eq 0 ] || { show_last; fail "A, registered again, cannot write under Write Exclusive - Registrants Only"; }
check_hook test --key-file "$AKEYFILE"
[ "$RC" -eq 0 ] || { show_last; fail "fence_prfence_check test on A after on: exit $RC, not 0"; }

log "4. prfenced holds B's namespaces; prfence --daemon fence against direct mode"
SOCK=/run/prfenced-nvme.sock
rm -f "$SOCK"
prfenced --socket "$SOCK" --config "$D/prfenced.json" >"$D/prfenced.log" 2>&1 &
DPID=$!
trap 'kill $DPID 2>/dev/null || true' EXIT
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$D/prfenced.log"; fail "prfenced did not start"; }
run prfence --daemon="$SOCK" group create nvB --key $KEY_B "${B_NSS[@]}"
[ "$RC" -eq 0 ] || { show_last; sed 's/^/    prfenced: /' "$D/prfenced.log"; fail "group create: exit $RC"; }
expect_out "nvB: $N LUNs"
pj --daemon="$SOCK" fence --victim $KEY_A --type we-ro nvB
[ "$RC" -eq 0 ] && [ "${J[summary.ok]:-}" = "$N" ] || { show_last; fail "daemon fence: exit $RC, ${J[summary.ok]:-?} of $N ok"; }
record "prfence --daemon fence: $N namespaces in ${J[summary.wall_ms]} ms (queued ${J[summary.queued_ms]:-?} ms)"
bump 1
expect_all 3 "B:$NV_KEY_B:1"
declare -A DJ=()
for k in "${!J[@]}"; do DJ[$k]=${J[$k]}; done
declare -A DIDX=()
for d in "${!DEV_IDX[@]}"; do DIDX[$d]=${DEV_IDX[$d]}; done

expect_pj 0 register --key $KEY_A "${A_NSS[@]}"
bump 1
pj fence --key $KEY_B --victim $KEY_A --type we-ro "${B_NSS[@]}"
[ "$RC" -eq 0 ] && [ "${J[summary.ok]:-}" = "$N" ] || { show_last; fail "direct fence: exit $RC, ${J[summary.ok]:-?} of $N ok"; }
record "prfence fence (direct): $N namespaces in ${J[summary.wall_ms]} ms"
bump 1
expect_all 3 "B:$NV_KEY_B:1"

# same_rows GEN_APART: for every namespace, the daemon's row (DJ) and direct mode's (J) have the same
# fields and, but for latency and generations, the same values; each generation of the direct row is
# the daemon row's + GEN_APART.
same_rows() {
    local d i j k f p rest
    for d in "${B_NSS[@]}"; do
        i=${DIDX[$d]:-} j=${DEV_IDX[$d]:-}
        [ -n "$i" ] && [ -n "$j" ] || { show_last; fail "$d: no row in the daemon's output or in direct mode's"; }
        [ -n "${DJ[luns.$i.nvme.rtype]:-}" ] || fail "$d: the daemon's row has no nvme object"
        [ -n "${J[luns.$j.nvme.rtype]:-}" ] || { show_last; fail "$d: direct mode's row has no nvme object"; }
        local -a dk=() rk=()
        for k in "${!DJ[@]}"; do [[ $k == luns.$i.* ]] && dk+=("${k#luns."$i".}"); done
        for k in "${!J[@]}"; do [[ $k == luns.$j.* ]] && rk+=("${k#luns."$j".}"); done
        f=$(printf '%s\n' "${dk[@]}" | sort | tr '\n' ' ')
        p=$(printf '%s\n' "${rk[@]}" | sort | tr '\n' ' ')
        [ "$f" = "$p" ] || { show_last; fail "$d: daemon fields [$f], direct fields [$p]"; }
        for k in "${dk[@]}"; do
            case $k in
                latency_us) continue ;;
                generation | nvme.generation)
                    [ "${J[luns.$j.$k]}" = "$((${DJ[luns.$i.$k]} + $1))" ] ||
                        { show_last; fail "$d: $k direct ${J[luns.$j.$k]}, daemon ${DJ[luns.$i.$k]} (want +$1)"; } ;;
                *) [ "${J[luns.$j.$k]}" = "${DJ[luns.$i.$k]}" ] ||
                    { show_last; fail "$d: $k direct '${J[luns.$j.$k]}', daemon '${DJ[luns.$i.$k]}'"; } ;;
            esac
        done
    done
    rest=${#dk[@]}
    log "  every namespace: the same $rest fields through the daemon and directly (nvme.rtype ${J[luns.0.nvme.rtype]}, registrant ${J[luns.0.nvme.registrants.0.hostid]:-none} holding ${J[luns.0.nvme.registrants.0.holder]:-?})"
}
same_rows 2
for ((i = 0; i < N; i++)); do
    [ "${J[luns.$i.nvme.registrants.0.hostid]:-}" = "$HOSTID_B" ] && [ "${J[luns.$i.nvme.registrants.0.holder]:-}" = true ] &&
        [ -z "${J[luns.$i.nvme.registrants.1.key]:-}" ] || { show_last; fail "${J[luns.$i.device]}: want B alone, holding, in nvme.registrants"; }
done
pj --daemon="$SOCK" keys nvB
[ "$RC" -eq 0 ] || { show_last; fail "daemon keys: exit $RC"; }
DJ=() DIDX=()
for k in "${!J[@]}"; do DJ[$k]=${J[$k]}; done
for d in "${!DEV_IDX[@]}"; do DIDX[$d]=${DEV_IDX[$d]}; done
expect_pj 0 keys "${B_NSS[@]}"
same_rows 0
kill $DPID
wait $DPID 2>/dev/null || true
trap - EXIT

log "5. B clears every namespace; the notification logs are drained"
expect_pj 0 clear --key $KEY_B "${B_NSS[@]}"
bump 1
expect_all 0
nv_notif "$CTRL_A"
[ "$NOTIF_TYPE" = 1 ] || { show_last; fail "A's first notification page: type $NOTIF_TYPE, want 1 (Registration Preempted)"; }
QUIET=1 nv_drain_notif "$CTRL_A"
QUIET=1 nv_drain_notif "$CTRL_B"
log "PASS (record: $REPORT)"
