// SPDX-License-Identifier: MIT
// Internal to prfence_nlproto: the message builder and the codec of each nested payload (SUM_*,
// CF_*, LUN_*, GRP_*, H_*, ST_*, EV_*), the encoder and the decoder of each side by side in
// payloads.cpp.
#pragma once

#include <netlink/msg.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nl_control/protocol/message.h"
#include "nl_control/protocol/schema.h"

namespace prfence::nl::detail {

// One libnl message being built. Every put is checked against the schema rule of the attribute in
// the set being written (the message's top level, the ack TLVs, or the innermost open nest):
// integers must have the rule's kind, and strings and binaries longer than the rule allows are cut
// to its maximum (strings also at their first NUL), so an answer carries what fits rather than
// fail. encode_request checks a caller's values against the same rules first and refuses instead
// (check_text).
//
// A put that does not fit in the buffer marks the message !ok: callers either size the buffer so
// that this cannot happen, or cancel the nest and start a new part.
class MessageBuilder {
  public:
    explicit MessageBuilder(size_t capacity);
    ~MessageBuilder();
    MessageBuilder(const MessageBuilder&) = delete;
    MessageBuilder& operator=(const MessageBuilder&) = delete;

    // nlmsghdr and `payload` bytes of fixed header; attributes of `set` follow.
    void start(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid, int payload,
               schema::AttrSetId set);
    // nlmsghdr plus the genl header {h.cmd, h.version}, for prfence messages (top-level
    // attributes).
    void start_genl(const Header& h, uint16_t flags);

    void u8(uint16_t type, uint8_t v);
    void u16(uint16_t type, uint16_t v);
    void u32(uint16_t type, uint32_t v);
    void u64(uint16_t type, uint64_t v);
    void str(uint16_t type, std::string_view s);  // clipped to the rule (clip_text)
    void bin(uint16_t type, ByteView b);          // cut to the rule's maximum length
    // Opens nested attribute `type`; puts go to its set until end_nest or cancel_nest.
    nlattr* begin_nest(uint16_t type);
    void end_nest(nlattr* n);
    // Drops the nest (open or ended) and everything in it, and clears the !ok mark its puts left.
    void cancel_nest(nlattr* n);

    // The rule of `type` in the set being written.
    const schema::Rule& rule(uint16_t type) const;

    bool ok() const { return ok_; }
    size_t size() const;
    nlmsghdr* header();
    Bytes bytes() const;

  private:
    void check(int err) {
        if (err < 0) ok_ = false;
    }
    nl_msg* m_;
    bool ok_ = true;
    struct Level {
        schema::AttrSetId set;
        nlattr* nest;  // nullptr for the message's own attributes
    };
    std::vector<Level> levels_;  // the set being written is back()
};

// Text as a string attribute carries it: cut at its first NUL and at `max` bytes.
std::string clip(std::string_view s, size_t max);
// `s` clipped to the rule of attribute `type` of `set`.
std::string clip_text(schema::AttrSetId set, uint16_t type, std::string_view s);
// encode_request's check of a caller's string against its rule: no NUL byte inside, length within
// lo..hi (`lo` 0 for an attribute that is left out when empty). Errc::invalid_argument, EINVAL.
Status check_text(const schema::Rule& r, const std::string& s, uint64_t lo);
// Bytes one attribute of `payload` bytes takes in a message, with its padding.
size_t attr_size(size_t payload);
// An NVMe host identifier attribute (ATTR_HOSTID, GRP_HOSTID) the walk accepted: exactly 16 bytes.
std::array<uint8_t, 16> hostid_of(const nlattr* a);

// ---- nested payloads: put_X writes nest `type` (of the set being written), decode_X reads one

void put_summary(MessageBuilder& m, uint16_t type, const Summary& s);
Result<Summary> decode_summary(nlattr* nest);

void put_conflict(MessageBuilder& m, uint16_t type, const Conflict& f);
Result<Conflict> decode_conflict(nlattr* nest);
size_t conflict_size(const Conflict& f);  // a buffer size that holds put_conflict's nest

// What put_lun leaves out of a LU's result that does not fit one part (answer.cpp says in which
// order). Everything else is always written.
struct LunParts {
    bool data = true;         // the PR IN parameter data (LUN_KEYS, LUN_RESERVATION, LUN_CAPS,
                              // LUN_FULL_STATUS) and the NVMe Report (all of LUN_NVME but
                              // NVME_STATUS)
    bool paths = true;        // LUN_PATHS
    bool registrants = true;  // LUN_NVME's NVME_REGISTRANT list (its header stays)
};
// LUN_* of one outcome into an ATTR_LUN nest the caller opened, without what `parts` leaves out.
// LUN_PATHS holds the first kMaxLunPaths paths, LUN_NVME the first kMaxNvmeRegistrants
// registrants.
void put_lun(MessageBuilder& m, uint32_t index, const engine::LunOutcome& o, LunParts parts);
// `base`: the message's start, for the offset in the text of a PR IN parse error.
Result<engine::LunOutcome> decode_lun(nlattr* nest, uint32_t* index, const uint8_t* base);

void put_group_info(MessageBuilder& m, uint16_t type, const GroupInfo& g);
Result<GroupInfo> decode_group_info(nlattr* nest);

void put_health(MessageBuilder& m, uint16_t type, const Health& h);
Result<Health> decode_health(nlattr* nest);

// False (and nothing written) when the nest does not fit in the message.
bool put_op_stats(MessageBuilder& m, uint16_t type, const OpStats& s);
Result<OpStats> decode_op_stats(nlattr* nest);

void put_event(MessageBuilder& m, uint16_t type, const Event& ev);
Result<Event> decode_event(nlattr* nest);

}  // namespace prfence::nl::detail
