// SPDX-License-Identifier: MIT
#include "tools/prbench/spawn.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "uring_engine/transport/transport.h"

extern char** environ;

namespace prfence::bench {

SpawnResult spawn_and_wait(const std::vector<std::string>& argv,
                           const std::vector<std::string>* env) {
    SpawnResult r;
    if (argv.empty()) {
        r.error = "empty command";
        return r;
    }
    int out = memfd_create("prbench-out", MFD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out, 1);
        posix_spawn_file_actions_adddup2(&fa, out, 2);
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    if (env) {
        for (const auto& e : *env) envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
    }
    pid_t pid = -1;
    r.start_ns = prfence::engine::now_ns();
    const int e =
        posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), env ? envp.data() : environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        r.end_ns = prfence::engine::now_ns();
        r.error = argv[0] + ": " + std::strerror(e);
        if (out >= 0) close(out);
        return r;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.end_ns = prfence::engine::now_ns();
    r.exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                  : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                        : -1;
    if (out >= 0) {
        char buf[4096];
        ssize_t got;
        off_t off = 0;
        while (r.output.size() < 65536 && (got = pread(out, buf, sizeof buf, off)) > 0) {
            r.output.append(buf, static_cast<size_t>(got));
            off += got;
        }
        close(out);
    }
    return r;
}

std::vector<std::string> parse_env0(const std::string& text) {
    std::vector<std::string> v;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\0', start);
        if (end == std::string::npos) end = text.size();
        std::string e = text.substr(start, end - start);
        if (e.find('=') != std::string::npos) v.push_back(std::move(e));
        start = end + 1;
    }
    return v;
}

std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    char quote = 0;
    for (char c : text) {
        if (quote) {
            if (c == quote)
                quote = 0;
            else
                cur += c;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) words.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(std::move(cur));
    return words;
}

std::string find_executable(const std::string& name) {
    if (name.empty()) return {};
    if (name.find('/') != std::string::npos)
        return access(name.c_str(), X_OK) == 0 ? name : std::string();
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find(':', start);
        if (end == std::string::npos) end = p.size();
        std::string dir = p.substr(start, end - start);
        if (dir.empty()) dir = ".";
        std::string cand = dir + "/" + name;
        if (access(cand.c_str(), X_OK) == 0) return cand;
        start = end + 1;
    }
    return {};
}

}  // namespace prfence::bench
