// SPDX-License-Identifier: MIT
// Direct mode: every PR subcommand resolves its devices, opens them once, runs one batch across all
// LUNs concurrently, and prints one result per LUN. Exit code: the worst LUN's sg3_utils category.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>

#include "tools/prfence/commands.h"
#include "tools/prfence/outcome_render.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/policy/cluster_key.h"
#include "uring_engine/policy/operations.h"
#include "uring_engine/session/multipath_keys.h"
#include "uring_engine/session/session.h"

namespace prfence::cli {
namespace {

std::atomic<bool> g_cancel{false};
extern "C" void on_signal(int) { g_cancel.store(true); }

struct Common {
    std::vector<std::string> devices;
    std::string initiator;
    uint16_t target_port = 1;
    std::string hostnqn, hostid;  // sim namespaces: the NVMe host (derived from --initiator)
    bool json = false;
    bool failures_only = false;
    uint32_t timeout_ms = 20000;
    uint32_t deadline_ms = 60000;
    unsigned qd = 1024;
    std::string transport = "uring";
    engine::ResolveOptions roots;  // --sys, --dev: a fake sysfs and /dev tree (tests)
    std::string multipathd_socket = std::string(engine::kMultipathdSocket);
};

struct PrOpts {
    std::string key, key_file, victim, old_key, type, to_key;
    std::vector<std::string> tids;
    bool ignore_existing = false, aptpl = false, all_tg_pt = false, abort = false, no_abort = false;
    bool unreg = false, force = false, claim = false;
    uint16_t rel_port = 0;
};

void add_common(CLI::App* sub, Common& c) {
    sub->add_option(
           "devices", c.devices,
           "LUNs: /dev/sdX, /dev/sgN, /dev/disk/by-id/..., /dev/mapper/NAME, globs, @listfile, "
           "sim:SOCKET:RANGE (LUNs 0-3, NVMe namespaces ns1-8, or both: 0-3,ns1-8)")
        ->required();
    sub->add_option("--initiator", c.initiator,
                    "sim LUNs: the TransportID to speak as (e.g. iqn...:node-a,i,0x1)");
    sub->add_option("--target-port", c.target_port,
                    "sim LUNs: the relative target port to arrive through")
        ->check(CLI::Range(1, 65535));
    sub->add_option("--hostnqn", c.hostnqn,
                    "sim namespaces: the NVMe host NQN to speak as (default: from --hostid, else "
                    "derived from --initiator)");
    sub->add_option("--hostid", c.hostid,
                    "sim namespaces: the NVMe host identifier, 32 hex digits (dashes allowed); "
                    "default: from --hostnqn, else derived from --initiator");
    sub->add_flag("--json", c.json, "JSON output");
    sub->add_flag("-q,--failures-only", c.failures_only,
                  "List only the LUNs that failed (the summary always)");
    sub->add_option("--timeout", c.timeout_ms, "Per-command timeout, ms")
        ->check(CLI::Range(1, 3600000));
    sub->add_option("--deadline", c.deadline_ms, "Whole-batch deadline, ms")
        ->check(CLI::Range(1, 86400000));
    sub->add_option("--qd", c.qd, "Commands in flight at most, across all LUNs")
        ->check(CLI::Range(1, 65536));
    sub->add_option(
           "--transport", c.transport,
           "sg paths: uring (sg v3 async over io_uring, default) or sgio (SG_IO on a thread pool)")
        ->check(CLI::IsMember({"uring", "sgio"}));
    // Hidden (group ""): tests point device resolution at a fake sysfs and /dev tree, as
    // prexplain's
    // --sys and --dev do.
    sub->add_option("--sys", c.roots.sysfs_root, "sysfs root (tests)")->group("");
    sub->add_option("--dev", c.roots.dev_root, "/dev root (tests)")->group("");
    sub->add_option("--multipathd-socket", c.multipathd_socket, "multipathd's socket (tests)")
        ->group("");
}

Result<uint64_t> key_arg(const std::string& text, const char* what) {
    if (text.empty()) return fail(Errc::invalid_argument, std::string(what) + " is required");
    auto k = parse_hex_u64(text);
    if (!k) return fail(Errc::invalid_argument, std::string(what) + ": " + k.error().msg);
    return k;
}

Result<wire::PrType> type_arg(const std::string& text, const char* fallback = nullptr) {
    if (text.empty()) {
        if (fallback) return wire::parse_type(fallback);
        return fail(Errc::invalid_argument,
                    "--type is required (1 WE, 3 EA, 5 WE-RO, 6 EA-RO, 7 WE-AR, 8 EA-AR)");
    }
    return wire::parse_type(text);
}

using engine::JobMaker;

int syntax(const std::string& msg) {
    std::fprintf(stderr, "prfence: %s\n", msg.c_str());
    return wire::exit_code(wire::Category::syntax_error);
}

int run_batch(const std::string& op, const Common& c, const engine::OpSpec& spec,
              const Result<JobMaker>& maker) {
    if (!maker) return syntax(maker.error().msg);
    const uint64_t t_resolve = engine::now_ns();
    auto specs = engine::resolve_devices(c.devices, c.roots);
    if (!specs) {
        std::fprintf(stderr, "prfence %s: cannot resolve devices:\n%s\n", op.c_str(),
                     specs.error().msg.c_str());
        return wire::exit_code(wire::Category::file_error);
    }
    engine::SessionOptions so;
    so.initiator = c.initiator;
    so.target_port = c.target_port;
    so.hostnqn = c.hostnqn;
    so.hostid = c.hostid;
    so.sg_transport = c.transport == "sgio" ? engine::SessionOptions::SgTransport::sgio
                                            : engine::SessionOptions::SgTransport::uring;
    so.exec.max_inflight = c.qd;
    so.exec.batch_deadline = std::chrono::milliseconds(c.deadline_ms);
    so.exec.command_deadline = std::chrono::milliseconds(c.timeout_ms + 5000);
    so.exec.cancel = &g_cancel;
    so.sysfs_root = c.roots.sysfs_root;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    const uint64_t t_open = engine::now_ns();
    auto session = engine::Session::open(*specs, so);
    if (!session) {
        std::fprintf(stderr, "prfence %s: %s\n", op.c_str(), session.error().msg.c_str());
        return wire::exit_code(wire::Category::other);
    }
    const uint64_t t_run = engine::now_ns();
    auto rep = (*session)->run([&](size_t) { return (*maker)(); });
    if (!rep) {
        std::fprintf(stderr, "prfence %s: %s\n", op.c_str(), rep.error().msg.c_str());
        return wire::exit_code(wire::Category::other);
    }
    std::vector<engine::MapKeyReport> told;
    if (auto key = engine::key_left_registered(spec)) {
        engine::MultipathKeysOptions mo;
        mo.socket = c.multipathd_socket;
        mo.sysfs_root = c.roots.sysfs_root;
        told = engine::tell_multipathd(*specs, rep->outcomes, *key, spec.aptpl, mo);
    }
    if (c.json) {
        // Where the time outside the batch went: naming the devices (sysfs) and opening their
        // paths.
        Json j = batch_json(op, rep->outcomes, rep->summary);
        j["summary"]["resolve_ms"] = static_cast<double>(t_open - t_resolve) / 1e6;
        j["summary"]["open_ms"] = static_cast<double>(t_run - t_open) / 1e6;
        add_multipathd_json(j, told);
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << batch_text(op, rep->outcomes, rep->summary, c.failures_only)
                  << multipathd_text(told);
    }
    return wire::exit_code(rep->summary.worst);
}

// The options as typed -> an OpSpec. Only parsing happens here; what is required and what combines
// is make_operation's business, shared with the daemon.
Result<engine::OpSpec> op_spec(engine::Operation op, const Common& c, const PrOpts& p) {
    engine::OpSpec s;
    s.op = op;
    s.timeout_ms = c.timeout_ms;
    auto opt_key = [](const std::string& text,
                      const char* what) -> Result<std::optional<uint64_t>> {
        if (text.empty()) return std::optional<uint64_t>();
        PRF_TRY_ASSIGN(uint64_t k, key_arg(text, what));
        return std::optional<uint64_t>(k);
    };
    PRF_TRY_ASSIGN(s.key, opt_key(p.key, "--key"));
    if (!p.key_file.empty()) {
        if (s.key) return fail(Errc::invalid_argument, "--key and --key-file both name our key");
        PRF_TRY_ASSIGN(s.key, cluster::read_key_file(p.key_file).context("--key-file"));
    }
    PRF_TRY_ASSIGN(s.old_key, opt_key(p.old_key, "--old-key"));
    PRF_TRY_ASSIGN(s.sa_key, opt_key(op == engine::Operation::move ? p.to_key : p.victim,
                                     op == engine::Operation::move ? "--to-key" : "--victim"));
    if (!p.type.empty()) {
        PRF_TRY_ASSIGN(s.type, type_arg(p.type));
    }
    for (const auto& t : p.tids) {
        PRF_TRY_ASSIGN(wire::TransportId tid, wire::parse_transport_id(t));
        s.transport_ids.push_back(tid);
    }
    s.ignore_existing = p.ignore_existing;
    s.aptpl = p.aptpl;
    s.all_tg_pt = p.all_tg_pt;
    s.abort = p.abort;
    s.no_abort = p.no_abort;
    s.unreg = p.unreg;
    s.force = p.force;
    s.claim = p.claim;
    s.rel_port = p.rel_port;
    return s;
}

struct Sub {
    engine::Operation op;
    const char* help;
};

// The subcommand table: what each runs (its name is the operation's) and its one-line help.
const Sub kSubs[] = {
    {engine::Operation::read_keys, "READ KEYS: registered keys and generation per LUN"},
    {engine::Operation::read_reservation, "READ RESERVATION: holder key and type per LUN"},
    {engine::Operation::report_capabilities, "REPORT CAPABILITIES per LUN"},
    {engine::Operation::read_full_status,
     "READ FULL STATUS: every registrant with its TransportID"},
    {engine::Operation::register_key,
     "REGISTER --key on every path (--ignore-existing: REGISTER AND IGNORE EXISTING KEY)"},
    {engine::Operation::unregister, "Remove --key's registration on every path"},
    {engine::Operation::reserve, "RESERVE with --key and --type"},
    {engine::Operation::release, "RELEASE with --key and --type"},
    {engine::Operation::clear,
     "CLEAR every registration and the reservation (needs a registered --key)"},
    {engine::Operation::preempt, "PREEMPT --victim's registrations (--abort: PREEMPT AND ABORT)"},
    {engine::Operation::move, "REGISTER AND MOVE the reservation to --transport-id on --rel-port"},
    {engine::Operation::replace_lost, "REPLACE LOST RESERVATION with new --key and --type"},
    {engine::Operation::fence,
     "Fence --victim: READ KEYS, PREEMPT AND ABORT, verify with READ RESERVATION"},
    {engine::Operation::takeover,
     "Forced break-in: register-and-ignore, preempt-and-abort the holder, verify (needs --force)"},
    {engine::Operation::probe,
     "May we do I/O? READ of block 0 and SYNCHRONIZE CACHE (a write that changes nothing) per LUN"},
    {engine::Operation::unfence,
     "Register --key on every path and reserve with --type (default WE-RO) where nobody holds "
     "the LU; idempotent"},
    {engine::Operation::verify,
     "Is the fence in place? --victim not registered, --key registered, a reservation held "
     "(not by the victim); changes nothing"},
};

}  // namespace

std::string_view chosen_subcommand(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] != '-') return argv[i];
    return {};
}

bool is_direct_subcommand(std::string_view name) {
    return engine::parse_operation(name).has_value();
}

void add_direct(CLI::App& app, Runner& run, std::string_view chosen,
                const std::optional<std::string>* daemon_socket) {
    const bool known = is_direct_subcommand(chosen);
    for (const Sub& s : kSubs) {
        const std::string name = engine::operation_name(s.op);
        if (known && chosen != name) continue;
        CLI::App* sub = app.add_subcommand(name, s.help);
        auto c = std::make_shared<Common>();
        auto p = std::make_shared<PrOpts>();
        add_common(sub, *c);
        if (!engine::operation_is_read(s.op) || s.op == engine::Operation::verify) {
            sub->add_option("--key", p->key,
                            "Our reservation key (hex, as sg_persist: abc123 or 0xabc123)");
            sub->add_option("--key-file", p->key_file,
                            "Our key from a cluster key file, as fence_scsi and fence_prfence "
                            "write it (/var/run/cluster.key)");
            if (s.op != engine::Operation::verify)
                sub->add_flag("--aptpl", p->aptpl, "Activate persist through power loss");
        }
        if (name == "register") {
            sub->add_option("--old-key", p->old_key, "Change our key: the key registered now");
            sub->add_flag("--ignore-existing", p->ignore_existing,
                          "REGISTER AND IGNORE EXISTING KEY");
            sub->add_flag("--all-tg-pt", p->all_tg_pt,
                          "Register once for all target ports (when the LU reports ATP_C)");
        }
        if (name == "register" || name == "move")
            // One value per occurrence: a vector option otherwise takes every argument after it
            // up to the last, so the devices would be read as TransportIDs. Repeat the option for
            // more than one.
            sub->add_option("--transport-id", p->tids,
                            "TransportID (sg_persist syntax); repeat for more than one")
                ->allow_extra_args(false);
        if (name == "reserve" || name == "release" || name == "preempt" || name == "move" ||
            name == "replace-lost" || name == "fence" || name == "takeover" || name == "unfence")
            sub->add_option("--type", p->type,
                            "Reservation type: 1 WE, 3 EA, 5 WE-RO, 6 EA-RO, 7 WE-AR, 8 EA-AR");
        if (name == "preempt" || name == "fence" || name == "verify")
            sub->add_option("--victim", p->victim,
                            name == "verify" ? "The key that must be gone" : "The key to preempt");
        if (name == "fence")
            sub->add_flag("--claim", p->claim,
                          "First register --key on every path, and reserve with --type where "
                          "nobody holds the LU afterwards (what a fence agent does)");
        if (name == "preempt") sub->add_flag("--abort", p->abort, "PREEMPT AND ABORT");
        if (name == "fence" || name == "takeover")
            sub->add_flag("--no-abort", p->no_abort, "PREEMPT instead of PREEMPT AND ABORT");
        if (name == "move") {
            sub->add_option("--to-key", p->to_key, "The key registered for the destination");
            sub->add_option("--rel-port", p->rel_port, "The destination's relative target port");
            sub->add_flag("--unreg", p->unreg, "Unregister ourselves after the move");
        }
        if (name == "takeover")
            sub->add_flag("--force", p->force, "Really break in (preempts whoever holds the LUs)");

        sub->callback([s, c, p, &run, daemon_socket] {
            run = [s, c, p, daemon_socket]() -> int {
                auto spec = op_spec(s.op, *c, *p);
                if (!spec) return syntax(spec.error().msg);
                // A host identity given is checked before anything is resolved or sent.
                if (!c->hostnqn.empty() || !c->hostid.empty())
                    if (auto h = engine::sim_nvme_host(c->initiator, c->hostnqn, c->hostid); !h)
                        return syntax(h.error().msg);
                if (daemon_socket && *daemon_socket) {
                    // The group carries the initiator and transport; say so rather than ignore
                    // them.
                    if (!c->initiator.empty() || c->transport != "uring" || !c->hostnqn.empty() ||
                        !c->hostid.empty())
                        return syntax(
                            "with --daemon, --initiator, --hostnqn, --hostid and --transport "
                            "belong to the group (prfence --daemon group create)");
                    DaemonRunOptions o;
                    o.groups = c->devices;
                    o.json = c->json;
                    o.failures_only = c->failures_only;
                    o.deadline_ms = c->deadline_ms;
                    o.qd = c->qd;
                    return run_via_daemon(**daemon_socket, engine::operation_name(s.op), *spec, o);
                }
                return run_batch(engine::operation_name(s.op), *c, *spec,
                                 engine::make_operation(*spec));
            };
        });
    }
}

}  // namespace prfence::cli
