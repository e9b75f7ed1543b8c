// SPDX-License-Identifier: MIT
// Where fence_prfence's batches run: in prfenced, which holds the LU group open (`group=`), or in
// the agent's own process (`devices=`), for nodes without the daemon. Both run an OpSpec on every
// LU of the set in one batch and give one outcome per LU, in the set's order.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tools/fence_prfence/params.h"
#include "uring_engine/common/result.h"
#include "uring_engine/model/operation.h"
#include "uring_engine/model/outcome.h"

namespace prfence::agent {

using Clock = std::chrono::steady_clock;

struct Batch {
    std::vector<engine::LunOutcome> outcomes;  // one per LU, each naming its device
    engine::BatchSummary summary;
    // What went wrong beside the batch, for stderr: the outcomes stand, but the node is left
    // weaker than it should be (multipathd not told our key, so a path that returns is not
    // registered again). One line each, without a prefix.
    std::vector<std::string> warnings;
};

class Backend {
  public:
    virtual ~Backend() = default;
    // Runs `spec` on every LU, ending by `deadline` (LUs still running then report a timeout).
    // An Error when the batch could not run at all: prfenced unreachable or refusing (its
    // message), no device resolved, no io_uring.
    virtual Result<Batch> run(const engine::OpSpec& spec, Clock::time_point deadline) = 0;
    // What `monitor` checks, without I/O to any LU: direct, that every device resolves; daemon,
    // that prfenced answers and has the group. Returns a line describing what was checked.
    virtual Result<std::string> check(Clock::time_point deadline) = 0;
};

// `devices=` given: the engine in this process. Nothing is opened until the first run(). After a
// batch that leaves our key registered (unfence; fence with claim), multipathd is told the key
// for every LU in a dm-multipath map, as prfence and prfenced do (session/multipath_keys.h); a
// map not told is a warning. Each request to multipathd waits at most 2 s, and no longer than
// what is left of the deadline.
std::unique_ptr<Backend> direct_backend(const AgentArgs& args);
// `group=` given: prfenced at args.socket. Connects on first use.
std::unique_ptr<Backend> daemon_backend(const AgentArgs& args);

}  // namespace prfence::agent
