// SPDX-License-Identifier: MIT
// The validating walker (walk.h): every attribute of a message against its schema rule, refusals
// with errno, text and offset.
#include <linux/genetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>

#include <cerrno>
#include <cstring>

#include "nl_control/protocol/walk.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::nl::detail {

using namespace schema;

namespace {

uint64_t int_value(const Rule& r, nlattr* a) {
    switch (r.kind) {
        case AttrKind::u8:
            return nla_get_u8(a);
        case AttrKind::u16:
            return nla_get_u16(a);
        case AttrKind::u32:
            return nla_get_u32(a);
        case AttrKind::u64:
            return nla_get_u64(a);
        default:
            return 0;
    }
}
const char* kind_text(AttrKind k) {
    switch (k) {
        case AttrKind::u8:
            return "a u8 (1 byte)";
        case AttrKind::u16:
            return "a u16 (2 bytes)";
        case AttrKind::u32:
            return "a u32 (4 bytes)";
        case AttrKind::u64:
            return "a u64 (8 bytes)";
        default:
            return "?";
    }
}
size_t kind_size(AttrKind k) {
    switch (k) {
        case AttrKind::u8:
            return 1;
        case AttrKind::u16:
            return 2;
        case AttrKind::u32:
            return 4;
        case AttrKind::u64:
            return 8;
        default:
            return 0;
    }
}
unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// An integer's value against its rule's check; empty when it passes.
std::string int_problem(const WalkContext& c, const Rule& r, uint64_t v) {
    switch (r.check) {
        case ValueCheck::range:
            if (v < r.lo || v > r.hi)
                return fmt("%llu is out of range (%llu-%llu)", ull(v), ull(r.lo), ull(r.hi));
            break;
        case ValueCheck::boolean:
            if (v > 1) return fmt("%llu is not a boolean (0 or 1)", ull(v));
            break;
        case ValueCheck::pr_type:
            if (!valid_pr_type(v))
                return fmt("%llu is not a reservation type %s", ull(v), kPrTypeList);
            break;
        case ValueCheck::flags: {
            const bool stats = c.cmd == CMD_STATS;
            const uint64_t known = stats ? kStatsFlagsAll : kOpFlagsAll;
            if (v & ~known)
                return fmt("unknown %s bits 0x%llx (known: 0x%llx)", stats ? "StatsFlag" : "OpFlag",
                           ull(v & ~known), ull(known));
            break;
        }
        case ValueCheck::mask:
            if (v & ~r.hi)
                return fmt("unknown bits 0x%llx (known: 0x%llx)", ull(v & ~r.hi), ull(r.hi));
            break;
        default:
            break;
    }
    return {};
}

// A string's payload against its rule; empty when it passes.
std::string string_problem(const Rule& r, const char* d, int n) {
    if (n < 1) return "empty, expected a NUL-terminated string";
    if (d[n - 1] != '\0') return fmt("string of %d bytes is not NUL-terminated", n);
    const size_t slen = strnlen(d, static_cast<size_t>(n));
    if (slen != static_cast<size_t>(n - 1))
        return fmt("string holds a NUL byte at %zu before its end (%d bytes)", slen, n);
    std::string_view s(d, slen);
    if (r.check == ValueCheck::group) {
        if (auto p = group_problem(s); !p.empty()) return p;
    }
    if (slen < r.lo) return fmt("%zu bytes, at least %llu expected", slen, ull(r.lo));
    if (slen > r.hi) return fmt("%zu bytes, at most %llu allowed", slen, ull(r.hi));
    if (r.check == ValueCheck::tid) {
        auto t = wire::parse_transport_id(s);
        if (!t.ok()) return quoted_text(s) + ": " + t.error().msg;
    }
    if (r.check == ValueCheck::printable) return printable_problem(s);
    return {};
}

// One attribute against its rule.
Status check_attr(const WalkContext& c, nlattr* a, const Rule& r) {
    const uint32_t off = offset_of(c, a);
    auto refuse = [&](const std::string& m) {
        return fail(refusal(EINVAL, std::string(r.name) + ": " + m, off));
    };
    const int n = nla_len(a);
    if (a->nla_type & NLA_F_NET_BYTEORDER)
        return refuse("NLA_F_NET_BYTEORDER is not supported (integers are in host byte order)");
    if ((a->nla_type & NLA_F_NESTED) && r.kind != AttrKind::nest)
        return refuse("flagged NLA_F_NESTED but is not a nested attribute");
    switch (r.kind) {
        case AttrKind::none:
            return refuse("reserved attribute type 0");
        case AttrKind::u8:
        case AttrKind::u16:
        case AttrKind::u32:
        case AttrKind::u64:
            if (static_cast<size_t>(n) != kind_size(r.kind))
                return refuse(fmt("%d bytes, expected %s", n, kind_text(r.kind)));
            if (auto p = int_problem(c, r, int_value(r, a)); !p.empty()) return refuse(p);
            return {};
        case AttrKind::str:
            if (auto p = string_problem(r, static_cast<const char*>(nla_data(a)), n); !p.empty())
                return refuse(p);
            return {};
        case AttrKind::bin:
            if (static_cast<uint64_t>(n) < r.lo || static_cast<uint64_t>(n) > r.hi)
                return refuse(fmt("%d bytes, expected %llu-%llu", n, ull(r.lo), ull(r.hi)));
            return {};
        case AttrKind::nest: {
            AttrCount inner;
            PRF_TRY(walk(c, static_cast<nlattr*>(nla_data(a)), n, r.nest, ~uint64_t{0}, &inner));
            const AttrSet& s = attr_set(r.nest);
            for (unsigned t = 1; t <= s.max; ++t)
                if ((s.required & bit(t)) && inner.count[t] == 0)
                    return refuse(fmt("%s is required in each %s", s.rules[t].name, r.name));
            return {};
        }
    }
    return {};
}

}  // namespace

AlignedCopy::AlignedCopy(ByteView v) : buf_((v.size() + 3) / 4 + 1, 0) {
    if (!v.empty()) std::memcpy(buf_.data(), v.data(), v.size());
}

uint64_t AttrCount::present() const {
    uint64_t b = 0;
    for (unsigned t = 0; t < count.size(); ++t)
        if (count[t]) b |= bit(t);
    return b;
}

Result<TopAttrs> parse_top(nlmsghdr* nlh) {
    TopAttrs tb{};
    if (int err = nlmsg_parse(nlh, GENL_HDRLEN, tb.data(), kAttrMax,
                              const_cast<nla_policy*>(attr_set(kSetTop).policy));
        err < 0)
        return fail(
            refusal(EINVAL, std::string("libnl refused the attributes: ") + nl_geterror(err)));
    return tb;
}

Error refusal(int err, std::string text, uint32_t offset) {
    Errc code = Errc::malformed;
    if (err == EOPNOTSUPP || err == EPROTONOSUPPORT)
        code = Errc::unsupported;
    else if (err == EMSGSIZE)
        code = Errc::invalid_argument;
    Error e(code, std::move(text), err);
    e.offset = offset;
    return e;
}

Error with_offset_in_text(Error e) {
    if (e.offset) e.msg += fmt(" (offset %u)", e.offset);
    return e;
}

namespace {

// The walk itself: `at`, when given, collects the attributes by type.
Status walk_attrs(const WalkContext& c, nlattr* head, int len, AttrSetId set, uint64_t allowed,
                  AttrCount* out, std::array<std::vector<nlattr*>, kMaxAttrTypes>* at) {
    const AttrSet& s = attr_set(set);
    nlattr* a;
    int rem;
    nla_for_each_attr(a, head, len, rem) {
        const int t = nla_type(a);
        const uint32_t off = offset_of(c, a);
        if (t == 0 || t > s.max || t >= static_cast<int>(kMaxAttrTypes)) {
            if (s.ignore_unknown && t != 0) continue;
            return fail(refusal(EINVAL, fmt("unknown attribute type %d in %s", t, s.name), off));
        }
        const Rule& r = s.rules[t];
        if (!(allowed & bit(static_cast<unsigned>(t))))
            return fail(
                refusal(EINVAL, fmt("%s is not allowed in %s", r.name, cmd_name(c.cmd)), off));
        if (out->count[t] >= r.max_count)
            return fail(refusal(EINVAL,
                                r.max_count == 1
                                    ? fmt("%s given more than once", r.name)
                                    : fmt("%s repeated more than %u times", r.name, r.max_count),
                                off));
        PRF_TRY(check_attr(c, a, r));
        ++out->count[t];
        if (at) (*at)[t].push_back(a);
    }
    if (rem > 0) {
        const uint32_t off = offset_of(c, a);
        if (rem < static_cast<int>(NLA_HDRLEN))
            return fail(refusal(
                EINVAL, fmt("%d trailing bytes after the last attribute of %s", rem, s.name), off));
        return fail(refusal(EINVAL,
                            fmt("attribute length %u does not fit the %d bytes left in %s",
                                a->nla_len, rem, s.name),
                            off));
    }
    return {};
}

}  // namespace

Status walk(const WalkContext& c, nlattr* head, int len, AttrSetId set, uint64_t allowed,
            AttrIndex* out) {
    return walk_attrs(c, head, len, set, allowed, out, &out->at);
}
Status walk(const WalkContext& c, nlattr* head, int len, AttrSetId set, uint64_t allowed,
            AttrCount* out) {
    return walk_attrs(c, head, len, set, allowed, out, nullptr);
}

std::string missing_text(uint64_t missing, uint8_t cmd) {
    for (unsigned t = 1; t <= kAttrMax; ++t)
        if (missing & bit(t))
            return t == ATTR_DEVICE
                       ? fmt("%s is required by %s (at least one)", rule_of(kSetTop, t).name,
                             cmd_name(cmd))
                       : fmt("%s is required by %s", rule_of(kSetTop, t).name, cmd_name(cmd));
    return {};
}

Result<FramedMessage> frame(ByteView m) {
    if (m.size() < NLMSG_HDRLEN)
        return fail(
            refusal(EINVAL, fmt("message of %zu bytes is shorter than a netlink header (%d bytes)",
                                m.size(), NLMSG_HDRLEN)));
    if (m.size() > kMaxDatagram)
        return fail(refusal(EMSGSIZE, fmt("message of %zu bytes exceeds the %zu-byte limit",
                                          m.size(), kMaxDatagram)));
    FramedMessage f{AlignedCopy(m), nullptr, {}};
    nlmsghdr* nlh = f.copy.nlh();
    f.nlh = nlh;
    f.hdr = Header{nlh->nlmsg_type, nlh->nlmsg_flags, nlh->nlmsg_seq, nlh->nlmsg_pid, CMD_UNSPEC, 0,
                   nlh->nlmsg_len};
    if (nlh->nlmsg_len < NLMSG_HDRLEN)
        return fail(refusal(
            EINVAL, fmt("nlmsg_len %u is shorter than the netlink header", nlh->nlmsg_len)));
    if (nlh->nlmsg_len > m.size())
        return fail(refusal(
            EINVAL, fmt("nlmsg_len %u exceeds the %zu bytes received", nlh->nlmsg_len, m.size())));
    if (m.size() > NLMSG_ALIGN(nlh->nlmsg_len))
        return fail(refusal(EINVAL,
                            fmt("%zu bytes follow the message (nlmsg_len %u)",
                                m.size() - nlh->nlmsg_len, nlh->nlmsg_len),
                            nlh->nlmsg_len));
    return f;
}

std::string attr_string(const nlattr* a) {
    if (!a) return {};
    return std::string(static_cast<const char*>(nla_data(a)), static_cast<size_t>(nla_len(a) - 1));
}

ByteView attr_bytes(const nlattr* a) {
    return ByteView(static_cast<const uint8_t*>(nla_data(a)), static_cast<size_t>(nla_len(a)));
}

Status parse_nested_into(nlattr* nest, AttrSetId set, nlattr** by_type, int max_type) {
    int err =
        nla_parse_nested(by_type, max_type, nest, const_cast<nla_policy*>(attr_set(set).policy));
    if (err < 0)
        return fail(Errc::malformed,
                    std::string("libnl refused a nested attribute: ") + nl_geterror(err), EINVAL);
    return {};
}

std::vector<nlattr*> all_nested(nlattr* nest, int type) {
    std::vector<nlattr*> v;
    nlattr* a;
    int rem;
    nla_for_each_nested(a, nest, rem) if (nla_type(a) == type) v.push_back(a);
    return v;
}

}  // namespace prfence::nl::detail
