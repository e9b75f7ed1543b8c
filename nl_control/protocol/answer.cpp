// SPDX-License-Identifier: MIT
// Answers (daemon -> client): the encoders, RunAnswerWriter, pack_datagrams and decode_answer.
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "nl_control/protocol/message.h"
#include "nl_control/protocol/payloads.h"
#include "nl_control/protocol/walk.h"

namespace prfence::nl {

using namespace schema;
using namespace detail;

namespace {

Header answer_header(const Header& request) {
    Header h = request;
    h.type = kMsgType;
    h.version = kVersion;
    return h;
}

const std::string kNoText;

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Encoding

Bytes encode_ack(const Header& request, int err, const std::string& msg, uint32_t offset) {
    const std::string text = clip_text(kSetExtAck, NLMSGERR_ATTR_MSG, msg);
    MessageBuilder m(NLMSG_HDRLEN + sizeof(nlmsgerr) + attr_size(text.size() + 1) + attr_size(4) +
                     16);
    uint16_t flags = NLM_F_CAPPED;
    if (!text.empty()) flags |= NLM_F_ACK_TLVS;
    m.start(NLMSG_ERROR, flags, request.seq, request.pid, sizeof(nlmsgerr), kSetExtAck);
    auto* e = static_cast<nlmsgerr*>(nlmsg_data(m.header()));
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
    MessageBuilder m(NLMSG_HDRLEN + 16);
    m.start(NLMSG_DONE, NLM_F_MULTI, request.seq, request.pid, sizeof(int), kSetExtAck);
    int v = -std::abs(err);
    std::memcpy(nlmsg_data(m.header()), &v, sizeof v);
    return m.bytes();
}

Bytes encode_family(const Header& request) {
    MessageBuilder m(1024);
    Header h = answer_header(request);
    h.cmd = CMD_GET_FAMILY;
    m.start_genl(h, 0);
    m.str(ATTR_FAMILY_NAME, kFamilyName);
    m.u32(ATTR_VERSION, kVersion);
    m.u32(ATTR_MIN_VERSION, kMinVersion);
    m.u32(ATTR_MAX_ATTR, kAttrMax);
    for (unsigned cmd = 0; cmd <= kCmdMax; ++cmd)
        if (cmd_rule(static_cast<uint8_t>(cmd)).request)
            m.u8(ATTR_COMMAND, static_cast<uint8_t>(cmd));
    return m.bytes();
}

Bytes encode_health(const Header& request, const Health& h) {
    MessageBuilder m(1024 + h.version.size() + h.config.size());
    Header hh = answer_header(request);
    hh.cmd = CMD_HEALTH;
    m.start_genl(hh, 0);
    put_health(m, ATTR_HEALTH, h);
    return m.bytes();
}

Bytes encode_stats(const Header& request, const std::vector<OpStats>& stats) {
    size_t est = 256;
    for (const auto& s : stats) est += 512 + kHistBuckets * 8 + s.name.size();
    MessageBuilder m(std::min(est, kMaxDatagram));
    Header h = answer_header(request);
    h.cmd = CMD_STATS;
    m.start_genl(h, 0);
    const size_t max_count = m.rule(ATTR_OP_STATS).max_count;
    size_t count = 0;
    for (const auto& s : stats) {
        if (++count > max_count) break;
        if (!put_op_stats(m, ATTR_OP_STATS, s))
            break;  // the answer ends with the operations that fit
    }
    return m.bytes();
}

Bytes encode_group_info(const Header& request, const GroupInfo& g, bool multi) {
    MessageBuilder m(65535 + 256);
    m.start_genl(answer_header(request), multi ? NLM_F_MULTI : 0);
    put_group_info(m, ATTR_GROUP_INFO, g);
    return m.bytes();
}

std::vector<Bytes> encode_run_answer(const Header& request,
                                     const std::vector<engine::LunOutcome>& outcomes,
                                     const Summary& summary) {
    std::vector<Bytes> out;
    RunAnswerWriter w(request, [&out](Bytes&& part) { out.push_back(std::move(part)); });
    for (size_t i = 0; i < outcomes.size(); ++i) w.add(static_cast<uint32_t>(i), outcomes[i]);
    w.finish(summary);
    return out;
}

struct RunAnswerWriter::Part {
    MessageBuilder msg{kMaxPart};
    size_t luns = 0;
};

RunAnswerWriter::RunAnswerWriter(const Header& request, Emit emit)
    : request_(request), emit_(std::move(emit)) {}

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
    auto put = [&](LunParts parts) {
        nlattr* n = part_->msg.begin_nest(ATTR_LUN);
        put_lun(part_->msg, index, outcome, parts);
        part_->msg.end_nest(n);
        if (part_->msg.ok()) {
            ++part_->luns;
            return true;
        }
        part_->msg.cancel_nest(n);
        return false;
    };
    if (!part_) open();
    if (put({})) return;
    if (part_->luns > 0) {  // the part is full: this LUN starts the next one
        flush();
        open();
        if (put({})) return;
    }
    // Only PR IN data at its limits (kMaxLunKeys, kMaxLunFullStatus, kMaxNvmeRegistrants) together
    // with many paths with long names and errors outgrow a part: the PR IN answer matters more
    // than the paths, and SCSI's PR IN data more than NVMe's registrant list (their keys are in
    // LUN_KEYS; NVME_REGCTL still says how many there are). Paths alone fit (kMaxLunPaths), so
    // does PR IN data without them and the registrants; the last resort keeps every LUN reported.
    if (put({.paths = false})) return;
    if (put({.paths = false, .registrants = false})) return;
    (void)put({.data = false});
}

void RunAnswerWriter::finish(const Summary& summary) {
    flush();
    MessageBuilder s(4096);
    s.start_genl(answer_header(request_), NLM_F_MULTI);
    put_summary(s, ATTR_SUMMARY, summary);
    emit_(s.bytes());
    emit_(encode_done(request_, 0));
}

std::vector<Bytes> pack_datagrams(const std::vector<Bytes>& messages) {
    std::vector<Bytes> out;
    for (const Bytes& m : messages) {
        if (out.empty() || NLMSG_ALIGN(out.back().size()) + m.size() > kMaxDatagram)
            out.emplace_back();
        Bytes& d = out.back();
        d.resize(NLMSG_ALIGN(d.size()), 0);
        d.insert(d.end(), m.begin(), m.end());
    }
    return out;
}

Bytes encode_event(const Event& ev) {
    size_t est =
        1024 + ev.text.size() + ev.group.size() + (ev.conflict ? conflict_size(*ev.conflict) : 0);
    MessageBuilder m(est);
    Header h;
    h.cmd = CMD_EVENT;
    h.seq = 0;
    m.start_genl(h, 0);
    put_event(m, ATTR_EVENT, ev);
    return m.bytes();
}

// ---------------------------------------------------------------------------------------------------
// Decoding

int Answer::err() const {
    if (const auto* a = std::get_if<Ack>(&payload_)) return a->err;
    if (const auto* d = std::get_if<Done>(&payload_)) return d->err;
    return 0;
}

const std::string& Answer::err_msg() const {
    const auto* a = std::get_if<Ack>(&payload_);
    return a ? a->msg : kNoText;
}

uint32_t Answer::err_offset() const {
    const auto* a = std::get_if<Ack>(&payload_);
    return a ? a->offset : 0;
}

namespace {

// NLMSG_ERROR / NLMSG_DONE: the errno and, with NLM_F_ACK_TLVS, the extended-ack text and offset.
Result<Answer> decode_error_or_done(FramedMessage& f) {
    nlmsghdr* nlh = f.nlh;
    const uint32_t len = nlh->nlmsg_len;
    const bool is_err = nlh->nlmsg_type == NLMSG_ERROR;
    Header hdr = f.hdr;
    hdr.version = 0;
    const uint32_t fixed = is_err ? sizeof(nlmsgerr) : sizeof(int);
    int error = 0;
    if (len < NLMSG_HDRLEN + fixed) {
        if (is_err)
            return fail(
                refusal(EINVAL, fmt("NLMSG_ERROR of %u bytes has no struct nlmsgerr", len)));
    } else {
        std::memcpy(&error, nlmsg_data(nlh), sizeof error);
    }
    if (error > 0 || error == std::numeric_limits<int>::min())
        return fail(refusal(EINVAL, fmt("%s carries error %d, expected 0 or a negative errno",
                                        is_err ? "NLMSG_ERROR" : "NLMSG_DONE", error)));
    if (!is_err) return Answer(hdr, Done{-error});
    Ack ack{-error, {}, 0};
    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
        uint32_t off = NLMSG_HDRLEN + fixed;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
            // The whole request is echoed: TLVs follow it.
            nlmsgerr e;
            std::memcpy(&e, nlmsg_data(nlh), sizeof e);
            if (e.msg.nlmsg_len < NLMSG_HDRLEN || e.msg.nlmsg_len > len)
                return fail(refusal(
                    EINVAL, fmt("NLMSG_ERROR echoes a request of nlmsg_len %u", e.msg.nlmsg_len)));
            off = NLMSG_HDRLEN + NLMSG_ALIGN(static_cast<uint32_t>(sizeof(int)) + e.msg.nlmsg_len);
        }
        off = NLMSG_ALIGN(off);
        if (off > len)
            return fail(refusal(EINVAL, "extended ack TLVs start past the end of the message"));
        WalkContext c{f.copy.base(), CMD_UNSPEC};
        AttrIndex found;
        nlattr* head = reinterpret_cast<nlattr*>(reinterpret_cast<uint8_t*>(nlh) + off);
        PRF_TRY(walk(c, head, static_cast<int>(len - off), kSetExtAck, ~uint64_t{0}, &found));
        ack.msg = attr_string(found.first(NLMSGERR_ATTR_MSG));
        if (nlattr* o = found.first(NLMSGERR_ATTR_OFFS)) ack.offset = nla_get_u32(o);
    }
    return Answer(hdr, std::move(ack));
}

Result<Answer> decode_answer_message(ByteView message) {
    PRF_TRY_ASSIGN(FramedMessage f, frame(message));
    nlmsghdr* nlh = f.nlh;
    if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE)
        return decode_error_or_done(f);
    if (nlh->nlmsg_type != kMsgType)
        return fail(refusal(
            EOPNOTSUPP, fmt("nlmsg_type 0x%x is not an answer prfence sends", nlh->nlmsg_type)));
    const uint32_t len = nlh->nlmsg_len;
    if (len < NLMSG_HDRLEN + GENL_HDRLEN)
        return fail(refusal(EINVAL, fmt("message of %u bytes has no genl header", len)));
    const auto* g = static_cast<const genlmsghdr*>(nlmsg_data(nlh));
    Header hdr = f.hdr;
    hdr.cmd = g->cmd;
    hdr.version = g->version;
    if (g->cmd == CMD_UNSPEC || g->cmd > kCmdMax)
        return fail(
            refusal(EOPNOTSUPP, fmt("answer with unknown command %u", g->cmd), NLMSG_HDRLEN));
    const CmdRule& rule = cmd_rule(g->cmd);
    if (!rule.answer_allowed)
        return fail(refusal(
            EOPNOTSUPP, fmt("%s is answered with an ack only, not a message", cmd_name(g->cmd))));

    WalkContext c{f.copy.base(), g->cmd};
    AttrIndex found;
    PRF_TRY(walk(c, nlmsg_attrdata(nlh, GENL_HDRLEN), nlmsg_attrlen(nlh, GENL_HDRLEN), kSetTop,
                 rule.answer_allowed, &found));
    if (uint64_t missing = rule.answer_required & ~found.present())
        return fail(refusal(EINVAL, missing_text(missing, g->cmd) + " in an answer"));
    PRF_TRY_ASSIGN(const TopAttrs tb, parse_top(nlh));

    switch (g->cmd) {
        case CMD_GET_FAMILY: {
            FamilyInfo fam;
            fam.name = attr_string(tb[ATTR_FAMILY_NAME]);
            fam.version = u32_or(tb[ATTR_VERSION]);
            fam.min_version = u32_or(tb[ATTR_MIN_VERSION]);
            fam.max_attr = u32_or(tb[ATTR_MAX_ATTR]);
            for (nlattr* x : found.at[ATTR_COMMAND]) fam.commands.push_back(nla_get_u8(x));
            return Answer(hdr, std::move(fam));
        }
        case CMD_HEALTH: {
            PRF_TRY_ASSIGN(Health h, decode_health(tb[ATTR_HEALTH]));
            return Answer(hdr, std::move(h));
        }
        case CMD_STATS: {
            std::vector<OpStats> stats;
            for (nlattr* x : found.at[ATTR_OP_STATS]) {
                PRF_TRY_ASSIGN(auto s, decode_op_stats(x));
                stats.push_back(std::move(s));
            }
            return Answer(hdr, std::move(stats));
        }
        case CMD_GROUP_CREATE:
        case CMD_GROUP_ADD:
        case CMD_GROUP_REMOVE:
        case CMD_GROUP_LIST: {
            PRF_TRY_ASSIGN(GroupInfo gi, decode_group_info(tb[ATTR_GROUP_INFO]));
            return Answer(hdr, std::move(gi));
        }
        case CMD_RUN:
        case CMD_GROUP_REFRESH: {
            LunResults luns;
            luns.reserve(found.at[ATTR_LUN].size());  // grown once: an outcome is 400 bytes to move
            for (nlattr* x : found.at[ATTR_LUN]) {
                uint32_t index = 0;
                PRF_TRY_ASSIGN(auto o, decode_lun(x, &index, f.copy.base()));
                luns.emplace_back(index, std::move(o));
            }
            // A part holds LUN results or the summary; a summary next to LUN results is checked,
            // not kept.
            std::optional<Summary> summary;
            if (tb[ATTR_SUMMARY]) {
                PRF_TRY_ASSIGN(summary, decode_summary(tb[ATTR_SUMMARY]));
            }
            if (luns.empty() && summary) return Answer(hdr, std::move(*summary));
            return Answer(hdr, std::move(luns));
        }
        case CMD_EVENT: {
            PRF_TRY_ASSIGN(Event e, decode_event(tb[ATTR_EVENT]));
            return Answer(hdr, std::move(e));
        }
        default:
            return fail(
                refusal(EOPNOTSUPP, fmt("%s is answered with an ack only", cmd_name(g->cmd))));
    }
}

}  // namespace

Result<Answer> decode_answer(ByteView message) {
    auto a = decode_answer_message(message);
    if (!a.ok()) return fail(with_offset_in_text(std::move(a).error()));
    return a;
}

}  // namespace prfence::nl
