// SPDX-License-Identifier: MIT
// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a path, or '@' for the abstract
// namespace). A daemon not started by systemd (no NOTIFY_SOCKET) sends nothing.
#pragma once

#include <string>

#include "uring_engine/common/result.h"

namespace prfence::daemon {

// Sends `state` ("READY=1\nMAINPID=123", "STOPPING=1", ...). Returns ok without doing anything when
// NOTIFY_SOCKET is unset; an Error when it is set but the datagram cannot be delivered.
Status sd_notify_state(const std::string& state);

}  // namespace prfence::daemon
