#!/usr/bin/env bash
# Every C and C++ source of the tree is formatted as .clang-format says (clang-format --dry-run -Werror).
# Usage: check_format.sh ROOT. To fix: clang-format -i on the files it names.
set -uo pipefail
ROOT=$1
command -v clang-format >/dev/null || { echo "clang-format is not installed (tools/deps.sh's test set installs it)"; exit 1; }
mapfile -t files < <(cd "$ROOT" && find uring_engine interposer nl_control tools tests \
    \( -name corpus -o -name fixtures \) -prune -o \( -name '*.h' -o -name '*.cpp' -o -name '*.c' \) -print | LC_ALL=C sort)
[ ${#files[@]} -gt 0 ] || { echo "no sources found under $ROOT"; exit 1; }
out=$(cd "$ROOT" && clang-format --dry-run -Werror "${files[@]}" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
    grep -o '^[^:]*\.\(h\|cpp\|c\):' <<<"$out" | sort -u | sed 's/:$/: not formatted/'
    echo "($(clang-format --version); run clang-format -i on the files above)"
    exit 1
fi
echo "${#files[@]} files formatted as .clang-format says"
