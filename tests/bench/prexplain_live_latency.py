#!/usr/bin/env python3
# prexplain's live latency on prsim (the target: under 5 ms from the conflict to the JSON event).
# A prsim farm of 64 LUs writes its kernel-format trace; B fences A; prexplain follows the trace
# (--follow, --json, querying each LU); then A's RESERVE on each LU in turn hits a conflict, and the time
# from the trace line's timestamp (CLOCK_MONOTONIC, as prsim writes it) to reading prexplain's JSON line
# (time.monotonic(), the same clock) is the latency, LU query included.
#   tests/bench/prexplain_live_latency.py PREXPLAIN PRFENCE PRSIM
import subprocess, sys, time, json, os, tempfile
X, P, S = sys.argv[1:4]
d = tempfile.mkdtemp(); sock = d + "/s.sock"; trace = d + "/t.txt"
sp = subprocess.Popen([S, "--socket", sock, "--luns", "64", "--trace", trace], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while not os.path.exists(sock): time.sleep(0.05)
A = ["--initiator", "iqn.2026-11.io.prfence:node-a,i,0x1", "--target-port", "1"]
B = ["--initiator", "iqn.2026-11.io.prfence:node-b,i,0x2", "--target-port", "2"]
ALL = "sim:%s:0-63" % sock
q = lambda *a: subprocess.run([P, *a, "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
q("register", *A, "--key", "abc123", ALL); q("reserve", *A, "--key", "abc123", "--type", "EA", ALL)
q("register", *B, "--key", "123abc", ALL); q("fence", *B, "--key", "123abc", "--victim", "abc123", "--type", "EA", ALL)
xp = subprocess.Popen([X, "--key", "abc123", "--sim", sock, *A, "--json", "--follow", trace], stdout=subprocess.PIPE, text=True)
time.sleep(0.5)
lats = []
for lun in range(64):
    q("reserve", *A, "--key", "abc123", "--type", "EA", "sim:%s:%d" % (sock, lun))
    line = xp.stdout.readline()
    now = time.monotonic()
    e = json.loads(line)
    lats.append((now - e["first_seen"]) * 1000)
xp.terminate(); sp.terminate()
lats.sort()
print("conflict -> JSON event over %d LUs: min %.2f ms, median %.2f ms, p90 %.2f ms, max %.2f ms" % (len(lats), lats[0], lats[len(lats)//2], lats[int(len(lats)*0.9)], lats[-1]))
