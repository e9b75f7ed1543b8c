// SPDX-License-Identifier: MIT
// prsim-run: runs an unmodified program with prsim's LUs as SCSI devices (libprinterpose.so).
// It only sets PRSIM_* and LD_PRELOAD and execs the command, so it costs one exec: benchmarks
// (prbench) time the command, not the wrapper. Contract: interposer/shim/README.md.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr const char* kUsage =
    "usage: prsim-run [-h|--help] [-V|--version]\n       prsim-run [--socket SOCK] [--initiator "
    "TRANSPORTID] [--target-port N] [--prefix DIR]\n"
    "                 [--hostnqn NQN] [--hostid UUID] [--map FILE] [--redirect FROM=TO]...\n"
    "                 [--timeout-ms MS] -- COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND with libprinterpose.so preloaded: PREFIX/sgN is the sg node of prsim LU N and\n"
    "PREFIX/sdX its disk (sda = LU 0, sdz = 25, sdaa = 26, ...), PREFIX being /dev/prsim by\n"
    "default (PREFIX/nvme0nN: NVMe namespace N, PREFIX/nvme0: its controller). Children of\n"
    "COMMAND inherit it. Each option sets the environment variable named:\n"
    "  --socket SOCK        PRSIM_SOCKET       prsim's Unix socket (required)\n"
    "  --initiator TID      PRSIM_INITIATOR    this process's initiator port, as prfence "
    "--initiator\n"
    "                                          (default iqn.2026-11.io.prfence:prsim-run,i,0x1)\n"
    "  --target-port N      PRSIM_TARGET_PORT  relative target port (default 1)\n"
    "  --hostnqn NQN        PRSIM_HOSTNQN      this process's NVMe host NQN\n"
    "  --hostid UUID        PRSIM_HOSTID       its NVMe host identifier (default: from the NQN)\n"
    "  --prefix DIR         PRSIM_PREFIX       directory of the virtual names (default "
    "/dev/prsim)\n"
    "  --map FILE           PRSIM_MAP          further names: `PATH LU [sg|disk]`, `PATH NSID "
    "nvme`\n"
    "  --redirect FROM=TO   PRSIM_REDIRECT     open/stat/access of paths starting FROM use TO\n"
    "                                          (fence_scsi's /var/run/cluster.key without root)\n"
    "  --timeout-ms MS      PRSIM_TIMEOUT_MS   cap on every command's timeout\n"
    "The library is PRSIM_SHIM_LIB if set, else libprinterpose.so next to prsim-run, else the\n"
    "installed one.\n";

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "prsim-run: %s\n", msg.c_str());
    std::exit(2);
}

std::string absolute(const std::string& p) {
    if (p.empty() || p[0] == '/') return p;
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) die(std::string("getcwd: ") + std::strerror(errno));
    return std::string(cwd) + "/" + p;
}

bool is_file(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string find_library() {
    if (const char* l = ::getenv("PRSIM_SHIM_LIB"); l && *l) {
        if (!is_file(l)) die(std::string("PRSIM_SHIM_LIB=") + l + " does not exist");
        return absolute(l);
    }
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) die("cannot find my own path in /proc/self/exe");
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.rfind('/'));
    for (const std::string& cand :
         {dir + "/libprinterpose.so", dir + "/" PRSIM_RUN_LIB_FROM_SBIN "/libprinterpose.so"}) {
        char real[PATH_MAX];
        if (is_file(cand) && ::realpath(cand.c_str(), real)) return real;
    }
    die("libprinterpose.so not found next to " + std::string(self) + " (set PRSIM_SHIM_LIB)");
}

void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

}  // namespace

int main(int argc, char** argv) {
    int i = 1;
    std::string redirect = ::getenv("PRSIM_REDIRECT") ? ::getenv("PRSIM_REDIRECT") : "";
    for (; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a == "-V" || a == "--version") {
            std::fputs("prsim-run " PRFENCE_VERSION "\n", stdout);
            return 0;
        }
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (a.size() < 2 || a[0] != '-') break;  // the command
        std::string name(a), value;
        if (auto eq = a.find('='); eq != std::string_view::npos) {
            name = std::string(a.substr(0, eq));
            value = std::string(a.substr(eq + 1));
        } else {
            if (i + 1 >= argc) die(name + " needs a value");
            value = argv[++i];
        }
        if (name == "--socket") {
            set("PRSIM_SOCKET", absolute(value));
        } else if (name == "--initiator") {
            set("PRSIM_INITIATOR", value);
        } else if (name == "--target-port") {
            char* end = nullptr;
            long p = std::strtol(value.c_str(), &end, 10);
            if (value.empty() || *end || p < 1 || p > 65535)
                die("--target-port must be 1-65535, not '" + value + "'");
            set("PRSIM_TARGET_PORT", value);
        } else if (name == "--hostnqn") {
            set("PRSIM_HOSTNQN", value);
        } else if (name == "--hostid") {
            set("PRSIM_HOSTID", value);
        } else if (name == "--prefix") {
            set("PRSIM_PREFIX", value);
        } else if (name == "--map") {
            set("PRSIM_MAP", absolute(value));
        } else if (name == "--redirect") {
            if (value.find('=') == std::string::npos) die("--redirect needs FROM=TO");
            redirect += (redirect.empty() ? "" : ":") + value;
        } else if (name == "--timeout-ms") {
            set("PRSIM_TIMEOUT_MS", value);
        } else {
            std::fputs(kUsage, stderr);
            die("unknown option " + name);
        }
    }
    if (i >= argc) {
        std::fputs(kUsage, stderr);
        die("no COMMAND given");
    }
    const char* sock = ::getenv("PRSIM_SOCKET");
    if (!sock || !*sock) die("--socket (or PRSIM_SOCKET) is required");
    if (!redirect.empty()) set("PRSIM_REDIRECT", redirect);
    const std::string lib = find_library();
    std::string preload = lib;
    if (const char* old = ::getenv("LD_PRELOAD"); old && *old) {
        const std::string o = old;
        if ((":" + o + ":").find(":" + lib + ":") != std::string::npos)
            preload = o;
        else
            preload += ":" + o;
    }
    set("LD_PRELOAD", preload);
    ::execvp(argv[i], argv + i);
    const int e = errno;
    std::fprintf(stderr, "prsim-run: %s: %s\n", argv[i], std::strerror(e));
    return e == ENOENT ? 127 : 126;
}
