// SPDX-License-Identifier: MIT
#include "uring_engine/transport/sim_path.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/simproto/names.h"
#include "uring_engine/simproto/sim_client.h"
#include "uring_engine/transport/nvme_answer.h"

namespace prfence::engine {

namespace proto = sim::proto;

Result<std::unique_ptr<SimConnection>> SimConnection::open(
    Ring& ring, CompletionSink& sink, const std::string& socket, const std::string& initiator,
    uint16_t target_port, const std::optional<proto::NvmeHost>& nvme_host) {
    proto::Hello hello = proto::make_hello(initiator, target_port, "prfence");
    if (nvme_host) {
        hello.max_version = proto::kVersion2;
        hello.nvme_host = nvme_host;
    }
    auto client = sim::SimClient::connect(socket, hello);
    std::string refusal;
    if (!client && nvme_host && !initiator.empty() && client.error().code == Errc::io &&
        client.error().msg.starts_with("HELLO refused")) {
        // A prsim of protocol version 1 cannot parse a HELLO with an NVMe host: its LUNs are still
        // reachable without one.
        refusal = client.error().msg;
        hello.max_version = proto::kVersion1;
        hello.nvme_host.reset();
        client = sim::SimClient::connect(socket, hello);
    }
    if (!client) {
        Error e = std::move(client).error().with_context("sim:" + socket);
        if (nvme_host && e.msg.find("HELLO refused") != std::string::npos)
            e.msg += " (declaring NVMe host " + nvme_host->hostnqn +
                     "; a prsim of protocol version 1 serves no NVMe namespaces)";
        return fail(std::move(e));
    }
    std::unique_ptr<SimConnection> c(new SimConnection(ring, sink));
    c->fd_ = dup((*client)->fd());
    if (c->fd_ < 0) return fail_errno("dup");
    c->ack_ = (*client)->info();
    c->socket_ = socket;
    c->scsi_nexus_ = !initiator.empty();
    if (nvme_host && refusal.empty() && c->ack_.version >= proto::kVersion2) {
        c->nvme_host_ = nvme_host;
        c->nvme_scope_ = "nvme-host:" + shim::uuid_text(nvme_host->hostid);
    } else if (nvme_host) {
        c->nvme_refusal_ = refusal.empty() ? "prsim speaks protocol version " +
                                                 std::to_string(c->ack_.version) +
                                                 " only, without NVMe namespaces"
                                           : refusal + " (a prsim of protocol version 1?)";
    }
    c->send_op_.c = c.get();
    c->recv_op_.c = c.get();
    c->refuse_op_.c = c.get();
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
    refused_.clear();
    shutdown(fd_, SHUT_RDWR);
    for (int i = 0; i < 100 && (recv_busy_ || send_busy_ || refuse_posted_); ++i)
        (void)ring_.run_once(std::chrono::milliseconds(10));
    close(fd_);
}

Result<std::unique_ptr<SimPath>> SimConnection::path(uint32_t lun) {
    if (!scsi_nexus_)
        return fail(Errc::invalid_argument, "sim:" + socket_ + ": LUN " + std::to_string(lun) +
                                                ": the connection declared no SCSI initiator");
    if (lun >= ack_.lun_count)
        return fail(Errc::not_found, "sim:" + socket_ + ": LUN " + std::to_string(lun) +
                                         " does not exist (the farm has " +
                                         std::to_string(ack_.lun_count) + ")");
    return std::unique_ptr<SimPath>(
        new SimPath(*this, lun, 0, "sim:" + socket_ + ":" + std::to_string(lun), {}));
}

Result<std::unique_ptr<SimPath>> SimConnection::namespace_path(uint32_t nsid) {
    const std::string name = "sim:" + socket_ + ":ns" + std::to_string(nsid);
    if (!nvme_refusal_.empty()) return fail(Errc::unsupported, name + ": " + nvme_refusal_);
    if (!nvme_host_)
        return fail(Errc::invalid_argument,
                    name + ": the connection declared no NVMe host (--hostnqn / --hostid)");
    if (ack_.namespace_count == 0)
        return fail(Errc::not_found,
                    name + ": prsim serves no NVMe namespaces (start it with --nvme-namespaces N)");
    if (nsid == 0 || nsid > ack_.namespace_count)
        return fail(Errc::not_found, name + ": namespace " + std::to_string(nsid) +
                                         " does not exist (the farm has ns1-ns" +
                                         std::to_string(ack_.namespace_count) + ")");
    return std::unique_ptr<SimPath>(new SimPath(*this, 0, nsid, name, nvme_scope_));
}

Status SimConnection::submit(SimPath* path, uint64_t tag, const ScsiRequest& req) {
    if (dead_) return fail_with_errno(Errc::io, dead_errno_, "sim:", socket_, ": connection lost");
    if (path->nsid_ != 0) return submit_nvme(path, tag, req);
    // Every frame carries the negotiated version: prsim cuts off a connection that mixes them.
    PRF_TRY(proto::append_command(queued_, tag, path->lun(), req.cdb.bytes(), req.data_out,
                                  req.data_in_len, ack_.version));
    pending_[tag] = Pending{path, now_ns(), nullptr};
    ++path->in_flight_;
    return kick_send();
}

Status SimConnection::append_nvme(uint64_t tag, const wire::nvme::Command& c) {
    proto::NvmeCommand f;
    f.queue = c.admin ? proto::NvmeQueue::admin : proto::NvmeQueue::io;
    f.opcode = c.opcode;
    f.nsid = c.nsid;
    f.cdw = {c.cdw10, c.cdw11, c.cdw12, c.cdw13, c.cdw14, c.cdw15};
    if (c.dir == wire::nvme::DataDir::to_device)
        f.data_out = c.data;
    else if (c.dir == wire::nvme::DataDir::from_device)
        f.data_in_len = c.data_len;
    return proto::append_nvme_command(queued_, tag, f, ack_.version);
}

Status SimConnection::submit_nvme(SimPath* path, uint64_t tag, const ScsiRequest& req) {
    const uint64_t start = now_ns();
    auto t = wire::nvme::translate(path->nsid_, req.cdb, req.data_out, req.data_in_len);
    if (!t) {
        ScsiResponse r = nvme_refusal(t.error().msg);
        r.latency_ns = now_ns() - start;
        if (!refuse_posted_) PRF_TRY(ring_.post(&refuse_op_));
        refuse_posted_ = true;
        refused_.push_back({path, tag, std::move(r)});
        ++path->in_flight_;
        return {};
    }
    auto np = std::make_unique<NvmePending>();
    np->t = std::move(t).value();
    PRF_TRY(append_nvme(tag, np->t.cmd));
    pending_[tag] = Pending{path, start, std::move(np)};
    ++path->in_flight_;
    return kick_send();
}

void SimConnection::flush_refused() {
    refuse_posted_ = false;
    auto done = std::move(refused_);
    refused_.clear();
    for (auto& r : done) {
        --r.path->in_flight_;
        sink_.on_complete(r.tag, std::move(r.rsp));
    }
}

void SimConnection::complete(std::unordered_map<uint64_t, Pending>::iterator it,
                             ScsiResponse&& rsp) {
    rsp.latency_ns = now_ns() - it->second.start_ns;
    --it->second.path->in_flight_;
    const uint64_t tag = it->first;
    pending_.erase(it);
    sink_.on_complete(tag, std::move(rsp));
}

void SimConnection::abandon(uint64_t tag) {
    // The daemon holds the command (a latency or timeout fault): ask it to let go. Its TASK ABORTED
    // answer completes the command here as usual, and the executor ignores it.
    if (dead_ || pending_.find(tag) == pending_.end()) return;
    proto::append_abort(queued_, tag, ack_.version);
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
            if (it->second.nvme) {
                rsp.sys_errno = EPROTO;  // a SCSI answer to an NVMe command
            } else {
                rsp.status = r->status;
                rsp.host = r->host;
                rsp.sense.assign(r->sense.begin(), r->sense.end());
                rsp.data_in.assign(r->data_in.begin(), r->data_in.end());
            }
            complete(it, std::move(rsp));
        } else if (auto* n = std::get_if<proto::NvmeResponseView>(&*msg)) {
            if (it == pending_.end()) continue;
            NvmePending* np = it->second.nvme.get();
            if (!np) {
                ScsiResponse rsp;
                rsp.sys_errno = EPROTO;  // an NVMe answer to a SCSI command
                complete(it, std::move(rsp));
                continue;
            }
            if (!np->fallback_sent && nvme_needs_fallback(np->t, n->status)) {
                // The answered tag is free again on the server: the fallback reuses it.
                np->fallback_sent = true;
                if (append_nvme(it->first, *np->t.on_conflict).ok() && kick_send().ok()) continue;
            }
            complete(it, nvme_response(np->t, n->status, n->data_in));
        } else if (auto* e = std::get_if<proto::ErrorFrame>(&*msg)) {
            if (e->fatal) {
                fail_all(EPROTO);
                return;
            }
            if (it == pending_.end()) continue;
            ScsiResponse rsp;
            rsp.sys_errno = EINVAL;  // the daemon rejected the command without executing it
            complete(it, std::move(rsp));
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
