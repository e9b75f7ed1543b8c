// SPDX-License-Identifier: MIT
// libprinterpose: virtual sg nodes and disks on top of this process's prsim connection.
#undef _FORTIFY_SOURCE
#include "interposer/shim/vdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <scsi/scsi.h>
#include <scsi/scsi_ioctl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "interposer/shim/real.h"

namespace prfence::shim {
namespace {

// The Linux sg driver's version: 3.5.36. Below 4.0.0, sg3_utils drives sg nodes with the v3
// interface (sg_io_hdr), which is the one implemented here.
constexpr int kSgVersion = 30536;
// Not in glibc's <scsi/sg.h> (the kernel's include/uapi/scsi/sg.h has them).
constexpr int kSgDxferUnknown = -5;
constexpr unsigned long kSgGetAccessCount = 0x2289;
constexpr uint8_t kDriverSense = 0x08;
constexpr uint32_t kChunk = 256 * 1024;   // block-device I/O per READ/WRITE(16)
constexpr int kBlockIoTimeoutMs = 30000;  // the sd driver's default command timeout

// ---- process state -------------------------------------------------------------------------

std::atomic<pid_t> g_pid{0};
std::mutex g_conn_mu;
Conn* g_conn = nullptr;
std::atomic<bool> g_warned{false};
std::atomic<bool> g_problem_reported{false};

// Descriptor table: a lock-free "may be virtual" flag per small descriptor number, the map under a
// mutex. Descriptors above the flag array are rare; a count tells whether any exist.
constexpr int kFlagFds = 65536;
std::atomic<uint8_t> g_flags[kFlagFds];
std::atomic<int> g_high_fds{0};
std::mutex g_table_mu;
std::unordered_map<int, std::shared_ptr<Handle>>& table() {
    static auto* t = new std::unordered_map<int, std::shared_ptr<Handle>>();
    return *t;
}

// READ CAPACITY answers per LU (capacities do not change while prsim runs).
struct Capacity {
    uint64_t blocks = 0;
    uint32_t block_size = 0;
};
std::mutex g_cap_mu;
std::unordered_map<uint32_t, Capacity>& capacities() {
    static auto* c = new std::unordered_map<uint32_t, Capacity>();
    return *c;
}

const char* env_get(const char* name) { return ::getenv(name); }

bool read_whole_file(const char* path, std::string& out) {
    int fd = PRSIM_REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[4096];
    for (;;) {
        ssize_t n = PRSIM_REAL(read)(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            PRSIM_REAL(close)(fd);
            return n == 0;
        }
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > (16u << 20)) {
            PRSIM_REAL(close)(fd);
            return false;
        }
    }
}

bool path_exists(const char* path) {
    struct stat st;
    return PRSIM_REAL(lstat)(path, &st) == 0;
}

void write_stderr(const std::string& line) {
    const std::string s = line + "\n";
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = PRSIM_REAL(write)(2, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

int clamp_timeout(int ms) {
    if (ms <= 0) ms = 60000;
    const int cap = config().max_timeout_ms;
    if (cap > 0 && ms > cap) ms = cap;
    return ms;
}

// ---- sg_io_hdr <-> Command / Outcome --------------------------------------------------------

bool reads_data(int dir) {
    return dir == SG_DXFER_FROM_DEV || dir == SG_DXFER_TO_FROM_DEV || dir == kSgDxferUnknown;
}

// Builds the command an sg_io_hdr describes; 0 or an errno.
int command_from_hdr(const sg_io_hdr_t& h, const Handle& hd, Command& c) {
    const bool sg = hd.node.kind == NodeKind::sg;
    if (h.interface_id != 'S') return sg ? ENOSYS : EINVAL;
    if (h.cmd_len < 1 || h.cmd_len > 16 || !h.cmdp) return EINVAL;
    if (h.dxfer_len > proto::kMaxDataLen) return sg ? ENOMEM : EIO;
    c.lun = hd.node.lun;
    std::memcpy(c.cdb, h.cmdp, h.cmd_len);
    c.cdb_len = h.cmd_len;
    c.timeout_ms = clamp_timeout(static_cast<int>(h.timeout));
    if (h.dxfer_direction == SG_DXFER_TO_DEV && h.dxfer_len > 0) {
        if (!h.dxferp) return EFAULT;
        c.data_out.resize(h.dxfer_len);
        if (h.iovec_count > 0) {
            const auto* iov = static_cast<const sg_iovec_t*>(h.dxferp);
            size_t off = 0;
            for (unsigned i = 0; i < h.iovec_count && off < h.dxfer_len; ++i) {
                size_t n = std::min(iov[i].iov_len, h.dxfer_len - off);
                std::memcpy(c.data_out.data() + off, iov[i].iov_base, n);
                off += n;
            }
            c.data_out.resize(off);
        } else {
            std::memcpy(c.data_out.data(), h.dxferp, h.dxfer_len);
        }
    } else if (reads_data(h.dxfer_direction)) {
        if (h.dxfer_len > 0 && !h.dxferp) return EFAULT;
        c.alloc_len = h.dxfer_len;
    }
    return 0;
}

// Fills the output fields of an sg_io_hdr as the sg driver does, copying data-in and sense to the
// caller's buffers.
void reply_into_hdr(sg_io_hdr_t& h, const Outcome& o) {
    size_t copied = 0;
    if (reads_data(h.dxfer_direction) && h.dxfer_len > 0 && h.dxferp) {
        const size_t n = std::min<size_t>(o.data_in.size(), h.dxfer_len);
        if (h.iovec_count > 0) {
            auto* iov = static_cast<sg_iovec_t*>(h.dxferp);
            for (unsigned i = 0; i < h.iovec_count && copied < n; ++i) {
                size_t k = std::min(iov[i].iov_len, n - copied);
                std::memcpy(iov[i].iov_base, o.data_in.data() + copied, k);
                copied += k;
            }
        } else {
            std::memcpy(h.dxferp, o.data_in.data(), n);
            copied = n;
        }
        h.resid = static_cast<int>(h.dxfer_len - copied);
    } else {
        h.resid = 0;
    }
    h.status = o.status;
    h.masked_status = static_cast<unsigned char>((o.status >> 1) & 0x7f);
    h.msg_status = 0;
    h.host_status = o.host;
    const size_t sb = h.sbp ? std::min<size_t>(o.sense.size(), h.mx_sb_len) : 0;
    if (sb) std::memcpy(h.sbp, o.sense.data(), sb);
    h.sb_len_wr = static_cast<unsigned char>(sb);
    h.driver_status = (o.status == prfence::wire::sam::check_condition || sb > 0) ? kDriverSense : 0;
    h.duration = o.duration_ms;
    h.info = (h.status || h.host_status || h.driver_status) ? SG_INFO_CHECK : SG_INFO_OK;
}

Outcome no_connection() {
    Outcome o;
    o.host = kDidNoConnect;
    return o;
}

Outcome run(const Command& c, UaPolicy p) {
    Conn* conn = connection();
    if (!conn) return no_connection();
    return conn->execute(c, p);
}

// ---- block-device I/O -------------------------------------------------------------------------

bool capacity(uint32_t lun, Capacity& cap) {
    {
        std::lock_guard lk(g_cap_mu);
        if (auto it = capacities().find(lun); it != capacities().end()) {
            cap = it->second;
            return true;
        }
    }
    Command c;
    c.lun = lun;
    c.cdb_len = 16;
    c.cdb[0] = 0x9e;  // SERVICE ACTION IN(16), READ CAPACITY(16)
    c.cdb[1] = 0x10;
    c.cdb[13] = 32;
    c.alloc_len = 32;
    c.timeout_ms = clamp_timeout(kBlockIoTimeoutMs);
    Outcome o = run(c, UaPolicy::internal);
    if (o.status != 0 || o.host != 0 || o.data_in.size() < 12) return false;
    uint64_t last = 0;
    for (int i = 0; i < 8; ++i) last = last << 8 | o.data_in[static_cast<size_t>(i)];
    uint32_t bs = 0;
    for (int i = 8; i < 12; ++i) bs = bs << 8 | o.data_in[static_cast<size_t>(i)];
    if (bs == 0) return false;
    cap.blocks = last + 1;
    cap.block_size = bs;
    std::lock_guard lk(g_cap_mu);
    capacities()[lun] = cap;
    return true;
}

Command rw16(uint32_t lun, bool write, uint64_t lba, uint32_t blocks) {
    Command c;
    c.lun = lun;
    c.cdb_len = 16;
    c.cdb[0] = write ? 0x8a : 0x88;
    for (int i = 0; i < 8; ++i) c.cdb[2 + i] = static_cast<uint8_t>(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) c.cdb[10 + i] = static_cast<uint8_t>(blocks >> (24 - 8 * i));
    c.timeout_ms = clamp_timeout(kBlockIoTimeoutMs);
    return c;
}

// Block I/O fails as the page cache reports a failed request: EIO (a reservation conflict
// included; the kernel logs "critical nexus error" and the read returns EIO).
bool read_blocks(uint32_t lun, uint64_t lba, uint32_t blocks, uint32_t bs, uint8_t* out) {
    Command c = rw16(lun, false, lba, blocks);
    c.alloc_len = blocks * bs;
    Outcome o = run(c, UaPolicy::internal);
    if (o.status != 0 || o.host != 0 || o.data_in.size() != c.alloc_len) return false;
    std::memcpy(out, o.data_in.data(), c.alloc_len);
    return true;
}

bool write_blocks(uint32_t lun, uint64_t lba, uint32_t blocks, const uint8_t* in, uint32_t bs) {
    Command c = rw16(lun, true, lba, blocks);
    c.data_out.assign(in, in + size_t{blocks} * bs);
    Outcome o = run(c, UaPolicy::internal);
    return o.status == 0 && o.host == 0;
}

ssize_t disk_io(Handle& h, uint8_t* rbuf, const uint8_t* wbuf, size_t count, uint64_t off) {
    Capacity cap;
    if (!capacity(h.node.lun, cap)) {
        errno = EIO;
        return -1;
    }
    const uint64_t size = cap.blocks * cap.block_size;
    if (off >= size) {
        if (wbuf && count > 0) {
            errno = ENOSPC;
            return -1;
        }
        return 0;
    }
    count = static_cast<size_t>(std::min<uint64_t>(count, size - off));
    const uint32_t bs = cap.block_size;
    const uint32_t chunk_blocks = std::max<uint32_t>(1, kChunk / bs);
    std::vector<uint8_t> tmp;
    size_t done = 0;
    while (done < count) {
        const uint64_t pos = off + done;
        const uint64_t lba = pos / bs;
        const uint32_t within = static_cast<uint32_t>(pos % bs);
        const uint64_t want = count - done;
        const uint64_t span = (within + want + bs - 1) / bs;
        const uint32_t blocks = static_cast<uint32_t>(std::min<uint64_t>(span, chunk_blocks));
        const size_t n =
            static_cast<size_t>(std::min<uint64_t>(want, uint64_t{blocks} * bs - within));
        tmp.resize(size_t{blocks} * bs);
        bool ok = true;
        if (rbuf) {
            ok = read_blocks(h.node.lun, lba, blocks, bs, tmp.data());
            if (ok) std::memcpy(rbuf + done, tmp.data() + within, n);
        } else {
            // Partial blocks are read first (read-modify-write, as the page cache does).
            if (within != 0 || n % bs != 0)
                ok = read_blocks(h.node.lun, lba, blocks, bs, tmp.data());
            if (ok) {
                std::memcpy(tmp.data() + within, wbuf + done, n);
                ok = write_blocks(h.node.lun, lba, blocks, tmp.data(), bs);
            }
        }
        if (!ok) {
            if (done > 0) return static_cast<ssize_t>(done);
            errno = EIO;
            return -1;
        }
        done += n;
    }
    return static_cast<ssize_t>(done);
}

// ---- asynchronous sg commands -------------------------------------------------------------------

void signal_completion(Handle& h) {
    // One eventfd count per completed command (the handle's lock is held).
    if (!h.fds.empty()) (void)::eventfd_write(h.fds.front(), 1);
    h.cv.notify_all();
}

ssize_t sg_submit(Handle& h, const void* buf, size_t count) {
    if (count < sizeof(sg_io_hdr_t)) {
        errno = count < 36 ? EIO : EINVAL;  // shorter than even the old sg_header
        return -1;
    }
    sg_io_hdr_t hdr;
    std::memcpy(&hdr, buf, sizeof hdr);
    if (hdr.interface_id != 'S') {
        errno = ENOSYS;  // the pre-v3 sg_header interface is not implemented
        return -1;
    }
    Command c;
    if (int e = command_from_hdr(hdr, h, c)) {
        errno = e;
        return -1;
    }
    {
        std::lock_guard lk(h.mu);
        if (h.inflight + h.done.size() >= SG_MAX_QUEUE) {
            errno = EDOM;  // the sg driver's answer to a 17th queued command
            return -1;
        }
        ++h.inflight;
    }
    // The handle lives as long as a command of it is in flight; once every descriptor is closed
    // the answer is dropped (keep_orphan aside, as the sg driver does).
    auto done = [hp = h.shared_from_this(), hdr](Outcome&& o) {
        std::lock_guard lk(hp->mu);
        if (hp->inflight > 0) --hp->inflight;
        if (hp->fds.empty()) return;
        hp->done.push_back(Handle::Done{hdr, std::move(o)});
        signal_completion(*hp);
    };
    Conn* conn = connection();
    if (!conn) {
        done(no_connection());
    } else {
        conn->submit(c, UaPolicy::passthrough, std::move(done));
    }
    return static_cast<ssize_t>(count);
}

ssize_t sg_collect(int fd, Handle& h, void* buf, size_t count) {
    if (count < sizeof(sg_io_hdr_t)) {
        errno = EINVAL;
        return -1;
    }
    int want = -1;
    std::unique_lock lk(h.mu);
    if (h.force_pack_id) {
        sg_io_hdr_t q;
        std::memcpy(&q, buf, sizeof q);
        want = q.pack_id;
    }
    for (;;) {
        auto it = std::find_if(h.done.begin(), h.done.end(), [&](const Handle::Done& d) {
            return want == -1 || d.hdr.pack_id == want;
        });
        if (it != h.done.end()) {
            Handle::Done d = std::move(*it);
            h.done.erase(it);
            eventfd_t v;
            (void)::eventfd_read(fd, &v);  // count >= 1 while done is not empty: never blocks
            lk.unlock();
            reply_into_hdr(d.hdr, d.out);
            std::memcpy(buf, &d.hdr, sizeof d.hdr);
            return sizeof d.hdr;
        }
        if (PRSIM_REAL(fcntl)(fd, F_GETFL) & O_NONBLOCK) {
            errno = EAGAIN;
            return -1;
        }
        // Blocks as the sg driver does until a command completes; every command in flight ends
        // by its deadline (or at once when prsim goes away), so this never waits past that.
        h.cv.wait_for(lk, std::chrono::milliseconds(200));
    }
}

}  // namespace

// ---- process state ------------------------------------------------------------------------------

const Config& config() {
    static const Config* cfg = new Config(load_config({&env_get, &read_whole_file, &path_exists}));
    return *cfg;
}

bool owner_process() {
    pid_t p = g_pid.load(std::memory_order_relaxed);
    if (p == 0) {
        pid_t me = ::getpid();
        g_pid.compare_exchange_strong(p, me);
        return g_pid.load() == me;
    }
    return p == ::getpid();
}

void warn_once(const std::string& what) {
    if (g_warned.exchange(true)) return;
    write_stderr("prsim-shim: " + what +
                 "; prsim devices now fail like dead devices (open: ENXIO, SG_IO: "
                 "DID_NO_CONNECT, read/write: EIO)");
}

Conn* connection() {
    std::lock_guard lk(g_conn_mu);
    if (g_conn && !g_conn->dead()) return g_conn;
    const Config& cfg = config();
    // Configuration mistakes are told once, when a virtual device is first used.
    // (Without a socket the problem is the reason in warn_once's message below.)
    if (!cfg.problem.empty() && !cfg.socket.empty() && !g_problem_reported.exchange(true))
        write_stderr("prsim-shim: " + cfg.problem);
    if (g_conn) {
        // Lost: say so once, then try again (prsim may have been restarted).
        warn_once("lost the connection to prsim at " + cfg.socket + " (" + g_conn->death_reason() +
                  ")");
        g_conn = nullptr;  // the dead object stays allocated: its reader may still be unwinding
    }
    std::string err;
    Conn* c = Conn::open(cfg, err);
    if (!c) {
        warn_once(cfg.socket.empty() ? err
                                     : "cannot reach prsim at " + cfg.socket + " (" + err + ")");
        return nullptr;
    }
    g_conn = c;
    return c;
}

bool maybe_virtual_fd(int fd) {
    if (fd < 0) return false;
    if (fd < kFlagFds) return g_flags[fd].load(std::memory_order_acquire) != 0;
    return g_high_fds.load(std::memory_order_acquire) > 0;
}

std::shared_ptr<Handle> lookup_fd(int fd) {
    if (!maybe_virtual_fd(fd)) return nullptr;
    std::lock_guard lk(g_table_mu);
    auto it = table().find(fd);
    return it == table().end() ? nullptr : it->second;
}

void register_fd(int fd, const std::shared_ptr<Handle>& h) {
    {
        std::lock_guard lk(h->mu);
        h->fds.push_back(fd);
    }
    std::lock_guard lk(g_table_mu);
    auto [it, fresh] = table().insert_or_assign(fd, h);
    (void)it;
    if (fd < kFlagFds)
        g_flags[fd].store(1, std::memory_order_release);
    else if (fresh)
        g_high_fds.fetch_add(1);
}

void unregister_fd(int fd) {
    std::shared_ptr<Handle> h;
    {
        std::lock_guard lk(g_table_mu);
        auto it = table().find(fd);
        if (it == table().end()) return;
        h = std::move(it->second);
        table().erase(it);
        if (fd < kFlagFds)
            g_flags[fd].store(0, std::memory_order_release);
        else
            g_high_fds.fetch_sub(1);
    }
    std::lock_guard lk(h->mu);
    h->fds.erase(std::remove(h->fds.begin(), h->fds.end(), fd), h->fds.end());
}

void unregister_range(unsigned first, unsigned last) {
    std::vector<int> fds;
    {
        std::lock_guard lk(g_table_mu);
        for (const auto& [fd, h] : table())
            if (static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last)
                fds.push_back(fd);
    }
    for (int fd : fds) unregister_fd(fd);
}

int open_virtual(const VirtualNode& node, const std::string& path, int flags) {
    if ((flags & O_CREAT) && (flags & O_EXCL)) {
        errno = EEXIST;
        return -1;
    }
    if (flags & O_DIRECTORY) {
        errno = ENOTDIR;
        return -1;
    }
    Conn* conn = connection();
    if (!conn) {
        errno = ENXIO;
        return -1;
    }
    if (node.lun >= conn->lun_count()) {
        errno = ENOENT;  // no such device node: the farm has fewer LUs
        return -1;
    }
    const bool sg = node.kind == NodeKind::sg;
    int efl = (flags & O_CLOEXEC ? EFD_CLOEXEC : 0) | (flags & O_NONBLOCK ? EFD_NONBLOCK : 0) |
              (sg ? EFD_SEMAPHORE : 0);
    int fd = ::eventfd(sg ? 0 : 1, efl);
    if (fd < 0) return -1;  // EMFILE / ENFILE as open() would report them
    auto h = std::make_shared<Handle>();
    h->node = node;
    h->path = path;
    register_fd(fd, h);
    return fd;
}

// ---- the calls on a virtual descriptor
// -----------------------------------------------------------

namespace {
// A read (into r) or write (from w) of a disk node at *at, or at and past its file position.
ssize_t disk_rw(Handle& h, uint8_t* r, const uint8_t* w, size_t count, const off_t* at) {
    uint64_t off;
    {
        std::lock_guard lk(h.mu);
        off = at ? static_cast<uint64_t>(*at) : h.pos;
    }
    ssize_t n = disk_io(h, r, w, count, off);
    if (n > 0 && !at) {
        std::lock_guard lk(h.mu);
        h.pos = off + static_cast<uint64_t>(n);
    }
    return n;
}
}  // namespace

ssize_t vdev_read(int fd, Handle& h, void* buf, size_t count, const off_t* at) {
    if (h.node.kind != NodeKind::sg) return disk_rw(h, static_cast<uint8_t*>(buf), nullptr, count, at);
    if (at) {
        errno = ESPIPE;
        return -1;
    }
    return sg_collect(fd, h, buf, count);
}

ssize_t vdev_write(int, Handle& h, const void* buf, size_t count, const off_t* at) {
    if (h.node.kind != NodeKind::sg) return disk_rw(h, nullptr, static_cast<const uint8_t*>(buf), count, at);
    if (at) {
        errno = ESPIPE;
        return -1;
    }
    return sg_submit(h, buf, count);
}

off_t vdev_lseek(Handle& h, off_t off, int whence) {
    if (h.node.kind == NodeKind::sg) {
        errno = ESPIPE;
        return -1;
    }
    int64_t base = 0;
    if (whence == SEEK_END) {
        Capacity cap;
        if (!capacity(h.node.lun, cap)) {
            errno = EIO;
            return -1;
        }
        base = static_cast<int64_t>(cap.blocks * cap.block_size);
    }
    std::lock_guard lk(h.mu);
    if (whence == SEEK_CUR)
        base = static_cast<int64_t>(h.pos);
    else if (whence != SEEK_SET && whence != SEEK_END) {
        errno = EINVAL;
        return -1;
    }
    if (base + off < 0) {
        errno = EINVAL;
        return -1;
    }
    h.pos = static_cast<uint64_t>(base + off);
    return static_cast<off_t>(h.pos);
}

int vdev_fsync(Handle& h) {
    if (h.node.kind == NodeKind::sg) {
        errno = EINVAL;
        return -1;
    }
    Command c;
    c.lun = h.node.lun;
    c.cdb_len = 10;
    c.cdb[0] = 0x35;  // SYNCHRONIZE CACHE(10), whole medium
    c.timeout_ms = clamp_timeout(kBlockIoTimeoutMs);
    Outcome o = run(c, UaPolicy::internal);
    if (o.status != 0 || o.host != 0) {
        errno = EIO;
        return -1;
    }
    return 0;
}

namespace {

template <class T>
int put(void* arg, T v) {
    if (!arg) {
        errno = EFAULT;
        return -1;
    }
    std::memcpy(arg, &v, sizeof v);
    return 0;
}

int get_int(const void* arg, int& v) {
    if (!arg) {
        errno = EFAULT;
        return -1;
    }
    std::memcpy(&v, arg, sizeof v);
    return 0;
}

// An int the sg driver refuses when negative, with the errno it uses for that ioctl.
int get_nonneg_int(const void* arg, int& v, int neg_errno) {
    if (get_int(arg, v)) return -1;
    if (v < 0) {
        errno = neg_errno;
        return -1;
    }
    return 0;
}

// An int argument taken as a flag (nonzero = on).
int set_flag(const void* arg, bool& flag) {
    int v = 0;
    if (get_int(arg, v)) return -1;
    flag = v != 0;
    return 0;
}

int disk_ioctl(Handle& h, unsigned long req, void* arg, bool& handled) {
    handled = true;
    auto cap_or_eio = [&](Capacity& cap) {
        if (capacity(h.node.lun, cap)) return true;
        errno = EIO;
        return false;
    };
    Capacity cap;
    switch (req) {
        case BLKGETSIZE64:
            if (!cap_or_eio(cap)) return -1;
            return put<uint64_t>(arg, cap.blocks * cap.block_size);
        case BLKGETSIZE:
            if (!cap_or_eio(cap)) return -1;
            return put<unsigned long>(arg, cap.blocks * cap.block_size / 512);
        case BLKSSZGET:
            if (!cap_or_eio(cap)) return -1;
            return put<int>(arg, static_cast<int>(cap.block_size));
        case BLKPBSZGET:
        case BLKIOMIN:
            if (!cap_or_eio(cap)) return -1;
            return put<unsigned int>(arg, cap.block_size);
        case BLKBSZGET:
            if (!cap_or_eio(cap)) return -1;
            return put<int>(arg, static_cast<int>(std::max<uint32_t>(cap.block_size, 4096)));
        case BLKIOOPT:
        case BLKALIGNOFF:
        case BLKROGET:
        case BLKDISCARDZEROES:
            return put<int>(arg, 0);
        case BLKROTATIONAL:
            return put<unsigned short>(arg, 0);
        case BLKRAGET:
        case BLKFRAGET:
            return put<long>(arg, 256);
        case BLKSECTGET:
            return put<unsigned short>(arg, static_cast<unsigned short>(kChunk / 512));
        case BLKFLSBUF:
        case BLKRRPART:
            return 0;
        default:
            handled = false;
            return 0;
    }
}

}  // namespace

int vdev_ioctl(int, Handle& h, unsigned long req, void* arg) {
    const bool sg = h.node.kind == NodeKind::sg;
    if (!sg) {
        bool handled = false;
        int r = disk_ioctl(h, req, arg, handled);
        if (handled) return r;
    }
    switch (req) {
        case SG_IO: {
            if (!arg) {
                errno = EFAULT;
                return -1;
            }
            sg_io_hdr_t hdr;
            std::memcpy(&hdr, arg, sizeof hdr);
            Command c;
            if (int e = command_from_hdr(hdr, h, c)) {
                errno = e;
                return -1;
            }
            Outcome o = run(c, UaPolicy::passthrough);
            reply_into_hdr(hdr, o);
            std::memcpy(arg, &hdr, sizeof hdr);
            return 0;
        }
        case SG_GET_VERSION_NUM:
            return put<int>(arg, kSgVersion);
        case SG_GET_TIMEOUT: {
            std::lock_guard lk(h.mu);
            return h.timeout_ticks;  // the sg driver returns it as the ioctl's value
        }
        case SG_SET_TIMEOUT: {
            int v = 0;
            if (get_nonneg_int(arg, v, EIO)) return -1;
            std::lock_guard lk(h.mu);
            h.timeout_ticks = v;
            return 0;
        }
        case SG_GET_RESERVED_SIZE: {
            std::lock_guard lk(h.mu);
            return put<int>(arg, h.reserved_size);
        }
        case SG_SET_RESERVED_SIZE: {
            int v = 0;
            if (get_nonneg_int(arg, v, EINVAL)) return -1;
            std::lock_guard lk(h.mu);
            h.reserved_size = std::min<int>(v, static_cast<int>(proto::kMaxDataLen));
            return 0;
        }
        case SG_EMULATED_HOST:
            return put<int>(arg, 0);
        case SCSI_IOCTL_GET_IDLUN:
        case SCSI_IOCTL_GET_BUS_NUMBER:
        case SG_GET_SCSI_ID: {
            Conn* conn = connection();
            if (!conn) {
                errno = ENXIO;
                return -1;
            }
            const auto& a = conn->ack();
            if (req == SCSI_IOCTL_GET_BUS_NUMBER) return put<int>(arg, static_cast<int>(a.host));
            if (req == SCSI_IOCTL_GET_IDLUN) {
                struct {
                    int dev_id;
                    int host_unique_id;
                } id{static_cast<int>((a.target_id & 0xff) | ((h.node.lun & 0xff) << 8) |
                                      ((a.channel & 0xff) << 16) | ((a.host & 0xff) << 24)),
                     static_cast<int>(a.host)};
                return put(arg, id);
            }
            if (!sg) {
                errno = ENOTTY;
                return -1;
            }
            struct sg_scsi_id s {};
            s.host_no = static_cast<int>(a.host);
            s.channel = a.channel;
            s.scsi_id = a.target_id;
            s.lun = static_cast<int>(h.node.lun);
            s.scsi_type = 0;  // TYPE_DISK
            s.h_cmd_per_lun = 32;
            s.d_queue_depth = 32;
            return put(arg, s);
        }
        case SCSI_IOCTL_PROBE_HOST: {
            int len = 0;
            if (get_int(arg, len)) return -1;
            const char name[] = "prsim (libprinterpose)";
            const size_t n = std::min<size_t>(len > 0 ? static_cast<size_t>(len) : 0, sizeof name);
            std::memcpy(arg, name, n);
            return 1;
        }
        default:
            break;
    }
    if (sg) {
        std::lock_guard lk(h.mu);
        switch (req) {
            case SG_SET_FORCE_PACK_ID:
                return set_flag(arg, h.force_pack_id);
            case SG_GET_PACK_ID:
                return put<int>(arg, h.done.empty() ? -1 : h.done.front().hdr.pack_id);
            case SG_GET_NUM_WAITING:
                return put<int>(arg, static_cast<int>(h.done.size()));
            case SG_GET_SG_TABLESIZE:
                return put<int>(arg, 128);
            case SG_SET_COMMAND_Q:
                return set_flag(arg, h.command_q);
            case SG_GET_COMMAND_Q:
                return put<int>(arg, h.command_q ? 1 : 0);
            case SG_SET_KEEP_ORPHAN:
                return set_flag(arg, h.keep_orphan);
            case SG_GET_KEEP_ORPHAN:
                return put<int>(arg, h.keep_orphan ? 1 : 0);
            case SG_GET_LOW_DMA:
                return put<int>(arg, 0);
            case SG_SET_FORCE_LOW_DMA:
            case SG_SET_DEBUG:
            case SG_NEXT_CMD_LEN:
                return 0;
            case kSgGetAccessCount:
                return put<int>(arg, static_cast<int>(h.fds.size()));
            case SG_SCSI_RESET:
                return 0;  // nothing to reset: prsim has no transport state to recover
            case SG_GET_REQUEST_TABLE: {
                if (!arg) {
                    errno = EFAULT;
                    return -1;
                }
                std::memset(arg, 0, sizeof(sg_req_info_t) * SG_MAX_QUEUE);
                auto* t = static_cast<sg_req_info_t*>(arg);
                size_t i = 0;
                for (const auto& d : h.done) {
                    if (i == SG_MAX_QUEUE) break;
                    t[i].req_state = 2;  // completed, ready to be read
                    t[i].orphan = 0;
                    t[i].sg_io_owned = 0;
                    t[i].problem = d.out.status || d.out.host;
                    t[i].pack_id = d.hdr.pack_id;
                    t[i].usr_ptr = d.hdr.usr_ptr;
                    t[i].duration = d.out.duration_ms;
                    ++i;
                }
                return 0;
            }
            default:
                break;
        }
    }
    errno = ENOTTY;
    return -1;
}

void fill_stat(const VirtualNode* node, struct stat* st) {
    std::memset(st, 0, sizeof *st);
    // Timestamps of when this process first looked (a device node's times are rarely meaningful).
    static const time_t t0 = ::time(nullptr);
    st->st_dev = makedev(0, 5);  // devtmpfs
    st->st_uid = ::geteuid();
    st->st_gid = ::getegid();
    st->st_blksize = 4096;
    st->st_atime = st->st_mtime = st->st_ctime = t0;
    if (!node) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        st->st_ino = 0x7072730000ULL;
        return;
    }
    st->st_nlink = 1;
    if (node->kind == NodeKind::sg) {
        st->st_mode = S_IFCHR | 0660;
        st->st_rdev = sg_rdev(node->lun);
        st->st_ino = 0x7072730000ULL + 2 * uint64_t{node->lun} + 1;
    } else {
        st->st_mode = S_IFBLK | 0660;
        st->st_rdev = disk_rdev(node->lun);
        st->st_ino = 0x7072730000ULL + 2 * uint64_t{node->lun} + 2;
    }
}

// ---- fork --------------------------------------------------------------------------------------
// The forking thread takes every lock so that the child's copy of this state is consistent; the
// child then starts without a connection (it makes its own at first use), keeps the descriptor
// table (descriptors are inherited) and forgets the parent's commands in flight.

namespace {
std::vector<std::shared_ptr<Handle>>* g_fork_handles = nullptr;
}

void atfork_prepare() {
    g_conn_mu.lock();
    g_cap_mu.lock();
    g_table_mu.lock();
    auto* hs = new std::vector<std::shared_ptr<Handle>>();
    for (const auto& [fd, h] : table())
        if (std::find(hs->begin(), hs->end(), h) == hs->end()) hs->push_back(h);
    for (auto& h : *hs) h->mu.lock();
    g_fork_handles = hs;
}

void atfork_parent() {
    auto* hs = g_fork_handles;
    g_fork_handles = nullptr;
    for (auto it = hs->rbegin(); it != hs->rend(); ++it) (*it)->mu.unlock();
    delete hs;
    g_table_mu.unlock();
    g_cap_mu.unlock();
    g_conn_mu.unlock();
}

void atfork_child() {
    g_pid.store(::getpid());
    auto* hs = g_fork_handles;
    g_fork_handles = nullptr;
    for (auto it = hs->rbegin(); it != hs->rend(); ++it) {
        Handle& h = **it;
        h.done.clear();
        h.inflight = 0;
        // A thread of the parent may have been waiting on the condition variable; it does not
        // exist here.
        new (&h.cv) std::condition_variable();
        h.mu.unlock();
    }
    delete hs;
    if (g_conn) {
        g_conn->abandon_in_child();
        g_conn = nullptr;
    }
    g_warned.store(false);
    g_table_mu.unlock();
    g_cap_mu.unlock();
    g_conn_mu.unlock();
}

}  // namespace prfence::shim
