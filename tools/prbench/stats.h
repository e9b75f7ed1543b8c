// SPDX-License-Identifier: MIT
// prbench's statistics: exact latency summaries over every sample kept (no histogram
// approximation), with fio's percentile list and field names, and the points of an empirical CDF
// for the plots. Pure functions over nanosecond samples: no clock, no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace prfence::bench {

// fio's default percentile list (clat percentiles).
inline constexpr double kFioPercentiles[] = {1,  5,  10, 20, 30,   40,   50,    60,   70,
                                             80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99};

// The p-th percentile (0 < p <= 100) of ascending `sorted` by the nearest-rank method: the smallest
// sample such that at least p% of the samples are <= it (rank ceil(p/100 * N), 1-based). p <= 0
// gives the minimum. 0 for an empty set.
uint64_t percentile_sorted(std::span<const uint64_t> sorted, double p);

struct LatencySummary {
    uint64_t n = 0;
    uint64_t min = 0, max = 0;
    double mean = 0, stddev = 0;  // stddev: sample standard deviation (N - 1), as fio prints it
    std::vector<std::pair<double, uint64_t>> percentiles;  // (p, value) for kFioPercentiles
    uint64_t at(double p) const;  // the value for one of kFioPercentiles (0 if absent)
};

// Summarises `samples` (any order; sorted in place).
LatencySummary summarize(std::vector<uint64_t>& samples);

// Points of the empirical CDF of ascending `sorted`: (value, fraction of samples <= value), at most
// `max_points` of them (evenly spaced in rank, always including the first and the last sample).
std::vector<std::pair<uint64_t, double>> cdf_points(std::span<const uint64_t> sorted,
                                                    size_t max_points = 512);

// A log2-bucketed histogram: bucket b counts samples in [2^b, 2^(b+1)) ns (bucket 0 also holds 0).
struct LogHistogram {
    std::vector<uint64_t> buckets;  // grows as needed
    void add(uint64_t v);
    uint64_t total() const;
};

}  // namespace prfence::bench
