// SPDX-License-Identifier: MIT
// Sense data codec. Field positions (SPC-4 4.5):
//
// Fixed format (70h current, 71h deferred; byte 0 bit 7 is VALID):
//   byte 2: FILEMARK(7) EOM(6) ILI(5) SDAT_OVFL(4) SENSE KEY(3-0)   bytes 3-6: INFORMATION
//   byte 7: ADDITIONAL SENSE LENGTH (n - 7)   bytes 8-11: COMMAND-SPECIFIC INFORMATION
//   byte 12: ASC   byte 13: ASCQ   byte 14: FRU CODE   bytes 15-17: SKSV(byte 15 bit 7) + SENSE KEY
//   SPECIFIC
// Descriptor format (72h current, 73h deferred):
//   byte 1: SENSE KEY(3-0)   byte 2: ASC   byte 3: ASCQ   byte 7: ADDITIONAL SENSE LENGTH
//   bytes 8..: descriptors, each TYPE, ADDITIONAL LENGTH (bytes after these two), body.
// Sense-key-specific bytes (3, SKSV in the first):
//   ILLEGAL REQUEST: C/D(6) BPV(3) BIT POINTER(2-0), then FIELD POINTER (2 bytes, big-endian)
//   NOT READY / NO SENSE: PROGRESS INDICATION (2 bytes; 65536ths of the operation done)
#include "uring_engine/wire/sense.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace prfence::wire {

namespace {

constexpr uint8_t kValid = 0x80;  // fixed format byte 0, information descriptor byte 2
constexpr uint8_t kSksv = 0x80;
constexpr uint8_t kFilemark = 0x80, kEom = 0x40, kIli = 0x20;
constexpr uint8_t kCd = 0x40, kBpv = 0x08;

// Sense descriptor types (SPC-4 table 27, SBC-3 for 0Dh).
constexpr uint8_t kDescInformation = 0x00;
constexpr uint8_t kDescCommandSpecific = 0x01;
constexpr uint8_t kDescSenseKeySpecific = 0x02;
constexpr uint8_t kDescFru = 0x03;
constexpr uint8_t kDescStreamCommands = 0x04;
constexpr uint8_t kDescBlockCommands = 0x05;
constexpr uint8_t kDescAnotherProgress = 0x0a;
constexpr uint8_t kDescDirectAccess = 0x0d;

// Derives the field pointer or progress from the sense-key-specific bytes, by sense key.
void interpret_sks(Sense& s) {
    if (!s.sense_key_specific) return;
    const std::array<uint8_t, 3>& k = *s.sense_key_specific;
    const auto value = static_cast<uint16_t>((k[1] << 8) | k[2]);
    switch (s.key) {
        case SenseKey::illegal_request: {
            Sense::FieldPointer fp;
            fp.cd = (k[0] & kCd) != 0;
            fp.bpv = (k[0] & kBpv) != 0;
            fp.bit = fp.bpv ? static_cast<uint8_t>(k[0] & 0x07) : 0;
            fp.byte = value;
            s.field_pointer = fp;
            break;
        }
        case SenseKey::not_ready:
        case SenseKey::no_sense:
            s.progress = value;
            break;
        default:
            break;  // retry count, segment pointer, UA queue overflow: left raw
    }
}

Sense decode_fixed(ByteView in, Sense s) {
    const size_t n = in.size();
    // Only what the device declared counts: bytes past 8 + ADDITIONAL SENSE LENGTH are stale
    // buffer.
    size_t limit = n;
    if (n < 8) {
        s.truncated = true;
    } else {
        const size_t declared = 8 + size_t{in[7]};
        if (n < declared) s.truncated = true;
        limit = std::min(n, declared);
    }
    if (limit > 2) {
        s.key = static_cast<SenseKey>(in[2] & 0x0f);
        s.filemark = (in[2] & kFilemark) != 0;
        s.eom = (in[2] & kEom) != 0;
        s.ili = (in[2] & kIli) != 0;
    }
    if (limit >= 7 && (in[0] & kValid)) s.information = get_be32(in, 3);
    if (limit >= 12) {
        const uint32_t cs = get_be32(in, 8);
        if (cs != 0) s.command_specific = cs;
    }
    if (limit >= 14) {
        s.asc = in[12];
        s.ascq = in[13];
    } else {
        s.truncated = true;  // no room for ASC/ASCQ: whatever the device meant, it did not say it
    }
    if (limit >= 15 && in[14] != 0) s.fru = in[14];
    if (limit >= 18 && (in[15] & kSksv))
        s.sense_key_specific = std::array<uint8_t, 3>{in[15], in[16], in[17]};
    interpret_sks(s);
    return s;
}

Sense decode_descriptor(ByteView in, Sense s) {
    const size_t n = in.size();
    if (n > 1) s.key = static_cast<SenseKey>(in[1] & 0x0f);
    if (n > 2) s.asc = in[2];
    if (n > 3) s.ascq = in[3];
    if (n < 8) {
        s.truncated = true;
        return s;
    }
    const size_t declared = 8 + size_t{in[7]};
    if (n < declared) s.truncated = true;
    const size_t limit = std::min(n, declared);

    std::optional<uint16_t> another_progress;
    size_t off = 8;
    while (off < limit) {
        if (limit - off < 2) {  // a type byte without its length
            s.truncated = true;
            break;
        }
        const uint8_t type = in[off];
        const size_t len = in[off + 1];
        if (len > limit - off - 2) {  // the descriptor runs past the end
            s.truncated = true;
            break;
        }
        const ByteView body = in.subspan(off + 2, len);
        s.descriptors.push_back(SenseDescriptor{type, Bytes(body.begin(), body.end())});
        off += 2 + len;

        // The first descriptor of a type wins; SPC allows one of each of these.
        switch (type) {
            case kDescInformation:
                if (body.size() >= 10 && (body[0] & kValid) && !s.information)
                    s.information = get_be64(body, 2);
                break;
            case kDescCommandSpecific:
                if (body.size() >= 10 && !s.command_specific)
                    s.command_specific = get_be64(body, 2);
                break;
            case kDescSenseKeySpecific:
                if (body.size() >= 5 && (body[2] & kSksv) && !s.sense_key_specific)
                    s.sense_key_specific = std::array<uint8_t, 3>{body[2], body[3], body[4]};
                break;
            case kDescFru:
                if (body.size() >= 2 && body[1] != 0 && !s.fru) s.fru = body[1];
                break;
            case kDescStreamCommands:
                if (body.size() >= 2) {
                    s.filemark = s.filemark || (body[1] & kFilemark);
                    s.eom = s.eom || (body[1] & kEom);
                    s.ili = s.ili || (body[1] & kIli);
                }
                break;
            case kDescBlockCommands:
                if (body.size() >= 2) s.ili = s.ili || (body[1] & kIli);
                break;
            case kDescAnotherProgress:
                // sense key, ASC, ASCQ of the other operation, reserved, PROGRESS INDICATION
                if (body.size() >= 6 && !another_progress) another_progress = get_be16(body, 4);
                break;
            case kDescDirectAccess:
                // SBC: VALID(7)/ILI(5), reserved, SKS(3), FRU, INFORMATION(8), COMMAND-SPECIFIC(8)
                if (body.size() >= 22) {
                    s.ili = s.ili || (body[0] & kIli);
                    if ((body[2] & kSksv) && !s.sense_key_specific)
                        s.sense_key_specific = std::array<uint8_t, 3>{body[2], body[3], body[4]};
                    if (body[5] != 0 && !s.fru) s.fru = body[5];
                    if ((body[0] & kValid) && !s.information) s.information = get_be64(body, 6);
                    if (!s.command_specific) s.command_specific = get_be64(body, 14);
                }
                break;
            default:
                break;  // kept in `descriptors` as found
        }
    }
    interpret_sks(s);
    if (!s.progress && another_progress) s.progress = another_progress;
    return s;
}

std::array<uint8_t, 3> sks_bytes(const Sense& s) {
    if (s.sense_key_specific) {
        std::array<uint8_t, 3> k = *s.sense_key_specific;
        k[0] |= kSksv;
        return k;
    }
    if (s.field_pointer) {
        const Sense::FieldPointer& fp = *s.field_pointer;
        uint8_t b0 = kSksv;
        if (fp.cd) b0 |= kCd;
        if (fp.bpv) b0 |= static_cast<uint8_t>(kBpv | (fp.bit & 0x07));
        return {b0, static_cast<uint8_t>(fp.byte >> 8), static_cast<uint8_t>(fp.byte)};
    }
    const uint16_t p = s.progress.value_or(0);
    return {kSksv, static_cast<uint8_t>(p >> 8), static_cast<uint8_t>(p)};
}

bool has_sks(const Sense& s) { return s.sense_key_specific || s.field_pointer || s.progress; }

std::string hex2(uint8_t v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02Xh", v);
    return buf;
}

}  // namespace

const char* sense_key_name(SenseKey k) noexcept {
    switch (k) {
        case SenseKey::no_sense:
            return "NO SENSE";
        case SenseKey::recovered_error:
            return "RECOVERED ERROR";
        case SenseKey::not_ready:
            return "NOT READY";
        case SenseKey::medium_error:
            return "MEDIUM ERROR";
        case SenseKey::hardware_error:
            return "HARDWARE ERROR";
        case SenseKey::illegal_request:
            return "ILLEGAL REQUEST";
        case SenseKey::unit_attention:
            return "UNIT ATTENTION";
        case SenseKey::data_protect:
            return "DATA PROTECT";
        case SenseKey::blank_check:
            return "BLANK CHECK";
        case SenseKey::vendor_specific:
            return "VENDOR SPECIFIC";
        case SenseKey::copy_aborted:
            return "COPY ABORTED";
        case SenseKey::aborted_command:
            return "ABORTED COMMAND";
        case SenseKey::reserved_c:
            return "RESERVED";
        case SenseKey::volume_overflow:
            return "VOLUME OVERFLOW";
        case SenseKey::miscompare:
            return "MISCOMPARE";
        case SenseKey::completed:
            return "COMPLETED";
    }
    return "INVALID SENSE KEY";  // only reachable through a cast of a value above 0Fh
}

Result<Sense> decode_sense(ByteView in) {
    if (in.empty()) return fail(Errc::truncated, "sense: empty buffer");
    const uint8_t rc = in[0] & 0x7f;  // bit 7: VALID (fixed format) or reserved (descriptor format)
    if (rc < 0x70 || rc > 0x73) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "sense: response code 0x%02x is not 70h-73h", in[0]);
        return fail(Errc::malformed, buf);
    }
    Sense s;
    s.response_code = rc;
    s.descriptor = rc >= 0x72;
    s.deferred = rc == 0x71 || rc == 0x73;
    return s.descriptor ? decode_descriptor(in, std::move(s)) : decode_fixed(in, std::move(s));
}

Bytes encode_sense(const Sense& s) {
    const auto key = static_cast<uint8_t>(static_cast<uint8_t>(s.key) & 0x0f);
    const uint8_t flags = static_cast<uint8_t>((s.filemark ? kFilemark : 0) | (s.eom ? kEom : 0) |
                                               (s.ili ? kIli : 0));
    if (!s.descriptor) {
        Bytes b(18, 0);
        b[0] = s.deferred ? 0x71 : 0x70;
        b[2] = static_cast<uint8_t>(flags | key);
        if (s.information && *s.information <= 0xffffffffu) {
            b[0] |= kValid;
            put_be32(b, 3, static_cast<uint32_t>(*s.information));
        }
        b[7] = 10;
        if (s.command_specific && *s.command_specific <= 0xffffffffu)
            put_be32(b, 8, static_cast<uint32_t>(*s.command_specific));
        b[12] = s.asc;
        b[13] = s.ascq;
        b[14] = s.fru.value_or(0);
        if (has_sks(s)) {
            const std::array<uint8_t, 3> k = sks_bytes(s);
            std::copy(k.begin(), k.end(), b.begin() + 15);
        }
        return b;
    }

    Bytes b(8, 0);
    b[0] = s.deferred ? 0x73 : 0x72;
    b[1] = key;
    b[2] = s.asc;
    b[3] = s.ascq;
    if (s.information) {
        Bytes d(12, 0);
        d[0] = kDescInformation;
        d[1] = 10;
        d[2] = kValid;
        put_be64(d, 4, *s.information);
        b.insert(b.end(), d.begin(), d.end());
    }
    if (s.command_specific) {
        Bytes d(12, 0);
        d[0] = kDescCommandSpecific;
        d[1] = 10;
        put_be64(d, 4, *s.command_specific);
        b.insert(b.end(), d.begin(), d.end());
    }
    if (has_sks(s)) {
        const std::array<uint8_t, 3> k = sks_bytes(s);
        const uint8_t d[8] = {kDescSenseKeySpecific, 6, 0, 0, k[0], k[1], k[2], 0};
        b.insert(b.end(), std::begin(d), std::end(d));
    }
    if (s.fru) {
        const uint8_t d[4] = {kDescFru, 2, 0, *s.fru};
        b.insert(b.end(), std::begin(d), std::end(d));
    }
    if (flags != 0) {
        const uint8_t d[4] = {kDescStreamCommands, 2, 0, flags};
        b.insert(b.end(), std::begin(d), std::end(d));
    }
    b[7] = static_cast<uint8_t>(b.size() - 8);  // at most 40: well below the 244 limit
    return b;
}

Bytes make_fixed_sense(SenseKey key, uint8_t asc, uint8_t ascq) {
    Sense s;
    s.key = key;
    s.asc = asc;
    s.ascq = ascq;
    return encode_sense(s);
}

Bytes make_fixed_sense_field_pointer(SenseKey key, uint8_t asc, uint8_t ascq, bool cd,
                                     uint16_t byte, std::optional<uint8_t> bit) {
    Sense s;
    s.key = key;
    s.asc = asc;
    s.ascq = ascq;
    Sense::FieldPointer fp;
    fp.cd = cd;
    fp.byte = byte;
    if (bit) {
        fp.bpv = true;
        fp.bit = static_cast<uint8_t>(*bit & 0x07);
    }
    s.field_pointer = fp;
    return encode_sense(s);
}

std::string describe_sense(const Sense& s) {
    std::string out = sense_key_name(s.key);
    out += ": ";
    out += asc_ascq_text(s.asc, s.ascq);
    out += " (" + hex2(s.asc) + "/" + hex2(s.ascq) + ")";
    if (s.deferred) out += ", deferred";
    if (s.information) out += ", info=" + hex_u64(*s.information);
    if (s.command_specific) out += ", command-specific=" + hex_u64(*s.command_specific);
    if (s.fru) out += ", FRU=" + hex2(*s.fru);
    if (s.field_pointer) {
        const Sense::FieldPointer& fp = *s.field_pointer;
        out += fp.cd ? ", field pointer: CDB byte " : ", field pointer: parameter data byte ";
        out += std::to_string(fp.byte);
        if (fp.bpv) out += " bit " + std::to_string(fp.bit);
    }
    if (s.progress)
        out += ", progress " + std::to_string(uint32_t{*s.progress} * 100 / 65536) + "%";
    const bool sks_interpreted = s.key == SenseKey::illegal_request ||
                                 s.key == SenseKey::not_ready || s.key == SenseKey::no_sense;
    if (s.sense_key_specific && !sks_interpreted)
        out += ", sense-key-specific " + hex_string(*s.sense_key_specific);
    if (s.filemark) out += ", filemark";
    if (s.eom) out += ", EOM";
    if (s.ili) out += ", ILI";
    if (s.truncated) out += ", truncated";
    return out;
}

}  // namespace prfence::wire
