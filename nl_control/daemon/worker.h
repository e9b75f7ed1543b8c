// SPDX-License-Identifier: MIT
// The engine thread: owns every LUN group (its device arguments, its engine::Session with every
// path held open, the PR state last read) and runs the jobs the control thread hands it, one at a
// time in FIFO order. Anything slow (resolving devices, opening paths, a batch, saving the config)
// happens here, so the control thread answers NOOP, HEALTH, STATS and GROUP_LIST without ever
// waiting behind it.
//
// Results come back as Completions: group info, an error, or for RUN / GROUP_REFRESH the answer's
// messages already encoded. A RUN's LUN results are encoded here as each LUN finishes and handed
// over in parts while the batch still runs (partial completions), so that encoding and the client's
// decoding overlap the batch instead of following it; the control thread only sends. After each
// completion is queued the `wake` callback is called (the control thread's eventfd).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nl_control/daemon/config.h"
#include "nl_control/protocol/message.h"
#include "uring_engine/session/session.h"

namespace prfence::daemon {

struct Job {
    enum class Kind {
        create,   // CMD_GROUP_CREATE
        add,      // CMD_GROUP_ADD
        remove,   // CMD_GROUP_REMOVE
        del,      // CMD_GROUP_DELETE
        refresh,  // CMD_GROUP_REFRESH: re-resolve, reopen, re-read PR state; answered like CMD_RUN
        run,      // CMD_RUN
        apply,    // startup / reload: make the groups match `config` (create, delete, reopen)
    };
    Kind kind = Kind::run;
    uint64_t client = 0;       // who to answer; 0 = nobody (startup, SIGHUP)
    nl::Request req;           // as decoded (req.hdr is echoed in the answer)
    uint64_t received_ns = 0;  // CLOCK_MONOTONIC when the request arrived (SUM_QUEUED_NS)
    Config config;  // apply: the configuration to apply (its groups and, for saving, the rest)
};

struct Completion {
    Job::Kind kind = Job::Kind::run;
    uint64_t client = 0;
    nl::Header hdr;
    uint64_t received_ns = 0;
    // An error answer (errno, extended-ack text) when err != 0; nothing else is set then.
    int err = 0;
    std::string err_msg;
    // create/add/remove: the group as it is now.
    std::optional<nl::GroupInfo> group;
    // run/refresh: messages of the answer, in order, to send as they are. A partial completion
    // carries LUN parts of a batch still running and nothing else; the final one the rest, the
    // summary part and NLMSG_DONE, with `summary` (group, operation, queued time) for statistics
    // and subscribers. A batch that fails after parts were sent ends with an error completion
    // instead.
    std::vector<Bytes> parts;
    bool partial = false;
    std::optional<nl::Summary> summary;
    // What subscribers hear about (EVENT_GROUP for group changes; OP_DONE is built from `summary`).
    std::vector<nl::Event> events;
    // apply: one line per group that could not be opened (the daemon logs them).
    std::vector<std::string> notes;
    // The last completion: the engine thread has exited (after shutdown()).
    bool exited = false;
};

class EngineWorker {
  public:
    struct Options {
        std::string config_path;  // "" = groups are not persisted
        const std::atomic<bool>* cancel =
            nullptr;                 // set on SIGTERM: the running batch ends cancelled
        std::function<void()> wake;  // a completion is ready
    };
    explicit EngineWorker(Options opt);
    ~EngineWorker();  // shutdown() and join
    EngineWorker(const EngineWorker&) = delete;
    EngineWorker& operator=(const EngineWorker&) = delete;

    void start();
    // Queues a job (FIFO). After shutdown() the job is answered ECANCELED at once.
    void submit(Job job);
    // Queued jobs are answered ECANCELED; the running one finishes (cancelled through
    // Options::cancel if the caller set it); then the thread posts a Completion with `exited` and
    // returns.
    void shutdown();
    std::deque<Completion> take_completions();

    // For the control thread, without waiting for the engine thread.
    std::vector<nl::GroupInfo> groups() const;
    size_t queued() const;
    bool busy() const { return busy_.load(std::memory_order_relaxed); }

  private:
    struct Group {
        GroupConfig cfg;
        std::vector<engine::LunSpec> specs;  // as resolved, in session order (multipathd's maps)
        std::unique_ptr<engine::Session> session;
        std::vector<std::string> problems;
        // The PR state last read (at open, refresh, reload): READ KEYS and READ RESERVATION per
        // LUN.
        std::vector<engine::LunOutcome> keys, reservation;
        engine::BatchSummary keys_summary;
    };

    void loop();
    void post(Completion c);
    Completion execute(Job& job);
    Completion do_create(Job& job);
    Completion do_change(Job& job);  // add / remove
    Completion do_delete(Job& job);
    Completion do_refresh(Job& job);
    Completion do_run(Job& job);
    Completion do_apply(Job& job);
    // Resolves and opens `cfg` into a new Group (problems noted, never fails: a group that cannot
    // be opened is kept with no session) and reads its PR state. `err` is set when resolution
    // failed.
    std::unique_ptr<Group> open_group(const GroupConfig& cfg, Error* err);
    void read_pr_state(Group& g);
    Result<engine::Session::Report> run_on(Group& g, const engine::OpSpec& spec,
                                           const nl::Request* req,
                                           const engine::BatchHooks& hooks = {});
    Status persist();
    void publish();
    static nl::GroupInfo info(const Group& g);
    static nl::Event group_event(const std::string& name, const std::string& text);

    Options opt_;
    std::thread thread_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> jobs_;
    std::deque<Completion> done_;
    bool stopping_ = false;
    std::atomic<bool> busy_{false};
    std::vector<nl::GroupInfo> snapshot_;  // under mu_
    // A finished RUN's outcomes, freed after its answer is posted: destroying a thousand of them
    // takes a tenth of a millisecond the client need not wait for.
    std::vector<engine::LunOutcome> spent_;

    // Engine thread only.
    Config
        config_;  // what is persisted: the file's socket settings and the groups, in creation order
    std::map<std::string, std::unique_ptr<Group>> groups_;
};

// The errno an answer carries for an engine Error: error_errno (sys_error.h), one errno per kind
// and the call's own for Errc::system.
int errno_of(const Error& e);

}  // namespace prfence::daemon
