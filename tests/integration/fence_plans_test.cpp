// SPDX-License-Identifier: MIT
// What a fence agent runs, step by step on in-process prsim LUs (scenarios in the manner of SPDK's
// scsi_pr tests): unfence (register on every path, reserve an unreserved LU), verify (is the fence
// in place?) and fence --claim (register first, reserve when nobody holds the LU). After each step:
// the outcome (ok, category, step, message, the reservation it reports) and the LU's whole PR state
// read by an unregistered observer nexus (PRgeneration, holder and type, every registration). Races
// are made deterministic by a path that runs another node's commands just before one of ours.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/support/inproc_farm.h"
#include "tests/support/lu_test_util.h"
#include "uring_engine/policy/operations.h"
#include "uring_engine/policy/plans.h"

namespace prfence::engine {
namespace {

using sim::test::Host;
using sim::test::is_good;
using test::Farm;
using test::iscsi_node;
using wire::PrType;

constexpr uint64_t kA = 0xa, kB = 0xb;

// A path that runs `before` (another node's commands, say) just before each command it forwards.
class HookedPath final : public Path {
  public:
    HookedPath(Path& inner, std::function<void(const ScsiRequest&)> before)
        : inner_(inner), before_(std::move(before)) {}
    const std::string& name() const override { return inner_.name(); }
    unsigned queue_depth() const override { return inner_.queue_depth(); }
    unsigned in_flight() const override { return inner_.in_flight(); }
    Status submit(uint64_t tag, const ScsiRequest& req) override {
        before_(req);
        return inner_.submit(tag, req);
    }

  private:
    Path& inner_;
    std::function<void(const ScsiRequest&)> before_;
};

constexpr uint8_t kPrIn = 0x5e, kPrOut = 0x5f;
bool is_prout(const ScsiRequest& r, wire::PrOutAction sa) {
    return r.cdb.b[0] == kPrOut && (r.cdb.b[1] & 0x1f) == static_cast<uint8_t>(sa);
}
bool is_prin(const ScsiRequest& r, wire::PrInAction sa) {
    return r.cdb.b[0] == kPrIn && (r.cdb.b[1] & 0x1f) == static_cast<uint8_t>(sa);
}

// One LU; node A (target port 1) and node B (target port 2) reach it through the engine, and also
// directly (Host: the same I_T nexus, for setting up state); an unregistered observer on port 1
// reads the state.
struct Scene {
    Farm f{1};
    Host a{f.lus[0].get(), {iscsi_node("node-a"), 1}};
    Host b{f.lus[0].get(), {iscsi_node("node-b"), 2}};
    Host obs{f.lus[0].get(), {iscsi_node("observer"), 1}};
    sim::test::Names names;
    Scene() {
        names.add(iscsi_node("node-a"), "A");
        names.add(iscsi_node("node-b"), "B");
        a.drain_uas();
        b.drain_uas();
    }
    // "gen=N res=TYPE holder=WHO:PORT regs=WHO:PORT=KEY,..."
    std::string state() {
        obs.drain_uas();
        return sim::test::pr_summary(obs, names, 2);
    }
    LunOutcome run(const std::vector<LunTarget>& who, const JobMaker& make) {
        auto [sum, jobs] = f.run(who, make);
        EXPECT_EQ(sum.luns, 1u);
        return jobs.at(0)->outcome();
    }
    LunOutcome run(const std::vector<LunTarget>& who, const OpSpec& spec) {
        auto m = make_operation(spec);
        EXPECT_TRUE(m.ok()) << m.error().msg;
        return m.ok() ? run(who, *m) : LunOutcome{};
    }
};

OpSpec unfence(uint64_t key, std::optional<PrType> type = std::nullopt) {
    OpSpec s;
    s.op = Operation::unfence;
    s.key = key;
    s.type = type;
    return s;
}
OpSpec verify(std::optional<uint64_t> key, std::optional<uint64_t> victim) {
    OpSpec s;
    s.op = Operation::verify;
    s.key = key;
    s.sa_key = victim;
    return s;
}
OpSpec fence(uint64_t key, uint64_t victim, bool claim, PrType type = PrType::exclusive_access) {
    OpSpec s;
    s.op = Operation::fence;
    s.key = key;
    s.sa_key = victim;
    s.type = type;
    s.claim = claim;
    return s;
}

// The reservation an outcome reports: "none" or "KEY/TYPE".
std::string reported(const LunOutcome& o) {
    if (!o.reservation) return "absent";
    if (!o.reservation->reserved) return "none";
    return hex_u64(o.reservation->key) + "/" + wire::type_abbrev(o.reservation->type);
}
std::string refusal(const OpSpec& s) {
    auto m = make_operation(s);
    return m.ok() ? std::string("accepted") : m.error().msg;
}

// ---- unfence

TEST(Unfence, EmptyLuRegistersAndReservesWeRoThenChangesNothing) {
    Scene s;
    EXPECT_EQ(s.state(), "gen=0 res=none regs=");
    // REGISTER AND IGNORE EXISTING KEY (generation 1), READ RESERVATION (none), RESERVE with the
    // default type, Write Exclusive - Registrants Only (RESERVE leaves the generation alone).
    LunOutcome o = s.run(s.f.a, unfence(kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.category, wire::Category::clean);
    EXPECT_EQ(o.error, "nobody held the LU: reserved it");
    EXPECT_EQ(reported(o), "0xa/WE-RO");
    EXPECT_EQ(s.state(), "gen=1 res=WE-RO holder=A:1 regs=A:1=a");

    // Again: nothing changes but the generation. SPC-4 increments PRgeneration for every successful
    // REGISTER AND IGNORE EXISTING KEY, the same key re-registered included; the reservation and
    // its holder stay, and no RESERVE is sent.
    o = s.run(s.f.a, unfence(kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "");
    EXPECT_EQ(reported(o), "0xa/WE-RO");
    EXPECT_EQ(s.state(), "gen=2 res=WE-RO holder=A:1 regs=A:1=a");

    // Another type asked for later does not touch a reservation already held.
    o = s.run(s.f.a, unfence(kA, PrType::exclusive_access));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(s.state(), "gen=3 res=WE-RO holder=A:1 regs=A:1=a");
}

TEST(Unfence, TypeIsTheOneAsked) {
    Scene s;
    LunOutcome o = s.run(s.f.a, unfence(kA, PrType::exclusive_access_all_registrants));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(reported(o), "0x0/EA-AR")
        << "an all-registrants reservation has no single holder key";
    EXPECT_EQ(s.state(), "gen=1 res=EA-AR holder=all regs=A:1=a");
}

TEST(Unfence, LuAnotherNodeHoldsRegistersAndKeepsTheirs) {
    Scene s;
    ASSERT_TRUE(is_good(s.b.reg(0, kB)));
    ASSERT_TRUE(is_good(s.b.reserve(PrType::exclusive_access, kB)));
    EXPECT_EQ(s.state(), "gen=1 res=EA holder=B:2 regs=B:2=b");
    LunOutcome o = s.run(s.f.a, unfence(kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "");
    EXPECT_EQ(reported(o), "0xb/EA");
    EXPECT_EQ(s.state(), "gen=2 res=EA holder=B:2 regs=B:2=b,A:1=a");
}

TEST(Unfence, TwoPathsBothRegisteredReservationOnce) {
    Scene s;
    std::vector<LunTarget> a2{{"lu0", {s.f.a_paths[0].get(), s.f.path(0, "node-a", 2, "lu0/a2")}}};
    LunOutcome o = s.run(a2, unfence(kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "nobody held the LU: reserved it");
    // Two REGISTERs (generation 2), one RESERVE down the first path.
    EXPECT_EQ(s.state(), "gen=2 res=WE-RO holder=A:1 regs=A:1=a,A:2=a");
    o = s.run(a2, unfence(kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(s.state(), "gen=4 res=WE-RO holder=A:1 regs=A:1=a,A:2=a");
}

TEST(Unfence, ReserveRaceAnotherNodeReservesMeanwhile) {
    Scene s;
    ASSERT_TRUE(is_good(s.b.reg(0, kB)));
    int reserves = 0;
    // Between our READ RESERVATION (nobody) and our RESERVE, node B reserves.
    HookedPath hooked(*s.f.a_paths[0], [&](const ScsiRequest& r) {
        if (is_prout(r, wire::PrOutAction::reserve) && reserves++ == 0) {
            EXPECT_TRUE(is_good(s.b.reserve(PrType::exclusive_access, kB)));
        }
    });
    LunOutcome o = s.run({{"lu0", {&hooked}}}, unfence(kA));
    EXPECT_EQ(reserves, 1);
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "another node reserved it meanwhile");
    EXPECT_EQ(reported(o), "0xb/EA");
    EXPECT_EQ(s.state(), "gen=2 res=EA holder=B:2 regs=B:2=b,A:1=a");
}

TEST(Unfence, ReserveRefusedYetNobodyHoldsIsAConflict) {
    Scene s;
    ASSERT_TRUE(is_good(s.b.reg(0, kB)));
    bool reserved = false;
    // B reserves just before our RESERVE and releases just before our second READ RESERVATION.
    HookedPath hooked(*s.f.a_paths[0], [&](const ScsiRequest& r) {
        if (is_prout(r, wire::PrOutAction::reserve) && !reserved) {
            reserved = true;
            EXPECT_TRUE(is_good(s.b.reserve(PrType::exclusive_access, kB)));
        } else if (reserved && is_prin(r, wire::PrInAction::read_reservation)) {
            EXPECT_TRUE(is_good(s.b.release(PrType::exclusive_access, kB)));
        }
    });
    LunOutcome o = s.run({{"lu0", {&hooked}}}, unfence(kA));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.step, "RESERVE");
    EXPECT_EQ(o.error, "RESERVE was refused yet nobody holds the reservation");
    EXPECT_EQ(s.state(), "gen=2 res=none regs=B:2=b,A:1=a");
}

TEST(Unfence, MakeOperationRefusals) {
    EXPECT_NE(refusal(unfence(0)).find("--key 0 cannot be registered"), std::string::npos);
    OpSpec no_key = unfence(1);
    no_key.key.reset();
    EXPECT_NE(refusal(no_key).find("--key is required"), std::string::npos);
    EXPECT_EQ(refusal(unfence(1, PrType::write_exclusive)), "accepted");
}

// ---- verify

// B fenced A: A's key gone, B holds Exclusive Access.
struct Fenced : Scene {
    Fenced() {
        EXPECT_TRUE(is_good(a.reg(0, kA)));
        EXPECT_TRUE(is_good(b.reg(0, kB)));
        EXPECT_TRUE(is_good(a.reserve(PrType::write_exclusive_registrants_only, kA)));
    }
};

TEST(Verify, PassesOnlyWhenTheFenceIsInPlace) {
    Fenced s;
    const std::string before = "gen=2 res=WE-RO holder=A:1 regs=A:1=a,B:2=b";
    EXPECT_EQ(s.state(), before);

    // Victim still registered.
    LunOutcome o = s.run(s.f.b, verify(kB, kA));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.step, "READ KEYS");
    EXPECT_EQ(o.error, "not fenced: 0xa is still registered");
    EXPECT_EQ(s.state(), before) << "verify changes nothing";
    o = s.run(s.f.b, verify(std::nullopt, kA));
    EXPECT_EQ(o.error, "not fenced: 0xa is still registered");
    // Our key alone: registered, and a reservation is held: passes (it says nothing of a victim).
    o = s.run(s.f.b, verify(kB, std::nullopt));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "fenced");

    // B fences A: every form passes.
    o = s.run(s.f.b, fence(kB, kA, false));
    ASSERT_TRUE(o.ok) << o.error;
    const std::string after = "gen=3 res=EA holder=B:2 regs=B:2=b";
    EXPECT_EQ(s.state(), after);
    for (const OpSpec& v : {verify(kB, kA), verify(std::nullopt, kA), verify(kB, std::nullopt)}) {
        o = s.run(s.f.b, v);
        EXPECT_TRUE(o.ok) << o.error;
        EXPECT_EQ(o.category, wire::Category::clean);
        EXPECT_EQ(o.error, "fenced");
        EXPECT_EQ(reported(o), "0xb/EA");
        ASSERT_TRUE(o.keys);
        EXPECT_EQ(o.keys->keys, std::vector<uint64_t>{kB});
        EXPECT_EQ(o.keys->generation, 3u);
    }
    // Verify is a read: A, fenced and unregistered, may run it too and gets the same answer.
    o = s.run(s.f.a, verify(std::nullopt, kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(s.state(), after);

    // Our key missing.
    o = s.run(s.f.b, verify(0xc, kA));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.step, "READ KEYS");
    EXPECT_EQ(o.error, "our key 0xc is not registered");

    // No reservation: an unregistered node could still write.
    ASSERT_TRUE(is_good(s.b.release(PrType::exclusive_access, kB)));
    o = s.run(s.f.b, verify(kB, kA));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.step, "READ RESERVATION");
    EXPECT_EQ(o.error, "no reservation is held: an unregistered node may still write");
    EXPECT_EQ(reported(o), "none");
    EXPECT_EQ(s.state(), "gen=3 res=none regs=B:2=b");
}

TEST(Verify, AllRegistrantsReservationWithTheVictimGonePasses) {
    Scene s;
    ASSERT_TRUE(is_good(s.b.reg(0, kB)));
    ASSERT_TRUE(is_good(s.b.reserve(PrType::write_exclusive_all_registrants, kB)));
    LunOutcome o = s.run(s.f.b, verify(kB, kA));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(reported(o), "0x0/WE-AR");
}

TEST(Verify, VictimHoldsTheReservation) {
    // The victim is not registered when READ KEYS runs, and is back holding the LU (it registered
    // and reserved) by READ RESERVATION.
    Scene s;
    ASSERT_TRUE(is_good(s.b.reg(0, kB)));
    HookedPath hooked(*s.f.b_paths[0], [&](const ScsiRequest& r) {
        if (is_prin(r, wire::PrInAction::read_reservation)) {
            EXPECT_TRUE(is_good(s.a.reg(0, kA)));
            EXPECT_TRUE(is_good(s.a.reserve(PrType::write_exclusive, kA)));
        }
    });
    LunOutcome o = s.run({{"lu0", {&hooked}}}, verify(kB, kA));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.step, "READ RESERVATION");
    EXPECT_EQ(o.error, "not fenced: 0xa holds the reservation");
    EXPECT_EQ(reported(o), "0xa/WE");
}

TEST(Verify, MakeOperationRefusals) {
    EXPECT_NE(refusal(verify(std::nullopt, std::nullopt)).find("verify needs --victim"),
              std::string::npos);
    EXPECT_NE(refusal(verify(5, 5)).find("--key and --victim are the same key"), std::string::npos);
    EXPECT_EQ(refusal(verify(5, std::nullopt)), "accepted");
    EXPECT_EQ(refusal(verify(std::nullopt, 5)), "accepted");
}

// READ RESERVATION reports key 0 for an all-registrants reservation: a --victim 0 must not make a
// correct fence look like "0x0 holds the reservation". make_operation refuses it, and the job
// itself does not take key 0 for a holder.
TEST(Verify, VictimZeroUnderAllRegistrantsIsNotAHolder) {
    Scene s;
    ASSERT_TRUE(is_good(s.b.reg(0, kB)));
    ASSERT_TRUE(is_good(s.b.reserve(PrType::write_exclusive_all_registrants, kB)));
    EXPECT_NE(refusal(verify(kB, 0)).find("--victim 0 is not a key"), std::string::npos)
        << refusal(verify(kB, 0));
    EXPECT_NE(refusal(verify(std::nullopt, 0)).find("--victim 0 is not a key"), std::string::npos);
    LunOutcome o = s.run(s.f.b, [] { return make_verify_job(kB, 0, PlanOptions{}); });
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "fenced");
    EXPECT_EQ(reported(o), "0x0/WE-AR");
}

// ---- fence --claim

TEST(FenceClaim, OurKeyNotRegisteredRegistersThenPreempts) {
    Scene s;
    ASSERT_TRUE(is_good(s.a.reg(0, kA)));
    ASSERT_TRUE(is_good(s.a.reserve(PrType::write_exclusive_registrants_only, kA)));
    EXPECT_EQ(s.state(), "gen=1 res=WE-RO holder=A:1 regs=A:1=a");
    // Without --claim: refused, nothing changes.
    LunOutcome o = s.run(s.f.b, fence(kB, kA, false));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.error, "our key 0xb is not registered here: register it first");
    EXPECT_EQ(s.state(), "gen=1 res=WE-RO holder=A:1 regs=A:1=a");
    // With it: REGISTER AND IGNORE (generation 2), READ KEYS, PREEMPT AND ABORT (3): the victim's
    // reservation moves to us with our type.
    o = s.run(s.f.b, fence(kB, kA, true, PrType::write_exclusive_registrants_only));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "");
    ASSERT_TRUE(o.keys);
    EXPECT_EQ(o.keys->keys, (std::vector<uint64_t>{kA, kB})) << "read after our REGISTER";
    EXPECT_EQ(reported(o), "0xb/WE-RO");
    EXPECT_EQ(s.state(), "gen=3 res=WE-RO holder=B:2 regs=B:2=b");
    // Again: the victim is gone, we hold the LU; only our REGISTER changes the generation.
    o = s.run(s.f.b, fence(kB, kA, true));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "victim 0xa was not registered (already fenced)");
    EXPECT_EQ(s.state(), "gen=4 res=WE-RO holder=B:2 regs=B:2=b");
}

TEST(FenceClaim, VictimHoldsTheReservationItMovesToUs) {
    Fenced s;  // A holds WE-RO, both registered
    LunOutcome o = s.run(s.f.b, fence(kB, kA, true, PrType::exclusive_access));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(reported(o), "0xb/EA");
    EXPECT_EQ(s.state(), "gen=4 res=EA holder=B:2 regs=B:2=b");
}

TEST(FenceClaim, VictimRegisteredNobodyHoldsWeReserve) {
    Scene s;
    ASSERT_TRUE(is_good(s.a.reg(0, kA)));
    // Without --claim the LU would be left unreserved: any unregistered node may write.
    LunOutcome o = s.run(s.f.b, fence(kB, kA, true, PrType::write_exclusive_registrants_only));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "nobody held the LU: reserved it");
    EXPECT_EQ(reported(o), "0xb/WE-RO");
    EXPECT_EQ(s.state(), "gen=3 res=WE-RO holder=B:2 regs=B:2=b");
}

TEST(FenceClaim, VictimGoneAndUnreservedWeReserveAndSaySo) {
    Scene s;
    LunOutcome o = s.run(s.f.b, fence(kB, kA, true, PrType::write_exclusive_registrants_only));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error,
              "victim 0xa was not registered (already fenced); nobody held the LU: reserved it");
    EXPECT_EQ(reported(o), "0xb/WE-RO");
    EXPECT_EQ(s.state(), "gen=1 res=WE-RO holder=B:2 regs=B:2=b");
    // Plain fence on the same LU, for contrast: nothing to reserve, the note says so.
    Scene t;
    ASSERT_TRUE(is_good(t.b.reg(0, kB)));
    o = t.run(t.f.b, fence(kB, kA, false));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.error, "victim 0xa was not registered (already fenced)");
    EXPECT_EQ(t.state(), "gen=1 res=none regs=B:2=b");
}

TEST(FenceClaim, MultipathRegistersOnEveryPath) {
    Fenced s;
    std::vector<LunTarget> b2{{"lu0", {s.f.b_paths[0].get(), s.f.path(0, "node-b", 1, "lu0/b1")}}};
    LunOutcome o = s.run(b2, fence(kB, kA, true));
    EXPECT_TRUE(o.ok) << o.error;
    // Two REGISTERs (generations 3, 4) and the preempt (5); the reservation comes with the preempt
    // down the first path.
    EXPECT_EQ(s.state(), "gen=5 res=EA holder=B:2 regs=B:2=b,B:1=b");
}

TEST(FenceClaim, RegisterFailureOnOnePathNamesThePath) {
    Fenced s;
    // Port 3 does not exist on the LU: every command there is LOGICAL UNIT NOT SUPPORTED.
    std::vector<LunTarget> b2{{"lu0", {s.f.b_paths[0].get(), s.f.path(0, "node-b", 3, "lu0/b3")}}};
    LunOutcome o = s.run(b2, fence(kB, kA, true));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::illegal_request);
    EXPECT_EQ(o.step, "REGISTER AND IGNORE EXISTING KEY");
    EXPECT_NE(o.error.find("(path lu0/b3)"), std::string::npos) << o.error;
    ASSERT_TRUE(o.sense);
    EXPECT_EQ(o.sense->asc, 0x25);
    // The first path's REGISTER went through; nothing was preempted.
    EXPECT_EQ(s.state(), "gen=3 res=WE-RO holder=A:1 regs=A:1=a,B:2=b");
    // One path only: no path named (the device is the row).
    Scene t;
    std::vector<LunTarget> one{{"lu0", {t.f.path(0, "node-b", 3, "lu0/b3")}}};
    o = t.run(one, fence(kB, kA, true));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error.find("(path"), std::string::npos) << o.error;
}

// Another node reserving between our READ RESERVATION and our RESERVE: the victim's registration
// is gone and a node that is not the victim holds the LU, so the fence is in place (as unfence
// accepts the same race). The RESERVATION CONFLICT is checked with a second READ RESERVATION.
struct ClaimRace : Scene {
    Host c{f.lus[0].get(), {iscsi_node("node-c"), 1}};
    ClaimRace() {
        names.add(iscsi_node("node-c"), "C");
        c.drain_uas();
        EXPECT_TRUE(is_good(a.reg(0, kA)));
        EXPECT_TRUE(is_good(c.reg(0, 0xc)));
    }
    // B's fence --claim of A, with `before_reserve` run just before B's RESERVE and
    // `before_reread` just before the READ RESERVATION that follows it.
    LunOutcome fence_with(
        std::function<void()> before_reserve, std::function<void()> before_reread = [] {}) {
        bool reserve_sent = false;
        HookedPath hooked(*f.b_paths[0], [&](const ScsiRequest& r) {
            if (is_prout(r, wire::PrOutAction::reserve) && !reserve_sent) {
                reserve_sent = true;
                before_reserve();
            } else if (reserve_sent && is_prin(r, wire::PrInAction::read_reservation)) {
                before_reread();
            }
        });
        LunOutcome o = run({{"lu0", {&hooked}}}, fence(kB, kA, true));
        EXPECT_TRUE(reserve_sent);
        return o;
    }
};

TEST(FenceClaim, ReserveRaceIsAcceptedAsUnfenceDoes) {
    ClaimRace s;
    EXPECT_EQ(s.state(), "gen=2 res=none regs=A:1=a,C:1=c");
    LunOutcome o =
        s.fence_with([&] { EXPECT_TRUE(is_good(s.c.reserve(PrType::exclusive_access, 0xc))); });
    EXPECT_TRUE(o.ok) << o.step << ": " << o.error;
    EXPECT_EQ(o.error, "another node reserved it meanwhile");
    EXPECT_EQ(reported(o), "0xc/EA");
    EXPECT_EQ(s.state(), "gen=4 res=EA holder=C:1 regs=C:1=c,B:2=b");
}

TEST(FenceClaim, ReserveRefusedAndStillUnreservedIsAConflict) {
    ClaimRace s;
    LunOutcome o =
        s.fence_with([&] { EXPECT_TRUE(is_good(s.c.reserve(PrType::exclusive_access, 0xc))); },
                     [&] { EXPECT_TRUE(is_good(s.c.release(PrType::exclusive_access, 0xc))); });
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.step, "RESERVE");
    EXPECT_EQ(o.error, "RESERVE was refused and the LU is still not reserved");
    EXPECT_EQ(s.state(), "gen=4 res=none regs=C:1=c,B:2=b");
}

TEST(FenceClaim, ReserveRefusedBecauseTheVictimIsBackIsAConflict) {
    // The victim registers again and reserves between our READ RESERVATION and our RESERVE.
    ClaimRace s;
    LunOutcome o = s.fence_with([&] {
        s.a.drain_uas();  // RESERVATIONS PREEMPTED
        EXPECT_TRUE(is_good(s.a.reg(0, kA)));
        EXPECT_TRUE(is_good(s.a.reserve(PrType::write_exclusive, kA)));
    });
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.step, "RESERVE");
    EXPECT_EQ(o.error, "RESERVE was refused and the LU is held by the victim");
    EXPECT_EQ(reported(o), "0xa/WE");
}

TEST(FenceClaim, MakeOperationRefusals) {
    EXPECT_NE(refusal(fence(0, 5, true)).find("--key 0 cannot be registered"), std::string::npos);
    EXPECT_NE(refusal(fence(5, 5, true)).find("fence ourselves"), std::string::npos);
    OpSpec no_victim = fence(5, 6, true);
    no_victim.sa_key.reset();
    EXPECT_NE(refusal(no_victim).find("--victim is required"), std::string::npos);
    EXPECT_EQ(refusal(fence(5, 6, true)), "accepted");
}

}  // namespace
}  // namespace prfence::engine
