#!/usr/bin/env bash
# Debian's unmodified fence_scsi (Python, running sg_persist and sg_turs for every device) with
# devices= listing 64 virtual LUNs, through libprinterpose: `on` (unfence) for node A and node B,
# `off` (B fences A), `status` and `monitor` succeed, and the LUs are left in the state fence_scsi
# promises (checked per LU with sg_persist through the shim). Each node keeps its key file where
# fence_scsi keeps it, /var/run/cluster.key, redirected to the node's own directory (no root, and
# two nodes on one machine).
. "$(dirname "$0")/lib.sh"
need_tools fence_scsi sg_persist sg_turs python3
N=${SHIM_FENCE_LUNS:-64}
start_prsim --luns "$N"
mkdir -p "$TDIR/a" "$TDIR/b"
FA() { "$PRSIM_RUN" --socket "$SOCK" --initiator "$INI_A" --target-port 1 \
        --redirect "/var/run/cluster=$TDIR/a/cluster" -- fence_scsi "$@"; }
FB() { "$PRSIM_RUN" --socket "$SOCK" --initiator "$INI_B" --target-port 2 \
        --redirect "/var/run/cluster=$TDIR/b/cluster" -- fence_scsi "$@"; }
devs=
for i in $(seq 0 $((N - 1))); do devs=${devs:+$devs,}/dev/prsim/$(disk_name "$i"); done
KA=abc123 KB=123abc
# The machine's own fence_scsi files are not touched (they are redirected per node).
real_files() { stat -c '%n %Y %s' /var/run/cluster.key /var/run/cluster.dev 2>&1; }
before=$(real_files)

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

t=$(date +%s%N)
expect on_a 0 "Success: Powered ON" -- FA --action=on --devices="$devs" --key=$KA
echo "fence_scsi on (node A, $N LUNs): $(ms "$t") ms"
t=$(date +%s%N)
expect on_b 0 "Success: Powered ON" -- FB --action=on --devices="$devs" --key=$KB
echo "fence_scsi on (node B, $N LUNs): $(ms "$t") ms"
# What `on` promises: the node's key in its key file, every device in its device file.
[ "$(cat "$TDIR/a/cluster.key")" = "$KA" ] && ok || bad "node A key file: $(cat "$TDIR/a/cluster.key" 2>&1)"
[ "$(wc -l <"$TDIR/b/cluster.dev")" -eq "$N" ] && ok || bad "node B device file has $(wc -l <"$TDIR/b/cluster.dev") lines"
# Both keys on every LU, A holding the WRITE EXCLUSIVE - REGISTRANTS ONLY reservation (first `on`).
check_state() {  # check_state STEP WANT_KEYS WANT_HOLDER
    local step=$1 want_keys=$2 holder=$3 i d keys res bad_luns=0
    for i in $(seq 0 $((N - 1))); do
        d=/dev/prsim/$(disk_name "$i")
        keys=$(B sg_persist -n -i -k "$d" 2>&1 | sed -n 's/^ *0x//p' | sort | tr '\n' ' ')
        res=$(B sg_persist -n -i -r "$d" 2>&1 | tr '\n' ' ')
        if [ "$keys" != "$want_keys" ] ||
            ! grep -q "Key=0x$holder .*type: Write Exclusive, registrants only" <<<"$res"; then
            [ "$bad_luns" -lt 3 ] && echo "    $step $d: keys '$keys', reservation '$res'"
            bad_luns=$((bad_luns + 1))
        fi
    done
    [ "$bad_luns" -eq 0 ] && ok || bad "$step: $bad_luns LUs not as fence_scsi promises"
}
check_state after_on "123abc abc123 " $KA
expect status_a_on 0 "Status: ON" -- FA --action=status --devices="$devs" --key=$KA

t=$(date +%s%N)
expect off_a 0 "Success: Powered OFF" -- FB --action=off --devices="$devs" --key=$KA
echo "fence_scsi off (B fences A, $N LUNs): $(ms "$t") ms"
# `off` promises: A's key gone from every LU, a reservation still held (now by B, who preempted).
check_state after_off "123abc " $KB
expect status_a_off 2 "Status: OFF" -- FB --action=status --devices="$devs" --key=$KA
expect status_b 0 "Status: ON" -- FB --action=status --devices="$devs" --key=$KB
expect monitor 0 "" -- FB --action=monitor --devices="$devs" --key=$KB
# A fenced node cannot write: its WRITE meets the reservation (a real device's answer).
expect_re fenced_write 1 'Input/output error' -- A dd if=/dev/zero of=/dev/prsim/sda bs=512 count=1 conv=notrunc status=none
# Fencing again is a no-op success.
expect off_again 0 "Success: Already OFF" -- FB --action=off --devices="$devs" --key=$KA
[ "$(real_files)" = "$before" ] && ok || bad "/var/run/cluster.* changed: $(real_files)"
finish
