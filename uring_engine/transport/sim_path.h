// SPDX-License-Identifier: MIT
// prsim LUNs and NVMe namespaces over prsim's Unix socket, driven by the same io_uring loop as
// /dev/sg.
//
// One SimConnection per I_T nexus (socket + initiator + target port, and the NVMe host when it
// declares one) carries the commands of every path of that nexus: frames are gathered into one
// buffer and sent with a single IORING_OP_SEND while the previous send is in flight, and one
// IORING_OP_RECV is always armed, so a batch of N commands costs a handful of system calls rather
// than 2N. The HELLO exchange happens synchronously at open.
//
// NVMe namespaces (protocol version 2): a connection that declares an NVMe host in its HELLO gives
// paths to the farm's namespaces, NSIDs 1..HelloAck::namespace_count. Such a path takes the
// engine's SCSI requests as NvmePath does (transport/nvme_answer.h): each is translated into its
// NVMe reservation command and sent as an NVME_COMMAND (I/O queue; Identify on the admin queue),
// and the NVME_RESPONSE comes back as the translated SCSI answer with ScsiResponse::nvme set.
// REGISTER AND IGNORE EXISTING KEY may take two commands on one tag (the fallback after a
// Reservation Conflict); a command NVMe cannot express completes on the next turn of the ring,
// nothing sent, as CHECK CONDITION ILLEGAL REQUEST (24h/00h) with the reason in nvme->refused. A
// namespace path's registration scope is "nvme-host:<host identifier as a UUID>": every connection
// of one host shares the registrations, as on an NVMe target.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "uring_engine/simproto/protocol.h"
#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/transport.h"
#include "uring_engine/wire/nvme_translate.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::engine {

class SimPath;

class SimConnection {
  public:
    // Connects to `socket` and declares the nexus. Errors name the socket (ENOENT: is prsim
    // running?). With `nvme_host` the HELLO offers protocol version 2 and declares that NVMe host;
    // `initiator` may then be empty (no SCSI nexus: LUN paths fail). A server that refuses the NVMe
    // host (a prsim of protocol version 1) is asked again without it when there is an initiator:
    // the connection then serves LUNs, and namespace paths fail saying why.
    static Result<std::unique_ptr<SimConnection>> open(
        Ring& ring, CompletionSink& sink, const std::string& socket, const std::string& initiator,
        uint16_t target_port, const std::optional<sim::proto::NvmeHost>& nvme_host = std::nullopt);
    ~SimConnection();

    // A path for one LUN of this connection (the connection must outlive its paths). Fails for a
    // LUN beyond the farm's count and on a connection without a SCSI nexus.
    Result<std::unique_ptr<SimPath>> path(uint32_t lun);
    // A path for NVMe namespace `nsid`, named "sim:SOCKET:nsN". Fails, naming the socket, on a
    // connection without an NVMe host, when prsim refused the host or speaks version 1 only, serves
    // no namespaces, or has fewer than `nsid`.
    Result<std::unique_ptr<SimPath>> namespace_path(uint32_t nsid);
    const sim::proto::HelloAck& info() const { return ack_; }
    // The NVMe host the connection speaks as (nullopt: none declared, or prsim refused it).
    const std::optional<sim::proto::NvmeHost>& nvme_host() const { return nvme_host_; }
    const std::string& socket() const { return socket_; }
    bool dead() const { return dead_; }

  private:
    friend class SimPath;
    SimConnection(Ring& ring, CompletionSink& sink) : ring_(ring), sink_(sink) {}
    Status submit(SimPath* path, uint64_t tag, const ScsiRequest& req);
    Status submit_nvme(SimPath* path, uint64_t tag, const ScsiRequest& req);
    Status append_nvme(uint64_t tag, const wire::nvme::Command& c);
    void flush_refused();
    void abandon(uint64_t tag);
    Status kick_send();
    Status arm_recv();
    void on_sent(int res);
    void on_recv(int res);
    void fail_all(int err);

    struct SendOp : Ring::Op {
        SimConnection* c = nullptr;
        void complete(int res, uint32_t) override { c->on_sent(res); }
    } send_op_;
    struct RecvOp : Ring::Op {
        SimConnection* c = nullptr;
        void complete(int res, uint32_t) override { c->on_recv(res); }
    } recv_op_;
    // Delivers refused NVMe commands (nothing sent) on the ring's next turn, not inside submit().
    struct RefuseOp : Ring::Op {
        SimConnection* c = nullptr;
        void complete(int, uint32_t) override { c->flush_refused(); }
    } refuse_op_;

    // A namespace command: its translation, kept for the answer, and whether the fallback went.
    struct NvmePending {
        wire::nvme::Translation t;
        bool fallback_sent = false;
    };
    struct Pending {
        SimPath* path;
        uint64_t start_ns;
        std::unique_ptr<NvmePending> nvme;  // null for a LUN's SCSI command
    };
    void complete(std::unordered_map<uint64_t, Pending>::iterator it, ScsiResponse&& rsp);

    Ring& ring_;
    CompletionSink& sink_;
    int fd_ = -1;
    std::string socket_;
    sim::proto::HelloAck ack_;
    std::optional<sim::proto::NvmeHost> nvme_host_;
    std::string nvme_scope_;    // "nvme-host:<uuid>" when nvme_host_
    std::string nvme_refusal_;  // why prsim did not take the NVMe host ("" if it did)
    bool scsi_nexus_ = true;    // the HELLO named an initiator
    struct Refused {
        SimPath* path;
        uint64_t tag;
        ScsiResponse rsp;
    };
    std::vector<Refused> refused_;
    bool refuse_posted_ = false;
    sim::proto::FrameDecoder dec_;
    Bytes sending_, queued_;
    size_t sent_off_ = 0;
    bool send_busy_ = false, recv_busy_ = false, dead_ = false;
    int dead_errno_ = 0;
    std::unordered_map<uint64_t, Pending> pending_;
};

class SimPath final : public Path {
  public:
    const std::string& name() const override { return name_; }
    unsigned queue_depth() const override { return 64; }
    unsigned in_flight() const override { return in_flight_; }
    Status submit(uint64_t tag, const ScsiRequest& req) override {
        return conn_.submit(this, tag, req);
    }
    void abandon(uint64_t tag) override { conn_.abandon(tag); }
    const std::string& registration_scope() const override { return scope_; }
    uint32_t lun() const { return lun_; }
    // The NVMe namespace ID; 0 for a LUN.
    uint32_t nsid() const { return nsid_; }

  private:
    friend class SimConnection;
    SimPath(SimConnection& c, uint32_t lun, uint32_t nsid, std::string name, std::string scope)
        : conn_(c), lun_(lun), nsid_(nsid), name_(std::move(name)), scope_(std::move(scope)) {}
    SimConnection& conn_;
    uint32_t lun_;
    uint32_t nsid_;
    std::string name_;
    std::string scope_;
    unsigned in_flight_ = 0;
};

}  // namespace prfence::engine
