# shellcheck shell=bash disable=SC2034 # variables for the tests that source this
# Helpers for the VM test suite: sourced by every test, which runs in the guest as root (tests/vm/run.sh).
# A test prints what it does and what each command answered, and exits non-zero on the first surprise
# (fail), 77 when it does not apply (skip).
set -euo pipefail

T=${0##*/}
T=${T%.sh}
: "${PRFENCE_VM_DEVICES:=/run/prfence-vm/devices}"
: "${PRFENCE_VM_OUT:=/tmp}"
: "${PRFENCE_VM_LIB:=/prfence/lib}"
KEY_A=abc123 # node A's reservation key (sg_persist reads keys as hex)
KEY_B=123abc # node B's
# Kernel series for file names: 6.1 for 6.1.0-56-amd64, 6.12 for 6.12.57+deb12-amd64.
KSERIES=$(uname -r)
KSERIES=${KSERIES%%-*}
KSERIES=${KSERIES%.*}

log() { echo "[$T] $*"; }
fail() {
    echo "[$T] FAIL: $*"
    exit 1
}
skip() {
    echo "[$T] SKIP: $*"
    exit 77
}

# ---------------------------------------------------------------------------------------------------
# The device map (format in /prfence/lib/devices.sh), read once without forking.
declare -A LU=()
LUNS=()
while read -r lun wwid ahctl asd asg bhctl bsd bsg; do
    [[ $lun == \#* || -z $lun ]] && continue
    LUNS+=("$lun")
    LU[$lun.wwid]=$wwid LU[$lun.a_hctl]=$ahctl LU[$lun.a_sd]=$asd LU[$lun.a_sg]=$asg
    LU[$lun.b_hctl]=$bhctl LU[$lun.b_sd]=$bsd LU[$lun.b_sg]=$bsg
done <"$PRFENCE_VM_DEVICES"
# The nvme topology has no SCSI LU (its namespaces: nvme_lib.sh).
[ ${#LUNS[@]} -gt 0 ] || [ "${PRFENCE_VM_TOPOLOGY:-single}" = nvme ] || fail "no LUs in $PRFENCE_VM_DEVICES"

# lu LUN: sets A_SD A_SG A_HCTL B_SD B_SG B_HCTL (/dev paths for sd and sg) and WWID for that LU.
lu() {
    [ -n "${LU[$1.wwid]:-}" ] || fail "no LU $1 in the device map"
    A_SD=/dev/${LU[$1.a_sd]} A_SG=/dev/${LU[$1.a_sg]} A_HCTL=${LU[$1.a_hctl]}
    B_SD=/dev/${LU[$1.b_sd]} B_SG=/dev/${LU[$1.b_sg]} B_HCTL=${LU[$1.b_hctl]}
    WWID=${LU[$1.wwid]}
}

# ---------------------------------------------------------------------------------------------------
# Running commands. run sets OUT (stdout and stderr) and RC, and shows both unless QUIET=1.
QUIET=${QUIET:-0}
run() {
    set +e
    OUT=$("$@" 2>&1)
    RC=$?
    set -e
    if [ "$QUIET" != 1 ]; then
        echo "  \$ $*"
        [ -n "$OUT" ] && printf '%s\n' "$OUT" | sed 's/^/    /'
        echo "    -> exit $RC"
    fi
    return 0
}

# Shows the last command and its output (for failures in QUIET mode).
show_last() { printf '  last output (exit %s):\n%s\n' "$RC" "$(printf '%s\n' "$OUT" | sed 's/^/    /')"; }

expect_rc() { # WANT CMD...
    local want=$1
    shift
    run "$@"
    [ "$RC" -eq "$want" ] || { show_last; fail "expected exit $want from: $*"; }
}
expect_out() { # ERE: OUT must match
    grep -Eq -- "$1" <<<"$OUT" || { show_last; fail "expected output matching: $1"; }
}
expect_no_out() { # ERE: OUT must not match
    if grep -Eq -- "$1" <<<"$OUT"; then show_last; fail "unexpected output matching: $1"; fi
}

# pr DEV SG_PERSIST_ARGS...: sg_persist without its INQUIRY. Exit 6 is UNIT ATTENTION: the device did
# not execute the command (SPC-4), so it is sent again, at most 3 more times; ABSORBED counts them.
ABSORBED=0
pr() {
    local dev=$1 _
    shift
    for _ in 1 2 3 4; do
        run sg_persist -n "$@" "$dev"
        [ "$RC" -ne 6 ] && return 0
        ABSORBED=$((ABSORBED + 1))
        [ "$QUIET" = 1 ] || log "  (unit attention absorbed; sending again)"
    done
}
expect_pr() { # WANT DEV ARGS...
    local want=$1
    shift
    pr "$@"
    [ "$RC" -eq "$want" ] || { show_last; fail "expected exit $want from sg_persist $*"; }
}

# PR generation from the last PR IN output ("PR generation=0x5") as a decimal number, in GEN.
pr_generation() {
    [[ $OUT =~ PR\ generation=0x([0-9a-fA-F]+) ]] || { show_last; fail "no PR generation in the output"; }
    GEN=$((16#${BASH_REMATCH[1]}))
}

# Makes sure LU has no registration and no reservation, so that each test starts clean whatever ran
# before: when READ KEYS lists any key (no key means no reservation either), node A registers a
# throw-away key with REGISTER AND IGNORE EXISTING KEY and CLEARs.
pr_clean() {
    lu "$1"
    local q=$QUIET
    QUIET=1
    expect_pr 0 "$A_SG" --read-keys
    if ! grep -q 'there are NO registered reservation keys' <<<"$OUT"; then
        expect_pr 0 "$A_SG" --out --register-ignore --param-sark=feedf00d
        expect_pr 0 "$A_SG" --out --clear --param-rk=feedf00d
    fi
    QUIET=$q
}

# Reads one block from a block device with O_DIRECT (the page cache would answer without any I/O).
read_block() { run dd if="$1" of=/dev/null bs=4096 count=1 iflag=direct; }

# ---------------------------------------------------------------------------------------------------
# Kernel log. dmesg_mark remembers where the log is; dmesg_since sets OUT to what came after.
dmesg_mark() { DMESG_MARK=$(dmesg | wc -l); }
dmesg_since() { OUT=$(dmesg | tail -n +$((DMESG_MARK + 1))); RC=0; }

# The block layer's line for a reservation conflict: "critical nexus error, dev sdX" up to 6.4 (with a
# "blk_update_request: " prefix up to 5.15), "reservation conflict error, dev sdX" from 6.5.
conflict_block_re() { echo "(critical nexus|reservation conflict) error, dev ${1#/dev/},"; }

# Seconds since boot with centiseconds, without forking.
# record LINE: a figure of this test, logged and appended to the test's $REPORT file.
record() {
    log "  $*"
    echo "$*" >>"$REPORT"
}
# For tests that drive fence_prfence through their own `agent LINE...` (setting RC, OUT, ERR):
# expect_agent WANT LINE... runs it and fails with the agent's output unless it exits WANT.
agent_show() { printf '  last agent run (exit %s):\n%s\n%s\n' "$RC" "$(sed 's/^/    out: /' <<<"$OUT")" "$(sed 's/^/    err: /' <<<"$ERR")"; }
expect_agent() { # WANT LINE...
    local want=$1
    shift
    agent "$@"
    [ "$RC" -eq "$want" ] || { agent_show; fail "fence_prfence: exit $RC, want $want"; }
}
now() {
    local up _
    read -r up _ </proc/uptime
    NOW=$up
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
