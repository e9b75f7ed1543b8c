#!/usr/bin/env bash
# prfence(8)'s exit-status table, number by number, against what prfence returns:
#   1. the table lists exactly the values of wire::Category (uring_engine/wire/status.h) but the two
#      prfence never returns (21, 31), and `prfence decode --err N` explains every one of them;
#   2. each status a device's answer can produce is produced end to end: prsim answers a LU's
#      commands with that status, sense or host byte (a `check` fault), prfence reads the LU, and its
#      exit status and the JSON's exit_code are that number;
#   3. the statuses that come from prfence itself: 0, 1 and 15 here; 99 (a cancelled batch) in
#      cli_failure_paths; 32 (a plan asking for a path the LU lacks) only by a bug. Every other number
#      of the table must have been produced here, so a row added to the table needs a case.
# Usage: exit_status_test.sh PRFENCE PRSIM SOURCE_DIR
P=$1 S=$2 SRC=$3
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# ---- 1. the table and the enum
man_codes=$(awk '/^\.SH EXIT STATUS/ {on = 1; next} on && /^\.SH/ {on = 0} on && /^\.B [0-9]+$/ {print $2}' \
    "$SRC/tools/prfence/prfence.8" | sort -n | tr '\n' ' ')
enum_codes=$(sed -n '/^enum class Category/,/^};/p' "$SRC/uring_engine/wire/status.h" |
    sed -nE 's/^ +[a-z_]+ = ([0-9]+),.*/\1/p' | grep -vx -e 21 -e 31 | sort -n | tr '\n' ' ')
if [ -n "$man_codes" ] && [ "$man_codes" = "$enum_codes" ]; then ok; else
    bad "prfence.8 lists [$man_codes], wire::Category has [$enum_codes] (21 and 31 aside)"; fi
for n in $man_codes 21 31; do
    out=$("$P" decode --err "$n" 2>&1); rc=$?
    if [ "$rc" -eq 0 ] && grep -q "^exit status $n: " <<<"$out" && ! grep -q 'unknown' <<<"$out"; then ok; else
        bad "decode --err $n: rc=$rc: $out"; fi
done

# ---- 2. end to end, one LU per status
start_prsim --luns 64
lu=0
# produces NAME WANT FAULT: FAULT armed on a LU of its own, READ KEYS of that LU exits WANT.
produces() {
    local name=$1 want=$2 fault=$3 out rc
    if ! "$S" ctl --socket "$sock" fault arm "$fault,luns=$lu" >"$dir/arm.out" 2>&1; then
        bad "$name: prsim refused the fault $fault: $(cat "$dir/arm.out")"; lu=$((lu + 1)); return
    fi
    out=$(timeout -k 5 60 "$P" keys "${A[@]}" --json --timeout 2000 "sim:$sock:$lu" 2>&1); rc=$?
    if [ "$rc" -eq "$want" ] && grep -q "\"exit_code\": $want\b" <<<"$out"; then ok; else
        bad "$name ($fault): rc=$rc (want $want)"; sed 's/^/    /' <<<"$out" | head -30; fi
    produced="$produced $want"
    lu=$((lu + 1))
}
produced=""
# from_prfence NAME WANT ARGS...: prfence's own causes.
from_prfence() {
    local name=$1 want=$2 rc
    shift 2
    timeout -k 5 60 "$P" "$@" >"$dir/out" 2>&1; rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else bad "$name: rc=$rc (want $want)"; sed 's/^/    /' "$dir/out" | head; fi
    produced="$produced $want"
}
from_prfence clean 0 keys "${A[@]}" "sim:$sock:63"
from_prfence syntax 1 register "${A[@]}" --key xyz "sim:$sock:63"
from_prfence file 15 keys "${A[@]}" "sim:$dir/no-such.sock:0"
produces not_ready 2 not_ready
produces unit_attention 6 unit_attention,n=100
produces busy 26 busy
produces task_set_full 27 task_set_full
produces timeout 33 timeout
produces medium_error 3 answer,key=3,asc=11,ascq=0
produces hardware_error 3 answer,key=4,asc=44,ascq=0
produces illegal_request 5 answer,key=5,asc=24,ascq=0
produces data_protect 7 answer,key=7,asc=27,ascq=0
produces invalid_opcode 9 answer,key=5,asc=20,ascq=0
produces copy_aborted 10 answer,key=a,asc=1d,ascq=0
produces aborted_command 11 answer,key=b,asc=47,ascq=0
produces miscompare 14 answer,key=e,asc=1d,ascq=0
produces illegal_request_info 17 answer,key=5,asc=24,ascq=0,info=7
produces medium_error_info 18 answer,key=3,asc=11,ascq=0,info=2048
produces no_sense 20 answer,key=0,asc=0,ascq=1e
produces lba_out_of_range 22 answer,key=5,asc=21,ascq=0
produces reservation_conflict 24 answer,status=18
produces nexus_failure 24 answer,status=0,host_byte=11
produces condition_met 25 answer,status=4
produces aca_active 28 answer,status=30
produces task_aborted 29 answer,status=40
produces host_time_out 33 answer,status=0,host_byte=3
produces no_connect 35 answer,status=0,host_byte=1
produces protection 40 answer,key=b,asc=10,ascq=1
produces protection_info 41 answer,key=b,asc=10,ascq=1,info=9
produces malformed 97 answer,status=0
produces sense_other 98 answer,key=9,asc=80,ascq=0

# Every number of the table but 32 and 99 (see above) was produced.
missing=""
for n in $man_codes; do
    case " $produced 32 99 " in *" $n "*) ;; *) missing="$missing $n" ;; esac
done
[ -z "$missing" ] && ok || bad "the table's statuses$missing were produced by no case here"

finish
