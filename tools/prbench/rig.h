// SPDX-License-Identifier: MIT
// The engine's side of a benchmark: every LU's paths for node A and node B in one PathSet, the
// views of them the workloads run batches on, and the batches themselves. The engine backends
// measure with it; the process baselines prepare, arm and verify the LUs with it (unmeasured), as
// prfence would.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/prbench/bench.h"
#include "tools/prbench/steps.h"
#include "uring_engine/session/path_set.h"

namespace prfence::bench {

struct Rig {
    std::unique_ptr<engine::PathSet> paths;
    std::vector<engine::LunTarget> both;   // paths {A, B} (or {A})
    std::vector<engine::LunTarget> views;  // 2 per LU: A alone, B alone (A again without B)
    std::vector<engine::LunTarget> a, b;   // for whole-node batches
    bool has_b = false;                    // every one of the LUs has a node B path

    engine::Executor& ex() { return paths->executor(); }
    size_t luns() const { return both.size(); }
};

// Whether any of the first `n` LUs of `cfg` is an NVMe namespace (either node, any of node B's
// paths): a PathSet for them must be made with PathSetOptions::nvme (128-byte SQEs).
bool any_nvme(const Config& cfg, size_t n);

// Opens the first path of node A and of node B (when every one of the first `n` LUs has one) to
// each of the first `n` LUs of `cfg`, sg nodes over `sg`. The first path that does not open is the
// Error; prsim LUNs over the SG_IO pool are refused.
Result<std::unique_ptr<Rig>> open_rig(const Config& cfg, size_t n, engine::SgTransport sg);

// The executor's options for a workload batch: at most `qd` commands in flight, prbench's
// deadlines, every command into `log` when given.
engine::ExecOptions exec_options(const Config& cfg, unsigned qd,
                                 std::vector<engine::CommandRecord>* log);

struct BatchOut {
    engine::BatchSummary sum;
    std::vector<engine::LunOutcome> outcomes;
    std::string first_error;
    size_t failed = 0;
};

// One operation on every LU of `targets` in one batch.
Result<BatchOut> batch(Rig& rig, const std::vector<engine::LunTarget>& targets,
                       const engine::JobMaker& make, const engine::ExecOptions& o);

// An unmeasured batch of step `s` that must succeed on every LU of `targets`; the Error says `what`
// failed, on how many LUs, and the first LU's error.
Status setup(Rig& rig, const Config& cfg, const std::vector<engine::LunTarget>& targets, Step s,
             const char* what);

// Paced mode: the measured command of LU i's cycle k is due at t0 + (k * N + i) / rate.
struct Pacing {
    uint64_t t0 = 0;
    double period_ns = 0;  // 0: not paced
    size_t n = 1;
    uint64_t due(size_t lun, uint64_t cycle) const {
        return t0 + static_cast<uint64_t>((static_cast<double>(cycle) * static_cast<double>(n) +
                                           static_cast<double>(lun)) *
                                          period_ns);
    }
};

// Runs `steps` `cycles` times on one LU. Each step is a prfence operation run against one node's
// path (views[node]); the commands of measured steps carry label cycle + 1, and, paced, their due
// time.
class CycleJob final : public engine::LunJob {
  public:
    CycleJob(const std::vector<Step>& steps, unsigned cycles, const engine::LunTarget* views,
             const Pacing* pace, size_t index)
        : steps_(steps), cycles_(cycles), views_(views), pace_(pace), index_(index) {}

    std::optional<Command> step(const engine::LunTarget&,
                                const engine::ScsiResponse* last) override;
    // The cycles whose measured step failed, and how many steps failed in all.
    const std::vector<uint32_t>& failed_cycles() const { return failed_cycles_; }
    unsigned errors() const { return errors_; }

  private:
    const std::vector<Step>& steps_;
    unsigned cycles_;
    const engine::LunTarget* views_;
    const Pacing* pace_;
    size_t index_;
    std::unique_ptr<LunJob> inner_;
    size_t i_ = 0;
    uint32_t cycle_ = 0;
    unsigned errors_ = 0;
    std::vector<uint32_t> failed_cycles_;
    std::string first_error_;
};

// An op workload's preparation on every LU, once and unmeasured; the first LU that fails is named.
Status prep_cycle(const Config& cfg, Rig& rig, const Cycle& cyc);

// Registers node B's key (REGISTER AND IGNORE EXISTING KEY) on every path of the first `n` LUs
// (BenchLun::b_paths; `b` when it is empty), each path a target of its own in a PathSet opened for
// this (the rig holds one path per node). Unmeasured: the backends that act on a whole dm map arm
// with it after arm_fence, so that every nexus of node B holds its key, as after mpathpersist
// --register or prfence register on the map.
Status register_every_b_path(const Config& cfg, size_t n);

// Puts node A in charge of every LU and registers node B: the state before a fence. By default
// without any abort (B registers and clears, A and B REGISTER AND IGNORE, A RESERVEs), as an
// operator's cluster is before a failover; with Config::arm_takeover, A's takeover plan (PREEMPT
// AND ABORT of B), then B registers. Then waits Config::settle_ms.
Status arm_fence(const Config& cfg, Rig& rig);

}  // namespace prfence::bench
