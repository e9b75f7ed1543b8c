// SPDX-License-Identifier: MIT
#include "uring_engine/wire/pr_types.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace prfence::wire {
namespace {

constexpr std::array<const char*, 4> kPrinNames = {"READ KEYS", "READ RESERVATION",
                                                   "REPORT CAPABILITIES", "READ FULL STATUS"};
constexpr std::array<const char*, 9> kProutNames = {"REGISTER",
                                                    "RESERVE",
                                                    "RELEASE",
                                                    "CLEAR",
                                                    "PREEMPT",
                                                    "PREEMPT AND ABORT",
                                                    "REGISTER AND IGNORE EXISTING KEY",
                                                    "REGISTER AND MOVE",
                                                    "REPLACE LOST RESERVATION"};

struct TypeRow {
    uint8_t value;
    const char* name;
    const char* abbrev;
    const char* long_key;  // lowercase, '-' separated, for parse_type
};
// sg_persist prints these names; types 2 and 4 were SPC-2 era element/read types, now obsolete.
constexpr std::array<TypeRow, 9> kTypes = {{
    {0, "obsolete [0]", "", ""},
    {1, "Write Exclusive", "WE", "write-exclusive"},
    {2, "obsolete [2]", "", ""},
    {3, "Exclusive Access", "EA", "exclusive-access"},
    {4, "obsolete [4]", "", ""},
    {5, "Write Exclusive, registrants only", "WE-RO", "write-exclusive-registrants-only"},
    {6, "Exclusive Access, registrants only", "EA-RO", "exclusive-access-registrants-only"},
    {7, "Write Exclusive, all registrants", "WE-AR", "write-exclusive-all-registrants"},
    {8, "Exclusive Access, all registrants", "EA-AR", "exclusive-access-all-registrants"},
}};

std::string normalise(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '_' || c == ' ' || c == ',') c = '-';
        if (c == '-' && !out.empty() && out.back() == '-') continue;
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

}  // namespace

const char* prin_action_name(PrInAction a) noexcept {
    return prin_action_name(static_cast<uint8_t>(a));
}
const char* prout_action_name(PrOutAction a) noexcept {
    return prout_action_name(static_cast<uint8_t>(a));
}

const char* prin_action_name(uint8_t sa) noexcept {
    return sa < kPrinNames.size() ? kPrinNames[sa] : "reserved service action";
}
const char* prout_action_name(uint8_t sa) noexcept {
    return sa < kProutNames.size() ? kProutNames[sa] : "reserved service action";
}

const char* type_name(uint8_t type) noexcept {
    if (type < kTypes.size()) return kTypes[type].name;
    return "reserved type";
}
const char* type_abbrev(uint8_t type) noexcept {
    return type < kTypes.size() ? kTypes[type].abbrev : "";
}

bool is_valid_type(uint8_t type) noexcept {
    return type < kTypes.size() && kTypes[type].abbrev[0] != '\0';
}

bool is_registrants_only(PrType t) noexcept {
    return t == PrType::write_exclusive_registrants_only ||
           t == PrType::exclusive_access_registrants_only;
}
bool is_all_registrants(PrType t) noexcept {
    return t == PrType::write_exclusive_all_registrants ||
           t == PrType::exclusive_access_all_registrants;
}

Result<PrType> parse_type(std::string_view text) {
    std::string n = normalise(text);
    if (n.size() == 1 && n[0] >= '0' && n[0] <= '9') {
        uint8_t v = static_cast<uint8_t>(n[0] - '0');
        if (is_valid_type(v)) return static_cast<PrType>(v);
    }
    for (const auto& row : kTypes) {
        if (row.abbrev[0] == '\0') continue;
        if (n == normalise(row.abbrev) || n == row.long_key || n == normalise(row.name))
            return static_cast<PrType>(row.value);
    }
    return fail(Errc::invalid_argument,
                "reservation type '" + std::string(text) +
                    "': expected 1 (WE), 3 (EA), 5 (WE-RO), 6 (EA-RO), 7 (WE-AR) or 8 (EA-AR)");
}

}  // namespace prfence::wire
