// SPDX-License-Identifier: MIT
// The batch executor and the plans against a farm of in-process prsim LUs reached through the ring:
// whole failover sequences, retries, deadlines and queue-depth limits, each LUN with its own
// outcome.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>

#include "interposer/lu/lu.h"
#include "tests/support/inproc_farm.h"
#include "uring_engine/policy/executor.h"
#include "uring_engine/policy/plans.h"
#include "uring_engine/wire/cdb.h"

namespace prfence::engine {
namespace {

using test::Farm;
using test::iscsi_node;

PlanOptions plan() { return PlanOptions{}; }

std::unique_ptr<LunJob> reg(uint64_t key) {
    ProutSpec s;
    s.action = wire::PrOutAction::register_key;
    s.params.sa_key = key;
    return make_prout_job(s, plan());
}
std::unique_ptr<LunJob> reserve(uint64_t key, wire::PrType t) {
    ProutSpec s;
    s.action = wire::PrOutAction::reserve;
    s.type = t;
    s.params.key = key;
    return make_prout_job(s, plan());
}

TEST(EngineInproc, FailoverAcrossTheFarm) {
    Farm f(64);
    // A registers (the first command of every nexus meets POWER ON: absorbed by a retry) and
    // reserves.
    auto [s1, j1] = f.run(f.a, [] { return reg(0xa); });
    EXPECT_EQ(s1.ok, 64u);
    EXPECT_EQ(s1.worst, wire::Category::clean);
    EXPECT_GE(s1.retries, 64u);
    for (auto& j : j1) EXPECT_GE(j->outcome().retries, 1u) << j->outcome().device;
    auto [s2, j2] = f.run(f.a, [] { return reserve(0xa, wire::PrType::exclusive_access); });
    EXPECT_EQ(s2.ok, 64u);

    // B cannot read while A holds Exclusive Access.
    auto nb = f.lus[0]->attach({iscsi_node("node-b"), 2});
    auto rd = f.lus[0]->execute(nb, wire::read10_cdb(0, 1).bytes(), {});
    // B's first command still reports POWER ON; the next one is the conflict.
    if (rd.status == wire::sam::check_condition)
        rd = f.lus[0]->execute(nb, wire::read10_cdb(0, 1).bytes(), {});
    EXPECT_EQ(rd.status, wire::sam::reservation_conflict);

    // B registers and fences A on every LU in one batch.
    auto [s3, j3] = f.run(f.b, [] { return reg(0xb); });
    EXPECT_EQ(s3.ok, 64u);
    auto [s4, j4] =
        f.run(f.b, [] { return make_fence_job(0xb, 0xa, wire::PrType::exclusive_access, plan()); });
    EXPECT_EQ(s4.ok, 64u);
    EXPECT_EQ(s4.commands, 64u * 3);
    for (auto& j : j4) {
        const auto& o = j->outcome();
        ASSERT_TRUE(o.reservation) << o.device;
        EXPECT_TRUE(o.reservation->reserved);
        EXPECT_EQ(o.reservation->key, 0xbu);
        EXPECT_EQ(o.reservation->type, 3);
        ASSERT_TRUE(o.keys);
        EXPECT_EQ(o.keys->keys, (std::vector<uint64_t>{0xa, 0xb}));  // read before the preempt
    }

    // A is fenced: its read conflicts, its next PR command first reports the preemption.
    auto na = f.lus[5]->attach({iscsi_node("node-a"), 1});
    auto ua = f.lus[5]->execute(na, wire::read10_cdb(0, 1).bytes(), {});
    EXPECT_EQ(ua.status, wire::sam::check_condition);
    auto rd2 = f.lus[5]->execute(na, wire::read10_cdb(0, 1).bytes(), {});
    EXPECT_EQ(rd2.status, wire::sam::reservation_conflict);

    // Fencing again is idempotent: the victim is already gone.
    auto [s5, j5] =
        f.run(f.b, [] { return make_fence_job(0xb, 0xa, wire::PrType::exclusive_access, plan()); });
    EXPECT_EQ(s5.ok, 64u);
    EXPECT_NE(j5[0]->outcome().error.find("already fenced"), std::string::npos);

    // A, fenced and unregistered, cannot fence B: a clear per-LUN failure, exit category 24.
    auto [s6, j6] =
        f.run(f.a, [] { return make_fence_job(0xa, 0xb, wire::PrType::exclusive_access, plan()); });
    EXPECT_EQ(s6.failed, 64u);
    EXPECT_EQ(s6.worst, wire::Category::reservation_conflict);
    EXPECT_NE(j6[0]->outcome().error.find("not registered"), std::string::npos);

    // A breaks back in deliberately: takeover registers, preempts B and holds every LU.
    auto [s7, j7] =
        f.run(f.a, [] { return make_takeover_job(0xa, wire::PrType::write_exclusive, plan()); });
    EXPECT_EQ(s7.ok, 64u);
    for (auto& j : j7) EXPECT_EQ(j->outcome().reservation->key, 0xau);
}

TEST(EngineInproc, ReadKeysAndFullStatusPerLun) {
    Farm f(8);
    f.run(f.a, [] { return reg(0x1111); });
    f.run(f.b, [] { return reg(0x2222); });
    auto [s, jobs] =
        f.run(f.a, [] { return make_read_job(wire::PrInAction::read_full_status, plan()); });
    EXPECT_EQ(s.ok, 8u);
    for (auto& j : jobs) {
        ASSERT_TRUE(j->outcome().full_status);
        EXPECT_EQ(j->outcome().full_status->entries.size(), 2u);
    }
}

TEST(EngineInproc, LatencyIsOverlappedAcrossLuns) {
    // 200 LUNs x 3 commands at 2 ms each: one at a time would take 1.2 s. Not a timing assertion
    // (the benchmark measures); this checks the batch completes and every command went through the
    // timer path.
    Farm f(200, 2'000'000);
    f.run(f.a, [] { return reg(0xa); });
    f.run(f.b, [] { return reg(0xb); });
    auto [s, jobs] =
        f.run(f.b, [] { return make_fence_job(0xb, 0xa, wire::PrType::write_exclusive, plan()); });
    EXPECT_EQ(s.ok, 200u);
    EXPECT_GE(s.p50_ns, 2'000'000u);
}

// A scripted path: answers come from a queue of responses (or never), through the ring.
class ScriptedPath final : public Path {
  public:
    ScriptedPath(Ring& ring, CompletionSink& sink, unsigned depth = 16)
        : ring_(ring), sink_(sink), depth_(depth) {}
    const std::string& name() const override { return name_; }
    unsigned queue_depth() const override { return depth_; }
    unsigned in_flight() const override { return in_flight_; }
    const std::string& registration_scope() const override { return scope; }
    std::string scope;  // as an NVMe path's: its host
    Status submit(uint64_t tag, const ScsiRequest& req) override {
        submitted.push_back(req.cdb);
        data_out.push_back(req.data_out);
        max_in_flight = std::max(max_in_flight, ++in_flight_);
        if (script.empty() || script.front().never) {
            if (!script.empty()) script.pop_front();
            return {};  // never answers
        }
        auto* op = new Op{this, tag, script.front().rsp};
        script.pop_front();
        return ring_.post(op);
    }
    struct Step {
        ScsiResponse rsp;
        bool never = false;
    };
    std::deque<Step> script;
    std::vector<wire::Cdb> submitted;
    std::vector<Bytes> data_out;  // each submitted command's parameter list
    unsigned max_in_flight = 0;

  private:
    struct Op : Ring::Op {
        Op(ScriptedPath* p, uint64_t t, ScsiResponse r) : path(p), tag(t), rsp(std::move(r)) {}
        ScriptedPath* path;
        uint64_t tag;
        ScsiResponse rsp;
        void complete(int, uint32_t) override {
            --path->in_flight_;
            path->sink_.on_complete(tag, std::move(rsp));
            delete this;
        }
    };
    Ring& ring_;
    CompletionSink& sink_;
    unsigned depth_;
    unsigned in_flight_ = 0;
    std::string name_ = "scripted";
};

ScsiResponse status_only(uint8_t st) {
    ScsiResponse r;
    r.status = st;
    return r;
}
ScsiResponse check(wire::SenseKey k, uint8_t asc, uint8_t ascq) {
    ScsiResponse r;
    r.status = wire::sam::check_condition;
    r.sense = wire::make_fixed_sense(k, asc, ascq);
    return r;
}

struct Scripted {
    std::unique_ptr<Ring> ring = std::move(Ring::create(64)).value();
    ExecOptions opt;
    std::unique_ptr<Executor> ex;
    std::unique_ptr<ScriptedPath> path;
    std::vector<LunTarget> luns;
    explicit Scripted(ExecOptions o = {}, unsigned depth = 16) : opt(o) {
        opt.retry.backoff_initial = std::chrono::microseconds(100);
        ex = std::make_unique<Executor>(*ring, opt);
        path = std::make_unique<ScriptedPath>(*ring, *ex, depth);
        luns.push_back({"scripted", {path.get()}});
    }
    LunOutcome run_one(std::unique_ptr<LunJob> job) {
        std::vector<std::unique_ptr<LunJob>> jobs;
        jobs.push_back(std::move(job));
        auto s = ex->run(luns, jobs);
        EXPECT_TRUE(s.ok());
        return jobs[0]->outcome();
    }
};

TEST(EngineRetry, BusyAndTaskSetFullBackOffThenSucceed) {
    Scripted s;
    s.path->script = {
        {status_only(wire::sam::busy)}, {status_only(wire::sam::task_set_full)}, {status_only(0)}};
    auto o = s.run_one(reg(1));
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.retries, 2u);
    EXPECT_EQ(s.path->submitted.size(), 3u);
}

TEST(EngineRetry, UnitAttentionRetriedWithoutTestUnitReady) {
    Scripted s;
    s.path->script = {{check(wire::SenseKey::unit_attention, 0x29, 0x00)},
                      {check(wire::SenseKey::unit_attention, 0x2a, 0x05)},
                      {status_only(0)}};
    auto o = s.run_one(reg(1));
    EXPECT_TRUE(o.ok);
    ASSERT_EQ(s.path->submitted.size(), 3u);
    for (const auto& c : s.path->submitted)
        EXPECT_EQ(c.b[0], wire::kOpPersistentReserveOut);  // no TUR
}

TEST(EngineRetry, UnitAttentionStormIsBounded) {
    Scripted s;
    for (int i = 0; i < 20; ++i)
        s.path->script.push_back({check(wire::SenseKey::unit_attention, 0x3f, 0x0e)});
    auto o = s.run_one(reg(1));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::unit_attention);
    EXPECT_EQ(s.path->submitted.size(), s.opt.retry.max_unit_attention + 1);
}

TEST(EngineRetry, ReservationConflictIsNeverRetried) {
    Scripted s;
    s.path->script = {{status_only(wire::sam::reservation_conflict)}, {status_only(0)}};
    auto o = s.run_one(reserve(1, wire::PrType::exclusive_access));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::reservation_conflict);
    EXPECT_EQ(o.step, "RESERVE");
    EXPECT_EQ(s.path->submitted.size(), 1u);
}

TEST(EngineRetry, NotReadyOnlyRetriedWhileBecomingReady) {
    Scripted s;
    s.path->script = {{check(wire::SenseKey::not_ready, 0x04, 0x01)},
                      {check(wire::SenseKey::not_ready, 0x3a, 0x00)}};
    auto o = s.run_one(reg(1));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::not_ready);
    EXPECT_EQ(s.path->submitted.size(),
              2u);  // 04h/01h retried, 3Ah/00h (medium not present) delivered
}

TEST(EngineReads, TruncatedAnswerIsReissuedLarger) {
    Scripted s;
    // The device has 1500 keys (12000 bytes) but the first READ KEYS allocated 8192.
    wire::ReadKeys all;
    all.generation = 9;
    for (uint64_t k = 1; k <= 1500; ++k) all.keys.push_back(k);
    ScsiResponse first = status_only(0), second = status_only(0);
    first.data_in = wire::encode_read_keys(all, 8192);
    second.data_in = wire::encode_read_keys(all, 65535);
    s.path->script = {{first}, {second}};
    auto o = s.run_one(make_read_job(wire::PrInAction::read_keys, plan()));
    EXPECT_TRUE(o.ok) << o.error;
    ASSERT_EQ(s.path->submitted.size(), 2u);
    EXPECT_EQ(get_be16(s.path->submitted[1].bytes(), 7),
              8 + 8 * 1500);  // ALLOCATION LENGTH = needed
    ASSERT_TRUE(o.keys);
    EXPECT_EQ(o.keys->keys.size(), 1500u);
    EXPECT_FALSE(o.keys->truncated);
}

TEST(EngineReads, MalformedAnswerIsCategory97) {
    Scripted s;
    ScsiResponse bad = status_only(0);
    bad.data_in = {0, 0, 0, 1, 0, 0, 0, 12, 1,  2,
                   3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // length not a multiple of 8
    s.path->script = {{bad}};
    auto o = s.run_one(make_read_job(wire::PrInAction::read_keys, plan()));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.category, wire::Category::malformed);
    EXPECT_NE(o.error.find("sanity"), std::string::npos);
}

TEST(EngineDeadline, CommandThatNeverAnswersTimesOut) {
    ExecOptions opt;
    opt.command_deadline = std::chrono::milliseconds(30);
    Scripted s(opt);
    s.path->script = {{{}, true}};
    auto o = s.run_one(reg(1));
    EXPECT_FALSE(o.ok);
    EXPECT_TRUE(o.timed_out);
    EXPECT_EQ(o.category, wire::Category::timeout);
}

TEST(EngineDeadline, BatchDeadlineFinishesEveryLun) {
    ExecOptions opt;
    opt.batch_deadline = std::chrono::milliseconds(40);
    opt.command_deadline = std::chrono::milliseconds(10000);
    Scripted s(opt);
    s.path->script = {{{}, true}};
    auto o = s.run_one(reg(1));
    EXPECT_FALSE(o.ok);
    EXPECT_TRUE(o.finished);
    EXPECT_NE(o.error.find("deadline"), std::string::npos);
}

TEST(EngineDeadline, CancelFlagStopsTheBatch) {
    std::atomic<bool> cancel{true};
    ExecOptions opt;
    opt.cancel = &cancel;
    Scripted s(opt);
    s.path->script = {{{}, true}};
    auto o = s.run_one(reg(1));
    EXPECT_FALSE(o.ok);
    EXPECT_NE(o.error.find("cancelled"), std::string::npos);
}

// on_finished hears of each LUN once, the moment its outcome is final, with that final outcome:
// LUNs that answer early are reported while another still waits, and the one the batch deadline
// ends is reported too.
TEST(EngineStream, EachLunIsReportedOnceWhenFinal) {
    auto ring = std::move(Ring::create(64)).value();
    ExecOptions opt;
    // 300 ms: long enough that the margins below hold on a loaded 2-CPU machine (a turn or an
    // answer late by 200 ms still passes), short enough for a unit test.
    opt.batch_deadline = std::chrono::milliseconds(300);
    opt.command_deadline = std::chrono::milliseconds(10000);
    Executor ex(*ring, opt);
    std::vector<std::unique_ptr<ScriptedPath>> paths;
    std::vector<LunTarget> luns;
    for (int i = 0; i < 3; ++i) {
        paths.push_back(std::make_unique<ScriptedPath>(*ring, ex));
        luns.push_back({"lu" + std::to_string(i), {paths.back().get()}});
    }
    paths[0]->script = {{status_only(0)}};
    paths[1]->script = {{status_only(wire::sam::reservation_conflict)}};
    paths[2]->script = {{{}, true}};  // never answers
    std::vector<std::unique_ptr<LunJob>> jobs;
    for (int i = 0; i < 3; ++i) jobs.push_back(reg(1));

    struct Seen {
        uint32_t lun;
        LunOutcome outcome;
        uint64_t at_ns;
    };
    std::vector<Seen> seen;
    const uint64_t start = now_ns();
    BatchHooks hooks;
    hooks.finished = [&](uint32_t lun, const LunOutcome& o) {
        seen.push_back({lun, o, now_ns() - start});
    };
    // idle is asked on every turn and may shorten the wait: asking for "again in 5 ms" while LUN 2
    // waits for the 300 ms deadline makes the loop turn about every 5 ms (about 60 turns) instead
    // of sleeping through (one or two).
    int idles = 0;
    hooks.idle = [&](uint64_t now) -> uint64_t {
        ++idles;
        return now + 5'000'000;
    };
    auto sum = ex.run(luns, jobs, hooks);
    ASSERT_TRUE(sum.ok()) << sum.error().msg;
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[2].lun, 2u) << "the LUN the deadline ended comes last";
    EXPECT_TRUE((seen[0].lun == 0 && seen[1].lun == 1) || (seen[0].lun == 1 && seen[1].lun == 0));
    for (const auto& s : seen) {
        const LunOutcome& fin = jobs[s.lun]->outcome();
        EXPECT_TRUE(s.outcome.finished);
        EXPECT_EQ(s.outcome.ok, fin.ok);
        EXPECT_EQ(s.outcome.category, fin.category);
        EXPECT_EQ(s.outcome.error, fin.error);
        EXPECT_EQ(s.outcome.device, luns[s.lun].name);
    }
    EXPECT_TRUE(seen[0].outcome.ok || seen[1].outcome.ok);
    EXPECT_LT(std::max(seen[0].at_ns, seen[1].at_ns), 250'000'000u)
        << "answered LUNs are not held until the deadline";
    EXPECT_GE(seen[2].at_ns, 300'000'000u);
    EXPECT_NE(seen[2].outcome.error.find("deadline"), std::string::npos);
    EXPECT_GE(idles, 8) << "a 300 ms wait cut into 5 ms turns";

    // Without a callback the batch runs as before, and a callback is not remembered across batches.
    for (auto& p : paths) p->script = {{status_only(0)}};
    std::vector<std::unique_ptr<LunJob>> again;
    for (int i = 0; i < 3; ++i) again.push_back(reg(1));
    seen.clear();
    auto sum2 = ex.run(luns, again);
    ASSERT_TRUE(sum2.ok());
    EXPECT_EQ(sum2->ok, 3u);
    EXPECT_TRUE(seen.empty());
}

TEST(EngineQueue, PathDepthIsRespected) {
    auto ring = std::move(Ring::create(64)).value();
    Executor ex(*ring);
    ScriptedPath path(*ring, ex, 2);
    std::vector<LunTarget> luns;
    for (int i = 0; i < 10; ++i) {
        luns.push_back({"l" + std::to_string(i), {&path}});
        path.script.push_back({status_only(0)});
    }
    auto jobs = jobs_for(luns.size(), [] { return reg(7); });
    auto sum = ex.run(luns, jobs);
    ASSERT_TRUE(sum.ok());
    EXPECT_EQ(sum->ok, 10u);
    EXPECT_LE(path.max_in_flight, 2u);
}

TEST(EngineMultipath, RegistrationGoesDownEveryPath) {
    auto ring = std::move(Ring::create(64)).value();
    Executor ex(*ring);
    ScriptedPath p1(*ring, ex), p2(*ring, ex), p3(*ring, ex);
    for (auto* p : {&p1, &p2, &p3}) p->script.push_back({status_only(0)});
    std::vector<LunTarget> luns{{"mpatha", {&p1, &p2, &p3}}};
    auto jobs = jobs_for(1, [] { return reg(9); });
    ASSERT_TRUE(ex.run(luns, jobs).ok());
    EXPECT_TRUE(jobs[0]->outcome().ok);
    EXPECT_EQ(p1.submitted.size() + p2.submitted.size() + p3.submitted.size(), 3u);
    EXPECT_EQ(p2.submitted.size(), 1u);
}

// NVMe registrants are hosts: the controllers of one host (one registration scope) take one
// registration between them, and a second would be counted again by the target, or, to
// unregister, refused as a conflict. Paths of other scopes still get their own.
TEST(EngineMultipath, PathsOfOneHostRegisterOnce) {
    auto ring = std::move(Ring::create(64)).value();
    Executor ex(*ring);
    ScriptedPath p1(*ring, ex), p2(*ring, ex), p3(*ring, ex);
    p1.scope = p2.scope = "nvme-host:a";
    for (auto* p : {&p1, &p3}) p->script.push_back({status_only(0)});
    std::vector<LunTarget> luns{{"ns1", {&p1, &p2, &p3}}};
    auto jobs = jobs_for(1, [] { return reg(9); });
    ASSERT_TRUE(ex.run(luns, jobs).ok());
    const LunOutcome& o = jobs[0]->outcome();
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(p1.submitted.size(), 1u);
    EXPECT_EQ(p2.submitted.size(), 0u);
    EXPECT_EQ(p3.submitted.size(), 1u);
    ASSERT_EQ(o.paths.size(), 3u);
    for (const auto& p : o.paths) EXPECT_EQ(p.state, PathOutcome::State::registered) << p.name;

    // Unregistering (key 0): once as well.
    p1.submitted.clear();
    p3.submitted.clear();
    for (auto* p : {&p1, &p3}) p->script.push_back({status_only(0)});
    jobs = jobs_for(1, [] { return reg(0); });
    ASSERT_TRUE(ex.run(luns, jobs).ok());
    EXPECT_TRUE(jobs[0]->outcome().ok);
    EXPECT_EQ(p1.submitted.size(), 1u);
    EXPECT_EQ(p2.submitted.size(), 0u);
    EXPECT_EQ(p3.submitted.size(), 1u);
}

TEST(EngineMultipath, PreemptGoesDownOnePath) {
    auto ring = std::move(Ring::create(64)).value();
    Executor ex(*ring);
    ScriptedPath p1(*ring, ex), p2(*ring, ex);
    std::vector<LunTarget> luns{{"mpatha", {&p1, &p2}}};
    ProutSpec spec;
    spec.action = wire::PrOutAction::preempt_and_abort;
    spec.type = wire::PrType::write_exclusive;
    spec.params = {.key = 1, .sa_key = 2};
    p1.script.push_back({status_only(0)});
    auto jobs = jobs_for(1, [&] { return make_prout_job(spec, plan()); });
    ASSERT_TRUE(ex.run(luns, jobs).ok());
    EXPECT_TRUE(jobs[0]->outcome().ok);
    EXPECT_EQ(p1.submitted.size(), 1u);
    EXPECT_EQ(p2.submitted.size(), 0u);
}

// --all-tg-pt (REGISTER with ALL_TG_PT set once, for every target port) is used only where REPORT
// CAPABILITIES says the LU can (ATP_C, SPC-4 6.16.4); otherwise, or when the query fails, the
// registration goes down every path as without the option.
namespace alltgpt {
// REPORT CAPABILITIES parameter data: length 8, byte 2 = CRH | SIP_C | PTPL_C (+ ATP_C), TMV, all
// types.
ScsiResponse caps(bool atp_c) {
    ScsiResponse r = status_only(0);
    r.data_in = {0x00, 0x08, static_cast<uint8_t>(atp_c ? 0x1d : 0x19), 0x80, 0xea, 0x01,
                 0x00, 0x00};
    return r;
}
std::unique_ptr<LunJob> reg_all_tg_pt(uint64_t key) {
    ProutSpec s;
    s.action = wire::PrOutAction::register_key;
    s.params.sa_key = key;
    PlanOptions po;
    po.all_tg_pt = true;
    return make_prout_job(s, po);
}
constexpr uint8_t kPrIn = 0x5e, kPrOut = 0x5f;
// Byte 20 of the PR OUT parameter list: SPEC_I_PT (bit 3), ALL_TG_PT (bit 2), APTPL (bit 0).
bool all_tg_pt_bit(const Bytes& params) { return params.size() > 20 && (params[20] & 0x04) != 0; }
}  // namespace alltgpt

TEST(EngineMultipath, AllTgPtRegistersOnceWhereTheLuReportsAtpC) {
    using namespace alltgpt;
    auto ring = std::move(Ring::create(64)).value();
    Executor ex(*ring);
    ScriptedPath p1(*ring, ex), p2(*ring, ex);
    p1.script = {{caps(true)}, {status_only(0)}};
    std::vector<LunTarget> luns{{"mpatha", {&p1, &p2}}};
    auto jobs = jobs_for(1, [] { return reg_all_tg_pt(9); });
    ASSERT_TRUE(ex.run(luns, jobs).ok());
    EXPECT_TRUE(jobs[0]->outcome().ok) << jobs[0]->outcome().error;
    ASSERT_EQ(p1.submitted.size(), 2u);
    EXPECT_EQ(p1.submitted[0].b[0], kPrIn);
    EXPECT_EQ(p1.submitted[1].b[0], kPrOut);
    EXPECT_TRUE(all_tg_pt_bit(p1.data_out[1]));
    EXPECT_EQ(p2.submitted.size(), 0u) << "one REGISTER with ALL_TG_PT covers every target port";
}

TEST(EngineMultipath, AllTgPtFallsBackToEveryPathWithoutAtpC) {
    using namespace alltgpt;
    auto ring = std::move(Ring::create(64)).value();
    Executor ex(*ring);
    ScriptedPath p1(*ring, ex), p2(*ring, ex);
    p1.script = {{caps(false)}, {status_only(0)}};
    p2.script = {{status_only(0)}};
    std::vector<LunTarget> luns{{"mpatha", {&p1, &p2}}};
    auto jobs = jobs_for(1, [] { return reg_all_tg_pt(9); });
    ASSERT_TRUE(ex.run(luns, jobs).ok());
    EXPECT_TRUE(jobs[0]->outcome().ok) << jobs[0]->outcome().error;
    ASSERT_EQ(p1.submitted.size(), 2u);
    ASSERT_EQ(p2.submitted.size(), 1u);
    EXPECT_EQ(p2.submitted[0].b[0], kPrOut);
    EXPECT_FALSE(all_tg_pt_bit(p1.data_out[1]));
    EXPECT_FALSE(all_tg_pt_bit(p2.data_out[0]));
}

TEST(EngineMultipath, AllTgPtFallsBackToEveryPathWhenTheQueryFails) {
    using namespace alltgpt;
    auto ring = std::move(Ring::create(64)).value();
    Executor ex(*ring);
    ScriptedPath p1(*ring, ex), p2(*ring, ex);
    p1.script = {{check(wire::SenseKey::illegal_request, 0x20, 0x00)}, {status_only(0)}};
    p2.script = {{status_only(0)}};
    std::vector<LunTarget> luns{{"mpatha", {&p1, &p2}}};
    auto jobs = jobs_for(1, [] { return reg_all_tg_pt(9); });
    ASSERT_TRUE(ex.run(luns, jobs).ok());
    EXPECT_TRUE(jobs[0]->outcome().ok)
        << "a failed capabilities query is not the outcome: " << jobs[0]->outcome().error;
    ASSERT_EQ(p1.submitted.size(), 2u);
    ASSERT_EQ(p2.submitted.size(), 1u);
    EXPECT_FALSE(all_tg_pt_bit(p1.data_out[1]));
    EXPECT_FALSE(all_tg_pt_bit(p2.data_out[0]));
}

}  // namespace
}  // namespace prfence::engine
