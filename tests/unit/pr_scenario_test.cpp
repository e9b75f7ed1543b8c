// SPDX-License-Identifier: MIT
// Persistent-reservation scenarios against one prsim logical unit, step by step in the style of
// SPDK's scsi_pr unit tests: after every command the status / sense and the whole PR state
// (registrants, holder, type, PRgeneration read back through PR IN by an unregistered observer) are
// asserted.
//
// Hosts: A = iSCSI node-a (ISID 23d000001) on target port 1, B = SAS 5000c50005b32001 on port 1,
// C = iSCSI node-c on port 2, O = SAS observer on port 2 (never registers). Test names
// Case01..Case13 are thirteen SPC-4 corner cases that implementations get wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "interposer/lu/pr_state.h"
#include "tests/support/lu_test_util.h"

namespace prfence::sim::test {
namespace {

const wire::TransportId kA = iscsi("iqn.2001-05.com.example:node-a", "23d000001");
const wire::TransportId kB = sas(0x5000c50005b32001);
const wire::TransportId kC = iscsi("iqn.2001-05.com.example:node-c", "23d000003");
const wire::TransportId kO = sas(0x5000c500deadbeef);

constexpr uint64_t kKeyA = 0xabc123;
constexpr uint64_t kKeyB = 0x123abc;
constexpr uint64_t kKeyC = 0xc0ffee;

class PrScenario : public ::testing::Test {
  protected:
    void SetUp() override { make(Profile::spc4); }

    void make(Profile profile, std::optional<std::filesystem::path> aptpl = std::nullopt) {
        LuConfig c;
        c.profile = profile;
        c.target_ports = 2;
        c.aptpl_file = aptpl;
        auto r = LogicalUnit::create(c);
        ASSERT_TRUE(r.ok()) << r.error().msg;
        lu = std::move(r).value();
        A = Host(lu.get(), {kA, 1});
        B = Host(lu.get(), {kB, 1});
        C = Host(lu.get(), {kC, 2});
        O = Host(lu.get(), {kO, 2});
        const char* expected = profile == Profile::lio ? "3F/0E" : "29/00";
        for (Host* h : {&A, &B, &C, &O})
            EXPECT_EQ(h->drain_uas(), std::vector<std::string>{expected});
        names = Names{};
        names.add(kA, "A");
        names.add(kB, "B");
        names.add(kC, "C");
        names.add(kO, "O");
    }

    std::string state() { return pr_summary(O, names, 2); }

    // Registers A, B and C with their keys.
    void register_abc() {
        ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
        ASSERT_TRUE(is_good(B.reg(0, kKeyB)));
        ASSERT_TRUE(is_good(C.reg(0, kKeyC)));
        ASSERT_EQ(state(), "gen=3 res=none regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    }

    std::unique_ptr<LogicalUnit> lu;
    Host A, B, C, O;
    Names names;
};

// The sg_persist seed session (register, read keys, reserve type 3, the other host refused,
// release, unregister): two keys, type 3, the other host fenced.
TEST_F(PrScenario, SeedSession) {
    EXPECT_TRUE(is_good(A.reg(0, kKeyA)));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123");
    EXPECT_TRUE(is_good(B.reg(0, kKeyB)));
    EXPECT_EQ(state(), "gen=2 res=none regs=A:1=abc123,B:1=123abc");

    auto keys = B.keys();
    EXPECT_EQ(keys.generation, 2u);
    EXPECT_EQ(keys.keys, (std::vector<uint64_t>{kKeyA, kKeyB}));

    EXPECT_TRUE(is_good(A.reserve(EA, kKeyA)));
    EXPECT_EQ(state(), "gen=2 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc");
    auto res = B.reservation();
    EXPECT_TRUE(res.reserved);
    EXPECT_EQ(res.key, kKeyA);
    EXPECT_EQ(res.type, 3);
    EXPECT_EQ(res.generation, 2u);

    EXPECT_TRUE(is_conflict(B.read10()));
    EXPECT_TRUE(is_conflict(B.write10()));
    EXPECT_TRUE(is_good(A.read10()));
    EXPECT_EQ(state(), "gen=2 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc");

    EXPECT_TRUE(is_good(A.release(EA, kKeyA)));
    EXPECT_EQ(state(), "gen=2 res=none regs=A:1=abc123,B:1=123abc");
    EXPECT_TRUE(is_good(B.read10()));

    EXPECT_TRUE(is_good(A.reg(kKeyA, 0)));
    EXPECT_EQ(state(), "gen=3 res=none regs=B:1=123abc");
    EXPECT_TRUE(is_good(B.reg(kKeyB, 0)));
    EXPECT_EQ(state(), "gen=4 res=none regs=");
    for (Host* h : {&A, &B, &C}) EXPECT_TRUE(h->drain_uas().empty());
}

// 1. REGISTER with a wrong key from a registered nexus conflicts; SA key 0 from an unregistered one
//    is a no-op that leaves PRgeneration alone.
TEST_F(PrScenario, Case01_RegisterWrongKeyConflictsAndZeroKeyFromUnregisteredIsNoop) {
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123");
    EXPECT_TRUE(is_conflict(A.reg(0x999, 0x1)));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123");
    EXPECT_TRUE(
        is_conflict(A.reg(0, 0x1)));  // registered: the key field must be the registered key
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123");
    EXPECT_TRUE(is_good(B.reg(0, 0)));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123");
    EXPECT_TRUE(is_good(B.reg_ignore(0)));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123");
    EXPECT_TRUE(is_conflict(B.reg(0x5, 0x6)));  // unregistered: the key field must be zero
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123");
    EXPECT_TRUE(
        is_good(A.reg_ignore(0x77)));  // REGISTER AND IGNORE EXISTING KEY ignores the key field
    EXPECT_EQ(state(), "gen=2 res=none regs=A:1=77");
}

// 2. PRgeneration: +1 per successful REGISTER / REGISTER AND IGNORE / REGISTER AND MOVE / CLEAR /
//    PREEMPT / PREEMPT AND ABORT, once per command; never for RESERVE or RELEASE or a failure.
TEST_F(PrScenario, Case02_GenerationCountsOncePerCommand) {
    register_abc();                             // gen 3
    EXPECT_TRUE(is_good(A.reg(kKeyA, kKeyA)));  // same key again: still a successful REGISTER
    EXPECT_EQ(state(), "gen=4 res=none regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    EXPECT_TRUE(is_good(B.reg_ignore(0xb2)));
    EXPECT_EQ(state(), "gen=5 res=none regs=A:1=abc123,B:1=b2,C:2=c0ffee");
    EXPECT_TRUE(is_good(A.reserve(WE, kKeyA)));
    EXPECT_EQ(state(), "gen=5 res=WE holder=A:1 regs=A:1=abc123,B:1=b2,C:2=c0ffee");
    EXPECT_TRUE(is_good(A.reserve(WE, kKeyA)));  // again, same type: GOOD, no change
    EXPECT_EQ(state(), "gen=5 res=WE holder=A:1 regs=A:1=abc123,B:1=b2,C:2=c0ffee");
    EXPECT_TRUE(is_good(A.release(WE, kKeyA)));
    EXPECT_EQ(state(), "gen=5 res=none regs=A:1=abc123,B:1=b2,C:2=c0ffee");
    EXPECT_TRUE(is_conflict(A.reserve(WE, 0xbad)));
    EXPECT_TRUE(is_conflict(B.preempt(EA, 0xbad, kKeyA)));
    EXPECT_EQ(state(), "gen=5 res=none regs=A:1=abc123,B:1=b2,C:2=c0ffee");
    // C and a second nexus share a key: PREEMPT removes both registrations, one generation step.
    Host C1(lu.get(), {kC, 1});
    C1.drain_uas();
    ASSERT_TRUE(is_good(C1.reg(0, kKeyC)));
    EXPECT_EQ(state(), "gen=6 res=none regs=A:1=abc123,B:1=b2,C:2=c0ffee,C:1=c0ffee");
    EXPECT_TRUE(is_good(A.preempt(WE, kKeyA, kKeyC)));
    EXPECT_EQ(state(), "gen=7 res=none regs=A:1=abc123,B:1=b2");
    EXPECT_TRUE(is_good(A.reserve(EA, kKeyA)));
    const wire::TransportId kD = sas(0x5000c500000000d0);  // never attached
    names.add(kD, "D");
    EXPECT_TRUE(is_good(A.move(kKeyA, 0xd0, kD, 2)));
    EXPECT_EQ(state(), "gen=8 res=EA holder=D:2 regs=A:1=abc123,B:1=b2,D:2=d0");
    EXPECT_TRUE(is_good(B.preempt_abort(EA, 0xb2, 0xd0)));
    EXPECT_EQ(state(), "gen=9 res=EA holder=B:1 regs=A:1=abc123,B:1=b2");
    EXPECT_TRUE(is_good(B.clear(0xb2)));
    EXPECT_EQ(state(), "gen=10 res=none regs=");
}

// 3. RELEASE from a registrant that does not hold the reservation: GOOD, nothing changes.
TEST_F(PrScenario, Case03_ReleaseFromNonHolderIsGoodAndChangesNothing) {
    register_abc();
    ASSERT_TRUE(is_good(A.reserve(WE_RO, kKeyA)));
    EXPECT_EQ(state(), "gen=3 res=WE-RO holder=A:1 regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    EXPECT_TRUE(is_good(B.release(WE_RO, kKeyB)));
    EXPECT_EQ(state(), "gen=3 res=WE-RO holder=A:1 regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    EXPECT_TRUE(is_good(B.release(EA, kKeyB)));  // even with another type
    EXPECT_EQ(state(), "gen=3 res=WE-RO holder=A:1 regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    EXPECT_TRUE(is_conflict(B.release(WE_RO, 0x1)));  // but the key is still checked
    EXPECT_TRUE(A.drain_uas().empty());
    EXPECT_TRUE(C.drain_uas().empty());
    // No reservation at all: GOOD too (after B has seen the RESERVATIONS RELEASED of A's release).
    ASSERT_TRUE(is_good(A.release(WE_RO, kKeyA)));
    EXPECT_EQ(B.drain_uas(), std::vector<std::string>{"2A/04"});
    EXPECT_TRUE(is_good(B.release(WE, kKeyB)));
    EXPECT_EQ(state(), "gen=3 res=none regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
}

// 4. RELEASE by the holder with a wrong TYPE (or SCOPE): ILLEGAL REQUEST, INVALID RELEASE OF
//    PERSISTENT RESERVATION; the reservation stays.
TEST_F(PrScenario, Case04_ReleaseWrongTypeByHolderIsInvalidRelease) {
    register_abc();
    ASSERT_TRUE(is_good(A.reserve(EA, kKeyA)));
    EXPECT_TRUE(is_check(A.release(WE, kKeyA), SenseKey::illegal_request, 0x26, 0x04));
    EXPECT_EQ(state(), "gen=3 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    auto data = wire::encode_prout_params({.key = kKeyA});
    auto cdb = wire::prout_cdb(PrOutAction::release, EA, 24);
    cdb.b[2] = 0x23;  // SCOPE 2h (element, obsolete), TYPE 3h
    EXPECT_TRUE(is_check(A.cmd(cdb, *data), SenseKey::illegal_request, 0x26, 0x04));
    EXPECT_EQ(state(), "gen=3 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    EXPECT_TRUE(is_good(A.release(EA, kKeyA)));
    EXPECT_EQ(state(), "gen=3 res=none regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
}

// 5. Any PR OUT but REGISTER / REGISTER AND IGNORE from an unregistered nexus: RESERVATION
//    CONFLICT, with or without a reservation.
TEST_F(PrScenario, Case05_ProutFromUnregisteredNexusConflicts) {
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    for (bool reserved : {false, true}) {
        SCOPED_TRACE(reserved ? "reservation held by A" : "no reservation");
        if (reserved) {
            ASSERT_TRUE(is_good(A.reserve(WE, kKeyA)));
        }
        const std::string before = state();
        EXPECT_TRUE(is_conflict(B.reserve(WE, 0)));
        EXPECT_TRUE(is_conflict(B.reserve(WE, kKeyA)));
        EXPECT_TRUE(is_conflict(B.release(WE, 0)));
        EXPECT_TRUE(is_conflict(B.clear(0)));
        EXPECT_TRUE(is_conflict(B.preempt(WE, 0, kKeyA)));
        EXPECT_TRUE(is_conflict(B.preempt_abort(WE, 0, kKeyA)));
        EXPECT_TRUE(is_conflict(B.move(0, 0x5, kO, 2)));
        EXPECT_TRUE(is_conflict(B.replace_lost(WE, 0x5)));
        EXPECT_EQ(state(), before);
    }
}

// 6. PREEMPT with SERVICE ACTION RESERVATION KEY 0: only with an all-registrants reservation;
//    otherwise ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST (field pointer: parameter list
//    byte 8).
TEST_F(PrScenario, Case06_PreemptWithZeroKeyOnlyForAllRegistrants) {
    register_abc();
    EXPECT_TRUE(is_illegal(B.preempt(EA, kKeyB, 0), 0x26, false, 8));  // no reservation
    EXPECT_TRUE(is_illegal(B.preempt_abort(EA, kKeyB, 0), 0x26, false, 8));
    ASSERT_TRUE(is_good(A.reserve(EA, kKeyA)));
    EXPECT_TRUE(is_illegal(B.preempt(EA, kKeyB, 0), 0x26, false, 8));  // not all-registrants
    EXPECT_EQ(state(), "gen=3 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    ASSERT_TRUE(is_good(A.release(EA, kKeyA)));
    ASSERT_TRUE(is_good(A.reserve(WE_AR, kKeyA)));
    EXPECT_EQ(state(), "gen=3 res=WE-AR holder=all regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    // All registrants and key 0: every other registration goes, B's new reservation has the new
    // type.
    EXPECT_TRUE(is_good(B.preempt(EA, kKeyB, 0)));
    EXPECT_EQ(state(), "gen=4 res=EA holder=B:1 regs=B:1=123abc");
    EXPECT_EQ(A.drain_uas(), std::vector<std::string>{"2A/05"});
    EXPECT_EQ(C.drain_uas(), std::vector<std::string>{"2A/05"});
    EXPECT_TRUE(B.drain_uas().empty());
}

// 7. PREEMPT whose SA key matches no registrant: RESERVATION CONFLICT, nothing changes.
TEST_F(PrScenario, Case07_PreemptUnknownKeyConflicts) {
    register_abc();
    EXPECT_TRUE(is_conflict(B.preempt(EA, kKeyB, 0x5555)));
    EXPECT_EQ(state(), "gen=3 res=none regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    ASSERT_TRUE(is_good(A.reserve(WE, kKeyA)));
    EXPECT_TRUE(is_conflict(B.preempt_abort(EA, kKeyB, 0x5555)));
    EXPECT_EQ(state(), "gen=3 res=WE holder=A:1 regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    ASSERT_TRUE(is_good(A.release(WE, kKeyA)));
    ASSERT_TRUE(is_good(A.reserve(EA_AR, kKeyA)));
    EXPECT_TRUE(is_conflict(B.preempt(EA, kKeyB, 0x5555)));
    EXPECT_EQ(state(), "gen=3 res=EA-AR holder=all regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    for (Host* h : {&A, &B, &C}) EXPECT_TRUE(h->drain_uas().empty());
}

// 8. Preempting your own key removes every other nexus registered with that key. From the holder
//    (SPC-4 5.13.11.2.4.3) the sender keeps its registration and gets the new reservation; from a
//    non-holder (5.13.11.2.5, "removing registrations") the sender's own registration goes too,
//    without a unit attention for it.
TEST_F(PrScenario, Case08_PreemptingOwnKeyRemovesEveryOtherNexusWithThatKey) {
    Host A2(lu.get(), {kA, 2});  // node-a through target port 2
    A2.drain_uas();
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(A2.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(C.reg(0, kKeyA)));  // another initiator with the same key
    ASSERT_TRUE(is_good(B.reg(0, kKeyB)));
    ASSERT_TRUE(is_good(A.reserve(WE, kKeyA)));
    EXPECT_EQ(state(), "gen=4 res=WE holder=A:1 regs=A:1=abc123,A:2=abc123,C:2=abc123,B:1=123abc");
    EXPECT_TRUE(is_good(A.preempt(EA, kKeyA, kKeyA)));
    EXPECT_EQ(state(), "gen=5 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc");
    EXPECT_EQ(A2.drain_uas(), std::vector<std::string>{"2A/05"});
    EXPECT_EQ(C.drain_uas(), std::vector<std::string>{"2A/05"});
    EXPECT_EQ(B.drain_uas(), std::vector<std::string>{"2A/04"});  // type changed WE -> EA
    EXPECT_TRUE(A.drain_uas().empty());

    // B preempts its own key while A holds the reservation: B's registration is removed, A keeps
    // EA.
    ASSERT_TRUE(is_good(C.reg(0, kKeyB)));
    EXPECT_EQ(state(), "gen=6 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc,C:2=123abc");
    EXPECT_TRUE(is_good(B.preempt(EA, kKeyB, kKeyB)));
    EXPECT_EQ(state(), "gen=7 res=EA holder=A:1 regs=A:1=abc123");
    EXPECT_TRUE(B.drain_uas().empty());
    EXPECT_EQ(C.drain_uas(), std::vector<std::string>{"2A/05"});
}

// 9. All-registrants types: every registrant is a holder, READ RESERVATION reports key 0, the
//    reservation lasts until the last registrant is gone.
TEST_F(PrScenario, Case09_AllRegistrantsEveryRegistrantHoldsUntilTheLastGoes) {
    for (PrType type : {WE_AR, EA_AR}) {
        SCOPED_TRACE(wire::type_abbrev(static_cast<uint8_t>(type)));
        make(Profile::spc4);
        register_abc();
        const std::string t = wire::type_abbrev(static_cast<uint8_t>(type));
        ASSERT_TRUE(is_good(B.reserve(type, kKeyB)));
        EXPECT_EQ(state(), "gen=3 res=" + t + " holder=all regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
        auto res = O.reservation();
        EXPECT_TRUE(res.reserved);
        EXPECT_EQ(res.key, 0u);
        for (const auto& e : O.full_status().entries) {
            EXPECT_TRUE(e.holder);
            EXPECT_EQ(e.type, static_cast<uint8_t>(type));
        }
        // Every registrant may write and read; the unregistered observer may not write.
        for (Host* h : {&A, &B, &C}) {
            EXPECT_TRUE(is_good(h->write10()));
            EXPECT_TRUE(is_good(h->read10()));
            EXPECT_TRUE(is_good(h->reserve(type, h == &A   ? kKeyA
                                                 : h == &B ? kKeyB
                                                           : kKeyC)));  // holders
        }
        EXPECT_TRUE(is_conflict(O.write10()));
        EXPECT_TRUE(type == WE_AR ? is_good(O.read10()) : is_conflict(O.read10()));
        // B (who reserved) leaves: the reservation stays.
        ASSERT_TRUE(is_good(B.reg(kKeyB, 0)));
        EXPECT_EQ(state(), "gen=4 res=" + t + " holder=all regs=A:1=abc123,C:2=c0ffee");
        ASSERT_TRUE(is_good(A.reg(kKeyA, 0)));
        EXPECT_EQ(state(), "gen=5 res=" + t + " holder=all regs=C:2=c0ffee");
        ASSERT_TRUE(is_good(C.reg(kKeyC, 0)));
        EXPECT_EQ(state(), "gen=6 res=none regs=");
        EXPECT_TRUE(is_good(O.write10()));
        for (Host* h : {&A, &B, &C}) EXPECT_TRUE(h->drain_uas().empty());
    }
}

// 10. Unit attentions to the other nexuses, in order. A nexus with a pending unit attention gets it
//     as the CHECK CONDITION of its next command (which then does not run), so hosts drain theirs
//     before acting.
TEST_F(PrScenario, Case10_UnitAttentionsGoToTheRightNexusesInOrder) {
    register_abc();
    // RELEASE of a registrants-only reservation: 2Ah/04h to the other registrants.
    ASSERT_TRUE(is_good(A.reserve(WE_RO, kKeyA)));
    ASSERT_TRUE(is_good(A.release(WE_RO, kKeyA)));
    // RELEASE of WE / EA: none.
    ASSERT_TRUE(is_good(A.reserve(EA, kKeyA)));
    ASSERT_TRUE(is_good(A.release(EA, kKeyA)));
    EXPECT_TRUE(A.drain_uas().empty());
    EXPECT_EQ(B.drain_uas(), std::vector<std::string>{"2A/04"});
    // RELEASE of all-registrants (by B, a holder too): 2Ah/04h to the other registrants; C's
    // earlier one is still pending and is not queued twice.
    ASSERT_TRUE(is_good(A.reserve(EA_AR, kKeyA)));
    ASSERT_TRUE(is_good(B.release(EA_AR, kKeyB)));
    EXPECT_EQ(state(), "gen=3 res=none regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    EXPECT_EQ(A.drain_uas(), std::vector<std::string>{"2A/04"});
    EXPECT_TRUE(B.drain_uas().empty());
    EXPECT_EQ(C.drain_uas(), std::vector<std::string>{"2A/04"});

    // Unregistering the holder of a registrants-only reservation releases it: 2Ah/04h to the
    // others.
    ASSERT_TRUE(is_good(A.reserve(EA_RO, kKeyA)));
    ASSERT_TRUE(is_good(A.reg(kKeyA, 0)));
    EXPECT_EQ(state(), "gen=4 res=none regs=B:1=123abc,C:2=c0ffee");
    // Unregistering the holder of WE: released, no unit attention.
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(A.reserve(WE, kKeyA)));
    ASSERT_TRUE(is_good(A.reg(kKeyA, 0)));
    EXPECT_EQ(state(), "gen=6 res=none regs=B:1=123abc,C:2=c0ffee");
    EXPECT_TRUE(A.drain_uas().empty());
    EXPECT_EQ(B.drain_uas(), std::vector<std::string>{"2A/04"});

    // PREEMPT of the holder without a type change: 2Ah/05h to the preempted nexus only.
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(A.reserve(WE, kKeyA)));
    ASSERT_TRUE(is_good(B.preempt(WE, kKeyB, kKeyA)));
    EXPECT_EQ(state(), "gen=8 res=WE holder=B:1 regs=B:1=123abc,C:2=c0ffee");
    EXPECT_EQ(A.drain_uas(), std::vector<std::string>{"2A/05"});
    // PREEMPT of a non-holder's key: its registration goes (2Ah/05h), the reservation and type
    // stay.
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(B.preempt(EA, kKeyB, kKeyA)));
    EXPECT_EQ(state(), "gen=10 res=WE holder=B:1 regs=B:1=123abc,C:2=c0ffee");
    EXPECT_EQ(A.drain_uas(), std::vector<std::string>{"2A/05"});
    // PREEMPT of the holder with a type change: 2Ah/05h to the preempted, 2Ah/04h to the others.
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(A.preempt(EA, kKeyA, kKeyB)));
    EXPECT_EQ(state(), "gen=12 res=EA holder=A:1 regs=C:2=c0ffee,A:1=abc123");
    // CLEAR: 2Ah/03h to every other registrant (B is no longer one).
    ASSERT_TRUE(is_good(A.clear(kKeyA)));
    EXPECT_EQ(state(), "gen=13 res=none regs=");

    EXPECT_TRUE(A.drain_uas().empty());
    EXPECT_EQ(B.drain_uas(), std::vector<std::string>{"2A/05"});
    // C: released by A's unregister (EA-RO), still pending at the type change, then the CLEAR.
    EXPECT_EQ(C.drain_uas(), (std::vector<std::string>{"2A/04", "2A/03"}));
    EXPECT_TRUE(O.drain_uas().empty());  // never registered, never told
}

// 10b. The unit attention is reported instead of running the command; the next command runs.
TEST_F(PrScenario, Case10_UnitAttentionIsReportedBeforeTheCommandRuns) {
    register_abc();
    ASSERT_TRUE(is_good(A.reserve(WE, kKeyA)));
    ASSERT_TRUE(is_good(B.preempt(WE, kKeyB, kKeyA)));
    EXPECT_EQ(state(), "gen=4 res=WE holder=B:1 regs=B:1=123abc,C:2=c0ffee");
    EXPECT_TRUE(is_check(A.reg(0, kKeyA), SenseKey::unit_attention, 0x2a, 0x05));
    EXPECT_EQ(state(), "gen=4 res=WE holder=B:1 regs=B:1=123abc,C:2=c0ffee");  // did not run
    EXPECT_TRUE(is_good(A.reg(0, kKeyA)));
    EXPECT_TRUE(is_conflict(A.write10()));
    // INQUIRY, REPORT LUNS and REQUEST SENSE neither report nor clear it.
    ASSERT_TRUE(is_good(B.preempt(WE, kKeyB, kKeyA)));
    EXPECT_TRUE(is_good(A.cmd(wire::inquiry_cdb(false, 0, 36))));
    EXPECT_TRUE(is_good(A.cmd(wire::report_luns_cdb(0, 64))));
    auto rs = A.raw({0x03, 0, 0, 0, 18, 0});
    ASSERT_TRUE(is_good(rs));
    auto sense = wire::decode_sense(rs.data_in);
    ASSERT_TRUE(sense.ok());
    EXPECT_EQ(sense->key, SenseKey::no_sense);
    EXPECT_EQ(A.drain_uas(), std::vector<std::string>{"2A/05"});
    EXPECT_TRUE(C.drain_uas().empty());
}

// 11. APTPL: registrations and the reservation survive a power cycle (destroy and re-create the
//     LU).
TEST_F(PrScenario, Case11_AptplSurvivesPowerLoss) {
    TempDir dir;
    const auto file = dir / "lu0.aptpl";
    make(Profile::spc4, file);
    ASSERT_TRUE(is_good(A.reg(0, kKeyA, {.aptpl = true})));
    ASSERT_TRUE(is_good(B.reg(0, kKeyB, {.aptpl = true})));  // the most recent APTPL bit decides
    ASSERT_TRUE(is_good(B.reserve(EA_RO, kKeyB)));
    EXPECT_EQ(state(), "gen=2 res=EA-RO holder=B:1 regs=A:1=abc123,B:1=123abc");
    EXPECT_TRUE(O.caps().ptpl_a);
    lu.reset();
    make(Profile::spc4, file);  // power on: PRgeneration restarts at 0
    EXPECT_EQ(state(), "gen=0 res=EA-RO holder=B:1 regs=A:1=abc123,B:1=123abc");
    EXPECT_TRUE(O.caps().ptpl_a);
    EXPECT_TRUE(is_conflict(O.read10()));
    EXPECT_TRUE(is_good(A.write10()));
    // APTPL off: the file goes, the next power on starts empty.
    ASSERT_TRUE(is_good(A.reg(kKeyA, kKeyA, {.aptpl = false})));
    EXPECT_FALSE(std::filesystem::exists(file));
    lu.reset();
    make(Profile::spc4, file);
    EXPECT_EQ(state(), "gen=0 res=none regs=");
}

// 12. SPEC_I_PT: only from an unregistered nexus, not with REGISTER AND IGNORE EXISTING KEY;
//     registers the listed initiators on the receiving target port (every port with ALL_TG_PT).
TEST_F(PrScenario, Case12_SpecIPtOnlyFromUnregisteredAndNotWithRegisterAndIgnore) {
    // REGISTER AND IGNORE EXISTING KEY with SPEC_I_PT: INVALID FIELD IN PARAMETER LIST, byte 20
    // bit 3.
    EXPECT_TRUE(is_illegal(A.reg_ignore(kKeyA, {.spec_i_pt = {kB}}), 0x26, false, 20, 3));
    // A registers itself, B and C (C through port 1, the receiving port) in one command.
    EXPECT_TRUE(is_good(A.reg(0, kKeyA, {.spec_i_pt = {kB, kC}})));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123,B:1=abc123,C:1=abc123");
    EXPECT_TRUE(is_good(B.reserve(WE, kKeyA)));      // B's nexus really is registered
    EXPECT_TRUE(is_conflict(C.reserve(WE, kKeyA)));  // C's nexus is on port 2: not registered
    ASSERT_TRUE(is_good(B.release(WE, kKeyA)));
    // From a registered nexus: INVALID FIELD IN PARAMETER LIST.
    EXPECT_TRUE(is_illegal(A.reg(kKeyA, kKeyA, {.spec_i_pt = {kO}}), 0x26, false, 20, 3));
    // A listed I_T nexus that is already registered fails the whole command; the field pointer
    // names that TransportID (parameter list byte 28 for the first, 28 + 24 for the second).
    Host O1(lu.get(), {kO, 1});
    O1.drain_uas();
    EXPECT_TRUE(is_illegal(O1.reg(0, 0x0b, {.spec_i_pt = {kC, kB}}), 0x26, false, 28));
    EXPECT_TRUE(
        is_illegal(O1.reg(0, 0x0b, {.spec_i_pt = {iscsi("iqn.x:y"), kB}}), 0x26, false, 28 + 24));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123,B:1=abc123,C:1=abc123");
    // SA key 0: nothing at all.
    EXPECT_TRUE(is_good(O1.reg(0, 0, {.spec_i_pt = {kB}})));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123,B:1=abc123,C:1=abc123");
    EXPECT_TRUE(
        is_conflict(C.reg(kKeyA, 0)));  // C's nexus (port 2) is not registered: key must be 0
    ASSERT_TRUE(is_good(A.clear(kKeyA)));
    EXPECT_EQ(B.drain_uas(), std::vector<std::string>{"2A/03"});
    // With ALL_TG_PT the sender and each listed initiator are registered on both target ports.
    const wire::TransportId kD = sas(0x5000c500000000d0);
    names.add(kD, "D");
    Host D(lu.get(), {kD, 1});
    D.drain_uas();
    EXPECT_TRUE(is_good(D.reg(0, 0x0b, {.all_tg_pt = true, .spec_i_pt = {kB}})));
    EXPECT_EQ(state(), "gen=3 res=none regs=D:*=b,B:*=b");
    EXPECT_EQ(O.keys().keys.size(), 4u);
    EXPECT_TRUE(is_good(B.reserve(EA, 0x0b)));
    ASSERT_TRUE(is_good(B.clear(0x0b)));
    EXPECT_EQ(D.drain_uas(), std::vector<std::string>{"2A/03"});
    // An iSCSI initiator device (format 00b, name only) covers every port (ISID) of that device.
    EXPECT_TRUE(is_good(B.reg(0, kKeyB, {.spec_i_pt = {iscsi("iqn.2001-05.com.example:node-a")}})));
    EXPECT_EQ(state(), "gen=5 res=none regs=B:1=123abc,iqn.2001-05.com.example:node-a:1=123abc");
    EXPECT_TRUE(is_good(A.reserve(WE, kKeyB)));  // A (node-a, ISID 23d000001) is covered
    EXPECT_EQ(state(),
              "gen=5 res=WE holder=iqn.2001-05.com.example:node-a:1 "
              "regs=B:1=123abc,iqn.2001-05.com.example:node-a:1=123abc");
}

// 13. PREEMPT AND ABORT returns the nexuses whose commands the server must abort.
TEST_F(PrScenario, Case13_PreemptAndAbortReportsAbortedNexuses) {
    Host A2(lu.get(), {kA, 2});
    A2.drain_uas();
    register_abc();
    ASSERT_TRUE(is_good(A2.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(A.reserve(EA, kKeyA)));
    auto r = B.preempt_abort(EA, kKeyB, kKeyA);
    ASSERT_TRUE(is_good(r));
    std::vector<NexusId> aborted = r.aborted_nexuses;
    std::sort(aborted.begin(), aborted.end());
    EXPECT_EQ(aborted, (std::vector<NexusId>{A.id(), A2.id()}));
    EXPECT_EQ(state(), "gen=5 res=EA holder=B:1 regs=B:1=123abc,C:2=c0ffee");
    // PREEMPT (no abort) reports none.
    EXPECT_EQ(A.drain_uas(), std::vector<std::string>{"2A/05"});
    EXPECT_EQ(A2.drain_uas(), std::vector<std::string>{"2A/05"});
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    r = A.preempt(EA, kKeyA, kKeyB);
    ASSERT_TRUE(is_good(r));
    EXPECT_TRUE(r.aborted_nexuses.empty());
    // Removing a non-holder registration aborts that nexus only.
    EXPECT_EQ(B.drain_uas(), std::vector<std::string>{"2A/05"});
    ASSERT_TRUE(is_good(B.reg(0, kKeyB)));
    r = A.preempt_abort(EA, kKeyA, kKeyC);
    ASSERT_TRUE(is_good(r));
    EXPECT_EQ(r.aborted_nexuses, std::vector<NexusId>{C.id()});
    // All registrants, key zero: every registered nexus, the sender included (SPC-4 5.13.11.2.6).
    ASSERT_TRUE(is_good(A.release(EA, kKeyA)));
    ASSERT_TRUE(is_good(A.reserve(WE_AR, kKeyA)));
    r = B.preempt_abort(WE, kKeyB, 0);
    ASSERT_TRUE(is_good(r));
    aborted = r.aborted_nexuses;
    std::sort(aborted.begin(), aborted.end());
    EXPECT_EQ(aborted, (std::vector<NexusId>{A.id(), B.id()}));
    EXPECT_EQ(state(), "gen=10 res=WE holder=B:1 regs=B:1=123abc");
}

// RESERVE and RELEASE of every type; RESERVE conflicts for another type or another nexus.
TEST_F(PrScenario, ReserveAndReleaseEveryType) {
    for (PrType type : kAllTypes) {
        const std::string t = wire::type_abbrev(static_cast<uint8_t>(type));
        SCOPED_TRACE(t);
        make(Profile::spc4);
        register_abc();
        ASSERT_TRUE(is_good(A.reserve(type, kKeyA)));
        const bool all_reg = wire::is_all_registrants(type);
        const std::string held = "gen=3 res=" + t + (all_reg ? " holder=all" : " holder=A:1") +
                                 " regs=A:1=abc123,B:1=123abc,C:2=c0ffee";
        EXPECT_EQ(state(), held);
        EXPECT_EQ(O.reservation().type, static_cast<uint8_t>(type));
        EXPECT_TRUE(is_good(A.reserve(type, kKeyA)));
        for (PrType other : kAllTypes)
            if (other != type) {
                EXPECT_TRUE(is_conflict(A.reserve(other, kKeyA)));
            }
        if (all_reg) {
            EXPECT_TRUE(is_good(B.reserve(type, kKeyB)));
        } else {
            EXPECT_TRUE(is_conflict(B.reserve(type, kKeyB)));
        }
        EXPECT_EQ(state(), held);
        EXPECT_TRUE(is_good((all_reg ? B : A).release(type, all_reg ? kKeyB : kKeyA)));
        EXPECT_EQ(state(), "gen=3 res=none regs=A:1=abc123,B:1=123abc,C:2=c0ffee");
    }
}

// Malformed PR OUT: reserved service action, bad type, bad scope, parameter list lengths.
TEST_F(PrScenario, MalformedProutGetsTheRightSense) {
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    auto data = *wire::encode_prout_params({.key = kKeyA});
    auto cdb = wire::prout_cdb(PrOutAction::reserve, WE, 24);
    cdb.b[1] = 0x09;  // reserved service action
    EXPECT_TRUE(is_illegal(A.cmd(cdb, data), 0x24, true, 1, 4));
    for (uint8_t bad_type : {0, 2, 4, 9, 15}) {
        cdb = wire::prout_cdb(PrOutAction::reserve, WE, 24);
        cdb.b[2] = bad_type;
        EXPECT_TRUE(is_illegal(A.cmd(cdb, data), 0x24, true, 2, 3)) << int(bad_type);
        cdb.b[1] = static_cast<uint8_t>(PrOutAction::preempt);
        EXPECT_TRUE(is_illegal(A.cmd(cdb, data), 0x24, true, 2, 3)) << int(bad_type);
    }
    cdb = wire::prout_cdb(PrOutAction::reserve, WE, 24);
    cdb.b[2] = 0x11;  // SCOPE 1h
    EXPECT_TRUE(is_illegal(A.cmd(cdb, data), 0x24, true, 2, 7));
    // Parameter list shorter than 24 bytes, or longer without SPEC_I_PT: PARAMETER LIST LENGTH
    // ERROR.
    for (uint32_t len : {0u, 8u, 23u, 25u, 28u}) {
        Bytes d(len, 0);
        EXPECT_TRUE(
            is_check(A.cmd(wire::prout_cdb(PrOutAction::register_key, PrType::none, len), d),
                     SenseKey::illegal_request, 0x1a, 0))
            << len;
    }
    // Fewer bytes sent than PARAMETER LIST LENGTH says.
    EXPECT_TRUE(is_check(A.cmd(wire::prout_cdb(PrOutAction::reserve, WE, 24), Bytes(10, 0)),
                         SenseKey::illegal_request, 0x1a, 0));
    // SPEC_I_PT with a TransportID list that does not decode: INVALID FIELD IN PARAMETER LIST.
    Bytes bad = *wire::encode_prout_params({.sa_key = 1});
    bad[20] |= 0x08;
    Bytes tail = {0, 0, 0, 24};
    bad.insert(bad.end(), tail.begin(), tail.end());
    Bytes junk(24, 0);
    junk[0] = 0x0e;  // protocol E: no TransportID
    bad.insert(bad.end(), junk.begin(), junk.end());
    EXPECT_TRUE(is_check(B.cmd(wire::prout_cdb(PrOutAction::register_key, PrType::none,
                                               static_cast<uint32_t>(bad.size())),
                               bad),
                         SenseKey::illegal_request, 0x26, 0));
    // SPEC_I_PT on RESERVE: INVALID FIELD IN PARAMETER LIST, byte 20 bit 3.
    EXPECT_TRUE(is_illegal(A.prout(PrOutAction::reserve, WE, {.key = kKeyA, .spec_i_pt = {kB}}),
                           0x26, false, 20, 3));
    // APTPL without an APTPL file: INVALID FIELD IN PARAMETER LIST, byte 20 bit 0.
    EXPECT_TRUE(is_illegal(B.reg(0, kKeyB, {.aptpl = true}), 0x26, false, 20, 0));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=abc123");
    // PR IN reserved service action.
    EXPECT_TRUE(
        is_illegal(A.cmd(wire::prin_cdb(static_cast<PrInAction>(4), 100)), 0x24, true, 1, 4));
}

// The access matrix, table-driven from SPC-4 table 65 (reg-read, reg-write, unreg-read,
// unreg-write; the holder may do everything), through READ(10)/WRITE(10) on the logical unit.
TEST_F(PrScenario, AccessMatrixEveryTypeHolderRegistrantNonRegistrant) {
    struct Row {
        PrType type;
        bool reg_read, reg_write, unreg_read, unreg_write;
    };
    const Row rows[] = {
        {EA, false, false, false, false},  {WE, true, false, true, false},
        {EA_RO, true, true, false, false}, {WE_RO, true, true, true, false},
        {EA_AR, true, true, false, false}, {WE_AR, true, true, true, false},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(wire::type_abbrev(static_cast<uint8_t>(row.type)));
        make(Profile::spc4);
        ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
        ASSERT_TRUE(is_good(B.reg(0, kKeyB)));
        ASSERT_TRUE(is_good(A.reserve(row.type, kKeyA)));
        auto expect = [](const CommandResult& r, bool allowed) {
            return allowed ? is_good(r) : is_conflict(r);
        };
        EXPECT_TRUE(expect(A.read10(), true));  // holder
        EXPECT_TRUE(expect(A.write10(), true));
        EXPECT_TRUE(expect(B.read10(), row.reg_read));  // registrant
        EXPECT_TRUE(expect(B.write10(), row.reg_write));
        EXPECT_TRUE(expect(C.read10(), row.unreg_read));  // not registered
        EXPECT_TRUE(expect(C.write10(), row.unreg_write));
        // READ(16)/WRITE(16), SYNCHRONIZE CACHE (a write) and MODE SENSE (a read) follow the same
        // rows.
        EXPECT_TRUE(expect(C.cmd(wire::read16_cdb(0, 1)), row.unreg_read));
        EXPECT_TRUE(expect(C.cmd(wire::write16_cdb(0, 1), Bytes(512, 1)), row.unreg_write));
        EXPECT_TRUE(expect(C.cmd(wire::synchronize_cache10_cdb()), row.unreg_write));
        EXPECT_TRUE(expect(B.cmd(wire::synchronize_cache10_cdb()), row.reg_write));
        const Bytes mode_sense = {0x1a, 0, 0x3f, 0, 0xff, 0};
        EXPECT_TRUE(expect(C.raw(mode_sense), row.unreg_read));
        // Always allowed: INQUIRY, TEST UNIT READY, READ CAPACITY, REPORT LUNS, PR IN.
        EXPECT_TRUE(is_good(C.cmd(wire::inquiry_cdb(false, 0, 36))));
        EXPECT_TRUE(is_good(C.tur()));
        EXPECT_TRUE(is_good(C.cmd(wire::read_capacity10_cdb())));
        EXPECT_TRUE(is_good(C.cmd(wire::read_capacity16_cdb(32))));
        EXPECT_TRUE(is_good(C.cmd(wire::report_luns_cdb(0, 64))));
        EXPECT_TRUE(is_good(C.prin(PrInAction::read_keys)));
    }
}

// The same matrix on the state machine directly, including the "other" column (e.g. MODE SELECT),
// which the logical unit does not implement.
TEST(PrStateAccess, MatrixIncludingOtherCommands) {
    const NexusIdentity a{kA, 1}, b{kB, 1}, c{kC, 2};
    auto prout = [](PrState& s, const NexusIdentity& who, PrOutAction sa, PrType t, uint64_t key,
                    uint64_t sa_key) {
        auto d = *wire::encode_prout_params({.key = key, .sa_key = sa_key});
        auto cdb = wire::prout_cdb(sa, t, 24);
        return s.persistent_reserve_out(who, cdb.bytes(), d);
    };
    const Bytes read = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    const Bytes write = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    const Bytes other = {0x15, 0, 0, 0, 0, 0};  // MODE SELECT(6)
    struct Row {
        PrType type;
        bool reg[3], unreg[3];
    };
    const Row rows[] = {
        {EA, {0, 0, 0}, {0, 0, 0}},    {WE, {1, 0, 0}, {1, 0, 0}},    {EA_RO, {1, 1, 1}, {0, 0, 0}},
        {WE_RO, {1, 1, 1}, {1, 0, 0}}, {EA_AR, {1, 1, 1}, {0, 0, 0}}, {WE_AR, {1, 1, 1}, {1, 0, 0}},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(wire::type_abbrev(static_cast<uint8_t>(row.type)));
        PrState s({.target_ports = 2});
        ASSERT_EQ(prout(s, a, PrOutAction::register_key, PrType::none, 0, 1).status,
                  wire::sam::good);
        ASSERT_EQ(prout(s, b, PrOutAction::register_key, PrType::none, 0, 2).status,
                  wire::sam::good);
        ASSERT_EQ(prout(s, a, PrOutAction::reserve, row.type, 1, 0).status, wire::sam::good);
        EXPECT_EQ(s.relation(a), PrRelation::holder);
        EXPECT_EQ(s.relation(b),
                  wire::is_all_registrants(row.type) ? PrRelation::holder : PrRelation::registrant);
        EXPECT_EQ(s.relation(c), PrRelation::non_registrant);
        int i = 0;
        for (const Bytes* cdb : {&read, &write, &other}) {
            EXPECT_TRUE(s.command_allowed(a, *cdb));
            EXPECT_EQ(s.command_allowed(b, *cdb), row.reg[i]) << i;
            EXPECT_EQ(s.command_allowed(c, *cdb), row.unreg[i]) << i;
            ++i;
        }
        EXPECT_EQ(s.check_invariants(), "");
    }
}

// ALL_TG_PT: one command registers the initiator on every target port; each registration is then
// its own.
TEST_F(PrScenario, AllTargetPortsRegistersEveryPort) {
    Host A2(lu.get(), {kA, 2});
    A2.drain_uas();
    ASSERT_TRUE(is_good(A.reg(0, kKeyA, {.all_tg_pt = true})));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:*=abc123");
    EXPECT_EQ(O.keys().keys, (std::vector<uint64_t>{kKeyA, kKeyA}));  // one key per I_T nexus
    auto full = O.full_status();
    ASSERT_EQ(full.entries.size(), 1u);
    EXPECT_TRUE(full.entries[0].all_tg_pt);
    // A through port 2 is registered: it can reserve, and then holds alone.
    ASSERT_TRUE(is_good(A2.reserve(WE, kKeyA)));
    EXPECT_EQ(state(), "gen=1 res=WE holder=A:2 regs=A:1=abc123,A:2=abc123");
    EXPECT_TRUE(is_conflict(A.write10()));  // A:1 is a registrant, not the holder
    ASSERT_TRUE(is_good(A2.release(WE, kKeyA)));
    // Changing the key through port 1 only changes port 1's registration.
    ASSERT_TRUE(is_good(A.reg(kKeyA, 0xa1)));
    EXPECT_EQ(state(), "gen=2 res=none regs=A:1=a1,A:2=abc123");
    // REGISTER with ALL_TG_PT "as if received through each port": port 2 is registered with another
    // key, so the command conflicts as a whole and nothing changes.
    EXPECT_TRUE(is_conflict(A.reg(0xa1, 0xa2, {.all_tg_pt = true})));
    EXPECT_EQ(state(), "gen=2 res=none regs=A:1=a1,A:2=abc123");
    // REGISTER AND IGNORE EXISTING KEY with ALL_TG_PT brings both to one key again.
    ASSERT_TRUE(is_good(A.reg_ignore(0xa3, {.all_tg_pt = true})));
    EXPECT_EQ(state(), "gen=3 res=none regs=A:*=a3");
    // Unregister with ALL_TG_PT: both go, in one generation step.
    ASSERT_TRUE(is_good(A2.reg(0xa3, 0, {.all_tg_pt = true})));
    EXPECT_EQ(state(), "gen=4 res=none regs=");
    EXPECT_TRUE(O.caps().atp_c);
}

// REGISTER AND MOVE: the reservation moves to the TransportID on the given relative target port.
TEST_F(PrScenario, RegisterAndMove) {
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(B.reg(0, kKeyB)));
    // Errors first.
    EXPECT_TRUE(is_illegal(A.move(kKeyA, 0xd0, kO, 2), 0x24, true, 1, 4));  // no reservation
    ASSERT_TRUE(is_good(A.reserve(EA, kKeyA)));
    EXPECT_TRUE(is_conflict(B.move(kKeyB, 0xd0, kO, 2)));                  // not the holder
    EXPECT_TRUE(is_conflict(C.move(0, 0xd0, kO, 2)));                      // not registered
    EXPECT_TRUE(is_conflict(A.move(0xbad, 0xd0, kO, 2)));                  // wrong key
    EXPECT_TRUE(is_illegal(A.move(kKeyA, 0, kO, 2), 0x26, false, 8));      // SA key 0
    EXPECT_TRUE(is_illegal(A.move(kKeyA, 0xd0, kO, 3), 0x26, false, 18));  // no target port 3
    EXPECT_TRUE(is_illegal(A.move(kKeyA, 0xd0, kO, 0), 0x26, false, 18));
    EXPECT_TRUE(is_illegal(A.move(kKeyA, 0xd0, kA, 2), 0x26, false, 24));  // the sender itself
    EXPECT_EQ(state(), "gen=2 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc");
    // Move to O (not yet registered) on port 2, keep A registered.
    ASSERT_TRUE(is_good(A.move(kKeyA, 0xd0, kO, 2)));
    EXPECT_EQ(state(), "gen=3 res=EA holder=O:2 regs=A:1=abc123,B:1=123abc,O:2=d0");
    EXPECT_TRUE(is_conflict(A.read10()));
    EXPECT_TRUE(is_good(O.write10()));
    // Move on to B (already registered, key replaced) and unregister the sender (UNREG).
    ASSERT_TRUE(is_good(O.move(0xd0, 0xb0, kB, 1, true)));
    EXPECT_EQ(state(), "gen=4 res=EA holder=B:1 regs=A:1=abc123,B:1=b0");
    // All-registrants reservations cannot move.
    ASSERT_TRUE(is_good(B.release(EA, 0xb0)));
    ASSERT_TRUE(is_good(B.reserve(WE_AR, 0xb0)));
    EXPECT_TRUE(is_conflict(B.move(0xb0, 0xd0, kO, 2)));
    EXPECT_EQ(state(), "gen=4 res=WE-AR holder=all regs=A:1=abc123,B:1=b0");
    // A move list whose TransportID does not decode: INVALID FIELD IN PARAMETER LIST at byte 24.
    ASSERT_TRUE(is_good(B.release(WE_AR, 0xb0)));
    ASSERT_TRUE(is_good(B.reserve(WE, 0xb0)));
    auto bad = *wire::encode_prout_move_params(
        {.key = 0xb0, .sa_key = 1, .rel_tgt_port = 1, .transport_id = kO});
    bad[24] = 0x0e;
    EXPECT_TRUE(is_illegal(B.cmd(wire::prout_cdb(PrOutAction::register_and_move, PrType::none,
                                                 static_cast<uint32_t>(bad.size())),
                                 bad),
                           0x26, false, 24));
}

// REPLACE LOST RESERVATION: refused while nothing is lost; after a loss, the only way back.
TEST_F(PrScenario, ReplaceLostReservation) {
    register_abc();
    ASSERT_TRUE(is_good(A.reserve(EA, kKeyA)));
    EXPECT_TRUE(is_check(B.replace_lost(WE, 0x5), SenseKey::illegal_request, 0x26, 0x04));
    EXPECT_TRUE(is_conflict(O.replace_lost(WE, 0x5)));
    EXPECT_TRUE(O.caps().rlr_c);
    lu->lose_persistent_reservations();
    const auto lost = [](const CommandResult& r) {
        return is_check(r, SenseKey::data_protect, 0x44, 0x01);
    };
    EXPECT_TRUE(lost(A.read10()));
    EXPECT_TRUE(lost(B.prin(PrInAction::read_keys)));
    EXPECT_TRUE(lost(B.reg(kKeyB, 1)));
    EXPECT_TRUE(lost(B.tur()));
    EXPECT_TRUE(is_good(B.cmd(wire::inquiry_cdb(false, 0, 36))));
    EXPECT_TRUE(is_good(B.cmd(wire::report_luns_cdb(0, 64))));
    // Field checks: RESERVATION KEY must be 0, the new key non-zero, no ALL_TG_PT.
    EXPECT_TRUE(is_illegal(O.prout(PrOutAction::replace_lost, WE, {.key = 1, .sa_key = 5}), 0x26,
                           false, 0));
    EXPECT_TRUE(is_illegal(O.replace_lost(WE, 0), 0x26, false, 8));
    EXPECT_TRUE(is_illegal(O.replace_lost(WE, 5, {.all_tg_pt = true}), 0x26, false, 20, 2));
    // Any nexus, registered or not (no RESERVATION CONFLICT while lost).
    ASSERT_TRUE(is_good(O.replace_lost(WE_RO, 0x0e)));
    EXPECT_EQ(state(), "gen=0 res=WE-RO holder=O:2 regs=O:2=e");
    EXPECT_TRUE(is_good(A.read10()));
    EXPECT_TRUE(is_conflict(A.write10()));
    for (Host* h : {&A, &B, &C}) EXPECT_TRUE(h->drain_uas().empty());
}

// SPC-2 RESERVE/RELEASE and persistent reservations (SPC-4 5.13.3, CRH).
TEST_F(PrScenario, Spc2ReserveReleaseVersusPersistentReservations) {
    const Bytes reserve6 = {0x16, 0, 0, 0, 0, 0}, release6 = {0x17, 0, 0, 0, 0, 0};
    const Bytes reserve10 = {0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                release10 = {0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    // No registrations: plain SPC-2.
    ASSERT_TRUE(is_good(A.raw(reserve6)));
    EXPECT_TRUE(is_good(A.raw(reserve6)));       // again by the holder
    EXPECT_TRUE(is_conflict(B.raw(reserve10)));  // by another
    EXPECT_TRUE(is_conflict(B.read10()));
    EXPECT_TRUE(is_conflict(B.tur()));
    EXPECT_TRUE(is_good(B.cmd(wire::inquiry_cdb(false, 0, 36))));
    EXPECT_TRUE(is_good(B.cmd(wire::report_luns_cdb(0, 64))));
    EXPECT_TRUE(is_good(B.raw(release6)));  // not the holder: GOOD, nothing released
    EXPECT_TRUE(is_conflict(B.read10()));
    // PERSISTENT RESERVE IN/OUT conflict for every initiator, the holder included (SPC-2 5.5.1).
    EXPECT_TRUE(is_conflict(B.reg(0, kKeyB)));
    EXPECT_TRUE(is_conflict(A.reg(0, kKeyA)));
    EXPECT_TRUE(is_conflict(A.prin(PrInAction::read_keys)));
    EXPECT_TRUE(is_good(A.write10()));
    ASSERT_TRUE(is_good(A.raw(release10)));
    EXPECT_TRUE(is_good(B.read10()));
    EXPECT_EQ(state(), "gen=0 res=none regs=");
    // With registrations: RESERVE/RELEASE conflict, except from the holder or a registrant of a
    // registrants-only / all-registrants reservation, where they are GOOD and change nothing.
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(B.reg(0, kKeyB)));
    EXPECT_TRUE(is_conflict(A.raw(reserve6)));  // registered, nothing reserved
    EXPECT_TRUE(is_conflict(C.raw(reserve6)));  // unregistered while registrations exist
    EXPECT_TRUE(is_conflict(C.raw(release6)));
    ASSERT_TRUE(is_good(A.reserve(WE, kKeyA)));
    EXPECT_TRUE(is_good(A.raw(reserve6)));      // holder: GOOD, no SPC-2 reservation made
    EXPECT_TRUE(is_good(A.raw(release10)));     // holder: GOOD, PR not released
    EXPECT_TRUE(is_conflict(B.raw(reserve6)));  // registrant of a WE reservation
    EXPECT_EQ(state(), "gen=2 res=WE holder=A:1 regs=A:1=abc123,B:1=123abc");
    EXPECT_TRUE(is_good(B.read10()));  // no SPC-2 reservation was made by A
    ASSERT_TRUE(is_good(A.release(WE, kKeyA)));
    ASSERT_TRUE(is_good(A.reserve(WE_RO, kKeyA)));
    EXPECT_TRUE(is_good(B.raw(reserve6)));  // registrant of a registrants-only reservation
    EXPECT_TRUE(is_good(B.raw(release6)));
    EXPECT_EQ(state(), "gen=2 res=WE-RO holder=A:1 regs=A:1=abc123,B:1=123abc");
    EXPECT_TRUE(O.caps().crh);
    // Obsolete/third-party bits are refused.
    EXPECT_TRUE(is_illegal(A.raw({0x16, 0x01, 0, 0, 0, 0}), 0x24, true, 1, 0));
    EXPECT_TRUE(is_illegal(A.raw({0x56, 0x10, 0, 0, 0, 0, 0, 0, 0, 0}), 0x24, true, 1, 4));
}

// REPORT CAPABILITIES says what is implemented.
TEST_F(PrScenario, ReportCapabilitiesTellsTheTruth) {
    auto c = O.caps();
    EXPECT_TRUE(c.rlr_c);
    EXPECT_TRUE(c.crh);
    EXPECT_TRUE(c.sip_c);
    EXPECT_TRUE(c.atp_c);
    EXPECT_FALSE(c.ptpl_c);  // no APTPL file configured
    EXPECT_FALSE(c.ptpl_a);
    EXPECT_TRUE(c.tmv);
    EXPECT_EQ(c.allow_commands, 1);
    for (PrType t : kAllTypes) EXPECT_TRUE(c.supports(t));
    EXPECT_EQ(c.type_mask, 0xEA01);
    auto r = O.prin(PrInAction::report_capabilities, 4);  // cut to the allocation length
    EXPECT_EQ(r.data_in.size(), 4u);
    EXPECT_EQ(get_be16(r.data_in, 0), 8);
}

// READ FULL STATUS: TransportIDs and relative target ports of every registration, holder and type.
TEST_F(PrScenario, ReadFullStatusReportsTransportIdsAndPorts) {
    register_abc();
    ASSERT_TRUE(is_good(C.reserve(EA_RO, kKeyC)));
    auto fs = O.full_status();
    ASSERT_EQ(fs.entries.size(), 3u);
    EXPECT_EQ(fs.entries[0].transport_id, kA);
    EXPECT_EQ(fs.entries[0].rel_tgt_port, 1);
    EXPECT_FALSE(fs.entries[0].holder);
    EXPECT_EQ(fs.entries[0].type, 0);
    EXPECT_EQ(fs.entries[1].transport_id, kB);
    EXPECT_EQ(fs.entries[1].rel_tgt_port, 1);
    EXPECT_EQ(fs.entries[2].transport_id, kC);
    EXPECT_EQ(fs.entries[2].rel_tgt_port, 2);
    EXPECT_TRUE(fs.entries[2].holder);
    EXPECT_EQ(fs.entries[2].type, 6);
    EXPECT_EQ(fs.entries[2].key, kKeyC);
    // Truncated to the allocation length, ADDITIONAL LENGTH still describing everything.
    auto r = O.prin(PrInAction::read_full_status, 40);
    ASSERT_EQ(r.data_in.size(), 40u);
    auto cut = wire::parse_full_status(r.data_in);
    ASSERT_TRUE(cut.ok());
    EXPECT_TRUE(cut->truncated);
    EXPECT_EQ(cut->needed, fs.needed);
    auto k = O.prin(PrInAction::read_keys, 0);
    EXPECT_TRUE(is_good(k));
    EXPECT_TRUE(k.data_in.empty());
}

// Profile::lio reproduces LIO's deviations (drivers/target/target_core_pr.c).
TEST_F(PrScenario, LioProfileDeviations) {
    make(Profile::lio);  // the first command of each nexus reported 3Fh/0Eh (checked in make)
    // RESERVE / RELEASE / CLEAR from an unregistered nexus with nothing reserved: LOGICAL UNIT
    // COMMUNICATION FAILURE.
    const auto lucf = [](const CommandResult& r) {
        return is_check(r, SenseKey::not_ready, 0x08, 0x00);
    };
    EXPECT_TRUE(lucf(A.reserve(WE, 0)));
    EXPECT_TRUE(lucf(A.release(WE, 0)));
    EXPECT_TRUE(lucf(A.clear(0)));
    EXPECT_TRUE(is_conflict(A.preempt(WE, 0, 1)));  // PREEMPT is not among them
    ASSERT_TRUE(is_good(A.reg(0, kKeyA)));
    ASSERT_TRUE(is_good(A.reserve(EA, kKeyA)));
    // With a reservation they conflict as in SPC-4.
    EXPECT_TRUE(is_conflict(B.reserve(WE, 0)));
    EXPECT_TRUE(is_conflict(B.release(WE, 0)));
    EXPECT_TRUE(is_conflict(B.clear(0)));
    // RELEASE by the holder with a wrong type: RESERVATION CONFLICT instead of 26h/04h.
    EXPECT_TRUE(is_conflict(A.release(WE, kKeyA)));
    EXPECT_EQ(state(), "gen=1 res=EA holder=A:1 regs=A:1=abc123");
    // A new nexus on this LU: 3Fh/0Eh, which REPORT LUNS clears without reporting it.
    Host N(lu.get(), {sas(0x5000c50000000001), 1});
    EXPECT_TRUE(is_good(N.cmd(wire::report_luns_cdb(0, 64))));
    EXPECT_TRUE(N.drain_uas().empty());
    // The spc4 profile answers the same requests by the standard.
    make(Profile::spc4);
    EXPECT_TRUE(is_conflict(A.reserve(WE, 0)));
    EXPECT_TRUE(is_conflict(A.release(WE, 0)));
    EXPECT_TRUE(is_conflict(A.clear(0)));
}

}  // namespace
}  // namespace prfence::sim::test
