#!/usr/bin/env bash
# prbench against a real prsim daemon whose LUs answer every command after a fixed 1 ms (--fault
# latency,ms=1): the JSON has fio's fields and plausible values (no command faster than the injected
# latency, percentiles monotone, N = what was asked), concurrency and batching show up as the physics
# says they must, paced mode corrects coordinated omission, the SVG is well-formed XML, failures exit
# non-zero. With the prsim-run LD_PRELOAD shim built (argument 3), the sg_persist baseline runs too.
# Usage: prbench_sim_test.sh PRBENCH PRSIM [PRSIM_RUN]
set -u
PB=$1 S=$2 RUN=${3:-}
dir=$(mktemp -d)
sock=$dir/prsim.sock
"$S" --socket "$sock" --luns 32 --fault latency,ms=1 >"$dir/prsim.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
fails=0 passes=0 skips=0
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
pass() { echo "ok   $1"; passes=$((passes + 1)); }

# bench NAME WANT_RC ARGS...: runs prbench (quiet), keeps its stdout in $dir/NAME.out
bench() {
    local name=$1 want=$2
    shift 2
    "$PB" -q "$@" >"$dir/$name.out" 2>"$dir/$name.err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name" "exit $rc (want $want): prbench $*"
        sed 's/^/    /' "$dir/$name.err" | head -20
        return 1
    fi
    return 0
}
# pycheck NAME FILE: python3 assertions on stdin (the JSON in FILE is sys.argv[1])
pycheck() {
    local name=$1 file=$2 out
    if out=$(python3 - "$file" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}
COMMON='
import json, sys
j = json.load(open(sys.argv[1]))
jobs = j["jobs"]
P = ["1.000000","5.000000","10.000000","20.000000","30.000000","40.000000","50.000000","60.000000","70.000000",
     "80.000000","90.000000","95.000000","99.000000","99.500000","99.900000","99.950000","99.990000"]
def lat(x):
    for k in ("min","max","mean","stddev","N","percentile"): assert k in x, "missing " + k
    assert list(x["percentile"].keys()) == P, "percentile keys " + str(list(x["percentile"].keys()))
    v = [x["percentile"][k] for k in P]
    assert v == sorted(v), "percentiles not monotone: %s" % v
    if x["N"]:
        assert x["min"] <= v[0] and v[-1] <= x["max"], "min/max around the percentiles"
        assert x["min"] <= x["mean"] <= x["max"]
    return v
def job(**kw):
    m = [x for x in jobs if all(x.get(k) == w for k, w in kw.items())]
    assert len(m) == 1, "want one job with %s, got %d of %s" % (kw, len(m), [x["jobname"] for x in jobs])
    return m[0]
MS = 1000000
'

# 1. Per-operation latency, one at a time: 8 LUs x 10 measured cycles, 2 warm-up cycles each.
if bench op_qd1 0 -w op --op read-keys --qd 1 --iterations 10 --warmup 2 --output-format json sim:"$sock":0-7; then
    pycheck op_qd1_json "$dir/op_qd1.out" <<PY
$COMMON
assert j["clock"] == "CLOCK_MONOTONIC"
x = job(op="read-keys", backend="uring", qd=1)
for k in ("jobname","iops","runtime","total_ios","clat_ns","slowest_luns","errors","warmup"): assert k in x, k
assert x["errors"] == 0 and x["retries"] == 0, x["first_error"]
assert x["ops"] == 80 and x["clat_ns"]["N"] == 80, (x["ops"], x["clat_ns"]["N"])
assert x["warmup"] == 16, x["warmup"]
v = lat(x["clat_ns"])
p50 = x["clat_ns"]["percentile"]["50.000000"]
# prsim holds each command 1 ms before executing it: nothing can be faster; 30 ms is a generous ceiling
# for a sanitizer build on a loaded 2-core machine.
assert x["clat_ns"]["min"] >= 1 * MS, "faster than the injected latency: %d" % x["clat_ns"]["min"]
assert 1 * MS <= p50 <= 30 * MS, "p50 %d" % p50
# One at a time, >= 1 ms each: at most 1000 per second.
assert 0 < x["iops"] <= 1000, x["iops"]
assert x["slowest_luns"] and x["slowest_luns"][0]["name"].startswith("sim:"), x["slowest_luns"]
assert x["slowest_luns"][0]["max_ns"] == x["clat_ns"]["max"]
PY
fi

# 2. Concurrency sweep: 16 LUs at 1, 4 and all (16) in flight.
if bench op_sweep 0 -w op --op read-keys --qd 1,4,all --iterations 10 --output-format json sim:"$sock":0-15; then
    pycheck op_sweep_json "$dir/op_sweep.out" <<PY
$COMMON
a, b, c = job(qd=1), job(qd=4), job(qd=16)
for x in (a, b, c):
    lat(x["clat_ns"])
    assert x["clat_ns"]["N"] == 160 and x["errors"] == 0
# 1 ms of service each: 16 in flight must go several times faster than one at a time (ideally 16x
# and 4x; the margins leave room for a loaded machine).
assert c["iops"] > 3 * a["iops"], (a["iops"], c["iops"])
assert b["iops"] > 1.3 * a["iops"], (a["iops"], b["iops"])
PY
fi

# 3. Every operation the issue names, 4 LUs, 3 cycles each.
if bench op_all 0 -w op --op all --iterations 3 --luns 4 --output-format json sim:"$sock":0-15; then
    pycheck op_all_json "$dir/op_all.out" <<PY
$COMMON
names = ["register","register-ignore","reserve","release","preempt","preempt-abort","clear","read-keys",
         "read-reservation","report-capabilities","read-full-status"]
assert [x["op"] for x in jobs] == names, [x["op"] for x in jobs]
for x in jobs:
    assert not x["skipped"] and x["errors"] == 0, (x["op"], x["first_error"])
    assert x["ops"] == 12 and x["clat_ns"]["N"] >= 12 and x["luns"] == 4, (x["op"], x["ops"], x["clat_ns"]["N"])
    assert x["clat_ns"]["min"] >= 1 * MS, (x["op"], x["clat_ns"]["min"])
    lat(x["clat_ns"])
PY
fi

# 4. Mass fence and ping-pong, N = 4 and 16, batched against one at a time; the plot.
if bench fence 0 -w fence,pingpong --luns 4,16 -b uring,serial,sgio --rounds 3 --output-format json \
    --plot "$dir/fence.svg" sim:"$sock":0-15; then
    pycheck fence_json "$dir/fence.out" <<PY
$COMMON
for w, op in (("fence", "fence"), ("pingpong", "takeover")):
    for n in (4, 16):
        u, s = job(workload=w, luns=n, backend="uring"), job(workload=w, luns=n, backend="serial")
        g = job(workload=w, luns=n, backend="sgio")
        assert g["skipped"] and "sg devices" in g["note"], g
        for x in (u, s):
            assert x["op"] == op and not x["skipped"] and x["errors"] == 0, (w, n, x["backend"], x["first_error"])
            assert x["wall_ns"]["N"] == 3 and len(x["wall_ns"]["samples"]) == 3 and x["ops"] == 3 * n
            lat(x["wall_ns"]); lat(x["clat_ns"])
        per_lu = 3 if w == "fence" else 4   # fence: READ KEYS, PREEMPT AND ABORT, READ RESERVATION
        # Each LU's commands run in sequence, >= 1 ms each; one at a time, every LU's commands do.
        assert u["wall_ns"]["min"] >= per_lu * MS, (w, n, u["wall_ns"]["min"])
        assert s["wall_ns"]["min"] >= per_lu * n * MS, (w, n, s["wall_ns"]["min"])
        assert u["clat_ns"]["N"] >= 3 * n * per_lu, (w, n, u["clat_ns"]["N"])
    assert job(workload=w, luns=16, backend="serial")["wall_ns"]["percentile"]["50.000000"] > \
           2 * job(workload=w, luns=16, backend="uring")["wall_ns"]["percentile"]["50.000000"]
PY
    pycheck fence_svg "$dir/fence.svg" <<'PY'
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
svg = d.documentElement
assert svg.tagName == "svg" and svg.getAttribute("xmlns") == "http://www.w3.org/2000/svg"
texts = " ".join(t.firstChild.data for t in d.getElementsByTagName("text") if t.firstChild)
for want in ("Command latency CDF", "Mass fence", "LUNs fenced in one batch", "prfence (io_uring)", "one at a time",
             "1 ms", "latency per command"):
    assert want in texts, "missing text: " + want
paths = d.getElementsByTagName("path")
assert len(paths) >= 4, len(paths)   # a CDF and a fence line per backend
for p in paths: assert len(p.getAttribute("d")) > 10
PY
fi

# 4a. The kernel-facing backends on prsim LUs: skipped, each with its reason, and the engine still runs.
if bench kernel_skip 0 -w fence,op --op read-keys --luns 2 -b uring,blkpr,mpathpersist --rounds 1 \
    --output-format json sim:"$sock":0-1; then
    pycheck kernel_backends_skipped "$dir/kernel_skip.out" <<PY
$COMMON
b = job(workload="fence", backend="blkpr")
assert b["skipped"] and "IOC_PR_*" in b["note"] and "prsim" in b["note"], b
m = job(workload="fence", backend="mpathpersist")
assert m["skipped"] and "dm-multipath maps" in m["note"], m
for be in ("blkpr", "mpathpersist"):
    o = job(workload="op", backend=be)
    assert o["skipped"] and o["note"] == be + " only fences (workload fence)", o
u = job(workload="fence", backend="uring")
assert not u["skipped"] and u["errors"] == 0, u["first_error"]
PY
fi

# 4b. Arming: the default (--arm reserve, no abort) and --arm takeover with --settle; the arming time of each
# measured round is reported beside (not in) the batch wall.
for arm in reserve takeover; do
    if bench fence_arm_$arm 0 -w fence --luns 4 -b uring --rounds 2 --arm $arm --settle 5 --output-format json \
        sim:"$sock":0-3; then
        pycheck fence_arm_$arm "$dir/fence_arm_$arm.out" <<PY
$COMMON
u = job(workload="fence", luns=4, backend="uring")
assert not u["skipped"] and u["errors"] == 0, u["first_error"]
assert len(u["arm_ns"]) == 2 and len(u["wall_ns"]["samples"]) == 2, u
# Arming is 2 (takeover + register) or 5 (register, clear, register, register, reserve) batches of >= 1 ms, plus 5 ms.
assert min(u["arm_ns"]) >= 7 * MS, u["arm_ns"]
PY
    fi
done

# 5. Paced mode: 100 reads scheduled at 4000/s on one command in flight, each >= 1 ms: the schedule
# falls behind, and latency from the intended send time must show it (clat alone would not).
if bench paced 0 -w op --op read-keys --qd 1 --rate 4000 --iterations 25 --warmup 0 --output-format json sim:"$sock":0-3; then
    pycheck paced_json "$dir/paced.out" <<PY
$COMMON
x = job(op="read-keys")
assert x["rate"] == 4000 and "lat_ns" in x, x.keys()
c, l = lat(x["clat_ns"]), lat(x["lat_ns"])
assert x["lat_ns"]["N"] == x["ops"] == 100
assert all(b >= a for a, b in zip(c, l)), "corrected latency below clat: %s %s" % (c, l)
# The schedule falls ~75 ms behind by the end: the corrected median is tens of times clat's (compared at
# the median, which one stalled command on a loaded machine cannot move as it moves the p99).
assert l[6] > 5 * c[6], "p50 corrected %d vs clat %d: coordinated omission not corrected" % (l[6], c[6])
PY
fi
# ... and a rate the LUs keep up with: the run lasts as long as the schedule (40 ops at 200/s = 195 ms).
if bench paced_ok 0 -w op --op read-keys --rate 200 --iterations 10 --warmup 0 --output-format json sim:"$sock":0-3; then
    pycheck paced_ok_json "$dir/paced_ok.out" <<PY
$COMMON
x = job(op="read-keys")
assert x["runtime_ns"] >= 180 * MS, x["runtime_ns"]
assert x["iops"] <= 230, x["iops"]
l = lat(x["lat_ns"]); c = lat(x["clat_ns"])
assert all(b >= a for a, b in zip(c, l))
PY
fi

# 6. fio-like text.
if bench text 0 -w op --op read-reservation --qd all --iterations 5 sim:"$sock":0-3; then
    out=$(cat "$dir/text.out")
    ok=1
    for want in 'clat \(usec\): min=[0-9]+, max=[0-9]+, avg=[0-9.]+, stdev=[0-9.]+' 'clat percentiles \(usec\):' \
        '\|  1\.00th=\[ *[0-9]+\],  5\.00th=\[' '\| 99\.99th=\[ *[0-9]+\]' 'IOPS=[0-9]' 'slowest LUNs: sim:' \
        '^read-reservation-uring-n4-qd4:' 'Comparison'; do
        grep -qE -- "$want" <<<"$out" || { fail text "no line matching $want"; ok=0; }
    done
    [ "$ok" = 1 ] && pass text
fi

# 7. Failures: no daemon (a result with an error, exit non-zero), a bad option (exit 1).
"$PB" -q -w op --iterations 1 sim:"$dir/none.sock":0-3 >"$dir/nodaemon.out" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q 'none.sock' "$dir/nodaemon.out"; then pass no_daemon; else fail no_daemon "exit $rc: $(head -3 "$dir/nodaemon.out")"; fi
"$PB" -q --op frobnicate sim:"$sock":0 >"$dir/badop.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'unknown operation frobnicate' "$dir/badop.out"; then pass bad_op; else fail bad_op "exit $rc"; fi

# 8. Baselines on prsim through the LD_PRELOAD shim (prsim-run), one process per command.
if [ -n "$RUN" ] && [ -x "$RUN" ]; then
    if bench baseline 0 -w fence,op --op read-keys --luns 4 -b uring,sg_persist --rounds 2 --baseline-iterations 2 \
        --prsim-run "$RUN" --output-format json sim:"$sock":0-3; then
        pycheck baseline_json "$dir/baseline.out" <<PY
$COMMON
f = job(workload="fence", backend="sg_persist")
assert not f["skipped"] and f["errors"] == 0, (f["note"], f["first_error"])
assert f["clat_ns"]["N"] >= 12 and f["wall_ns"]["N"] == 1, (f["clat_ns"]["N"], f["wall_ns"]["N"])
assert f["clat_ns"]["min"] >= 1 * MS          # a process per command, and prsim's 1 ms
u = job(workload="fence", backend="uring")
assert f["wall_ns"]["min"] > u["wall_ns"]["percentile"]["50.000000"], "the sg_persist loop beat one batch"
o = job(workload="op", backend="sg_persist")
assert not o["skipped"] and o["errors"] == 0 and o["ops"] == 8 and o["clat_ns"]["N"] >= 8, (o["note"], o["first_error"], o["ops"])
PY
    fi
    # fence_scsi leaves B holding a WE-RO reservation: the next N's arming must start from that.
    # (Debian installs fence_scsi in /usr/sbin, which a non-root PATH lacks.)
    if PATH=$PATH:/usr/sbin:/sbin command -v fence_scsi >/dev/null; then
        export PATH=$PATH:/usr/sbin:/sbin
        host_state() { stat -c '%n %Y %s' /var/run/cluster.key /var/run/cluster.dev 2>/dev/null; }
        before_state=$(host_state)
        scsi_dirs() { ls -d "${TMPDIR:-/tmp}"/prbench-fence_scsi-* 2>/dev/null; }
        before_dirs=$(scsi_dirs)
        if bench after_fence_scsi 0 -w fence --luns 2,4 -b fence_scsi,uring --rounds 1 --baseline-rounds 1 \
            --prsim-run "$RUN" --output-format json sim:"$sock":0-3; then
            pycheck after_fence_scsi "$dir/after_fence_scsi.out" <<PY
$COMMON
for n in (2, 4):
    for b in ("fence_scsi", "uring"):
        x = job(workload="fence", backend=b, luns=n)
        assert not x["skipped"] and x["errors"] == 0, (n, b, x["note"], x["first_error"])
PY
        fi
        # fence_scsi's state went to a directory of the run's own, not this host's /var/run/cluster.*.
        if [ "$(host_state)" = "$before_state" ]; then pass host_fence_scsi_state_untouched; else
            fail host_fence_scsi_state_untouched "before: '$before_state' after: '$(host_state)'"; fi
        if [ "$(scsi_dirs)" != "$before_dirs" ]; then
            fail fence_scsi_dir_removed "$(scsi_dirs)"; else pass fence_scsi_dir_removed; fi
    else
        echo "skip fence_scsi_baseline: fence_scsi not installed (tools/deps.sh test set)"
        skips=$((skips + 1))
    fi
elif [ "${PRBENCH_REQUIRE_SHIM:-0}" = 1 ]; then
    fail baseline "the prsim-run target exists but $RUN is not built"
else
    if bench baseline_skip 0 -w fence --luns 2 -b sg_persist --output-format json sim:"$sock":0-1; then
        pycheck baseline_skipped "$dir/baseline_skip.out" <<PY
$COMMON
f = job(backend="sg_persist")
assert f["skipped"] and "prsim-run" in f["note"], f
PY
    fi
    echo "skip baseline_sg_persist: no prsim-run shim at '${RUN}' (build the interposer's prsim-run target)"
    skips=$((skips + 1))
fi

echo "$passes passed, $fails failed, $skips skipped"
[ "$fails" -eq 0 ] || exit 1
# A check that could not run makes the test a skip (77), which tests/run.sh reports.
if [ "$skips" -ne 0 ]; then echo "SKIP: $skips checks could not run (see the skip lines above)"; exit 77; fi
