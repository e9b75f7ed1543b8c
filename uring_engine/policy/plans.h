// SPDX-License-Identifier: MIT
// Plans: what prfence does to each LUN, as LunJobs for the executor. One job per LUN; each job is a
// short sequence of commands whose next step depends on the last answer.
//
//   read     PR IN (keys, reservation, capabilities, full status); re-issued larger when the answer
//            was truncated by the allocation length.
//   prout    one PR OUT service action. REGISTER-type actions go down every path of the LU (each
//            path is its own I_T nexus), or once with ALL_TG_PT when asked to and REPORT
//            CAPABILITIES says the LU supports it; every other action goes down one path.
//   fence    READ KEYS; PREEMPT (AND ABORT) of the victim's key; READ RESERVATION to verify that
//            the victim no longer holds the LU. A victim already gone is success ("already
//            fenced"), our own key missing is a failure (we cannot preempt without being
//            registered).
//            With claim (a fence agent's fence): REGISTER AND IGNORE EXISTING KEY with our key
//            on every path first, and RESERVE when nobody holds the LU after the preempt.
//   unfence  REGISTER AND IGNORE EXISTING KEY on every path; READ RESERVATION; RESERVE when nobody
//            holds the LU. Idempotent: run again, it changes nothing (a cluster re-runs it after
//            every configuration change).
//   verify   READ KEYS (the victim's key absent, ours present) and READ RESERVATION (held, and
//            not by the victim): is the fence in place? Changes nothing.
//   takeover REGISTER AND IGNORE EXISTING KEY on every path; READ RESERVATION; PREEMPT AND ABORT of
//            whoever holds the LU (SA key 0 for an all-registrants reservation), or RESERVE when
//            nobody does; READ RESERVATION to verify. This is the deliberate break-in (AIX's forced
//            open).
//
// Dead paths (policy/path_failure.h): "on every path" skips a path whose command failed as a path
// and goes on down the next; the LU is ok when at least one nexus took the registration (degraded
// when a path died), and fails with "every path is dead: ..." when none did. A command that goes
// down one path goes again down the next path not known dead; the commands after it stay there.
// Single-path commands start on the first path, or, after a registration, on the first path that
// took it. LunOutcome::paths says what each path did.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "uring_engine/policy/executor.h"
#include "uring_engine/wire/pr_types.h"
#include "uring_engine/wire/prout.h"

namespace prfence::engine {

struct PlanOptions {
    uint32_t timeout_ms = 20000;  // per command, passed to the transport
    bool all_tg_pt = false;       // register once with ALL_TG_PT (when the LU reports ATP_C)
    bool aptpl = false;
    bool abort = true;  // fence/takeover: PREEMPT AND ABORT (else PREEMPT)
};

std::unique_ptr<LunJob> make_read_job(wire::PrInAction what, const PlanOptions& opt);

struct ProutSpec {
    wire::PrOutAction action = wire::PrOutAction::register_key;
    wire::PrType type = wire::PrType::none;
    wire::ProutParams params;    // key / sa_key / flags / TransportIDs
    wire::ProutMoveParams move;  // REGISTER AND MOVE only
};
std::unique_ptr<LunJob> make_prout_job(const ProutSpec& spec, const PlanOptions& opt);

std::unique_ptr<LunJob> make_fence_job(uint64_t key, uint64_t victim, wire::PrType type,
                                       const PlanOptions& opt, bool claim = false);
std::unique_ptr<LunJob> make_unfence_job(uint64_t key, wire::PrType type, const PlanOptions& opt);
// Either key may be absent: then it is not checked.
std::unique_ptr<LunJob> make_verify_job(std::optional<uint64_t> key, std::optional<uint64_t> victim,
                                        const PlanOptions& opt);
std::unique_ptr<LunJob> make_takeover_job(uint64_t key, wire::PrType type, const PlanOptions& opt);
// Can this nexus do I/O here? READ CAPACITY(10), READ(10) of block 0, then SYNCHRONIZE CACHE(10): a
// command every reservation type treats as a write, and one that changes no data. ok = both allowed
// (note "read and write access"); a RESERVATION CONFLICT on the read fails at READ(10) (the LU
// excludes us entirely: Exclusive Access types), on SYNCHRONIZE CACHE with reads allowed (Write
// Exclusive types). What the victim of a fence runs to see for itself that it is fenced, and what a
// demo runs as "I/O".
std::unique_ptr<LunJob> make_probe_job(const PlanOptions& opt);

// The same job for every LUN.
template <class F>
std::vector<std::unique_ptr<LunJob>> jobs_for(size_t n, F make) {
    std::vector<std::unique_ptr<LunJob>> v;
    v.reserve(n);
    for (size_t i = 0; i < n; ++i) v.push_back(make());
    return v;
}

}  // namespace prfence::engine
