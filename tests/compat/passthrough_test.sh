#!/usr/bin/env bash
# With libprinterpose preloaded, every real path and descriptor behaves exactly as without it:
# /dev/null, regular files, directories, pipes, the real /dev, and names next to the prefix that
# are not virtual device names. The outputs with and without the shim must be identical.
. "$(dirname "$0")/lib.sh"
: "${SHIM_PROBE:?}"
need_tools sg_persist python3
start_prsim --luns 4
echo "real data" >"$TDIR/file"
mkdir -p "$TDIR/dev/prsimx"
probe_script='
import os, stat, sys, subprocess
t = sys.argv[1]
out = []
for p in ["/dev/null", t + "/file", t, "/dev", "/dev/prsimx", "/dev/prsim/sgx", "/dev/prsim/sd1",
          "/dev/prsim/sg007", "/dev/prsim/../null", t + "/dev/prsimx"]:
    try:
        st = os.stat(p)
        out.append("%s %o %d" % (p, stat.S_IFMT(st.st_mode), st.st_rdev))
    except OSError as e:
        out.append("%s errno %d" % (p, e.errno))
out.append(os.path.realpath("/dev/null"))
with open(t + "/file") as f:
    out.append(f.read().strip())
with open(t + "/new", "w") as f:
    f.write("x" * 100)
out.append(str(os.path.getsize(t + "/new")))
fd = os.open("/dev/null", os.O_RDWR)
out.append(str(os.write(fd, b"abc")) + " " + str(len(os.read(fd, 10))))
fd2 = os.dup(fd)
os.close(fd)
out.append(str(os.fstat(fd2).st_rdev))
os.close(fd2)
r, w = os.pipe()
os.write(w, b"pipe")
out.append(os.read(r, 4).decode())
out.append(subprocess.run(["cat", t + "/file"], capture_output=True, text=True).stdout.strip())
print("\n".join(out))
'
without=$(python3 -c "$probe_script" "$TDIR" 2>&1)
with=$(A python3 -c "$probe_script" "$TDIR" 2>&1)
[ "$with" = "$without" ] && ok || { bad "python file operations differ with the shim"; diff <(echo "$without") <(echo "$with"); }
# sg_persist on a real non-SCSI device answers as it does without the shim.
without=$(sg_persist -n -i -k /dev/null 2>&1; echo "rc=$?")
with=$(A sg_persist -n -i -k /dev/null 2>&1; echo "rc=$?")
[ "$with" = "$without" ] && ok || { bad "sg_persist /dev/null differs"; diff <(echo "$without") <(echo "$with"); }
# coreutils (statx, open, read, write) on real files.
without=$(stat -c '%F %t:%T %s' /dev/null "$TDIR/file"; cat "$TDIR/file"; dd if="$TDIR/file" bs=4 count=1 status=none; echo)
with=$(A sh -c "stat -c '%F %t:%T %s' /dev/null '$TDIR/file'; cat '$TDIR/file'; dd if='$TDIR/file' bs=4 count=1 status=none; echo")
[ "$with" = "$without" ] && ok || { bad "coreutils differ"; diff <(echo "$without") <(echo "$with"); }
# A process that never touches a virtual path never connects to prsim.
A python3 -c 'import os; os.stat("/dev/null"); open("/dev/null").read()'
conns=$("$PRSIM" ctl --socket "$SOCK" stats | grep -E '"connections_accepted"' | tr -dc '0-9')
[ "${conns:-x}" = "1" ] && ok || bad "prsim saw ${conns:-?} connections (want 1: prsim ctl's own)"
finish
