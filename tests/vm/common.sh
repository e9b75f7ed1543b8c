# shellcheck shell=bash disable=SC2034 # variables for the scripts that source this
# Host-side helpers shared by tests/vm/build-image.sh and tests/vm/run.sh (sourced, not run).
#
# Directories (all under the source tree's build/, which .gitignore covers):
#   PRFENCE_VM_CACHE  downloaded and extracted kernel packages, kept between runs   (build/vm-cache)
#   PRFENCE_VM_DIR    image layers, console log, files the guest hands back          (build/vm)

VM_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_ROOT=$(cd "$VM_SRC/../.." && pwd)
VM_CACHE=${PRFENCE_VM_CACHE:-$VM_ROOT/build/vm-cache}
VM_DIR=${PRFENCE_VM_DIR:-$VM_ROOT/build/vm}
VM_IMAGE=$VM_DIR/image

vm_log() { printf 'prfence-vm: %s\n' "$*" >&2; }
vm_die() { vm_log "error: $*"; exit 1; }

# Installs the named Debian packages that are missing. Returns non-zero (after saying why) when some
# cannot be installed, e.g. when not root; the caller decides whether that is fatal or a skip.
# Tries without `apt-get update` first: a fresh CI machine may have lists already, and an update costs
# seconds; if the install fails, updates once and retries.
vm_install_missing() {
    local pkg missing="" installed
    # One dpkg-query for all (process creation is slow on the test machines).
    installed=" $(dpkg-query -W -f='${Package}=${Status} ' "$@" 2>/dev/null || true)"
    for pkg in "$@"; do
        case $installed in *" $pkg=install ok installed "*) ;; *) missing="$missing $pkg" ;; esac
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        vm_log "missing packages:$missing (run as root, or install them with apt-get)"
        return 1
    fi
    vm_log "installing$missing"
    local log=/tmp/prfence-vm-apt.log
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    if ! apt-get install -y -q --no-install-recommends $missing >"$log" 2>&1; then
        vm_apt_update
        apt-get install -y -q --no-install-recommends $missing >>"$log" 2>&1 || {
            vm_log "apt-get install$missing failed; see $log"
            tail -20 "$log" >&2
            return 1
        }
    fi
}

# `apt-get update`, at most once per process tree (build-image.sh may need it for the kernel too).
vm_apt_update() {
    [ -n "${PRFENCE_VM_APT_UPDATED:-}" ] && return 0
    vm_log "apt-get update"
    apt-get update -q >>/tmp/prfence-vm-apt.log 2>&1 || vm_log "apt-get update failed (continuing)"
    export PRFENCE_VM_APT_UPDATED=1
}
