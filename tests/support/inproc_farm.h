// SPDX-License-Identifier: MIT
// A farm of in-process prsim LUs reached through the ring (InprocPath): node A on target port 1 and
// node B on target port 2 of every LU, each with its own I_T nexus, and a batch runner that returns
// the summary with the jobs (their outcomes). Shared by the engine's integration tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "interposer/lu/lu.h"
#include "tests/support/inproc_path.h"
#include "uring_engine/policy/executor.h"
#include "uring_engine/policy/plans.h"

namespace prfence::engine::test {

inline wire::TransportId iscsi_node(const char* node) {
    wire::TransportId t;
    t.protocol = wire::ProtocolId::iscsi;
    t.format = 1;
    t.iscsi_name = std::string("iqn.2026-11.io.prfence:") + node;
    t.iscsi_isid = "23d000001";
    return t;
}

// N LUs, each seen by node A through target port 1 and node B through target port 2.
struct Farm {
    std::unique_ptr<Ring> ring;
    std::unique_ptr<Executor> ex;
    std::vector<std::unique_ptr<sim::LogicalUnit>> lus;
    std::vector<std::unique_ptr<InprocPath>> a_paths, b_paths, extra_paths;
    std::vector<LunTarget> a, b;

    explicit Farm(size_t n, uint64_t latency_ns = 0, ExecOptions opt = {}) {
        ring = std::move(Ring::create(256)).value();
        ex = std::make_unique<Executor>(*ring, opt);
        for (size_t i = 0; i < n; ++i) {
            sim::LuConfig cfg;
            cfg.lun = static_cast<uint32_t>(i);
            lus.push_back(std::move(sim::LogicalUnit::create(cfg)).value());
            auto na = lus.back()->attach({iscsi_node("node-a"), 1});
            auto nb = lus.back()->attach({iscsi_node("node-b"), 2});
            std::string name = "lu" + std::to_string(i);
            a_paths.push_back(
                std::make_unique<InprocPath>(*ring, *ex, *lus.back(), na, name + "/a", latency_ns));
            b_paths.push_back(
                std::make_unique<InprocPath>(*ring, *ex, *lus.back(), nb, name + "/b", latency_ns));
            a.push_back({name, {a_paths.back().get()}});
            b.push_back({name, {b_paths.back().get()}});
        }
    }

    // Another path of `node` to LU `i` through `target_port` (a port the LU lacks answers every
    // command with LOGICAL UNIT NOT SUPPORTED); owned by the farm.
    Path* path(size_t i, const char* node, uint16_t target_port, const std::string& name) {
        auto id = lus[i]->attach({iscsi_node(node), target_port});
        extra_paths.push_back(std::make_unique<InprocPath>(*ring, *ex, *lus[i], id, name));
        return extra_paths.back().get();
    }

    template <class Make>
    std::pair<BatchSummary, std::vector<std::unique_ptr<LunJob>>> run(
        const std::vector<LunTarget>& who, Make make) {
        auto jobs = jobs_for(who.size(), make);
        auto sum = ex->run(who, jobs);
        EXPECT_TRUE(sum.ok()) << sum.error().msg;
        return {sum.ok() ? *sum : BatchSummary{}, std::move(jobs)};
    }
};

}  // namespace prfence::engine::test
