// SPDX-License-Identifier: MIT
// Fuzzes the TransportID codec with the same bytes read two ways:
// - as device data: decode_transport_id_list / decode_transport_id must never read out of bounds,
// and
//   whatever decodes must re-encode, decode back to the same value, re-encode to the same bytes,
//   and print a text form that parses back to it;
// - as operator text: whatever parse_transport_id accepts must encode, decode back to itself, and
//   survive format_transport_id -> parse_transport_id.
// Any broken invariant aborts, which libFuzzer and the replay runner both report.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "uring_engine/wire/transport_id.h"

namespace {

using prfence::Bytes;
using prfence::ByteView;
using namespace prfence::wire;

void check(bool ok) {
    if (!ok) std::abort();
}

// Invariants every TransportId the library produced must satisfy.
void check_value(const TransportId& t) {
    auto enc = encode_transport_id(t);
    check(enc.ok());
    auto again = decode_transport_id(*enc);
    check(again.ok());
    check(again->tid == t);
    check(again->length == enc->size());
    check(enc->size() >= 24 && enc->size() % 4 == 0);
    auto enc2 = encode_transport_id(again->tid);  // the encoding is canonical
    check(enc2.ok() && *enc2 == *enc);
    auto text = parse_transport_id(format_transport_id(t));
    check(text.ok());
    check(*text == t);
    check(same_initiator(t, t));
    check(!describe_transport_id(t).empty());
}

void fuzz_bytes(ByteView in) {
    auto list = decode_transport_id_list(in);
    if (list.ok()) {
        Bytes all;
        for (const auto& t : *list) {
            check_value(t);
            auto e = encode_transport_id(t);
            all.insert(all.end(), e->begin(), e->end());
        }
        auto relist = decode_transport_id_list(all);
        check(relist.ok());
        check(*relist == *list);
    }
    auto one = decode_transport_id(in);
    if (one.ok()) {
        check(one->length > 0 && one->length <= in.size());
        check_value(one->tid);
    }
}

void fuzz_text(std::string_view text) {
    auto t = parse_transport_id(text);
    if (!t.ok()) return;
    check_value(*t);
    std::string f = format_transport_id(*t);
    auto back = parse_transport_id(f);
    check(back.ok());
    check(*back == *t);
    check(format_transport_id(*back) == f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz_bytes(ByteView(data, size));
    fuzz_text(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
