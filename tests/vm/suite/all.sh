#!/bin/bash
# The VM test suite: every test in order, a PASS/FAIL/SKIP line each, then "N passed, N failed, N skipped".
# Exit status: 1 when a test failed; 77 (skip, which tests/vm/run.sh passes on to ctest) when none failed
# but one skipped, so that a partial guest run never reads as a whole one; 0 when every test passed.
# Each test's output is also kept in $PRFENCE_VM_OUT/logs/.
# Order matters twice: first_command_ua needs a LU nothing has touched since boot, so it goes first (and
# drains the unit attentions it provokes); nvme_paths reloads the NVMe modules and leaves node A alone
# connected, so it goes last in the nvme list.
set -uo pipefail
SUITE=${PRFENCE_VM_SUITE:-$(cd "$(dirname "$0")" && pwd)}
OUT=${PRFENCE_VM_OUT:-/tmp}
TESTS=(first_command_ua seed_session fence_all engine_fence prexplain_guest capture_logs project_binaries fence_agent)
PER_TEST_TIMEOUT=${PRFENCE_VM_TEST_TIMEOUT:-600}
# The multipath topology (PRFENCE_VM_TOPOLOGY=multipath: node A with two sessions and dm-multipath maps)
# runs its own list instead: the tests above assume one session per node.
MP_TESTS=(multipath_basic multipath_faults multipath_target)
[ "${PRFENCE_VM_TOPOLOGY:-single}" = multipath ] && TESTS=("${MP_TESTS[@]}")
# The nvme topology (PRFENCE_VM_TOPOLOGY=nvme: nvmet namespaces, no SCSI LU) runs its own list too.
NV_TESTS=(nvme_seed nvme_engine nvme_tools nvme_every nvme_rights nvme_paths)
[ "${PRFENCE_VM_TOPOLOGY:-single}" = nvme ] && TESTS=("${NV_TESTS[@]}")

mkdir -p "$OUT/logs"
passed=0 failed=0 skipped=0
summary=() skips=()
uptime_s() { local up _; read -r up _ </proc/uptime; echo "$up"; }
for t in "${TESTS[@]}"; do
    echo "=== $t"
    start=$(uptime_s)
    timeout -k 10 "$PER_TEST_TIMEOUT" bash "$SUITE/$t.sh" </dev/null 2>&1 | tee "$OUT/logs/$t.log"
    rc=${PIPESTATUS[0]}
    secs=$(awk -v a="$start" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')
    case $rc in
        0) verdict=PASS; passed=$((passed + 1)) ;;
        77) verdict=SKIP; skipped=$((skipped + 1))
            skips+=("$t: $(grep -a -i 'skip' "$OUT/logs/$t.log" | tail -n 1)") ;;
        *) verdict="FAIL (exit $rc)"; failed=$((failed + 1)) ;;
    esac
    summary+=("$verdict $t (${secs}s)")
    echo "$verdict $t (${secs}s)"
done
echo "=== summary (kernel $(uname -r), ${PRFENCE_VM_LUNS:-?} LUs)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
if [ "$skipped" -ne 0 ]; then
    printf 'SKIP: %s\n' "${skips[@]}"
    exit 77
fi
