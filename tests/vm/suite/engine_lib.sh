# shellcheck shell=bash disable=SC2034 # variables for the tests that source this
# Helpers for the tests that drive prfence itself (engine_fence.sh, engine_bench.sh): per-node device
# lists and a flattener for prfence's --json output (the guest has no jq or python). Sourced after lib.sh.

# Every LU's devices, in map order: A_SDS A_SGS (node A's nexus), B_SDS B_SGS (node B's).
A_SDS=() A_SGS=() B_SDS=() B_SGS=()
for _l in "${LUNS[@]}"; do
    A_SDS+=("/dev/${LU[$_l.a_sd]}") A_SGS+=("/dev/${LU[$_l.a_sg]}")
    B_SDS+=("/dev/${LU[$_l.b_sd]}") B_SGS+=("/dev/${LU[$_l.b_sg]}")
done
N=${#LUNS[@]}

# json_flat: pretty-printed JSON (nlohmann dump(2)) on stdin -> one "path=value" line per scalar, e.g.
# luns.3.device=/dev/sdd, luns.3.keys.0=0xabc123, luns.3.reservation.key=0xabc123, summary.ok=16.
# Strings lose their quotes; null, [] and {} are kept as written.
json_flat() {
    awk '
    function path(   i, p) { p = ""; for (i = 2; i <= d; i++) p = p name[i] "."; return p }
    {
        line = $0; sub(/^ +/, "", line); sub(/,$/, "", line); key = ""
        if (match(line, /^"[^"]*": /)) { key = substr(line, 2, RLENGTH - 4); line = substr(line, RLENGTH + 1) }
        else if (d > 0 && isarr[d]) key = idx[d]++
        if (line == "{" || line == "[") { d++; name[d] = key; isarr[d] = (line == "["); idx[d] = 0; next }
        if (line == "}" || line == "]") { d--; next }
        if (line ~ /^".*"$/) line = substr(line, 2, length(line) - 2)
        print path() key "=" line
    }'
}

# pj ARGS...: runs `prfence ARGS... --json`, sets RC, OUT (the JSON) and J[path]=value (json_flat), and
# DEV_IDX[device]=index into luns. Shows the command and its summary line unless QUIET=1.
declare -A J=() DEV_IDX=()
pj() {
    set +e
    OUT=$(prfence "$@" --json 2>&1)
    RC=$?
    set -e
    J=() DEV_IDX=()
    local k v
    while IFS='=' read -r k v; do J[$k]=$v; done < <(json_flat <<<"$OUT")
    local i
    for ((i = 0; ; i++)); do
        [ -n "${J[luns.$i.device]:-}" ] || break
        DEV_IDX[${J[luns.$i.device]}]=$i
    done
    if [ "$QUIET" != 1 ]; then
        echo "  \$ prfence $(printf "%s " "$@" | cut -c1-160) --json"
        echo "    -> exit $RC; luns ${J[summary.luns]:-?} ok ${J[summary.ok]:-?} failed ${J[summary.failed]:-?}" \
            "wall ${J[summary.wall_ms]:-?} ms p50 ${J[summary.p50_us]:-?} us p99 ${J[summary.p99_us]:-?} us" \
            "retries ${J[summary.retries]:-?}"
    fi
    return 0
}

# expect_pj WANT_RC ARGS...: pj, then the exit code must be WANT_RC and, when 0, summary luns == ok == N
# (PJ_LUNS=n for a run on fewer devices).
expect_pj() {
    local want=$1
    shift
    pj "$@"
    [ "$RC" -eq "$want" ] || { show_last; fail "expected exit $want from prfence $*"; }
    if [ "$want" -eq 0 ]; then
        local want_luns=${PJ_LUNS:-$N}
        if [ "${J[summary.ok]:-}" != "$want_luns" ] || [ "${J[summary.luns]:-}" != "$want_luns" ]; then
            show_last
            fail "prfence $1: summary luns ${J[summary.luns]:-?} ok ${J[summary.ok]:-?}, want $want_luns"
        fi
    fi
}

# jl DEVICE FIELD: the JSON field of the LUN row for DEVICE (empty if missing).
jl() {
    local i=${DEV_IDX[$1]:-}
    [ -n "$i" ] || { show_last; fail "no row for $1 in prfence's output"; }
    JL=${J[luns.$i.$2]:-}
}
