// SPDX-License-Identifier: MIT
// The message builder and each nested payload's encoder and decoder, side by side (payloads.h).
#include "nl_control/protocol/payloads.h"

#include <linux/genetlink.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>
#include <string_view>

#include "nl_control/protocol/walk.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/sense.h"

namespace prfence::nl::detail {

using namespace schema;

// ---------------------------------------------------------------------------------------------------
// Building

MessageBuilder::MessageBuilder(size_t capacity) : m_(nlmsg_alloc_size(capacity)) {
    if (!m_) throw std::bad_alloc();
}

MessageBuilder::~MessageBuilder() { nlmsg_free(m_); }

void MessageBuilder::start(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid, int payload,
                           AttrSetId set) {
    levels_.assign(1, Level{set, nullptr});
    if (!nlmsg_put(m_, pid, seq, type, payload, flags)) ok_ = false;
}

void MessageBuilder::start_genl(const Header& h, uint16_t flags) {
    start(kMsgType, flags, h.seq, h.pid, GENL_HDRLEN, kSetTop);
    if (!ok_) return;
    auto* g = static_cast<genlmsghdr*>(nlmsg_data(nlmsg_hdr(m_)));
    g->cmd = h.cmd;
    g->version = h.version;
    g->reserved = 0;
}

const Rule& MessageBuilder::rule(uint16_t type) const {
    assert(!levels_.empty() && type <= attr_set(levels_.back().set).max);
    return rule_of(levels_.back().set, type);
}

void MessageBuilder::u8(uint16_t type, uint8_t v) {
    assert(rule(type).kind == AttrKind::u8);
    check(nla_put_u8(m_, type, v));
}
void MessageBuilder::u16(uint16_t type, uint16_t v) {
    assert(rule(type).kind == AttrKind::u16);
    check(nla_put_u16(m_, type, v));
}
void MessageBuilder::u32(uint16_t type, uint32_t v) {
    assert(rule(type).kind == AttrKind::u32);
    check(nla_put_u32(m_, type, v));
}
void MessageBuilder::u64(uint16_t type, uint64_t v) {
    assert(rule(type).kind == AttrKind::u64);
    check(nla_put_u64(m_, type, v));
}
void MessageBuilder::str(uint16_t type, std::string_view s) {
    const Rule& r = rule(type);
    assert(r.kind == AttrKind::str);
    const std::string v = clip(s, r.hi);
    check(nla_put(m_, type, static_cast<int>(v.size() + 1), v.c_str()));
}
void MessageBuilder::bin(uint16_t type, ByteView b) {
    const Rule& r = rule(type);
    assert(r.kind == AttrKind::bin);
    const size_t n = std::min<size_t>(b.size(), r.hi);
    check(nla_put(m_, type, static_cast<int>(n), n ? b.data() : nullptr));
}

nlattr* MessageBuilder::begin_nest(uint16_t type) {
    const Rule& r = rule(type);
    assert(r.kind == AttrKind::nest);
    nlattr* n = nla_nest_start(m_, type);
    if (!n) ok_ = false;
    levels_.push_back(Level{r.nest, n});
    return n;
}
void MessageBuilder::end_nest(nlattr* n) {
    if (levels_.size() > 1 && levels_.back().nest == n) levels_.pop_back();
    if (n && ok_) check(nla_nest_end(m_, n));
}
void MessageBuilder::cancel_nest(nlattr* n) {
    if (levels_.size() > 1 && levels_.back().nest == n) levels_.pop_back();
    if (n) nla_nest_cancel(m_, n);
    ok_ = true;
}

size_t MessageBuilder::size() const { return nlmsg_hdr(m_)->nlmsg_len; }
nlmsghdr* MessageBuilder::header() { return nlmsg_hdr(m_); }
Bytes MessageBuilder::bytes() const {
    const auto* p = reinterpret_cast<const uint8_t*>(nlmsg_hdr(m_));
    return Bytes(p, p + nlmsg_hdr(m_)->nlmsg_len);
}

std::string clip(std::string_view s, size_t max) {
    size_t n = std::min(s.size(), max);
    if (const void* nul = std::memchr(s.data(), 0, n))
        n = static_cast<size_t>(static_cast<const char*>(nul) - s.data());
    return std::string(s.substr(0, n));
}

std::string clip_text(AttrSetId set, uint16_t type, std::string_view s) {
    return clip(s, rule_of(set, type).hi);
}

Status check_text(const Rule& r, const std::string& s, uint64_t lo) {
    if (std::memchr(s.data(), 0, s.size()))
        return fail(Errc::invalid_argument, std::string(r.name) + ": text holds a NUL byte",
                    EINVAL);
    if (s.size() < lo || s.size() > r.hi)
        return fail(Errc::invalid_argument,
                    fmt("%s: %zu bytes, %llu-%llu allowed", r.name, s.size(),
                        static_cast<unsigned long long>(lo), static_cast<unsigned long long>(r.hi)),
                    EINVAL);
    if (r.check == ValueCheck::printable)
        if (auto p = printable_problem(s); !p.empty())
            return fail(Errc::invalid_argument, std::string(r.name) + ": " + p, EINVAL);
    return {};
}

size_t attr_size(size_t payload) { return NLA_ALIGN(NLA_HDRLEN + payload); }

std::array<uint8_t, 16> hostid_of(const nlattr* a) {
    std::array<uint8_t, 16> id{};
    const ByteView b = attr_bytes(a);
    std::copy_n(b.begin(), std::min(b.size(), id.size()), id.begin());
    return id;
}

// ---------------------------------------------------------------------------------------------------
// SUM_*: a batch's summary

void put_summary(MessageBuilder& m, uint16_t type, const Summary& s) {
    nlattr* n = m.begin_nest(type);
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
    if (s.batch.degraded) m.u32(SUM_DEGRADED, static_cast<uint32_t>(s.batch.degraded));
    m.end_nest(n);
}

Result<Summary> decode_summary(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<SUM_MAX_PLUS_ONE>(nest, kSetSummary));
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
    if (t[SUM_OPERATION])
        s.operation = static_cast<engine::Operation>(nla_get_u8(t[SUM_OPERATION]));
    s.group = attr_string(t[SUM_GROUP]);
    s.batch.degraded = u32_or(t[SUM_DEGRADED]);
    return s;
}

// ---------------------------------------------------------------------------------------------------
// CF_*: prexplain's diagnosis of one conflict

void put_conflict(MessageBuilder& m, uint16_t type, const Conflict& f) {
    nlattr* n = m.begin_nest(type);
    m.u8(CF_CLASS, static_cast<uint8_t>(f.cls));
    auto text = [&](uint16_t t, const std::string& v) {
        if (!v.empty()) m.str(t, v);
    };
    text(CF_DEVICE, f.device);
    text(CF_HCTL, f.hctl);
    text(CF_WWID, f.wwid);
    text(CF_OP, f.op);
    m.u64(CF_SECTOR, f.sector);
    m.u64(CF_COUNT, f.count);
    m.u64(CF_FIRST_SEEN_NS, f.first_seen_ns);
    m.u64(CF_LAST_SEEN_NS, f.last_seen_ns);
    if (f.our_key) m.u64(CF_OUR_KEY, *f.our_key);
    if (f.holder_key) m.u64(CF_HOLDER_KEY, *f.holder_key);
    if (f.type) m.u8(CF_TYPE, *f.type);
    text(CF_TEXT, f.text);
    m.end_nest(n);
}

Result<Conflict> decode_conflict(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<CF_MAX_PLUS_ONE>(nest, kSetConflict));
    Conflict f;
    f.cls = static_cast<ConflictClass>(u8_or(t[CF_CLASS]));
    f.device = attr_string(t[CF_DEVICE]);
    f.hctl = attr_string(t[CF_HCTL]);
    f.wwid = attr_string(t[CF_WWID]);
    f.op = attr_string(t[CF_OP]);
    f.text = attr_string(t[CF_TEXT]);
    f.sector = u64_or(t[CF_SECTOR]);
    f.count = u64_or(t[CF_COUNT]);
    f.first_seen_ns = u64_or(t[CF_FIRST_SEEN_NS]);
    f.last_seen_ns = u64_or(t[CF_LAST_SEEN_NS]);
    if (t[CF_OUR_KEY]) f.our_key = nla_get_u64(t[CF_OUR_KEY]);
    if (t[CF_HOLDER_KEY]) f.holder_key = nla_get_u64(t[CF_HOLDER_KEY]);
    if (t[CF_TYPE]) f.type = nla_get_u8(t[CF_TYPE]);
    return f;
}

size_t conflict_size(const Conflict& f) {
    return 512 + f.device.size() + f.hctl.size() + f.wwid.size() + f.op.size() + f.text.size();
}

// ---------------------------------------------------------------------------------------------------
// LUN_*: one LUN's outcome

namespace {

// PR IN data as the device would have returned it. Encoders write an ADDITIONAL LENGTH describing
// what they were given; when the engine's copy was itself truncated, restore the length the device
// reported, so the client sees `truncated` and `needed` as direct mode does. The builder cuts the
// data to the rule's maximum (kMaxLunKeys, kMaxLunFullStatus).
Bytes keys_data(const wire::ReadKeys& k) {
    Bytes b = wire::encode_read_keys(k, static_cast<uint16_t>(kMaxLunKeys));
    const uint64_t have = 8 + 8 * uint64_t{k.keys.size()};
    // A device's ADDITIONAL LENGTH is a multiple of 8, but `needed` saturates at UINT32_MAX for a
    // length within 8 of it; rounding up (to 0xfffffff8 at most) gives back the length that
    // decodes to the same `needed`.
    if (k.truncated && k.needed > have && b.size() >= 8)
        put_be32(b, 4, static_cast<uint32_t>((uint64_t{k.needed} - 8 + 7) / 8 * 8));
    return b;
}
std::optional<Bytes> full_status_data(const wire::FullStatus& f) {
    auto r = wire::encode_full_status(f, 65535);
    if (!r.ok()) return std::nullopt;
    Bytes b = std::move(*r);
    uint32_t additional = get_be32(b, 4);
    if (f.truncated && f.needed > 8 + uint64_t{additional}) additional = f.needed - 8;
    put_be32(b, 4, additional);
    return b;
}

}  // namespace

using PathStateE = engine::PathOutcome::State;
static_assert(static_cast<uint8_t>(PathStateE::unused) == PATH_STATE_UNUSED &&
              static_cast<uint8_t>(PathStateE::answered) == PATH_STATE_ANSWERED &&
              static_cast<uint8_t>(PathStateE::registered) == PATH_STATE_REGISTERED &&
              static_cast<uint8_t>(PathStateE::dead) == PATH_STATE_DEAD);

namespace {

// LUN_NVME: the status whenever there is one, the Report with the PR IN data.
void put_nvme(MessageBuilder& m, const engine::LunOutcome& o, LunParts parts) {
    const bool report = parts.data && o.nvme_report;
    if (o.nvme_status == 0 && !report) return;
    nlattr* n = m.begin_nest(LUN_NVME);
    if (o.nvme_status != 0) m.u32(NVME_STATUS, static_cast<uint32_t>(o.nvme_status));
    if (report) {
        const auto& r = *o.nvme_report;
        m.u32(NVME_GENERATION, r.generation);
        m.u8(NVME_RTYPE, r.rtype);
        m.u16(NVME_REGCTL, r.regctl);
        if (parts.registrants) {
            size_t k = 0;
            for (const auto& g : r.registrants) {
                if (k++ == kMaxNvmeRegistrants) break;
                nlattr* one = m.begin_nest(NVME_REGISTRANT);
                m.u64(NR_KEY, g.key);
                m.bin(NR_HOSTID, ByteView(g.hostid.data(), g.hostid.size()));
                if (g.holds) m.u8(NR_HOLDER, 1);
                m.u16(NR_CNTLID, g.cntlid);
                m.end_nest(one);
            }
        }
    }
    m.end_nest(n);
}

}  // namespace

void put_lun(MessageBuilder& m, uint32_t index, const engine::LunOutcome& o, LunParts parts) {
    m.u32(LUN_INDEX, index);
    if (!o.device.empty()) m.str(LUN_DEVICE, o.device);
    m.u8(LUN_OK, o.ok ? 1 : 0);
    m.u8(LUN_FINISHED, o.finished ? 1 : 0);
    m.u8(LUN_CATEGORY, static_cast<uint8_t>(static_cast<int>(o.category)));
    if (!o.step.empty()) m.str(LUN_STEP, o.step);
    if (!o.error.empty()) m.str(LUN_ERROR, o.error);
    m.u8(LUN_STATUS, o.status);
    if (o.sense) {
        Bytes s = wire::encode_sense(*o.sense);
        if (!s.empty()) m.bin(LUN_SENSE, s);
    }
    m.u32(LUN_ERRNO, static_cast<uint32_t>(o.sys_errno));
    m.u8(LUN_TIMED_OUT, o.timed_out ? 1 : 0);
    m.u64(LUN_LATENCY_NS, o.latency_ns);
    m.u32(LUN_COMMANDS, o.commands);
    m.u32(LUN_RETRIES, o.retries);
    if (o.degraded) m.u8(LUN_DEGRADED, 1);
    if (parts.paths && !o.paths.empty()) {
        nlattr* ps = m.begin_nest(LUN_PATHS);
        size_t n = 0;
        for (const auto& p : o.paths) {
            if (n++ == kMaxLunPaths) break;
            nlattr* one = m.begin_nest(LP_PATH);
            // A path always has a name on the wire (PATH_NAME is 1 byte at least).
            m.str(PATH_NAME, p.name.empty() ? std::string_view("?") : std::string_view(p.name));
            m.u8(PATH_STATE, static_cast<uint8_t>(p.state));
            if (!p.error.empty()) m.str(PATH_ERROR, p.error);
            m.end_nest(one);
        }
        m.end_nest(ps);
    }
    put_nvme(m, o, parts);
    if (!parts.data) return;
    if (o.keys) m.bin(LUN_KEYS, keys_data(*o.keys));
    if (o.reservation) m.bin(LUN_RESERVATION, wire::encode_read_reservation(*o.reservation, 24));
    if (o.caps) m.bin(LUN_CAPS, wire::encode_capabilities(*o.caps, 8));
    if (o.full_status) {
        if (auto b = full_status_data(*o.full_status)) m.bin(LUN_FULL_STATUS, *b);
    }
}

Result<engine::LunOutcome> decode_lun(nlattr* nest, uint32_t* index, const uint8_t* base) {
    PRF_TRY_ASSIGN(auto t, parse_nested<LUN_MAX_PLUS_ONE>(nest, kSetLun));
    auto bad = [&](nlattr* a, const char* name, const Error& e) {
        return fail(Errc::malformed,
                    fmt("%s at offset %u: ", name,
                        static_cast<unsigned>(reinterpret_cast<uint8_t*>(a) - base)) +
                        e.msg,
                    EINVAL);
    };
    engine::LunOutcome o;
    *index = u32_or(t[LUN_INDEX]);
    o.device = attr_string(t[LUN_DEVICE]);
    o.ok = u8_or(t[LUN_OK]) != 0;
    o.finished = u8_or(t[LUN_FINISHED]) != 0;
    o.category = static_cast<wire::Category>(u8_or(t[LUN_CATEGORY]));
    o.step = attr_string(t[LUN_STEP]);
    o.error = attr_string(t[LUN_ERROR]);
    o.status = u8_or(t[LUN_STATUS]);
    if (nlattr* a = t[LUN_SENSE]) {
        auto s = wire::decode_sense(attr_bytes(a));
        if (!s.ok()) return bad(a, "LUN_SENSE", s.error());
        o.sense = std::move(*s);
    }
    o.sys_errno = static_cast<int>(u32_or(t[LUN_ERRNO]));
    o.timed_out = u8_or(t[LUN_TIMED_OUT]) != 0;
    o.latency_ns = u64_or(t[LUN_LATENCY_NS]);
    o.commands = u32_or(t[LUN_COMMANDS]);
    o.retries = u32_or(t[LUN_RETRIES]);
    o.degraded = u8_or(t[LUN_DEGRADED]) != 0;
    if (nlattr* ps = t[LUN_PATHS]) {
        for (nlattr* a : all_nested(ps, LP_PATH)) {
            PRF_TRY_ASSIGN(auto p, parse_nested<PATH_MAX_PLUS_ONE>(a, kSetPath));
            engine::PathOutcome po;
            po.name = attr_string(p[PATH_NAME]);
            po.state = static_cast<engine::PathOutcome::State>(u8_or(p[PATH_STATE]));
            po.error = attr_string(p[PATH_ERROR]);
            o.paths.push_back(std::move(po));
        }
    }
    if (nlattr* nv = t[LUN_NVME]) {
        PRF_TRY_ASSIGN(auto n, parse_nested<NVME_MAX_PLUS_ONE>(nv, kSetNvme));
        o.nvme_status = static_cast<int>(u32_or(n[NVME_STATUS]));
        const int header = (n[NVME_GENERATION] != nullptr) + (n[NVME_RTYPE] != nullptr) +
                           (n[NVME_REGCTL] != nullptr);
        const auto regs = all_nested(nv, NVME_REGISTRANT);
        if ((header != 0 && header != 3) || (header == 0 && !regs.empty()))
            return fail(Errc::malformed,
                        fmt("LUN_NVME at offset %u: NVME_GENERATION, NVME_RTYPE and NVME_REGCTL "
                            "come together, and NVME_REGISTRANT only with them",
                            static_cast<unsigned>(reinterpret_cast<uint8_t*>(nv) - base)),
                        EINVAL);
        if (header == 3) {
            wire::nvme::ReservationStatus r;
            r.generation = u32_or(n[NVME_GENERATION]);
            r.rtype = u8_or(n[NVME_RTYPE]);
            r.regctl = u16_or(n[NVME_REGCTL]);
            for (nlattr* a : regs) {
                PRF_TRY_ASSIGN(auto g, parse_nested<NR_MAX_PLUS_ONE>(a, kSetNvmeReg));
                wire::nvme::Registrant e;
                e.key = u64_or(g[NR_KEY]);
                const ByteView id = attr_bytes(g[NR_HOSTID]);
                std::copy(id.begin(), id.end(), e.hostid.begin());
                e.holds = u8_or(g[NR_HOLDER]) != 0;
                e.cntlid = u16_or(g[NR_CNTLID]);
                r.registrants.push_back(e);
            }
            o.nvme_report = std::move(r);
        }
    }
    if (nlattr* a = t[LUN_KEYS]) {
        auto v = wire::parse_read_keys(attr_bytes(a));
        if (!v.ok()) return bad(a, "LUN_KEYS", v.error());
        o.keys = std::move(*v);
    }
    if (nlattr* a = t[LUN_RESERVATION]) {
        auto v = wire::parse_read_reservation(attr_bytes(a));
        if (!v.ok()) return bad(a, "LUN_RESERVATION", v.error());
        o.reservation = std::move(*v);
    }
    if (nlattr* a = t[LUN_CAPS]) {
        auto v = wire::parse_capabilities(attr_bytes(a));
        if (!v.ok()) return bad(a, "LUN_CAPS", v.error());
        o.caps = std::move(*v);
    }
    if (nlattr* a = t[LUN_FULL_STATUS]) {
        auto v = wire::parse_full_status(attr_bytes(a));
        if (!v.ok()) return bad(a, "LUN_FULL_STATUS", v.error());
        o.full_status = std::move(*v);
    }
    return o;
}

// ---------------------------------------------------------------------------------------------------
// GRP_*: a group

void put_group_info(MessageBuilder& m, uint16_t type, const GroupInfo& g) {
    // A nest's nla_len is 16 bits: the group's lists stop before the nest would outgrow it.
    constexpr size_t kNestBudget = 65535 - 2048;
    const size_t start = m.size();
    nlattr* n = m.begin_nest(type);
    m.str(GRP_NAME, g.name);
    size_t skipped = 0, listed = 0;
    auto list = [&](uint16_t t, const std::string& s, size_t max_listed) {
        const std::string v = clip_text(kSetGroup, t, s);
        if (t == GRP_DEVICE && v.empty()) return;
        if (m.size() - start + attr_size(v.size() + 1) > kNestBudget || listed >= max_listed) {
            ++skipped;
            return;
        }
        ++listed;
        m.str(t, v);
    };
    for (const auto& d : g.devices) list(GRP_DEVICE, d, m.rule(GRP_DEVICE).max_count);
    if (!g.initiator.empty()) m.str(GRP_INITIATOR, g.initiator);
    if (g.target_port && *g.target_port) m.u16(GRP_TARGET_PORT, *g.target_port);
    m.u8(GRP_SG_TRANSPORT, g.sg_transport);
    if (g.key) m.u64(GRP_KEY, *g.key);
    if (!g.hostnqn.empty()) m.str(GRP_HOSTNQN, g.hostnqn);
    if (g.hostid) m.bin(GRP_HOSTID, ByteView(g.hostid->data(), g.hostid->size()));
    m.u32(GRP_LUNS, g.luns);
    m.u32(GRP_PATHS_OPEN, g.paths_open);
    listed = 0;
    // One GRP_PROBLEM is kept for the line that says what was left out.
    for (const auto& p : g.problems) list(GRP_PROBLEM, p, m.rule(GRP_PROBLEM).max_count - 1);
    if (skipped)
        m.str(
            GRP_PROBLEM,
            fmt("%zu more device arguments and problems not listed (answer size limit)", skipped));
    m.end_nest(n);
}

Result<GroupInfo> decode_group_info(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<GRP_MAX_PLUS_ONE>(nest, kSetGroup));
    GroupInfo g;
    g.name = attr_string(t[GRP_NAME]);
    for (nlattr* a : all_nested(nest, GRP_DEVICE)) g.devices.push_back(attr_string(a));
    g.initiator = attr_string(t[GRP_INITIATOR]);
    if (t[GRP_TARGET_PORT]) g.target_port = nla_get_u16(t[GRP_TARGET_PORT]);
    g.sg_transport = static_cast<SgTransport>(u8_or(t[GRP_SG_TRANSPORT]));
    if (t[GRP_KEY]) g.key = nla_get_u64(t[GRP_KEY]);
    g.hostnqn = attr_string(t[GRP_HOSTNQN]);
    if (t[GRP_HOSTID]) g.hostid = hostid_of(t[GRP_HOSTID]);
    g.luns = u32_or(t[GRP_LUNS]);
    g.paths_open = u32_or(t[GRP_PATHS_OPEN]);
    for (nlattr* a : all_nested(nest, GRP_PROBLEM)) g.problems.push_back(attr_string(a));
    return g;
}

// ---------------------------------------------------------------------------------------------------
// H_*: the daemon's health

void put_health(MessageBuilder& m, uint16_t type, const Health& h) {
    nlattr* n = m.begin_nest(type);
    m.u64(H_UPTIME_NS, h.uptime_ns);
    m.u32(H_PID, h.pid);
    m.str(H_VERSION, h.version);
    m.u32(H_GROUPS, h.groups);
    m.u32(H_LUNS, h.luns);
    m.u32(H_PATHS_OPEN, h.paths_open);
    m.u32(H_CLIENTS, h.clients);
    m.u32(H_SUBSCRIBERS, h.subscribers);
    m.u32(H_BATCHES_RUNNING, h.batches_running);
    m.u32(H_BATCHES_QUEUED, h.batches_queued);
    m.u64(H_SUBSCRIBERS_DROPPED, h.subscribers_dropped);
    m.str(H_CONFIG, h.config);
    m.end_nest(n);
}

Result<Health> decode_health(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<H_MAX_PLUS_ONE>(nest, kSetHealth));
    Health h;
    h.uptime_ns = u64_or(t[H_UPTIME_NS]);
    h.pid = u32_or(t[H_PID]);
    h.version = attr_string(t[H_VERSION]);
    h.groups = u32_or(t[H_GROUPS]);
    h.luns = u32_or(t[H_LUNS]);
    h.paths_open = u32_or(t[H_PATHS_OPEN]);
    h.clients = u32_or(t[H_CLIENTS]);
    h.subscribers = u32_or(t[H_SUBSCRIBERS]);
    h.batches_running = u32_or(t[H_BATCHES_RUNNING]);
    h.batches_queued = u32_or(t[H_BATCHES_QUEUED]);
    h.subscribers_dropped = u64_or(t[H_SUBSCRIBERS_DROPPED]);
    h.config = attr_string(t[H_CONFIG]);
    return h;
}

// ---------------------------------------------------------------------------------------------------
// ST_*: one operation's latency

bool put_op_stats(MessageBuilder& m, uint16_t type, const OpStats& s) {
    std::string name = clip_text(kSetStats, ST_NAME, s.name);
    if (name.empty()) name = "?";
    nlattr* n = m.begin_nest(type);
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
    m.end_nest(n);
    if (m.ok()) return true;
    m.cancel_nest(n);
    return false;
}

Result<OpStats> decode_op_stats(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<ST_MAX_PLUS_ONE>(nest, kSetStats));
    OpStats s;
    s.name = attr_string(t[ST_NAME]);
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

// ---------------------------------------------------------------------------------------------------
// EV_*: an event

void put_event(MessageBuilder& m, uint16_t type, const Event& ev) {
    nlattr* n = m.begin_nest(type);
    m.u8(EV_KIND, ev.kind);
    m.u64(EV_TIME_NS, ev.time_ns);
    if (!ev.group.empty() && group_problem(ev.group).empty()) m.str(EV_GROUP, ev.group);
    if (ev.summary) put_summary(m, EV_SUMMARY, *ev.summary);
    if (ev.conflict) put_conflict(m, EV_CONFLICT, *ev.conflict);
    if (!ev.text.empty()) m.str(EV_TEXT, ev.text);
    m.end_nest(n);
}

Result<Event> decode_event(nlattr* nest) {
    PRF_TRY_ASSIGN(auto t, parse_nested<EV_MAX_PLUS_ONE>(nest, kSetEvent));
    Event e;
    e.kind = static_cast<EventKind>(u8_or(t[EV_KIND]));
    e.time_ns = u64_or(t[EV_TIME_NS]);
    e.group = attr_string(t[EV_GROUP]);
    if (t[EV_SUMMARY]) {
        PRF_TRY_ASSIGN(e.summary, decode_summary(t[EV_SUMMARY]));
    }
    if (t[EV_CONFLICT]) {
        PRF_TRY_ASSIGN(e.conflict, decode_conflict(t[EV_CONFLICT]));
    }
    e.text = attr_string(t[EV_TEXT]);
    return e;
}

}  // namespace prfence::nl::detail
