// SPDX-License-Identifier: MIT
// The pieces that decide about paths and multipath maps without a device: the path failure table
// (policy/path_failure.h), the device states that make a path dead before any command
// (devices/path_state.h), the multipathd client and which map holds a LU (devices/multipathd.h),
// and what prfence tells multipathd after registering (session/multipath_keys.h), against a fake
// multipathd on an abstract socket that answers as multipathd 0.9.4 does.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "uring_engine/devices/multipathd.h"
#include "uring_engine/devices/path_state.h"
#include "uring_engine/policy/path_failure.h"
#include "uring_engine/session/multipath_keys.h"
#include "uring_engine/wire/status.h"

namespace prfence::engine {
namespace {

ScsiResponse host(uint8_t h) {
    ScsiResponse r;
    r.host = h;
    return r;
}
ScsiResponse err(int e) {
    ScsiResponse r;
    r.sys_errno = e;
    return r;
}
ScsiResponse sense(uint8_t key, uint8_t asc, uint8_t ascq) {
    ScsiResponse r;
    r.status = wire::sam::check_condition;
    r.sense = {0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0};
    return r;
}

TEST(PathFailure, TheTable) {
    namespace did = wire::did;
    struct Row {
        ScsiResponse rsp;
        bool dead;
        bool maybe_sent;
        const char* why;
    };
    ScsiResponse timed_out;
    timed_out.timed_out = true;
    ScsiResponse driver_timeout;
    driver_timeout.driver = 0x06;
    ScsiResponse conflict;
    conflict.status = wire::sam::reservation_conflict;
    const Row rows[] = {
        {host(did::no_connect), true, false, "host byte DID_NO_CONNECT (no connection)"},
        {host(did::bad_target), true, false, nullptr},
        {host(did::transport_disrupted), true, true, nullptr},
        {host(did::transport_failfast), true, true, nullptr},
        {host(did::transport_marginal), true, true, nullptr},
        {host(did::time_out), true, true, nullptr},
        {host(did::abort), true, true, nullptr},
        {host(did::reset), true, true, nullptr},
        {host(did::error), true, true, nullptr},
        {host(did::soft_error), true, true, nullptr},
        {host(did::bus_busy), true, true, nullptr},
        {host(did::imm_retry), true, true, nullptr},
        {host(did::requeue), true, true, nullptr},
        // The device's own answers, which another path would meet as well.
        {host(did::nexus_failure), false, false, nullptr},
        {host(did::target_failure), false, false, nullptr},
        {host(did::medium_error), false, false, nullptr},
        {host(did::alloc_failure), false, false, nullptr},
        {err(ENXIO), true, false, "transport error: No such device or address"},
        {err(ENODEV), true, false, nullptr},
        {err(ENOTCONN), true, false, nullptr},
        {err(ECONNREFUSED), true, false, nullptr},
        {err(EIO), true, true, nullptr},
        {err(ECONNRESET), true, true, nullptr},
        {err(EPIPE), true, true, nullptr},
        {err(EINVAL), false, false, nullptr},
        {err(ENOMEM), false, false, nullptr},
        {err(EACCES), false, false, nullptr},
        {err(EPERM), false, false, nullptr},
        {timed_out, true, true, "timed out"},
        {driver_timeout, true, true, nullptr},
        {conflict, false, false, nullptr},
        {ScsiResponse{}, false, false, nullptr},
        {sense(0x02, 0x04, 0x0b), true, false, "target port in standby state"},
        {sense(0x02, 0x04, 0x0c), true, false, "target port in unavailable state"},
        {sense(0x02, 0x04, 0x0a), true, false, "asymmetric access state transition"},
        {sense(0x02, 0x04, 0x01), false, false, nullptr},  // becoming ready: the LU's state
        {sense(0x06, 0x29, 0x07), false, false, nullptr},  // I_T nexus loss: retried, not dead
        {sense(0x05, 0x25, 0x00), false, false, nullptr},  // LU not supported: an answer
    };
    int i = 0;
    for (const auto& r : rows) {
        auto pf = path_failure(r.rsp);
        EXPECT_EQ(pf.has_value(), r.dead) << "row " << i;
        if (pf) {
            EXPECT_EQ(pf->maybe_sent, r.maybe_sent) << "row " << i;
            if (r.why) {
                EXPECT_EQ(pf->why, r.why) << "row " << i;
            }
        }
        ++i;
    }
}

struct TempDir {
    std::filesystem::path root;
    TempDir() {
        static int n = 0;
        root = std::filesystem::temp_directory_path() /
               ("prfence-mp-" + std::to_string(getpid()) + "-" + std::to_string(n++));
        std::filesystem::create_directories(root);
    }
    ~TempDir() { std::filesystem::remove_all(root); }
    void write(const std::string& rel, const std::string& text) {
        std::filesystem::create_directories((root / rel).parent_path());
        std::ofstream(root / rel) << text;
    }
};

TEST(PathState, DeadStatesAndTheSysfsFile) {
    EXPECT_EQ(dead_device_state("offline"), "device state offline");
    EXPECT_TRUE(dead_device_state("transport-offline"));
    EXPECT_TRUE(dead_device_state("blocked"));
    EXPECT_TRUE(dead_device_state("created-blocked"));
    EXPECT_TRUE(dead_device_state("cancel"));
    EXPECT_TRUE(dead_device_state("deleted"));
    EXPECT_FALSE(dead_device_state("running"));
    EXPECT_FALSE(dead_device_state("quiesce"));
    EXPECT_FALSE(dead_device_state("created"));
    EXPECT_FALSE(dead_device_state(""));
    TempDir t;
    t.write("class/scsi_device/2:0:0:1/device/state", "offline\n");
    EXPECT_EQ(scsi_device_state("2:0:0:1", t.root.string()), "offline");
    EXPECT_EQ(scsi_device_state("2:0:0:2", t.root.string()), "");
    EXPECT_EQ(scsi_device_state("", t.root.string()), "");
    EXPECT_EQ(scsi_device_state("../x", t.root.string()), "");
}

// A fake multipathd: an abstract stream socket speaking libmpathcmd's framing; `answer` maps each
// command to its reply ("" = close the connection without answering). Records the commands.
class FakeMultipathd {
  public:
    explicit FakeMultipathd(std::function<std::string(const std::string&)> answer)
        : answer_(std::move(answer)) {
        static std::atomic<int> n{0};
        name = "@prfence-test-multipathd-" + std::to_string(getpid()) + "-" + std::to_string(n++);
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path + 1, name.data() + 1, name.size() - 1);
        const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0) << errno;
        EXPECT_EQ(::listen(fd_, 4), 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeMultipathd() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::vector<std::string> commands() {
        std::lock_guard<std::mutex> g(mu_);
        return commands_;
    }
    std::string name;

  private:
    static bool read_n(int fd, void* p, size_t n) {
        char* b = static_cast<char*>(p);
        while (n > 0) {
            const ssize_t k = ::read(fd, b, n);
            if (k <= 0) return false;
            b += k;
            n -= static_cast<size_t>(k);
        }
        return true;
    }
    void serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            for (;;) {
                size_t len = 0;
                if (!read_n(c, &len, sizeof len) || len == 0 || len > 4096) break;
                std::string cmd(len, '\0');
                if (!read_n(c, cmd.data(), len)) break;
                cmd.pop_back();  // the NUL
                {
                    std::lock_guard<std::mutex> g(mu_);
                    commands_.push_back(cmd);
                }
                const std::string r = answer_(cmd);
                if (r.empty()) break;
                std::string reply = r + '\0';
                const size_t rlen = reply.size();
                if (::send(c, &rlen, sizeof rlen, MSG_NOSIGNAL) != sizeof rlen) break;
                if (::send(c, reply.data(), rlen, MSG_NOSIGNAL) != static_cast<ssize_t>(rlen))
                    break;
            }
            ::close(c);
        }
    }
    std::function<std::string(const std::string&)> answer_;
    int fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<std::string> commands_;
};

TEST(MultipathdClient, RequestsAndReplies) {
    FakeMultipathd d([](const std::string& c) {
        return c == "show daemon" ? "pid 42 idle\n" : std::string("fail\n");
    });
    auto c = MultipathdClient::connect(d.name, std::chrono::milliseconds(2000));
    ASSERT_TRUE(c.ok()) << c.error().msg;
    auto r = c->command("show daemon");
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(*r, "pid 42 idle");
    auto r2 = c->command("bogus");  // the same connection carries a second request
    ASSERT_TRUE(r2.ok()) << r2.error().msg;
    EXPECT_EQ(*r2, "fail");
    EXPECT_EQ(d.commands(), (std::vector<std::string>{"show daemon", "bogus"}));
}

TEST(MultipathdClient, NobodyListeningAndAClosedConnection) {
    auto c = MultipathdClient::connect("@prfence-test-nobody-" + std::to_string(getpid()));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, Errc::not_found);
    FakeMultipathd d([](const std::string&) { return std::string(); });
    auto c2 = MultipathdClient::connect(d.name);
    ASSERT_TRUE(c2.ok());
    auto r = c2->command("show maps");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::io);
}

TEST(MultipathdClient, ASilentDaemonTimesOut) {
    std::atomic<bool> release{false};
    FakeMultipathd d([&](const std::string&) {
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return std::string("ok\n");
    });
    auto c = MultipathdClient::connect(d.name, std::chrono::milliseconds(100));
    ASSERT_TRUE(c.ok());
    auto r = c->command("show maps");
    release = true;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::timeout);
}

// sysfs with LU paths sdb, sdc in map "mpatha" (dm-0), sdd in an LVM volume (dm-1), sde alone.
struct MapTree : TempDir {
    MapTree() {
        write("block/dm-0/dm/uuid", "mpath-36001405aaaa\n");
        write("block/dm-0/dm/name", "mpatha\n");
        write("block/dm-1/dm/uuid", "LVM-xyz\n");
        write("block/dm-1/dm/name", "vg-lv\n");
        for (const char* d : {"sdb", "sdc", "sdd", "sde"})
            std::filesystem::create_directories(root / "block" / d / "holders");
        for (const char* d : {"sdb", "sdc"})
            std::filesystem::create_directory_symlink("../../dm-0",
                                                      root / "block" / d / "holders" / "dm-0");
        std::filesystem::create_directory_symlink("../../dm-1", root / "block/sdd/holders/dm-1");
    }
    static LunSpec lun(const std::string& name, std::vector<std::string> disks) {
        LunSpec l;
        l.name = name;
        for (auto& d : disks) {
            PathSpec p;
            p.sg_node = "/dev/sg-" + d;
            p.block = "/dev/" + d;
            l.paths.push_back(p);
        }
        return l;
    }
};

TEST(MultipathMap, TheMapHoldingALusPaths) {
    MapTree t;
    const std::string sys = t.root.string();
    EXPECT_EQ(multipath_map_of(MapTree::lun("mpatha", {"sdb", "sdc"}), sys), "mpatha");
    EXPECT_EQ(multipath_map_of(MapTree::lun("/dev/sdc", {"sdc"}), sys), "mpatha");
    EXPECT_EQ(multipath_map_of(MapTree::lun("/dev/sdd", {"sdd"}), sys), std::nullopt);
    EXPECT_EQ(multipath_map_of(MapTree::lun("/dev/sde", {"sde"}), sys), std::nullopt);
    LunSpec simlu;
    simlu.paths.push_back({PathSpec::Kind::sim, "", "", "", "/tmp/s", 0});
    EXPECT_EQ(multipath_map_of(simlu, sys), std::nullopt);
}

LunOutcome ok_outcome(bool ok = true) {
    LunOutcome o;
    o.ok = ok;
    return o;
}

// multipathd 0.9.4 with reservation_key "file": setprkey takes the key, getprkey gives it back.
TEST(TellMultipathd, RegisterTellsKeyAndStatusOncePerMap) {
    MapTree t;
    std::string key = "none";
    FakeMultipathd d([&](const std::string& c) -> std::string {
        if (c == "setprkey map mpatha key a1") {
            key = "0xa1";
            return "ok\n";
        }
        if (c == "setprstatus map mpatha") return "ok\n";
        if (c == "getprkey map mpatha") return key + "\n";
        return "fail\n";
    });
    MultipathKeysOptions mo;
    mo.socket = d.name;
    mo.sysfs_root = t.root.string();
    // The map named twice (as the map and as one of its disks), a LU outside any map, a failed LU.
    std::vector<LunSpec> luns = {MapTree::lun("mpatha", {"sdb", "sdc"}),
                                 MapTree::lun("/dev/sdb", {"sdb"}),
                                 MapTree::lun("/dev/sde", {"sde"})};
    auto r = tell_multipathd(luns, {ok_outcome(), ok_outcome(), ok_outcome()}, 0xa1, false, mo);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].lun, 0u);
    EXPECT_EQ(r[0].map, "mpatha");
    EXPECT_TRUE(r[0].told) << r[0].error;
    EXPECT_EQ(r[0].key, "0xa1");
    EXPECT_EQ(r[0].error, "");
    EXPECT_EQ(d.commands(),
              (std::vector<std::string>{"setprkey map mpatha key a1", "setprstatus map mpatha",
                                        "getprkey map mpatha"}));
    // A LU that failed tells nothing; no map at all: no connection.
    FakeMultipathd quiet([](const std::string&) { return std::string("ok\n"); });
    mo.socket = quiet.name;
    EXPECT_TRUE(
        tell_multipathd(luns, {ok_outcome(false), ok_outcome(false), ok_outcome()}, 0xa1, false, mo)
            .empty());
    EXPECT_TRUE(quiet.commands().empty());
}

TEST(TellMultipathd, AptplAndUnregister) {
    MapTree t;
    FakeMultipathd d([](const std::string& c) -> std::string {
        if (c.starts_with("getprkey")) return "none\n";
        return "ok\n";
    });
    MultipathKeysOptions mo;
    mo.socket = d.name;
    mo.sysfs_root = t.root.string();
    std::vector<LunSpec> luns = {MapTree::lun("mpatha", {"sdb", "sdc"})};
    auto r = tell_multipathd(luns, {ok_outcome()}, 0, false, mo);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(r[0].told) << r[0].error;
    EXPECT_EQ(r[0].key, "none");
    auto r2 = tell_multipathd(luns, {ok_outcome()}, 0x123456789abcdef0ull, true, mo);
    ASSERT_EQ(r2.size(), 1u);
    EXPECT_FALSE(r2[0].told);  // getprkey still says none
    EXPECT_EQ(d.commands(),
              (std::vector<std::string>{"unsetprstatus map mpatha", "unsetprkey map mpatha",
                                        "getprkey map mpatha",
                                        "setprkey map mpatha key 123456789abcdef0:aptpl",
                                        "setprstatus map mpatha", "getprkey map mpatha"}));
}

// reservation_key fixed in multipath.conf: setprkey fails; told only when that key is ours.
TEST(TellMultipathd, AConfiguredKeyIsReported) {
    MapTree t;
    FakeMultipathd d([](const std::string& c) -> std::string {
        if (c.starts_with("setprkey")) return "fail\n";
        if (c.starts_with("getprkey")) return "0xb7\n";
        return "ok\n";
    });
    MultipathKeysOptions mo;
    mo.socket = d.name;
    mo.sysfs_root = t.root.string();
    std::vector<LunSpec> luns = {MapTree::lun("mpatha", {"sdb"})};
    auto mine = tell_multipathd(luns, {ok_outcome()}, 0xb7, false, mo);
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_TRUE(mine[0].told) << mine[0].error;
    auto other = tell_multipathd(luns, {ok_outcome()}, 0xa1, false, mo);
    ASSERT_EQ(other.size(), 1u);
    EXPECT_FALSE(other[0].told);
    EXPECT_EQ(other[0].key, "0xb7");
    EXPECT_NE(other[0].error.find("multipathd keeps key 0xb7"), std::string::npos)
        << other[0].error;
}

TEST(TellMultipathd, NotRunning) {
    MapTree t;
    MultipathKeysOptions mo;
    mo.socket = "@prfence-test-nobody-" + std::to_string(getpid());
    mo.sysfs_root = t.root.string();
    auto r = tell_multipathd({MapTree::lun("mpatha", {"sdb"})}, {ok_outcome()}, 0xa1, false, mo);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_FALSE(r[0].told);
    EXPECT_EQ(r[0].error.rfind("multipathd is not running", 0), 0u) << r[0].error;
}

// multipathd that stops answering: one timeout, then the other maps are not asked (a late reply
// would otherwise be read as the answer to the next request).
TEST(TellMultipathd, AHungMultipathdCostsOneTimeout) {
    MapTree t;
    t.write("block/dm-2/dm/uuid", "mpath-36001405bbbb\n");
    t.write("block/dm-2/dm/name", "mpathb\n");
    std::filesystem::create_directories(t.root / "block/sdf/holders");
    std::filesystem::create_directory_symlink("../../dm-2", t.root / "block/sdf/holders/dm-2");
    std::atomic<bool> release{false};
    FakeMultipathd d([&](const std::string&) {
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return std::string("ok\n");
    });
    MultipathKeysOptions mo;
    mo.socket = d.name;
    mo.sysfs_root = t.root.string();
    mo.timeout = std::chrono::milliseconds(200);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = tell_multipathd({MapTree::lun("mpatha", {"sdb"}), MapTree::lun("mpathb", {"sdf"})},
                             {ok_outcome(), ok_outcome()}, 0xa1, false, mo);
    const auto took = std::chrono::steady_clock::now() - t0;
    release = true;
    ASSERT_EQ(r.size(), 2u);
    EXPECT_FALSE(r[0].told || r[1].told);
    EXPECT_NE(r[0].error.find("\"setprkey map mpatha key a1\": "), std::string::npos) << r[0].error;
    EXPECT_EQ(r[1].error.rfind("not asked: multipathd stopped answering at map mpatha", 0), 0u)
        << r[1].error;
    EXPECT_LT(took, std::chrono::milliseconds(1000));  // one timeout, not six
    EXPECT_EQ(d.commands(), (std::vector<std::string>{"setprkey map mpatha key a1"}));
}

TEST(TellMultipathd, WhichOperationsLeaveOurKey) {
    auto left = [](Operation o, bool claim = false) {
        OpSpec s;
        s.op = o;
        s.key = 0xa1;
        s.claim = claim;
        return key_left_registered(s);
    };
    EXPECT_EQ(left(Operation::register_key), 0xa1u);
    EXPECT_EQ(left(Operation::unfence), 0xa1u);
    EXPECT_EQ(left(Operation::takeover), 0xa1u);
    EXPECT_EQ(left(Operation::fence, true), 0xa1u);
    EXPECT_EQ(left(Operation::fence), std::nullopt);
    EXPECT_EQ(left(Operation::unregister), 0u);
    EXPECT_EQ(left(Operation::reserve), std::nullopt);
    EXPECT_EQ(left(Operation::read_keys), std::nullopt);
    EXPECT_EQ(left(Operation::clear), std::nullopt);
}

}  // namespace
}  // namespace prfence::engine
