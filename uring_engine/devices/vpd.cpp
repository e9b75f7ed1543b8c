// SPDX-License-Identifier: MIT
#include "uring_engine/devices/vpd.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace prfence::engine::devices {

namespace {

constexpr uint8_t kTypeT10 = 1;
constexpr uint8_t kTypeEui64 = 2;
constexpr uint8_t kTypeNaa = 3;
constexpr uint8_t kTypeScsiName = 8;
constexpr int kNone = -1;

std::string lower_hex(ByteView b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    s.reserve(b.size() * 2);
    for (uint8_t v : b) {
        s.push_back(kDigits[v >> 4]);
        s.push_back(kDigits[v & 0xf]);
    }
    return s;
}

bool printable(ByteView b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

std::string normalize_wwid(std::string_view raw) {
    size_t end = raw.find_first_of(std::string_view("\0\n", 2));
    if (end == std::string_view::npos) end = raw.size();
    while (end > 0 && (raw[end - 1] == ' ' || raw[end - 1] == '\t' || raw[end - 1] == '\r')) --end;
    std::string out;
    out.reserve(end);
    for (size_t i = 0; i < end; ++i) {
        auto c = static_cast<unsigned char>(raw[i]);
        if (c >= 0x20 && c < 0x7f) {
            out.push_back(static_cast<char>(c));
        } else {
            static constexpr char kDigits[] = "0123456789abcdef";
            out += "\\x";
            out.push_back(kDigits[c >> 4]);
            out.push_back(kDigits[c & 0xf]);
        }
    }
    return out;
}

std::string vpd83_lun_id(ByteView page) {
    // Header: byte 1 PAGE CODE, bytes 2-3 PAGE LENGTH; designation descriptors from byte 4 on, each
    // 4 header bytes (byte 1: ASSOCIATION in bits 5-4, DESIGNATOR TYPE in bits 3-0; byte 3: LENGTH)
    // followed by LENGTH bytes.
    if (page.size() < 4 || page[1] != 0x83) return {};
    const size_t end = std::min(page.size(), size_t{4} + get_be16(page, 2));

    int cur_type = kNone;
    size_t cur_size = 0;
    std::string id;
    for (size_t off = 4; off + 4 <= end;) {
        const size_t len = page[off + 3];
        if (off + 4 + len > end) break;  // runs past the page: a truncated or lying device
        const uint8_t assoc = (page[off + 1] >> 4) & 0x3;
        const uint8_t type = page[off + 1] & 0xf;
        const ByteView body = page.subspan(off + 4, len);
        off += 4 + len;
        if (assoc != 0) continue;  // names a target port or the target device, not the LU

        switch (type) {
            case kTypeT10: {
                if (cur_size > len) break;
                if (cur_type != kNone && cur_type != kTypeT10) break;  // anything beats a T10 ID
                ByteView text = body;  // LIO counts a NUL terminator into the length
                while (!text.empty() && text.back() == 0) text = text.first(text.size() - 1);
                if (!printable(text)) break;
                cur_type = kTypeT10;
                cur_size = len;
                id = "t10." + std::string(text.begin(), text.end());
                break;
            }
            case kTypeEui64:
                if (cur_size > len) break;
                if (cur_type == kTypeNaa && cur_size == len) break;  // NAA wins a tie
                cur_type = kTypeEui64;
                if (len == 8 || len == 12 || len == 16) {
                    cur_size = len;
                    id = "eui." + lower_hex(body);
                } else {  // as Linux: a malformed one resets the length to beat, keeps the pick
                    cur_size = 0;
                }
                break;
            case kTypeNaa:
                if (cur_size > len) break;
                cur_type = kTypeNaa;
                if (len == 8 || len == 16) {
                    cur_size = len;
                    id = "naa." + lower_hex(body);
                } else {
                    cur_size = 0;
                }
                break;
            case kTypeScsiName:
                if (cur_size + 4 > len) break;
                cur_type = kTypeScsiName;
                cur_size = len;
                id.assign(body.begin(), body.end());
                break;
            default:
                break;
        }
    }
    return normalize_wwid(id);
}

}  // namespace prfence::engine::devices
