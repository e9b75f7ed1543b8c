#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fence_prfence's metadata as Pacemaker's fencer asks for it (action=metadata on stdin) and as pcs
# and people do (-o metadata), valid against fence-agents' schema (Debian's fence-agents ships
# /usr/share/cluster/relaxng/metadata.rng, the lib/metadata.rng of fence-agents); what the fencer
# reads from it; the stdin refusals around it; validate-all opening nothing; the man page rendered
# without groff warnings.
# Usage: fence_prfence_metadata_test.sh FENCE_PRFENCE MANPAGE
# Exit 77 only when the schema is not installed (package fence-agents).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
F=$1
MAN=$2
RNG=/usr/share/cluster/relaxng/metadata.rng
if [ ! -f "$RNG" ]; then
    echo "SKIP: $RNG is not installed (package fence-agents); the metadata cannot be validated"
    exit 77
fi
if ! command -v xmllint >/dev/null; then
    echo "FAIL xmllint not found (package libxml2-utils, in tools/deps.sh's test set)"
    exit 1
fi

valid() {  # valid NAME FILE: the file validates against the schema
    local out
    if out=$(xmllint --noout --relaxng "$RNG" "$2" 2>&1); then ok; else bad "$1: $out"; fi
}

# The same document both ways, exit 0, nothing on stderr.
"$F" -o metadata >"$dir/argv.xml" 2>"$dir/argv.err"
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$dir/argv.err" ]; then ok; else bad "-o metadata: rc=$rc: $(cat "$dir/argv.err")"; fi
valid "-o metadata" "$dir/argv.xml"

printf 'action=metadata\n' | "$F" >"$dir/stdin.xml" 2>"$dir/stdin.err"
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$dir/stdin.err" ]; then ok; else bad "action=metadata on stdin: rc=$rc: $(cat "$dir/stdin.err")"; fi
valid "action=metadata on stdin" "$dir/stdin.xml"
if cmp -s "$dir/argv.xml" "$dir/stdin.xml"; then ok; else bad "stdin and argv metadata differ"; fi

# fencing.py's alias, and manpage, print the same document.
for how in "--action=meta-data" "--action=manpage"; do
    out=$("$F" "$how" 2>&1)
    if [ "$out" = "$(cat "$dir/argv.xml")" ]; then ok; else bad "$how: not the metadata"; fi
done

# What the fencer reads from the metadata: on is on_target and automatic; no reboot, no list (it
# would remap reboot to off and probe with list otherwise); port and plug exist.
has() {  # has LINE: the metadata holds this exact text
    if grep -qF -- "$1" "$dir/argv.xml"; then ok; else bad "metadata lacks: $1"; fi
}
has '<action name="on" on_target="1" automatic="1" />'
for a in off status monitor metadata manpage validate-all; do
    has "<action name=\"$a\" />"
done
if grep -qE '<action name="(reboot|list|list-status)"' "$dir/argv.xml"; then bad "reboot or list advertised"; else ok; fi
has '<parameter name="port" unique="0" required="0" deprecated="1">'
has '<parameter name="plug" unique="0" required="0" obsoletes="port">'

# The schema is strict: the same document with an attribute it does not allow fails, so a pass above
# means something.
sed 's|<action name="off" />|<action name="off" timeout="20s" />|' "$dir/argv.xml" >"$dir/extra.xml"
if ! cmp -s "$dir/argv.xml" "$dir/extra.xml" && ! xmllint --noout --relaxng "$RNG" "$dir/extra.xml" 2>/dev/null; then
    ok; else bad "the schema took an extra attribute"; fi

# stdin refusals Pacemaker must see as failures: a cut last line, and the actions it maps to
# EOPNOTSUPP by their words.
out=$(printf 'action=metadata' | "$F" 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'input truncated: 15 bytes' <<<"$out"; then ok; else bad "no final newline: rc=$rc: $out"; fi
out=$(printf 'action=reboot\nnodename=node-b\n' | "$F" 2>&1 >/dev/null)
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'unsupported action' <<<"$out"; then ok; else bad "reboot: rc=$rc: $out"; fi
out=$(printf 'nodename=node-b\n' | "$F" 2>&1 >/dev/null)
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'action: missing' <<<"$out"; then ok; else bad "no action: rc=$rc: $out"; fi

# validate-all (stonith_admin --validate sends it with nodename=node1 port=node1) checks the
# parameters only: a socket and a device that do not exist pass, since nothing is opened.
out=$(printf 'action=validate-all\nnodename=node1\nport=node1\ngroup=g\nsocket=%s/none.sock\n' "$dir" | "$F" 2>&1)
rc=$?
if [ "$rc" -eq 0 ]; then ok; else bad "validate-all, group: rc=$rc: $out"; fi
out=$(printf 'action=validate-all\nnodename=node1\nport=node1\ndevices=%s/no-such-lu\n' "$dir" | "$F" 2>&1)
rc=$?
if [ "$rc" -eq 0 ]; then ok; else bad "validate-all, devices: rc=$rc: $out"; fi
out=$(printf 'action=validate-all\nnodename=node1\ndevices=/dev/sdb\ngroup=g\n' | "$F" 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'devices and group exclude each other' <<<"$out"; then ok; else bad "validate-all, both: rc=$rc: $out"; fi
out=$(printf 'action=validate-all\nnodename=node1\ndevices=/dev/sdb\nbogus=1\n' | "$F" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && grep -q "unknown parameter 'bogus'" <<<"$out"; then ok; else bad "unknown name: rc=$rc: $out"; fi

# The man page renders without warnings.
warn=$(groff -man -ww -z "$MAN" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ -z "$warn" ]; then ok; else bad "groff $MAN: rc=$rc: $warn"; fi

finish
