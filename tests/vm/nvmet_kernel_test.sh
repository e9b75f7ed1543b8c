#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PRFENCE_VM_KERNEL=nvmet without a trixie-backports index (the mirror unreachable): with nothing cached
# build-image.sh exits 77 and says why; with a kernel cached it uses that one. Needs no network and no
# QEMU: the mirror is a closed local port, the cache a temporary directory.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export PRFENCE_VM_CACHE=$TMP/cache PRFENCE_VM_DIR=$TMP/vm PRFENCE_VM_TOPOLOGY=nvme
export PRFENCE_VM_NVMET_MIRROR=http://127.0.0.1:9/debian PRFENCE_VM_NVMET_INDEX_AGE=0
unset PRFENCE_VM_KERNEL

echo "1. no index, nothing cached: build-image.sh skips"
rc=0
"$SRC/build-image.sh" >"$TMP/out" 2>"$TMP/err" || rc=$?
cat "$TMP/err"
[ "$rc" -eq 77 ] || fail "build-image.sh exited $rc, expected 77"
grep -q 'SKIP: no kernel with nvmet reservations: no trixie-backports index' "$TMP/err" || fail "no reason given"
[ ! -s "$TMP/out" ] || fail "it printed a kernel release: $(cat "$TMP/out")"
[ -f "$PRFENCE_VM_CACHE/apt-trixie-backports/sources.list" ] || fail "no private sources.list"
grep -q 'trixie-backports main' "$PRFENCE_VM_CACHE/apt-trixie-backports/sources.list" || fail "wrong private sources.list"

echo "2. no index, a kernel cached: it is used"
V=7.9.1+deb13-amd64
K=$PRFENCE_VM_CACHE/kernel/linux-modules-$V
mkdir -p "$K/boot" "$K/lib/modules/$V"
: >"$K/boot/vmlinuz-$V"
touch "$K/.complete"
out=$(
    exec 2>"$TMP/err"
    # shellcheck source=common.sh
    . "$SRC/common.sh"
    # shellcheck source=nvme-image.sh
    . "$SRC/nvme-image.sh"
    nvmet_prepare_kernel
    echo "KPKG=$KPKG KVER=$KVER KDIR=$KDIR"
) || fail "nvmet_prepare_kernel failed: $(cat "$TMP/err")"
cat "$TMP/err"
echo "$out"
[ "$out" = "KPKG=linux-modules-$V KVER=$V KDIR=$K" ] || fail "the cached kernel was not chosen"
grep -q "using the cached linux-modules-$V" "$TMP/err" || fail "no word that the cached kernel is used"
echo "PASS"
