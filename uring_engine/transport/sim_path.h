// SPDX-License-Identifier: MIT
// prsim LUNs over prsim's Unix socket, driven by the same io_uring loop as /dev/sg.
//
// One SimConnection per I_T nexus (socket + initiator + target port) carries the commands of every
// LUN path of that nexus: frames are gathered into one buffer and sent with a single IORING_OP_SEND
// while the previous send is in flight, and one IORING_OP_RECV is always armed, so a batch of N
// commands costs a handful of system calls rather than 2N. The HELLO exchange happens synchronously
// at open.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "uring_engine/simproto/protocol.h"
#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/transport.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::engine {

class SimPath;

class SimConnection {
  public:
    // Connects to `socket` and declares the nexus. Errors name the socket (ENOENT: is prsim
    // running?).
    static Result<std::unique_ptr<SimConnection>> open(Ring& ring, CompletionSink& sink,
                                                       const std::string& socket,
                                                       const std::string& initiator,
                                                       uint16_t target_port);
    ~SimConnection();

    // A path for one LUN of this connection (the connection must outlive its paths).
    Result<std::unique_ptr<SimPath>> path(uint32_t lun);
    const sim::proto::HelloAck& info() const { return ack_; }
    const std::string& socket() const { return socket_; }
    bool dead() const { return dead_; }

  private:
    friend class SimPath;
    SimConnection(Ring& ring, CompletionSink& sink) : ring_(ring), sink_(sink) {}
    Status submit(SimPath* path, uint64_t tag, const ScsiRequest& req);
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

    struct Pending {
        SimPath* path;
        uint64_t start_ns;
    };

    Ring& ring_;
    CompletionSink& sink_;
    int fd_ = -1;
    std::string socket_;
    sim::proto::HelloAck ack_;
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
    uint32_t lun() const { return lun_; }

  private:
    friend class SimConnection;
    SimPath(SimConnection& c, uint32_t lun, std::string name)
        : conn_(c), lun_(lun), name_(std::move(name)) {}
    SimConnection& conn_;
    uint32_t lun_;
    std::string name_;
    unsigned in_flight_ = 0;
};

}  // namespace prfence::engine
