// SPDX-License-Identifier: MIT
// NVMe reservation command codec: golden dwords and data bytes, the refusals, and decode(encode)
// round trips over every action.
#include "uring_engine/wire/nvme_cmd.h"

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace prfence::wire::nvme {
namespace {
using test::hex;

TEST(NvmeTypes, TypeMappingBothWays) {
    const std::pair<Rtype, PrType> pairs[] = {
        {Rtype::write_exclusive, PrType::write_exclusive},
        {Rtype::exclusive_access, PrType::exclusive_access},
        {Rtype::write_exclusive_registrants_only, PrType::write_exclusive_registrants_only},
        {Rtype::exclusive_access_registrants_only, PrType::exclusive_access_registrants_only},
        {Rtype::write_exclusive_all_registrants, PrType::write_exclusive_all_registrants},
        {Rtype::exclusive_access_all_registrants, PrType::exclusive_access_all_registrants},
    };
    for (auto [n, s] : pairs) {
        EXPECT_EQ(to_scsi(n), s);
        EXPECT_EQ(from_scsi(s), n);
        EXPECT_STREQ(rtype_name(static_cast<uint8_t>(n)), type_name(s));
    }
    // Numbers differ: NVMe 3 is SCSI 5, NVMe 6 is SCSI 8.
    EXPECT_EQ(static_cast<int>(*to_scsi(Rtype::write_exclusive_registrants_only)), 5);
    EXPECT_EQ(static_cast<int>(*from_scsi(PrType::exclusive_access_all_registrants)), 6);
    EXPECT_EQ(to_scsi(Rtype::none), std::nullopt);
    EXPECT_EQ(to_scsi(static_cast<Rtype>(7)), std::nullopt);
    EXPECT_EQ(from_scsi(PrType::none), std::nullopt);
    EXPECT_EQ(from_scsi(static_cast<PrType>(2)), std::nullopt);
    EXPECT_STREQ(rtype_name(0), "none");
    EXPECT_STREQ(rtype_name(7), "reserved [7]");
    EXPECT_STREQ(rtype_name(255), "reserved [255]");
    EXPECT_STREQ(rtype_name(1), "Write Exclusive");
}

TEST(NvmeTypes, LittleEndianHelpers) {
    Bytes b(8);
    put_le64(b, 0, 0x0102030405060708ull);
    EXPECT_EQ(b, hex("08 07 06 05 04 03 02 01"));
    EXPECT_EQ(get_le64(b, 0), 0x0102030405060708ull);
    EXPECT_EQ(get_le32(b, 1), 0x04050607u);
    EXPECT_EQ(get_le16(b, 5), 0x0203u);
}

TEST(NvmeCmd, RegisterGolden) {
    auto c = register_cmd(
        1, {RegisterAction::register_key, false, Cptpl::no_change, 0, 0x1122334455667788ull});
    ASSERT_TRUE(c.ok()) << c.error().msg;
    EXPECT_FALSE(c->admin);
    EXPECT_EQ(c->opcode, 0x0d);
    EXPECT_EQ(c->nsid, 1u);
    EXPECT_EQ(c->cdw10, 0u);
    EXPECT_EQ(c->dir, DataDir::to_device);
    EXPECT_EQ(c->data_len, 16u);
    EXPECT_EQ(c->data, hex("00 00 00 00 00 00 00 00 88 77 66 55 44 33 22 11"));

    // Replace with IEKEY and CPTPL persist: bits 31:30 = 3, bit 3, RREGA 2.
    auto r = register_cmd(2, {RegisterAction::replace, true, Cptpl::persist, 0xabc, 0xdef});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->cdw10, 0xc000000au);
    EXPECT_EQ(r->data, hex("bc 0a 00 00 00 00 00 00 ef 0d 00 00 00 00 00 00"));
    auto clear = register_cmd(2, {RegisterAction::register_key, false, Cptpl::clear, 0, 5});
    ASSERT_TRUE(clear.ok());
    EXPECT_EQ(clear->cdw10, 0x80000000u);

    // Unregister: NRKEY is not used and goes out as 0 whatever the caller left there.
    auto u = register_cmd(1, {RegisterAction::unregister, false, Cptpl::no_change, 0xabc, 0x99});
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(u->cdw10, 1u);
    EXPECT_EQ(u->data, hex("bc 0a 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
}

TEST(NvmeCmd, RegisterRefusesKeyZeroAsNewKey) {
    auto reg = register_cmd(1, {RegisterAction::register_key, false, Cptpl::no_change, 0, 0});
    ASSERT_FALSE(reg.ok());
    EXPECT_EQ(reg.error().code, Errc::invalid_argument);
    EXPECT_NE(reg.error().msg.find("new key 0"), std::string::npos) << reg.error().msg;
    auto rep = register_cmd(1, {RegisterAction::replace, true, Cptpl::no_change, 0x1, 0});
    EXPECT_FALSE(rep.ok());
    // Unregister with CRKEY 0 names the host's current key 0: allowed (nothing new is set).
    EXPECT_TRUE(register_cmd(1, {RegisterAction::unregister, false, Cptpl::no_change, 0, 0}).ok());
}

TEST(NvmeCmd, RegisterRefusesReservedValues) {
    EXPECT_FALSE(register_cmd(1, {static_cast<RegisterAction>(3), false, Cptpl::no_change, 0, 1}));
    EXPECT_FALSE(
        register_cmd(1, {RegisterAction::register_key, false, static_cast<Cptpl>(1), 0, 1}));
    EXPECT_FALSE(
        register_cmd(1, {RegisterAction::register_key, false, static_cast<Cptpl>(4), 0, 1}));
}

TEST(NvmeCmd, AcquireGolden) {
    // Preempt-and-abort of type 3 (WE-RO): CDW10 = RTYPE 3 << 8 | RACQA 2.
    auto c = acquire_cmd(1, {AcquireAction::preempt_and_abort, false, 3, 0xaa, 0xbb});
    ASSERT_TRUE(c.ok()) << c.error().msg;
    EXPECT_EQ(c->opcode, 0x11);
    EXPECT_EQ(c->cdw10, 0x0302u);
    EXPECT_EQ(c->data, hex("aa 00 00 00 00 00 00 00 bb 00 00 00 00 00 00 00"));
    auto a = acquire_cmd(7, {AcquireAction::acquire, true, 6, 0x1, 0x2});
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->cdw10, 0x0608u);  // IEKEY bit 3
    EXPECT_EQ(a->nsid, 7u);
    // Acquire does not use PRKEY: sent as 0.
    EXPECT_EQ(a->data, hex("01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
    auto p = acquire_cmd(1, {AcquireAction::preempt, false, 1, 0x1, 0x2});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->cdw10, 0x0101u);
}

TEST(NvmeCmd, AcquireRefuses) {
    EXPECT_FALSE(acquire_cmd(1, {AcquireAction::acquire, false, 0, 1, 0}));
    EXPECT_FALSE(acquire_cmd(1, {AcquireAction::acquire, false, 7, 1, 0}));
    EXPECT_FALSE(acquire_cmd(1, {static_cast<AcquireAction>(3), false, 1, 1, 0}));
}

TEST(NvmeCmd, ReleaseGolden) {
    auto c = release_cmd(1, {ReleaseAction::release, false, 5, 0x0102030405060708ull});
    ASSERT_TRUE(c.ok()) << c.error().msg;
    EXPECT_EQ(c->opcode, 0x15);
    EXPECT_EQ(c->cdw10, 0x0500u);
    EXPECT_EQ(c->data_len, 8u);
    EXPECT_EQ(c->data, hex("08 07 06 05 04 03 02 01"));
    auto clr = release_cmd(1, {ReleaseAction::clear, false, 0, 0x5});
    ASSERT_TRUE(clr.ok());
    EXPECT_EQ(clr->cdw10, 0x1u);
    EXPECT_FALSE(release_cmd(1, {ReleaseAction::release, false, 0, 1}));
    EXPECT_FALSE(release_cmd(1, {static_cast<ReleaseAction>(2), false, 1, 1}));
}

TEST(NvmeCmd, ReportNumd) {
    auto c = report_cmd(1, true, 4096);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->opcode, 0x0e);
    EXPECT_EQ(c->cdw10, 1023u);
    EXPECT_EQ(c->cdw11, 1u);
    EXPECT_EQ(c->dir, DataDir::from_device);
    EXPECT_EQ(c->data_len, 4096u);
    EXPECT_TRUE(c->data.empty());
    auto s = report_cmd(1, false, 24);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->cdw10, 5u);
    EXPECT_EQ(s->cdw11, 0u);
    EXPECT_FALSE(report_cmd(1, false, 26));  // not a multiple of 4
    EXPECT_FALSE(report_cmd(1, false, 20));  // under the header
    EXPECT_FALSE(report_cmd(1, true, 60));   // under the extended header
    EXPECT_FALSE(report_cmd(1, true, 0));
}

TEST(NvmeCmd, AdminCommands) {
    auto ns = identify_ns(2);
    ASSERT_TRUE(ns.ok());
    EXPECT_TRUE(ns->admin);
    EXPECT_EQ(ns->opcode, 0x06);
    EXPECT_EQ(ns->nsid, 2u);
    EXPECT_EQ(ns->cdw10, 0u);
    EXPECT_EQ(ns->data_len, 4096u);
    EXPECT_EQ(ns->dir, DataDir::from_device);
    EXPECT_FALSE(identify_ns(0));
    auto ctrl = identify_ctrl();
    EXPECT_TRUE(ctrl.admin);
    EXPECT_EQ(ctrl.cdw10, 1u);
    EXPECT_EQ(ctrl.nsid, 0u);

    auto log = reservation_log_cmd();
    EXPECT_EQ(log.opcode, 0x02);
    EXPECT_EQ(log.nsid, 0xffffffffu);
    EXPECT_EQ(log.cdw10, 0x000f0080u);  // NUMDL 15 (64 bytes), LID 80h
    EXPECT_EQ(log.data_len, 64u);
    EXPECT_EQ(reservation_log_cmd(true).cdw10, 0x000f8080u);

    auto hid = get_host_id_cmd();
    EXPECT_EQ(hid.opcode, 0x0a);
    EXPECT_EQ(hid.cdw10, 0x81u);
    EXPECT_EQ(hid.cdw11, 1u);  // EXHID
    EXPECT_EQ(hid.data_len, 16u);
    auto hid8 = get_host_id_cmd(false);
    EXPECT_EQ(hid8.cdw11, 0u);
    EXPECT_EQ(hid8.data_len, 8u);
}

TEST(NvmeCmd, DirectionMatchesOpcode) {
    for (auto op : {Opcode::resv_register, Opcode::resv_acquire, Opcode::resv_release})
        EXPECT_EQ(data_dir_of(static_cast<uint8_t>(op)), DataDir::to_device);
    EXPECT_EQ(data_dir_of(static_cast<uint8_t>(Opcode::resv_report)), DataDir::from_device);
    EXPECT_EQ(data_dir_of(admin::identify), DataDir::from_device);
    EXPECT_EQ(data_dir_of(admin::get_log_page), DataDir::from_device);
    EXPECT_EQ(data_dir_of(0x00), DataDir::none);  // flush
    // Every encoder agrees with the opcode's own direction bits.
    auto reg = register_cmd(1, {RegisterAction::register_key, false, Cptpl::no_change, 0, 1});
    EXPECT_EQ(reg->dir, data_dir_of(reg->opcode));
    EXPECT_EQ(identify_ctrl().dir, data_dir_of(identify_ctrl().opcode));
    EXPECT_EQ(get_host_id_cmd().dir, data_dir_of(admin::get_features));
}

TEST(NvmeDecode, RoundTripsEveryAction) {
    for (auto action :
         {RegisterAction::register_key, RegisterAction::unregister, RegisterAction::replace})
        for (auto cptpl : {Cptpl::no_change, Cptpl::clear, Cptpl::persist})
            for (bool iekey : {false, true}) {
                RegisterCmd in{action, iekey, cptpl, 0x1234, 0xfeedface00000001ull};
                auto c = register_cmd(9, in);
                ASSERT_TRUE(c.ok());
                auto out = decode_register(c->cdw10, c->data);
                ASSERT_TRUE(out.ok()) << out.error().msg;
                EXPECT_EQ(out->action, action);
                EXPECT_EQ(out->iekey, iekey);
                EXPECT_EQ(out->cptpl, cptpl);
                EXPECT_EQ(out->crkey, 0x1234u);
                EXPECT_EQ(out->nrkey, action == RegisterAction::unregister ? 0 : in.nrkey);
            }
    for (auto action :
         {AcquireAction::acquire, AcquireAction::preempt, AcquireAction::preempt_and_abort})
        for (uint8_t t = 1; t <= 6; ++t) {
            auto c = acquire_cmd(1, {action, t == 2, t, 0x77, 0x88});
            ASSERT_TRUE(c.ok());
            auto out = decode_acquire(c->cdw10, c->data);
            ASSERT_TRUE(out.ok()) << out.error().msg;
            EXPECT_EQ(out->action, action);
            EXPECT_EQ(out->rtype, t);
            EXPECT_EQ(out->iekey, t == 2);
            EXPECT_EQ(out->crkey, 0x77u);
            EXPECT_EQ(out->prkey, action == AcquireAction::acquire ? 0u : 0x88u);
        }
    for (uint8_t t = 1; t <= 6; ++t) {
        auto c = release_cmd(1, {ReleaseAction::release, false, t, 0x42});
        auto out = decode_release(c->cdw10, c->data);
        ASSERT_TRUE(out.ok());
        EXPECT_EQ(out->action, ReleaseAction::release);
        EXPECT_EQ(out->rtype, t);
        EXPECT_EQ(out->crkey, 0x42u);
    }
    for (bool eds : {false, true}) {
        auto c = report_cmd(1, eds, 128);
        auto out = decode_report(c->cdw10, c->cdw11);
        ASSERT_TRUE(out.ok());
        EXPECT_EQ(out->eds, eds);
        EXPECT_EQ(report_buffer_len(*out), 128u);
    }
}

TEST(NvmeDecode, ReservedActionsAreInvalidOpcode) {
    const Bytes d16(16), d8(8);
    for (uint32_t a = 3; a < 8; ++a) {
        Invalid why;
        auto r = decode_register(a, d16, &why);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(why, (Invalid{sct::generic, sc::invalid_opcode}));
        EXPECT_EQ(why.word(), 0x0001);
        EXPECT_NE(r.error().msg.find("Invalid Command Opcode"), std::string::npos);
        why = {};
        EXPECT_FALSE(decode_acquire(0x100 | a, d16, &why).ok());
        EXPECT_EQ(why.sc, sc::invalid_opcode);
    }
    for (uint32_t a = 2; a < 8; ++a) {
        Invalid why;
        EXPECT_FALSE(decode_release(0x100 | a, d8, &why).ok());
        EXPECT_EQ(why.sc, sc::invalid_opcode);
    }
}

TEST(NvmeDecode, InvalidFields) {
    const Bytes d16(16), d8(8);
    Invalid why{sct::path, 0};
    auto cptpl = decode_register(1u << 30, d16, &why);
    ASSERT_FALSE(cptpl.ok());
    EXPECT_EQ(why, (Invalid{sct::generic, sc::invalid_field}));
    EXPECT_NE(cptpl.error().msg.find("Invalid Field in Command"), std::string::npos);
    for (uint32_t t : {0u, 7u, 255u}) {
        why = {sct::path, 0};
        EXPECT_FALSE(decode_acquire(t << 8, d16, &why).ok());
        EXPECT_EQ(why.word(), 0x0002);
        why = {sct::path, 0};
        EXPECT_FALSE(decode_release(t << 8, d8, &why).ok());
        EXPECT_EQ(why.word(), 0x0002);
    }
    // Clear ignores RTYPE.
    auto clr = decode_release(0x0901, d8);
    ASSERT_TRUE(clr.ok());
    EXPECT_EQ(clr->action, ReleaseAction::clear);
    // Reserved CDW10 bits are ignored.
    auto reg = decode_register(0x3ff0'fff8u, d16);
    ASSERT_TRUE(reg.ok());
    EXPECT_EQ(reg->action, RegisterAction::register_key);
    EXPECT_TRUE(reg->iekey);
}

TEST(NvmeDecode, DataLengthMustMatch) {
    for (size_t n : {0, 8, 15, 17, 24}) {
        Bytes d(n);
        Invalid why{sct::path, 0};
        EXPECT_FALSE(decode_register(0, d, &why).ok()) << n;
        EXPECT_EQ(why.sc, sc::invalid_field);
        EXPECT_FALSE(decode_acquire(0x100, d, &why).ok()) << n;
    }
    for (size_t n : {0, 7, 9, 16}) {
        Bytes d(n);
        Invalid why{sct::path, 0};
        EXPECT_FALSE(decode_release(0x100, d, &why).ok()) << n;
        EXPECT_EQ(why.sc, sc::invalid_field);
    }
}

TEST(NvmeDecode, ReportBufferTooSmall) {
    Invalid why{sct::path, 0};
    EXPECT_FALSE(decode_report(4, 0, &why).ok());  // 20 bytes < 24
    EXPECT_EQ(why.sc, sc::invalid_field);
    EXPECT_TRUE(decode_report(5, 0).ok());    // 24
    EXPECT_FALSE(decode_report(14, 1).ok());  // 60 < 64
    EXPECT_TRUE(decode_report(15, 1).ok());   // 64
    auto big = decode_report(0xffffffffu, 1);
    ASSERT_TRUE(big.ok());
    EXPECT_EQ(report_buffer_len(*big), 4ull << 32);  // no 32-bit wrap
}

}  // namespace
}  // namespace prfence::wire::nvme
