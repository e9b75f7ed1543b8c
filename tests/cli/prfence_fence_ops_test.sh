#!/usr/bin/env bash
# What a fence agent runs, through the real prfence on a prsim farm with two initiators: unfence
# (register, reserve an unreserved LU; idempotent), verify (exit 24 while the fence is not in place,
# one reason per case) and fence --claim, in text and --json; then the same through prfenced
# (prfence --daemon), so the claim flag and operations 16 and 17 cross the control protocol.
# Usage: prfence_fence_ops_test.sh PRFENCE PRSIM PRFENCED
P=$1 S=$2 D=$3
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
B=(--initiator "iqn.2026-11.io.prfence:node-b,i,0x2" --target-port 2)
ctl=$dir/control.sock
dpid=
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null; cleanup' EXIT

check() {  # check NAME WANT_RC REGEX -- ARGS... (prfence ARGS)
    local name=$1 want_rc=$2 regex=$3; shift 4
    local out rc
    out=$("$P" "$@" 2>&1); rc=$?
    if [ "$rc" -eq "$want_rc" ] && grep -qE -- "$regex" <<<"$out"; then ok; else
        bad "$name: rc=$rc (want $want_rc, /$regex/), output:"; sed 's/^/    /' <<<"$out" | head -20; fi
}

# ---- every subcommand prfence --help lists is documented in prfence(8)'s SUBCOMMANDS, and so are the
# fence agent's options.
man=$(cd "$(dirname "$0")/../.." && pwd)/tools/prfence/prfence.8
heads=$(awk '/^\.SH SUBCOMMANDS/ {on = 1; next} on && /^\.SH/ {on = 0} on && /^\.BR? / {print}' "$man" |
    sed 's/\\-/-/g')
subs=$("$P" --help 2>&1 | awk '/^Subcommands:/ {on = 1; next} on && NF {print $1}')
if [ "$(wc -w <<<"$subs")" -ge 20 ]; then ok; else bad "prfence --help lists too few subcommands: $subs"; fi
for s in $subs; do
    if grep -qw -- "$s" <<<"$heads"; then ok; else bad "prfence.8 SUBCOMMANDS does not document $s"; fi
done
for want in '^fence .*--claim' '^unfence --key' '^verify \[--key'; do
    if grep -E -- "$want" <<<"$(sed -E 's/^\.BR? //; s/\\f[BIR]//g' <<<"$heads")" >/dev/null; then ok; else
        bad "prfence.8: no /$want/ in SUBCOMMANDS"; fi
done

start_prsim --luns 32
L=sim:$sock:0-7 F=sim:$sock:8-15 G=sim:$sock:16-23

# ---- unfence: A registers and reserves (WE-RO by default); again changes only the generation.
check unfence_a 0 'unfence: 8 LUNs, 8 ok, 0 failed' -- unfence "${A[@]}" --key a "$L"
check unfence_note 0 'nobody held the LU: reserved it' -- unfence "${A[@]}" --key a "sim:$sock:9"
check unfence_held 0 'reserved by 0xa WE-RO' -- reservation "${B[@]}" "sim:$sock:3"
check unfence_again 0 '8 ok, 0 failed' -- unfence "${A[@]}" --key a -q "$L"
check unfence_gen 0 '0xa, generation 2' -- keys "${B[@]}" "sim:$sock:3"
check unfence_again_json 0 '"exit_code": 0' -- unfence "${A[@]}" --key a --json "sim:$sock:3"
# B unfences where A holds: registered, A's reservation kept (LU 3: three REGISTERs from A, one from B).
check unfence_b 0 '8 ok, 0 failed' -- unfence "${B[@]}" --key b --type EA -q "$L"
check unfence_b_kept 0 'reserved by 0xa WE-RO' -- reservation "${B[@]}" "sim:$sock:3"
check unfence_key0 1 '--key 0 cannot be registered' -- unfence "${A[@]}" --key 0 "$L"
check unfence_no_key 1 '--key is required' -- unfence "${A[@]}" "$L"

# ---- verify before the fence: A is still registered and holds the LUs.
check verify_registered 24 'not fenced: 0xa is still registered' -- verify "${B[@]}" --key b --victim a "$L"
check verify_registered_sum 24 '0 ok, 8 failed' -- verify "${B[@]}" --key b --victim a -q "$L"
check verify_registered_json 24 '"exit_code": 24' -- verify "${B[@]}" --key b --victim a --json "$L"
check verify_registered_json_row 24 '"step": "READ KEYS"' -- verify "${B[@]}" --key b --victim a --json "sim:$sock:0"
check verify_changes_nothing 0 '0xa 0xb, generation 4' -- keys "${B[@]}" "sim:$sock:3"
check verify_neither 1 'verify needs --victim' -- verify "${B[@]}" "$L"
check verify_same 1 'same key' -- verify "${B[@]}" --key b --victim b "$L"
check verify_victim0 1 '--victim 0 is not a key' -- verify "${B[@]}" --key b --victim 0 "$L"
check verify_no_type 1 'not expected: --type' -- verify "${B[@]}" --key b --type 3 "$L"

# ---- fence --claim, then verify passes, from either node.
check fence_claim 0 'fence: 8 LUNs, 8 ok, 0 failed' -- fence "${B[@]}" --key b --victim a --claim -q "$L"
check fence_claim_holder 0 'reserved by 0xb WE-RO' -- reservation "${A[@]}" "sim:$sock:5"
check verify_fenced 0 'verify: 8 LUNs, 8 ok, 0 failed' -- verify "${B[@]}" --key b --victim a "$L"
check verify_fenced_note 0 'fenced' -- verify "${B[@]}" --key b --victim a "sim:$sock:0"
check verify_fenced_json 0 '"exit_code": 0' -- verify "${B[@]}" --key b --victim a --json "$L"
# Our key from the cluster key file fence_scsi and fence_prfence keep.
printf 'b\n' >"$dir/cluster.key"
check key_file 0 'verify: 8 LUNs, 8 ok' -- verify "${B[@]}" --key-file "$dir/cluster.key" --victim a "$L"
check key_file_and_key 1 '--key and --key-file both' -- verify "${B[@]}" --key b --key-file "$dir/cluster.key" --victim a "$L"
check key_file_absent 1 "--key-file: .*$dir/none.key" -- unfence "${B[@]}" --key-file "$dir/none.key" "$L"
check verify_from_victim 0 '8 ok, 0 failed' -- verify "${A[@]}" --victim a -q "$L"
check verify_our_key 24 'our key 0xc is not registered' -- verify "${B[@]}" --key c "sim:$sock:0"
# No reservation: an unregistered node could still write.
check release 0 '1 ok' -- release "${B[@]}" --key b --type WE-RO "sim:$sock:0"
check verify_unreserved 24 'no reservation is held' -- verify "${B[@]}" --key b --victim a "sim:$sock:0"
# fence --claim where nobody is registered: we register and reserve, and say the victim was gone.
check claim_fresh 0 'already fenced.*nobody held the LU: reserved it' -- fence "${B[@]}" --key b --victim a --claim --type EA "sim:$sock:12"
check claim_fresh_held 0 'reserved by 0xb EA' -- reservation "${A[@]}" "sim:$sock:12"
check claim_json 0 '"note": "victim 0xa was not registered \(already fenced\); nobody held' -- fence "${B[@]}" --key b --victim a --claim --json "sim:$sock:13"
# Without --claim, our key unregistered is refused.
check no_claim_unregistered 24 'not registered here' -- fence "${B[@]}" --key b --victim a "sim:$sock:14"
check claim_key0 1 '--key 0 cannot be registered' -- fence "${B[@]}" --key 0 --victim a --claim "$F"

# ---- the same through prfenced.
"$D" --socket "$ctl" --config "$dir/prfenced.json" >"$dir/prfenced.log" 2>&1 &
dpid=$!
for _ in $(seq 200); do [ -S "$ctl" ] && "$P" --daemon="$ctl" health >/dev/null 2>&1 && break; sleep 0.05; done
[ -S "$ctl" ] || { echo "prfenced did not start:"; cat "$dir/prfenced.log"; exit 1; }
PD=(--daemon="$ctl")
check d_group_a 0 'nodeA: 8 LUNs' -- "${PD[@]}" group create nodeA --key a "${A[@]}" "$G"
check d_group_b 0 'nodeB: 8 LUNs' -- "${PD[@]}" group create nodeB --key b "${B[@]}" "$G"
check d_unfence 0 'unfence: 8 LUNs, 8 ok, 0 failed' -- "${PD[@]}" unfence nodeA
check d_unfence_again 0 '"exit_code": 0' -- "${PD[@]}" unfence --json nodeA
check d_held 0 'reserved by 0xa WE-RO' -- "${PD[@]}" reservation nodeB
check d_verify_not 24 'not fenced: 0xa is still registered' -- "${PD[@]}" verify --victim a nodeB
check d_verify_not_json 24 '"exit_code": 24' -- "${PD[@]}" verify --victim a --json nodeB
check d_fence_unregistered 24 'not registered here' -- "${PD[@]}" fence --victim a nodeB
check d_fence_claim 0 'fence: 8 LUNs, 8 ok, 0 failed' -- "${PD[@]}" fence --victim a --claim nodeB
check d_fence_claim_holder 0 'reserved by 0xb WE-RO' -- "${PD[@]}" reservation nodeA
check d_verify 0 'verify: 8 LUNs, 8 ok, 0 failed' -- "${PD[@]}" verify --victim a nodeB
check d_verify_json 0 '"exit_code": 0' -- "${PD[@]}" verify --victim a --json nodeB
check d_claim_key0 1 '--key 0 cannot be registered' -- "${PD[@]}" fence --key 0 --victim a --claim nodeB
check d_stats 0 'unfence' -- "${PD[@]}" stats
finish
