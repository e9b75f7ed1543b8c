# shellcheck shell=bash
# Shared by the libprinterpose tests: a prsim daemon on a temporary socket, prsim-run for two
# initiators, and line-by-line output checks. Environment (set by tests/compat/CMakeLists.txt):
#   PRSIM       the prsim binary            PRSIM_RUN   prsim-run (next to libprinterpose.so)
#   SHIM_PROBE  tests/compat/shim_probe
set -u
: "${PRSIM:?}" "${PRSIM_RUN:?}"
# The tools under test must not inherit the shim from whatever runs ctest.
unset LD_PRELOAD PRSIM_SOCKET PRSIM_INITIATOR PRSIM_TARGET_PORT PRSIM_PREFIX PRSIM_MAP PRSIM_REDIRECT \
    PRSIM_TIMEOUT_MS PRSIM_CONNECT_TIMEOUT_MS PRSIM_KEEP_INITIAL_UA PRSIM_SHIM_LIB
TDIR=$(mktemp -d "${TMPDIR:-/tmp}/prsim-shim-test.XXXXXX")
SOCK=$TDIR/prsim.sock
SPID=
fails=0 passes=0
INI_A="iqn.2026-11.io.prfence:node-a,i,0x1"
INI_B="iqn.2026-11.io.prfence:node-b,i,0x2"

cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    rm -rf "$TDIR"
}
trap cleanup EXIT

# Debian installs fence_scsi in /usr/sbin, which a non-root PATH lacks: the sbin folders are searched too.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
export PATH

need_tools() {  # skip (77) when Debian's tools are not installed (tests/run.sh installs them)
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "SKIP: $t not installed (tools/deps.sh test set)"; exit 77; }
    done
}

start_prsim() {  # start_prsim ARGS...: a fresh daemon on $SOCK
    "$PRSIM" --socket "$SOCK" "$@" >"$TDIR/prsim.log" 2>&1 &
    SPID=$!
    local _
    for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.05; done
    echo "prsim did not start:"; cat "$TDIR/prsim.log"; exit 1
}

stop_prsim() {
    kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
}

A() { "$PRSIM_RUN" --socket "$SOCK" --initiator "$INI_A" --target-port 1 -- "$@"; }
B() { "$PRSIM_RUN" --socket "$SOCK" --initiator "$INI_B" --target-port 2 -- "$@"; }

ok() { passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

# expect NAME WANT_RC WANT_OUTPUT -- COMMAND...: stdout+stderr must equal WANT_OUTPUT line by line.
expect() {
    local name=$1 want_rc=$2 want=$3; shift 4
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ne "$want_rc" ] || [ "$out" != "$want" ]; then
        bad "$name: rc=$rc (want $want_rc)"
        diff <(printf '%s\n' "$want") <(printf '%s\n' "$out") | sed 's/^/    /'
    else
        ok
    fi
}

# expect_re NAME WANT_RC REGEX -- COMMAND...: the output must match the extended regex.
expect_re() {
    local name=$1 want_rc=$2 re=$3; shift 4
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ne "$want_rc" ] || ! grep -qE -- "$re" <<<"$out"; then
        bad "$name: rc=$rc (want $want_rc), output:"; sed 's/^/    /' <<<"$out" | head -20
    else
        ok
    fi
}

finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}

disk_name() {  # disk_name N: the sd letters of index N (0 sda, 25 sdz, 26 sdaa)
    local n=$(($1 + 1)) s=""
    while [ "$n" -gt 0 ]; do
        n=$((n - 1))
        s=$(printf "\\$(printf '%03o' $((97 + n % 26)))")$s
        n=$((n / 26))
    done
    printf 'sd%s' "$s"
}
