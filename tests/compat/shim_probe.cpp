// SPDX-License-Identifier: MIT
// shim_probe: a program that uses virtual prsim devices the way sg3_utils-style tools do, for the
// libprinterpose tests (tests/compat/*.sh). It knows nothing of the shim: it is run under
// prsim-run and only makes system calls. Built without sanitizers (the shim is preloaded into it).
//
//   shim_probe threads PREFIX LUNS THREADS ITERS  concurrent SG_IO from many threads, one shared fd
//   shim_probe async SGDEV                        sg v3 write()/poll()/read(), queue limit, pack_id
//   shim_probe fork SGDEV                         inherited fd in a forked child, exec of a child
//   shim_probe inq SGDEV                          one INQUIRY (exit 0 when GOOD)
//   shim_probe hold SGDEV READY_FILE GO_FILE      open, touch READY_FILE, wait for GO_FILE, SG_IO:
//                                                 prints "host=0xNN status=0xNN ms=N"
//   shim_probe stat PATH                          prints "blk|chr|dir|other MAJ:MIN" or errno
//   shim_probe fdtable SGDEV                      dup, dup2, F_DUPFD, close_range, high numbers
//   shim_probe sgnode SGDEV                       the sg node's errors and ioctls
//   shim_probe disknode SDDEV                     block I/O at byte offsets, lseek, block ioctls
//
// Exit 0 when every check passed; each failure prints one "FAIL ..." line.
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <scsi/scsi.h>
#include <scsi/scsi_ioctl.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<int> g_failures{0};

void fail(const std::string& what) {
    std::fprintf(stderr, "FAIL %s\n", what.c_str());
    g_failures.fetch_add(1);
}

// prsim's derived VPD 80h serial of LU n: its NAA identifier (5h | company 5A7F4Eh | lun) in hex.
std::string serial_of(unsigned lun) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>((0x5ULL << 60) | (0x5A7F4EULL << 36) | lun));
    return buf;
}

struct Io {
    sg_io_hdr_t h{};
    unsigned char cdb[16]{};
    unsigned char sense[64]{};
    std::vector<unsigned char> data;
};

void prep(Io& io, const unsigned char* cdb, int cdb_len, size_t din, int pack_id = 0) {
    std::memcpy(io.cdb, cdb, static_cast<size_t>(cdb_len));
    io.data.assign(din, 0);
    io.h.interface_id = 'S';
    io.h.dxfer_direction = din ? SG_DXFER_FROM_DEV : SG_DXFER_NONE;
    io.h.cmd_len = static_cast<unsigned char>(cdb_len);
    io.h.cmdp = io.cdb;
    io.h.mx_sb_len = sizeof io.sense;
    io.h.sbp = io.sense;
    io.h.dxfer_len = static_cast<unsigned>(din);
    io.h.dxferp = din ? io.data.data() : nullptr;
    io.h.timeout = 10000;
    io.h.pack_id = pack_id;
    io.h.usr_ptr = reinterpret_cast<void*>(static_cast<intptr_t>(pack_id + 1000));
}

// INQUIRY, VPD page 80h: the LU's serial number.
bool inquiry_serial(int fd, std::string& serial, sg_io_hdr_t* out = nullptr) {
    Io io;
    const unsigned char cdb[6] = {0x12, 0x01, 0x80, 0x00, 0xfc, 0x00};
    prep(io, cdb, 6, 252);
    if (ioctl(fd, SG_IO, &io.h) != 0) return false;
    if (out) *out = io.h;
    if (io.h.status != 0 || io.h.host_status != 0) return false;
    const size_t got = io.h.dxfer_len - static_cast<unsigned>(io.h.resid);
    if (got < 4) return false;
    const size_t len = std::min<size_t>(io.data[3], got - 4);
    serial.assign(reinterpret_cast<const char*>(io.data.data() + 4), len);
    return true;
}

std::string sg_path(const std::string& prefix, unsigned lun) {
    return prefix + "/sg" + std::to_string(lun);
}

int cmd_threads(const std::string& prefix, unsigned luns, unsigned threads, unsigned iters) {
    const int shared = open(sg_path(prefix, 0).c_str(), O_RDWR);
    if (shared < 0) {
        fail("open shared: " + std::string(std::strerror(errno)));
        return 1;
    }
    std::vector<std::thread> ts;
    std::atomic<unsigned> ok{0};
    for (unsigned t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            for (unsigned i = 0; i < iters; ++i) {
                const unsigned lun = (t * iters + i) % luns;
                int fd = open(sg_path(prefix, lun).c_str(), O_RDWR | O_NONBLOCK);
                if (fd < 0) {
                    fail("open " + sg_path(prefix, lun) + ": " + std::strerror(errno));
                    continue;
                }
                std::string s;
                if (!inquiry_serial(fd, s) || s != serial_of(lun))
                    fail("thread " + std::to_string(t) + " lun " + std::to_string(lun) +
                         ": serial '" + s + "', want " + serial_of(lun));
                else
                    ok.fetch_add(1);
                if (!inquiry_serial(shared, s) || s != serial_of(0))
                    fail("shared fd: serial '" + s + "'");
                else
                    ok.fetch_add(1);
                close(fd);
            }
        });
    }
    for (auto& th : ts) th.join();
    close(shared);
    std::printf("threads: %u commands ok\n", ok.load());
    return g_failures.load() ? 1 : 0;
}

int cmd_async(const std::string& dev) {
    int fd = open(dev.c_str(), O_RDWR | O_NONBLOCK);
    if (fd < 0) {
        fail("open: " + std::string(std::strerror(errno)));
        return 1;
    }
    // Nothing submitted: poll says not readable, read says EAGAIN.
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) fail("poll before any command reported readiness");
    Io probe;
    if (read(fd, &probe.h, sizeof probe.h) != -1 || errno != EAGAIN)
        fail("read with nothing queued: want EAGAIN");
    // 16 commands queue (SG_MAX_QUEUE); the 17th is refused with EDOM, as the sg driver does.
    std::vector<Io> ios(17);
    const unsigned char tur[6] = {0x00, 0, 0, 0, 0, 0};
    const unsigned char inq[6] = {0x12, 0, 0, 0, 36, 0};
    for (int i = 0; i < 17; ++i) {
        if (i % 2)
            prep(ios[static_cast<size_t>(i)], inq, 6, 36, i);
        else
            prep(ios[static_cast<size_t>(i)], tur, 6, 0, i);
        ssize_t n = write(fd, &ios[static_cast<size_t>(i)].h, sizeof(sg_io_hdr_t));
        if (i < 16 && n != static_cast<ssize_t>(sizeof(sg_io_hdr_t)))
            fail("write " + std::to_string(i) + ": " + std::strerror(errno));
        if (i == 16 && (n != -1 || errno != EDOM)) fail("17th write: want EDOM");
    }
    // Every completion arrives: poll, select and read agree.
    int got = 0;
    std::vector<bool> seen(16, false);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool select_checked = false;
    while (got < 16 && std::chrono::steady_clock::now() < deadline) {
        p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 1000);
        if (r <= 0) continue;
        if (!select_checked) {
            fd_set rs;
            FD_ZERO(&rs);
            FD_SET(fd, &rs);
            timeval tv{0, 0};
            if (select(fd + 1, &rs, nullptr, nullptr, &tv) != 1) fail("select disagrees with poll");
            int waiting = -1;
            if (ioctl(fd, SG_GET_NUM_WAITING, &waiting) != 0 || waiting < 1)
                fail("SG_GET_NUM_WAITING after POLLIN");
            select_checked = true;
        }
        sg_io_hdr_t h{};
        h.interface_id = 'S';
        ssize_t n = read(fd, &h, sizeof h);
        if (n != static_cast<ssize_t>(sizeof h)) {
            fail("read after POLLIN: " + std::string(std::strerror(errno)));
            continue;
        }
        if (h.pack_id < 0 || h.pack_id >= 16 || seen[static_cast<size_t>(h.pack_id)]) {
            fail("bad or repeated pack_id " + std::to_string(h.pack_id));
            continue;
        }
        seen[static_cast<size_t>(h.pack_id)] = true;
        if (h.usr_ptr != reinterpret_cast<void*>(static_cast<intptr_t>(h.pack_id + 1000)))
            fail("usr_ptr not echoed");
        if (h.status != 0 || h.host_status != 0)
            fail("command " + std::to_string(h.pack_id) + " status " + std::to_string(h.status) +
                 " host " + std::to_string(h.host_status));
        if (h.pack_id % 2) {
            const auto& d = ios[static_cast<size_t>(h.pack_id)].data;
            if (h.resid != 0 || std::memcmp(d.data() + 8, "PRFENCE ", 8) != 0)
                fail("INQUIRY data not in the submitted buffer");
        }
        ++got;
    }
    if (got != 16) fail("only " + std::to_string(got) + " of 16 completions");
    p = {fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) fail("still readable after reading everything");
    // SG_SET_FORCE_PACK_ID: read() takes the answer with the pack_id asked for.
    int one = 1;
    ioctl(fd, SG_SET_FORCE_PACK_ID, &one);
    Io a, b;
    prep(a, tur, 6, 0, 7);
    prep(b, inq, 6, 36, 8);
    if (write(fd, &a.h, sizeof a.h) < 0 || write(fd, &b.h, sizeof b.h) < 0) fail("write a/b");
    sg_io_hdr_t want{};
    want.interface_id = 'S';
    want.pack_id = 8;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // blocking read() now waits for the answer
    if (read(fd, &want, sizeof want) != sizeof want || want.pack_id != 8)
        fail("forced pack_id 8 not returned first");
    want.pack_id = -1;
    if (read(fd, &want, sizeof want) != sizeof want || want.pack_id != 7)
        fail("pack_id 7 not returned");
    int ver = 0;
    if (ioctl(fd, SG_GET_VERSION_NUM, &ver) != 0 || ver < 30000 || ver >= 40000)
        fail("SG_GET_VERSION_NUM " + std::to_string(ver));
    // A dup shares the handle; closing the original keeps it working.
    int d = dup(fd);
    close(fd);
    std::string s;
    if (d < 0 || !inquiry_serial(d, s)) fail("SG_IO through a dup after closing the original");
    close(d);
    // After close the number is an ordinary descriptor again.
    std::printf("async: 16 queued, 17th EDOM, %d completions\n", got);
    return g_failures.load() ? 1 : 0;
}

int cmd_fork(const std::string& dev, const char* self) {
    int fd = open(dev.c_str(), O_RDWR);
    if (fd < 0) {
        fail("open: " + std::string(std::strerror(errno)));
        return 1;
    }
    std::string s0;
    if (!inquiry_serial(fd, s0)) fail("parent before fork");
    pid_t pid = fork();
    if (pid == 0) {
        // The child has its own connection (made at first use) and the inherited descriptor.
        std::string s;
        int bad = 0;
        if (!inquiry_serial(fd, s) || s != s0) bad |= 1;
        int fd2 = open(dev.c_str(), O_RDWR);
        if (fd2 < 0 || !inquiry_serial(fd2, s) || s != s0) bad |= 2;
        close(fd2);
        close(fd);
        if (bad) _exit(10 + bad);
        // exec: the new image gets the shim from the environment.
        execl("/proc/self/exe", self, "inq", dev.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("child exit status " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : -1));
    std::string s;
    if (!inquiry_serial(fd, s) || s != s0) fail("parent after fork");
    close(fd);
    std::printf("fork: parent, child and exec'd child all reached %s\n", s0.c_str());
    return g_failures.load() ? 1 : 0;
}

int cmd_inq(const std::string& dev) {
    int fd = open(dev.c_str(), O_RDWR);
    if (fd < 0) {
        std::fprintf(stderr, "open %s: %s\n", dev.c_str(), std::strerror(errno));
        return 2;
    }
    std::string s;
    bool ok = inquiry_serial(fd, s);
    close(fd);
    return ok ? 0 : 1;
}

int cmd_hold(const std::string& dev, const std::string& ready, const std::string& go) {
    int fd = open(dev.c_str(), O_RDWR);
    if (fd < 0) {
        std::fprintf(stderr, "open %s: %s\n", dev.c_str(), std::strerror(errno));
        return 2;
    }
    std::string s;
    if (!inquiry_serial(fd, s)) return 3;
    int rf = open(ready.c_str(), O_WRONLY | O_CREAT, 0600);
    close(rf);
    struct stat st;
    while (stat(go.c_str(), &st) != 0) usleep(10000);
    auto t0 = std::chrono::steady_clock::now();
    sg_io_hdr_t h{};
    bool ok = inquiry_serial(fd, s, &h);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    std::printf("host=0x%02x status=0x%02x ok=%d ms=%lld\n", h.host_status, h.status, ok ? 1 : 0,
                static_cast<long long>(ms));
    close(fd);
    return 0;
}

int cmd_stat(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        std::printf("%s\n", std::strerror(errno));
        return 0;
    }
    const char* kind = S_ISBLK(st.st_mode)   ? "blk"
                       : S_ISCHR(st.st_mode) ? "chr"
                       : S_ISDIR(st.st_mode) ? "dir"
                                             : "other";
    std::printf("%s %u:%u\n", kind, major(st.st_rdev), minor(st.st_rdev));
    return 0;
}

// ---- one unit of the shim at a time -----------------------------------------------------------

constexpr unsigned long kSgGetAccessCount = 0x2289;  // the kernel's include/uapi/scsi/sg.h

// Whether a call failed as it should: r is its result, errno what it set. `what` is a plain string
// so that building the message cannot touch errno before it is read.
void want_errno(const char* what, long r, int e) {
    const int got = errno;
    if (r != -1 || got != e)
        fail(std::string(what) + ": returned " + std::to_string(r) + " errno " +
             std::strerror(got) + ", want -1 " + std::strerror(e));
}

int access_count(int fd) {
    int n = -1;
    return ioctl(fd, kSgGetAccessCount, &n) == 0 ? n : -1;
}

bool answers_sg(int fd) {
    int v = 0;
    return ioctl(fd, SG_GET_VERSION_NUM, &v) == 0 && v == 30536;
}

// The descriptor table: every way a number comes to share a handle or stops sharing it.
int cmd_fdtable(const std::string& dev) {
    const int fd = open(dev.c_str(), O_RDWR);
    if (fd < 0) {
        fail("open: " + std::string(std::strerror(errno)));
        return 1;
    }
    if (access_count(fd) != 1) fail("one open: access count " + std::to_string(access_count(fd)));
    const int d1 = dup(fd);
    const int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (d1 < 0 || d2 < 100 || !answers_sg(d1) || !answers_sg(d2)) fail("dup / F_DUPFD");
    if (access_count(fd) != 3)
        fail("after two dups: access count " + std::to_string(access_count(fd)));
    // dup2 of a real descriptor onto a virtual one: the number is the real file's now.
    const int null = open("/dev/null", O_RDWR);
    if (dup2(null, d1) != d1) fail("dup2 /dev/null onto a virtual descriptor");
    if (answers_sg(d1)) fail("dup2 onto a virtual descriptor: still virtual");
    if (access_count(fd) != 2)
        fail("after dup2 over one: access count " + std::to_string(access_count(fd)));
    close(null);
    // dup2 of the virtual descriptor onto the real one: virtual again.
    if (dup2(fd, d1) != d1 || !answers_sg(d1)) fail("dup2 of a virtual descriptor");
    if (access_count(fd) != 3) fail("after dup2: access count " + std::to_string(access_count(fd)));
    // A number above the table's flag array (65536), when the limit allows one.
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    const int high = 70000;
    rlimit more{std::max<rlim_t>(rl.rlim_cur, high + 1), std::max<rlim_t>(rl.rlim_max, high + 1)};
    if (setrlimit(RLIMIT_NOFILE, &more) == 0) {
        if (dup2(fd, high) != high || !answers_sg(high)) fail("dup2 to a high number");
        if (access_count(fd) != 4)
            fail("high number: access count " + std::to_string(access_count(fd)));
        close(high);
        if (answers_sg(high)) fail("closed high number still virtual");
        if (access_count(fd) != 3)
            fail("high number closed: access count " + std::to_string(access_count(fd)));
    }
    // close_range over both dups; the original stays.
    if (close_range(static_cast<unsigned>(std::min(d1, d2)),
                    static_cast<unsigned>(std::max(d1, d2)), 0) != 0)
        fail("close_range: " + std::string(std::strerror(errno)));
    if (access_count(fd) != 1)
        fail("after close_range: access count " + std::to_string(access_count(fd)));
    std::string s;
    if (!inquiry_serial(fd, s)) fail("SG_IO after close_range");
    close(fd);
    // A closed number is an ordinary one: the C library's answer.
    int v = 0;
    want_errno("ioctl on a closed descriptor", ioctl(fd, SG_GET_VERSION_NUM, &v), EBADF);
    std::printf("fdtable: %s\n", g_failures.load() ? "failed" : "ok");
    return g_failures.load() ? 1 : 0;
}

// The sg node: its errors, its settings, and the ioctls it shares with disks.
int cmd_sgnode(const std::string& dev) {
    const int fd = open(dev.c_str(), O_RDWR | O_NONBLOCK);
    if (fd < 0) {
        fail("open: " + std::string(std::strerror(errno)));
        return 1;
    }
    char buf[64] = {};
    want_errno("pread", pread(fd, buf, sizeof buf, 0), ESPIPE);
    want_errno("pwrite", pwrite(fd, buf, sizeof buf, 0), ESPIPE);
    want_errno("lseek", lseek(fd, 0, SEEK_SET), ESPIPE);
    want_errno("fsync", fsync(fd), EINVAL);
    want_errno("write of 10 bytes", write(fd, buf, 10), EIO);
    want_errno("write of 40 bytes", write(fd, buf, 40), EINVAL);
    Io io;
    const unsigned char tur[6] = {0x00, 0, 0, 0, 0, 0};
    prep(io, tur, 6, 0);
    io.h.interface_id = 'Q';
    want_errno("write of a v4 header", write(fd, &io.h, sizeof io.h), ENOSYS);
    want_errno("SG_IO with a v4 header", ioctl(fd, SG_IO, &io.h), ENOSYS);
    want_errno("SG_IO without a header", ioctl(fd, SG_IO, nullptr), EFAULT);
    io.h.interface_id = 'S';
    io.h.cmd_len = 0;
    want_errno("SG_IO with no CDB", ioctl(fd, SG_IO, &io.h), EINVAL);

    if (ioctl(fd, SG_GET_TIMEOUT, nullptr) != 6000) fail("SG_GET_TIMEOUT default");
    int v = -1;
    want_errno("SG_SET_TIMEOUT -1", ioctl(fd, SG_SET_TIMEOUT, &v), EIO);
    v = 1234;
    if (ioctl(fd, SG_SET_TIMEOUT, &v) != 0 || ioctl(fd, SG_GET_TIMEOUT, nullptr) != 1234)
        fail("SG_SET_TIMEOUT 1234");
    v = 0;
    if (ioctl(fd, SG_GET_RESERVED_SIZE, &v) != 0 || v != SG_DEF_RESERVED_SIZE)
        fail("SG_GET_RESERVED_SIZE " + std::to_string(v));
    v = -1;
    want_errno("SG_SET_RESERVED_SIZE -1", ioctl(fd, SG_SET_RESERVED_SIZE, &v), EINVAL);
    v = 1;
    if (ioctl(fd, SG_EMULATED_HOST, &v) != 0 || v != 0) fail("SG_EMULATED_HOST");
    v = -2;
    if (ioctl(fd, SG_GET_PACK_ID, &v) != 0 || v != -1) fail("SG_GET_PACK_ID with nothing read");
    v = 0;
    if (ioctl(fd, SG_GET_COMMAND_Q, &v) != 0 || v != 1) fail("SG_GET_COMMAND_Q default");
    v = 0;
    if (ioctl(fd, SG_SET_COMMAND_Q, &v) != 0 || ioctl(fd, SG_GET_COMMAND_Q, &v) != 0 || v != 0)
        fail("SG_SET_COMMAND_Q 0");
    sg_scsi_id id{};
    if (ioctl(fd, SG_GET_SCSI_ID, &id) != 0 ||
        id.lun != std::atoi(dev.c_str() + dev.rfind("sg") + 2) || id.scsi_type != 0)
        fail("SG_GET_SCSI_ID");
    char name[64];
    std::memcpy(name, "\x40\0\0\0", 4);  // the buffer's length comes in as an int
    if (ioctl(fd, SCSI_IOCTL_PROBE_HOST, name) != 1 ||
        std::strcmp(name, "prsim (libprinterpose)") != 0)
        fail("SCSI_IOCTL_PROBE_HOST");
    uint64_t size = 0;
    want_errno("BLKGETSIZE64 on an sg node", ioctl(fd, BLKGETSIZE64, &size), ENOTTY);
    close(fd);
    std::printf("sgnode: %s\n", g_failures.load() ? "failed" : "ok");
    return g_failures.load() ? 1 : 0;
}

// The disk node: byte-offset I/O over whole blocks, the file position, and the block ioctls.
int cmd_disknode(const std::string& dev) {
    const int fd = open(dev.c_str(), O_RDWR);
    if (fd < 0) {
        fail("open: " + std::string(std::strerror(errno)));
        return 1;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN)) fail("a disk polls readable");
    // The size three ways: READ CAPACITY(16) through SG_IO, the block ioctls, lseek.
    Io rc;
    const unsigned char cap16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0};
    prep(rc, cap16, 16, 32);
    if (ioctl(fd, SG_IO, &rc.h) != 0 || rc.h.status != 0) fail("READ CAPACITY(16) through SG_IO");
    uint64_t last = 0;
    for (int i = 0; i < 8; ++i) last = last << 8 | rc.data[static_cast<size_t>(i)];
    uint32_t bs = 0;
    for (int i = 8; i < 12; ++i) bs = bs << 8 | rc.data[static_cast<size_t>(i)];
    const uint64_t size = (last + 1) * bs;
    uint64_t size64 = 0;
    unsigned long sectors = 0;
    int ssz = 0;
    if (ioctl(fd, BLKGETSIZE64, &size64) != 0 || size64 != size) fail("BLKGETSIZE64");
    if (ioctl(fd, BLKGETSIZE, &sectors) != 0 || sectors != size / 512) fail("BLKGETSIZE");
    if (ioctl(fd, BLKSSZGET, &ssz) != 0 || static_cast<uint32_t>(ssz) != bs) fail("BLKSSZGET");
    if (lseek(fd, 0, SEEK_END) != static_cast<off_t>(size)) fail("lseek SEEK_END");
    want_errno("lseek before 0", lseek(fd, -1, SEEK_SET), EINVAL);
    want_errno("lseek whence 99", lseek(fd, 0, 99), EINVAL);
    // Past the end: a read gets 0, a write ENOSPC, a read across it is cut short.
    char buf[4096];
    if (read(fd, buf, sizeof buf) != 0) fail("read at the end");
    want_errno("write at the end", write(fd, buf, 1), ENOSPC);
    if (pread(fd, buf, 100, static_cast<off_t>(size - 10)) != 10) fail("pread across the end");
    // A write that starts and ends inside blocks keeps the rest of them (read-modify-write).
    std::vector<char> pat(bs + 700);
    for (size_t i = 0; i < pat.size(); ++i) pat[i] = static_cast<char>('A' + i % 26);
    const off_t at = static_cast<off_t>(bs) * 3 + 300;
    std::vector<char> before(bs * 3), after(bs * 3);
    if (pread(fd, before.data(), before.size(), static_cast<off_t>(bs) * 3) !=
        static_cast<ssize_t>(before.size()))
        fail("pread before");
    if (pwrite(fd, pat.data(), pat.size(), at) != static_cast<ssize_t>(pat.size())) fail("pwrite");
    if (pread(fd, after.data(), after.size(), static_cast<off_t>(bs) * 3) !=
        static_cast<ssize_t>(after.size()))
        fail("pread after");
    std::memcpy(before.data() + 300, pat.data(), pat.size());
    if (before != after) fail("read-modify-write changed bytes outside the write");
    // write() and read() move the position; pread and pwrite do not.
    if (lseek(fd, at, SEEK_SET) != at) fail("lseek SEEK_SET");
    if (read(fd, buf, 26) != 26 || std::memcmp(buf, pat.data(), 26) != 0)
        fail("read at the position");
    if (lseek(fd, 0, SEEK_CUR) != at + 26) fail("position after read");
    if (pread(fd, buf, 10, 0) != 10 || lseek(fd, 0, SEEK_CUR) != at + 26)
        fail("pread moved the position");
    if (fsync(fd) != 0) fail("fsync");
    // Block ioctls answered without a command, and the SCSI ioctls a disk shares with sg nodes.
    int v = -1;
    if (ioctl(fd, BLKROGET, &v) != 0 || v != 0) fail("BLKROGET");
    if (ioctl(fd, BLKFLSBUF, nullptr) != 0) fail("BLKFLSBUF");
    want_errno("BLKGETSIZE64 to nowhere", ioctl(fd, BLKGETSIZE64, nullptr), EFAULT);
    if (!answers_sg(fd)) fail("SG_GET_VERSION_NUM on a disk");
    std::string s;
    if (!inquiry_serial(fd, s)) fail("SG_IO on a disk");
    sg_scsi_id id{};
    want_errno("SG_GET_SCSI_ID on a disk", ioctl(fd, SG_GET_SCSI_ID, &id), ENOTTY);
    want_errno("SG_GET_NUM_WAITING on a disk", ioctl(fd, SG_GET_NUM_WAITING, &v), ENOTTY);
    close(fd);
    std::printf("disknode: %s\n", g_failures.load() ? "failed" : "ok");
    return g_failures.load() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "threads" && argc == 6)
        return cmd_threads(argv[2], static_cast<unsigned>(std::atoi(argv[3])),
                           static_cast<unsigned>(std::atoi(argv[4])),
                           static_cast<unsigned>(std::atoi(argv[5])));
    if (cmd == "async" && argc == 3) return cmd_async(argv[2]);
    if (cmd == "fork" && argc == 3) return cmd_fork(argv[2], argv[0]);
    if (cmd == "inq" && argc == 3) return cmd_inq(argv[2]);
    if (cmd == "hold" && argc == 5) return cmd_hold(argv[2], argv[3], argv[4]);
    if (cmd == "stat" && argc == 3) return cmd_stat(argv[2]);
    if (cmd == "fdtable" && argc == 3) return cmd_fdtable(argv[2]);
    if (cmd == "sgnode" && argc == 3) return cmd_sgnode(argv[2]);
    if (cmd == "disknode" && argc == 3) return cmd_disknode(argv[2]);
    std::fprintf(stderr, "usage: see the comment at the top of shim_probe.cpp\n");
    return 64;
}
