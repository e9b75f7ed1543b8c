// SPDX-License-Identifier: MIT
#include "interposer/shim/nvme_node.h"

#include <errno.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>

#include <cstring>

#include "interposer/shim/ioctl_arg.h"
#include "interposer/shim/process.h"

namespace prfence::shim {
namespace {

// The fields both passthrough structures share, the result widened.
struct Passthru {
    uint8_t opcode = 0;
    uint8_t flags = 0;
    uint32_t nsid = 0;
    uint64_t metadata = 0;
    uint64_t addr = 0;
    uint32_t metadata_len = 0;
    uint32_t data_len = 0;
    uint32_t cdw[6] = {};
    uint32_t timeout_ms = 0;
};

template <class T>
Passthru from(const T& c) {
    Passthru p;
    p.opcode = c.opcode;
    p.flags = c.flags;
    p.nsid = c.nsid;
    p.metadata = c.metadata;
    p.addr = c.addr;
    p.metadata_len = c.metadata_len;
    p.data_len = c.data_len;
    const uint32_t d[6] = {c.cdw10, c.cdw11, c.cdw12, c.cdw13, c.cdw14, c.cdw15};
    std::memcpy(p.cdw, d, sizeof d);
    p.timeout_ms = c.timeout_ms;
    return p;
}

int fail(int e) {
    errno = e;
    return -1;
}

// Runs one passthrough command; the status, or -1 with errno. `result` receives the completion's
// result.
int passthru(Handle& h, const Passthru& p, bool admin, uint64_t& result) {
    Conn* conn = connection();
    if (!conn) return fail(EIO);
    if (p.flags != 0 || p.metadata_len != 0 || p.data_len > proto::kMaxDataLen) return fail(EINVAL);
    if (!admin) {
        if (h.node.kind == NodeKind::nvme_ns && p.nsid != h.node.lun) return fail(EINVAL);
        if (h.node.kind == NodeKind::nvme_ctrl && conn->ack().namespace_count != 1)
            return fail(EINVAL);
    }
    if (p.data_len && !p.addr) return fail(EFAULT);
    Command c;
    c.is_nvme = true;
    c.nvme.queue = admin ? proto::NvmeQueue::admin : proto::NvmeQueue::io;
    c.nvme.opcode = p.opcode;
    c.nvme.nsid = p.nsid;
    std::copy(std::begin(p.cdw), std::end(p.cdw), c.nvme.cdw.begin());
    auto* buf = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(p.addr));
    if ((p.opcode & 1) && p.data_len) c.nvme.data_out.assign(buf, buf + p.data_len);
    if (p.opcode & 2) c.nvme.data_in_len = p.data_len;
    c.timeout_ms = clamp_timeout(p.timeout_ms ? static_cast<int>(p.timeout_ms) : 0);
    Outcome o = conn->execute(c, UaPolicy::passthrough);
    if (o.host == kDidTimeOut) return fail(EINTR);
    if (o.host == kDidError) return fail(EINVAL);
    if (o.host != kDidOk) return fail(EIO);
    if ((p.opcode & 2) && !o.data_in.empty())
        std::memcpy(buf, o.data_in.data(), std::min<size_t>(o.data_in.size(), p.data_len));
    result = o.nvme_result;
    return o.nvme_status;
}

// Identify Namespace of the node: size in blocks and the block size.
bool namespace_geometry(Handle& h, uint64_t& blocks, uint32_t& block_size) {
    uint8_t id[4096] = {};
    Passthru p;
    p.opcode = 0x06;
    p.nsid = h.node.lun;
    p.addr = reinterpret_cast<uintptr_t>(id);
    p.data_len = sizeof id;
    uint64_t result = 0;
    if (passthru(h, p, true, result) != 0) return false;
    std::memcpy(&blocks, id, 8);  // NSZE, little-endian as is this host
    const uint8_t flbas = id[26] & 0x0f;
    const uint8_t lbads = id[128 + 4 * flbas + 2];
    if (lbads < 9 || lbads > 16) return false;
    block_size = 1u << lbads;
    return true;
}

}  // namespace

int nvme_ioctl(Handle& h, unsigned long req, void* arg) {
    switch (req) {
        case NVME_IOCTL_ID:
            if (h.node.kind != NodeKind::nvme_ns) return fail(ENOTTY);
            return static_cast<int>(h.node.lun);
        case NVME_IOCTL_ADMIN_CMD:
        case NVME_IOCTL_IO_CMD: {
            if (!arg) return fail(EFAULT);
            nvme_passthru_cmd c;
            std::memcpy(&c, arg, sizeof c);
            uint64_t result = 0;
            const int r = passthru(h, from(c), req == NVME_IOCTL_ADMIN_CMD, result);
            if (r >= 0) {
                c.result = static_cast<uint32_t>(result);
                std::memcpy(arg, &c, sizeof c);
            }
            return r;
        }
        case NVME_IOCTL_ADMIN64_CMD:
        case NVME_IOCTL_IO64_CMD: {
            if (!arg) return fail(EFAULT);
            nvme_passthru_cmd64 c;
            std::memcpy(&c, arg, sizeof c);
            uint64_t result = 0;
            const int r = passthru(h, from(c), req == NVME_IOCTL_ADMIN64_CMD, result);
            if (r >= 0) {
                c.result = result;
                std::memcpy(arg, &c, sizeof c);
            }
            return r;
        }
        case BLKGETSIZE64:
        case BLKSSZGET:
        case BLKPBSZGET:
        case BLKBSZGET: {
            if (h.node.kind != NodeKind::nvme_ns) return fail(ENOTTY);
            uint64_t blocks = 0;
            uint32_t bs = 0;
            if (!namespace_geometry(h, blocks, bs)) return fail(EIO);
            if (req == BLKGETSIZE64) return put_arg<uint64_t>(arg, blocks * bs);
            return put_arg<int>(arg, static_cast<int>(bs));
        }
        default:
            return fail(ENOTTY);
    }
}

}  // namespace prfence::shim
