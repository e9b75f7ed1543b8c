// SPDX-License-Identifier: MIT
#include "nl_control/daemon/notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"

namespace prfence::daemon {

Status sd_notify_state(const std::string& state) {
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (!env || !*env) return {};
    const std::string path = env;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        return fail(Errc::invalid_argument, "NOTIFY_SOCKET is too long for a Unix socket address");
    if (path[0] != '/' && path[0] != '@')
        return fail(Errc::invalid_argument,
                    "NOTIFY_SOCKET \"" + path + "\" is neither a path nor @abstract");
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@')
        addr.sun_path[0] = '\0';  // abstract namespace: the length, not a NUL, ends it
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());

    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno("sd_notify: socket");
    if (::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<sockaddr*>(&addr), len) < 0)
        return fail_errno("sd_notify: ", path);
    return {};
}

}  // namespace prfence::daemon
