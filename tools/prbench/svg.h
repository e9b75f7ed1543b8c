// SPDX-License-Identifier: MIT
// prbench --plot FILE.svg: two charts drawn by hand (no plotting library): the latency CDF per
// backend (log x axis in microseconds) and the fence wall time against the number of LUNs
// (log-log), with axis labels, a legend and a title that says what is plotted, so the picture reads
// without the numbers.
#pragma once

#include <string>
#include <vector>

#include "tools/prbench/bench.h"

namespace prfence::bench {

std::string render_svg(const std::vector<Measurement>& results, const std::string& subtitle);

// "1 us", "10 us", "1 ms", "1 s" for a power of ten of microseconds; "" otherwise.
std::string us_tick_label(double us);

}  // namespace prfence::bench
