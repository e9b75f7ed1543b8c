#!/usr/bin/env bash
# libprinterpose one unit at a time, through the system calls a program makes: the descriptor
# table (dup, dup2, F_DUPFD, close_range, numbers above 65535), the sg node (its errors, settings
# and ioctls) and the disk node (byte-offset I/O over whole blocks, the file position, the block
# ioctls and the SCSI ioctls it shares with sg nodes). Needs no Debian tool.
. "$(dirname "$0")/lib.sh"
: "${SHIM_PROBE:?}"
start_prsim --luns 4

expect fdtable 0 "fdtable: ok" -- A "$SHIM_PROBE" fdtable /dev/prsim/sg1
expect sgnode 0 "sgnode: ok" -- A "$SHIM_PROBE" sgnode /dev/prsim/sg2
expect disknode 0 "disknode: ok" -- A "$SHIM_PROBE" disknode /dev/prsim/sdd
finish
