// SPDX-License-Identifier: MIT
// Big-endian field access and hex text, shared by every encoder and parser.
//
// SCSI is big-endian throughout. Readers here take a span and an offset and never read outside the
// span: callers check lengths first and these assert it, so a parser bug shows up under ASan/UBSan
// in tests.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/common/result.h"

namespace prfence {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline uint16_t get_be16(ByteView b, size_t off) {
    assert(off + 2 <= b.size());
    return static_cast<uint16_t>((b[off] << 8) | b[off + 1]);
}
inline uint32_t get_be32(ByteView b, size_t off) {
    assert(off + 4 <= b.size());
    return (uint32_t{b[off]} << 24) | (uint32_t{b[off + 1]} << 16) | (uint32_t{b[off + 2]} << 8) |
           uint32_t{b[off + 3]};
}
inline uint64_t get_be64(ByteView b, size_t off) {
    return (uint64_t{get_be32(b, off)} << 32) | get_be32(b, off + 4);
}
inline void put_be16(std::span<uint8_t> b, size_t off, uint16_t v) {
    assert(off + 2 <= b.size());
    b[off] = static_cast<uint8_t>(v >> 8);
    b[off + 1] = static_cast<uint8_t>(v);
}
inline void put_be32(std::span<uint8_t> b, size_t off, uint32_t v) {
    assert(off + 4 <= b.size());
    for (int i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline void put_be64(std::span<uint8_t> b, size_t off, uint64_t v) {
    put_be32(b, off, static_cast<uint32_t>(v >> 32));
    put_be32(b, off + 4, static_cast<uint32_t>(v));
}

// Parses hex bytes as operators paste them: "70 00 06", "70,00,06", "700006", "0x70 0x00", with
// newlines, tabs and '#' comments to end of line (the sg3_utils --inhex convention). Each byte is
// one or two hex digits when separated, two when run together. An odd run, a stray character or a
// value above 0xff is an error naming its position.
Result<Bytes> parse_hex_bytes(std::string_view text);

// Parses a reservation key the way sg_persist does: always hex, optional "0x"/"0X" prefix, 1-16
// digits (so "abc123" and "0xabc123" are the same key). Anything else is an error naming the text.
Result<uint64_t> parse_hex_u64(std::string_view text);

// "70 00 06 ..." lowercase, single spaces; `max` bytes then " ..." when longer (0 = everything).
std::string hex_string(ByteView b, size_t max = 0);

// Operator or device text quoted for a message: printable ASCII as it is (the quote character or a
// backslash as \xNN, like every other byte), the first `max` bytes, then "..." inside the quotes
// when longer. Messages are printed as C strings into logs: a NUL would cut one short and a control
// byte would garble the log, so nothing else gets through.
std::string quoted_text(std::string_view text, size_t max = 64, char quote = '"');

// "0x" + lowercase hex without leading zeros ("0x0" for zero), the way sg_persist prints keys.
std::string hex_u64(uint64_t v);

}  // namespace prfence
