// SPDX-License-Identifier: MIT
// prbench's steps: one PR command (or prfence plan) by one node, as an engine operation and as
// sg_persist arguments, and the op workload's cycle of steps for each operation. Every backend runs
// the same steps, so a figure of the engine and one of the sg_persist loop are the same commands.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/prbench/bench.h"
#include "uring_engine/policy/operations.h"

namespace prfence::bench {

enum class Act {
    register_new,     // REGISTER from an unregistered nexus (RK 0, SARK key)
    unregister,       // REGISTER RK key, SARK 0
    register_ignore,  // REGISTER AND IGNORE EXISTING KEY, SARK key (0: unregister whatever is
                      // there)
    reserve,
    release,
    clear,
    preempt,
    preempt_abort,
    read_keys,
    read_reservation,
    caps,
    full_status,
    fence,     // prfence's fence plan (victim = sa_key)
    takeover,  // prfence's takeover plan
};

struct Step {
    int node = 0;  // 0 A, 1 B
    Act act = Act::read_keys;
    uint64_t key = 0, sa_key = 0;
    bool measured = false;
    engine::JobMaker make;  // filled by compile()
};

// The engine operation for a step (keys, the Config's type and command timeout).
engine::OpSpec op_spec(const Step& s, const Config& cfg);
// sg_persist's arguments for a step (the device follows); none for fence and takeover, which are
// prfence plans.
std::vector<std::string> sg_persist_args(const Step& s, const Config& cfg);
// mpathpersist's arguments for a step (the map follows): the same service actions with its long
// options, keys as 0x-prefixed hex; none for the steps it cannot send (fence, takeover).
std::vector<std::string> mpathpersist_args(const Step& s, const Config& cfg);
// A key as sg_persist and fence_scsi read it: hex digits without 0x.
std::string hx(uint64_t k);
// Fills every step's JobMaker; an Error when the engine refuses an operation.
Status compile(std::vector<Step>& steps, const Config& cfg);

struct Cycle {
    std::vector<Step> prep, cycle;
    bool needs_b = false;
};

// Whether the op workload's cycle for `op` needs node B (the preempts: B preempts A).
bool op_needs_node_b(std::string_view op);

// The op workload's cycle for `op`: prep puts every LU into a known state once (A registers with
// REGISTER AND IGNORE and CLEARs everything, then what the operation needs); the cycle repeats with
// exactly one measured step and leaves the LU as it found it. A cycle that needs node B when there
// is none is returned uncompiled, needs_b set. An Error for an unknown operation.
Result<Cycle> op_cycle(const std::string& op, const Config& cfg, bool have_b);

}  // namespace prfence::bench
