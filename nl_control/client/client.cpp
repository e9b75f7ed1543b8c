// SPDX-License-Identifier: MIT
// prfenced's control client: one request at a time over a SOCK_SEQPACKET socket. See client.h and
// nl_control/PROTOCOL.md ("Answers") for the ordering this relies on: a single answer comes before
// its ack, a multi-part answer ends with NLMSG_DONE and gets no ack, an error is one NLMSG_ERROR.
#include "nl_control/client/client.h"

#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "uring_engine/common/sys_error.h"

namespace prfence::nl {
namespace {

using Clock = std::chrono::steady_clock;

Unexpected closed(int err) { return fail(Errc::system, "prfenced closed the connection", err); }

// Waits until fd is readable or the deadline passes; false on timeout.
Result<bool> wait_readable(int fd, std::optional<Clock::time_point> deadline) {
    for (;;) {
        int ms = -1;
        if (deadline) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now())
                    .count();
            if (left <= 0)
                ms = 0;
            else
                ms = static_cast<int>(std::min<long long>(left + 1, 1 << 30));
        }
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("poll on the prfenced socket");
        }
        if (n == 0) {
            if (deadline && Clock::now() < *deadline) continue;
            return false;
        }
        return true;
    }
}

// One datagram, viewed in `buf` (valid until the next receive), or an Error (peer closed, overlong
// datagram, socket error); with `nowait`, an empty view when none is there yet. `buf` is the
// caller's kMaxDatagram-byte scratch, allocated once.
Result<ByteView> recv_datagram(int fd, std::unique_ptr<uint8_t[]>& buf, bool nowait = false) {
    if (!buf) buf.reset(new uint8_t[kMaxDatagram]);
    for (;;) {
        ssize_t n = ::recv(fd, buf.get(), kMaxDatagram, MSG_TRUNC | (nowait ? MSG_DONTWAIT : 0));
        if (n < 0) {
            if (errno == EINTR) continue;
            if (nowait && (errno == EAGAIN || errno == EWOULDBLOCK)) return ByteView();
            if (errno == ECONNRESET || errno == EPIPE) return closed(errno);
            return fail_errno("recv from prfenced");
        }
        if (n == 0) return closed(ECONNRESET);
        if (static_cast<size_t>(n) > kMaxDatagram)
            return fail(Errc::malformed,
                        "prfenced sent a datagram of " + std::to_string(n) + " bytes, over the " +
                            std::to_string(kMaxDatagram) + "-byte limit",
                        EMSGSIZE);
        return ByteView(buf.get(), static_cast<size_t>(n));
    }
}

bool is_event(const Answer& a) { return a.kind() == Answer::Kind::event && a.hdr.seq == 0; }

}  // namespace

Result<Client> Client::connect(const std::string& socket_path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path)
        return fail(Errc::invalid_argument,
                    "control socket path '" + socket_path + "' is empty or longer than " +
                        std::to_string(sizeof addr.sun_path - 1) + " bytes");
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_errno("socket(AF_UNIX, SOCK_SEQPACKET)");
    for (;;) {
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
            return Client(fd);
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        std::string why;
        switch (e) {
            case ENOENT:
                why = "no such socket (is prfenced running?)";
                break;
            case EACCES:
            case EPERM:
                why =
                    "permission denied (check the socket's mode and group; are you in prfenced's "
                    "group?)";
                break;
            case ECONNREFUSED:
                why = "connection refused (a stale socket: prfenced is not running?)";
                break;
            case ENOTDIR:
                why = "a path component is not a directory";
                break;
            case EPROTOTYPE:
                why = "not a SOCK_SEQPACKET socket (is this prfenced's control socket?)";
                break;
            default:
                why = std::strerror(e);
                break;
        }
        Errc code = e == ENOENT ? Errc::not_found : Errc::system;
        return fail(code, "cannot connect to prfenced at " + socket_path + ": " + why, e);
    }
}

Client::Client(Client&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      seq_(o.seq_),
      spin_(o.spin_),
      pending_events_(std::move(o.pending_events_)),
      rbuf_(std::move(o.rbuf_)) {}

Client& Client::operator=(Client&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
        seq_ = o.seq_;
        spin_ = o.spin_;
        pending_events_ = std::move(o.pending_events_);
        rbuf_ = std::move(o.rbuf_);
    }
    return *this;
}

Client::~Client() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::vector<Answer>> Client::call(Request req,
                                         std::optional<std::chrono::milliseconds> timeout) {
    if (fd_ < 0) return fail(Errc::invalid_argument, "client is not connected");
    if (++seq_ == 0) ++seq_;  // seq 0 marks events
    req.hdr.seq = seq_;
    req.hdr.type = kMsgType;
    req.hdr.flags |= NLM_F_REQUEST | NLM_F_ACK;
    PRF_TRY_ASSIGN(Bytes msg, encode_request(req));
    for (;;) {
        ssize_t n = ::send(fd_, msg.data(), msg.size(), MSG_NOSIGNAL);
        if (n >= 0) break;
        if (errno == EINTR) continue;
        if (errno == EPIPE || errno == ECONNRESET) return closed(errno);
        return fail_errno("send to prfenced");
    }

    std::optional<Clock::time_point> deadline;
    if (timeout) deadline = Clock::now() + *timeout;
    std::vector<Answer> answers;
    for (;;) {
        // Try without sleeping for the first spin_: an answer usually comes within that, and not
        // sleeping saves the wakeup (15-30 us on a virtual machine), about half of a control round
        // trip. Only for the first message: the next parts of a RUN answer come at the batch's
        // pace, and spinning for them would take a CPU from the batch.
        ByteView dgram;
        const auto spin_until =
            Clock::now() + (answers.empty() ? spin_ : std::chrono::microseconds(0));
        do {  // at least one try: a part already queued is taken without a poll()
            PRF_TRY_ASSIGN(dgram, recv_datagram(fd_, rbuf_, true));
        } while (dgram.empty() && Clock::now() < spin_until);
        if (dgram.empty()) {
            PRF_TRY_ASSIGN(bool ready, wait_readable(fd_, deadline));
            if (!ready)
                return fail(Errc::timeout,
                            "no answer from prfenced within " +
                                std::to_string(timeout ? timeout->count() : 0) + " ms",
                            ETIMEDOUT);
            PRF_TRY_ASSIGN(dgram, recv_datagram(fd_, rbuf_));
        }
        PRF_TRY_ASSIGN(auto parts, split_datagram(dgram));
        for (ByteView part : parts) {
            auto a = decode_answer(part);
            if (!a.ok()) {
                Error e = std::move(a).error();
                return fail(e.code, "malformed answer from prfenced: " + e.msg, e.sys_errno);
            }
            if (is_event(*a)) {
                pending_events_.push_back(std::move(a->event()));
                continue;
            }
            // Answers to an earlier request that timed out: not ours.
            if (a->hdr.seq != seq_) continue;
            const bool last = a->kind() == Answer::Kind::ack || a->kind() == Answer::Kind::done;
            answers.push_back(std::move(*a));
            if (last) return answers;
        }
    }
}

Result<RunAnswer> assemble_run_answer(std::vector<Answer>& answers) {
    RunAnswer out;
    bool have_summary = false;
    for (auto& a : answers)
        if (a.kind() == Answer::Kind::summary) {
            out.summary = std::move(a.summary());
            have_summary = true;
        }
    if (!have_summary)
        return fail(Errc::malformed, "prfenced's answer ended without a summary", EINVAL);
    // Each result moves once, straight to its place: sorting a thousand outcomes by index moved
    // each of them a dozen times, milliseconds of an operator's wait.
    const size_t n = out.summary.batch.luns;
    out.outcomes.resize(n);
    std::vector<bool> seen(n);
    size_t count = 0;
    for (auto& a : answers) {
        if (a.kind() != Answer::Kind::luns) continue;
        for (auto& [i, o] : a.luns()) {
            if (i >= n)
                return fail(Errc::malformed,
                            "prfenced's answer has LUN " + std::to_string(i) + ", beyond its " +
                                std::to_string(n) + " LUNs",
                            EINVAL);
            if (seen[i])
                return fail(Errc::malformed, "prfenced's answer repeats LUN " + std::to_string(i),
                            EINVAL);
            seen[i] = true;
            out.outcomes[i] = std::move(o);
            ++count;
        }
    }
    if (count != n) {
        const size_t missing =
            static_cast<size_t>(std::find(seen.begin(), seen.end(), false) - seen.begin());
        return fail(Errc::malformed,
                    "prfenced's answer lacks LUN " + std::to_string(missing) + " (" +
                        std::to_string(count) + " results for " + std::to_string(n) + " LUNs)",
                    EINVAL);
    }
    return out;
}

Result<Client> Client::connect_checked(const std::string& socket_path,
                                       std::chrono::milliseconds timeout) {
    PRF_TRY_ASSIGN(Client c, connect(socket_path));
    PRF_TRY(c.family(timeout));
    return c;
}

Result<FamilyInfo> Client::family(std::chrono::milliseconds timeout) {
    Request req;
    req.hdr.cmd = CMD_GET_FAMILY;
    PRF_TRY_ASSIGN(auto answers, call(std::move(req), timeout));
    for (auto& a : answers) {
        if (a.kind() == Answer::Kind::ack && a.err() != 0)
            return fail(Errc::unsupported,
                        "prfenced refused CMD_GET_FAMILY: " +
                            (a.err_msg().empty() ? std::strerror(a.err()) : a.err_msg()),
                        a.err());
        if (a.kind() != Answer::Kind::family) continue;
        const FamilyInfo& f = a.family();
        if (f.name != kFamilyName)
            return fail(Errc::unsupported, "the socket speaks family '" + f.name + "', not prfence",
                        EPROTONOSUPPORT);
        if (f.version < kMinVersion || f.min_version > kVersion)
            return fail(Errc::unsupported,
                        "prfenced speaks protocol versions " + std::to_string(f.min_version) + "-" +
                            std::to_string(f.version) + ", this client " +
                            std::to_string(kMinVersion) + "-" + std::to_string(kVersion),
                        EPROTONOSUPPORT);
        return f;
    }
    return fail(Errc::malformed, "prfenced acknowledged CMD_GET_FAMILY without a family answer",
                EINVAL);
}

Result<std::optional<Event>> Client::next_event(std::optional<std::chrono::milliseconds> timeout) {
    if (!pending_events_.empty()) {
        Event e = std::move(pending_events_.front());
        pending_events_.erase(pending_events_.begin());
        return std::optional<Event>(std::move(e));
    }
    if (fd_ < 0) return fail(Errc::invalid_argument, "client is not connected");
    std::optional<Clock::time_point> deadline;
    if (timeout) deadline = Clock::now() + *timeout;
    for (;;) {
        PRF_TRY_ASSIGN(bool ready, wait_readable(fd_, deadline));
        if (!ready) return std::optional<Event>();
        PRF_TRY_ASSIGN(ByteView dgram, recv_datagram(fd_, rbuf_));
        PRF_TRY_ASSIGN(auto parts, split_datagram(dgram));
        for (ByteView part : parts) {
            auto a = decode_answer(part);
            if (!a.ok()) {
                Error e = std::move(a).error();
                return fail(e.code, "malformed message from prfenced: " + e.msg, e.sys_errno);
            }
            // Stray answers (a request that timed out) are dropped.
            if (is_event(*a)) pending_events_.push_back(std::move(a->event()));
        }
        if (!pending_events_.empty()) {
            Event e = std::move(pending_events_.front());
            pending_events_.erase(pending_events_.begin());
            return std::optional<Event>(std::move(e));
        }
    }
}

}  // namespace prfence::nl
