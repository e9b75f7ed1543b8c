// SPDX-License-Identifier: MIT
// Operations: the fourteen things an operator asks of a set of LUNs (prfence's subcommands, prfenced's
// group commands), described as data and checked once. Direct mode fills an OpSpec from its options, the
// daemon from netlink attributes; both get the same validation, the same messages and the same plans.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "policy/executor.h"
#include "wire/pr_types.h"
#include "wire/transport_id.h"

namespace prfence::engine {

// Values are part of prfenced's control protocol (PRFENCE_ATTR_OPERATION): append only.
enum class Operation : uint8_t {
    read_keys = 1,        // keys
    read_reservation,     // reservation
    report_capabilities,  // caps
    read_full_status,     // status
    register_key,         // register (REGISTER, or REGISTER AND IGNORE EXISTING KEY)
    unregister,           // unregister (REGISTER with service action key 0)
    reserve,
    release,
    clear,
    preempt,              // preempt (PREEMPT, or PREEMPT AND ABORT with abort)
    move,                 // REGISTER AND MOVE
    replace_lost,         // REPLACE LOST RESERVATION
    fence,                // READ KEYS, PREEMPT AND ABORT of the victim, READ RESERVATION
    takeover,             // forced break-in (needs force)
    probe,                // READ and SYNCHRONIZE CACHE: may this nexus read, write?
};
inline constexpr uint8_t kOperationMax = static_cast<uint8_t>(Operation::probe);

// The subcommand name ("keys", "register", "replace-lost", ...).
const char* operation_name(Operation op);
std::optional<Operation> parse_operation(std::string_view name);
// Changes no PR state and no data (PR IN, probe): safe to run against LUNs in use; takes no key.
bool operation_is_read(Operation op);

struct OpSpec {
    Operation op = Operation::read_keys;
    std::optional<uint64_t> key;      // our key (--key); for replace-lost, the new key
    std::optional<uint64_t> sa_key;   // preempt/fence: the victim (--victim); move: --to-key
    std::optional<uint64_t> old_key;  // register: the key registered now (--old-key)
    std::optional<wire::PrType> type; // fence/takeover default to WE-RO
    bool ignore_existing = false;     // register: REGISTER AND IGNORE EXISTING KEY
    bool aptpl = false;
    bool all_tg_pt = false;           // register: once for all target ports (when ATP_C)
    bool abort = false;               // preempt: PREEMPT AND ABORT
    bool no_abort = false;            // fence/takeover: PREEMPT instead of PREEMPT AND ABORT
    bool unreg = false;               // move: unregister ourselves after the move
    bool force = false;               // takeover: required
    std::vector<wire::TransportId> transport_ids;  // register (SPEC_I_PT), move (exactly one)
    uint16_t rel_port = 0;            // move: the destination's relative target port
    uint32_t timeout_ms = 20000;      // per command
};

using JobMaker = std::function<std::unique_ptr<LunJob>()>;

// Checks `spec` against its operation (required values, combinations SPC-4 forbids, takeover without
// force, fencing our own key) and returns what builds each LUN's job. Errors are invalid_argument with
// a message naming the option as prfence spells it ("--key is required").
Result<JobMaker> make_operation(const OpSpec& spec);

}  // namespace prfence::engine
