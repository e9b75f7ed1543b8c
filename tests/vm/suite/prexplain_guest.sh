#!/bin/bash
# prexplain on the real kernel: the kernel's own conflict lines, read from dmesg, explained by
# asking the LUs through the kernel's sg driver.
#   1. A registers and reserves EA on every LU, B registers; B's reads fail; `dmesg | prexplain --key B`
#      says RESERVED_BY_OTHER naming A's key on every LU (exit 24);
#   2. B fences A; A's reads fail; `dmesg | prexplain --key A` says FENCED naming B's key on every LU;
#   3. prexplain --kmsg (live) sees a new conflict of A's and says FENCED; --no-query over the same
#      lines needs no device at all;
#   4. prexplain --trace (live, its own tracefs instance) does the same from scsi_dispatch_cmd_done and
#      block_rq_complete, and removes its instance when stopped.
# Ends with every LU clean.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

command -v prfence >/dev/null || skip "no prfence in this image (set PRFENCE_VM_BINARIES)"
command -v prexplain >/dev/null || skip "no prexplain in this image (set PRFENCE_VM_BINARIES)"
log "$N LUs; node A ${A_SDS[0]}.., node B ${B_SDS[0]}.."

expect_pj 0 register --key feedf00d --ignore-existing "${A_SDS[@]}"
expect_pj 0 clear --key feedf00d "${A_SDS[@]}"
expect_pj 0 keys "${B_SDS[@]}"
expect_pj 0 register --key $KEY_A "${A_SDS[@]}"
expect_pj 0 reserve --key $KEY_A --type 3 "${A_SDS[@]}"
expect_pj 0 register --key $KEY_B "${B_SDS[@]}"

count_lines() { grep -c "$1" <<<"$OUT" || true; }

log "1. B reads every LU under A's Exclusive Access reservation"
dmesg_mark
for sd in "${B_SDS[@]}"; do
    read_block "$sd"
    [ "$RC" -ne 0 ] || fail "B read $sd under A's EA reservation"
done
set +e
OUT=$(dmesg | tail -n +$((DMESG_MARK + 1)) | prexplain --key $KEY_B - 2>&1)
RC=$?
set -e
[ "$RC" -eq 24 ] || { show_last; fail "prexplain exit $RC (want 24)"; }
n=$(count_lines "RESERVED_BY_OTHER.*0x$KEY_A")
[ "$n" -eq "$N" ] || { show_last; fail "RESERVED_BY_OTHER naming 0x$KEY_A on $n of $N LUs"; }
log "  RESERVED_BY_OTHER naming 0x$KEY_A on all $N LUs; e.g. $(head -1 <<<"$OUT")"

log "2. B fences A; A reads every LU"
expect_pj 0 fence --key $KEY_B --victim $KEY_A --type 3 "${B_SDS[@]}"
expect_pj 0 keys "${A_SDS[@]}"   # A's nexus: the unit attention of the preemption, absorbed
dmesg_mark
for sd in "${A_SDS[@]}"; do
    read_block "$sd"
    [ "$RC" -ne 0 ] || fail "A read $sd after being fenced"
done
set +e
OUT=$(dmesg | tail -n +$((DMESG_MARK + 1)) | prexplain --key $KEY_A --json - 2>&1)
RC=$?
set -e
[ "$RC" -eq 24 ] || { show_last; fail "prexplain exit $RC (want 24)"; }
n=$(count_lines "\"class\":\"FENCED\".*\"holder_key\":\"0x$KEY_B\"")
[ "$n" -eq "$N" ] || { show_last; fail "FENCED with holder 0x$KEY_B on $n of $N LUs"; }
log "  FENCED, holder 0x$KEY_B, on all $N LUs"

set +e
OUT=$(dmesg | tail -n +$((DMESG_MARK + 1)) | prexplain --no-query - 2>&1)
RC=$?
set -e
[ "$RC" -eq 24 ] || { show_last; fail "prexplain --no-query exit $RC (want 24)"; }

log "3. live: prexplain --kmsg sees A's next conflict"
prexplain --kmsg --key $KEY_A --json >/tmp/kmsg.json 2>/tmp/kmsg.err &
xpid=$!
# prexplain starts reading at the end of /dev/kmsg, and nothing says when it has got there (an ASan
# build under TCG takes seconds): A reads again every 2 s until the event shows, 30 s at most.
seen_within() {  # seen_within FILE SD: A's reads of SD conflict until FILE reports FENCED
    local _ i
    for _ in $(seq 15); do
        read_block "$2"
        for i in $(seq 20); do grep -q FENCED "$1" 2>/dev/null && return 0; sleep 0.1; done
    done
    return 1
}
seen_within /tmp/kmsg.json "${A_SDS[0]}" || true
kill $xpid 2>/dev/null || true
wait $xpid 2>/dev/null || true
grep -q "\"class\":\"FENCED\"" /tmp/kmsg.json || { cat /tmp/kmsg.json /tmp/kmsg.err; fail "prexplain --kmsg saw no FENCED event"; }
log "  $(head -c 300 /tmp/kmsg.json)"

log "4. live: prexplain --trace (its own tracefs instance) sees A's next conflict, and removes the instance"
TRACEFS=/sys/kernel/tracing
[ -d $TRACEFS/instances ] || TRACEFS=/sys/kernel/debug/tracing
before=$(ls $TRACEFS/instances 2>/dev/null | wc -l)
prexplain --trace --key $KEY_A --json >/tmp/trace.json 2>/tmp/trace.err &
xpid=$!
appeared=0
for _ in $(seq 300); do
    [ "$(ls $TRACEFS/instances 2>/dev/null | wc -l)" -gt "$before" ] && { appeared=1; break; }
    sleep 0.1
done
[ "$appeared" -eq 1 ] || { kill $xpid 2>/dev/null || true; cat /tmp/trace.err; fail "prexplain --trace made no tracefs instance in 30 s"; }
seen_within /tmp/trace.json "${A_SDS[1]}" || true
kill $xpid 2>/dev/null || true
wait $xpid 2>/dev/null || true
grep -q "\"class\":\"FENCED\"" /tmp/trace.json || { cat /tmp/trace.json /tmp/trace.err; fail "prexplain --trace saw no FENCED event"; }
after=$(ls $TRACEFS/instances 2>/dev/null | wc -l)
[ "$after" -eq "$before" ] || fail "prexplain left its tracefs instance behind ($(ls $TRACEFS/instances))"
log "  $(head -c 300 /tmp/trace.json)"

log "clean-up: B clears every LU"
expect_pj 0 clear --key $KEY_B "${B_SDS[@]}"
expect_pj 0 keys "${A_SDS[@]}"
log "ok"
