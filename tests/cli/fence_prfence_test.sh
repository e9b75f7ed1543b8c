#!/usr/bin/env bash
# fence_prfence as Pacemaker's fencer drives it (parameters on stdin, argv empty) and as people do
# (argv), over both back ends: devices= with initiator= (the engine in the agent) and group= with
# socket= (prfenced). Node A runs the agent; node B registers with prfence over its own I_T nexus;
# every LU state the agent claims is read back by prfence through a third initiator (node C).
#   on        registers our key, reserves WE-RO, writes the key file and fence_prfence.args; a
#             second on changes nothing; status 0 "Status: ON" / 2 "Status: OFF" / 1 no LU answers
#   off       the victim's key gone, our reservation kept, "Success"; again (already fenced) 0; on
#             LUs we never registered on (claim); one LU refusing PR OUT: exit 1 naming only it
#   monitor   no LU I/O (prsim's command count); prfenced down or an unknown group: 1
#   refusals  every bad input exits 1 with its message, reports nothing done, never hangs
#   time      delay=2 delays off; deadline=1 against 5 s PR OUT latency ends off in about 1 s (both)
#   SIGKILL   the agent killed while prfenced waits on its batch: prfenced stays healthy, the next
#             off succeeds; prfenced killed while the agent waits: exit 1 at once; prfenced
#             stopped (SIGSTOP): exit 1 by the deadline
#   check     fence_prfence_check test/repair (watchdog(8)'s contract; 0 when never unfenced or
#             when prfenced is down)
#   metadata, --help, --version; fence_scsi's key formula through a stand-in corosync-cmapctl
# Usage: fence_prfence_test.sh FENCE_PRFENCE PRFENCE PRSIM PRFENCED
F=$1 P=$2 S=$3 D=$4
FC=$(dirname "$F")/fence_prfence_check
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ctl=$dir/control.sock
dpid=
stop_prfenced() { [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null; dpid=; }
trap 'stop_prfenced; cleanup' EXIT
start_prfenced() {
    "$D" --socket "$ctl" --config "$dir/prfenced.json" >>"$dir/prfenced.log" 2>&1 &
    dpid=$!
    local _
    for _ in $(seq 200); do
        "$P" --daemon="$ctl" health >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "prfenced did not start:"; cat "$dir/prfenced.log"; exit 1
}

IA="iqn.2026-11.io.prfence:node-a,i,0x1"
IB="iqn.2026-11.io.prfence:node-b,i,0x2"
IC="iqn.2026-11.io.prfence:node-c,i,0x3"
start_prsim --luns 40
start_prfenced
lus() { echo "sim:$sock:$1"; }
# B and C speak to the LUs directly, always.
pb() { "$P" "$1" --initiator "$IB" --target-port 2 "${@:2}" >/dev/null 2>&1; }
arm() { "$S" ctl --socket "$sock" fault arm "$1" >/dev/null || { echo "cannot arm $1"; exit 1; }; }
disarm() { "$S" ctl --socket "$sock" fault disarm all >/dev/null; }
commands() {
    "$S" ctl --socket "$sock" stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["commands"])'
}

# state RANGE: one line per LU as node C reads it: "DEVICE keys=K1,K2 res=KEY/TYPE gen=N" (keys sorted).
state() {
    "$P" keys --json --initiator "$IC" --target-port 1 "$(lus "$1")" >"$dir/k.json" 2>/dev/null
    "$P" reservation --json --initiator "$IC" --target-port 1 "$(lus "$1")" >"$dir/r.json" 2>/dev/null
    python3 - "$dir/k.json" "$dir/r.json" <<'EOF'
import json, sys
k = json.load(open(sys.argv[1]))["luns"]
r = json.load(open(sys.argv[2]))["luns"]
for a, b in zip(k, r):
    res = b.get("reservation")
    print("%s keys=%s res=%s gen=%s" % (a["device"], ",".join(sorted(a.get("keys") or [])) or "-",
          "%s/%s" % (res["key"], res["type"]) if res else "-", a.get("generation")))
EOF
}
# expect_state NAME RANGE REGEX: every LU's line of `state RANGE` matches REGEX.
expect_state() {
    local name=$1 range=$2 regex=$3 st n total
    st=$(state "$range")
    total=$(grep -c . <<<"$st")
    n=$(grep -cE -- "$regex" <<<"$st")
    if [ "$total" -gt 0 ] && [ "$n" -eq "$total" ]; then ok; else
        bad "$name: $n of $total LUs match /$regex/:"; sed 's/^/    /' <<<"$st" | head -12; fi
}

# run_agent INPUT [ARGS...]: the agent with INPUT on stdin (printf %s, exactly as given) and ARGS on
# argv; sets rc, out, err and ms. A hang ends after 60 s (rc 124).
run_agent() {
    local input=$1 t0
    shift
    t0=$(date +%s%N)
    printf '%s' "$input" | timeout -k 5 60 "$F" "$@" >"$dir/out" 2>"$dir/err"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    out=$(cat "$dir/out") err=$(cat "$dir/err")
}
# expect NAME WANT_RC OUT_REGEX ERR_REGEX: after run_agent; '' matches anything.
expect() {
    local name=$1 want=$2 ore=$3 ere=$4
    if [ "$rc" -eq "$want" ] && grep -qE -- "$ore" <<<"$out" && grep -qE -- "$ere" <<<"$err"; then ok; else
        bad "$name: rc=$rc (want $want), stdout:"; sed 's/^/    /' <<<"$out" | head -8
        echo "  stderr:"; sed 's/^/    /' <<<"$err" | head -12
    fi
}
# lines K=V...: the agent's stdin, one line each, newline-terminated; run_lines K=V...: the agent with
# those lines on stdin.
lines() { printf '%s\n' "$@"; }
run_lines() { run_agent "$(lines "$@")"$'\n'; }

# Ranges: per back end, the main LUs, LUs A never registered on (claim), LUs with a refusing one.
declare -A MAIN=([direct]=0-7 [daemon]=8-15) CLAIM=([direct]=16-19 [daemon]=20-23) PART=([direct]=24-27 [daemon]=28-31)
declare -A REFUSE=([direct]=25 [daemon]=29)
"$P" --daemon="$ctl" group create ga --initiator "$IA" --target-port 1 "$(lus "${MAIN[daemon]}")" >/dev/null &&
    "$P" --daemon="$ctl" group create gc --initiator "$IA" --target-port 1 "$(lus "${CLAIM[daemon]}")" >/dev/null &&
    "$P" --daemon="$ctl" group create gp --initiator "$IA" --target-port 1 "$(lus "${PART[daemon]}")" >/dev/null ||
    { echo "cannot create the prfenced groups"; cat "$dir/prfenced.log"; exit 1; }

# be MODE RANGE_KIND: the back-end parameters (stdin lines) for MODE over a range.
be() {
    local m=$1 kind=$2
    if [ "$m" = direct ]; then
        local -n r=$kind
        lines "devices=$(lus "${r[direct]}")" "initiator=$IA"
    else
        case $kind in MAIN) lines "group=ga" ;; CLAIM) lines "group=gc" ;; PART) lines "group=gp" ;; esac
        lines "socket=$ctl"
    fi
}

for m in direct daemon; do
    kf=$dir/$m/cluster.key
    mkdir -p "$dir/$m"
    R=${MAIN[$m]}
    pb register --ignore-existing --key b2 "$(lus "$R")" || bad "$m: B cannot register"

    # ---- on
    mapfile -t BE < <(be "$m" MAIN)
    run_lines action=on nodename=node-a key=a1 "key_file=$kf" "${BE[@]}"
    expect "$m on" 0 'Success: key 0xa1 registered on 8 LUs' ''
    expect_state "$m on: a1 and b2 registered, a1 holds WE-RO" "$R" 'keys=0xa1,0xb2 res=0xa1/WE-RO '
    if [ "$(cat "$kf" 2>/dev/null)" = a1 ]; then ok; else bad "$m on: key file holds '$(cat "$kf" 2>/dev/null)', want a1"; fi
    want_args=$(if [ $m = direct ]; then echo "devices=$(lus "$R")"; else echo "group=ga"; fi)
    if grep -qxF -- "$want_args" "$dir/$m/fence_prfence.args" 2>/dev/null; then ok; else
        bad "$m on: fence_prfence.args lacks '$want_args':"; cat "$dir/$m/fence_prfence.args" 2>&1 | sed 's/^/    /'; fi
    # The same keys and holder afterwards. PRgeneration does move: on re-registers on every path
    # (REGISTER AND IGNORE EXISTING KEY), as fence_scsi does, to replace a stale registration.
    before=$(state "$R" | sed 's/ gen=.*//')
    mapfile -t BE < <(be "$m" MAIN)
    run_lines action=on nodename=node-a key=a1 "key_file=$kf" "${BE[@]}"
    expect "$m on again" 0 'Success' ''
    after=$(state "$R" | sed 's/ gen=.*//')
    if [ "$before" = "$after" ]; then ok; else bad "$m on again changed the LUs:"; diff <(echo "$before") <(echo "$after") | tail -3; fi

    # ---- status
    mapfile -t BE < <(be "$m" MAIN)
    run_lines action=status key=a1 "${BE[@]}"
    expect "$m status registered" 0 '^Status: ON$' ''
    mapfile -t BE < <(be "$m" MAIN)
    run_lines action=status key=c3 "${BE[@]}"
    expect "$m status unregistered" 2 '^Status: OFF$' ''
    arm "not_ready,initiator=$IA"
    run_lines action=status key=a1 "${BE[@]}"
    disarm
    expect "$m status when no LU answers" 1 '^$' 'no LU answered READ KEYS .*NOT READY'

    # ---- monitor: no command reaches any LU
    c0=$(commands)
    mapfile -t BE < <(be "$m" MAIN)
    run_lines action=monitor "${BE[@]}"
    c1=$(commands)
    expect "$m monitor" 0 '' ''
    if [ "$c0" = "$c1" ]; then ok; else bad "$m monitor sent $((c1 - c0)) commands to the LUs"; fi

    # ---- off
    mapfile -t BE < <(be "$m" MAIN)
    run_lines action=off nodename=node-b key=b2 "key_file=$kf" "${BE[@]}"
    expect "$m off" 0 '^Success' ''
    expect_state "$m off: b2 gone, a1 holds WE-RO" "$R" 'keys=0xa1 res=0xa1/WE-RO '
    mapfile -t BE < <(be "$m" MAIN)
    run_lines action=off nodename=node-b key=b2 "key_file=$kf" "${BE[@]}"
    expect "$m off again (already fenced)" 0 '^Success' ''
    # status of the fenced victim, from argv as pcs asks it
    if [ $m = direct ]; then
        run_agent "" --action=status --key=b2 --devices="$(lus "$R")" --initiator="$IA"
    else
        run_agent "" -o status --key b2 --group ga --socket "$ctl"
    fi
    expect "$m status of the fenced victim (argv)" 2 '^Status: OFF$' ''

    # ---- off on LUs A never registered on (the key file is there): A claims them. By argv.
    C=${CLAIM[$m]}
    pb register --ignore-existing --key b2 "$(lus "$C")" && pb reserve --key b2 --type 5 "$(lus "$C")" || bad "$m: B cannot reserve"
    if [ $m = direct ]; then
        run_agent "" -o off --key b2 --key-file "$kf" --devices "$(lus "$C")" --initiator "$IA"
    else
        run_agent "" --action=off --key=b2 --key_file="$kf" --group=gc --socket="$ctl"
    fi
    expect "$m off with claim (argv)" 0 '^Success' ''
    expect_state "$m claim: only a1, reserved by a1" "$C" 'keys=0xa1 res=0xa1/WE-RO '

    # ---- off where one LU refuses PR OUT from A: exit 1 naming only that LU; the others fenced
    Q=${PART[$m]} bad_lu=${REFUSE[$m]}
    pb register --ignore-existing --key b2 "$(lus "$Q")" || bad "$m: B cannot register"
    mapfile -t BE < <(be "$m" PART)
    run_lines action=on key=a1 "key_file=$kf" "${BE[@]}"
    expect "$m on (partial set)" 0 'Success' ''
    arm "answer,luns=$bad_lu,class=pr_out,initiator=$IA,key=5,asc=24,ascq=0"
    mapfile -t BE < <(be "$m" PART)
    run_lines action=off nodename=node-b key=b2 "key_file=$kf" "${BE[@]}"
    named=$(grep -oE "sim:$sock:[0-9]+" <<<"$err" | sort -u | tr '\n' ' ')
    if [ "$named" = "sim:$sock:$bad_lu " ]; then ok; else bad "$m partial off names '$named', want only LU $bad_lu"; fi
    expect "$m partial off" 1 '^$' "not fenced on 1 of 4 LUs"
    # on, too, names the one LU that refuses and reports nothing done
    run_lines action=on key=a1 "key_file=$kf" "${BE[@]}"
    disarm
    named=$(grep -oE "sim:$sock:[0-9]+" <<<"$err" | sort -u | tr '\n' ' ')
    if [ "$named" = "sim:$sock:$bad_lu " ]; then ok; else bad "$m partial on names '$named', want only LU $bad_lu"; fi
    expect "$m partial on" 1 '^$' "key 0xa1 not in place on 1 of 4 LUs"
    for lu in $(seq "${Q%-*}" "${Q#*-}"); do
        if [ "$lu" = "$bad_lu" ]; then expect_state "$m partial: LU $lu still holds b2" "$lu" 'keys=0xa1,0xb2 '
        else expect_state "$m partial: LU $lu fenced" "$lu" 'keys=0xa1 res=0xa1/WE-RO '; fi
    done

    # ---- fence_prfence_check: the args file the last `on` wrote names the LUs (the partial set)
    out=$("$FC" test --key-file "$kf" 2>&1); rc=$?
    [ "$rc" -eq 0 ] && ok || bad "$m check test with our key everywhere: rc=$rc: $out"
    # B comes back on one LU and preempts A there.
    lu=${Q%-*}
    pb register --ignore-existing --key b2 "$(lus "$lu")" && pb preempt --key b2 --victim a1 --type 5 "$(lus "$lu")" || bad "$m: B cannot preempt"
    out=$("$FC" test --key-file "$kf" 2>&1); rc=$?
    named=$(grep -oE "sim:$sock:[0-9]+" <<<"$out" | sort -u | tr '\n' ' ')
    if [ "$rc" -eq 2 ] && [ "$named" = "sim:$sock:$lu " ]; then ok; else
        bad "$m check test after preemption: rc=$rc (want 2), names '$named' (want LU $lu): $out"; fi
    out=$("$FC" test --key-file="$kf" 2>&1); rc=$?
    [ "$rc" -eq 2 ] && ok || bad "$m check test --key-file=PATH after preemption: rc=$rc (want 2): $out"
done

# ---- fence_prfence_check without state, with prfenced down, and repair
out=$("$FC" test --key-file "$dir/never/cluster.key" 2>&1); rc=$?
[ "$rc" -eq 0 ] && ok || bad "check test never unfenced: rc=$rc: $out"
mkdir -p "$dir/down" && echo a1 >"$dir/down/cluster.key" && lines group=ga "socket=$dir/nope.sock" >"$dir/down/fence_prfence.args"
out=$("$FC" test --key-file "$dir/down/cluster.key" 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -q 'cannot read the keys.*nope.sock' <<<"$out"; then ok; else bad "check test with prfenced down: rc=$rc (want 0): $out"; fi
out=$("$FC" repair 2 --key-file "$dir/direct/cluster.key" 2>&1); rc=$?
[ "$rc" -eq 2 ] && ok || bad "check repair 2: rc=$rc: $out"

# ---- refusals: exit 1, a message, nothing reported done, no hang; the LUs untouched
kf=$dir/direct/cluster.key
DEV=$(lus 0-7)
pb register --ignore-existing --key b2 "$DEV" || bad "B cannot register"
base=(nodename=node-b key=b2 "key_file=$kf" "devices=$DEV" "initiator=$IA")
refuse() {  # refuse NAME ERR_REGEX: after run_agent
    expect "$1" 1 '' "$2"
    if grep -q Success <<<"$out"; then bad "$1: stdout says Success"; fi
    if [ "$ms" -ge 20000 ]; then bad "$1: took $ms ms"; fi
}
run_agent "$(lines action=off "${base[@]}")"
refuse "stdin without its final newline" 'input truncated: .*last line has no newline'
big=$(head -c 62000 /dev/zero | tr '\0' x)
run_lines action=off "${base[@]}" "# $big"
refuse "stdin over 60 KiB" 'input truncated: .*more than the 61440'
run_agent ""
refuse "empty stdin" 'no parameters on stdin'
run_lines action=bogus "${base[@]}"
refuse "unknown action" "unrecognised action 'bogus'"
for a in reboot list; do
    run_lines "action=$a" "${base[@]}"
    refuse "action=$a" '(unrecogni[sz]ed|unsupported) action'
done
run_lines action=off "key_file=$kf" "devices=$DEV" "initiator=$IA"
refuse "no key and no nodename" 'needs key= or a node'
run_lines action=off nodename=node-b key=b2 "key_file=$dir/none/cluster.key" "devices=$DEV" "initiator=$IA"
refuse "absent key file" "has this node been unfenced\\?\\): $dir/none/cluster.key: No such file"
n=$(grep -o unfenced <<<"$err" | wc -l)
[ "$n" -eq 1 ] && ok || bad "absent key file: the hint comes $n times: $err"
run_lines action=off nodename=node-b key=b2 "key_file=$dir" "devices=$DEV" "initiator=$IA"
refuse "unreadable key file (a directory)" "this node's key file: read $dir: Is a directory"
echo zz >"$dir/garbage.key"
run_lines action=off nodename=node-b key=b2 "key_file=$dir/garbage.key" "devices=$DEV" "initiator=$IA"
refuse "key file without a key" "this node's key file: $dir/garbage.key: not a key"
run_lines action=off key=b2 "key_file=$kf" group=ga "socket=$dir/nope.sock"
refuse "prfenced down (off)" 'cannot connect to prfenced at .*/nope.sock'
run_lines action=off key=b2 "key_file=$kf" group=nosuch "socket=$ctl"
refuse "unknown group (off)" 'nosuch'
run_lines action=off key=a1 "key_file=$kf" "devices=$DEV" "initiator=$IA"
refuse "victim key equal to ours" 'key 0xa1 is our own'
run_lines action=off "${base[@]}" group=ga "socket=$ctl"
refuse "devices and group" 'devices and group exclude each other'
run_lines action=off nodename=node-b key=xyz "key_file=$kf" "devices=$DEV" "initiator=$IA"
refuse "bad key text" "key: not a reservation key: 'xyz'"
run_lines action=off nodename=node-b key=0 "key_file=$kf" "devices=$DEV" "initiator=$IA"
refuse "key 0" 'key: 0 is not a usable key'
run_lines action=off "${base[@]}" type=9
refuse "bad type" "type: not a reservation type: '9'"
run_lines action=off "${base[@]}" delay=5 deadline=3
refuse "delay >= deadline" 'delay: 5 s is not below the deadline'
if [ "$ms" -lt 2000 ]; then ok; else bad "delay >= deadline refused only after $ms ms"; fi
run_agent "" --bogus
refuse "argv: unknown option" "unknown option '--bogus'"
run_agent "" -o off --devices
refuse "argv: option without its value" "option '--devices' needs a value"
run_agent "" -o reboot --key b2 --key-file "$kf" --devices "$DEV" --initiator "$IA"
refuse "argv: -o reboot" "unsupported action 'reboot'"
run_agent "" -o off --key b2 --key-file "$kf" --devices "$DEV" --initiator "$IA" stray
refuse "argv: a stray argument" "unexpected argument 'stray'"
run_lines action=status garbage key=b2 "devices=$DEV" "initiator=$IA"
refuse "a stdin line without =" "stdin line 2: 'garbage' is not name=value"
run_lines key=b2 "key_file=$kf" "devices=$DEV" "initiator=$IA"
refuse "stdin without action= (never the default off)" 'action: missing on stdin'
# validate-all as stonith_admin --validate sends it: no I/O, 0 for a usable set, 1 otherwise
c0=$(commands)
run_lines action=validate-all nodename=node1 port=node1 "devices=$DEV"
expect "validate-all" 0 '' ''
run_lines action=validate-all nodename=node1 port=node1 "devices=$DEV" group=ga
refuse "validate-all with devices and group" 'devices and group exclude each other'
c1=$(commands)
[ "$c0" = "$c1" ] && ok || bad "validate-all sent $((c1 - c0)) commands to the LUs"
expect_state "refusals left b2 registered" 0-7 'keys=0xa1,0xb2 '
run_lines action=monitor group=ga "socket=$dir/nope.sock"
refuse "monitor with prfenced down" 'cannot connect to prfenced at .*/nope.sock'
run_lines action=monitor group=nosuch "socket=$ctl"
refuse "monitor of an unknown group" 'no group "nosuch"'

# ---- delay and deadline
run_lines action=off "${base[@]}" delay=2
expect "delay=2" 0 '^Success' ''
if [ "$ms" -ge 2000 ]; then ok; else bad "delay=2: off took only $ms ms"; fi
# Against 5 s PR OUT latency, deadline=1 ends off after about 1 s, saying so, in both back ends.
for m in direct daemon; do
    pb register --ignore-existing --key b2 "$(lus "${MAIN[$m]}")" || bad "B cannot register"
    mapfile -t BE < <(be "$m" MAIN)
    arm "latency,class=pr_out,initiator=$IA,us=5000000"
    run_lines action=off nodename=node-b key=b2 "key_file=$dir/$m/cluster.key" "${BE[@]}" deadline=1
    disarm
    refuse "$m deadline=1 against 5 s latency" "not fenced on 8 of 8 LUs \\(the agent's deadline was reached\\)"
    if [ "$ms" -lt 3000 ]; then ok; else bad "$m deadline=1: off ended after $ms ms"; fi
done

# ---- SIGKILL in the middle of an off batch through prfenced (the fencer's way to end an agent that
# outlives pcmk_off_timeout): killed once prsim holds its PR OUTs and prfenced counts a running batch
pb register --ignore-existing --key b2 "$(lus "${MAIN[daemon]}")" || bad "B cannot register"
arm "latency,class=pr_out,initiator=$IA,us=3000000"
c0=$(commands)
lines action=off key=b2 "key_file=$dir/daemon/cluster.key" group=ga "socket=$ctl" >"$dir/killed.in"
"$F" <"$dir/killed.in" >"$dir/killed.out" 2>&1 &
apid=$!
for _ in $(seq 200); do
    [ $(($(commands) - c0)) -ge 8 ] && break
    sleep 0.05
done
running=$("$P" --daemon="$ctl" health 2>&1 | sed -n 's/^batches_running: //p')
{ kill -9 "$apid"; wait "$apid"; krc=$?; } 2>/dev/null  # no "Killed" line from bash
if [ "$krc" -eq 137 ] && [ "$running" = 1 ]; then ok; else
    bad "SIGKILL mid-batch: the agent ended with $krc (want 137), prfenced ran ${running:-?} batches (want 1)"; fi
disarm
# prfenced answers at once, and finishes or aborts the orphaned batch by itself.
t0=$(date +%s%N)
timeout 5 "$P" --daemon="$ctl" ping --count 5 >/dev/null 2>&1 && ok || bad "prfenced does not answer ping after the SIGKILL"
for _ in $(seq 200); do
    timeout 5 "$P" --daemon="$ctl" health >"$dir/health" 2>&1 && grep -qx 'batches_running: 0' "$dir/health" &&
        grep -qx 'batches_queued: 0' "$dir/health" && grep -qx 'clients: 1' "$dir/health" && break
    sleep 0.1
done
if grep -qx 'batches_running: 0' "$dir/health" && grep -qx 'clients: 1' "$dir/health"; then ok; else
    bad "prfenced still holds the killed agent's batch or connection $((($(date +%s%N) - t0) / 1000000)) ms later:"
    sed 's/^/    /' "$dir/health"; fi
run_lines action=off key=b2 "key_file=$dir/daemon/cluster.key" group=ga "socket=$ctl"
expect "off after the SIGKILLed one" 0 '^Success' ''
expect_state "off after the SIGKILLed one: b2 gone" "${MAIN[daemon]}" 'keys=0xa1 res=0xa1/WE-RO '
kill -0 "$dpid" 2>/dev/null && ok || bad "prfenced died"

# ---- prfenced itself SIGKILLed in the middle of an off: the agent says so at once and exits 1; a
# restarted prfenced (groups from its configuration) serves the next off.
pb register --ignore-existing --key b2 "$(lus "${MAIN[daemon]}")" || bad "B cannot register"
arm "latency,class=pr_out,initiator=$IA,us=3000000"
c0=$(commands)
"$F" <"$dir/killed.in" >"$dir/out" 2>"$dir/err" &
apid=$!
for _ in $(seq 200); do
    [ $(($(commands) - c0)) -ge 8 ] && break
    sleep 0.05
done
t0=$(date +%s%N)
{ kill -9 "$dpid"; wait "$dpid"; } 2>/dev/null
dpid=
wait "$apid"; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
out=$(cat "$dir/out") err=$(cat "$dir/err")
disarm
refuse "prfenced killed during off" 'off failed: prfenced closed the connection'
if [ "$ms" -lt 3000 ]; then ok; else bad "prfenced killed during off: the agent ended $ms ms later"; fi
start_prfenced
run_lines action=off key=b2 "key_file=$dir/daemon/cluster.key" group=ga "socket=$ctl"
expect "off through a restarted prfenced" 0 '^Success' ''
expect_state "off through a restarted prfenced: b2 gone" "${MAIN[daemon]}" 'keys=0xa1 res=0xa1/WE-RO '

# ---- prfenced hung (SIGSTOP): off and monitor end by their deadline (3 s; the version check's own
# 10 s wait must not outlast it), exit 1, saying that prfenced did not answer
kill -STOP "$dpid"
run_lines action=off key=b2 "key_file=$dir/daemon/cluster.key" group=ga "socket=$ctl" deadline=3
off_ms=$ms
refuse "prfenced stopped (off)" 'no answer from prfenced'
run_lines action=monitor group=ga "socket=$ctl" deadline=3
kill -CONT "$dpid"
refuse "prfenced stopped (monitor)" 'no answer from prfenced'
if [ "$off_ms" -lt 5000 ] && [ "$ms" -lt 5000 ]; then ok; else
    bad "prfenced stopped: off ended after $off_ms ms, monitor after $ms ms (deadline 3 s)"; fi

# ---- metadata, --help, --version
run_lines action=metadata
meta_stdin=$out
expect "metadata on stdin" 0 '<resource-agent name="fence_prfence"' ''
run_agent "" -o metadata
if [ "$rc" -eq 0 ] && [ "$out" = "$meta_stdin" ]; then ok; else bad "-o metadata differs from stdin's (rc=$rc)"; fi
run_agent "" --help
expect "--help" 0 'devices' ''
run_agent "" --version
expect "--version" 0 '^fence_prfence [0-9]' ''

# ---- fence_scsi's key formula with a stand-in corosync-cmapctl
cmap=$dir/corosync-cmapctl
cat >"$cmap" <<'EOF'
#!/bin/sh
echo "$1" >>"${0%/*}/cmap.log"
case $1 in
totem.cluster_name) echo 'totem.cluster_name (str) = prfence' ;;
nodelist)
    printf '%s\n' 'nodelist.local_node_pos (u32) = 0' 'nodelist.node.0.name (str) = node-a' \
        'nodelist.node.0.nodeid (u32) = 1' 'nodelist.node.0.ring0_addr (str) = 127.0.0.1' \
        'nodelist.node.1.name (str) = node-b' 'nodelist.node.1.nodeid (u32) = 2' \
        'nodelist.node.1.ring0_addr (str) = 127.0.0.2' ;;
*) exit 1 ;;
esac
EOF
chmod +x "$cmap"
mkdir -p "$dir/nodeb"
run_lines action=on nodename=node-b key_value=hash "corosync_cmap_path=$cmap" "key_file=$dir/nodeb/cluster.key" "devices=$(lus 32-35)" "initiator=$IB"
expect "on node-b key_value=hash" 0 'key 0x4a5c26f7' ''
expect_state "hash key of node-b on the LUs" 32-35 'keys=0x4a5c26f7 res=0x4a5c26f7/WE-RO '
run_lines action=on nodename=node-a key_value=id "corosync_cmap_path=$cmap" "key_file=$dir/nodea/cluster.key" "devices=$(lus 32-35)" "initiator=$IA"
expect "on node-a key_value=id" 0 'key 0x4a5c0000' ''
expect_state "id key of node-a on the LUs; node-b's reservation left alone" 32-35 'keys=0x4a5c0000,0x4a5c26f7 res=0x4a5c26f7/WE-RO '
# on asked corosync for the cluster name and kept it beside the key file; off takes it from there
# (no corosync-cmapctl process in the middle of a failover) but still asks for the nodelist, whose
# positions change as nodes come and go.
[ "$(cat "$dir/nodea/fence_prfence.cluster_name" 2>/dev/null)" = prfence ] && ok || bad "on did not record the cluster name"
: >"$dir/cmap.log"
run_lines action=off nodename=node-b key_value=hash "corosync_cmap_path=$cmap" "key_file=$dir/nodea/cluster.key" "devices=$(lus 32-35)" "initiator=$IA"
expect "off node-b key_value=hash from node-a" 0 'key 0x4a5c26f7' ''
[ ! -s "$dir/cmap.log" ] && ok || bad "off with key_value=hash ran corosync-cmapctl: $(tr '\n' ' ' <"$dir/cmap.log")"
expect_state "node-b fenced by its hash key" 32-35 'keys=0x4a5c0000 res=0x4a5c0000/WE-RO '
run_lines action=status nodename=node-a key_value=id "corosync_cmap_path=$cmap" "key_file=$dir/nodea/cluster.key" "devices=$(lus 32-35)" "initiator=$IA"
expect "status node-a key_value=id" 0 'Status: ON' ''
[ "$(tr '\n' ' ' <"$dir/cmap.log")" = "nodelist " ] && ok || bad "status with key_value=id: corosync-cmapctl calls: $(tr '\n' ' ' <"$dir/cmap.log")"
run_lines action=status nodename=node-c key_value=id "corosync_cmap_path=$cmap" "devices=$(lus 32-35)" "initiator=$IA"
refuse "id key of a node not in the nodelist" "key for node 'node-c'.*not in corosync's nodelist"
n=$(grep -o 'key for node' <<<"$err" | wc -l)
[ "$n" -eq 1 ] && ok || bad "node not in the nodelist: the node is named $n times: $err"

finish
