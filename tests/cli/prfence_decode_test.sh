#!/usr/bin/env bash
# `prfence decode` as an operator uses it: output text, JSON fields and exit codes, including bad input.
# Usage: prfence_decode_test.sh PATH_TO_PRFENCE
set -u
P=$1
fails=0 passes=0
check() {  # check NAME WANT_RC REGEX -- ARGS...   (stdin from $STDIN when set)
    local name=$1 want_rc=$2 regex=$3; shift 4
    local out rc
    if [ -n "${STDIN:-}" ]; then out=$(printf '%s' "$STDIN" | "$P" "$@" 2>&1); rc=$?
    else out=$("$P" "$@" 2>&1 </dev/null); rc=$?; fi
    if [ "$rc" -ne "$want_rc" ] || ! grep -qE -- "$regex" <<<"$out"; then
        echo "FAIL $name: rc=$rc (want $want_rc), output:"; sed 's/^/    /' <<<"$out"; fails=$((fails+1))
    else
        passes=$((passes+1))
    fi
}
SEED_UA="70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00"
check sense_seed 0 'UNIT ATTENTION: REGISTRATIONS PREEMPTED' -- decode --sense "$SEED_UA"
check sense_json 0 '"text": "REGISTRATIONS PREEMPTED"' -- decode --json --sense "$SEED_UA"
check sense_json_key 0 '"key_name": "UNIT ATTENTION"' -- decode --json --sense "$SEED_UA"
STDIN="$SEED_UA" check sense_stdin 0 'REGISTRATIONS PREEMPTED' -- decode --sense
check sense_conflict_release 0 'INVALID RELEASE OF PERSISTENT RESERVATION' -- decode --sense "70 00 05 00 00 00 00 0a 00 00 00 00 26 04 00 00 00 00"
check sense_bad_hex 1 'unexpected character' -- decode --sense "70 0g"
check sense_not_sense 97 'not a valid sense buffer' -- decode --sense "00 01 02"
check sense_empty 97 'not a valid sense buffer' -- decode --sense ""
check cdb_prout 0 'PREEMPT AND ABORT, type Exclusive Access \(3\)' -- decode --cdb 5f 05 03 00 00 00 00 00 18 00
check cdb_short 97 'needs 10 bytes' -- decode --cdb 5f 05 03
check keys_seed 0 '2 registered reservation keys' -- decode --prin keys "00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23 00 00 00 00 00 12 3a bc"
check keys_json 0 '"0x123abc"' -- decode --json --prin keys "00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23 00 00 00 00 00 12 3a bc"
check keys_truncated 0 'answer truncated' -- decode --prin keys "00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23"
check keys_lying 97 'not a multiple of 8' -- decode --prin keys "00 00 00 02 00 00 00 0c 00 00 00 00 00 ab c1 23"
check reservation_seed 0 'Key=0xabc123' -- decode --prin reservation "00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23 00 00 00 00 00 03 00 00"
check reservation_type 0 'Exclusive Access' -- decode --prin reservation "00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23 00 00 00 00 00 03 00 00"
check caps 0 'Type Mask Valid\(TMV\): 1' -- decode --prin caps "00 08 1d 80 ea 01 00 00"
check caps_bad_kind 1 'prin' -- decode --prin nope 00
check prout_basic 0 'SERVICE ACTION RESERVATION KEY=0xabc123' -- decode --prout "00 00 00 00 00 00 00 00 00 00 00 00 00 ab c1 23 00 00 00 00 00 00 00 00"
check prout_short 97 'at least 24' -- decode --prout "00 00"
check tid_iscsi 0 '45 00 00 30 69 71 6e' -- decode --tid "iqn.2001-05.com.example:node-b,i,0x23d000001"
check tid_sas 0 'SAS' -- decode --tid "sas,5000c50005b32001"
check tid_bad 97 'not a valid TransportID' -- decode --tid "fcp,123"
check err_24 0 'reservation conflict' -- decode --err 24
check no_kind 1 'required' -- decode 00
check two_kinds 1 'required' -- decode --sense --cdb 00
check version 0 '^prfence [0-9]' -- --version
check help 0 'decode' -- --help
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
