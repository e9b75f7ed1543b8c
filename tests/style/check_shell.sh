#!/usr/bin/env bash
# Runs shellcheck (warnings and errors) over every shell script of the tree.
# Usage: check_shell.sh ROOT
set -uo pipefail
ROOT=$1
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (tools/deps.sh's test set installs it)"; exit 1; }
cd "$ROOT" || exit 1
mapfile -t files < <({ find tools tests .ci -name corpus -prune -o -name '*.sh' -print; echo .ci/run; echo tests/vm/guest/init; } | LC_ALL=C sort -u)
shellcheck -x -S warning "${files[@]}" || exit 1
echo "${#files[@]} scripts pass shellcheck"
