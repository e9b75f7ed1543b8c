// SPDX-License-Identifier: MIT
#include "uring_engine/common/bytes.h"

#include <cstdio>

namespace prfence {

const char* errc_name(Errc e) noexcept {
    switch (e) {
        case Errc::invalid_argument:
            return "invalid argument";
        case Errc::truncated:
            return "truncated";
        case Errc::malformed:
            return "malformed";
        case Errc::too_small:
            return "buffer too small";
        case Errc::unsupported:
            return "unsupported";
        case Errc::system:
            return "system error";
        case Errc::timeout:
            return "timeout";
        case Errc::cancelled:
            return "cancelled";
        case Errc::not_found:
            return "not found";
        case Errc::io:
            return "I/O error";
    }
    return "unknown";
}

namespace {
int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
bool is_sep(char c) {
    return c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r' || c == ':';
}
}  // namespace

Result<Bytes> parse_hex_bytes(std::string_view text) {
    Bytes out;
    size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (is_sep(c)) {
            ++i;
            continue;
        }
        if (c == '#') {
            while (i < text.size() && text[i] != '\n') ++i;
            continue;
        }
        if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
            i += 2;
            if (i >= text.size() || hex_digit(text[i]) < 0)
                return fail(Errc::invalid_argument,
                            "hex: '0x' without digits at offset " + std::to_string(i));
        }
        size_t start = i;
        while (i < text.size() && hex_digit(text[i]) >= 0) ++i;
        size_t run = i - start;
        if (run == 0)
            return fail(Errc::invalid_argument, std::string("hex: unexpected character '") +
                                                    text[i] + "' at offset " + std::to_string(i));
        if (i < text.size() && !is_sep(text[i]) && text[i] != '#')
            return fail(Errc::invalid_argument, std::string("hex: unexpected character '") +
                                                    text[i] + "' at offset " + std::to_string(i));
        if (run <= 2) {
            uint8_t v = 0;
            for (size_t k = start; k < i; ++k)
                v = static_cast<uint8_t>((v << 4) | hex_digit(text[k]));
            out.push_back(v);
        } else if (run % 2 == 0) {
            for (size_t k = start; k < i; k += 2)
                out.push_back(
                    static_cast<uint8_t>((hex_digit(text[k]) << 4) | hex_digit(text[k + 1])));
        } else {
            return fail(Errc::invalid_argument,
                        "hex: odd number of digits in run at offset " + std::to_string(start));
        }
    }
    return out;
}

Result<uint64_t> parse_hex_u64(std::string_view text) {
    std::string_view t = text;
    if (t.size() >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) t.remove_prefix(2);
    if (t.empty() || t.size() > 16)
        return fail(
            Errc::invalid_argument,
            "key '" + std::string(text) + "': expected 1 to 16 hex digits, optionally with 0x");
    uint64_t v = 0;
    for (char c : t) {
        int d = hex_digit(c);
        if (d < 0)
            return fail(Errc::invalid_argument,
                        "key '" + std::string(text) + "': '" + c + "' is not a hex digit");
        v = (v << 4) | static_cast<uint64_t>(d);
    }
    return v;
}

std::string quoted_text(std::string_view text, size_t max, char quote) {
    std::string out(1, quote);
    for (size_t i = 0; i < text.size(); ++i) {
        if (i == max) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != static_cast<unsigned char>(quote) && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out + quote;
}

std::string hex_string(ByteView b, size_t max) {
    static constexpr char kDigits[] = "0123456789abcdef";
    size_t n = (max == 0 || b.size() <= max) ? b.size() : max;
    std::string s;
    s.reserve(n * 3 + 4);
    for (size_t i = 0; i < n; ++i) {
        if (i) s += ' ';
        s += kDigits[b[i] >> 4];
        s += kDigits[b[i] & 0xf];
    }
    if (n < b.size()) s += " ...";
    return s;
}

std::string hex_u64(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace prfence
