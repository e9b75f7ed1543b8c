// SPDX-License-Identifier: MIT
// Shared by the control-protocol tests and the corpus generator: a raw message builder that writes
// exactly the bytes it is told to (lying lengths, missing NULs, unknown attributes), which the
// library encoders refuse to produce.
#pragma once

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "nl_control/protocol/message.h"

namespace prfence::nl::test {

class Raw {
  public:
    explicit Raw(uint8_t cmd, uint16_t flags = NLM_F_REQUEST | NLM_F_ACK,
                 uint8_t version = kVersion, uint16_t type = kMsgType, uint32_t seq = 7) {
        b_.resize(NLMSG_HDRLEN + GENL_HDRLEN, 0);
        nlmsghdr h{0, type, flags, seq, 4242};
        std::memcpy(b_.data(), &h, sizeof h);
        b_[NLMSG_HDRLEN] = cmd;
        b_[NLMSG_HDRLEN + 1] = version;
    }
    // Offset the next attribute will have.
    uint32_t next() const { return static_cast<uint32_t>(b_.size()); }
    Raw& attr(uint16_t type, const void* data, size_t len) {
        nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
        size_t off = b_.size();
        b_.resize(off + NLA_ALIGN(NLA_HDRLEN + len), 0);
        std::memcpy(b_.data() + off, &a, sizeof a);
        // data is null only with len 0 (an empty attribute); GCC 12 at -O3 cannot see that.
        if (len != 0 && data != nullptr) std::memcpy(b_.data() + off + NLA_HDRLEN, data, len);
        return *this;
    }
    Raw& u8(uint16_t t, uint8_t v) { return attr(t, &v, 1); }
    Raw& u16(uint16_t t, uint16_t v) { return attr(t, &v, 2); }
    Raw& u32(uint16_t t, uint32_t v) { return attr(t, &v, 4); }
    Raw& u64(uint16_t t, uint64_t v) { return attr(t, &v, 8); }
    Raw& str(uint16_t t, const std::string& s) { return attr(t, s.c_str(), s.size() + 1); }
    Raw& str_no_nul(uint16_t t, const std::string& s) { return attr(t, s.data(), s.size()); }
    uint32_t begin_nest(uint16_t t) {
        uint32_t off = next();
        attr(t | NLA_F_NESTED, nullptr, 0);
        return off;
    }
    Raw& end_nest(uint32_t off) {
        uint16_t len = static_cast<uint16_t>(b_.size() - off);
        std::memcpy(b_.data() + off, &len, 2);
        return *this;
    }
    Raw& bytes(const Bytes& x) {
        b_.insert(b_.end(), x.begin(), x.end());
        return *this;
    }
    // The message with nlmsg_len = its size (+ `lie`).
    Bytes done(int lie = 0) const {
        Bytes out = b_;
        uint32_t len = static_cast<uint32_t>(static_cast<int>(out.size()) + lie);
        std::memcpy(out.data(), &len, 4);
        return out;
    }

  private:
    Bytes b_;
};

}  // namespace prfence::nl::test
