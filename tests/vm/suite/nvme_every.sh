#!/bin/bash
# SPDX-License-Identifier: MIT
# The prfence subcommands that nvme_engine.sh and nvme_tools.sh leave out, on every NVMe namespace of
# the nvme topology against the kernel's nvmet: release, preempt (plain and --abort), takeover, verify,
# unfence and probe, from node A and node B. After every step that may change a namespace nvme-cli's
# extended report (nv_expect_state: generation, type, registrants by host ID) reads each namespace
# back; prfence's own JSON is checked field by field where it says something (the row's category, step,
# error or note, and the nvme object of its last Report). NVMe types: RTYPE 1 WE, 2 EA, 3 WE-RO.
#   0. every namespace clean (when one is not: A registers a throw-away key and clears them all);
#   1. release: A registers and reserves Exclusive Access, B registers; A's release with another type
#      (WE-RO) conflicts (exit 24, NVMe's Reservation Conflict in the row); B's release (a registrant
#      that does not hold) succeeds; neither changes anything; A's release with the right type frees
#      every namespace (RTYPE 0, both still registered, generation unchanged); verify --key A: exit 24,
#      no reservation held;
#   2. preempt: A reserves WE-RO; B preempts A without abort: A's registration is gone, B holds WE-RO;
#      A registers again and preempts B with --abort and another type (EA): only A, holding EA; B
#      registers and A (the holder) preempts B, a registrant that does not hold: B is gone, A keeps EA;
#   3. takeover: A releases the first half of the namespaces; B's takeover without --force is refused
#      (exit 1, the reason) and changes nothing; B's `takeover --force --type we` registers B, reserves
#      the unreserved half (A stays registered) and preempts A on the held half: B holds WE everywhere;
#      A, not registered on the second half, takes every namespace over (`takeover --force`, WE-RO):
#      only A, holding; each takeover's row carries its own Report of the result;
#   4. fence, verify, unfence: B fences A (`fence --claim`); verify --key B --victim A through A's
#      namespaces: exit 0, "fenced"; verify --key A: exit 24, A's key not registered; A unfences: A
#      registered again, B's reservation kept; verify --victim A through B's: exit 24, A still
#      registered;
#   5. probe against what A's O_DIRECT dd (block 0 of the block node) gets in the same state: WE-RO held
#      by B, A registered: A's probe ok, dd reads and writes; unreserved: probe ok from A and from B, dd
#      reads and writes; WE held by B, A registered and then not: A's probe exits 24 with the write
#      (Flush) refused and "reads are allowed", dd reads and its write fails with EBADE; EA held by B:
#      A's probe exits 24 on the read, dd's read and write fail with EBADE, B's probe ok;
#   6. B clears every namespace: no registrant, no reservation. The controllers' notification logs are
#      left to the next test (every NVMe test drains them before it starts).
# nvmet counts every successful Register in the generation (also one that changes nothing), a preempt
# that removes registrants, and a clear; never an acquire or a release.
# Writes nvme-every-<series>.txt: prfence's wall time per step.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"
. "$PRFENCE_VM_SUITE/nvme_lib.sh"
. "$PRFENCE_VM_SUITE/engine_lib.sh"

command -v prfence >/dev/null || skip "no prfence in this image (set PRFENCE_VM_BINARIES)"
N=${#NV_NSIDS[@]}
[ "$N" -ge 2 ] || skip "needs at least 2 namespaces (step 3 treats two halves differently); PRFENCE_VM_LUNS=$N"
H=$((N / 2))
REPORT=$PRFENCE_VM_OUT/nvme-every-$KSERIES.txt
echo "# kernel $(uname -r), $N namespaces" >"$REPORT"
D=/tmp/nvme-every
rm -rf "$D"
mkdir -p "$D"
# The index of each NSID in NV_NSIDS (the halves of step 3 are index ranges).
declare -A IDX_OF=()
for ((i = 0; i < N; i++)); do IDX_OF[${NV_NSIDS[$i]}]=$i; done

bump() { nv_bump "$@"; } # BY [FROM COUNT]: nvme_lib.sh's nv_bump
# expect_ns FROM COUNT RTYPE [NODE:KEY:HOLDS ...]: nvme-cli's report of those namespaces (through A's
# generic nodes, which no prfence run below is given but where said) shows GEN_OF, RTYPE and exactly
# these registrants (as nv_expect_state, whose words these are). expect_all: every namespace. One awk
# reads every report of the pass (nvme_lib.sh's nv_report forks a few times per namespace, which under
# TCG costs more than nvme-cli itself); on a mismatch nv_expect_state reads that namespace again and
# says what differs (with SOFT=1: returns 1 instead). A namespace without GEN_OF gets the generation
# read.
expect_ns() {
    local from=$1 count=$2 rtype=$3 i want nsid gen rt regctl words failed=0
    shift 3
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
    want=${want% }
    local -a lines=()
    mapfile -t lines < <(
        for ((i = from; i < from + count; i++)); do
            nv_ns "${NV_NSIDS[$i]}"
            echo "@ $NSID"
            nvme resv-report "$A_NG" --namespace-id="$NSID" --eds -o json 2>&1 || echo "@rc $?"
        done | awk -v ha="$HOSTID_A" -v hb="$HOSTID_B" '
            function flush(   j, k, t, w) {
                if (ns == "") return
                for (j = 1; j <= n; j++) for (k = j + 1; k <= n; k++) if (r[k] < r[j]) { t = r[j]; r[j] = r[k]; r[k] = t }
                w = ""; for (j = 1; j <= n; j++) w = w (j > 1 ? " " : "") r[j]
                print ns, (bad != "" ? "x" : g), t_, rc, n "|" w
            }
            { gsub(/[ ",\t]/, "") }
            /^@/ { if ($0 ~ /^@rc/) { bad = 1; next } flush(); ns = substr($0, 2); n = 0; g = t_ = rc = h = bad = ""; next }
            { split($0, f, ":") }
            f[1] == "gen" { g = f[2] } f[1] == "rtype" { t_ = f[2] } f[1] == "regctl" { rc = f[2] }
            f[1] == "rkey" { k = f[2] } f[1] == "rcsts" { s = f[2] } f[1] == "hostid" { h = f[2] }
            $0 == "}" && h != "" { r[++n] = (h == ha ? "A" : h == hb ? "B" : "?" h) ":" k ":" (s % 2); h = "" }
            END { flush() }'
    )
    [ ${#lines[@]} -eq "$count" ] || fail "read ${#lines[@]} reports of $count namespaces"
    for i in "${lines[@]}"; do
        read -r nsid gen rt regctl words <<<"${i%%|*}"
        words=${i#*|}
        [ -n "${GEN_OF[$nsid]:-}" ] || GEN_OF[$nsid]=$gen
        if [ "$gen" != "${GEN_OF[$nsid]}" ] || [ "$rt" != "$rtype" ] || [ "$words" != "$want" ] ||
            [ "$regctl" != "$#" ]; then
            log "  NSID $nsid: nvme-cli says gen $gen, rtype $rt, regctl $regctl, registrants [$words]"
            failed=$nsid
        fi
    done
    if [ "$failed" != 0 ]; then
        [ -z "${SOFT:-}" ] || return 1
        nv_ns "$failed"
        nv_expect_state "$A_NG" "${GEN_OF[$NSID]}" "$rtype" "$@"
        fail "NSID $failed: want gen ${GEN_OF[$NSID]}, rtype $rtype, registrants [$want]"
    fi
    log "  nvme-cli: namespaces #$from-#$((from + count - 1)) at their generations, rtype $rtype, registrants [$want]"
}
expect_all() { expect_ns 0 "$N" "$@"; }

# Rows of the last pj. rows_are FIELD WANT: every row has FIELD == WANT; rows_like FIELD GLOB: every
# row's FIELD matches GLOB; rows_unlike FIELD GLOB: no row's does. Each fails on a run without rows.
rows_check() { # MODE FIELD WANT
    local i=0 v
    while [ -n "${J[luns.$i.device]:-}" ]; do
        v=${J[luns.$i.$2]:-}
        # shellcheck disable=SC2053 # $3 is a glob for like and unlike
        case $1 in
            is) [ "$v" = "$3" ] ;;
            like) [[ $v == $3 ]] ;;
            unlike) [[ $v != $3 ]] ;;
        esac || { show_last; fail "${J[luns.$i.device]}: $2='$v' (want $1 '$3')"; }
        i=$((i + 1))
    done
    [ "$i" -gt 0 ] || { show_last; fail "no rows in prfence's output"; }
}
rows_are() { rows_check is "$@"; }
rows_like() { rows_check like "$@"; }
rows_unlike() { rows_check unlike "$@"; }
# rows_nvme FROM COUNT RTYPE [NODE:KEY:HOLDER ...]: the rows of the namespaces FROM..FROM+COUNT-1
# (by NSID) have prfence's Report of them in their nvme object: generation GEN_OF, RTYPE and exactly
# these registrants (NODE by host ID, KEY as prfence prints it, HOLDER true or false). There must be
# COUNT such rows.
rows_nvme() {
    local from=$1 count=$2 rtype=$3 i=0 j k h seen=0 got want
    shift 3
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
    while [ -n "${J[luns.$i.device]:-}" ]; do
        nv_dev_nsid "${J[luns.$i.device]}"
        k=${IDX_OF[$REPLY]}
        if ((k >= from && k < from + count)); then
            seen=$((seen + 1))
            local -a w=()
            for ((j = 0; ; j++)); do
                h=${J[luns.$i.nvme.registrants.$j.hostid]:-}
                [ -n "$h" ] || break
                nv_node_of_hostid "$h"
                w+=("$REPLY:${J[luns.$i.nvme.registrants.$j.key]:-}:${J[luns.$i.nvme.registrants.$j.holder]:-}")
            done
            got=$(printf '%s\n' "${w[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
            nv_dev_nsid "${J[luns.$i.device]}"
            if [ "${J[luns.$i.nvme.rtype]:-}" != "$rtype" ] || [ "$got" != "$want" ] ||
                [ "${J[luns.$i.nvme.generation]:-}" != "${GEN_OF[$REPLY]}" ]; then
                show_last
                fail "${J[luns.$i.device]} (NSID $REPLY): prfence's nvme object has generation" \
                    "${J[luns.$i.nvme.generation]:-?}, rtype ${J[luns.$i.nvme.rtype]:-?}, registrants [$got];" \
                    "want ${GEN_OF[$REPLY]}, $rtype, [$want]"
            fi
        fi
        i=$((i + 1))
    done
    [ "$seen" -eq "$count" ] || { show_last; fail "$seen rows for namespaces #$from-#$((from + count - 1)), want $count"; }
}
# conflict_rows STEP ERROR_GLOB: the last pj exited 24 with every row failed as a reservation conflict
# at STEP, its error matching ERROR_GLOB.
conflict_rows() {
    [ "$RC" -eq 24 ] || { show_last; fail "exit $RC, want 24 (reservation conflict)"; }
    [ "${J[summary.failed]:-}" = "${J[summary.luns]:-x}" ] || { show_last; fail "not every row failed"; }
    rows_are ok false
    rows_are category "reservation conflict"
    rows_are step "$1"
    rows_like error "$2"
    log "  every row: reservation conflict at $1: ${J[luns.0.error]}"
}
# dd_expect DEVS READ WRITE: A's O_DIRECT read and write of block 0 (4 KiB) on each device of the
# array DEVS: `ok` or `EBADE` (busybox dd's "Invalid exchange"), as READ and WRITE say.
dd_expect() {
    local -n devs=$1
    local d what want rc msg
    for d in "${devs[@]}"; do
        for what in read write; do
            if [ $what = read ]; then
                want=$2
                dd if="$d" of=/dev/null bs=4096 count=1 iflag=direct 2>"$D/dd" && rc=0 || rc=$?
            else
                want=$3
                dd if=/dev/zero of="$d" bs=4096 count=1 oflag=direct 2>"$D/dd" && rc=0 || rc=$?
            fi
            msg=$(<"$D/dd")
            case $want in
                ok) [ "$rc" -eq 0 ] ;;
                EBADE) [ "$rc" -ne 0 ] && [[ $msg == *"Invalid exchange"* ]] ;;
            esac || { RC=$rc OUT=$msg show_last; fail "A's dd $what on $d: want $want"; }
        done
    done
    log "  A's dd on ${#devs[@]} namespaces: read $2, write $3"
}

log "0. every namespace clean (or A registers a throw-away key and clears it)"
if ! SOFT=1 expect_all 0; then
    expect_pj 0 register --key feedf00d --ignore-existing "${A_NSS[@]}"
    expect_pj 0 clear --key feedf00d "${A_NSS[@]}"
    GEN_OF=()
    expect_all 0
fi
log "$N namespaces; node A ${A_NSS[0]}.., node B ${B_NSS[0]}..; generations ${GEN_OF[*]}"

log "1. release: A holds Exclusive Access, B registered; the wrong type, a non-holder, the right type"
expect_pj 0 register --key $KEY_A "${A_NSS[@]}"
bump 1
expect_pj 0 reserve --key $KEY_A --type ea "${A_NSS[@]}"
expect_pj 0 register --key $KEY_B "${B_NSS[@]}"
bump 1
pj release --key $KEY_A --type we-ro "${A_NSS[@]}"
conflict_rows RELEASE "NVMe Reservation Conflict (0x4083)"
rows_are nvme.status "Reservation Conflict (0x4083)"
expect_pj 0 release --key $KEY_B --type ea "${B_NSS[@]}"
rows_are ok true
# Neither release changed anything: same generation, A still holding.
expect_all 2 "A:$NV_KEY_A:1" "B:$NV_KEY_B:0"
expect_pj 0 release --key $KEY_A --type ea "${A_NSS[@]}"
record "release by A (EA): $N namespaces in ${J[summary.wall_ms]} ms"
expect_all 0 "A:$NV_KEY_A:0" "B:$NV_KEY_B:0"
pj verify --key $KEY_A "${A_NGS[@]}"
conflict_rows "READ RESERVATION" "no reservation is held*"

log "2. preempt: B preempts A (no abort); A preempts B with --abort and another type; A preempts B, not holding"
expect_pj 0 reserve --key $KEY_A --type we-ro "${A_NSS[@]}"
expect_pj 0 preempt --key $KEY_B --victim $KEY_A --type we-ro "${B_NSS[@]}"
record "preempt by B (no abort): $N namespaces in ${J[summary.wall_ms]} ms"
rows_are commands 1
bump 1
expect_all 3 "B:$NV_KEY_B:1"
expect_pj 0 register --key $KEY_A "${A_NSS[@]}"
bump 1
expect_pj 0 preempt --key $KEY_A --victim $KEY_B --type ea --abort "${A_NGS[@]}"
record "preempt --abort by A (EA): $N namespaces in ${J[summary.wall_ms]} ms"
bump 1
expect_all 2 "A:$NV_KEY_A:1"
expect_pj 0 register --key $KEY_B "${B_NSS[@]}"
bump 1
expect_pj 0 preempt --key $KEY_A --victim $KEY_B --type ea --abort "${A_NSS[@]}"
bump 1
expect_all 2 "A:$NV_KEY_A:1"

log "3. takeover: half the namespaces unreserved; B's without --force refused; B's and A's with --force"
PJ_LUNS=$H expect_pj 0 release --key $KEY_A --type ea "${A_NSS[@]:0:H}"
run prfence takeover --key $KEY_B --type we "${B_NSS[@]}"
[ "$RC" -eq 1 ] || { show_last; fail "takeover without --force: exit $RC, want 1"; }
expect_out 'add --force if that is what you want'
expect_ns 0 "$H" 0 "A:$NV_KEY_A:0"
expect_ns "$H" $((N - H)) 2 "A:$NV_KEY_A:1"
expect_pj 0 takeover --key $KEY_B --force --type we "${B_NSS[@]}"
record "takeover by B (WE; half reserved, half preempted): $N namespaces in ${J[summary.wall_ms]} ms"
bump 1 0 "$H"          # B's Register; then a Reserve
bump 2 "$H" $((N - H)) # B's Register, the preempt that removed A
rows_nvme 0 "$H" 1 "A:0x$KEY_A:false" "B:0x$KEY_B:true"
rows_nvme "$H" $((N - H)) 1 "B:0x$KEY_B:true"
rows_are reservation.key "0x$KEY_B"
rows_are reservation.type WE
expect_ns 0 "$H" 1 "A:$NV_KEY_A:0" "B:$NV_KEY_B:1"
expect_ns "$H" $((N - H)) 1 "B:$NV_KEY_B:1"
expect_pj 0 takeover --key $KEY_A --force "${A_NGS[@]}"
record "takeover by A (registered on half): $N namespaces in ${J[summary.wall_ms]} ms"
bump 2 # A's Register, the preempt that removed B
rows_nvme 0 "$N" 3 "A:0x$KEY_A:true"
rows_are reservation.type WE-RO
expect_all 3 "A:$NV_KEY_A:1"

log "4. B fences A; verify from both nodes; A unfences"
expect_pj 0 fence --key $KEY_B --victim $KEY_A --claim "${B_NSS[@]}"
bump 2 # B's Register, the preempt
expect_all 3 "B:$NV_KEY_B:1"
expect_pj 0 verify --key $KEY_B --victim $KEY_A "${A_NSS[@]}"
rows_are note fenced
rows_nvme 0 "$N" 3 "B:0x$KEY_B:true"
log "  verify through A's namespaces: fenced everywhere"
pj verify --key $KEY_A "${A_NGS[@]}"
conflict_rows "READ KEYS" "our key 0x$KEY_A is not registered"
expect_pj 0 unfence --key $KEY_A "${A_NSS[@]}"
record "unfence by A: $N namespaces in ${J[summary.wall_ms]} ms"
bump 1
rows_nvme 0 "$N" 3 "A:0x$KEY_A:false" "B:0x$KEY_B:true"
rows_are reservation.key "0x$KEY_B"
expect_all 3 "A:$NV_KEY_A:0" "B:$NV_KEY_B:1"
pj verify --victim $KEY_A "${B_NGS[@]}"
conflict_rows "READ KEYS" "not fenced: 0x$KEY_A is still registered"

log "5. probe from both nodes against A's O_DIRECT dd, state by state"
# probe_ok DEVS: probe exits 0 with every row ok, "read and write access".
probe_ok() {
    local -n pdevs=$1
    expect_pj 0 probe "${pdevs[@]}"
    rows_are note "read and write access"
}
# probe_refused STEP write|read: A's probe exits 24, every row refused at STEP with NVMe's Reservation
# Conflict: the write (Flush), whose error adds that reads are allowed; or the read, whose does not.
probe_refused() {
    pj probe "${A_NSS[@]}"
    conflict_rows "$1" "NVMe Reservation Conflict (0x[46]083)*"
    rows_like nvme.status "Reservation Conflict (0x[46]083)"
    if [ "$2" = write ]; then rows_like error "* (reads are allowed[)]"; else rows_unlike error "*reads are allowed*"; fi
}
log "   WE-RO held by B, A registered"
probe_ok A_NSS
dd_expect A_NSS ok ok
expect_pj 0 release --key $KEY_B --type we-ro "${B_NSS[@]}"
expect_all 0 "A:$NV_KEY_A:0" "B:$NV_KEY_B:0"
log "   unreserved"
probe_ok A_NSS
probe_ok B_NGS
dd_expect A_NSS ok ok
expect_pj 0 reserve --key $KEY_B --type we "${B_NSS[@]}"
expect_all 1 "A:$NV_KEY_A:0" "B:$NV_KEY_B:1"
log "   WE held by B, A registered"
probe_refused "SYNCHRONIZE CACHE(10)" write
dd_expect A_NSS ok EBADE
expect_pj 0 unregister --key $KEY_A "${A_NSS[@]}"
bump 1
expect_all 1 "B:$NV_KEY_B:1"
log "   WE held by B, A not registered"
probe_refused "SYNCHRONIZE CACHE(10)" write
dd_expect A_NSS ok EBADE
expect_pj 0 release --key $KEY_B --type we "${B_NSS[@]}"
expect_pj 0 reserve --key $KEY_B --type ea "${B_NSS[@]}"
expect_all 2 "B:$NV_KEY_B:1"
log "   EA held by B, A not registered"
probe_refused "READ(10)" read
probe_ok B_NGS
dd_expect A_NSS EBADE EBADE

log "6. B clears every namespace"
expect_pj 0 clear --key $KEY_B "${B_NSS[@]}"
bump 1
expect_all 0
log "PASS (record: $REPORT)"
