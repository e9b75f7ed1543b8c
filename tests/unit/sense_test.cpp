// SPDX-License-Identifier: MIT
#include "uring_engine/wire/sense.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace prfence::wire {
namespace {

using test::for_each_truncation;
using test::hex;

Sense decode_ok(const Bytes& b) {
    auto r = decode_sense(b);
    EXPECT_TRUE(r.ok()) << hex_string(b) << ": " << (r.ok() ? "" : r.error().msg);
    return r.ok() ? *r : Sense{};
}

// ---------------------------------------------------------------------------------------------
// Fixed format

TEST(SenseFixed, UnitAttentionRegistrationsPreempted) {
    const Bytes b = hex("70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00");
    const Sense s = decode_ok(b);
    EXPECT_EQ(s.response_code, 0x70);
    EXPECT_FALSE(s.descriptor);
    EXPECT_FALSE(s.deferred);
    EXPECT_EQ(s.key, SenseKey::unit_attention);
    EXPECT_EQ(s.asc, 0x2a);
    EXPECT_EQ(s.ascq, 0x05);
    EXPECT_FALSE(s.filemark || s.eom || s.ili);
    EXPECT_FALSE(s.information);
    EXPECT_FALSE(s.command_specific);
    EXPECT_FALSE(s.fru);
    EXPECT_FALSE(s.sense_key_specific);
    EXPECT_FALSE(s.field_pointer);
    EXPECT_FALSE(s.progress);
    EXPECT_TRUE(s.descriptors.empty());
    EXPECT_FALSE(s.truncated);
    EXPECT_EQ(describe_sense(s), "UNIT ATTENTION: REGISTRATIONS PREEMPTED (2Ah/05h)");
}

TEST(SenseFixed, ValidBitInformation) {
    const Sense s = decode_ok(hex("f0 00 03 00 00 12 34 0a 00 00 00 00 11 00 00 00 00 00"));
    EXPECT_EQ(s.response_code, 0x70);  // VALID is not part of the response code
    EXPECT_EQ(s.key, SenseKey::medium_error);
    ASSERT_TRUE(s.information);
    EXPECT_EQ(*s.information, 0x1234u);
    EXPECT_EQ(describe_sense(s), "MEDIUM ERROR: UNRECOVERED READ ERROR (11h/00h), info=0x1234");
}

TEST(SenseFixed, InformationWithoutValidBitIsIgnored) {
    const Sense s = decode_ok(hex("70 00 03 00 00 12 34 0a 00 00 00 00 11 00 00 00 00 00"));
    EXPECT_FALSE(s.information);
}

TEST(SenseFixed, Deferred) {
    for (const char* b0 : {"71", "f1"}) {
        const Sense s =
            decode_ok(hex(std::string(b0) + " 00 04 ff ff ff ff 0a 00 00 00 00 44 00 00 00 00 00"));
        EXPECT_EQ(s.response_code, 0x71) << b0;
        EXPECT_TRUE(s.deferred);
        EXPECT_FALSE(s.descriptor);
        EXPECT_EQ(s.key, SenseKey::hardware_error);
        EXPECT_EQ(s.information.has_value(), std::string(b0) == "f1");
        EXPECT_NE(describe_sense(s).find(", deferred"), std::string::npos) << describe_sense(s);
    }
}

TEST(SenseFixed, FieldPointerInCdbWithBit) {
    // SKSV | C/D | BPV | bit 4 = CCh, field pointer byte 2
    const Sense s = decode_ok(hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 cc 00 02"));
    EXPECT_EQ(s.key, SenseKey::illegal_request);
    ASSERT_TRUE(s.sense_key_specific);
    EXPECT_EQ(*s.sense_key_specific, (std::array<uint8_t, 3>{0xcc, 0x00, 0x02}));
    ASSERT_TRUE(s.field_pointer);
    EXPECT_TRUE(s.field_pointer->cd);
    EXPECT_TRUE(s.field_pointer->bpv);
    EXPECT_EQ(s.field_pointer->bit, 4);
    EXPECT_EQ(s.field_pointer->byte, 2);
    EXPECT_FALSE(s.progress);
    EXPECT_EQ(describe_sense(s),
              "ILLEGAL REQUEST: INVALID FIELD IN CDB (24h/00h), field pointer: CDB byte 2 bit 4");
}

TEST(SenseFixed, FieldPointerInParameterList) {
    const Sense s = decode_ok(hex("70 00 05 00 00 00 00 0a 00 00 00 00 26 00 00 80 01 1c"));
    ASSERT_TRUE(s.field_pointer);
    EXPECT_FALSE(s.field_pointer->cd);
    EXPECT_FALSE(s.field_pointer->bpv);
    EXPECT_EQ(s.field_pointer->bit, 0);
    EXPECT_EQ(s.field_pointer->byte, 0x11c);
    EXPECT_EQ(
        describe_sense(s),
        "ILLEGAL REQUEST: INVALID FIELD IN PARAMETER LIST (26h/00h), field pointer: parameter "
        "data byte 284");
}

TEST(SenseFixed, SksvClearMeansNoSenseKeySpecific) {
    const Sense s = decode_ok(hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 4c 00 02"));
    EXPECT_FALSE(s.sense_key_specific);
    EXPECT_FALSE(s.field_pointer);
}

TEST(SenseFixed, ProgressNotReady) {
    // 04h/04h FORMAT IN PROGRESS, progress 6000h = 37.5 %
    const Sense s = decode_ok(hex("70 00 02 00 00 00 00 0a 00 00 00 00 04 04 00 80 60 00"));
    EXPECT_EQ(s.key, SenseKey::not_ready);
    ASSERT_TRUE(s.progress);
    EXPECT_EQ(*s.progress, 0x6000);
    EXPECT_FALSE(s.field_pointer);
    EXPECT_EQ(describe_sense(s),
              "NOT READY: LOGICAL UNIT NOT READY, FORMAT IN PROGRESS (04h/04h), progress 37%");
}

TEST(SenseFixed, ProgressNoSense) {
    const Sense s = decode_ok(hex("70 00 00 00 00 00 00 0a 00 00 00 00 00 16 00 80 ff ff"));
    ASSERT_TRUE(s.progress);
    EXPECT_EQ(*s.progress, 0xffff);
    EXPECT_NE(describe_sense(s).find("progress 99%"), std::string::npos);
}

TEST(SenseFixed, OtherSenseKeySpecificStaysRaw) {
    // MEDIUM ERROR: the sense-key-specific bytes are an actual retry count, not decoded further.
    const Sense s = decode_ok(hex("70 00 03 00 00 00 00 0a 00 00 00 00 11 00 00 80 00 05"));
    ASSERT_TRUE(s.sense_key_specific);
    EXPECT_FALSE(s.field_pointer);
    EXPECT_FALSE(s.progress);
    EXPECT_NE(describe_sense(s).find("sense-key-specific 80 00 05"), std::string::npos)
        << describe_sense(s);
}

TEST(SenseFixed, CommandSpecificFruAndFlags) {
    const Sense s = decode_ok(hex("70 00 e8 00 00 00 00 0a 00 00 00 2a 00 00 05 00 00 00"));
    EXPECT_EQ(s.key, SenseKey::blank_check);
    EXPECT_TRUE(s.filemark);
    EXPECT_TRUE(s.eom);
    EXPECT_TRUE(s.ili);
    ASSERT_TRUE(s.command_specific);
    EXPECT_EQ(*s.command_specific, 0x2au);
    ASSERT_TRUE(s.fru);
    EXPECT_EQ(*s.fru, 0x05);
    EXPECT_EQ(
        describe_sense(s),
        "BLANK CHECK: NO ADDITIONAL SENSE INFORMATION (00h/00h), command-specific=0x2a, FRU=05h, "
        "filemark, EOM, ILI");
}

TEST(SenseFixed, BytesPastAdditionalLengthAreIgnored) {
    // Additional length 6: ASC/ASCQ present, FRU and SKS beyond the declared end (stale buffer
    // bytes).
    const Sense s = decode_ok(hex("70 00 06 00 00 00 00 06 00 00 00 00 29 07 99 80 00 01 ff ff"));
    EXPECT_FALSE(s.truncated);
    EXPECT_EQ(s.asc, 0x29);
    EXPECT_EQ(s.ascq, 0x07);
    EXPECT_FALSE(s.fru);
    EXPECT_FALSE(s.sense_key_specific);
}

TEST(SenseFixed, LongerThanEighteenBytes) {
    Bytes b = hex("70 00 06 00 00 00 00 0e 00 00 00 00 3f 0e 00 00 00 00 01 02 03 04");
    const Sense s = decode_ok(b);
    EXPECT_FALSE(s.truncated);
    EXPECT_EQ(s.asc, 0x3f);
    EXPECT_EQ(s.ascq, 0x0e);
}

TEST(SenseFixed, TooShortForAscIsTruncated) {
    // The device declared 2 additional bytes: key present, ASC/ASCQ not.
    const Sense s = decode_ok(hex("70 00 06 00 00 00 00 02 00 00 2a 05"));
    EXPECT_EQ(s.key, SenseKey::unit_attention);
    EXPECT_EQ(s.asc, 0);
    EXPECT_EQ(s.ascq, 0);
    EXPECT_TRUE(s.truncated);
}

TEST(SenseFixed, BufferShorterThanAdditionalLength) {
    // 14 bytes of an 18-byte sense: ASC/ASCQ present, the rest not, truncated.
    const Sense s = decode_ok(hex("70 00 06 00 00 00 00 0a 00 00 00 00 2a 03"));
    EXPECT_TRUE(s.truncated);
    EXPECT_EQ(s.asc, 0x2a);
    EXPECT_EQ(s.ascq, 0x03);
    EXPECT_EQ(describe_sense(s), "UNIT ATTENTION: RESERVATIONS PREEMPTED (2Ah/03h), truncated");
}

// ---------------------------------------------------------------------------------------------
// Descriptor format

TEST(SenseDescriptor, InformationAndFieldPointer) {
    const Bytes b =
        hex("72 05 24 00 00 00 00 14"
            " 00 0a 80 00 00 00 00 00 00 00 12 34"
            " 02 06 00 00 c8 00 05 00");
    const Sense s = decode_ok(b);
    EXPECT_EQ(s.response_code, 0x72);
    EXPECT_TRUE(s.descriptor);
    EXPECT_FALSE(s.deferred);
    EXPECT_EQ(s.key, SenseKey::illegal_request);
    EXPECT_EQ(s.asc, 0x24);
    EXPECT_EQ(s.ascq, 0x00);
    ASSERT_TRUE(s.information);
    EXPECT_EQ(*s.information, 0x1234u);
    ASSERT_TRUE(s.sense_key_specific);
    EXPECT_EQ(*s.sense_key_specific, (std::array<uint8_t, 3>{0xc8, 0x00, 0x05}));
    ASSERT_TRUE(s.field_pointer);
    EXPECT_TRUE(s.field_pointer->cd);
    EXPECT_TRUE(s.field_pointer->bpv);
    EXPECT_EQ(s.field_pointer->bit, 0);
    EXPECT_EQ(s.field_pointer->byte, 5);
    ASSERT_EQ(s.descriptors.size(), 2u);
    EXPECT_EQ(s.descriptors[0].type, 0x00);
    EXPECT_EQ(s.descriptors[0].body, hex("80 00 00 00 00 00 00 00 12 34"));
    EXPECT_EQ(s.descriptors[1].type, 0x02);
    EXPECT_EQ(s.descriptors[1].body, hex("00 00 c8 00 05 00"));
    EXPECT_FALSE(s.truncated);
    EXPECT_EQ(
        describe_sense(s),
        "ILLEGAL REQUEST: INVALID FIELD IN CDB (24h/00h), info=0x1234, field pointer: CDB byte 5 "
        "bit 0");
}

TEST(SenseDescriptor, DeferredAndHighBitOfByteZero) {
    Sense s = decode_ok(hex("73 06 2a 05 00 00 00 00"));
    EXPECT_EQ(s.response_code, 0x73);
    EXPECT_TRUE(s.deferred);
    EXPECT_TRUE(s.descriptor);
    EXPECT_EQ(s.key, SenseKey::unit_attention);
    EXPECT_FALSE(s.truncated);
    s = decode_ok(hex("f2 06 2a 05 00 00 00 00"));  // bit 7 is reserved in descriptor format
    EXPECT_EQ(s.response_code, 0x72);
    EXPECT_FALSE(s.information);
}

TEST(SenseDescriptor, InformationWithoutValidBitIsIgnored) {
    const Sense s = decode_ok(hex("72 03 11 00 00 00 00 0c 00 0a 00 00 00 00 00 00 00 00 12 34"));
    EXPECT_FALSE(s.information);
    ASSERT_EQ(s.descriptors.size(), 1u);
}

TEST(SenseDescriptor, ProgressFromSenseKeySpecific) {
    const Sense s = decode_ok(hex("72 02 04 04 00 00 00 08 02 06 00 00 80 80 00 00"));
    ASSERT_TRUE(s.progress);
    EXPECT_EQ(*s.progress, 0x8000);
    EXPECT_NE(describe_sense(s).find("progress 50%"), std::string::npos);
}

TEST(SenseDescriptor, AnotherProgressIndication) {
    // UNIT ATTENTION with a 0Ah descriptor: NOT READY 04h/04h of another operation, 25 % done.
    const Sense s = decode_ok(hex("72 06 29 00 00 00 00 08 0a 06 02 04 04 00 40 00"));
    EXPECT_EQ(s.key, SenseKey::unit_attention);
    ASSERT_TRUE(s.progress);
    EXPECT_EQ(*s.progress, 0x4000);
    ASSERT_EQ(s.descriptors.size(), 1u);
    EXPECT_EQ(s.descriptors[0].type, 0x0a);
    EXPECT_EQ(
        describe_sense(s),
        "UNIT ATTENTION: POWER ON, RESET, OR BUS DEVICE RESET OCCURRED (29h/00h), progress 25%");
}

TEST(SenseDescriptor, SenseKeySpecificProgressWinsOverAnother) {
    const Sense s =
        decode_ok(hex("72 02 04 04 00 00 00 10 0a 06 02 04 04 00 40 00 02 06 00 00 80 80 00 00"));
    ASSERT_TRUE(s.progress);
    EXPECT_EQ(*s.progress, 0x8000);
}

TEST(SenseDescriptor, CommandSpecificFruStream) {
    const Sense s =
        decode_ok(hex("72 03 11 00 00 00 00 14"
                      " 01 0a 00 00 00 00 00 00 00 00 00 ab"
                      " 03 02 00 07"
                      " 04 02 00 a0"));
    ASSERT_TRUE(s.command_specific);
    EXPECT_EQ(*s.command_specific, 0xabu);
    ASSERT_TRUE(s.fru);
    EXPECT_EQ(*s.fru, 7);
    EXPECT_TRUE(s.filemark);
    EXPECT_FALSE(s.eom);
    EXPECT_TRUE(s.ili);
    EXPECT_EQ(s.descriptors.size(), 3u);
}

TEST(SenseDescriptor, BlockCommandsIli) {
    const Sense s = decode_ok(hex("72 03 11 00 00 00 00 04 05 02 00 20"));
    EXPECT_TRUE(s.ili);
    EXPECT_FALSE(s.filemark);
}

TEST(SenseDescriptor, DirectAccessBlockDevice) {
    const Sense s =
        decode_ok(hex("72 03 11 00 00 00 00 1e"
                      " 0d 1c a0 00 80 00 09 42 00 00 00 00 00 00 10 00 00 00 00 00 00 00 00 2a 00 "
                      "00 00 00 00 00"));
    EXPECT_TRUE(s.ili);
    ASSERT_TRUE(s.information);
    EXPECT_EQ(*s.information, 0x1000u);
    ASSERT_TRUE(s.command_specific);
    EXPECT_EQ(*s.command_specific, 0x2au);
    ASSERT_TRUE(s.fru);
    EXPECT_EQ(*s.fru, 0x42);
    ASSERT_TRUE(s.sense_key_specific);
    EXPECT_EQ(*s.sense_key_specific, (std::array<uint8_t, 3>{0x80, 0x00, 0x09}));
    EXPECT_FALSE(s.truncated);
}

TEST(SenseDescriptor, UnknownDescriptorKeptRaw) {
    const Sense s = decode_ok(hex("72 06 2a 05 00 00 00 05 80 03 01 02 03"));
    ASSERT_EQ(s.descriptors.size(), 1u);
    EXPECT_EQ(s.descriptors[0].type, 0x80);
    EXPECT_EQ(s.descriptors[0].body, hex("01 02 03"));
    EXPECT_FALSE(s.truncated);
}

TEST(SenseDescriptor, ZeroLengthDescriptors) {
    const Sense s = decode_ok(hex("72 06 2a 05 00 00 00 08 05 00 06 00 80 00 00 00"));
    ASSERT_EQ(s.descriptors.size(), 4u);
    for (const auto& d : s.descriptors) EXPECT_TRUE(d.body.empty());
    EXPECT_EQ(s.descriptors[3].type, 0x00);  // a zero-length information descriptor: no information
    EXPECT_FALSE(s.information);
    EXPECT_FALSE(s.ili);
    EXPECT_FALSE(s.truncated);
}

TEST(SenseDescriptor, ShortKnownDescriptorsAreNotInterpreted) {
    // information (needs 10), SKS (needs 5), FRU (needs 2), another progress (needs 6): all too
    // short
    const Sense s =
        decode_ok(hex("72 02 04 04 00 00 00 0d 00 02 80 00 02 02 00 00 03 01 00 0a 00"));
    EXPECT_EQ(s.descriptors.size(), 4u);
    EXPECT_FALSE(s.information);
    EXPECT_FALSE(s.sense_key_specific);
    EXPECT_FALSE(s.fru);
    EXPECT_FALSE(s.progress);
}

TEST(SenseDescriptor, FirstOfDuplicateDescriptorsWins) {
    const Sense s =
        decode_ok(hex("72 03 11 00 00 00 00 18"
                      " 00 0a 80 00 00 00 00 00 00 00 00 01"
                      " 00 0a 80 00 00 00 00 00 00 00 00 02"));
    ASSERT_TRUE(s.information);
    EXPECT_EQ(*s.information, 1u);
    EXPECT_EQ(s.descriptors.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Hostile input

TEST(SenseHostile, EmptyIsAnError) {
    auto r = decode_sense(ByteView{});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::truncated);
}

TEST(SenseHostile, UnknownResponseCodeIsAnError) {
    for (uint8_t b0 : {0x00, 0x01, 0x6f, 0x74, 0x7e, 0x7f, 0x80, 0xef, 0xf4, 0xff}) {
        const Bytes b = {b0, 0x00, 0x06, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x2a, 0x05, 0, 0, 0, 0};
        auto r = decode_sense(b);
        ASSERT_FALSE(r.ok()) << int(b0);
        EXPECT_EQ(r.error().code, Errc::malformed);
        EXPECT_NE(r.error().msg.find("response code"), std::string::npos);
    }
}

TEST(SenseHostile, OneByte) {
    for (uint8_t b0 : {0x70, 0x71, 0x72, 0x73, 0xf0}) {
        const Sense s = decode_ok(Bytes{b0});
        EXPECT_TRUE(s.truncated) << int(b0);
        EXPECT_EQ(s.key, SenseKey::no_sense);
        EXPECT_EQ(s.asc, 0);
        EXPECT_FALSE(describe_sense(s).empty());
    }
}

TEST(SenseHostile, FixedLyingAdditionalLength) {
    // Claims 244 additional bytes, has 10: everything present decodes, truncated is set.
    const Sense s = decode_ok(hex("f0 00 06 00 00 00 07 f4 00 00 00 00 2a 05 00 80 00 01"));
    EXPECT_TRUE(s.truncated);
    EXPECT_EQ(s.key, SenseKey::unit_attention);
    EXPECT_EQ(s.asc, 0x2a);
    EXPECT_EQ(s.ascq, 0x05);
    ASSERT_TRUE(s.information);
    EXPECT_EQ(*s.information, 7u);
    EXPECT_TRUE(s.sense_key_specific);
}

TEST(SenseHostile, DescriptorLyingAdditionalLength) {
    const Sense s = decode_ok(hex("72 06 2a 05 00 00 00 f4 00 0a 80 00 00 00 00 00 00 00 00 09"));
    EXPECT_TRUE(s.truncated);
    ASSERT_EQ(s.descriptors.size(), 1u);  // the whole descriptor that is there still counts
    ASSERT_TRUE(s.information);
    EXPECT_EQ(*s.information, 9u);
}

TEST(SenseHostile, DescriptorRunsPastBufferEnd) {
    const Sense s = decode_ok(hex("72 06 2a 05 00 00 00 0c 00 0a 80 00 00 00"));
    EXPECT_TRUE(s.truncated);
    EXPECT_TRUE(s.descriptors.empty());
    EXPECT_FALSE(s.information);
    EXPECT_EQ(s.asc, 0x2a);
}

TEST(SenseHostile, DescriptorRunsPastDeclaredEnd) {
    // The buffer is long enough but the descriptor's length goes past ADDITIONAL SENSE LENGTH.
    const Sense s =
        decode_ok(hex("72 06 2a 05 00 00 00 06 03 02 00 01 00 0a 80 00 00 00 00 00 00 00 00 01"));
    EXPECT_TRUE(s.truncated);
    ASSERT_EQ(s.descriptors.size(), 1u);
    EXPECT_EQ(s.descriptors[0].type, 0x03);
    EXPECT_FALSE(s.information);
}

TEST(SenseHostile, DescriptorTypeWithoutLength) {
    const Sense s = decode_ok(hex("72 06 2a 05 00 00 00 01 00"));
    EXPECT_TRUE(s.truncated);
    EXPECT_TRUE(s.descriptors.empty());
}

TEST(SenseHostile, DescriptorHeaderShorterThanEight) {
    const Sense s = decode_ok(hex("72 06 2a 05 00"));
    EXPECT_TRUE(s.truncated);
    EXPECT_EQ(s.key, SenseKey::unit_attention);
    EXPECT_EQ(s.asc, 0x2a);
    EXPECT_EQ(s.ascq, 0x05);
}

TEST(SenseHostile, MaximumSizeBuffers) {
    // Fixed: 8 + F4h = 252 bytes, all of it declared.
    Bytes fixed(252, 0xa5);
    fixed[0] = 0xf0;
    fixed[7] = 0xf4;
    Sense s = decode_ok(fixed);
    EXPECT_FALSE(s.truncated);
    EXPECT_EQ(s.key, static_cast<SenseKey>(0x05));
    EXPECT_EQ(s.asc, 0xa5);
    EXPECT_TRUE(s.information);
    EXPECT_TRUE(s.sense_key_specific);
    EXPECT_FALSE(describe_sense(s).empty());

    // Descriptor: two vendor descriptors of 120 bytes fill the 244 additional bytes exactly.
    Bytes desc(252, 0x5a);
    desc[0] = 0x72;
    desc[7] = 0xf4;
    desc[8] = 0x81;
    desc[9] = 120;
    desc[130] = 0x82;
    desc[131] = 120;
    s = decode_ok(desc);
    EXPECT_FALSE(s.truncated);
    ASSERT_EQ(s.descriptors.size(), 2u);
    EXPECT_EQ(s.descriptors[1].body.size(), 120u);

    // Descriptor, everything FFh: claims 255 additional bytes, first descriptor 255 long.
    Bytes ff(252, 0xff);
    ff[0] = 0x72;
    s = decode_ok(ff);
    EXPECT_TRUE(s.truncated);
    EXPECT_TRUE(s.descriptors.empty());

    // Zero-length descriptors all the way.
    Bytes zeros(252, 0x00);
    zeros[0] = 0x72;
    zeros[7] = 0xf4;
    s = decode_ok(zeros);
    EXPECT_FALSE(s.truncated);
    EXPECT_EQ(s.descriptors.size(), 122u);

    // Larger than any SCSI sense buffer: still only what is declared counts.
    Bytes big(4096, 0x00);
    big[0] = 0x70;
    big[7] = 0x0a;
    big[12] = 0x29;
    s = decode_ok(big);
    EXPECT_FALSE(s.truncated);
    EXPECT_EQ(s.asc, 0x29);
}

TEST(SenseHostile, EveryTruncationOfValidBuffers) {
    const std::vector<Bytes> valid = {
        hex("70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00"),
        hex("f0 00 05 00 00 12 34 0a 00 00 00 2a 24 00 05 cc 00 02"),
        hex("71 00 02 00 00 00 00 0a 00 00 00 00 04 04 00 80 60 00"),
        hex("72 05 24 00 00 00 00 14 00 0a 80 00 00 00 00 00 00 00 12 34 02 06 00 00 c8 00 05 00"),
        hex("73 06 29 00 00 00 00 08 0a 06 02 04 04 00 40 00"),
        hex("72 03 11 00 00 00 00 14 01 0a 00 00 00 00 00 00 00 00 00 ab 03 02 00 07 04 02 00 a0"),
    };
    for (const Bytes& full : valid) {
        const Sense whole = decode_ok(full);
        ASSERT_FALSE(whole.truncated) << hex_string(full);
        for_each_truncation(full, [&](ByteView part) {
            auto r = decode_sense(part);
            if (part.empty()) {
                EXPECT_FALSE(r.ok());
                return;
            }
            ASSERT_TRUE(r.ok()) << part.size();
            EXPECT_TRUE(r->truncated) << hex_string(full) << " cut to " << part.size();
            EXPECT_EQ(r->response_code, whole.response_code);
            EXPECT_LE(r->descriptors.size(), whole.descriptors.size());
            // What a prefix reports is never made up: a field present in the prefix matches the
            // whole.
            if (r->information) {
                EXPECT_EQ(r->information, whole.information);
            }
            if (r->sense_key_specific) {
                EXPECT_EQ(r->sense_key_specific, whole.sense_key_specific);
            }
            if (r->asc != 0) {
                EXPECT_EQ(r->asc, whole.asc);
            }
            EXPECT_FALSE(describe_sense(*r).empty());
        });
    }
}

TEST(SenseHostile, PseudoRandomBuffersNeverCrash) {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    const uint8_t codes[] = {0x70, 0x71, 0x72, 0x73, 0xf0, 0xf1, 0xf2, 0xf3};
    for (int i = 0; i < 20000; ++i) {
        Bytes b(next() % 64);
        for (auto& v : b) v = static_cast<uint8_t>(next());
        if (!b.empty()) b[0] = codes[next() % 8];
        if (b.size() > 7 && next() % 2) b[7] = static_cast<uint8_t>(b.size() - 8 + next() % 3 - 1);
        auto r = decode_sense(b);
        if (b.empty()) {
            EXPECT_FALSE(r.ok());
            continue;
        }
        ASSERT_TRUE(r.ok());
        EXPECT_FALSE(describe_sense(*r).empty());
        auto again = decode_sense(encode_sense(*r));
        ASSERT_TRUE(again.ok());
        EXPECT_FALSE(again->truncated);
        EXPECT_EQ(again->key, r->key);
        EXPECT_EQ(again->asc, r->asc);
        EXPECT_EQ(again->ascq, r->ascq);
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

TEST(SenseEncode, MakeFixedSenseIsByteExact) {
    EXPECT_EQ(make_fixed_sense(SenseKey::unit_attention, 0x2a, 0x05),
              hex("70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00"));
    EXPECT_EQ(make_fixed_sense(SenseKey::illegal_request, 0x26, 0x04),
              hex("70 00 05 00 00 00 00 0a 00 00 00 00 26 04 00 00 00 00"));
}

TEST(SenseEncode, FieldPointerIsByteExact) {
    EXPECT_EQ(make_fixed_sense_field_pointer(SenseKey::illegal_request, 0x24, 0x00, true, 2, 4),
              hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 cc 00 02"));
    EXPECT_EQ(make_fixed_sense_field_pointer(SenseKey::illegal_request, 0x26, 0x00, false, 284),
              hex("70 00 05 00 00 00 00 0a 00 00 00 00 26 00 00 80 01 1c"));
    // Only the three bits of the bit pointer are encoded.
    EXPECT_EQ(make_fixed_sense_field_pointer(SenseKey::illegal_request, 0x24, 0x00, true, 1, 0xff),
              hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 cf 00 01"));
}

TEST(SenseEncode, DescriptorIsByteExact) {
    Sense s;
    s.descriptor = true;
    s.key = SenseKey::illegal_request;
    s.asc = 0x24;
    s.information = 0x1234;
    s.field_pointer = Sense::FieldPointer{true, true, 0, 5};
    EXPECT_EQ(
        encode_sense(s),
        hex("72 05 24 00 00 00 00 14 00 0a 80 00 00 00 00 00 00 00 12 34 02 06 00 00 c8 00 05 00"));
    Sense bare;
    bare.descriptor = true;
    bare.deferred = true;
    bare.key = SenseKey::unit_attention;
    bare.asc = 0x2a;
    bare.ascq = 0x05;
    EXPECT_EQ(encode_sense(bare), hex("73 06 2a 05 00 00 00 00"));
}

TEST(SenseEncode, FixedInformationTooWideClearsValid) {
    Sense s;
    s.key = SenseKey::medium_error;
    s.information = 0x100000000ull;
    s.command_specific = 0x1ffffffffull;
    const Bytes b = encode_sense(s);
    EXPECT_EQ(b, hex("70 00 03 00 00 00 00 0a 00 00 00 00 00 00 00 00 00 00"));
    s.descriptor = true;
    const Sense d = decode_ok(encode_sense(s));
    EXPECT_EQ(d.information, s.information);
    EXPECT_EQ(d.command_specific, s.command_specific);
}

void expect_same_fields(const Sense& a, const Sense& b, const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(a.descriptor, b.descriptor);
    EXPECT_EQ(a.deferred, b.deferred);
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.asc, b.asc);
    EXPECT_EQ(a.ascq, b.ascq);
    EXPECT_EQ(a.filemark, b.filemark);
    EXPECT_EQ(a.eom, b.eom);
    EXPECT_EQ(a.ili, b.ili);
    EXPECT_EQ(a.information, b.information);
    EXPECT_EQ(a.command_specific, b.command_specific);
    EXPECT_EQ(a.fru, b.fru);
    EXPECT_EQ(a.progress, b.progress);
    EXPECT_EQ(a.field_pointer.has_value(), b.field_pointer.has_value());
    if (a.field_pointer && b.field_pointer) {
        EXPECT_EQ(a.field_pointer->cd, b.field_pointer->cd);
        EXPECT_EQ(a.field_pointer->bpv, b.field_pointer->bpv);
        EXPECT_EQ(a.field_pointer->bit, b.field_pointer->bit);
        EXPECT_EQ(a.field_pointer->byte, b.field_pointer->byte);
    }
}

TEST(SenseEncode, RoundTrips) {
    std::vector<Sense> cases;
    for (bool descriptor : {false, true}) {
        for (bool deferred : {false, true}) {
            Sense s;
            s.descriptor = descriptor;
            s.deferred = deferred;
            s.key = SenseKey::unit_attention;
            s.asc = 0x2a;
            s.ascq = 0x05;
            cases.push_back(s);

            Sense ir = s;
            ir.key = SenseKey::illegal_request;
            ir.asc = 0x26;
            ir.ascq = 0x00;
            ir.information = 0xdeadbeef;
            ir.field_pointer = Sense::FieldPointer{false, true, 7, 0xfffe};
            cases.push_back(ir);

            Sense nr = s;
            nr.key = SenseKey::not_ready;
            nr.asc = 0x04;
            nr.ascq = 0x1b;
            nr.progress = 0x1234;
            cases.push_back(nr);

            Sense me = s;
            me.key = SenseKey::medium_error;
            me.asc = 0x11;
            me.ascq = 0x00;
            me.information = 0x12345678;
            me.command_specific = 0x9abcdef0;
            me.fru = 0x42;
            me.filemark = true;
            me.eom = true;
            me.ili = true;
            cases.push_back(me);
        }
    }
    for (const Sense& in : cases) {
        const Bytes b = encode_sense(in);
        const Sense out = decode_ok(b);
        expect_same_fields(in, out, hex_string(b));
        EXPECT_FALSE(out.truncated);
        EXPECT_EQ(out.response_code, (in.descriptor ? 0x72 : 0x70) + (in.deferred ? 1 : 0));
        // Encoding what was decoded gives the same bytes back.
        EXPECT_EQ(encode_sense(out), b);
    }
}

TEST(SenseEncode, DecodeEncodeDecodeIsStable) {
    for (const char* h :
         {"70 00 06 00 00 00 00 0a 00 00 00 00 2a 05 00 00 00 00",
          "f1 00 04 00 00 00 01 0a 00 00 00 02 44 00 03 80 00 02",
          "72 05 24 00 00 00 00 14 00 0a 80 00 00 00 00 00 00 00 12 34 02 06 00 00 c8 "
          "00 05 00"}) {
        const Sense a = decode_ok(hex(h));
        const Sense b = decode_ok(encode_sense(a));
        expect_same_fields(a, b, h);
        EXPECT_EQ(a.sense_key_specific, b.sense_key_specific) << h;
        EXPECT_EQ(a, b) << h;  // canonical input: the whole Sense, descriptors included, survives
        EXPECT_EQ(encode_sense(a), hex(h)) << h;
    }
}

// ---------------------------------------------------------------------------------------------
// Names and the ASC/ASCQ table

TEST(SenseKeyName, AllSixteen) {
    const char* names[] = {"NO SENSE",       "RECOVERED ERROR", "NOT READY",      "MEDIUM ERROR",
                           "HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
                           "BLANK CHECK",    "VENDOR SPECIFIC", "COPY ABORTED",   "ABORTED COMMAND",
                           "RESERVED",       "VOLUME OVERFLOW", "MISCOMPARE",     "COMPLETED"};
    for (int k = 0; k < 16; ++k) EXPECT_STREQ(sense_key_name(static_cast<SenseKey>(k)), names[k]);
    EXPECT_STREQ(sense_key_name(static_cast<SenseKey>(0x10)), "INVALID SENSE KEY");
}

TEST(AscTable, SpotChecks) {
    struct Case {
        uint8_t asc, ascq;
        const char* text;
    };
    const Case cases[] = {
        {0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION"},
        {0x04, 0x01, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY"},
        {0x04, 0x0a, "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION"},
        {0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE"},
        {0x1a, 0x00, "PARAMETER LIST LENGTH ERROR"},
        {0x20, 0x00, "INVALID COMMAND OPERATION CODE"},
        {0x21, 0x00, "LOGICAL BLOCK ADDRESS OUT OF RANGE"},
        {0x24, 0x00, "INVALID FIELD IN CDB"},
        {0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED"},
        {0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"},
        {0x26, 0x04, "INVALID RELEASE OF PERSISTENT RESERVATION"},
        {0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"},
        {0x29, 0x07, "I_T NEXUS LOSS OCCURRED"},
        {0x2a, 0x03, "RESERVATIONS PREEMPTED"},
        {0x2a, 0x04, "RESERVATIONS RELEASED"},
        {0x2a, 0x05, "REGISTRATIONS PREEMPTED"},
        {0x2c, 0x09, "PREVIOUS RESERVATION CONFLICT STATUS"},
        {0x3f, 0x0e, "REPORTED LUNS DATA HAS CHANGED"},
        {0x3f, 0x12, "iSCSI IP ADDRESS ADDED"},
        {0x40, 0x00, "RAM FAILURE (SHOULD USE 40 NN)"},
        {0x5d, 0x00, "FAILURE PREDICTION THRESHOLD EXCEEDED"},
        {0x74, 0x79, "SECURITY CONFLICT IN TRANSLATED DEVICE"},
        // assigned after the 2022 copy, from the appended lines of asc-num.txt
        {0x00, 0x23, "OVERLAPPING ATOMIC COMMAND IN PROGRESS"},
        {0x67, 0x0e, "FEATURE NOT ENABLED"},
    };
    for (const Case& c : cases) EXPECT_EQ(asc_ascq_text(c.asc, c.ascq), c.text);
}

TEST(AscTable, RangedEntries) {
    EXPECT_EQ(asc_ascq_text(0x40, 0x80), "DIAGNOSTIC FAILURE ON COMPONENT 80h");
    EXPECT_EQ(asc_ascq_text(0x40, 0x85), "DIAGNOSTIC FAILURE ON COMPONENT 85h");
    EXPECT_EQ(asc_ascq_text(0x40, 0xff), "DIAGNOSTIC FAILURE ON COMPONENT FFh");
    // T10 assigns 40h/NNh only for 80h-FFh; 40h/12h is not assigned.
    EXPECT_EQ(asc_ascq_text(0x40, 0x12), "ASC 0x40 ASCQ 0x12 (unknown)");
    EXPECT_EQ(asc_ascq_text(0x4d, 0x00), "TAGGED OVERLAPPED COMMANDS (TASK TAG = 00h)");
    EXPECT_EQ(asc_ascq_text(0x4d, 0x12), "TAGGED OVERLAPPED COMMANDS (TASK TAG = 12h)");
    EXPECT_EQ(asc_ascq_text(0x4d, 0xab), "TAGGED OVERLAPPED COMMANDS (TASK TAG = ABh)");
    EXPECT_EQ(asc_ascq_text(0x70, 0x0a), "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF 0Ah");
    EXPECT_EQ(asc_ascq_text(0x70, 0xff), "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF FFh");
}

TEST(AscTable, VendorSpecificUnknownObsolete) {
    EXPECT_EQ(asc_ascq_text(0x80, 0x00), "vendor specific ASC/ASCQ (ASC 0x80 ASCQ 0x00)");
    EXPECT_EQ(asc_ascq_text(0xff, 0xff), "vendor specific ASC/ASCQ (ASC 0xff ASCQ 0xff)");
    EXPECT_EQ(asc_ascq_text(0x29, 0x85), "vendor specific ASC/ASCQ (ASC 0x29 ASCQ 0x85)");
    EXPECT_EQ(asc_ascq_text(0x0f, 0x00), "ASC 0x0f ASCQ 0x00 (unknown)");  // listed without text
    EXPECT_EQ(asc_ascq_text(0x2a, 0x7f), "ASC 0x2a ASCQ 0x7f (unknown)");
    EXPECT_EQ(asc_ascq_text(0x7f, 0x00), "ASC 0x7f ASCQ 0x00 (unknown)");
    EXPECT_EQ(asc_ascq_text(0x20, 0x05), "obsolete ASC/ASCQ (ASC 0x20 ASCQ 0x05)");
    EXPECT_EQ(asc_ascq_text(0x24, 0x02), "obsolete ASC/ASCQ (ASC 0x24 ASCQ 0x02)");
}

TEST(AscTable, CompleteAndNeverEmpty) {
    EXPECT_GE(asc_table_size(), 760u);
    size_t known = 0;
    for (int asc = 0; asc < 256; ++asc) {
        for (int ascq = 0; ascq < 256; ++ascq) {
            const std::string t =
                asc_ascq_text(static_cast<uint8_t>(asc), static_cast<uint8_t>(ascq));
            ASSERT_FALSE(t.empty());
            if (t.find("(unknown)") == std::string::npos &&
                t.find("vendor specific") == std::string::npos)
                ++known;
        }
    }
    // every table entry, plus 128 + 256 + 256 ranged values
    EXPECT_EQ(known, asc_table_size() + 128 + 256 + 256);
}

TEST(DescribeSense, AllExtras) {
    Sense s;
    s.deferred = true;
    s.key = SenseKey::illegal_request;
    s.asc = 0x24;
    s.information = 0xff;
    s.command_specific = 0x10;
    s.fru = 0x01;
    s.field_pointer = Sense::FieldPointer{false, false, 0, 9};
    s.truncated = true;
    EXPECT_EQ(describe_sense(s),
              "ILLEGAL REQUEST: INVALID FIELD IN CDB (24h/00h), deferred, info=0xff, "
              "command-specific=0x10, FRU=01h, field pointer: parameter data byte 9, truncated");
}

}  // namespace
}  // namespace prfence::wire
