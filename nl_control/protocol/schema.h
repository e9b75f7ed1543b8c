// SPDX-License-Identifier: MIT
// Internal to prfence_nlproto (and its tests): the schema of the control protocol. One Rule per
// attribute of each attribute set (top-level, LUN, SUM, GRP, H, ST, EV, CF, LP, PATH, NVME, NR
// and the kernel's extended-ack TLVs) says the attribute's name, kind, repeat limit, length or
// value limits and any check a libnl policy cannot express; libnl's nla_policy tables are derived
// from it at compile time. One CmdRule per command says which top-level attributes a request may
// and must carry and what its answer holds.
//
// Every limit of the protocol is stated here once: the validating walker (walk.h) enforces the
// rules, the encoders (payloads.h) clip what they write to them, and encode_request checks a
// caller's values against them. nl_control/PROTOCOL.md's attribute tables are compared with these
// tables by ctest (nl_protocol_doc_test).
#pragma once

#include <netlink/attr.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "nl_control/protocol/message.h"

namespace prfence::nl::schema {

// How an attribute's payload is laid out.
enum class AttrKind : uint8_t { none, u8, u16, u32, u64, str, bin, nest };

// Checks a policy cannot express, applied after the kind and length checks.
enum class ValueCheck : uint8_t {
    none,
    range,      // lo <= value <= hi
    boolean,    // 0 or 1
    group,      // a group name: [A-Za-z0-9._-], length lo..hi
    pr_type,    // a reservation type: 1, 3, 5, 6, 7, 8
    flags,      // ATTR_FLAGS: within kOpFlagsAll (CMD_RUN) or kStatsFlagsAll (CMD_STATS)
    mask,       // no bit outside hi
    tid,        // wire::parse_transport_id accepts the text
    printable,  // printable ASCII only (0x20-0x7e): an NVMe Qualified Name
};

enum AttrSetId : uint8_t {
    kSetTop,       // Attr
    kSetLun,       // LunAttr (ATTR_LUN)
    kSetSummary,   // SumAttr (ATTR_SUMMARY, EV_SUMMARY)
    kSetGroup,     // GroupAttr (ATTR_GROUP_INFO)
    kSetHealth,    // HealthAttr (ATTR_HEALTH)
    kSetStats,     // StatAttr (ATTR_OP_STATS)
    kSetEvent,     // EventAttr (ATTR_EVENT)
    kSetConflict,  // ConflictAttr (ATTR_CONFLICT, EV_CONFLICT)
    kSetLunPaths,  // LunPathsAttr (LUN_PATHS)
    kSetPath,      // PathAttr (LP_PATH)
    kSetNvme,      // NvmeAttr (LUN_NVME)
    kSetNvmeReg,   // NvmeRegistrantAttr (NVME_REGISTRANT)
    kSetExtAck,    // NLMSGERR_ATTR_* (linux/netlink.h)
    kSetCount
};

struct Rule {
    uint16_t id;
    const char* name;  // as in family.h, e.g. "ATTR_TYPE": refusals name attributes by it
    AttrKind kind;
    uint32_t max_count;  // 1: single; more: repeated up to this many
    uint64_t lo, hi;     // str/bin: payload length (strings without their NUL); ints: see check
    ValueCheck check;
    AttrSetId nest;  // AttrKind::nest: the nested set
};

struct AttrSet {
    const char* name;          // for messages: "the message", "ATTR_LUN", ...
    const Rule* rules;         // indexed by attribute type, 0..max
    uint16_t max;              // highest attribute type
    const nla_policy* policy;  // derived from rules, for nlmsg_parse / nla_parse_nested
    uint64_t required;         // nests: attributes every instance must hold (bit per type)
    bool ignore_unknown;       // the kernel's ack TLVs grow; prfence's sets do not
};

struct CmdRule {
    uint8_t cmd;
    bool request;                              // a client may send it
    uint64_t allowed, required;                // request attributes (bit per type)
    uint64_t answer_allowed, answer_required;  // kMsgType answer messages with this cmd
};

constexpr uint64_t bit(unsigned type) { return uint64_t{1} << type; }

const AttrSet& attr_set(AttrSetId set);
// The rule of attribute `type` of `set`; `type` must be within 0..attr_set(set).max.
const Rule& rule_of(AttrSetId set, uint16_t type);
// The rule of command `cmd`; `cmd` must be within 0..kCmdMax.
const CmdRule& cmd_rule(uint8_t cmd);
// "CMD_RUN", ...; `cmd` must be within 0..kCmdMax.
const char* cmd_name(uint8_t cmd);

// Why `s` is not a group name (1-64 bytes of [A-Za-z0-9._-]), or empty when it is one.
std::string group_problem(std::string_view s);
bool valid_pr_type(uint64_t v);
// Where `s` leaves printable ASCII (0x20-0x7e), or empty when it does not.
std::string printable_problem(std::string_view s);
inline constexpr char kPrTypeList[] = "(1 WE, 3 EA, 5 WE-RO, 6 EA-RO, 7 WE-AR, 8 EA-AR)";

// printf into a std::string (refusal texts), cut at 511 bytes.
std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));

}  // namespace prfence::nl::schema
