// SPDX-License-Identifier: MIT
// prfenced's control server: the AF_UNIX SOCK_SEQPACKET control socket, its clients, subscribers,
// statistics, signals and readiness, in front of the engine thread (daemon/worker.h).
//
// Threads. The thread calling run() is the control thread: one epoll loop over the listening
// socket, every client, an eventfd (engine completions, stop() and reload() from other threads)
// and, when asked for, a signalfd for SIGTERM, SIGINT and SIGHUP. It answers GET_FAMILY, NOOP,
// HEALTH, STATS, GROUP_LIST, SUBSCRIBE and CONFLICT itself and never waits on the engine; group
// changes, GROUP_REFRESH and RUN become jobs for the single engine thread, which runs them one at a
// time in arrival order.
//
// Clients. Each has a bounded outgoing queue (DaemonOptions::client_max_*). Answers to a client's
// own requests are always queued; while its queue is over the bound its requests are not read (it
// slows itself down, nobody else). An event for a subscriber whose queue is over the bound drops
// that subscriber: it is sent EVENT_DROPPED (best effort) and disconnected, so a subscriber that
// stops reading never delays anyone's fencing. Malformed input is answered NLMSG_ERROR (EINVAL,
// EMSGSIZE, ...) with an extended-ack text and never closes the connection.
//
// Permissions. SO_PEERCRED at accept: uid 0, or a peer whose gid or supplementary groups include
// the socket's group, may act. Anyone else may ask GET_FAMILY and NOOP; every other request is
// answered EPERM with "permission denied: uid N is neither root nor in group G".
//
// Shutdown (SIGTERM, SIGINT, stop()): the socket stops accepting and is removed, the running batch
// is cancelled (its LUNs report "cancelled" to its client as usual), queued jobs are answered
// ECANCELED, client queues get up to flush_timeout to drain, and run() returns.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "uring_engine/common/result.h"

namespace prfence::daemon {

struct DaemonOptions {
    std::string socket_path;  // "" = the configuration's "socket", else kDefaultSocket
    std::string config_path;  // "" = no file: groups live in memory only
    std::optional<std::string> socket_group;  // name or number; overrides the configuration's
    std::optional<mode_t> socket_mode;        // overrides the configuration's (default 0660)
    // Handle SIGTERM/SIGINT (stop) and SIGHUP (reload) through a signalfd. The caller must have
    // blocked them in every thread first (block_daemon_signals() before any thread starts).
    bool handle_signals = false;
    std::string version = "0";
    // Lines worth a log entry (groups that failed to open, dropped subscribers, reloads). The
    // library itself never prints.
    std::function<void(const std::string&)> log;
    size_t client_max_messages = 4096;
    size_t client_max_bytes = 8u << 20;
    size_t max_clients = 4096;
    std::chrono::milliseconds flush_timeout{1000};
    // After handling anything, the control thread keeps polling its sockets (epoll_wait with a zero
    // timeout) for this long before it sleeps: a burst of requests (create, fence, verify; a
    // harness's health checks) is then served without a scheduler wakeup per request, which on a
    // virtual machine costs 15-30 us each. Idle costs nothing; a busy control plane spends at most
    // this much CPU per request. 0 = always sleep. 100 us outlasts a virtual machine's typical
    // 40-60 us vCPU stall.
    std::chrono::microseconds busy_poll{100};
};

class Daemon {
  public:
    // Loads the configuration (errors name the file) and binds the socket: its parent directory is
    // created (0755) if missing, a stale socket nobody answers on is replaced, a live one is an
    // error, then mode and group are applied. No group is opened yet: run() does that on the engine
    // thread.
    static Result<std::unique_ptr<Daemon>> create(DaemonOptions opt);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Opens the configured groups (re-reading their PR state), tells systemd READY=1 when that is
    // done, and serves until stop()/SIGTERM. Returns once the engine thread has finished and the
    // socket is removed; an Error only if the event loop itself failed.
    Status run();
    // Thread-safe and async-signal-safe: what SIGTERM and SIGHUP do.
    void stop() noexcept;
    void reload() noexcept;
    // True once the configured groups have been opened (what READY=1 announces).
    bool ready() const noexcept;

    const std::string& socket_path() const;

    struct Impl;

  private:
    explicit Daemon(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and the threads it starts afterwards, so
// that the daemon's signalfd receives them. Call first thing in main().
Status block_daemon_signals();

// Puts the calling thread, and every thread it starts afterwards (the engine thread inherits it),
// in SCHED_FIFO at `priority` (1-99) and locks the process's memory (mlockall current and future),
// the way corosync runs: at failover the control loop is not queued behind ordinary work and never
// waits on a page fault. Call before Daemon::run(). Errors: EPERM without CAP_SYS_NICE (or an
// RLIMIT_RTPRIO too low) / CAP_IPC_LOCK (or RLIMIT_MEMLOCK), EINVAL for a priority outside 1-99;
// nothing is changed when it fails.
Status make_realtime(int priority);

}  // namespace prfence::daemon
