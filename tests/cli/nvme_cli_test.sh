#!/bin/bash
# SPDX-License-Identifier: MIT
# Debian's unmodified nvme-cli on prsim's NVMe namespaces through prsim-run: two hosts (their own
# host NQN and identifier each) register, report, acquire, conflict, preempt and abort, release;
# exit codes (nvme-cli: 0, or 1 for any failure), the NVMe status nvme-cli prints on stderr,
# Identify, feature 81h, names from a map file, the trace lines, and prsim gone.
# Usage: nvme_cli_test.sh PRSIM PRSIM_RUN
S=$1
RUN=$2
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
if ! command -v nvme >/dev/null 2>&1; then
    echo "nvme-cli is not installed (tools/deps.sh test set: nvme-cli)"
    exit 77
fi

start_prsim --luns 1 --nvme-namespaces 2 --trace "$dir/trace" --kernel-format 6.12
HA=nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-4000-8000-000000000001
HB=nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-4000-8000-000000000002
NA=("$RUN" --socket "$sock" --hostnqn "$HA" --)
NB=("$RUN" --socket "$sock" --hostnqn "$HB" --)
NS=/dev/prsim/nvme0n1

# expect CODE WHAT CMD...: CMD's exit status is CODE; its stdout and stderr are kept in $out / $err.
out='' err=''
expect() {
    local want=$1 what=$2 rc
    shift 2
    "$@" >"$dir/out" 2>"$dir/err"
    rc=$?
    out=$(cat "$dir/out") err=$(cat "$dir/err")
    if [ "$rc" -eq "$want" ]; then ok; else bad "$what: exit $rc, want $want; stdout: $out; stderr: $err"; fi
}
has() {  # has WHAT TEXT NEEDLE
    case "$2" in *"$3"*) ok ;; *) bad "$1: '$3' not in: $2" ;; esac
}
same() {  # same WHAT GOT WANT
    if [ "$2" = "$3" ]; then ok; else bad "$1: got $2, want $3"; fi
}
in_trace() {  # in_trace WHAT LINE-PART
    if grep -qF "$2" "$dir/trace"; then ok; else bad "$1: no trace line with: $2"; fi
}
# report_json: `resv-report --eds -o json` as host B sees it.
report_json() {
    "${NB[@]}" nvme resv-report "$NS" --eds -o json 2>"$dir/rerr"
}
field() {  # field JSON EXPR (python expression over the parsed report r)
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2" <<<"$1"
}

expect 0 "A registers" "${NA[@]}" nvme resv-register "$NS" --crkey=0 --nrkey=0xa --rrega=0
has "A registers" "$out" "NVME Reservation  success"
expect 0 "B registers" "${NB[@]}" nvme resv-register "$NS" --nrkey=0xb --rrega=0
expect 1 "A registers another key" "${NA[@]}" nvme resv-register "$NS" --nrkey=0xc --rrega=0
has "A registers another key" "$err" "NVMe status: Reservation Conflict"
has "A registers another key" "$err" "(0x4083)"

r=$(report_json)
same "report after two registrations" "$(field "$r" 'r["gen"], r["regctl"], r["rtype"]')" "(2, 2, 0)"
same "report entries" "$(field "$r" '[(e["rkey"], e["hostid"], e["cntlid"]) for e in r["regctlext"]]')" \
    "[(10, 'aaaaaaaa000040008000000000000001', 65535), (11, 'bbbbbbbb000040008000000000000002', 65535)]"
# nvme-cli 2.3 does not ask for the extended layout by itself; prsim answers as nvmet does.
expect 1 "report without --eds" "${NA[@]}" nvme resv-report "$NS"
has "report without --eds" "$err" "Host Identifier Inconsistent Format"
has "report without --eds" "$err" "(0x6018)"

expect 0 "A acquires Exclusive Access" "${NA[@]}" nvme resv-acquire "$NS" --crkey=0xa --rtype=2 --racqa=0
has "A acquires" "$out" "NVME Reservation Acquire success"
expect 1 "B acquires while A holds" "${NB[@]}" nvme resv-acquire "$NS" --crkey=0xb --rtype=2 --racqa=0
has "B acquires while A holds" "$err" "(0x4083)"
expect 1 "B with a wrong key" "${NB[@]}" nvme resv-acquire "$NS" --crkey=0xbad --prkey=0xa --rtype=2 --racqa=2
has "B with a wrong key" "$err" "Reservation Conflict"
expect 0 "B preempts and aborts A" "${NB[@]}" nvme resv-acquire "$NS" --crkey=0xb --prkey=0xa --rtype=2 --racqa=2
r=$(report_json)
same "report after the preemption" \
    "$(field "$r" 'r["gen"], r["rtype"], [(e["rkey"], e["rcsts"]) for e in r["regctlext"]]')" "(3, 2, [(11, 1)])"
expect 1 "A, preempted, releases" "${NA[@]}" nvme resv-release "$NS" --crkey=0xa --rtype=2 --rrela=0
has "A, preempted, releases" "$err" "(0x4083)"
expect 1 "B releases with the wrong type" "${NB[@]}" nvme resv-release "$NS" --crkey=0xb --rtype=1 --rrela=0
expect 0 "B releases" "${NB[@]}" nvme resv-release "$NS" --crkey=0xb --rtype=2 --rrela=0
has "B releases" "$out" "NVME Reservation Release success"
r=$(report_json)
same "report after release" "$(field "$r" 'r["gen"], r["rtype"], r["regctl"]')" "(3, 0, 1)"
# prsim ctl nvme: the namespace's state as prsim holds it.
expect 0 "prsim ctl nvme" "$S" ctl --socket "$sock" nvme
same "prsim ctl nvme" "$(field "$out" '[(n["nsid"], n["generation"], n["rtype"], len(n["registrants"])) for n in r["nvme"]["namespaces"]]')" \
    "[(1, 3, 0, 1), (2, 0, 0, 0)]"
# Namespace 2 is untouched.
expect 0 "report of namespace 2" "${NA[@]}" nvme resv-report /dev/prsim/nvme0n2 --eds -o json
same "namespace 2" "$(field "$out" 'r["gen"], r["regctl"]')" "(0, 0)"

# Identify, the host identifier feature, the controller node.
expect 0 "id-ns" "${NA[@]}" nvme id-ns "$NS"
has "id-ns" "$out" "rescap  : 0xfe"
has "id-ns" "$out" "nsze    : 0x800"
expect 1 "id-ns of a namespace the farm lacks" "${NA[@]}" nvme id-ns /dev/prsim/nvme0n3
has "id-ns of a namespace the farm lacks" "$err" "No such file or directory"
expect 0 "id-ctrl" "${NA[@]}" nvme id-ctrl /dev/prsim/nvme0
has "id-ctrl" "$out" "subnqn    : nqn.2026-12.io.prfence:prsim"
has "id-ctrl" "$out" "nn        : 2"
expect 0 "host identifier" "${NB[@]}" nvme get-feature /dev/prsim/nvme0 -f 0x81 -c 1
has "host identifier" "$out" "bb bb bb bb 00 00 40 00 80 00 00 00 00 00 00 02"

# A name from a map file, and a host given by its identifier only.
echo "$dir/nvme-shared 1 nvme" >"$dir/map"
expect 0 "report through a mapped name" "$RUN" --socket "$sock" --map "$dir/map" \
    --hostid cccccccc-0000-4000-8000-000000000003 -- nvme resv-register "$dir/nvme-shared" --nrkey=0x5 --rrega=0
r=$(report_json)
same "host from --hostid" "$(field "$r" '[e["hostid"] for e in r["regctlext"]][-1]')" \
    "cccccccc000040008000000000000003"

# The trace: nvme_setup_cmd / nvme_complete_rq lines, per host nvme0 (A) and nvme1 (B).
in_trace "A's register" "nvme_setup_cmd: nvme0: disk=nvme0n1, qid=1, cmdid=0, nsid=1, flags=0x0, \
meta=0x0, cmd=(nvme_cmd_resv_register rrega=0:register, iekey=0, ptpl=0)"
in_trace "B's conflict" "nvme_complete_rq: nvme1: disk=nvme1n1, qid=1, cmdid=0, res=0, retries=0, \
flags=0x0, status=0x4083"

# prsim gone: nvme-cli fails, exit 1.
stop_prsim
expect 1 "report with prsim gone" "${NA[@]}" nvme resv-report "$NS" --eds
has "report with prsim gone" "$err" "prsim-shim:"
finish
