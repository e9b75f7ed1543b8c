// SPDX-License-Identifier: MIT
// Internal to prfence_nlproto: the validating walker and the reading helpers both decoders share.
//
// libnl 3.7's validate_nla only checks minimum length, maximum length and that a NLA_STRING's last
// byte is NUL, keeps the last of repeated attributes silently, ignores attribute types above the
// maximum and reports no location. So every message is first walked here against the schema (the
// walk refuses with errno, a text naming the attribute and its offset), and only then handed to
// nlmsg_parse / nla_parse_nested with the same policies to pick out single attributes.
#pragma once

#include <linux/netlink.h>
#include <netlink/attr.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "nl_control/protocol/message.h"
#include "nl_control/protocol/schema.h"

namespace prfence::nl::detail {

// A private copy of a message, aligned for nlmsghdr/nlattr access whatever the caller's buffer was,
// zero-padded to a multiple of 4 (so NLMSG_ALIGN/NLA_ALIGN stepping never leaves it).
class AlignedCopy {
  public:
    explicit AlignedCopy(ByteView v);
    nlmsghdr* nlh() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
    const uint8_t* base() const { return reinterpret_cast<const uint8_t*>(buf_.data()); }

  private:
    std::vector<uint32_t> buf_;
};

// What a walk found: how many of each attribute type (AttrCount) and, in an AttrIndex, the
// attributes themselves in the order they came. Attribute types of every set are below
// kMaxAttrTypes, as the 64-bit masks of allowed and required attributes (schema::bit) hold them.
inline constexpr unsigned kMaxAttrTypes = 64;
struct AttrCount {
    std::array<uint32_t, kMaxAttrTypes> count{};
    uint64_t present() const;  // bit(type) for each type found
};
// A nest's walk only needs the counts (repeat limits, required members): it takes an AttrCount, and
// collecting nothing saves an allocation per attribute, which was most of decoding a 1000-LUN
// answer.
struct AttrIndex : AttrCount {
    std::array<std::vector<nlattr*>, kMaxAttrTypes> at;
    nlattr* first(unsigned type) const { return at[type].empty() ? nullptr : at[type].front(); }
};
static_assert(ATTR_MAX_PLUS_ONE <= kMaxAttrTypes && GRP_MAX_PLUS_ONE <= kMaxAttrTypes &&
                  LUN_MAX_PLUS_ONE <= kMaxAttrTypes && LP_MAX_PLUS_ONE <= kMaxAttrTypes &&
                  PATH_MAX_PLUS_ONE <= kMaxAttrTypes && NVME_MAX_PLUS_ONE <= kMaxAttrTypes &&
                  NR_MAX_PLUS_ONE <= kMaxAttrTypes && SUM_MAX_PLUS_ONE <= kMaxAttrTypes &&
                  H_MAX_PLUS_ONE <= kMaxAttrTypes && ST_MAX_PLUS_ONE <= kMaxAttrTypes &&
                  EV_MAX_PLUS_ONE <= kMaxAttrTypes && CF_MAX_PLUS_ONE <= kMaxAttrTypes,
              "AttrIndex and the schema's masks hold attribute types below 64, in every set");

struct WalkContext {
    const uint8_t* base;  // start of the message: offsets count from here
    uint8_t cmd;          // the message's command (ATTR_FLAGS is checked per command)
};
inline uint32_t offset_of(const WalkContext& c, const void* p) {
    return static_cast<uint32_t>(static_cast<const uint8_t*>(p) - c.base);
}

// A refusal as an Error: sys_errno `err`, msg `text` (the extended-ack text, as sent), offset
// `offset`. The code follows the errno: EOPNOTSUPP and EPROTONOSUPPORT unsupported, EMSGSIZE
// invalid_argument, anything else malformed.
Error refusal(int err, std::string text, uint32_t offset = 0);
// The same Error with " (offset N)" appended to msg when it has an offset: for decoders whose
// errors are read by a person rather than sent on.
Error with_offset_in_text(Error e);

// Walks attributes [head, head+len) of `set`: every attribute known, allowed (`allowed` bits),
// within its repeat limit and valid against its rule (nests recursively, with their required
// members); nothing left over. Collects them in `out`.
Status walk(const WalkContext& c, nlattr* head, int len, schema::AttrSetId set, uint64_t allowed,
            AttrIndex* out);
Status walk(const WalkContext& c, nlattr* head, int len, schema::AttrSetId set, uint64_t allowed,
            AttrCount* out);

// The top-level attributes of a message the walk has accepted, indexed by type as libnl's
// nlmsg_parse lays them out against the top-level policy (EINVAL should libnl disagree).
using TopAttrs = std::array<nlattr*, ATTR_MAX_PLUS_ONE>;
Result<TopAttrs> parse_top(nlmsghdr* nlh);

// The first top-level attribute named in `missing` (bits), as "ATTR_X is required by CMD_Y".
std::string missing_text(uint64_t missing, uint8_t cmd);

// One message's nlmsghdr checked: at least a header, nlmsg_len within the bytes given, nothing but
// its padding after it (errno EINVAL; EMSGSIZE over kMaxDatagram). hdr holds the nlmsghdr's fields.
struct FramedMessage {
    AlignedCopy copy;
    nlmsghdr* nlh;
    Header hdr;
};
Result<FramedMessage> frame(ByteView message);

// ---- reading attributes that passed the walk

std::string attr_string(const nlattr* a);  // "" for nullptr
ByteView attr_bytes(const nlattr* a);
inline uint8_t u8_or(const nlattr* a, uint8_t d = 0) {
    return a ? nla_get_u8(const_cast<nlattr*>(a)) : d;
}
inline uint16_t u16_or(const nlattr* a, uint16_t d = 0) {
    return a ? nla_get_u16(const_cast<nlattr*>(a)) : d;
}
inline uint32_t u32_or(const nlattr* a, uint32_t d = 0) {
    return a ? nla_get_u32(const_cast<nlattr*>(a)) : d;
}
inline uint64_t u64_or(const nlattr* a, uint64_t d = 0) {
    return a ? nla_get_u64(const_cast<nlattr*>(a)) : d;
}

// The single attributes of an already-walked nest, by type, through libnl (nullptr: absent).
template <size_t N>
struct NestedAttrs {
    std::array<nlattr*, N> by_type{};
    nlattr* operator[](size_t type) const { return by_type[type]; }
};
Status parse_nested_into(nlattr* nest, schema::AttrSetId set, nlattr** by_type, int max_type);
template <size_t N>
Result<NestedAttrs<N>> parse_nested(nlattr* nest, schema::AttrSetId set) {
    NestedAttrs<N> t;
    PRF_TRY(parse_nested_into(nest, set, t.by_type.data(), static_cast<int>(N - 1)));
    return t;
}
// Repeated attributes of a nest (libnl's table keeps only the last).
std::vector<nlattr*> all_nested(nlattr* nest, int type);

}  // namespace prfence::nl::detail
