// SPDX-License-Identifier: MIT
// The two things prexplain asks the system: which LU a kernel name stands for (sysfs, through
// devices/resolve.h) and what that LU's persistent reservation state is now (PR IN through the
// engine). Both behind interfaces, so the correlator and the CLI tests run without either.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/prexplain/classify.h"
#include "tools/prexplain/correlate.h"
#include "tools/prexplain/ours.h"
#include "uring_engine/devices/resolve.h"
#include "uring_engine/session/session.h"

namespace prfence::prexplain {

// LuMapper over sysfs (resolve_kernel_name), cached per name. An LU below a dm-multipath map (a
// disk whose <sysfs>/block/sdX/holders/dm-N has a uuid starting "mpath-", or dm-N itself) is named
// with the map (dm/name, dm/uuid) and every path of it (dm-N/slaves). With a prsim socket, H:C:T:L
// names prsim's LUN L (PROTOCOL.md section 6: the host is the initiator, the target the port) as
// sim:SOCKET:L, and no sysfs is read.
class SysfsMapper final : public LuMapper {
  public:
    SysfsMapper(engine::ResolveOptions opt, std::string sim_socket = {});
    std::optional<LuIdentity> by_hctl(const Hctl& h) override;
    std::optional<LuIdentity> by_name(std::string_view kernel_name) override;
    std::optional<LuIdentity> by_devnum(uint32_t major, uint32_t minor) override;
    // The LunSpec behind an identity this mapper returned (for querying), if any.
    const engine::LunSpec* spec(const std::string& key) const;

  private:
    std::optional<LuIdentity> lookup(const std::string& name);
    engine::ResolveOptions opt_;
    std::string sim_;
    std::map<std::string, std::optional<LuIdentity>> cache_;
    std::map<std::string, engine::LunSpec> specs_;  // by identity key
};

// Our host's identifier on an NVMe controller: <sysfs>/class/nvme/CTRL/hostid; for a native
// multipath head's subsystem ("nvme-subsys1"), that of the first of its controllers that has one.
// nullopt when none can be read.
std::optional<wire::nvme::HostId> controller_hostid(const std::string& sysfs_root,
                                                    const std::string& ctrl);
// The namespaces (block device names, "nvme0n1") of NVMe controller CTRL ("nvme0"), from
// <sysfs>/class/nvme/CTRL: its nvmeXnY entries, and for the paths of native multipath heads there
// (nvmeXcYnZ) their heads; sorted by number, empty when sysfs has none.
std::vector<std::string> controller_namespaces(const std::string& sysfs_root,
                                               const std::string& ctrl);

class PrQuerier {
  public:
    virtual ~PrQuerier() = default;
    // The LU's state now. Never fails: what could not be read is missing with query_error set.
    virtual PrSnapshot query(const LuIdentity& lu) = 0;
};

// Queries through the engine: READ KEYS, READ RESERVATION, then READ FULL STATUS (optional: tgt and
// others lack it). An NVMe namespace answers READ KEYS with the Reservation Report, which is kept
// (PrSnapshot::nvme_report) with our host's identifier (controller_hostid of the namespace's
// controller), so classify() decides by host. A PR IN answered with RESERVATION CONFLICT means an
// SPC-2 reservation. A prsim LU is queried as `sopt`'s initiator, or, when that is empty, as the
// initiator of the prfenced group `book` puts the LU in (a registrants-only type answers READ FULL
// STATUS per nexus).
class EngineQuerier final : public PrQuerier {
  public:
    EngineQuerier(const SysfsMapper& mapper, engine::ResolveOptions ropt,
                  engine::SessionOptions sopt, OurSides* book = nullptr);
    PrSnapshot query(const LuIdentity& lu) override;

  private:
    const SysfsMapper& mapper_;
    engine::ResolveOptions ropt_;
    engine::SessionOptions sopt_;
    OurSides* book_;
};

}  // namespace prfence::prexplain
