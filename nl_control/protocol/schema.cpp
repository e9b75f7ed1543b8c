// SPDX-License-Identifier: MIT
// The control protocol's schema: the rule tables of schema.h and the libnl policies derived from
// them.
#include "nl_control/protocol/schema.h"

#include <linux/netlink.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <iterator>

#include "uring_engine/common/bytes.h"

namespace prfence::nl::schema {
namespace {

constexpr const char* kCmdNames[] = {
    "CMD_UNSPEC",        "CMD_GET_FAMILY", "CMD_NOOP",         "CMD_HEALTH",       "CMD_STATS",
    "CMD_GROUP_CREATE",  "CMD_GROUP_ADD",  "CMD_GROUP_REMOVE", "CMD_GROUP_DELETE", "CMD_GROUP_LIST",
    "CMD_GROUP_REFRESH", "CMD_RUN",        "CMD_SUBSCRIBE",    "CMD_UNSUBSCRIBE",  "CMD_EVENT",
    "CMD_CONFLICT",      "CMD_RELOAD",
};
static_assert(std::size(kCmdNames) == CMD_MAX_PLUS_ONE);

// ---------------------------------------------------------------------------------------------------
// Attribute rules. The short constructors keep each table one row per attribute.

constexpr Rule make_rule(uint16_t id, const char* n, AttrKind k, uint32_t cnt = 1, uint64_t lo = 0,
                         uint64_t hi = 0, ValueCheck c = ValueCheck::none,
                         AttrSetId nest = kSetCount) {
    return Rule{id, n, k, cnt, lo, hi, c, nest};
}
constexpr Rule U8(uint16_t id, const char* n, ValueCheck c = ValueCheck::none, uint64_t lo = 0,
                  uint64_t hi = 0) {
    return make_rule(id, n, AttrKind::u8, 1, lo, hi, c);
}
constexpr Rule U16(uint16_t id, const char* n, ValueCheck c = ValueCheck::none, uint64_t lo = 0,
                   uint64_t hi = 0) {
    return make_rule(id, n, AttrKind::u16, 1, lo, hi, c);
}
constexpr Rule U32(uint16_t id, const char* n, ValueCheck c = ValueCheck::none, uint64_t lo = 0,
                   uint64_t hi = 0) {
    return make_rule(id, n, AttrKind::u32, 1, lo, hi, c);
}
constexpr Rule U64(uint16_t id, const char* n) { return make_rule(id, n, AttrKind::u64); }
constexpr Rule STR(uint16_t id, const char* n, uint64_t lo, uint64_t hi, uint32_t cnt = 1,
                   ValueCheck c = ValueCheck::none) {
    return make_rule(id, n, AttrKind::str, cnt, lo, hi, c);
}
constexpr Rule BIN(uint16_t id, const char* n, uint64_t lo, uint64_t hi) {
    return make_rule(id, n, AttrKind::bin, 1, lo, hi);
}
constexpr Rule NEST(uint16_t id, const char* n, AttrSetId s, uint32_t cnt = 1) {
    return make_rule(id, n, AttrKind::nest, cnt, 0, 0, ValueCheck::none, s);
}
constexpr Rule NONE(uint16_t id, const char* n) { return make_rule(id, n, AttrKind::none, 0); }

constexpr Rule kTopRules[] = {
    NONE(ATTR_UNSPEC, "ATTR_UNSPEC"),
    STR(ATTR_FAMILY_NAME, "ATTR_FAMILY_NAME", 1, 64),
    U32(ATTR_VERSION, "ATTR_VERSION"),
    U32(ATTR_MIN_VERSION, "ATTR_MIN_VERSION"),
    U32(ATTR_MAX_ATTR, "ATTR_MAX_ATTR"),
    make_rule(ATTR_COMMAND, "ATTR_COMMAND", AttrKind::u8, 255, 1, kCmdMax, ValueCheck::range),
    STR(ATTR_GROUP, "ATTR_GROUP", 1, kMaxGroupName, 1, ValueCheck::group),
    STR(ATTR_DEVICE, "ATTR_DEVICE", 1, kMaxDeviceLen, kMaxDevices),
    STR(ATTR_INITIATOR, "ATTR_INITIATOR", 1, kMaxTransportIdLen, 1, ValueCheck::tid),
    U16(ATTR_TARGET_PORT, "ATTR_TARGET_PORT", ValueCheck::range, 1, 65535),
    U8(ATTR_SG_TRANSPORT, "ATTR_SG_TRANSPORT", ValueCheck::range, SG_TRANSPORT_URING,
       SG_TRANSPORT_SGIO),
    U8(ATTR_OPERATION, "ATTR_OPERATION", ValueCheck::range, 1, engine::kOperationMax),
    U64(ATTR_KEY, "ATTR_KEY"),
    U64(ATTR_SA_KEY, "ATTR_SA_KEY"),
    U64(ATTR_OLD_KEY, "ATTR_OLD_KEY"),
    U8(ATTR_TYPE, "ATTR_TYPE", ValueCheck::pr_type),
    U32(ATTR_FLAGS, "ATTR_FLAGS", ValueCheck::flags),
    STR(ATTR_TRANSPORT_ID, "ATTR_TRANSPORT_ID", 1, kMaxTransportIdLen, kMaxTransportIds,
        ValueCheck::tid),
    U16(ATTR_REL_PORT, "ATTR_REL_PORT", ValueCheck::range, 1, 65535),
    U32(ATTR_TIMEOUT_MS, "ATTR_TIMEOUT_MS", ValueCheck::range, 1, 3600000),
    U32(ATTR_DEADLINE_MS, "ATTR_DEADLINE_MS", ValueCheck::range, 1, 86400000),
    NEST(ATTR_LUN, "ATTR_LUN", kSetLun, 1u << 20),
    NEST(ATTR_SUMMARY, "ATTR_SUMMARY", kSetSummary),
    NEST(ATTR_GROUP_INFO, "ATTR_GROUP_INFO", kSetGroup),
    NEST(ATTR_HEALTH, "ATTR_HEALTH", kSetHealth),
    NEST(ATTR_OP_STATS, "ATTR_OP_STATS", kSetStats, 1024),
    NEST(ATTR_EVENT, "ATTR_EVENT", kSetEvent),
    NEST(ATTR_CONFLICT, "ATTR_CONFLICT", kSetConflict),
    U32(ATTR_EVENT_MASK, "ATTR_EVENT_MASK", ValueCheck::mask, 0, kEventMaskAll),
    U32(ATTR_QD, "ATTR_QD", ValueCheck::range, 1, 65536),
    STR(ATTR_HOSTNQN, "ATTR_HOSTNQN", 1, kMaxNqnLen, 1, ValueCheck::printable),
    BIN(ATTR_HOSTID, "ATTR_HOSTID", 16, 16),
};

constexpr Rule kLunRules[] = {
    NONE(LUN_UNSPEC, "LUN_UNSPEC"),
    U32(LUN_INDEX, "LUN_INDEX"),
    STR(LUN_DEVICE, "LUN_DEVICE", 0, kMaxDeviceLen),
    U8(LUN_OK, "LUN_OK", ValueCheck::boolean),
    U8(LUN_FINISHED, "LUN_FINISHED", ValueCheck::boolean),
    U8(LUN_CATEGORY, "LUN_CATEGORY"),
    STR(LUN_STEP, "LUN_STEP", 0, kMaxName),
    STR(LUN_ERROR, "LUN_ERROR", 0, kMaxLunError),
    U8(LUN_STATUS, "LUN_STATUS"),
    BIN(LUN_SENSE, "LUN_SENSE", 1, kMaxSense),
    U32(LUN_ERRNO, "LUN_ERRNO"),
    U8(LUN_TIMED_OUT, "LUN_TIMED_OUT", ValueCheck::boolean),
    U64(LUN_LATENCY_NS, "LUN_LATENCY_NS"),
    U32(LUN_COMMANDS, "LUN_COMMANDS"),
    U32(LUN_RETRIES, "LUN_RETRIES"),
    BIN(LUN_KEYS, "LUN_KEYS", 8, kMaxLunKeys),
    BIN(LUN_RESERVATION, "LUN_RESERVATION", 8, 64),
    BIN(LUN_CAPS, "LUN_CAPS", 8, 64),
    BIN(LUN_FULL_STATUS, "LUN_FULL_STATUS", 8, kMaxLunFullStatus),
    U8(LUN_DEGRADED, "LUN_DEGRADED", ValueCheck::boolean),
    NEST(LUN_PATHS, "LUN_PATHS", kSetLunPaths),
    NEST(LUN_NVME, "LUN_NVME", kSetNvme),
};

constexpr Rule kLunPathsRules[] = {
    NONE(LP_UNSPEC, "LP_UNSPEC"),
    NEST(LP_PATH, "LP_PATH", kSetPath, kMaxLunPaths),
};

constexpr Rule kPathRules[] = {
    NONE(PATH_UNSPEC, "PATH_UNSPEC"),
    STR(PATH_NAME, "PATH_NAME", 1, kMaxName),
    U8(PATH_STATE, "PATH_STATE", ValueCheck::range, PATH_STATE_UNUSED, PATH_STATE_DEAD),
    STR(PATH_ERROR, "PATH_ERROR", 0, kMaxPathError),
};

constexpr Rule kNvmeRules[] = {
    NONE(NVME_UNSPEC, "NVME_UNSPEC"),
    U32(NVME_STATUS, "NVME_STATUS"),
    U32(NVME_GENERATION, "NVME_GENERATION"),
    U8(NVME_RTYPE, "NVME_RTYPE", ValueCheck::range, 0, 6),
    U16(NVME_REGCTL, "NVME_REGCTL"),
    NEST(NVME_REGISTRANT, "NVME_REGISTRANT", kSetNvmeReg, kMaxNvmeRegistrants),
};

constexpr Rule kNvmeRegRules[] = {
    NONE(NR_UNSPEC, "NR_UNSPEC"),        U64(NR_KEY, "NR_KEY"),
    BIN(NR_HOSTID, "NR_HOSTID", 16, 16), U8(NR_HOLDER, "NR_HOLDER", ValueCheck::boolean),
    U16(NR_CNTLID, "NR_CNTLID"),
};

constexpr Rule kSumRules[] = {
    NONE(SUM_UNSPEC, "SUM_UNSPEC"),
    U32(SUM_LUNS, "SUM_LUNS"),
    U32(SUM_OK, "SUM_OK"),
    U32(SUM_FAILED, "SUM_FAILED"),
    U64(SUM_WALL_NS, "SUM_WALL_NS"),
    U64(SUM_COMMANDS, "SUM_COMMANDS"),
    U64(SUM_RETRIES, "SUM_RETRIES"),
    U64(SUM_P50_NS, "SUM_P50_NS"),
    U64(SUM_P90_NS, "SUM_P90_NS"),
    U64(SUM_P99_NS, "SUM_P99_NS"),
    U64(SUM_MAX_NS, "SUM_MAX_NS"),
    U8(SUM_WORST, "SUM_WORST"),
    U8(SUM_DEADLINE_HIT, "SUM_DEADLINE_HIT", ValueCheck::boolean),
    U8(SUM_CANCELLED, "SUM_CANCELLED", ValueCheck::boolean),
    U64(SUM_QUEUED_NS, "SUM_QUEUED_NS"),
    U8(SUM_OPERATION, "SUM_OPERATION", ValueCheck::range, 1, engine::kOperationMax),
    STR(SUM_GROUP, "SUM_GROUP", 1, kMaxGroupName, 1, ValueCheck::group),
    U32(SUM_DEGRADED, "SUM_DEGRADED"),
};

constexpr Rule kGrpRules[] = {
    NONE(GRP_UNSPEC, "GRP_UNSPEC"),
    STR(GRP_NAME, "GRP_NAME", 1, kMaxGroupName, 1, ValueCheck::group),
    STR(GRP_DEVICE, "GRP_DEVICE", 1, kMaxDeviceLen, kMaxDevices),
    STR(GRP_INITIATOR, "GRP_INITIATOR", 1, kMaxTransportIdLen),
    U16(GRP_TARGET_PORT, "GRP_TARGET_PORT", ValueCheck::range, 1, 65535),
    U8(GRP_SG_TRANSPORT, "GRP_SG_TRANSPORT", ValueCheck::range, SG_TRANSPORT_URING,
       SG_TRANSPORT_SGIO),
    U32(GRP_LUNS, "GRP_LUNS"),
    U32(GRP_PATHS_OPEN, "GRP_PATHS_OPEN"),
    STR(GRP_PROBLEM, "GRP_PROBLEM", 0, kMaxText, kMaxDevices + 1),
    U64(GRP_KEY, "GRP_KEY"),
    STR(GRP_HOSTNQN, "GRP_HOSTNQN", 1, kMaxNqnLen, 1, ValueCheck::printable),
    BIN(GRP_HOSTID, "GRP_HOSTID", 16, 16),
};

constexpr Rule kHealthRules[] = {
    NONE(H_UNSPEC, "H_UNSPEC"),
    U64(H_UPTIME_NS, "H_UPTIME_NS"),
    U32(H_PID, "H_PID"),
    STR(H_VERSION, "H_VERSION", 0, kMaxName),
    U32(H_GROUPS, "H_GROUPS"),
    U32(H_LUNS, "H_LUNS"),
    U32(H_PATHS_OPEN, "H_PATHS_OPEN"),
    U32(H_CLIENTS, "H_CLIENTS"),
    U32(H_SUBSCRIBERS, "H_SUBSCRIBERS"),
    U32(H_BATCHES_RUNNING, "H_BATCHES_RUNNING"),
    U32(H_BATCHES_QUEUED, "H_BATCHES_QUEUED"),
    U64(H_SUBSCRIBERS_DROPPED, "H_SUBSCRIBERS_DROPPED"),
    STR(H_CONFIG, "H_CONFIG", 0, kMaxText),
};

constexpr Rule kStatRules[] = {
    NONE(ST_UNSPEC, "ST_UNSPEC"), STR(ST_NAME, "ST_NAME", 1, kMaxName),
    U64(ST_COUNT, "ST_COUNT"),    U64(ST_FAILED, "ST_FAILED"),
    U64(ST_SUM_NS, "ST_SUM_NS"),  U64(ST_MIN_NS, "ST_MIN_NS"),
    U64(ST_MAX_NS, "ST_MAX_NS"),  U64(ST_P50_NS, "ST_P50_NS"),
    U64(ST_P99_NS, "ST_P99_NS"),  BIN(ST_BUCKETS, "ST_BUCKETS", kHistBuckets * 8, kHistBuckets * 8),
};

constexpr Rule kEventRules[] = {
    NONE(EV_UNSPEC, "EV_UNSPEC"),
    U8(EV_KIND, "EV_KIND", ValueCheck::range, EVENT_OP_DONE, EVENT_DROPPED),
    U64(EV_TIME_NS, "EV_TIME_NS"),
    STR(EV_GROUP, "EV_GROUP", 1, kMaxGroupName, 1, ValueCheck::group),
    NEST(EV_SUMMARY, "EV_SUMMARY", kSetSummary),
    NEST(EV_CONFLICT, "EV_CONFLICT", kSetConflict),
    STR(EV_TEXT, "EV_TEXT", 0, kMaxText),
};

constexpr Rule kConflictRules[] = {
    NONE(CF_UNSPEC, "CF_UNSPEC"),
    U8(CF_CLASS, "CF_CLASS", ValueCheck::range, CONFLICT_UNKNOWN, CONFLICT_TRANSIENT),
    STR(CF_DEVICE, "CF_DEVICE", 0, kMaxDeviceLen),
    STR(CF_HCTL, "CF_HCTL", 0, kMaxName),
    STR(CF_WWID, "CF_WWID", 0, kMaxName),
    STR(CF_OP, "CF_OP", 0, kMaxName),
    U64(CF_SECTOR, "CF_SECTOR"),
    U64(CF_COUNT, "CF_COUNT"),
    U64(CF_FIRST_SEEN_NS, "CF_FIRST_SEEN_NS"),
    U64(CF_LAST_SEEN_NS, "CF_LAST_SEEN_NS"),
    U64(CF_OUR_KEY, "CF_OUR_KEY"),
    U64(CF_HOLDER_KEY, "CF_HOLDER_KEY"),
    U8(CF_TYPE, "CF_TYPE", ValueCheck::pr_type),
    STR(CF_TEXT, "CF_TEXT", 0, kMaxText),
};

// The kernel's extended-ack TLVs (linux/netlink.h), as far as an answer decoder needs them.
constexpr Rule kErrRules[] = {
    NONE(NLMSGERR_ATTR_UNUSED, "NLMSGERR_ATTR_UNUSED"),
    STR(NLMSGERR_ATTR_MSG, "NLMSGERR_ATTR_MSG", 0, kMaxText),
    U32(NLMSGERR_ATTR_OFFS, "NLMSGERR_ATTR_OFFS"),
    BIN(NLMSGERR_ATTR_COOKIE, "NLMSGERR_ATTR_COOKIE", 0, 64),
    BIN(NLMSGERR_ATTR_POLICY, "NLMSGERR_ATTR_POLICY", 0, 4096),
    U32(NLMSGERR_ATTR_MISS_TYPE, "NLMSGERR_ATTR_MISS_TYPE"),
    U32(NLMSGERR_ATTR_MISS_NEST, "NLMSGERR_ATTR_MISS_NEST"),
};

template <size_t N>
constexpr bool ids_in_order(const Rule (&r)[N]) {
    for (size_t i = 0; i < N; ++i)
        if (r[i].id != i) return false;
    return true;
}
static_assert(ids_in_order(kTopRules) && std::size(kTopRules) == ATTR_MAX_PLUS_ONE);
static_assert(ids_in_order(kLunRules) && std::size(kLunRules) == LUN_MAX_PLUS_ONE);
static_assert(ids_in_order(kSumRules) && std::size(kSumRules) == SUM_MAX_PLUS_ONE);
static_assert(ids_in_order(kGrpRules) && std::size(kGrpRules) == GRP_MAX_PLUS_ONE);
static_assert(ids_in_order(kHealthRules) && std::size(kHealthRules) == H_MAX_PLUS_ONE);
static_assert(ids_in_order(kStatRules) && std::size(kStatRules) == ST_MAX_PLUS_ONE);
static_assert(ids_in_order(kEventRules) && std::size(kEventRules) == EV_MAX_PLUS_ONE);
static_assert(ids_in_order(kConflictRules) && std::size(kConflictRules) == CF_MAX_PLUS_ONE);
static_assert(ids_in_order(kLunPathsRules) && std::size(kLunPathsRules) == LP_MAX_PLUS_ONE);
static_assert(ids_in_order(kPathRules) && std::size(kPathRules) == PATH_MAX_PLUS_ONE);
static_assert(ids_in_order(kNvmeRules) && std::size(kNvmeRules) == NVME_MAX_PLUS_ONE);
static_assert(ids_in_order(kNvmeRegRules) && std::size(kNvmeRegRules) == NR_MAX_PLUS_ONE);
static_assert(ids_in_order(kErrRules) && std::size(kErrRules) == NLMSGERR_ATTR_MAX + 1);

// libnl's policy for one rule: integers exact (minlen = maxlen, which the kernel enforces and libnl
// does not by itself), strings with their NUL, binaries with their bounds, nests unbounded (their
// content is walked against their own table).
constexpr nla_policy policy_of(const Rule& r) {
    nla_policy p{};
    switch (r.kind) {
        case AttrKind::none:
            p.type = NLA_UNSPEC;
            break;
        case AttrKind::u8:
            p.type = NLA_U8;
            p.minlen = p.maxlen = 1;
            break;
        case AttrKind::u16:
            p.type = NLA_U16;
            p.minlen = p.maxlen = 2;
            break;
        case AttrKind::u32:
            p.type = NLA_U32;
            p.minlen = p.maxlen = 4;
            break;
        case AttrKind::u64:
            p.type = NLA_U64;
            p.minlen = p.maxlen = 8;
            break;
        case AttrKind::str:
            p.type = NLA_STRING;
            p.minlen = static_cast<uint16_t>(r.lo + 1);
            p.maxlen = static_cast<uint16_t>(r.hi + 1);
            break;
        case AttrKind::bin:
            p.type = NLA_BINARY;
            p.minlen = static_cast<uint16_t>(r.lo);
            p.maxlen = static_cast<uint16_t>(r.hi);
            break;
        case AttrKind::nest:
            p.type = NLA_NESTED;
            break;
    }
    return p;
}
template <size_t N>
constexpr std::array<nla_policy, N> policy_table(const Rule (&r)[N]) {
    std::array<nla_policy, N> t{};
    for (size_t i = 0; i < N; ++i) t[i] = policy_of(r[i]);
    return t;
}

// The nla_policy tables handed to nlmsg_parse / nla_parse_nested.
constexpr auto kTopPolicy = policy_table(kTopRules);
constexpr auto kLunPolicy = policy_table(kLunRules);
constexpr auto kSumPolicy = policy_table(kSumRules);
constexpr auto kGrpPolicy = policy_table(kGrpRules);
constexpr auto kHealthPolicy = policy_table(kHealthRules);
constexpr auto kStatPolicy = policy_table(kStatRules);
constexpr auto kEventPolicy = policy_table(kEventRules);
constexpr auto kConflictPolicy = policy_table(kConflictRules);
constexpr auto kLunPathsPolicy = policy_table(kLunPathsRules);
constexpr auto kPathPolicy = policy_table(kPathRules);
constexpr auto kNvmePolicy = policy_table(kNvmeRules);
constexpr auto kNvmeRegPolicy = policy_table(kNvmeRegRules);
constexpr auto kErrPolicy = policy_table(kErrRules);

const AttrSet kAttrSets[kSetCount] = {
    {"the message", kTopRules, kAttrMax, kTopPolicy.data(), 0, false},
    {"ATTR_LUN", kLunRules, LUN_MAX_PLUS_ONE - 1, kLunPolicy.data(), bit(LUN_INDEX), false},
    {"ATTR_SUMMARY", kSumRules, SUM_MAX_PLUS_ONE - 1, kSumPolicy.data(), 0, false},
    {"ATTR_GROUP_INFO", kGrpRules, GRP_MAX_PLUS_ONE - 1, kGrpPolicy.data(), bit(GRP_NAME), false},
    {"ATTR_HEALTH", kHealthRules, H_MAX_PLUS_ONE - 1, kHealthPolicy.data(), 0, false},
    {"ATTR_OP_STATS", kStatRules, ST_MAX_PLUS_ONE - 1, kStatPolicy.data(), bit(ST_NAME), false},
    {"ATTR_EVENT", kEventRules, EV_MAX_PLUS_ONE - 1, kEventPolicy.data(), bit(EV_KIND), false},
    {"ATTR_CONFLICT", kConflictRules, CF_MAX_PLUS_ONE - 1, kConflictPolicy.data(), bit(CF_CLASS),
     false},
    {"LUN_PATHS", kLunPathsRules, LP_MAX_PLUS_ONE - 1, kLunPathsPolicy.data(), 0, false},
    {"LP_PATH", kPathRules, PATH_MAX_PLUS_ONE - 1, kPathPolicy.data(),
     bit(PATH_NAME) | bit(PATH_STATE), false},
    {"LUN_NVME", kNvmeRules, NVME_MAX_PLUS_ONE - 1, kNvmePolicy.data(), 0, false},
    {"NVME_REGISTRANT", kNvmeRegRules, NR_MAX_PLUS_ONE - 1, kNvmeRegPolicy.data(),
     bit(NR_KEY) | bit(NR_HOSTID) | bit(NR_CNTLID), false},
    {"the extended ack", kErrRules, NLMSGERR_ATTR_MAX, kErrPolicy.data(), 0, true},
};

// ---------------------------------------------------------------------------------------------------
// Command rules: which top-level attributes a request may and must carry, and what its answer
// holds.

constexpr uint64_t kRunAttrs = bit(ATTR_GROUP) | bit(ATTR_OPERATION) | bit(ATTR_KEY) |
                               bit(ATTR_SA_KEY) | bit(ATTR_OLD_KEY) | bit(ATTR_TYPE) |
                               bit(ATTR_FLAGS) | bit(ATTR_TRANSPORT_ID) | bit(ATTR_REL_PORT) |
                               bit(ATTR_TIMEOUT_MS) | bit(ATTR_DEADLINE_MS) | bit(ATTR_QD);
constexpr uint64_t kFamilyAnswer = bit(ATTR_FAMILY_NAME) | bit(ATTR_VERSION) |
                                   bit(ATTR_MIN_VERSION) | bit(ATTR_MAX_ATTR) | bit(ATTR_COMMAND);

constexpr CmdRule kCmdRules[] = {
    {CMD_UNSPEC, false, 0, 0, 0, 0},
    {CMD_GET_FAMILY, true, 0, 0, kFamilyAnswer, bit(ATTR_FAMILY_NAME) | bit(ATTR_VERSION)},
    {CMD_NOOP, true, 0, 0, 0, 0},
    {CMD_HEALTH, true, 0, 0, bit(ATTR_HEALTH), bit(ATTR_HEALTH)},
    {CMD_STATS, true, bit(ATTR_FLAGS), 0, bit(ATTR_OP_STATS), 0},
    {CMD_GROUP_CREATE, true,
     bit(ATTR_GROUP) | bit(ATTR_DEVICE) | bit(ATTR_INITIATOR) | bit(ATTR_TARGET_PORT) |
         bit(ATTR_SG_TRANSPORT) | bit(ATTR_KEY) | bit(ATTR_HOSTNQN) | bit(ATTR_HOSTID),
     bit(ATTR_GROUP) | bit(ATTR_DEVICE), bit(ATTR_GROUP_INFO), bit(ATTR_GROUP_INFO)},
    {CMD_GROUP_ADD, true, bit(ATTR_GROUP) | bit(ATTR_DEVICE), bit(ATTR_GROUP) | bit(ATTR_DEVICE),
     bit(ATTR_GROUP_INFO), bit(ATTR_GROUP_INFO)},
    {CMD_GROUP_REMOVE, true, bit(ATTR_GROUP) | bit(ATTR_DEVICE), bit(ATTR_GROUP) | bit(ATTR_DEVICE),
     bit(ATTR_GROUP_INFO), bit(ATTR_GROUP_INFO)},
    {CMD_GROUP_DELETE, true, bit(ATTR_GROUP), bit(ATTR_GROUP), 0, 0},
    {CMD_GROUP_LIST, true, bit(ATTR_GROUP), 0, bit(ATTR_GROUP_INFO), bit(ATTR_GROUP_INFO)},
    {CMD_GROUP_REFRESH, true, bit(ATTR_GROUP), bit(ATTR_GROUP), bit(ATTR_LUN) | bit(ATTR_SUMMARY),
     0},
    {CMD_RUN, true, kRunAttrs, bit(ATTR_GROUP) | bit(ATTR_OPERATION),
     bit(ATTR_LUN) | bit(ATTR_SUMMARY), 0},
    {CMD_SUBSCRIBE, true, bit(ATTR_EVENT_MASK), 0, 0, 0},
    {CMD_UNSUBSCRIBE, true, 0, 0, 0, 0},
    {CMD_EVENT, false, 0, 0, bit(ATTR_EVENT), bit(ATTR_EVENT)},
    {CMD_CONFLICT, true, bit(ATTR_CONFLICT), bit(ATTR_CONFLICT), 0, 0},
    {CMD_RELOAD, true, 0, 0, 0, 0},
};
static_assert(std::size(kCmdRules) == CMD_MAX_PLUS_ONE);
constexpr bool cmd_rules_in_order() {
    for (size_t i = 0; i < std::size(kCmdRules); ++i)
        if (kCmdRules[i].cmd != i) return false;
    return true;
}
static_assert(cmd_rules_in_order());

}  // namespace

const AttrSet& attr_set(AttrSetId set) { return kAttrSets[set]; }
const Rule& rule_of(AttrSetId set, uint16_t type) { return kAttrSets[set].rules[type]; }
const CmdRule& cmd_rule(uint8_t cmd) { return kCmdRules[cmd]; }
const char* cmd_name(uint8_t cmd) { return kCmdNames[cmd]; }

static bool group_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}
// Why `s` is not a group name, or empty when it is one.
std::string group_problem(std::string_view s) {
    if (s.empty()) return "empty: group names are 1-64 bytes of [A-Za-z0-9._-]";
    if (s.size() > kMaxGroupName)
        return fmt("%zu bytes: group names are 1-64 bytes of [A-Za-z0-9._-]", s.size());
    for (size_t i = 0; i < s.size(); ++i)
        if (!group_char(s[i]))
            return quoted_text(s) +
                   fmt(" holds %s at byte %zu: group names are 1-64 bytes of [A-Za-z0-9._-]",
                       quoted_text(s.substr(i, 1)).c_str(), i);
    return {};
}
std::string printable_problem(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) < 0x20 || static_cast<unsigned char>(s[i]) > 0x7e)
            return quoted_text(s) + fmt(" holds %s at byte %zu: printable ASCII only",
                                        quoted_text(s.substr(i, 1)).c_str(), i);
    return {};
}
bool valid_pr_type(uint64_t v) { return v == 1 || v == 3 || v == 5 || v == 6 || v == 7 || v == 8; }

std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    int n = std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    if (n < 0) return {};
    return std::string(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

}  // namespace prfence::nl::schema
