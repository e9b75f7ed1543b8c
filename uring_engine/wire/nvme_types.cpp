// SPDX-License-Identifier: MIT
// The RTYPE <-> SCSI TYPE table. Both standards list the six types in the same order (NVM Command
// Set, Reservation Type Encoding; SPC-4 table "Persistent reservation type codes"), and Linux's
// enum nvme_pr_type / enum scsi_pr_type agree.
#include "uring_engine/wire/nvme_types.h"

#include <array>

namespace prfence::wire::nvme {
namespace {

struct TypeRow {
    Rtype nvme;
    PrType scsi;
};
constexpr std::array<TypeRow, 6> kTypes = {{
    {Rtype::write_exclusive, PrType::write_exclusive},
    {Rtype::exclusive_access, PrType::exclusive_access},
    {Rtype::write_exclusive_registrants_only, PrType::write_exclusive_registrants_only},
    {Rtype::exclusive_access_registrants_only, PrType::exclusive_access_registrants_only},
    {Rtype::write_exclusive_all_registrants, PrType::write_exclusive_all_registrants},
    {Rtype::exclusive_access_all_registrants, PrType::exclusive_access_all_registrants},
}};

// "reserved [N]" for every byte value, built at compile time so rtype_name can stay noexcept and
// return a stable pointer.
constexpr std::array<std::array<char, 15>, 256> reserved_names() {
    std::array<std::array<char, 15>, 256> t{};
    constexpr char kPrefix[] = "reserved [";
    for (size_t v = 0; v < 256; ++v) {
        size_t i = 0;
        for (; kPrefix[i] != '\0'; ++i) t[v][i] = kPrefix[i];
        if (v >= 100) t[v][i++] = static_cast<char>('0' + v / 100);
        if (v >= 10) t[v][i++] = static_cast<char>('0' + v / 10 % 10);
        t[v][i++] = static_cast<char>('0' + v % 10);
        t[v][i++] = ']';
        t[v][i] = '\0';
    }
    return t;
}
constexpr auto kReservedNames = reserved_names();

}  // namespace

std::optional<PrType> to_scsi(Rtype t) noexcept {
    for (const auto& row : kTypes)
        if (row.nvme == t) return row.scsi;
    return std::nullopt;
}

std::optional<Rtype> from_scsi(PrType t) noexcept {
    for (const auto& row : kTypes)
        if (row.scsi == t) return row.nvme;
    return std::nullopt;
}

const char* rtype_name(uint8_t rtype) noexcept {
    if (rtype == 0) return "none";
    if (auto scsi = to_scsi(static_cast<Rtype>(rtype))) return type_name(*scsi);
    return kReservedNames[rtype].data();
}

}  // namespace prfence::wire::nvme
