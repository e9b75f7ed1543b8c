// SPDX-License-Identifier: MIT
// Building and parsing prfence control messages (family.h) with libnl-3's message API. Pure
// functions over bytes: no sockets, no logging. The daemon decodes requests and encodes answers;
// the client (and prexplain) encode requests and decode answers; the fuzz target throws hostile
// bytes at both decoders.
//
// Decoding validates, in this order: the datagram splits into whole netlink messages (nlmsg_ok),
// each message's type is kMsgType or a netlink control type, the genl header is present, the
// command is known, the version is supported, and every attribute passes the command's nla_policy
// table (type, length, range) plus the checks a policy cannot express (string charset, required
// attributes, repeated-attribute limits, nested attributes against their own policies). Unknown
// attributes are rejected, not ignored: a daemon that does not understand a request must not
// half-execute it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "nl_control/protocol/family.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/model/operation.h"
#include "uring_engine/model/outcome.h"

namespace prfence::nl {

// ---- limits the decoders enforce (and the encoders refuse, or truncate where noted). These values
// are named here for callers; the schema's rule tables (schema.cpp, checked against PROTOCOL.md by
// ctest) are where each attribute's limit is stated, and every encoder and decoder reads it from
// there.
inline constexpr size_t kMaxGroupName = 64;     // ATTR_GROUP: 1-64 bytes of [A-Za-z0-9._-]
inline constexpr size_t kMaxDevices = 4096;     // ATTR_DEVICE / GRP_DEVICE repeated at most
inline constexpr size_t kMaxDeviceLen = 4096;   // bytes of one device argument (without the NUL)
inline constexpr size_t kMaxTransportIds = 64;  // ATTR_TRANSPORT_ID repeated at most
inline constexpr size_t kMaxTransportIdLen = 1024;  // ATTR_TRANSPORT_ID / ATTR_INITIATOR text
// ATTR_HOSTNQN / GRP_HOSTNQN: an NVMe Qualified Name is at most 223 bytes (NVMe Base
// Specification, "NVMe Qualified Names"; Linux's NVMF_NQN_SIZE), printable ASCII here.
inline constexpr size_t kMaxNqnLen = 223;
inline constexpr size_t kMaxText = 4096;      // any other free-text string (EV_TEXT, CF_TEXT, ...)
inline constexpr size_t kMaxName = 256;       // short names: LUN_STEP, ST_NAME, CF_WWID, ...
inline constexpr size_t kMaxLunError = 1024;  // LUN_ERROR; encode_run_answer truncates longer text
// LUN_PATHS: at most this many paths (LP_PATH) per LU; encode_run_answer sends the first ones. A
// path's name is at most kMaxName bytes, its error text at most kMaxPathError (longer text is cut),
// so that a LU's paths at their limits take about 25 KiB and fit in one part without its PR IN
// data.
inline constexpr size_t kMaxLunPaths = 32;
inline constexpr size_t kMaxPathError = 512;
// LUN_NVME: at most this many registrants (NVME_REGISTRANT) per LU, what the engine's Report
// buffer holds; encode_run_answer sends the first ones and NVME_REGCTL as the controller said it,
// so a shortened list reads as a truncated Report. At their limits they take about 13 KiB: beside a
// namespace's own PR IN data (255 keys) they fit in one part once paths at their limits are left
// out; beside SCSI-sized PR IN data at its limits they are left out too (NVME_STATUS and the
// Report's header stay).
inline constexpr size_t kMaxNvmeRegistrants = 255;
inline constexpr size_t kMaxSense = 252;  // LUN_SENSE
// PR IN parameter data in one LUN result: encode_run_answer encodes at most this much (what the
// engine reads by default: 1024 keys, 16 KiB of full status), so that one LUN result always fits in
// kMaxPart. Longer answers travel truncated exactly as a device truncates them (the parsers then
// report `truncated` and `needed`).
inline constexpr size_t kMaxLunKeys = 8 + 8 * 1024;
inline constexpr size_t kMaxLunFullStatus = 16384;
inline constexpr uint32_t kStatsFlagsAll = STATS_RESET;
// ATTR_EVENT_MASK: bit (1 << kind) for each EventKind.
inline constexpr uint32_t kEventMaskAll =
    (1u << EVENT_OP_DONE) | (1u << EVENT_CONFLICT) | (1u << EVENT_GROUP) | (1u << EVENT_DROPPED);

// The fixed part of a message: nlmsghdr and the genl header.
struct Header {
    uint16_t type = kMsgType;
    uint16_t flags = 0;  // NLM_F_*
    uint32_t seq = 0;
    uint32_t pid = 0;
    uint8_t cmd = CMD_UNSPEC;
    uint8_t version = kVersion;
    // nlmsg_len as decoded (decode_request / decode_answer / peek_header), echoed by encode_ack in
    // the capped request header as netlink does. Encoders compute their own length and ignore this.
    uint32_t len = 0;
};

// ---- data carried by the protocol, beyond the engine's own types

struct GroupInfo {
    std::string name;
    std::vector<std::string> devices;
    std::string initiator;
    std::optional<uint16_t> target_port;
    SgTransport sg_transport = SG_TRANSPORT_URING;
    std::optional<uint64_t> key;  // GRP_KEY
    // GRP_HOSTNQN, GRP_HOSTID: the NVMe host for prsim namespaces as the group was given it (what
    // is absent is derived, as for ATTR_HOSTNQN / ATTR_HOSTID).
    std::string hostnqn;
    std::optional<std::array<uint8_t, 16>> hostid;
    uint32_t luns = 0;
    uint32_t paths_open = 0;
    std::vector<std::string> problems;
};

struct Health {
    uint64_t uptime_ns = 0;
    uint32_t pid = 0;
    std::string version;
    uint32_t groups = 0, luns = 0, paths_open = 0;
    uint32_t clients = 0, subscribers = 0;
    uint32_t batches_running = 0, batches_queued = 0;
    uint64_t subscribers_dropped = 0;
    std::string config;
};

struct OpStats {
    std::string name;
    uint64_t count = 0, failed = 0;
    uint64_t sum_ns = 0, min_ns = 0, max_ns = 0, p50_ns = 0, p99_ns = 0;
    std::vector<uint64_t> buckets;  // kHistBuckets entries
};

struct Summary {
    engine::BatchSummary batch;
    uint64_t queued_ns = 0;
    std::optional<engine::Operation> operation;
    std::string group;
};

struct Conflict {
    ConflictClass cls = CONFLICT_UNKNOWN;
    std::string device, hctl, wwid, op, text;
    uint64_t sector = 0, count = 0, first_seen_ns = 0, last_seen_ns = 0;
    std::optional<uint64_t> our_key, holder_key;
    std::optional<uint8_t> type;
};

struct Event {
    EventKind kind = EVENT_OP_DONE;
    uint64_t time_ns = 0;
    std::string group;
    std::optional<Summary> summary;
    std::optional<Conflict> conflict;
    std::string text;
};

// ---- requests (client -> daemon)

struct Request {
    Header hdr;
    std::string group;                 // ATTR_GROUP
    std::vector<std::string> devices;  // ATTR_DEVICE*
    std::string initiator;             // ATTR_INITIATOR
    std::optional<uint16_t> target_port;
    std::optional<SgTransport> sg_transport;
    // CMD_GROUP_CREATE: the NVMe host the group speaks as to prsim namespaces (ATTR_HOSTNQN,
    // ATTR_HOSTID). What is not given is derived as direct mode's --hostnqn / --hostid are (from
    // the other, else from the initiator: engine::sim_nvme_host).
    std::string hostnqn;
    std::optional<std::array<uint8_t, 16>> hostid;
    // CMD_RUN: the operation and its values (ATTR_OPERATION, KEY, SA_KEY, OLD_KEY, TYPE, FLAGS,
    // TRANSPORT_ID*, REL_PORT, TIMEOUT_MS). Only what was present is set; make_operation judges it.
    engine::OpSpec op;
    bool has_operation = false;
    std::optional<uint32_t> deadline_ms;
    std::optional<uint32_t> qd;
    uint32_t flags = 0;  // ATTR_FLAGS as sent (CMD_STATS: StatsFlag)
    std::optional<uint32_t> event_mask;
    std::optional<Conflict> conflict;  // CMD_CONFLICT
};

// Encodes one request as one netlink message (NLM_F_REQUEST | hdr.flags). An Error only for values
// the protocol cannot carry (a string over its limit or holding a NUL, a group name outside the
// charset, a TransportID without a text form, an NQN that is not printable ASCII, a message over
// kMaxDatagram). It does not judge which attributes the command allows or requires (the daemon
// does; tests build refused requests this way): what is set is sent. ATTR_GROUP, ATTR_INITIATOR,
// ATTR_HOSTNQN when not empty; ATTR_HOSTID when set; ATTR_OPERATION when has_operation;
// op.key/sa_key/old_key/type when set; ATTR_FLAGS = flags | the OpSpec booleans' FLAG_* bits, when
// not zero; ATTR_TRANSPORT_ID per op.transport_ids (format_transport_id); ATTR_REL_PORT when
// op.rel_port != 0; ATTR_TIMEOUT_MS when op.timeout_ms != 20000 (the default a decoder leaves).
Result<Bytes> encode_request(const Request& req);

// The errors of the decoders below are refusals: Error::sys_errno is the errno to answer with
// (EINVAL, EOPNOTSUPP, EPROTONOSUPPORT, EMSGSIZE), Error::msg names the problem (and the attribute,
// by its name in family.h, e.g. "ATTR_TYPE") and Error::offset is the byte offset of the offending
// part (0 when there is none, e.g. a missing attribute). Error::code follows the errno: unsupported
// for EOPNOTSUPP and EPROTONOSUPPORT, invalid_argument for EMSGSIZE, malformed otherwise.

// Decodes one netlink message (as split_datagram returns it: exactly nlmsg_len bytes, or up to its
// NLMSG_ALIGN padding). Never reads outside `message`; any alignment is fine. A refusal's msg is
// the extended-ack text as the daemon sends it (the offset is not repeated in it); header fields
// have their own offset (4 for the type, 16 for the command, 17 for the version). The ack echoes
// peek_header.
//
// Refusals: EINVAL (malformed: short, lying length, no NLM_F_REQUEST, no genl header, bad
// attribute, missing required attribute, attribute not allowed for the command), EOPNOTSUPP
// (nlmsg_type not kMsgType, unknown command, CMD_EVENT sent as a request), EPROTONOSUPPORT (version
// outside kMinVersion..kVersion), EMSGSIZE (over kMaxDatagram).
Result<Request> decode_request(ByteView message);

// The header of a message as far as its bytes go, without judging it: nullopt when it is shorter
// than an nlmsghdr; cmd and version only when the genl header is there too (else CMD_UNSPEC and 0);
// len is nlmsg_len as sent. What an ack refusing the message echoes.
std::optional<Header> peek_header(ByteView message);

// Splits a datagram into its netlink messages. A datagram whose messages do not tile it exactly
// (short, lying lengths, trailing garbage) is refused as a whole: nothing in it is executed.
// Messages follow each other at NLMSG_ALIGN boundaries; the last one may omit its padding. Each
// view returned is exactly nlmsg_len bytes. Errors: EINVAL (Errc::malformed), or EMSGSIZE
// (Errc::invalid_argument) for a datagram over kMaxDatagram; offset is that of the bad message
// header within the datagram, and msg also says it (" (offset N)") as the daemon's ack text does.
Result<std::vector<ByteView>> split_datagram(ByteView datagram);

// ---- answers (daemon -> client)

// NLMSG_ERROR: err 0 is the ack. Carries the request's nlmsghdr (capped: NLM_F_CAPPED) and, when
// msg is not empty, NLMSGERR_ATTR_MSG (and NLMSGERR_ATTR_OFFS when offset != 0) with
// NLM_F_ACK_TLVS.
Bytes encode_ack(const Header& request, int err, const std::string& msg = {}, uint32_t offset = 0);
// NLMSG_DONE ending a multi-part answer; err (positive errno or 0) is carried as netlink does.
Bytes encode_done(const Header& request, int err = 0);
Bytes encode_family(const Header& request);
Bytes encode_health(const Header& request, const Health& h);
Bytes encode_stats(const Header& request, const std::vector<OpStats>& stats);
// multi: NLM_F_MULTI (a part of a dump); otherwise a single answer.
Bytes encode_group_info(const Header& request, const GroupInfo& g, bool multi);
// CMD_RUN / CMD_GROUP_REFRESH answers. Returns every message of the answer in order, the
// terminating NLMSG_DONE included as the LAST element (the caller sends them all and nothing else:
// no ack follows a multi-part answer):
//   [LUN part]...  cmd = request.cmd, NLM_F_MULTI, as many ATTR_LUN nests (LUN_INDEX = position in
//                  `outcomes`, in order, each exactly once) as fit in kMaxPart bytes; none for 0
//                  LUNs
//   summary part   cmd = request.cmd, NLM_F_MULTI, ATTR_SUMMARY only
//   NLMSG_DONE     NLM_F_MULTI, error 0
// Every message is at most kMaxPart bytes: one LUN result always fits (strings are truncated to
// their limits, PR IN data to kMaxLunKeys / kMaxLunFullStatus). The daemon may pack consecutive
// messages into one datagram of at most kMaxDatagram bytes (pack_datagrams) or send one per
// datagram.
std::vector<Bytes> encode_run_answer(const Header& request,
                                     const std::vector<engine::LunOutcome>& outcomes,
                                     const Summary& summary);
// The same answer built incrementally, for a daemon that sends LUN results while the batch still
// runs: LUNs may be added in any order (each exactly once; LUN_INDEX is what places them), parts
// are handed to `emit` as they fill or on flush(), and finish() emits the summary part and
// NLMSG_DONE. Every part obeys the limits above.
class RunAnswerWriter {
  public:
    using Emit = std::function<void(Bytes&&)>;
    RunAnswerWriter(const Header& request, Emit emit);
    ~RunAnswerWriter();
    RunAnswerWriter(const RunAnswerWriter&) = delete;
    RunAnswerWriter& operator=(const RunAnswerWriter&) = delete;

    // Adds LUN `index`'s result; when the current part has no room, it is emitted first.
    void add(uint32_t index, const engine::LunOutcome& outcome);
    // Emits the current part now if it holds a LUN result (nothing otherwise).
    void flush();
    // LUN results in the current, not yet emitted part.
    size_t pending() const;
    // flush(), then the summary part and NLMSG_DONE. Nothing is added after it.
    void finish(const Summary& summary);

  private:
    struct Part;
    Header request_;
    Emit emit_;
    std::unique_ptr<Part> part_;
};
// Packs messages into as few datagrams of at most kMaxDatagram bytes as possible, in order (each
// message NLMSG_ALIGN-padded). A message is never split.
std::vector<Bytes> pack_datagrams(const std::vector<Bytes>& messages);
Bytes encode_event(const Event& ev);  // CMD_EVENT, seq 0

// One answer message, decoded: its header and exactly one payload, whose kind says which. The
// payload can only be read as the kind it is: the accessors of another kind throw
// std::bad_variant_access.
//   ack      NLMSG_ERROR: err is a positive errno, 0 for an ack; msg / offset from the extended-ack
//            TLVs
//   done     NLMSG_DONE: err from its payload
//   family   CMD_GET_FAMILY
//   health   CMD_HEALTH
//   stats    CMD_STATS: one OpStats per ATTR_OP_STATS
//   group    CMD_GROUP_CREATE / ADD / REMOVE / LIST
//   luns     CMD_RUN / CMD_GROUP_REFRESH part with ATTR_LUN (an empty part is luns with none):
//            (LUN_INDEX, outcome) in the order they came
//   summary  CMD_RUN / CMD_GROUP_REFRESH part with ATTR_SUMMARY and no ATTR_LUN
//   event    CMD_EVENT
struct Ack {
    int err = 0;
    std::string msg;
    uint32_t offset = 0;
};
struct Done {
    int err = 0;
};
struct FamilyInfo {
    std::string name;
    uint32_t version = 0, min_version = 0, max_attr = 0;
    std::vector<uint8_t> commands;
};
using LunResults = std::vector<std::pair<uint32_t, engine::LunOutcome>>;

class Answer {
  public:
    enum class Kind { ack, done, family, health, stats, group, luns, summary, event };
    // Alternatives in Kind's order.
    using Payload = std::variant<Ack, Done, FamilyInfo, Health, std::vector<OpStats>, GroupInfo,
                                 LunResults, Summary, Event>;

    Header hdr;

    Answer() = default;
    Answer(const Header& h, Payload p) : hdr(h), payload_(std::move(p)) {}

    Kind kind() const { return static_cast<Kind>(payload_.index()); }
    // The errno an ack or done carries (0: success); 0 for every other kind.
    int err() const;
    // An ack's extended-ack text and offset; empty and 0 for every other kind.
    const std::string& err_msg() const;
    uint32_t err_offset() const;

    const Ack& ack() const { return std::get<Ack>(payload_); }
    const Done& done() const { return std::get<Done>(payload_); }
    const FamilyInfo& family() const { return std::get<FamilyInfo>(payload_); }
    const Health& health() const { return std::get<Health>(payload_); }
    const std::vector<OpStats>& stats() const { return std::get<std::vector<OpStats>>(payload_); }
    const GroupInfo& group() const { return std::get<GroupInfo>(payload_); }
    const LunResults& luns() const { return std::get<LunResults>(payload_); }
    LunResults& luns() { return std::get<LunResults>(payload_); }
    const Summary& summary() const { return std::get<Summary>(payload_); }
    Summary& summary() { return std::get<Summary>(payload_); }
    const Event& event() const { return std::get<Event>(payload_); }
    Event& event() { return std::get<Event>(payload_); }

  private:
    Payload payload_;
};

// Decodes one answer message (as split_datagram returns it). Validates like decode_request (the
// answer's attributes against the same schema and the command's answer set) but tolerates every
// optional attribute missing. Errors are refusals as above (Errc::malformed / unsupported,
// sys_errno EINVAL / EOPNOTSUPP, offset set), and msg also says the offset (" (offset N)"): nothing
// sends it on.
Result<Answer> decode_answer(ByteView message);

}  // namespace prfence::nl
