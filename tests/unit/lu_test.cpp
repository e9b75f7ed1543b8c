// SPDX-License-Identifier: MIT
// The prsim logical unit's SCSI command set around persistent reservations: INQUIRY and VPD pages,
// TEST UNIT READY, REQUEST SENSE, READ CAPACITY, REPORT LUNS, READ/WRITE, SYNCHRONIZE CACHE, MODE
// SENSE, unit attention queues, malformed CDBs, the backing stores, the answers without data that
// lu.cpp and pr_state.cpp share, and configuration checks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "interposer/lu/answers.h"
#include "interposer/lu/backing.h"
#include "interposer/lu/pr_state.h"
#include "tests/support/lu_test_util.h"

namespace prfence::sim::test {
namespace {

const wire::TransportId kH = iscsi("iqn.2001-05.com.example:host", "1");
const wire::TransportId kS = sas(0x5000c50000000042);

std::unique_ptr<LogicalUnit> make_lu(LuConfig c = {}) {
    auto r = LogicalUnit::create(c);
    EXPECT_TRUE(r.ok()) << (r ? "" : r.error().msg);
    return r ? std::move(r).value() : nullptr;
}

class LuTest : public ::testing::Test {
  protected:
    void SetUp() override {
        lu = make_lu();
        H = Host(lu.get(), {kH, 2});
        EXPECT_EQ(H.drain_uas(), std::vector<std::string>{"29/00"});
    }
    std::unique_ptr<LogicalUnit> lu;
    Host H;
};

TEST_F(LuTest, InquiryStandardData) {
    auto r = H.cmd(wire::inquiry_cdb(false, 0, 255));
    ASSERT_TRUE(is_good(r));
    ASSERT_EQ(r.data_in.size(), 36u);
    EXPECT_EQ(r.data_in[0], 0x00);  // qualifier 0, direct access block device
    EXPECT_EQ(r.data_in[2], 0x06);  // SPC-4
    EXPECT_EQ(r.data_in[3] & 0x0f, 0x02);
    EXPECT_EQ(r.data_in[4], 31);
    EXPECT_EQ(r.data_in[6] & 0x10, 0x10);  // MULTIP: two target ports
    EXPECT_EQ(std::string(r.data_in.begin() + 8, r.data_in.begin() + 16), "PRFENCE ");
    EXPECT_EQ(std::string(r.data_in.begin() + 16, r.data_in.begin() + 32), "prsim           ");
    EXPECT_EQ(std::string(r.data_in.begin() + 32, r.data_in.begin() + 36), "0001");
    EXPECT_EQ(H.cmd(wire::inquiry_cdb(false, 0, 5)).data_in.size(), 5u);
    EXPECT_TRUE(H.cmd(wire::inquiry_cdb(false, 0, 0)).data_in.empty());
    EXPECT_TRUE(
        is_illegal(H.raw({0x12, 0x00, 0x80, 0, 36, 0}), 0x24, true, 2));  // page without EVPD
    EXPECT_TRUE(is_illegal(H.raw({0x12, 0x02, 0x00, 0, 36, 0}), 0x24, true, 1, 1));  // CMDDT
}

TEST_F(LuTest, InquiryVpdPages) {
    auto p0 = H.cmd(wire::inquiry_cdb(true, 0x00, 255));
    ASSERT_TRUE(is_good(p0));
    EXPECT_EQ(p0.data_in, (Bytes{0x00, 0x00, 0x00, 0x03, 0x00, 0x80, 0x83}));

    auto p80 = H.cmd(wire::inquiry_cdb(true, 0x80, 255));
    ASSERT_TRUE(is_good(p80));
    EXPECT_EQ(std::string(p80.data_in.begin() + 4, p80.data_in.end()), "55a7f4e000000000");
    EXPECT_EQ(p80.data_in[3], 16);

    auto p83 = H.cmd(wire::inquiry_cdb(true, 0x83, 255));
    ASSERT_TRUE(is_good(p83));
    const Bytes expected = {
        0x00, 0x83, 0x00, 0x14,
        // NAA IEEE Registered, binary, associated with the LU
        0x01, 0x03, 0x00, 0x08, 0x55, 0xa7, 0xf4, 0xe0, 0x00, 0x00, 0x00, 0x00,
        // relative target port 2, PIV with protocol iSCSI (5h), target port association
        0x51, 0x94, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02};
    EXPECT_EQ(p83.data_in, expected);
    EXPECT_TRUE(is_illegal(H.cmd(wire::inquiry_cdb(true, 0xb0, 255)), 0x24, true, 2));

    LuConfig c;
    c.lun = 7;
    c.serial = "SN-0007";
    c.naa = 0x5001405123456789;
    auto lu2 = make_lu(c);
    Host h(lu2.get(), {kS, 1});
    h.drain_uas();
    auto s80 = h.cmd(wire::inquiry_cdb(true, 0x80, 255));
    EXPECT_EQ(std::string(s80.data_in.begin() + 4, s80.data_in.end()), "SN-0007");
    auto s83 = h.cmd(wire::inquiry_cdb(true, 0x83, 255));
    ASSERT_GE(s83.data_in.size(), 24u);
    EXPECT_EQ(get_be64(s83.data_in, 8), 0x5001405123456789u);
    EXPECT_EQ(s83.data_in[16], 0x61);  // SAS
}

TEST_F(LuTest, UnitAttentionAtFirstCommandNotForInquiryReportLunsRequestSense) {
    Host N(lu.get(), {kS, 1});
    EXPECT_TRUE(is_good(N.cmd(wire::inquiry_cdb(false, 0, 36))));
    EXPECT_TRUE(is_good(N.cmd(wire::report_luns_cdb(0, 64))));
    EXPECT_TRUE(is_check(N.read10(), SenseKey::unit_attention, 0x29, 0x00));
    EXPECT_TRUE(is_good(N.read10()));
    // The same identity attaches to the same nexus, with nothing new pending.
    EXPECT_EQ(lu->attach({kS, 1}), N.id());
    EXPECT_TRUE(is_good(N.tur()));
    // Another target port is another I_T nexus.
    EXPECT_NE(lu->attach({kS, 2}), N.id());
}

// SAM-5 5.14 e) A): REQUEST SENSE reports pending sense data (none, with autosense) and preserves
// the unit attention.
TEST_F(LuTest, RequestSenseLeavesUnitAttentionsPending) {
    lu->queue_unit_attention(H.id(), 0x2a, 0x05);
    lu->queue_unit_attention(H.id(), 0x2a, 0x03);
    auto r = H.raw({0x03, 0x00, 0, 0, 252, 0});
    ASSERT_TRUE(is_good(r));
    auto s = wire::decode_sense(r.data_in);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->response_code, 0x70);
    EXPECT_EQ(s->key, SenseKey::no_sense);
    EXPECT_EQ(s->asc, 0);
    r = H.raw({0x03, 0x01, 0, 0, 252, 0});  // DESC: descriptor format
    s = wire::decode_sense(r.data_in);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->response_code, 0x72);
    EXPECT_EQ(H.raw({0x03, 0x00, 0, 0, 8, 0}).data_in.size(), 8u);
    EXPECT_EQ(H.drain_uas(), (std::vector<std::string>{"2A/05", "2A/03"}));
}

TEST_F(LuTest, UnitAttentionQueueResetsFirstNoDuplicatesOnePerCommand) {
    lu->queue_unit_attention(H.id(), 0x2a, 0x05);
    lu->queue_unit_attention(H.id(), 0x2a, 0x03);
    lu->queue_unit_attention(H.id(), 0x2a, 0x05);  // already pending
    lu->queue_unit_attention(H.id(), 0x29, 0x07);  // I_T NEXUS LOSS: resets go first
    lu->queue_unit_attention(H.id(), 0x29, 0x00);
    lu->queue_unit_attention(9999, 0x29, 0x00);  // unknown nexus: ignored
    EXPECT_EQ(H.drain_uas(), (std::vector<std::string>{"29/07", "29/00", "2A/05", "2A/03"}));
}

TEST_F(LuTest, TestUnitReadyAndReadCapacity) {
    EXPECT_TRUE(is_good(H.tur()));
    auto r = H.cmd(wire::read_capacity10_cdb());
    ASSERT_TRUE(is_good(r));
    EXPECT_EQ(r.data_in, (Bytes{0x00, 0x00, 0x07, 0xff, 0x00, 0x00, 0x02, 0x00}));
    r = H.cmd(wire::read_capacity16_cdb(32));
    ASSERT_TRUE(is_good(r));
    ASSERT_EQ(r.data_in.size(), 32u);
    EXPECT_EQ(get_be64(r.data_in, 0), 2047u);
    EXPECT_EQ(get_be32(r.data_in, 8), 512u);
    EXPECT_EQ(H.cmd(wire::read_capacity16_cdb(12)).data_in.size(), 12u);
}

TEST(LuCapacity, LargeCapacityAndMaximumTransfer) {
    LuConfig c;
    c.blocks = uint64_t{1} << 33;  // 4 TiB, sparse
    auto lu = make_lu(c);
    Host h(lu.get(), {kS, 1});
    h.drain_uas();
    auto r = h.cmd(wire::read_capacity10_cdb());
    EXPECT_EQ(get_be32(r.data_in, 0), 0xffffffffu);  // use READ CAPACITY(16)
    r = h.cmd(wire::read_capacity16_cdb(32));
    EXPECT_EQ(get_be64(r.data_in, 0), (uint64_t{1} << 33) - 1);
    // 8 MiB per command at most.
    EXPECT_TRUE(is_good(h.cmd(wire::read16_cdb((uint64_t{1} << 33) - 16384, 16384))));
    EXPECT_TRUE(is_illegal(h.cmd(wire::read16_cdb(0, 16385)), 0x24, true, 10));
    EXPECT_TRUE(is_illegal(h.cmd(wire::read10_cdb(0, 65535)), 0x24, true, 7));
    EXPECT_TRUE(
        is_check(h.cmd(wire::read16_cdb(~uint64_t{0}, 1)), SenseKey::illegal_request, 0x21, 0));
}

TEST_F(LuTest, ServiceActionIn16OnlyReadCapacity) {
    Bytes cdb(16, 0);
    cdb[0] = 0x9e;
    cdb[1] = 0x12;  // GET LBA STATUS: not implemented
    EXPECT_TRUE(is_illegal(H.raw(cdb), 0x24, true, 1, 4));
}

TEST_F(LuTest, ReportLuns) {
    auto r = H.cmd(wire::report_luns_cdb(0, 64));
    ASSERT_TRUE(is_good(r));
    EXPECT_EQ(r.data_in, (Bytes{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(H.cmd(wire::report_luns_cdb(2, 64)).data_in.size(), 16u);
    EXPECT_EQ(H.cmd(wire::report_luns_cdb(1, 64)).data_in, (Bytes{0, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_TRUE(is_illegal(H.cmd(wire::report_luns_cdb(0x10, 64)), 0x24, true, 2));
    EXPECT_EQ(H.cmd(wire::report_luns_cdb(0, 4)).data_in, (Bytes{0, 0, 0, 8}));

    LuConfig c;
    c.lun = 300;
    auto lu2 = make_lu(c);
    Host h(lu2.get(), {kS, 1});
    r = h.cmd(wire::report_luns_cdb(0, 64));
    ASSERT_TRUE(is_good(r));
    EXPECT_EQ(r.data_in[8], 0x41);  // flat space addressing
    EXPECT_EQ(r.data_in[9], 0x2c);
}

TEST_F(LuTest, ReadWriteRoundTripSparseAndRange) {
    EXPECT_TRUE(is_good(H.write10(10, 2, 0x5a)));
    auto r = H.read10(9, 4);
    ASSERT_TRUE(is_good(r));
    ASSERT_EQ(r.data_in.size(), 4u * 512);
    EXPECT_TRUE(
        std::all_of(r.data_in.begin(), r.data_in.begin() + 512, [](uint8_t b) { return b == 0; }));
    EXPECT_TRUE(std::all_of(r.data_in.begin() + 512, r.data_in.begin() + 1536,
                            [](uint8_t b) { return b == 0x5a; }));
    EXPECT_TRUE(
        std::all_of(r.data_in.begin() + 1536, r.data_in.end(), [](uint8_t b) { return b == 0; }));
    // 16-byte CDBs.
    Bytes data(512);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
    EXPECT_TRUE(is_good(H.cmd(wire::write16_cdb(2047, 1), data)));
    r = H.cmd(wire::read16_cdb(2047, 1));
    ASSERT_TRUE(is_good(r));
    EXPECT_EQ(r.data_in, data);
    // Range: LBA + length past the capacity; zero-length transfers at the end are fine.
    EXPECT_TRUE(is_check(H.read10(2047, 2), SenseKey::illegal_request, 0x21, 0x00));
    EXPECT_TRUE(is_check(H.write10(2048, 1), SenseKey::illegal_request, 0x21, 0x00));
    EXPECT_TRUE(is_check(H.read10(2049, 0), SenseKey::illegal_request, 0x21, 0x00));
    EXPECT_TRUE(is_good(H.read10(2048, 0)));
    EXPECT_TRUE(H.read10(0, 0).data_in.empty());
    EXPECT_TRUE(is_check(H.cmd(wire::read16_cdb(0xffffffffffffff00, 0x200)),
                         SenseKey::illegal_request, 0x21, 0));
    // Protection information is not supported.
    auto cdb = wire::read10_cdb(0, 1);
    cdb.b[1] = 0x20;
    EXPECT_TRUE(is_illegal(H.cmd(cdb), 0x24, true, 1, 7));
    // Less write data than the transfer length: INVALID FIELD IN COMMAND INFORMATION UNIT.
    EXPECT_TRUE(is_check(H.cmd(wire::write10_cdb(0, 2), Bytes(600, 1)), SenseKey::illegal_request,
                         0x0e, 0x03));
    // Writing zeros frees the block again (still reads zeros).
    EXPECT_TRUE(is_good(H.write10(10, 2, 0)));
    r = H.read10(10, 2);
    EXPECT_TRUE(std::all_of(r.data_in.begin(), r.data_in.end(), [](uint8_t b) { return b == 0; }));
}

TEST_F(LuTest, SynchronizeCache) {
    EXPECT_TRUE(is_good(H.cmd(wire::synchronize_cache10_cdb())));
    Bytes cdb = {0x35, 0, 0, 0, 0x08, 0x00, 0, 0, 0x01, 0};  // LBA 2048, 1 block
    EXPECT_TRUE(is_check(H.raw(cdb), SenseKey::illegal_request, 0x21, 0x00));
}

TEST_F(LuTest, ModeSenseMinimal) {
    auto r = H.raw({0x1a, 0, 0x3f, 0, 255, 0});
    ASSERT_TRUE(is_good(r));
    ASSERT_EQ(r.data_in.size(), 44u);  // header, block descriptor, caching, control
    EXPECT_EQ(r.data_in[0], 43);
    EXPECT_EQ(r.data_in[3], 8);
    EXPECT_EQ(get_be32(r.data_in, 4) & 0xffffff, 2048u);  // blocks (byte 4 is density code 0)
    EXPECT_EQ(r.data_in[12], 0x08);
    EXPECT_EQ(r.data_in[14] & 0x04, 0);  // WCE: no volatile cache in memory
    EXPECT_EQ(r.data_in[32], 0x0a);
    r = H.raw({0x1a, 0x08, 0x08, 0, 255, 0});  // DBD, caching page
    ASSERT_TRUE(is_good(r));
    EXPECT_EQ(r.data_in.size(), 24u);
    EXPECT_EQ(r.data_in[3], 0);
    EXPECT_EQ(H.raw({0x1a, 0, 0x3f, 0, 10, 0}).data_in.size(), 10u);
    EXPECT_TRUE(is_check(H.raw({0x1a, 0, 0xff, 0, 255, 0}), SenseKey::illegal_request, 0x39, 0x00));
    EXPECT_TRUE(is_illegal(H.raw({0x1a, 0, 0x1c, 0, 255, 0}), 0x24, true, 2, 5));
    EXPECT_TRUE(is_illegal(H.raw({0x1a, 0, 0x08, 1, 255, 0}), 0x24, true, 3));
    EXPECT_TRUE(is_good(H.raw({0x1a, 0, 0x7f, 0xff, 255, 0})));  // changeable values, all subpages
}

TEST_F(LuTest, MalformedCdbs) {
    EXPECT_TRUE(is_illegal(H.raw({}), 0x20, true, 0));
    EXPECT_TRUE(is_illegal(H.raw({0xc0}), 0x20, true, 0));  // vendor specific
    EXPECT_TRUE(
        is_illegal(H.raw({0x04, 0, 0, 0, 0, 0}), 0x20, true, 0));  // FORMAT UNIT: not implemented
    EXPECT_TRUE(
        is_illegal(H.raw({0x28, 0, 0, 0, 0, 0}), 0x24, true, 6));  // READ(10) cut to 6 bytes
    EXPECT_TRUE(is_illegal(H.raw({0x5f, 0x00}), 0x24, true, 2));
    auto r = lu->execute(12345, wire::test_unit_ready_cdb().bytes(), {});
    EXPECT_TRUE(is_check(r, SenseKey::illegal_request, 0x25, 0x00));
    Host port3(lu.get(), {kS, 3});  // the LU has target ports 1 and 2
    EXPECT_TRUE(
        is_check(port3.cmd(wire::inquiry_cdb(false, 0, 36)), SenseKey::illegal_request, 0x25, 0));
    EXPECT_TRUE(is_check(port3.reg(0, 1), SenseKey::illegal_request, 0x25, 0x00));
}

TEST_F(LuTest, AnyBytesNeverCrashAndAnswerWellFormed) {
    std::mt19937 rng(1234);
    Host other(lu.get(), {kS, 1});
    other.drain_uas();
    for (int i = 0; i < 20000; ++i) {
        Bytes cdb(rng() % 18);
        for (auto& b : cdb) b = static_cast<uint8_t>(rng());
        if (!cdb.empty() && rng() % 2) {
            static const uint8_t ops[] = {0x00, 0x03, 0x12, 0x16, 0x17, 0x1a, 0x25, 0x28, 0x2a,
                                          0x35, 0x56, 0x57, 0x5e, 0x5f, 0x88, 0x8a, 0x9e, 0xa0};
            cdb[0] = ops[rng() % std::size(ops)];
        }
        Bytes data(rng() % 80);
        for (auto& b : data) b = static_cast<uint8_t>(rng());
        auto r = (i % 2 ? H : other).raw(cdb, data);
        ASSERT_TRUE(r.status == wire::sam::good || r.status == wire::sam::check_condition ||
                    r.status == wire::sam::reservation_conflict);
        ASSERT_EQ(r.status == wire::sam::check_condition, !r.sense.empty());
        if (!r.sense.empty()) {
            ASSERT_TRUE(wire::decode_sense(r.sense).ok());
        }
    }
}

TEST_F(LuTest, LostReservationInformationGatesCommands) {
    lu->lose_persistent_reservations();
    EXPECT_TRUE(is_check(H.read10(), SenseKey::data_protect, 0x44, 0x01));
    EXPECT_TRUE(is_check(H.tur(), SenseKey::data_protect, 0x44, 0x01));
    EXPECT_TRUE(is_check(H.cmd(wire::read_capacity10_cdb()), SenseKey::data_protect, 0x44, 0x01));
    EXPECT_TRUE(is_good(H.cmd(wire::inquiry_cdb(false, 0, 36))));
    EXPECT_TRUE(is_good(H.cmd(wire::report_luns_cdb(0, 64))));
    EXPECT_TRUE(is_good(H.raw({0x03, 0, 0, 0, 18, 0})));
    ASSERT_TRUE(is_good(H.replace_lost(EA, 0x77)));
    EXPECT_TRUE(is_good(H.read10()));
}

TEST(LuBackingFile, PersistsDataAndIsSized) {
    TempDir dir;
    LuConfig c;
    c.blocks = 1 << 20;  // 512 MiB, sparse
    c.backing_file = dir / "lu.img";
    {
        auto lu = make_lu(c);
        Host h(lu.get(), {kS, 1});
        h.drain_uas();
        EXPECT_TRUE(is_good(h.write10(1000, 3, 0x42)));
        EXPECT_TRUE(is_good(h.cmd(wire::synchronize_cache10_cdb())));
        auto ms = h.raw({0x1a, 0x08, 0x08, 0, 255, 0});
        EXPECT_EQ(ms.data_in[6] & 0x04,
                  0x04);  // WCE: writes sit in the page cache until SYNCHRONIZE
    }
    struct stat st {};
    ASSERT_EQ(::stat(c.backing_file->c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), uint64_t{512} << 20);
    EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{1} << 20);  // sparse
    auto lu = make_lu(c);
    Host h(lu.get(), {kS, 1});
    h.drain_uas();
    auto r = h.read10(999, 5);
    ASSERT_TRUE(is_good(r));
    EXPECT_EQ(std::count(r.data_in.begin(), r.data_in.end(), 0x42), 3 * 512);
    // A file of another size is refused, naming it.
    LuConfig small = c;
    small.blocks = 100;
    auto bad = LogicalUnit::create(small);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().msg.find("lu.img"), std::string::npos);
}

// ---- answers.h ------------------------------------------------------------------------------

TEST(LuAnswers, CheckIsFixedFormatSenseWithKeyAndCode) {
    CommandResult r = check(SenseKey::unit_attention, 0x2a, 0x05);
    EXPECT_EQ(r.status, wire::sam::check_condition);
    EXPECT_EQ(r.sense, wire::make_fixed_sense(SenseKey::unit_attention, 0x2a, 0x05));
    ASSERT_EQ(r.sense.size(), 18u);
    EXPECT_EQ(r.sense[0], 0x70);  // current error, fixed format
    EXPECT_EQ(r.sense[2], 0x06);
    EXPECT_EQ(r.sense[12], 0x2a);
    EXPECT_EQ(r.sense[13], 0x05);
    EXPECT_TRUE(r.data_in.empty());
    EXPECT_TRUE(r.aborted_nexuses.empty());
}

TEST(LuAnswers, ConflictHasNoSense) {
    CommandResult r = conflict();
    EXPECT_EQ(r.status, wire::sam::reservation_conflict);
    EXPECT_TRUE(r.sense.empty());
    PrCommandResult p = conflict();
    EXPECT_EQ(p.status, wire::sam::reservation_conflict);
    EXPECT_TRUE(p.sense.empty());
    EXPECT_FALSE(p.state_changed);
}

TEST(LuAnswers, InvalidCdbPointsAtTheField) {
    CommandResult byte_only = invalid_cdb(7);
    EXPECT_EQ(byte_only.status, wire::sam::check_condition);
    auto s = wire::decode_sense(byte_only.sense);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->key, SenseKey::illegal_request);
    EXPECT_EQ(s->asc, 0x24);
    EXPECT_EQ(s->ascq, 0x00);
    ASSERT_TRUE(s->field_pointer);
    EXPECT_TRUE(s->field_pointer->cd);
    EXPECT_FALSE(s->field_pointer->bpv);
    EXPECT_EQ(s->field_pointer->byte, 7);

    PrCommandResult with_bit = invalid_cdb(1, 4);
    EXPECT_TRUE(with_bit.unit_attentions.empty());
    auto b = wire::decode_sense(with_bit.sense);
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(b->field_pointer);
    EXPECT_TRUE(b->field_pointer->bpv);
    EXPECT_EQ(b->field_pointer->bit, 4);
    EXPECT_EQ(b->field_pointer->byte, 1);
    EXPECT_EQ(with_bit.sense,
              wire::make_fixed_sense_field_pointer(SenseKey::illegal_request, 0x24, 0, true, 1, 4));
}

TEST(LuAnswers, AssignsOverAnEarlierResult) {
    CommandResult r;
    r.data_in = {1, 2, 3};
    r = check(SenseKey::not_ready, 0x08, 0x00);
    EXPECT_EQ(r.status, wire::sam::check_condition);
    EXPECT_TRUE(r.data_in.empty());
}

// ---- backing.h ------------------------------------------------------------------------------

Bytes pattern(size_t n, uint8_t seed) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
    return b;
}

TEST(LuBacking, MemoryReadsZerosUntilWritten) {
    auto m = memory_backing(512);
    EXPECT_FALSE(m->volatile_cache());
    Bytes out(3 * 512, 0xee);
    ASSERT_TRUE(m->read(100, 3, out.data()));
    EXPECT_EQ(out, Bytes(3 * 512, 0));

    const Bytes data = pattern(2 * 512, 1);
    ASSERT_TRUE(m->write(101, 2, data.data()));
    ASSERT_TRUE(m->read(100, 3, out.data()));
    EXPECT_EQ(Bytes(out.begin(), out.begin() + 512), Bytes(512, 0));
    EXPECT_EQ(Bytes(out.begin() + 512, out.end()), data);

    // Zeros written over a block read back as zeros (the block is dropped).
    const Bytes zeros(512, 0);
    ASSERT_TRUE(m->write(101, 1, zeros.data()));
    ASSERT_TRUE(m->read(101, 2, out.data()));
    EXPECT_EQ(Bytes(out.begin(), out.begin() + 512), zeros);
    EXPECT_EQ(Bytes(out.begin() + 512, out.begin() + 1024), Bytes(data.begin() + 512, data.end()));
    EXPECT_TRUE(m->flush());
}

TEST(LuBacking, FileIsCreatedSizedAndReadBack) {
    TempDir dir;
    const auto path = dir / "store.img";
    const uint64_t bytes = 4096 * 64;
    {
        auto f = open_backing_file(path, bytes, 4096);
        ASSERT_TRUE(f.ok()) << f.error().msg;
        EXPECT_TRUE((*f)->volatile_cache());
        const Bytes data = pattern(2 * 4096, 9);
        ASSERT_TRUE((*f)->write(62, 2, data.data()));
        ASSERT_TRUE((*f)->flush());
        Bytes out(2 * 4096);
        ASSERT_TRUE((*f)->read(62, 2, out.data()));
        EXPECT_EQ(out, data);
        ASSERT_TRUE((*f)->read(0, 1, out.data()));
        EXPECT_EQ(Bytes(out.begin(), out.begin() + 4096), Bytes(4096, 0));
    }
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), bytes);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // Opened again with the same size: the data is still there.
    auto again = open_backing_file(path, bytes, 4096);
    ASSERT_TRUE(again.ok()) << again.error().msg;
    Bytes out(4096);
    ASSERT_TRUE((*again)->read(63, 1, out.data()));
    const Bytes written = pattern(2 * 4096, 9);
    EXPECT_EQ(out, Bytes(written.begin() + 4096, written.end()));

    // Blocks past the file's end (it was cut short behind the LU's back) read as zeros.
    ASSERT_EQ(::truncate(path.c_str(), 4096 * 63), 0);
    out.assign(4096, 0xee);
    ASSERT_TRUE((*again)->read(63, 1, out.data()));
    EXPECT_EQ(out, Bytes(4096, 0));
}

TEST(LuBacking, FileErrorsNameTheFile) {
    TempDir dir;
    auto missing_dir = open_backing_file(dir / "no" / "such" / "store.img", 4096, 512);
    ASSERT_FALSE(missing_dir.ok());
    EXPECT_EQ(missing_dir.error().code, Errc::system);
    EXPECT_EQ(missing_dir.error().sys_errno, ENOENT);
    EXPECT_NE(missing_dir.error().msg.find("store.img"), std::string::npos);

    const auto path = dir / "sized.img";
    ASSERT_TRUE(open_backing_file(path, 8192, 512).ok());
    auto wrong = open_backing_file(path, 4096, 512);
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.error().code, Errc::invalid_argument);
    EXPECT_NE(wrong.error().msg.find("sized.img has 8192 bytes"), std::string::npos)
        << wrong.error().msg;
}

TEST(LuConfigCheck, RefusesBadConfigurations) {
    auto refused = [](LuConfig c, const std::string& what) {
        auto r = LogicalUnit::create(c);
        ASSERT_FALSE(r.ok()) << what;
        EXPECT_NE(r.error().msg.find(what), std::string::npos) << r.error().msg;
    };
    LuConfig c;
    c.block_size = 0;
    refused(c, "block size");
    c = {};
    c.blocks = 0;
    refused(c, "block");
    c = {};
    c.target_ports = 0;
    refused(c, "target port");
    c = {};
    c.lun = 16384;
    refused(c, "16383");
    c = {};
    c.vendor = "TOOLONGVENDOR";
    refused(c, "vendor");
    c = {};
    c.product = "bad\x01";
    refused(c, "printable");
    c = {};
    c.naa = 0x6000000000000001;
    refused(c, "NAA");
    c = {};
    c.blocks = uint64_t{1} << 62;
    refused(c, "capacity");
}

}  // namespace
}  // namespace prfence::sim::test
