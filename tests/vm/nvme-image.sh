# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# The NVMe parts of the guest image (sourced by build-image.sh after common.sh):
#
# PRFENCE_VM_KERNEL=nvmet: a kernel whose NVMe target (nvmet) implements reservations (merged in Linux
# 6.13: the per-namespace configfs attribute `resv_enable`). Debian 12 has none, so it comes from Debian's
# trixie-backports, resolved at run time: the newest "new-style" kernel there (linux-binary-V with the
# vmlinuz, linux-modules-V with the .ko.xz files, linux-base-V with modules.builtin, which modprobe needs
# to tell a built-in module from a missing one; V >= 6.13, the plain amd64 flavour) whose nvmet.ko
# knows resv_enable. The backports pool replaces versions over time, so nothing is pinned. The index is
# fetched into a private apt directory under build/vm-cache (apt-trixie-backports: its own sources.list,
# lists and archives), so the host's apt sources, lists and package state stay as they are; the mirror
# is the one the host's apt configuration names. The chosen kernel is kept extracted like the others, in
# build/vm-cache/kernel/linux-modules-V/ (lib/modules/V with depmod run, boot/vmlinuz-V), and used when
# the index cannot be fetched. No index and no cached kernel: build-image.sh exits 77 (skip) saying why.
#
# The nvme layer (PRFENCE_VM_TOPOLOGY=nvme): nvme-cli 2.3 from Debian 12 with its libraries (downloaded
# with apt-get download into build/vm-cache/nvme and extracted, never installed on the host), and the
# NVMe host and target modules with their load list (/etc/prfence-vm/modules-nvme), dependencies first.

NVMET_APT=$VM_CACHE/apt-trixie-backports
NVMET_MIN_VERSION=6.13
NVMET_REJECTED=$VM_CACHE/nvmet-rejected # kernels checked and found without nvmet reservations
# Index age (minutes) after which it is fetched again (PRFENCE_VM_NVMET_INDEX_AGE; 0: every run).
NVMET_INDEX_MAX_AGE=${PRFENCE_VM_NVMET_INDEX_AGE:-720}

# nvme-cli and the libraries a plain Debian 12 host may lack (the rest of the ldd closure is the host's).
NV_PACKAGES=(nvme-cli libnvme1 libjson-c5 libdbus-1-3)
# Host side (nvme-core with multipath=N in the guest, fabrics, loop transport) and target side (nvmet);
# modprobe adds their dependencies (nvme-auth, nvme-keyring, configfs) in order.
NV_MODULES=(nvme_core nvme_fabrics nvmet nvme_loop)

nvmet_skip() {
    vm_log "SKIP: $*"
    exit 77
}

# Prints the mirror: PRFENCE_VM_NVMET_MIRROR, else the one the host's apt configuration uses (deb822
# URIs: or a one-line deb entry).
nvmet_mirror() {
    local m
    [ -n "${PRFENCE_VM_NVMET_MIRROR:-}" ] && { echo "$PRFENCE_VM_NVMET_MIRROR"; return; }
    m=$(grep -h -m1 -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
        awk '$1 == "URIs:" { print $2; exit }
             $1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
    echo "${m:-http://deb.debian.org/debian}"
}

nvmet_apt_opts() {
    NVMET_APT_OPTS=(-o "Dir::Etc::sourcelist=$NVMET_APT/sources.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State::Lists=$NVMET_APT/lists" -o "Dir::Cache::archives=$NVMET_APT/archives"
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Get::List-Cleanup=0
        -o APT::Sandbox::User=root)
}

# Fetches the trixie-backports index into the private directory when it is missing or older than
# NVMET_INDEX_MAX_AGE minutes. Returns 1 when there is no usable index afterwards.
nvmet_update_index() {
    local mirror lists=$NVMET_APT/lists
    mkdir -p "$lists/partial" "$NVMET_APT/archives/partial"
    mirror=$(nvmet_mirror)
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie-backports main" \
        >"$NVMET_APT/sources.list.new"
    if ! cmp -s "$NVMET_APT/sources.list.new" "$NVMET_APT/sources.list"; then
        mv "$NVMET_APT/sources.list.new" "$NVMET_APT/sources.list"
        rm -f "$lists"/*_Packages* "$lists"/*Release* "$NVMET_APT/updated"
    fi
    rm -f "$NVMET_APT/sources.list.new"
    # apt gives the list files the server's dates, so a stamp of our own says when they were fetched.
    local fresh
    fresh=$(find "$NVMET_APT" -maxdepth 1 -name updated -mmin -"$NVMET_INDEX_MAX_AGE" 2>/dev/null)
    if [ -z "$fresh" ]; then
        vm_log "fetching the trixie-backports index from $mirror (private apt directory $NVMET_APT)"
        if apt-get "${NVMET_APT_OPTS[@]}" -q update >"$NVMET_APT/update.log" 2>&1; then
            touch "$NVMET_APT/updated"
        else
            vm_log "could not fetch the trixie-backports index (see $NVMET_APT/update.log)"
        fi
    fi
    compgen -G "$lists/*trixie-backports_main_binary-amd64_Packages*" >/dev/null
}

# Prints the candidate versions, newest first: V >= NVMET_MIN_VERSION with both linux-binary-V and
# linux-modules-V and linux-base-V in the index.
nvmet_candidates() {
    apt-cache "${NVMET_APT_OPTS[@]}" search --names-only '^linux-(binary|modules|base)-[0-9]' 2>/dev/null |
        awk -v min="$NVMET_MIN_VERSION" '
            function ge(v, m,   a, b) {
                split(v, a, "."); split(m, b, ".")
                return a[1] + 0 > b[1] + 0 || (a[1] + 0 == b[1] + 0 && a[2] + 0 >= b[2] + 0)
            }
            match($1, /^linux-(binary|modules|base)-[0-9][0-9.]*\+deb[0-9]+-amd64$/) {
                kind = $1; sub(/^linux-/, "", kind); sub(/-.*/, "", kind)
                v = $1; sub(/^linux-(binary|modules|base)-/, "", v)
                num = v; sub(/\+.*/, "", num)
                if (ge(num, min)) have[v] = have[v] " " kind
            }
            END { for (v in have) if (have[v] ~ /binary/ && have[v] ~ /modules/ && have[v] ~ /base/) print v }' |
        sort -V -r
}

# The newest nvmet kernel already extracted in the cache (to work without the index).
nvmet_cached_kernel() {
    local d
    for d in "$VM_CACHE"/kernel/linux-modules-*/.complete; do
        d=${d%/.complete}
        echo "${d##*/}"
    done | sort -V | tail -n 1
}

# Downloads and extracts kernel V into $VM_CACHE/kernel/linux-modules-V when its nvmet has reservations.
# Returns 1 when the download failed, 2 when the kernel lacks them (remembered in NVMET_REJECTED).
nvmet_fetch() {
    local v=$1 name=linux-modules-$1 dir debs=$NVMET_APT/archives deb nvmet old
    dir=$VM_CACHE/kernel/$name
    [ -f "$dir/.complete" ] && return 0
    vm_log "downloading linux-binary-$v, linux-modules-$v and linux-base-$v (trixie-backports)"
    rm -f "$debs"/linux-*.deb
    (cd "$debs" && apt-get "${NVMET_APT_OPTS[@]}" -q download "linux-binary-$v" "$name" "linux-base-$v" \
        >"$NVMET_APT/download.log" 2>&1) || { vm_log "download failed (see $NVMET_APT/download.log)"; return 1; }
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    for deb in "$debs"/linux-binary-"$v"_*.deb "$debs"/"$name"_*.deb "$debs"/linux-base-"$v"_*.deb; do
        dpkg-deb -x "$deb" "$dir.tmp" || { rm -rf "$dir.tmp"; vm_die "cannot extract $deb"; }
    done
    rm -f "$debs"/linux-*.deb
    nvmet=$(find "$dir.tmp/usr/lib/modules/$v" -name 'nvmet.ko*' | head -n 1)
    local has=""
    case $nvmet in
        *.xz) has=$(xz -dc "$nvmet" | grep -a -c resv_enable || true) ;;
        *.zst) has=$(zstd -q -dc "$nvmet" | grep -a -c resv_enable || true) ;;
        ?*) has=$(grep -a -c resv_enable "$nvmet" || true) ;;
    esac
    if [ "${has:-0}" -eq 0 ]; then
        vm_log "linux-modules-$v: ${nvmet:+nvmet has no resv_enable}${nvmet:-no nvmet module}; not usable"
        echo "$v" >>"$NVMET_REJECTED"
        rm -rf "$dir.tmp"
        return 2
    fi
    [ -f "$dir.tmp/usr/lib/modules/$v/vmlinuz" ] || { rm -rf "$dir.tmp"; vm_die "linux-binary-$v has no vmlinuz"; }
    # The layout build-image.sh reads: lib/modules/V (modules.dep by depmod) and boot/vmlinuz-V.
    mkdir -p "$dir.tmp/lib/modules" "$dir.tmp/boot"
    mv "$dir.tmp/usr/lib/modules/$v/vmlinuz" "$dir.tmp/boot/vmlinuz-$v"
    mv "$dir.tmp/usr/lib/modules/$v" "$dir.tmp/lib/modules/$v"
    rm -rf "$dir.tmp/usr"
    [ -f "$dir.tmp/lib/modules/$v/modules.builtin" ] || { rm -rf "$dir.tmp"; vm_die "linux-base-$v has no modules.builtin"; }
    depmod -b "$dir.tmp" "$v" || vm_die "depmod failed for $v"
    { touch "$dir.tmp/.complete" && rm -rf "$dir" && mv "$dir.tmp" "$dir"; } || vm_die "cannot move $dir.tmp into place"
    for old in "$VM_CACHE"/kernel/linux-modules-*; do
        [ "$old" = "$dir" ] && continue
        vm_log "pruning ${old##*/}"
        rm -rf "$old"
    done
    return 0
}

# Sets KPKG, KDIR, KVER for PRFENCE_VM_KERNEL=nvmet; exits 77 when no such kernel can be had.
nvmet_prepare_kernel() {
    local v why="" rc
    nvmet_apt_opts
    vm_install_missing xz-utils zstd || nvmet_skip "cannot install xz-utils and zstd (the modules are compressed)"
    KPKG=""
    if nvmet_update_index; then
        local -a cands
        mapfile -t cands < <(nvmet_candidates)
        [ ${#cands[@]} -gt 0 ] || why="no kernel >= $NVMET_MIN_VERSION with linux-binary and linux-modules in the index"
        for v in "${cands[@]}"; do
            grep -qxF "$v" "$NVMET_REJECTED" 2>/dev/null && continue
            rc=0
            nvmet_fetch "$v" || rc=$?
            if [ "$rc" -eq 0 ]; then
                KPKG=linux-modules-$v
                break
            fi
            [ "$rc" -eq 1 ] && { why="download of $v failed"; break; }
            why="no kernel in the index has nvmet reservations"
        done
    else
        why="no trixie-backports index (fetch failed; see $NVMET_APT/update.log)"
    fi
    if [ -z "$KPKG" ]; then
        KPKG=$(nvmet_cached_kernel)
        [ -n "$KPKG" ] || nvmet_skip "no kernel with nvmet reservations: $why, and none cached"
        vm_log "using the cached $KPKG ($why)"
    fi
    KDIR=$VM_CACHE/kernel/$KPKG
    KVER=${KPKG#linux-modules-}
    [ -f "$KDIR/boot/vmlinuz-$KVER" ] || vm_die "no vmlinuz in $KDIR"
}

# ---------------------------------------------------------------------------------------------------
# The nvme layer.

# NV_PACKAGES extracted into $VM_CACHE/nvme/root, in NV_ROOT (vm_fetch_packages, build-image.sh).
fetch_nv_packages() {
    vm_fetch_packages nvme nvme "${NV_PACKAGES[@]}"
    NV_ROOT=$PKG_ROOT
}

# The files of the nvme layer: nvme-cli with its ldd closure (extracted packages first, then the host),
# the modules (minus the base layer's) and their load list.
plan_nv() {
    local gen=$VM_IMAGE/gen-nvme f rel r=$NV_ROOT lib closure
    local -a base_mods=()
    plan_reset
    mkdir -p "$gen"
    [ -x "$r/usr/sbin/nvme" ] || vm_die "nvme-cli has no /usr/sbin/nvme"
    plan_file "$r/usr/sbin/nvme" usr/sbin/nvme
    closure=$(LD_LIBRARY_PATH=$r/lib/x86_64-linux-gnu:$r/usr/lib/x86_64-linux-gnu ldd "$r/usr/sbin/nvme" 2>/dev/null)
    if grep -q 'not found' <<<"$closure"; then
        vm_die "nvme layer: libraries neither in NV_PACKAGES nor on the host: $(grep 'not found' <<<"$closure" | awk '{ print $1 }' | sort -u | tr '\n' ' ')"
    fi
    for lib in $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\/.*[^:]$/) print $i }' <<<"$closure" | sort -u); do
        case $lib in "$r"/*) rel=${lib#"$r"} ;; *) rel=$lib ;; esac
        usr_path "$rel"
        plan_file "$lib" "$REPLY"
    done
    plan_dir etc/nvme

    module_files "${LOAD_MODULES[@]}"
    base_mods=("${MODULE_FILES[@]}")
    module_files "${NV_MODULES[@]}"
    for f in "${MODULE_FILES[@]}"; do
        case " ${base_mods[*]} " in *" $f "*) continue ;; esac
        rel=${f#"$KDIR"/}
        usr_path "${rel%.xz}"
        REPLY=${REPLY%.zst}
        case $f in *.xz | *.zst) plan_unpack "$f" "$REPLY" ;; *) plan_file "$f" "$REPLY" ;; esac
        rel=${f#"$KDIR"}
        rel=${rel%.xz}
        echo "${rel%.zst}"
    done >"$gen/modules-nvme"
    for f in nvme-core nvmet nvme-loop; do
        grep -q "/$f\.ko$" "$gen/modules-nvme" || vm_die "kernel $KVER has no $f module"
    done
    plan_file "$gen/modules-nvme" etc/prfence-vm/modules-nvme
}

# Builds nvme.cpio when it is out of date (called by build-image.sh's main for the nvme topology).
nvme_layer() {
    local sig
    fetch_nv_packages
    sig="kernel=$KPKG packages=${NV_PACKAGES[*]} modules=${NV_MODULES[*]} load=${LOAD_MODULES[*]}"
    sig+=" script=$(cat "$VM_SRC/build-image.sh" "$VM_SRC/nvme-image.sh" | sha256sum | cut -c1-16)"
    if layer_up_to_date "$VM_IMAGE/nvme.cpio" "$sig"; then
        vm_log "nvme layer up to date"
    else
        plan_nv
        build_layer nvme "$VM_IMAGE/nvme.cpio" "$sig"
    fi
}
