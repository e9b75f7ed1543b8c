// SPDX-License-Identifier: MIT
// A path to a prsim LogicalUnit living in this process: the command executes at submit time and its
// answer is delivered through the ring (a NOP, or an io_uring timeout when a latency is set), so
// the executor sees exactly the asynchrony of a real transport. Used by the engine's integration
// tests and by bench_engine to measure the engine's own cost per command without a socket or a
// kernel in the way.
#pragma once

#include <memory>
#include <string>

#include "interposer/lu/lu.h"
#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/transport.h"

namespace prfence::engine {

class InprocPath final : public Path {
  public:
    InprocPath(Ring& ring, CompletionSink& sink, sim::LogicalUnit& lu, sim::NexusId nexus,
               std::string name, uint64_t latency_ns = 0, unsigned queue_depth = 64);
    ~InprocPath() override;

    const std::string& name() const override { return name_; }
    unsigned queue_depth() const override { return depth_; }
    unsigned in_flight() const override { return in_flight_; }
    Status submit(uint64_t tag, const ScsiRequest& req) override;

  private:
    struct Pending;
    void done(Pending* p);

    Ring& ring_;
    CompletionSink& sink_;
    sim::LogicalUnit& lu_;
    sim::NexusId nexus_;
    std::string name_;
    uint64_t latency_ns_;
    unsigned depth_;
    unsigned in_flight_ = 0;
};

}  // namespace prfence::engine
