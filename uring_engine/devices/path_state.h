// SPDX-License-Identifier: MIT
// Is an sg path dead before any command goes down it? The SCSI midlayer's device state, as sysfs
// shows it in <sysfs>/class/scsi_device/H:C:T:L/device/state: "running" takes commands; "offline"
// (set by the error handler or by an operator), "transport-offline" (the iSCSI session or FC rport
// gave up), "blocked" (the transport is down and recovering: commands wait in the queue until it
// returns or gives up, for the iSCSI replacement_timeout, 120 s by default), "cancel" and "deleted"
// (going away) do not. A session that meets one of those states reports the path dead at once
// instead of waiting for the command timeout on it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace prfence::engine {

// The state file's contents without the newline; "" when there is none (no H:C:T:L, a fake tree
// without one, the device gone).
std::string scsi_device_state(std::string_view hctl, const std::string& sysfs_root = "/sys");

// Why a device in `state` is dead ("device state offline"); nullopt for a state that takes
// commands (running, created, quiesce) or an unknown one ("").
std::optional<std::string> dead_device_state(std::string_view state);

}  // namespace prfence::engine
