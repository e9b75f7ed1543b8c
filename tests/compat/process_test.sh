#!/usr/bin/env bash
# libprinterpose inside processes that do more than one thing at a time: many threads issuing
# SG_IO (each answer checked against its LU's serial number, so a mixed-up answer fails), sg v3
# asynchronous write()/poll()/select()/read() with the 16-command queue limit and pack_id, fork
# (the child's own connection, the inherited descriptor) and exec (the shim inherited through the
# environment), and Python (a child process of python3, as fence_scsi runs sg_persist).
. "$(dirname "$0")/lib.sh"
: "${SHIM_PROBE:?}"
need_tools sg_persist python3
start_prsim --luns 64 --fault 'latency,dist=uniform,min_us=50,max_us=2000'

expect_re threads 0 '^threads: 1536 commands ok$' -- A "$SHIM_PROBE" threads /dev/prsim 64 16 48
expect_re async 0 '^async: 16 queued, 17th EDOM, 16 completions$' -- A "$SHIM_PROBE" async /dev/prsim/sg5
expect_re fork 0 '^fork: parent, child and exec.d child all reached 55a7f4e000000007$' -- A "$SHIM_PROBE" fork /dev/prsim/sg7
# A stat of the nodes: kinds and the kernel's device numbers; an LU the farm lacks does not exist.
expect stat_nodes 0 "chr 21:0
chr 21:63
blk 8:0
blk 8:240
blk 65:0
blk 65:160
dir 0:0
No such file or directory
No such file or directory" -- A sh -c "for p in sg0 sg63 sda sdp sdq sdaa '' sg64 sdbm; do \"$SHIM_PROBE\" stat /dev/prsim/\$p; done"
# Python: os.stat / realpath as fence_scsi uses them, and a subprocess (sg_persist) that inherits
# the shim; PR state made by the child is seen by the parent's own SG_IO-free check via a second
# child.
expect python 0 "True /dev/prsim/sdc
  PR generation=0x1, 1 registered reservation key follows:
    0x5eed" -- A python3 -c '
import os, stat, subprocess
d = "/dev/prsim/sdc"
print(stat.S_ISBLK(os.stat(d).st_mode), os.path.realpath(d))
subprocess.run(["sg_persist", "-n", "-o", "-G", "-S", "5eed", d], check=True)
print(subprocess.run(["sg_persist", "-n", "-i", "-k", d], check=True, capture_output=True, text=True).stdout, end="")'
# Many processes at once against the same LUs (one connection each).
out=$(for i in $(seq 0 15); do A sg_persist -n -i -k /dev/prsim/sg$((i % 4)) & done; wait)
[ "$(grep -c 'PR generation=0x0' <<<"$out")" -eq 12 ] && ok || { bad "16 parallel sg_persist"; echo "$out"; }
finish
