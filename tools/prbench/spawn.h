// SPDX-License-Identifier: MIT
// Running one external command the way a shell loop or fence_scsi does, and timing it from fork to
// exit on the monotonic clock (posix_spawn, then waitpid). Its stdout and stderr are kept in memory
// (an anonymous file) so that a failure can be shown.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prfence::bench {

struct SpawnResult {
    int exit_code =
        -1;  // the process's exit status; 128 + N when killed by signal N; -1 if not started
    uint64_t start_ns = 0;  // prfence::engine::now_ns() before posix_spawn
    uint64_t end_ns = 0;    // after waitpid returned
    std::string output;     // stdout and stderr, interleaved (at most 64 KiB)
    std::string error;      // why it could not be started ("" when it ran)
    uint64_t elapsed_ns() const { return end_ns - start_ns; }
};

// Runs argv[0] (searched in PATH) with argv and `env` (nullptr: this process's environment); waits
// for it.
SpawnResult spawn_and_wait(const std::vector<std::string>& argv,
                           const std::vector<std::string>* env = nullptr);

// Parses `env -0` output (NAME=VALUE entries separated by NUL bytes).
std::vector<std::string> parse_env0(const std::string& text);

// Splits a command prefix as a shell would for plain words: whitespace separates, single and double
// quotes group, no expansions. Used for --baseline-wrap.
std::vector<std::string> split_words(const std::string& text);

// Finds `name` in PATH (or returns it when it contains a '/' and is executable); "" when absent.
std::string find_executable(const std::string& name);

}  // namespace prfence::bench
