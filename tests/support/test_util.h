// SPDX-License-Identifier: MIT
// Shared by the unit tests: hex literals for byte-exact vectors.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "uring_engine/common/bytes.h"

namespace prfence::test {

// Bytes from a hex literal; a malformed literal is a test bug and fails loudly.
inline Bytes hex(std::string_view s) {
    auto r = parse_hex_bytes(s);
    if (!r) {
        ADD_FAILURE() << "bad hex literal in test: " << r.error().msg;
        return {};
    }
    return std::move(r).value();
}

// Every prefix of `b` (lengths 0 .. size-1): the truncations a hostile or broken device can send.
template <class F>
void for_each_truncation(const Bytes& b, F&& f) {
    for (size_t n = 0; n < b.size(); ++n) f(ByteView(b.data(), n));
}

}  // namespace prfence::test
