// SPDX-License-Identifier: MIT
#include "nl_control/daemon/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"
#include "uring_engine/session/path_set.h"
#include "uring_engine/simproto/names.h"

namespace prfence::daemon {
namespace {

using Json = nlohmann::json;

Status check_keys(const Json& obj, const std::set<std::string>& known, const std::string& where) {
    for (auto it = obj.begin(); it != obj.end(); ++it)
        if (!known.count(it.key()))
            return fail(Errc::invalid_argument, where + ": unknown key \"" + it.key() + "\"");
    return {};
}

Result<std::string> get_string(const Json& obj, const char* key, const std::string& where) {
    const Json& v = obj.at(key);
    if (!v.is_string())
        return fail(Errc::invalid_argument, where + "." + key + ": must be a string");
    return v.get<std::string>();
}

Result<GroupConfig> parse_group(const Json& g, const std::string& where) {
    if (!g.is_object()) return fail(Errc::invalid_argument, where + ": must be an object");
    PRF_TRY(check_keys(
        g,
        {"name", "devices", "initiator", "target_port", "sg_transport", "key", "hostnqn", "hostid"},
        where));
    GroupConfig gc;
    if (!g.contains("name")) return fail(Errc::invalid_argument, where + ": \"name\" is required");
    PRF_TRY_ASSIGN(gc.name, get_string(g, "name", where));
    if (!valid_group_name(gc.name))
        return fail(Errc::invalid_argument,
                    where + ".name: \"" + gc.name + "\" must be 1-64 characters of [A-Za-z0-9._-]");
    const std::string gw = where + " (\"" + gc.name + "\")";
    if (!g.contains("devices") || !g["devices"].is_array() || g["devices"].empty())
        return fail(Errc::invalid_argument, gw + ".devices: must be a non-empty array of strings");
    for (const auto& d : g["devices"]) {
        if (!d.is_string() || d.get<std::string>().empty())
            return fail(Errc::invalid_argument,
                        gw + ".devices: must be a non-empty array of strings");
        gc.devices.push_back(d.get<std::string>());
    }
    if (g.contains("initiator")) {
        PRF_TRY_ASSIGN(gc.initiator, get_string(g, "initiator", gw));
    }
    if (g.contains("hostnqn")) {
        PRF_TRY_ASSIGN(gc.hostnqn, get_string(g, "hostnqn", gw));
        if (gc.hostnqn.empty())
            return fail(Errc::invalid_argument,
                        gw + ".hostnqn: empty (leave the key out to derive the NQN)");
    }
    if (g.contains("hostid")) {
        PRF_TRY_ASSIGN(std::string h, get_string(g, "hostid", gw));
        auto id = parse_hostid(h);
        if (!id) return fail(Errc::invalid_argument, gw + ".hostid: " + id.error().msg);
        gc.hostid = *id;
    }
    if (auto st = check_hostnqn(gc.hostnqn); !st)
        return fail(Errc::invalid_argument, gw + ": " + st.error().msg);
    if (g.contains("target_port")) {
        const Json& p = g["target_port"];
        if (!p.is_number_integer() || p.get<int64_t>() < 1 || p.get<int64_t>() > 65535)
            return fail(Errc::invalid_argument, gw + ".target_port: must be an integer 1-65535");
        gc.target_port = static_cast<uint16_t>(p.get<int64_t>());
    }
    if (g.contains("key")) {
        // A string, as operators write keys (sg_persist's hex): a JSON number would lose the top
        // bits of a 64-bit key in every tool that reads numbers as doubles.
        PRF_TRY_ASSIGN(std::string k, get_string(g, "key", gw));
        auto v = parse_hex_u64(k);
        if (!v) return fail(Errc::invalid_argument, gw + ".key: " + v.error().msg);
        if (*v == 0)
            return fail(Errc::invalid_argument,
                        gw + ".key: 0 is not a reservation key (registering 0 unregisters)");
        gc.key = *v;
    }
    if (g.contains("sg_transport")) {
        PRF_TRY_ASSIGN(std::string t, get_string(g, "sg_transport", gw));
        if (t == "uring")
            gc.sg_transport = nl::SG_TRANSPORT_URING;
        else if (t == "sgio")
            gc.sg_transport = nl::SG_TRANSPORT_SGIO;
        else
            return fail(Errc::invalid_argument,
                        gw + ".sg_transport: must be \"uring\" or \"sgio\", not \"" + t + "\"");
    }
    return gc;
}

}  // namespace

Status check_hostnqn(const std::string& hostnqn) {
    if (hostnqn.empty()) return {};
    if (auto ok = engine::check_nvme_hostnqn(hostnqn); !ok)
        return fail(Errc::invalid_argument, "hostnqn " + quoted_text(hostnqn) + " (" +
                                                std::to_string(hostnqn.size()) +
                                                " bytes): " + ok.error().msg);
    return {};
}

Result<std::array<uint8_t, 16>> parse_hostid(const std::string& text) {
    auto id = engine::parse_nvme_hostid(text);
    if (!id) return fail(Errc::invalid_argument, quoted_text(text) + ": " + id.error().msg);
    return *id;
}

bool valid_group_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}

Result<mode_t> parse_mode(const std::string& text) {
    if (text.size() < 3 || text.size() > 4)
        return fail(Errc::invalid_argument,
                    "mode \"" + text + "\": give 3-4 octal digits, e.g. 0660");
    mode_t m = 0;
    for (char c : text) {
        if (c < '0' || c > '7')
            return fail(Errc::invalid_argument,
                        "mode \"" + text + "\": give 3-4 octal digits, e.g. 0660");
        m = static_cast<mode_t>(m * 8 + static_cast<mode_t>(c - '0'));
    }
    return m;
}

Result<Config> parse_config(const std::string& text, const std::string& origin) {
    Json j;
    try {
        j = Json::parse(text);
    } catch (const Json::parse_error& e) {
        return fail(Errc::invalid_argument, origin + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) return fail(Errc::invalid_argument, origin + ": must be a JSON object");
    PRF_TRY(check_keys(j, {"socket", "socket_group", "socket_mode", "groups"}, origin));
    Config cfg;
    if (j.contains("socket")) {
        PRF_TRY_ASSIGN(cfg.socket, get_string(j, "socket", origin));
    }
    if (j.contains("socket_group")) {
        PRF_TRY_ASSIGN(cfg.socket_group, get_string(j, "socket_group", origin));
    }
    if (j.contains("socket_mode")) {
        PRF_TRY_ASSIGN(std::string m, get_string(j, "socket_mode", origin));
        auto mode = parse_mode(m);
        if (!mode)
            return fail(Errc::invalid_argument, origin + ".socket_mode: " + mode.error().msg);
        cfg.socket_mode = *mode;
    }
    if (j.contains("groups")) {
        if (!j["groups"].is_array())
            return fail(Errc::invalid_argument, origin + ".groups: must be an array");
        std::set<std::string> names;
        for (size_t i = 0; i < j["groups"].size(); ++i) {
            const std::string where = origin + ": groups[" + std::to_string(i) + "]";
            PRF_TRY_ASSIGN(GroupConfig g, parse_group(j["groups"][i], where));
            if (!names.insert(g.name).second)
                return fail(Errc::invalid_argument,
                            where + ": group \"" + g.name + "\" is defined twice");
            cfg.groups.push_back(std::move(g));
        }
    }
    return cfg;
}

Result<Config> load_config(const std::string& path, bool* missing) {
    if (missing) *missing = false;
    std::ifstream in(path);
    if (!in) {
        if (errno == ENOENT) {
            if (missing) *missing = true;
            return Config{};
        }
        return fail_errno(path, ": cannot read");
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return fail(Errc::system, path + ": read error", EIO);
    return parse_config(ss.str(), path);
}

std::string config_text(const Config& cfg) {
    Json j = Json::object();
    if (!cfg.socket.empty()) j["socket"] = cfg.socket;
    if (!cfg.socket_group.empty()) j["socket_group"] = cfg.socket_group;
    if (cfg.socket_mode) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(*cfg.socket_mode));
        j["socket_mode"] = buf;
    }
    Json groups = Json::array();
    for (const auto& g : cfg.groups) {
        Json o = Json::object();
        o["name"] = g.name;
        o["devices"] = g.devices;
        if (!g.initiator.empty()) o["initiator"] = g.initiator;
        if (g.target_port) o["target_port"] = *g.target_port;
        if (g.key) o["key"] = hex_u64(*g.key);
        if (!g.hostnqn.empty()) o["hostnqn"] = g.hostnqn;
        if (g.hostid) o["hostid"] = shim::uuid_text(*g.hostid);
        o["sg_transport"] = g.sg_transport == nl::SG_TRANSPORT_SGIO ? "sgio" : "uring";
        groups.push_back(std::move(o));
    }
    j["groups"] = std::move(groups);
    return j.dump(2) + "\n";
}

Status save_config(const Config& cfg, const std::string& path) {
    const std::string text = config_text(cfg);
    const auto slash = path.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    const std::string tmp = dir + "/." + base + ".tmp." + std::to_string(getpid());

    mode_t mode = 0640;
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;

    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return fail_errno(tmp, ": cannot create");
    (void)fchmod(fd.get(), mode);  // O_CREAT's mode went through the umask
    // Every failure below leaves the old file as it was and removes the partial one.
    Status saved;
    for (size_t off = 0; saved && off < text.size();) {
        ssize_t n = ::write(fd.get(), text.data() + off, text.size() - off);
        if (n >= 0)
            off += static_cast<size_t>(n);
        else if (errno != EINTR)
            saved = fail_errno(tmp, ": write");
    }
    if (saved && ::fsync(fd.get()) != 0) saved = fail_errno(tmp, ": fsync");
    if (saved && ::close(fd.release()) != 0) saved = fail_errno(tmp, ": close");
    if (saved && ::rename(tmp.c_str(), path.c_str()) != 0)
        saved = fail_errno("rename ", tmp, " -> ", path);
    if (!saved) {
        fd.reset();
        ::unlink(tmp.c_str());
        return saved;
    }
    // The rename is durable only once the directory entry is.
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return fail_errno(dir, ": open");
    if (::fsync(dfd.get()) != 0) return fail_errno(dir, ": fsync");
    return {};
}

}  // namespace prfence::daemon
