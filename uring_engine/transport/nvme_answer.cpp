// SPDX-License-Identifier: MIT
#include "uring_engine/transport/nvme_answer.h"

#include "uring_engine/wire/nvme_status.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::engine {

ScsiResponse nvme_refusal(std::string why) {
    ScsiResponse r;
    r.status = wire::sam::check_condition;
    r.sense = wire::make_fixed_sense(wire::SenseKey::illegal_request, 0x24, 0x00);
    r.nvme.emplace();
    r.nvme->refused = std::move(why);
    return r;
}

bool nvme_needs_fallback(const wire::nvme::Translation& t, int res) {
    // DNR, MORE and CRD do not change what the status is: compare SCT and SC only.
    return t.on_conflict && res > 0 &&
           (res & wire::nvme::kScSctMask) ==
               wire::nvme::status_word(wire::nvme::sct::generic,
                                       wire::nvme::sc::reservation_conflict);
}

ScsiResponse nvme_response(const wire::nvme::Translation& t, int res, ByteView data) {
    wire::nvme::NvmeAnswer a = wire::nvme::answer(t, res, data);
    ScsiResponse r;
    r.status = a.status;
    r.host = a.host;
    r.sense = std::move(a.sense);
    r.data_in = std::move(a.data_in);
    r.sys_errno = a.sys_errno;
    r.nvme.emplace();
    r.nvme->res = a.res;
    r.nvme->report = std::move(a.report);
    return r;
}

}  // namespace prfence::engine
