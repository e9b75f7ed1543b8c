#!/usr/bin/env bash
# prexplain asking real (prsim) LUNs, the issue's two scenarios on a farm of 8 LUs with prsim's kernel-format
# trace as the log: B hitting A's reservation is RESERVED_BY_OTHER naming A's key; after B fences A, A's
# commands are FENCED naming B's key. Also --follow on the growing trace (live mode) and --on-fenced once
# per LU.
# Usage: prexplain_sim_test.sh PREXPLAIN PRFENCE PRSIM
set -u
X=$1 P=$2 S=$3
dir=$(mktemp -d)
sock=$dir/prsim.sock trace=$dir/trace.txt
"$S" --socket "$sock" --luns 8 --trace "$trace" >"$dir/prsim.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
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

# Live: follow the trace while A keeps failing; the hook runs once per LU.
hooks=$dir/hooks.txt
"$X" --key abc123 --sim "$sock" "${A[@]}" --json --follow "$trace" \
    --on-fenced "echo \$PREXPLAIN_DEVICE >>$hooks" >"$dir/live.json" 2>"$dir/live.err" &
xpid=$!
sleep 0.5
"$P" reserve "${A[@]}" --key abc123 --type EA -q "$ALL" >/dev/null 2>&1
"$P" reserve "${A[@]}" --key abc123 --type EA -q "$ALL" >/dev/null 2>&1
for _ in $(seq 50); do [ "$(grep -c FENCED "$dir/live.json" 2>/dev/null)" -ge 8 ] && break; sleep 0.1; done
kill $xpid 2>/dev/null; wait $xpid 2>/dev/null
n=$(grep -c '"class":"FENCED"' "$dir/live.json")
h=$(sort -u "$hooks" 2>/dev/null | grep -c .)
hl=$(grep -c . "$hooks" 2>/dev/null)
if [ "$n" -ge 8 ] && [ "$h" -eq 8 ] && [ "$hl" -eq 8 ]; then ok; else bad live "events $n (want >= 8), hook LUs $h lines $hl (want 8, 8)" "$(cat "$dir/live.json" "$dir/live.err")"; fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
