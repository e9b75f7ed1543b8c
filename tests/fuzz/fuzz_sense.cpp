// SPDX-License-Identifier: MIT
// Sense data as a device (or anything pretending to be one) returns it: decode, describe,
// re-encode, and the ASC/ASCQ text and category functions on the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "uring_engine/common/bytes.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace prfence;
    using namespace prfence::wire;

    const ByteView in(data, size);
    auto r = decode_sense(in);
    if (r.ok()) {
        const Sense& s = *r;
        if (describe_sense(s).empty()) std::abort();
        if (!s.descriptor && !s.descriptors.empty()) std::abort();
        size_t body_bytes = 0;
        for (const SenseDescriptor& d : s.descriptors) body_bytes += 2 + d.body.size();
        if (size >= 8 && body_bytes > size - 8) std::abort();
        // What was decoded encodes to sense data that decodes whole and to the same key/ASC/ASCQ.
        const Bytes again = encode_sense(s);
        auto r2 = decode_sense(again);
        if (!r2.ok() || r2->truncated || r2->key != s.key || r2->asc != s.asc || r2->ascq != s.ascq)
            std::abort();
        if (r2->information != s.information || r2->fru != s.fru) std::abort();
        (void)categorize(sam::check_condition, did::ok, 0, &s);
    } else if (size != 0 && ((data[0] & 0x7f) >= 0x70 && (data[0] & 0x7f) <= 0x73)) {
        std::abort();  // only an empty buffer or a bad response code may fail
    }
    if (size >= 2 && asc_ascq_text(data[0], data[1]).empty()) std::abort();
    if (size >= 3) {
        const Category c = categorize(data[0], data[1], data[2], r.ok() ? &*r : nullptr);
        if (category_name(c)[0] == '\0') std::abort();
        (void)status_name(data[0]);
        (void)sam_stat_name(data[0]);
        (void)host_byte_name(data[1]);
        (void)host_byte_text(data[1]);
        (void)driver_byte_name(data[2]);
    }
    return 0;
}
