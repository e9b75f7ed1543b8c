#!/usr/bin/env bash
# The failure paths the man pages promise, each with its exit status checked number by number:
#   prfence   33 when --timeout or --deadline expires; 35 when prsim dies during a batch; 99 when
#             Ctrl-C (SIGINT) or SIGTERM cancels a batch; in every case every LU is reported in the
#             JSON and the process ends well before the commands it gave up on would have; 15 for a
#             partition given where a whole disk is expected (on a fake sysfs tree: --sys/--dev)
#   prfenced  1 for a bad configuration file or an unusable socket, 2 for a bad --socket-mode, 0 after
#             SIGINT
#   prsim     1 for a bad option or fault, 15 for a socket another prsim listens on; prsim ctl 15 when
#             it cannot connect, 1 when the daemon refuses
#   prsim-run 2 without a socket or a command, 127 for a command not found, 126 for one that cannot run
#   prbench   1 usage, 15 unresolvable devices, 2 a measured operation failed, 99 the run failed
# Usage: failure_paths_test.sh PRFENCE PRSIM PRFENCED PRSIM_RUN PRBENCH
P=$1 S=$2 D=$3 R=$4 PB=$5
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
arm() { "$S" ctl --socket "$sock" fault arm "$1" >/dev/null || { echo "cannot arm $1"; exit 1; }; }

# expect NAME WANT_RC REGEX -- COMMAND...: the exit status, and REGEX in stdout+stderr.
expect() {
    local name=$1 want=$2 regex=$3
    shift 4
    local out rc
    out=$(timeout -k 5 60 "$@" 2>&1 </dev/null); rc=$?
    if [ "$rc" -eq "$want" ] && grep -qE -- "$regex" <<<"$out"; then ok; else
        bad "$name: rc=$rc (want $want), output:"; sed 's/^/    /' <<<"$out" | head -20
    fi
}

# json_count FILE: how many LU results the JSON document holds (-1 when it is not JSON).
json_count() {
    python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["luns"]))' "$1" 2>/dev/null || echo -1
}

# ---- prfence: timeouts
start_prsim --luns 8
arm timeout,luns=0
expect timeout 33 'READ KEYS: timed out' -- "$P" keys "${A[@]}" --timeout 300 "sim:$sock:0-3"
"$S" ctl --socket "$sock" fault disarm all >/dev/null
arm latency,luns=0-3,us=30000000
t0=$(date +%s%N)
"$P" keys "${A[@]}" --json --deadline 500 "sim:$sock:0-7" >"$dir/deadline.json" 2>&1; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
n=$(json_count "$dir/deadline.json")
if [ "$rc" -eq 33 ] && [ "$n" -eq 8 ] && grep -q 'batch deadline passed' "$dir/deadline.json" && [ "$ms" -lt 20000 ]; then
    ok; else bad "deadline: rc=$rc (want 33), $n LUs reported (want 8), ${ms} ms"; head -40 "$dir/deadline.json"; fi
stop_prsim

# ---- prfence: Ctrl-C and SIGTERM in the middle of a batch. The commands take 30 s; the signal comes
# once prfence has sent them (prsim counts them), and the run must end long before 30 s.
for sig in INT TERM; do
    start_prsim --luns 16
    arm latency,us=30000000
    # timeout passes the signal on to prfence, and kills it should it hang.
    timeout -k 5 25 "$P" keys "${A[@]}" --json "sim:$sock:0-15" >"$dir/sig.json" 2>"$dir/sig.err" &
    ppid=$!
    for _ in $(seq 200); do
        cmds=$("$S" ctl --socket "$sock" stats 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["commands"])' 2>/dev/null || echo 0)
        [ "${cmds:-0}" -ge 16 ] && break
        sleep 0.05
    done
    t0=$(date +%s%N)
    kill -"$sig" "$ppid"
    wait "$ppid"; rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    n=$(json_count "$dir/sig.json")
    if [ "$rc" -eq 99 ] && [ "$n" -eq 16 ] && grep -q 'cancelled' "$dir/sig.json" && [ "$ms" -lt 15000 ]; then
        ok; else bad "SIG$sig during a batch: rc=$rc (want 99), $n LUs reported (want 16), ${ms} ms after the signal"
        head -30 "$dir/sig.json"; cat "$dir/sig.err"; fi
    # Nothing left open: once prfence has exited, the only connection prsim sees is prsim ctl's own.
    conns=$("$S" ctl --socket "$sock" stats 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["connections_active"])' 2>/dev/null || echo -1)
    [ "$conns" -le 1 ] && ok || bad "SIG$sig: prsim still sees $conns connections after prfence exited"
    stop_prsim
done

# ---- prfence: the emulator dies in the middle of a batch: a transport failure (35) for every LU
start_prsim --luns 8
arm latency,us=30000000
timeout -k 5 25 "$P" keys "${A[@]}" --json "sim:$sock:0-7" >"$dir/dead.json" 2>&1 &
ppid=$!
for _ in $(seq 200); do
    cmds=$("$S" ctl --socket "$sock" stats 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["commands"])' 2>/dev/null || echo 0)
    [ "${cmds:-0}" -ge 8 ] && break
    sleep 0.05
done
kill -9 "$spid"; wait "$spid" 2>/dev/null; spid=
wait "$ppid"; rc=$?
n=$(json_count "$dir/dead.json")
if [ "$rc" -eq 35 ] && [ "$n" -eq 8 ]; then ok; else bad "prsim killed: rc=$rc (want 35), $n LUs reported (want 8)"; head -30 "$dir/dead.json"; fi

# ---- prfence: a partition where a whole disk is expected, on a fake sysfs tree laid out as the
# kernel lays it out for a SCSI disk sdb (host 2, an iSCSI session) with its sg node and partition 1.
fs=$dir/fake
sys=$fs/sys SD=$fs/sys/devices/platform/host2/session2/target2:0:0/2:0:0:0
mkdir -p "$SD/block/sdb/sdb1" "$SD/scsi_generic/sg1" "$sys/class/block" "$sys/class/scsi_generic" \
    "$sys/block" "$sys/dev/block" "$sys/dev/char" "$fs/dev"
echo 8:16 >"$SD/block/sdb/dev"
echo 1 >"$SD/block/sdb/sdb1/partition"
echo 8:17 >"$SD/block/sdb/sdb1/dev"
echo 21:1 >"$SD/scsi_generic/sg1/dev"
ln -s ../../../2:0:0:0 "$SD/block/sdb/device"
ln -s ../../../2:0:0:0 "$SD/scsi_generic/sg1/device"
ln -s scsi_generic/sg1 "$SD/generic"
rel=platform/host2/session2/target2:0:0/2:0:0:0
ln -s "../devices/$rel/block/sdb" "$sys/block/sdb"
ln -s "../../devices/$rel/block/sdb" "$sys/class/block/sdb"
ln -s "../../devices/$rel/block/sdb/sdb1" "$sys/class/block/sdb1"
ln -s "../../devices/$rel/block/sdb" "$sys/dev/block/8:16"
ln -s "../../devices/$rel/scsi_generic/sg1" "$sys/class/scsi_generic/sg1"
ln -s "../../devices/$rel/scsi_generic/sg1" "$sys/dev/char/21:1"
: >"$fs/dev/sdb"; : >"$fs/dev/sdb1"; : >"$fs/dev/sg1"
expect partition 15 'sdb1: is a partition; give the whole disk .*/dev/sdb$' -- "$P" keys --sys "$sys" --dev "$fs/dev" /dev/sdb1

# ---- prfenced
echo '{"groups": [' >"$dir/bad.json"
expect prfenced_bad_config 1 'bad.json' -- "$D" --socket "$dir/c.sock" --config "$dir/bad.json"
expect prfenced_bad_socket 1 'nonexistent' -- "$D" --socket "$dir/nonexistent/dir/c.sock"
expect prfenced_bad_mode 2 'socket-mode' -- "$D" --socket "$dir/c.sock" --socket-mode 9999
"$D" --socket "$dir/c.sock" >"$dir/prfenced.log" 2>&1 &
dpid=$!
for _ in $(seq 200); do [ -S "$dir/c.sock" ] && break; sleep 0.05; done
kill -INT "$dpid"; wait "$dpid"; rc=$?
[ "$rc" -eq 0 ] && [ ! -e "$dir/c.sock" ] && ok || { bad "prfenced after SIGINT: rc=$rc (want 0), socket left: $(ls "$dir/c.sock" 2>&1)"; cat "$dir/prfenced.log"; }

# ---- prsim and prsim ctl
expect prsim_bad_fault 1 'nosuchfault' -- "$S" --socket "$dir/p2.sock" --fault nosuchfault
expect prsim_bad_option 1 'nosuchoption' -- "$S" --socket "$dir/p2.sock" --nosuchoption
start_prsim --luns 2
expect prsim_socket_taken 15 'listening' -- "$S" --socket "$sock" --luns 2
expect prsim_ctl_refused 1 '"ok": false' -- "$S" ctl --socket "$sock" fault disarm 424242
stop_prsim
expect prsim_ctl_no_daemon 15 'p3.sock' -- "$S" ctl --socket "$dir/p3.sock" fault list

# ---- prsim-run
expect prsim_run_no_socket 2 'socket' -- env -u PRSIM_SOCKET "$R" -- true
expect prsim_run_no_command 2 'COMMAND|command' -- "$R" --socket "$sock"
expect prsim_run_not_found 127 'no-such-command' -- "$R" --socket "$sock" -- "$dir/no-such-command"
: >"$dir/not-executable"
expect prsim_run_not_executable 126 'not-executable' -- "$R" --socket "$sock" -- "$dir/not-executable"

# ---- prbench
expect prbench_usage 1 'nosuchoption' -- "$PB" --nosuchoption "sim:$sock:0"
expect prbench_unresolvable 15 'cannot resolve' -- "$PB" /dev/prfence-no-such-disk
expect prbench_run_failed 99 'opening the LUs: .*no-such.sock' -- "$PB" -w op --op read-keys -b uring --iterations 1 "sim:$dir/no-such.sock:0-1"
start_prsim --luns 4
arm busy,p=1
expect prbench_op_failed 2 'BUSY|failed' -- "$PB" -w op --op read-keys -b uring --iterations 2 --warmup 0 "sim:$sock:0-3"
stop_prsim

finish
