// SPDX-License-Identifier: MIT
// NVMe reservation vocabulary (NVM Command Set: Reservation Register / Report / Acquire / Release):
// opcodes, actions, reservation types and status codes, with their names. Values as in the NVMe
// base and NVM command set specifications and Linux's include/linux/nvme.h.
//
// NVMe and SCSI reserve alike but number differently: the six reservation types are RTYPE 1..6
// here and TYPE 1, 3, 5, 6, 7, 8 in SPC-4 (the order is the same, so the mapping is a table).
// Registrants are hosts (a 64- or 128-bit host identifier), never individual paths.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "uring_engine/common/bytes.h"
#include "uring_engine/wire/pr_types.h"

namespace prfence::wire::nvme {

// I/O-queue opcodes of the reservation commands. Bit 0 set = host-to-controller data.
enum class Opcode : uint8_t {
    resv_register = 0x0d,
    resv_report = 0x0e,
    resv_acquire = 0x11,
    resv_release = 0x15,
};

// NVM command set I/O opcodes that probe's access check uses (bit 0 set = host-to-controller data).
// Under a reservation Flush is a write-class command, as Write is (NVMe base specification's
// reservation access table; nvmet's pr.c checks it so).
namespace nvm {
inline constexpr uint8_t flush = 0x00;
inline constexpr uint8_t write = 0x01;
inline constexpr uint8_t read = 0x02;
}  // namespace nvm

// CDW10 bits 2:0 of Reservation Register (RREGA). 3..7 are reserved.
enum class RegisterAction : uint8_t { register_key = 0, unregister = 1, replace = 2 };
// CDW10 bits 2:0 of Reservation Acquire (RACQA). 3..7 are reserved.
enum class AcquireAction : uint8_t { acquire = 0, preempt = 1, preempt_and_abort = 2 };
// CDW10 bits 2:0 of Reservation Release (RRELA). 2..7 are reserved.
enum class ReleaseAction : uint8_t { release = 0, clear = 1 };
// CDW10 bits 31:30 of Reservation Register (CPTPL). 1 is reserved.
enum class Cptpl : uint8_t { no_change = 0, clear = 2, persist = 3 };

inline constexpr uint32_t kIgnoreKey = 1u << 3;  // CDW10 bit 3, IEKEY
inline constexpr uint32_t kReportEds = 1u << 0;  // CDW11 bit 0 of Report, extended data structure

// Reservation types (RTYPE, CDW10 bits 15:8 of Acquire and Release; byte 4 of the Report header).
enum class Rtype : uint8_t {
    none = 0,
    write_exclusive = 1,
    exclusive_access = 2,
    write_exclusive_registrants_only = 3,
    exclusive_access_registrants_only = 4,
    write_exclusive_all_registrants = 5,
    exclusive_access_all_registrants = 6,
};

// The same reservation in the other standard; nullopt for values outside the six types (and none).
std::optional<PrType> to_scsi(Rtype t) noexcept;
std::optional<Rtype> from_scsi(PrType t) noexcept;
// Raw RTYPE byte: "Write Exclusive", ... as type_name() spells the SCSI twin; "reserved [N]" else.
const char* rtype_name(uint8_t rtype) noexcept;

// Status Code Type (bits 10:8 of the status field) and the codes reservations produce.
namespace sct {
inline constexpr uint8_t generic = 0;
inline constexpr uint8_t command_specific = 1;
inline constexpr uint8_t media = 2;
inline constexpr uint8_t path = 3;
}  // namespace sct
// Generic command status values (SCT 0).
namespace sc {
inline constexpr uint8_t success = 0x00;
inline constexpr uint8_t invalid_opcode = 0x01;
inline constexpr uint8_t invalid_field = 0x02;
inline constexpr uint8_t data_transfer_error = 0x04;
inline constexpr uint8_t internal_error = 0x06;
inline constexpr uint8_t abort_requested = 0x07;
inline constexpr uint8_t invalid_namespace = 0x0b;
inline constexpr uint8_t command_sequence_error = 0x0c;
inline constexpr uint8_t namespace_not_ready = 0x82;
inline constexpr uint8_t reservation_conflict = 0x83;
inline constexpr uint8_t host_id_inconsistent_format = 0x18;
}  // namespace sc

// The 15-bit status word as Linux passes it up (io_uring cqe->res, the passthrough ioctls' return):
// SC in bits 7:0, SCT in 10:8, then CRD (12:11), MORE (13) and DNR (14). Compare codes only after
// masking with kScSctMask: a target sets DNR and MORE as it sees fit (0x4083 and 0x6083 are both
// a reservation conflict).
inline constexpr uint16_t kScSctMask = 0x07ff;
inline constexpr uint16_t kStatusCrd = 0x1800;
inline constexpr uint16_t kStatusMore = 0x2000;
inline constexpr uint16_t kStatusDnr = 0x4000;

inline constexpr uint16_t status_word(uint8_t sct_value, uint8_t sc_value) noexcept {
    return static_cast<uint16_t>((sct_value & 0x7) << 8 | sc_value);
}

// Decoded reservation commands (the dwords and the data buffer, see nvme_cmd.h for the codec).
struct RegisterCmd {
    RegisterAction action = RegisterAction::register_key;
    bool iekey = false;
    Cptpl cptpl = Cptpl::no_change;
    uint64_t crkey = 0;  // current key (ignored by a new registration)
    uint64_t nrkey = 0;  // new key
};
struct AcquireCmd {
    AcquireAction action = AcquireAction::acquire;
    bool iekey = false;
    uint8_t rtype = 0;  // raw: a target answers Invalid Field for values outside 1..6
    uint64_t crkey = 0;
    uint64_t prkey = 0;  // preempt: the key whose registrations go
};
struct ReleaseCmd {
    ReleaseAction action = ReleaseAction::release;
    bool iekey = false;
    uint8_t rtype = 0;
    uint64_t crkey = 0;
};
struct ReportCmd {
    uint32_t numd = 0;  // zero-based dword count of the buffer
    bool eds = false;   // extended data structure: 128-bit host identifiers
};

using HostId = std::array<uint8_t, 16>;  // a 64-bit identifier fills bytes 0..7

// One entry of a Reservation Report (Registered Controller data structure, or its extended form).
struct Registrant {
    uint16_t cntlid = 0;  // 0xffff under the dynamic controller model (NVMe-oF targets)
    bool holds = false;   // RCSTS bit 0: this host holds the reservation
    uint64_t key = 0;
    HostId hostid{};
};
// The Reservation Status data structure a Report returns.
struct ReservationStatus {
    uint32_t generation = 0;
    uint8_t rtype = 0;                    // 0: no reservation
    uint16_t regctl = 0;                  // registrants the controller says it has
    bool ptpls = false;                   // persist through power loss state
    bool extended = false;                // parsed from / encoded as the 64-byte (EDS) layout
    std::vector<Registrant> registrants;  // those that fit in the buffer (may be < regctl)
};

// Admin-queue opcodes, log pages and features the reservation tooling reads (on /dev/nvmeX, or the
// admin queue of prsim's NVMe controller).
namespace admin {
inline constexpr uint8_t get_log_page = 0x02;
inline constexpr uint8_t identify = 0x06;
inline constexpr uint8_t set_features = 0x09;
inline constexpr uint8_t get_features = 0x0a;
}  // namespace admin
inline constexpr uint8_t kLogReservation = 0x80;   // Reservation Notification log page
inline constexpr uint8_t kFeatHostId = 0x81;       // Host Identifier
inline constexpr uint8_t kFeatResvMask = 0x82;     // Reservation Notification Mask
inline constexpr uint8_t kFeatResvPersist = 0x83;  // Reservation Persistence
inline constexpr uint32_t kNsidAll = 0xffffffff;   // every namespace / controller scope
inline constexpr size_t kIdentifyLen = 4096;       // Identify data, any CNS
inline constexpr size_t kReservationLogLen = 64;   // log page 80h
namespace sc {
inline constexpr uint8_t sgl_data_length_invalid = 0x0f;  // transfer length does not match (SGL)
}  // namespace sc

// Whether RTYPE is one of the six reservation types (0, "no reservation", is not).
inline constexpr bool is_valid_rtype(uint8_t rtype) noexcept { return rtype >= 1 && rtype <= 6; }
// RTYPE 5 and 6: every registrant is a holder.
inline constexpr bool is_all_registrants(uint8_t rtype) noexcept {
    return rtype == 5 || rtype == 6;
}
// rtype_name(0) is "none": in a Report it means no reservation is held.

// Little-endian field access: NVMe data structures and command dwords are little-endian. Same
// contract as the big-endian readers in bytes.h: callers check lengths, these assert.
inline uint16_t get_le16(ByteView b, size_t off) {
    assert(off + 2 <= b.size());
    return static_cast<uint16_t>(b[off] | (b[off + 1] << 8));
}
inline uint32_t get_le32(ByteView b, size_t off) {
    assert(off + 4 <= b.size());
    return uint32_t{b[off]} | (uint32_t{b[off + 1]} << 8) | (uint32_t{b[off + 2]} << 16) |
           (uint32_t{b[off + 3]} << 24);
}
inline uint64_t get_le64(ByteView b, size_t off) {
    return uint64_t{get_le32(b, off)} | (uint64_t{get_le32(b, off + 4)} << 32);
}
inline void put_le16(std::span<uint8_t> b, size_t off, uint16_t v) {
    assert(off + 2 <= b.size());
    b[off] = static_cast<uint8_t>(v);
    b[off + 1] = static_cast<uint8_t>(v >> 8);
}
inline void put_le32(std::span<uint8_t> b, size_t off, uint32_t v) {
    assert(off + 4 <= b.size());
    for (int i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void put_le64(std::span<uint8_t> b, size_t off, uint64_t v) {
    put_le32(b, off, static_cast<uint32_t>(v));
    put_le32(b, off + 4, static_cast<uint32_t>(v >> 32));
}

}  // namespace prfence::wire::nvme
