// SPDX-License-Identifier: MIT
// prsim's task set without a socket: scripted commands from two initiators, with the answers each
// connection gets, in order, with status, sense and flags. Covers TASK SET FULL and slots, a LUN
// the farm does not have, held and delayed commands, the timer order, aborts by the client, by a
// disconnect and by PREEMPT AND ABORT (only the preempted nexuses' commands, only on its own LU,
// answered before the PREEMPT AND ABORT itself), commands executed with their answer lost, and the
// trace events of every answer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "interposer/prsim/task_set.h"
#include "tests/support/lu_test_util.h"
#include "uring_engine/wire/status.h"

namespace prfence::sim::test {
namespace {

const wire::TransportId kA = iscsi("iqn.2001-05.com.example:a", "1");
const wire::TransportId kB = iscsi("iqn.2001-05.com.example:b", "1");

// The connections, as a list of the answers they got.
class Answers : public TaskSet::Clients {
  public:
    bool connected(uint64_t conn) const override { return up.count(conn) != 0; }
    void respond(uint64_t conn, uint64_t tag, uint8_t status, uint8_t host, ByteView sense,
                 ByteView data_in, uint8_t flags) override {
        if (!connected(conn)) return;
        std::ostringstream o;
        o << "c" << conn << " t" << tag << " " << wire::status_name(status);
        if (!sense.empty()) {
            auto s = wire::decode_sense(sense);
            char buf[32];
            if (s)
                std::snprintf(buf, sizeof buf, " %x/%02x/%02x", static_cast<unsigned>(s->key),
                              s->asc, s->ascq);
            o << (s ? buf : " (bad sense)");
        }
        if (host != 0) o << " " << wire::host_byte_name(host);
        if (!data_in.empty()) o << " +" << data_in.size();
        if (flags == proto::kRespAbortedByPreempt) o << " preempted";
        if (flags == proto::kRespAbortedByClient) o << " by-client";
        got.push_back(o.str());
    }
    std::vector<std::string> take() { return std::exchange(got, {}); }

    std::set<uint64_t> up;
    std::vector<std::string> got;
};

// A command as a client sends it.
struct Cmd {
    wire::Cdb cdb;
    Bytes data;
    uint32_t alloc = 0;
};

Cmd tur() { return {wire::test_unit_ready_cdb()}; }
Cmd read10() { return {wire::read10_cdb(0, 1), {}, 512}; }
Cmd prout(PrOutAction sa, PrType type, uint64_t key, uint64_t sa_key) {
    wire::ProutParams p;
    p.key = key;
    p.sa_key = sa_key;
    auto data = wire::encode_prout_params(p);
    EXPECT_TRUE(data.ok());
    return {wire::prout_cdb(sa, type, static_cast<uint32_t>(data->size())), *data};
}
Cmd preempt_abort(uint64_t key, uint64_t victim) {
    return prout(PrOutAction::preempt_and_abort, WE, key, victim);
}

class TaskSetTest : public ::testing::Test {
  protected:
    void SetUp() override { build(nullptr, nullptr); }

    void build(TraceSink* trace, TraceSink* dmesg) {
        cfg.luns = 2;
        cfg.limits.max_in_flight = 4;
        cfg.trace.cpu = 0;
        lus.clear();
        for (uint32_t l = 0; l < cfg.luns; ++l) {
            LuConfig lc;
            lc.lun = l;
            auto lu = LogicalUnit::create(lc);
            ASSERT_TRUE(lu.ok());
            lus.push_back(std::move(lu).value());
        }
        registry = std::make_unique<NexusRegistry>(cfg);
        tasks = std::make_unique<TaskSet>(cfg, lus, faults, trace, dmesg, answers);
        a = *registry->find_or_add(kA, 1);  // host 0
        b = *registry->find_or_add(kB, 1);  // host 1
        // Both nexuses have seen their power-on unit attention on every LU.
        for (uint32_t l = 0; l < cfg.luns; ++l) {
            ha[l] = Host(lus[l].get(), {kA, 1});
            hb[l] = Host(lus[l].get(), {kB, 1});
            ha[l].drain_uas();
            hb[l].drain_uas();
        }
    }

    void connect(uint64_t conn) {
        answers.up.insert(conn);
        tasks->open(conn);
    }
    void send(uint64_t conn, NexusRec* nx, uint64_t tag, uint32_t lun, const Cmd& c,
              int64_t now = 1000) {
        proto::CommandView v;
        v.tag = tag;
        v.lun = lun;
        v.cdb_len = c.cdb.len;
        std::copy(c.cdb.b.begin(), c.cdb.b.begin() + c.cdb.len, v.cdb.begin());
        v.alloc_len = c.alloc;
        const Bytes data = c.data;  // gone after submit, as a frame's bytes are
        v.data_out = data;
        tasks->submit(conn, *nx, v, now);
    }
    void arm(const std::string& fault) {
        auto f = parse_fault(fault);
        ASSERT_TRUE(f.ok()) << f.error().msg;
        faults.arm(*f, 0);
    }
    // A holds a WRITE EXCLUSIVE reservation with key A; B is registered with key B.
    void reserve_by_a(uint32_t lun) {
        ASSERT_EQ(ha[lun].reg(0, 0xa).status, wire::sam::good);
        ASSERT_EQ(hb[lun].reg(0, 0xb).status, wire::sam::good);
        ASSERT_EQ(ha[lun].reserve(WE, 0xa).status, wire::sam::good);
    }

    ServerConfig cfg;
    std::vector<std::unique_ptr<LogicalUnit>> lus;
    FaultTable faults{1};
    Answers answers;
    std::unique_ptr<NexusRegistry> registry;
    std::unique_ptr<TaskSet> tasks;
    NexusRec* a = nullptr;
    NexusRec* b = nullptr;
    Host ha[2], hb[2];
    using V = std::vector<std::string>;
};

TEST_F(TaskSetTest, CommandsExecuteAtOnceAndAreAnsweredInOrder) {
    connect(1);
    send(1, a, 10, 0, tur());
    send(1, a, 11, 1, read10());
    send(1, a, 12, 0, {wire::inquiry_cdb(false, 0, 255), {}, 8});  // cut to the allocation length
    EXPECT_EQ(answers.take(), (V{"c1 t10 GOOD", "c1 t11 GOOD +512", "c1 t12 GOOD +8"}));
    EXPECT_EQ(tasks->waiting(), 0u);
    EXPECT_EQ(tasks->outstanding(1), 0u);
}

TEST_F(TaskSetTest, TheFirstCommandOfANewNexusGetsItsUnitAttention) {
    NexusRec* c = *registry->find_or_add(iscsi("iqn.x:c"), 2);
    connect(1);
    send(1, c, 1, 0, tur());
    send(1, c, 2, 0, tur());
    EXPECT_EQ(answers.take(), (V{"c1 t1 CHECK CONDITION 6/29/00", "c1 t2 GOOD"}));
    EXPECT_NE(c->lu_nexus[0], kNoNexus);
    EXPECT_EQ(c->lu_nexus[1], kNoNexus);
}

TEST_F(TaskSetTest, ALunTheFarmDoesNotHaveIsIllegalAndFreesItsSlot) {
    connect(1);
    for (uint64_t tag = 1; tag <= 6; ++tag) send(1, a, tag, 2, tur());  // more than 4 slots
    const V got = answers.take();
    ASSERT_EQ(got.size(), 6u);
    for (const auto& g : got) EXPECT_NE(g.find("CHECK CONDITION 5/25/00"), std::string::npos) << g;
}

TEST_F(TaskSetTest, HeldCommandsFillTheTaskSetUntilAborted) {
    arm("timeout");
    connect(1);
    for (uint64_t tag = 1; tag <= 4; ++tag) send(1, a, tag, 0, tur());
    EXPECT_TRUE(answers.take().empty());
    EXPECT_EQ(tasks->held(), 4u);
    EXPECT_EQ(tasks->outstanding(1), 4u);
    EXPECT_TRUE(tasks->in_flight(1, 3));
    EXPECT_FALSE(tasks->in_flight(1, 5));
    EXPECT_FALSE(tasks->in_flight(2, 3));

    send(1, a, 5, 0, tur());  // no slot left
    EXPECT_EQ(answers.take(), V{"c1 t5 TASK SET FULL"});
    EXPECT_FALSE(tasks->in_flight(1, 5));

    tasks->abort(1, 3);
    tasks->abort(1, 3);   // answered already: nothing
    tasks->abort(1, 99);  // never seen: nothing
    EXPECT_EQ(answers.take(), V{"c1 t3 TASK ABORTED by-client"});
    EXPECT_EQ(tasks->held(), 3u);
    EXPECT_EQ(tasks->aborted(), 1u);

    send(1, a, 6, 0, tur());  // its slot is free again: held, not TASK SET FULL
    EXPECT_TRUE(answers.take().empty());
    EXPECT_EQ(tasks->outstanding(1), 4u);
}

TEST_F(TaskSetTest, SlotsArePerConnection) {
    arm("timeout");
    connect(1);
    connect(2);
    for (uint64_t tag = 1; tag <= 4; ++tag) send(1, a, tag, 0, tur());
    send(2, a, 1, 0, tur());  // the same nexus, another connection: slots of its own
    send(1, a, 9, 0, tur());
    EXPECT_EQ(answers.take(), V{"c1 t9 TASK SET FULL"});
    EXPECT_EQ(tasks->outstanding(2), 1u);
}

TEST_F(TaskSetTest, DelayedCommandsRunInDueOrder) {
    arm("latency,us=100");  // 100000 ns
    connect(1);
    send(1, a, 1, 0, tur(), 5000);
    send(1, a, 2, 0, tur(), 1000);
    send(1, a, 3, 1, tur(), 3000);
    EXPECT_TRUE(answers.take().empty());
    EXPECT_EQ(tasks->delayed(), 3u);
    EXPECT_EQ(tasks->held(), 0u);
    ASSERT_TRUE(tasks->next_due().has_value());
    EXPECT_EQ(*tasks->next_due(), 101000);

    tasks->run_due(100999);
    EXPECT_TRUE(answers.take().empty());
    tasks->run_due(103000);
    EXPECT_EQ(answers.take(), (V{"c1 t2 GOOD", "c1 t3 GOOD"}));
    EXPECT_EQ(*tasks->next_due(), 105000);
    EXPECT_TRUE(tasks->in_flight(1, 1));
    tasks->run_due(1000000);
    EXPECT_EQ(answers.take(), V{"c1 t1 GOOD"});
    EXPECT_FALSE(tasks->next_due().has_value());
    EXPECT_EQ(tasks->waiting(), 0u);
}

TEST_F(TaskSetTest, ADelayedCommandKeepsItsDataOut) {
    arm("latency,us=10,class=pr_out");
    connect(1);
    send(1, a, 1, 0, prout(PrOutAction::register_key, PrType::none, 0, 0x1234));
    EXPECT_TRUE(ha[0].keys().keys.empty());
    tasks->run_due(1000000);
    EXPECT_EQ(answers.take(), V{"c1 t1 GOOD"});
    EXPECT_EQ(ha[0].keys().keys, std::vector<uint64_t>{0x1234});
}

TEST_F(TaskSetTest, FaultStatusesAreAnsweredWithoutExecuting) {
    connect(1);
    arm("busy,count=1");
    send(1, a, 1, 0, read10());
    arm("task_set_full,count=1");
    send(1, a, 2, 0, read10());
    arm("not_ready,count=1");
    send(1, a, 3, 0, read10());
    send(1, a, 4, 0, read10());
    EXPECT_EQ(answers.take(), (V{"c1 t1 BUSY", "c1 t2 TASK SET FULL",
                                 "c1 t3 CHECK CONDITION 2/04/01", "c1 t4 GOOD +512"}));
}

// An answer fault answers as told, without executing: a sense key with INFORMATION (VALID set), a
// bare status, a host byte. Its count runs out and the next command executes.
TEST_F(TaskSetTest, AnswerFaultsAnswerAsToldWithoutExecuting) {
    connect(1);
    arm("answer,key=3,asc=11,ascq=0,info=2048,count=1");
    send(1, a, 1, 0, read10());
    arm("answer,status=4,count=1");
    send(1, a, 2, 0, read10());
    arm("answer,status=0,host_byte=1,count=1");
    send(1, a, 3, 0, read10());
    send(1, a, 4, 0, read10());
    EXPECT_EQ(answers.take(), (V{"c1 t1 CHECK CONDITION 3/11/00", "c1 t2 CONDITION MET",
                                 "c1 t3 GOOD DID_NO_CONNECT", "c1 t4 GOOD +512"}));
    auto f = parse_fault("answer,key=3,asc=11,ascq=0,info=2048");
    ASSERT_TRUE(f.ok()) << f.error().msg;
    EXPECT_EQ(f->info, 2048u);
}

TEST_F(TaskSetTest, ACommandExecutedWithItsAnswerLostIsHeld) {
    arm("timeout,executed=1,class=pr_out");
    connect(1);
    send(1, a, 1, 0, prout(PrOutAction::register_key, PrType::none, 0, 0x77));
    EXPECT_TRUE(answers.take().empty());
    EXPECT_EQ(ha[0].keys().keys, std::vector<uint64_t>{0x77});  // executed
    EXPECT_EQ(tasks->held(), 1u);
    tasks->abort(1, 1);
    EXPECT_EQ(answers.take(), V{"c1 t1 TASK ABORTED by-client"});
    EXPECT_EQ(tasks->held(), 0u);
}

TEST_F(TaskSetTest, PreemptAndAbortAbortsThePreemptedNexusOnItsOwnLuOnly) {
    reserve_by_a(0);
    ASSERT_EQ(hb[1].reg(0, 0xb).status, wire::sam::good);
    connect(1);             // A
    connect(2);             // B
    arm("timeout,host=1");  // B's commands never complete
    send(2, b, 20, 0, read10());
    send(2, b, 21, 1, read10());  // another LU
    send(2, b, 22, 0, tur());
    EXPECT_TRUE(answers.take().empty());
    EXPECT_EQ(tasks->held(), 3u);

    send(1, a, 10, 0, preempt_abort(0xa, 0xb));
    // B's commands on LU 0, in arrival order, then the PREEMPT AND ABORT.
    EXPECT_EQ(answers.take(),
              (V{"c2 t20 TASK ABORTED preempted", "c2 t22 TASK ABORTED preempted", "c1 t10 GOOD"}));
    EXPECT_EQ(tasks->aborted(), 2u);
    EXPECT_EQ(tasks->held(), 1u);
    EXPECT_TRUE(tasks->in_flight(2, 21));  // LU 1's task set is not touched
    EXPECT_FALSE(tasks->in_flight(2, 20));
    EXPECT_EQ(ha[0].keys().keys, std::vector<uint64_t>{0xa});
}

TEST_F(TaskSetTest, PreemptAndAbortLeavesOtherNexusesAlone) {
    reserve_by_a(0);
    NexusRec* c = *registry->find_or_add(iscsi("iqn.x:c"), 1);  // host 2, not registered
    connect(1);
    connect(2);
    connect(3);
    arm("timeout,class=read");
    send(2, b, 1, 0, read10());
    send(3, c, 1, 0, read10());
    send(1, a, 2, 0, preempt_abort(0xa, 0xb));
    EXPECT_EQ(answers.take(), (V{"c2 t1 TASK ABORTED preempted", "c1 t2 GOOD"}));
    EXPECT_TRUE(tasks->in_flight(3, 1));
}

TEST_F(TaskSetTest, ADelayedPreemptAndAbortAbortsTheHoldersCommandsButNotItself) {
    // SPC-4 5.13.11.2.6: the holder preempting its own reservation aborts its own commands, and
    // only them (B's key is not the one preempted).
    reserve_by_a(0);
    connect(1);
    connect(2);
    arm("timeout,class=read");
    arm("latency,us=50,class=pr_out");
    send(1, a, 1, 0, read10());
    send(2, b, 2, 0, read10());
    send(1, a, 3, 0, preempt_abort(0xa, 0xa));
    send(1, a, 4, 0, read10());
    EXPECT_TRUE(answers.take().empty());
    EXPECT_EQ(tasks->waiting(), 4u);
    tasks->run_due(1000000);
    EXPECT_EQ(answers.take(),
              (V{"c1 t1 TASK ABORTED preempted", "c1 t4 TASK ABORTED preempted", "c1 t3 GOOD"}));
    EXPECT_EQ(tasks->waiting(), 1u);
    EXPECT_TRUE(tasks->in_flight(2, 2));
    EXPECT_EQ(tasks->aborted(), 2u);
}

TEST_F(TaskSetTest, ClosingAConnectionForgetsItsCommandsUnanswered) {
    arm("timeout,class=read");
    arm("latency,us=10,class=pr_out");
    connect(1);
    send(1, b, 1, 0, read10());
    send(1, b, 2, 0, prout(PrOutAction::register_key, PrType::none, 0, 0x55));
    EXPECT_EQ(tasks->held(), 1u);
    answers.up.erase(1);
    tasks->close(1);
    EXPECT_EQ(tasks->held(), 0u);
    EXPECT_EQ(tasks->waiting(), 0u);
    EXPECT_EQ(tasks->outstanding(1), 0u);
    tasks->run_due(1000000);  // the delayed REGISTER's heap entry is skipped
    EXPECT_TRUE(answers.take().empty());
    EXPECT_TRUE(hb[0].keys().keys.empty());
}

TEST_F(TaskSetTest, ADelayedCommandOfAClientCutOffIsNotExecuted) {
    arm("latency,us=10");
    connect(1);
    send(1, b, 1, 0, prout(PrOutAction::register_key, PrType::none, 0, 0x55));
    answers.up.erase(1);  // cut off, not closed yet
    tasks->run_due(1000000);
    EXPECT_TRUE(answers.take().empty());
    EXPECT_TRUE(hb[0].keys().keys.empty());
    tasks->close(1);
}

TEST_F(TaskSetTest, AnAbortForAClientCutOffIsCountedNotAnswered) {
    arm("timeout");
    connect(1);
    send(1, a, 1, 0, tur());
    answers.up.erase(1);
    tasks->abort(1, 1);
    EXPECT_TRUE(answers.take().empty());
    EXPECT_EQ(tasks->aborted(), 1u);
    EXPECT_EQ(tasks->held(), 0u);
    EXPECT_EQ(tasks->outstanding(1), 0u);
}

// Every answer is a completion line; a RESERVATION CONFLICT also prints the kernel's dmesg line,
// into the trace when there is no dmesg sink.
TEST_F(TaskSetTest, AnswersAreTraced) {
    char path[] = "/tmp/prsim_task_set_traceXXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    auto sink = TraceSink::open(path);
    ASSERT_TRUE(sink.ok());
    build(sink->get(), nullptr);
    reserve_by_a(0);
    arm("timeout,class=read");
    connect(1);
    connect(2);
    send(2, b, 7, 0, read10());
    send(2, b, 8, 0, prout(PrOutAction::reserve, WE, 0xb, 0));  // conflict
    send(1, a, 9, 0, preempt_abort(0xa, 0xb));
    EXPECT_EQ(answers.take(),
              (V{"c2 t8 RESERVATION CONFLICT", "c2 t7 TASK ABORTED preempted", "c1 t9 GOOD"}));
    ASSERT_TRUE((*sink)->flush());
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    ::unlink(path);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_NE(lines[0].find("scsi_dispatch_cmd_done"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("host_no=1 "), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("RESERVATION_CONFLICT"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("reservation conflict"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("TASK_ABORTED"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("driver_tag=0"), std::string::npos) << lines[2];
    EXPECT_NE(lines[3].find("host_no=0 "), std::string::npos) << lines[3];
    EXPECT_NE(lines[3].find("SAM_STAT_GOOD"), std::string::npos) << lines[3];
}

}  // namespace
}  // namespace prfence::sim::test
