// SPDX-License-Identifier: MIT
#include "uring_engine/wire/prin.h"

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace prfence::wire {
namespace {
using test::hex;

// The seed session: two keys registered, generation 2.
const Bytes kTwoKeys =
    hex("00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23 00 00 00 00 00 12 3a bc");

TEST(ReadKeys, Seed) {
    auto r = parse_read_keys(kTwoKeys);
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->generation, 2u);
    EXPECT_EQ(r->keys, (std::vector<uint64_t>{0xabc123, 0x123abc}));
    EXPECT_FALSE(r->truncated);
    EXPECT_EQ(r->needed, 24u);
}

TEST(ReadKeys, Empty) {
    auto r = parse_read_keys(hex("00 00 00 07 00 00 00 00"));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->generation, 7u);
    EXPECT_TRUE(r->keys.empty());
}

TEST(ReadKeys, TruncatedByAllocationLengthIsDataNotError) {
    // The device wants to send 3 keys (additional length 24) but the buffer held 1.5.
    auto r = parse_read_keys(hex("00 00 00 09 00 00 00 18 00 00 00 00 00 00 00 01 00 00 00 00"));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->truncated);
    EXPECT_EQ(r->keys, (std::vector<uint64_t>{1}));
    EXPECT_EQ(r->needed, 32u);
}

TEST(ReadKeys, EveryTruncationIsSafe) {
    test::for_each_truncation(kTwoKeys, [](ByteView v) {
        auto r = parse_read_keys(v);
        if (v.size() < 8) {
            EXPECT_FALSE(r.ok());
        } else {
            ASSERT_TRUE(r.ok());
            EXPECT_TRUE(r->truncated);
            EXPECT_EQ(r->keys.size(), (v.size() - 8) / 8);
        }
    });
}

TEST(ReadKeys, LyingLengths) {
    EXPECT_FALSE(
        parse_read_keys(hex("00 00 00 01 00 00 00 0c 00 00 00 00 00 00 00 01")).ok());  // not /8
    auto huge = parse_read_keys(hex("00 00 00 01 ff ff ff f8 00 00 00 00 00 00 00 01"));
    ASSERT_TRUE(huge.ok());
    EXPECT_TRUE(huge->truncated);
    EXPECT_EQ(huge->needed, UINT32_MAX);  // saturates instead of wrapping
    EXPECT_EQ(huge->keys.size(), 1u);
}

TEST(ReadKeys, EncodeTruncatesLikeADevice) {
    ReadKeys k{.generation = 2, .keys = {0xabc123, 0x123abc}};
    EXPECT_EQ(encode_read_keys(k, 8192), kTwoKeys);
    Bytes cut = encode_read_keys(k, 12);
    EXPECT_EQ(cut, Bytes(kTwoKeys.begin(), kTwoKeys.begin() + 12));
}

// sg_persist -r after `reserve type 3 with abc123`: key 0xabc123, Exclusive Access.
const Bytes kReserved =
    hex("00 00 00 02 00 00 00 10 00 00 00 00 00 ab c1 23 00 00 00 00 00 03 00 00");

TEST(ReadReservation, Seed) {
    auto r = parse_read_reservation(kReserved);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->reserved);
    EXPECT_EQ(r->key, 0xabc123u);
    EXPECT_EQ(r->type, 3);
    EXPECT_EQ(r->scope, 0);
    EXPECT_STREQ(type_name(r->type), "Exclusive Access");
    ReadReservation v{.generation = 2, .reserved = true, .key = 0xabc123, .type = 3};
    EXPECT_EQ(encode_read_reservation(v, 8192), kReserved);
}

TEST(ReadReservation, NoneAndHostile) {
    auto none = parse_read_reservation(hex("00 00 00 05 00 00 00 00"));
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->reserved);
    EXPECT_FALSE(
        parse_read_reservation(hex("00 00 00 05 00 00 00 08 00 00 00 00 00 00 00 00")).ok());
    test::for_each_truncation(kReserved, [](ByteView v) {
        auto r = parse_read_reservation(v);
        if (v.size() < 8) {
            EXPECT_FALSE(r.ok());
        } else {
            ASSERT_TRUE(r.ok());
            EXPECT_TRUE(r->truncated);
            EXPECT_FALSE(r->reserved);  // half a descriptor is no reservation we can trust
        }
    });
    // A device listing two descriptors (old element scope): first one taken, length accepted.
    Bytes two = kReserved;
    put_be32(two, 4, 32);
    two.resize(40, 0);
    auto r = parse_read_reservation(two);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->reserved);
}

TEST(Capabilities, LioLikeAnswer) {
    // LENGTH 8; CRH|SIP_C|ATP_C|PTPL_C; TMV, ALLOW COMMANDS 0; all six types.
    auto c = parse_capabilities(hex("00 08 1d 80 ea 01 00 00"));
    ASSERT_TRUE(c.ok()) << c.error().msg;
    EXPECT_TRUE(c->crh);
    EXPECT_TRUE(c->sip_c);
    EXPECT_TRUE(c->atp_c);
    EXPECT_TRUE(c->ptpl_c);
    EXPECT_FALSE(c->rlr_c);
    EXPECT_TRUE(c->tmv);
    EXPECT_FALSE(c->ptpl_a);
    for (PrType t :
         {PrType::write_exclusive, PrType::exclusive_access,
          PrType::write_exclusive_registrants_only, PrType::exclusive_access_registrants_only,
          PrType::write_exclusive_all_registrants, PrType::exclusive_access_all_registrants})
        EXPECT_TRUE(c->supports(t)) << type_name(t);
    EXPECT_EQ(encode_capabilities(*c, 8), hex("00 08 1d 80 ea 01 00 00"));
}

TEST(Capabilities, MaskWithoutTmvSupportsNothing) {
    auto c = parse_capabilities(hex("00 08 00 00 ea 01 00 00"));
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(c->supports(PrType::exclusive_access));
}

TEST(Capabilities, Hostile) {
    EXPECT_FALSE(parse_capabilities(hex("00")).ok());
    EXPECT_FALSE(parse_capabilities(hex("00 04 1d 80")).ok());  // LENGTH below 8
    auto shortc = parse_capabilities(hex("00 08 1d"));
    ASSERT_TRUE(shortc.ok());
    EXPECT_TRUE(shortc->truncated);
    EXPECT_TRUE(shortc->sip_c);
    EXPECT_FALSE(shortc->tmv);
}

TransportId iscsi(std::string name, std::string isid) {
    TransportId t;
    t.protocol = ProtocolId::iscsi;
    t.format = 1;
    t.iscsi_name = std::move(name);
    t.iscsi_isid = std::move(isid);
    return t;
}

FullStatus two_node_status() {
    FullStatus s;
    s.generation = 4;
    s.entries.push_back({.key = 0xabc123,
                         .holder = true,
                         .type = 3,
                         .rel_tgt_port = 1,
                         .transport_id = iscsi("iqn.2026-11.io.prfence:node-a", "00023d000001")});
    s.entries.push_back({.key = 0x123abc,
                         .rel_tgt_port = 1,
                         .transport_id = iscsi("iqn.2026-11.io.prfence:node-b", "00023d000002")});
    return s;
}

TEST(FullStatus, RoundTripTwoIscsiNodes) {
    FullStatus s = two_node_status();
    auto b = encode_full_status(s, 16384);
    ASSERT_TRUE(b.ok()) << b.error().msg;
    // Spot-check the wire layout of the first descriptor.
    EXPECT_EQ(get_be32(*b, 0), 4u);
    EXPECT_EQ(get_be64(*b, 8), 0xabc123u);
    EXPECT_EQ((*b)[8 + 12], 0x01);  // R_HOLDER
    EXPECT_EQ((*b)[8 + 13], 0x03);  // type 3
    EXPECT_EQ(get_be16(*b, 8 + 18), 1);
    EXPECT_EQ((*b)[8 + 24], 0x45);  // iSCSI TransportID, format 01b
    auto back = parse_full_status(*b);
    ASSERT_TRUE(back.ok()) << back.error().msg;
    EXPECT_FALSE(back->truncated);
    EXPECT_EQ(back->entries, s.entries);
    EXPECT_EQ(back->needed, b->size());
}

TEST(FullStatus, TruncationKeepsCompleteDescriptors) {
    auto b = encode_full_status(two_node_status(), 16384);
    ASSERT_TRUE(b.ok());
    test::for_each_truncation(*b, [&](ByteView v) {
        auto r = parse_full_status(v);
        if (v.size() < 8) {
            EXPECT_FALSE(r.ok());
            return;
        }
        ASSERT_TRUE(r.ok()) << v.size() << ": " << r.error().msg;
        EXPECT_TRUE(r->truncated);
        EXPECT_LE(r->entries.size(), 1u);
        EXPECT_EQ(r->needed, b->size());
    });
}

TEST(FullStatus, LyingDescriptorLengthIsMalformed) {
    auto b = encode_full_status(two_node_status(), 16384);
    ASSERT_TRUE(b.ok());
    Bytes lie = *b;
    put_be32(lie, 8 + 20, 0x7fffffff);  // first descriptor claims a huge TransportID
    EXPECT_FALSE(parse_full_status(lie).ok());
    Bytes bad_tid = *b;
    bad_tid[8 + 24] = 0x0e;  // reserved protocol identifier
    EXPECT_FALSE(parse_full_status(bad_tid).ok());
    Bytes short_desc =
        hex("00 00 00 01 00 00 00 10 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00");
    EXPECT_FALSE(
        parse_full_status(short_desc).ok());  // 16 bytes cannot hold a 24-byte descriptor header
}

}  // namespace
}  // namespace prfence::wire
