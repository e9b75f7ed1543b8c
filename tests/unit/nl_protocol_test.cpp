// SPDX-License-Identifier: MIT
// prfenced's control protocol (nl_control/protocol): every request and answer round-trips,
// multi-part answers split within kMaxPart, and every refusal class says errno, what is wrong and
// where.
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <variant>

#include "nl_control/protocol/message.h"
#include "nl_control/protocol/payloads.h"
#include "nl_control/protocol/schema.h"
#include "tests/support/nl_test_util.h"
#include "uring_engine/model/operation.h"
#include "uring_engine/wire/nvme_types.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/sense.h"

namespace prfence::nl {
namespace {

using test::Raw;

Request req(uint8_t cmd) {
    Request r;
    r.hdr.cmd = cmd;
    r.hdr.seq = 11;
    r.hdr.pid = 99;
    r.hdr.flags = NLM_F_ACK;
    return r;
}

Request roundtrip(const Request& r) {
    auto enc = encode_request(r);
    EXPECT_TRUE(enc.ok()) << (enc.ok() ? "" : enc.error().msg);
    if (!enc.ok()) return {};
    auto parts = split_datagram(*enc);
    EXPECT_TRUE(parts.ok());
    EXPECT_EQ(parts->size(), 1u);
    auto d = decode_request((*parts)[0]);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().msg);
    EXPECT_TRUE(peek_header((*parts)[0]));
    if (!d.ok()) return {};
    EXPECT_EQ(d->hdr.cmd, r.hdr.cmd);
    EXPECT_EQ(d->hdr.seq, r.hdr.seq);
    EXPECT_EQ(d->hdr.pid, r.hdr.pid);
    EXPECT_EQ(d->hdr.flags, r.hdr.flags | NLM_F_REQUEST);
    EXPECT_EQ(d->hdr.version, kVersion);
    EXPECT_EQ(d->hdr.len, enc->size());
    // Encoding what was decoded gives the same bytes.
    auto again = encode_request(*d);
    EXPECT_TRUE(again.ok());
    if (again.ok()) {
        EXPECT_EQ(*again, *enc);
    }
    return *d;
}

// What a refusal carries to the ack: errno, text, offset.
struct Refusal {
    int err = 0;
    std::string msg;
    uint32_t offset = 0;
};
Refusal refusal_of(const Error& e) { return Refusal{e.sys_errno, e.msg, e.offset}; }

Refusal refused(const Bytes& m) {
    auto d = decode_request(m);
    EXPECT_FALSE(d.ok());
    return d.ok() ? Refusal{} : refusal_of(d.error());
}

// split_datagram, with its refusal copied to `why` on error.
Result<std::vector<ByteView>> split(ByteView datagram, Refusal* why) {
    auto r = split_datagram(datagram);
    if (!r.ok()) *why = refusal_of(r.error());
    return r;
}

// ---------------------------------------------------------------------------------------------------
// Requests

TEST(NlRequest, SimpleCommandsRoundTrip) {
    for (uint8_t cmd : {CMD_GET_FAMILY, CMD_NOOP, CMD_HEALTH, CMD_UNSUBSCRIBE, CMD_RELOAD}) {
        Request r = roundtrip(req(cmd));
        EXPECT_EQ(r.hdr.cmd, cmd);
        EXPECT_TRUE(r.group.empty());
        EXPECT_FALSE(r.has_operation);
    }
}

TEST(NlRequest, StatsReset) {
    Request r = req(CMD_STATS);
    r.flags = STATS_RESET;
    Request d = roundtrip(r);
    EXPECT_EQ(d.flags, STATS_RESET);
    EXPECT_FALSE(d.op.ignore_existing);  // StatsFlag bits are not OpFlags
}

TEST(NlRequest, GroupCommandsRoundTrip) {
    Request r = req(CMD_GROUP_CREATE);
    r.group = "db-01.prod_A";
    r.devices = {"/dev/sdb", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "sim:/run/prsim.sock:0-63"};
    r.initiator = "iqn.1994-05.com.redhat:node-a";
    r.target_port = 3;
    r.sg_transport = SG_TRANSPORT_SGIO;
    r.op.key = 0xabc123;
    Request d = roundtrip(r);
    EXPECT_EQ(d.group, r.group);
    EXPECT_EQ(d.devices, r.devices);
    EXPECT_EQ(d.initiator, r.initiator);
    EXPECT_EQ(d.target_port, 3);
    EXPECT_EQ(d.sg_transport, SG_TRANSPORT_SGIO);
    EXPECT_EQ(d.op.key, 0xabc123u);  // the group's own key

    for (uint8_t cmd : {CMD_GROUP_ADD, CMD_GROUP_REMOVE}) {
        Request a = req(cmd);
        a.group = "g";
        a.devices = {"/dev/sdc"};
        Request da = roundtrip(a);
        EXPECT_EQ(da.devices, a.devices);
    }
    for (uint8_t cmd : {CMD_GROUP_DELETE, CMD_GROUP_REFRESH, CMD_GROUP_LIST}) {
        Request a = req(cmd);
        a.group = "g";
        EXPECT_EQ(roundtrip(a).group, "g");
    }
    Request dump = req(CMD_GROUP_LIST);
    dump.hdr.flags |= NLM_F_DUMP;
    EXPECT_TRUE(roundtrip(dump).hdr.flags & NLM_F_DUMP);
}

// The NVMe host of a group over prsim namespaces: ATTR_HOSTNQN (printable ASCII, 1-223 bytes) and
// ATTR_HOSTID (exactly 16 bytes), each optional, each sent only when given.
TEST(NlRequest, GroupCreateCarriesTheNvmeHost) {
    const std::array<uint8_t, 16> id = {0x01, 0x23, 0xab, 0xcd, 0, 0, 0x40, 0,
                                        0x80, 0,    0,    0,    0, 0, 0,    0x0a};
    Request r = req(CMD_GROUP_CREATE);
    r.group = "nvA";
    r.devices = {"sim:/run/prsim.sock:ns1-2"};
    r.hostnqn = "nqn.2026-12.io.example:node-a";
    r.hostid = id;
    Request d = roundtrip(r);
    EXPECT_EQ(d.hostnqn, r.hostnqn);
    ASSERT_TRUE(d.hostid);
    EXPECT_EQ(*d.hostid, id);

    // At the limit: 223 bytes.
    r.hostnqn = "nqn." + std::string(kMaxNqnLen - 4, 'q');
    EXPECT_EQ(roundtrip(r).hostnqn, r.hostnqn);

    // Each alone; neither is sent when not given.
    Request nqn_only = req(CMD_GROUP_CREATE);
    nqn_only.group = "g";
    nqn_only.devices = {"d"};
    nqn_only.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:0123abcd-0000-4000-8000-00000000000a";
    Request dn = roundtrip(nqn_only);
    EXPECT_EQ(dn.hostnqn, nqn_only.hostnqn);
    EXPECT_FALSE(dn.hostid);
    Request id_only = nqn_only;
    id_only.hostnqn.clear();
    id_only.hostid = id;
    Request di = roundtrip(id_only);
    EXPECT_TRUE(di.hostnqn.empty());
    EXPECT_EQ(di.hostid, id);
    Request plain = nqn_only;
    plain.hostnqn.clear();
    auto enc = encode_request(plain);
    ASSERT_TRUE(enc.ok());
    auto with = encode_request(id_only);
    ASSERT_TRUE(with.ok());
    EXPECT_EQ(with->size(), enc->size() + NLA_HDRLEN + 16);

    // What the protocol cannot carry is refused by the encoder, naming the attribute.
    Request bad = nqn_only;
    bad.hostnqn = std::string(kMaxNqnLen + 1, 'q');
    auto e = encode_request(bad);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().msg, "ATTR_HOSTNQN: 224 bytes, 0-223 allowed");
    bad.hostnqn = "nqn.bad\tname";
    e = encode_request(bad);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().msg,
              "ATTR_HOSTNQN: \"nqn.bad\\x09name\" holds \"\\x09\" at byte 7: printable ASCII only");
    EXPECT_EQ(e.error().sys_errno, EINVAL);
}

// The policy refuses every NVMe host the protocol cannot carry, naming the attribute, why and
// where.
TEST(NlRefusal, NvmeHostPolicy) {
    struct Case {
        std::function<void(Raw&)> put;
        const char* text;
    };
    const Bytes id16(16, 0xab);
    const Case cases[] = {
        {[](Raw& m) { m.str(ATTR_HOSTNQN, std::string(kMaxNqnLen + 1, 'q')); },
         "ATTR_HOSTNQN: 224 bytes, at most 223 allowed"},
        {[](Raw& m) { m.str(ATTR_HOSTNQN, ""); }, "ATTR_HOSTNQN: 0 bytes, at least 1 expected"},
        {[](Raw& m) { m.str(ATTR_HOSTNQN, "nqn.bad\tname"); },
         "ATTR_HOSTNQN: \"nqn.bad\\x09name\" holds \"\\x09\" at byte 7: printable ASCII only"},
        {[](Raw& m) { m.str(ATTR_HOSTNQN, "nqn.\xc3\xa9"); },
         "ATTR_HOSTNQN: \"nqn.\\xc3\\xa9\" holds \"\\xc3\" at byte 4"},
        {[](Raw& m) { m.str_no_nul(ATTR_HOSTNQN, "nqn.x"); },
         "ATTR_HOSTNQN: string of 5 bytes is not NUL-terminated"},
        {[&](Raw& m) { m.attr(ATTR_HOSTID, id16.data(), 15); },
         "ATTR_HOSTID: 15 bytes, expected 16-16"},
        {[&](Raw& m) { m.attr(ATTR_HOSTID, Bytes(17, 1).data(), 17); },
         "ATTR_HOSTID: 17 bytes, expected 16-16"},
        {[&](Raw& m) { m.attr(ATTR_HOSTID, nullptr, 0); }, "ATTR_HOSTID: 0 bytes, expected 16-16"},
        {[&](Raw& m) { m.attr(ATTR_HOSTID, id16.data(), 16).attr(ATTR_HOSTID, id16.data(), 16); },
         "ATTR_HOSTID given more than once"},
    };
    for (const auto& c : cases) {
        Raw m(CMD_GROUP_CREATE);
        m.str(ATTR_GROUP, "g").str(ATTR_DEVICE, "d");
        const uint32_t off = m.next();
        c.put(m);
        Refusal r = refused(m.done());
        EXPECT_EQ(r.err, EINVAL) << c.text;
        EXPECT_NE(r.msg.find(c.text), std::string::npos) << r.msg;
        if (std::string(c.text).find("more than once") == std::string::npos) {
            EXPECT_EQ(r.offset, off) << c.text;
        }
    }
    // Only CMD_GROUP_CREATE takes them: a group's host is chosen when it is made.
    for (uint8_t cmd : {CMD_GROUP_ADD, CMD_RUN}) {
        Raw m(cmd);
        m.str(ATTR_GROUP, "g");
        if (cmd == CMD_GROUP_ADD) m.str(ATTR_DEVICE, "d");
        if (cmd == CMD_RUN) m.u8(ATTR_OPERATION, 1);
        m.str(ATTR_HOSTNQN, "nqn.x");
        EXPECT_NE(refused(m.done()).msg.find("ATTR_HOSTNQN is not allowed in " +
                                             std::string(schema::cmd_name(cmd))),
                  std::string::npos);
        Raw h(cmd);
        h.str(ATTR_GROUP, "g");
        if (cmd == CMD_GROUP_ADD) h.str(ATTR_DEVICE, "d");
        if (cmd == CMD_RUN) h.u8(ATTR_OPERATION, 1);
        h.attr(ATTR_HOSTID, id16.data(), 16);
        EXPECT_NE(refused(h.done()).msg.find("ATTR_HOSTID is not allowed in"), std::string::npos);
    }
    // A well-formed pair passes the walk.
    Raw ok(CMD_GROUP_CREATE);
    ok.str(ATTR_GROUP, "g").str(ATTR_DEVICE, "d").str(ATTR_HOSTNQN, "nqn.x");
    ok.attr(ATTR_HOSTID, id16.data(), 16);
    auto d = decode_request(ok.done());
    ASSERT_TRUE(d.ok()) << d.error().msg;
    EXPECT_EQ(d->hostnqn, "nqn.x");
    EXPECT_EQ(d->hostid, (std::array<uint8_t, 16>{0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                                  0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab}));
}

TEST(NlRequest, RunRoundTripsEveryOperationField) {
    Request r = req(CMD_RUN);
    r.group = "g1";
    r.has_operation = true;
    r.op.op = engine::Operation::move;
    r.op.key = 0xabc123;
    r.op.sa_key = 0xffffffffffffffffull;
    r.op.old_key = 0;
    r.op.type = wire::PrType::exclusive_access_all_registrants;
    r.op.ignore_existing = r.op.aptpl = r.op.all_tg_pt = r.op.abort = r.op.no_abort = r.op.unreg =
        r.op.force = r.op.claim = true;
    r.op.transport_ids.push_back(
        *wire::parse_transport_id("iqn.1994-05.com.redhat:node-b,i,0x23d000001"));
    r.op.transport_ids.push_back(*wire::parse_transport_id("sas,5000c5000abcdef0"));
    r.op.rel_port = 2;
    r.op.timeout_ms = 3600000;
    r.deadline_ms = 86400000;
    r.qd = 65536;
    Request d = roundtrip(r);
    EXPECT_TRUE(d.has_operation);
    EXPECT_EQ(d.op.op, engine::Operation::move);
    EXPECT_EQ(d.op.key, r.op.key);
    EXPECT_EQ(d.op.sa_key, r.op.sa_key);
    EXPECT_EQ(d.op.old_key, std::optional<uint64_t>(0));
    EXPECT_EQ(d.op.type, r.op.type);
    EXPECT_TRUE(d.op.ignore_existing && d.op.aptpl && d.op.all_tg_pt && d.op.abort &&
                d.op.no_abort && d.op.unreg && d.op.force && d.op.claim);
    EXPECT_EQ(d.flags, kOpFlagsAll);
    EXPECT_EQ(d.op.transport_ids, r.op.transport_ids);
    EXPECT_EQ(d.op.rel_port, 2);
    EXPECT_EQ(d.op.timeout_ms, 3600000u);
    EXPECT_EQ(d.deadline_ms, 86400000u);
    EXPECT_EQ(d.qd, 65536u);

    // Absent values stay absent; the timeout keeps its default.
    Request m = req(CMD_RUN);
    m.group = "g1";
    m.has_operation = true;
    m.op.op = engine::Operation::read_keys;
    Request dm = roundtrip(m);
    EXPECT_FALSE(dm.op.key || dm.op.sa_key || dm.op.old_key || dm.op.type);
    EXPECT_EQ(dm.op.timeout_ms, 20000u);
    EXPECT_EQ(dm.flags, 0u);
    EXPECT_FALSE(dm.deadline_ms || dm.qd);
    EXPECT_FALSE(dm.op.claim);
}

// fence --claim (FLAG_CLAIM, 0x80) on the wire, and the fence agent's operations 16 (unfence) and
// 17 (verify), the last ones: 18 is refused.
TEST(NlRequest, ClaimFlagAndTheFenceAgentOperations) {
    Request r = req(CMD_RUN);
    r.group = "g";
    r.has_operation = true;
    r.op.op = engine::Operation::fence;
    r.op.key = 0xb;
    r.op.sa_key = 0xa;
    r.op.claim = true;
    auto enc = encode_request(r);
    ASSERT_TRUE(enc.ok());
    Request d = roundtrip(r);
    EXPECT_EQ(d.flags, uint32_t{FLAG_CLAIM});
    EXPECT_EQ(FLAG_CLAIM, 0x80u);
    EXPECT_TRUE(d.op.claim);
    EXPECT_FALSE(d.op.force || d.op.no_abort || d.op.ignore_existing);
    r.op.claim = false;
    EXPECT_FALSE(roundtrip(r).op.claim);

    EXPECT_EQ(static_cast<unsigned>(engine::Operation::unfence), 16u);
    EXPECT_EQ(static_cast<unsigned>(engine::Operation::verify), 17u);
    EXPECT_EQ(engine::kOperationMax, 17u) << "a new operation: add it here and to PROTOCOL.md";
    for (auto op : {engine::Operation::unfence, engine::Operation::verify}) {
        Request q = req(CMD_RUN);
        q.group = "g";
        q.has_operation = true;
        q.op.op = op;
        q.op.key = 0xb;
        EXPECT_EQ(roundtrip(q).op.op, op) << engine::operation_name(op);
        // ...and as a raw attribute, as another client would send it.
        Raw m(CMD_RUN);
        m.str(ATTR_GROUP, "g");
        m.u8(ATTR_OPERATION, static_cast<uint8_t>(op));
        auto raw = decode_request(m.done());
        ASSERT_TRUE(raw.ok()) << raw.error().msg;
        EXPECT_EQ(raw->op.op, op);
    }
    EXPECT_STREQ(engine::operation_name(engine::Operation::unfence), "unfence");
    EXPECT_STREQ(engine::operation_name(engine::Operation::verify), "verify");
    Raw past(CMD_RUN);
    past.str(ATTR_GROUP, "g");
    past.u8(ATTR_OPERATION, 18);
    EXPECT_NE(refused(past.done()).msg.find("ATTR_OPERATION: 18 is out of range (1-17)"),
              std::string::npos);
    // The first unknown flag bit, now that 0x80 is known.
    Raw flags(CMD_RUN);
    flags.str(ATTR_GROUP, "g").u8(ATTR_OPERATION, 1);
    flags.u32(ATTR_FLAGS, 1u << 8);
    EXPECT_NE(refused(flags.done()).msg.find("unknown OpFlag bits 0x100 (known: 0xff)"),
              std::string::npos);
}

TEST(NlRequest, SubscribeAndConflict) {
    Request s = req(CMD_SUBSCRIBE);
    s.event_mask = (1u << EVENT_CONFLICT) | (1u << EVENT_GROUP);
    EXPECT_EQ(roundtrip(s).event_mask, s.event_mask);
    EXPECT_FALSE(roundtrip(req(CMD_SUBSCRIBE)).event_mask);

    Request c = req(CMD_CONFLICT);
    Conflict f;
    f.cls = CONFLICT_RESERVED_BY_OTHER;
    f.device = "/dev/sdq";
    f.hctl = "2:0:0:5";
    f.wwid = "naa.6001405abcdef";
    f.op = "write";
    f.text = "write to sdq refused: reserved by 0xbeef";
    f.sector = 123456;
    f.count = 3;
    f.first_seen_ns = 1;
    f.last_seen_ns = 2;
    f.our_key = 0xaa;
    f.holder_key = 0xbeef;
    f.type = 5;
    c.conflict = f;
    Request d = roundtrip(c);
    ASSERT_TRUE(d.conflict);
    EXPECT_EQ(d.conflict->cls, f.cls);
    EXPECT_EQ(d.conflict->device, f.device);
    EXPECT_EQ(d.conflict->hctl, f.hctl);
    EXPECT_EQ(d.conflict->wwid, f.wwid);
    EXPECT_EQ(d.conflict->op, f.op);
    EXPECT_EQ(d.conflict->text, f.text);
    EXPECT_EQ(d.conflict->sector, f.sector);
    EXPECT_EQ(d.conflict->count, f.count);
    EXPECT_EQ(d.conflict->first_seen_ns, 1u);
    EXPECT_EQ(d.conflict->last_seen_ns, 2u);
    EXPECT_EQ(d.conflict->our_key, f.our_key);
    EXPECT_EQ(d.conflict->holder_key, f.holder_key);
    EXPECT_EQ(d.conflict->type, f.type);
}

TEST(NlRequest, EncoderRefusesWhatCannotBeCarried) {
    Request r = req(CMD_GROUP_CREATE);
    r.group = "bad name";
    auto e = encode_request(r);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().msg.find("ATTR_GROUP"), std::string::npos);
    r.group = std::string(65, 'a');
    EXPECT_FALSE(encode_request(r).ok());
    r.group = "ok";
    r.devices = {std::string("a\0b", 3)};
    EXPECT_FALSE(encode_request(r).ok());
    r.devices = {std::string(kMaxDeviceLen + 1, 'x')};
    EXPECT_FALSE(encode_request(r).ok());
    r.devices.assign(kMaxDevices, std::string(kMaxDeviceLen, 'x'));  // 16 MiB: over kMaxDatagram
    auto big = encode_request(r);
    ASSERT_FALSE(big.ok());
    EXPECT_EQ(big.error().sys_errno, EMSGSIZE);
}

TEST(NlRequest, SeveralMessagesInOneDatagram) {
    Bytes a = *encode_request(req(CMD_NOOP));
    Request h = req(CMD_GROUP_DELETE);
    h.group = "abc";  // 4-byte string: message length stays aligned either way
    Bytes b = *encode_request(h);
    Bytes dgram = a;
    dgram.resize(NLMSG_ALIGN(dgram.size()), 0);
    dgram.insert(dgram.end(), b.begin(), b.end());
    auto parts = split_datagram(dgram);
    ASSERT_TRUE(parts.ok());
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ(decode_request((*parts)[0])->hdr.cmd, CMD_NOOP);
    EXPECT_EQ(decode_request((*parts)[1])->group, "abc");

    // Misaligned input buffer: the decoders copy before looking.
    Bytes shifted(1, 0);
    shifted.insert(shifted.end(), b.begin(), b.end());
    auto d = decode_request(ByteView(shifted).subspan(1));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->group, "abc");
}

// ---------------------------------------------------------------------------------------------------
// Refusals: errno, a message naming the problem, the offset.

TEST(NlRefusal, DatagramFraming) {
    Refusal why;
    Bytes ok = *encode_request(req(CMD_NOOP));

    // Short datagram.
    auto r = split(ByteView(ok).first(10), &why);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().sys_errno, EINVAL);
    EXPECT_EQ(why.err, EINVAL);
    EXPECT_NE(why.msg.find("shorter than a netlink header"), std::string::npos) << why.msg;
    EXPECT_EQ(why.offset, 0u);

    // Empty.
    EXPECT_FALSE(split(ByteView(), &why).ok());
    EXPECT_NE(why.msg.find("empty"), std::string::npos);

    // nlmsg_len bigger than the data.
    Bytes lie = Raw(CMD_NOOP).done(+8);
    EXPECT_FALSE(split(lie, &why).ok());
    EXPECT_EQ(why.err, EINVAL);
    EXPECT_NE(why.msg.find("exceeds"), std::string::npos) << why.msg;
    EXPECT_EQ(why.offset, 0u);

    // nlmsg_len smaller than the data: the rest is garbage that is not a message.
    Request g = req(CMD_GROUP_DELETE);
    g.group = "abc";
    Bytes small = *encode_request(g);
    uint32_t shorter = static_cast<uint32_t>(small.size() - 8);
    std::memcpy(small.data(), &shorter, 4);
    EXPECT_FALSE(split(small, &why).ok());
    EXPECT_NE(why.msg.find("trailing garbage"), std::string::npos) << why.msg;
    EXPECT_EQ(why.offset, shorter);
    // ...and decode_request, handed such a message, refuses it too.
    Refusal rr = refused(small);
    EXPECT_EQ(rr.err, EINVAL);
    EXPECT_NE(rr.msg.find("follow the message"), std::string::npos) << rr.msg;

    // nlmsg_len below the header size.
    Bytes tiny = Raw(CMD_NOOP).done();
    uint32_t eight = 8;
    std::memcpy(tiny.data(), &eight, 4);
    EXPECT_FALSE(split(tiny, &why).ok());
    EXPECT_NE(why.msg.find("shorter than the netlink header"), std::string::npos) << why.msg;
    EXPECT_EQ(refused(tiny).err, EINVAL);

    // Trailing garbage after a valid message.
    Bytes trail = ok;
    trail.insert(trail.end(), {1, 2, 3, 4, 5, 6});
    EXPECT_FALSE(split(trail, &why).ok());
    EXPECT_NE(why.msg.find("trailing garbage"), std::string::npos) << why.msg;
    EXPECT_EQ(why.offset, ok.size());

    // Oversized datagram.
    Bytes huge(kMaxDatagram + 1, 0);
    auto h = split(huge, &why);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error().sys_errno, EMSGSIZE);
    EXPECT_EQ(why.err, EMSGSIZE);
    EXPECT_NE(why.msg.find("exceeds"), std::string::npos);
}

TEST(NlRefusal, HeaderProblems) {
    // Short message handed straight to decode_request.
    Bytes ok = *encode_request(req(CMD_NOOP));
    auto d = decode_request(ByteView(ok).first(12));
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().sys_errno, EINVAL);
    EXPECT_FALSE(peek_header(ByteView(ok).first(12)));

    // Wrong nlmsg_type.
    Refusal r = refused(Raw(CMD_NOOP, NLM_F_REQUEST, kVersion, 0x21).done());
    EXPECT_EQ(r.err, EOPNOTSUPP);
    EXPECT_NE(r.msg.find("nlmsg_type 0x21"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, 4u);
    r = refused(Raw(CMD_NOOP, NLM_F_REQUEST, kVersion, NLMSG_DONE).done());
    EXPECT_EQ(r.err, EOPNOTSUPP);

    // No NLM_F_REQUEST; the header is still reported so the ack can echo seq.
    Bytes noreq = Raw(CMD_NOOP, NLM_F_ACK).done();
    auto nr = decode_request(noreq);
    ASSERT_TRUE(!nr.ok() && peek_header(noreq));
    EXPECT_EQ(nr.error().sys_errno, EINVAL);
    EXPECT_NE(nr.error().msg.find("NLM_F_REQUEST"), std::string::npos);
    EXPECT_EQ(peek_header(noreq)->seq, 7u);

    // Missing genl header.
    Bytes nogenl = Raw(CMD_NOOP).done();
    nogenl.resize(NLMSG_HDRLEN);
    uint32_t len = NLMSG_HDRLEN;
    std::memcpy(nogenl.data(), &len, 4);
    r = refused(nogenl);
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_NE(r.msg.find("genl header"), std::string::npos) << r.msg;

    // Unknown command, CMD_UNSPEC, CMD_EVENT as a request.
    r = refused(Raw(200).done());
    EXPECT_EQ(r.err, EOPNOTSUPP);
    EXPECT_NE(r.msg.find("unknown command 200"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, 16u);
    EXPECT_EQ(refused(Raw(CMD_UNSPEC).done()).err, EOPNOTSUPP);
    r = refused(Raw(CMD_EVENT).done());
    EXPECT_EQ(r.err, EOPNOTSUPP);
    EXPECT_NE(r.msg.find("CMD_EVENT"), std::string::npos) << r.msg;

    // Unsupported versions, both sides.
    for (uint8_t v : {uint8_t{0}, uint8_t{kVersion + 1}}) {
        Bytes mv = Raw(CMD_NOOP, NLM_F_REQUEST, v).done();
        auto dv = decode_request(mv);
        ASSERT_FALSE(dv.ok());
        EXPECT_EQ(dv.error().sys_errno, EPROTONOSUPPORT);
        EXPECT_NE(dv.error().msg.find("versions 1-1"), std::string::npos) << dv.error().msg;
        EXPECT_EQ(dv.error().offset, 17u);
        EXPECT_EQ(peek_header(mv)->version, v);
    }
}

TEST(NlRefusal, Attributes) {
    // Unknown attribute type.
    Raw u(CMD_HEALTH);
    uint32_t off = u.next();
    u.u32(200, 1);
    Refusal r = refused(u.done());
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_NE(r.msg.find("unknown attribute type 200"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);
    // Types just past the last one, and at and past the decoders' index, are refused the same way.
    for (uint16_t t : {uint16_t{ATTR_MAX_PLUS_ONE}, uint16_t{63}, uint16_t{64}}) {
        Raw x(CMD_HEALTH);
        x.u32(t, 1);
        Refusal rx = refused(x.done());
        EXPECT_EQ(rx.err, EINVAL) << t;
        EXPECT_NE(rx.msg.find("unknown attribute type " + std::to_string(t)), std::string::npos)
            << rx.msg;
    }

    // Type 0.
    Raw z(CMD_HEALTH);
    z.u32(0, 1);
    EXPECT_EQ(refused(z.done()).err, EINVAL);

    // Wrongly typed: u8 where a u64 is expected.
    Raw w(CMD_RUN);
    w.str(ATTR_GROUP, "g").u8(ATTR_OPERATION, 1);
    off = w.next();
    w.u8(ATTR_KEY, 5);
    r = refused(w.done());
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_NE(r.msg.find("ATTR_KEY: 1 bytes, expected a u64"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    // u64 where a u8 is expected (libnl alone would accept it).
    Raw w2(CMD_RUN);
    w2.str(ATTR_GROUP, "g");
    off = w2.next();
    w2.u64(ATTR_OPERATION, 1);
    r = refused(w2.done());
    EXPECT_NE(r.msg.find("ATTR_OPERATION: 8 bytes, expected a u8"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    // String without its NUL.
    Raw s(CMD_GROUP_DELETE);
    off = s.next();
    s.str_no_nul(ATTR_GROUP, "abcd");
    r = refused(s.done());
    EXPECT_NE(r.msg.find("ATTR_GROUP: string of 4 bytes is not NUL-terminated"), std::string::npos)
        << r.msg;
    EXPECT_EQ(r.offset, off);

    // Empty attribute where a string is expected.
    Raw e(CMD_GROUP_DELETE);
    e.attr(ATTR_GROUP, nullptr, 0);
    EXPECT_NE(refused(e.done()).msg.find("ATTR_GROUP: empty"), std::string::npos);

    // NUL inside the string.
    Raw n(CMD_GROUP_DELETE);
    n.attr(ATTR_GROUP, "ab\0cd", 6);
    EXPECT_NE(refused(n.done()).msg.find("NUL byte at 2"), std::string::npos);

    // Oversized strings.
    Raw og(CMD_GROUP_DELETE);
    off = og.next();
    og.str(ATTR_GROUP, std::string(65, 'a'));
    r = refused(og.done());
    EXPECT_NE(r.msg.find("ATTR_GROUP: 65 bytes"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);
    Raw od(CMD_GROUP_ADD);
    od.str(ATTR_GROUP, "g");
    off = od.next();
    od.str(ATTR_DEVICE, std::string(kMaxDeviceLen + 1, 'd'));
    r = refused(od.done());
    EXPECT_NE(r.msg.find("ATTR_DEVICE: 4097 bytes, at most 4096"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    // Bad group charset.
    Raw gc(CMD_GROUP_DELETE);
    off = gc.next();
    gc.str(ATTR_GROUP, "db/01");
    r = refused(gc.done());
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_NE(r.msg.find("ATTR_GROUP: \"db/01\" holds \"/\" at byte 2"), std::string::npos)
        << r.msg;
    EXPECT_NE(r.msg.find("[A-Za-z0-9._-]"), std::string::npos);
    EXPECT_EQ(r.offset, off);

    // Repeated single attribute.
    Raw rep(CMD_GROUP_DELETE);
    rep.str(ATTR_GROUP, "a");
    off = rep.next();
    rep.str(ATTR_GROUP, "b");
    r = refused(rep.done());
    EXPECT_NE(r.msg.find("ATTR_GROUP given more than once"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    // Too many devices.
    Raw many(CMD_GROUP_ADD);
    many.str(ATTR_GROUP, "g");
    for (size_t i = 0; i < kMaxDevices; ++i) many.str(ATTR_DEVICE, "d");
    off = many.next();
    many.str(ATTR_DEVICE, "d");
    r = refused(many.done());
    EXPECT_NE(r.msg.find("ATTR_DEVICE repeated more than 4096 times"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    // Network byte order flag.
    Raw nb(CMD_SUBSCRIBE);
    off = nb.next();
    nb.u32(ATTR_EVENT_MASK | NLA_F_NET_BYTEORDER, 2);
    r = refused(nb.done());
    EXPECT_NE(r.msg.find("NLA_F_NET_BYTEORDER"), std::string::npos);
    EXPECT_EQ(r.offset, off);

    // An attribute whose length runs past the message.
    Raw lie(CMD_HEALTH);
    lie.u32(ATTR_FLAGS, 0);
    Bytes lb = lie.done();
    uint16_t big = 200;
    std::memcpy(lb.data() + NLMSG_HDRLEN + GENL_HDRLEN, &big, 2);
    r = refused(lb);
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_NE(r.msg.find("attribute length 200"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, 20u);
}

struct RangeCase {
    uint16_t attr;
    uint64_t value;
    int size;
    const char* text;
};

TEST(NlRefusal, OutOfRangeValues) {
    const RangeCase cases[] = {
        {ATTR_TYPE, 4, 1,
         "ATTR_TYPE: 4 is not a reservation type (1 WE, 3 EA, 5 WE-RO, 6 EA-RO, 7 WE-AR, 8 EA-AR)"},
        {ATTR_TYPE, 0, 1, "ATTR_TYPE: 0 is not a reservation type"},
        {ATTR_TYPE, 2, 1, "ATTR_TYPE: 2 is not"},
        {ATTR_FLAGS, 1u << 8, 4, "ATTR_FLAGS: unknown OpFlag bits 0x100 (known: 0xff)"},
        {ATTR_REL_PORT, 0, 2, "ATTR_REL_PORT: 0 is out of range (1-65535)"},
        {ATTR_TIMEOUT_MS, 0, 4, "ATTR_TIMEOUT_MS: 0 is out of range (1-3600000)"},
        {ATTR_TIMEOUT_MS, 3600001, 4, "ATTR_TIMEOUT_MS: 3600001 is out of range"},
        {ATTR_DEADLINE_MS, 86400001, 4, "ATTR_DEADLINE_MS: 86400001 is out of range (1-86400000)"},
        {ATTR_QD, 0, 4, "ATTR_QD: 0 is out of range (1-65536)"},
        {ATTR_QD, 65537, 4, "ATTR_QD: 65537 is out of range"},
    };
    for (const auto& c : cases) {
        Raw m(CMD_RUN);
        m.str(ATTR_GROUP, "g");
        if (c.attr != ATTR_OPERATION) m.u8(ATTR_OPERATION, 1);
        uint32_t off = m.next();
        m.attr(c.attr, &c.value,
               static_cast<size_t>(c.size));  // little-endian host: low bytes first
        Refusal r = refused(m.done());
        EXPECT_EQ(r.err, EINVAL) << c.text;
        EXPECT_NE(r.msg.find(c.text), std::string::npos) << r.msg;
        EXPECT_EQ(r.offset, off) << c.text;
    }
    for (uint8_t op : {uint8_t{0}, uint8_t{engine::kOperationMax + 1}}) {
        Raw m(CMD_RUN);
        m.str(ATTR_GROUP, "g");
        uint32_t off = m.next();
        m.u8(ATTR_OPERATION, op);
        Refusal r = refused(m.done());
        EXPECT_NE(r.msg.find("ATTR_OPERATION: " + std::to_string(op) + " is out of range (1-" +
                             std::to_string(engine::kOperationMax) + ")"),
                  std::string::npos)
            << r.msg;
        EXPECT_EQ(r.offset, off);
    }
    Raw tp(CMD_GROUP_CREATE);
    tp.str(ATTR_GROUP, "g").str(ATTR_DEVICE, "d");
    uint32_t off = tp.next();
    tp.u16(ATTR_TARGET_PORT, 0);
    Refusal r = refused(tp.done());
    EXPECT_NE(r.msg.find("ATTR_TARGET_PORT: 0 is out of range"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    Raw sg(CMD_GROUP_CREATE);
    sg.str(ATTR_GROUP, "g").str(ATTR_DEVICE, "d").u8(ATTR_SG_TRANSPORT, 2);
    EXPECT_NE(refused(sg.done()).msg.find("ATTR_SG_TRANSPORT: 2 is out of range (0-1)"),
              std::string::npos);

    Raw st(CMD_STATS);
    st.u32(ATTR_FLAGS, 2);
    EXPECT_NE(refused(st.done()).msg.find("ATTR_FLAGS: unknown StatsFlag bits 0x2"),
              std::string::npos);

    Raw ev(CMD_SUBSCRIBE);
    ev.u32(ATTR_EVENT_MASK, 1);  // bit 0: no EventKind 0
    EXPECT_NE(refused(ev.done()).msg.find("ATTR_EVENT_MASK: unknown bits 0x1"), std::string::npos);

    Raw tid(CMD_RUN);
    tid.str(ATTR_GROUP, "g").u8(ATTR_OPERATION, 5);
    off = tid.next();
    tid.str(ATTR_TRANSPORT_ID, "fcp,12");
    r = refused(tid.done());
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_NE(r.msg.find("ATTR_TRANSPORT_ID: \"fcp,12\""), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    Raw many(CMD_RUN);
    many.str(ATTR_GROUP, "g").u8(ATTR_OPERATION, 5);
    for (size_t i = 0; i < kMaxTransportIds; ++i)
        many.str(ATTR_TRANSPORT_ID, "sas,5000c5000abcdef0");
    many.str(ATTR_TRANSPORT_ID, "sas,5000c5000abcdef0");
    EXPECT_NE(refused(many.done()).msg.find("ATTR_TRANSPORT_ID repeated more than 64 times"),
              std::string::npos);
}

TEST(NlRefusal, CommandRules) {
    // Missing required attributes name the attribute.
    Refusal r = refused(Raw(CMD_RUN).str(ATTR_GROUP, "g").done());
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_EQ(r.msg, "ATTR_OPERATION is required by CMD_RUN");
    EXPECT_EQ(r.offset, 0u);
    r = refused(Raw(CMD_RUN).u8(ATTR_OPERATION, 1).done());
    EXPECT_EQ(r.msg, "ATTR_GROUP is required by CMD_RUN");
    r = refused(Raw(CMD_GROUP_CREATE).str(ATTR_GROUP, "g").done());
    EXPECT_EQ(r.msg, "ATTR_DEVICE is required by CMD_GROUP_CREATE (at least one)");
    EXPECT_NE(refused(Raw(CMD_GROUP_DELETE).done()).msg.find("ATTR_GROUP is required"),
              std::string::npos);
    EXPECT_NE(refused(Raw(CMD_CONFLICT).done()).msg.find("ATTR_CONFLICT is required"),
              std::string::npos);

    // Attributes not allowed for the command.
    Raw na(CMD_HEALTH);
    uint32_t off = na.next();
    na.str(ATTR_GROUP, "g");
    r = refused(na.done());
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_EQ(r.msg, "ATTR_GROUP is not allowed in CMD_HEALTH");
    EXPECT_EQ(r.offset, off);
    Raw nk(CMD_GROUP_CREATE);
    nk.str(ATTR_GROUP, "g").str(ATTR_DEVICE, "d");
    off = nk.next();
    nk.u64(ATTR_SA_KEY, 1);  // ATTR_KEY is allowed: the group's own key; a victim is not
    r = refused(nk.done());
    EXPECT_EQ(r.msg, "ATTR_SA_KEY is not allowed in CMD_GROUP_CREATE");
    EXPECT_EQ(r.offset, off);
    // Answer-only attributes are not allowed in requests.
    Raw ans(CMD_RUN);
    ans.str(ATTR_GROUP, "g").u8(ATTR_OPERATION, 1);
    uint32_t n = ans.begin_nest(ATTR_SUMMARY);
    ans.u32(SUM_LUNS, 1).end_nest(n);
    EXPECT_EQ(refused(ans.done()).msg, "ATTR_SUMMARY is not allowed in CMD_RUN");
}

TEST(NlRefusal, NestedConflictGarbage) {
    // A nested attribute with a bad value: the offset is the inner attribute's.
    Raw a(CMD_CONFLICT);
    uint32_t n = a.begin_nest(ATTR_CONFLICT);
    a.u8(CF_CLASS, 1);
    uint32_t off = a.next();
    a.u8(CF_TYPE, 4);
    a.end_nest(n);
    Refusal r = refused(a.done());
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_NE(r.msg.find("CF_TYPE: 4 is not a reservation type"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    // Unknown nested attribute.
    Raw b(CMD_CONFLICT);
    n = b.begin_nest(ATTR_CONFLICT);
    b.u8(CF_CLASS, 1);
    off = b.next();
    b.u64(99, 1);
    b.end_nest(n);
    r = refused(b.done());
    EXPECT_NE(r.msg.find("unknown attribute type 99 in ATTR_CONFLICT"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, off);

    // Missing CF_CLASS.
    Raw c(CMD_CONFLICT);
    n = c.begin_nest(ATTR_CONFLICT);
    c.str(CF_TEXT, "x");
    c.end_nest(n);
    r = refused(c.done());
    EXPECT_NE(r.msg.find("CF_CLASS is required in each ATTR_CONFLICT"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, n);

    // Raw garbage inside the nest.
    Raw d(CMD_CONFLICT);
    Bytes junk = {0xff, 0xff, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef};
    d.attr(ATTR_CONFLICT | NLA_F_NESTED, junk.data(), junk.size());
    r = refused(d.done());
    EXPECT_EQ(r.err, EINVAL);
    EXPECT_NE(r.msg.find("ATTR_CONFLICT"), std::string::npos) << r.msg;
    EXPECT_EQ(r.offset, 20u + 4u);

    // Three stray bytes at the end of the nest.
    Raw e(CMD_CONFLICT);
    Bytes tail = {0x05, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03};
    e.attr(ATTR_CONFLICT | NLA_F_NESTED, tail.data(), tail.size());
    r = refused(e.done());
    EXPECT_NE(r.msg.find("trailing bytes after the last attribute of ATTR_CONFLICT"),
              std::string::npos)
        << r.msg;

    // A nested flag on a plain attribute.
    Raw f(CMD_GROUP_DELETE);
    f.str(ATTR_GROUP | NLA_F_NESTED, "g");
    EXPECT_NE(refused(f.done()).msg.find("NLA_F_NESTED"), std::string::npos);
}

TEST(NlRefusal, FuzzLikeTruncationsNeverCrash) {
    Request r = req(CMD_RUN);
    r.group = "g";
    r.has_operation = true;
    r.op.op = engine::Operation::fence;
    r.op.key = 1;
    r.op.sa_key = 2;
    Bytes m = *encode_request(r);
    for (size_t n = 0; n < m.size(); ++n) {
        auto d = decode_request(ByteView(m).first(n));
        EXPECT_FALSE(d.ok());
        (void)split_datagram(ByteView(m).first(n));
    }
}

// ---------------------------------------------------------------------------------------------------
// Answers

Header request_header(uint8_t cmd) {
    Header h;
    h.cmd = cmd;
    h.seq = 77;
    h.pid = 5;
    h.flags = NLM_F_REQUEST | NLM_F_ACK;
    h.len = 20;
    return h;
}

Answer decode_one(const Bytes& m) {
    auto parts = split_datagram(m);
    EXPECT_TRUE(parts.ok());
    EXPECT_EQ(parts->size(), 1u);
    auto a = decode_answer(m);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().msg);
    return a.ok() ? *a : Answer{};
}

TEST(NlAnswer, AckAndError) {
    Bytes ack = encode_ack(request_header(CMD_NOOP), 0);
    Answer a = decode_one(ack);
    EXPECT_EQ(a.kind(), Answer::Kind::ack);
    EXPECT_EQ(a.err(), 0);
    EXPECT_EQ(a.hdr.seq, 77u);
    EXPECT_EQ(a.hdr.type, NLMSG_ERROR);
    EXPECT_TRUE(a.hdr.flags & NLM_F_CAPPED);
    EXPECT_FALSE(a.hdr.flags & NLM_F_ACK_TLVS);
    EXPECT_TRUE(a.err_msg().empty());

    // The real netlink layout: negative errno, the request's header echoed, TLVs.
    Bytes err =
        encode_ack(request_header(CMD_RUN), EINVAL, "ATTR_TYPE: 4 is not a reservation type", 36);
    int32_t wire_err;
    std::memcpy(&wire_err, err.data() + NLMSG_HDRLEN, 4);
    EXPECT_EQ(wire_err, -EINVAL);
    nlmsghdr echoed;
    std::memcpy(&echoed, err.data() + NLMSG_HDRLEN + 4, sizeof echoed);
    EXPECT_EQ(echoed.nlmsg_len, 20u);
    EXPECT_EQ(echoed.nlmsg_type, kMsgType);
    EXPECT_EQ(echoed.nlmsg_seq, 77u);
    Answer e = decode_one(err);
    EXPECT_EQ(e.kind(), Answer::Kind::ack);
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.err_msg(), "ATTR_TYPE: 4 is not a reservation type");
    EXPECT_EQ(e.err_offset(), 36u);
    EXPECT_TRUE(e.hdr.flags & NLM_F_ACK_TLVS);

    // An uncapped ack (the whole request echoed, as the kernel does without NETLINK_CAP_ACK).
    Bytes req_bytes = *encode_request(req(CMD_NOOP));
    Bytes unc(NLMSG_HDRLEN + 4, 0);
    unc.insert(unc.end(), req_bytes.begin(), req_bytes.end());
    unc.resize(NLMSG_ALIGN(unc.size()), 0);
    nlattr tlv{static_cast<uint16_t>(NLA_HDRLEN + 4), NLMSGERR_ATTR_MSG};
    unc.insert(unc.end(), reinterpret_cast<uint8_t*>(&tlv), reinterpret_cast<uint8_t*>(&tlv) + 4);
    unc.insert(unc.end(), {'b', 'a', 'd', 0});
    nlmsghdr uh{static_cast<uint32_t>(unc.size()), NLMSG_ERROR, NLM_F_ACK_TLVS, 11, 0};
    std::memcpy(unc.data(), &uh, sizeof uh);
    int32_t neg = -EPERM;
    std::memcpy(unc.data() + NLMSG_HDRLEN, &neg, 4);
    Answer ua = decode_one(unc);
    EXPECT_EQ(ua.err(), EPERM);
    EXPECT_EQ(ua.err_msg(), "bad");

    Bytes done = encode_done(request_header(CMD_RUN), ECANCELED);
    Answer d = decode_one(done);
    EXPECT_EQ(d.kind(), Answer::Kind::done);
    EXPECT_EQ(d.err(), ECANCELED);
    EXPECT_TRUE(d.hdr.flags & NLM_F_MULTI);
    EXPECT_EQ(decode_one(encode_done(request_header(CMD_RUN))).err(), 0);
}

TEST(NlAnswer, FamilyHealthStats) {
    Answer f = decode_one(encode_family(request_header(CMD_GET_FAMILY)));
    EXPECT_EQ(f.kind(), Answer::Kind::family);
    EXPECT_EQ(f.family().name, "prfence");
    EXPECT_EQ(f.family().version, kVersion);
    EXPECT_EQ(f.family().min_version, kMinVersion);
    EXPECT_EQ(f.family().max_attr, kAttrMax);
    EXPECT_EQ(f.hdr.seq, 77u);
    EXPECT_EQ(f.family().commands.size(), 15u);  // all but CMD_UNSPEC and CMD_EVENT

    Health h;
    h.uptime_ns = 123456789;
    h.pid = 4321;
    h.version = "0.1.0";
    h.groups = 2;
    h.luns = 128;
    h.paths_open = 256;
    h.clients = 3;
    h.subscribers = 1;
    h.batches_running = 1;
    h.batches_queued = 4;
    h.subscribers_dropped = 9;
    h.config = "/etc/prfence/prfenced.conf";
    Answer ha = decode_one(encode_health(request_header(CMD_HEALTH), h));
    EXPECT_EQ(ha.kind(), Answer::Kind::health);
    EXPECT_EQ(ha.health().uptime_ns, h.uptime_ns);
    EXPECT_EQ(ha.health().pid, h.pid);
    EXPECT_EQ(ha.health().version, h.version);
    EXPECT_EQ(ha.health().groups, 2u);
    EXPECT_EQ(ha.health().luns, 128u);
    EXPECT_EQ(ha.health().paths_open, 256u);
    EXPECT_EQ(ha.health().clients, 3u);
    EXPECT_EQ(ha.health().subscribers, 1u);
    EXPECT_EQ(ha.health().batches_running, 1u);
    EXPECT_EQ(ha.health().batches_queued, 4u);
    EXPECT_EQ(ha.health().subscribers_dropped, 9u);
    EXPECT_EQ(ha.health().config, h.config);

    std::vector<OpStats> st(2);
    st[0].name = "fence";
    st[0].count = 10;
    st[0].failed = 1;
    st[0].sum_ns = 1000;
    st[0].min_ns = 5;
    st[0].max_ns = 500;
    st[0].p50_ns = 64000;
    st[0].p99_ns = 128000;
    st[0].buckets.assign(kHistBuckets, 0);
    st[0].buckets[6] = 10;
    st[1].name = "control";
    Answer sa = decode_one(encode_stats(request_header(CMD_STATS), st));
    EXPECT_EQ(sa.kind(), Answer::Kind::stats);
    ASSERT_EQ(sa.stats().size(), 2u);
    EXPECT_EQ(sa.stats()[0].name, "fence");
    EXPECT_EQ(sa.stats()[0].count, 10u);
    EXPECT_EQ(sa.stats()[0].failed, 1u);
    EXPECT_EQ(sa.stats()[0].sum_ns, 1000u);
    EXPECT_EQ(sa.stats()[0].min_ns, 5u);
    EXPECT_EQ(sa.stats()[0].max_ns, 500u);
    EXPECT_EQ(sa.stats()[0].p50_ns, 64000u);
    EXPECT_EQ(sa.stats()[0].p99_ns, 128000u);
    EXPECT_EQ(sa.stats()[0].buckets, st[0].buckets);
    EXPECT_EQ(sa.stats()[1].name, "control");
    EXPECT_TRUE(sa.stats()[1].buckets.empty());
    EXPECT_TRUE(decode_one(encode_stats(request_header(CMD_STATS), {})).stats().empty());
}

TEST(NlAnswer, GroupInfo) {
    GroupInfo g;
    g.name = "db";
    g.devices = {"/dev/sdb", "/dev/sdc"};
    g.initiator = "iqn.1994-05.com.redhat:node-a";
    g.target_port = 2;
    g.sg_transport = SG_TRANSPORT_SGIO;
    g.luns = 2;
    g.paths_open = 4;
    g.problems = {"/dev/sdz: no such device"};
    g.key = 0xfedcba9876543210ull;
    g.hostnqn = "nqn.2026-12.io.example:node-a";
    g.hostid = std::array<uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    for (bool multi : {false, true}) {
        Answer a = decode_one(encode_group_info(request_header(CMD_GROUP_LIST), g, multi));
        EXPECT_EQ(a.kind(), Answer::Kind::group);
        EXPECT_EQ(bool(a.hdr.flags & NLM_F_MULTI), multi);
        EXPECT_EQ(a.group().name, g.name);
        EXPECT_EQ(a.group().devices, g.devices);
        EXPECT_EQ(a.group().initiator, g.initiator);
        EXPECT_EQ(a.group().target_port, g.target_port);
        EXPECT_EQ(a.group().sg_transport, SG_TRANSPORT_SGIO);
        EXPECT_EQ(a.group().luns, 2u);
        EXPECT_EQ(a.group().paths_open, 4u);
        EXPECT_EQ(a.group().problems, g.problems);
        EXPECT_EQ(a.group().key, g.key);
        EXPECT_EQ(a.group().hostnqn, g.hostnqn);
        EXPECT_EQ(a.group().hostid, g.hostid);
    }
    GroupInfo keyless = g;
    keyless.key.reset();
    keyless.hostnqn.clear();
    keyless.hostid.reset();
    const GroupInfo plain =
        decode_one(encode_group_info(request_header(CMD_GROUP_LIST), keyless, false)).group();
    EXPECT_FALSE(plain.key);
    EXPECT_TRUE(plain.hostnqn.empty());
    EXPECT_FALSE(plain.hostid);
    // A GRP_HOSTID of the wrong length, or a GRP_HOSTNQN that is not printable, is refused.
    for (int bad = 0; bad < 2; ++bad) {
        Raw m(CMD_GROUP_LIST, 0);
        const uint32_t n = m.begin_nest(ATTR_GROUP_INFO);
        m.str(GRP_NAME, "g");
        if (bad == 0)
            m.attr(GRP_HOSTID, "0123456789", 10);
        else
            m.str(GRP_HOSTNQN, "nqn\x7f");
        m.end_nest(n);
        auto r = decode_answer(m.done());
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().msg.find(bad == 0 ? "GRP_HOSTID: 10 bytes, expected 16-16"
                                              : "GRP_HOSTNQN: \"nqn\\x7f\" holds"),
                  std::string::npos)
            << r.error().msg;
    }
    // A group too large for one nest is listed as far as it fits, and says so.
    GroupInfo big = g;
    big.devices.assign(4000, std::string(100, 'x'));
    Answer b = decode_one(encode_group_info(request_header(CMD_GROUP_CREATE), big, false));
    EXPECT_LT(b.group().devices.size(), 4000u);
    EXPECT_GT(b.group().devices.size(), 100u);
    EXPECT_NE(b.group().problems.back().find("not listed"), std::string::npos);
}

engine::LunOutcome full_outcome(size_t i) {
    engine::LunOutcome o;
    o.device = "/dev/sd" + std::to_string(i);
    o.ok = i % 2 == 0;
    o.finished = true;
    o.category = wire::Category::reservation_conflict;
    o.step = "PREEMPT AND ABORT";
    o.error = "reservation conflict";
    o.status = 0x18;
    wire::Sense s;
    s.response_code = 0x70;
    s.key = wire::SenseKey::unit_attention;
    s.asc = 0x2a;
    s.ascq = 0x05;
    o.sense = s;
    o.sys_errno = EIO;
    o.timed_out = true;
    o.latency_ns = 1000 + i;
    o.commands = 3;
    o.retries = 1;
    o.degraded = true;
    wire::ReadKeys k;
    k.generation = 7;
    k.keys = {0xaa, 0xbb, 0xbb};
    o.keys = k;
    wire::ReadReservation r;
    r.generation = 7;
    r.reserved = true;
    r.key = 0xaa;
    r.type = 5;
    o.reservation = r;
    wire::Capabilities c;
    c.rlr_c = c.sip_c = c.atp_c = c.tmv = true;
    c.allow_commands = 1;
    c.type_mask = 0xea01;
    o.caps = c;
    wire::FullStatus fs;
    fs.generation = 7;
    wire::FullStatusEntry e;
    e.key = 0xaa;
    e.holder = true;
    e.type = 5;
    e.rel_tgt_port = 1;
    e.transport_id = *wire::parse_transport_id("iqn.1994-05.com.redhat:node-a,i,0x23d000001");
    fs.entries = {e};
    o.full_status = fs;
    return o;
}

std::vector<Answer> decode_all(const std::vector<Bytes>& msgs) {
    std::vector<Answer> out;
    for (const Bytes& m : msgs) {
        EXPECT_LE(m.size(), kMaxPart);
        out.push_back(decode_one(m));
    }
    return out;
}

TEST(NlAnswer, RunAnswerCarriesEveryOutcomeField) {
    std::vector<engine::LunOutcome> outs = {full_outcome(0), engine::LunOutcome{}};
    Summary s;
    s.batch.luns = 2;
    s.batch.ok = 1;
    s.batch.failed = 1;
    s.batch.wall_ns = 5;
    s.batch.commands = 6;
    s.batch.retries = 1;
    s.batch.p50_ns = 10;
    s.batch.p90_ns = 20;
    s.batch.p99_ns = 30;
    s.batch.max_ns = 40;
    s.batch.worst = wire::Category::reservation_conflict;
    s.batch.deadline_hit = true;
    s.batch.cancelled = true;
    s.queued_ns = 99;
    s.operation = engine::Operation::fence;
    s.group = "db";
    s.batch.degraded = 1;
    auto msgs = encode_run_answer(request_header(CMD_RUN), outs, s);
    ASSERT_EQ(msgs.size(), 3u);
    auto as = decode_all(msgs);
    EXPECT_EQ(as[0].kind(), Answer::Kind::luns);
    EXPECT_EQ(as[1].kind(), Answer::Kind::summary);
    EXPECT_EQ(as[2].kind(), Answer::Kind::done);
    for (const auto& a : as) {
        EXPECT_TRUE(a.hdr.flags & NLM_F_MULTI);
        EXPECT_EQ(a.hdr.seq, 77u);
    }
    ASSERT_EQ(as[0].luns().size(), 2u);
    const auto& [i0, o] = as[0].luns()[0];
    const auto& want = outs[0];
    EXPECT_EQ(i0, 0u);
    EXPECT_EQ(o.device, want.device);
    EXPECT_EQ(o.ok, want.ok);
    EXPECT_EQ(o.finished, want.finished);
    EXPECT_EQ(o.category, want.category);
    EXPECT_EQ(o.step, want.step);
    EXPECT_EQ(o.error, want.error);
    EXPECT_EQ(o.status, want.status);
    ASSERT_TRUE(o.sense);
    EXPECT_EQ(o.sense->key, wire::SenseKey::unit_attention);
    EXPECT_EQ(o.sense->asc, 0x2a);
    EXPECT_EQ(o.sense->ascq, 0x05);
    EXPECT_EQ(o.sys_errno, EIO);
    EXPECT_EQ(o.timed_out, true);
    EXPECT_EQ(o.latency_ns, want.latency_ns);
    EXPECT_EQ(o.commands, 3u);
    EXPECT_EQ(o.retries, 1u);
    EXPECT_TRUE(o.degraded);
    ASSERT_TRUE(o.keys && o.reservation && o.caps && o.full_status);
    EXPECT_EQ(o.keys->keys, want.keys->keys);
    EXPECT_EQ(o.keys->generation, 7u);
    EXPECT_FALSE(o.keys->truncated);
    EXPECT_EQ(o.reservation->key, 0xaau);
    EXPECT_EQ(o.reservation->type, 5);
    EXPECT_TRUE(o.reservation->reserved);
    EXPECT_EQ(o.caps->type_mask, 0xea01);
    EXPECT_TRUE(o.caps->rlr_c && o.caps->sip_c && o.caps->atp_c && o.caps->tmv);
    EXPECT_EQ(o.caps->allow_commands, 1);
    EXPECT_EQ(o.full_status->entries, want.full_status->entries);

    const auto& [i1, empty] = as[0].luns()[1];
    EXPECT_EQ(i1, 1u);
    EXPECT_FALSE(empty.sense || empty.keys || empty.reservation || empty.caps || empty.full_status);
    EXPECT_TRUE(empty.device.empty());
    EXPECT_FALSE(empty.degraded);

    const Summary& ds = as[1].summary();
    EXPECT_EQ(ds.batch.luns, 2u);
    EXPECT_EQ(ds.batch.ok, 1u);
    EXPECT_EQ(ds.batch.failed, 1u);
    EXPECT_EQ(ds.batch.wall_ns, 5u);
    EXPECT_EQ(ds.batch.commands, 6u);
    EXPECT_EQ(ds.batch.retries, 1u);
    EXPECT_EQ(ds.batch.degraded, 1u);
    EXPECT_EQ(ds.batch.p50_ns, 10u);
    EXPECT_EQ(ds.batch.p90_ns, 20u);
    EXPECT_EQ(ds.batch.p99_ns, 30u);
    EXPECT_EQ(ds.batch.max_ns, 40u);
    EXPECT_EQ(ds.batch.worst, wire::Category::reservation_conflict);
    EXPECT_TRUE(ds.batch.deadline_hit && ds.batch.cancelled);
    EXPECT_EQ(ds.queued_ns, 99u);
    EXPECT_EQ(ds.operation, engine::Operation::fence);
    EXPECT_EQ(ds.group, "db");

    // No LUNs: summary and DONE only.
    auto none = encode_run_answer(request_header(CMD_GROUP_REFRESH), {}, s);
    ASSERT_EQ(none.size(), 2u);
    EXPECT_EQ(decode_one(none[0]).kind(), Answer::Kind::summary);
    EXPECT_EQ(decode_one(none[0]).hdr.cmd, CMD_GROUP_REFRESH);
}

// The streaming writer: LUNs in completion order, parts emitted when full or flushed, each LUN once
// under its own index, and nothing after finish()'s summary and DONE.
TEST(NlAnswer, WriterStreamsLunsInAnyOrder) {
    std::vector<engine::LunOutcome> outs;
    for (size_t i = 0; i < 300; ++i) outs.push_back(full_outcome(i));
    std::vector<Bytes> emitted;
    RunAnswerWriter w(request_header(CMD_RUN), [&](Bytes&& b) { emitted.push_back(std::move(b)); });
    EXPECT_EQ(w.pending(), 0u);
    w.flush();  // nothing pending: no empty part
    EXPECT_TRUE(emitted.empty());

    // Odd indexes first, descending, as a batch might finish them; a flush after the first three.
    std::vector<uint32_t> order;
    for (uint32_t i = 299; i < 300; i -= 2) order.push_back(i);
    for (uint32_t i = 0; i < 300; i += 2) order.push_back(i);
    for (size_t k = 0; k < order.size(); ++k) {
        w.add(order[k], outs[order[k]]);
        if (k == 2) {
            EXPECT_EQ(w.pending(), 3u);
            w.flush();
            EXPECT_EQ(w.pending(), 0u);
            ASSERT_EQ(emitted.size(), 1u);  // a part of three, sent before it was full
        }
    }
    EXPECT_GT(emitted.size(), 2u) << "300 full outcomes fill more than one part";
    const size_t before_finish = emitted.size();
    Summary s;
    s.batch.luns = 300;
    w.finish(s);
    ASSERT_GE(emitted.size(), before_finish + 2);

    auto as = decode_all(emitted);
    std::vector<uint32_t> seen;
    for (size_t p = 0; p + 2 < as.size(); ++p) {
        EXPECT_EQ(as[p].kind(), Answer::Kind::luns);
        EXPECT_LE(emitted[p].size(), kMaxPart);
        EXPECT_FALSE(as[p].luns().empty()) << "part " << p << " is empty";
        for (const auto& [idx, o] : as[p].luns()) {
            seen.push_back(idx);
            EXPECT_EQ(o.device, outs[idx].device);
        }
    }
    EXPECT_EQ(as[0].luns().size(), 3u);
    EXPECT_EQ(seen, order) << "parts keep the order LUNs were added in";
    EXPECT_EQ(as[as.size() - 2].kind(), Answer::Kind::summary);
    EXPECT_EQ(as[as.size() - 2].summary().batch.luns, 300u);
    EXPECT_EQ(as.back().kind(), Answer::Kind::done);
    EXPECT_EQ(as.back().err(), 0);
}

TEST(NlAnswer, ThousandLunsSplitIntoParts) {
    std::vector<engine::LunOutcome> outs;
    for (size_t i = 0; i < 1000; ++i) outs.push_back(full_outcome(i));
    auto msgs = encode_run_answer(request_header(CMD_RUN), outs, Summary{});
    ASSERT_GT(msgs.size(), 3u);
    auto as = decode_all(msgs);
    uint32_t next = 0;
    for (size_t p = 0; p + 2 < as.size(); ++p) {
        EXPECT_EQ(as[p].kind(), Answer::Kind::luns);
        EXPECT_FALSE(as[p].luns().empty());
        for (const auto& [idx, o] : as[p].luns()) {
            EXPECT_EQ(idx, next);
            EXPECT_EQ(o.device, outs[next].device);
            ++next;
        }
    }
    EXPECT_EQ(next, 1000u);
    EXPECT_EQ(as[as.size() - 2].kind(), Answer::Kind::summary);
    EXPECT_EQ(as.back().kind(), Answer::Kind::done);

    // Packing keeps order and the datagram limit, and split_datagram takes them apart again.
    auto dgrams = pack_datagrams(msgs);
    size_t count = 0;
    for (const Bytes& d : dgrams) {
        EXPECT_LE(d.size(), kMaxDatagram);
        auto parts = split_datagram(d);
        ASSERT_TRUE(parts.ok()) << parts.error().msg;
        for (ByteView p : *parts) {
            ASSERT_LT(count, msgs.size());
            EXPECT_TRUE(std::equal(p.begin(), p.end(), msgs[count].begin(), msgs[count].end()));
            ++count;
        }
    }
    EXPECT_EQ(count, msgs.size());
}

TEST(NlAnswer, HugeLunResultStillFitsOnePart) {
    engine::LunOutcome o = full_outcome(0);
    o.device = std::string(kMaxDeviceLen + 100, 'd');
    o.error = std::string(10000, 'e');
    o.step = std::string(1000, 's');
    o.keys->keys.assign(5000, 0x1234);
    o.full_status->entries.assign(2000, o.full_status->entries[0]);
    auto msgs = encode_run_answer(request_header(CMD_RUN), {o, o}, Summary{});
    auto as = decode_all(msgs);
    ASSERT_EQ(as.size(), 4u);  // one LUN per part
    const auto& d = as[0].luns().at(0).second;
    EXPECT_EQ(d.device.size(), kMaxDeviceLen);
    EXPECT_EQ(d.error.size(), kMaxLunError);
    EXPECT_EQ(d.step.size(), kMaxName);
    ASSERT_TRUE(d.keys);
    EXPECT_TRUE(d.keys->truncated);
    EXPECT_EQ(d.keys->keys.size(), 1024u);
    EXPECT_EQ(d.keys->needed, 8u + 8u * 5000u);
    ASSERT_TRUE(d.full_status);
    EXPECT_TRUE(d.full_status->truncated);
    EXPECT_FALSE(d.full_status->entries.empty());

    // A device-truncated answer stays truncated with the device's `needed`.
    engine::LunOutcome t = full_outcome(1);
    t.keys->truncated = true;
    t.keys->needed = 8 + 8 * 10;
    auto tm = decode_all(encode_run_answer(request_header(CMD_RUN), {t}, Summary{}));
    EXPECT_TRUE(tm[0].luns()[0].second.keys->truncated);
    EXPECT_EQ(tm[0].luns()[0].second.keys->needed, 88u);

    // A device that claims an ADDITIONAL LENGTH within 8 of 4 GiB saturates `needed` at UINT32_MAX;
    // the daemon still sends it as truncated, and the client decodes the same `needed`.
    for (uint32_t additional : {0xfffffff8u, 0xfffffff0u}) {
        Bytes wire_keys(8 + 8 * 2, 0);
        put_be32(wire_keys, 4, additional);
        auto parsed = wire::parse_read_keys(wire_keys);
        ASSERT_TRUE(parsed.ok());
        engine::LunOutcome s = full_outcome(2);
        s.keys = *parsed;
        auto sm = decode_all(encode_run_answer(request_header(CMD_RUN), {s}, Summary{}));
        const auto& k = *sm[0].luns()[0].second.keys;
        EXPECT_TRUE(k.truncated) << additional;
        EXPECT_EQ(k.needed, parsed->needed) << additional;
        EXPECT_EQ(k.keys, parsed->keys) << additional;
    }
}

TEST(NlAnswer, Event) {
    Event ev;
    ev.kind = EVENT_CONFLICT;
    ev.time_ns = 1700000000000000000ull;
    ev.group = "db";
    ev.text = "conflict on sdq";
    Summary s;
    s.batch.luns = 3;
    s.operation = engine::Operation::fence;
    ev.summary = s;
    Conflict c;
    c.cls = CONFLICT_FENCED;
    c.device = "/dev/sdq";
    c.our_key = 1;
    ev.conflict = c;
    Answer a = decode_one(encode_event(ev));
    EXPECT_EQ(a.kind(), Answer::Kind::event);
    EXPECT_EQ(a.hdr.seq, 0u);
    EXPECT_EQ(a.hdr.cmd, CMD_EVENT);
    EXPECT_EQ(a.event().kind, EVENT_CONFLICT);
    EXPECT_EQ(a.event().time_ns, ev.time_ns);
    EXPECT_EQ(a.event().group, "db");
    EXPECT_EQ(a.event().text, ev.text);
    ASSERT_TRUE(a.event().summary && a.event().conflict);
    EXPECT_EQ(a.event().summary->batch.luns, 3u);
    EXPECT_EQ(a.event().summary->operation, engine::Operation::fence);
    EXPECT_EQ(a.event().conflict->cls, CONFLICT_FENCED);
    EXPECT_EQ(a.event().conflict->device, "/dev/sdq");
    EXPECT_EQ(a.event().conflict->our_key, 1u);
    EXPECT_FALSE(a.event().conflict->holder_key);

    Event minimal;
    minimal.kind = EVENT_DROPPED;
    Answer m = decode_one(encode_event(minimal));
    EXPECT_EQ(m.event().kind, EVENT_DROPPED);
    EXPECT_FALSE(m.event().summary || m.event().conflict);
}

TEST(NlAnswer, DecoderRefusesBadAnswers) {
    // A request is not an answer.
    Raw noop(CMD_NOOP, 0);
    auto r = decode_answer(noop.done());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().sys_errno, EOPNOTSUPP);
    // Missing required answer attribute.
    r = decode_answer(Raw(CMD_HEALTH, 0).done());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().msg.find("ATTR_HEALTH is required"), std::string::npos) << r.error().msg;
    // An answer attribute that does not belong.
    Raw bad(CMD_HEALTH, 0);
    bad.str(ATTR_GROUP, "g");
    r = decode_answer(bad.done());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().msg.find("ATTR_GROUP is not allowed in CMD_HEALTH (offset 20)"),
              std::string::npos)
        << r.error().msg;
    // LUN without LUN_INDEX.
    Raw lun(CMD_RUN, NLM_F_MULTI);
    uint32_t n = lun.begin_nest(ATTR_LUN);
    lun.u8(LUN_OK, 1).end_nest(n);
    r = decode_answer(lun.done());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().msg.find("LUN_INDEX is required"), std::string::npos);
    // Garbage PR IN data.
    Raw keys(CMD_RUN, NLM_F_MULTI);
    n = keys.begin_nest(ATTR_LUN);
    keys.u32(LUN_INDEX, 0);
    Bytes k = {0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3};  // ADDITIONAL LENGTH 3: not a multiple of 8
    keys.attr(LUN_KEYS, k.data(), k.size()).end_nest(n);
    r = decode_answer(keys.done());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().msg.find("LUN_KEYS"), std::string::npos) << r.error().msg;
    // A positive errno in NLMSG_ERROR.
    Bytes ack = encode_ack(request_header(CMD_NOOP), 0);
    int32_t pos = 5;
    std::memcpy(ack.data() + NLMSG_HDRLEN, &pos, 4);
    EXPECT_FALSE(decode_answer(ack).ok());
    // A short NLMSG_ERROR.
    Bytes shortack = ack;
    shortack.resize(NLMSG_HDRLEN + 8);
    uint32_t sl = static_cast<uint32_t>(shortack.size());
    std::memcpy(shortack.data(), &sl, 4);
    EXPECT_FALSE(decode_answer(shortack).ok());
}

// ---------------------------------------------------------------------------------------------------
// LUN_PATHS: each LU's paths as the batch left them

engine::PathOutcome path(std::string name, engine::PathOutcome::State st, std::string error = {}) {
    engine::PathOutcome p;
    p.name = std::move(name);
    p.state = st;
    p.error = std::move(error);
    return p;
}

void expect_paths(const std::vector<engine::PathOutcome>& got,
                  const std::vector<engine::PathOutcome>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].name, want[i].name) << i;
        EXPECT_EQ(got[i].state, want[i].state) << i;
        EXPECT_EQ(got[i].error, want[i].error) << i;
    }
}

TEST(NlAnswer, PathsRoundTripInOrderWithEveryState) {
    using St = engine::PathOutcome::State;
    engine::LunOutcome a = full_outcome(0);
    a.paths = {path("/dev/sg3", St::registered), path("/dev/sg7", St::unused),
               path("/dev/sg9", St::answered),
               path("/dev/sg12", St::dead, "host byte DID_NO_CONNECT (no connection)")};
    engine::LunOutcome b;  // no paths known: no LUN_PATHS
    b.device = "sim:/run/prsim.sock:4";
    engine::LunOutcome c;
    c.device = "mpathb";
    c.paths = {path("sim:/run/prsim.sock:5", St::dead, "open: connect: No such file")};
    auto msgs = encode_run_answer(request_header(CMD_RUN), {a, b, c}, Summary{});
    auto as = decode_all(msgs);
    ASSERT_EQ(as[0].kind(), Answer::Kind::luns);
    ASSERT_EQ(as[0].luns().size(), 3u);
    expect_paths(as[0].luns()[0].second.paths, a.paths);
    EXPECT_TRUE(as[0].luns()[1].second.paths.empty());
    expect_paths(as[0].luns()[2].second.paths, c.paths);
    // The PR IN data still travels beside the paths.
    EXPECT_TRUE(as[0].luns()[0].second.keys && as[0].luns()[0].second.full_status);
}

TEST(NlAnswer, PathsAreClippedToTheirLimits) {
    using St = engine::PathOutcome::State;
    engine::LunOutcome o;
    o.device = "mpatha";
    for (size_t i = 0; i < kMaxLunPaths + 8; ++i)
        o.paths.push_back(path(std::string(kMaxName + 40, 'n') + std::to_string(i), St::dead,
                               std::string(kMaxPathError + 100, 'e')));
    o.paths[1].name.clear();  // sent as "?": a path always has a name on the wire
    auto as = decode_all(encode_run_answer(request_header(CMD_RUN), {o}, Summary{}));
    const auto& d = as.at(0).luns().at(0).second;
    ASSERT_EQ(d.paths.size(), kMaxLunPaths);  // the first ones
    EXPECT_EQ(d.paths[0].name, o.paths[0].name.substr(0, kMaxName));
    EXPECT_EQ(d.paths[1].name, "?");
    EXPECT_EQ(d.paths[0].error.size(), kMaxPathError);
    EXPECT_EQ(d.paths.back().state, St::dead);
}

// PR IN data and paths, each at its limits, do not fit one part together: the data stays, the
// paths go; paths at their limits alone fit.
TEST(NlAnswer, PathsGiveWayToPrInDataAtItsLimits) {
    using St = engine::PathOutcome::State;
    engine::LunOutcome o = full_outcome(0);
    o.device = std::string(kMaxDeviceLen, 'd');
    o.error = std::string(kMaxLunError, 'e');
    o.keys->keys.assign(1024, 0x1234);
    o.full_status->entries.assign(400, o.full_status->entries[0]);
    for (size_t i = 0; i < kMaxLunPaths; ++i)
        o.paths.push_back(
            path(std::string(kMaxName, 'p'), St::dead, std::string(kMaxPathError, 'x')));
    engine::LunOutcome no_data = o;
    no_data.keys.reset();
    no_data.full_status.reset();
    no_data.reservation.reset();
    no_data.caps.reset();
    auto as = decode_all(encode_run_answer(request_header(CMD_RUN), {o, no_data}, Summary{}));
    ASSERT_EQ(as.size(), 4u);  // one LU per part, summary, done
    const auto& big = as[0].luns().at(0).second;
    ASSERT_TRUE(big.keys && big.full_status);
    EXPECT_EQ(big.keys->keys.size(), 1024u);
    EXPECT_TRUE(big.paths.empty());
    const auto& paths_only = as[1].luns().at(0).second;
    EXPECT_EQ(paths_only.paths.size(), kMaxLunPaths);
    EXPECT_EQ(paths_only.paths[0].error.size(), kMaxPathError);
}

TEST(NlAnswer, DecoderRefusesBadPaths) {
    // One ATTR_LUN whose LUN_PATHS `fill` writes; the answer's refusal text.
    auto refusal = [](const std::function<void(Raw&)>& fill) {
        Raw m(CMD_RUN, NLM_F_MULTI);
        uint32_t lun = m.begin_nest(ATTR_LUN);
        m.u32(LUN_INDEX, 0);
        uint32_t ps = m.begin_nest(LUN_PATHS);
        fill(m);
        m.end_nest(ps).end_nest(lun);
        auto r = decode_answer(m.done());
        EXPECT_FALSE(r.ok());
        return r.ok() ? std::string() : r.error().msg;
    };
    auto one_path = [](Raw& m, const std::function<void(Raw&)>& fill) {
        uint32_t p = m.begin_nest(LP_PATH);
        fill(m);
        m.end_nest(p);
    };
    auto contains = [](const std::string& text, const std::string& part) {
        EXPECT_NE(text.find(part), std::string::npos) << text;
    };
    // A path's attributes directly in LUN_PATHS, without their LP_PATH: PATH_NAME's type is
    // LP_PATH's, and a string is no nest.
    contains(refusal([](Raw& m) { m.str(PATH_NAME, "/dev/sg3").u8(PATH_STATE, 1); }), "LP_PATH");
    // A PATH attribute LUN_PATHS does not have.
    contains(refusal([](Raw& m) { m.u8(PATH_STATE, 1); }), "unknown attribute type 2 in LUN_PATHS");
    // Missing fields.
    contains(refusal([&](Raw& m) { one_path(m, [](Raw& p) { p.u8(PATH_STATE, 3); }); }),
             "PATH_NAME is required in each LP_PATH");
    contains(refusal([&](Raw& m) { one_path(m, [](Raw& p) { p.str(PATH_NAME, "/dev/sg3"); }); }),
             "PATH_STATE is required in each LP_PATH");
    // Oversize and empty strings.
    contains(refusal([&](Raw& m) {
                 one_path(m, [](Raw& p) {
                     p.str(PATH_NAME, std::string(kMaxName + 1, 'n')).u8(PATH_STATE, 3);
                 });
             }),
             "PATH_NAME: 257 bytes, at most 256 allowed");
    contains(refusal([&](Raw& m) {
                 one_path(m, [](Raw& p) {
                     p.str(PATH_NAME, "/dev/sg3")
                         .u8(PATH_STATE, 3)
                         .str(PATH_ERROR, std::string(kMaxPathError + 1, 'e'));
                 });
             }),
             "PATH_ERROR: 513 bytes, at most 512 allowed");
    contains(refusal([&](Raw& m) {
                 one_path(m, [](Raw& p) { p.str(PATH_NAME, "").u8(PATH_STATE, 3); });
             }),
             "PATH_NAME: 0 bytes, at least 1 expected");
    contains(refusal([&](Raw& m) {
                 one_path(m, [](Raw& p) { p.str_no_nul(PATH_NAME, "/dev/sg3").u8(PATH_STATE, 3); });
             }),
             "PATH_NAME");
    // A state the protocol does not have, and an integer of the wrong size.
    contains(refusal([&](Raw& m) {
                 one_path(m, [](Raw& p) { p.str(PATH_NAME, "/dev/sg3").u8(PATH_STATE, 4); });
             }),
             "PATH_STATE: 4 is out of range (0-3)");
    contains(refusal([&](Raw& m) {
                 one_path(m, [](Raw& p) { p.str(PATH_NAME, "/dev/sg3").u32(PATH_STATE, 1); });
             }),
             "PATH_STATE: 4 bytes, expected a u8");
    // More paths than a LU may carry.
    contains(refusal([&](Raw& m) {
                 for (size_t i = 0; i <= kMaxLunPaths; ++i)
                     one_path(m, [](Raw& p) { p.str(PATH_NAME, "/dev/sg3").u8(PATH_STATE, 2); });
             }),
             "LP_PATH repeated more than 32 times");
    // LUN_PATHS given twice in one LU.
    {
        Raw m(CMD_RUN, NLM_F_MULTI);
        uint32_t lun = m.begin_nest(ATTR_LUN);
        m.u32(LUN_INDEX, 0);
        for (int i = 0; i < 2; ++i) {
            uint32_t ps = m.begin_nest(LUN_PATHS);
            one_path(m, [](Raw& p) { p.str(PATH_NAME, "/dev/sg3").u8(PATH_STATE, 2); });
            m.end_nest(ps);
        }
        m.end_nest(lun);
        auto r = decode_answer(m.done());
        ASSERT_FALSE(r.ok());
        contains(r.error().msg, "LUN_PATHS given more than once");
    }
    // A path nest outside LUN_PATHS: LP_PATH's type in ATTR_LUN is LUN_INDEX, a u32.
    {
        Raw m(CMD_RUN, NLM_F_MULTI);
        uint32_t lun = m.begin_nest(ATTR_LUN);
        one_path(m, [](Raw& p) { p.str(PATH_NAME, "/dev/sg3").u8(PATH_STATE, 2); });
        m.end_nest(lun);
        auto r = decode_answer(m.done());
        ASSERT_FALSE(r.ok());
        contains(r.error().msg, "LUN_INDEX");
    }
    // A well-formed one passes, with an empty LUN_PATHS and with an error-less dead path.
    for (bool empty : {true, false}) {
        Raw m(CMD_RUN, NLM_F_MULTI);
        uint32_t lun = m.begin_nest(ATTR_LUN);
        m.u32(LUN_INDEX, 0);
        uint32_t ps = m.begin_nest(LUN_PATHS);
        if (!empty) one_path(m, [](Raw& p) { p.str(PATH_NAME, "/dev/sg3").u8(PATH_STATE, 3); });
        m.end_nest(ps).end_nest(lun);
        auto r = decode_answer(m.done());
        ASSERT_TRUE(r.ok()) << r.error().msg;
        EXPECT_EQ(r->luns().at(0).second.paths.size(), empty ? 0u : 1u);
    }
}

// ---------------------------------------------------------------------------------------------------
// LUN_NVME: what only an NVMe namespace answers

wire::nvme::Registrant registrant(uint64_t key, uint8_t id, bool holds, uint16_t cntlid = 0xffff) {
    wire::nvme::Registrant g;
    g.key = key;
    g.holds = holds;
    g.cntlid = cntlid;
    for (size_t i = 0; i < g.hostid.size(); ++i) g.hostid[i] = static_cast<uint8_t>(id + i);
    return g;
}

void expect_report(const std::optional<wire::nvme::ReservationStatus>& got,
                   const wire::nvme::ReservationStatus& want, size_t registrants) {
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->generation, want.generation);
    EXPECT_EQ(got->rtype, want.rtype);
    EXPECT_EQ(got->regctl, want.regctl);
    ASSERT_EQ(got->registrants.size(), registrants);
    for (size_t i = 0; i < registrants; ++i) {
        EXPECT_EQ(got->registrants[i].key, want.registrants[i].key) << i;
        EXPECT_EQ(got->registrants[i].hostid, want.registrants[i].hostid) << i;
        EXPECT_EQ(got->registrants[i].holds, want.registrants[i].holds) << i;
        EXPECT_EQ(got->registrants[i].cntlid, want.registrants[i].cntlid) << i;
    }
}

TEST(NlAnswer, NvmeRoundTripsStatusAndReport) {
    // A namespace that answered with a report: one holder (a 128-bit host identifier), one other
    // registrant with a 64-bit identifier (bytes 8..15 zero) on a static controller.
    engine::LunOutcome a = full_outcome(0);
    a.nvme_status = 0x4083;  // Reservation Conflict, DNR
    wire::nvme::ReservationStatus r;
    r.generation = 0x01020304;
    r.rtype = 6;
    r.regctl = 2;
    r.registrants = {registrant(0xabc001, 0x10, true), registrant(0xabc002, 0, false, 7)};
    std::fill(r.registrants[1].hostid.begin() + 8, r.registrants[1].hostid.end(), 0);
    a.nvme_report = r;
    // The command never reached the controller: a negative errno, no report.
    engine::LunOutcome b;
    b.device = "/dev/nvme1n2";
    b.nvme_status = -EACCES;
    // A report with no reservation and no registrants, the status a success.
    engine::LunOutcome c;
    c.device = "/dev/ng0n1";
    c.nvme_report = wire::nvme::ReservationStatus{};
    c.nvme_report->generation = 9;
    // SCSI: nothing NVMe comes back.
    engine::LunOutcome d = full_outcome(1);
    auto as = decode_all(encode_run_answer(request_header(CMD_RUN), {a, b, c, d}, Summary{}));
    ASSERT_EQ(as[0].kind(), Answer::Kind::luns);
    ASSERT_EQ(as[0].luns().size(), 4u);
    const auto& da = as[0].luns()[0].second;
    EXPECT_EQ(da.nvme_status, 0x4083);
    expect_report(da.nvme_report, r, 2);
    EXPECT_TRUE(da.keys && da.reservation);  // beside the SCSI view of the same report
    const auto& db = as[0].luns()[1].second;
    EXPECT_EQ(db.nvme_status, -EACCES);
    EXPECT_FALSE(db.nvme_report);
    const auto& dc = as[0].luns()[2].second;
    EXPECT_EQ(dc.nvme_status, 0);
    expect_report(dc.nvme_report, *c.nvme_report, 0);
    const auto& dd = as[0].luns()[3].second;
    EXPECT_EQ(dd.nvme_status, 0);
    EXPECT_FALSE(dd.nvme_report);
}

TEST(NlAnswer, NvmeRegistrantsAreClippedToTheirLimit) {
    engine::LunOutcome o;
    o.device = "/dev/nvme0n1";
    wire::nvme::ReservationStatus r;
    r.rtype = 2;
    r.regctl = kMaxNvmeRegistrants + 45;
    for (size_t i = 0; i < kMaxNvmeRegistrants + 45; ++i)
        r.registrants.push_back(registrant(0x1000 + i, static_cast<uint8_t>(i), i == 3));
    o.nvme_report = r;
    auto as = decode_all(encode_run_answer(request_header(CMD_RUN), {o}, Summary{}));
    const auto& d = as.at(0).luns().at(0).second;
    // The first ones, and the controller's count: the list reads as a truncated Report.
    expect_report(d.nvme_report, r, kMaxNvmeRegistrants);
    EXPECT_EQ(d.nvme_report->regctl, kMaxNvmeRegistrants + 45);
    EXPECT_TRUE(d.nvme_report->registrants[3].holds);
}

// Paths and registrants at their limits beside PR IN data: paths go first, then registrants, never
// NVME_STATUS or the Report's header.
TEST(NlAnswer, NvmeRegistrantsGiveWayAfterPaths) {
    using St = engine::PathOutcome::State;
    engine::LunOutcome ns;  // a namespace at its limits: 255 registrants, their keys, long texts
    ns.device = std::string(kMaxDeviceLen, 'd');
    ns.error = std::string(kMaxLunError, 'e');
    ns.step = std::string(kMaxName, 's');
    ns.nvme_status = 0x83;
    wire::nvme::ReservationStatus r;
    r.generation = 77;
    r.rtype = 1;
    r.regctl = kMaxNvmeRegistrants;
    wire::ReadKeys k;
    for (size_t i = 0; i < kMaxNvmeRegistrants; ++i) {
        r.registrants.push_back(registrant(i + 1, static_cast<uint8_t>(i), i == 0));
        k.keys.push_back(i + 1);
    }
    ns.nvme_report = r;
    ns.keys = k;
    for (size_t i = 0; i < kMaxLunPaths; ++i)
        ns.paths.push_back(
            path(std::string(kMaxName, 'p'), St::dead, std::string(kMaxPathError, 'x')));
    // The same with SCSI-sized PR IN data at its limits.
    engine::LunOutcome big = full_outcome(0);
    big.device = ns.device;
    big.error = ns.error;
    big.nvme_status = ns.nvme_status;
    big.nvme_report = r;
    big.paths = ns.paths;
    big.keys->keys.assign(1024, 0x1234);
    big.full_status->entries.assign(400, big.full_status->entries[0]);
    auto as = decode_all(encode_run_answer(request_header(CMD_RUN), {ns, big}, Summary{}));
    ASSERT_EQ(as.size(), 4u);  // one LU per part, summary, done
    const auto& a = as[0].luns().at(0).second;
    EXPECT_TRUE(a.paths.empty());
    EXPECT_EQ(a.nvme_status, 0x83);
    expect_report(a.nvme_report, r, kMaxNvmeRegistrants);
    ASSERT_TRUE(a.keys);
    EXPECT_EQ(a.keys->keys.size(), kMaxNvmeRegistrants);
    const auto& b = as[1].luns().at(0).second;
    EXPECT_TRUE(b.paths.empty());
    EXPECT_EQ(b.nvme_status, 0x83);
    expect_report(b.nvme_report, r, 0);  // header kept, regctl says 255
    EXPECT_EQ(b.nvme_report->regctl, kMaxNvmeRegistrants);
    ASSERT_TRUE(b.keys && b.full_status);
    EXPECT_EQ(b.keys->keys.size(), 1024u);
    // Without paths, the namespace's whole result fits.
    ns.paths.clear();
    auto one = decode_all(encode_run_answer(request_header(CMD_RUN), {ns}, Summary{}));
    expect_report(one.at(0).luns().at(0).second.nvme_report, r, kMaxNvmeRegistrants);
}

TEST(NlAnswer, DecoderRefusesBadNvme) {
    // One ATTR_LUN whose LUN_NVME `fill` writes; the answer's refusal text (empty: accepted).
    auto decode = [](const std::function<void(Raw&)>& fill) {
        Raw m(CMD_RUN, NLM_F_MULTI);
        uint32_t lun = m.begin_nest(ATTR_LUN);
        m.u32(LUN_INDEX, 0);
        uint32_t nv = m.begin_nest(LUN_NVME);
        fill(m);
        m.end_nest(nv).end_nest(lun);
        return decode_answer(m.done());
    };
    auto refusal = [&](const std::function<void(Raw&)>& fill) {
        auto r = decode(fill);
        EXPECT_FALSE(r.ok());
        return r.ok() ? std::string() : r.error().msg;
    };
    const uint8_t id[17] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
    auto header = [](Raw& m) { m.u32(NVME_GENERATION, 5).u8(NVME_RTYPE, 1).u16(NVME_REGCTL, 1); };
    // One registrant nest with `fill`'s attributes, after the report header.
    auto reg = [&](const std::function<void(Raw&)>& fill) {
        return [&header, fill](Raw& m) {
            header(m);
            uint32_t g = m.begin_nest(NVME_REGISTRANT);
            fill(m);
            m.end_nest(g);
        };
    };
    auto contains = [](const std::string& text, const std::string& part) {
        EXPECT_NE(text.find(part), std::string::npos) << text;
    };
    // Host identifiers are 16 bytes, exactly.
    contains(
        refusal(reg([&](Raw& m) { m.u64(NR_KEY, 1).attr(NR_HOSTID, id, 15).u16(NR_CNTLID, 1); })),
        "NR_HOSTID: 15 bytes, expected 16-16");
    contains(
        refusal(reg([&](Raw& m) { m.u64(NR_KEY, 1).attr(NR_HOSTID, id, 17).u16(NR_CNTLID, 1); })),
        "NR_HOSTID: 17 bytes, expected 16-16");
    // Required members.
    contains(refusal(reg([&](Raw& m) { m.attr(NR_HOSTID, id, 16).u16(NR_CNTLID, 1); })),
             "NR_KEY is required in each NVME_REGISTRANT");
    contains(refusal(reg([&](Raw& m) { m.u64(NR_KEY, 1).u16(NR_CNTLID, 1); })),
             "NR_HOSTID is required in each NVME_REGISTRANT");
    contains(refusal(reg([&](Raw& m) { m.u64(NR_KEY, 1).attr(NR_HOSTID, id, 16); })),
             "NR_CNTLID is required in each NVME_REGISTRANT");
    // Values and sizes.
    contains(refusal(reg([&](Raw& m) {
                 m.u64(NR_KEY, 1).attr(NR_HOSTID, id, 16).u16(NR_CNTLID, 1).u8(NR_HOLDER, 2);
             })),
             "NR_HOLDER: 2 is not a boolean");
    contains(
        refusal(reg([&](Raw& m) { m.u32(NR_KEY, 1).attr(NR_HOSTID, id, 16).u16(NR_CNTLID, 1); })),
        "NR_KEY: 4 bytes, expected a u64");
    contains(
        refusal([](Raw& m) { m.u32(NVME_GENERATION, 5).u8(NVME_RTYPE, 7).u16(NVME_REGCTL, 0); }),
        "NVME_RTYPE: 7 is out of range (0-6)");
    contains(refusal([](Raw& m) { m.u16(NVME_STATUS, 0x83); }),
             "NVME_STATUS: 2 bytes, expected a u32");
    // Too many registrants.
    contains(refusal([&](Raw& m) {
                 header(m);
                 for (size_t i = 0; i <= kMaxNvmeRegistrants; ++i) {
                     uint32_t g = m.begin_nest(NVME_REGISTRANT);
                     m.u64(NR_KEY, i).attr(NR_HOSTID, id, 16).u16(NR_CNTLID, 1);
                     m.end_nest(g);
                 }
             }),
             "NVME_REGISTRANT repeated more than 255 times");
    // Wrong nesting: a registrant's attributes directly in LUN_NVME (NR_HOSTID's type there is
    // NVME_GENERATION, a u32), an attribute LUN_NVME does not have, a registrant in ATTR_LUN
    // (NVME_REGISTRANT's type there is LUN_CATEGORY, a u8).
    contains(refusal([&](Raw& m) { m.attr(NR_HOSTID, id, 16); }),
             "NVME_GENERATION: 16 bytes, expected a u32");
    contains(refusal([](Raw& m) { m.u8(6, 1); }), "unknown attribute type 6 in LUN_NVME");
    {
        Raw m(CMD_RUN, NLM_F_MULTI);
        uint32_t lun = m.begin_nest(ATTR_LUN);
        m.u32(LUN_INDEX, 0);
        uint32_t g = m.begin_nest(NVME_REGISTRANT);
        m.u64(NR_KEY, 1).attr(NR_HOSTID, id, 16).u16(NR_CNTLID, 1);
        m.end_nest(g).end_nest(lun);
        auto r = decode_answer(m.done());
        ASSERT_FALSE(r.ok());
        contains(r.error().msg, "LUN_CATEGORY");
    }
    // The report's header is whole or absent, registrants only with it.
    contains(refusal([](Raw& m) { m.u32(NVME_GENERATION, 5).u8(NVME_RTYPE, 1); }),
             "NVME_GENERATION, NVME_RTYPE and NVME_REGCTL come together");
    contains(refusal([](Raw& m) { m.u16(NVME_REGCTL, 1); }), "come together");
    contains(refusal([&](Raw& m) {
                 uint32_t g = m.begin_nest(NVME_REGISTRANT);
                 m.u64(NR_KEY, 1).attr(NR_HOSTID, id, 16).u16(NR_CNTLID, 1);
                 m.end_nest(g);
             }),
             "NVME_REGISTRANT only with them");
    // LUN_NVME given twice.
    {
        Raw m(CMD_RUN, NLM_F_MULTI);
        uint32_t lun = m.begin_nest(ATTR_LUN);
        m.u32(LUN_INDEX, 0);
        for (int i = 0; i < 2; ++i) m.end_nest(m.begin_nest(LUN_NVME));
        m.end_nest(lun);
        auto r = decode_answer(m.done());
        ASSERT_FALSE(r.ok());
        contains(r.error().msg, "LUN_NVME given more than once");
    }
    // Well-formed ones pass: empty, status only (a negative errno), a whole report.
    {
        auto r = decode([](Raw&) {});
        ASSERT_TRUE(r.ok()) << r.error().msg;
        EXPECT_EQ(r->luns().at(0).second.nvme_status, 0);
        EXPECT_FALSE(r->luns().at(0).second.nvme_report);
    }
    {
        auto r = decode([](Raw& m) { m.u32(NVME_STATUS, static_cast<uint32_t>(-ENODEV)); });
        ASSERT_TRUE(r.ok()) << r.error().msg;
        EXPECT_EQ(r->luns().at(0).second.nvme_status, -ENODEV);
    }
    {
        auto r = decode(reg([&](Raw& m) {
            m.u64(NR_KEY, 0xfeed).attr(NR_HOSTID, id, 16).u8(NR_HOLDER, 1).u16(NR_CNTLID, 3);
        }));
        ASSERT_TRUE(r.ok()) << r.error().msg;
        const auto& rep = r->luns().at(0).second.nvme_report;
        ASSERT_TRUE(rep && rep->registrants.size() == 1);
        EXPECT_EQ(rep->generation, 5u);
        EXPECT_EQ(rep->registrants[0].key, 0xfeedu);
        EXPECT_EQ(rep->registrants[0].hostid[15], 16);
        EXPECT_TRUE(rep->registrants[0].holds);
        EXPECT_EQ(rep->registrants[0].cntlid, 3);
    }
}

// ---------------------------------------------------------------------------------------------------
// The pieces: schema, message builder, flag table, peek_header, Answer's kinds

TEST(NlSchema, PoliciesAreDerivedFromTheRules) {
    using namespace schema;
    const nla_policy* top = attr_set(kSetTop).policy;
    EXPECT_EQ(top[ATTR_GROUP].type, NLA_STRING);
    EXPECT_EQ(top[ATTR_GROUP].minlen, 2);  // 1 byte and its NUL
    EXPECT_EQ(top[ATTR_GROUP].maxlen, kMaxGroupName + 1);
    EXPECT_EQ(top[ATTR_TARGET_PORT].minlen, 2);  // integers exact
    EXPECT_EQ(top[ATTR_TARGET_PORT].maxlen, 2);
    EXPECT_EQ(top[ATTR_LUN].type, NLA_NESTED);
    const nla_policy* lun = attr_set(kSetLun).policy;
    EXPECT_EQ(lun[LUN_SENSE].type, NLA_BINARY);
    EXPECT_EQ(lun[LUN_SENSE].maxlen, kMaxSense);
    EXPECT_EQ(rule_of(kSetTop, ATTR_DEVICE).max_count, kMaxDevices);
    EXPECT_EQ(rule_of(kSetLun, LUN_ERROR).hi, kMaxLunError);
    EXPECT_EQ(rule_of(kSetTop, ATTR_LUN).nest, kSetLun);
    EXPECT_STREQ(cmd_name(CMD_RUN), "CMD_RUN");
    EXPECT_TRUE(cmd_rule(CMD_RUN).request);
    EXPECT_FALSE(cmd_rule(CMD_EVENT).request);
    EXPECT_EQ(cmd_rule(CMD_GROUP_CREATE).required, bit(ATTR_GROUP) | bit(ATTR_DEVICE));
    EXPECT_TRUE(group_problem("db-01.prod_A").empty());
    EXPECT_NE(group_problem("a b").find("at byte 1"), std::string::npos);
}

TEST(NlBuilder, PutsAreClippedToTheirRule) {
    using namespace detail;
    MessageBuilder m(16384);
    m.start_genl(request_header(CMD_RUN), NLM_F_MULTI);
    nlattr* n = m.begin_nest(ATTR_LUN);
    EXPECT_EQ(m.rule(LUN_ERROR).name,
              std::string("LUN_ERROR"));  // the nest's set, not the top level
    m.u32(LUN_INDEX, 0);
    m.str(LUN_ERROR, std::string(kMaxLunError + 500, 'e'));
    m.str(LUN_STEP, std::string("step\0hidden", 11));
    m.bin(LUN_SENSE, Bytes(kMaxSense + 40, 0x70));
    m.end_nest(n);
    EXPECT_EQ(m.rule(ATTR_GROUP).name, std::string("ATTR_GROUP"));  // back at the top level
    ASSERT_TRUE(m.ok());
    Bytes b = m.bytes();
    // Walk the nest by hand: what the builder wrote, not what a decoder makes of it.
    const auto* nest = reinterpret_cast<const nlattr*>(b.data() + NLMSG_HDRLEN + GENL_HDRLEN);
    std::map<int, size_t> len;
    for (size_t off = NLA_HDRLEN; off < nest->nla_len;) {
        nlattr a;
        std::memcpy(&a, reinterpret_cast<const uint8_t*>(nest) + off, sizeof a);
        len[a.nla_type] = a.nla_len - NLA_HDRLEN;
        off += NLA_ALIGN(a.nla_len);
    }
    EXPECT_EQ(len[LUN_ERROR], kMaxLunError + 1);  // the limit and the NUL
    EXPECT_EQ(len[LUN_STEP], 5u);                 // cut at the first NUL
    EXPECT_EQ(len[LUN_SENSE], kMaxSense);

    // A nest cancelled after it overflowed leaves the message as it was and usable.
    MessageBuilder small(NLMSG_HDRLEN + GENL_HDRLEN + 64);
    small.start_genl(request_header(CMD_STATS), 0);
    const size_t before = small.size();
    nlattr* big = small.begin_nest(ATTR_OP_STATS);
    small.str(ST_NAME, std::string(200, 's'));
    small.end_nest(big);
    EXPECT_FALSE(small.ok());
    small.cancel_nest(big);
    EXPECT_TRUE(small.ok());
    EXPECT_EQ(small.size(), before);
}

TEST(NlBuilder, RequestTextIsCheckedAgainstTheRule) {
    using namespace detail;
    const schema::Rule& dev = schema::rule_of(schema::kSetTop, ATTR_DEVICE);
    EXPECT_TRUE(check_text(dev, "/dev/sdb", dev.lo).ok());
    auto nul = check_text(dev, std::string("/dev\0sdb", 8), dev.lo);
    ASSERT_FALSE(nul.ok());
    EXPECT_EQ(nul.error().msg, "ATTR_DEVICE: text holds a NUL byte");
    auto empty = check_text(dev, "", dev.lo);
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().msg, "ATTR_DEVICE: 0 bytes, 1-4096 allowed");
    EXPECT_EQ(empty.error().sys_errno, EINVAL);
    EXPECT_EQ(clip("abc\0def", 10), "abc");
    EXPECT_EQ(clip("abcdef", 4), "abcd");
}

TEST(NlRequest, EachOpFlagIsOneOpSpecField) {
    for (uint32_t flag = 1; flag <= kOpFlagsAll; flag <<= 1) {
        Request r = req(CMD_RUN);
        r.group = "g";
        r.has_operation = true;
        r.flags = flag;
        Request d = roundtrip(r);
        const engine::OpSpec& o = d.op;
        const int set = o.ignore_existing + o.aptpl + o.all_tg_pt + o.abort + o.no_abort + o.unreg +
                        o.force + o.claim;
        EXPECT_EQ(set, 1) << "flag 0x" << std::hex << flag;
        // ...and the field alone encodes as that flag.
        Request back = req(CMD_RUN);
        back.group = "g";
        back.has_operation = true;
        back.op = o;
        auto enc = encode_request(back);
        ASSERT_TRUE(enc.ok());
        EXPECT_EQ(decode_request(*enc)->flags, flag);
    }
    // Outside CMD_RUN the bits are not OpFlags.
    Request st = req(CMD_STATS);
    st.flags = STATS_RESET;
    EXPECT_FALSE(roundtrip(st).op.ignore_existing);
}

TEST(NlRequest, PeekHeaderReadsAsFarAsTheBytesGo) {
    Bytes m = Raw(CMD_RUN, NLM_F_REQUEST, 3).done();
    EXPECT_FALSE(peek_header(ByteView(m).first(NLMSG_HDRLEN - 1)));
    auto bare = peek_header(ByteView(m).first(NLMSG_HDRLEN));
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->seq, 7u);
    EXPECT_EQ(bare->pid, 4242u);
    EXPECT_EQ(bare->len, m.size());
    EXPECT_EQ(bare->cmd, CMD_UNSPEC);
    auto full = peek_header(m);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->cmd, CMD_RUN);
    EXPECT_EQ(full->version, 3);
    // The ack for a refused message echoes it.
    auto d = decode_request(m);
    ASSERT_FALSE(d.ok());
    Answer a = decode_one(encode_ack(*full, d.error().sys_errno, d.error().msg, d.error().offset));
    EXPECT_EQ(a.hdr.seq, 7u);
    EXPECT_EQ(a.err(), EPROTONOSUPPORT);
    EXPECT_EQ(a.err_offset(), 17u);
}

TEST(NlAnswer, PayloadCannotBeReadAsAnotherKind) {
    Answer ack = decode_one(encode_ack(request_header(CMD_NOOP), EPERM, "no"));
    EXPECT_THROW((void)ack.health(), std::bad_variant_access);
    EXPECT_THROW((void)ack.luns(), std::bad_variant_access);
    EXPECT_EQ(ack.ack().msg, "no");
    Health h;
    h.pid = 1;
    Answer ha = decode_one(encode_health(request_header(CMD_HEALTH), h));
    EXPECT_THROW((void)ha.stats(), std::bad_variant_access);
    EXPECT_EQ(ha.err(), 0);  // not an ack: no errno
    EXPECT_TRUE(ha.err_msg().empty());
    EXPECT_EQ(ha.health().pid, 1u);
}

}  // namespace
}  // namespace prfence::nl
