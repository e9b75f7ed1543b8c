// SPDX-License-Identifier: MIT
// prbench's rig and backends against a real prsim server (in this process): node A and node B open
// to the same LUs in one PathSet, the engine backend's fence and ping-pong measured round by round,
// a backend refusing a workload it does not run, and run() over a small matrix with a skipped cell.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/sim_farm.h"
#include "tools/prbench/backend.h"
#include "tools/prbench/bench.h"
#include "tools/prbench/rig.h"

namespace prfence::bench {
namespace {

Config farm_config(const testing::SimFarm& farm, uint32_t luns) {
    Config c;
    for (uint32_t i = 0; i < luns; ++i) {
        BenchLun l;
        l.name = "sim:" + farm.socket + ":" + std::to_string(i);
        l.a.kind = engine::PathSpec::Kind::sim;
        l.a.sim_socket = farm.socket;
        l.a.sim_lun = i;
        l.b = l.a;
        l.has_b = true;
        c.luns.push_back(l);
    }
    c.a = {"iqn.2026-11.io.prfence:node-a,i,0x1", 1, 0xabc123};
    c.b = {"iqn.2026-11.io.prfence:node-b,i,0x2", 2, 0x123abc};
    c.rounds = 3;
    c.warmup = 1;
    return c;
}

Measurement fresh(const Config& c, size_t n, unsigned qd) {
    Measurement m;
    m.luns = n;
    m.qd = qd;
    m.luns_time.resize(n);
    for (size_t i = 0; i < n; ++i) m.luns_time[i].name = c.luns[i].name;
    return m;
}

TEST(PrbenchRig, NodeAAndNodeBToTheSameLusInOnePathSet) {
    testing::SimFarm farm(4);
    ASSERT_TRUE(farm.server);
    Config c = farm_config(farm, 4);
    auto rig = open_rig(c, 3, engine::SgTransport::uring);
    ASSERT_TRUE(rig.ok()) << rig.error().msg;
    const Rig& r = **rig;
    EXPECT_TRUE(r.has_b);
    EXPECT_EQ(r.luns(), 3u);
    EXPECT_EQ(r.views.size(), 6u);
    ASSERT_EQ(r.a.size(), 3u);
    ASSERT_EQ(r.b.size(), 3u);
    EXPECT_EQ(r.paths->size(), 6u);
    EXPECT_EQ(r.paths->connections(), 2u);  // one per nexus
    for (size_t i = 0; i < 3; ++i) {
        ASSERT_EQ(r.both[i].paths.size(), 2u);
        EXPECT_EQ(r.both[i].paths[0], r.a[i].paths[0]);
        EXPECT_EQ(r.both[i].paths[1], r.b[i].paths[0]);
        EXPECT_NE(r.a[i].paths[0], r.b[i].paths[0]);
        EXPECT_EQ(r.views[2 * i].paths[0], r.a[i].paths[0]);
        EXPECT_EQ(r.views[2 * i + 1].paths[0], r.b[i].paths[0]);
    }
}

TEST(PrbenchRig, SgioRefusesPrsimLunsAndAMissingLuIsNamed) {
    testing::SimFarm farm(2);
    ASSERT_TRUE(farm.server);
    Config c = farm_config(farm, 2);
    auto sgio = open_rig(c, 2, engine::SgTransport::sgio);
    ASSERT_FALSE(sgio.ok());
    EXPECT_EQ(sgio.error().msg, "the SG_IO pool drives sg devices, not prsim LUNs");
    c.luns[1].a.sim_lun = c.luns[1].b.sim_lun = 9;
    auto missing = open_rig(c, 2, engine::SgTransport::uring);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().msg.find("LUN 9 does not exist"), std::string::npos)
        << missing.error().msg;
}

TEST(PrbenchBackends, EngineFenceAndPingPongRoundByRound) {
    testing::SimFarm farm(4);
    ASSERT_TRUE(farm.server);
    Config c = farm_config(farm, 4);
    auto rig = std::move(open_rig(c, 4, engine::SgTransport::uring)).value();
    auto runner = make_engine_backend(c);

    Measurement f = fresh(c, 4, 4);
    ASSERT_TRUE(runner->fence(*rig, f).ok());
    EXPECT_EQ(f.errors, 0u) << f.first_error;
    EXPECT_EQ(f.wall.size(), 3u);
    EXPECT_EQ(f.arm.size(), 3u);
    EXPECT_EQ(f.warmup, 1u);
    EXPECT_EQ(f.ops, 12u);
    EXPECT_GE(f.clat.size(), 3u * 4 * 3);  // READ KEYS, PREEMPT AND ABORT, READ RESERVATION per LU
    for (const LunTime& t : f.luns_time) EXPECT_EQ(t.n, 3u) << t.name;

    Measurement p = fresh(c, 4, 1);
    ASSERT_TRUE(runner->pingpong(*rig, p).ok());
    EXPECT_EQ(p.errors, 0u) << p.first_error;
    EXPECT_EQ(p.wall.size(), 3u);
    EXPECT_TRUE(p.arm.empty());
    EXPECT_EQ(p.ops, 12u);
}

TEST(PrbenchBackends, EngineOpMeasuresTheLabelledStepOnly) {
    testing::SimFarm farm(2);
    ASSERT_TRUE(farm.server);
    Config c = farm_config(farm, 2);
    c.iterations = 5;
    auto rig = std::move(open_rig(c, 2, engine::SgTransport::uring)).value();
    auto cyc = op_cycle("reserve", c, true);  // cycle: RESERVE (measured), RELEASE
    ASSERT_TRUE(cyc.ok());
    Measurement m = fresh(c, 2, 2);
    ASSERT_TRUE(make_engine_backend(c)->op(*rig, *cyc, m).ok());
    EXPECT_EQ(m.errors, 0u) << m.first_error;
    EXPECT_EQ(m.ops, 10u);
    EXPECT_EQ(m.clat.size(), 10u);
    EXPECT_EQ(m.warmup, 2u);
    EXPECT_GT(m.runtime_ns, 0u);
}

TEST(PrbenchBackends, FenceScsiOnlyFences) {
    testing::SimFarm farm(1);
    ASSERT_TRUE(farm.server);
    Config c = farm_config(farm, 1);
    auto rig = std::move(open_rig(c, 1, engine::SgTransport::uring)).value();
    auto fs = make_fence_scsi_backend(c);
    Measurement m = fresh(c, 1, 1);
    auto st = fs->pingpong(*rig, m);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().msg, "fence_scsi only fences (workload fence)");
}

TEST(PrbenchRun, ASmallMatrixWithASkippedCell) {
    testing::SimFarm farm(4);
    ASSERT_TRUE(farm.server);
    Config c = farm_config(farm, 4);
    c.workloads = {Workload::fence};
    c.backends = {Backend::uring, Backend::sgio, Backend::serial};
    c.ns = {2, 4};
    c.rounds = 2;
    std::vector<std::string> progress;
    c.progress = [&](const std::string& s) { progress.push_back(s); };
    auto out = run(c);
    ASSERT_TRUE(out.ok()) << out.error().msg;
    ASSERT_EQ(out->size(), 6u);
    std::vector<std::string> jobs;
    for (const Measurement& m : *out)
        jobs.push_back(std::string(backend_name(m.backend)) + " n" + std::to_string(m.luns) +
                       " qd" + std::to_string(m.qd));
    EXPECT_EQ(jobs, (std::vector<std::string>{"uring n2 qd2", "sgio n2 qd2", "serial n2 qd1",
                                              "uring n4 qd4", "sgio n4 qd4", "serial n4 qd1"}));
    for (const Measurement& m : *out) {
        EXPECT_EQ(m.op, "fence");
        if (m.backend == Backend::sgio) {
            EXPECT_TRUE(m.skipped);
            EXPECT_EQ(m.note, "the SG_IO pool drives sg devices; prsim LUNs go over io_uring only");
            continue;
        }
        EXPECT_FALSE(m.skipped);
        EXPECT_EQ(m.errors, 0u) << m.first_error;
        EXPECT_EQ(m.wall.size(), 2u);
        EXPECT_EQ(m.ops, 2 * m.luns);
    }
    ASSERT_GE(progress.size(), 2u);
    EXPECT_EQ(progress[0], "fence backend=uring luns=2 qd=2");
    EXPECT_EQ(progress[1], "fence backend=sgio luns=2 qd=2");
    EXPECT_EQ(progress[2],
              "  skipped: the SG_IO pool drives sg devices; prsim LUNs go over io_uring only");
}

TEST(PrbenchRun, NoLusAndAnUnreachableFarmAreErrors) {
    Config c;
    auto none = run(c);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().msg, "no LUs to measure");
    testing::SimFarm farm(1);
    Config d = farm_config(farm, 1);
    for (auto& l : d.luns) l.a.sim_socket = l.b.sim_socket = "/nonexistent/prsim.sock";
    auto gone = run(d);
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().msg.rfind("opening the LUs: ", 0), 0u) << gone.error().msg;
    EXPECT_NE(gone.error().msg.find("/nonexistent/prsim.sock"), std::string::npos);
}

}  // namespace
}  // namespace prfence::bench
