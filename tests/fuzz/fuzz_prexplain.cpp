// SPDX-License-Identifier: MIT
// prexplain's parser and correlator on arbitrary bytes: every line of the input (split at '\n') is
// parsed, and what parses is fed to two correlators, as a kernel log or trace file would be: one
// live (events as lines arrive, ticks on lines starting with 'T') and one holding everything for
// finish() (saved logs). Nothing may crash, read out of bounds or loop; what parses must be
// self-consistent, and the held correlator must tell one story per LU that adds up.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
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
    opt.max_commands = 4;
    Correlator corr(mapper, opt);
    opt.hold = true;
    Correlator held(mapper, opt);
    std::vector<Event> out, held_out;
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
            if (p->kind == LineKind::sd_name && (p->conflict || !p->has_hctl || p->disk.empty()))
                std::abort();
            if (p->kind == LineKind::trace_rq_complete && p->conflict != (p->error == -52))
                std::abort();
            corr.feed(*p, arrival, out);
            held.feed(*p, arrival, held_out);
        }
        arrival += 1'000'000;
        if (line.size() > 2 && line[0] == 'T') {
            corr.tick(arrival, out);
            held.tick(arrival, held_out);
        }
        start = nl + 1;
    }
    if (!held_out.empty()) std::abort();  // nothing before finish()
    corr.finish(out);
    held.finish(held_out);
    for (const Event& e : out)
        if (e.count == 0 || e.lu.key.empty()) std::abort();
    std::set<std::string> keys;
    uint64_t total = 0;
    for (const Event& e : held_out) {
        if (e.count == 0 || e.lu.key.empty() || e.update) std::abort();
        if (!keys.insert(e.lu.key).second) std::abort();  // one story per LU
        if (e.commands.empty() || e.commands.size() > opt.max_commands) std::abort();
        uint64_t listed = e.unlisted;
        for (const Command& c : e.commands) listed += c.count;
        if (listed != e.count) std::abort();  // every failed I/O in one kind of command
        total += e.count;
    }
    if (total != held.stats().groups) std::abort();
    return 0;
}
