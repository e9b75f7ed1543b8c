// SPDX-License-Identifier: MIT
// Transport interface: how one SCSI command reaches one path to a logical unit and how its answer
// comes back. Every transport (sg over io_uring, prsim's socket over io_uring, SG_IO on a thread
// pool, an in-process LU) implements Path; the policy layer (plans, retries, fencing) sees only
// this.
//
// Device status is data: a RESERVATION CONFLICT or a CHECK CONDITION arrives as a ScsiResponse with
// status and sense. Only the transport's own failures (the fd died, the daemon vanished) set
// `sys_errno`, and an answer that did not come in time sets `timed_out`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/nvme_types.h"

namespace prfence::engine {

enum class DataDir : uint8_t { none, to_device, from_device };

struct ScsiRequest {
    wire::Cdb cdb;
    Bytes data_out;            // parameter list / write data (to_device)
    uint32_t data_in_len = 0;  // allocation for the answer (from_device)
    uint32_t timeout_ms = 20000;

    DataDir dir() const {
        return !data_out.empty() ? DataDir::to_device
               : data_in_len     ? DataDir::from_device
                                 : DataDir::none;
    }
};

// What an NVMe path adds to a response (NvmePath): the NVMe status behind the SCSI stand-in, and
// what a Reservation Report said that SCSI cannot carry (host identifiers, controller IDs).
struct NvmeDetail {
    int res = 0;  // Linux's form: the 15-bit NVMe status, or -errno
    std::optional<wire::nvme::ReservationStatus> report;
    // The SCSI command has no NVMe equivalent: why. Nothing was sent; the SCSI answer is CHECK
    // CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB.
    std::string refused;
};

struct ScsiResponse {
    uint8_t status = 0;  // SAM status
    uint8_t host = 0;    // Linux host byte (DID_*); transports without one leave DID_OK
    uint8_t driver = 0;  // Linux driver byte
    Bytes sense;
    Bytes data_in;      // what the device returned (residual already subtracted)
    int sys_errno = 0;  // the transport could not carry the command; status/sense are meaningless
    bool timed_out = false;
    uint64_t latency_ns = 0;         // submission to completion, measured by the transport
    std::optional<NvmeDetail> nvme;  // set by NVMe paths
};

// Receives completions; called on the ring's thread, exactly once per submitted tag.
class CompletionSink {
  public:
    virtual ~CompletionSink() = default;
    virtual void on_complete(uint64_t tag, ScsiResponse&& rsp) = 0;
};

// One path (I_T nexus) to one logical unit, opened once and kept open.
class Path {
  public:
    virtual ~Path() = default;
    // Human name: "/dev/sg3", "sim:/run/prsim.sock:17", ...
    virtual const std::string& name() const = 0;
    // Most commands this path takes at once (16 for /dev/sg: SG_MAX_QUEUE); the executor never
    // exceeds it.
    virtual unsigned queue_depth() const = 0;
    virtual unsigned in_flight() const = 0;
    // Starts a command. An Error means it was not started (and no completion will come); the caller
    // reports it for that LUN. The request is copied; it need not outlive the call.
    virtual Status submit(uint64_t tag, const ScsiRequest& req) = 0;
    // The engine gave up waiting for `tag` (its deadline passed). Transports that can, tell the
    // other end (prsim: an ABORT frame, so the daemon frees the command's slot); the late
    // completion, if any, still arrives and is ignored. Default: nothing to do (sg commands end by
    // the kernel's own timeout).
    virtual void abandon(uint64_t tag) { (void)tag; }
    // The path is about to be destroyed: queue whatever cancels its standing ring operations,
    // without waiting. A session closing hundreds of paths calls this on all of them first, so
    // their cancels share one turn of the ring instead of one each. Destroying a path without it
    // stays correct.
    virtual void begin_shutdown() {}
    // Paths with one non-empty scope share their registrations: registering (or unregistering)
    // through one of them does it for all. NVMe registrants are hosts, so every controller of one
    // host is one scope ("nvme-host:<host identifier>"); SCSI registrations are per I_T nexus
    // (empty: every path its own).
    virtual const std::string& registration_scope() const {
        static const std::string none;
        return none;
    }
};

// Monotonic nanoseconds, the clock every latency figure uses.
uint64_t now_ns();

}  // namespace prfence::engine
