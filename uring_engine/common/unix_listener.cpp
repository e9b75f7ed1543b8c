// SPDX-License-Identifier: MIT
#include "uring_engine/common/unix_listener.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

}  // namespace

Result<UnixListener> UnixListener::bind(const UnixListenerOptions& opt) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (opt.path.size() >= sizeof addr.sun_path)
        return fail(Errc::invalid_argument, opt.path + ": too long for a Unix socket path");
    std::memcpy(addr.sun_path, opt.path.c_str(), opt.path.size() + 1);
    const auto* sa = reinterpret_cast<const sockaddr*>(&addr);

    if (opt.parent_mode) PRF_TRY(make_parent(opt.path, *opt.parent_mode));

    UnixListener l;
    l.fd_.reset(::socket(AF_UNIX, opt.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!l.fd_) return fail_errno("socket");
    if (::bind(l.fd_.get(), sa, sizeof addr) != 0) {
        if (errno != EADDRINUSE) return fail_errno("bind ", opt.path);
        struct stat st {};
        if (::lstat(opt.path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
            return fail(Errc::system, opt.path + ": exists and is not a socket; not replacing it",
                        EADDRINUSE);
        if (someone_listens(addr, opt.type))
            return fail(Errc::system, opt.path + ": another " + opt.who + " is listening there",
                        EADDRINUSE);
        ::unlink(opt.path.c_str());
        if (::bind(l.fd_.get(), sa, sizeof addr) != 0) return fail_errno("bind ", opt.path);
    }
    l.path_ = opt.path;  // ours now: removed by close() and on any error below
    if (opt.mode && ::chmod(opt.path.c_str(), *opt.mode) != 0)
        return fail_errno("chmod ", opt.path);
    if (opt.gid && ::chown(opt.path.c_str(), static_cast<uid_t>(-1), *opt.gid) != 0)
        return fail_errno("chown ", opt.path, " to group ", opt.group_name);
    if (::listen(l.fd_.get(), opt.backlog) != 0) return fail_errno("listen ", opt.path);
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
