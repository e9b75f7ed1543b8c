// SPDX-License-Identifier: MIT
// libprinterpose: the disk node, block I/O on top of READ(16) / WRITE(16).
#undef _FORTIFY_SOURCE
#include "interposer/shim/disk_node.h"

#include <errno.h>
#include <linux/fs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "interposer/shim/ioctl_arg.h"
#include "interposer/shim/process.h"
#include "interposer/shim/sg_node.h"

namespace prfence::shim {
namespace {

constexpr uint32_t kChunk = 256 * 1024;   // block-device I/O per READ/WRITE(16)
constexpr int kBlockIoTimeoutMs = 30000;  // the sd driver's default command timeout

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
    Outcome o = run_command(c, UaPolicy::internal);
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

bool read_blocks(uint32_t lun, uint64_t lba, uint32_t blocks, uint32_t bs, uint8_t* out) {
    Command c = rw16(lun, false, lba, blocks);
    c.alloc_len = blocks * bs;
    Outcome o = run_command(c, UaPolicy::internal);
    if (o.status != 0 || o.host != 0 || o.data_in.size() != c.alloc_len) return false;
    std::memcpy(out, o.data_in.data(), c.alloc_len);
    return true;
}

bool write_blocks(uint32_t lun, uint64_t lba, uint32_t blocks, const uint8_t* in, uint32_t bs) {
    Command c = rw16(lun, true, lba, blocks);
    c.data_out.assign(in, in + size_t{blocks} * bs);
    Outcome o = run_command(c, UaPolicy::internal);
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

// A read (into r) or write (from w) at *at, or at and past the file position.
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

ssize_t disk_read(Handle& h, void* buf, size_t count, const off_t* at) {
    return disk_rw(h, static_cast<uint8_t*>(buf), nullptr, count, at);
}

ssize_t disk_write(Handle& h, const void* buf, size_t count, const off_t* at) {
    return disk_rw(h, nullptr, static_cast<const uint8_t*>(buf), count, at);
}

off_t disk_lseek(Handle& h, off_t off, int whence) {
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

int disk_fsync(Handle& h) {
    Command c;
    c.lun = h.node.lun;
    c.cdb_len = 10;
    c.cdb[0] = 0x35;  // SYNCHRONIZE CACHE(10), whole medium
    c.timeout_ms = clamp_timeout(kBlockIoTimeoutMs);
    Outcome o = run_command(c, UaPolicy::internal);
    if (o.status != 0 || o.host != 0) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int disk_ioctl(Handle& h, unsigned long req, void* arg) {
    auto cap_or_eio = [&](Capacity& cap) {
        if (capacity(h.node.lun, cap)) return true;
        errno = EIO;
        return false;
    };
    Capacity cap;
    switch (req) {
        case BLKGETSIZE64:
            if (!cap_or_eio(cap)) return -1;
            return put_arg<uint64_t>(arg, cap.blocks * cap.block_size);
        case BLKGETSIZE:
            if (!cap_or_eio(cap)) return -1;
            return put_arg<unsigned long>(arg, cap.blocks * cap.block_size / 512);
        case BLKSSZGET:
            if (!cap_or_eio(cap)) return -1;
            return put_arg<int>(arg, static_cast<int>(cap.block_size));
        case BLKPBSZGET:
        case BLKIOMIN:
            if (!cap_or_eio(cap)) return -1;
            return put_arg<unsigned int>(arg, cap.block_size);
        case BLKBSZGET:
            if (!cap_or_eio(cap)) return -1;
            return put_arg<int>(arg, static_cast<int>(std::max<uint32_t>(cap.block_size, 4096)));
        case BLKIOOPT:
        case BLKALIGNOFF:
        case BLKROGET:
        case BLKDISCARDZEROES:
            return put_arg<int>(arg, 0);
        case BLKROTATIONAL:
            return put_arg<unsigned short>(arg, 0);
        case BLKRAGET:
        case BLKFRAGET:
            return put_arg<long>(arg, 256);
        case BLKSECTGET:
            return put_arg<unsigned short>(arg, static_cast<unsigned short>(kChunk / 512));
        case BLKFLSBUF:
        case BLKRRPART:
            return 0;
        default:
            break;
    }
    bool handled = false;
    const int r = scsi_common_ioctl(h, req, arg, handled);
    if (handled) return r;
    errno = ENOTTY;
    return -1;
}

void disk_atfork_prepare() { g_cap_mu.lock(); }
void disk_atfork_release() { g_cap_mu.unlock(); }

}  // namespace prfence::shim
