// SPDX-License-Identifier: MIT
// Which answers mean "this path is dead" rather than "the LU answered": the one table the plans
// consult before they skip a path (registrations, which go down every path) or send a command again
// down another path of the same LU (everything else, which needs one path only).
//
// A path is one I_T nexus. Its failure says nothing about the LU: another nexus to the same LU may
// work, so a dead path is skipped, never retried on itself (a rerun after the path returns tries it
// again). The rows follow what dm-multipath counts as a path error (the kernel's blk_path_error()
// over the host byte's block status), so prfence and the map agree on which path is down:
//
//   host byte (sg_io_hdr.host_status)
//     DID_NO_CONNECT, DID_BAD_TARGET          not sent: the device is offline or gone
//     DID_TRANSPORT_DISRUPTED, _FAILFAST,
//     DID_TRANSPORT_MARGINAL                  the transport (iSCSI session, FC rport) failed
//     DID_TIME_OUT, DID_ABORT, DID_RESET,
//     DID_ERROR, DID_PARITY, DID_BAD_INTR,
//     DID_SOFT_ERROR, DID_BUS_BUSY,
//     DID_IMM_RETRY, DID_REQUEUE              the command was lost on the way
//   not path failures: DID_OK, DID_NEXUS_FAILURE (a reservation conflict: the LU's answer),
//     DID_TARGET_FAILURE, DID_MEDIUM_ERROR, DID_ALLOC_FAILURE (the device's own failures, which
//     another path would meet too), DID_PASSTHROUGH.
//   errno from the transport (ScsiResponse::sys_errno)
//     ENXIO, ENODEV                           not sent: the sg device is gone or offline
//     ENOTCONN, ECONNREFUSED, ESHUTDOWN,
//     EHOSTDOWN, EHOSTUNREACH, ENETDOWN,
//     ENETUNREACH                             not sent: no connection
//     EIO, ECONNRESET, EPIPE, ETIMEDOUT       the transport failed, maybe after sending
//   not path failures: EINVAL (refused before it was carried), ENOMEM, EAGAIN, EPERM, EACCES
//     (this process's limits and rights are the same on every path), anything else.
//   the engine's own command deadline (ScsiResponse::timed_out)
//   CHECK CONDITION, NOT READY with 04h/0Ah (asymmetric access state transition), 04h/0Bh (target
//     port in standby state), 04h/0Ch (target port in unavailable state): the target port, not the
//     LU, refuses (ALUA).
//
// "Maybe sent" matters for commands that change state: PREEMPT sent again down another path after
// its first attempt timed out may meet a reservation conflict because the first attempt did take
// effect. The plans say so in the LU's error rather than guess.
#pragma once

#include <optional>
#include <string>

#include "uring_engine/transport/transport.h"

namespace prfence::engine {

struct PathFailure {
    // The command may have reached the LU (and taken effect) before the path failed.
    bool maybe_sent = false;
    // One phrase for reports: "host byte DID_NO_CONNECT (no connection)", "timed out",
    // "transport error: No such device or address", "target port in standby state".
    std::string why;
};

// The failure when `rsp` says its path is dead (see the table above); nullopt when the answer came
// from the LU (GOOD, RESERVATION CONFLICT, any other sense) or the failure is not the path's.
std::optional<PathFailure> path_failure(const ScsiResponse& rsp);

}  // namespace prfence::engine
