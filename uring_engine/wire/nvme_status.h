// SPDX-License-Identifier: MIT
// NVMe completion status as userspace sees it, and the outcome category prfence gives it: the same
// categories and exit codes as SCSI (status.h), so a script acting on "24 = reservation conflict"
// works for both.
//
// What Linux hands back (io_uring cqe->res for NVME_URING_CMD_IO/ADMIN, the return value of the
// NVME_IOCTL_*_CMD ioctls): either the status field of the completion queue entry shifted right by
// one (phase tag dropped), i.e. SC in bits 7:0, SCT 10:8, CRD 12:11, MORE 13, DNR 14; or a negative
// errno when the command never reached the controller or was cancelled. Codes are compared after
// masking with kScSctMask: targets set DNR and MORE at will (0x4083 and 0x6083 are both a
// reservation conflict).
//
// Categories (SCT/SC -> Category, exit code):
//   0/00h Successful Completion                                  clean (0)
//   0/83h Reservation Conflict                                   reservation_conflict (24)
//   0/02h Invalid Field in Command                               illegal_request (5)
//   0/18h Host Identifier Inconsistent Format                    illegal_request (5)
//   0/0Bh Invalid Namespace or Format, 0/0Ch Command Sequence Error,
//   0/0Dh-11h SGL errors, SCT 1 (command specific) unless below  illegal_request (5)
//   0/01h Invalid Command Opcode                                 invalid_opcode (9)
//   0/82h Namespace Not Ready, 0/84h Format In Progress          not_ready (2)
//   0/07h Command Abort Requested, 0/05h, 08h-0Ah other aborts   task_aborted (29)
//   0/80h LBA Out of Range                                       lba_out_of_range (22)
//   0/20h Namespace is Write Protected, 2/86h Access Denied      data_protect (7)
//   0/04h Data Transfer Error, 0/21h Command Interrupted,
//   0/22h Transient Transport Error, SCT 3 (path related)        transport_error (35)
//   SCT 2 (media and data integrity): 82h-84h end-to-end checks  protection (40)
//                                     85h Compare Failure        miscompare (14)
//                                     others                     medium_hard (3)
//   0/06h Internal Error, other SCT 0 codes, SCT 4-7             other (99)
// Negative errno (io_uring and the ioctls):
//   -EACCES, -EPERM (no write permission for a write-class opcode, or no CAP_SYS_ADMIN),
//   -EINVAL (NSID does not match the node, non-zero flags), -ENOTTY (not an NVMe node / unknown
//   cmd_op), -EOPNOTSUPP (ring without SQE128|CQE32), -EBADF, -ENOENT, -ENXIO, -ENODEV
//                                                                file_error (15)
//   -ETIMEDOUT                                                   timeout (33)
//   -EINTR, -ECANCELED (cancelled), -EIO, -ENOLINK, -EAGAIN, -ENOMEM and any other errno
//                                                                transport_error (35)
#pragma once

#include <cstdint>
#include <string>

#include "uring_engine/wire/nvme_types.h"
#include "uring_engine/wire/status.h"

namespace prfence::wire::nvme {

struct StatusInfo {
    int res = 0;            // as passed in
    int err = 0;            // errno (positive) when res < 0, else 0
    uint8_t sct = 0;        // status code type (bits 10:8)
    uint8_t sc = 0;         // status code (bits 7:0)
    uint8_t crd = 0;        // command retry delay index (bits 12:11)
    bool more = false;      // more information in the Error Information log
    bool dnr = false;       // do not retry
    const char* name = "";  // "Reservation Conflict", ...; the errno's name for res < 0
    Category category = Category::clean;

    uint16_t code() const noexcept { return status_word(sct, sc); }  // SCT/SC, masked
    bool ok() const noexcept { return res == 0; }
};

// Decodes Linux's form: a 15-bit status (bits above 14 are ignored) or a negative errno.
StatusInfo decode_status(int res) noexcept;
// The raw 16-bit status field of a completion queue entry (bit 0 is the phase tag).
inline StatusInfo decode_cqe_status(uint16_t field) noexcept { return decode_status(field >> 1); }

// The specification's name for an SCT/SC pair: "Reservation Conflict", "Invalid Field in Command",
// ...; for codes without an entry "Unknown Generic Status", "Unknown Command Specific Status",
// "Unknown Media Error", "Unknown Path Related Status", "Vendor Specific Status" or "Reserved
// Status Code Type".
const char* status_name(uint8_t sct_value, uint8_t sc_value) noexcept;
// The category of a completion (table above).
Category categorize(int res) noexcept;
// nvme-cli's spelling, for messages: "Reservation Conflict (0x4083)"; "EACCES (-13)" for errno.
std::string describe(const StatusInfo& s);

}  // namespace prfence::wire::nvme
