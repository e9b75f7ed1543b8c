// SPDX-License-Identifier: MIT
// prsim: the LUN farm daemon, and `prsim ctl` to arm and disarm its faults at run time. Thin:
// options are parsed here and handed to the server library (prsim/server.h); this is the only place
// that logs.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "interposer/prsim/config.h"
#include "interposer/prsim/server.h"
#include "uring_engine/simproto/sim_client.h"

namespace {

using prfence::sim::Server;
using prfence::sim::ServerConfig;
using json = nlohmann::json;

// sg3_utils-style exit statuses (prsim(1), EXIT STATUS).
constexpr int kExitSyntax = 1;
constexpr int kExitFile = 15;
constexpr int kExitOther = 99;

Server* g_server = nullptr;

void on_signal(int) {
    if (g_server) g_server->stop();
}

struct ServeOptions {
    std::string socket, state_dir, trace, dmesg, kernel, config, profile, scheduler;
    uint32_t luns = 0;
    uint32_t nvme_namespaces = 0;
    std::string nvme_subnqn;
    uint16_t target_ports = 0;
    std::vector<std::string> faults;
    uint32_t max_in_flight = 0;
    uint64_t max_output = 0;
    uint32_t stall_ms = 0;
    uint64_t seed = 0;
};

int serve(CLI::App& app, const ServeOptions& o) {
    ServerConfig cfg;
    if (!o.config.empty()) {
        if (auto st = prfence::sim::load_config_file(o.config, cfg); !st) {
            std::fprintf(stderr, "prsim: %s\n", st.error().msg.c_str());
            return kExitSyntax;
        }
    }
    auto given = [&](const char* name) { return app.get_option(name)->count() > 0; };
    if (given("--socket")) cfg.socket_path = o.socket;
    if (given("--luns")) cfg.luns = o.luns;
    if (given("--nvme-namespaces")) cfg.nvme.namespaces = o.nvme_namespaces;
    if (given("--nvme-subnqn")) cfg.nvme.subnqn = o.nvme_subnqn;
    if (given("--target-ports")) cfg.target_ports = o.target_ports;
    if (given("--state-dir")) cfg.state_dir = o.state_dir;
    if (given("--trace")) cfg.trace.path = o.trace;
    if (given("--dmesg")) cfg.trace.dmesg_path = o.dmesg;
    if (given("--kernel-format")) {
        auto v = prfence::sim::parse_kernel_version(o.kernel);
        if (!v) {
            std::fprintf(stderr, "prsim: --kernel-format: %s\n", v.error().msg.c_str());
            return kExitSyntax;
        }
        cfg.trace.style.kernel = *v;
    }
    if (given("--scheduler")) cfg.trace.style.scheduler_tags = o.scheduler != "none";
    if (given("--profile")) cfg.lu_defaults["profile"] = o.profile;
    if (given("--max-in-flight")) cfg.limits.max_in_flight = o.max_in_flight;
    if (given("--max-output")) cfg.limits.max_output = o.max_output;
    if (given("--stall-ms")) cfg.limits.stall_ms = o.stall_ms;
    if (given("--seed")) cfg.seed = o.seed;
    for (const auto& f : o.faults) {
        auto spec = prfence::sim::parse_fault(f);
        if (!spec) {
            std::fprintf(stderr, "prsim: --fault %s: %s\n", f.c_str(), spec.error().msg.c_str());
            return kExitSyntax;
        }
        cfg.faults.push_back(std::move(spec).value());
    }
    cfg.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    if (auto st = prfence::sim::validate_config(cfg); !st) {
        std::fprintf(stderr, "prsim: %s\n", st.error().msg.c_str());
        return kExitSyntax;
    }
    auto srv = Server::create(cfg);
    if (!srv) {
        std::fprintf(stderr, "prsim: %s\n", srv.error().msg.c_str());
        return srv.error().code == prfence::Errc::invalid_argument ? kExitSyntax : kExitFile;
    }
    g_server = srv->get();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    std::fprintf(stderr, "prsim: serving %u LUs, %u target ports, %u NVMe namespaces, on %s%s%s\n",
                 cfg.luns, cfg.target_ports, cfg.nvme.namespaces, cfg.socket_path.c_str(),
                 cfg.trace.path.empty() ? "" : "; trace to ", cfg.trace.path.c_str());
    auto st = (*srv)->run();
    g_server = nullptr;
    if (!st) {
        std::fprintf(stderr, "prsim: %s\n", st.error().msg.c_str());
        return kExitOther;
    }
    return 0;
}

int ctl(const std::string& socket, const json& request) {
    auto c = prfence::sim::SimClient::connect_raw(socket, 5000);
    if (!c) {
        std::fprintf(stderr, "prsim ctl: %s\n", c.error().msg.c_str());
        return kExitFile;
    }
    auto reply = (*c)->control(request.dump(), 5000);
    if (!reply) {
        std::fprintf(stderr, "prsim ctl: %s\n", reply.error().msg.c_str());
        return kExitOther;
    }
    json j = json::parse(*reply, nullptr, false);
    if (j.is_discarded()) {
        std::fprintf(stderr, "prsim ctl: the daemon answered something that is not JSON\n");
        return kExitOther;
    }
    std::printf("%s\n", j.dump(2).c_str());
    if (j.value("ok", false)) return 0;
    return kExitSyntax;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "prsim: a farm of virtual SCSI LUs with exact SPC-4 persistent reservations, served over a "
        "Unix "
        "socket (protocol: interposer/PROTOCOL.md)",
        "prsim"};
    app.set_version_flag("-V,--version", "prsim " PRFENCE_VERSION);
    app.require_subcommand(0, 1);

    ServeOptions o;
    app.add_option("--socket", o.socket, "Unix socket to listen on");
    app.add_option("--luns", o.luns, "number of LUs in the farm")->check(CLI::Range(1u, 16384u));
    app.add_option("--nvme-namespaces", o.nvme_namespaces,
                   "NVMe namespaces (NSIDs 1..N) served next to the LUs (default 0)")
        ->check(CLI::Range(0u, 1024u));
    app.add_option("--nvme-subnqn", o.nvme_subnqn, "the NVMe subsystem's NQN");
    app.add_option("--target-ports", o.target_ports, "relative target ports 1..N (default 2)")
        ->check(CLI::Range(1, 65535));
    app.add_option("--state-dir", o.state_dir, "directory for APTPL state, one file per LU");
    app.add_option("--trace", o.trace, "write kernel-format trace events here (file or FIFO)");
    app.add_option("--dmesg", o.dmesg, "write the dmesg lines here instead of into --trace");
    app.add_option("--kernel-format", o.kernel,
                   "kernel generation to imitate: 5.15, 6.1 (default) or 6.12");
    app.add_option("--scheduler", o.scheduler,
                   "block scheduler shown in scheduler_tag: mq-deadline or none")
        ->check(CLI::IsMember({"mq-deadline", "none"}));
    app.add_option("--config", o.config, "JSON configuration file (options given here win)");
    app.add_option("--profile", o.profile,
                   "deviations to reproduce on every LU: spc4 (default) or lio")
        ->check(CLI::IsMember({"spc4", "lio"}));
    app.add_option("--fault", o.faults,
                   "fault armed at start, e.g. latency,class=pr_out,us=500 or busy,luns=0-9,p=0.1 "
                   "(repeatable)");
    app.add_option("--max-in-flight", o.max_in_flight,
                   "commands held per connection before TASK SET FULL")
        ->check(CLI::Range(1u, 65536u));
    app.add_option("--max-output", o.max_output,
                   "unsent response bytes per client before it is paused (default 16 MiB)")
        ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 34));
    app.add_option("--stall-ms", o.stall_ms,
                   "a paused client whose output makes no progress this long is cut off")
        ->check(CLI::Range(1u, 3600000u));
    app.add_option("--seed", o.seed, "seed for random fault decisions");

    std::string ctl_socket;
    json request;
    auto* ctl_cmd =
        app.add_subcommand("ctl", "talk to a running prsim: arm/disarm faults, statistics");
    ctl_cmd->add_option("--socket", ctl_socket, "the daemon's socket")->required();
    ctl_cmd->require_subcommand(1);
    auto* fault_cmd = ctl_cmd->add_subcommand("fault", "arm, disarm or list faults");
    fault_cmd->require_subcommand(1);
    std::string spec, id;
    auto* arm = fault_cmd->add_subcommand("arm", "arm a fault (same syntax as --fault, or JSON)");
    arm->add_option("spec", spec, "fault")->required();
    arm->callback([&] {
        json f = spec.starts_with("{") ? json::parse(spec, nullptr, false) : json(spec);
        request = {{"op", "arm"}, {"fault", f.is_discarded() ? json(spec) : f}};
    });
    auto* disarm = fault_cmd->add_subcommand("disarm", "disarm one fault by id, or all");
    disarm->add_option("id", id, "fault id or \"all\"")->required();
    disarm->callback([&] {
        if (id == "all") {
            request = {{"op", "disarm"}, {"all", true}};
        } else {
            request = {{"op", "disarm"}, {"id", std::stoul(id)}};
        }
    });
    disarm->get_option("id")->check([](const std::string& s) -> std::string {
        if (s == "all") return {};
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9)
            return "expected a fault id or \"all\"";
        return {};
    });
    fault_cmd->add_subcommand("list", "list armed faults")->callback([&] {
        request = {{"op", "list"}};
    });
    ctl_cmd->add_subcommand("stats", "daemon statistics")->callback([&] {
        request = {{"op", "stats"}};
    });
    ctl_cmd->add_subcommand("nexuses", "I_T nexuses seen, with their H:C:T numbers")->callback([&] {
        request = {{"op", "nexuses"}};
    });
    ctl_cmd->add_subcommand("nvme", "NVMe namespaces' reservations and controllers")->callback([&] {
        request = {{"op", "nvme"}};
    });
    ctl_cmd->add_subcommand("ping", "check that the daemon answers")->callback([&] {
        request = {{"op", "ping"}};
    });
    std::string lose_luns = "all";
    auto* lose = ctl_cmd->add_subcommand("lose-pr",
                                         "make LUs lose their persistent reservation information");
    lose->add_option("luns", lose_luns, "LUs (\"all\", \"0-9,20\")");
    lose->callback([&] { request = {{"op", "lose_pr"}, {"luns", lose_luns}}; });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : kExitSyntax;
    }
    if (ctl_cmd->parsed()) return ctl(ctl_socket, request);
    return serve(app, o);
}
