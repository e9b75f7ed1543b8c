// SPDX-License-Identifier: MIT
// The blkpr backend: the fence as an operator's C program does it with the kernel's PR ioctls,
// LU after LU, in prbench's own process (blkpr.h: what the kernel and dm-multipath do with each
// ioctl). Node B acts on its block device for the LU: the dm map it was given as, else the first
// path's disk, or the namespace's block device /dev/nvmeXnY (blkpr_fence_nvme: the PR IN ioctls
// instead of SG_IO, no unconditional register). The engine arms every round (unmeasured), as for
// the other backends; wall is the loop over every LU, clat one ioctl or SG_IO command.
#include <algorithm>

#include "tools/prbench/backend.h"
#include "tools/prbench/blkpr.h"
#include "tools/prbench/process_baseline.h"

namespace prfence::bench {
namespace {

class BlkprBackend final : public BackendRunner {
  public:
    explicit BlkprBackend(const Config& cfg) : cfg_(cfg) {}
    Status op(Rig&, const Cycle&, Measurement&) override { return only_fences(); }
    Status fence(Rig& arm, Measurement& r) override;
    Status pingpong(Rig&, Measurement&) override { return only_fences(); }

  private:
    static Status only_fences() {
        return fail(Errc::unsupported, "blkpr only fences (workload fence)");
    }
    const Config& cfg_;
};

Status BlkprBackend::fence(Rig& arm, Measurement& r) {
    const ProcessBaseline bl{cfg_};
    const size_t n = arm.both.size();
    std::vector<std::string> devs;
    std::vector<bool> nvme;
    for (size_t i = 0; i < n; ++i) {
        nvme.push_back(cfg_.luns[i].b.kind == engine::PathSpec::Kind::nvme);
        const BenchLun& l = cfg_.luns[i];
        devs.push_back(l.b_map.empty() ? bl.block_dev(1, l) : l.b_map);
        if (devs.back().empty())
            return fail(Errc::unsupported,
                        l.name + ": node B has no block device for the PR ioctls");
    }
    for (unsigned round = 0; round < cfg_.warmup + cfg_.rounds; ++round) {
        const uint64_t arm0 = engine::now_ns();
        PRF_TRY(arm_fence(cfg_, arm));
        const uint64_t arm_ns = engine::now_ns() - arm0;
        const bool measured = round >= cfg_.warmup;
        Measurement scratch;
        Measurement& into = measured ? r : scratch;
        if (!measured) scratch.luns_time.resize(n);
        const uint64_t t0 = engine::now_ns();
        for (size_t i = 0; i < n; ++i) {
            BlkprFence f =
                nvme[i]
                    ? blkpr_fence_nvme(real_sys_ops(), devs[i], cfg_.b.key, cfg_.a.key, cfg_.type)
                    : blkpr_fence(real_sys_ops(), devs[i], cfg_.b.key, cfg_.a.key, cfg_.type);
            into.clat.insert(into.clat.end(), f.clat.begin(), f.clat.end());
            into.retries += f.retries;
            add_lun_time(into, i, f.ns);
            if (!f.ok) {
                ++into.errors;
                if (into.first_error.empty())
                    into.first_error = cfg_.luns[i].name + ": " + devs[i] + ": " + f.error;
            }
        }
        const uint64_t wall = engine::now_ns() - t0;
        if (!measured) {
            ++r.warmup;
            continue;
        }
        r.arm.push_back(arm_ns);
        r.wall.push_back(wall);
        r.runtime_ns += wall;
        r.ops += n;
    }
    const bool any_nvme = std::find(nvme.begin(), nvme.end(), true) != nvme.end();
    const bool any_scsi = std::find(nvme.begin(), nvme.end(), false) != nvme.end();
    r.note = any_scsi
                 ? "per LU: open, IOC_PR_REGISTER (PR_FL_IGNORE_KEY; a dm-multipath map sends "
                   "it down every path), IOC_PR_PREEMPT_ABORT, verify by SG_IO READ "
                   "RESERVATION (no PR IN ioctl in 6.1), close; LU after LU in prbench's process"
                 : "";
    if (any_nvme)
        r.note += std::string(any_scsi ? "; " : "") +
                  "per NVMe namespace: open, IOC_PR_READ_KEYS, IOC_PR_REGISTER (old 0, only when "
                  "the key is missing), IOC_PR_PREEMPT_ABORT, verify by IOC_PR_READ_RESERVATION, "
                  "close; namespace after namespace in prbench's process";
    return {};
}

}  // namespace

std::unique_ptr<BackendRunner> make_blkpr_backend(const Config& cfg) {
    return std::make_unique<BlkprBackend>(cfg);
}

}  // namespace prfence::bench
