// SPDX-License-Identifier: MIT
// The batch executor: runs one job per logical unit, all concurrently, from the calling thread.
//
// Each LunJob is a small state machine that asks for one command at a time (on one of its LU's
// paths) and sees each answer after the retry policy. The executor bounds commands in flight per
// path (the path's queue depth) and in total, enforces a deadline per command and per batch,
// honours cancellation, and guarantees every LUN an outcome of its own: a LUN that fails never
// hides behind the others.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "uring_engine/model/outcome.h"
#include "uring_engine/policy/retry.h"
#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/transport.h"

namespace prfence::engine {

// One LU as the executor sees it: a name for reports and the paths to it (all open, kept open).
struct LunTarget {
    std::string name;
    std::vector<Path*> paths;
};

class LunJob {
  public:
    struct Command {
        unsigned path = 0;  // index into LunTarget::paths
        ScsiRequest req;
        // Not submitted before this now_ns() time (0: at once). prbench's paced mode schedules
        // commands with it; the wait is an executor timer, so other LUNs' commands go on meanwhile.
        uint64_t not_before_ns = 0;
        // Opaque to the engine; copied into this command's CommandRecords (prbench marks the
        // commands it measures with it).
        uint32_t label = 0;
    };
    virtual ~LunJob() = default;
    // First called with last == nullptr; then with the answer (after retries) to the command it
    // returned. Returns the next command, or nullopt when the job is finished (its outcome then
    // final).
    virtual std::optional<Command> step(const LunTarget& lun, const ScsiResponse* last) = 0;
    LunOutcome& outcome() { return outcome_; }

  protected:
    LunOutcome outcome_;
};

// One command as the executor saw it, when ExecOptions::command_log asks for them: a record per
// completed (or timed-out) submission, retried attempts included, in completion order.
struct CommandRecord {
    uint32_t lun = 0;            // index into the batch
    uint32_t label = 0;          // LunJob::Command::label
    uint8_t opcode = 0;          // CDB byte 0 (5Eh PR IN, 5Fh PR OUT)
    uint8_t service_action = 0;  // CDB byte 1, low 5 bits
    uint8_t status = 0;          // SAM status of the answer
    bool timed_out = false;      // the engine's command deadline passed first
    bool retried = false;    // the retry policy sent this command again (UNIT ATTENTION, BUSY, ...)
    int sys_errno = 0;       // the transport could not carry it
    uint64_t submit_ns = 0;  // now_ns() right after Path::submit returned
    uint64_t complete_ns = 0;  // now_ns() when the executor received the completion
    uint64_t transport_ns =
        0;  // ScsiResponse::latency_ns (the transport's own submission to completion)
};

struct ExecOptions {
    unsigned max_inflight = 1024;  // commands in flight across all paths
    std::chrono::milliseconds batch_deadline{60000};
    // Engine-side limit per command, on top of the transport's own timeout (sg times out in the
    // kernel; a sim path that never answers is caught here).
    std::chrono::milliseconds command_deadline{30000};
    RetryPolicy retry;
    const std::atomic<bool>* cancel = nullptr;  // set from another thread or a signal handler
    // When set, every command's record is appended here (see CommandRecord). Off by default: the
    // CLI and the daemon only need BatchSummary's percentiles.
    std::vector<CommandRecord>* command_log = nullptr;
};

// Lets a caller see a batch's results while it runs (prfenced streams them to its client). Both are
// called on the thread running the batch, between two turns of the ring, and must not block.
struct BatchHooks {
    // Once per LUN, the moment its outcome is final (batch index, that outcome), while the other
    // LUNs' commands still run.
    std::function<void(uint32_t, const LunOutcome&)> finished;
    // On every turn of the batch loop, before waiting for completions, with now_ns(). Returns the
    // now_ns() time by which it wants to be called again (0: no wish); the wait is cut short for
    // it.
    std::function<uint64_t(uint64_t)> idle;
};

class Executor final : public CompletionSink {
  public:
    Executor(Ring& ring, ExecOptions opt = {});

    // Runs jobs[i] against luns[i] until every job has finished, the batch deadline passes or
    // cancel is set. Unfinished jobs get a timeout / cancelled outcome (and `hooks.finished` then).
    // Errors are only for the ring itself failing.
    Result<BatchSummary> run(const std::vector<LunTarget>& luns,
                             std::vector<std::unique_ptr<LunJob>>& jobs,
                             const BatchHooks& hooks = {});

    void on_complete(uint64_t tag, ScsiResponse&& rsp) override;
    const ExecOptions& options() const { return opt_; }
    // Replaces the options for the batches that follow: prfenced keeps one Executor per LUN group
    // and applies each request's deadline, queue depth and command timeout to its batch. Not during
    // run().
    void set_options(ExecOptions opt) { opt_ = std::move(opt); }

  private:
    struct LunState {
        bool done = false;
        bool waiting = false;    // a command is in flight
        uint64_t serial = 0;     // serial of the command in flight
        uint64_t submit_ns = 0;  // when the command in flight was submitted
        std::optional<LunJob::Command> cmd;
        unsigned ua_retries = 0, transient_retries = 0;
        uint64_t first_submit_ns = 0;
        uint64_t deadline_ns = 0;
    };
    struct Timer {
        uint64_t at_ns;
        uint32_t lun;
        uint64_t serial;  // 0 = retry timer, else a command deadline for that serial
        bool operator>(const Timer& o) const { return at_ns > o.at_ns; }
    };

    void advance(uint32_t lun, const ScsiResponse* last);
    void finished(uint32_t lun);
    void try_submit(uint32_t lun);
    void pump_ready();
    void deliver(uint32_t lun, ScsiResponse&& rsp);
    void finish_unfinished(wire::Category why, const char* text);
    void fire_timers(uint64_t now);
    void log_command(uint32_t lun, const ScsiResponse& rsp, bool retried);

    Ring& ring_;
    ExecOptions opt_;
    uint64_t next_serial_ = 1;
    // Per-batch state (valid during run()).
    const std::vector<LunTarget>* luns_ = nullptr;
    std::vector<std::unique_ptr<LunJob>>* jobs_ = nullptr;
    const BatchHooks* hooks_ = nullptr;
    std::vector<LunState> state_;
    std::queue<uint32_t> ready_;
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
    size_t remaining_ = 0;
    unsigned inflight_ = 0;
    std::vector<uint64_t> latencies_;
    uint64_t commands_ = 0, retries_ = 0;
};

}  // namespace prfence::engine
