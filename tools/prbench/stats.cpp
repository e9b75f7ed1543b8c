// SPDX-License-Identifier: MIT
#include "tools/prbench/stats.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace prfence::bench {

uint64_t percentile_sorted(std::span<const uint64_t> sorted, double p) {
    if (sorted.empty()) return 0;
    if (p <= 0) return sorted.front();
    if (p >= 100) return sorted.back();
    // Rank in 1..N; a tiny epsilon keeps 50% of 10 samples at rank 5 despite floating point.
    const double exact = p / 100.0 * static_cast<double>(sorted.size());
    auto rank = static_cast<size_t>(std::ceil(exact - 1e-9));
    rank = std::clamp<size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

uint64_t LatencySummary::at(double p) const {
    for (const auto& [q, v] : percentiles)
        if (std::fabs(q - p) < 1e-9) return v;
    return 0;
}

LatencySummary summarize(std::vector<uint64_t>& samples) {
    LatencySummary s;
    std::sort(samples.begin(), samples.end());
    s.n = samples.size();
    if (samples.empty()) {
        for (double p : kFioPercentiles) s.percentiles.emplace_back(p, 0);
        return s;
    }
    s.min = samples.front();
    s.max = samples.back();
    // Welford: stable for nanosecond values in the billions.
    double mean = 0, m2 = 0;
    uint64_t k = 0;
    for (uint64_t v : samples) {
        ++k;
        const double x = static_cast<double>(v);
        const double d = x - mean;
        mean += d / static_cast<double>(k);
        m2 += d * (x - mean);
    }
    s.mean = mean;
    s.stddev = s.n > 1 ? std::sqrt(m2 / static_cast<double>(s.n - 1)) : 0.0;
    for (double p : kFioPercentiles) s.percentiles.emplace_back(p, percentile_sorted(samples, p));
    return s;
}

std::vector<std::pair<uint64_t, double>> cdf_points(std::span<const uint64_t> sorted,
                                                    size_t max_points) {
    std::vector<std::pair<uint64_t, double>> pts;
    const size_t n = sorted.size();
    if (n == 0 || max_points == 0) return pts;
    const double dn = static_cast<double>(n);
    if (n <= max_points || max_points < 2) {
        for (size_t i = 0; i < n; ++i) {
            // Only the last of equal values: the CDF's value at that point.
            if (i + 1 < n && sorted[i + 1] == sorted[i]) continue;
            pts.emplace_back(sorted[i], static_cast<double>(i + 1) / dn);
        }
        return pts;
    }
    for (size_t j = 0; j < max_points; ++j) {
        const size_t i = j * (n - 1) / (max_points - 1);
        pts.emplace_back(sorted[i], static_cast<double>(i + 1) / dn);
    }
    return pts;
}

void LogHistogram::add(uint64_t v) {
    const size_t b = v == 0 ? 0 : static_cast<size_t>(std::bit_width(v) - 1);
    if (buckets.size() <= b) buckets.resize(b + 1, 0);
    ++buckets[b];
}

uint64_t LogHistogram::total() const {
    uint64_t t = 0;
    for (uint64_t c : buckets) t += c;
    return t;
}

}  // namespace prfence::bench
