// SPDX-License-Identifier: MIT
// PR IN answers are device data: every parser must survive any bytes, and what it accepts must
// re-encode to something it accepts again with the same content.
#include <cstdint>
#include <cstdlib>

#include "uring_engine/wire/prin.h"

using namespace prfence::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    prfence::ByteView in(data, size);
    if (auto k = parse_read_keys(in); k.ok() && !k->truncated) {
        auto again = parse_read_keys(encode_read_keys(*k, 65535));
        if (k->keys.size() * 8 + 8 <= 65535 && (!again.ok() || again->keys != k->keys))
            std::abort();
    }
    if (auto r = parse_read_reservation(in); r.ok() && r->reserved) {
        auto again = parse_read_reservation(encode_read_reservation(*r, 65535));
        if (!again.ok() || again->key != r->key || again->type != r->type) std::abort();
    }
    (void)parse_capabilities(in);
    if (auto f = parse_full_status(in); f.ok() && !f->truncated) {
        auto enc = encode_full_status(*f, 65535);
        if (enc.ok() && enc->size() < 65535) {
            auto again = parse_full_status(*enc);
            if (!again.ok() || again->entries != f->entries) std::abort();
        }
    }
    return 0;
}
