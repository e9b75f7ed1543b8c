// SPDX-License-Identifier: MIT
#include "uring_engine/simproto/names.h"

#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace prfence::shim {
namespace {

std::optional<uint32_t> parse_decimal(std::string_view s) {
    if (s.empty() || s.size() > 8 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v > kMaxNameLun) return std::nullopt;
    return v;
}

std::optional<VirtualNode> parse_node_name(std::string_view base) {
    if (base.size() > 2 && base.substr(0, 2) == "sg") {
        auto n = parse_decimal(base.substr(2));
        if (n) return VirtualNode{*n, NodeKind::sg};
        return std::nullopt;
    }
    if (base.size() > 2 && base.substr(0, 2) == "sd") {
        auto n = parse_disk_letters(base.substr(2));
        if (n) return VirtualNode{*n, NodeKind::disk};
    }
    // One subsystem, one controller per process: nvme0 and its namespaces nvme0n1, nvme0n2, ...
    if (base == "nvme0") return VirtualNode{0, NodeKind::nvme_ctrl};
    if (base.size() > 6 && base.substr(0, 6) == "nvme0n") {
        auto n = parse_decimal(base.substr(6));
        if (n && *n >= 1) return VirtualNode{*n, NodeKind::nvme_ns};
    }
    return std::nullopt;
}

void add_problem(Config& cfg, const std::string& msg) {
    if (!cfg.problem.empty()) cfg.problem += '\n';
    cfg.problem += msg;
}

int env_int(const EnvAccess& env, const char* name, int def, int lo, int hi, Config& cfg) {
    const char* v = env.get(name);
    if (!v || !*v) return def;
    int x = 0;
    auto [p, ec] = std::from_chars(v, v + std::strlen(v), x);
    if (ec != std::errc() || *p != '\0' || x < lo || x > hi) {
        add_problem(cfg, std::string(name) + "=" + v + " is not a number in " + std::to_string(lo) +
                             "-" + std::to_string(hi));
        return def;
    }
    return x;
}

}  // namespace

std::string disk_letters(uint64_t index) {
    // Counts down after each digit instead of up before the first, so UINT64_MAX does not wrap.
    std::string s;
    uint64_t i = index;
    do {
        s.insert(s.begin(), static_cast<char>('a' + i % 26));
        i /= 26;
    } while (i-- > 0);
    return s;
}

std::optional<uint32_t> parse_disk_letters(std::string_view letters) {
    if (letters.empty() || letters.size() > 5) return std::nullopt;
    uint64_t v = 0;
    for (char c : letters) {
        if (c < 'a' || c > 'z') return std::nullopt;
        v = v * 26 + static_cast<uint64_t>(c - 'a' + 1);
    }
    if (v - 1 > kMaxNameLun) return std::nullopt;
    return static_cast<uint32_t>(v - 1);
}

dev_t sg_rdev(uint32_t n) { return makedev(21, n); }

dev_t disk_rdev(uint32_t index) {
    const uint32_t major_idx = (index & 0xf0) >> 4;
    const uint32_t major = major_idx == 0  ? 8
                           : major_idx < 8 ? 64 + major_idx
                                           : 128 + major_idx - 8;
    const uint32_t minor = ((index & 0xf) << 4) | (index & 0xfff00);
    return makedev(major, minor);
}

dev_t nvme_ns_rdev(uint32_t nsid) { return makedev(259, nsid == 0 ? 0 : nsid - 1); }

dev_t nvme_ctrl_rdev() { return makedev(250, 0); }

bool normalize_path(const char* path, char* out, size_t cap) {
    if (!path || path[0] != '/' || cap < 2) return false;
    size_t len = 0;  // out[0..len) is the result so far, always "/" + components joined by '/'
    out[len++] = '/';
    const char* p = path;
    while (*p) {
        while (*p == '/') ++p;
        if (!*p) break;
        const char* start = p;
        while (*p && *p != '/') ++p;
        const size_t n = static_cast<size_t>(p - start);
        if (n == 1 && start[0] == '.') continue;
        if (n == 2 && start[0] == '.' && start[1] == '.') {
            // Back to the previous '/' (never above the root).
            while (len > 1 && out[len - 1] != '/') --len;
            if (len > 1) --len;
            continue;
        }
        if (len > 1) {
            if (len + 1 >= cap) return false;
            out[len++] = '/';
        }
        if (len + n >= cap) return false;
        std::memcpy(out + len, start, n);
        len += n;
    }
    out[len] = '\0';
    return true;
}

void parse_map(std::string_view text, const std::string& file_name, Config& cfg,
               bool (*exists)(const char*)) {
    size_t line_no = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        if (auto h = line.find('#'); h != std::string_view::npos) line = line.substr(0, h);
        std::vector<std::string_view> f;
        size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
            size_t s = i;
            while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
            if (i > s) f.push_back(line.substr(s, i - s));
        }
        if (f.empty()) continue;
        const std::string where = file_name + ":" + std::to_string(line_no) + ": ";
        if (f.size() < 2 || f.size() > 3) {
            add_problem(cfg, where + "expected `PATH LU [sg|disk]` or `PATH NSID nvme`");
            continue;
        }
        char norm[4096];
        const std::string path(f[0]);
        if (!normalize_path(path.c_str(), norm, sizeof norm)) {
            add_problem(cfg, where + "'" + path + "' is not an absolute path");
            continue;
        }
        auto lun = parse_decimal(f[1]);
        if (!lun) {
            add_problem(cfg, where + "'" + std::string(f[1]) + "' is not an LU number");
            continue;
        }
        VirtualNode node{*lun, NodeKind::disk};
        if (f.size() == 3) {
            if (f[2] == "sg") {
                node.kind = NodeKind::sg;
            } else if (f[2] == "nvme") {
                node.kind = NodeKind::nvme_ns;
            } else if (f[2] == "nvme-ctrl") {
                node.kind = NodeKind::nvme_ctrl;
                node.lun = 0;
            } else if (f[2] != "disk" && f[2] != "sd") {
                add_problem(cfg, where + "kind must be sg, disk, nvme or nvme-ctrl");
                continue;
            }
        } else {
            std::string_view base(norm);
            base = base.substr(base.rfind('/') + 1);
            if (base.size() > 2 && base.substr(0, 2) == "sg" && parse_decimal(base.substr(2)))
                node.kind = NodeKind::sg;
            if (base.size() > 4 && base.substr(0, 4) == "nvme")
                node.kind = base.find('n', 4) == std::string_view::npos ? NodeKind::nvme_ctrl
                                                                        : NodeKind::nvme_ns;
            if (node.kind == NodeKind::nvme_ctrl) node.lun = 0;
        }
        if (node.kind == NodeKind::nvme_ns && node.lun == 0) {
            add_problem(cfg, where + "NVMe namespace ids start at 1");
            continue;
        }
        if (exists && exists(norm)) {
            add_problem(cfg, where + std::string(norm) +
                                 " exists: a real path is never intercepted, entry ignored");
            continue;
        }
        cfg.map.emplace_back(norm, node);
    }
}

Config load_config(const EnvAccess& env) {
    Config cfg;
    if (const char* s = env.get("PRSIM_SOCKET")) cfg.socket = s;
    if (cfg.socket.empty()) add_problem(cfg, "PRSIM_SOCKET is not set");
    const char* ini = env.get("PRSIM_INITIATOR");
    cfg.initiator = ini && *ini ? ini : kDefaultInitiator;
    cfg.target_port = static_cast<uint16_t>(env_int(env, "PRSIM_TARGET_PORT", 1, 1, 65535, cfg));
    if (const char* p = env.get("PRSIM_PREFIX")) {
        char norm[4096];
        if (!*p) {
            cfg.prefix.clear();
        } else if (normalize_path(p, norm, sizeof norm) && std::strcmp(norm, "/") != 0) {
            cfg.prefix = norm;
        } else {
            add_problem(cfg, std::string("PRSIM_PREFIX=") + p + " is not an absolute directory");
        }
    }
    if (const char* m = env.get("PRSIM_MAP"); m && *m) {
        std::string text;
        if (!env.read_file(m, text))
            add_problem(cfg, std::string("cannot read PRSIM_MAP file ") + m);
        else
            parse_map(text, m, cfg, env.exists);
    }
    if (const char* r = env.get("PRSIM_REDIRECT"); r && *r) {
        std::string_view all(r);
        while (!all.empty()) {
            size_t c = all.find(':');
            std::string_view item = all.substr(0, c);
            all = c == std::string_view::npos ? std::string_view{} : all.substr(c + 1);
            if (item.empty()) continue;
            size_t eq = item.find('=');
            if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size() ||
                item[0] != '/' || item[eq + 1] != '/') {
                add_problem(cfg,
                            "PRSIM_REDIRECT item '" + std::string(item) + "' is not /FROM=/TO");
                continue;
            }
            cfg.redirects.emplace_back(item.substr(0, eq), item.substr(eq + 1));
        }
    }
    cfg.connect_timeout_ms = env_int(env, "PRSIM_CONNECT_TIMEOUT_MS", 2000, 1, 600000, cfg);
    cfg.max_timeout_ms = env_int(env, "PRSIM_TIMEOUT_MS", 0, 0, 86400000, cfg);
    if (const char* k = env.get("PRSIM_KEEP_INITIAL_UA"); k && std::strcmp(k, "1") == 0)
        cfg.absorb_initial_ua = false;
    const char* nqn = env.get("PRSIM_HOSTNQN");
    const char* hid = env.get("PRSIM_HOSTID");
    if (hid && *hid) {
        if (auto u = parse_uuid(hid))
            cfg.hostid = *u;
        else
            add_problem(cfg, std::string("PRSIM_HOSTID=") + hid + " is not a UUID");
    } else if (nqn && *nqn) {
        cfg.hostid = host_id_of_nqn(nqn);
    } else {
        cfg.hostid = *parse_uuid(kDefaultHostId);
    }
    cfg.hostnqn = nqn && *nqn ? std::string(nqn) : uuid_nqn(cfg.hostid);
    if (!is_sendable_nqn(cfg.hostnqn)) {
        add_problem(cfg,
                    "PRSIM_HOSTNQN is longer than 223 characters or not printable ASCII; "
                    "NVMe nodes are not available");
        cfg.hostnqn.clear();
    }
    return cfg;
}

std::array<uint8_t, 16> hash_host_id(std::string_view text) {
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (unsigned char c : text) {
        h1 = (h1 ^ c) * 0x100000001b3ull;
        h2 = (h2 ^ c) * 0x100000001b3ull;
    }
    std::array<uint8_t, 16> id{};
    for (int i = 0; i < 8; ++i) {
        id[i] = static_cast<uint8_t>(h1 >> (56 - 8 * i));
        id[8 + i] = static_cast<uint8_t>(h2 >> (56 - 8 * i));
    }
    return id;
}

std::array<uint8_t, 16> host_id_of_nqn(std::string_view nqn) {
    const size_t at = nqn.rfind(":uuid:");
    if (at != std::string_view::npos)
        if (auto u = parse_uuid(nqn.substr(at + 6))) return *u;
    return hash_host_id(nqn);
}

std::string uuid_nqn(const std::array<uint8_t, 16>& id) {
    return "nqn.2014-08.org.nvmexpress:uuid:" + uuid_text(id);
}

bool is_sendable_nqn(std::string_view nqn) {
    return !nqn.empty() && nqn.size() <= 223 &&
           std::all_of(nqn.begin(), nqn.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

std::optional<std::array<uint8_t, 16>> parse_uuid(std::string_view text) {
    std::array<uint8_t, 16> id{};
    size_t n = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '-' && (i == 8 || i == 13 || i == 18 || i == 23) && text.size() == 36) continue;
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0 || n >= 32) return std::nullopt;
        id[n / 2] = static_cast<uint8_t>(id[n / 2] << 4 | v);
        ++n;
    }
    if (n != 32) return std::nullopt;
    return id;
}

std::string uuid_text(const std::array<uint8_t, 16>& id) {
    char buf[40];
    std::snprintf(buf, sizeof buf,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0],
                  id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11],
                  id[12], id[13], id[14], id[15]);
    return buf;
}

PathClass classify(const Config& cfg, std::string_view norm) {
    PathClass pc;
    if (!cfg.prefix.empty() && norm.size() >= cfg.prefix.size() &&
        norm.substr(0, cfg.prefix.size()) == cfg.prefix) {
        std::string_view rest = norm.substr(cfg.prefix.size());
        if (rest.empty()) {
            pc.what = PathClass::What::directory;
            return pc;
        }
        if (rest[0] == '/' && rest.find('/', 1) == std::string_view::npos) {
            if (auto n = parse_node_name(rest.substr(1))) {
                pc.what = PathClass::What::node;
                pc.node = *n;
                return pc;
            }
        }
    }
    for (const auto& [path, node] : cfg.map) {
        if (path == norm) {
            pc.what = PathClass::What::node;
            pc.node = node;
            return pc;
        }
    }
    return pc;
}

const char* apply_redirect(const Config& cfg, const char* path, char* out, size_t cap) {
    if (!path || cfg.redirects.empty()) return nullptr;
    const size_t len = std::strlen(path);
    for (const auto& [from, to] : cfg.redirects) {
        if (len < from.size() || std::memcmp(path, from.data(), from.size()) != 0) continue;
        const size_t rest = len - from.size();
        if (to.size() + rest + 1 > cap) return nullptr;
        std::memcpy(out, to.data(), to.size());
        std::memcpy(out + to.size(), path + from.size(), rest + 1);
        return out;
    }
    return nullptr;
}

}  // namespace prfence::shim
