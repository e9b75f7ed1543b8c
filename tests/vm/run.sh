#!/usr/bin/env bash
# Runs SCRIPT as root in a Debian guest kernel with a real SCSI stack and returns its exit status.
#   tests/vm/run.sh [SCRIPT [ARGS...]]      (default SCRIPT: tests/vm/suite/all.sh, the VM test suite)
#
# The guest (QEMU, TCG only: software emulation, no KVM) runs LIO exporting PRFENCE_VM_LUNS ramdisk LUs
# over iSCSI to two initiator sessions over loopback, node A and node B: two I_T nexuses on the same LUs.
# SCRIPT gets the device map and the rest through PRFENCE_VM_* variables (tests/vm/README.md).
#
# Environment:
#   PRFENCE_VM_LUNS      LUs to export (default 64)
#   PRFENCE_VM_TIMEOUT   seconds SCRIPT may run in the guest (default 900); QEMU itself is killed 300 s later
#   PRFENCE_VM_BINARIES  project binaries to install in the guest's /usr/local/bin (space-separated paths)
#   PRFENCE_VM_KERNEL    6.1 (default) or 6.12 or a linux-image-* package name (build-image.sh)
#   PRFENCE_VM_TOPOLOGY  single (default: one session per node) or multipath (node A logs in through a
#                        second portal too and dm-multipath gives it one map per LU; tests/vm/README.md)
#                        or nvme (nvmet over nvme-loop, PRFENCE_VM_LUNS namespaces, two hosts; no iSCSI; the
#                        kernel defaults to PRFENCE_VM_KERNEL=nvmet; tests/vm/README.md)
#   PRFENCE_VM_MEM, PRFENCE_VM_SMP  guest memory (MiB, default 1024) and CPUs (default 2)
#   PRFENCE_VM_QEMU      the QEMU binary (default qemu-system-x86_64)
#   PRFENCE_VM_SHARE     0: do not share build/vm/out over virtio-9p; the guest prints the files on the
#                        console instead (the fallback when QEMU has no 9p; for testing it)
# Output: build/vm/console.log (the serial console, also streamed to stdout), build/vm/out/ (the files the
# script left in $PRFENCE_VM_OUT, plus guest-dmesg.txt).
# Exit status: SCRIPT's (suite/all.sh: 77 when a guest test skipped); 124 if it timed out in the guest; 125
# if the guest could not be set up; 1 if the guest ended without reporting; 77 (skip) when
# qemu-system-x86_64 cannot run on this machine, or (PRFENCE_VM_KERNEL=nvmet) no kernel with nvmet
# reservations can be had (build-image.sh's exit status).
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LUNS=${PRFENCE_VM_LUNS:-64}
TIMEOUT=${PRFENCE_VM_TIMEOUT:-900}
MEM=${PRFENCE_VM_MEM:-1024}
SMP=${PRFENCE_VM_SMP:-2}
QEMU=${PRFENCE_VM_QEMU:-qemu-system-x86_64}
TOPOLOGY=${PRFENCE_VM_TOPOLOGY:-single}
CONSOLE=$VM_DIR/console.log
OUT=$VM_DIR/out

skip() { vm_log "SKIP: $*"; exit 77; }

# The only skip: no usable QEMU with TCG (not installed and not installable, or unable to start).
check_qemu() {
    [ "$QEMU" = qemu-system-x86_64 ] && ! command -v "$QEMU" >/dev/null && { vm_install_missing qemu-system-x86 || true; }
    command -v "$QEMU" >/dev/null || skip "$QEMU is not available (not installed, and not installable here)"
    "$QEMU" -version >/dev/null 2>&1 || skip "$QEMU does not run here: $("$QEMU" -version 2>&1 | head -n 1)"
    # Captured, not piped into grep -q: with pipefail, grep exiting early fails the pipeline (SIGPIPE).
    local accels
    accels=$("$QEMU" -accel help 2>/dev/null || true)
    [[ $'\n'$accels$'\n' == *$'\n'tcg$'\n'* ]] || skip "$QEMU has no TCG accelerator"
}

# The per-run initramfs layer: the script (and its arguments, one per line) under /prfence/run.
make_run_layer() {
    local script=$1 stage=$VM_DIR/stage-run
    shift
    rm -rf "$stage"
    mkdir -p "$stage/prfence/run"
    cp "$script" "$stage/prfence/run/$(basename "$script")"
    chmod 755 "$stage/prfence/run/$(basename "$script")"
    if [ $# -gt 0 ]; then printf '%s\n' "$@" >"$stage/prfence/run/args"; fi
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$VM_DIR/run.cpio"
}

# Writes the files the guest dumped on the console (used when there is no 9p share) into $OUT.
extract_console_files() {
    grep -q '^PRFENCE-VM-FILES-BEGIN' "$CONSOLE" || return 0
    sed -n '/^PRFENCE-VM-FILES-BEGIN/,/^PRFENCE-VM-FILES-END/p' "$CONSOLE" | sed '1d;$d' |
        base64 -d -i | tar -xzf - -C "$OUT" || vm_log "could not extract the files the guest printed"
}

main() {
    local script=${1:-$VM_SRC/suite/all.sh}
    [ $# -gt 0 ] && shift
    [ -f "$script" ] || vm_die "no such script: $script"
    case $LUNS in '' | *[!0-9]*) vm_die "PRFENCE_VM_LUNS=$LUNS is not a number" ;; esac
    case $TIMEOUT in '' | *[!0-9]*) vm_die "PRFENCE_VM_TIMEOUT=$TIMEOUT is not a number of seconds" ;; esac
    case $TOPOLOGY in single | multipath | nvme) ;; *) vm_die "PRFENCE_VM_TOPOLOGY=$TOPOLOGY: expected single, multipath or nvme" ;; esac

    mkdir -p "$VM_DIR"
    # One VM at a time per build tree: they share the image, the console log and out/.
    exec 9>"$VM_DIR/.lock"
    flock 9

    check_qemu
    local t0 kver
    t0=$(date +%s.%N)
    kver=$("$VM_SRC/build-image.sh")
    make_run_layer "$script" "$@"
    local -a layers=("$VM_IMAGE/base.cpio")
    [ "$TOPOLOGY" = multipath ] && layers+=("$VM_IMAGE/mp.cpio")
    [ "$TOPOLOGY" = nvme ] && layers+=("$VM_IMAGE/nvme.cpio")
    layers+=("$VM_IMAGE/project.cpio" "$VM_DIR/run.cpio")
    cat "${layers[@]}" >"$VM_DIR/initrd.cpio"
    local t1
    t1=$(date +%s.%N)
    vm_log "image ready in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s (kernel $kver)"

    rm -rf "$OUT"
    mkdir -p "$OUT"
    local -a share=()
    # Files come back over virtio-9p when this QEMU has it; otherwise the guest prints them on the console.
    local devices
    devices=$("$QEMU" -device help 2>/dev/null || true)
    if [ "${PRFENCE_VM_SHARE:-1}" != 0 ] && [[ $devices == *'"virtio-9p-pci"'* ]]; then
        share=(-virtfs "local,path=$OUT,mount_tag=prfence_out,security_model=none,id=prfence_out")
    fi

    # log_buf_len: with 128 disks the default 128 KiB ring loses the start of the boot log.
    local append="console=ttyS0 quiet panic=-1 log_buf_len=4M prfence.luns=$LUNS"
    append+=" prfence.script=/prfence/run/$(basename "$script") prfence.timeout=$TIMEOUT prfence.topology=$TOPOLOGY"
    vm_log "booting $LUNS LUs ($TOPOLOGY), running $(basename "$script") $* (console: $CONSOLE)"
    local qrc=0
    # --foreground keeps QEMU in this process group, so whoever stops this script (ctest's timeout, ^C)
    # stops QEMU too. stdin from /dev/null: QEMU must not grab a terminal. The lock's fd is closed for
    # QEMU. \r is stripped so that the log greps cleanly.
    timeout --foreground -k 10 $((TIMEOUT + 300)) "$QEMU" -accel tcg,thread=multi -cpu max -m "$MEM" \
        -smp "$SMP" -machine pc -no-user-config -nic none -nographic -no-reboot \
        -kernel "$VM_IMAGE/vmlinuz" -initrd "$VM_DIR/initrd.cpio" -append "$append" "${share[@]}" \
        </dev/null 9>&- 2>&1 | sed -u 's/\r$//' | tee "$CONSOLE" || qrc=${PIPESTATUS[0]}
    local t2
    t2=$(date +%s.%N)
    vm_log "QEMU ran $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')s"

    extract_console_files
    local marker rc
    marker=$(grep -a -o '^PRFENCE-VM-EXIT=[0-9]*' "$CONSOLE" | tail -n 1 || true)
    if [ -z "$marker" ]; then
        [ "$qrc" -eq 124 ] && vm_log "QEMU killed after $((TIMEOUT + 300))s"
        vm_log "FAIL: the guest ended without PRFENCE-VM-EXIT (QEMU status $qrc); last console lines:"
        tail -n 40 "$CONSOLE" >&2
        exit 1
    fi
    rc=${marker#*=}
    vm_log "guest script exit status $rc; files in $OUT"
    exit "$rc"
}

main "$@"
