// SPDX-License-Identifier: MIT
#include "uring_engine/devices/multipathd.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "uring_engine/common/sys_error.h"

namespace prfence::engine {
namespace {

// multipathd refuses longer replies too (libmpathcmd's MAX_REPLY_LEN is 32 MiB).
constexpr size_t kMaxReply = 32u << 20;

std::string read_line(const std::string& file) {
    std::ifstream in(file);
    std::string s;
    if (in) std::getline(in, s);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

Result<MultipathdClient> MultipathdClient::connect(std::string_view socket,
                                                   std::chrono::milliseconds timeout) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const bool abstract = socket.starts_with('@');
    if (socket.empty() || socket.size() >= sizeof addr.sun_path)
        return fail(Errc::invalid_argument, "multipathd socket name empty or too long");
    std::memcpy(addr.sun_path, socket.data(), socket.size());
    if (abstract) addr.sun_path[0] = '\0';
    const socklen_t len = static_cast<socklen_t>(
        abstract ? offsetof(sockaddr_un, sun_path) + socket.size() : sizeof addr);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return fail_errno("socket");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        const int err = errno;
        const bool absent = err == ECONNREFUSED || err == ENOENT;
        return fail_with_errno(absent ? Errc::not_found : Errc::system, err, "multipathd at ",
                               socket);
    }
    return MultipathdClient(std::move(fd), timeout);
}

Status MultipathdClient::send_all(const void* p, size_t n) {
    const char* b = static_cast<const char*>(p);
    while (n > 0) {
        const ssize_t k = ::send(fd_.get(), b, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR) continue;
            return fail_errno(Errc::io, "multipathd: send");
        }
        b += k;
        n -= static_cast<size_t>(k);
    }
    return {};
}

Status MultipathdClient::recv_all(void* p, size_t n, std::chrono::steady_clock::time_point until) {
    char* b = static_cast<char*>(p);
    while (n > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return fail(Errc::timeout, "multipathd: no reply in time");
        pollfd pfd{fd_.get(), POLLIN, 0};
        const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (r < 0) {
            if (errno == EINTR) continue;
            return fail_errno(Errc::io, "multipathd: poll");
        }
        if (r == 0) return fail(Errc::timeout, "multipathd: no reply in time");
        const ssize_t k = ::recv(fd_.get(), b, n, 0);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return fail_errno(Errc::io, "multipathd: recv");
        }
        if (k == 0) return fail(Errc::io, "multipathd closed the connection");
        b += k;
        n -= static_cast<size_t>(k);
    }
    return {};
}

Result<std::string> MultipathdClient::command(std::string_view cmd) {
    const auto until = std::chrono::steady_clock::now() + timeout_;
    std::string req(cmd);
    req.push_back('\0');
    const size_t len = req.size();
    PRF_TRY(send_all(&len, sizeof len));
    PRF_TRY(send_all(req.data(), req.size()));
    size_t rlen = 0;
    PRF_TRY(recv_all(&rlen, sizeof rlen, until));
    if (rlen == 0 || rlen >= kMaxReply)
        return fail(Errc::io, "multipathd: reply length " + std::to_string(rlen) + " out of range");
    std::string reply(rlen, '\0');
    PRF_TRY(recv_all(reply.data(), rlen, until));
    while (!reply.empty() && (reply.back() == '\0' || reply.back() == '\n')) reply.pop_back();
    return reply;
}

std::optional<std::string> multipath_map_of(const LunSpec& lun, const std::string& sysfs_root) {
    namespace fs = std::filesystem;
    for (const auto& p : lun.paths) {
        if (p.kind != PathSpec::Kind::sg || p.block.empty()) continue;
        const std::string disk = fs::path(p.block).filename().string();
        std::error_code ec;
        for (const auto& h :
             fs::directory_iterator(sysfs_root + "/block/" + disk + "/holders", ec)) {
            const std::string dm = sysfs_root + "/block/" + h.path().filename().string() + "/dm";
            if (!read_line(dm + "/uuid").starts_with("mpath-")) continue;
            std::string name = read_line(dm + "/name");
            if (!name.empty()) return name;
        }
    }
    return std::nullopt;
}

}  // namespace prfence::engine
