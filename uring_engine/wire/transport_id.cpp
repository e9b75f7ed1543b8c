// SPDX-License-Identifier: MIT
// SCSI TransportIDs (SPC-4 7.6.4): wire codec and sg_persist-compatible text forms.
//
// Facts this file relies on, and where they were checked:
// - Layouts: SPC-4 7.6.4 tables 500-508. sg3_utils (sg_persist.c decode_sym_transportid(),
//   sg_lib.c sg_decode_transportid_str()) writes and reads the same offsets, SOP ROUTING ID at 2-3.
// - iSCSI: ADDITIONAL LENGTH >= 20 and a multiple of 4; the name (or "name,i,0xISID") ends at the
//   first NUL. sg_persist pads to max(20, roundup4(len + 1)). LIO (target_core_fabric_lib.c) pads
//   only to a multiple of 4 when it *reports* TransportIDs, finds the ISID with strstr(",i,0x")
//   (case-sensitive) and compares ISIDs as text against "%6phN" (12 lowercase hex digits).
#include "uring_engine/wire/transport_id.h"

#include <cstdio>

#include "uring_engine/common/bytes.h"

namespace prfence::wire {

namespace {

constexpr size_t kFixedLen = 24;            // every non-iSCSI TransportID; the iSCSI minimum
constexpr size_t kIscsiHeader = 4;          // byte 0, reserved byte 1, ADDITIONAL LENGTH
constexpr size_t kIscsiMinAddLen = 20;      // SPC-4 7.6.4.6
constexpr size_t kMaxIscsiName = 223;       // RFC 3720 3.2.6.1
constexpr size_t kMaxIsidDigits = 12;       // 48-bit ISID
constexpr std::string_view kSep = ",i,0x";  // SPC-4 SEPARATOR field

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
bool is_hex(char c) { return hex_digit(c) >= 0; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// A character as it should appear inside an error message.
std::string show_char(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", u);
    return buf;
}

// User or device text inside an error message, between single quotes like a character.
std::string quote(std::string_view s) { return quoted_text(s, 64, '\''); }

std::string hex16(uint64_t v) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string hex_bytes_run(const uint8_t* p, size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    s.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
        s += kDigits[p[i] >> 4];
        s += kDigits[p[i] & 0xf];
    }
    return s;
}

bool has_transport_id(ProtocolId p) {
    switch (p) {
        case ProtocolId::fcp:
        case ProtocolId::spi:
        case ProtocolId::sbp:
        case ProtocolId::srp:
        case ProtocolId::iscsi:
        case ProtocolId::sas:
        case ProtocolId::sop:
            return true;
        default:
            return false;
    }
}

std::string proto_label(ProtocolId p) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned>(p));
    std::string name = protocol_name(p);
    return name.rfind("protocol ", 0) == 0 ? name : std::string(buf) + " (" + name + ")";
}

// Why `name` cannot be an iSCSI name, or "" when it can. Names are UTF-8 (RFC 3720), so bytes
// 0x80-0xff pass. What is refused would break the wire form (NUL), the ",i,0x" split (',') or the
// text form (whitespace, control characters).
std::string iscsi_name_problem(std::string_view name) {
    if (name.empty()) return "empty iSCSI name";
    if (name.size() > kMaxIscsiName)
        return "iSCSI name is " + std::to_string(name.size()) +
               " bytes, over the 223-byte limit of RFC 3720";
    for (size_t i = 0; i < name.size(); ++i) {
        auto u = static_cast<unsigned char>(name[i]);
        if (u == ',')
            return "',' at offset " + std::to_string(i) + " of iSCSI name " + quote(name) +
                   " (an ISID must follow exactly \",i,0x\")";
        if (u <= 0x20 || u == 0x7f)
            return show_char(name[i]) + " at offset " + std::to_string(i) + " of iSCSI name " +
                   quote(name) + " (no whitespace or control characters)";
    }
    return {};
}

std::string isid_problem(std::string_view isid) {
    if (isid.empty()) return "empty ISID after \",i,0x\"";
    if (isid.size() > kMaxIsidDigits)
        return "ISID " + quote(isid) + " has " + std::to_string(isid.size()) +
               " digits; an ISID is 48 bits, at most 12 hex digits";
    for (char c : isid)
        if (!is_hex(c)) return "ISID " + quote(isid) + ": " + show_char(c) + " is not a hex digit";
    return {};
}

uint64_t isid_value(std::string_view isid) {  // callers validated it: <= 12 hex digits
    uint64_t v = 0;
    for (char c : isid) v = (v << 4) | static_cast<uint64_t>(hex_digit(c));
    return v;
}

// ---- text parsing helpers ----

Unexpected bad_text(std::string msg) { return fail(Errc::invalid_argument, std::move(msg)); }

// Exactly `n` hex digits, big-endian into out[0 .. n/2).
Status parse_fixed_hex(std::string_view form, std::string_view what, std::string_view digits,
                       size_t n, uint8_t* out) {
    if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        return bad_text(std::string(form) + ": write the " + std::to_string(n) +
                        " hex digits of the " + std::string(what) +
                        " without \"0x\" (as sg_persist requires), got " + quote(digits));
    size_t run = 0;
    while (run < digits.size() && is_hex(digits[run])) ++run;
    if (run < digits.size() && run < n)
        return bad_text(std::string(form) + ": " + show_char(digits[run]) + " at offset " +
                        std::to_string(run) + " of " + quote(digits) +
                        " is not a hex digit (expected " + std::to_string(n) +
                        " hex digits of the " + std::string(what) + ")");
    if (run != n || digits.size() != n) {
        if (run == n)
            return bad_text(std::string(form) + ": unexpected " + quote(digits.substr(n)) +
                            " after the " + std::to_string(n) + " hex digits of the " +
                            std::string(what));
        return bad_text(std::string(form) + ": expected " + std::to_string(n) +
                        " hex digits of the " + std::string(what) + ", got " + std::to_string(run) +
                        " in " + quote(digits));
    }
    for (size_t i = 0; i < n; i += 2)
        out[i / 2] = static_cast<uint8_t>((hex_digit(digits[i]) << 4) | hex_digit(digits[i + 1]));
    return {};
}

Result<uint64_t> parse_hex64_field(std::string_view form, std::string_view what,
                                   std::string_view digits) {
    uint8_t b[8];
    PRF_TRY(parse_fixed_hex(form, what, digits, 16, b));
    return get_be64(ByteView(b, 8), 0);
}

Result<uint16_t> parse_dec16(std::string_view what, std::string_view s) {
    if (s.empty())
        return bad_text("spi: empty " + std::string(what) + " (expected a decimal number 0-65535)");
    uint32_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return bad_text("spi: " + std::string(what) + " " + quote(s) + ": " + show_char(c) +
                            " is not a decimal digit (sg_persist reads decimal numbers only)");
        v = v * 10 + static_cast<uint32_t>(c - '0');
        if (v > 0xffff)
            return bad_text("spi: " + std::string(what) + " " + quote(s) +
                            " is out of range 0-65535");
    }
    return static_cast<uint16_t>(v);
}

// Body of an iSCSI text form: "<name>" or "<name>,i,0x<ISID>".
Result<TransportId> parse_iscsi_body(std::string_view form, std::string_view body) {
    TransportId t;
    t.protocol = ProtocolId::iscsi;
    size_t comma = body.find(',');
    std::string_view name = body.substr(0, comma);
    if (comma != std::string_view::npos) {
        std::string_view rest = body.substr(comma);
        if (rest.size() < kSep.size() || rest.substr(0, kSep.size()) != kSep) {
            if (rest.size() >= kSep.size() && iequals(rest.substr(0, kSep.size()), kSep))
                return bad_text(std::string(form) +
                                ": the ISID separator must be \",i,0x\" in lowercase " +
                                "(SPC-4; LIO matches it case-sensitively), got " +
                                quote(rest.substr(0, kSep.size())));
            return bad_text(std::string(form) + ": " + quote(rest) +
                            " after the iSCSI name; only \",i,0x<ISID>\" may follow it");
        }
        std::string_view isid = rest.substr(kSep.size());
        if (std::string p = isid_problem(isid); !p.empty())
            return bad_text(std::string(form) + ": " + p);
        t.format = 1;
        t.iscsi_isid = std::string(isid);
    }
    if (std::string p = iscsi_name_problem(name); !p.empty())
        return bad_text(std::string(form) + ": " + p);
    t.iscsi_name = std::string(name);
    return t;
}

// Raw hex bytes, sg_persist's command-line syntax: 1-2 hex digits per byte, separated by ','
// (optionally with spaces around it) or by spaces.
Result<Bytes> parse_raw_hex(std::string_view s) {
    Bytes out;
    size_t i = 0;
    bool need_byte = true;  // at start or right after a ','
    while (i < s.size()) {
        char c = s[i];
        if (c == ' ') {
            ++i;
            continue;
        }
        if (c == ',') {
            if (need_byte)
                return bad_text("raw TransportID: empty byte before ',' at offset " +
                                std::to_string(i) + " of " + quote(s));
            need_byte = true;
            ++i;
            continue;
        }
        size_t start = i;
        while (i < s.size() && is_hex(s[i])) ++i;
        if (i == start)
            return bad_text("raw TransportID: " + show_char(c) + " at offset " + std::to_string(i) +
                            " of " + quote(s) + " is not a hex digit, ',' or ' '");
        if (i - start > 2) {
            if (s.size() == 16 && start == 0 && i == s.size()) {
                std::string hint = "for a SAS address write 'sas," + std::string(s) + "'";
                return bad_text("raw TransportID: " + quote(s) +
                                " is not one byte; separate bytes with ',' or ' ' (" + hint + ")");
            }
            return bad_text("raw TransportID: " + quote(s.substr(start, i - start)) +
                            " at offset " + std::to_string(start) +
                            " is more than one byte (1-2 hex digits per byte, "
                            "separated by ',' or ' ')");
        }
        uint8_t v = 0;
        for (size_t k = start; k < i; ++k) v = static_cast<uint8_t>((v << 4) | hex_digit(s[k]));
        out.push_back(v);
        need_byte = false;
    }
    if (need_byte && !out.empty()) return bad_text("raw TransportID: trailing ',' in " + quote(s));
    return out;
}

Result<TransportId> parse_raw_transport_id(std::string_view s) {
    PRF_TRY_ASSIGN(Bytes b, parse_raw_hex(s));
    if (b.empty()) return bad_text("raw TransportID: no bytes in " + quote(s));
    const size_t given = b.size();
    if (b.size() < kFixedLen) b.resize(kFixedLen, 0);  // sg_persist pads to 24
    if (static_cast<ProtocolId>(b[0] & 0x0f) == ProtocolId::iscsi) {
        size_t want = kIscsiHeader + get_be16(b, 2);
        if (want > b.size())
            b.resize(want, 0);  // sg_persist sends 4 + ADDITIONAL LENGTH from a zeroed array
    }
    auto d = decode_transport_id(b);
    if (!d) return bad_text("raw TransportID " + quote(s) + ": " + d.error().msg);
    if (given > d->length)
        return bad_text("raw TransportID: " + std::to_string(given) + " bytes given but the " +
                        protocol_name(d->tid.protocol) + " TransportID they start is " +
                        std::to_string(d->length) + " bytes long");
    return std::move(d->tid);
}

// Keyword prefixes: sg_persist compares "fcp," and "FCP," only, so mixed case is refused.
enum class Keyword { none, fcp, spi, sbp, srp, sas, sop, iscsi };
Keyword keyword_of(std::string_view word) {
    static constexpr struct {
        std::string_view lc;
        Keyword k;
    } kWords[] = {{"fcp", Keyword::fcp},    {"spi", Keyword::spi}, {"sbp", Keyword::sbp},
                  {"srp", Keyword::srp},    {"sas", Keyword::sas}, {"sop", Keyword::sop},
                  {"iscsi", Keyword::iscsi}};
    for (const auto& w : kWords)
        if (iequals(word, w.lc)) return w.k;
    return Keyword::none;
}
bool all_lower_or_upper(std::string_view w) {
    bool lo = true, up = true;
    for (char c : w) {
        if (c >= 'a' && c <= 'z') up = false;
        if (c >= 'A' && c <= 'Z') lo = false;
    }
    return lo || up;
}

bool is_iscsi_name_type(std::string_view s) {
    return s.rfind("iqn.", 0) == 0 || s.rfind("eui.", 0) == 0 || s.rfind("naa.", 0) == 0;
}

}  // namespace

std::string protocol_name(ProtocolId p) {
    switch (p) {
        case ProtocolId::fcp:
            return "FCP";
        case ProtocolId::spi:
            return "SPI";
        case ProtocolId::ssa:
            return "SSA";
        case ProtocolId::sbp:
            return "SBP";
        case ProtocolId::srp:
            return "SRP";
        case ProtocolId::iscsi:
            return "iSCSI";
        case ProtocolId::sas:
            return "SAS";
        case ProtocolId::adt:
            return "ADT";
        case ProtocolId::ata:
            return "ATA";
        case ProtocolId::uas:
            return "UAS";
        case ProtocolId::sop:
            return "SOP";
        case ProtocolId::pcie:
            return "PCIe";
        case ProtocolId::none:
            return "no specific protocol";
    }
    char buf[24];
    std::snprintf(buf, sizeof buf, "protocol 0x%x", static_cast<unsigned>(p));
    return buf;
}

Result<Bytes> encode_transport_id(const TransportId& tid) {
    if (!has_transport_id(tid.protocol))
        return fail(Errc::unsupported, "TransportID: SPC-4 defines no TransportID for protocol " +
                                           proto_label(tid.protocol));
    if (tid.protocol != ProtocolId::iscsi && tid.format != 0)
        return fail(Errc::invalid_argument,
                    protocol_name(tid.protocol) + " TransportID: FORMAT CODE " +
                        std::to_string(tid.format) + " is not defined (only iSCSI has format 01b)");
    Bytes out(kFixedLen, 0);
    out[0] = static_cast<uint8_t>((tid.format << 6) | static_cast<uint8_t>(tid.protocol));
    switch (tid.protocol) {
        case ProtocolId::fcp:
        case ProtocolId::sbp:
            put_be64(out, 8, tid.name);
            return out;
        case ProtocolId::spi:
            put_be16(out, 2, tid.spi_address);
            put_be16(out, 6, tid.spi_rel_port);
            return out;
        case ProtocolId::srp:
            for (size_t i = 0; i < tid.srp_id.size(); ++i) out[8 + i] = tid.srp_id[i];
            return out;
        case ProtocolId::sas:
            put_be64(out, 4, tid.name);
            return out;
        case ProtocolId::sop:
            put_be16(out, 2, tid.sop_routing_id);
            return out;
        case ProtocolId::iscsi:
            break;
        default:
            return fail(Errc::unsupported, "TransportID: protocol " + proto_label(tid.protocol));
    }
    if (tid.format > 1)
        return fail(Errc::invalid_argument, "iSCSI TransportID: FORMAT CODE " +
                                                std::to_string(tid.format) +
                                                " is reserved (00b name, 01b name + ISID)");
    if (std::string p = iscsi_name_problem(tid.iscsi_name); !p.empty())
        return fail(Errc::invalid_argument, "iSCSI TransportID: " + p);
    std::string text = tid.iscsi_name;
    if (tid.format == 1) {
        if (std::string p = isid_problem(tid.iscsi_isid); !p.empty())
            return fail(Errc::invalid_argument, "iSCSI TransportID: " + p);
        text += kSep;
        text += tid.iscsi_isid;
    } else if (!tid.iscsi_isid.empty()) {
        return fail(Errc::invalid_argument,
                    "iSCSI TransportID: ISID " + quote(tid.iscsi_isid) +
                        " given with FORMAT CODE 00b (an ISID needs format 01b)");
    }
    size_t add_len = (text.size() + 1 + 3) / 4 * 4;  // at least one NUL, padded to a multiple of 4
    if (add_len < kIscsiMinAddLen) add_len = kIscsiMinAddLen;
    out.assign(kIscsiHeader + add_len, 0);
    out[0] = static_cast<uint8_t>((tid.format << 6) | static_cast<uint8_t>(ProtocolId::iscsi));
    put_be16(out, 2, static_cast<uint16_t>(add_len));
    for (size_t i = 0; i < text.size(); ++i) out[kIscsiHeader + i] = static_cast<uint8_t>(text[i]);
    return out;
}

Result<DecodedTransportId> decode_transport_id(ByteView in) {
    if (in.empty()) return fail(Errc::truncated, "TransportID: no bytes");
    DecodedTransportId d;
    TransportId& t = d.tid;
    t.protocol = static_cast<ProtocolId>(in[0] & 0x0f);
    const uint8_t format = static_cast<uint8_t>(in[0] >> 6);
    if (!has_transport_id(t.protocol))
        return fail(Errc::unsupported, "TransportID: SPC-4 defines no TransportID for protocol " +
                                           proto_label(t.protocol));
    if (t.protocol != ProtocolId::iscsi) {
        if (format != 0)
            return fail(Errc::malformed, protocol_name(t.protocol) + " TransportID: FORMAT CODE " +
                                             std::to_string(format) +
                                             " is not defined (only iSCSI has format 01b)");
        if (in.size() < kFixedLen)
            return fail(Errc::truncated, protocol_name(t.protocol) +
                                             " TransportID: needs 24 bytes, got " +
                                             std::to_string(in.size()));
        switch (t.protocol) {
            case ProtocolId::fcp:
            case ProtocolId::sbp:
                t.name = get_be64(in, 8);
                break;
            case ProtocolId::spi:
                t.spi_address = get_be16(in, 2);
                t.spi_rel_port = get_be16(in, 6);
                break;
            case ProtocolId::srp:
                for (size_t i = 0; i < t.srp_id.size(); ++i) t.srp_id[i] = in[8 + i];
                break;
            case ProtocolId::sas:
                t.name = get_be64(in, 4);
                break;
            case ProtocolId::sop:
                t.sop_routing_id = get_be16(in, 2);
                break;
            default:
                break;  // unreachable: has_transport_id() above
        }
        d.length = kFixedLen;
        return d;
    }

    if (format > 1)
        return fail(Errc::malformed, "iSCSI TransportID: FORMAT CODE " + std::to_string(format) +
                                         " is reserved (00b name, 01b name + ISID)");
    t.format = format;
    if (in.size() < kIscsiHeader)
        return fail(Errc::truncated,
                    "iSCSI TransportID: needs at least 4 bytes for its header, got " +
                        std::to_string(in.size()));
    const size_t add_len = get_be16(in, 2);
    if (add_len == 0)
        return fail(Errc::malformed,
                    "iSCSI TransportID: ADDITIONAL LENGTH 0 leaves no room for a name");
    if (add_len % 4 != 0)
        return fail(Errc::malformed, "iSCSI TransportID: ADDITIONAL LENGTH " +
                                         std::to_string(add_len) + " is not a multiple of 4");
    if (kIscsiHeader + add_len > in.size())
        return fail(Errc::truncated, "iSCSI TransportID: ADDITIONAL LENGTH " +
                                         std::to_string(add_len) + " needs " +
                                         std::to_string(kIscsiHeader + add_len) + " bytes, only " +
                                         std::to_string(in.size()) + " present");
    ByteView body = in.subspan(kIscsiHeader, add_len);
    size_t nul = 0;
    while (nul < body.size() && body[nul] != 0) ++nul;
    if (nul == body.size())
        return fail(Errc::malformed,
                    "iSCSI TransportID: no NUL terminator within ADDITIONAL LENGTH " +
                        std::to_string(add_len));
    std::string_view text(reinterpret_cast<const char*>(body.data()), nul);
    std::string_view name = text;
    if (format == 1) {
        size_t comma = text.find(',');
        if (comma == std::string_view::npos || text.substr(comma, kSep.size()) != kSep)
            return fail(Errc::malformed, "iSCSI TransportID: format 01b text " + quote(text) +
                                             " has no \",i,0x\" separator after the name");
        name = text.substr(0, comma);
        std::string_view isid = text.substr(comma + kSep.size());
        if (std::string p = isid_problem(isid); !p.empty())
            return fail(Errc::malformed, "iSCSI TransportID: " + p);
        t.iscsi_isid = std::string(isid);
    }
    if (std::string p = iscsi_name_problem(name); !p.empty())
        return fail(Errc::malformed, "iSCSI TransportID: " + p);
    t.iscsi_name = std::string(name);
    d.length = kIscsiHeader + add_len;
    return d;
}

Result<std::vector<TransportId>> decode_transport_id_list(ByteView in) {
    std::vector<TransportId> out;
    size_t off = 0;
    while (off < in.size()) {
        auto d = decode_transport_id(in.subspan(off));
        if (!d) {
            Error e = std::move(d).error();
            e.msg = "TransportID #" + std::to_string(out.size()) + " at offset " +
                    std::to_string(off) + " of a " + std::to_string(in.size()) +
                    "-byte list: " + e.msg;
            return fail(std::move(e));
        }
        off += d->length;
        out.push_back(std::move(d->tid));
    }
    return out;
}

Result<TransportId> parse_transport_id(std::string_view text) {
    std::string_view s = text;
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    if (s.empty()) return bad_text("TransportID: empty text");

    size_t comma = s.find(',');
    std::string_view word = s.substr(0, comma);
    Keyword kw = comma == std::string_view::npos ? Keyword::none : keyword_of(word);
    if (kw != Keyword::none) {
        std::string form(word.size(), ' ');
        for (size_t i = 0; i < word.size(); ++i) form[i] = lower(word[i]);
        if (!all_lower_or_upper(word)) {
            std::string upper = form;
            for (char& c : upper) c = static_cast<char>(c - 'a' + 'A');
            return bad_text("TransportID: prefix " + quote(word) + " must be written '" + form +
                            ",' or '" + upper + ",' (sg_persist accepts no mixed case)");
        }
        std::string_view arg = s.substr(comma + 1);
        TransportId t;
        switch (kw) {
            case Keyword::fcp: {
                t.protocol = ProtocolId::fcp;
                PRF_TRY_ASSIGN(t.name, parse_hex64_field(form, "N_PORT_NAME", arg));
                return t;
            }
            case Keyword::sbp: {
                t.protocol = ProtocolId::sbp;
                PRF_TRY_ASSIGN(t.name, parse_hex64_field(form, "EUI-64 name", arg));
                return t;
            }
            case Keyword::sas: {
                t.protocol = ProtocolId::sas;
                PRF_TRY_ASSIGN(t.name, parse_hex64_field(form, "SAS address", arg));
                return t;
            }
            case Keyword::srp: {
                t.protocol = ProtocolId::srp;
                PRF_TRY(
                    parse_fixed_hex(form, "initiator port identifier", arg, 32, t.srp_id.data()));
                return t;
            }
            case Keyword::spi: {
                size_t c2 = arg.find(',');
                if (c2 == std::string_view::npos)
                    return bad_text(
                        "spi: expected '<scsi address>,<relative target port>' (two decimal "
                        "numbers), got " +
                        quote(arg));
                t.protocol = ProtocolId::spi;
                PRF_TRY_ASSIGN(t.spi_address, parse_dec16("SCSI address", arg.substr(0, c2)));
                PRF_TRY_ASSIGN(t.spi_rel_port,
                               parse_dec16("relative target port", arg.substr(c2 + 1)));
                return t;
            }
            case Keyword::sop: {
                std::string_view h = arg;
                if (h.size() >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X'))
                    h.remove_prefix(2);
                if (h.empty() || h.size() > 4)
                    return bad_text(
                        "sop: expected a routing ID of 1-4 hex digits (\"0x\" optional), got " +
                        quote(arg));
                uint16_t v = 0;
                for (char c : h) {
                    if (!is_hex(c))
                        return bad_text("sop: routing ID " + quote(arg) + ": " + show_char(c) +
                                        " is not a hex digit");
                    v = static_cast<uint16_t>((v << 4) | hex_digit(c));
                }
                t.protocol = ProtocolId::sop;
                t.sop_routing_id = v;
                return t;
            }
            case Keyword::iscsi:
                return parse_iscsi_body(form, arg);
            case Keyword::none:
                break;
        }
    }
    if (is_iscsi_name_type(s)) return parse_iscsi_body("iSCSI", s);
    if (s.size() >= 4 &&
        is_iscsi_name_type(std::string{lower(s[0]), lower(s[1]), lower(s[2]), s[3]}))
        return bad_text(
            "TransportID " + quote(s) + ": the iSCSI name type " + quote(s.substr(0, 4)) +
            " must be lowercase (\"iqn.\", \"eui.\", \"naa.\"), as sg_persist and RFC 3720 "
            "require");
    bool hexish = true;
    for (char c : s)
        if (!is_hex(c) && c != ',' && c != ' ') hexish = false;
    if (hexish) return parse_raw_transport_id(s);
    return bad_text(
        "TransportID " + quote(s) +
        ": not recognised; expected fcp,/spi,/sbp,/srp,/sas,/sop,/iscsi, followed by its "
        "fields, an iqn./eui./naa. iSCSI name, or hex bytes separated by ',' or ' '");
}

std::string format_transport_id(const TransportId& tid) {
    switch (tid.protocol) {
        case ProtocolId::fcp:
            return "fcp," + hex16(tid.name);
        case ProtocolId::sbp:
            return "sbp," + hex16(tid.name);
        case ProtocolId::sas:
            return "sas," + hex16(tid.name);
        case ProtocolId::spi:
            return "spi," + std::to_string(tid.spi_address) + "," +
                   std::to_string(tid.spi_rel_port);
        case ProtocolId::srp:
            return "srp," + hex_bytes_run(tid.srp_id.data(), tid.srp_id.size());
        case ProtocolId::sop:
            return "sop," + hex_u64(tid.sop_routing_id);
        case ProtocolId::iscsi: {
            std::string s = is_iscsi_name_type(tid.iscsi_name) ? "" : "iscsi,";
            s += tid.iscsi_name;
            if (tid.format == 1) {
                s += kSep;
                s += tid.iscsi_isid;
            }
            return s;
        }
        default:
            return protocol_name(tid.protocol) + " (no TransportID format)";
    }
}

std::string describe_transport_id(const TransportId& tid) {
    switch (tid.protocol) {
        case ProtocolId::fcp:
            return "FCP N_PORT_NAME 0x" + hex16(tid.name);
        case ProtocolId::sbp:
            return "SBP EUI-64 0x" + hex16(tid.name);
        case ProtocolId::sas:
            return "SAS address 0x" + hex16(tid.name);
        case ProtocolId::spi:
            return "SPI SCSI address " + std::to_string(tid.spi_address) +
                   ", relative target port " + std::to_string(tid.spi_rel_port);
        case ProtocolId::srp:
            return "SRP initiator port 0x" + hex_bytes_run(tid.srp_id.data(), tid.srp_id.size());
        case ProtocolId::sop: {
            char buf[64];
            unsigned r = tid.sop_routing_id;
            std::snprintf(buf, sizeof buf, "SOP routing ID 0x%04x (%02x:%02x.%x)", r, r >> 8,
                          (r >> 3) & 0x1f, r & 0x7);
            return buf;
        }
        case ProtocolId::iscsi: {
            std::string s = "iSCSI " + tid.iscsi_name;
            if (tid.format == 1) {
                s += kSep;
                s += tid.iscsi_isid;
            }
            return s;
        }
        default:
            return protocol_name(tid.protocol) + " (no TransportID format)";
    }
}

Result<std::string> canonical_isid(std::string_view isid) {
    if (std::string p = isid_problem(isid); !p.empty()) return fail(Errc::invalid_argument, p);
    char buf[20];
    std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(isid_value(isid)));
    return std::string(buf);
}

bool same_initiator(const TransportId& a, const TransportId& b) {
    if (a.protocol != b.protocol || a.format != b.format) return false;
    switch (a.protocol) {
        case ProtocolId::fcp:
        case ProtocolId::sbp:
        case ProtocolId::sas:
            return a.name == b.name;
        case ProtocolId::spi:
            return a.spi_address == b.spi_address && a.spi_rel_port == b.spi_rel_port;
        case ProtocolId::srp:
            return a.srp_id == b.srp_id;
        case ProtocolId::sop:
            return a.sop_routing_id == b.sop_routing_id;
        case ProtocolId::iscsi:
            if (!iequals(a.iscsi_name, b.iscsi_name)) return false;
            if (a.format == 0) return true;
            if (!isid_problem(a.iscsi_isid).empty() || !isid_problem(b.iscsi_isid).empty())
                return a.iscsi_isid ==
                       b.iscsi_isid;  // not ISIDs: only identical text is "the same"
            return isid_value(a.iscsi_isid) == isid_value(b.iscsi_isid);
        default:
            return a == b;
    }
}

}  // namespace prfence::wire
