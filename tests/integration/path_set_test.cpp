// SPDX-License-Identifier: MIT
// PathSet against a real prsim server (in this process, on its own thread and socket): two nexuses
// to the same LUs, one connection per socket and nexus, a connection failure remembered per nexus,
// errors that name the device, and a batch over paths of both nexuses on the set's one executor.
#include "uring_engine/session/path_set.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "interposer/prsim/server.h"
#include "tests/support/sim_farm.h"
#include "uring_engine/policy/plans.h"

namespace prfence::engine {
namespace {

const Nexus kNodeA{"iqn.2026-11.io.prfence:node-a,i,0x23d000001", 1};
const Nexus kNodeB{"iqn.2026-11.io.prfence:node-b,i,0x23d000002", 2};

PathSpec sim_lun(const std::string& socket, uint32_t lun) {
    PathSpec p;
    p.kind = PathSpec::Kind::sim;
    p.sim_socket = socket;
    p.sim_lun = lun;
    return p;
}

PathSpec sg_node(const std::string& node) {
    PathSpec p;
    p.sg_node = node;
    return p;
}

std::unique_ptr<LunJob> register_key(uint64_t key) {
    ProutSpec s;
    s.action = wire::PrOutAction::register_and_ignore;
    s.params.sa_key = key;
    return make_prout_job(s, PlanOptions{});
}

// Runs make() on every target and returns the outcomes.
template <class Make>
std::vector<LunOutcome> run(PathSet& set, const std::vector<LunTarget>& targets, Make make) {
    auto jobs = jobs_for(targets.size(), make);
    auto s = set.executor().run(targets, jobs);
    EXPECT_TRUE(s.ok()) << s.error().msg;
    std::vector<LunOutcome> out;
    for (auto& j : jobs) out.push_back(j->outcome());
    return out;
}

TEST(PathSet, OneConnectionPerSocketAndNexus) {
    testing::SimFarm farm(4);
    ASSERT_TRUE(farm.server);
    auto set = PathSet::create();
    ASSERT_TRUE(set.ok()) << set.error().msg;
    for (uint32_t i = 0; i < 4; ++i) {
        auto a = (*set)->open(sim_lun(farm.socket, i), kNodeA);
        ASSERT_TRUE(a.ok()) << a.error().msg;
        EXPECT_EQ((*a)->name(), "sim:" + farm.socket + ":" + std::to_string(i));
    }
    EXPECT_EQ((*set)->size(), 4u);
    EXPECT_EQ((*set)->connections(), 1u);
    // The same LUs as a second nexus: a connection of its own, the same LU names.
    for (uint32_t i = 0; i < 4; ++i)
        ASSERT_TRUE((*set)->open(sim_lun(farm.socket, i), kNodeB).ok());
    EXPECT_EQ((*set)->size(), 8u);
    EXPECT_EQ((*set)->connections(), 2u);
    // Opening a LU again as a known nexus adds a path, not a connection.
    ASSERT_TRUE((*set)->open(sim_lun(farm.socket, 0), kNodeA).ok());
    EXPECT_EQ((*set)->size(), 9u);
    EXPECT_EQ((*set)->connections(), 2u);
}

// Node A and node B register through their own paths to the same LUs; READ KEYS on either path sees
// both keys, so prsim took them as two I_T nexuses.
TEST(PathSet, TwoNexusesToTheSameLusAreTwoRegistrants) {
    testing::SimFarm farm(3);
    ASSERT_TRUE(farm.server);
    auto set = std::move(PathSet::create()).value();
    std::vector<LunTarget> a, b, both;
    for (uint32_t i = 0; i < 3; ++i) {
        Path* pa = std::move(set->open(sim_lun(farm.socket, i), kNodeA)).value();
        Path* pb = std::move(set->open(sim_lun(farm.socket, i), kNodeB)).value();
        a.push_back({"lu" + std::to_string(i), {pa}});
        b.push_back({"lu" + std::to_string(i), {pb}});
        both.push_back({"lu" + std::to_string(i), {pa, pb}});
    }
    for (const auto& o : run(*set, a, [] { return register_key(0xa); }))
        EXPECT_TRUE(o.ok) << o.error;
    for (const auto& o : run(*set, b, [] { return register_key(0xb); }))
        EXPECT_TRUE(o.ok) << o.error;
    for (const auto& o :
         run(*set, b, [] { return make_read_job(wire::PrInAction::read_keys, PlanOptions{}); })) {
        ASSERT_TRUE(o.ok && o.keys) << o.error;
        auto keys = o.keys->keys;
        std::sort(keys.begin(), keys.end());
        EXPECT_EQ(keys, (std::vector<uint64_t>{0xa, 0xb})) << o.device;
    }
    // A batch over targets holding a path of each nexus: the takeover registers down every path.
    for (const auto& o : run(*set, both, [] {
             return make_takeover_job(0xc, wire::PrType::exclusive_access, {});
         })) {
        EXPECT_TRUE(o.ok) << o.device << ": " << o.error;
        ASSERT_TRUE(o.reservation);
        EXPECT_EQ(o.reservation->key, 0xcu);
    }
}

// A socket nobody listens on is tried once per nexus: the next path of that socket and nexus gets
// the same error even after a daemon came up there; another nexus connects.
TEST(PathSet, AFailedConnectionIsRememberedPerNexus) {
    const std::string socket = (std::filesystem::temp_directory_path() /
                                ("prfence-pathset-" + std::to_string(getpid()) + ".sock"))
                                   .string();
    std::filesystem::remove(socket);
    auto set = std::move(PathSet::create()).value();
    auto first = set->open(sim_lun(socket, 0), kNodeA);
    ASSERT_FALSE(first.ok());
    EXPECT_NE(first.error().msg.find(socket), std::string::npos) << first.error().msg;

    sim::ServerConfig cfg;
    cfg.socket_path = socket;
    cfg.luns = 2;
    auto server = std::move(sim::Server::create(std::move(cfg))).value();
    std::thread t([&] { (void)server->run(); });

    auto again = set->open(sim_lun(socket, 1), kNodeA);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().msg, first.error().msg);
    EXPECT_EQ(set->connections(), 0u);
    auto other = set->open(sim_lun(socket, 1), kNodeB);
    EXPECT_TRUE(other.ok()) << other.error().msg;
    EXPECT_EQ(set->connections(), 1u);
    EXPECT_EQ(set->size(), 1u);

    server->stop();
    t.join();
    std::filesystem::remove(socket);
}

TEST(PathSet, ALunOutsideTheFarmFailsAloneAndTheConnectionStays) {
    testing::SimFarm farm(2);
    ASSERT_TRUE(farm.server);
    auto set = std::move(PathSet::create()).value();
    auto bad = set->open(sim_lun(farm.socket, 7), kNodeA);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().msg.find("does not exist"), std::string::npos) << bad.error().msg;
    EXPECT_TRUE(set->open(sim_lun(farm.socket, 1), kNodeA).ok());
    EXPECT_EQ(set->connections(), 1u);
    EXPECT_EQ(set->size(), 1u);
}

// sg nodes over either transport: a node that does not exist is an error naming it, and nothing is
// kept.
TEST(PathSet, MissingSgNodeIsNamedOnEitherTransport) {
    for (SgTransport t : {SgTransport::uring, SgTransport::sgio}) {
        PathSetOptions o;
        o.sg_transport = t;
        o.sgio_threads = 1;
        auto set = std::move(PathSet::create(o)).value();
        auto p = set->open(sg_node("/nonexistent/sg99"), kNodeA);
        ASSERT_FALSE(p.ok());
        EXPECT_NE(p.error().msg.find("/nonexistent/sg99"), std::string::npos) << p.error().msg;
        EXPECT_EQ(set->size(), 0u);
    }
}

// sg_transport is about sg nodes: prsim LUNs go over their socket even when sg paths use the SG_IO
// pool.
TEST(PathSet, SimLunsIgnoreTheSgTransport) {
    testing::SimFarm farm(1);
    ASSERT_TRUE(farm.server);
    PathSetOptions o;
    o.sg_transport = SgTransport::sgio;
    auto set = std::move(PathSet::create(o)).value();
    auto p = set->open(sim_lun(farm.socket, 0), kNodeA);
    ASSERT_TRUE(p.ok()) << p.error().msg;
    std::vector<LunTarget> t{{"lu0", {*p}}};
    for (const auto& oc : run(*set, t, [] { return register_key(0xa); }))
        EXPECT_TRUE(oc.ok) << oc.error;
}

}  // namespace
}  // namespace prfence::engine
