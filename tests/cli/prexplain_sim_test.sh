#!/usr/bin/env bash
# prexplain asking real (prsim) LUNs, the issue's two scenarios on a farm of 8 LUs with prsim's kernel-format
# trace as the log: B hitting A's reservation is RESERVED_BY_OTHER naming A's key; after B fences A, A's
# commands are FENCED naming B's key. Also --follow on a log that grows while it is read (live mode) and
# --on-fenced once per LU.
# Usage: prexplain_sim_test.sh PREXPLAIN PRFENCE PRSIM
set -u
X=$1 P=$2 S=$3
dir=$(mktemp -d)
sock=$dir/prsim.sock trace=$dir/trace.txt
"$S" --socket "$sock" --luns 8 --trace "$trace" >"$dir/prsim.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "prsim did not start in 20 s:"; cat "$dir/prsim.log"; exit 1; }
A=(--initiator "iqn.2026-11.io.prfence:node-a,i,0x1" --target-port 1)
B=(--initiator "iqn.2026-11.io.prfence:node-b,i,0x2" --target-port 2)
ALL=sim:$sock:0-7
fails=0 passes=0
ok() { passes=$((passes+1)); }
bad() { echo "FAIL $1"; shift; printf '    %s\n' "$@" | head -20; fails=$((fails+1)); }

"$P" register "${A[@]}" --key abc123 -q "$ALL" >/dev/null && "$P" reserve "${A[@]}" --key abc123 --type EA -q "$ALL" >/dev/null &&
    "$P" register "${B[@]}" --key 123abc -q "$ALL" >/dev/null || bad setup "prfence could not set up the farm"
# B tries to take the LUs while A holds them: conflicts in the trace.
"$P" reserve "${B[@]}" --key 123abc --type EA -q "$ALL" >/dev/null 2>&1
out=$("$X" --key 123abc --sim "$sock" "${B[@]}" "$trace" 2>&1); rc=$?
n=$(grep -c 'RESERVED_BY_OTHER.*0xabc123' <<<"$out")
if [ "$rc" -eq 24 ] && [ "$n" -eq 8 ]; then ok; else bad reserved_by_other "rc=$rc, $n of 8 lines" "$out"; fi

# B fences A; A's next commands conflict.
"$P" fence "${B[@]}" --key 123abc --victim abc123 --type EA -q "$ALL" >/dev/null || bad fence "prfence fence failed"
: >"$trace.a"
before=$(wc -l <"$trace")
"$P" reserve "${A[@]}" --key abc123 --type EA -q "$ALL" >/dev/null 2>&1
tail -n +"$((before + 1))" "$trace" >"$trace.a"
out=$("$X" --key abc123 --sim "$sock" "${A[@]}" --json "$trace.a" 2>&1); rc=$?
n=$(grep -c '"class":"FENCED".*"holder_key":"0x123abc"' <<<"$out")
if [ "$rc" -eq 24 ] && [ "$n" -eq 8 ]; then ok; else bad fenced "rc=$rc, $n of 8 lines" "$out"; fi

# Live: --follow a log that grows while prexplain reads it. It starts empty; A's conflicts on LUs 0-3 are
# appended, and once prexplain has reported those, A's conflicts on LUs 4-7: events for 4-7 can only come
# from following the file. The hook runs once per LU.
hooks=$dir/hooks.txt live=$dir/live.txt
: >"$live"
"$X" --key abc123 --sim "$sock" "${A[@]}" --json --follow "$live" \
    --on-fenced "echo \$PREXPLAIN_DEVICE >>$hooks" >"$dir/live.json" 2>"$dir/live.err" &
xpid=$!
append_conflicts() {  # append_conflicts RANGE: A's RESERVE on RANGE, its trace lines appended to $live
    local before
    before=$(wc -l <"$trace")
    "$P" reserve "${A[@]}" --key abc123 --type EA -q "sim:$sock:$1" >/dev/null 2>&1
    tail -n +"$((before + 1))" "$trace" >>"$live"
}
wait_fenced() {  # wait_fenced N: until N first (not update) FENCED events, 20 s at most
    for _ in $(seq 200); do
        [ "$(grep -c '"class":"FENCED".*"update":false' "$dir/live.json" 2>/dev/null)" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
append_conflicts 0-3
wait_fenced 4
n1=$(grep -c '"class":"FENCED".*"update":false' "$dir/live.json")
append_conflicts 4-7
wait_fenced 8
kill $xpid 2>/dev/null; wait $xpid 2>/dev/null
n=$(grep -c '"class":"FENCED".*"update":false' "$dir/live.json")
late=$(grep '"class":"FENCED".*"update":false' "$dir/live.json" | grep -c '"hctl":"[0-9]*:[0-9]*:[0-9]*:[4-7]"')
h=$(sort -u "$hooks" 2>/dev/null | grep -c .)
hl=$(grep -c . "$hooks" 2>/dev/null)
if [ "$n1" -eq 4 ] && [ "$n" -eq 8 ] && [ "$late" -eq 4 ] && [ "$h" -eq 8 ] && [ "$hl" -eq 8 ]; then ok; else
    bad live "first events $n1 before the log grew (want 4), $n in all (want 8), $late of LUs 4-7 (want 4); hook LUs $h lines $hl (want 8, 8)" \
        "$(cat "$dir/live.json" "$dir/live.err")"
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
