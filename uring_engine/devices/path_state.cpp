// SPDX-License-Identifier: MIT
#include "uring_engine/devices/path_state.h"

#include <fstream>

namespace prfence::engine {
namespace {

// The kernel's names (scsi_sysfs.c, sdev_states[]) of the states that refuse or hold commands.
struct DeadRow {
    std::string_view state;
    std::string_view why;
};
constexpr DeadRow kDead[] = {
    {"offline", "offline"},
    {"transport-offline", "transport-offline (the transport gave up on it)"},
    {"blocked", "blocked (the transport is down; commands would wait for it)"},
    {"created-blocked", "blocked (the transport is down; commands would wait for it)"},
    {"cancel", "being removed"},
    {"deleted", "removed"},
};

}  // namespace

std::string scsi_device_state(std::string_view hctl, const std::string& sysfs_root) {
    if (hctl.empty() || hctl.find('/') != std::string_view::npos) return {};
    std::ifstream in(sysfs_root + "/class/scsi_device/" + std::string(hctl) + "/device/state");
    std::string s;
    if (!in || !std::getline(in, s)) return {};
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::optional<std::string> dead_device_state(std::string_view state) {
    for (const auto& row : kDead)
        if (row.state == state) return "device state " + std::string(row.why);
    return std::nullopt;
}

}  // namespace prfence::engine
