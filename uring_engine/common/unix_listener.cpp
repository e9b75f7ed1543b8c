// SPDX-License-Identifier: MIT
#include "uring_engine/common/unix_listener.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "uring_engine/common/sys_error.h"

namespace prfence {

namespace {

// Someone accepts connections on `addr` (a socket file a live daemon holds), as opposed to a file
// left by one that died, where connect fails with ECONNREFUSED.
bool someone_listens(const sockaddr_un& addr, int type) {
    UniqueFd probe(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!probe) return false;
    return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

Status make_parent(const std::string& path, mode_t mode) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return {};
    const std::string dir = path.substr(0, slash);
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) return {};
    if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
        return fail_errno("cannot create ", dir);
    return {};
}

// A path a live daemon does not hold: a file that is not a socket (a symlink included) is refused,
// as is a socket somebody accepts on; a socket file left by a daemon that died is removed.
Status take_over(const UnixListenerOptions& opt, const sockaddr_un& addr) {
    struct stat st {};
    if (::lstat(opt.path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
        return fail(Errc::system, opt.path + ": exists and is not a socket; not replacing it",
                    EADDRINUSE);
    if (someone_listens(addr, opt.type))
        return fail(Errc::system, opt.path + ": another " + opt.who + " is listening there",
                    EADDRINUSE);
    ::unlink(opt.path.c_str());
    return {};
}

sockaddr_un unix_address(const std::string& path) {  // path fits: the caller checked
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

// A fresh name next to `path` to bind under until the socket listens, "" when it would not fit.
std::string staging_name(const std::string& path) {
    static std::atomic<unsigned> serial{0};
    const auto slash = path.rfind('/');
    std::string s = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
    s += ".listen." + std::to_string(::getpid()) + "." + std::to_string(serial++);
    return s.size() < sizeof(sockaddr_un::sun_path) ? s : std::string();
}

// Removes the staging name on every way out of bind().
struct Unlink {
    std::string path;
    ~Unlink() {
        if (!path.empty()) ::unlink(path.c_str());
    }
};

}  // namespace

Result<UnixListener> UnixListener::bind(const UnixListenerOptions& opt) {
    if (opt.path.size() >= sizeof(sockaddr_un::sun_path))
        return fail(Errc::invalid_argument, opt.path + ": too long for a Unix socket path");
    const sockaddr_un addr = unix_address(opt.path);
    if (opt.parent_mode) PRF_TRY(make_parent(opt.path, *opt.parent_mode));

    UnixListener l;
    l.fd_.reset(::socket(AF_UNIX, opt.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!l.fd_) return fail_errno("socket");
    // The socket is bound under a staging name and linked to the path only once it listens: a
    // socket file that exists but refuses connections is then always a dead daemon's, never one
    // that is starting (which a probe between its bind and listen would take for dead and replace).
    // Only when the staging name would not fit in sun_path is the path bound directly.
    const std::string staging = staging_name(opt.path);
    const Unlink remove_staging{staging};
    const std::string& bound = staging.empty() ? opt.path : staging;
    const sockaddr_un bound_addr = unix_address(bound);
    const auto* sa = reinterpret_cast<const sockaddr*>(&bound_addr);
    if (::bind(l.fd_.get(), sa, sizeof bound_addr) != 0) {
        if (!staging.empty() || errno != EADDRINUSE) return fail_errno("bind ", opt.path);
        PRF_TRY(take_over(opt, addr));
        if (::bind(l.fd_.get(), sa, sizeof bound_addr) != 0) return fail_errno("bind ", opt.path);
    }
    if (staging.empty()) l.path_ = opt.path;  // ours now: removed by close() and on any error below
    if (opt.mode && ::chmod(bound.c_str(), *opt.mode) != 0) return fail_errno("chmod ", opt.path);
    if (opt.gid && ::chown(bound.c_str(), static_cast<uid_t>(-1), *opt.gid) != 0)
        return fail_errno("chown ", opt.path, " to group ", opt.group_name);
    if (::listen(l.fd_.get(), opt.backlog) != 0) return fail_errno("listen ", opt.path);
    if (!staging.empty()) {
        if (::link(staging.c_str(), opt.path.c_str()) != 0) {
            if (errno != EEXIST) return fail_errno("bind ", opt.path);
            PRF_TRY(take_over(opt, addr));
            if (::link(staging.c_str(), opt.path.c_str()) != 0)
                return fail_errno("bind ", opt.path);
        }
        l.path_ = opt.path;
    }
    return l;
}

UnixListener::UnixListener(UnixListener&& o) noexcept
    : fd_(std::move(o.fd_)), path_(std::exchange(o.path_, std::string())) {}

UnixListener& UnixListener::operator=(UnixListener&& o) noexcept {
    if (this != &o) {
        close();
        fd_ = std::move(o.fd_);
        path_ = std::exchange(o.path_, std::string());
    }
    return *this;
}

void UnixListener::close() noexcept {
    fd_.reset();
    if (!path_.empty()) {
        ::unlink(path_.c_str());
        path_.clear();
    }
}

}  // namespace prfence
