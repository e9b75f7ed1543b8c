// SPDX-License-Identifier: MIT
// PR OUT parameter lists arrive at prsim from any client: decoders must survive any bytes, and an
// accepted list must re-encode to the same bytes.
#include <cstdint>
#include <cstdlib>

#include "uring_engine/wire/prout.h"

using namespace prfence::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    prfence::ByteView in(data, size);
    if (auto p = decode_prout_params(in); p.ok()) {
        auto enc = encode_prout_params(*p);
        if (!enc.ok()) std::abort();
        auto again = decode_prout_params(*enc);
        if (!again.ok() || !(*again == *p)) std::abort();
    }
    if (auto m = decode_prout_move_params(in); m.ok()) {
        auto enc = encode_prout_move_params(*m);
        if (!enc.ok()) std::abort();
        auto again = decode_prout_move_params(*enc);
        if (!again.ok() || !(*again == *m)) std::abort();
    }
    (void)decode_cdb(in);
    return 0;
}
