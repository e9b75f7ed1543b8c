// SPDX-License-Identifier: MIT
// Daemon mode: `prfence --daemon[=SOCKET] SUBCOMMAND ...` sends the operation to prfenced, which
// holds the LUN group open, and prints the answer exactly as direct mode prints a batch. Also the
// subcommands that only make sense with a daemon: group management, health, stats, events and ping.
#include <linux/netlink.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

#include "nl_control/client/client.h"
#include "tools/prfence/commands.h"
#include "tools/prfence/outcome_render.h"
#include "uring_engine/session/path_set.h"

namespace prfence::cli {
namespace {

int category_exit(wire::Category c) { return wire::exit_code(c); }

// prfenced's refusals as sg3_utils exit categories: the operator's mistake (1), a group or daemon
// that is not there (15), anything else (99).
int errno_exit(int err) {
    switch (err) {
        case EINVAL:
        case EEXIST:
        case EOPNOTSUPP:
            return category_exit(wire::Category::syntax_error);
        case ENOENT:
        case EPERM:
        case EACCES:
            return category_exit(wire::Category::file_error);
        default:
            return category_exit(wire::Category::other);
    }
}

std::string errno_name(int err) {
    switch (err) {
        case EINVAL:
            return "EINVAL";
        case ENOENT:
            return "ENOENT";
        case EEXIST:
            return "EEXIST";
        case EPERM:
            return "EPERM";
        case EOPNOTSUPP:
            return "EOPNOTSUPP";
        case EPROTONOSUPPORT:
            return "EPROTONOSUPPORT";
        case EMSGSIZE:
            return "EMSGSIZE";
        case ECANCELED:
            return "ECANCELED";
        case EBUSY:
            return "EBUSY";
        default:
            return "errno " + std::to_string(err);
    }
}

int report_error(const std::string& what, const Error& e) {
    std::fprintf(stderr, "prfence %s: %s\n", what.c_str(), e.msg.c_str());
    return category_exit(wire::Category::file_error);
}

// The first refusal among the answers, if any (printed; its exit code returned).
std::optional<int> refused(const std::string& what, const std::vector<nl::Answer>& answers) {
    for (const auto& a : answers)
        if (a.err() != 0) {
            std::fprintf(stderr, "prfence %s: prfenced refused (%s): %s\n", what.c_str(),
                         errno_name(a.err()).c_str(),
                         a.err_msg().empty() ? std::strerror(a.err()) : a.err_msg().c_str());
            return errno_exit(a.err());
        }
    return std::nullopt;
}

Result<std::vector<nl::Answer>> call(const std::string& socket, nl::Request req) {
    PRF_TRY_ASSIGN(nl::Client c, nl::Client::connect_checked(socket));
    return c.call(std::move(req));
}

const char* transport_name(nl::SgTransport t) {
    return t == nl::SG_TRANSPORT_SGIO ? "sgio" : "uring";
}

Json group_json(const nl::GroupInfo& g) {
    Json j{{"name", g.name},
           {"devices", g.devices},
           {"luns", g.luns},
           {"paths_open", g.paths_open},
           {"sg_transport", transport_name(g.sg_transport)}};
    if (!g.initiator.empty()) j["initiator"] = g.initiator;
    if (g.target_port) j["target_port"] = *g.target_port;
    j["key"] = g.key ? Json(hex_u64(*g.key)) : Json(nullptr);
    if (!g.hostnqn.empty()) j["hostnqn"] = g.hostnqn;
    if (g.hostid) j["hostid"] = hostid_hex(*g.hostid);
    j["problems"] = g.problems;
    return j;
}

std::string group_text(const nl::GroupInfo& g) {
    std::string s = g.name + ": " + std::to_string(g.luns) + " LUNs, " +
                    std::to_string(g.paths_open) + " paths open";
    if (!g.initiator.empty()) s += ", initiator " + g.initiator;
    if (g.target_port) s += ", target port " + std::to_string(*g.target_port);
    if (g.key) s += ", key " + hex_u64(*g.key);
    if (!g.hostnqn.empty()) s += ", hostnqn " + g.hostnqn;
    if (g.hostid) s += ", hostid " + hostid_hex(*g.hostid);
    s += ", " + std::string(transport_name(g.sg_transport)) + "\n";
    for (const auto& d : g.devices) s += "    " + d + "\n";
    for (const auto& p : g.problems) s += "    problem: " + p + "\n";
    return s;
}

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }
double us(uint64_t ns) { return static_cast<double>(ns) / 1e3; }

Json stats_json(const nl::OpStats& s) {
    Json j{{"name", s.name},
           {"count", s.count},
           {"failed", s.failed},
           {"min_us", us(s.min_ns)},
           {"max_us", us(s.max_ns)},
           {"mean_us", s.count ? us(s.sum_ns) / static_cast<double>(s.count) : 0.0},
           {"p50_us", us(s.p50_ns)},
           {"p99_us", us(s.p99_ns)}};
    Json b = Json::object();
    for (size_t i = 0; i < s.buckets.size(); ++i)
        if (s.buckets[i]) b["<" + std::to_string(1ull << (i + 1)) + "us"] = s.buckets[i];
    j["histogram"] = b;
    return j;
}

Json event_json(const nl::Event& e) {
    static const char* kKinds[] = {"", "op_done", "conflict", "group", "dropped"};
    Json j{{"kind", e.kind <= nl::EVENT_DROPPED ? kKinds[e.kind] : "unknown"},
           {"time_ns", e.time_ns}};
    if (!e.group.empty()) j["group"] = e.group;
    if (e.summary) {
        Json s = summary_json(e.summary->batch);
        if (e.summary->operation) s["operation"] = engine::operation_name(*e.summary->operation);
        s["queued_ms"] = ms(e.summary->queued_ns);
        j["summary"] = s;
    }
    if (e.conflict) {
        static const char* kClass[] = {"UNKNOWN",        "FENCED",        "RESERVED_BY_OTHER",
                                       "NOT_REGISTERED", "RESERVED_SPC2", "TRANSIENT"};
        const auto& c = *e.conflict;
        Json cj{{"class", c.cls <= nl::CONFLICT_TRANSIENT ? kClass[c.cls] : "UNKNOWN"},
                {"device", c.device},
                {"hctl", c.hctl},
                {"wwid", c.wwid},
                {"op", c.op},
                {"sector", c.sector},
                {"count", c.count},
                {"text", c.text}};
        if (c.our_key) cj["our_key"] = hex_u64(*c.our_key);
        if (c.holder_key) cj["holder_key"] = hex_u64(*c.holder_key);
        if (c.type) cj["type"] = *c.type;
        j["conflict"] = cj;
    }
    if (!e.text.empty()) j["text"] = e.text;
    return j;
}

// A multi-part run answer (LUN parts, summary) printed exactly as direct mode prints a batch.
int render_run(const std::string& op, std::vector<nl::Answer>& answers, const DaemonRunOptions& o) {
    auto run = nl::assemble_run_answer(answers);
    if (!run) {
        std::fprintf(stderr, "prfence %s: %s\n", op.c_str(), run.error().msg.c_str());
        return category_exit(wire::Category::other);
    }
    const nl::Summary& summary = run->summary;
    if (o.json) {
        Json j = batch_json(op, run->outcomes, summary.batch);
        j["summary"]["group"] = summary.group.empty()
                                    ? (o.groups.empty() ? std::string() : o.groups[0])
                                    : summary.group;
        j["summary"]["queued_ms"] = ms(summary.queued_ns);
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << batch_text(op, run->outcomes, summary.batch, o.failures_only);
    }
    return category_exit(summary.batch.worst);
}

}  // namespace

std::optional<std::string> take_daemon_option(int& argc, char** argv) {
    std::optional<std::string> socket;
    int out = 1;
    bool before_subcommand = true;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (before_subcommand && a == "--daemon") {
            socket = nl::kDefaultSocket;
            continue;
        }
        if (before_subcommand && a.starts_with("--daemon=")) {
            socket = std::string(a.substr(9));
            continue;
        }
        if (!a.starts_with("-")) before_subcommand = false;
        argv[out++] = argv[i];
    }
    argc = out;
    argv[argc] = nullptr;
    return socket;
}

int run_via_daemon(const std::string& socket, const std::string& op, const engine::OpSpec& spec,
                   const DaemonRunOptions& o) {
    // Checked here first: the same message as direct mode, without a round trip. Without --key the
    // group's own key may apply, which only the daemon knows: it checks then.
    if (auto m = engine::make_operation(spec); !m && spec.key) {
        std::fprintf(stderr, "prfence: %s\n", m.error().msg.c_str());
        return category_exit(wire::Category::syntax_error);
    }
    if (o.groups.size() != 1) {
        std::fprintf(
            stderr,
            "prfence %s: with --daemon, name exactly one LUN group (prfence --daemon group list)\n",
            op.c_str());
        return category_exit(wire::Category::syntax_error);
    }
    nl::Request req;
    req.hdr.cmd = nl::CMD_RUN;
    req.group = o.groups[0];
    req.op = spec;
    req.has_operation = true;
    req.deadline_ms = o.deadline_ms;
    req.qd = o.qd;
    auto answers = call(socket, std::move(req));
    if (!answers) return report_error(op, answers.error());
    if (auto rc = refused(op, *answers)) return *rc;

    return render_run(op, *answers, o);
}

void add_daemon_only(CLI::App& app, Runner& run, const std::optional<std::string>& socket) {
    auto need_daemon = [&socket](const char* what) -> std::optional<int> {
        if (socket) return std::nullopt;
        std::fprintf(stderr,
                     "prfence %s: talks to prfenced; add --daemon[=SOCKET] before the subcommand\n",
                     what);
        return category_exit(wire::Category::syntax_error);
    };

    // ---- group
    CLI::App* group =
        app.add_subcommand("group", "LUN groups held open by prfenced (needs --daemon)");
    group->require_subcommand(1);
    struct GroupArgs {
        std::string name;
        std::vector<std::string> devices;
        std::string initiator, transport = "uring", key, hostnqn, hostid;
        uint16_t target_port = 0;
        bool json = false;
    };
    auto g = std::make_shared<GroupArgs>();
    auto group_call = [g, &socket, need_daemon](const char* what, nl::Cmd cmd,
                                                bool send_devices) -> int {
        if (auto rc = need_daemon(what)) return *rc;
        nl::Request req;
        req.hdr.cmd = cmd;
        req.group = g->name;
        if (send_devices) req.devices = g->devices;
        if (cmd == nl::CMD_GROUP_CREATE) {
            req.initiator = g->initiator;
            if (g->target_port) req.target_port = g->target_port;
            req.sg_transport =
                g->transport == "sgio" ? nl::SG_TRANSPORT_SGIO : nl::SG_TRANSPORT_URING;
            if (!g->key.empty()) {
                auto k = parse_hex_u64(g->key);
                if (!k || *k == 0) {
                    std::fprintf(stderr, "prfence %s: --key %s: %s\n", what, g->key.c_str(),
                                 k ? "0 is not a reservation key" : k.error().msg.c_str());
                    return category_exit(wire::Category::syntax_error);
                }
                req.op.key = *k;
            }
            // The NVMe host for prsim namespaces, judged as direct mode judges it (the same
            // messages); only what was given is sent, so the daemon derives the rest the same way.
            if (!g->hostnqn.empty() || !g->hostid.empty()) {
                auto h = engine::sim_nvme_host("", g->hostnqn, g->hostid);
                if (!h) {
                    std::fprintf(stderr, "prfence %s: %s\n", what, h.error().msg.c_str());
                    return category_exit(wire::Category::syntax_error);
                }
                if (!g->hostid.empty()) req.hostid = h->hostid;
                req.hostnqn = g->hostnqn;
            }
        }
        auto answers = call(*socket, std::move(req));
        if (!answers) return report_error(what, answers.error());
        if (auto rc = refused(what, *answers)) return *rc;
        if (cmd ==
            nl::CMD_GROUP_REFRESH) {  // answered like a run: the keys read back from every LUN
            DaemonRunOptions o;
            o.groups = {g->name};
            o.json = g->json;
            return render_run("refresh", *answers, o);
        }
        for (const auto& a : *answers)
            if (a.kind() == nl::Answer::Kind::group)
                std::cout << (g->json ? group_json(a.group()).dump(2) + "\n"
                                      : group_text(a.group()));
        return 0;
    };
    auto add_group_sub = [&](const char* name, const char* help, nl::Cmd cmd, bool devices) {
        CLI::App* s = group->add_subcommand(name, help);
        s->add_option("name", g->name, "Group name ([A-Za-z0-9._-], up to 64)")->required();
        if (devices)
            s->add_option("devices", g->devices,
                          "Devices as direct mode takes them (sd, sg, by-id, mapper, globs, "
                          "sim:SOCKET:RANGE)")
                ->required();
        if (cmd == nl::CMD_GROUP_CREATE) {
            s->add_option("--initiator", g->initiator,
                          "sim LUNs: the TransportID the daemon speaks as for this group");
            s->add_option("--target-port", g->target_port, "sim LUNs: relative target port")
                ->check(CLI::Range(1, 65535));
            s->add_option("--transport", g->transport, "sg paths: uring or sgio")
                ->check(CLI::IsMember({"uring", "sgio"}));
            s->add_option("--key", g->key,
                          "this node's reservation key for the group (hex): used when an operation "
                          "names none, "
                          "and by prexplain --daemon as \"our key\"");
            s->add_option("--hostnqn", g->hostnqn,
                          "sim namespaces: the NVMe host NQN the group speaks as (default: from "
                          "--hostid, else from --initiator)");
            s->add_option("--hostid", g->hostid,
                          "sim namespaces: the NVMe host identifier, 32 hex digits (default: from "
                          "--hostnqn, else from --initiator)");
        }
        s->add_flag("--json", g->json, "JSON output");
        s->callback([&run, group_call, name, cmd, devices] {
            run = [=] { return group_call(name, cmd, devices); };
        });
    };
    add_group_sub("create", "Resolve DEVICES, open every path and keep them open under NAME",
                  nl::CMD_GROUP_CREATE, true);
    add_group_sub("add", "Add DEVICES to group NAME", nl::CMD_GROUP_ADD, true);
    add_group_sub("remove", "Remove DEVICES (as they were added) from group NAME",
                  nl::CMD_GROUP_REMOVE, true);
    add_group_sub("delete", "Close and forget group NAME", nl::CMD_GROUP_DELETE, false);
    add_group_sub("refresh", "Re-resolve and reopen group NAME, then read its keys again",
                  nl::CMD_GROUP_REFRESH, false);
    {
        CLI::App* s = group->add_subcommand(
            "list", "Every group (or NAME) with its LUNs, open paths and problems");
        s->add_option("name", g->name, "Only this group");
        s->add_flag("--json", g->json, "JSON output");
        s->callback([&run, g, &socket, need_daemon] {
            run = [g, &socket, need_daemon]() -> int {
                if (auto rc = need_daemon("group list")) return *rc;
                nl::Request req;
                req.hdr.cmd = nl::CMD_GROUP_LIST;
                req.hdr.flags = NLM_F_DUMP;
                req.group = g->name;
                auto answers = call(*socket, std::move(req));
                if (!answers) return report_error("group list", answers.error());
                if (auto rc = refused("group list", *answers)) return *rc;
                Json all = Json::array();
                for (const auto& a : *answers)
                    if (a.kind() == nl::Answer::Kind::group) {
                        if (g->json)
                            all.push_back(group_json(a.group()));
                        else
                            std::cout << group_text(a.group());
                    }
                if (g->json) std::cout << all.dump(2) << "\n";
                return 0;
            };
        });
    }

    // ---- health, stats
    auto json_flag = std::make_shared<bool>(false);
    auto reset = std::make_shared<bool>(false);
    CLI::App* health = app.add_subcommand(
        "health", "prfenced's state: uptime, groups, clients, batches (needs --daemon)");
    health->add_flag("--json", *json_flag, "JSON output");
    health->callback([&run, json_flag, &socket, need_daemon] {
        run = [json_flag, &socket, need_daemon]() -> int {
            if (auto rc = need_daemon("health")) return *rc;
            nl::Request req;
            req.hdr.cmd = nl::CMD_HEALTH;
            auto answers = call(*socket, std::move(req));
            if (!answers) return report_error("health", answers.error());
            if (auto rc = refused("health", *answers)) return *rc;
            for (const auto& a : *answers) {
                if (a.kind() != nl::Answer::Kind::health) continue;
                const auto& h = a.health();
                Json j{{"version", h.version},
                       {"pid", h.pid},
                       {"uptime_s", static_cast<double>(h.uptime_ns) / 1e9},
                       {"groups", h.groups},
                       {"luns", h.luns},
                       {"paths_open", h.paths_open},
                       {"clients", h.clients},
                       {"subscribers", h.subscribers},
                       {"subscribers_dropped", h.subscribers_dropped},
                       {"batches_running", h.batches_running},
                       {"batches_queued", h.batches_queued},
                       {"config", h.config}};
                if (*json_flag) {
                    std::cout << j.dump(2) << "\n";
                } else {
                    for (auto& [k, v] : j.items())
                        std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump())
                                  << "\n";
                }
            }
            return 0;
        };
    });
    CLI::App* stats = app.add_subcommand(
        "stats", "Per-operation latency histograms kept by prfenced (needs --daemon)");
    stats->add_flag("--json", *json_flag, "JSON output");
    stats->add_flag("--reset", *reset, "Clear the statistics after reading them");
    stats->callback([&run, json_flag, reset, &socket, need_daemon] {
        run = [json_flag, reset, &socket, need_daemon]() -> int {
            if (auto rc = need_daemon("stats")) return *rc;
            nl::Request req;
            req.hdr.cmd = nl::CMD_STATS;
            if (*reset) req.flags = nl::STATS_RESET;
            auto answers = call(*socket, std::move(req));
            if (!answers) return report_error("stats", answers.error());
            if (auto rc = refused("stats", *answers)) return *rc;
            Json all = Json::array();
            for (const auto& a : *answers) {
                if (a.kind() != nl::Answer::Kind::stats) continue;
                for (const auto& s : a.stats()) {
                    if (*json_flag) {
                        all.push_back(stats_json(s));
                    } else {
                        char line[256];
                        std::snprintf(line, sizeof line,
                                      "%-14s count %-8llu failed %-6llu min %.1f us  p50 <%.0f us  "
                                      "p99 <%.0f us  max %.1f us\n",
                                      s.name.c_str(), static_cast<unsigned long long>(s.count),
                                      static_cast<unsigned long long>(s.failed), us(s.min_ns),
                                      us(s.p50_ns), us(s.p99_ns), us(s.max_ns));
                        std::cout << line;
                    }
                }
            }
            if (*json_flag) std::cout << all.dump(2) << "\n";
            return 0;
        };
    });

    // ---- events
    auto count = std::make_shared<unsigned>(0);
    CLI::App* events = app.add_subcommand(
        "events",
        "Subscribe and print every completion and conflict as one JSON line (needs --daemon)");
    events->add_option("--count", *count, "Stop after this many events (0: until interrupted)");
    events->callback([&run, count, &socket, need_daemon] {
        run = [count, &socket, need_daemon]() -> int {
            if (auto rc = need_daemon("events")) return *rc;
            auto c = nl::Client::connect_checked(*socket);
            if (!c) return report_error("events", c.error());
            nl::Request req;
            req.hdr.cmd = nl::CMD_SUBSCRIBE;
            auto answers = c->call(std::move(req));
            if (!answers) return report_error("events", answers.error());
            if (auto rc = refused("events", *answers)) return *rc;
            for (unsigned n = 0; *count == 0 || n < *count; ++n) {
                auto ev = c->next_event();
                if (!ev) return report_error("events", ev.error());
                if (!*ev) continue;
                std::cout << event_json(**ev).dump() << std::endl;
            }
            return 0;
        };
    });

    // ---- ping: control round trips (the target is a p99 at most 50 us;
    // tests/bench/PERFORMANCE.md)
    auto pings = std::make_shared<unsigned>(1000);
    CLI::App* ping =
        app.add_subcommand("ping", "Time NOOP round trips to prfenced (needs --daemon)");
    ping->add_option("--count", *pings, "Round trips")->check(CLI::Range(1u, 10000000u));
    ping->add_flag("--json", *json_flag, "JSON output");
    ping->callback([&run, pings, json_flag, &socket, need_daemon] {
        run = [pings, json_flag, &socket, need_daemon]() -> int {
            if (auto rc = need_daemon("ping")) return *rc;
            auto c = nl::Client::connect_checked(*socket);
            if (!c) return report_error("ping", c.error());
            std::vector<uint64_t> lat;
            lat.reserve(*pings);
            for (unsigned i = 0; i < *pings; ++i) {
                nl::Request req;
                req.hdr.cmd = nl::CMD_NOOP;
                const auto t0 = std::chrono::steady_clock::now();
                auto answers = c->call(std::move(req));
                const auto t1 = std::chrono::steady_clock::now();
                if (!answers) return report_error("ping", answers.error());
                if (auto rc = refused("ping", *answers)) return *rc;
                lat.push_back(static_cast<uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
            }
            std::sort(lat.begin(), lat.end());
            auto pct = [&lat](double p) {
                size_t i =
                    static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(lat.size())));
                return lat[std::min(lat.size() - 1, i == 0 ? 0 : i - 1)];
            };
            Json j{{"count", lat.size()},      {"min_us", us(lat.front())},
                   {"p50_us", us(pct(50))},    {"p99_us", us(pct(99))},
                   {"p999_us", us(pct(99.9))}, {"max_us", us(lat.back())}};
            if (*json_flag)
                std::cout << j.dump(2) << "\n";
            else
                std::printf(
                    "%zu NOOP round trips: min %.1f us, p50 %.1f us, p99 %.1f us, p99.9 %.1f us, "
                    "max %.1f us\n",
                    lat.size(), us(lat.front()), us(pct(50)), us(pct(99)), us(pct(99.9)),
                    us(lat.back()));
            return 0;
        };
    });
}

}  // namespace prfence::cli
