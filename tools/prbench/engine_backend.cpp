// SPDX-License-Identifier: MIT
// The engine backends (uring, sgio, serial): every workload as prfence runs it, one batch over the
// LUs, measured from the executor's command log. The three differ only in the rig they are given
// (sg over io_uring or the SG_IO pool) and in the concurrency the planner gives them (serial: 1).
#include <algorithm>

#include "tools/prbench/backend.h"

namespace prfence::bench {
namespace {

// One measured fence or takeover round into `r`: its batch wall (and, paced, the latency from the
// round's intended start), its commands' submission-to-completion times and each LU's time.
void record_round(Measurement& r, const BatchOut& b, const std::vector<engine::CommandRecord>& log,
                  uint64_t late_ns, size_t ops) {
    r.wall.push_back(b.sum.wall_ns);
    if (late_ns) r.wall_lat.push_back(late_ns);
    r.runtime_ns += b.sum.wall_ns;
    r.ops += ops;
    r.errors += b.failed;
    if (r.first_error.empty()) r.first_error = b.first_error;
    for (const auto& rec : log) {
        r.clat.push_back(rec.complete_ns - rec.submit_ns);
        if (rec.retried) ++r.retries;
    }
    for (size_t i = 0; i < b.outcomes.size(); ++i) add_lun_time(r, i, b.outcomes[i].latency_ns);
}

class EngineBackend final : public BackendRunner {
  public:
    explicit EngineBackend(const Config& cfg) : cfg_(cfg) {}
    Status op(Rig& rig, const Cycle& cyc, Measurement& r) override;
    Status fence(Rig& rig, Measurement& r) override;
    Status pingpong(Rig& rig, Measurement& r) override;

  private:
    const Config& cfg_;
};

Status EngineBackend::op(Rig& rig, const Cycle& cyc, Measurement& r) {
    const size_t n = rig.both.size();
    PRF_TRY(prep_cycle(cfg_, rig, cyc));  // once, unmeasured
    const unsigned iterations =
        cfg_.iterations ? cfg_.iterations
                        : std::max<unsigned>(10, static_cast<unsigned>((2000 + n - 1) / n));
    const unsigned cycles = iterations + cfg_.warmup;
    std::vector<engine::CommandRecord> log;
    log.reserve(static_cast<size_t>(cycles) * n * (cyc.cycle.size() + 1));
    Pacing pace;
    pace.n = n;
    if (cfg_.rate > 0) pace.period_ns = 1e9 / cfg_.rate;
    std::vector<std::unique_ptr<engine::LunJob>> jobs;
    std::vector<CycleJob*> cj;
    for (size_t i = 0; i < n; ++i) {
        auto j = std::make_unique<CycleJob>(cyc.cycle, cycles, &rig.views[2 * i], &pace, i);
        cj.push_back(j.get());
        jobs.push_back(std::move(j));
    }
    rig.ex().set_options(exec_options(cfg_, r.qd, &log));
    pace.t0 = engine::now_ns() + 1000000;  // the first due time, 1 ms from now
    PRF_TRY(rig.ex().run(rig.both, jobs));
    uint64_t first = UINT64_MAX, lastc = 0;
    for (const auto& rec : log) {
        if (rec.label == 0) continue;
        const uint32_t cycle = rec.label - 1;
        if (cycle < cfg_.warmup) {
            if (!rec.retried) ++r.warmup;
            continue;
        }
        const uint64_t clat = rec.complete_ns - rec.submit_ns;
        r.clat.push_back(clat);
        add_lun_time(r, rec.lun, clat);
        first = std::min(first, rec.submit_ns);
        lastc = std::max(lastc, rec.complete_ns);
        if (rec.retried) {
            ++r.retries;
            continue;
        }
        ++r.ops;
        if (pace.period_ns > 0) {
            const uint64_t due = pace.due(rec.lun, cycle);
            r.lat.push_back(rec.complete_ns > due ? rec.complete_ns - due : 0);
        }
    }
    r.runtime_ns = lastc > first ? lastc - first : 0;
    for (CycleJob* j : cj) {
        for (uint32_t c : j->failed_cycles())
            if (c >= cfg_.warmup) ++r.errors;
        if (j->errors() && r.first_error.empty())
            r.first_error = j->outcome().device + ": " + j->outcome().error;
    }
    return {};
}

Status EngineBackend::fence(Rig& rig, Measurement& r) {
    std::vector<Step> f{{1, Act::fence, cfg_.b.key, cfg_.a.key}};
    PRF_TRY(compile(f, cfg_));
    const uint64_t t0 = engine::now_ns();
    for (unsigned round = 0; round < cfg_.warmup + cfg_.rounds; ++round) {
        const uint64_t arm0 = engine::now_ns();
        PRF_TRY(arm_fence(cfg_, rig));
        const uint64_t arm_ns = engine::now_ns() - arm0;
        const bool measured = round >= cfg_.warmup;
        const uint64_t due =
            cfg_.rate > 0 ? t0 + static_cast<uint64_t>(1e9 / cfg_.rate * round) : 0;
        if (due) sleep_until_ns(due);
        std::vector<engine::CommandRecord> log;
        log.reserve(rig.b.size() * 4);
        PRF_TRY_ASSIGN(BatchOut b, batch(rig, rig.b, f[0].make, exec_options(cfg_, r.qd, &log)));
        const uint64_t end = engine::now_ns();
        if (!measured) {
            ++r.warmup;
            continue;
        }
        r.arm.push_back(arm_ns);
        record_round(r, b, log, due ? end - due : 0, rig.b.size());
    }
    return {};
}

Status EngineBackend::pingpong(Rig& rig, Measurement& r) {
    std::vector<Step> t{{0, Act::takeover, cfg_.a.key}, {1, Act::takeover, cfg_.b.key}};
    PRF_TRY(compile(t, cfg_));
    PRF_TRY(setup(rig, cfg_, rig.a, {0, Act::takeover, cfg_.a.key}, "preparing (node A takeover)"));
    const uint64_t t0 = engine::now_ns();
    for (unsigned round = 0; round < cfg_.warmup + cfg_.rounds; ++round) {
        const int node = round % 2 == 0 ? 1 : 0;  // B takes over first
        const bool measured = round >= cfg_.warmup;
        const uint64_t due =
            cfg_.rate > 0 ? t0 + static_cast<uint64_t>(1e9 / cfg_.rate * round) : 0;
        if (due) sleep_until_ns(due);
        std::vector<engine::CommandRecord> log;
        log.reserve(rig.b.size() * 5);
        PRF_TRY_ASSIGN(BatchOut b, batch(rig, node ? rig.b : rig.a, t[node].make,
                                         exec_options(cfg_, r.qd, &log)));
        const uint64_t end = engine::now_ns();
        if (!measured) {
            ++r.warmup;
            continue;
        }
        record_round(r, b, log, due ? end - due : 0, rig.both.size());
    }
    return {};
}

}  // namespace

std::unique_ptr<BackendRunner> make_engine_backend(const Config& cfg) {
    return std::make_unique<EngineBackend>(cfg);
}

}  // namespace prfence::bench
