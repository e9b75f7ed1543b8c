// SPDX-License-Identifier: MIT
// What one LUN answered, as the operator and a harness need it: ok or not, the worst status and
// sense on the way, the PR answers read, latency and retries. The same struct feeds text tables,
// --json and the daemon's netlink replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "uring_engine/wire/nvme_types.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::engine {

// One path (I_T nexus) of a LU as a batch left it.
struct PathOutcome {
    enum class State : uint8_t {
        unused,      // no command went down it (another path answered)
        answered,    // the LU answered on it (whatever the answer)
        registered,  // a REGISTER-type command succeeded on it
        dead,        // it failed as a path (see policy/path_failure.h), or could not be opened
    };
    std::string name;  // "/dev/sg3", "sim:/run/prsim.sock:17"
    State state = State::unused;
    std::string error;  // dead: why ("host byte DID_NO_CONNECT (no connection)", "open: ...")
};
// "unused", "answered", "registered", "dead".
const char* path_state_name(PathOutcome::State s) noexcept;

struct LunOutcome {
    std::string device;
    bool ok = false;
    bool finished = false;
    wire::Category category = wire::Category::clean;
    std::string step;   // the command that decided the outcome, e.g. "PREEMPT AND ABORT"
    std::string error;  // human text when !ok (or a note when ok, e.g. "already fenced")
    uint8_t status = 0;
    std::optional<wire::Sense> sense;
    int sys_errno = 0;
    bool timed_out = false;
    uint64_t latency_ns = 0;  // first submission to last completion for this LUN
    unsigned commands = 0;
    unsigned retries = 0;

    std::optional<wire::ReadKeys> keys;
    std::optional<wire::ReadReservation> reservation;
    std::optional<wire::Capabilities> caps;
    std::optional<wire::FullStatus> full_status;
    // An NVMe namespace: the last Reservation Report, with what SCSI's answers cannot carry (host
    // identifiers, controller IDs; keys and reservation are also in `keys` / `reservation`).
    std::optional<wire::nvme::ReservationStatus> nvme_report;
    // An NVMe namespace: the NVMe status (Linux's form) of the command that decided the outcome.
    int nvme_status = 0;

    // Every path of the LU, in the order the LU's paths were given (a Session appends the paths
    // that could not be opened). A LU that is ok with a dead path is `degraded`: the operation
    // took effect on the LU (at least one nexus is registered, or another path answered), but a
    // nexus it should have reached was not reached. `error` then notes the dead paths.
    std::vector<PathOutcome> paths;
    bool degraded = false;
};

// A batch as a whole: how many LUs ended ok, the command latency percentiles, why it ended early.
struct BatchSummary {
    size_t luns = 0, ok = 0, failed = 0;
    size_t degraded = 0;  // of the ok ones: with a dead path (LunOutcome::degraded)
    uint64_t wall_ns = 0;
    uint64_t commands = 0, retries = 0;
    // Per-command latency percentiles (submission to completion), nanoseconds.
    uint64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
    wire::Category worst = wire::Category::clean;
    bool deadline_hit = false, cancelled = false;
};

}  // namespace prfence::engine
