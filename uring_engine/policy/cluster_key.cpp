// SPDX-License-Identifier: MIT
#include "uring_engine/policy/cluster_key.h"

#include <fcntl.h>
#include <nettle/md5.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"

extern char** environ;

namespace prfence::cluster {

namespace {

// The first 16 bits of md5(text): fence_scsi's "%.4s" of the hex digest.
uint32_t md5_prefix16(std::string_view text) {
    md5_ctx ctx;
    md5_init(&ctx);
    md5_update(&ctx, text.size(), reinterpret_cast<const uint8_t*>(text.data()));
    uint8_t digest[MD5_DIGEST_SIZE];
    md5_digest(&ctx, sizeof digest, digest);
    return (uint32_t{digest[0]} << 8) | digest[1];
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// Calls f(line) for each line of `text` (without its newline).
template <class F>
void for_each_line(std::string_view text, F&& f) {
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        f(line);
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
}

std::string base_name(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

int64_t now_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// posix_spawn's file actions and attributes, destroyed on every path out.
struct SpawnSetup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnSetup() {
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawnattr_init(&attr);
    }
    ~SpawnSetup() {
        ::posix_spawn_file_actions_destroy(&actions);
        ::posix_spawnattr_destroy(&attr);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::string first_line(std::string_view text) {
    text = trim(text);
    size_t nl = text.find('\n');
    return std::string(trim(text.substr(0, nl)));
}

}  // namespace

std::string key_text(uint64_t key) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(key));
    return buf;
}

Result<uint64_t> hash_key(std::string_view cluster_name, std::string_view node) {
    const uint64_t key = (uint64_t{md5_prefix16(cluster_name)} << 16) | md5_prefix16(node);
    if (key == 0)
        return fail(Errc::invalid_argument, "the hash key of node '" + std::string(node) +
                                                "' in cluster '" + std::string(cluster_name) +
                                                "' is 0, which is not a usable key");
    return key;
}

Result<uint64_t> id_key(std::string_view cluster_name, std::string_view node,
                        std::string_view nodelist) {
    // fence_scsi searches for `.(\d+).name \(str\) = NODE\n`: the position in
    // nodelist.node.N.name with the name matched whole, so "node-a" is not found in "node-aa".
    static constexpr std::string_view kPrefix = "nodelist.node.";
    static constexpr std::string_view kInfix = ".name (str) = ";
    std::string position;
    for_each_line(nodelist, [&](std::string_view line) {
        if (!position.empty()) return;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.starts_with(kPrefix)) return;
        std::string_view rest = line.substr(kPrefix.size());
        size_t digits = 0;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
        if (digits == 0 || !rest.substr(digits).starts_with(kInfix)) return;
        if (rest.substr(digits + kInfix.size()) != node) return;
        position = std::string(rest.substr(0, digits));
    });
    if (position.empty())
        return fail(Errc::not_found, "node '" + std::string(node) +
                                         "' is not in corosync's nodelist (no nodelist.node.N.name "
                                         "with that value); key_value=hash or key= do not need it");
    // "%.4d": at least four decimal digits, which fence_scsi then reads as hex.
    while (position.size() > 1 && position.front() == '0') position.erase(0, 1);
    if (position.size() < 4) position.insert(0, 4 - position.size(), '0');
    char prefix[5];
    std::snprintf(prefix, sizeof prefix, "%04x", md5_prefix16(cluster_name));
    const std::string text = std::string(prefix) + position;
    auto key = parse_hex_u64(text);
    if (!key)
        return fail(Errc::invalid_argument, "node '" + std::string(node) + "' at position " +
                                                position + " gives a key too long for 64 bits");
    if (*key == 0)
        return fail(Errc::invalid_argument, "the id key of node '" + std::string(node) +
                                                "' in cluster '" + std::string(cluster_name) +
                                                "' is 0, which is not a usable key");
    return *key;
}

Result<std::string> parse_cluster_name(std::string_view cmapctl_output) {
    static constexpr std::string_view kPrefix = "totem.cluster_name (str) = ";
    std::string name;
    bool found = false;
    for_each_line(cmapctl_output, [&](std::string_view line) {
        if (found || !line.starts_with(kPrefix)) return;
        std::string_view value = line.substr(kPrefix.size());
        // fence_scsi takes `\S+`: the name up to the first white space.
        size_t end = value.find_first_of(" \t\r");
        value = value.substr(0, end);
        if (value.empty()) return;
        name = std::string(value);
        found = true;
    });
    if (!found)
        return fail(
            Errc::malformed,
            "no 'totem.cluster_name (str) = NAME' line in corosync-cmapctl's output: " +
                (cmapctl_output.empty() ? std::string("(empty)") : first_line(cmapctl_output)));
    return name;
}

Result<std::string> run_cmapctl(const std::string& cmapctl_path, const std::string& key) {
    return run_cmapctl(cmapctl_path, key, kCmapctlTimeout);
}

Result<std::string> run_cmapctl(const std::string& cmapctl_path, const std::string& key,
                                std::chrono::milliseconds timeout) {
    const std::string prog = base_name(cmapctl_path);
    if (cmapctl_path.empty()) return fail(Errc::invalid_argument, "corosync-cmapctl: empty path");
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) return fail_errno("pipe for ", prog);
    UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) return fail_errno("pipe for ", prog);
    UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

    SpawnSetup setup;
    ::posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&setup.actions, out_w.get(), 1);
    ::posix_spawn_file_actions_adddup2(&setup.actions, err_w.get(), 2);
    // The agent may run with signals blocked or ignored (the fencer's child, a test harness); the
    // program gets the defaults.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    ::posix_spawnattr_setsigmask(&setup.attr, &none);
    ::posix_spawnattr_setsigdefault(&setup.attr, &defaults);
    ::posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::string arg0 = cmapctl_path, arg1 = key;
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    pid_t pid = -1;
    const bool search = cmapctl_path.find('/') == std::string::npos;
    const int rc =
        search ? ::posix_spawnp(&pid, arg0.c_str(), &setup.actions, &setup.attr, argv, environ)
               : ::posix_spawn(&pid, arg0.c_str(), &setup.actions, &setup.attr, argv, environ);
    if (rc == ENOENT)
        return fail_with_errno(Errc::not_found, rc, cmapctl_path,
                               " (is corosync installed? corosync_cmap_path names another "
                               "location)");
    if (rc != 0) return fail_with_errno(rc, "cannot run ", cmapctl_path);
    out_w.reset();
    err_w.reset();

    std::string out, err;
    bool oversize = false, timed_out = false;
    const int64_t end = now_ms() + timeout.count();
    char buf[65536];
    while (out_r || err_r) {
        pollfd fds[2];
        nfds_t n = 0;
        if (out_r) fds[n++] = {out_r.get(), POLLIN, 0};
        if (err_r) fds[n++] = {err_r.get(), POLLIN, 0};
        const int64_t left = end - now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        const int pr = ::poll(fds, n, static_cast<int>(left));
        if (pr < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            return fail_with_errno(e, "poll on ", prog, "'s output");
        }
        for (nfds_t i = 0; i < n; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const bool is_out = fds[i].fd == out_r.get();
            ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                (is_out ? out_r : err_r).reset();
                continue;
            }
            if (is_out) {
                out.append(buf, static_cast<size_t>(got));
                if (out.size() > kMaxCmapctlOutput) oversize = true;
            } else if (err.size() < 4096) {
                err.append(buf, static_cast<size_t>(got));
            }
        }
        if (oversize) break;
    }
    int status = 0;
    if (timed_out || oversize) ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return fail_errno("waitpid for ", prog);
    }
    const std::string what = prog + " " + key;
    if (timed_out)
        return fail(Errc::timeout,
                    what + ": no answer within " + std::to_string(timeout.count()) + " ms; killed");
    if (oversize)
        return fail(Errc::too_small, what + ": printed more than " +
                                         std::to_string(kMaxCmapctlOutput) + " bytes; killed");
    const std::string detail = err.empty() ? "" : ": " + first_line(err);
    if (WIFSIGNALED(status))
        return fail(Errc::io,
                    what + " was killed by signal " + std::to_string(WTERMSIG(status)) + detail);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return fail(Errc::io, what + " exited with " + std::to_string(WEXITSTATUS(status)) +
                                  detail + " (is corosync running?)");
    return out;
}

Result<std::string> query_cluster_name(const std::string& cmapctl_path) {
    PRF_TRY_ASSIGN(std::string out, run_cmapctl(cmapctl_path, "totem.cluster_name"));
    return parse_cluster_name(out);
}

Result<uint64_t> derive_key(KeyMethod method, std::string_view node,
                            const std::string& cmapctl_path,
                            const std::optional<std::string>& cluster_name) {
    const std::string ctx = "key for node '" + std::string(node) + "'";
    if (node.empty()) return fail(Errc::invalid_argument, ctx + ": no node name");
    std::string name;
    if (cluster_name) {
        name = *cluster_name;
    } else {
        auto q = query_cluster_name(cmapctl_path);
        if (!q) return fail(std::move(q).error().with_context(ctx));
        name = std::move(q).value();
    }
    if (method == KeyMethod::hash) return std::move(hash_key(name, node)).context(ctx);
    auto nodelist = run_cmapctl(cmapctl_path, "nodelist");
    if (!nodelist) return fail(std::move(nodelist).error().with_context(ctx));
    return std::move(id_key(name, node, *nodelist)).context(ctx);
}

namespace {

// One key file: Errc::not_found when it does not exist, so that the caller can fall back.
Result<uint64_t> read_one_key_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return fail_errno(Errc::not_found, path);
        return fail_errno(path);
    }
    std::string text;
    char buf[256];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read ", path);
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        // A key file is one short line; anything longer is not one.
        if (text.size() > 4096) break;
    }
    const std::string line(trim(text.substr(0, text.find('\n'))));
    if (line.empty()) return fail(Errc::malformed, path + ": empty, expected a key in hex");
    auto key = parse_hex_u64(line);
    if (!key) return fail(Errc::malformed, path + ": not a key: " + std::move(key).error().msg);
    if (*key == 0) return fail(Errc::malformed, path + ": key 0 is not a usable key");
    return *key;
}

Result<void> make_dirs(const std::string& dir) {
    if (dir.empty() || dir == "/") return {};
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return {};
        return fail(Errc::invalid_argument, dir + ": not a directory");
    }
    size_t slash = dir.rfind('/');
    if (slash != std::string::npos && slash > 0) PRF_TRY(make_dirs(dir.substr(0, slash)));
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("mkdir ", dir);
    return {};
}

}  // namespace

Result<uint64_t> read_first_key_file(const std::vector<std::string>& paths) {
    std::string tried;
    for (const auto& p : paths) {
        auto key = read_one_key_file(p);
        if (key || key.error().code != Errc::not_found) return key;
        if (!tried.empty()) tried += ", ";
        tried += key.error().msg;
    }
    return fail(Errc::not_found, "no key file (has this node been unfenced?): " + tried);
}

Result<uint64_t> read_key_file(const std::string& path) {
    if (path.empty()) return read_first_key_file({kKeyFile, kOldKeyFile});
    return read_first_key_file({path});
}

Result<void> write_key_file(const std::string& path_in, uint64_t key) {
    const std::string path = path_in.empty() ? std::string(kKeyFile) : path_in;
    if (key == 0) return fail(Errc::invalid_argument, path + ": key 0 is not a usable key");
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    PRF_TRY(make_dirs(dir));
    // A reader (the watchdog hook, a concurrent `off`) sees the old file or the new one, never a
    // half-written one.
    std::string tmp = path + ".XXXXXX";
    UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (!fd) return fail_errno("create ", tmp);
    const std::string text = key_text(key) + "\n";
    auto cleanup_fail = [&](Unexpected u) {
        ::unlink(tmp.c_str());
        return u;
    };
    if (::fchmod(fd.get(), 0644) != 0) return cleanup_fail(fail_errno("chmod ", tmp));
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return cleanup_fail(fail_errno("write ", tmp));
    if (::fsync(fd.get()) != 0) return cleanup_fail(fail_errno("fsync ", tmp));
    if (::close(fd.release()) != 0) return cleanup_fail(fail_errno("close ", tmp));
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return cleanup_fail(fail_errno("rename ", tmp, " to ", path));
    return {};
}

}  // namespace prfence::cluster
