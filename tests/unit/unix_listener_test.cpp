// SPDX-License-Identifier: MIT
// UnixListener: a stale socket file is replaced, a live one and a non-socket are refused, the mode
// and group are applied, and the socket file goes away with the listener.
#include "uring_engine/common/unix_listener.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace prfence {
namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/prfence-listener-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

sockaddr_un address(const std::string& p) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, p.c_str(), sizeof a.sun_path - 1);
    return a;
}

bool can_connect(const std::string& p, int type) {
    UniqueFd c(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    const sockaddr_un a = address(p);
    return ::connect(c.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
}

// The socket file a daemon that died leaves behind: bound, never unlinked, nobody listening.
void leave_stale_socket(const std::string& p) {
    UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_un a = address(p);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
}

UnixListenerOptions options(const std::string& path, int type = SOCK_STREAM) {
    UnixListenerOptions o;
    o.path = path;
    o.type = type;
    o.who = "test daemon";
    return o;
}

TEST(UnixListener, BindsListensAndRemovesItsFile) {
    TempDir d;
    const std::string p = d.path + "/s.sock";
    {
        auto l = UnixListener::bind(options(p));
        ASSERT_TRUE(l.ok()) << l.error().msg;
        EXPECT_TRUE(*l);
        EXPECT_EQ(l->path(), p);
        EXPECT_TRUE(exists(p));
        EXPECT_TRUE(can_connect(p, SOCK_STREAM));
    }
    EXPECT_FALSE(exists(p));
}

TEST(UnixListener, SeqpacketAndClose) {
    TempDir d;
    const std::string p = d.path + "/s.sock";
    auto l = UnixListener::bind(options(p, SOCK_SEQPACKET));
    ASSERT_TRUE(l.ok()) << l.error().msg;
    EXPECT_TRUE(can_connect(p, SOCK_SEQPACKET));
    l->close();
    EXPECT_FALSE(*l);
    EXPECT_EQ(l->fd(), -1);
    EXPECT_FALSE(exists(p));
    l->close();  // idempotent
}

TEST(UnixListener, StaleSocketIsReplaced) {
    TempDir d;
    const std::string p = d.path + "/s.sock";
    leave_stale_socket(p);
    ASSERT_TRUE(exists(p));
    ASSERT_FALSE(can_connect(p, SOCK_STREAM));
    auto l = UnixListener::bind(options(p));
    ASSERT_TRUE(l.ok()) << l.error().msg;
    EXPECT_TRUE(can_connect(p, SOCK_STREAM));
}

TEST(UnixListener, LiveSocketIsRefusedAndKept) {
    TempDir d;
    const std::string p = d.path + "/s.sock";
    auto first = UnixListener::bind(options(p, SOCK_SEQPACKET));
    ASSERT_TRUE(first.ok()) << first.error().msg;
    auto second = UnixListener::bind(options(p, SOCK_SEQPACKET));
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, Errc::system);
    EXPECT_EQ(second.error().sys_errno, EADDRINUSE);
    EXPECT_EQ(second.error().msg, p + ": another test daemon is listening there");
    // The refused listener did not take the first one's file with it.
    EXPECT_TRUE(exists(p));
    EXPECT_TRUE(can_connect(p, SOCK_SEQPACKET));
}

TEST(UnixListener, NonSocketIsRefusedAndKept) {
    TempDir d;
    const std::string p = d.path + "/not-a-socket";
    std::ofstream(p) << "data\n";
    auto l = UnixListener::bind(options(p));
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.error().code, Errc::system);
    EXPECT_EQ(l.error().sys_errno, EADDRINUSE);
    EXPECT_EQ(l.error().msg, p + ": exists and is not a socket; not replacing it");
    EXPECT_TRUE(exists(p));

    // A symlink to a live socket is not a socket file either.
    const std::string live = d.path + "/live.sock";
    auto owner = UnixListener::bind(options(live));
    ASSERT_TRUE(owner.ok());
    const std::string link = d.path + "/link.sock";
    ASSERT_EQ(::symlink(live.c_str(), link.c_str()), 0);
    auto via_link = UnixListener::bind(options(link));
    ASSERT_FALSE(via_link.ok());
    EXPECT_NE(via_link.error().msg.find("not a socket"), std::string::npos) << via_link.error().msg;
}

TEST(UnixListener, ModeAndGroupApplied) {
    TempDir d;
    const std::string p = d.path + "/s.sock";
    auto o = options(p);
    o.mode = 0640;
    o.gid = ::getegid();
    o.group_name = "own";
    auto l = UnixListener::bind(o);
    ASSERT_TRUE(l.ok()) << l.error().msg;
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    EXPECT_EQ(st.st_gid, ::getegid());
}

TEST(UnixListener, ParentDirectoryCreated) {
    TempDir d;
    const std::string dir = d.path + "/run";
    const std::string p = dir + "/s.sock";
    auto o = options(p);
    o.parent_mode = 0750;
    auto l = UnixListener::bind(o);
    ASSERT_TRUE(l.ok()) << l.error().msg;
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    // Without parent_mode a missing directory is bind's ENOENT.
    auto missing = UnixListener::bind(options(d.path + "/nowhere/s.sock"));
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, Errc::system);
    EXPECT_EQ(missing.error().sys_errno, ENOENT);
    EXPECT_EQ(missing.error().msg.rfind("bind " + d.path + "/nowhere/s.sock: ", 0), 0u)
        << missing.error().msg;
}

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

TEST(UnixListener, PathAppearsListeningAndNothingElseIsLeft) {
    TempDir d;
    const std::string p = d.path + "/s.sock";
    auto o = options(p);
    o.mode = 0600;
    auto l = UnixListener::bind(o);
    ASSERT_TRUE(l.ok()) << l.error().msg;
    EXPECT_EQ(entries(d.path), std::vector<std::string>{"s.sock"});  // no staging name left
    EXPECT_TRUE(can_connect(p, SOCK_STREAM));
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // Refused or failed, a listener leaves the directory as it found it.
    auto refused = UnixListener::bind(options(p));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(entries(d.path), std::vector<std::string>{"s.sock"});
    auto bad_group = options(d.path + "/t.sock");
    bad_group.gid = static_cast<gid_t>(-2);  // no such group: chown fails (or, as root, works)
    bad_group.group_name = "nogroup-at-all";
    auto g = UnixListener::bind(bad_group);
    if (!g.ok()) {
        EXPECT_NE(g.error().msg.find("to group nogroup-at-all"), std::string::npos)
            << g.error().msg;
        EXPECT_EQ(entries(d.path), std::vector<std::string>{"s.sock"});
    }
}

TEST(UnixListener, BoundButNotListeningIsStale) {
    // What a dead daemon leaves is a socket file nobody accepts on; a bound socket that never
    // listened looks the same to a probe and is replaced too.
    TempDir d;
    const std::string p = d.path + "/s.sock";
    UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_un a = address(p);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    auto l = UnixListener::bind(options(p));
    ASSERT_TRUE(l.ok()) << l.error().msg;
    EXPECT_TRUE(can_connect(p, SOCK_STREAM));
}

TEST(UnixListener, LongPathIsBoundDirectly) {
    // A path too long for a staging name beside it still works, bound in place.
    TempDir d;
    std::string p = d.path + "/";
    p += std::string(sizeof(sockaddr_un::sun_path) - 1 - p.size(), 's');
    ASSERT_EQ(p.size(), sizeof(sockaddr_un::sun_path) - 1);
    leave_stale_socket(p);
    auto l = UnixListener::bind(options(p));
    ASSERT_TRUE(l.ok()) << l.error().msg;
    EXPECT_TRUE(can_connect(p, SOCK_STREAM));
    auto second = UnixListener::bind(options(p));
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().msg.find("another test daemon is listening"), std::string::npos);
    l->close();
    EXPECT_FALSE(exists(p));
}

TEST(UnixListener, PathTooLong) {
    auto l = UnixListener::bind(options("/tmp/" + std::string(200, 'x')));
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.error().code, Errc::invalid_argument);
    EXPECT_NE(l.error().msg.find("too long for a Unix socket path"), std::string::npos);
}

TEST(UnixListener, MoveKeepsOwnershipOfTheFile) {
    TempDir d;
    const std::string p = d.path + "/s.sock";
    UnixListener kept;
    {
        auto l = UnixListener::bind(options(p));
        ASSERT_TRUE(l.ok());
        kept = std::move(l).value();
    }
    EXPECT_TRUE(exists(p));  // the moved-from listener removed nothing
    EXPECT_TRUE(can_connect(p, SOCK_STREAM));
    EXPECT_EQ(kept.path(), p);
}

}  // namespace
}  // namespace prfence
