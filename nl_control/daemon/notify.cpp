// SPDX-License-Identifier: MIT
#include "nl_control/daemon/notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <cstddef>

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
        return fail(Errc::invalid_argument, "NOTIFY_SOCKET \"" + path + "\" is neither a path nor @abstract");
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace: the length, not a NUL, ends it
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());

    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(Errc::system, std::string("sd_notify: socket: ") + std::strerror(errno), errno);
    ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
    const int e = errno;
    ::close(fd);
    if (n < 0) return fail(Errc::system, "sd_notify: " + path + ": " + std::strerror(e), e);
    return {};
}

}  // namespace prfence::daemon
