// SPDX-License-Identifier: MIT
// The sg_persist backend: every workload as a shell loop runs it, one sg_persist process per
// command, LU after LU, each process one clat sample (fork to exit). The engine prepares and arms
// the LUs (unmeasured), so both backends start each round from the same state.
#include "tools/prbench/backend.h"
#include "tools/prbench/process_baseline.h"

namespace prfence::bench {
namespace {

// One baseline round: every LU's steps as sg_persist processes, LU after LU (a step that fails ends
// its LU), timed as a whole into r.wall and per process into r.clat.
void baseline_round(ProcessBaseline& bl, const Config& cfg, const std::vector<Step>& steps,
                    size_t n, Measurement& r) {
    const uint64_t t0 = engine::now_ns();
    for (size_t i = 0; i < n; ++i) {
        uint64_t lun_ns = 0, retries = 0;
        bool bad = false;
        for (const Step& s : steps)
            if (bl.sg_persist(s, cfg.luns[i], &r.clat, &retries, &lun_ns, &r.first_error) != 0) {
                bad = true;
                break;
            }
        r.errors += bad;
        r.retries += retries;
        add_lun_time(r, i, lun_ns);
    }
    const uint64_t wall = engine::now_ns() - t0;
    r.wall.push_back(wall);
    r.runtime_ns += wall;
    r.ops += n;
}

class SgPersistBackend final : public BackendRunner {
  public:
    explicit SgPersistBackend(const Config& cfg) : cfg_(cfg) {}
    Status op(Rig& arm, const Cycle& cyc, Measurement& r) override;
    Status fence(Rig& arm, Measurement& r) override;
    Status pingpong(Rig& arm, Measurement& r) override;

  private:
    const Config& cfg_;
};

Status SgPersistBackend::op(Rig& arm, const Cycle& cyc, Measurement& r) {
    const size_t n = arm.both.size();
    PRF_TRY(prep_cycle(cfg_, arm, cyc));  // with the engine: not what is measured
    ProcessBaseline bl{cfg_};
    const uint64_t t0 = engine::now_ns();
    // Warm-up: the first LU's first --warmup cycles (the binary and its libraries into the page
    // cache).
    for (size_t i = 0; i < n; ++i) {
        const unsigned cycles = cfg_.baseline_iterations + (i == 0 ? cfg_.warmup : 0);
        for (unsigned c = 0; c < cycles; ++c) {
            const bool warm = i == 0 && c < cfg_.warmup;
            for (const Step& s : cyc.cycle) {
                std::vector<uint64_t> samples;
                uint64_t lun_ns = 0, retries = 0;
                int rc =
                    bl.sg_persist(s, cfg_.luns[i], &samples, &retries, &lun_ns, &r.first_error);
                if (!s.measured) continue;
                if (warm) {
                    ++r.warmup;
                    continue;
                }
                ++r.ops;
                r.retries += retries;
                if (rc != 0) ++r.errors;
                for (uint64_t v : samples) {
                    r.clat.push_back(v);
                    add_lun_time(r, i, v);
                }
            }
        }
    }
    r.runtime_ns = engine::now_ns() - t0;  // includes the unmeasured steps of each cycle
    r.note = "one sg_persist process per command (" + std::to_string(cyc.cycle.size()) +
             " per cycle, LU after LU); runtime includes the cycle's other commands";
    return {};
}

Status SgPersistBackend::fence(Rig& arm, Measurement& r) {
    ProcessBaseline bl{cfg_};
    const size_t n = arm.both.size();
    const std::vector<Step> steps{{1, Act::read_keys},
                                  {1, Act::preempt_abort, cfg_.b.key, cfg_.a.key},
                                  {1, Act::read_reservation}};
    for (unsigned round = 0; round < cfg_.baseline_rounds; ++round) {
        PRF_TRY(arm_fence(cfg_, arm));
        baseline_round(bl, cfg_, steps, n, r);
    }
    r.note =
        "3 sg_persist processes per LU (READ KEYS, PREEMPT AND ABORT, READ RESERVATION), LU after "
        "LU";
    return {};
}

Status SgPersistBackend::pingpong(Rig& arm, Measurement& r) {
    ProcessBaseline bl{cfg_};
    const size_t n = arm.both.size();
    PRF_TRY(setup(arm, cfg_, arm.a, {0, Act::takeover, cfg_.a.key}, "preparing (node A takeover)"));
    for (unsigned round = 0; round < cfg_.baseline_rounds; ++round) {
        const int node = round % 2 == 0 ? 1 : 0;
        const uint64_t mine = node ? cfg_.b.key : cfg_.a.key,
                       other = node ? cfg_.a.key : cfg_.b.key;
        const std::vector<Step> steps{{node, Act::register_ignore, mine},
                                      {node, Act::read_reservation},
                                      {node, Act::preempt_abort, mine, other},
                                      {node, Act::read_reservation}};
        baseline_round(bl, cfg_, steps, n, r);
    }
    r.note =
        "4 sg_persist processes per LU (REGISTER AND IGNORE, READ RESERVATION, PREEMPT AND ABORT, "
        "READ RESERVATION)";
    return {};
}

}  // namespace

std::unique_ptr<BackendRunner> make_sg_persist_backend(const Config& cfg) {
    return std::make_unique<SgPersistBackend>(cfg);
}

}  // namespace prfence::bench
