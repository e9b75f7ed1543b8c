// SPDX-License-Identifier: MIT
// The prsim daemon: a farm of virtual LUs (lu/lu.h) served to many client processes over a Unix
// socket.
//
// One thread, one epoll loop: each readable client is read in large chunks and every complete frame
// in the chunk is handled at once; responses accumulate in per-client output buffers that are
// written once per loop iteration. Commands delayed by latency faults wait in a timer heap driven
// by a timerfd; commands that never complete (timeout and lost-path faults) wait until the client
// aborts them, disconnects, or a PREEMPT AND ABORT from another nexus aborts them (answered TASK
// ABORTED, as with TAS=1).
//
// The pieces: nexus_registry.h numbers the I_T nexuses, task_set.h runs the commands (delays,
// holds, aborts, the trace), control.h answers CONTROL requests; server.cpp is the loop and the
// connections.
//
// Each client is cut off alone when it misbehaves (bad frames, a HELLO that names nothing, not
// reading its responses until its output buffer limit is reached); other clients and the LUs are
// unaffected. The library never logs: events worth a line go to ServerConfig::log, which the
// daemon's main prints.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "interposer/prsim/config.h"
#include "uring_engine/common/result.h"

namespace prfence::sim {

struct ServerStats {
    uint64_t connections_accepted = 0;
    uint64_t connections_active = 0;
    uint64_t clients_cut_off = 0;  // protocol errors, output overflow
    uint64_t commands = 0;         // COMMAND frames accepted
    uint64_t responses = 0;
    uint64_t delayed = 0;  // commands that waited in the timer heap
    uint64_t held = 0;     // commands currently held (never completing)
    uint64_t aborted = 0;  // TASK ABORTED answers (PREEMPT AND ABORT or ABORT frames)
    uint64_t trace_dropped_events = 0;
};

class Server {
  public:
    // Builds the LUs (reloading APTPL state), arms the configured faults, opens the trace files and
    // binds the socket (a stale socket file nobody listens on is replaced; a live one is an error).
    static Result<std::unique_ptr<Server>> create(ServerConfig cfg);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves until stop(). Returns an Error only if the event loop itself fails.
    Status run();
    // Makes run() return soon. Async-signal-safe and callable from any thread.
    void stop() noexcept;

    const std::string& socket_path() const;
    uint32_t lun_count() const;
    // A snapshot; safe to call from another thread while run() is going.
    ServerStats stats() const;

    struct Impl;

  private:
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace prfence::sim
