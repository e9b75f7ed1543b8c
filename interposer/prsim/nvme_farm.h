// SPDX-License-Identifier: MIT
// prsim's NVMe subsystem: the farm's namespaces (NSIDs 1..N, one NvmePrState each, in one
// subsystem with one NQN), the controllers of the connections that declared an NVMe host, and every
// NVMe command between its arrival and its answer.
//
// Controllers follow the dynamic controller model of NVMe over Fabrics targets: each connection
// with an NVMe host gets its own controller id (1, 2, ...; an id is reused only after FFEFh and
// only when free); registrations belong to the host identifier, so two connections of one host
// are one registrant. The notification log belongs to the controller, as nvmet's does: one
// NvmeNotificationLog of 64 entries per controller, shared by every namespace (each entry names
// its NSID); a host's new connection starts with an empty log, as a new controller does. An entry
// that does not fit is lost and counted, and the dmesg stream gets nvmet's line for it ("nvmet: a
// reservation log lost, cntlid:N, log_type:T, nsid:N"). In trace lines a host's controller is
// nvmeN with N numbered per host identifier in order of first connection (stable, like the SCSI
// host numbers), and its namespaces nvmeNnNSID.
//
// What a command does (NVM Command Set and Base specification, as Linux's nvmet answers):
//  - I/O queue: Reservation Register / Report / Acquire / Release (0Dh, 0Eh, 11h, 15h), decoded
//    with the wire codec and executed on the namespace's NvmePrState, the Report encoded with the
//    codec; Read (02h), Write (01h) and Flush (00h) checked against the reservation (reads return
//    zeros, writes are discarded after the check; LBA Out of Range past the end). An NSID outside
//    1..N is Invalid Namespace or Format; other opcodes Invalid Command Opcode.
//  - Admin queue: Identify Controller / Namespace (CNS 1 / 0, RESCAP FEh as nvmet), Get Log Page
//    80h (Reservation Notification: the oldest entry of this controller's log, of any namespace,
//    whatever the command's NSID), Get Features 81h (the host identifier; EXHID must be set), 82h
//    (the namespace's notification mask), 83h (persistence: 0), Set Features 82h, and Set Features
//    81h answered Command Sequence Error as a fabrics controller does. Other admin opcodes: Invalid
//    Command Opcode.
// Every error status carries DNR, as nvmet sets it.
//
// Waiting commands, as the SCSI task set's: a latency fault delays a command before it executes; a
// lost_path or timeout fault holds it until its client aborts it (ABORT frame: Command Abort
// Requested, flag 02h) or leaves. A successful Preempt and Abort aborts the preempted hosts'
// waiting commands to the same namespace with Command Abort Requested (flag 01h) before it is
// answered itself (nvmet instead waits for them to complete; a held command never would).
// Faults select NVMe commands by `luns=` (the namespace index, NSID - 1; admin commands count as
// namespace index NSID - 1 too, or 0 for NSID 0 / FFFFFFFFh) and by class (reservation Report:
// pr_in, the other reservation commands: pr_out, Read: read, Write and Flush: write, admin:
// other); faults naming a host, port or initiator never select them. latency, lost_path, timeout
// (with executed=true too) and not_ready (Namespace Not Ready, no DNR) apply; busy,
// task_set_full, answer and unit_attention leave NVMe commands alone.
//
// Contract: single-threaded (the server's loop thread), except the counters. Time comes from the
// caller (arrival, due times); trace timestamps from monotonic_ns() / ServerConfig::trace_clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "interposer/lu/nvme_pr_state.h"
#include "interposer/prsim/config.h"
#include "interposer/prsim/faults.h"
#include "interposer/prsim/nvme_trace.h"
#include "interposer/prsim/trace.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/simproto/protocol.h"

namespace prfence::sim {

// The derived identifiers of namespace `nsid` (config.h, NvmeOptions).
uint64_t nvme_eui64(uint32_t nsid);
std::array<uint8_t, 16> nvme_nguid(uint32_t nsid);

class NvmeFarm {
  public:
    class Clients {
      public:
        virtual ~Clients() = default;
        virtual bool connected(uint64_t conn) const = 0;
        // One NVME_RESPONSE (nothing when the connection is gone).
        virtual void respond_nvme(uint64_t conn, uint64_t tag, uint16_t status, uint64_t result,
                                  ByteView data_in, uint8_t flags) = 0;
    };

    // cfg.nvme.namespaces namespaces; trace and dmesg may be null.
    NvmeFarm(const ServerConfig& cfg, FaultTable& faults, TraceSink* trace, TraceSink* dmesg,
             Clients& clients);

    uint32_t namespace_count() const { return static_cast<uint32_t>(ns_.size()); }
    // A connection declared an NVMe host: its controller id (also attached to every namespace).
    uint16_t attach(uint64_t conn, const proto::NvmeHost& host);
    // The connection ended: its waiting commands are forgotten unanswered, its controller detached.
    void close(uint64_t conn);
    bool attached(uint64_t conn) const { return ctrls_.count(conn) != 0; }
    bool in_flight(uint64_t conn, uint64_t tag) const;
    size_t outstanding(uint64_t conn) const;

    // A command arrived on an attached connection. The caller checked the tag is not in flight and
    // the frame's queue, flags and data-in length.
    void submit(uint64_t conn, const proto::NvmeCommandView& cmd, int64_t now_ns);
    // The client's ABORT: Command Abort Requested, flag 02h. Nothing for a tag not waiting.
    void abort(uint64_t conn, uint64_t tag);
    void run_due(int64_t now_ns);
    std::optional<int64_t> next_due() const;

    // The subsystem for `prsim ctl nvme`: subnqn, every namespace's reservation state, every
    // controller (cntlid, hostnqn, hostid as 32 hex digits, trace instance).
    nlohmann::json describe() const;
    // The namespace's state (tests, control); nsid 1..namespace_count().
    NvmePrState& state(uint32_t nsid) { return *ns_.at(nsid - 1); }
    // The notification log of a connection's controller (tests); nullptr when not attached.
    const NvmeNotificationLog* log(uint64_t conn) const {
        auto it = ctrls_.find(conn);
        return it == ctrls_.end() ? nullptr : &it->second.log;
    }

    uint64_t commands() const { return commands_.load(std::memory_order_relaxed); }
    uint64_t aborted() const { return aborted_.load(std::memory_order_relaxed); }
    uint64_t held() const { return held_.load(std::memory_order_relaxed); }

  private:
    struct Ctrl {
        uint16_t cntlid = 0;
        int instance = 0;  // the trace's nvmeN: one per host, in order of first connection
        proto::NvmeHost host;
        std::unordered_map<uint64_t, uint64_t> tags;  // client tag -> pending id
        std::vector<bool> slots;                      // command ids in use
        NvmeNotificationLog log;                      // log page 80h, every namespace's entries
    };
    struct Cmd {
        uint64_t conn = 0;
        uint64_t tag = 0;
        uint8_t queue = 1;
        uint8_t opcode = 0;
        uint32_t nsid = 0;
        std::array<uint32_t, 6> cdw{};
        Bytes data_out;
        uint32_t data_in_len = 0;
        int cid = 0;
        int64_t arrival_ns = 0;
        Decision decision;
        bool held = false;
        uint64_t id = 0;
    };
    struct Answer {
        uint16_t status = 0;
        uint64_t result = 0;
        Bytes data;
        std::vector<wire::nvme::HostId> aborted;  // Preempt and Abort's victims
    };

    Answer execute(const Ctrl& c, const Cmd& cmd);
    Answer admin(const Ctrl& c, const Cmd& cmd);
    Answer io(const Ctrl& c, const Cmd& cmd);
    // Runs cmd as decided and answers it; false when its answer is lost (executed, held).
    bool run(Cmd& cmd);
    void finish(Cmd& cmd, uint16_t status, uint64_t result, ByteView data, uint8_t flags);
    void abort_hosts(uint32_t nsid, const std::vector<wire::nvme::HostId>& hosts, uint64_t except);
    void forget(uint64_t id);
    // Queues a reservation command's notifications on the logs of the controllers they name.
    void queue_notifications(const NvmePrResult& r, uint32_t nsid);
    // The fields both trace lines share; `disk` holds the disk name the event's view points at.
    NvmeTraceEvent trace_event(const Ctrl& c, const Cmd& cmd, std::string& disk) const;
    void trace_setup(const Ctrl& c, const Cmd& cmd);
    void trace_complete(const Ctrl& c, const Cmd& cmd, uint16_t status, uint64_t result);
    int64_t trace_now() const;
    int trace_cpu() const;

    const ServerConfig& cfg_;
    FaultTable& faults_;
    TraceSink* trace_;
    TraceSink* dmesg_;
    Clients& clients_;
    std::vector<std::unique_ptr<NvmePrState>> ns_;
    std::unordered_map<uint64_t, Ctrl> ctrls_;   // by connection
    std::vector<wire::nvme::HostId> instances_;  // host identifiers by trace instance
    uint16_t next_cntlid_ = 1;
    std::unordered_map<uint64_t, Cmd> pending_;
    uint64_t next_id_ = 1;
    std::vector<std::pair<int64_t, uint64_t>> heap_;  // min-heap of (due, pending id)
    std::string text_;
    std::atomic<uint64_t> commands_{0}, aborted_{0}, held_{0};
};

}  // namespace prfence::sim
