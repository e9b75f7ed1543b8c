# shellcheck shell=bash
# Shared by the CLI tests that run their own prsim: a temporary directory ($dir) removed on exit with
# the daemon, the daemon on $dir/prsim.sock ($sock), node A's prfence options ($A), and pass/fail
# counting. Needs S (the prsim binary) set before start_prsim is called.
set -u
dir=$(mktemp -d)
sock=$dir/prsim.sock
spid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# shellcheck disable=SC2034  # read by the tests
A=(--initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1)

start_prsim() {  # start_prsim ARGS...: a fresh daemon on $sock, answering, or the test ends here
    # A prsim killed with SIGKILL leaves its socket file: the file alone does not say the new one is up.
    rm -f "$sock"
    "$S" --socket "$sock" "$@" >"$dir/prsim.log" 2>&1 &
    spid=$!
    local _
    for _ in $(seq 400); do
        [ -S "$sock" ] && "$S" ctl --socket "$sock" stats >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "prsim did not start:"; cat "$dir/prsim.log"; exit 1
}
stop_prsim() { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; spid=; }

finish() {  # the closing line, and the exit status
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}
