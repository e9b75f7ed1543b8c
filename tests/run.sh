#!/usr/bin/env bash
# Runs every prfence test. On a fresh Debian 12 machine as root it installs what it needs first.
#   1. unit, integration and corpus-replay tests, built with ASan+UBSan and -Werror (build/asan)
#   2. libFuzzer: each fuzz target fuzzes for PRFENCE_FUZZ_SECONDS (default 10) with clang (build/fuzz)
# Re-running is incremental. Exit status is non-zero if anything fails.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tools/deps.sh
. "$ROOT/tools/deps.sh"
prfence_install_deps build test

JOBS=${PRFENCE_JOBS:-$(nproc)}
ASAN_DIR=${PRFENCE_BUILD_DIR:-$ROOT/build/asan}
FUZZ_DIR=$ROOT/build/fuzz
FUZZ_SECONDS=${PRFENCE_FUZZ_SECONDS:-10}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

step() { printf '\n=== %s\n' "$*"; }

step "build (ASan+UBSan, -Werror) in $ASAN_DIR"
cmake -S "$ROOT" -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DPRFENCE_WERROR=ON -DPRFENCE_SANITIZE=ON -DPRFENCE_BENCH=OFF >/dev/null
cmake --build "$ASAN_DIR" -j "$JOBS"

step "ctest: unit, integration, fuzz corpus replay"
ctest --test-dir "$ASAN_DIR" --output-on-failure -j "$JOBS"

if command -v clang++ >/dev/null; then
    step "libFuzzer: ${FUZZ_SECONDS}s per target (clang, ASan+UBSan) in $FUZZ_DIR"
    CC=clang CXX=clang++ cmake -S "$ROOT" -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DPRFENCE_FUZZ=ON -DPRFENCE_SANITIZE=ON -DPRFENCE_BENCH=OFF -DPRFENCE_FUZZ_SECONDS="$FUZZ_SECONDS" \
        -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
    cmake --build "$FUZZ_DIR" -j "$JOBS" --target prfence_fuzzers
    ctest --test-dir "$FUZZ_DIR" --output-on-failure -j "$JOBS" -R '^fuzz_run_'
else
    echo "clang++ not found: libFuzzer runs skipped (corpus replay above still ran)"
fi
