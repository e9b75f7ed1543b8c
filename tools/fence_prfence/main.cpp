// SPDX-License-Identifier: MIT
// fence_prfence: prfence as a Pacemaker fence agent. Parameters come on stdin (the fencer) or argv
// (people); run as fence_prfence_check, it is a watchdog(8) test binary. main reads the input,
// picks the back end and prints what the action said.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "tools/fence_prfence/actions.h"

namespace {

using namespace prfence;

// Reads all of stdin, but never much more than the agent accepts: a caller feeding an endless
// stream gets the truncation error, not an agent that never returns.
std::string read_stdin() {
    std::string in;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n > 0) {
            in.append(buf, static_cast<size_t>(n));
            if (in.size() > 4 * agent::kMaxStdin) break;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    return in;
}

std::unique_ptr<agent::Backend> backend_for(const agent::AgentArgs& a) {
    if (!a.group.empty()) return agent::daemon_backend(a);
    if (!a.devices.empty()) return agent::direct_backend(a);
    return nullptr;
}

int finish(const agent::Io& io, int rc) {
    std::fwrite(io.out.data(), 1, io.out.size(), stdout);
    std::fwrite(io.err.data(), 1, io.err.size(), stderr);
    return rc;
}

int check_main(int argc, char** argv, agent::Clock::time_point started) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string key_file;
    // Both spellings: `--key-file=PATH` left in place would fall back to the default key file and
    // pass every test of a node whose key lives elsewhere.
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i].starts_with("--key-file=")) {
            key_file = args[i].substr(std::strlen("--key-file="));
            args.erase(args.begin() + static_cast<long>(i));
            break;
        }
        if (args[i] == "--key-file" && i + 1 < args.size()) {
            key_file = args[i + 1];
            args.erase(args.begin() + static_cast<long>(i),
                       args.begin() + static_cast<long>(i) + 2);
            break;
        }
    }
    std::ifstream f(agent::args_file_path(key_file));
    std::string saved((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    agent::Io io;
    if (saved.empty()) return finish(io, agent::run_check(args, {}, nullptr, started, io));
    auto parsed = agent::parse_stdin("action=status\n" + saved);
    if (!parsed) {
        io.err += "fence_prfence_check: " + agent::args_file_path(key_file) + ": " +
                  parsed.error().msg + "\n";
        return finish(io, agent::run_check(args, {}, nullptr, started, io));
    }
    parsed->key_file = key_file;
    auto be = backend_for(*parsed);
    return finish(io, agent::run_check(args, *parsed, be.get(), started, io));
}

}  // namespace

int main(int argc, char** argv) {
    const auto started = agent::Clock::now();
    const char* slash = std::strrchr(argv[0], '/');
    const std::string self = slash ? slash + 1 : argv[0];
    if (self.starts_with("fence_prfence_check")) return check_main(argc, argv, started);

    auto parsed = argc > 1 ? agent::parse_argv(argc, argv) : agent::parse_stdin(read_stdin());
    if (!parsed) {
        std::fprintf(stderr, "fence_prfence: %s\n", parsed.error().msg.c_str());
        return 1;
    }
    if (parsed->help) {
        std::fputs(agent::usage_text().c_str(), stdout);
        return 0;
    }
    if (parsed->version) {
        std::puts("fence_prfence " PRFENCE_VERSION);
        return 0;
    }
    auto be = backend_for(*parsed);
    agent::Io io;
    return finish(io, agent::run_action(*parsed, be.get(), started, io));
}
