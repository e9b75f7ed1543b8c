// SPDX-License-Identifier: MIT
// prfence control messages with libnl-3's message API. See message.h for the contract and
// nl_control/PROTOCOL.md for the wire format.
//
// Validation is table-driven: one Rule table per attribute set (top-level, LUN, SUM, GRP, H, ST, EV, CF
// and the extended-ack TLVs) says each attribute's name, kind, repeat limit, length/value limits and any
// check a policy cannot express; libnl's struct nla_policy tables are derived from it at compile time,
// and one CmdRule table says which top-level attributes each command allows and requires in a request
// and in its answer. libnl 3.7's validate_nla only checks minimum length, maximum length and that a
// NLA_STRING's last byte is NUL, keeps the last of repeated attributes silently, ignores attribute types
// above the maximum and reports no location; so every message is first walked here (the walk refuses
// with errno, a message naming the attribute and its offset), and only then handed to nlmsg_parse /
// nla_parse_nested with the same policies to pick out single attributes.
#include "nl_control/protocol/message.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

namespace prfence::nl {
namespace {

// ---------------------------------------------------------------------------------------------------
// Names

constexpr const char* kCmdNames[] = {
    "CMD_UNSPEC",       "CMD_GET_FAMILY",   "CMD_NOOP",         "CMD_HEALTH",    "CMD_STATS",
    "CMD_GROUP_CREATE", "CMD_GROUP_ADD",    "CMD_GROUP_REMOVE", "CMD_GROUP_DELETE", "CMD_GROUP_LIST",
    "CMD_GROUP_REFRESH", "CMD_RUN",         "CMD_SUBSCRIBE",    "CMD_UNSUBSCRIBE", "CMD_EVENT",
    "CMD_CONFLICT",     "CMD_RELOAD",
};
static_assert(std::size(kCmdNames) == CMD_MAX_PLUS_ONE);

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    int n = std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    if (n < 0) return {};
    return std::string(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// Hostile text quoted for a message: printable ASCII kept, the rest as \xNN, at most 64 bytes shown.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    size_t n = 0;
    for (unsigned char c : s) {
        if (++n > 64) {
            out += "...";
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') out += static_cast<char>(c);
        else out += fmt("\\x%02x", c);
    }
    return out + "\"";
}

// ---------------------------------------------------------------------------------------------------
// Attribute rule tables

enum class K : uint8_t { none, u8, u16, u32, u64, str, bin, nest };
// Checks a policy cannot express, applied after the kind/length checks.
enum class C : uint8_t {
    none,
    range,      // lo <= value <= hi
    boolean,    // 0 or 1
    group,      // [A-Za-z0-9._-], length lo..hi
    pr_type,    // 1, 3, 5, 6, 7, 8
    flags,      // ATTR_FLAGS: within kOpFlagsAll (CMD_RUN) or kStatsFlagsAll (CMD_STATS)
    mask,       // no bit outside hi
    tid,        // parse_transport_id accepts the text
};
enum SetId : uint8_t { S_TOP, S_LUN, S_SUM, S_GRP, S_H, S_ST, S_EV, S_CF, S_ERR, S_COUNT };

struct Rule {
    uint16_t id;
    const char* name;
    K kind;
    uint32_t max_count;  // 1: single; more: repeated up to this many
    uint64_t lo, hi;     // str/bin: payload length (strings without their NUL); ints with C::range
    C check;
    SetId nest;          // K::nest: the nested set
};
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr Rule R(uint16_t id, const char* n, K k, uint32_t cnt = 1, uint64_t lo = 0, uint64_t hi = 0,
                 C c = C::none, SetId nest = S_COUNT) {
    return Rule{id, n, k, cnt, lo, hi, c, nest};
}
constexpr Rule U8(uint16_t id, const char* n, C c = C::none, uint64_t lo = 0, uint64_t hi = 0) {
    return R(id, n, K::u8, 1, lo, hi, c);
}
constexpr Rule U16(uint16_t id, const char* n, C c = C::none, uint64_t lo = 0, uint64_t hi = 0) {
    return R(id, n, K::u16, 1, lo, hi, c);
}
constexpr Rule U32(uint16_t id, const char* n, C c = C::none, uint64_t lo = 0, uint64_t hi = 0) {
    return R(id, n, K::u32, 1, lo, hi, c);
}
constexpr Rule U64(uint16_t id, const char* n) { return R(id, n, K::u64); }
constexpr Rule STR(uint16_t id, const char* n, uint64_t lo, uint64_t hi, uint32_t cnt = 1, C c = C::none) {
    return R(id, n, K::str, cnt, lo, hi, c);
}
constexpr Rule BIN(uint16_t id, const char* n, uint64_t lo, uint64_t hi) { return R(id, n, K::bin, 1, lo, hi); }
constexpr Rule NEST(uint16_t id, const char* n, SetId s, uint32_t cnt = 1) {
    return R(id, n, K::nest, cnt, 0, 0, C::none, s);
}
constexpr Rule NONE(uint16_t id, const char* n) { return R(id, n, K::none, 0); }

constexpr Rule kTopRules[] = {
    NONE(ATTR_UNSPEC, "ATTR_UNSPEC"),
    STR(ATTR_FAMILY_NAME, "ATTR_FAMILY_NAME", 1, 64),
    U32(ATTR_VERSION, "ATTR_VERSION"),
    U32(ATTR_MIN_VERSION, "ATTR_MIN_VERSION"),
    U32(ATTR_MAX_ATTR, "ATTR_MAX_ATTR"),
    R(ATTR_COMMAND, "ATTR_COMMAND", K::u8, 255, 1, kCmdMax, C::range),
    STR(ATTR_GROUP, "ATTR_GROUP", 1, kMaxGroupName, 1, C::group),
    STR(ATTR_DEVICE, "ATTR_DEVICE", 1, kMaxDeviceLen, kMaxDevices),
    STR(ATTR_INITIATOR, "ATTR_INITIATOR", 1, kMaxTransportIdLen, 1, C::tid),
    U16(ATTR_TARGET_PORT, "ATTR_TARGET_PORT", C::range, 1, 65535),
    U8(ATTR_SG_TRANSPORT, "ATTR_SG_TRANSPORT", C::range, SG_TRANSPORT_URING, SG_TRANSPORT_SGIO),
    U8(ATTR_OPERATION, "ATTR_OPERATION", C::range, 1, engine::kOperationMax),
    U64(ATTR_KEY, "ATTR_KEY"),
    U64(ATTR_SA_KEY, "ATTR_SA_KEY"),
    U64(ATTR_OLD_KEY, "ATTR_OLD_KEY"),
    U8(ATTR_TYPE, "ATTR_TYPE", C::pr_type),
    U32(ATTR_FLAGS, "ATTR_FLAGS", C::flags),
    STR(ATTR_TRANSPORT_ID, "ATTR_TRANSPORT_ID", 1, kMaxTransportIdLen, kMaxTransportIds, C::tid),
    U16(ATTR_REL_PORT, "ATTR_REL_PORT", C::range, 1, 65535),
    U32(ATTR_TIMEOUT_MS, "ATTR_TIMEOUT_MS", C::range, 1, 3600000),
    U32(ATTR_DEADLINE_MS, "ATTR_DEADLINE_MS", C::range, 1, 86400000),
    NEST(ATTR_LUN, "ATTR_LUN", S_LUN, 1u << 20),
    NEST(ATTR_SUMMARY, "ATTR_SUMMARY", S_SUM),
    NEST(ATTR_GROUP_INFO, "ATTR_GROUP_INFO", S_GRP),
    NEST(ATTR_HEALTH, "ATTR_HEALTH", S_H),
    NEST(ATTR_OP_STATS, "ATTR_OP_STATS", S_ST, 1024),
    NEST(ATTR_EVENT, "ATTR_EVENT", S_EV),
    NEST(ATTR_CONFLICT, "ATTR_CONFLICT", S_CF),
    U32(ATTR_EVENT_MASK, "ATTR_EVENT_MASK", C::mask, 0, kEventMaskAll),
    U32(ATTR_QD, "ATTR_QD", C::range, 1, 65536),
};

constexpr Rule kLunRules[] = {
    NONE(LUN_UNSPEC, "LUN_UNSPEC"),
    U32(LUN_INDEX, "LUN_INDEX"),
    STR(LUN_DEVICE, "LUN_DEVICE", 0, kMaxDeviceLen),
    U8(LUN_OK, "LUN_OK", C::boolean),
    U8(LUN_FINISHED, "LUN_FINISHED", C::boolean),
    U8(LUN_CATEGORY, "LUN_CATEGORY"),
    STR(LUN_STEP, "LUN_STEP", 0, kMaxName),
    STR(LUN_ERROR, "LUN_ERROR", 0, kMaxLunError),
    U8(LUN_STATUS, "LUN_STATUS"),
    BIN(LUN_SENSE, "LUN_SENSE", 1, kMaxSense),
    U32(LUN_ERRNO, "LUN_ERRNO"),
    U8(LUN_TIMED_OUT, "LUN_TIMED_OUT", C::boolean),
    U64(LUN_LATENCY_NS, "LUN_LATENCY_NS"),
    U32(LUN_COMMANDS, "LUN_COMMANDS"),
    U32(LUN_RETRIES, "LUN_RETRIES"),
    BIN(LUN_KEYS, "LUN_KEYS", 8, kMaxLunKeys),
    BIN(LUN_RESERVATION, "LUN_RESERVATION", 8, 64),
    BIN(LUN_CAPS, "LUN_CAPS", 8, 64),
    BIN(LUN_FULL_STATUS, "LUN_FULL_STATUS", 8, kMaxLunFullStatus),
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
    U8(SUM_DEADLINE_HIT, "SUM_DEADLINE_HIT", C::boolean),
    U8(SUM_CANCELLED, "SUM_CANCELLED", C::boolean),
    U64(SUM_QUEUED_NS, "SUM_QUEUED_NS"),
    U8(SUM_OPERATION, "SUM_OPERATION", C::range, 1, engine::kOperationMax),
    STR(SUM_GROUP, "SUM_GROUP", 1, kMaxGroupName, 1, C::group),
};

constexpr Rule kGrpRules[] = {
    NONE(GRP_UNSPEC, "GRP_UNSPEC"),
    STR(GRP_NAME, "GRP_NAME", 1, kMaxGroupName, 1, C::group),
    STR(GRP_DEVICE, "GRP_DEVICE", 1, kMaxDeviceLen, kMaxDevices),
    STR(GRP_INITIATOR, "GRP_INITIATOR", 1, kMaxTransportIdLen),
    U16(GRP_TARGET_PORT, "GRP_TARGET_PORT", C::range, 1, 65535),
    U8(GRP_SG_TRANSPORT, "GRP_SG_TRANSPORT", C::range, SG_TRANSPORT_URING, SG_TRANSPORT_SGIO),
    U32(GRP_LUNS, "GRP_LUNS"),
    U32(GRP_PATHS_OPEN, "GRP_PATHS_OPEN"),
    STR(GRP_PROBLEM, "GRP_PROBLEM", 0, kMaxText, kMaxDevices + 1),
    U64(GRP_KEY, "GRP_KEY"),
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
    NONE(ST_UNSPEC, "ST_UNSPEC"),
    STR(ST_NAME, "ST_NAME", 1, kMaxName),
    U64(ST_COUNT, "ST_COUNT"),
    U64(ST_FAILED, "ST_FAILED"),
    U64(ST_SUM_NS, "ST_SUM_NS"),
    U64(ST_MIN_NS, "ST_MIN_NS"),
    U64(ST_MAX_NS, "ST_MAX_NS"),
    U64(ST_P50_NS, "ST_P50_NS"),
    U64(ST_P99_NS, "ST_P99_NS"),
    BIN(ST_BUCKETS, "ST_BUCKETS", kHistBuckets * 8, kHistBuckets * 8),
};

constexpr Rule kEventRules[] = {
    NONE(EV_UNSPEC, "EV_UNSPEC"),
    U8(EV_KIND, "EV_KIND", C::range, EVENT_OP_DONE, EVENT_DROPPED),
    U64(EV_TIME_NS, "EV_TIME_NS"),
    STR(EV_GROUP, "EV_GROUP", 1, kMaxGroupName, 1, C::group),
    NEST(EV_SUMMARY, "EV_SUMMARY", S_SUM),
    NEST(EV_CONFLICT, "EV_CONFLICT", S_CF),
    STR(EV_TEXT, "EV_TEXT", 0, kMaxText),
};

constexpr Rule kConflictRules[] = {
    NONE(CF_UNSPEC, "CF_UNSPEC"),
    U8(CF_CLASS, "CF_CLASS", C::range, CONFLICT_UNKNOWN, CONFLICT_TRANSIENT),
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
    U8(CF_TYPE, "CF_TYPE", C::pr_type),
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
static_assert(ids_in_order(kErrRules) && std::size(kErrRules) == NLMSGERR_ATTR_MAX + 1);

// libnl's policy for one rule: integers exact (minlen = maxlen, which the kernel enforces and libnl
// does not by itself), strings with their NUL, binaries with their bounds, nests unbounded (their
// content is walked against their own table).
constexpr nla_policy policy_of(const Rule& r) {
    nla_policy p{};
    switch (r.kind) {
    case K::none: p.type = NLA_UNSPEC; break;
    case K::u8: p.type = NLA_U8; p.minlen = p.maxlen = 1; break;
    case K::u16: p.type = NLA_U16; p.minlen = p.maxlen = 2; break;
    case K::u32: p.type = NLA_U32; p.minlen = p.maxlen = 4; break;
    case K::u64: p.type = NLA_U64; p.minlen = p.maxlen = 8; break;
    case K::str:
        p.type = NLA_STRING;
        p.minlen = static_cast<uint16_t>(r.lo + 1);
        p.maxlen = static_cast<uint16_t>(r.hi + 1);
        break;
    case K::bin:
        p.type = NLA_BINARY;
        p.minlen = static_cast<uint16_t>(r.lo);
        p.maxlen = static_cast<uint16_t>(r.hi);
        break;
    case K::nest: p.type = NLA_NESTED; break;
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
constexpr auto kErrPolicy = policy_table(kErrRules);

constexpr uint64_t bit(unsigned a) { return uint64_t{1} << a; }

struct AttrSet {
    const char* name;        // for messages: "the request", "ATTR_LUN", ...
    const Rule* rules;
    uint16_t max;
    const nla_policy* policy;
    uint64_t required;       // nests: attributes every instance must hold
    bool ignore_unknown;     // the kernel's ack TLVs grow; ours do not
};
const AttrSet kSets[S_COUNT] = {
    {"the message", kTopRules, kAttrMax, kTopPolicy.data(), 0, false},
    {"ATTR_LUN", kLunRules, LUN_MAX_PLUS_ONE - 1, kLunPolicy.data(), bit(LUN_INDEX), false},
    {"ATTR_SUMMARY", kSumRules, SUM_MAX_PLUS_ONE - 1, kSumPolicy.data(), 0, false},
    {"ATTR_GROUP_INFO", kGrpRules, GRP_MAX_PLUS_ONE - 1, kGrpPolicy.data(), bit(GRP_NAME), false},
    {"ATTR_HEALTH", kHealthRules, H_MAX_PLUS_ONE - 1, kHealthPolicy.data(), 0, false},
    {"ATTR_OP_STATS", kStatRules, ST_MAX_PLUS_ONE - 1, kStatPolicy.data(), bit(ST_NAME), false},
    {"ATTR_EVENT", kEventRules, EV_MAX_PLUS_ONE - 1, kEventPolicy.data(), bit(EV_KIND), false},
    {"ATTR_CONFLICT", kConflictRules, CF_MAX_PLUS_ONE - 1, kConflictPolicy.data(), bit(CF_CLASS), false},
    {"the extended ack", kErrRules, NLMSGERR_ATTR_MAX, kErrPolicy.data(), 0, true},
};

// ---------------------------------------------------------------------------------------------------
// Command rules: which top-level attributes a request may and must carry, and what its answer holds.

constexpr uint64_t kRunAttrs = bit(ATTR_GROUP) | bit(ATTR_OPERATION) | bit(ATTR_KEY) | bit(ATTR_SA_KEY) |
                               bit(ATTR_OLD_KEY) | bit(ATTR_TYPE) | bit(ATTR_FLAGS) | bit(ATTR_TRANSPORT_ID) |
                               bit(ATTR_REL_PORT) | bit(ATTR_TIMEOUT_MS) | bit(ATTR_DEADLINE_MS) | bit(ATTR_QD);
constexpr uint64_t kFamilyAnswer = bit(ATTR_FAMILY_NAME) | bit(ATTR_VERSION) | bit(ATTR_MIN_VERSION) |
                                   bit(ATTR_MAX_ATTR) | bit(ATTR_COMMAND);

struct CmdRule {
    uint8_t cmd;
    bool request;              // a client may send it
    uint64_t allowed, required;                 // request attributes
    uint64_t answer_allowed, answer_required;   // kMsgType answer messages with this cmd
};
constexpr CmdRule kCmdRules[] = {
    {CMD_UNSPEC, false, 0, 0, 0, 0},
    {CMD_GET_FAMILY, true, 0, 0, kFamilyAnswer, bit(ATTR_FAMILY_NAME) | bit(ATTR_VERSION)},
    {CMD_NOOP, true, 0, 0, 0, 0},
    {CMD_HEALTH, true, 0, 0, bit(ATTR_HEALTH), bit(ATTR_HEALTH)},
    {CMD_STATS, true, bit(ATTR_FLAGS), 0, bit(ATTR_OP_STATS), 0},
    {CMD_GROUP_CREATE, true,
     bit(ATTR_GROUP) | bit(ATTR_DEVICE) | bit(ATTR_INITIATOR) | bit(ATTR_TARGET_PORT) | bit(ATTR_SG_TRANSPORT) |
         bit(ATTR_KEY),
     bit(ATTR_GROUP) | bit(ATTR_DEVICE), bit(ATTR_GROUP_INFO), bit(ATTR_GROUP_INFO)},
    {CMD_GROUP_ADD, true, bit(ATTR_GROUP) | bit(ATTR_DEVICE), bit(ATTR_GROUP) | bit(ATTR_DEVICE),
     bit(ATTR_GROUP_INFO), bit(ATTR_GROUP_INFO)},
    {CMD_GROUP_REMOVE, true, bit(ATTR_GROUP) | bit(ATTR_DEVICE), bit(ATTR_GROUP) | bit(ATTR_DEVICE),
     bit(ATTR_GROUP_INFO), bit(ATTR_GROUP_INFO)},
    {CMD_GROUP_DELETE, true, bit(ATTR_GROUP), bit(ATTR_GROUP), 0, 0},
    {CMD_GROUP_LIST, true, bit(ATTR_GROUP), 0, bit(ATTR_GROUP_INFO), bit(ATTR_GROUP_INFO)},
    {CMD_GROUP_REFRESH, true, bit(ATTR_GROUP), bit(ATTR_GROUP), bit(ATTR_LUN) | bit(ATTR_SUMMARY), 0},
    {CMD_RUN, true, kRunAttrs, bit(ATTR_GROUP) | bit(ATTR_OPERATION), bit(ATTR_LUN) | bit(ATTR_SUMMARY), 0},
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

// ---------------------------------------------------------------------------------------------------
// Reading

// A private copy of a message, aligned for nlmsghdr/nlattr access whatever the caller's buffer was,
// zero-padded to a multiple of 4 (so NLMSG_ALIGN/NLA_ALIGN stepping never leaves it).
class Copy {
public:
    explicit Copy(ByteView v) : buf_((v.size() + 3) / 4 + 1, 0) {
        if (!v.empty()) std::memcpy(buf_.data(), v.data(), v.size());
    }
    nlmsghdr* nlh() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
    const uint8_t* base() const { return reinterpret_cast<const uint8_t*>(buf_.data()); }

private:
    std::vector<uint32_t> buf_;
};

struct Found {
    std::array<uint32_t, 32> n{};               // how many of each type
    std::array<std::vector<nlattr*>, 32> at;    // the attributes themselves, when `keep`
    // A nest's walk only needs the counts (repeat limits, required members): not collecting them saves
    // an allocation per attribute, which was most of decoding a 1000-LUN answer.
    bool keep = true;
    nlattr* one(unsigned t) const { return at[t].empty() ? nullptr : at[t].front(); }
};

struct WalkCtx {
    const uint8_t* base;  // start of the message: offsets count from here
    uint8_t cmd;
};

uint32_t offset_of(const WalkCtx& c, const void* p) {
    return static_cast<uint32_t>(static_cast<const uint8_t*>(p) - c.base);
}

uint64_t int_value(const Rule& r, nlattr* a) {
    switch (r.kind) {
    case K::u8: return nla_get_u8(a);
    case K::u16: return nla_get_u16(a);
    case K::u32: return nla_get_u32(a);
    case K::u64: return nla_get_u64(a);
    default: return 0;
    }
}
const char* kind_text(K k) {
    switch (k) {
    case K::u8: return "a u8 (1 byte)";
    case K::u16: return "a u16 (2 bytes)";
    case K::u32: return "a u32 (4 bytes)";
    case K::u64: return "a u64 (8 bytes)";
    default: return "?";
    }
}
size_t kind_size(K k) {
    switch (k) {
    case K::u8: return 1;
    case K::u16: return 2;
    case K::u32: return 4;
    case K::u64: return 8;
    default: return 0;
    }
}

bool group_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}
// Why `s` is not a group name, or empty when it is one.
std::string group_problem(std::string_view s) {
    if (s.empty()) return "empty: group names are 1-64 bytes of [A-Za-z0-9._-]";
    if (s.size() > kMaxGroupName) return fmt("%zu bytes: group names are 1-64 bytes of [A-Za-z0-9._-]", s.size());
    for (size_t i = 0; i < s.size(); ++i)
        if (!group_char(s[i]))
            return quoted(s) + fmt(" holds %s at byte %zu: group names are 1-64 bytes of [A-Za-z0-9._-]",
                                   quoted(s.substr(i, 1)).c_str(), i);
    return {};
}
bool valid_pr_type(uint64_t v) { return v == 1 || v == 3 || v == 5 || v == 6 || v == 7 || v == 8; }
constexpr char kTypeList[] = "(1 WE, 3 EA, 5 WE-RO, 6 EA-RO, 7 WE-AR, 8 EA-AR)";

std::optional<Refusal> walk(const WalkCtx& c, nlattr* head, int len, SetId sid, uint64_t allowed,
                            Found* out);

// One attribute against its rule.
std::optional<Refusal> check_attr(const WalkCtx& c, nlattr* a, const Rule& r) {
    const uint32_t off = offset_of(c, a);
    auto refuse = [&](std::string m) { return Refusal{EINVAL, std::string(r.name) + ": " + m, off}; };
    const int n = nla_len(a);
    const bool nested_flag = (a->nla_type & NLA_F_NESTED) != 0;
    if (a->nla_type & NLA_F_NET_BYTEORDER)
        return refuse("NLA_F_NET_BYTEORDER is not supported (integers are in host byte order)");
    if (nested_flag && r.kind != K::nest) return refuse("flagged NLA_F_NESTED but is not a nested attribute");
    switch (r.kind) {
    case K::none: return refuse("reserved attribute type 0");
    case K::u8:
    case K::u16:
    case K::u32:
    case K::u64: {
        if (static_cast<size_t>(n) != kind_size(r.kind))
            return refuse(fmt("%d bytes, expected %s", n, kind_text(r.kind)));
        uint64_t v = int_value(r, a);
        switch (r.check) {
        case C::range:
            if (v < r.lo || v > r.hi)
                return refuse(fmt("%llu is out of range (%llu-%llu)", static_cast<unsigned long long>(v),
                                  static_cast<unsigned long long>(r.lo), static_cast<unsigned long long>(r.hi)));
            break;
        case C::boolean:
            if (v > 1) return refuse(fmt("%llu is not a boolean (0 or 1)", static_cast<unsigned long long>(v)));
            break;
        case C::pr_type:
            if (!valid_pr_type(v))
                return refuse(fmt("%llu is not a reservation type %s", static_cast<unsigned long long>(v), kTypeList));
            break;
        case C::flags: {
            const bool stats = c.cmd == CMD_STATS;
            const uint64_t known = stats ? kStatsFlagsAll : kOpFlagsAll;
            if (v & ~known)
                return refuse(fmt("unknown %s bits 0x%llx (known: 0x%llx)", stats ? "StatsFlag" : "OpFlag",
                                  static_cast<unsigned long long>(v & ~known),
                                  static_cast<unsigned long long>(known)));
            break;
        }
        case C::mask:
            if (v & ~r.hi)
                return refuse(fmt("unknown bits 0x%llx (known: 0x%llx)", static_cast<unsigned long long>(v & ~r.hi),
                                  static_cast<unsigned long long>(r.hi)));
            break;
        default: break;
        }
        return std::nullopt;
    }
    case K::str: {
        if (n < 1) return refuse("empty, expected a NUL-terminated string");
        const char* d = static_cast<const char*>(nla_data(a));
        if (d[n - 1] != '\0') return refuse(fmt("string of %d bytes is not NUL-terminated", n));
        const size_t slen = strnlen(d, static_cast<size_t>(n));
        if (slen != static_cast<size_t>(n - 1))
            return refuse(fmt("string holds a NUL byte at %zu before its end (%d bytes)", slen, n));
        std::string_view s(d, slen);
        if (r.check == C::group) {
            if (auto p = group_problem(s); !p.empty()) return refuse(p);
        }
        if (slen < r.lo) return refuse(fmt("%zu bytes, at least %llu expected", slen, static_cast<unsigned long long>(r.lo)));
        if (slen > r.hi) return refuse(fmt("%zu bytes, at most %llu allowed", slen, static_cast<unsigned long long>(r.hi)));
        if (r.check == C::tid) {
            auto t = wire::parse_transport_id(s);
            if (!t.ok()) return refuse(quoted(s) + ": " + t.error().msg);
        }
        return std::nullopt;
    }
    case K::bin:
        if (static_cast<uint64_t>(n) < r.lo || static_cast<uint64_t>(n) > r.hi)
            return refuse(fmt("%d bytes, expected %llu-%llu", n, static_cast<unsigned long long>(r.lo),
                              static_cast<unsigned long long>(r.hi)));
        return std::nullopt;
    case K::nest: {
        Found inner;
        inner.keep = false;
        if (auto bad = walk(c, static_cast<nlattr*>(nla_data(a)), n, r.nest, ~uint64_t{0}, &inner)) return bad;
        const AttrSet& s = kSets[r.nest];
        for (unsigned t = 1; t <= s.max; ++t)
            if ((s.required & bit(t)) && inner.n[t] == 0)
                return refuse(fmt("%s is required in each %s", s.rules[t].name, r.name));
        return std::nullopt;
    }
    }
    return std::nullopt;
}

// Walks attributes [head, head+len) of set `sid`: every attribute known, allowed (`allowed` bits),
// within its repeat limit and valid; nothing left over. Collects them in `out` in order.
std::optional<Refusal> walk(const WalkCtx& c, nlattr* head, int len, SetId sid, uint64_t allowed,
                            Found* out) {
    const AttrSet& s = kSets[sid];
    nlattr* a;
    int rem;
    nla_for_each_attr(a, head, len, rem) {
        const int t = nla_type(a);
        const uint32_t off = offset_of(c, a);
        if (t == 0 || t > s.max || t >= 32) {
            if (s.ignore_unknown && t != 0) continue;
            return Refusal{EINVAL, fmt("unknown attribute type %d in %s", t, s.name), off};
        }
        const Rule& r = s.rules[t];
        if (!(allowed & bit(static_cast<unsigned>(t))))
            return Refusal{EINVAL, fmt("%s is not allowed in %s", r.name, kCmdNames[c.cmd]), off};
        if (out->n[t] >= r.max_count)
            return Refusal{EINVAL,
                           r.max_count == 1 ? fmt("%s given more than once", r.name)
                                            : fmt("%s repeated more than %u times", r.name, r.max_count),
                           off};
        if (auto bad = check_attr(c, a, r)) return bad;
        ++out->n[t];
        if (out->keep) out->at[t].push_back(a);
    }
    if (rem > 0) {
        const uint32_t off = offset_of(c, a);
        if (rem < static_cast<int>(NLA_HDRLEN))
            return Refusal{EINVAL, fmt("%d trailing bytes after the last attribute of %s", rem, s.name), off};
        return Refusal{EINVAL,
                       fmt("attribute length %u does not fit the %d bytes left in %s", a->nla_len, rem, s.name), off};
    }
    return std::nullopt;
}

std::string get_str(const nlattr* a) {
    if (!a) return {};
    return std::string(static_cast<const char*>(nla_data(a)), static_cast<size_t>(nla_len(a) - 1));
}
ByteView get_bin(const nlattr* a) {
    return ByteView(static_cast<const uint8_t*>(nla_data(a)), static_cast<size_t>(nla_len(a)));
}
uint8_t u8_or(nlattr* a, uint8_t d = 0) { return a ? nla_get_u8(a) : d; }
uint32_t u32_or(nlattr* a, uint32_t d = 0) { return a ? nla_get_u32(a) : d; }
uint64_t u64_or(nlattr* a, uint64_t d = 0) { return a ? nla_get_u64(a) : d; }

// Single attributes of an already-walked nest, through libnl.
template <size_t N>
struct Tb {
    std::array<nlattr*, N> tb{};
    nlattr* operator[](size_t i) const { return tb[i]; }
};
template <size_t N>
Result<Tb<N>> parse_nested(nlattr* nest, const nla_policy* policy) {
    Tb<N> t;
    int err = nla_parse_nested(t.tb.data(), static_cast<int>(N - 1), nest, const_cast<nla_policy*>(policy));
    if (err < 0) return fail(Errc::malformed, std::string("libnl refused a nested attribute: ") + nl_geterror(err), EINVAL);
    return t;
}
// Repeated attributes of a nest (libnl's tb keeps only the last).
std::vector<nlattr*> all_nested(nlattr* nest, int type) {
    std::vector<nlattr*> v;
    nlattr* a;
    int rem;
    nla_for_each_nested(a, nest, rem) if (nla_type(a) == type) v.push_back(a);
    return v;
}

Summary summary_from(const Tb<SUM_MAX_PLUS_ONE>& t) {
    Summary s;
    s.batch.luns = u32_or(t[SUM_LUNS]);
    s.batch.ok = u32_or(t[SUM_OK]);
    s.batch.failed = u32_or(t[SUM_FAILED]);
    s.batch.wall_ns = u64_or(t[SUM_WALL_NS]);
    s.batch.commands = u64_or(t[SUM_COMMANDS]);
    s.batch.retries = u64_or(t[SUM_RETRIES]);
    s.batch.p50_ns = u64_or(t[SUM_P50_NS]);
    s.batch.p90_ns = u64_or(t[SUM_P90_NS]);
    s.batch.p99_ns = u64_or(t[SUM_P99_NS]);
    s.batch.max_ns = u64_or(t[SUM_MAX_NS]);
    s.batch.worst = static_cast<wire::Category>(u8_or(t[SUM_WORST]));
    s.batch.deadline_hit = u8_or(t[SUM_DEADLINE_HIT]) != 0;
    s.batch.cancelled = u8_or(t[SUM_CANCELLED]) != 0;
    s.queued_ns = u64_or(t[SUM_QUEUED_NS]);
    if (t[SUM_OPERATION]) s.operation = static_cast<engine::Operation>(nla_get_u8(t[SUM_OPERATION]));
    s.group = get_str(t[SUM_GROUP]);
    return s;
}
Result<Summary> decode_summary(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<SUM_MAX_PLUS_ONE>(nest, kSumPolicy.data()));
    return summary_from(t);
}

Result<Conflict> decode_conflict(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<CF_MAX_PLUS_ONE>(nest, kConflictPolicy.data()));
    Conflict f;
    f.cls = static_cast<ConflictClass>(u8_or(t[CF_CLASS]));
    f.device = get_str(t[CF_DEVICE]);
    f.hctl = get_str(t[CF_HCTL]);
    f.wwid = get_str(t[CF_WWID]);
    f.op = get_str(t[CF_OP]);
    f.text = get_str(t[CF_TEXT]);
    f.sector = u64_or(t[CF_SECTOR]);
    f.count = u64_or(t[CF_COUNT]);
    f.first_seen_ns = u64_or(t[CF_FIRST_SEEN_NS]);
    f.last_seen_ns = u64_or(t[CF_LAST_SEEN_NS]);
    if (t[CF_OUR_KEY]) f.our_key = nla_get_u64(t[CF_OUR_KEY]);
    if (t[CF_HOLDER_KEY]) f.holder_key = nla_get_u64(t[CF_HOLDER_KEY]);
    if (t[CF_TYPE]) f.type = nla_get_u8(t[CF_TYPE]);
    return f;
}

Result<engine::LunOutcome> decode_lun(nlattr* nest, uint32_t* index, const uint8_t* base) {
    PRF_TRY_ASSIGN(auto t, parse_nested<LUN_MAX_PLUS_ONE>(nest, kLunPolicy.data()));
    auto bad = [&](nlattr* a, const char* name, const Error& e) {
        return fail(Errc::malformed,
                    fmt("%s at offset %u: ", name, static_cast<unsigned>(reinterpret_cast<uint8_t*>(a) - base)) + e.msg,
                    EINVAL);
    };
    engine::LunOutcome o;
    *index = u32_or(t[LUN_INDEX]);
    o.device = get_str(t[LUN_DEVICE]);
    o.ok = u8_or(t[LUN_OK]) != 0;
    o.finished = u8_or(t[LUN_FINISHED]) != 0;
    o.category = static_cast<wire::Category>(u8_or(t[LUN_CATEGORY]));
    o.step = get_str(t[LUN_STEP]);
    o.error = get_str(t[LUN_ERROR]);
    o.status = u8_or(t[LUN_STATUS]);
    if (nlattr* a = t[LUN_SENSE]) {
        auto s = wire::decode_sense(get_bin(a));
        if (!s.ok()) return bad(a, "LUN_SENSE", s.error());
        o.sense = std::move(*s);
    }
    o.sys_errno = static_cast<int>(u32_or(t[LUN_ERRNO]));
    o.timed_out = u8_or(t[LUN_TIMED_OUT]) != 0;
    o.latency_ns = u64_or(t[LUN_LATENCY_NS]);
    o.commands = u32_or(t[LUN_COMMANDS]);
    o.retries = u32_or(t[LUN_RETRIES]);
    if (nlattr* a = t[LUN_KEYS]) {
        auto v = wire::parse_read_keys(get_bin(a));
        if (!v.ok()) return bad(a, "LUN_KEYS", v.error());
        o.keys = std::move(*v);
    }
    if (nlattr* a = t[LUN_RESERVATION]) {
        auto v = wire::parse_read_reservation(get_bin(a));
        if (!v.ok()) return bad(a, "LUN_RESERVATION", v.error());
        o.reservation = std::move(*v);
    }
    if (nlattr* a = t[LUN_CAPS]) {
        auto v = wire::parse_capabilities(get_bin(a));
        if (!v.ok()) return bad(a, "LUN_CAPS", v.error());
        o.caps = std::move(*v);
    }
    if (nlattr* a = t[LUN_FULL_STATUS]) {
        auto v = wire::parse_full_status(get_bin(a));
        if (!v.ok()) return bad(a, "LUN_FULL_STATUS", v.error());
        o.full_status = std::move(*v);
    }
    return o;
}

Result<GroupInfo> decode_group(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<GRP_MAX_PLUS_ONE>(nest, kGrpPolicy.data()));
    GroupInfo g;
    g.name = get_str(t[GRP_NAME]);
    for (nlattr* a : all_nested(nest, GRP_DEVICE)) g.devices.push_back(get_str(a));
    g.initiator = get_str(t[GRP_INITIATOR]);
    if (t[GRP_TARGET_PORT]) g.target_port = nla_get_u16(t[GRP_TARGET_PORT]);
    g.sg_transport = static_cast<SgTransport>(u8_or(t[GRP_SG_TRANSPORT]));
    if (t[GRP_KEY]) g.key = nla_get_u64(t[GRP_KEY]);
    g.luns = u32_or(t[GRP_LUNS]);
    g.paths_open = u32_or(t[GRP_PATHS_OPEN]);
    for (nlattr* a : all_nested(nest, GRP_PROBLEM)) g.problems.push_back(get_str(a));
    return g;
}

Result<Health> decode_health(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<H_MAX_PLUS_ONE>(nest, kHealthPolicy.data()));
    Health h;
    h.uptime_ns = u64_or(t[H_UPTIME_NS]);
    h.pid = u32_or(t[H_PID]);
    h.version = get_str(t[H_VERSION]);
    h.groups = u32_or(t[H_GROUPS]);
    h.luns = u32_or(t[H_LUNS]);
    h.paths_open = u32_or(t[H_PATHS_OPEN]);
    h.clients = u32_or(t[H_CLIENTS]);
    h.subscribers = u32_or(t[H_SUBSCRIBERS]);
    h.batches_running = u32_or(t[H_BATCHES_RUNNING]);
    h.batches_queued = u32_or(t[H_BATCHES_QUEUED]);
    h.subscribers_dropped = u64_or(t[H_SUBSCRIBERS_DROPPED]);
    h.config = get_str(t[H_CONFIG]);
    return h;
}

Result<OpStats> decode_stats(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<ST_MAX_PLUS_ONE>(nest, kStatPolicy.data()));
    OpStats s;
    s.name = get_str(t[ST_NAME]);
    s.count = u64_or(t[ST_COUNT]);
    s.failed = u64_or(t[ST_FAILED]);
    s.sum_ns = u64_or(t[ST_SUM_NS]);
    s.min_ns = u64_or(t[ST_MIN_NS]);
    s.max_ns = u64_or(t[ST_MAX_NS]);
    s.p50_ns = u64_or(t[ST_P50_NS]);
    s.p99_ns = u64_or(t[ST_P99_NS]);
    if (nlattr* a = t[ST_BUCKETS]) {
        s.buckets.resize(kHistBuckets);
        std::memcpy(s.buckets.data(), nla_data(a), kHistBuckets * 8);
    }
    return s;
}

Result<Event> decode_event(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<EV_MAX_PLUS_ONE>(nest, kEventPolicy.data()));
    Event e;
    e.kind = static_cast<EventKind>(u8_or(t[EV_KIND]));
    e.time_ns = u64_or(t[EV_TIME_NS]);
    e.group = get_str(t[EV_GROUP]);
    if (t[EV_SUMMARY]) {
        PRF_TRY_ASSIGN(e.summary, decode_summary(t[EV_SUMMARY]));
    }
    if (t[EV_CONFLICT]) {
        PRF_TRY_ASSIGN(e.conflict, decode_conflict(t[EV_CONFLICT]));
    }
    e.text = get_str(t[EV_TEXT]);
    return e;
}

// ---------------------------------------------------------------------------------------------------
// Writing

// One libnl message being built. A put that does not fit marks the message !ok (callers either size
// the buffer so that this cannot happen, or cancel the nest and start a new part).
class Msg {
public:
    explicit Msg(size_t cap) : m_(nlmsg_alloc_size(cap)) {
        if (!m_) throw std::bad_alloc();
    }
    ~Msg() { nlmsg_free(m_); }
    Msg(const Msg&) = delete;
    Msg& operator=(const Msg&) = delete;

    // nlmsghdr plus, for prfence messages, the genl header.
    void start(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid, int payload) {
        if (!nlmsg_put(m_, pid, seq, type, payload, flags)) ok_ = false;
    }
    void start_genl(const Header& h, uint16_t flags) {
        start(kMsgType, flags, h.seq, h.pid, GENL_HDRLEN);
        if (!ok_) return;
        auto* g = static_cast<genlmsghdr*>(nlmsg_data(nlmsg_hdr(m_)));
        g->cmd = h.cmd;
        g->version = h.version;
        g->reserved = 0;
    }
    void u8(int t, uint8_t v) { check(nla_put_u8(m_, t, v)); }
    void u16(int t, uint16_t v) { check(nla_put_u16(m_, t, v)); }
    void u32(int t, uint32_t v) { check(nla_put_u32(m_, t, v)); }
    void u64(int t, uint64_t v) { check(nla_put_u64(m_, t, v)); }
    void str(int t, const std::string& s) { check(nla_put_string(m_, t, s.c_str())); }
    void bin(int t, ByteView b) {
        check(nla_put(m_, t, static_cast<int>(b.size()), b.empty() ? nullptr : b.data()));
    }
    nlattr* nest(int t) {
        nlattr* n = nla_nest_start(m_, t);
        if (!n) ok_ = false;
        return n;
    }
    void end(nlattr* n) {
        if (n && ok_) check(nla_nest_end(m_, n));
    }
    void cancel(nlattr* n) {
        if (n) nla_nest_cancel(m_, n);
        ok_ = true;
    }
    bool ok() const { return ok_; }
    size_t size() const { return nlmsg_hdr(m_)->nlmsg_len; }
    nl_msg* raw() { return m_; }
    Bytes bytes() const {
        const auto* p = reinterpret_cast<const uint8_t*>(nlmsg_hdr(m_));
        return Bytes(p, p + nlmsg_hdr(m_)->nlmsg_len);
    }

private:
    void check(int err) {
        if (err < 0) ok_ = false;
    }
    nl_msg* m_;
    bool ok_ = true;
};

// Text cut at its first NUL and at `max` bytes: answers carry what fits rather than fail.
std::string clip(const std::string& s, size_t max) {
    size_t n = std::min({s.size(), max, std::strlen(s.c_str())});
    return s.substr(0, n);
}
size_t attr_size(size_t payload) { return NLA_ALIGN(NLA_HDRLEN + payload); }

Header answer_header(const Header& request) {
    Header h = request;
    h.type = kMsgType;
    h.version = kVersion;
    return h;
}

void put_summary(Msg& m, int type, const Summary& s) {
    nlattr* n = m.nest(type);
    m.u32(SUM_LUNS, static_cast<uint32_t>(s.batch.luns));
    m.u32(SUM_OK, static_cast<uint32_t>(s.batch.ok));
    m.u32(SUM_FAILED, static_cast<uint32_t>(s.batch.failed));
    m.u64(SUM_WALL_NS, s.batch.wall_ns);
    m.u64(SUM_COMMANDS, s.batch.commands);
    m.u64(SUM_RETRIES, s.batch.retries);
    m.u64(SUM_P50_NS, s.batch.p50_ns);
    m.u64(SUM_P90_NS, s.batch.p90_ns);
    m.u64(SUM_P99_NS, s.batch.p99_ns);
    m.u64(SUM_MAX_NS, s.batch.max_ns);
    m.u8(SUM_WORST, static_cast<uint8_t>(s.batch.worst));
    m.u8(SUM_DEADLINE_HIT, s.batch.deadline_hit ? 1 : 0);
    m.u8(SUM_CANCELLED, s.batch.cancelled ? 1 : 0);
    m.u64(SUM_QUEUED_NS, s.queued_ns);
    if (s.operation) m.u8(SUM_OPERATION, static_cast<uint8_t>(*s.operation));
    if (!s.group.empty() && group_problem(s.group).empty()) m.str(SUM_GROUP, s.group);
    m.end(n);
}

void put_conflict(Msg& m, int type, const Conflict& f) {
    nlattr* n = m.nest(type);
    m.u8(CF_CLASS, static_cast<uint8_t>(f.cls));
    auto s = [&](int t, const std::string& v, size_t max) {
        if (!v.empty()) m.str(t, clip(v, max));
    };
    s(CF_DEVICE, f.device, kMaxDeviceLen);
    s(CF_HCTL, f.hctl, kMaxName);
    s(CF_WWID, f.wwid, kMaxName);
    s(CF_OP, f.op, kMaxName);
    m.u64(CF_SECTOR, f.sector);
    m.u64(CF_COUNT, f.count);
    m.u64(CF_FIRST_SEEN_NS, f.first_seen_ns);
    m.u64(CF_LAST_SEEN_NS, f.last_seen_ns);
    if (f.our_key) m.u64(CF_OUR_KEY, *f.our_key);
    if (f.holder_key) m.u64(CF_HOLDER_KEY, *f.holder_key);
    if (f.type) m.u8(CF_TYPE, *f.type);
    s(CF_TEXT, f.text, kMaxText);
    m.end(n);
}
size_t conflict_size(const Conflict& f) {
    return 512 + f.device.size() + f.hctl.size() + f.wwid.size() + f.op.size() + f.text.size();
}

// PR IN data as the device would have returned it. Encoders write an ADDITIONAL LENGTH describing what
// they were given; when the engine's copy was itself truncated, restore the length the device
// reported, so the client sees `truncated` and `needed` as direct mode does.
Bytes keys_data(const wire::ReadKeys& k) {
    Bytes b = wire::encode_read_keys(k, static_cast<uint16_t>(kMaxLunKeys));
    const uint64_t have = 8 + 8 * uint64_t{k.keys.size()};
    if (k.truncated && k.needed > have && (k.needed - 8) % 8 == 0 && b.size() >= 8) put_be32(b, 4, k.needed - 8);
    return b;
}
std::optional<Bytes> full_status_data(const wire::FullStatus& f) {
    auto r = wire::encode_full_status(f, 65535);
    if (!r.ok()) return std::nullopt;
    Bytes b = std::move(*r);
    uint32_t additional = get_be32(b, 4);
    if (f.truncated && f.needed > 8 + uint64_t{additional}) additional = f.needed - 8;
    if (b.size() > kMaxLunFullStatus) b.resize(kMaxLunFullStatus);
    put_be32(b, 4, additional);
    return b;
}

void put_lun(Msg& m, uint32_t index, const engine::LunOutcome& o, bool with_data) {
    m.u32(LUN_INDEX, index);
    if (!o.device.empty()) m.str(LUN_DEVICE, clip(o.device, kMaxDeviceLen));
    m.u8(LUN_OK, o.ok ? 1 : 0);
    m.u8(LUN_FINISHED, o.finished ? 1 : 0);
    m.u8(LUN_CATEGORY, static_cast<uint8_t>(static_cast<int>(o.category)));
    if (!o.step.empty()) m.str(LUN_STEP, clip(o.step, kMaxName));
    if (!o.error.empty()) m.str(LUN_ERROR, clip(o.error, kMaxLunError));
    m.u8(LUN_STATUS, o.status);
    if (o.sense) {
        Bytes s = wire::encode_sense(*o.sense);
        if (s.size() > kMaxSense) s.resize(kMaxSense);
        if (!s.empty()) m.bin(LUN_SENSE, s);
    }
    m.u32(LUN_ERRNO, static_cast<uint32_t>(o.sys_errno));
    m.u8(LUN_TIMED_OUT, o.timed_out ? 1 : 0);
    m.u64(LUN_LATENCY_NS, o.latency_ns);
    m.u32(LUN_COMMANDS, o.commands);
    m.u32(LUN_RETRIES, o.retries);
    if (!with_data) return;
    if (o.keys) m.bin(LUN_KEYS, keys_data(*o.keys));
    if (o.reservation) m.bin(LUN_RESERVATION, wire::encode_read_reservation(*o.reservation, 24));
    if (o.caps) m.bin(LUN_CAPS, wire::encode_capabilities(*o.caps, 8));
    if (o.full_status) {
        if (auto b = full_status_data(*o.full_status)) m.bin(LUN_FULL_STATUS, *b);
    }
}

Status check_text(const char* name, const std::string& s, size_t lo, size_t hi) {
    if (std::memchr(s.data(), 0, s.size()))
        return fail(Errc::invalid_argument, std::string(name) + ": text holds a NUL byte", EINVAL);
    if (s.size() < lo || s.size() > hi)
        return fail(Errc::invalid_argument, fmt("%s: %zu bytes, %zu-%zu allowed", name, s.size(), lo, hi), EINVAL);
    return {};
}

// ---------------------------------------------------------------------------------------------------
// Message framing shared by both decoders.

struct Framed {
    Copy copy;
    nlmsghdr* nlh;
    Header hdr;
};
// Checks the nlmsghdr of one message; fills `hdr` as soon as the 16 bytes are there.
std::optional<Refusal> frame(ByteView m, std::optional<Framed>& out) {
    if (m.size() < NLMSG_HDRLEN)
        return Refusal{EINVAL, fmt("message of %zu bytes is shorter than a netlink header (%d bytes)", m.size(), NLMSG_HDRLEN), 0};
    if (m.size() > kMaxDatagram)
        return Refusal{EMSGSIZE, fmt("message of %zu bytes exceeds the %zu-byte limit", m.size(), kMaxDatagram), 0};
    out.emplace(Framed{Copy(m), nullptr, {}});
    nlmsghdr* nlh = out->copy.nlh();
    out->nlh = nlh;
    out->hdr = Header{nlh->nlmsg_type, nlh->nlmsg_flags, nlh->nlmsg_seq, nlh->nlmsg_pid, CMD_UNSPEC, 0, nlh->nlmsg_len};
    if (nlh->nlmsg_len < NLMSG_HDRLEN)
        return Refusal{EINVAL, fmt("nlmsg_len %u is shorter than the netlink header", nlh->nlmsg_len), 0};
    if (nlh->nlmsg_len > m.size())
        return Refusal{EINVAL, fmt("nlmsg_len %u exceeds the %zu bytes received", nlh->nlmsg_len, m.size()), 0};
    if (m.size() > NLMSG_ALIGN(nlh->nlmsg_len))
        return Refusal{EINVAL, fmt("%zu bytes follow the message (nlmsg_len %u)", m.size() - nlh->nlmsg_len, nlh->nlmsg_len),
                       nlh->nlmsg_len};
    return std::nullopt;
}

std::string missing_text(uint64_t missing, const char* cmd) {
    for (unsigned t = 1; t <= kAttrMax; ++t)
        if (missing & bit(t))
            return t == ATTR_DEVICE ? fmt("%s is required by %s (at least one)", kTopRules[t].name, cmd)
                                    : fmt("%s is required by %s", kTopRules[t].name, cmd);
    return {};
}
uint64_t present_bits(const Found& f) {
    uint64_t b = 0;
    for (unsigned t = 0; t < f.at.size(); ++t)
        if (f.n[t]) b |= bit(t);
    return b;
}

Error to_error(const Refusal& r) {
    Error e(r.err == EOPNOTSUPP ? Errc::unsupported : Errc::malformed,
            r.offset ? r.msg + fmt(" (offset %u)", r.offset) : r.msg, r.err);
    return e;
}

// Extended-ack TLVs of an NLMSG_ERROR / NLMSG_DONE starting at `off`.
std::optional<Refusal> ack_tlvs(Framed& f, uint32_t off, Answer& a) {
    const uint32_t len = f.nlh->nlmsg_len;
    if (off > len) return Refusal{EINVAL, "extended ack TLVs start past the end of the message", 0};
    WalkCtx c{f.copy.base(), CMD_UNSPEC};
    Found found;
    nlattr* head = reinterpret_cast<nlattr*>(reinterpret_cast<uint8_t*>(f.nlh) + off);
    if (auto bad = walk(c, head, static_cast<int>(len - off), S_ERR, ~uint64_t{0}, &found)) return bad;
    a.err_msg = get_str(found.one(NLMSGERR_ATTR_MSG));
    if (nlattr* o = found.one(NLMSGERR_ATTR_OFFS)) a.err_offset = nla_get_u32(o);
    return std::nullopt;
}

}  // namespace

// ===================================================================================================
// Requests

Result<Bytes> encode_request(const Request& req) {
    const Header& h = req.hdr;
    if (!req.group.empty()) {
        if (auto p = group_problem(req.group); !p.empty())
            return fail(Errc::invalid_argument, "ATTR_GROUP: " + p, EINVAL);
    }
    if (req.devices.size() > kMaxDevices)
        return fail(Errc::invalid_argument, fmt("ATTR_DEVICE: %zu devices, at most %zu", req.devices.size(), kMaxDevices), EINVAL);
    size_t est = 1024;
    for (const auto& d : req.devices) {
        PRF_TRY(check_text("ATTR_DEVICE", d, 1, kMaxDeviceLen));
        est += attr_size(d.size() + 1);
    }
    PRF_TRY(check_text("ATTR_INITIATOR", req.initiator, 0, kMaxTransportIdLen));
    est += attr_size(req.initiator.size() + 1);
    if (req.op.transport_ids.size() > kMaxTransportIds)
        return fail(Errc::invalid_argument, fmt("ATTR_TRANSPORT_ID: %zu TransportIDs, at most %zu",
                                                req.op.transport_ids.size(), kMaxTransportIds), EINVAL);
    std::vector<std::string> tids;
    for (const auto& t : req.op.transport_ids) {
        std::string s = wire::format_transport_id(t);
        auto back = wire::parse_transport_id(s);
        if (!back.ok())
            return fail(Errc::invalid_argument, "ATTR_TRANSPORT_ID: " + s + " has no text form: " + back.error().msg, EINVAL);
        PRF_TRY(check_text("ATTR_TRANSPORT_ID", s, 1, kMaxTransportIdLen));
        est += attr_size(s.size() + 1);
        tids.push_back(std::move(s));
    }
    if (req.conflict) {
        const Conflict& f = *req.conflict;
        PRF_TRY(check_text("CF_DEVICE", f.device, 0, kMaxDeviceLen));
        PRF_TRY(check_text("CF_HCTL", f.hctl, 0, kMaxName));
        PRF_TRY(check_text("CF_WWID", f.wwid, 0, kMaxName));
        PRF_TRY(check_text("CF_OP", f.op, 0, kMaxName));
        PRF_TRY(check_text("CF_TEXT", f.text, 0, kMaxText));
        est += conflict_size(f);
    }
    if (est > kMaxDatagram)
        return fail(Errc::invalid_argument, fmt("request of about %zu bytes exceeds kMaxDatagram (%zu)", est, kMaxDatagram), EMSGSIZE);

    Msg m(est);
    Header hh = h;
    m.start_genl(hh, static_cast<uint16_t>(h.flags | NLM_F_REQUEST));
    if (!req.group.empty()) m.str(ATTR_GROUP, req.group);
    for (const auto& d : req.devices) m.str(ATTR_DEVICE, d);
    if (!req.initiator.empty()) m.str(ATTR_INITIATOR, req.initiator);
    if (req.target_port) m.u16(ATTR_TARGET_PORT, *req.target_port);
    if (req.sg_transport) m.u8(ATTR_SG_TRANSPORT, *req.sg_transport);
    const engine::OpSpec& op = req.op;
    if (req.has_operation) m.u8(ATTR_OPERATION, static_cast<uint8_t>(op.op));
    if (op.key) m.u64(ATTR_KEY, *op.key);
    if (op.sa_key) m.u64(ATTR_SA_KEY, *op.sa_key);
    if (op.old_key) m.u64(ATTR_OLD_KEY, *op.old_key);
    if (op.type) m.u8(ATTR_TYPE, static_cast<uint8_t>(*op.type));
    uint32_t flags = req.flags;
    if (op.ignore_existing) flags |= FLAG_IGNORE_EXISTING;
    if (op.aptpl) flags |= FLAG_APTPL;
    if (op.all_tg_pt) flags |= FLAG_ALL_TG_PT;
    if (op.abort) flags |= FLAG_ABORT;
    if (op.no_abort) flags |= FLAG_NO_ABORT;
    if (op.unreg) flags |= FLAG_UNREG;
    if (op.force) flags |= FLAG_FORCE;
    if (flags) m.u32(ATTR_FLAGS, flags);
    for (const auto& s : tids) m.str(ATTR_TRANSPORT_ID, s);
    if (op.rel_port) m.u16(ATTR_REL_PORT, op.rel_port);
    if (op.timeout_ms != engine::OpSpec{}.timeout_ms) m.u32(ATTR_TIMEOUT_MS, op.timeout_ms);
    if (req.deadline_ms) m.u32(ATTR_DEADLINE_MS, *req.deadline_ms);
    if (req.qd) m.u32(ATTR_QD, *req.qd);
    if (req.event_mask) m.u32(ATTR_EVENT_MASK, *req.event_mask);
    if (req.conflict) put_conflict(m, ATTR_CONFLICT, *req.conflict);
    if (!m.ok()) return fail(Errc::invalid_argument, "request does not fit in one message", EMSGSIZE);
    return m.bytes();
}

DecodedRequest decode_request(ByteView message) {
    DecodedRequest d;
    std::optional<Framed> f;
    auto refuse = [&](Refusal r) {
        d.refusal = std::move(r);
        d.request.reset();
        return d;
    };
    if (auto bad = frame(message, f)) {
        if (f) d.hdr = f->hdr;
        return refuse(std::move(*bad));
    }
    nlmsghdr* nlh = f->nlh;
    d.hdr = f->hdr;
    if (nlh->nlmsg_type != kMsgType)
        return refuse({EOPNOTSUPP, fmt("nlmsg_type 0x%x is not the prfence family (0x%x)", nlh->nlmsg_type, kMsgType), 4});
    if (!(nlh->nlmsg_flags & NLM_F_REQUEST))
        return refuse({EINVAL, fmt("NLM_F_REQUEST is not set (flags 0x%x)", nlh->nlmsg_flags), 6});
    if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
        return refuse({EINVAL, fmt("message of %u bytes has no genl header", nlh->nlmsg_len), NLMSG_HDRLEN});
    const auto* g = static_cast<const genlmsghdr*>(nlmsg_data(nlh));
    d.hdr->cmd = g->cmd;
    d.hdr->version = g->version;
    if (g->cmd == CMD_UNSPEC || g->cmd > kCmdMax)
        return refuse({EOPNOTSUPP, fmt("unknown command %u (prfenced serves 1-%u)", g->cmd, kCmdMax), NLMSG_HDRLEN});
    const CmdRule& rule = kCmdRules[g->cmd];
    if (!rule.request)
        return refuse({EOPNOTSUPP, fmt("%s is sent by prfenced only, not a request", kCmdNames[g->cmd]), NLMSG_HDRLEN});
    if (g->version > kVersion || g->version < kMinVersion)
        return refuse({EPROTONOSUPPORT,
                       fmt("protocol version %u is not supported: prfenced speaks versions %u-%u", g->version,
                           kMinVersion, kVersion),
                       NLMSG_HDRLEN + 1});

    WalkCtx c{f->copy.base(), g->cmd};
    Found found;
    if (auto bad = walk(c, nlmsg_attrdata(nlh, GENL_HDRLEN), nlmsg_attrlen(nlh, GENL_HDRLEN), S_TOP, rule.allowed, &found))
        return refuse(std::move(*bad));
    if (uint64_t missing = rule.required & ~present_bits(found))
        return refuse({EINVAL, missing_text(missing, kCmdNames[g->cmd]), 0});

    std::array<nlattr*, ATTR_MAX_PLUS_ONE> tb{};
    if (int err = nlmsg_parse(nlh, GENL_HDRLEN, tb.data(), kAttrMax, const_cast<nla_policy*>(kTopPolicy.data())); err < 0)
        return refuse({EINVAL, std::string("libnl refused the attributes: ") + nl_geterror(err), 0});

    Request r;
    r.hdr = *d.hdr;
    r.group = get_str(tb[ATTR_GROUP]);
    for (nlattr* a : found.at[ATTR_DEVICE]) r.devices.push_back(get_str(a));
    r.initiator = get_str(tb[ATTR_INITIATOR]);
    if (tb[ATTR_TARGET_PORT]) r.target_port = nla_get_u16(tb[ATTR_TARGET_PORT]);
    if (tb[ATTR_SG_TRANSPORT]) r.sg_transport = static_cast<SgTransport>(nla_get_u8(tb[ATTR_SG_TRANSPORT]));
    if (tb[ATTR_OPERATION]) {
        r.has_operation = true;
        r.op.op = static_cast<engine::Operation>(nla_get_u8(tb[ATTR_OPERATION]));
    }
    if (tb[ATTR_KEY]) r.op.key = nla_get_u64(tb[ATTR_KEY]);
    if (tb[ATTR_SA_KEY]) r.op.sa_key = nla_get_u64(tb[ATTR_SA_KEY]);
    if (tb[ATTR_OLD_KEY]) r.op.old_key = nla_get_u64(tb[ATTR_OLD_KEY]);
    if (tb[ATTR_TYPE]) r.op.type = static_cast<wire::PrType>(nla_get_u8(tb[ATTR_TYPE]));
    r.flags = u32_or(tb[ATTR_FLAGS]);
    if (g->cmd == CMD_RUN) {
        r.op.ignore_existing = r.flags & FLAG_IGNORE_EXISTING;
        r.op.aptpl = r.flags & FLAG_APTPL;
        r.op.all_tg_pt = r.flags & FLAG_ALL_TG_PT;
        r.op.abort = r.flags & FLAG_ABORT;
        r.op.no_abort = r.flags & FLAG_NO_ABORT;
        r.op.unreg = r.flags & FLAG_UNREG;
        r.op.force = r.flags & FLAG_FORCE;
    }
    for (nlattr* a : found.at[ATTR_TRANSPORT_ID]) {
        auto t = wire::parse_transport_id(get_str(a));
        if (!t.ok()) return refuse({EINVAL, "ATTR_TRANSPORT_ID: " + t.error().msg, offset_of(c, a)});
        r.op.transport_ids.push_back(std::move(*t));
    }
    if (tb[ATTR_REL_PORT]) r.op.rel_port = nla_get_u16(tb[ATTR_REL_PORT]);
    if (tb[ATTR_TIMEOUT_MS]) r.op.timeout_ms = nla_get_u32(tb[ATTR_TIMEOUT_MS]);
    if (tb[ATTR_DEADLINE_MS]) r.deadline_ms = nla_get_u32(tb[ATTR_DEADLINE_MS]);
    if (tb[ATTR_QD]) r.qd = nla_get_u32(tb[ATTR_QD]);
    if (tb[ATTR_EVENT_MASK]) r.event_mask = nla_get_u32(tb[ATTR_EVENT_MASK]);
    if (tb[ATTR_CONFLICT]) {
        auto cf = decode_conflict(tb[ATTR_CONFLICT]);
        if (!cf.ok()) return refuse({EINVAL, cf.error().msg, offset_of(c, tb[ATTR_CONFLICT])});
        r.conflict = std::move(*cf);
    }
    d.request = std::move(r);
    return d;
}

Result<std::vector<ByteView>> split_datagram(ByteView datagram, Refusal* refusal) {
    auto refuse = [&](int err, std::string msg, uint32_t off) -> Result<std::vector<ByteView>> {
        if (refusal) *refusal = Refusal{err, msg, off};
        if (off) msg += fmt(" (offset %u)", off);
        return fail(err == EMSGSIZE ? Errc::invalid_argument : Errc::malformed, std::move(msg), err);
    };
    if (datagram.size() > kMaxDatagram)
        return refuse(EMSGSIZE, fmt("datagram of %zu bytes exceeds the %zu-byte limit", datagram.size(), kMaxDatagram), 0);
    if (datagram.empty()) return refuse(EINVAL, "empty datagram", 0);
    Copy copy(datagram);
    std::vector<ByteView> out;
    nlmsghdr* nlh = copy.nlh();
    int rem = static_cast<int>(datagram.size());
    for (; nlmsg_ok(nlh, rem); nlh = nlmsg_next(nlh, &rem)) {
        const size_t off = static_cast<size_t>(reinterpret_cast<uint8_t*>(nlh) - copy.base());
        out.push_back(datagram.subspan(off, nlh->nlmsg_len));
    }
    if (rem > 0) {
        const auto off = static_cast<uint32_t>(reinterpret_cast<uint8_t*>(nlh) - copy.base());
        if (rem < static_cast<int>(NLMSG_HDRLEN))
            return refuse(EINVAL,
                          out.empty() ? fmt("datagram of %d bytes is shorter than a netlink header (%d bytes)", rem, NLMSG_HDRLEN)
                                      : fmt("%d bytes of trailing garbage after the last message", rem),
                          off);
        if (nlh->nlmsg_len < NLMSG_HDRLEN)
            return refuse(EINVAL, fmt("nlmsg_len %u is shorter than the netlink header", nlh->nlmsg_len), off);
        return refuse(EINVAL, fmt("nlmsg_len %u exceeds the %d bytes left in the datagram", nlh->nlmsg_len, rem), off);
    }
    return out;
}

// ===================================================================================================
// Answers

Bytes encode_ack(const Header& request, int err, const std::string& msg, uint32_t offset) {
    const std::string text = clip(msg, kMaxText);
    Msg m(NLMSG_HDRLEN + sizeof(nlmsgerr) + attr_size(text.size() + 1) + attr_size(4) + 16);
    uint16_t flags = NLM_F_CAPPED;
    if (!text.empty()) flags |= NLM_F_ACK_TLVS;
    m.start(NLMSG_ERROR, flags, request.seq, request.pid, sizeof(nlmsgerr));
    auto* e = static_cast<nlmsgerr*>(nlmsg_data(nlmsg_hdr(m.raw())));
    e->error = -std::abs(err);
    e->msg.nlmsg_len = request.len ? request.len : NLMSG_HDRLEN + GENL_HDRLEN;
    e->msg.nlmsg_type = request.type;
    e->msg.nlmsg_flags = request.flags;
    e->msg.nlmsg_seq = request.seq;
    e->msg.nlmsg_pid = request.pid;
    if (!text.empty()) {
        m.str(NLMSGERR_ATTR_MSG, text);
        if (offset) m.u32(NLMSGERR_ATTR_OFFS, offset);
    }
    return m.bytes();
}

Bytes encode_done(const Header& request, int err) {
    Msg m(NLMSG_HDRLEN + 16);
    m.start(NLMSG_DONE, NLM_F_MULTI, request.seq, request.pid, sizeof(int));
    int v = -std::abs(err);
    std::memcpy(nlmsg_data(nlmsg_hdr(m.raw())), &v, sizeof v);
    return m.bytes();
}

Bytes encode_family(const Header& request) {
    Msg m(1024);
    Header h = answer_header(request);
    h.cmd = CMD_GET_FAMILY;
    m.start_genl(h, 0);
    m.str(ATTR_FAMILY_NAME, kFamilyName);
    m.u32(ATTR_VERSION, kVersion);
    m.u32(ATTR_MIN_VERSION, kMinVersion);
    m.u32(ATTR_MAX_ATTR, kAttrMax);
    for (const CmdRule& r : kCmdRules)
        if (r.request) m.u8(ATTR_COMMAND, r.cmd);
    return m.bytes();
}

Bytes encode_health(const Header& request, const Health& h) {
    Msg m(1024 + h.version.size() + h.config.size());
    Header hh = answer_header(request);
    hh.cmd = CMD_HEALTH;
    m.start_genl(hh, 0);
    nlattr* n = m.nest(ATTR_HEALTH);
    m.u64(H_UPTIME_NS, h.uptime_ns);
    m.u32(H_PID, h.pid);
    m.str(H_VERSION, clip(h.version, kMaxName));
    m.u32(H_GROUPS, h.groups);
    m.u32(H_LUNS, h.luns);
    m.u32(H_PATHS_OPEN, h.paths_open);
    m.u32(H_CLIENTS, h.clients);
    m.u32(H_SUBSCRIBERS, h.subscribers);
    m.u32(H_BATCHES_RUNNING, h.batches_running);
    m.u32(H_BATCHES_QUEUED, h.batches_queued);
    m.u64(H_SUBSCRIBERS_DROPPED, h.subscribers_dropped);
    m.str(H_CONFIG, clip(h.config, kMaxText));
    m.end(n);
    return m.bytes();
}

Bytes encode_stats(const Header& request, const std::vector<OpStats>& stats) {
    size_t est = 256;
    for (const auto& s : stats) est += 512 + kHistBuckets * 8 + s.name.size();
    Msg m(std::min(est, kMaxDatagram));
    Header h = answer_header(request);
    h.cmd = CMD_STATS;
    m.start_genl(h, 0);
    size_t count = 0;
    for (const auto& s : stats) {
        if (++count > kTopRules[ATTR_OP_STATS].max_count) break;
        std::string name = clip(s.name, kMaxName);
        if (name.empty()) name = "?";
        nlattr* n = m.nest(ATTR_OP_STATS);
        m.str(ST_NAME, name);
        m.u64(ST_COUNT, s.count);
        m.u64(ST_FAILED, s.failed);
        m.u64(ST_SUM_NS, s.sum_ns);
        m.u64(ST_MIN_NS, s.min_ns);
        m.u64(ST_MAX_NS, s.max_ns);
        m.u64(ST_P50_NS, s.p50_ns);
        m.u64(ST_P99_NS, s.p99_ns);
        if (!s.buckets.empty()) {
            std::vector<uint64_t> b(s.buckets);
            b.resize(kHistBuckets, 0);
            m.bin(ST_BUCKETS, ByteView(reinterpret_cast<const uint8_t*>(b.data()), kHistBuckets * 8));
        }
        m.end(n);
        if (!m.ok()) {
            m.cancel(n);
            break;
        }
    }
    return m.bytes();
}

Bytes encode_group_info(const Header& request, const GroupInfo& g, bool multi) {
    // A nest's nla_len is 16 bits: the group's lists stop before the nest would outgrow it.
    constexpr size_t kNestBudget = 65535 - 2048;
    Msg m(65535 + 256);
    Header h = answer_header(request);
    m.start_genl(h, multi ? NLM_F_MULTI : 0);
    const size_t start = m.size();
    nlattr* n = m.nest(ATTR_GROUP_INFO);
    m.str(GRP_NAME, g.name);
    size_t skipped = 0, listed = 0;
    auto list = [&](int type, const std::string& s, size_t max) {
        std::string v = clip(s, max);
        if (type == GRP_DEVICE && v.empty()) return;
        if (m.size() - start + attr_size(v.size() + 1) > kNestBudget || listed >= kMaxDevices) {
            ++skipped;
            return;
        }
        ++listed;
        m.str(type, v);
    };
    for (const auto& d : g.devices) list(GRP_DEVICE, d, kMaxDeviceLen);
    if (!g.initiator.empty()) m.str(GRP_INITIATOR, clip(g.initiator, kMaxTransportIdLen));
    if (g.target_port && *g.target_port) m.u16(GRP_TARGET_PORT, *g.target_port);
    m.u8(GRP_SG_TRANSPORT, g.sg_transport);
    if (g.key) m.u64(GRP_KEY, *g.key);
    m.u32(GRP_LUNS, g.luns);
    m.u32(GRP_PATHS_OPEN, g.paths_open);
    listed = 0;
    for (const auto& p : g.problems) list(GRP_PROBLEM, p, kMaxText);
    if (skipped) m.str(GRP_PROBLEM, fmt("%zu more device arguments and problems not listed (answer size limit)", skipped));
    m.end(n);
    return m.bytes();
}

std::vector<Bytes> encode_run_answer(const Header& request, const std::vector<engine::LunOutcome>& outcomes,
                                     const Summary& summary) {
    std::vector<Bytes> out;
    RunAnswerWriter w(request, [&out](Bytes&& part) { out.push_back(std::move(part)); });
    for (size_t i = 0; i < outcomes.size(); ++i) w.add(static_cast<uint32_t>(i), outcomes[i]);
    w.finish(summary);
    return out;
}

struct RunAnswerWriter::Part {
    Msg msg{kMaxPart};
    size_t luns = 0;
};

RunAnswerWriter::RunAnswerWriter(const Header& request, Emit emit) : request_(request), emit_(std::move(emit)) {}

RunAnswerWriter::~RunAnswerWriter() = default;

size_t RunAnswerWriter::pending() const { return part_ ? part_->luns : 0; }

void RunAnswerWriter::flush() {
    if (!part_ || part_->luns == 0) return;
    Bytes b = part_->msg.bytes();
    part_.reset();
    emit_(std::move(b));
}

void RunAnswerWriter::add(uint32_t index, const engine::LunOutcome& outcome) {
    auto open = [&] {
        part_ = std::make_unique<Part>();
        part_->msg.start_genl(answer_header(request_), NLM_F_MULTI);
    };
    auto put = [&](bool full) {
        nlattr* n = part_->msg.nest(ATTR_LUN);
        put_lun(part_->msg, index, outcome, full);
        part_->msg.end(n);
        if (part_->msg.ok()) {
            ++part_->luns;
            return true;
        }
        part_->msg.cancel(n);
        return false;
    };
    if (!part_) open();
    if (put(true)) return;
    if (part_->luns > 0) {  // the part is full: this LUN starts the next one
        flush();
        open();
        if (put(true)) return;
    }
    // Cannot happen within the limits (see kMaxLunKeys); kept so that every LUN is reported.
    (void)put(false);
}

void RunAnswerWriter::finish(const Summary& summary) {
    flush();
    Msg s(4096);
    s.start_genl(answer_header(request_), NLM_F_MULTI);
    put_summary(s, ATTR_SUMMARY, summary);
    emit_(s.bytes());
    emit_(encode_done(request_, 0));
}

std::vector<Bytes> pack_datagrams(const std::vector<Bytes>& messages) {
    std::vector<Bytes> out;
    for (const Bytes& m : messages) {
        if (out.empty() || NLMSG_ALIGN(out.back().size()) + m.size() > kMaxDatagram) out.emplace_back();
        Bytes& d = out.back();
        d.resize(NLMSG_ALIGN(d.size()), 0);
        d.insert(d.end(), m.begin(), m.end());
    }
    return out;
}

Bytes encode_event(const Event& ev) {
    size_t est = 1024 + ev.text.size() + ev.group.size() + (ev.conflict ? conflict_size(*ev.conflict) : 0);
    Msg m(est);
    Header h;
    h.cmd = CMD_EVENT;
    h.seq = 0;
    m.start_genl(h, 0);
    nlattr* n = m.nest(ATTR_EVENT);
    m.u8(EV_KIND, ev.kind);
    m.u64(EV_TIME_NS, ev.time_ns);
    if (!ev.group.empty() && group_problem(ev.group).empty()) m.str(EV_GROUP, ev.group);
    if (ev.summary) put_summary(m, EV_SUMMARY, *ev.summary);
    if (ev.conflict) put_conflict(m, EV_CONFLICT, *ev.conflict);
    if (!ev.text.empty()) m.str(EV_TEXT, clip(ev.text, kMaxText));
    m.end(n);
    return m.bytes();
}

Result<Answer> decode_answer(ByteView message) {
    std::optional<Framed> f;
    if (auto bad = frame(message, f)) return fail(to_error(*bad));
    nlmsghdr* nlh = f->nlh;
    Answer a;
    a.hdr = f->hdr;
    const uint32_t len = nlh->nlmsg_len;

    if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
        const bool is_err = nlh->nlmsg_type == NLMSG_ERROR;
        a.kind = is_err ? Answer::Kind::ack : Answer::Kind::done;
        a.hdr.version = 0;
        const uint32_t fixed = is_err ? sizeof(nlmsgerr) : sizeof(int);
        int error = 0;
        if (len < NLMSG_HDRLEN + fixed) {
            if (is_err)
                return fail(Errc::malformed, fmt("NLMSG_ERROR of %u bytes has no struct nlmsgerr", len), EINVAL);
        } else {
            std::memcpy(&error, nlmsg_data(nlh), sizeof error);
        }
        if (error > 0 || error == std::numeric_limits<int>::min())
            return fail(Errc::malformed, fmt("%s carries error %d, expected 0 or a negative errno",
                                             is_err ? "NLMSG_ERROR" : "NLMSG_DONE", error), EINVAL);
        a.err = -error;
        if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
            uint32_t off = NLMSG_HDRLEN + fixed;
            if (is_err && !(nlh->nlmsg_flags & NLM_F_CAPPED)) {
                // The whole request is echoed: TLVs follow it.
                nlmsgerr e;
                std::memcpy(&e, nlmsg_data(nlh), sizeof e);
                if (e.msg.nlmsg_len < NLMSG_HDRLEN || e.msg.nlmsg_len > len)
                    return fail(Errc::malformed, fmt("NLMSG_ERROR echoes a request of nlmsg_len %u", e.msg.nlmsg_len), EINVAL);
                off = NLMSG_HDRLEN + NLMSG_ALIGN(static_cast<uint32_t>(sizeof(int)) + e.msg.nlmsg_len);
            }
            off = NLMSG_ALIGN(off);
            if (auto bad = ack_tlvs(*f, off, a)) return fail(to_error(*bad));
        }
        return a;
    }
    if (nlh->nlmsg_type != kMsgType)
        return fail(Errc::unsupported, fmt("nlmsg_type 0x%x is not an answer prfence sends", nlh->nlmsg_type), EOPNOTSUPP);
    if (len < NLMSG_HDRLEN + GENL_HDRLEN)
        return fail(Errc::malformed, fmt("message of %u bytes has no genl header", len), EINVAL);
    const auto* g = static_cast<const genlmsghdr*>(nlmsg_data(nlh));
    a.hdr.cmd = g->cmd;
    a.hdr.version = g->version;
    if (g->cmd == CMD_UNSPEC || g->cmd > kCmdMax)
        return fail(Errc::unsupported, fmt("answer with unknown command %u (offset %d)", g->cmd, NLMSG_HDRLEN), EOPNOTSUPP);
    const CmdRule& rule = kCmdRules[g->cmd];
    if (!rule.answer_allowed)
        return fail(Errc::unsupported, fmt("%s is answered with an ack only, not a message", kCmdNames[g->cmd]), EOPNOTSUPP);

    WalkCtx c{f->copy.base(), g->cmd};
    Found found;
    if (auto bad = walk(c, nlmsg_attrdata(nlh, GENL_HDRLEN), nlmsg_attrlen(nlh, GENL_HDRLEN), S_TOP,
                        rule.answer_allowed, &found))
        return fail(to_error(*bad));
    if (uint64_t missing = rule.answer_required & ~present_bits(found))
        return fail(Errc::malformed, missing_text(missing, kCmdNames[g->cmd]) + " in an answer", EINVAL);
    std::array<nlattr*, ATTR_MAX_PLUS_ONE> tb{};
    if (int err = nlmsg_parse(nlh, GENL_HDRLEN, tb.data(), kAttrMax, const_cast<nla_policy*>(kTopPolicy.data())); err < 0)
        return fail(Errc::malformed, std::string("libnl refused the attributes: ") + nl_geterror(err), EINVAL);

    switch (g->cmd) {
    case CMD_GET_FAMILY:
        a.kind = Answer::Kind::family;
        a.family_name = get_str(tb[ATTR_FAMILY_NAME]);
        a.version = u32_or(tb[ATTR_VERSION]);
        a.min_version = u32_or(tb[ATTR_MIN_VERSION]);
        a.max_attr = u32_or(tb[ATTR_MAX_ATTR]);
        for (nlattr* x : found.at[ATTR_COMMAND]) a.commands.push_back(nla_get_u8(x));
        break;
    case CMD_HEALTH: {
        a.kind = Answer::Kind::health;
        PRF_TRY_ASSIGN(a.health, decode_health(tb[ATTR_HEALTH]));
        break;
    }
    case CMD_STATS:
        a.kind = Answer::Kind::stats;
        for (nlattr* x : found.at[ATTR_OP_STATS]) {
            PRF_TRY_ASSIGN(auto s, decode_stats(x));
            a.stats.push_back(std::move(s));
        }
        break;
    case CMD_GROUP_CREATE:
    case CMD_GROUP_ADD:
    case CMD_GROUP_REMOVE:
    case CMD_GROUP_LIST: {
        a.kind = Answer::Kind::group;
        PRF_TRY_ASSIGN(a.group, decode_group(tb[ATTR_GROUP_INFO]));
        break;
    }
    case CMD_RUN:
    case CMD_GROUP_REFRESH:
        a.kind = (found.at[ATTR_LUN].empty() && tb[ATTR_SUMMARY]) ? Answer::Kind::summary : Answer::Kind::luns;
        a.luns.reserve(found.at[ATTR_LUN].size());  // grown once: an outcome is 400 bytes to move
        for (nlattr* x : found.at[ATTR_LUN]) {
            uint32_t index = 0;
            PRF_TRY_ASSIGN(auto o, decode_lun(x, &index, f->copy.base()));
            a.luns.emplace_back(index, std::move(o));
        }
        if (tb[ATTR_SUMMARY]) {
            PRF_TRY_ASSIGN(a.summary, decode_summary(tb[ATTR_SUMMARY]));
        }
        break;
    case CMD_EVENT: {
        a.kind = Answer::Kind::event;
        PRF_TRY_ASSIGN(a.event, decode_event(tb[ATTR_EVENT]));
        break;
    }
    default:
        return fail(Errc::unsupported, fmt("%s is answered with an ack only", kCmdNames[g->cmd]), EOPNOTSUPP);
    }
    return a;
}

}  // namespace prfence::nl
