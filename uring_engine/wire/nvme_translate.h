// SPDX-License-Identifier: MIT
// SCSI persistent reservations on an NVMe namespace: what each PERSISTENT RESERVE IN / OUT becomes
// as an NVMe reservation command, and how the completion reads back as a SCSI answer (status,
// sense, PR IN data). prfence's plans, retries and outputs speak SCSI; the NVMe paths (io_uring
// passthrough, prsim's NVMe namespaces) translate below them, so every operation works the same on
// both and one batch may mix them. The mapping follows the NVM Express SCSI Translation Reference
// (PERSISTENT RESERVE IN / OUT) and Linux's block-layer PR operations, which both sd and the NVMe
// host driver implement (drivers/nvme/host/pr.c).
//
// PR OUT -> NVMe (CRKEY = RESERVATION KEY, SARK = SERVICE ACTION RESERVATION KEY)
//   REGISTER, RK 0, SARK != 0           Register (RREGA 0), NRKEY = SARK
//   REGISTER, RK != 0, SARK != 0        Register, Replace (RREGA 2), CRKEY = RK, NRKEY = SARK
//   REGISTER, SARK 0                    Register, Unregister (RREGA 1), CRKEY = RK
//   REGISTER AND IGNORE EXISTING KEY    Register, Replace with IEKEY, NRKEY = SARK; when that ends
//                                       in Reservation Conflict (the host is not registered:
//                                       Replace needs a registration), Register (RREGA 0) instead.
//                                       SARK 0: Unregister with IEKEY
//   RESERVE                             Acquire (RACQA 0), RTYPE from TYPE, CRKEY = RK
//   RELEASE                             Release (RRELA 0), RTYPE from TYPE, CRKEY = RK
//   CLEAR                               Release, Clear (RRELA 1), CRKEY = RK
//   PREEMPT / PREEMPT AND ABORT         Acquire (RACQA 1 / 2), RTYPE, CRKEY = RK, PRKEY = SARK
//   APTPL = 1                           CPTPL = 11b (persist) on Register; 0 (no change) otherwise
// Refused, nothing sent (Errc::unsupported, the message says why): REGISTER AND MOVE and
// TransportIDs (SPEC_I_PT): NVMe registrants are hosts, never named by another host; ALL_TG_PT:
// an NVMe registration already covers every controller of the host, there is no per-path
// registration to widen; REPLACE LOST RESERVATION: NVMe has no lost-reservation state; REGISTER
// with both keys 0 (a SCSI no-op that NVMe cannot express: Unregister of an unregistered host is a
// conflict); TYPE values with no NVMe twin.
//
// PR IN -> Reservation Report with the extended data structure (128-bit host identifiers: what
// fabrics targets require, and what every controller accepts), answered as:
//   READ KEYS            one key per registered host, generation
//   READ RESERVATION     the holder's key (0 for all-registrants types, as SPC-4 reports them), the
//                        SCSI TYPE of the RTYPE, generation
//   READ FULL STATUS     generation only, no descriptors: a host identifier is not a TransportID.
//                        The registrants (key, host identifier, holder, controller) come with the
//                        answer as the NVMe report itself (NvmeAnswer::report).
//   REPORT CAPABILITIES  Identify Namespace (admin): TMV, the type mask from RESCAP, PTPL_C from
//                        RESCAP bit 0; no SIP_C / ATP_C / RLR_C, CRH 0.
//
// What probe sends to see whether this host may read and write (the NVM Express SCSI Translation
// Reference's mapping):
//   READ CAPACITY(10) / (16)    Identify Namespace (admin): the last LBA from NSZE (READ
//   CAPACITY(10)
//                               says FFFFFFFFh beyond 32 bits), the block length of the LBA format
//                               FLBAS names; a namespace without one answers as a device error
//   READ(10) / READ(16)         Read, SLBA and NLB from the CDB, into the caller's data-in length
//                               (blocks x block length); a transfer length of 0 is refused
//   SYNCHRONIZE CACHE(10) / (16) Flush: under a reservation a write-class command, as a Write
// Every other operation code is refused (Errc::unsupported), nothing sent.
//
// Completion status -> SCSI: one stand-in per outcome category (nvme_status.h gives every status
// its category), so the SCSI answer always has the NVMe status's category; a few codes get a closer
// sense (tables in nvme_translate.cpp):
//   Successful                      GOOD
//   Reservation Conflict            RESERVATION CONFLICT
//   Invalid Opcode                  ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (20h/00h)
//   Invalid Field, Host Identifier
//   Inconsistent Format, other
//   invalid-request codes           ILLEGAL REQUEST, INVALID FIELD IN CDB (24h/00h)
//   Invalid Namespace               ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED (25h/00h)
//   Command Sequence Error          ILLEGAL REQUEST, COMMAND SEQUENCE ERROR (2Ch/00h)
//   Namespace Not Ready             NOT READY, LOGICAL UNIT NOT READY (04h/00h)
//   Namespace Write Protected,
//   Access Denied, ...              DATA PROTECT, WRITE PROTECTED (27h/00h)
//   LBA Out of Range                ILLEGAL REQUEST, LBA OUT OF RANGE (21h/00h)
//   aborts (Command Abort Requested, ...)  TASK ABORTED
//   transfer / transport / path errors     host byte DID_TRANSPORT_DISRUPTED
//   media errors                    MEDIUM ERROR (11h/00h); Compare Failure: MISCOMPARE (1Dh/00h);
//                                   end-to-end check errors: ABORTED COMMAND (10h/01h-03h)
//   everything else                 HARDWARE ERROR, INTERNAL TARGET FAILURE (44h/00h)
//   a negative errno                the transport's own failure (sys_errno)
#pragma once

#include <cstdint>
#include <optional>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/nvme_cmd.h"
#include "uring_engine/wire/nvme_types.h"

namespace prfence::wire::nvme {

// How the completion's data becomes the SCSI answer.
enum class Answer : uint8_t {
    none,                 // PR OUT: status only
    read_keys,            // Report -> READ KEYS parameter data
    read_reservation,     // Report -> READ RESERVATION
    read_full_status,     // Report -> READ FULL STATUS header (+ the report itself)
    report_capabilities,  // Identify Namespace -> REPORT CAPABILITIES
    read_capacity10,      // Identify Namespace -> READ CAPACITY(10) data
    read_capacity16,      // Identify Namespace -> READ CAPACITY(16) data
    data,                 // Read: the blocks as read
};

// Report buffer: the 64-byte EDS header and 255 registrants of 64 bytes (16 KiB). A namespace with
// more registered hosts reads back truncated, as a SCSI device cuts an answer to the allocation.
inline constexpr uint32_t kReportBufferLen = 64 + 64 * 255;

struct Translation {
    Command cmd;
    Answer answer = Answer::none;
    // The most the SCSI answer holds: PR IN and READ CAPACITY(16) the CDB's ALLOCATION LENGTH,
    // READ CAPACITY(10) 8. A Read's data is cut to cmd.data_len instead.
    uint16_t alloc_len = 0;
    // Sent instead of `cmd`'s answer when `cmd` ends in Reservation Conflict (REGISTER AND IGNORE
    // EXISTING KEY from an unregistered host). The fallback's completion is the answer.
    std::optional<Command> on_conflict;
};

// The command(s) for one SCSI command on namespace `nsid`. `param_list` is the PR OUT parameter
// list (ignored otherwise); `data_in_len` the data-in length the caller expects (a READ's buffer).
// Errors: Errc::unsupported for what NVMe cannot express and for operation codes outside the
// header's lists, Errc::invalid_argument for a CDB that does not decode.
Result<Translation> translate(uint32_t nsid, const Cdb& cdb, ByteView param_list,
                              uint32_t data_in_len = 0);

// A completion seen as SCSI. `res` is Linux's form (cqe->res: 15-bit status or -errno).
struct NvmeAnswer {
    uint8_t status = 0;                       // SAM status
    uint8_t host = 0;                         // Linux host byte (DID_*)
    Bytes sense;                              // fixed-format sense for CHECK CONDITION
    Bytes data_in;                            // PR IN / READ CAPACITY data (cut to the allocation
                                              // length), a Read's blocks
    int sys_errno = 0;                        // res < 0: the command never completed on the device
    int res = 0;                              // the NVMe status as given
    std::optional<ReservationStatus> report;  // the parsed Report, for every PR IN answered by one
};

// Builds the SCSI answer for `t` from the completion status `res` and the data the controller
// returned (`data`: the Report or Identify buffer). Data that does not parse is the device's
// fault and reads as CHECK CONDITION, HARDWARE ERROR, INTERNAL TARGET FAILURE (44h/00h).
NvmeAnswer answer(const Translation& t, int res, ByteView data);

}  // namespace prfence::wire::nvme
