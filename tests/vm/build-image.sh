#!/usr/bin/env bash
# Builds the guest that tests/vm/run.sh boots: a Debian kernel and an initramfs in two cpio layers.
#   build/vm/image/vmlinuz        the kernel, from Debian's linux-image package (cached in build/vm-cache)
#   build/vm/image/base.cpio      busybox-static, bash, the kernel modules the guest loads, iscsistart,
#                                 sg3-utils, and their shared libraries
#   build/vm/image/project.cpio   guest/init as /init, guest/*.sh in /prfence/lib, suite/ in /prfence/suite,
#                                 $PRFENCE_VM_BINARIES (+ their libraries) in /usr/local/bin
#   build/vm/image/mp.cpio        only for PRFENCE_VM_TOPOLOGY=multipath: multipath-tools, dmsetup, udevd
#                                 and the udev rules they need, the device-mapper modules (packages fetched
#                                 with apt-get download and kept extracted in build/vm-cache/mp)
#   build/vm/image/nvme.cpio      only for PRFENCE_VM_TOPOLOGY=nvme: nvme-cli and the NVMe host and target
#                                 modules (nvme-image.sh)
# The kernel unpacks concatenated cpio archives in order (later files win), so run.sh appends a third,
# per-run layer with the script to run; a changed test script or project binary does not rebuild the base.
#
# Incremental: a layer is rebuilt only when its configuration (kernel package, module names, file list)
# or the content of one of its source files changed since it was built (recorded in <layer>.sig and
# <layer>.sums). Process creation is slow on the machines this runs on (tens of ms each under load), so
# the up-to-date check is a handful of processes and the rebuild copies files in batches.
#
# Environment:
#   PRFENCE_VM_KERNEL         6.1 (default: the kernel linux-image-amd64 depends on), 6.12 (the one
#                             linux-image-6.12-amd64 depends on), nvmet (the newest trixie-backports kernel
#                             with nvmet reservations; the default for the nvme topology; nvme-image.sh), or a
#                             package name (linux-image-6.1.0-56-amd64)
#   PRFENCE_VM_BINARIES       project binaries for /usr/local/bin in the guest (space-separated paths)
#   PRFENCE_VM_EXTRA_MODULES  more kernel modules to load at boot (names, space-separated)
#   PRFENCE_VM_TOPOLOGY       single (default), multipath or nvme: whether to build mp.cpio or nvme.cpio too
#   PRFENCE_VM_CACHE, PRFENCE_VM_DIR  see common.sh
# Prints the guest's kernel release (uname -r) on stdout; progress goes to stderr.
set -euo pipefail
shopt -s nullglob
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=nvme-image.sh
. "$VM_SRC/nvme-image.sh"
[ "${PRFENCE_VM_TOPOLOGY:-single}" = nvme ] && : "${PRFENCE_VM_KERNEL:=nvmet}"

# Modules loaded at boot, in this order, each after its dependencies (modprobe --show-depends adds and
# orders those). The crc32c provider comes first: the iSCSI login asks the crypto API for "crc32c", and
# the guest has no module loader to fetch it on demand. virtio_pci and 9p carry build/vm/out to the host.
# shellcheck disable=SC2206 # PRFENCE_VM_EXTRA_MODULES is a space-separated list
LOAD_MODULES=(crc32c_generic crc32c-intel crct10dif_generic crc64_rocksoft_generic configfs scsi_mod sd_mod sg
    target_core_mod target_core_file target_core_iblock iscsi_target_mod iscsi_tcp virtio_pci 9pnet_virtio 9p
    ${PRFENCE_VM_EXTRA_MODULES:-})
# Modules without which the guest cannot do its job; the others may be missing from some kernel.
REQUIRED_MODULES="configfs sd_mod sg target_core_mod target_core_file iscsi_target_mod iscsi_tcp"
# Shipped but not loaded (the image has modules.dep, so modprobe works in the guest): tcm_loop to
# reproduce its PREEMPT AND ABORT deadlock, scsi_debug for quick experiments.
SHIP_MODULES=(tcm_loop scsi_debug)

# Debian packages whose files go into the image, or that build it.
HOST_PACKAGES=(busybox-static open-iscsi sg3-utils bash kmod cpio xz-utils)

# The multipath layer (PRFENCE_VM_TOPOLOGY=multipath). These packages are downloaded, never installed on
# the host: multipath-tools and dmsetup with the libraries a plain Debian host may lack (the rest of their
# ldd closure comes from the host, like the base layer's), udev for systemd-udevd and scsi_id
# (libmultipath only sees devices that udev has initialized), libgcc-s1 because glibc dlopen()s
# libgcc_s.so.1 for pthread_cancel, which multipathd uses (ldd does not list it; without it multipathd
# dies at start). Not taken: kpartx (the LUs have no partitions) and sg3-utils-udev (its rules run five
# processes per disk for the SCSI_IDENT_* properties; udev's scsi_id gives ID_SERIAL, ID_WWN with one).
MP_PACKAGES=(multipath-tools liburcu8 libaio1 libedit2 libbsd0 libmd0 dmsetup libdevmapper1.02.1 udev libudev1
    libgcc-s1)
# The udev rules the guest runs: device-mapper's (55-dm, 95-dm-notify: libdevmapper waits for udev to
# confirm each map change), multipath's for its maps (56-dm-mpath), and the persistent-storage rules
# that give each disk ID_SERIAL (multipath's default uid_attribute, via scsi_id), ID_PATH (path_id, which
# tells node B's portal from node A's) and the /dev/disk/by-id links. Left out on purpose: 60-multipath
# (one `multipath -u` process per disk only to mark paths for other subsystems), 60-block (its inotify
# watch turns every close of a device opened for writing into a change event and a rerun of the rules).
MP_RULES=(55-dm 56-dm-mpath 60-persistent-storage 60-persistent-storage-dm 95-dm-notify)
# Device-mapper multipath and its path selectors, the ALUA device handler the LIO hwtable entry names.
MP_MODULES=(dm_mod dm_multipath dm_round_robin dm_service_time dm_queue_length scsi_dh_alua)

# ---------------------------------------------------------------------------------------------------
# Kernel: resolve the package, download it once, keep it extracted in the cache.

kernel_series_regex() {
    case ${PRFENCE_VM_KERNEL:-6.1} in
        6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
        6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
        *) echo "^${PRFENCE_VM_KERNEL}\$" ;;
    esac
}

# The package name, from apt's lists: what the meta package depends on.
resolve_kernel_package() {
    local sel=${PRFENCE_VM_KERNEL:-6.1} meta
    case $sel in
        linux-image-*) echo "$sel"; return ;;
        6.1) meta=linux-image-amd64 ;;
        6.12) meta=linux-image-6.12-amd64 ;;
        *) vm_die "PRFENCE_VM_KERNEL=$sel: expected 6.1, 6.12 or a linux-image-* package name" ;;
    esac
    apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

# Newest completely extracted kernel of the selected series in the cache (to work offline).
cached_kernel_package() {
    local d
    for d in "$VM_CACHE"/kernel/*/.complete; do
        d=${d%/.complete}
        echo "${d##*/}"
    done | grep -E "$(kernel_series_regex)" | sort -V | tail -n 1
}

# Downloads PKG and extracts it to $VM_CACHE/kernel/PKG (complete once .complete exists), with depmod
# run so that modprobe can resolve dependencies. The .deb is deleted: the extracted tree is the cache.
fetch_kernel() {
    local pkg=$1 dir=$VM_CACHE/kernel/$1 debs=$VM_CACHE/debs deb kver old
    [ -f "$dir/.complete" ] && return 0
    mkdir -p "$debs" "$VM_CACHE/kernel"
    vm_log "downloading $pkg"
    (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) || return 1
    deb=$(find "$debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n 1)
    [ -n "$deb" ] || vm_die "apt-get download $pkg left no .deb in $debs"
    vm_log "extracting $(basename "$deb")"
    # Called from an `if`, where set -e is off: every step checks for itself.
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp" || return 1
    dpkg-deb -x "$deb" "$dir.tmp" || vm_die "cannot extract $deb"
    kver=$(ls "$dir.tmp/lib/modules") || vm_die "$deb has no /lib/modules"
    depmod -b "$dir.tmp" "$kver" || vm_die "depmod failed for $kver"
    { touch "$dir.tmp/.complete" && rm -rf "$dir" && mv "$dir.tmp" "$dir"; } || vm_die "cannot move $dir.tmp into place"
    rm -f "$deb"
    # Older kernels of the same series are dead weight (about 400 MB each).
    for old in "$VM_CACHE"/kernel/*; do
        [ "$old" = "$dir" ] && continue
        if [[ ${old##*/} =~ $(kernel_series_regex) ]]; then
            vm_log "pruning ${old##*/}"
            rm -rf "$old"
        fi
    done
    return 0
}

# resolve_kernel_package, remembered until apt's lists change (apt-cache takes seconds to load them).
resolve_kernel_package_cached() {
    local memo=$VM_CACHE/resolved-${PRFENCE_VM_KERNEL:-6.1} pkg=""
    if [ -f "$memo" ] && [ "$memo" -nt /var/lib/apt/lists ]; then
        IFS= read -r pkg <"$memo" || true
    fi
    if [ -z "$pkg" ]; then
        pkg=$(resolve_kernel_package)
        [ -n "$pkg" ] && echo "$pkg" >"$memo"
    fi
    echo "$pkg"
}

# Sets KPKG, KDIR, KVER.
prepare_kernel() {
    if [ "${PRFENCE_VM_KERNEL:-}" = nvmet ]; then
        nvmet_prepare_kernel
        return
    fi
    KPKG=$(resolve_kernel_package_cached)
    if [ -z "$KPKG" ]; then
        vm_apt_update
        KPKG=$(resolve_kernel_package)
    fi
    if [ -n "$KPKG" ] && ! fetch_kernel "$KPKG"; then
        # Stale lists name a version the mirror no longer has: update and resolve again.
        vm_apt_update
        KPKG=$(resolve_kernel_package)
        if [ -n "$KPKG" ] && ! fetch_kernel "$KPKG"; then KPKG=""; fi
    fi
    if [ -z "$KPKG" ] || [ ! -f "$VM_CACHE/kernel/$KPKG/.complete" ]; then
        KPKG=$(cached_kernel_package)
        [ -n "$KPKG" ] || vm_die "cannot download a kernel for PRFENCE_VM_KERNEL=${PRFENCE_VM_KERNEL:-6.1} and none is cached"
        vm_log "using the cached $KPKG (download failed)"
    fi
    KDIR=$VM_CACHE/kernel/$KPKG
    local m=("$KDIR"/lib/modules/*)
    KVER=${m[0]##*/}
    [ -f "$KDIR/boot/vmlinuz-$KVER" ] || vm_die "no vmlinuz in $KDIR"
}

# Sets MODULE_FILES to the module files (paths under $KDIR) for the given names, dependencies first, each
# once. Dies when one of $REQUIRED_MODULES was asked for and is missing.
module_files() {
    local out name
    out=$(modprobe -d "$KDIR" -S "$KVER" --show-depends -a "$@" 2>&1 || true)
    for name in $REQUIRED_MODULES; do
        case " $* " in *" $name "*) ;; *) continue ;; esac
        grep -q "/${name//_/[-_]}\.ko" <<<"$out" || vm_die "kernel $KVER has no module $name"
    done
    grep 'not found' <<<"$out" | sed 's/^modprobe: WARNING: /prfence-vm: skipped: /' >&2 || true
    mapfile -t MODULE_FILES < <(awk '$1 == "insmod" && !seen[$2]++ { print $2 }' <<<"$out")
}

# ---------------------------------------------------------------------------------------------------
# Layers. A plan says what goes where; build_layer materializes it into a staging tree and a cpio.
# Plan lines: "F <src> <dest>" copy (following symlinks; dest keeps src's file name), "Z <src> <dest>"
# decompress a .ko.xz/.ko.zst, "L <target> <dest>" symlink, "D <dest>" directory. Destinations are
# image paths without the leading slash.

PLAN=()
SOURCES=()           # every file whose content goes into the layer, for <layer>.sums
declare -A PLANNED=()
plan_reset() { PLAN=() SOURCES=() PLANNED=(); }
plan_add() {
    [ -n "${PLANNED[$1]:-}" ] && return 0
    PLANNED[$1]=1
    PLAN+=("$1")
}
plan_file() {
    [ "${1##*/}" = "${2##*/}" ] || vm_die "plan_file $1 -> $2: the file name must stay the same"
    plan_add "F $1 ${2#/}"
    SOURCES+=("$1")
}
plan_unpack() { plan_add "Z $1 ${2#/}"; SOURCES+=("$1"); }
plan_link() { plan_add "L $1 ${2#/}"; }
plan_dir() { plan_add "D ${1#/}"; }

# The image is merged-/usr like Debian 12 (/bin /sbin /lib /lib64 link into /usr), so a file lands at one
# canonical path whichever alias names it. Sets REPLY (no subshell: forks are expensive here).
usr_path() {
    REPLY=${1#/}
    case $REPLY in bin/* | sbin/* | lib/* | lib64/*) REPLY=usr/$REPLY ;; esac
}

# Executables and every shared library they load, as ldd resolves them on this host (the same Debian
# release as the guest's userspace). Arguments: SRC:DEST pairs; DEST empty means the same path.
plan_binaries() {
    local pair src dest lib
    local -a srcs=()
    for pair in "$@"; do
        src=${pair%%:*} dest=${pair#*:}
        [ -x "$src" ] || vm_die "not an executable file: $src"
        usr_path "${dest:-$src}"
        plan_file "$src" "$REPLY"
        srcs+=("$src")
    done
    # One ldd for all of them. With several files it prints a "path:" header before each file's list;
    # static executables just say "not a dynamic executable".
    for lib in $(ldd "${srcs[@]}" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\/.*[^:]$/) print $i }' | sort -u); do
        usr_path "$lib"
        plan_file "$lib" "$REPLY"
    done
}

# True when OUT was built from the same configuration SIG and its sources are unchanged.
layer_up_to_date() {
    local out=$1 sig=$2 old=""
    [ -f "$out" ] && [ -f "$out.sig" ] && [ -f "$out.sums" ] || return 1
    IFS= read -r old <"$out.sig" || true
    [ "$old" = "$sig" ] || return 1
    sha256sum --quiet --status -c "$out.sums" 2>/dev/null
}

# Materializes PLAN into build/vm/image/stage-NAME and writes OUT (uncompressed: under TCG, inflating
# in the guest costs more than the kernel copying a few more MB), then records SIG and the checksums.
build_layer() {
    local name=$1 out=$2 sig=$3 stage=$VM_IMAGE/stage-$1 line kind a b dir
    vm_log "building the $name layer"
    rm -rf "$stage"
    mkdir -p "$stage"
    local -A dirs=() copies=()
    local -a links=() unpacks=()
    for line in "${PLAN[@]}"; do
        read -r kind a b <<<"$line"
        case $kind in
            D) dirs[$stage/$a]=1 ;;
            L) links+=("$a" "$stage/$b"); dir=${b%/*}; [ "$dir" != "$b" ] && dirs[$stage/$dir]=1 ;;
            F) dir=${b%/*}; [ "$dir" = "$b" ] && dir=.; dirs[$stage/$dir]=1; copies[$dir]+=" $a" ;;
            Z) unpacks+=("$a" "$stage/$b"); dirs[$stage/${b%/*}]=1 ;;
        esac
    done
    mkdir -p "${!dirs[@]}"
    local i
    for ((i = 0; i < ${#links[@]}; i += 2)); do ln -sfn "${links[i]}" "${links[i + 1]}"; done
    # shellcheck disable=SC2086 # the source lists are space-separated paths without spaces
    for dir in "${!copies[@]}"; do cp -L --preserve=mode -t "$stage/$dir" ${copies[$dir]}; done
    # The project's executables go into the guest without their debug sections: a Debug ASan build of
    # one tool is 65-100 MB, almost all DWARF, and four of them no longer fit the initramfs the guest
    # unpacks into its RAM ("Initramfs unpacking failed: write error"). The symbol table stays, so a
    # sanitizer report in the guest still names the functions.
    if [ "$name" = project ] && [ -d "$stage/usr/local/bin" ]; then
        local bin
        for bin in "$stage"/usr/local/bin/*; do
            [ -f "$bin" ] && [ "$(head -c 4 "$bin" | tr -d '\177')" = ELF ] || continue
            strip --strip-debug "$bin" || vm_die "cannot strip the debug sections of $bin"
        done
    fi
    for ((i = 0; i < ${#unpacks[@]}; i += 2)); do
        case ${unpacks[i]} in
            *.xz) xz -dc "${unpacks[i]}" >"${unpacks[i + 1]}" ;;
            *.zst) zstd -q -dc "${unpacks[i]}" >"${unpacks[i + 1]}" ;;
        esac
    done
    [ "$name" = base ] && depmod -b "$stage" "$KVER"
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
    mv "$out.tmp" "$out"
    printf '%s\0' "${SOURCES[@]}" | xargs -0 sha256sum >"$out.sums"
    printf '%s\n' "$sig" >"$out.sig"
    vm_log "$name layer: $(du -h "$out" | cut -f1)"
}

# The base layer: what does not change between test runs.
base_binaries() {
    local f
    BASE_BINARIES=(/usr/bin/busybox: /usr/bin/bash: /usr/sbin/iscsistart:)
    for f in /usr/bin/sg_*; do BASE_BINARIES+=("$f:"); done
    [ -x /usr/sbin/iscsistart ] || vm_die "no /usr/sbin/iscsistart (package open-iscsi)"
}

plan_base() {
    local gen=$VM_IMAGE/gen-base f rel
    plan_reset
    mkdir -p "$gen"
    # busybox's applet links are made in the guest by `busybox --install -s` (one process there instead
    # of ~270 here); real binaries such as bash are not replaced by it.
    for f in bin sbin lib lib64; do plan_link "usr/$f" "$f"; done
    for f in usr/bin usr/sbin usr/lib usr/lib64 usr/local/bin etc root proc sys dev run tmp var mnt; do plan_dir "$f"; done
    plan_link ../run var/run
    plan_binaries "${BASE_BINARIES[@]}"

    # Kernel modules, stored uncompressed (busybox insmod cannot read .ko.xz), plus the load order.
    local -a load
    module_files "${LOAD_MODULES[@]}"
    load=("${MODULE_FILES[@]}")
    module_files "${SHIP_MODULES[@]}"
    for f in "${load[@]}" "${MODULE_FILES[@]}"; do
        rel=${f#"$KDIR"/}
        usr_path "${rel%.xz}"
        REPLY=${REPLY%.zst}
        case $f in *.xz | *.zst) plan_unpack "$f" "$REPLY" ;; *) plan_file "$f" "$REPLY" ;; esac
    done
    for f in "${load[@]}"; do
        rel=${f#"$KDIR"}
        rel=${rel%.xz}
        echo "${rel%.zst}"
    done >"$gen/modules"
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        [ -f "$KDIR/lib/modules/$KVER/$f" ] && plan_file "$KDIR/lib/modules/$KVER/$f" "usr/lib/modules/$KVER/$f"
    done
    plan_file "$gen/modules" etc/prfence-vm/modules

    printf 'root:x:0:0:root:/root:/bin/bash\n' >"$gen/passwd"
    printf 'root:x:0:\n' >"$gen/group"
    printf '127.0.0.1 localhost\n' >"$gen/hosts"
    plan_file "$gen/passwd" etc/passwd
    plan_file "$gen/group" etc/group
    plan_file "$gen/hosts" etc/hosts
}

# The project layer: the guest's init and helpers, the suite, the project's binaries.
project_files() {
    local f
    PROJECT_FILES=("$VM_SRC/guest/init" "$VM_SRC"/guest/*.sh)
    shopt -s globstar
    for f in "$VM_SRC"/suite/**; do [ -f "$f" ] && PROJECT_FILES+=("$f"); done
    shopt -u globstar
}

plan_project() {
    local f
    local -a bins=()
    plan_reset
    plan_file "$VM_SRC/guest/init" init
    for f in "${PROJECT_FILES[@]}"; do
        case $f in
            "$VM_SRC"/guest/*.sh) plan_file "$f" "prfence/lib/${f##*/}" ;;
            "$VM_SRC"/suite/*) plan_file "$f" "prfence/suite/${f#"$VM_SRC"/suite/}" ;;
        esac
    done
    for f in ${PRFENCE_VM_BINARIES:-}; do bins+=("$f:/usr/local/bin/${f##*/}"); done
    [ ${#bins[@]} -gt 0 ] && plan_binaries "${bins[@]}"
    return 0
}

# ---------------------------------------------------------------------------------------------------
# The multipath layer.

# vm_fetch_packages DIR WHAT PACKAGE...: downloads the Debian packages once (apt-get download, never
# installed on the host) and extracts them into $VM_CACHE/DIR/root, which PKG_ROOT then names; complete
# once DIR/.complete holds the package list. Delete build/vm-cache/DIR to pick up newer versions. WHAT
# names them in messages. Used by every layer built from extracted packages (multipath, nvme).
vm_fetch_packages() {
    local dir=$VM_CACHE/$1 what=$2 have="" deb
    shift 2
    local want="$*"
    PKG_ROOT=$dir/root
    [ -f "$dir/.complete" ] && IFS= read -r have <"$dir/.complete"
    [ "$have" = "$want" ] && return 0
    rm -rf "$dir"
    mkdir -p "$dir/debs"
    vm_log "downloading $*"
    if ! (cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null 2>&1); then
        vm_apt_update
        (cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null) ||
            vm_die "cannot download the $what packages ($*)"
    fi
    mkdir -p "$PKG_ROOT"
    for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$PKG_ROOT" || vm_die "cannot extract $deb"; done
    rm -rf "$dir/debs"
    echo "$want" >"$dir/.complete"
}

# MP_PACKAGES extracted into $VM_CACHE/mp/root, in MP_ROOT.
fetch_mp_packages() {
    vm_fetch_packages mp multipath "${MP_PACKAGES[@]}"
    MP_ROOT=$PKG_ROOT
}

# The files of the multipath layer: programs and checker/prioritizer plugins with their ldd closure
# (extracted packages first, then the host), udev's rules and helpers, the modules and their load list.
plan_mp() {
    local gen=$VM_IMAGE/gen-mp f rel r=$MP_ROOT lib
    local -a progs=() base_mods=()
    plan_reset
    mkdir -p "$gen"
    for f in sbin/multipath sbin/multipathd sbin/mpathpersist sbin/multipathc sbin/dmsetup bin/udevadm \
        lib/udev/scsi_id "$r"/lib/multipath/*.so; do
        f=${f#"$r"/}
        [ -f "$r/$f" ] || vm_die "the multipath packages have no /$f"
        usr_path "$f"
        plan_file "$r/$f" "$REPLY"
        progs+=("$r/$f")
    done
    # systemd-udevd is udevadm under another name (it looks at argv[0]).
    plan_link /usr/bin/udevadm usr/lib/systemd/systemd-udevd
    local libpath=$r/lib:$r/lib/x86_64-linux-gnu:$r/usr/lib/x86_64-linux-gnu
    local closure
    closure=$(LD_LIBRARY_PATH=$libpath ldd "${progs[@]}" 2>/dev/null)
    if grep -q 'not found' <<<"$closure"; then
        vm_die "multipath layer: libraries neither in MP_PACKAGES nor on the host: $(grep 'not found' <<<"$closure" | awk '{ print $1 }' | sort -u | tr '\n' ' ')(add their packages to MP_PACKAGES)"
    fi
    for lib in $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\/.*[^:]$/) print $i }' <<<"$closure" | sort -u); do
        case $lib in "$r"/*) rel=${lib#"$r"} ;; *) rel=$lib ;; esac
        usr_path "$rel"
        plan_file "$lib" "$REPLY"
    done
    [ -f "$r/lib/x86_64-linux-gnu/libgcc_s.so.1" ] || vm_die "libgcc-s1 has no libgcc_s.so.1"
    plan_file "$r/lib/x86_64-linux-gnu/libgcc_s.so.1" usr/lib/x86_64-linux-gnu/libgcc_s.so.1
    for f in "${MP_RULES[@]}"; do
        [ -f "$r/lib/udev/rules.d/$f.rules" ] || vm_die "no udev rule $f.rules in the multipath packages"
        plan_file "$r/lib/udev/rules.d/$f.rules" "usr/lib/udev/rules.d/$f.rules"
    done
    for f in etc/multipath etc/udev/rules.d; do plan_dir "$f"; done

    # The modules, minus those the base layer loads already (scsi_mod for scsi_dh_alua).
    module_files "${LOAD_MODULES[@]}"
    base_mods=("${MODULE_FILES[@]}")
    module_files "${MP_MODULES[@]}"
    for f in "${MODULE_FILES[@]}"; do
        case " ${base_mods[*]} " in *" $f "*) continue ;; esac
        rel=${f#"$KDIR"/}
        usr_path "${rel%.xz}"
        REPLY=${REPLY%.zst}
        case $f in *.xz | *.zst) plan_unpack "$f" "$REPLY" ;; *) plan_file "$f" "$REPLY" ;; esac
        rel=${f#"$KDIR"}
        rel=${rel%.xz}
        echo "${rel%.zst}"
    done >"$gen/modules-mp"
    grep -q '/dm-multipath\.ko$' "$gen/modules-mp" || vm_die "kernel $KVER has no dm-multipath module"
    plan_file "$gen/modules-mp" etc/prfence-vm/modules-mp
}

main() {
    vm_install_missing "${HOST_PACKAGES[@]}" || vm_die "cannot install the packages the image needs"
    mkdir -p "$VM_CACHE" "$VM_IMAGE"
    prepare_kernel
    vm_log "kernel $KPKG ($KVER)"
    cmp -s "$KDIR/boot/vmlinuz-$KVER" "$VM_IMAGE/vmlinuz" || cp "$KDIR/boot/vmlinuz-$KVER" "$VM_IMAGE/vmlinuz"

    base_binaries
    local sig="kernel=$KPKG load=${LOAD_MODULES[*]} ship=${SHIP_MODULES[*]} bins=${BASE_BINARIES[*]}"
    sig+=" script=$(sha256sum <"$VM_SRC/build-image.sh" | cut -c1-16)"
    if layer_up_to_date "$VM_IMAGE/base.cpio" "$sig"; then
        vm_log "base layer up to date"
    else
        plan_base
        build_layer base "$VM_IMAGE/base.cpio" "$sig"
    fi

    project_files
    sig="files=${PROJECT_FILES[*]} bins=${PRFENCE_VM_BINARIES:-}"
    if layer_up_to_date "$VM_IMAGE/project.cpio" "$sig"; then
        vm_log "project layer up to date"
    else
        plan_project
        build_layer project "$VM_IMAGE/project.cpio" "$sig"
    fi

    case ${PRFENCE_VM_TOPOLOGY:-single} in
        single) ;;
        multipath)
            fetch_mp_packages
            sig="kernel=$KPKG packages=${MP_PACKAGES[*]} rules=${MP_RULES[*]} modules=${MP_MODULES[*]}"
            sig+=" load=${LOAD_MODULES[*]} script=$(sha256sum <"$VM_SRC/build-image.sh" | cut -c1-16)"
            if layer_up_to_date "$VM_IMAGE/mp.cpio" "$sig"; then
                vm_log "multipath layer up to date"
            else
                plan_mp
                build_layer mp "$VM_IMAGE/mp.cpio" "$sig"
            fi
            ;;
        nvme) nvme_layer ;;
        *) vm_die "PRFENCE_VM_TOPOLOGY=${PRFENCE_VM_TOPOLOGY}: expected single, multipath or nvme" ;;
    esac
    echo "$KVER"
}

main "$@"
