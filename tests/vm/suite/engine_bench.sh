#!/bin/bash
# The engine's numbers: fencing every LU (READ KEYS, PREEMPT AND ABORT, READ RESERVATION per LU, B fencing
# A's Exclusive Access reservation) four ways, on the same LUs and the same nexuses:
#   prfence        prfence fence, one batch over io_uring (B's sd nodes)
#   prfence-sg     the same on B's sg nodes
#   prfence-sgio   prfence fence --transport sgio (SG_IO thread pool, B's sg nodes)
#   sgio_loop      tests/vm/bench/sgio_loop.c: plain sequential ioctl(SG_IO), one command at a time
#   sg_persist     a shell loop of sg_persist, three processes per LU
# Between runs the LUs are re-armed: A registers again, B releases, A reserves (EA), and it is checked.
# Each method runs REPS times (argument 1, default 3; sg_persist once: it takes minutes under TCG);
# the table gives the median. wall = the caller's clock around the process (process start included,
# EPOCHREALTIME, no fork); internal = the tool's own clock (prfence's summary.wall_ms, sgio_loop's line).
# Writes $PRFENCE_VM_OUT/engine-bench-<series>-<N>luns.json (and .txt, and one prfence run's JSON).
# Not in all.sh: run it explicitly (tests/vm/bench/run.sh). Exit 1 if prfence is not at least 100x
# faster than the sg_persist loop or is slower than the SG_IO loop.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

command -v prfence >/dev/null || skip "no prfence in this image (set PRFENCE_VM_BINARIES)"
command -v sgio_loop >/dev/null || skip "no sgio_loop in this image (tests/vm/bench/run.sh builds it)"
REPS=${1:-3}
# shellcheck disable=SC2034  # read by lib.sh's run
QUIET=1
BASE=$PRFENCE_VM_OUT/engine-bench-$KSERIES-${N}luns
log "$N LUs, $REPS runs per method (kernel $(uname -r), $(nproc) CPUs, TCG)"

expect_pj() {
    local want=$1
    shift
    pj "$1" --timeout 5000 "${@:2}"
    [ "$RC" -eq "$want" ] || { show_last; fail "expected exit $want from prfence $*"; }
    if [ "$want" -eq 0 ] && { [ "${J[summary.ok]:-}" != "$N" ] || [ "${J[summary.luns]:-}" != "$N" ]; }; then
        show_last
        fail "prfence $1: summary luns ${J[summary.luns]:-?} ok ${J[summary.ok]:-?}, want $N"
    fi
}

all_field() {
    local i
    for ((i = 0; i < N; i++)); do
        [ "${J[luns.$i.$1]:-}" = "$2" ] || { show_last; fail "LUN ${J[luns.$i.device]:-#$i}: $1=${J[luns.$i.$1]:-} (want $2)"; }
    done
}

# Clean, then A registers and reserves, B registers.
expect_pj 0 register --key feedf00d --ignore-existing "${A_SDS[@]}"
expect_pj 0 clear --key feedf00d "${A_SDS[@]}"
expect_pj 0 keys "${B_SDS[@]}"
expect_pj 0 register --key $KEY_B "${B_SDS[@]}"
arm() {
    expect_pj 0 register --key $KEY_A --ignore-existing "${A_SDS[@]}"
    expect_pj 0 release --key $KEY_B --type 3 "${B_SDS[@]}"
    expect_pj 0 reserve --key $KEY_A --type 3 "${A_SDS[@]}"
    expect_pj 0 reservation "${B_SDS[@]}"
    all_field reservation.key "0x$KEY_A"
}
# After a run: B holds every LU, A's key is gone.
check_fenced() {
    expect_pj 0 keys "${B_SDS[@]}"
    all_field keys.0 "0x$KEY_B"
    [ -z "${J[luns.0.keys.1]:-}" ] || fail "$1: A is still registered on ${J[luns.0.device]}"
    expect_pj 0 reservation "${B_SDS[@]}"
    all_field reservation.key "0x$KEY_B"
}

declare -A WALL=() INTERNAL=() NOTE=()
t_start() { T0=$EPOCHREALTIME; }
t_stop() { T_MS=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'); }

run_prfence() { # METHOD ARGS... (devices last)
    local m=$1
    shift
    t_start
    set +e
    OUT=$(prfence fence --timeout 5000 --key $KEY_B --victim $KEY_A --type 3 "$@" --json 2>&1)
    RC=$?
    set -e
    t_stop
    local k v
    J=()
    while IFS='=' read -r k v; do J[$k]=$v; done < <(json_flat <<<"$OUT")
    [ "$RC" -eq 0 ] || { show_last; fail "$m: exit $RC"; }
    [ "${J[summary.ok]}" = "$N" ] || { show_last; fail "$m: ${J[summary.ok]} of $N ok"; }
    WALL[$m]+="$T_MS " INTERNAL[$m]+="${J[summary.wall_ms]} "
    NOTE[$m]="command latency p50 ${J[summary.p50_us]} us, p99 ${J[summary.p99_us]} us, max ${J[summary.max_us]} us per command, per LU ${J[luns.0.latency_us]} us (first LU); ${J[summary.commands]} commands, ${J[summary.retries]} retries; resolve ${J[summary.resolve_ms]} ms, open ${J[summary.open_ms]} ms"
    [ -e "$BASE-$m.json" ] || printf '%s\n' "$OUT" >"$BASE-$m.json"
    log "  $m: wall $T_MS ms, internal ${J[summary.wall_ms]} ms (${NOTE[$m]})"
}

run_sgio_loop() {
    t_start
    run sgio_loop -q --key $KEY_B --victim $KEY_A --type 3 "${B_SGS[@]}"
    t_stop
    [ "$RC" -eq 0 ] || { show_last; fail "sgio_loop: exit $RC"; }
    [[ $OUT =~ in\ ([0-9.]+)\ ms ]] || { show_last; fail "sgio_loop: no time in its output"; }
    WALL[sgio_loop]+="$T_MS " INTERNAL[sgio_loop]+="${BASH_REMATCH[1]} "
    NOTE[sgio_loop]=${OUT##*\(}
    NOTE[sgio_loop]=${NOTE[sgio_loop]%\)}
    log "  sgio_loop: wall $T_MS ms, internal ${BASH_REMATCH[1]} ms"
}

run_sg_persist() {
    local L
    t_start
    for L in "${LUNS[@]}"; do
        lu "$L"
        run sg_persist -n --read-keys "$B_SG"
        [ "$RC" -eq 0 ] || { show_last; fail "sg_persist --read-keys LU $L: exit $RC"; }
        run sg_persist -n --out --preempt-abort --param-rk=$KEY_B --param-sark=$KEY_A --prout-type=3 "$B_SG"
        [ "$RC" -eq 0 ] || { show_last; fail "sg_persist --preempt-abort LU $L: exit $RC"; }
        run sg_persist -n --read-reservation "$B_SG"
        [ "$RC" -eq 0 ] || { show_last; fail "sg_persist --read-reservation LU $L: exit $RC"; }
    done
    t_stop
    WALL[sg_persist]+="$T_MS " INTERNAL[sg_persist]+="- "
    NOTE[sg_persist]="$((3 * N)) sg_persist processes"
    log "  sg_persist: wall $T_MS ms"
}

METHODS=(prfence prfence-sg prfence-sgio sgio_loop sg_persist)
for ((r = 1; r <= REPS; r++)); do
    log "round $r"
    arm; run_prfence prfence "${B_SDS[@]}"; check_fenced prfence
    arm; run_prfence prfence-sg "${B_SGS[@]}"; check_fenced prfence-sg
    arm; run_prfence prfence-sgio --transport sgio "${B_SGS[@]}"; check_fenced prfence-sgio
    arm; run_sgio_loop; check_fenced sgio_loop
    if [ "$r" -eq 1 ]; then arm; run_sg_persist; check_fenced sg_persist; fi
done

# Where prfence's time outside the batch goes: a process that only starts (--help), and one that resolves
# all N devices (INQUIRY VPD 83h per device, opens) and sends one READ RESERVATION each.
t_start; prfence --help >/dev/null; t_stop; START_MS=$T_MS
t_start; QUIET=1 pj reservation "${B_SDS[@]}"; t_stop; RESV_MS=$T_MS
log "prfence --help: $START_MS ms; prfence reservation on $N LUs: $RESV_MS ms wall, ${J[summary.wall_ms]} ms internal"
NOTE[overhead]="prfence --help ${START_MS} ms wall; prfence reservation x$N ${RESV_MS} ms wall, ${J[summary.wall_ms]} ms internal"

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }
declare -A MW=() MI=()
for m in "${METHODS[@]}"; do
    MW[$m]=$(median "${WALL[$m]}")
    if [ "$m" = sg_persist ]; then MI[$m]=-; else MI[$m]=$(median "${INTERNAL[$m]}"); fi
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "-") printf "%.1f", a / b; else print "-" }'; }

{
    echo "# fence of $N LUs (READ KEYS, PREEMPT AND ABORT, READ RESERVATION each); kernel $(uname -r), TCG, $(nproc) CPUs"
    echo "# median of $REPS runs (sg_persist: 1); ms; x = sg_persist loop wall / this wall"
    printf '%-13s %10s %10s %8s  %s\n' method wall_ms internal_ms x_sgp runs_wall_ms
    for m in "${METHODS[@]}"; do
        printf '%-13s %10s %10s %8s  %s\n' "$m" "${MW[$m]}" "${MI[$m]}" "$(ratio "${MW[sg_persist]}" "${MW[$m]}")" "${WALL[$m]}"
    done
    for m in "${METHODS[@]}"; do echo "# $m: ${NOTE[$m]}"; done
    echo "# overhead: ${NOTE[overhead]}"
} | tee "$BASE.txt"

{
    echo "{"
    echo "  \"kernel\": \"$(uname -r)\", \"luns\": $N, \"reps\": $REPS, \"cpus\": $(nproc),"
    echo "  \"methods\": {"
    sep=""
    for m in "${METHODS[@]}"; do
        w=$(printf '%s' "${WALL[$m]}" | sed 's/ *$//; s/ /, /g')
        i=$(printf '%s' "${INTERNAL[$m]}" | sed 's/ *$//; s/ /, /g; s/-/null/g')
        printf '%s    "%s": {"wall_ms_median": %s, "internal_ms_median": %s, "wall_ms": [%s], "internal_ms": [%s], "note": "%s"}' \
            "$sep" "$m" "${MW[$m]}" "$([ "${MI[$m]}" = - ] && echo null || echo "${MI[$m]}")" "$w" "$i" "${NOTE[$m]}"
        sep=$',\n'
    done
    echo
    echo "  },"
    echo "  \"prfence_start_ms\": $START_MS, \"prfence_reservation_wall_ms\": $RESV_MS,"
    echo "  \"speedup_vs_sg_persist\": $(ratio "${MW[sg_persist]}" "${MW[prfence]}"),"
    echo "  \"speedup_vs_sgio_loop_wall\": $(ratio "${MW[sgio_loop]}" "${MW[prfence]}"),"
    echo "  \"speedup_vs_sgio_loop_internal\": $(ratio "${MI[sgio_loop]}" "${MI[prfence]}")"
    echo "}"
} >"$BASE.json"
log "wrote $BASE.json"

# Clean up: B clears; drain A's unit attention.
expect_pj 0 clear --key $KEY_B "${B_SDS[@]}"
expect_pj 0 keys "${A_SDS[@]}"

verdict=0
x=$(ratio "${MW[sg_persist]}" "${MW[prfence]}")
if awk -v x="$x" 'BEGIN { exit !(x >= 100) }'; then log "prfence vs sg_persist loop: ${x}x (>= 100x): ok"
else log "prfence vs sg_persist loop: ${x}x, NOT >= 100x"; verdict=1; fi
if awk -v a="${MI[prfence]}" -v b="${MI[sgio_loop]}" 'BEGIN { exit !(a <= b) }'; then
    log "prfence ${MI[prfence]} ms vs sgio_loop ${MI[sgio_loop]} ms (internal): no slower: ok"
else log "prfence ${MI[prfence]} ms is SLOWER than sgio_loop ${MI[sgio_loop]} ms (internal)"; verdict=1; fi
exit $verdict
