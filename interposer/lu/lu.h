// SPDX-License-Identifier: MIT
// prsim's virtual logical unit: a SCSI block device with exact SPC-4 persistent reservations.
//
// A LogicalUnit executes one command at a time for an I_T nexus and returns what a device would:
// status, sense and data-in. It is pure state plus an optional backing file and APTPL file; it does
// no networking, no timing and no logging (the prsim daemon adds latency, faults and trace events
// around it), and it is not thread-safe: its owner serialises calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/status.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::sim {

// An I_T nexus as the LU sees it: which initiator port, through which target port.
struct NexusIdentity {
    wire::TransportId initiator;
    uint16_t target_port = 1;  // RELATIVE TARGET PORT IDENTIFIER, 1-based
    bool operator==(const NexusIdentity&) const = default;
};
using NexusId = uint32_t;

struct CommandResult {
    uint8_t status = wire::sam::good;
    Bytes sense;    // set with CHECK CONDITION
    Bytes data_in;  // already cut to the CDB's allocation length
    // PREEMPT AND ABORT: nexuses whose outstanding commands the server must now abort
    // (SPC-4 5.13.11.2.4).
    std::vector<NexusId> aborted_nexuses;
};

// Which deviations from SPC-4 to reproduce.
enum class Profile : uint8_t {
    spc4,  // the standard, exactly
    lio,  // LIO's deviations (drivers/target/target_core_pr.c), to test tools against what LIO does
};

struct LuConfig {
    uint32_t block_size = 512;
    uint64_t blocks = 2048;  // 1 MiB by default; data is sparse in memory unless backing_file
    std::optional<std::filesystem::path> backing_file;  // sparse file, created and sized if absent
    std::optional<std::filesystem::path>
        aptpl_file;                  // where APTPL state lives; none = APTPL refused
    std::string vendor = "PRFENCE";  // INQUIRY T10 VENDOR IDENTIFICATION (8 chars max)
    std::string product = "prsim";   // PRODUCT IDENTIFICATION (16 max)
    std::string revision = "0001";   // PRODUCT REVISION LEVEL (4 max)
    std::string serial;              // VPD 80h; empty = derived from naa
    uint64_t naa = 0;                // VPD 83h NAA IEEE Registered identifier; 0 = derived from lun
    uint32_t lun = 0;                // this LU's number in its farm (0-16383)
    uint16_t target_ports = 2;       // relative target ports 1..target_ports exist
    Profile profile = Profile::spc4;
};

class LogicalUnit {
  public:
    // Creates the LU; with aptpl_file set, reloads persisted registrations. A damaged APTPL file is
    // an Error naming the file and what is wrong, never silently an empty state. Also an Error: a
    // block size outside 1-1048576 or no blocks, a capacity above 2^63 bytes, no target ports, a
    // lun above 16383, vendor / product / revision / serial longer than their fields or not
    // printable ASCII, an naa whose NAA field is not 5h, a backing file that cannot be opened or
    // has another non-zero size. Derived identifiers: naa = 5h | IEEE company id 5A7F4Eh (locally
    // administered) | lun; serial = naa as 16 lowercase hex digits.
    static Result<std::unique_ptr<LogicalUnit>> create(const LuConfig& cfg);
    virtual ~LogicalUnit() = default;

    // Returns the id for this I_T nexus, creating it at first sight (with a POWER ON, RESET unit
    // attention pending, as after a power on; Profile::lio: REPORTED LUNS DATA HAS CHANGED,
    // 3Fh/0Eh, as LIO reports a LUN newly mapped into a session). The same identity always yields
    // the same id.
    virtual NexusId attach(const NexusIdentity& who) = 0;

    // Executes one command. data_out is the parameter list / write data the initiator sent. Any
    // bytes are tolerated: a malformed CDB gets the CHECK CONDITION a device would return. Order of
    // checks: unit attention (not for INQUIRY, REPORT LUNS and REQUEST SENSE, which leave it
    // pending; REPORT LUNS clears a 3Fh/0Eh), supported operation code and CDB length, lost
    // persistent reservation information, SPC-2 reservation, persistent reservation access, then
    // the command's own checks. data_out shorter than the CDB says: PR OUT gets PARAMETER LIST
    // LENGTH ERROR, WRITE gets INVALID FIELD IN COMMAND INFORMATION UNIT (0Eh/03h, as LIO for a
    // WRITE underflow); extra bytes are ignored. An unknown nexus id gets ILLEGAL REQUEST, LOGICAL
    // UNIT NOT SUPPORTED (25h/00h). An initiator whose TransportID does not encode (e.g.
    // ProtocolId::none) cannot register: REGISTER answers ILLEGAL REQUEST, INSUFFICIENT
    // REGISTRATION RESOURCES (55h/04h). A nexus whose target port is not one of 1..target_ports
    // gets LOGICAL UNIT NOT SUPPORTED (25h/00h) for every command.
    virtual CommandResult execute(NexusId nexus, ByteView cdb, ByteView data_out) = 0;

    // Queues a unit attention for one nexus (fault injection, tests); asc/ascq as in SPC-4. The
    // queue keeps one of each ASC/ASCQ pair, puts 29h/xx (resets) first, and reports one per
    // command.
    virtual void queue_unit_attention(NexusId nexus, uint8_t asc, uint8_t ascq) = 0;

    // Fault injection: the LU detects a recoverable loss of its persistent reservation information
    // (SPC-4 5.13.5.3.2). Registrations and the reservation are gone (the APTPL file is left as it
    // was); until a PERSISTENT RESERVE OUT with REPLACE LOST RESERVATION succeeds, every command
    // but those SPC-4 5.13.5.2 lists completes with CHECK CONDITION, DATA PROTECT, PERSISTENT
    // RESERVATION INFORMATION LOST (44h/01h).
    virtual void lose_persistent_reservations() = 0;

    virtual const LuConfig& config() const = 0;
};

}  // namespace prfence::sim
