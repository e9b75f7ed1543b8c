// SPDX-License-Identifier: MIT
// Requests (client -> daemon): encode_request, decode_request, peek_header and split_datagram.
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>

#include <array>
#include <cerrno>

#include "nl_control/protocol/message.h"
#include "nl_control/protocol/payloads.h"
#include "nl_control/protocol/walk.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::nl {

using namespace schema;
using namespace detail;

namespace {

// ATTR_FLAGS bits of CMD_RUN and the OpSpec booleans they carry: encode_request ORs them in,
// decode_request reads them back.
struct OpFlagField {
    OpFlag flag;
    bool engine::OpSpec::*field;
};
constexpr OpFlagField kOpFlagFields[] = {
    {FLAG_IGNORE_EXISTING, &engine::OpSpec::ignore_existing},
    {FLAG_APTPL, &engine::OpSpec::aptpl},
    {FLAG_ALL_TG_PT, &engine::OpSpec::all_tg_pt},
    {FLAG_ABORT, &engine::OpSpec::abort},
    {FLAG_NO_ABORT, &engine::OpSpec::no_abort},
    {FLAG_UNREG, &engine::OpSpec::unreg},
    {FLAG_FORCE, &engine::OpSpec::force},
    {FLAG_CLAIM, &engine::OpSpec::claim},
};
constexpr bool op_flags_cover_all() {
    uint32_t all = 0;
    for (const auto& f : kOpFlagFields) all |= f.flag;
    return all == kOpFlagsAll;
}
static_assert(op_flags_cover_all(), "every OpFlag maps to one OpSpec boolean");

uint32_t op_flags(const engine::OpSpec& op) {
    uint32_t flags = 0;
    for (const auto& f : kOpFlagFields)
        if (op.*f.field) flags |= f.flag;
    return flags;
}
void set_op_flags(engine::OpSpec& op, uint32_t flags) {
    for (const auto& f : kOpFlagFields) op.*f.field = (flags & f.flag) != 0;
}

Status check_count(const Rule& r, size_t n, const char* what) {
    if (n > r.max_count)
        return fail(Errc::invalid_argument,
                    fmt("%s: %zu %s, at most %u", r.name, n, what, r.max_count), EINVAL);
    return {};
}

}  // namespace

Result<Bytes> encode_request(const Request& req) {
    auto top = [](uint16_t type) -> const Rule& { return rule_of(kSetTop, type); };
    if (!req.group.empty()) {
        if (auto p = group_problem(req.group); !p.empty())
            return fail(Errc::invalid_argument, std::string(top(ATTR_GROUP).name) + ": " + p,
                        EINVAL);
    }
    PRF_TRY(check_count(top(ATTR_DEVICE), req.devices.size(), "devices"));
    size_t est = 1024;
    for (const auto& d : req.devices) {
        PRF_TRY(check_text(top(ATTR_DEVICE), d, top(ATTR_DEVICE).lo));
        est += attr_size(d.size() + 1);
    }
    PRF_TRY(check_text(top(ATTR_INITIATOR), req.initiator, 0));
    est += attr_size(req.initiator.size() + 1);
    PRF_TRY(check_text(top(ATTR_HOSTNQN), req.hostnqn, 0));
    est += attr_size(req.hostnqn.size() + 1) + attr_size(16);
    PRF_TRY(check_count(top(ATTR_TRANSPORT_ID), req.op.transport_ids.size(), "TransportIDs"));
    std::vector<std::string> tids;
    for (const auto& t : req.op.transport_ids) {
        std::string s = wire::format_transport_id(t);
        auto back = wire::parse_transport_id(s);
        if (!back.ok())
            return fail(Errc::invalid_argument,
                        "ATTR_TRANSPORT_ID: " + s + " has no text form: " + back.error().msg,
                        EINVAL);
        PRF_TRY(check_text(top(ATTR_TRANSPORT_ID), s, top(ATTR_TRANSPORT_ID).lo));
        est += attr_size(s.size() + 1);
        tids.push_back(std::move(s));
    }
    if (req.conflict) {
        const Conflict& f = *req.conflict;
        for (auto [type, text] : {std::pair<uint16_t, const std::string*>{CF_DEVICE, &f.device},
                                  {CF_HCTL, &f.hctl},
                                  {CF_WWID, &f.wwid},
                                  {CF_OP, &f.op},
                                  {CF_TEXT, &f.text}})
            PRF_TRY(check_text(rule_of(kSetConflict, type), *text, 0));
        est += conflict_size(f);
    }
    if (est > kMaxDatagram)
        return fail(Errc::invalid_argument,
                    fmt("request of about %zu bytes exceeds kMaxDatagram (%zu)", est, kMaxDatagram),
                    EMSGSIZE);

    MessageBuilder m(est);
    m.start_genl(req.hdr, static_cast<uint16_t>(req.hdr.flags | NLM_F_REQUEST));
    if (!req.group.empty()) m.str(ATTR_GROUP, req.group);
    for (const auto& d : req.devices) m.str(ATTR_DEVICE, d);
    if (!req.initiator.empty()) m.str(ATTR_INITIATOR, req.initiator);
    if (req.target_port) m.u16(ATTR_TARGET_PORT, *req.target_port);
    if (req.sg_transport) m.u8(ATTR_SG_TRANSPORT, *req.sg_transport);
    if (!req.hostnqn.empty()) m.str(ATTR_HOSTNQN, req.hostnqn);
    if (req.hostid) m.bin(ATTR_HOSTID, ByteView(req.hostid->data(), req.hostid->size()));
    const engine::OpSpec& op = req.op;
    if (req.has_operation) m.u8(ATTR_OPERATION, static_cast<uint8_t>(op.op));
    if (op.key) m.u64(ATTR_KEY, *op.key);
    if (op.sa_key) m.u64(ATTR_SA_KEY, *op.sa_key);
    if (op.old_key) m.u64(ATTR_OLD_KEY, *op.old_key);
    if (op.type) m.u8(ATTR_TYPE, static_cast<uint8_t>(*op.type));
    if (const uint32_t flags = req.flags | op_flags(op)) m.u32(ATTR_FLAGS, flags);
    for (const auto& s : tids) m.str(ATTR_TRANSPORT_ID, s);
    if (op.rel_port) m.u16(ATTR_REL_PORT, op.rel_port);
    if (op.timeout_ms != engine::OpSpec{}.timeout_ms) m.u32(ATTR_TIMEOUT_MS, op.timeout_ms);
    if (req.deadline_ms) m.u32(ATTR_DEADLINE_MS, *req.deadline_ms);
    if (req.qd) m.u32(ATTR_QD, *req.qd);
    if (req.event_mask) m.u32(ATTR_EVENT_MASK, *req.event_mask);
    if (req.conflict) put_conflict(m, ATTR_CONFLICT, *req.conflict);
    if (!m.ok())
        return fail(Errc::invalid_argument, "request does not fit in one message", EMSGSIZE);
    return m.bytes();
}

std::optional<Header> peek_header(ByteView message) {
    if (message.size() < NLMSG_HDRLEN) return std::nullopt;
    AlignedCopy copy(message.first(std::min<size_t>(message.size(), NLMSG_HDRLEN + GENL_HDRLEN)));
    const nlmsghdr* nlh = copy.nlh();
    Header h{nlh->nlmsg_type, nlh->nlmsg_flags, nlh->nlmsg_seq, nlh->nlmsg_pid, CMD_UNSPEC, 0,
             nlh->nlmsg_len};
    if (message.size() >= NLMSG_HDRLEN + GENL_HDRLEN) {
        const auto* g = static_cast<const genlmsghdr*>(nlmsg_data(nlh));
        h.cmd = g->cmd;
        h.version = g->version;
    }
    return h;
}

Result<Request> decode_request(ByteView message) {
    PRF_TRY_ASSIGN(FramedMessage f, frame(message));
    nlmsghdr* nlh = f.nlh;
    if (nlh->nlmsg_type != kMsgType)
        return fail(refusal(
            EOPNOTSUPP,
            fmt("nlmsg_type 0x%x is not the prfence family (0x%x)", nlh->nlmsg_type, kMsgType), 4));
    if (!(nlh->nlmsg_flags & NLM_F_REQUEST))
        return fail(
            refusal(EINVAL, fmt("NLM_F_REQUEST is not set (flags 0x%x)", nlh->nlmsg_flags), 6));
    if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
        return fail(refusal(EINVAL, fmt("message of %u bytes has no genl header", nlh->nlmsg_len),
                            NLMSG_HDRLEN));
    const auto* g = static_cast<const genlmsghdr*>(nlmsg_data(nlh));
    if (g->cmd == CMD_UNSPEC || g->cmd > kCmdMax)
        return fail(refusal(EOPNOTSUPP,
                            fmt("unknown command %u (prfenced serves 1-%u)", g->cmd, kCmdMax),
                            NLMSG_HDRLEN));
    const CmdRule& rule = cmd_rule(g->cmd);
    if (!rule.request)
        return fail(refusal(EOPNOTSUPP,
                            fmt("%s is sent by prfenced only, not a request", cmd_name(g->cmd)),
                            NLMSG_HDRLEN));
    if (g->version > kVersion || g->version < kMinVersion)
        return fail(
            refusal(EPROTONOSUPPORT,
                    fmt("protocol version %u is not supported: prfenced speaks versions %u-%u",
                        g->version, kMinVersion, kVersion),
                    NLMSG_HDRLEN + 1));

    WalkContext c{f.copy.base(), g->cmd};
    AttrIndex found;
    PRF_TRY(walk(c, nlmsg_attrdata(nlh, GENL_HDRLEN), nlmsg_attrlen(nlh, GENL_HDRLEN), kSetTop,
                 rule.allowed, &found));
    if (uint64_t missing = rule.required & ~found.present())
        return fail(refusal(EINVAL, missing_text(missing, g->cmd)));

    PRF_TRY_ASSIGN(const TopAttrs tb, parse_top(nlh));

    Request r;
    r.hdr = f.hdr;
    r.hdr.cmd = g->cmd;
    r.hdr.version = g->version;
    r.group = attr_string(tb[ATTR_GROUP]);
    for (nlattr* a : found.at[ATTR_DEVICE]) r.devices.push_back(attr_string(a));
    r.initiator = attr_string(tb[ATTR_INITIATOR]);
    if (tb[ATTR_TARGET_PORT]) r.target_port = nla_get_u16(tb[ATTR_TARGET_PORT]);
    if (tb[ATTR_SG_TRANSPORT])
        r.sg_transport = static_cast<SgTransport>(nla_get_u8(tb[ATTR_SG_TRANSPORT]));
    r.hostnqn = attr_string(tb[ATTR_HOSTNQN]);
    if (tb[ATTR_HOSTID]) r.hostid = hostid_of(tb[ATTR_HOSTID]);
    if (tb[ATTR_OPERATION]) {
        r.has_operation = true;
        r.op.op = static_cast<engine::Operation>(nla_get_u8(tb[ATTR_OPERATION]));
    }
    if (tb[ATTR_KEY]) r.op.key = nla_get_u64(tb[ATTR_KEY]);
    if (tb[ATTR_SA_KEY]) r.op.sa_key = nla_get_u64(tb[ATTR_SA_KEY]);
    if (tb[ATTR_OLD_KEY]) r.op.old_key = nla_get_u64(tb[ATTR_OLD_KEY]);
    if (tb[ATTR_TYPE]) r.op.type = static_cast<wire::PrType>(nla_get_u8(tb[ATTR_TYPE]));
    r.flags = u32_or(tb[ATTR_FLAGS]);
    if (g->cmd == CMD_RUN) set_op_flags(r.op, r.flags);
    for (nlattr* a : found.at[ATTR_TRANSPORT_ID]) {
        auto t = wire::parse_transport_id(attr_string(a));
        if (!t.ok())
            return fail(refusal(EINVAL, "ATTR_TRANSPORT_ID: " + t.error().msg, offset_of(c, a)));
        r.op.transport_ids.push_back(std::move(*t));
    }
    if (tb[ATTR_REL_PORT]) r.op.rel_port = nla_get_u16(tb[ATTR_REL_PORT]);
    if (tb[ATTR_TIMEOUT_MS]) r.op.timeout_ms = nla_get_u32(tb[ATTR_TIMEOUT_MS]);
    if (tb[ATTR_DEADLINE_MS]) r.deadline_ms = nla_get_u32(tb[ATTR_DEADLINE_MS]);
    if (tb[ATTR_QD]) r.qd = nla_get_u32(tb[ATTR_QD]);
    if (tb[ATTR_EVENT_MASK]) r.event_mask = nla_get_u32(tb[ATTR_EVENT_MASK]);
    if (tb[ATTR_CONFLICT]) {
        auto cf = decode_conflict(tb[ATTR_CONFLICT]);
        if (!cf.ok()) return fail(refusal(EINVAL, cf.error().msg, offset_of(c, tb[ATTR_CONFLICT])));
        r.conflict = std::move(*cf);
    }
    return r;
}

Result<std::vector<ByteView>> split_datagram(ByteView datagram) {
    auto refuse = [](int err, std::string msg, uint32_t off) -> Result<std::vector<ByteView>> {
        return fail(with_offset_in_text(refusal(err, std::move(msg), off)));
    };
    if (datagram.size() > kMaxDatagram)
        return refuse(
            EMSGSIZE,
            fmt("datagram of %zu bytes exceeds the %zu-byte limit", datagram.size(), kMaxDatagram),
            0);
    if (datagram.empty()) return refuse(EINVAL, "empty datagram", 0);
    AlignedCopy copy(datagram);
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
            return refuse(
                EINVAL,
                out.empty()
                    ? fmt("datagram of %d bytes is shorter than a netlink header (%d bytes)", rem,
                          NLMSG_HDRLEN)
                    : fmt("%d bytes of trailing garbage after the last message", rem),
                off);
        if (nlh->nlmsg_len < NLMSG_HDRLEN)
            return refuse(EINVAL,
                          fmt("nlmsg_len %u is shorter than the netlink header", nlh->nlmsg_len),
                          off);
        return refuse(
            EINVAL,
            fmt("nlmsg_len %u exceeds the %d bytes left in the datagram", nlh->nlmsg_len, rem),
            off);
    }
    return out;
}

}  // namespace prfence::nl
