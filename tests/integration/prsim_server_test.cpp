// SPDX-License-Identifier: MIT
// The prsim daemon over its Unix socket, started in-process on a temporary socket: many clients,
// answers out of order under latency faults, misbehaving clients cut off alone (garbage, vanishing,
// not reading), faults armed and disarmed at run time, PREEMPT AND ABORT aborting the preempted
// nexus's queued commands, kernel-format trace lines byte-exact in each kernel generation, and a
// farm of 4096 LUs. Every wait has a timeout: a broken server fails these tests, it never hangs
// them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "interposer/prsim/server.h"
#include "tests/support/test_util.h"
#include "uring_engine/simproto/protocol.h"
#include "uring_engine/simproto/sim_client.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/prout.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::sim {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kNodeA = "iqn.2001-05.com.example:node-a";
constexpr const char* kNodeB = "iqn.2001-05.com.example:node-b";

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "prsim-test-XXXXXX").string();
        char* p = ::mkdtemp(tmpl.data());
        EXPECT_NE(p, nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// A server running on its own thread for the duration of a test.
class Running {
  public:
    explicit Running(ServerConfig cfg) {
        cfg.log = [this](const std::string& s) {
            std::lock_guard<std::mutex> g(mu_);
            logs_.push_back(s);
        };
        auto s = Server::create(std::move(cfg));
        if (!s) {
            ADD_FAILURE() << "server: " << s.error().msg;
            return;
        }
        srv_ = std::move(s).value();
        th_ = std::thread([this] {
            auto st = srv_->run();
            EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().msg);
        });
    }
    ~Running() { stop(); }
    void stop() {
        if (srv_ && th_.joinable()) {
            srv_->stop();
            th_.join();
        }
    }
    bool ok() const { return srv_ != nullptr; }
    Server& server() { return *srv_; }
    const std::string& path() const { return srv_->socket_path(); }
    std::string logs() {
        std::lock_guard<std::mutex> g(mu_);
        std::string all;
        for (const auto& l : logs_) all += l + "\n";
        return all;
    }

  private:
    std::unique_ptr<Server> srv_;
    std::thread th_;
    std::mutex mu_;
    std::vector<std::string> logs_;
};

ServerConfig config(const TempDir& dir, uint32_t luns) {
    ServerConfig c;
    c.socket_path = (dir.path / "prsim.sock").string();
    c.luns = luns;
    return c;
}

std::unique_ptr<SimClient> connect(const std::string& path, const char* initiator,
                                   uint16_t port = 1, const char* name = "test") {
    auto c = SimClient::connect(path, proto::make_hello(initiator, port, name), 3000);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().msg);
    return c.ok() ? std::move(c).value() : nullptr;
}

json control(const std::string& path, const json& req) {
    auto c = SimClient::connect_raw(path, 3000);
    EXPECT_TRUE(c.ok());
    if (!c) return {};
    auto r = (*c)->control(req.dump(), 3000);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().msg);
    if (!r) return {};
    return json::parse(*r);
}

uint32_t arm(const std::string& path, const std::string& spec) {
    json r = control(path, {{"op", "arm"}, {"fault", spec}});
    EXPECT_TRUE(r.value("ok", false)) << r.dump();
    return r.value("id", 0u);
}

// TEST UNIT READY until GOOD: takes the POWER ON unit attention every new nexus starts with.
void settle(SimClient& c, uint32_t lun) {
    for (int i = 0; i < 4; ++i) {
        auto r = c.execute(lun, wire::test_unit_ready_cdb().bytes(), {}, 0, 3000);
        ASSERT_TRUE(r.ok()) << r.error().msg;
        if (r->status == wire::sam::good) return;
        ASSERT_EQ(r->status, wire::sam::check_condition);
    }
    FAIL() << "TEST UNIT READY never GOOD";
}

proto::Response pr_out(SimClient& c, uint32_t lun, wire::PrOutAction sa, wire::PrType type,
                       uint64_t key, uint64_t sa_key, bool aptpl = false) {
    wire::ProutParams p;
    p.key = key;
    p.sa_key = sa_key;
    p.aptpl = aptpl;
    auto cmd = wire::build_prout(sa, type, p);
    EXPECT_TRUE(cmd.ok());
    auto r = c.execute(lun, cmd->cdb.bytes(), cmd->data, 0, 3000);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().msg);
    return r.ok() ? *r : proto::Response{};
}

std::vector<uint64_t> read_keys(SimClient& c, uint32_t lun) {
    auto r =
        c.execute(lun, wire::prin_cdb(wire::PrInAction::read_keys, 1024).bytes(), {}, 1024, 3000);
    EXPECT_TRUE(r.ok());
    if (!r) return {};
    EXPECT_EQ(r->status, wire::sam::good);
    auto k = wire::parse_read_keys(r->data_in);
    EXPECT_TRUE(k.ok());
    return k.ok() ? k->keys : std::vector<uint64_t>{};
}

// Waits until the server closes the connection (EOF/reset) and returns the fatal ERROR it sent, if
// any.
std::optional<proto::ErrorFrame> wait_cut(int fd, int timeout_ms = 3000) {
    proto::FrameDecoder dec;
    std::optional<proto::ErrorFrame> err;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        if (left <= 0) {
            ADD_FAILURE() << "the server did not close the connection";
            return err;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, left) <= 0) continue;
        uint8_t buf[65536];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return err;
        dec.feed(ByteView(buf, static_cast<size_t>(n)));
        for (;;) {
            auto f = dec.next();
            if (!f || !*f) break;
            auto m = proto::decode_server_frame(**f);
            if (m.ok())
                if (auto* e = std::get_if<proto::ErrorFrame>(&*m)) err = *e;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------

TEST(PrsimServer, HelloAssignsHostsAndTargetIds) {
    TempDir dir;
    auto cfg = config(dir, 8);
    Running srv(cfg);
    ASSERT_TRUE(srv.ok());
    auto a = connect(srv.path(), kNodeA, 1);
    auto b = connect(srv.path(), kNodeB, 2);
    auto a2 =
        connect(srv.path(), "iqn.2001-05.com.example:NODE-A", 2);  // same initiator, other port
    ASSERT_TRUE(a && b && a2);
    EXPECT_EQ(a->info().lun_count, 8u);
    EXPECT_EQ(a->info().host, 0u);
    EXPECT_EQ(a->info().target_id, 0);
    EXPECT_EQ(b->info().host, 1u);
    EXPECT_EQ(b->info().target_id, 1);
    EXPECT_EQ(a2->info().host, 0u);
    EXPECT_EQ(a2->info().target_id, 1);
    EXPECT_EQ(a->info().version, 1);
    json n = control(srv.path(), {{"op", "nexuses"}});
    ASSERT_TRUE(n.value("ok", false));
    ASSERT_EQ(n["nexuses"].size(), 3u);
    EXPECT_EQ(n["nexuses"][1]["first_disk"], "sdy");  // (host 1 * 2 ids + id 1) * 8 LUs = disk 24
}

TEST(PrsimServer, ManyClientsConcurrently) {
    TempDir dir;
    Running srv(config(dir, 64));
    ASSERT_TRUE(srv.ok());
    constexpr int kClients = 12, kCommands = 300, kWindow = 32;
    std::atomic<int> answered{0}, bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kClients; ++t) {
        threads.emplace_back([&, t] {
            std::string name = "iqn.2001-05.com.example:client-" + std::to_string(t);
            auto c = SimClient::connect(srv.path(), proto::make_hello(name, 1), 3000);
            if (!c) {
                ++bad;
                return;
            }
            const auto cdb = wire::prin_cdb(wire::PrInAction::read_keys, 512);
            int sent = 0, got = 0;
            while (got < kCommands) {
                while (sent < kCommands && sent - got < kWindow) {
                    if (!(*c)->submit(static_cast<uint32_t>((sent * 7 + t) % 64), cdb.bytes(), {},
                                      512)) {
                        ++bad;
                        return;
                    }
                    ++sent;
                }
                auto r = (*c)->wait_any(5000);
                if (!r ||
                    (r->status != wire::sam::good && r->status != wire::sam::check_condition)) {
                    ++bad;
                    return;
                }
                ++got;
                ++answered;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(answered.load(), kClients * kCommands);
    EXPECT_EQ(srv.server().stats().commands, uint64_t{kClients * kCommands});
}

TEST(PrsimServer, AnswersOutOfOrderUnderLatency) {
    TempDir dir;
    Running srv(config(dir, 4));
    ASSERT_TRUE(srv.ok());
    auto c = connect(srv.path(), kNodeA);
    ASSERT_TRUE(c);
    settle(*c, 0);
    settle(*c, 1);
    // 2 s: the fast answer's bound below leaves a loaded machine 1.5 s of slack.
    arm(srv.path(), "latency,luns=0,us=2000000");
    const auto t0 = Clock::now();
    auto slow = c->submit(0, wire::test_unit_ready_cdb().bytes());
    auto fast = c->submit(1, wire::test_unit_ready_cdb().bytes());
    ASSERT_TRUE(slow.ok() && fast.ok());
    auto first = c->wait_any(3000);
    ASSERT_TRUE(first.ok()) << first.error().msg;
    EXPECT_EQ(first->tag, *fast);
    EXPECT_LT(Clock::now() - t0, 1500ms);
    auto second = c->wait_any(10000);
    ASSERT_TRUE(second.ok()) << second.error().msg;
    EXPECT_EQ(second->tag, *slow);
    EXPECT_GE(Clock::now() - t0, 1990ms);
    EXPECT_EQ(second->status, wire::sam::good);
}

TEST(PrsimServer, GarbageClientIsCutOffAlone) {
    TempDir dir;
    Running srv(config(dir, 2));
    ASSERT_TRUE(srv.ok());
    auto good = connect(srv.path(), kNodeA);
    ASSERT_TRUE(good);
    settle(*good, 0);
    auto junk = SimClient::connect_raw(srv.path());
    ASSERT_TRUE(junk.ok());
    const std::string http = "GET / HTTP/1.1\r\nHost: prsim\r\n\r\n";
    ASSERT_TRUE((*junk)
                    ->send_raw(ByteView(reinterpret_cast<const uint8_t*>(http.data()), http.size()))
                    .ok());
    auto err = wait_cut((*junk)->fd());
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->code, static_cast<uint16_t>(proto::ErrorCode::bad_magic));
    EXPECT_TRUE(err->fatal);
    // The well-behaved client never noticed.
    auto r = good->execute(0, wire::test_unit_ready_cdb().bytes());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, wire::sam::good);
    EXPECT_NE(srv.logs().find("cut off: bad_magic"), std::string::npos) << srv.logs();
}

// Each hostile opening gets a clean fatal ERROR with the right code, then the connection closes.
TEST(PrsimServer, HostileFramesGetCleanErrors) {
    TempDir dir;
    auto cfg = config(dir, 2);
    cfg.limits.max_payload = 4096;
    Running srv(cfg);
    ASSERT_TRUE(srv.ok());
    auto hello = *proto::encode_hello(proto::make_hello(kNodeA, 1));
    auto expect_cut = [&](const Bytes& bytes, proto::ErrorCode code, const char* what) {
        SCOPED_TRACE(what);
        auto c = SimClient::connect_raw(srv.path());
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE((*c)->send_raw(bytes).ok());
        auto err = wait_cut((*c)->fd());
        ASSERT_TRUE(err.has_value());
        EXPECT_EQ(err->code, static_cast<uint16_t>(code)) << err->message;
        EXPECT_TRUE(err->fatal);
        EXPECT_FALSE(err->message.empty());
    };
    auto cat = [](Bytes a, const Bytes& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    const auto tur = wire::test_unit_ready_cdb();
    expect_cut(*proto::encode_command(1, 0, tur.bytes(), {}, 0), proto::ErrorCode::not_hello,
               "command first");
    expect_cut(test::hex("50 53 01 42 00 00 00 00 00 00 00 00 00 00 00 00"),
               proto::ErrorCode::unknown_type, "unknown type");
    expect_cut(test::hex("50 53 01 82 00 00 00 08 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00"),
               proto::ErrorCode::unknown_type, "server frame from a client");
    expect_cut(test::hex("50 53 01 02 00 10 00 00 00 00 00 00 00 00 00 01"),
               proto::ErrorCode::too_large, "huge length");
    expect_cut(
        cat(hello, test::hex("50 53 01 02 00 00 00 05 00 00 00 00 00 00 00 01 00 00 00 00 06")),
        proto::ErrorCode::bad_length, "short command");
    expect_cut(cat(hello, hello), proto::ErrorCode::duplicate_hello, "second hello");
    expect_cut(cat(hello, test::hex("50 53 01 03 00 00 00 01 00 00 00 00 00 00 00 01 00")),
               proto::ErrorCode::bad_length, "abort with a payload");
    expect_cut(test::hex("50 53 01 01 00 00 00 08 00 00 00 00 00 00 00 00 01 01 00 01 00 00 00 09"),
               proto::ErrorCode::bad_length, "hello whose TransportID runs past the frame");
    // A good client on the same daemon is still served after all that.
    auto c = connect(srv.path(), kNodeA);
    ASSERT_TRUE(c);
    settle(*c, 0);
    EXPECT_EQ(srv.server().stats().clients_cut_off, 8u);
}

TEST(PrsimServer, VersionNegotiationAndBadHello) {
    TempDir dir;
    Running srv(config(dir, 2));
    ASSERT_TRUE(srv.ok());
    // A client speaking only versions 3-4.
    proto::Hello h = proto::make_hello(kNodeA, 1);
    h.min_version = 3;
    h.max_version = 4;
    auto c = SimClient::connect(srv.path(), h, 3000);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().msg.find("versions 3-4"), std::string::npos) << c.error().msg;
    // A client offering 1-5 gets version 2, the highest this server speaks.
    h.min_version = 1;
    h.max_version = 5;
    auto ok = SimClient::connect(srv.path(), h, 3000);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ((*ok)->info().version, 2);
    // Frames after HELLO must carry the negotiated version.
    Bytes v1;
    ASSERT_TRUE(
        proto::append_command(v1, 1, 0, wire::test_unit_ready_cdb().bytes(), {}, 0, 1).ok());
    ASSERT_TRUE((*ok)->send_raw(v1).ok());
    auto err = wait_cut((*ok)->fd());
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->code, static_cast<uint16_t>(proto::ErrorCode::bad_version));
    // No such target port; TransportID that does not parse.
    auto p9 = SimClient::connect(srv.path(), proto::make_hello(kNodeA, 9), 3000);
    ASSERT_FALSE(p9.ok());
    EXPECT_NE(p9.error().msg.find("target port 9"), std::string::npos) << p9.error().msg;
    auto badtid = SimClient::connect(srv.path(), proto::make_hello("sas,12345", 1), 3000);
    ASSERT_FALSE(badtid.ok());
    EXPECT_NE(badtid.error().msg.find("TransportID"), std::string::npos) << badtid.error().msg;
}

TEST(PrsimServer, NonFatalRejectionsKeepTheConnection) {
    TempDir dir;
    Running srv(config(dir, 8));
    ASSERT_TRUE(srv.ok());
    auto c = connect(srv.path(), kNodeA);
    ASSERT_TRUE(c);
    settle(*c, 5);
    arm(srv.path(), "timeout,luns=5");
    ASSERT_TRUE(c->submit_tagged(7, 5, wire::test_unit_ready_cdb().bytes()).ok());
    ASSERT_TRUE(
        c->submit_tagged(7, 5, wire::test_unit_ready_cdb().bytes()).ok());  // 7 is still in flight
    auto dup = c->wait(7, 3000);
    ASSERT_FALSE(dup.ok());
    EXPECT_NE(dup.error().msg.find("duplicate_tag"), std::string::npos) << dup.error().msg;
    // CDB length 0: patch a valid frame.
    Bytes f = *proto::encode_command(8, 0, wire::test_unit_ready_cdb().bytes(), {}, 0);
    f[proto::kHeaderSize + 4] = 0;
    ASSERT_TRUE(c->send_raw(f).ok());
    auto badcdb = c->wait(8, 3000);
    ASSERT_FALSE(badcdb.ok());
    EXPECT_NE(badcdb.error().msg.find("bad_cdb"), std::string::npos) << badcdb.error().msg;
    // The held command is still there and can be aborted; the connection works.
    ASSERT_TRUE(c->abort(7).ok());
    auto aborted = c->wait(7, 3000);
    ASSERT_TRUE(aborted.ok()) << aborted.error().msg;
    EXPECT_EQ(aborted->status, wire::sam::task_aborted);
    EXPECT_EQ(aborted->flags, proto::kRespAbortedByClient);
    auto r = c->execute(0, wire::inquiry_cdb(false, 0, 36).bytes(), {}, 36);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, wire::sam::good);
    EXPECT_EQ(r->data_in.size(), 36u);
    // A LUN outside the farm: ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED.
    auto nolun = c->execute(8, wire::test_unit_ready_cdb().bytes());
    ASSERT_TRUE(nolun.ok());
    EXPECT_EQ(nolun->status, wire::sam::check_condition);
    auto s = wire::decode_sense(nolun->sense);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->asc, 0x25);
}

TEST(PrsimServer, ClientVanishingMidCommand) {
    TempDir dir;
    Running srv(config(dir, 4));
    ASSERT_TRUE(srv.ok());
    arm(srv.path(), std::string("latency,us=200000,initiator=") + kNodeB);
    {
        auto gone = connect(srv.path(), kNodeB);
        ASSERT_TRUE(gone);
        for (uint32_t l = 0; l < 4; ++l)
            ASSERT_TRUE(gone->submit(l, wire::test_unit_ready_cdb().bytes()).ok());
        // Half a frame, then the client vanishes with 4 commands waiting in the timer heap.
        Bytes half = *proto::encode_command(99, 0, wire::test_unit_ready_cdb().bytes(), {}, 0);
        half.resize(20);
        ASSERT_TRUE(gone->send_raw(half).ok());
    }
    auto c = connect(srv.path(), kNodeA);
    ASSERT_TRUE(c);
    std::this_thread::sleep_for(
        300ms);  // the dead client's commands come due: nothing may touch it
    settle(*c, 0);
    json st = control(srv.path(), {{"op", "stats"}});
    EXPECT_EQ(st["stats"]["connections_active"], 2u);  // c and the control connection
    EXPECT_NE(srv.logs().find("disconnected with 4 command(s) outstanding and a partial frame"),
              std::string::npos)
        << srv.logs();
}

TEST(PrsimServer, ClientThatDoesNotReadIsDropped) {
    TempDir dir;
    auto cfg = config(dir, 2);
    cfg.limits.max_output = 256 << 10;
    cfg.limits.stall_ms = 200;
    Running srv(cfg);
    ASSERT_TRUE(srv.ok());
    auto good = connect(srv.path(), kNodeA);
    ASSERT_TRUE(good);
    auto flood = connect(srv.path(), kNodeB);
    ASSERT_TRUE(flood);
    // 4000 READs of 32 KiB each (125 MiB of answers), written without ever reading.
    Bytes burst;
    const auto rd = wire::read10_cdb(0, 64);
    for (uint64_t t = 1; t <= 4000; ++t)
        ASSERT_TRUE(proto::append_command(burst, t, 1, rd.bytes(), {}, 32768).ok());
    const int fd = flood->fd();
    size_t off = 0;
    bool cut = false;
    const auto deadline = Clock::now() + 10s;
    while (off < burst.size() && Clock::now() < deadline) {
        ssize_t n = ::send(fd, burst.data() + off, burst.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            cut = true;
            break;
        }
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, 100);
        if (p.revents & (POLLHUP | POLLERR)) {
            cut = true;
            break;
        }
    }
    if (!cut) {
        // Everything fitted into socket buffers before the stall was noticed: the server still cuts
        // us.
        for (int i = 0; i < 250 && srv.server().stats().clients_cut_off == 0; ++i)
            std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(srv.server().stats().clients_cut_off, 1u);
    EXPECT_NE(srv.logs().find("is not reading its responses"), std::string::npos) << srv.logs();
    settle(*good, 0);
    auto r = good->execute(0, wire::read10_cdb(0, 8).bytes(), {}, 4096);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, wire::sam::good);
    EXPECT_EQ(r->data_in.size(), 4096u);
}

// The other side of the output limit: a client that bursts far more than the limit of answers but
// reads them is paused and resumed (backpressure), never cut off.
TEST(PrsimServer, BurstingClientThatReadsIsNotDropped) {
    TempDir dir;
    auto cfg = config(dir, 2);
    cfg.limits.max_output = 64 << 10;
    Running srv(cfg);
    ASSERT_TRUE(srv.ok());
    auto c = connect(srv.path(), kNodeA);
    ASSERT_TRUE(c);
    settle(*c, 1);
    Bytes burst;
    const auto rd =
        wire::read10_cdb(0, 128);  // 64 KiB each: 256 of them are 16 MiB, 256 times the limit
    for (uint64_t t = 1; t <= 256; ++t)
        ASSERT_TRUE(proto::append_command(burst, 1000 + t, 1, rd.bytes(), {}, 65536).ok());
    ASSERT_TRUE(c->send_raw(burst).ok());
    for (int i = 0; i < 256; ++i) {
        auto r = c->wait_any(5000);
        ASSERT_TRUE(r.ok()) << i << ": " << r.error().msg;
        EXPECT_EQ(r->status, wire::sam::good);
        EXPECT_EQ(r->data_in.size(), 65536u);
    }
    EXPECT_EQ(srv.server().stats().clients_cut_off, 0u);
}

TEST(PrsimServer, FaultsArmedAndDisarmedAtRunTime) {
    TempDir dir;
    Running srv(config(dir, 4));
    ASSERT_TRUE(srv.ok());
    auto c = connect(srv.path(), kNodeA);
    ASSERT_TRUE(c);
    for (uint32_t l = 0; l < 4; ++l) settle(*c, l);
    const auto tur = wire::test_unit_ready_cdb();
    auto status_of = [&](uint32_t lun) {
        auto r = c->execute(lun, tur.bytes());
        EXPECT_TRUE(r.ok());
        return r.ok() ? r->status : uint8_t{0xff};
    };
    const uint32_t busy = arm(srv.path(), "busy,luns=2");
    EXPECT_EQ(status_of(2), wire::sam::busy);
    EXPECT_EQ(status_of(1), wire::sam::good);
    json l = control(srv.path(), {{"op", "list"}});
    ASSERT_EQ(l["faults"].size(), 1u);
    EXPECT_EQ(l["faults"][0]["hits"], 1u);
    EXPECT_EQ(l["faults"][0]["fault"]["kind"], "busy");
    EXPECT_TRUE(control(srv.path(), {{"op", "disarm"}, {"id", busy}}).value("ok", false));
    EXPECT_EQ(status_of(2), wire::sam::good);
    EXPECT_FALSE(control(srv.path(), {{"op", "disarm"}, {"id", busy}}).value("ok", true));

    // TASK SET FULL for 2 commands, then automatically gone.
    arm(srv.path(), "task_set_full,count=2");
    EXPECT_EQ(status_of(0), wire::sam::task_set_full);
    EXPECT_EQ(status_of(3), wire::sam::task_set_full);
    EXPECT_EQ(status_of(3), wire::sam::good);

    // NOT READY, becoming ready: INQUIRY still answered.
    const uint32_t nr = arm(srv.path(), R"({"kind":"not_ready","luns":"1"})");
    auto r = c->execute(1, tur.bytes());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, wire::sam::check_condition);
    auto s = wire::decode_sense(r->sense);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->key, wire::SenseKey::not_ready);
    EXPECT_EQ(s->asc, 0x04);
    EXPECT_EQ(s->ascq, 0x01);
    auto inq = c->execute(1, wire::inquiry_cdb(false, 0, 36).bytes(), {}, 36);
    ASSERT_TRUE(inq.ok());
    EXPECT_EQ(inq->status, wire::sam::good);
    EXPECT_TRUE(control(srv.path(), {{"op", "disarm"}, {"id", nr}}).value("ok", false));

    // A unit-attention storm of 3 on LU 0 (LIO's REPORTED LUNS DATA HAS CHANGED), then quiet.
    arm(srv.path(), "unit_attention,luns=0,n=3");
    for (int i = 0; i < 3; ++i) {
        auto u = c->execute(0, tur.bytes());
        ASSERT_TRUE(u.ok());
        ASSERT_EQ(u->status, wire::sam::check_condition) << i;
        auto us = wire::decode_sense(u->sense);
        ASSERT_TRUE(us.ok());
        EXPECT_EQ(us->key, wire::SenseKey::unit_attention);
        EXPECT_EQ(us->asc, 0x3f);
        EXPECT_EQ(us->ascq, 0x0e);
    }
    EXPECT_EQ(status_of(0), wire::sam::good);
    EXPECT_EQ(control(srv.path(), {{"op", "disarm"}, {"all", true}})["disarmed"], 1u);

    // Bad specs are refused with a message, nothing armed.
    json bad = control(srv.path(), {{"op", "arm"}, {"fault", "latency,class=nonsense"}});
    EXPECT_FALSE(bad.value("ok", true));
    EXPECT_NE(bad["error"].get<std::string>().find("nonsense"), std::string::npos);
    EXPECT_EQ(control(srv.path(), {{"op", "list"}})["faults"].size(), 0u);
}

TEST(PrsimServer, LostPathAndTaskSetFull) {
    TempDir dir;
    auto cfg = config(dir, 2);
    cfg.limits.max_in_flight = 4;
    Running srv(cfg);
    ASSERT_TRUE(srv.ok());
    auto p1 = connect(srv.path(), kNodeA, 1);
    auto p2 = connect(srv.path(), kNodeA, 2);
    ASSERT_TRUE(p1 && p2);
    settle(*p1, 0);
    settle(*p2, 0);
    const uint32_t lost = arm(srv.path(), "lost_path,port=2");
    const auto tur = wire::test_unit_ready_cdb();
    std::vector<uint64_t> tags;
    for (int i = 0; i < 4; ++i) tags.push_back(*p2->submit(0, tur.bytes()));
    auto fifth = p2->execute(0, tur.bytes());  // every slot is held: the task set is full
    ASSERT_TRUE(fifth.ok());
    EXPECT_EQ(fifth->status, wire::sam::task_set_full);
    auto none = p2->wait_any(200);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, Errc::timeout);
    auto other = p1->execute(0, tur.bytes());  // the other path answers
    ASSERT_TRUE(other.ok());
    EXPECT_EQ(other->status, wire::sam::good);
    EXPECT_EQ(srv.server().stats().held, 4u);
    EXPECT_TRUE(control(srv.path(), {{"op", "disarm"}, {"id", lost}}).value("ok", false));
    for (uint64_t t : tags) ASSERT_TRUE(p2->abort(t).ok());
    for (uint64_t t : tags) {
        auto r = p2->wait(t, 3000);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->status, wire::sam::task_aborted);
    }
    auto again = p2->execute(0, tur.bytes());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->status, wire::sam::good);
    EXPECT_EQ(srv.server().stats().held, 0u);
}

// Node B fences node A with PREEMPT AND ABORT while A has a READ delayed in the task set and
// another that would never complete: both are answered TASK ABORTED at once (TAS=1), B's command
// succeeds.
TEST(PrsimServer, PreemptAndAbortAbortsQueuedCommandsOfThePreemptedNexus) {
    TempDir dir;
    Running srv(config(dir, 4));
    ASSERT_TRUE(srv.ok());
    auto a = connect(srv.path(), kNodeA, 1);
    auto b = connect(srv.path(), kNodeB, 2);
    ASSERT_TRUE(a && b);
    settle(*a, 3);
    settle(*b, 3);
    using wire::PrOutAction;
    using wire::PrType;
    EXPECT_EQ(pr_out(*a, 3, PrOutAction::register_key, PrType::none, 0, 0xaaaa).status,
              wire::sam::good);
    EXPECT_EQ(pr_out(*b, 3, PrOutAction::register_key, PrType::none, 0, 0xbbbb).status,
              wire::sam::good);
    EXPECT_EQ(pr_out(*a, 3, PrOutAction::reserve, PrType::exclusive_access, 0xaaaa, 0).status,
              wire::sam::good);
    arm(srv.path(), std::string("latency,class=read,us=30000000,initiator=") + kNodeA);
    arm(srv.path(), std::string("timeout,class=write,initiator=") + kNodeA);
    const auto t0 = Clock::now();
    auto delayed = a->submit(3, wire::read10_cdb(0, 8).bytes(), {}, 4096);
    auto never = a->submit(3, wire::write10_cdb(0, 1).bytes(), Bytes(512, 0xee), 0);
    auto unrelated =
        a->submit(2, wire::read10_cdb(0, 8).bytes(), {}, 4096);  // another LU: not aborted
    ASSERT_TRUE(delayed.ok() && never.ok() && unrelated.ok());
    // B's PREEMPT AND ABORT comes on another connection: it must find A's three commands queued
    // (two delayed, one held), however long the server takes to read them.
    for (int i = 0; i < 1000; ++i) {
        json s = control(srv.path(), {{"op", "stats"}});
        if (s["stats"]["delayed"] >= 2u && s["stats"]["held"] >= 1u) break;
        std::this_thread::sleep_for(10ms);
    }
    auto pa =
        pr_out(*b, 3, PrOutAction::preempt_and_abort, PrType::exclusive_access, 0xbbbb, 0xaaaa);
    EXPECT_EQ(pa.status, wire::sam::good);
    for (uint64_t tag : {*delayed, *never}) {
        auto r = a->wait(tag, 3000);
        ASSERT_TRUE(r.ok()) << r.error().msg;
        EXPECT_EQ(r->status, wire::sam::task_aborted);
        EXPECT_EQ(r->flags, proto::kRespAbortedByPreempt);
    }
    EXPECT_LT(Clock::now() - t0, 20s) << "aborted, not completed after the 30 s latency";
    // A's command on LU 2 is still waiting for its latency; the fence holds on LU 3.
    EXPECT_FALSE(a->wait(*unrelated, 100).ok());
    EXPECT_EQ(read_keys(*b, 3), std::vector<uint64_t>{0xbbbb});
    json st = control(srv.path(), {{"op", "stats"}});
    EXPECT_EQ(st["stats"]["aborted"], 2u);
}

// What a Debian 6.1 guest with LIO printed (seen in the QEMU guest): node A holds an Exclusive
// Access reservation, node B's READ and node B's PR OUT (RESERVE while unregistered) hit
// RESERVATION CONFLICT. The trace must hold the kernel's lines byte for byte, in each kernel
// generation.
struct KernelCase {
    const char* version;
    const char* read_trace;
    const char* blk_line;
    const char* prout_trace;
};

const KernelCase kKernelCases[] = {
    {"5.15",
     "           prsim-4242    [000] .....  1234.567890: scsi_dispatch_cmd_done: host_no=1 "
     "channel=0 id=1 lun=0 "
     "data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL cmnd=(READ_10 lba=0 txlen=8 protect=0 raw=28 "
     "00 00 00 00 00 "
     "00 00 08 00) result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
     "status=SAM_STAT_RESERVATION_CONFLICT)\n",
     "[ 1234.567890] blk_update_request: critical nexus error, dev sdd, sector 0 op 0x0:(READ) "
     "flags 0x800 "
     "phys_seg 1 prio class 2\n",
     "           prsim-4242    [000] .....  1234.567890: scsi_dispatch_cmd_done: host_no=1 "
     "channel=0 id=1 lun=0 "
     "data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL cmnd=(PERSISTENT_RESERVE_OUT - raw=5f 01 03 "
     "00 00 00 00 00 "
     "18 00) result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
     "status=SAM_STAT_RESERVATION_CONFLICT)\n"},
    {"6.1",
     "           prsim-4242    [000] .....  1234.567890: scsi_dispatch_cmd_done: host_no=1 "
     "channel=0 id=1 lun=0 "
     "data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL driver_tag=0 scheduler_tag=0 cmnd=(READ_10 "
     "lba=0 txlen=8 "
     "protect=0 raw=28 00 00 00 00 00 00 00 08 00) result=(driver=DRIVER_OK host=DID_OK "
     "message=COMMAND_COMPLETE status=SAM_STAT_RESERVATION_CONFLICT)\n",
     "[ 1234.567890] critical nexus error, dev sdd, sector 0 op 0x0:(READ) flags 0x800 phys_seg 1 "
     "prio class 2\n",
     "           prsim-4242    [000] .....  1234.567890: scsi_dispatch_cmd_done: host_no=1 "
     "channel=0 id=1 lun=0 "
     "data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL driver_tag=0 scheduler_tag=0 "
     "cmnd=(PERSISTENT_RESERVE_OUT - "
     "raw=5f 01 03 00 00 00 00 00 18 00) result=(driver=DRIVER_OK host=DID_OK "
     "message=COMMAND_COMPLETE "
     "status=SAM_STAT_RESERVATION_CONFLICT)\n"},
    {"6.12",
     "           prsim-4242    [000] .....  1234.567890: scsi_dispatch_cmd_done: host_no=1 "
     "channel=0 id=1 lun=0 "
     "data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL driver_tag=0 scheduler_tag=0 cmnd=(READ_10 "
     "lba=0 txlen=8 "
     "protect=0 raw=28 00 00 00 00 00 00 00 08 00) result=(driver=DRIVER_OK host=DID_OK "
     "message=COMMAND_COMPLETE status=SAM_STAT_RESERVATION_CONFLICT) sense=(key=0x0 asc=0x0 "
     "ascq=0x0)\n",
     "[ 1234.567890] reservation conflict error, dev sdd, sector 0 op 0x0:(READ) flags 0x800 "
     "phys_seg 1 prio "
     "class 2\n",
     "           prsim-4242    [000] .....  1234.567890: scsi_dispatch_cmd_done: host_no=1 "
     "channel=0 id=1 lun=0 "
     "data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL driver_tag=0 scheduler_tag=0 "
     "cmnd=(PERSISTENT_RESERVE_OUT - "
     "raw=5f 01 03 00 00 00 00 00 18 00) result=(driver=DRIVER_OK host=DID_OK "
     "message=COMMAND_COMPLETE "
     "status=SAM_STAT_RESERVATION_CONFLICT) sense=(key=0x0 asc=0x0 ascq=0x0)\n"},
};

class PrsimTraceFormats : public ::testing::TestWithParam<KernelCase> {};

TEST_P(PrsimTraceFormats, ConflictLinesByteExact) {
    const KernelCase& k = GetParam();
    TempDir dir;
    auto cfg = config(dir, 1);
    cfg.trace.path = (dir.path / "trace.txt").string();
    cfg.trace.style.kernel = *parse_kernel_version(k.version);
    cfg.trace.style.pid = 4242;
    cfg.trace.cpu = 0;
    cfg.trace_clock = [] { return int64_t{1234567890123}; };
    {
        Running srv(cfg);
        ASSERT_TRUE(srv.ok());
        auto a = connect(srv.path(), kNodeA, 1);  // host 0, id 0
        auto b =
            connect(srv.path(), kNodeB, 2);  // host 1, id 1: sd 1:0:1:0, disk (1*2+1)*1+0 = sdd
        ASSERT_TRUE(a && b);
        settle(*a, 0);
        settle(*b, 0);
        using wire::PrOutAction;
        using wire::PrType;
        ASSERT_EQ(pr_out(*a, 0, PrOutAction::register_key, PrType::none, 0, 0xabc123).status,
                  wire::sam::good);
        ASSERT_EQ(pr_out(*a, 0, PrOutAction::reserve, PrType::exclusive_access, 0xabc123, 0).status,
                  wire::sam::good);
        auto rd = b->execute(0, wire::read10_cdb(0, 8).bytes(), {}, 4096);
        ASSERT_TRUE(rd.ok());
        ASSERT_EQ(rd->status, wire::sam::reservation_conflict);
        ASSERT_EQ(pr_out(*b, 0, PrOutAction::reserve, PrType::exclusive_access, 0x123abc, 0).status,
                  wire::sam::reservation_conflict);
    }  // stopping the server flushes the trace
    std::ifstream in(cfg.trace.path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string trace = ss.str();
    const std::string read_block =
        std::string(k.read_trace) +
        "[ 1234.567890] sd 1:0:1:0: reservation conflict\n"
        "[ 1234.567890] sd 1:0:1:0: [sdd] tag#0 FAILED Result: hostbyte=DID_OK "
        "driverbyte=DRIVER_OK cmd_age=0s\n"
        "[ 1234.567890] sd 1:0:1:0: [sdd] tag#0 CDB: Read(10) 28 00 00 00 00 00 00 00 08 "
        "00\n" +
        k.blk_line;
    const std::string prout_block =
        std::string(k.prout_trace) + "[ 1234.567890] sd 1:0:1:0: reservation conflict\n";
    EXPECT_NE(trace.find(read_block), std::string::npos) << "expected:\n"
                                                         << read_block << "in:\n"
                                                         << trace;
    EXPECT_NE(trace.find(prout_block), std::string::npos) << "expected:\n"
                                                          << prout_block << "in:\n"
                                                          << trace;
    // Every completion has its tracepoint line: 2 + 2 TURs (POWER ON unit attention, then GOOD), 2
    // PR OUT of A, B's READ and PR OUT.
    size_t lines = 0;
    for (size_t p = trace.find("scsi_dispatch_cmd_done: "); p != std::string::npos;
         p = trace.find("scsi_dispatch_cmd_done: ", p + 1))
        ++lines;
    EXPECT_EQ(lines, 8u) << trace;
}

INSTANTIATE_TEST_SUITE_P(Kernels, PrsimTraceFormats, ::testing::ValuesIn(kKernelCases),
                         [](const auto& info) {
                             std::string n = std::string("k") + info.param.version;
                             for (auto& ch : n)
                                 if (ch == '.') ch = '_';
                             return n;
                         });

TEST(PrsimServer, TraceToFifoWithoutReaderNeverStalls) {
    TempDir dir;
    auto cfg = config(dir, 2);
    const std::string fifo = (dir.path / "trace.fifo").string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    cfg.trace.path = fifo;
    cfg.trace.max_buffer = 64 << 10;
    Running srv(cfg);
    ASSERT_TRUE(srv.ok());
    auto c = connect(srv.path(), kNodeA);
    ASSERT_TRUE(c);
    // ~3000 trace lines of ~300 bytes: far more than the pipe and the buffer hold. Nobody reads the
    // FIFO.
    const auto t0 = Clock::now();
    const auto cdb = wire::prin_cdb(wire::PrInAction::read_keys, 64);
    for (int i = 0; i < 3000; ++i)
        ASSERT_TRUE(c->submit(static_cast<uint32_t>(i % 2), cdb.bytes(), {}, 64).ok());
    for (int i = 0; i < 3000; ++i) ASSERT_TRUE(c->wait_any(3000).ok());
    EXPECT_LT(Clock::now() - t0, 5s);
    json st = control(srv.path(), {{"op", "stats"}});
    EXPECT_GT(st["stats"]["trace_dropped_events"].get<uint64_t>(), 0u);
}

TEST(PrsimServer, FarmOf4096Luns) {
    TempDir dir;
    Running srv(config(dir, 4096));
    ASSERT_TRUE(srv.ok());
    auto c = connect(srv.path(), kNodeA);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->info().lun_count, 4096u);
    // Every LU: the POWER ON unit attention, then GOOD; pipelined 256 at a time.
    const auto tur = wire::test_unit_ready_cdb();
    for (int round = 0; round < 2; ++round) {
        uint32_t sent = 0, got = 0, good = 0, ua = 0;
        while (got < 4096) {
            while (sent < 4096 && sent - got < 256)
                ASSERT_TRUE(c->submit(sent++, tur.bytes()).ok());
            auto r = c->wait_any(5000);
            ASSERT_TRUE(r.ok()) << r.error().msg;
            ++got;
            if (r->status == wire::sam::good) ++good;
            if (r->status == wire::sam::check_condition) ++ua;
        }
        EXPECT_EQ(round == 0 ? ua : good, 4096u) << "round " << round;
    }
    EXPECT_EQ(
        pr_out(*c, 4095, wire::PrOutAction::register_key, wire::PrType::none, 0, 0x4095).status,
        wire::sam::good);
    EXPECT_EQ(read_keys(*c, 4095), std::vector<uint64_t>{0x4095});
    EXPECT_TRUE(read_keys(*c, 0).empty());
    auto beyond = c->execute(4096, tur.bytes());
    ASSERT_TRUE(beyond.ok());
    EXPECT_EQ(beyond->status, wire::sam::check_condition);
}

TEST(PrsimServer, AptplStateSurvivesRestart) {
    TempDir dir;
    auto cfg = config(dir, 4);
    cfg.state_dir = dir.path / "state";
    {
        Running srv(cfg);
        ASSERT_TRUE(srv.ok());
        auto a = connect(srv.path(), kNodeA);
        ASSERT_TRUE(a);
        settle(*a, 2);
        EXPECT_EQ(pr_out(*a, 2, wire::PrOutAction::register_key, wire::PrType::none, 0, 0x77, true)
                      .status,
                  wire::sam::good);
    }
    EXPECT_TRUE(fs::exists(*cfg.state_dir / aptpl_file_name(2)));
    Running again(cfg);
    ASSERT_TRUE(again.ok());
    auto a = connect(again.path(), kNodeA);
    ASSERT_TRUE(a);
    settle(*a, 2);
    EXPECT_EQ(read_keys(*a, 2), std::vector<uint64_t>{0x77});
}

TEST(PrsimServer, NexusLimit) {
    TempDir dir;
    auto cfg = config(dir, 1);
    cfg.limits.max_nexuses = 2;
    Running srv(cfg);
    ASSERT_TRUE(srv.ok());
    auto a = connect(srv.path(), kNodeA, 1);
    auto b = connect(srv.path(), kNodeA, 2);
    auto again = connect(srv.path(), kNodeA, 2);  // an existing nexus is always welcome
    ASSERT_TRUE(a && b && again);
    auto third = SimClient::connect(srv.path(), proto::make_hello(kNodeB, 1), 3000);
    ASSERT_FALSE(third.ok());
    EXPECT_NE(third.error().msg.find("I_T nexuses"), std::string::npos) << third.error().msg;
}

TEST(PrsimServer, SecondDaemonOnALiveSocketIsRefused) {
    TempDir dir;
    auto cfg = config(dir, 1);
    Running srv(cfg);
    ASSERT_TRUE(srv.ok());
    auto second = Server::create(cfg);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().msg.find("another daemon"), std::string::npos) << second.error().msg;
}

}  // namespace
}  // namespace prfence::sim
