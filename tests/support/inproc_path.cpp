// SPDX-License-Identifier: MIT
#include "tests/support/inproc_path.h"

#include <algorithm>

namespace prfence::engine {

struct InprocPath::Pending : Ring::Op {
    InprocPath* path = nullptr;
    uint64_t tag = 0;
    uint64_t start_ns = 0;
    __kernel_timespec ts{};
    ScsiResponse rsp;
    void complete(int, uint32_t) override { path->done(this); }
};

InprocPath::InprocPath(Ring& ring, CompletionSink& sink, sim::LogicalUnit& lu, sim::NexusId nexus,
                       std::string name, uint64_t latency_ns, unsigned queue_depth)
    : ring_(ring),
      sink_(sink),
      lu_(lu),
      nexus_(nexus),
      name_(std::move(name)),
      latency_ns_(latency_ns),
      depth_(queue_depth) {}

InprocPath::~InprocPath() = default;

Status InprocPath::submit(uint64_t tag, const ScsiRequest& req) {
    auto p = std::make_unique<Pending>();
    p->path = this;
    p->tag = tag;
    p->start_ns = now_ns();
    sim::CommandResult r = lu_.execute(nexus_, req.cdb.bytes(), req.data_out);
    p->rsp.status = r.status;
    p->rsp.sense = std::move(r.sense);
    p->rsp.data_in = std::move(r.data_in);
    if (p->rsp.data_in.size() > req.data_in_len) p->rsp.data_in.resize(req.data_in_len);
    if (latency_ns_ == 0) {
        PRF_TRY(ring_.post(p.get()));
    } else {
        PRF_TRY_ASSIGN(io_uring_sqe * sqe, ring_.sqe(p.get()));
        p->ts.tv_sec = static_cast<long long>(latency_ns_ / 1000000000ull);
        p->ts.tv_nsec = static_cast<long long>(latency_ns_ % 1000000000ull);
        io_uring_prep_timeout(sqe, &p->ts, 0, 0);
    }
    p.release();
    ++in_flight_;
    return {};
}

void InprocPath::done(Pending* p) {
    std::unique_ptr<Pending> own(p);
    --in_flight_;
    own->rsp.latency_ns = now_ns() - own->start_ns;
    sink_.on_complete(own->tag, std::move(own->rsp));
}

}  // namespace prfence::engine
