// SPDX-License-Identifier: MIT
// The nvme-cli backend: the fence as a shell loop over NVMe namespaces does it with nvme-cli, one
// process per command, namespace after namespace (nvme_cli.h: the commands and their checks).
// The engine arms every round (unmeasured), as for the other backends; wall is the loop over
// every namespace, clat one process (fork to exit).
#include "tools/prbench/backend.h"
#include "tools/prbench/nvme_cli.h"
#include "uring_engine/wire/nvme_types.h"

namespace prfence::bench {
namespace {

class NvmeCliBackend final : public BackendRunner {
  public:
    explicit NvmeCliBackend(const Config& cfg) : cfg_(cfg) {}
    Status op(Rig&, const Cycle&, Measurement&) override { return only_fences(); }
    Status fence(Rig& arm, Measurement& r) override;
    Status pingpong(Rig&, Measurement&) override { return only_fences(); }

  private:
    static Status only_fences() {
        return fail(Errc::unsupported, "nvme-cli only fences (workload fence)");
    }
    const Config& cfg_;
};

Status NvmeCliBackend::fence(Rig& arm, Measurement& r) {
    const auto rt = wire::nvme::from_scsi(cfg_.type);
    if (!rt)
        return fail(Errc::unsupported, "reservation type " +
                                           std::string(wire::type_name(cfg_.type)) +
                                           " has no NVMe equivalent");
    const auto rtype = static_cast<uint8_t>(*rt);
    ProcessBaseline bl{cfg_};
    const size_t n = arm.both.size();
    for (unsigned round = 0; round < cfg_.baseline_rounds; ++round) {
        const uint64_t arm0 = engine::now_ns();
        PRF_TRY(arm_fence(cfg_, arm));
        r.arm.push_back(engine::now_ns() - arm0);
        const uint64_t t0 = engine::now_ns();
        for (size_t i = 0; i < n; ++i) {
            NvmeCliFence f = nvme_cli_fence(bl, cfg_, cfg_.luns[i], rtype, &r.clat);
            add_lun_time(r, i, f.ns);
            if (!f.ok) {
                ++r.errors;
                if (r.first_error.empty()) r.first_error = f.error;
            }
        }
        const uint64_t wall = engine::now_ns() - t0;
        r.wall.push_back(wall);
        r.runtime_ns += wall;
        r.ops += n;
    }
    r.note =
        "3 nvme-cli processes per namespace (resv-report --eds, resv-acquire --racqa=2, "
        "resv-report --eds), namespace after namespace";
    return {};
}

}  // namespace

std::unique_ptr<BackendRunner> make_nvme_cli_backend(const Config& cfg) {
    return std::make_unique<NvmeCliBackend>(cfg);
}

}  // namespace prfence::bench
