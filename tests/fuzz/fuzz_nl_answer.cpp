// SPDX-License-Identifier: MIT
// The client decodes whatever arrives on prfenced's socket: the decoder must survive any bytes, and
// every answer it accepts must re-encode (with the daemon's encoders) to an answer that decodes the
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

Answer decode_ok(const Bytes& m) {
    auto parts = split_datagram(m);
    CHECK(parts.ok() && parts->size() == 1);
    auto a = decode_answer((*parts)[0]);
    CHECK(a.ok());
    return *a;
}

bool same_summary(const Summary& a, const Summary& b) {
    const auto &x = a.batch, &y = b.batch;
    return x.luns == y.luns && x.ok == y.ok && x.failed == y.failed && x.wall_ns == y.wall_ns &&
           x.commands == y.commands && x.retries == y.retries && x.p50_ns == y.p50_ns &&
           x.p90_ns == y.p90_ns && x.p99_ns == y.p99_ns && x.max_ns == y.max_ns &&
           x.worst == y.worst && x.deadline_hit == y.deadline_hit && x.cancelled == y.cancelled &&
           a.queued_ns == b.queued_ns && a.operation == b.operation && a.group == b.group;
}

bool same_outcome(const engine::LunOutcome& a, const engine::LunOutcome& b) {
    if (a.device != b.device || a.ok != b.ok || a.finished != b.finished ||
        a.category != b.category || a.step != b.step || a.error != b.error ||
        a.status != b.status || a.sys_errno != b.sys_errno || a.timed_out != b.timed_out ||
        a.latency_ns != b.latency_ns || a.commands != b.commands || a.retries != b.retries ||
        a.degraded != b.degraded)
        return false;
    // An answer that decoded is at most a datagram the fuzzer gave: its paths fit beside its PR IN
    // data when encoded again, so they all come back.
    if (a.paths.size() != b.paths.size()) return false;
    for (size_t i = 0; i < a.paths.size(); ++i)
        if (a.paths[i].name != b.paths[i].name || a.paths[i].state != b.paths[i].state ||
            a.paths[i].error != b.paths[i].error)
            return false;
    // The same holds for the NVMe registrants, which give way after the paths.
    if (a.nvme_status != b.nvme_status) return false;
    if (a.nvme_report.has_value() != b.nvme_report.has_value()) return false;
    if (a.nvme_report) {
        const auto &x = *a.nvme_report, &y = *b.nvme_report;
        if (x.generation != y.generation || x.rtype != y.rtype || x.regctl != y.regctl ||
            x.registrants.size() != y.registrants.size())
            return false;
        for (size_t i = 0; i < x.registrants.size(); ++i)
            if (x.registrants[i].key != y.registrants[i].key ||
                x.registrants[i].hostid != y.registrants[i].hostid ||
                x.registrants[i].holds != y.registrants[i].holds ||
                x.registrants[i].cntlid != y.registrants[i].cntlid)
                return false;
    }
    if (a.sense.has_value() != b.sense.has_value()) return false;
    if (a.keys.has_value() != b.keys.has_value()) return false;
    if (a.keys && (a.keys->keys != b.keys->keys || a.keys->generation != b.keys->generation ||
                   a.keys->truncated != b.keys->truncated))
        return false;
    if (a.reservation.has_value() != b.reservation.has_value()) return false;
    if (a.reservation && a.reservation->reserved &&
        (a.reservation->key != b.reservation->key || a.reservation->type != b.reservation->type))
        return false;
    if (a.caps.has_value() != b.caps.has_value()) return false;
    if (a.caps && a.caps->type_mask != b.caps->type_mask) return false;
    if (a.full_status && b.full_status && !a.full_status->truncated && !b.full_status->truncated &&
        a.full_status->entries != b.full_status->entries)
        return false;
    return true;
}

void one(ByteView m) {
    auto r = decode_answer(m);
    if (!r.ok()) {
        CHECK(!r.error().msg.empty());
        return;
    }
    const Answer& a = *r;
    switch (a.kind()) {
        case Answer::Kind::ack: {
            CHECK(a.err() >= 0);
            Answer b = decode_ok(encode_ack(a.hdr, a.err(), a.err_msg(), a.err_offset()));
            CHECK(b.kind() == Answer::Kind::ack && b.err() == a.err() &&
                  b.err_msg() == a.err_msg() && b.hdr.seq == a.hdr.seq);
            if (!a.err_msg().empty()) CHECK(b.err_offset() == a.err_offset());
            break;
        }
        case Answer::Kind::done: {
            Answer b = decode_ok(encode_done(a.hdr, a.err()));
            CHECK(b.kind() == Answer::Kind::done && b.err() == a.err());
            break;
        }
        case Answer::Kind::family:
            break;
        case Answer::Kind::health: {
            Answer b = decode_ok(encode_health(a.hdr, a.health()));
            const Health &x = a.health(), &y = b.health();
            CHECK(x.uptime_ns == y.uptime_ns && x.pid == y.pid && x.version == y.version &&
                  x.groups == y.groups && x.luns == y.luns && x.paths_open == y.paths_open &&
                  x.clients == y.clients && x.subscribers == y.subscribers &&
                  x.batches_running == y.batches_running && x.batches_queued == y.batches_queued &&
                  x.subscribers_dropped == y.subscribers_dropped && x.config == y.config);
            break;
        }
        case Answer::Kind::stats: {
            Answer b = decode_ok(encode_stats(a.hdr, a.stats()));
            CHECK(b.stats().size() == a.stats().size());
            for (size_t i = 0; i < a.stats().size(); ++i)
                CHECK(a.stats()[i].name == b.stats()[i].name &&
                      a.stats()[i].count == b.stats()[i].count &&
                      a.stats()[i].p99_ns == b.stats()[i].p99_ns &&
                      a.stats()[i].buckets == b.stats()[i].buckets);
            break;
        }
        case Answer::Kind::group: {
            Answer b = decode_ok(encode_group_info(a.hdr, a.group(), (a.hdr.flags & 0x2) != 0));
            CHECK(b.group().name == a.group().name && b.group().initiator == a.group().initiator &&
                  b.group().target_port == a.group().target_port &&
                  b.group().sg_transport == a.group().sg_transport &&
                  b.group().luns == a.group().luns &&
                  b.group().paths_open == a.group().paths_open && b.group().key == a.group().key &&
                  b.group().hostnqn == a.group().hostnqn && b.group().hostid == a.group().hostid);
            if (m.size() < 32 * 1024)
                CHECK(b.group().devices == a.group().devices &&
                      b.group().problems == a.group().problems);
            break;
        }
        case Answer::Kind::luns:
        case Answer::Kind::summary: {
            std::vector<engine::LunOutcome> outs;
            Summary sum;
            if (a.kind() == Answer::Kind::luns)
                for (const auto& [idx, o] : a.luns()) outs.push_back(o);
            else
                sum = a.summary();
            auto msgs = encode_run_answer(a.hdr, outs, sum);
            CHECK(msgs.size() >= 2);
            std::vector<engine::LunOutcome> back;
            for (size_t i = 0; i + 1 < msgs.size(); ++i) {
                CHECK(msgs[i].size() <= kMaxPart);
                Answer b = decode_ok(msgs[i]);
                if (i + 2 == msgs.size()) {
                    CHECK(b.kind() == Answer::Kind::summary && same_summary(b.summary(), sum));
                    continue;
                }
                for (auto& [idx, o] : b.luns()) {
                    CHECK(idx == back.size());
                    back.push_back(o);
                }
            }
            CHECK(decode_ok(msgs.back()).kind() == Answer::Kind::done);
            CHECK(back.size() == outs.size());
            for (size_t i = 0; i < outs.size(); ++i) CHECK(same_outcome(outs[i], back[i]));
            break;
        }
        case Answer::Kind::event: {
            Answer b = decode_ok(encode_event(a.event()));
            const Event &x = a.event(), &y = b.event();
            CHECK(b.kind() == Answer::Kind::event && x.kind == y.kind && x.time_ns == y.time_ns &&
                  x.group == y.group && x.text == y.text &&
                  x.summary.has_value() == y.summary.has_value() &&
                  x.conflict.has_value() == y.conflict.has_value());
            if (x.summary) CHECK(same_summary(*x.summary, *y.summary));
            if (x.conflict)
                CHECK(x.conflict->cls == y.conflict->cls && x.conflict->text == y.conflict->text &&
                      x.conflict->our_key == y.conflict->our_key &&
                      x.conflict->type == y.conflict->type);
            break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ByteView in(data, size);
    auto parts = split_datagram(in);
    if (parts.ok())
        for (ByteView p : *parts) one(p);
    if (size <= kMaxDatagram) (void)decode_answer(in);
    return 0;
}
