// SPDX-License-Identifier: MIT
// prfenced's control protocol: the "prfence" family. Netlink-format messages (nlmsghdr, then a
// generic-netlink-style header {cmd, version, reserved}, then typed attributes) carried over an
// AF_UNIX SOCK_SEQPACKET socket, one or more netlink messages per datagram. Every numeric value
// below is part of the wire format: append only, never renumber. Integers are in host byte order,
// as in netlink. nl_control/PROTOCOL.md documents each command and attribute with its type, policy
// and meaning.
#pragma once

#include <cstddef>
#include <cstdint>

namespace prfence::nl {

inline constexpr char kFamilyName[] = "prfence";
// Version 1. A client sends the version it speaks in the genl header; the daemon answers a request
// whose version is above kVersion or below kMinVersion with EPROTONOSUPPORT and says which it
// speaks.
inline constexpr uint8_t kVersion = 1;
inline constexpr uint8_t kMinVersion = 1;
// nlmsg_type of every prfence message (netlink reserves the types below NLMSG_MIN_TYPE = 0x10 for
// NOOP, ERROR, DONE and OVERRUN, which keep their meaning here).
inline constexpr uint16_t kMsgType = 0x20;
// Largest datagram either side sends or accepts; a larger one is rejected (EMSGSIZE) and dropped.
inline constexpr size_t kMaxDatagram = 256 * 1024;
// Largest single reply message the daemon builds; LUN results beyond it continue in the next part
// of a multi-part (NLM_F_MULTI ... NLMSG_DONE) answer.
inline constexpr size_t kMaxPart = 32 * 1024;
inline constexpr char kDefaultSocket[] = "/run/prfence/control.sock";

// The wire enums are tables aligned by hand: one value and its meaning a row.
// clang-format off
enum Cmd : uint8_t {
    CMD_UNSPEC = 0,
    CMD_GET_FAMILY = 1,    // -> ATTR_FAMILY_NAME, ATTR_VERSION, ATTR_MIN_VERSION, ATTR_MAX_ATTR, ATTR_COMMAND*
    CMD_NOOP = 2,          // round-trip probe: answered with an ack (NLMSG_ERROR, error 0)
    CMD_HEALTH = 3,        // -> ATTR_HEALTH
    CMD_STATS = 4,         // -> ATTR_OP_STATS* (one per operation that ran); ATTR_FLAGS & STATS_RESET clears
    CMD_GROUP_CREATE = 5,  // ATTR_GROUP, ATTR_DEVICE+, [ATTR_INITIATOR, ATTR_TARGET_PORT, ATTR_SG_TRANSPORT,
                           //  ATTR_KEY (this node's key for the group), ATTR_HOSTNQN, ATTR_HOSTID]
                           //  -> ATTR_GROUP_INFO
    CMD_GROUP_ADD = 6,     // ATTR_GROUP, ATTR_DEVICE+ -> ATTR_GROUP_INFO
    CMD_GROUP_REMOVE = 7,  // ATTR_GROUP, ATTR_DEVICE+ (as they were added) -> ATTR_GROUP_INFO
    CMD_GROUP_DELETE = 8,  // ATTR_GROUP -> ack
    CMD_GROUP_LIST = 9,    // [ATTR_GROUP]; NLM_F_DUMP: one ATTR_GROUP_INFO per group, then NLMSG_DONE
    CMD_GROUP_REFRESH = 10,// ATTR_GROUP: re-resolve and reopen, then READ KEYS; answered like CMD_RUN
    CMD_RUN = 11,          // ATTR_GROUP, ATTR_OPERATION, operation attributes -> multi-part: ATTR_LUN* parts,
                           // a last part with ATTR_SUMMARY, then NLMSG_DONE. Without ATTR_KEY, the group's key
                           // (if it has one) is the operation's key.
    CMD_SUBSCRIBE = 12,    // [ATTR_EVENT_MASK] -> ack; CMD_EVENT messages follow, unsolicited (seq 0)
    CMD_UNSUBSCRIBE = 13,  // -> ack
    CMD_EVENT = 14,        // daemon -> subscriber only: ATTR_EVENT
    CMD_CONFLICT = 15,     // prexplain -> daemon: ATTR_CONFLICT; forwarded to subscribers as an event
    CMD_RELOAD = 16,       // re-read the config file (what SIGHUP does) -> ack
    CMD_MAX_PLUS_ONE
};
inline constexpr uint8_t kCmdMax = CMD_MAX_PLUS_ONE - 1;

// Top-level attributes.
enum Attr : uint16_t {
    ATTR_UNSPEC = 0,
    ATTR_FAMILY_NAME = 1,   // string
    ATTR_VERSION = 2,       // u32
    ATTR_MIN_VERSION = 3,   // u32
    ATTR_MAX_ATTR = 4,      // u32
    ATTR_COMMAND = 5,       // u8, repeated: the commands this daemon serves
    ATTR_GROUP = 6,         // string, 1-64 bytes of [A-Za-z0-9._-]
    ATTR_DEVICE = 7,        // string, repeated: a device argument as prfence takes it (/dev/sdX, by-id,
                            // /dev/mapper/..., glob, sim:SOCKET:RANGE)
    ATTR_INITIATOR = 8,     // string: sim LUNs' TransportID (sg_persist syntax)
    ATTR_TARGET_PORT = 9,   // u16: sim LUNs' relative target port (1-65535)
    ATTR_SG_TRANSPORT = 10, // u8: SgTransport
    ATTR_OPERATION = 11,    // u8: engine::Operation (1-17)
    ATTR_KEY = 12,          // u64: our key (OpSpec::key)
    ATTR_SA_KEY = 13,       // u64: victim (preempt, fence) or destination key (move)
    ATTR_OLD_KEY = 14,      // u64: register: the key registered now
    ATTR_TYPE = 15,         // u8: reservation type (1, 3, 5, 6, 7, 8)
    ATTR_FLAGS = 16,        // u32: OpFlag bits (CMD_RUN), StatsFlag (CMD_STATS)
    ATTR_TRANSPORT_ID = 17, // string, repeated: TransportID in sg_persist syntax
    ATTR_REL_PORT = 18,     // u16: move: destination relative target port
    ATTR_TIMEOUT_MS = 19,   // u32: per-command timeout (1-3,600,000)
    ATTR_DEADLINE_MS = 20,  // u32: whole-batch deadline (1-86,400,000)
    ATTR_LUN = 21,          // nested LunAttr, repeated
    ATTR_SUMMARY = 22,      // nested SumAttr
    ATTR_GROUP_INFO = 23,   // nested GroupAttr
    ATTR_HEALTH = 24,       // nested HealthAttr
    ATTR_OP_STATS = 25,     // nested StatAttr, repeated
    ATTR_EVENT = 26,        // nested EventAttr
    ATTR_CONFLICT = 27,     // nested ConflictAttr
    ATTR_EVENT_MASK = 28,   // u32: EventKind bits (1 << kind); absent = all
    ATTR_QD = 29,           // u32: commands in flight at most (1-65536)
    ATTR_HOSTNQN = 30,      // string: prsim namespaces' NVMe host NQN (1-223 printable ASCII)
    ATTR_HOSTID = 31,       // binary, 16 bytes: prsim namespaces' NVMe host identifier
    ATTR_MAX_PLUS_ONE
};
// Every attribute set stays below 64 types: the decoders index types by number (walk.h's AttrIndex)
// and the schema's allowed and required sets are 64-bit masks.
inline constexpr uint16_t kAttrMax = ATTR_MAX_PLUS_ONE - 1;

enum OpFlag : uint32_t {
    FLAG_IGNORE_EXISTING = 1u << 0,
    FLAG_APTPL = 1u << 1,
    FLAG_ALL_TG_PT = 1u << 2,
    FLAG_ABORT = 1u << 3,
    FLAG_NO_ABORT = 1u << 4,
    FLAG_UNREG = 1u << 5,
    FLAG_FORCE = 1u << 6,
    FLAG_CLAIM = 1u << 7,
};
inline constexpr uint32_t kOpFlagsAll = (1u << 8) - 1;
enum StatsFlag : uint32_t { STATS_RESET = 1u << 0 };

enum SgTransport : uint8_t { SG_TRANSPORT_URING = 0, SG_TRANSPORT_SGIO = 1 };

// One LUN's outcome (engine::LunOutcome). PR IN answers travel as the device's parameter data, so the
// client parses them with the same (fuzzed) parsers as direct mode.
enum LunAttr : uint16_t {
    LUN_UNSPEC = 0,
    LUN_INDEX = 1,        // u32: position in the group
    LUN_DEVICE = 2,       // string
    LUN_OK = 3,           // u8 0/1
    LUN_FINISHED = 4,     // u8 0/1
    LUN_CATEGORY = 5,     // u8: wire::Category (sg3_utils exit code)
    LUN_STEP = 6,         // string: the command that decided the outcome
    LUN_ERROR = 7,        // string
    LUN_STATUS = 8,       // u8: SAM status
    LUN_SENSE = 9,        // binary: sense data as the device returned it (<= 252 bytes)
    LUN_ERRNO = 10,       // u32
    LUN_TIMED_OUT = 11,   // u8 0/1
    LUN_LATENCY_NS = 12,  // u64
    LUN_COMMANDS = 13,    // u32
    LUN_RETRIES = 14,     // u32
    LUN_KEYS = 15,        // binary: READ KEYS parameter data
    LUN_RESERVATION = 16, // binary: READ RESERVATION parameter data
    LUN_CAPS = 17,        // binary: REPORT CAPABILITIES parameter data
    LUN_FULL_STATUS = 18, // binary: READ FULL STATUS parameter data
    LUN_DEGRADED = 19,    // u8 0/1: ok with a dead path (engine::LunOutcome::degraded)
    LUN_PATHS = 20,       // nested LunPathsAttr: every path of the LU as the batch left it
    LUN_NVME = 21,        // nested NvmeAttr: what only an NVMe namespace answers
    LUN_MAX_PLUS_ONE
};

// LUN_PATHS: engine::LunOutcome::paths, in their order.
enum LunPathsAttr : uint16_t {
    LP_UNSPEC = 0,
    LP_PATH = 1,          // nested PathAttr, repeated: one path
    LP_MAX_PLUS_ONE
};

// One path (I_T nexus) of a LU (engine::PathOutcome).
enum PathState : uint8_t {  // engine::PathOutcome::State
    PATH_STATE_UNUSED = 0,     // no command went down it
    PATH_STATE_ANSWERED = 1,   // the LU answered on it
    PATH_STATE_REGISTERED = 2, // a REGISTER-type command succeeded on it
    PATH_STATE_DEAD = 3,       // it failed as a path, or could not be opened
};
enum PathAttr : uint16_t {
    PATH_UNSPEC = 0,
    PATH_NAME = 1,        // string: "/dev/sg3", "sim:SOCKET:LUN"
    PATH_STATE = 2,       // u8: PathState
    PATH_ERROR = 3,       // string: why it is dead
    PATH_MAX_PLUS_ONE
};

// LUN_NVME: engine::LunOutcome::nvme_status and nvme_report. The report's fields (GENERATION,
// RTYPE, REGCTL, REGISTRANT) travel together or not at all.
enum NvmeAttr : uint16_t {
    NVME_UNSPEC = 0,
    NVME_STATUS = 1,      // u32: Linux's NVMe status as a two's-complement int (negative errno)
    NVME_GENERATION = 2,  // u32: the Report's generation
    NVME_RTYPE = 3,       // u8: the Report's RTYPE (0 no reservation, 1..6)
    NVME_REGCTL = 4,      // u16: registrants the controller says it has
    NVME_REGISTRANT = 5,  // nested NvmeRegistrantAttr, repeated: one registrant, in Report order
    NVME_MAX_PLUS_ONE
};

// One registrant of a Reservation Report (wire::nvme::Registrant).
enum NvmeRegistrantAttr : uint16_t {
    NR_UNSPEC = 0,
    NR_KEY = 1,           // u64: its reservation key
    NR_HOSTID = 2,        // binary, 16 bytes: host identifier (a 64-bit one fills bytes 0..7)
    NR_HOLDER = 3,        // u8 0/1: holds the reservation (absent: 0)
    NR_CNTLID = 4,        // u16: controller ID (0xffff: dynamic controller model)
    NR_MAX_PLUS_ONE
};

// A batch's summary (engine::BatchSummary) plus the daemon's own timing.
enum SumAttr : uint16_t {
    SUM_UNSPEC = 0,
    SUM_LUNS = 1,          // u32
    SUM_OK = 2,            // u32
    SUM_FAILED = 3,        // u32
    SUM_WALL_NS = 4,       // u64: first submission to last completion
    SUM_COMMANDS = 5,      // u64
    SUM_RETRIES = 6,       // u64
    SUM_P50_NS = 7,        // u64: per-command latency percentiles
    SUM_P90_NS = 8,        // u64
    SUM_P99_NS = 9,        // u64
    SUM_MAX_NS = 10,       // u64
    SUM_WORST = 11,        // u8: wire::Category
    SUM_DEADLINE_HIT = 12, // u8 0/1
    SUM_CANCELLED = 13,    // u8 0/1
    SUM_QUEUED_NS = 14,    // u64: request received to batch start (waiting behind other batches)
    SUM_OPERATION = 15,    // u8: engine::Operation
    SUM_GROUP = 16,        // string
    SUM_DEGRADED = 17,     // u32: of the ok LUNs, those with a dead path
    SUM_MAX_PLUS_ONE
};

enum GroupAttr : uint16_t {
    GRP_UNSPEC = 0,
    GRP_NAME = 1,          // string
    GRP_DEVICE = 2,        // string, repeated: the group's device arguments
    GRP_INITIATOR = 3,     // string
    GRP_TARGET_PORT = 4,   // u16
    GRP_SG_TRANSPORT = 5,  // u8
    GRP_LUNS = 6,          // u32: logical units after resolution
    GRP_PATHS_OPEN = 7,    // u32
    GRP_PROBLEM = 8,       // string, repeated: resolution and open errors
    GRP_KEY = 9,           // u64: this node's reservation key for the group (absent: none configured)
    GRP_HOSTNQN = 10,      // string: the NVMe host NQN as given (absent: derived, as direct mode does)
    GRP_HOSTID = 11,       // binary, 16 bytes: the NVMe host identifier as given (absent: derived)
    GRP_MAX_PLUS_ONE
};

enum HealthAttr : uint16_t {
    H_UNSPEC = 0,
    H_UPTIME_NS = 1,       // u64
    H_PID = 2,             // u32
    H_VERSION = 3,         // string: prfenced's version
    H_GROUPS = 4,          // u32
    H_LUNS = 5,            // u32
    H_PATHS_OPEN = 6,      // u32
    H_CLIENTS = 7,         // u32
    H_SUBSCRIBERS = 8,     // u32
    H_BATCHES_RUNNING = 9, // u32
    H_BATCHES_QUEUED = 10, // u32
    H_SUBSCRIBERS_DROPPED = 11,  // u64: since start
    H_CONFIG = 12,         // string: config file path ("" when none)
    H_MAX_PLUS_ONE
};

// Latency of one operation (or command) since start or the last STATS_RESET.
inline constexpr size_t kHistBuckets = 32;  // bucket i: [2^i, 2^(i+1)) microseconds; bucket 0 also < 1 us
enum StatAttr : uint16_t {
    ST_UNSPEC = 0,
    ST_NAME = 1,           // string: operation name ("fence") or "control" for control round trips
    ST_COUNT = 2,          // u64
    ST_FAILED = 3,         // u64: batches with at least one failed LUN
    ST_SUM_NS = 4,         // u64
    ST_MIN_NS = 5,         // u64
    ST_MAX_NS = 6,         // u64
    ST_P50_NS = 7,         // u64 (from the histogram: the bucket's upper bound)
    ST_P99_NS = 8,         // u64
    ST_BUCKETS = 9,        // binary: kHistBuckets u64 counts, host order
    ST_MAX_PLUS_ONE
};

enum EventKind : uint8_t {
    EVENT_OP_DONE = 1,     // a batch finished (EV_SUMMARY)
    EVENT_CONFLICT = 2,    // prexplain reported a conflict (EV_CONFLICT)
    EVENT_GROUP = 3,       // a group was created, changed, deleted or reloaded (EV_GROUP, EV_TEXT)
    EVENT_DROPPED = 4,     // sent to a subscriber as it is dropped (EV_TEXT says why), best effort
};
enum EventAttr : uint16_t {
    EV_UNSPEC = 0,
    EV_KIND = 1,           // u8: EventKind
    EV_TIME_NS = 2,        // u64: CLOCK_REALTIME
    EV_GROUP = 3,          // string
    EV_SUMMARY = 4,        // nested SumAttr
    EV_CONFLICT = 5,       // nested ConflictAttr
    EV_TEXT = 6,           // string
    EV_MAX_PLUS_ONE
};

// prexplain's diagnosis of one conflict event (prexplain --forward sends it; subscribers get it).
enum ConflictClass : uint8_t {
    CONFLICT_UNKNOWN = 0,
    CONFLICT_FENCED = 1,
    CONFLICT_RESERVED_BY_OTHER = 2,
    CONFLICT_NOT_REGISTERED = 3,
    CONFLICT_RESERVED_SPC2 = 4,
    CONFLICT_TRANSIENT = 5,
};
enum ConflictAttr : uint16_t {
    CF_UNSPEC = 0,
    CF_CLASS = 1,          // u8: ConflictClass
    CF_DEVICE = 2,         // string
    CF_HCTL = 3,           // string
    CF_WWID = 4,           // string
    CF_OP = 5,             // string: "read", "write", ...
    CF_SECTOR = 6,         // u64
    CF_COUNT = 7,          // u64: lines folded into this event
    CF_FIRST_SEEN_NS = 8,  // u64
    CF_LAST_SEEN_NS = 9,   // u64
    CF_OUR_KEY = 10,       // u64
    CF_HOLDER_KEY = 11,    // u64
    CF_TYPE = 12,          // u8: reservation type
    CF_TEXT = 13,          // string: the human line
    CF_MAX_PLUS_ONE
};
// clang-format on

}  // namespace prfence::nl
