#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fencing as a cluster meets it: `stonith_admin --fence node-b` end to end under a real single-node
# Pacemaker + Corosync (tests/cluster/cluster_lib.sh), fence_prfence (through prfenced, which holds the
# LUs open) against Debian's unmodified fence_scsi (one sg_turs/sg_persist process per command, run
# through prsim-run), on ONE prsim farm whose every command takes LATENCY (default 1 ms), at 64 and 256
# LUs. fence_scsi runs as the agent fence_scsi_prsim, a wrapper that execs prsim-run ... fence_scsi
# with the fencer's stdin; its key file (written by its own `on`, the automatic unfencing) is
# redirected into the run's directory. Both agents use fence_scsi's key_value=hash keys, so node-a and
# node-b have the same keys under either agent. Before each timed fence, node-b's key is registered
# again directly over node-b's nexus (untimed); after it, node-b's key must be gone from every LU.
# fence_prfence's own share (agent start to exit, as the fencer runs it) is measured with a wrapper that
# records bash's clock around the binary, in separate runs (the wrapper costs a bash start), with the
# keys derived (key_value=hash) and with the keys from the device's host map.
# Prints every run (after one untimed fence per fence_prfence configuration), then min / median / max per configuration and the ratio of medians.
#
#   tests/bench/pacemaker_bench.sh [BUILD_DIR]   (default build/rel; root, fence-agents installed)
#   env: PRFENCE_BENCH_RUNS (5, fence_prfence runs per size), PRFENCE_BENCH_SCSI_RUNS (3),
#        PRFENCE_BENCH_SIZES ("64 256"), PRFENCE_BENCH_LATENCY_US (1000)
# Exit: 0 when every fence succeeded (the targets are printed, not enforced), 1 otherwise, 77 when no
# cluster can run here or fence_scsi is missing.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(readlink -f "${1:-$ROOT/build/rel}")
RUNS=${PRFENCE_BENCH_RUNS:-5}
SCSI_RUNS=${PRFENCE_BENCH_SCSI_RUNS:-3}
SIZES=${PRFENCE_BENCH_SIZES:-"64 256"}
LAT=${PRFENCE_BENCH_LATENCY_US:-1000}
AGENT=$BUILD/tools/fence_prfence/fence_prfence P=$BUILD/tools/prfence S=$BUILD/interposer/prsim
D=$BUILD/nl_control/daemon/prfenced RUN=$BUILD/interposer/prsim-run
for b in "$AGENT" "$P" "$S" "$D" "$RUN"; do
    [ -x "$b" ] || { echo "pacemaker_bench.sh: $b is not built (fence_prfence prfence prsim prfenced prsim-run)" >&2; exit 2; }
done
# shellcheck source=../cluster/cluster_lib.sh
. "$ROOT/tests/cluster/cluster_lib.sh"
cluster_prepare
[ -x /usr/sbin/fence_scsi ] || cl_skip "fence_scsi is not installed (fence-agents, tools/deps.sh test set)"
command -v sg_persist >/dev/null || cl_skip "sg_persist is not installed (sg3-utils)"
MAX=0
for n in $SIZES; do [ "$n" -gt "$MAX" ] && MAX=$n; done
INI_A="iqn.2026-11.io.prfence:node-a,i,0x1"
INI_B="iqn.2026-11.io.prfence:node-b,i,0x2"
INI_C="iqn.2026-11.io.prfence:node-c,i,0x3"
KB=4a5c26f7  # node-b's key_value=hash key in cluster "prfence"
sock=$CL_DIR/prsim.sock ctl=$CL_DIR/control.sock
cl_start_farm "$S" "$D" "$P" --luns "$MAX" --fault "latency,us=$LAT"
for n in $SIZES; do
    "$P" --daemon="$ctl" group create "a$n" --initiator "$INI_A" --target-port 1 "sim:$sock:0-$((n - 1))" >/dev/null ||
        { echo "group create a$n failed"; exit 1; }
done

# The agents Pacemaker runs from /usr/sbin.
mkdir -p "$CL_DIR/scsi"
cat >"$CL_DIR/fence_scsi_prsim" <<EOF
#!/bin/sh
# fence_scsi on prsim LUs as node-a; its /var/run/cluster.key and .dev live in $CL_DIR/scsi.
exec "$RUN" --socket "$sock" --initiator "$INI_A" --target-port 1 \\
    --redirect "/var/run/cluster=$CL_DIR/scsi/cluster" -- /usr/sbin/fence_scsi
EOF
cat >"$CL_DIR/fence_prfence_timed" <<EOF
#!/bin/bash
# fence_prfence with its start and exit times (bash's clock, microseconds) appended to agent-times.
t0=\$EPOCHREALTIME
"$AGENT"
rc=\$?
echo "\$t0 \$EPOCHREALTIME \$rc" >>"$CL_DIR/agent-times"
exit \$rc
EOF
chmod 0755 "$CL_DIR/fence_scsi_prsim" "$CL_DIR/fence_prfence_timed"
cluster_agent fence_prfence "$AGENT"
cluster_agent fence_scsi_prsim "$CL_DIR/fence_scsi_prsim"

disk_name() {  # disk_name N: the sd letters of index N (0 sda, 25 sdz, 26 sdaa), as the shim names LUs
    local n=$(($1 + 1)) s=""
    while [ "$n" -gt 0 ]; do
        n=$((n - 1))
        s=$(printf "\\$(printf '%03o' $((97 + n % 26)))")$s
        n=$((n / 26))
    done
    printf 'sd%s' "$s"
}
# device_xml prf|prfmap|scsi N: the one stonith device of a configuration. prf and scsi derive the
# keys from the node names (key_value=hash; the agents ask corosync-cmapctl for the cluster name);
# prfmap hands fence_prfence the key from the device's host map (pcmk_host_argument=key).
device_xml() {
    local kind=$1 n=$2 params i devs='' keys="<nvpair id=\"d-kv\" name=\"key_value\" value=\"hash\"/>"
    if [ "$kind" != scsi ]; then
        params="<nvpair id=\"d-g\" name=\"group\" value=\"a$n\"/>
    <nvpair id=\"d-s\" name=\"socket\" value=\"$ctl\"/>
    <nvpair id=\"d-k\" name=\"key_file\" value=\"$CL_DIR/prfence.key\"/>"
        [ "$kind" = prfmap ] && keys="<nvpair id=\"d-hm\" name=\"pcmk_host_map\" value=\"node-a:4a5c6cec;node-b:$KB\"/>
    <nvpair id=\"d-ha\" name=\"pcmk_host_argument\" value=\"key\"/>"
    else
        for i in $(seq 0 $((n - 1))); do devs=${devs:+$devs,}/dev/prsim/$(disk_name "$i"); done
        params="<nvpair id=\"d-d\" name=\"devices\" value=\"$devs\"/>
    <nvpair id=\"d-on\" name=\"pcmk_on_timeout\" value=\"900s\"/>"
    fi
    local type=fence_prfence
    [ "$kind" = scsi ] && type=fence_scsi_prsim
    echo "<resources><primitive id=\"$kind$n\" class=\"stonith\" type=\"$type\">
  <instance_attributes id=\"d-ia\">
    $params
    $keys
    <nvpair id=\"d-hl\" name=\"pcmk_host_list\" value=\"node-a node-b\"/>
    <nvpair id=\"d-to\" name=\"pcmk_off_timeout\" value=\"900s\"/>
  </instance_attributes>
  <meta_attributes id=\"d-ma\"><nvpair id=\"d-prov\" name=\"provides\" value=\"unfencing\"/></meta_attributes>
</primitive></resources>"
}
unfence_count() { stonith_admin --history node-a --verbose 2>/dev/null | grep -c 'unfencing of node-a successful'; }

first=${SIZES%% *}
cluster_seed "$(device_xml prf "$first" | sed 's|^<resources>||; s|</resources>$||')"
cluster_start
cluster_wait_dc 60
current=prf$first
for _ in $(seq 1200); do [ "$(unfence_count)" -ge 1 ] && break; sleep 0.1; done
[ "$(unfence_count)" -ge 1 ] || { echo "node-a was not unfenced by prf$first within 120 s"; exit 1; }
failed=0
# use KIND N: the configuration's device replaces the previous one; node-a is unfenced by it.
use() {
    local before n
    [ "$1$2" = "$current" ] && return 0
    current=$1$2
    before=$(unfence_count)
    cibadmin --replace -o resources --xml-text "$(device_xml "$1" "$2")" >/dev/null ||
        { echo "cibadmin --replace failed"; exit 1; }
    cluster_wait_device "$1$2" 60 || { echo "device $1$2 not registered"; exit 1; }
    for n in $(seq 9000); do [ "$(unfence_count)" -gt "$before" ] && break; sleep 0.1; done
    [ "$(unfence_count)" -gt "$before" ] || { echo "node-a not unfenced by $1$2 within 900 s"; exit 1; }
    # One untimed fence first for fence_prfence (a few ms, against the transition that follows a
    # device change); fence_scsi's runs take seconds each.
    [ "$1" = scsi ] || fence_once warmup "$2" >/dev/null
}
# fence_once LABEL N: node-b registered (untimed), then one timed stonith_admin --fence node-b (ms to
# $CL_DIR/LABEL.ms), then node-b's key must be gone from LUs 0..N-1.
fence_once() {
    local label=$1 n=$2 t0 t1 rc left
    "$P" register --initiator "$INI_B" --target-port 2 --key "$KB" --ignore-existing -q "sim:$sock:0-$((n - 1))" \
        >/dev/null 2>&1 || { echo "  $label: registering node-b's key failed"; failed=$((failed + 1)); return; }
    t0=$EPOCHREALTIME
    stonith_admin --fence node-b --timeout 900 >"$CL_DIR/fence.out" 2>&1
    rc=$?
    t1=$EPOCHREALTIME
    left=$("$P" keys --initiator "$INI_C" --target-port 1 "sim:$sock:0-$((n - 1))" 2>&1 | grep -c "0x$KB")
    local us=$((${t1/./} - ${t0/./})) ms
    ms=$(printf '%d.%d' $((us / 1000)) $((us % 1000 / 100)))
    if [ "$rc" -ne 0 ] || [ "$left" -ne 0 ]; then
        echo "  $label: stonith_admin exit $rc, node-b's key left on $left LUs: $(head -3 "$CL_DIR/fence.out")"
        failed=$((failed + 1))
        return
    fi
    echo "$ms" >>"$CL_DIR/$label.ms"
    echo "  $label: $ms ms"
}

fence_once warmup "$first" >/dev/null
for n in $SIZES; do
    echo "fence_prfence via prfenced, $n LUs:"
    use prf "$n"
    for _ in $(seq "$RUNS"); do fence_once "prf$n" "$n"; done
done
# The agent's own share: the same fences, the fencer now running the timing wrapper; then with the
# keys from the host map (no corosync-cmapctl run by the agent).
cluster_agent fence_prfence "$CL_DIR/fence_prfence_timed"
for kind in prf prfmap; do
    for n in $SIZES; do
        echo "fence_prfence via prfenced, $n LUs, agent timed (start to exit), $kind:"
        use "$kind" "$n"
        for _ in $(seq "$RUNS"); do
            before=$(wc -l <"$CL_DIR/agent-times" 2>/dev/null || echo 0)
            fence_once "${kind}wrapped$n" "$n"
            # The one line this fence added: the off action.
            tail -n +"$((before + 1))" "$CL_DIR/agent-times" |
                awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' | tail -1 >>"$CL_DIR/${kind}agent$n.ms"
            echo "    agent: $(tail -1 "$CL_DIR/${kind}agent$n.ms") ms"
        done
    done
done
for n in $SIZES; do
    echo "fence_scsi through prsim-run, $n LUs (unfencing node-a first):"
    use scsi "$n"
    for _ in $(seq "$SCSI_RUNS"); do fence_once "scsi$n" "$n"; done
done

echo
echo "stonith_admin --fence node-b, prsim at $LAT us per command (ms; min / median / max over runs):"
python3 - "$CL_DIR" "$SIZES" <<'PY'
import os, statistics, sys
d, sizes = sys.argv[1], sys.argv[2].split()
def load(name):
    p = os.path.join(d, name + ".ms")
    return [float(x) for x in open(p)] if os.path.exists(p) else []
def row(what, v):
    if v:
        print("  %-44s %3d runs  %9.1f %9.1f %9.1f" % (what, len(v), min(v), statistics.median(v), max(v)))
    else:
        print("  %-44s no successful run" % what)
for n in sizes:
    prf, scsi = load("prf" + n), load("scsi" + n)
    row("fence_prfence (prfenced), %s LUs, end to end" % n, prf)
    row("  same, through the timing wrapper", load("prfwrapped" + n))
    row("  fence_prfence's own share (start to exit)", load("prfagent" + n))
    row("  same, key from pcmk_host_map, end to end", load("prfmapwrapped" + n))
    row("  same, key from pcmk_host_map, agent's share", load("prfmapagent" + n))
    row("fence_scsi (prsim-run), %s LUs, end to end" % n, scsi)
    if prf and scsi:
        print("  ratio of medians (fence_scsi / fence_prfence), %s LUs: %.0fx" %
              (n, statistics.median(scsi) / statistics.median(prf)))
PY
echo "targets: >= 200x at 256 LUs; fence_prfence's own share < 20 ms"
[ "$failed" -eq 0 ]
