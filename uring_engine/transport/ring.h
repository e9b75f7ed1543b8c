// SPDX-License-Identifier: MIT
// The engine's io_uring: one ring per engine thread, every asynchronous operation an Op whose
// address is the SQE's user_data. Transports queue SQEs through it; the executor turns it with
// run_once().
//
// Not thread-safe: one thread owns the ring (IORING_SETUP_SINGLE_ISSUER where the kernel has it).
// Other threads (the SG_IO pool) hand work back through post_from_thread(), which wakes the ring
// via an eventfd.
#pragma once

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "uring_engine/common/result.h"

namespace prfence::engine {

class Ring {
  public:
    // An operation in flight. complete() runs on the ring's thread, once per CQE carrying this Op.
    struct Op {
        virtual ~Op() = default;
        virtual void complete(int res, uint32_t cqe_flags) = 0;
    };

    // `big_entries`: 128-byte SQEs and 32-byte CQEs (IORING_SETUP_SQE128 | CQE32, Linux 5.19), as
    // NVMe passthrough needs; every other operation works on such a ring too.
    static Result<std::unique_ptr<Ring>> create(unsigned entries = 1024, bool big_entries = false);
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    // An SQE for `op`, flushing the submission queue to the kernel first when it is full. Never
    // nullptr unless the kernel refuses to take submissions at all (then the Error says why).
    Result<io_uring_sqe*> sqe(Op* op);

    // Completes `op` from this thread on the next turn (a NOP through the ring, so ordering with
    // real completions is that of the CQ).
    Status post(Op* op, int res = 0);
    // Completes `op` with `res` on the ring's thread, from any thread.
    void post_from_thread(Op* op, int res);

    // Submits queued SQEs, waits until at least one completion is available or `timeout` passes
    // (nullopt: no limit; zero: do not wait), and dispatches every available CQE. Returns how many
    // were dispatched.
    Result<unsigned> run_once(std::optional<std::chrono::nanoseconds> timeout);

    // Submits what is queued without waiting.
    Status flush();

    // The ring's clock (CLOCK_MONOTONIC, ns): read by tick(), and by run_once() once per turn right
    // after its wait, before it dispatches; now() is the last reading (tick() when there is none).
    // Timestamps taken by now() during one turn's completions and the submissions they cause are
    // that turn's, so a command's latency is exact to within one turn's dispatch time: one clock
    // read per turn instead of several per command (in a TCG guest each read is a system call).
    uint64_t tick();
    uint64_t now() { return now_ns_ ? now_ns_ : tick(); }

    unsigned pending_sqes() const;
    io_uring* raw() { return &ring_; }

  private:
    Ring() = default;
    void drain_cross_thread();

    io_uring ring_{};
    bool inited_ = false;
    int event_fd_ = -1;
    struct WakeOp : Op {
        Ring* ring = nullptr;
        uint64_t value = 0;
        void complete(int res, uint32_t flags) override;
    } wake_;
    bool wake_armed_ = false;
    Status arm_wake();
    uint64_t now_ns_ = 0;

    std::mutex cross_mu_;
    std::vector<std::pair<Op*, int>> cross_;
};

}  // namespace prfence::engine
