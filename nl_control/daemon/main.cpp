// SPDX-License-Identifier: MIT
// prfenced: holds LUN groups open and fences on request through its control socket. Everything but
// option parsing and logging lives in prfenced_core (daemon/daemon.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "nl_control/daemon/config.h"
#include "nl_control/daemon/daemon.h"

int main(int argc, char** argv) {
    using namespace prfence;
    // Before any thread exists, so that every thread inherits the mask and only the signalfd sees
    // them.
    if (auto s = daemon::block_daemon_signals(); !s) {
        std::fprintf(stderr, "prfenced: %s\n", s.error().msg.c_str());
        return 1;
    }
    CLI::App app{
        "prfenced: keeps LUN groups open and fences them on request (control socket, netlink "
        "format)",
        "prfenced"};
    app.set_version_flag("-V,--version", std::string("prfenced ") + PRFENCE_VERSION);
    daemon::DaemonOptions opt;
    std::string group, mode;
    int realtime = 0;
    unsigned busy_poll_us = static_cast<unsigned>(opt.busy_poll.count());
    app.add_option("--socket", opt.socket_path,
                   "Control socket path (default: the config's, else /run/prfence/control.sock)");
    app.add_option("--config", opt.config_path,
                   "JSON configuration; groups created through the socket are saved here");
    app.add_option("--socket-group", group,
                   "Group (name or number) whose members may act besides root");
    app.add_option("--socket-mode", mode, "Socket permissions, octal (default 0660)");
    app.add_option("--realtime", realtime,
                   "Run the control and engine threads SCHED_FIFO at this priority (1-99) with "
                   "memory locked, "
                   "as corosync does (needs CAP_SYS_NICE and CAP_IPC_LOCK)")
        ->check(CLI::Range(1, 99));
    app.add_option("--busy-poll-us", busy_poll_us,
                   "Keep polling the control socket this long after each request before sleeping "
                   "(default 100; 0 = never)")
        ->check(CLI::Range(0u, 1000000u));
    CLI11_PARSE(app, argc, argv);
    if (!group.empty()) opt.socket_group = group;
    if (!mode.empty()) {
        auto m = daemon::parse_mode(mode);
        if (!m) {
            std::fprintf(stderr, "prfenced: --socket-mode: %s\n", m.error().msg.c_str());
            return 2;
        }
        opt.socket_mode = *m;
    }
    opt.busy_poll = std::chrono::microseconds(busy_poll_us);
    if (realtime) {
        if (auto s = daemon::make_realtime(realtime); !s) {
            std::fprintf(stderr, "prfenced: --realtime %d: %s\n", realtime, s.error().msg.c_str());
            return 1;
        }
    }
    opt.handle_signals = true;
    opt.version = PRFENCE_VERSION;
    // One line per event, unbuffered: under systemd stderr goes to the journal.
    opt.log = [](const std::string& line) { std::fprintf(stderr, "prfenced: %s\n", line.c_str()); };

    auto d = daemon::Daemon::create(std::move(opt));
    if (!d) {
        std::fprintf(stderr, "prfenced: %s\n", d.error().msg.c_str());
        return 1;
    }
    auto st = (*d)->run();
    if (!st) {
        std::fprintf(stderr, "prfenced: %s\n", st.error().msg.c_str());
        return 1;
    }
    std::fprintf(stderr, "prfenced: stopped\n");
    return 0;
}
