// SPDX-License-Identifier: MIT
#include "uring_engine/transport/sg_path.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"

namespace prfence::engine {

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

SgPath::SgPath(Ring& ring, CompletionSink& sink, int fd, std::string name)
    : ring_(ring), sink_(sink), fd_(fd), name_(std::move(name)) {
    for (auto& s : slots_) {
        s.write_op.path = this;
        s.write_op.slot = &s;
    }
    poll_.path = this;
}

void SgPath::begin_shutdown() {
    if (!poll_armed_ || poll_remove_sent_) return;
    if (auto s = ring_.sqe(nullptr); s.ok()) {
        io_uring_prep_poll_remove(*s, reinterpret_cast<uint64_t>(static_cast<Ring::Op*>(&poll_)));
        poll_remove_sent_ = true;
    }
}

SgPath::~SgPath() {
    // The ring holds pointers to our poll and write ops: cancel the poll and turn the ring until
    // nothing of ours is left in it. Commands still queued in sg (abandoned after an engine-side
    // deadline) stay with the kernel, which drops their answers when the fd closes.
    begin_shutdown();
    auto writes_pending = [this] {
        for (auto& s : slots_)
            if (s.busy && !s.queued) return true;
        return false;
    };
    for (int i = 0; i < 100 && (poll_armed_ || writes_pending()); ++i)
        (void)ring_.run_once(std::chrono::milliseconds(10));
    if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<SgPath>> SgPath::open(Ring& ring, CompletionSink& sink,
                                             const std::string& dev) {
    int fd = ::open(dev.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        Error e = errno_error(Errc::system, errno, dev);
        if (e.sys_errno == EACCES || e.sys_errno == EPERM)
            e.msg += " (persistent reservations need root or CAP_SYS_RAWIO)";
        return fail(std::move(e));
    }
    return adopt(ring, sink, fd, dev);
}

Result<std::unique_ptr<SgPath>> SgPath::adopt(Ring& ring, CompletionSink& sink, int raw_fd,
                                              std::string name) {
    UniqueFd fd(raw_fd);
    struct stat st {};
    if (fstat(fd.get(), &st) != 0 || !S_ISCHR(st.st_mode))
        return fail(Errc::invalid_argument,
                    name + ": not a character device (expected an sg node such as /dev/sg3)");
    int version = 0;
    if (ioctl(fd.get(), SG_GET_VERSION_NUM, &version) != 0) {
        const int e = errno;
        return fail(Errc::invalid_argument,
                    name + ": not an sg device (" + errno_message("SG_GET_VERSION_NUM", e) + ")",
                    e);
    }
    if (version < 30000)
        return fail(Errc::unsupported, name + ": sg driver version " + std::to_string(version) +
                                           " has no v3 interface");
    // Completions are matched by usr_ptr and pack_id, so read() must return any completed command:
    // SG_SET_FORCE_PACK_ID off, which is how sg_add_sfp (drivers/scsi/sg.c) leaves every new open
    // file, and this fd is ours alone. No ioctl for it: one system call less per path at open.
    return std::unique_ptr<SgPath>(new SgPath(ring, sink, fd.release(), std::move(name)));
}

Status SgPath::submit(uint64_t tag, const ScsiRequest& req) {
    if (in_flight_ >= kMaxQueue)
        return fail(Errc::too_small,
                    name_ + ": " + std::to_string(kMaxQueue) + " commands already queued");
    Slot* slot = nullptr;
    for (auto& s : slots_)
        if (!s.busy) {
            slot = &s;
            break;
        }
    if (!slot) return fail(Errc::too_small, name_ + ": no free command slot");
    PRF_TRY(arm_poll());

    slot->tag = tag;
    slot->pack_id = next_pack_id_ = (next_pack_id_ + 1) & 0x7fffffff;
    slot->queued = false;
    std::memcpy(slot->cdb.data(), req.cdb.b.data(), req.cdb.len);
    sg_io_hdr_t& h = slot->hdr;
    h = sg_io_hdr_t{};
    h.interface_id = 'S';
    h.cmd_len = req.cdb.len;
    h.cmdp = slot->cdb.data();
    h.mx_sb_len = kSenseMax;
    h.sbp = slot->sense.data();
    h.timeout = req.timeout_ms;
    h.usr_ptr = slot;
    h.pack_id = slot->pack_id;
    switch (req.dir()) {
        case DataDir::to_device:
            slot->data = req.data_out;
            h.dxfer_direction = SG_DXFER_TO_DEV;
            break;
        case DataDir::from_device:
            slot->data.assign(req.data_in_len, 0);
            h.dxfer_direction = SG_DXFER_FROM_DEV;
            break;
        case DataDir::none:
            slot->data.clear();
            h.dxfer_direction = SG_DXFER_NONE;
            break;
    }
    h.dxfer_len = static_cast<unsigned>(slot->data.size());
    h.dxferp = slot->data.empty() ? nullptr : slot->data.data();

    PRF_TRY_ASSIGN(io_uring_sqe * sqe, ring_.sqe(&slot->write_op));
    io_uring_prep_write(sqe, fd_, &slot->hdr, sizeof slot->hdr, 0);
    slot->busy = true;
    slot->start_ns = ring_.now();
    ++in_flight_;
    return {};
}

void SgPath::WriteOp::complete(int res, uint32_t) {
    if (res == static_cast<int>(sizeof(sg_io_hdr_t))) {
        slot->queued = true;
        return;
    }
    // EDOM: sg's queue is full (we never exceed 16, so another opener of this fd filled it).
    path->finish(*slot, nullptr, res < 0 ? -res : EIO);
}

Status SgPath::arm_poll() {
    if (poll_armed_) return {};
    PRF_TRY_ASSIGN(io_uring_sqe * sqe, ring_.sqe(&poll_));
    poll_remove_sent_ = false;
    io_uring_prep_poll_multishot(sqe, fd_, POLLIN);
    poll_armed_ = true;
    return {};
}

void SgPath::PollOp::complete(int res, uint32_t flags) {
    SgPath& p = *path;
    if (!(flags & IORING_CQE_F_MORE)) {
        p.poll_armed_ = false;
        p.poll_remove_sent_ = false;
    }
    if (res == -ECANCELED) return;
    // Reap even on a poll error: read() then says what is wrong with the fd, and queued commands
    // fail with it.
    p.reap();
    if (!p.poll_armed_ && p.in_flight_ > 0) {
        if (auto st = p.arm_poll(); !st.ok())
            p.fail_queued(st.error().sys_errno ? st.error().sys_errno : EIO);
    }
}

void SgPath::reap() {
    for (;;) {
        bool any_queued = false;
        for (auto& s : slots_) any_queued |= s.busy && s.queued;
        if (!any_queued) return;
        sg_io_hdr_t h{};
        h.interface_id = 'S';
        ssize_t n = ::read(fd_, &h, sizeof h);
        if (n == static_cast<ssize_t>(sizeof h)) {
            auto* slot = static_cast<Slot*>(h.usr_ptr);
            for (auto& s : slots_)
                if (&s == slot && s.busy && s.queued && s.pack_id == h.pack_id) finish(s, &h, 0);
            continue;  // an answer for no slot of ours (cannot happen on a private fd) is dropped
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        // A failed read cannot be matched to a command: the device is gone (ENODEV) or the fd
        // broken. Fail every queued command rather than leave them waiting forever.
        fail_queued(n < 0 ? errno : EIO);
        return;
    }
}

void SgPath::fail_queued(int sys_errno) {
    for (auto& s : slots_)
        if (s.busy && s.queued) finish(s, nullptr, sys_errno);
}

void SgPath::finish(Slot& s, const sg_io_hdr_t* done, int sys_errno) {
    ScsiResponse rsp;
    rsp.latency_ns = ring_.now() - s.start_ns;
    if (done) {
        rsp.status = done->status;
        rsp.host = static_cast<uint8_t>(done->host_status);
        rsp.driver = static_cast<uint8_t>(done->driver_status);
        if (done->sb_len_wr > 0)
            rsp.sense.assign(s.sense.begin(),
                             s.sense.begin() + std::min<unsigned>(done->sb_len_wr, kSenseMax));
        if (done->dxfer_direction == SG_DXFER_FROM_DEV) {
            size_t got =
                s.data.size() - std::min<size_t>(s.data.size(), done->resid > 0 ? done->resid : 0);
            s.data.resize(got);
            rsp.data_in = std::move(s.data);
        }
        // sg reports a kernel-side command timeout as DID_TIME_OUT / DRIVER_TIMEOUT.
        rsp.timed_out = done->host_status == 0x03 || (done->driver_status & 0x0f) == 0x06;
    } else {
        rsp.sys_errno = sys_errno;
    }
    uint64_t tag = s.tag;
    s.busy = false;
    s.queued = false;
    s.data.clear();
    --in_flight_;
    sink_.on_complete(tag, std::move(rsp));
}

}  // namespace prfence::engine
