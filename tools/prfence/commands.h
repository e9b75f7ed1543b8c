// SPDX-License-Identifier: MIT
// Subcommand registration for the prfence CLI. Each add_* attaches a CLI11 subcommand and, when that
// subcommand is chosen, sets the runner that main calls after parsing; the runner returns the exit code
// (sg3_utils categories, see wire/status.h).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace prfence::cli {

using Runner = std::function<int()>;

void add_decode(CLI::App& app, Runner& run);
// keys, reservation, caps, status, register, unregister, reserve, release, clear, preempt, move,
// replace-lost, fence, takeover.
void add_direct(CLI::App& app, Runner& run);

}  // namespace prfence::cli
