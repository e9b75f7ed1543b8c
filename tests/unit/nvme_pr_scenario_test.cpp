// SPDX-License-Identifier: MIT
// NVMe reservation scenarios against one prsim namespace (NvmePrState), step by step: after every
// command the status word (status code and DNR/MORE) and the whole state read back through
// Reservation Report by an unregistered observer (generation, RTYPE, and each registrant's host,
// key and holder bit) are asserted, and the invariants checked.
//
// Hosts: A (controller 1, and a second controller 4 with the same host identifier), B (controller
// 2), C (controller 3), O (controller 9, an observer that never registers). Expected behaviour is
// Linux's nvmet (drivers/nvme/target/pr.c) unless a test names the spdk profile. The fixture
// keeps one NvmeNotificationLog per controller, shared by the namespaces, and queues every
// command's notifications on them as prsim's farm does.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "interposer/lu/nvme_pr_state.h"

namespace prfence::sim::test {
namespace {

namespace nv = wire::nvme;

nv::HostId host_id(uint8_t tag) {
    nv::HostId h{};
    for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(tag * 17 + i);
    return h;
}

const nv::HostId kHostA = host_id(0xa);
const nv::HostId kHostB = host_id(0xb);
const nv::HostId kHostC = host_id(0xc);
const nv::HostId kHostO = host_id(0x0);

const NvmeController A{kHostA, 1};
const NvmeController A2{kHostA, 4};  // a second controller (path) of host A
const NvmeController B{kHostB, 2};
const NvmeController C{kHostC, 3};
const NvmeController O{kHostO, 9};

constexpr uint64_t kKeyA = 0xabc123;
constexpr uint64_t kKeyB = 0x123abc;
constexpr uint64_t kKeyC = 0xc0ffee;

constexpr uint8_t WE = 1, EA = 2, WE_RO = 3, EA_RO = 4, WE_AR = 5, EA_AR = 6;

// Status words as nvmet returns them: DNR on every reservation error, MORE where it records an
// error location.
constexpr uint16_t kOk = 0;
constexpr uint16_t kConflict = 0x4083;
constexpr uint16_t kIoConflict = 0x6083;
constexpr uint16_t kInvalidField = 0x4002;
constexpr uint16_t kInvalidFieldLoc = 0x6002;
constexpr uint16_t kInvalidOpcode = 0x6001;
constexpr uint16_t kHostIdFormat = 0x6018;

constexpr auto kRegPre = NotificationType::registration_preempted;
constexpr auto kResRel = NotificationType::reservation_released;
constexpr auto kResPre = NotificationType::reservation_preempted;

class NvmeScenario : public ::testing::Test {
  protected:
    void make(NvmePrConfig cfg, size_t log_capacity = NvmeNotificationLog::kNvmetCapacity) {
        st = NvmePrState(cfg);
        for (const auto* c : {&A, &A2, &B, &C, &O}) st.attach(*c);
        logs.clear();
        for (uint16_t id : {1, 2, 3, 4, 9}) logs.emplace(id, NvmeNotificationLog(log_capacity));
    }

    void SetUp() override { make({}); }

    // Queues a command's notifications on the controllers' logs, as the farm does.
    void route(const NvmePrResult& r, const NvmePrState& ns) {
        for (const auto& n : r.notifications) {
            auto it = logs.find(n.cntlid);
            ASSERT_NE(it, logs.end()) << n.cntlid;
            it->second.add(n.type, ns.config().nsid);
        }
    }

    // Status word of a step, with the invariants checked after it.
    uint16_t s(const NvmePrResult& r) {
        last = r;
        route(r, st);
        EXPECT_EQ(st.check_invariants(), "");
        return r.status;
    }

    uint16_t reg(const NvmeController& c, uint64_t nrkey, uint64_t crkey = 0, bool iekey = false,
                 nv::Cptpl cptpl = nv::Cptpl::no_change) {
        return s(
            st.execute_register(c, {nv::RegisterAction::register_key, iekey, cptpl, crkey, nrkey}));
    }
    uint16_t unreg(const NvmeController& c, uint64_t crkey, bool iekey = false) {
        return s(st.execute_register(
            c, {nv::RegisterAction::unregister, iekey, nv::Cptpl::no_change, crkey, 0}));
    }
    uint16_t replace(const NvmeController& c, uint64_t crkey, uint64_t nrkey, bool iekey = false) {
        return s(st.execute_register(
            c, {nv::RegisterAction::replace, iekey, nv::Cptpl::no_change, crkey, nrkey}));
    }
    uint16_t acquire(const NvmeController& c, uint64_t crkey, uint8_t rtype, bool iekey = false) {
        return s(st.execute_acquire(c, {nv::AcquireAction::acquire, iekey, rtype, crkey, 0}));
    }
    uint16_t preempt(const NvmeController& c, uint64_t crkey, uint64_t prkey, uint8_t rtype) {
        return s(st.execute_acquire(c, {nv::AcquireAction::preempt, false, rtype, crkey, prkey}));
    }
    uint16_t preempt_abort(const NvmeController& c, uint64_t crkey, uint64_t prkey, uint8_t rtype) {
        return s(st.execute_acquire(
            c, {nv::AcquireAction::preempt_and_abort, false, rtype, crkey, prkey}));
    }
    uint16_t release(const NvmeController& c, uint64_t crkey, uint8_t rtype, bool iekey = false) {
        return s(st.execute_release(c, {nv::ReleaseAction::release, iekey, rtype, crkey}));
    }
    uint16_t clear(const NvmeController& c, uint64_t crkey) {
        return s(st.execute_release(c, {nv::ReleaseAction::clear, false, 0, crkey}));
    }

    static std::string name(const nv::HostId& h) {
        static const std::map<nv::HostId, std::string> names = {
            {kHostA, "A"}, {kHostB, "B"}, {kHostC, "C"}, {kHostO, "O"}};
        auto it = names.find(h);
        if (it != names.end()) return it->second;
        std::string hex;
        char buf[3];
        for (uint8_t b : h) {
            std::snprintf(buf, sizeof buf, "%02x", b);
            hex += buf;
        }
        return hex;
    }

    static std::string summary(const nv::ReservationStatus& d) {
        std::string out =
            "gen=" + std::to_string(d.generation) + " rtype=" + std::to_string(d.rtype) + " regs=";
        bool first = true;
        for (const auto& r : d.registrants) {
            if (!first) out += ",";
            first = false;
            char key[32];
            std::snprintf(key, sizeof key, "%llx", static_cast<unsigned long long>(r.key));
            out += name(r.hostid) + "=" + key;
            if (r.holds) out += "*";
            if (r.cntlid != 0xffff) out += "@" + std::to_string(r.cntlid);
        }
        if (d.regctl != d.registrants.size()) out += " regctl=" + std::to_string(d.regctl);
        return out;
    }

    // The whole state through a Report (EDS, a buffer large enough for 16 registrants) by O.
    std::string state() {
        auto r = st.report(O, {.numd = (64 + 16 * 64) / 4 - 1, .eds = true});
        EXPECT_EQ(r.status, kOk);
        EXPECT_TRUE(r.data.extended);
        return summary(r.data);
    }

    // Notifications the last command queued, as "host:cntlid:type".
    std::vector<std::string> sent() const {
        std::vector<std::string> out;
        for (const auto& n : last.notifications)
            out.push_back(name(n.hostid) + ":" + std::to_string(n.cntlid) + ":" +
                          std::to_string(static_cast<int>(n.type)));
        return out;
    }

    std::vector<std::string> aborted() const {
        std::vector<std::string> out;
        for (const auto& h : last.aborted) out.push_back(name(h));
        return out;
    }

    NvmeNotificationLog& log(const NvmeController& c) { return logs.at(c.cntlid); }
    nv::ReservationLog take_log(const NvmeController& c) { return log(c).take(); }

    // Every entry on a controller's log, as "count:type" (with ":nsN" when `nsid` is set, else the
    // entries must all be of st's namespace).
    std::vector<std::string> drain(const NvmeController& c, bool nsid = false) {
        std::vector<std::string> out;
        for (;;) {
            nv::ReservationLog e = take_log(c);
            if (e.type == 0) break;
            if (!nsid) {
                EXPECT_EQ(e.nsid, st.config().nsid);
            }
            out.push_back(std::to_string(e.count) + ":" + std::to_string(int{e.type}) +
                          (nsid ? ":ns" + std::to_string(e.nsid) : ""));
        }
        return out;
    }

    void register_abc() {
        ASSERT_EQ(reg(A, kKeyA), kOk);
        ASSERT_EQ(reg(B, kKeyB), kOk);
        ASSERT_EQ(reg(C, kKeyC), kOk);
        ASSERT_EQ(state(), "gen=3 rtype=0 regs=A=abc123,B=123abc,C=c0ffee");
    }

    using V = std::vector<std::string>;

    NvmePrState st;
    NvmePrResult last;
    std::map<uint16_t, NvmeNotificationLog> logs;  // by controller id
};

// ---------------------------------------------------------------------------------------------------------
// The seed workflow.

// Register, report, acquire Write Exclusive - Registrants Only, the unregistered host's write
// refused (read allowed), release, unregister.
TEST_F(NvmeScenario, SeedWorkflow) {
    EXPECT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
    EXPECT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    EXPECT_EQ(state(), "gen=1 rtype=3 regs=A=abc123*");
    EXPECT_EQ(st.check_io(B, IoKind::write), kIoConflict);
    EXPECT_EQ(st.check_io(B, IoKind::read), kOk);
    EXPECT_EQ(st.check_io(A, IoKind::write), kOk);
    EXPECT_EQ(st.check_io(A2, IoKind::write), kOk);  // the holder is the host, not the path
    EXPECT_EQ(state(), "gen=1 rtype=3 regs=A=abc123*");
    EXPECT_EQ(release(A, kKeyA, WE_RO), kOk);
    EXPECT_TRUE(sent().empty());  // nobody else is registered
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
    EXPECT_EQ(st.check_io(B, IoKind::write), kOk);
    EXPECT_EQ(unreg(A, kKeyA), kOk);
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=");
}

// ---------------------------------------------------------------------------------------------------------
// Register, Unregister, Replace.

TEST_F(NvmeScenario, RegisterOfNewHostTakesNrkeyIgnoringCrkeyAndIekey) {
    EXPECT_EQ(reg(A, kKeyA, /*crkey=*/0x999, /*iekey=*/true), kOk);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
    EXPECT_EQ(reg(B, kKeyB, /*crkey=*/0x555), kOk);
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=A=abc123,B=123abc");
}

TEST_F(NvmeScenario, ReRegisterSameKeySucceedsAndCountsAGeneration) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(reg(A, kKeyA), kOk);
    EXPECT_TRUE(last.state_changed);
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=A=abc123");
    EXPECT_EQ(reg(A, kKeyA, /*crkey=*/0x1), kOk);  // CRKEY is not looked at
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123");
}

TEST_F(NvmeScenario, ReRegisterDifferentKeyConflictsEvenWithIekey) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(reg(A, 0x777), kConflict);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
    EXPECT_EQ(reg(A, 0x777, kKeyA, /*iekey=*/true), kConflict);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
    EXPECT_FALSE(last.state_changed);
}

// A second controller with A's host identifier is the same registrant: it re-registers A's key,
// is refused another one, and can unregister A.
TEST_F(NvmeScenario, SecondControllerOfSameHostSharesTheRegistration) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(reg(A2, 0x5555), kConflict);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
    EXPECT_EQ(reg(A2, kKeyA), kOk);
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=A=abc123");
    EXPECT_EQ(acquire(A2, kKeyA, EA), kOk);
    EXPECT_EQ(state(), "gen=2 rtype=2 regs=A=abc123*");
    EXPECT_EQ(acquire(A, kKeyA, EA), kOk);  // the holder again, through the other path
    EXPECT_EQ(st.check_io(A, IoKind::read), kOk);
    EXPECT_EQ(st.check_io(A2, IoKind::write), kOk);
    EXPECT_EQ(release(A, kKeyA, EA), kOk);
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=A=abc123");
    EXPECT_EQ(unreg(A2, kKeyA), kOk);
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=");
}

TEST_F(NvmeScenario, UnregisterNeedsCrkeyUnlessIekey) {
    register_abc();
    EXPECT_EQ(unreg(A, 0xbad), kConflict);
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123,B=123abc,C=c0ffee");
    EXPECT_EQ(unreg(A, 0xbad, /*iekey=*/true), kOk);
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=B=123abc,C=c0ffee");
    EXPECT_EQ(unreg(B, kKeyB), kOk);
    EXPECT_EQ(state(), "gen=5 rtype=0 regs=C=c0ffee");
}

TEST_F(NvmeScenario, UnregisterAndReplaceByNonRegistrantConflictEvenWithIekey) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(unreg(B, 0), kConflict);
    EXPECT_EQ(unreg(B, 0, /*iekey=*/true), kConflict);
    EXPECT_EQ(replace(B, 0, kKeyB), kConflict);
    EXPECT_EQ(replace(B, 0, kKeyB, /*iekey=*/true), kConflict);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
}

TEST_F(NvmeScenario, ReplaceNeedsCrkeyUnlessIekeyAndKeepsTheReservation) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE), kOk);
    EXPECT_EQ(replace(A, 0xbad, 0xa2), kConflict);
    EXPECT_EQ(state(), "gen=3 rtype=1 regs=A=abc123*,B=123abc,C=c0ffee");
    EXPECT_EQ(replace(A, kKeyA, 0xa2), kOk);
    EXPECT_EQ(state(), "gen=4 rtype=1 regs=A=a2*,B=123abc,C=c0ffee");
    EXPECT_EQ(replace(A, 0xbad, 0xa3, /*iekey=*/true), kOk);
    EXPECT_EQ(state(), "gen=5 rtype=1 regs=A=a3*,B=123abc,C=c0ffee");
    EXPECT_EQ(acquire(A, kKeyA, WE), kConflict);  // the old key is gone
    EXPECT_EQ(release(A, 0xa3, WE), kOk);
    EXPECT_EQ(state(), "gen=5 rtype=0 regs=A=a3,B=123abc,C=c0ffee");
}

// Unlike SCSI, key 0 is an ordinary key: a host registers with it, uses it as CRKEY and can
// replace its key by it (prfence itself never sends it).
TEST_F(NvmeScenario, KeyZeroIsAnOrdinaryKey) {
    EXPECT_EQ(reg(A, 0), kOk);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=0");
    EXPECT_EQ(acquire(A, 0, EA), kOk);
    EXPECT_EQ(state(), "gen=1 rtype=2 regs=A=0*");
    ASSERT_EQ(reg(B, kKeyB), kOk);
    EXPECT_EQ(replace(B, kKeyB, 0), kOk);
    EXPECT_EQ(state(), "gen=3 rtype=2 regs=A=0*,B=0");
    EXPECT_EQ(release(A, 0, EA), kOk);
    EXPECT_EQ(unreg(A, 0), kOk);
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=B=0");
}

// Unregister is its own action: Register with NRKEY 0 by a registrant is a conflict (another key),
// not an unregistration as SCSI's REGISTER with service action key 0 would be.
TEST_F(NvmeScenario, RegisterWithKeyZeroDoesNotUnregister) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(reg(A, 0, kKeyA), kConflict);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
    EXPECT_EQ(unreg(A, kKeyA), kOk);
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=");
}

TEST_F(NvmeScenario, ReservedRegisterActionIsInvalidOpcodeAndChangesNothing) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    nv::RegisterCmd bad{static_cast<nv::RegisterAction>(3), false, nv::Cptpl::no_change, kKeyA, 1};
    EXPECT_EQ(s(st.execute_register(A, bad)), kInvalidOpcode);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
    // Acquire and Release check the registration first: a reserved action from a non-registrant
    // is a conflict.
    nv::AcquireCmd bad_acq{static_cast<nv::AcquireAction>(3), false, WE, kKeyA, 0};
    EXPECT_EQ(s(st.execute_acquire(A, bad_acq)), kInvalidOpcode);
    EXPECT_EQ(s(st.execute_acquire(B, bad_acq)), kConflict);
    nv::ReleaseCmd bad_rel{static_cast<nv::ReleaseAction>(2), false, WE, kKeyA};
    EXPECT_EQ(s(st.execute_release(A, bad_rel)), kInvalidOpcode);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
}

// ---------------------------------------------------------------------------------------------------------
// Acquire.

TEST_F(NvmeScenario, AcquireByNonRegistrantOrWithWrongKeyConflicts) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(acquire(B, 0, WE), kConflict);
    EXPECT_EQ(acquire(B, kKeyA, WE), kConflict);  // A's key, but B is not registered
    EXPECT_EQ(acquire(A, 0xbad, WE), kConflict);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
}

// IEKEY is honoured on Register only; on Acquire and Release nvmet answers Invalid Field (DNR,
// no error location, hence no MORE).
TEST_F(NvmeScenario, IekeyOnRegisterIsHonouredOnAcquireAndReleaseInvalidField) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(unreg(A, 0x1, /*iekey=*/true), kOk);
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123");
    EXPECT_EQ(acquire(A, kKeyA, WE, /*iekey=*/true), kInvalidField);
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123");
    ASSERT_EQ(acquire(A, kKeyA, WE), kOk);
    EXPECT_EQ(release(A, kKeyA, WE, /*iekey=*/true), kInvalidField);
    EXPECT_EQ(state(), "gen=3 rtype=1 regs=A=abc123*");
    nv::ReleaseCmd clear_iekey{nv::ReleaseAction::clear, true, 0, kKeyA};
    EXPECT_EQ(s(st.execute_release(A, clear_iekey)), kInvalidField);
    EXPECT_EQ(state(), "gen=3 rtype=1 regs=A=abc123*");
}

TEST_F(NvmeScenario, RtypeOutsideOneToSixIsInvalidFieldOnAcquireAndPreempt) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    ASSERT_EQ(reg(B, kKeyB), kOk);
    EXPECT_EQ(acquire(A, kKeyA, 0), kInvalidField);
    EXPECT_EQ(acquire(A, kKeyA, 7), kInvalidField);
    EXPECT_EQ(acquire(C, 0, 9), kInvalidField);  // checked before the registration
    EXPECT_EQ(preempt(A, kKeyA, kKeyB, 0), kInvalidField);
    EXPECT_EQ(preempt_abort(A, kKeyA, kKeyB, 0xff), kInvalidField);
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=A=abc123,B=123abc");
}

TEST_F(NvmeScenario, AcquireByHolderSameTypeSucceedsOtherTypeConflicts) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    EXPECT_EQ(state(), "gen=3 rtype=3 regs=A=abc123*,B=123abc,C=c0ffee");
    EXPECT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    EXPECT_FALSE(last.state_changed);
    EXPECT_EQ(acquire(A, kKeyA, EA_RO), kConflict);
    EXPECT_EQ(state(), "gen=3 rtype=3 regs=A=abc123*,B=123abc,C=c0ffee");
}

TEST_F(NvmeScenario, AcquireWhileAnotherHostHoldsConflicts) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, EA), kOk);
    EXPECT_EQ(acquire(B, kKeyB, EA), kConflict);
    EXPECT_EQ(acquire(B, kKeyB, WE), kConflict);
    EXPECT_EQ(state(), "gen=3 rtype=2 regs=A=abc123*,B=123abc,C=c0ffee");
}

// ---------------------------------------------------------------------------------------------------------
// Release and Clear.

// Release by a registrant that does not hold the reservation is a success that changes nothing,
// whatever the RTYPE (Release does not range-check it); the key is still checked.
TEST_F(NvmeScenario, ReleaseByNonHolderIsASuccessfulNoop) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    EXPECT_EQ(release(B, kKeyB, WE_RO), kOk);
    EXPECT_EQ(release(B, kKeyB, EA), kOk);
    EXPECT_EQ(release(B, kKeyB, 0), kOk);
    EXPECT_FALSE(last.state_changed);
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(state(), "gen=3 rtype=3 regs=A=abc123*,B=123abc,C=c0ffee");
    EXPECT_EQ(release(B, 0x1, WE_RO), kConflict);
    EXPECT_EQ(release(O, 0, WE_RO), kConflict);  // not registered
    EXPECT_EQ(state(), "gen=3 rtype=3 regs=A=abc123*,B=123abc,C=c0ffee");
    ASSERT_EQ(release(A, kKeyA, WE_RO), kOk);
    EXPECT_EQ(release(B, kKeyB, WE), kOk);  // no reservation at all
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123,B=123abc,C=c0ffee");
}

TEST_F(NvmeScenario, ReleaseWithWrongTypeByHolderConflicts) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, EA), kOk);
    EXPECT_EQ(release(A, kKeyA, WE), kConflict);
    EXPECT_EQ(release(A, kKeyA, 0), kConflict);
    EXPECT_EQ(release(A, kKeyA, 9), kConflict);
    EXPECT_EQ(state(), "gen=3 rtype=2 regs=A=abc123*,B=123abc,C=c0ffee");
    EXPECT_EQ(release(A, kKeyA, EA), kOk);
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123,B=123abc,C=c0ffee");
}

// Releasing Write Exclusive or Exclusive Access tells nobody; releasing a registrants-only or
// all-registrants reservation tells every other registrant "reservation released".
TEST_F(NvmeScenario, ReleaseNotifiesOtherRegistrantsForRegistrantTypesOnly) {
    register_abc();
    for (uint8_t t : {WE, EA}) {
        ASSERT_EQ(acquire(B, kKeyB, t), kOk);
        EXPECT_EQ(release(B, kKeyB, t), kOk);
        EXPECT_TRUE(sent().empty()) << int{t};
    }
    for (uint8_t t : {WE_RO, EA_RO, WE_AR, EA_AR}) {
        ASSERT_EQ(acquire(B, kKeyB, t), kOk);
        EXPECT_EQ(release(B, kKeyB, t), kOk);
        EXPECT_EQ(sent(), (V{"A:1:2", "A:4:2", "C:3:2"})) << int{t};
        EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123,B=123abc,C=c0ffee");
    }
    EXPECT_EQ(drain(A), (V{"1:2", "2:2", "3:2", "4:2"}));
    EXPECT_EQ(drain(A2), (V{"1:2", "2:2", "3:2", "4:2"}));
    EXPECT_EQ(drain(C), (V{"1:2", "2:2", "3:2", "4:2"}));
    EXPECT_TRUE(drain(B).empty());
    EXPECT_TRUE(drain(O).empty());  // not a registrant
}

// Clear drops every registration and the reservation, counts a generation and sends "reservation
// preempted" to every other registrant (as nvmet does; not "released").
TEST_F(NvmeScenario, ClearDropsEverythingAndNotifiesReservationPreempted) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, EA_RO), kOk);
    EXPECT_EQ(clear(B, 0xbad), kConflict);
    EXPECT_EQ(clear(O, 0), kConflict);
    EXPECT_EQ(state(), "gen=3 rtype=4 regs=A=abc123*,B=123abc,C=c0ffee");
    EXPECT_EQ(clear(B, kKeyB), kOk);  // a non-holder may clear
    EXPECT_EQ(sent(), (V{"A:1:3", "A:4:3", "C:3:3"}));
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=");
    EXPECT_EQ(st.check_io(O, IoKind::write), kOk);
    EXPECT_EQ(drain(A), V{"1:3"});
    EXPECT_EQ(drain(C), V{"1:3"});
    EXPECT_TRUE(drain(B).empty());
    // Clear without a reservation works too.
    ASSERT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(clear(A, kKeyA), kOk);
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(state(), "gen=6 rtype=0 regs=");
}

// ---------------------------------------------------------------------------------------------------------
// Unregistering the holder.

TEST_F(NvmeScenario, UnregisterHolderOfRegistrantsOnlyReleasesAndNotifies) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    EXPECT_EQ(unreg(A2, kKeyA), kOk);  // through A's other controller
    EXPECT_EQ(sent(), (V{"B:2:2", "C:3:2"}));
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=B=123abc,C=c0ffee");
    EXPECT_EQ(st.check_io(O, IoKind::write), kOk);
    EXPECT_EQ(drain(B), V{"1:2"});
    EXPECT_TRUE(drain(A).empty());
}

TEST_F(NvmeScenario, UnregisterHolderOfWriteExclusiveReleasesSilently) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE), kOk);
    EXPECT_EQ(unreg(A, kKeyA), kOk);
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=B=123abc,C=c0ffee");
    ASSERT_EQ(acquire(B, kKeyB, EA), kOk);
    EXPECT_EQ(unreg(C, kKeyC), kOk);  // a non-holder leaving changes nothing else
    EXPECT_EQ(state(), "gen=5 rtype=2 regs=B=123abc*");
}

// ---------------------------------------------------------------------------------------------------------
// All-registrants types.

TEST_F(NvmeScenario, AllRegistrantsEveryRegistrantIsAHolder) {
    register_abc();
    ASSERT_EQ(acquire(B, kKeyB, EA_AR), kOk);
    EXPECT_EQ(state(), "gen=3 rtype=6 regs=A=abc123*,B=123abc*,C=c0ffee*");
    EXPECT_EQ(st.relation(kHostA), NvmeRelation::holder);
    EXPECT_EQ(st.check_io(A, IoKind::write), kOk);
    EXPECT_EQ(st.check_io(C, IoKind::read), kOk);
    EXPECT_EQ(st.check_io(O, IoKind::read), kIoConflict);
    ASSERT_EQ(reg(O, 0x0b), kOk);  // a new registrant becomes a holder at once
    EXPECT_EQ(state(), "gen=4 rtype=6 regs=A=abc123*,B=123abc*,C=c0ffee*,O=b*");
    EXPECT_EQ(st.check_io(O, IoKind::read), kOk);
}

// The reservation survives its acquirer's unregistration and ends with the last registrant; no
// notification on the way.
TEST_F(NvmeScenario, AllRegistrantsReservationEndsWithTheLastRegistrant) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE_AR), kOk);
    EXPECT_EQ(unreg(A, kKeyA), kOk);
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(state(), "gen=4 rtype=5 regs=B=123abc*,C=c0ffee*");
    EXPECT_EQ(st.check_io(A, IoKind::write), kIoConflict);
    EXPECT_EQ(unreg(C, kKeyC), kOk);
    EXPECT_EQ(state(), "gen=5 rtype=5 regs=B=123abc*");
    EXPECT_EQ(unreg(B, kKeyB), kOk);
    EXPECT_EQ(state(), "gen=6 rtype=0 regs=");
    EXPECT_EQ(st.check_io(A, IoKind::write), kOk);
}

// nvmet keeps one holder registrant under all-registrants types: only it acquires the same type
// again or releases; another registrant's Acquire conflicts and its Release is a no-op. After the
// acquirer leaves, the oldest remaining registrant takes that role.
TEST_F(NvmeScenario, AllRegistrantsAcquireAndReleaseFollowNvmetsHolder) {
    register_abc();
    ASSERT_EQ(acquire(B, kKeyB, WE_AR), kOk);
    EXPECT_EQ(acquire(A, kKeyA, WE_AR), kConflict);
    EXPECT_EQ(release(A, kKeyA, WE_AR), kOk);
    EXPECT_FALSE(last.state_changed);
    EXPECT_EQ(state(), "gen=3 rtype=5 regs=A=abc123*,B=123abc*,C=c0ffee*");
    EXPECT_EQ(unreg(B, kKeyB), kOk);  // A (oldest) takes over
    EXPECT_EQ(state(), "gen=4 rtype=5 regs=A=abc123*,C=c0ffee*");
    EXPECT_EQ(release(C, kKeyC, WE_AR), kOk);
    EXPECT_EQ(state(), "gen=4 rtype=5 regs=A=abc123*,C=c0ffee*");
    EXPECT_EQ(release(A, kKeyA, WE_AR), kOk);
    EXPECT_EQ(sent(), V{"C:3:2"});
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=A=abc123,C=c0ffee");
}

// The spdk profile (and the specification): every registrant is a holder for Acquire and Release.
TEST_F(NvmeScenario, SpdkAllRegistrantsAnyRegistrantAcquiresAndReleases) {
    make({.profile = NvmeProfile::spdk});
    register_abc();
    ASSERT_EQ(acquire(B, kKeyB, WE_AR), kOk);
    EXPECT_EQ(acquire(A, kKeyA, WE_AR), kOk);
    EXPECT_EQ(acquire(A, kKeyA, EA_AR), 0x0083);  // no DNR in SPDK
    EXPECT_EQ(state(), "gen=3 rtype=5 regs=A=abc123*,B=123abc*,C=c0ffee*");
    EXPECT_EQ(release(C, kKeyC, WE_AR), kOk);
    EXPECT_EQ(sent(), (V{"A:1:2", "A:4:2", "B:2:2"}));
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123,B=123abc,C=c0ffee");
}

// ---------------------------------------------------------------------------------------------------------
// Preempt.

// No reservation: every registrant with PRKEY goes (the sender too, without a notification to
// itself); no registrant with PRKEY is a conflict.
TEST_F(NvmeScenario, PreemptWithoutReservationUnregistersByKey) {
    register_abc();
    ASSERT_EQ(replace(C, kKeyC, kKeyB), kOk);  // B and C share a key
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=A=abc123,B=123abc,C=123abc");
    EXPECT_EQ(preempt(A, kKeyA, 0x999, WE), kConflict);
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=A=abc123,B=123abc,C=123abc");
    EXPECT_EQ(preempt(A, kKeyA, kKeyB, WE), kOk);
    EXPECT_EQ(sent(), (V{"B:2:1", "C:3:1"}));
    EXPECT_EQ(state(), "gen=5 rtype=0 regs=A=abc123");  // no reservation is created
    EXPECT_EQ(preempt(A, kKeyA, kKeyA, WE), kOk);       // its own key: A goes
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(state(), "gen=6 rtype=0 regs=");
    EXPECT_EQ(drain(B), V{"1:1"});
}

// PRKEY = the holder's key: the sender holds with the new RTYPE, every other host with that key
// goes ("registration preempted"), and because the type changed the remaining registrants hear
// "reservation released".
TEST_F(NvmeScenario, PreemptHolderKeyTakesTheReservation) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    EXPECT_EQ(preempt(B, kKeyB, kKeyA, EA_RO), kOk);
    EXPECT_EQ(sent(), (V{"A:1:1", "A:4:1", "C:3:2"}));
    EXPECT_EQ(state(), "gen=4 rtype=4 regs=B=123abc*,C=c0ffee");
    EXPECT_EQ(st.check_io(A, IoKind::read), kIoConflict);
    EXPECT_EQ(st.check_io(C, IoKind::read), kOk);
    // Same type: no "released".
    EXPECT_EQ(preempt(C, kKeyC, kKeyB, EA_RO), kOk);
    EXPECT_EQ(sent(), V{"B:2:1"});
    EXPECT_EQ(state(), "gen=5 rtype=4 regs=C=c0ffee*");
    EXPECT_EQ(drain(A), V{"1:1"});
    EXPECT_EQ(drain(A2), V{"1:1"});
    EXPECT_EQ(drain(C), V{"1:2"});
}

// The sender shares the holder's key: it is not unregistered, the holder is.
TEST_F(NvmeScenario, PreemptHolderKeySharedBySenderKeepsSender) {
    ASSERT_EQ(reg(A, kKeyA), kOk);
    ASSERT_EQ(reg(B, kKeyA), kOk);
    ASSERT_EQ(acquire(A, kKeyA, EA), kOk);
    EXPECT_EQ(preempt(B, kKeyA, kKeyA, EA), kOk);
    EXPECT_EQ(sent(), (V{"A:1:1", "A:4:1"}));
    EXPECT_EQ(state(), "gen=3 rtype=2 regs=B=abc123*");
}

// Another non-zero PRKEY drops only those registrants; the reservation stays.
TEST_F(NvmeScenario, PreemptOtherKeyDropsOnlyThoseRegistrants) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE), kOk);
    EXPECT_EQ(preempt(B, kKeyB, kKeyC, EA), kOk);
    EXPECT_EQ(sent(), V{"C:3:1"});
    EXPECT_EQ(state(), "gen=4 rtype=1 regs=A=abc123*,B=123abc");
    EXPECT_EQ(preempt(B, kKeyB, 0x999, EA), kConflict);
    EXPECT_EQ(state(), "gen=4 rtype=1 regs=A=abc123*,B=123abc");
    EXPECT_EQ(preempt(B, kKeyB, kKeyB, EA), kOk);  // its own key: B goes, A still holds
    EXPECT_EQ(state(), "gen=5 rtype=1 regs=A=abc123*");
}

TEST_F(NvmeScenario, PreemptZeroKeyOnSingleHolderTypeIsInvalidField) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    EXPECT_EQ(preempt(B, kKeyB, 0, WE_RO), kInvalidField);
    EXPECT_EQ(preempt_abort(B, kKeyB, 0, EA), kInvalidField);
    EXPECT_TRUE(last.aborted.empty());
    EXPECT_EQ(state(), "gen=3 rtype=3 regs=A=abc123*,B=123abc,C=c0ffee");
}

// Key 0 is a key: a holder registered with 0 is preempted by PRKEY 0 (the holder-key rule comes
// before the PRKEY 0 check).
TEST_F(NvmeScenario, PreemptZeroKeyOfHolderRegisteredWithZero) {
    ASSERT_EQ(reg(A, 0), kOk);
    ASSERT_EQ(reg(B, kKeyB), kOk);
    ASSERT_EQ(acquire(A, 0, WE), kOk);
    EXPECT_EQ(preempt(B, kKeyB, 0, WE), kOk);
    EXPECT_EQ(sent(), (V{"A:1:1", "A:4:1"}));
    EXPECT_EQ(state(), "gen=3 rtype=1 regs=B=123abc*");
}

// The holder preempting itself changes the type (PRKEY is not looked at) and counts a generation;
// a changed type tells the other registrants "reservation released".
TEST_F(NvmeScenario, PreemptBySelfChangesTheType) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE), kOk);
    EXPECT_EQ(preempt(A, kKeyA, 0, EA), kOk);
    EXPECT_EQ(sent(), (V{"B:2:2", "C:3:2"}));
    EXPECT_EQ(state(), "gen=4 rtype=2 regs=A=abc123*,B=123abc,C=c0ffee");
    EXPECT_EQ(preempt(A, kKeyA, kKeyB, EA), kOk);  // same type: nobody unregistered, no notice
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(state(), "gen=5 rtype=2 regs=A=abc123*,B=123abc,C=c0ffee");
}

// All-registrants with PRKEY 0: the sender holds with the new type, every other host goes.
TEST_F(NvmeScenario, PreemptAllRegistrantsZeroKeyTakesOver) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, EA_AR), kOk);
    EXPECT_EQ(preempt(C, kKeyC, 0, EA), kOk);
    EXPECT_EQ(sent(), (V{"A:1:1", "A:4:1", "B:2:1"}));
    EXPECT_EQ(state(), "gen=4 rtype=2 regs=C=c0ffee*");
    EXPECT_EQ(st.check_io(A, IoKind::read), kIoConflict);
}

// All-registrants with another PRKEY: those hosts go (the sender too if it has the key), the
// reservation and its type stay.
TEST_F(NvmeScenario, PreemptAllRegistrantsNonZeroKeyKeepsTheReservation) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE_AR), kOk);
    EXPECT_EQ(preempt(C, kKeyC, kKeyA, EA), kOk);  // the acquirer goes; the type stays WE-AR
    EXPECT_EQ(sent(), (V{"A:1:1", "A:4:1"}));
    EXPECT_EQ(state(), "gen=4 rtype=5 regs=B=123abc*,C=c0ffee*");
    EXPECT_EQ(preempt(C, kKeyC, 0x999, EA), kConflict);
    EXPECT_EQ(preempt(C, kKeyC, kKeyC, EA), kOk);
    EXPECT_EQ(state(), "gen=5 rtype=5 regs=B=123abc*");
}

TEST_F(NvmeScenario, PreemptAndAbortListsThePreemptedHosts) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, EA), kOk);
    EXPECT_EQ(preempt_abort(B, kKeyB, kKeyA, EA), kOk);
    EXPECT_EQ(aborted(), V{"A"});
    EXPECT_EQ(sent(), (V{"A:1:1", "A:4:1"}));
    EXPECT_EQ(state(), "gen=4 rtype=2 regs=B=123abc*,C=c0ffee");
    // Plain Preempt lists nobody.
    EXPECT_EQ(preempt(C, kKeyC, kKeyB, EA), kOk);
    EXPECT_TRUE(aborted().empty());
    EXPECT_EQ(sent(), V{"B:2:1"});
    EXPECT_EQ(state(), "gen=5 rtype=2 regs=C=c0ffee*");
    // All-registrants, PRKEY 0: every other host; a failed one lists nobody.
    ASSERT_EQ(reg(A, kKeyA), kOk);
    ASSERT_EQ(reg(B, kKeyB), kOk);
    ASSERT_EQ(preempt(C, kKeyC, kKeyC, WE_AR), kOk);  // the holder itself: only the type changes
    EXPECT_EQ(state(), "gen=8 rtype=5 regs=C=c0ffee*,A=abc123*,B=123abc*");
    EXPECT_EQ(preempt_abort(A, kKeyA, 0x999, WE_AR), kConflict);
    EXPECT_TRUE(aborted().empty());
    EXPECT_EQ(preempt_abort(A, kKeyA, 0, WE), kOk);
    EXPECT_EQ(aborted(), (V{"C", "B"}));
    EXPECT_EQ(state(), "gen=9 rtype=1 regs=A=abc123*");
    // The sender's own registration never lands on the list.
    ASSERT_EQ(release(A, kKeyA, WE), kOk);
    ASSERT_EQ(reg(B, kKeyA), kOk);
    EXPECT_EQ(preempt_abort(A, kKeyA, kKeyA, WE), kOk);
    EXPECT_EQ(aborted(), V{"B"});
    EXPECT_EQ(state(), "gen=11 rtype=0 regs=");
}

// ---------------------------------------------------------------------------------------------------------
// Generation.

TEST_F(NvmeScenario, GenerationCountsRegisterPreemptClearButNotAcquireReleaseOrFailures) {
    uint32_t gen = 0;
    const auto step = [&](uint16_t status, uint16_t want, bool counts) {
        EXPECT_EQ(status, want);
        if (counts) ++gen;
        EXPECT_EQ(st.generation(), gen);
        EXPECT_EQ(st.report(O, {.numd = 15, .eds = true}).data.generation, gen);
    };
    step(reg(A, kKeyA), kOk, true);
    step(reg(A, kKeyA), kOk, true);
    step(reg(B, kKeyB), kOk, true);
    step(reg(B, 0x1), kConflict, false);
    step(replace(B, kKeyB, kKeyB), kOk, true);  // same key: still a change of generation
    step(acquire(A, kKeyA, WE), kOk, false);
    step(acquire(A, kKeyA, WE), kOk, false);
    step(release(B, kKeyB, WE), kOk, false);
    step(preempt(B, kKeyB, kKeyA, EA), kOk, true);
    step(reg(C, kKeyC), kOk, true);
    step(preempt(C, kKeyC, 0x999, EA), kConflict, false);
    step(preempt(B, kKeyB, 0x999, EA), kOk, true);  // the holder itself: PRKEY ignored
    step(release(B, kKeyB, EA), kOk, false);
    step(unreg(B, 0x5), kConflict, false);
    step(clear(C, kKeyC), kOk, true);
    step(clear(C, kKeyC), kConflict, false);
    EXPECT_EQ(state(), "gen=8 rtype=0 regs=");
}

// ---------------------------------------------------------------------------------------------------------
// I/O access matrix.

TEST_F(NvmeScenario, AccessMatrixForEveryType) {
    struct Want {
        uint8_t rtype;
        bool reg_read, reg_write, non_read, non_write;
    };
    const Want table[] = {
        {WE, true, false, true, false},   {EA, false, false, false, false},
        {WE_RO, true, true, true, false}, {EA_RO, true, true, false, false},
        {WE_AR, true, true, true, false}, {EA_AR, true, true, false, false},
    };
    ASSERT_EQ(reg(A, kKeyA), kOk);
    ASSERT_EQ(reg(B, kKeyB), kOk);
    for (IoKind k : {IoKind::read, IoKind::write}) {
        EXPECT_EQ(st.check_io(B, k), kOk);  // no reservation
        EXPECT_EQ(st.check_io(O, k), kOk);
    }
    for (const Want& w : table) {
        SCOPED_TRACE(int{w.rtype});
        ASSERT_EQ(acquire(A, kKeyA, w.rtype), kOk);
        const auto expect = [](bool allowed) { return allowed ? kOk : kIoConflict; };
        EXPECT_EQ(st.check_io(A, IoKind::read), kOk);
        EXPECT_EQ(st.check_io(A2, IoKind::write), kOk);
        EXPECT_EQ(st.check_io(B, IoKind::read), expect(w.reg_read));
        EXPECT_EQ(st.check_io(B, IoKind::write), expect(w.reg_write));
        EXPECT_EQ(st.check_io(O, IoKind::read), expect(w.non_read));
        EXPECT_EQ(st.check_io(O, IoKind::write), expect(w.non_write));
        ASSERT_EQ(release(A, kKeyA, w.rtype), kOk);
        EXPECT_EQ(state(), "gen=2 rtype=0 regs=A=abc123,B=123abc");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Notification log and mask.

// A notification goes to every controller of the host, each with its own count.
TEST_F(NvmeScenario, NotificationsReachEveryControllerOfTheHost) {
    register_abc();
    ASSERT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    ASSERT_EQ(preempt(B, kKeyB, kKeyA, WE_RO), kOk);
    EXPECT_EQ(sent(), (V{"A:1:1", "A:4:1"}));
    ASSERT_EQ(release(B, kKeyB, WE_RO), kOk);
    EXPECT_EQ(sent(), V{"C:3:2"});
    EXPECT_EQ(log(A).queued(), 1u);
    nv::ReservationLog e = take_log(A);
    EXPECT_EQ(e.count, 1u);
    EXPECT_EQ(e.type, static_cast<uint8_t>(kRegPre));
    EXPECT_EQ(e.available, 0);
    EXPECT_EQ(e.nsid, 1u);
    EXPECT_EQ(take_log(A).type, 0);
    EXPECT_EQ(take_log(A).count, 0u);
    EXPECT_EQ(drain(A2), V{"1:1"});
    EXPECT_EQ(drain(C), V{"1:2"});
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=B=123abc,C=c0ffee");
}

// `available` counts what is left after the entry; counts go up by one per entry.
TEST_F(NvmeScenario, LogEntriesComeInOrderWithRemainingPages) {
    register_abc();
    ASSERT_EQ(acquire(B, kKeyB, EA_RO), kOk);
    ASSERT_EQ(release(B, kKeyB, EA_RO), kOk);  // C: released
    ASSERT_EQ(acquire(B, kKeyB, WE_AR), kOk);
    ASSERT_EQ(release(B, kKeyB, WE_AR), kOk);  // C: released
    ASSERT_EQ(clear(B, kKeyB), kOk);           // C: preempted
    EXPECT_EQ(state(), "gen=4 rtype=0 regs=");
    nv::ReservationLog e1 = take_log(C);
    EXPECT_EQ(e1.count, 1u);
    EXPECT_EQ(e1.type, static_cast<uint8_t>(kResRel));
    EXPECT_EQ(e1.available, 2);
    nv::ReservationLog e2 = take_log(C);
    EXPECT_EQ(e2.count, 2u);
    EXPECT_EQ(e2.available, 1);
    nv::ReservationLog e3 = take_log(C);
    EXPECT_EQ(e3.count, 3u);
    EXPECT_EQ(e3.type, static_cast<uint8_t>(kResPre));
    EXPECT_EQ(e3.available, 0);
}

// nvmet keeps one mask per namespace: a mask set through any controller suppresses that type for
// every host. Bits outside 1..3 are Invalid Field (with an error location: MORE).
TEST_F(NvmeScenario, NvmetMaskIsPerNamespaceAndSuppresses) {
    register_abc();
    EXPECT_EQ(st.set_notification_mask(B, 0x1), kInvalidFieldLoc);
    EXPECT_EQ(st.set_notification_mask(B, 0x10), kInvalidFieldLoc);
    EXPECT_EQ(st.notification_mask(A), 0u);
    EXPECT_EQ(st.set_notification_mask(B, kMaskRegistrationPreempted), kOk);
    EXPECT_EQ(st.notification_mask(A), kMaskRegistrationPreempted);
    ASSERT_EQ(acquire(A, kKeyA, WE_RO), kOk);
    EXPECT_EQ(preempt(B, kKeyB, kKeyA, EA_RO), kOk);
    EXPECT_EQ(sent(), V{"C:3:2"});  // "registration preempted" to A suppressed
    EXPECT_EQ(state(), "gen=4 rtype=4 regs=B=123abc*,C=c0ffee");
    EXPECT_TRUE(drain(A).empty());
    EXPECT_EQ(st.set_notification_mask(C, kMaskReservationReleased | kMaskReservationPreempted),
              kOk);
    EXPECT_EQ(release(B, kKeyB, EA_RO), kOk);
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(clear(B, kKeyB), kOk);
    EXPECT_TRUE(sent().empty());
    EXPECT_EQ(state(), "gen=5 rtype=0 regs=");
    EXPECT_EQ(drain(C), V{"1:2"});
}

// The spdk profile keeps the mask per controller: A's second controller still hears.
TEST_F(NvmeScenario, SpdkMaskIsPerController) {
    make({.profile = NvmeProfile::spdk});
    register_abc();
    EXPECT_EQ(st.set_notification_mask(A, kMaskAll), kOk);
    EXPECT_EQ(st.set_notification_mask(A, 0x20), 0x0002);
    EXPECT_EQ(st.notification_mask(A2), 0u);
    ASSERT_EQ(acquire(A, kKeyA, EA), kOk);
    EXPECT_EQ(preempt(B, kKeyB, kKeyA, EA), kOk);
    EXPECT_EQ(sent(), V{"A:4:1"});
    EXPECT_EQ(state(), "gen=4 rtype=2 regs=B=123abc*,C=c0ffee");
    EXPECT_TRUE(drain(A).empty());
    EXPECT_EQ(drain(A2), V{"1:1"});
}

// A full log loses entries and counts them; the entry read before the gap carries the count of the
// last lost one (nvmet's accounting), so the host sees that pages were lost.
TEST_F(NvmeScenario, LogOverflowLosesAndCountsEntries) {
    make({}, 2);
    register_abc();
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(acquire(B, kKeyB, WE_RO), kOk);
        ASSERT_EQ(release(B, kKeyB, WE_RO), kOk);
        EXPECT_EQ(sent(), (V{"A:1:2", "A:4:2", "C:3:2"}));  // queued or lost, all attempted
    }
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123,B=123abc,C=c0ffee");
    EXPECT_EQ(log(C).queued(), 2u);
    EXPECT_EQ(log(C).lost(), 3u);
    EXPECT_EQ(drain(C), (V{"1:2", "5:2"}));  // 3, 4 and 5 were lost
    // After draining, counting goes on and nothing more is owed.
    ASSERT_EQ(acquire(B, kKeyB, WE_RO), kOk);
    ASSERT_EQ(release(B, kKeyB, WE_RO), kOk);
    EXPECT_EQ(drain(C), V{"6:2"});
    EXPECT_EQ(log(C).lost(), 3u);
    // A gap between two queued entries: A holds 1 and 2 and has lost 3..6; one taken makes room
    // for 7, and 8 is lost again.
    EXPECT_EQ(log(A).lost(), 4u);
    EXPECT_EQ(take_log(A).count, 1u);
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(acquire(B, kKeyB, WE_RO), kOk);
        ASSERT_EQ(release(B, kKeyB, WE_RO), kOk);
    }
    EXPECT_EQ(drain(A), (V{"6:2", "8:2"}));
    EXPECT_EQ(log(A).lost(), 5u);
    EXPECT_EQ(state(), "gen=3 rtype=0 regs=A=abc123,B=123abc,C=c0ffee");
    EXPECT_EQ(st.check_invariants(), "");
}

// nvmet keeps the log per controller: a second namespace's notifications go on the same queue,
// each entry naming its NSID, counted by the controller's one counter; 64 entries fit, the
// 65th and later are lost and counted (the last entry read carries the count of the last lost).
TEST_F(NvmeScenario, OneLogPerControllerForEveryNamespaceLosingPast64) {
    NvmePrState ns2({.nsid = 2});
    for (const auto* c : {&A, &A2, &B, &C, &O}) ns2.attach(*c);
    auto on2 = [&](const NvmePrResult& r) {
        route(r, ns2);
        EXPECT_EQ(ns2.check_invariants(), "");
        return r.status;
    };
    auto reg2 = [&](const NvmeController& c, uint64_t key) {
        return on2(ns2.execute_register(
            c, {nv::RegisterAction::register_key, false, nv::Cptpl::no_change, 0, key}));
    };
    register_abc();
    ASSERT_EQ(reg2(A, kKeyA), kOk);
    ASSERT_EQ(reg2(B, kKeyB), kOk);
    ASSERT_EQ(preempt(B, kKeyB, kKeyA, WE), kOk);  // ns1: A preempted
    ASSERT_EQ(on2(ns2.execute_acquire(B, {nv::AcquireAction::preempt, false, WE, kKeyB, kKeyA})),
              kOk);  // ns2: A preempted
    EXPECT_EQ(log(A).queued(), 2u);
    nv::ReservationLog e = take_log(A);
    EXPECT_EQ(e.nsid, 1u);
    EXPECT_EQ(e.available, 1);
    EXPECT_EQ(drain(A, true), V{"2:1:ns2"});
    EXPECT_EQ(drain(A2, true), (V{"1:1:ns1", "2:1:ns2"}));
    EXPECT_TRUE(drain(B, true).empty());

    // 70 more for A, alternating namespaces: A registers again and B preempts it each time.
    for (int i = 0; i < 70; ++i) {
        if (i % 2 == 0) {
            ASSERT_EQ(reg(A, kKeyA), kOk);
            ASSERT_EQ(preempt(B, kKeyB, kKeyA, WE), kOk);
        } else {
            ASSERT_EQ(reg2(A, kKeyA), kOk);
            ASSERT_EQ(
                on2(ns2.execute_acquire(B, {nv::AcquireAction::preempt, false, WE, kKeyB, kKeyA})),
                kOk);
        }
    }
    EXPECT_EQ(log(A).queued(), 64u);
    EXPECT_EQ(log(A).lost(), 6u);
    const V entries = drain(A, true);
    ASSERT_EQ(entries.size(), 64u);
    EXPECT_EQ(entries[0], "3:1:ns1");
    EXPECT_EQ(entries[1], "4:1:ns2");
    EXPECT_EQ(entries[62], "65:1:ns1");
    EXPECT_EQ(entries[63], "72:1:ns2");  // counts 67..72 were lost after it
    EXPECT_EQ(log(A).lost(), 6u);
    EXPECT_EQ(take_log(A).type, 0);
}

// A re-attached controller id with another host identifier is a new controller: the old host's
// notifications no longer reach it. A detached controller gets none.
TEST_F(NvmeScenario, ReattachedControllerIsAnotherHosts) {
    register_abc();
    st.attach({kHostO, 3});
    ASSERT_EQ(preempt(B, kKeyB, kKeyC, WE), kOk);
    EXPECT_TRUE(sent().empty());
    st.detach(1);
    ASSERT_EQ(preempt(B, kKeyB, kKeyA, WE), kOk);
    EXPECT_EQ(sent(), V{"A:4:1"});  // only A's attached controller
    EXPECT_EQ(state(), "gen=5 rtype=0 regs=B=123abc");
}

// ---------------------------------------------------------------------------------------------------------
// Report.

TEST_F(NvmeScenario, ReportFormatLengthAndTruncation) {
    register_abc();
    ASSERT_EQ(acquire(B, kKeyB, WE), kOk);
    auto r = st.report(A, {.numd = 255, .eds = false});
    EXPECT_EQ(r.status, kHostIdFormat);
    r = st.report(A, {.numd = 14, .eds = true});  // 60 bytes < the 64-byte header
    EXPECT_EQ(r.status, kInvalidFieldLoc);
    r = st.report(A, {.numd = 15, .eds = true});  // header only
    EXPECT_EQ(r.status, kOk);
    EXPECT_EQ(summary(r.data), "gen=3 rtype=1 regs= regctl=3");
    r = st.report(A, {.numd = (64 + 2 * 64) / 4 - 1, .eds = true});
    EXPECT_EQ(summary(r.data), "gen=3 rtype=1 regs=A=abc123,B=123abc* regctl=3");
    EXPECT_FALSE(r.data.ptpls);
    EXPECT_EQ(state(), "gen=3 rtype=1 regs=A=abc123,B=123abc*,C=c0ffee");
}

// With 64-bit host identifiers the 24-byte layout is allowed.
TEST_F(NvmeScenario, ReportWithoutEdsFor64BitHostIds) {
    make({.hostid_128 = false});
    ASSERT_EQ(reg(A, kKeyA), kOk);
    auto r = st.report(A, {.numd = 5, .eds = false});  // 24 bytes: header only
    EXPECT_EQ(r.status, kOk);
    EXPECT_FALSE(r.data.extended);
    EXPECT_EQ(summary(r.data), "gen=1 rtype=0 regs= regctl=1");
    r = st.report(A, {.numd = 11, .eds = false});
    EXPECT_EQ(summary(r.data), "gen=1 rtype=0 regs=A=abc123");
    EXPECT_EQ(st.report(A, {.numd = 4, .eds = false}).status, kInvalidFieldLoc);
}

// CNTLID: 0xffff under the dynamic model (default, as nvmet); else the controller the host last
// issued a reservation command through.
TEST_F(NvmeScenario, ReportCntlidDynamicOrLastController) {
    make({.dynamic_cntlid = false});
    ASSERT_EQ(reg(A, kKeyA), kOk);
    ASSERT_EQ(reg(B, kKeyB), kOk);
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=A=abc123@1,B=123abc@2");
    ASSERT_EQ(acquire(A2, kKeyA, WE), kOk);
    EXPECT_EQ(state(), "gen=2 rtype=1 regs=A=abc123*@4,B=123abc@2");
    EXPECT_EQ(acquire(A, 0xbad, WE), kConflict);  // a failed command does not move it
    EXPECT_EQ(state(), "gen=2 rtype=1 regs=A=abc123*@4,B=123abc@2");
}

// ---------------------------------------------------------------------------------------------------------
// PTPL and the spdk profile.

TEST_F(NvmeScenario, NvmetIgnoresCptplWithoutPtplSupport) {
    EXPECT_EQ(reg(A, kKeyA, 0, false, nv::Cptpl::persist), kOk);
    EXPECT_FALSE(st.ptpl());
    EXPECT_FALSE(st.report(O, {.numd = 31, .eds = true}).data.ptpls);
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
}

TEST_F(NvmeScenario, PtplSupportedSetsAndClearsOnSuccessOnly) {
    make({.ptpl_supported = true});
    EXPECT_EQ(reg(A, kKeyA, 0, false, nv::Cptpl::persist), kOk);
    EXPECT_TRUE(st.ptpl());
    EXPECT_TRUE(st.report(O, {.numd = 31, .eds = true}).data.ptpls);
    EXPECT_EQ(reg(A, 0x1, 0, false, nv::Cptpl::clear), kConflict);
    EXPECT_TRUE(st.ptpl());
    EXPECT_EQ(reg(A, kKeyA, 0, false, nv::Cptpl::clear), kOk);
    EXPECT_FALSE(st.ptpl());
    EXPECT_EQ(state(), "gen=2 rtype=0 regs=A=abc123");
}

// SPDK without a PTPL file answers CPTPL 3 with Invalid Field (before anything else), rejects NRKEY
// 0 on a new registration and on Replace, and sets no DNR.
TEST_F(NvmeScenario, SpdkProfileRejectsCptplPersistAndZeroKeys) {
    make({.profile = NvmeProfile::spdk});
    EXPECT_EQ(reg(A, kKeyA, 0, false, nv::Cptpl::persist), 0x0002);
    EXPECT_EQ(state(), "gen=0 rtype=0 regs=");
    EXPECT_EQ(reg(A, 0), 0x0002);
    EXPECT_EQ(state(), "gen=0 rtype=0 regs=");
    EXPECT_EQ(reg(A, kKeyA), kOk);
    EXPECT_EQ(replace(A, kKeyA, 0), 0x0002);
    EXPECT_EQ(reg(A, 0x5), 0x0083);
    EXPECT_EQ(acquire(A, kKeyA, WE, true), 0x0002);
    EXPECT_EQ(st.check_io(O, IoKind::write), kOk);
    ASSERT_EQ(acquire(A, kKeyA, WE), kOk);
    EXPECT_EQ(st.check_io(O, IoKind::write), 0x0083);
    EXPECT_EQ(state(), "gen=1 rtype=1 regs=A=abc123*");
    make({.profile = NvmeProfile::spdk, .ptpl_supported = true});
    EXPECT_EQ(reg(A, kKeyA, 0, false, nv::Cptpl::persist), kOk);
    EXPECT_TRUE(st.ptpl());
    EXPECT_EQ(state(), "gen=1 rtype=0 regs=A=abc123");
}

}  // namespace
}  // namespace prfence::sim::test
