// SPDX-License-Identifier: MIT
// Subcommand registration for the prfence CLI. Each add_* attaches a CLI11 subcommand and, when
// that subcommand is chosen, sets the runner that main calls after parsing; the runner returns the
// exit code (sg3_utils categories, see wire/status.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/policy/operations.h"

namespace CLI {
class App;
}

namespace prfence::cli {

using Runner = std::function<int()>;

void add_decode(CLI::App& app, Runner& run);
// One subcommand per engine::Operation (uring_engine/model/operation.h names them: keys,
// reservation, caps, status, register, unregister, reserve, release, clear, preempt, move,
// replace-lost, fence, takeover, probe). When `chosen` names one of them, only that one is
// registered: building every subcommand's options costs more than a fence's batch on a slow
// machine, and a failover tool is started once per event. Otherwise (help, errors) all are. With
// `daemon_socket` set (prfence --daemon[=SOCKET]), the same subcommands run through prfenced: their
// positional argument names a group instead of devices, and the output is the same.
void add_direct(CLI::App& app, Runner& run, std::string_view chosen = {},
                const std::optional<std::string>* daemon_socket = nullptr);
bool is_direct_subcommand(std::string_view name);

// The first argument that is not an option: the subcommand the user asked for, or empty.
std::string_view chosen_subcommand(int argc, char** argv);

// Daemon mode (daemon_mode.cpp).
struct DaemonRunOptions {
    std::vector<std::string> groups;  // the positional arguments: exactly one group name
    bool json = false;
    bool failures_only = false;
    std::optional<uint32_t> deadline_ms;
    std::optional<uint32_t> qd;
};
// Runs `spec` on a group through prfenced at `socket` and prints it like direct mode; returns the
// exit code (worst LUN's category; 1 for a refused request, 15 when the daemon or group is not
// there).
int run_via_daemon(const std::string& socket, const std::string& op, const engine::OpSpec& spec,
                   const DaemonRunOptions& o);
// group create|add|remove|delete|refresh|list, health, stats, events, ping: only with --daemon.
void add_daemon_only(CLI::App& app, Runner& run, const std::optional<std::string>& socket);

// `--daemon` and `--daemon=SOCKET` before the subcommand: removed from argv (CLI11 cannot take an
// optional value without swallowing the subcommand's name) and returned.
std::optional<std::string> take_daemon_option(int& argc, char** argv);

}  // namespace prfence::cli
