// SPDX-License-Identifier: MIT
// The control client against a scripted fake daemon on the other end of a SOCK_SEQPACKET
// socketpair: acks, errors with extended-ack text, multi-part answers, events interleaved with an
// answer, the daemon closing mid-answer, timeouts.
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <thread>

#include "nl_control/client/client.h"
#include "nl_control/protocol/message.h"

namespace prfence::nl {
namespace {

// One end for the client, one for a fake daemon thread running `script`.
class FakeDaemon {
  public:
    explicit FakeDaemon(std::function<void(int)> script) {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        client_fd_ = sv[0];
        server_fd_ = sv[1];
        thread_ = std::thread([this, script = std::move(script)] {
            script(server_fd_);
            if (server_fd_ >= 0) ::close(server_fd_);
        });
    }
    ~FakeDaemon() { thread_.join(); }
    int take_client_fd() { return std::exchange(client_fd_, -1); }

  private:
    int client_fd_ = -1, server_fd_ = -1;
    std::thread thread_;
};

// Receives one request; returns its header (fails the test on a refusal).
Header recv_request(int fd, Request* out = nullptr) {
    Bytes buf(kMaxDatagram);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    EXPECT_GT(n, 0);
    if (n <= 0) return {};
    buf.resize(static_cast<size_t>(n));
    auto d = decode_request(buf);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().msg);
    EXPECT_TRUE(peek_header(buf)->flags & NLM_F_ACK);
    if (out && d.ok()) *out = *d;
    return *peek_header(buf);
}
void send_bytes(int fd, const Bytes& b) {
    EXPECT_EQ(::send(fd, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
}

TEST(NlClient, AckForNoop) {
    FakeDaemon d([](int fd) {
        Header h = recv_request(fd);
        EXPECT_EQ(h.cmd, CMD_NOOP);
        EXPECT_NE(h.seq, 0u);
        send_bytes(fd, encode_ack(h, 0));
    });
    Client c = Client::adopt(d.take_client_fd());
    Request r;
    r.hdr.cmd = CMD_NOOP;
    auto a = c.call(r, std::chrono::seconds(10));
    ASSERT_TRUE(a.ok()) << a.error().msg;
    ASSERT_EQ(a->size(), 1u);
    EXPECT_EQ(a->back().kind(), Answer::Kind::ack);
    EXPECT_EQ(a->back().err(), 0);
}

TEST(NlClient, SingleAnswerThenAck) {
    FakeDaemon d([](int fd) {
        Header h = recv_request(fd);
        Health health;
        health.pid = 42;
        send_bytes(fd, encode_health(h, health));
        send_bytes(fd, encode_ack(h, 0));
        // family(): a second request on the same connection, answer and ack packed in one datagram.
        Header f = recv_request(fd);
        send_bytes(fd, pack_datagrams({encode_family(f), encode_ack(f, 0)}).at(0));
    });
    Client c = Client::adopt(d.take_client_fd());
    Request r;
    r.hdr.cmd = CMD_HEALTH;
    auto a = c.call(r, std::chrono::seconds(10));
    ASSERT_TRUE(a.ok()) << a.error().msg;
    ASSERT_EQ(a->size(), 2u);
    EXPECT_EQ((*a)[0].kind(), Answer::Kind::health);
    EXPECT_EQ((*a)[0].health().pid, 42u);
    EXPECT_EQ((*a)[1].kind(), Answer::Kind::ack);
    auto fam = c.family();
    ASSERT_TRUE(fam.ok()) << fam.error().msg;
    EXPECT_EQ(fam->name, "prfence");
}

TEST(NlClient, ErrorWithExtendedAck) {
    FakeDaemon d([](int fd) {
        Header h = recv_request(fd);
        send_bytes(fd, encode_ack(h, ENOENT, "ATTR_GROUP: no group \"db\"", 20));
    });
    Client c = Client::adopt(d.take_client_fd());
    Request r;
    r.hdr.cmd = CMD_GROUP_DELETE;
    r.group = "db";
    auto a = c.call(r, std::chrono::seconds(10));
    ASSERT_TRUE(a.ok()) << a.error().msg;
    ASSERT_EQ(a->size(), 1u);
    EXPECT_EQ(a->back().err(), ENOENT);
    EXPECT_EQ(a->back().err_msg(), "ATTR_GROUP: no group \"db\"");
    EXPECT_EQ(a->back().err_offset(), 20u);
}

std::vector<engine::LunOutcome> outcomes(size_t n) {
    std::vector<engine::LunOutcome> v(n);
    for (size_t i = 0; i < n; ++i) {
        v[i].device = "/dev/sd" + std::to_string(i);
        v[i].error = std::string(900, 'e');  // a few KiB per LUN: several parts
        v[i].ok = true;
    }
    return v;
}

TEST(NlClient, MultiPartAnswerWithEventInterleaved) {
    FakeDaemon d([](int fd) {
        Request req;
        Header h = recv_request(fd, &req);
        EXPECT_EQ(req.group, "db");
        EXPECT_EQ(req.op.op, engine::Operation::read_keys);
        // An event for this subscriber arrives before the answer.
        Event ev;
        ev.kind = EVENT_GROUP;
        ev.group = "db";
        ev.text = "refreshed";
        send_bytes(fd, encode_event(ev));
        // A stale answer to an older request is ignored.
        Header old = h;
        old.seq = h.seq - 1;
        send_bytes(fd, encode_ack(old, ETIMEDOUT));
        Summary s;
        s.batch.luns = 100;
        auto msgs = encode_run_answer(h, outcomes(100), s);
        // Half as one message per datagram, the rest packed.
        size_t half = msgs.size() / 2;
        for (size_t i = 0; i < half; ++i) send_bytes(fd, msgs[i]);
        std::vector<Bytes> rest(msgs.begin() + static_cast<long>(half), msgs.end());
        for (const Bytes& dg : pack_datagrams(rest)) send_bytes(fd, dg);
    });
    Client c = Client::adopt(d.take_client_fd());
    Request r;
    r.hdr.cmd = CMD_RUN;
    r.group = "db";
    r.has_operation = true;
    auto a = c.call(r, std::chrono::seconds(10));
    ASSERT_TRUE(a.ok()) << a.error().msg;
    ASSERT_GE(a->size(), 4u);
    EXPECT_EQ(a->back().kind(), Answer::Kind::done);
    EXPECT_EQ((*a)[a->size() - 2].kind(), Answer::Kind::summary);
    EXPECT_EQ((*a)[a->size() - 2].summary().batch.luns, 100u);
    uint32_t next = 0;
    for (const auto& x : *a) {
        if (x.kind() != Answer::Kind::luns) continue;
        for (const auto& [idx, o] : x.luns()) {
            EXPECT_EQ(idx, next);
            ++next;
        }
    }
    EXPECT_EQ(next, 100u);
    auto ev = c.next_event(std::chrono::milliseconds(0));
    ASSERT_TRUE(ev.ok());
    ASSERT_TRUE(ev->has_value());
    EXPECT_EQ((*ev)->kind, EVENT_GROUP);
    EXPECT_EQ((*ev)->text, "refreshed");
    // The script has ended: the daemon's end is closed.
    auto gone = c.next_event(std::chrono::seconds(10));
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().msg, "prfenced closed the connection");
}

// Streamed answers come in completion order; assemble_run_answer puts them back by LUN_INDEX and
// refuses an answer that is not whole, saying what is wrong.
std::vector<Answer> streamed(const std::vector<uint32_t>& order, size_t summary_luns,
                             bool with_summary = true) {
    const auto outs = outcomes(16);
    std::vector<Bytes> msgs;
    Header h;
    h.cmd = CMD_RUN;
    h.seq = 3;
    RunAnswerWriter w(h, [&](Bytes&& b) { msgs.push_back(std::move(b)); });
    for (size_t k = 0; k < order.size(); ++k) {
        w.add(order[k], outs[order[k]]);
        if (k % 3 == 2) w.flush();
    }
    Summary s;
    s.batch.luns = summary_luns;
    w.finish(s);
    std::vector<Answer> as;
    for (const Bytes& m : msgs) {
        auto a = decode_answer(m);
        EXPECT_TRUE(a.ok()) << a.error().msg;
        if (a.ok() && (with_summary || a->kind() != Answer::Kind::summary))
            as.push_back(std::move(*a));
    }
    return as;
}

TEST(NlClient, AssembleRunAnswerPutsLunsBackInOrder) {
    std::vector<uint32_t> order = {5, 0, 9, 1, 2, 15, 3, 4, 6, 7, 8, 10, 11, 14, 13, 12};
    auto as = streamed(order, 16);
    auto run = assemble_run_answer(as);
    ASSERT_TRUE(run.ok()) << run.error().msg;
    ASSERT_EQ(run->outcomes.size(), 16u);
    for (size_t i = 0; i < 16; ++i)
        EXPECT_EQ(run->outcomes[i].device, "/dev/sd" + std::to_string(i));
    EXPECT_EQ(run->summary.batch.luns, 16u);
}

TEST(NlClient, AssembleRunAnswerRefusesPartialAnswers) {
    auto msg = [](std::vector<Answer> as) {
        auto r = assemble_run_answer(as);
        EXPECT_FALSE(r.ok());
        if (r.ok()) return std::string();
        EXPECT_EQ(r.error().code, Errc::malformed);
        return r.error().msg;
    };
    std::vector<uint32_t> all;
    for (uint32_t i = 0; i < 16; ++i) all.push_back(i);
    auto missing = all;
    missing.erase(missing.begin() + 7);
    EXPECT_EQ(msg(streamed(missing, 16)), "prfenced's answer lacks LUN 7 (15 results for 16 LUNs)");
    auto twice = all;
    twice.push_back(4);
    EXPECT_EQ(msg(streamed(twice, 17)), "prfenced's answer repeats LUN 4");
    EXPECT_EQ(msg(streamed(all, 20)), "prfenced's answer lacks LUN 16 (16 results for 20 LUNs)");
    EXPECT_EQ(msg(streamed(all, 12)), "prfenced's answer has LUN 12, beyond its 12 LUNs");
    EXPECT_EQ(msg(streamed(all, 16, false)), "prfenced's answer ended without a summary");
}

TEST(NlClient, SubscribeThenEvents) {
    FakeDaemon d([](int fd) {
        Header h = recv_request(fd);
        EXPECT_EQ(h.cmd, CMD_SUBSCRIBE);
        send_bytes(fd, encode_ack(h, 0));
        Event ev;
        ev.kind = EVENT_OP_DONE;
        ev.time_ns = 5;
        send_bytes(fd, encode_event(ev));
    });
    Client c = Client::adopt(d.take_client_fd());
    Request r;
    r.hdr.cmd = CMD_SUBSCRIBE;
    ASSERT_TRUE(c.call(r, std::chrono::seconds(10)).ok());
    auto ev = c.next_event(std::chrono::seconds(10));
    ASSERT_TRUE(ev.ok()) << ev.error().msg;
    ASSERT_TRUE(ev->has_value());
    EXPECT_EQ((*ev)->kind, EVENT_OP_DONE);
    EXPECT_EQ((*ev)->time_ns, 5u);
    // Then the daemon goes away.
    auto gone = c.next_event(std::chrono::seconds(10));
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().code, Errc::system);
}

TEST(NlClient, DaemonClosesMidAnswer) {
    FakeDaemon d([](int fd) {
        Header h = recv_request(fd);
        auto msgs = encode_run_answer(h, outcomes(50), Summary{});
        send_bytes(fd, msgs.at(0));  // one part, then gone
    });
    Client c = Client::adopt(d.take_client_fd());
    Request r;
    r.hdr.cmd = CMD_RUN;
    r.group = "db";
    r.has_operation = true;
    auto a = c.call(r, std::chrono::seconds(10));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::system);
    EXPECT_TRUE(a.error().sys_errno == ECONNRESET || a.error().sys_errno == EPIPE);
    EXPECT_EQ(a.error().msg, "prfenced closed the connection");
    // Sending on the dead connection says the same.
    auto again = c.call(r, std::chrono::seconds(10));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().msg, "prfenced closed the connection");
}

TEST(NlClient, Timeout) {
    int release[2];
    ASSERT_EQ(::pipe(release), 0);
    FakeDaemon d([&](int fd) {
        recv_request(fd);
        char x;
        EXPECT_EQ(::read(release[0], &x, 1), 1);  // silent until the client gave up
    });
    Client c = Client::adopt(d.take_client_fd());
    Request r;
    r.hdr.cmd = CMD_NOOP;
    auto t0 = std::chrono::steady_clock::now();
    auto a = c.call(r, std::chrono::milliseconds(150));
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::timeout);
    EXPECT_GE(took, std::chrono::milliseconds(150));
    EXPECT_LT(took, std::chrono::seconds(5));
    // No event either: nullopt once the timeout passes.
    auto none = c.next_event(std::chrono::milliseconds(50));
    ASSERT_TRUE(none.ok()) << none.error().msg;
    EXPECT_FALSE(none->has_value());
    EXPECT_EQ(::write(release[1], "x", 1), 1);
    ::close(release[0]);
    ::close(release[1]);
}

TEST(NlClient, MalformedAnswerIsAnError) {
    FakeDaemon d([](int fd) {
        recv_request(fd);
        Bytes junk = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
        send_bytes(fd, junk);
    });
    Client c = Client::adopt(d.take_client_fd());
    Request r;
    r.hdr.cmd = CMD_NOOP;
    auto a = c.call(r, std::chrono::seconds(10));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::malformed);
}

TEST(NlClient, ConnectErrorsNameThePath) {
    auto c = Client::connect("/nonexistent-prfence-dir/control.sock");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().sys_errno, ENOENT);
    EXPECT_NE(c.error().msg.find("/nonexistent-prfence-dir/control.sock"), std::string::npos);
    EXPECT_NE(c.error().msg.find("is prfenced running?"), std::string::npos);
    EXPECT_FALSE(Client::connect(std::string(200, 'x')).ok());
}

}  // namespace
}  // namespace prfence::nl
