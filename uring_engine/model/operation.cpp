// SPDX-License-Identifier: MIT
#include "uring_engine/model/operation.h"

#include <array>
#include <cstddef>

namespace prfence::engine {
namespace {

struct OpRow {
    Operation op;
    const char* name;
    bool read;
};
// One row per operation, in enum order.
constexpr std::array<OpRow, kOperationMax> kOps{{
    {Operation::read_keys, "keys", true},
    {Operation::read_reservation, "reservation", true},
    {Operation::report_capabilities, "caps", true},
    {Operation::read_full_status, "status", true},
    {Operation::register_key, "register", false},
    {Operation::unregister, "unregister", false},
    {Operation::reserve, "reserve", false},
    {Operation::release, "release", false},
    {Operation::clear, "clear", false},
    {Operation::preempt, "preempt", false},
    {Operation::move, "move", false},
    {Operation::replace_lost, "replace-lost", false},
    {Operation::fence, "fence", false},
    {Operation::takeover, "takeover", false},
    {Operation::probe, "probe", true},
    {Operation::unfence, "unfence", false},
    {Operation::verify, "verify", true},
}};

const OpRow* row(Operation op) {
    auto i = static_cast<size_t>(op);
    return i >= 1 && i <= kOps.size() ? &kOps[i - 1] : nullptr;
}

}  // namespace

const char* operation_name(Operation op) {
    const OpRow* r = row(op);
    return r ? r->name : "unknown";
}

std::optional<Operation> parse_operation(std::string_view name) {
    for (const auto& r : kOps)
        if (name == r.name) return r.op;
    return std::nullopt;
}

bool operation_is_read(Operation op) {
    const OpRow* r = row(op);
    return r && r->read;
}

bool operation_name_known(Operation op) { return row(op) != nullptr; }

}  // namespace prfence::engine
