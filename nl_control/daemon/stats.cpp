// SPDX-License-Identifier: MIT
#include "nl_control/daemon/stats.h"

#include <algorithm>
#include <bit>

namespace prfence::daemon {

size_t LatencyHistogram::bucket(uint64_t ns) {
    const uint64_t us = ns / 1000;
    if (us < 2) return 0;
    const size_t b = static_cast<size_t>(std::bit_width(us) - 1);
    return std::min(b, nl::kHistBuckets - 1);
}

void LatencyHistogram::record(uint64_t ns, bool failed) {
    buckets_[bucket(ns)]++;
    if (count_ == 0 || ns < min_) min_ = ns;
    max_ = std::max(max_, ns);
    ++count_;
    if (failed) ++failed_;
    sum_ += ns;
}

uint64_t LatencyHistogram::percentile(double p) const {
    if (count_ == 0) return 0;
    // The smallest bucket whose cumulative count reaches ceil(p * count).
    uint64_t want = static_cast<uint64_t>(p * static_cast<double>(count_));
    if (static_cast<double>(want) < p * static_cast<double>(count_)) ++want;
    want = std::max<uint64_t>(want, 1);
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= want) {
            // Bucket i holds [2^i, 2^(i+1)) us; its upper bound, but never above the largest
            // sample.
            const uint64_t upper = (uint64_t{2} << i) * 1000;
            return std::min(upper, max_);
        }
    }
    return max_;
}

nl::OpStats LatencyHistogram::snapshot(const std::string& name) const {
    nl::OpStats s;
    s.name = name;
    s.count = count_;
    s.failed = failed_;
    s.sum_ns = sum_;
    s.min_ns = min_;
    s.max_ns = max_;
    s.p50_ns = percentile(0.50);
    s.p99_ns = percentile(0.99);
    s.buckets.assign(buckets_.begin(), buckets_.end());
    return s;
}

std::vector<nl::OpStats> StatsTable::snapshot() const {
    std::vector<nl::OpStats> out;
    out.reserve(table_.size());
    for (const auto& [name, h] : table_) out.push_back(h.snapshot(name));
    return out;
}

}  // namespace prfence::daemon
