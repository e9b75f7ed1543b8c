// SPDX-License-Identifier: MIT
// Command descriptor blocks for the commands fencing needs: PERSISTENT RESERVE IN/OUT, and the few
// others an engine, an emulator and a verifier use (TEST UNIT READY, INQUIRY, REPORT LUNS, READ
// CAPACITY, READ/WRITE, SYNCHRONIZE CACHE, SPC-2 RESERVE/RELEASE). Encoding never allocates;
// decoding names any CDB for humans and logs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/pr_types.h"

namespace prfence::wire {

// A CDB by value: up to 16 bytes plus its length. Cheap to copy into an sg_io_hdr or a socket
// frame.
struct Cdb {
    std::array<uint8_t, 16> b{};
    uint8_t len = 0;
    ByteView bytes() const { return {b.data(), len}; }
    bool operator==(const Cdb& o) const { return len == o.len && b == o.b; }
};

// SCOPE is always LU_SCOPE (0h): element scope is obsolete and no current device supports it.
// PR IN (5Eh), 10 bytes: service action, ALLOCATION LENGTH (bytes 7-8).
Cdb prin_cdb(PrInAction sa, uint16_t alloc_len, uint8_t control = 0);
// PR OUT (5Fh), 10 bytes: service action, scope/type (byte 2), PARAMETER LIST LENGTH (bytes 5-8).
Cdb prout_cdb(PrOutAction sa, PrType type, uint32_t param_len, uint8_t control = 0);

Cdb test_unit_ready_cdb();
// INQUIRY; evpd with page code, or the standard data (evpd=false, page must be 0).
Cdb inquiry_cdb(bool evpd, uint8_t page, uint16_t alloc_len);
Cdb report_luns_cdb(uint8_t select_report, uint32_t alloc_len);
Cdb read_capacity10_cdb();
Cdb read_capacity16_cdb(uint32_t alloc_len);
Cdb read10_cdb(uint32_t lba, uint16_t blocks);
Cdb write10_cdb(uint32_t lba, uint16_t blocks);
Cdb read16_cdb(uint64_t lba, uint32_t blocks);
Cdb write16_cdb(uint64_t lba, uint32_t blocks);
Cdb synchronize_cache10_cdb();
Cdb reserve6_cdb();
Cdb release6_cdb();

// SCSI CDB length from the opcode's group code (SPC-4 4.2.5.1): 6, 10, 12 or 16; 0 for groups whose
// length is vendor specific or variable (group 3, 6, 7).
size_t cdb_length_for_opcode(uint8_t opcode) noexcept;

// Command names, three spellings:
//  - T10:         "PERSISTENT RESERVE OUT", "READ(10)"
//  - tracepoint:  "PERSISTENT_RESERVE_OUT", "READ_10" (scsi_dispatch_cmd_done's cmnd=(...) field)
//  - dmesg:       "Persistent Reserve Out", "Read(10)" (the kernel's "CDB: Read(10) 28 00 ..."
//                 line)
// command_name/dmesg_command_name never return nullptr ("opcode 0xNN" style text for unknown
// opcodes); tracepoint_command_name returns nullptr for opcodes the kernel's symbol table lacks,
// where the kernel prints the value as "0xNN". dmesg_command_name takes the service action for PR
// IN/OUT, whose names the kernel extends
// ("Persistent reserve out, preempt and abort"); pass -1 when there is none.
const char* command_name(uint8_t opcode) noexcept;
const char* tracepoint_command_name(uint8_t opcode) noexcept;
const char* dmesg_command_name(uint8_t opcode, int service_action = -1) noexcept;
// Reverse lookup of a tracepoint name ("READ_10" -> 0x28), for log parsers.
std::optional<uint8_t> opcode_from_tracepoint_name(std::string_view name) noexcept;

// Whether a command reads or writes the medium, for the reservation access matrix (SPC-4 5.13.1):
// PR commands, INQUIRY, REPORT LUNS, TEST UNIT READY etc. have their own rules; READ/WRITE are the
// ones types gate.
enum class CommandClass : uint8_t {
    read,   // reads user data or is treated like a read (READ, VERIFY, READ CAPACITY in some types)
    write,  // writes user data (WRITE, WRITE SAME, UNMAP, SYNCHRONIZE CACHE, FORMAT ...)
    always,  // allowed regardless of reservations (INQUIRY, REPORT LUNS, TUR, REQUEST SENSE, PR IN
             // ...)
    pr_out,  // PERSISTENT RESERVE OUT: rules per service action
    spc2,    // SPC-2 RESERVE/RELEASE
    other,   // anything else: conflicts like a write unless allowed by the type
};
CommandClass command_class(uint8_t opcode) noexcept;

// The blocks a block command addresses: READ, WRITE, VERIFY, WRITE AND VERIFY (6/10/12/16) and
// WRITE SAME (10/16): LBA and length where SBC puts them for the CDB's length. READ/WRITE 6's
// transfer length 0 means 256 blocks. nullopt for any other opcode or a CDB shorter than its
// opcode's length.
struct BlockRange {
    uint64_t lba = 0;
    uint32_t blocks = 0;
};
std::optional<BlockRange> block_range(ByteView cdb) noexcept;

// A decoded CDB for humans: the command name plus the fields that matter (service action, type, key
// lengths, LBA and block count), e.g. "PERSISTENT RESERVE OUT: PREEMPT AND ABORT, type Exclusive
// Access (3), parameter list length 24". Fails only on an empty span or a span shorter than the
// opcode's CDB length.
struct DecodedCdb {
    uint8_t opcode = 0;
    std::string name;
    std::string detail;  // "" when there is nothing beyond the name
    size_t expected_len = 0;
    // PR fields, set for 5Eh/5Fh
    std::optional<uint8_t> service_action;
    std::optional<uint8_t> type;
    std::optional<uint8_t> scope;
    std::optional<uint32_t> length;  // ALLOCATION LENGTH or PARAMETER LIST LENGTH / transfer blocks
    std::optional<uint64_t> lba;
};
Result<DecodedCdb> decode_cdb(ByteView cdb);

}  // namespace prfence::wire
