// SPDX-License-Identifier: MIT
#include "uring_engine/transport/nvme_path.h"

#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"
#include "uring_engine/transport/nvme_answer.h"

namespace prfence::engine {
namespace {

// A status the slot's op completes with when nothing was sent (refused): outside both Linux
// forms (15-bit status, -errno 1..4095).
constexpr int kRefusedRes = -0x10000;

}  // namespace

NvmePath::NvmePath(Ring& ring, CompletionSink& sink, int fd, std::string name, uint32_t nsid)
    : ring_(ring), sink_(sink), fd_(fd), name_(std::move(name)), nsid_(nsid) {
    for (auto& s : slots_) {
        s.op.path = this;
        s.op.slot = &s;
    }
}

NvmePath::~NvmePath() {
    // The ring holds pointers to our ops: turn it until every command of ours has completed (the
    // kernel completes or times out each one; the engine's deadline passed long before).
    for (int i = 0; i < 100 && in_flight_ > 0; ++i)
        (void)ring_.run_once(std::chrono::milliseconds(10));
    if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<NvmePath>> NvmePath::open(Ring& ring, CompletionSink& sink,
                                                 const std::string& node, uint32_t nsid,
                                                 const std::string& host_id) {
    if (!(ring.raw()->flags & IORING_SETUP_SQE128) || !(ring.raw()->flags & IORING_SETUP_CQE32))
        return fail(Errc::invalid_argument,
                    node +
                        ": the engine's ring has no 128-byte SQEs and 32-byte CQEs, which NVMe "
                        "passthrough needs");
    UniqueFd fd(::open(node.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) {
        Error e = errno_error(Errc::system, errno, node);
        if (e.sys_errno == EACCES || e.sys_errno == EPERM)
            e.msg +=
                " (NVMe reservations need write access to the node, and CAP_SYS_ADMIN before "
                "Linux 6.2)";
        return fail(std::move(e));
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0 || !S_ISCHR(st.st_mode))
        return fail(Errc::invalid_argument,
                    node +
                        ": not a character device (expected an NVMe generic node such as "
                        "/dev/ng0n1)");
    const int id = ioctl(fd.get(), NVME_IOCTL_ID);
    if (id < 0) {
        const int e = errno;
        return fail(Errc::invalid_argument,
                    node + ": not an NVMe namespace (" + errno_message("NVME_IOCTL_ID", e) + ")",
                    e);
    }
    if (static_cast<uint32_t>(id) != nsid)
        return fail(Errc::invalid_argument, node + ": namespace ID " + std::to_string(id) +
                                                ", but sysfs said " + std::to_string(nsid));
    std::unique_ptr<NvmePath> p(new NvmePath(ring, sink, fd.release(), node, nsid));
    if (!host_id.empty()) p->scope_ = "nvme-host:" + host_id;
    return p;
}

Status NvmePath::submit(uint64_t tag, const ScsiRequest& req) {
    Slot* slot = nullptr;
    for (auto& s : slots_)
        if (!s.busy) {
            slot = &s;
            break;
        }
    if (!slot)
        return fail(Errc::too_small,
                    name_ + ": " + std::to_string(kMaxQueue) + " commands already queued");
    auto t = wire::nvme::translate(nsid_, req.cdb, req.data_out, req.data_in_len);
    slot->busy = true;
    slot->tag = tag;
    slot->fallback_sent = false;
    slot->start_ns = now_ns();
    ++in_flight_;
    if (!t) {
        refuse(*slot, t.error().msg);
        return {};
    }
    slot->t = std::move(t).value();
    if (Status s = start(*slot, slot->t.cmd); !s.ok()) {
        slot->busy = false;
        --in_flight_;
        return s;
    }
    return {};
}

Status NvmePath::start(Slot& s, const wire::nvme::Command& c) {
    s.sent = &c;
    if (c.dir == wire::nvme::DataDir::to_device)
        s.buf = c.data;
    else
        s.buf.assign(c.data_len, 0);
    if (c.admin) {
        nvme_admin_cmd a{};
        a.opcode = c.opcode;
        a.nsid = c.nsid;
        a.addr = reinterpret_cast<uintptr_t>(s.buf.data());
        a.data_len = static_cast<uint32_t>(s.buf.size());
        a.cdw10 = c.cdw10;
        a.cdw11 = c.cdw11;
        a.cdw12 = c.cdw12;
        a.cdw13 = c.cdw13;
        a.cdw14 = c.cdw14;
        a.cdw15 = c.cdw15;
        int res = ioctl(fd_, NVME_IOCTL_ADMIN_CMD, &a);
        if (res < 0) res = -errno;
        return ring_.post(&s.op, res);
    }
    PRF_TRY_ASSIGN(io_uring_sqe * sqe, ring_.sqe(&s.op));
    const uint64_t user_data = sqe->user_data;
    std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));  // the whole 128-byte entry
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd_;
    sqe->cmd_op = NVME_URING_CMD_IO;
    sqe->user_data = user_data;
    auto* cmd = reinterpret_cast<nvme_uring_cmd*>(sqe->cmd);
    cmd->opcode = c.opcode;
    cmd->nsid = c.nsid;
    cmd->addr = reinterpret_cast<uintptr_t>(s.buf.data());
    cmd->data_len = static_cast<uint32_t>(s.buf.size());
    cmd->cdw10 = c.cdw10;
    cmd->cdw11 = c.cdw11;
    cmd->cdw12 = c.cdw12;
    cmd->cdw13 = c.cdw13;
    cmd->cdw14 = c.cdw14;
    cmd->cdw15 = c.cdw15;
    return {};
}

void NvmePath::CmdOp::complete(int res, uint32_t) { path->finish(*slot, res); }

void NvmePath::refuse(Slot& s, std::string why) {
    s.t = {};
    s.sent = nullptr;
    s.buf.assign(why.begin(), why.end());  // kept until the completion delivers it
    if (!ring_.post(&s.op, kRefusedRes).ok()) finish(s, kRefusedRes);
}

void NvmePath::finish(Slot& s, int res) {
    ScsiResponse r;
    if (res == kRefusedRes) {
        r = nvme_refusal(std::string(s.buf.begin(), s.buf.end()));
    } else {
        if (!s.fallback_sent && nvme_needs_fallback(s.t, res)) {
            s.fallback_sent = true;
            if (start(s, *s.t.on_conflict).ok()) return;
        }
        r = nvme_response(s.t, res, s.buf);
    }
    r.latency_ns = now_ns() - s.start_ns;
    const uint64_t tag = s.tag;
    s.busy = false;
    --in_flight_;
    sink_.on_complete(tag, std::move(r));
}

}  // namespace prfence::engine
