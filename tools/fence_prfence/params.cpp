// SPDX-License-Identifier: MIT
#include "tools/fence_prfence/params.h"

#include <getopt.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <span>

#include "uring_engine/common/bytes.h"

namespace prfence::agent {

namespace {

// Where a value came from; some parameters only make sense in one of them.
enum class Source { stdin_text, argv };

// What the parse collects before the target is settled (nodename over plug over port).
struct State {
    AgentArgs a;
    std::string nodename, plug, port;
    bool action_seen = false;
    Source source = Source::argv;
};

// The content types of fence-agents' metadata schema.
enum class Type { boolean, string, second, integer, select };

using Setter = Result<void> (*)(State&, std::string_view value);

struct Param {
    const char* name;
    char short_opt;  // 0: long option only
    Type type;
    const char* def;        // the default the metadata shows; nullptr: none
    bool required;          // in the metadata
    bool deprecated;        // in the metadata
    const char* obsoletes;  // nullptr: none
    const char* argname;    // the value's name in --help and getopt mixed= ("[nodename]")
    std::span<const char* const> options;  // Type::select
    const char* shortdesc;                 // empty: accepted, but in neither metadata nor --help
    Setter set;
    bool argv_only = false;
};

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

// A value as an error message quotes it: between single quotes, at most 80 bytes (the input is
// whatever arrived on stdin; quoted_text says what gets through).
std::string shown(std::string_view v) { return quoted_text(v, 80, '\''); }

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

Unexpected bad(std::string_view param, std::string msg) {
    return fail(Errc::invalid_argument, std::string(param) + ": " + msg);
}

Result<bool> parse_bool(std::string_view param, std::string_view v) {
    const std::string l = lower(v);
    if (l == "1" || l == "yes" || l == "on" || l == "true") return true;
    if (l == "0" || l == "no" || l == "off" || l == "false") return false;
    return bad(param, "not a boolean: " + shown(v) + " (1, yes, on, true or 0, no, off, false)");
}

// Whole seconds (fencing.py reads delay with int()), at most a day.
Result<std::chrono::seconds> parse_whole_seconds(std::string_view param, std::string_view v) {
    if (v.empty() || v.size() > 6 ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return bad(param, "not a number of seconds: " + shown(v));
    const long n = std::stol(std::string(v));
    if (n > 86400) return bad(param, std::string(v) + " s is more than a day");
    return std::chrono::seconds(n);
}

// Seconds with up to three decimals ("50", "2.5"), above 0 and at most a day.
Result<std::chrono::milliseconds> parse_seconds_ms(std::string_view param, std::string_view v) {
    const size_t dot = v.find('.');
    const std::string_view whole = v.substr(0, dot);
    const std::string_view frac = dot == std::string_view::npos ? "" : v.substr(dot + 1);
    auto digits = [](std::string_view d) {
        return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (whole.empty() || whole.size() > 6 || !digits(whole) || frac.size() > 3 || !digits(frac) ||
        (dot != std::string_view::npos && frac.empty()))
        return bad(param, "not a number of seconds: " + shown(v));
    long ms = std::stol(std::string(whole)) * 1000;
    if (!frac.empty()) {
        std::string f(frac);
        f.resize(3, '0');
        ms += std::stol(f);
    }
    if (ms <= 0) return bad(param, "must be above 0 s");
    if (ms > 86400L * 1000) return bad(param, std::string(v) + " s is more than a day");
    return std::chrono::milliseconds(ms);
}

Result<void> set_action(State& s, std::string_view v) {
    const std::string l = lower(v);
    static constexpr std::pair<std::string_view, Action> kNames[] = {
        {"on", Action::on},
        {"off", Action::off},
        {"status", Action::status},
        {"monitor", Action::monitor},
        {"metadata", Action::metadata},
        {"manpage", Action::manpage},
        {"validate-all", Action::validate_all},
        // fencing.py's aliases: meta-data for every agent, enable/disable for fabric agents.
        {"meta-data", Action::metadata},
        {"enable", Action::on},
        {"disable", Action::off},
    };
    for (const auto& [name, action] : kNames) {
        if (l == name) {
            s.a.action = action;
            s.action_seen = true;
            return {};
        }
    }
    // Pacemaker's fencer classifies stderr containing "unsupported action" or "unrecognised
    // action" as EOPNOTSUPP, so both messages carry those words.
    if (l == "reboot" || l == "list" || l == "list-status")
        return fail(Errc::unsupported,
                    "action: unsupported action " + shown(v) +
                        ": fence_prfence is a fabric agent (Pacemaker turns reboot into off; "
                        "pcmk_host_list or pcmk_host_map names the nodes instead of list)");
    return fail(Errc::unsupported, "action: unrecognised action " + shown(v) +
                                       " (on, off, status, monitor, metadata, manpage or "
                                       "validate-all)");
}

Result<void> set_plug(State& s, std::string_view v) {
    s.plug = std::string(v);
    return {};
}
Result<void> set_port(State& s, std::string_view v) {
    s.port = std::string(v);
    return {};
}
Result<void> set_nodename(State& s, std::string_view v) {
    s.nodename = std::string(v);
    return {};
}

Result<void> set_key(State& s, std::string_view v) {
    auto key = parse_hex_u64(v);
    if (!key)
        return bad("key",
                   "not a reservation key: " + shown(v) + " (1 to 16 hex digits, 0x optional)");
    if (*key == 0)
        return bad("key",
                   "0 is not a usable key (a PERSISTENT RESERVE OUT with service action key "
                   "0 unregisters)");
    s.a.key = *key;
    return {};
}

Result<void> set_key_value(State& s, std::string_view v) {
    const std::string l = lower(v);
    if (l == "id")
        s.a.key_value = cluster::KeyMethod::id;
    else if (l == "hash")
        s.a.key_value = cluster::KeyMethod::hash;
    else
        return bad("key_value", shown(v) + " is neither id nor hash");
    return {};
}

Result<void> set_devices(State& s, std::string_view v) {
    s.a.devices.clear();
    size_t i = 0;
    while (i < v.size()) {
        const size_t end = v.find_first_of(", \t\r\n", i);
        const std::string_view d = v.substr(i, end == std::string_view::npos ? v.npos : end - i);
        if (!d.empty()) s.a.devices.emplace_back(d);
        if (end == std::string_view::npos) break;
        i = end + 1;
    }
    return {};
}

Result<void> set_group(State& s, std::string_view v) {
    s.a.group = std::string(v);
    return {};
}
Result<void> set_socket(State& s, std::string_view v) {
    s.a.socket = std::string(v);
    return {};
}

Result<void> set_type(State& s, std::string_view v) {
    auto t = wire::parse_type(v);
    if (!t)
        return bad("type", "not a reservation type: " + shown(v) +
                               " (1, 3, 5, 6, 7, 8 or WE, EA, WE-RO, EA-RO, WE-AR, EA-AR)");
    s.a.type = *t;
    return {};
}

Result<void> set_aptpl(State& s, std::string_view v) {
    PRF_TRY_ASSIGN(s.a.aptpl, parse_bool("aptpl", v));
    return {};
}
Result<void> set_verbose(State& s, std::string_view v) {
    PRF_TRY_ASSIGN(s.a.verbose, parse_bool("verbose", v));
    return {};
}
Result<void> set_help(State& s, std::string_view v) {
    PRF_TRY_ASSIGN(s.a.help, parse_bool("help", v));
    return {};
}
Result<void> set_version(State& s, std::string_view v) {
    PRF_TRY_ASSIGN(s.a.version, parse_bool("version", v));
    return {};
}

Result<void> set_delay(State& s, std::string_view v) {
    PRF_TRY_ASSIGN(s.a.delay, parse_whole_seconds("delay", v));
    return {};
}
Result<void> set_deadline(State& s, std::string_view v) {
    PRF_TRY_ASSIGN(s.a.deadline, parse_seconds_ms("deadline", v));
    return {};
}

Result<void> set_key_file(State& s, std::string_view v) {
    s.a.key_file = std::string(v);
    return {};
}
Result<void> set_cmap_path(State& s, std::string_view v) {
    if (v.empty()) return bad("corosync_cmap_path", "empty");
    s.a.cmap_path = std::string(v);
    return {};
}
Result<void> set_initiator(State& s, std::string_view v) {
    s.a.initiator = std::string(v);
    return {};
}
Result<void> set_sys(State& s, std::string_view v) {
    if (v.empty()) return bad("sys", "empty");
    s.a.sysfs_root = std::string(v);
    return {};
}
Result<void> set_dev(State& s, std::string_view v) {
    if (v.empty()) return bad("dev", "empty");
    s.a.dev_root = std::string(v);
    return {};
}
Result<void> set_transport(State& s, std::string_view v) {
    if (v != "uring" && v != "sgio") return bad("transport", shown(v) + ": uring or sgio");
    s.a.transport = std::string(v);
    return {};
}
Result<void> set_multipathd_socket(State& s, std::string_view v) {
    s.a.multipathd_socket = std::string(v);
    return {};
}
// Pacemaker sends nodeid only to agents whose metadata declares it; this one does not, but a
// configuration written for an agent that does still works.
Result<void> ignore(State&, std::string_view) { return {}; }

constexpr const char* kActions[] = {"on",       "off",     "status",      "monitor",
                                    "metadata", "manpage", "validate-all"};
constexpr const char* kKeyValues[] = {"id", "hash"};

// The one table. Its order is the metadata's and --help's order.
const Param kParams[] = {
    {"action", 'o', Type::select, "off", true, false, nullptr, "[action]", kActions,
     "Fencing action: on (unfence this node: register its key), off (fence the target: preempt "
     "its key), status, monitor, metadata, manpage or validate-all",
     set_action},
    {"plug",
     'n',
     Type::string,
     nullptr,
     false,
     false,
     "port",
     "[nodename]",
     {},
     "Name of the node the action is for; its key is derived from it unless key is given. "
     "nodename wins over plug, as in fence_scsi",
     set_plug},
    {"port",
     0,
     Type::string,
     nullptr,
     false,
     true,
     nullptr,
     "[nodename]",
     {},
     "Name of the node the action is for (the old name of plug)",
     set_port},
    {"nodename",
     0,
     Type::string,
     nullptr,
     false,
     false,
     nullptr,
     "[nodename]",
     {},
     "Name of the node the action is for, as Pacemaker's fencer sends it; wins over plug and port",
     set_nodename},
    {"key",
     'k',
     Type::string,
     nullptr,
     false,
     false,
     nullptr,
     "[key]",
     {},
     "Reservation key in hex (0x optional, not 0): for on the local node's key, for off the key "
     "to remove. When absent it is derived from the node name as fence_scsi does",
     set_key},
    {"key_value", 0, Type::select, "id", false, false, nullptr, "<id|hash>", kKeyValues,
     "How the key is derived, as fence_scsi does: id uses the node's position in corosync's "
     "nodelist, hash part of md5 of the node name",
     set_key_value},
    {"devices",
     'd',
     Type::string,
     nullptr,
     false,
     false,
     nullptr,
     "[devices]",
     {},
     "Comma- or space-separated list of LUs (/dev/sdX, /dev/sgN, /dev/disk/by-id/..., "
     "/dev/mapper/..., globs, @FILE for a list file, sim:SOCKET:RANGE). Not with group",
     set_devices},
    {"group",
     0,
     Type::string,
     nullptr,
     false,
     false,
     nullptr,
     "[group]",
     {},
     "A prfenced LUN group: the action runs in prfenced over the group's LUs. Not with devices",
     set_group},
    {"socket",
     0,
     Type::string,
     "/run/prfence/control.sock",
     false,
     false,
     nullptr,
     "[path]",
     {},
     "prfenced's control socket, with group",
     set_socket},
    {"type",
     0,
     Type::string,
     "5",
     false,
     false,
     nullptr,
     "[type]",
     {},
     "Reservation type: 1, 3, 5, 6, 7, 8 or WE, EA, WE-RO, EA-RO, WE-AR, EA-AR. fence_scsi uses "
     "5 (WE-RO)",
     set_type},
    {"aptpl",
     'a',
     Type::boolean,
     nullptr,
     false,
     false,
     nullptr,
     "",
     {},
     "Use the APTPL flag for registrations (on only)",
     set_aptpl},
    {"delay",
     0,
     Type::second,
     "0",
     false,
     false,
     nullptr,
     "[seconds]",
     {},
     "Wait this many seconds before off",
     set_delay},
    {"deadline",
     0,
     Type::second,
     "50",
     false,
     false,
     nullptr,
     "[seconds]",
     {},
     "Deadline of the whole action from the agent's start; keep it below pcmk_off_timeout so "
     "that the agent reports before the fencer kills it",
     set_deadline},
    {"key_file",
     0,
     Type::string,
     nullptr,
     false,
     false,
     nullptr,
     "[path]",
     {},
     "The local node's key file, written by on and read by off (default /var/run/cluster.key, "
     "falling back to /var/run/cluster/fence_scsi.key, fence_scsi's files)",
     set_key_file},
    {"corosync_cmap_path",
     0,
     Type::string,
     "/usr/sbin/corosync-cmapctl",
     false,
     false,
     nullptr,
     "[path]",
     {},
     "Path to corosync-cmapctl, which the derived keys need",
     set_cmap_path},
    {"initiator",
     0,
     Type::string,
     nullptr,
     false,
     false,
     nullptr,
     "[transportid]",
     {},
     "For sim: LUs, the TransportID to speak as",
     set_initiator},
    {"verbose",
     'v',
     Type::boolean,
     nullptr,
     false,
     false,
     nullptr,
     "",
     {},
     "Verbose mode: each LU's outcome on stderr",
     set_verbose},
    {"version",
     'V',
     Type::boolean,
     nullptr,
     false,
     false,
     nullptr,
     "",
     {},
     "Display version information and exit",
     set_version,
     true},
    {"help",
     'h',
     Type::boolean,
     nullptr,
     false,
     false,
     nullptr,
     "",
     {},
     "Display help and exit",
     set_help,
     true},
    {"nodeid", 0, Type::string, nullptr, false, false, nullptr, "", {}, "", ignore},
    // Hidden: tests point the direct back end at a fake sysfs, /dev and multipathd.
    {"sys", 0, Type::string, nullptr, false, false, nullptr, "", {}, "", set_sys},
    {"dev", 0, Type::string, nullptr, false, false, nullptr, "", {}, "", set_dev},
    {"transport", 0, Type::string, nullptr, false, false, nullptr, "", {}, "", set_transport},
    {"multipathd_socket",
     0,
     Type::string,
     nullptr,
     false,
     false,
     nullptr,
     "",
     {},
     "",
     set_multipathd_socket},
};

std::string normalize(std::string_view name) {
    std::string n = lower(name);
    std::replace(n.begin(), n.end(), '-', '_');
    return n;
}

const Param* find_param(std::string_view name) {
    const std::string n = normalize(name);
    for (const auto& p : kParams)
        if (n == p.name) return &p;
    return nullptr;
}

std::string dashed(const char* name) {
    std::string n(name);
    std::replace(n.begin(), n.end(), '_', '-');
    return n;
}

// "-o, --action=[action]", as fencing.py's metadata and help show options.
std::string getopt_text(const Param& p) {
    std::string s;
    if (p.short_opt) s = std::string("-") + p.short_opt + ", ";
    s += "--" + dashed(p.name);
    if (p.type != Type::boolean) s += std::string("=") + p.argname;
    return s;
}

Result<AgentArgs> finish(State&& s) {
    // With pcmk_host_map, the fencer sends the node's alias as port (or plug) and the node's name
    // as nodename. The key derives from nodename, as in fence_scsi; a map meant to carry keys
    // needs pcmk_host_argument=key, and saying so spares a user a fence with the wrong key.
    const std::string& alias = !s.plug.empty() ? s.plug : s.port;
    if (!s.nodename.empty() && !alias.empty() && alias != s.nodename && !s.a.key)
        s.a.warnings.push_back((!s.plug.empty() ? "plug=" : "port=") + alias +
                               " differs from nodename=" + s.nodename +
                               ": the key derives from nodename, as in fence_scsi (to pass keys "
                               "through pcmk_host_map, set pcmk_host_argument=key)");
    if (!s.nodename.empty())
        s.a.target = std::move(s.nodename);
    else if (!s.plug.empty())
        s.a.target = std::move(s.plug);
    else
        s.a.target = std::move(s.port);
    return std::move(s.a);
}

std::string xml_escape(std::string_view s) {
    std::string r;
    for (char c : s) {
        switch (c) {
            case '&':
                r += "&amp;";
                break;
            case '<':
                r += "&lt;";
                break;
            case '>':
                r += "&gt;";
                break;
            case '"':
                r += "&quot;";
                break;
            default:
                r += c;
        }
    }
    return r;
}

const char* type_text(Type t) {
    switch (t) {
        case Type::boolean:
            return "boolean";
        case Type::string:
            return "string";
        case Type::second:
            return "second";
        case Type::integer:
            return "integer";
        case Type::select:
            return "select";
    }
    return "string";
}

}  // namespace

const char* action_name(Action a) {
    switch (a) {
        case Action::on:
            return "on";
        case Action::off:
            return "off";
        case Action::status:
            return "status";
        case Action::monitor:
            return "monitor";
        case Action::metadata:
            return "metadata";
        case Action::manpage:
            return "manpage";
        case Action::validate_all:
            return "validate-all";
    }
    return "?";
}

Result<AgentArgs> parse_stdin(std::string_view input) {
    static constexpr std::string_view kLargeLists =
        "Pacemaker's fencer stops writing an agent's stdin at about 64 KiB without telling it, so "
        "the end of the parameters may be missing; put large device lists in group= (a prfenced "
        "LUN group) or devices=@FILE (a list file)";
    if (input.empty())
        return fail(Errc::invalid_argument,
                    "no parameters on stdin: expected name=value lines, each ending with a "
                    "newline, including action= (or give options on the command line: --help)");
    if (input.size() > kMaxStdin)
        return fail(Errc::truncated, "input truncated: " + std::to_string(input.size()) +
                                         " bytes arrived on stdin, more than the " +
                                         std::to_string(kMaxStdin) + " this agent accepts. " +
                                         std::string(kLargeLists));
    if (input.back() != '\n')
        return fail(Errc::truncated, "input truncated: " + std::to_string(input.size()) +
                                         " bytes arrived on stdin and the last line has no "
                                         "newline. " +
                                         std::string(kLargeLists));
    State s;
    s.source = Source::stdin_text;
    size_t lineno = 0;
    std::string_view rest = input;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        std::string_view line = trim(rest.substr(0, nl));
        rest.remove_prefix(nl + 1);
        ++lineno;
        if (line.empty() || line.front() == '#') continue;
        const std::string where = "stdin line " + std::to_string(lineno);
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos)
            return fail(Errc::invalid_argument, where + ": " + shown(line) + " is not name=value");
        const std::string_view name = trim(line.substr(0, eq));
        std::string_view value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        if (name.empty()) return fail(Errc::invalid_argument, where + ": no name before '='");
        const Param* p = find_param(name);
        if (!p) {
            s.a.warnings.push_back(where + ": ignoring unknown parameter " + shown(name));
            continue;
        }
        if (p->argv_only) {
            s.a.warnings.push_back(where + ": ignoring " + shown(name) +
                                   ", which only the command line takes");
            continue;
        }
        PRF_TRY(p->set(s, value));
    }
    if (!s.action_seen)
        return fail(Errc::invalid_argument,
                    "action: missing on stdin (the fencer always sends it; input without it is "
                    "not run with a default action)");
    return finish(std::move(s));
}

Result<AgentArgs> parse_argv(int argc, char** argv) {
    State s;
    s.source = Source::argv;
    std::vector<option> longopts;
    std::vector<std::string> names;  // owns the option names getopt_long points into
    names.reserve(2 * std::size(kParams));
    std::string shortopts = ":";
    for (size_t i = 0; i < std::size(kParams); ++i) {
        const Param& p = kParams[i];
        const int has_arg = p.type == Type::boolean ? optional_argument : required_argument;
        const int val = 256 + static_cast<int>(i);
        names.emplace_back(p.name);
        longopts.push_back({names.back().c_str(), has_arg, nullptr, val});
        if (dashed(p.name) != p.name) {
            names.push_back(dashed(p.name));
            longopts.push_back({names.back().c_str(), has_arg, nullptr, val});
        }
        if (p.short_opt) {
            shortopts += p.short_opt;
            if (p.type != Type::boolean) shortopts += ':';
        }
    }
    longopts.push_back({nullptr, 0, nullptr, 0});

    optind = 0;  // glibc: start over, as a second call (tests) needs
    opterr = 0;
    for (;;) {
        int idx = -1;
        const int c = getopt_long(argc, argv, shortopts.c_str(), longopts.data(), &idx);
        if (c == -1) break;
        const char* seen = argv[optind - 1] ? argv[optind - 1] : "";
        if (c == '?') {
            if (optopt && optopt < 256)
                return fail(Errc::invalid_argument, std::string("unknown option '-") +
                                                        static_cast<char>(optopt) +
                                                        "' (--help lists them)");
            return fail(Errc::invalid_argument,
                        std::string("unknown option '") + seen + "' (--help lists them)");
        }
        if (c == ':')
            return fail(Errc::invalid_argument,
                        std::string("option '") + seen + "' needs a value (--help lists them)");
        const Param* p = nullptr;
        if (c >= 256) {
            p = &kParams[c - 256];
        } else {
            for (const auto& q : kParams)
                if (q.short_opt == c) p = &q;
        }
        if (!p) return fail(Errc::invalid_argument, std::string("unknown option '") + seen + "'");
        const std::string_view value =
            optarg ? std::string_view(optarg) : (p->type == Type::boolean ? "1" : "");
        PRF_TRY(p->set(s, value));
    }
    if (optind < argc)
        return fail(Errc::invalid_argument,
                    std::string("unexpected argument '") + argv[optind] +
                        "': parameters are options (--action=off, -o off; --help lists them)");
    return finish(std::move(s));
}

Result<void> validate(const AgentArgs& a) {
    if (a.action == Action::metadata || a.action == Action::manpage) return {};
    const bool has_devices = !a.devices.empty(), has_group = !a.group.empty();
    if (has_devices && has_group)
        return fail(Errc::invalid_argument,
                    "devices and group exclude each other: give devices= for LUs this agent "
                    "opens itself, or group= for a prfenced LUN group, not both");
    if (!has_devices && !has_group)
        return fail(Errc::invalid_argument,
                    "no LUs: give devices= (a list of LUs, or @FILE for a list file) or group= "
                    "(a prfenced LUN group)");
    if (!a.socket.empty() && !has_group)
        return fail(Errc::invalid_argument,
                    "socket: only used with group= (devices= are opened by the agent itself)");
    if ((a.action == Action::on || a.action == Action::off || a.action == Action::status) &&
        !a.key && a.target.empty())
        return fail(Errc::invalid_argument,
                    std::string(action_name(a.action)) +
                        ": needs key= or a node to derive the key from (nodename=, plug= or "
                        "port=)");
    if (std::chrono::duration_cast<std::chrono::milliseconds>(a.delay) >= a.deadline)
        return fail(Errc::invalid_argument,
                    "delay: " + std::to_string(a.delay.count()) + " s is not below the deadline (" +
                        std::to_string(a.deadline.count()) + " ms): the action could never run");
    return {};
}

std::string metadata_xml() {
    std::string x;
    x += "<?xml version=\"1.0\" ?>\n";
    x += "<resource-agent name=\"fence_prfence\" shortdesc=\"Fence agent for SCSI persistent "
         "reservations over io_uring (prfence)\">\n";
    x +=
        "<longdesc>fence_prfence is an I/O fencing agent that uses SCSI-3 persistent reservations, "
        "like fence_scsi, with the same keys and reservation type, so that a cluster can replace "
        "fence_scsi with it without re-keying its LUs. Each node registers its key on the LUs "
        "when it is unfenced (on, run on the node itself); off preempts the target's key on "
        "every LU in one batch and checks that it is gone. The LUs are named with devices= or "
        "kept open by the prfenced daemon as a LUN group (group=). Keep the parameters well "
        "below 64 KiB: use group= or devices=@FILE for long LU lists.</longdesc>\n";
    x += "<vendor-url></vendor-url>\n";
    x += "<parameters>\n";
    for (const auto& p : kParams) {
        if (!*p.shortdesc) continue;
        x += "\t<parameter name=\"";
        x += p.name;
        x += "\" unique=\"0\" required=\"";
        x += p.required ? "1" : "0";
        x += "\"";
        if (p.deprecated) x += " deprecated=\"1\"";
        if (p.obsoletes) x += std::string(" obsoletes=\"") + p.obsoletes + "\"";
        x += ">\n";
        x += "\t\t<getopt mixed=\"" + xml_escape(getopt_text(p)) + "\" />\n";
        x += std::string("\t\t<content type=\"") + type_text(p.type) + "\"";
        if (p.def) x += " default=\"" + xml_escape(p.def) + "\"";
        if (p.type == Type::select) {
            x += ">\n";
            for (const char* o : p.options)
                x += "\t\t\t<option value=\"" + xml_escape(o) + "\" />\n";
            x += "\t\t</content>\n";
        } else {
            x += " />\n";
        }
        x += "\t\t<shortdesc lang=\"en\">" + xml_escape(p.shortdesc) + "</shortdesc>\n";
        x += "\t</parameter>\n";
    }
    x += "</parameters>\n";
    // No reboot and no list. This is fabric fencing: the node is cut off from its LUs, not power
    // cycled, and Pacemaker turns a reboot into off for an agent without reboot. A list would have
    // to come from the LUs' registrations, which name keys, not nodes; the nodes are configured
    // with pcmk_host_list or pcmk_host_map, a static list that also spares a status probe before
    // each fence.
    x += "<actions>\n";
    x += "\t<action name=\"on\" on_target=\"1\" automatic=\"1\" />\n";
    for (const char* a : {"off", "status", "monitor", "metadata", "manpage", "validate-all"})
        x += std::string("\t<action name=\"") + a + "\" />\n";
    x += "</actions>\n";
    x += "</resource-agent>\n";
    return x;
}

std::string usage_text() {
    std::string u =
        "Usage:\n"
        "\tfence_prfence [options]\n"
        "\tfence_prfence < parameters (name=value lines, as Pacemaker's fencer sends them)\n"
        "Options:\n";
    for (const auto& p : kParams) {
        if (!*p.shortdesc) continue;
        std::string opt = "   " + getopt_text(p);
        if (opt.size() < 34)
            opt.resize(34, ' ');
        else
            opt += "\n" + std::string(34, ' ');
        u += opt;
        // Wrapped at 100 columns under the description column.
        std::string desc = p.shortdesc;
        if (p.def) desc += std::string(" (default ") + p.def + ")";
        std::string_view d = desc;
        size_t col = 34;
        bool first = true;
        while (!d.empty()) {
            size_t sp = d.find(' ');
            std::string_view w = d.substr(0, sp);
            if (!first && col + 1 + w.size() > 100) {
                u += "\n" + std::string(34, ' ');
                col = 34;
                first = true;
            }
            if (!first) {
                u += ' ';
                ++col;
            }
            u += w;
            col += w.size();
            first = false;
            if (sp == std::string_view::npos) break;
            d.remove_prefix(sp + 1);
        }
        u += "\n";
    }
    u += "Exit status: 0 success (status: registered), 1 failure, 2 status: not registered.\n";
    return u;
}

}  // namespace prfence::agent
