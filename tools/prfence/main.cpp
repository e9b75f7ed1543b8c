// SPDX-License-Identifier: MIT
// prfence: the operator CLI. Each subcommand lives in its own file and registers itself here; main
// only parses and dispatches, so every behaviour is testable through the subcommand functions.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "tools/prfence/commands.h"

int main(int argc, char** argv) {
    CLI::App app{
        "prfence: batched SCSI persistent-reservation fencing\n"
        "  --daemon[=SOCKET] before the subcommand: run it through prfenced (default socket "
        "/run/prfence/control.sock);\n"
        "  the subcommand then names a LUN group instead of devices.",
        "prfence"};
    app.set_version_flag("-V,--version", "prfence " PRFENCE_VERSION);
    app.require_subcommand(1);
    prfence::cli::Runner run;
    const std::optional<std::string> daemon = prfence::cli::take_daemon_option(argc, argv);
    const auto chosen = prfence::cli::chosen_subcommand(argc, argv);
    const bool direct = prfence::cli::is_direct_subcommand(chosen);
    if (!direct) {
        prfence::cli::add_decode(app, run);
        prfence::cli::add_daemon_only(app, run, daemon);
    }
    prfence::cli::add_direct(app, run, chosen, &daemon);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // sg3_utils convention: 1 = syntax error (CLI11 returns 0 for --help/--version).
        int rc = app.exit(e);
        return rc == 0 ? 0 : 1;
    }
    return run ? run() : 1;
}
