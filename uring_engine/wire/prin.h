// SPDX-License-Identifier: MIT
// PERSISTENT RESERVE IN answers (SPC-4 6.15): READ KEYS, READ RESERVATION, REPORT CAPABILITIES and
// READ FULL STATUS. Parsers take whatever bytes the device returned (the residual already
// subtracted).
//
// Truncation is data, not an error: a device reports the ADDITIONAL LENGTH it *wanted* to return,
// which may exceed the allocation length. Parsers then decode every complete entry present, set
// `truncated`, and set `needed` to the allocation length that would fetch everything, so the caller
// can re-issue larger. Errors are reserved for answers that cannot be right: fewer than 8 header
// bytes, an ADDITIONAL LENGTH that is not a multiple of the entry size, a full-status descriptor
// whose TransportID does not decode.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/pr_types.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::wire {

struct ReadKeys {
    uint32_t generation = 0;
    std::vector<uint64_t>
        keys;  // one per registered I_T nexus, in device order (duplicates are normal)
    bool truncated = false;
    uint32_t needed = 0;  // 8 + ADDITIONAL LENGTH

    bool operator==(const ReadKeys&) const = default;
};

struct ReadReservation {
    uint32_t generation = 0;
    bool reserved = false;  // ADDITIONAL LENGTH 10h: a reservation exists
    uint64_t key = 0;       // holder's key; 0 for all-registrants types
    uint8_t scope = 0;
    uint8_t type = 0;  // raw TYPE (see type_name)
    bool truncated = false;
    uint32_t needed = 0;

    bool operator==(const ReadReservation&) const = default;
};

struct Capabilities {
    bool rlr_c = false;          // REPLACE LOST RESERVATION capable
    bool crh = false;            // compatible reservation handling (SPC-2 RESERVE vs PR)
    bool sip_c = false;          // SPEC_I_PT capable
    bool atp_c = false;          // ALL_TG_PT capable
    bool ptpl_c = false;         // persist through power loss capable
    bool tmv = false;            // type mask valid
    uint8_t allow_commands = 0;  // ALLOW COMMANDS field (0-5)
    bool ptpl_a = false;         // persist through power loss activated
    uint16_t type_mask = 0;      // raw PERSISTENT RESERVATION TYPE MASK (bytes 4-5)
    bool truncated = false;
    uint16_t length = 0;  // LENGTH field (8 in SPC-4)

    // Whether the type mask says `t` is supported (false when tmv is clear).
    bool supports(PrType t) const noexcept;
    bool operator==(const Capabilities&) const = default;
};

struct FullStatusEntry {
    uint64_t key = 0;
    bool all_tg_pt = false;
    bool holder = false;  // R_HOLDER
    uint8_t scope = 0;
    uint8_t type = 0;           // valid when holder
    uint16_t rel_tgt_port = 0;  // RELATIVE TARGET PORT IDENTIFIER (meaningless with all_tg_pt)
    TransportId transport_id;

    bool operator==(const FullStatusEntry&) const = default;
};

struct FullStatus {
    uint32_t generation = 0;
    std::vector<FullStatusEntry> entries;
    bool truncated = false;
    uint32_t needed = 0;

    bool operator==(const FullStatus&) const = default;
};

// The bit of PERSISTENT RESERVATION TYPE MASK (bytes 4-5 as one big-endian value) that stands for
// `t` (SPC-4 6.15.4: WR_EX_AR 8000h, EX_AC_RO 4000h, WR_EX_RO 2000h, EX_AC 0800h, WR_EX 0200h,
// EX_AC_AR 0001h); 0 for none.
uint16_t type_mask_bit(PrType t) noexcept;

Result<ReadKeys> parse_read_keys(ByteView in);
Result<ReadReservation> parse_read_reservation(ByteView in);
Result<Capabilities> parse_capabilities(ByteView in);
Result<FullStatus> parse_full_status(ByteView in);

// Encoders produce the device's answer (prsim uses them) and then truncate to `alloc_len`, exactly
// as a device does: ADDITIONAL LENGTH always describes everything.
Bytes encode_read_keys(const ReadKeys& v, uint16_t alloc_len);
Bytes encode_read_reservation(const ReadReservation& v, uint16_t alloc_len);
Bytes encode_capabilities(const Capabilities& v, uint16_t alloc_len);
Result<Bytes> encode_full_status(const FullStatus& v, uint16_t alloc_len);

// Allocation lengths that fit typical answers in one round trip: READ KEYS for 1024 keys, READ FULL
// STATUS for 64 iSCSI registrants with long names. Callers re-issue with `needed` when truncated.
inline constexpr uint16_t kDefaultKeysAlloc = 8 + 8 * 1024;
inline constexpr uint16_t kDefaultFullStatusAlloc = 16384;

}  // namespace prfence::wire
