// SPDX-License-Identifier: MIT
// The names of bench.h: workloads, operations, the shim's device nodes (backend names:
// backend.cpp).
#include "uring_engine/simproto/names.h"

#include <algorithm>
#include <filesystem>

#include "tools/prbench/bench.h"

namespace prfence::bench {

const char* workload_name(Workload w) {
    switch (w) {
        case Workload::op:
            return "op";
        case Workload::fence:
            return "fence";
        case Workload::pingpong:
            return "pingpong";
    }
    return "?";
}

std::optional<Workload> parse_workload(std::string_view name) {
    if (name == "op") return Workload::op;
    if (name == "fence") return Workload::fence;
    if (name == "pingpong") return Workload::pingpong;
    return std::nullopt;
}

bool is_op_name(std::string_view name) {
    return std::any_of(std::begin(kOpNames), std::end(kOpNames),
                       [&](const char* n) { return name == n; });
}

std::string prsim_sg_path(uint32_t lun) { return "/dev/prsim/sg" + std::to_string(lun); }
std::string prsim_sd_path(uint32_t lun) { return "/dev/prsim/sd" + shim::disk_letters(lun); }
std::string prsim_nvme_path(uint32_t nsid) { return "/dev/prsim/nvme0n" + std::to_string(nsid); }

bool is_nvme_path(const engine::PathSpec& p) {
    return p.kind == engine::PathSpec::Kind::nvme ||
           (p.kind == engine::PathSpec::Kind::sim && p.nsid != 0);
}

std::string dm_map_node(const engine::LunSpec& l, const std::string& dev_root) {
    if (l.name.empty() || l.name.find('/') != std::string::npos || l.name.starts_with("sim:") ||
        l.paths.empty() || l.paths[0].kind != engine::PathSpec::Kind::sg)
        return "";
    const std::string node = dev_root + "/mapper/" + l.name;
    std::error_code ec;
    return std::filesystem::exists(node, ec) ? node : "";
}

}  // namespace prfence::bench
