// SPDX-License-Identifier: MIT
// The matrix run() works through: its cells, in run order, and the skip rules that keep a backend
// from a cell it cannot run (the rule's text is the skipped Measurement's note).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/prbench/bench.h"

namespace prfence::bench {

// One cell of the matrix.
struct Cell {
    Workload workload = Workload::op;
    std::string op;  // op workload: the operation; else "fence" / "takeover"
    size_t n = 0;    // the first n LUs
    Backend backend = Backend::uring;
    unsigned qd = 1;
};

// Every cell, in run order: workload (and, for op, each operation), N, backend, concurrency. N 0 is
// every LU, and N is capped at the LUs given. Backends that sweep concurrency run at each --qd (0:
// N; capped at N; repeats dropped), the others at 1.
std::vector<Cell> plan(const Config& cfg);

// Why `cell` is not run, by the first skip rule that concerns its backend and workload and holds;
// nullopt when none does. `sim`: prsim LUs among the cell's; `have_b`: every LU given has a node B
// path. The tool rules look for the configured sg_persist and fence_scsi in PATH.
std::optional<std::string> skip_reason(const Config& cfg, const Cell& cell, bool sim, bool have_b);

// Whether a process whose /proc/PID/comm is `comm` runs, looking under `proc_root` (/proc).
bool process_running(const std::string& proc_root, std::string_view comm);

}  // namespace prfence::bench
