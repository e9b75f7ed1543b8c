#!/usr/bin/env bash
# fence_scsi when prsim is unreachable: stat() still shows the node (a dead device's node exists), so
# fence_scsi gets to run sg_turs and sg_persist, each of which fails; fence_scsi reports the failure and
# exits, without hanging.
. "$(dirname "$0")/lib.sh"
need_tools sg_persist sg_turs fence_scsi
T="timeout -k 5 30"
t0=$(date +%s%N)
out=$($T "$PRSIM_RUN" --socket "$TDIR/nobody.sock" --redirect "/var/run/cluster=$TDIR/cluster" -- \
    fence_scsi --action=status --devices=/dev/prsim/sda,/dev/prsim/sdb --key=abc123 2>&1); rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
{ [ "$rc" -eq 1 ] && grep -q 'Cannot get registration keys' <<<"$out"; } && ok ||
    { bad "fence_scsi without prsim: rc=$rc after ${ms} ms"; echo "$out"; }
finish
