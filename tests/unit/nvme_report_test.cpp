// SPDX-License-Identifier: MIT
// Reservation Status (both layouts, written out by hand from the specification's byte tables) and
// the Reservation Notification log page.
#include "uring_engine/wire/nvme_report.h"

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace prfence::wire::nvme {
namespace {
using test::hex;

// 24-byte header + two 24-byte entries: generation 3, WE-RO (3), REGCTL 2 (bytes 5-6), PTPLS 1.
// Entry 0: CNTLID 1, holder, HOSTID 11..18, RKEY 0xabc123. Entry 1: CNTLID 2, HOSTID 21..28, RKEY
// 0x123abc.
const Bytes kShort =
    hex("03 00 00 00 03 02 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
        "01 00 01 00 00 00 00 00 11 12 13 14 15 16 17 18 23 c1 ab 00 00 00 00 00"
        "02 00 00 00 00 00 00 00 21 22 23 24 25 26 27 28 bc 3a 12 00 00 00 00 00");

// What nvmet returns with EDS: 64-byte header, CNTLID FFFFh (dynamic controller model), the
// 128-bit host identifier, RKEY at byte 8 of the entry. Generation 2, EA-AR (6), two registrants
// (both hold: all-registrants type).
Bytes nvmet_ext() {
    Bytes b =
        hex("02 00 00 00 06 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    const Bytes e0 =
        hex("ff ff 01 00 00 00 00 00 0a 00 00 00 00 00 00 00"
            "6e 8f 4c 1e 2b 3a 4d 5c 6b 7a 89 98 a7 b6 c5 d4"
            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    Bytes e1 = e0;
    e1[8] = 0x0b;   // RKEY 0xb
    e1[16] = 0x7f;  // another host
    b.insert(b.end(), e0.begin(), e0.end());
    b.insert(b.end(), e1.begin(), e1.end());
    return b;
}

TEST(NvmeReport, ShortLayout) {
    auto r = parse_report(kShort, false);
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->generation, 3u);
    EXPECT_EQ(r->rtype, 3);
    EXPECT_EQ(r->regctl, 2);
    EXPECT_TRUE(r->ptpls);
    EXPECT_FALSE(r->extended);
    ASSERT_EQ(r->registrants.size(), 2u);
    EXPECT_FALSE(is_truncated(*r));
    EXPECT_EQ(r->registrants[0].cntlid, 1);
    EXPECT_TRUE(r->registrants[0].holds);
    EXPECT_EQ(r->registrants[0].key, 0xabc123u);
    EXPECT_EQ(r->registrants[0].hostid, (HostId{0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}));
    EXPECT_EQ(r->registrants[1].cntlid, 2);
    EXPECT_FALSE(r->registrants[1].holds);
    EXPECT_EQ(r->registrants[1].key, 0x123abcu);
}

TEST(NvmeReport, ExtendedLayoutAsNvmetSendsIt) {
    const Bytes b = nvmet_ext();
    auto r = parse_report(b, true);
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->generation, 2u);
    EXPECT_EQ(r->rtype, 6);
    EXPECT_TRUE(r->extended);
    EXPECT_FALSE(r->ptpls);
    ASSERT_EQ(r->registrants.size(), 2u);
    EXPECT_EQ(r->registrants[0].cntlid, 0xffff);
    EXPECT_TRUE(r->registrants[0].holds);
    EXPECT_EQ(r->registrants[0].key, 0xau);  // byte 8, not byte 16 as in the short layout
    EXPECT_EQ(r->registrants[0].hostid, (HostId{0x6e, 0x8f, 0x4c, 0x1e, 0x2b, 0x3a, 0x4d, 0x5c,
                                                0x6b, 0x7a, 0x89, 0x98, 0xa7, 0xb6, 0xc5, 0xd4}));
    EXPECT_EQ(r->registrants[1].key, 0xbu);
    EXPECT_EQ(r->registrants[1].hostid[0], 0x7f);
}

TEST(NvmeReport, RegctlIsUnalignedLittleEndian) {
    Bytes b(24, 0);
    b[5] = 0x34;
    b[6] = 0x12;
    auto r = parse_report(b, false);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->regctl, 0x1234);
    EXPECT_TRUE(r->registrants.empty());
    EXPECT_TRUE(is_truncated(*r));
    EXPECT_EQ(report_len(r->regctl, false), 24u + 0x1234u * 24u);
}

TEST(NvmeReport, TruncatedBufferIsDataNotError) {
    // 64-byte header and one and a half entries of the two REGCTL announces.
    Bytes b = nvmet_ext();
    b.resize(64 + 64 + 32);
    auto r = parse_report(b, true);
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->regctl, 2);
    ASSERT_EQ(r->registrants.size(), 1u);
    EXPECT_TRUE(is_truncated(*r));
    EXPECT_EQ(report_len(r->regctl, true), 192u);
}

TEST(NvmeReport, EveryTruncationIsSafe) {
    test::for_each_truncation(kShort, [](ByteView v) {
        auto r = parse_report(v, false);
        if (v.size() < 24) {
            ASSERT_FALSE(r.ok());
            EXPECT_EQ(r.error().code, Errc::truncated);
        } else {
            ASSERT_TRUE(r.ok());
            EXPECT_EQ(r->registrants.size(), (v.size() - 24) / 24);
        }
    });
    const Bytes ext = nvmet_ext();
    test::for_each_truncation(ext, [](ByteView v) {
        auto r = parse_report(v, true);
        EXPECT_EQ(r.ok(), v.size() >= 64);
    });
}

TEST(NvmeReport, PaddingAfterRegctlEntriesIsIgnored) {
    Bytes b = kShort;
    b.resize(4096, 0xee);
    auto r = parse_report(b, false);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->registrants.size(), 2u);
}

TEST(NvmeReport, Garbage) {
    Bytes b = kShort;
    b[4] = 7;  // reserved RTYPE
    auto r = parse_report(b, false);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::malformed);

    b = kShort;
    b[4] = 0;  // no reservation, but entry 0 says it holds one
    EXPECT_FALSE(parse_report(b, false).ok());

    b = kShort;
    b[24 + 24 + 2] = 1;  // two different hosts hold a WE-RO reservation
    EXPECT_FALSE(parse_report(b, false).ok());
    b[24 + 24 + 8] = 0x11;  // ... unless they are the same host (two controllers)
    b[24 + 24 + 9] = 0x12;
    b[24 + 24 + 10] = 0x13;
    b[24 + 24 + 11] = 0x14;
    b[24 + 24 + 12] = 0x15;
    b[24 + 24 + 13] = 0x16;
    b[24 + 24 + 14] = 0x17;
    b[24 + 24 + 15] = 0x18;
    EXPECT_TRUE(parse_report(b, false).ok());
}

TEST(NvmeReport, EncodeMatchesHandWrittenBytes) {
    auto parsed = parse_report(kShort, false);
    ASSERT_TRUE(parsed.ok());
    auto enc = encode_report(*parsed, false, 4096);
    ASSERT_TRUE(enc.ok()) << enc.error().msg;
    EXPECT_EQ(*enc, kShort);
    const Bytes ext = nvmet_ext();
    auto pe = parse_report(ext, true);
    ASSERT_TRUE(pe.ok());
    auto ee = encode_report(*pe, true, 4096);
    ASSERT_TRUE(ee.ok());
    EXPECT_EQ(*ee, ext);
}

TEST(NvmeReport, EncodeBothLayoutsRoundTrip) {
    ReservationStatus s;
    s.generation = 0xdeadbeef;
    s.rtype = 1;
    s.regctl = 99;  // not used: REGCTL is the number of registrants given
    s.registrants = {{5, true, 0x1111, {1, 2, 3, 4, 5, 6, 7, 8}},
                     {6, false, 0x2222, {9, 9, 9, 9, 9, 9, 9, 9}}};
    for (bool eds : {false, true}) {
        auto enc = encode_report(s, eds, 1u << 20);
        ASSERT_TRUE(enc.ok()) << enc.error().msg;
        EXPECT_EQ(enc->size(), report_len(2, eds));
        auto back = parse_report(*enc, eds);
        ASSERT_TRUE(back.ok());
        EXPECT_EQ(back->regctl, 2);
        EXPECT_EQ(back->generation, s.generation);
        EXPECT_EQ(back->extended, eds);
        ASSERT_EQ(back->registrants.size(), 2u);
        for (size_t i = 0; i < 2; ++i) {
            EXPECT_EQ(back->registrants[i].cntlid, s.registrants[i].cntlid);
            EXPECT_EQ(back->registrants[i].holds, s.registrants[i].holds);
            EXPECT_EQ(back->registrants[i].key, s.registrants[i].key);
            EXPECT_EQ(back->registrants[i].hostid, s.registrants[i].hostid);
        }
    }
}

TEST(NvmeReport, EncodeTruncatesToAllocationLength) {
    ReservationStatus s;
    s.registrants.resize(3);
    for (auto& r : s.registrants) r.key = 1;
    auto enc = encode_report(s, true, 100);
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(enc->size(), 100u);
    auto back = parse_report(*enc, true);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->regctl, 3);  // REGCTL still describes everything
    EXPECT_EQ(back->registrants.size(), 0u);
}

TEST(NvmeReport, EncodeRefuses128BitHostIdInShortLayout) {
    ReservationStatus s;
    s.registrants.resize(1);
    s.registrants[0].hostid[15] = 1;
    auto enc = encode_report(s, false, 4096);
    ASSERT_FALSE(enc.ok());
    EXPECT_NE(enc.error().msg.find("Host Identifier Inconsistent Format"), std::string::npos);
    EXPECT_TRUE(encode_report(s, true, 4096).ok());
}

// count 2, type 3 (Reservation Preempted), 1 more page available, NSID 1.
const Bytes kLog = [] {
    Bytes b(64, 0);
    b[0] = 2;
    b[8] = 3;
    b[9] = 1;
    b[12] = 1;
    return b;
}();

TEST(NvmeReservationLog, Parse) {
    auto l = parse_reservation_log(kLog);
    ASSERT_TRUE(l.ok()) << l.error().msg;
    EXPECT_EQ(l->count, 2u);
    EXPECT_EQ(l->type, 3);
    EXPECT_EQ(l->available, 1);
    EXPECT_EQ(l->nsid, 1u);
    EXPECT_STREQ(log_type_name(l->type), "Reservation Preempted");
    EXPECT_STREQ(log_type_name(0), "Empty Log Page");
    EXPECT_STREQ(log_type_name(1), "Registration Preempted");
    EXPECT_STREQ(log_type_name(2), "Reservation Released");
    EXPECT_STREQ(log_type_name(9), "reserved");
    EXPECT_EQ(encode_reservation_log(*l), kLog);
}

TEST(NvmeReservationLog, Errors) {
    auto s = parse_reservation_log(ByteView(kLog.data(), 63));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::truncated);
    Bytes b = kLog;
    b[8] = 4;
    auto r = parse_reservation_log(b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::malformed);
}

TEST(NvmeReservationLog, EncodeRoundTrip) {
    ReservationLog log{0xffffffffffffffffull, 1, 0, 0x12345678};
    auto enc = encode_reservation_log(log);
    ASSERT_EQ(enc.size(), 64u);
    EXPECT_EQ(enc[12], 0x78);  // NSID little-endian at byte 12
    auto back = parse_reservation_log(enc);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, log);
}

}  // namespace
}  // namespace prfence::wire::nvme
