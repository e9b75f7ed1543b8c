#!/bin/bash
# SPDX-License-Identifier: MIT
# Guest side of tests/vm/bench/start.sh: fencing every LU (READ KEYS, PREEMPT AND ABORT, READ RESERVATION
# per LU; B fences A's Exclusive Access reservation) as whole processes, three ways, in one boot:
#   direct       prfence fence on B's sd nodes: resolves and opens every device, then the batch
#   daemon       prfence --daemon fence GROUP: prfenced holds B's sd nodes resolved and open
#   sg_persist   a shell loop of sg_persist, three processes per LU (once: minutes under TCG)
# Between runs the LUs are re-armed (A registers, B releases, A reserves EA) and checked afterwards (B
# holds every LU, A's key is gone). wall = bash's clock around the process (EPOCHREALTIME, no fork).
# For direct mode the JSON summary splits the process: resolve_ms (naming the devices through sysfs),
# open_ms (opening their sg nodes), wall_ms (the batch).
# Argument: REPS (default 5); the table gives medians. Writes $PRFENCE_VM_OUT/start-<series>-<N>luns.txt
# and, when the image has strace, start-strace-<series>-<N>luns.txt (system calls of one direct fence,
# untimed). Exit 1 when direct mode is below 100x or the daemon below 200x the sg_persist loop.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

command -v prfence >/dev/null || skip "no prfence in this image (set PRFENCE_VM_BINARIES)"
command -v prfenced >/dev/null || skip "no prfenced in this image (set PRFENCE_VM_BINARIES)"
REPS=${1:-5}
# shellcheck disable=SC2034  # read by lib.sh's run
QUIET=1
BASE=$PRFENCE_VM_OUT/start-$KSERIES-${N}luns
log "$N LUs, $REPS runs per prfence mode (kernel $(uname -r), $(nproc) CPUs, TCG)"

expect_pj() {
    local want=$1
    shift
    pj "$1" --timeout 5000 "${@:2}"
    [ "$RC" -eq "$want" ] || { show_last; fail "expected exit $want from prfence $*"; }
    if [ "$want" -eq 0 ] && [ "${J[summary.ok]:-}" != "$N" ]; then
        show_last
        fail "prfence $1: summary ok ${J[summary.ok]:-?}, want $N"
    fi
}
all_field() {
    local i
    for ((i = 0; i < N; i++)); do
        [ "${J[luns.$i.$1]:-}" = "$2" ] || { show_last; fail "LUN ${J[luns.$i.device]:-#$i}: $1=${J[luns.$i.$1]:-} (want $2)"; }
    done
}
arm() {
    expect_pj 0 register --key $KEY_A --ignore-existing "${A_SDS[@]}"
    expect_pj 0 release --key $KEY_B --type 3 "${B_SDS[@]}"
    expect_pj 0 reserve --key $KEY_A --type 3 "${A_SDS[@]}"
    expect_pj 0 reservation "${B_SDS[@]}"
    all_field reservation.key "0x$KEY_A"
}
check_fenced() {
    expect_pj 0 keys "${B_SDS[@]}"
    all_field keys.0 "0x$KEY_B"
    [ -z "${J[luns.0.keys.1]:-}" ] || fail "$1: A is still registered on ${J[luns.0.device]}"
    expect_pj 0 reservation "${B_SDS[@]}"
    all_field reservation.key "0x$KEY_B"
}
ms_since() { T_MS=$(awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'); }

# A clean start: A registers and clears; B registers.
expect_pj 0 register --key feedf00d --ignore-existing "${A_SDS[@]}"
expect_pj 0 clear --key feedf00d "${A_SDS[@]}"
expect_pj 0 keys "${B_SDS[@]}"
expect_pj 0 register --key $KEY_B "${B_SDS[@]}"

SOCK=/run/prfenced-start.sock
prfenced --socket "$SOCK" >/tmp/prfenced.log 2>&1 &
DPID=$!
trap 'kill $DPID 2>/dev/null || true' EXIT
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat /tmp/prfenced.log; fail "prfenced did not start"; }
run prfence --daemon="$SOCK" group create nodeB --key $KEY_B "${B_SDS[@]}"
[ "$RC" -eq 0 ] || { show_last; fail "group create"; }

declare -A WALL=() RESOLVE=() OPEN=() BATCH=()
METHODS=(direct daemon)
# An older build to compare in the same boot, if the image has one (start.sh: PRFENCE_BENCH_BASE).
command -v prfence-base >/dev/null && METHODS=(direct-base direct daemon)
run_direct() { # METHOD BINARY
    arm
    local t0=$EPOCHREALTIME k v
    set +e
    OUT=$("$2" fence --timeout 5000 --key $KEY_B --victim $KEY_A --type 3 "${B_SDS[@]}" --json 2>&1)
    RC=$?
    set -e
    ms_since "$t0"
    J=()
    while IFS='=' read -r k v; do J[$k]=$v; done < <(json_flat <<<"$OUT")
    [ "$RC" -eq 0 ] && [ "${J[summary.ok]}" = "$N" ] || { show_last; fail "$1 fence: exit $RC, ${J[summary.ok]:-?} of $N ok"; }
    WALL[$1]+="$T_MS " RESOLVE[$1]+="${J[summary.resolve_ms]} " OPEN[$1]+="${J[summary.open_ms]} " BATCH[$1]+="${J[summary.wall_ms]} "
    log "round $r: $1 $T_MS ms (resolve ${J[summary.resolve_ms]} ms, open ${J[summary.open_ms]} ms, batch ${J[summary.wall_ms]} ms)"
    check_fenced "$1"
}
run_daemon() {
    arm
    local t0=$EPOCHREALTIME
    run prfence --daemon="$SOCK" fence --victim $KEY_A --type 3 -q nodeB
    ms_since "$t0"
    [ "$RC" -eq 0 ] || { show_last; fail "daemon fence: exit $RC"; }
    WALL[daemon]+="$T_MS "
    log "round $r: daemon $T_MS ms"
    check_fenced daemon
}
for ((r = 1; r <= REPS; r++)); do
    for m in "${METHODS[@]}"; do
        case $m in
            direct-base) run_direct "$m" prfence-base ;;
            direct) run_direct "$m" prfence ;;
            daemon) run_daemon ;;
        esac
    done
done

arm
t0=$EPOCHREALTIME
for L in "${LUNS[@]}"; do
    lu "$L"
    run sg_persist -n --read-keys "$B_SG"
    [ "$RC" -eq 0 ] || { show_last; fail "sg_persist --read-keys LU $L: exit $RC"; }
    run sg_persist -n --out --preempt-abort --param-rk=$KEY_B --param-sark=$KEY_A --prout-type=3 "$B_SG"
    [ "$RC" -eq 0 ] || { show_last; fail "sg_persist --preempt-abort LU $L: exit $RC"; }
    run sg_persist -n --read-reservation "$B_SG"
    [ "$RC" -eq 0 ] || { show_last; fail "sg_persist --read-reservation LU $L: exit $RC"; }
done
ms_since "$t0"
WALL[sg_persist]=$T_MS
check_fenced sg_persist

STRACE=""
if command -v strace >/dev/null; then
    arm
    strace -f -c -o "$BASE-strace.tmp" prfence fence --timeout 5000 --key $KEY_B --victim $KEY_A --type 3 "${B_SDS[@]}" -q >/dev/null 2>&1 || true
    STRACE="$PRFENCE_VM_OUT/start-strace-$KSERIES-${N}luns.txt"
    mv "$BASE-strace.tmp" "$STRACE"
fi
t0=$EPOCHREALTIME
prfence --help >/dev/null
ms_since "$t0"
HELP=$T_MS

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
declare -A MED=() X=()
for m in "${METHODS[@]}"; do
    MED[$m]=$(median "${WALL[$m]}")
    X[$m]=$(ratio "${WALL[sg_persist]}" "${MED[$m]}")
done
{
    echo "# fence of $N LUs as whole processes; kernel $(uname -r), TCG, $(nproc) CPUs; median of $REPS (sg_persist: 1)"
    printf '%-11s %10s %8s  %s\n' method wall_ms x_sgp runs_ms
    for m in "${METHODS[@]}"; do printf '%-11s %10s %8s  %s\n' "$m" "${MED[$m]}" "${X[$m]}" "${WALL[$m]}"; done
    printf '%-11s %10s %8s  %s\n' sg_persist "${WALL[sg_persist]}" 1 "$((3 * N)) processes"
    for m in "${METHODS[@]}"; do
        [ "$m" = daemon ] && continue
        echo "# $m medians: resolve $(median "${RESOLVE[$m]}") ms, open $(median "${OPEN[$m]}") ms, batch $(median "${BATCH[$m]}") ms;" \
            "runs: resolve_ms ${RESOLVE[$m]}; open_ms ${OPEN[$m]}; batch wall_ms ${BATCH[$m]}"
    done
    echo "# prfence --help: $HELP ms"
    [ -n "$STRACE" ] && echo "# system calls of one direct fence: $(basename "$STRACE")"
} | tee "$BASE.txt"

expect_pj 0 clear --key $KEY_B "${B_SDS[@]}"
expect_pj 0 keys "${A_SDS[@]}"

verdict=0
for m in direct daemon; do
    want=100
    [ "$m" = daemon ] && want=200
    if awk -v x="${X[$m]}" -v w=$want 'BEGIN { exit !(x >= w) }'; then log "$m: ${X[$m]}x the sg_persist loop (>= ${want}x): ok"
    else log "$m: ${X[$m]}x the sg_persist loop, NOT >= ${want}x"; verdict=1; fi
done
exit $verdict
