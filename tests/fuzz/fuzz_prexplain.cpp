// SPDX-License-Identifier: MIT
// prexplain's parser and correlator on arbitrary bytes: every line of the input (split at '\n') is
// parsed, and what parses is fed to a correlator, as a kernel log or trace file would be. Nothing
// may crash, read out of bounds or loop; what parses must be self-consistent.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tools/prexplain/correlate.h"
#include "tools/prexplain/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace prfence::prexplain;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    NullMapper mapper;
    CorrelateOptions opt;
    opt.max_lus = 64;
    Correlator corr(mapper, opt);
    std::vector<Event> out;
    size_t start = 0;
    int64_t arrival = 0;
    while (start <= in.size()) {
        size_t nl = in.find('\n', start);
        if (nl == std::string_view::npos) nl = in.size();
        const std::string_view line = in.substr(start, nl - start);
        if (auto p = parse_line(line)) {
            // Every view points into the line.
            for (std::string_view v : {p->disk, p->op, p->status, p->host_byte, p->driver_byte})
                if (!v.empty() &&
                    (v.data() < line.data() || v.data() + v.size() > line.data() + line.size()))
                    std::abort();
            if (p->kind == LineKind::sd_conflict && (!p->conflict || !p->has_hctl)) std::abort();
            if (p->kind == LineKind::trace_rq_complete && p->conflict != (p->error == -52))
                std::abort();
            corr.feed(*p, arrival, out);
        }
        arrival += 1'000'000;
        if (line.size() > 2 && line[0] == 'T') corr.tick(arrival, out);
        start = nl + 1;
    }
    corr.finish(out);
    for (const Event& e : out)
        if (e.count == 0 || e.lu.key.empty()) std::abort();
    return 0;
}
