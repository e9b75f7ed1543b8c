// SPDX-License-Identifier: MIT
// What an operator asks of a set of LUs, as plain data: the operation (prfence's subcommands,
// prfenced's group commands) and its parameters. Direct mode fills an OpSpec from its options, the
// daemon from control attributes; policy/operations.h turns one into per-LU jobs. Free of io_uring
// so that the control protocol and its clients can speak of operations without linking the engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/wire/pr_types.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::engine {

// Values are part of prfenced's control protocol (ATTR_OPERATION): append only.
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
    preempt,       // preempt (PREEMPT, or PREEMPT AND ABORT with abort)
    move,          // REGISTER AND MOVE
    replace_lost,  // REPLACE LOST RESERVATION
    fence,         // READ KEYS, PREEMPT AND ABORT of the victim, READ RESERVATION
    takeover,      // forced break-in (needs force)
    probe,         // READ and SYNCHRONIZE CACHE: may this nexus read, write?
    unfence,       // REGISTER AND IGNORE EXISTING KEY on every path; RESERVE when nobody holds it
    verify,        // READ KEYS and READ RESERVATION: is the fence in place?
};
inline constexpr uint8_t kOperationMax = static_cast<uint8_t>(Operation::verify);

// The subcommand name ("keys", "register", "replace-lost", ...).
const char* operation_name(Operation op);
std::optional<Operation> parse_operation(std::string_view name);
// Changes no PR state and no data (PR IN, probe, verify): safe to run against LUNs in use.
bool operation_is_read(Operation op);
// A value of the enum (the control protocol may carry any byte).
bool operation_name_known(Operation op);

struct OpSpec {
    Operation op = Operation::read_keys;
    std::optional<uint64_t> key;       // our key (--key); for replace-lost, the new key
    std::optional<uint64_t> sa_key;    // preempt/fence: the victim (--victim); move: --to-key
    std::optional<uint64_t> old_key;   // register: the key registered now (--old-key)
    std::optional<wire::PrType> type;  // fence/takeover default to WE-RO
    bool ignore_existing = false;      // register: REGISTER AND IGNORE EXISTING KEY
    bool aptpl = false;
    bool all_tg_pt = false;  // register: once for all target ports (when ATP_C)
    bool abort = false;      // preempt: PREEMPT AND ABORT
    bool no_abort = false;   // fence/takeover: PREEMPT instead of PREEMPT AND ABORT
    bool unreg = false;      // move: unregister ourselves after the move
    bool force = false;      // takeover: required
    // fence: first REGISTER AND IGNORE EXISTING KEY with our key on every path, and after the
    // preempt RESERVE with the type when nobody holds the LU (a fenced node could otherwise still
    // write to an unreserved LU). What a fence agent runs: it cannot assume its own node was
    // unfenced on every LU.
    bool claim = false;
    std::vector<wire::TransportId> transport_ids;  // register (SPEC_I_PT), move (exactly one)
    uint16_t rel_port = 0;                         // move: the destination's relative target port
    uint32_t timeout_ms = 20000;                   // per command
};

}  // namespace prfence::engine
