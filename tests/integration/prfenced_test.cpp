// SPDX-License-Identifier: MIT
// prfenced in front of a prsim farm (in this process, on its own thread and socket), driven through
// its control socket with the client library and with raw bytes: a failover between two nodes,
// hostile messages, a hundred clients, a subscriber that stops reading, persistence across a
// restart, and the real binary's readiness, reload, SIGTERM and permission checks.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "interposer/prsim/server.h"
#include "nl_control/client/client.h"
#include "nl_control/daemon/config.h"
#include "nl_control/daemon/daemon.h"
#include "tests/support/sim_farm.h"
#include "uring_engine/policy/operations.h"

namespace prfence {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nl::Answer;

const char* kNodeA = "iqn.2026-11.io.prfence:node-a,i,0x23d000001";
const char* kNodeB = "iqn.2026-11.io.prfence:node-b,i,0x23d000002";

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "prfenced-test-XXXXXX").string();
        path = mkdtemp(tmpl.data());
        // The unauthorized-peer test connects as nobody: it must reach the socket to be refused by
        // it.
        chmod(path.c_str(), 0755);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

using Farm = prfence::testing::SimFarm;

// The daemon core on a thread of this process.
struct InProc {
    std::unique_ptr<daemon::Daemon> d;
    std::thread thread;
    Status result;
    std::vector<std::string> log;
    std::mutex log_mu;
    explicit InProc(daemon::DaemonOptions o) {
        o.log = [this](const std::string& l) {
            std::lock_guard lk(log_mu);
            log.push_back(l);
        };
        auto r = daemon::Daemon::create(std::move(o));
        if (!r.ok()) {
            ADD_FAILURE() << r.error().msg;
            return;
        }
        d = std::move(r).value();
        thread = std::thread([this] { result = d->run(); });
        for (int i = 0; i < 2000 && !d->ready(); ++i) std::this_thread::sleep_for(5ms);
        EXPECT_TRUE(d->ready());
    }
    void stop() {
        if (d) d->stop();
        if (thread.joinable()) thread.join();
        EXPECT_TRUE(result.ok());
    }
    ~InProc() { stop(); }
    const std::string& socket() const { return d->socket_path(); }
};

nl::Client connect(const std::string& path) {
    for (int i = 0;; ++i) {
        auto c = nl::Client::connect(path);
        if (c.ok()) return std::move(c).value();
        if (i > 1000) {
            ADD_FAILURE() << c.error().msg;
            return std::move(c).value();  // asserts in debug builds: the test has failed anyway
        }
        std::this_thread::sleep_for(10ms);
    }
}

std::vector<Answer> call(nl::Client& c, nl::Request r,
                         std::chrono::milliseconds timeout = 60000ms) {
    auto a = c.call(std::move(r), timeout);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().msg);
    return a.ok() ? std::move(a).value() : std::vector<Answer>{};
}

// The error of an answer sequence (0 when it ended well) and its text.
std::pair<int, std::string> status_of(const std::vector<Answer>& as) {
    for (const auto& a : as)
        if (a.err()) return {a.err(), a.err_msg()};
    if (as.empty()) return {-1, "no answer"};
    return {0, ""};
}

nl::Request req(nl::Cmd cmd, const std::string& group = {}) {
    nl::Request r;
    r.hdr.cmd = cmd;
    r.group = group;
    return r;
}

std::pair<int, std::string> create(nl::Client& c, const std::string& name,
                                   const std::vector<std::string>& devices, const char* initiator,
                                   uint16_t port) {
    auto r = req(nl::CMD_GROUP_CREATE, name);
    r.devices = devices;
    r.initiator = initiator;
    r.target_port = port;
    return status_of(call(c, std::move(r)));
}

struct RunResult {
    int err = -1;
    std::string msg;
    std::vector<engine::LunOutcome> luns;
    std::optional<nl::Summary> summary;
    bool done = false;
};

RunResult run(nl::Client& c, const std::string& group, engine::OpSpec spec,
              std::optional<uint32_t> deadline_ms = {}) {
    auto r = req(nl::CMD_RUN, group);
    r.op = std::move(spec);
    r.has_operation = true;
    r.deadline_ms = deadline_ms;
    RunResult out;
    auto answers = call(c, std::move(r), 120000ms);
    if (answers.empty()) return out;
    out.err = answers.back().err();
    out.msg = answers.back().err_msg();
    out.done = answers.back().kind() == Answer::Kind::done;
    if (!out.done || out.err) return out;
    auto whole = nl::assemble_run_answer(answers);
    EXPECT_TRUE(whole.ok()) << whole.error().msg;
    if (whole.ok()) {
        out.luns = std::move(whole->outcomes);
        out.summary = std::move(whole->summary);
    }
    return out;
}

engine::OpSpec op(engine::Operation o, std::optional<uint64_t> key = {},
                  std::optional<uint64_t> sa_key = {}, std::optional<wire::PrType> type = {}) {
    engine::OpSpec s;
    s.op = o;
    s.key = key;
    s.sa_key = sa_key;
    s.type = type;
    return s;
}

nl::Health health(nl::Client& c) {
    for (auto& a : call(c, req(nl::CMD_HEALTH)))
        if (a.kind() == Answer::Kind::health) return a.health();
    ADD_FAILURE() << "no health answer";
    return {};
}

std::vector<nl::GroupInfo> list(nl::Client& c) {
    auto r = req(nl::CMD_GROUP_LIST);
    r.hdr.flags = NLM_F_DUMP;
    std::vector<nl::GroupInfo> out;
    for (auto& a : call(c, std::move(r)))
        if (a.kind() == Answer::Kind::group) out.push_back(a.group());
    return out;
}

// Two nodes' groups over the same LUNs; A registers and reserves.
void seed(nl::Client& c, const Farm& f, const char* range, size_t n) {
    ASSERT_EQ(create(c, "a", {f.luns(range)}, kNodeA, 1).first, 0);
    ASSERT_EQ(create(c, "b", {f.luns(range)}, kNodeB, 2).first, 0);
    auto r1 = run(c, "a", op(engine::Operation::register_key, 0xa));
    ASSERT_TRUE(r1.summary);
    EXPECT_EQ(r1.summary->batch.ok, n);
    auto r2 = run(
        c, "a",
        op(engine::Operation::reserve, 0xa, {}, wire::PrType::write_exclusive_registrants_only));
    ASSERT_TRUE(r2.summary);
    EXPECT_EQ(r2.summary->batch.ok, n);
    auto r3 = run(c, "b", op(engine::Operation::register_key, 0xb));
    ASSERT_TRUE(r3.summary);
    EXPECT_EQ(r3.summary->batch.ok, n);
}

daemon::DaemonOptions options(const TempDir& t, const std::string& config = {}) {
    daemon::DaemonOptions o;
    o.socket_path = t / "control.sock";
    o.config_path = config;
    o.version = "test";
    return o;
}

TEST(Prfenced, NodeBFencesNodeAThroughTheDaemon) {
    Farm f(1000);
    ASSERT_TRUE(f.server);
    TempDir t;
    InProc d(options(t));
    auto c = connect(d.socket());
    ASSERT_TRUE(c.family().ok());
    seed(c, f, "0-999", 1000);

    auto fence = run(c, "b", op(engine::Operation::fence, 0xb, 0xa));
    ASSERT_EQ(fence.err, 0) << fence.msg;
    ASSERT_TRUE(fence.done);
    ASSERT_TRUE(fence.summary);
    EXPECT_EQ(fence.summary->batch.luns, 1000u);
    EXPECT_EQ(fence.summary->batch.ok, 1000u);
    EXPECT_EQ(fence.summary->group, "b");
    EXPECT_EQ(fence.summary->operation, engine::Operation::fence);
    ASSERT_EQ(fence.luns.size(), 1000u);
    for (const auto& o : fence.luns) EXPECT_TRUE(o.ok) << o.device << ": " << o.error;

    auto keys = run(c, "b", op(engine::Operation::read_keys));
    ASSERT_EQ(keys.luns.size(), 1000u);
    for (const auto& o : keys.luns) {
        ASSERT_TRUE(o.keys) << o.device;
        EXPECT_EQ(std::count(o.keys->keys.begin(), o.keys->keys.end(), 0xau), 0) << o.device;
        EXPECT_EQ(std::count(o.keys->keys.begin(), o.keys->keys.end(), 0xbu), 1) << o.device;
    }
    auto res = run(c, "a", op(engine::Operation::read_reservation));
    ASSERT_EQ(res.luns.size(), 1000u);
    EXPECT_EQ(res.luns[0].reservation->key, 0xbu);
    std::printf("fence 1000 sim LUNs through prfenced: %.2f ms batch wall, %.3f ms queued\n",
                fence.summary->batch.wall_ns / 1e6, fence.summary->queued_ns / 1e6);
}

TEST(Prfenced, GroupErrorsHaveTheirErrno) {
    Farm f(8);
    TempDir t;
    InProc d(options(t));
    auto c = connect(d.socket());
    ASSERT_EQ(create(c, "a", {f.luns("0-7")}, kNodeA, 1).first, 0);
    auto dup = create(c, "a", {f.luns("0-7")}, kNodeA, 1);
    EXPECT_EQ(dup.first, EEXIST);
    EXPECT_NE(dup.second.find("\"a\""), std::string::npos) << dup.second;

    auto unknown = run(c, "nope", op(engine::Operation::read_keys));
    EXPECT_EQ(unknown.err, ENOENT);
    EXPECT_NE(unknown.msg.find("nope"), std::string::npos);

    auto bad = run(c, "a", op(engine::Operation::fence, 0xb));  // no victim
    EXPECT_EQ(bad.err, EINVAL);
    EXPECT_FALSE(bad.msg.empty());

    auto unresolvable = create(c, "x", {"/nonexistent/dev/sdq"}, "", 1);
    EXPECT_TRUE(unresolvable.first == ENOENT || unresolvable.first == EINVAL) << unresolvable.first;
    EXPECT_NE(unresolvable.second.find("/nonexistent/dev/sdq"), std::string::npos)
        << unresolvable.second;

    auto del = status_of(call(c, req(nl::CMD_GROUP_DELETE, "nope")));
    EXPECT_EQ(del.first, ENOENT);

    // add / remove reopen the group; the answer is the group as it is now.
    auto add = req(nl::CMD_GROUP_ADD, "a");
    add.devices = {f.luns("0-7")};
    auto added = call(c, add);
    EXPECT_EQ(status_of(added).first, 0);
    auto rm = req(nl::CMD_GROUP_REMOVE, "a");
    rm.devices = {f.luns("0-7")};
    EXPECT_EQ(status_of(call(c, rm)).first, EINVAL);  // would leave it empty
    EXPECT_EQ(status_of(call(c, req(nl::CMD_GROUP_DELETE, "a"))).first, 0);
    EXPECT_TRUE(list(c).empty());
}

// ---- raw bytes

Bytes raw(uint16_t type, uint8_t cmd, uint32_t seq,
          const std::vector<std::pair<uint16_t, Bytes>>& attrs = {}) {
    Bytes m(NLMSG_HDRLEN + 4, 0);
    for (const auto& [t, v] : attrs) {
        const uint16_t len = static_cast<uint16_t>(4 + v.size());
        const size_t at = m.size();
        m.resize(at + NLA_ALIGN(len), 0);
        std::memcpy(&m[at], &len, 2);
        std::memcpy(&m[at + 2], &t, 2);
        std::memcpy(&m[at + 4], v.data(), v.size());
    }
    nlmsghdr h{};
    h.nlmsg_len = static_cast<uint32_t>(m.size());
    h.nlmsg_type = type;
    h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    h.nlmsg_seq = seq;
    std::memcpy(m.data(), &h, sizeof h);
    m[NLMSG_HDRLEN] = cmd;
    m[NLMSG_HDRLEN + 1] = nl::kVersion;
    return m;
}

struct RawSocket {
    int fd = -1;
    explicit RawSocket(const std::string& path) {
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
        EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0)
            << std::strerror(errno);
    }
    ~RawSocket() { close(fd); }
    // Sends `d` and returns the first answer message.
    Answer ask(const Bytes& d) {
        EXPECT_EQ(send(fd, d.data(), d.size(), MSG_NOSIGNAL), static_cast<ssize_t>(d.size()))
            << std::strerror(errno);
        pollfd p{fd, POLLIN, 0};
        EXPECT_EQ(poll(&p, 1, 10000), 1);
        Bytes buf(nl::kMaxDatagram);
        ssize_t n = recv(fd, buf.data(), buf.size(), 0);
        EXPECT_GT(n, 0);
        buf.resize(static_cast<size_t>(std::max<ssize_t>(n, 0)));
        auto parts = nl::split_datagram(buf);
        EXPECT_TRUE(parts.ok());
        if (!parts.ok() || parts->empty()) return {};
        auto a = nl::decode_answer((*parts)[0]);
        EXPECT_TRUE(a.ok());
        return a.ok() ? *a : Answer{};
    }
};

TEST(Prfenced, MalformedMessagesAreRefusedAndTheConnectionLives) {
    TempDir t;
    InProc d(options(t));
    RawSocket s(d.socket());
    auto expect_refused = [&](const Bytes& m, int err, const char* what) {
        Answer a = s.ask(m);
        EXPECT_EQ(a.kind(), Answer::Kind::ack) << what;
        EXPECT_EQ(a.err(), err) << what;
        EXPECT_FALSE(a.err_msg().empty()) << what;
        return a;
    };
    expect_refused(Bytes{1, 2, 3}, EINVAL, "short");
    Bytes lying = raw(nl::kMsgType, nl::CMD_NOOP, 11);
    uint32_t len = 400;
    std::memcpy(lying.data(), &len, 4);
    EXPECT_EQ(expect_refused(lying, EINVAL, "lying length").hdr.seq, 11u);
    Bytes trailing = raw(nl::kMsgType, nl::CMD_NOOP, 12);
    trailing.push_back(0);
    expect_refused(trailing, EINVAL, "trailing garbage");
    EXPECT_EQ(expect_refused(raw(nl::kMsgType, nl::CMD_NOOP, 13, {{999, Bytes{1, 2, 3, 4}}}),
                             EINVAL, "unknown attr")
                  .hdr.seq,
              13u);
    // ATTR_KEY is a u64: two bytes of it are the wrong type.
    expect_refused(raw(nl::kMsgType, nl::CMD_RUN, 14,
                       {{nl::ATTR_GROUP, Bytes{'a', 0}},
                        {nl::ATTR_OPERATION, Bytes{1}},
                        {nl::ATTR_KEY, Bytes{1, 2}}}),
                   EINVAL, "wrong attribute type");
    // A group name outside the charset.
    expect_refused(
        raw(nl::kMsgType, nl::CMD_GROUP_LIST, 15, {{nl::ATTR_GROUP, Bytes{'a', '/', 0}}}), EINVAL,
        "bad name");
    {
        Answer a = s.ask(raw(0x33, nl::CMD_NOOP, 16));  // not the prfence family's type
        EXPECT_EQ(a.kind(), Answer::Kind::ack);
        EXPECT_NE(a.err(), 0);
    }
    {
        Answer a = s.ask(raw(nl::kMsgType, 200, 17));  // unknown command
        EXPECT_NE(a.err(), 0);
    }
    // Larger than kMaxDatagram: the kernel carries it (root may raise the buffer), the daemon
    // refuses it.
    int big = 1 << 20;
    if (setsockopt(s.fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) == 0) {
        Bytes huge = raw(nl::kMsgType, nl::CMD_NOOP, 18);
        huge.resize(nl::kMaxDatagram + 4096, 0);
        expect_refused(huge, EMSGSIZE, "oversized");
    }
    Answer ok = s.ask(raw(nl::kMsgType, nl::CMD_NOOP, 77));
    EXPECT_EQ(ok.kind(), Answer::Kind::ack);
    EXPECT_EQ(ok.err(), 0);
    EXPECT_EQ(ok.hdr.seq, 77u);
    // The client library on a fresh connection agrees that the daemon is fine.
    auto c = connect(d.socket());
    EXPECT_EQ(health(c).pid, static_cast<uint32_t>(getpid()));
}

// A farm of 64 LUs whose LU 63 answers PR OUT `slow_us` late (group creation's PR IN reads stay
// fast).
Farm slow_lun_farm(uint32_t slow_us) {
    sim::FaultSpec slow;
    slow.kind = sim::FaultKind::latency;
    slow.luns = *sim::LunSet::parse("63");
    slow.classes = sim::class_bit(sim::CmdClass::pr_out);
    slow.latency.us = slow_us;
    return Farm(64, {slow});
}

// Sends a RUN of `spec` on `group` as raw bytes (the answer is the caller's to read).
void send_run(const RawSocket& s, const std::string& group, uint32_t seq, engine::OpSpec spec) {
    nl::Request r = req(nl::CMD_RUN, group);
    r.hdr.seq = seq;
    r.hdr.type = nl::kMsgType;
    r.hdr.flags = NLM_F_REQUEST | NLM_F_ACK;
    r.op = std::move(spec);
    r.has_operation = true;
    auto msg = nl::encode_request(r);
    ASSERT_TRUE(msg.ok()) << msg.error().msg;
    ASSERT_EQ(send(s.fd, msg->data(), msg->size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(msg->size()));
}

// A RUN's LUN results are sent while the batch still runs: with one LUN answering 4 s late, the
// other 63 results reach the client long before it, the slow one comes in the last LUN part, and
// every LUN is in the answer exactly once.
TEST(Prfenced, RunAnswerStreamsResultsWhileASlowLunRuns) {
    TempDir t;
    Farm farm = slow_lun_farm(4000000);
    InProc d(options(t));
    auto c = connect(d.socket());
    ASSERT_EQ(create(c, "a", {farm.luns("0-63")}, kNodeA, 1).first, 0);

    RawSocket s(d.socket());
    const auto t0 = std::chrono::steady_clock::now();
    send_run(s, "a", 5, op(engine::Operation::register_key, 0xa));

    std::vector<std::pair<double, Answer>> got;  // (ms since the request, answer)
    Bytes buf(nl::kMaxDatagram);
    while (got.empty() || got.back().second.kind() != Answer::Kind::done) {
        pollfd p{s.fd, POLLIN, 0};
        ASSERT_EQ(poll(&p, 1, 20000), 1)
            << "the answer stopped after " << got.size() << " messages";
        ssize_t n = recv(s.fd, buf.data(), buf.size(), 0);
        ASSERT_GT(n, 0);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        auto parts = nl::split_datagram(ByteView(buf.data(), static_cast<size_t>(n)));
        ASSERT_TRUE(parts.ok()) << parts.error().msg;
        for (ByteView part : *parts) {
            auto a = nl::decode_answer(part);
            ASSERT_TRUE(a.ok()) << a.error().msg;
            ASSERT_NE(a->kind(), Answer::Kind::ack) << a->err_msg();
            got.emplace_back(ms, std::move(*a));
        }
    }
    ASSERT_GE(got.size(), 4u) << "at least two LUN parts, the summary and DONE";
    EXPECT_EQ(got[got.size() - 2].second.kind(), Answer::Kind::summary);
    EXPECT_EQ(got[got.size() - 2].second.summary().batch.ok, 64u);
    std::vector<uint32_t> seen;
    double fast_done_ms = 0;
    for (size_t k = 0; k + 2 < got.size(); ++k) {
        const auto& [ms, a] = got[k];
        ASSERT_EQ(a.kind(), Answer::Kind::luns);
        for (const auto& [i, o] : a.luns()) {
            seen.push_back(i);
            EXPECT_TRUE(o.ok) << o.device << ": " << o.error;
            if (i != 63)
                fast_done_ms = std::max(fast_done_ms, ms);
            else
                EXPECT_EQ(k, got.size() - 3) << "the slow LUN's result is in the last LUN part";
        }
    }
    std::sort(seen.begin(), seen.end());
    std::vector<uint32_t> want(64);
    for (uint32_t i = 0; i < 64; ++i) want[i] = i;
    EXPECT_EQ(seen, want) << "every LUN exactly once";
    // Generous against a loaded machine: the fast results come within 3 s, the slow one after 4 s.
    EXPECT_LT(fast_done_ms, 3000.0) << "the fast LUNs' results waited for the slow LUN";
    EXPECT_GE(got.back().first, 4000.0);
}

// The asker hangs up while its RUN is streaming: the batch still finishes (its registrations are on
// the LUNs), the parts meant for it are dropped, the daemon answers everyone else meanwhile and
// after.
TEST(Prfenced, AskerLeavingMidStreamCostsNothing) {
    TempDir t;
    Farm farm = slow_lun_farm(3000000);  // the abandoned batch runs 3 s: the NOOPs come during it
    InProc d(options(t));
    auto c = connect(d.socket());
    ASSERT_EQ(create(c, "a", {farm.luns("0-63")}, kNodeA, 1).first, 0);
    {
        RawSocket s(d.socket());
        send_run(s, "a", 9, op(engine::Operation::register_key, 0xa));
        pollfd p{s.fd, POLLIN, 0};
        ASSERT_EQ(poll(&p, 1, 10000), 1) << "the first LUN part comes before the slow LUN";
    }  // closed with the batch still running
    for (int i = 0; i < 20; ++i) ASSERT_EQ(status_of(call(c, req(nl::CMD_NOOP))).first, 0);
    EXPECT_EQ(health(c).batches_running, 1u) << "the NOOPs were answered while the batch ran";
    auto keys = run(c, "a", op(engine::Operation::read_keys));  // queued behind the abandoned batch
    ASSERT_EQ(keys.err, 0) << keys.msg;
    ASSERT_EQ(keys.luns.size(), 64u);
    for (const auto& o : keys.luns) {
        ASSERT_TRUE(o.keys) << o.device << ": " << o.error;
        EXPECT_EQ(o.keys->keys, std::vector<uint64_t>{0xa}) << o.device;
    }
    bool counted = false;
    for (const auto& a : call(c, req(nl::CMD_STATS)))
        if (a.kind() == Answer::Kind::stats)
            for (const auto& st : a.stats())
                if (st.name == "register") counted = st.count == 1;
    EXPECT_TRUE(counted) << "the abandoned batch is in the statistics";
    EXPECT_EQ(health(c).clients, 1u);
}

// The clients start once the fence runs, and what counts is that they are answered before it ends:
// a daemon that answered no one until its batch was over would fail here (every command takes 150
// ms, so the fence lasts about half a second).
TEST(Prfenced, HundredClientsAreAnsweredWhileAFenceRuns) {
    using Clock = std::chrono::steady_clock;
    sim::FaultSpec lat;
    lat.kind = sim::FaultKind::latency;
    lat.latency.us = 150000;
    Farm f(1000, {lat});
    TempDir t;
    InProc d(options(t));
    auto c = connect(d.socket());
    seed(c, f, "0-999", 1000);

    RunResult fence;
    std::atomic<int64_t> fence_end{0};
    std::thread fencer([&] {
        auto fc = connect(d.socket());
        fence = run(fc, "b", op(engine::Operation::fence, 0xb, 0xa));
        fence_end = Clock::now().time_since_epoch().count();
    });
    for (int i = 0; i < 1000 && health(c).batches_running == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::atomic<int> answered{0}, failed{0};
    std::vector<std::vector<int64_t>> when(100);  // each client's answer times
    std::vector<std::thread> clients;
    for (int i = 0; i < 100; ++i)
        clients.emplace_back([&, i] {
            auto cc = nl::Client::connect(d.socket());
            if (!cc.ok()) {
                ++failed;
                return;
            }
            for (int k = 0; k < 20; ++k) {
                auto a = cc->call(req((i + k) % 2 ? nl::CMD_NOOP : nl::CMD_HEALTH), 30000ms);
                if (a.ok() && status_of(*a).first == 0) {
                    ++answered;
                    when[i].push_back(Clock::now().time_since_epoch().count());
                } else {
                    ++failed;
                }
            }
        });
    for (auto& th : clients) th.join();
    fencer.join();
    EXPECT_EQ(answered.load(), 2000);
    EXPECT_EQ(failed.load(), 0);
    ASSERT_TRUE(fence.summary);
    EXPECT_EQ(fence.summary->batch.ok, 1000u);
    size_t during = 0, clients_during = 0;
    for (const auto& w : when) {
        const auto n = std::count_if(w.begin(), w.end(), [&](int64_t x) { return x < fence_end; });
        during += n;
        clients_during += n > 0;
    }
    EXPECT_GE(during, 100u) << "calls answered while the fence ran (of 2000)";
    EXPECT_GE(clients_during, 10u) << "clients answered while the fence ran (of 100)";
}

TEST(Prfenced, StalledSubscriberIsDroppedAndFencingGoesOn) {
    Farm f(4);
    TempDir t;
    auto o = options(t);
    o.client_max_messages = 32;
    o.client_max_bytes = 64 << 10;
    InProc d(o);
    auto c = connect(d.socket());
    ASSERT_EQ(create(c, "a", {f.luns("0-3")}, kNodeA, 1).first, 0);

    auto stalled = connect(d.socket());
    ASSERT_EQ(status_of(call(stalled, req(nl::CMD_SUBSCRIBE))).first, 0);
    // A subscriber that reads, for comparison: it keeps receiving.
    auto reader = connect(d.socket());
    ASSERT_EQ(status_of(call(reader, req(nl::CMD_SUBSCRIBE))).first, 0);

    auto timed = [&] {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = run(c, "a", op(engine::Operation::read_keys));
        EXPECT_TRUE(r.summary && r.summary->batch.ok == 4);
        return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
            .count();
    };
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::vector<double> before, during;
    for (int i = 0; i < 50; ++i) before.push_back(timed());
    uint64_t dropped = 0;
    int runs = 0;
    for (; runs < 5000 && dropped == 0; ++runs) {
        during.push_back(timed());
        while (true) {  // the reading subscriber drains what is there
            auto e = reader.next_event(0ms);
            if (!e.ok() || !*e) break;
        }
        if (runs % 16 == 0) dropped = health(c).subscribers_dropped;
    }
    dropped = health(c).subscribers_dropped;
    EXPECT_EQ(dropped, 1u) << "after " << runs << " runs";
    EXPECT_LT(median(during), std::max(3 * median(before), median(before) + 2000))
        << "median before " << median(before) << " us, during " << median(during) << " us";
    // The stalled subscriber finds its connection closed after the events it did get (perhaps with
    // EVENT_DROPPED last).
    bool closed = false;
    std::optional<nl::Event> last;
    for (int i = 0; i < 100000; ++i) {
        auto e = stalled.next_event(2000ms);
        if (!e.ok()) {
            closed = true;
            break;
        }
        if (!*e) break;
        last = **e;
    }
    EXPECT_TRUE(closed);
    if (last && last->kind == nl::EVENT_DROPPED) {
        EXPECT_NE(last->text.find("dropped"), std::string::npos);
    }
    // The reader was never dropped: it still hears the next batch.
    (void)timed();
    bool heard = false;
    for (int i = 0; i < 1000 && !heard; ++i) {
        auto e = reader.next_event(2000ms);
        ASSERT_TRUE(e.ok());
        if (!*e) break;
        heard = (*e)->kind == nl::EVENT_OP_DONE;
    }
    EXPECT_TRUE(heard);
    EXPECT_EQ(health(c).subscribers, 1u);
}

TEST(Prfenced, GroupsPersistAndPrStateIsReReadAtStart) {
    Farm f(16);
    TempDir t;
    const std::string config = t / "prfenced.json";
    {
        InProc d(options(t, config));
        auto c = connect(d.socket());
        ASSERT_EQ(create(c, "a", {f.luns("0-15")}, kNodeA, 1).first, 0);
        EXPECT_EQ(run(c, "a", op(engine::Operation::register_key, 0xa)).summary->batch.ok, 16u);
        d.stop();
    }
    auto saved = daemon::load_config(config);
    ASSERT_TRUE(saved.ok()) << saved.error().msg;
    ASSERT_EQ(saved->groups.size(), 1u);
    EXPECT_EQ(saved->groups[0].name, "a");
    EXPECT_EQ(saved->groups[0].initiator, kNodeA);

    const uint64_t before = f.server->stats().commands;
    InProc d(options(t, config));
    // READ KEYS and READ RESERVATION on each of the 16 LUNs, before anyone asked for anything.
    EXPECT_EQ(f.server->stats().commands - before, 32u);
    auto c = connect(d.socket());
    auto groups = list(c);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].name, "a");
    EXPECT_EQ(groups[0].luns, 16u);
    EXPECT_EQ(groups[0].paths_open, 16u);
    EXPECT_TRUE(groups[0].problems.empty());
    auto keys = run(c, "a", op(engine::Operation::read_keys));
    ASSERT_EQ(keys.luns.size(), 16u);
    EXPECT_EQ(keys.luns[3].keys->keys, std::vector<uint64_t>{0xa});
    auto h = health(c);
    EXPECT_EQ(h.groups, 1u);
    EXPECT_EQ(h.luns, 16u);
    EXPECT_EQ(h.config, config);

    // A group that cannot open at start is listed with its problem; the daemon starts anyway.
    d.stop();
    daemon::Config broken = *saved;
    broken.groups.push_back(
        {"gone", {"sim:/nonexistent/prsim.sock:0-3"}, kNodeA, 1, nl::SG_TRANSPORT_URING});
    ASSERT_TRUE(daemon::save_config(broken, config).ok());
    InProc d2(options(t, config));
    auto c2 = connect(d2.socket());
    groups = list(c2);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_FALSE(groups[1].problems.empty());
    auto r = run(c2, "gone", op(engine::Operation::read_keys));
    ASSERT_TRUE(r.summary);  // the LUNs report their open error as their outcome
    EXPECT_EQ(r.summary->batch.failed, 4u);
    EXPECT_NE(r.luns[0].error.find("/nonexistent/prsim.sock"), std::string::npos)
        << r.luns[0].error;
}

// A group's NVMe host (ATTR_HOSTNQN, ATTR_HOSTID) comes back in its info, is saved with it and is
// there again after a restart; a host the protocol cannot carry is refused at GROUP_CREATE (EINVAL,
// the attribute, why and where) and makes no group. The farm's LUs ignore it (SCSI speaks as the
// initiator); the CLI test fences with it over prsim's namespaces.
TEST(Prfenced, GroupNvmeHostIsKeptAndABadOneRefused) {
    Farm f(4);
    TempDir t;
    const std::string config = t / "prfenced.json";
    const std::array<uint8_t, 16> id = {0x01, 0x23, 0xab, 0xcd, 0, 0, 0x40, 0,
                                        0x80, 0,    0,    0,    0, 0, 0,    0x0b};
    const std::string nqn = "nqn.2026-12.io.example:node-b";
    {
        InProc d(options(t, config));
        auto c = connect(d.socket());
        auto r = req(nl::CMD_GROUP_CREATE, "b");
        r.devices = {f.luns("0-3")};
        r.initiator = kNodeB;
        r.hostnqn = nqn;
        r.hostid = id;
        auto answers = call(c, r);
        ASSERT_EQ(status_of(answers).first, 0) << status_of(answers).second;
        ASSERT_FALSE(answers.empty());
        ASSERT_EQ(answers[0].kind(), Answer::Kind::group);
        EXPECT_EQ(answers[0].group().hostnqn, nqn);
        EXPECT_EQ(answers[0].group().hostid, id);
        EXPECT_EQ(answers[0].group().luns, 4u);

        // Hostile bytes: a tab in the NQN, a 15-byte identifier.
        RawSocket s(d.socket());
        const std::string bad = "nqn.bad\tname";
        const std::string luns = f.luns("0-3");
        Bytes group = {'x', 0}, dev(luns.begin(), luns.end());
        dev.push_back(0);
        Answer a =
            s.ask(raw(nl::kMsgType, nl::CMD_GROUP_CREATE, 5,
                      {{nl::ATTR_GROUP, group},
                       {nl::ATTR_DEVICE, dev},
                       {nl::ATTR_HOSTNQN, Bytes(bad.c_str(), bad.c_str() + bad.size() + 1)}}));
        EXPECT_EQ(a.err(), EINVAL);
        EXPECT_NE(a.err_msg().find("ATTR_HOSTNQN: \"nqn.bad\\x09name\" holds \"\\x09\" at byte 7"),
                  std::string::npos)
            << a.err_msg();
        EXPECT_NE(a.err_offset(), 0u);
        a = s.ask(raw(
            nl::kMsgType, nl::CMD_GROUP_CREATE, 6,
            {{nl::ATTR_GROUP, group}, {nl::ATTR_DEVICE, dev}, {nl::ATTR_HOSTID, Bytes(15, 1)}}));
        EXPECT_EQ(a.err(), EINVAL);
        EXPECT_NE(a.err_msg().find("ATTR_HOSTID: 15 bytes, expected 16-16"), std::string::npos)
            << a.err_msg();
        auto groups = list(c);
        ASSERT_EQ(groups.size(), 1u);
        EXPECT_EQ(groups[0].name, "b");
        d.stop();
    }
    auto saved = daemon::load_config(config);
    ASSERT_TRUE(saved.ok()) << saved.error().msg;
    ASSERT_EQ(saved->groups.size(), 1u);
    EXPECT_EQ(saved->groups[0].hostnqn, nqn);
    EXPECT_EQ(saved->groups[0].hostid, id);

    InProc d(options(t, config));
    auto c = connect(d.socket());
    auto groups = list(c);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].hostnqn, nqn);
    EXPECT_EQ(groups[0].hostid, id);
    EXPECT_TRUE(groups[0].problems.empty());
}

TEST(Prfenced, StatsCountOperationsAndControl) {
    Farm f(4);
    TempDir t;
    InProc d(options(t));
    auto c = connect(d.socket());
    ASSERT_EQ(create(c, "a", {f.luns("0-3")}, kNodeA, 1).first, 0);
    for (int i = 0; i < 3; ++i) run(c, "a", op(engine::Operation::read_keys));
    for (int i = 0; i < 10; ++i) call(c, req(nl::CMD_NOOP));
    auto r = req(nl::CMD_STATS);
    r.flags = nl::STATS_RESET;
    std::vector<nl::OpStats> stats;
    for (auto& a : call(c, r))
        if (a.kind() == Answer::Kind::stats) stats = a.stats();
    auto find = [&](const char* name) -> const nl::OpStats* {
        for (const auto& s : stats)
            if (s.name == name) return &s;
        return nullptr;
    };
    ASSERT_TRUE(find("keys"));
    EXPECT_EQ(find("keys")->count, 3u);
    ASSERT_TRUE(find("control"));
    EXPECT_GE(find("control")->count, 10u);
    EXPECT_GT(find("control")->p99_ns, 0u);
    // Reset after answering: only the STATS call's own control round trip since.
    for (auto& a : call(c, req(nl::CMD_STATS)))
        if (a.kind() == Answer::Kind::stats) stats = a.stats();
    EXPECT_FALSE(find("keys"));
}

// ---- the real binary

struct NotifySocket {
    int fd = -1;
    std::string path;
    explicit NotifySocket(const std::string& p) : path(p) {
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, p.c_str(), sizeof a.sun_path - 1);
        EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    }
    ~NotifySocket() { close(fd); }
    // The next datagram containing `what`, skipping others; "" on timeout.
    std::string wait_for(const std::string& what, int timeout_ms = 60000) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < end) {
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 100) != 1) continue;
            char buf[512];
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0) continue;
            std::string s(buf, static_cast<size_t>(n));
            if (s.find(what) != std::string::npos) return s;
        }
        return {};
    }
};

struct Child {
    pid_t pid = -1;
    // With `log`, the daemon's stdout and stderr go to that file.
    Child(const std::vector<std::string>& args, const std::string& notify,
          const std::string& log = {}) {
        std::vector<std::string> env_s;
        for (char** e = environ; *e; ++e)
            if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env_s.emplace_back(*e);
        if (!notify.empty()) env_s.push_back("NOTIFY_SOCKET=" + notify);
        std::vector<char*> argv, envp;
        argv.push_back(const_cast<char*>(PRFENCED_BIN));
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        for (auto& e : env_s) envp.push_back(e.data());
        envp.push_back(nullptr);
        pid = fork();
        if (pid == 0) {
            if (!log.empty()) {
                const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) _exit(126);
            }
            execve(PRFENCED_BIN, argv.data(), envp.data());
            _exit(127);
        }
    }
    // Exit status, or -1 when it did not exit within the time.
    int wait(int timeout_ms = 30000) {
        for (int i = 0; i < timeout_ms / 10; ++i) {
            int st = 0;
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid) {
                pid = -1;
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
            std::this_thread::sleep_for(10ms);
        }
        return -1;
    }
    ~Child() {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
};

void write_config(const std::string& path, const daemon::Config& c) {
    ASSERT_TRUE(daemon::save_config(c, path).ok());
}

// Waits until `text` appears in the file at `path` (30 s at most).
bool log_shows(const std::string& path, const std::string& text) {
    for (int i = 0; i < 3000; ++i) {
        std::ifstream in(path);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (all.find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

TEST(PrfencedBinary, ReadyReloadAndCleanExit) {
    Farm f(8);
    TempDir t;
    const std::string config = t / "prfenced.json", sock = t / "control.sock";
    daemon::Config cfg;
    cfg.groups.push_back({"g1", {f.luns("0-3")}, kNodeA, 1, nl::SG_TRANSPORT_URING});
    write_config(config, cfg);
    NotifySocket notify(t / "notify.sock");
    const std::string log = t / "prfenced.log";
    Child p({"--socket", sock, "--config", config}, notify.path, log);
    const std::string ready = notify.wait_for("READY=1");
    ASSERT_FALSE(ready.empty());
    EXPECT_NE(ready.find("MAINPID=" + std::to_string(p.pid)), std::string::npos) << ready;
    struct stat st {};
    ASSERT_EQ(stat(sock.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0660u);

    auto c = connect(sock);
    auto groups = list(c);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].name, "g1");
    EXPECT_EQ(groups[0].luns, 4u);

    // SIGHUP: g1 goes, g2 comes.
    cfg.groups[0] = {"g2", {f.luns("4-7")}, kNodeB, 2, nl::SG_TRANSPORT_URING};
    write_config(config, cfg);
    ASSERT_EQ(kill(p.pid, SIGHUP), 0);
    EXPECT_FALSE(notify.wait_for("RELOADING=1").empty());
    EXPECT_FALSE(notify.wait_for("READY=1").empty());
    groups = list(c);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].name, "g2");
    EXPECT_EQ(groups[0].initiator, kNodeB);

    // A broken file is refused with its name, and nothing changes.
    { std::ofstream(config) << "{\"groups\": [{\"name\": \"g3\"}]}"; }
    auto reload = call(c, req(nl::CMD_RELOAD));
    EXPECT_EQ(status_of(reload).first, EINVAL);
    EXPECT_NE(status_of(reload).second.find(config), std::string::npos) << status_of(reload).second;
    ASSERT_EQ(kill(p.pid, SIGHUP), 0);
    // The refusal is logged once the signal has been handled: only then does the list say anything.
    EXPECT_TRUE(log_shows(log, "SIGHUP: ")) << "the daemon never handled the SIGHUP";
    EXPECT_EQ(list(c).at(0).name, "g2");

    ASSERT_EQ(kill(p.pid, SIGTERM), 0);
    EXPECT_FALSE(notify.wait_for("STOPPING=1").empty());
    EXPECT_EQ(p.wait(), 0);
    EXPECT_FALSE(fs::exists(sock));
}

TEST(PrfencedBinary, SigtermDuringALongBatchReportsCancelledOutcomes) {
    sim::FaultSpec slow;
    slow.kind = sim::FaultKind::latency;
    slow.classes = sim::class_bit(sim::CmdClass::pr_out);
    slow.latency.us = 60e6;  // 60 s per PR OUT: the batch is still running when SIGTERM comes
    Farm f(64, {slow});
    TempDir t;
    const std::string sock = t / "control.sock";
    NotifySocket notify(t / "notify.sock");
    Child p({"--socket", sock}, notify.path);
    ASSERT_FALSE(notify.wait_for("READY=1").empty());
    auto c = connect(sock);
    ASSERT_EQ(create(c, "a", {f.luns("0-63")}, kNodeA, 1).first, 0);

    RunResult r;
    const auto t0 = std::chrono::steady_clock::now();
    std::thread th([&] {
        auto rc = connect(sock);
        r = run(rc, "a", op(engine::Operation::register_key, 0xa), 600000);
    });
    for (int i = 0; i < 1000 && health(c).batches_running == 0; ++i)
        std::this_thread::sleep_for(5ms);
    // A second batch waits behind the first: it is answered ECANCELED, never started.
    RunResult queued;
    std::thread th2([&] {
        auto rc = connect(sock);
        queued = run(rc, "a", op(engine::Operation::read_keys));
    });
    for (int i = 0; i < 1000 && health(c).batches_queued == 0; ++i)
        std::this_thread::sleep_for(5ms);
    ASSERT_EQ(kill(p.pid, SIGTERM), 0);
    th.join();
    th2.join();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(secs, 45.0) << "the batch was cancelled, not waited out";
    ASSERT_TRUE(r.summary) << r.err << " " << r.msg;
    EXPECT_TRUE(r.summary->batch.cancelled);
    EXPECT_EQ(r.summary->batch.failed, 64u);
    ASSERT_EQ(r.luns.size(), 64u);
    EXPECT_NE(r.luns[0].error.find("cancelled"), std::string::npos) << r.luns[0].error;
    EXPECT_EQ(queued.err, ECANCELED) << queued.msg;
    EXPECT_EQ(p.wait(), 0);
    EXPECT_FALSE(fs::exists(sock));
}

TEST(PrfencedBinary, UnauthorizedPeerGetsEperm) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
    TempDir t;
    const std::string sock = t / "control.sock";
    NotifySocket notify(t / "notify.sock");
    // Everyone may connect (0666); only root (no socket group) may act.
    Child p({"--socket", sock, "--socket-mode", "0666"}, notify.path);
    ASSERT_FALSE(notify.wait_for("READY=1").empty());
    // No other thread runs in this process here, so the forked child may use the client library.
    pid_t kid = fork();
    if (kid == 0) {
        if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
        auto c = nl::Client::connect(sock);
        if (!c.ok()) _exit(11);
        auto noop = c->call(req(nl::CMD_NOOP), 10000ms);
        if (!noop.ok() || status_of(*noop).first != 0) _exit(12);
        auto h = c->call(req(nl::CMD_HEALTH), 10000ms);
        if (!h.ok()) _exit(13);
        auto [err, msg] = status_of(*h);
        if (err != EPERM) _exit(14);
        if (msg.find("permission denied: uid 65534 is neither root nor in group") ==
            std::string::npos)
            _exit(15);
        auto run_ = req(nl::CMD_GROUP_CREATE, "x");
        run_.devices = {"/dev/sdx"};
        auto cr = c->call(run_, 10000ms);
        if (!cr.ok() || status_of(*cr).first != EPERM) _exit(16);
        _exit(0);
    }
    int st = 0;
    ASSERT_EQ(waitpid(kid, &st, 0), kid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0)
        << "10 setuid, 11 connect, 12 noop, 13 health call, 14 not EPERM, 15 message, 16 create";
    kill(p.pid, SIGTERM);
    EXPECT_EQ(p.wait(), 0);
}

}  // namespace
}  // namespace prfence
