#!/usr/bin/env bash
# Runs every prfence test. On a fresh Debian 12 machine as root it installs what it needs first.
#   tests/run.sh           everything, as CI runs it:
#     1. the ASan+UBSan tree (Debug, -Werror, build/asan): every ctest test, the QEMU guest suite included
#     2. the Release tree as users install it (static-PIE tools, benchmarks, -Werror, build/rel): built,
#        then every ctest test but the guest suite against those binaries
#     3. libFuzzer: each fuzz target fuzzes for PRFENCE_FUZZ_SECONDS (default 10) with clang (build/fuzz)
#   tests/run.sh --quick   the fast lane for day-to-day work: step 1 without the guest suite (ctest -LE vm)
# Re-running is incremental. Exit status is non-zero if anything fails.
#
# Skips: a test that cannot run here exits 77 and ctest reports it as skipped. Every run ends with one
# line listing what was skipped and why. With PRFENCE_NO_SKIPS=1 (.ci/run sets it) a skip is a failure.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "tests/run.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done
# shellcheck source=../tools/deps.sh
. "$ROOT/tools/deps.sh"
prfence_install_deps build test

JOBS=${PRFENCE_JOBS:-$(nproc)}
ASAN_DIR=${PRFENCE_BUILD_DIR:-$ROOT/build/asan}
REL_DIR=$ROOT/build/rel
FUZZ_DIR=$ROOT/build/fuzz
FUZZ_SECONDS=${PRFENCE_FUZZ_SECONDS:-10}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
SKIPPED=()

step() { printf '\n=== %s\n' "$*"; }

# ctest_run DIR LOG ARGS...: ctest that fails on an empty selection and records which tests skipped.
ctest_run() {
    local dir=$1 log=$2 rc=0
    shift 2
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$JOBS" "$@" 2>&1 | tee "$log" || rc=$?
    local t
    while read -r t; do
        [ -n "$t" ] && SKIPPED+=("$t ($(basename "$dir"): $(skip_reason "$dir" "$t"))")
    done < <(sed -nE 's/^[[:space:]]*[0-9]+ - ([^ ]+) \(Skipped\)$/\1/p' "$log")
    return "$rc"
}

# Why a skipped test skipped: the last line of its output (ctest keeps it in LastTest.log) that says so.
skip_reason() {
    local why
    why=$(awk -v t="$2" '$0 ~ "^[0-9]+/[0-9]+ Testing: " t "$" {on=1; next} on && /^<end of output>/ {on=0}
                          on && tolower($0) ~ /skip/ {last=$0} END {print last}' \
        "$1"/Testing/Temporary/LastTest*.log 2>/dev/null) || true
    echo "${why:-no reason printed}"
}

finish() {
    if [ ${#SKIPPED[@]} -eq 0 ]; then
        echo "tests/run.sh: nothing skipped"
        return 0
    fi
    local IFS=';'
    echo "tests/run.sh: skipped ${#SKIPPED[@]}: ${SKIPPED[*]}"
    if [ "${PRFENCE_NO_SKIPS:-0}" = 1 ]; then
        echo "tests/run.sh: PRFENCE_NO_SKIPS=1: a skipped test is a failure here" >&2
        return 1
    fi
}

step "build (ASan+UBSan, -Werror) in $ASAN_DIR"
cmake -S "$ROOT" -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DPRFENCE_WERROR=ON -DPRFENCE_SANITIZE=ON -DPRFENCE_BENCH=OFF >/dev/null
cmake --build "$ASAN_DIR" -j "$JOBS"

if [ "$QUICK" = 1 ]; then
    step "ctest (quick lane): everything but the QEMU guest suite"
    ctest_run "$ASAN_DIR" "$ASAN_DIR/ctest-quick.log" -LE '^vm$'
    finish
    exit
fi

step "ctest: style, unit, integration, cli, compat, fuzz corpus replay, QEMU guest suite"
ctest_run "$ASAN_DIR" "$ASAN_DIR/ctest.log"

step "build (Release, as installed: static-PIE tools, benchmarks, -Werror) in $REL_DIR"
cmake -S "$ROOT" -B "$REL_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPRFENCE_WERROR=ON -DPRFENCE_BENCH=ON >/dev/null
cmake --build "$REL_DIR" -j "$JOBS"
step "ctest on the Release tree (all but the guest suite)"
ctest_run "$REL_DIR" "$REL_DIR/ctest.log" -LE '^vm$'

if command -v clang++ >/dev/null; then
    step "libFuzzer: ${FUZZ_SECONDS}s per target (clang, ASan+UBSan) in $FUZZ_DIR"
    CC=clang CXX=clang++ cmake -S "$ROOT" -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DPRFENCE_FUZZ=ON -DPRFENCE_SANITIZE=ON -DPRFENCE_BENCH=OFF -DPRFENCE_FUZZ_SECONDS="$FUZZ_SECONDS" \
        -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
    cmake --build "$FUZZ_DIR" -j "$JOBS" --target prfence_fuzzers
    ctest_run "$FUZZ_DIR" "$FUZZ_DIR/ctest.log" -R '^fuzz_run_'
else
    SKIPPED+=("libFuzzer runs (clang++ not found; the corpus replay above still ran)")
fi
finish
