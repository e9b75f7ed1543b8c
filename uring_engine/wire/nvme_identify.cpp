// SPDX-License-Identifier: MIT
#include "uring_engine/wire/nvme_identify.h"

#include <algorithm>

namespace prfence::wire::nvme {
namespace {

// Identify Namespace.
constexpr size_t kNsze = 0;
constexpr size_t kNcap = 8;
constexpr size_t kNuse = 16;
constexpr size_t kNlbaf = 25;
constexpr size_t kFlbas = 26;
constexpr size_t kNmic = 30;
constexpr size_t kRescap = 31;
constexpr size_t kLbaf = 128;
constexpr size_t kLbafLen = 4;
constexpr size_t kLbafDs = 2;  // LBADS: log2 of the block size
constexpr size_t kMaxLbaf = 64;

// Identify Controller.
constexpr size_t kVid = 0;
constexpr size_t kSn = 4;
constexpr size_t kSnLen = 20;
constexpr size_t kMn = 24;
constexpr size_t kMnLen = 40;
constexpr size_t kFr = 64;
constexpr size_t kFrLen = 8;
constexpr size_t kCntlid = 78;
constexpr size_t kVer = 80;
constexpr size_t kCtratt = 96;
constexpr size_t kOncs = 520;
constexpr size_t kSubnqn = 768;
constexpr size_t kSubnqnLen = 256;

Status check_len(ByteView in, const char* what) {
    if (in.size() < kIdentifyLen)
        return fail(Errc::truncated, std::string(what) + " is " + std::to_string(in.size()) +
                                         " bytes, not " + std::to_string(kIdentifyLen));
    return {};
}

// ASCII fields: SN/MN/FR are space padded, SUBNQN NUL padded; both are cut at the first NUL.
std::string text_field(ByteView in, size_t off, size_t len) {
    std::string s;
    for (size_t i = 0; i < len && in[off + i] != 0; ++i) {
        const uint8_t c = in[off + i];
        s += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

void put_text(Bytes& out, size_t off, size_t len, const std::string& s, uint8_t pad) {
    std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(off), len, pad);
    std::copy_n(s.begin(), std::min(len, s.size()), out.begin() + static_cast<std::ptrdiff_t>(off));
}

// The format in use: FLBAS bits 3:0, extended by bits 6:5 when there are more than 16 formats.
size_t format_index(uint8_t nlbaf, uint8_t flbas) {
    size_t idx = flbas & 0x0f;
    if (nlbaf >= 16) idx |= static_cast<size_t>((flbas >> 5) & 0x3) << 4;
    return idx;
}

}  // namespace

Result<IdentifyNamespace> parse_identify_ns(ByteView in) {
    PRF_TRY(check_len(in, "Identify Namespace data"));
    IdentifyNamespace ns;
    ns.nsze = get_le64(in, kNsze);
    ns.ncap = get_le64(in, kNcap);
    ns.nuse = get_le64(in, kNuse);
    ns.nlbaf = in[kNlbaf];
    ns.flbas = in[kFlbas];
    ns.nmic = in[kNmic];
    ns.rescap = in[kRescap];
    const size_t idx = format_index(ns.nlbaf, ns.flbas);
    if (idx <= ns.nlbaf && idx < kMaxLbaf) {
        const uint8_t ds = in[kLbaf + idx * kLbafLen + kLbafDs];
        // LBADS below 9 (512 bytes) means the format is not supported; above 31 cannot be real.
        if (ds >= 9 && ds < 32) ns.lba_size = uint32_t{1} << ds;
    }
    return ns;
}

Result<IdentifyController> parse_identify_ctrl(ByteView in) {
    PRF_TRY(check_len(in, "Identify Controller data"));
    IdentifyController c;
    c.vid = get_le16(in, kVid);
    c.serial = text_field(in, kSn, kSnLen);
    c.model = text_field(in, kMn, kMnLen);
    c.firmware = text_field(in, kFr, kFrLen);
    c.cntlid = get_le16(in, kCntlid);
    c.ver = get_le32(in, kVer);
    c.ctratt = get_le32(in, kCtratt);
    c.oncs = get_le16(in, kOncs);
    c.subnqn = text_field(in, kSubnqn, kSubnqnLen);
    return c;
}

Bytes encode_identify_ns(const IdentifyNamespace& ns) {
    Bytes out(kIdentifyLen, 0);
    put_le64(out, kNsze, ns.nsze);
    put_le64(out, kNcap, ns.ncap);
    put_le64(out, kNuse, ns.nuse);
    out[kNlbaf] = ns.nlbaf;
    out[kFlbas] = ns.flbas;
    out[kNmic] = ns.nmic;
    out[kRescap] = ns.rescap;
    const size_t idx = format_index(ns.nlbaf, ns.flbas);
    const bool pow2 = ns.lba_size >= 512 && (ns.lba_size & (ns.lba_size - 1)) == 0;
    if (pow2 && idx < kMaxLbaf) {
        uint8_t ds = 0;
        while ((uint32_t{1} << ds) < ns.lba_size) ++ds;
        out[kLbaf + idx * kLbafLen + kLbafDs] = ds;
    }
    return out;
}

Bytes encode_identify_ctrl(const IdentifyController& c) {
    Bytes out(kIdentifyLen, 0);
    put_le16(out, kVid, c.vid);
    put_text(out, kSn, kSnLen, c.serial, ' ');
    put_text(out, kMn, kMnLen, c.model, ' ');
    put_text(out, kFr, kFrLen, c.firmware, ' ');
    put_le16(out, kCntlid, c.cntlid);
    put_le32(out, kVer, c.ver);
    put_le32(out, kCtratt, c.ctratt);
    put_le16(out, kOncs, c.oncs);
    put_text(out, kSubnqn, kSubnqnLen, c.subnqn, 0);
    return out;
}

ReservationCaps reservation_caps(const IdentifyController& c,
                                 const IdentifyNamespace& ns) noexcept {
    ReservationCaps caps;
    caps.supported = (c.oncs & kOncsReservations) && ns.rescap != 0;
    caps.types = ns.rescap & 0x7e;
    caps.ptpl = ns.rescap & rescap::ptpl;
    caps.iekey_13 = ns.rescap & rescap::iekey_13;
    caps.host_id_128 = c.ctratt & kCtrattHostId128;
    return caps;
}

}  // namespace prfence::wire::nvme
