// SPDX-License-Identifier: MIT
#include "uring_engine/simproto/sim_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "uring_engine/common/sys_error.h"

namespace prfence::sim {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

Clock::time_point deadline_after(int timeout_ms) {
    return Clock::now() + std::chrono::milliseconds(timeout_ms);
}

Result<int> connect_unix(const std::string& path, int timeout_ms) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path)
        return fail(Errc::invalid_argument, "socket path too long: " + path);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail_errno("socket");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            int e = errno;
            ::close(fd);
            return fail_with_errno(e, "connect ", path);
        }
        pollfd p{fd, POLLOUT, 0};
        int n = ::poll(&p, 1, timeout_ms);
        int err = 0;
        socklen_t len = sizeof err;
        if (n <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            const int e = err ? err : errno;
            ::close(fd);
            if (n == 0) return fail(Errc::timeout, "connect " + path + ": timed out");
            return fail_with_errno(e, "connect ", path);
        }
    }
    return fd;
}

}  // namespace

SimClient::~SimClient() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<SimClient>> SimClient::connect_raw(const std::string& socket_path,
                                                          int timeout_ms) {
    PRF_TRY_ASSIGN(int fd, connect_unix(socket_path, timeout_ms));
    std::unique_ptr<SimClient> c(new SimClient());
    c->fd_ = fd;
    return c;
}

Result<std::unique_ptr<SimClient>> SimClient::connect(const std::string& socket_path,
                                                      const proto::Hello& hello, int timeout_ms) {
    auto deadline = deadline_after(timeout_ms);
    PRF_TRY_ASSIGN(auto c, connect_raw(socket_path, timeout_ms));
    PRF_TRY_ASSIGN(Bytes frame, proto::encode_hello(hello));
    PRF_TRY(c->write_all(frame, remaining_ms(deadline)));
    while (!c->got_ack_) {
        if (c->fatal_) return fail(Errc::io, std::string("HELLO refused: ") + c->fatal_->message);
        if (Clock::now() >= deadline)
            return fail(Errc::timeout, "no HELLO_ACK from " + socket_path);
        PRF_TRY(c->pump(remaining_ms(deadline)));
    }
    c->ack_ = *c->got_ack_;
    return c;
}

Unexpected SimClient::dead_error() const {
    if (fatal_)
        return fail(Errc::io,
                    std::string("server closed the connection: ") +
                        proto::error_code_name(static_cast<proto::ErrorCode>(fatal_->code)) + ": " +
                        fatal_->message);
    return fail(Errc::io, "server closed the connection");
}

Status SimClient::write_all(ByteView bytes, int timeout_ms) {
    auto deadline = deadline_after(timeout_ms);
    size_t off = 0;
    while (off < bytes.size()) {
        if (closed_) return dead_error();
        ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) {
            int e = errno;
            if (e == EPIPE || e == ECONNRESET) {
                // Collect the server's last words (a fatal ERROR frame) if any.
                (void)pump(0);
                closed_ = true;
                return dead_error();
            }
            return fail_with_errno(e, "send");
        }
        // Socket full: read responses meanwhile so that neither side waits for the other.
        pollfd p{fd_, POLLOUT | POLLIN, 0};
        int left = remaining_ms(deadline);
        if (left == 0) return fail(Errc::timeout, "send: timed out with the socket full");
        int r = ::poll(&p, 1, left);
        if (r < 0 && errno != EINTR) return fail_errno("poll");
        if (r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) PRF_TRY(pump(0));
    }
    return {};
}

Status SimClient::file_frame(const proto::Frame& f) {
    PRF_TRY_ASSIGN(auto msg, proto::decode_server_frame(f));
    if (auto* a = std::get_if<proto::HelloAck>(&msg)) {
        got_ack_ = *a;
    } else if (auto* r = std::get_if<proto::ResponseView>(&msg)) {
        done_[r->tag] = proto::Response::from(*r);
        order_.push_back(r->tag);
    } else if (auto* n = std::get_if<proto::NvmeResponseView>(&msg)) {
        nvme_done_[n->tag] = proto::NvmeResponse::from(*n);
    } else if (auto* c = std::get_if<proto::ControlReply>(&msg)) {
        control_replies_[c->tag] = std::move(c->json);
    } else if (auto* e = std::get_if<proto::ErrorFrame>(&msg)) {
        if (e->fatal || e->tag == 0) {
            fatal_ = std::move(*e);
        } else {
            rejected_[e->tag] = *e;
            order_.push_back(e->tag);
        }
    }
    return {};
}

Status SimClient::pump(int timeout_ms) {
    if (closed_) return dead_error();
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0) {
        if (errno == EINTR) return {};
        return fail_errno("poll");
    }
    if (r == 0) return {};
    for (;;) {
        auto area = dec_.write_area(65536);
        ssize_t n = ::recv(fd_, area.data(), area.size(), 0);
        if (n > 0) {
            dec_.commit(static_cast<size_t>(n));
            if (static_cast<size_t>(n) < area.size()) break;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        closed_ = true;  // EOF or reset
        break;
    }
    for (;;) {
        auto f = dec_.next();
        if (!f) {
            closed_ = true;
            return fail(Errc::malformed, "bad frame from the server: " + f.error().msg);
        }
        if (!*f) break;
        PRF_TRY(file_frame(**f));
    }
    return {};
}

Status SimClient::submit_tagged(uint64_t tag, uint32_t lun, ByteView cdb, ByteView data_out,
                                uint32_t alloc_len) {
    if (fatal_ || closed_) return dead_error();
    out_.clear();
    PRF_TRY(proto::append_command(out_, tag, lun, cdb, data_out, alloc_len, ack_.version));
    return write_all(out_, 5000);
}

Result<uint64_t> SimClient::submit(uint32_t lun, ByteView cdb, ByteView data_out,
                                   uint32_t alloc_len) {
    uint64_t tag = next_tag_++;
    PRF_TRY(submit_tagged(tag, lun, cdb, data_out, alloc_len));
    return tag;
}

Status SimClient::abort(uint64_t tag) {
    if (fatal_ || closed_) return dead_error();
    out_.clear();
    proto::append_abort(out_, tag, ack_.version);
    return write_all(out_, 5000);
}

Status SimClient::send_raw(ByteView bytes, int timeout_ms) { return write_all(bytes, timeout_ms); }

Result<proto::Response> SimClient::wait_any(int timeout_ms) {
    auto deadline = deadline_after(timeout_ms);
    for (;;) {
        while (!order_.empty()) {
            uint64_t tag = order_.front();
            order_.pop_front();
            if (auto r = take(tag)) return std::move(*r);
            // Already taken through wait(tag).
        }
        if (fatal_ || closed_) return dead_error();
        if (Clock::now() >= deadline) return fail(Errc::timeout, "no response within the timeout");
        PRF_TRY(pump(remaining_ms(deadline)));
    }
}

std::optional<Result<proto::Response>> SimClient::take(uint64_t tag) {
    if (auto it = done_.find(tag); it != done_.end()) {
        Result<proto::Response> r = std::move(it->second);
        done_.erase(it);
        return r;
    }
    if (auto it = rejected_.find(tag); it != rejected_.end()) {
        auto e = std::move(it->second);
        rejected_.erase(it);
        return Result<proto::Response>(
            fail(Errc::io, "command tag " + std::to_string(tag) + " rejected: " +
                               proto::error_code_name(static_cast<proto::ErrorCode>(e.code)) +
                               ": " + e.message));
    }
    return std::nullopt;
}

Result<proto::Response> SimClient::wait(uint64_t tag, int timeout_ms) {
    auto deadline = deadline_after(timeout_ms);
    for (;;) {
        if (auto r = take(tag)) return std::move(*r);
        if (fatal_ || closed_) return dead_error();
        if (Clock::now() >= deadline)
            return fail(Errc::timeout,
                        "no response to tag " + std::to_string(tag) + " within the timeout");
        PRF_TRY(pump(remaining_ms(deadline)));
    }
}

Result<proto::Response> SimClient::execute(uint32_t lun, ByteView cdb, ByteView data_out,
                                           uint32_t alloc_len, int timeout_ms) {
    PRF_TRY_ASSIGN(uint64_t tag, submit(lun, cdb, data_out, alloc_len));
    return wait(tag, timeout_ms);
}

Result<uint64_t> SimClient::submit_nvme(const proto::NvmeCommand& cmd) {
    if (fatal_ || closed_) return dead_error();
    const uint64_t tag = next_tag_++;
    out_.clear();
    PRF_TRY(proto::append_nvme_command(out_, tag, cmd, ack_.version));
    PRF_TRY(write_all(out_, 5000));
    return tag;
}

Result<proto::NvmeResponse> SimClient::wait_nvme(uint64_t tag, int timeout_ms) {
    auto deadline = deadline_after(timeout_ms);
    for (;;) {
        if (auto it = nvme_done_.find(tag); it != nvme_done_.end()) {
            proto::NvmeResponse r = std::move(it->second);
            nvme_done_.erase(it);
            return r;
        }
        if (rejected_.count(tag)) {
            auto r = take(tag);  // the rejection as an Error
            return fail(r->error());
        }
        if (fatal_ || closed_) return dead_error();
        if (Clock::now() >= deadline)
            return fail(Errc::timeout,
                        "no NVMe response to tag " + std::to_string(tag) + " within the timeout");
        PRF_TRY(pump(remaining_ms(deadline)));
    }
}

Result<proto::NvmeResponse> SimClient::execute_nvme(const proto::NvmeCommand& cmd, int timeout_ms) {
    PRF_TRY_ASSIGN(uint64_t tag, submit_nvme(cmd));
    return wait_nvme(tag, timeout_ms);
}

Result<std::string> SimClient::control(std::string_view json, int timeout_ms) {
    auto deadline = deadline_after(timeout_ms);
    if (fatal_ || closed_) return dead_error();
    uint64_t tag = next_tag_++;
    out_.clear();
    PRF_TRY(proto::append_control(out_, tag, json, got_ack_ ? ack_.version : proto::kVersion1));
    PRF_TRY(write_all(out_, timeout_ms));
    for (;;) {
        if (auto it = control_replies_.find(tag); it != control_replies_.end()) {
            std::string s = std::move(it->second);
            control_replies_.erase(it);
            return s;
        }
        if (fatal_ || closed_) return dead_error();
        if (Clock::now() >= deadline)
            return fail(Errc::timeout, "no control reply within the timeout");
        PRF_TRY(pump(remaining_ms(deadline)));
    }
}

}  // namespace prfence::sim
