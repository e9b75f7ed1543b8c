// SPDX-License-Identifier: MIT
// The mpathpersist backend: the fence as a shell loop over /dev/mapper maps does it with
// multipath-tools' mpathpersist, one process per command, LU after LU (READ KEYS, PREEMPT AND
// ABORT, READ RESERVATION, as fence-agents' fence_mpath and the sg_persist loop send them). Each
// mpathpersist reads multipath.conf and discovers the maps and paths again; it only sends a PR OUT
// whose key (or service action key) is the reservation_key multipath.conf gives the map, so
// --key-b must be that key. The engine arms every round (unmeasured) and then registers node B on
// every path of its maps, the state mpathpersist --register leaves.
#include "tools/prbench/backend.h"
#include "tools/prbench/process_baseline.h"

namespace prfence::bench {
namespace {

class MpathpersistBackend final : public BackendRunner {
  public:
    explicit MpathpersistBackend(const Config& cfg) : cfg_(cfg) {}
    Status op(Rig&, const Cycle&, Measurement&) override { return only_fences(); }
    Status fence(Rig& arm, Measurement& r) override;
    Status pingpong(Rig&, Measurement&) override { return only_fences(); }

  private:
    static Status only_fences() {
        return fail(Errc::unsupported, "mpathpersist only fences (workload fence)");
    }
    const Config& cfg_;
};

Status MpathpersistBackend::fence(Rig& arm, Measurement& r) {
    ProcessBaseline bl{cfg_};
    const size_t n = arm.both.size();
    const std::vector<Step> steps{{1, Act::read_keys},
                                  {1, Act::preempt_abort, cfg_.b.key, cfg_.a.key},
                                  {1, Act::read_reservation}};
    for (unsigned round = 0; round < cfg_.baseline_rounds; ++round) {
        const uint64_t arm0 = engine::now_ns();
        PRF_TRY(arm_fence(cfg_, arm));
        PRF_TRY(register_every_b_path(cfg_, n));
        r.arm.push_back(engine::now_ns() - arm0);
        const uint64_t t0 = engine::now_ns();
        for (size_t i = 0; i < n; ++i) {
            uint64_t lun_ns = 0, retries = 0;
            bool bad = false;
            for (const Step& s : steps)
                if (bl.mpathpersist(s, cfg_.luns[i], &r.clat, &retries, &lun_ns, &r.first_error) !=
                    0) {
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
    r.note =
        "3 mpathpersist processes per map (READ KEYS, PREEMPT AND ABORT, READ RESERVATION), LU "
        "after LU; --key-b is multipath.conf's reservation_key";
    return {};
}

}  // namespace

std::unique_ptr<BackendRunner> make_mpathpersist_backend(const Config& cfg) {
    return std::make_unique<MpathpersistBackend>(cfg);
}

}  // namespace prfence::bench
