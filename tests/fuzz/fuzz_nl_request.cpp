// SPDX-License-Identifier: MIT
// prfenced decodes requests from any local client: the decoder must survive any bytes, refuse with
// an errno and a message, and whatever it accepts must re-encode to a request that decodes the
// same.
#include <cstdint>
#include <cstdlib>

#include "nl_control/protocol/message.h"

using namespace prfence;
using namespace prfence::nl;

#define CHECK(c)                \
    do {                        \
        if (!(c)) std::abort(); \
    } while (0)

namespace {

bool same_conflict(const std::optional<Conflict>& a, const std::optional<Conflict>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    return a->cls == b->cls && a->device == b->device && a->hctl == b->hctl && a->wwid == b->wwid &&
           a->op == b->op && a->text == b->text && a->sector == b->sector && a->count == b->count &&
           a->first_seen_ns == b->first_seen_ns && a->last_seen_ns == b->last_seen_ns &&
           a->our_key == b->our_key && a->holder_key == b->holder_key && a->type == b->type;
}

bool same_request(const Request& a, const Request& b) {
    const auto &x = a.op, &y = b.op;
    return a.hdr.cmd == b.hdr.cmd && a.hdr.seq == b.hdr.seq && a.hdr.pid == b.hdr.pid &&
           a.hdr.flags == b.hdr.flags && a.hdr.version == b.hdr.version && a.group == b.group &&
           a.devices == b.devices && a.initiator == b.initiator && a.target_port == b.target_port &&
           a.sg_transport == b.sg_transport && a.hostnqn == b.hostnqn && a.hostid == b.hostid &&
           a.has_operation == b.has_operation && x.op == y.op && x.key == y.key &&
           x.sa_key == y.sa_key && x.old_key == y.old_key && x.type == y.type &&
           x.ignore_existing == y.ignore_existing && x.aptpl == y.aptpl &&
           x.all_tg_pt == y.all_tg_pt && x.abort == y.abort && x.no_abort == y.no_abort &&
           x.unreg == y.unreg && x.force == y.force && x.transport_ids == y.transport_ids &&
           x.rel_port == y.rel_port && x.timeout_ms == y.timeout_ms &&
           a.deadline_ms == b.deadline_ms && a.qd == b.qd && a.flags == b.flags &&
           a.event_mask == b.event_mask && same_conflict(a.conflict, b.conflict);
}

void one(ByteView m) {
    auto d = decode_request(m);
    if (!d.ok()) {
        const Error& e = d.error();
        CHECK(e.sys_errno > 0);
        CHECK(!e.msg.empty());
        CHECK(e.offset <= m.size());
        // The ack for it must decode back to the same errno and text.
        Bytes ack = encode_ack(peek_header(m).value_or(Header{}), e.sys_errno, e.msg, e.offset);
        auto a = decode_answer(ack);
        CHECK(a.ok() && a->err() == e.sys_errno && a->err_msg() == e.msg);
        return;
    }
    CHECK(peek_header(m).has_value());
    auto enc = encode_request(*d);
    CHECK(enc.ok());
    auto again = decode_request(*enc);
    CHECK(again.ok());
    CHECK(same_request(*d, *again));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ByteView in(data, size);
    auto parts = split_datagram(in);
    if (parts.ok()) {
        CHECK(!parts->empty());
        for (ByteView p : *parts) one(p);
    }
    // The decoder handed a whole datagram (as a careless caller might) must still be safe.
    if (size <= kMaxDatagram) (void)decode_request(in);
    return 0;
}
