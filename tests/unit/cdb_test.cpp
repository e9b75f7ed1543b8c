// SPDX-License-Identifier: MIT
// CDB vectors come from sg_persist 1.46 (`sg_persist -n -vv ... /dev/null` prints the CDB it would
// send).
#include "uring_engine/wire/cdb.h"

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace prfence::wire {
namespace {
using test::hex;

Bytes bytes_of(const Cdb& c) { return Bytes(c.bytes().begin(), c.bytes().end()); }

TEST(PrinCdb, MatchesSgPersist) {
    // sg_persist -i -k / -r / -c / -s (default allocation length 8192)
    EXPECT_EQ(bytes_of(prin_cdb(PrInAction::read_keys, 0x2000)),
              hex("5e 00 00 00 00 00 00 20 00 00"));
    EXPECT_EQ(bytes_of(prin_cdb(PrInAction::read_reservation, 0x2000)),
              hex("5e 01 00 00 00 00 00 20 00 00"));
    EXPECT_EQ(bytes_of(prin_cdb(PrInAction::report_capabilities, 0x2000)),
              hex("5e 02 00 00 00 00 00 20 00 00"));
    EXPECT_EQ(bytes_of(prin_cdb(PrInAction::read_full_status, 0x2000)),
              hex("5e 03 00 00 00 00 00 20 00 00"));
    // sg_persist -i -k --maxlen=100
    EXPECT_EQ(bytes_of(prin_cdb(PrInAction::read_keys, 100)), hex("5e 00 00 00 00 00 00 00 64 00"));
}

TEST(ProutCdb, MatchesSgPersist) {
    // -o -G; -o -R -T 3; -o -L -T 3; -o -C; -o -P -T 3; -o -A -T 5; -o -I; -o -z -T 7
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::register_key, PrType::none, 24)),
              hex("5f 00 00 00 00 00 00 00 18 00"));
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::reserve, PrType::exclusive_access, 24)),
              hex("5f 01 03 00 00 00 00 00 18 00"));
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::release, PrType::exclusive_access, 24)),
              hex("5f 02 03 00 00 00 00 00 18 00"));
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::clear, PrType::none, 24)),
              hex("5f 03 00 00 00 00 00 00 18 00"));
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::preempt, PrType::exclusive_access, 24)),
              hex("5f 04 03 00 00 00 00 00 18 00"));
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::preempt_and_abort,
                                 PrType::write_exclusive_registrants_only, 24)),
              hex("5f 05 05 00 00 00 00 00 18 00"));
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::register_and_ignore, PrType::none, 24)),
              hex("5f 06 00 00 00 00 00 00 18 00"));
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::register_and_move, PrType::write_exclusive, 0x30)),
              hex("5f 07 01 00 00 00 00 00 30 00"));
    EXPECT_EQ(
        bytes_of(prout_cdb(PrOutAction::replace_lost, PrType::write_exclusive_all_registrants, 24)),
        hex("5f 08 07 00 00 00 00 00 18 00"));
    // The 32-bit PARAMETER LIST LENGTH spans bytes 5-8.
    EXPECT_EQ(bytes_of(prout_cdb(PrOutAction::register_key, PrType::none, 0x01020304)),
              hex("5f 00 00 00 00 01 02 03 04 00"));
}

TEST(OtherCdbs, Layouts) {
    EXPECT_EQ(bytes_of(test_unit_ready_cdb()), hex("00 00 00 00 00 00"));
    EXPECT_EQ(bytes_of(inquiry_cdb(false, 0, 36)),
              hex("12 00 00 00 24 00"));  // sg_persist's INQUIRY
    EXPECT_EQ(bytes_of(inquiry_cdb(true, 0x83, 0xfc)), hex("12 01 83 00 fc 00"));
    EXPECT_EQ(bytes_of(report_luns_cdb(0, 8192)), hex("a0 00 00 00 00 00 00 00 20 00 00 00"));
    EXPECT_EQ(bytes_of(read_capacity16_cdb(32)),
              hex("9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00"));
    EXPECT_EQ(bytes_of(read10_cdb(0, 8)),
              hex("28 00 00 00 00 00 00 00 08 00"));  // the seed's dmesg line
    EXPECT_EQ(bytes_of(write10_cdb(0x01020304, 1)), hex("2a 00 01 02 03 04 00 00 01 00"));
    EXPECT_EQ(bytes_of(read16_cdb(0x1122334455667788ull, 0x10)),
              hex("88 00 11 22 33 44 55 66 77 88 00 00 00 10 00 00"));
    EXPECT_EQ(bytes_of(reserve6_cdb()), hex("16 00 00 00 00 00"));
    EXPECT_EQ(bytes_of(release6_cdb()), hex("17 00 00 00 00 00"));
}

TEST(CdbLength, FromGroupCode) {
    EXPECT_EQ(cdb_length_for_opcode(0x00), 6u);
    EXPECT_EQ(cdb_length_for_opcode(0x28), 10u);
    EXPECT_EQ(cdb_length_for_opcode(0x5f), 10u);
    EXPECT_EQ(cdb_length_for_opcode(0x88), 16u);
    EXPECT_EQ(cdb_length_for_opcode(0xa0), 12u);
    EXPECT_EQ(cdb_length_for_opcode(0x7f), 0u);
    EXPECT_EQ(cdb_length_for_opcode(0xc0), 0u);
}

TEST(CommandNames, ThreeSpellings) {
    EXPECT_STREQ(command_name(0x28), "READ(10)");
    EXPECT_STREQ(tracepoint_command_name(0x28), "READ_10");
    EXPECT_STREQ(dmesg_command_name(0x28), "Read(10)");
    EXPECT_STREQ(tracepoint_command_name(0x5f), "PERSISTENT_RESERVE_OUT");
    EXPECT_STREQ(dmesg_command_name(0x5f, 5), "Persistent reserve out, preempt and abort");
    EXPECT_STREQ(dmesg_command_name(0x5f, 8),
                 "Persistent reserve out");  // the kernel lacks REPLACE LOST
    EXPECT_STREQ(dmesg_command_name(0x5e, 0), "Persistent reserve in, read keys");
    EXPECT_STREQ(command_name(0xc7), "opcode 0xc7");
    EXPECT_EQ(tracepoint_command_name(0xc7), nullptr);
    EXPECT_EQ(opcode_from_tracepoint_name("WRITE_16"), uint8_t{0x8a});
    EXPECT_EQ(opcode_from_tracepoint_name("NOPE"), std::nullopt);
}

TEST(CommandClassTable, FencingRelevantOpcodes) {
    EXPECT_EQ(command_class(0x28), CommandClass::read);
    EXPECT_EQ(command_class(0x2a), CommandClass::write);
    EXPECT_EQ(command_class(0x35), CommandClass::write);
    EXPECT_EQ(command_class(0x12), CommandClass::always);
    EXPECT_EQ(command_class(0x00), CommandClass::always);
    EXPECT_EQ(command_class(0x5e), CommandClass::always);
    EXPECT_EQ(command_class(0x5f), CommandClass::pr_out);
    EXPECT_EQ(command_class(0x16), CommandClass::spc2);
    EXPECT_EQ(command_class(0xc7), CommandClass::other);
}

TEST(DecodeCdb, PrOut) {
    auto d = decode_cdb(hex("5f 05 03 00 00 00 00 00 18 00"));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->name, "PERSISTENT RESERVE OUT");
    EXPECT_EQ(d->service_action, uint8_t{5});
    EXPECT_EQ(d->type, uint8_t{3});
    EXPECT_EQ(d->length, 24u);
    EXPECT_EQ(d->detail, "PREEMPT AND ABORT, type Exclusive Access (3), parameter list length 24");
}

TEST(DecodeCdb, PrInAndReads) {
    auto d = decode_cdb(hex("5e 00 00 00 00 00 00 20 00 00"));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->detail, "READ KEYS, allocation length 8192");
    auto r = decode_cdb(hex("28 00 00 00 00 10 00 00 08 00"));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->lba, 16u);
    EXPECT_EQ(r->detail, "lba 16, 8 blocks");
    auto r6 = decode_cdb(hex("08 1f ff ff 00 00"));
    ASSERT_TRUE(r6.ok());
    EXPECT_EQ(r6->lba, 0x1fffffu);
    EXPECT_EQ(r6->length, 256u);
}

// One table for every block command's LBA and length; what prexplain reads from a "CDB:" log line
// and what decode_cdb prints.
TEST(BlockRange, EveryBlockCommandFromTheTable) {
    struct Case {
        const char* cdb;
        uint64_t lba;
        uint32_t blocks;
    };
    const Case cases[] = {
        {"08 1f ff ff 00 00", 0x1fffff, 256},  // READ 6: 21-bit LBA, 0 blocks = 256
        {"0a 00 01 02 08 00", 0x102, 8},       // WRITE 6
        {"28 00 00 00 10 00 00 00 08 00", 0x1000, 8},
        {"2a 00 ff ff ff ff 00 ff ff 00", 0xffffffff, 0xffff},
        {"2e 00 00 00 00 07 00 00 01 00", 7, 1},      // WRITE AND VERIFY 10
        {"2f 00 00 00 00 09 00 00 02 00", 9, 2},      // VERIFY 10
        {"41 00 00 00 00 20 00 00 10 00", 0x20, 16},  // WRITE SAME 10
        {"a8 00 00 00 00 01 00 01 00 00 00 00", 1, 0x10000},
        {"aa 00 00 00 00 02 00 00 00 03 00 00", 2, 3},
        {"ae 00 00 00 00 04 00 00 00 05 00 00", 4, 5},
        {"af 00 00 00 00 06 00 00 00 07 00 00", 6, 7},
        {"88 00 01 02 03 04 05 06 07 08 00 00 01 00 00 00", 0x0102030405060708ull, 0x100},
        {"8a 00 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", UINT64_MAX, UINT32_MAX},
        {"8e 00 00 00 00 00 00 00 00 0b 00 00 00 01 00 00", 11, 1},
        {"8f 00 00 00 00 00 00 00 00 0c 00 00 00 02 00 00", 12, 2},
        {"93 00 00 00 00 00 00 00 00 20 00 00 00 08 00 00", 0x20, 8},  // WRITE SAME 16
    };
    for (const auto& c : cases) {
        const auto b = hex(c.cdb);
        auto r = block_range(b);
        ASSERT_TRUE(r) << c.cdb;
        EXPECT_EQ(r->lba, c.lba) << c.cdb;
        EXPECT_EQ(r->blocks, c.blocks) << c.cdb;
        auto d = decode_cdb(b);
        ASSERT_TRUE(d.ok()) << c.cdb;
        EXPECT_EQ(d->lba, c.lba) << c.cdb;
        EXPECT_EQ(d->length, c.blocks) << c.cdb;
        // Every shorter CDB is refused, never read past its end.
        test::for_each_truncation(b, [&](ByteView v) {
            EXPECT_FALSE(block_range(v)) << c.cdb << " cut to " << v.size();
        });
    }
    for (const char* other : {"5f 05 03 00 00 00 00 00 18 00", "00 00 00 00 00 00",
                              "35 00 00 00 00 00 00 00 00 00", "c7"})
        EXPECT_FALSE(block_range(hex(other))) << other;
    EXPECT_FALSE(block_range({}));
}

TEST(DecodeCdb, RejectsShortAndEmpty) {
    EXPECT_FALSE(decode_cdb({}).ok());
    auto full = hex("5f 05 03 00 00 00 00 00 18 00");
    test::for_each_truncation(full, [](ByteView v) {
        auto d = decode_cdb(v);
        EXPECT_FALSE(d.ok()) << v.size();
    });
    // Vendor-specific group: any length decodes (nothing beyond the opcode is interpreted).
    EXPECT_TRUE(decode_cdb(hex("c7")).ok());
}

}  // namespace
}  // namespace prfence::wire

namespace prfence::wire {
namespace {

TEST(PrTypes, ParseEveryOperatorSpelling) {
    struct Case {
        const char* text;
        PrType want;
    } cases[] = {
        {"1", PrType::write_exclusive},
        {"3", PrType::exclusive_access},
        {"5", PrType::write_exclusive_registrants_only},
        {"6", PrType::exclusive_access_registrants_only},
        {"7", PrType::write_exclusive_all_registrants},
        {"8", PrType::exclusive_access_all_registrants},
        {"WE", PrType::write_exclusive},
        {"ea", PrType::exclusive_access},
        {"WE-RO", PrType::write_exclusive_registrants_only},
        {"ea_ro", PrType::exclusive_access_registrants_only},
        {"WE-AR", PrType::write_exclusive_all_registrants},
        {"EA-AR", PrType::exclusive_access_all_registrants},
        {"exclusive-access", PrType::exclusive_access},
        {"Exclusive Access, registrants only", PrType::exclusive_access_registrants_only},
        {"write_exclusive_all_registrants", PrType::write_exclusive_all_registrants},
    };
    for (const auto& c : cases) {
        auto r = parse_type(c.text);
        ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().msg;
        EXPECT_EQ(*r, c.want) << c.text;
    }
}

TEST(PrTypes, RejectsObsoleteAndJunk) {
    for (const char* bad : {"0", "2", "4", "9", "", "EX", "33", "write", "-"}) {
        auto r = parse_type(bad);
        EXPECT_FALSE(r.ok()) << bad;
    }
    EXPECT_NE(parse_type("2").error().msg.find("expected 1 (WE)"), std::string::npos);
}

TEST(PrTypes, NamesAndClasses) {
    EXPECT_STREQ(type_name(3), "Exclusive Access");
    EXPECT_STREQ(type_abbrev(6), "EA-RO");
    EXPECT_STREQ(type_name(2), "obsolete [2]");
    EXPECT_STREQ(type_name(12), "reserved type");
    EXPECT_TRUE(is_all_registrants(PrType::exclusive_access_all_registrants));
    EXPECT_FALSE(is_all_registrants(PrType::exclusive_access));
    EXPECT_TRUE(is_registrants_only(PrType::write_exclusive_registrants_only));
    EXPECT_STREQ(prout_action_name(PrOutAction::register_and_ignore),
                 "REGISTER AND IGNORE EXISTING KEY");
    EXPECT_STREQ(prin_action_name(uint8_t{9}), "reserved service action");
}

}  // namespace
}  // namespace prfence::wire
