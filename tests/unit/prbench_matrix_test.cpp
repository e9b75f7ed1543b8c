// SPDX-License-Identifier: MIT
// prbench's pieces without a LU: the backend table, the matrix planner's cells and order, every
// skip rule with its text and the order they are tried in, the op workload's cycles and
// sg_persist's arguments, and how a baseline process is started for a node (wrapper words, device
// nodes).
#include <gtest/gtest.h>

#include <algorithm>

#include "tools/prbench/backend.h"
#include "tools/prbench/matrix.h"
#include "tools/prbench/process_baseline.h"
#include "tools/prbench/steps.h"

namespace prfence::bench {
namespace {

constexpr Backend kAll[] = {Backend::uring, Backend::sgio, Backend::serial, Backend::sg_persist,
                            Backend::fence_scsi};

BenchLun sim_lun(uint32_t i) {
    BenchLun l;
    l.name = "sim:/tmp/s:" + std::to_string(i);
    l.a.kind = engine::PathSpec::Kind::sim;
    l.a.sim_socket = "/tmp/s";
    l.a.sim_lun = i;
    l.b = l.a;
    l.has_b = true;
    return l;
}

BenchLun sg_lun(const std::string& sg, const std::string& sd) {
    BenchLun l;
    l.name = sd;
    l.a.sg_node = sg;
    l.a.block = sd;
    return l;
}

Config sim_config(size_t luns) {
    Config c;
    for (uint32_t i = 0; i < luns; ++i) c.luns.push_back(sim_lun(i));
    c.a = {"iqn.a,i,0x1", 1, 0xa};
    c.b = {"iqn.b,i,0x2", 2, 0xb};
    return c;
}

TEST(BackendTable, NamesRoundTripAndTraits) {
    for (Backend b : kAll) {
        EXPECT_EQ(parse_backend(backend_name(b)), b);
        EXPECT_EQ(backend_info(b).id, b);
        EXPECT_NE(backend_info(b).make, nullptr);
    }
    EXPECT_FALSE(parse_backend("nope"));
    EXPECT_STREQ(backend_name(Backend::sg_persist), "sg_persist");
    EXPECT_TRUE(is_engine_backend(Backend::serial));
    EXPECT_FALSE(is_engine_backend(Backend::fence_scsi));
    EXPECT_TRUE(backend_info(Backend::uring).sweeps_qd);
    EXPECT_FALSE(backend_info(Backend::serial).sweeps_qd);
    EXPECT_EQ(backend_info(Backend::sgio).transport, engine::SgTransport::sgio);
    EXPECT_EQ(backend_info(Backend::uring).tool, nullptr);
    EXPECT_EQ(backend_info(Backend::fence_scsi).tool, &Config::fence_scsi);
}

TEST(Plan, CellsInRunOrderWithConcurrencyCappedAndDeduplicated) {
    Config c = sim_config(4);
    c.workloads = {Workload::op, Workload::pingpong};
    c.ops = {"read-keys", "clear"};
    c.ns = {2, 0};
    c.backends = {Backend::uring, Backend::sg_persist};
    c.qds = {1, 0, 8, 2};
    std::vector<std::string> got;
    for (const Cell& x : plan(c))
        got.push_back(std::string(workload_name(x.workload)) + " " + x.op + " n" +
                      std::to_string(x.n) + " " + backend_name(x.backend) + " qd" +
                      std::to_string(x.qd));
    const std::vector<std::string> want{
        // n = 2: qd 1, 2 (all), 2 (8 capped), 2: one cell each for 1 and 2
        "op read-keys n2 uring qd1",
        "op read-keys n2 uring qd2",
        "op read-keys n2 sg_persist qd1",
        "op read-keys n4 uring qd1",
        "op read-keys n4 uring qd4",
        "op read-keys n4 uring qd2",
        "op read-keys n4 sg_persist qd1",
        "op clear n2 uring qd1",
        "op clear n2 uring qd2",
        "op clear n2 sg_persist qd1",
        "op clear n4 uring qd1",
        "op clear n4 uring qd4",
        "op clear n4 uring qd2",
        "op clear n4 sg_persist qd1",
        "pingpong takeover n2 uring qd1",
        "pingpong takeover n2 uring qd2",
        "pingpong takeover n2 sg_persist qd1",
        "pingpong takeover n4 uring qd1",
        "pingpong takeover n4 uring qd4",
        "pingpong takeover n4 uring qd2",
        "pingpong takeover n4 sg_persist qd1"};
    EXPECT_EQ(got, want);
}

TEST(Plan, NIsCappedAtTheLusGivenAndFenceIsNamedFence) {
    Config c = sim_config(3);
    c.workloads = {Workload::fence};
    c.ns = {16};
    c.backends = {Backend::serial};
    auto cells = plan(c);
    ASSERT_EQ(cells.size(), 1u);
    EXPECT_EQ(cells[0].op, "fence");
    EXPECT_EQ(cells[0].n, 3u);
    EXPECT_EQ(cells[0].qd, 1u);
}

std::string why(const Config& c, Workload w, const std::string& op, Backend b, bool sim,
                bool have_b) {
    Cell cell{w, op, c.luns.size(), b, 1};
    return skip_reason(c, cell, sim, have_b).value_or("(runs)");
}

TEST(SkipRules, EachRuleWithItsText) {
    Config c = sim_config(2);
    c.prsim_run = "/usr/bin/true";
    c.sg_persist = "sh";  // found in PATH
    c.fence_scsi = "sh";
    EXPECT_EQ(why(c, Workload::fence, "fence", Backend::uring, false, false),
              "needs node B (--node-b DEVICES, or prsim LUNs)");
    EXPECT_EQ(why(c, Workload::pingpong, "takeover", Backend::serial, false, false),
              "needs node B (--node-b DEVICES, or prsim LUNs)");
    EXPECT_EQ(why(c, Workload::op, "read-keys", Backend::sgio, true, true),
              "the SG_IO pool drives sg devices; prsim LUNs go over io_uring only");
    EXPECT_EQ(why(c, Workload::op, "read-keys", Backend::fence_scsi, true, true),
              "fence_scsi only fences (workload fence)");
    EXPECT_EQ(why(c, Workload::pingpong, "takeover", Backend::fence_scsi, true, true),
              "fence_scsi only fences (workload fence)");
    Config missing = c;
    missing.fence_scsi = "/nonexistent/fence_scsi";
    missing.sg_persist = "/nonexistent/sg_persist";
    EXPECT_EQ(why(missing, Workload::fence, "fence", Backend::fence_scsi, false, true),
              "/nonexistent/fence_scsi is not installed (Debian: apt-get install fence-agents)");
    EXPECT_EQ(why(missing, Workload::fence, "fence", Backend::sg_persist, false, true),
              "/nonexistent/sg_persist is not installed (Debian: apt-get install sg3-utils)");
    Config no_shim = c;
    no_shim.prsim_run.clear();
    for (Backend b : {Backend::sg_persist, Backend::fence_scsi})
        EXPECT_EQ(why(no_shim, Workload::fence, "fence", b, true, true),
                  "baselines on prsim LUNs need the prsim-run shim (--prsim-run PATH or "
                  "--baseline-wrap)");
    no_shim.baseline_wrap = {"prsim-run", "--"};
    EXPECT_EQ(why(no_shim, Workload::fence, "fence", Backend::sg_persist, true, true), "(runs)");
    EXPECT_EQ(why(c, Workload::op, "preempt-abort", Backend::uring, false, false),
              "preempt-abort needs node B (--node-b DEVICES, or prsim LUNs)");
    EXPECT_EQ(why(c, Workload::op, "preempt", Backend::sg_persist, false, false),
              "preempt needs node B (--node-b DEVICES, or prsim LUNs)");
}

TEST(SkipRules, NothingSkipsWhatEveryBackendCanRun) {
    Config c = sim_config(2);
    c.prsim_run = "/usr/bin/true";
    c.sg_persist = c.fence_scsi = "sh";
    for (Backend b : {Backend::uring, Backend::serial, Backend::sg_persist}) {
        EXPECT_EQ(why(c, Workload::op, "preempt", b, true, true), "(runs)") << backend_name(b);
        EXPECT_EQ(why(c, Workload::pingpong, "takeover", b, true, true), "(runs)")
            << backend_name(b);
    }
    EXPECT_EQ(why(c, Workload::op, "read-keys", Backend::sgio, false, false),
              "(runs)");  // sg LUs, no node B
    EXPECT_EQ(why(c, Workload::fence, "fence", Backend::fence_scsi, true, true), "(runs)");
}

// When several rules hold, the first in the table decides, as the checks ran before the table.
TEST(SkipRules, TheFirstRuleThatHoldsDecides) {
    Config c = sim_config(2);
    c.sg_persist = "/nonexistent/sg_persist";
    c.fence_scsi = "/nonexistent/fence_scsi";
    // No node B, prsim LUs, no shim, tools missing: node B first.
    EXPECT_EQ(why(c, Workload::fence, "fence", Backend::fence_scsi, true, false),
              "needs node B (--node-b DEVICES, or prsim LUNs)");
    // fence_scsi on op: "only fences" before "not installed".
    EXPECT_EQ(why(c, Workload::op, "read-keys", Backend::fence_scsi, true, true),
              "fence_scsi only fences (workload fence)");
    // fence_scsi missing comes before the shim; for sg_persist the shim comes first.
    EXPECT_EQ(why(c, Workload::fence, "fence", Backend::fence_scsi, true, true),
              "/nonexistent/fence_scsi is not installed (Debian: apt-get install fence-agents)");
    EXPECT_EQ(
        why(c, Workload::fence, "fence", Backend::sg_persist, true, true),
        "baselines on prsim LUNs need the prsim-run shim (--prsim-run PATH or --baseline-wrap)");
    // The op's own need of node B comes last.
    EXPECT_EQ(why(c, Workload::op, "preempt", Backend::sg_persist, false, false),
              "/nonexistent/sg_persist is not installed (Debian: apt-get install sg3-utils)");
}

TEST(Steps, EveryOperationsCycleMeasuresExactlyOneStep) {
    Config c = sim_config(1);
    for (const char* op : kOpNames) {
        auto cyc = op_cycle(op, c, true);
        ASSERT_TRUE(cyc.ok()) << op << ": " << cyc.error().msg;
        EXPECT_EQ(std::count_if(cyc->cycle.begin(), cyc->cycle.end(),
                                [](const Step& s) { return s.measured; }),
                  1)
            << op;
        EXPECT_TRUE(std::none_of(cyc->prep.begin(), cyc->prep.end(), [](const Step& s) {
            return s.measured;
        })) << op;
        ASSERT_GE(cyc->prep.size(), 2u) << op;
        EXPECT_EQ(cyc->prep[0].act, Act::register_ignore) << op;
        EXPECT_EQ(cyc->prep[1].act, Act::clear) << op;
        for (const auto* v : {&cyc->prep, &cyc->cycle})
            for (const Step& s : *v) EXPECT_TRUE(s.make) << op << ": step not compiled";
        EXPECT_EQ(cyc->needs_b, op_needs_node_b(op)) << op;
    }
    EXPECT_TRUE(op_needs_node_b("preempt"));
    EXPECT_TRUE(op_needs_node_b("preempt-abort"));
    EXPECT_FALSE(op_needs_node_b("clear"));
}

TEST(Steps, ACycleThatNeedsNodeBWithoutOneIsNotCompiled) {
    Config c = sim_config(1);
    auto cyc = op_cycle("preempt", c, false);
    ASSERT_TRUE(cyc.ok());
    EXPECT_TRUE(cyc->needs_b);
    EXPECT_FALSE(cyc->cycle.back().make);
    auto bad = op_cycle("frobnicate", c, true);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().msg, "unknown operation frobnicate");
}

TEST(Steps, SgPersistArguments) {
    Config c;
    c.type = wire::PrType::write_exclusive;
    EXPECT_EQ(hx(0xabc123), "abc123");
    Step pa{1, Act::preempt_abort, 0x123abc, 0xabc123};
    EXPECT_EQ(sg_persist_args(pa, c),
              (std::vector<std::string>{"-n", "--out", "--preempt-abort", "--param-rk=123abc",
                                        "--param-sark=abc123", "--prout-type=1"}));
    Step reg{0, Act::register_ignore, 0xa};
    EXPECT_EQ(sg_persist_args(reg, c),
              (std::vector<std::string>{"-n", "--out", "--register-ignore", "--param-sark=a"}));
    Step rk{0, Act::read_keys};
    EXPECT_EQ(sg_persist_args(rk, c), (std::vector<std::string>{"-n", "--in", "--read-keys"}));
    Step fence{1, Act::fence, 0xb, 0xa};
    EXPECT_TRUE(sg_persist_args(fence, c).empty());
    EXPECT_EQ(op_spec(fence, c).op, engine::Operation::fence);
    EXPECT_EQ(op_spec(fence, c).sa_key, 0xau);
}

TEST(ProcessBaseline, WrapperWordsAndDeviceNodesPerNode) {
    Config c = sim_config(1);
    c.baseline_wrap = {"prsim-run",   "--socket",      "{socket}",      "--initiator",
                       "{initiator}", "--target-port", "{target_port}", "--"};
    ProcessBaseline bl(c);
    EXPECT_EQ(bl.wrap(1, c.luns[0]),
              (std::vector<std::string>{"prsim-run", "--socket", "/tmp/s", "--initiator",
                                        "iqn.b,i,0x2", "--target-port", "2", "--"}));
    EXPECT_EQ(bl.sg_dev(0, c.luns[0]), "/dev/prsim/sg0");
    EXPECT_EQ(bl.block_dev(1, c.luns[0]), "/dev/prsim/sda");
    EXPECT_EQ(bl.env(0, c.luns[0], nullptr), nullptr) << "no prsim-run: this process's environment";
    BenchLun real = sg_lun("/dev/sg3", "/dev/sdc");
    EXPECT_EQ(bl.sg_dev(0, real), "/dev/sg3");
    EXPECT_EQ(bl.block_dev(0, real), "/dev/sdc");
    EXPECT_EQ(bl.block_dev(1, real), "") << "no node B path: no block device";
}

TEST(ProcessBaseline, LastLineOfAFailure) {
    SpawnResult r;
    r.output = "first\nsecond line  \n\n";
    EXPECT_EQ(last_line(r), "second line");
    r.error = "could not start";
    EXPECT_EQ(last_line(r), "could not start");
}

}  // namespace
}  // namespace prfence::bench
