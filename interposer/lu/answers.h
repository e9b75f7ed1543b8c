// SPDX-License-Identifier: MIT
// The answers a logical unit gives without data: CHECK CONDITION with fixed-format sense,
// RESERVATION CONFLICT, and ILLEGAL REQUEST, INVALID FIELD IN CDB with its field pointer. The
// command set (lu.cpp) and the persistent-reservation state machine (pr_state.cpp) both answer
// with these. Each converts to the caller's result type (CommandResult, PrCommandResult) with
// status and sense set and everything else empty.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "uring_engine/common/bytes.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::sim {

struct StatusAndSense {
    uint8_t status = wire::sam::good;
    Bytes sense;

    template <class R>
    requires requires(R r) {
        r.status = uint8_t{};
        r.sense = Bytes{};
    }
    operator R() && {
        R r;
        r.status = status;
        r.sense = std::move(sense);
        return r;
    }
};

// CHECK CONDITION, fixed-format sense (current error) with key, ASC and ASCQ.
inline StatusAndSense check(wire::SenseKey key, uint8_t asc, uint8_t ascq) {
    return {wire::sam::check_condition, wire::make_fixed_sense(key, asc, ascq)};
}

// RESERVATION CONFLICT, no sense.
inline StatusAndSense conflict() { return {wire::sam::reservation_conflict, {}}; }

// CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB (24h/00h), the field pointer on CDB byte
// `byte` (and bit `bit` when given).
inline StatusAndSense invalid_cdb(uint16_t byte, std::optional<uint8_t> bit = std::nullopt) {
    return {wire::sam::check_condition,
            wire::make_fixed_sense_field_pointer(wire::SenseKey::illegal_request, 0x24, 0, true,
                                                 byte, bit)};
}

}  // namespace prfence::sim
