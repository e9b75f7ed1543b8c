#!/usr/bin/env bash
# tools/quickstart.sh end to end on binaries already built (PRFENCE_BIN_DIR), checking its claims: every LU
# fenced in one batch, A's I/O working before and refused after, prexplain classifying every LU FENCED by
# B's key, the NVMe part (a mixed batch of LUs and namespaces fenced, a namespace's registrants by host
# identifier, nvme-cli reading every namespace back through prsim-run with the same holder), the
# one-at-a-time comparison measured, and nothing left running or on disk afterwards; then the same
# cleanup when the demo is interrupted halfway (SIGTERM: a background job ignores SIGINT).
# Exits 77 (skip) when everything else passed but sg_persist or nvme-cli is not installed, so its part
# was not checked.
# Usage: quickstart_test.sh SOURCE_DIR BUILD_DIR
set -u
SRC=$1 B=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fails=0 passes=0
ok() { passes=$((passes+1)); }
bad() { echo "FAIL $1"; fails=$((fails+1)); }
leftovers() {  # processes or files of a quickstart run
    pgrep -af 'prfence-quickstart\.' | grep -v -e pgrep -e quickstart_test || true
    ls -d /tmp/prfence-quickstart.* 2>/dev/null || true
}
before=$(leftovers)
start=$(date +%s)
PRFENCE_BIN_DIR=$B timeout 300 "$SRC/tools/quickstart.sh" >"$out" 2>&1; rc=$?
took=$(($(date +%s) - start))
expect() {  # expect NAME REGEX
    if grep -qE -- "$2" "$out"; then ok; else bad "$1: no line matching $2"; fi
}
[ "$rc" -eq 0 ] && ok || bad "quickstart exit status $rc"
expect groups 'nodeB: 256 LUNs, 256 paths open.*key 0x123abc'
expect reserved '^reserve: 256 LUNs, 256 ok, 0 failed'
expect io_works '^probe: 256 LUNs, 256 ok, 0 failed'
expect fenced '^fence: 256 LUs, 256 ok, 0 failed in [0-9.]+ ms \(768 commands; per command p50'
expect holder 'reserved by 0x123abc EA'
expect io_refused '^probe: 256 LUNs, 0 ok, 256 failed'
expect exit24 '^\(exit 24'
expect explained '256 of 256 LUs: FENCED by 0x123abc; classes seen: \{.FENCED.: 256\}'
expect first_event 'READ_10: FENCED \(our key 0xabc123, group nodeA; holder 0x123abc EA\)'
# NVMe: A back on LUs 0-3 and the namespaces, B fences both kinds in one batch.
expect nvme_register '^register: 8 LUNs, 8 ok, 0 failed'
expect nvme_fence '^fence: 8 LUNs, 8 ok, 0 failed in [0-9.]+ ms \(24 commands'
expect nvme_fence_lu 'prsim\.sock:3 +ok .*reserved by 0x123abc EA'
expect nvme_fence_ns 'prsim\.sock:ns4 +ok .*reserved by 0x123abc EA'
expect nvme_status 'prsim\.sock:ns1 +ok .*1 registrant\(s\), generation 3; 0x123abc holder EA hostid [0-9a-f]{32}$'
expect batch_row 'prfence via prfenced, one batch +[0-9.]+ ms +1\.0x'
expect serial_row 'one command at a time \(--qd 1\) +[0-9.]+ ms +[0-9.]+x'
skipped=
if ! command -v nvme >/dev/null; then
    skipped="nvme-cli not installed (tools/deps.sh test set): the NVMe read-back was not checked"
    expect nvme_cli_absent 'nvme-cli is not installed here'
elif [ ! -x "$B/interposer/prsim-run" ]; then
    bad "no prsim-run in $B/interposer: the nvme-cli read-back cannot run"
else
    # nvme-cli, as node A, sees B's host (the one prfence status named) holding every namespace.
    hid=$(sed -nE 's/.*prsim\.sock:ns1 +ok .*hostid ([0-9a-f]{8}).*/\1/p' "$out")
    n=$(grep -cE "^  nvme0n[1-4]: generation 3, rtype 2 \(EA\), 1 registrant\(s\): 0x123abc host ${hid:-none}\.\.\. holding$" "$out")
    [ "$n" -eq 4 ] && ok || bad "nvme-cli read-back: $n of 4 namespaces with B's host ${hid:-?} holding"
fi
if ! command -v sg_persist >/dev/null; then
    skipped="${skipped:+$skipped; }sg_persist not installed (tools/deps.sh test set): its row of the comparison was not checked"
elif [ ! -x "$B/interposer/prsim-run" ]; then
    bad "no prsim-run in $B/interposer: the sg_persist row cannot run"
else
    expect loop_row 'a loop of sg_persist processes \(3 per LU\) +[0-9.]+ ms +[0-9.]+x'
    if grep -q 'sg_persist commands failed' "$out"; then bad "sg_persist loop had failures"; else ok; fi
fi
# The one-at-a-time run must really be slower than the batch (measured, not assumed).
ratio=$(sed -nE 's/.*one command at a time \(--qd 1\) +[0-9.]+ ms +([0-9.]+)x.*/\1/p' "$out")
if awk -v r="$ratio" 'BEGIN { exit !(r > 3) }'; then ok; else bad "one at a time only ${ratio}x the batch"; fi
[ "$(leftovers)" = "$before" ] && ok || bad "left behind: $(leftovers)"
echo "quickstart took ${took}s"

# Interrupted halfway: everything it started is still cleaned up.
PRFENCE_BIN_DIR=$B "$SRC/tools/quickstart.sh" >"$out" 2>&1 &
qpid=$!
for _ in $(seq 200); do grep -q 'node B registers' "$out" && break; sleep 0.1; done
kill -TERM $qpid
wait $qpid; rc=$?
[ "$rc" -ne 0 ] && ok || bad "interrupted quickstart exited 0"
# Its children may take a moment to go; 10 s at most.
for _ in $(seq 100); do [ "$(leftovers)" = "$before" ] && break; sleep 0.1; done
[ "$(leftovers)" = "$before" ] && ok || bad "left behind after SIGTERM: $(leftovers)"
if [ "$fails" -ne 0 ]; then echo "--- quickstart output"; cat "$out"; fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ] || exit 1
if [ -n "$skipped" ]; then echo "SKIP: $skipped"; exit 77; fi
