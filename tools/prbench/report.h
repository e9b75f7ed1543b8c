// SPDX-License-Identifier: MIT
// Rendering prbench's results: fio-like text (clat percentiles in usec, min/max/avg/stdev, IOPS,
// the slowest LUNs), a comparison table, and JSON with fio's field names (clat_ns {min, max, mean,
// stddev, N, percentile {"1.000000": ns, ...}}).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/prbench/bench.h"
#include "tools/prbench/stats.h"

namespace prfence::bench {

// What the report says about the run as a whole.
struct RunInfo {
    std::string version;
    std::string command_line;
    std::string devices;  // as given
    unsigned warmup = 0, rounds = 0, iterations = 0;
    size_t slowest = 5;  // LUNs listed per result
};

// fio's "clat_ns" object for `samples` (sorted in place).
nlohmann::ordered_json latency_json(std::vector<uint64_t>& samples);

std::string job_name(const Measurement& r);

// Both sort each result's latency samples (clat, lat, wall_lat) in place; wall and arm, which the
// JSON prints round by round, keep their order.
std::string render_text(std::vector<Measurement>& results, const RunInfo& info);
nlohmann::ordered_json render_json(std::vector<Measurement>& results, const RunInfo& info);

// The fio block for one set of samples:
//     clat (usec): min=..., max=..., avg=..., stdev=...
//     clat percentiles (usec):
//      |  1.00th=[  241],  5.00th=[  289], ...
std::string fio_block(const std::string& what, const LatencySummary& s,
                      const std::string& indent = "    ");

// The slowest LUNs of a result (by their slowest time), at most `k`.
std::vector<LunTime> slowest_luns(const Measurement& r, size_t k);

}  // namespace prfence::bench
