// SPDX-License-Identifier: MIT
// What every path to an NVMe namespace does around the wire: the SCSI request translated into its
// NVMe command (uring_engine/wire/nvme_translate.h), the REGISTER AND IGNORE EXISTING KEY fallback
// decided from the first completion, and the completion (or the refusal) turned into the
// ScsiResponse the engine sees, with ScsiResponse::nvme set. NvmePath (io_uring passthrough) and
// the prsim namespace paths (SimPath) differ only in how the command travels.
#pragma once

#include <string>

#include "uring_engine/transport/transport.h"
#include "uring_engine/wire/nvme_translate.h"

namespace prfence::engine {

// The answer to a SCSI command NVMe cannot express (`why`: the translation's refusal), nothing
// sent: CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB (24h/00h), and `why` in
// nvme->refused.
ScsiResponse nvme_refusal(std::string why);

// True when the completion `res` (Linux's form) of `t.cmd` is a Reservation Conflict and `t` has a
// command to send instead (t.on_conflict): the caller sends it, once, and its completion is the
// answer.
bool nvme_needs_fallback(const wire::nvme::Translation& t, int res);

// The SCSI answer to `t` from the completion `res` of the last command sent and its data-in.
ScsiResponse nvme_response(const wire::nvme::Translation& t, int res, ByteView data);

}  // namespace prfence::engine
