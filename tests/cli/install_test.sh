#!/usr/bin/env bash
# cmake --install into a temporary prefix: every binary, the LD_PRELOAD library, the systemd unit, a man
# page per tool and the documents they point to land in their conventional places; every installed tool
# answers --help and --version; the man pages render without groff warnings; the installed prsim-run
# finds the installed library.
# Usage: install_test.sh BUILD_DIR
set -u
B=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0 passes=0
ok() { passes=$((passes+1)); }
bad() { echo "FAIL $*"; fails=$((fails+1)); }
if ! cmake --install "$B" --prefix "$dir/usr" >"$dir/install.log" 2>&1; then
    bad "cmake --install"; cat "$dir/install.log"; exit 1
fi
version=$(sed -n 's/^project(prfence VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../../CMakeLists.txt")
for t in prfence prfenced prexplain prsim prsim-run prbench fence_prfence; do
    f=$dir/usr/sbin/$t
    if [ ! -x "$f" ]; then bad "$t not installed in sbin"; continue; fi
    out=$("$f" --version 2>&1); rc=$?
    if [ "$rc" -eq 0 ] && [ "$out" = "$t $version" ]; then ok; else bad "$t --version: rc=$rc: $out"; fi
    out=$("$f" --help 2>&1); rc=$?
    if [ "$rc" -eq 0 ] && grep -qi "usage" <<<"$out"; then ok; else bad "$t --help: rc=$rc"; fi
done
lib=$(find "$dir/usr" -name libprinterpose.so -path '*/prfence/*')
if [ -n "$lib" ]; then ok; else bad "libprinterpose.so not under LIBDIR/prfence"; fi
if [ -f "$dir/usr/lib/systemd/system/prfenced.service" ] && grep -q '^Type=notify' "$dir/usr/lib/systemd/system/prfenced.service"; then
    ok; else bad "prfenced.service"; fi
for m in man8/prfence.8 man8/prfenced.8 man8/prexplain.8 man8/fence_prfence.8 man1/prsim.1 man1/prbench.1 man1/prsim-run.1; do
    f=$dir/usr/share/man/$m
    if [ ! -f "$f" ]; then bad "$m not installed"; continue; fi
    warn=$(groff -man -ww -z "$f" 2>&1)
    if [ -z "$warn" ]; then ok; else bad "$m: groff: $warn"; fi
done
for d in README.md LICENSE control-protocol.md prsim-protocol.md; do
    if [ -f "$dir/usr/share/doc/prfence/$d" ]; then ok; else bad "doc $d"; fi
done
# The installed wrapper preloads the installed library (found relative to sbin): a command that opens
# no virtual device runs normally.
out=$(PRSIM_SHIM_LIB='' "$dir/usr/sbin/prsim-run" --socket "$dir/none.sock" -- /bin/sh -c 'echo "$LD_PRELOAD"' 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -q "$dir/usr/.*libprinterpose.so" <<<"$out"; then ok; else bad "installed prsim-run: rc=$rc: $out"; fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
