// SPDX-License-Identifier: MIT
#include "uring_engine/transport/sim_path.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/simproto/sim_client.h"

namespace prfence::engine {

namespace proto = sim::proto;

Result<std::unique_ptr<SimConnection>> SimConnection::open(Ring& ring, CompletionSink& sink,
                                                           const std::string& socket,
                                                           const std::string& initiator,
                                                           uint16_t target_port) {
    auto client =
        sim::SimClient::connect(socket, proto::make_hello(initiator, target_port, "prfence"));
    if (!client) return fail(std::move(client).error().with_context("sim:" + socket));
    std::unique_ptr<SimConnection> c(new SimConnection(ring, sink));
    c->fd_ = dup((*client)->fd());
    if (c->fd_ < 0) return fail_errno("dup");
    c->ack_ = (*client)->info();
    c->socket_ = socket;
    c->send_op_.c = c.get();
    c->recv_op_.c = c.get();
    PRF_TRY(c->arm_recv());
    return c;
}

SimConnection::~SimConnection() {
    if (fd_ < 0) return;
    // The ring holds pointers to our send/receive ops: wake them (shutdown makes the receive return
    // 0) and turn the ring until both have come back, so no completion lands on a destroyed object.
    // Commands still pending (abandoned after an engine-side timeout) belong to paths that may
    // already be gone: forget them without a completion.
    dead_ = true;
    pending_.clear();
    shutdown(fd_, SHUT_RDWR);
    for (int i = 0; i < 100 && (recv_busy_ || send_busy_); ++i)
        (void)ring_.run_once(std::chrono::milliseconds(10));
    close(fd_);
}

Result<std::unique_ptr<SimPath>> SimConnection::path(uint32_t lun) {
    if (lun >= ack_.lun_count)
        return fail(Errc::not_found, "sim:" + socket_ + ": LUN " + std::to_string(lun) +
                                         " does not exist (the farm has " +
                                         std::to_string(ack_.lun_count) + ")");
    return std::unique_ptr<SimPath>(
        new SimPath(*this, lun, "sim:" + socket_ + ":" + std::to_string(lun)));
}

Status SimConnection::submit(SimPath* path, uint64_t tag, const ScsiRequest& req) {
    if (dead_) return fail_with_errno(Errc::io, dead_errno_, "sim:", socket_, ": connection lost");
    PRF_TRY(proto::append_command(queued_, tag, path->lun(), req.cdb.bytes(), req.data_out,
                                  req.data_in_len));
    pending_[tag] = Pending{path, now_ns()};
    ++path->in_flight_;
    return kick_send();
}

void SimConnection::abandon(uint64_t tag) {
    // The daemon holds the command (a latency or timeout fault): ask it to let go. Its TASK ABORTED
    // answer completes the command here as usual, and the executor ignores it.
    if (dead_ || pending_.find(tag) == pending_.end()) return;
    proto::append_abort(queued_, tag);
    (void)kick_send();
}

Status SimConnection::kick_send() {
    if (send_busy_ || dead_) return {};
    if (sent_off_ >= sending_.size()) {
        if (queued_.empty()) return {};
        sending_.swap(queued_);
        queued_.clear();
        sent_off_ = 0;
    }
    PRF_TRY_ASSIGN(io_uring_sqe * sqe, ring_.sqe(&send_op_));
    io_uring_prep_send(sqe, fd_, sending_.data() + sent_off_, sending_.size() - sent_off_,
                       MSG_NOSIGNAL);
    send_busy_ = true;
    return {};
}

void SimConnection::on_sent(int res) {
    send_busy_ = false;
    if (dead_) return;
    if (res < 0) {
        if (res == -EAGAIN || res == -EINTR) {
            (void)kick_send();
            return;
        }
        fail_all(-res);
        return;
    }
    sent_off_ += static_cast<size_t>(res);
    if (sent_off_ >= sending_.size()) {
        sending_.clear();
        sent_off_ = 0;
    }
    if (auto st = kick_send(); !st.ok())
        fail_all(st.error().sys_errno ? st.error().sys_errno : EIO);
}

Status SimConnection::arm_recv() {
    if (recv_busy_ || dead_) return {};
    auto area = dec_.write_area(64 * 1024);
    PRF_TRY_ASSIGN(io_uring_sqe * sqe, ring_.sqe(&recv_op_));
    io_uring_prep_recv(sqe, fd_, area.data(), area.size(), 0);
    recv_busy_ = true;
    return {};
}

void SimConnection::on_recv(int res) {
    recv_busy_ = false;
    if (dead_) return;
    if (res == -EAGAIN || res == -EINTR) {
        (void)arm_recv();
        return;
    }
    if (res <= 0) {
        fail_all(res == 0 ? ECONNRESET : -res);
        return;
    }
    dec_.commit(static_cast<size_t>(res));
    for (;;) {
        auto next = dec_.next();
        if (!next) {
            fail_all(EPROTO);
            return;
        }
        if (!*next) break;
        const proto::Frame& f = **next;
        auto msg = proto::decode_server_frame(f);
        if (!msg) {
            fail_all(EPROTO);
            return;
        }
        auto it = pending_.find(f.header.tag);
        if (auto* r = std::get_if<proto::ResponseView>(&*msg)) {
            if (it == pending_.end()) continue;  // not ours (already failed locally)
            ScsiResponse rsp;
            rsp.status = r->status;
            rsp.host = r->host;
            rsp.sense.assign(r->sense.begin(), r->sense.end());
            rsp.data_in.assign(r->data_in.begin(), r->data_in.end());
            rsp.latency_ns = now_ns() - it->second.start_ns;
            --it->second.path->in_flight_;
            uint64_t tag = it->first;
            pending_.erase(it);
            sink_.on_complete(tag, std::move(rsp));
        } else if (auto* e = std::get_if<proto::ErrorFrame>(&*msg)) {
            if (e->fatal) {
                fail_all(EPROTO);
                return;
            }
            if (it == pending_.end()) continue;
            ScsiResponse rsp;
            rsp.sys_errno = EINVAL;  // the daemon rejected the command without executing it
            --it->second.path->in_flight_;
            uint64_t tag = it->first;
            pending_.erase(it);
            sink_.on_complete(tag, std::move(rsp));
        }
    }
    if (auto st = arm_recv(); !st.ok()) fail_all(st.error().sys_errno ? st.error().sys_errno : EIO);
}

void SimConnection::fail_all(int err) {
    dead_ = true;
    dead_errno_ = err;
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [tag, p] : pending) {
        ScsiResponse rsp;
        rsp.sys_errno = err;
        rsp.latency_ns = now_ns() - p.start_ns;
        --p.path->in_flight_;
        sink_.on_complete(tag, std::move(rsp));
    }
}

}  // namespace prfence::engine
