// SPDX-License-Identifier: MIT
// LUs behind several paths (I_T nexuses) when paths die: a registration skips a dead path and goes
// on down the others, a single-path command goes again down another path, an LU whose every path is
// dead says so, and a path that comes back with a unit attention is registered. In-process LUs
// (node A through target ports 1 and 2) with paths that fail on command: before the LU sees the
// command (DID_NO_CONNECT, ENXIO at submit, never answered) or after it executed (the answer lost
// to DID_TRANSPORT_DISRUPTED). The LU's state afterwards is read by an observer nexus.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/support/inproc_farm.h"
#include "tests/support/lu_test_util.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/policy/operations.h"
#include "uring_engine/policy/plans.h"

namespace prfence::engine {
namespace {

using sim::test::Host;
using sim::test::is_good;
using test::Farm;
using test::iscsi_node;
using wire::PrType;
using State = PathOutcome::State;

constexpr uint64_t kA = 0xa, kB = 0xb;

// What a FaultyPath does with one command.
enum class Fate {
    pass,         // to the LU, answer back
    no_connect,   // not executed; host byte DID_NO_CONNECT (an offline sg device)
    enxio,        // submit fails with ENXIO (the device went away)
    lost,         // not executed, never answered (the engine's command deadline ends it)
    lost_answer,  // executed, then the answer is lost: DID_TRANSPORT_DISRUPTED
};

// A path of node A to an in-process LU through `port`, whose `fate` decides per command.
class FaultyPath final : public Path, public CompletionSink {
  public:
    FaultyPath(Farm& f, size_t lu, uint16_t port, std::string name,
               std::function<Fate(const ScsiRequest&)> fate)
        : sink_(*f.ex),
          inner_(*f.ring, *this, *f.lus[lu], f.lus[lu]->attach({iscsi_node("node-a"), port}),
                 std::move(name)),
          fate_(std::move(fate)) {}
    const std::string& name() const override { return inner_.name(); }
    unsigned queue_depth() const override { return inner_.queue_depth(); }
    unsigned in_flight() const override { return inner_.in_flight(); }
    Status submit(uint64_t tag, const ScsiRequest& req) override {
        const Fate f = fate_(req);
        ++submitted;
        switch (f) {
            case Fate::pass:
            case Fate::lost_answer:
                mangle_[tag] = f;
                return inner_.submit(tag, req);
            case Fate::no_connect: {
                // Completes through the ring like any answer, without reaching the LU: a TEST UNIT
                // READY goes in its place and its answer is replaced.
                ScsiRequest tur;
                tur.cdb.len = 6;
                mangle_[tag] = f;
                return inner_.submit(tag, tur);
            }
            case Fate::enxio:
                return fail_with_errno(Errc::io, ENXIO, "submit");
            case Fate::lost:
                return {};
        }
        return {};
    }
    void on_complete(uint64_t tag, ScsiResponse&& rsp) override {
        const Fate f = mangle_[tag];
        mangle_.erase(tag);
        if (f == Fate::no_connect || f == Fate::lost_answer) {
            rsp = ScsiResponse{};
            rsp.host =
                f == Fate::no_connect ? wire::did::no_connect : wire::did::transport_disrupted;
        }
        sink_.on_complete(tag, std::move(rsp));
    }
    unsigned submitted = 0;

  private:
    CompletionSink& sink_;
    InprocPath inner_;
    std::function<Fate(const ScsiRequest&)> fate_;
    std::map<uint64_t, Fate> mangle_;
};

Fate always(Fate f, const ScsiRequest&) { return f; }

constexpr uint8_t kPrOut = 0x5f;
bool is_prout(const ScsiRequest& r, wire::PrOutAction sa) {
    return r.cdb.b[0] == kPrOut && (r.cdb.b[1] & 0x1f) == static_cast<uint8_t>(sa);
}

// One LU, node A through ports 1 and 2 (two nexuses), node B on port 2 for the fence cases, and an
// unregistered observer reading the whole PR state.
struct Scene {
    Farm f;
    Host b;
    Host obs;
    sim::test::Names names;
    explicit Scene(ExecOptions opt = {}) : f(1, 0, opt) {
        b = Host(f.lus[0].get(), {iscsi_node("node-b"), 2});
        obs = Host(f.lus[0].get(), {iscsi_node("observer"), 1});
        names.add(iscsi_node("node-a"), "A");
        names.add(iscsi_node("node-b"), "B");
        b.drain_uas();
    }
    FaultyPath& path(uint16_t port, Fate fate) {
        return path(port, [fate](const ScsiRequest& r) { return always(fate, r); });
    }
    FaultyPath& path(uint16_t port, std::function<Fate(const ScsiRequest&)> fate) {
        paths.push_back(
            std::make_unique<FaultyPath>(f, 0, port, "a" + std::to_string(port), std::move(fate)));
        return *paths.back();
    }
    // Node A's nexus through `port`, set up directly (its power-on unit attention consumed).
    Host node_a(uint16_t port) {
        Host h(f.lus[0].get(), {iscsi_node("node-a"), port});
        h.drain_uas();
        return h;
    }
    std::string state() {
        obs.drain_uas();
        return sim::test::pr_summary(obs, names, 2);
    }
    std::pair<BatchSummary, LunOutcome> run(std::vector<Path*> p, const OpSpec& spec) {
        auto m = make_operation(spec);
        EXPECT_TRUE(m.ok()) << m.error().msg;
        auto [sum, jobs] = f.run({{"lu0", std::move(p)}}, *m);
        return {sum, jobs.at(0)->outcome()};
    }
    std::vector<std::unique_ptr<FaultyPath>> paths;
};

OpSpec op(Operation o, std::optional<uint64_t> key, std::optional<uint64_t> sa = std::nullopt,
          std::optional<PrType> type = std::nullopt) {
    OpSpec s;
    s.op = o;
    s.key = key;
    s.sa_key = sa;
    s.type = type;
    return s;
}

std::string states(const LunOutcome& o) {
    std::string s;
    for (const auto& p : o.paths)
        s += (s.empty() ? "" : ",") + p.name + "=" + path_state_name(p.state);
    return s;
}

TEST(PathFaults, RegisterSkipsADeadPathAndIsDegraded) {
    for (Fate dead : {Fate::no_connect, Fate::enxio}) {
        Scene s;
        auto [sum, o] =
            s.run({&s.path(1, dead), &s.path(2, Fate::pass)}, op(Operation::register_key, kA));
        EXPECT_TRUE(o.ok) << o.error;
        EXPECT_TRUE(o.degraded);
        EXPECT_EQ(states(o), "a1=dead,a2=registered");
        EXPECT_EQ(o.paths[0].error, dead == Fate::no_connect
                                        ? "host byte DID_NO_CONNECT (no connection)"
                                        : "transport error: No such device or address");
        EXPECT_NE(o.error.find("registered on 1 of 2 paths; dead: a1 ("), std::string::npos)
            << o.error;
        EXPECT_EQ(sum.ok, 1u);
        EXPECT_EQ(sum.degraded, 1u);
        EXPECT_EQ(sum.worst, wire::Category::clean);
        EXPECT_EQ(s.state(), "gen=1 res=none regs=A:2=a");
    }
}

// The second path dies after the first REGISTER went through: the batch finishes on the first.
TEST(PathFaults, APathDyingInTheMiddleOfTheBatch) {
    Scene s;
    bool down = false, fired = false;
    auto& p2dies =
        s.path(2, [&](const ScsiRequest&) { return down ? Fate::no_connect : Fate::pass; });
    auto& p1watch = s.path(1, [&](const ScsiRequest&) {
        if (!fired) down = fired = true;  // the first REGISTER takes path 2 down with it
        return Fate::pass;
    });
    OpSpec reg = op(Operation::register_key, kA);
    reg.ignore_existing = true;
    auto [sum, o] = s.run({&p1watch, &p2dies}, reg);
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.degraded);
    EXPECT_EQ(states(o), "a1=registered,a2=dead");
    EXPECT_EQ(s.state(), "gen=1 res=none regs=A:1=a");
    // The path returns: a rerun registers it too, and the LU is whole again.
    down = false;
    auto [sum2, o2] = s.run({&p1watch, &p2dies}, reg);
    EXPECT_TRUE(o2.ok) << o2.error;
    EXPECT_FALSE(o2.degraded);
    EXPECT_EQ(states(o2), "a1=registered,a2=registered");
    EXPECT_EQ(sum2.degraded, 0u);
    EXPECT_EQ(s.state(), "gen=3 res=none regs=A:1=a,A:2=a");
}

TEST(PathFaults, EveryPathDeadIsAClearFailure) {
    Scene s;
    auto [sum, o] = s.run({&s.path(1, Fate::no_connect), &s.path(2, Fate::enxio)},
                          op(Operation::register_key, kA));
    EXPECT_FALSE(o.ok);
    EXPECT_FALSE(o.degraded);
    EXPECT_EQ(o.category, wire::Category::transport_error);
    EXPECT_EQ(o.error,
              "every path is dead: a1 (host byte DID_NO_CONNECT (no connection)); a2 (transport "
              "error: No such device or address)");
    EXPECT_EQ(states(o), "a1=dead,a2=dead");
    EXPECT_EQ(sum.failed, 1u);
    EXPECT_EQ(wire::exit_code(sum.worst), 35);
    EXPECT_EQ(s.state(), "gen=0 res=none regs=");
    // A single-path command too: READ KEYS fails over, then has nowhere to go.
    auto [sum2, o2] = s.run({&s.path(1, Fate::no_connect), &s.path(2, Fate::no_connect)},
                            op(Operation::read_keys, std::nullopt));
    EXPECT_FALSE(o2.ok);
    EXPECT_EQ(o2.step, "READ KEYS");
    EXPECT_EQ(o2.error.rfind("every path is dead: a1 (", 0), 0u) << o2.error;
}

// A path that never answers costs one command deadline, not the batch deadline, and the other path
// is registered.
TEST(PathFaults, ASilentPathCostsOneCommandDeadline) {
    ExecOptions eo;
    eo.command_deadline = std::chrono::milliseconds(200);
    eo.batch_deadline = std::chrono::milliseconds(20000);
    Scene s(eo);
    auto [sum, o] =
        s.run({&s.path(1, Fate::lost), &s.path(2, Fate::pass)}, op(Operation::register_key, kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.degraded);
    EXPECT_EQ(o.paths[0].error, "timed out");
    EXPECT_FALSE(sum.deadline_hit);
    EXPECT_LT(sum.wall_ns, 5'000'000'000ull);
    EXPECT_EQ(s.state(), "gen=1 res=none regs=A:2=a");
}

// RESERVE goes down one path: the first is dead, the second answers and holds the reservation.
TEST(PathFaults, ASinglePathCommandFailsOverAndSaysWhichPathAnswered) {
    Scene s;
    ASSERT_TRUE(is_good(s.node_a(1).reg(0, kA)));
    ASSERT_TRUE(is_good(s.node_a(2).reg(0, kA)));
    auto& dead = s.path(1, Fate::no_connect);
    auto [sum, o] = s.run({&dead, &s.path(2, Fate::pass)},
                          op(Operation::reserve, kA, std::nullopt, PrType::write_exclusive));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.degraded);
    EXPECT_EQ(states(o), "a1=dead,a2=answered");
    EXPECT_EQ(o.error, "dead: a1 (host byte DID_NO_CONNECT (no connection)); answered by a2");
    EXPECT_EQ(dead.submitted, 1u);
    EXPECT_EQ(s.state(), "gen=2 res=WE holder=A:2 regs=A:1=a,A:2=a");
}

// Fence with our first path dead: READ KEYS, PREEMPT AND ABORT and READ RESERVATION go down the
// second; the victim is gone.
TEST(PathFaults, FenceFailsOverToTheLivePath) {
    Scene s;
    ASSERT_TRUE(is_good(s.b.reg(0, kB)));
    ASSERT_TRUE(is_good(s.node_a(2).reg(0, kA)));
    auto [sum, o] = s.run({&s.path(1, Fate::enxio), &s.path(2, Fate::pass)},
                          op(Operation::fence, kA, kB, PrType::write_exclusive_registrants_only));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.degraded);
    EXPECT_EQ(states(o), "a1=dead,a2=answered");
    EXPECT_EQ(
        o.error.rfind("no reservation is held (the victim's registration is gone); dead: a1 (", 0),
        0u)
        << o.error;
    EXPECT_EQ(s.state(), "gen=3 res=none regs=A:2=a");
}

// PREEMPT executed on the first path but its answer was lost: sent again down the second, it meets
// a reservation conflict (the victim is already gone), and the error says the first may have
// taken effect.
TEST(PathFaults, APreemptThatMayHaveTakenEffectIsSaidSo) {
    Scene s;
    ASSERT_TRUE(is_good(s.b.reg(0, kB)));
    ASSERT_TRUE(is_good(s.node_a(1).reg(0, kA)));
    ASSERT_TRUE(is_good(s.node_a(2).reg(0, kA)));
    auto& p1 = s.path(1, [](const ScsiRequest& r) {
        return is_prout(r, wire::PrOutAction::preempt) ? Fate::lost_answer : Fate::pass;
    });
    OpSpec pre = op(Operation::preempt, kA, kB, PrType::exclusive_access);
    auto [sum, o] = s.run({&p1, &s.path(2, Fate::pass)}, pre);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_NE(o.error.find("the same command failed first on a1 (host byte "
                           "DID_TRANSPORT_DISRUPTED"),
              std::string::npos)
        << o.error;
    EXPECT_NE(o.error.find("may have taken effect there"), std::string::npos) << o.error;
    // It did: B is gone (B held no reservation, so none was made).
    EXPECT_EQ(s.state(), "gen=4 res=none regs=A:1=a,A:2=a");
}

// unfence and fence --claim register on every path and then reserve down a live one.
TEST(PathFaults, UnfenceAndClaimRegisterOnTheLivePaths) {
    {
        Scene s;
        OpSpec u = op(Operation::unfence, kA);
        auto [sum, o] = s.run({&s.path(1, Fate::no_connect), &s.path(2, Fate::pass)}, u);
        EXPECT_TRUE(o.ok) << o.error;
        EXPECT_TRUE(o.degraded);
        EXPECT_EQ(states(o), "a1=dead,a2=registered");
        EXPECT_EQ(s.state(), "gen=1 res=WE-RO holder=A:2 regs=A:2=a");
    }
    {
        Scene s;
        ASSERT_TRUE(is_good(s.b.reg(0, kB)));
        OpSpec c = op(Operation::fence, kA, kB, PrType::exclusive_access);
        c.claim = true;
        auto [sum, o] = s.run({&s.path(1, Fate::pass), &s.path(2, Fate::enxio)}, c);
        EXPECT_TRUE(o.ok) << o.error;
        EXPECT_TRUE(o.degraded);
        EXPECT_EQ(states(o), "a1=registered,a2=dead");
        EXPECT_EQ(s.state(), "gen=3 res=EA holder=A:1 regs=A:1=a");
    }
}

// Unregistering with a dead path: the LU is degraded, and the dead nexus keeps its registration
// (the note says so), to be removed by a rerun once the path is back.
TEST(PathFaults, UnregisterWithADeadPathSaysTheRegistrationRemains) {
    Scene s;
    ASSERT_TRUE(is_good(s.node_a(1).reg(0, kA)));
    ASSERT_TRUE(is_good(s.node_a(2).reg(0, kA)));
    auto [sum, o] = s.run({&s.path(1, Fate::pass), &s.path(2, Fate::no_connect)},
                          op(Operation::unregister, kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.degraded);
    EXPECT_EQ(states(o), "a1=answered,a2=dead");
    EXPECT_NE(o.error.find("a dead path keeps its registration"), std::string::npos) << o.error;
    EXPECT_EQ(s.state(), "gen=3 res=none regs=A:2=a");
}

// A path that comes back is a nexus with a pending unit attention (29h/07h I_T NEXUS LOSS
// OCCURRED): the rerun's REGISTER meets it, is sent again at once (the retry policy), and
// registers.
TEST(PathFaults, AReturningPathsUnitAttentionIsRetriedAndItRegisters) {
    Scene s;
    auto& p1 = s.path(1, Fate::pass);
    auto& p2 = s.path(2, Fate::pass);
    s.node_a(1);
    const Host a2 = s.node_a(2);
    s.f.lus[0]->queue_unit_attention(a2.id(), 0x29, 0x07);
    OpSpec reg = op(Operation::register_key, kA);
    reg.ignore_existing = true;
    auto [sum, o] = s.run({&p1, &p2}, reg);
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_FALSE(o.degraded);
    EXPECT_EQ(o.retries, 1u);
    EXPECT_EQ(states(o), "a1=registered,a2=registered");
    EXPECT_EQ(s.state(), "gen=2 res=none regs=A:1=a,A:2=a");
}

// One path only: no failover, the error as before (no path list in the message).
TEST(PathFaults, AOnePathLuReportsItsFailureAsBefore) {
    Scene s;
    auto [sum, o] = s.run({&s.path(1, Fate::no_connect)}, op(Operation::read_keys, std::nullopt));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error, "host byte DID_NO_CONNECT (no connection)");
    EXPECT_EQ(o.category, wire::Category::transport_error);
}

}  // namespace
}  // namespace prfence::engine
