// SPDX-License-Identifier: MIT
// Operator text: hex byte lists, keys and reservation types typed on the command line or piped in.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "uring_engine/common/bytes.h"
#include "uring_engine/wire/pr_types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view s(reinterpret_cast<const char*>(data), size);
    if (auto b = prfence::parse_hex_bytes(s); b.ok()) {
        auto again = prfence::parse_hex_bytes(prfence::hex_string(*b));
        if (!again.ok() || *again != *b) std::abort();
    }
    if (auto k = prfence::parse_hex_u64(s); k.ok()) {
        auto again = prfence::parse_hex_u64(prfence::hex_u64(*k));
        if (!again.ok() || *again != *k) std::abort();
    }
    (void)prfence::wire::parse_type(s);
    return 0;
}
