// SPDX-License-Identifier: MIT
// prfence: the operator CLI. Each subcommand lives in its own file and registers itself here; main only
// parses and dispatches, so every behaviour is testable through the subcommand functions.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "prfence/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"prfence: batched SCSI persistent-reservation fencing", "prfence"};
    app.set_version_flag("-V,--version", "prfence " PRFENCE_VERSION);
    app.require_subcommand(1);
    prfence::cli::Runner run;
    const auto chosen = prfence::cli::chosen_subcommand(argc, argv);
    if (!prfence::cli::is_direct_subcommand(chosen)) prfence::cli::add_decode(app, run);
    prfence::cli::add_direct(app, run, chosen);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // sg3_utils convention: 1 = syntax error (CLI11 returns 0 for --help/--version).
        int rc = app.exit(e);
        return rc == 0 ? 0 : 1;
    }
    return run ? run() : 1;
}
