#!/usr/bin/env bash
# The README's first command. Installs what prfence needs (Debian 12, root), builds a Release tree in
# build/release, and runs the main job on the embedded default.
#
# Today the engine and the prsim LUN farm are still being built, so the job is the codec: it decodes the
# answers and the sense data of the seed sg_persist session (two nodes, register, reserve type 3, the
# other node fenced). When prsim and the engine land, this becomes the failover demo: a virtual farm of
# 256 LUNs, node A reserving every LUN, node B fencing A in one batch, and prexplain saying why A's I/O fails.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deps.sh
. "$ROOT/tools/deps.sh"
prfence_install_deps build

BUILD=$ROOT/build/release
echo "==> building prfence (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPRFENCE_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target prfence >/dev/null
P=$BUILD/tools/prfence

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Node A registers key abc123 and node B 123abc: the CDB and parameter list node A sends"
run "$P" decode --cdb 5f 00 00 00 00 00 00 00 18 00
run "$P" decode --prout "00 00 00 00 00 00 00 00 00 00 00 00 00 ab c1 23 00 00 00 00 00 00 00 00"

say "READ KEYS answer: both keys, generation 2"
run "$P" decode --prin keys "00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23 00 00 00 00 00 12 3a bc"

say "Node A reserves type 3 (Exclusive Access); READ RESERVATION answer"
run "$P" decode --prin reservation "00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23 00 00 00 00 00 03 00 00"

say "Node B preempts and aborts node A; node A's next command gets this unit attention"
run "$P" decode --sense "70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00"

say "...and its reads then end in RESERVATION CONFLICT, exit status 24 in sg3_utils terms"
run "$P" decode --err 24

say "The same, as JSON for a failover harness"
run "$P" decode --json --sense "70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00"

printf '\nDone. Next: tests/run.sh runs every test; README.md says what prfence is becoming.\n'
