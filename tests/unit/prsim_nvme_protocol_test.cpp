// SPDX-License-Identifier: MIT
// prsim protocol version 2 (interposer/PROTOCOL.md): the NVMe host in HELLO, the longer HELLO_ACK,
// NVME_COMMAND and NVME_RESPONSE, byte-exact against the documented layouts, round trips, and
// every truncation and lying length of each payload refused.
#include <gtest/gtest.h>

#include <variant>

#include "tests/support/test_util.h"
#include "uring_engine/simproto/protocol.h"

namespace prfence::sim::proto {
namespace {

using test::hex;

NvmeHost host1() {
    NvmeHost h;
    for (size_t i = 0; i < h.hostid.size(); ++i) h.hostid[i] = static_cast<uint8_t>(0x10 + i);
    h.hostnqn = "nqn.x";
    return h;
}

TEST(PrsimNvmeProtocol, HelloWithNvmeHostBytes) {
    Hello h = make_hello("iqn.a", 1, "c");
    h.max_version = kVersion2;
    h.nvme_host = host1();
    auto f = encode_hello(h);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(*f,
              hex("50 53 01 01 00 00 00 25 00 00 00 00 00 00 00 00"  // HELLO, 37 bytes, v1 header
                  "01 02 00 01 00 01 00 05"                          // 1-2, port 1, text, NVMe, 5
                  "69 71 6e 2e 61"                                   // "iqn.a"
                  "10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f"  // host identifier
                  "00 05 6e 71 6e 2e 78"                             // NQN length 5, "nqn.x"
                  "63"));                                            // client name "c"
    auto back = decode_hello(ByteView(*f).subspan(kHeaderSize));
    ASSERT_TRUE(back.ok()) << back.error().msg;
    ASSERT_TRUE(back->nvme_host.has_value());
    EXPECT_EQ(*back->nvme_host, host1());
    EXPECT_EQ(back->client_name, "c");
    EXPECT_EQ(back->max_version, 2);
    // Every truncation fails cleanly.
    Bytes payload(f->begin() + kHeaderSize, f->end() - 1);  // without the client name
    test::for_each_truncation(payload, [&](ByteView t) {
        auto r = decode_hello(t);
        if (r.ok()) {
            // Cutting only the client name is still a valid HELLO; anything shorter is not.
            EXPECT_GE(t.size(), payload.size());
        }
    });
}

TEST(PrsimNvmeProtocol, NvmeOnlyHelloAndItsLimits) {
    Hello h;
    h.max_version = kVersion2;
    h.nvme_host = host1();
    auto f = encode_hello(h);  // no TransportID: an NVMe host only
    ASSERT_TRUE(f.ok()) << f.error().msg;
    auto back = decode_hello(ByteView(*f).subspan(kHeaderSize));
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->initiator.empty());
    h.nvme_host.reset();
    EXPECT_FALSE(encode_hello(h).ok());  // nothing declared at all
    h.nvme_host = host1();
    h.nvme_host->hostnqn = "";
    EXPECT_FALSE(encode_hello(h).ok());
    h.nvme_host->hostnqn = std::string(224, 'q');
    EXPECT_FALSE(encode_hello(h).ok());
    h.nvme_host->hostnqn = "nqn\x01";
    EXPECT_FALSE(encode_hello(h).ok());
    // Decoder side: unknown flag bits, NQN length 0 or beyond the payload, no TransportID without
    // the flag.
    EXPECT_FALSE(decode_hello(hex("01 02 00 01 00 03 00 01 69")).ok());
    EXPECT_FALSE(decode_hello(hex("01 02 00 01 00 01 00 00"
                                  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"))
                     .ok());
    EXPECT_FALSE(decode_hello(hex("01 02 00 01 00 01 00 00"
                                  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 09 6e"))
                     .ok());
    EXPECT_FALSE(decode_hello(hex("01 02 00 01 00 00 00 00")).ok());
}

TEST(PrsimNvmeProtocol, HelloAckVersions) {
    HelloAck a;
    a.version = 2;
    a.lun_count = 4;
    a.cntlid = 3;
    a.namespace_count = 2;
    Bytes out;
    append_hello_ack(out, a);
    EXPECT_EQ(out, hex("50 53 02 81 00 00 00 20 00 00 00 00 00 00 00 00"
                       "02 00 00 01 00 00 00 04 00 00 00 00 00 00 00 00"
                       "00 10 02 00 00 00 00 00 00 03 00 00 00 00 00 02"));
    auto back = decode_hello_ack(ByteView(out).subspan(kHeaderSize));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, a);
    // A version-1 acknowledgement keeps its 24 bytes; the lengths must match the version.
    a.version = 1;
    out.clear();
    append_hello_ack(out, a);
    EXPECT_EQ(out.size(), kHeaderSize + kHelloAckSize);
    auto v1 = decode_hello_ack(ByteView(out).subspan(kHeaderSize));
    ASSERT_TRUE(v1.ok());
    EXPECT_EQ(v1->cntlid, 0xffff);
    Bytes v1_long(out.begin() + kHeaderSize, out.end());
    v1_long.resize(32);
    EXPECT_FALSE(decode_hello_ack(v1_long).ok());
    Bytes v2_short = v1_long;
    v2_short[0] = 2;
    v2_short.resize(24);
    EXPECT_FALSE(decode_hello_ack(v2_short).ok());
    EXPECT_FALSE(decode_hello_ack({}).ok());
}

TEST(PrsimNvmeProtocol, NvmeCommandBytesAndRoundTrip) {
    NvmeCommand c;
    c.queue = NvmeQueue::io;
    c.opcode = 0x11;
    c.nsid = 1;
    c.cdw = {0x0201, 0, 0, 0, 0, 0xdeadbeef};
    c.data_out = hex("aa 00 00 00 00 00 00 00 bb 00 00 00 00 00 00 00");
    Bytes out;
    ASSERT_TRUE(append_nvme_command(out, 9, c).ok());
    EXPECT_EQ(out, hex("50 53 02 05 00 00 00 38 00 00 00 00 00 00 00 09"  // NVME_COMMAND tag 9
                       "01 11 00 00 00 00 00 01"  // I/O queue, Acquire, flags 0, NSID 1
                       "00 00 02 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 de ad be ef"
                       "00 00 00 00 00 00 00 10"  // no data-in, 16 bytes out
                       "aa 00 00 00 00 00 00 00 bb 00 00 00 00 00 00 00"));
    Frame f{FrameHeader{2, 0x05, static_cast<uint32_t>(out.size() - kHeaderSize), 9},
            ByteView(out).subspan(kHeaderSize)};
    auto m = decode_client_frame(f);
    ASSERT_TRUE(m.ok());
    const auto* v = std::get_if<NvmeCommandView>(&*m);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->tag, 9u);
    EXPECT_EQ(v->opcode, 0x11);
    EXPECT_EQ(v->cdw, c.cdw);
    EXPECT_EQ(Bytes(v->data_out.begin(), v->data_out.end()), c.data_out);
    // Truncations and a lying data-out length are malformed (bad_length for the server).
    Bytes payload(out.begin() + kHeaderSize, out.end());
    test::for_each_truncation(payload, [&](ByteView t) {
        auto r = decode_nvme_command(1, t);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(payload_error_code(r.error()), ErrorCode::bad_length);
    });
    payload[39] = 0x11;
    EXPECT_FALSE(decode_nvme_command(1, payload).ok());
    // The encoder refuses what it cannot say.
    c.queue = static_cast<NvmeQueue>(2);
    EXPECT_FALSE(append_nvme_command(out, 1, c).ok());
    c.queue = NvmeQueue::admin;
    c.data_in_len = kMaxDataLen + 1;
    EXPECT_FALSE(append_nvme_command(out, 1, c).ok());
    // A server never accepts the client's frame type from the server, nor the reverse.
    EXPECT_FALSE(decode_server_frame(f).ok());
}

TEST(PrsimNvmeProtocol, NvmeResponseBytesAndRoundTrip) {
    Bytes out;
    ASSERT_TRUE(append_nvme_response(out, 4, 0x6083, 0x1122334455667788ull, hex("01 02"),
                                     kRespAbortedByPreempt)
                    .ok());
    EXPECT_EQ(out, hex("50 53 02 85 00 00 00 12 00 00 00 00 00 00 00 04"
                       "60 83 01 00 11 22 33 44 55 66 77 88 00 00 00 02 01 02"));
    Frame f{FrameHeader{2, 0x85, static_cast<uint32_t>(out.size() - kHeaderSize), 4},
            ByteView(out).subspan(kHeaderSize)};
    auto m = decode_server_frame(f);
    ASSERT_TRUE(m.ok());
    const auto* r = std::get_if<NvmeResponseView>(&*m);
    ASSERT_NE(r, nullptr);
    const NvmeResponse owned = NvmeResponse::from(*r);
    EXPECT_EQ(owned.status, 0x6083);
    EXPECT_EQ(owned.flags, kRespAbortedByPreempt);
    EXPECT_EQ(owned.result, 0x1122334455667788ull);
    EXPECT_EQ(owned.data_in, hex("01 02"));
    Bytes payload(out.begin() + kHeaderSize, out.end());
    test::for_each_truncation(payload,
                              [&](ByteView t) { EXPECT_FALSE(decode_nvme_response(1, t).ok()); });
    payload.push_back(0);
    EXPECT_FALSE(decode_nvme_response(1, payload).ok());
    EXPECT_FALSE(decode_client_frame(f).ok());
    EXPECT_EQ(frame_type_name(0x05), "NVME_COMMAND");
    EXPECT_EQ(frame_type_name(0x85), "NVME_RESPONSE");
    EXPECT_STREQ(error_code_name(ErrorCode::wrong_transport), "wrong_transport");
    EXPECT_STREQ(error_code_name(ErrorCode::bad_nvme_command), "bad_nvme_command");
}

// The example of PROTOCOL.md section 10, both frames.
TEST(PrsimNvmeProtocol, DocumentedExample) {
    NvmeCommand c;
    c.opcode = 0x0d;
    c.nsid = 1;
    c.data_out = hex("00 00 00 00 00 00 00 00 aa aa 00 00 00 00 00 00");
    Bytes out;
    ASSERT_TRUE(append_nvme_command(out, 1, c).ok());
    EXPECT_EQ(out, hex("50 53 02 05 00 00 00 38 00 00 00 00 00 00 00 01"
                       "01 0d 00 00 00 00 00 01"
                       "00 00 00 00 00 00 00 00 00 00 00 00"
                       "00 00 00 00 00 00 00 00 00 00 00 00"
                       "00 00 00 00 00 00 00 10"
                       "00 00 00 00 00 00 00 00 aa aa 00 00 00 00 00 00"));
    out.clear();
    ASSERT_TRUE(append_nvme_response(out, 1, 0, 0, {}).ok());
    EXPECT_EQ(out, hex("50 53 02 85 00 00 00 10 00 00 00 00 00 00 00 01"
                       "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
}

}  // namespace
}  // namespace prfence::sim::proto
