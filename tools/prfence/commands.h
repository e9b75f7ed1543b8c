// SPDX-License-Identifier: MIT
// Subcommand registration for the prfence CLI. Each add_* attaches a CLI11 subcommand and, when that
// subcommand is chosen, sets the runner that main calls after parsing; the runner returns the exit code
// (sg3_utils categories, see wire/status.h).
#pragma once

#include <functional>
#include <string_view>

namespace CLI {
class App;
}

namespace prfence::cli {

using Runner = std::function<int()>;

void add_decode(CLI::App& app, Runner& run);
// keys, reservation, caps, status, register, unregister, reserve, release, clear, preempt, move,
// replace-lost, fence, takeover. When `chosen` names one of them, only that one is registered: building
// every subcommand's options costs more than a fence's batch on a slow machine, and a failover tool is
// started once per event. Otherwise (help, errors) all are.
void add_direct(CLI::App& app, Runner& run, std::string_view chosen = {});
bool is_direct_subcommand(std::string_view name);

// The first argument that is not an option: the subcommand the user asked for, or empty.
std::string_view chosen_subcommand(int argc, char** argv);

}  // namespace prfence::cli
