// SPDX-License-Identifier: MIT
// Identify Namespace / Controller: each field at the offset the specification (and Linux's struct
// nvme_id_ns / nvme_id_ctrl) gives it, and the reservation capability rule.
#include "uring_engine/wire/nvme_identify.h"

#include <gtest/gtest.h>

#include <cstring>

namespace prfence::wire::nvme {
namespace {

// nvmet with reservations enabled: RESCAP FEh (six types and IEKEY 1.3, no PTPL), 4 KiB blocks.
Bytes nvmet_ns() {
    Bytes b(4096, 0);
    put_le64(b, 0, 0x200000);  // NSZE
    put_le64(b, 8, 0x200000);  // NCAP
    put_le64(b, 16, 0x1000);   // NUSE
    b[25] = 1;                 // NLBAF: two formats
    b[26] = 1;                 // FLBAS: format 1
    b[30] = 1;                 // NMIC: shared
    b[31] = 0xfe;              // RESCAP
    b[128 + 2] = 9;            // LBAF0: 512 bytes
    b[128 + 4 + 2] = 12;       // LBAF1: 4096 bytes
    return b;
}

// nvmet's controller: ONCS 2Ch (bit 5 reservations), CTRATT 41h (128-bit host id), CNTLID 1.
Bytes nvmet_ctrl() {
    Bytes b(4096, 0);
    put_le16(b, 0, 0x1af4);
    std::memcpy(b.data() + 4, "ab12cd34ef56        ", 20);
    std::memcpy(b.data() + 24, "Linux                                   ", 40);
    std::memcpy(b.data() + 64, "7.3.4   ", 8);
    put_le16(b, 78, 1);
    put_le32(b, 80, 0x00020100);  // VER 2.1
    put_le32(b, 96, 0x41);
    put_le16(b, 520, 0x2c);
    const char nqn[] = "nqn.2026-12.io.prfence:pr";
    std::memcpy(b.data() + 768, nqn, sizeof nqn - 1);
    return b;
}

TEST(NvmeIdentify, NamespaceOffsets) {
    auto ns = parse_identify_ns(nvmet_ns());
    ASSERT_TRUE(ns.ok()) << ns.error().msg;
    EXPECT_EQ(ns->nsze, 0x200000u);
    EXPECT_EQ(ns->ncap, 0x200000u);
    EXPECT_EQ(ns->nuse, 0x1000u);
    EXPECT_EQ(ns->nlbaf, 1);
    EXPECT_EQ(ns->flbas, 1);
    EXPECT_EQ(ns->nmic, 1);
    EXPECT_EQ(ns->rescap, 0xfe);
    EXPECT_EQ(ns->lba_size, 4096u);
}

TEST(NvmeIdentify, LbaSizeEdgeCases) {
    Bytes b = nvmet_ns();
    b[26] = 5;  // FLBAS names format 5 of two
    EXPECT_EQ(parse_identify_ns(b)->lba_size, 0u);
    b = nvmet_ns();
    b[25] = 19;                // 20 formats: FLBAS bits 6:5 extend the index
    b[26] = 0x20 | 0x1;        // index 17
    b[128 + 17 * 4 + 2] = 13;  // 8 KiB
    EXPECT_EQ(parse_identify_ns(b)->lba_size, 8192u);
    b[128 + 17 * 4 + 2] = 40;  // LBADS that cannot be real
    EXPECT_EQ(parse_identify_ns(b)->lba_size, 0u);
}

TEST(NvmeIdentify, ControllerOffsets) {
    auto c = parse_identify_ctrl(nvmet_ctrl());
    ASSERT_TRUE(c.ok()) << c.error().msg;
    EXPECT_EQ(c->vid, 0x1af4);
    EXPECT_EQ(c->serial, "ab12cd34ef56");
    EXPECT_EQ(c->model, "Linux");
    EXPECT_EQ(c->firmware, "7.3.4");
    EXPECT_EQ(c->cntlid, 1);
    EXPECT_EQ(c->ver, 0x00020100u);
    EXPECT_EQ(c->ctratt, 0x41u);
    EXPECT_EQ(c->oncs, 0x2c);
    EXPECT_EQ(c->subnqn, "nqn.2026-12.io.prfence:pr");
}

TEST(NvmeIdentify, ShortDataIsAnError) {
    const Bytes ns = nvmet_ns();
    auto r = parse_identify_ns(ByteView(ns.data(), 4095));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::truncated);
    EXPECT_FALSE(parse_identify_ctrl(ByteView(ns.data(), 1024)).ok());
}

TEST(NvmeIdentify, NonPrintableTextIsMasked) {
    Bytes b = nvmet_ctrl();
    b[4] = 0x01;
    b[5] = 0xff;
    EXPECT_EQ(parse_identify_ctrl(b)->serial, "..12cd34ef56");
}

TEST(NvmeIdentify, EncodersRoundTrip) {
    auto ns = parse_identify_ns(nvmet_ns());
    ASSERT_TRUE(ns.ok());
    auto ns2 = parse_identify_ns(encode_identify_ns(*ns));
    ASSERT_TRUE(ns2.ok());
    EXPECT_EQ(*ns2, *ns);
    auto c = parse_identify_ctrl(nvmet_ctrl());
    ASSERT_TRUE(c.ok());
    const Bytes enc = encode_identify_ctrl(*c);
    EXPECT_EQ(enc, nvmet_ctrl());
    EXPECT_EQ(enc.size(), kIdentifyLen);
}

TEST(NvmeIdentify, CapabilitiesOfNvmet) {
    auto caps =
        reservation_caps(*parse_identify_ctrl(nvmet_ctrl()), *parse_identify_ns(nvmet_ns()));
    EXPECT_TRUE(caps.supported);
    EXPECT_EQ(caps.types, 0x7e);
    EXPECT_FALSE(caps.ptpl);
    EXPECT_TRUE(caps.iekey_13);
    EXPECT_TRUE(caps.host_id_128);
    for (uint8_t t = 1; t <= 6; ++t) EXPECT_TRUE(caps.supports(static_cast<Rtype>(t)));
    EXPECT_FALSE(caps.supports(Rtype::none));
}

TEST(NvmeIdentify, CapabilitiesNeedBothOncsAndRescap) {
    IdentifyController c;
    IdentifyNamespace ns;
    // nvmet without reservations enabled on the namespace: ONCS set, RESCAP 0.
    c.oncs = kOncsReservations;
    ns.rescap = 0;
    EXPECT_FALSE(reservation_caps(c, ns).supported);
    // RESCAP without ONCS (nvmet's passthru clears ONCS reservations).
    c.oncs = 0;
    ns.rescap = rescap::type_bit(Rtype::write_exclusive) | rescap::ptpl;
    auto caps = reservation_caps(c, ns);
    EXPECT_FALSE(caps.supported);
    EXPECT_FALSE(caps.supports(Rtype::write_exclusive));
    c.oncs = kOncsReservations;
    caps = reservation_caps(c, ns);
    EXPECT_TRUE(caps.supported);
    EXPECT_TRUE(caps.ptpl);
    EXPECT_TRUE(caps.supports(Rtype::write_exclusive));
    EXPECT_FALSE(caps.supports(Rtype::exclusive_access));
    EXPECT_FALSE(caps.host_id_128);
    EXPECT_EQ(rescap::type_bit(Rtype::exclusive_access_all_registrants), 0x40);
}

}  // namespace
}  // namespace prfence::wire::nvme
