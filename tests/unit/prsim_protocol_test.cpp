// SPDX-License-Identifier: MIT
// prsim wire protocol: frames byte-exact against the layouts in interposer/PROTOCOL.md, the
// incremental decoder under every way a stream can be cut, and hostile frames (short, lying
// lengths, huge, unknown types, bad versions).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/test_util.h"
#include "uring_engine/simproto/protocol.h"
#include "uring_engine/wire/cdb.h"

namespace prfence::sim::proto {
namespace {

using test::hex;

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Every frame the decoder yields for `stream` fed in chunks of `chunk` bytes.
std::vector<std::pair<FrameHeader, Bytes>> decode_all(const Bytes& stream, size_t chunk) {
    FrameDecoder d;
    std::vector<std::pair<FrameHeader, Bytes>> out;
    for (size_t off = 0; off < stream.size(); off += chunk) {
        d.feed(ByteView(stream).subspan(off, std::min(chunk, stream.size() - off)));
        for (;;) {
            auto f = d.next();
            EXPECT_TRUE(f.ok()) << f.error().msg;
            if (!f.ok() || !*f) break;
            out.emplace_back((*f)->header, Bytes((*f)->payload.begin(), (*f)->payload.end()));
        }
    }
    EXPECT_EQ(d.buffered(), 0u);
    return out;
}

TEST(PrsimProtocol, HelloBytes) {
    auto f = encode_hello(make_hello("iqn.a", 1, "x"));
    ASSERT_TRUE(f.ok()) << f.error().msg;
    EXPECT_EQ(*f,
              hex("50 53 01 01 00 00 00 0e 00 00 00 00 00 00 00 00"  // magic, v1, HELLO, 14, tag 0
                  "01 01 00 01 00 00 00 05"  // versions 1-1, port 1, text, len 5
                  "69 71 6e 2e 61 78"));     // "iqn.a" "x"
    auto h = decode_hello(ByteView(*f).subspan(kHeaderSize));
    ASSERT_TRUE(h.ok()) << h.error().msg;
    EXPECT_EQ(h->target_port, 1);
    EXPECT_EQ(h->form, TidForm::text);
    EXPECT_EQ(std::string(h->initiator.begin(), h->initiator.end()), "iqn.a");
    EXPECT_EQ(h->client_name, "x");
    auto tid = hello_initiator(*h);
    ASSERT_TRUE(tid.ok()) << tid.error().msg;
    EXPECT_EQ(tid->protocol, wire::ProtocolId::iscsi);
    EXPECT_EQ(tid->iscsi_name, "iqn.a");
}

TEST(PrsimProtocol, HelloBinaryTransportId) {
    Hello h;
    h.form = TidForm::binary;
    h.target_port = 2;
    h.initiator = hex("06 00 00 00 50 00 c5 00 05 b3 20 01 00 00 00 00 00 00 00 00 00 00 00 00");
    auto f = encode_hello(h);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(ByteView(*f).first(kHeaderSize + kHelloFixedSize).size(), 24u);
    EXPECT_EQ(Bytes(f->begin() + 16, f->begin() + 24), hex("01 01 00 02 01 00 00 18"));
    auto d = decode_hello(ByteView(*f).subspan(kHeaderSize));
    ASSERT_TRUE(d.ok());
    auto tid = hello_initiator(*d);
    ASSERT_TRUE(tid.ok()) << tid.error().msg;
    EXPECT_EQ(tid->protocol, wire::ProtocolId::sas);
    EXPECT_EQ(tid->name, 0x5000c50005b32001u);
    // A binary TransportID with trailing bytes does not fill the field exactly.
    d->initiator.push_back(0);
    EXPECT_FALSE(hello_initiator(*d).ok());
}

TEST(PrsimProtocol, HelloRefusesBadInput) {
    Bytes out;
    EXPECT_FALSE(append_hello(out, make_hello("", 1)).ok());
    EXPECT_FALSE(append_hello(out, make_hello("iqn.a", 0)).ok());
    EXPECT_FALSE(append_hello(out, make_hello("iqn.a", 1, std::string(65, 'n'))).ok());
    EXPECT_FALSE(append_hello(out, make_hello("iqn.a", 1, "tab\there")).ok());
    Hello h = make_hello("iqn.a", 1);
    h.min_version = 2;
    h.max_version = 1;
    EXPECT_FALSE(append_hello(out, h).ok());
    EXPECT_TRUE(out.empty());  // nothing half-written
}

TEST(PrsimProtocol, CommandBytes) {
    const wire::Cdb cdb = wire::prin_cdb(wire::PrInAction::read_keys, 0x2000);
    auto f = encode_command(0x0102030405060708ull, 7, cdb.bytes(), {}, 0x2000);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(*f, hex("50 53 01 02 00 00 00 20 01 02 03 04 05 06 07 08"  // COMMAND, 32 bytes, tag
                      "00 00 00 07 0a 00 00 00 00 00 20 00 00 00 00 00"  // lun 7, cdb len 10, alloc
                                                                         // 8192, dout 0
                      "5e 00 00 00 00 00 00 20 00 00 00 00 00 00 00 00"));
    EXPECT_EQ(f->size(), command_frame_size(0));
    auto c = decode_command(0x0102030405060708ull, ByteView(*f).subspan(kHeaderSize));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->lun, 7u);
    EXPECT_EQ(c->alloc_len, 0x2000u);
    EXPECT_EQ(Bytes(c->cdb_bytes().begin(), c->cdb_bytes().end()),
              Bytes(cdb.bytes().begin(), cdb.bytes().end()));
    EXPECT_TRUE(c->data_out.empty());
}

TEST(PrsimProtocol, CommandWithDataOut) {
    const wire::Cdb cdb = wire::prout_cdb(wire::PrOutAction::register_key, wire::PrType::none, 24);
    const Bytes param =
        hex("00 00 00 00 00 00 00 00 00 00 00 00 00 ab c1 23 00 00 00 00 00 00 00 00");
    auto f = encode_command(1, 0, cdb.bytes(), param, 0);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(Bytes(f->begin(), f->begin() + 32),
              hex("50 53 01 02 00 00 00 38 00 00 00 00 00 00 00 01"
                  "00 00 00 00 0a 00 00 00 00 00 00 00 00 00 00 18"));
    auto c = decode_command(1, ByteView(*f).subspan(kHeaderSize));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(Bytes(c->data_out.begin(), c->data_out.end()), param);
}

TEST(PrsimProtocol, CommandRefusesBadInput) {
    Bytes out;
    EXPECT_FALSE(append_command(out, 1, 0, {}, {}, 0).ok());
    Bytes long_cdb(17, 0);
    EXPECT_FALSE(append_command(out, 1, 0, long_cdb, {}, 0).ok());
    Bytes big(kMaxDataLen + 1, 0);
    EXPECT_FALSE(append_command(out, 1, 0, hex("00 00 00 00 00 00"), big, 0).ok());
    EXPECT_FALSE(append_command(out, 1, 0, hex("00 00 00 00 00 00"), {}, kMaxDataLen + 1).ok());
    EXPECT_TRUE(out.empty());
}

TEST(PrsimProtocol, ResponseBytes) {
    Bytes out;
    ASSERT_TRUE(append_response(out, 9, 0x18, 0, {}, {}).ok());
    EXPECT_EQ(out, hex("50 53 01 82 00 00 00 08 00 00 00 00 00 00 00 09 18 00 00 00 00 00 00 00"));
    const Bytes sense = hex("70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00");
    const Bytes data = hex("00 00 00 02");
    out.clear();
    ASSERT_TRUE(append_response(out, 10, 0x02, 0, sense, data, kRespAbortedByPreempt).ok());
    EXPECT_EQ(out,
              cat({hex("50 53 01 82 00 00 00 1e 00 00 00 00 00 00 00 0a 02 00 12 01 00 00 00 04"),
                   sense, data}));
    auto r = decode_response(10, ByteView(out).subspan(kHeaderSize));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 0x02);
    EXPECT_EQ(r->flags, kRespAbortedByPreempt);
    EXPECT_EQ(Bytes(r->sense.begin(), r->sense.end()), sense);
    EXPECT_EQ(Bytes(r->data_in.begin(), r->data_in.end()), data);
    // Sense beyond 252 bytes is cut, never sent with a wrong length.
    out.clear();
    ASSERT_TRUE(append_response(out, 1, 2, 0, Bytes(300, 0x70), {}).ok());
    EXPECT_EQ(out[18], 252);
    EXPECT_EQ(out.size(), kHeaderSize + kResponseFixedSize + 252);
}

TEST(PrsimProtocol, OtherFramesBytes) {
    EXPECT_EQ(encode_abort(5), hex("50 53 01 03 00 00 00 00 00 00 00 00 00 00 00 05"));
    auto c = encode_control(3, "{}");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(*c, hex("50 53 01 04 00 00 00 02 00 00 00 00 00 00 00 03 7b 7d"));
    Bytes out;
    append_error(out, 0, ErrorCode::bad_magic, true, "x");
    EXPECT_EQ(out, hex("50 53 01 ff 00 00 00 05 00 00 00 00 00 00 00 00 00 01 01 00 78"));
    out.clear();
    HelloAck a;
    a.target_port = 2;
    a.lun_count = 4096;
    a.host = 3;
    a.target_id = 1;
    a.max_payload = kMaxPayload;
    a.max_in_flight = 1024;
    append_hello_ack(out, a);
    EXPECT_EQ(out, hex("50 53 01 81 00 00 00 18 00 00 00 00 00 00 00 00"
                       "01 00 00 02 00 00 10 00 00 00 00 03 00 00 00 01 00 10 02 00 00 00 04 00"));
    auto d = decode_hello_ack(ByteView(out).subspan(kHeaderSize));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, a);
}

TEST(PrsimProtocol, DecoderYieldsFramesAtAnyChunking) {
    Bytes stream;
    ASSERT_TRUE(append_hello(stream, make_hello("iqn.2001-05.com.example:node-a", 1, "test")).ok());
    for (uint64_t t = 1; t <= 5; ++t)
        ASSERT_TRUE(append_command(stream, t, static_cast<uint32_t>(t),
                                   wire::read10_cdb(0, 8).bytes(), {}, 4096)
                        .ok());
    append_abort(stream, 3);
    ASSERT_TRUE(append_control(stream, 99, R"({"op":"ping"})").ok());
    for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{16}, size_t{33}, stream.size()}) {
        auto frames = decode_all(stream, chunk);
        ASSERT_EQ(frames.size(), 8u) << "chunk " << chunk;
        EXPECT_EQ(frames[0].first.type, static_cast<uint8_t>(FrameType::hello));
        EXPECT_EQ(frames[3].first.tag, 3u);
        EXPECT_EQ(frames[6].first.type, static_cast<uint8_t>(FrameType::abort));
        EXPECT_EQ(std::string(frames[7].second.begin(), frames[7].second.end()),
                  R"({"op":"ping"})");
    }
}

TEST(PrsimProtocol, DecoderZeroCopyArea) {
    Bytes frame = encode_abort(42);
    FrameDecoder d;
    auto area = d.write_area(4);
    ASSERT_GE(area.size(), 4u);
    std::copy_n(frame.begin(), 4, area.begin());
    d.commit(4);
    auto f = d.next();
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE(*f);
    EXPECT_EQ(d.pending_frame_size(), 0u);
    area = d.write_area(frame.size() - 4);
    std::copy(frame.begin() + 4, frame.end(), area.begin());
    d.commit(frame.size() - 4);
    f = d.next();
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(*f);
    EXPECT_EQ((*f)->header.tag, 42u);
}

TEST(PrsimProtocol, HostileBadMagicFailsAtOnceAndStays) {
    FrameDecoder d;
    d.feed(hex("47"));  // 'G' of "GET / HTTP/1.1"
    auto f = d.next();
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(d.error_code(), ErrorCode::bad_magic);
    EXPECT_TRUE(d.failed());
    d.feed(encode_abort(1));  // nothing after garbage is trusted
    EXPECT_FALSE(d.next().ok());

    FrameDecoder d2;
    d2.feed(hex("50 54"));
    EXPECT_FALSE(d2.next().ok());
    EXPECT_EQ(d2.error_code(), ErrorCode::bad_magic);
}

TEST(PrsimProtocol, HostileHugeLengthRefusedBeforeBuffering) {
    FrameDecoder d(4096);
    d.feed(hex("50 53 01 02 ff ff ff ff 00 00 00 00 00 00 00 01"));
    auto f = d.next();
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(d.error_code(), ErrorCode::too_large);
    EXPECT_NE(f.error().msg.find("4294967295"), std::string::npos) << f.error().msg;
    // Exactly at the limit is fine.
    FrameDecoder d3(8);
    d3.feed(hex("50 53 01 04 00 00 00 08 00 00 00 00 00 00 00 01 7b 7d 20 20 20 20 20 20"));
    auto g = d3.next();
    ASSERT_TRUE(g.ok());
    EXPECT_TRUE(*g);
}

TEST(PrsimProtocol, HostileShortAndLyingPayloads) {
    // COMMAND shorter than its fixed part, and with a data-out length that disagrees with the
    // frame.
    EXPECT_FALSE(decode_command(1, hex("00 00 00 00 0a")).ok());
    Bytes cmd = *encode_command(1, 0, wire::test_unit_ready_cdb().bytes(), hex("01 02 03"), 0);
    Bytes payload(cmd.begin() + kHeaderSize, cmd.end());
    ASSERT_TRUE(decode_command(1, payload).ok());
    payload[15] = 4;  // says 4 bytes of data-out, carries 3
    EXPECT_FALSE(decode_command(1, payload).ok());
    payload[15] = 2;
    EXPECT_FALSE(decode_command(1, payload).ok());
    // RESPONSE whose sense length runs past the payload.
    EXPECT_FALSE(decode_response(1, hex("02 00 12 00 00 00 00 00 70 00")).ok());
    EXPECT_FALSE(decode_response(1, hex("02 00 fd 00 00 00 00 00")).ok());
    EXPECT_FALSE(decode_response(1, hex("00 00 00 00 00 00 00 01")).ok());
    EXPECT_FALSE(decode_response(1, hex("00 00 00")).ok());
    // HELLO: TransportID length past the end, zero, NUL in a text TransportID, bad form, bad
    // versions.
    EXPECT_FALSE(decode_hello(hex("01 01 00 01 00 00 00 09 69 71 6e 2e 61")).ok());
    EXPECT_FALSE(decode_hello(hex("01 01 00 01 00 00 00 00")).ok());
    EXPECT_FALSE(decode_hello(hex("01 01 00 01 00 00 00 02 69 00")).ok());
    EXPECT_FALSE(decode_hello(hex("01 01 00 01 02 00 00 01 69")).ok());
    EXPECT_FALSE(decode_hello(hex("02 01 00 01 00 00 00 01 69")).ok());
    EXPECT_FALSE(decode_hello(hex("00 00 00 01 00 00 00 01 69")).ok());
    EXPECT_FALSE(decode_hello(hex("01 01 00 00 00 00 00 01 69")).ok());
    EXPECT_FALSE(decode_hello(hex("01 01 00")).ok());
    EXPECT_TRUE(
        decode_hello(hex("01 05 00 01 00 00 00 01 69")).ok());  // offering newer versions is fine
    // HELLO_ACK and ERROR sizes.
    EXPECT_FALSE(decode_hello_ack(Bytes(23, 0)).ok());
    EXPECT_FALSE(decode_hello_ack(Bytes(25, 0)).ok());
    EXPECT_FALSE(decode_error(0, hex("00 01 01")).ok());
    // Every truncation of a valid frame stays "need more bytes".
    FrameDecoder d;
    for (uint8_t b : cmd) {
        auto f = d.next();
        ASSERT_TRUE(f.ok());
        EXPECT_FALSE(*f);
        d.feed(ByteView(&b, 1));
    }
    auto f = d.next();
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(*f);
}

TEST(PrsimProtocol, UnknownAndWrongDirectionTypes) {
    for (uint8_t type :
         {uint8_t{0x00}, uint8_t{0x06}, uint8_t{0x7f}, uint8_t{0x80}, uint8_t{0xfe}}) {
        Frame f{FrameHeader{1, type, 0, 0}, {}};
        auto m = decode_client_frame(f);
        ASSERT_FALSE(m.ok());
        EXPECT_EQ(payload_error_code(m.error()), ErrorCode::unknown_type);
        EXPECT_FALSE(decode_server_frame(f).ok());
    }
    // A client must not send server frames, nor the server client frames.
    Frame resp{FrameHeader{1, static_cast<uint8_t>(FrameType::response), 8, 1}, {}};
    EXPECT_EQ(payload_error_code(decode_client_frame(resp).error()), ErrorCode::unknown_type);
    Frame hello{FrameHeader{1, static_cast<uint8_t>(FrameType::hello), 0, 0}, {}};
    EXPECT_FALSE(decode_server_frame(hello).ok());
    // ABORT carries no payload.
    Bytes one{1};
    Frame abort{FrameHeader{1, static_cast<uint8_t>(FrameType::abort), 1, 1}, one};
    auto m = decode_client_frame(abort);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(payload_error_code(m.error()), ErrorCode::bad_length);
}

TEST(PrsimProtocol, VersionFieldIsCarried) {
    Bytes out;
    ASSERT_TRUE(append_command(out, 1, 0, wire::test_unit_ready_cdb().bytes(), {}, 0, 2).ok());
    auto h = decode_header(out);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->version, 2);  // the server compares it with the negotiated version
    EXPECT_EQ(frame_type_name(0x02), "COMMAND");
    EXPECT_EQ(frame_type_name(0x42), "type 0x42");
    EXPECT_STREQ(error_code_name(ErrorCode::version_unsupported), "version_unsupported");
}

TEST(PrsimProtocol, ServerMessagesRoundTrip) {
    Bytes stream;
    HelloAck a;
    a.lun_count = 16;
    append_hello_ack(stream, a);
    ASSERT_TRUE(append_response(stream, 77, 0, 0, {}, hex("01 02")).ok());
    append_control_reply(stream, 5, R"({"ok":true})");
    append_error(stream, 78, ErrorCode::duplicate_tag, false, "tag 78 is still in flight");
    FrameDecoder d;
    d.feed(stream);
    std::vector<ServerMessage> msgs;
    for (;;) {
        auto f = d.next();
        ASSERT_TRUE(f.ok());
        if (!*f) break;
        auto m = decode_server_frame(**f);
        ASSERT_TRUE(m.ok()) << m.error().msg;
        if (auto* r = std::get_if<ResponseView>(&*m)) {
            Response owned = Response::from(*r);
            EXPECT_EQ(owned.tag, 77u);
            EXPECT_EQ(owned.data_in, hex("01 02"));
        }
        msgs.push_back(*m);
    }
    ASSERT_EQ(msgs.size(), 4u);
    EXPECT_EQ(std::get<HelloAck>(msgs[0]).lun_count, 16u);
    EXPECT_EQ(std::get<ControlReply>(msgs[2]).json, R"({"ok":true})");
    const auto& e = std::get<ErrorFrame>(msgs[3]);
    EXPECT_EQ(e.tag, 78u);
    EXPECT_EQ(e.code, static_cast<uint16_t>(ErrorCode::duplicate_tag));
    EXPECT_FALSE(e.fatal);
}

}  // namespace
}  // namespace prfence::sim::proto
