// SPDX-License-Identifier: MIT
// prexplain's classifier: every row of the table in classify.h, each reservation type, read and
// write access, registered or not, holder us or another.
#include <gtest/gtest.h>

#include "tools/prexplain/classify.h"

namespace prfence::prexplain {
namespace {

constexpr uint64_t kUs = 0xa, kOther = 0xb;

PrSnapshot snap(std::optional<uint64_t> our, std::vector<uint64_t> keys, uint8_t type,
                uint64_t holder) {
    PrSnapshot s;
    s.our_key = our;
    s.keys = wire::ReadKeys{};
    s.keys->keys = std::move(keys);
    s.reservation = wire::ReadReservation{};
    s.reservation->reserved = type != 0;
    s.reservation->type = type;
    s.reservation->key = (type == 7 || type == 8) ? 0 : holder;
    return s;
}

struct Row {
    const char* name;
    bool registered;
    uint8_t type;
    uint64_t holder;
    Access access;
    ConflictClass want;
};

TEST(PrexplainClassify, DataAccessTable) {
    using C = ConflictClass;
    const Row rows[] = {
        // Row 8: nothing reserved.
        {"none-read-reg", true, 0, 0, Access::read, C::transient},
        {"none-write-unreg", false, 0, 0, Access::write, C::transient},
        // Row 9: reads admitted by WE, WE-RO, WE-AR.
        {"WE-read", false, 1, kOther, Access::read, C::transient},
        {"WE-RO-read", false, 5, kOther, Access::read, C::transient},
        {"WE-AR-read", false, 7, 0, Access::read, C::transient},
        // Row 10: WE/EA, not registered: fenced.
        {"WE-write-unreg", false, 1, kOther, Access::write, C::fenced},
        {"EA-read-unreg", false, 3, kOther, Access::read, C::fenced},
        {"EA-write-unreg", false, 3, kOther, Access::write, C::fenced},
        // Row 11: WE/EA, registered, another holder (the seed session's B) or our key elsewhere.
        {"WE-write-reg", true, 1, kOther, Access::write, C::reserved_by_other},
        {"EA-read-reg", true, 3, kOther, Access::read, C::reserved_by_other},
        {"EA-read-reg-holder-us", true, 3, kUs, Access::read, C::reserved_by_other},
        {"EA-unknown-reg", true, 3, kOther, Access::unknown, C::reserved_by_other},
        // Row 12: RO/AR, not registered: fenced.
        {"WE-RO-write-unreg", false, 5, kOther, Access::write, C::fenced},
        {"EA-RO-read-unreg", false, 6, kOther, Access::read, C::fenced},
        {"WE-AR-write-unreg", false, 7, 0, Access::write, C::fenced},
        {"EA-AR-read-unreg", false, 8, 0, Access::read, C::fenced},
        {"EA-AR-other-unreg", false, 8, 0, Access::other, C::fenced},
        // Row 13: RO/AR, registered by key but the nexus conflicted.
        {"WE-RO-write-reg", true, 5, kOther, Access::write, C::not_registered},
        {"EA-RO-read-reg", true, 6, kOther, Access::read, C::not_registered},
        {"WE-AR-write-reg", true, 7, 0, Access::write, C::not_registered},
        {"EA-AR-read-reg", true, 8, 0, Access::read, C::not_registered},
    };
    for (const Row& r : rows) {
        std::vector<uint64_t> keys{kOther};
        if (r.registered) keys.push_back(kUs);
        const Diagnosis d = classify(snap(kUs, keys, r.type, r.holder), r.access);
        EXPECT_EQ(d.cls, r.want) << r.name << ": " << class_name(d.cls) << ": " << d.reason;
        EXPECT_EQ(d.type, r.type) << r.name;
        EXPECT_EQ(d.registered, r.registered) << r.name;
        EXPECT_FALSE(d.reason.empty()) << r.name;
        if (r.type && r.type != 7 && r.type != 8) {
            EXPECT_EQ(d.holder_key, r.holder) << r.name;
        }
        if (r.type == 7 || r.type == 8) {
            EXPECT_FALSE(d.holder_key.has_value()) << r.name;
        }
        if (d.cls == C::fenced) {
            ASSERT_EQ(d.preempted_by.size(), 1u) << r.name;
            EXPECT_EQ(d.preempted_by[0], kOther) << r.name;
        }
    }
}

TEST(PrexplainClassify, GuestScenarios) {
    // B reads under A's Exclusive Access reservation, both registered: RESERVED_BY_OTHER naming A.
    const uint64_t A = 0xabc123, B = 0x123abc;
    Diagnosis d = classify(snap(B, {A, B}, 3, A), Access::read);
    EXPECT_EQ(d.cls, ConflictClass::reserved_by_other);
    EXPECT_EQ(d.holder_key, A);
    EXPECT_NE(d.reason.find("0xabc123"), std::string::npos) << d.reason;
    // After B preempts A (type 3), A's read: FENCED naming B.
    d = classify(snap(A, {B}, 3, B), Access::read);
    EXPECT_EQ(d.cls, ConflictClass::fenced);
    EXPECT_EQ(d.holder_key, B);
    ASSERT_EQ(d.preempted_by.size(), 1u);
    EXPECT_EQ(d.preempted_by[0], B);
    EXPECT_NE(d.reason.find("preempted by 0x123abc"), std::string::npos) << d.reason;
}

TEST(PrexplainClassify, PrOutRows) {
    using C = ConflictClass;
    EXPECT_EQ(classify(snap(kUs, {kOther}, 3, kOther), Access::pr_out).cls, C::fenced);     // 4
    EXPECT_EQ(classify(snap(kUs, {kOther}, 0, 0), Access::pr_out).cls, C::not_registered);  // 5
    EXPECT_EQ(classify(snap(kUs, {}, 0, 0), Access::pr_out).cls, C::not_registered);        // 5
    EXPECT_EQ(classify(snap(kUs, {kUs, kOther}, 3, kOther), Access::pr_out).cls,
              C::reserved_by_other);  // 6
    EXPECT_EQ(classify(snap(kUs, {kUs, kOther}, 8, 0), Access::pr_out).cls,
              C::reserved_by_other);                                                  // 6
    EXPECT_EQ(classify(snap(kUs, {kUs}, 3, kUs), Access::pr_out).cls, C::transient);  // 7
    EXPECT_EQ(classify(snap(kUs, {kUs}, 0, 0), Access::pr_out).cls, C::transient);    // 7
    EXPECT_EQ(classify(snap(std::nullopt, {kOther}, 3, kOther), Access::pr_out).cls, C::unknown);
    EXPECT_EQ(classify(snap(kUs, {kOther}, 3, kOther), Access::pr_in).cls, C::transient);
}

TEST(PrexplainClassify, SpecialRows) {
    using C = ConflictClass;
    PrSnapshot s = snap(kUs, {kUs}, 3, kOther);
    s.spc2_reserved = true;  // row 0 wins over everything
    EXPECT_EQ(classify(s, Access::read).cls, C::reserved_spc2);
    PrSnapshot none;  // row 1
    Diagnosis d = classify(none, Access::read);
    EXPECT_EQ(d.cls, C::unknown);
    EXPECT_EQ(d.reason, "not queried");
    none.query_error = "no sg node";
    EXPECT_EQ(classify(none, Access::read).reason, "query failed: no sg node");
    s = snap(kUs, {kOther}, 3, kOther);  // row 2
    s.recheck_clear = true;
    EXPECT_EQ(classify(s, Access::read).cls, C::transient);
    EXPECT_EQ(classify(snap(kUs, {kOther}, 2, kOther), Access::read).cls, C::unknown);  // row 3
    // Our key unknown: WE/EA still names the holder (row 11); RO/AR cannot tell (row 14).
    d = classify(snap(std::nullopt, {kOther}, 3, kOther), Access::read);
    EXPECT_EQ(d.cls, C::reserved_by_other);
    EXPECT_EQ(d.holder_key, kOther);
    d = classify(snap(std::nullopt, {kOther}, 6, kOther), Access::read);
    EXPECT_EQ(d.cls, C::unknown);
    EXPECT_NE(d.reason.find("--key"), std::string::npos);
}

TEST(PrexplainClassify, FullStatusNamesTheHolder) {
    PrSnapshot s = snap(kUs, {kOther, 0xc}, 8, 0);
    s.full_status = wire::FullStatus{};
    wire::FullStatusEntry e;
    e.key = kOther;
    e.holder = true;
    e.type = 8;
    e.transport_id.protocol = wire::ProtocolId::iscsi;
    e.transport_id.iscsi_name = "iqn.2003-01.org.example:node-b";
    s.full_status->entries.push_back(e);
    e.key = 0xc;
    e.holder = false;
    s.full_status->entries.push_back(e);
    Diagnosis d = classify(s, Access::write);
    EXPECT_EQ(d.cls, ConflictClass::fenced);
    ASSERT_EQ(d.preempted_by.size(), 1u);
    EXPECT_EQ(d.preempted_by[0], kOther);
    ASSERT_EQ(d.holder_ids.size(), 1u);
    EXPECT_NE(d.holder_ids[0].find("node-b"), std::string::npos) << d.holder_ids[0];
}

TEST(PrexplainClassify, Names) {
    EXPECT_STREQ(class_name(ConflictClass::fenced), "FENCED");
    EXPECT_STREQ(class_name(ConflictClass::reserved_by_other), "RESERVED_BY_OTHER");
    EXPECT_STREQ(class_name(ConflictClass::not_registered), "NOT_REGISTERED");
    EXPECT_STREQ(class_name(ConflictClass::reserved_spc2), "RESERVED_SPC2");
    EXPECT_STREQ(class_name(ConflictClass::transient), "TRANSIENT");
    EXPECT_STREQ(class_name(ConflictClass::unknown), "UNKNOWN");
}

// NVMe: registration is decided by host identifier from the Report.
wire::nvme::HostId host(uint8_t last) {
    wire::nvme::HostId h{};
    h[0] = 0x50;
    h[15] = last;
    return h;
}

struct NvReg {
    uint8_t host;
    uint64_t key;
    bool holds;
};

PrSnapshot nvsnap(std::optional<uint64_t> our_key, uint8_t rtype, std::vector<NvReg> regs) {
    PrSnapshot s;
    s.our_key = our_key;
    s.our_hostid = host(0xa);
    wire::nvme::ReservationStatus r;
    r.rtype = rtype;
    r.extended = true;
    for (const auto& g : regs) {
        wire::nvme::Registrant x;
        x.cntlid = 0xffff;
        x.hostid = host(g.host);
        x.key = g.key;
        x.holds = g.holds;
        r.registrants.push_back(x);
    }
    r.regctl = static_cast<uint16_t>(r.registrants.size());
    s.nvme_report = r;
    // What the engine also fills from the same Report; the NVMe rows must not depend on it.
    s.keys = wire::ReadKeys{};
    s.reservation = wire::ReadReservation{};
    return s;
}

TEST(PrexplainClassify, NvmeByHostIdentifier) {
    using C = ConflictClass;
    constexpr uint8_t kA = 0xa, kB = 0xb;  // our host is A
    constexpr uint8_t WE = 1, EA = 2, WERO = 3, EARO = 4, WEAR = 5, EAAR = 6;
    struct NvRow {
        const char* name;
        std::optional<uint64_t> key;
        uint8_t rtype;
        std::vector<NvReg> regs;
        Access access;
        C want;
    } rows[] = {
        // N6: nothing reserved, ours, reads under Write Exclusive types.
        {"none", std::nullopt, 0, {{kB, 0xb, false}}, Access::write, C::transient},
        {"we-ours", std::nullopt, WE, {{kA, 0xa, true}}, Access::write, C::transient},
        {"we-read", std::nullopt, WE, {{kB, 0xb, true}}, Access::read, C::transient},
        {"wero-read", 0xaULL, WERO, {{kB, 0xb, true}}, Access::read, C::transient},
        // N7: WE/EA held by B.
        {"we-reg",
         std::nullopt,
         WE,
         {{kA, 0xa, false}, {kB, 0xb, true}},
         Access::write,
         C::reserved_by_other},
        {"ea-read-reg",
         0xaULL,
         EA,
         {{kA, 0xa, false}, {kB, 0xb, true}},
         Access::read,
         C::reserved_by_other},
        {"we-unreg-nokey",
         std::nullopt,
         WE,
         {{kB, 0xb, true}},
         Access::write,
         C::reserved_by_other},
        {"we-keygone", 0xaULL, WE, {{kB, 0xb, true}}, Access::write, C::fenced},
        {"ea-keygone-read", 0xaULL, EA, {{kB, 0xb, true}}, Access::read, C::fenced},
        // The key is still on the namespace (another host of ours?): not "gone".
        {"we-key-elsewhere", 0xaULL, WE, {{kB, 0xa, true}}, Access::write, C::reserved_by_other},
        // N8: registrants-only and all-registrants.
        {"wero-reg",
         std::nullopt,
         WERO,
         {{kA, 0xa, false}, {kB, 0xb, true}},
         Access::write,
         C::transient},
        {"earo-unreg", std::nullopt, EARO, {{kB, 0xb, true}}, Access::read, C::not_registered},
        {"wero-unreg", std::nullopt, WERO, {{kB, 0xb, true}}, Access::write, C::not_registered},
        {"wero-keygone", 0xaULL, WERO, {{kB, 0xb, true}}, Access::write, C::fenced},
        {"wear-reg",
         std::nullopt,
         WEAR,
         {{kA, 0xa, true}, {kB, 0xb, true}},
         Access::write,
         C::transient},
        {"eaar-keygone", 0xaULL, EAAR, {{kB, 0xb, true}}, Access::read, C::fenced},
        {"eaar-unreg", std::nullopt, EAAR, {{kB, 0xb, true}}, Access::unknown, C::not_registered},
        // N2-N5: Register/Acquire/Release refused.
        {"pr-keygone", 0xaULL, WE, {{kB, 0xb, true}}, Access::pr_out, C::fenced},
        {"pr-unreg", std::nullopt, WE, {{kB, 0xb, true}}, Access::pr_out, C::not_registered},
        {"pr-unreg-none", 0xaULL, 0, {}, Access::pr_out, C::not_registered},
        {"pr-reg-other",
         0xaULL,
         EA,
         {{kA, 0xa, false}, {kB, 0xb, true}},
         Access::pr_out,
         C::reserved_by_other},
        {"pr-reg-ours", 0xaULL, EA, {{kA, 0xa, true}}, Access::pr_out, C::transient},
        {"pr-in", 0xaULL, EA, {{kB, 0xb, true}}, Access::pr_in, C::transient},
    };
    for (const auto& r : rows) {
        const Diagnosis d = classify(nvsnap(r.key, r.rtype, r.regs), r.access);
        EXPECT_EQ(d.cls, r.want) << r.name << ": " << d.reason;
        EXPECT_TRUE(d.nvme_report.has_value()) << r.name;
    }
    // What a diagnosis says: the SCSI type numbering, the holder by host, who preempted us.
    const Diagnosis f = classify(nvsnap(0xaULL, WE, {{kB, 0xb, true}}), Access::write);
    EXPECT_EQ(f.type, 0x1);
    ASSERT_TRUE(f.holder_key.has_value());
    EXPECT_EQ(*f.holder_key, 0xbu);
    EXPECT_FALSE(f.registered);
    EXPECT_EQ(f.preempted_by, (std::vector<uint64_t>{0xb}));
    ASSERT_EQ(f.holder_ids.size(), 1u);
    EXPECT_EQ(f.holder_ids[0], "0xb host 50000000-0000-0000-0000-00000000000b");
    EXPECT_NE(
        f.reason.find("our host 50000000-0000-0000-0000-00000000000a is no longer registered"),
        std::string::npos)
        << f.reason;
    const Diagnosis e =
        classify(nvsnap(std::nullopt, EARO, {{kA, 0xa, false}, {kB, 0xb, true}}), Access::write);
    EXPECT_EQ(e.type, 0x6);
    EXPECT_TRUE(e.registered);
    // N1, an undefined type, and N0: without our host identifier the key table decides.
    PrSnapshot again = nvsnap(0xaULL, WE, {{kB, 0xb, true}});
    again.recheck_clear = true;
    EXPECT_EQ(classify(again, Access::write).cls, C::transient);
    EXPECT_EQ(classify(nvsnap(0xaULL, 9, {{kB, 0xb, true}}), Access::write).cls, C::unknown);
    PrSnapshot nohost = nvsnap(0xaULL, WE, {{kB, 0xb, true}});
    nohost.our_hostid.reset();
    nohost.keys->keys = {0xb};
    nohost.reservation->reserved = true;
    nohost.reservation->type = 1;
    nohost.reservation->key = 0xb;
    const Diagnosis k = classify(nohost, Access::write);
    EXPECT_EQ(k.cls, C::fenced);
    EXPECT_FALSE(k.nvme_report.has_value());
}

TEST(PrexplainClassify, HostIdText) {
    const auto u = parse_hostid("5052464E-0000-4000-8000-00000000000a");
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ((*u)[0], 0x50);
    EXPECT_EQ((*u)[15], 0x0a);
    EXPECT_EQ(hostid_text(*u), "5052464e-0000-4000-8000-00000000000a");
    const auto s = parse_hostid("0123456789abcdef");
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ((*s)[7], 0xef);
    EXPECT_EQ((*s)[8], 0);
    EXPECT_EQ(hostid_text(*s), "0123456789abcdef");
    for (const char* bad :
         {"", "5052464e-0000-4000-8000-00000000000", "5052464e00000-4000-8000-00000000000a",
          "zz52464e-0000-4000-8000-00000000000a", "0123456789abcdeg", "012345"})
        EXPECT_FALSE(parse_hostid(bad).has_value()) << bad;
}

}  // namespace
}  // namespace prfence::prexplain
