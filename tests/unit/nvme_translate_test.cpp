// SPDX-License-Identifier: MIT
// SCSI persistent reservations on NVMe: every PR OUT service action to its NVMe command (dwords and
// data), the refusals, every PR IN answer rebuilt from a Report or Identify, and the completion
// status table.
#include "uring_engine/wire/nvme_translate.h"

#include <gtest/gtest.h>

#include "uring_engine/wire/nvme_identify.h"
#include "uring_engine/wire/nvme_report.h"
#include "uring_engine/wire/nvme_status.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/prout.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::wire::nvme {
namespace {

constexpr uint32_t kNsid = 7;
constexpr uint64_t kA = 0xabc123, kB = 0x123abc;

Result<Translation> out(PrOutAction sa, PrType type, ProutParams p) {
    auto c = build_prout(sa, type, p);
    if (!c) return fail(c.error());
    return translate(kNsid, c->cdb, c->data);
}
ProutParams keys(uint64_t key, uint64_t sa_key, bool aptpl = false) {
    ProutParams p;
    p.key = key;
    p.sa_key = sa_key;
    p.aptpl = aptpl;
    return p;
}
Result<Translation> in(PrInAction sa, uint16_t alloc = 8192) {
    return translate(kNsid, prin_cdb(sa, alloc), {});
}

// The two keys of a Register / Acquire data buffer, and CRKEY of a Release.
uint64_t key_at(const Command& c, size_t off) { return get_le64(c.data, off); }

TEST(NvmeTranslate, RegisterFromUnregisteredIsRegister) {
    auto t = out(PrOutAction::register_key, PrType::none, keys(0, kA));
    ASSERT_TRUE(t.ok()) << t.error().msg;
    EXPECT_EQ(t->cmd.opcode, static_cast<uint8_t>(Opcode::resv_register));
    EXPECT_EQ(t->cmd.nsid, kNsid);
    EXPECT_EQ(t->cmd.cdw10, 0u);  // RREGA 0, IEKEY 0, CPTPL no change
    EXPECT_EQ(key_at(t->cmd, 8), kA);
    EXPECT_FALSE(t->on_conflict);
    EXPECT_EQ(t->answer, Answer::none);
}

TEST(NvmeTranslate, RegisterWithCurrentKeyIsReplace) {
    auto t = out(PrOutAction::register_key, PrType::none, keys(kA, kB));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->cmd.cdw10, 2u);
    EXPECT_EQ(key_at(t->cmd, 0), kA);
    EXPECT_EQ(key_at(t->cmd, 8), kB);
}

TEST(NvmeTranslate, RegisterWithNewKeyZeroIsUnregisterNeverKeyZero) {
    auto t = out(PrOutAction::register_key, PrType::none, keys(kA, 0));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->cmd.cdw10 & 7, 1u);
    EXPECT_EQ(t->cmd.cdw10 & kIgnoreKey, 0u);
    EXPECT_EQ(key_at(t->cmd, 0), kA);
}

TEST(NvmeTranslate, RegisterBothKeysZeroIsRefused) {
    auto t = out(PrOutAction::register_key, PrType::none, keys(0, 0));
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().code, Errc::unsupported);
    EXPECT_NE(t.error().msg.find("both keys 0"), std::string::npos);
}

TEST(NvmeTranslate, RegisterAndIgnoreIsReplaceWithIekeyThenRegister) {
    auto t = out(PrOutAction::register_and_ignore, PrType::none, keys(0, kB));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->cmd.cdw10, 2u | kIgnoreKey);
    EXPECT_EQ(key_at(t->cmd, 8), kB);
    ASSERT_TRUE(t->on_conflict);
    EXPECT_EQ(t->on_conflict->cdw10, 0u);
    EXPECT_EQ(key_at(*t->on_conflict, 8), kB);
}

TEST(NvmeTranslate, RegisterAndIgnoreWithKeyZeroIsUnregisterWithIekey) {
    auto t = out(PrOutAction::register_and_ignore, PrType::none, keys(0, 0));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->cmd.cdw10, 1u | kIgnoreKey);
    EXPECT_FALSE(t->on_conflict);
}

TEST(NvmeTranslate, AptplIsCptplPersist) {
    auto t = out(PrOutAction::register_key, PrType::none, keys(0, kA, true));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->cmd.cdw10 >> 30, 3u);
}

TEST(NvmeTranslate, ReservePreemptReleaseClear) {
    auto r = out(PrOutAction::reserve, PrType::write_exclusive_registrants_only, keys(kA, 0));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->cmd.opcode, static_cast<uint8_t>(Opcode::resv_acquire));
    EXPECT_EQ(r->cmd.cdw10, 0x0300u);  // SCSI TYPE 5 is NVMe RTYPE 3
    EXPECT_EQ(key_at(r->cmd, 0), kA);

    auto pa = out(PrOutAction::preempt_and_abort, PrType::exclusive_access, keys(kB, kA));
    ASSERT_TRUE(pa.ok());
    EXPECT_EQ(pa->cmd.cdw10, 0x0202u);
    EXPECT_EQ(key_at(pa->cmd, 0), kB);
    EXPECT_EQ(key_at(pa->cmd, 8), kA);

    auto p = out(PrOutAction::preempt, PrType::exclusive_access_all_registrants, keys(kB, kA));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->cmd.cdw10, 0x0601u);

    auto rel = out(PrOutAction::release, PrType::write_exclusive, keys(kA, 0));
    ASSERT_TRUE(rel.ok());
    EXPECT_EQ(rel->cmd.opcode, static_cast<uint8_t>(Opcode::resv_release));
    EXPECT_EQ(rel->cmd.cdw10, 0x0100u);
    EXPECT_EQ(rel->cmd.data.size(), 8u);

    auto clr = out(PrOutAction::clear, PrType::none, keys(kA, 0));
    ASSERT_TRUE(clr.ok());
    EXPECT_EQ(clr->cmd.cdw10 & 7, 1u);
    EXPECT_EQ(key_at(clr->cmd, 0), kA);
}

TEST(NvmeTranslate, WhatNvmeCannotSayIsRefusedWithTheReason) {
    ProutParams atp = keys(0, kA);
    atp.all_tg_pt = true;
    auto t = out(PrOutAction::register_key, PrType::none, atp);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().code, Errc::unsupported);
    EXPECT_NE(t.error().msg.find("ALL_TG_PT"), std::string::npos);
    EXPECT_NE(t.error().msg.find("every controller"), std::string::npos);

    ProutMoveParams mv;
    mv.key = kA;
    mv.sa_key = kB;
    mv.transport_id.protocol = ProtocolId::iscsi;
    mv.transport_id.iscsi_name = "iqn.2001-05.com.example:node-b";
    auto m = build_register_and_move(PrType::exclusive_access, mv);
    ASSERT_TRUE(m.ok()) << m.error().msg;
    auto tm = translate(kNsid, m->cdb, m->data);
    ASSERT_FALSE(tm.ok());
    EXPECT_NE(tm.error().msg.find("REGISTER AND MOVE"), std::string::npos);

    auto rl = out(PrOutAction::replace_lost, PrType::exclusive_access, keys(0, kA));
    ASSERT_FALSE(rl.ok());
    EXPECT_NE(rl.error().msg.find("lost-reservation"), std::string::npos);

    // A TYPE with no NVMe twin (2h is obsolete in SPC-4).
    Cdb odd = prout_cdb(PrOutAction::reserve, static_cast<PrType>(2), 24);
    auto data = encode_prout_params(keys(kA, 0));
    ASSERT_TRUE(data.ok());
    auto to = translate(kNsid, odd, *data);
    ASSERT_FALSE(to.ok());
    EXPECT_NE(to.error().msg.find("no NVMe equivalent"), std::string::npos);

    // Not a PR command at all; a short parameter list.
    EXPECT_FALSE(translate(kNsid, test_unit_ready_cdb(), {}).ok());
    Cdb reg = prout_cdb(PrOutAction::register_key, PrType::none, 24);
    EXPECT_EQ(translate(kNsid, reg, Bytes(10)).error().code, Errc::invalid_argument);
}

ReservationStatus two_hosts(uint8_t rtype, bool a_holds) {
    ReservationStatus s;
    s.generation = 9;
    s.rtype = rtype;
    s.extended = true;
    Registrant a;
    a.cntlid = 0xffff;
    a.key = kA;
    a.hostid[0] = 0xaa;
    a.holds = a_holds;
    Registrant b = a;
    b.key = kB;
    b.hostid[0] = 0xbb;
    b.holds = is_all_registrants(rtype);
    if (is_all_registrants(rtype)) a.holds = true;
    s.registrants = {a, b};
    return s;
}
Bytes report_bytes(const ReservationStatus& s) {
    auto b = encode_report(s, true, kReportBufferLen);
    EXPECT_TRUE(b.ok());
    return b.ok() ? *b : Bytes{};
}

TEST(NvmeTranslate, PrInIsAnExtendedReport) {
    for (auto sa :
         {PrInAction::read_keys, PrInAction::read_reservation, PrInAction::read_full_status}) {
        auto t = in(sa);
        ASSERT_TRUE(t.ok());
        EXPECT_EQ(t->cmd.opcode, static_cast<uint8_t>(Opcode::resv_report));
        EXPECT_EQ(t->cmd.cdw11 & kReportEds, kReportEds);
        EXPECT_EQ(t->cmd.data_len, kReportBufferLen);
        EXPECT_FALSE(t->cmd.admin);
    }
}

TEST(NvmeTranslate, ReadKeysOneKeyPerHost) {
    auto t = in(PrInAction::read_keys);
    ASSERT_TRUE(t.ok());
    auto a = answer(*t, 0, report_bytes(two_hosts(3, true)));
    EXPECT_EQ(a.status, sam::good);
    auto k = parse_read_keys(a.data_in);
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->generation, 9u);
    EXPECT_EQ(k->keys, (std::vector<uint64_t>{kA, kB}));
    ASSERT_TRUE(a.report);
    EXPECT_EQ(a.report->registrants[1].hostid[0], 0xbb);
}

TEST(NvmeTranslate, ReadKeysIsCutToTheAllocationLength) {
    auto t = in(PrInAction::read_keys, 16);
    ASSERT_TRUE(t.ok());
    auto a = answer(*t, 0, report_bytes(two_hosts(0, false)));
    ASSERT_EQ(a.data_in.size(), 16u);
    auto k = parse_read_keys(a.data_in);
    ASSERT_TRUE(k.ok());
    EXPECT_TRUE(k->truncated);
    EXPECT_EQ(k->needed, 24u);
}

TEST(NvmeTranslate, ReadReservationHolderAndType) {
    auto t = in(PrInAction::read_reservation);
    ASSERT_TRUE(t.ok());
    auto held = parse_read_reservation(answer(*t, 0, report_bytes(two_hosts(3, true))).data_in);
    ASSERT_TRUE(held.ok());
    EXPECT_TRUE(held->reserved);
    EXPECT_EQ(held->key, kA);
    EXPECT_EQ(held->type, 5);  // RTYPE 3 reads as SCSI WE-RO

    auto all = parse_read_reservation(answer(*t, 0, report_bytes(two_hosts(6, true))).data_in);
    ASSERT_TRUE(all.ok());
    EXPECT_TRUE(all->reserved);
    EXPECT_EQ(all->key, 0u);  // SPC-4: all-registrants reservations report key 0
    EXPECT_EQ(all->type, 8);

    auto none = parse_read_reservation(answer(*t, 0, report_bytes(two_hosts(0, false))).data_in);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->reserved);
    EXPECT_EQ(none->generation, 9u);
}

TEST(NvmeTranslate, ReadFullStatusCarriesTheReport) {
    auto t = in(PrInAction::read_full_status);
    ASSERT_TRUE(t.ok());
    auto a = answer(*t, 0, report_bytes(two_hosts(3, true)));
    auto f = parse_full_status(a.data_in);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->generation, 9u);
    EXPECT_TRUE(f->entries.empty());
    ASSERT_TRUE(a.report);
    ASSERT_EQ(a.report->registrants.size(), 2u);
    EXPECT_TRUE(a.report->registrants[0].holds);
    EXPECT_EQ(a.report->registrants[0].cntlid, 0xffff);
}

TEST(NvmeTranslate, ReportCapabilitiesFromRescap) {
    auto t = in(PrInAction::report_capabilities);
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t->cmd.admin);
    EXPECT_EQ(t->cmd.nsid, kNsid);
    IdentifyNamespace ns;
    ns.rescap = 0xfe;  // what nvmet reports with reservations on: six types and IEKEY, no PTPL
    auto c = parse_capabilities(answer(*t, 0, encode_identify_ns(ns)).data_in);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->tmv);
    EXPECT_FALSE(c->ptpl_c);
    EXPECT_FALSE(c->atp_c);
    EXPECT_FALSE(c->sip_c);
    for (auto type :
         {PrType::write_exclusive, PrType::exclusive_access,
          PrType::write_exclusive_registrants_only, PrType::exclusive_access_registrants_only,
          PrType::write_exclusive_all_registrants, PrType::exclusive_access_all_registrants})
        EXPECT_TRUE(c->supports(type)) << type_name(type);

    ns.rescap = 0x01 | 0x08;  // PTPL, WE-RO only
    c = parse_capabilities(answer(*t, 0, encode_identify_ns(ns)).data_in);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->ptpl_c);
    EXPECT_TRUE(c->supports(PrType::write_exclusive_registrants_only));
    EXPECT_FALSE(c->supports(PrType::exclusive_access));
}

Sense sense_of(const NvmeAnswer& a) {
    auto s = decode_sense(a.sense);
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : Sense{};
}

// probe's commands: READ CAPACITY from Identify Namespace, READ as a Read of the caller's buffer,
// SYNCHRONIZE CACHE as a Flush.
TEST(NvmeTranslate, ReadCapacityFromIdentifyNamespace) {
    auto t10 = translate(kNsid, read_capacity10_cdb(), {}, 8);
    ASSERT_TRUE(t10.ok()) << t10.error().msg;
    EXPECT_TRUE(t10->cmd.admin);
    EXPECT_EQ(t10->cmd.opcode, admin::identify);
    EXPECT_EQ(t10->cmd.nsid, kNsid);
    EXPECT_EQ(t10->cmd.cdw10, 0u);  // CNS 0
    IdentifyNamespace ns;
    ns.nsze = 2048;
    ns.lba_size = 4096;
    NvmeAnswer a = answer(*t10, 0, encode_identify_ns(ns));
    EXPECT_EQ(a.status, sam::good);
    ASSERT_EQ(a.data_in.size(), 8u);
    EXPECT_EQ(get_be32(a.data_in, 0), 2047u);  // the last LBA, not the count
    EXPECT_EQ(get_be32(a.data_in, 4), 4096u);

    auto t16 = translate(kNsid, read_capacity16_cdb(32), {}, 32);
    ASSERT_TRUE(t16.ok());
    ns.nsze = (uint64_t{1} << 33) + 1;  // beyond READ CAPACITY(10)'s 32 bits
    ns.lba_size = 512;
    a = answer(*t16, 0, encode_identify_ns(ns));
    ASSERT_EQ(a.data_in.size(), 32u);
    EXPECT_EQ(get_be64(a.data_in, 0), uint64_t{1} << 33);
    EXPECT_EQ(get_be32(a.data_in, 8), 512u);
    a = answer(*t10, 0, encode_identify_ns(ns));
    EXPECT_EQ(get_be32(a.data_in, 0), 0xffffffffu);  // "use READ CAPACITY(16)", as SBC-3 says
    EXPECT_EQ(answer(*translate(kNsid, read_capacity16_cdb(12), {}, 12), 0, encode_identify_ns(ns))
                  .data_in.size(),
              12u);  // cut to the allocation length

    // A namespace whose FLBAS names no LBA format, or with no blocks, is the device's fault.
    ns.lba_size = 0;
    a = answer(*t10, 0, encode_identify_ns(ns));
    EXPECT_EQ(a.status, sam::check_condition);
    EXPECT_EQ(sense_of(a).key, SenseKey::hardware_error);
    EXPECT_TRUE(a.data_in.empty());
    ns.lba_size = 512;
    ns.nsze = 0;
    EXPECT_EQ(answer(*t10, 0, encode_identify_ns(ns)).status, sam::check_condition);
    EXPECT_EQ(answer(*t10, 0, Bytes(100)).status, sam::check_condition);  // short Identify
}

TEST(NvmeTranslate, ReadIsAReadOfTheCallersBuffer) {
    auto t = translate(kNsid, read10_cdb(0x01020304, 2), {}, 1024);
    ASSERT_TRUE(t.ok()) << t.error().msg;
    EXPECT_FALSE(t->cmd.admin);
    EXPECT_EQ(t->cmd.opcode, nvm::read);
    EXPECT_EQ(t->cmd.nsid, kNsid);
    EXPECT_EQ(t->cmd.cdw10, 0x01020304u);  // SLBA low
    EXPECT_EQ(t->cmd.cdw11, 0u);
    EXPECT_EQ(t->cmd.cdw12, 1u);  // NLB zero-based
    EXPECT_EQ(t->cmd.dir, DataDir::from_device);
    EXPECT_EQ(t->cmd.data_len, 1024u);
    Bytes blocks(1024, 0x5a);
    NvmeAnswer a = answer(*t, 0, blocks);
    EXPECT_EQ(a.status, sam::good);
    EXPECT_EQ(a.data_in, blocks);

    auto t16 = translate(kNsid, read16_cdb(uint64_t{5} << 32 | 7, 0x10000), {}, 512 * 0x10000);
    ASSERT_TRUE(t16.ok());
    EXPECT_EQ(t16->cmd.cdw10, 7u);
    EXPECT_EQ(t16->cmd.cdw11, 5u);
    EXPECT_EQ(t16->cmd.cdw12, 0xffffu);

    // The write the reservation refuses reads as RESERVATION CONFLICT, nothing returned.
    a = answer(*t, status_word(sct::generic, sc::reservation_conflict) | kStatusDnr, {});
    EXPECT_EQ(a.status, sam::reservation_conflict);
    EXPECT_TRUE(a.data_in.empty());

    auto zero = translate(kNsid, read10_cdb(0, 0), {}, 512);
    ASSERT_FALSE(zero.ok());
    EXPECT_EQ(zero.error().code, Errc::unsupported);
    EXPECT_NE(zero.error().msg.find("0 blocks"), std::string::npos);
    auto many = translate(kNsid, read16_cdb(0, 0x10001), {}, 512);
    EXPECT_EQ(many.error().code, Errc::invalid_argument);
    auto nobuf = translate(kNsid, read10_cdb(0, 1), {}, 0);
    ASSERT_FALSE(nobuf.ok());
    EXPECT_NE(nobuf.error().msg.find("no buffer"), std::string::npos);
}

TEST(NvmeTranslate, SynchronizeCacheIsAFlush) {
    auto t = translate(kNsid, synchronize_cache10_cdb(), {});
    ASSERT_TRUE(t.ok()) << t.error().msg;
    EXPECT_EQ(t->cmd.opcode, nvm::flush);
    EXPECT_EQ(t->cmd.nsid, kNsid);
    EXPECT_EQ(t->cmd.dir, DataDir::none);
    EXPECT_EQ(t->cmd.data_len, 0u);
    EXPECT_EQ(t->answer, Answer::none);
    Cdb sc16;
    sc16.len = 16;
    sc16.b[0] = 0x91;
    EXPECT_TRUE(translate(kNsid, sc16, {}).ok());
    // Other operation codes: refused with what does translate.
    Cdb write10 = read10_cdb(0, 1);
    write10.b[0] = 0x2a;
    auto w = translate(kNsid, write10, {});
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.error().code, Errc::unsupported);
    EXPECT_NE(w.error().msg.find("0x2a has no NVMe translation"), std::string::npos);
}

TEST(NvmeTranslate, StatusTable) {
    auto t = out(PrOutAction::reserve, PrType::exclusive_access, keys(kA, 0));
    ASSERT_TRUE(t.ok());
    // Both conflicts nvmet gives (DNR; DNR with MORE) are a RESERVATION CONFLICT, no sense.
    for (int res : {0x0083, 0x4083, 0x6083}) {
        auto a = answer(*t, res, {});
        EXPECT_EQ(a.status, sam::reservation_conflict) << res;
        EXPECT_TRUE(a.sense.empty());
        EXPECT_EQ(a.res, res);
    }
    auto inval = answer(*t, 0x6002, {});
    EXPECT_EQ(inval.status, sam::check_condition);
    EXPECT_EQ(sense_of(inval).key, SenseKey::illegal_request);
    EXPECT_EQ(sense_of(inval).asc, 0x24);
    EXPECT_EQ(sense_of(answer(*t, 0x6001, {})).asc, 0x20);
    EXPECT_EQ(sense_of(answer(*t, 0x6018, {})).asc, 0x24);
    EXPECT_EQ(sense_of(answer(*t, 0x000b, {})).asc, 0x25);
    auto nr = answer(*t, 0x0082, {});
    EXPECT_EQ(sense_of(nr).key, SenseKey::not_ready);
    EXPECT_EQ(answer(*t, 0x0007, {}).status, sam::task_aborted);
    EXPECT_EQ(answer(*t, 0x0370, {}).host, did::transport_disrupted);  // SCT 3, path related
    auto internal = answer(*t, 0x4006, {});
    EXPECT_EQ(sense_of(internal).key, SenseKey::hardware_error);
    EXPECT_EQ(sense_of(internal).asc, 0x44);
    auto err = answer(*t, -22, {});
    EXPECT_EQ(err.sys_errno, 22);
    EXPECT_TRUE(err.sense.empty());
}

TEST(NvmeTranslate, EveryStatusReadsAsItsCategory) {
    // Where the NVMe status has a SCSI twin, the stand-in's category is the NVMe status's own;
    // only success is GOOD, only Reservation Conflict a conflict.
    auto t = out(PrOutAction::reserve, PrType::exclusive_access, keys(kA, 0));
    ASSERT_TRUE(t.ok());
    for (int code = 0; code < 0x800; ++code) {
        auto a = answer(*t, code | 0x4000, {});
        std::optional<Sense> s;
        if (!a.sense.empty()) s = decode_sense(a.sense).value();
        const Category scsi = categorize(a.status, a.host, 0, s ? &*s : nullptr);
        const Category nv = nvme::categorize(code | 0x4000);
        EXPECT_EQ(scsi == Category::clean, code == 0) << code;
        EXPECT_EQ(scsi == Category::reservation_conflict, code == sc::reservation_conflict) << code;
        if (nv != Category::other && nv != Category::illegal_request_with_info) {
            EXPECT_EQ(scsi, nv) << std::hex << code << " " << category_name(scsi) << " vs "
                                << category_name(nv);
        }
    }
}

TEST(NvmeTranslate, GarbageDataIsADeviceError) {
    auto t = in(PrInAction::read_keys);
    ASSERT_TRUE(t.ok());
    auto a = answer(*t, 0, Bytes(10, 0xff));
    EXPECT_EQ(a.status, sam::check_condition);
    EXPECT_EQ(sense_of(a).key, SenseKey::hardware_error);
    EXPECT_TRUE(a.data_in.empty());
    EXPECT_FALSE(a.report);

    auto c = in(PrInAction::report_capabilities);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(answer(*c, 0, Bytes(100)).status, sam::check_condition);
}

}  // namespace
}  // namespace prfence::wire::nvme
