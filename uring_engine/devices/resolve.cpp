// SPDX-License-Identifier: MIT
#include "uring_engine/devices/resolve.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"
#include "uring_engine/devices/vpd.h"

namespace prfence::engine {

namespace {

constexpr int kMaxListDepth = 8;  // @FILE inside @FILE ...
constexpr int kMaxDmDepth = 8;    // dm map on dm map ... (a loop in a broken sysfs ends here)
constexpr size_t kMaxListBytes = 4u << 20;
constexpr size_t kMaxAttrBytes = 4096;      // a sysfs text attribute is at most a page
constexpr size_t kMaxVpdBytes = 4 + 65535;  // a VPD page: 4-byte header + 16-bit PAGE LENGTH
constexpr uint32_t kMaxSimLun = 65535;
constexpr size_t kMaxSimLuns = 65535;

// ---------------------------------------------------------------------------------------------------
// Small POSIX helpers: no exceptions, errno kept for messages.

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

bool is_dir(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// glibc's realpath() readlink()s every prefix of the path, and sysfs paths are ten components deep:
// it was 1,600 of the 3,600 system calls of resolving 64 disks. An O_PATH open (which does not open
// the device itself) and one readlink of its /proc/self/fd entry give the same answer in three
// calls.
std::optional<std::string> real_path(const std::string& p) {
    UniqueFd fd(::open(p.c_str(), O_PATH | O_CLOEXEC));
    if (!fd) return std::nullopt;
    char buf[PATH_MAX];
    char link[32];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd.get());
    ssize_t n = ::readlink(link, buf, sizeof buf);
    fd.reset();
    if (n > 0 && n < static_cast<ssize_t>(sizeof buf) && buf[0] == '/')
        return std::string(buf, static_cast<size_t>(n));
    // No /proc (a minimal container): the slow way.
    std::unique_ptr<char, decltype(&std::free)> r(::realpath(p.c_str(), nullptr), &std::free);
    if (!r) return std::nullopt;
    return std::string(r.get());
}

std::string base_name(std::string_view p) {
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    size_t s = p.rfind('/');
    return std::string(s == std::string_view::npos ? p : p.substr(s + 1));
}

std::string dir_name(std::string_view p) {
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    size_t s = p.rfind('/');
    if (s == std::string_view::npos) return ".";
    if (s == 0) return "/";
    return std::string(p.substr(0, s));
}

// `target` (a symlink's contents) read from a link in directory `dir`, with "." and ".." folded
// away as text.
std::string join_lexical(std::string_view dir, std::string_view target) {
    std::vector<std::string_view> parts;
    auto push = [&](std::string_view s) {
        while (!s.empty()) {
            size_t slash = s.find('/');
            std::string_view c = s.substr(0, slash);
            if (c == "..") {
                if (!parts.empty()) parts.pop_back();
            } else if (!c.empty() && c != ".") {
                parts.push_back(c);
            }
            if (slash == std::string_view::npos) break;
            s.remove_prefix(slash + 1);
        }
    };
    if (target.empty() || target[0] != '/') push(dir);
    push(target);
    std::string out;
    for (auto c : parts) {
        out += '/';
        out += c;
    }
    return out.empty() ? "/" : out;
}

// Where a sysfs symlink leads, for a link whose directory is canonical. The kernel's sysfs links
// are relative and lead straight to a device directory, never through another link, so joining the
// link's text to its directory gives realpath()'s answer in one readlink instead of real_path's
// three calls (an open, a readlink, a close): resolving 256 disks made a thousand calls fewer.
// nullopt when `link` is not a symlink (or does not exist).
std::optional<std::string> sysfs_link(const std::string& link) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf)) return std::nullopt;
    return join_lexical(dir_name(link), std::string_view(buf, static_cast<size_t>(n)));
}

std::string strip_trailing_slashes(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
}

// Reads at most `max` bytes; nullopt (errno set) when the file cannot be opened or read. A sysfs
// attribute comes whole in one read, so for those (`attr`) a short read is the end: one read()
// fewer per file, and resolving hundreds of disks is mostly system calls.
std::optional<std::string> read_file(const std::string& p, size_t max, bool* too_big = nullptr,
                                     bool attr = false) {
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;  // errno kept: closing does not change it
        }
        if (n == 0) break;
        size_t take = std::min(static_cast<size_t>(n), max - out.size());
        out.append(buf, take);
        if (out.size() >= max) {
            if (too_big) {
                char extra;
                *too_big = ::read(fd.get(), &extra, 1) > 0 || static_cast<size_t>(n) > take;
            }
            break;
        }
        if (attr && static_cast<size_t>(n) < sizeof buf) break;
    }
    return out;
}

std::string read_attr(const std::string& p) {
    auto s = read_file(p, kMaxAttrBytes, nullptr, true);
    if (!s) return {};
    while (!s->empty() && (s->back() == '\n' || s->back() == ' ' || s->back() == '\0'))
        s->pop_back();
    return *s;
}

// Directory entries other than "." and "..", in kernel naming order (shorter first, then by bytes:
// sdz before sdaa, dm-9 before dm-10).
std::vector<std::string> list_dir(const std::string& p) {
    std::vector<std::string> names;
    // getdents64 on a plain O_DIRECTORY fd: opendir() adds an fstat per directory.
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return names;
    alignas(8) char buf[8192];
    for (;;) {
        ssize_t n = ::getdents64(fd.get(), buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            auto* e = reinterpret_cast<const dirent64*>(buf + off);
            if (e->d_reclen == 0) break;
            std::string_view name(e->d_name);
            if (name != "." && name != "..") names.emplace_back(name);
            off += e->d_reclen;
        }
    }
    fd.reset();
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    return names;
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "1:0:1:0": what a SCSI device's sysfs directory is called (host:channel:target:lun).
bool is_hctl(std::string_view s) {
    int parts = 0;
    while (true) {
        size_t c = s.find(':');
        if (!all_digits(s.substr(0, c))) return false;
        ++parts;
        if (c == std::string_view::npos) break;
        s.remove_prefix(c + 1);
    }
    return parts == 4;
}

bool is_sg_name(std::string_view s) {
    return s.size() > 2 && s.starts_with("sg") && all_digits(s.substr(2));
}

// "nvme0n1" (a namespace's block device), never "nvme0c1n1" (a hidden path of a multipath head)
// nor "nvme0n1p2" (a partition); "ng0n1", its generic character device.
bool is_nvme_ns_name(std::string_view s, std::string_view prefix) {
    if (!s.starts_with(prefix)) return false;
    s.remove_prefix(prefix.size());
    size_t n = s.find('n');
    return n != std::string_view::npos && n > 0 && all_digits(s.substr(0, n)) && n + 1 < s.size() &&
           all_digits(s.substr(n + 1));
}

bool has_glob_chars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// ---------------------------------------------------------------------------------------------------

struct Problem {
    Errc code;
    std::string msg;
    int sys_errno = 0;
};

Problem problem(Errc c, std::string msg, int e = 0) { return Problem{c, std::move(msg), e}; }

// One path found, with what grouping and de-duplication need.
struct Found {
    PathSpec path;
    std::string wwid;
    std::string name;       // LunSpec name if this path starts a new LU
    std::string whole_key;  // "block:sdb": lets glob-matched partitions of it be dropped
};

// A partition matched by a glob: dropped if its whole device resolves, else reported.
struct DeferredPartition {
    std::string line;
    Errc code;
    std::string whole_key;
};

class Resolver {
  public:
    explicit Resolver(const ResolveOptions& opt)
        : sys_(strip_trailing_slashes(opt.sysfs_root.empty() ? "/sys" : opt.sysfs_root)),
          dev_(strip_trailing_slashes(opt.dev_root.empty() ? "/dev" : opt.dev_root)) {
        dev_real_ = real_path(dev_).value_or(dev_);
        sys_real_ = real_path(sys_).value_or(sys_);
        if (auto c = real_path(dev_ + "/mapper")) dev_mapper_real_ = *c;
        char* cwd = ::getcwd(nullptr, 0);
        cwd_ = cwd ? cwd : ".";
        std::free(cwd);
    }

    Result<std::vector<LunSpec>> run(const std::vector<std::string>& args) {
        if (args.empty()) return fail(Errc::invalid_argument, "no devices given");
        for (const auto& a : args) argument(a, a, cwd_, 0);
        for (const auto& d : deferred_)
            if (!resolved_wholes_.count(d.whole_key)) report(d.code, d.line);
        if (!lines_.empty()) {
            std::string msg;
            for (const auto& l : lines_) {
                if (!msg.empty()) msg += '\n';
                msg += l;
            }
            return fail(Error(mixed_ ? Errc::invalid_argument : code_, std::move(msg),
                              lines_.size() == 1 ? sys_errno_ : 0));
        }
        return std::move(luns_);
    }

    Result<LunSpec> kernel_name(std::string_view name) {
        const std::string n(name);
        if (n.empty() || n.find('/') != std::string::npos || n == "." || n == "..")
            return fail(Errc::invalid_argument, "'" + n + "' is not a kernel device name");
        std::vector<Found> found;
        std::vector<Problem> problems;
        const size_t colons = static_cast<size_t>(std::count(n.begin(), n.end(), ':'));
        if (colons == 3 && is_hctl(n)) {
            // A SCSI address: the device directory itself.
            auto d = real_path(sys_ + "/bus/scsi/devices/" + n);
            if (!d) d = real_path(sys_ + "/class/scsi_device/" + n + "/device");
            if (!d || !is_hctl(base_name(*d)))
                return fail(Errc::not_found, n + ": no SCSI device " + n + " in " + sys_);
            scsi_device(*d, n, n, "", found, problems);
        } else {
            std::optional<std::string> obj;
            if (colons == 1 && all_digits(n.substr(0, n.find(':'))) &&
                all_digits(n.substr(n.find(':') + 1)))
                obj = real_path(sys_ + "/dev/block/" + n);
            else if (is_sg_name(n))
                obj = real_path(sys_ + "/class/scsi_generic/" + n);
            else
                obj = real_path(sys_ + "/class/block/" + n);
            if (!obj) return fail(Errc::not_found, n + ": unknown to " + sys_);
            // Not "top": a partition stands for its disk, as below a dm map.
            classify(*obj, n, /*depth=*/0, /*top=*/false, found, problems, nullptr);
        }
        if (!problems.empty())
            return fail(Error(problems.front().code, n + ": " + problems.front().msg,
                              problems.front().sys_errno));
        if (found.empty()) return fail(Errc::not_found, n + ": no SCSI path found");
        for (auto& f : found) add(std::move(f));
        LunSpec out = std::move(luns_.front());
        out.name = n;
        return out;
    }

  private:
    void report(Errc c, std::string line, int e = 0) {
        if (lines_.empty()) {
            code_ = c;
            sys_errno_ = e;
        } else if (c != code_) {
            mixed_ = true;
        }
        lines_.push_back(std::move(line));
    }
    void report(const std::string& where, const Problem& p) {
        report(p.code, where + ": " + p.msg, p.sys_errno);
    }

    // "/dev/..." is relative to dev_root; other relative paths to `base`.
    std::string locate(const std::string& arg, const std::string& base) const {
        if (dev_ != "/dev" && (arg == "/dev" || arg.starts_with("/dev/")))
            return dev_ + arg.substr(4);
        if (!arg.empty() && arg[0] == '/') return arg;
        return base == "/" ? "/" + arg : base + "/" + arg;
    }

    std::string dev_node(const std::string& kname) const { return dev_ + "/" + kname; }

    // One argument, as typed on the command line or as an entry of a list file (`where` names it in
    // errors; `base` is the directory relative paths start from).
    void argument(const std::string& arg, const std::string& where, const std::string& base,
                  int depth) {
        if (arg.empty()) return report(Errc::invalid_argument, "empty device argument");
        if (arg[0] == '@') return list_file(arg, where, base, depth);
        if (arg.starts_with("sim:")) return sim(arg, where);
        if (has_glob_chars(arg)) return expand_glob(arg, where, base);
        path_argument(locate(arg, base), arg, where, /*from_glob=*/false);
    }

    // ---- @FILE

    void list_file(const std::string& arg, const std::string& where, const std::string& base,
                   int depth) {
        std::string file = arg.substr(1);
        if (file.empty())
            return report(Errc::invalid_argument, where + ": '@' needs a file name (@FILE)");
        if (depth >= kMaxListDepth)
            return report(Errc::invalid_argument, where + ": list files nested more than " +
                                                      std::to_string(kMaxListDepth) +
                                                      " deep (a loop?)");
        std::string path = file[0] == '/' ? file : (base == "/" ? "/" : base + "/") + file;
        if (is_dir(path))
            return report(Errc::invalid_argument, where + ": " + file + " is a directory");
        bool too_big = false;
        auto text = read_file(path, kMaxListBytes, &too_big);
        if (!text) {
            int e = errno;
            return report(e == ENOENT ? Errc::not_found : Errc::system,
                          errno_message(where + ": cannot read list file " + file, e), e);
        }
        if (too_big)
            return report(Errc::invalid_argument, where + ": list file " + file +
                                                      " is larger than " +
                                                      std::to_string(kMaxListBytes >> 20) + " MiB");
        const std::string list_dir_path = dir_name(path);
        size_t entries = 0, lineno = 0, pos = 0;
        while (pos < text->size()) {
            size_t nl = text->find('\n', pos);
            if (nl == std::string::npos) nl = text->size();
            std::string line = text->substr(pos, nl - pos);
            pos = nl + 1;
            ++lineno;
            // '#' starts a comment at the beginning of a line or after a blank.
            for (size_t i = 0; i < line.size(); ++i) {
                if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
                    line.resize(i);
                    break;
                }
            }
            size_t b = line.find_first_not_of(" \t\r");
            if (b == std::string::npos) continue;
            size_t e = line.find_last_not_of(" \t\r");
            std::string entry = line.substr(b, e - b + 1);
            ++entries;
            argument(entry, file + ":" + std::to_string(lineno) + ": " + entry, list_dir_path,
                     depth + 1);
        }
        if (entries == 0)
            report(Errc::invalid_argument, where + ": list file " + file + " names no devices");
    }

    // ---- globs

    void expand_glob(const std::string& arg, const std::string& where, const std::string& base) {
        std::string pattern = locate(arg, base);
        glob_t g{};
        int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
        if (rc == GLOB_NOMATCH) {
            ::globfree(&g);
            return report(Errc::not_found, where + ": matches nothing");
        }
        if (rc != 0) {
            ::globfree(&g);
            return report(Errc::system,
                          where + ": cannot expand the pattern" +
                              std::string(rc == GLOB_NOSPACE ? " (out of memory)"
                                                             : " (a directory is unreadable)"),
                          rc == GLOB_NOSPACE ? ENOMEM : EIO);
        }
        std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
        ::globfree(&g);
        const bool listed = where != arg;  // from a list file: keep "FILE:LINE: pattern" in front
        for (const auto& m : matches)
            path_argument(m, m, listed ? where + ": " + m : m, /*from_glob=*/true);
    }

    // ---- sim:SOCKET:LUNS

    void sim(const std::string& arg, const std::string& where) {
        const std::string rest = arg.substr(4);
        const std::string usage = " (expected sim:SOCKET:LUNS, e.g. sim:/run/prsim.sock:0-255)";
        const std::string ns_usage =
            " (NVMe namespaces: nsN or nsN-M, e.g. sim:/run/prsim.sock:ns1-8)";
        size_t colon = rest.rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
            return report(Errc::invalid_argument,
                          where + ": " + (colon == 0 ? "no socket" : "no LUNs") + usage);
        const std::string socket = rest.substr(0, colon);
        const std::string_view luns(std::string_view(rest).substr(colon + 1));

        // (namespace?, number) in the order typed; LUNs and NSIDs are counted apart.
        std::vector<std::pair<bool, uint32_t>> order;
        auto seen_lun = std::make_unique<std::bitset<kMaxSimLun + 1>>();
        auto seen_ns = std::make_unique<std::bitset<kMaxSimLun + 1>>();
        auto number = [&](std::string_view t, bool ns, uint32_t& v) -> std::optional<std::string> {
            const char* what = ns ? "namespace ID" : "LUN number";
            if (!all_digits(t))
                return "'" + std::string(t) + "' is not a " + what + (ns ? ns_usage : usage);
            uint64_t x = 0;
            for (char c : t) {
                x = x * 10 + static_cast<uint64_t>(c - '0');
                if (x > kMaxSimLun)
                    return std::string(ns ? "namespace " : "LUN ") + std::string(t) + " is above " +
                           std::to_string(kMaxSimLun);
            }
            if (ns && x == 0) return "namespace IDs start at 1 (ns0 is not a namespace)";
            v = static_cast<uint32_t>(x);
            return std::nullopt;
        };
        std::string_view list = luns;
        while (true) {
            size_t comma = list.find(',');
            std::string_view item = list.substr(0, comma);
            if (item.empty())
                return report(Errc::invalid_argument, where + ": empty item in LUN list '" +
                                                          std::string(luns) + "'" + usage);
            const bool ns = item.starts_with("ns");
            if (ns) item.remove_prefix(2);
            uint32_t lo = 0, hi = 0;
            size_t dash = item.find('-');
            std::optional<std::string> bad;
            const std::string shown = (ns ? "ns" : "") + std::string(item);
            if (dash == std::string_view::npos) {
                bad = number(item, ns, lo);
                hi = lo;
            } else if (dash == 0 || dash + 1 == item.size()) {
                bad = "'" + shown + "' is not a " + (ns ? "namespace" : "LUN") + " range" +
                      (ns ? ns_usage : usage);
            } else {
                std::string_view upper = item.substr(dash + 1);
                if (ns && upper.starts_with("ns")) upper.remove_prefix(2);  // ns1-ns8 as ns1-8
                bad = number(item.substr(0, dash), ns, lo);
                if (!bad) bad = number(upper, ns, hi);
                if (!bad && hi < lo)
                    bad = "range " + shown + " is reversed (write " + (ns ? "ns" : "") +
                          std::to_string(hi) + "-" + std::to_string(lo) + ")";
            }
            if (bad) return report(Errc::invalid_argument, where + ": " + *bad);
            auto& seen = ns ? *seen_ns : *seen_lun;
            for (uint64_t l = lo; l <= hi; ++l) {
                if (seen.test(l)) continue;
                if (order.size() == kMaxSimLuns)
                    return report(
                        Errc::invalid_argument,
                        where + ": names more than " + std::to_string(kMaxSimLuns) + " LUNs");
                seen.set(l);
                order.emplace_back(ns, static_cast<uint32_t>(l));
            }
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
        for (auto [ns, n] : order) {
            Found f;
            f.path.kind = PathSpec::Kind::sim;
            f.path.sim_socket = socket;
            if (ns)
                f.path.nsid = n;
            else
                f.path.sim_lun = n;
            f.wwid = "sim:" + socket + ":" + (ns ? "ns" : "") + std::to_string(n);
            f.name = f.wwid;
            add(std::move(f));
        }
    }

    // ---- device paths

    // `path` is where to look (dev_root applied), `typed` the argument as given (the LunSpec's
    // name), `where` names it in errors.
    void path_argument(const std::string& path, const std::string& typed, const std::string& where,
                       bool from_glob) {
        // The common case first: a device node, found in sysfs by its numbers (one stat, one
        // real_path). Everything else, and every error message, takes the careful way below.
        struct stat st;
        std::optional<std::string> obj_fast;
        if (::stat(path.c_str(), &st) == 0 && (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)))
            obj_fast = sysfs_link(sys_real_ + (S_ISBLK(st.st_mode) ? "/dev/block/" : "/dev/char/") +
                                  std::to_string(major(st.st_rdev)) + ":" +
                                  std::to_string(minor(st.st_rdev)));
        if (obj_fast) return classify_argument(*obj_fast, typed, where, from_glob);

        struct stat lst;
        if (::lstat(path.c_str(), &lst) != 0) {
            int e = errno;
            if (e == ENOENT || e == ENOTDIR)
                return report(Errc::not_found, where + ": does not exist", e);
            return report(Errc::system, errno_message(where, e), e);
        }
        auto rp = real_path(path);
        if (!rp) {
            int e = errno;
            return report(e == ENOENT ? Errc::not_found : Errc::system,
                          errno_message(where + ": cannot follow the link", e), e);
        }
        auto obj = sysfs_object(*rp);
        if (!obj.ok())
            return report(where, Problem{obj.error().code, obj.error().msg, obj.error().sys_errno});
        classify_argument(*obj, typed, where, from_glob);
    }

    void classify_argument(const std::string& obj, const std::string& typed,
                           const std::string& where, bool from_glob) {
        std::vector<Found> found;
        std::vector<Problem> problems;
        std::optional<std::string> partition_of;  // whole-device key, if `obj` is a partition
        classify(obj, typed, /*depth=*/0, /*top=*/true, found, problems, &partition_of);
        if (partition_of && from_glob && !problems.empty()) {
            deferred_.push_back(
                {where + ": " + problems.front().msg, problems.front().code, *partition_of});
            return;
        }
        for (const auto& p : problems) report(where, p);
        if (!problems.empty()) return;
        for (auto& f : found) add(std::move(f));
    }

    // The sysfs directory (realpath) of the device node at `rp`.
    Result<std::string> sysfs_object(const std::string& rp) {
        struct stat st;
        if (::stat(rp.c_str(), &st) != 0) return fail_errno();  // the caller names the path
        if (S_ISDIR(st.st_mode)) return fail(Errc::invalid_argument, "is a directory");
        const bool blk = S_ISBLK(st.st_mode), chr = S_ISCHR(st.st_mode);
        if (blk || chr) {
            std::string link = sys_ + (blk ? "/dev/block/" : "/dev/char/") +
                               std::to_string(major(st.st_rdev)) + ":" +
                               std::to_string(minor(st.st_rdev));
            if (auto o = real_path(link)) return *o;
        }
        const std::string parent = dir_name(rp);
        const std::string name = base_name(rp);
        if (parent == dev_real_) {
            if (auto o = real_path(sys_ + "/class/scsi_generic/" + name)) return *o;
            if (auto o = real_path(sys_ + "/class/block/" + name)) return *o;
            if (auto o = real_path(sys_ + "/block/" + name)) return *o;
            if (auto o = real_path(sys_ + "/class/nvme-generic/" + name)) return *o;
            if (is_sg_name(name) && !is_dir(sys_ + "/class/scsi_generic"))
                return fail(Errc::not_found, "no sg node for " + dev_node(name) +
                                                 ": load the sg module (modprobe sg)");
        } else if (!dev_mapper_real_.empty() && parent == dev_mapper_real_) {
            for (const auto& dm : list_dir(sys_ + "/block")) {
                if (!dm.starts_with("dm-")) continue;
                if (read_attr(sys_ + "/block/" + dm + "/dm/name") == name)
                    if (auto o = real_path(sys_ + "/block/" + dm)) return *o;
            }
            return fail(Errc::not_found,
                        "no device-mapper map named " + name + " in " + sys_ + "/block");
        }
        if (blk || chr)
            return fail(Errc::not_found, std::string(blk ? "block" : "character") + " device " +
                                             std::to_string(major(st.st_rdev)) + ":" +
                                             std::to_string(minor(st.st_rdev)) + " is unknown to " +
                                             sys_);
        if (parent == dev_real_)
            return fail(Errc::not_found,
                        "unknown to sysfs (" + sys_ + "/class/block/" + name + " does not exist)");
        return fail(Errc::invalid_argument, "not a device node");
    }

    // Turns a sysfs device directory into paths (several for a dm map) or problems. `name` is the
    // LunSpec name for paths found directly; paths under a dm map take the map's name.
    void classify(const std::string& obj, const std::string& name, int depth, bool top,
                  std::vector<Found>& found, std::vector<Problem>& problems,
                  std::optional<std::string>* partition_of) {
        const std::string kname = base_name(obj);
        // An sg node: its class directory sits in .../H:C:T:L/scsi_generic/.
        if (base_name(dir_name(obj)) == "scsi_generic") {
            auto d = sysfs_link(obj + "/device");
            if (!d || !is_hctl(base_name(*d))) {
                problems.push_back(
                    problem(Errc::not_found, dev_node(kname) + " has no SCSI device in " + sys_));
                return;
            }
            return scsi_device(*d, dev_node(kname), name, "", found, problems, kname);
        }
        // A partition: ask for the whole disk (or, below a dm map, use it). Partitions sit below
        // their disk, never directly in a .../block/ directory.
        const bool in_block_dir = base_name(dir_name(obj)) == "block";
        if (!in_block_dir && exists(obj + "/partition")) {
            const std::string disk = base_name(dir_name(obj));
            if (top) {
                if (partition_of) *partition_of = "block:" + disk;
                problems.push_back(
                    problem(Errc::invalid_argument,
                            "is a partition; give the whole disk " + dev_node(disk)));
                return;
            }
            return classify(dir_name(obj), name, depth, false, found, problems, nullptr);
        }
        // An NVMe namespace: its block device or its generic character device.
        if (is_nvme_ns_name(kname, "nvme") || is_nvme_ns_name(kname, "ng"))
            return nvme_namespace(obj, kname, name, found, problems);
        // A SCSI device: a disk (.../block/sdX) or a node of another SCSI class (/dev/bsg/H:C:T:L,
        // a tape), whose device link leads to .../H:C:T:L. Asked first, as the common case: a
        // device-mapper map has no device link, so the order changes no answer.
        auto d = sysfs_link(obj + "/device");
        const bool scsi = d && is_hctl(base_name(*d));
        // A device-mapper map: every path below it.
        if (!scsi && is_dir(obj + "/dm"))
            return dm_map(obj, depth, top, found, problems, partition_of);
        const bool blockdev = in_block_dir;
        if (!scsi) {
            std::string hint = kname.starts_with("nvme")
                                   ? " (an NVMe controller or path; give a namespace, "
                                     "/dev/nvmeXnY or /dev/ngXnY)"
                                   : "";
            problems.push_back(problem(
                Errc::invalid_argument,
                (top ? std::string() : dev_node(kname) + ": ") + "not a SCSI device" + hint));
            return;
        }
        scsi_device(*d, blockdev || !top ? dev_node(kname) : name, name,
                    blockdev ? "block:" + kname : "", found, problems);
    }

    void dm_map(const std::string& obj, int depth, bool top, std::vector<Found>& found,
                std::vector<Problem>& problems, std::optional<std::string>* partition_of) {
        const std::string kname = base_name(obj);
        std::string map = read_attr(obj + "/dm/name");
        if (map.empty()) map = kname;
        const std::string uuid = read_attr(obj + "/dm/uuid");
        const std::vector<std::string> slaves = [&] {
            std::vector<std::string> v;
            for (auto& s : list_dir(obj + "/slaves"))
                if (s[0] != '.') v.push_back(std::move(s));
            return v;
        }();
        // kpartx names a partition map "part<N>-<uuid of the whole map>".
        if (top && uuid.starts_with("part")) {
            size_t dash = uuid.find('-');
            if (dash != std::string::npos &&
                all_digits(std::string_view(uuid).substr(4, dash - 4))) {
                std::string whole = "the whole map";
                if (slaves.size() == 1) {
                    if (auto w = sysfs_link(obj + "/slaves/" + slaves[0])) {
                        std::string wname = read_attr(*w + "/dm/name");
                        if (!wname.empty()) whole += " " + dev_ + "/mapper/" + wname;
                        if (partition_of) *partition_of = "dm:" + base_name(*w);
                    }
                }
                problems.push_back(
                    problem(Errc::invalid_argument, "is a partition map (kpartx); give " + whole));
                return;
            }
        }
        if (depth >= kMaxDmDepth) {
            problems.push_back(problem(Errc::invalid_argument,
                                       "device-mapper maps stacked more than " +
                                           std::to_string(kMaxDmDepth) + " deep below " + map));
            return;
        }
        if (slaves.empty()) {
            problems.push_back(problem(Errc::not_found, "device-mapper map " + map +
                                                            " has no underlying devices (" + obj +
                                                            "/slaves is empty)"));
            return;
        }
        resolved_wholes_.insert("dm:" + kname);
        for (const auto& s : slaves) {
            auto so = sysfs_link(obj + "/slaves/" + s);
            if (!so) {
                problems.push_back(problem(
                    Errc::not_found,
                    "device-mapper map " + map + ": " + s + " is listed under slaves/ but gone"));
                continue;
            }
            classify(*so, map, depth + 1, false, found, problems, nullptr);
        }
    }

    // An NVMe namespace, reached through its block device (.../nvmeXnY) or its generic character
    // device (.../ngXnY). Both sit in one parent directory (the controller's, or the subsystem's
    // for a native multipath head) and share their numbers, so each is found from the other by
    // name. Commands go to the generic node (io_uring passthrough exists only there); the NSID and
    // the identifier come from the block device's attributes, never from the name (the kernel
    // numbers devices in discovery order, not by NSID).
    void nvme_namespace(const std::string& obj, const std::string& kname, const std::string& name,
                        std::vector<Found>& found, std::vector<Problem>& problems) {
        const bool generic = kname.starts_with("ng");
        const std::string suffix = kname.substr(generic ? 2 : 4);
        const std::string parent = dir_name(obj);
        const std::string blk = "nvme" + suffix, ng = "ng" + suffix;
        const std::string via = dev_node(kname);
        const std::string blk_dir = generic ? parent + "/" + blk : obj;
        Found f;
        f.path.kind = PathSpec::Kind::nvme;
        f.name = name;
        f.whole_key = "block:" + blk;
        const std::string nsid = read_attr(blk_dir + "/nsid");
        if (nsid.empty() || !all_digits(nsid) || nsid.size() > 10 || std::stoull(nsid) == 0 ||
            std::stoull(nsid) > 0xfffffffe) {
            problems.push_back(problem(
                Errc::not_found, via + ": no namespace ID in " + blk_dir +
                                     "/nsid (is it an NVMe namespace of a running controller?)"));
            return;
        }
        f.path.nsid = static_cast<uint32_t>(std::stoull(nsid));
        f.path.ng_node = dev_node(ng);
        if (!exists(f.path.ng_node)) {
            problems.push_back(problem(
                Errc::not_found,
                "no " + f.path.ng_node + " for " + via +
                    ": NVMe passthrough needs the generic character device (Linux 5.13 or later; "
                    "udev creates it)"));
            return;
        }
        if (exists(dev_node(blk))) f.path.block = dev_node(blk);
        f.path.ctrl = base_name(parent);
        f.path.host_id = read_attr(parent + "/hostid");  // a controller's; a head's parent has none
        f.wwid = normalize_wwid_file(blk_dir + "/wwid");
        if (f.wwid.empty()) f.wwid = "nvme:" + f.path.ctrl + ":" + nsid;
        found.push_back(std::move(f));
    }

    // A SCSI device directory D (.../H:C:T:L): its sg node, block device and wwid.
    // `sg` is the sg node's kernel name when the argument was that node ("" otherwise).
    void scsi_device(const std::string& d, const std::string& via, const std::string& name,
                     const std::string& whole_key, std::vector<Found>& found,
                     std::vector<Problem>& problems, std::string sg = {}) {
        Found f;
        f.path.kind = PathSpec::Kind::sg;
        f.path.hctl = base_name(d);
        f.name = name;
        f.whole_key = whole_key;

        // sg links every SCSI device it attaches to its node (D/generic -> scsi_generic/sgN): one
        // readlink instead of listing the directory (four calls).
        if (sg.empty())
            if (auto g = sysfs_link(d + "/generic"); g && is_sg_name(base_name(*g)))
                sg = base_name(*g);
        if (sg.empty())
            for (const auto& n : list_dir(d + "/scsi_generic"))
                if (is_sg_name(n)) {
                    sg = n;
                    break;
                }
        if (sg.empty())  // before sysfs class directories: .../H:C:T:L/scsi_generic:sgN
            for (const auto& n : list_dir(d))
                if (n.starts_with("scsi_generic:") && is_sg_name(n.substr(13))) {
                    sg = n.substr(13);
                    break;
                }
        if (sg.empty()) {
            if (!is_dir(sys_ + "/class/scsi_generic"))
                problems.push_back(
                    problem(Errc::not_found,
                            "no sg node for " + via + ": load the sg module (modprobe sg)"));
            else
                problems.push_back(
                    problem(Errc::not_found,
                            "no sg node for " + via + " (SCSI device " + f.path.hctl +
                                ") although the sg module is loaded: the device may be going "
                                "away; check dmesg, then rescan it (echo 1 > " +
                                sys_ + "/class/scsi_device/" + f.path.hctl + "/device/rescan)"));
            return;
        }
        f.path.sg_node = dev_node(sg);
        if (!exists(f.path.sg_node)) {
            std::string numbers = read_attr(d + "/scsi_generic/" + sg + "/dev");
            std::string mknod;
            if (size_t c = numbers.find(':'); c != std::string::npos)
                mknod = ", or mknod " + f.path.sg_node + " c " + numbers.substr(0, c) + " " +
                        numbers.substr(c + 1);
            problems.push_back(problem(
                Errc::not_found, "no " + f.path.sg_node + " for " + via + " although sysfs lists " +
                                     sg + ": udev did not create it (udevadm trigger" + mknod +
                                     ")"));
            return;
        }
        if (whole_key.starts_with("block:"))  // reached through the disk itself: no need to look
            f.path.block = dev_node(whole_key.substr(6));
        if (f.path.block.empty())
            for (const auto& n : list_dir(d + "/block")) {
                f.path.block = dev_node(n);
                break;
            }
        if (f.path.block.empty())
            for (const auto& n : list_dir(d))
                if (n.starts_with("block:")) {
                    f.path.block = dev_node(n.substr(6));
                    break;
                }

        f.wwid = normalize_wwid_file(d + "/wwid");
        if (f.wwid.empty()) {
            auto page = read_file(d + "/vpd_pg83", kMaxVpdBytes, nullptr, true);
            if (page)
                f.wwid = devices::vpd83_lun_id(
                    ByteView(reinterpret_cast<const uint8_t*>(page->data()), page->size()));
        }
        if (f.wwid.empty()) f.wwid = "hctl:" + f.path.hctl;
        found.push_back(std::move(f));
    }

    static std::string normalize_wwid_file(const std::string& p) {
        auto s = read_file(p, kMaxAttrBytes, nullptr, true);
        return s ? devices::normalize_wwid(*s) : std::string();
    }

    void add(Found f) {
        const std::string key = f.path.kind == PathSpec::Kind::sim    ? f.wwid
                                : f.path.kind == PathSpec::Kind::nvme ? f.path.ng_node
                                                                      : f.path.sg_node;
        if (!f.path.block.empty()) resolved_wholes_.insert("block:" + base_name(f.path.block));
        if (!f.whole_key.empty()) resolved_wholes_.insert(f.whole_key);
        if (!seen_paths_.insert(key).second) return;
        auto it = lun_by_wwid_.find(f.wwid);
        if (it == lun_by_wwid_.end()) {
            lun_by_wwid_.emplace(f.wwid, luns_.size());
            luns_.push_back(LunSpec{std::move(f.name), std::move(f.wwid), {std::move(f.path)}});
        } else {
            luns_[it->second].paths.push_back(std::move(f.path));
        }
    }

    const std::string sys_;
    const std::string dev_;
    std::string sys_real_;  // sys_ canonical: sysfs_link needs a canonical directory
    std::string dev_real_;
    std::string dev_mapper_real_;
    std::string cwd_;

    std::vector<LunSpec> luns_;
    std::map<std::string, size_t> lun_by_wwid_;
    std::set<std::string> seen_paths_;
    std::set<std::string> resolved_wholes_;
    std::vector<DeferredPartition> deferred_;

    std::vector<std::string> lines_;
    Errc code_ = Errc::invalid_argument;
    int sys_errno_ = 0;
    bool mixed_ = false;
};

}  // namespace

Result<std::vector<LunSpec>> resolve_devices(const std::vector<std::string>& args,
                                             const ResolveOptions& opt) {
    return Resolver(opt).run(args);
}

Result<LunSpec> resolve_kernel_name(std::string_view name, const ResolveOptions& opt) {
    return Resolver(opt).kernel_name(name);
}

}  // namespace prfence::engine
