#!/bin/bash
# The project's binaries (PRFENCE_VM_BINARIES on the host, /usr/local/bin here) start in the guest with the
# libraries build-image.sh copied for them. Skips when none were given.
. "${PRFENCE_VM_SUITE:-/prfence/suite}/lib.sh"

shopt -s nullglob
bins=(/usr/local/bin/*)
[ ${#bins[@]} -gt 0 ] || skip "no project binaries in this image (set PRFENCE_VM_BINARIES)"
for b in "${bins[@]}"; do
    [ -x "$b" ] || continue
    log "${b##*/} --help"
    QUIET=1 expect_rc 0 "$b" --help
    [ -n "$OUT" ] || fail "${b##*/} --help printed nothing"
done
if [ -x /usr/local/bin/prfence ]; then
    log "prfence decodes the unit attention a preempted node gets (fence_all.sh)"
    expect_rc 0 prfence decode --sense "70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00"
    expect_out 'REGISTRATIONS PREEMPTED'
fi
log "ok"
