// SPDX-License-Identifier: MIT
// Parameter-list vectors come from sg_persist 1.46 (`sg_persist -n -vv -o ... /dev/null`).
#include "uring_engine/wire/prout.h"

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace prfence::wire {
namespace {
using test::hex;

Bytes cdb_bytes(const ProutCommand& c) { return Bytes(c.cdb.bytes().begin(), c.cdb.bytes().end()); }

TEST(ProutParams, RegisterNewKey) {
    // sg_persist -o -G -S abc123
    auto c = build_prout(PrOutAction::register_key, PrType::none, {.key = 0, .sa_key = 0xabc123});
    ASSERT_TRUE(c.ok()) << c.error().msg;
    EXPECT_EQ(cdb_bytes(*c), hex("5f 00 00 00 00 00 00 00 18 00"));
    EXPECT_EQ(c->data,
              hex("00 00 00 00 00 00 00 00 00 00 00 00 00 ab c1 23 00 00 00 00 00 00 00 00"));
}

TEST(ProutParams, UnregisterIsRegisterWithZeroSaKey) {
    // sg_persist -o -G -K abc123 -S 0
    auto c = build_prout(PrOutAction::register_key, PrType::none, {.key = 0xabc123, .sa_key = 0});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->data,
              hex("00 00 00 00 00 ab c1 23 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
}

TEST(ProutParams, ReserveReleaseClear) {
    // sg_persist -o -R -K abc123 -T 3 ; -o -L ... ; -o -C -K abc123
    const Bytes key_only =
        hex("00 00 00 00 00 ab c1 23 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    auto r = build_prout(PrOutAction::reserve, PrType::exclusive_access, {.key = 0xabc123});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(cdb_bytes(*r), hex("5f 01 03 00 00 00 00 00 18 00"));
    EXPECT_EQ(r->data, key_only);
    auto l = build_prout(PrOutAction::release, PrType::exclusive_access, {.key = 0xabc123});
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(cdb_bytes(*l), hex("5f 02 03 00 00 00 00 00 18 00"));
    EXPECT_EQ(l->data, key_only);
    auto cl = build_prout(PrOutAction::clear, PrType::exclusive_access, {.key = 0xabc123});
    ASSERT_TRUE(cl.ok());
    EXPECT_EQ(cdb_bytes(*cl),
              hex("5f 03 00 00 00 00 00 00 18 00"));  // CLEAR ignores TYPE: sent as 0
}

TEST(ProutParams, PreemptAndAbort) {
    // sg_persist -o -A -K 123abc -S abc123 -T 5
    auto c = build_prout(PrOutAction::preempt_and_abort, PrType::write_exclusive_registrants_only,
                         {.key = 0x123abc, .sa_key = 0xabc123});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(cdb_bytes(*c), hex("5f 05 05 00 00 00 00 00 18 00"));
    EXPECT_EQ(c->data,
              hex("00 00 00 00 00 12 3a bc 00 00 00 00 00 ab c1 23 00 00 00 00 00 00 00 00"));
}

TEST(ProutParams, RegisterAndIgnoreWithAptpl) {
    // sg_persist -o -I -S 0x1122334455667788 -Z
    auto c = build_prout(PrOutAction::register_and_ignore, PrType::none,
                         {.sa_key = 0x1122334455667788ull, .aptpl = true});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(cdb_bytes(*c), hex("5f 06 00 00 00 00 00 00 18 00"));
    EXPECT_EQ(c->data,
              hex("00 00 00 00 00 00 00 00 11 22 33 44 55 66 77 88 00 00 00 00 01 00 00 00"));
}

TEST(ProutParams, AllTgPt) {
    // sg_persist -o -G -S 1 --param-alltgpt
    auto c = build_prout(PrOutAction::register_key, PrType::none, {.sa_key = 1, .all_tg_pt = true});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->data,
              hex("00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 04 00 00 00"));
}

TEST(ProutParams, ReplaceLost) {
    // sg_persist -o -z -S 0x99 -T 7
    auto c = build_prout(PrOutAction::replace_lost, PrType::write_exclusive_all_registrants,
                         {.sa_key = 0x99});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(cdb_bytes(*c), hex("5f 08 07 00 00 00 00 00 18 00"));
    EXPECT_EQ(c->data,
              hex("00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 99 00 00 00 00 00 00 00 00"));
}

TEST(ProutParams, SpecIptIscsi) {
    // sg_persist -o -G -S 123abc -X iqn.2001-05.com.example:node-b,i,0x23d000001
    TransportId t;
    t.protocol = ProtocolId::iscsi;
    t.format = 1;
    t.iscsi_name = "iqn.2001-05.com.example:node-b";
    t.iscsi_isid = "23d000001";
    auto c = build_prout(PrOutAction::register_key, PrType::none,
                         {.sa_key = 0x123abc, .spec_i_pt = true, .transport_ids = {t}});
    ASSERT_TRUE(c.ok()) << c.error().msg;
    EXPECT_EQ(cdb_bytes(*c), hex("5f 00 00 00 00 00 00 00 50 00"));
    EXPECT_EQ(c->data, hex("00 00 00 00 00 00 00 00 00 00 00 00 00 12 3a bc"
                           "00 00 00 00 08 00 00 00 00 00 00 34 45 00 00 30"
                           "69 71 6e 2e 32 30 30 31 2d 30 35 2e 63 6f 6d 2e"
                           "65 78 61 6d 70 6c 65 3a 6e 6f 64 65 2d 62 2c 69"
                           "2c 30 78 32 33 64 30 30 30 30 30 31 00 00 00 00"));
    auto back = decode_prout_params(c->data);
    ASSERT_TRUE(back.ok()) << back.error().msg;
    EXPECT_EQ(back->transport_ids.size(), 1u);
    EXPECT_EQ(back->transport_ids[0].iscsi_name, "iqn.2001-05.com.example:node-b");
}

TEST(ProutParams, RegisterAndMove) {
    // sg_persist -o -M -K abc123 -S 123abc -T 1 -X sas,5000c50005b32001 --relative-target-port=2 -U
    TransportId t;
    t.protocol = ProtocolId::sas;
    t.name = 0x5000c50005b32001ull;
    auto c = build_register_and_move(
        PrType::write_exclusive,
        {.key = 0xabc123, .sa_key = 0x123abc, .unreg = true, .rel_tgt_port = 2, .transport_id = t});
    ASSERT_TRUE(c.ok()) << c.error().msg;
    EXPECT_EQ(cdb_bytes(*c), hex("5f 07 01 00 00 00 00 00 30 00"));
    const Bytes want =
        hex("00 00 00 00 00 ab c1 23 00 00 00 00 00 12 3a bc"
            "00 02 00 02 00 00 00 18 06 00 00 00 50 00 c5 00"
            "05 b3 20 01 00 00 00 00 00 00 00 00 00 00 00 00");
    EXPECT_EQ(c->data, want);
    auto back = decode_prout_move_params(want);
    ASSERT_TRUE(back.ok()) << back.error().msg;
    EXPECT_TRUE(back->unreg);
    EXPECT_FALSE(back->aptpl);
    EXPECT_EQ(back->rel_tgt_port, 2);
    EXPECT_EQ(back->transport_id, t);
    EXPECT_EQ(back->sa_key, 0x123abcu);
}

TEST(ProutParams, BuildRefusesNonsense) {
    EXPECT_FALSE(build_prout(PrOutAction::reserve, PrType::none, {.key = 1}).ok());
    EXPECT_FALSE(build_prout(PrOutAction::preempt, static_cast<PrType>(2), {.key = 1}).ok());
    EXPECT_FALSE(
        build_prout(PrOutAction::register_and_move, PrType::exclusive_access, {.key = 1}).ok());
    EXPECT_FALSE(build_prout(PrOutAction::register_key, PrType::none, {.spec_i_pt = true}).ok());
    TransportId t{.protocol = ProtocolId::sas, .name = 1};
    EXPECT_FALSE(build_prout(PrOutAction::register_key, PrType::none, {.transport_ids = {t}}).ok());
    // SPC-4 forbids SPEC_I_PT with REGISTER AND IGNORE EXISTING KEY.
    EXPECT_FALSE(build_prout(PrOutAction::register_and_ignore, PrType::none,
                             {.spec_i_pt = true, .transport_ids = {t}})
                     .ok());
    EXPECT_FALSE(build_register_and_move(PrType::none, {.transport_id = t}).ok());
}

TEST(ProutDecode, BasicRoundTrip) {
    ProutParams p{.key = 0x1111, .sa_key = 0x2222, .aptpl = true, .all_tg_pt = true};
    auto b = encode_prout_params(p);
    ASSERT_TRUE(b.ok());
    auto back = decode_prout_params(*b);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, p);
}

TEST(ProutDecode, LengthErrorsAreParameterListLengthErrors) {
    ParamError why;
    Bytes b(23, 0);
    EXPECT_FALSE(decode_prout_params(b, &why).ok());
    EXPECT_EQ(why.kind, ParamError::Kind::length);
    b.resize(25);  // 25 bytes without SPEC_I_PT
    why = {};
    EXPECT_FALSE(decode_prout_params(b, &why).ok());
    EXPECT_EQ(why.kind, ParamError::Kind::length);
    // SPEC_I_PT with a TransportID length that lies (says 24, 4 follow).
    Bytes s(32, 0);
    s[20] = 0x08;
    put_be32(s, 24, 24);
    why = {};
    EXPECT_FALSE(decode_prout_params(s, &why).ok());
    EXPECT_EQ(why.kind, ParamError::Kind::length);
    EXPECT_EQ(why.field_offset, 24);
    // SPEC_I_PT without the length field at all.
    Bytes t(24, 0);
    t[20] = 0x08;
    EXPECT_FALSE(decode_prout_params(t, &why).ok());
}

TEST(ProutDecode, BadTransportIdIsInvalidField) {
    // SPEC_I_PT with 24 bytes of TransportID using protocol 0xE (reserved).
    Bytes s(24 + 4 + 24, 0);
    s[20] = 0x08;
    put_be32(s, 24, 24);
    s[28] = 0x0e;
    ParamError why;
    EXPECT_FALSE(decode_prout_params(s, &why).ok());
    EXPECT_EQ(why.kind, ParamError::Kind::invalid_field);
}

TEST(ProutDecode, MoveHostile) {
    ParamError why;
    Bytes m =
        hex("00 00 00 00 00 ab c1 23 00 00 00 00 00 12 3a bc"
            "00 02 00 02 00 00 00 18 06 00 00 00 50 00 c5 00"
            "05 b3 20 01 00 00 00 00 00 00 00 00 00 00 00 00");
    test::for_each_truncation(m,
                              [](ByteView v) { EXPECT_FALSE(decode_prout_move_params(v).ok()); });
    Bytes lie = m;
    put_be32(lie, 20, 0xffffffff);
    EXPECT_FALSE(decode_prout_move_params(lie, &why).ok());
    EXPECT_EQ(why.kind, ParamError::Kind::length);
    Bytes two = m;  // two TransportIDs where exactly one belongs
    two.insert(two.end(), m.begin() + 24, m.end());
    put_be32(two, 20, 48);
    EXPECT_FALSE(decode_prout_move_params(two, &why).ok());
    EXPECT_EQ(why.kind, ParamError::Kind::invalid_field);
}

}  // namespace
}  // namespace prfence::wire
