// SPDX-License-Identifier: MIT
#include "uring_engine/common/bytes.h"

#include <gtest/gtest.h>

namespace prfence {
namespace {

TEST(Hex, ParsesOperatorForms) {
    for (const char* s : {"70 00 06", "70,00,06", "700006", "0x70 0x00 0x06", "70\n00\t06",
                          "70 00 # comment 99\n 06", "70:00:06"}) {
        auto r = parse_hex_bytes(s);
        ASSERT_TRUE(r.ok()) << s << ": " << r.error().msg;
        EXPECT_EQ(*r, (Bytes{0x70, 0x00, 0x06})) << s;
    }
}

TEST(Hex, EmptyIsEmpty) {
    auto r = parse_hex_bytes("  # nothing\n");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty());
}

TEST(Hex, RejectsWithPosition) {
    for (const char* s : {"70 0g", "700", "0x", "70 x1", "7000 123", "zz"}) {
        auto r = parse_hex_bytes(s);
        ASSERT_FALSE(r.ok()) << s;
        EXPECT_EQ(r.error().code, Errc::invalid_argument);
        EXPECT_NE(r.error().msg.find("offset"), std::string::npos) << r.error().msg;
    }
}

TEST(Hex, Keys) {
    EXPECT_EQ(*parse_hex_u64("abc123"), 0xabc123u);
    EXPECT_EQ(*parse_hex_u64("0xABC123"), 0xabc123u);
    EXPECT_EQ(*parse_hex_u64("ffffffffffffffff"), ~0ull);
    EXPECT_EQ(*parse_hex_u64("0"), 0u);
    EXPECT_FALSE(parse_hex_u64("").ok());
    EXPECT_FALSE(parse_hex_u64("0x").ok());
    EXPECT_FALSE(parse_hex_u64("1ffffffffffffffff").ok());  // 17 digits
    EXPECT_FALSE(parse_hex_u64("12g4").ok());
    EXPECT_FALSE(parse_hex_u64("-1").ok());
}

TEST(Hex, Format) {
    Bytes b{0x5f, 0x00, 0xab};
    EXPECT_EQ(hex_string(b), "5f 00 ab");
    EXPECT_EQ(hex_string(b, 2), "5f 00 ...");
    EXPECT_EQ(hex_u64(0xabc123), "0xabc123");
    EXPECT_EQ(hex_u64(0), "0x0");
}

TEST(BigEndian, RoundTrip) {
    Bytes b(8, 0);
    put_be64(b, 0, 0x0102030405060708ull);
    EXPECT_EQ(b, (Bytes{1, 2, 3, 4, 5, 6, 7, 8}));
    EXPECT_EQ(get_be64(b, 0), 0x0102030405060708ull);
    EXPECT_EQ(get_be32(b, 4), 0x05060708u);
    EXPECT_EQ(get_be16(b, 6), 0x0708u);
}

TEST(ResultType, CarriesValueOrError) {
    Result<int> good = 5;
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 5);
    Result<int> bad = fail(Errc::truncated, "short");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::truncated);
    EXPECT_EQ(bad.value_or(7), 7);
    Status s = fail(Errc::io, "x", 5);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.error().sys_errno, 5);
}

TEST(Bytes, QuotedTextShowsOperatorBytesSafely) {
    EXPECT_EQ(quoted_text("nqn.2014-08.org.nvmexpress:x"), "\"nqn.2014-08.org.nvmexpress:x\"");
    EXPECT_EQ(quoted_text("a\tb\"c\\d\xc3\xa9"), "\"a\\x09b\\x22c\\x5cd\\xc3\\xa9\"");
    EXPECT_EQ(quoted_text(std::string(70, 'q'), 64), "\"" + std::string(64, 'q') + "...\"");
    EXPECT_EQ(quoted_text(std::string(64, 'q'), 64), "\"" + std::string(64, 'q') + "\"");
    EXPECT_EQ(quoted_text(""), "\"\"");
    // Single quotes (TransportIDs, the fence agent): the quote in use is the one escaped.
    EXPECT_EQ(quoted_text("it's \"x\"", 64, '\''), std::string("'it\\x27s \"x\"'"));
    EXPECT_EQ(quoted_text(std::string("a\0b", 3), 80, '\''), "'a\\x00b'");
}

}  // namespace
}  // namespace prfence
