# shellcheck shell=bash
# Debian 12 packages prfence needs, installed only when missing. Sourced by tools/quickstart.sh and
# tests/run.sh; `prfence_install_deps build|test|demo ...` installs the named sets.
#   build: compiler, CMake/Ninja, and the libraries prfence links (liburing, libnl-3, CLI11, nlohmann-json;
#          nettle-dev for MD5: fence_prfence derives fence_scsi's reservation keys from md5 of the
#          cluster and node names, and a maintained crypto library does that rather than our own MD5)
#   test:  GoogleTest/GoogleMock, Google Benchmark, clang + libFuzzer runtime, clang-format and shellcheck
#          (the style tests), qemu-system-x86 (the QEMU guest suite) with xz-utils and zstd (the guest
#          kernels' compressed modules, unpacked for busybox insmod), sg3-utils (reference vectors;
#          with fence-agents' fence_scsi also the unmodified tools the compat tests run through
#          libprinterpose), python3 (test scripts), groff-base (man pages rendered without warnings),
#          libxml2-utils (xmllint checks fence_prfence's metadata against fence-agents' metadata.rng),
#          nvme-cli (the unmodified tool the NVMe CLI test runs on prsim's namespaces through the shim)
#   demo:  what tools/quickstart.sh uses besides the build: python3 (its summaries), sg3-utils (the
#          sg_persist loop it compares with), nvme-cli (reads prsim's namespaces back through the shim)

# Read through ${!var} in prfence_install_deps.
# shellcheck disable=SC2034
prfence_pkgs_build="g++ cmake ninja-build pkg-config liburing-dev libnl-3-dev libcli11-dev nlohmann-json3-dev nettle-dev"
prfence_pkgs_test="libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev clang-format shellcheck sg3-utils fence-agents python3 groff-base libxml2-utils qemu-system-x86 xz-utils zstd nvme-cli"
prfence_pkgs_demo="python3 sg3-utils nvme-cli"

prfence_install_deps() {
    local want="" set pkg missing=""
    for set in "$@"; do
        local var="prfence_pkgs_${set}"
        want="$want ${!var}"
    done
    for pkg in $want; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "prfence: missing packages:$missing (run as root, or install them with apt-get)" >&2
        return 1
    fi
    echo "prfence: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends $missing >/tmp/prfence-apt.log 2>&1; then
        apt-get update -q >/tmp/prfence-apt.log 2>&1 || true
        apt-get install -y -q --no-install-recommends $missing >>/tmp/prfence-apt.log 2>&1 || {
            echo "prfence: apt-get install failed; see /tmp/prfence-apt.log" >&2
            tail -20 /tmp/prfence-apt.log >&2
            return 1
        }
    fi
}

# cluster: a real single-node Corosync + Pacemaker for the tests/cluster suite (pacemakerd, the fencer,
# stonith_admin, cibadmin, crm_attribute, crm_mon). Installed with prfence_install_cluster_deps, never
# with prfence_install_deps alone: the corosync and pacemaker postinsts start their daemons through
# invoke-rc.d, which a policy-rc.d that exits 101 refuses. One is put in place for the install when the
# machine has none, and removed afterwards; an existing one is left as it is.
# shellcheck disable=SC2034
prfence_pkgs_cluster="pacemaker pacemaker-cli-utils corosync"

prfence_install_cluster_deps() {
    local rc=0 guard=/usr/sbin/policy-rc.d placed=0
    if [ ! -e "$guard" ] && [ "$(id -u)" -eq 0 ]; then
        printf '#!/bin/sh\n# prfence: no daemon starts during this install\nexit 101\n' >"$guard" &&
            chmod 0755 "$guard" && placed=1
    fi
    prfence_install_deps cluster || rc=$?
    [ "$placed" = 1 ] && rm -f "$guard"
    return "$rc"
}
