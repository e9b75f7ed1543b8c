// SPDX-License-Identifier: MIT
#include "uring_engine/transport/ring.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "uring_engine/common/sys_error.h"

namespace prfence::engine {

Result<std::unique_ptr<Ring>> Ring::create(unsigned entries, bool big_entries) {
    std::unique_ptr<Ring> r(new Ring());
    io_uring_params p{};
    const unsigned big = big_entries ? IORING_SETUP_SQE128 | IORING_SETUP_CQE32 : 0;
    // Single issuer + cooperative task running: completions are reaped by the one thread that
    // submits, so the kernel need not interrupt it with IPIs. Older kernels reject the flags: retry
    // without.
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | big;
    int rc = io_uring_queue_init_params(entries, &r->ring_, &p);
    if (rc == -EINVAL) {
        p = io_uring_params{};
        p.flags = big;
        rc = io_uring_queue_init_params(entries, &r->ring_, &p);
    }
    if (rc == -EINVAL && big)
        return fail(Errc::unsupported,
                    "io_uring_queue_init: this kernel has no 128-byte SQEs (IORING_SETUP_SQE128, "
                    "Linux 5.19), which NVMe passthrough needs",
                    EINVAL);
    if (rc == -EPERM || rc == -ENOSYS) {
        // The two ways a system refuses io_uring itself: say which right or feature is missing.
        Error e = errno_error(Errc::system, -rc, "io_uring_queue_init");
        e.msg +=
            rc == -EPERM
                ? " (the sysctl kernel.io_uring_disabled: 1 leaves io_uring to CAP_SYS_ADMIN and "
                  "the group kernel.io_uring_group names, 2 to nobody; Linux 6.6 and later)"
                : " (no io_uring here: a kernel built without it, or a seccomp filter such as "
                  "a container runtime's)";
        return fail(std::move(e));
    }
    if (rc < 0) return fail_with_errno(-rc, "io_uring_queue_init");
    r->inited_ = true;
    r->event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->event_fd_ < 0) return fail_errno("eventfd");
    r->wake_.ring = r.get();
    return r;
}

Ring::~Ring() {
    if (inited_) io_uring_queue_exit(&ring_);
    if (event_fd_ >= 0) close(event_fd_);
}

Result<io_uring_sqe*> Ring::sqe(Op* op) {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (!s) {
        int rc = io_uring_submit(&ring_);
        if (rc < 0) return fail_with_errno(-rc, "io_uring_submit");
        s = io_uring_get_sqe(&ring_);
        if (!s)
            return fail(Errc::system, "io_uring: no submission queue entry after submit", EBUSY);
    }
    io_uring_sqe_set_data(s, op);
    return s;
}

Status Ring::post(Op* op, int res) {
    PRF_TRY_ASSIGN(io_uring_sqe * s, sqe(op));
    io_uring_prep_nop(s);
    // A NOP completes with res 0; carry the wanted result in the op by completing through a tiny
    // shim.
    if (res != 0) {
        struct Shim : Op {
            Op* inner;
            int res;
            void complete(int, uint32_t flags) override {
                Op* i = inner;
                int r = res;
                delete this;
                i->complete(r, flags);
            }
        };
        auto* shim = new Shim;
        shim->inner = op;
        shim->res = res;
        io_uring_sqe_set_data(s, shim);
    }
    return {};
}

void Ring::post_from_thread(Op* op, int res) {
    {
        std::lock_guard<std::mutex> lock(cross_mu_);
        cross_.emplace_back(op, res);
    }
    uint64_t one = 1;
    // A full eventfd counter (cannot happen below 2^64-1 posts) or EAGAIN still leaves it readable.
    [[maybe_unused]] ssize_t n = write(event_fd_, &one, sizeof one);
}

void Ring::WakeOp::complete(int res, uint32_t) {
    ring->wake_armed_ = false;
    (void)res;
    ring->drain_cross_thread();
}

Status Ring::arm_wake() {
    if (wake_armed_) return {};
    PRF_TRY_ASSIGN(io_uring_sqe * s, sqe(&wake_));
    io_uring_prep_read(s, event_fd_, &wake_.value, sizeof wake_.value, 0);
    wake_armed_ = true;
    return {};
}

void Ring::drain_cross_thread() {
    std::vector<std::pair<Op*, int>> batch;
    {
        std::lock_guard<std::mutex> lock(cross_mu_);
        batch.swap(cross_);
    }
    for (auto& [op, res] : batch) op->complete(res, 0);
}

Status Ring::flush() {
    int rc = io_uring_submit(&ring_);
    if (rc < 0) return fail_with_errno(-rc, "io_uring_submit");
    return {};
}

unsigned Ring::pending_sqes() const { return io_uring_sq_ready(&ring_); }

uint64_t Ring::tick() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now_ns_ = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    return now_ns_;
}

Result<unsigned> Ring::run_once(std::optional<std::chrono::nanoseconds> timeout) {
    PRF_TRY(arm_wake());
    io_uring_cqe* cqe = nullptr;
    int rc;
    if (!timeout) {
        rc = io_uring_submit_and_wait(&ring_, 1);
        if (rc >= 0) rc = io_uring_peek_cqe(&ring_, &cqe);
    } else if (timeout->count() <= 0) {
        rc = io_uring_submit(&ring_);
        if (rc >= 0) rc = io_uring_peek_cqe(&ring_, &cqe);
    } else {
        __kernel_timespec ts{};
        ts.tv_sec = static_cast<long long>(timeout->count() / 1000000000);
        ts.tv_nsec = static_cast<long long>(timeout->count() % 1000000000);
        rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    if (rc == -ETIME || rc == -EAGAIN || rc == -EINTR || (rc >= 0 && !cqe)) return 0u;
    if (rc < 0) return fail_with_errno(-rc, "io_uring wait");
    tick();
    unsigned n = 0;
    // Copy a batch out and release its CQ slots before dispatching: an Op's complete() may queue
    // new SQEs, and the kernel may then post more CQEs, which the next iteration picks up.
    io_uring_cqe* batch[256];
    struct Done {
        Op* op;
        int res;
        uint32_t flags;
    } done[256];
    for (;;) {
        unsigned got = io_uring_peek_batch_cqe(&ring_, batch, 256);
        if (got == 0) break;
        for (unsigned i = 0; i < got; ++i)
            done[i] = {static_cast<Op*>(io_uring_cqe_get_data(batch[i])), batch[i]->res,
                       batch[i]->flags};
        io_uring_cq_advance(&ring_, got);
        for (unsigned i = 0; i < got; ++i)
            if (done[i].op) done[i].op->complete(done[i].res, done[i].flags);
        n += got;
    }
    return n;
}

}  // namespace prfence::engine
