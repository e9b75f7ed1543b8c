#!/usr/bin/env bash
# libprinterpose when prsim is unreachable, dies, stops or holds commands: the intercepted calls
# fail the way a dead device does (open ENXIO, SG_IO host status DID_NO_CONNECT or DID_TIME_OUT,
# read/write EIO), with one message on stderr per process, and nothing hangs (every command is
# wrapped in `timeout`; the elapsed times are checked). fence_scsi without prsim is
# dead_prsim_fence_scsi_test.sh, so that a missing fence-agents skips that one check, not these.
. "$(dirname "$0")/lib.sh"
need_tools sg_persist sg_turs
: "${SHIM_PROBE:?}"
T="timeout -k 5 30"
msg_count() { grep -c '^prsim-shim:' <<<"$1"; }

# 1. No daemon at all: open fails ENXIO, one message, fast.
out=$($T "$PRSIM_RUN" --socket "$TDIR/nobody.sock" -- sg_persist -n -i -k /dev/prsim/sda 2>&1); rc=$?
{ [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$(msg_count "$out")" -eq 1 ] &&
    grep -q "cannot reach prsim at $TDIR/nobody.sock" <<<"$out" &&
    grep -q "No such device or address" <<<"$out"; } && ok || { bad "no daemon: rc=$rc"; echo "$out"; }
# Many opens in one process still give one message.
out=$($T "$PRSIM_RUN" --socket "$TDIR/nobody.sock" -- python3 -c '
import os
for i in range(20):
    try:
        os.open("/dev/prsim/sg%d" % i, os.O_RDWR)
    except OSError as e:
        assert e.errno == 6, e
print("20 x ENXIO")' 2>&1); rc=$?
{ [ "$rc" -eq 0 ] && [ "$(msg_count "$out")" -eq 1 ] && grep -q '20 x ENXIO' <<<"$out"; } && ok ||
    { bad "20 opens: rc=$rc"; echo "$out"; }
# Without PRSIM_SOCKET the shim says so, once.
out=$(env LD_PRELOAD="$(dirname "$PRSIM_RUN")/libprinterpose.so" $T sg_turs /dev/prsim/sg0 2>&1); rc=$?
{ [ "$rc" -ne 0 ] && [ "$(msg_count "$out")" -eq 1 ] && grep -q 'PRSIM_SOCKET is not set' <<<"$out"; } &&
    ok || { bad "no PRSIM_SOCKET: rc=$rc"; echo "$out"; }

# 2. The daemon dies while a process holds a device open: its next SG_IO ends at once with
#    DID_NO_CONNECT, its next open with ENXIO.
start_prsim --luns 4
A "$SHIM_PROBE" hold /dev/prsim/sg0 "$TDIR/ready" "$TDIR/go" >"$TDIR/hold.out" 2>&1 &
hpid=$!
for _ in $(seq 400); do [ -e "$TDIR/ready" ] && break; sleep 0.05; done
[ -e "$TDIR/ready" ] || { bad "the holder never opened /dev/prsim/sg0"; cat "$TDIR/hold.out"; }
stop_prsim
touch "$TDIR/go"
timeout 30 tail --pid=$hpid -f /dev/null
wait $hpid; rc=$?
out=$(cat "$TDIR/hold.out")
# "At once": under 10 s (the command's own timeout is 30 s), slack for a loaded machine.
{ [ "$rc" -eq 0 ] && grep -qE '^host=0x01 status=0x00 ok=0 ms=[0-9]{1,4}$' <<<"$out" &&
    [ "$(msg_count "$out")" -eq 1 ] && grep -q 'lost the connection to prsim' <<<"$out"; } && ok ||
    { bad "prsim killed under an open device: rc=$rc"; echo "$out"; }

# 3. A stopped daemon (SIGSTOP): the connection's HELLO times out (PRSIM_CONNECT_TIMEOUT_MS,
#    2 s by default) and open fails ENXIO.
start_prsim --luns 4
kill -STOP "$SPID"
t0=$(date +%s%N)
out=$($T "$PRSIM_RUN" --socket "$SOCK" -- sg_turs /dev/prsim/sg0 2>&1); rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$SPID"
{ [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$ms" -lt 20000 ] && [ "$(msg_count "$out")" -eq 1 ] &&
    grep -q 'no HELLO_ACK' <<<"$out"; } && ok || { bad "stopped prsim: rc=$rc after ${ms} ms"; echo "$out"; }

# 4. A lost path (prsim holds the commands): SG_IO ends at its timeout (capped by
#    PRSIM_TIMEOUT_MS) with DID_TIME_OUT, as the midlayer's error handler reports it; the held
#    command is aborted at prsim.
"$PRSIM" ctl --socket "$SOCK" fault arm 'lost_path,luns=1' >/dev/null
t0=$(date +%s%N)
out=$($T "$PRSIM_RUN" --socket "$SOCK" --timeout-ms 300 -- sg_turs /dev/prsim/sg1 2>&1); rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
{ [ "$rc" -ne 124 ] && [ "$ms" -lt 20000 ] && grep -q 'Host_status=0x03 \[DID_TIME_OUT\]' <<<"$out"; } &&
    ok || { bad "lost path: rc=$rc after ${ms} ms"; echo "$out"; }
# Block-device I/O on the lost path: EIO after the timeout.
out=$($T "$PRSIM_RUN" --socket "$SOCK" --timeout-ms 300 -- dd if=/dev/prsim/sdb of=/dev/null bs=512 count=1 status=none 2>&1); rc=$?
{ [ "$rc" -eq 1 ] && grep -q 'Input/output error' <<<"$out"; } && ok || { bad "lost path read: rc=$rc"; echo "$out"; }
"$PRSIM" ctl --socket "$SOCK" fault disarm all >/dev/null
# Other LUs were not affected, and the same LU answers again once the fault is gone.
expect_re after_lost_path 0 '^$' -- A sg_turs /dev/prsim/sg1
finish
