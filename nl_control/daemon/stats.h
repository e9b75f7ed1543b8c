// SPDX-License-Identifier: MIT
// Latency statistics per operation: a log2-microsecond histogram (family.h, kHistBuckets) with
// count, failures, sum, min and max. Percentiles are read from the histogram (a bucket's upper
// bound), which costs nothing per sample and keeps memory fixed however long the daemon runs. Not
// thread-safe: the control thread owns it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nl_control/protocol/message.h"

namespace prfence::daemon {

class LatencyHistogram {
  public:
    void record(uint64_t ns, bool failed);
    // The bucket of `ns`: floor(log2(us)), 0 below 2 us, the last bucket for everything beyond.
    static size_t bucket(uint64_t ns);
    // The upper bound of the bucket holding the p-quantile (0 < p <= 1), nanoseconds; 0 when empty.
    uint64_t percentile(double p) const;
    nl::OpStats snapshot(const std::string& name) const;
    uint64_t count() const { return count_; }

  private:
    std::array<uint64_t, nl::kHistBuckets> buckets_{};
    uint64_t count_ = 0, failed_ = 0, sum_ = 0, min_ = 0, max_ = 0;
};

// Histograms by name ("fence", "keys", ..., "control").
class StatsTable {
  public:
    void record(const std::string& name, uint64_t ns, bool failed) {
        table_[name].record(ns, failed);
    }
    std::vector<nl::OpStats> snapshot() const;
    void reset() { table_.clear(); }

  private:
    std::map<std::string, LatencyHistogram> table_;
};

}  // namespace prfence::daemon
