// SPDX-License-Identifier: MIT
// NVMe Reservation Status and the Reservation Notification log are device data: parsers must
// survive any bytes, and what they accept whole must re-encode to the same content. The first
// input byte picks nothing: both layouts and the log page see every input.
#include <cstdint>
#include <cstdlib>

#include "uring_engine/wire/nvme_report.h"

using namespace prfence::wire::nvme;

namespace {

void check_report(prfence::ByteView in, bool eds) {
    auto r = parse_report(in, eds);
    if (!r.ok()) return;
    if (r->registrants.size() > r->regctl) std::abort();
    if (r->extended != eds) std::abort();
    if (is_truncated(*r)) return;
    auto enc = encode_report(*r, eds, report_len(r->regctl, eds));
    if (!enc.ok()) std::abort();  // whatever parsed re-encodes in its own layout
    auto again = parse_report(*enc, eds);
    if (!again.ok() || again->generation != r->generation || again->rtype != r->rtype ||
        again->ptpls != r->ptpls || again->registrants.size() != r->registrants.size())
        std::abort();
    for (size_t i = 0; i < r->registrants.size(); ++i) {
        const auto& a = r->registrants[i];
        const auto& b = again->registrants[i];
        if (a.cntlid != b.cntlid || a.holds != b.holds || a.key != b.key || a.hostid != b.hostid)
            std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    prfence::ByteView in(data, size);
    check_report(in, false);
    check_report(in, true);
    if (auto log = parse_reservation_log(in); log.ok()) {
        auto again = parse_reservation_log(encode_reservation_log(*log));
        if (!again.ok() || *again != *log) std::abort();
        (void)log_type_name(log->type);
    }
    return 0;
}
