// SPDX-License-Identifier: MIT
// The farm's task sets: every command between its arrival and its answer.
//
// A command arriving on a connection gets a driver tag (a slot; none free: TASK SET FULL) and the
// fault table's decision. It then executes on its LU at once, or waits: in the timer heap for a
// latency fault, or held (timeout and lost-path faults; or executed with its answer lost) until its
// client aborts it or leaves, or a PREEMPT AND ABORT aborts it. A PREEMPT AND ABORT aborts the
// preempted nexuses' waiting commands on its own LU only (SPC-4 5.13.11.2.4), each answered TASK
// ABORTED (as with TAS=1) before the PREEMPT AND ABORT itself, in arrival order; a delayed PREEMPT
// AND ABORT never aborts itself. Every answer also becomes a trace event (trace.h): the completion
// line, and for RESERVATION CONFLICT the kernel's dmesg lines (to the dmesg sink, or the trace sink
// when there is none).
//
// Contract: single-threaded (the server's loop thread), except the counters, which any thread may
// read. The task set owns the waiting commands and each connection's tags and slots; it references
// the LUs, the fault table, the trace sinks, the configuration and the nexus records of the
// commands it holds, which must outlive it. Answers go out through Clients, which must not call
// back into the task set. No sockets: time is given by the caller (arrival and due times) except
// the trace's timestamps and command ages, taken from monotonic_ns() and ServerConfig::trace_clock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "interposer/lu/lu.h"
#include "interposer/prsim/config.h"
#include "interposer/prsim/faults.h"
#include "interposer/prsim/nexus_registry.h"
#include "interposer/prsim/trace.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/simproto/protocol.h"

namespace prfence::sim {

// CLOCK_MONOTONIC in nanoseconds: the clock of arrival times, delays and trace command ages.
int64_t monotonic_ns();

class TaskSet {
  public:
    // The connections the answers go to.
    class Clients {
      public:
        virtual ~Clients() = default;
        // Whether the connection exists and has not been cut off (a command of a connection that
        // is not connected is not executed when it comes due, and an abort is not answered).
        virtual bool connected(uint64_t conn) const = 0;
        // One RESPONSE to the connection (nothing when it is not connected). `host` is the Linux
        // host byte (DID_OK unless an answer fault says otherwise).
        virtual void respond(uint64_t conn, uint64_t tag, uint8_t status, uint8_t host,
                             ByteView sense, ByteView data_in, uint8_t flags) = 0;
    };

    // lus[l] is LU l (cfg.luns of them); trace and dmesg may be null (no trace, or dmesg lines go
    // to trace).
    TaskSet(const ServerConfig& cfg, std::vector<std::unique_ptr<LogicalUnit>>& lus,
            FaultTable& faults, TraceSink* trace, TraceSink* dmesg, Clients& clients);

    // A connection starts (its cfg.limits.max_in_flight slots are free) or ends: its waiting
    // commands are forgotten unanswered (their heap entries are skipped when they come due).
    void open(uint64_t conn);
    void close(uint64_t conn);
    // Whether a tag of this connection is waiting (held or delayed); how many are.
    bool in_flight(uint64_t conn, uint64_t tag) const;
    size_t outstanding(uint64_t conn) const;

    // A command arrived on conn (opened) through nx at now_ns. The caller has checked it: the tag
    // is not in flight, the CDB is 1-16 bytes, alloc_len is at most proto::kMaxDataLen. Answered
    // at once (TASK SET FULL when no slot is free; CHECK CONDITION, ILLEGAL REQUEST, LOGICAL UNIT
    // NOT SUPPORTED for a LUN the farm does not have; the fault's status; the LU's answer), or
    // left waiting.
    void submit(uint64_t conn, NexusRec& nx, const proto::CommandView& cmd, int64_t now_ns);
    // The client's ABORT of one of its waiting commands: answered TASK ABORTED
    // (proto::kRespAbortedByClient). Nothing for a tag that is not waiting.
    void abort(uint64_t conn, uint64_t tag);
    // Executes the delayed commands due at now_ns, earliest first.
    void run_due(int64_t now_ns);
    // When the earliest entry of the timer heap is due (possibly one since aborted); none when the
    // heap is empty.
    std::optional<int64_t> next_due() const;

    // Counters, readable from any thread.
    uint64_t delayed() const { return delayed_.load(std::memory_order_relaxed); }  // ever
    uint64_t held() const { return held_.load(std::memory_order_relaxed); }        // now
    uint64_t aborted() const { return aborted_.load(std::memory_order_relaxed); }  // ever
    // Commands waiting now, held or delayed (loop thread only).
    size_t waiting() const { return pending_.size(); }

  private:
    // A command waiting: for its delay, forever (held), or executed with its answer lost.
    struct Pending {
        uint64_t id = 0;
        uint64_t conn = 0;
        uint64_t tag = 0;
        uint32_t lun = 0;
        const NexusRec* nexus = nullptr;
        NexusId lu_nexus = kNoNexus;
        uint8_t cdb_len = 0;
        std::array<uint8_t, proto::kMaxCdbLen> cdb{};
        Bytes data_out;
        uint32_t alloc_len = 0;
        Decision decision;
        int64_t arrival_ns = 0;
        int slot = 0;
        bool held = false;
    };
    // One command as it executes: just arrived (its bytes in the frame), or out of the table.
    struct TaskView {
        uint64_t conn = 0;
        uint64_t tag = 0;
        uint32_t lun = 0;
        const NexusRec* nexus = nullptr;
        NexusId lu_nexus = kNoNexus;
        ByteView cdb;
        ByteView data_out;
        uint32_t alloc_len = 0;
        int slot = 0;
        int64_t arrival_ns = 0;
        uint64_t pending_id = 0;  // its table id (a delayed command); 0 = none
        // The trace's data length: data-out bytes, or the allocation length.
        uint32_t data_len() const {
            return data_out.empty() ? alloc_len : static_cast<uint32_t>(data_out.size());
        }
    };
    static TaskView view_of(const Pending& p);
    // Per connection: client tag -> pending id for its waiting commands, and the slot bitmap.
    struct Client {
        std::unordered_map<uint64_t, uint64_t> tags;
        std::vector<uint64_t> slots;
    };
    using PendingMap = std::unordered_map<uint64_t, Pending>;

    int alloc_slot(Client& c);
    static void free_slot(Client& c, int slot);
    Client* client(uint64_t conn);
    // Executes t as decided; false when the decision loses the answer (executed, not answered).
    bool execute(const TaskView& t, const Decision& d);
    void emit_trace(const TaskView& t, uint32_t data_len, uint8_t status, ByteView sense);
    void abort_nexuses(uint32_t lun, const std::vector<NexusId>& victims, uint64_t except);
    void finish_pending(uint64_t pid, uint8_t flags);  // answers TASK ABORTED and forgets it
    void forget_pending(PendingMap::iterator it);
    void add_pending(Pending&& p);
    PendingMap::iterator erase_pending(PendingMap::iterator it);

    const ServerConfig& cfg_;
    std::vector<std::unique_ptr<LogicalUnit>>& lus_;
    FaultTable& faults_;
    TraceSink* trace_;
    TraceSink* dmesg_;
    Clients& clients_;

    std::unordered_map<uint64_t, Client> conns_;
    PendingMap pending_;
    // Pending ids per LU: PREEMPT AND ABORT looks at its own LU's task set only. Scanning every
    // pending command instead made fencing 1000 LUs, each with its PREEMPT AND ABORT pending,
    // quadratic (5% of the whole benchmark's CPU).
    std::vector<std::vector<uint64_t>> pending_by_lun_;
    uint64_t next_pending_ = 1;
    std::vector<std::pair<int64_t, uint64_t>> heap_;  // min-heap of (due, pending id)
    std::string text_;                                // trace formatting scratch
    std::atomic<uint64_t> delayed_{0}, held_{0}, aborted_{0};
};

}  // namespace prfence::sim
