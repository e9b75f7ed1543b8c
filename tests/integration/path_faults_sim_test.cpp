// SPDX-License-Identifier: MIT
// Dead paths against prsim over its socket: node A reaches each LU through target ports 1 and 2
// (two nexuses, two paths of one LU) and prsim's lost_path fault silences port 2: registrations
// finish on port 1 in one command deadline and the rerun after the fault is disarmed registers
// port 2. Then a Session whose sg paths are dead before the batch (their device state in a fake
// sysfs) next to a prsim path: reported at once, per LU, with the exit category documented in
// prfence(8).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/sim_farm.h"
#include "uring_engine/policy/plans.h"
#include "uring_engine/session/path_set.h"
#include "uring_engine/session/session.h"
#include "uring_engine/simproto/sim_client.h"

namespace prfence::engine {
namespace {

using nlohmann::json;
using State = PathOutcome::State;

const char* const kInitiatorA = "iqn.2026-11.io.prfence:node-a,i,0x23d000001";

PathSpec sim_lun(const std::string& socket, uint32_t lun) {
    PathSpec p;
    p.kind = PathSpec::Kind::sim;
    p.sim_socket = socket;
    p.sim_lun = lun;
    return p;
}

json control(const std::string& socket, const json& req) {
    auto c = sim::SimClient::connect_raw(socket, 3000);
    EXPECT_TRUE(c.ok());
    if (!c) return {};
    auto r = (*c)->control(req.dump(), 3000);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().msg);
    return r.ok() ? json::parse(*r) : json{};
}

std::unique_ptr<LunJob> register_ignore(uint64_t key) {
    ProutSpec s;
    s.action = wire::PrOutAction::register_and_ignore;
    s.params.sa_key = key;
    return make_prout_job(s, PlanOptions{});
}

std::string states(const LunOutcome& o) {
    std::string s;
    for (const auto& p : o.paths)
        s += (s.empty() ? "" : ",") + std::string(path_state_name(p.state));
    return s;
}

TEST(PathFaultsSim, LostPathIsSkippedInOneCommandDeadlineAndRegisteredOnReturn) {
    testing::SimFarm farm(4);
    ASSERT_TRUE(farm.server);
    PathSetOptions po;
    po.exec.command_deadline = std::chrono::milliseconds(300);
    po.exec.batch_deadline = std::chrono::milliseconds(30000);
    auto set = std::move(PathSet::create(po)).value();
    std::vector<LunTarget> luns;
    for (uint32_t i = 0; i < 4; ++i) {
        Path* p1 = std::move(set->open(sim_lun(farm.socket, i), {kInitiatorA, 1})).value();
        Path* p2 = std::move(set->open(sim_lun(farm.socket, i), {kInitiatorA, 2})).value();
        luns.push_back({"lu" + std::to_string(i), {p1, p2}});
    }
    json armed = control(farm.socket, {{"op", "arm"}, {"fault", "lost_path,port=2"}});
    ASSERT_TRUE(armed.value("ok", false)) << armed.dump();

    auto jobs = jobs_for(luns.size(), [] { return register_ignore(0xa); });
    auto sum = set->executor().run(luns, jobs);
    ASSERT_TRUE(sum.ok()) << sum.error().msg;
    EXPECT_EQ(sum->ok, 4u);
    EXPECT_EQ(sum->degraded, 4u);
    EXPECT_FALSE(sum->deadline_hit);
    // The four LUs' silent REGISTERs ran concurrently: about one command deadline in all.
    EXPECT_LT(sum->wall_ns, 3'000'000'000ull);
    for (auto& j : jobs) {
        const LunOutcome& o = j->outcome();
        EXPECT_TRUE(o.ok && o.degraded) << o.device << ": " << o.error;
        EXPECT_EQ(states(o), "registered,dead") << o.device;
        ASSERT_EQ(o.paths.size(), 2u);
        EXPECT_EQ(o.paths[1].error, "timed out");
    }
    auto keys = [&] {
        std::vector<LunTarget> port1;
        for (const auto& l : luns) port1.push_back({l.name, {l.paths[0]}});
        auto rj = jobs_for(
            port1.size(), [] { return make_read_job(wire::PrInAction::read_keys, PlanOptions{}); });
        EXPECT_TRUE(set->executor().run(port1, rj).ok());
        std::vector<size_t> n;
        for (auto& j : rj) n.push_back(j->outcome().keys ? j->outcome().keys->keys.size() : 99);
        return n;
    };
    EXPECT_EQ(keys(), (std::vector<size_t>{1, 1, 1, 1}));

    // The path returns: the rerun registers it (its first command meets whatever unit attention
    // is pending and is retried).
    json off = control(farm.socket, {{"op", "disarm"}, {"all", true}});
    ASSERT_TRUE(off.value("ok", false)) << off.dump();
    auto again = jobs_for(luns.size(), [] { return register_ignore(0xa); });
    auto sum2 = set->executor().run(luns, again);
    ASSERT_TRUE(sum2.ok());
    EXPECT_EQ(sum2->ok, 4u);
    EXPECT_EQ(sum2->degraded, 0u);
    for (auto& j : again) EXPECT_EQ(states(j->outcome()), "registered,registered");
    EXPECT_EQ(keys(), (std::vector<size_t>{2, 2, 2, 2}));
}

// A fake sysfs giving each SCSI device a state.
struct FakeSysfs {
    std::filesystem::path root;
    FakeSysfs() {
        root =
            std::filesystem::temp_directory_path() /
            ("prfence-pathstate-" + std::to_string(getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::create_directories(root);
    }
    ~FakeSysfs() { std::filesystem::remove_all(root); }
    static int& counter() {
        static int n = 0;
        return n;
    }
    void state(const std::string& hctl, const std::string& s) {
        auto d = root / "class/scsi_device" / hctl / "device";
        std::filesystem::create_directories(d);
        std::ofstream(d / "state") << s << "\n";
    }
};

PathSpec sg(const std::string& node, const std::string& hctl) {
    PathSpec p;
    p.kind = PathSpec::Kind::sg;
    p.sg_node = node;
    p.hctl = hctl;
    return p;
}

TEST(PathFaultsSim, PathsDeadBeforeTheBatchAreReportedAtOnce) {
    testing::SimFarm farm(1);
    ASSERT_TRUE(farm.server);
    FakeSysfs sys;
    sys.state("7:0:0:0", "offline");
    sys.state("7:0:0:1", "blocked");
    sys.state("7:0:0:2", "transport-offline");
    sys.state("7:0:0:3", "running");
    std::vector<LunSpec> specs = {
        {"mixed", "w0", {sim_lun(farm.socket, 0), sg("/nonexistent/sg70", "7:0:0:0")}},
        {"alldown", "w1", {sg("/nonexistent/sg71", "7:0:0:1"), sg("/nonexistent/sg72", "7:0:0:2")}},
        {"noopen", "w2", {sg("/nonexistent/sg73", "7:0:0:3")}},
    };
    SessionOptions so;
    so.initiator = kInitiatorA;
    so.sysfs_root = sys.root.string();
    auto session = Session::open(specs, so);
    ASSERT_TRUE(session.ok()) << session.error().msg;
    const uint64_t t0 = now_ns();
    auto rep = (*session)->run([](size_t) { return register_ignore(0xa); });
    ASSERT_TRUE(rep.ok()) << rep.error().msg;
    EXPECT_LT(now_ns() - t0, 2'000'000'000ull);

    const LunOutcome& mixed = rep->outcomes[0];
    EXPECT_TRUE(mixed.ok) << mixed.error;
    EXPECT_TRUE(mixed.degraded);
    EXPECT_EQ(states(mixed), "registered,dead");
    ASSERT_EQ(mixed.paths.size(), 2u);
    EXPECT_EQ(mixed.paths[1].name, "/nonexistent/sg70");
    EXPECT_EQ(mixed.paths[1].error, "device state offline");
    EXPECT_NE(mixed.error.find("not opened: /nonexistent/sg70 (device state offline)"),
              std::string::npos)
        << mixed.error;

    const LunOutcome& down = rep->outcomes[1];
    EXPECT_FALSE(down.ok);
    EXPECT_EQ(down.category, wire::Category::transport_error);
    EXPECT_EQ(down.step, "open");
    EXPECT_EQ(down.error.rfind("every path is dead: /nonexistent/sg71: device state blocked", 0),
              0u)
        << down.error;
    EXPECT_EQ(states(down), "dead,dead");

    const LunOutcome& noopen = rep->outcomes[2];
    EXPECT_FALSE(noopen.ok);
    EXPECT_EQ(noopen.category, wire::Category::file_error);
    ASSERT_EQ(noopen.paths.size(), 1u);
    EXPECT_EQ(noopen.paths[0].error.rfind("open: ", 0), 0u) << noopen.paths[0].error;

    EXPECT_EQ(rep->summary.ok, 1u);
    EXPECT_EQ(rep->summary.degraded, 1u);
    EXPECT_EQ(rep->summary.failed, 2u);
    EXPECT_EQ(wire::exit_code(rep->summary.worst), 35);
}

}  // namespace
}  // namespace prfence::engine
