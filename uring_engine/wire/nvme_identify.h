// SPDX-License-Identifier: MIT
// The parts of Identify Namespace (CNS 0) and Identify Controller (CNS 1) that decide whether and
// how NVMe reservations can be used, and their encoders (prsim answers Identify). Offsets from the
// NVMe base and NVM command set specifications, as laid out by Linux's struct nvme_id_ns and struct
// nvme_id_ctrl (include/linux/nvme.h), little-endian:
//
//   Identify Namespace          Identify Controller
//     0..7    NSZE                4..23     SN  (ASCII, space padded)
//     8..15   NCAP                24..63    MN  (ASCII, space padded)
//     16..23  NUSE                64..71    FR  (ASCII, space padded)
//     25      NLBAF (zero-based)  78..79    CNTLID
//     26      FLBAS               80..83    VER
//     30      NMIC                96..99    CTRATT  (bit 0: 128-bit host identifier)
//     31      RESCAP              520..521  ONCS    (bit 5: reservations)
//     128..   LBAF[64], 4 bytes   768..1023 SUBNQN  (NUL padded)
//             each, LBADS at +2
//
// RESCAP: bit 0 persist through power loss; bits 1..6 the reservation types, bit N = RTYPE N;
// bit 7: IEKEY means what NVMe 1.3 and later define rather than 1.2.1 (nvmet sets it, honours
// IEKEY on Register and answers Invalid Field to IEKEY on Acquire and Release).
#pragma once

#include <cstdint>
#include <string>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/nvme_types.h"

namespace prfence::wire::nvme {

namespace rescap {
inline constexpr uint8_t ptpl = 1u << 0;
inline constexpr uint8_t iekey_13 = 1u << 7;
inline constexpr uint8_t type_bit(Rtype t) {
    return static_cast<uint8_t>(1u << static_cast<int>(t));
}
}  // namespace rescap
inline constexpr uint16_t kOncsReservations = 1u << 5;
inline constexpr uint32_t kCtrattHostId128 = 1u << 0;

struct IdentifyNamespace {
    uint64_t nsze = 0;  // size in logical blocks
    uint64_t ncap = 0;
    uint64_t nuse = 0;
    uint8_t nlbaf = 0;  // number of LBA formats, zero-based
    uint8_t flbas = 0;
    uint8_t nmic = 0;  // bit 0: may be attached to several controllers
    uint8_t rescap = 0;
    uint32_t lba_size = 0;  // bytes per block of the format in use; 0 when FLBAS names no format
    bool operator==(const IdentifyNamespace&) const = default;
};

struct IdentifyController {
    uint16_t vid = 0;
    std::string serial;  // trailing spaces and NULs removed, non-printable bytes shown as '.'
    std::string model;
    std::string firmware;
    uint16_t cntlid = 0;
    uint32_t ver = 0;
    uint32_t ctratt = 0;
    uint16_t oncs = 0;
    std::string subnqn;
    bool operator==(const IdentifyController&) const = default;
};

// Both need the full 4096 bytes (Errc::truncated otherwise); no field value is an error.
Result<IdentifyNamespace> parse_identify_ns(ByteView in);
Result<IdentifyController> parse_identify_ctrl(ByteView in);
// 4096 bytes. The namespace encoder writes one LBA format (index FLBAS) of lba_size, which must
// be a power of two (else no format is written); strings are cut to their field.
Bytes encode_identify_ns(const IdentifyNamespace& ns);
Bytes encode_identify_ctrl(const IdentifyController& c);

// What a host can do with reservations on one namespace of one controller.
struct ReservationCaps {
    // ONCS bit 5 AND RESCAP != 0. ONCS alone is not enough: Linux's nvmet advertises ONCS
    // reservations on every controller but sets RESCAP only on namespaces with reservations
    // enabled.
    bool supported = false;
    uint8_t types = 0;         // bit N set: RTYPE N supported (RESCAP bits 1..6)
    bool ptpl = false;         // persist through power loss
    bool iekey_13 = false;     // RESCAP bit 7: IEKEY as NVMe 1.3 and later define it
    bool host_id_128 = false;  // the controller uses 128-bit host identifiers: Report needs EDS
    bool supports(Rtype t) const noexcept { return supported && (types & rescap::type_bit(t)); }
    bool operator==(const ReservationCaps&) const = default;
};
ReservationCaps reservation_caps(const IdentifyController& c, const IdentifyNamespace& ns) noexcept;

}  // namespace prfence::wire::nvme
