// SPDX-License-Identifier: MIT
// libprinterpose: this process's I_T nexus to prsim.
//
// One connection per process, shared by every thread and every virtual device of the process. The
// connection declares both identities of the process: its SCSI initiator port and its NVMe host
// (protocol version 2), so one connection carries SCSI and NVMe commands alike. The
// HELLO exchange is SimClient's (uring_engine/simproto/sim_client.h); frames are built and parsed
// with uring_engine/simproto/protocol.h. After the handshake a reader thread owns the receiving
// side: it matches RESPONSE frames to requests by tag, enforces every request's deadline (ABORT +
// DID_TIME_OUT, as the SCSI midlayer's error handler would), and when the connection dies
// completes everything in flight with DID_NO_CONNECT, so no caller ever waits longer than its own
// timeout.
//
// Unit attentions: a new I_T nexus meets POWER ON (29h/xx; LIO profile: 3Fh/0Eh) on its first
// command to each LU. On a real system the kernel's device scan consumes it before any tool opens
// the device, so the first such unit attention this process meets on an LU, before the LU has
// answered it anything else, is absorbed and the command sent again (Config::absorb_initial_ua).
// Internal requests (the block-device read and write paths, capacity) retry every unit attention a
// few times, as the midlayer does for filesystem I/O. Every other unit attention reaches the tool.
#pragma once

#include <pthread.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "uring_engine/simproto/names.h"
#include "uring_engine/simproto/protocol.h"
#include "uring_engine/wire/status.h"

namespace prfence::shim {

namespace proto = prfence::sim::proto;

// Linux host bytes the shim reports (include/scsi/scsi_status.h), as the engine names them.
inline constexpr uint8_t kDidOk = prfence::wire::did::ok;
inline constexpr uint8_t kDidNoConnect = prfence::wire::did::no_connect;
inline constexpr uint8_t kDidTimeOut = prfence::wire::did::time_out;
inline constexpr uint8_t kDidError = prfence::wire::did::error;

struct Command {
    // An NVMe command (nvme set) instead of a CDB: sent as NVME_COMMAND, answered in
    // Outcome::nvme_status / nvme_result.
    bool is_nvme = false;
    proto::NvmeCommand nvme;
    uint32_t lun = 0;
    uint8_t cdb[16] = {};
    uint8_t cdb_len = 0;
    std::vector<uint8_t> data_out;
    uint32_t alloc_len = 0;  // data-in bytes accepted
    int timeout_ms = 60000;
};

// How a command ended: the device's answer, or the transport's failure in `host`.
struct Outcome {
    uint8_t status = 0;  // SAM status
    uint8_t host = kDidOk;
    std::vector<uint8_t> sense;
    std::vector<uint8_t> data_in;
    uint32_t duration_ms = 0;
    uint16_t nvme_status = 0;  // NVMe commands: the status word (host = kDidOk), and the result
    uint64_t nvme_result = 0;
};

enum class UaPolicy : uint8_t {
    passthrough,  // SG_IO / sg write(): only the nexus's initial unit attention is absorbed
    internal,     // block-device I/O the shim issues itself: unit attentions are retried
};

class Conn {
  public:
    using Done = std::function<void(Outcome&&)>;

    // Connects and says HELLO; nullptr with `err` set when prsim cannot be reached or refuses.
    static Conn* open(const Config& cfg, std::string& err);

    uint32_t lun_count() const { return ack_.lun_count; }
    const proto::HelloAck& ack() const { return ack_; }
    bool dead() const;
    // Why the connection died (empty while alive).
    std::string death_reason() const;

    // Runs one command and waits for it (never longer than its timeout).
    Outcome execute(const Command& cmd, UaPolicy policy);
    // Submits one command; done runs exactly once, on the reader thread (or on this thread when the
    // connection is already dead).
    void submit(const Command& cmd, UaPolicy policy, Done done);

    // In a forked child: the parent's connection is not ours. Closes this process's copies of its
    // descriptors; the object is abandoned (it may hold locks of threads that no longer exist).
    void abandon_in_child();

  private:
    struct Request {
        Command cmd;
        UaPolicy policy = UaPolicy::passthrough;
        int ua_retries = 0;
        uint64_t tag = 0;
        int64_t start_ns = 0;
        int64_t deadline_ns = 0;
        Done done;
    };

    Conn() = default;
    static void* reader_main(void* self);
    void reader_loop();
    // Inserts and sends; on a send failure the request is completed with DID_NO_CONNECT.
    void enqueue(Request* r);
    bool send_frame(const std::vector<uint8_t>& frame);
    void on_response(const proto::ResponseView& v);
    void on_nvme_response(const proto::NvmeResponseView& v);
    void on_rejected(uint64_t tag);
    void expire(int64_t now_ns);
    void die(const std::string& why);
    static void finish(Request* r, Outcome&& o);

    int fd_ = -1;
    int wake_fd_ = -1;  // eventfd: a request was queued while the reader slept without deadline
    proto::HelloAck ack_;
    bool absorb_initial_ua_ = true;
    std::string socket_;

    std::mutex send_mu_;     // one frame at a time on the socket
    mutable std::mutex mu_;  // everything below
    std::unordered_map<uint64_t, Request*> pending_;
    std::set<std::pair<int64_t, uint64_t>> deadlines_;
    std::vector<uint8_t> seen_;  // per LU: an answer that reports unit attentions came back
    uint64_t next_tag_ = 1;
    bool dead_ = false;
    std::string death_;
};

// CLOCK_MONOTONIC in nanoseconds.
int64_t now_ns();

}  // namespace prfence::shim
