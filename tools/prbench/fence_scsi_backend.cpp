// SPDX-License-Identifier: MIT
// The fence_scsi backend: fence-agents' fence_scsi --action=off, one process for every LU (it runs
// sg_turs and sg_persist per device itself), timed from fork to exit; then the engine verifies that
// node B holds every LU, as prfence's fence plan does. It only fences.
#include <filesystem>

#include "tools/prbench/backend.h"
#include "tools/prbench/process_baseline.h"

namespace prfence::bench {
namespace {

class FenceScsiBackend final : public BackendRunner {
  public:
    explicit FenceScsiBackend(const Config& cfg) : cfg_(cfg) {}
    Status op(Rig&, const Cycle&, Measurement&) override { return only_fences(); }
    Status fence(Rig& arm, Measurement& r) override;
    Status pingpong(Rig&, Measurement&) override { return only_fences(); }

  private:
    static Status only_fences() {
        return fail(Errc::unsupported, "fence_scsi only fences (workload fence)");
    }
    const Config& cfg_;
};

Status FenceScsiBackend::fence(Rig& arm, Measurement& r) {
    ProcessBaseline bl{cfg_};
    const size_t n = arm.both.size();
    std::string devs;
    for (size_t i = 0; i < n; ++i) {
        const std::string d = bl.block_dev(1, cfg_.luns[i]);
        if (d.empty()) {
            r.skipped = true;
            r.note =
                "fence_scsi needs block devices (sd nodes); " + cfg_.luns[i].name + " has none";
            return {};
        }
        devs += (devs.empty() ? "" : ",") + d;
    }
    auto run_fs = [&](const std::string& action, uint64_t key) {
        std::vector<std::string> argv = bl.wrap(1, cfg_.luns[0]);
        argv.push_back(cfg_.fence_scsi);
        argv.push_back("--action=" + action);
        argv.push_back("--key=" + hx(key));
        argv.push_back("--devices=" + devs);
        return spawn_and_wait(argv, bl.env(1, cfg_.luns[0], &r.first_error));
    };
    // Without the shim (real LUNs) fence_scsi writes this host's own /var/run/cluster.{key,dev}:
    // never on a host that has them already (a cluster node's fencing state), and removed again
    // after.
    const bool real = !bl.env(1, cfg_.luns[0], nullptr);
    if (real) {
        for (const char* f : {"/var/run/cluster.key", "/var/run/cluster.dev"})
            if (std::filesystem::exists(f)) {
                r.skipped = true;
                r.note = std::string("fence_scsi would overwrite this host's ") + f +
                         " (a cluster node's fencing state)";
                return {};
            }
    }
    struct Cleanup {
        bool on;
        ~Cleanup() {
            if (!on) return;
            std::error_code ec;
            std::filesystem::remove("/var/run/cluster.key", ec);
            std::filesystem::remove("/var/run/cluster.dev", ec);
        }
    } cleanup{real};
    // Node B unfences itself once: registers and stores its key where fence_scsi -o off reads it
    // (/var/run/cluster.key), as on a cluster node.
    PRF_TRY(arm_fence(cfg_, arm));
    SpawnResult on = run_fs("on", cfg_.b.key);
    if (on.exit_code != 0) {
        r.skipped = true;
        r.note = "fence_scsi --action=on failed (exit " + std::to_string(on.exit_code) +
                 "): " + last_line(on);
        return {};
    }
    std::vector<Step> check{{1, Act::read_reservation}};
    PRF_TRY(compile(check, cfg_));
    for (unsigned round = 0; round < cfg_.baseline_rounds; ++round) {
        PRF_TRY(arm_fence(cfg_, arm));
        SpawnResult off = run_fs("off", cfg_.a.key);
        r.wall.push_back(off.elapsed_ns());
        r.runtime_ns += off.elapsed_ns();
        r.ops += n;
        if (off.exit_code != 0) {
            r.errors += n;
            if (r.first_error.empty())
                r.first_error = "fence_scsi --action=off exit " + std::to_string(off.exit_code) +
                                ": " + last_line(off);
            continue;
        }
        // Verify as prfence does: node B holds every LU now.
        PRF_TRY_ASSIGN(BatchOut b,
                       batch(arm, arm.b, check[0].make, exec_options(cfg_, 1024, nullptr)));
        for (const auto& o : b.outcomes)
            if (!o.ok || !o.reservation || !o.reservation->reserved ||
                o.reservation->key != cfg_.b.key) {
                ++r.errors;
                if (r.first_error.empty())
                    r.first_error =
                        o.device + ": node B does not hold the reservation after fence_scsi";
            }
    }
    r.note =
        "one fence_scsi --action=off process for all LUs (it runs sg_turs and sg_persist per "
        "device); per-command times not visible";
    return {};
}

}  // namespace

std::unique_ptr<BackendRunner> make_fence_scsi_backend(const Config& cfg) {
    return std::make_unique<FenceScsiBackend>(cfg);
}

}  // namespace prfence::bench
