#!/bin/bash
# fence_prfence, the Pacemaker fence agent, on the real kernel with the direct back end, driven the way
# Pacemaker's fencer drives it: argv empty, one `name=value` line per parameter on a stdin pipe, the
# node's key from pcmk_host_map with pcmk_host_argument=key (`nodename=... action=... key=...`).
# Node A is our node (the agent runs on A's devices), node B the victim, which registers its own key
# with sg_persist, as another cluster node would. Every LU is read back with sg_persist's READ FULL
# STATUS (keys, holder, type, each key's initiator) through B's sg nodes: the nexus and the driver the
# agent did not use.
#   1. B registers bbbb0002 on every LU; `on` for node-a (key aaaa0001, devices = A's sd nodes, comma-
#      separated): exit 0, the key file and the args file written; both keys on every LU, A holds
#      Write Exclusive, Registrants Only (type 5) on every LU; `monitor` exit 0;
#   2. `status` (devices=@listfile of A's sg nodes): A's key 0 "Status: ON"; an unknown key 2 "Status: OFF";
#   3. B writes (WE-RO lets registrants write); `off` for node-b (key bbbb0002, A's sd nodes space-
#      separated): exit 0; B's next command gets UNIT ATTENTION 2Ah/05h; only A's key is left, A's
#      reservation stands; B's writes fail with EBADE and "reservation conflict" in dmesg, B still reads,
#      A still writes;
#   4. fence_prfence_check test --key-file: 0 for A (the args file `on` wrote); 2 for B (a key file with
#      bbbb0002 and an args file naming B's devices), naming every LU; 0 without a key file; repair N: N;
#   5. `off` again: 0 (already fenced); `off` with our own key: 1, refused;
#   6. stdin whose last line lost its newline (an `on` with another key): 1, "input truncated"; the key
#      file, the args file and every LU are as step 3 left them (5 and 6 changed nothing);
#   7. A clears every LU: no keys, no reservation, no unit attention left on either nexus.
# Needs fence_prfence in the image (PRFENCE_VM_BINARIES); uses prfence, when there, to start and end clean.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

command -v fence_prfence >/dev/null || skip "no fence_prfence in this image (set PRFENCE_VM_BINARIES)"
QUIET=${QUIET:-0}
AKEY=aaaa0001 # node-a's key (ours)
BKEY=bbbb0002 # node-b's (the victim's)
D=/tmp/fence-agent
rm -rf "$D"
mkdir -p "$D/a" "$D/b" "$D/bin"
KEYFILE=$D/a/cluster.key
ARGSFILE=$D/a/fence_prfence.args
# The watchdog hook is the agent under another name (the build makes the same link beside the binary).
ln -s "$(command -v fence_prfence)" "$D/bin/fence_prfence_check"
REPORT=$PRFENCE_VM_OUT/fence-agent-$KSERIES.txt
: >"$REPORT"
SAMPLE=("${LUNS[0]}")
[ "$N" -gt 2 ] && SAMPLE+=("${LUNS[$((N / 2))]}")
[ "$N" -gt 1 ] && SAMPLE+=("${LUNS[$((N - 1))]}")
log "$N LUs; node A ${A_SDS[0]}.., node B ${B_SGS[0]}..; sample LUs ${SAMPLE[*]}"

# Clean start, whatever ran before (pr_clean's recipe, one prfence run per step when there is prfence).
clean_start() {
    if command -v prfence >/dev/null; then
        QUIET=1 expect_pj 0 register --key feedf00d --ignore-existing "${A_SDS[@]}"
        QUIET=1 expect_pj 0 clear --key feedf00d "${A_SDS[@]}"
        QUIET=1 expect_pj 0 keys "${B_SDS[@]}" # takes B's unit attentions, if CLEAR made any
    else
        for L in "${LUNS[@]}"; do pr_clean "$L"; done
        for L in "${LUNS[@]}"; do lu "$L"; QUIET=1 expect_pr 0 "$B_SG" --read-keys; done
    fi
}
clean_start

# agent LINE...: runs fence_prfence as the fencer does: no arguments, the lines on a pipe, each ending in
# a newline (NO_NL=1: the last one without). Sets RC, OUT (stdout, the action's output) and ERR (stderr).
agent() {
    local in
    in=$(printf '%s\n' "$@")
    [ "${NO_NL:-0}" = 1 ] || in+=$'\n'
    set +e
    OUT=$(printf '%s' "$in" | fence_prfence 2>"$D/stderr")
    RC=$?
    set -e
    ERR=$(<"$D/stderr")
    echo "  \$ fence_prfence <<< $(printf '%s' "$in" | tr '\n' ' ' | cut -c1-150)$([ "${NO_NL:-0}" = 1 ] && echo ' (no final newline)')"
    [ -n "$OUT" ] && printf '%s\n' "$OUT" | head -n 8 | sed 's/^/    out: /'
    [ -n "$ERR" ] && printf '%s\n' "$ERR" | head -n 8 | sed 's/^/    err: /'
    echo "    -> exit $RC"
}
# check ARGS...: fence_prfence_check ARGS..., RC and OUT (stdout and stderr).
check() { run "$D/bin/fence_prfence_check" "$@"; }

# Every LU through B's sg node, one READ FULL STATUS each: the registrations are exactly the keys
# given (none: no registration), A's key is node-a's (its TransportID) and holds Write Exclusive,
# Registrants Only; B's key is node-b's and holds nothing.
declare -A REG=()
lus_hold() {
    local L k line n
    for L in "${LUNS[@]}"; do
        lu "$L"
        QUIET=1 expect_pr 0 "$B_SG" --read-full-status
        if [ $# -eq 0 ]; then
            expect_out 'No full status descriptors'
            continue
        fi
        # One descriptor per registration: "Key=0x..", "<< Reservation holder >>" or "not reservation
        # holder", "scope: LU_SCOPE,  type: ..", the initiator's "port id: NAME,i,0xISID".
        REG=() k="" n=0
        while IFS= read -r line; do
            if [[ $line =~ Key=0x([0-9a-f]+) ]]; then
                k=${BASH_REMATCH[1]} n=$((n + 1))
                REG[$k.holder]=no REG[$k.type]="" REG[$k.node]=""
            elif [[ $line == *'<< Reservation holder >>'* ]]; then
                REG[$k.holder]=yes
            elif [[ $line =~ type:\ (.*)$ ]]; then
                REG[$k.type]=${BASH_REMATCH[1]}
            elif [[ $line =~ port\ id:\ [^\ ]*:(node-[ab]), ]]; then
                REG[$k.node]=${BASH_REMATCH[1]}
            fi
        done <<<"$OUT"
        [ "$n" -eq $# ] || { show_last; fail "LU $L: $n registrations, want $# ($*)"; }
        for k in "$@"; do
            [ -n "${REG[$k.holder]:-}" ] || { show_last; fail "LU $L: no registration of 0x$k"; }
            case $k in
                "$AKEY") [ "${REG[$k.holder]}/${REG[$k.type]}/${REG[$k.node]}" = "yes/Write Exclusive, registrants only/node-a" ] ||
                    { show_last; fail "LU $L: 0x$k: holder ${REG[$k.holder]}, type '${REG[$k.type]}', initiator ${REG[$k.node]}; want node-a holding type 5"; } ;;
                "$BKEY") [ "${REG[$k.holder]}/${REG[$k.node]}" = "no/node-b" ] ||
                    { show_last; fail "LU $L: 0x$k: holder ${REG[$k.holder]}, initiator ${REG[$k.node]}; want node-b, not a holder"; } ;;
            esac
        done
    done
}
# write_block DEV: one O_DIRECT write of zeros at 32 KiB (clear of any partition table).
write_block() { run dd if=/dev/zero of="$1" bs=4096 seek=8 count=1 conv=notrunc oflag=direct; }
join_by() {
    local IFS=$1
    shift
    echo "$*"
}
A_COMMA=$(join_by , "${A_SDS[@]}")
A_SPACE=${A_SDS[*]}
printf '%s\n' "${A_SGS[@]}" >"$D/a-sg.list"

log "0. the fencer's first call, at device registration: action=metadata"
expect_agent 0 action=metadata
grep -q '<resource-agent name="fence_prfence"' <<<"$OUT" || { agent_show; fail "metadata: no <resource-agent name=\"fence_prfence\">"; }
grep -q '<action name="on" on_target="1" automatic="1"' <<<"$OUT" || { agent_show; fail "metadata: no automatic on_target on action"; }

log "1. B registers $BKEY on every LU (sg_persist); the fencer unfences node-a: action=on"
for L in "${LUNS[@]}"; do
    lu "$L"
    QUIET=1 expect_pr 0 "$B_SG" --out --register --param-sark=$BKEY
done
expect_agent 0 nodename=node-a action=on key=$AKEY "devices=$A_COMMA" "key_file=$KEYFILE"
grep -q "^Success: key 0x$AKEY registered on $N LUs" <<<"$OUT" || { agent_show; fail "on: want 'Success: key 0x$AKEY registered on $N LUs'"; }
record "on: $OUT"
[ "$(cat "$KEYFILE")" = $AKEY ] || fail "key file $KEYFILE holds '$(cat "$KEYFILE")', not $AKEY"
[ "$(cat "$ARGSFILE")" = "devices=$A_COMMA" ] || fail "args file $ARGSFILE: '$(head -c 200 "$ARGSFILE")', want devices=$A_COMMA"
cp "$ARGSFILE" "$D/args.after-on"
lus_hold $AKEY $BKEY
log "  every LU (through B's sg nodes): keys 0x$AKEY 0x$BKEY, A holds type 5 (Write Exclusive, registrants only)"
expect_agent 0 action=monitor "devices=$A_COMMA" "key_file=$KEYFILE"

log "2. status (devices=@listfile of A's sg nodes)"
expect_agent 0 nodename=node-a action=status key=$AKEY "devices=@$D/a-sg.list" "key_file=$KEYFILE"
[ "$OUT" = "Status: ON" ] || { agent_show; fail "status of our key: want 'Status: ON' on stdout"; }
expect_agent 2 nodename=node-c action=status key=dddd0004 "devices=@$D/a-sg.list" "key_file=$KEYFILE"
[ "$OUT" = "Status: OFF" ] || { agent_show; fail "status of an unknown key: want 'Status: OFF' on stdout"; }
expect_agent 0 nodename=node-b action=status key=$BKEY "devices=@$D/a-sg.list" "key_file=$KEYFILE"

log "3. B writes under WE-RO (a registrant may); the fencer fences node-b: action=off"
for L in "${SAMPLE[@]}"; do
    lu "$L"
    write_block "$B_SD"
    [ "$RC" -eq 0 ] || { show_last; fail "B (registered) could not write LU $L under WE-RO"; }
done
expect_agent 0 nodename=node-b action=off key=$BKEY "devices=$A_SPACE" "key_file=$KEYFILE"
grep -q "^Success: node-b (key 0x$BKEY) fenced on $N LUs" <<<"$OUT" || { agent_show; fail "off: want 'Success: node-b (key 0x$BKEY) fenced on $N LUs'"; }
record "off: $OUT"
lu "${LUNS[0]}"
run sg_persist -n --read-keys -vv "$B_SG"
[ "$RC" -eq 6 ] || { show_last; fail "B's first command after the fence: exit $RC, not 6 (UNIT ATTENTION)"; }
expect_out 'Additional sense: Registrations preempted'
lus_hold $AKEY
log "  every LU (through B's sg nodes): only 0x$AKEY left, A still holds type 5"
dmesg_mark
for L in "${SAMPLE[@]}"; do
    lu "$L"
    write_block "$B_SD"
    [ "$RC" -ne 0 ] || { show_last; fail "B wrote LU $L after being fenced"; }
    expect_out 'Invalid exchange'
done
dmesg_since
for L in "${SAMPLE[@]}"; do
    lu "$L"
    expect_out "sd $B_HCTL: reservation conflict"
done
log "  B's writes on LUs ${SAMPLE[*]}: 'Invalid exchange' (EBADE), 'sd H:C:T:L: reservation conflict' in dmesg"
lu "${LUNS[0]}"
read_block "$B_SD"
[ "$RC" -eq 0 ] || { show_last; fail "B cannot read LU ${LUNS[0]}: type 5 only keeps it from writing"; }
write_block "$A_SD"
[ "$RC" -eq 0 ] || { show_last; fail "A (the holder) cannot write LU ${LUNS[0]}"; }

log "4. fence_prfence_check (the watchdog hook)"
check test --key-file "$KEYFILE"
[ "$RC" -eq 0 ] || { show_last; fail "fence_prfence_check test for A: exit $RC, not 0"; }
echo $BKEY >"$D/b/cluster.key"
echo "devices=$(join_by , "${B_SDS[@]}")" >"$D/b/fence_prfence.args"
check test --key-file "$D/b/cluster.key"
[ "$RC" -eq 2 ] || { show_last; fail "fence_prfence_check test for B: exit $RC, not 2"; }
expect_out "our key 0x$BKEY is gone from $N LUs"
for L in "${LUNS[@]}"; do
    lu "$L"
    expect_out "^ +$B_SD\$"
done
check test --key-file "$D/none/cluster.key"
[ "$RC" -eq 0 ] || { show_last; fail "fence_prfence_check test without a key file: exit $RC, not 0"; }
check repair 2 --key-file "$KEYFILE"
[ "$RC" -eq 2 ] || { show_last; fail "fence_prfence_check repair 2: exit $RC, not 2"; }

log "5. off again (already fenced); off with our own key (refused)"
expect_agent 0 nodename=node-b action=off key=$BKEY "devices=$A_COMMA" "key_file=$KEYFILE"
expect_agent 1 nodename=node-a action=off key=$AKEY "devices=$A_COMMA" "key_file=$KEYFILE"
grep -q 'refusing to fence ourselves' <<<"$ERR" || { agent_show; fail "off with our own key: want 'refusing to fence ourselves' on stderr"; }
[ -z "$OUT" ] || { agent_show; fail "off with our own key printed on stdout"; }

log "6. stdin whose last line lost its newline (an on with another key): refused, nothing changed"
NO_NL=1 agent nodename=node-a action=on key=cccc0003 "key_file=$KEYFILE" "devices=$A_COMMA"
[ "$RC" -eq 1 ] || { agent_show; fail "truncated stdin: exit $RC, not 1"; }
grep -q 'input truncated' <<<"$ERR" || { agent_show; fail "truncated stdin: want 'input truncated' on stderr"; }
[ "$(cat "$KEYFILE")" = $AKEY ] || fail "the refused input changed the key file: '$(cat "$KEYFILE")'"
cmp -s "$ARGSFILE" "$D/args.after-on" || fail "the refused input changed the args file"
# Had the input been taken, A's registration would carry cccc0003, and the reservation with it.
lus_hold $AKEY
log "  key file, args file and every LU (0x$AKEY alone, holding type 5) as step 3 left them"

log "7. A clears every LU; no keys, no reservation, no unit attention left"
if command -v prfence >/dev/null; then
    expect_pj 0 clear --key $AKEY "${A_SDS[@]}"
    for node in A B; do
        declare -n devs=${node}_SDS
        expect_pj 0 keys "${devs[@]}"
        for ((i = 0; i < N; i++)); do
            [ "${J[luns.$i.keys]:-}" = "[]" ] || { show_last; fail "${J[luns.$i.device]}: keys ${J[luns.$i.keys]:-?} after CLEAR"; }
        done
        [ "${J[summary.retries]}" = 0 ] || { show_last; fail "unit attentions left on node $node"; }
    done
else
    for L in "${LUNS[@]}"; do
        lu "$L"
        QUIET=1 expect_pr 0 "$A_SG" --out --clear --param-rk=$AKEY
    done
    lus_hold
fi
log "ok; numbers in $REPORT"
