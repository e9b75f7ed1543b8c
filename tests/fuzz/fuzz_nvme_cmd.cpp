// SPDX-License-Identifier: MIT
// The NVMe reservation command decoders see what any host sends prsim: CDW10, CDW11 and a data
// buffer of any length. Input: 4 bytes CDW10, 4 bytes CDW11 (little-endian), the rest is the data.
// Whatever decodes must encode back (when the encoder accepts it) to the same dwords' meaning.
#include <cstdint>
#include <cstdlib>

#include "uring_engine/wire/nvme_cmd.h"
#include "uring_engine/wire/nvme_status.h"

using namespace prfence::wire::nvme;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 8) return 0;
    prfence::ByteView in(data, size);
    const uint32_t cdw10 = get_le32(in, 0);
    const uint32_t cdw11 = get_le32(in, 4);
    const prfence::ByteView payload = in.subspan(8);

    Invalid why{sct::path, 0xff};
    if (auto r = decode_register(cdw10, payload, &why); r.ok()) {
        if (auto c = register_cmd(1, *r); c.ok()) {
            auto again = decode_register(c->cdw10, c->data);
            if (!again.ok() || again->action != r->action || again->crkey != r->crkey ||
                again->iekey != r->iekey || again->cptpl != r->cptpl)
                std::abort();
        }
    } else if (why.sct != sct::generic ||
               (why.sc != sc::invalid_field && why.sc != sc::invalid_opcode)) {
        std::abort();  // every refusal names the status a controller answers
    }
    why = {sct::path, 0xff};
    if (auto a = decode_acquire(cdw10, payload, &why); a.ok()) {
        auto c = acquire_cmd(1, *a);
        if (!c.ok()) std::abort();  // a decoded RTYPE is always valid
        auto again = decode_acquire(c->cdw10, c->data);
        if (!again.ok() || again->rtype != a->rtype || again->action != a->action) std::abort();
    } else if (why.sct != sct::generic) {
        std::abort();
    }
    why = {sct::path, 0xff};
    if (auto r = decode_release(cdw10, payload, &why); r.ok()) {
        if (auto c = release_cmd(1, *r); c.ok()) {
            auto again = decode_release(c->cdw10, c->data);
            if (!again.ok() || again->action != r->action || again->crkey != r->crkey) std::abort();
        }
    } else if (why.sct != sct::generic) {
        std::abort();
    }
    if (auto rep = decode_report(cdw10, cdw11); rep.ok()) {
        const uint64_t len = report_buffer_len(*rep);
        if (len <= UINT32_MAX) {
            auto c = report_cmd(1, rep->eds, static_cast<uint32_t>(len));
            if (!c.ok() || c->cdw10 != rep->numd) std::abort();
        }
    }
    // The status decoder takes any int.
    const auto s = decode_status(static_cast<int>(cdw10));
    if (s.name == nullptr) std::abort();
    return 0;
}
