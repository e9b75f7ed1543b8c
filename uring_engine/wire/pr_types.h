// SPDX-License-Identifier: MIT
// Persistent-reservation vocabulary (SPC-4 6.15/6.16): service actions, reservation types and their
// names, in both T10's spelling and sg_persist's abbreviations and numbering.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "uring_engine/common/result.h"

namespace prfence::wire {

inline constexpr uint8_t kOpPersistentReserveIn = 0x5e;
inline constexpr uint8_t kOpPersistentReserveOut = 0x5f;

enum class PrInAction : uint8_t {
    read_keys = 0x00,
    read_reservation = 0x01,
    report_capabilities = 0x02,
    read_full_status = 0x03,
};

enum class PrOutAction : uint8_t {
    register_key = 0x00,
    reserve = 0x01,
    release = 0x02,
    clear = 0x03,
    preempt = 0x04,
    preempt_and_abort = 0x05,
    register_and_ignore = 0x06,
    register_and_move = 0x07,
    replace_lost = 0x08,
};

// Reservation TYPE field values. 0 means "no type" (REGISTER, CLEAR, ... ignore the field).
enum class PrType : uint8_t {
    none = 0x0,
    write_exclusive = 0x1,
    exclusive_access = 0x3,
    write_exclusive_registrants_only = 0x5,
    exclusive_access_registrants_only = 0x6,
    write_exclusive_all_registrants = 0x7,
    exclusive_access_all_registrants = 0x8,
};

// T10 names: "READ KEYS", "PREEMPT AND ABORT", "REGISTER AND IGNORE EXISTING KEY", ...
const char* prin_action_name(PrInAction a) noexcept;
const char* prout_action_name(PrOutAction a) noexcept;
// Raw service action byte (may be a reserved value): "service action 0xNN" when unassigned.
const char* prin_action_name(uint8_t sa) noexcept;
const char* prout_action_name(uint8_t sa) noexcept;

// "Write Exclusive", "Exclusive Access, registrants only", ... (sg_persist's spelling); "obsolete
// [2]" etc for other values, so a decoder can print whatever a device answers.
const char* type_name(uint8_t type) noexcept;
// sg_persist's abbreviations: "WE", "EA", "WE-RO", "EA-RO", "WE-AR", "EA-AR" ("" for other values).
const char* type_abbrev(uint8_t type) noexcept;
inline const char* type_name(PrType t) noexcept { return type_name(static_cast<uint8_t>(t)); }

// Whether `type` is one of the six defined reservation types.
bool is_valid_type(uint8_t type) noexcept;
// Registrants-only and all-registrants types: registration decides access.
bool is_registrants_only(PrType t) noexcept;
bool is_all_registrants(PrType t) noexcept;

// Parses a reservation type as operators write it: the sg_persist number ("1", "3", "5".."8"), the
// abbreviation ("WE", "EA", "WE-RO", "EA-RO", "WE-AR", "EA-AR", also with '_' and in lower case),
// or the long name ("write-exclusive", "exclusive-access-registrants-only", ...).
Result<PrType> parse_type(std::string_view text);

}  // namespace prfence::wire
