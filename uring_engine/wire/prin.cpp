// SPDX-License-Identifier: MIT
#include "uring_engine/wire/prin.h"

#include <algorithm>

namespace prfence::wire {
namespace {

constexpr size_t kHeader = 8;
constexpr size_t kReservationDesc = 16;
constexpr size_t kFullStatusDescHeader = 24;

Status check_header(ByteView in, const char* what) {
    if (in.size() < kHeader)
        return fail(Errc::truncated, std::string(what) + " answer is " + std::to_string(in.size()) +
                                         " bytes; the 8-byte header is incomplete");
    return {};
}

// Total answer size the device wanted to send, saturated so a lying length cannot overflow.
uint32_t wanted(uint32_t additional) {
    return additional > UINT32_MAX - kHeader ? UINT32_MAX : additional + kHeader;
}

Bytes truncate_to(Bytes b, uint16_t alloc_len) {
    if (b.size() > alloc_len) b.resize(alloc_len);
    return b;
}

}  // namespace

uint16_t type_mask_bit(PrType t) noexcept {
    switch (t) {
        case PrType::write_exclusive_all_registrants:
            return 0x8000;
        case PrType::exclusive_access_registrants_only:
            return 0x4000;
        case PrType::write_exclusive_registrants_only:
            return 0x2000;
        case PrType::exclusive_access:
            return 0x0800;
        case PrType::write_exclusive:
            return 0x0200;
        case PrType::exclusive_access_all_registrants:
            return 0x0001;
        case PrType::none:
            break;
    }
    return 0;
}

bool Capabilities::supports(PrType t) const noexcept {
    return tmv && (type_mask & type_mask_bit(t));
}

Result<ReadKeys> parse_read_keys(ByteView in) {
    PRF_TRY(check_header(in, "READ KEYS"));
    ReadKeys r;
    r.generation = get_be32(in, 0);
    uint32_t add = get_be32(in, 4);
    if (add % 8 != 0)
        return fail(Errc::malformed, "READ KEYS ADDITIONAL LENGTH " + std::to_string(add) +
                                         " is not a multiple of 8");
    r.needed = wanted(add);
    size_t avail = std::min<size_t>(add, in.size() - kHeader);
    r.truncated = avail < add;
    size_t n = avail / 8;
    r.keys.reserve(n);
    for (size_t i = 0; i < n; ++i) r.keys.push_back(get_be64(in, kHeader + 8 * i));
    return r;
}

Result<ReadReservation> parse_read_reservation(ByteView in) {
    PRF_TRY(check_header(in, "READ RESERVATION"));
    ReadReservation r;
    r.generation = get_be32(in, 0);
    uint32_t add = get_be32(in, 4);
    r.needed = wanted(add);
    if (add == 0) return r;
    // SPC-4 allows one reservation descriptor per LU (16 bytes); element-scope devices once sent
    // more.
    if (add % kReservationDesc != 0)
        return fail(Errc::malformed, "READ RESERVATION ADDITIONAL LENGTH " + std::to_string(add) +
                                         " is not a multiple of 16");
    if (in.size() < kHeader + kReservationDesc) {
        r.truncated = true;
        return r;
    }
    r.reserved = true;
    r.key = get_be64(in, 8);
    r.scope = in[21] >> 4;
    r.type = in[21] & 0x0f;
    r.truncated = in.size() - kHeader < add;
    return r;
}

Result<Capabilities> parse_capabilities(ByteView in) {
    if (in.size() < 2)
        return fail(Errc::truncated, "REPORT CAPABILITIES answer is " + std::to_string(in.size()) +
                                         " bytes; the LENGTH field is incomplete");
    Capabilities c;
    c.length = get_be16(in, 0);
    if (c.length < 8)
        return fail(Errc::malformed,
                    "REPORT CAPABILITIES LENGTH " + std::to_string(c.length) + " is below 8");
    c.truncated = in.size() < c.length || in.size() < 8;
    if (in.size() > 2) {
        c.rlr_c = in[2] & 0x80;
        c.crh = in[2] & 0x10;
        c.sip_c = in[2] & 0x08;
        c.atp_c = in[2] & 0x04;
        c.ptpl_c = in[2] & 0x01;
    }
    if (in.size() > 3) {
        c.tmv = in[3] & 0x80;
        c.allow_commands = (in[3] >> 4) & 0x07;
        c.ptpl_a = in[3] & 0x01;
    }
    if (in.size() > 5) c.type_mask = get_be16(in, 4);
    return c;
}

Result<FullStatus> parse_full_status(ByteView in) {
    PRF_TRY(check_header(in, "READ FULL STATUS"));
    FullStatus r;
    r.generation = get_be32(in, 0);
    uint32_t add = get_be32(in, 4);
    r.needed = wanted(add);
    size_t end = kHeader + std::min<size_t>(add, in.size() - kHeader);
    r.truncated = end - kHeader < add;
    size_t off = kHeader;
    while (off < end) {
        if (end - off < kFullStatusDescHeader) {
            if (!r.truncated)
                return fail(Errc::malformed, "READ FULL STATUS descriptor at offset " +
                                                 std::to_string(off) +
                                                 " is shorter than its 24-byte header");
            break;
        }
        ByteView d = in.subspan(off, end - off);
        uint32_t dlen = get_be32(d, 20);
        if (dlen > d.size() - kFullStatusDescHeader) {
            if (!r.truncated)
                return fail(Errc::malformed, "READ FULL STATUS descriptor at offset " +
                                                 std::to_string(off) + " claims " +
                                                 std::to_string(dlen) +
                                                 " TransportID bytes past the ADDITIONAL LENGTH");
            break;  // the rest of this descriptor was cut off by the allocation length
        }
        FullStatusEntry e;
        e.key = get_be64(d, 0);
        e.all_tg_pt = d[12] & 0x02;
        e.holder = d[12] & 0x01;
        e.scope = d[13] >> 4;
        e.type = d[13] & 0x0f;
        e.rel_tgt_port = get_be16(d, 18);
        // Bytes after the TransportID inside its descriptor are padding (LIO pads iSCSI names to 4
        // bytes independently of the ADDITIONAL DESCRIPTOR LENGTH); they are skipped, not an error.
        auto tid = decode_transport_id(d.subspan(kFullStatusDescHeader, dlen));
        if (!tid)
            return fail(Errc::malformed, "READ FULL STATUS descriptor at offset " +
                                             std::to_string(off) + ": " + tid.error().msg);
        e.transport_id = std::move(tid->tid);
        r.entries.push_back(std::move(e));
        off += kFullStatusDescHeader + dlen;
    }
    return r;
}

Bytes encode_read_keys(const ReadKeys& v, uint16_t alloc_len) {
    Bytes out(kHeader + 8 * v.keys.size(), 0);
    put_be32(out, 0, v.generation);
    put_be32(out, 4, static_cast<uint32_t>(8 * v.keys.size()));
    for (size_t i = 0; i < v.keys.size(); ++i) put_be64(out, kHeader + 8 * i, v.keys[i]);
    return truncate_to(std::move(out), alloc_len);
}

Bytes encode_read_reservation(const ReadReservation& v, uint16_t alloc_len) {
    Bytes out(v.reserved ? kHeader + kReservationDesc : kHeader, 0);
    put_be32(out, 0, v.generation);
    if (v.reserved) {
        put_be32(out, 4, kReservationDesc);
        put_be64(out, 8, v.key);
        out[21] = static_cast<uint8_t>((v.scope << 4) | (v.type & 0x0f));
    }
    return truncate_to(std::move(out), alloc_len);
}

Bytes encode_capabilities(const Capabilities& v, uint16_t alloc_len) {
    Bytes out(8, 0);
    put_be16(out, 0, 8);
    out[2] = static_cast<uint8_t>((v.rlr_c ? 0x80 : 0) | (v.crh ? 0x10 : 0) | (v.sip_c ? 0x08 : 0) |
                                  (v.atp_c ? 0x04 : 0) | (v.ptpl_c ? 0x01 : 0));
    out[3] = static_cast<uint8_t>((v.tmv ? 0x80 : 0) | ((v.allow_commands & 0x07) << 4) |
                                  (v.ptpl_a ? 0x01 : 0));
    put_be16(out, 4, v.type_mask);
    return truncate_to(std::move(out), alloc_len);
}

Result<Bytes> encode_full_status(const FullStatus& v, uint16_t alloc_len) {
    Bytes out(kHeader, 0);
    put_be32(out, 0, v.generation);
    for (const auto& e : v.entries) {
        PRF_TRY_ASSIGN(Bytes tid, encode_transport_id(e.transport_id));
        size_t off = out.size();
        out.resize(off + kFullStatusDescHeader, 0);
        std::span<uint8_t> d(out.data() + off, kFullStatusDescHeader);
        put_be64(d, 0, e.key);
        d[12] = static_cast<uint8_t>((e.all_tg_pt ? 0x02 : 0) | (e.holder ? 0x01 : 0));
        d[13] = static_cast<uint8_t>((e.scope << 4) | (e.type & 0x0f));
        put_be16(d, 18, e.rel_tgt_port);
        put_be32(d, 20, static_cast<uint32_t>(tid.size()));
        out.insert(out.end(), tid.begin(), tid.end());
    }
    put_be32(out, 4, static_cast<uint32_t>(out.size() - kHeader));
    return truncate_to(std::move(out), alloc_len);
}

}  // namespace prfence::wire
