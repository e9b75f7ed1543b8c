// SPDX-License-Identifier: MIT
// libprinterpose: configuration, owner process, the connection and the fork handlers.
#undef _FORTIFY_SOURCE
#include "interposer/shim/process.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "interposer/shim/disk_node.h"
#include "interposer/shim/fdtable.h"
#include "interposer/shim/real.h"

namespace prfence::shim {
namespace {

std::atomic<pid_t> g_pid{0};
std::mutex g_conn_mu;
Conn* g_conn = nullptr;
std::atomic<bool> g_warned{false};
std::atomic<bool> g_problem_reported{false};

const char* env_get(const char* name) { return ::getenv(name); }

bool read_whole_file(const char* path, std::string& out) {
    int fd = PRSIM_REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[4096];
    for (;;) {
        ssize_t n = PRSIM_REAL(read)(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            PRSIM_REAL(close)(fd);
            return n == 0;
        }
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > (16u << 20)) {
            PRSIM_REAL(close)(fd);
            return false;
        }
    }
}

bool path_exists(const char* path) {
    struct stat st;
    return PRSIM_REAL(lstat)(path, &st) == 0;
}

void write_stderr(const std::string& line) {
    const std::string s = line + "\n";
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = PRSIM_REAL(write)(2, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

}  // namespace

const Config& config() {
    static const Config* cfg = new Config(load_config({&env_get, &read_whole_file, &path_exists}));
    return *cfg;
}

bool owner_process() {
    pid_t p = g_pid.load(std::memory_order_relaxed);
    if (p == 0) {
        pid_t me = ::getpid();
        g_pid.compare_exchange_strong(p, me);
        return g_pid.load() == me;
    }
    return p == ::getpid();
}

void warn_once(const std::string& what) {
    if (g_warned.exchange(true)) return;
    write_stderr("prsim-shim: " + what +
                 "; prsim devices now fail like dead devices (open: ENXIO, SG_IO: "
                 "DID_NO_CONNECT, read/write: EIO)");
}

Conn* connection() {
    std::lock_guard lk(g_conn_mu);
    if (g_conn && !g_conn->dead()) return g_conn;
    const Config& cfg = config();
    // Configuration mistakes are told once, when a virtual device is first used.
    // (Without a socket the problem is the reason in warn_once's message below.)
    if (!cfg.problem.empty() && !cfg.socket.empty() && !g_problem_reported.exchange(true))
        write_stderr("prsim-shim: " + cfg.problem);
    if (g_conn) {
        // Lost: say so once, then try again (prsim may have been restarted).
        warn_once("lost the connection to prsim at " + cfg.socket + " (" + g_conn->death_reason() +
                  ")");
        g_conn = nullptr;  // the dead object stays allocated: its reader may still be unwinding
    }
    std::string err;
    Conn* c = Conn::open(cfg, err);
    if (!c) {
        warn_once(cfg.socket.empty() ? err
                                     : "cannot reach prsim at " + cfg.socket + " (" + err + ")");
        return nullptr;
    }
    g_conn = c;
    return c;
}

int clamp_timeout(int ms) {
    if (ms <= 0) ms = 60000;
    const int cap = config().max_timeout_ms;
    if (cap > 0 && ms > cap) ms = cap;
    return ms;
}

Outcome no_connection() {
    Outcome o;
    o.host = kDidNoConnect;
    return o;
}

Outcome run_command(const Command& c, UaPolicy p) {
    Conn* conn = connection();
    if (!conn) return no_connection();
    return conn->execute(c, p);
}

// Lock order: connection, capacity cache, descriptor table, handles; released in reverse.
void atfork_prepare() {
    g_conn_mu.lock();
    disk_atfork_prepare();
    fdtable_atfork_prepare();
}

void atfork_parent() {
    fdtable_atfork_parent();
    disk_atfork_release();
    g_conn_mu.unlock();
}

void atfork_child() {
    g_pid.store(::getpid());
    fdtable_atfork_child();
    if (g_conn) {
        g_conn->abandon_in_child();
        g_conn = nullptr;
    }
    g_warned.store(false);
    disk_atfork_release();
    g_conn_mu.unlock();
}

}  // namespace prfence::shim
