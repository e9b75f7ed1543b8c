// SPDX-License-Identifier: MIT
#include "uring_engine/wire/nvme_report.h"

#include <algorithm>
#include <optional>
#include <string>

namespace prfence::wire::nvme {
namespace {

constexpr size_t kGen = 0;
constexpr size_t kRtype = 4;
constexpr size_t kRegctl = 5;
constexpr size_t kPtpls = 9;
constexpr size_t kCntlid = 0;
constexpr size_t kRcsts = 2;
// The two entry layouts put RKEY and HOSTID in different places.
constexpr size_t kKeyShort = 16;
constexpr size_t kHostIdShort = 8;
constexpr size_t kKeyExt = 8;
constexpr size_t kHostIdExt = 16;

constexpr size_t kLogCount = 0;
constexpr size_t kLogType = 8;
constexpr size_t kLogAvailable = 9;
constexpr size_t kLogNsid = 12;

}  // namespace

Result<ReservationStatus> parse_report(ByteView in, bool eds) {
    const size_t header = eds ? kReportExtHeaderLen : kReportHeaderLen;
    const size_t entry = eds ? kReportExtEntryLen : kReportEntryLen;
    if (in.size() < header)
        return fail(Errc::truncated, "Reservation Report is " + std::to_string(in.size()) +
                                         " bytes; the " + std::to_string(header) +
                                         "-byte header is incomplete");
    ReservationStatus s;
    s.extended = eds;
    s.generation = get_le32(in, kGen);
    s.rtype = in[kRtype];
    s.regctl = get_le16(in, kRegctl);
    s.ptpls = in[kPtpls] & 1;
    if (s.rtype > 6)
        return fail(Errc::malformed,
                    "Reservation Report: RTYPE " + std::to_string(s.rtype) + " is reserved");
    const size_t n = std::min<size_t>(s.regctl, (in.size() - header) / entry);
    s.registrants.reserve(n);
    std::optional<HostId> holder;
    for (size_t i = 0; i < n; ++i) {
        const size_t off = header + i * entry;
        Registrant r;
        r.cntlid = get_le16(in, off + kCntlid);
        r.holds = in[off + kRcsts] & 1;
        if (eds) {
            r.key = get_le64(in, off + kKeyExt);
            std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(off + kHostIdExt), 16,
                        r.hostid.begin());
        } else {
            r.key = get_le64(in, off + kKeyShort);
            std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(off + kHostIdShort), 8,
                        r.hostid.begin());
        }
        if (r.holds && s.rtype == 0)
            return fail(Errc::malformed, "Reservation Report: entry " + std::to_string(i) +
                                             " holds a reservation but RTYPE is 0");
        // One holder per reservation unless all registrants hold it; a host with several
        // controllers appears once per controller, all with the same host identifier.
        if (r.holds && !is_all_registrants(s.rtype)) {
            if (holder && *holder != r.hostid)
                return fail(Errc::malformed,
                            "Reservation Report: entries of two different hosts hold a " +
                                std::string(rtype_name(s.rtype)) + " reservation");
            holder = r.hostid;
        }
        s.registrants.push_back(r);
    }
    return s;
}

Result<Bytes> encode_report(const ReservationStatus& s, bool eds, uint64_t alloc_len) {
    if (s.registrants.size() > UINT16_MAX)
        return fail(Errc::invalid_argument,
                    "Reservation Report: " + std::to_string(s.registrants.size()) +
                        " registrants do not fit REGCTL");
    const auto regctl = static_cast<uint16_t>(s.registrants.size());
    const size_t header = eds ? kReportExtHeaderLen : kReportHeaderLen;
    const size_t entry = eds ? kReportExtEntryLen : kReportEntryLen;
    Bytes out(static_cast<size_t>(report_len(regctl, eds)), 0);
    put_le32(out, kGen, s.generation);
    out[kRtype] = s.rtype;
    put_le16(out, kRegctl, regctl);
    out[kPtpls] = s.ptpls ? 1 : 0;
    for (size_t i = 0; i < s.registrants.size(); ++i) {
        const Registrant& r = s.registrants[i];
        const size_t off = header + i * entry;
        put_le16(out, off + kCntlid, r.cntlid);
        out[off + kRcsts] = r.holds ? 1 : 0;
        if (eds) {
            put_le64(out, off + kKeyExt, r.key);
            std::copy(r.hostid.begin(), r.hostid.end(),
                      out.begin() + static_cast<std::ptrdiff_t>(off + kHostIdExt));
        } else {
            if (std::any_of(r.hostid.begin() + 8, r.hostid.end(), [](uint8_t b) { return b; }))
                return fail(Errc::invalid_argument,
                            "Reservation Report without EDS: registrant " + std::to_string(i) +
                                " has a 128-bit host identifier (a controller answers Host "
                                "Identifier Inconsistent Format)");
            put_le64(out, off + kKeyShort, r.key);
            std::copy_n(r.hostid.begin(), 8,
                        out.begin() + static_cast<std::ptrdiff_t>(off + kHostIdShort));
        }
    }
    if (out.size() > alloc_len) out.resize(static_cast<size_t>(alloc_len));
    return out;
}

const char* log_type_name(uint8_t type) noexcept {
    switch (type) {
        case 0:
            return "Empty Log Page";
        case 1:
            return "Registration Preempted";
        case 2:
            return "Reservation Released";
        case 3:
            return "Reservation Preempted";
        default:
            return "reserved";
    }
}

Result<ReservationLog> parse_reservation_log(ByteView in) {
    if (in.size() < kReservationLogLen)
        return fail(Errc::truncated, "Reservation Notification log is " +
                                         std::to_string(in.size()) + " bytes, not 64");
    ReservationLog log;
    log.count = get_le64(in, kLogCount);
    log.type = in[kLogType];
    log.available = in[kLogAvailable];
    log.nsid = get_le32(in, kLogNsid);
    if (log.type > static_cast<uint8_t>(LogType::reservation_preempted))
        return fail(Errc::malformed, "Reservation Notification log: type " +
                                         std::to_string(log.type) + " is reserved");
    return log;
}

Bytes encode_reservation_log(const ReservationLog& log) {
    Bytes out(kReservationLogLen, 0);
    put_le64(out, kLogCount, log.count);
    out[kLogType] = log.type;
    out[kLogAvailable] = log.available;
    put_le32(out, kLogNsid, log.nsid);
    return out;
}

}  // namespace prfence::wire::nvme
