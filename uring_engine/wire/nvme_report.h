// SPDX-License-Identifier: MIT
// The data NVMe reservations return: the Reservation Status data structure of Reservation Report
// (both layouts) and the Reservation Notification log page (80h). Parsers take the bytes a
// controller returned; encoders produce them (prsim).
//
// Report layouts (NVM Command Set specification, Reservation Report; Linux's struct
// nvme_reservation_status and struct nvme_reservation_status_ext), little-endian:
//
//   header            EDS=0 (24 bytes)                 EDS=1 (64 bytes)
//     0..3   GEN      generation                       same
//     4      RTYPE    0 = no reservation               same
//     5..6   REGCTL   number of registrants (unaligned) same
//     9      PTPLS    bit 0: persist through power loss same
//                                                      24..63 reserved
//   entry             Registered Controller (24 bytes) Registered Controller Extended (64 bytes)
//     0..1   CNTLID   (FFFFh: dynamic controller model) same
//     2      RCSTS    bit 0: the host holds the reservation
//                     8..15  HOSTID (64-bit)           8..15  RKEY
//                     16..23 RKEY                      16..31 HOSTID (128-bit)
//
// Truncation is data, not an error, as with PERSISTENT RESERVE IN: REGCTL counts every registrant
// while the buffer may hold fewer entries. parse_report then decodes the complete entries present
// (registrants.size() < regctl, see is_truncated) and report_len says what buffer would hold all.
#pragma once

#include <cstdint>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/nvme_types.h"

namespace prfence::wire::nvme {

inline constexpr size_t kReportHeaderLen = 24;
inline constexpr size_t kReportEntryLen = 24;
inline constexpr size_t kReportExtHeaderLen = 64;
inline constexpr size_t kReportExtEntryLen = 64;

// The buffer length that holds the header and `regctl` entries of a layout.
inline uint64_t report_len(uint16_t regctl, bool eds) noexcept {
    return eds ? kReportExtHeaderLen + uint64_t{regctl} * kReportExtEntryLen
               : kReportHeaderLen + uint64_t{regctl} * kReportEntryLen;
}
// Whether the buffer held fewer entries than the controller has registrants.
inline bool is_truncated(const ReservationStatus& s) noexcept {
    return s.registrants.size() < s.regctl;
}

// Parses a Report answer in the layout `eds` asked for (the data does not say which it is). The
// 64-bit host identifier of the short layout fills hostid[0..7] as the bytes were sent. Errors:
//  - Errc::truncated: fewer bytes than the header;
//  - Errc::malformed: a reserved RTYPE (7..255); a holder entry while RTYPE says no reservation;
//    holders with different host identifiers under a type that has a single holder (1..4).
// Bytes after REGCTL entries (a buffer larger than the data) are ignored.
Result<ReservationStatus> parse_report(ByteView in, bool eds);

// Encodes `s` in the chosen layout, REGCTL = registrants.size() (s.regctl is not used), then
// truncates to `alloc_len` as a controller does. Error (Errc::invalid_argument): eds false while a
// registrant's host identifier uses bytes 8..15: a controller answers that Report with Host
// Identifier Inconsistent Format (sc::host_id_inconsistent_format) instead; more than 65535
// registrants.
Result<Bytes> encode_report(const ReservationStatus& s, bool eds, uint64_t alloc_len);

// Reservation Notification log page (80h, 64 bytes; Linux's struct nvme_pr_log):
//   0..7 LOG PAGE COUNT, 8 RESERVATION NOTIFICATION LOG PAGE TYPE, 9 NUMBER OF AVAILABLE LOG
//   PAGES, 12..15 NAMESPACE ID. Each read returns the oldest entry; type 0 means empty.
enum class LogType : uint8_t {
    empty = 0,
    registration_preempted = 1,
    reservation_released = 2,
    reservation_preempted = 3,
};
struct ReservationLog {
    uint64_t count = 0;     // increments per entry the controller created (wraps, skipping 0)
    uint8_t type = 0;       // raw LogType
    uint8_t available = 0;  // further entries waiting after this one
    uint32_t nsid = 0;
    bool operator==(const ReservationLog&) const = default;
};
// "Empty Log Page", "Registration Preempted", "Reservation Released", "Reservation Preempted";
// "reserved" for other values.
const char* log_type_name(uint8_t type) noexcept;
// Errors: fewer than 64 bytes (Errc::truncated); a reserved type (4..255, Errc::malformed).
Result<ReservationLog> parse_reservation_log(ByteView in);
// 64 bytes.
Bytes encode_reservation_log(const ReservationLog& log);

}  // namespace prfence::wire::nvme
